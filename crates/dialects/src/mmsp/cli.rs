//! `paymux client mmsp …`: the merchant's side of the scan, quick and gateway parts on
//! [`MmspClient`]. Prints the reply frame; a negative reply (CommandID 32768) exits 1.

use clap::{FromArgMatches, Subcommand, ValueEnum};
use serde_json::Value;

use super::client::{GatewayAnswer, MmspClient, Reply};
use super::routes::Part;
use super::wire::{
    BatchQuery, GatewayRequest, OrderRef, Params, QuickRequest, RefundRef, ScanOrder, command,
};
use super::{MmspCredentials, NAME};
use crate::ClientTarget;
use crate::common::ClientFailure;
use crate::common::merchants::parse_table;
use crate::xxpay::cli::stamp;

const NOTIFY_URL: &str = "http://127.0.0.1:9000/notify";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Product {
    /// 2306 TRADETYPE 1: WeChat native QR.
    Wechat,
    /// 2306 TRADETYPE 2: WeChat 公众号 (needs --openid).
    WechatJsapi,
    /// 2306 TRADETYPE 2 with IS_MINIPG 1 (needs --openid and --sup-appid).
    WechatMini,
    /// 2321: WeChat H5 (needs --jump-url).
    WechatH5,
    /// 2308 TRADETYPE 1: Alipay native QR.
    Alipay,
    /// 2308 TRADETYPE 2: Alipay 服务窗 (needs --alipay-user-id).
    AlipayFuwu,
    /// 1026: Alipay static code (binds the order to the merchant's printed code).
    AlipayStatic,
    /// 1027: Alipay dynamic code.
    AlipayDynamic,
    /// 1030: Alipay H5.
    AlipayH5,
    /// 2325 TRADETYPE 1: QQ wallet QR.
    Qq,
    /// 1025: UnionPay wallet QR.
    Unionpay,
    /// 1031: JD QR.
    Jd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MicropayWallet {
    /// 2307.
    Wechat,
    /// 2309.
    Alipay,
    /// 776 (also 2326).
    Qq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartName {
    Scan,
    Quick,
    Gateway,
}

impl From<PartName> for Part {
    fn from(p: PartName) -> Part {
        match p {
            PartName::Scan => Part::Scan,
            PartName::Quick => Part::Quick,
            PartName::Gateway => Part::Gateway,
        }
    }
}

#[derive(Subcommand)]
pub enum Operation {
    /// 扫码: a QR, 公众号, mini-program or H5 order; prints URL (the payer's link) or PAY_INFO.
    Scan {
        /// Which product (and CommandID).
        #[arg(long, value_enum, default_value = "wechat")]
        product: Product,
        /// Amount in fen (1 = ¥0.01).
        #[arg(long, default_value_t = 1)]
        amt: i64,
        /// The merchant's order number; default: M and the time.
        #[arg(long)]
        merorderid: Option<String>,
        /// The goods' name, 1 to 15 characters.
        #[arg(long, default_value = "测试商品")]
        goods_name: String,
        /// Where paymux pushes the result (CommandID 2324).
        #[arg(long, default_value = NOTIFY_URL)]
        notify_url: String,
        /// The payer's WeChat openid (公众号 and mini-program).
        #[arg(long)]
        openid: Option<String>,
        /// The 公众号's or mini-program's AppID.
        #[arg(long)]
        sup_appid: Option<String>,
        /// The payer's Alipay user_id (服务窗).
        #[arg(long)]
        alipay_user_id: Option<String>,
        /// The payer's way back to the merchant (H5).
        #[arg(long)]
        jump_url: Option<String>,
        /// 1: return PAY_INFO (the wallet SDK's data) instead of URL (公众号, 服务窗).
        #[arg(long)]
        is_raw: Option<String>,
        /// When the order expires, yyyy-mm-dd hh24:mi:ss; default 5 minutes.
        #[arg(long)]
        time_end: Option<String>,
    },
    /// 刷卡: the payer's code (sandbox: last digit 1 pays, 2 waits for the payer, 9 fails).
    Micropay {
        /// The payer's wallet (and CommandID).
        #[arg(long, value_enum, default_value = "wechat")]
        wallet: MicropayWallet,
        /// The payer's code as the scanner reads it.
        #[arg(long)]
        code: String,
        /// Amount in fen.
        #[arg(long, default_value_t = 1)]
        amt: i64,
        /// The merchant's order number; default: M and the time.
        #[arg(long)]
        merorderid: Option<String>,
        /// The goods' name.
        #[arg(long, default_value = "测试商品")]
        goods_name: String,
        /// Where paymux pushes a result that comes later.
        #[arg(long, default_value = NOTIFY_URL)]
        notify_url: String,
    },
    /// 2310 查询订单.
    Query {
        /// paymux's order number (ORDERNO).
        #[arg(long)]
        orderno: Option<String>,
        /// The merchant's order number, instead of --orderno.
        #[arg(long)]
        merorderid: Option<String>,
    },
    /// 2311 撤销订单: closes an unpaid order, refunds a paid one (15 s after the order).
    Cancel {
        /// paymux's order number (ORDERNO).
        #[arg(long)]
        orderno: Option<String>,
        /// The merchant's order number, instead of --orderno.
        #[arg(long)]
        merorderid: Option<String>,
    },
    /// 2314 关闭订单: closes an unpaid order.
    Close {
        /// paymux's order number (ORDERNO).
        #[arg(long)]
        orderno: Option<String>,
        /// The merchant's order number, instead of --orderno.
        #[arg(long)]
        merorderid: Option<String>,
    },
    /// 2312 退款.
    Refund {
        /// paymux's order number (ORDERNO).
        #[arg(long)]
        orderno: Option<String>,
        /// The merchant's order number, instead of --orderno.
        #[arg(long)]
        merorderid: Option<String>,
        /// The merchant's refund number: the same number again is the same refund.
        #[arg(long)]
        refund_merorderid: String,
        /// Amount to refund, in fen.
        #[arg(long)]
        amt: i64,
    },
    /// 2313 退款查询.
    RefundQuery {
        /// paymux's refund number (REFUND_ORDERNO).
        #[arg(long)]
        refund_orderno: Option<String>,
        /// The merchant's refund number, instead of --refund-orderno.
        #[arg(long)]
        refund_merorderid: Option<String>,
    },
    /// 771 快捷支付: the card is checked and the payer gets a code (see quick-confirm).
    QuickPay {
        /// The card number.
        #[arg(long)]
        card_no: String,
        /// 1 debit, 2 credit (needs --expdate and --cvn2).
        #[arg(long, default_value = "1")]
        card_type: String,
        /// The card holder's name.
        #[arg(long)]
        name: String,
        /// The card holder's ID number.
        #[arg(long)]
        id_no: String,
        /// The phone the bank has for the card: the code goes there.
        #[arg(long)]
        phone: String,
        /// Credit cards: MMYY.
        #[arg(long)]
        expdate: Option<String>,
        /// Credit cards: the code on the back.
        #[arg(long)]
        cvn2: Option<String>,
        /// Amount in fen.
        #[arg(long, default_value_t = 1)]
        amt: i64,
        /// The merchant's order number; default: Q and the time.
        #[arg(long)]
        merorderid: Option<String>,
        /// The merchant's id for the card holder: binds the card (BIND_ID).
        #[arg(long)]
        user_id: Option<String>,
        /// Where paymux notifies the payment (CommandID 35104).
        #[arg(long, default_value = NOTIFY_URL)]
        notify_url: String,
    },
    /// 772 交易短信确认: the code the payer received.
    QuickConfirm {
        /// paymux's order number (LIST_ID).
        #[arg(long)]
        list_id: String,
        /// The six-digit code (sandbox: GET /sandbox/sms?phone=…).
        #[arg(long)]
        code: String,
    },
    /// 773 单笔交易查询.
    QuickQuery {
        /// The merchant's order number.
        #[arg(long)]
        merorderid: String,
    },
    /// 778 短信重发: a new code, at most once a minute.
    QuickResend {
        /// paymux's order number (LIST_ID).
        #[arg(long)]
        list_id: String,
    },
    /// 780 绑卡支付短信: an order on a bound card; the code goes to --phone.
    BoundSms {
        /// The binding (BIND_ID) from a quick-pay with --user-id.
        #[arg(long)]
        bind_id: String,
        /// The merchant's id for the card holder.
        #[arg(long)]
        user_id: String,
        /// Where the code goes.
        #[arg(long)]
        phone: String,
        /// Amount in fen.
        #[arg(long, default_value_t = 1)]
        amt: i64,
        /// The merchant's order number; default: B and the time.
        #[arg(long)]
        merorderid: Option<String>,
    },
    /// 779 快捷绑卡支付确认: confirms bound-sms's order with the code.
    BoundPay {
        /// bound-sms's order number.
        #[arg(long)]
        merorderid: String,
        /// The binding.
        #[arg(long)]
        bind_id: String,
        /// The merchant's id for the card holder.
        #[arg(long)]
        user_id: String,
        /// The amount bound-sms was given, in fen.
        #[arg(long)]
        amt: i64,
        /// The six-digit code.
        #[arg(long)]
        code: String,
        /// Where paymux notifies the payment.
        #[arg(long, default_value = NOTIFY_URL)]
        notify_url: String,
    },
    /// 783 银联快捷下单: prints PAY_URL (and HTML with --trade-mode 2).
    UnionpayQuick {
        /// Amount in fen.
        #[arg(long, default_value_t = 1)]
        amt: i64,
        /// The merchant's order number; default: U and the time.
        #[arg(long)]
        merorderid: Option<String>,
        /// Where the payer's browser goes after paying.
        #[arg(long, default_value = "http://127.0.0.1:9000/return")]
        jump_url: String,
        /// Where paymux notifies the payment.
        #[arg(long, default_value = NOTIFY_URL)]
        notify_url: String,
        /// 1: PAY_URL only; 2: also HTML.
        #[arg(long, default_value = "1")]
        trade_mode: String,
    },
    /// 777 (quick) / 782 (gateway) 多笔批量查询: paid orders, a page at a time.
    Batch {
        /// Which part's orders.
        #[arg(long, value_enum, default_value = "quick")]
        part: PartName,
        /// YYYYMMDD, YYYYMMDDHH or YYYYMMDDHHmmss, within three months.
        #[arg(long)]
        start_date: String,
        /// The same formats; the date, hour or second itself included.
        #[arg(long)]
        end_date: String,
        /// Orders per page, at most 1000.
        #[arg(long, default_value_t = 10)]
        perpage: u32,
        /// Which page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
    /// 2322 网关支付: posts the web_api form and prints the bank page (or, with --form, the
    /// form a merchant's page writes).
    GatewayPay {
        /// The bank channel of §8.1 (test: YLBILL-NET-B2C).
        #[arg(long, default_value = "YLBILL-NET-B2C")]
        pay_channel: String,
        /// Amount in fen.
        #[arg(long, default_value_t = 1)]
        amt: i64,
        /// The merchant's order number; default: G and the time.
        #[arg(long)]
        merorderid: Option<String>,
        /// Where the payer's browser returns (with the order's state in the query).
        #[arg(long, default_value = "http://127.0.0.1:9000/return")]
        jump_url: String,
        /// Where paymux notifies the payment (CommandID 35090).
        #[arg(long, default_value = NOTIFY_URL)]
        notify_url: String,
        /// The goods' name.
        #[arg(long)]
        goods_name: Option<String>,
        /// A remark echoed back.
        #[arg(long)]
        remark: Option<String>,
        /// Print the auto-submitting form instead of posting it.
        #[arg(long)]
        form: bool,
    },
    /// 2323 网关支付结果单笔查询.
    GatewayQuery {
        /// The merchant's order number.
        #[arg(long)]
        merorderid: String,
    },
    /// A merchant's notification endpoint on ADDR: prints each push (2324 scan, 35104
    /// quick, 35090 gateway) and answers `SUCCESS` when its Sign verifies with the
    /// merchant's key (the spec: the merchant prints SUCCESS; quick and gateway read a body
    /// starting with it), `FAIL` otherwise, so that paymux tries again.
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: String,
    },
    /// Any CommandID with a Body of your own (JSON object), signed.
    Send {
        /// The part whose path it goes to.
        #[arg(long, value_enum)]
        part: PartName,
        /// The CommandID, decimal.
        #[arg(long)]
        command_id: i64,
        /// The Body, a JSON object.
        #[arg(long)]
        body: String,
    },
}

fn client(target: &ClientTarget) -> Result<MmspClient, ClientFailure> {
    let table = target.credentials.as_ref().ok_or_else(|| {
        ClientFailure::Setup(format!(
            "the merchant in {} has no [merchant.mmsp] credentials",
            target.source
        ))
    })?;
    let c: MmspCredentials =
        parse_table(NAME, &table.merchant, &table.table).map_err(ClientFailure::Setup)?;
    let client = MmspClient::new(&target.url, &c.merno, &c.termno, c.md5_key)
        .map_err(|e| ClientFailure::Setup(e.to_string()))?;
    Ok(match (c.agent_no, c.agent_md5_key) {
        (Some(no), Some(key)) => client.with_agent(&no, key),
        _ => client,
    })
}

fn some(s: impl Into<String>) -> Option<String> {
    Some(s.into())
}

fn order_ref(orderno: Option<String>, merorderid: Option<String>) -> OrderRef {
    OrderRef {
        orderno,
        merorderid,
        randstr: some(stamp()),
        ..OrderRef::default()
    }
}

pub async fn run(matches: &clap::ArgMatches, target: ClientTarget) -> Result<(), ClientFailure> {
    let operation =
        Operation::from_arg_matches(matches).map_err(|e| ClientFailure::Setup(e.to_string()))?;
    let client = client(&target)?;
    let fail = |e| ClientFailure::from_client_error(e, &target.url);
    let randstr = || some(stamp()[8..].to_owned());
    let reply = match operation {
        Operation::Scan {
            product,
            amt,
            merorderid,
            goods_name,
            notify_url,
            openid,
            sup_appid,
            alipay_user_id,
            jump_url,
            is_raw,
            time_end,
        } => {
            let (cmd, trade_type, mini) = match product {
                Product::Wechat => (command::WECHAT_NATIVE, some("1"), None),
                Product::WechatJsapi => (command::WECHAT_NATIVE, some("2"), None),
                Product::WechatMini => (command::WECHAT_NATIVE, some("2"), some("1")),
                Product::WechatH5 => (command::WECHAT_H5, None, None),
                Product::Alipay => (command::ALIPAY_NATIVE, some("1"), None),
                Product::AlipayFuwu => (command::ALIPAY_NATIVE, some("2"), None),
                Product::AlipayStatic => (command::ALIPAY_STATIC, some("1"), None),
                Product::AlipayDynamic => (command::ALIPAY_DYNAMIC, some("1"), None),
                Product::AlipayH5 => (command::ALIPAY_H5, None, None),
                Product::Qq => (command::QQ_NATIVE, some("1"), None),
                Product::Unionpay => (command::UNIONPAY_NATIVE, some("1"), None),
                Product::Jd => (command::JD_NATIVE, some("1"), None),
            };
            let order = ScanOrder {
                trade_type,
                amt: some(amt.to_string()),
                cur: some("CNY"),
                merorderid: Some(merorderid.unwrap_or_else(|| format!("M{}", &stamp()[2..]))),
                randstr: randstr(),
                goodsname: Some(goods_name),
                notify_url: Some(notify_url),
                time_end,
                jump_url,
                openid,
                is_raw,
                is_minipg: mini,
                sup_appid,
                alipay_user_id,
                ..ScanOrder::default()
            };
            client.scan_order(cmd, &order).await.map_err(fail)?
        }
        Operation::Micropay {
            wallet,
            code,
            amt,
            merorderid,
            goods_name,
            notify_url,
        } => {
            let cmd = match wallet {
                MicropayWallet::Wechat => command::WECHAT_MICROPAY,
                MicropayWallet::Alipay => command::ALIPAY_MICROPAY,
                MicropayWallet::Qq => command::QQ_MICROPAY,
            };
            let order = ScanOrder {
                amt: some(amt.to_string()),
                cur: some("CNY"),
                merorderid: Some(merorderid.unwrap_or_else(|| format!("M{}", &stamp()[2..]))),
                randstr: randstr(),
                goodsname: Some(goods_name),
                notify_url: Some(notify_url),
                code: Some(code),
                ..ScanOrder::default()
            };
            client.scan_order(cmd, &order).await.map_err(fail)?
        }
        Operation::Query {
            orderno,
            merorderid,
        } => client
            .query(&order_ref(orderno, merorderid))
            .await
            .map_err(fail)?,
        Operation::Cancel {
            orderno,
            merorderid,
        } => client
            .cancel(&order_ref(orderno, merorderid))
            .await
            .map_err(fail)?,
        Operation::Close {
            orderno,
            merorderid,
        } => client
            .close(&order_ref(orderno, merorderid))
            .await
            .map_err(fail)?,
        Operation::Refund {
            orderno,
            merorderid,
            refund_merorderid,
            amt,
        } => client
            .refund(&OrderRef {
                refund_merorderid: Some(refund_merorderid),
                amt: some(amt.to_string()),
                ..order_ref(orderno, merorderid)
            })
            .await
            .map_err(fail)?,
        Operation::RefundQuery {
            refund_orderno,
            refund_merorderid,
        } => client
            .refund_query(&RefundRef {
                refund_orderno,
                refund_merorderid,
                randstr: randstr(),
            })
            .await
            .map_err(fail)?,
        Operation::QuickPay {
            card_no,
            card_type,
            name,
            id_no,
            phone,
            expdate,
            cvn2,
            amt,
            merorderid,
            user_id,
            notify_url,
        } => {
            let request = QuickRequest {
                merorderid: Some(merorderid.unwrap_or_else(|| format!("Q{}", stamp()))),
                cardno: Some(card_no),
                amt: some(amt.to_string()),
                cardtype: Some(card_type),
                expdate,
                cvn2,
                name: Some(name),
                id_no: Some(id_no),
                phoneno: Some(phone),
                randstr: randstr(),
                user_id,
                notify_url: Some(notify_url),
                ..QuickRequest::default()
            };
            client
                .quick(command::QUICK_PAY, &request)
                .await
                .map_err(fail)?
        }
        Operation::QuickConfirm { list_id, code } => client
            .quick(
                command::QUICK_CONFIRM,
                &QuickRequest {
                    list_id: Some(list_id),
                    msg_code: Some(code),
                    randstr: randstr(),
                    ..QuickRequest::default()
                },
            )
            .await
            .map_err(fail)?,
        Operation::QuickQuery { merorderid } => client
            .quick(
                command::QUICK_QUERY,
                &QuickRequest {
                    merorderid: Some(merorderid),
                    ..QuickRequest::default()
                },
            )
            .await
            .map_err(fail)?,
        Operation::QuickResend { list_id } => client
            .quick(
                command::QUICK_RESEND,
                &QuickRequest {
                    list_id: Some(list_id),
                    randstr: randstr(),
                    ..QuickRequest::default()
                },
            )
            .await
            .map_err(fail)?,
        Operation::BoundSms {
            bind_id,
            user_id,
            phone,
            amt,
            merorderid,
        } => client
            .quick(
                command::BOUND_SMS,
                &QuickRequest {
                    bind_id: Some(bind_id),
                    merorderid: Some(merorderid.unwrap_or_else(|| format!("B{}", stamp()))),
                    user_id: Some(user_id),
                    phoneno: Some(phone),
                    amt: some(amt.to_string()),
                    randstr: randstr(),
                    ..QuickRequest::default()
                },
            )
            .await
            .map_err(fail)?,
        Operation::BoundPay {
            merorderid,
            bind_id,
            user_id,
            amt,
            code,
            notify_url,
        } => client
            .quick(
                command::BOUND_PAY,
                &QuickRequest {
                    bind_id: Some(bind_id),
                    merorderid: Some(merorderid),
                    user_id: Some(user_id),
                    amt: some(amt.to_string()),
                    msg_code: Some(code),
                    randstr: randstr(),
                    notify_url: Some(notify_url),
                    ..QuickRequest::default()
                },
            )
            .await
            .map_err(fail)?,
        Operation::UnionpayQuick {
            amt,
            merorderid,
            jump_url,
            notify_url,
            trade_mode,
        } => client
            .quick(
                command::UNIONPAY_QUICK,
                &QuickRequest {
                    merorderid: Some(merorderid.unwrap_or_else(|| format!("U{}", stamp()))),
                    amt: some(amt.to_string()),
                    jump_url: Some(jump_url),
                    notify_url: Some(notify_url),
                    trade_mode: Some(trade_mode),
                    randstr: randstr(),
                    ..QuickRequest::default()
                },
            )
            .await
            .map_err(fail)?,
        Operation::Batch {
            part,
            start_date,
            end_date,
            perpage,
            page,
        } => {
            let query = BatchQuery {
                start_date: Some(start_date),
                end_date: Some(end_date),
                perpage: some(perpage.to_string()),
                page: some(page.to_string()),
            };
            match part {
                PartName::Gateway => client.gateway_batch(&query).await,
                _ => client.quick_batch(&query).await,
            }
            .map_err(fail)?
        }
        Operation::GatewayPay {
            pay_channel,
            amt,
            merorderid,
            jump_url,
            notify_url,
            goods_name,
            remark,
            form,
        } => {
            let request = GatewayRequest {
                merorderid: Some(merorderid.unwrap_or_else(|| format!("G{}", stamp()))),
                amt: some(amt.to_string()),
                notify_url: Some(notify_url),
                jump_url: Some(jump_url),
                pay_channel: Some(pay_channel),
                goodsname: goods_name,
                remark,
                randstr: None,
            };
            if form {
                crate::common::print_out(&client.gateway_form(&request));
                return Ok(());
            }
            match client.gateway_pay(&request).await.map_err(fail)? {
                GatewayAnswer::Page(html) => {
                    crate::common::print_out(&html);
                    return Ok(());
                }
                GatewayAnswer::Frame(reply) => *reply,
            }
        }
        Operation::GatewayQuery { merorderid } => client
            .gateway_query(&GatewayRequest {
                merorderid: Some(merorderid),
                ..GatewayRequest::default()
            })
            .await
            .map_err(fail)?,
        Operation::Send {
            part,
            command_id,
            body,
        } => {
            let body: Params = match serde_json::from_str::<Value>(&body) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(ClientFailure::Setup(
                        "--body must be a JSON object".to_owned(),
                    ));
                }
            };
            client
                .call(part.into(), command_id, &body)
                .await
                .map_err(fail)?
        }
        Operation::Listen { addr } => return listen(client, &addr).await,
    };
    finish(&reply)
}

