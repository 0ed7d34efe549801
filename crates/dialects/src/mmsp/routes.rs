//! mmsp's routes: decode the frame → authenticate → convert → one core command → encode.
//!
//! `/mmsp/scan`, `/mmsp/quick`, `/mmsp/gateway` take the frames of the spec's three parts
//! (the gateway's also as the form field `web_api`); `/mmsp/gateway/return/…` is the
//! gateway's front-page return, `/payopenplath5/wxh5pay` the WeChat H5 wake-up (§10.1, the
//! spec's own path) and `/mmsp/openid` the openid/user_id redirect (§10.2).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use paymux_core::Error as CoreError;
use paymux_core::Gateway;
use paymux_core::channel::PayAction;
use paymux_core::gateway::{FirstAnswer, NewRefund, Reversal};
use paymux_core::ids::{MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo};
use paymux_core::links::PayerLinks;
use paymux_core::listing::PaidOrdersQuery;
use paymux_core::order::Order;
use paymux_core::payway::{PayMethod, Wallet};
use paymux_core::store::{CodeKey, OrderKey, RefundKey};
use paymux_core::url::ReturnUrl;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::codec::{self, Outgoing, Received};
use super::convert::{self, OrderNo, optional, required};
use super::error::{Failure, MmspError, Refusal, codes};
use super::pages;
use super::wire::{
    self, BatchQuery, BatchReply, GatewayRequest, Header, OrderRef, Params, QuickReply,
    QuickRequest, RefundRef, RefundState, ScanOrder, command, from_params, reply_command,
    to_params,
};
use super::{MmspMerchant, MmspMerchants};
use crate::common::{catch_panics, fields, signatures_match, tag};

/// 撤销 (2311) may not act on an order younger than this (§10.4).
pub const CANCEL_AFTER_S: i64 = 15;

#[derive(Clone)]
pub struct MmspState {
    pub gateway: Gateway,
    pub merchants: Arc<MmspMerchants>,
    /// Where payers reach this gateway (the front-page return, the static code's page).
    pub public_url: Arc<str>,
    /// The static code's page is `{public_url}{links.code_path(id)}`.
    pub links: PayerLinks,
    /// The sandbox channel is on: §10's payer pages, which only simulate WeChat and
    /// Alipay (a made-up openid, a page instead of the app), are served.
    pub sandbox: bool,
}

/// §10's payer pages, which stand in for WeChat's and Alipay's own: the sandbox's.
const SANDBOX_PAGES: [&str; 2] = ["/mmsp/openid", "/payopenplath5/wxh5pay"];

pub fn router(state: MmspState) -> Router {
    let mut routes = Router::new()
        .route("/mmsp/scan", post(scan))
        .route("/mmsp/quick", post(quick))
        .route("/mmsp/gateway", post(gateway_part))
        .route(
            "/mmsp/gateway/return/{merno}/{merorderid}/{token}",
            get(front_return),
        );
    routes = if state.sandbox {
        routes
            .route(SANDBOX_PAGES[0], get(openid))
            .route(SANDBOX_PAGES[1], get(wx_h5))
    } else {
        // Without the sandbox there is no payer to make up: a payer's browser sent here
        // gets a not-found page (not a protocol frame, which it could not read).
        SANDBOX_PAGES
            .iter()
            .fold(routes, |routes, path| routes.route(path, any(no_sandbox)))
    };
    let routes = routes
        // Any other path or method under /mmsp gets mmsp's own negative reply.
        .route("/mmsp", any(unknown))
        .route("/mmsp/{*rest}", any(unknown))
        .method_not_allowed_fallback(unknown)
        .with_state(state);
    catch_panics(routes, || {
        negative(None, &MmspError::Internal("a handler panicked".into()))
    })
}

/// The spec's three parts, each at its own path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Scan,
    Quick,
    Gateway,
}

impl Part {
    /// The part an order was made in; `None` for another dialect's order. Commands of one
    /// part do not see the orders of another (quick refunds are 暂未实现, §5.10; the
    /// gateway part has no refund at all), nor another dialect's orders of the merchant.
    pub fn of(order: &Order) -> Option<Part> {
        if order.dialect != super::TAG {
            return None;
        }
        Some(match order.pay_way.method {
            PayMethod::Quick => Part::Quick,
            PayMethod::Gateway => Part::Gateway,
            _ => Part::Scan,
        })
    }

    pub fn path(self) -> &'static str {
        match self {
            Part::Scan => "/mmsp/scan",
            Part::Quick => "/mmsp/quick",
            Part::Gateway => "/mmsp/gateway",
        }
    }

    fn serves(self, cmd: i64) -> bool {
        use command::*;
        match self {
            Part::Scan => matches!(
                cmd,
                WECHAT_NATIVE
                    | WECHAT_MICROPAY
                    | WECHAT_H5
                    | ALIPAY_NATIVE
                    | ALIPAY_MICROPAY
                    | ALIPAY_STATIC
                    | ALIPAY_DYNAMIC
                    | ALIPAY_H5
                    | QQ_NATIVE
                    | QQ_MICROPAY
                    | QQ_MICROPAY_ALT
                    | UNIONPAY_NATIVE
                    | JD_NATIVE
                    | QUERY
                    | CANCEL
                    | REFUND
                    | REFUND_QUERY
                    | CLOSE
            ),
            Part::Quick => matches!(cmd, 771..=781 | UNIONPAY_QUICK),
            Part::Gateway => matches!(cmd, GATEWAY_PAY | GATEWAY_QUERY | GATEWAY_BATCH),
        }
    }
}

