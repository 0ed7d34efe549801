//! Pay orders: create, query, pay (channel outcomes), close, expire, re-notify.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Gateway, MAX_RACE_RETRIES};
use crate::channel::{Channel, ChannelOutcome, PayAction};
use crate::dialect::DialectTag;
use crate::error::{Error, Result};
use crate::ids::{MerchantId, MerchantOrderNo, PlatformId};
use crate::money::Fen;
use crate::notification::{Notification, NotificationEvent};
use crate::order::{
    Attempt, AttemptStatus, Order, OrderEvent, OrderStatus, Transition, Tries, next_status,
};
use crate::payway::{PayMethod, PayWay};
use crate::refund::{Refund, RefundStatus};
use crate::store::{AttemptSettlement, OrderClosing, OrderKey, StoreError};
use crate::time::Millis;
use crate::url::{NotifyUrl, ReturnUrl};

/// Ask a channel again this long after it answered `Unknown`.
const UNKNOWN_RECHECK_S: i64 = 5;
/// How long after a close the channel has not confirmed its attempt stays under watch.
const CLOSE_WATCH_S: i64 = 24 * 3600;
/// The failure code of an attempt held because the channel collected another amount.
pub const AMOUNT_MISMATCH: &str = "AMOUNT_MISMATCH";

/// A merchant's order, parsed and checked by the dialect.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub merchant_id: MerchantId,
    pub merchant_order_no: MerchantOrderNo,
    pub dialect: DialectTag,
    pub pay_way: PayWay,
    pub amount: Fen,
    pub currency: String,
    pub subject: String,
    pub body: String,
    pub notify_url: Option<NotifyUrl>,
    pub return_url: Option<ReturnUrl>,
    pub client_ip: Option<String>,
    pub extra: Map<String, Value>,
    /// `None`: the gateway's default time to live.
    pub expires_at: Option<Millis>,
    /// The payer's code, for barcode payments.
    pub auth_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreatedOrder {
    pub order: Order,
    pub attempt: Attempt,
    pub action: PayAction,
}

/// Whether the success of a new order's first answer is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAnswer {
    /// As every payment: the merchant's notify URL hears of it.
    Notify,
    /// Not notified: the merchant learns it from the reply to its request (mmsp's
    /// micropay: a payment that succeeds at once is not pushed). A success that comes
    /// later (the payer confirming) is notified as usual.
    Silent,
}

impl Gateway {
    /// Creates an order and starts its first payment attempt at the default channel.
    /// The order is committed before the channel is asked, so a crash in between leaves
    /// an order that a query or the expirer will settle, never a lost payment.
    pub async fn create_order(&self, new: NewOrder) -> Result<CreatedOrder> {
        self.create_order_with(new, FirstAnswer::Notify).await
    }

    /// [`Gateway::create_order`], saying whether an immediate success is notified.
    pub async fn create_order_with(
        &self,
        new: NewOrder,
        first: FirstAnswer,
    ) -> Result<CreatedOrder> {
        let (order, attempt, channel) = self.open_order(new).await?;
        let start = channel.start_payment(&order, &attempt).await;
        Ok(self
            .settle_first_answer(order, attempt, start.outcome, start.action, first)
            .await)
    }

