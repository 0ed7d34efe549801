//! Store behaviour, written once and run against both backends: SQLite in a temporary
//! directory and a freshly created PostgreSQL database.

use std::sync::Arc;

use paymux_core::Fen;
use paymux_core::dialect::DialectTag;
use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId, RefundNo, RefundRequestNo};
use paymux_core::notification::{
    DeliveryRecord, Notification, NotificationEvent, NotificationStatus,
};
use paymux_core::order::{Attempt, AttemptStatus, Order, OrderStatus};
use paymux_core::payway::{Funding, PayMethod, PayWay, Wallet};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::store::{
    AttemptSettlement, NodeLease, OrderClosing, OrderKey, RefundKey, RefundOrderUpdate,
    RefundSettlement, Store, StoreError,
};
use paymux_core::time::Millis;
use paymux_core::url::NotifyUrl;
use paymux_store::{SqlStore, TestDatabase};
use serde_json::Map;

const T0: Millis = Millis(1_750_000_000_000);

/// The stores, then what they live in: dropped in this order.
struct Backends {
    stores: Vec<(&'static str, Arc<SqlStore>)>,
    _dir: tempfile::TempDir,
    postgres: TestDatabase,
}

async fn backends() -> Backends {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}/paymux.db", dir.path().display());
    let sqlite = paymux_store::connect(&sqlite_url)
        .await
        .expect("sqlite store");
    let postgres_db = paymux_store::create_test_database("paymux_store_test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let postgres = paymux_store::connect(postgres_db.url())
        .await
        .expect("postgres store");
    Backends {
        stores: vec![
            ("sqlite", Arc::new(sqlite)),
            ("postgres", Arc::new(postgres)),
        ],
        _dir: dir,
        postgres: postgres_db,
    }
}

fn order(id: &str, order_no: &str, amount: i64) -> Order {
    Order {
        id: PlatformId::from_string(id),
        merchant_id: MerchantId::new("demo"),
        merchant_order_no: MerchantOrderNo::parse(order_no, 64).expect("order no"),
        dialect: DialectTag::new("xxpay"),
        pay_way: PayWay::new(Wallet::WeChat, PayMethod::Qr),
        channel: "sandbox".into(),
        amount: Fen::positive(amount).expect("amount"),
        currency: "cny".into(),
        subject: "测试商品".into(),
        body: "body".into(),
        status: OrderStatus::Paying,
        notify_url: Some(NotifyUrl::from_stored(
            "http://merchant.example/notify".into(),
        )),
        return_url: None,
        client_ip: None,
        extra: Map::new(),
        channel_trade_no: None,
        channel_user: None,
        refund_reserved: Fen::ZERO,
        refunded: Fen::ZERO,
        created_at: T0,
        expires_at: T0.plus_secs(3600),
        paid_at: None,
        closed_at: None,
        merchant_acked_at: None,
        fail_code: None,
        fail_msg: None,
        tries: paymux_core::order::Tries::Once,
        code_id: None,
        also_notify: None,
        escrow: None,
        splits: None,
    }
}

/// Inserts the order with its first attempt.
async fn stored(store: &SqlStore, name: &str, o: Order) -> Order {
    store
        .insert_order(&o, Some(&attempt(&o)))
        .await
        .expect(name);
    o
}

fn attempt(order: &Order) -> Attempt {
    Attempt::first(order, None, None)
}

/// Inserts the orders, each with its first attempt, all at once, so that they share a
/// batch. The results come in the orders' order.
async fn insert_together(store: &Arc<SqlStore>, orders: &[Order]) -> Vec<Result<(), StoreError>> {
    let tasks: Vec<_> = orders
        .iter()
        .cloned()
        .map(|o| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_order(&o, Some(&attempt(&o))).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("insert task"));
    }
    results
}

fn paid(order: &Order) -> AttemptSettlement {
    AttemptSettlement {
        order_id: order.id.clone(),
        seq: 1,
        attempt_from: AttemptStatus::Paying,
        attempt_to: AttemptStatus::Succeeded,
        order_from: OrderStatus::Paying,
        order_to: OrderStatus::Succeeded,
        at: T0.plus_secs(10),
        channel_trade_no: Some("wx123".into()),
        channel_user: Some("payer".into()),
        funding: Some(Funding::CreditCard),
        paid_at: Some(T0.plus_secs(10)),
        fail: None,
        notifications: vec![Notification::new(
            PlatformId::from_string(format!("N{}", order.id)),
            order.merchant_id.clone(),
            order.dialect.clone(),
            NotificationEvent::Pay,
            order.id.clone(),
            NotifyUrl::from_stored("http://merchant.example/notify".into()),
            T0.plus_secs(10),
        )],
        late_refund: None,
    }
}

