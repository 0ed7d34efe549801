//! The `paymux` command: `serve` on its embedded defaults prints a demo merchant and a
//! request that works; `client` signs, sends, verifies and prints.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::helpers::{Backend, TestGateway, config_text, free_port, paymux};

/// Runs `paymux serve` on the embedded defaults (on a free port: someone's gateway may be
/// on the default one) just long enough to read its banner; returns it and the port.
fn banner(data_dir: &std::path::Path) -> (Vec<String>, u16) {
    let port = free_port();
    let mut child = paymux()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("paymux serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let last = line.trim_start().starts_with("(README.md");
        lines.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (lines, port)
}

#[test]
fn serve_without_a_config_prints_a_demo_merchant_and_a_request_that_signs() {
    let dir = tempfile::tempdir().unwrap();
    let (first, port) = banner(dir.path());
    assert!(first[0].contains("generated and kept in"), "{first:?}");
    let xxpay = first
        .iter()
        .find(|l| l.trim_start().starts_with("xxpay"))
        .expect("xxpay credentials");
    let key = xxpay.rsplit("key=").next().unwrap().trim().to_owned();
    assert_eq!(key.len(), 32);
    for dialect in paymux_dialects::DIALECTS {
        assert!(
            first
                .iter()
                .any(|l| l.trim_start().starts_with(dialect.name())),
            "{} credentials printed: {first:?}",
            dialect.name()
        );
    }
    // The printed curl carries a request signed with the printed key.
    let curl = first
        .iter()
        .find(|l| l.contains("curl"))
        .expect("an example request");
    let json = curl.split("params=").nth(1).unwrap().trim_end_matches('\'');
    let params: paymux_dialects::xxpay::wire::Params =
        serde_json::from_str(json).expect("JSON params");
    assert!(
        paymux_dialects::xxpay::codec::verify(&params, &key),
        "{curl}"
    );
    assert!(curl.contains(&format!("http://127.0.0.1:{port}/api/pay/create_order")));

    let kept = dir.path().join("demo-merchant.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner can read the keys");
    }
    let (second, _) = banner(dir.path());
    assert!(second[0].contains("read from"), "{second:?}");
    assert!(
        second.iter().any(|l| l.contains(&key)),
        "the same key, kept"
    );
}

fn client(gw: &TestGateway, config: &std::path::Path, args: &[&str]) -> Value {
    let output = paymux()
        .arg("client")
        .args(&args[..1])
        .args(["--url", &gw.url, "--config"])
        .arg(config)
        .args(&args[1..])
        .output()
        .expect("paymux client");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("signature verified"));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

// Multi-threaded: the client runs as a blocking child process while this runtime serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_sign_send_verify_and_print() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("merchant.toml");
    std::fs::write(&config, config_text("sqlite://unused.db")).unwrap();
    let created = client(
        &gw,
        &config,
        &[
            "xxpay",
            "create-order",
            "--amount",
            "250",
            "--mch-order-no",
            "CLI1",
            "--product-id",
            "8003",
        ],
    );
    assert_eq!(created["retCode"], "SUCCESS");
    let id = created["payOrderId"].as_str().unwrap().to_owned();
    let pay_url = created["payParams"]["payUrl"].as_str().unwrap();
    let token = pay_url
        .strip_prefix(&format!("{}/cashier/{id}/", gw.url))
        .expect("the cashier link");
    assert_eq!(token.len(), 32, "{pay_url}");
    let queried = client(
        &gw,
        &config,
        &["xxpay", "query-order", "--mch-order-no", "CLI1"],
    );
    assert_eq!(queried["status"], 1);
    assert_eq!(queried["amount"], 250);

    let network = client(&gw, &config, &["upp", "network"]);
    assert_eq!(network["data"]["field"], "杭州恒生芸泰网络科技有限公司");
    let scan = client(
        &gw,
        &config,
        &[
            "upp",
            "scancode",
            "--payment-no",
            "CLI2",
            "--trade-fee",
            "1.50",
        ],
    );
    assert_eq!(scan["data"]["tradeStatus"], "wait_pay");
    assert_eq!(scan["data"]["tradeFee"], "1.50");
    let closed = client(&gw, &config, &["upp", "close", "--payment-no", "CLI2"]);
    assert_eq!(closed["data"]["isCloseOrder"], "Y");
}

