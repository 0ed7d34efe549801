//! `[merchant.chinaums]`: a merchant's numbers and keys, checked at start-up, and the
//! directory that finds a merchant by its `mid` or by the app (`AppId`) a request is
//! signed with: one app may serve several merchants (the spec's institution mode, §1.6),
//! and then they share its appKey.

use std::collections::HashMap;

use paymux_core::ids::MerchantId;
use paymux_core::url::NotifyUrl;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::codec::SignType;
use crate::common::merchants::{Credentials, MerchantTable, Merchants, Registered};

/// The merchant's terminals (`tid`): one, or a list (the first is the one `paymux client`
/// and the §1.9 calls use).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Terminals {
    One(String),
    Many(Vec<String>),
}

impl Terminals {
    pub fn all(&self) -> &[String] {
        match self {
            Terminals::One(one) => std::slice::from_ref(one),
            Terminals::Many(many) => many,
        }
    }
}

/// `[merchant.chinaums]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChinaumsCredentials {
    /// 商户号, 15 characters.
    pub mid: String,
    /// 终端号: requests must name one of these.
    pub tid: Terminals,
    /// 来源编号: the four characters every billNo starts with.
    pub msg_src_id: String,
    /// 消息来源: a request's `msgSrc`, when it sends one, must be this.
    pub msg_src: String,
    /// The app that signs requests (OPEN-BODY-SIG) and its key.
    pub app_id: String,
    pub app_key: SecretString,
    /// Signs notifications, return links and §1.9 calls, and verifies §1.9 answers.
    pub sign_key: SecretString,
    /// `SHA256` (the default) or `MD5`, for notifications and return links.
    #[serde(default)]
    pub sign_type: Option<String>,
    /// Where notifications go besides each bill's notifyUrl.
    #[serde(default)]
    pub notify_url: Option<String>,
    /// §1.9: the merchant's payment-element lookup, for fixed codes that name none.
    #[serde(default)]
    pub pay_info_query_addr: Option<String>,
    /// `false`: the merchant is frozen (INACTIVE_MERCHANT).
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

impl ChinaumsCredentials {
    pub fn sign_type(&self) -> SignType {
        self.sign_type
            .as_deref()
            .and_then(SignType::parse)
            .unwrap_or(SignType::Sha256)
    }

    /// The first terminal: `paymux client`'s and the §1.9 calls' default.
    pub fn default_tid(&self) -> &str {
        self.tid.all().first().map(String::as_str).unwrap_or("")
    }

    pub fn has_terminal(&self, tid: &str) -> bool {
        self.tid.all().iter().any(|t| t == tid)
    }

    /// The configured notify URL, if any (an empty string is none).
    pub fn notify_url(&self) -> Option<&str> {
        self.notify_url.as_deref().filter(|s| !s.trim().is_empty())
    }

    pub fn pay_info_query_addr(&self) -> Option<&str> {
        self.pay_info_query_addr
            .as_deref()
            .filter(|s| !s.trim().is_empty())
    }

    /// What start-up refuses, by key.
    fn check(&self) -> Result<(), String> {
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
        if self.mid.is_empty() || self.mid.len() > 15 || !plain(&self.mid) {
            return Err("mid must be 1 to 15 letters or digits".into());
        }
        if self.tid.all().is_empty() {
            return Err("tid must name at least one terminal".into());
        }
        for tid in self.tid.all() {
            if tid.is_empty() || tid.len() > 8 || !plain(tid) {
                return Err(format!("tid {tid:?} must be 1 to 8 letters or digits"));
            }
        }
        if self.msg_src_id.len() != 4 || !plain(&self.msg_src_id) {
            return Err(
                "msg_src_id must be the 4 letters or digits every billNo starts with".into(),
            );
        }
        if self.msg_src.trim().is_empty() || self.app_id.trim().is_empty() {
            return Err("msg_src and app_id must not be empty".into());
        }
        if let Some(t) = &self.sign_type
            && SignType::parse(t).is_none()
        {
            return Err(format!("sign_type {t:?} must be SHA256 or MD5"));
        }
        for (key, url) in [
            ("notify_url", self.notify_url()),
            ("pay_info_query_addr", self.pay_info_query_addr()),
        ] {
            if let Some(url) = url {
                NotifyUrl::parse(url, true).map_err(|e| format!("{key} {url:?} {e}"))?;
            }
        }
        Ok(())
    }
}

impl Credentials for ChinaumsCredentials {
    const WIRE_ID: &'static str = "mid";
    fn wire_id(&self) -> String {
        self.mid.clone()
    }
    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        vec![("app_key", &self.app_key), ("sign_key", &self.sign_key)]
    }
}

pub type ChinaumsMerchant = Registered<ChinaumsCredentials>;