/// Prints the reply frame; a negative reply is a failure that quotes the server's words.
fn finish(reply: &Reply) -> Result<(), ClientFailure> {
    crate::common::print_json(&Value::Object(reply.frame.clone()));
    if reply.is_negative() {
        return Err(ClientFailure::Refused(reply.error_msg().to_owned()));
    }
    eprintln!("reply signature verified");
    Ok(())
}

/// The pushes a merchant receives.
const PUSHES: [i64; 3] = [
    command::SCAN_PUSH,
    command::QUICK_NOTICE,
    command::GATEWAY_NOTICE,
];

/// What `listen` answers a push: `SUCCESS` when it is a push signed with the merchant's
/// key, `FAIL` otherwise. Prints the frame and, on stderr, why.
pub fn answer_push(client: &MmspClient, body: &str) -> &'static str {
    match client.verify_notification(body) {
        Ok(push) if !push.is_negative() && PUSHES.contains(&push.command_id()) => {
            crate::common::print_json(&Value::Object(push.frame));
            eprintln!("signature verified: answering SUCCESS");
            "SUCCESS"
        }
        Ok(other) => {
            crate::common::print_json(&Value::Object(other.frame));
            eprintln!("not a payment push (CommandID 2324, 35104 or 35090): answering FAIL");
            "FAIL"
        }
        Err(e) => {
            crate::common::print_out(body);
            eprintln!("signature INVALID ({e}): answering FAIL");
            "FAIL"
        }
    }
}

/// A merchant's notification endpoint: any path, any method with a body.
async fn listen(client: MmspClient, addr: &str) -> Result<(), ClientFailure> {
    use axum::extract::State;
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ClientFailure::Setup(format!("cannot listen on {addr}: {e}")))?;
    eprintln!("listening for mmsp notifications on http://{addr}/ (any path)");
    let handler = |State(client): State<Arc<MmspClient>>, body: String| async move {
        answer_push(&client, &body)
    };
    let app = axum::Router::new()
        .fallback(handler)
        .with_state(Arc::new(client));
    axum::serve(listener, app)
        .await
        .map_err(|e| ClientFailure::Setup(e.to_string()))
}
