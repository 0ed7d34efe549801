//! mmsp wire ⇄ core. The only file that knows both.

use paymux_core::Fen;
use paymux_core::card::{CardDetails, CardKind, CardNo, IdCardNo, Phone};
use paymux_core::channel::PayAction;
use paymux_core::code::CodeKind;
use paymux_core::gateway::{NewBill, NewCode, NewOrder};
use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId};
use paymux_core::order::{Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::time::{self, Millis};
use paymux_core::url::{NotifyUrl, ReturnUrl};
use serde_json::{Map, Value};

use super::error::{Failure, MmspError, Refusal, codes};
use super::wire::{
    BatchItem, GatewayRequest, GatewayResult, OrderState, QuickReply, QuickRequest, RefundState,
    ScanOrder, ScanOrderReply, ScanPush, command,
};
use crate::common::{fields, ids};

/// Orders of the scan part without TIME_END expire this long after they are made.
pub const SCAN_TTL_S: i64 = 5 * 60;

const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";
const COMPACT: &str = "%Y%m%d%H%M%S";

pub fn required<'a>(
    value: &'a Option<String>,
    field: &'static str,
    max: usize,
) -> Result<&'a str, MmspError> {
    Ok(fields::required(value, field, max)?)
}

pub fn optional(
    value: &Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, MmspError> {
    Ok(fields::optional(value, field, max)?)
}

/// An amount in fen: digits only, more than zero (`AMT string(12)`; the scan part allows 20
/// characters, which no amount needs).
pub fn amount(value: &Option<String>) -> Result<Fen, MmspError> {
    let text = required(value, "AMT", 20)?;
    match Fen::from_fen_str(text) {
        Ok(fen) if fen > Fen::ZERO && text.len() <= 12 => Ok(fen),
        Ok(fen) if fen > Fen::ZERO => Err(MmspError::invalid("AMT", "金额过大")),
        _ => Err(MmspError::invalid("AMT", "须为大于0的整数,单位为分")),
    }
}

/// The merchant's order number, of at most `max` characters.
pub fn merorderid(
    value: &Option<String>,
    field: &'static str,
    max: usize,
) -> Result<MerchantOrderNo, MmspError> {
    let text = required(value, field, max)?;
    MerchantOrderNo::parse(text, max).map_err(|e| MmspError::invalid(field, e.to_string()))
}

pub fn notify_url(
    value: &Option<String>,
    max: usize,
    allow_private: bool,
) -> Result<NotifyUrl, MmspError> {
    let text = required(value, "NOTIFY_URL", max)?;
    NotifyUrl::parse(text, allow_private)
        .map_err(|e| MmspError::invalid("NOTIFY_URL", e.to_string()))
}

pub fn jump_url(value: &Option<String>, max: usize) -> Result<ReturnUrl, MmspError> {
    let text = required(value, "JUMP_URL", max)?;
    ReturnUrl::parse(text).map_err(|e| MmspError::invalid("JUMP_URL", e.to_string()))
}

/// `TIME_END` (`yyyy-mm-dd hh24:mi:ss`, Beijing time; `yyyyMMddHHmmss` too), in the future;
/// absent, [`SCAN_TTL_S`] from now.
pub fn time_end(value: &Option<String>, now: Millis) -> Result<Millis, MmspError> {
    let Some(text) = optional(value, "TIME_END", 30)? else {
        return Ok(now.plus_secs(SCAN_TTL_S));
    };
    let at = time::parse_beijing(text.trim(), DATE_TIME)
        .or_else(|| time::parse_beijing(text.trim(), COMPACT))
        .ok_or_else(|| MmspError::invalid("TIME_END", "格式应为yyyy-mm-dd hh24:mi:ss"))?;
    if at <= now {
        return Err(MmspError::invalid("TIME_END", "须晚于当前时间"));
    }
    Ok(at)
}

/// A flag the spec writes `1`/`2` (IS_RAW, ISTO, LIMIT_PAY): absent is its default.
fn one_or_two(value: &Option<String>, field: &'static str) -> Result<Option<String>, MmspError> {
    match optional(value, field, 1)?.as_deref() {
        None => Ok(None),
        Some(v @ ("1" | "2")) => Ok(Some(v.to_owned())),
        Some(_) => Err(MmspError::invalid(field, "须为1或2")),
    }
}

/// What a scan command pays with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub pay_way: PayWay,
    /// The TRADETYPE the reply echoes (`None` for micropay and H5, which have none).
    pub trade_type: Option<&'static str>,
}

fn by_trade_type(
    req: &ScanOrder,
    wallet: Wallet,
    in_app_allowed: bool,
) -> Result<Product, MmspError> {
    match required(&req.trade_type, "TRADETYPE", 1)? {
        "1" => Ok(Product {
            pay_way: PayWay::new(wallet, PayMethod::Qr),
            trade_type: Some("1"),
        }),
        "2" if in_app_allowed => Ok(Product {
            pay_way: PayWay::new(wallet, PayMethod::InApp),
            trade_type: Some("2"),
        }),
        _ if in_app_allowed => Err(MmspError::invalid("TRADETYPE", "须为1或2")),
        _ => Err(MmspError::invalid("TRADETYPE", "须为1")),
    }
}

