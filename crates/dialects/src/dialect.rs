//! The one trait a dialect implements. Its name is its config key (`[merchant.NAME]`), the
//! tag stored with its records, its `paymux client NAME` subcommand and its metrics label;
//! the rest is what the server needs to run it. The server, the config, the CLI, the metrics
//! and the tests loop over [`crate::DIALECTS`]: a new dialect is its folder and one line there.

use std::sync::Arc;

use std::collections::BTreeMap;

use async_trait::async_trait;
use axum::Router;
use axum::response::Response;
use paymux_core::Gateway;
use paymux_core::code::PaymentCode;
use paymux_core::dialect::DialectTag;
use paymux_core::gateway::BillFromCode;
use paymux_core::links::PayerLinks;
use paymux_core::notification::NotificationFormat;
use paymux_core::order::{Attempt, Order};
use paymux_core::payway::{Funding, Wallet};
use serde_json::{Map, Value};

use crate::common::ClientFailure;
use crate::common::merchants::MerchantTable;
use crate::platform::{KeysTarget, PlatformKey, PlatformKeys};

/// A notification schedule: its `[notify]` key and the default retry delays (seconds after
/// the first attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub name: &'static str,
    pub delays_s: &'static [u64],
}

/// What a dialect is mounted with.
#[derive(Clone)]
pub struct Mount {
    /// The merchant-facing commands of the core.
    pub gateway: Gateway,
    /// Where payers and merchants reach this gateway (cashier links, QR images).
    pub public_url: Arc<str>,
    /// The payers' links: a payment code's page is `{public_url}{links.code_path(id)}`.
    pub links: PayerLinks,
    /// `[server] max_clock_skew_s`: requests whose own timestamp is further off are refused;
    /// 0 turns the check off.
    pub max_clock_skew_s: u64,
    /// `[platform]`: the keys the dialects declared ([`Dialect::platform_keys`]).
    pub platform: PlatformKeys,
    /// `[sandbox] enabled`: the sandbox channel pays. Routes that only simulate what a
    /// wallet or bank would do (mmsp's openid, its WeChat wake-up) exist only then.
    pub sandbox: bool,
}

/// What the gateway's request limiter knows of a request it answers as busy, from which a
/// dialect builds its busy reply (upp's refund says `refund_exception`; mmsp echoes the
/// CommandID).
#[derive(Debug, Clone, Copy)]
pub struct BusyRequest<'a> {
    pub uri: &'a axum::http::Uri,
    /// The body, when it had arrived in full (not when the timeout struck while it was
    /// still arriving): a dialect whose replies echo a request field reads it from here.
    pub body: Option<&'a axum::body::Bytes>,
}

/// A mounted dialect.
pub struct Mounted {
    /// Its routes, answering every path under its prefixes with its own replies.
    pub router: Router,
    /// How it notifies merchants; `None` for a dialect without notifications (upp).
    pub notifications: Option<Arc<dyn NotificationFormat>>,
    /// What it adds to the payer's pages of its codes and bills; `None`: nothing.
    pub payer: Option<Arc<dyn PayerHooks>>,
}

/// A field a code's page asks the payer for before the merchant's system is asked what to
/// bill (hrss asks for the payer's ID to find their unpaid orders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerField {
    pub name: &'static str,
    pub label: &'static str,
    /// Personal data: never logged, not shown back (a code's page carries it from the
    /// lookup to the pay form sealed, not in clear).
    pub personal: bool,
}

/// A question a bill asks its payer before any try (a real-name bill: the named person's
/// name and certificate number), with what the page may show of the expected answer:
/// masked, as wallets show it (`张*三`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerCheck {
    pub field: PayerField,
    pub hint: String,
}

/// A note the payer may add to a payment for the merchant (chinaums 付款附言): optional,
/// kept with the try, and given back to the merchant with its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayerNote {
    pub label: &'static str,
    /// The most characters it takes.
    pub max_chars: usize,
}

/// A bill the payer may choose on a code's page, as the merchant's system described it.
#[derive(Debug, Clone)]
pub struct BillChoice {
    pub bill: BillFromCode,
    /// What the page shows for it (the subject; the amount is shown from `bill`).
    pub label: String,
}

impl BillChoice {
    /// What names this bill between the page that offered it and the payment (the pay
    /// form carries it): the merchant's order number, else its subject, and its amount.
    /// On paying, the merchant's system is asked again and the bill with the same key is
    /// the one paid; when none has it (paid meanwhile, its amount changed), nothing is.
    pub fn key(&self) -> String {
        let named = match &self.bill.merchant_order_no {
            Some(no) => ("no", no.as_str()),
            None => (
                "subject",
                self.bill.subject.as_deref().unwrap_or(&self.label),
            ),
        };
        let amount = self
            .bill
            .amount
            .map(|a| a.get().to_string())
            .unwrap_or_default();
        crate::common::encode_form(&[named, ("amount", &amount)])
    }
}

