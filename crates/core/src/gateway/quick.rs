//! Card payments the payer confirms with a code sent to their phone (快捷支付), and cards
//! bound to a merchant's user so that later payments need only the binding and a code.
//!
//! The order is committed before the channel is asked, as every order is. The channel
//! checks the card and sends the code; the core keeps the channel's reference for it, when
//! it was sent, how many codes were sent and how often the last was checked
//! ([`SmsChallenge`]), so that the rules hold on every instance: a code is sent again at
//! most once a minute and at most [`MAX_CODES_SENT`] codes in all, is good for
//! [`CODE_TTL_S`], and is checked at most [`MAX_CODE_CHECKS`] times. A check is reserved in
//! the database before the channel sees the code, so guesses sent at once each take a try
//! and at most [`MAX_CODE_CHECKS`] × [`MAX_CODES_SENT`] codes are ever tried for one payment
//! (one in 40,000 for six digits), as banks cap both the tries of a code and the codes sent
//! for one transaction. Once the last code is used up the payment cannot be confirmed; the
//! order stays until it expires or the merchant closes it.

use super::{FirstAnswer, Gateway};
use crate::card::{CardBinding, CardDetails, CardSource, Confirmation, Phone, SmsChallenge};
use crate::error::{Error, Result};
use crate::gateway::{CreatedOrder, NewOrder};
use crate::ids::{MerchantId, PlatformId};
use crate::order::{Attempt, AttemptStatus, Order};
use crate::store::OrderKey;
use crate::url::NotifyUrl;

/// A code may be sent again this long after the last one.
pub const RESEND_AFTER_S: i64 = 60;
/// A code is good for this long after it was sent.
pub const CODE_TTL_S: i64 = 300;
/// Checks of one code (right or wrong) before it is void and a new one must be sent.
pub const MAX_CODE_CHECKS: i32 = 5;
/// Codes sent for one payment, the first included.
pub const MAX_CODES_SENT: i32 = 5;

/// A card to bind to the merchant's user once the payment is paid.
struct ToBind<'a> {
    user_id: &'a str,
    card: &'a CardDetails,
}

/// A card payment as created: the order, and the binding when one was asked for.
#[derive(Debug, Clone)]
pub struct CardOrder {
    pub created: CreatedOrder,
    pub binding: Option<CardBinding>,
    /// Whether the payer was sent a code.
    pub code_sent: bool,
}

impl Gateway {
    /// Creates an order paid by a card whose details the payer gave. `bind_for`: the
    /// merchant's id for the card holder, to bind the card to once this payment is paid.
    pub async fn create_card_order(
        &self,
        new: NewOrder,
        card: &CardDetails,
        bind_for: Option<&str>,
    ) -> Result<CardOrder> {
        let bind = bind_for.map(|user_id| ToBind { user_id, card });
        self.start_card_order(new, CardSource::Card(card), &card.phone, bind)
            .await
    }

    /// Creates an order paid by the merchant's user's bound card. The code goes to the phone
    /// the card was bound with; `phone`, the one the merchant names, must be that one
    /// ([`Error::CardDetailsMismatch`] before anything is made or sent otherwise).
    pub async fn create_bound_card_order(
        &self,
        new: NewOrder,
        binding: &CardBinding,
        user_id: &str,
        phone: &Phone,
    ) -> Result<CardOrder> {
        if binding.merchant_id != new.merchant_id || binding.user_id != user_id {
            return Err(Error::BindingNotFound);
        }
        self.effective(binding).await?;
        let phone = match &binding.phone {
            Some(on_file) if on_file == phone => on_file,
            _ => return Err(Error::CardDetailsMismatch),
        };
        let source = CardSource::Bound {
            token: &binding.channel_token,
            phone,
        };
        let mut card_order = self.start_card_order(new, source, phone, None).await?;
        card_order.binding = Some(binding.clone());
        Ok(card_order)
    }

