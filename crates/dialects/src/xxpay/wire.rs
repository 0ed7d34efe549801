//! xxpay messages, spelled as the spec spells them (§2.1.4, §2.1.5, §2.2.3, §2.2.4, §2.3.2).
//!
//! Requests arrive as a JSON object whose values may be strings, numbers or booleans
//! (`"amount":100` and `"amount":"100"` are the same field), so every field is read as
//! text here and parsed into domain types in `convert.rs`. Unknown fields are kept in the
//! raw [`Params`] (they are signed too) and otherwise ignored.

use serde::{Deserialize, Serialize};

pub use crate::common::{Params, from_params, read_params, to_params, value_text};

/// §2.1.4 统一下单 request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub currency: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_ip: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub device: Option<String>,
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
    pub notify_url: Option<String>,
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
    pub body: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub param1: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub param2: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}

/// §2.2.3 查询支付订单 request. One of `payOrderId` and `mchOrderNo` is enough.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryOrderRequest {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub execute_notify: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}

/// §2.1.5 统一下单 reply. `payParams` is not signed (as xxpay-master does).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderReply {
    #[serde(default, deserialize_with = "crate::common::text")]
    pub ret_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ret_msg: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_params: Option<PayParams>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
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
    #[serde(default, deserialize_with = "crate::common::text")]
    pub ret_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ret_msg: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_id: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub currency: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_user: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_attach: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_succ_time: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}

/// §2.3.2 支付结果通知: exactly these fields, in this order, as form fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayNotification {
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub product_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<String>,
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
    pub channel_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_attach: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub param1: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub param2: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_succ_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub back_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}
