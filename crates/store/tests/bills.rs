//! Bills, payment codes, escrow and nonces: the core's commands over the real store, on
//! both backends, with a channel whose payments wait for the payer (the test says what the
//! payer did).

use std::sync::Arc;

use async_trait::async_trait;
use paymux_core::channel::{Channel, ChannelOutcome, Channels, PayAction, PaymentStart};
use paymux_core::clock::{Clock, ManualClock};
use paymux_core::code::{CodeKind, CodeStatus};
use paymux_core::dialect::DialectTag;
use paymux_core::gateway::{BillFromCode, GatewaySettings, NewBill, NewCode, NewRefund};
use paymux_core::ids::{MerchantId, MerchantOrderNo, RefundNo};
use paymux_core::merchant::{Merchant, Settlement};
use paymux_core::order::{Attempt, EscrowStatus, Order, OrderStatus, Tries};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::store::{CodeKey, OrderKey, Store};
use paymux_core::time::Millis;
use paymux_core::url::NotifyUrl;
use paymux_core::{Error, Fen, Operator};
use paymux_store::SqlStore;
use serde_json::{Map, json};

mod common;

use common::backends;

const T0: Millis = Millis(1_750_000_000_000);

/// Payments wait for the payer; refunds complete at once.
struct Waiting;

