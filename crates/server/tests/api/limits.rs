//! How the gateway bounds HTTP work (issue 9 point 9): connections that never finish their
//! headers are closed while healthy requests keep being answered; far more concurrent
//! requests than the limit get a signed success or the dialect's busy reply, in bounded
//! memory; a request not done in time gets the busy reply; running out of descriptors is
//! survived.

use std::num::{NonZeroU64, NonZeroUsize};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paymux_dialects::xxpay::codec::{self, REPLY_UNSIGNED};
use paymux_dialects::xxpay::wire::{CreateOrderRequest, Params};
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    Backend, TestGateway, UPP_ISV_ID, UPP_PARTNER_ID, XXPAY_APP_ID, XXPAY_KEY, XXPAY_MCH_ID,
    config_text, free_port,
};

const XXPAY_BUSY: &str =
    r#"{"retCode":"FAIL","resCode":"FAIL","retMsg":"系统繁忙,请稍后再试.","errCode":"0010"}"#;

fn nonzero(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).expect("not zero")
}

fn order(no: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        product_id: Some("8002".into()),
        mch_order_no: Some(no.into()),
        currency: Some("cny".into()),
        amount: Some("100".into()),
        notify_url: Some("http://127.0.0.1:9/notify".into()),
        subject: Some("s".into()),
        body: Some("b".into()),
        ..Default::default()
    }
}

fn xxpay_client(url: &str) -> paymux_dialects::xxpay::XxpayClient {
    paymux_dialects::xxpay::XxpayClient::new(
        url,
        XXPAY_MCH_ID,
        XXPAY_APP_ID,
        SecretString::from(XXPAY_KEY),
    )
    .expect("client")
}

/// A signed create_order as a JSON body, `padding` spaces after it (xxpay trims them).
fn create_order_head_and_json(host: &str, no: &str, padding: usize) -> (String, String) {
    let params = xxpay_client(&format!("http://{host}")).signed_params(&order(no));
    let json = Value::Object(params).to_string();
    let head = format!(
        "POST /api/pay/create_order HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        json.len() + padding
    );
    (head, json)
}

/// Splits a raw HTTP/1.1 reply into its status code and body.
fn status_and_body(reply: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(reply);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// One request on a kept-alive connection: the reply's status line and body.
async fn exchange(stream: &mut TcpStream, request: &str) -> Option<(u16, String)> {
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some((status, body)) = status_and_body(&reply) {
            let text = String::from_utf8_lossy(&reply);
            let length = text
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())?;
            if body.len() >= length {
                return Some((status, body));
            }
        }
    }
}

