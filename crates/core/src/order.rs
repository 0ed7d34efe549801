//! A pay order is the merchant's intent (amount, order number, expiry); an attempt is one
//! try through a channel. At most one attempt of an order succeeds; a success that arrives
//! when it can no longer be accepted (closed, failed, or already paid by another attempt)
//! is a late payment and is refunded in full, automatically.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::dialect::DialectTag;
use crate::ids::{MerchantId, MerchantOrderNo, PlatformId};
use crate::money::Fen;
use crate::payway::{Funding, PayWay};
use crate::time::Millis;
use crate::url::{NotifyUrl, ReturnUrl};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Exists, no payment attempt yet (a bill waiting for a payer to scan it).
    Created,
    /// An attempt is under way: the payer has a code or page, or the channel is deciding.
    Paying,
    Succeeded,
    /// The attempt failed and no further attempt is possible.
    Failed,
    /// Closed by the merchant or by expiry before it was paid.
    Closed,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Created,
        OrderStatus::Paying,
        OrderStatus::Succeeded,
        OrderStatus::Failed,
        OrderStatus::Closed,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paying => "paying",
            OrderStatus::Succeeded => "succeeded",
            OrderStatus::Failed => "failed",
            OrderStatus::Closed => "closed",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// Paid, whatever has been refunded since.
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded
        )
    }

    /// Still waiting for money.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Created | OrderStatus::Paying)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<OrderStatus, String> {
        OrderStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown order status {s:?}"))
    }
}

/// The states from which a merchant's refund may be requested.
pub const REFUNDABLE_STATUSES: [OrderStatus; 2] =
    [OrderStatus::Succeeded, OrderStatus::PartiallyRefunded];

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// The payer starts a (further) try at a bill.
    AttemptStarted,
    AttemptSucceeded,
    AttemptFailed,
    /// A try at a bill failed; the payer may try again (`Tries::Again…`).
    AttemptFailedMayRetry,
    /// The merchant closed it, or it expired.
    Close,
    /// A refund of this order completed; `refunded_total` includes it.
    RefundSucceeded {
        refunded_total: Fen,
    },
}

/// The state machine's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    To(OrderStatus),
    /// Nothing to change (a repeated close, a failure after the order moved on).
    Unchanged,
    /// Money arrived that the order cannot accept: keep the status, refund the attempt.
    LatePayment,
    /// The event is not allowed in this state.
    Refused,
}

/// The order state machine. Pure: the store applies the result guarded by `status`.
pub fn next_status(status: OrderStatus, amount: Fen, event: OrderEvent) -> Transition {
    use OrderStatus::*;
    match (status, event) {
        (Created | Paying, OrderEvent::AttemptStarted) => Transition::To(Paying),
        (_, OrderEvent::AttemptStarted) => Transition::Refused,
        (_, OrderEvent::AttemptFailedMayRetry) => Transition::Unchanged,
        (Created | Paying, OrderEvent::AttemptSucceeded) => Transition::To(Succeeded),
        (
            Succeeded | PartiallyRefunded | Refunded | Failed | Closed,
            OrderEvent::AttemptSucceeded,
        ) => Transition::LatePayment,
        (Created | Paying, OrderEvent::AttemptFailed) => Transition::To(Failed),
        (_, OrderEvent::AttemptFailed) => Transition::Unchanged,
        (Created | Paying | Failed, OrderEvent::Close) => Transition::To(Closed),
        (Closed, OrderEvent::Close) => Transition::Unchanged,
        (Succeeded | PartiallyRefunded | Refunded, OrderEvent::Close) => Transition::Refused,
        (Succeeded | PartiallyRefunded, OrderEvent::RefundSucceeded { refunded_total }) => {
            if refunded_total > amount {
                Transition::Refused
            } else if refunded_total == amount {
                Transition::To(Refunded)
            } else {
                Transition::To(PartiallyRefunded)
            }
        }
        // The refund of a late payment completes; the order stays closed or failed.
        (Closed | Failed, OrderEvent::RefundSucceeded { .. }) => Transition::Unchanged,
        (Created | Paying | Refunded, OrderEvent::RefundSucceeded { .. }) => Transition::Refused,
    }
}

/// How often the payer may try to pay an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tries {
    /// One attempt, started with the order; if it fails, the order fails (xxpay, upp).
    Once,
    /// A bill: the payer starts attempts (choosing a wallet), and may try again after one
    /// failed; several may be paying at once (different wallets scanning), at most one
    /// succeeds and any other success is a late payment, refunded.
    Again,
    /// As `Again`, but only one attempt may be paying at a time: the first scanner wins
    /// (chinaums `walletOption=SINGLE`).
    AgainOneAtATime,
}

impl Tries {
    pub const ALL: [Tries; 3] = [Tries::Once, Tries::Again, Tries::AgainOneAtATime];

