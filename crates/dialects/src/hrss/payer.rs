//! The payer's side of hrss static codes (§4.4): what the code's page asks and offers,
//! and §5.1 获取商户订单信息, the platform's call to the merchant's `order_query_url`.
//!
//! §5.1 is a POST of the JSON object `{"appId","mchId","data","sign"}` shaped as §5.2's
//! notification: `data` holds the payer's idTypeOrder and idNumberOrder, SM4-encrypted with
//! the merchant's key (the object itself for a plaintext merchant), and `sign` is the
//! platform's SM2 signature over the top-level fields (§3.5.1.3's rule), which the merchant
//! verifies with the platform public key. The merchant answers the same shape, `data`
//! holding §5.1.3's fields. §5.1.3's table and example have no `sign`, so an answer without
//! one is taken (TLS, or for an encrypted merchant the SM4 key its `data` must open with,
//! vouches for it; a plaintext merchant's http:// address is refused at start, see
//! [`HrssPayer::new`]); an answer with a `sign` must verify with the merchant's public key,
//! over the text the merchant sent (a plaintext `data` as written, spacing and repeated
//! keys kept: `codec::received_json_string_to_sign`). Each `orderData` entry is checked as a
//! §4.1 order is; an entry that fails is left out and logged (its mchOrderId and what is wrong, never
//! the payer's ID). An order paymux already billed elsewhere, or paid or closed, is left
//! out too: the merchant's system has not heard yet.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use paymux_core::Gateway;
use paymux_core::code::PaymentCode;
use paymux_core::payway::Wallet;
use paymux_core::store::OrderKey;
use serde_json::Value;

use super::codec;
use super::convert;
use super::crypto::PrivateKey;
use super::error::HrssError;
use super::notify;
use super::static_codes::{Mode, mode_of};
use super::wire::{self, MerchantOrder, OrderQueryData, Params, Personal, UnpaidOrders};
use super::{HrssMerchant, HrssMerchants};
use crate::common::{MAX_REPLY_BYTES, read_at_most};
use crate::dialect::{BillChoice, PayerField, PayerHooks};

/// How long the payer's page waits for the merchant's system.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A mode 2 code's questions: §5.1.2's two fields.
const ID_TYPE: &str = "idTypeOrder";
const ID_NUMBER: &str = "idNumberOrder";

pub struct HrssPayer {
    pub merchants: Arc<HrssMerchants>,
    /// `[platform] sm2_private_key`: signs §5.1 calls.
    pub platform_key: Option<Arc<PrivateKey>>,
    pub gateway: Gateway,
    pub http: reqwest::Client,
}

impl HrssPayer {
    /// Refuses a plaintext merchant whose `order_query_url` would carry payers' ID numbers
    /// in clear over the network (see [`in_clear`]).
    pub fn new(
        merchants: Arc<HrssMerchants>,
        platform_key: Option<Arc<PrivateKey>>,
        gateway: Gateway,
    ) -> Result<HrssPayer, String> {
        let allow_private = gateway.settings().allow_private_callbacks;
        for merchant in merchants.all() {
            in_clear(merchant, allow_private)?;
        }
        Ok(HrssPayer {
            merchants,
            platform_key,
            gateway,
            http: crate::common::http::callback_client(allow_private, CALL_TIMEOUT)
                .map_err(|e| e.to_string())?,
        })
    }

