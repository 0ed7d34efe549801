//! upp wire ⇄ core. The only file that knows both.

use paymux_core::Fen;
use paymux_core::channel::PayAction;
use paymux_core::gateway::{NewOrder, NewRefund};
use paymux_core::ids::{
    IdError, MerchantId, MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo,
};
use paymux_core::money::AmountError;
use paymux_core::order::{Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::time::{self, Millis};
use serde_json::{Map, Value};

use super::error::UppError;
use super::wire::{BarcodeRequest, RefundRequest, ReplyData, ScanCodeRequest};
use crate::common::fields;

/// §4.1's fixed test string.
pub const COMPANY: &str = "杭州恒生芸泰网络科技有限公司";

const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// A present field of at most `max` characters (the spec's `String(n)`), without NUL.
pub fn required<'a>(
    value: &'a Option<String>,
    field: &'static str,
    max: usize,
) -> Result<&'a str, UppError> {
    Ok(fields::required(value, field, max)?)
}

fn limit(text: &str, field: &'static str, max: usize) -> Result<(), UppError> {
    fields::limit(text, field, max)?;
    Ok(())
}

fn id_error(field: &'static str, e: IdError) -> UppError {
    UppError::invalid(field, e.to_string())
}

/// Yuan with at most 8 integer digits and 2 decimals, more than zero (§1.2 金额格式).
/// Converted exactly from the text as sent; nothing is rounded.
pub fn amount(value: &Option<String>, field: &'static str) -> Result<Fen, UppError> {
    // 8 integer digits, a point and 2 decimals; a little room for a leading zero or sign.
    let text = required(value, field, 16)?;
    let fen = Fen::from_yuan_str(text).map_err(|e| {
        let reason = match e {
            AmountError::TooManyDecimals => "小数部分最多2位",
            AmountError::Negative => "必须大于0",
            AmountError::TooLarge => "整数部分最多8位",
            _ => "须为以元为单位的金额,如0.01",
        };
        UppError::invalid(field, reason)
    })?;
    if fen == Fen::ZERO {
        return Err(UppError::invalid(field, "必须大于0"));
    }
    if fen.yuan_integer_digits() > 8 {
        return Err(UppError::invalid(field, "整数部分最多8位"));
    }
    Ok(fen)
}

/// `yyyy-MM-dd HH:mm:ss`, Beijing time, after `now`.
pub fn expire_time(value: &Option<String>, now: Millis) -> Result<Millis, UppError> {
    let text = required(value, "expireTime", 19)?;
    let at = time::parse_beijing(text, DATE_TIME)
        .ok_or_else(|| UppError::invalid("expireTime", "格式应为yyyy-MM-dd HH:mm:ss"))?;
    if at <= now {
        return Err(UppError::invalid("expireTime", "须大于当前时间"));
    }
    Ok(at)
}

fn subject(value: &Option<String>) -> Result<String, UppError> {
    let text = required(value, "subject", 64)?;
    limit(text, "subject", 64)?;
    if text.contains(',') {
        return Err(UppError::invalid("subject", "不得包含英文逗号"));
    }
    Ok(text.to_owned())
}

pub fn payment_no(value: &Option<String>) -> Result<MerchantOrderNo, UppError> {
    let text = required(value, "paymentNo", 32)?;
    MerchantOrderNo::parse(text, 32).map_err(|e| id_error("paymentNo", e))
}

/// districtId, sourceType, bizData, expandData: stored and echoed.
fn extra(
    district_id: &Option<String>,
    source_type: &Option<String>,
    biz_data: &Option<String>,
    expand_data: &Option<String>,
) -> Result<Map<String, Value>, UppError> {
    let mut extra = Map::new();
    for (field, value, max) in [
        ("districtId", district_id, 32),
        ("sourceType", source_type, 32),
        ("bizData", biz_data, 256),
        ("expandData", expand_data, 256),
    ] {
        if let Some(text) = value {
            limit(text, field, max)?;
            extra.insert(field.into(), Value::String(text.clone()));
        }
    }
    if let Some(source) = source_type
        && !matches!(source.as_str(), "outpatient" | "inpatient")
    {
        return Err(UppError::invalid("sourceType", "应为outpatient或inpatient"));
    }
    Ok(extra)
}