    /// Checks a new order, builds it with its first attempt at the default channel and
    /// commits both, before the channel is asked.
    pub(super) async fn open_order(
        &self,
        new: NewOrder,
    ) -> Result<(Order, Attempt, Arc<dyn Channel>)> {
        if self.merchant(&new.merchant_id).is_none() {
            return Err(Error::invalid("merchant", "unknown merchant"));
        }
        let now = self.now();
        let expires_at = new
            .expires_at
            .unwrap_or_else(|| now.plus_secs(self.settings().default_order_ttl_s));
        if expires_at <= now {
            return Err(Error::invalid("expireTime", "must be in the future"));
        }
        let channel = self.default_channel()?;
        let order = Order {
            id: self.new_id('P'),
            merchant_id: new.merchant_id,
            merchant_order_no: new.merchant_order_no,
            dialect: new.dialect,
            pay_way: new.pay_way,
            channel: channel.name().to_owned(),
            amount: new.amount,
            currency: new.currency,
            subject: new.subject,
            body: new.body,
            status: OrderStatus::Paying,
            notify_url: new.notify_url,
            return_url: new.return_url,
            client_ip: new.client_ip,
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
            tries: Tries::Once,
            code_id: None,
            also_notify: None,
            escrow: None,
            splits: None,
        };
        // A payer code is decided by the channel at once: if this process stops before it
        // hears the answer, the poller asks. Payers at a cashier say by themselves.
        let next_check_at = (order.pay_way.method == PayMethod::Barcode)
            .then(|| now.plus_secs(super::RECOVERY_DELAY_S));
        let attempt = Attempt::first(&order, new.auth_code, next_check_at);
        self.store()
            .insert_order(&order, Some(&attempt))
            .await
            .map_err(|e| match e {
                StoreError::DuplicateOrderNo => Error::DuplicateOrderNo,
                other => other.into(),
            })?;
        Ok((order, attempt, channel))
    }

    /// Asks the channel to start a recorded attempt and applies its answer. Never fails: the
    /// attempt is committed, and an answer that cannot be recorded is asked for again by
    /// the poller.
    pub(super) async fn run_attempt(
        &self,
        channel: &Arc<dyn Channel>,
        order: Order,
        attempt: Attempt,
    ) -> CreatedOrder {
        let start = channel.start_payment(&order, &attempt).await;
        self.settle_first_answer(
            order,
            attempt,
            start.outcome,
            start.action,
            FirstAnswer::Notify,
        )
        .await
    }

    /// Records the channel's first answer about a recorded attempt. Never fails, as
    /// [`Gateway::run_attempt`].
    pub(super) async fn settle_first_answer(
        &self,
        order: Order,
        attempt: Attempt,
        outcome: ChannelOutcome,
        action: PayAction,
        first: FirstAnswer,
    ) -> CreatedOrder {
        let notify = first == FirstAnswer::Notify;
        match outcome {
            ChannelOutcome::Pending {
                check_after_s: None,
            } => CreatedOrder {
                order,
                attempt,
                action,
            },
            outcome => match self
                .apply_outcome(&order.id, attempt.seq, outcome, notify)
                .await
            {
                Ok(order) => {
                    let attempt = match self.store().attempt(&order.id, attempt.seq).await {
                        Ok(Some(settled)) => settled,
                        _ => attempt,
                    };
                    CreatedOrder {
                        order,
                        attempt,
                        action,
                    }
                }
                // The order is committed; only the channel's answer is not. Refusing now
                // would make the merchant retry into "duplicate order number" while the
                // payer may have paid: answer with the order as it stands, and let the
                // poller ask the channel again.
                Err(e) => {
                    tracing::warn!(order = %order.id, error = %e, "could not record the channel's answer; the poller will ask again");
                    if attempt.next_check_at.is_none() {
                        let at = self.now().plus_secs(super::RECOVERY_DELAY_S);
                        if let Err(e) = self
                            .store()
                            .schedule_attempt_check(&order.id, attempt.seq, at)
                            .await
                        {
                            tracing::error!(order = %order.id, error = %e, "could not schedule a check of the attempt");
                        }
                    }
                    CreatedOrder {
                        order,
                        attempt,
                        action,
                    }
                }
            },
        }
    }

    /// The merchant's order by one of its keys; another merchant's order is not found. An
    /// open order past its expiry is closed first, so that nobody is told it is still payable.
    pub async fn find_order(&self, merchant: &MerchantId, key: OrderKey<'_>) -> Result<Order> {
        let order = self
            .store()
            .order(merchant, key)
            .await?
            .ok_or(Error::OrderNotFound)?;
        self.expire_if_due(order).await
    }

    pub(crate) async fn order_by_id(&self, id: &PlatformId) -> Result<Order> {
        self.store()
            .order_by_id(id)
            .await?
            .ok_or(Error::OrderNotFound)
    }

