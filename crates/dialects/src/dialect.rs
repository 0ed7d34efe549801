//! The one trait a dialect implements. Its name is its config key (`[merchant.NAME]`), the
//! tag stored with its records, its `paymux client NAME` subcommand and its metrics label;
//! the rest is what the server needs to run it. The server, the config, the CLI, the metrics
//! and the tests loop over [`crate::DIALECTS`]: a new dialect is its folder and one line there.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::response::Response;
use paymux_core::Gateway;
use paymux_core::dialect::DialectTag;
use paymux_core::notification::NotificationFormat;
use secrecy::SecretString;

use crate::common::ClientFailure;
use crate::common::merchants::MerchantTable;

/// A notification schedule: its `[notify]` key and the default retry delays (seconds after
/// the first attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub name: &'static str,
    pub delays_s: &'static [u64],
}

/// The platform's own keys (`[platform]`), for dialects that sign or decrypt as the platform.
#[derive(Debug, Clone, Default)]
pub struct PlatformKeys {
    pub sm2_private_key: Option<SecretString>,
    pub rsa_private_key: Option<SecretString>,
}

/// What a dialect is mounted with.
#[derive(Clone)]
pub struct Mount {
    /// The merchant-facing commands of the core.
    pub gateway: Gateway,
    /// Where payers and merchants reach this gateway (cashier links, QR images).
    pub public_url: Arc<str>,
    /// `[server] max_clock_skew_s`: requests whose own timestamp is further off are refused;
    /// 0 turns the check off.
    pub max_clock_skew_s: u64,
    pub platform: PlatformKeys,
}

/// A mounted dialect.
pub struct Mounted {
    /// Its routes, answering every path under its prefixes with its own replies.
    pub router: Router,
    /// How it notifies merchants; `None` for a dialect without notifications (upp).
    pub notifications: Option<Arc<dyn NotificationFormat>>,
}

/// Where a `paymux client` call goes, and as whom.
#[derive(Debug, Clone)]
pub struct ClientTarget {
    /// The gateway's base URL.
    pub url: String,
    /// The merchant's table for this dialect, `None` if the merchant has none.
    pub credentials: Option<MerchantTable>,
    /// Where the credentials came from, for messages.
    pub source: String,
}

#[async_trait]
pub trait Dialect: Send + Sync {
    /// Config key, stored tag, CLI subcommand, metrics label.
    fn name(&self) -> &'static str;

    /// One line for `paymux client --help`: the API and its operations.
    fn about(&self) -> &'static str;

    /// Its notification schedules with their defaults; empty if it sends none.
    fn schedules(&self) -> &'static [Schedule] {
        &[]
    }

    /// Whether its merchants are also notified when a payment fails for good (its
    /// notification format renders the failure); most dialects notify only payments.
    fn notifies_failed_payments(&self) -> bool {
        false
    }

    /// Reads and checks its merchants' tables: the config is refused at start-up with the
    /// message, which names the merchant and the key.
    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String>;

    /// Its routes and notification format, for these merchants.
    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String>;

    /// Its reply when the gateway is too busy to take a request.
    fn busy(&self) -> Response;

    /// The demo merchant's table for this dialect (the TOML lines after
    /// `[merchant.NAME]`), with fresh keys from `random_hex(bytes)`.
    fn demo_table(&self, random_hex: &mut dyn FnMut(usize) -> String) -> String;

    /// Lines that show a merchant's credentials and a first call, for `paymux serve`'s demo
    /// banner. `client` is how to run `paymux client` as written (e.g. `cargo run … --`).
    fn describe(&self, merchant: &MerchantTable, public_url: &str, client: &str) -> Vec<String>;

    /// Its `paymux client NAME …` subcommand (the operations; the target arguments are the
    /// server's).
    fn client_command(&self) -> clap::Command;

    /// Runs one client operation; prints the reply on standard output.
    async fn run_client(
        &self,
        operation: &clap::ArgMatches,
        target: ClientTarget,
    ) -> Result<(), ClientFailure>;
}

/// The tag a dialect's records carry.
pub fn tag_of(dialect: &dyn Dialect) -> DialectTag {
    DialectTag::new(dialect.name())
}
