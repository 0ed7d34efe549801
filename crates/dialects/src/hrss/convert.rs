//! hrss wire ⇄ core. The only file that knows both.

use paymux_core::Fen;
use paymux_core::channel::PayAction;
use paymux_core::gateway::{BillFromCode, NewOrder, NewRefund};
use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo};
use paymux_core::money::AmountError;
use paymux_core::order::{Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::time;
use paymux_core::url::{NotifyUrl, ReturnUrl};
use serde_json::{Map, Value};

use super::error::HrssError;
use super::wire::{
    CashierExtra, CashierLink, MerchantOrder, NotificationData, OrderData, OrderRequest, Personal,
    RefundData, RefundRequest, Service,
};
use crate::common::fields;
use crate::dialect::BillChoice;

/// §3.4.1 日期+时间.
pub const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// §6.1 订单类型 (orderType).
pub const ORDER_TYPES: [&str; 4] = ["10001", "10002", "10003", "10099"];
/// §6.1 证件类型 (idTypeOrder).
pub const ID_TYPES: [&str; 3] = ["01", "90", "99"];

fn required<'a>(
    value: &'a Option<String>,
    field: &'static str,
    max: usize,
) -> Result<&'a str, HrssError> {
    Ok(fields::required(value, field, max)?)
}

fn optional(
    value: &Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, HrssError> {
    Ok(fields::optional(value, field, max)?)
}

/// §6.1 支付方式 (wayCode).
pub fn wallet(value: &Option<String>) -> Result<Wallet, HrssError> {
    match required(value, "wayCode", 40)? {
        "SBK" => Ok(Wallet::SocialSecurity),
        "WX" => Ok(Wallet::WeChat),
        "ALI" => Ok(Wallet::Alipay),
        _ => Err(HrssError::invalid("wayCode", "应为SBK、WX或ALI")),
    }
}

/// The wayCode reported when the wallet says nothing §6.1 can: §4.5.3's "固定:由支付平台分配
/// SBK", the platform's own (see the module doc).
pub const DEFAULT_WAY_CODE: &str = "SBK";

/// The §6.1 wayCode of a wallet. A wallet the table does not list (an order made through
/// another dialect: UnionPay, a bank, …) is [`DEFAULT_WAY_CODE`]: WX and ALI are only
/// ever said of a payment made with that wallet.
pub fn way_code(wallet: Wallet) -> &'static str {
    match wallet {
        Wallet::WeChat => "WX",
        Wallet::Alipay => "ALI",
        Wallet::SocialSecurity
        | Wallet::UnionPay
        | Wallet::Qq
        | Wallet::Jd
        | Wallet::Baidu
        | Wallet::Bank => DEFAULT_WAY_CODE,
    }
}

/// An amount in fen (N(20)): a whole number above zero, sent as a JSON number or a string.
pub fn amount(value: &Option<String>, field: &'static str) -> Result<Fen, HrssError> {
    let text = required(value, field, 20)?;
    let fen = Fen::from_fen_str(text).map_err(|e| {
        let reason = match e {
            AmountError::TooLarge => "超出范围",
            _ => "须为以分为单位的正整数",
        };
        HrssError::invalid(field, reason)
    })?;
    if fen == Fen::ZERO {
        return Err(HrssError::invalid(field, "须大于0"));
    }
    Ok(fen)
}

pub fn mch_order_id(value: &Option<String>) -> Result<MerchantOrderNo, HrssError> {
    let text = required(value, "mchOrderId", 32)?;
    MerchantOrderNo::parse(text, 32).map_err(|e| HrssError::invalid("mchOrderId", e.to_string()))
}

/// A JSON parameter (bizParams, extraParams): a JSON object or array of at most 512
/// characters. A merchant may send it as the object itself; it is kept as its text.
fn json_param(value: &Option<String>, field: &'static str) -> Result<Option<String>, HrssError> {
    let Some(text) = optional(value, field, 512)? else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(_) | Value::Array(_)) => Ok(Some(text)),
        _ => Err(HrssError::invalid(field, "须为JSON")),
    }
}

