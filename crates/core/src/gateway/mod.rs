//! The commands. Each is a plain async method that reads, asks the state machine, and
//! applies the result through one guarded store transaction.
//!
//! Two handles on the same state keep merchants apart by construction:
//! - [`Gateway`] is what dialects get: every command that acts on an order or a refund names
//!   the merchant it acts for and looks the record up within that merchant's records, so a
//!   dialect that passes the wrong merchant finds nothing. It has no access to the store.
//! - [`Operator`] is what the server keeps for itself: the workers (expiry, channel checks),
//!   the payer side of the sandbox (which reaches an order through its unguessable link), and
//!   reads by platform id. It is never handed to a dialect.

mod bills;
mod listing;
mod operator;
mod payments;
mod quick;
mod refunds;
mod reverse;

use std::collections::HashMap;
use std::sync::Arc;

pub use bills::{BillFromCode, NewBill, NewCode};
pub use operator::Operator;
pub use payments::{AMOUNT_MISMATCH, CreatedOrder, FirstAnswer, NewOrder};
pub use quick::CardOrder;
pub use refunds::NewRefund;
pub use reverse::Reversal;

use crate::channel::{Channel, Channels};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{IdGenerator, MerchantId, PlatformId};
use crate::merchant::Merchant;
use crate::store::{NodeLease, Store, StoreError};
use crate::time::Millis;

/// How many times a command re-reads and retries after losing a race.
const MAX_RACE_RETRIES: usize = 8;

/// Work recorded but never answered by its channel (the process stopped in between: a
/// payer-code payment, a refund) is picked up by the poller this long after it was recorded.
const RECOVERY_DELAY_S: i64 = 10;

/// How long an instance holds its node number without renewing it. Another instance may
/// take the number only after this; [`Gateway::keep_node_lease`] renews it every quarter of
/// it, so three renewals in a row can fail (a database restart) before the number is lost.
/// Lease times are the instances' own clocks: instances sharing a database must agree on
/// the time to well within this (NTP does).
pub const NODE_LEASE_S: i64 = 60;
const NODE_RENEW_EVERY: std::time::Duration =
    std::time::Duration::from_secs(NODE_LEASE_S as u64 / 4);

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Orders without an expiry of their own close after this long.
    pub default_order_ttl_s: i64,
    pub allow_private_callbacks: bool,
    /// How long a worker may hold a claimed row before another instance may take it.
    pub lease_s: i64,
    /// Dialects whose merchants are notified when a payment fails for good, besides when
    /// it is paid (hrss §5.2); the others hear only of payments.
    pub notify_failures: Vec<crate::dialect::DialectTag>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            default_order_ttl_s: 2 * 3600,
            allow_private_callbacks: false,
            lease_s: 60,
            notify_failures: Vec::new(),
        }
    }
}

/// The merchant-facing commands (see the module doc).
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    channels: Channels,
    clock: Arc<dyn Clock>,
    ids: IdGenerator,
    /// This instance's registration with the store, which its node lease is held under.
    instance: i64,
    merchants: HashMap<MerchantId, Merchant>,
    settings: GatewaySettings,
}

impl Gateway {
    /// Registers this instance with the store, leasing the node number its ids carry, and
    /// builds the handle. The lease must then be kept: spawn [`Gateway::keep_node_lease`].
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Arc<dyn Clock>,
        merchants: Vec<Merchant>,
        settings: GatewaySettings,
    ) -> Result<Gateway, StoreError> {
        let now = clock.now();
        let lease = store
            .register_node(now, now.plus_secs(NODE_LEASE_S))
            .await?;
        tracing::info!(node = lease.node, "leased a node number");
        Ok(Gateway {
            inner: Arc::new(Inner {
                store,
                channels,
                clock,
                ids: IdGenerator::new(lease.node),
                instance: lease.instance,
                merchants: merchants.into_iter().map(|m| (m.id.clone(), m)).collect(),
                settings,
            }),
        })
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn now(&self) -> Millis {
        self.inner.clock.now()
    }

    pub fn settings(&self) -> &GatewaySettings {
        &self.inner.settings
    }

    pub fn merchant(&self, id: &MerchantId) -> Option<&Merchant> {
        self.inner.merchants.get(id)
    }

    pub(crate) fn new_id(&self, prefix: char) -> PlatformId {
        self.inner.ids.next(prefix, self.now())
    }

    /// The node number this instance's ids carry.
    pub(crate) fn node(&self) -> u32 {
        self.inner.ids.node()
    }

    /// Renews this instance's node lease; if it was lost (the process was paused or cut off
    /// from the database for longer than the lease, and another instance took the number),
    /// takes a new number, which ids carry from then on. Returns the number now held.
    pub(crate) async fn renew_node_lease(&self) -> Result<u32, StoreError> {
        let now = self.now();
        let held = NodeLease {
            instance: self.inner.instance,
            node: self.inner.ids.node(),
        };
        let lease = self
            .store()
            .renew_node_lease(held, now, now.plus_secs(NODE_LEASE_S))
            .await?;
        if lease.node != held.node {
            tracing::warn!(
                lost = held.node,
                node = lease.node,
                "this instance's node lease ran out and another instance took the number; ids carry a new one from now on"
            );
            self.inner.ids.set_node(lease.node);
        }
        Ok(lease.node)
    }

    /// Renews the node lease every quarter of [`NODE_LEASE_S`] until `shutdown` turns true
    /// (or its sender is gone). A failed renewal is logged and tried again at the next tick.
    pub(crate) async fn keep_node_lease(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow_and_update() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(NODE_RENEW_EVERY) => {
                    if let Err(e) = self.renew_node_lease().await {
                        tracing::warn!(error = %e, "could not renew the node lease; trying again");
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Where new payments go.
    fn default_channel(&self) -> Result<Arc<dyn Channel>> {
        self.inner
            .channels
            .default_channel()
            .cloned()
            .ok_or_else(|| Error::ChannelRefused {
                code: "NO_CHANNEL".into(),
                msg: "no payment channel is configured".into(),
            })
    }

    fn channel(&self, name: &str) -> Result<&Arc<dyn Channel>> {
        self.inner
            .channels
            .get(name)
            .ok_or_else(|| Error::ChannelRefused {
                code: "NO_CHANNEL".into(),
                msg: format!("channel {name} is not configured"),
            })
    }

    fn lease_until(&self, now: Millis) -> Millis {
        now.plus_secs(self.inner.settings.lease_s)
    }
}
