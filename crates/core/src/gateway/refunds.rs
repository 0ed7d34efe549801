//! Refunds: request (reserve + record, atomically), execute at the channel, settle.

use serde_json::{Map, Value};

use super::{Gateway, MAX_RACE_RETRIES};
use crate::channel::ChannelOutcome;
use crate::dialect::DialectTag;
use crate::error::{Error, Result};
use crate::ids::{MerchantId, PlatformId, RefundNo, RefundRequestNo};
use crate::money::Fen;
use crate::order::{AttemptStatus, OrderEvent, Transition, next_status};
use crate::refund::{Refund, RefundSplit, RefundStatus};
use crate::store::{OrderKey, RefundKey, RefundOrderUpdate, RefundSettlement, StoreError};
use crate::time::Millis;

/// Ask the channel about a pending refund this often when it gives no hint.
const REFUND_RECHECK_S: i64 = 2;
/// A refund the channel refused after it was reported accepted is sent again this often.
const REFUSED_RETRY_S: i64 = 3600;

/// Whether the merchant has been told the refund's status yet: until then a refusal by the
/// channel may fail the refund; afterwards the refund was reported as going through, and
/// paymux keeps at it (and says so in the log) rather than turn it into a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    NotYet,
    Already,
}

#[derive(Debug, Clone)]
pub struct NewRefund {
    pub merchant_id: MerchantId,
    pub order_id: PlatformId,
    pub dialect: DialectTag,
    pub refund_no: RefundNo,
    /// The idempotency key: the same key with the same parameters returns the same refund.
    pub request_no: Option<RefundRequestNo>,
    pub amount: Fen,
    pub reason: String,
    pub extra: Map<String, Value>,
    /// Of a split bill: which shares it takes from (required for a split bill).
    pub split: Option<RefundSplit>,
}

impl Gateway {
    /// Requests a refund of a paid order. The amount is reserved on the order in the same
    /// transaction that records the refund, so concurrent refunds never exceed what was
    /// paid. Returns the refund as it stands after the channel answered.
    pub async fn request_refund(&self, new: NewRefund) -> Result<Refund> {
        if let Some(existing) = self.same_request(&new).await? {
            return Ok(existing);
        }
        let order = self
            .store()
            .order(&new.merchant_id, OrderKey::Platform(&new.order_id))
            .await?
            .ok_or(Error::OrderNotFound)?;
        if !order.status.is_paid() {
            return Err(Error::OrderNotRefundable(order.status));
        }
        if let Some(escrow) = order.escrow
            && !escrow.status.allows_refunds()
        {
            return Err(Error::EscrowNotCompleted(escrow.status));
        }
        self.check_split(&order, &new).await?;
        if new.amount > order.refundable() {
            // The same request, arriving at the same moment, may have reserved the money
            // just now: answer as it did rather than call it an over-refund.
            if let Some(existing) = self.same_request(&new).await? {
                return Ok(existing);
            }
            return Err(Error::RefundExceedsPaid {
                refundable: order.refundable(),
            });
        }
        // The order accepted its first successful attempt; later ones are late payments,
        // refunded by themselves.
        let paid_attempt = self
            .store()
            .attempts_of_order(&order.id)
            .await?
            .into_iter()
            .find(|a| a.status == AttemptStatus::Succeeded)
            .ok_or(Error::OrderNotRefundable(order.status))?;
        let now = self.now();
        let refund = Refund {
            id: self.new_id('R'),
            merchant_id: new.merchant_id.clone(),
            order_id: order.id.clone(),
            attempt_seq: paid_attempt.seq,
            dialect: new.dialect.clone(),
            refund_no: Some(new.refund_no.clone()),
            request_no: new.request_no.clone(),
            amount: new.amount,
            reason: new.reason.clone(),
            status: RefundStatus::Requested,
            automatic: false,
            channel_refund_no: None,
            fail_reason: None,
            extra: new.extra.clone(),
            split: new.split.clone(),
            created_at: now,
            finished_at: None,
            // If this process stops before the channel answers, the poller takes it from here.
            next_check_at: Some(now.plus_secs(super::RECOVERY_DELAY_S)),
        };
        let inserted = match (&order.splits, &refund.split) {
            (Some(splits), Some(part)) => {
                let party_share = match &part.party {
                    Some(p) => splits.share(&p.party).unwrap_or(Fen::ZERO),
                    None => Fen::ZERO,
                };
                self.store()
                    .insert_split_refund(&refund, splits.platform, party_share)
                    .await
            }
            _ => self.store().insert_refund(&refund).await,
        };
        match inserted {
            Ok(()) => {}
            Err(StoreError::NotRefundable) => {
                if let Some(existing) = self.same_request(&new).await? {
                    return Ok(existing);
                }
                let order = self.order_by_id(&new.order_id).await?;
                return Err(if order.status.is_paid() {
                    Error::RefundExceedsPaid {
                        refundable: order.refundable(),
                    }
                } else {
                    Error::OrderNotRefundable(order.status)
                });
            }
            Err(e @ (StoreError::DuplicateRequestNo | StoreError::DuplicateRefundNo)) => {
                // The same request may have arrived concurrently and won: answer as it did.
                // Which key a concurrent insert breaks first is the database's choice
                // (PostgreSQL checks the refund number first), so look either way.
                if let Some(existing) = self.same_request(&new).await? {
                    return Ok(existing);
                }
                return Err(match e {
                    StoreError::DuplicateRefundNo => Error::DuplicateRefundNo,
                    _ => Error::RequestNoConflict,
                });
            }
            Err(other) => return Err(other.into()),
        }
        self.execute_refund(&refund).await
    }

