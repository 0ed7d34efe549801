//! `paymux client xxpay …`: the merchant's side of §2 on [`XxpayClient`], for people at a
//! terminal and for scripts (the exit code says who refused; see `ClientFailure`).

use clap::{FromArgMatches, Subcommand};
use serde_json::{Map, Value};

use super::client::XxpayClient;
use super::wire::{CloseOrderRequest, CreateOrderRequest, QueryOrderRequest};
use super::{NAME, XxpayCredentials};
use crate::ClientTarget;
use crate::common::merchants::parse_table;
use crate::common::{ClientFailure, decode_form};

#[derive(Subcommand)]
pub enum Operation {
    /// §2.1 统一下单: create an order; prints the signed reply with payOrderId and payParams.
    CreateOrder {
        /// productId of the appendix (§4.1): 8002 WeChat QR, 8006 Alipay QR, 8003 WeChat H5, …;
        /// extensions: 8020 WeChat barcode and 8021 Alipay barcode (with --extra), 8023 WeChat
        /// mini-program (with --channel-user-id).
        #[arg(long, default_value_t = 8002)]
        product_id: u32,
        /// Amount in fen (100 = ¥1.00).
        #[arg(long, default_value_t = 1)]
        amount: i64,
        /// The merchant's order number (mchOrderNo); default: DEMO followed by the time.
        #[arg(long)]
        mch_order_no: Option<String>,
        /// Where paymux sends the payment notification (see `listen`).
        #[arg(long, default_value = "http://127.0.0.1:9000/notify")]
        notify_url: String,
        /// Where the payer's browser returns after paying (returnUrl), optional.
        #[arg(long)]
        return_url: Option<String>,
        /// The goods' title shown to the payer.
        #[arg(long, default_value = "测试商品名称")]
        subject: String,
        /// The goods' description.
        #[arg(long, default_value = "测试商品描述")]
        body: String,
        /// Echoed back in the notification.
        #[arg(long)]
        param1: Option<String>,
        /// Echoed back in the notification.
        #[arg(long)]
        param2: Option<String>,
        /// The payer's code for a barcode product (8020, 8021); in the sandbox its last digit
        /// decides: 1 paid at once, 2 the payer confirms, 9 fails (余额不足), others paid.
        #[arg(long)]
        extra: Option<String>,
        /// The payer's openid, required by 8023 (WeChat mini-program).
        #[arg(long)]
        channel_user_id: Option<String>,
    },
    /// §2.2 查询支付订单: status 1 paying, 2 paid, 3 paid and notified, 5 failed or closed.
    QueryOrder {
        /// paymux's order id (P…), from create-order's reply.
        #[arg(long)]
        pay_order_id: Option<String>,
        /// The merchant's order number, instead of --pay-order-id.
        #[arg(long)]
        mch_order_no: Option<String>,
        /// Ask the gateway to send the payment notification again.
        #[arg(long)]
        execute_notify: bool,
    },
    /// 关闭订单 (xxpay4pro's close_order): closes an unpaid order; prints the signed reply
    /// (status 5). A paid order is not closed; a payment after the close is refunded.
    CloseOrder {
        /// paymux's order id (P…), from create-order's reply.
        #[arg(long, required_unless_present = "mch_order_no")]
        pay_order_id: Option<String>,
        /// The merchant's order number, instead of --pay-order-id.
        #[arg(long)]
        mch_order_no: Option<String>,
    },
    /// A merchant's notification endpoint on ADDR: prints each notification, answers
    /// `success` when its signature verifies and `fail` otherwise.
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: String,
    },
}

/// Beijing time to the millisecond: a default order number that does not repeat.
pub(crate) fn stamp() -> String {
    let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
    format!(
        "{}{:03}",
        paymux_core::time::format_beijing_compact(now),
        now.0.rem_euclid(1000)
    )
}