fn refund(order: &Order, id: &str, refund_no: &str, amount: i64) -> Refund {
    Refund {
        id: PlatformId::from_string(id),
        merchant_id: order.merchant_id.clone(),
        order_id: order.id.clone(),
        attempt_seq: 1,
        dialect: DialectTag::new("upp"),
        refund_no: Some(RefundNo::parse(refund_no, 64).expect("refund no")),
        request_no: None,
        amount: Fen::positive(amount).expect("amount"),
        reason: String::new(),
        status: RefundStatus::Requested,
        automatic: false,
        channel_refund_no: None,
        fail_reason: None,
        extra: Map::new(),
        created_at: T0.plus_secs(20),
        finished_at: None,
        next_check_at: None,
        split: None,
    }
}

#[tokio::test]
async fn an_order_reads_back_as_written_by_either_key() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        let by_no = store
            .order(&o.merchant_id, OrderKey::Merchant(&o.merchant_order_no))
            .await
            .expect(name)
            .expect(name);
        assert_eq!(by_no.id, o.id, "{name}");
        assert_eq!(by_no.amount, Fen::positive(100).unwrap(), "{name}");
        assert_eq!(by_no.subject, "测试商品", "{name}");
        assert_eq!(by_no.status, OrderStatus::Paying, "{name}");
        let other_merchant = store
            .order(&MerchantId::new("other"), OrderKey::Platform(&o.id))
            .await
            .expect(name);
        assert!(
            other_merchant.is_none(),
            "{name}: merchants see only their own orders"
        );
        let a = store.latest_attempt(&o.id).await.expect(name).expect(name);
        assert_eq!(a.status, AttemptStatus::Paying, "{name}");
    }
}

#[tokio::test]
async fn the_database_refuses_a_second_order_with_the_same_number() {
    let b = backends().await;
    for (name, store) in &b.stores {
        stored(store, name, order("P1", "SAME", 100)).await;
        let second = order("P2", "SAME", 999);
        let err = store
            .insert_order(&second, Some(&attempt(&second)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::DuplicateOrderNo),
            "{name}: {err:?}"
        );
        assert!(
            store.order_by_id(&second.id).await.expect(name).is_none(),
            "{name}"
        );
        assert!(
            store
                .latest_attempt(&second.id)
                .await
                .expect(name)
                .is_none(),
            "{name}: nothing half-written"
        );
    }
}

/// Orders inserted at once are written as batches: a number taken twice in one batch is
/// refused once, and only the inserted orders get their attempts.
#[tokio::test]
async fn orders_inserted_together_keep_each_number_once_and_their_attempts() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let orders: Vec<Order> = (0..60)
            .map(|i| {
                let order_no = if i % 6 == 0 {
                    "SHARED".to_owned()
                } else {
                    format!("N{i}")
                };
                order(&format!("P{i}"), &order_no, 100 + i)
            })
            .collect();
        let results = insert_together(store, &orders).await;
        let mut shared_winners = 0;
        for (o, result) in orders.iter().zip(results) {
            let stored = store.order_by_id(&o.id).await.expect(name);
            let attempt = store.latest_attempt(&o.id).await.expect(name);
            match result {
                Ok(()) => {
                    assert_eq!(stored.map(|s| s.amount), Some(o.amount), "{name}");
                    assert!(attempt.is_some(), "{name}: {} has its attempt", o.id);
                    if o.merchant_order_no.as_str() == "SHARED" {
                        shared_winners += 1;
                    }
                }
                Err(e) => {
                    assert!(matches!(e, StoreError::DuplicateOrderNo), "{name}: {e:?}");
                    assert_eq!(o.merchant_order_no.as_str(), "SHARED", "{name}");
                    assert!(
                        stored.is_none() && attempt.is_none(),
                        "{name}: nothing half-written"
                    );
                }
            }
        }
        assert_eq!(shared_winners, 1, "{name}");
    }
}

#[tokio::test]
async fn a_settlement_applies_once_and_writes_its_notification_with_it() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        assert!(store.settle_attempt(&paid(&o)).await.expect(name), "{name}");
        assert!(
            !store.settle_attempt(&paid(&o)).await.expect(name),
            "{name}: the guard holds"
        );
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(stored.status, OrderStatus::Succeeded, "{name}");
        assert_eq!(stored.channel_trade_no.as_deref(), Some("wx123"), "{name}");
        let attempt = store.attempt(&o.id, 1).await.expect(name).expect(name);
        assert_eq!(attempt.funding, Some(Funding::CreditCard), "{name}");
        let notes = store.notifications_about(&o.id).await.expect(name);
        assert_eq!(notes.len(), 1, "{name}: one notification, not two");
        assert_eq!(store.outbox_depth().await.expect(name), 1, "{name}");
        let closing = OrderClosing {
            order_id: o.id.clone(),
            from: OrderStatus::Paying,
            at: T0.plus_secs(30),
            reason: "merchant".into(),
            recheck_attempt_at: None,
        };
        assert!(
            !store.close_order(&closing).await.expect(name),
            "{name}: a paid order does not close"
        );
    }
}