    /// The tries of the merchant's order, oldest first (a bill's payers' tries, each with
    /// its wallet); another merchant's order has none.
    pub async fn attempts_of_order(
        &self,
        merchant: &MerchantId,
        order_id: &PlatformId,
    ) -> Result<Vec<Attempt>> {
        if self
            .store()
            .order(merchant, OrderKey::Platform(order_id))
            .await?
            .is_none()
        {
            return Err(Error::OrderNotFound);
        }
        Ok(self.store().attempts_of_order(order_id).await?)
    }

    pub(crate) async fn latest_attempt(&self, order_id: &PlatformId) -> Result<Option<Attempt>> {
        Ok(self.store().latest_attempt(order_id).await?)
    }

    /// Applies what a channel said about an attempt: the one path by which money arrives.
    /// Returns the order as it stands afterwards.
    pub(crate) async fn apply_attempt_outcome(
        &self,
        order_id: &PlatformId,
        seq: i32,
        outcome: ChannelOutcome,
    ) -> Result<Order> {
        self.apply_outcome(order_id, seq, outcome, true).await
    }

    /// [`Gateway::apply_attempt_outcome`]; `notify`: whether a success is notified.
    pub(super) async fn apply_outcome(
        &self,
        order_id: &PlatformId,
        seq: i32,
        outcome: ChannelOutcome,
        notify: bool,
    ) -> Result<Order> {
        for _ in 0..MAX_RACE_RETRIES {
            let order = self.order_by_id(order_id).await?;
            let attempt = self
                .store()
                .attempt(order_id, seq)
                .await?
                .ok_or(Error::OrderNotFound)?;
            let now = self.now();
            let settlement = match &outcome {
                ChannelOutcome::Succeeded {
                    trade_no,
                    payer,
                    at,
                    amount,
                    funding,
                } => {
                    if matches!(
                        attempt.status,
                        AttemptStatus::Succeeded | AttemptStatus::Held
                    ) {
                        return Ok(order);
                    }
                    if *amount != order.amount {
                        // Money moved, but not what the order asked for: neither paid nor
                        // refunded by rule. An operator settles it with the channel.
                        tracing::error!(order = %order_id, seq, collected = %amount, expected = %order.amount,
                            "the channel reports a payment of another amount; holding the attempt for an operator");
                        AttemptSettlement {
                            channel_trade_no: Some(trade_no.clone()),
                            channel_user: payer.clone(),
                            funding: *funding,
                            fail: Some((
                                AMOUNT_MISMATCH.to_owned(),
                                format!(
                                    "the channel collected {amount} fen, the order is {} fen",
                                    order.amount
                                ),
                            )),
                            ..AttemptSettlement::new(
                                &order,
                                &attempt,
                                AttemptStatus::Held,
                                order.status,
                                now,
                            )
                        }
                    } else {
                        let mut settlement = self.success_settlement(
                            &order,
                            &attempt,
                            trade_no,
                            payer.as_deref(),
                            *at,
                            now,
                        );
                        settlement.funding = *funding;
                        if !notify {
                            settlement.notifications.clear();
                        }
                        settlement
                    }
                }
                ChannelOutcome::Closed => {
                    if attempt.status != AttemptStatus::Paying {
                        return Ok(order);
                    }
                    // The channel closed this try: a one-try order closes with it, a bill
                    // stays open for the next.
                    let event = match order.tries {
                        Tries::Once => OrderEvent::Close,
                        Tries::Again | Tries::AgainOneAtATime => OrderEvent::AttemptFailedMayRetry,
                    };
                    let order_to = match next_status(order.status, order.amount, event) {
                        Transition::To(s) => s,
                        _ => order.status,
                    };
                    AttemptSettlement::new(&order, &attempt, AttemptStatus::Closed, order_to, now)
                }
                ChannelOutcome::Failed { code, msg } => {
                    if attempt.status != AttemptStatus::Paying {
                        return Ok(order);
                    }
                    let event = order.tries.failure_event();
                    let order_to = match next_status(order.status, order.amount, event) {
                        Transition::To(s) => s,
                        _ => order.status,
                    };
                    // Dialects that tell merchants of failures (hrss §5.2) get the
                    // payment's notifications when the order fails for good.
                    let notifications = if order_to == OrderStatus::Failed
                        && self.settings().notify_failures.contains(&order.dialect)
                    {
                        self.pay_notifications(&order, now)
                    } else {
                        Vec::new()
                    };
                    AttemptSettlement {
                        fail: Some((code.clone(), msg.clone())),
                        notifications,
                        ..AttemptSettlement::new(
                            &order,
                            &attempt,
                            AttemptStatus::Failed,
                            order_to,
                            now,
                        )
                    }
                }
                ChannelOutcome::Pending { check_after_s } => {
                    if let Some(secs) = check_after_s {
                        self.store()
                            .schedule_attempt_check(order_id, seq, now.plus_secs(i64::from(*secs)))
                            .await?;
                    }
                    return Ok(order);
                }
                ChannelOutcome::Unknown { reason } => {
                    tracing::warn!(order = %order_id, seq, %reason, "channel outcome unknown; will query");
                    self.store()
                        .schedule_attempt_check(order_id, seq, now.plus_secs(UNKNOWN_RECHECK_S))
                        .await?;
                    return Ok(order);
                }
            };
            if self.store().settle_attempt(&settlement).await? {
                if let Some(refund) = &settlement.late_refund {
                    tracing::warn!(order = %order_id, seq, refund = %refund.id, "late payment; refunding it");
                    self.execute_refund(refund).await?;
                }
                return self.order_by_id(order_id).await;
            }
        }
        Err(Error::Contention)
    }

