//! upp over HTTP with the upp client: every interface, every auth-code rule, expiry,
//! close-then-pay, idempotent and concurrent refunds, amount edge cases, refusals.

use paymux_core::time::{Millis, format_beijing_datetime};
use paymux_dialects::upp::codec;
use paymux_dialects::upp::wire::{
    BarcodeRequest, Params, PaymentRef, RefundQueryRequest, RefundRequest, Reply, ReplyData,
    ScanCodeRequest,
};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestGateway, UPP_KEY};

pub fn expire_in(gw: &TestGateway, secs: i64) -> String {
    format_beijing_datetime(paymux_core::clock::Clock::now(gw.clock.as_ref()).plus_secs(secs))
}

pub fn scan(gw: &TestGateway, no: &str, fee: &str) -> ScanCodeRequest {
    ScanCodeRequest {
        payment_no: Some(no.into()),
        channel_product: Some("ten_scan_code".into()),
        expire_time: Some(expire_in(gw, 600)),
        trade_fee: Some(fee.into()),
        subject: Some("门诊缴费".into()),
        district_id: Some("D01".into()),
        source_type: Some("outpatient".into()),
        biz_data: Some(r#"{"visit":"V1"}"#.into()),
        expand_data: Some(r#"{"x":1}"#.into()),
    }
}

pub fn barcode(gw: &TestGateway, no: &str, auth_code: &str) -> BarcodeRequest {
    BarcodeRequest {
        payment_no: Some(no.into()),
        expire_time: Some(expire_in(gw, 600)),
        trade_fee: Some("0.10".into()),
        subject: Some("窗口缴费".into()),
        auth_code: Some(auth_code.into()),
        biz_data: Some("B".into()),
        ..Default::default()
    }
}

pub fn by_no(no: &str) -> PaymentRef {
    PaymentRef {
        biz_type: Some("hos".into()),
        payment_no: Some(no.into()),
    }
}

pub fn refund(no: &str, fee: &str, request_no: &str, refund_no: &str) -> RefundRequest {
    RefundRequest {
        refund_fee: Some(fee.into()),
        payment_no: Some(no.into()),
        biz_type: Some("scan_pay".into()),
        request_no: Some(request_no.into()),
        refund_no: Some(refund_no.into()),
        biz_data: Some("RB".into()),
        ..Default::default()
    }
}

pub fn data(reply: &Reply) -> &ReplyData {
    reply.data.as_ref().expect("data")
}

pub fn status(reply: &Reply) -> &str {
    data(reply).trade_status.as_deref().unwrap_or("")
}

pub fn assert_ok(reply: &Reply) {
    assert!(reply.result, "{reply:?}");
    assert_eq!(reply.kind.as_deref(), Some("0"));
    assert_eq!(reply.version.as_deref(), Some("1.0.0"));
}

pub fn assert_refused(reply: &Reply, kind: &str) {
    assert!(!reply.result, "{reply:?}");
    assert_eq!(reply.kind.as_deref(), Some(kind), "{reply:?}");
    assert!(
        !reply.msg.as_deref().unwrap_or("").is_empty(),
        "a refusal says why"
    );
}

#[tokio::test]
async fn the_network_test_answers_the_company_name_signed() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw.upp.network().await.expect("a signed reply");
    assert_ok(&reply);
    assert_eq!(
        data(&reply).field.as_deref(),
        Some("杭州恒生芸泰网络科技有限公司")
    );
}

#[tokio::test]
async fn a_scan_code_payment_is_paid_at_the_cashier_and_queried() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let reply = gw.upp.scan_code(&scan(&gw, "S1", "0.01")).await.unwrap();
        assert_ok(&reply);
        let d = data(&reply);
        assert_eq!(d.trade_status.as_deref(), Some("wait_pay"));
        assert_eq!(d.channel_type.as_deref(), Some("ten"));
        assert_eq!(d.channel_product.as_deref(), Some("ten_scan_code"));
        assert_eq!(d.trade_fee.as_deref(), Some("0.01"));
        assert_eq!(d.payment_no.as_deref(), Some("S1"));
        let out = d.out_payment_no.clone().unwrap();
        let pay_url = d.pay_url.clone().unwrap();
        assert!(
            pay_url.starts_with(&format!("{}/cashier/{out}/", gw.url)),
            "the cashier link with its token: {pay_url}"
        );

        let html = gw
            .http
            .get(&pay_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("门诊缴费") && html.contains("¥0.01"),
            "{backend:?}"
        );
        let waiting = gw.upp.query(&by_no("S1")).await.unwrap();
        assert_eq!(status(&waiting), "wait_pay");
        gw.http
            .post(format!("{pay_url}/pay"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("result=success")
            .send()
            .await
            .unwrap();
        let paid = gw.upp.query(&by_no("S1")).await.unwrap();
        assert_ok(&paid);
        let d = data(&paid);
        assert_eq!(
            d.trade_status.as_deref(),
            Some("pay_success"),
            "{backend:?}"
        );
        assert_eq!(d.out_payment_no.as_deref(), Some(out.as_str()));
        assert!(
            d.in_payment_no
                .as_deref()
                .is_some_and(|n| n.starts_with("42000")),
            "a WeChat trade number"
        );
        assert_eq!(
            d.biz_data.as_deref(),
            Some(r#"{"visit":"V1"}"#),
            "bizData echoed"
        );
        assert_eq!(
            d.payment_time.as_deref().map(str::len),
            Some(19),
            "yyyy-MM-dd HH:mm:ss"
        );
    }
}

#[tokio::test]
async fn a_payer_code_answer_the_database_cannot_record_is_settled_by_the_poller() {
    let gw = TestGateway::spawn(Backend::Postgres).await;
    // A database fault after the order is committed: settling an attempt fails.
    let db = sqlx::PgPool::connect(&gw.database)
        .await
        .expect("test database");
    for sql in [
        "CREATE FUNCTION injected_fault() RETURNS trigger AS $$ \
         BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER injected_fault BEFORE UPDATE OF status ON attempts \
         FOR EACH ROW EXECUTE FUNCTION injected_fault()",
    ] {
        sqlx::query(sql).execute(&db).await.expect("fault injected");
    }

    // The channel took the money at once, but paymux could not record it: the merchant
    // hears "waiting", not an error that would make it retry into a duplicate number.
    let reply = gw
        .upp
        .barcode(&barcode(&gw, "F1", "134567890123456781"))
        .await
        .unwrap();
    assert_ok(&reply);
    assert_eq!(status(&reply), "wait_pay");
    assert_eq!(
        status(&gw.upp.query(&by_no("F1")).await.unwrap()),
        "wait_pay"
    );

    // Once the database works again, the poller asks the channel and settles it.
    sqlx::query("DROP TRIGGER injected_fault ON attempts")
        .execute(&db)
        .await
        .expect("fault removed");
    gw.advance(11);
    gw.poll_channels().await;
    let settled = gw.upp.query(&by_no("F1")).await.unwrap();
    assert_eq!(status(&settled), "pay_success", "{settled:?}");
}

#[tokio::test]
async fn barcode_payments_follow_the_payer_codes_last_digit() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    // 1: at once. Other digits: at once.
    for (no, code, channel) in [
        ("B1", "134567890123456781", "ten"),
        ("B2", "281234567890123455", "ali"),
        ("B3", "6212345678901234560", "uni"),
    ] {
        let reply = gw.upp.barcode(&barcode(&gw, no, code)).await.unwrap();
        assert_ok(&reply);
        assert_eq!(status(&reply), "pay_success", "{code}");
        assert_eq!(data(&reply).channel_type.as_deref(), Some(channel));
        assert_eq!(
            data(&reply).channel_product.as_deref(),
            Some(format!("{channel}_bar_code").as_str())
        );
        assert!(data(&reply).payment_time.is_some());
    }
    // 9: insufficient balance.
    let failed = gw
        .upp
        .barcode(&barcode(&gw, "B9", "134567890123456789"))
        .await
        .unwrap();
    assert_ok(&failed);
    assert_eq!(status(&failed), "pay_failed");
    assert_eq!(
        failed.msg.as_deref(),
        Some("余额不足"),
        "the reason, readable"
    );
    assert!(data(&failed).failed_reason.is_none());
    let queried = gw.upp.query(&by_no("B9")).await.unwrap();
    assert_eq!(status(&queried), "pay_failed");
    assert_eq!(queried.msg.as_deref(), Some("余额不足"));
    // 2: the payer confirms...
    let waiting = gw
        .upp
        .barcode(&barcode(&gw, "B2a", "134567890123456782"))
        .await
        .unwrap();
    assert_eq!(status(&waiting), "wait_pay");
    let id = data(&waiting).out_payment_no.clone().unwrap();
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    assert_eq!(
        status(&gw.upp.query(&by_no("B2a")).await.unwrap()),
        "pay_success"
    );
    // ...or it succeeds by itself after 30 s (merchants poll 8 times every 5 s).
    let waiting = gw
        .upp
        .barcode(&barcode(&gw, "B2b", "281234567890123452"))
        .await
        .unwrap();
    assert_eq!(status(&waiting), "wait_pay");
    gw.advance(29);
    gw.poll_channels().await;
    assert_eq!(
        status(&gw.upp.query(&by_no("B2b")).await.unwrap()),
        "wait_pay"
    );
    gw.advance(1);
    gw.poll_channels().await;
    assert_eq!(
        status(&gw.upp.query(&by_no("B2b")).await.unwrap()),
        "pay_success"
    );
    // A code of no known wallet.
    let unknown = gw
        .upp
        .barcode(&barcode(&gw, "BX", "991234567890123456"))
        .await
        .unwrap();
    assert_refused(&unknown, "2008");
    assert_refused(&gw.upp.query(&by_no("BX")).await.unwrap(), "2002");
}

#[tokio::test]
async fn an_expired_order_reports_pay_failed_and_a_late_payment_is_refunded() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let mut request = scan(&gw, "E1", "1.00");
    request.expire_time = Some(expire_in(&gw, 60));
    let reply = gw.upp.scan_code(&request).await.unwrap();
    let id = data(&reply).out_payment_no.clone().unwrap();
    gw.advance(61);
    // The expirer has not run: the query closes it on the spot.
    assert_eq!(
        status(&gw.upp.query(&by_no("E1")).await.unwrap()),
        "pay_failed"
    );
    let page = gw.http.get(gw.cashier_url(&id)).send().await.unwrap();
    assert!(!page.text().await.unwrap().contains("确认支付"));
    // A payment arriving anyway becomes an automatic refund, never a live payment.
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    assert_eq!(
        status(&gw.upp.query(&by_no("E1")).await.unwrap()),
        "refund_apply_success"
    );
    gw.advance(3);
    gw.poll_channels().await;
    assert_eq!(
        status(&gw.upp.query(&by_no("E1")).await.unwrap()),
        "refund_success"
    );
}