    /// The choices among the payer's unpaid orders that paymux can bill for this code.
    async fn choices(
        &self,
        code: &PaymentCode,
        merchant: HrssMerchant<'_>,
        id_type: &str,
        orders: Vec<Value>,
    ) -> Result<Vec<BillChoice>, String> {
        let allow_private = self.gateway.settings().allow_private_callbacks;
        let mut choices = Vec::new();
        for (index, entry) in orders.iter().enumerate() {
            let skip = |why: &str, mch_order_id: Option<&str>| {
                tracing::warn!(
                    merchant = %merchant.id,
                    code_ref = %code.code_ref,
                    entry = index,
                    mch_order_id = mch_order_id.unwrap_or("-"),
                    %why,
                    "hrss §5.1: an unpaid order of the merchant's was left out"
                );
            };
            let Value::Object(fields) = entry else {
                skip("orderData的元素须为JSON对象", None);
                continue;
            };
            let order: MerchantOrder = wire::from_params(fields);
            let choice = match convert::merchant_order(&order, id_type, allow_private) {
                Ok(choice) => choice,
                Err(e) => {
                    // The number only once it is one: a malformed field is named, not shown.
                    let no = convert::mch_order_id(&order.mch_order_id).ok();
                    skip(&e.to_string(), no.as_ref().map(|n| n.as_str()));
                    continue;
                }
            };
            let Some(no) = &choice.bill.merchant_order_no else {
                continue;
            };
            match self
                .gateway
                .find_order(merchant.id, OrderKey::Merchant(no))
                .await
            {
                Err(paymux_core::Error::OrderNotFound) => choices.push(choice),
                // Billed by this code before, and still open: the payer may try again.
                Ok(existing)
                    if existing.code_id.as_ref() == Some(&code.id) && existing.status.is_open() =>
                {
                    choices.push(choice)
                }
                Ok(existing) => skip(
                    &format!(
                        "支付平台已有此商户订单号的订单(状态{})",
                        existing.status.as_str()
                    ),
                    Some(no.as_str()),
                ),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(choices)
    }
}

#[async_trait]
impl PayerHooks for HrssPayer {
    fn payer_fields(&self, code: &PaymentCode) -> Vec<PayerField> {
        if mode_of(code) != Mode::MerchantOrders {
            return Vec::new();
        }
        vec![
            PayerField {
                name: ID_TYPE,
                label: "证件类型(01 居民身份证,90 社会保障卡,99 其他)",
                personal: false,
            },
            PayerField {
                name: ID_NUMBER,
                label: "证件号码",
                personal: true,
            },
        ]
    }

    /// §5.1.2's fields as §6.1 and the field limits have them; what is wrong is said by the
    /// field's label, never by its value.
    fn check_answers(
        &self,
        code: &PaymentCode,
        input: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        if mode_of(code) != Mode::MerchantOrders {
            return Ok(());
        }
        convert::payer_id(
            input.get(ID_TYPE).map(String::as_str),
            input.get(ID_NUMBER).map(String::as_str),
        )
        .map(drop)
        .map_err(|e| payer_mistake(&e))
    }

    async fn bills_for_code(
        &self,
        code: &PaymentCode,
        input: &BTreeMap<String, String>,
    ) -> Result<Option<Vec<BillChoice>>, String> {
        if mode_of(code) != Mode::MerchantOrders {
            return Ok(None);
        }
        let merchant = self
            .merchants
            .of_merchant(&code.merchant_id)
            .ok_or("the code's merchant has no [merchant.hrss] table")?;
        let platform = self
            .platform_key
            .as_deref()
            .ok_or("no [platform] sm2_private_key to sign §5.1 calls with")?;
        let (id_type, id_number) = convert::payer_id(
            input.get(ID_TYPE).map(String::as_str),
            input.get(ID_NUMBER).map(String::as_str),
        )
        .map_err(|e| e.to_string())?;
        let orders = query_unpaid(&self.http, merchant, platform, &id_type, &id_number).await?;
        self.choices(code, merchant, &id_type, orders)
            .await
            .map(Some)
    }

    /// §6.1's wayCodes: SBK, WX, ALI.
    fn wallets(&self, _code: &PaymentCode) -> Vec<Wallet> {
        vec![Wallet::SocialSecurity, Wallet::WeChat, Wallet::Alipay]
    }
}

/// A plaintext merchant's §5.1 call carries the payer's ID number as it is, and its answer
/// too: over http:// both would cross the network in clear. Refused at start, naming the
/// key, unless the address is a loopback or private one and `[server]
/// allow_private_callbacks` is on (the merchant's system on the same host or network).
/// Refused rather than warned about: a warning in a start-up log is easily missed, and the
/// fix (https://, or encrypting `data`) is the merchant's configuration, not the payer's.
fn in_clear(merchant: HrssMerchant<'_>, allow_private: bool) -> Result<(), String> {
    let url = &merchant.credentials.order_query_url;
    let http = url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
    if !merchant.keys.plaintext || !http {
        return Ok(());
    }
    let private = paymux_core::url::NotifyUrl::parse(url, false)
        == Err(paymux_core::url::UrlError::PrivateAddress);
    if allow_private && private {
        return Ok(());
    }
    Err(format!(
        "merchant {}: [merchant.hrss] order_query_url is http:// while plaintext = true: payers' ID numbers would cross the network in clear. Use https:// (http:// is taken only for a loopback or private address with [server] allow_private_callbacks = true), or turn plaintext off",
        merchant.id
    ))
}

/// What the payer is told to correct in their answers, by the fields' labels.
fn payer_mistake(e: &HrssError) -> String {
    let label = |field: &str| match field {
        ID_TYPE => "证件类型",
        ID_NUMBER => "证件号码",
        _ => "输入",
    };
    let what = match e {
        HrssError::Missing(field) => format!("请填写{}", label(field)),
        HrssError::Invalid {
            field,
            reason: Some(reason),
        } => format!("{}{reason}", label(field)),
        HrssError::Invalid { field, .. } => format!("{}格式不正确", label(field)),
        _ => "输入有误".to_owned(),
    };
    format!("请检查证件类型/号码:{what}")
}

/// The §5.1 request's body: the payer, signed by the platform.
pub fn order_query_body(
    merchant: HrssMerchant<'_>,
    platform: &PrivateKey,
    id_type: &str,
    id_number: &Personal,
) -> Params {
    let data = wire::to_params(&OrderQueryData {
        id_type_order: id_type.to_owned(),
        id_number_order: id_number.clone(),
    });
    notify::signed(
        &merchant.credentials.app_id,
        &merchant.credentials.mch_id,
        codec::seal(&data, merchant.keys.data_key()),
        platform,
    )
}

/// Why the merchant's answer was not taken; never quotes it (it carries the payer's ID).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is not a JSON object")]
    NotJson,
    #[error("the answer's signature does not verify with the merchant's SM2 public key")]
    BadSignature,
    #[error("the answer's mchId is not the merchant's")]
    OtherMerchant,
    #[error("the answer's data: {0}")]
    Data(codec::OpenError),
    #[error("the answer is about another payer than the one asked for")]
    OtherPayer,
    #[error("the answer's orderData is not a list")]
    NotAList,
}

/// The `orderData` entries of the merchant's answer, once it verifies and is about the
/// payer asked for.
pub fn read_answer(
    merchant: HrssMerchant<'_>,
    body: &[u8],
    id_type: &str,
    id_number: &Personal,
) -> Result<Vec<Value>, AnswerError> {
    let fields: Params = match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => fields,
        _ => return Err(AnswerError::NotJson),
    };
    // §5.1.3 defines no `sign`: without one the answer is taken; with one, it must verify.
    match fields.get("sign") {
        None | Some(Value::Null) => {}
        Some(Value::String(sign)) if sign.is_empty() => {}
        Some(Value::String(sign)) => {
            let signed = codec::received_json_string_to_sign(body).ok_or(AnswerError::NotJson)?;
            if !merchant.keys.public.verify(signed.as_bytes(), sign) {
                return Err(AnswerError::BadSignature);
            }
        }
        Some(_) => return Err(AnswerError::BadSignature),
    }
    let mch_id = fields.get("mchId").and_then(crate::common::value_text);
    if mch_id.as_deref() != Some(merchant.credentials.mch_id.as_str()) {
        return Err(AnswerError::OtherMerchant);
    }
    let data = fields.get("data").unwrap_or(&Value::Null);
    let data = codec::open(data, merchant.keys.data_key()).map_err(AnswerError::Data)?;
    // Every field reads any JSON value, so this cannot fail on the payer's values.
    let answer: UnpaidOrders = wire::read_params(&data).unwrap_or_default();
    let same_payer = answer
        .id_number_order
        .as_ref()
        .is_none_or(|n| n == id_number)
        && answer.id_type_order.as_deref().is_none_or(|t| t == id_type);
    if !same_payer {
        return Err(AnswerError::OtherPayer);
    }
    match answer.order_data {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(entries)) => Ok(entries),
        Some(_) => Err(AnswerError::NotAList),
    }
}