/// Printable ASCII without spaces: ID numbers and payer codes.
fn code_text(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

/// idNumberOrder: checked, then dropped. paymux has no use for it in these services and
/// keeps no personal data it does not need.
fn id_number(value: &Option<Personal>, needed: bool) -> Result<bool, HrssError> {
    match value.as_ref().filter(|p| !p.0.is_empty()) {
        None if needed => Err(HrssError::Missing("idNumberOrder".into())),
        None => Ok(false),
        Some(p) if p.0.chars().count() > 32 => {
            Err(HrssError::invalid("idNumberOrder", "长度不能超过32"))
        }
        Some(p) if !code_text(&p.0) => Err(HrssError::invalid("idNumberOrder", "含有非法字符")),
        Some(_) => Ok(true),
    }
}

fn id_type(value: &Option<String>, needed: bool) -> Result<Option<String>, HrssError> {
    match optional(value, "idTypeOrder", 2)? {
        None if needed => Err(HrssError::Missing("idTypeOrder".into())),
        None => Ok(None),
        Some(t) if ID_TYPES.contains(&t.as_str()) => Ok(Some(t)),
        Some(_) => Err(HrssError::invalid("idTypeOrder", "应为01、90或99")),
    }
}

/// New orders of §4.1 (online, the cashier in a browser), §4.2 (passive scan: the payer
/// confirms at the cashier pushed to the app that showed the code, §6.3) and §4.3 (a QR
/// code of the cashier).
pub fn new_order(
    service: Service,
    req: &OrderRequest,
    merchant_id: MerchantId,
    allow_private_callbacks: bool,
) -> Result<NewOrder, HrssError> {
    let wallet = wallet(&req.way_code)?;
    let amount = amount(&req.order_amount, "orderAmount")?;
    let merchant_order_no = mch_order_id(&req.mch_order_id)?;
    let order_type = required(&req.order_type, "orderType", 20)?;
    if !ORDER_TYPES.contains(&order_type) {
        return Err(HrssError::invalid(
            "orderType",
            "应为10001、10002、10003或10099",
        ));
    }
    if required(&req.pay_type, "payType", 2)? != "1" {
        return Err(HrssError::invalid("payType", "目前只支持1(自费)"));
    }
    let notify_url = optional(&req.notify_url, "notifyUrl", 256)?
        .map(|url| {
            NotifyUrl::parse(&url, allow_private_callbacks)
                .map_err(|e| HrssError::invalid("notifyUrl", e.to_string()))
        })
        .transpose()?;
    let return_url = match service {
        Service::OnlineOrder => optional(&req.return_url, "returnUrl", 256)?
            .map(|url| {
                ReturnUrl::parse(&url).map_err(|e| HrssError::invalid("returnUrl", e.to_string()))
            })
            .transpose()?,
        _ => None,
    };
    let created_at = required(&req.order_create_time, "orderCreateTime", 19)?;
    if time::parse_beijing(created_at, DATE_TIME).is_none() {
        return Err(HrssError::invalid(
            "orderCreateTime",
            "格式应为yyyy-MM-dd HH:mm:ss",
        ));
    }
    // §4.3's table is cut off in the spec: a kiosk's order may come without its payer.
    let payer_needed = service != Service::DynamicCode;
    let has_number = id_number(&req.id_number_order, payer_needed)?;
    let id_type = id_type(&req.id_type_order, payer_needed || has_number)?;
    if let Some(name) = req.id_name_order.as_ref().filter(|n| !n.0.is_empty()) {
        fields::limit(&name.0, "idNameOrder", 80)?;
    }
    if service == Service::PassiveScan {
        match req.qr_code.as_ref().filter(|c| !c.0.is_empty()) {
            None => return Err(HrssError::Missing("qrCode".into())),
            Some(c) if c.0.chars().count() > 34 => {
                return Err(HrssError::invalid("qrCode", "长度不能超过34"));
            }
            Some(c) if !code_text(&c.0) => {
                return Err(HrssError::invalid("qrCode", "含有非法字符"));
            }
            Some(_) => {}
        }
    }
    let title = required(&req.order_title, "orderTitle", 255)?.to_owned();
    let desc = optional(&req.order_desc, "orderDesc", 255)?;
    let detail = optional(&req.order_detail, "orderDetail", 512)?;
    let biz_params = json_param(&req.biz_params, "bizParams")?;
    let extra_params = json_param(&req.extra_params, "extraParams")?;

    let mut extra = Map::new();
    let mut keep = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            extra.insert(key.to_owned(), Value::String(value));
        }
    };
    keep("orderType", Some(order_type.to_owned()));
    keep("payType", Some("1".to_owned()));
    keep("orderCreateTime", Some(created_at.to_owned()));
    keep("idTypeOrder", id_type);
    keep("orderDetail", detail);
    keep("bizParams", biz_params);
    keep("extraParams", extra_params);

    let method = match service {
        Service::PassiveScan => PayMethod::InApp,
        Service::DynamicCode => PayMethod::Qr,
        _ => PayMethod::H5,
    };
    Ok(NewOrder {
        merchant_id,
        merchant_order_no,
        dialect: super::TAG,
        pay_way: PayWay::new(wallet, method),
        amount,
        currency: "cny".into(),
        body: desc.unwrap_or_else(|| title.clone()),
        subject: title,
        notify_url,
        return_url,
        client_ip: None,
        extra,
        expires_at: None,
        auth_code: None,
    })
}