    fn success_settlement(
        &self,
        order: &Order,
        attempt: &Attempt,
        trade_no: &str,
        payer: Option<&str>,
        paid_at: Millis,
        now: Millis,
    ) -> AttemptSettlement {
        let mut settlement = AttemptSettlement {
            channel_trade_no: Some(trade_no.to_owned()),
            channel_user: payer.map(str::to_owned),
            ..AttemptSettlement::new(order, attempt, AttemptStatus::Succeeded, order.status, now)
        };
        match next_status(order.status, order.amount, OrderEvent::AttemptSucceeded) {
            Transition::To(to) => {
                settlement.order_to = to;
                settlement.paid_at = Some(paid_at);
                settlement.notifications = self.pay_notifications(order, now);
            }
            Transition::LatePayment | Transition::Unchanged | Transition::Refused => {
                if !order.status.is_paid() {
                    settlement.paid_at = Some(paid_at);
                }
                settlement.late_refund = Some(Refund {
                    id: self.new_id('R'),
                    merchant_id: order.merchant_id.clone(),
                    order_id: order.id.clone(),
                    attempt_seq: attempt.seq,
                    dialect: order.dialect.clone(),
                    refund_no: None,
                    request_no: None,
                    amount: order.amount,
                    reason: format!(
                        "automatic refund: payment arrived while the order was {}",
                        order.status
                    ),
                    status: RefundStatus::Requested,
                    automatic: true,
                    channel_refund_no: None,
                    fail_reason: None,
                    extra: Map::new(),
                    created_at: now,
                    finished_at: None,
                    next_check_at: Some(now.plus_secs(super::RECOVERY_DELAY_S)),
                    split: None,
                });
            }
        }
        settlement
    }

    /// Closes the merchant's unpaid order at its request. Closing a closed order is not an
    /// error; closing a paid one is; another merchant's order is not found.
    pub async fn close_order(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
        reason: &str,
    ) -> Result<Order> {
        let order = self
            .store()
            .order(merchant, key)
            .await?
            .ok_or(Error::OrderNotFound)?;
        self.close_order_by_id(&order.id, reason).await
    }

