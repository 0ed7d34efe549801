//! Rows to domain records, once for both engines. A value that does not parse is
//! `StoreError::Corrupt`, never a panic.

use std::str::FromStr;

use paymux_core::Fen;
use paymux_core::code::PaymentCode;
use paymux_core::dialect::DialectTag;
use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo};
use paymux_core::notification::Notification;
use paymux_core::order::{Attempt, Escrow, Order, Share, Splits};
use paymux_core::payway::Funding;
use paymux_core::refund::{Refund, RefundSplit};
use paymux_core::store::StoreError;
use paymux_core::time::Millis;
use paymux_core::url::{NotifyUrl, ReturnUrl};
use serde_json::{Map, Value};

/// What a mapper needs from a row of either engine.
pub(crate) trait RowAccess {
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;

    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }
}

pub(crate) type Mapper<T> = fn(&dyn RowAccess) -> Result<T, StoreError>;

fn parsed<T: FromStr>(row: &dyn RowAccess, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    row.text(column)?
        .parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("{column}: {e}")))
}

fn millis(row: &dyn RowAccess, column: &str) -> Result<Millis, StoreError> {
    row.int(column).map(Millis)
}

fn opt_millis(row: &dyn RowAccess, column: &str) -> Result<Option<Millis>, StoreError> {
    Ok(row.opt_int(column)?.map(Millis))
}

fn fen(row: &dyn RowAccess, column: &str) -> Result<Fen, StoreError> {
    Fen::new(row.int(column)?).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn json_object(row: &dyn RowAccess, column: &str) -> Result<Map<String, Value>, StoreError> {
    serde_json::from_str(&row.text(column)?)
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn small(row: &dyn RowAccess, column: &str) -> Result<i32, StoreError> {
    i32::try_from(row.int(column)?).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn order(row: &dyn RowAccess) -> Result<Order, StoreError> {
    Ok(Order {
        id: PlatformId::from_string(row.text("id")?),
        merchant_id: MerchantId::new(row.text("merchant_id")?),
        merchant_order_no: MerchantOrderNo::from_stored(row.text("merchant_order_no")?),
        dialect: DialectTag::from_stored(row.text("dialect")?),
        pay_way: parsed(row, "pay_way")?,
        channel: row.text("channel")?,
        amount: fen(row, "amount")?,
        currency: row.text("currency")?,
        subject: row.text("subject")?,
        body: row.text("body")?,
        status: parsed(row, "status")?,
        notify_url: row.opt_text("notify_url")?.map(NotifyUrl::from_stored),
        // Checked when accepted; checked again here, so that a row written before that check
        // existed can never put a `javascript:` link on a page.
        return_url: row
            .opt_text("return_url")?
            .and_then(|url| ReturnUrl::parse(&url).ok()),
        client_ip: row.opt_text("client_ip")?,
        extra: json_object(row, "extra")?,
        channel_trade_no: row.opt_text("channel_trade_no")?,
        channel_user: row.opt_text("channel_user")?,
        refund_reserved: fen(row, "refund_reserved")?,
        refunded: fen(row, "refunded")?,
        created_at: millis(row, "created_at")?,
        expires_at: millis(row, "expires_at")?,
        paid_at: opt_millis(row, "paid_at")?,
        closed_at: opt_millis(row, "closed_at")?,
        merchant_acked_at: opt_millis(row, "merchant_acked_at")?,
        fail_code: row.opt_text("fail_code")?,
        fail_msg: row.opt_text("fail_msg")?,
        tries: parsed(row, "tries")?,
        code_id: row.opt_text("code_id")?.map(PlatformId::from_string),
        also_notify: row.opt_text("also_notify_url")?.map(NotifyUrl::from_stored),
        escrow: match row.opt_text("escrow")? {
            None => None,
            Some(status) => Some(Escrow {
                status: status
                    .parse()
                    .map_err(|e: String| StoreError::Corrupt(format!("escrow: {e}")))?,
                completed: fen(row, "escrow_completed")?,
            }),
        },
        splits: splits(row)?,
    })
}

fn splits(row: &dyn RowAccess) -> Result<Option<Splits>, StoreError> {
    match row.opt_text("splits")? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("splits: {e}"))),
    }
}

