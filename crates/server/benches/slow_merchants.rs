//! How long a healthy merchant's payment notification waits while another merchant's
//! endpoints hang, answer 500, or answer after 30 s.
//!
//! `cargo bench -p paymux-server --bench slow_merchants` starts the gateway in this process
//! with its workers running on the system clock, pays `PAYMUX_BENCH_SLOW` (120) orders of a
//! slow merchant whose notify URLs take turns among three endpoints (one never answers, one
//! answers HTTP 500, one answers `success` after 30 s), then for `PAYMUX_BENCH_SECONDS`
//! (150: the slow merchant's first retries come after 60 s) pays one order of a healthy
//! merchant every `PAYMUX_BENCH_EVERY_MS` (500). For each healthy order it measures the time
//! from the sandbox payment to the healthy endpoint receiving the notification, and prints
//! the median, p90 and maximum. `PAYMUX_BENCH_BACKENDS` (`sqlite`; `sqlite,postgres`).
//!
//! The figures are waits on timeouts, not CPU: a dev build (`--profile dev`) measures the
//! same.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use paymux_core::clock::SystemClock;
use paymux_dialects::common::decode_form;
use paymux_dialects::xxpay::XxpayClient;
use paymux_dialects::xxpay::wire::CreateOrderRequest;
use paymux_server::config::Config;
use paymux_server::startup::{self, Workers};
use secrecy::SecretString;

const APP_ID: &str = "0ae8be35ff634e2abe94f5f32f6d5c4f";
const SLOW_MCH: &str = "10000001";
const SLOW_KEY: &str = "SLOWKEY0123456789";
const HEALTHY_MCH: &str = "10000002";
const HEALTHY_KEY: &str = "HEALTHYKEY0123456";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(database: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database = "{database}"
allow_private_callbacks = true

[[merchant]]
id = "slow"
name = "Slow Hospital"

[merchant.xxpay]
mch_id = "{SLOW_MCH}"
app_id = "{APP_ID}"
key = "{SLOW_KEY}"

[[merchant]]
id = "healthy"
name = "Healthy Hospital"

[merchant.xxpay]
mch_id = "{HEALTHY_MCH}"
app_id = "{APP_ID}"
key = "{HEALTHY_KEY}"
"#
    )
}

/// When the healthy endpoint received each order's notification.
type Receipts = Arc<Mutex<HashMap<String, Instant>>>;

/// The slow merchant's endpoints (`/hang`, `/error`, `/late`) and the healthy one
/// (`/ok`), on one local server; returns its base URL.
async fn merchant_endpoints(receipts: Receipts) -> String {
    let app = Router::new()
        .route(
            "/hang",
            post(|| async {
                std::future::pending::<()>().await;
                "success"
            }),
        )
        .route(
            "/error",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "error") }),
        )
        .route(
            "/late",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "success"
            }),
        )
        .route(
            "/ok",
            post(
                |State(receipts): State<Receipts>, body: String| async move {
                    let at = Instant::now();
                    if let Some((_, id)) = decode_form(&body, true)
                        .into_iter()
                        .find(|(k, _)| k == "payOrderId")
                    {
                        receipts.lock().expect("receipts").entry(id).or_insert(at);
                    }
                    "success"
                },
            ),
        )
        .with_state(receipts);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("merchant port");
    let addr = listener.local_addr().expect("merchant address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Creates and pays one order; returns its id and when the payment was asked for.
async fn pay(
    client: &XxpayClient,
    http: &reqwest::Client,
    gateway: &str,
    no: &str,
    notify_url: &str,
) -> (String, Instant) {
    let reply = client
        .create_order(&CreateOrderRequest {
            product_id: Some("8002".into()),
            mch_order_no: Some(no.into()),
            currency: Some("cny".into()),
            amount: Some("1".into()),
            notify_url: Some(notify_url.into()),
            subject: Some("s".into()),
            body: Some("b".into()),
            ..Default::default()
        })
        .await
        .expect("create_order");
    let id = reply.pay_order_id.expect("payOrderId");
    let paid_at = Instant::now();
    let paid = http
        .post(format!("{gateway}/sandbox/orders/{id}/pay"))
        .body(r#"{"result":"success"}"#)
        .send()
        .await
        .expect("sandbox pay");
    assert_eq!(paid.status(), 200, "sandbox pay");
    (id, paid_at)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn bench(backend: &str, slow: usize, seconds: u64, every: Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let postgres = match backend {
        "sqlite" => None,
        "postgres" => Some(
            paymux_store::create_test_database("paymux_bench_slow")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        other => panic!("unknown backend {other}"),
    };
    let database = match &postgres {
        None => format!("sqlite://{}/paymux.db", dir.path().display()),
        Some(db) => db.url().to_owned(),
    };
    let config = Config::parse(&config(&database), "bench").expect("bench config");
    let running = startup::start(config, Arc::new(SystemClock), Workers::Run)
        .await
        .expect("gateway starts");
    let gateway = running.url();
    let receipts = Receipts::default();
    let merchant = merchant_endpoints(receipts.clone()).await;
    let slow_client =
        XxpayClient::new(&gateway, SLOW_MCH, APP_ID, SecretString::from(SLOW_KEY)).expect("client");
    let healthy_client = XxpayClient::new(
        &gateway,
        HEALTHY_MCH,
        APP_ID,
        SecretString::from(HEALTHY_KEY),
    )
    .expect("client");
    let http = reqwest::Client::new();

    for i in 0..slow {
        let path = ["hang", "error", "late"][i % 3];
        pay(
            &slow_client,
            &http,
            &gateway,
            &format!("SLOW{i}"),
            &format!("{merchant}/{path}"),
        )
        .await;
    }
    let mut paid = Vec::new();
    let start = Instant::now();
    let mut next = start;
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep_until(next.into()).await;
        next += every;
        paid.push(
            pay(
                &healthy_client,
                &http,
                &gateway,
                &format!("OK{i}"),
                &format!("{merchant}/ok"),
            )
            .await,
        );
        i += 1;
    }
    // Stragglers get a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && paid
            .iter()
            .any(|(id, _)| !receipts.lock().expect("receipts").contains_key(id))
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let receipts = receipts.lock().expect("receipts").clone();
    let mut delays: Vec<Duration> = paid
        .iter()
        .filter_map(|(id, at)| receipts.get(id).map(|r| r.saturating_duration_since(*at)))
        .collect();
    delays.sort();
    println!(
        "{backend:<8}  {slow} slow notifications, {} healthy over {seconds} s: delay median {:.2} s  p90 {:.2} s  max {:.2} s  not received {}",
        paid.len(),
        percentile(&delays, 0.5).as_secs_f64(),
        percentile(&delays, 0.9).as_secs_f64(),
        delays.last().copied().unwrap_or_default().as_secs_f64(),
        paid.len() - delays.len(),
    );
    // The slow endpoints hold sends open; stopping waits at most for their timeouts.
    running.stop().await;
}

fn main() {
    let slow = env_or("PAYMUX_BENCH_SLOW", 120usize);
    let seconds = env_or("PAYMUX_BENCH_SECONDS", 150u64);
    let every = Duration::from_millis(env_or("PAYMUX_BENCH_EVERY_MS", 500u64));
    let backends = std::env::var("PAYMUX_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
            bench(backend, slow, seconds, every).await;
        }
    });
}