/// Who sent a frame, and the key it signed with (the agent's when AGENTNO is set).
struct Caller<'s> {
    merchant: &'s MmspMerchant,
    key: &'s str,
}

/// What a command answers besides a refusal.
enum Served {
    /// A positive reply with this Body.
    Body(Params),
    /// An HTML page (the gateway's bank page).
    Page(String),
}

type Body = Result<Bytes, BytesRejection>;

async fn scan(State(state): State<MmspState>, body: Body) -> Response {
    serve(&state, Part::Scan, body).await
}

async fn quick(State(state): State<MmspState>, body: Body) -> Response {
    serve(&state, Part::Quick, body).await
}

async fn gateway_part(State(state): State<MmspState>, body: Body) -> Response {
    serve(&state, Part::Gateway, body).await
}

async fn no_sandbox() -> Response {
    pages::page(
        StatusCode::NOT_FOUND,
        pages::message(
            "页面不存在",
            "Not found: this page is the sandbox's, which is off",
        ),
    )
}

async fn unknown() -> Response {
    negative(None, &MmspError::Malformed("请求地址不存在".into()))
}

async fn serve(state: &MmspState, part: Part, body: Body) -> Response {
    let Ok(body) = body else {
        return negative(None, &MmspError::Malformed("报文过大或不完整".into()));
    };
    let decoded = match part {
        Part::Gateway => codec::decode_gateway(&body),
        _ => codec::decode(&body),
    };
    let received = match decoded {
        Ok(received) => received,
        Err(e) => return negative(None, &MmspError::Malformed(e.to_string())),
    };
    let header = &received.header;
    let cmd = header.command_id.unwrap_or_default();
    if !part.serves(cmd) {
        return negative(Some(header), &MmspError::UnknownCommand(cmd));
    }
    let caller = match authenticate(state, &received) {
        Ok(caller) => caller,
        Err(e) => return negative(Some(header), &e),
    };
    let body = &received.body;
    let outcome = match part {
        Part::Scan => scan_command(state, &caller, cmd, body).await,
        Part::Quick => quick_command(state, &caller, cmd, body).await,
        Part::Gateway => gateway_command(state, &caller, cmd, body).await,
    };
    // 775 shaped as the spec's 5.7 example (a MERORDERID, no BIND_ID) is answered as 773.
    let reply_cmd = if cmd == command::UNBIND_CARD {
        command::QUICK_QUERY
    } else {
        cmd
    };
    match outcome {
        Ok(Served::Body(reply)) => positive(header, reply_command(reply_cmd), reply, caller.key),
        Ok(Served::Page(html)) => tag(pages::page(StatusCode::OK, html), "mmsp", true),
        Err(Failure::Negative(e)) => negative(Some(header), &e),
        Err(Failure::Refused(refusal)) => {
            let reply = refusal_body(part, reply_cmd, body, &refusal);
            positive(header, reply_command(reply_cmd), reply, caller.key)
        }
    }
}

/// The merchant (MERNO, TERMNO), the key (AGENTNO's, else the merchant's), the signature
/// over the Body as received, and plain values only.
fn authenticate<'s>(state: &'s MmspState, received: &Received) -> Result<Caller<'s>, MmspError> {
    let header = &received.header;
    let mer_no = header
        .mer_no
        .as_deref()
        .ok_or(MmspError::MissingField("MERNO"))?;
    let merchant = state
        .merchants
        .by_wire_id(mer_no)
        .ok_or(MmspError::UnknownMerchant)?;
    let credentials = &merchant.credentials;
    if header.term_no.as_deref() != Some(credentials.termno.as_str()) {
        return Err(MmspError::UnknownTerminal);
    }
    let key = match header.agent_no.as_deref() {
        None => credentials.md5_key.expose_secret(),
        Some(agent) => match (&credentials.agent_no, &credentials.agent_md5_key) {
            (Some(no), Some(key)) if no == agent => key.expose_secret(),
            _ => return Err(MmspError::UnknownAgent),
        },
    };
    let sign = header.sign.as_deref().ok_or(MmspError::BadSignature)?;
    if !codec::verify(&received.body, sign, key) {
        return Err(MmspError::BadSignature);
    }
    fields::plain_values(&received.body, &[]).map_err(MmspError::NotText)?;
    Ok(Caller { merchant, key })
}

fn echo(value: Option<&Value>, default: Value) -> Value {
    value.cloned().unwrap_or(default)
}

fn frame_response(frame: &Params, ok: bool) -> Response {
    let response = (
        [(CONTENT_TYPE, "application/json;charset=UTF-8")],
        codec::encode(frame),
    )
        .into_response();
    tag(response, "mmsp", ok)
}

/// A positive reply: the request's header echoed, RetCode 1, the Body signed with the key
/// the request was signed with.
fn positive(header: &Header, command_id: i64, body: Params, key: &str) -> Response {
    let frame = Outgoing {
        command_id,
        seq_id: echo(header.seq_id.as_ref(), Value::from(1)),
        node_type: echo(header.node_type.as_ref(), Value::from(3)),
        node_id: echo(header.node_id.as_ref(), Value::from("openapi")),
        ret_code: Some(1),
        error_msg: "",
        agent_no: header.agent_no.clone().map_or(Value::Null, Value::from),
        mer_no: header.mer_no.clone().map_or(Value::Null, Value::from),
        term_no: header.term_no.clone().map_or(Value::Null, Value::from),
        body,
        key: Some(key),
    }
    .into_frame();
    frame_response(&frame, true)
}