/// The scan command's product, with the rules of its fields (§5–§9).
pub fn scan_product(cmd: i64, req: &ScanOrder) -> Result<Product, MmspError> {
    let barcode = |wallet| Product {
        pay_way: PayWay::new(wallet, PayMethod::Barcode),
        trade_type: None,
    };
    let h5 = |wallet| Product {
        pay_way: PayWay::new(wallet, PayMethod::H5),
        trade_type: None,
    };
    Ok(match cmd {
        command::WECHAT_NATIVE => {
            let mut product = by_trade_type(req, Wallet::WeChat, true)?;
            let mini = optional(&req.is_minipg, "IS_MINIPG", 32)?.as_deref() == Some("1");
            if product.trade_type == Some("2") {
                required(&req.openid, "OPENID", 32)?;
                if mini {
                    required(&req.sup_appid, "SUP_APPID", 32)?;
                    product.pay_way = PayWay::new(Wallet::WeChat, PayMethod::MiniProgram);
                }
            } else if mini {
                return Err(MmspError::invalid(
                    "IS_MINIPG",
                    "仅用于TRADETYPE为2的公众号支付",
                ));
            }
            product
        }
        command::ALIPAY_NATIVE => {
            let product = by_trade_type(req, Wallet::Alipay, true)?;
            if product.trade_type == Some("2")
                && optional(&req.alipay_user_id, "ALIPAY_USER_ID", 32)?.is_none()
                && optional(&req.alipay_account, "ALIPAY_ACCOUNT", 32)?.is_none()
            {
                return Err(MmspError::invalid(
                    "ALIPAY_USER_ID",
                    "服务窗支付时ALIPAY_USER_ID和ALIPAY_ACCOUNT不可同时为空",
                ));
            }
            product
        }
        command::QQ_NATIVE => by_trade_type(req, Wallet::Qq, true)?,
        command::ALIPAY_STATIC | command::ALIPAY_DYNAMIC => {
            by_trade_type(req, Wallet::Alipay, false)?
        }
        command::UNIONPAY_NATIVE => by_trade_type(req, Wallet::UnionPay, false)?,
        command::JD_NATIVE => by_trade_type(req, Wallet::Jd, false)?,
        command::WECHAT_H5 => h5(Wallet::WeChat),
        command::ALIPAY_H5 => h5(Wallet::Alipay),
        command::WECHAT_MICROPAY => barcode(Wallet::WeChat),
        command::ALIPAY_MICROPAY => barcode(Wallet::Alipay),
        command::QQ_MICROPAY | command::QQ_MICROPAY_ALT => barcode(Wallet::Qq),
        other => return Err(MmspError::UnknownCommand(other)),
    })
}

/// A scan order, checked (§5–§9).
pub fn scan_order(
    cmd: i64,
    req: &ScanOrder,
    merchant_id: MerchantId,
    now: Millis,
    allow_private: bool,
) -> Result<(NewOrder, Product), MmspError> {
    let product = scan_product(cmd, req)?;
    let merchant_order_no = merorderid(&req.merorderid, "MERORDERID", 20)?;
    let amount = amount(&req.amt)?;
    required(&req.randstr, "RANDSTR", 20)?;
    let goods = required(&req.goodsname, "GOODSNAME", 15)?.to_owned();
    let notify_url = notify_url(&req.notify_url, 255, allow_private)?;
    let expires_at = time_end(&req.time_end, now)?;
    let micropay = product.pay_way.method == PayMethod::Barcode;
    // Micropay and H5 must say the currency; elsewhere CNY is the default.
    let cur = if micropay || product.pay_way.method == PayMethod::H5 {
        Some(required(&req.cur, "CUR", 4)?.to_owned())
    } else {
        optional(&req.cur, "CUR", 4)?
    };
    if cur
        .as_deref()
        .is_some_and(|c| !c.eq_ignore_ascii_case("CNY"))
    {
        return Err(MmspError::invalid("CUR", "仅支持CNY"));
    }
    let auth_code = if micropay {
        let code = required(&req.code, "CODE", 32)?;
        if !(10..=32).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MmspError::invalid("CODE", "付款码须为10到32位数字"));
        }
        Some(code.to_owned())
    } else {
        None
    };
    let return_url = if cmd == command::WECHAT_H5 {
        Some(jump_url(&req.jump_url, 100)?)
    } else {
        optional(&req.jump_url, "JUMP_URL", 255)?.and_then(|url| ReturnUrl::parse(&url).ok())
    };
    let client_ip = optional(&req.ip, "IP", 18)?;
    let mut extra = Map::new();
    let mut keep = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            extra.insert(name.to_owned(), Value::String(v));
        }
    };
    keep("CMD", Some(cmd.to_string()));
    keep("TRADETYPE", product.trade_type.map(str::to_owned));
    keep("IS_RAW", one_or_two(&req.is_raw, "IS_RAW")?);
    keep("ISTO", one_or_two(&req.isto, "ISTO")?);
    keep("LIMIT_PAY", one_or_two(&req.limit_pay, "LIMIT_PAY")?);
    keep("IS_MINIPG", optional(&req.is_minipg, "IS_MINIPG", 32)?);
    keep("SUP_APPID", optional(&req.sup_appid, "SUP_APPID", 32)?);
    keep("OPENID", optional(&req.openid, "OPENID", 32)?);
    keep(
        "ALIPAY_USER_ID",
        optional(&req.alipay_user_id, "ALIPAY_USER_ID", 32)?,
    );
    keep(
        "ALIPAY_ACCOUNT",
        optional(&req.alipay_account, "ALIPAY_ACCOUNT", 32)?,
    );
    let new = NewOrder {
        merchant_id,
        merchant_order_no,
        dialect: super::TAG,
        pay_way: product.pay_way,
        amount,
        currency: "cny".into(),
        subject: goods.clone(),
        body: goods,
        notify_url: Some(notify_url),
        return_url,
        client_ip,
        extra,
        expires_at: Some(expires_at),
        auth_code,
    };
    Ok((new, product))
}

