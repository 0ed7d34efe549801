//! upp's routes: decode → authenticate → convert → one core command → encode.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::Uri;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use paymux_core::Gateway;
use paymux_core::gateway::{CreatedOrder, NewOrder};
use paymux_core::ids::RefundRequestNo;
use paymux_core::store::{OrderKey, RefundKey};
use paymux_core::time::Millis;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::codec;
use super::convert::{self, required};
use super::error::UppError;
use super::wire::{
    self, BarcodeRequest, Envelope, Params, PaymentRef, RefundQueryRequest, RefundRequest, Reply,
    ReplyData, ScanCodeRequest, VERSION,
};
use super::{UppMerchant, UppMerchants};
use crate::common::{catch_panics, fields, percent_decode, tag};

#[derive(Clone)]
pub struct UppState {
    pub gateway: Gateway,
    pub merchants: Arc<UppMerchants>,
    /// `[server] max_clock_skew_s`; 0 turns the timestamp check off.
    pub max_clock_skew_s: u64,
}

pub fn router(state: UppState) -> Router {
    let gateway = state.gateway.clone();
    let routes = Router::new()
        // One catch-all route: any path under /access gets upp's own reply, an interface
        // name it does not know included (`/access/`, `/access/a/b`, invalid UTF-8).
        .route("/access", post(access))
        .route("/access/", post(access))
        .route("/access/{*interface}", post(access))
        .method_not_allowed_fallback(not_post)
        .with_state(state);
    catch_panics(routes, move || {
        let error = UppError::Internal("a handler panicked".into());
        reply(Err(error.into()), None, gateway.now())
    })
}

/// §4.1–§4.7, by the last part of their path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interface {
    Network,
    ScanCode,
    Barcode,
    Query,
    Refund,
    RefundQuery,
    Close,
}

impl Interface {
    /// The interface a request to `/access/{name}` asks for, or the name it did not know.
    fn from_uri(uri: &Uri) -> Result<Interface, String> {
        let name = uri.path().strip_prefix("/access").unwrap_or_default();
        let name = percent_decode(name.strip_prefix('/').unwrap_or(name), false);
        Interface::from_path(&name).ok_or(name)
    }

    fn from_path(name: &str) -> Option<Interface> {
        Some(match name {
            "network" => Interface::Network,
            "scancode" => Interface::ScanCode,
            "barcode" => Interface::Barcode,
            "query" => Interface::Query,
            "refund" => Interface::Refund,
            "refundQuery" => Interface::RefundQuery,
            "close" => Interface::Close,
            _ => return None,
        })
    }
}

/// A refusal, with the `data` merchants read to know what did not happen.
struct Refusal {
    error: UppError,
    data: Option<ReplyData>,
}

impl From<UppError> for Refusal {
    fn from(error: UppError) -> Refusal {
        Refusal { error, data: None }
    }
}

impl From<paymux_core::Error> for Refusal {
    fn from(error: paymux_core::Error) -> Refusal {
        UppError::from(error).into()
    }
}

/// §3: every interface is a POST; anything else gets upp's own refusal, not a bare 405.
async fn not_post(State(s): State<UppState>) -> Response {
    reply(Err(UppError::Malformed.into()), None, s.gateway.now())
}

async fn access(
    State(state): State<UppState>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let now = state.gateway.now();
    let interface = match Interface::from_uri(&uri) {
        Ok(interface) => interface,
        Err(name) => return reply(Err(UppError::UnknownInterface(name).into()), None, now),
    };
    match body {
        Ok(body) => serve(&state, &body, interface).await,
        // Too large or cut off: the extractor's own rejection would be plain text.
        Err(_) => reply(Err(UppError::Malformed.into()), None, now),
    }
}