pub(crate) fn code(row: &dyn RowAccess) -> Result<PaymentCode, StoreError> {
    Ok(PaymentCode {
        id: PlatformId::from_string(row.text("id")?),
        merchant_id: MerchantId::new(row.text("merchant_id")?),
        dialect: DialectTag::from_stored(row.text("dialect")?),
        code_ref: row.text("code_ref")?,
        kind: parsed(row, "kind")?,
        status: parsed(row, "status")?,
        amount: match row.opt_int("amount")? {
            Some(fen) => {
                Some(Fen::new(fen).map_err(|e| StoreError::Corrupt(format!("amount: {e}")))?)
            }
            None => None,
        },
        order_id: row.opt_text("order_id")?.map(PlatformId::from_string),
        subject: row.text("subject")?,
        notify_url: row.opt_text("notify_url")?.map(NotifyUrl::from_stored),
        also_notify: row.opt_text("also_notify_url")?.map(NotifyUrl::from_stored),
        return_url: row
            .opt_text("return_url")?
            .and_then(|url| ReturnUrl::parse(&url).ok()),
        expires_at: opt_millis(row, "expires_at")?,
        bill_no_prefix: row.text("bill_no_prefix")?,
        tries: parsed(row, "tries")?,
        escrow: row.int("escrow")? != 0,
        splits: splits(row)?,
        extra: json_object(row, "extra")?,
        created_at: millis(row, "created_at")?,
        updated_at: millis(row, "updated_at")?,
    })
}

pub(crate) fn attempt(row: &dyn RowAccess) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        order_id: PlatformId::from_string(row.text("order_id")?),
        seq: small(row, "seq")?,
        channel: row.text("channel")?,
        pay_way: parsed(row, "pay_way")?,
        status: parsed(row, "status")?,
        auth_code: row.opt_text("auth_code")?,
        channel_trade_no: row.opt_text("channel_trade_no")?,
        channel_user: row.opt_text("channel_user")?,
        created_at: millis(row, "created_at")?,
        finished_at: opt_millis(row, "finished_at")?,
        next_check_at: opt_millis(row, "next_check_at")?,
        fail_code: row.opt_text("fail_code")?,
        fail_msg: row.opt_text("fail_msg")?,
        funding: row
            .opt_text("funding")?
            .map(|f| {
                Funding::from_stored(&f)
                    .ok_or_else(|| StoreError::Corrupt(format!("funding: {f:?}")))
            })
            .transpose()?,
        memo: row.opt_text("memo")?,
    })
}

pub(crate) fn refund(row: &dyn RowAccess) -> Result<Refund, StoreError> {
    Ok(Refund {
        id: PlatformId::from_string(row.text("id")?),
        merchant_id: MerchantId::new(row.text("merchant_id")?),
        order_id: PlatformId::from_string(row.text("order_id")?),
        attempt_seq: small(row, "attempt_seq")?,
        dialect: DialectTag::from_stored(row.text("dialect")?),
        refund_no: row.opt_text("refund_no")?.map(RefundNo::from_stored),
        request_no: row
            .opt_text("request_no")?
            .map(RefundRequestNo::from_stored),
        amount: fen(row, "amount")?,
        reason: row.text("reason")?,
        status: parsed(row, "status")?,
        automatic: row.int("automatic")? != 0,
        channel_refund_no: row.opt_text("channel_refund_no")?,
        fail_reason: row.opt_text("fail_reason")?,
        extra: json_object(row, "extra")?,
        created_at: millis(row, "created_at")?,
        finished_at: opt_millis(row, "finished_at")?,
        next_check_at: opt_millis(row, "next_check_at")?,
        split: match row.opt_int("split_platform")? {
            None => None,
            Some(platform) => Some(RefundSplit {
                platform: Fen::new(platform)
                    .map_err(|e| StoreError::Corrupt(format!("split_platform: {e}")))?,
                party: match row.opt_text("split_party")? {
                    None => None,
                    Some(party) => Some(Share {
                        party,
                        amount: fen(row, "split_party_amount")?,
                    }),
                },
            }),
        },
    })
}

pub(crate) fn notification(row: &dyn RowAccess) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: PlatformId::from_string(row.text("id")?),
        merchant_id: MerchantId::new(row.text("merchant_id")?),
        dialect: DialectTag::from_stored(row.text("dialect")?),
        event: parsed(row, "event")?,
        subject_id: PlatformId::from_string(row.text("subject_id")?),
        url: NotifyUrl::from_stored(row.text("url")?),
        status: parsed(row, "status")?,
        attempts: small(row, "attempts")?,
        next_attempt_at: millis(row, "next_attempt_at")?,
        created_at: millis(row, "created_at")?,
        delivered_at: opt_millis(row, "delivered_at")?,
        last_error: row.opt_text("last_error")?,
    })
}

pub(crate) fn first_int(row: &dyn RowAccess) -> Result<i64, StoreError> {
    row.int("n")
}

pub(crate) fn value(row: &dyn RowAccess) -> Result<String, StoreError> {
    row.text("value")
}

pub(crate) fn id(row: &dyn RowAccess) -> Result<PlatformId, StoreError> {
    Ok(PlatformId::from_string(row.text("id")?))
}