    /// Closes an unpaid order (the merchant asked, or it expired).
    pub(crate) async fn close_order_by_id(
        &self,
        order_id: &PlatformId,
        reason: &str,
    ) -> Result<Order> {
        for _ in 0..MAX_RACE_RETRIES {
            let order = self.order_by_id(order_id).await?;
            match next_status(order.status, order.amount, OrderEvent::Close) {
                Transition::Unchanged => return Ok(order),
                Transition::To(_) => {}
                Transition::Refused | Transition::LatePayment => {
                    return Err(Error::OrderAlreadyPaid);
                }
            }
            // A bill may have several tries still open at their wallets (the payer scanned
            // with one, then another): each is stopped, or the payer could still pay it.
            let paying: Vec<Attempt> = self
                .store()
                .attempts_of_order(order_id)
                .await?
                .into_iter()
                .filter(|a| a.status == AttemptStatus::Paying)
                .collect();
            let mut recheck_attempt_at = None;
            let mut paid_meanwhile = false;
            for attempt in &paying {
                let channel = self.channel(&attempt.channel)?;
                match channel.close_payment(&order, attempt).await {
                    ChannelOutcome::Closed => {}
                    outcome @ ChannelOutcome::Succeeded { .. } => {
                        // The payer paid just before the close.
                        self.apply_attempt_outcome(order_id, attempt.seq, outcome)
                            .await?;
                        paid_meanwhile = true;
                        break;
                    }
                    outcome => {
                        // The channel would not close it: perhaps the payer just paid.
                        let query = channel.query_payment(&order, attempt, self.now()).await;
                        if let ChannelOutcome::Succeeded { .. } = query {
                            self.apply_attempt_outcome(order_id, attempt.seq, query)
                                .await?;
                            paid_meanwhile = true;
                            break;
                        }
                        // The order closes all the same; its paying tries stay under watch.
                        tracing::warn!(order = %order_id, seq = attempt.seq, ?outcome, "channel did not confirm the close; will ask again");
                        recheck_attempt_at = Some(self.now().plus_secs(super::RECOVERY_DELAY_S));
                    }
                }
            }
            if paid_meanwhile {
                continue;
            }
            let closing = OrderClosing {
                order_id: order.id.clone(),
                from: order.status,
                at: self.now(),
                reason: reason.to_owned(),
                recheck_attempt_at,
            };
            if self.store().close_order(&closing).await? {
                return self.order_by_id(order_id).await;
            }
        }
        Err(Error::Contention)
    }

    /// Closes the order now if it is unpaid and its expiry has passed (the expirer may not
    /// have got to it yet), so that nobody reports or pays an expired order as open.
    pub(crate) async fn expire_if_due(&self, order: Order) -> Result<Order> {
        if order.status.is_open() && self.now() >= order.expires_at {
            return self.close_order_by_id(&order.id, "expired").await;
        }
        Ok(order)
    }

    /// Closes orders whose expiry has passed; returns how many it closed.
    pub(crate) async fn expire_due_orders(&self, limit: i64) -> Result<usize> {
        let due = self.store().expired_orders(self.now(), limit).await?;
        let mut closed = 0;
        for id in due {
            match self.close_order_by_id(&id, "expired").await {
                Ok(order) if order.status == OrderStatus::Closed => closed += 1,
                Ok(_) => {}
                Err(e) => tracing::warn!(order = %id, error = %e, "could not expire order"),
            }
        }
        Ok(closed)
    }

    /// Asks channels about pending attempts that are due a check, one after another;
    /// returns how many it asked. One round, for tests and tools: the poller claims with
    /// [`Gateway::claim_attempt_checks`] and checks each attempt on its own.
    pub(crate) async fn check_pending_attempts(&self, limit: i64) -> Result<usize> {
        let attempts = self.claim_attempt_checks(limit).await?;
        let count = attempts.len();
        for attempt in attempts {
            if let Err(e) = self.check_attempt(&attempt).await {
                tracing::warn!(order = %attempt.order_id, seq = attempt.seq, error = %e, "could not check attempt");
            }
        }
        Ok(count)
    }

    /// Takes up to `limit` attempts that are due a check, leased to this caller for
    /// [`GatewaySettings::lease_s`](super::GatewaySettings::lease_s): if it stops before
    /// checking one, the attempt comes back then.
    pub(crate) async fn claim_attempt_checks(&self, limit: i64) -> Result<Vec<Attempt>> {
        let now = self.now();
        Ok(self
            .store()
            .claim_attempt_checks(now, self.lease_until(now), limit)
            .await?)
    }