#[tokio::test]
async fn close_then_pay_is_refunded_automatically_and_visible_in_query_and_refund_query() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw.upp.scan_code(&scan(&gw, "C1", "2.50")).await.unwrap();
    let id = data(&reply).out_payment_no.clone().unwrap();
    let closed = gw.upp.close(&by_no("C1")).await.unwrap();
    assert_ok(&closed);
    assert_eq!(data(&closed).is_close_order.as_deref(), Some("Y"));
    assert_eq!(data(&closed).out_payment_no.as_deref(), Some(id.as_str()));
    let again = gw.upp.close(&by_no("C1")).await.unwrap();
    assert_eq!(
        data(&again).is_close_order.as_deref(),
        Some("Y"),
        "closing twice is still closed"
    );
    assert_eq!(
        status(&gw.upp.query(&by_no("C1")).await.unwrap()),
        "pay_failed"
    );

    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    let query = gw.upp.query(&by_no("C1")).await.unwrap();
    assert_eq!(
        status(&query),
        "refund_apply_success",
        "paid, then refunded: not a live payment"
    );
    let auto = gw
        .upp
        .refund_query(&RefundQueryRequest {
            request_no: Some("C1".into()),
        })
        .await
        .unwrap();
    assert_ok(&auto);
    assert_eq!(status(&auto), "refund_apply_success");
    assert_eq!(data(&auto).refund_fee.as_deref(), Some("2.50"));
    gw.advance(3);
    gw.poll_channels().await;
    assert_eq!(
        status(&gw.upp.query(&by_no("C1")).await.unwrap()),
        "refund_success"
    );
    let done = gw
        .upp
        .refund_query(&RefundQueryRequest {
            request_no: Some("C1".into()),
        })
        .await
        .unwrap();
    assert_eq!(status(&done), "refund_success");
    assert!(data(&done).refund_time.is_some());
    // The merchant cannot refund it again: the money is already going back.
    let refused = gw
        .upp
        .refund(&refund("C1", "2.50", "RQ1", "RF1"))
        .await
        .unwrap();
    assert_refused(&refused, "2003");
    assert_eq!(status(&refused), "refund_failed");
}