/// The merchant's one Alipay static code (1026), by its reference.
pub const STATIC_CODE_REF: &str = "mmsp-alipay-static";

/// What the static code's page says it is.
const STATIC_CODE_SUBJECT: &str = "支付宝扫码付款";

/// 1026: the order as the bill the static code will carry (the request is 1027's, §6.3/§6.4),
/// and the code that carries it. The bill takes several tries (a payer who gave up leaves
/// it payable for the next); the code never expires, its bills at TIME_END.
pub fn static_code(
    req: &ScanOrder,
    merchant_id: MerchantId,
    now: Millis,
    allow_private: bool,
) -> Result<(NewCode, Product), MmspError> {
    let (order, product) = scan_order(
        command::ALIPAY_STATIC,
        req,
        merchant_id.clone(),
        now,
        allow_private,
    )?;
    let bill = NewBill {
        merchant_id: merchant_id.clone(),
        merchant_order_no: order.merchant_order_no,
        dialect: super::TAG,
        amount: order.amount,
        subject: order.subject,
        body: order.body,
        notify_url: order.notify_url.clone(),
        also_notify: None,
        return_url: order.return_url,
        extra: order.extra,
        expires_at: order.expires_at,
        one_at_a_time: false,
        escrow: false,
        splits: None,
    };
    let mut extra = Map::new();
    extra.insert(
        "CMD".into(),
        Value::from(command::ALIPAY_STATIC.to_string()),
    );
    let code = NewCode {
        merchant_id,
        dialect: super::TAG,
        code_ref: Some(STATIC_CODE_REF.to_owned()),
        kind: CodeKind::OneTime,
        amount: None,
        subject: STATIC_CODE_SUBJECT.to_owned(),
        notify_url: order.notify_url,
        also_notify: None,
        return_url: None,
        expires_at: None,
        extra,
        bill_no_prefix: String::new(),
        one_at_a_time: false,
        escrow: false,
        splits: None,
        bill: Some(bill),
    };
    Ok((code, product))
}

/// The wallet an order is paid with: the static code's bills are offered to Alipay only
/// (their page says so), though the core offers a bill before a wallet is chosen.
pub fn wallet_of(order: &Order) -> Wallet {
    let cmd = order.extra_str("CMD").and_then(|c| c.parse::<i64>().ok());
    if order.code_id.is_some() && cmd == Some(command::ALIPAY_STATIC) {
        Wallet::Alipay
    } else {
        order.pay_way.wallet
    }
}

/// §10.3's TRADETYPE: 1 WeChat, 2 Alipay, 3 QQ; paymux adds 4 UnionPay, 5 JD, 6 bank.
pub fn wallet_type(wallet: Wallet) -> &'static str {
    match wallet {
        Wallet::WeChat => "1",
        Wallet::Alipay => "2",
        Wallet::Qq => "3",
        Wallet::UnionPay => "4",
        Wallet::Jd => "5",
        _ => "6",
    }
}

/// The link the payer pays at.
pub fn pay_url(action: &PayAction) -> Option<String> {
    match action {
        PayAction::QrCode(url) | PayAction::Redirect(url) => Some(url.clone()),
        PayAction::PostForm { url, .. } => Some(url.clone()),
        PayAction::None => None,
    }
}

/// IS_RAW=1's PAY_INFO: what the wallet's own SDK takes, as JSON text. WeChat's JSAPI
/// fields signed by WeChat's MD5 rule with the merchant's key; Alipay's and QQ's trade
/// number. In the sandbox the payer still pays at the cashier.
pub fn pay_info(order: &Order, key: &str) -> String {
    let nonce = crate::common::md5_hex_lower(format!("nonce{}", order.id).as_bytes());
    let info = match order.pay_way.wallet {
        Wallet::WeChat => {
            let app_id = order.extra_str("SUP_APPID").unwrap_or("wxsandbox0000000");
            let timestamp = (order.created_at.0 / 1000).to_string();
            let package = format!("prepay_id={}", order.id);
            let to_sign = format!(
                "appId={app_id}&nonceStr={}&package={package}&signType=MD5&timeStamp={timestamp}&key={key}",
                &nonce[..16]
            );
            let pay_sign = crate::common::md5_hex_lower(to_sign.as_bytes()).to_uppercase();
            serde_json::json!({
                "appId": app_id,
                "timeStamp": timestamp,
                "nonceStr": &nonce[..16],
                "package": package,
                "signType": "MD5",
                "paySign": pay_sign,
            })
        }
        Wallet::Qq => serde_json::json!({ "tokenId": order.id }),
        _ => serde_json::json!({ "tradeNO": order.id }),
    };
    info.to_string()
}