/// What a dialect does on the payer's side of its codes and bills.
#[async_trait]
pub trait PayerHooks: Send + Sync {
    /// The fields to ask the payer for before `bills_for_code`.
    fn payer_fields(&self, _code: &PaymentCode) -> Vec<PayerField> {
        Vec::new()
    }

    /// Whether the payer's answers to `payer_fields` can be looked up at all, before the
    /// merchant's system is asked: `Err` says what the payer is to correct (the page asks
    /// again, showing it, and nobody is called). A failure of `bills_for_code` afterwards is
    /// the merchant's system's, never the payer's.
    fn check_answers(
        &self,
        _code: &PaymentCode,
        _input: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// When a payer opens a fixed code: the bills the merchant's system says to offer
    /// (chinaums §1.9, hrss §5.1); `Ok(None)`: the code's own terms apply. `input` has
    /// passed `check_answers`; `Err`: the merchant's system did not say (unreachable, a
    /// refusal, an answer that does not verify).
    async fn bills_for_code(
        &self,
        _code: &PaymentCode,
        _input: &BTreeMap<String, String>,
    ) -> Result<Option<Vec<BillChoice>>, String> {
        Ok(None)
    }

    /// What the page shows of a bill of these terms besides its subject and amount, a
    /// line each (chinaums §1.1 goods); plain text, which the page escapes.
    fn bill_lines(&self, _terms: &Map<String, Value>) -> Vec<String> {
        Vec::new()
    }

    /// The note a code's page lets the payer add to their payment; `None`: none.
    fn payer_note(&self, _code: &PaymentCode) -> Option<PayerNote> {
        None
    }

    /// Who may pay a bill of these terms (a one-time code's bill's `extra`, or a fixed
    /// code's own): what the page asks the payer (chinaums `fixBuyer=T`); empty: anyone.
    fn payer_checks(&self, _terms: &Map<String, Value>) -> Vec<PayerCheck> {
        Vec::new()
    }

    /// Whether the payer's answers to `payer_checks` (by field name) are the person the
    /// terms name, checked before any try starts; `Err`: what the page tells the payer
    /// (never the expected answers).
    fn check_payer(
        &self,
        _terms: &Map<String, Value>,
        _answers: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// The wallets a code's page offers the payer (hrss: its §6.1 wayCodes).
    fn wallets(&self, _code: &PaymentCode) -> Vec<Wallet> {
        vec![Wallet::WeChat, Wallet::Alipay, Wallet::UnionPay]
    }

    /// Whether the bill takes money from this source (chinaums `limitCreditCard`: no credit
    /// cards). The sandbox's cashier refuses the others before paying, as wallets do.
    fn accepts_funding(&self, _order: &Order, _funding: Funding) -> bool {
        true
    }

    /// After a payment: the link back to the merchant (chinaums §1.10 adds the signed
    /// result); `None`: the bill's return URL as it is, if any. `paid`: the try that paid
    /// the bill (its wallet is part of the result).
    fn return_link(&self, _order: &Order, _paid: Option<&Attempt>) -> Option<String> {
        None
    }
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

    /// Its routes whose path carries a secret (`{token}` marks the segment; other `{…}`
    /// match any segment), which the access log leaves out.
    fn secret_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// The platform's own keys it signs or decrypts with (`[platform] NAME`): the config
    /// reads these and refuses any other key, the embedded demo generates them.
    fn platform_keys(&self) -> &'static [PlatformKey] {
        &[]
    }

    /// Its `paymux keys NAME` subcommand, `None` for none. By default: for a dialect with
    /// platform keys whose public part merchants need, one that prints it (`--generate`:
    /// a new key and its public part). The config arguments are the server's.
    fn keys_command(&self) -> Option<clap::Command> {
        crate::platform::keys_command(self.name(), self.platform_keys())
    }

    /// Runs its `paymux keys NAME`; prints on standard output.
    fn run_keys(&self, args: &clap::ArgMatches, target: KeysTarget) -> Result<(), String> {
        crate::platform::run_keys(self.name(), self.platform_keys(), args, target)
    }

    /// Reads and checks its merchants' tables: the config is refused at start-up with the
    /// message, which names the merchant and the key.
    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String>;

    /// Its routes and notification format, for these merchants.
    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String>;

    /// Start-up work that needs the store, after `mount` and before requests are served
    /// (hrss creates the static codes its merchants' tables declare); an error stops the
    /// start with its message.
    async fn prepare(&self, _merchants: &[MerchantTable], _mount: &Mount) -> Result<(), String> {
        Ok(())
    }

    /// Its reply when the gateway is too busy to take a request, or did not finish it in
    /// time: unsigned, as the caller is not authenticated yet.
    fn busy(&self, request: &BusyRequest<'_>) -> Response;

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
