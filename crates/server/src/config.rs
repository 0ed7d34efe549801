//! The TOML configuration (DESIGN.md "Command line and configuration"). Unknown keys are
//! an error that names the key. With no file, [`Config::embedded`] runs the gateway on its
//! defaults: 127.0.0.1:8080, SQLite in `./paymux-data/`, the sandbox, one demo merchant.

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::Path;

use paymux_core::Fen;
use paymux_core::merchant::Settlement;
use paymux_dialects::upp::UppCredentials;
use paymux_dialects::xxpay::XxpayCredentials;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub platform: PlatformConfig,
    #[serde(default)]
    pub sandbox: SandboxConfig,
    #[serde(default, rename = "merchant")]
    pub merchants: Vec<MerchantConfig>,
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

/// Retry delays in seconds after the first attempt, per notification schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub xxpay: Vec<u64>,
    pub chinaums: Vec<u64>,
    pub hrss: Vec<u64>,
    pub mmsp_quick: Vec<u64>,
    pub mmsp_gateway: Vec<u64>,
    pub mmsp_scan: Vec<u64>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        // chinaums and hrss give no schedule: a day, backing off (15 s … 6 h; 12 retries).
        let day = vec![
            15, 15, 30, 180, 600, 1200, 1800, 3600, 7200, 14400, 21600, 36000,
        ];
        NotifyConfig {
            xxpay: vec![60, 120, 180, 240, 300],
            chinaums: day.clone(),
            hrss: day,
            mmsp_quick: vec![1, 5, 10, 30, 90, 180, 300],
            mmsp_gateway: vec![1, 5, 10, 30, 90, 180, 300],
            mmsp_scan: vec![15, 15, 30, 180, 1800, 1800, 1800, 1800, 1800, 3600],
        }
    }
}