#[tokio::test]
async fn slow_header_connections_are_closed_and_healthy_requests_keep_being_answered() {
    let cap: usize = 16;
    let attackers: usize = 64;
    let timeout = Duration::from_secs(1);
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.max_connections = NonZeroUsize::new(cap);
        c.server.header_read_timeout_s = nonzero(1);
    })
    .await;
    let host = gw.running.addr.to_string();
    let health = format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n");

    // A merchant's kept-alive connection, open before the attack.
    let mut kept = TcpStream::connect(&host).await.unwrap();
    assert_eq!(exchange(&mut kept, &health).await, Some((200, "ok".into())));

    // Four times as many connections as the cap, each sending its headers a byte at a time.
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..attackers {
        let host = host.clone();
        slow.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&host).await.expect("connects");
            let head =
                format!("POST /api/pay/create_order HTTP/1.1\r\nhost: {host}\r\nx-slow-{i}: ");
            let _ = stream.write_all(head.as_bytes()).await;
            let mut buf = [0u8; 64];
            loop {
                if started.elapsed() > Duration::from_secs(20) {
                    return (started.elapsed(), Some(b"still open".to_vec()));
                }
                tokio::select! {
                    read = stream.read(&mut buf) => {
                        return match read {
                            Ok(0) | Err(_) => (started.elapsed(), None),
                            Ok(n) => (started.elapsed(), Some(buf[..n].to_vec())),
                        };
                    }
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if stream.write_all(b"a").await.is_err() {
                            return (started.elapsed(), None);
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // While they are open: the kept-alive connection is answered at once, and new
    // connections within the time it takes the attackers queued ahead to time out, in
    // waves of as many as the slots the kept-alive connection leaves.
    let waves = attackers.div_ceil(cap - 1) as u32;
    let new_connection_bound = timeout * (waves + 2);
    let mut fresh = Vec::new();
    for _ in 0..8 {
        let request = health.clone();
        let host = host.clone();
        fresh.push(tokio::spawn(async move {
            let asked = Instant::now();
            let mut stream = TcpStream::connect(&host).await.expect("connects");
            let reply = exchange(&mut stream, &request).await;
            (asked.elapsed(), reply)
        }));
        for _ in 0..2 {
            let asked = Instant::now();
            let reply = exchange(&mut kept, &health).await;
            assert_eq!(reply, Some((200, "ok".into())), "the kept-alive connection");
            assert!(
                asked.elapsed() < Duration::from_millis(500),
                "kept-alive answered in {:?}",
                asked.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for handle in fresh {
        let (took, reply) = handle.await.unwrap();
        assert_eq!(reply, Some((200, "ok".into())), "a new connection");
        assert!(
            took < new_connection_bound,
            "new connection answered in {took:?}"
        );
    }

    // Every slow connection was closed by the server, without an answer, in waves of
    // `cap` a header timeout apart.
    for handle in slow {
        let (closed_at, reply) = handle.await.unwrap();
        assert_eq!(reply, None, "a slow connection got no reply");
        assert!(closed_at >= timeout, "closed after {closed_at:?}");
        assert!(
            closed_at < new_connection_bound,
            "closed after {closed_at:?}"
        );
    }
    let reply = gw.xxpay.create_order(&order("AFTER-ATTACK")).await.unwrap();
    assert_eq!(reply.ret_code.as_deref(), Some("SUCCESS"));
}

#[tokio::test]
async fn a_request_not_done_within_the_timeout_gets_the_dialects_busy_reply() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.request_timeout_s = nonzero(1);
        c.server.max_concurrent_requests = NonZeroUsize::MIN;
    })
    .await;
    let host = gw.running.addr.to_string();

    // xxpay: a create_order whose body stops halfway.
    let (head, json) = create_order_head_and_json(&host, "SLOW-BODY", 0);
    let mut xxpay = TcpStream::connect(&host).await.unwrap();
    xxpay.write_all(head.as_bytes()).await.unwrap();
    xxpay
        .write_all(&json.as_bytes()[..json.len() / 2])
        .await
        .unwrap();
    // upp: a refund whose body stops halfway.
    let upp_body = format!(
        r#"{{"isvId":{UPP_ISV_ID},"partnerId":{UPP_PARTNER_ID},"version":"1.0.0","timestamp":1}}"#
    );
    let mut upp = TcpStream::connect(&host).await.unwrap();
    let upp_head = format!(
        "POST /access/refund HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{}",
        upp_body.len(),
        &upp_body[..10]
    );
    upp.write_all(upp_head.as_bytes()).await.unwrap();
    let sent = Instant::now();

    // Sending slowly holds a connection, not the only slot: others are served meanwhile.
    let reply = gw.xxpay.create_order(&order("MEANWHILE")).await.unwrap();
    assert_eq!(reply.ret_code.as_deref(), Some("SUCCESS"));

    let mut raw = Vec::new();
    xxpay.read_to_end(&mut raw).await.unwrap();
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let (status, body) = status_and_body(&raw).expect("an HTTP reply");
    assert_eq!(status, 200);
    assert_eq!(body, XXPAY_BUSY);

    let mut raw = Vec::new();
    upp.read_to_end(&mut raw).await.unwrap();
    let (status, body) = status_and_body(&raw).expect("an HTTP reply");
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_str(&body).expect(&body);
    assert_eq!(reply["result"], false, "{body}");
    assert_eq!(reply["kind"], "9998", "{body}");
    assert_eq!(reply["msg"], "系统繁忙,请稍后再试", "{body}");
    // A refund cut off may have been recorded: the merchant is told to query, not that it
    // failed (which would invite a second refund under a new number).
    assert_eq!(reply["data"]["tradeStatus"], "refund_exception", "{body}");
}

#[tokio::test]
async fn a_payer_page_whose_body_never_arrives_is_cut_off_and_others_are_served() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.request_timeout_s = nonzero(1);
        c.server.max_concurrent_requests = NonZeroUsize::MIN;
    })
    .await;
    let host = gw.running.addr.to_string();
    // Any id and token: the body is read (and timed) before the link is checked.
    let mut slow = Vec::new();
    for path in ["/cashier/P1/t/pay", "/bills/C1/t", "/sandbox/orders/P1/pay"] {
        let mut stream = TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\n\
             content-type: application/x-www-form-urlencoded\r\n\
             content-length: 100\r\nconnection: close\r\n\r\nresult=succ"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    let sent = Instant::now();

    // The one slot is not held by them: a merchant and a payer are served meanwhile.
    let reply = gw.xxpay.create_order(&order("MEANWHILE")).await.unwrap();
    assert_eq!(reply.ret_code.as_deref(), Some("SUCCESS"));
    let style = gw
        .http
        .get(format!("{}/assets/paymux.css", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(style.status(), 200);

    for mut stream in slow {
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
            .await
            .expect("the slow request is cut off, not left waiting")
            .unwrap();
        let took = sent.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        let (status, body) = status_and_body(&raw).expect("an HTTP reply");
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("系统繁忙"), "{body}");
    }
    assert!(sent.elapsed() >= Duration::from_secs(1));
}

/// The real `paymux` binary, so that its memory is measured apart from the test's.
struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// `kB` lines of /proc/PID/status: `VmHWM` is the peak resident set.
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect(field)
    }

    /// User and system CPU time, in clock ticks (1/100 s).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server is running");
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        ticks(11) + ticks(12)
    }
}

