//! Bills and payment codes (see `code.rs`): a bill is an order the payer may try to pay
//! more than once, made with a one-time code or by a fixed code when a payer opens it; the
//! payer starts each try by choosing a wallet. Escrowed payments are completed or canceled
//! here too, and requests' nonces remembered.

use serde_json::{Map, Value};

use super::{CreatedOrder, Gateway, MAX_RACE_RETRIES};
use crate::code::{CodeKind, CodeStatus, PaymentCode};
use crate::dialect::DialectTag;
use crate::error::{Error, Result};
use crate::ids::{MerchantId, MerchantOrderNo, PlatformId, RefundNo};
use crate::money::Fen;
use crate::order::{
    Attempt, AttemptStatus, Escrow, EscrowStatus, Order, OrderEvent, OrderStatus, Splits,
    Transition, Tries, next_status,
};
use crate::payway::{PayMethod, PayWay, Wallet};
use crate::refund::{Refund, RefundSplit, RefundStatus};
use crate::store::{
    AttemptStart, CodeChange, CodeKey, EscrowSettlement, OrderClosing, OrderKey, StoreError,
};
use crate::time::{self, Millis};
use crate::url::{NotifyUrl, ReturnUrl};

/// The way a bill is offered before a payer picks a wallet: a QR code any wallet scans.
const OFFERED: PayWay = PayWay::new(Wallet::UnionPay, PayMethod::Qr);

/// A bill, as a dialect describes it.
#[derive(Debug, Clone)]
pub struct NewBill {
    pub merchant_id: MerchantId,
    pub merchant_order_no: MerchantOrderNo,
    pub dialect: DialectTag,
    pub amount: Fen,
    pub subject: String,
    pub body: String,
    pub notify_url: Option<NotifyUrl>,
    pub also_notify: Option<NotifyUrl>,
    pub return_url: Option<ReturnUrl>,
    pub extra: Map<String, Value>,
    /// `None`: the gateway's default time to live.
    pub expires_at: Option<Millis>,
    /// Only one try may be paying at a time (the first scanner wins).
    pub one_at_a_time: bool,
    pub escrow: bool,
    /// Split between the platform and sub-merchants; the shares add up to the amount.
    pub splits: Option<Splits>,
}

/// A payment code, as a dialect describes it.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub merchant_id: MerchantId,
    pub dialect: DialectTag,
    /// The merchant's own reference for the code; `None`: the platform id.
    pub code_ref: Option<String>,
    pub kind: CodeKind,
    /// A fixed-amount code's amount.
    pub amount: Option<Fen>,
    pub subject: String,
    pub notify_url: Option<NotifyUrl>,
    pub also_notify: Option<NotifyUrl>,
    pub return_url: Option<ReturnUrl>,
    pub expires_at: Option<Millis>,
    pub extra: Map<String, Value>,
    /// The numbers of the bills a fixed code makes start with this.
    pub bill_no_prefix: String,
    pub one_at_a_time: bool,
    pub escrow: bool,
    /// A fixed-amount code's split, the same for each of its bills (a one-time code's bill
    /// carries its own; an open code's amounts are not known, so it has none).
    pub splits: Option<Splits>,
    /// A one-time code's bill, made with it.
    pub bill: Option<NewBill>,
}

/// What a payer's opening of a fixed code bills: the amount the payer entered, or what the
/// merchant's system said (its own order number, amount and subject).
#[derive(Debug, Clone, Default)]
pub struct BillFromCode {
    pub amount: Option<Fen>,
    pub merchant_order_no: Option<MerchantOrderNo>,
    pub subject: Option<String>,
    pub notify_url: Option<NotifyUrl>,
    /// Merged over the code's own `extra`.
    pub extra: Map<String, Value>,
}

fn tries(one_at_a_time: bool) -> Tries {
    if one_at_a_time {
        Tries::AgainOneAtATime
    } else {
        Tries::Again
    }
}

