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

mod operator;
mod payments;
mod refunds;

use std::collections::HashMap;
use std::sync::Arc;

pub use operator::Operator;
pub use payments::{AMOUNT_MISMATCH, CreatedOrder, NewOrder};
pub use refunds::NewRefund;

use crate::channel::{Channel, Channels};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{IdGenerator, MerchantId, PlatformId};
use crate::merchant::Merchant;
use crate::store::{Store, StoreError};
use crate::time::Millis;

/// How many times a command re-reads and retries after losing a race.
const MAX_RACE_RETRIES: usize = 8;

/// Work recorded but never answered by its channel (the process stopped in between: a
/// payer-code payment, a refund) is picked up by the poller this long after it was recorded.
const RECOVERY_DELAY_S: i64 = 10;

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Orders without an expiry of their own close after this long.
    pub default_order_ttl_s: i64,
    pub allow_private_callbacks: bool,
    /// How long a worker may hold a claimed row before another instance may take it.
    pub lease_s: i64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            default_order_ttl_s: 2 * 3600,
            allow_private_callbacks: false,
            lease_s: 60,
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
    merchants: HashMap<MerchantId, Merchant>,
    settings: GatewaySettings,
}

impl Gateway {
    /// Registers this instance with the store (for its id prefix) and builds the handle.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Arc<dyn Clock>,
        merchants: Vec<Merchant>,
        settings: GatewaySettings,
    ) -> Result<Gateway, StoreError> {
        let node = store.register_node(clock.now()).await?;
        Ok(Gateway {
            inner: Arc::new(Inner {
                store,
                channels,
                clock,
                ids: IdGenerator::new(node),
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