/// §5.1: asks the merchant's system for the payer's unpaid orders.
async fn query_unpaid(
    http: &reqwest::Client,
    merchant: HrssMerchant<'_>,
    platform: &PrivateKey,
    id_type: &str,
    id_number: &Personal,
) -> Result<Vec<Value>, String> {
    let url = &merchant.credentials.order_query_url;
    if url.is_empty() {
        return Err("the merchant has no order_query_url (§5.1)".into());
    }
    let body = order_query_body(merchant, platform, id_type, id_number);
    let response = http
        .post(url)
        .header("content-type", "application/json;charset=UTF-8")
        .body(Value::Object(body).to_string())
        .send()
        .await
        .map_err(|e| format!("§5.1 call to {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("§5.1 call to {url}: HTTP {status}"));
    }
    let (bytes, complete) = read_at_most(response, MAX_REPLY_BYTES)
        .await
        .map_err(|e| format!("§5.1 call to {url}: {e}"))?;
    if !complete {
        return Err(format!(
            "§5.1 call to {url}: the answer is larger than {MAX_REPLY_BYTES} bytes"
        ));
    }
    read_answer(merchant, &bytes, id_type, id_number)
        .map_err(|e| format!("§5.1 call to {url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::merchants::MerchantTable;
    use crate::common::testdata::fixture;
    use paymux_core::ids::MerchantId;
    use serde_json::json;

    fn merchants(plaintext: bool) -> HrssMerchants {
        merchants_at(plaintext, "https://his.example/orders")
    }

    fn merchants_at(plaintext: bool, order_query_url: &str) -> HrssMerchants {
        let text = format!(
            "access_key = \"DOTEST\"\napp_id = \"A203\"\nmch_id = \"M100043\"\nsm2_public_key = \"{}\"\nsm4_key = \"{}\"\nplaintext = {plaintext}\norder_query_url = \"{order_query_url}\"\n",
            fixture("hrss", "merchant.public-key.txt"),
            fixture("hrss", "sm4.key.txt"),
        );
        HrssMerchants::from_tables(&[MerchantTable {
            merchant: MerchantId::new("demo"),
            table: toml::from_str(&text).unwrap(),
        }])
        .unwrap()
    }

    fn merchant_key() -> PrivateKey {
        PrivateKey::parse(&fixture("hrss", "merchant.private-key.txt")).unwrap()
    }

    fn payer() -> Personal {
        Personal("510121687837179580".into())
    }

    /// The merchant's answer with this data, signed as the merchant's system signs it.
    fn answer(merchant: HrssMerchant<'_>, data: &Params, key: &PrivateKey) -> Vec<u8> {
        let body = notify::signed(
            "M100043",
            &merchant.credentials.mch_id,
            codec::seal(data, merchant.keys.data_key()),
            key,
        );
        Value::Object(body).to_string().into_bytes()
    }

    /// §5.1.3's example (its notifyUrl placeholder "异步通知地址" made an address).
    fn spec_data() -> Params {
        serde_json::from_str(&fixture("hrss", "order-query.answer-data.json")).unwrap()
    }

    #[test]
    fn the_spec_example_answer_reads_as_two_orders_of_type_10001() {
        for plaintext in [false, true] {
            let merchants = merchants(plaintext);
            let merchant = merchants.all()[0];
            let body = answer(merchant, &spec_data(), &merchant_key());
            let entries = read_answer(merchant, &body, "01", &payer()).unwrap();
            assert_eq!(entries.len(), 2);
            let choices: Vec<BillChoice> = entries
                .iter()
                .map(|e| {
                    let order: MerchantOrder = wire::from_params(e.as_object().unwrap());
                    convert::merchant_order(&order, "01", false).unwrap()
                })
                .collect();
            let first = &choices[0];
            assert_eq!(first.label, "测试订单1(仅供测试)");
            assert_eq!(first.bill.amount.unwrap().get(), 20);
            assert_eq!(
                first.bill.merchant_order_no.as_ref().unwrap().as_str(),
                "1687837179580"
            );
            assert_eq!(first.bill.subject.as_deref(), Some("测试订单1"));
            assert_eq!(
                first.bill.notify_url.as_ref().unwrap().as_str(),
                "https://his.example/hrss/notify"
            );
            // The repeated key reads as its last value, which is in the code table.
            assert_eq!(first.bill.extra["orderType"], "10001");
            assert_eq!(first.bill.extra["idTypeOrder"], "01");
            assert!(
                !Value::Object(first.bill.extra.clone())
                    .to_string()
                    .contains("510121687837179580"),
                "the ID number is not kept"
            );
            assert_eq!(
                choices[1].bill.merchant_order_no.as_ref().unwrap().as_str(),
                "1687837179582"
            );
        }
    }

    #[test]
    fn an_answer_that_is_not_the_merchants_about_this_payer_is_refused() {
        let merchants = merchants(false);
        let merchant = merchants.all()[0];
        let read = |body: &[u8]| read_answer(merchant, body, "01", &payer());

        let forged = answer(merchant, &spec_data(), &PrivateKey::generate().unwrap());
        assert_eq!(read(&forged), Err(AnswerError::BadSignature));

        let mut not_a_signature: Params =
            serde_json::from_slice(&answer(merchant, &spec_data(), &merchant_key())).unwrap();
        not_a_signature.insert("sign".into(), json!(1));
        let not_a_signature = Value::Object(not_a_signature).to_string();
        assert_eq!(
            read(not_a_signature.as_bytes()),
            Err(AnswerError::BadSignature)
        );

        let mut tampered: Params =
            serde_json::from_slice(&answer(merchant, &spec_data(), &merchant_key())).unwrap();
        tampered.insert(
            "data".into(),
            codec::seal(&Params::new(), merchant.keys.data_key()),
        );
        let tampered = Value::Object(tampered).to_string();
        assert_eq!(read(tampered.as_bytes()), Err(AnswerError::BadSignature));

        let other_merchant = notify::signed(
            "A203",
            "M999",
            codec::seal(&spec_data(), merchant.keys.data_key()),
            &merchant_key(),
        );
        let other_merchant = Value::Object(other_merchant).to_string();
        assert_eq!(
            read(other_merchant.as_bytes()),
            Err(AnswerError::OtherMerchant)
        );

        let mut other_payer = spec_data();
        other_payer.insert("idNumberOrder".into(), "110101199003071234".into());
        let body = answer(merchant, &other_payer, &merchant_key());
        assert_eq!(read(&body), Err(AnswerError::OtherPayer));
        let error = read(&body).unwrap_err().to_string();
        assert!(!error.contains("1101011990") && !error.contains("5101216878"));

        let mut not_a_list = spec_data();
        not_a_list.insert("orderData".into(), Value::String("x".into()));
        let body = answer(merchant, &not_a_list, &merchant_key());
        assert_eq!(read(&body), Err(AnswerError::NotAList));

        let mut none = spec_data();
        none.remove("orderData");
        assert_eq!(
            read(&answer(merchant, &none, &merchant_key())),
            Ok(Vec::new())
        );
        assert_eq!(read(b"<html>"), Err(AnswerError::NotJson));
    }

    #[test]
    fn an_answer_without_sign_is_taken_as_the_spec_shows_it() {
        for plaintext in [false, true] {
            let merchants = merchants(plaintext);
            let merchant = merchants.all()[0];
            let mut body: Params =
                serde_json::from_slice(&answer(merchant, &spec_data(), &merchant_key())).unwrap();
            for unsigned in [Value::Null, json!("")] {
                body.insert("sign".into(), unsigned);
                let text = Value::Object(body.clone()).to_string();
                assert_eq!(
                    read_answer(merchant, text.as_bytes(), "01", &payer())
                        .unwrap()
                        .len(),
                    2
                );
            }
            body.remove("sign");
            let text = Value::Object(body).to_string();
            assert_eq!(
                read_answer(merchant, text.as_bytes(), "01", &payer())
                    .unwrap()
                    .len(),
                2
            );
        }
    }

    #[test]
    fn a_plaintext_answer_is_verified_over_the_text_the_merchant_signed() {
        let merchants = merchants(true);
        let merchant = merchants.all()[0];
        // As the spec prints it, orderType twice in each order, and spaced.
        let data = fixture("hrss", "order-query.answer-data.json")
            .trim()
            .replace(",\"", ", \"");
        assert!(data.matches("\"orderType\"").count() > 2, "{data}");
        let signed = format!("appId=A203&data={data}&mchId=M100043");
        let sign = merchant_key().sign(signed.as_bytes());
        let body =
            format!(r#"{{"appId": "A203", "mchId": "M100043", "data": {data}, "sign": "{sign}"}}"#);
        assert_eq!(
            read_answer(merchant, body.as_bytes(), "01", &payer())
                .unwrap()
                .len(),
            2
        );
        // Altered after it was signed, it does not verify.
        let tampered = body.replacen("测试订单1", "测试订单9", 1);
        assert_eq!(
            read_answer(merchant, tampered.as_bytes(), "01", &payer()),
            Err(AnswerError::BadSignature)
        );
    }

    #[test]
    fn a_plaintext_merchant_is_not_asked_over_http_but_on_its_own_network_when_allowed() {
        let refused = |plaintext: bool, url: &str, allow_private: bool| {
            let merchants = merchants_at(plaintext, url);
            in_clear(merchants.all()[0], allow_private).err()
        };
        for (url, allow_private) in [
            ("http://his.example/orders", false),
            ("http://his.example/orders", true),
            ("HTTP://1.1.1.1:8080/orders", true),
            ("http://8.8.8.8/orders", true),
        ] {
            let error = refused(true, url, allow_private).expect(url);
            assert!(
                error.contains("merchant demo") && error.contains("order_query_url"),
                "{error}"
            );
        }
        for (plaintext, url, allow_private) in [
            (true, "https://his.example/orders", false),
            (true, "http://127.0.0.1:9000/orders", true),
            (true, "http://10.1.2.3/orders", true),
            (true, "http://localhost/orders", true),
            (false, "http://his.example/orders", false),
        ] {
            assert_eq!(refused(plaintext, url, allow_private), None, "{url}");
        }
    }

    #[test]
    fn the_request_is_signed_by_the_platform_and_carries_the_payer_encrypted() {
        let merchants = merchants(false);
        let merchant = merchants.all()[0];
        let platform = PrivateKey::generate().unwrap();
        let body = order_query_body(merchant, &platform, "01", &payer());
        let keys: Vec<&str> = body.keys().map(String::as_str).collect();
        assert_eq!(keys, ["appId", "mchId", "data", "sign"]);
        let signed = format!(
            "appId=A203&data={}&mchId=M100043",
            body["data"].as_str().unwrap()
        );
        assert!(
            platform
                .public_key()
                .verify(signed.as_bytes(), body["sign"].as_str().unwrap())
        );
        let data = codec::open(&body["data"], merchant.keys.data_key()).unwrap();
        assert_eq!(
            Value::Object(data).to_string(),
            r#"{"idTypeOrder":"01","idNumberOrder":"510121687837179580"}"#
        );
    }

    #[test]
    fn malformed_orders_are_refused_field_by_field_without_their_values() {
        let good: Params = spec_data()["orderData"][0].as_object().unwrap().clone();
        for (field, value, why) in [
            ("orderAmount", json!(0), "orderAmount"),
            ("orderAmount", json!("1.5"), "orderAmount"),
            ("mchOrderId", json!("x".repeat(33)), "mchOrderId"),
            ("orderType", json!("02"), "orderType"),
            ("notifyUrl", json!("ftp://his.example/n"), "notifyUrl"),
            ("notifyUrl", json!("http://127.0.0.1/n"), "notifyUrl"),
            ("orderCreateTime", json!("2023/06/27"), "orderCreateTime"),
            ("orderTitle", json!(""), "orderTitle"),
            ("bizParams", json!("not json"), "bizParams"),
        ] {
            let mut entry = good.clone();
            entry.insert(field.into(), value.clone());
            let order: MerchantOrder = wire::from_params(&entry);
            let error = convert::merchant_order(&order, "01", false)
                .err()
                .unwrap_or_else(|| panic!("{field}={value} was taken"))
                .to_string();
            assert!(error.contains(why), "{error}");
        }
        let mut entry = good.clone();
        entry.remove("notifyUrl");
        entry.remove("orderDesc");
        let order: MerchantOrder = wire::from_params(&entry);
        let choice = convert::merchant_order(&order, "90", false).unwrap();
        assert!(
            choice.bill.notify_url.is_none(),
            "the code's address is used"
        );
        assert_eq!(choice.label, "测试订单1");
    }

    #[test]
    fn the_payers_answers_are_checked_before_the_merchant_is_asked() {
        assert_eq!(
            convert::payer_id(Some(" 90 "), Some(" 123 ")).unwrap(),
            ("90".to_owned(), Personal("123".into()))
        );
        assert_eq!(convert::payer_id(None, Some("1")).unwrap().0, "01");
        for (t, n) in [
            (Some("02"), Some("1")),
            (Some("01"), None),
            (Some("01"), Some("")),
            (Some("01"), Some("1 2")),
            (Some("01"), Some(&*"9".repeat(33))),
        ] {
            let error = convert::payer_id(t, n).unwrap_err();
            assert!(!error.to_string().contains("999"), "{error}");
            assert!(!payer_mistake(&error).contains("999"), "{error}");
        }
        let said = |t, n| payer_mistake(&convert::payer_id(t, n).unwrap_err());
        assert_eq!(
            said(Some("02"), Some("1")),
            "请检查证件类型/号码:证件类型应为01、90或99"
        );
        assert_eq!(
            said(Some("01"), Some("")),
            "请检查证件类型/号码:请填写证件号码"
        );
        assert_eq!(
            said(Some("01"), Some(&*"9".repeat(33))),
            "请检查证件类型/号码:证件号码长度不能超过32"
        );
    }
}