/// §4.6's terms: `orderAmount` fen, and mchRefundId, which is both the refund's number and
/// the request's idempotency key (the same request again answers with the same refund).
/// Checked before the order is looked up.
#[derive(Debug, Clone)]
pub struct RefundTerms {
    amount: Fen,
    refund_no: RefundNo,
    request_no: RefundRequestNo,
}

pub fn refund_terms(req: &RefundRequest) -> Result<RefundTerms, HrssError> {
    let amount = amount(&req.order_amount, "orderAmount")?;
    let text = required(&req.mch_refund_id, "mchRefundId", 32)?;
    let refund_no =
        RefundNo::parse(text, 32).map_err(|e| HrssError::invalid("mchRefundId", e.to_string()))?;
    let request_no = RefundRequestNo::parse(text, 32)
        .map_err(|e| HrssError::invalid("mchRefundId", e.to_string()))?;
    Ok(RefundTerms {
        amount,
        refund_no,
        request_no,
    })
}

impl RefundTerms {
    pub fn refund_no(&self) -> &RefundNo {
        &self.refund_no
    }

    pub fn of_order(self, merchant_id: MerchantId, order_id: PlatformId) -> NewRefund {
        NewRefund {
            merchant_id,
            order_id,
            dialect: super::TAG,
            refund_no: self.refund_no,
            request_no: Some(self.request_no),
            amount: self.amount,
            reason: String::new(),
            extra: Map::new(),
            split: None,
        }
    }
}

/// payOrderId and refundOrderId are C(20); paymux's ids are 23 characters. On the hrss wire
/// they are 20 digits (`crate::common::ids`, shared with mmsp). Requests may also use
/// paymux's own form.
pub use crate::common::ids::{names, platform_id, wire_id};

/// §6.1 支付状态 (payStatus).
pub fn pay_status(order: &Order) -> &'static str {
    if order.is_late_paid() {
        // Paid after it closed or failed, and refunded by paymux: 异常交易.
        return "5";
    }
    match order.status {
        OrderStatus::Created => "0",
        OrderStatus::Paying if order.pay_way.method == PayMethod::Barcode => "1",
        OrderStatus::Paying => "0",
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => "2",
        OrderStatus::Failed => "3",
        OrderStatus::Closed => "4",
    }
}

