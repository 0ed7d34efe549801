//! `paymux client DIALECT OPERATION …`: merchant-side tools on the dialects' own clients.
//! Credentials come from a config file (`--config`, `--merchant`), by default the demo
//! merchant that `paymux serve` keeps in `./paymux-data/demo-merchant.toml`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use paymux_dialects::upp::wire::{
    BarcodeRequest, PaymentRef, RefundQueryRequest, RefundRequest, ScanCodeRequest,
};
use paymux_dialects::upp::{UppClient, UppCredentials};
use paymux_dialects::xxpay::wire::{CreateOrderRequest, QueryOrderRequest};
use paymux_dialects::xxpay::{XxpayClient, XxpayCredentials};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::config::{Config, MerchantConfig};

#[derive(Subcommand)]
pub enum ClientCommand {
    /// xxpay (聚合支付): create-order, query-order, listen.
    Xxpay {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        operation: XxpayOperation,
    },
    /// upp (芸泰统一支付平台): network, scancode, barcode, query, refund, refund-query, close.
    Upp {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        operation: UppOperation,
    },
}

#[derive(Args)]
pub struct Target {
    /// The gateway's base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A paymux config file holding the merchant's credentials.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Which `[[merchant]]` of the config (default: the first).
    #[arg(long, global = true)]
    merchant: Option<String>,
    /// Where `paymux serve` keeps the demo merchant, when no --config is given.
    #[arg(long, global = true, default_value = "paymux-data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
pub enum XxpayOperation {
    /// §2.1 统一下单.
    CreateOrder {
        #[arg(long, default_value_t = 8002)]
        product_id: u32,
        /// Fen.
        #[arg(long, default_value_t = 1)]
        amount: i64,
        /// Default: DEMO followed by the time.
        #[arg(long)]
        mch_order_no: Option<String>,
        #[arg(long, default_value = "http://127.0.0.1:9000/notify")]
        notify_url: String,
        #[arg(long, default_value = "测试商品名称")]
        subject: String,
        #[arg(long, default_value = "测试商品描述")]
        body: String,
        #[arg(long)]
        param1: Option<String>,
        #[arg(long)]
        param2: Option<String>,
    },
    /// §2.2 查询支付订单.
    QueryOrder {
        #[arg(long)]
        pay_order_id: Option<String>,
        #[arg(long)]
        mch_order_no: Option<String>,
        /// Ask the gateway to send the payment notification again.
        #[arg(long)]
        execute_notify: bool,
    },
    /// Receives payment notifications on ADDR, verifies them, answers `success`.
    Listen {
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: String,
    },
}

#[derive(Subcommand)]
pub enum UppOperation {
    /// §4.1 网络测试.
    Network,
    /// §4.2 扫码付下单.
    Scancode {
        #[arg(long)]
        payment_no: Option<String>,
        #[arg(long, default_value = "ali_scan_code")]
        channel_product: String,
        /// Yuan.
        #[arg(long, default_value = "0.01")]
        trade_fee: String,
        #[arg(long, default_value = "门诊缴费")]
        subject: String,
        /// Minutes from now.
        #[arg(long, default_value_t = 30)]
        expire_in: i64,
    },
    /// §4.3 条码付下单.
    Barcode {
        #[arg(long)]
        auth_code: String,
        #[arg(long)]
        payment_no: Option<String>,
        #[arg(long, default_value = "0.01")]
        trade_fee: String,
        #[arg(long, default_value = "门诊缴费")]
        subject: String,
        #[arg(long, default_value_t = 30)]
        expire_in: i64,
    },
    /// §4.4 支付查询.
    Query {
        #[arg(long)]
        payment_no: String,
    },
    /// §4.5 退款申请.
    Refund {
        #[arg(long)]
        payment_no: String,
        #[arg(long)]
        refund_fee: String,
        #[arg(long)]
        request_no: String,
        /// Default: the requestNo.
        #[arg(long)]
        refund_no: Option<String>,
    },
    /// §4.6 退款查询.
    RefundQuery {
        #[arg(long)]
        request_no: String,
    },
    /// §4.7 交易关闭.
    Close {
        #[arg(long)]
        payment_no: String,
    },
}

pub async fn run(command: ClientCommand) -> Result<(), String> {
    match command {
        ClientCommand::Xxpay { target, operation } => xxpay(target, operation).await,
        ClientCommand::Upp { target, operation } => upp(target, operation).await,
    }
}

fn merchant(target: &Target) -> Result<MerchantConfig, String> {
    let config = match &target.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => {
            let path = target.data_dir.join("demo-merchant.toml");
            if !path.exists() {
                return Err(format!(
                    "no --config given and no demo merchant at {} (run `paymux serve` first)",
                    path.display()
                ));
            }
            Config::load(&path).map_err(|e| e.to_string())?
        }
    };
    let found = match &target.merchant {
        Some(id) => config.merchants.into_iter().find(|m| &m.id == id),
        None => config.merchants.into_iter().next(),
    };
    found.ok_or_else(|| "no such merchant in the config".to_owned())
}