/// The unified negative reply, unsigned.
pub fn negative(header: Option<&Header>, error: &MmspError) -> Response {
    if let MmspError::Internal(cause) = error {
        tracing::error!(%cause, "mmsp request failed");
    }
    frame_response(
        &codec::negative(header, error.code(), &error.to_string()),
        false,
    )
}

/// A refusal as the part writes it: scan `STATUS`/`ERR_CODE`/`ERR_CODE_MSG`, quick and
/// gateway `STATUS`/`ERRCODE`/`ERRMSG`, with the request's numbers echoed and the reply's
/// other required fields empty. A card number is echoed masked.
fn refusal_body(part: Part, cmd: i64, request: &Params, refusal: &Refusal) -> Params {
    let mut body = Params::new();
    body.insert("STATUS".into(), Value::from(refusal.status));
    let (code, msg, echoed): (&str, &str, &[&str]) = match part {
        Part::Scan => (
            "ERR_CODE",
            "ERR_CODE_MSG",
            &[
                "ORDERNO",
                "MERORDERID",
                "REFUND_ORDERNO",
                "REFUND_MERORDERID",
                "AMT",
                "TRADETYPE",
            ],
        ),
        Part::Quick | Part::Gateway => (
            "ERRCODE",
            "ERRMSG",
            &[
                "LIST_ID",
                "MERORDERID",
                "USER_ID",
                "BIND_ID",
                "AMT",
                "PAY_CHANNEL",
            ],
        ),
    };
    body.insert(code.into(), Value::from(refusal.code));
    body.insert(msg.into(), Value::from(refusal.msg.as_str()));
    for name in echoed {
        if let Some(text) = request.get(*name).and_then(wire::value_text) {
            body.insert((*name).into(), Value::String(text));
        }
    }
    for name in wire::reply_fields(part, cmd) {
        if body.contains_key(*name) {
            continue;
        }
        let text = match *name {
            "CARDNO" => request
                .get("CARDNO")
                .and_then(wire::value_text)
                .map(|card| paymux_core::card::mask(&card, 6, 4)),
            _ => None,
        };
        body.insert((*name).into(), Value::String(text.unwrap_or_default()));
    }
    body
}

fn allow_private(state: &MmspState) -> bool {
    state.gateway.settings().allow_private_callbacks
}

/// The merchant's order of `part`: another part's or another dialect's is 没有该订单.
async fn find(
    state: &MmspState,
    caller: &Caller<'_>,
    no: OrderNo,
    part: Part,
) -> Result<Order, Failure> {
    let order = find_any(state, caller, no).await?;
    if Part::of(&order) != Some(part) {
        return Err(MmspError::OrderNotFound.into());
    }
    Ok(order)
}

async fn find_any(state: &MmspState, caller: &Caller<'_>, no: OrderNo) -> Result<Order, Failure> {
    let merchant = &caller.merchant.merchant_id;
    Ok(match &no {
        OrderNo::Platform(id) => {
            state
                .gateway
                .find_order(merchant, OrderKey::Platform(id))
                .await?
        }
        OrderNo::Merchant(no) => {
            state
                .gateway
                .find_order(merchant, OrderKey::Merchant(no))
                .await?
        }
    })
}

// ---------------------------------------------------------------------------------------
// 扫码

async fn scan_command(
    state: &MmspState,
    caller: &Caller<'_>,
    cmd: i64,
    body: &Params,
) -> Result<Served, Failure> {
    let reply = match cmd {
        command::ALIPAY_STATIC => alipay_static(state, caller, body).await?,
        command::QUERY => {
            let req: OrderRef = from_params(body);
            let order = find(
                state,
                caller,
                convert::order_no(&req.orderno, &req.merorderid, 20)?,
                Part::Scan,
            )
            .await?;
            to_params(&convert::order_state(&order))
        }
        command::CANCEL => cancel(state, caller, body).await?,
        command::CLOSE => close(state, caller, body).await?,
        command::REFUND => refund(state, caller, body).await?,
        command::REFUND_QUERY => refund_query(state, caller, body).await?,
        _ => scan_pay(state, caller, cmd, body).await?,
    };
    Ok(Served::Body(reply))
}

async fn scan_pay(
    state: &MmspState,
    caller: &Caller<'_>,
    cmd: i64,
    body: &Params,
) -> Result<Params, Failure> {
    let req: ScanOrder = from_params(body);
    let (new, product) = convert::scan_order(
        cmd,
        &req,
        caller.merchant.merchant_id.clone(),
        state.gateway.now(),
        allow_private(state),
    )?;
    // §5.2.3: a micropay that succeeds at once is answered, not pushed.
    let first = if product.pay_way.method == PayMethod::Barcode {
        FirstAnswer::Silent
    } else {
        FirstAnswer::Notify
    };
    let created = state.gateway.create_order_with(new, first).await?;
    Ok(to_params(&convert::scan_order_reply(
        &created.order,
        &created.action,
        product,
        caller.merchant.credentials.md5_key.expose_secret(),
    )))
}

