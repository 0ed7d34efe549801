//! The sandbox's payer side: the cashier page every QR code and pay URL opens, the
//! scripted payer (`POST /sandbox/orders/{id}/pay`), and the payer's phone
//! (`GET /sandbox/sms?phone=…`: codes of card payments). Mounted only with the sandbox.
//!
//! The cashier is reached only through the link create_order returned,
//! `/cashier/{order_id}/{token}`: a bare or wrong link is a 404, so nobody can look at,
//! pay or cancel another merchant's order by guessing its id. Its pages send a
//! Content-Security-Policy that allows no script at all, and `Referrer-Policy: no-referrer`
//! so that the link's token does not travel to the merchant's site with the payer.

pub mod codes;
pub mod lookups;
pub(crate) mod page;
mod sealed;
mod sms;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use paymux_channels::sandbox::{PayerChoice, SandboxChannel};
use paymux_core::Operator;
use paymux_core::dialect::DialectTag;
use paymux_core::ids::PlatformId;
use paymux_core::links::PayerLinks;
use paymux_core::order::{AttemptStatus, Order, OrderStatus};
use paymux_core::payway::{Funding, Wallet};
use paymux_dialects::PayerHooks;
use paymux_dialects::common::decode_form;
use serde::Deserialize;
use serde_json::json;

#[derive(Clone)]
pub struct CashierState {
    pub operator: Operator,
    pub sandbox: Arc<SandboxChannel>,
    pub payer: PayerSide,
}

/// What every payer page needs besides the core: the links' key, and each dialect's
/// additions (its return links, its questions for a code).
#[derive(Clone)]
pub struct PayerSide {
    pub links: PayerLinks,
    pub hooks: Arc<HashMap<DialectTag, Arc<dyn PayerHooks>>>,
}

impl PayerSide {
    /// What the payer may pay a try with this wallet from: the wallet's sources, each with
    /// whether the order's dialect accepts it for the order (chinaums `limitCreditCard`).
    pub fn funding_of(&self, order: &Order, wallet: Wallet) -> Vec<(Funding, bool)> {
        let hooks = self.hooks.get(&order.dialect);
        Funding::offered_by(wallet)
            .iter()
            .map(|&f| (f, hooks.is_none_or(|h| h.accepts_funding(order, f))))
            .collect()
    }

    /// Where the payer goes back to the merchant after paying: the dialect's link (chinaums
    /// signs the result onto it, with the try that paid), or the order's return URL.
    pub async fn back_link(&self, operator: &Operator, order: &Order) -> Option<String> {
        if !order.status.is_paid() {
            return None;
        }
        let paid = match operator.attempts_of_order(&order.id).await {
            Ok(tries) => tries
                .into_iter()
                .find(|a| a.status == AttemptStatus::Succeeded),
            Err(e) => {
                tracing::warn!(error = %e, "could not load the tries of a paid order");
                None
            }
        };
        self.hooks
            .get(&order.dialect)
            .and_then(|h| h.return_link(order, paid.as_ref()))
            .or_else(|| order.return_url.as_ref().map(|u| u.as_str().to_owned()))
    }
}

/// No script, nothing inline, nothing from elsewhere; forms post only back here.
const PAGE_POLICY: &str = "default-src 'none'; img-src 'self'; style-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(state: CashierState) -> Router {
    let cashier = Router::new()
        .route("/{order_id}/{token}", get(show).post(show))
        .route("/{order_id}/{token}/qr.png", get(cashier_qr))
        .route("/{order_id}/{token}/pay", post(pay_from_page))
        // Anything else under /cashier (a bare order id, a mistyped link, GET of the form's
        // target) is the same not-found page: it tells nothing about the order.
        .fallback(not_found)
        .method_not_allowed_fallback(not_found);
    Router::new()
        .nest("/cashier", cashier)
        .route("/sandbox/orders/{order_id}/pay", post(pay_from_script))
        .route("/sandbox/sms", get(sms::latest_code))
        .with_state(state)
}

/// What every payer page uses, sandbox or not: the stylesheet.
pub fn assets_router() -> Router {
    Router::new().route("/assets/paymux.css", get(style))
}