impl Gateway {
    /// An unpaid bill; nothing is asked of a channel until a payer starts a try.
    fn bill(&self, new: NewBill, code_id: Option<PlatformId>, now: Millis) -> Result<Order> {
        if let Some(splits) = &new.splits {
            if splits.total() != Some(new.amount) {
                return Err(Error::invalid(
                    "subOrders",
                    "the shares and the platform's part must add up to the amount",
                ));
            }
            if new.escrow {
                return Err(Error::invalid(
                    "secureTransaction",
                    "a split bill cannot be escrowed",
                ));
            }
        }
        let expires_at = new
            .expires_at
            .unwrap_or_else(|| now.plus_secs(self.settings().default_order_ttl_s));
        if expires_at <= now {
            return Err(Error::invalid("expireTime", "must be in the future"));
        }
        let channel = self
            .inner
            .channels
            .default_channel()
            .map(|c| c.name().to_owned())
            .unwrap_or_default();
        Ok(Order {
            id: self.new_id('P'),
            merchant_id: new.merchant_id,
            merchant_order_no: new.merchant_order_no,
            dialect: new.dialect,
            pay_way: OFFERED,
            channel,
            amount: new.amount,
            currency: "cny".into(),
            subject: new.subject,
            body: new.body,
            status: OrderStatus::Created,
            notify_url: new.notify_url,
            return_url: new.return_url,
            client_ip: None,
            extra: new.extra,
            channel_trade_no: None,
            channel_user: None,
            refund_reserved: Fen::ZERO,
            refunded: Fen::ZERO,
            created_at: now,
            expires_at,
            paid_at: None,
            closed_at: None,
            merchant_acked_at: None,
            fail_code: None,
            fail_msg: None,
            tries: tries(new.one_at_a_time),
            code_id,
            also_notify: new.also_notify,
            escrow: new.escrow.then_some(Escrow {
                status: EscrowStatus::Uncompleted,
                completed: Fen::ZERO,
            }),
            splits: new.splits,
        })
    }

    fn known_merchant(&self, merchant: &MerchantId) -> Result<()> {
        match self.merchant(merchant) {
            Some(_) => Ok(()),
            None => Err(Error::invalid("merchant", "unknown merchant")),
        }
    }

    /// Creates a bill on its own, waiting for a payer.
    pub async fn create_bill(&self, new: NewBill) -> Result<Order> {
        self.known_merchant(&new.merchant_id)?;
        let bill = self.bill(new, None, self.now())?;
        self.store()
            .insert_order(&bill, None)
            .await
            .map_err(duplicate_order)?;
        Ok(bill)
    }