/// 1026 支付宝静态码: the order becomes the bill of the merchant's one static code, made on
/// its first 1026, replacing the bill it carried (closed if unpaid; a paid one stays). URL
/// is the code's page, the same every time: the code is printed.
async fn alipay_static(
    state: &MmspState,
    caller: &Caller<'_>,
    body: &Params,
) -> Result<Params, Failure> {
    let req: ScanOrder = from_params(body);
    let merchant = &caller.merchant.merchant_id;
    let (new, product) = convert::static_code(
        &req,
        merchant.clone(),
        state.gateway.now(),
        allow_private(state),
    )?;
    let key = CodeKey::Ref(convert::STATIC_CODE_REF);
    let gateway = &state.gateway;
    let bound = match gateway.find_code(merchant, key).await {
        Ok(_) => gateway.update_code(merchant, key, new).await,
        Err(CoreError::CodeNotFound) => match gateway.create_code(new.clone()).await {
            // Another first 1026 made it meanwhile: bind to that one.
            Err(CoreError::DuplicateCodeRef) => gateway.update_code(merchant, key, new).await,
            made => made,
        },
        Err(e) => Err(e),
    };
    let (code, bill) = bound?;
    let bill = bill.ok_or_else(|| MmspError::Internal("the static code has no bill".into()))?;
    let url = format!(
        "{}{}",
        state.public_url.trim_end_matches('/'),
        state.links.code_path(code.id.as_str())
    );
    Ok(to_params(&convert::scan_order_reply(
        &bill,
        &PayAction::QrCode(url),
        product,
        caller.merchant.credentials.md5_key.expose_secret(),
    )))
}

/// The order's state with the outcome of a cancel or close: 1 done, 2 refused.
fn outcome_state(order: &Order, refusal: Option<&Refusal>) -> Params {
    let mut state = convert::order_state(order);
    match refusal {
        None => {
            state.status = Some("1".into());
            state.err_code = None;
            state.err_code_msg = None;
        }
        Some(r) => {
            state.status = Some("2".into());
            state.err_code = Some(r.code.into());
            state.err_code_msg = Some(r.msg.clone());
        }
    }
    to_params(&state)
}

/// §10.4 撤销: an unpaid order closes, a paid one is refunded in full; not within
/// [`CANCEL_AFTER_S`] of the order.
async fn cancel(state: &MmspState, caller: &Caller<'_>, body: &Params) -> Result<Params, Failure> {
    let req: OrderRef = from_params(body);
    let order = find(
        state,
        caller,
        convert::order_no(&req.orderno, &req.merorderid, 20)?,
        Part::Scan,
    )
    .await?;
    match state
        .gateway
        .reverse_order(
            &caller.merchant.merchant_id,
            OrderKey::Platform(&order.id),
            CANCEL_AFTER_S,
        )
        .await
    {
        Ok(Reversal::Closed(order))
        | Ok(Reversal::Refunded { order, .. })
        | Ok(Reversal::NothingLeft(order)) => Ok(outcome_state(&order, None)),
        Err(e) => match Failure::from(e) {
            Failure::Refused(r) => Ok(outcome_state(&order, Some(&r))),
            negative => Err(negative),
        },
    }
}

/// §10.5 关闭: an unpaid order closes; a paid one is refused.
async fn close(state: &MmspState, caller: &Caller<'_>, body: &Params) -> Result<Params, Failure> {
    let req: OrderRef = from_params(body);
    let order = find(
        state,
        caller,
        convert::order_no(&req.orderno, &req.merorderid, 20)?,
        Part::Scan,
    )
    .await?;
    match state
        .gateway
        .close_order(
            &caller.merchant.merchant_id,
            OrderKey::Platform(&order.id),
            "closed by the merchant",
        )
        .await
    {
        Ok(order) => Ok(outcome_state(&order, None)),
        Err(e) => match Failure::from(e) {
            Failure::Refused(r) => {
                let order = find(
                    state,
                    caller,
                    OrderNo::Platform(order.id.clone()),
                    Part::Scan,
                )
                .await?;
                Ok(outcome_state(&order, Some(&r)))
            }
            negative => Err(negative),
        },
    }
}

/// §10.6 退款: REFUND_MERORDERID is the refund's number and its idempotency key.
async fn refund(state: &MmspState, caller: &Caller<'_>, body: &Params) -> Result<Params, Failure> {
    let req: OrderRef = from_params(body);
    let order = find(
        state,
        caller,
        convert::order_no(&req.orderno, &req.merorderid, 20)?,
        Part::Scan,
    )
    .await?;
    let number = required(&req.refund_merorderid, "REFUND_MERORDERID", 20)?;
    let invalid =
        |e: paymux_core::ids::IdError| MmspError::invalid("REFUND_MERORDERID", e.to_string());
    let refund_no = RefundNo::parse(number, 20).map_err(invalid)?;
    let request_no = RefundRequestNo::parse(number, 20).map_err(invalid)?;
    let amount = convert::amount(&req.amt)?;
    optional(&req.randstr, "RANDSTR", 20)?;
    let new = NewRefund {
        merchant_id: caller.merchant.merchant_id.clone(),
        order_id: order.id.clone(),
        dialect: super::TAG,
        refund_no,
        request_no: Some(request_no),
        amount,
        reason: String::new(),
        extra: Default::default(),
        split: None,
    };
    match state.gateway.request_refund(new).await {
        Ok(refund) => Ok(to_params(&convert::refund_state(&refund, Some(number)))),
        Err(e) => match Failure::from(e) {
            Failure::Refused(r) => Ok(to_params(&RefundState {
                // Required in the reply: empty, no refund was made.
                refund_orderno: Some(String::new()),
                refund_time: Some(String::new()),
                amt: Some(amount.get().to_string()),
                status: Some("2".into()),
                refund_merorderid: Some(number.to_owned()),
                err_code_msg: Some(r.msg),
                err_code: Some(r.code.into()),
            })),
            negative => Err(negative),
        },
    }
}