    /// The merchant's binding `id`; another merchant's is not found.
    pub async fn card_binding(
        &self,
        merchant: &MerchantId,
        id: &PlatformId,
    ) -> Result<CardBinding> {
        self.store()
            .card_binding(merchant, id)
            .await?
            .ok_or(Error::BindingNotFound)
    }

    /// The binding the merchant's payment made (its BIND_ID), if it made one.
    pub async fn binding_made_by(
        &self,
        merchant: &MerchantId,
        order_id: &PlatformId,
    ) -> Result<Option<CardBinding>> {
        Ok(self.store().binding_by_origin(merchant, order_id).await?)
    }

    /// A binding is effective once the payment that made it is paid.
    async fn effective(&self, binding: &CardBinding) -> Result<()> {
        if binding.active_at.is_some() {
            return Ok(());
        }
        let origin = self.order_by_id(&binding.origin_order_id).await?;
        match origin.paid_at {
            Some(at) if origin.status.is_paid() => {
                self.store().activate_card_bindings(&origin.id, at).await?;
                Ok(())
            }
            _ => Err(Error::BindingNotActive),
        }
    }

    async fn start_card_order(
        &self,
        new: NewOrder,
        source: CardSource<'_>,
        phone: &Phone,
        bind: Option<ToBind<'_>>,
    ) -> Result<CardOrder> {
        let (order, attempt, channel) = self.open_order(new).await?;
        let start = channel.start_card_payment(&order, &attempt, source).await;
        let code_sent = start.code_ref.is_some();
        if let Some(code_ref) = start.code_ref {
            self.store()
                .insert_sms_challenge(&SmsChallenge {
                    order_id: order.id.clone(),
                    seq: attempt.seq,
                    phone: phone.clone(),
                    code_ref,
                    sent_at: self.now(),
                    sends: 1,
                    checks: 0,
                })
                .await?;
        }
        // Bound only if the channel took the card and gave a token for it.
        let binding = match (bind, start.card_token.as_deref(), &start.outcome) {
            (Some(bind), Some(token), crate::channel::ChannelOutcome::Pending { .. }) => Some(
                self.store()
                    .bind_card(&CardBinding {
                        id: self.new_id('B'),
                        merchant_id: order.merchant_id.clone(),
                        user_id: bind.user_id.to_owned(),
                        card_masked: bind.card.number.masked(),
                        card_kind: bind.card.kind,
                        bank_name: bind.card.number.bank_name().to_owned(),
                        channel: attempt.channel.clone(),
                        channel_token: token.to_owned(),
                        origin_order_id: order.id.clone(),
                        created_at: self.now(),
                        active_at: None,
                        phone: Some(bind.card.phone.clone()),
                    })
                    .await?,
            ),
            _ => None,
        };
        let created = self
            .settle_first_answer(
                order,
                attempt,
                start.outcome,
                start.action,
                FirstAnswer::Notify,
            )
            .await;
        Ok(CardOrder {
            created,
            binding,
            code_sent,
        })
    }

    /// The order's attempt waiting for the payer's code, and the code sent for it.
    async fn waiting_for_code(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
    ) -> Result<(Order, Attempt, SmsChallenge)> {
        let order = self.find_order(merchant, key).await?;
        if order.status.is_paid() {
            return Err(Error::OrderAlreadyPaid);
        }
        if !order.status.is_open() {
            return Err(Error::OrderNotPayable(order.status));
        }
        let attempt = self
            .latest_attempt(&order.id)
            .await?
            .filter(|a| a.status == AttemptStatus::Paying)
            .ok_or(Error::OrderNotPayable(order.status))?;
        let challenge = self
            .store()
            .sms_challenge(&order.id, attempt.seq)
            .await?
            .ok_or(Error::NoCodeSent)?;
        Ok((order, attempt, challenge))
    }

