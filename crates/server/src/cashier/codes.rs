//! The payer's pages of payment codes, `/bills/{code_id}/{token}`: what a code's QR image
//! opens. The page shows the bill (a one-time code's), or what a fixed code bills (its
//! amount, an amount field for an open code, or the bills the merchant's system offers when
//! asked through the code's dialect), and the wallets to pay with (those the code's dialect
//! allows: mmsp's Alipay static code, Alipay only); paying starts a try at the bill and leads
//! to the channel's page (the sandbox's cashier). A bill that names its payer (chinaums
//! real-name bills) asks who pays, and the dialect refuses anyone else before any try.
//! The answers to a code's questions go from the lookup to the pay form in hidden fields:
//! the personal ones (hrss: the ID number) sealed (`sealed.rs`), never in clear. A payer's
//! mistake in them is a 400 that asks again saying what to correct, and the merchant's
//! system is not called; its own failure to answer is a 502. Only the link the merchant
//! was given opens it: a wrong or missing token is the same 404 as an unknown code.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, ExtensionRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{LOCATION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use paymux_core::Operator;
use paymux_core::code::{CodeKind, PaymentCode};
use paymux_core::gateway::BillFromCode;
use paymux_core::ids::PlatformId;
use paymux_core::links::LinkKind;
use paymux_core::money::Fen;
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_dialects::common::decode_form;
use paymux_dialects::dialect::PayerNote;
use paymux_dialects::{BillChoice, PayerCheck, PayerField, PayerHooks};
use serde_json::{Map, Value};

use super::lookups::LookupLimit;
use super::page::{self, BillOffer};
use super::sealed;
use super::{PayerSide, not_found};

#[derive(Clone)]
pub struct CodePages {
    pub operator: Operator,
    pub payer: PayerSide,
    /// The sandbox serves the payments: the pages say so.
    pub sandbox: bool,
    /// How often a client may look up a code's bills.
    pub lookups: Arc<LookupLimit>,
}

pub fn router(state: CodePages) -> Router {
    let pages = Router::new()
        .route("/{code_id}/{token}", get(show).post(lookup))
        .route("/{code_id}/{token}/pay", post(pay))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found);
    Router::new().nest("/bills", pages).with_state(state)
}

type LinkPath = Result<Path<(String, String)>, PathRejection>;

/// The code a link names, if its token is the code's.
async fn linked_code(state: &CodePages, path: LinkPath) -> Option<PaymentCode> {
    let Path((id, token)) = path.ok()?;
    if !state.payer.links.verify_for(LinkKind::Code, &id, &token) {
        return None;
    }
    state
        .operator
        .code_by_id(&PlatformId::from_string(id))
        .await
        .ok()
}

fn message(status: StatusCode, title: &str, detail: &str) -> Response {
    super::page(status, page::message(title, detail))
}

fn merchant_name(state: &CodePages, code: &PaymentCode) -> String {
    state
        .operator
        .merchant(&code.merchant_id)
        .map(|m| m.name.clone())
        .unwrap_or_else(|| code.merchant_id.to_string())
}

fn hooks<'a>(state: &'a CodePages, code: &PaymentCode) -> Option<&'a dyn PayerHooks> {
    state.payer.hooks.get(&code.dialect).map(|h| h.as_ref())
}

async fn show(State(state): State<CodePages>, path: LinkPath) -> Response {
    let Some(code) = linked_code(&state, path).await else {
        return not_found().await;
    };
    let link = state.payer.links.code_path(code.id.as_str());
    // A one-time code shows its bill as it stands, paid or not.
    if code.kind == CodeKind::OneTime {
        return one_time_page(&state, &code, &link).await;
    }
    if !code.is_usable(state.operator.now()) {
        return message(
            StatusCode::OK,
            "二维码已失效",
            "This code is closed or expired",
        );
    }
    if !asked(&state, &code).is_empty() {
        return questions_page(&state, &code, &link, StatusCode::OK, None);
    }
    offers_page(&state, &code, &link, &BTreeMap::new()).await
}