/// §10.7 退款查询: by REFUND_ORDERNO (paymux's) or REFUND_MERORDERID.
async fn refund_query(
    state: &MmspState,
    caller: &Caller<'_>,
    body: &Params,
) -> Result<Params, Failure> {
    let req: RefundRef = from_params(body);
    let merchant = &caller.merchant.merchant_id;
    let refund = if let Some(id) = optional(&req.refund_orderno, "REFUND_ORDERNO", 32)? {
        let id = crate::common::ids::named('R', &id);
        state
            .gateway
            .find_refund(merchant, RefundKey::Platform(&id))
            .await?
    } else {
        let number = required(&req.refund_merorderid, "REFUND_MERORDERID", 32)?;
        let no = RefundNo::parse(number, 32)
            .map_err(|e| MmspError::invalid("REFUND_MERORDERID", e.to_string()))?;
        match state
            .gateway
            .find_refund(merchant, RefundKey::RefundNo(&no))
            .await
        {
            Ok(refund) => refund,
            // A reversal's number is its order's ORDERNO (paymux's id as refund number).
            Err(CoreError::RefundNotFound) => {
                let reversal =
                    RefundNo::from_stored(crate::common::ids::named('P', number).to_string());
                state
                    .gateway
                    .find_refund(merchant, RefundKey::RefundNo(&reversal))
                    .await?
            }
            Err(e) => return Err(e.into()),
        }
    };
    // Refunds of the scan part's orders only (2312 makes no other).
    let order = find_any(state, caller, OrderNo::Platform(refund.order_id.clone())).await?;
    if Part::of(&order) != Some(Part::Scan) {
        return Err(MmspError::RefundNotFound.into());
    }
    Ok(to_params(&convert::refund_state(&refund, None)))
}

// ---------------------------------------------------------------------------------------
// 快捷

async fn quick_command(
    state: &MmspState,
    caller: &Caller<'_>,
    cmd: i64,
    body: &Params,
) -> Result<Served, Failure> {
    let req: QuickRequest = from_params(body);
    let reply = match cmd {
        command::QUICK_PAY => quick_pay(state, caller, &req).await?,
        command::QUICK_CONFIRM => quick_confirm(state, caller, &req).await?,
        command::QUICK_QUERY => quick_query(state, caller, &req).await?,
        // The spec's 5.7 example queries with 775: a 775 with MERORDERID and no BIND_ID
        // is that query; 775 proper (解绑) is not open.
        command::UNBIND_CARD if req.merorderid.is_some() && req.bind_id.is_none() => {
            quick_query(state, caller, &req).await?
        }
        command::QUICK_RESEND => quick_resend(state, caller, &req).await?,
        command::QUICK_BATCH => batch(state, caller, &from_params(body), PayMethod::Quick).await?,
        command::BOUND_SMS => bound_sms(state, caller, &req).await?,
        command::BOUND_PAY => bound_pay(state, caller, &req).await?,
        command::UNIONPAY_QUICK => unionpay_quick(state, caller, &req).await?,
        // 774, 775, 776, 781: 暂未开通 in the spec itself.
        _ => return Err(MmspError::NotOpen.into()),
    };
    Ok(Served::Body(reply))
}

/// A quick order's reply, with the binding its payment made.
async fn quick_state(
    state: &MmspState,
    caller: &Caller<'_>,
    order: &Order,
) -> Result<QuickReply, Failure> {
    let mut reply = convert::quick_reply(order);
    if reply.bind_id.is_none() && order.extra_str("USER_ID").is_some() {
        reply.bind_id = state
            .gateway
            .binding_made_by(&caller.merchant.merchant_id, &order.id)
            .await?
            .map(|b| b.id.to_string());
    }
    Ok(reply)
}

/// §5.3 快捷支付交易: the card is checked and the payer sent a code (STATUS 0).
async fn quick_pay(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
    let amount = convert::amount(&req.amt)?;
    let notify_url = convert::notify_url(&req.notify_url, 255, allow_private(state))?;
    let user_id = optional(&req.user_id, "USER_ID", 32)?;
    optional(&req.randstr, "RANDSTR", 32)?;
    let card = convert::card_details(req)?;
    let mut extra = convert::card_extra(&card.number.masked(), card.kind, card.number.bank_name());
    if let Some(user) = &user_id {
        extra.insert("USER_ID".into(), Value::from(user.as_str()));
    }
    let new = convert::quick_order(
        caller.merchant.merchant_id.clone(),
        no,
        amount,
        Wallet::Bank,
        "快捷支付",
        Some(notify_url),
        None,
        extra,
    );
    let made = state
        .gateway
        .create_card_order(new, &card, user_id.as_deref())
        .await?;
    let mut reply = convert::quick_reply(&made.created.order);
    reply.bind_id = made.binding.map(|b| b.id.to_string());
    Ok(to_params(&reply))
}