fn print<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the reply: {e}"),
    }
}

/// A default business number: Beijing time to the millisecond.
fn stamp() -> String {
    let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
    format!(
        "{}{:03}",
        paymux_core::time::format_beijing_compact(now),
        now.0.rem_euclid(1000)
    )
}

fn xxpay_client(target: &Target) -> Result<(XxpayClient, XxpayCredentials), String> {
    let credentials = merchant(target)?
        .xxpay
        .ok_or("the merchant has no [merchant.xxpay] credentials")?;
    let client = XxpayClient::new(
        &target.url,
        &credentials.mch_id,
        &credentials.app_id,
        credentials.key.clone(),
    )
    .map_err(|e| e.to_string())?;
    Ok((client, credentials))
}

async fn xxpay(target: Target, operation: XxpayOperation) -> Result<(), String> {
    let (client, _) = xxpay_client(&target)?;
    match operation {
        XxpayOperation::CreateOrder {
            product_id,
            amount,
            mch_order_no,
            notify_url,
            subject,
            body,
            param1,
            param2,
        } => {
            let request = CreateOrderRequest {
                product_id: Some(product_id.to_string()),
                mch_order_no: Some(mch_order_no.unwrap_or_else(|| format!("DEMO{}", stamp()))),
                currency: Some("cny".into()),
                amount: Some(amount.to_string()),
                notify_url: Some(notify_url),
                subject: Some(subject),
                body: Some(body),
                param1,
                param2,
                ..CreateOrderRequest::default()
            };
            let reply = client
                .create_order(&request)
                .await
                .map_err(|e| e.to_string())?;
            print(&reply);
            if reply.ret_code.as_deref() == Some("SUCCESS") {
                eprintln!("reply signature verified");
            }
        }
        XxpayOperation::QueryOrder {
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
            let reply = client
                .query_order(&request)
                .await
                .map_err(|e| e.to_string())?;
            print(&reply);
            if reply.ret_code.as_deref() == Some("SUCCESS") {
                eprintln!("reply signature verified");
            }
        }
        XxpayOperation::Listen { addr } => listen(client, &addr).await?,
    }
    Ok(())
}

