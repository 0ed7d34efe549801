//! The gateway benchmark: signed xxpay create_order over HTTP against `/healthz` of the
//! same server, both measured in one run, at a fixed number of keep-alive connections.
//!
//! `cargo bench -p paymux-server --bench gateway` starts the release `paymux` binary on
//! SQLite (a fresh file, synchronous=FULL) and on PostgreSQL (a fresh database), loads
//! each phase for a fixed time, and prints orders/s, p50/p99 latency and the ratio to
//! /healthz. Every create_order reply must be a signed SUCCESS; afterwards the server is
//! killed with SIGKILL, restarted, and a sample of the acknowledged orders is queried,
//! which shows they were committed before the reply.
//!
//! Environment: `PAYMUX_BENCH_SECONDS` (default 10), `PAYMUX_BENCH_CONNECTIONS` (32),
//! `PAYMUX_BENCH_ROUNDS` (3: each round measures both phases; the median ratio is
//! reported), `PAYMUX_BENCH_BACKENDS` (`sqlite,postgres`). `PAYMUX_BENCH_ADDR=127.0.0.1:8080` loads a
//! gateway that is already running instead (its merchant must use this file's credentials;
//! useful under a profiler), without the kill -9 check; `PAYMUX_BENCH_PHASES=create` picks
//! the phases there, and `PAYMUX_BENCH_PID` its process id for the CPU figures.
//!
//! Besides rates and latencies it prints the CPU time per request of the server and of
//! the load generator, which share the machine's cores, and the share of the machine's CPU
//! that was busy: the ratio is as much about where the CPU goes, and about what a phase
//! waits on, as about the database.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use paymux_dialects::common::encode_form;
use paymux_dialects::xxpay::codec;
use paymux_dialects::xxpay::wire::Params;
use serde_json::{Value, json};

const MCH_ID: &str = "20001222";
const APP_ID: &str = "0ae8be35ff634e2abe94f5f32f6d5c4f";
const KEY: &str = "BENCHKEY0123456789";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    url: String,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn config(database: &str, port: u16) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
database = "{database}"
allow_private_callbacks = true

[[merchant]]
id = "bench"
name = "Bench Hospital"

[merchant.xxpay]
mch_id = "{MCH_ID}"
app_id = "{APP_ID}"
key = "{KEY}"
"#
    )
}