/// §6.1 退款状态 of an order (§4.5): 7 refunded in full, 8 in part, 9 nothing refunded yet.
/// A late payment's automatic refund counts.
pub fn order_refund_status(order: &Order, automatic: Option<&Refund>) -> &'static str {
    if let Some(refund) = automatic {
        return if refund.status == RefundStatus::Succeeded {
            "7"
        } else {
            "9"
        };
    }
    if order.refunded == Fen::ZERO {
        "9"
    } else if order.refunded >= order.amount {
        "7"
    } else {
        "8"
    }
}

/// §6.1 退款状态 of a refund (§4.6, §4.7): 1 退款中 while the channel executes it, 2, 3.
pub fn refund_status(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Requested => "1",
        RefundStatus::Succeeded => "2",
        RefundStatus::Failed => "3",
    }
}

/// Where the payer pays: the cashier's URL.
pub fn payer_url(action: &PayAction) -> Option<&str> {
    match action {
        PayAction::Redirect(url) | PayAction::QrCode(url) => Some(url),
        PayAction::PostForm { url, .. } => Some(url),
        PayAction::None => None,
    }
}

/// §6.2 payUrl: the JSON text of the cashier link. paymux has no mini program of its own:
/// `appid` and `path` are empty, and merchants open `url` (as §6.2 says H5 and 公众号
/// merchants do).
pub fn pay_url(order: &Order, cashier_url: &str) -> String {
    let link = CashierLink {
        kind: "miniProgram".into(),
        appid: String::new(),
        path: String::new(),
        extra_data: CashierExtra {
            pay_no: wire_id(&order.id),
        },
        url: cashier_url.to_owned(),
    };
    serde_json::to_string(&link).unwrap_or_default()
}

fn paid_fields(order: &Order) -> (Option<String>, Option<i64>, Option<i64>, Option<i64>) {
    if order.status.is_paid() || order.is_late_paid() {
        let amount = order.amount.get();
        (
            order.paid_at.map(time::format_beijing_datetime),
            Some(amount),
            Some(amount),
            Some(0),
        )
    } else {
        (None, None, None, None)
    }
}

/// §4.5.3. `wallet`: the order's, or for a bill the wallet of the try that paid it (or
/// of the latest try; `None` before any, reported as [`DEFAULT_WAY_CODE`]: wayCode is
/// required).
pub fn order_data(order: &Order, wallet: Option<Wallet>, automatic: Option<&Refund>) -> OrderData {
    let (pay_time, total, receipt, coupon) = paid_fields(order);
    let channel_msg = if order.status.is_paid() {
        Some("SUCCESS".to_owned())
    } else {
        order.fail_msg.clone()
    };
    OrderData {
        mch_order_id: order.merchant_order_no.to_string(),
        pay_order_id: wire_id(&order.id),
        pay_status: pay_status(order).to_owned(),
        refund_status: Some(order_refund_status(order, automatic).to_owned()),
        pay_time,
        way_code: Some(wallet.map_or(DEFAULT_WAY_CODE, way_code).to_owned()),
        order_amount: Some(order.amount.get()),
        total_amount: total,
        receipt_amount: receipt,
        coupon_amount: coupon,
        channel_order_id: order.channel_trade_no.clone(),
        channel_msg,
    }
}

/// §4.8.3.
pub fn close_data(order: &Order) -> OrderData {
    OrderData {
        mch_order_id: order.merchant_order_no.to_string(),
        pay_order_id: wire_id(&order.id),
        pay_status: pay_status(order).to_owned(),
        ..OrderData::default()
    }
}

/// §4.6.3 and §4.7.3.
pub fn refund_data(refund: &Refund, order: &Order) -> RefundData {
    let done = refund.status == RefundStatus::Succeeded;
    RefundData {
        mch_refund_id: refund
            .refund_no
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        pay_order_id: Some(wire_id(&order.id)),
        refund_order_id: wire_id(&refund.id),
        refund_status: refund_status(refund.status).to_owned(),
        refund_time: refund
            .finished_at
            .filter(|_| done)
            .map(time::format_beijing_datetime),
        pay_amount: Some(order.amount.get()),
        refund_amount: Some(refund.amount.get()),
        refund_real_amt: done.then(|| refund.amount.get()),
        channel_refund_order_id: refund.channel_refund_no.clone().filter(|_| done),
        channel_msg: match refund.status {
            RefundStatus::Succeeded => Some("SUCCESS".to_owned()),
            RefundStatus::Failed => refund.fail_reason.clone(),
            RefundStatus::Requested => None,
        },
    }
}