/// What the payer asks for at the cashier (or a script for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerAct {
    /// Pay, from this source of funds; `None`: the wallet's first (its balance, a UnionPay
    /// payer's debit card).
    Pay(Option<Funding>),
    Cancel,
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
    /// The wallet cannot pay from this source, or the bill refuses it (no credit cards).
    #[error("funding {} is not accepted for this payment", .0.as_str())]
    FundingRefused(Funding),
    #[error("{0}")]
    Core(#[from] paymux_core::Error),
}

/// The payer pays or cancels the order's current attempt, as the wallet would report it.
///
/// `late`: pay an order that closed or failed meanwhile, as a payment that crossed the close
/// at the channel would arrive (paymux must then refund it by itself). Only scripts may do
/// that, to test the path; the cashier page refuses orders that are no longer open.
/// A payment from a source the wallet does not offer, or the order's dialect refuses, is
/// refused before anything changes (the try stays open for another choice).
pub async fn payer_acts(
    state: &CashierState,
    order_id: &PlatformId,
    act: PayerAct,
    late: Late,
) -> Result<Order, PayError> {
    let gateway = &state.operator;
    let order = match gateway.order_by_id(order_id).await {
        Ok(order) => order,
        Err(paymux_core::Error::OrderNotFound) => return Err(PayError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let order = gateway.expire_if_due(order).await?;
    let late =
        late == Late::Allowed && matches!(order.status, OrderStatus::Closed | OrderStatus::Failed);
    let pays = matches!(act, PayerAct::Pay(_));
    if !(order.status.is_open() || (late && pays)) {
        return Err(PayError::NotPayable(order.status));
    }
    let attempt = gateway
        .latest_attempt(&order.id)
        .await?
        .filter(|a| {
            a.status == AttemptStatus::Paying || (late && a.status != AttemptStatus::Succeeded)
        })
        .ok_or(PayError::NotPayable(order.status))?;
    let choice = match act {
        PayerAct::Cancel => PayerChoice::Cancel,
        PayerAct::Pay(chosen) => {
            let sources = state.payer.funding_of(&order, attempt.pay_way.wallet);
            let funding = chosen
                .or_else(|| sources.first().map(|(f, _)| *f))
                .unwrap_or(Funding::Balance);
            if !sources.contains(&(funding, true)) {
                return Err(PayError::FundingRefused(funding));
            }
            PayerChoice::Pay(funding)
        }
    };
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

/// The order id and token of a cashier link.
type LinkPath = Result<Path<(String, String)>, PathRejection>;

/// The order a link names, if its token is the order's; `None` answers 404 like an unknown
/// order, so a wrong token says nothing about whether the order exists.
fn linked_order(state: &CashierState, path: LinkPath) -> Option<PlatformId> {
    let Path((id, token)) = path.ok()?;
    state
        .sandbox
        .link_is_valid(&id, &token)
        .then(|| PlatformId::from_string(id))
}

pub(crate) async fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        page::message("订单不存在", "Order not found"),
    )
}

async fn style() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        page::STYLE,
    )
        .into_response()
}

/// The first value of a form field, read leniently (any content type, repeated fields).
pub(crate) fn form_field(form: &str, name: &str) -> Option<String> {
    decode_form(form, true)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn show(State(state): State<CashierState>, path: LinkPath) -> Response {
    let Some(id) = linked_order(&state, path) else {
        return not_found().await;
    };
    cashier_page(&state, &id, StatusCode::OK, None).await
}

/// The cashier page of an order, with a notice to the payer above it (why a payment was
/// refused) when there is one.
async fn cashier_page(
    state: &CashierState,
    id: &PlatformId,
    status: StatusCode,
    notice: Option<&str>,
) -> Response {
    match state.operator.order_by_id(id).await {
        Ok(order) => {
            let merchant = state
                .operator
                .merchant(&order.merchant_id)
                .map(|m| m.name.clone())
                .unwrap_or_else(|| order.merchant_id.to_string());
            let expired = order.status.is_open() && state.operator.now() >= order.expires_at;
            let link = state.sandbox.cashier_path(id.as_str());
            let attempt = match state.operator.latest_attempt(&order.id).await {
                Ok(attempt) => attempt,
                Err(e) => {
                    tracing::error!(error = %e, "cashier could not load the attempt");
                    None
                }
            };
            let paying = attempt
                .as_ref()
                .is_some_and(|a| a.status == AttemptStatus::Paying);
            // A bill's wallet is the one its payer chose for this try.
            let wallet = attempt
                .as_ref()
                .map_or(order.pay_way.wallet, |a| a.pay_way.wallet);
            let view = page::CashierView {
                order: &order,
                merchant_name: &merchant,
                expired,
                link: &link,
                sandbox: true,
                paying,
                wallet,
                funding: state.payer.funding_of(&order, wallet),
                notice,
                back_link: state.payer.back_link(&state.operator, &order).await,
                retry_link: order
                    .code_id
                    .as_ref()
                    .map(|code| state.payer.links.code_path(code.as_str())),
            };
            page(status, page::cashier(&view))
        }
        Err(paymux_core::Error::OrderNotFound) => not_found().await,
        Err(e) => {
            tracing::error!(error = %e, "cashier could not load the order");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                page::message("系统繁忙", "Try again"),
            )
        }
    }
}