#[async_trait]
impl Channel for Waiting {
    fn name(&self) -> &'static str {
        "waiting"
    }

    async fn start_payment(&self, _order: &Order, _attempt: &Attempt) -> PaymentStart {
        PaymentStart {
            outcome: ChannelOutcome::Pending {
                check_after_s: None,
            },
            action: PayAction::QrCode("waiting://pay".into()),
        }
    }

    async fn close_payment(&self, _: &Order, _: &Attempt) -> ChannelOutcome {
        ChannelOutcome::Closed
    }

    async fn refund(&self, _order: &Order, refund: &Refund, now: Millis) -> ChannelOutcome {
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

const TAG: DialectTag = DialectTag::new("chinaums");

async fn operator(store: &Arc<SqlStore>, clock: &Arc<ManualClock>) -> Operator {
    operator_with(store, clock, Arc::new(Waiting)).await
}

async fn operator_with(
    store: &Arc<SqlStore>,
    clock: &Arc<ManualClock>,
    channel: Arc<dyn Channel>,
) -> Operator {
    let store: Arc<dyn Store> = store.clone();
    let clock: Arc<dyn Clock> = clock.clone();
    Operator::start(
        store,
        Channels::new(channel),
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
    .expect("operator")
}

fn fen(n: i64) -> Fen {
    Fen::new(n).expect("fen")
}

fn bill(no: &str, amount: i64, one_at_a_time: bool, escrow: bool) -> NewBill {
    NewBill {
        merchant_id: merchant(),
        merchant_order_no: MerchantOrderNo::parse(no, 32).expect("bill no"),
        dialect: TAG,
        amount: fen(amount),
        subject: "餐费".into(),
        body: String::new(),
        notify_url: Some(NotifyUrl::from_stored("http://bill.example/n".into())),
        also_notify: Some(NotifyUrl::from_stored("http://merchant.example/n".into())),
        return_url: None,
        extra: Map::new(),
        expires_at: None,
        one_at_a_time,
        escrow,
        splits: None,
    }
}

fn code(kind: CodeKind, code_ref: &str, amount: Option<i64>, bill: Option<NewBill>) -> NewCode {
    NewCode {
        merchant_id: merchant(),
        dialect: TAG,
        code_ref: Some(code_ref.into()),
        kind,
        amount: amount.map(fen),
        subject: "门诊".into(),
        notify_url: None,
        also_notify: None,
        return_url: None,
        expires_at: None,
        extra: json!({"memberId": "M1"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        bill_no_prefix: "3194".into(),
        one_at_a_time: false,
        escrow: false,
        splits: None,
        bill,
    }
}

const WECHAT: PayWay = PayWay::new(Wallet::WeChat, PayMethod::Qr);
const ALIPAY: PayWay = PayWay::new(Wallet::Alipay, PayMethod::Qr);

fn paid(amount: Fen) -> ChannelOutcome {
    ChannelOutcome::Succeeded {
        trade_no: "T1".into(),
        payer: None,
        at: T0,
        amount,
        funding: None,
    }
}

fn cancelled() -> ChannelOutcome {
    ChannelOutcome::Failed {
        code: "USER_CANCELLED".into(),
        msg: "取消".into(),
    }
}

#[tokio::test]
async fn a_bill_takes_tries_until_one_pays_and_a_second_payment_is_refunded() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let (code, bill) = gw
            .create_code(code(
                CodeKind::OneTime,
                "Q1",
                None,
                Some(bill("31940001", 100, false, false)),
            ))
            .await
            .expect(name);
        let bill = bill.expect("a one-time code's bill");
        assert_eq!(bill.status, OrderStatus::Created, "{name}");
        assert_eq!(bill.tries, Tries::Again);
        assert_eq!(code.order_id.as_ref(), Some(&bill.id));
        assert_eq!(code.amount, Some(fen(100)));
        assert_eq!(
            gw.find_code(&merchant(), CodeKey::Ref("Q1"))
                .await
                .expect(name)
                .id,
            code.id
        );

        // A try with WeChat fails; two more, with WeChat and Alipay, wait at once.
        let first = op.start_attempt(&bill.id, WECHAT, None).await.expect(name);
        assert_eq!(first.order.status, OrderStatus::Paying);
        op.apply_attempt_outcome(&bill.id, first.attempt.seq, cancelled())
            .await
            .expect(name);
        let order = gw
            .find_order(&merchant(), OrderKey::Platform(&bill.id))
            .await
            .expect(name);
        assert_eq!(order.status, OrderStatus::Paying, "{name}: still payable");
        let second = op.start_attempt(&bill.id, WECHAT, None).await.expect(name);
        let third = op.start_attempt(&bill.id, ALIPAY, None).await.expect(name);
        assert_eq!((second.attempt.seq, third.attempt.seq), (2, 3));

        // Alipay pays; WeChat's payment arrives after, and goes back.
        let order = op
            .apply_attempt_outcome(&bill.id, 3, paid(fen(100)))
            .await
            .expect(name);
        assert_eq!(order.status, OrderStatus::Succeeded, "{name}");
        op.apply_attempt_outcome(&bill.id, 2, paid(fen(100)))
            .await
            .expect(name);
        let refunds = gw
            .refunds_of_order(&merchant(), &bill.id)
            .await
            .expect(name);
        assert_eq!(refunds.len(), 1, "{name}");
        assert!(refunds[0].automatic);
        assert_eq!(refunds[0].attempt_seq, 2);
        // Notified at both addresses, once each.
        let notified = store.notifications_about(&bill.id).await.expect(name);
        let mut urls: Vec<&str> = notified.iter().map(|n| n.url.as_str()).collect();
        urls.sort();
        assert_eq!(
            urls,
            ["http://bill.example/n", "http://merchant.example/n"],
            "{name}"
        );
        // A paid bill takes no further try.
        assert!(matches!(
            op.start_attempt(&bill.id, WECHAT, None).await,
            Err(Error::OrderNotPayable(OrderStatus::Succeeded))
        ));
    }
}

/// Like [`Waiting`], and remembers which tries it was asked to close.
#[derive(Default)]
struct RecordsCloses {
    closed: std::sync::Mutex<Vec<i32>>,
}

#[async_trait]
impl Channel for RecordsCloses {
    fn name(&self) -> &'static str {
        "waiting"
    }

    async fn start_payment(&self, order: &Order, attempt: &Attempt) -> PaymentStart {
        Waiting.start_payment(order, attempt).await
    }

    async fn close_payment(&self, _: &Order, attempt: &Attempt) -> ChannelOutcome {
        if let Ok(mut closed) = self.closed.lock() {
            closed.push(attempt.seq);
        }
        ChannelOutcome::Closed
    }
}

#[tokio::test]
async fn closing_a_bill_stops_every_try_still_open_at_its_wallet() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let channel = Arc::new(RecordsCloses::default());
        let op = operator_with(store, &clock, channel.clone()).await;
        let gw = op.gateway();
        let bill = gw
            .create_bill(bill("31940009", 100, false, false))
            .await
            .expect(name);
        // The payer scans with WeChat, gives up on it, scans with Alipay: both wait; a
        // third try failed and is not the channel's any more.
        let failed = op.start_attempt(&bill.id, WECHAT, None).await.expect(name);
        op.apply_attempt_outcome(&bill.id, failed.attempt.seq, cancelled())
            .await
            .expect(name);
        op.start_attempt(&bill.id, WECHAT, None).await.expect(name);
        op.start_attempt(&bill.id, ALIPAY, None).await.expect(name);

        let closed = gw
            .close_order(&merchant(), OrderKey::Platform(&bill.id), "merchant")
            .await
            .expect(name);
        assert_eq!(closed.status, OrderStatus::Closed, "{name}");
        let mut asked = channel.closed.lock().map(|c| c.clone()).unwrap_or_default();
        asked.sort();
        assert_eq!(
            asked,
            [2, 3],
            "{name}: each waiting try, not only the latest"
        );
        let attempts = store.attempts_of_order(&bill.id).await.expect(name);
        let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses,
            [
                paymux_core::order::AttemptStatus::Failed,
                paymux_core::order::AttemptStatus::Closed,
                paymux_core::order::AttemptStatus::Closed
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn one_at_a_time_the_first_scanner_wins() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let bill = op
            .gateway()
            .create_bill(bill("SINGLE1", 100, true, false))
            .await
            .expect(name);
        assert_eq!(bill.tries, Tries::AgainOneAtATime);
        let tries: Vec<_> = (0..10)
            .map(|i| {
                let op = op.clone();
                let id = bill.id.clone();
                let way = if i % 2 == 0 { WECHAT } else { ALIPAY };
                tokio::spawn(async move { op.start_attempt(&id, way, None).await })
            })
            .collect();
        let mut started = 0;
        for t in tries {
            match t.await.expect("task") {
                Ok(_) => started += 1,
                Err(Error::AnotherTryPaying) => {}
                Err(e) => panic!("{name}: {e:?}"),
            }
        }
        assert_eq!(started, 1, "{name}: one scanner, the first");
        let attempts = op.attempts_of_order(&bill.id).await.expect(name);
        assert_eq!(attempts.len(), 1, "{name}");
        // Once it fails, the next payer may try.
        op.apply_attempt_outcome(&bill.id, attempts[0].seq, cancelled())
            .await
            .expect(name);
        let next = op.start_attempt(&bill.id, ALIPAY, None).await.expect(name);
        assert_eq!(next.attempt.seq, 2, "{name}");
    }
}