async fn start(config_path: &std::path::Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_paymux"))
        .args(["serve", "--config"])
        .arg(config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("paymux starts");
    let addr = format!("127.0.0.1:{port}");
    let server = Server {
        child,
        url: format!("http://{addr}"),
        addr,
    };
    for _ in 0..200 {
        if let Ok(reply) = get(&server.addr, "/healthz").await
            && reply == "ok"
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("paymux did not start");
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let io = TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn get(addr: &str, path: &str) -> Result<String, hyper::Error> {
    let stream = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(_) => return Ok(String::new()),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header("host", addr)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let reply = sender.send_request(request).await?;
    let body = reply.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Order numbers as merchants make them: increasing with time (the spec's example is a
/// timestamp and a sequence), the connection as the last digits.
fn order_no(run: &str, connection: usize, seq: usize) -> String {
    format!("{run}{seq:08}{connection:03}")
}

fn create_body(order_no: &str) -> Bytes {
    let mut params = Params::new();
    for (k, v) in [
        ("mchId", json!(MCH_ID)),
        ("appId", json!(APP_ID)),
        ("productId", json!(8002)),
        ("mchOrderNo", json!(order_no)),
        ("currency", json!("cny")),
        ("amount", json!(100)),
        ("notifyUrl", json!("http://127.0.0.1:9/notify")),
        ("subject", json!("门诊缴费")),
        ("body", json!("挂号费")),
    ] {
        params.insert(k.into(), v);
    }
    let sign = codec::sign_params(&params, &["sign"], KEY);
    params.insert("sign".into(), json!(sign));
    Bytes::from(encode_form(&[(
        "params",
        &Value::Object(params).to_string(),
    )]))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Healthz,
    CreateOrder,
}

struct Measured {
    ok: u64,
    bad: u64,
    seconds: f64,
    p50_us: u64,
    p99_us: u64,
    /// CPU time per request of the server and of this load generator, in µs: where the
    /// shared cores went.
    server_cpu_us: Option<f64>,
    loadgen_cpu_us: Option<f64>,
    /// The share of the whole machine's CPU time that was busy: below 100%, the phase
    /// waited on something other than the CPU (fsync, a round trip).
    machine_busy: Option<f64>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    fn cpu(&self) -> String {
        let mut out = String::new();
        if let (Some(server), Some(loadgen)) = (self.server_cpu_us, self.loadgen_cpu_us) {
            out += &format!("   cpu/req: server {server:.1} µs, load generator {loadgen:.1} µs");
        }
        if let Some(busy) = self.machine_busy {
            out += &format!("   machine busy {:.0}%", busy * 100.0);
        }
        out
    }
}

/// CPU seconds a process has used (user + system), from `/proc/PID/stat`, whose clock
/// ticks are 1/100 s on Linux.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The machine's busy and total CPU time so far, from the first line of `/proc/stat`
/// (`cpu  user nice system idle iowait irq softirq steal …`, in clock ticks).
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    let waiting = ticks.get(3)? + ticks.get(4)?;
    Some((total - waiting, total))
}

/// Runs one phase. Request bodies are built before the clock starts and replies are only
/// checked for `"retCode":"SUCCESS"` while it runs; their signatures are verified after, so
/// the load generator takes as little of the machine's CPU as it can.
async fn load(
    addr: &str,
    server_pid: Option<u32>,
    phase: Phase,
    connections: usize,
    duration: Duration,
    run: &str,
) -> Measured {
    let bad = Arc::new(AtomicU64::new(0));
    // Enough bodies for a generous rate; a connection that runs out stops early (reported).
    let per_connection = match phase {
        Phase::Healthz => 0,
        Phase::CreateOrder => (duration.as_secs() as usize + 1) * 60_000 / connections,
    };
    let bodies: Vec<Vec<Bytes>> = (0..connections)
        .map(|c| {
            (0..per_connection)
                .map(|seq| create_body(&order_no(run, c, seq)))
                .collect()
        })
        .collect();
    let cpu_before = (
        server_pid.and_then(cpu_seconds),
        cpu_seconds(std::process::id()),
        machine_cpu(),
    );
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for bodies in bodies {
        let addr = addr.to_owned();
        let bad = bad.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(&addr).await;
            let mut latencies = Vec::with_capacity(200_000);
            let mut replies = Vec::new();
            let mut bodies = bodies.into_iter();
            while Instant::now() < deadline {
                let request = match phase {
                    Phase::Healthz => hyper::Request::get("/healthz")
                        .header("host", &addr)
                        .body(Full::new(Bytes::new())),
                    Phase::CreateOrder => match bodies.next() {
                        Some(body) => hyper::Request::post("/api/pay/create_order")
                            .header("host", &addr)
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(Full::new(body)),
                        None => {
                            eprintln!("a connection ran out of prepared requests");
                            break;
                        }
                    },
                }
                .expect("request");
                let t0 = Instant::now();
                let reply = match sender.send_request(request).await {
                    Ok(r) => r,
                    Err(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                        sender = connect(&addr).await;
                        continue;
                    }
                };
                let body = reply.into_body().collect().await.map(|b| b.to_bytes());
                latencies.push(t0.elapsed().as_micros() as u64);
                let good = match (&body, phase) {
                    (Ok(b), Phase::Healthz) => b.as_ref() == b"ok",
                    (Ok(b), Phase::CreateOrder) => {
                        let success = contains(b, br#""retCode":"SUCCESS""#);
                        // A copy: holding `b` would pin the connection's whole read buffer.
                        replies.push(b.to_vec());
                        success
                    }
                    _ => false,
                };
                if !good {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            }
            (latencies, replies)
        }));
    }
    let mut all = Vec::new();
    let mut replies = Vec::new();
    for t in tasks {
        let (latencies, bodies) = t.await.expect("load task");
        all.extend(latencies);
        replies.extend(bodies);
    }
    let seconds = started.elapsed().as_secs_f64();
    let requests = all.len().max(1) as f64;
    let per_request =
        |before: Option<f64>, after: Option<f64>| Some((after? - before?) * 1e6 / requests);
    let server_cpu_us = per_request(cpu_before.0, server_pid.and_then(cpu_seconds));
    let loadgen_cpu_us = per_request(cpu_before.1, cpu_seconds(std::process::id()));
    let machine_busy = match (cpu_before.2, machine_cpu()) {
        (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
            Some((busy1 - busy0) as f64 / (total1 - total0) as f64)
        }
        _ => None,
    };
    let unsigned = replies.iter().filter(|b| !signed_success(b)).count() as u64;
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let bad = bad.load(Ordering::Relaxed).max(unsigned);
    Measured {
        ok: all.len() as u64 - bad.min(all.len() as u64),
        bad,
        seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        server_cpu_us,
        loadgen_cpu_us,
        machine_busy,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn signed_success(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(reply)) => {
            reply.get("retCode").and_then(Value::as_str) == Some("SUCCESS")
                && codec::verify_excluding(&reply, codec::REPLY_UNSIGNED, KEY)
        }
        _ => false,
    }
}

async fn query(addr: &str, order_no: &str) -> bool {
    let mut params = Params::new();
    params.insert("mchId".into(), json!(MCH_ID));
    params.insert("appId".into(), json!(APP_ID));
    params.insert("mchOrderNo".into(), json!(order_no));
    let sign = codec::sign_params(&params, &["sign"], KEY);
    params.insert("sign".into(), json!(sign));
    let mut sender = connect(addr).await;
    let request = hyper::Request::post("/api/pay/query_order")
        .header("host", addr)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(encode_form(&[(
            "params",
            &Value::Object(params).to_string(),
        )]))))
        .expect("request");
    match sender.send_request(request).await {
        Ok(reply) => match reply.into_body().collect().await {
            Ok(body) => signed_success(&body.to_bytes()),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

async fn bench(backend: &str, seconds: u64, connections: usize, rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    // Dropped at the end of the bench.
    let postgres = match backend {
        "postgres" => Some(
            paymux_store::create_test_database("paymux_bench")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        _ => None,
    };
    let database = match (backend, &postgres) {
        ("sqlite", _) => format!("sqlite://{}/bench.db", dir.path().display()),
        (_, Some(db)) => db.url().to_owned(),
        (other, None) => panic!("unknown backend {other}"),
    };
    let port = free_port();
    let config_path = dir.path().join("bench.toml");
    std::fs::write(&config_path, config(&database, port)).expect("config");
    let server = start(&config_path, port).await;
    let duration = Duration::from_secs(seconds);

    // Warm up both paths, then measure each for the same time, one after the other, in
    // rounds: this VM's speed drifts, and a ratio is only fair within one round.
    let (addr, pid) = (server.addr.as_str(), Some(server.child.id()));
    let warm_up = Duration::from_secs(2);
    load(addr, pid, Phase::Healthz, connections, warm_up, "w").await;
    load(addr, pid, Phase::CreateOrder, connections, warm_up, "warm").await;
    let mut ratios = Vec::new();
    let mut bad = 0;
    let mut last_run = String::new();
    for round in 1..=rounds {
        last_run = format!("run{round}x");
        let healthz = load(addr, pid, Phase::Healthz, connections, duration, "h").await;
        let create = load(
            addr,
            pid,
            Phase::CreateOrder,
            connections,
            duration,
            &last_run,
        )
        .await;
        println!(
            "{backend:>8}  #{round} /healthz      {:>9.0} req/s   p50 {:>6} µs   p99 {:>6} µs   errors {}{}",
            healthz.rate(),
            healthz.p50_us,
            healthz.p99_us,
            healthz.bad,
            healthz.cpu()
        );
        println!(
            "{backend:>8}  #{round} create_order  {:>9.0} req/s   p50 {:>6} µs   p99 {:>6} µs   errors {}   ratio {:.2}{}",
            create.rate(),
            create.p50_us,
            create.p99_us,
            create.bad,
            create.rate() / healthz.rate(),
            create.cpu()
        );
        ratios.push(create.rate() / healthz.rate());
        bad += create.bad;
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "{backend:>8}  median ratio over {rounds} rounds: {:.2}",
        ratios[ratios.len() / 2]
    );

    // Durability: kill -9 right after the load, restart, and look the orders up.
    let url = server.url.clone();
    drop(server);
    let server = start(&config_path, port).await;
    let mut found = 0;
    let sample = 200;
    for i in 0..sample {
        let connection = i % connections;
        if query(
            &server.addr,
            &order_no(&last_run, connection, i / connections),
        )
        .await
        {
            found += 1;
        }
    }
    println!(
        "{backend:>8}  after kill -9: {found}/{sample} sampled acknowledged orders found at {url}"
    );
    assert_eq!(bad, 0, "every create_order reply is a signed SUCCESS");
    assert_eq!(found, sample, "acknowledged orders survive kill -9");
}

/// Loads a gateway someone else started; `PAYMUX_BENCH_PID` names its process to report
/// its CPU time.
async fn bench_running(addr: &str, seconds: u64, connections: usize) {
    let duration = Duration::from_secs(seconds);
    let pid = std::env::var("PAYMUX_BENCH_PID")
        .ok()
        .and_then(|p| p.parse().ok());
    let run = format!("ext{}", std::process::id());
    let phases = std::env::var("PAYMUX_BENCH_PHASES").unwrap_or_else(|_| "healthz,create".into());
    for phase in phases.split(',') {
        let (name, measured) = match phase.trim() {
            "healthz" => (
                "/healthz",
                load(addr, pid, Phase::Healthz, connections, duration, "h").await,
            ),
            "create" => (
                "create_order",
                load(addr, pid, Phase::CreateOrder, connections, duration, &run).await,
            ),
            other => panic!("unknown phase {other}"),
        };
        println!(
            "{addr}  {name:<12}  {:>9.0} req/s   p50 {:>6} µs   p99 {:>6} µs   errors {}{}",
            measured.rate(),
            measured.p50_us,
            measured.p99_us,
            measured.bad,
            measured.cpu()
        );
    }
}

fn main() {
    let seconds = env_or("PAYMUX_BENCH_SECONDS", 10u64);
    let connections = env_or("PAYMUX_BENCH_CONNECTIONS", 32usize);
    let rounds = env_or("PAYMUX_BENCH_ROUNDS", 3usize).max(1);
    if let Ok(addr) = std::env::var("PAYMUX_BENCH_ADDR") {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(bench_running(&addr, seconds, connections));
        return;
    }
    let backends =
        std::env::var("PAYMUX_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "paymux gateway benchmark: {connections} connections, {seconds} s per phase, {} CPUs",
        num_cpus()
    );
    runtime.block_on(async {
        for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
            bench(backend, seconds, connections, rounds).await;
        }
    });
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