#[tokio::test]
async fn closing_a_paid_or_unknown_order_says_n() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    gw.upp
        .barcode(&barcode(&gw, "P1", "134567890123456781"))
        .await
        .unwrap();
    let paid = gw.upp.close(&by_no("P1")).await.unwrap();
    assert_refused(&paid, "2003");
    assert_eq!(data(&paid).is_close_order.as_deref(), Some("N"));
    let unknown = gw.upp.close(&by_no("NOPE")).await.unwrap();
    assert_refused(&unknown, "2002");
    assert_eq!(data(&unknown).is_close_order.as_deref(), Some("N"));
    assert_eq!(
        status(&gw.upp.query(&by_no("P1")).await.unwrap()),
        "pay_success"
    );
}

#[tokio::test]
async fn refunds_are_partial_idempotent_by_request_no_and_complete_asynchronously() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    gw.upp
        .barcode(&barcode(&gw, "R1", "134567890123456781"))
        .await
        .unwrap(); // 0.10 paid

    let first = gw
        .upp
        .refund(&refund("R1", "0.03", "RQ1", "RF1"))
        .await
        .unwrap();
    assert_ok(&first);
    let d = data(&first);
    assert_eq!(d.trade_status.as_deref(), Some("refund_apply_success"));
    assert_eq!(d.refund_fee.as_deref(), Some("0.03"));
    assert_eq!(d.request_no.as_deref(), Some("RQ1"));
    assert_eq!(d.refund_no.as_deref(), Some("RF1"));
    assert_eq!(d.payment_no.as_deref(), Some("R1"));
    assert_eq!(d.channel_product.as_deref(), Some("ten_bar_code"));
    assert_eq!(d.biz_data.as_deref(), Some("RB"));
    let out_refund_no = d.out_refund_no.clone().unwrap();

    // The same request again: the same refund, not a second one.
    let repeat = gw
        .upp
        .refund(&refund("R1", "0.03", "RQ1", "RF1"))
        .await
        .unwrap();
    assert_ok(&repeat);
    assert_eq!(
        data(&repeat).out_refund_no.as_deref(),
        Some(out_refund_no.as_str())
    );
    // The same requestNo with other parameters is refused as failed: this request moved
    // nothing (refundQuery RQ1 still shows the original).
    let conflict = gw
        .upp
        .refund(&refund("R1", "0.04", "RQ1", "RF1"))
        .await
        .unwrap();
    assert_refused(&conflict, "2006");
    assert_eq!(status(&conflict), "refund_failed");
    assert_eq!(data(&conflict).refund_fee.as_deref(), Some("0.04"));
    assert!(data(&conflict).failed_reason.is_some());
    // A refundNo is unique per merchant; the reply shows the refund that has it.
    let duplicate = gw
        .upp
        .refund(&refund("R1", "0.01", "RQ2", "RF1"))
        .await
        .unwrap();
    assert_refused(&duplicate, "2005");
    assert_eq!(status(&duplicate), "refund_apply_success");
    assert_eq!(data(&duplicate).request_no.as_deref(), Some("RQ1"));
    // More than is left.
    let too_much = gw
        .upp
        .refund(&refund("R1", "0.08", "RQ3", "RF3"))
        .await
        .unwrap();
    assert_refused(&too_much, "2004");
    assert_eq!(status(&too_much), "refund_failed");
    assert!(
        data(&too_much)
            .failed_reason
            .as_deref()
            .unwrap()
            .contains("0.07")
    );
    // Unknown payment.
    let unknown = gw
        .upp
        .refund(&refund("NOPE", "0.01", "RQ4", "RF4"))
        .await
        .unwrap();
    assert_refused(&unknown, "2002");
    assert_eq!(status(&unknown), "refund_failed");

    let query = RefundQueryRequest {
        request_no: Some("RQ1".into()),
    };
    assert_eq!(
        status(&gw.upp.refund_query(&query).await.unwrap()),
        "refund_apply_success"
    );
    gw.advance(3);
    gw.poll_channels().await;
    let done = gw.upp.refund_query(&query).await.unwrap();
    assert_ok(&done);
    assert_eq!(status(&done), "refund_success");
    assert!(data(&done).refund_time.is_some());
    // The rest can still be refunded, exactly.
    let rest = gw
        .upp
        .refund(&refund("R1", "0.07", "RQ5", "RF5"))
        .await
        .unwrap();
    assert_eq!(status(&rest), "refund_apply_success");
    let nothing_left = gw
        .upp
        .refund(&refund("R1", "0.01", "RQ6", "RF6"))
        .await
        .unwrap();
    assert_refused(&nothing_left, "2004");
    let unknown = gw
        .upp
        .refund_query(&RefundQueryRequest {
            request_no: Some("NONE".into()),
        })
        .await
        .unwrap();
    assert_refused(&unknown, "2007");
    assert_eq!(status(&unknown), "refund_failed");
    // Refunds do not turn a paid order into anything but paid.
    assert_eq!(
        status(&gw.upp.query(&by_no("R1")).await.unwrap()),
        "pay_success"
    );
}