    pub fn as_str(self) -> &'static str {
        match self {
            Tries::Once => "once",
            Tries::Again => "again",
            Tries::AgainOneAtATime => "again_one_at_a_time",
        }
    }

    /// What a failed attempt means for the order.
    pub fn failure_event(self) -> OrderEvent {
        match self {
            Tries::Once => OrderEvent::AttemptFailed,
            Tries::Again | Tries::AgainOneAtATime => OrderEvent::AttemptFailedMayRetry,
        }
    }
}

impl FromStr for Tries {
    type Err = String;
    fn from_str(s: &str) -> Result<Tries, String> {
        Tries::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown tries {s:?}"))
    }
}

/// An escrowed payment (担保交易): paid, but held until the merchant completes it (the
/// money is the merchant's, up to the amount completed; the rest goes back to the payer) or
/// cancels it (all goes back). Until then nothing can be refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscrowStatus {
    Uncompleted,
    PartlyCompleted,
    AllCompleted,
    Canceled,
}

impl EscrowStatus {
    pub const ALL: [EscrowStatus; 4] = [
        EscrowStatus::Uncompleted,
        EscrowStatus::PartlyCompleted,
        EscrowStatus::AllCompleted,
        EscrowStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscrowStatus::Uncompleted => "uncompleted",
            EscrowStatus::PartlyCompleted => "partly_completed",
            EscrowStatus::AllCompleted => "all_completed",
            EscrowStatus::Canceled => "canceled",
        }
    }

    /// Whether the merchant may refund from the order: only once the escrow is completed.
    pub fn allows_refunds(self) -> bool {
        matches!(
            self,
            EscrowStatus::PartlyCompleted | EscrowStatus::AllCompleted
        )
    }
}

impl FromStr for EscrowStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<EscrowStatus, String> {
        EscrowStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown escrow status {s:?}"))
    }
}

/// A bill split between the merchant that sells (the platform) and its sub-merchants
/// (chinaums 分账): each share is that party's to keep or refund, and no refund takes more
/// from a party than its share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits {
    pub platform: Fen,
    pub shares: Vec<Share>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The sub-merchant's number (chinaums mid).
    pub party: String,
    pub amount: Fen,
}

impl Splits {
    /// The shares add up to the amount paid.
    pub fn total(&self) -> Option<Fen> {
        self.shares
            .iter()
            .try_fold(self.platform, |sum, s| sum.checked_add(s.amount))
    }

