//! xxpay messages, spelled as the spec spells them (§2.1.4, §2.1.5, §2.2.3, §2.2.4, §2.3.2),
//! and the extensions the published merchant code sends and reads (see `mod.rs`).
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
    /// xxpay-master's older requests name the way to pay by `channelId` (`WX_NATIVE`, …)
    /// instead of `productId`.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
    /// The payer's id at the wallet (openid): required by 8023, the WeChat mini-program.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_user_id: Option<String>,
    /// xxpay4pro: the payer's code for 8020/8021 (barcode). xxpay-master: a JSON text with
    /// `openId` for `WX_JSAPI`.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub extra: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign: Option<String>,
}

/// §2.2 查询支付订单 request. One of `payOrderId` and `mchOrderNo` is enough.
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

/// 关闭支付订单 (xxpay4pro's `/api/pay/close_order`; not in the spec). One of `payOrderId`
/// and `mchOrderNo` is enough.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseOrderRequest {
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
    pub sign: Option<String>,
}

/// §2.1.5 统一下单 reply. `payParams` is not signed (as xxpay-master does); everything else is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderReply {
    #[serde(default, deserialize_with = "crate::common::text")]
    pub ret_code: Option<String>,
    /// xxpay-master's clients read `resCode` beside `retCode`; always the same value.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub res_code: Option<String>,
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
    /// Barcode payments (xxpay4pro): 1 the payer is confirming, 2 paid.
    #[serde(
        default,
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_status: Option<i64>,
    /// xxpay-master's place for a QR code's content (`WX_NATIVE`, `ALIPAY_QR`).
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code_url: Option<String>,
    /// xxpay-master's place for where the payer goes (`WX_MWEB`: a URL; `ALIPAY_WAP`,
    /// `ALIPAY_PC`: a self-submitting HTML form, as Alipay's SDK renders it).
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_url: Option<String>,
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
/// merchants who draw their own code. WeChat in-app and mini-program payments add the fields
/// of WeChat's JSAPI call (`WeixinJSBridge.invoke('getBrandWCPayRequest', payParams)`), and
/// xxpay-master's `WX_APP` those of WeChat's app SDK.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    /// JSAPI and app: the app the payer pays in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// App: the merchant at the wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// App: the payment at the wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepay_id: Option<String>,
    /// JSAPI: `prepay_id=…`.
    #[serde(default, rename = "package", skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// App: `Sign=WXPay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_value: Option<String>,
    /// JSAPI and app: seconds since 1970, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_str: Option<String>,
    /// JSAPI: `MD5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_type: Option<String>,
    /// JSAPI: WeChat's MD5 signature of the five fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_sign: Option<String>,
    /// App: WeChat's MD5 signature of its lower-case fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
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
    pub res_code: Option<String>,
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
    /// Orders created with xxpay-master's `channelId` carry it back.
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
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

/// 关闭支付订单 reply: the order as it stands after the close. `resultCode` is xxpay4pro's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseOrderReply {
    #[serde(default, deserialize_with = "crate::common::text")]
    pub ret_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub res_code: Option<String>,
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
    pub status: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_code: Option<String>,
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

/// The payment notification of an order created with xxpay-master's `channelId`: its
/// merchants' handlers read exactly these fields (`request2payResponseMap`) and sign what they
/// read, so nothing else may be sent (§2.3.2's `appId` and `productId` would break them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyPayNotification {
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
    pub mch_order_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_id: Option<String>,
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
    pub currency: Option<String>,
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
    pub subject: Option<String>,
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