/// A code's questions to the payer; `notice`: what to correct in the answers just given.
fn questions_page(
    state: &CodePages,
    code: &PaymentCode,
    link: &str,
    status: StatusCode,
    notice: Option<&str>,
) -> Response {
    let fields: Vec<(String, String)> = asked(state, code)
        .into_iter()
        .map(|f| (f.name.to_owned(), f.label.to_owned()))
        .collect();
    super::page(
        status,
        page::code_questions(
            &merchant_name(state, code),
            &code.subject,
            link,
            &fields,
            notice,
            state.sandbox,
        ),
    )
}

async fn one_time_page(state: &CodePages, code: &PaymentCode, link: &str) -> Response {
    let Some(bill_id) = &code.order_id else {
        return message(StatusCode::OK, "二维码未绑定账单", "No bill on this code");
    };
    let bill = match state.operator.order_by_id(bill_id).await {
        Ok(bill) => state.operator.expire_if_due(bill).await,
        Err(e) => Err(e),
    };
    let bill = match bill {
        Ok(bill) => bill,
        Err(e) => {
            tracing::error!(error = %e, "the code page could not load its bill");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙", "Try again");
        }
    };
    if bill.status.is_paid() {
        let back = state.payer.back_link(&state.operator, &bill).await;
        return super::page(StatusCode::OK, page::paid(back.as_deref()));
    }
    if !bill.status.is_open() || !code.is_usable(state.operator.now()) {
        return message(
            StatusCode::OK,
            "账单已关闭",
            "This bill can no longer be paid",
        );
    }
    let offer = BillOffer {
        label: bill.subject.clone(),
        lines: bill_lines(state, code, &bill.extra),
        amount: Some(bill.amount.to_yuan_string()),
        hidden: Vec::new(),
    };
    super::page(
        StatusCode::OK,
        page::code_page(
            &merchant_name(state, code),
            &code.subject,
            link,
            &[offer],
            &payer_checks(state, code, &bill.extra),
            payer_note(state, code),
            &wallets(state, code),
            state.sandbox,
        ),
    )
}

/// A fixed code's offers: the merchant's system's bills when its dialect asks it (given the
/// payer's answers), else the code's own amount or an amount field.
async fn offers_page(
    state: &CodePages,
    code: &PaymentCode,
    link: &str,
    input: &BTreeMap<String, String>,
) -> Response {
    let offers = match merchant_bills(state, code, input).await {
        Err(response) => return response,
        Ok(Some(choices)) => {
            if choices.is_empty() {
                return message(StatusCode::OK, "没有待缴费用", "Nothing to pay");
            }
            let Some(carried) = carried_answers(state, code, input) else {
                tracing::error!("no randomness to seal a payer's answers with");
                return message(StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙", "Try again");
            };
            choices
                .iter()
                .map(|c| BillOffer {
                    label: c.label.clone(),
                    // The bill made of it carries the code's terms with the choice's over them.
                    lines: bill_lines(state, code, &{
                        let mut terms = code.extra.clone();
                        terms.extend(c.bill.extra.clone());
                        terms
                    }),
                    amount: c.bill.amount.map(|a| a.to_yuan_string()),
                    hidden: std::iter::once(("choice".to_owned(), c.key()))
                        .chain(carried.iter().cloned())
                        .collect(),
                })
                .collect()
        }
        Ok(None) => vec![BillOffer {
            label: code.subject.clone(),
            lines: bill_lines(state, code, &code.extra),
            amount: match code.kind {
                CodeKind::FixedAmount => code.amount.map(|a| a.to_yuan_string()),
                _ => None,
            },
            hidden: Vec::new(),
        }],
    };
    super::page(
        StatusCode::OK,
        page::code_page(
            &merchant_name(state, code),
            &code.subject,
            link,
            &offers,
            &payer_checks(state, code, &code.extra),
            payer_note(state, code),
            &wallets(state, code),
            state.sandbox,
        ),
    )
}

/// The note the code's page lets the payer add for the merchant.
fn payer_note(state: &CodePages, code: &PaymentCode) -> Option<PayerNote> {
    hooks(state, code).and_then(|h| h.payer_note(code))
}

/// The payer's note in the pay form, trimmed (`None`: none, or the code takes none);
/// `Err`: the page saying what is wrong with it.
fn note_in(
    state: &CodePages,
    code: &PaymentCode,
    value: Option<&str>,
) -> Result<Option<String>, Box<Response>> {
    let (Some(note), Some(text)) = (payer_note(state, code), value.map(str::trim)) else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > note.max_chars {
        return Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            &format!("{}过长", note.label),
            &format!("At most {} characters", note.max_chars),
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            &format!("{}含有无法识别的字符", note.label),
            "No control characters",
        )));
    }
    Ok(Some(text.to_owned()))
}

