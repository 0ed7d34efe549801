//! §4.4 static codes (用户主扫支付下单, 静态码): a QR code on a counter that opens paymux's
//! page of the code, where a payer pays the merchant.
//!
//! - Mode 1 (方式一): the merchant needs nothing of the payer and places no order; the payer
//!   enters the amount and paymux makes the order, its mchOrderId a 24-digit number of
//!   paymux's (`yyyyMMddHHmmssSSS` and 7 digits).
//! - Mode 2 (方式二): the page asks the payer's idTypeOrder and idNumberOrder, asks the
//!   merchant's system for that payer's unpaid orders (§5.1, `payer.rs`), and the payer
//!   pays one of them under the merchant's own mchOrderId.
//!
//! The spec gives the merchant no service to apply for a code (§4.4.1: it applies "with
//! the platform", giving a notify address), so the operator declares each code in the
//! merchant's `[merchant.hrss]` table:
//!
//! ```toml
//! static_codes = [
//!   { ref = "S1", mode = 1, subject = "门诊缴费", notify_url = "https://his.example/hrss/notify" },
//!   { ref = "S2", mode = 2, subject = "住院缴费", notify_url = "https://his.example/hrss/notify" },
//! ]
//! ```
//!
//! At start-up paymux creates each declared code it does not have yet (by `ref`, unique per
//! merchant), updates one whose declaration changed, closes one declared `closed = true`
//! (for good: a closed code does not reopen; a new `ref` makes a new code), and logs each
//! open code's page URL. Removing a declaration leaves its code as it was. The merchant
//! fetches the page URL and QR image with paymux's own service `paymux.staticCode`
//! (`paymux client hrss static-code --ref S1`).

use paymux_core::code::{CodeKind, CodeStatus, PaymentCode};
use paymux_core::gateway::NewCode;
use paymux_core::ids::MerchantId;
use paymux_core::store::CodeKey;
use paymux_core::url::{NotifyUrl, ReturnUrl};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::HrssMerchants;
use crate::dialect::Mount;

/// The key of a static code's `extra` (copied onto its bills) that holds its mode.
pub const MODE_KEY: &str = "staticMode";

/// The longest `ref`, as long as a mchOrderId.
const REF_MAX: usize = 32;
/// orderTitle's length (§5.1.3).
const SUBJECT_MAX: usize = 256;
/// notifyUrl's length (§4.1).
const URL_MAX: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 方式一: the payer enters the amount.
    PayerAmount,
    /// 方式二: the payer picks an unpaid order of the merchant's (§5.1).
    MerchantOrders,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::PayerAmount => "1",
            Mode::MerchantOrders => "2",
        }
    }

    fn from_number(n: u8) -> Option<Mode> {
        match n {
            1 => Some(Mode::PayerAmount),
            2 => Some(Mode::MerchantOrders),
            _ => None,
        }
    }
}

/// A code's mode, as its `extra` holds it; mode 1 when it holds none.
pub fn mode_of(code: &PaymentCode) -> Mode {
    match code.extra.get(MODE_KEY).and_then(Value::as_str) {
        Some("2") => Mode::MerchantOrders,
        _ => Mode::PayerAmount,
    }
}

/// One entry of `static_codes` in `[merchant.hrss]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCode {
    /// The merchant's name for the code, unique among the merchant's codes.
    #[serde(rename = "ref")]
    pub code_ref: String,
    /// 1 or 2 (§4.4.1's 方式一 and 方式二).
    pub mode: u8,
    /// Shown to the payer; the subject of mode 1's orders.
    pub subject: String,
    /// Where its payments are notified (§5.2); in mode 2, an order's own notifyUrl first.
    pub notify_url: String,
    /// Where the cashier sends the payer after paying, optional.
    #[serde(default)]
    pub return_url: Option<String>,
    /// Closes the code for good.
    #[serde(default)]
    pub closed: bool,
}

/// What a declaration says, checked: the error says which key is wrong and why.
struct Terms {
    mode: Mode,
    notify_url: NotifyUrl,
    return_url: Option<ReturnUrl>,
}

