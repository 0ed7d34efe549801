//! Prometheus metrics at `GET /metrics`: requests by dialect and outcome, request latency,
//! notifications by outcome, and the outbox depth (read from the store when scraped).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use paymux_core::store::Store;
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
        Metrics {
            registry,
            requests,
            latency,
            notifications,
            outbox_depth,
        }
    }

    /// `outcome`: `delivered`, `retry` or `gave_up`.
    pub fn notification(&self, dialect: &'static str, outcome: &'static str) {
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

/// Counts each dialect reply by the outcome the dialect tagged it with.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(outcome) = response.extensions().get::<Outcome>() {
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
