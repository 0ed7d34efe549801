//! Rows to domain records. A value that does not parse is `StoreError::Corrupt`, never a panic.

use std::str::FromStr;

use paymux_core::Fen;
use paymux_core::ids::{
    MerchantId, MerchantOrderNo, NotifyUrl, PlatformId, RefundNo, RefundRequestNo,
};
use paymux_core::notification::Notification;
use paymux_core::order::{Attempt, Order};
use paymux_core::refund::Refund;
use paymux_core::store::StoreError;
use paymux_core::time::Millis;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

fn get<T>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn parsed<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: String = get(row, column)?;
    text.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("{column}: {e}")))
}

fn millis(row: &AnyRow, column: &str) -> Result<Millis, StoreError> {
    get::<i64>(row, column).map(Millis)
}

fn opt_millis(row: &AnyRow, column: &str) -> Result<Option<Millis>, StoreError> {
    Ok(get::<Option<i64>>(row, column)?.map(Millis))
}

fn fen(row: &AnyRow, column: &str) -> Result<Fen, StoreError> {
    Fen::new(get(row, column)?).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn json_object(row: &AnyRow, column: &str) -> Result<Map<String, Value>, StoreError> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn seq(row: &AnyRow, column: &str) -> Result<i32, StoreError> {
    i32::try_from(get::<i64>(row, column)?)
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn order(row: &AnyRow) -> Result<Order, StoreError> {
    Ok(Order {
        id: PlatformId::from_string(get::<String>(row, "id")?),
        merchant_id: MerchantId::new(get::<String>(row, "merchant_id")?),
        merchant_order_no: MerchantOrderNo::from_stored(get(row, "merchant_order_no")?),
        dialect: parsed(row, "dialect")?,
        pay_way: parsed(row, "pay_way")?,
        channel: get(row, "channel")?,
        amount: fen(row, "amount")?,
        currency: get(row, "currency")?,
        subject: get(row, "subject")?,
        body: get(row, "body")?,
        status: parsed(row, "status")?,
        notify_url: get::<Option<String>>(row, "notify_url")?.map(NotifyUrl::from_stored),
        return_url: get(row, "return_url")?,
        client_ip: get(row, "client_ip")?,
        extra: json_object(row, "extra")?,
        channel_trade_no: get(row, "channel_trade_no")?,
        channel_user: get(row, "channel_user")?,
        refund_reserved: fen(row, "refund_reserved")?,
        refunded: fen(row, "refunded")?,
        created_at: millis(row, "created_at")?,
        expires_at: millis(row, "expires_at")?,
        paid_at: opt_millis(row, "paid_at")?,
        closed_at: opt_millis(row, "closed_at")?,
        merchant_acked_at: opt_millis(row, "merchant_acked_at")?,
        fail_code: get(row, "fail_code")?,
        fail_msg: get(row, "fail_msg")?,
    })
}

pub(crate) fn attempt(row: &AnyRow) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        order_id: PlatformId::from_string(get::<String>(row, "order_id")?),
        seq: seq(row, "seq")?,
        channel: get(row, "channel")?,
        pay_way: parsed(row, "pay_way")?,
        status: parsed(row, "status")?,
        auth_code: get(row, "auth_code")?,
        channel_trade_no: get(row, "channel_trade_no")?,
        channel_user: get(row, "channel_user")?,
        created_at: millis(row, "created_at")?,
        finished_at: opt_millis(row, "finished_at")?,
        next_check_at: opt_millis(row, "next_check_at")?,
        fail_code: get(row, "fail_code")?,
        fail_msg: get(row, "fail_msg")?,
    })
}

pub(crate) fn refund(row: &AnyRow) -> Result<Refund, StoreError> {
    Ok(Refund {
        id: PlatformId::from_string(get::<String>(row, "id")?),
        merchant_id: MerchantId::new(get::<String>(row, "merchant_id")?),
        order_id: PlatformId::from_string(get::<String>(row, "order_id")?),
        attempt_seq: seq(row, "attempt_seq")?,
        dialect: parsed(row, "dialect")?,
        refund_no: get::<Option<String>>(row, "refund_no")?.map(RefundNo::from_stored),
        request_no: get::<Option<String>>(row, "request_no")?.map(RefundRequestNo::from_stored),
        amount: fen(row, "amount")?,
        reason: get(row, "reason")?,
        status: parsed(row, "status")?,
        automatic: get::<i64>(row, "automatic")? != 0,
        channel_refund_no: get(row, "channel_refund_no")?,
        fail_reason: get(row, "fail_reason")?,
        extra: json_object(row, "extra")?,
        created_at: millis(row, "created_at")?,
        finished_at: opt_millis(row, "finished_at")?,
        next_check_at: opt_millis(row, "next_check_at")?,
    })
}

pub(crate) fn notification(row: &AnyRow) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: PlatformId::from_string(get::<String>(row, "id")?),
        merchant_id: MerchantId::new(get::<String>(row, "merchant_id")?),
        dialect: parsed(row, "dialect")?,
        event: parsed(row, "event")?,
        subject_id: PlatformId::from_string(get::<String>(row, "subject_id")?),
        url: NotifyUrl::from_stored(get(row, "url")?),
        status: parsed(row, "status")?,
        attempts: seq(row, "attempts")?,
        next_attempt_at: millis(row, "next_attempt_at")?,
        created_at: millis(row, "created_at")?,
        delivered_at: opt_millis(row, "delivered_at")?,
        last_error: get(row, "last_error")?,
    })
}
