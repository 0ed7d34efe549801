//! hrss messages, spelled as the spec spells them: the public parameters of §3.5.1.4 and
//! §3.5.1.5, and the business data (`data`, encrypted) of §4.1–§4.8 and §5.2.
//!
//! Business data arrives as a JSON object whose values may be strings or numbers
//! (`"orderAmount":1` and `"orderAmount":"1"` are the same field), so request fields are
//! read as text here and parsed into domain types in `convert.rs`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use crate::common::{Params, from_params, read_params, to_params};

/// §3.5.1.4: the only version the services are published at.
pub const VERSION: &str = "1.0";
/// §3.5.1.6, code 1.
pub const SUCCESS_MSG: &str = "调用成功";

/// paymux's own serviceKey for [`Service::StaticCode`]: not a number, so that it cannot
/// meet a key the platform publishes later.
pub const STATIC_CODE_KEY: &str = "paymux.staticCode";

/// The services of §4, by their serviceKey (the last part of `/{context}/rest/{serviceKey}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// §4.1 线上支付下单.
    OnlineOrder,
    /// §4.2 用户被扫支付下单.
    PassiveScan,
    /// §4.3 用户主扫支付下单(动态码).
    DynamicCode,
    /// §4.5 订单查询.
    Query,
    /// §4.6 退款.
    Refund,
    /// §4.8 订单关闭.
    Close,
    /// §4.7 退款查询.
    RefundQuery,
    /// paymux's own: a static code's page and QR image (§4.4.1; the spec has no key).
    StaticCode,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::OnlineOrder,
        Service::PassiveScan,
        Service::DynamicCode,
        Service::Query,
        Service::Refund,
        Service::Close,
        Service::RefundQuery,
        Service::StaticCode,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Service::OnlineOrder => "88800200001",
            Service::PassiveScan => "88800400001",
            Service::DynamicCode => "88800300001",
            Service::Query => "88800100001",
            Service::Refund => "88800100002",
            Service::Close => "88800100003",
            Service::RefundQuery => "88800100004",
            Service::StaticCode => STATIC_CODE_KEY,
        }
    }

    pub fn from_key(key: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// Text about a person (an ID number, a name): read and written like any field, but never
/// shown by `Debug`, so that no log line can carry it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Personal(pub String);

impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Personal(…)")
    }
}

impl Serialize for Personal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

fn personal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Personal>, D::Error> {
    Ok(crate::common::text(d)?.map(Personal))
}

/// `biz_content` (§3.5.1.4): `data` is the encrypted text, or the object itself for a
/// merchant configured for plaintext.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BizContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaz001: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// §3.5.1.5: every reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub code: String,
    pub msg: String,
    #[serde(default)]
    pub sub_code: String,
    #[serde(default)]
    pub sub_msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_data: Option<BizData>,
}

/// §3.5.1.5 `biz_data`: `code` "1" success, "0" failure (with `message` saying why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BizData {
    pub code: String,
    pub message: String,
    pub appid: String,
    pub aaz001: String,
    pub aaz002: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// §4.1, §4.2 and §4.3 (online order, passive scan, dynamic code): one set of fields, of
/// which each service reads its own (see `convert.rs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    #[serde(
        rename = "wayCode",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub way_code: Option<String>,
    #[serde(
        rename = "orderAmount",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_amount: Option<String>,
    #[serde(
        rename = "mchOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_id: Option<String>,
    #[serde(
        rename = "orderType",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_type: Option<String>,
    #[serde(
        rename = "payType",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_type: Option<String>,
    #[serde(
        rename = "notifyUrl",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        rename = "returnUrl",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub return_url: Option<String>,
    #[serde(
        rename = "orderCreateTime",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_create_time: Option<String>,
    #[serde(
        rename = "idTypeOrder",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_type_order: Option<String>,
    #[serde(
        rename = "idNumberOrder",
        default,
        deserialize_with = "personal",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_number_order: Option<Personal>,
    #[serde(
        rename = "idNameOrder",
        default,
        deserialize_with = "personal",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_name_order: Option<Personal>,
    /// §4.2 only: the payer's 电子社保卡 or 电子健康码.
    #[serde(
        rename = "qrCode",
        default,
        deserialize_with = "personal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_code: Option<Personal>,
    #[serde(
        rename = "orderTitle",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_title: Option<String>,
    #[serde(
        rename = "orderDesc",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_desc: Option<String>,
    #[serde(
        rename = "orderDetail",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_detail: Option<String>,
    #[serde(
        rename = "bizParams",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_params: Option<String>,
    #[serde(
        rename = "extraParams",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub extra_params: Option<String>,
}