    /// The payer's code for a card payment. A right code pays the order (and makes the
    /// card's binding effective); a wrong one leaves it waiting. Every check is counted
    /// before the channel sees the code. `notify_url`: where the payment's notification
    /// goes, when the confirmation is where the merchant names it; set only once the code
    /// is right, so a wrong code changes nothing.
    pub async fn confirm_payment(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
        code: &str,
        notify_url: Option<&NotifyUrl>,
    ) -> Result<Order> {
        let (order, attempt, challenge) = self.waiting_for_code(merchant, key).await?;
        let now = self.now();
        if challenge.checks >= MAX_CODE_CHECKS || now >= challenge.sent_at.plus_secs(CODE_TTL_S) {
            return Err(Error::CodeExpired);
        }
        let reserved = self
            .store()
            .reserve_code_check(&order.id, attempt.seq, &challenge.code_ref, MAX_CODE_CHECKS)
            .await?;
        if !reserved {
            return Err(Error::CodeExpired);
        }
        let channel = self.channel(&attempt.channel)?.clone();
        match channel
            .confirm_payment(&order, &attempt, &challenge.code_ref, code, now)
            .await
        {
            Confirmation::WrongCode => {
                let checks = self
                    .store()
                    .sms_challenge(&order.id, attempt.seq)
                    .await?
                    .filter(|c| c.code_ref == challenge.code_ref)
                    .map_or(MAX_CODE_CHECKS, |c| c.checks);
                Err(Error::WrongCode {
                    tries_left: (MAX_CODE_CHECKS - checks).max(0),
                })
            }
            Confirmation::Outcome(outcome) => {
                // Before the outcome is applied: its notification is written with it.
                if let Some(url) = notify_url {
                    self.store().set_order_notify_url(&order.id, url).await?;
                }
                let order = self
                    .apply_attempt_outcome(&order.id, attempt.seq, outcome)
                    .await?;
                if let Some(at) = order.paid_at.filter(|_| order.status.is_paid()) {
                    self.store().activate_card_bindings(&order.id, at).await?;
                }
                Ok(order)
            }
        }
    }

    /// Sends the payer a new code, at most once every [`RESEND_AFTER_S`] and
    /// [`MAX_CODES_SENT`] codes in all.
    pub async fn resend_code(&self, merchant: &MerchantId, key: OrderKey<'_>) -> Result<Order> {
        let (order, attempt, challenge) = self.waiting_for_code(merchant, key).await?;
        if challenge.sends >= MAX_CODES_SENT {
            return Err(Error::TooManyCodes);
        }
        let now = self.now();
        let due = challenge.sent_at.plus_secs(RESEND_AFTER_S);
        let too_soon = |at: crate::time::Millis| Error::ResendTooSoon {
            wait_s: ((at.0 - now.0 + 999) / 1000).max(1),
        };
        if now < due {
            return Err(too_soon(due));
        }
        // Take the turn first, so that two requests at once send one code.
        if !self
            .store()
            .claim_sms_resend(
                &order.id,
                attempt.seq,
                now,
                now.plus_secs(-RESEND_AFTER_S),
                MAX_CODES_SENT,
            )
            .await?
        {
            let sends = self
                .store()
                .sms_challenge(&order.id, attempt.seq)
                .await?
                .map_or(MAX_CODES_SENT, |c| c.sends);
            if sends >= MAX_CODES_SENT {
                return Err(Error::TooManyCodes);
            }
            return Err(too_soon(now.plus_secs(RESEND_AFTER_S)));
        }
        let channel = self.channel(&attempt.channel)?.clone();
        match channel.send_code(&order, &attempt, &challenge.phone).await {
            Ok(code_ref) => {
                self.store()
                    .set_sms_code_ref(&order.id, attempt.seq, &code_ref)
                    .await?;
                Ok(order)
            }
            Err(crate::channel::ChannelOutcome::Failed { code, msg }) => {
                Err(Error::ChannelRefused { code, msg })
            }
            Err(other) => Err(Error::ChannelRefused {
                code: "SEND_FAILED".into(),
                msg: format!("{other:?}"),
            }),
        }
    }
}