/// What the page shows of a bill of these terms besides its subject and amount.
fn bill_lines(state: &CodePages, code: &PaymentCode, terms: &Map<String, Value>) -> Vec<String> {
    hooks(state, code)
        .map(|h| h.bill_lines(terms))
        .unwrap_or_default()
}

/// What a bill of these terms asks its payer (a real-name bill: who they are).
fn payer_checks(
    state: &CodePages,
    code: &PaymentCode,
    terms: &Map<String, Value>,
) -> Vec<PayerCheck> {
    hooks(state, code)
        .map(|h| h.payer_checks(terms))
        .unwrap_or_default()
}

/// The payer's answers in the pay form to what a bill of these terms asks, checked by the
/// code's dialect before any try starts or any bill is made; `Some`: the page refusing the
/// payer. The answers are personal: they are neither logged nor shown back.
fn refused_payer(
    state: &CodePages,
    code: &PaymentCode,
    terms: &Map<String, Value>,
    form: &[(String, String)],
) -> Option<Response> {
    let hooks = hooks(state, code)?;
    let answers: BTreeMap<String, String> = hooks
        .payer_checks(terms)
        .into_iter()
        .filter_map(|c| {
            form.iter()
                .find(|(k, _)| k == c.field.name)
                .map(|(_, v)| (c.field.name.to_owned(), v.trim().to_owned()))
        })
        .collect();
    hooks
        .check_payer(terms, &answers)
        .err()
        .map(|why| message(StatusCode::FORBIDDEN, "无法支付", &why))
}

/// What the merchant's system offers, through the code's dialect; `Ok(None)` when the
/// dialect does not ask it. A failure is the page to show.
async fn merchant_bills(
    state: &CodePages,
    code: &PaymentCode,
    input: &BTreeMap<String, String>,
) -> Result<Option<Vec<BillChoice>>, Response> {
    let Some(hooks) = hooks(state, code) else {
        return Ok(None);
    };
    hooks.bills_for_code(code, input).await.map_err(|why| {
        tracing::warn!(code = %code.id, %why, "the merchant's system did not say what to bill");
        message(
            StatusCode::BAD_GATEWAY,
            "暂时无法获取账单",
            "The merchant's system did not answer; try again",
        )
    })
}

/// The payer's answers to the code's questions: posted to the page itself.
async fn lookup(
    State(state): State<CodePages>,
    client: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    path: LinkPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(code) = linked_code(&state, path).await else {
        return not_found().await;
    };
    if code.kind == CodeKind::OneTime || !code.is_usable(state.operator.now()) {
        return message(
            StatusCode::OK,
            "二维码已失效",
            "This code is closed or expired",
        );
    }
    // Counted before anything is read: a payer's mistakes count too.
    let client = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let now = state.operator.now();
    if let Err(wait_s) = state.lookups.take(code.id.as_str(), client, now) {
        let mut refused = message(
            StatusCode::TOO_MANY_REQUESTS,
            "查询过于频繁,请稍后再试",
            &format!("Too many lookups of this code from your network; try again in {wait_s} s"),
        );
        refused
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait_s));
        return refused;
    }
    let form = body
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let input = answers(&state, &code, &decode_form(&form, true));
    let link = state.payer.links.code_path(code.id.as_str());
    // The payer's own mistake: said to them, and the merchant's system is not asked.
    let checked = hooks(&state, &code).map_or(Ok(()), |h| h.check_answers(&code, &input));
    if let Err(why) = checked {
        return questions_page(&state, &code, &link, StatusCode::BAD_REQUEST, Some(&why));
    }
    offers_page(&state, &code, &link, &input).await
}

fn asked(state: &CodePages, code: &PaymentCode) -> Vec<PayerField> {
    hooks(state, code)
        .map(|h| h.payer_fields(code))
        .unwrap_or_default()
}