/// A merchant's notification endpoint: prints each notification, answers `success` when
/// its signature verifies and `fail` otherwise (so the gateway retries).
async fn listen(client: XxpayClient, addr: &str) -> Result<(), String> {
    use axum::extract::{RawQuery, State};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    eprintln!("listening for xxpay notifications on http://{addr}/ (any path)");
    let handler = |State(client): State<XxpayClient>, RawQuery(query): RawQuery, body: String| async move {
        let mut fields = paymux_dialects::common::decode_form(&body, true);
        fields.extend(paymux_dialects::common::decode_form(
            query.as_deref().unwrap_or(""),
            true,
        ));
        let verified = client.verify_notification(&fields);
        let shown: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        print(&shown);
        eprintln!(
            "signature {}",
            if verified {
                "verified: answering success"
            } else {
                "INVALID: answering fail"
            }
        );
        if verified { "success" } else { "fail" }
    };
    let app = axum::Router::new().fallback(handler).with_state(client);
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

fn upp_client(target: &Target) -> Result<(UppClient, UppCredentials), String> {
    let credentials = merchant(target)?
        .upp
        .ok_or("the merchant has no [merchant.upp] credentials")?;
    let client = UppClient::new(
        &target.url,
        credentials.isv_id,
        credentials.partner_id,
        credentials.key.clone(),
    )
    .map_err(|e| e.to_string())?;
    Ok((client, credentials))
}

fn expire_at(minutes: i64) -> String {
    let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
    paymux_core::time::format_beijing_datetime(now.plus_secs(minutes * 60))
}

async fn upp(target: Target, operation: UppOperation) -> Result<(), String> {
    let (client, _) = upp_client(&target)?;
    let reply = match operation {
        UppOperation::Network => client.network().await,
        UppOperation::Scancode {
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
        UppOperation::Barcode {
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
        UppOperation::Query { payment_no } => {
            client
                .query(&PaymentRef {
                    biz_type: Some("scan_pay".into()),
                    payment_no: Some(payment_no),
                })
                .await
        }
        UppOperation::Refund {
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
        UppOperation::RefundQuery { request_no } => {
            client
                .refund_query(&RefundQueryRequest {
                    request_no: Some(request_no),
                })
                .await
        }
        UppOperation::Close { payment_no } => {
            client
                .close(&PaymentRef {
                    biz_type: Some("scan_pay".into()),
                    payment_no: Some(payment_no),
                })
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    print(&reply);
    eprintln!("reply signature verified");
    Ok(())
}

/// What `paymux serve` prints on the embedded defaults: the demo merchant's credentials
/// and a request to paste.
pub fn print_demo_merchant(config: &Config, data_dir: &Path, generated: bool) {
    let Some(m) = config.merchants.first() else {
        return;
    };
    let url = config.server.public_url();
    let kept = data_dir.join("demo-merchant.toml");
    println!(
        "paymux demo merchant \"{}\" ({}), {} {}",
        m.id,
        m.name,
        if generated {
            "generated and kept in"
        } else {
            "read from"
        },
        kept.display()
    );
    if let Some(x) = &m.xxpay {
        println!(
            "  xxpay  mchId={} appId={} key={}",
            x.mch_id,
            x.app_id,
            x.key.expose_secret()
        );
        let order_no = format!("DEMO{}", stamp());
        let request = CreateOrderRequest {
            mch_id: Some(x.mch_id.clone()),
            app_id: Some(x.app_id.clone()),
            product_id: Some("8002".into()),
            mch_order_no: Some(order_no),
            currency: Some("cny".into()),
            amount: Some("100".into()),
            notify_url: Some("http://127.0.0.1:9000/notify".into()),
            subject: Some("测试商品名称".into()),
            body: Some("测试商品描述".into()),
            ..CreateOrderRequest::default()
        };
        let mut params = paymux_dialects::xxpay::wire::to_params(&request);
        let sign =
            paymux_dialects::xxpay::codec::sign_params(&params, &["sign"], x.key.expose_secret());
        params.insert("sign".into(), serde_json::Value::String(sign));
        println!(
            "  try:   curl -s {url}/api/pay/create_order --data-urlencode 'params={}'",
            serde_json::Value::Object(params)
        );
    }
    if let Some(u) = &m.upp {
        println!(
            "  upp    isvId={} partnerId={} key={}",
            u.isv_id,
            u.partner_id,
            u.key.expose_secret()
        );
    }
    if let Some(c) = &m.chinaums {
        println!(
            "  chinaums mid={} tid={} msgSrcId={} appId={} appKey={} signKey={}",
            c.mid,
            c.tid,
            c.msg_src_id,
            c.app_id,
            c.app_key.expose_secret(),
            c.sign_key.expose_secret()
        );
    }
    if let Some(h) = &m.hrss {
        println!(
            "  hrss   accessKey={} appId={} mchId={} sm4Key={}",
            h.access_key,
            h.app_id,
            h.mch_id,
            h.sm4_key.expose_secret()
        );
    }
    if let Some(mm) = &m.mmsp {
        println!(
            "  mmsp   MERNO={} TERMNO={} md5Key={}",
            mm.merno,
            mm.termno,
            mm.md5_key.expose_secret()
        );
    }
    println!(
        "  or:    paymux client xxpay create-order --amount 100   (see README.md for the walkthrough)"
    );
}