/// §5.4 交易短信确认. A payment already confirmed is answered as confirmed.
async fn quick_confirm(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let id = PlatformId::from_string(required(&req.list_id, "LIST_ID", 32)?);
    let code = required(&req.msg_code, "MSG_CODE", 6)?;
    optional(&req.randstr, "RANDSTR", 32)?;
    let merchant = &caller.merchant.merchant_id;
    let order = find(state, caller, OrderNo::Platform(id.clone()), Part::Quick).await?;
    // A bound card's payment is confirmed by 779, which checks BIND_ID, USER_ID and AMT and
    // names NOTIFY_URL.
    if order.extra_str("BIND_ID").is_some() {
        return Err(Refusal::new(codes::BOUND_ORDER, "绑卡支付订单须以779确认").into());
    }
    let order = match state
        .gateway
        .confirm_payment(merchant, OrderKey::Platform(&order.id), code, None)
        .await
    {
        Ok(order) => order,
        Err(paymux_core::Error::OrderAlreadyPaid) => {
            find(state, caller, OrderNo::Platform(id.clone()), Part::Quick).await?
        }
        Err(e) => return Err(e.into()),
    };
    let full = convert::quick_reply(&order);
    Ok(to_params(&QuickReply {
        status: full.status.clone(),
        list_id: full.list_id,
        errcode: full.errcode,
        errmsg: full.errmsg,
        ..QuickReply::default()
    }))
}

/// §5.7 单笔交易查询.
async fn quick_query(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
    let order = find(state, caller, OrderNo::Merchant(no), Part::Quick).await?;
    Ok(to_params(&quick_state(state, caller, &order).await?))
}

/// §5.11 短信重发: at most once every 60 s.
async fn quick_resend(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let id = PlatformId::from_string(required(&req.list_id, "LIST_ID", 32)?);
    optional(&req.randstr, "RANDSTR", 32)?;
    let order = find(state, caller, OrderNo::Platform(id), Part::Quick).await?;
    let order = state
        .gateway
        .resend_code(&caller.merchant.merchant_id, OrderKey::Platform(&order.id))
        .await?;
    Ok(to_params(&QuickReply {
        status: Some("1".into()),
        list_id: Some(order.id.to_string()),
        ..QuickReply::default()
    }))
}

/// §5.13 绑卡支付短信: an order on the bound card, and a code to the phone.
async fn bound_sms(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let bind_id = PlatformId::from_string(required(&req.bind_id, "BIND_ID", 32)?);
    let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
    let user_id = required(&req.user_id, "USER_ID", 32)?;
    let amount = convert::amount(&req.amt)?;
    required(&req.randstr, "RANDSTR", 32)?;
    let phone = convert::phone(&req.phoneno)?;
    let merchant = &caller.merchant.merchant_id;
    let binding = state.gateway.card_binding(merchant, &bind_id).await?;
    let mut extra =
        convert::card_extra(&binding.card_masked, binding.card_kind, &binding.bank_name);
    extra.insert("BIND_ID".into(), Value::from(binding.id.as_str()));
    extra.insert("USER_ID".into(), Value::from(user_id));
    // NOTIFY_URL comes with the confirmation (779).
    let new = convert::quick_order(
        merchant.clone(),
        no,
        amount,
        Wallet::Bank,
        "快捷支付",
        None,
        None,
        extra,
    );
    let made = state
        .gateway
        .create_bound_card_order(new, &binding, user_id, &phone)
        .await?;
    let order = &made.created.order;
    let full = convert::quick_reply(order);
    let sent = made.code_sent && order.status.is_open();
    Ok(to_params(&QuickReply {
        status: Some(if sent { "1" } else { "2" }.into()),
        errcode: (!sent).then(|| full.errcode.clone()).flatten(),
        errmsg: (!sent).then(|| full.errmsg.clone()).flatten(),
        user_id: Some(user_id.to_owned()),
        list_id: full.list_id,
        merorderid: full.merorderid,
        cardno: full.cardno,
        ..QuickReply::default()
    }))
}