/// Runs a client call and returns (exit code, stdout, stderr).
fn client_exit(args: &[&str], cwd: Option<&std::path::Path>) -> (i32, String, String) {
    let mut command = paymux();
    command.arg("client").args(args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let output = command.output().expect("paymux client");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_exits_non_zero_and_says_which_side_refused() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("merchant.toml");
    std::fs::write(&config, config_text("sqlite://unused.db")).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let wrong_key = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong_key,
        config_text("sqlite://unused.db").replace("EXAMPLEKEY123", "NOTTHEKEY999"),
    )
    .unwrap();
    let wrong_key = wrong_key.to_str().unwrap().to_owned();
    let url = gw.url.clone();

    // The server refuses: exit 1, its words quoted.
    let (code, stdout, stderr) = client_exit(
        &[
            "--url",
            &url,
            "--config",
            &config,
            "xxpay",
            "query-order",
            "--pay-order-id",
            "P0",
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("\"retCode\": \"FAIL\""), "{stdout}");
    assert!(
        stderr.contains("the server refused our request: 支付订单不存在."),
        "{stderr}"
    );
    let (code, _, stderr) = client_exit(
        &[
            "--url",
            &url,
            "--config",
            &wrong_key,
            "xxpay",
            "create-order",
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the server refused our request: 验证签名失败."),
        "{stderr}"
    );
    let (code, _, stderr) = client_exit(
        &[
            "--url",
            &url,
            "--config",
            &config,
            "upp",
            "query",
            "--payment-no",
            "NONE",
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the server refused our request: kind 2002"),
        "{stderr}"
    );

    // The reply does not verify with our key: exit 4, and it says so, not "refused".
    let fake = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_url = format!("http://{}", fake.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            r#"{"retCode":"SUCCESS","payOrderId":"P1","sign":"00000000000000000000000000000000"}"#
        });
        axum::serve(fake, app).await
    });
    let (code, _, stderr) = client_exit(
        &[
            "--url",
            &fake_url,
            "--config",
            &config,
            "xxpay",
            "create-order",
        ],
        None,
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("the reply's signature does not verify"),
        "{stderr}"
    );

    // Nobody at the URL: exit 3.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let (code, _, stderr) = client_exit(
        &["--url", &nobody, "--config", &config, "upp", "network"],
        None,
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("no paymux answers at {nobody}")),
        "{stderr}"
    );

    // No credentials: exit 2, and where it looked.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = client_exit(&["xxpay", "create-order"], Some(empty.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no demo merchant at paymux-data/demo-merchant.toml"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "looked in {}",
            empty.path().canonicalize().unwrap().display()
        )) || stderr.contains(&format!("looked in {}", empty.path().display())),
        "{stderr}"
    );
}

#[test]
fn every_client_argument_has_help_text() {
    for dialect in paymux_dialects::DIALECTS {
        let command = dialect.client_command();
        for operation in command.get_subcommands() {
            assert!(
                operation.get_about().is_some(),
                "{} {}",
                dialect.name(),
                operation.get_name()
            );
            for arg in operation.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "{} {} --{}",
                    dialect.name(),
                    operation.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}

#[test]
fn a_port_in_use_is_one_clear_line_before_any_banner() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = paymux()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("paymux serve");
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.is_empty(), "no banner: {stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("paymux: "))
        .expect("the error line");
    assert!(
        line.contains(&addr) && line.contains("already in use"),
        "{line}"
    );
    assert!(line.contains("--listen"), "{line}");
}

#[test]
fn a_config_without_merchants_or_with_a_placeholder_key_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let output = paymux()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no [[merchant]]"), "{stderr}");

    std::fs::write(
        &config,
        config_text("sqlite://x.db").replace("EXAMPLEKEY123", "…"),
    )
    .unwrap();
    let output = paymux()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[merchant.xxpay] key is a placeholder"),
        "{stderr}"
    );
}

