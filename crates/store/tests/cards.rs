//! Card bindings, SMS codes and pages of paid orders, on both backends.

mod common;

use paymux_core::Fen;
use paymux_core::card::{CardBinding, CardKind, CardStore, Phone, SmsChallenge};
use paymux_core::dialect::DialectTag;
use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId};
use paymux_core::listing::{OrderListing, PaidOrdersQuery};
use paymux_core::order::{Attempt, AttemptStatus, Order, OrderStatus, Tries};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::store::{AttemptSettlement, OrderKey, Store};
use paymux_core::time::Millis;
use paymux_core::url::NotifyUrl;
use paymux_store::SqlStore;
use serde_json::Map;

const T0: Millis = Millis(1_750_000_000_000);

fn order(id: &str, no: &str, method: PayMethod, dialect: &'static str) -> Order {
    Order {
        id: PlatformId::from_string(id),
        merchant_id: MerchantId::new("demo"),
        merchant_order_no: MerchantOrderNo::parse(no, 64).expect("order no"),
        dialect: DialectTag::new(dialect),
        pay_way: PayWay::new(Wallet::Bank, method),
        channel: "sandbox".into(),
        amount: Fen::positive(100).expect("amount"),
        currency: "cny".into(),
        subject: "s".into(),
        body: "b".into(),
        status: OrderStatus::Paying,
        notify_url: None,
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
        tries: Tries::Once,
        code_id: None,
        also_notify: None,
        escrow: None,
        splits: None,
    }
}

async fn stored(store: &SqlStore, o: Order) -> (Order, Attempt) {
    let a = Attempt::first(&o, None, None);
    store.insert_order(&o, Some(&a)).await.expect("insert");
    (o, a)
}

async fn pay(store: &SqlStore, o: &Order, a: &Attempt, at: Millis) {
    let settled = store
        .settle_attempt(&AttemptSettlement {
            paid_at: Some(at),
            channel_trade_no: Some("T".into()),
            ..AttemptSettlement::new(o, a, AttemptStatus::Succeeded, OrderStatus::Succeeded, at)
        })
        .await
        .expect("settle");
    assert!(settled);
}

fn binding(id: &str, origin: &str, token: &str) -> CardBinding {
    CardBinding {
        id: PlatformId::from_string(id),
        merchant_id: MerchantId::new("demo"),
        user_id: "U1".into(),
        card_masked: "622848*********0018".into(),
        card_kind: CardKind::Debit,
        bank_name: "农业银行".into(),
        channel: "sandbox".into(),
        channel_token: token.into(),
        origin_order_id: PlatformId::from_string(origin),
        created_at: T0,
        active_at: None,
        phone: Some(Phone::parse("18826570890").expect("phone")),
    }
}

#[tokio::test]
async fn a_users_card_is_bound_once_and_becomes_effective_with_its_payment() {
    let b = common::backends("paymux_cards_test").await;
    for (name, store) in &b.list {
        let (o1, _) = stored(store, order("P1", "Q1", PayMethod::Quick, "mmsp")).await;
        let (o2, a2) = stored(store, order("P2", "Q2", PayMethod::Quick, "mmsp")).await;
        let first = store.bind_card(&binding("B1", "P1", "tok")).await.unwrap();
        assert_eq!(first.id.as_str(), "B1", "{name}");
        // The same card for the same user, before the first payment was paid: the same
        // binding, now made by the newer payment.
        let again = store.bind_card(&binding("B2", "P2", "tok")).await.unwrap();
        assert_eq!(again.id.as_str(), "B1", "{name}");
        assert_eq!(again.origin_order_id, o2.id, "{name}");
        pay(store, &o2, &a2, T0.plus_secs(5)).await;
        store
            .activate_card_bindings(&o2.id, T0.plus_secs(5))
            .await
            .unwrap();
        let found = store
            .card_binding(&MerchantId::new("demo"), &PlatformId::from_string("B1"))
            .await
            .unwrap()
            .expect("found");
        assert_eq!(found.active_at, Some(T0.plus_secs(5)), "{name}");
        // Once effective it stays with the payment that made it.
        let later = store.bind_card(&binding("B3", "P1", "tok")).await.unwrap();
        assert_eq!(later.origin_order_id, o2.id, "{name}");
        assert!(
            store
                .card_binding(&MerchantId::new("other"), &PlatformId::from_string("B1"))
                .await
                .unwrap()
                .is_none(),
            "{name}: another merchant's binding is not found"
        );
        let _ = o1;
    }
}