#[tokio::test]
async fn fixed_codes_make_a_bill_for_each_payer() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let (fixed, none) = gw
            .create_code(code(CodeKind::FixedAmount, "F1", Some(250), None))
            .await
            .expect(name);
        assert!(none.is_none());
        let a = op
            .bill_from_code(&fixed.id, BillFromCode::default())
            .await
            .expect(name);
        let b2 = op
            .bill_from_code(&fixed.id, BillFromCode::default())
            .await
            .expect(name);
        assert_ne!(a.merchant_order_no, b2.merchant_order_no, "{name}");
        assert!(a.merchant_order_no.as_str().starts_with("3194"), "{name}");
        assert_eq!(a.merchant_order_no.as_str().len(), 4 + 17 + 7, "{name}");
        assert_eq!((a.amount, a.code_id.as_ref()), (fen(250), Some(&fixed.id)));
        assert_eq!(
            a.extra["memberId"], "M1",
            "the code's fields go on its bills"
        );

        let (open, _) = gw
            .create_code(code(CodeKind::OpenAmount, "O1", None, None))
            .await
            .expect(name);
        assert!(matches!(
            op.bill_from_code(&open.id, BillFromCode::default()).await,
            Err(Error::InvalidField {
                field: "amount",
                ..
            })
        ));
        let entered = op
            .bill_from_code(
                &open.id,
                BillFromCode {
                    amount: Some(fen(1234)),
                    ..BillFromCode::default()
                },
            )
            .await
            .expect(name);
        assert_eq!(entered.amount, fen(1234));

        // The merchant's reference is its own; a closed code makes no bill.
        assert!(matches!(
            gw.create_code(code(CodeKind::OpenAmount, "O1", None, None))
                .await,
            Err(Error::DuplicateCodeRef)
        ));
        let closed = gw
            .close_code(&merchant(), CodeKey::Ref("O1"), false)
            .await
            .expect(name);
        assert_eq!(closed.status, CodeStatus::Closed);
        assert!(matches!(
            op.bill_from_code(
                &open.id,
                BillFromCode {
                    amount: Some(fen(1)),
                    ..BillFromCode::default()
                }
            )
            .await,
            Err(Error::CodeNotUsable)
        ));
        // Terms that do not fit the kind are refused.
        assert!(matches!(
            gw.create_code(code(CodeKind::FixedAmount, "F2", None, None))
                .await,
            Err(Error::InvalidField { .. })
        ));
    }
}