impl StaticCode {
    fn terms(&self, allow_private: bool, can_ask_merchant: bool) -> Result<Terms, String> {
        let code_ref = &self.code_ref;
        let ref_ok = (1..=REF_MAX).contains(&code_ref.chars().count())
            && code_ref
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ref_ok {
            return Err(format!(
                "ref {code_ref:?} must be 1 to {REF_MAX} letters, digits, -, _ or ."
            ));
        }
        let at = |why: String| format!("{code_ref}: {why}");
        let mode = Mode::from_number(self.mode).ok_or_else(|| at("mode must be 1 or 2".into()))?;
        if mode == Mode::MerchantOrders && !can_ask_merchant {
            return Err(at(
                "mode 2 asks the merchant's system for the payer's orders (§5.1): set order_query_url".into(),
            ));
        }
        if self.subject.trim().is_empty() || self.subject.chars().count() > SUBJECT_MAX {
            return Err(at(format!("subject must be 1 to {SUBJECT_MAX} characters")));
        }
        if self.notify_url.chars().count() > URL_MAX {
            return Err(at(format!(
                "notify_url is longer than {URL_MAX} characters"
            )));
        }
        let notify_url = NotifyUrl::parse(&self.notify_url, allow_private)
            .map_err(|e| at(format!("notify_url {e}")))?;
        let return_url = self
            .return_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(ReturnUrl::parse)
            .transpose()
            .map_err(|e| at(format!("return_url {e}")))?;
        Ok(Terms {
            mode,
            notify_url,
            return_url,
        })
    }

    fn new_code(&self, merchant: &MerchantId, terms: Terms) -> NewCode {
        let mut extra = Map::new();
        extra.insert(MODE_KEY.into(), Value::String(terms.mode.as_str().into()));
        NewCode {
            merchant_id: merchant.clone(),
            dialect: super::TAG,
            code_ref: Some(self.code_ref.clone()),
            kind: CodeKind::OpenAmount,
            amount: None,
            subject: self.subject.clone(),
            notify_url: Some(terms.notify_url),
            also_notify: None,
            return_url: terms.return_url,
            expires_at: None,
            extra,
            // Mode 1's mchOrderId: 24 digits, within §4's 32.
            bill_no_prefix: String::new(),
            // A payer who left the cashier may come back and pay at once; two payments of
            // one order are one too many, and the core refunds the second.
            one_at_a_time: false,
            escrow: false,
            splits: None,
            bill: None,
        }
    }
}

/// Whether the stored code says what its declaration says.
fn matches(code: &PaymentCode, new: &NewCode) -> bool {
    code.kind == new.kind
        && code.subject == new.subject
        && code.notify_url.as_ref().map(NotifyUrl::as_str)
            == new.notify_url.as_ref().map(NotifyUrl::as_str)
        && code.return_url.as_ref().map(ReturnUrl::as_str)
            == new.return_url.as_ref().map(ReturnUrl::as_str)
        && new.extra.iter().all(|(k, v)| code.extra.get(k) == Some(v))
        && code.tries == paymux_core::order::Tries::Again
}

/// Checks a merchant's declarations (at config load: literal private addresses are left
/// to the start, which knows `[server] allow_private_callbacks`).
pub fn check(codes: &[StaticCode], can_ask_merchant: bool) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for code in codes {
        code.terms(true, can_ask_merchant)?;
        if !seen.insert(code.code_ref.as_str()) {
            return Err(format!("ref {:?} is declared twice", code.code_ref));
        }
    }
    Ok(())
}

/// Makes the stored codes what the merchants' tables declare, and logs each open code's
/// page. Several instances starting on one database agree: a code another one created
/// first is found and used.
pub async fn prepare(merchants: &HrssMerchants, mount: &Mount) -> Result<(), String> {
    let allow_private = mount.gateway.settings().allow_private_callbacks;
    for merchant in merchants.all() {
        let can_ask = !merchant.credentials.order_query_url.is_empty();
        for declared in &merchant.credentials.static_codes {
            let err = |why: String| {
                format!(
                    "merchant {}: [merchant.hrss] static_codes {why}",
                    merchant.id
                )
            };
            let terms = declared.terms(allow_private, can_ask).map_err(err)?;
            let new = declared.new_code(merchant.id, terms);
            let code = settle(mount, merchant.id, declared, new)
                .await
                .map_err(|e| err(format!("{}: {e}", declared.code_ref)))?;
            match code {
                Some(code) if code.status == CodeStatus::Active => tracing::info!(
                    merchant = %merchant.id,
                    code_ref = %code.code_ref,
                    mode = mode_of(&code).as_str(),
                    url = %format!("{}{}", mount.public_url, mount.links.code_path(code.id.as_str())),
                    "hrss static code ready"
                ),
                Some(code) if !declared.closed => tracing::warn!(
                    merchant = %merchant.id,
                    code_ref = %code.code_ref,
                    "hrss static code is closed for good: declare it under a new ref to take payments again"
                ),
                _ => tracing::info!(
                    merchant = %merchant.id,
                    code_ref = %declared.code_ref,
                    "hrss static code closed"
                ),
            }
        }
    }
    Ok(())
}