/// §10.3's STATUS of a scan order, with its code and message.
pub fn scan_status(order: &Order) -> (&'static str, Option<&'static str>, Option<String>) {
    match order.status {
        OrderStatus::Created | OrderStatus::Paying => {
            ("3", Some(codes::PAYING), Some("用户支付中".to_owned()))
        }
        s if s.is_paid() => ("1", None, None),
        OrderStatus::Failed => (
            "2",
            Some(codes::CLOSED),
            Some(
                order
                    .fail_msg
                    .clone()
                    .unwrap_or_else(|| "支付失败".to_owned()),
            ),
        ),
        _ if order.fail_msg.as_deref() == Some("expired") => {
            ("2", Some(codes::CLOSED), Some("订单已过期".to_owned()))
        }
        _ => ("2", Some(codes::CLOSED), Some("订单已关闭".to_owned())),
    }
}

/// The reply to a scan order.
pub fn scan_order_reply(
    order: &Order,
    action: &PayAction,
    product: Product,
    key: &str,
) -> ScanOrderReply {
    let raw = order.extra_str("IS_RAW") == Some("1")
        && matches!(
            order.pay_way.method,
            PayMethod::InApp | PayMethod::MiniProgram
        );
    let micropay = order.pay_way.method == PayMethod::Barcode;
    let (status, code, msg) = if micropay {
        match order.status {
            OrderStatus::Failed => (
                "2",
                order.fail_code.clone(),
                order.fail_msg.clone().or_else(|| Some("支付失败".into())),
            ),
            _ => {
                let (s, c, m) = scan_status(order);
                (s, c.map(str::to_owned), m)
            }
        }
    } else if order.status.is_open() {
        ("1", None, None)
    } else {
        (
            "2",
            Some(
                order
                    .fail_code
                    .clone()
                    .unwrap_or_else(|| codes::CHANNEL.into()),
            ),
            Some(order.fail_msg.clone().unwrap_or_else(|| "下单失败".into())),
        )
    };
    ScanOrderReply {
        orderno: Some(ids::wire_id(&order.id)),
        url: (!micropay && !raw && status == "1")
            .then(|| pay_url(action))
            .flatten(),
        pay_info: (raw && status == "1").then(|| pay_info(order, key)),
        trade_type: product.trade_type.map(str::to_owned),
        trade_time: Some(time::format_beijing_datetime(order.created_at)),
        merorderid: Some(order.merchant_order_no.to_string()),
        status: Some(status.to_owned()),
        err_code_msg: msg,
        err_code: code,
    }
}

/// §10.3.2 (and the replies of §10.4, §10.5, whose STATUS the caller sets).
pub fn order_state(order: &Order) -> OrderState {
    let (status, code, msg) = scan_status(order);
    OrderState {
        orderno: Some(ids::wire_id(&order.id)),
        amt: Some(order.amount.get().to_string()),
        trade_time: Some(time::format_beijing_datetime(order.created_at)),
        pay_time: Some(
            order
                .paid_at
                .filter(|_| order.status.is_paid())
                .map(time::format_beijing_datetime)
                .unwrap_or_default(),
        ),
        status: Some(status.to_owned()),
        merorderid: Some(order.merchant_order_no.to_string()),
        trade_type: Some(wallet_type(wallet_of(order)).to_owned()),
        err_code_msg: msg,
        err_code: code.map(str::to_owned),
    }
}

/// §10.6.2 / §10.7.2: 1 accepted (under way or done), 2 failed.
pub fn refund_state(refund: &Refund, refund_merorderid: Option<&str>) -> RefundState {
    let failed = refund.status == RefundStatus::Failed;
    RefundState {
        refund_orderno: Some(ids::wire_id(&refund.id)),
        amt: Some(refund.amount.get().to_string()),
        refund_time: Some(time::format_beijing_datetime(refund.created_at)),
        status: Some(if failed { "2" } else { "1" }.to_owned()),
        refund_merorderid: Some(
            refund_merorderid
                .map(str::to_owned)
                .or_else(|| {
                    // A reversal's (2311) number is its order's id: shown as the ORDERNO.
                    refund.refund_no.as_ref().map(|n| {
                        if n.as_str() == refund.order_id.as_str() {
                            ids::wire_id(&refund.order_id)
                        } else {
                            n.to_string()
                        }
                    })
                })
                .unwrap_or_default(),
        ),
        err_code_msg: failed.then(|| {
            refund
                .fail_reason
                .clone()
                .unwrap_or_else(|| "退款失败".to_owned())
        }),
        err_code: failed.then(|| codes::REFUND_FAILED.to_owned()),
    }
}