#[tokio::test]
async fn an_unpaid_order_cannot_be_refunded() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    gw.upp.scan_code(&scan(&gw, "U1", "1.00")).await.unwrap();
    let refused = gw
        .upp
        .refund(&refund("U1", "0.50", "RQ1", "RF1"))
        .await
        .unwrap();
    assert_refused(&refused, "2003");
    assert_eq!(status(&refused), "refund_failed");
}

#[tokio::test]
async fn twenty_concurrent_refunds_never_exceed_what_was_paid() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        gw.upp
            .barcode(&barcode(&gw, "CC", "134567890123456781"))
            .await
            .unwrap(); // 0.10
        let mut tasks = Vec::new();
        for i in 0..20 {
            let client = gw.upp.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .refund(&refund("CC", "0.03", &format!("RQ{i}"), &format!("RF{i}")))
                    .await
                    .expect("a signed reply")
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            let reply = t.await.unwrap();
            if reply.result {
                assert_eq!(status(&reply), "refund_apply_success");
                accepted += 1;
            } else {
                assert_eq!(
                    reply.kind.as_deref(),
                    Some("2004"),
                    "{backend:?}: {reply:?}"
                );
                assert_eq!(status(&reply), "refund_failed");
            }
        }
        assert_eq!(
            accepted, 3,
            "{backend:?}: 3 × 0.03 fit in 0.10, a fourth does not"
        );
    }
}

