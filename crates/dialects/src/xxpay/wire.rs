//! xxpay messages, spelled as the spec spells them (§2.1.4, §2.1.5, §2.2.3, §2.2.4, §2.3.2).
//!
//! Requests arrive as a JSON object whose values may be strings, numbers or booleans
//! (`"amount":100` and `"amount":"100"` are the same field), so every field is read as
//! text here and parsed into domain types in `convert.rs`. Unknown fields are kept in the
//! raw [`Params`] (they are signed too) and otherwise ignored.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A message as its ordered JSON object: what is signed and what goes on the wire.
pub type Params = Map<String, Value>;

/// The text of a field as the signature sees it: numbers and booleans as written,
/// objects as compact JSON, `null` and `""` as absent.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(value_text))
}

fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(value_text)
        .and_then(|s| s.parse().ok()))
}

/// §2.1.4 统一下单 request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderRequest {
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_order_no: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub param1: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub param2: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// §2.2.3 查询支付订单 request. One of `payOrderId` and `mchOrderNo` is enough.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryOrderRequest {
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub pay_order_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_order_no: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub execute_notify: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// §2.1.5 统一下单 reply. `payParams` is not signed (as xxpay-master does).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderReply {
    #[serde(default, deserialize_with = "text")]
    pub ret_code: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub ret_msg: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub pay_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_params: Option<PayParams>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// What the payer needs. `payUrl` is the spec's; a value starting with `POST;` is to be
/// submitted as a form (the part after `?` as fields). `codeUrl` is the QR content, for
/// merchants who draw their own code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
}

/// §2.2.4 查询支付订单 reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryOrderReply {
    #[serde(default, deserialize_with = "text")]
    pub ret_code: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub ret_msg: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "integer", skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub pay_order_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_order_no: Option<String>,
    #[serde(default, deserialize_with = "integer", skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "integer", skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub channel_user: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub channel_order_no: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub channel_attach: Option<String>,
    #[serde(default, deserialize_with = "integer", skip_serializing_if = "Option::is_none")]
    pub pay_succ_time: Option<i64>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// §2.3.2 支付结果通知: exactly these fields, in this order, as form fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayNotification {
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub pay_order_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub mch_order_no: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub channel_order_no: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub channel_attach: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub param1: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub param2: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub pay_succ_time: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub back_type: Option<String>,
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// Reads a typed message from its params (fields of the wrong JSON type read as absent).
pub fn from_params<T: for<'de> Deserialize<'de> + Default>(params: &Params) -> T {
    serde_json::from_value(Value::Object(params.clone())).unwrap_or_default()
}

/// The params of a typed message, in its declared field order.
pub fn to_params<T: Serialize>(message: &T) -> Params {
    match serde_json::to_value(message) {
        Ok(Value::Object(map)) => map,
        _ => Params::new(),
    }
}