/// §10.8's push.
pub fn scan_push(order: &Order) -> ScanPush {
    ScanPush {
        amt: Some(order.amount.get()),
        orderno: Some(ids::wire_id(&order.id)),
        trde_time: Some(time::format_beijing_datetime(order.created_at)),
        pay_time: Some(
            order
                .paid_at
                .map(time::format_beijing_datetime)
                .unwrap_or_default(),
        ),
        status: Some("1".into()),
        trade_type: Some(wallet_type(wallet_of(order)).to_owned()),
        merorderid: Some(order.merchant_order_no.to_string()),
    }
}

/// The card a quick payment names, checked (§5.3.2). A card, identity or phone number that
/// cannot be right is the spec's 要素不匹配 (STATUS 2, D4), as the bank would answer.
pub fn card_details(req: &QuickRequest) -> Result<CardDetails, Failure> {
    let card = required(&req.cardno, "CARDNO", 20)?.to_owned();
    let kind = match required(&req.cardtype, "CARDTYPE", 1)? {
        "1" => CardKind::Debit,
        "2" => CardKind::Credit,
        _ => return Err(MmspError::invalid("CARDTYPE", "须为1(借记卡)或2(信用卡)").into()),
    };
    let holder = required(&req.name, "NAME", 32)?.to_owned();
    let id_no = required(&req.id_no, "ID_NO", 32)?.to_owned();
    let phone = required(&req.phoneno, "PHONENO", 11)?.to_owned();
    let (expiry, cvn2) = match kind {
        // EXPDATE and CVN2 are for credit cards only; a debit card's are not read.
        CardKind::Debit => (None, None),
        CardKind::Credit => {
            let expiry = required(&req.expdate, "EXPDATE", 4)?;
            let month_ok = expiry.len() == 4
                && expiry.bytes().all(|b| b.is_ascii_digit())
                && matches!(expiry[..2].parse::<u8>(), Ok(1..=12));
            if !month_ok {
                return Err(MmspError::invalid("EXPDATE", "格式须为MMYY").into());
            }
            let cvn2 = required(&req.cvn2, "CVN2", 3)?;
            if cvn2.len() != 3 || !cvn2.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MmspError::invalid("CVN2", "须为3位数字").into());
            }
            (Some(expiry.to_owned()), Some(cvn2.to_owned()))
        }
    };
    let mismatch = |_| Refusal::new(codes::CLOSED, "要素不匹配");
    Ok(CardDetails {
        number: CardNo::parse(&card).map_err(mismatch)?,
        kind,
        holder,
        id_no: IdCardNo::parse(&id_no).map_err(mismatch)?,
        phone: Phone::parse(&phone).map_err(mismatch)?,
        expiry,
        cvn2,
    })
}

/// A phone the code goes to (780); one that cannot be right is 要素不匹配.
pub fn phone(value: &Option<String>) -> Result<Phone, Failure> {
    let text = required(value, "PHONENO", 11)?;
    Phone::parse(text).map_err(|_| Refusal::new(codes::CLOSED, "要素不匹配").into())
}

/// CARDTYPE on the wire.
pub fn card_type(kind: CardKind) -> &'static str {
    match kind {
        CardKind::Debit => "1",
        CardKind::Credit => "2",
    }
}

/// A quick order: card payments (771, 780) and UnionPay's quick page (783).
#[allow(clippy::too_many_arguments)]
pub fn quick_order(
    merchant_id: MerchantId,
    merchant_order_no: MerchantOrderNo,
    amount: Fen,
    wallet: Wallet,
    subject: &str,
    notify_url: Option<NotifyUrl>,
    return_url: Option<ReturnUrl>,
    extra: Map<String, Value>,
) -> NewOrder {
    NewOrder {
        merchant_id,
        merchant_order_no,
        dialect: super::TAG,
        pay_way: PayWay::new(wallet, PayMethod::Quick),
        amount,
        currency: "cny".into(),
        subject: subject.to_owned(),
        body: subject.to_owned(),
        notify_url,
        return_url,
        client_ip: None,
        extra,
        expires_at: None,
        auth_code: None,
    }
}

/// The card facts a quick order keeps and echoes (never the whole number).
pub fn card_extra(masked: &str, kind: CardKind, bank: &str) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("CARDNO".into(), Value::from(masked));
    extra.insert("CARDTYPE".into(), Value::from(card_type(kind)));
    extra.insert("BANK_NAME".into(), Value::from(bank));
    extra
}

fn compact(at: Option<Millis>) -> String {
    at.map(time::format_beijing_compact).unwrap_or_default()
}

/// §5.7.3's STATUS: 0 waiting, 1 paid, 2 failed or closed, 3 refunded.
pub fn quick_status(order: &Order) -> (&'static str, Option<&'static str>, Option<String>) {
    match order.status {
        OrderStatus::Created | OrderStatus::Paying => ("0", None, None),
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded => ("1", None, None),
        OrderStatus::Refunded => ("3", None, None),
        OrderStatus::Failed => (
            "2",
            Some(codes::CLOSED),
            Some(
                order
                    .fail_msg
                    .clone()
                    .unwrap_or_else(|| "支付失败".to_owned()),
            ),
        ),
        OrderStatus::Closed => ("2", Some(codes::CLOSED), Some("订单已关闭".to_owned())),
    }
}