    /// A split bill's refund names the shares it takes from, adding up to its amount, each
    /// within what is left of it (the store checks again, atomically, under concurrency).
    async fn check_split(&self, order: &crate::order::Order, new: &NewRefund) -> Result<()> {
        let (splits, part) = match (&order.splits, &new.split) {
            (None, None) => return Ok(()),
            (None, Some(_)) => return Err(Error::invalid("subOrders", "the order is not split")),
            (Some(_), None) => return Err(Error::SplitRefundNeedsShares),
            (Some(splits), Some(part)) => (splits, part),
        };
        if part.total() != Some(new.amount) {
            return Err(Error::invalid(
                "refundAmount",
                "must be the platform's part plus the sub-merchant's",
            ));
        }
        let party_share = match &part.party {
            Some(p) => Some((
                p,
                splits.share(&p.party).ok_or_else(|| {
                    Error::invalid("subOrders", "no such sub-merchant in the split")
                })?,
            )),
            None => None,
        };
        let taken = self
            .store()
            .refunds_of_order(&order.id)
            .await?
            .into_iter()
            .filter(|r| r.status != RefundStatus::Failed)
            .filter_map(|r| r.split);
        let (mut platform_taken, mut party_taken) = (Fen::ZERO, Fen::ZERO);
        for s in taken {
            platform_taken = platform_taken.checked_add(s.platform).unwrap_or(Fen::ZERO);
            if let (Some(earlier), Some((p, _))) = (&s.party, &party_share)
                && earlier.party == p.party
            {
                party_taken = party_taken.checked_add(earlier.amount).unwrap_or(Fen::ZERO);
            }
        }
        let left = |share: Fen, taken: Fen| share.checked_sub(taken).unwrap_or(Fen::ZERO);
        if part.platform > left(splits.platform, platform_taken) {
            return Err(Error::SplitShareExceeded {
                party: None,
                left: left(splits.platform, platform_taken),
            });
        }
        if let Some((p, share)) = party_share
            && p.amount > left(share, party_taken)
        {
            return Err(Error::SplitShareExceeded {
                party: Some(p.party.clone()),
                left: left(share, party_taken),
            });
        }
        Ok(())
    }

    /// The refund an earlier request with the same `request_no` made, if its parameters
    /// match (the order, the amount, the refund number, and of a split bill the shares it
    /// takes from); `RequestNoConflict` if they differ.
    async fn same_request(&self, new: &NewRefund) -> Result<Option<Refund>> {
        let Some(request_no) = &new.request_no else {
            return Ok(None);
        };
        let Some(existing) = self
            .store()
            .refund(&new.merchant_id, RefundKey::RequestNo(request_no))
            .await?
        else {
            return Ok(None);
        };
        let same = existing.order_id == new.order_id
            && existing.amount == new.amount
            && existing.refund_no.as_ref() == Some(&new.refund_no)
            && existing.split == new.split;
        if same {
            Ok(Some(existing))
        } else {
            Err(Error::RequestNoConflict)
        }
    }