    /// Asks the channel about one claimed attempt and applies its answer.
    pub(crate) async fn check_attempt(&self, attempt: &Attempt) -> Result<()> {
        let order = self.order_by_id(&attempt.order_id).await?;
        let channel = self.channel(&attempt.channel)?;
        let outcome = match channel.query_payment(&order, attempt, self.now()).await {
            // The order closed but the channel had not confirmed closing this payment,
            // and still has it waiting: ask it to close again.
            ChannelOutcome::Pending { .. } if !order.status.is_open() => {
                return self.retry_close(&order, attempt).await;
            }
            // Still waiting and no hint from the channel: ask again in a while.
            ChannelOutcome::Pending {
                check_after_s: None,
            } => ChannelOutcome::Pending {
                check_after_s: Some(10),
            },
            other => other,
        };
        self.apply_attempt_outcome(&attempt.order_id, attempt.seq, outcome)
            .await
            .map(|_| ())
    }

    /// Asks the channel once more to close the payment of a closed order; closes the attempt
    /// when it confirms. Otherwise asks again later, less often the longer it has been (a
    /// tenth of the time since the close, between a minute and an hour), and gives up after
    /// [`CLOSE_WATCH_S`]: no wallet keeps a payment open that long, and an attempt still in
    /// doubt then is for reconciliation with the channel's statement.
    async fn retry_close(&self, order: &Order, attempt: &Attempt) -> Result<()> {
        let now = self.now();
        let watched_s = (now.0 - order.closed_at.unwrap_or(now).0) / 1000;
        let confirmed = if watched_s >= CLOSE_WATCH_S {
            tracing::error!(order = %order.id, seq = attempt.seq, "the channel never confirmed the close; closing the attempt, reconcile it with the channel's statement");
            true
        } else {
            match self
                .channel(&attempt.channel)?
                .close_payment(order, attempt)
                .await
            {
                ChannelOutcome::Closed => true,
                outcome => {
                    tracing::warn!(order = %order.id, ?outcome, "channel still did not confirm the close");
                    false
                }
            }
        };
        if confirmed {
            let settlement =
                AttemptSettlement::new(order, attempt, AttemptStatus::Closed, order.status, now);
            // `false`: the attempt settled meanwhile, which is as good.
            self.store().settle_attempt(&settlement).await?;
        } else {
            let wait_s = (watched_s / 10).clamp(60, 3600);
            self.store()
                .schedule_attempt_check(&order.id, attempt.seq, now.plus_secs(wait_s))
                .await?;
        }
        Ok(())
    }

    /// Queues the payment notification of the merchant's paid order once more (xxpay
    /// `executeNotify`). Returns whether one was queued: unpaid orders and orders without a
    /// URL have none.
    pub async fn resend_pay_notification(
        &self,
        merchant: &MerchantId,
        order_id: &PlatformId,
    ) -> Result<bool> {
        let order = self
            .store()
            .order(merchant, OrderKey::Platform(order_id))
            .await?
            .ok_or(Error::OrderNotFound)?;
        if !order.status.is_paid() {
            return Ok(false);
        }
        let notifications = self.pay_notifications(&order, self.now());
        for notification in &notifications {
            self.store().enqueue_notification(notification).await?;
        }
        Ok(!notifications.is_empty())
    }

    /// The payment notifications of an order: one for each address it has.
    fn pay_notifications(&self, order: &Order, now: Millis) -> Vec<Notification> {
        [order.notify_url.as_ref(), order.also_notify.as_ref()]
            .into_iter()
            .flatten()
            .map(|url| {
                Notification::new(
                    self.new_id('N'),
                    order.merchant_id.clone(),
                    order.dialect.clone(),
                    NotificationEvent::Pay,
                    order.id.clone(),
                    url.clone(),
                    now,
                )
            })
            .collect()
    }
}
