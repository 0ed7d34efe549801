//! hrss's routes: decode → authenticate → decrypt → convert → one core command → encrypt.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use paymux_core::Gateway;
use paymux_core::links::PayerLinks;
use paymux_core::order::{AttemptStatus, Order, Tries};
use paymux_core::payway::Wallet;
use paymux_core::store::{CodeKey, OrderKey, RefundKey};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::codec::{self, Form};
use super::convert;
use super::crypto::SignatureError;
use super::error::{HrssError, json_reply};
use super::static_codes;
use super::wire::{
    self, BizData, CloseRequest, OrderReply, OrderRequest, Params, QueryRequest,
    RefundQueryRequest, RefundRequest, Reply, Service, StaticCodeReply, StaticCodeRequest,
};
use super::{HrssMerchant, HrssMerchants};
use crate::common::{catch_panics, fields};

#[derive(Clone)]
pub struct HrssState {
    pub gateway: Gateway,
    pub merchants: Arc<HrssMerchants>,
    /// `[server] max_clock_skew_s`; 0 turns the timestamp check off.
    pub max_clock_skew_s: u64,
    /// Numbers the replies' `aaz002`.
    pub serial: Arc<AtomicU64>,
    /// Where payers reach this gateway, and the key of their links (static codes' pages).
    pub public_url: Arc<str>,
    pub links: PayerLinks,
}

/// `/{context}/rest/{serviceKey}` for each context the merchants use; anything else under
/// `/{context}/rest` gets hrss's own refusal.
pub fn router(state: HrssState) -> Router {
    let mut routes = Router::new();
    for context in state.merchants.contexts() {
        routes = routes
            .route(&format!("/{context}/rest"), any(serve))
            .route(&format!("/{context}/rest/"), any(serve))
            .route(&format!("/{context}/rest/{{*service}}"), any(serve));
    }
    catch_panics(routes.with_state(state), || {
        HrssError::Internal("a handler panicked".into()).into_response()
    })
}

/// Who asked, for the reply's `biz_data`.
struct Caller<'s> {
    merchant: HrssMerchant<'s>,
    appid: String,
    aaz001: String,
}

async fn serve(
    State(state): State<HrssState>,
    method: Method,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (caller, params, service) = match authenticate(&state, &method, uri.path(), body).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let result = match service {
        Service::OnlineOrder | Service::PassiveScan | Service::DynamicCode => {
            create_order(&state, &caller, service, &params).await
        }
        Service::Query => query_order(&state, &caller, &params).await,
        Service::Refund => refund(&state, &caller, &params).await,
        Service::RefundQuery => query_refund(&state, &caller, &params).await,
        Service::Close => close_order(&state, &caller, &params).await,
        Service::StaticCode => static_code(&state, &caller, &params).await,
    };
    answer(&state, &caller, result)
}

/// The text of a field of at most `max` characters.
fn public_param<'f>(
    form: &'f Form,
    name: &'static str,
    max: usize,
) -> Result<Option<&'f str>, HrssError> {
    match codec::field(form, name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => Ok(Some(fields::limit(value, name, max)?)),
    }
}

fn required_param<'f>(
    form: &'f Form,
    name: &'static str,
    max: usize,
) -> Result<&'f str, HrssError> {
    public_param(form, name, max)?.ok_or_else(|| HrssError::Missing(name.into()))
}