    /// Sends a recorded refund to the order's channel and applies the answer.
    pub(super) async fn execute_refund(&self, refund: &Refund) -> Result<Refund> {
        let order = self.order_by_id(&refund.order_id).await?;
        let channel_name = self.refund_channel(refund).await?;
        let outcome = self
            .channel(&channel_name)?
            .refund(&order, refund, self.now())
            .await;
        self.apply_refund_outcome(&refund.id, outcome, Reported::NotYet)
            .await
    }

    /// Finds a refund by the merchant's keys. A `requestNo` that names no refund but is the
    /// order number of a late-paid order finds that order's automatic refund, so merchants
    /// can see where a payment after close went.
    pub async fn find_refund(&self, merchant: &MerchantId, key: RefundKey<'_>) -> Result<Refund> {
        if let Some(refund) = self.store().refund(merchant, key).await? {
            return Ok(refund);
        }
        if let RefundKey::RequestNo(request_no) = key
            && let Ok(order_no) =
                crate::ids::MerchantOrderNo::parse(request_no.as_str(), usize::MAX)
            && let Some(order) = self
                .store()
                .order(merchant, OrderKey::Merchant(&order_no))
                .await?
            && let Some(auto) = self.automatic_refund_of(merchant, &order.id).await?
        {
            return Ok(auto);
        }
        Err(Error::RefundNotFound)
    }

    /// The refunds of the merchant's order; another merchant's order has none.
    pub async fn refunds_of_order(
        &self,
        merchant: &MerchantId,
        order_id: &PlatformId,
    ) -> Result<Vec<Refund>> {
        Ok(self
            .store()
            .refunds_of_order(order_id)
            .await?
            .into_iter()
            .filter(|r| &r.merchant_id == merchant)
            .collect())
    }

    /// The automatic refund of a late payment on the merchant's order, if there is one.
    pub async fn automatic_refund_of(
        &self,
        merchant: &MerchantId,
        order_id: &PlatformId,
    ) -> Result<Option<Refund>> {
        Ok(self
            .refunds_of_order(merchant, order_id)
            .await?
            .into_iter()
            .find(|r| r.automatic))
    }

    /// Applies what a channel said about a refund.
    async fn apply_refund_outcome(
        &self,
        refund_id: &PlatformId,
        outcome: ChannelOutcome,
        reported: Reported,
    ) -> Result<Refund> {
        for _ in 0..MAX_RACE_RETRIES {
            let refund = self.refund_by_id(refund_id).await?;
            if refund.status != RefundStatus::Requested {
                return Ok(refund);
            }
            let now = self.now();
            let settlement = match &outcome {
                ChannelOutcome::Succeeded {
                    trade_no,
                    at,
                    amount,
                    ..
                } if *amount == refund.amount => {
                    self.refund_success(&refund, trade_no, *at).await?
                }
                ChannelOutcome::Succeeded { amount, .. } => {
                    tracing::error!(refund = %refund.id, returned = %amount, expected = %refund.amount,
                        "the channel reports a refund of another amount; it stays requested and needs an operator");
                    self.store()
                        .schedule_refund_check(refund_id, now.plus_secs(REFUSED_RETRY_S))
                        .await?;
                    return self.refund_by_id(refund_id).await;
                }
                ChannelOutcome::Failed { code, msg }
                    if reported == Reported::Already || refund.automatic =>
                {
                    // Money that must go back: never give up on it silently.
                    tracing::error!(refund = %refund.id, %code, %msg, automatic = refund.automatic,
                        "the channel refused a refund that must go through; retrying, and it needs an operator");
                    self.store()
                        .schedule_refund_check(refund_id, now.plus_secs(REFUSED_RETRY_S))
                        .await?;
                    return self.refund_by_id(refund_id).await;
                }
                ChannelOutcome::Failed { code, msg } => {
                    tracing::warn!(refund = %refund.id, %code, %msg, "the channel refused the refund");
                    RefundSettlement {
                        refund_id: refund.id.clone(),
                        to: RefundStatus::Failed,
                        at: now,
                        channel_refund_no: None,
                        fail_reason: Some(format!("{code}: {msg}")),
                        order: Some(RefundOrderUpdate::Released {
                            order_id: refund.order_id.clone(),
                            amount: refund.amount,
                        }),
                        notification: None,
                    }
                }
                ChannelOutcome::Pending { check_after_s } => {
                    let wait = check_after_s.map(i64::from).unwrap_or(REFUND_RECHECK_S);
                    self.store()
                        .schedule_refund_check(refund_id, now.plus_secs(wait))
                        .await?;
                    return self.refund_by_id(refund_id).await;
                }
                ChannelOutcome::Closed => {
                    tracing::warn!(refund = %refund.id, "the channel answered a refund with a close; will query");
                    self.store()
                        .schedule_refund_check(refund_id, now.plus_secs(REFUND_RECHECK_S))
                        .await?;
                    return self.refund_by_id(refund_id).await;
                }
                ChannelOutcome::Unknown { reason } => {
                    tracing::warn!(refund = %refund.id, %reason, "refund outcome unknown; will query");
                    self.store()
                        .schedule_refund_check(refund_id, now.plus_secs(REFUND_RECHECK_S))
                        .await?;
                    return self.refund_by_id(refund_id).await;
                }
            };
            if self.store().settle_refund(&settlement).await? {
                return self.refund_by_id(refund_id).await;
            }
        }
        Err(Error::Contention)
    }

