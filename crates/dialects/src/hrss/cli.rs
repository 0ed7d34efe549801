//! `paymux client hrss …`: the merchant's side of §4.1–§4.8 and §5.2 on
//! [`HrssClient`]. It signs with the merchant's own SM2 key (`sm2_private_key` in
//! `[merchant.hrss]`, which the demo merchant has) and prints replies with `data`
//! decrypted.

use clap::{FromArgMatches, Subcommand};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::client::{Answer, HrssClient};
use super::crypto::{PrivateKey, PublicKey, Sm4Key};
use super::wire::{
    CloseRequest, OrderRequest, Personal, QueryRequest, RefundQueryRequest, RefundRequest,
    StaticCodeRequest,
};
use super::{HrssCredentials, NAME};
use crate::ClientTarget;
use crate::common::merchants::parse_table;
use crate::common::{ClientFailure, print_json};
use crate::xxpay::cli::stamp;

/// What every order service takes.
#[derive(clap::Args, Debug, Clone)]
pub struct OrderArgs {
    /// Amount in fen (orderAmount; 100 = ¥1.00).
    #[arg(long, default_value_t = 1)]
    amount: i64,
    /// SBK (社保卡), WX (WeChat) or ALI (Alipay).
    #[arg(long, default_value = "SBK")]
    way_code: String,
    /// The merchant's order number (mchOrderId); default: HRSS followed by the time.
    #[arg(long)]
    mch_order_id: Option<String>,
    /// 10001 门诊, 10002 住院, 10003 互联网医院, 10099 医疗其他.
    #[arg(long, default_value = "10001")]
    order_type: String,
    /// Where paymux sends the payment notification (see `listen`).
    #[arg(long, default_value = "http://127.0.0.1:9000/notify")]
    notify_url: String,
    /// The payer's ID type: 01 居民身份证, 90 社会保障卡, 99 其他.
    #[arg(long, default_value = "01")]
    id_type: String,
    /// The payer's ID number (the spec's example by default; never logged by paymux).
    #[arg(long, default_value = "51012XXXXXXXXXX30023")]
    id_number: String,
    /// The payer's name, optional.
    #[arg(long)]
    id_name: Option<String>,
    /// The order's title, shown to the payer.
    #[arg(long, default_value = "测试订单")]
    title: String,
    /// The order's description.
    #[arg(long, default_value = "仅供测试")]
    desc: String,
}

#[derive(Subcommand)]
pub enum Operation {
    /// §4.1 线上支付下单: prints payUrl (the cashier link, §6.2).
    OnlineOrder {
        #[command(flatten)]
        order: OrderArgs,
        /// Where the cashier sends the payer after paying (returnUrl), optional.
        #[arg(long)]
        return_url: Option<String>,
    },
    /// §4.2 用户被扫支付下单: with the payer's 电子社保卡 or 电子健康码; prints payUrl.
    PassiveScan {
        #[command(flatten)]
        order: OrderArgs,
        /// The payer's code as the scanner reads it (qrCode, at most 34 characters).
        #[arg(long)]
        qr_code: String,
    },
    /// §4.3 用户主扫支付下单(动态码): prints qrImage, a PNG data URL of the cashier's QR code.
    DynamicCode {
        #[command(flatten)]
        order: OrderArgs,
        /// Also write the QR code's PNG to this file.
        #[arg(long)]
        save_png: Option<std::path::PathBuf>,
    },
    /// §4.5 订单查询: payStatus 0 unpaid, 2 paid, 3 failed, 4 closed, 5 paid after closing.
    Query {
        /// The merchant's order number.
        #[arg(long)]
        mch_order_id: String,
        /// The platform's order number (payOrderId) from the order's reply.
        #[arg(long)]
        pay_order_id: String,
    },
    /// §4.6 退款: refunds part or all of a paid order.
    Refund {
        /// The merchant's order number.
        #[arg(long)]
        mch_order_id: String,
        /// The platform's order number (payOrderId).
        #[arg(long)]
        pay_order_id: String,
        /// Amount to refund in fen (orderAmount).
        #[arg(long)]
        amount: i64,
        /// The merchant's refund number (mchRefundId): the same one again is the same refund.
        #[arg(long)]
        mch_refund_id: String,
    },
    /// §4.7 退款查询: a refund's refundStatus (1 in progress, 2 done, 3 failed).
    RefundQuery {
        /// The merchant's order number.
        #[arg(long)]
        mch_order_id: String,
        /// The platform's refund number (refundOrderId) from the refund's reply.
        #[arg(long)]
        refund_order_id: String,
    },
    /// §4.8 订单关闭: closes an unpaid order.
    Close {
        /// The merchant's order number.
        #[arg(long)]
        mch_order_id: String,
        /// The platform's order number (payOrderId).
        #[arg(long)]
        pay_order_id: String,
        /// Why (closeDesc), optional.
        #[arg(long)]
        close_desc: Option<String>,
    },
    /// A static code (§4.4) the operator declared for the merchant: prints its page's URL
    /// (codeUrl) and QR image (paymux's own service, paymux.staticCode).
    StaticCode {
        /// The code's ref, as declared in [merchant.hrss] static_codes.
        #[arg(long = "ref")]
        code_ref: String,
        /// Also write the QR code's PNG to this file.
        #[arg(long)]
        save_png: Option<std::path::PathBuf>,
    },
    /// A merchant's notification endpoint on ADDR: prints each §5.2 notification with its
    /// data decrypted, answers isSuccess 1 when the platform's signature verifies, 0 otherwise.
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: String,
        /// The platform's SM2 public key (04…), as `paymux keys hrss` prints it.
        #[arg(long)]
        platform_public_key: String,
    },
}