#[tokio::test]
async fn amounts_convert_exactly_or_are_refused() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    for (i, (fee, reason)) in [
        ("0", "必须大于0"),
        ("0.00", "必须大于0"),
        ("-1", "必须大于0"),
        ("1.001", "小数部分最多2位"),
        ("100000000.00", "整数部分最多8位"),
        ("abc", "须为以元为单位的金额"),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = gw
            .upp
            .scan_code(&scan(&gw, &format!("A{i}"), fee))
            .await
            .unwrap();
        assert_refused(&reply, "1004");
        let msg = reply.msg.clone().unwrap();
        assert!(
            msg.contains("tradeFee") && msg.contains(reason),
            "{fee}: {msg}"
        );
        assert_refused(
            &gw.upp.query(&by_no(&format!("A{i}"))).await.unwrap(),
            "2002",
        );
    }
    let largest = gw
        .upp
        .scan_code(&scan(&gw, "MAX", "99999999.99"))
        .await
        .unwrap();
    assert_eq!(data(&largest).trade_fee.as_deref(), Some("99999999.99"));

    // Java's BigDecimal arrives as a JSON number: read from its text, never as a float.
    let mut params = request_params(&gw, "NUM");
    params.insert(
        "tradeFee".into(),
        serde_json::from_str::<Value>("0.1").unwrap(),
    );
    let reply = send_signed(&gw, "/access/scancode", params).await;
    assert_eq!(reply["result"], true, "{reply:?}");
    assert_eq!(reply["data"]["tradeFee"], "0.10");
    let mut params = request_params(&gw, "NUM2");
    params.insert(
        "tradeFee".into(),
        serde_json::from_str::<Value>("0.29").unwrap(),
    );
    let reply = send_signed(&gw, "/access/scancode", params).await;
    assert_eq!(reply["data"]["tradeFee"], "0.29", "0.29 is not 0.28999…");
    // Numbers a float would quietly turn into a valid amount are refused.
    for (i, text) in ["0.1000000000000000001", "1e-2", "1.0e2"]
        .into_iter()
        .enumerate()
    {
        let mut params = request_params(&gw, &format!("FLOAT{i}"));
        params.insert(
            "tradeFee".into(),
            serde_json::from_str::<Value>(text).unwrap(),
        );
        let reply = send_signed(&gw, "/access/scancode", params).await;
        assert_eq!(reply["kind"], "1004", "{text}: {reply:?}");
    }
}

pub fn request_params(gw: &TestGateway, no: &str) -> Params {
    let mut p = Params::new();
    p.insert("isvId".into(), json!(20000));
    p.insert("partnerId".into(), json!(12345));
    p.insert("version".into(), json!("1.0.0"));
    p.insert(
        "timestamp".into(),
        json!(paymux_core::clock::Clock::now(gw.clock.as_ref()).0),
    );
    p.insert("paymentNo".into(), json!(no));
    p.insert("channelProduct".into(), json!("ali_scan_code"));
    p.insert("expireTime".into(), json!(expire_in(gw, 600)));
    p.insert("tradeFee".into(), json!("1.00"));
    p.insert("subject".into(), json!("挂号"));
    p
}

pub async fn send_signed(gw: &TestGateway, path: &str, mut params: Params) -> Params {
    params.remove("sign");
    let sign = codec::sign_params(&params, UPP_KEY);
    params.insert("sign".into(), json!(sign));
    send_raw(gw, path, &params).await
}

pub async fn send_raw(gw: &TestGateway, path: &str, params: &Params) -> Params {
    let text = gw
        .post_raw(
            path,
            "application/json;charset=utf-8",
            codec::encode(params),
        )
        .await;
    let reply = codec::decode(text.as_bytes()).expect("a JSON reply");
    for field in ["result", "kind", "msg", "sign", "version", "timestamp"] {
        assert!(reply.contains_key(field), "every reply has {field}: {text}");
    }
    reply
}