    async fn refund_success(
        &self,
        refund: &Refund,
        trade_no: &str,
        at: Millis,
    ) -> Result<RefundSettlement> {
        let order_update = if refund.automatic {
            None
        } else {
            let order = self.order_by_id(&refund.order_id).await?;
            let refunded_total = order
                .refunded
                .checked_add(refund.amount)
                .ok_or_else(|| Error::invalid("amount", "refund total overflows"))?;
            let to = match next_status(
                order.status,
                order.amount,
                OrderEvent::RefundSucceeded { refunded_total },
            ) {
                Transition::To(to) => to,
                Transition::Unchanged => order.status,
                Transition::Refused | Transition::LatePayment => {
                    return Err(Error::OrderNotRefundable(order.status));
                }
            };
            Some(RefundOrderUpdate::Completed {
                order_id: order.id.clone(),
                from: order.status,
                to,
                amount: refund.amount,
                refunded_before: order.refunded,
            })
        };
        Ok(RefundSettlement {
            refund_id: refund.id.clone(),
            to: RefundStatus::Succeeded,
            at,
            channel_refund_no: Some(trade_no.to_owned()),
            fail_reason: None,
            order: order_update,
            notification: None,
        })
    }

    /// Refunds go back through the channel the money came in by.
    async fn refund_channel(&self, refund: &Refund) -> Result<String> {
        let attempt = self
            .store()
            .attempt(&refund.order_id, refund.attempt_seq)
            .await?
            .ok_or(Error::OrderNotFound)?;
        Ok(attempt.channel)
    }

    pub(crate) async fn refund_by_id(&self, id: &PlatformId) -> Result<Refund> {
        self.store()
            .refund_by_id(id)
            .await?
            .ok_or(Error::RefundNotFound)
    }

    /// Asks channels about refunds that are due a check, one after another; returns how
    /// many it asked. One round, for tests and tools: the poller claims with
    /// [`Gateway::claim_refund_checks`] and checks each refund on its own.
    pub(crate) async fn check_pending_refunds(&self, limit: i64) -> Result<usize> {
        let refunds = self.claim_refund_checks(limit).await?;
        let count = refunds.len();
        for refund in refunds {
            if let Err(e) = self.check_refund(&refund).await {
                tracing::warn!(refund = %refund.id, error = %e, "could not check refund");
            }
        }
        Ok(count)
    }

    /// Takes up to `limit` refunds that are due a check, leased to this caller as
    /// [`Gateway::claim_attempt_checks`] leases attempts.
    pub(crate) async fn claim_refund_checks(&self, limit: i64) -> Result<Vec<Refund>> {
        let now = self.now();
        Ok(self
            .store()
            .claim_refund_checks(now, self.lease_until(now), limit)
            .await?)
    }

    /// Asks the channel about one claimed refund and applies its answer. A refund the
    /// channel never received (the process stopped before sending it) is sent again; the
    /// refund id makes that idempotent at the channel.
    pub(crate) async fn check_refund(&self, refund: &Refund) -> Result<Refund> {
        let now = self.now();
        let order = self.order_by_id(&refund.order_id).await?;
        let channel = self.channel(&self.refund_channel(refund).await?)?.clone();
        let outcome = match channel.query_refund(&order, refund, now).await {
            // Never received (sent just before a crash), or refused: send it (again).
            ChannelOutcome::Failed { .. } => channel.refund(&order, refund, now).await,
            other => other,
        };
        self.apply_refund_outcome(&refund.id, outcome, Reported::Already)
            .await
    }
}
