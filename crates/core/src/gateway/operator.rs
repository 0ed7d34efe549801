//! The gateway's own handle (see the module doc of `gateway`): what its workers and its payer
//! side do, beyond any merchant's reach.

use std::sync::Arc;

use super::{BillFromCode, CreatedOrder, Gateway, GatewaySettings};
use crate::channel::{ChannelOutcome, Channels};
use crate::clock::Clock;
use crate::code::PaymentCode;
use crate::error::Result;
use crate::ids::PlatformId;
use crate::merchant::Merchant;
use crate::order::{Attempt, Order};
use crate::payway::PayWay;
use crate::refund::Refund;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct Operator {
    gateway: Gateway,
}

impl Operator {
    /// Registers this instance with the store (for its id prefix) and builds the handles.
    pub async fn start(
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Arc<dyn Clock>,
        merchants: Vec<Merchant>,
        settings: GatewaySettings,
    ) -> Result<Operator, StoreError> {
        let gateway = Gateway::start(store, channels, clock, merchants, settings).await?;
        Ok(Operator { gateway })
    }

    /// The merchant-facing handle, for the dialects.
    pub fn gateway(&self) -> Gateway {
        self.gateway.clone()
    }

    /// Any merchant's order by its platform id: for the payer side once it has checked the
    /// order's link, and for tests and operators.
    pub async fn order_by_id(&self, id: &PlatformId) -> Result<Order> {
        self.gateway.order_by_id(id).await
    }

    pub async fn latest_attempt(&self, order_id: &PlatformId) -> Result<Option<Attempt>> {
        self.gateway.latest_attempt(order_id).await
    }

    /// Closes the order now if it is unpaid and past its expiry.
    pub async fn expire_if_due(&self, order: Order) -> Result<Order> {
        self.gateway.expire_if_due(order).await
    }

    /// Applies what a channel said about an attempt (the sandbox's payer, a channel's callback).
    pub async fn apply_attempt_outcome(
        &self,
        order_id: &PlatformId,
        seq: i32,
        outcome: ChannelOutcome,
    ) -> Result<Order> {
        self.gateway
            .apply_attempt_outcome(order_id, seq, outcome)
            .await
    }

    /// Closes orders whose expiry has passed; returns how many it closed.
    pub async fn expire_due_orders(&self, limit: i64) -> Result<usize> {
        self.gateway.expire_due_orders(limit).await
    }

    /// Asks channels about pending attempts that are due a check; returns how many it asked.
    pub async fn check_pending_attempts(&self, limit: i64) -> Result<usize> {
        self.gateway.check_pending_attempts(limit).await
    }

    /// Takes up to `limit` pending attempts due a channel check, leased to this instance.
    pub async fn claim_attempt_checks(&self, limit: i64) -> Result<Vec<Attempt>> {
        self.gateway.claim_attempt_checks(limit).await
    }

    /// Asks the attempt's channel about it and applies the answer.
    pub async fn check_attempt(&self, attempt: &Attempt) -> Result<()> {
        self.gateway.check_attempt(attempt).await
    }

    /// Takes up to `limit` refunds due a channel check, leased to this instance.
    pub async fn claim_refund_checks(&self, limit: i64) -> Result<Vec<Refund>> {
        self.gateway.claim_refund_checks(limit).await
    }

    /// Asks the refund's channel about it (sending it again if the channel never got it).
    pub async fn check_refund(&self, refund: &Refund) -> Result<Refund> {
        self.gateway.check_refund(refund).await
    }

    /// Asks channels about refunds that are due a check; returns how many it asked.
    pub async fn check_pending_refunds(&self, limit: i64) -> Result<usize> {
        self.gateway.check_pending_refunds(limit).await
    }

    pub fn merchant(&self, id: &crate::ids::MerchantId) -> Option<&Merchant> {
        self.gateway.merchant(id)
    }

    /// The node number this instance's ids carry.
    pub fn node(&self) -> u32 {
        self.gateway.node()
    }

    /// Renews this instance's node lease, taking a new number if it was lost.
    pub async fn renew_node_lease(&self) -> Result<u32, StoreError> {
        self.gateway.renew_node_lease().await
    }

    /// Keeps the node lease until `shutdown` turns true: spawn it next to the workers.
    pub async fn keep_node_lease(self, shutdown: tokio::sync::watch::Receiver<bool>) {
        self.gateway.keep_node_lease(shutdown).await
    }

    /// Any merchant's payment code by its platform id: for the payer's page of the code,
    /// once it has checked the page's link.
    pub async fn code_by_id(&self, id: &PlatformId) -> Result<PaymentCode> {
        self.gateway
            .store()
            .code_by_id(id)
            .await?
            .ok_or(crate::Error::CodeNotFound)
    }

    /// The bill a fixed code makes for a payer who opened it.
    pub async fn bill_from_code(&self, code_id: &PlatformId, from: BillFromCode) -> Result<Order> {
        self.gateway.bill_from_code(code_id, from).await
    }

    /// A payer starts a try at a bill with a wallet (and, for a payer code, the code).
    pub async fn start_attempt(
        &self,
        order_id: &PlatformId,
        pay_way: PayWay,
        auth_code: Option<String>,
    ) -> Result<CreatedOrder> {
        self.gateway
            .start_attempt(order_id, pay_way, auth_code, None)
            .await
    }

    /// A payer starts a try at a bill from its code's page, with the note they add for the
    /// merchant (chinaums 付款附言), which the try keeps.
    pub async fn start_noted_attempt(
        &self,
        order_id: &PlatformId,
        pay_way: PayWay,
        memo: Option<String>,
    ) -> Result<CreatedOrder> {
        self.gateway
            .start_attempt(order_id, pay_way, None, memo)
            .await
    }

    /// The tries of an order, oldest first.
    pub async fn attempts_of_order(&self, order_id: &PlatformId) -> Result<Vec<Attempt>> {
        Ok(self.gateway.store().attempts_of_order(order_id).await?)
    }

    /// A fresh platform id (`P` orders, `R` refunds, `N` notifications).
    pub fn new_id(&self, prefix: char) -> PlatformId {
        self.gateway.new_id(prefix)
    }

    pub fn now(&self) -> crate::time::Millis {
        self.gateway.now()
    }

    pub fn settings(&self) -> &GatewaySettings {
        self.gateway.settings()
    }
}
