//! xxpay wire ⇄ core. The only file that knows both.

use paymux_core::Fen;
use paymux_core::channel::PayAction;
use paymux_core::gateway::NewOrder;
use paymux_core::ids::{IdError, MerchantId, MerchantOrderNo};
use paymux_core::money::AmountError;
use paymux_core::order::{Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::url::{NotifyUrl, ReturnUrl, UrlError};
use serde_json::{Map, Value, json};

use super::codec;
use super::error::XxpayError;
use super::wire::{
    CloseOrderReply, CreateOrderReply, CreateOrderRequest, LegacyPayNotification, Params,
    PayNotification, PayParams, QueryOrderReply,
};
use crate::common::fields::{optional, required};

/// §4.1 支付产品: product id, name, and the pay way the sandbox simulates for it. The
/// spec's type column for 8017/8018 is swapped by OCR; the names (DM 扫码, DM H5) decide.
/// The last three are extensions the xxpay4pro demos offer ([`EXTENSIONS`]).
pub const PRODUCTS: [(u32, &str, PayWay); 23] = [
    (
        8000,
        "网银支付",
        PayWay::new(Wallet::Bank, PayMethod::Gateway),
    ),
    (
        8001,
        "银联快捷",
        PayWay::new(Wallet::UnionPay, PayMethod::Quick),
    ),
    (
        8002,
        "微信扫码支付",
        PayWay::new(Wallet::WeChat, PayMethod::Qr),
    ),
    (
        8003,
        "微信H5支付",
        PayWay::new(Wallet::WeChat, PayMethod::H5),
    ),
    (
        8004,
        "微信公众号支付",
        PayWay::new(Wallet::WeChat, PayMethod::InApp),
    ),
    (
        8005,
        "微信小程序支付",
        PayWay::new(Wallet::WeChat, PayMethod::MiniProgram),
    ),
    (
        8006,
        "支付宝QY扫码支付",
        PayWay::new(Wallet::Alipay, PayMethod::Qr),
    ),
    (
        8007,
        "支付宝QY H5支付",
        PayWay::new(Wallet::Alipay, PayMethod::H5),
    ),
    (
        8008,
        "支付宝服务窗支付",
        PayWay::new(Wallet::Alipay, PayMethod::InApp),
    ),
    (8009, "QQ钱包扫码", PayWay::new(Wallet::Qq, PayMethod::Qr)),
    (8010, "QQ钱包H5支付", PayWay::new(Wallet::Qq, PayMethod::H5)),
    (8011, "京东扫码支付", PayWay::new(Wallet::Jd, PayMethod::Qr)),
    (8012, "京东H5支付", PayWay::new(Wallet::Jd, PayMethod::H5)),
    (8013, "百度钱包", PayWay::new(Wallet::Baidu, PayMethod::H5)),
    (
        8014,
        "银联二维码",
        PayWay::new(Wallet::UnionPay, PayMethod::Qr),
    ),
    (
        8015,
        "支付宝GT H5支付",
        PayWay::new(Wallet::Alipay, PayMethod::H5),
    ),
    (
        8016,
        "支付宝GT扫码支付",
        PayWay::new(Wallet::Alipay, PayMethod::Qr),
    ),
    (
        8017,
        "支付宝DM扫码支付",
        PayWay::new(Wallet::Alipay, PayMethod::Qr),
    ),
    (
        8018,
        "支付宝DM H5支付",
        PayWay::new(Wallet::Alipay, PayMethod::H5),
    ),
    (8019, "云闪付", PayWay::new(Wallet::UnionPay, PayMethod::Qr)),
    (
        8020,
        "微信条码支付",
        PayWay::new(Wallet::WeChat, PayMethod::Barcode),
    ),
    (
        8021,
        "支付宝条码支付",
        PayWay::new(Wallet::Alipay, PayMethod::Barcode),
    ),
    (
        8023,
        "微信小程序支付",
        PayWay::new(Wallet::WeChat, PayMethod::MiniProgram),
    ),
];

/// Products beyond the spec's appendix: 8020 and 8021 take the payer's code in `extra`,
/// 8023 the payer's openid in `channelUserId`.
pub const EXTENSIONS: [u32; 3] = [8020, 8021, 8023];

/// The mini-program product, which needs the payer's openid.
const MINI_PROGRAM: u32 = 8023;

/// xxpay-master's `channelId`s and the product each one is. Its app payments (`WX_APP`,
/// `ALIPAY_MOBILE`) open the wallet app as the in-app products do; its PC and WAP Alipay
/// payments send the payer to a page as the H5 product does.
pub const CHANNELS: [(&str, u32); 8] = [
    ("WX_NATIVE", 8002),
    ("WX_JSAPI", 8004),
    ("WX_APP", 8004),
    ("WX_MWEB", 8003),
    ("ALIPAY_MOBILE", 8008),
    ("ALIPAY_PC", 8007),
    ("ALIPAY_WAP", 8007),
    ("ALIPAY_QR", 8006),
];

pub fn product(id: u32) -> Option<PayWay> {
    PRODUCTS
        .iter()
        .find(|(p, _, _)| *p == id)
        .map(|(_, _, way)| *way)
}

fn id_error(field: &'static str, e: IdError) -> XxpayError {
    let reason = match e {
        IdError::Empty => "不能为空".to_owned(),
        IdError::TooLong(n) => format!("长度不能超过{n}"),
        IdError::BadCharacters => "只能包含字母、数字和-_.".to_owned(),
    };
    XxpayError::invalid(field, reason)
}

fn url_error(field: &'static str, e: UrlError) -> XxpayError {
    let reason = match e {
        UrlError::NotHttpUrl => "须为http或https地址",
        UrlError::PrivateAddress => {
            "不能指向本机或内网地址(允许内网回调须设置[server] allow_private_callbacks = true)"
        }
    };
    XxpayError::invalid(field, reason)
}

/// Parses the product id: a number in the appendix's table.
pub fn parse_product(value: &Option<String>) -> Result<(u32, PayWay), XxpayError> {
    let text = value
        .as_deref()
        .ok_or(XxpayError::MissingField("productId"))?;
    let id: u32 = text
        .parse()
        .map_err(|_| XxpayError::invalid("productId", "应为数值类型"))?;
    let way = product(id).ok_or_else(|| XxpayError::UnknownProduct(text.to_owned()))?;
    Ok((id, way))
}

/// The way to pay a request names: `productId`, or else xxpay-master's `channelId` (returned
/// too, as replies and notifications answer in its terms).
pub fn requested_product(
    req: &CreateOrderRequest,
) -> Result<(u32, PayWay, Option<&'static str>), XxpayError> {
    if req.product_id.is_some() {
        let (id, way) = parse_product(&req.product_id)?;
        return Ok((id, way, None));
    }
    let Some(channel) = req.channel_id.as_deref() else {
        return Err(XxpayError::MissingField("productId"));
    };
    let (name, id) = CHANNELS
        .iter()
        .find(|(name, _)| *name == channel)
        .ok_or_else(|| XxpayError::UnknownChannel(channel.to_owned()))?;
    let way = product(*id).ok_or_else(|| XxpayError::UnknownChannel(channel.to_owned()))?;
    Ok((*id, way, Some(*name)))
}

/// The payer's code of a barcode product: the digits a scanner reads off a wallet's
/// 付款码 (WeChat's are 18, Alipay's 16 to 24).
fn payer_code(extra: &Option<String>) -> Result<String, XxpayError> {
    let code = required(extra, "extra", 32)?;
    if code.len() < 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(XxpayError::invalid("extra", "应为用户付款码(10至32位数字)"));
    }
    Ok(code.to_owned())
}

