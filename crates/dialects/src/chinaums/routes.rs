//! chinaums' routes: authenticate (the OPEN-BODY-SIG header, the nonce, the merchant) →
//! decode → convert → one core command → encode.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use paymux_core::Gateway;
use paymux_core::code::CodeKind;
use paymux_core::gateway::NewRefund;
use paymux_core::ids::{MerchantOrderNo, RefundRequestNo};
use paymux_core::links::PayerLinks;
use paymux_core::order::{Attempt, Order, Share};
use paymux_core::refund::{RefundSplit, RefundStatus};
use paymux_core::store::{CodeKey, OrderKey, RefundKey};
use paymux_core::time::{self, Millis};
use paymux_core::{Error as CoreError, Fen};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::codec;
use super::convert::{self, CodeLinks, Context, Echo, Spellings};
use super::error::ChinaumsError;
use super::merchants::{ChinaumsMerchant, Directory};
use super::wire::{
    CloseQrCodeRequest, Params, QrCodeInfoRequest, QrCodeRequest, QueryRequest, RefundRequest,
    Reply, SecureRequest, from_params, value_text,
};
use crate::common::{catch_panics, fields, tag};

/// How long a nonce is remembered when the timestamp check is off.
const NONCE_WINDOW_WITHOUT_SKEW_S: u64 = 24 * 3600;

/// The longest nonce accepted (PHP SDKs send 32 hex digits).
const MAX_NONCE: usize = 128;

#[derive(Clone)]
pub struct ChinaumsState {
    pub gateway: Gateway,
    pub merchants: Arc<Directory>,
    /// Where payers reach this gateway: a code's page is `{public_url}{code_path}`.
    pub public_url: Arc<str>,
    pub links: PayerLinks,
    /// `[server] max_clock_skew_s`; 0 turns the timestamp check off.
    pub max_clock_skew_s: u64,
}

impl ChinaumsState {
    fn code_links(&self) -> CodeLinks<'_> {
        CodeLinks {
            public_url: &self.public_url,
            links: &self.links,
        }
    }

    fn merchant_name(&self, merchant: &ChinaumsMerchant) -> String {
        self.gateway
            .merchant(&merchant.merchant_id)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }
}

pub fn router(state: ChinaumsState) -> Router {
    let gateway = state.gateway.clone();
    let routes = Router::new()
        // Every path under /v1/netpay gets chinaums' own reply, an unknown one included.
        .route("/v1/netpay", post(serve))
        .route("/v1/netpay/{*interface}", post(serve))
        .method_not_allowed_fallback(not_post)
        .with_state(state);
    catch_panics(routes, move || {
        let error = ChinaumsError::Internal("a handler panicked".into());
        refusal(&Echo::default(), error, gateway.now(), Spellings::default())
    })
}

/// §1.1–§1.8, by their paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    GetQrCode,
    UpdateQrCode,
    CloseQrCode,
    Query,
    Refund,
    QrCodeInfo,
    SecureCancel,
    SecureComplete,
}

impl Interface {
    pub const ALL: [Interface; 8] = [
        Interface::GetQrCode,
        Interface::UpdateQrCode,
        Interface::CloseQrCode,
        Interface::Query,
        Interface::Refund,
        Interface::QrCodeInfo,
        Interface::SecureCancel,
        Interface::SecureComplete,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Interface::GetQrCode => "/v1/netpay/bills/get-qrcode",
            Interface::UpdateQrCode => "/v1/netpay/bills/update-qrcode",
            Interface::CloseQrCode => "/v1/netpay/bills/close-qrcode",
            Interface::Query => "/v1/netpay/bills/query",
            Interface::Refund => "/v1/netpay/bills/refund",
            Interface::QrCodeInfo => "/v1/netpay/bills/query-qrcode-info",
            Interface::SecureCancel => "/v1/netpay/secure-cancel",
            Interface::SecureComplete => "/v1/netpay/secure-complete",
        }
    }

    fn from_path(path: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.path() == path)
    }

    /// The `msgType` the older message gateway named the interface by: a request may
    /// still send it, and then it must be this one.
    pub fn msg_type(self) -> &'static str {
        match self {
            Interface::GetQrCode => "bills.getQRCode",
            Interface::UpdateQrCode => "bills.updateQRCode",
            Interface::CloseQrCode => "bills.closeQRCode",
            Interface::Query => "bills.query",
            Interface::Refund => "bills.refund",
            Interface::QrCodeInfo => "bills.queryQRCodeInfo",
            Interface::SecureCancel => "bills.secureCancel",
            Interface::SecureComplete => "bills.secureComplete",
        }
    }

    fn spellings(self) -> Spellings {
        match self {
            Interface::QrCodeInfo | Interface::SecureCancel | Interface::SecureComplete => {
                Spellings {
                    response_time_stamp: false,
                    request_timestamp: true,
                }
            }
            _ => Spellings {
                response_time_stamp: true,
                request_timestamp: false,
            },
        }
    }

    /// §1.6 names no terminal or business type (institution mode).
    fn is_institution_query(self) -> bool {
        self == Interface::QrCodeInfo
    }
}

