//! What operators see: `/healthz` and `/metrics`.

use paymux_dialects::xxpay::wire::CreateOrderRequest;

use crate::helpers::{Backend, Receiver, TestGateway};

async fn metrics(gw: &TestGateway) -> String {
    let reply = gw
        .http
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.text().await.unwrap()
}

fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn healthz_answers_ok() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw
        .http
        .get(format!("{}/healthz", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn metrics_count_requests_by_dialect_and_outcome_notifications_and_the_outbox() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let request = CreateOrderRequest {
        product_id: Some("8002".into()),
        mch_order_no: Some("M1".into()),
        currency: Some("cny".into()),
        amount: Some("1".into()),
        notify_url: Some(merchant.url.clone()),
        subject: Some("s".into()),
        body: Some("b".into()),
        ..Default::default()
    };
    let id = gw
        .xxpay
        .create_order(&request)
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    gw.xxpay.create_order(&request).await.unwrap(); // a duplicate: refused
    gw.upp.network().await.unwrap();
    gw.pay(&id, "success").await;

    let before = metrics(&gw).await;
    assert_eq!(
        value(
            &before,
            r#"paymux_requests_total{dialect="xxpay",outcome="success"}"#
        ),
        Some(1.0),
        "{before}"
    );
    assert_eq!(
        value(
            &before,
            r#"paymux_requests_total{dialect="xxpay",outcome="fail"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &before,
            r#"paymux_requests_total{dialect="upp",outcome="success"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &before,
            r#"paymux_request_duration_seconds_count{dialect="xxpay"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        value(&before, "paymux_outbox_depth"),
        Some(1.0),
        "one notification waiting"
    );

    merchant.answer_with(&["not yet"]);
    gw.deliver().await;
    gw.advance(60);
    gw.deliver().await;
    let after = metrics(&gw).await;
    assert_eq!(
        value(
            &after,
            r#"paymux_notifications_total{dialect="xxpay",outcome="retry"}"#
        ),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        value(
            &after,
            r#"paymux_notifications_total{dialect="xxpay",outcome="delivered"}"#
        ),
        Some(1.0)
    );
    assert_eq!(value(&after, "paymux_outbox_depth"), Some(0.0));
}