async fn serve(state: &UppState, body: &[u8], interface: Interface) -> Response {
    let now = state.gateway.now();
    let params = codec::decode(body);
    let (params, merchant) = match authenticate(state, params, now) {
        Ok(found) => found,
        Err((error, merchant)) => {
            let refusal = refusal_data(interface, None, Refusal::from(error));
            return reply(Err(refusal), merchant, now);
        }
    };
    let result = match interface {
        Interface::Network => Ok(Some(ReplyData {
            field: Some(convert::COMPANY.to_owned()),
            ..ReplyData::default()
        })),
        Interface::ScanCode => scan_code(state, &params, merchant, now).await,
        Interface::Barcode => bar_code(state, &params, merchant, now).await,
        Interface::Query => query_payment(state, &params, merchant).await,
        Interface::Refund => request_refund(state, &params, merchant).await,
        Interface::RefundQuery => query_refund(state, &params, merchant).await,
        Interface::Close => close_payment(state, &params, merchant).await,
    };
    let result = result.map_err(|r| refusal_data(interface, Some(&params), r));
    reply(result, Some(merchant), now)
}

/// Finds the merchant and checks the signature, version and timestamp. On failure, says
/// which merchant it was when known, so the refusal can be signed for it.
fn authenticate(
    state: &UppState,
    params: Option<Params>,
    now: Millis,
) -> Result<(Params, &UppMerchant), (UppError, Option<&UppMerchant>)> {
    let params = params.ok_or((UppError::Malformed, None))?;
    let envelope: Envelope = wire::from_params(&params);
    let isv_id = required(&envelope.isv_id, "isvId", 32).map_err(|e| (e, None))?;
    let partner_id = required(&envelope.partner_id, "partnerId", 32).map_err(|e| (e, None))?;
    let merchant = state
        .merchants
        .by_wire_id(&super::wire_id(isv_id, partner_id))
        .ok_or((UppError::UnknownMerchant, None))?;
    let fail = |e| (e, Some(merchant));
    required(&envelope.sign, "sign", 32).map_err(fail)?;
    if !codec::verify(&params, merchant.credentials.key.expose_secret()) {
        return Err(fail(UppError::BadSignature));
    }
    // Every field is read as text; an object, array or boolean would be stored as text the
    // signature did not cover (an empty object is left out of it).
    fields::plain_values(&params, &[]).map_err(|field| fail(UppError::NotText(field)))?;
    if envelope.version.as_deref() != Some(VERSION) {
        return Err(fail(UppError::BadVersion));
    }
    let timestamp: i64 = required(&envelope.timestamp, "timestamp", 20)
        .map_err(fail)?
        .parse()
        .map_err(|_| fail(UppError::invalid("timestamp", "须为毫秒时间戳")))?;
    if state.max_clock_skew_s > 0
        && now.0.abs_diff(timestamp) > state.max_clock_skew_s.saturating_mul(1000)
    {
        return Err(fail(UppError::Stale(state.max_clock_skew_s)));
    }
    Ok((params, merchant))
}

/// Merchants treat every refund reply but `refund_failed` as success, and every close reply
/// but `isCloseOrder=N` as closed: so every refusal of those says so explicitly, unless the
/// handler already said what stands (an earlier refund's status; `refund_exception` when
/// paymux cannot tell whether the refund was recorded).
fn refusal_data(interface: Interface, params: Option<&Params>, mut refusal: Refusal) -> Refusal {
    if refusal.data.is_some() {
        return refusal;
    }
    let echo = |name: &str| params.and_then(|p| p.get(name)).and_then(wire::value_text);
    refusal.data = match interface {
        Interface::Refund | Interface::RefundQuery => Some(ReplyData {
            trade_status: Some(
                if matches!(refusal.error, UppError::Internal(_) | UppError::Busy) {
                    "refund_exception"
                } else {
                    "refund_failed"
                }
                .into(),
            ),
            failed_reason: Some(refusal.error.to_string()),
            request_no: echo("requestNo"),
            refund_no: echo("refundNo"),
            payment_no: echo("paymentNo"),
            refund_fee: echo("refundFee")
                .and_then(|t| paymux_core::Fen::from_yuan_str(&t).ok())
                .map(|f| f.to_yuan_string()),
            ..ReplyData::default()
        }),
        Interface::Close => Some(ReplyData {
            is_close_order: Some("N".into()),
            payment_no: echo("paymentNo"),
            ..ReplyData::default()
        }),
        _ => None,
    };
    refusal
}

