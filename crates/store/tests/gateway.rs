//! The core's commands over the real store, on both backends, where the answer depends on
//! how the database behaves under concurrency: refunds racing on one request number, and
//! node leases between instances.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use paymux_core::channel::{Channel, ChannelOutcome, Channels, PayAction, PaymentStart};
use paymux_core::clock::{Clock, ManualClock};
use paymux_core::dialect::DialectTag;
use paymux_core::gateway::{GatewaySettings, NODE_LEASE_S, NewOrder, NewRefund};
use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo};
use paymux_core::merchant::{Merchant, Settlement};
use paymux_core::order::{Attempt, Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::refund::Refund;
use paymux_core::store::Store;
use paymux_core::time::Millis;
use paymux_core::{Error, Fen, Operator};
use paymux_store::SqlStore;
use serde_json::Map;

mod common;

use common::backends;

const T0: Millis = Millis(1_750_000_000_000);

/// Payments succeed at once; refunds succeed after a moment at the channel, so that
/// concurrent requests overlap the first one's call.
struct Scripted;

#[async_trait]
impl Channel for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn start_payment(&self, order: &Order, _attempt: &Attempt) -> PaymentStart {
        PaymentStart {
            outcome: ChannelOutcome::Succeeded {
                trade_no: format!("T{}", order.id),
                payer: None,
                at: order.created_at,
                amount: order.amount,
                funding: None,
            },
            action: PayAction::None,
        }
    }

    async fn refund(&self, _order: &Order, refund: &Refund, now: Millis) -> ChannelOutcome {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ChannelOutcome::Succeeded {
            trade_no: format!("RF{}", refund.id),
            payer: None,
            at: now,
            amount: refund.amount,
            funding: None,
        }
    }
}

fn merchant() -> MerchantId {
    MerchantId::new("demo")
}

async fn gateway(store: &Arc<SqlStore>, clock: &Arc<ManualClock>) -> Operator {
    let store: Arc<dyn Store> = store.clone();
    let clock: Arc<dyn Clock> = clock.clone();
    Operator::start(
        store,
        Channels::new(Arc::new(Scripted)),
        clock,
        vec![Merchant {
            id: merchant(),
            name: "Demo".into(),
            settlement: Settlement::T1,
            payout_fee: Fen::ZERO,
        }],
        GatewaySettings::default(),
    )
    .await
    .expect("gateway")
}

async fn paid_order(gw: &Operator, name: &str, order_no: &str) -> Order {
    let created = gw
        .gateway()
        .create_order(NewOrder {
            merchant_id: merchant(),
            merchant_order_no: MerchantOrderNo::parse(order_no, 32).expect("order no"),
            dialect: DialectTag::new("upp"),
            pay_way: PayWay::new(Wallet::WeChat, PayMethod::Barcode),
            amount: Fen::positive(100).expect("amount"),
            currency: "cny".into(),
            subject: "挂号费".into(),
            body: String::new(),
            notify_url: None,
            return_url: None,
            client_ip: None,
            extra: Map::new(),
            expires_at: None,
            auth_code: Some("134567890123456781".into()),
        })
        .await
        .expect(name);
    assert_eq!(created.order.status, OrderStatus::Succeeded, "{name}");
    created.order
}

fn new_refund(order: &Order, refund_no: &str, request_no: &str, amount: i64) -> NewRefund {
    NewRefund {
        merchant_id: merchant(),
        order_id: order.id.clone(),
        dialect: DialectTag::new("upp"),
        refund_no: RefundNo::parse(refund_no, 32).expect("refund no"),
        request_no: Some(RefundRequestNo::parse(request_no, 32).expect("request no")),
        amount: Fen::positive(amount).expect("amount"),
        reason: String::new(),
        extra: Map::new(),
        split: None,
    }
}

/// On PostgreSQL a concurrent insert of the same refund breaks the refund number's key
/// before the request number's; either way, the same request gets the same answer.
#[tokio::test]
async fn twenty_concurrent_refunds_with_one_request_number_are_one_refund() {
    let b = backends("paymux_gateway_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let gw = gateway(store, &clock).await;
        let order = paid_order(&gw, name, "ORDER1").await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let gw = gw.gateway();
                let request = new_refund(&order, "RN1", "REQ1", 30);
                tokio::spawn(async move { gw.request_refund(request).await })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                Ok(refund) => ids.push(refund.id),
                Err(e) => panic!("{name}: {e:?}"),
            }
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{name}: one refund for all twenty: {ids:?}");
        let refunds = store.refunds_of_order(&order.id).await.expect(name);
        assert_eq!(refunds.len(), 1, "{name}");
        let stored = store.order_by_id(&order.id).await.expect(name);
        let stored = stored.expect(name);
        assert_eq!(stored.refund_reserved, Fen::new(30).unwrap(), "{name}");

        // Other requests still get their own answers.
        let reused_number = gw
            .gateway()
            .request_refund(new_refund(&order, "RN1", "REQ2", 30))
            .await;
        assert!(
            matches!(reused_number, Err(Error::DuplicateRefundNo)),
            "{name}: {reused_number:?}"
        );
        let other_amount = gw
            .gateway()
            .request_refund(new_refund(&order, "RN1", "REQ1", 10))
            .await;
        assert!(
            matches!(other_amount, Err(Error::RequestNoConflict)),
            "{name}: {other_amount:?}"
        );
    }
}

fn node_of(id: &PlatformId) -> &str {
    &id.as_str()[13..17]
}

#[tokio::test]
async fn an_instance_whose_node_lease_was_taken_moves_its_ids_to_a_new_number() {
    let b = backends("paymux_gateway_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let first = gateway(store, &clock).await;
        let second = gateway(store, &clock).await;
        assert_ne!(first.node(), second.node(), "{name}");
        assert_eq!(
            node_of(&first.new_id('P')),
            format!("{:04}", first.node()),
            "{name}"
        );
        // The second keeps renewing; the first is paused past its lease...
        clock.advance_secs(NODE_LEASE_S / 2);
        assert_eq!(second.renew_node_lease().await.expect(name), second.node());
        clock.advance_secs(NODE_LEASE_S / 2 + 1);
        // ...and a third instance starts and takes its number.
        let lost = first.node();
        let third = gateway(store, &clock).await;
        assert_eq!(third.node(), lost, "{name}: the expired number is reused");
        // The first one's next renewal notices, and its ids carry a new number.
        let now_held = first.renew_node_lease().await.expect(name);
        assert_eq!(first.node(), now_held, "{name}");
        assert!(
            ![lost, second.node()].contains(&now_held),
            "{name}: {now_held} is held by no one else"
        );
        assert_eq!(
            node_of(&first.new_id('P')),
            format!("{now_held:04}"),
            "{name}"
        );
        assert_eq!(third.renew_node_lease().await.expect(name), lost, "{name}");
    }
}

#[tokio::test]
async fn the_node_lease_keeper_stops_when_told() {
    let b = backends("paymux_gateway_test").await;
    let clock = Arc::new(ManualClock::new(T0));
    let gw = gateway(&b.list[0].1, &clock).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let keeper = tokio::spawn(gw.clone().keep_node_lease(stopped));
    stop.send(true).expect("send");
    tokio::time::timeout(Duration::from_secs(5), keeper)
        .await
        .expect("stops at once")
        .expect("task");
}