/// Checks everything §3.5 asks of a call, in the order the refusals are listed: the
/// service, the public parameters, the access system, the signature, the timestamp and
/// version, the app; then reads `data`, and last refuses a replay (see [`not_replayed`]).
async fn authenticate<'s>(
    state: &'s HrssState,
    method: &Method,
    path: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Caller<'s>, Params, Service), HrssError> {
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let context = parts.next().unwrap_or_default();
    let service_key = parts.nth(1).unwrap_or_default();
    let service = Service::from_key(service_key).ok_or(HrssError::UnknownService(None))?;
    if method != Method::POST {
        return Err(HrssError::invalid(
            "请求",
            "须为POST提交的application/x-www-form-urlencoded表单",
        ));
    }
    let body = body.map_err(|_| HrssError::invalid("请求", "请求体过大或不完整"))?;
    let readings = codec::decode_request(&body)
        .ok_or_else(|| HrssError::invalid("请求", "须为UTF-8编码的表单"))?;
    let first = &readings[0];
    let access_key = required_param(first, "access_key", 30)?;
    required_param(first, "biz_content", 65_536)?;
    required_param(first, "sign", 500)?;
    required_param(first, "timestamp", 19)?;
    required_param(first, "version", 10)?;
    public_param(first, "format", 10)?;
    public_param(first, "request_id", 30)?;

    let merchant = state
        .merchants
        .by_access_key(access_key)
        .ok_or(HrssError::UnknownAccessKey)?;
    if merchant.credentials.context != context {
        return Err(HrssError::UnknownService(None));
    }
    let mut refusal = SignatureError::Mismatch;
    let form = readings
        .iter()
        .find(|form| match codec::check(form, &merchant.keys.public) {
            Ok(()) => true,
            Err(e) => {
                refusal = refusal.max(e);
                false
            }
        })
        .ok_or_else(|| {
            tracing::debug!(string_to_sign = %codec::redacted_string_to_sign(first), %refusal, "hrss signature does not verify");
            HrssError::BadSignature(refusal)
        })?;

    let timestamp: i64 = required_param(form, "timestamp", 19)?
        .parse()
        .map_err(|_| HrssError::invalid("timestamp", "须为毫秒时间戳"))?;
    let skew = state.max_clock_skew_s;
    if skew > 0 && state.gateway.now().0.abs_diff(timestamp) > skew.saturating_mul(1000) {
        return Err(HrssError::invalid(
            "timestamp",
            format!("与平台时间相差超过{skew}秒"),
        ));
    }
    if required_param(form, "version", 10)? != wire::VERSION {
        return Err(HrssError::UnknownService(Some(format!(
            "版本号须为{}",
            wire::VERSION
        ))));
    }
    if let Some(format) = public_param(form, "format", 10)?
        && !format.eq_ignore_ascii_case("json")
    {
        return Err(HrssError::invalid("format", "只支持json"));
    }

    let biz: Params = match serde_json::from_str(required_param(form, "biz_content", 65_536)?) {
        Ok(Value::Object(fields)) => fields,
        _ => return Err(HrssError::invalid("biz_content", "须为JSON对象")),
    };
    let text = |name: &'static str, max: usize| -> Result<String, HrssError> {
        let value = biz.get(name).and_then(crate::common::value_text);
        Ok(fields::required(&value, name, max)?.to_owned())
    };
    let appid = text("appid", 20)?;
    let aaz001 = text("aaz001", 20)?;
    if appid != merchant.credentials.app_id {
        return Err(HrssError::NoPermission(Some(
            "appid不属于该接入系统".into(),
        )));
    }
    let data = biz
        .get("data")
        .filter(|d| !d.is_null() && d.as_str() != Some(""))
        .ok_or_else(|| HrssError::Missing("data".into()))?;
    let params = codec::open(data, merchant.keys.data_key())
        .map_err(|e| HrssError::invalid("data", e.to_string()))?;
    plain_fields(&params)?;
    not_replayed(state, merchant, form).await?;
    let caller = Caller {
        merchant,
        appid,
        aaz001,
    };
    Ok((caller, params, service))
}

/// How long a request is remembered when the timestamp check is off.
const REPLAY_WINDOW_WITHOUT_SKEW_S: u64 = 24 * 3600;

/// Refuses a request seen before: the same merchant's `request_id` (§3.5.1.4 "请求唯一编码"),
/// or without one the same signed content, within the time its timestamp is accepted. Only
/// a request that passed every other check is remembered, so a refused one may be fixed
/// and sent again. -102 naming request_id: the signature is right (-105 would send the
/// merchant checking its keys), the parameter is not the unique one the spec asks for.
async fn not_replayed(
    state: &HrssState,
    merchant: HrssMerchant<'_>,
    form: &Form,
) -> Result<(), HrssError> {
    // The nonces are the merchant's across its dialects: `hrss:` keeps hrss's apart.
    let (nonce, why) = match public_param(form, "request_id", 30)? {
        Some(request_id) => (
            format!("hrss:request_id:{request_id}"),
            "请求流水号已使用过,重放的请求被拒绝",
        ),
        None => {
            let digest = Sha256::digest(codec::string_to_sign(form).as_bytes());
            (
                format!("hrss:signed:{}", hex::encode(digest)),
                "同一请求已提交过,重放的请求被拒绝(每个请求应有唯一的request_id)",
            )
        }
    };
    // A timestamp is accepted while within the skew either way: its request must be
    // remembered that long from now.
    let skew = state.max_clock_skew_s;
    let window = if skew > 0 {
        skew.saturating_mul(2)
    } else {
        REPLAY_WINDOW_WITHOUT_SKEW_S
    };
    if state
        .gateway
        .remember_nonce(merchant.id, &nonce, window)
        .await?
    {
        Ok(())
    } else {
        Err(HrssError::invalid("request_id", why))
    }
}

/// Business fields are strings or numbers, except the three the spec calls JSON, which a
/// merchant may send as the object itself. Anything else would be stored as text the
/// merchant did not mean.
fn plain_fields(params: &Params) -> Result<(), HrssError> {
    const JSON_FIELDS: [&str; 3] = ["orderDetail", "bizParams", "extraParams"];
    for (name, value) in params {
        let plain = match value {
            Value::Null | Value::String(_) | Value::Number(_) => true,
            Value::Object(_) | Value::Array(_) => JSON_FIELDS.contains(&name.as_str()),
            Value::Bool(_) => false,
        };
        if !plain {
            return Err(HrssError::invalid(name.clone(), "须为字符串或数值"));
        }
    }
    Ok(())
}

