//! The store interface. Each method is one transaction; every change names the state it
//! starts from and reports whether it won (`false`: someone else decided first — re-read
//! and answer from what is stored). Uniqueness of business keys is the database's job.

use async_trait::async_trait;

use crate::card::CardStore;
use crate::code::PaymentCode;
use crate::ids::{MerchantId, MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo};
use crate::listing::OrderListing;
use crate::money::Fen;
use crate::notification::{DeliveryRecord, Notification};
use crate::order::{Attempt, AttemptStatus, EscrowStatus, Order, OrderStatus};
use crate::payway::Funding;
use crate::refund::{Refund, RefundStatus};
use crate::time::Millis;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the merchant order number is already taken")]
    DuplicateOrderNo,
    #[error("the merchant's code reference is already taken")]
    DuplicateCodeRef,
    #[error("the refund number is already taken")]
    DuplicateRefundNo,
    #[error("the refund request number is already taken")]
    DuplicateRequestNo,
    #[error("the order cannot be refunded that much")]
    NotRefundable,
    /// A row the database refused (a check or key it breaks, a value it cannot store):
    /// about that row, not about the database, so the rows beside it can still be written.
    #[error("the database refused the row: {0}")]
    Constraint(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    /// The store's queue or connections are all taken: answered at once instead of
    /// waiting without bound. Nothing was written; the caller may retry.
    #[error("the store is overloaded; retry")]
    Busy,
    /// Another process holds the database (SQLite: one gateway per file).
    #[error(
        "{path} is in use by another paymux (it holds the lock {path}.lock): stop that one first, \
         or give this one a database of its own; several instances share a database only on PostgreSQL"
    )]
    InUse { path: String },
}