fn setup<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> ClientFailure + '_ {
    move |e| ClientFailure::Setup(format!("{what} {e}"))
}

/// The client for the target's merchant.
fn client(target: &ClientTarget) -> Result<HrssClient, ClientFailure> {
    let table = target.credentials.as_ref().ok_or_else(|| {
        ClientFailure::Setup(format!(
            "the merchant in {} has no [merchant.hrss] credentials",
            target.source
        ))
    })?;
    let credentials: HrssCredentials =
        parse_table(NAME, &table.merchant, &table.table).map_err(ClientFailure::Setup)?;
    let private = credentials.sm2_private_key.as_ref().ok_or_else(|| {
        ClientFailure::Setup(format!(
            "[merchant.hrss] in {} has no sm2_private_key: paymux client signs as the merchant, with its own SM2 key",
            target.source
        ))
    })?;
    let signing_key = PrivateKey::parse(private.expose_secret())
        .map_err(setup("[merchant.hrss] sm2_private_key"))?;
    let sm4 = Sm4Key::parse(credentials.sm4_key.expose_secret())
        .map_err(setup("[merchant.hrss] sm4_key"))?;
    HrssClient::new(
        &target.url,
        &credentials.context,
        &credentials.access_key,
        &credentials.app_id,
        signing_key,
        sm4,
        credentials.plaintext,
    )
    .map_err(|e| ClientFailure::Setup(e.to_string()))
}

fn order_request(args: OrderArgs) -> OrderRequest {
    let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
    OrderRequest {
        way_code: Some(args.way_code),
        order_amount: Some(args.amount.to_string()),
        mch_order_id: Some(
            args.mch_order_id
                .unwrap_or_else(|| format!("HRSS{}", stamp())),
        ),
        order_type: Some(args.order_type),
        pay_type: Some("1".into()),
        notify_url: Some(args.notify_url),
        order_create_time: Some(paymux_core::time::format_beijing_datetime(now)),
        id_type_order: Some(args.id_type),
        id_number_order: Some(Personal(args.id_number)),
        id_name_order: args.id_name.map(Personal),
        order_title: Some(args.title),
        order_desc: Some(args.desc),
        ..OrderRequest::default()
    }
}