#[tokio::test]
async fn the_merchants_order_billed_again_by_its_code_is_the_same_bill_while_open() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let (open, _) = gw
            .create_code(code(CodeKind::OpenAmount, "Q1", None, None))
            .await
            .expect(name);
        let from = |no: &str, amount: i64| BillFromCode {
            amount: Some(fen(amount)),
            merchant_order_no: Some(MerchantOrderNo::parse(no, 32).expect("no")),
            ..BillFromCode::default()
        };
        let first = op
            .bill_from_code(&open.id, from("HIS1", 20))
            .await
            .expect(name);
        // The payer tried, came back and picks the same order: the same bill.
        op.start_attempt(&first.id, PayWay::new(Wallet::WeChat, PayMethod::Qr), None)
            .await
            .expect(name);
        let again = op
            .bill_from_code(&open.id, from("HIS1", 20))
            .await
            .expect(name);
        assert_eq!(again.id, first.id, "{name}");
        // Another amount for the number, or another code, is a duplicate.
        assert!(matches!(
            op.bill_from_code(&open.id, from("HIS1", 25)).await,
            Err(Error::DuplicateOrderNo)
        ));
        let (other, _) = gw
            .create_code(code(CodeKind::OpenAmount, "Q2", None, None))
            .await
            .expect(name);
        assert!(matches!(
            op.bill_from_code(&other.id, from("HIS1", 20)).await,
            Err(Error::DuplicateOrderNo)
        ));
        // Closed, it is not billed again.
        gw.close_order(&merchant(), OrderKey::Platform(&first.id), "test")
            .await
            .expect(name);
        assert!(matches!(
            op.bill_from_code(&open.id, from("HIS1", 20)).await,
            Err(Error::DuplicateOrderNo)
        ));
    }
}

#[tokio::test]
async fn a_one_time_code_gets_a_new_bill_and_closing_it_closes_or_refunds_its_bill() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let (code1, first) = gw
            .create_code(code(
                CodeKind::OneTime,
                "U1",
                None,
                Some(bill("UB1", 100, false, false)),
            ))
            .await
            .expect(name);
        let first = first.expect("bill");
        clock.advance_secs(1);
        let (updated, second) = gw
            .update_code(
                &merchant(),
                CodeKey::Platform(&code1.id),
                code(
                    CodeKind::OneTime,
                    "U1",
                    None,
                    Some(bill("UB2", 300, false, false)),
                ),
            )
            .await
            .expect(name);
        let second = second.expect("bill");
        assert_eq!(updated.order_id.as_ref(), Some(&second.id));
        assert_eq!(updated.amount, Some(fen(300)));
        let old = gw
            .find_order(&merchant(), OrderKey::Platform(&first.id))
            .await
            .expect(name);
        assert_eq!(
            old.status,
            OrderStatus::Closed,
            "{name}: the replaced bill closes"
        );
        // The same bill number again: refused, and the code keeps its bill.
        assert!(matches!(
            gw.update_code(
                &merchant(),
                CodeKey::Ref("U1"),
                code(
                    CodeKind::OneTime,
                    "U1",
                    None,
                    Some(bill("UB2", 5, false, false))
                ),
            )
            .await,
            Err(Error::DuplicateOrderNo)
        ));

        // Paid, then the code closes with a refund.
        let try1 = op
            .start_attempt(&second.id, WECHAT, None)
            .await
            .expect(name);
        op.apply_attempt_outcome(&second.id, try1.attempt.seq, paid(fen(300)))
            .await
            .expect(name);
        gw.close_code(&merchant(), CodeKey::Ref("U1"), true)
            .await
            .expect(name);
        let refunds = gw
            .refunds_of_order(&merchant(), &second.id)
            .await
            .expect(name);
        assert_eq!(refunds.len(), 1, "{name}");
        assert_eq!(refunds[0].amount, fen(300));
        assert_eq!(refunds[0].status, RefundStatus::Succeeded);
        // Another merchant's key finds nothing.
        assert!(matches!(
            gw.find_code(&MerchantId::new("other"), CodeKey::Ref("U1"))
                .await,
            Err(Error::CodeNotFound)
        ));
    }
}