/// A node number (0..10000, carried in every generated id) leased to one running instance
/// until a time; the instance renews it while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLease {
    /// The instance's registration: unique for ever, never reused.
    pub instance: i64,
    pub node: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum OrderKey<'a> {
    Platform(&'a PlatformId),
    Merchant(&'a MerchantOrderNo),
}

#[derive(Debug, Clone, Copy)]
pub enum CodeKey<'a> {
    Platform(&'a PlatformId),
    /// The merchant's own reference (chinaums qrCodeId).
    Ref(&'a str),
}

/// A code's terms change; a one-time code may get a new bill, its old one closed if unpaid.
#[derive(Debug, Clone)]
pub struct CodeChange {
    /// The code as it will be.
    pub code: PaymentCode,
    /// Guards the change: the code's `updated_at` as it was read.
    pub read_at: Millis,
    pub new_bill: Option<Order>,
    pub close_old_bill: Option<OrderClosing>,
}

/// A payer starts a try at a bill: the attempt is inserted and the order moves to paying,
/// unless (one at a time) another attempt of the order is paying.
#[derive(Debug, Clone)]
pub struct AttemptStart {
    pub attempt: Attempt,
    pub order_from: OrderStatus,
    pub one_at_a_time: bool,
    pub at: Millis,
}

/// An escrowed payment is completed or canceled; what goes back to the payer is a refund,
/// reserved on the order in the same transaction.
#[derive(Debug, Clone)]
pub struct EscrowSettlement {
    pub order_id: PlatformId,
    pub from: EscrowStatus,
    pub to: EscrowStatus,
    pub completed: Fen,
    pub at: Millis,
    pub returned: Option<Refund>,
}

#[derive(Debug, Clone, Copy)]
pub enum RefundKey<'a> {
    Platform(&'a PlatformId),
    RefundNo(&'a RefundNo),
    RequestNo(&'a RefundRequestNo),
}

/// An attempt reached an outcome; the order moves with it in the same transaction.
#[derive(Debug, Clone)]
pub struct AttemptSettlement {
    pub order_id: PlatformId,
    pub seq: i32,
    pub attempt_from: AttemptStatus,
    pub attempt_to: AttemptStatus,
    pub order_from: OrderStatus,
    /// Equal to `order_from` when the order does not move (a late payment).
    pub order_to: OrderStatus,
    pub at: Millis,
    pub channel_trade_no: Option<String>,
    pub channel_user: Option<String>,
    /// Where a payment's money came from (kept on the attempt).
    pub funding: Option<Funding>,
    /// Set on the order for a success, late or not.
    pub paid_at: Option<Millis>,
    pub fail: Option<(String, String)>,
    /// The payment's notifications: one per address the order has.
    pub notifications: Vec<Notification>,
    /// The automatic refund of a payment the order could not accept.
    pub late_refund: Option<Refund>,
}

impl AttemptSettlement {
    /// The attempt moves to `attempt_to` and the order to `order_to`, from where they
    /// stand, with nothing else recorded; callers add what their outcome carries.
    pub fn new(
        order: &Order,
        attempt: &Attempt,
        attempt_to: AttemptStatus,
        order_to: OrderStatus,
        at: Millis,
    ) -> AttemptSettlement {
        AttemptSettlement {
            order_id: order.id.clone(),
            seq: attempt.seq,
            attempt_from: attempt.status,
            attempt_to,
            order_from: order.status,
            order_to,
            at,
            channel_trade_no: None,
            channel_user: None,
            funding: None,
            paid_at: None,
            fail: None,
            notifications: Vec::new(),
            late_refund: None,
        }
    }
}

/// The order closes (merchant or expiry); its pending attempts close with it.
#[derive(Debug, Clone)]
pub struct OrderClosing {
    pub order_id: PlatformId,
    pub from: OrderStatus,
    pub at: Millis,
    pub reason: String,
    /// The channel did not confirm that it closed the payment: the paying attempt stays
    /// paying, to be asked about again at this time, instead of being closed with the
    /// order. If the payer paid after all, that check finds it and refunds it.
    pub recheck_attempt_at: Option<Millis>,
}

/// A refund reached its outcome.
#[derive(Debug, Clone)]
pub struct RefundSettlement {
    pub refund_id: PlatformId,
    pub to: RefundStatus,
    pub at: Millis,
    pub channel_refund_no: Option<String>,
    pub fail_reason: Option<String>,
    /// For a merchant's refund: the order's move and its new refunded total (on success),
    /// or the reservation to release (on failure). `None` for automatic refunds.
    pub order: Option<RefundOrderUpdate>,
    pub notification: Option<Notification>,
}

#[derive(Debug, Clone)]
pub enum RefundOrderUpdate {
    Completed {
        order_id: PlatformId,
        from: OrderStatus,
        to: OrderStatus,
        amount: Fen,
        /// The order's refunded total the decision was made on (guards the update).
        refunded_before: Fen,
    },
    Released {
        order_id: PlatformId,
        amount: Fen,
    },
}

#[async_trait]
pub trait Store: CardStore + OrderListing + Send + Sync {
    /// Registers a starting gateway instance and leases it, until `until`, the lowest node
    /// number that no live instance holds (free, or its lease ended before `now`). Atomic:
    /// instances starting together get different numbers.
    async fn register_node(&self, now: Millis, until: Millis) -> Result<NodeLease, StoreError>;
    /// Extends the instance's lease to `until`. If the lease was lost (it ran out and another
    /// instance took the number), leases a new number as `register_node` does. Returns the
    /// lease now held: a different `node` means ids must carry the new one from now on.
    async fn renew_node_lease(
        &self,
        lease: NodeLease,
        now: Millis,
        until: Millis,
    ) -> Result<NodeLease, StoreError>;
    /// The secret stored under `name`, storing `candidate` first if there is none. Atomic:
    /// instances starting together end up with the same value.
    async fn gateway_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError>;

    /// Inserts a new order with its first attempt. `DuplicateOrderNo` if the merchant
    /// already used the number.
    async fn insert_order(
        &self,
        order: &Order,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError>;
    async fn order(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
    ) -> Result<Option<Order>, StoreError>;
    async fn order_by_id(&self, id: &PlatformId) -> Result<Option<Order>, StoreError>;
    async fn latest_attempt(&self, order_id: &PlatformId) -> Result<Option<Attempt>, StoreError>;
    async fn attempt(&self, order_id: &PlatformId, seq: i32)
    -> Result<Option<Attempt>, StoreError>;
    async fn attempts_of_order(&self, order_id: &PlatformId) -> Result<Vec<Attempt>, StoreError>;
    async fn settle_attempt(&self, settlement: &AttemptSettlement) -> Result<bool, StoreError>;
    async fn close_order(&self, closing: &OrderClosing) -> Result<bool, StoreError>;
    /// Open orders whose expiry has passed, oldest first.
    async fn expired_orders(&self, now: Millis, limit: i64) -> Result<Vec<PlatformId>, StoreError>;
    /// Takes up to `limit` pending attempts due for a channel query, moving their next check
    /// to `lease_until` so that no other instance takes them meanwhile.
    async fn claim_attempt_checks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Attempt>, StoreError>;
    async fn schedule_attempt_check(
        &self,
        order_id: &PlatformId,
        seq: i32,
        at: Millis,
    ) -> Result<(), StoreError>;

    /// Records a merchant's refund and reserves its amount on the order, atomically:
    /// `NotRefundable` if the order is not paid or the amount exceeds what is left;
    /// `DuplicateRefundNo` / `DuplicateRequestNo` if a key is taken (nothing is reserved).
    async fn insert_refund(&self, refund: &Refund) -> Result<(), StoreError>;
    /// As `insert_refund`, for a split order: also `NotRefundable` if the refund takes more
    /// than is left of the platform's share or of its sub-merchant's.
    async fn insert_split_refund(
        &self,
        refund: &Refund,
        platform_share: Fen,
        party_share: Fen,
    ) -> Result<(), StoreError>;
    async fn refund(
        &self,
        merchant: &MerchantId,
        key: RefundKey<'_>,
    ) -> Result<Option<Refund>, StoreError>;
    async fn refund_by_id(&self, id: &PlatformId) -> Result<Option<Refund>, StoreError>;
    async fn refunds_of_order(&self, order_id: &PlatformId) -> Result<Vec<Refund>, StoreError>;
    async fn settle_refund(&self, settlement: &RefundSettlement) -> Result<bool, StoreError>;
    async fn claim_refund_checks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Refund>, StoreError>;
    async fn schedule_refund_check(
        &self,
        refund_id: &PlatformId,
        at: Millis,
    ) -> Result<(), StoreError>;

    /// Queues a notification. At most one is pending per subject and event: if one is, it
    /// is rescheduled to `notification.next_attempt_at` instead of a second being added.
    /// Inserts a payment code, with a one-time code's bill in the same transaction:
    /// `DuplicateCodeRef` or `DuplicateOrderNo` if a key is taken (nothing is written).
    async fn insert_code(&self, code: &PaymentCode, bill: Option<&Order>)
    -> Result<(), StoreError>;
    async fn code(
        &self,
        merchant: &MerchantId,
        key: CodeKey<'_>,
    ) -> Result<Option<PaymentCode>, StoreError>;
    async fn code_by_id(&self, id: &PlatformId) -> Result<Option<PaymentCode>, StoreError>;
    /// Applies a code's change if the code is as it was read; `DuplicateOrderNo` if the new
    /// bill's number is taken.
    async fn change_code(&self, change: &CodeChange) -> Result<bool, StoreError>;
    /// Starts a payer's try at a bill; `false` if the order moved or (one at a time) another
    /// try is paying.
    async fn start_attempt(&self, start: &AttemptStart) -> Result<bool, StoreError>;
    async fn settle_escrow(&self, settlement: &EscrowSettlement) -> Result<bool, StoreError>;
    /// Remembers a request's nonce until `until`: `false` if it was seen already (a
    /// replay). Nonces past their time are forgotten as new ones come.
    async fn remember_nonce(
        &self,
        merchant: &MerchantId,
        nonce: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool, StoreError>;

    async fn enqueue_notification(&self, notification: &Notification) -> Result<(), StoreError>;
    /// Takes up to `limit` due notifications, counting the attempt about to be made and
    /// moving their next attempt to `lease_until` (a crashed sender's row comes back then).
    async fn claim_notifications(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError>;
    /// Hands a claimed notification back unsent, due again at `at`: the claim's attempt is
    /// not counted. Ignored (`false`) if the row has moved on since its claim.
    async fn release_notification(
        &self,
        claimed: &Notification,
        at: Millis,
    ) -> Result<bool, StoreError>;
    /// Records the outcome of the attempt `claimed.attempts`; ignored if the row has moved
    /// on since (another instance took it after this one's lease ran out). On delivery of
    /// a payment notification, `acked_order` is marked acknowledged in the same transaction.
    async fn record_delivery(
        &self,
        claimed: &Notification,
        record: &DeliveryRecord,
        acked_order: Option<&PlatformId>,
    ) -> Result<bool, StoreError>;
    async fn notifications_about(
        &self,
        subject_id: &PlatformId,
    ) -> Result<Vec<Notification>, StoreError>;
    /// Notifications still to be delivered.
    async fn outbox_depth(&self) -> Result<i64, StoreError>;
}