/// §5.2.2 `data`: a payment's outcome, through `wallet` (a bill's: that of the try that
/// paid it).
pub fn notification_data(order: &Order, wallet: Wallet, app_id: &str) -> NotificationData {
    let (pay_time, total, receipt, coupon) = paid_fields(order);
    let failed = order.status == OrderStatus::Failed && !order.is_late_paid();
    NotificationData {
        appid: app_id.to_owned(),
        mch_order_id: order.merchant_order_no.to_string(),
        pay_order_id: wire_id(&order.id),
        pay_status: pay_status(order).to_owned(),
        pay_time,
        way_code: way_code(wallet).to_owned(),
        order_amount: Some(order.amount.get()),
        total_amount: total,
        receipt_amount: receipt,
        coupon_amount: coupon,
        channel_order_id: order.channel_trade_no.clone(),
        err_code: order.fail_code.clone().filter(|_| failed),
        err_msg: order.fail_msg.clone().filter(|_| failed),
    }
}

/// §5.1.3 `orderData.notifyUrl`: longer than the 256 of §4's.
const ORDER_NOTIFY_URL_MAX: usize = 268;

/// One §5.1.3 unpaid order, checked like a §4.1 order, as a bill the payer may choose. The
/// merchant's fields go into the bill's extra as §4.1's do; `id_type` is the payer's
/// idTypeOrder (the ID number itself is not kept).
pub fn merchant_order(
    entry: &MerchantOrder,
    id_type: &str,
    allow_private_callbacks: bool,
) -> Result<BillChoice, HrssError> {
    let amount = amount(&entry.order_amount, "orderAmount")?;
    let merchant_order_no = mch_order_id(&entry.mch_order_id)?;
    let order_type = required(&entry.order_type, "orderType", 20)?;
    if !ORDER_TYPES.contains(&order_type) {
        return Err(HrssError::invalid(
            "orderType",
            "应为10001、10002、10003或10099",
        ));
    }
    let notify_url = optional(&entry.notify_url, "notifyUrl", ORDER_NOTIFY_URL_MAX)?
        .map(|url| {
            NotifyUrl::parse(&url, allow_private_callbacks)
                .map_err(|e| HrssError::invalid("notifyUrl", e.to_string()))
        })
        .transpose()?;
    let created_at = required(&entry.order_create_time, "orderCreateTime", 19)?;
    if time::parse_beijing(created_at, DATE_TIME).is_none() {
        return Err(HrssError::invalid(
            "orderCreateTime",
            "格式应为yyyy-MM-dd HH:mm:ss",
        ));
    }
    let title = required(&entry.order_title, "orderTitle", 256)?.to_owned();
    let desc = optional(&entry.order_desc, "orderDesc", 256)?;
    let detail = optional(&entry.order_detail, "orderDetail", 512)?;
    let biz_params = json_param(&entry.biz_params, "bizParams")?;
    let extra_params = json_param(&entry.extra_params, "extraParams")?;

    let mut extra = Map::new();
    let mut keep = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            extra.insert(key.to_owned(), Value::String(value));
        }
    };
    keep("orderType", Some(order_type.to_owned()));
    keep("payType", Some("1".to_owned()));
    keep("orderCreateTime", Some(created_at.to_owned()));
    keep("idTypeOrder", Some(id_type.to_owned()));
    keep("orderDesc", desc.clone());
    keep("orderDetail", detail);
    keep("bizParams", biz_params);
    keep("extraParams", extra_params);
    let label = match &desc {
        Some(desc) if *desc != title => format!("{title}({desc})"),
        _ => title.clone(),
    };
    Ok(BillChoice {
        bill: BillFromCode {
            amount: Some(amount),
            merchant_order_no: Some(merchant_order_no),
            subject: Some(title),
            notify_url,
            extra,
        },
        label,
    })
}