/// A quick order as the replies and the notification show it.
pub fn quick_reply(order: &Order) -> QuickReply {
    let (status, code, msg) = quick_status(order);
    let paid = order.paid_at.filter(|_| order.status.is_paid());
    let text = |k: &str| order.extra_str(k).map(str::to_owned);
    QuickReply {
        status: Some(status.to_owned()),
        errcode: code.map(str::to_owned),
        errmsg: msg,
        user_id: text("USER_ID"),
        bind_id: text("BIND_ID"),
        list_id: Some(order.id.to_string()),
        merorderid: Some(order.merchant_order_no.to_string()),
        pay_date: Some(compact(paid)),
        notify_date: Some(compact(order.merchant_acked_at)),
        amt: Some(order.amount.get().to_string()),
        bank_name: text("BANK_NAME"),
        cardno: text("CARDNO"),
        cardtype: text("CARDTYPE"),
        ..QuickReply::default()
    }
}

/// The BIZ_CONTENT item of a paid order.
pub fn batch_item(order: &Order) -> BatchItem {
    let reply = quick_reply(order);
    BatchItem {
        status: reply.status,
        list_id: reply.list_id,
        merorderid: reply.merorderid,
        pay_date: reply.pay_date,
        notify_date: reply.notify_date,
        cardno: Some(reply.cardno.unwrap_or_default()),
        amt: reply.amt,
        cardtype: Some(reply.cardtype.unwrap_or_default()),
        bind_id: Some(reply.bind_id.unwrap_or_default()),
    }
}

/// The window of a batch query: dates of 8, 10 or 14 digits (a day, an hour, a second),
/// the end included, within three months of `now`.
pub fn batch_window(
    start: &Option<String>,
    end: &Option<String>,
    now: Millis,
) -> Result<(Millis, Millis), MmspError> {
    fn instant(text: &str, field: &'static str) -> Result<(Millis, i64), MmspError> {
        let span = match text.len() {
            8 => 86_400,
            10 => 3_600,
            14 => 1,
            _ => return Err(MmspError::invalid(field, "须为8、10或14位日期")),
        };
        let padded = format!("{text:0<14}");
        let at = (text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| time::parse_beijing(&padded, COMPACT))
            .flatten()
            .ok_or_else(|| MmspError::invalid(field, "不是有效日期"))?;
        Ok((at, span))
    }
    let (from, _) = instant(required(start, "START_DATE", 14)?, "START_DATE")?;
    let (end_at, span) = instant(required(end, "END_DATE", 14)?, "END_DATE")?;
    let until = end_at.plus_secs(span);
    if until <= from {
        return Err(MmspError::invalid("END_DATE", "不能早于START_DATE"));
    }
    // The day three months back, from its start.
    let earliest = time::beijing(now)
        .checked_sub_months(chrono::Months::new(3))
        .and_then(|t| t.date_naive().and_hms_opt(0, 0, 0))
        .and_then(|day| time::parse_beijing(&day.format(COMPACT).to_string(), COMPACT))
        .unwrap_or(now);
    if from < earliest {
        return Err(MmspError::invalid("START_DATE", "只能查询3个月之内的数据"));
    }
    Ok((from, until))
}

/// PERPAGE (default 10, at most 1000) and PAGE (default 1).
pub fn paging(perpage: &Option<String>, page: &Option<String>) -> Result<(i64, i64), MmspError> {
    let number =
        |value: &Option<String>, field: &'static str, default: i64, max: i64| match optional(
            value, field, 10,
        )? {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(MmspError::invalid(field, format!("须为1到{max}的整数"))),
            },
        };
    Ok((
        number(perpage, "PERPAGE", 10, 1000)?,
        number(page, "PAGE", 1, i64::from(i32::MAX))?,
    ))
}

/// A gateway payment (§5.1.2), and the bank its PAY_CHANNEL names.
pub fn gateway_order(
    req: &GatewayRequest,
    merchant_id: MerchantId,
    allow_private: bool,
    return_url: ReturnUrl,
) -> Result<(NewOrder, &'static str), MmspError> {
    let merchant_order_no = merorderid(&req.merorderid, "MERORDERID", 32)?;
    let amount = amount(&req.amt)?;
    let notify_url = notify_url(&req.notify_url, 255, allow_private)?;
    let jump = jump_url(&req.jump_url, 255)?;
    let channel = required(&req.pay_channel, "PAY_CHANNEL", 50)?;
    let bank = super::wire::bank_of(channel)
        .ok_or_else(|| MmspError::invalid("PAY_CHANNEL", "不支持的银行通道编码"))?;
    let goods = optional(&req.goodsname, "GOODSNAME", 32)?;
    let remark = optional(&req.remark, "REMARK", 255)?;
    let mut extra = Map::new();
    extra.insert("PAY_CHANNEL".into(), Value::from(channel));
    extra.insert("JUMP_URL".into(), Value::from(jump.as_str()));
    if let Some(g) = &goods {
        extra.insert("GOODSNAME".into(), Value::from(g.as_str()));
    }
    if let Some(r) = remark {
        extra.insert("REMARK".into(), Value::from(r));
    }
    let subject = goods.unwrap_or_else(|| format!("{bank}网关支付"));
    let wallet = if channel == "YLBILL-NET-B2C" {
        Wallet::UnionPay
    } else {
        Wallet::Bank
    };
    Ok((
        NewOrder {
            merchant_id,
            merchant_order_no,
            dialect: super::TAG,
            pay_way: PayWay::new(wallet, PayMethod::Gateway),
            amount,
            currency: "cny".into(),
            body: subject.clone(),
            subject,
            notify_url: Some(notify_url),
            return_url: Some(return_url),
            client_ip: None,
            extra,
            expires_at: None,
            auth_code: None,
        },
        bank,
    ))
}