/// §4.1.3, §4.2.3, §4.3.3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderReply {
    #[serde(rename = "mchOrderId")]
    pub mch_order_id: String,
    #[serde(rename = "payOrderId")]
    pub pay_order_id: String,
    /// §4.1, §4.2: the cashier, as the JSON text of §6.2.
    #[serde(rename = "payUrl", default, skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
    /// §4.3: `data:image/png;base64,…` of the QR code.
    #[serde(rename = "qrImage", default, skip_serializing_if = "Option::is_none")]
    pub qr_image: Option<String>,
}

/// §6.2: what `payUrl` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CashierLink {
    #[serde(rename = "type")]
    pub kind: String,
    pub appid: String,
    pub path: String,
    #[serde(rename = "extraData")]
    pub extra_data: CashierExtra,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CashierExtra {
    #[serde(rename = "payNo")]
    pub pay_no: String,
}

/// §4.5.2 订单查询 (both numbers required).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryRequest {
    #[serde(
        rename = "mchOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_id: Option<String>,
    #[serde(
        rename = "payOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
}

/// §4.8.2 订单关闭.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloseRequest {
    #[serde(
        rename = "mchOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_id: Option<String>,
    #[serde(
        rename = "payOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(
        rename = "closeDesc",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub close_desc: Option<String>,
}

/// §4.6.2 退款: `orderAmount` is the amount to refund.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefundRequest {
    #[serde(
        rename = "mchOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_id: Option<String>,
    #[serde(
        rename = "payOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(
        rename = "orderAmount",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_amount: Option<String>,
    #[serde(
        rename = "mchRefundId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_refund_id: Option<String>,
}

/// §4.7.2 退款查询.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefundQueryRequest {
    #[serde(
        rename = "mchOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_id: Option<String>,
    #[serde(
        rename = "refundOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_order_id: Option<String>,
}

fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    crate::common::integer(d)
}

/// §4.5.3 订单查询, and §4.8.3 订单关闭 (its first three fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderData {
    #[serde(rename = "mchOrderId")]
    pub mch_order_id: String,
    #[serde(rename = "payOrderId")]
    pub pay_order_id: String,
    #[serde(rename = "payStatus")]
    pub pay_status: String,
    #[serde(
        rename = "refundStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_status: Option<String>,
    #[serde(rename = "payTime", default, skip_serializing_if = "Option::is_none")]
    pub pay_time: Option<String>,
    #[serde(rename = "wayCode", default, skip_serializing_if = "Option::is_none")]
    pub way_code: Option<String>,
    #[serde(
        rename = "orderAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_amount: Option<i64>,
    #[serde(
        rename = "totalAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_amount: Option<i64>,
    #[serde(
        rename = "receiptAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_amount: Option<i64>,
    #[serde(
        rename = "couponAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub coupon_amount: Option<i64>,
    #[serde(
        rename = "channelOrderId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_order_id: Option<String>,
    #[serde(
        rename = "channelMsg",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_msg: Option<String>,
}

/// §4.6.3 退款 and §4.7.3 退款查询 (with `payOrderId`, as their examples have it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefundData {
    #[serde(rename = "mchRefundId")]
    pub mch_refund_id: String,
    #[serde(
        rename = "payOrderId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_order_id: Option<String>,
    #[serde(rename = "refundOrderId")]
    pub refund_order_id: String,
    #[serde(rename = "refundStatus")]
    pub refund_status: String,
    #[serde(
        rename = "refundTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_time: Option<String>,
    #[serde(
        rename = "payAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_amount: Option<i64>,
    #[serde(
        rename = "refundAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_amount: Option<i64>,
    #[serde(
        rename = "refundRealAmt",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_real_amt: Option<i64>,
    #[serde(
        rename = "channelRefundOrderId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_refund_order_id: Option<String>,
    #[serde(
        rename = "channelMsg",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_msg: Option<String>,
}