impl NotifyConfig {
    pub fn delays(&self, schedule: &str) -> &[u64] {
        match schedule {
            "xxpay" => &self.xxpay,
            "chinaums" => &self.chinaums,
            "hrss" => &self.hrss,
            "mmsp_quick" => &self.mmsp_quick,
            "mmsp_gateway" => &self.mmsp_gateway,
            "mmsp_scan" => &self.mmsp_scan,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// hrss: signs notifications and calls to merchants (64 hex digits).
    pub sm2_private_key: Option<SecretString>,
    /// mmsp payouts: merchants encrypt to its public key (PEM, PKCS#8).
    pub rsa_private_key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Seconds before a sandbox refund completes.
    pub refund_delay_s: i64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig { refund_delay_s: 3 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    pub id: String,
    pub name: String,
    #[serde(default = "default_settlement")]
    pub settlement: Settlement,
    /// Fen per payout.
    #[serde(default)]
    pub payout_fee: i64,
    pub xxpay: Option<XxpayCredentials>,
    pub chinaums: Option<ChinaumsCredentials>,
    pub upp: Option<UppCredentials>,
    pub hrss: Option<HrssCredentials>,
    pub mmsp: Option<MmspCredentials>,
}

fn default_settlement() -> Settlement {
    Settlement::T1
}

// The credentials of dialects not implemented yet are read and kept, so that one config
// file serves every release; each moves into its dialect's folder when the dialect lands.

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChinaumsCredentials {
    pub mid: String,
    pub tid: String,
    pub msg_src_id: String,
    pub msg_src: String,
    pub app_id: String,
    pub app_key: SecretString,
    pub sign_key: SecretString,
    #[serde(default)]
    pub sign_type: Option<String>,
    #[serde(default)]
    pub notify_url: Option<String>,
    #[serde(default)]
    pub pay_info_query_addr: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrssCredentials {
    pub access_key: String,
    pub app_id: String,
    pub mch_id: String,
    pub context: String,
    #[serde(default)]
    pub sm2_public_key: Option<String>,
    pub sm4_key: SecretString,
    #[serde(default)]
    pub order_query_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmspCredentials {
    pub merno: String,
    pub termno: String,
    pub md5_key: SecretString,
    #[serde(default)]
    pub agent_no: Option<String>,
    #[serde(default)]
    pub agent_md5_key: Option<SecretString>,
    #[serde(default)]
    pub rsa_public_key: Option<String>,
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
    let message = without_values(e.message());
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

/// serde quotes the value it could not use (`invalid type: integer `123`, expected a
/// string`); that value may be an unquoted key. Names of fields, which the other messages
/// quote the same way, are kept.
fn without_values(message: &str) -> String {
    let Some((kind, rest)) = message.split_once(": ") else {
        return message.to_owned();
    };
    if !matches!(kind, "invalid type" | "invalid value" | "invalid length") {
        return message.to_owned();
    }
    let mut out = format!("{kind}: ");
    let mut quoted = false;
    for piece in rest.split('`') {
        out.push_str(if quoted { "…" } else { piece });
        quoted = !quoted;
    }
    out
}

impl Config {
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: parse_message(text, &e),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        if self.server.order_ttl_s <= 0 {
            return Err(ConfigError::Invalid(
                "server.order_ttl_s must be positive".into(),
            ));
        }
        for m in &self.merchants {
            let keys = [
                (
                    "xxpay.key",
                    m.xxpay.as_ref().map(|x| x.key.expose_secret().is_empty()),
                ),
                (
                    "upp.key",
                    m.upp.as_ref().map(|u| u.key.expose_secret().is_empty()),
                ),
                (
                    "mmsp.md5_key",
                    m.mmsp
                        .as_ref()
                        .map(|x| x.md5_key.expose_secret().is_empty()),
                ),
                (
                    "chinaums.sign_key",
                    m.chinaums
                        .as_ref()
                        .map(|c| c.sign_key.expose_secret().is_empty()),
                ),
            ];
            if let Some((name, _)) = keys.iter().find(|(_, empty)| *empty == Some(true)) {
                return Err(ConfigError::Invalid(format!(
                    "merchant {}: {name} must not be empty",
                    m.id
                )));
            }
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
        let unique = |what: &str, keys: Vec<String>| {
            let mut seen = std::collections::HashSet::new();
            for k in keys {
                if !seen.insert(k.clone()) {
                    return Err(ConfigError::Invalid(format!(
                        "two merchants share {what} {k:?}"
                    )));
                }
            }
            Ok(())
        };
        unique(
            "xxpay mch_id",
            self.merchants
                .iter()
                .filter_map(|m| m.xxpay.as_ref().map(|x| x.mch_id.clone()))
                .collect(),
        )?;
        unique(
            "upp isv_id/partner_id",
            self.merchants
                .iter()
                .filter_map(|m| {
                    m.upp
                        .as_ref()
                        .map(|u| format!("{}/{}", u.isv_id, u.partner_id))
                })
                .collect(),
        )?;
        Ok(())
    }

    /// The embedded defaults, with the demo merchant kept in `{data_dir}/demo-merchant.toml`:
    /// generated on first start, read back afterwards. Returns whether it was generated now.
    pub fn embedded(data_dir: &Path) -> Result<(Config, bool), ConfigError> {
        let merchant_file = data_dir.join("demo-merchant.toml");
        let (text, generated) = match std::fs::read_to_string(&merchant_file) {
            Ok(text) => (text, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = demo_merchant_toml()?;
                std::fs::create_dir_all(data_dir).map_err(|source| ConfigError::Write {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                write_private(&merchant_file, &text)?;
                (text, true)
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: merchant_file.display().to_string(),
                    source,
                });
            }
        };
        let mut config = Config::parse(&text, &merchant_file.display().to_string())?;
        config.server.database = format!("sqlite://{}/paymux.db", data_dir.display());
        // The demo runs locally: its notifications go to local receivers.
        config.server.allow_private_callbacks = true;
        Ok((config, generated))
    }
}

/// Writes a file only its owner can read, from the moment it exists.
fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    use std::io::Write;
    let err = |source| ConfigError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)
}

fn random_hex(bytes: usize) -> Result<String, ConfigError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ConfigError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A demo merchant with fresh keys for every dialect, using the specs' example numbers.
fn demo_merchant_toml() -> Result<String, ConfigError> {
    Ok(format!(
        r#"# The demo merchant, generated by `paymux serve` on first start. Keep it private.

[[merchant]]
id = "demo"
name = "Demo Hospital"
settlement = "T1"
payout_fee = 200

[merchant.xxpay]
mch_id = "20001222"
app_id = "0ae8be35ff634e2abe94f5f32f6d5c4f"
key = "{xxpay_key}"

[merchant.chinaums]
mid = "898340149000005"
tid = "88880001"
msg_src_id = "3194"
msg_src = "WWW.TEST.COM"
app_id = "{chinaums_app_id}"
app_key = "{chinaums_app_key}"
sign_key = "{chinaums_sign_key}"
sign_type = "SHA256"

[merchant.upp]
isv_id = 20000
partner_id = 12345
key = "{upp_key}"

[merchant.hrss]
access_key = "DOTEST"
app_id = "A203"
mch_id = "M100043"
context = "engine"
sm4_key = "{sm4_key}"

[merchant.mmsp]
merno = "001440353999853"
termno = "84970001"
md5_key = "{mmsp_key}"
"#,
        xxpay_key = random_hex(16)?.to_uppercase(),
        chinaums_app_id = random_hex(16)?,
        chinaums_app_key = random_hex(16)?,
        chinaums_sign_key = random_hex(16)?,
        upp_key = random_hex(16)?,
        sm4_key = random_hex(16)?,
        mmsp_key = random_hex(16)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = Config::parse(
            "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n",
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
        let err = Config::parse("[notify]\nxxpai = [1]\n", "test.toml").unwrap_err();
        assert!(err.to_string().contains("xxpai"), "{err}");
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
    fn empty_keys_and_a_useless_ttl_are_refused() {
        let text = "[[merchant]]\nid = \"a\"\nname = \"A\"\n[merchant.xxpay]\nmch_id = \"1\"\napp_id = \"x\"\nkey = \"\"\n";
        let err = Config::parse(text, "test.toml").unwrap_err();
        assert!(err.to_string().contains("xxpay.key"), "{err}");
        let err = Config::parse("[server]\norder_ttl_s = 0\n", "test.toml").unwrap_err();
        assert!(err.to_string().contains("order_ttl_s"), "{err}");
    }

    #[test]
    fn the_serving_limits_are_read_and_zero_is_refused() {
        let text = "[server]\nmax_connections = 100\nmax_concurrent_requests = 8\n\
                    request_timeout_s = 5\nheader_read_timeout_s = 3\n";
        let server = Config::parse(text, "test.toml").unwrap().server;
        assert_eq!(server.max_connections.map(NonZeroUsize::get), Some(100));
        assert_eq!(server.max_concurrent_requests.get(), 8);
        assert_eq!(server.request_timeout_s.get(), 5);
        assert_eq!(server.header_read_timeout_s.get(), 3);
        let defaults = Config::parse("", "test.toml").unwrap().server;
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
            let err = Config::parse(&format!("[server]\n{key} = 0\n"), "test.toml").unwrap_err();
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
        assert_eq!(config.notify.mmsp_scan[0], 15);
        assert_eq!(config.server.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn the_demo_merchant_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (first, generated) = Config::embedded(dir.path()).unwrap();
        assert!(generated);
        let (second, generated) = Config::embedded(dir.path()).unwrap();
        assert!(!generated);
        use secrecy::ExposeSecret;
        let key = |c: &Config| {
            c.merchants[0]
                .xxpay
                .as_ref()
                .unwrap()
                .key
                .expose_secret()
                .to_owned()
        };
        assert_eq!(key(&first), key(&second));
        assert_eq!(key(&first).len(), 32);
        assert!(first.server.allow_private_callbacks);
    }
}
