//! `paymux client chinaums …`: the merchant's side of §1.1–§1.8 and §1.11 on
//! [`ChinaumsClient`], for people at a terminal and for scripts (the exit code says who
//! refused; see `ClientFailure`).

use clap::{Args, FromArgMatches, Subcommand};
use serde_json::Value;

use super::NAME;
use super::client::ChinaumsClient;
use super::merchants::ChinaumsCredentials;
use super::wire::{
    CloseQrCodeRequest, QrCodeInfoRequest, QrCodeRequest, QueryRequest, RefundRequest, Reply,
    SecureRequest, to_params,
};
use crate::ClientTarget;
use crate::common::merchants::parse_table;
use crate::common::{ClientFailure, decode_form};

/// A code's terms, for get-qrcode and update-qrcode.
#[derive(Args)]
pub struct CodeTerms {
    /// The kind of code: `one-time` (a bill, paid once), `fixed` (the same amount each
    /// time, needs --amount) or `open` (the payer enters the amount).
    #[arg(long, default_value = "one-time")]
    kind: String,
    /// Amount in fen (totalAmount; 100 = ¥1.00).
    #[arg(long)]
    amount: Option<i64>,
    /// A one-time code's bill number (billNo), starting with the merchant's msgSrcId;
    /// default: paymux makes one.
    #[arg(long)]
    bill_no: Option<String>,
    /// A one-time code's bill date, yyyy-MM-dd; default: today (Beijing time).
    #[arg(long)]
    bill_date: Option<String>,
    /// What the payer sees (billDesc).
    #[arg(long)]
    desc: Option<String>,
    /// Where paymux sends the payment notification (see `listen`).
    #[arg(long)]
    notify_url: Option<String>,
    /// Where the payer's browser goes back after paying (returnUrl), with the signed result.
    #[arg(long)]
    return_url: Option<String>,
    /// The bill expires after this many minutes (expireTime); default: 30 for a one-time
    /// code, never for a fixed one.
    #[arg(long)]
    expire_in: Option<i64>,
    /// SINGLE: only the first payer to scan a one-time code may pay; MULTIPLE: any.
    #[arg(long)]
    wallet_option: Option<String>,
    /// An escrowed payment (secureTransaction): the merchant completes or cancels it.
    #[arg(long)]
    secure: bool,
    /// A fixed code's lookup address (payInfoQueryAddr, §1.9): paymux asks it what to bill.
    #[arg(long)]
    pay_info_query_addr: Option<String>,
    /// Echoed in the notification (memberId).
    #[arg(long)]
    member_id: Option<String>,
}