/// A response serial (`aaz002`, 20 digits): the time in milliseconds and a counter.
fn serial(state: &HrssState) -> String {
    let n = state.serial.fetch_add(1, Ordering::Relaxed) % 10_000_000;
    format!(
        "{:013}{n:07}",
        state.gateway.now().0.rem_euclid(10_000_000_000_000)
    )
}

fn answer(state: &HrssState, caller: &Caller<'_>, result: Result<Value, HrssError>) -> Response {
    let key = caller.merchant.keys.data_key();
    let seal = |data: Value| match data {
        Value::Object(fields) => codec::seal(&fields, key),
        other => other,
    };
    let biz = |code: &str, message: String, data: Option<Value>| BizData {
        code: code.into(),
        message,
        appid: caller.appid.clone(),
        aaz001: caller.aaz001.clone(),
        aaz002: serial(state),
        data: data.map(seal),
    };
    let reply = match result {
        Ok(data) => Reply {
            code: "1".into(),
            msg: wire::SUCCESS_MSG.into(),
            sub_code: String::new(),
            sub_msg: String::new(),
            biz_data: Some(biz("1", String::new(), Some(data))),
        },
        Err(HrssError::Business(failure)) => Reply {
            code: "1".into(),
            msg: wire::SUCCESS_MSG.into(),
            sub_code: String::new(),
            sub_msg: String::new(),
            biz_data: Some(biz("0", failure.message, failure.data)),
        },
        Err(other) => other.reply(),
    };
    json_reply(&reply)
}

fn to_value<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(data).unwrap_or(Value::Null)
}

async fn create_order(
    state: &HrssState,
    caller: &Caller<'_>,
    service: Service,
    params: &Params,
) -> Result<Value, HrssError> {
    let request: OrderRequest = wire::from_params(params);
    let new = convert::new_order(
        service,
        &request,
        caller.merchant.id.clone(),
        state.gateway.settings().allow_private_callbacks,
    )?;
    let no = new.merchant_order_no.to_string();
    let created = state.gateway.create_order(new).await.map_err(|e| match e {
        paymux_core::Error::DuplicateOrderNo => {
            HrssError::business(format!("商户订单号{no}已存在"))
        }
        other => other.into(),
    })?;
    let order = &created.order;
    if !(order.status.is_open() || order.status.is_paid()) {
        return Err(HrssError::business(format!(
            "支付渠道下单失败:{}",
            order.fail_msg.as_deref().unwrap_or("渠道拒绝")
        )));
    }
    let url = convert::payer_url(&created.action)
        .ok_or_else(|| HrssError::Internal("the channel gave no link for the payer".into()))?;
    let mut reply = OrderReply {
        mch_order_id: no,
        pay_order_id: convert::wire_id(&order.id),
        pay_url: None,
        qr_image: None,
    };
    match service {
        Service::DynamicCode => {
            reply.qr_image = Some(
                crate::common::qr::data_url(url, 4)
                    .map_err(|e| HrssError::Internal(e.to_string()))?,
            )
        }
        _ => reply.pay_url = Some(convert::pay_url(order, url)),
    }
    Ok(to_value(&reply))
}

/// The merchant's order by its mchOrderId, which must be the order payOrderId names.
async fn find_order(
    state: &HrssState,
    caller: &Caller<'_>,
    mch_order_id: &Option<String>,
    pay_order_id: &Option<String>,
) -> Result<Order, HrssError> {
    let no = convert::mch_order_id(mch_order_id)?;
    let pay_order_id = fields::required(pay_order_id, "payOrderId", 32)?;
    let order = state
        .gateway
        .find_order(caller.merchant.id, OrderKey::Merchant(&no))
        .await?;
    if !convert::names(&order.id, pay_order_id) {
        return Err(HrssError::business("支付平台订单号与商户订单号不匹配"));
    }
    Ok(order)
}

