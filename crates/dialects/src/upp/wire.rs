//! upp messages, spelled as the spec spells them (§3, §4.1–§4.7).
//!
//! `isvId`, `partnerId` and `timestamp` are numbers on the wire and amounts are yuan
//! strings; Java merchants also send `BigDecimal` amounts as JSON numbers and ids as
//! strings, so every request field is read as text (numbers by their exact JSON text).

use serde::{Deserialize, Serialize};

pub use crate::common::{Params, from_params, read_params, to_params, value_text};

pub const VERSION: &str = "1.0.0";

/// The fields every request carries (§4, 输入参数 root).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(default, deserialize_with = "crate::common::text")]
    pub isv_id: Option<String>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub partner_id: Option<String>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub sign: Option<String>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub timestamp: Option<String>,
}

/// §4.2 扫码付下单.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanCodeRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_product: Option<String>,
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
    pub trade_fee: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub district_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_data: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expand_data: Option<String>,
}

/// §4.3 条码付下单: the channel comes from the payer's code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BarcodeRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_no: Option<String>,
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
    pub trade_fee: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub district_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_data: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expand_data: Option<String>,
}

/// §4.4 支付查询 and §4.7 交易关闭.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRef {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_no: Option<String>,
}

/// §4.5 退款申请.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_fee: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_data: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expand_data: Option<String>,
}

/// §4.6 退款查询.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundQueryRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_no: Option<String>,
}

/// Every reply: `result` a JSON boolean, `kind` a string ("0" is success), `timestamp`
/// a number, `data` the interface's object where there is one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default)]
    pub result: bool,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub msg: Option<String>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub version: Option<String>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ReplyData>,
    #[serde(default, deserialize_with = "crate::common::text")]
    pub sign: Option<String>,
}

/// The `data` object of every interface's reply (each uses the fields the spec lists for it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyData {
    /// §4.1 only.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub field: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_product: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub out_payment_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_payment_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_fee: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_time: Option<String>,
    /// §4.2: the URL that opens the cashier (its name is lost in the spec's PDF).
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_url: Option<String>,
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
    pub refund_fee: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub failed_reason: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub out_refund_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_close_order: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_data: Option<String>,
}