/// The payer's choice: `result` success or fail, and for a payment what it is paid from
/// (`funding`: balance, debit_card or credit_card; the wallet's first source when absent).
fn choice(result: &str, funding: Option<&str>) -> Option<PayerAct> {
    match (result, funding) {
        ("success", None) => Some(PayerAct::Pay(None)),
        ("success", Some(f)) => Funding::from_stored(f).map(|f| PayerAct::Pay(Some(f))),
        ("fail", _) => Some(PayerAct::Cancel),
        _ => None,
    }
}

/// What a refusal of the payer's source of funds says.
fn funding_refused(funding: Funding) -> String {
    format!(
        "本次支付不支持{}，请选择其他付款方式 (this payment does not take {})",
        funding.display_name(),
        funding.as_str()
    )
}

async fn pay_from_page(
    State(state): State<CashierState>,
    path: LinkPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(id) = linked_order(&state, path) else {
        return not_found().await;
    };
    let form = body
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let result = form_field(&form, "result");
    let funding = form_field(&form, "funding");
    let Some(choice) = result
        .as_deref()
        .and_then(|r| choice(r, funding.as_deref()))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            page::message(
                "无效操作",
                "result must be success or fail; funding balance, debit_card or credit_card",
            ),
        );
    };
    match payer_acts(&state, &id, choice, Late::Refused).await {
        Ok(_) | Err(PayError::NotPayable(_)) => (
            StatusCode::SEE_OTHER,
            [(LOCATION, state.sandbox.cashier_path(id.as_str()))],
        )
            .into_response(),
        Err(PayError::NotFound) => not_found().await,
        // Nothing happened: the same page, saying why, to choose again.
        Err(PayError::FundingRefused(funding)) => {
            cashier_page(
                &state,
                &id,
                StatusCode::BAD_REQUEST,
                Some(&funding_refused(funding)),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "cashier payment failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                page::message("系统繁忙", "Try again"),
            )
        }
    }
}

#[derive(Deserialize)]
struct PayRequest {
    result: String,
    funding: Option<String>,
}

async fn pay_from_script(
    State(state): State<CashierState>,
    path: OrderPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request = body
        .ok()
        .and_then(|b| serde_json::from_slice::<PayRequest>(&b).ok());
    let Some(choice) = request
        .as_ref()
        .and_then(|r| choice(&r.result, r.funding.as_deref()))
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "body must be {\"result\":\"success\"} (with \"funding\": \"balance\", \"debit_card\" \
             or \"credit_card\" if the payer chooses) or {\"result\":\"fail\"}",
        );
    };
    let id = order_id(path);
    match payer_acts(&state, &id, choice, Late::Allowed).await {
        Ok(order) => {
            Json(json!({"orderId": order.id, "status": order.status.as_str()})).into_response()
        }
        Err(PayError::NotFound) => json_error(StatusCode::NOT_FOUND, "order not found"),
        Err(e @ PayError::NotPayable(_)) => json_error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ PayError::FundingRefused(_)) => json_error(StatusCode::CONFLICT, &e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "scripted payment failed");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

async fn cashier_qr(State(state): State<CashierState>, path: LinkPath) -> Response {
    match linked_order(&state, path) {
        Some(id) => png_response(&state.sandbox.cashier_url(id.as_str())),
        None => not_found().await,
    }
}

fn png_response(content: &str) -> Response {
    paymux_dialects::common::qr::image_response(content)
        .unwrap_or_else(|e| json_error(StatusCode::BAD_REQUEST, &e.to_string()))
}

/// An HTML page with the headers every payer page carries.
pub(crate) fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