#[derive(Subcommand)]
pub enum Operation {
    /// §1.1 二维码获取: makes a code; prints billQRCode, the page the QR image opens.
    GetQrcode {
        #[command(flatten)]
        terms: CodeTerms,
        /// The merchant's own id for the code (qrCodeId); default: paymux's.
        #[arg(long)]
        qr_code_id: Option<String>,
    },
    /// §1.2 二维码更新: binds new terms (a new bill, for a one-time code) to a code.
    UpdateQrcode {
        /// The code to update (qrCodeId, from get-qrcode's reply).
        #[arg(long)]
        qr_code_id: String,
        #[command(flatten)]
        terms: CodeTerms,
    },
    /// §1.3 二维码关闭: closes a code; its unpaid bill closes with it.
    CloseQrcode {
        /// The code to close (qrCodeId).
        #[arg(long)]
        qr_code_id: String,
        /// Refund a one-time code's paid bill in full as well (attachRefund).
        #[arg(long)]
        attach_refund: bool,
    },
    /// §1.4 账单状态查询: a bill's status and the payment that paid it.
    Query {
        /// The bill number (billNo), or a payment's merOrderId.
        #[arg(long)]
        bill_no: String,
        /// The bill's date, yyyy-MM-dd; default: today (Beijing time).
        #[arg(long)]
        bill_date: Option<String>,
        /// Also show this refund (refundBillPayment).
        #[arg(long)]
        refund_order_id: Option<String>,
    },
    /// §1.5 退款: refunds part or all of a paid bill.
    Refund {
        /// The bill number (billNo), or the payment's merOrderId.
        #[arg(long)]
        bill_no: String,
        /// The bill's date, yyyy-MM-dd; default: today (Beijing time).
        #[arg(long)]
        bill_date: Option<String>,
        /// Amount to refund in fen (refundAmount).
        #[arg(long)]
        amount: i64,
        /// The refund's number (refundOrderId): required from the second refund of a bill
        /// on, a new one each time; the same one again is the same refund.
        #[arg(long)]
        refund_order_id: Option<String>,
        /// Why (refundDesc).
        #[arg(long)]
        desc: Option<String>,
    },
    /// §1.6 查询二维码静态信息: a code's terms and page.
    QueryQrcodeInfo {
        /// The code (qrCodeId).
        #[arg(long)]
        qr_code_id: String,
    },
    /// §1.7 担保撤销: cancels an escrowed payment; all of it goes back to the payer.
    SecureCancel {
        /// The payment's merOrderId (from query's billPayment).
        #[arg(long)]
        mer_order_id: String,
    },
    /// §1.8 担保完成: completes an escrowed payment with an amount; the rest goes back.
    SecureComplete {
        /// The payment's merOrderId (from query's billPayment).
        #[arg(long)]
        mer_order_id: String,
        /// What the merchant keeps, in fen (completedAmount), at most what was paid.
        #[arg(long)]
        amount: i64,
    },
    /// A merchant's notification endpoint on ADDR (§1.11): prints each notification,
    /// answers `SUCCESS` when its signature verifies and `FAILED` otherwise (so the
    /// gateway tries again).
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: String,
    },
}

fn client(target: &ClientTarget) -> Result<ChinaumsClient, ClientFailure> {
    let table = target.credentials.as_ref().ok_or_else(|| {
        ClientFailure::Setup(format!(
            "the merchant in {} has no [merchant.chinaums] credentials",
            target.source
        ))
    })?;
    let credentials: ChinaumsCredentials =
        parse_table(NAME, &table.merchant, &table.table).map_err(ClientFailure::Setup)?;
    ChinaumsClient::new(&target.url, &credentials).map_err(|e| ClientFailure::Setup(e.to_string()))
}

fn now() -> paymux_core::time::Millis {
    paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock)
}

fn today() -> String {
    paymux_core::time::beijing(now())
        .format("%Y-%m-%d")
        .to_string()
}

fn request(terms: CodeTerms, qr_code_id: Option<String>) -> Result<QrCodeRequest, ClientFailure> {
    let one_time = match terms.kind.as_str() {
        "one-time" => true,
        "fixed" | "open" => false,
        other => {
            return Err(ClientFailure::Setup(format!(
                "--kind {other}: one-time, fixed or open"
            )));
        }
    };
    if terms.kind == "fixed" && terms.amount.is_none() {
        return Err(ClientFailure::Setup("--kind fixed needs --amount".into()));
    }
    let amount = match terms.kind.as_str() {
        "open" => None,
        "one-time" => Some(terms.amount.unwrap_or(1)),
        _ => terms.amount,
    };
    Ok(QrCodeRequest {
        bill_no: terms.bill_no.filter(|_| one_time),
        bill_date: one_time.then(|| terms.bill_date.unwrap_or_else(today)),
        bill_desc: terms.desc,
        total_amount: amount.map(|a| a.to_string()),
        notify_url: terms.notify_url,
        return_url: terms.return_url,
        expire_time: terms.expire_in.map(|m| {
            paymux_core::time::format_beijing_datetime(now().plus_secs(m.saturating_mul(60)))
        }),
        wallet_option: terms.wallet_option,
        secure_transaction: terms.secure.then(|| "true".into()),
        pay_info_query_addr: terms.pay_info_query_addr,
        member_id: terms.member_id,
        qr_code_id,
        ..QrCodeRequest::default()
    })
}

