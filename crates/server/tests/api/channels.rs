//! The core against a channel that answers as real upstreams sometimes do and the sandbox
//! never does: a close it does not confirm, a query that never answers. The gateway runs
//! on a real SQLite store with a scripted channel in place of the sandbox.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use paymux_core::Fen;
use paymux_core::channel::{Channel, ChannelOutcome, Channels, PayAction, PaymentStart};
use paymux_core::clock::ManualClock;
use paymux_core::dialect::DialectTag;
use paymux_core::gateway::{Gateway, GatewaySettings, NewOrder, Operator};
use paymux_core::ids::{MerchantId, MerchantOrderNo};
use paymux_core::merchant::{Merchant, Settlement};
use paymux_core::order::{Attempt, AttemptStatus, Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::refund::Refund;
use paymux_core::store::{OrderKey, Store};
use paymux_core::time::Millis;

const T0: Millis = Millis(1_750_000_000_000);

/// What the channel answers, set by the test as it goes.
struct Script {
    start: ChannelOutcome,
    close: ChannelOutcome,
    query: ChannelOutcome,
    /// Orders (merchant order numbers) whose queries never answer.
    hanging: Vec<String>,
    closes_asked: usize,
    refunds: Vec<String>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            start: ChannelOutcome::Pending {
                check_after_s: None,
            },
            close: ChannelOutcome::Unknown {
                reason: "timed out".into(),
            },
            query: ChannelOutcome::Pending {
                check_after_s: None,
            },
            hanging: Vec::new(),
            closes_asked: 0,
            refunds: Vec::new(),
        }
    }
}

struct ScriptedChannel {
    name: &'static str,
    script: Mutex<Script>,
}

impl ScriptedChannel {
    fn new(name: &'static str) -> Arc<ScriptedChannel> {
        Arc::new(ScriptedChannel {
            name,
            script: Mutex::default(),
        })
    }

    fn set(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.script.lock().expect("script"));
    }

    fn get<T>(&self, read: impl FnOnce(&Script) -> T) -> T {
        read(&self.script.lock().expect("script"))
    }
}

#[async_trait]
impl Channel for ScriptedChannel {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn start_payment(&self, _order: &Order, _attempt: &Attempt) -> PaymentStart {
        PaymentStart {
            outcome: self.get(|s| s.start.clone()),
            action: PayAction::QrCode("scripted://pay".into()),
        }
    }

    async fn query_payment(&self, order: &Order, _: &Attempt, _: Millis) -> ChannelOutcome {
        if self.get(|s| s.hanging.contains(&order.merchant_order_no.to_string())) {
            std::future::pending::<()>().await;
        }
        self.get(|s| s.query.clone())
    }

    async fn close_payment(&self, _: &Order, _: &Attempt) -> ChannelOutcome {
        let mut script = self.script.lock().expect("script");
        script.closes_asked += 1;
        script.close.clone()
    }

    async fn refund(&self, _: &Order, refund: &Refund, _: Millis) -> ChannelOutcome {
        self.set(|s| s.refunds.push(refund.id.to_string()));
        ChannelOutcome::Pending {
            check_after_s: Some(5),
        }
    }
}

struct Setup {
    op: Operator,
    gateway: Gateway,
    channel: Arc<ScriptedChannel>,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        paymux_store::connect(&format!("sqlite://{}/p.db", dir.path().display()))
            .await
            .expect("store"),
    );
    let channel = ScriptedChannel::new("scripted");
    let clock = Arc::new(ManualClock::new(T0));
    let op = gateway_on(&store, &channel, &clock).await;
    Setup {
        gateway: op.gateway(),
        op,
        channel,
        clock,
        store,
        _dir: dir,
    }
}

async fn gateway_on(
    store: &Arc<dyn Store>,
    channel: &Arc<ScriptedChannel>,
    clock: &Arc<ManualClock>,
) -> Operator {
    Operator::start(
        store.clone(),
        Channels::new(channel.clone()),
        clock.clone(),
        vec![Merchant {
            id: MerchantId::new("m"),
            name: "M".into(),
            settlement: Settlement::T1,
            payout_fee: Fen::ZERO,
        }],
        GatewaySettings::default(),
    )
    .await
    .expect("gateway")
}

fn merchant() -> MerchantId {
    MerchantId::new("m")
}

async fn new_order(gateway: &Gateway, no: &str) -> Order {
    let new = NewOrder {
        merchant_id: MerchantId::new("m"),
        merchant_order_no: MerchantOrderNo::parse(no, 32).expect("order no"),
        dialect: DialectTag::new("upp"),
        pay_way: PayWay {
            wallet: Wallet::WeChat,
            method: PayMethod::Qr,
        },
        amount: Fen::from_fen_str("100").expect("amount"),
        currency: "cny".into(),
        subject: "s".into(),
        body: "b".into(),
        notify_url: None,
        return_url: None,
        client_ip: None,
        extra: Default::default(),
        expires_at: None,
        auth_code: None,
    };
    gateway.create_order(new).await.expect("order").order
}

