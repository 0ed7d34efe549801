//! `GET /sandbox/sms?phone=…`: the last code the sandbox sent to a phone for a card payment
//! (快捷), as the payer would read it on the phone. Sandbox only, like every /sandbox route.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{CashierState, form_field, json_error};

pub(super) async fn latest_code(
    State(state): State<CashierState>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(phone) = query.and_then(|q| form_field(&q, "phone")) else {
        return json_error(StatusCode::BAD_REQUEST, "phone is required");
    };
    match state.sandbox.sms_sent_to(&phone) {
        Some(sms) => Json(json!({
            "phone": sms.phone,
            "code": sms.code,
            "orderId": sms.order_id,
            "count": sms.count,
        }))
        .into_response(),
        None => json_error(StatusCode::NOT_FOUND, "no code was sent to this phone"),
    }
}
