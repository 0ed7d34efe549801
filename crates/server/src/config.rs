//! The TOML configuration (DESIGN.md "Command line and configuration"). Unknown keys are
//! an error that names the key. With no file, [`Config::embedded`] runs the gateway on its
//! defaults: 127.0.0.1:8080, SQLite in `./paymux-data/`, the sandbox, one demo merchant.
//!
//! The server's own sections are typed here; each dialect reads and checks its own
//! `[merchant.NAME]` tables and names its `[notify]` schedules (see `paymux_dialects::DIALECTS`).

use std::collections::BTreeMap;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::Path;

use paymux_core::Fen;
use paymux_core::ids::MerchantId;
use paymux_core::merchant::Settlement;
use paymux_dialects::common::merchants::{MerchantTable, redact_values};
use paymux_dialects::{DIALECTS, PlatformKeys};
use secrecy::SecretString;
use serde::Deserialize;

/// The configuration, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub notify: Schedules,
    /// `[platform]`: the keys the dialects declare (`Dialect::platform_keys`).
    pub platform: PlatformKeys,
    pub sandbox: SandboxConfig,
    pub merchants: Vec<MerchantConfig>,
}

/// The file as written, before the dialects have read their tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    notify: BTreeMap<String, Vec<u64>>,
    /// Read by [`platform_keys`]: each key must be one a dialect declares.
    #[serde(default)]
    platform: toml::Table,
    #[serde(default)]
    sandbox: SandboxConfig,
    #[serde(default, rename = "merchant")]
    merchants: Vec<MerchantFile>,
}

/// A `[[merchant]]` as written: its own keys, and one table per dialect it speaks.
#[derive(Debug, Deserialize)]
struct MerchantFile {
    id: String,
    name: String,
    #[serde(default = "default_settlement")]
    settlement: Settlement,
    /// Fen per payout.
    #[serde(default)]
    payout_fee: i64,
    /// Everything else: a dialect's table, or a mistake to name.
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Where payers and merchants reach this gateway; defaults to `http://{listen}`.
    pub public_url: Option<String>,
    pub database: String,
    /// Lets notifications reach loopback and private addresses.
    pub allow_private_callbacks: bool,
    /// Requests whose own timestamp is further off than this are refused; 0 turns it off.
    pub max_clock_skew_s: u64,
    /// Orders without an expiry of their own (xxpay) close after this long.
    pub order_ttl_s: i64,
    /// Client connections open at once; more wait in the listen queue. Default: what the
    /// open-file limit leaves (`serve::default_max_connections`), 768 for 1,024 descriptors.
    pub max_connections: Option<NonZeroUsize>,
    /// Dialect requests running at once (as many more may wait up to a second); beyond
    /// that the dialect's busy reply. 256 runs 5,000 requests/s at 50 ms each.
    pub max_concurrent_requests: NonZeroUsize,
    /// A dialect request not answered within this (its body and any wait included) gets the
    /// busy reply. Below the 30 s merchants' clients commonly wait.
    pub request_timeout_s: NonZeroU64,
    /// How long a connection may take to send a request's headers, and stay idle between
    /// requests. Merchants' servers send headers in one packet.
    pub header_read_timeout_s: NonZeroU64,
    /// Lookups of a code's bills (hrss mode 2: by a payer's ID number) one client address
    /// may make a minute, per code; beyond, 429 (`cashier/lookups.rs`). 0: no limit.
    pub code_lookups_per_minute: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            database: "sqlite://paymux-data/paymux.db".into(),
            allow_private_callbacks: false,
            max_clock_skew_s: 300,
            order_ttl_s: 2 * 3600,
            max_connections: None,
            max_concurrent_requests: const { NonZeroUsize::new(256).unwrap() },
            request_timeout_s: const { NonZeroU64::new(15).unwrap() },
            header_read_timeout_s: const { NonZeroU64::new(10).unwrap() },
            code_lookups_per_minute: 10,
        }
    }
}