    /// Creates a payment code; a one-time code with its bill, in one transaction.
    pub async fn create_code(&self, new: NewCode) -> Result<(PaymentCode, Option<Order>)> {
        self.known_merchant(&new.merchant_id)?;
        check_code_terms(new.kind, new.amount, new.bill.is_some())?;
        check_code_split(&new)?;
        let now = self.now();
        let id = self.new_id('Q');
        let bill = new
            .bill
            .map(|b| self.bill(b, Some(id.clone()), now))
            .transpose()?;
        let code = PaymentCode {
            code_ref: new.code_ref.unwrap_or_else(|| id.to_string()),
            id,
            merchant_id: new.merchant_id,
            dialect: new.dialect,
            kind: new.kind,
            status: CodeStatus::Active,
            amount: bill.as_ref().map(|b| b.amount).or(new.amount),
            order_id: bill.as_ref().map(|b| b.id.clone()),
            subject: new.subject,
            notify_url: new.notify_url,
            also_notify: new.also_notify,
            return_url: new.return_url,
            expires_at: new.expires_at,
            bill_no_prefix: new.bill_no_prefix,
            tries: tries(new.one_at_a_time),
            escrow: new.escrow,
            splits: new.splits,
            extra: new.extra,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_code(&code, bill.as_ref())
            .await
            .map_err(|e| match e {
                StoreError::DuplicateCodeRef => Error::DuplicateCodeRef,
                other => duplicate_order(other),
            })?;
        Ok((code, bill))
    }

    /// The merchant's code by its id or its own reference.
    pub async fn find_code(&self, merchant: &MerchantId, key: CodeKey<'_>) -> Result<PaymentCode> {
        self.store()
            .code(merchant, key)
            .await?
            .ok_or(Error::CodeNotFound)
    }

    /// Changes a code: its kind and terms, and a one-time code's bill (a new bill replaces
    /// the one it carried, which is closed if still unpaid; a paid one stays as it is).
    pub async fn update_code(
        &self,
        merchant: &MerchantId,
        key: CodeKey<'_>,
        new: NewCode,
    ) -> Result<(PaymentCode, Option<Order>)> {
        check_code_terms(new.kind, new.amount, new.bill.is_some())?;
        check_code_split(&new)?;
        for _ in 0..MAX_RACE_RETRIES {
            let code = self.find_code(merchant, key).await?;
            if code.status == CodeStatus::Closed {
                return Err(Error::CodeNotUsable);
            }
            let now = self.now();
            let bill = new
                .bill
                .clone()
                .map(|b| self.bill(b, Some(code.id.clone()), now))
                .transpose()?;
            let old_bill = match &code.order_id {
                Some(id) => self.store().order_by_id(id).await?,
                None => None,
            };
            let close_old_bill =
                old_bill
                    .filter(|old| old.status.is_open())
                    .map(|old| OrderClosing {
                        order_id: old.id.clone(),
                        from: old.status,
                        at: now,
                        reason: "replaced by a new bill on its code".into(),
                        recheck_attempt_at: None,
                    });
            let mut changed = PaymentCode {
                kind: new.kind,
                amount: bill.as_ref().map(|b| b.amount).or(new.amount),
                order_id: bill.as_ref().map(|b| b.id.clone()),
                subject: new.subject.clone(),
                notify_url: new.notify_url.clone(),
                also_notify: new.also_notify.clone(),
                return_url: new.return_url.clone(),
                expires_at: new.expires_at,
                bill_no_prefix: new.bill_no_prefix.clone(),
                tries: tries(new.one_at_a_time),
                escrow: new.escrow,
                splits: new.splits.clone(),
                updated_at: changed_at(&code, now),
                ..code.clone()
            };
            for (k, v) in &new.extra {
                changed.extra.insert(k.clone(), v.clone());
            }
            let change = CodeChange {
                code: changed.clone(),
                read_at: code.updated_at,
                new_bill: bill.clone(),
                close_old_bill,
            };
            if self
                .store()
                .change_code(&change)
                .await
                .map_err(duplicate_order)?
            {
                return Ok((changed, bill));
            }
        }
        Err(Error::Contention)
    }

    /// Closes a code: opening it makes no bill any more. A one-time code's unpaid bill
    /// closes with it; with `refund`, a paid one is refunded in full first, so that a
    /// refund refused (an escrow not completed, the channel) leaves the code as it was,
    /// and a code closed already still has what is left of its bill refunded (the retry of
    /// a close whose refund failed).
    pub async fn close_code(
        &self,
        merchant: &MerchantId,
        key: CodeKey<'_>,
        refund: bool,
    ) -> Result<PaymentCode> {
        for _ in 0..MAX_RACE_RETRIES {
            let code = self.find_code(merchant, key).await?;
            let bill = match &code.order_id {
                Some(id) => Some(self.order_by_id(id).await?),
                None => None,
            };
            if refund && let Some(bill) = &bill {
                self.refund_rest(merchant, bill).await?;
            }
            if code.status == CodeStatus::Closed {
                return Ok(code);
            }
            let now = self.now();
            let closed = PaymentCode {
                status: CodeStatus::Closed,
                updated_at: changed_at(&code, now),
                ..code.clone()
            };
            let change = CodeChange {
                code: closed.clone(),
                read_at: code.updated_at,
                new_bill: None,
                close_old_bill: None,
            };
            if !self.store().change_code(&change).await? {
                continue;
            }
            if let Some(bill_id) = &code.order_id {
                let bill = self.order_by_id(bill_id).await?;
                if bill.status.is_open() {
                    self.close_order_by_id(bill_id, "its code was closed")
                        .await?;
                } else if refund {
                    // Paid between the reading above and the close.
                    self.refund_rest(merchant, &bill).await?;
                }
            }
            return Ok(closed);
        }
        Err(Error::Contention)
    }

    /// A closing code's refund of its paid bill: what is left of it, refused while its
    /// escrow is not completed (cancel it, which returns the money, or complete it first).
    async fn refund_rest(&self, merchant: &MerchantId, bill: &Order) -> Result<()> {
        if !bill.status.is_paid() {
            return Ok(());
        }
        if let Some(escrow) = bill.escrow
            && escrow.status == EscrowStatus::Uncompleted
        {
            return Err(Error::EscrowNotCompleted(escrow.status));
        }
        if bill.refundable() > Fen::ZERO {
            self.refund_in_full(merchant, bill, "its code was closed with a refund")
                .await?;
        }
        Ok(())
    }

    /// Refunds what is left of a paid order; a split order's shares one refund each (a
    /// refund takes from one sub-merchant at most).
    async fn refund_in_full(
        &self,
        merchant: &MerchantId,
        order: &Order,
        reason: &str,
    ) -> Result<()> {
        let parts: Vec<(Fen, Option<RefundSplit>)> = match &order.splits {
            None => vec![(order.refundable(), None)],
            Some(splits) => {
                // What each share has left after the refunds so far.
                let earlier: Vec<RefundSplit> = self
                    .store()
                    .refunds_of_order(&order.id)
                    .await?
                    .into_iter()
                    .filter(|r| r.status != RefundStatus::Failed)
                    .filter_map(|r| r.split)
                    .collect();
                let left = |share: Fen, taken: Fen| share.checked_sub(taken).unwrap_or(Fen::ZERO);
                let platform_taken = earlier.iter().fold(Fen::ZERO, |sum, s| {
                    sum.checked_add(s.platform).unwrap_or(sum)
                });
                let platform = left(splits.platform, platform_taken);
                let mut parts = vec![(
                    platform,
                    Some(RefundSplit {
                        platform,
                        party: None,
                    }),
                )];
                for share in &splits.shares {
                    let taken = earlier
                        .iter()
                        .filter_map(|s| s.party.as_ref())
                        .filter(|p| p.party == share.party)
                        .fold(Fen::ZERO, |sum, p| sum.checked_add(p.amount).unwrap_or(sum));
                    let amount = left(share.amount, taken);
                    parts.push((
                        amount,
                        Some(RefundSplit {
                            platform: Fen::ZERO,
                            party: Some(crate::order::Share {
                                party: share.party.clone(),
                                amount,
                            }),
                        }),
                    ));
                }
                parts
            }
        };
        for (amount, split) in parts.into_iter().filter(|(amount, _)| *amount > Fen::ZERO) {
            let made = self
                .request_refund(super::NewRefund {
                    merchant_id: merchant.clone(),
                    order_id: order.id.clone(),
                    dialect: order.dialect.clone(),
                    refund_no: RefundNo::from_stored(self.new_id('R').to_string()),
                    request_no: None,
                    amount,
                    reason: reason.to_owned(),
                    extra: Map::new(),
                    split,
                })
                .await?;
            if made.status == RefundStatus::Failed {
                // Released: a retry refunds it again.
                let reason = made.fail_reason.unwrap_or_default();
                let (code, msg) = reason
                    .split_once(": ")
                    .unwrap_or(("REFUND_FAILED", &reason));
                return Err(Error::ChannelRefused {
                    code: code.to_owned(),
                    msg: msg.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The bill a fixed code makes for a payer who opened it (an open-amount code needs the
    /// amount the payer entered, or the merchant's answer). Its number is the code's prefix,
    /// the time to the millisecond and 7 digits, unless the merchant's system gave one; a
    /// number this code billed before gives that bill again while it is open.
    pub(crate) async fn bill_from_code(
        &self,
        code_id: &PlatformId,
        from: BillFromCode,
    ) -> Result<Order> {
        let code = self
            .store()
            .code_by_id(code_id)
            .await?
            .ok_or(Error::CodeNotFound)?;
        let now = self.now();
        if !code.is_usable(now) || code.kind == CodeKind::OneTime {
            return Err(Error::CodeNotUsable);
        }
        let amount = match (code.kind, code.amount, from.amount) {
            (CodeKind::FixedAmount, Some(amount), _) => amount,
            (_, _, Some(amount)) => amount,
            _ => return Err(Error::invalid("amount", "the payer must enter an amount")),
        };
        let mut extra = code.extra.clone();
        extra.extend(from.extra.clone());
        for _ in 0..MAX_RACE_RETRIES {
            let merchant_order_no = match &from.merchant_order_no {
                Some(no) => no.clone(),
                None => self.bill_number(&code.bill_no_prefix)?,
            };
            let bill = self.bill(
                NewBill {
                    merchant_id: code.merchant_id.clone(),
                    merchant_order_no,
                    dialect: code.dialect.clone(),
                    amount,
                    subject: from.subject.clone().unwrap_or_else(|| code.subject.clone()),
                    body: code.subject.clone(),
                    notify_url: from.notify_url.clone().or_else(|| code.notify_url.clone()),
                    also_notify: code.also_notify.clone(),
                    return_url: code.return_url.clone(),
                    extra: extra.clone(),
                    expires_at: None,
                    one_at_a_time: code.tries == Tries::AgainOneAtATime,
                    escrow: code.escrow,
                    splits: code.splits.clone(),
                },
                Some(code.id.clone()),
                now,
            )?;
            match self.store().insert_order(&bill, None).await {
                Ok(()) => return Ok(bill),
                // A generated number met another instance's: draw again.
                Err(StoreError::DuplicateOrderNo) if from.merchant_order_no.is_none() => {}
                Err(StoreError::DuplicateOrderNo) => {
                    return self.billed_before(&code, &bill).await;
                }
                Err(e) => return Err(duplicate_order(e)),
            }
        }
        Err(Error::Contention)
    }

    /// The merchant's order was billed by this code before (a payer who tried, and comes
    /// back to pay it): that bill again while it is open for the same amount. A number the
    /// merchant used elsewhere, or whose bill was paid or closed, stays a duplicate.
    async fn billed_before(&self, code: &PaymentCode, bill: &Order) -> Result<Order> {
        let existing = self
            .store()
            .order(
                &code.merchant_id,
                OrderKey::Merchant(&bill.merchant_order_no),
            )
            .await?;
        match existing {
            Some(existing)
                if existing.code_id.as_ref() == Some(&code.id)
                    && existing.status.is_open()
                    && existing.amount == bill.amount =>
            {
                Ok(existing)
            }
            _ => Err(Error::DuplicateOrderNo),
        }
    }

    /// `{prefix}{yyyyMMddHHmmssSSS}{7 digits}`, the digits from this instance's node and id
    /// sequence (chinaums' recommended billNo form): a number no other instance makes.
    pub fn bill_number(&self, prefix: &str) -> Result<MerchantOrderNo> {
        let id = self.new_id('B');
        let digits: String = id.as_str().chars().rev().take(7).collect();
        let digits: String = digits.chars().rev().collect();
        let now = self.now();
        let text = format!(
            "{prefix}{}{:03}{digits}",
            time::format_beijing_compact(now),
            now.0.rem_euclid(1000)
        );
        MerchantOrderNo::parse(&text, 64).map_err(|e| Error::invalid("billNo", e))
    }

    /// A payer starts a try at an open bill with a wallet: a new attempt through the
    /// channel, keeping the payer's `memo`. One at a time: refused while another try is
    /// paying.
    pub(crate) async fn start_attempt(
        &self,
        order_id: &PlatformId,
        pay_way: PayWay,
        auth_code: Option<String>,
        memo: Option<String>,
    ) -> Result<CreatedOrder> {
        let channel = self.default_channel()?;
        for _ in 0..MAX_RACE_RETRIES {
            let order = self
                .expire_if_due(self.order_by_id(order_id).await?)
                .await?;
            if order.tries == Tries::Once {
                return Err(Error::OrderNotPayable(order.status));
            }
            let to = match next_status(order.status, order.amount, OrderEvent::AttemptStarted) {
                Transition::To(to) => to,
                _ => return Err(Error::OrderNotPayable(order.status)),
            };
            let attempts = self.store().attempts_of_order(order_id).await?;
            if order.tries == Tries::AgainOneAtATime
                && attempts.iter().any(|a| a.status == AttemptStatus::Paying)
            {
                return Err(Error::AnotherTryPaying);
            }
            let now = self.now();
            let seq = attempts.iter().map(|a| a.seq).max().unwrap_or(0) + 1;
            let next_check_at = (pay_way.method == PayMethod::Barcode)
                .then(|| now.plus_secs(super::RECOVERY_DELAY_S));
            let attempt = Attempt {
                seq,
                channel: channel.name().to_owned(),
                pay_way,
                created_at: now,
                memo: memo.clone(),
                ..Attempt::first(&order, auth_code.clone(), next_check_at)
            };
            let start = AttemptStart {
                attempt: attempt.clone(),
                order_from: order.status,
                one_at_a_time: order.tries == Tries::AgainOneAtATime,
                at: now,
            };
            match self.store().start_attempt(&start).await {
                Ok(true) => {
                    let order = Order {
                        status: to,
                        ..order
                    };
                    return Ok(self.run_attempt(&channel, order, attempt).await);
                }
                // Moved, or a try raced this one: read again.
                Ok(false) | Err(StoreError::Constraint(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
    }

    /// Completes an escrowed payment with `amount` (at most what was paid): that much is
    /// the merchant's, and the rest is returned to the payer at once.
    pub async fn complete_escrow(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
        amount: Fen,
    ) -> Result<Order> {
        self.settle_escrow(merchant, key, Some(amount)).await
    }

    /// Cancels an escrowed payment: all of it is returned to the payer.
    pub async fn cancel_escrow(&self, merchant: &MerchantId, key: OrderKey<'_>) -> Result<Order> {
        self.settle_escrow(merchant, key, None).await
    }

    async fn settle_escrow(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
        completed: Option<Fen>,
    ) -> Result<Order> {
        for _ in 0..MAX_RACE_RETRIES {
            let order = self.find_order(merchant, key).await?;
            let escrow = match order.escrow {
                Some(escrow) if order.status.is_paid() => escrow,
                _ => return Err(Error::NotInEscrow),
            };
            if escrow.status != EscrowStatus::Uncompleted {
                return Err(Error::EscrowSettled(escrow.status));
            }
            let (to, kept) = match completed {
                None => (EscrowStatus::Canceled, Fen::ZERO),
                Some(amount) if amount > order.amount => return Err(Error::CompletionExceedsPaid),
                Some(amount) if amount == order.amount => (EscrowStatus::AllCompleted, amount),
                Some(amount) => (EscrowStatus::PartlyCompleted, amount),
            };
            let now = self.now();
            let back = order
                .amount
                .checked_sub(kept)
                .ok_or(Error::CompletionExceedsPaid)?;
            let returned = if back > Fen::ZERO {
                Some(self.escrow_return(&order, back, to, now).await?)
            } else {
                None
            };
            let settlement = EscrowSettlement {
                order_id: order.id.clone(),
                from: escrow.status,
                to,
                completed: kept,
                at: now,
                returned: returned.clone(),
            };
            if self.store().settle_escrow(&settlement).await? {
                if let Some(refund) = &returned {
                    self.execute_refund(refund).await?;
                }
                return self.order_by_id(&order.id).await;
            }
        }
        Err(Error::Contention)
    }

    /// The refund that returns an escrow's uncompleted part to the payer. It counts against
    /// the order like the merchant's own refunds (what is returned cannot be refunded again).
    async fn escrow_return(
        &self,
        order: &Order,
        amount: Fen,
        to: EscrowStatus,
        now: Millis,
    ) -> Result<Refund> {
        // Back the way the money came: through the attempt that paid.
        let attempt_seq = self
            .store()
            .attempts_of_order(&order.id)
            .await?
            .into_iter()
            .find(|a| a.status == AttemptStatus::Succeeded)
            .map(|a| a.seq)
            .ok_or(Error::NotInEscrow)?;
        let id = self.new_id('R');
        Ok(Refund {
            refund_no: Some(RefundNo::from_stored(id.to_string())),
            id,
            merchant_id: order.merchant_id.clone(),
            order_id: order.id.clone(),
            attempt_seq,
            dialect: order.dialect.clone(),
            request_no: None,
            amount,
            reason: match to {
                EscrowStatus::Canceled => "escrow canceled".into(),
                _ => "the uncompleted part of an escrow".into(),
            },
            status: RefundStatus::Requested,
            automatic: false,
            channel_refund_no: None,
            fail_reason: None,
            extra: Map::new(),
            created_at: now,
            finished_at: None,
            next_check_at: Some(now.plus_secs(super::RECOVERY_DELAY_S)),
            split: None,
        })
    }

    /// Remembers a request's nonce for `window_s`: `false` when it was seen already within
    /// that time, i.e. the request is a replay.
    pub async fn remember_nonce(
        &self,
        merchant: &MerchantId,
        nonce: &str,
        window_s: u64,
    ) -> Result<bool> {
        let now = self.now();
        let until = now.plus_secs(i64::try_from(window_s).unwrap_or(i64::MAX / 1000));
        Ok(self
            .store()
            .remember_nonce(merchant, nonce, now, until)
            .await?)
    }
}

/// A code's `updated_at` after a change: later than the one read, even within the same
/// millisecond, because it guards the change (`CodeChange::read_at`): two changes made from
/// one reading must not both pass.
fn changed_at(code: &PaymentCode, now: Millis) -> Millis {
    now.max(Millis(code.updated_at.0.saturating_add(1)))
}

fn duplicate_order(e: StoreError) -> Error {
    match e {
        StoreError::DuplicateOrderNo => Error::DuplicateOrderNo,
        other => other.into(),
    }
}

/// Only a fixed-amount code carries a split of its own: its bills all have its amount, so
/// one split fits each (a one-time code's bill carries its own; an open code's amounts are
/// the payer's, which no fixed shares add up to).
fn check_code_split(new: &NewCode) -> Result<()> {
    let Some(splits) = &new.splits else {
        return Ok(());
    };
    if new.kind != CodeKind::FixedAmount {
        return Err(Error::invalid(
            "divisionFlag",
            "only a fixed-amount code's bills share one split",
        ));
    }
    if new.amount.is_none() || splits.total() != new.amount {
        return Err(Error::invalid(
            "subOrders",
            "the shares and the platform's part must add up to the amount",
        ));
    }
    if new.escrow {
        return Err(Error::invalid(
            "secureTransaction",
            "a split bill cannot be escrowed",
        ));
    }
    Ok(())
}

/// A one-time code carries a bill; a fixed-amount code an amount; an open code neither.
fn check_code_terms(kind: CodeKind, amount: Option<Fen>, has_bill: bool) -> Result<()> {
    match (kind, amount.is_some(), has_bill) {
        (CodeKind::OneTime, _, true)
        | (CodeKind::FixedAmount, true, false)
        | (CodeKind::OpenAmount, false, false) => Ok(()),
        (CodeKind::OneTime, _, false) => {
            Err(Error::invalid("billNo", "a one-time code needs a bill"))
        }
        (CodeKind::FixedAmount, false, _) => Err(Error::invalid(
            "totalAmount",
            "a fixed-amount code needs an amount",
        )),
        (_, _, true) => Err(Error::invalid(
            "billNo",
            "only a one-time code carries a bill",
        )),
        (CodeKind::OpenAmount, true, _) => Err(Error::invalid(
            "totalAmount",
            "an open code has no amount of its own",
        )),
    }
}