/// §5 channelProduct for scan payments.
pub fn scan_product(value: &Option<String>) -> Result<PayWay, UppError> {
    match required(value, "channelProduct", 32)? {
        "ali_scan_code" => Ok(PayWay::new(Wallet::Alipay, PayMethod::Qr)),
        "ten_scan_code" => Ok(PayWay::new(Wallet::WeChat, PayMethod::Qr)),
        "uni_scan_code" => Ok(PayWay::new(Wallet::UnionPay, PayMethod::Qr)),
        _ => Err(UppError::invalid(
            "channelProduct",
            "应为ali_scan_code、ten_scan_code或uni_scan_code",
        )),
    }
}

/// The wallet a payer code belongs to: WeChat codes start 10–15, Alipay 25–30, UnionPay 62.
pub fn auth_code_wallet(code: &str) -> Option<Wallet> {
    if !(10..=32).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match code.get(..2)?.parse::<u8>().ok()? {
        10..=15 => Some(Wallet::WeChat),
        25..=30 => Some(Wallet::Alipay),
        62 => Some(Wallet::UnionPay),
        _ => None,
    }
}

pub fn scan_order(
    req: &ScanCodeRequest,
    merchant_id: MerchantId,
    now: Millis,
) -> Result<NewOrder, UppError> {
    let merchant_order_no = payment_no(&req.payment_no)?;
    let pay_way = scan_product(&req.channel_product)?;
    let expires_at = expire_time(&req.expire_time, now)?;
    let amount = amount(&req.trade_fee, "tradeFee")?;
    let subject = subject(&req.subject)?;
    let extra = extra(
        &req.district_id,
        &req.source_type,
        &req.biz_data,
        &req.expand_data,
    )?;
    Ok(order(
        merchant_id,
        merchant_order_no,
        pay_way,
        amount,
        subject,
        expires_at,
        extra,
        None,
    ))
}

pub fn barcode_order(
    req: &BarcodeRequest,
    merchant_id: MerchantId,
    now: Millis,
) -> Result<NewOrder, UppError> {
    let merchant_order_no = payment_no(&req.payment_no)?;
    let expires_at = expire_time(&req.expire_time, now)?;
    let amount = amount(&req.trade_fee, "tradeFee")?;
    let subject = subject(&req.subject)?;
    let code = required(&req.auth_code, "authCode", 64)?;
    let wallet = auth_code_wallet(code).ok_or(UppError::BadAuthCode)?;
    let extra = extra(
        &req.district_id,
        &req.source_type,
        &req.biz_data,
        &req.expand_data,
    )?;
    let pay_way = PayWay::new(wallet, PayMethod::Barcode);
    Ok(order(
        merchant_id,
        merchant_order_no,
        pay_way,
        amount,
        subject,
        expires_at,
        extra,
        Some(code.to_owned()),
    ))
}

#[allow(clippy::too_many_arguments)]
fn order(
    merchant_id: MerchantId,
    merchant_order_no: MerchantOrderNo,
    pay_way: PayWay,
    amount: Fen,
    subject: String,
    expires_at: Millis,
    extra: Map<String, Value>,
    auth_code: Option<String>,
) -> NewOrder {
    NewOrder {
        merchant_id,
        merchant_order_no,
        dialect: super::TAG,
        pay_way,
        amount,
        currency: "cny".into(),
        body: subject.clone(),
        subject,
        notify_url: None,
        return_url: None,
        client_ip: None,
        extra,
        expires_at: Some(expires_at),
        auth_code,
    }
}