#[test]
fn serve_listens_where_told_keeps_the_demo_merchant_and_logs_each_request_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = paymux()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("paymux serve");
    let stdout = child.stdout.take().unwrap();
    let mut banner = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let last = line.trim_start().starts_with("(README.md");
        banner.push(line);
        if last {
            break;
        }
    }
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("curl -s http://{addr}/api/pay/create_order"))),
        "the banner's request goes where the server listens: {banner:?}"
    );
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("client --url http://{addr} xxpay"))),
        "{banner:?}"
    );
    let reply = std::process::Command::new("curl")
        .args(["-s", &format!("http://{addr}/healthz")])
        .output();
    let healthz = match reply {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(_) => {
            // No curl: a plain HTTP/1.0 request by hand.
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            text
        }
    };
    assert!(healthz.ends_with("ok"), "{healthz}");
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    let access = log
        .lines()
        .find(|l| l.contains("paymux::access") && l.contains("path=/healthz"))
        .unwrap_or_else(|| panic!("an access line: {log}"));
    assert!(access.contains(" INFO "), "{access}");
    assert!(
        access.contains("method=GET") && access.contains("status=200"),
        "{access}"
    );
    assert!(access.contains("latency_ms="), "{access}");
    assert!(!log.contains('\u{1b}'), "no colours into a pipe: {log:?}");
}

#[test]
fn a_second_server_on_the_same_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first_addr = format!("127.0.0.1:{}", free_port());
    let mut first = paymux()
        .args(["serve", "--listen", &first_addr, "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("paymux serve");
    let stdout = first.stdout.take().unwrap();
    // Started: its banner is out.
    let started = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.trim_start().starts_with("(README.md"));
    assert!(started);
    let second = paymux()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("a second paymux serve");
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("paymux.db"), "names the file: {stderr}");
    assert!(stderr.contains("another paymux"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&second.stdout).is_empty(),
        "no banner"
    );
}

// Multi-threaded: the client runs as a blocking child process while this runtime serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xxpay_client_closes_an_unpaid_order_and_says_why_it_cannot_close_a_paid_one() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("merchant.toml");
    std::fs::write(&config, config_text("sqlite://unused.db")).unwrap();
    let created = client(
        &gw,
        &config,
        &["xxpay", "create-order", "--mch-order-no", "CLOSE1"],
    );
    let id = created["payOrderId"].as_str().unwrap().to_owned();
    let closed = client(
        &gw,
        &config,
        &["xxpay", "close-order", "--pay-order-id", &id],
    );
    assert_eq!(closed["status"], 5);
    assert_eq!(closed["mchOrderNo"], "CLOSE1");

    client(
        &gw,
        &config,
        &["xxpay", "create-order", "--mch-order-no", "CLOSE2"],
    );
    let paid = gw
        .xxpay
        .query_order(&paymux_dialects::xxpay::wire::QueryOrderRequest {
            mch_order_no: Some("CLOSE2".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    assert_eq!(gw.pay(&paid, "success").await.status(), 200);
    let output = paymux()
        .args(["client", "xxpay", "--url", &gw.url, "--config"])
        .arg(&config)
        .args(["close-order", "--mch-order-no", "CLOSE2"])
        .output()
        .expect("paymux client");
    assert!(!output.status.success(), "a refusal is a failure");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("订单已支付,不能关闭."),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let help = paymux()
        .args(["client", "xxpay", "close-order", "--help"])
        .output()
        .expect("paymux client --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for argument in ["--pay-order-id", "--mch-order-no"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(argument))
            .unwrap_or_else(|| panic!("{argument} in {help}"));
        assert!(
            line.len() > argument.len() + 20,
            "{argument} is explained: {line}"
        );
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `paymux … | head` where head has already gone: the write fails with a broken pipe,
    // which must not become a panic.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = paymux()
        .args(["keys", "hrss", "--generate"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("paymux keys");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
