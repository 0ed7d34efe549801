//! A dialect's merchants, read from their config tables (`[merchant.xxpay]` of each
//! `[[merchant]]`): parsed into the dialect's credentials type (unknown keys are errors that
//! name them), their keys checked to be real keys, and indexed by the number that identifies
//! a merchant on the dialect's wire (xxpay's mchId, upp's isvId/partnerId), which two
//! merchants may not share.

use std::collections::HashMap;
use std::sync::Arc;

use paymux_core::ids::MerchantId;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// One merchant's table for one dialect.
#[derive(Debug, Clone)]
pub struct MerchantTable {
    pub merchant: MerchantId,
    pub table: toml::Table,
}

/// A dialect's credentials type (`[merchant.<dialect>]`).
pub trait Credentials: DeserializeOwned + Send + Sync + 'static {
    /// How the wire id is called in the config, for the message when two merchants share it.
    const WIRE_ID: &'static str;
    /// What identifies the merchant on the dialect's wire.
    fn wire_id(&self) -> String;
    /// The secrets, by config key, each checked by [`check_secret`].
    fn secrets(&self) -> Vec<(&'static str, &SecretString)>;
}

/// A merchant of the dialect: paymux's merchant id and its credentials.
#[derive(Debug)]
pub struct Registered<C> {
    pub merchant_id: MerchantId,
    pub credentials: C,
}

/// The dialect's merchants, by wire id and by paymux merchant id.
#[derive(Debug)]
pub struct Merchants<C> {
    by_wire_id: HashMap<String, Arc<Registered<C>>>,
    by_merchant: HashMap<MerchantId, Arc<Registered<C>>>,
}

impl<C: Credentials> Merchants<C> {
    /// Reads every merchant's table of `dialect`; the error names the merchant, the table and
    /// the key.
    pub fn from_tables(dialect: &str, tables: &[MerchantTable]) -> Result<Merchants<C>, String> {
        let mut merchants = Merchants {
            by_wire_id: HashMap::new(),
            by_merchant: HashMap::new(),
        };
        for t in tables {
            let credentials: C = parse_table(dialect, &t.merchant, &t.table)?;
            for (name, secret) in credentials.secrets() {
                check_secret(secret).map_err(|why| {
                    format!("merchant {}: [merchant.{dialect}] {name} {why}", t.merchant)
                })?;
            }
            let wire_id = credentials.wire_id();
            let registered = Arc::new(Registered {
                merchant_id: t.merchant.clone(),
                credentials,
            });
            if merchants
                .by_wire_id
                .insert(wire_id.clone(), registered.clone())
                .is_some()
            {
                return Err(format!(
                    "two merchants share [merchant.{dialect}] {} {wire_id:?}",
                    C::WIRE_ID
                ));
            }
            merchants.by_merchant.insert(t.merchant.clone(), registered);
        }
        Ok(merchants)
    }

    pub fn by_wire_id(&self, wire_id: &str) -> Option<&Registered<C>> {
        self.by_wire_id.get(wire_id).map(Arc::as_ref)
    }

    pub fn of_merchant(&self, merchant: &MerchantId) -> Option<&Registered<C>> {
        self.by_merchant.get(merchant).map(Arc::as_ref)
    }
}

/// Reads one table into the dialect's credentials type.
pub fn parse_table<C: DeserializeOwned>(
    dialect: &str,
    merchant: &MerchantId,
    table: &toml::Table,
) -> Result<C, String> {
    C::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        format!(
            "merchant {merchant}: [merchant.{dialect}]: {}",
            redact_values(e.message())
        )
    })
}

/// Refuses keys that cannot be real: empty, or a placeholder copied from documentation
/// (`"…"`, `"<key>"`, `"changeme"`), which would otherwise sign requests anyone can forge.
pub fn check_secret(secret: &SecretString) -> Result<(), &'static str> {
    let value = secret.expose_secret().trim();
    if value.is_empty() {
        return Err("must not be empty");
    }
    let lower = value.to_ascii_lowercase();
    let placeholder = value.contains('…')
        || value
            .chars()
            .all(|c| matches!(c, '.' | '*' | '-' | '_' | 'x' | 'X'))
        || (value.starts_with('<') && value.ends_with('>'))
        || matches!(
            lower.as_str(),
            "key"
                | "secret"
                | "changeme"
                | "change-me"
                | "change_me"
                | "replace-me"
                | "your-key"
                | "your_key"
                | "yourkey"
                | "todo"
                | "example"
        );
    if placeholder {
        return Err("is a placeholder, not a key: put the merchant's real key there");
    }
    Ok(())
}

/// serde quotes the value it could not use (`invalid type: integer `123`, expected a
/// string`); that value may be an unquoted key. Names of fields, which the other messages
/// quote the same way, are kept.
pub fn redact_values(message: &str) -> String {
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

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        id: String,
        key: SecretString,
    }

    impl Credentials for Demo {
        const WIRE_ID: &'static str = "id";
        fn wire_id(&self) -> String {
            self.id.clone()
        }
        fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
            vec![("key", &self.key)]
        }
    }

    fn table(merchant: &str, text: &str) -> MerchantTable {
        MerchantTable {
            merchant: MerchantId::new(merchant),
            table: toml::from_str(text).expect("toml"),
        }
    }

    #[test]
    fn merchants_are_found_by_wire_id_and_by_merchant() {
        let m = Merchants::<Demo>::from_tables(
            "demo",
            &[
                table("a", "id = \"1\"\nkey = \"k1\""),
                table("b", "id = \"2\"\nkey = \"k2\""),
            ],
        )
        .unwrap();
        assert_eq!(m.by_wire_id("2").unwrap().merchant_id, MerchantId::new("b"));
        assert_eq!(
            m.of_merchant(&MerchantId::new("a")).unwrap().credentials.id,
            "1"
        );
        assert!(m.by_wire_id("3").is_none());
    }

    #[test]
    fn unknown_keys_shared_ids_and_placeholder_keys_are_refused_by_name() {
        let err = Merchants::<Demo>::from_tables("demo", &[table("a", "id = \"1\"\nkee = \"k\"")])
            .unwrap_err();
        assert!(
            err.contains("merchant a: [merchant.demo]") && err.contains("kee"),
            "{err}"
        );
        let err = Merchants::<Demo>::from_tables(
            "demo",
            &[
                table("a", "id = \"1\"\nkey = \"k\""),
                table("b", "id = \"1\"\nkey = \"k\""),
            ],
        )
        .unwrap_err();
        assert!(err.contains("share [merchant.demo] id \"1\""), "{err}");
        for placeholder in ["…", "...", "<key>", "changeme", "", "  "] {
            let text = format!("id = \"1\"\nkey = \"{placeholder}\"");
            let err = Merchants::<Demo>::from_tables("demo", &[table("a", &text)]).unwrap_err();
            assert!(
                err.contains("[merchant.demo] key"),
                "{placeholder:?}: {err}"
            );
        }
        // A key typed without quotes is not quoted back.
        let err =
            Merchants::<Demo>::from_tables("demo", &[table("a", "id = \"1\"\nkey = 98765432")])
                .unwrap_err();
        assert!(!err.contains("98765432"), "{err}");
    }
}