#[tokio::test]
async fn an_escrow_holds_refunds_until_completed_and_returns_what_is_not_completed() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let refund = |order: &Order, no: &str, amount: i64| NewRefund {
            merchant_id: merchant(),
            order_id: order.id.clone(),
            dialect: TAG,
            refund_no: RefundNo::parse(no, 32).expect("refund no"),
            request_no: None,
            amount: fen(amount),
            reason: String::new(),
            extra: Map::new(),
            split: None,
        };
        let escrowed = gw
            .create_bill(bill("ESC1", 1000, false, true))
            .await
            .expect(name);
        let t = op
            .start_attempt(&escrowed.id, WECHAT, None)
            .await
            .expect(name);
        let order = op
            .apply_attempt_outcome(&escrowed.id, t.attempt.seq, paid(fen(1000)))
            .await
            .expect(name);
        assert_eq!(
            order.escrow.map(|e| e.status),
            Some(EscrowStatus::Uncompleted)
        );
        assert!(matches!(
            gw.request_refund(refund(&order, "EF1", 10)).await,
            Err(Error::EscrowNotCompleted(EscrowStatus::Uncompleted))
        ));
        let key = OrderKey::Platform(&escrowed.id);
        assert!(matches!(
            gw.complete_escrow(&merchant(), key, fen(1001)).await,
            Err(Error::CompletionExceedsPaid)
        ));
        let completed = gw
            .complete_escrow(&merchant(), key, fen(600))
            .await
            .expect(name);
        let escrow = completed.escrow.expect("escrow");
        assert_eq!(
            (escrow.status, escrow.completed),
            (EscrowStatus::PartlyCompleted, fen(600))
        );
        // 400 went back to the payer; of the 600 kept, at most 600 can be refunded.
        assert_eq!(completed.refunded, fen(400), "{name}");
        assert_eq!(completed.refundable(), fen(600));
        assert!(matches!(
            gw.request_refund(refund(&completed, "EF2", 601)).await,
            Err(Error::RefundExceedsPaid { .. })
        ));
        let r = gw
            .request_refund(refund(&completed, "EF3", 600))
            .await
            .expect(name);
        assert_eq!(r.status, RefundStatus::Succeeded);
        assert!(matches!(
            gw.cancel_escrow(&merchant(), key).await,
            Err(Error::EscrowSettled(EscrowStatus::PartlyCompleted))
        ));

        // Canceled: all of it goes back, and nothing more can be refunded.
        let other = gw
            .create_bill(bill("ESC2", 500, false, true))
            .await
            .expect(name);
        let t = op.start_attempt(&other.id, ALIPAY, None).await.expect(name);
        op.apply_attempt_outcome(&other.id, t.attempt.seq, paid(fen(500)))
            .await
            .expect(name);
        let canceled = gw
            .cancel_escrow(&merchant(), OrderKey::Platform(&other.id))
            .await
            .expect(name);
        assert_eq!(
            canceled.escrow.map(|e| e.status),
            Some(EscrowStatus::Canceled)
        );
        assert_eq!(canceled.status, OrderStatus::Refunded, "{name}");
        assert!(matches!(
            gw.request_refund(refund(&canceled, "EF4", 1)).await,
            Err(Error::EscrowNotCompleted(EscrowStatus::Canceled))
        ));
        // An order without escrow has nothing to complete.
        let plain = gw
            .create_bill(bill("PLAIN", 5, false, false))
            .await
            .expect(name);
        assert!(matches!(
            gw.complete_escrow(&merchant(), OrderKey::Platform(&plain.id), fen(5))
                .await,
            Err(Error::NotInEscrow)
        ));
    }
}