#[tokio::test]
async fn concurrent_refunds_never_reserve_more_than_was_paid() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            let r = refund(&o, &format!("R{i}"), &format!("RN{i}"), 30);
            tasks.push(tokio::spawn(async move { store.insert_refund(&r).await }));
        }
        let mut accepted = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(()) => accepted += 1,
                Err(StoreError::NotRefundable) => {}
                Err(other) => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(
            accepted, 3,
            "{name}: 3 × 30 fen fit in 100, a fourth does not"
        );
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(stored.refund_reserved, Fen::new(90).unwrap(), "{name}");
        assert_eq!(
            store.refunds_of_order(&o.id).await.expect(name).len(),
            3,
            "{name}"
        );
    }
}

#[tokio::test]
async fn refund_numbers_are_unique_per_merchant_and_a_refused_refund_reserves_nothing() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        store
            .insert_refund(&refund(&o, "R1", "RN", 10))
            .await
            .expect(name);
        let err = store
            .insert_refund(&refund(&o, "R2", "RN", 10))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::DuplicateRefundNo),
            "{name}: {err:?}"
        );
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(
            stored.refund_reserved,
            Fen::new(10).unwrap(),
            "{name}: the duplicate rolled back"
        );
        let found = store
            .refund(
                &o.merchant_id,
                RefundKey::RefundNo(&RefundNo::parse("RN", 64).unwrap()),
            )
            .await
            .expect(name)
            .expect(name);
        assert_eq!(found.id.as_str(), "R1", "{name}");
    }
}

#[tokio::test]
async fn an_unpaid_order_cannot_be_refunded() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        let err = store
            .insert_refund(&refund(&o, "R1", "RN", 10))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotRefundable), "{name}: {err:?}");
        assert!(
            store.refunds_of_order(&o.id).await.expect(name).is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_claimed_notification_is_not_claimed_again_until_its_lease_runs_out() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        let now = T0.plus_secs(11);
        let lease = now.plus_secs(60);
        let claimed = store.claim_notifications(now, lease, 10).await.expect(name);
        assert_eq!(claimed.len(), 1, "{name}");
        assert_eq!(claimed[0].attempts, 1, "{name}");
        assert!(
            store
                .claim_notifications(now, lease, 10)
                .await
                .expect(name)
                .is_empty(),
            "{name}"
        );
        // The sender died: the row comes back when the lease runs out, as attempt 2.
        let again = store
            .claim_notifications(lease, lease.plus_secs(60), 10)
            .await
            .expect(name);
        assert_eq!(again.len(), 1, "{name}");
        assert_eq!(again[0].attempts, 2, "{name}");
        // The first sender's late report is ignored; the second's counts.
        let delivered = DeliveryRecord::Delivered { at: lease };
        assert!(
            !store
                .record_delivery(&claimed[0], &delivered, Some(&o.id))
                .await
                .expect(name),
            "{name}"
        );
        assert!(
            store
                .record_delivery(&again[0], &delivered, Some(&o.id))
                .await
                .expect(name),
            "{name}"
        );
        let notes = store.notifications_about(&o.id).await.expect(name);
        assert_eq!(notes[0].status, NotificationStatus::Delivered, "{name}");
        assert_eq!(store.outbox_depth().await.expect(name), 0, "{name}");
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(stored.merchant_acked_at, Some(lease), "{name}");
    }
}

#[tokio::test]
async fn a_released_notification_comes_back_when_asked_with_its_attempt_uncounted() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        let now = T0.plus_secs(11);
        let lease = now.plus_secs(60);
        let claimed = store.claim_notifications(now, lease, 10).await.expect(name);
        assert_eq!(claimed[0].attempts, 1, "{name}");
        let back_at = now.plus_secs(2);
        assert!(
            store
                .release_notification(&claimed[0], back_at)
                .await
                .expect(name),
            "{name}"
        );
        // Not before the time it was handed back for, then as the same first attempt.
        assert!(
            store
                .claim_notifications(back_at.plus_millis(-1), lease, 10)
                .await
                .expect(name)
                .is_empty(),
            "{name}"
        );
        let again = store
            .claim_notifications(back_at, lease, 10)
            .await
            .expect(name);
        assert_eq!(again.len(), 1, "{name}");
        assert_eq!(again[0].attempts, 1, "{name}: the release did not count");
        let delivered = DeliveryRecord::Delivered { at: back_at };
        assert!(
            store
                .record_delivery(&again[0], &delivered, Some(&o.id))
                .await
                .expect(name),
            "{name}"
        );
        assert!(
            !store
                .release_notification(&again[0], back_at)
                .await
                .expect(name),
            "{name}: a delivered notification is not handed back"
        );
        let notes = store.notifications_about(&o.id).await.expect(name);
        assert_eq!(notes[0].status, NotificationStatus::Delivered, "{name}");
        assert_eq!(notes[0].attempts, 1, "{name}");
    }
}