/// Creates, updates or closes one declared code; `None`: declared closed and never made.
async fn settle(
    mount: &Mount,
    merchant: &MerchantId,
    declared: &StaticCode,
    new: NewCode,
) -> Result<Option<PaymentCode>, String> {
    use paymux_core::Error as E;
    let gateway = &mount.gateway;
    let key = CodeKey::Ref(&declared.code_ref);
    // Twice at most: a code another instance creates between our look and our insert.
    for _ in 0..2 {
        let code = match gateway.find_code(merchant, key).await {
            Ok(code) => code,
            Err(E::CodeNotFound) if declared.closed => return Ok(None),
            Err(E::CodeNotFound) => match gateway.create_code(new.clone()).await {
                Ok((code, _)) => return Ok(Some(code)),
                Err(E::DuplicateCodeRef) => continue,
                Err(e) => return Err(e.to_string()),
            },
            Err(e) => return Err(e.to_string()),
        };
        if code.dialect != super::TAG {
            return Err(format!(
                "the merchant's {} code has this ref already",
                code.dialect
            ));
        }
        if code.status == CodeStatus::Closed {
            return Ok(Some(code));
        }
        if declared.closed {
            return gateway
                .close_code(merchant, CodeKey::Platform(&code.id), false)
                .await
                .map(Some)
                .map_err(|e| e.to_string());
        }
        if matches(&code, &new) {
            return Ok(Some(code));
        }
        return match gateway
            .update_code(merchant, CodeKey::Platform(&code.id), new)
            .await
        {
            Ok((code, _)) => {
                tracing::info!(merchant = %merchant, code_ref = %code.code_ref, "hrss static code updated from its declaration");
                Ok(Some(code))
            }
            Err(e) => Err(e.to_string()),
        };
    }
    Err("another instance is changing it; start again".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(text: &str) -> Result<Vec<StaticCode>, String> {
        #[derive(Deserialize)]
        struct Table {
            static_codes: Vec<StaticCode>,
        }
        toml::from_str::<Table>(text)
            .map(|t| t.static_codes)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn declarations_are_checked_key_by_key() {
        let ok = declared(
            r#"static_codes = [
                { ref = "S1", mode = 1, subject = "门诊缴费", notify_url = "https://his.example/n" },
                { ref = "S-2", mode = 2, subject = "住院", notify_url = "http://127.0.0.1:9000/n", return_url = "https://his.example/back", closed = true },
            ]"#,
        )
        .unwrap();
        assert_eq!(
            ok[1].return_url.as_deref(),
            Some("https://his.example/back")
        );
        assert!(ok[1].closed);
        check(&ok, true).unwrap();
        assert!(check(&ok, false).unwrap_err().contains("order_query_url"));
        // Loopback passes the config check; the start refuses it unless allowed.
        assert!(ok[1].terms(false, true).is_err());
        assert!(ok[1].terms(true, true).is_ok());

        for (text, why) in [
            (
                r#"static_codes = [{ ref = "S 1", mode = 1, subject = "x", notify_url = "https://a.example/" }]"#,
                "letters, digits",
            ),
            (
                r#"static_codes = [{ ref = "S1", mode = 3, subject = "x", notify_url = "https://a.example/" }]"#,
                "mode must be 1 or 2",
            ),
            (
                r#"static_codes = [{ ref = "S1", mode = 1, subject = " ", notify_url = "https://a.example/" }]"#,
                "subject",
            ),
            (
                r#"static_codes = [{ ref = "S1", mode = 1, subject = "x", notify_url = "ftp://a.example/" }]"#,
                "notify_url",
            ),
            (
                r#"static_codes = [{ ref = "S1", mode = 1, subject = "x", notify_url = "https://a.example/", return_url = "nope" }]"#,
                "return_url",
            ),
            (
                r#"static_codes = [
                    { ref = "S1", mode = 1, subject = "x", notify_url = "https://a.example/" },
                    { ref = "S1", mode = 1, subject = "y", notify_url = "https://a.example/" },
                ]"#,
                "declared twice",
            ),
        ] {
            let codes = declared(text).unwrap();
            let error = check(&codes, true).unwrap_err();
            assert!(error.contains(why), "{error} for {text}");
        }
        // A key of its own spelling is refused, not ignored.
        assert!(
            declared(r#"static_codes = [{ ref = "S1", mode = 1, subject = "x", notify_url = "https://a.example/", notifyUrl = "x" }]"#)
                .unwrap_err()
                .contains("notifyUrl")
        );
    }

    #[test]
    fn a_code_keeps_its_mode_in_its_extra() {
        let codes = declared(
            r#"static_codes = [{ ref = "S2", mode = 2, subject = "住院", notify_url = "https://his.example/n" }]"#,
        )
        .unwrap();
        let terms = codes[0].terms(false, true).unwrap();
        let new = codes[0].new_code(&MerchantId::new("demo"), terms);
        assert_eq!(new.extra[MODE_KEY], "2");
        assert_eq!(new.kind, CodeKind::OpenAmount);
        assert!(new.bill.is_none() && new.amount.is_none());
    }
}