pub fn new_refund(
    req: &RefundRequest,
    merchant_id: MerchantId,
    order_id: PlatformId,
) -> Result<NewRefund, UppError> {
    let amount = amount(&req.refund_fee, "refundFee")?;
    let request_no = RefundRequestNo::parse(required(&req.request_no, "requestNo", 32)?, 32)
        .map_err(|e| id_error("requestNo", e))?;
    let refund_no = RefundNo::parse(required(&req.refund_no, "refundNo", 32)?, 32)
        .map_err(|e| id_error("refundNo", e))?;
    let extra = extra(&None, &None, &req.biz_data, &req.expand_data)?;
    Ok(NewRefund {
        merchant_id,
        order_id,
        dialect: super::TAG,
        refund_no,
        request_no: Some(request_no),
        amount,
        reason: String::new(),
        extra,
        split: None,
    })
}

/// §5 channelType.
pub fn channel_type(wallet: Wallet) -> &'static str {
    match wallet {
        Wallet::Alipay => "ali",
        Wallet::WeChat => "ten",
        _ => "uni",
    }
}

/// §5 channelProduct.
pub fn channel_product(way: PayWay) -> String {
    let kind = if way.method == PayMethod::Barcode {
        "bar_code"
    } else {
        "scan_code"
    };
    format!("{}_{kind}", channel_type(way.wallet))
}

/// §5 tradeStatus of a refund.
pub fn refund_status(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Requested => "refund_apply_success",
        RefundStatus::Succeeded => "refund_success",
        RefundStatus::Failed => "refund_failed",
    }
}

/// §5 tradeStatus of a payment. An order paid after it closed shows its automatic refund.
pub fn trade_status(order: &Order, late_refund: Option<&Refund>) -> &'static str {
    match order.status {
        OrderStatus::Created | OrderStatus::Paying => "wait_pay",
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            "pay_success"
        }
        OrderStatus::Failed | OrderStatus::Closed => match late_refund {
            Some(refund) => refund_status(refund.status),
            None => "pay_failed",
        },
    }
}

fn payment_fields(order: &Order) -> ReplyData {
    ReplyData {
        channel_type: Some(channel_type(order.pay_way.wallet).to_owned()),
        channel_product: Some(channel_product(order.pay_way)),
        out_payment_no: Some(order.id.to_string()),
        in_payment_no: order.channel_trade_no.clone(),
        payment_no: Some(order.merchant_order_no.to_string()),
        ..ReplyData::default()
    }
}

/// §4.2–§4.4 data.
pub fn payment_data(order: &Order, late_refund: Option<&Refund>) -> ReplyData {
    let trade_status = trade_status(order, late_refund);
    ReplyData {
        trade_status: Some(trade_status.to_owned()),
        // Read by the reply into `msg` (see routes), never sent in `data`.
        failed_reason: (trade_status == "pay_failed")
            .then(|| order.fail_msg.clone())
            .flatten(),
        trade_fee: Some(order.amount.to_yuan_string()),
        payment_time: order.paid_at.map(time::format_beijing_datetime),
        biz_data: order.extra_str("bizData").map(str::to_owned),
        ..payment_fields(order)
    }
}

/// §4.2 adds where to pay and until when.
pub fn scan_data(order: &Order, action: &PayAction) -> ReplyData {
    let pay_url = match action {
        PayAction::QrCode(url) | PayAction::Redirect(url) => Some(url.clone()),
        PayAction::PostForm { url, .. } => Some(url.clone()),
        PayAction::None => None,
    };
    ReplyData {
        pay_url,
        expire_time: Some(time::format_beijing_datetime(order.expires_at)),
        ..payment_data(order, None)
    }
}