#[tokio::test]
async fn concurrent_claimers_share_notifications_without_overlap() {
    let b = backends().await;
    for (name, store) in &b.stores {
        for i in 0..40 {
            let o = order(&format!("P{i}"), &format!("M{i}"), 100);
            store
                .insert_order(&o, Some(&attempt(&o)))
                .await
                .expect(name);
            store.settle_attempt(&paid(&o)).await.expect(name);
        }
        let now = T0.plus_secs(11);
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let batch = store
                        .claim_notifications(now, now.plus_secs(60), 3)
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        return ids;
                    }
                    ids.extend(batch.into_iter().map(|n| n.id));
                }
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(count, 40, "{name}: every notification claimed");
        assert_eq!(all.len(), 40, "{name}: none claimed twice");
    }
}

#[tokio::test]
async fn expired_open_orders_are_found_and_close_with_their_attempts() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        assert!(
            store.expired_orders(T0, 10).await.expect(name).is_empty(),
            "{name}"
        );
        let due = store.expired_orders(o.expires_at, 10).await.expect(name);
        assert_eq!(due, vec![o.id.clone()], "{name}");
        let closing = OrderClosing {
            order_id: o.id.clone(),
            from: OrderStatus::Paying,
            at: o.expires_at,
            reason: "expired".into(),
            recheck_attempt_at: None,
        };
        assert!(store.close_order(&closing).await.expect(name), "{name}");
        let a = store.latest_attempt(&o.id).await.expect(name).expect(name);
        assert_eq!(a.status, AttemptStatus::Closed, "{name}");
        assert!(
            store
                .expired_orders(o.expires_at, 10)
                .await
                .expect(name)
                .is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_order_closed_without_the_channels_confirmation_keeps_its_attempt_under_watch() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        let recheck = T0.plus_secs(40);
        let closing = OrderClosing {
            order_id: o.id.clone(),
            from: OrderStatus::Paying,
            at: T0.plus_secs(30),
            reason: "merchant".into(),
            recheck_attempt_at: Some(recheck),
        };
        assert!(store.close_order(&closing).await.expect(name), "{name}");
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(stored.status, OrderStatus::Closed, "{name}");
        let a = store.latest_attempt(&o.id).await.expect(name).expect(name);
        assert_eq!(a.status, AttemptStatus::Paying, "{name}");
        assert_eq!(a.next_check_at, Some(recheck), "{name}");
        let lease = recheck.plus_secs(60);
        let due = store.claim_attempt_checks(recheck, lease, 10).await;
        assert_eq!(due.expect(name).len(), 1, "{name}: the poller finds it");
    }
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_alone_in_its_batch() {
    let b = backends().await;
    for (name, store) in &b.stores {
        stored(store, name, order("P0", "N0", 100)).await;
        // Sent together, so that they share a batch: one reuses a stored platform id.
        let orders: Vec<Order> = (1..=9)
            .map(|i| {
                let id = if i == 5 {
                    "P0".to_owned()
                } else {
                    format!("P{i}")
                };
                order(&id, &format!("N{i}"), 100)
            })
            .collect();
        let results = insert_together(store, &orders).await;
        assert_only_refused(name, results, Some(5));
    }
}

/// PostgreSQL cannot store a NUL character in text (SQLite can). The dialects refuse one
/// at the door; should one get through, it fails its own order only, not its batch.
#[tokio::test]
async fn a_value_the_database_cannot_store_fails_alone_in_its_batch() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let orders: Vec<Order> = (1..=6)
            .map(|i| {
                let mut o = order(&format!("P{i}"), &format!("N{i}"), 100);
                if i == 3 {
                    o.subject = "bad\0subject".into();
                }
                o
            })
            .collect();
        let results = insert_together(store, &orders).await;
        let refused = (*name == "postgres").then_some(3);
        assert_only_refused(name, results, refused);
    }
}

