//! The payer's side of chinaums' codes: §1.9 (a fixed code asks the merchant's system
//! what to bill), §1.1's real-name bills and credit-card limit, and §1.10 (after paying,
//! the link back to the merchant with the signed result).
//!
//! A real-name bill (`fixBuyer=T`) can be paid only by the person it names, as WeChat Pay
//! and Alipay check against the wallet's verified identity. The sandbox has no verified
//! identity, so the code's page asks the payer for the name and certificate number (what
//! the wallets check; `mobile` is not), showing the bill's masked (`张*三`,
//! `1101**********002X`), and refuses a payer who does not match before any try starts.
//! Names compare with surrounding and repeated spaces ignored and Latin letters in any
//! case; certificate numbers without spaces and in any case (a trailing `x` is `X`).
//!
//! The page lists a bill's §1.1 goods (name × quantity, unit price), and lets the payer add
//! `memo` (付款附言, which wallets let a payer type): kept with the try, it is the `memo` of
//! §1.4's query, §1.10's return link and §1.11's notification for the try that paid (or,
//! in the query, the try under way). The spec gives it no length: paymux takes up to
//! [`MEMO_MAX_CHARS`] characters, no control characters.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paymux_core::card::mask;
use paymux_core::code::{CodeKind, PaymentCode};
use paymux_core::gateway::BillFromCode;
use paymux_core::money::Fen;
use paymux_core::order::{Attempt, Order};
use paymux_core::payway::Funding;
use paymux_core::url::NotifyUrl;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::codec::{self, SignType};
use super::convert;
use super::merchants::ChinaumsMerchant;
use super::notify::Signer;
use super::wire::{PayInfoQuery, PayInfoReply, read_params, to_params};
use crate::common::{ClientError, read_at_most};
use crate::dialect::{BillChoice, PayerCheck, PayerField, PayerHooks, PayerNote};

/// The most characters of a payer's `memo` (the spec gives no length).
pub const MEMO_MAX_CHARS: usize = 64;

/// How long the merchant's system has to answer §1.9 while the payer waits.
const PAY_INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// A §1.9 answer is a few fields: more than this is not read.
const MAX_PAY_INFO_BYTES: usize = 64 * 1024;

pub struct ChinaumsPayer {
    pub signer: Signer,
    pub allow_private: bool,
    pub http: reqwest::Client,
}

impl ChinaumsPayer {
    pub fn new(signer: Signer, allow_private: bool) -> Result<ChinaumsPayer, ClientError> {
        Ok(ChinaumsPayer {
            http: crate::common::http::callback_client(allow_private, PAY_INFO_TIMEOUT)?,
            signer,
            allow_private,
        })
    }

    /// §1.9's request for a code, signed: the body by §1.10.4 (SHA256, and `signType`
    /// says so for SDKs that default to MD5), the whole by the merchant's app
    /// (the table's Authorization header).
    pub fn pay_info_request(
        merchant: &ChinaumsMerchant,
        code: &PaymentCode,
        msg_id: &str,
        now: paymux_core::time::Millis,
    ) -> Vec<u8> {
        let c = &merchant.credentials;
        let extra = |k: &str| code.extra.get(k).and_then(crate::common::value_text);
        let query = PayInfoQuery {
            msg_id: Some(msg_id.to_owned()),
            msg_src: Some(c.msg_src.clone()),
            request_timestamp: Some(convert::format_time(now)),
            mid: Some(c.mid.clone()),
            tid: extra("tid").or_else(|| Some(c.default_tid().to_owned())),
            qr_code_id: Some(code.code_ref.clone()),
            system_id: extra("systemId"),
            src_reserve: None,
            member_id: extra("memberId"),
            counter_no: extra("counterNo"),
            sign_type: Some(SignType::Sha256.as_str().into()),
            sign: None,
        };
        let mut params = to_params(&query);
        let sign = codec::sign(
            &codec::string_to_sign(&params),
            c.sign_key.expose_secret(),
            SignType::Sha256,
        );
        params.insert("sign".into(), Value::String(sign));
        codec::encode(&params).into_bytes()
    }