/// Fields that may be booleans on the wire (the spec's 布尔型 and its true/false strings).
const BOOL_FIELDS: [&str; 4] = [
    "divisionFlag",
    "secureTransaction",
    "attachRefund",
    "limitCreditCard",
];

/// Fields that are JSON arrays.
const ARRAY_FIELDS: [&str; 2] = ["goods", "subOrders"];

async fn not_post(State(state): State<ChinaumsState>) -> Response {
    refusal(
        &Echo::default(),
        ChinaumsError::BadRequest("请求须为POST的JSON报文".into()),
        state.gateway.now(),
        Spellings::default(),
    )
}

async fn serve(
    State(state): State<ChinaumsState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let now = state.gateway.now();
    let Some(interface) = Interface::from_path(uri.path()) else {
        let error = ChinaumsError::NoService(format!("没有能处理{}的服务", uri.path()));
        return refusal(&Echo::default(), error, now, Spellings::default());
    };
    let spellings = interface.spellings();
    let Ok(body) = body else {
        let error = ChinaumsError::BadRequest("请求报文过大或不完整".into());
        return refusal(&Echo::default(), error, now, spellings);
    };
    let echo = Echo::of(codec::decode(&body).as_ref());
    let caller = match authenticate(&state, interface, &headers, &body, now).await {
        Ok(caller) => caller,
        Err(error) => return refusal(&echo, error, now, spellings),
    };
    let reply = echo.reply(now, spellings);
    let result = match interface {
        Interface::GetQrCode => get_qrcode(&state, &caller, reply, now).await,
        Interface::UpdateQrCode => update_qrcode(&state, &caller, reply, now).await,
        Interface::CloseQrCode => close_qrcode(&state, &caller, reply).await,
        Interface::Query => query(&state, &caller, reply).await,
        Interface::Refund => refund(&state, &caller, reply).await,
        Interface::QrCodeInfo => qr_code_info(&state, &caller, reply).await,
        Interface::SecureCancel => secure(&state, &caller, reply, false).await,
        Interface::SecureComplete => secure(&state, &caller, reply, true).await,
    };
    match result {
        Ok((mut reply, message)) => {
            reply.err_code = Some("SUCCESS".into());
            reply.err_msg = Some(message.into());
            respond(&reply, true)
        }
        Err(error) => refusal(&echo, error, now, spellings),
    }
}

/// Who sent a request, and what it says.
struct Caller<'s> {
    params: Params,
    /// The merchant its `mid` names; `None` only for §1.6 without one.
    merchant: Option<&'s ChinaumsMerchant>,
    /// The merchants of the app that signed it.
    app: Vec<&'s ChinaumsMerchant>,
}

impl Caller<'_> {
    /// The merchant, for every interface but §1.6 (which checked for it).
    fn merchant(&self) -> Result<&ChinaumsMerchant, ChinaumsError> {
        self.merchant.ok_or_else(|| ChinaumsError::missing("mid"))
    }
}