/// An order closed while the channel, by default, does not confirm the close.
async fn closed_in_doubt(s: &Setup, no: &str, reason: &str) -> Order {
    let order = new_order(&s.gateway, no).await;
    s.gateway
        .close_order(&merchant(), OrderKey::Platform(&order.id), reason)
        .await
        .unwrap();
    order
}

/// One round of the poller, `after_s` seconds on; how many attempts it asked about.
async fn poll_after(s: &Setup, after_s: i64) -> usize {
    s.clock.advance_secs(after_s);
    s.op.check_pending_attempts(10).await.unwrap()
}

async fn attempt_status(op: &Operator, order: &Order) -> AttemptStatus {
    op.latest_attempt(&order.id)
        .await
        .expect("store")
        .expect("attempt")
        .status
}

#[tokio::test]
async fn a_close_the_channel_does_not_confirm_is_asked_again_until_it_is() {
    let s = setup().await;
    let order = new_order(&s.gateway, "C1").await;

    // The channel times out on the close and still shows the payment waiting: the order
    // closes, the attempt stays under watch.
    let closed = s
        .gateway
        .close_order(&merchant(), OrderKey::Platform(&order.id), "merchant")
        .await
        .unwrap();
    assert_eq!(closed.status, OrderStatus::Closed);
    assert_eq!(attempt_status(&s.op, &order).await, AttemptStatus::Paying);
    assert_eq!(s.op.check_pending_attempts(10).await.unwrap(), 0);

    // Still not confirmed when asked again: asked once more a minute later.
    assert_eq!(poll_after(&s, 11).await, 1);
    assert_eq!(s.channel.get(|c| c.closes_asked), 2);
    assert_eq!(attempt_status(&s.op, &order).await, AttemptStatus::Paying);

    // Confirmed: the attempt closes and nobody asks about it any more.
    s.channel.set(|c| c.close = ChannelOutcome::Closed);
    assert_eq!(poll_after(&s, 61).await, 1);
    assert_eq!(attempt_status(&s.op, &order).await, AttemptStatus::Closed);
    assert_eq!(poll_after(&s, 3600).await, 0);
    assert_eq!(s.channel.get(|c| c.closes_asked), 3);

    let order = s.op.order_by_id(&order.id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Closed);
    assert_eq!(
        order.fail_msg.as_deref(),
        Some("merchant"),
        "the close reason stays"
    );
    assert!(s.channel.get(|c| c.refunds.is_empty()));
}

#[tokio::test]
async fn a_payment_that_slipped_past_an_unconfirmed_close_is_found_and_refunded() {
    let s = setup().await;
    let order = closed_in_doubt(&s, "C2", "expired").await;

    // The payer paid while the close was in doubt.
    s.channel.set(|c| {
        c.query = ChannelOutcome::Succeeded {
            trade_no: "WX1".into(),
            payer: None,
            at: T0.plus_secs(5),
            amount: order.amount,
            funding: None,
        }
    });
    assert_eq!(poll_after(&s, 11).await, 1);

    assert_eq!(
        attempt_status(&s.op, &order).await,
        AttemptStatus::Succeeded
    );
    let order = s.op.order_by_id(&order.id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Closed);
    let refunds = s
        .gateway
        .refunds_of_order(&merchant(), &order.id)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    assert!(refunds[0].automatic);
    assert_eq!(refunds[0].amount, order.amount);
    assert_eq!(
        s.channel.get(|c| c.refunds.clone()),
        vec![refunds[0].id.to_string()]
    );
}

#[tokio::test]
async fn a_payment_that_failed_behind_an_unconfirmed_close_leaves_the_order_as_closed() {
    let s = setup().await;
    let order = closed_in_doubt(&s, "C3", "expired").await;

    s.channel.set(|c| {
        c.query = ChannelOutcome::Failed {
            code: "ORDERCLOSED".into(),
            msg: "订单已关闭".into(),
        }
    });
    assert_eq!(poll_after(&s, 11).await, 1);

    let attempt = s.op.latest_attempt(&order.id).await.unwrap().unwrap();
    assert_eq!(attempt.status, AttemptStatus::Failed);
    assert_eq!(attempt.fail_code.as_deref(), Some("ORDERCLOSED"));
    let order = s.op.order_by_id(&order.id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Closed);
    assert_eq!(
        order.fail_msg.as_deref(),
        Some("expired"),
        "the close reason stays"
    );
}

#[tokio::test]
async fn a_close_that_is_never_confirmed_is_asked_less_and_less_then_given_up() {
    let s = setup().await;
    let order = new_order(&s.gateway, "C4").await;
    s.channel
        .set(|c| c.close = ChannelOutcome::unsupported("closing payments"));
    s.gateway
        .close_order(&merchant(), OrderKey::Platform(&order.id), "merchant")
        .await
        .unwrap();

    // Two days of polling every minute.
    for _ in 0..(2 * 24 * 60) {
        s.clock.advance_secs(60);
        s.op.check_pending_attempts(10).await.unwrap();
    }
    let asked = s.channel.get(|c| c.closes_asked);
    assert!(
        (20..=120).contains(&asked),
        "asked {asked} times in a day, not once a minute"
    );
    assert_eq!(attempt_status(&s.op, &order).await, AttemptStatus::Closed);
    assert_eq!(poll_after(&s, 3600).await, 0);
}

