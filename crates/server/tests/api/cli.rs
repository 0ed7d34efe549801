//! The `paymux` command: `serve` on its embedded defaults prints a demo merchant and a
//! request that works; `client` signs, sends, verifies and prints.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::helpers::{Backend, TestGateway, config_text};

fn paymux() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paymux"))
}

/// Runs `paymux serve` on the embedded defaults just long enough to read its banner.
fn banner(data_dir: &std::path::Path) -> Vec<String> {
    let mut child = paymux()
        .args(["serve", "--data-dir"])
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
    lines
}

#[test]
fn serve_without_a_config_prints_a_demo_merchant_and_a_request_that_signs() {
    let dir = tempfile::tempdir().unwrap();
    let first = banner(dir.path());
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
    assert!(curl.contains("http://127.0.0.1:8080/api/pay/create_order"));

    let kept = dir.path().join("demo-merchant.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner can read the keys");
    }
    let second = banner(dir.path());
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