#[tokio::test]
async fn a_code_is_resent_once_a_minute_at_most_five_times_and_checked_five_times() {
    let b = common::backends("paymux_cards_test").await;
    for (name, store) in &b.list {
        let (o, a) = stored(store, order("P1", "Q1", PayMethod::Quick, "mmsp")).await;
        let challenge = SmsChallenge {
            order_id: o.id.clone(),
            seq: a.seq,
            phone: Phone::parse("18826570890").unwrap(),
            code_ref: "r1".into(),
            sent_at: T0,
            sends: 1,
            checks: 0,
        };
        store.insert_sms_challenge(&challenge).await.unwrap();
        for _ in 0..3 {
            assert!(
                store.reserve_code_check(&o.id, 1, "r1", 3).await.unwrap(),
                "{name}"
            );
        }
        assert!(
            !store.reserve_code_check(&o.id, 1, "r1", 3).await.unwrap(),
            "{name}: three checks were made"
        );
        let now = T0.plus_secs(30);
        assert!(
            !store
                .claim_sms_resend(&o.id, 1, now, now.plus_secs(-60), 5)
                .await
                .unwrap(),
            "{name}: too soon"
        );
        let now = T0.plus_secs(61);
        assert!(
            store
                .claim_sms_resend(&o.id, 1, now, now.plus_secs(-60), 5)
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !store
                .claim_sms_resend(&o.id, 1, now, now.plus_secs(-60), 5)
                .await
                .unwrap(),
            "{name}: one resend per turn"
        );
        // Until the new code replaces it, the old one has no fresh checks.
        assert!(
            !store.reserve_code_check(&o.id, 1, "r1", 3).await.unwrap(),
            "{name}"
        );
        store.set_sms_code_ref(&o.id, 1, "r2").await.unwrap();
        let c = store
            .sms_challenge(&o.id, 1)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(
            (c.code_ref.as_str(), c.sent_at, c.sends, c.checks),
            ("r2", now, 2, 0),
            "{name}"
        );
        assert!(
            !store.reserve_code_check(&o.id, 1, "r1", 3).await.unwrap(),
            "{name}: a check of the old code"
        );
        assert!(
            store.reserve_code_check(&o.id, 1, "r2", 3).await.unwrap(),
            "{name}"
        );
        // Sends are capped: with a cap of 3, one more resend and no other.
        let later = now.plus_secs(61);
        assert!(
            store
                .claim_sms_resend(&o.id, 1, later, later.plus_secs(-60), 3)
                .await
                .unwrap()
        );
        let later = later.plus_secs(61);
        assert!(
            !store
                .claim_sms_resend(&o.id, 1, later, later.plus_secs(-60), 3)
                .await
                .unwrap(),
            "{name}: three codes were sent"
        );
        let url = NotifyUrl::from_stored("http://m.example/n".into());
        assert!(store.set_order_notify_url(&o.id, &url).await.unwrap());
        let o = store
            .order(&o.merchant_id, OrderKey::Platform(&o.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.notify_url, Some(url), "{name}");
    }
}

#[tokio::test]
async fn checks_made_at_once_are_counted_one_by_one() {
    let b = common::backends("paymux_cards_test").await;
    for (name, store) in &b.list {
        let (o, a) = stored(store, order("P1", "Q1", PayMethod::Quick, "mmsp")).await;
        store
            .insert_sms_challenge(&SmsChallenge {
                order_id: o.id.clone(),
                seq: a.seq,
                phone: Phone::parse("18826570890").unwrap(),
                code_ref: "r1".into(),
                sent_at: T0,
                sends: 1,
                checks: 0,
            })
            .await
            .unwrap();
        let mut tries = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let store = store.clone();
            let id = o.id.clone();
            tries.spawn(async move { store.reserve_code_check(&id, 1, "r1", 5).await });
        }
        let mut granted = 0;
        while let Some(done) = tries.join_next().await {
            if done.expect("task").expect("reserve") {
                granted += 1;
            }
        }
        assert_eq!(granted, 5, "{name}");
        let c = store.sms_challenge(&o.id, 1).await.unwrap().unwrap();
        assert_eq!(c.checks, 5, "{name}");
    }
}