/// The answers to the code's questions as the question form posts them (under their
/// names); fields the code did not ask for are ignored.
fn answers(
    state: &CodePages,
    code: &PaymentCode,
    form: &[(String, String)],
) -> BTreeMap<String, String> {
    asked(state, code)
        .into_iter()
        .filter_map(|f| {
            form.iter()
                .find(|(k, _)| k == f.name)
                .map(|(_, v)| (f.name.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// The hidden fields that carry the answers to the pay form: each plain one as
/// `q.{name}`, the personal ones together in one sealed box (see `sealed.rs`), so that
/// the page never shows them back in clear. `None`: they could not be sealed.
fn carried_answers(
    state: &CodePages,
    code: &PaymentCode,
    input: &BTreeMap<String, String>,
) -> Option<Vec<(String, String)>> {
    let (personal, plain): (Vec<PayerField>, Vec<PayerField>) =
        asked(state, code).into_iter().partition(|f| f.personal);
    let value = |f: &PayerField| input.get(f.name).map(|v| (f.name.to_owned(), v.clone()));
    let mut carried: Vec<(String, String)> = plain
        .iter()
        .filter_map(value)
        .map(|(k, v)| (format!("q.{k}"), v))
        .collect();
    let personal: BTreeMap<String, String> = personal.iter().filter_map(value).collect();
    if !personal.is_empty() {
        let now = state.operator.now();
        let sealed = sealed::seal(&state.payer.links, code.id.as_str(), &personal, now)?;
        carried.push((sealed::FIELD.to_owned(), sealed));
    }
    Some(carried)
}

/// The answers the pay form carried back: the plain ones from `q.{name}`, the personal
/// ones from the sealed box only. `None`: the code asks personal questions and the box
/// is missing, altered, or expired (the payer looks up again).
fn carried_back(
    state: &CodePages,
    code: &PaymentCode,
    form: &[(String, String)],
) -> Option<BTreeMap<String, String>> {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let asked = asked(state, code);
    let opened = if asked.iter().any(|f| f.personal) {
        let now = state.operator.now();
        sealed::open(
            &state.payer.links,
            code.id.as_str(),
            field(sealed::FIELD)?,
            now,
        )?
    } else {
        BTreeMap::new()
    };
    Some(
        asked
            .into_iter()
            .filter_map(|f| {
                let value = if f.personal {
                    opened.get(f.name).cloned()
                } else {
                    field(&format!("q.{}", f.name)).map(|v| v.trim().to_owned())
                };
                value.map(|v| (f.name.to_owned(), v))
            })
            .collect(),
    )
}

/// The wallets the code's page offers: its dialect's, or WeChat Pay, Alipay and UnionPay.
fn wallets(state: &CodePages, code: &PaymentCode) -> Vec<Wallet> {
    match hooks(state, code) {
        Some(hooks) => hooks.wallets(code),
        None => vec![Wallet::WeChat, Wallet::Alipay, Wallet::UnionPay],
    }
}

async fn pay(
    State(state): State<CodePages>,
    path: LinkPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(code) = linked_code(&state, path).await else {
        return not_found().await;
    };
    let form = body
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let form = decode_form(&form, true);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let offered = wallets(&state, &code);
    let Some(wallet) = field("wallet").and_then(|name| {
        Wallet::ALL
            .iter()
            .copied()
            .find(|wallet| wallet.as_str() == name)
    }) else {
        let names: Vec<&str> = offered.iter().map(|w| w.as_str()).collect();
        return message(
            StatusCode::BAD_REQUEST,
            "请选择支付方式",
            &format!("wallet must be one of {}", names.join(", ")),
        );
    };
    if !offered.contains(&wallet) {
        let names: Vec<&str> = offered.iter().map(|w| w.display_name()).collect();
        return message(
            StatusCode::BAD_REQUEST,
            "不支持该支付方式",
            &format!("This code takes {}", names.join(", ")),
        );
    }
    let pay_way = PayWay::new(wallet, PayMethod::Qr);
    let memo = match note_in(&state, &code, field(page::NOTE_FIELD)) {
        Ok(memo) => memo,
        Err(refusal) => return *refusal,
    };
    let bill_id = match code.kind {
        CodeKind::OneTime => {
            let Some(id) = &code.order_id else {
                return message(StatusCode::OK, "二维码未绑定账单", "No bill on this code");
            };
            let bill = match state.operator.order_by_id(id).await {
                Ok(bill) => bill,
                Err(e) => return refused(e),
            };
            if let Some(refusal) = refused_payer(&state, &code, &bill.extra, &form) {
                return refusal;
            }
            bill.id
        }
        CodeKind::FixedAmount | CodeKind::OpenAmount => {
            if let Some(refusal) = refused_payer(&state, &code, &code.extra, &form) {
                return refusal;
            }
            let Some(input) = carried_back(&state, &code, &form) else {
                return message(
                    StatusCode::OK,
                    "页面已过期,请重新查询",
                    "This page has expired; look up your bills again",
                );
            };
            // The plain answers travel in clear and may have been altered since the lookup.
            let checked = hooks(&state, &code).map_or(Ok(()), |h| h.check_answers(&code, &input));
            if let Err(why) = checked {
                return message(StatusCode::BAD_REQUEST, "请重新查询", &why);
            }
            let from = match merchant_bills(&state, &code, &input).await {
                Err(response) => return response,
                // The bill the payer clicked, as the merchant's system has it now: by
                // its number and amount, never by its place in a list that may have moved.
                Ok(Some(choices)) => {
                    let picked = field("choice")
                        .and_then(|key| choices.into_iter().find(|c| c.key() == key));
                    match picked {
                        Some(choice) => choice.bill,
                        None => {
                            return message(
                                StatusCode::CONFLICT,
                                "账单已变化,请重新选择",
                                "This bill was paid or changed meanwhile; choose again",
                            );
                        }
                    }
                }
                Ok(None) => BillFromCode::default(),
            };
            let from = match (code.kind, from.amount) {
                (CodeKind::OpenAmount, None) => {
                    match field("amount").map(|a| Fen::from_yuan_str(a.trim())) {
                        Some(Ok(amount)) if amount > Fen::ZERO => BillFromCode {
                            amount: Some(amount),
                            ..from
                        },
                        _ => {
                            return message(
                                StatusCode::BAD_REQUEST,
                                "请输入正确的金额",
                                "An amount in yuan, like 12.50",
                            );
                        }
                    }
                }
                _ => from,
            };
            match state.operator.bill_from_code(&code.id, from).await {
                Ok(bill) => bill.id,
                Err(e) => return refused(e),
            }
        }
    };
    match state
        .operator
        .start_noted_attempt(&bill_id, pay_way, memo)
        .await
    {
        Ok(started) => match started.action {
            paymux_core::channel::PayAction::Redirect(url)
            | paymux_core::channel::PayAction::QrCode(url)
            | paymux_core::channel::PayAction::PostForm { url, .. } => {
                (StatusCode::SEE_OTHER, [(LOCATION, url)]).into_response()
            }
            paymux_core::channel::PayAction::None => message(
                StatusCode::OK,
                "支付处理中",
                "The payment is being processed",
            ),
        },
        Err(e) => refused(e),
    }
}

/// A try the core would not start, said to the payer.
fn refused(e: paymux_core::Error) -> Response {
    use paymux_core::Error as E;
    match e {
        E::AnotherTryPaying => message(
            StatusCode::CONFLICT,
            "其他付款人正在支付",
            "Someone else is paying this bill",
        ),
        // A merchant's order number billed elsewhere, or whose bill was paid or closed.
        E::OrderNotPayable(_) | E::CodeNotUsable | E::DuplicateOrderNo => message(
            StatusCode::OK,
            "账单已支付或关闭",
            "This bill can no longer be paid",
        ),
        E::InvalidField { reason, .. } => message(StatusCode::BAD_REQUEST, "无法支付", &reason),
        E::ChannelRefused { .. } => message(
            StatusCode::OK,
            "暂不可支付",
            "No payment channel is available",
        ),
        E::Busy => message(StatusCode::SERVICE_UNAVAILABLE, "系统繁忙", "Try again"),
        other => {
            tracing::error!(error = %other, "a payer could not start a try");
            message(StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙", "Try again")
        }
    }
}