/// Every order's insert succeeded but the `refused`-th (counting from 1), which the
/// database refused as a row.
fn assert_only_refused(name: &str, results: Vec<Result<(), StoreError>>, refused: Option<usize>) {
    for (i, result) in (1..).zip(results) {
        if Some(i) == refused {
            assert!(
                matches!(result, Err(StoreError::Constraint(_))),
                "{name}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "{name}: order {i}: {result:?}");
        }
    }
}

const LEASE_S: i64 = 60;

async fn register(store: &SqlStore, name: &str, at: Millis) -> NodeLease {
    store
        .register_node(at, at.plus_secs(LEASE_S))
        .await
        .expect(name)
}

/// Instances starting at the same moment (on PostgreSQL, racing for the same lowest free
/// number) all get numbers of their own, the lowest ones.
#[tokio::test]
async fn instances_starting_together_lease_different_node_numbers() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let starts: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.register_node(T0, T0.plus_secs(LEASE_S)).await })
            })
            .collect();
        let mut nodes = Vec::new();
        let mut instances = Vec::new();
        for start in starts {
            let lease = start.await.expect("task").expect(name);
            nodes.push(lease.node);
            instances.push(lease.instance);
        }
        nodes.sort();
        instances.sort();
        instances.dedup();
        assert_eq!(nodes, (0..12).collect::<Vec<u32>>(), "{name}");
        assert_eq!(instances.len(), 12, "{name}: one registration each");
    }
}

#[tokio::test]
async fn a_node_number_is_reused_only_once_its_lease_ran_out() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let a = register(store, name, T0).await;
        let b_lease = register(store, name, T0.plus_secs(30)).await;
        assert_ne!(a.node, b_lease.node, "{name}");
        // a's lease ends at T0 + 60; b's is still live.
        let c = register(store, name, T0.plus_secs(LEASE_S)).await;
        assert_eq!(
            c.node, a.node,
            "{name}: the expired number is the lowest free one"
        );
        let d = register(store, name, T0.plus_secs(LEASE_S + 1)).await;
        assert!(
            ![a.node, b_lease.node].contains(&d.node),
            "{name}: live leases are not taken: {d:?}"
        );
    }
}

#[tokio::test]
async fn a_renewal_keeps_the_number_or_notices_it_was_lost() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let a = register(store, name, T0).await;
        let renew = |lease: NodeLease, at: Millis| async move {
            store
                .renew_node_lease(lease, at, at.plus_secs(LEASE_S))
                .await
                .expect(name)
        };
        // Renewed in time, then late but before anyone took it: the same number.
        assert_eq!(renew(a, T0.plus_secs(45)).await, a, "{name}");
        assert_eq!(renew(a, T0.plus_secs(200)).await, a, "{name}");
        // Renewed at 200: live until 260, so a newcomer gets another number.
        let other = register(store, name, T0.plus_secs(259)).await;
        assert_ne!(other.node, a.node, "{name}");
        // The process was paused past 260 and a newcomer took its number...
        let newcomer = register(store, name, T0.plus_secs(400)).await;
        assert_eq!(newcomer.node, a.node, "{name}");
        // ...which the next renewal notices: a new number, never the newcomer's.
        let after = renew(a, T0.plus_secs(401)).await;
        assert_eq!(after.instance, a.instance, "{name}");
        assert_ne!(after.node, newcomer.node, "{name}");
        assert_eq!(renew(newcomer, T0.plus_secs(402)).await, newcomer, "{name}");
        assert_eq!(renew(after, T0.plus_secs(403)).await, after, "{name}");
    }
}

fn completed(
    refund: &Refund,
    from: OrderStatus,
    to: OrderStatus,
    refunded_before: i64,
) -> RefundSettlement {
    RefundSettlement {
        refund_id: refund.id.clone(),
        to: RefundStatus::Succeeded,
        at: T0.plus_secs(30),
        channel_refund_no: Some("RF-CHANNEL".into()),
        fail_reason: None,
        order: Some(RefundOrderUpdate::Completed {
            order_id: refund.order_id.clone(),
            from,
            to,
            amount: refund.amount,
            refunded_before: Fen::new(refunded_before).unwrap(),
        }),
        notification: None,
    }
}