    async fn ask(
        &self,
        merchant: &ChinaumsMerchant,
        code: &PaymentCode,
        address: &str,
    ) -> Result<PayInfoReply, String> {
        NotifyUrl::parse(address, self.allow_private)
            .map_err(|e| format!("payInfoQueryAddr {e}"))?;
        let c = &merchant.credentials;
        let now = self.signer.gateway.now();
        let msg_id = format!(
            "{}{}",
            paymux_core::time::format_beijing_compact(now),
            super::client::random_hex(8)
        );
        let body = Self::pay_info_request(merchant, code, &msg_id, now);
        let authorization = codec::authorization(
            &c.app_id,
            c.app_key.expose_secret(),
            &paymux_core::time::format_beijing_compact(now),
            &super::client::random_hex(16),
            &body,
        );
        let response = self
            .http
            .post(address)
            .header("content-type", "application/json;charset=UTF-8")
            .header("authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the merchant's system did not answer: {e}"))?;
        let (bytes, complete) = read_at_most(response, MAX_PAY_INFO_BYTES)
            .await
            .map_err(|e| format!("the merchant's answer was cut off: {e}"))?;
        if !complete {
            return Err("the merchant's answer is too large".into());
        }
        let params = codec::decode(&bytes).ok_or("the merchant's answer is not a JSON object")?;
        if !codec::verify(&params, c.sign_key.expose_secret()) {
            return Err("the merchant's answer is not signed with its key".into());
        }
        let reply: PayInfoReply =
            read_params(&params).map_err(|e| format!("the merchant's answer: {e}"))?;
        if reply.err_code.as_deref() != Some("SUCCESS") {
            return Err(format!(
                "the merchant's system refused: {} {}",
                reply.err_code.as_deref().unwrap_or("(no errCode)"),
                reply.err_msg.as_deref().unwrap_or("")
            ));
        }
        if reply.msg_id.as_deref().is_some_and(|id| id != msg_id) {
            return Err("the merchant's answer is for another request (msgId)".into());
        }
        Ok(reply)
    }
}

/// The page's fields for a real-name bill's payer.
const PAYER_NAME: &str = "payerName";
const PAYER_CERT_NO: &str = "payerCertNo";

/// A real-name field of the bill (`name`, `certNo`: base64 of the UTF-8 text).
fn real_name_field(terms: &Map<String, Value>, key: &str) -> Option<String> {
    let text = terms.get(key)?.as_str()?;
    let bytes = STANDARD.decode(text.as_bytes()).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The named person when the bill is real-name (`fixBuyer=T`): name and certificate number.
fn named_payer(terms: &Map<String, Value>) -> Option<(String, String)> {
    if terms.get("fixBuyer").and_then(Value::as_str) != Some("T") {
        return None;
    }
    Some((
        real_name_field(terms, "name")?,
        real_name_field(terms, "certNo")?,
    ))
}

/// Whether the answers are the person a real-name bill names (any payer for another bill).
fn is_named_payer(terms: &Map<String, Value>, answers: &BTreeMap<String, String>) -> bool {
    let Some((name, cert_no)) = named_payer(terms) else {
        return true;
    };
    let answer = |k: &str| answers.get(k).map(String::as_str).unwrap_or("");
    same_name(answer(PAYER_NAME), &name) && same_cert_no(answer(PAYER_CERT_NO), &cert_no)
}

fn same_name(a: &str, b: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .map(|w| w.to_ascii_uppercase())
            .collect()
    };
    !words(a).is_empty() && words(a) == words(b)
}

fn same_cert_no(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    !norm(a).is_empty() && norm(a) == norm(b)
}

/// A name as wallets show it: `张*三`, `*三`.
fn masked_name(name: &str) -> String {
    match name.trim().chars().count() {
        0..=2 => mask(name.trim(), 0, 1),
        _ => mask(name.trim(), 1, 1),
    }
}

/// A certificate number as wallets show it: `1101**********002X` (at most a quarter of it
/// at each end).
fn masked_cert_no(no: &str) -> String {
    let no = no.trim();
    let keep = (no.chars().count() / 4).min(4);
    mask(no, keep, keep)
}

/// The certificate number's label by §1.1's certType.
fn cert_label(terms: &Map<String, Value>) -> &'static str {
    match terms.get("certType").and_then(Value::as_str) {
        Some("IDENTITY_CARD") => "身份证号",
        Some("PASSPORT") => "护照号",
        Some("OFFICER_CARD") => "军官证号",
        Some("SOLDIER_CARD") => "士兵证号",
        Some("HOKOU") => "户口本证件号",
        _ => "证件号码",
    }
}

