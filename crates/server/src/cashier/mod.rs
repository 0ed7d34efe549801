//! The sandbox's payer side: the cashier page every QR code and pay URL opens, the scripted
//! payer (`POST /sandbox/orders/{id}/pay`), and QR images. Mounted only with the sandbox.

mod page;
pub mod qr;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use paymux_channels::sandbox::{PayerChoice, SandboxChannel};
use paymux_core::Gateway;
use paymux_core::ids::PlatformId;
use paymux_core::order::{AttemptStatus, Order, OrderStatus};
use paymux_dialects::common::decode_form;
use serde::Deserialize;
use serde_json::json;

#[derive(Clone)]
pub struct CashierState {
    pub gateway: Gateway,
    pub sandbox: Arc<SandboxChannel>,
}

pub fn router(state: CashierState) -> Router {
    Router::new()
        .route("/cashier/{order_id}", get(show).post(show))
        .route("/cashier/{order_id}/qr.png", get(cashier_qr))
        .route("/cashier/{order_id}/pay", post(pay_from_page))
        .route("/sandbox/orders/{order_id}/pay", post(pay_from_script))
        .route("/api/qrcode/create_qrcode", get(qr_of_params))
        .with_state(state)
}

/// Whether a payer action may reach an order that is no longer open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Late {
    Allowed,
    Refused,
}

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("order not found")]
    NotFound,
    #[error("order is {0} and cannot be paid")]
    NotPayable(OrderStatus),
    #[error("{0}")]
    Core(#[from] paymux_core::Error),
}

/// The payer pays or cancels the order's current attempt, as the wallet would report it.
///
/// `late`: pay an order that closed or failed meanwhile, as a payment that crossed the close
/// at the channel would arrive (paymux must then refund it by itself). Only scripts may do
/// that, to test the path; the cashier page refuses orders that are no longer open.
pub async fn payer_acts(
    state: &CashierState,
    order_id: &PlatformId,
    choice: PayerChoice,
    late: Late,
) -> Result<Order, PayError> {
    let gateway = &state.gateway;
    let order = match gateway.order_by_id(order_id).await {
        Ok(order) => order,
        Err(paymux_core::Error::OrderNotFound) => return Err(PayError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let order = gateway.expire_if_due(order).await?;
    let late =
        late == Late::Allowed && matches!(order.status, OrderStatus::Closed | OrderStatus::Failed);
    if !(order.status.is_open() || (late && choice == PayerChoice::Pay)) {
        return Err(PayError::NotPayable(order.status));
    }
    let attempt = gateway
        .latest_attempt(&order.id)
        .await?
        .filter(|a| {
            a.status == AttemptStatus::Paying || (late && a.status != AttemptStatus::Succeeded)
        })
        .ok_or(PayError::NotPayable(order.status))?;
    let outcome = state
        .sandbox
        .payer_outcome(&order, &attempt, choice, gateway.now());
    Ok(gateway
        .apply_attempt_outcome(&order.id, attempt.seq, outcome)
        .await?)
}

/// The order id in the path. Extractors' own rejections are plain text; a path that is
/// not even UTF-8 names no order, and gets the same answer as an unknown one.
type OrderPath = Result<Path<String>, PathRejection>;

fn order_id(path: OrderPath) -> PlatformId {
    PlatformId::from_string(path.map(|Path(id)| id).unwrap_or_default())
}

/// The first value of a form field, read leniently (any content type, repeated fields).
fn form_field(form: &str, name: &str) -> Option<String> {
    decode_form(form, true)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn show(State(state): State<CashierState>, path: OrderPath) -> Response {
    let id = order_id(path);
    match state.gateway.order_by_id(&id).await {
        Ok(order) => {
            let merchant = state
                .gateway
                .merchant(&order.merchant_id)
                .map(|m| m.name.clone())
                .unwrap_or_else(|| order.merchant_id.to_string());
            let expired = order.status.is_open() && state.gateway.now() >= order.expires_at;
            html(StatusCode::OK, page::cashier(&order, &merchant, expired))
        }
        Err(paymux_core::Error::OrderNotFound) => html(
            StatusCode::NOT_FOUND,
            page::message("订单不存在", "Order not found"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cashier could not load the order");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                page::message("系统繁忙", "Try again"),
            )
        }
    }
}

fn choice(result: &str) -> Option<PayerChoice> {
    match result {
        "success" => Some(PayerChoice::Pay),
        "fail" => Some(PayerChoice::Cancel),
        _ => None,
    }
}

async fn pay_from_page(
    State(state): State<CashierState>,
    path: OrderPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = body
        .ok()
        .and_then(|b| form_field(&String::from_utf8_lossy(&b), "result"));
    let Some(choice) = result.as_deref().and_then(choice) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::message("无效操作", "result must be success or fail"),
        );
    };
    let id = order_id(path);
    match payer_acts(&state, &id, choice, Late::Refused).await {
        Ok(_) | Err(PayError::NotPayable(_)) => (
            StatusCode::SEE_OTHER,
            [(LOCATION, format!("/cashier/{id}"))],
        )
            .into_response(),
        Err(PayError::NotFound) => html(
            StatusCode::NOT_FOUND,
            page::message("订单不存在", "Order not found"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cashier payment failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                page::message("系统繁忙", "Try again"),
            )
        }
    }
}

#[derive(Deserialize)]
struct PayRequest {
    result: String,
}

async fn pay_from_script(
    State(state): State<CashierState>,
    path: OrderPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(choice) = body
        .ok()
        .and_then(|b| serde_json::from_slice::<PayRequest>(&b).ok())
        .and_then(|r| choice(&r.result))
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "body must be {\"result\":\"success\"} or {\"result\":\"fail\"}",
        );
    };
    let id = order_id(path);
    match payer_acts(&state, &id, choice, Late::Allowed).await {
        Ok(order) => {
            Json(json!({"orderId": order.id, "status": order.status.as_str()})).into_response()
        }
        Err(PayError::NotFound) => json_error(StatusCode::NOT_FOUND, "order not found"),
        Err(e @ PayError::NotPayable(_)) => json_error(StatusCode::CONFLICT, &e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "scripted payment failed");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

async fn cashier_qr(State(state): State<CashierState>, path: OrderPath) -> Response {
    png_response(&state.sandbox.cashier_url(order_id(path).as_str()))
}

/// `GET /api/qrcode/create_qrcode?params=CONTENT`: the QR image of xxpay's scan products.
async fn qr_of_params(RawQuery(query): RawQuery) -> Response {
    let content = query.and_then(|q| form_field(&q, "params"));
    match content.filter(|p| !p.is_empty()) {
        Some(content) => png_response(&content),
        None => json_error(StatusCode::BAD_REQUEST, "params is required"),
    }
}

fn png_response(content: &str) -> Response {
    match qr::png(content) {
        Ok(bytes) => (
            [
                (CONTENT_TYPE, "image/png"),
                (CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