#[tokio::test]
async fn refunds_complete_against_the_refunded_total_they_were_decided_on() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        let first = refund(&o, "R1", "RN1", 40);
        let second = refund(&o, "R2", "RN2", 60);
        store.insert_refund(&first).await.expect(name);
        store.insert_refund(&second).await.expect(name);

        assert!(
            store
                .settle_refund(&completed(
                    &first,
                    OrderStatus::Succeeded,
                    OrderStatus::PartiallyRefunded,
                    0
                ))
                .await
                .expect(name),
            "{name}"
        );
        // Decided on a stale total (0 instead of 40): the guard refuses it, nothing moves.
        let stale = completed(
            &second,
            OrderStatus::PartiallyRefunded,
            OrderStatus::Refunded,
            0,
        );
        assert!(!store.settle_refund(&stale).await.expect(name), "{name}");
        let r2 = store
            .refund_by_id(&second.id)
            .await
            .expect(name)
            .expect(name);
        assert_eq!(
            r2.status,
            RefundStatus::Requested,
            "{name}: rolled back with the order update"
        );
        let fresh = completed(
            &second,
            OrderStatus::PartiallyRefunded,
            OrderStatus::Refunded,
            40,
        );
        assert!(store.settle_refund(&fresh).await.expect(name), "{name}");
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(stored.status, OrderStatus::Refunded, "{name}");
        assert_eq!(stored.refunded, Fen::new(100).unwrap(), "{name}");
        assert_eq!(stored.refund_reserved, Fen::new(100).unwrap(), "{name}");
        let r1 = store
            .refund_by_id(&first.id)
            .await
            .expect(name)
            .expect(name);
        assert_eq!(r1.status, RefundStatus::Succeeded, "{name}");
        assert_eq!(
            r1.channel_refund_no.as_deref(),
            Some("RF-CHANNEL"),
            "{name}"
        );
        assert!(
            !store.settle_refund(&fresh).await.expect(name),
            "{name}: a refund settles once"
        );
    }
}

#[tokio::test]
async fn a_failed_refund_releases_its_reservation() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        let r = refund(&o, "R1", "RN1", 70);
        store.insert_refund(&r).await.expect(name);
        assert!(matches!(
            store.insert_refund(&refund(&o, "R2", "RN2", 70)).await,
            Err(StoreError::NotRefundable)
        ));
        let failed = RefundSettlement {
            refund_id: r.id.clone(),
            to: RefundStatus::Failed,
            at: T0.plus_secs(30),
            channel_refund_no: None,
            fail_reason: Some("NOTENOUGH: 余额不足".into()),
            order: Some(RefundOrderUpdate::Released {
                order_id: o.id.clone(),
                amount: r.amount,
            }),
            notification: None,
        };
        assert!(store.settle_refund(&failed).await.expect(name), "{name}");
        let stored = store.order_by_id(&o.id).await.expect(name).expect(name);
        assert_eq!(stored.refund_reserved, Fen::ZERO, "{name}");
        assert_eq!(stored.status, OrderStatus::Succeeded, "{name}");
        store
            .insert_refund(&refund(&o, "R3", "RN3", 100))
            .await
            .expect("the whole amount is refundable again");
    }
}

fn pay_notification(order: &Order, id: &str, at: Millis) -> Notification {
    Notification::new(
        PlatformId::from_string(id),
        order.merchant_id.clone(),
        order.dialect.clone(),
        NotificationEvent::Pay,
        order.id.clone(),
        NotifyUrl::from_stored("http://merchant.example/notify".into()),
        at,
    )
}

/// A merchant asking for the payment notification again and again (xxpay's
/// `executeNotify`) gets one pending re-send, moved to the latest request, not fifty.
#[tokio::test]
async fn one_notification_per_order_and_event_is_pending_at_most() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        let first = store.notifications_about(&o.id).await.expect(name);
        assert_eq!(first.len(), 1, "{name}");
        let asked = |i: i64| T0.plus_secs(20 + i);
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                let n = pay_notification(&o, &format!("NR{i}"), asked(i));
                tokio::spawn(async move { store.enqueue_notification(&n).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect(name);
        }
        let notes = store.notifications_about(&o.id).await.expect(name);
        assert_eq!(notes.len(), 1, "{name}: {notes:?}");
        assert_eq!(notes[0].id, first[0].id, "{name}: the pending one is kept");
        assert_eq!(notes[0].status, NotificationStatus::Pending, "{name}");
        assert!(
            notes[0].next_attempt_at >= asked(0) && notes[0].next_attempt_at <= asked(49),
            "{name}: rescheduled to a re-send's time: {:?}",
            notes[0].next_attempt_at
        );
        assert_eq!(store.outbox_depth().await.expect(name), 1, "{name}");

        // Once it is delivered, a re-send is a notification of its own.
        let now = asked(50);
        let claimed = store
            .claim_notifications(now, now.plus_secs(60), 10)
            .await
            .expect(name);
        assert_eq!(claimed.len(), 1, "{name}");
        let delivered = DeliveryRecord::Delivered { at: now };
        assert!(
            store
                .record_delivery(&claimed[0], &delivered, Some(&o.id))
                .await
                .expect(name),
            "{name}"
        );
        let again = pay_notification(&o, "NAGAIN", now.plus_secs(120));
        store.enqueue_notification(&again).await.expect(name);
        let notes = store.notifications_about(&o.id).await.expect(name);
        assert_eq!(notes.len(), 2, "{name}");
        assert_eq!(store.outbox_depth().await.expect(name), 1, "{name}");
        // A re-send moves the pending one to its own time, earlier (when it was due more
        // than a lease later) or later.
        let sooner = pay_notification(&o, "NSOONER", now);
        store.enqueue_notification(&sooner).await.expect(name);
        let pending: Vec<_> = store
            .notifications_about(&o.id)
            .await
            .expect(name)
            .into_iter()
            .filter(|n| n.status == NotificationStatus::Pending)
            .collect();
        assert_eq!(pending.len(), 1, "{name}");
        assert_eq!(pending[0].id.as_str(), "NAGAIN", "{name}");
        assert_eq!(pending[0].next_attempt_at, now, "{name}: sent now");

        // Claimed by a sender, it is not pulled back by a re-send while the send may be
        // in flight: no second sender can claim it.
        let claimed = store
            .claim_notifications(now, now.plus_secs(60), 10)
            .await
            .expect(name);
        assert_eq!(claimed.len(), 1, "{name}");
        let during = pay_notification(&o, "NDURING", now.plus_secs(5));
        store.enqueue_notification(&during).await.expect(name);
        let again = store
            .claim_notifications(now.plus_secs(5), now.plus_secs(65), 10)
            .await
            .expect(name);
        assert!(again.is_empty(), "{name}: claimed twice: {again:?}");
        // A retry scheduled far ahead is still pulled to the re-send's time.
        let retry_at = now.plus_secs(3600);
        let record = DeliveryRecord::RetryAt {
            at: retry_at,
            error: "HTTP 500".into(),
        };
        assert!(
            store
                .record_delivery(&claimed[0], &record, Some(&o.id))
                .await
                .expect(name),
            "{name}"
        );
        let later = now.plus_secs(10);
        store
            .enqueue_notification(&pay_notification(&o, "NLATER", later))
            .await
            .expect(name);
        let due = store
            .claim_notifications(later, later.plus_secs(60), 10)
            .await
            .expect(name);
        assert_eq!(
            due.len(),
            1,
            "{name}: the merchant's re-send comes now, not in an hour"
        );
    }
}