/// A gateway order as its query, notification and front-page return show it.
/// `notify_date`: the notification's send time; else when the merchant acknowledged one.
pub fn gateway_result(order: &Order, notify_date: Option<Millis>) -> GatewayResult {
    let (status, code, msg) = quick_status(order);
    let paid = order.paid_at.filter(|_| order.status.is_paid());
    let text = |k: &str| order.extra_str(k).map(str::to_owned);
    GatewayResult {
        status: Some(status.to_owned()),
        errcode: code.map(str::to_owned),
        errmsg: msg,
        list_id: Some(order.id.to_string()),
        merorderid: Some(order.merchant_order_no.to_string()),
        amt: Some(order.amount.get().to_string()),
        goodsname: text("GOODSNAME"),
        pay_channel: text("PAY_CHANNEL"),
        pay_date: Some(compact(paid)),
        notify_date: Some(compact(notify_date.or(order.merchant_acked_at))),
        remark: text("REMARK"),
    }
}

/// ORDERNO (the 20-digit wire form, or paymux's own id) or MERORDERID, whichever was sent.
pub enum OrderNo {
    Platform(PlatformId),
    Merchant(MerchantOrderNo),
}

pub fn order_no(
    orderno: &Option<String>,
    merorderid: &Option<String>,
    max: usize,
) -> Result<OrderNo, MmspError> {
    if let Some(id) = optional(orderno, "ORDERNO", 32)? {
        return Ok(OrderNo::Platform(ids::named('P', &id)));
    }
    if merorderid.is_some() {
        return Ok(OrderNo::Merchant(merorderid_of(merorderid, max)?));
    }
    Err(MmspError::MissingField("MERORDERID"))
}

