//! Prometheus metrics at `GET /metrics`: requests by dialect and outcome, request latency,
//! notifications by outcome, and the outbox depth (read from the store when scraped); and
//! the access log, one line per request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use paymux_core::store::Store;
use paymux_dialects::DIALECTS;
use paymux_dialects::common::Outcome;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    dialect: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DialectLabel {
    dialect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    dialect: &'static str,
    outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<DialectLabel, Histogram>,
    notifications: Family<NotificationLabels, Counter>,
    outbox_depth: Gauge,
}

impl Metrics {
    /// Every dialect's series exist from the start (at zero), so dashboards and alerts see
    /// a dialect before its first request.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("paymux");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<DialectLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        let notifications = Family::<NotificationLabels, Counter>::default();
        let outbox_depth = Gauge::default();
        registry.register("requests", "Dialect requests by outcome", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Dialect request latency",
            latency.clone(),
        );
        registry.register(
            "notifications",
            "Merchant notification attempts by outcome",
            notifications.clone(),
        );
        registry.register(
            "outbox_depth",
            "Notifications not yet delivered",
            outbox_depth.clone(),
        );
        for dialect in paymux_dialects::DIALECTS {
            let dialect = dialect.name();
            for outcome in ["success", "fail"] {
                drop(requests.get_or_create(&RequestLabels { dialect, outcome }));
            }
            drop(latency.get_or_create(&DialectLabel { dialect }));
        }
        Metrics {
            registry,
            requests,
            latency,
            notifications,
            outbox_depth,
        }
    }

    /// `outcome`: `delivered`, `retry` or `gave_up`. `dialect` is a stored tag; one this
    /// build does not speak is counted as `unknown`.
    pub fn notification(&self, dialect: &str, outcome: &'static str) {
        let dialect = paymux_dialects::dialect(dialect).map_or("unknown", |d| d.name());
        self.notifications
            .get_or_create(&NotificationLabels { dialect, outcome })
            .inc();
    }

    pub fn render(&self, outbox_depth: i64) -> String {
        self.outbox_depth.set(outbox_depth);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Counts each dialect reply by the outcome the dialect tagged it with, and writes the
/// access log line: method, path (a cashier link's token left out; never the query, which
/// may carry a signed request), dialect, status, outcome and latency.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = loggable_path(request.uri().path());
    let response = next.run(request).await;
    let outcome = response.extensions().get::<Outcome>().copied();
    tracing::info!(
        target: "paymux::access",
        %method,
        path = %path,
        dialect = outcome.map_or("-", |o| o.dialect),
        status = response.status().as_u16(),
        outcome = outcome.map_or("-", |o| if o.ok { "success" } else { "fail" }),
        latency_ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    if let Some(outcome) = outcome {
        let labels = RequestLabels {
            dialect: outcome.dialect,
            outcome: if outcome.ok { "success" } else { "fail" },
        };
        metrics.requests.get_or_create(&labels).inc();
        metrics
            .latency
            .get_or_create(&DialectLabel {
                dialect: outcome.dialect,
            })
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

/// The payer pages' links, whose token opens the page.
const PAYER_LINKS: [&str; 2] = ["/cashier/{order_id}/{token}", "/bills/{code}/{token}"];

/// The path as logged: the secret segment of a payer's link (`/cashier/{id}/{token}/…`,
/// `/bills/{id}/{token}/…`, and the dialects' [`Dialect::secret_paths`]) opens a page or
/// proves a payment, so it is not written down.
///
/// [`Dialect::secret_paths`]: paymux_dialects::Dialect::secret_paths
fn loggable_path(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    let patterns = PAYER_LINKS
        .iter()
        .chain(DIALECTS.iter().flat_map(|d| d.secret_paths()));
    for pattern in patterns {
        let segments: Vec<&str> = pattern.split('/').collect();
        let matches = parts.len() >= segments.len()
            && segments
                .iter()
                .zip(&parts)
                .all(|(want, got)| want.starts_with('{') || want == got);
        if matches && let Some(at) = segments.iter().position(|s| *s == "{token}") {
            parts[at] = "…";
        }
    }
    parts.join("/").chars().take(200).collect()
}

pub async fn serve(metrics: Arc<Metrics>, store: Arc<dyn Store>) -> Response {
    let depth = match store.outbox_depth().await {
        Ok(depth) => depth,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the outbox depth");
            -1
        }
    };
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(depth),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn cashier_tokens_are_not_logged() {
        assert_eq!(loggable_path("/cashier/P1/abcdef/pay"), "/cashier/P1/…/pay");
        assert_eq!(loggable_path("/cashier/P1/abcdef"), "/cashier/P1/…");
        assert_eq!(loggable_path("/bills/Q1/abcdef/pay"), "/bills/Q1/…/pay");
        assert_eq!(loggable_path("/assets/paymux.css"), "/assets/paymux.css");
        assert_eq!(
            loggable_path("/mmsp/gateway/return/001440353999853/G1/0123456789ABCDEF"),
            "/mmsp/gateway/return/001440353999853/G1/…"
        );
        assert_eq!(
            loggable_path("/api/pay/create_order"),
            "/api/pay/create_order"
        );
    }

    #[test]
    fn every_dialect_is_labelled_from_the_start() {
        let text = super::Metrics::new().render(0);
        for dialect in paymux_dialects::DIALECTS {
            assert!(
                text.contains(&format!("dialect=\"{}\"", dialect.name())),
                "{text}"
            );
        }
    }
}
