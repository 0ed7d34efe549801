//! chinaums messages, spelled as the spec spells them (§1.1–§1.11).
//!
//! Every request field is read as text (numbers by their exact JSON text, booleans as
//! `true`/`false`), so amounts arrive as JSON numbers or numeric strings alike; `goods` and
//! `subOrders` are read as JSON. The client sends amounts as numbers.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use crate::common::{Params, from_params, read_params, to_params, value_text};

/// `instMid` of the QR-bill business.
pub const INST_MID: &str = "QRPAYDEFAULT";

/// `billBizType` of a bill's payments.
pub const BILL_BIZ_TYPE: &str = "bills";

/// Reads any JSON value but `null`.
fn json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.filter(|v| !v.is_null()))
}

/// Writes an amount held as text as a JSON number when it is an integer (the spec's
/// 数字型), as the text otherwise.
fn number<S: Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match value.as_deref().map(|t| (t, t.parse::<i64>())) {
        Some((_, Ok(n))) => s.serialize_i64(n),
        Some((t, Err(_))) => s.serialize_str(t),
        None => s.serialize_none(),
    }
}

/// §1.1 get-qrcode and §1.2 update-qrcode (which adds nothing paymux reads: its
/// `billStatus` is ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrCodeRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_desc: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        serialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_amount: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub division_flag: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        serialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub platform_amount: Option<String>,
    #[serde(
        default,
        deserialize_with = "json",
        skip_serializing_if = "Option::is_none"
    )]
    pub goods: Option<Value>,
    #[serde(
        default,
        deserialize_with = "json",
        skip_serializing_if = "Option::is_none"
    )]
    pub sub_orders: Option<Value>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub counter_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expire_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub return_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub secure_transaction: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_option: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mobile: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cert_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cert_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub fix_buyer: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit_credit_card: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_info_query_addr: Option<String>,
}

/// §1.3 close-qrcode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseQrCodeRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub attach_refund: Option<String>,
}

/// §1.4 query: `billNo` (or a try's `merOrderId` in its place) and `billDate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mer_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_order_id: Option<String>,
}

/// §1.5 refund.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mer_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        serialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_amount: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        serialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub platform_amount: Option<String>,
    #[serde(
        default,
        deserialize_with = "json",
        skip_serializing_if = "Option::is_none"
    )]
    pub sub_orders: Option<Value>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_desc: Option<String>,
}

/// §1.6 query-qrcode-info (institution mode: `mid` may be left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrCodeInfoRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_id: Option<String>,
}

/// §1.7 secure-cancel and §1.8 secure-complete (which adds `completedAmount`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mer_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        serialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed_amount: Option<String>,
}

/// §1.9: what paymux asks the merchant's `payInfoQueryAddr` when a payer opens a fixed code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayInfoQuery {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_src: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub counter_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}

/// §1.9: the merchant's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayInfoReply {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_msg: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_time_stamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        serialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_amount: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_desc: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub counter_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}

/// A try at a bill (`billPayment`) or a refund of it (`refundBillPayment`): §1.4, §1.10,
/// §1.11. Its field order is the spec's notification example's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillPayment {
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_biz_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_seq_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub invoice_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_pay_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub coupon_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_detail: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub settle_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_username: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mer_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_sys: Option<String>,
}

/// Every interface's reply: the fields of all of them, each interface filling its own
/// (absent ones are left out). Amounts are numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_msg: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_time_stamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timestamp: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub src_reserve: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub inst_mid: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_desc: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "json",
        skip_serializing_if = "Option::is_none"
    )]
    pub goods: Option<Value>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub counter_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expire_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub return_url: Option<String>,
    #[serde(
        rename = "billQRCode",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_qr_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mer_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub memo: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub secure_status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub complete_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_payment: Option<BillPayment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_bill_payment: Option<BillPayment>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mer_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_target_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_pay_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_sys: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub seq_id: Option<String>,
    /// §1.8's example spells it `segId`; the same value as `seqId`.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub seg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub settle_ref_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub card_attr: Option<String>,
}
