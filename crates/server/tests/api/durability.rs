//! The real `paymux` binary, killed with SIGKILL: what it acknowledged survives, and a
//! notification written before the kill is delivered after the restart.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use paymux_dialects::xxpay::wire::{CreateOrderRequest, QueryOrderRequest};

use crate::helpers::{Receiver, config_text, free_port};

struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(config: &std::path::Path, url: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_paymux"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("paymux starts");
    let process = Process { child };
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{url}/healthz")).await
            && r.status() == 200
        {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("paymux did not come up at {url}");
}

fn kill_9(mut process: Process) {
    // SIGKILL: no shutdown, no flush, nothing after the reply.
    process.child.kill().expect("kill -9");
    process.child.wait().expect("reaped");
}

fn order(no: &str, notify_url: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        product_id: Some("8002".into()),
        mch_order_no: Some(no.into()),
        currency: Some("cny".into()),
        amount: Some("100".into()),
        notify_url: Some(notify_url.into()),
        subject: Some("s".into()),
        body: Some("b".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn acknowledged_orders_and_their_notifications_survive_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/paymux.db", dir.path().display());
    survives_kill_9(&dir, &database).await;
}

#[tokio::test]
async fn acknowledged_orders_and_their_notifications_survive_kill_9_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let database = paymux_store::create_test_database("paymux_kill_test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    survives_kill_9(&dir, database.url()).await;
}

async fn survives_kill_9(dir: &tempfile::TempDir, database: &str) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let config = config_text(database)
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace(
            "[[merchant]]",
            "[notify]\nxxpay = [1, 1, 1, 1, 1]\n\n[[merchant]]",
        );
    let config_path = dir.path().join("paymux.toml");
    std::fs::write(&config_path, config).unwrap();
    let client = paymux_dialects::xxpay::XxpayClient::new(
        &url,
        crate::helpers::XXPAY_MCH_ID,
        crate::helpers::XXPAY_APP_ID,
        secrecy::SecretString::from(crate::helpers::XXPAY_KEY),
    )
    .unwrap();

    // The merchant's endpoint is down for now: the notification stays in the outbox.
    let merchant_port = free_port();
    let notify_url = format!("http://127.0.0.1:{merchant_port}/notify");
    let server = start(&config_path, &url).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let reply = client
            .create_order(&order(&format!("K{i}"), &notify_url))
            .await
            .unwrap();
        assert_eq!(reply.ret_code.as_deref(), Some("SUCCESS"));
        ids.push(reply.pay_order_id.unwrap());
    }
    let paid = reqwest::Client::new()
        .post(format!("{url}/sandbox/orders/{}/pay", ids[0]))
        .body(r#"{"result":"success"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    kill_9(server);

    let merchant = Receiver::start_on(&format!("127.0.0.1:{merchant_port}")).await;
    let _server = start(&config_path, &url).await;
    for (i, id) in ids.iter().enumerate() {
        let found = client
            .query_order(&QueryOrderRequest {
                mch_order_no: Some(format!("K{i}")),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.pay_order_id.as_ref(), Some(id), "order K{i} survived");
    }
    for _ in 0..100 {
        if !merchant.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = merchant.received();
    assert_eq!(
        received.len(),
        1,
        "the notification written before the kill was delivered"
    );
    assert_eq!(received[0].field("payOrderId").as_ref(), Some(&ids[0]));
}