/// Orders whose attempts the poller is due to check: the channel asks for a check 10 s on.
async fn awaiting_checks(s: &Setup, numbers: &[&str]) -> Vec<Order> {
    s.channel.set(|c| {
        c.start = ChannelOutcome::Pending {
            check_after_s: Some(10),
        }
    });
    let mut orders = Vec::new();
    for no in numbers {
        orders.push(new_order(&s.gateway, no).await);
        // Claimed oldest first: the later orders are checked after the earlier ones.
        s.clock.advance_secs(1);
    }
    s.clock.advance_secs(10);
    orders
}

fn paid_by_channel() -> ChannelOutcome {
    ChannelOutcome::Succeeded {
        trade_no: "WX9".into(),
        payer: None,
        at: T0,
        amount: Fen::from_fen_str("100").expect("amount"),
        funding: None,
    }
}

#[tokio::test]
async fn a_channel_query_that_never_answers_holds_up_only_its_own_attempt() {
    let s = setup().await;
    let orders = awaiting_checks(&s, &["H1", "H2", "H3", "OK"]).await;
    s.channel.set(|c| {
        c.hanging = vec!["H1".into(), "H2".into(), "H3".into()];
        c.query = paid_by_channel();
    });

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(paymux_server::workers::run_poller(s.op.clone(), stopped));
    let started = Instant::now();
    let ok = &orders[3];
    while attempt_status(&s.op, ok).await == AttemptStatus::Paying
        && started.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(attempt_status(&s.op, ok).await, AttemptStatus::Succeeded);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "checked after {:?}",
        started.elapsed()
    );
    for hanging in &orders[..3] {
        assert_eq!(attempt_status(&s.op, hanging).await, AttemptStatus::Paying);
    }
    let _ = stop.send(true);
    poller.abort();
}

#[tokio::test]
async fn a_check_that_fails_for_one_attempt_does_not_abandon_the_rest_of_its_round() {
    let s = setup().await;
    // An attempt made through a channel this gateway no longer has, checked first.
    let orphan = awaiting_checks(&s, &["GONE"]).await.remove(0);
    let replacement = ScriptedChannel::new("replacement");
    let op = gateway_on(&s.store, &replacement, &s.clock).await;
    replacement.set(|c| {
        c.start = ChannelOutcome::Pending {
            check_after_s: Some(10),
        };
        c.query = paid_by_channel();
    });
    let order = new_order(&op.gateway(), "HERE").await;
    s.clock.advance_secs(10);

    assert_eq!(op.check_pending_attempts(10).await.unwrap(), 2);
    assert_eq!(attempt_status(&op, &order).await, AttemptStatus::Succeeded);
    assert_eq!(attempt_status(&op, &orphan).await, AttemptStatus::Paying);
}

#[tokio::test]
async fn a_channel_success_of_another_amount_is_held_never_reported_as_paid() {
    let s = setup().await;
    let order = new_order(&s.gateway, "C5").await;
    let short = Fen::from_fen_str("99").expect("amount");
    s.channel.set(|c| {
        c.query = ChannelOutcome::Succeeded {
            trade_no: "WX5".into(),
            payer: None,
            at: T0.plus_secs(5),
            amount: short,
            funding: None,
        }
    });
    // The channel is asked (as after an unknown answer) and says "paid 99 fen".
    s.op.apply_attempt_outcome(
        &order.id,
        1,
        ChannelOutcome::Unknown {
            reason: "timed out".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(poll_after(&s, 6).await, 1);

    let attempt = s.op.latest_attempt(&order.id).await.unwrap().unwrap();
    assert_eq!(attempt.status, AttemptStatus::Held);
    assert_eq!(attempt.fail_code.as_deref(), Some("AMOUNT_MISMATCH"));
    assert_eq!(attempt.channel_trade_no.as_deref(), Some("WX5"));
    let held = s
        .gateway
        .find_order(&merchant(), OrderKey::Platform(&order.id))
        .await
        .unwrap();
    assert_eq!(held.status, OrderStatus::Paying, "not paid");
    assert!(held.paid_at.is_none());
    assert!(
        s.gateway
            .refunds_of_order(&merchant(), &order.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Asked again, it says the same: nothing changes, and the attempt is not polled.
    assert_eq!(poll_after(&s, 60).await, 0);

    // The right amount on the same attempt is not taken either: an operator decides.
    let after =
        s.op.apply_attempt_outcome(
            &order.id,
            1,
            ChannelOutcome::Succeeded {
                trade_no: "WX5".into(),
                payer: None,
                at: T0.plus_secs(7),
                amount: order.amount,
                funding: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(after.status, OrderStatus::Paying);
}