/// The merchants, by mid, by paymux id, and by app.
#[derive(Debug)]
pub struct Directory {
    merchants: Merchants<ChinaumsCredentials>,
    /// AppId → the merchants it serves, in config order.
    by_app: HashMap<String, Vec<MerchantId>>,
}

impl Directory {
    /// Reads and checks the tables; the error names the merchant and the key.
    pub fn from_tables(dialect: &str, tables: &[MerchantTable]) -> Result<Directory, String> {
        let merchants = Merchants::<ChinaumsCredentials>::from_tables(dialect, tables)?;
        let mut by_app: HashMap<String, Vec<MerchantId>> = HashMap::new();
        for t in tables {
            let Some(m) = merchants.of_merchant(&t.merchant) else {
                continue;
            };
            let c = &m.credentials;
            c.check()
                .map_err(|why| format!("merchant {}: [merchant.{dialect}] {why}", t.merchant))?;
            let sharing = by_app.entry(c.app_id.clone()).or_default();
            if let Some(first) = sharing.first().and_then(|id| merchants.of_merchant(id))
                && first.credentials.app_key.expose_secret() != c.app_key.expose_secret()
            {
                return Err(format!(
                    "merchant {}: [merchant.{dialect}] app_id {:?} is also merchant {}'s, with another app_key: one app has one key",
                    t.merchant, c.app_id, first.merchant_id
                ));
            }
            sharing.push(t.merchant.clone());
        }
        Ok(Directory { merchants, by_app })
    }

    pub fn by_mid(&self, mid: &str) -> Option<&ChinaumsMerchant> {
        self.merchants.by_wire_id(mid)
    }

    pub fn of_merchant(&self, merchant: &MerchantId) -> Option<&ChinaumsMerchant> {
        self.merchants.of_merchant(merchant)
    }

    /// The merchants an app serves; empty for an unknown app.
    pub fn of_app(&self, app_id: &str) -> Vec<&ChinaumsMerchant> {
        self.by_app
            .get(app_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.merchants.of_merchant(id))
            .collect()
    }

    /// Every merchant, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &ChinaumsMerchant> {
        self.by_app
            .values()
            .flatten()
            .filter_map(|id| self.merchants.of_merchant(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(merchant: &str, text: &str) -> MerchantTable {
        MerchantTable {
            merchant: MerchantId::new(merchant),
            table: toml::from_str(text).expect("toml"),
        }
    }

    const BASE: &str = r#"
msg_src_id = "3194"
msg_src = "WWW.TEST.COM"
app_id = "app1"
app_key = "k1"
sign_key = "s1"
"#;

    #[test]
    fn terminals_are_one_or_a_list_and_apps_are_shared_with_one_key() {
        let d = Directory::from_tables(
            "chinaums",
            &[
                table(
                    "a",
                    &format!("mid = \"898340149000005\"\ntid = \"88880001\"\n{BASE}"),
                ),
                table(
                    "b",
                    &format!(
                        "mid = \"898340149000030\"\ntid = [\"88880001\", \"12345080\"]\n{BASE}"
                    ),
                ),
            ],
        )
        .expect("directory");
        let b = d.by_mid("898340149000030").expect("b");
        assert!(b.credentials.has_terminal("12345080"));
        assert_eq!(b.credentials.default_tid(), "88880001");
        assert_eq!(b.credentials.sign_type(), SignType::Sha256);
        assert_eq!(d.of_app("app1").len(), 2);
        assert!(d.of_app("other").is_empty());

        let err = Directory::from_tables(
            "chinaums",
            &[
                table("a", &format!("mid = \"1\"\ntid = \"1\"\n{BASE}")),
                table(
                    "b",
                    &format!(
                        "mid = \"2\"\ntid = \"1\"\n{}",
                        BASE.replace("\"k1\"", "\"k2\"")
                    ),
                ),
            ],
        )
        .unwrap_err();
        assert!(err.contains("one app has one key"), "{err}");
    }

    #[test]
    fn bad_numbers_and_sign_types_are_refused_by_key() {
        for (text, key) in [
            (format!("mid = \"1\"\ntid = \"123456789\"\n{BASE}"), "tid"),
            (
                format!(
                    "mid = \"1\"\ntid = \"1\"\n{}",
                    BASE.replace("3194", "31940")
                ),
                "msg_src_id",
            ),
            (
                format!("mid = \"1\"\ntid = \"1\"\nsign_type = \"RSA\"\n{BASE}"),
                "sign_type",
            ),
            (
                format!("mid = \"1\"\ntid = \"1\"\nnotify_url = \"ftp://x\"\n{BASE}"),
                "notify_url",
            ),
            (format!("mid = \"1\"\ntid = \"1\"\nfoo = 1\n{BASE}"), "foo"),
        ] {
            let err = Directory::from_tables("chinaums", &[table("a", &text)]).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
    }
}