/// The header first (its signature covers the body's bytes, so nothing is read from a
/// body it does not vouch for), then the time, the merchant, the nonce, and the fields
/// every interface shares. The nonce is remembered only once the signature verified.
async fn authenticate<'s>(
    state: &'s ChinaumsState,
    interface: Interface,
    headers: &HeaderMap,
    body: &[u8],
    now: Millis,
) -> Result<Caller<'s>, ChinaumsError> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ChinaumsError::BadSign("缺少Authorization请求头".into()))?
        .to_str()
        .map_err(|_| ChinaumsError::BadSign("Authorization请求头须为ASCII文本".into()))?;
    let auth = codec::parse_authorization(header).map_err(ChinaumsError::BadSign)?;
    let app = state.merchants.of_app(&auth.app_id);
    let first = app
        .first()
        .copied()
        .ok_or_else(|| ChinaumsError::BadSign(format!("AppId {}不存在", auth.app_id)))?;
    if !codec::verify_authorization(&auth, first.credentials.app_key.expose_secret(), body) {
        return Err(ChinaumsError::BadSign(
            "签名错误:Signature与AppId、Timestamp、Nonce和报文体不符".into(),
        ));
    }
    let at = (auth.timestamp.len() == 14)
        .then(|| time::parse_beijing(&auth.timestamp, "%Y%m%d%H%M%S"))
        .flatten()
        .ok_or_else(|| {
            ChinaumsError::AbnormalRequestTime("Timestamp格式应为yyyyMMddHHmmss(北京时间)".into())
        })?;
    let skew = state.max_clock_skew_s;
    if skew > 0 && now.0.abs_diff(at.0) > skew.saturating_mul(1000) {
        return Err(ChinaumsError::AbnormalRequestTime(format!(
            "请求时间Timestamp与平台时间相差超过{skew}秒"
        )));
    }
    let params = codec::decode(body)
        .ok_or_else(|| ChinaumsError::BadRequest("请求报文须为JSON对象".into()))?;
    let text = |name: &str| params.get(name).and_then(value_text);
    let merchant = match text("mid") {
        Some(mid) => {
            let m = state
                .merchants
                .by_mid(&mid)
                .ok_or_else(|| ChinaumsError::NoMerchant(format!("商户号mid={mid}不存在")))?;
            if m.credentials.app_id != auth.app_id {
                return Err(ChinaumsError::NoMerchant(format!(
                    "商户号mid={mid}不属于AppId {}",
                    auth.app_id
                )));
            }
            Some(m)
        }
        None if interface.is_institution_query() => None,
        None => return Err(ChinaumsError::missing("mid")),
    };
    if auth.nonce.chars().count() > MAX_NONCE {
        return Err(ChinaumsError::BadSign(format!(
            "Nonce不能超过{MAX_NONCE}个字符"
        )));
    }
    // A request is accepted while its Timestamp is within the skew either way: its nonce
    // must be remembered that long from now.
    let window = if skew > 0 {
        skew.saturating_mul(2)
    } else {
        NONCE_WINDOW_WITHOUT_SKEW_S
    };
    let owner = merchant.unwrap_or(first);
    if !state
        .gateway
        .remember_nonce(&owner.merchant_id, &auth.nonce, window)
        .await?
    {
        return Err(ChinaumsError::BadSign(
            "Nonce已使用过:重放的请求被拒绝".into(),
        ));
    }
    if let Some(m) = merchant {
        if !m.credentials.active {
            return Err(ChinaumsError::InactiveMerchant);
        }
        if let Some(src) = text("msgSrc")
            && src != m.credentials.msg_src
        {
            return Err(ChinaumsError::InvalidMsgSrc(format!(
                "消息来源msgSrc={src}与商户配置不符"
            )));
        }
    }
    if let Some(msg_type) = text("msgType")
        && msg_type != interface.msg_type()
    {
        return Err(ChinaumsError::NoService(format!(
            "msgType={msg_type}不是本接口的消息类型{}",
            interface.msg_type()
        )));
    }
    let mut plain = params.clone();
    for name in ARRAY_FIELDS {
        plain.remove(name);
    }
    fields::plain_values(&plain, &BOOL_FIELDS)
        .map_err(|field| ChinaumsError::field(&field, "须为字符串或数值"))?;
    convert::request_timestamp(&text("requestTimestamp"))?;
    convert::optional(&text("msgId"), "msgId", 64)?;
    convert::optional(&text("srcReserve"), "srcReserve", 255)?;
    if !interface.is_institution_query() {
        let m = merchant.ok_or_else(|| ChinaumsError::missing("mid"))?;
        let tid = convert::required(&text("tid"), "tid", 8)?.to_owned();
        if !m.credentials.has_terminal(&tid) {
            return Err(ChinaumsError::InvalidMerchantConfig(format!(
                "终端号tid={tid}未配置在商户号mid={}下",
                m.credentials.mid
            )));
        }
        convert::required(&text("instMid"), "instMid", 32)?;
    }
    Ok(Caller {
        params,
        merchant,
        app,
    })
}