/// §5.12 快捷绑卡支付确认: 780's order (its MERORDERID), confirmed with the code.
async fn bound_pay(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
    let bind_id = required(&req.bind_id, "BIND_ID", 32)?;
    let user_id = required(&req.user_id, "USER_ID", 32)?;
    let amount = convert::amount(&req.amt)?;
    let code = required(&req.msg_code, "MSG_CODE", 6)?;
    let notify_url = convert::notify_url(&req.notify_url, 255, allow_private(state))?;
    optional(&req.randstr, "RANDSTR", 32)?;
    let order = find(state, caller, OrderNo::Merchant(no), Part::Quick).await?;
    if order.extra_str("BIND_ID") != Some(bind_id) || order.extra_str("USER_ID") != Some(user_id) {
        return Err(MmspError::invalid("BIND_ID", "与绑卡支付短信请求(780)不一致").into());
    }
    if order.amount != amount {
        return Err(MmspError::AmountMismatch.into());
    }
    let merchant = &caller.merchant.merchant_id;
    let order = match state
        .gateway
        .confirm_payment(
            merchant,
            OrderKey::Platform(&order.id),
            code,
            Some(&notify_url),
        )
        .await
    {
        Ok(order) => order,
        Err(paymux_core::Error::OrderAlreadyPaid) => {
            find(
                state,
                caller,
                OrderNo::Platform(order.id.clone()),
                Part::Quick,
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    };
    let mut reply = convert::quick_reply(&order);
    reply.cardtype = None;
    Ok(to_params(&reply))
}

/// §5.14 银联快捷支付下单: the payer pays at PAY_URL; TRADE_MODE 2 adds the HTML form.
async fn unionpay_quick(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &QuickRequest,
) -> Result<Params, Failure> {
    let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
    let amount = convert::amount(&req.amt)?;
    let jump = convert::jump_url(&req.jump_url, 255)?;
    let notify_url = convert::notify_url(&req.notify_url, 255, allow_private(state))?;
    let html = match optional(&req.trade_mode, "TRADE_MODE", 1)?.as_deref() {
        None | Some("1") => false,
        Some("2") => true,
        Some(_) => return Err(MmspError::invalid("TRADE_MODE", "须为1或2").into()),
    };
    optional(&req.randstr, "RANDSTR", 32)?;
    let mut extra = serde_json::Map::new();
    if let Some(card) = optional(&req.cardno, "CARDNO", 32)? {
        let card = paymux_core::card::CardNo::parse(&card)
            .map_err(|_| Refusal::new(codes::CLOSED, "要素不匹配"))?;
        extra.insert("CARDNO".into(), Value::from(card.masked()));
        extra.insert("BANK_NAME".into(), Value::from(card.bank_name()));
    }
    let new = convert::quick_order(
        caller.merchant.merchant_id.clone(),
        no,
        amount,
        Wallet::UnionPay,
        "银联快捷支付",
        Some(notify_url),
        Some(jump),
        extra,
    );
    let created = state.gateway.create_order(new).await?;
    let order = &created.order;
    let full = convert::quick_reply(order);
    let open = order.status.is_open();
    Ok(to_params(&QuickReply {
        status: full.status,
        errcode: full.errcode,
        errmsg: full
            .errmsg
            .or_else(|| open.then(|| "用户支付中".to_owned())),
        list_id: full.list_id,
        merorderid: full.merorderid,
        pay_date: full.pay_date,
        notify_date: full.notify_date,
        pay_url: open.then(|| convert::pay_url(&created.action)).flatten(),
        amt: full.amt,
        html: (open && html).then(|| pages::quick_form(&created.action)),
        ..QuickReply::default()
    }))
}

/// §5.9 / gateway §5.4: the merchant's paid orders of the part, a page at a time.
async fn batch(
    state: &MmspState,
    caller: &Caller<'_>,
    req: &BatchQuery,
    method: PayMethod,
) -> Result<Params, Failure> {
    let now = state.gateway.now();
    let (from, until) = convert::batch_window(&req.start_date, &req.end_date, now)?;
    let (per_page, page) = convert::paging(&req.perpage, &req.page)?;
    let found = state
        .gateway
        .paid_orders(&PaidOrdersQuery {
            merchant: caller.merchant.merchant_id.clone(),
            dialect: super::TAG,
            method,
            from,
            until,
            page,
            per_page,
        })
        .await?;
    let mut items = Vec::with_capacity(found.orders.len());
    for order in &found.orders {
        let mut item = convert::batch_item(order);
        if method == PayMethod::Quick {
            item.bind_id = Some(
                quick_state(state, caller, order)
                    .await?
                    .bind_id
                    .unwrap_or_default(),
            );
        }
        items.push(item);
    }
    let any = !items.is_empty();
    Ok(to_params(&BatchReply {
        status: Some(if any { "1" } else { "0" }.into()),
        errcode: (!any).then(|| codes::NO_DATA.to_owned()),
        errmsg: (!any).then(|| "未找到数据".to_owned()),
        biz_content: items,
        perpage: Some(per_page.to_string()),
        page: Some(page.to_string()),
        total_num: Some(found.total.to_string()),
        total_page: Some(((found.total + per_page - 1) / per_page).to_string()),
    }))
}

// ---------------------------------------------------------------------------------------
// 网关

async fn gateway_command(
    state: &MmspState,
    caller: &Caller<'_>,
    cmd: i64,
    body: &Params,
) -> Result<Served, Failure> {
    match cmd {
        command::GATEWAY_PAY => gateway_pay(state, caller, body).await,
        command::GATEWAY_QUERY => {
            let req: GatewayRequest = from_params(body);
            let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
            let order = find(state, caller, OrderNo::Merchant(no), Part::Gateway).await?;
            Ok(Served::Body(to_params(&convert::gateway_result(
                &order, None,
            ))))
        }
        _ => Ok(Served::Body(
            batch(state, caller, &from_params(body), PayMethod::Gateway).await?,
        )),
    }
}

/// The token of a front-page return link: only the gateway could have made it.
fn return_token(merno: &str, merorderid: &str, key: &str) -> String {
    codec::sign(&format!("return/{merno}/{merorderid}"), key)[..16].to_owned()
}

/// §5.1 网关支付请求: answered with the sandbox bank page of PAY_CHANNEL.
async fn gateway_pay(
    state: &MmspState,
    caller: &Caller<'_>,
    body: &Params,
) -> Result<Served, Failure> {
    let req: GatewayRequest = from_params(body);
    let credentials = &caller.merchant.credentials;
    let no = convert::merorderid(&req.merorderid, "MERORDERID", 32)?;
    let token = return_token(
        &credentials.merno,
        no.as_str(),
        credentials.md5_key.expose_secret(),
    );
    let back = format!(
        "{}/mmsp/gateway/return/{}/{}/{token}",
        state.public_url.trim_end_matches('/'),
        credentials.merno,
        no
    );
    let back = ReturnUrl::parse(&back)
        .map_err(|e| MmspError::Internal(format!("the return link {back}: {e}")))?;
    let (new, bank) = convert::gateway_order(
        &req,
        caller.merchant.merchant_id.clone(),
        allow_private(state),
        back,
    )?;
    let channel = new
        .extra
        .get("PAY_CHANNEL")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let created = state.gateway.create_order(new).await?;
    if !created.order.status.is_open() {
        return Err(Refusal::new(
            codes::CHANNEL,
            created.order.fail_msg.unwrap_or_else(|| "下单失败".into()),
        )
        .into());
    }
    Ok(Served::Page(pages::bank_page(
        bank,
        &channel,
        &created.order,
        &created.action,
    )))
}

/// §5.5 网关前台页面通知: the payer's browser goes back to JUMP_URL with the order's
/// state in the query (not proof of payment: merchants confirm by the notification or a
/// query).
async fn front_return(
    State(state): State<MmspState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Response {
    let not_found = || {
        pages::page(
            StatusCode::NOT_FOUND,
            pages::message("订单不存在", "Order not found"),
        )
    };
    let Ok(Path((merno, merorderid, token))) = path else {
        return not_found();
    };
    let Some(merchant) = state.merchants.by_wire_id(&merno) else {
        return not_found();
    };
    let key = merchant.credentials.md5_key.expose_secret();
    if !signatures_match(&return_token(&merno, &merorderid, key), &token) {
        return not_found();
    }
    let Ok(no) = MerchantOrderNo::parse(&merorderid, 32) else {
        return not_found();
    };
    let order = match state
        .gateway
        .find_order(&merchant.merchant_id, OrderKey::Merchant(&no))
        .await
    {
        Ok(order) if Part::of(&order) == Some(Part::Gateway) => order,
        _ => return not_found(),
    };
    let Some(jump) = order.extra_str("JUMP_URL") else {
        return not_found();
    };
    let result = to_params(&convert::gateway_result(&order, None));
    let pairs: Vec<(String, String)> = result
        .iter()
        .filter_map(|(k, v)| wire::value_text(v).map(|t| (k.clone(), t)))
        .collect();
    let query = crate::common::encode_form(
        &pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let separator = if jump.contains('?') { '&' } else { '?' };
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, format!("{jump}{separator}{query}"))],
    )
        .into_response()
}

fn query_field(query: &Option<String>, name: &str) -> Option<String> {
    query.as_deref().and_then(|q| {
        crate::common::decode_form(q, true)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    })
}

/// §10.1 微信H5支付唤醒微信APP: `memo` the merchant number, `termno`, `merurl` the
/// merchant's return address base64-encoded. The sandbox has no app to wake: its page
/// says so and leads back.
async fn wx_h5(State(state): State<MmspState>, RawQuery(query): RawQuery) -> Response {
    let refuse =
        |why: &str| pages::page(StatusCode::BAD_REQUEST, pages::message("无法唤醒微信", why));
    let merchant = query_field(&query, "memo").and_then(|m| state.merchants.by_wire_id(&m));
    let Some(merchant) = merchant else {
        return refuse("商户不存在");
    };
    if query_field(&query, "termno").as_deref() != Some(merchant.credentials.termno.as_str()) {
        return refuse("终端号错误");
    }
    let back = query_field(&query, "merurl")
        .and_then(|b| pages::base64_decode(&b))
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|url| ReturnUrl::parse(&url).ok());
    match back {
        Some(back) => pages::page(StatusCode::OK, pages::wake_up(back.as_str())),
        None => refuse("merurl须为base64编码的http(s)地址"),
    }
}