/// The payer's openid: `channelUserId`, or xxpay-master's `extra` JSON `{"openId": …}`.
fn channel_user_id(
    req: &CreateOrderRequest,
    product_id: u32,
    channel: Option<&str>,
) -> Result<Option<String>, XxpayError> {
    let given = optional(&req.channel_user_id, "channelUserId", 64)?;
    if given.is_some() {
        return Ok(given);
    }
    if product_id == MINI_PROGRAM {
        return Err(XxpayError::MissingField("channelUserId"));
    }
    if channel == Some("WX_JSAPI") {
        let open_id = req
            .extra
            .as_deref()
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
            .and_then(|extra| {
                extra
                    .get("openId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|id| !id.is_empty());
        return optional(&open_id, "extra.openId", 64).map_err(Into::into);
    }
    Ok(None)
}

/// §2.1.4 → a core order. Every field's limit is the spec's `String(n)`.
pub fn new_order(
    req: &CreateOrderRequest,
    merchant_id: MerchantId,
    allow_private_callbacks: bool,
) -> Result<NewOrder, XxpayError> {
    let (product_id, pay_way, channel) = requested_product(req)?;
    let order_no = required(&req.mch_order_no, "mchOrderNo", 30)?;
    let merchant_order_no =
        MerchantOrderNo::parse(order_no, 30).map_err(|e| id_error("mchOrderNo", e))?;
    let currency = required(&req.currency, "currency", 3)?;
    if !currency.eq_ignore_ascii_case("cny") {
        return Err(XxpayError::invalid("currency", "仅支持cny"));
    }
    let amount_text = required(&req.amount, "amount", 12)?;
    let amount = Fen::from_fen_str(amount_text)
        .and_then(|f| Fen::positive(f.get()))
        .map_err(|e| match e {
            AmountError::NotPositive | AmountError::Negative => {
                XxpayError::invalid("amount", "必须大于0")
            }
            AmountError::TooLarge => XxpayError::invalid("amount", "超出允许的最大金额"),
            _ => XxpayError::invalid("amount", "应为以分为单位的整数"),
        })?;
    let notify_url = required(&req.notify_url, "notifyUrl", 128)?;
    let notify_url = NotifyUrl::parse(notify_url, allow_private_callbacks)
        .map_err(|e| url_error("notifyUrl", e))?;
    let subject = required(&req.subject, "subject", 64)?;
    let body = required(&req.body, "body", 256)?;
    let return_url = optional(&req.return_url, "returnUrl", 128)?
        .map(|url| ReturnUrl::parse(&url).map_err(|e| url_error("returnUrl", e)))
        .transpose()?;
    let client_ip = optional(&req.client_ip, "clientIp", 32)?;
    let device = optional(&req.device, "device", 64)?;
    let param1 = optional(&req.param1, "param1", 64)?;
    let param2 = optional(&req.param2, "param2", 64)?;
    let auth_code = (pay_way.method == PayMethod::Barcode)
        .then(|| payer_code(&req.extra))
        .transpose()?;
    let channel_user_id = channel_user_id(req, product_id, channel)?;

    let mut extra = Map::new();
    extra.insert("productId".into(), json!(product_id));
    if let Some(app_id) = &req.app_id {
        extra.insert("appId".into(), json!(app_id));
    }
    if let Some(channel) = channel {
        extra.insert("channelId".into(), json!(channel));
    }
    for (key, value) in [
        ("device", device),
        ("param1", param1),
        ("param2", param2),
        ("channelUserId", channel_user_id),
    ] {
        if let Some(v) = value {
            extra.insert(key.into(), Value::String(v));
        }
    }
    Ok(NewOrder {
        merchant_id,
        merchant_order_no,
        dialect: super::TAG,
        pay_way,
        amount,
        currency: currency.to_ascii_lowercase(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        notify_url: Some(notify_url),
        return_url,
        client_ip,
        extra,
        expires_at: None,
        auth_code,
    })
}

/// What the payer needs, in xxpay's words. QR content is served as an image at
/// `/api/qrcode/create_qrcode?params=…` (the spec's own example URL); forms use `POST;url`.
pub fn pay_params(action: &PayAction, public_url: &str) -> PayParams {
    match action {
        PayAction::QrCode(content) => PayParams {
            pay_url: Some(format!(
                "{public_url}/api/qrcode/create_qrcode?params={content}"
            )),
            code_url: Some(content.clone()),
            ..PayParams::default()
        },
        PayAction::Redirect(url) => PayParams {
            pay_url: Some(url.clone()),
            ..PayParams::default()
        },
        PayAction::PostForm { url, fields } => {
            let query: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            PayParams {
                pay_url: Some(format!("POST;{url}?{}", crate::common::encode_form(&query))),
                ..PayParams::default()
            }
        }
        PayAction::None => PayParams::default(),
    }
}

/// Who the reply is for: the merchant's xxpay credentials.
pub struct Replier<'a> {
    pub mch_id: &'a str,
    pub app_id: &'a str,
    pub key: &'a str,
}

/// The app an order was made for: the one its request named, else the merchant's.
fn order_app_id<'a>(order: &'a Order, merchant_app_id: &'a str) -> &'a str {
    order.extra_str("appId").unwrap_or(merchant_app_id)
}

/// §2.1.5 for an order just created, with what each kind of merchant code reads: barcode
/// payments their status (xxpay4pro's `orderStatus`), WeChat in-app and mini-program
/// payments WeChat's JSAPI fields in `payParams` (as xxpay4pro and xxpay-master give them),
/// and orders made by `channelId` xxpay-master's own fields besides the spec's.
///
/// In the sandbox no wallet stands behind the JSAPI fields: `package` names paymux's order
/// as the prepay id and `paySign` follows WeChat's MD5 rule with the merchant's xxpay key;
/// the payer pays at `payUrl`.
pub fn create_reply(
    order: &Order,
    action: &PayAction,
    public_url: &str,
    who: &Replier<'_>,
) -> CreateOrderReply {
    let mut reply = CreateOrderReply {
        ret_code: Some("SUCCESS".into()),
        res_code: Some("SUCCESS".into()),
        pay_order_id: Some(order.id.to_string()),
        ..CreateOrderReply::default()
    };
    if order.pay_way.method == PayMethod::Barcode {
        reply.order_status = Some(status_code(order));
        return reply;
    }
    let mut params = pay_params(action, public_url);
    let channel = order.extra_str("channelId");
    let wechat_in_app = order.pay_way.wallet == Wallet::WeChat
        && matches!(
            order.pay_way.method,
            PayMethod::InApp | PayMethod::MiniProgram
        );
    if channel == Some("WX_APP") {
        wechat_app_params(&mut params, order, who);
    } else if wechat_in_app {
        wechat_jsapi_params(&mut params, order, who);
    }
    match channel {
        Some("WX_NATIVE" | "ALIPAY_QR") => reply.code_url = params.code_url.clone(),
        Some("WX_MWEB") => reply.pay_url = params.pay_url.clone(),
        Some("ALIPAY_WAP" | "ALIPAY_PC") => {
            reply.pay_url = params.pay_url.as_deref().map(form_page)
        }
        _ => {}
    }
    reply.pay_params = Some(params);
    reply
}

/// Seconds and a nonce of the order's own, so that the JSAPI fields are the same each time.
fn stamp_and_nonce(order: &Order) -> (String, String) {
    let millis = order.created_at.0;
    ((millis / 1000).to_string(), millis.to_string())
}

/// WeChat's JSAPI call (`getBrandWCPayRequest`): five fields and their `paySign`.
fn wechat_jsapi_params(params: &mut PayParams, order: &Order, who: &Replier<'_>) {
    let (time_stamp, nonce_str) = stamp_and_nonce(order);
    let app_id = order_app_id(order, who.app_id).to_owned();
    let package = format!("prepay_id={}", order.id);
    let mut signed = Params::new();
    signed.insert("appId".into(), json!(app_id));
    signed.insert("timeStamp".into(), json!(time_stamp));
    signed.insert("nonceStr".into(), json!(nonce_str));
    signed.insert("package".into(), json!(package));
    signed.insert("signType".into(), json!("MD5"));
    params.pay_sign = Some(codec::sign_params(&signed, &[], who.key));
    params.app_id = Some(app_id);
    params.time_stamp = Some(time_stamp);
    params.nonce_str = Some(nonce_str);
    params.package = Some(package);
    params.sign_type = Some("MD5".into());
}

/// WeChat's app SDK call (xxpay-master's `WX_APP`): signed over WeChat's lower-case names.
fn wechat_app_params(params: &mut PayParams, order: &Order, who: &Replier<'_>) {
    let (time_stamp, nonce_str) = stamp_and_nonce(order);
    let app_id = order_app_id(order, who.app_id).to_owned();
    let prepay_id = order.id.to_string();
    let mut signed = Params::new();
    signed.insert("appid".into(), json!(app_id));
    signed.insert("partnerid".into(), json!(who.mch_id));
    signed.insert("prepayid".into(), json!(prepay_id));
    signed.insert("package".into(), json!("Sign=WXPay"));
    signed.insert("noncestr".into(), json!(nonce_str));
    signed.insert("timestamp".into(), json!(time_stamp));
    params.sign = Some(codec::sign_params(&signed, &[], who.key));
    params.app_id = Some(app_id);
    params.partner_id = Some(who.mch_id.to_owned());
    params.prepay_id = Some(prepay_id);
    params.package_value = Some("Sign=WXPay".into());
    params.time_stamp = Some(time_stamp);
    params.nonce_str = Some(nonce_str);
}

/// A page that sends the payer on at once, as Alipay's SDK renders its PC and WAP payments:
/// xxpay-master's merchants write `payUrl` into their own page.
fn form_page(url: &str) -> String {
    let mut escaped = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    format!(
        "<form name=\"punchout_form\" method=\"get\" action=\"{escaped}\"></form><script>document.forms[0].submit();</script>"
    )
}

/// §2.2.4 status: 0 created, 1 paying, 2 paid, 3 paid and the merchant acknowledged the
/// notification (xxpay-master's 业务处理完成), 5 failed. Closed and expired orders can no
/// longer be paid, so they report 5 as well; refunds do not change a paid order's status.
pub fn status_code(order: &Order) -> i64 {
    match order.status {
        OrderStatus::Created => 0,
        OrderStatus::Paying => 1,
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            if order.merchant_acked_at.is_some() {
                3
            } else {
                2
            }
        }
        OrderStatus::Failed | OrderStatus::Closed => 5,
    }
}

fn numeric_or_text(s: &str) -> Value {
    match s.parse::<i64>() {
        Ok(n) if !s.starts_with('0') || s == "0" => json!(n),
        _ => json!(s),
    }
}

pub fn query_reply(order: &Order, mch_id: &str, app_id: &str) -> QueryOrderReply {
    QueryOrderReply {
        ret_code: Some("SUCCESS".into()),
        res_code: Some("SUCCESS".into()),
        ret_msg: None,
        mch_id: Some(mch_id.to_owned()),
        app_id: Some(order_app_id(order, app_id).to_owned()),
        product_id: order.extra.get("productId").and_then(Value::as_i64),
        channel_id: order.extra_str("channelId").map(str::to_owned),
        pay_order_id: Some(order.id.to_string()),
        mch_order_no: Some(order.merchant_order_no.to_string()),
        amount: Some(order.amount.get()),
        currency: Some(order.currency.clone()),
        status: Some(status_code(order)),
        channel_user: order
            .channel_user
            .clone()
            .or_else(|| order.extra_str("channelUserId").map(str::to_owned)),
        channel_order_no: order.channel_trade_no.clone(),
        channel_attach: None,
        pay_succ_time: order
            .paid_at
            .filter(|_| order.status.is_paid())
            .map(|t| t.0),
        sign: None,
    }
}

/// The order after a close: status 5 (or 2/3 had it been paid, which the core refuses).
pub fn close_reply(order: &Order, mch_id: &str, app_id: &str) -> CloseOrderReply {
    CloseOrderReply {
        ret_code: Some("SUCCESS".into()),
        res_code: Some("SUCCESS".into()),
        ret_msg: None,
        mch_id: Some(mch_id.to_owned()),
        app_id: Some(order_app_id(order, app_id).to_owned()),
        pay_order_id: Some(order.id.to_string()),
        mch_order_no: Some(order.merchant_order_no.to_string()),
        status: Some(status_code(order)),
        result_code: Some("SUCCESS".into()),
        sign: None,
    }
}

/// The mchId as merchants' typed beans expect it: a number when it is one.
pub fn mch_id_value(mch_id: &str) -> Value {
    numeric_or_text(mch_id)
}

/// §2.3.2: the notification of a paid order. `backType` 2 is the server-to-server notice.
pub fn pay_notification(order: &Order, mch_id: &str, app_id: &str) -> PayNotification {
    PayNotification {
        pay_order_id: Some(order.id.to_string()),
        mch_id: Some(mch_id.to_owned()),
        app_id: Some(order_app_id(order, app_id).to_owned()),
        product_id: order.extra.get("productId").map(|v| v.to_string()),
        mch_order_no: Some(order.merchant_order_no.to_string()),
        amount: Some(order.amount.to_string()),
        status: Some(paid_status(order).to_owned()),
        channel_order_no: order.channel_trade_no.clone(),
        channel_attach: None,
        param1: order.extra_str("param1").map(str::to_owned),
        param2: order.extra_str("param2").map(str::to_owned),
        pay_succ_time: order.paid_at.map(|t| t.0.to_string()),
        back_type: Some("2".into()),
        sign: None,
    }
}

/// The notification of an order made by `channelId`, in xxpay-master's fields.
pub fn legacy_pay_notification(order: &Order, mch_id: &str) -> LegacyPayNotification {
    LegacyPayNotification {
        pay_order_id: Some(order.id.to_string()),
        mch_id: Some(mch_id.to_owned()),
        mch_order_no: Some(order.merchant_order_no.to_string()),
        channel_id: order.extra_str("channelId").map(str::to_owned),
        amount: Some(order.amount.to_string()),
        currency: Some(order.currency.clone()),
        status: Some(paid_status(order).to_owned()),
        client_ip: order.client_ip.clone(),
        device: order.extra_str("device").map(str::to_owned),
        subject: Some(order.subject.clone()),
        channel_order_no: order.channel_trade_no.clone(),
        param1: order.extra_str("param1").map(str::to_owned),
        param2: order.extra_str("param2").map(str::to_owned),
        pay_succ_time: order.paid_at.map(|t| t.0.to_string()),
        back_type: Some("2".into()),
        sign: None,
    }
}

fn paid_status(order: &Order) -> &'static str {
    if order.status.is_paid() { "2" } else { "5" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(product: Option<&str>, channel: Option<&str>) -> CreateOrderRequest {
        CreateOrderRequest {
            product_id: product.map(str::to_owned),
            channel_id: channel.map(str::to_owned),
            mch_order_no: Some("T1".into()),
            currency: Some("cny".into()),
            amount: Some("100".into()),
            notify_url: Some("http://merchant.example/n".into()),
            subject: Some("s".into()),
            body: Some("b".into()),
            ..CreateOrderRequest::default()
        }
    }

    fn order_of(req: &CreateOrderRequest) -> Result<NewOrder, String> {
        new_order(req, MerchantId::new("demo"), false).map_err(|e| e.to_string())
    }

    #[test]
    fn every_channel_id_names_a_product_of_the_table() {
        for (channel, id) in CHANNELS {
            let (product, way, named) = requested_product(&request(None, Some(channel))).unwrap();
            assert_eq!((product, Some(way)), (id, super::product(id)), "{channel}");
            assert_eq!(named, Some(channel));
        }
        assert_eq!(
            order_of(&request(None, Some("WX_BAR"))).unwrap_err(),
            "不支持的支付渠道类型[channelId=WX_BAR]."
        );
        assert_eq!(
            order_of(&request(None, None)).unwrap_err(),
            "请求参数[productId]不能为空."
        );
        // A productId wins, and the order is then not a channelId order.
        let both = order_of(&request(Some("8006"), Some("WX_NATIVE"))).unwrap();
        assert_eq!(both.pay_way, PayWay::new(Wallet::Alipay, PayMethod::Qr));
        assert!(!both.extra.contains_key("channelId"));
        let by_channel = order_of(&request(None, Some("ALIPAY_WAP"))).unwrap();
        assert_eq!(by_channel.extra["channelId"], "ALIPAY_WAP");
        assert_eq!(by_channel.extra["productId"], 8007);
    }

    #[test]
    fn barcode_products_take_the_payers_code_from_extra() {
        let mut req = request(Some("8020"), None);
        assert_eq!(order_of(&req).unwrap_err(), "请求参数[extra]不能为空.");
        for bad in ["12345", "13456789012345678a", &"1".repeat(33)] {
            req.extra = Some(bad.to_owned());
            assert!(order_of(&req).unwrap_err().contains("[extra]"), "{bad}");
        }
        req.extra = Some("134567890123456781".into());
        let order = order_of(&req).unwrap();
        assert_eq!(order.auth_code.as_deref(), Some("134567890123456781"));
        assert_eq!(
            order.pay_way,
            PayWay::new(Wallet::WeChat, PayMethod::Barcode)
        );
        let mut alipay = request(Some("8021"), None);
        alipay.extra = Some("281234567890123451".into());
        assert_eq!(
            order_of(&alipay).unwrap().pay_way,
            PayWay::new(Wallet::Alipay, PayMethod::Barcode)
        );
        // Elsewhere `extra` is not a payer code.
        let mut qr = request(Some("8002"), None);
        qr.extra = Some("134567890123456781".into());
        assert_eq!(order_of(&qr).unwrap().auth_code, None);
    }

    #[test]
    fn the_mini_program_needs_the_payers_openid() {
        let mut req = request(Some("8023"), None);
        assert_eq!(
            order_of(&req).unwrap_err(),
            "请求参数[channelUserId]不能为空."
        );
        req.channel_user_id = Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into());
        let order = order_of(&req).unwrap();
        assert_eq!(
            order.pay_way,
            PayWay::new(Wallet::WeChat, PayMethod::MiniProgram)
        );
        assert_eq!(order.extra["channelUserId"], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
        // xxpay-master's WX_JSAPI names the openid in its extra JSON.
        let mut jsapi = request(None, Some("WX_JSAPI"));
        jsapi.extra = Some(r#"{"openId":"o2RvowBf7sOVJf8kJksUEMceaDqo"}"#.into());
        assert_eq!(
            order_of(&jsapi).unwrap().extra["channelUserId"],
            "o2RvowBf7sOVJf8kJksUEMceaDqo"
        );
    }

    #[test]
    fn a_form_page_escapes_the_address() {
        assert_eq!(
            form_page("http://x/c?a=1&b=\"<>\""),
            "<form name=\"punchout_form\" method=\"get\" action=\"http://x/c?a=1&amp;b=&quot;&lt;&gt;&quot;\"></form><script>document.forms[0].submit();</script>"
        );
    }
}