type Answer = Result<(Reply, &'static str), ChinaumsError>;

async fn get_qrcode(
    state: &ChinaumsState,
    caller: &Caller<'_>,
    reply: Reply,
    now: Millis,
) -> Answer {
    let merchant = caller.merchant()?;
    let req: QrCodeRequest = from_params(&caller.params);
    let name = state.merchant_name(merchant);
    let ctx = context(state, merchant, &name, now);
    // A number paymux draws may meet one another instance drew: draw again.
    for _ in 0..3 {
        let generated = bill_number(state, merchant, &req)?;
        let drew = generated.is_some();
        let new = convert::new_code(&req, &ctx, generated, None)?;
        match state.gateway.create_code(new).await {
            Ok((code, bill)) => {
                let reply = convert::code_reply(reply, &code, bill.as_ref(), &state.code_links());
                return Ok((reply, "查询二维码成功"));
            }
            Err(CoreError::DuplicateOrderNo) if drew => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::Contention.into())
}

fn context<'a>(
    state: &ChinaumsState,
    merchant: &'a ChinaumsMerchant,
    name: &'a str,
    now: Millis,
) -> Context<'a> {
    Context {
        merchant,
        merchant_name: name,
        now,
        allow_private: state.gateway.settings().allow_private_callbacks,
    }
}

/// The number of a one-time code's bill the merchant sent none for:
/// `{msgSrcId}{yyyyMMddHHmmssSSS}{7 digits}`, the spec's recommended form.
fn bill_number(
    state: &ChinaumsState,
    merchant: &ChinaumsMerchant,
    req: &QrCodeRequest,
) -> Result<Option<MerchantOrderNo>, ChinaumsError> {
    if convert::code_kind(req) != CodeKind::OneTime || req.bill_no.is_some() {
        return Ok(None);
    }
    Ok(Some(
        state
            .gateway
            .bill_number(&merchant.credentials.msg_src_id)?,
    ))
}

