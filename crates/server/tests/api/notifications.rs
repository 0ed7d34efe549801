//! The notifier: at-least-once delivery on the dialect's schedule, across restarts, once
//! per attempt with two instances, never to private addresses unless allowed, and never
//! held up by another merchant's slow endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use paymux_core::clock::Clock;
use paymux_dialects::xxpay::XxpayClient;
use paymux_dialects::xxpay::wire::CreateOrderRequest;
use paymux_server::notifier::{self, PER_MERCHANT_IN_FLIGHT};

use crate::helpers::{Backend, Receiver, TestGateway};

async fn paid_order(gw: &TestGateway, no: &str, notify_url: &str) -> String {
    paid_order_of(gw, &gw.xxpay, no, notify_url).await
}

async fn paid_order_of(
    gw: &TestGateway,
    client: &XxpayClient,
    no: &str,
    notify_url: &str,
) -> String {
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

/// A merchant's endpoints that misbehave: `/sleep` answers `success` after 10 s, `/hang`
/// never answers, `/error` answers HTTP 500 at once. Counts the requests being handled
/// and the most there were at once.
#[derive(Clone, Default)]
struct SlowMerchant {
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
}

impl SlowMerchant {
    async fn start() -> (SlowMerchant, String) {
        let merchant = SlowMerchant::default();
        let counts = merchant.clone();
        let app = axum::Router::new().route(
            "/{behaviour}",
            axum::routing::post(
                move |axum::extract::Path(behaviour): axum::extract::Path<String>| {
                    let counts = counts.clone();
                    async move {
                        counts.received.fetch_add(1, Ordering::SeqCst);
                        let open = counts.open.fetch_add(1, Ordering::SeqCst) + 1;
                        counts.most_open.fetch_max(open, Ordering::SeqCst);
                        let _open = Decrement(counts.open.clone());
                        match behaviour.as_str() {
                            "sleep" => {
                                tokio::time::sleep(Duration::from_secs(10)).await;
                                "success".into_response()
                            }
                            "hang" => std::future::pending().await,
                            _ => (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response(),
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (merchant, url)
    }
}

/// Counts a request as no longer open when its handler ends or is dropped.
struct Decrement(Arc<AtomicUsize>);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_merchant_whose_endpoints_hang_does_not_delay_another_merchants_notifications() {
    let (gw, slow_client) = TestGateway::spawn_with_other_merchant(Backend::Sqlite).await;
    let (slow, slow_url) = SlowMerchant::start().await;
    // 120 notifications of the slow merchant are due before the healthy merchant's.
    for i in 0..120 {
        let behaviour = ["sleep", "hang", "error"][i % 3];
        paid_order_of(
            &gw,
            &slow_client,
            &format!("SLOW{i}"),
            &format!("{slow_url}/{behaviour}"),
        )
        .await;
    }

    // The notifier as it runs in production, on a clock that moves with real time.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let notifier = tokio::spawn(notifier::run(gw.running.notifier.clone(), stopped));
    let clock = gw.clock.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            clock.set(clock.now().plus_millis(50));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while slow.open.load(Ordering::SeqCst) < PER_MERCHANT_IN_FLIGHT && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        slow.open.load(Ordering::SeqCst),
        PER_MERCHANT_IN_FLIGHT,
        "the slow merchant's sends are hanging"
    );

    let healthy = Receiver::start().await;
    for i in 0..4 {
        let paid_at = Instant::now();
        let id = paid_order(&gw, &format!("OK{i}"), &healthy.url).await;
        while healthy.received().len() < i + 1 && paid_at.elapsed() < Duration::from_secs(15) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let delay = paid_at.elapsed();
        let received = healthy.received();
        assert_eq!(received.len(), i + 1, "notification {i} arrived");
        assert_eq!(
            received[i].field("payOrderId").as_deref(),
            Some(id.as_str())
        );
        assert!(
            delay < Duration::from_secs(1),
            "notification {i} took {delay:?} behind the slow merchant"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert!(
        slow.most_open.load(Ordering::SeqCst) <= PER_MERCHANT_IN_FLIGHT,
        "at most {PER_MERCHANT_IN_FLIGHT} sends at once to one merchant, saw {}",
        slow.most_open.load(Ordering::SeqCst)
    );
    // Past 10 s the sleeping endpoint answers and the hanging sends time out: the next
    // of the slow merchant's notifications go out as slots free.
    let before = slow.received.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        slow.received.load(Ordering::SeqCst) > before,
        "the slow merchant's backlog moves on"
    );
    let _ = stop.send(true);
    ticker.abort();
    notifier.abort();
}