fn merorderid_of(value: &Option<String>, max: usize) -> Result<MerchantOrderNo, MmspError> {
    merorderid(value, "MERORDERID", max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn amounts_are_whole_fen_above_zero() {
        assert_eq!(amount(&some("1")).unwrap().get(), 1);
        assert_eq!(
            amount(&some("999999999999")).unwrap().get(),
            999_999_999_999
        );
        for bad in ["0", "-1", "1.00", "abc", "1000000000000"] {
            assert!(amount(&some(bad)).is_err(), "{bad}");
        }
        assert_eq!(amount(&None), Err(MmspError::MissingField("AMT")));
    }

    #[test]
    fn batch_windows_take_days_hours_and_seconds_within_three_months() {
        let now = time::parse_beijing("2026-03-15 10:00:00", DATE_TIME).unwrap();
        let day = batch_window(&some("20260301"), &some("20260301"), now).unwrap();
        assert_eq!(
            day,
            (
                time::parse_beijing("2026-03-01 00:00:00", DATE_TIME).unwrap(),
                time::parse_beijing("2026-03-02 00:00:00", DATE_TIME).unwrap()
            )
        );
        let hour = batch_window(&some("2026030108"), &some("2026030109"), now).unwrap();
        assert_eq!(
            hour.1,
            time::parse_beijing("2026-03-01 10:00:00", DATE_TIME).unwrap()
        );
        let second = batch_window(&some("20260301080000"), &some("20260301080059"), now).unwrap();
        assert_eq!(
            second.1,
            time::parse_beijing("2026-03-01 08:01:00", DATE_TIME).unwrap()
        );
        assert!(batch_window(&some("20251215"), &some("20260101"), now).is_ok());
        assert!(batch_window(&some("20251214"), &some("20260101"), now).is_err());
        assert!(batch_window(&some("202603"), &some("20260301"), now).is_err());
        assert!(batch_window(&some("20260230"), &some("20260301"), now).is_err());
        assert!(batch_window(&some("20260302"), &some("20260301"), now).is_err());
    }

    #[test]
    fn a_static_code_order_is_the_bill_of_a_code_that_never_expires() {
        let now = time::parse_beijing("2026-03-15 10:00:00", DATE_TIME).unwrap();
        let req = ScanOrder {
            trade_type: some("1"),
            amt: some("150"),
            merorderid: some("S1"),
            randstr: some("r"),
            goodsname: some("咖啡"),
            notify_url: some("https://merchant.example/n"),
            ..ScanOrder::default()
        };
        let merchant = MerchantId::new("demo");
        let (code, product) = static_code(&req, merchant.clone(), now, false).unwrap();
        assert_eq!(product.trade_type, Some("1"));
        assert_eq!(code.kind, CodeKind::OneTime);
        assert_eq!(code.code_ref.as_deref(), Some(STATIC_CODE_REF));
        assert_eq!(code.expires_at, None);
        let bill = code.bill.expect("the order is the code's bill");
        assert_eq!(bill.merchant_order_no.as_str(), "S1");
        assert_eq!(bill.amount.get(), 150);
        assert_eq!(bill.subject, "咖啡");
        assert_eq!(
            bill.expires_at,
            Some(now.plus_secs(SCAN_TTL_S)),
            "5 minutes"
        );
        assert_eq!(bill.extra["CMD"], Value::from("1026"));
        assert!(!bill.one_at_a_time, "a payer who gave up leaves it payable");
        let until = ScanOrder {
            time_end: some("2026-03-15 12:00:00"),
            ..req.clone()
        };
        let (code, _) = static_code(&until, merchant.clone(), now, false).unwrap();
        assert_eq!(
            code.bill.unwrap().expires_at,
            time::parse_beijing("2026-03-15 12:00:00", DATE_TIME)
        );
        let fuwu = ScanOrder {
            trade_type: some("2"),
            ..req
        };
        assert!(static_code(&fuwu, merchant, now, false).is_err());
    }

    #[test]
    fn pages_default_to_ten_and_stop_at_a_thousand() {
        assert_eq!(paging(&None, &None).unwrap(), (10, 1));
        assert_eq!(paging(&some("1000"), &some("3")).unwrap(), (1000, 3));
        assert!(paging(&some("1001"), &None).is_err());
        assert!(paging(&some("0"), &None).is_err());
        assert!(paging(&None, &some("0")).is_err());
    }

    #[test]
    fn wechat_jsapi_needs_an_openid_and_a_mini_program_its_appid() {
        let req = |tt: &str| ScanOrder {
            trade_type: some(tt),
            ..ScanOrder::default()
        };
        assert_eq!(
            scan_product(command::WECHAT_NATIVE, &req("1"))
                .unwrap()
                .pay_way,
            PayWay::new(Wallet::WeChat, PayMethod::Qr)
        );
        assert_eq!(
            scan_product(command::WECHAT_NATIVE, &req("2")),
            Err(MmspError::MissingField("OPENID"))
        );
        let jsapi = ScanOrder {
            openid: some("o1"),
            ..req("2")
        };
        assert_eq!(
            scan_product(command::WECHAT_NATIVE, &jsapi)
                .unwrap()
                .pay_way,
            PayWay::new(Wallet::WeChat, PayMethod::InApp)
        );
        let mini = ScanOrder {
            is_minipg: some("1"),
            ..jsapi.clone()
        };
        assert_eq!(
            scan_product(command::WECHAT_NATIVE, &mini),
            Err(MmspError::MissingField("SUP_APPID"))
        );
        let mini = ScanOrder {
            sup_appid: some("wx1"),
            ..mini
        };
        assert_eq!(
            scan_product(command::WECHAT_NATIVE, &mini).unwrap().pay_way,
            PayWay::new(Wallet::WeChat, PayMethod::MiniProgram)
        );
        let native_mini = ScanOrder {
            is_minipg: some("1"),
            ..req("1")
        };
        assert!(scan_product(command::WECHAT_NATIVE, &native_mini).is_err());
        assert!(scan_product(command::ALIPAY_NATIVE, &req("2")).is_err());
        let fuwu = ScanOrder {
            alipay_account: some("a@b.c"),
            ..req("2")
        };
        assert!(scan_product(command::ALIPAY_NATIVE, &fuwu).is_ok());
        assert!(scan_product(command::JD_NATIVE, &req("2")).is_err());
    }

    #[test]
    fn impossible_cards_are_an_element_mismatch_and_missing_fields_a_negative_reply() {
        let good = QuickRequest {
            cardno: some("6228480402564890018"),
            cardtype: some("1"),
            name: some("张安"),
            id_no: some("23210219820916601X"),
            phoneno: some("18826570890"),
            // A debit card's expiry is not read, even as the spec's example garbles it.
            expdate: some("01117"),
            ..QuickRequest::default()
        };
        assert!(card_details(&good).is_ok());
        for bad in [
            QuickRequest {
                cardno: some("6228480402564890017"),
                ..good.clone()
            },
            QuickRequest {
                id_no: some("232102198209166010"),
                ..good.clone()
            },
            QuickRequest {
                phoneno: some("12826570890"),
                ..good.clone()
            },
        ] {
            assert_eq!(
                card_details(&bad).unwrap_err(),
                Failure::Refused(Refusal::new(codes::CLOSED, "要素不匹配"))
            );
        }
        let credit = QuickRequest {
            cardtype: some("2"),
            ..good.clone()
        };
        assert!(matches!(
            card_details(&credit),
            Err(Failure::Negative(MmspError::InvalidField {
                field: "EXPDATE",
                ..
            }))
        ));
        let credit = QuickRequest {
            expdate: some("0617"),
            cvn2: some("344"),
            ..credit
        };
        assert!(card_details(&credit).is_ok());
        let missing = QuickRequest { name: None, ..good };
        assert_eq!(
            card_details(&missing).unwrap_err(),
            Failure::Negative(MmspError::MissingField("NAME"))
        );
    }
}