#[tokio::test]
async fn a_nonce_is_refused_within_its_window_and_forgotten_after() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let gw = operator(store, &clock).await.gateway();
        assert!(gw.remember_nonce(&merchant(), "n1", 300).await.expect(name));
        assert!(
            !gw.remember_nonce(&merchant(), "n1", 300).await.expect(name),
            "{name}: a replay"
        );
        assert!(
            gw.remember_nonce(&MerchantId::new("other"), "n1", 300)
                .await
                .expect(name),
            "{name}: another merchant's nonce is its own"
        );
        clock.advance_secs(301);
        assert!(gw.remember_nonce(&merchant(), "n2", 300).await.expect(name));
        assert!(
            gw.remember_nonce(&merchant(), "n1", 300).await.expect(name),
            "{name}: forgotten once its window passed"
        );
    }
}

#[tokio::test]
async fn a_split_bills_refunds_stay_within_each_share_under_concurrency() {
    use paymux_core::order::{Share, Splits};
    use paymux_core::refund::RefundSplit;
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let share = |party: &str, amount: i64| Share {
            party: party.into(),
            amount: fen(amount),
        };
        let mut new = bill("SPLIT1", 1000, false, false);
        new.splits = Some(Splits {
            platform: fen(200),
            shares: vec![share("898A", 500), share("898B", 300)],
        });
        let mut bad = new.clone();
        bad.merchant_order_no = MerchantOrderNo::parse("SPLIT0", 32).unwrap();
        bad.amount = fen(999);
        assert!(
            matches!(
                gw.create_bill(bad).await,
                Err(Error::InvalidField {
                    field: "subOrders",
                    ..
                })
            ),
            "{name}: shares must add up"
        );
        let split = gw.create_bill(new).await.expect(name);
        let t = op.start_attempt(&split.id, WECHAT, None).await.expect(name);
        op.apply_attempt_outcome(&split.id, t.attempt.seq, paid(fen(1000)))
            .await
            .expect(name);
        let refund = |no: String, platform: i64, party: Option<Share>| {
            let amount = platform + party.as_ref().map_or(0, |p| p.amount.get());
            NewRefund {
                merchant_id: merchant(),
                order_id: split.id.clone(),
                dialect: TAG,
                refund_no: RefundNo::parse(&no, 32).expect("refund no"),
                request_no: None,
                amount: fen(amount),
                reason: String::new(),
                extra: Map::new(),
                split: Some(RefundSplit {
                    platform: fen(platform),
                    party,
                }),
            }
        };
        let unsplit = NewRefund {
            split: None,
            ..refund("S0".into(), 10, None)
        };
        assert!(matches!(
            gw.request_refund(unsplit).await,
            Err(Error::SplitRefundNeedsShares)
        ));
        let stranger = refund("S1".into(), 0, Some(share("898Z", 10)));
        assert!(matches!(
            gw.request_refund(stranger).await,
            Err(Error::InvalidField {
                field: "subOrders",
                ..
            })
        ));
        gw.request_refund(refund("S2".into(), 50, Some(share("898A", 300))))
            .await
            .expect(name);
        assert!(matches!(
            gw.request_refund(refund("S3".into(), 0, Some(share("898A", 250)))).await,
            Err(Error::SplitShareExceeded { party: Some(ref p), left }) if p == "898A" && left == fen(200)
        ));
        // Twenty at once, 50 each from A's 200 left: four, whatever the order.
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let gw = gw.clone();
                let r = refund(format!("C{i}"), 0, Some(share("898A", 50)));
                tokio::spawn(async move { gw.request_refund(r).await })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(_) => accepted += 1,
                Err(Error::SplitShareExceeded { .. } | Error::RefundExceedsPaid { .. }) => {}
                Err(e) => panic!("{name}: {e:?}"),
            }
        }
        assert_eq!(accepted, 4, "{name}");
        // B's share and the platform's are untouched by A's refunds.
        gw.request_refund(refund("S4".into(), 150, Some(share("898B", 300))))
            .await
            .expect(name);
        let order = gw
            .find_order(&merchant(), OrderKey::Platform(&split.id))
            .await
            .expect(name);
        assert_eq!(
            order.refunded,
            fen(1000),
            "{name}: all of it, share by share"
        );
        assert_eq!(order.status, OrderStatus::Refunded);
    }
}