/// §10.2 获取微信OPENID/支付宝USER_ID: redirects back to `merurl` with `token_id`, the
/// sandbox payer's openid (tradetype 1) or Alipay user_id (2), the same for a merchant
/// every time.
async fn openid(State(state): State<MmspState>, RawQuery(query): RawQuery) -> Response {
    let refuse = |why: &str| {
        pages::page(
            StatusCode::BAD_REQUEST,
            pages::message("无法获取用户标识", why),
        )
    };
    let Some(merno) =
        query_field(&query, "merno").filter(|m| state.merchants.by_wire_id(m).is_some())
    else {
        return refuse("商户不存在");
    };
    let Some(back) = query_field(&query, "merurl").and_then(|u| ReturnUrl::parse(&u).ok()) else {
        return refuse("merurl须为http(s)地址");
    };
    let digest = crate::common::md5_hex_lower(format!("sandbox payer {merno}").as_bytes());
    let token = match query_field(&query, "tradetype").as_deref() {
        Some("1") | None => format!("oSbx{}", &digest[..24]),
        Some("2") => {
            let digits: String = digest
                .bytes()
                .map(|b| char::from(b'0' + b % 10))
                .take(12)
                .collect();
            format!("2088{digits}")
        }
        Some(_) => return refuse("tradetype须为1或2"),
    };
    let separator = if back.as_str().contains('?') {
        '&'
    } else {
        '?'
    };
    (
        StatusCode::FOUND,
        [(
            LOCATION,
            format!("{}{separator}token_id={token}", back.as_str()),
        )],
    )
        .into_response()
}