/// A key that no stored row can have (a NUL, which PostgreSQL cannot even compare, a
/// space, anything outside the ids' alphabet) is not found, the same on both backends.
#[tokio::test]
async fn lookups_by_impossible_keys_find_nothing_on_both_backends() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let o = stored(store, name, order("P1", "M1", 100)).await;
        store.settle_attempt(&paid(&o)).await.expect(name);
        store
            .insert_refund(&refund(&o, "R1", "RN1", 10))
            .await
            .expect(name);
        let merchant = MerchantId::new("demo");
        for bad in ["P1\0", "\0", "", "P 1", "P1'", "订单", &"P".repeat(10_000)] {
            let id = PlatformId::from_string(bad);
            let seen = format!("{name}: {:?}", bad.get(..8).unwrap_or(bad));
            assert!(
                store
                    .order(&merchant, OrderKey::Platform(&id))
                    .await
                    .expect(&seen)
                    .is_none(),
                "{seen}"
            );
            assert!(
                store.order_by_id(&id).await.expect(&seen).is_none(),
                "{seen}"
            );
            assert!(
                store.latest_attempt(&id).await.expect(&seen).is_none(),
                "{seen}"
            );
            assert!(
                store.attempt(&id, 1).await.expect(&seen).is_none(),
                "{seen}"
            );
            assert!(
                store.attempts_of_order(&id).await.expect(&seen).is_empty(),
                "{seen}"
            );
            assert!(
                store.refund_by_id(&id).await.expect(&seen).is_none(),
                "{seen}"
            );
            assert!(
                store.refunds_of_order(&id).await.expect(&seen).is_empty(),
                "{seen}"
            );
            assert!(
                store
                    .notifications_about(&id)
                    .await
                    .expect(&seen)
                    .is_empty(),
                "{seen}"
            );
            let no = MerchantOrderNo::from_stored(bad.to_owned());
            assert!(
                store
                    .order(&merchant, OrderKey::Merchant(&no))
                    .await
                    .expect(&seen)
                    .is_none(),
                "{seen}"
            );
            let refund_no = RefundNo::from_stored(bad.to_owned());
            assert!(
                store
                    .refund(&merchant, RefundKey::RefundNo(&refund_no))
                    .await
                    .expect(&seen)
                    .is_none(),
                "{seen}"
            );
            let request_no = RefundRequestNo::from_stored(bad.to_owned());
            assert!(
                store
                    .refund(&merchant, RefundKey::RequestNo(&request_no))
                    .await
                    .expect(&seen)
                    .is_none(),
                "{seen}"
            );
        }
        // The well-formed keys are still found.
        assert!(
            store.order_by_id(&o.id).await.expect(name).is_some(),
            "{name}"
        );
        assert!(
            store
                .refund(
                    &merchant,
                    RefundKey::RefundNo(&RefundNo::parse("RN1", 64).unwrap())
                )
                .await
                .expect(name)
                .is_some(),
            "{name}"
        );
    }
}