async fn update_qrcode(
    state: &ChinaumsState,
    caller: &Caller<'_>,
    reply: Reply,
    now: Millis,
) -> Answer {
    let merchant = caller.merchant()?;
    let req: QrCodeRequest = from_params(&caller.params);
    let qr = convert::key(&req.qr_code_id, "qrCodeId", 32)?
        .ok_or_else(|| ChinaumsError::missing("qrCodeId"))?;
    let code = state
        .gateway
        .find_code(&merchant.merchant_id, CodeKey::Ref(&qr))
        .await?;
    let inst_mid = convert::required(&req.inst_mid, "instMid", 32)?;
    if let Some(original) = code.extra.get("instMid").and_then(Value::as_str)
        && original != inst_mid
    {
        return Err(ChinaumsError::field(
            "instMid",
            format!("须与二维码原业务类型{original}一致"),
        ));
    }
    if let (Some(no), Some(bill_id)) = (&req.bill_no, &code.order_id) {
        let bill = state
            .gateway
            .find_order(&merchant.merchant_id, OrderKey::Platform(bill_id))
            .await?;
        if bill.merchant_order_no.as_str() == no {
            return Err(ChinaumsError::DupOrder(
                "更新的账单号billNo不能与原账单号相同".into(),
            ));
        }
    }
    let name = state.merchant_name(merchant);
    let ctx = context(state, merchant, &name, now);
    for _ in 0..3 {
        let generated = bill_number(state, merchant, &req)?;
        let drew = generated.is_some();
        let new = convert::new_code(&req, &ctx, generated, Some(&code))?;
        match state
            .gateway
            .update_code(&merchant.merchant_id, CodeKey::Platform(&code.id), new)
            .await
        {
            Ok((code, bill)) => {
                let reply = convert::code_reply(reply, &code, bill.as_ref(), &state.code_links());
                return Ok((reply, "更新二维码成功"));
            }
            Err(CoreError::DuplicateOrderNo) if drew => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::Contention.into())
}

async fn close_qrcode(state: &ChinaumsState, caller: &Caller<'_>, mut reply: Reply) -> Answer {
    let merchant = caller.merchant()?;
    let req: CloseQrCodeRequest = from_params(&caller.params);
    let qr = convert::key(&req.qr_code_id, "qrCodeId", 32)?
        .ok_or_else(|| ChinaumsError::missing("qrCodeId"))?;
    let system_id = convert::optional(&req.system_id, "systemId", 32)?;
    let attach_refund = convert::flag(&req.attach_refund, "attachRefund")?.unwrap_or(false);
    let code = state
        .gateway
        .find_code(&merchant.merchant_id, CodeKey::Ref(&qr))
        .await?;
    // attachRefund is for one-time codes only (§1.3); a fixed code's bills stay as they are.
    let refund = attach_refund && code.kind == CodeKind::OneTime;
    let closed = state
        .gateway
        .close_code(&merchant.merchant_id, CodeKey::Platform(&code.id), refund)
        .await?;
    reply.qr_code_id = Some(closed.code_ref.clone());
    reply.system_id = system_id.or_else(|| {
        closed
            .extra
            .get("systemId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    if let Some(bill_id) = &closed.order_id {
        let bill = state
            .gateway
            .find_order(&merchant.merchant_id, OrderKey::Platform(bill_id))
            .await?;
        reply.bill_date = Some(convert::bill_date(&bill));
    }
    Ok((reply, "成功关闭二维码"))
}

/// A bill by its number, or by one of its tries' merOrderId (the bill number and the
/// try's sequence number less one), with its tries.
async fn find_bill(
    state: &ChinaumsState,
    merchant: &ChinaumsMerchant,
    no: &str,
    field: &'static str,
) -> Result<(Order, Vec<Attempt>), ChinaumsError> {
    let gateway = &state.gateway;
    let parsed =
        MerchantOrderNo::parse(no, 32).map_err(|e| ChinaumsError::field(field, format!(":{e}")))?;
    let with_tries = |order: Order| async move {
        let tries = gateway
            .attempts_of_order(&merchant.merchant_id, &order.id)
            .await?;
        Ok::<_, ChinaumsError>((order, tries))
    };
    match gateway
        .find_order(&merchant.merchant_id, OrderKey::Merchant(&parsed))
        .await
    {
        Ok(order) => return with_tries(order).await,
        Err(CoreError::OrderNotFound) => {}
        Err(e) => return Err(e.into()),
    }
    for strip in 1..=3.min(no.len().saturating_sub(1)) {
        let (head, tail) = no.split_at(no.len() - strip);
        if !tail.bytes().all(|b| b.is_ascii_digit()) || (strip > 1 && tail.starts_with('0')) {
            continue;
        }
        let (Ok(seq), Ok(head)) = (tail.parse::<i32>(), MerchantOrderNo::parse(head, 32)) else {
            continue;
        };
        match gateway
            .find_order(&merchant.merchant_id, OrderKey::Merchant(&head))
            .await
        {
            Ok(order) => {
                let (order, tries) = with_tries(order).await?;
                if tries.iter().any(|a| a.seq == seq + 1) {
                    return Ok((order, tries));
                }
            }
            Err(CoreError::OrderNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(ChinaumsError::NoOrder(format!("找不到{field}={no}的账单")))
}

/// The bill a query or refund names: `billNo` (a bill number or a merOrderId, as §1.4
/// allows) with `billDate`, or `merOrderId`.
async fn named_bill(
    state: &ChinaumsState,
    merchant: &ChinaumsMerchant,
    bill_no: &Option<String>,
    bill_date: &Option<String>,
    mer_order_id: &Option<String>,
) -> Result<(Order, Vec<Attempt>), ChinaumsError> {
    let date = convert::date(bill_date, "billDate")?;
    let (no, field) = match (convert::optional(bill_no, "billNo", 32)?, mer_order_id) {
        (Some(no), _) => {
            if date.is_none() {
                return Err(ChinaumsError::missing("billDate"));
            }
            (no, "billNo")
        }
        (None, Some(_)) => (
            convert::required(mer_order_id, "merOrderId", 32)?.to_owned(),
            "merOrderId",
        ),
        (None, None) => return Err(ChinaumsError::missing("billNo")),
    };
    let (order, tries) = find_bill(state, merchant, &no, field).await?;
    if let Some(date) = date
        && date != convert::bill_date(&order)
    {
        return Err(ChinaumsError::NoOrder(format!(
            "找不到账单日期billDate={date}的账单{no}"
        )));
    }
    Ok((order, tries))
}

async fn query(state: &ChinaumsState, caller: &Caller<'_>, reply: Reply) -> Answer {
    let merchant = caller.merchant()?;
    let req: QueryRequest = from_params(&caller.params);
    let (order, tries) = named_bill(
        state,
        merchant,
        &req.bill_no,
        &req.bill_date,
        &req.mer_order_id,
    )
    .await?;
    let refund = match convert::key(&req.refund_order_id, "refundOrderId", 32)? {
        Some(no) => {
            let key = RefundRequestNo::from_stored(no);
            match state
                .gateway
                .find_refund(&merchant.merchant_id, RefundKey::RequestNo(&key))
                .await
            {
                Ok(refund) if refund.order_id == order.id => Some(refund),
                Ok(_) | Err(CoreError::RefundNotFound) => None,
                Err(e) => return Err(e.into()),
            }
        }
        None => None,
    };
    let name = state.merchant_name(merchant);
    let reply = convert::query_reply(
        reply,
        &order,
        &tries,
        refund.as_ref(),
        &name,
        &state.code_links(),
    );
    Ok((reply, "查询账单成功"))
}

async fn refund(state: &ChinaumsState, caller: &Caller<'_>, reply: Reply) -> Answer {
    let merchant = caller.merchant()?;
    let req: RefundRequest = from_params(&caller.params);
    let (order, tries) = named_bill(
        state,
        merchant,
        &req.bill_no,
        &req.bill_date,
        &req.mer_order_id,
    )
    .await?;
    let amount = convert::amount(&req.refund_amount, "refundAmount", 1)?
        .ok_or_else(|| ChinaumsError::missing("refundAmount"))?;
    let desc = convert::optional(&req.refund_desc, "refundDesc", 255)?;
    let split = split_refund(&order, &req, amount)?;
    let sent = convert::key(&req.refund_order_id, "refundOrderId", 32)?;
    let generated = sent.is_none();
    let refund_no = match sent {
        Some(no) => no,
        None => {
            let earlier = state
                .gateway
                .refunds_of_order(&merchant.merchant_id, &order.id)
                .await?;
            if earlier.iter().any(|r| r.request_no.is_some()) {
                return Err(second_refund_needs_its_own_number());
            }
            first_refund_no(merchant, &order)
        }
    };
    let mut extra = Map::new();
    if let Some(desc) = &desc {
        extra.insert("refundDesc".into(), Value::String(desc.clone()));
    }
    let new = NewRefund {
        merchant_id: merchant.merchant_id.clone(),
        order_id: order.id.clone(),
        dialect: super::TAG,
        refund_no: convert::refund_no(&refund_no)?,
        request_no: Some(RefundRequestNo::from_stored(refund_no.clone())),
        amount,
        reason: desc.unwrap_or_default(),
        extra,
        split,
    };
    let refund = match state.gateway.request_refund(new).await {
        Ok(refund) => refund,
        Err(CoreError::RefundExceedsPaid { refundable }) => {
            return Err(exceeds(state, merchant, &order, amount, refundable).await);
        }
        Err(CoreError::SplitShareExceeded { party, left }) => {
            return Err(ChinaumsError::field(
                if party.is_some() {
                    "subOrders"
                } else {
                    "platformAmount"
                },
                format!("超过该分账方可退金额,可退{}分", left.get()),
            ));
        }
        // Another refund without refundOrderId was made at the same moment (it took the
        // bill's one generated number) and asked otherwise than this one.
        Err(CoreError::RequestNoConflict | CoreError::DuplicateRefundNo) if generated => {
            return Err(second_refund_needs_its_own_number());
        }
        Err(e) => return Err(e.into()),
    };
    // The bill as the refund left it (its status moves with the refund).
    let order = state
        .gateway
        .find_order(&merchant.merchant_id, OrderKey::Platform(&order.id))
        .await?;
    let reply = convert::refund_reply(reply, &order, &tries, &refund, &state.code_links());
    let message = match refund.status {
        RefundStatus::Succeeded => "退款成功",
        _ => "退款请求已受理",
    };
    Ok((reply, message))
}

fn second_refund_needs_its_own_number() -> ChinaumsError {
    ChinaumsError::field("refundOrderId", "多次退款必传,且每次不同")
}

/// The number of a bill's refund sent without `refundOrderId`: msgSrcId and the digits of
/// the bill's paymux id (`yyMMddHHmmss`, the node, the sequence), the year written in
/// full: 28 characters, the form of the spec's example. One per bill, so the store's
/// unique key lets only one such refund in, however many arrive at once.
fn first_refund_no(merchant: &ChinaumsMerchant, order: &Order) -> String {
    let digits: String = order
        .id
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{}20{digits}", merchant.credentials.msg_src_id)
}

/// A refund larger than what is left: while other refunds of the bill are still under
/// way and would leave room if they failed, the bill is busy (ORDER_PROCESSING: the
/// loser of a race of refunds); otherwise the amount is wrong.
async fn exceeds(
    state: &ChinaumsState,
    merchant: &ChinaumsMerchant,
    order: &Order,
    amount: Fen,
    refundable: Fen,
) -> ChinaumsError {
    let refunds = match state
        .gateway
        .refunds_of_order(&merchant.merchant_id, &order.id)
        .await
    {
        Ok(refunds) => refunds,
        Err(e) => return e.into(),
    };
    // The merchant's own refunds still under way (an escrow's returned part is not one).
    let in_flight = refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Requested && r.request_no.is_some())
        .fold(Fen::ZERO, |sum, r| sum.checked_add(r.amount).unwrap_or(sum));
    if refundable
        .checked_add(in_flight)
        .is_some_and(|room| amount <= room)
        && in_flight > Fen::ZERO
    {
        return ChinaumsError::OrderProcessing("账单的另一笔退款正在处理中,请稍后再试".into());
    }
    CoreError::RefundExceedsPaid { refundable }.into()
}

/// A split bill's refund names one sub-merchant and the platform's part (§1.5), adding up
/// to the refund's amount; a bill that was not split takes neither. The core keeps each
/// within its share, under concurrency too.
fn split_refund(
    order: &Order,
    req: &RefundRequest,
    amount: Fen,
) -> Result<Option<RefundSplit>, ChinaumsError> {
    let subs = match &req.sub_orders {
        None => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => return Err(ChinaumsError::field("subOrders", "须为JSON数组")),
    };
    let platform = convert::amount(&req.platform_amount, "platformAmount", 0)?;
    // The core's split is the one its refunds are kept within.
    if order.splits.is_none() {
        if subs.is_some() || platform.is_some() {
            return Err(ChinaumsError::field(
                "subOrders",
                "和platformAmount只用于分账交易的退款",
            ));
        }
        return Ok(None);
    }
    let sub = match subs.as_deref() {
        Some([sub]) => sub,
        _ => {
            return Err(ChinaumsError::field(
                "subOrders",
                "分账交易退款必传,一次只能对一个子商户退款",
            ));
        }
    };
    let platform =
        platform.ok_or_else(|| ChinaumsError::field("platformAmount", "分账交易退款必传"))?;
    let mid = sub
        .get("mid")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ChinaumsError::field("subOrders", "子商户号mid必传"))?;
    let sub_amount = convert::amount(
        &sub.get("totalAmount").and_then(crate::common::value_text),
        "subOrders.totalAmount",
        0,
    )?
    .ok_or_else(|| ChinaumsError::field("subOrders", "子商户退款金额totalAmount必传"))?;
    let part = RefundSplit {
        platform,
        party: Some(Share {
            party: mid.to_owned(),
            amount: sub_amount,
        }),
    };
    if part.total() != Some(amount) {
        return Err(ChinaumsError::field(
            "refundAmount",
            "须等于platformAmount与子订单退款金额之和",
        ));
    }
    Ok(Some(part))
}

async fn qr_code_info(state: &ChinaumsState, caller: &Caller<'_>, reply: Reply) -> Answer {
    let req: QrCodeInfoRequest = from_params(&caller.params);
    let qr = convert::key(&req.qr_code_id, "qrCodeId", 32)?
        .ok_or_else(|| ChinaumsError::missing("qrCodeId"))?;
    convert::optional(&req.system_id, "systemId", 32)?;
    let candidates = match caller.merchant {
        Some(m) => vec![m],
        None => caller.app.clone(),
    };
    let mut found = Vec::new();
    for m in candidates {
        match state
            .gateway
            .find_code(&m.merchant_id, CodeKey::Ref(&qr))
            .await
        {
            Ok(code) => found.push((m, code)),
            Err(CoreError::CodeNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (merchant, code) = match found.len() {
        0 => return Err(ChinaumsError::NoOrder(format!("找不到二维码qrCodeId={qr}"))),
        1 => found.remove(0),
        _ => {
            return Err(ChinaumsError::field("mid", "必传:多个商户有此二维码ID"));
        }
    };
    if !merchant.credentials.active {
        return Err(ChinaumsError::InactiveMerchant);
    }
    if let Some(src) = &req.msg_src
        && *src != merchant.credentials.msg_src
    {
        return Err(ChinaumsError::InvalidMsgSrc(format!(
            "消息来源msgSrc={src}与二维码的来源不符"
        )));
    }
    let bill = match &code.order_id {
        Some(id) => Some(
            state
                .gateway
                .find_order(&merchant.merchant_id, OrderKey::Platform(id))
                .await?,
        ),
        None => None,
    };
    let name = state.merchant_name(merchant);
    let reply = convert::code_info(
        reply,
        &code,
        bill.as_ref(),
        &merchant.credentials.mid,
        &name,
        &state.code_links(),
    );
    Ok((reply, "查询二维码成功"))
}

async fn secure(
    state: &ChinaumsState,
    caller: &Caller<'_>,
    reply: Reply,
    complete: bool,
) -> Answer {
    let merchant = caller.merchant()?;
    let req: SecureRequest = from_params(&caller.params);
    let no = convert::key(&req.mer_order_id, "merOrderId", 32)?
        .ok_or_else(|| ChinaumsError::missing("merOrderId"))?;
    let completed = if complete {
        Some(
            convert::amount(&req.completed_amount, "completedAmount", 1)?
                .ok_or_else(|| ChinaumsError::missing("completedAmount"))?,
        )
    } else {
        None
    };
    let (order, tries) = find_bill(state, merchant, &no, "merOrderId").await?;
    let key = OrderKey::Platform(&order.id);
    let order = match completed {
        Some(amount) => {
            state
                .gateway
                .complete_escrow(&merchant.merchant_id, key, amount)
                .await?
        }
        None => {
            state
                .gateway
                .cancel_escrow(&merchant.merchant_id, key)
                .await?
        }
    };
    let name = state.merchant_name(merchant);
    let reply = convert::secure_reply(reply, &order, &tries, &name);
    Ok((
        reply,
        if complete {
            "担保完成成功"
        } else {
            "担保撤销成功"
        },
    ))
}

fn respond(reply: &Reply, ok: bool) -> Response {
    let body = serde_json::to_string(reply)
        .unwrap_or_else(|_| r#"{"errCode":"INTERNAL_ERROR","errMsg":"内部错误"}"#.to_owned());
    let response = ([(CONTENT_TYPE, "application/json;charset=UTF-8")], body).into_response();
    tag(response, super::NAME, ok)
}

fn refusal(echo: &Echo, error: ChinaumsError, now: Millis, spellings: Spellings) -> Response {
    if let ChinaumsError::Internal(cause) = &error {
        tracing::error!(%cause, "chinaums request failed");
    }
    let mut reply = echo.reply(now, spellings);
    reply.err_code = Some(error.code().into());
    reply.err_msg = Some(error.to_string());
    respond(&reply, false)
}

/// The refusal of a request the gateway is too busy to take (its request limits):
/// TXN_DISCARDED, echoing what the body says when it arrived.
pub fn busy_reply(request: &crate::BusyRequest<'_>, now: Millis) -> Response {
    let params = request.body.and_then(|b| codec::decode(b));
    let spellings = Interface::from_path(request.uri.path())
        .map(Interface::spellings)
        .unwrap_or_default();
    refusal(
        &Echo::of(params.as_ref()),
        ChinaumsError::TxnDiscarded,
        now,
        spellings,
    )
}

#[cfg(test)]
mod tests {
    use axum::body::{Bytes, to_bytes};
    use axum::http::Uri;

    use super::*;

    #[tokio::test]
    async fn a_busy_gateway_answers_txn_discarded_echoing_what_arrived() {
        let uri: Uri = "/v1/netpay/secure-complete".parse().unwrap();
        let body = Bytes::from_static(
            br#"{"msgId":"m1","mid":"898340149000005","requestTimestamp":"2024-01-02 03:04:05"}"#,
        );
        let request = crate::BusyRequest {
            uri: &uri,
            body: Some(&body),
        };
        let response = busy_reply(&request, Millis(1_704_164_645_000));
        assert_eq!(response.status(), 200);
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let reply: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(reply["errCode"], "TXN_DISCARDED");
        assert_eq!(reply["msgId"], "m1");
        assert_eq!(reply["mid"], "898340149000005");
        assert_eq!(reply["responseTimestamp"], "2024-01-02 11:04:05");
        assert_eq!(
            reply["requestTimestamp"], "2024-01-02 03:04:05",
            "§1.8's spelling"
        );
        let unknown: Uri = "/v1/netpay/nothing".parse().unwrap();
        let response = busy_reply(
            &crate::BusyRequest {
                uri: &unknown,
                body: None,
            },
            Millis(0),
        );
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let reply: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(reply["errCode"], "TXN_DISCARDED");
    }
}