#[tokio::test]
async fn a_fixed_amount_codes_split_is_kept_and_given_to_each_bill_it_makes() {
    use paymux_core::order::{Share, Splits};
    use paymux_core::refund::RefundSplit;
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let op = operator(store, &clock).await;
        let gw = op.gateway();
        let splits = Splits {
            platform: fen(10),
            shares: vec![
                Share {
                    party: "898A".into(),
                    amount: fen(60),
                },
                Share {
                    party: "898B".into(),
                    amount: fen(30),
                },
            ],
        };
        let split_code = |kind, code_ref: &str, amount: Option<i64>| NewCode {
            splits: Some(splits.clone()),
            ..code(kind, code_ref, amount, None)
        };
        // Only a fixed-amount code, and only shares that add up to its amount.
        assert!(
            matches!(
                gw.create_code(split_code(CodeKind::OpenAmount, "SO", None))
                    .await,
                Err(Error::InvalidField {
                    field: "divisionFlag",
                    ..
                })
            ),
            "{name}: an open code's amounts are the payer's"
        );
        assert!(matches!(
            gw.create_code(split_code(CodeKind::FixedAmount, "SF0", Some(99)))
                .await,
            Err(Error::InvalidField {
                field: "subOrders",
                ..
            })
        ));
        let (fixed, _) = gw
            .create_code(split_code(CodeKind::FixedAmount, "SF", Some(100)))
            .await
            .expect(name);
        let stored = gw
            .find_code(&merchant(), CodeKey::Ref("SF"))
            .await
            .expect(name);
        assert_eq!(stored.splits.as_ref(), Some(&splits), "{name}: stored");

        // Each bill carries it, so a refund takes from one share at a time.
        for _ in 0..2 {
            let bill = op
                .bill_from_code(&fixed.id, BillFromCode::default())
                .await
                .expect(name);
            assert_eq!(bill.splits.as_ref(), Some(&splits), "{name}");
            let t = op.start_attempt(&bill.id, WECHAT, None).await.expect(name);
            op.apply_attempt_outcome(&bill.id, t.attempt.seq, paid(fen(100)))
                .await
                .expect(name);
            let refund = gw
                .request_refund(NewRefund {
                    merchant_id: merchant(),
                    order_id: bill.id.clone(),
                    dialect: TAG,
                    refund_no: RefundNo::parse(&format!("SR{}", bill.id), 32).expect("no"),
                    request_no: None,
                    amount: fen(65),
                    reason: String::new(),
                    extra: Map::new(),
                    split: Some(RefundSplit {
                        platform: fen(5),
                        party: Some(Share {
                            party: "898A".into(),
                            amount: fen(60),
                        }),
                    }),
                })
                .await
                .expect(name);
            assert_eq!(refund.status, RefundStatus::Succeeded, "{name}");
        }

        // An update replaces the split with the terms: without one, bills are not split.
        clock.advance_secs(1);
        let (updated, _) = gw
            .update_code(
                &merchant(),
                CodeKey::Ref("SF"),
                code(CodeKind::FixedAmount, "SF", Some(100), None),
            )
            .await
            .expect(name);
        assert!(updated.splits.is_none());
        let plain = op
            .bill_from_code(&fixed.id, BillFromCode::default())
            .await
            .expect(name);
        assert!(plain.splits.is_none(), "{name}");
    }
}

/// Payments wait for the payer; refunds are refused while `refuse` is set.
struct RefusingRefunds {
    refuse: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Channel for RefusingRefunds {
    fn name(&self) -> &'static str {
        "waiting"
    }

    async fn start_payment(&self, order: &Order, attempt: &Attempt) -> PaymentStart {
        Waiting.start_payment(order, attempt).await
    }

    async fn close_payment(&self, order: &Order, attempt: &Attempt) -> ChannelOutcome {
        Waiting.close_payment(order, attempt).await
    }