/// The client for the target's merchant.
fn client(target: &ClientTarget) -> Result<XxpayClient, ClientFailure> {
    let table = target.credentials.as_ref().ok_or_else(|| {
        ClientFailure::Setup(format!(
            "the merchant in {} has no [merchant.xxpay] credentials",
            target.source
        ))
    })?;
    let credentials: XxpayCredentials =
        parse_table(NAME, &table.merchant, &table.table).map_err(ClientFailure::Setup)?;
    XxpayClient::new(
        &target.url,
        &credentials.mch_id,
        &credentials.app_id,
        credentials.key,
    )
    .map_err(|e| ClientFailure::Setup(e.to_string()))
}

pub async fn run(matches: &clap::ArgMatches, target: ClientTarget) -> Result<(), ClientFailure> {
    let operation =
        Operation::from_arg_matches(matches).map_err(|e| ClientFailure::Setup(e.to_string()))?;
    let client = client(&target)?;
    let failure = |e| ClientFailure::from_client_error(e, &target.url);
    let reply = match operation {
        Operation::CreateOrder {
            product_id,
            amount,
            mch_order_no,
            notify_url,
            return_url,
            subject,
            body,
            param1,
            param2,
            extra,
            channel_user_id,
        } => {
            let request = CreateOrderRequest {
                product_id: Some(product_id.to_string()),
                mch_order_no: Some(mch_order_no.unwrap_or_else(|| format!("DEMO{}", stamp()))),
                currency: Some("cny".into()),
                amount: Some(amount.to_string()),
                notify_url: Some(notify_url),
                return_url,
                subject: Some(subject),
                body: Some(body),
                param1,
                param2,
                extra,
                channel_user_id,
                ..CreateOrderRequest::default()
            };
            client
                .call("/api/pay/create_order", client.signed_params(&request))
                .await
                .map_err(failure)?
        }
        Operation::QueryOrder {
            pay_order_id,
            mch_order_no,
            execute_notify,
        } => {
            let request = QueryOrderRequest {
                pay_order_id,
                mch_order_no,
                execute_notify: execute_notify.then(|| "true".to_owned()),
                ..QueryOrderRequest::default()
            };
            client
                .call("/api/pay/query_order", client.signed_params(&request))
                .await
                .map_err(failure)?
        }
        Operation::CloseOrder {
            pay_order_id,
            mch_order_no,
        } => {
            let request = CloseOrderRequest {
                pay_order_id,
                mch_order_no,
                ..CloseOrderRequest::default()
            };
            client
                .call("/api/pay/close_order", client.signed_params(&request))
                .await
                .map_err(failure)?
        }
        Operation::Listen { addr } => return listen(client, &addr).await,
    };
    finish(reply)
}

/// Prints the reply; a refusal is a failure that quotes the server's words.
fn finish(reply: Map<String, Value>) -> Result<(), ClientFailure> {
    crate::common::print_json(&Value::Object(reply.clone()));
    if reply.get("retCode").and_then(Value::as_str) == Some("SUCCESS") {
        eprintln!("reply signature verified");
        return Ok(());
    }
    let message = reply
        .get("retMsg")
        .and_then(Value::as_str)
        .unwrap_or("retCode is not SUCCESS");
    Err(ClientFailure::Refused(message.to_owned()))
}

/// A merchant's notification endpoint: prints each notification, answers `success` when
/// its signature verifies and `fail` otherwise (so the gateway retries).
async fn listen(client: XxpayClient, addr: &str) -> Result<(), ClientFailure> {
    use axum::extract::{RawQuery, State};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ClientFailure::Setup(format!("cannot listen on {addr}: {e}")))?;
    eprintln!("listening for xxpay notifications on http://{addr}/ (any path)");
    let handler = |State(client): State<XxpayClient>, RawQuery(query): RawQuery, body: String| async move {
        let mut fields = decode_form(&body, true);
        fields.extend(decode_form(query.as_deref().unwrap_or(""), true));
        let verified = client.verify_notification(&fields);
        crate::common::show_form_notification(fields, verified, "success", "fail")
    };
    let app = axum::Router::new().fallback(handler).with_state(client);
    axum::serve(listener, app)
        .await
        .map_err(|e| ClientFailure::Setup(e.to_string()))
}