impl ServerConfig {
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

/// Retry delays in seconds after the first attempt, by notification schedule: each
/// dialect's defaults, with `[notify]` overriding them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedules(BTreeMap<&'static str, Vec<u64>>);

impl Default for Schedules {
    fn default() -> Self {
        Schedules(
            DIALECTS
                .iter()
                .flat_map(|d| d.schedules())
                .map(|s| (s.name, s.delays_s.to_vec()))
                .collect(),
        )
    }
}

impl Schedules {
    /// The defaults with the file's `[notify]` entries: each must name a schedule of a
    /// dialect and hold at least one delay, or the notifications it meant to tune would be
    /// silently sent on another schedule, or never retried.
    fn with_overrides(overrides: BTreeMap<String, Vec<u64>>) -> Result<Schedules, ConfigError> {
        let mut schedules = Schedules::default();
        for (name, delays) in overrides {
            schedules.set(&name, delays)?;
        }
        Ok(schedules)
    }

    /// Sets a schedule's delays, as a `[notify]` entry does.
    pub fn set(&mut self, name: &str, delays: Vec<u64>) -> Result<(), ConfigError> {
        let known: Vec<&str> = self.0.keys().copied().collect();
        let Some((&key, slot)) = self.0.iter_mut().find(|(k, _)| **k == name) else {
            return Err(ConfigError::Invalid(format!(
                "[notify] {name}: no dialect has a notification schedule of that name (schedules: {})",
                known.join(", ")
            )));
        };
        if delays.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "[notify] {key}: a schedule needs at least one retry delay"
            )));
        }
        *slot = delays;
        Ok(())
    }

    /// The retry delays of a schedule; none for a name no dialect uses.
    pub fn delays(&self, schedule: &str) -> &[u64] {
        self.0.get(schedule).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Reads `[platform]`: each key one a dialect declares, each value a string (never shown
/// back: it is a private key).
fn platform_keys(table: toml::Table, tables: Tables) -> Result<PlatformKeys, ConfigError> {
    let mut keys = PlatformKeys::default();
    for (name, value) in table {
        let Some(key) = paymux_dialects::platform::declared_key(&name) else {
            if tables == Tables::SkipUnknown {
                continue;
            }
            let known: Vec<&str> = paymux_dialects::platform::declared()
                .iter()
                .map(|k| k.name)
                .collect();
            return Err(ConfigError::Invalid(format!(
                "[platform]: unknown key `{name}` (the dialects' platform keys: {})",
                known.join(", ")
            )));
        };
        let toml::Value::String(value) = value else {
            return Err(ConfigError::Invalid(format!(
                "[platform] {name} must be a string"
            )));
        };
        keys.insert(key, SecretString::from(value));
    }
    Ok(keys)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// The sandbox channel and its routes (`/sandbox/…`, the cashier). Without it nothing
    /// pays through them; true by default while it is the only channel.
    pub enabled: bool,
    /// Seconds before a sandbox refund completes.
    pub refund_delay_s: i64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: true,
            refund_delay_s: 3,
        }
    }
}

/// A merchant: paymux's own keys, and one table per dialect it speaks, read by that dialect.
#[derive(Debug, Clone)]
pub struct MerchantConfig {
    pub id: String,
    pub name: String,
    pub settlement: Settlement,
    /// Fen per payout.
    pub payout_fee: i64,
    /// `[merchant.NAME]` by dialect name.
    pub dialects: BTreeMap<&'static str, toml::Table>,
}

impl MerchantConfig {
    /// The merchant's table for a dialect, as the dialect reads it.
    pub fn table(&self, dialect: &str) -> Option<MerchantTable> {
        self.dialects.get(dialect).map(|table| MerchantTable {
            merchant: MerchantId::new(self.id.clone()),
            table: table.clone(),
        })
    }
}