    async fn refund(&self, order: &Order, refund: &Refund, now: Millis) -> ChannelOutcome {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return ChannelOutcome::Failed {
                code: "REFUND_REFUSED".into(),
                msg: "余额不足".into(),
            };
        }
        Waiting.refund(order, refund, now).await
    }
}

/// A payer pays the bill in full with one try.
async fn pay(op: &Operator, bill: &Order) {
    let t = op.start_attempt(&bill.id, WECHAT, None).await.expect("try");
    op.apply_attempt_outcome(&bill.id, t.attempt.seq, paid(bill.amount))
        .await
        .expect("paid");
}

#[tokio::test]
async fn closing_a_code_with_its_refund_changes_nothing_when_the_refund_is_refused() {
    let b = backends("paymux_bills_test").await;
    for (name, store) in &b.list {
        let clock = Arc::new(ManualClock::new(T0));
        let channel = Arc::new(RefusingRefunds {
            refuse: std::sync::atomic::AtomicBool::new(true),
        });
        let op = operator_with(store, &clock, channel.clone()).await;
        let gw = op.gateway();

        // The channel refuses the refund: the code stays open, nothing is taken.
        let (_, first) = gw
            .create_code(code(
                CodeKind::OneTime,
                "CR1",
                None,
                Some(bill("CRB1", 100, false, false)),
            ))
            .await
            .expect(name);
        let first = first.expect("bill");
        pay(&op, &first).await;
        let refused = gw.close_code(&merchant(), CodeKey::Ref("CR1"), true).await;
        assert!(
            matches!(refused, Err(Error::ChannelRefused { ref code, .. }) if code == "REFUND_REFUSED"),
            "{name}: {refused:?}"
        );
        let code1 = gw
            .find_code(&merchant(), CodeKey::Ref("CR1"))
            .await
            .expect(name);
        assert_eq!(code1.status, CodeStatus::Active, "{name}: still open");
        let order = gw
            .find_order(&merchant(), OrderKey::Platform(&first.id))
            .await
            .expect(name);
        assert_eq!(order.refund_reserved, Fen::ZERO, "{name}: released");
        // Again once the channel takes it: refunded, then closed.
        channel
            .refuse
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let closed = gw
            .close_code(&merchant(), CodeKey::Ref("CR1"), true)
            .await
            .expect(name);
        assert_eq!(closed.status, CodeStatus::Closed);
        let order = gw
            .find_order(&merchant(), OrderKey::Platform(&first.id))
            .await
            .expect(name);
        assert_eq!(
            (order.status, order.refunded),
            (OrderStatus::Refunded, fen(100))
        );

        // An escrow not completed: refused before anything changes.
        let (_, escrowed) = gw
            .create_code(code(
                CodeKind::OneTime,
                "CR2",
                None,
                Some(bill("CRB2", 100, false, true)),
            ))
            .await
            .expect(name);
        let escrowed = escrowed.expect("bill");
        pay(&op, &escrowed).await;
        assert!(matches!(
            gw.close_code(&merchant(), CodeKey::Ref("CR2"), true).await,
            Err(Error::EscrowNotCompleted(EscrowStatus::Uncompleted))
        ));
        let code2 = gw
            .find_code(&merchant(), CodeKey::Ref("CR2"))
            .await
            .expect(name);
        assert_eq!(code2.status, CodeStatus::Active, "{name}");

        // Closed without the refund, then with it: the second close refunds, a third
        // finds nothing left.
        let (_, later) = gw
            .create_code(code(
                CodeKind::OneTime,
                "CR3",
                None,
                Some(bill("CRB3", 70, false, false)),
            ))
            .await
            .expect(name);
        let later = later.expect("bill");
        pay(&op, &later).await;
        gw.close_code(&merchant(), CodeKey::Ref("CR3"), false)
            .await
            .expect(name);
        for _ in 0..2 {
            gw.close_code(&merchant(), CodeKey::Ref("CR3"), true)
                .await
                .expect(name);
        }
        let refunds = gw
            .refunds_of_order(&merchant(), &later.id)
            .await
            .expect(name);
        assert_eq!(refunds.len(), 1, "{name}");
        assert_eq!(refunds[0].amount, fen(70));
    }
}
