//! xxpay's routes: decode → authenticate → convert → one core command → encode.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use paymux_core::Gateway;
use paymux_core::ids::{MerchantOrderNo, PlatformId};
use paymux_core::store::OrderKey;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::codec::{self, REPLY_UNSIGNED};
use super::convert;
use super::error::XxpayError;
use super::wire::{self, CloseOrderRequest, CreateOrderRequest, Params, QueryOrderRequest};
use super::{XxpayMerchant, XxpayMerchants};
use crate::common::{catch_panics, fields, tag};

#[derive(Clone)]
pub struct XxpayState {
    pub gateway: Gateway,
    pub merchants: Arc<XxpayMerchants>,
    /// Where payers reach this gateway (cashier, QR images).
    pub public_url: Arc<str>,
}

pub fn router(state: XxpayState) -> Router {
    let routes = Router::new()
        .route(
            "/api/pay/create_order",
            get(create_order).post(create_order),
        )
        .route("/api/pay/query_order", get(query_order).post(query_order))
        .route("/api/pay/close_order", get(close_order).post(close_order))
        .route("/api/qrcode/create_qrcode", get(qr_image))
        // A mistyped path (a trailing slash, say), and §3's payouts until they are served,
        // get xxpay's own refusal, not a bare 404.
        .route("/api/{*rest}", any(unknown_path))
        .method_not_allowed_fallback(|| async { XxpayError::Malformed.into_response() })
        .with_state(state);
    catch_panics(routes, || {
        XxpayError::Internal("a handler panicked".into()).into_response()
    })
}

/// `GET /api/qrcode/create_qrcode?params=CONTENT`: the QR image of the scan products'
/// `payUrl` (the spec's own example URL; any content can be drawn, the first `params`
/// counts). A payer's browser or a merchant's page asks for it, unsigned: its refusal is a
/// plain JSON error, not xxpay's reply.
async fn qr_image(RawQuery(query): RawQuery) -> Response {
    let content = query.and_then(|q| {
        crate::common::decode_form(&q, true)
            .into_iter()
            .find(|(k, _)| k == "params")
            .map(|(_, v)| v)
    });
    let refused = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": why })),
        )
            .into_response()
    };
    match content.filter(|p| !p.is_empty()) {
        Some(content) => {
            crate::common::qr::image_response(&content).unwrap_or_else(|e| refused(&e.to_string()))
        }
        None => refused("params is required"),
    }
}

async fn unknown_path(uri: Uri) -> Response {
    XxpayError::UnknownPath(uri.path().to_owned()).into_response()
}

/// Reads the params and checks who sent them: the merchant, its app, its signature.
/// Tries each reading of the request (see `codec::decode_request`) until one verifies.
/// `mchId` and the signature identify the merchant; `appId` is checked when it is sent (the
/// official demos leave it out of queries and closes, xxpay-master out of everything).
fn authenticate<'s>(
    state: &'s XxpayState,
    query: Option<&str>,
    body: &[u8],
) -> Result<(Params, &'s XxpayMerchant), XxpayError> {
    let readings = codec::decode_request(query, body).map_err(|_| XxpayError::Malformed)?;
    let first = &readings[0];
    let field = |name: &'static str| first.get(name).and_then(wire::value_text);
    let mch_id = field("mchId").ok_or(XxpayError::MissingField("mchId"))?;
    let merchant = state
        .merchants
        .by_wire_id(&mch_id)
        .ok_or_else(|| XxpayError::UnknownMerchant(mch_id.clone()))?;
    if let Some(app_id) = field("appId")
        && app_id != merchant.credentials.app_id
    {
        return Err(XxpayError::UnknownApp(app_id));
    }
    if field("sign").is_none() {
        return Err(XxpayError::MissingField("sign"));
    }
    let key = merchant.credentials.key.expose_secret();
    let verified = readings
        .into_iter()
        .find(|params| codec::verify(params, key))
        .ok_or(XxpayError::BadSignature)?;
    // Every field is read as text: a JSON object, array or boolean where the spec has a
    // string would be stored as something the merchant did not mean.
    fields::plain_values(&verified, &["executeNotify"]).map_err(XxpayError::NotText)?;
    Ok((verified, merchant))
}

/// Signs a success reply and renders it as one line of JSON.
fn signed_reply(mut params: Params, key: &SecretString) -> Response {
    let sign = codec::sign_params(&params, REPLY_UNSIGNED, key.expose_secret());
    params.insert("sign".into(), Value::String(sign));
    let response = (
        [(CONTENT_TYPE, "application/json;charset=UTF-8")],
        codec::encode_reply(&params),
    )
        .into_response();
    tag(response, "xxpay", true)
}

/// The body as xxpay reads it. One that cannot be read (too large, cut off) gets xxpay's
/// refusal; the extractor's own rejection would be plain text.
type Body = Result<Bytes, BytesRejection>;

