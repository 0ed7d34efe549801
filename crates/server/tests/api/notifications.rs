//! The notifier: at-least-once delivery on the dialect's schedule, across restarts, once
//! per attempt with two instances, and never to private addresses unless allowed.

use paymux_dialects::xxpay::wire::CreateOrderRequest;

use crate::helpers::{Backend, Receiver, TestGateway};

async fn paid_order(gw: &TestGateway, no: &str, notify_url: &str) -> String {
    let reply = gw
        .xxpay
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
    assert_eq!(reply.ret_code.as_deref(), Some("SUCCESS"), "{reply:?}");
    let id = reply.pay_order_id.expect("payOrderId");
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    id
}

#[tokio::test]
async fn unacknowledged_notifications_are_retried_on_the_xxpay_schedule_then_given_up() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    merchant.answer_with(&["fail", "FAIL", "ok", "", "<html>error</html>", "nope"]);
    paid_order(&gw, "S1", &merchant.url).await;

    assert_eq!(gw.deliver().await.retried, 1, "first attempt at once");
    for (i, delay) in [60, 120, 180, 240, 300].into_iter().enumerate() {
        gw.advance(delay - 1);
        assert_eq!(
            gw.deliver().await.attempts(),
            0,
            "retry {} not before {delay} s",
            i + 1
        );
        gw.advance(1);
        let round = gw.deliver().await;
        assert_eq!(round.attempts(), 1, "retry {} after {delay} s", i + 1);
        if i < 4 {
            assert_eq!(round.retried, 1);
        } else {
            assert_eq!(round.gave_up, 1, "six attempts, then it gives up");
        }
    }
    gw.advance(3600);
    assert_eq!(gw.deliver().await.attempts(), 0);
    assert_eq!(merchant.received().len(), 6);
}

#[tokio::test]
async fn an_acknowledgement_is_success_in_any_case_with_whitespace() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    merchant.answer_with(&["fail", " SUCCESS\r\n"]);
    paid_order(&gw, "S2", &merchant.url).await;
    assert_eq!(gw.deliver().await.retried, 1);
    gw.advance(60);
    assert_eq!(gw.deliver().await.delivered, 1);
    gw.advance(600);
    assert_eq!(gw.deliver().await.attempts(), 0);
    assert_eq!(merchant.received().len(), 2);
}

#[tokio::test]
async fn the_retry_schedule_comes_from_the_config() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.notify.set("xxpay", vec![5]).expect("a schedule")
    })
    .await;
    let merchant = Receiver::start().await;
    merchant.answer_with(&["no", "no"]);
    paid_order(&gw, "S3", &merchant.url).await;
    assert_eq!(gw.deliver().await.retried, 1);
    gw.advance(5);
    assert_eq!(gw.deliver().await.gave_up, 1);
}

#[tokio::test]
async fn a_notification_written_before_a_restart_is_delivered_after_it() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let merchant = Receiver::start().await;
        let id = paid_order(&gw, "S4", &merchant.url).await;
        let gw = gw.restart().await;
        assert_eq!(gw.deliver().await.delivered, 1, "{backend:?}");
        let received = merchant.received();
        assert_eq!(received.len(), 1);
        assert_eq!(
            received[0].field("payOrderId").as_deref(),
            Some(id.as_str())
        );
    }
}

#[tokio::test]
async fn two_instances_on_one_postgres_send_each_notification_once() {
    let first = TestGateway::spawn(Backend::Postgres).await;
    let second = first.another_instance().await;
    let merchant = Receiver::start().await;
    for i in 0..40 {
        let gw = if i % 2 == 0 { &first } else { &second };
        paid_order(gw, &format!("TWO{i}"), &merchant.url).await;
    }
    let (a, b) = tokio::join!(
        async {
            let mut total = 0;
            for _ in 0..10 {
                total += first.deliver().await.delivered;
            }
            total
        },
        async {
            let mut total = 0;
            for _ in 0..10 {
                total += second.deliver().await.delivered;
            }
            total
        }
    );
    assert_eq!(a + b, 40, "every notification delivered");
    let received = merchant.received();
    assert_eq!(received.len(), 40, "and each exactly once");
    let mut ids: Vec<String> = received
        .iter()
        .filter_map(|r| r.field("payOrderId"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
}

#[tokio::test]
async fn private_callback_addresses_are_refused_unless_allowed() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.allow_private_callbacks = false
    })
    .await;
    for url in [
        "http://127.0.0.1:9/notify",
        "http://10.0.0.8/n",
        "http://169.254.169.254/",
        "http://localhost/n",
    ] {
        let reply = gw
            .xxpay
            .create_order(&CreateOrderRequest {
                product_id: Some("8002".into()),
                mch_order_no: Some("PRIV".into()),
                currency: Some("cny".into()),
                amount: Some("1".into()),
                notify_url: Some(url.into()),
                subject: Some("s".into()),
                body: Some("b".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(reply.ret_code.as_deref(), Some("FAIL"), "{url}");
        assert_eq!(
            reply.ret_msg.as_deref(),
            Some(
                "请求参数[notifyUrl]不能指向本机或内网地址(允许内网回调须设置[server] allow_private_callbacks = true)."
            )
        );
    }
}

#[tokio::test]
async fn a_host_name_that_resolves_to_a_private_address_is_not_called() {
    // The policy is checked when a notification is sent (names can change what they
    // resolve to): an order made while private callbacks were allowed is not delivered
    // to a loopback address by a gateway that forbids them.
    let merchant = Receiver::start().await;
    let by_name = merchant.url.replace("127.0.0.1", "localhost");
    let lenient = TestGateway::spawn(Backend::Postgres).await;
    let id = paid_order(&lenient, "S5", &by_name).await;
    let database = lenient.database.clone();
    lenient.running.stop().await;
    let strict = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.allow_private_callbacks = false;
        c.server.database = database;
    })
    .await;
    assert_eq!(
        strict.deliver().await.retried,
        1,
        "refused, to be retried later"
    );
    assert!(
        merchant.received().is_empty(),
        "nothing reached the loopback address"
    );
    let notes = paymux_core::store::Store::notifications_about(
        strict.running.store.as_ref(),
        &paymux_core::ids::PlatformId::from_string(id),
    )
    .await
    .unwrap();
    let error = notes[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("callback URL refused") || error.contains("private"),
        "{error}"
    );
}