/// Starts `paymux serve` with `[server]` lines added, through `sh` when `shell_prefix`
/// is set (`ulimit -n 64; `), and waits for /healthz.
async fn start_binary(
    dir: &tempfile::TempDir,
    server_lines: &str,
    shell_prefix: Option<&str>,
    stderr: Stdio,
) -> (Process, String) {
    let port = free_port();
    let database = format!("sqlite://{}/paymux.db", dir.path().display());
    let config = config_text(&database)
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace(
            "allow_private_callbacks = true",
            &format!("allow_private_callbacks = true\n{server_lines}"),
        );
    let config_path = dir.path().join("paymux.toml");
    std::fs::write(&config_path, config).unwrap();
    let binary = env!("CARGO_BIN_EXE_paymux");
    let mut command = match shell_prefix {
        Some(prefix) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("{prefix}exec \"$0\" serve --config \"$1\""))
                .arg(binary)
                .arg(&config_path);
            sh
        }
        None => {
            let mut direct = Command::new(binary);
            direct.arg("serve").arg("--config").arg(&config_path);
            direct
        }
    };
    let child = command
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("paymux starts");
    let process = Process { child };
    let host = format!("127.0.0.1:{port}");
    let http = paymux_dialects::common::http_client().expect("client");
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("http://{host}/healthz")).send().await
            && r.status() == 200
        {
            return (process, host);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("paymux did not come up at {host}");
}