    pub fn share(&self, party: &str) -> Option<Fen> {
        self.shares
            .iter()
            .find(|s| s.party == party)
            .map(|s| s.amount)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escrow {
    pub status: EscrowStatus,
    /// What the merchant completed (kept); zero until then.
    pub completed: Fen,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: PlatformId,
    pub merchant_id: MerchantId,
    pub merchant_order_no: MerchantOrderNo,
    pub dialect: DialectTag,
    pub pay_way: PayWay,
    pub channel: String,
    pub amount: Fen,
    /// ISO 4217, lower case as xxpay sends it (`cny`).
    pub currency: String,
    pub subject: String,
    pub body: String,
    pub status: OrderStatus,
    pub notify_url: Option<NotifyUrl>,
    pub return_url: Option<ReturnUrl>,
    pub client_ip: Option<String>,
    /// The dialect's own fields that it echoes back (xxpay param1, upp bizData, …).
    pub extra: Map<String, Value>,
    pub channel_trade_no: Option<String>,
    pub channel_user: Option<String>,
    /// Refunds requested and not failed: what can no longer be refunded.
    pub refund_reserved: Fen,
    /// Refunds completed.
    pub refunded: Fen,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub paid_at: Option<Millis>,
    pub closed_at: Option<Millis>,
    /// When the merchant acknowledged the payment notification (xxpay status 3).
    pub merchant_acked_at: Option<Millis>,
    pub fail_code: Option<String>,
    pub fail_msg: Option<String>,
    pub tries: Tries,
    /// The payment code that made this bill, or that it is bound to.
    pub code_id: Option<PlatformId>,
    /// A second address told of the payment besides `notify_url` (chinaums notifies the
    /// bill's notifyUrl and the merchant's configured one).
    pub also_notify: Option<NotifyUrl>,
    /// Set for an escrowed payment.
    pub escrow: Option<Escrow>,
    /// Set for a split bill.
    pub splits: Option<Splits>,
}

impl Order {
    /// What a new refund may still take.
    pub fn refundable(&self) -> Fen {
        if !REFUNDABLE_STATUSES.contains(&self.status) {
            return Fen::ZERO;
        }
        if self.escrow.is_some_and(|e| !e.status.allows_refunds()) {
            return Fen::ZERO;
        }
        self.amount
            .checked_sub(self.refund_reserved)
            .unwrap_or(Fen::ZERO)
    }

    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Closed before payment, then paid anyway (the payment is being or was refunded).
    pub fn is_late_paid(&self) -> bool {
        matches!(self.status, OrderStatus::Closed | OrderStatus::Failed) && self.paid_at.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptStatus {
    Paying,
    Succeeded,
    Failed,
    /// Given up on our side (order closed or expired); the channel may still report success.
    Closed,
    /// The channel reported a payment of another amount than the order's: not paid, not
    /// refunded by rule, left for an operator (`fail_code` says why).
    Held,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 5] = [
        AttemptStatus::Paying,
        AttemptStatus::Succeeded,
        AttemptStatus::Failed,
        AttemptStatus::Closed,
        AttemptStatus::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Paying => "paying",
            AttemptStatus::Succeeded => "succeeded",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Closed => "closed",
            AttemptStatus::Held => "held",
        }
    }
}

impl FromStr for AttemptStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<AttemptStatus, String> {
        AttemptStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown attempt status {s:?}"))
    }
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub order_id: PlatformId,
    /// 1 for the first attempt of an order.
    pub seq: i32,
    pub channel: String,
    pub pay_way: PayWay,
    pub status: AttemptStatus,
    /// The payer's code for barcode payments.
    pub auth_code: Option<String>,
    pub channel_trade_no: Option<String>,
    pub channel_user: Option<String>,
    /// Where the money of a paid attempt came from, where the channel said.
    pub funding: Option<Funding>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
    /// When to ask the channel again about a pending attempt; `None` when it will tell us.
    pub next_check_at: Option<Millis>,
    pub fail_code: Option<String>,
    pub fail_msg: Option<String>,
    /// The payer's note to the merchant with this try (chinaums 付款附言), as typed on the
    /// code's page.
    pub memo: Option<String>,
}

impl Attempt {
    /// A new order's first try: at the order's channel and pay way, paying since the
    /// order was created.
    pub fn first(
        order: &Order,
        auth_code: Option<String>,
        next_check_at: Option<Millis>,
    ) -> Attempt {
        Attempt {
            order_id: order.id.clone(),
            seq: 1,
            channel: order.channel.clone(),
            pay_way: order.pay_way,
            status: AttemptStatus::Paying,
            auth_code,
            channel_trade_no: None,
            channel_user: None,
            funding: None,
            created_at: order.created_at,
            finished_at: None,
            next_check_at,
            fail_code: None,
            fail_msg: None,
            memo: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    const EVENTS: [OrderEvent; 7] = [
        OrderEvent::AttemptStarted,
        OrderEvent::AttemptSucceeded,
        OrderEvent::AttemptFailed,
        OrderEvent::AttemptFailedMayRetry,
        OrderEvent::Close,
        OrderEvent::RefundSucceeded {
            refunded_total: Fen::test(40),
        },
        OrderEvent::RefundSucceeded {
            refunded_total: Fen::test(100),
        },
    ];

    fn expected(status: OrderStatus, event: OrderEvent) -> Transition {
        use Transition::*;
        let refund_partial = OrderEvent::RefundSucceeded {
            refunded_total: Fen::test(40),
        };
        match (status, event) {
            (Created | Paying, OrderEvent::AttemptStarted) => To(Paying),
            (_, OrderEvent::AttemptStarted) => Refused,
            (_, OrderEvent::AttemptFailedMayRetry) => Unchanged,
            (Created | Paying, OrderEvent::AttemptSucceeded) => To(Succeeded),
            (_, OrderEvent::AttemptSucceeded) => LatePayment,
            (Created | Paying, OrderEvent::AttemptFailed) => To(Failed),
            (_, OrderEvent::AttemptFailed) => Unchanged,
            (Created | Paying | Failed, OrderEvent::Close) => To(Closed),
            (Closed, OrderEvent::Close) => Unchanged,
            (_, OrderEvent::Close) => Refused,
            (Succeeded | PartiallyRefunded, e) if e == refund_partial => To(PartiallyRefunded),
            (Succeeded | PartiallyRefunded, _) => To(Refunded),
            (Closed | Failed, _) => Unchanged,
            (Created | Paying | Refunded, _) => Refused,
        }
    }

    #[test]
    fn every_state_and_event_pair_has_the_intended_transition() {
        for status in OrderStatus::ALL {
            for event in EVENTS {
                assert_eq!(
                    next_status(status, Fen::test(100), event),
                    expected(status, event),
                    "{status} on {event:?}"
                );
            }
        }
    }

    #[test]
    fn refunding_more_than_the_amount_is_refused() {
        let over = OrderEvent::RefundSucceeded {
            refunded_total: Fen::test(101),
        };
        assert_eq!(
            next_status(Succeeded, Fen::test(100), over),
            Transition::Refused
        );
    }

    #[test]
    fn statuses_survive_their_stored_form() {
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>(), Ok(s));
        }
        for s in AttemptStatus::ALL {
            assert_eq!(s.as_str().parse::<AttemptStatus>(), Ok(s));
        }
        for t in Tries::ALL {
            assert_eq!(t.as_str().parse::<Tries>(), Ok(t));
        }
        for e in EscrowStatus::ALL {
            assert_eq!(e.as_str().parse::<EscrowStatus>(), Ok(e));
        }
    }
}