pub async fn run(matches: &clap::ArgMatches, target: ClientTarget) -> Result<(), ClientFailure> {
    let operation =
        Operation::from_arg_matches(matches).map_err(|e| ClientFailure::Setup(e.to_string()))?;
    let client = client(&target)?;
    let reply = match operation {
        Operation::GetQrcode { terms, qr_code_id } => {
            client.get_qrcode(&request(terms, qr_code_id)?).await
        }
        Operation::UpdateQrcode { qr_code_id, terms } => {
            client
                .update_qrcode(&request(terms, Some(qr_code_id))?)
                .await
        }
        Operation::CloseQrcode {
            qr_code_id,
            attach_refund,
        } => {
            client
                .close_qrcode(&CloseQrCodeRequest {
                    qr_code_id: Some(qr_code_id),
                    attach_refund: attach_refund.then(|| "true".into()),
                    ..CloseQrCodeRequest::default()
                })
                .await
        }
        Operation::Query {
            bill_no,
            bill_date,
            refund_order_id,
        } => {
            client
                .query(&QueryRequest {
                    bill_no: Some(bill_no),
                    bill_date: Some(bill_date.unwrap_or_else(today)),
                    refund_order_id,
                    ..QueryRequest::default()
                })
                .await
        }
        Operation::Refund {
            bill_no,
            bill_date,
            amount,
            refund_order_id,
            desc,
        } => {
            client
                .refund(&RefundRequest {
                    bill_no: Some(bill_no),
                    bill_date: Some(bill_date.unwrap_or_else(today)),
                    refund_amount: Some(amount.to_string()),
                    refund_order_id,
                    refund_desc: desc,
                    ..RefundRequest::default()
                })
                .await
        }
        Operation::QueryQrcodeInfo { qr_code_id } => {
            client
                .query_qrcode_info(&QrCodeInfoRequest {
                    qr_code_id: Some(qr_code_id),
                    ..QrCodeInfoRequest::default()
                })
                .await
        }
        Operation::SecureCancel { mer_order_id } => {
            client
                .secure_cancel(&SecureRequest {
                    mer_order_id: Some(mer_order_id),
                    ..SecureRequest::default()
                })
                .await
        }
        Operation::SecureComplete {
            mer_order_id,
            amount,
        } => {
            client
                .secure_complete(&SecureRequest {
                    mer_order_id: Some(mer_order_id),
                    completed_amount: Some(amount.to_string()),
                    ..SecureRequest::default()
                })
                .await
        }
        Operation::Listen { addr } => return listen(client, &addr).await,
    }
    .map_err(|e| ClientFailure::from_client_error(e, &target.url))?;
    finish(&reply)
}

/// Prints the reply; an errCode other than SUCCESS is a failure that quotes the server.
fn finish(reply: &Reply) -> Result<(), ClientFailure> {
    crate::common::print_json(&Value::Object(to_params(reply)));
    if reply.err_code.as_deref() == Some("SUCCESS") {
        return Ok(());
    }
    Err(ClientFailure::Refused(format!(
        "{}: {}",
        reply.err_code.as_deref().unwrap_or("(no errCode)"),
        reply.err_msg.as_deref().unwrap_or("")
    )))
}

/// A merchant's notification endpoint: prints each notification, answers `SUCCESS` when
/// its signature verifies and `FAILED` otherwise.
async fn listen(client: ChinaumsClient, addr: &str) -> Result<(), ClientFailure> {
    use axum::extract::State;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ClientFailure::Setup(format!("cannot listen on {addr}: {e}")))?;
    eprintln!("listening for chinaums notifications on http://{addr}/ (any path)");
    let handler = |State(client): State<ChinaumsClient>, body: String| async move {
        let fields = decode_form(&body, true);
        let verified = client.verify_notification(&fields);
        crate::common::show_form_notification(fields, verified, "SUCCESS", "FAILED")
    };
    let app = axum::Router::new().fallback(handler).with_state(client);
    axum::serve(listener, app)
        .await
        .map_err(|e| ClientFailure::Setup(e.to_string()))
}