async fn query_order(
    state: &HrssState,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<Value, HrssError> {
    let request: QueryRequest = wire::from_params(params);
    let order = find_order(state, caller, &request.mch_order_id, &request.pay_order_id).await?;
    let automatic = if order.is_late_paid() {
        state
            .gateway
            .automatic_refund_of(caller.merchant.id, &order.id)
            .await?
    } else {
        None
    };
    let wallet = wallet_of(state, caller, &order).await?;
    Ok(to_value(&convert::order_data(
        &order,
        wallet,
        automatic.as_ref(),
    )))
}

/// The wallet an order is paid with: its own, or a bill's try's (the one that paid it,
/// else the latest; `None` before the payer tried).
async fn wallet_of(
    state: &HrssState,
    caller: &Caller<'_>,
    order: &Order,
) -> Result<Option<Wallet>, HrssError> {
    if order.tries == Tries::Once {
        return Ok(Some(order.pay_way.wallet));
    }
    let tries = state
        .gateway
        .attempts_of_order(caller.merchant.id, &order.id)
        .await?;
    let paid = tries.iter().find(|a| a.status == AttemptStatus::Succeeded);
    Ok(paid.or(tries.last()).map(|a| a.pay_way.wallet))
}

/// paymux's own service: the page and QR image of a static code the merchant was given.
async fn static_code(
    state: &HrssState,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<Value, HrssError> {
    let request: StaticCodeRequest = wire::from_params(params);
    let code_ref = fields::required(&request.code_ref, "codeRef", 32)?;
    let code = match state
        .gateway
        .find_code(caller.merchant.id, CodeKey::Ref(code_ref))
        .await
    {
        Ok(code) if code.dialect == super::TAG => code,
        Ok(_) | Err(paymux_core::Error::CodeNotFound) => {
            return Err(HrssError::business("静态码不存在"));
        }
        Err(e) => return Err(e.into()),
    };
    let url = format!(
        "{}{}",
        state.public_url,
        state.links.code_path(code.id.as_str())
    );
    let reply = StaticCodeReply {
        code_ref: code.code_ref.clone(),
        static_mode: static_codes::mode_of(&code).as_str().to_owned(),
        subject: code.subject.clone(),
        status: code.status.as_str().to_owned(),
        qr_image: crate::common::qr::data_url(&url, 4)
            .map_err(|e| HrssError::Internal(e.to_string()))?,
        code_url: url,
    };
    Ok(to_value(&reply))
}

async fn close_order(
    state: &HrssState,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<Value, HrssError> {
    let request: CloseRequest = wire::from_params(params);
    let order = find_order(state, caller, &request.mch_order_id, &request.pay_order_id).await?;
    let reason = fields::optional(&request.close_desc, "closeDesc", 256)?
        .unwrap_or_else(|| "closed by the merchant".to_owned());
    match state
        .gateway
        .close_order(caller.merchant.id, OrderKey::Platform(&order.id), &reason)
        .await
    {
        Ok(order) => Ok(to_value(&convert::close_data(&order))),
        Err(paymux_core::Error::OrderAlreadyPaid) => {
            let order = state
                .gateway
                .find_order(caller.merchant.id, OrderKey::Platform(&order.id))
                .await?;
            Err(HrssError::business_with(
                "订单已支付,不能关闭",
                to_value(&convert::close_data(&order)),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn refund(
    state: &HrssState,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<Value, HrssError> {
    let request: RefundRequest = wire::from_params(params);
    let terms = convert::refund_terms(&request)?;
    let refund_no = terms.refund_no().clone();
    let order = find_order(state, caller, &request.mch_order_id, &request.pay_order_id).await?;
    let new = terms.of_order(caller.merchant.id.clone(), order.id.clone());
    match state.gateway.request_refund(new).await {
        Ok(refund) => Ok(to_value(&convert::refund_data(&refund, &order))),
        Err(
            e @ (paymux_core::Error::DuplicateRefundNo | paymux_core::Error::RequestNoConflict),
        ) => {
            // The refund that already has this mchRefundId: shown with its real status, so
            // that the merchant does not take the refusal for a failed refund and pay
            // the money back a second way.
            let existing = state
                .gateway
                .find_refund(caller.merchant.id, RefundKey::RefundNo(&refund_no))
                .await;
            let Ok(existing) = existing else {
                return Err(e.into());
            };
            let its_order = state
                .gateway
                .find_order(caller.merchant.id, OrderKey::Platform(&existing.order_id))
                .await?;
            Err(HrssError::business_with(
                "商户退款订单号已存在,与本次退款的参数不同",
                to_value(&convert::refund_data(&existing, &its_order)),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn query_refund(
    state: &HrssState,
    caller: &Caller<'_>,
    params: &Params,
) -> Result<Value, HrssError> {
    let request: RefundQueryRequest = wire::from_params(params);
    let no = convert::mch_order_id(&request.mch_order_id)?;
    let refund_order_id = fields::required(&request.refund_order_id, "refundOrderId", 32)?;
    let order = state
        .gateway
        .find_order(caller.merchant.id, OrderKey::Merchant(&no))
        .await?;
    let refund = state
        .gateway
        .refunds_of_order(caller.merchant.id, &order.id)
        .await?
        .into_iter()
        .find(|r| convert::names(&r.id, refund_order_id))
        .ok_or_else(|| HrssError::business("退款不存在"))?;
    Ok(to_value(&convert::refund_data(&refund, &order)))
}
