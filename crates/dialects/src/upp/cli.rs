//! `paymux client upp …`: the merchant's side of §4.1–§4.7 on [`UppClient`].

use clap::{FromArgMatches, Subcommand};

use super::client::UppClient;
use super::wire::{
    self, BarcodeRequest, PaymentRef, RefundQueryRequest, RefundRequest, Reply, ScanCodeRequest,
};
use super::{NAME, UppCredentials};
use crate::ClientTarget;
use crate::common::ClientFailure;
use crate::common::merchants::parse_table;
use crate::xxpay::cli::stamp;

#[derive(Subcommand)]
pub enum Operation {
    /// §4.1 网络测试: checks the keys and the connection.
    Network,
    /// §4.2 扫码付下单: a QR payment; prints data.payUrl for the payer.
    Scancode {
        /// The HIS's own payment number (paymentNo), unique per merchant; default: HIS and the time.
        #[arg(long)]
        payment_no: Option<String>,
        /// ali_scan_code, ten_scan_code (WeChat) or uni_scan_code (UnionPay).
        #[arg(long, default_value = "ali_scan_code")]
        channel_product: String,
        /// Amount in yuan (tradeFee), e.g. 0.01.
        #[arg(long, default_value = "0.01")]
        trade_fee: String,
        /// Shown to the payer; no ASCII commas.
        #[arg(long, default_value = "门诊缴费")]
        subject: String,
        /// Minutes until the order expires.
        #[arg(long, default_value_t = 30)]
        expire_in: i64,
    },
    /// §4.3 条码付下单: a payment with the payer's code (sandbox: last digit 1 or others pay,
    /// 2 waits for the payer, 9 fails).
    Barcode {
        /// The payer's code, as the scanner reads it (e.g. 134567890123456781).
        #[arg(long)]
        auth_code: String,
        /// The HIS's own payment number; default: HIS and the time.
        #[arg(long)]
        payment_no: Option<String>,
        /// Amount in yuan.
        #[arg(long, default_value = "0.01")]
        trade_fee: String,
        /// Shown to the payer; no ASCII commas.
        #[arg(long, default_value = "门诊缴费")]
        subject: String,
        /// Minutes until the order expires.
        #[arg(long, default_value_t = 30)]
        expire_in: i64,
    },
    /// §4.4 支付查询: a payment's tradeStatus by the HIS payment number.
    Query {
        /// The HIS payment number the payment was made with (not paymux's P… id).
        #[arg(long)]
        payment_no: String,
    },
    /// §4.5 退款申请: refunds part or all of a paid payment.
    Refund {
        /// The HIS payment number of the paid payment.
        #[arg(long)]
        payment_no: String,
        /// Amount to refund in yuan.
        #[arg(long)]
        refund_fee: String,
        /// The idempotency key: the same requestNo with the same arguments is the same refund.
        #[arg(long)]
        request_no: String,
        /// The HIS's own refund number; default: the requestNo.
        #[arg(long)]
        refund_no: Option<String>,
    },
    /// §4.6 退款查询: a refund's tradeStatus by its requestNo.
    RefundQuery {
        /// The requestNo the refund was asked with.
        #[arg(long)]
        request_no: String,
    },
    /// §4.7 交易关闭: closes an unpaid payment.
    Close {
        /// The HIS payment number of the payment to close.
        #[arg(long)]
        payment_no: String,
    },
}

fn client(target: &ClientTarget) -> Result<UppClient, ClientFailure> {
    let table = target.credentials.as_ref().ok_or_else(|| {
        ClientFailure::Setup(format!(
            "the merchant in {} has no [merchant.upp] credentials",
            target.source
        ))
    })?;
    let credentials: UppCredentials =
        parse_table(NAME, &table.merchant, &table.table).map_err(ClientFailure::Setup)?;
    UppClient::new(
        &target.url,
        credentials.isv_id,
        credentials.partner_id,
        credentials.key,
    )
    .map_err(|e| ClientFailure::Setup(e.to_string()))
}

fn expire_at(minutes: i64) -> String {
    let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
    paymux_core::time::format_beijing_datetime(now.plus_secs(minutes.saturating_mul(60)))
}

pub async fn run(matches: &clap::ArgMatches, target: ClientTarget) -> Result<(), ClientFailure> {
    let operation =
        Operation::from_arg_matches(matches).map_err(|e| ClientFailure::Setup(e.to_string()))?;
    let client = client(&target)?;
    let reply = match operation {
        Operation::Network => client.network().await,
        Operation::Scancode {
            payment_no,
            channel_product,
            trade_fee,
            subject,
            expire_in,
        } => {
            client
                .scan_code(&ScanCodeRequest {
                    payment_no: Some(payment_no.unwrap_or_else(|| format!("HIS{}", stamp()))),
                    channel_product: Some(channel_product),
                    expire_time: Some(expire_at(expire_in)),
                    trade_fee: Some(trade_fee),
                    subject: Some(subject),
                    ..ScanCodeRequest::default()
                })
                .await
        }
        Operation::Barcode {
            auth_code,
            payment_no,
            trade_fee,
            subject,
            expire_in,
        } => {
            client
                .barcode(&BarcodeRequest {
                    payment_no: Some(payment_no.unwrap_or_else(|| format!("HIS{}", stamp()))),
                    expire_time: Some(expire_at(expire_in)),
                    trade_fee: Some(trade_fee),
                    subject: Some(subject),
                    auth_code: Some(auth_code),
                    ..BarcodeRequest::default()
                })
                .await
        }
        Operation::Query { payment_no } => {
            client
                .query(&PaymentRef {
                    biz_type: Some("scan_pay".into()),
                    payment_no: Some(payment_no),
                })
                .await
        }
        Operation::Refund {
            payment_no,
            refund_fee,
            request_no,
            refund_no,
        } => {
            client
                .refund(&RefundRequest {
                    refund_fee: Some(refund_fee),
                    payment_no: Some(payment_no),
                    biz_type: Some("scan_pay".into()),
                    refund_no: Some(refund_no.unwrap_or_else(|| request_no.clone())),
                    request_no: Some(request_no),
                    ..RefundRequest::default()
                })
                .await
        }
        Operation::RefundQuery { request_no } => {
            client
                .refund_query(&RefundQueryRequest {
                    request_no: Some(request_no),
                })
                .await
        }
        Operation::Close { payment_no } => {
            client
                .close(&PaymentRef {
                    biz_type: Some("scan_pay".into()),
                    payment_no: Some(payment_no),
                })
                .await
        }
    }
    .map_err(|e| ClientFailure::from_client_error(e, &target.url))?;
    finish(&reply)
}

/// Prints the reply; `result:false` is a failure that quotes the server's words.
fn finish(reply: &Reply) -> Result<(), ClientFailure> {
    crate::common::print_json(&serde_json::Value::Object(wire::to_params(reply)));
    eprintln!("reply signature verified");
    if reply.result {
        return Ok(());
    }
    Err(ClientFailure::Refused(format!(
        "kind {}: {}",
        reply.kind.as_deref().unwrap_or("?"),
        reply.msg.as_deref().unwrap_or("")
    )))
}