/// Two instances starting at once with different candidates agree on one secret, and it
/// stays the same afterwards.
#[tokio::test]
async fn a_gateway_secret_is_stored_once_and_shared() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let (x, y) = tokio::join!(
            store.gateway_secret("cashier", "candidate-x"),
            store.gateway_secret("cashier", "candidate-y"),
        );
        let (x, y) = (x.expect(name), y.expect(name));
        assert_eq!(x, y, "{name}");
        assert!(x == "candidate-x" || x == "candidate-y", "{name}: {x}");
        let later = store
            .gateway_secret("cashier", "candidate-z")
            .await
            .expect(name);
        assert_eq!(later, x, "{name}");
        let other = store.gateway_secret("other", "its-own").await.expect(name);
        assert_eq!(other, "its-own", "{name}");
    }
    // And it survives a restart (here: a new connection to the same PostgreSQL database).
    let reopened = paymux_store::connect(b.postgres.url())
        .await
        .expect("reconnect");
    let again = reopened
        .gateway_secret("cashier", "candidate-z")
        .await
        .expect("postgres");
    assert_ne!(again, "candidate-z");
    reopened.close().await;
}

#[tokio::test]
async fn a_second_store_on_one_sqlite_file_is_refused_and_the_first_keeps_working() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("paymux.db");
    let url = format!("sqlite://{}", path.display());
    let first = paymux_store::connect(&url).await.expect("first store");
    let err = match paymux_store::connect(&url).await {
        Ok(_) => panic!("a second store opened the same file"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, StoreError::InUse { path: p } if *p == path.display().to_string()),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string())
            && message.contains("in use by another paymux")
            && message.contains("paymux.db.lock"),
        "{message}"
    );
    // The first is untouched.
    let o = stored(&first, "sqlite", order("P1", "M1", 100)).await;
    assert!(first.order_by_id(&o.id).await.expect("read").is_some());
    // Once the first closes, the file is free (a restart).
    first.close().await;
    let second = paymux_store::connect(&url).await.expect("after close");
    assert!(second.order_by_id(&o.id).await.expect("read").is_some());
}

/// A test's PostgreSQL database is gone once its guard is dropped.
#[tokio::test]
async fn a_test_database_is_dropped_with_its_guard() {
    use sqlx::Connection;
    let admin = std::env::var("PAYMUX_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let exists = |name: String| {
        let admin = admin.clone();
        async move {
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .expect("count");
            n == 1
        }
    };
    let db = paymux_store::create_test_database("paymux_guard_test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let name = db.url().rsplit('/').next().unwrap_or_default().to_owned();
    let store = paymux_store::connect(db.url()).await.expect("store");
    stored(&store, "postgres", order("P1", "M1", 100)).await;
    assert!(exists(name.clone()).await, "{name} was created");
    // Dropped while the store still holds connections, as a failing test would.
    drop(db);
    assert!(!exists(name.clone()).await, "{name} was dropped");
    drop(store);
}

/// Far more new orders at once than the order queue holds: each is either stored or
/// refused as `Busy` at once (never another error, never acknowledged and lost), and the
/// store takes orders as usual afterwards.
#[tokio::test]
async fn a_burst_beyond_the_queue_is_refused_as_busy_and_the_store_carries_on() {
    let b = backends().await;
    for (name, store) in &b.stores {
        let tasks: Vec<_> = (0..10_000)
            .map(|i| {
                let store = store.clone();
                let o = order(&format!("P{i}"), &format!("B{i}"), 100);
                tokio::spawn(async move {
                    let result = store.insert_order(&o, Some(&attempt(&o))).await;
                    (o.id, result)
                })
            })
            .collect();
        let mut stored_ids = Vec::new();
        let mut busy = 0;
        for task in tasks {
            match task.await.expect("task") {
                (id, Ok(())) => stored_ids.push(id),
                (_, Err(StoreError::Busy)) => busy += 1,
                (id, Err(e)) => panic!("{name}: {id}: {e:?}"),
            }
        }
        assert!(busy > 0, "{name}: the queue filled up");
        assert!(
            stored_ids.len() >= 4096,
            "{name}: {} stored",
            stored_ids.len()
        );
        let mut open = store
            .expired_orders(T0.plus_secs(7200), 100_000)
            .await
            .expect(name);
        open.sort();
        stored_ids.sort();
        assert_eq!(open, stored_ids, "{name}: exactly the acknowledged orders");
        let after = order("PAFTER", "AFTER", 100);
        stored(store, name, after).await;
    }
}