#[async_trait]
impl PayerHooks for ChinaumsPayer {
    /// §1.9: a fixed code whose own `payInfoQueryAddr` (or else the merchant's configured
    /// one) names the merchant's system is billed as that system says.
    async fn bills_for_code(
        &self,
        code: &PaymentCode,
        _input: &BTreeMap<String, String>,
    ) -> Result<Option<Vec<BillChoice>>, String> {
        if code.kind == CodeKind::OneTime {
            return Ok(None);
        }
        let Some(merchant) = self.signer.merchants.of_merchant(&code.merchant_id) else {
            return Ok(None);
        };
        let address = code
            .extra
            .get("payInfoQueryAddr")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                merchant
                    .credentials
                    .pay_info_query_addr()
                    .map(str::to_owned)
            });
        let Some(address) = address else {
            return Ok(None);
        };
        let reply = self.ask(merchant, code, &address).await?;
        let amount = convert::amount(&reply.total_amount, "totalAmount", 1)
            .map_err(|e| format!("the merchant's answer: {e}"))?;
        if code.kind == CodeKind::FixedAmount && amount.is_some_and(|a| Some(a) != code.amount) {
            return Err("the merchant's system names another amount than the code's".into());
        }
        let mut extra = Map::new();
        for (key, value) in [
            ("billDesc", &reply.bill_desc),
            ("memberId", &reply.member_id),
            ("counterNo", &reply.counter_no),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                let v =
                    crate::common::fields::limit(v, key, if key == "billDesc" { 255 } else { 32 })
                        .map_err(|e| format!("the merchant's answer: {e}"))?;
                extra.insert(key.into(), Value::String(v.to_owned()));
            }
        }
        let label = reply
            .bill_desc
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| code.subject.clone());
        Ok(Some(vec![BillChoice {
            bill: BillFromCode {
                amount,
                merchant_order_no: None,
                subject: reply.bill_desc.filter(|d| !d.is_empty()),
                notify_url: None,
                extra,
            },
            label,
        }]))
    }

    /// `memo` (付款附言), on every chinaums code's page.
    fn payer_note(&self, _code: &PaymentCode) -> Option<PayerNote> {
        Some(PayerNote {
            label: "付款附言",
            max_chars: MEMO_MAX_CHARS,
        })
    }

    /// §1.1 goods: each `goodsName × quantity` and its unit `price` (fen) in yuan.
    fn bill_lines(&self, terms: &Map<String, Value>) -> Vec<String> {
        goods_lines(terms)
    }

    /// §1.1 `fixBuyer=T`: the payer's name and certificate number.
    fn payer_checks(&self, terms: &Map<String, Value>) -> Vec<PayerCheck> {
        let Some((name, cert_no)) = named_payer(terms) else {
            return Vec::new();
        };
        vec![
            PayerCheck {
                field: PayerField {
                    name: PAYER_NAME,
                    label: "付款人姓名",
                    personal: true,
                },
                hint: masked_name(&name),
            },
            PayerCheck {
                field: PayerField {
                    name: PAYER_CERT_NO,
                    label: cert_label(terms),
                    personal: true,
                },
                hint: masked_cert_no(&cert_no),
            },
        ]
    }

    fn check_payer(
        &self,
        terms: &Map<String, Value>,
        answers: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        if is_named_payer(terms, answers) {
            Ok(())
        } else {
            Err("付款人与账单实名信息不符,仅限本人支付 (only the person this bill names can pay it)".into())
        }
    }

    /// §1.1 `limitCreditCard=true`: wallets do not offer the payer's credit cards.
    fn accepts_funding(&self, order: &Order, funding: Funding) -> bool {
        !(funding == Funding::CreditCard && convert::limits_credit_cards(order))
    }

    /// §1.10: the bill's returnUrl with the signed result appended (none without one).
    fn return_link(&self, order: &Order, paid: Option<&Attempt>) -> Option<String> {
        let url = order.return_url.as_ref()?;
        let paid = paid?;
        let fields = match self.signer.result_fields(order, paid, None) {
            Ok(fields) => fields,
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "cannot sign the return link");
                return None;
            }
        };
        Some(append_query(url.as_str(), &codec::encode_form(&fields)))
    }
}