#[tokio::test]
async fn far_more_concurrent_create_orders_than_the_limit_get_success_or_busy_in_bounded_memory() {
    // Each request carries a 240 KiB body (a signed order padded with spaces) and all are
    // sent at once, so that the server's peak memory shows how many bodies it held at the
    // same time: at most one per open connection (32 here), about 8 MiB, against 140 MiB
    // if it took in every request and queued it for one of the 2 slots.
    const REQUESTS: usize = 600;
    const PADDING: usize = 240 * 1024;
    const BOUND_KIB: u64 = 48 * 1024;
    assert!((REQUESTS * PADDING) as u64 / 1024 > 2 * BOUND_KIB);

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let (server, host) = start_binary(
        &dir,
        "max_connections = 32\nmax_concurrent_requests = 2\nrequest_timeout_s = 15",
        None,
        Stdio::from(stderr),
    )
    .await;
    // Warm up (database pages, the allocator's arenas) before taking the baseline.
    let client = xxpay_client(&format!("http://{host}"));
    for i in 0..20 {
        let reply = client
            .create_order(&order(&format!("WARM{i}")))
            .await
            .unwrap();
        assert_eq!(reply.ret_code.as_deref(), Some("SUCCESS"));
    }
    let before = server.status_kib("VmHWM");

    let padding: Arc<[u8]> = vec![b' '; PADDING].into();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let (head, json) = create_order_head_and_json(&host, &format!("LOAD{i}"), PADDING);
            let host = host.clone();
            let padding = padding.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&host).await.expect("connects");
                stream.write_all(head.as_bytes()).await.expect("head sent");
                stream.write_all(json.as_bytes()).await.expect("order sent");
                stream.write_all(&padding).await.expect("padding sent");
                let mut reply = Vec::new();
                stream.read_to_end(&mut reply).await.expect("a reply");
                status_and_body(&reply)
            })
        })
        .collect();
    let (mut succeeded, mut busy) = (0, 0);
    for task in tasks {
        let (status, body) = task
            .await
            .unwrap()
            .expect("an HTTP reply, not a dropped connection");
        assert_eq!(status, 200, "{body}");
        if body == XXPAY_BUSY {
            busy += 1;
            continue;
        }
        let reply: Params = serde_json::from_str(&body).expect(&body);
        assert_eq!(reply["retCode"], "SUCCESS", "{body}");
        assert!(
            codec::verify_excluding(&reply, REPLY_UNSIGNED, XXPAY_KEY),
            "{body}"
        );
        succeeded += 1;
    }
    let after = server.status_kib("VmHWM");
    assert!(
        succeeded > 0 && busy > 0,
        "{succeeded} succeeded, {busy} busy"
    );
    assert!(
        after.saturating_sub(before) < BOUND_KIB,
        "peak memory grew from {before} kB to {after} kB"
    );
    // The cap and the refusals were reached hundreds of times, and each said so once.
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    for said in ["connection cap reached", "answered requests as busy"] {
        assert_eq!(
            log.lines().filter(|l| l.contains(said)).count(),
            1,
            "{said}: {log}"
        );
    }
}

#[tokio::test]
async fn running_out_of_descriptors_is_logged_once_and_survived_without_spinning() {
    // 64 descriptors and a cap above it: accept fails with EMFILE while idle connections
    // hold them all, until the header timeout closes those.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let (server, host) = start_binary(
        &dir,
        "max_connections = 500\nheader_read_timeout_s = 2",
        Some("ulimit -n 64; "),
        Stdio::from(stderr),
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(
            TcpStream::connect(&host)
                .await
                .expect("the kernel queues it"),
        );
    }
    let cpu_before = server.cpu_ticks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = server.cpu_ticks() - cpu_before;
    assert!(
        spent < 30,
        "{spent} ticks of CPU in a second without descriptors"
    );

    // Once the idle connections are closed, the gateway answers again.
    let health = format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n");
    let asked = Instant::now();
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(15), exchange(&mut stream, &health))
        .await
        .expect("answered within 15 s");
    assert_eq!(
        reply,
        Some((200, "ok".into())),
        "after {:?}",
        asked.elapsed()
    );
    drop(idle);
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    let reports = log
        .lines()
        .filter(|l| l.contains("cannot accept connections"))
        .count();
    assert_eq!(reports, 1, "{log}");
    assert!(log.contains("Too many open files"), "{log}");
}