#[tokio::test]
async fn tampered_unsigned_stale_and_foreign_requests_are_refused_and_change_nothing() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let signed = {
        let mut p = request_params(&gw, "T1");
        let sign = codec::sign_params(&p, UPP_KEY);
        p.insert("sign".into(), json!(sign));
        p
    };
    let mut tampered = signed.clone();
    tampered.insert("tradeFee".into(), json!("0.01"));
    let reply = send_raw(&gw, "/access/scancode", &tampered).await;
    assert_eq!(
        (reply["result"].clone(), reply["kind"].clone()),
        (json!(false), json!("1001"))
    );
    assert!(
        codec::verify_reply(&reply, UPP_KEY),
        "refusals to a known merchant are signed"
    );

    let mut unsigned = signed.clone();
    unsigned.remove("sign");
    assert_eq!(
        send_raw(&gw, "/access/scancode", &unsigned).await["kind"],
        "1003"
    );

    let mut stale = request_params(&gw, "T1");
    stale.insert(
        "timestamp".into(),
        json!(paymux_core::clock::Clock::now(gw.clock.as_ref()).0 - 301_000),
    );
    assert_eq!(
        send_signed(&gw, "/access/scancode", stale).await["kind"],
        "1002"
    );

    let mut foreign = request_params(&gw, "T1");
    foreign.insert("partnerId".into(), json!(99999));
    assert_eq!(
        send_signed(&gw, "/access/scancode", foreign).await["kind"],
        "1005"
    );

    let mut old_version = request_params(&gw, "T1");
    old_version.insert("version".into(), json!("2.0.0"));
    assert_eq!(
        send_signed(&gw, "/access/scancode", old_version).await["kind"],
        "1006"
    );

    let text = gw
        .post_raw("/access/scancode", "application/json", "not json")
        .await;
    assert_eq!(codec::decode(text.as_bytes()).unwrap()["kind"], "1007");

    // A refund refused before it is even read still says refund_failed.
    let reply = send_raw(&gw, "/access/refund", &tampered).await;
    assert_eq!(reply["data"]["tradeStatus"], "refund_failed");
    let reply = send_raw(&gw, "/access/close", &tampered).await;
    assert_eq!(reply["data"]["isCloseOrder"], "N");

    // Nothing was written: the genuine request still creates the order.
    let reply = send_raw(&gw, "/access/scancode", &signed).await;
    assert_eq!(reply["result"], true, "{reply:?}");
    let again = send_raw(&gw, "/access/scancode", &signed).await;
    assert_eq!(again["kind"], "2001", "a paymentNo is used once");
}

#[tokio::test]
async fn the_timestamp_check_can_be_turned_off() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| c.server.max_clock_skew_s = 0).await;
    let mut p = request_params(&gw, "OLD");
    p.insert("timestamp".into(), json!(102540025));
    assert_eq!(
        send_signed(&gw, "/access/scancode", p).await["result"],
        true
    );
}

#[tokio::test]
async fn scan_requests_are_checked_field_by_field() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("channelProduct", json!("ali_bar_code"), "1004"),
        (
            "expireTime",
            json!(format_beijing_datetime(Millis(0))),
            "1004",
        ),
        ("expireTime", json!("tomorrow"), "1004"),
        ("subject", json!("a,b"), "1004"),
        ("subject", json!("长".repeat(65)), "1004"),
        ("paymentNo", json!("x".repeat(33)), "1004"),
        ("sourceType", json!("emergency"), "1004"),
        ("subject", Value::Null, "1003"),
        ("paymentNo", Value::Null, "1003"),
    ];
    for (field, value, kind) in cases {
        let mut p = request_params(&gw, "F1");
        if value.is_null() {
            p.remove(field);
        } else {
            p.insert(field.into(), value.clone());
        }
        let reply = send_signed(&gw, "/access/scancode", p).await;
        assert_eq!(reply["kind"], kind, "{field}={value}: {reply:?}");
        assert!(reply["msg"].as_str().unwrap().contains(field), "{reply:?}");
    }
}

#[tokio::test]
async fn a_duplicate_payment_no_is_refused_and_the_first_order_is_untouched() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let first = gw.upp.scan_code(&scan(&gw, "D1", "1.00")).await.unwrap();
    assert_ok(&first);
    let mut second = scan(&gw, "D1", "5.00");
    second.channel_product = Some("ali_scan_code".into());
    let refused = gw.upp.scan_code(&second).await.unwrap();
    assert_refused(&refused, "2001");
    let barcode_too = gw
        .upp
        .barcode(&barcode(&gw, "D1", "134567890123456781"))
        .await
        .unwrap();
    assert_refused(&barcode_too, "2001");
    let query = gw.upp.query(&by_no("D1")).await.unwrap();
    assert_eq!(data(&query).trade_fee.as_deref(), Some("1.00"));
    assert_eq!(data(&query).channel_type.as_deref(), Some("ten"));
    assert_eq!(data(&query).out_payment_no, data(&first).out_payment_no);
    assert_eq!(status(&query), "wait_pay");
}