#[tokio::test]
async fn a_binding_keeps_the_phone_the_bank_checked() {
    let b = common::backends("paymux_cards_test").await;
    for (name, store) in &b.list {
        stored(store, order("P1", "Q1", PayMethod::Quick, "mmsp")).await;
        stored(store, order("P2", "Q2", PayMethod::Quick, "mmsp")).await;
        let made = store.bind_card(&binding("B1", "P1", "tok")).await.unwrap();
        assert_eq!(made.phone, Phone::parse("18826570890").ok(), "{name}");
        // Before it is effective, a newer payment's phone replaces it.
        let newer = CardBinding {
            phone: Phone::parse("13912345678").ok(),
            ..binding("B2", "P2", "tok")
        };
        let moved = store.bind_card(&newer).await.unwrap();
        assert_eq!(moved.phone, Phone::parse("13912345678").ok(), "{name}");
        store
            .activate_card_bindings(&PlatformId::from_string("P2"), T0)
            .await
            .unwrap();
        // Once effective, it stays.
        let again = store.bind_card(&binding("B3", "P1", "tok")).await.unwrap();
        assert_eq!(again.phone, Phone::parse("13912345678").ok(), "{name}");
    }
}

#[tokio::test]
async fn paid_orders_are_listed_by_payment_time_a_page_at_a_time() {
    let b = common::backends("paymux_cards_test").await;
    for (name, store) in &b.list {
        for i in 0..7 {
            let (o, a) = stored(
                store,
                order(&format!("P{i}"), &format!("Q{i}"), PayMethod::Quick, "mmsp"),
            )
            .await;
            if i != 3 {
                pay(store, &o, &a, T0.plus_secs(100 - i)).await;
            }
        }
        // Paid, but through another method, another dialect, or outside the window.
        let (g, ga) = stored(store, order("PG", "G", PayMethod::Gateway, "mmsp")).await;
        pay(store, &g, &ga, T0.plus_secs(50)).await;
        let (x, xa) = stored(store, order("PX", "X", PayMethod::Quick, "xxpay")).await;
        pay(store, &x, &xa, T0.plus_secs(50)).await;
        let query = |page, per_page| PaidOrdersQuery {
            merchant: MerchantId::new("demo"),
            dialect: DialectTag::new("mmsp"),
            method: PayMethod::Quick,
            from: T0,
            until: T0.plus_secs(100),
            page,
            per_page,
        };
        let first = store.paid_orders(&query(1, 4)).await.unwrap();
        assert_eq!(first.total, 5, "{name}: P0 at +100 s is outside, P3 unpaid");
        let ids: Vec<&str> = first.orders.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["P6", "P5", "P4", "P2"], "{name}");
        let second = store.paid_orders(&query(2, 4)).await.unwrap();
        let ids: Vec<&str> = second.orders.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["P1"], "{name}");
        assert!(
            store
                .paid_orders(&query(3, 4))
                .await
                .unwrap()
                .orders
                .is_empty()
        );
        let other = PaidOrdersQuery {
            merchant: MerchantId::new("other"),
            ..query(1, 10)
        };
        assert_eq!(store.paid_orders(&other).await.unwrap().total, 0, "{name}");
        // Refunded in full (STATUS 3) is not listed; refunded in part (still 1) is.
        for (id, status) in [
            ("PR", OrderStatus::Refunded),
            ("PP", OrderStatus::PartiallyRefunded),
        ] {
            let (o, a) = stored(store, order(id, id, PayMethod::Quick, "mmsp")).await;
            let at = T0.plus_secs(200);
            assert!(
                store
                    .settle_attempt(&AttemptSettlement {
                        paid_at: Some(at),
                        channel_trade_no: Some("T".into()),
                        ..AttemptSettlement::new(&o, &a, AttemptStatus::Succeeded, status, at)
                    })
                    .await
                    .unwrap()
            );
        }
        let later = PaidOrdersQuery {
            from: T0.plus_secs(150),
            until: T0.plus_secs(300),
            ..query(1, 10)
        };
        let listed = store.paid_orders(&later).await.unwrap();
        let ids: Vec<&str> = listed.orders.iter().map(|o| o.id.as_str()).collect();
        assert_eq!((listed.total, ids), (1, vec!["PP"]), "{name}");
    }
}