async fn create_order(
    State(state): State<XxpayState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    handle_create_order(&state, query.as_deref(), body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle_create_order(
    state: &XxpayState,
    query: Option<&str>,
    body: Body,
) -> Result<Response, XxpayError> {
    let body = body.map_err(|_| XxpayError::Malformed)?;
    let (params, merchant) = authenticate(state, query, &body)?;
    let request: CreateOrderRequest = wire::from_params(&params);
    let new_order = convert::new_order(
        &request,
        merchant.merchant_id.clone(),
        state.gateway.settings().allow_private_callbacks,
    )?;
    let order_no = new_order.merchant_order_no.to_string();
    let created = state
        .gateway
        .create_order(new_order)
        .await
        .map_err(|e| match e {
            paymux_core::Error::DuplicateOrderNo => XxpayError::DuplicateOrderNo(order_no),
            other => other.into(),
        })?;
    if created.order.status.is_paid() || created.order.status.is_open() {
        let credentials = &merchant.credentials;
        let reply = convert::create_reply(
            &created.order,
            &created.action,
            &state.public_url,
            &convert::Replier {
                mch_id: &credentials.mch_id,
                app_id: &credentials.app_id,
                key: credentials.key.expose_secret(),
            },
        );
        return Ok(signed_reply(wire::to_params(&reply), &credentials.key));
    }
    Err(XxpayError::ChannelRefused(
        created
            .order
            .fail_msg
            .unwrap_or_else(|| "渠道拒绝".to_owned()),
    ))
}

async fn query_order(
    State(state): State<XxpayState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    handle_query_order(&state, query.as_deref(), body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle_query_order(
    state: &XxpayState,
    query: Option<&str>,
    body: Body,
) -> Result<Response, XxpayError> {
    let body = body.map_err(|_| XxpayError::Malformed)?;
    let (params, merchant) = authenticate(state, query, &body)?;
    let request: QueryOrderRequest = wire::from_params(&params);
    let merchant_id = &merchant.merchant_id;
    let order = find_order(
        state,
        merchant,
        &request.pay_order_id,
        &request.mch_order_no,
    )
    .await?;
    let execute_notify = request
        .execute_notify
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if execute_notify {
        state
            .gateway
            .resend_pay_notification(merchant_id, &order.id)
            .await?;
    }
    let credentials = &merchant.credentials;
    let mut params = wire::to_params(&convert::query_reply(
        &order,
        &credentials.mch_id,
        &credentials.app_id,
    ));
    params.insert("mchId".into(), convert::mch_id_value(&credentials.mch_id));
    Ok(signed_reply(params, &credentials.key))
}

/// The merchant's order by `payOrderId`, or else by `mchOrderNo`.
async fn find_order(
    state: &XxpayState,
    merchant: &XxpayMerchant,
    pay_order_id: &Option<String>,
    mch_order_no: &Option<String>,
) -> Result<paymux_core::order::Order, XxpayError> {
    let merchant_id = &merchant.merchant_id;
    match (pay_order_id, mch_order_no) {
        (Some(id), _) => {
            let id = PlatformId::from_string(id.clone());
            Ok(state
                .gateway
                .find_order(merchant_id, OrderKey::Platform(&id))
                .await?)
        }
        (None, Some(no)) => {
            let no = MerchantOrderNo::parse(no, 64).map_err(|_| XxpayError::OrderNotFound)?;
            Ok(state
                .gateway
                .find_order(merchant_id, OrderKey::Merchant(&no))
                .await?)
        }
        (None, None) => Err(XxpayError::MissingField("payOrderId或mchOrderNo")),
    }
}

async fn close_order(
    State(state): State<XxpayState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    handle_close_order(&state, query.as_deref(), body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// xxpay4pro's 关闭订单: closes an unpaid order by the core's rules (a paid order is not
/// closed; a payment that arrives after the close is refunded by the core).
async fn handle_close_order(
    state: &XxpayState,
    query: Option<&str>,
    body: Body,
) -> Result<Response, XxpayError> {
    let body = body.map_err(|_| XxpayError::Malformed)?;
    let (params, merchant) = authenticate(state, query, &body)?;
    let request: CloseOrderRequest = wire::from_params(&params);
    let order = find_order(
        state,
        merchant,
        &request.pay_order_id,
        &request.mch_order_no,
    )
    .await?;
    let closed = state
        .gateway
        .close_order(
            &merchant.merchant_id,
            OrderKey::Platform(&order.id),
            "closed by the merchant",
        )
        .await?;
    let credentials = &merchant.credentials;
    let mut params = wire::to_params(&convert::close_reply(
        &closed,
        &credentials.mch_id,
        &credentials.app_id,
    ));
    params.insert("mchId".into(), convert::mch_id_value(&credentials.mch_id));
    Ok(signed_reply(params, &credentials.key))
}