fn default_settlement() -> Settlement {
    Settlement::T1
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Where and what, without the offending line or value: either may be a key.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let message = redact_values(e.message());
    let before = e.span().and_then(|span| text.get(..span.start));
    match before {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

impl Config {
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: parse_message(text, &e),
        })?;
        Config::from_file(file, Tables::AllKnown)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    fn from_file(file: ConfigFile, tables: Tables) -> Result<Config, ConfigError> {
        let mut merchants = Vec::with_capacity(file.merchants.len());
        for m in file.merchants {
            let mut dialects = BTreeMap::new();
            for (key, value) in m.rest {
                let Some(dialect) = paymux_dialects::dialect(&key) else {
                    if tables == Tables::SkipUnknown {
                        continue;
                    }
                    let known: Vec<&str> = DIALECTS.iter().map(|d| d.name()).collect();
                    return Err(ConfigError::Invalid(format!(
                        "merchant {}: unknown key `{key}` (a merchant has id, name, settlement, payout_fee, and a table for each dialect it speaks: {})",
                        m.id,
                        known.join(", ")
                    )));
                };
                let toml::Value::Table(table) = value else {
                    return Err(ConfigError::Invalid(format!(
                        "merchant {}: `{key}` must be a table: [merchant.{key}]",
                        m.id
                    )));
                };
                dialects.insert(dialect.name(), table);
            }
            merchants.push(MerchantConfig {
                id: m.id,
                name: m.name,
                settlement: m.settlement,
                payout_fee: m.payout_fee,
                dialects,
            });
        }
        let config = Config {
            server: file.server,
            notify: Schedules::with_overrides(file.notify)?,
            platform: platform_keys(file.platform, tables)?,
            sandbox: file.sandbox,
            merchants,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.order_ttl_s <= 0 {
            return Err(ConfigError::Invalid(
                "server.order_ttl_s must be positive".into(),
            ));
        }
        if self.merchants.is_empty() {
            return Err(ConfigError::Invalid(
                "no [[merchant]] in the config: paymux would refuse every request. Add one (README.md \"Configuration\"), or run `paymux serve` without --config for the demo merchant".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for m in &self.merchants {
            if !ids.insert(&m.id) {
                return Err(ConfigError::Invalid(format!(
                    "merchant id {:?} appears twice",
                    m.id
                )));
            }
            if Fen::new(m.payout_fee).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "merchant {}: payout_fee must be ≥ 0",
                    m.id
                )));
            }
        }
        for dialect in DIALECTS {
            dialect
                .check(&self.tables_of(dialect.name()))
                .map_err(ConfigError::Invalid)?;
        }
        Ok(())
    }

    /// Every merchant's table for one dialect.
    pub fn tables_of(&self, dialect: &str) -> Vec<MerchantTable> {
        self.merchants
            .iter()
            .filter_map(|m| m.table(dialect))
            .collect()
    }

    /// The embedded defaults, with the demo merchant kept in `{data_dir}/demo-merchant.toml`:
    /// generated on first start, read back afterwards. A dialect added since the file was
    /// written gets its table appended; a table of a dialect this build does not speak is
    /// left in the file and ignored. Returns whether the file was written now.
    pub fn embedded(data_dir: &Path) -> Result<(Config, bool), ConfigError> {
        let merchant_file = data_dir.join("demo-merchant.toml");
        let path = merchant_file.display().to_string();
        let (mut text, mut written) = match std::fs::read_to_string(&merchant_file) {
            Ok(text) => (text, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|source| ConfigError::Write {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                (DEMO_HEADER.to_owned(), true)
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let present: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: parse_message(&text, &e),
        })?;
        let has = |name: &str| {
            present
                .merchants
                .first()
                .is_some_and(|m| m.rest.contains_key(name))
        };
        let missing: Vec<_> = DIALECTS.iter().filter(|d| !has(d.name())).collect();
        if !missing.is_empty() {
            let mut random_failed = None;
            let mut random = |bytes| {
                random_hex(bytes).unwrap_or_else(|e| {
                    random_failed = Some(e);
                    String::new()
                })
            };
            for dialect in missing {
                text.push_str(&format!(
                    "\n[merchant.{}]\n{}",
                    dialect.name(),
                    dialect.demo_table(&mut random)
                ));
            }
            if let Some(e) = random_failed {
                return Err(e);
            }
            write_private(&merchant_file, &text)?;
            written = true;
        }
        // Platform keys the dialects can make (hrss signs its notifications with one): the
        // demo keeps its own, in its `[platform]` table if it has one, else as top-level
        // dotted keys, which must come before the first table.
        for key in paymux_dialects::platform::declared() {
            let Some(generate) = key.generate else {
                continue;
            };
            if present.platform.contains_key(key.name) {
                continue;
            }
            let value = generate().map_err(ConfigError::Random)?;
            let line_starts =
                || std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
            let (at, entry) = match line_starts().find(|&i| text[i..].starts_with("[platform]\n")) {
                Some(table) => (
                    table + "[platform]\n".len(),
                    format!("{} = \"{value}\"\n", key.name),
                ),
                None => (
                    line_starts()
                        .find(|&i| text[i..].starts_with('['))
                        .unwrap_or(text.len()),
                    format!("platform.{} = \"{value}\"\n\n", key.name),
                ),
            };
            text.insert_str(at, &entry);
            write_private(&merchant_file, &text)?;
            written = true;
        }
        let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: parse_message(&text, &e),
        })?;
        let mut config = Config::from_file(file, Tables::SkipUnknown)?;
        config.server.database = format!("sqlite://{}/paymux.db", data_dir.display());
        // The demo runs locally: its notifications go to local receivers.
        config.server.allow_private_callbacks = true;
        Ok((config, written))
    }
}