pub async fn run(matches: &clap::ArgMatches, target: ClientTarget) -> Result<(), ClientFailure> {
    let operation =
        Operation::from_arg_matches(matches).map_err(|e| ClientFailure::Setup(e.to_string()))?;
    let client = client(&target)?;
    let failure = |e| ClientFailure::from_client_error(e, &target.url);
    let mut save_png = None;
    let answer = match operation {
        Operation::OnlineOrder { order, return_url } => {
            let request = OrderRequest {
                return_url,
                ..order_request(order)
            };
            client.online_order(&request).await
        }
        Operation::PassiveScan { order, qr_code } => {
            let request = OrderRequest {
                qr_code: Some(Personal(qr_code)),
                ..order_request(order)
            };
            client.passive_scan(&request).await
        }
        Operation::DynamicCode {
            order,
            save_png: path,
        } => {
            save_png = path;
            client.dynamic_code(&order_request(order)).await
        }
        Operation::Query {
            mch_order_id,
            pay_order_id,
        } => {
            client
                .query(&QueryRequest {
                    mch_order_id: Some(mch_order_id),
                    pay_order_id: Some(pay_order_id),
                })
                .await
        }
        Operation::Refund {
            mch_order_id,
            pay_order_id,
            amount,
            mch_refund_id,
        } => {
            client
                .refund(&RefundRequest {
                    mch_order_id: Some(mch_order_id),
                    pay_order_id: Some(pay_order_id),
                    order_amount: Some(amount.to_string()),
                    mch_refund_id: Some(mch_refund_id),
                })
                .await
        }
        Operation::RefundQuery {
            mch_order_id,
            refund_order_id,
        } => {
            client
                .refund_query(&RefundQueryRequest {
                    mch_order_id: Some(mch_order_id),
                    refund_order_id: Some(refund_order_id),
                })
                .await
        }
        Operation::Close {
            mch_order_id,
            pay_order_id,
            close_desc,
        } => {
            client
                .close(&CloseRequest {
                    mch_order_id: Some(mch_order_id),
                    pay_order_id: Some(pay_order_id),
                    close_desc,
                })
                .await
        }
        Operation::StaticCode {
            code_ref,
            save_png: path,
        } => {
            save_png = path;
            client
                .static_code(&StaticCodeRequest {
                    code_ref: Some(code_ref),
                })
                .await
        }
        Operation::Listen {
            addr,
            platform_public_key,
        } => {
            let platform =
                PublicKey::parse(&platform_public_key).map_err(setup("--platform-public-key"))?;
            return listen(client, platform, &addr).await;
        }
    };
    let answer = answer.map_err(failure)?;
    if let (Some(path), Some(image)) = (
        &save_png,
        answer
            .data
            .as_ref()
            .and_then(|d| d.get("qrImage"))
            .and_then(Value::as_str),
    ) {
        write_png(path, image)?;
    }
    finish(answer)
}

fn write_png(path: &std::path::Path, data_url: &str) -> Result<(), ClientFailure> {
    let bytes = data_url
        .strip_prefix("data:image/png;base64,")
        .and_then(super::crypto::decode_base64)
        .ok_or_else(|| ClientFailure::BadReply("qrImage is not a PNG data URL".into()))?;
    std::fs::write(path, bytes)
        .map_err(|e| ClientFailure::Setup(format!("cannot write {}: {e}", path.display())))?;
    eprintln!("QR code written to {}", path.display());
    Ok(())
}

/// Prints the reply with its data decrypted; a refusal or business failure quotes why.
fn finish(answer: Answer) -> Result<(), ClientFailure> {
    let mut shown = serde_json::to_value(&answer.reply).unwrap_or(Value::Null);
    if let (Some(data), Some(biz)) = (&answer.data, shown.get_mut("biz_data")) {
        biz["data"] = Value::Object(data.clone());
        eprintln!("biz_data.data decrypted with the merchant's SM4 key");
    }
    print_json(&shown);
    match answer.failure() {
        None => Ok(()),
        Some(why) => Err(ClientFailure::Refused(why)),
    }
}

/// A merchant's notification endpoint: prints each notification, answers isSuccess 1 when
/// it verifies and 0 otherwise (so the platform tries again).
async fn listen(client: HrssClient, platform: PublicKey, addr: &str) -> Result<(), ClientFailure> {
    use std::sync::Arc;

    use axum::extract::State;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ClientFailure::Setup(format!("cannot listen on {addr}: {e}")))?;
    eprintln!("listening for hrss notifications on http://{addr}/ (any path)");
    let state = Arc::new((client, platform));
    let handler = |State(state): State<Arc<(HrssClient, PublicKey)>>, body: axum::body::Bytes| async move {
        let (client, platform) = state.as_ref();
        let answer = match client.verify_notification(&body, platform) {
            Ok(data) => {
                print_json(&serde_json::to_value(&data).unwrap_or(Value::Null));
                eprintln!("signature verified: answering isSuccess 1");
                serde_json::json!({"isSuccess": "1", "returnMsg": ""})
            }
            Err(e) => {
                eprintln!("{}", String::from_utf8_lossy(&body));
                eprintln!("INVALID ({e}): answering isSuccess 0");
                serde_json::json!({"isSuccess": "0", "returnMsg": e.to_string()})
            }
        };
        axum::Json(answer)
    };
    let app = axum::Router::new().fallback(handler).with_state(state);
    axum::serve(listener, app)
        .await
        .map_err(|e| ClientFailure::Setup(e.to_string()))
}