/// §5.2.2: the notification's body, `data` encrypted (or the object, in plaintext).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "mchId")]
    pub mch_id: String,
    pub data: Value,
    pub sign: String,
}

/// §5.2.2 `data`, in the order of the spec's example.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationData {
    pub appid: String,
    #[serde(rename = "mchOrderId")]
    pub mch_order_id: String,
    #[serde(rename = "payOrderId")]
    pub pay_order_id: String,
    #[serde(rename = "payStatus")]
    pub pay_status: String,
    #[serde(rename = "payTime", default, skip_serializing_if = "Option::is_none")]
    pub pay_time: Option<String>,
    #[serde(rename = "wayCode")]
    pub way_code: String,
    #[serde(
        rename = "orderAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_amount: Option<i64>,
    #[serde(
        rename = "totalAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_amount: Option<i64>,
    #[serde(
        rename = "receiptAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_amount: Option<i64>,
    #[serde(
        rename = "couponAmount",
        default,
        deserialize_with = "amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub coupon_amount: Option<i64>,
    #[serde(
        rename = "channelOrderId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_order_id: Option<String>,
    #[serde(rename = "errCode", default, skip_serializing_if = "Option::is_none")]
    pub err_code: Option<String>,
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
}

/// §5.2.3: the merchant's answer to a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    #[serde(rename = "isSuccess")]
    pub is_success: String,
    #[serde(rename = "returnMsg", default)]
    pub return_msg: String,
}

/// §5.1.2 `data`: whose unpaid orders the platform asks the merchant's system for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderQueryData {
    #[serde(rename = "idTypeOrder")]
    pub id_type_order: String,
    #[serde(rename = "idNumberOrder")]
    pub id_number_order: Personal,
}

/// §5.1.3 `data`: the payer again, and their unpaid orders. The entries are read one by
/// one (`convert::merchant_order`), so that one malformed entry does not hide the others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnpaidOrders {
    #[serde(
        rename = "idTypeOrder",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_type_order: Option<String>,
    #[serde(
        rename = "idNumberOrder",
        default,
        deserialize_with = "personal",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_number_order: Option<Personal>,
    #[serde(rename = "orderData", default, skip_serializing_if = "Option::is_none")]
    pub order_data: Option<Value>,
}

/// §5.1.3 `orderData`: one unpaid order of the merchant's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MerchantOrder {
    #[serde(
        rename = "orderAmount",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_amount: Option<String>,
    #[serde(
        rename = "mchOrderId",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mch_order_id: Option<String>,
    #[serde(
        rename = "orderType",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_type: Option<String>,
    #[serde(
        rename = "notifyUrl",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        rename = "orderCreateTime",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_create_time: Option<String>,
    #[serde(
        rename = "orderTitle",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_title: Option<String>,
    #[serde(
        rename = "orderDesc",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_desc: Option<String>,
    #[serde(
        rename = "orderDetail",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_detail: Option<String>,
    #[serde(
        rename = "bizParams",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_params: Option<String>,
    #[serde(
        rename = "extraParams",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub extra_params: Option<String>,
}

/// paymux's own service (not in the spec): a merchant asks for the page and QR image of a
/// static code the operator declared for it (§4.4.1: "商户在人社支付平台方请求一个静态支付二维码").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticCodeRequest {
    #[serde(
        rename = "codeRef",
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code_ref: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticCodeReply {
    #[serde(rename = "codeRef")]
    pub code_ref: String,
    /// 1: the payer enters the amount; 2: the payer picks an unpaid order of the merchant's
    /// (§5.1).
    #[serde(rename = "staticMode")]
    pub static_mode: String,
    pub subject: String,
    /// `active`, or `closed`.
    pub status: String,
    /// The page the code's QR image opens.
    #[serde(rename = "codeUrl")]
    pub code_url: String,
    /// `data:image/png;base64,…` of the QR code of codeUrl.
    #[serde(rename = "qrImage")]
    pub qr_image: String,
}
