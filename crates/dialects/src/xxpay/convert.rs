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

use super::error::XxpayError;
use super::wire::{CreateOrderRequest, PayNotification, PayParams, QueryOrderReply};
use crate::common::fields::{optional, required};

/// §4.1 支付产品: product id, name, and the pay way the sandbox simulates for it. The
/// spec's type column for 8017/8018 is swapped by OCR; the names (DM 扫码, DM H5) decide.
pub const PRODUCTS: [(u32, &str, PayWay); 20] = [
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

/// §2.1.4 → a core order. Every field's limit is the spec's `String(n)`.
pub fn new_order(
    req: &CreateOrderRequest,
    merchant_id: MerchantId,
    allow_private_callbacks: bool,
) -> Result<NewOrder, XxpayError> {
    let (product_id, pay_way) = parse_product(&req.product_id)?;
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

    let mut extra = Map::new();
    extra.insert("productId".into(), json!(product_id));
    if let Some(app_id) = &req.app_id {
        extra.insert("appId".into(), json!(app_id));
    }
    for (key, value) in [("device", device), ("param1", param1), ("param2", param2)] {
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
        auth_code: None,
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
        },
        PayAction::Redirect(url) => PayParams {
            pay_url: Some(url.clone()),
            code_url: None,
        },
        PayAction::PostForm { url, fields } => {
            let query: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            PayParams {
                pay_url: Some(format!("POST;{url}?{}", crate::common::encode_form(&query))),
                code_url: None,
            }
        }
        PayAction::None => PayParams::default(),
    }
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
        ret_msg: None,
        mch_id: Some(mch_id.to_owned()),
        app_id: Some(order.extra_str("appId").unwrap_or(app_id).to_owned()),
        product_id: order.extra.get("productId").and_then(Value::as_i64),
        pay_order_id: Some(order.id.to_string()),
        mch_order_no: Some(order.merchant_order_no.to_string()),
        amount: Some(order.amount.get()),
        currency: Some(order.currency.clone()),
        status: Some(status_code(order)),
        channel_user: order.channel_user.clone(),
        channel_order_no: order.channel_trade_no.clone(),
        channel_attach: None,
        pay_succ_time: order
            .paid_at
            .filter(|_| order.status.is_paid())
            .map(|t| t.0),
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
        app_id: Some(order.extra_str("appId").unwrap_or(app_id).to_owned()),
        product_id: order.extra.get("productId").map(|v| v.to_string()),
        mch_order_no: Some(order.merchant_order_no.to_string()),
        amount: Some(order.amount.to_string()),
        status: Some(if order.status.is_paid() { "2" } else { "5" }.to_owned()),
        channel_order_no: order.channel_trade_no.clone(),
        channel_attach: None,
        param1: order.extra_str("param1").map(str::to_owned),
        param2: order.extra_str("param2").map(str::to_owned),
        pay_succ_time: order.paid_at.map(|t| t.0.to_string()),
        back_type: Some("2".into()),
        sign: None,
    }
}