/// The reason of a failed payment, moved from the reply's data to its `msg`.
fn payment_failure(data: Option<&mut ReplyData>) -> String {
    match data {
        Some(d) if d.trade_status.as_deref() == Some("pay_failed") => {
            d.failed_reason.take().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The refusal of a request the gateway is too busy to serve (its request limits): unsigned,
/// as the caller was not authenticated, with the `data` a refusal of that interface has. A
/// refund's says `refund_exception` (query again): one cut off by the timeout may have been
/// recorded.
pub fn busy_reply(uri: &Uri, now: Millis) -> Response {
    let refusal = match Interface::from_uri(uri) {
        Ok(interface) => refusal_data(interface, None, UppError::Busy.into()),
        Err(_) => UppError::Busy.into(),
    };
    reply(Err(refusal), None, now)
}

fn reply(
    result: Result<Option<ReplyData>, Refusal>,
    merchant: Option<&UppMerchant>,
    now: Millis,
) -> Response {
    let ok = result.is_ok();
    let reply = match result {
        Ok(mut data) => Reply {
            result: true,
            kind: Some("0".into()),
            // §4.3: msg carries the reason of a failure; a payment that failed (a payer
            // code without the balance) says why here, where merchants read it.
            msg: Some(payment_failure(data.as_mut())),
            version: Some(VERSION.into()),
            timestamp: Some(now.0),
            data,
            sign: None,
        },
        Err(Refusal { error, data }) => {
            if let UppError::Internal(cause) = &error {
                tracing::error!(%cause, "upp request failed");
            }
            Reply {
                result: false,
                kind: Some(error.kind().into()),
                msg: Some(error.to_string()),
                version: Some(VERSION.into()),
                timestamp: Some(now.0),
                data,
                sign: None,
            }
        }
    };
    let mut params = wire::to_params(&reply);
    params.remove("sign");
    // Unknown callers get an unsigned refusal: there is no key to sign it with.
    let sign = merchant
        .map(|m| codec::sign_reply(&params, m.credentials.key.expose_secret()))
        .unwrap_or_default();
    params.insert("sign".into(), Value::String(sign));
    let response = (
        [(CONTENT_TYPE, "application/json;charset=UTF-8")],
        codec::encode(&params),
    )
        .into_response();
    tag(response, "upp", ok)
}

async fn scan_code(
    state: &UppState,
    params: &Params,
    merchant: &UppMerchant,
    now: Millis,
) -> Result<Option<ReplyData>, Refusal> {
    let request: ScanCodeRequest = wire::from_params(params);
    let created = create(
        state,
        convert::scan_order(&request, merchant.merchant_id.clone(), now)?,
    )
    .await?;
    Ok(Some(convert::scan_data(&created.order, &created.action)))
}

async fn bar_code(
    state: &UppState,
    params: &Params,
    merchant: &UppMerchant,
    now: Millis,
) -> Result<Option<ReplyData>, Refusal> {
    let request: BarcodeRequest = wire::from_params(params);
    let created = create(
        state,
        convert::barcode_order(&request, merchant.merchant_id.clone(), now)?,
    )
    .await?;
    Ok(Some(convert::payment_data(&created.order, None)))
}

async fn create(state: &UppState, new: NewOrder) -> Result<CreatedOrder, UppError> {
    let payment_no = new.merchant_order_no.to_string();
    state.gateway.create_order(new).await.map_err(|e| match e {
        paymux_core::Error::DuplicateOrderNo => UppError::DuplicatePaymentNo(payment_no),
        other => other.into(),
    })
}

async fn find_payment(
    state: &UppState,
    request: &PaymentRef,
    merchant: &UppMerchant,
) -> Result<paymux_core::order::Order, UppError> {
    required(&request.biz_type, "bizType", 32)?;
    let no = convert::payment_no(&request.payment_no)?;
    Ok(state
        .gateway
        .find_order(&merchant.merchant_id, OrderKey::Merchant(&no))
        .await?)
}

async fn query_payment(
    state: &UppState,
    params: &Params,
    merchant: &UppMerchant,
) -> Result<Option<ReplyData>, Refusal> {
    let request: PaymentRef = wire::from_params(params);
    let order = find_payment(state, &request, merchant).await?;
    let late_refund = if order.is_late_paid() {
        state
            .gateway
            .automatic_refund_of(&merchant.merchant_id, &order.id)
            .await?
    } else {
        None
    };
    Ok(Some(convert::payment_data(&order, late_refund.as_ref())))
}

async fn close_payment(
    state: &UppState,
    params: &Params,
    merchant: &UppMerchant,
) -> Result<Option<ReplyData>, Refusal> {
    let request: PaymentRef = wire::from_params(params);
    let order = find_payment(state, &request, merchant).await?;
    match state
        .gateway
        .close_order(
            &merchant.merchant_id,
            OrderKey::Platform(&order.id),
            "closed by the merchant",
        )
        .await
    {
        Ok(order) => Ok(Some(convert::close_data(&order))),
        Err(e) => Err(Refusal {
            error: e.into(),
            data: Some(convert::close_data(&order)),
        }),
    }
}

async fn request_refund(
    state: &UppState,
    params: &Params,
    merchant: &UppMerchant,
) -> Result<Option<ReplyData>, Refusal> {
    let request: RefundRequest = wire::from_params(params);
    required(&request.biz_type, "bizType", 32)?;
    let no = convert::payment_no(&request.payment_no)?;
    let order = state
        .gateway
        .find_order(&merchant.merchant_id, OrderKey::Merchant(&no))
        .await?;
    let new = convert::new_refund(&request, merchant.merchant_id.clone(), order.id.clone())?;
    let request_no = new.request_no.clone();
    let refund_no = new.refund_no.clone();
    let refund = match state.gateway.request_refund(new).await {
        Ok(refund) => refund,
        Err(e) => {
            // The refund that already has this refundNo (the HIS's own number for it): show
            // it, so the merchant does not take this refusal for a failed refund and pay
            // out twice. A requestNo reused for another refund is refused as failed: this
            // request moved nothing, and refundQuery shows the original.
            let existing = match &e {
                paymux_core::Error::DuplicateRefundNo => Some(RefundKey::RefundNo(&refund_no)),
                _ => None,
            };
            let data = match existing {
                Some(key) => match state.gateway.find_refund(&merchant.merchant_id, key).await {
                    Ok(earlier) => refund_of(state, merchant, &earlier, None).await.ok(),
                    Err(_) => None,
                },
                None => None,
            };
            return Err(Refusal {
                error: e.into(),
                data,
            });
        }
    };
    let request_no = request_no.map(|n| n.to_string()).unwrap_or_default();
    Ok(Some(
        refund_of(state, merchant, &refund, Some(&request_no)).await?,
    ))
}

/// A refund's data, with its order's payment fields.
async fn refund_of(
    state: &UppState,
    merchant: &UppMerchant,
    refund: &paymux_core::refund::Refund,
    request_no: Option<&str>,
) -> Result<ReplyData, UppError> {
    let order = state
        .gateway
        .find_order(&merchant.merchant_id, OrderKey::Platform(&refund.order_id))
        .await?;
    let request_no = request_no
        .map(str::to_owned)
        .or_else(|| refund.request_no.as_ref().map(|n| n.to_string()))
        .unwrap_or_default();
    Ok(convert::refund_data(refund, &order, &request_no))
}

async fn query_refund(
    state: &UppState,
    params: &Params,
    merchant: &UppMerchant,
) -> Result<Option<ReplyData>, Refusal> {
    let request: RefundQueryRequest = wire::from_params(params);
    let text = required(&request.request_no, "requestNo", 32)?;
    let request_no = RefundRequestNo::parse(text, 32)
        .map_err(|e| UppError::invalid("requestNo", e.to_string()))?;
    let refund = state
        .gateway
        .find_refund(&merchant.merchant_id, RefundKey::RequestNo(&request_no))
        .await?;
    Ok(Some(refund_of(state, merchant, &refund, Some(text)).await?))
}