/// The payer's answers on a mode-2 code's page: §6.1's idTypeOrder, and an ID number of at
/// most 32 printable characters. The error names the field, never its value.
pub fn payer_id(
    id_type: Option<&str>,
    number: Option<&str>,
) -> Result<(String, Personal), HrssError> {
    let id_type = id_type
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("01");
    if !ID_TYPES.contains(&id_type) {
        return Err(HrssError::invalid("idTypeOrder", "应为01、90或99"));
    }
    let number = Some(Personal(
        number.map(str::trim).unwrap_or_default().to_owned(),
    ));
    id_number(&number, true)?;
    let number = number.map(|n| n.0).unwrap_or_default();
    Ok((id_type.to_owned(), Personal(number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(text: &str) -> Result<i64, String> {
        amount(&Some(text.to_owned()), "orderAmount")
            .map(Fen::get)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn amounts_are_whole_fen_above_zero() {
        assert_eq!(fen("1"), Ok(1));
        assert_eq!(fen("123456"), Ok(123456));
        for bad in ["0", "-1", "1.00", "1e2", " 1", "abc", ""] {
            assert!(fen(bad).unwrap_err().contains("orderAmount"), "{bad}");
        }
        assert!(fen("123456789012345").unwrap_err().contains("超出范围"));
    }

    #[test]
    fn platform_ids_are_twenty_digits_on_the_wire() {
        // P, 2026-12-06 10:00:00 Beijing, node 0042, sequence 000123.
        let id = PlatformId::from_string("P2612061000000042000123");
        let wire = wire_id(&id);
        assert_eq!(wire.len(), 20);
        assert_eq!(wire, "17965224000042000123");
        assert!(names(&id, &wire));
        assert_eq!(platform_id('P', &wire), Some(id.clone()));
        assert_eq!(platform_id('P', "1234"), None);
        assert!(names(&id, id.as_str()));
        assert!(!names(&id, "17965224000042000124"));
        let other = PlatformId::from_string("P2612061000010042000123");
        assert_ne!(wire_id(&other), wire);
        // Anything else (never generated) is shown as it is.
        assert_eq!(wire_id(&PlatformId::from_string("X1")), "X1");
    }

    use paymux_core::dialect::DialectTag;
    use paymux_core::time::Millis;

    use crate::common::testdata::fixture;

    /// The §4.5.3 example's order, as paymux holds it.
    fn spec_order() -> Order {
        let paid_at = time::parse_beijing("2023-06-27 11:40:45", DATE_TIME).unwrap();
        Order {
            id: PlatformId::from_string("P2306271140400001000361"),
            merchant_id: MerchantId::new("demo"),
            merchant_order_no: MerchantOrderNo::parse("1687837179580", 32).unwrap(),
            dialect: super::super::TAG,
            pay_way: PayWay::new(Wallet::SocialSecurity, PayMethod::H5),
            channel: "sandbox".into(),
            amount: Fen::positive(1).unwrap(),
            currency: "cny".into(),
            subject: "测试订单".into(),
            body: "仅供测试".into(),
            status: OrderStatus::Succeeded,
            notify_url: None,
            return_url: None,
            client_ip: None,
            extra: Map::new(),
            channel_trade_no: Some("440256034105000742306270021660".into()),
            channel_user: None,
            refund_reserved: Fen::ZERO,
            refunded: Fen::ZERO,
            created_at: Millis(paid_at.0 - 5000),
            expires_at: Millis(paid_at.0 + 7_200_000),
            paid_at: Some(paid_at),
            closed_at: None,
            merchant_acked_at: None,
            fail_code: None,
            fail_msg: None,
            tries: paymux_core::order::Tries::Once,
            code_id: None,
            also_notify: None,
            escrow: None,
            splits: None,
        }
    }

    fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_spec_reply_examples_are_what_paymux_answers_and_its_client_reads() {
        let example: Value = serde_json::from_str(&fixture("hrss", "query.reply.json")).unwrap();
        let order = spec_order();
        let ours =
            serde_json::to_value(order_data(&order, Some(order.pay_way.wallet), None)).unwrap();
        // §4.5.3's table has refundStatus (V1.3); its example predates it.
        let mut expected = example.as_object().unwrap().clone();
        expected.insert("refundStatus".into(), Value::String("9".into()));
        expected.insert("payOrderId".into(), ours["payOrderId"].clone());
        assert_eq!(ours, Value::Object(expected));
        let read: OrderData = serde_json::from_value(example).unwrap();
        assert_eq!(read.pay_status, "2");

        let example: Value = serde_json::from_str(&fixture("hrss", "refund.reply.json")).unwrap();
        let mut order = spec_order();
        order.status = OrderStatus::Refunded;
        order.refunded = order.amount;
        let refund = Refund {
            id: PlatformId::from_string("R2306271328200001000001"),
            merchant_id: order.merchant_id.clone(),
            order_id: order.id.clone(),
            attempt_seq: 1,
            dialect: DialectTag::new("hrss"),
            refund_no: Some(RefundNo::parse("1687843146040", 32).unwrap()),
            request_no: None,
            amount: order.amount,
            reason: String::new(),
            status: RefundStatus::Succeeded,
            automatic: false,
            channel_refund_no: Some("84959233187993456921656844816891".into()),
            fail_reason: None,
            extra: Map::new(),
            created_at: Millis(0),
            finished_at: time::parse_beijing("2023-06-27 13:28:24", DATE_TIME),
            next_check_at: None,
            split: None,
        };
        let ours = serde_json::to_value(refund_data(&refund, &order)).unwrap();
        assert_eq!(keys(&ours), keys(&example));
        for same in [
            "channelMsg",
            "channelRefundOrderId",
            "mchRefundId",
            "payAmount",
            "refundAmount",
            "refundRealAmt",
            "refundStatus",
            "refundTime",
        ] {
            assert_eq!(ours[same], example[same], "{same}");
        }
        let read: RefundData = serde_json::from_value(example).unwrap();
        assert_eq!(read.refund_real_amt, Some(1));

        let example: Value = serde_json::from_str(&fixture("hrss", "close.reply.json")).unwrap();
        order.status = OrderStatus::Closed;
        order.paid_at = None;
        let ours = serde_json::to_value(close_data(&order)).unwrap();
        assert_eq!(keys(&ours), keys(&example));
        assert_eq!(ours["payStatus"], "4");
    }

    #[test]
    fn way_codes_are_the_code_table() {
        for (code, wallet) in [
            ("SBK", Wallet::SocialSecurity),
            ("WX", Wallet::WeChat),
            ("ALI", Wallet::Alipay),
        ] {
            assert_eq!(self::wallet(&Some(code.into())).unwrap(), wallet);
            assert_eq!(way_code(wallet), code);
        }
        assert!(self::wallet(&Some("sbk".into())).is_err());
        // Only §6.1's values go out: wallets the table does not list, and no wallet at
        // all (a bill before its first try), are the platform's SBK.
        for other in [
            Wallet::UnionPay,
            Wallet::Bank,
            Wallet::Qq,
            Wallet::Jd,
            Wallet::Baidu,
        ] {
            assert_eq!(way_code(other), "SBK", "{other:?}");
        }
        let mut order = spec_order();
        order.status = OrderStatus::Created;
        order.paid_at = None;
        let unpaid = serde_json::to_value(order_data(&order, None, None)).unwrap();
        assert_eq!(unpaid["wayCode"], "SBK");
        let by_bank = serde_json::to_value(order_data(&order, Some(Wallet::Bank), None)).unwrap();
        assert_eq!(by_bank["wayCode"], "SBK");
    }
}