#[tokio::test]
async fn a_refund_recorded_before_a_crash_is_completed_by_the_poller() {
    use paymux_core::store::Store;
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let paid = gw
        .upp
        .barcode(&barcode(&gw, "K1", "134567890123456781"))
        .await
        .unwrap();
    let order_id =
        paymux_core::ids::PlatformId::from_string(data(&paid).out_payment_no.clone().unwrap());
    let order = gw.running.operator.order_by_id(&order_id).await.unwrap();
    // What request_refund commits before it asks the channel; then the process stops.
    let now = paymux_core::clock::Clock::now(gw.clock.as_ref());
    let refund = paymux_core::refund::Refund {
        id: gw.running.operator.new_id('R'),
        merchant_id: order.merchant_id.clone(),
        order_id: order.id.clone(),
        attempt_seq: 1,
        dialect: paymux_core::dialect::DialectTag::new("upp"),
        refund_no: Some(paymux_core::ids::RefundNo::parse("RFK", 32).unwrap()),
        request_no: Some(paymux_core::ids::RefundRequestNo::parse("RQK", 32).unwrap()),
        amount: order.amount,
        reason: String::new(),
        status: paymux_core::refund::RefundStatus::Requested,
        automatic: false,
        channel_refund_no: None,
        fail_reason: None,
        extra: serde_json::Map::new(),
        created_at: now,
        finished_at: None,
        next_check_at: Some(now.plus_secs(10)),
        split: None,
    };
    gw.running.store.insert_refund(&refund).await.unwrap();
    let gw = gw.restart().await;
    let query = RefundQueryRequest {
        request_no: Some("RQK".into()),
    };
    assert_eq!(
        status(&gw.upp.refund_query(&query).await.unwrap()),
        "refund_apply_success"
    );
    // The poller finds it; the channel never received it, so it is sent now...
    gw.advance(10);
    gw.poll_channels().await;
    assert_eq!(
        status(&gw.upp.refund_query(&query).await.unwrap()),
        "refund_apply_success"
    );
    // ...and completes the channel's few seconds later.
    gw.advance(3);
    gw.poll_channels().await;
    assert_eq!(
        status(&gw.upp.refund_query(&query).await.unwrap()),
        "refund_success"
    );
}

#[tokio::test]
async fn absurd_signed_timestamps_are_stale_not_a_crash() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    for timestamp in [json!(i64::MIN), json!(i64::MAX), json!(0)] {
        let mut p = request_params(&gw, "TS");
        p.insert("timestamp".into(), timestamp.clone());
        assert_eq!(
            send_signed(&gw, "/access/scancode", p).await["kind"],
            "1002",
            "{timestamp}"
        );
    }
    let mut p = request_params(&gw, "TS");
    p.insert("timestamp".into(), json!("soon"));
    assert_eq!(
        send_signed(&gw, "/access/scancode", p).await["kind"],
        "1004"
    );
}

#[tokio::test]
async fn a_fully_refunded_order_stays_paid_and_takes_no_further_refund() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let paid = gw
        .upp
        .barcode(&barcode(&gw, "F1", "134567890123456781"))
        .await
        .unwrap(); // 0.10
    let id = paymux_core::ids::PlatformId::from_string(data(&paid).out_payment_no.clone().unwrap());
    gw.upp
        .refund(&refund("F1", "0.04", "RQ1", "RF1"))
        .await
        .unwrap();
    gw.upp
        .refund(&refund("F1", "0.06", "RQ2", "RF2"))
        .await
        .unwrap();
    gw.advance(3);
    gw.poll_channels().await;
    let order = gw.running.operator.order_by_id(&id).await.unwrap();
    assert_eq!(order.status, paymux_core::order::OrderStatus::Refunded);
    assert_eq!(order.refunded.get(), 10);
    assert_eq!(
        status(&gw.upp.query(&by_no("F1")).await.unwrap()),
        "pay_success"
    );
    let more = gw
        .upp
        .refund(&refund("F1", "0.01", "RQ3", "RF3"))
        .await
        .unwrap();
    assert_refused(&more, "2004");
    assert!(
        more.msg.as_deref().unwrap().contains("0.00"),
        "nothing left to refund"
    );
    assert_eq!(status(&more), "refund_failed");
}

#[tokio::test]
async fn ids_and_timestamps_are_accepted_as_strings_too() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let mut p = request_params(&gw, "STR");
    let now = paymux_core::clock::Clock::now(gw.clock.as_ref()).0;
    p.insert("isvId".into(), json!("20000"));
    p.insert("partnerId".into(), json!("12345"));
    p.insert("timestamp".into(), json!(now.to_string()));
    assert_eq!(
        send_signed(&gw, "/access/scancode", p).await["result"],
        true
    );
}

#[tokio::test]
async fn the_timestamp_window_is_the_configured_skew_either_way() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let now = paymux_core::clock::Clock::now(gw.clock.as_ref()).0;
    for (i, (offset_ms, kind)) in [
        (300_000, "0"),
        (-300_000, "0"),
        (301_000, "1002"),
        (-301_000, "1002"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = request_params(&gw, &format!("W{i}"));
        p.insert("timestamp".into(), json!(now + offset_ms));
        assert_eq!(
            send_signed(&gw, "/access/scancode", p).await["kind"],
            kind,
            "{offset_ms}"
        );
    }
}