/// §4.5/§4.6 data. `request_no` is what the merchant asked with (an automatic refund has
/// none of its own).
pub fn refund_data(refund: &Refund, order: &Order, request_no: &str) -> ReplyData {
    ReplyData {
        trade_status: Some(refund_status(refund.status).to_owned()),
        refund_fee: Some(refund.amount.to_yuan_string()),
        failed_reason: refund.fail_reason.clone(),
        out_refund_no: Some(refund.id.to_string()),
        request_no: Some(request_no.to_owned()),
        refund_no: Some(
            refund
                .refund_no
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_else(|| order.merchant_order_no.to_string()),
        ),
        refund_time: refund.finished_at.map(time::format_beijing_datetime),
        biz_data: refund
            .extra
            .get("bizData")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..payment_fields(order)
    }
}

/// §4.7 data.
pub fn close_data(order: &Order) -> ReplyData {
    ReplyData {
        out_payment_no: Some(order.id.to_string()),
        in_payment_no: order.channel_trade_no.clone(),
        payment_no: Some(order.merchant_order_no.to_string()),
        is_close_order: Some(
            if order.status == OrderStatus::Closed {
                "Y"
            } else {
                "N"
            }
            .to_owned(),
        ),
        ..ReplyData::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(text: &str) -> Result<Fen, String> {
        amount(&Some(text.to_owned()), "tradeFee").map_err(|e| e.to_string())
    }

    #[test]
    fn amounts_are_yuan_with_eight_integer_digits_and_two_decimals() {
        assert_eq!(fen("0.01").unwrap().get(), 1);
        assert_eq!(fen("0.1").unwrap().get(), 10);
        assert_eq!(fen("99999999.99").unwrap().get(), 9_999_999_999);
        assert!(fen("0").unwrap_err().contains("必须大于0"));
        assert!(fen("0.00").unwrap_err().contains("必须大于0"));
        assert!(fen("-1").unwrap_err().contains("必须大于0"));
        assert!(fen("1.001").unwrap_err().contains("小数部分最多2位"));
        assert!(fen("100000000.00").unwrap_err().contains("整数部分最多8位"));
        assert!(fen("abc").unwrap_err().contains("tradeFee"));
        assert!(
            amount(&None, "tradeFee")
                .unwrap_err()
                .to_string()
                .contains("缺少参数tradeFee")
        );
    }

    #[test]
    fn auth_codes_name_their_wallet_by_prefix() {
        assert_eq!(auth_code_wallet("134567890123456781"), Some(Wallet::WeChat));
        assert_eq!(auth_code_wallet("101234567890123456"), Some(Wallet::WeChat));
        assert_eq!(auth_code_wallet("281234567890123452"), Some(Wallet::Alipay));
        assert_eq!(
            auth_code_wallet("6212345678901234569"),
            Some(Wallet::UnionPay)
        );
        assert_eq!(auth_code_wallet("991234567890123456"), None);
        assert_eq!(auth_code_wallet("1612345678901234"), None);
        assert_eq!(auth_code_wallet("13456789012345678a"), None);
        assert_eq!(auth_code_wallet("13"), None);
    }

    #[test]
    fn subjects_refuse_ascii_commas_and_long_text() {
        assert!(subject(&Some("挂号费，门诊".into())).is_ok());
        assert!(subject(&Some("a,b".into())).is_err());
        assert!(subject(&Some("挂号\0费".into())).is_err());
        assert!(required(&Some("134567890123456781\0".into()), "authCode", 64).is_err());
        assert!(subject(&Some("x".repeat(65))).is_err());
    }

    #[test]
    fn expiry_must_be_a_future_beijing_time() {
        let now = time::parse_beijing("2026-01-01 10:00:00", DATE_TIME).unwrap();
        assert!(expire_time(&Some("2026-01-01 10:30:00".into()), now).is_ok());
        assert!(expire_time(&Some("2026-01-01 10:00:00".into()), now).is_err());
        assert!(expire_time(&Some("2026/01/01 10:30:00".into()), now).is_err());
    }
}