/// A bill's goods (§1.1) as the page lists them: the name (else the description, else the
/// id), `× quantity`, and the unit price in yuan, each where the merchant gave it.
fn goods_lines(terms: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(goods)) = terms.get("goods") else {
        return Vec::new();
    };
    goods
        .iter()
        .filter_map(Value::as_object)
        .map(|item| {
            let text = |key: &str| {
                item.get(key)
                    .and_then(crate::common::value_text)
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
            };
            let mut line = text("goodsName")
                .or_else(|| text("body"))
                .or_else(|| text("goodsId"))
                .unwrap_or_else(|| "商品".to_owned());
            if let Some(quantity) = text("quantity") {
                line.push_str(&format!(" × {quantity}"));
            }
            let price = text("price")
                .and_then(|p| p.parse::<i64>().ok())
                .and_then(|fen| Fen::new(fen).ok());
            if let Some(price) = price {
                line.push_str(&format!(",单价 ¥{}", price.to_yuan_string()));
            }
            line
        })
        .collect()
}

/// `url` with `query` added to its query string (before any fragment).
pub fn append_query(url: &str, query: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let joiner = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{joiner}{query}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_masked_as_wallets_show_them() {
        assert_eq!(masked_name("张三丰"), "张*丰");
        assert_eq!(masked_name("张三"), "*三");
        assert_eq!(masked_name("欧阳娜娜"), "欧**娜");
        assert_eq!(masked_cert_no("11010119900307002X"), "1101**********002X");
        assert_eq!(masked_cert_no("E12345678"), "E1*****78");
        assert_eq!(masked_cert_no("123"), "***");
    }

    #[test]
    fn only_the_named_person_passes() {
        let terms: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "fixBuyer": "T",
            "name": STANDARD.encode("张三丰"),
            "certType": "IDENTITY_CARD",
            "certNo": STANDARD.encode("11010119900307002X"),
        }))
        .unwrap();
        let answers = |name: &str, no: &str| -> BTreeMap<String, String> {
            [(PAYER_NAME, name), (PAYER_CERT_NO, no)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        assert!(is_named_payer(
            &terms,
            &answers(" 张三丰 ", "11010119900307002x")
        ));
        assert!(!is_named_payer(
            &terms,
            &answers("张三", "11010119900307002X")
        ));
        assert!(!is_named_payer(
            &terms,
            &answers("张三丰", "110101199003070021")
        ));
        assert!(!is_named_payer(&terms, &answers("", "")));
        assert!(!is_named_payer(&terms, &BTreeMap::new()));
        let mut foreign = terms.clone();
        foreign.insert("name".into(), Value::String(STANDARD.encode("John  Smith")));
        assert!(is_named_payer(
            &foreign,
            &answers("JOHN SMITH", "11010119900307002X")
        ));
        let mut not_real_name = terms.clone();
        not_real_name.insert("fixBuyer".into(), Value::String("F".into()));
        assert!(is_named_payer(&not_real_name, &BTreeMap::new()));
    }

    #[test]
    fn goods_are_listed_by_name_quantity_and_unit_price_in_yuan() {
        let terms: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "goods": [
                {"goodsId": "1", "goodsName": "微信二维码测试", "quantity": "2", "price": "150",
                 "goodsCategory": "TEST", "body": "说明"},
                {"goodsId": "2", "body": "只有说明", "quantity": 1, "price": 1},
                {"goodsId": "3", "price": "1.5"},
                {},
                "not an object",
            ],
        }))
        .unwrap();
        assert_eq!(
            goods_lines(&terms),
            [
                "微信二维码测试 × 2,单价 ¥1.50",
                "只有说明 × 1,单价 ¥0.01",
                "3",
                "商品",
            ]
        );
        assert!(goods_lines(&Map::new()).is_empty());
    }

    #[test]
    fn results_go_into_the_query_string_before_the_fragment() {
        assert_eq!(
            append_query("https://m.example/r", "a=1"),
            "https://m.example/r?a=1"
        );
        assert_eq!(
            append_query("https://m.example/r?x=2", "a=1"),
            "https://m.example/r?x=2&a=1"
        );
        assert_eq!(
            append_query("https://m.example/r?", "a=1"),
            "https://m.example/r?a=1"
        );
        assert_eq!(
            append_query("https://m.example/r#top", "a=1"),
            "https://m.example/r?a=1#top"
        );
    }
}