#[tokio::test]
async fn hospital_fields_are_stored_and_times_are_beijing_time() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw.upp.scan_code(&scan(&gw, "H1", "0.01")).await.unwrap();
    let id =
        paymux_core::ids::PlatformId::from_string(data(&reply).out_payment_no.clone().unwrap());
    assert_eq!(
        data(&reply).expire_time.as_deref(),
        Some(expire_in(&gw, 600).as_str()),
        "expireTime echoed as sent"
    );
    gw.pay(id.as_str(), "success").await;
    let order = gw.running.operator.order_by_id(&id).await.unwrap();
    assert_eq!(order.extra_str("districtId"), Some("D01"));
    assert_eq!(order.extra_str("sourceType"), Some("outpatient"));
    assert_eq!(order.extra_str("expandData"), Some(r#"{"x":1}"#));
    assert_eq!(order.extra_str("bizData"), Some(r#"{"visit":"V1"}"#));
    let query = gw.upp.query(&by_no("H1")).await.unwrap();
    let paid_at = order.paid_at.expect("paid");
    assert_eq!(
        data(&query).payment_time.as_deref(),
        Some(format_beijing_datetime(paid_at).as_str())
    );
    // Beijing is UTC+8: the printed time is 8 hours ahead of the UTC instant.
    let printed = paymux_core::time::parse_beijing(
        data(&query).payment_time.as_deref().unwrap(),
        "%Y-%m-%d %H:%M:%S",
    )
    .expect("yyyy-MM-dd HH:mm:ss");
    assert_eq!(printed.0 / 1000, paid_at.0 / 1000);
}

#[tokio::test]
async fn the_cashier_page_does_not_take_a_payment_for_a_closed_order() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw.upp.scan_code(&scan(&gw, "CP", "0.01")).await.unwrap();
    let pay_url = data(&reply).pay_url.clone().unwrap();
    gw.upp.close(&by_no("CP")).await.unwrap();
    let paid = gw
        .http
        .post(format!("{pay_url}/pay"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("result=success")
        .send()
        .await
        .unwrap();
    assert!(paid.text().await.unwrap().contains("订单已关闭"));
    assert_eq!(
        status(&gw.upp.query(&by_no("CP")).await.unwrap()),
        "pay_failed",
        "no late payment"
    );
}

/// Commits what create_order commits for a payer-code payment before it asks the channel,
/// as if the process stopped right there.
async fn crashed_barcode_order(gw: &TestGateway, no: &str) {
    use paymux_core::store::Store;
    let now = paymux_core::clock::Clock::now(gw.clock.as_ref());
    let new = paymux_dialects::upp::convert::barcode_order(
        &barcode(gw, no, "134567890123456781"),
        paymux_core::ids::MerchantId::new("demo"),
        now,
    )
    .unwrap();
    let order = paymux_core::order::Order {
        id: gw.running.operator.new_id('P'),
        merchant_id: new.merchant_id.clone(),
        merchant_order_no: new.merchant_order_no.clone(),
        dialect: new.dialect,
        pay_way: new.pay_way,
        channel: "sandbox".into(),
        amount: new.amount,
        currency: new.currency.clone(),
        subject: new.subject.clone(),
        body: new.body.clone(),
        status: paymux_core::order::OrderStatus::Paying,
        notify_url: None,
        return_url: None,
        client_ip: None,
        extra: new.extra.clone(),
        channel_trade_no: None,
        channel_user: None,
        refund_reserved: paymux_core::Fen::ZERO,
        refunded: paymux_core::Fen::ZERO,
        created_at: now,
        expires_at: new.expires_at.unwrap(),
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
    };
    let attempt =
        paymux_core::order::Attempt::first(&order, new.auth_code.clone(), Some(now.plus_secs(10)));
    gw.running
        .store
        .insert_order(&order, Some(&attempt))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_payer_code_payment_whose_answer_was_lost_is_settled_by_the_poller() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    crashed_barcode_order(&gw, "LOST").await;
    let gw = gw.restart().await;
    assert_eq!(
        status(&gw.upp.query(&by_no("LOST")).await.unwrap()),
        "wait_pay"
    );
    gw.advance(10);
    gw.poll_channels().await;
    let paid = gw.upp.query(&by_no("LOST")).await.unwrap();
    assert_eq!(status(&paid), "pay_success");
    assert!(data(&paid).in_payment_no.is_some());
}

#[tokio::test]
async fn closing_a_payment_the_channel_already_took_finds_it_paid() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    crashed_barcode_order(&gw, "LOST").await;
    let close = gw.upp.close(&by_no("LOST")).await.unwrap();
    assert_refused(&close, "2003");
    assert_eq!(data(&close).is_close_order.as_deref(), Some("N"));
    assert_eq!(
        status(&gw.upp.query(&by_no("LOST")).await.unwrap()),
        "pay_success"
    );
}