/// What to do with a merchant's table for a dialect this build does not speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    /// An error that names it: a config file says what it means.
    AllKnown,
    /// Ignore it: the demo merchant's file may have been written by a build that spoke more.
    SkipUnknown,
}

const DEMO_HEADER: &str = r#"# The demo merchant, generated by `paymux serve` on first start. Keep it private.

[[merchant]]
id = "demo"
name = "Demo Hospital"
settlement = "T1"
payout_fee = 200
"#;

/// Writes a file only its owner can read, replacing it in one step: a new file next to it,
/// private from the moment it exists, renamed over the old one.
fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    use std::io::Write;
    let err = |source| ConfigError::Write {
        path: path.display().to_string(),
        source,
    };
    let temporary = path.with_extension("toml.new");
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&temporary, path).map_err(err)
}

fn random_hex(bytes: usize) -> Result<String, ConfigError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ConfigError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MERCHANT: &str = "[[merchant]]\nid = \"a\"\nname = \"A\"\n[merchant.xxpay]\nmch_id = \"1\"\napp_id = \"x\"\nkey = \"k1\"\n";

    fn with_merchant(text: &str) -> String {
        format!("{text}\n{MERCHANT}")
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = Config::parse(
            &with_merchant("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n"),
            "test.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = Config::parse(
            "[[merchant]]\nid = \"a\"\nname = \"A\"\ncolour = 1\n",
            "test.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = Config::parse(&format!("{MERCHANT}kee = \"x\"\n"), "test.toml").unwrap_err();
        assert!(
            err.to_string().contains("[merchant.xxpay]") && err.to_string().contains("kee"),
            "{err}"
        );
    }

    #[test]
    fn platform_keys_are_those_the_dialects_declare() {
        let text = "[platform]\nsm2_private_key = \"a1\"\nrsa_private_key = \"r1\"\n";
        let config = Config::parse(&with_merchant(text), "test.toml").unwrap();
        let key = |name| {
            config
                .platform
                .get(name)
                .map(secrecy::ExposeSecret::expose_secret)
        };
        assert_eq!(key("sm2_private_key"), Some("a1"));
        assert_eq!(key("rsa_private_key"), Some("r1"));
        let err = Config::parse(
            &with_merchant("[platform]\nsm2_privat_key = \"SECRET1\"\n"),
            "test.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("sm2_privat_key"), "names the key: {err}");
        assert!(
            err.contains("sm2_private_key") && err.contains("rsa_private_key"),
            "lists the keys: {err}"
        );
        assert!(!err.contains("SECRET1"), "{err}");
        let err = Config::parse(
            &with_merchant("[platform]\nsm2_private_key = 12345678987\n"),
            "test.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[platform] sm2_private_key must be a string"),
            "{err}"
        );
        assert!(!err.contains("12345678987"), "{err}");
    }

    #[test]
    fn a_notify_entry_must_name_a_schedule_and_hold_delays() {
        let err =
            Config::parse(&with_merchant("[notify]\nxxpai = [1]\n"), "test.toml").unwrap_err();
        assert!(err.to_string().contains("[notify] xxpai"), "{err}");
        assert!(
            err.to_string().contains("xxpay"),
            "lists the schedules: {err}"
        );
        let err = Config::parse(&with_merchant("[notify]\nxxpay = []\n"), "test.toml").unwrap_err();
        assert!(err.to_string().contains("[notify] xxpay"), "{err}");
        let config =
            Config::parse(&with_merchant("[notify]\nxxpay = [5, 7]\n"), "test.toml").unwrap();
        assert_eq!(config.notify.delays("xxpay"), &[5, 7]);
    }

    #[test]
    fn a_syntax_error_says_where_without_showing_the_line() {
        let text = "[[merchant]]\nid = \"a\"\nname = \"A\"\n[merchant.xxpay]\nmch_id = \"1\"\napp_id = \"x\"\nkey = \"TOPSECRET\\q\"\n";
        let err = Config::parse(text, "test.toml").unwrap_err().to_string();
        assert!(!err.contains("TOPSECRET"), "{err}");
        assert!(err.starts_with("test.toml: line 7, column "), "{err}");
        // A key someone forgot to quote is not quoted back either.
        let text = text.replace("\"TOPSECRET\\q\"", "98765432123");
        let err = Config::parse(&text, "test.toml").unwrap_err().to_string();
        assert!(!err.contains("98765432123"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn empty_and_placeholder_keys_no_merchants_and_a_useless_ttl_are_refused() {
        for key in ["", "…", "<key>"] {
            let text = MERCHANT.replace("\"k1\"", &format!("\"{key}\""));
            let err = Config::parse(&text, "test.toml").unwrap_err();
            assert!(err.to_string().contains("[merchant.xxpay] key"), "{err}");
        }
        let err =
            Config::parse(&with_merchant("[server]\norder_ttl_s = 0\n"), "test.toml").unwrap_err();
        assert!(err.to_string().contains("order_ttl_s"), "{err}");
        let err = Config::parse("[server]\nlisten = \"127.0.0.1:9\"\n", "test.toml").unwrap_err();
        assert!(err.to_string().contains("no [[merchant]]"), "{err}");
    }

    #[test]
    fn two_merchants_may_not_share_a_wire_id() {
        let text = format!("{MERCHANT}{}", MERCHANT.replace("id = \"a\"", "id = \"b\""));
        let err = Config::parse(&text, "test.toml").unwrap_err();
        assert!(
            err.to_string().contains("share [merchant.xxpay] mch_id"),
            "{err}"
        );
    }

    #[test]
    fn the_serving_limits_are_read_and_zero_is_refused() {
        let text = "[server]\nmax_connections = 100\nmax_concurrent_requests = 8\n\
                    request_timeout_s = 5\nheader_read_timeout_s = 3\n";
        let server = Config::parse(&with_merchant(text), "test.toml")
            .unwrap()
            .server;
        assert_eq!(server.max_connections.map(NonZeroUsize::get), Some(100));
        assert_eq!(server.max_concurrent_requests.get(), 8);
        assert_eq!(server.request_timeout_s.get(), 5);
        assert_eq!(server.header_read_timeout_s.get(), 3);
        let defaults = Config::parse(MERCHANT, "test.toml").unwrap().server;
        assert_eq!(defaults.max_connections, None, "derived at start");
        assert_eq!(defaults.max_concurrent_requests.get(), 256);
        assert_eq!(defaults.request_timeout_s.get(), 15);
        assert_eq!(defaults.header_read_timeout_s.get(), 10);
        for key in [
            "max_connections",
            "max_concurrent_requests",
            "request_timeout_s",
            "header_read_timeout_s",
        ] {
            let err = Config::parse(
                &with_merchant(&format!("[server]\n{key} = 0\n")),
                "test.toml",
            )
            .unwrap_err();
            let err = err.to_string();
            assert!(err.contains("line 2") && err.contains("nonzero"), "{err}");
        }
    }

    #[test]
    fn the_design_example_parses() {
        let text = r#"
[server]
listen = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"
database = "sqlite://paymux-data/paymux.db"
allow_private_callbacks = false
max_clock_skew_s = 300

[sandbox]
enabled = true
refund_delay_s = 3

[notify]
xxpay = [60, 120, 180, 240, 300]

[[merchant]]
id = "demo"
name = "Demo Hospital"
settlement = "T1"
payout_fee = 200

[merchant.xxpay]
mch_id = "20001222"
app_id = "0ae8be35ff634e2abe94f5f32f6d5c4f"
key = "k"

[merchant.upp]
isv_id = 20000
partner_id = 12345
key = "k"
"#;
        let config = Config::parse(text, "design.toml").unwrap();
        assert_eq!(config.merchants.len(), 1);
        assert_eq!(config.notify.delays("xxpay"), &[60, 120, 180, 240, 300]);
        assert_eq!(config.server.public_url(), "http://127.0.0.1:8080");
        assert_eq!(config.tables_of("upp").len(), 1);
        assert!(config.sandbox.enabled);
    }

    #[test]
    fn the_demo_merchant_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (first, generated) = Config::embedded(dir.path()).unwrap();
        assert!(generated);
        let (second, generated) = Config::embedded(dir.path()).unwrap();
        assert!(!generated);
        let key = |c: &Config| c.merchants[0].dialects["xxpay"]["key"].clone();
        assert_eq!(key(&first), key(&second));
        let platform = |c: &Config| {
            c.platform
                .get("sm2_private_key")
                .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned())
        };
        assert_eq!(platform(&first).map(|k| k.len()), Some(64));
        assert_eq!(platform(&first), platform(&second));
        assert_eq!(key(&first).as_str().map(str::len), Some(32));
        assert!(first.server.allow_private_callbacks);
        for dialect in DIALECTS {
            assert!(
                first.merchants[0].table(dialect.name()).is_some(),
                "the demo merchant speaks {}",
                dialect.name()
            );
        }
    }

    #[test]
    fn a_demo_file_gains_new_dialects_and_keeps_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("demo-merchant.toml");
        // Written by a build that spoke only xxpay, and one that spoke a dialect since gone.
        std::fs::write(
            &file,
            format!("{DEMO_HEADER}\n[merchant.xxpay]\nmch_id = \"1\"\napp_id = \"x\"\nkey = \"kept\"\n\n[merchant.retired]\nk = 1\n"),
        )
        .unwrap();
        let (config, written) = Config::embedded(dir.path()).unwrap();
        assert!(written);
        assert_eq!(
            config.merchants[0].dialects["xxpay"]["key"].as_str(),
            Some("kept")
        );
        assert!(config.merchants[0].table("upp").is_some());
        assert!(config.platform.get("sm2_private_key").is_some());
        let text = std::fs::read_to_string(&file).unwrap();
        // A file whose [platform] table holds another key gets the hrss key in that table.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("demo-merchant.toml"),
            format!("{DEMO_HEADER}\n[platform]\nrsa_private_key = \"kept\"\n"),
        )
        .unwrap();
        let (config, _) = Config::embedded(dir.path()).unwrap();
        assert!(config.platform.get("sm2_private_key").is_some());
        assert_eq!(
            config
                .platform
                .get("rsa_private_key")
                .map(secrecy::ExposeSecret::expose_secret),
            Some("kept")
        );
        assert!(text.contains("[merchant.retired]") && text.contains("[merchant.upp]"));
    }
}
