//! What an attacker or a careless caller tries, refused: another merchant's orders through
//! every dialect and through the core API, a `javascript:` return URL, the payer pages
//! without their link, the sandbox when it is off, a channel that reports another amount,
//! and the edges malformed requests found (a boolean order number, an object in a upp field,
//! a field 100,000 characters long).

use base64::Engine;
use paymux_core::ids::{MerchantId, PlatformId, RefundNo};
use paymux_core::store::{OrderKey, RefundKey};
use paymux_dialects::chinaums::{ChinaumsClient, ChinaumsCredentials};
use paymux_dialects::hrss::HrssClient;
use paymux_dialects::hrss::crypto::{PrivateKey, Sm4Key};
use paymux_dialects::mmsp::MmspClient;
use paymux_dialects::upp::UppClient;
use paymux_dialects::xxpay::XxpayClient;
use paymux_dialects::xxpay::wire::{CloseOrderRequest, QueryOrderRequest};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, MMSP_MERNO, MMSP_TERMNO, OTHER_CHINAUMS_MID, OTHER_CHINAUMS_TID,
    OTHER_HRSS_ACCESS_KEY, OTHER_HRSS_APP_ID, OTHER_HRSS_PRIVATE_KEY, OTHER_HRSS_SM4_KEY,
    OTHER_MMSP_KEY, OTHER_MMSP_MERNO, OTHER_MMSP_TERMNO, OTHER_UPP_KEY, OTHER_UPP_PARTNER_ID,
    OTHER_XXPAY_APP_ID, OTHER_XXPAY_KEY, OTHER_XXPAY_MCH_ID, TestGateway, UPP_ISV_ID,
    add_other_merchant, other_merchant,
};
use crate::upp::{
    assert_ok, assert_refused, by_no, data, refund, request_params, scan, send_signed,
};
use crate::xxpay::order;

async fn with_two_merchants(backend: Backend) -> (TestGateway, XxpayClient, UppClient) {
    let gw = TestGateway::spawn_with(backend, add_other_merchant).await;
    let xxpay = XxpayClient::new(
        &gw.url,
        OTHER_XXPAY_MCH_ID,
        OTHER_XXPAY_APP_ID,
        SecretString::from(OTHER_XXPAY_KEY),
    )
    .unwrap();
    let upp = UppClient::new(
        &gw.url,
        UPP_ISV_ID,
        OTHER_UPP_PARTNER_ID,
        SecretString::from(OTHER_UPP_KEY),
    )
    .unwrap();
    (gw, xxpay, upp)
}

#[tokio::test]
async fn one_merchant_cannot_query_close_or_refund_anothers_orders_through_any_dialect() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (gw, other_xxpay, other_upp) = with_two_merchants(backend).await;

        // Merchant A's xxpay order, paid.
        let created = gw
            .xxpay
            .create_order(&order("A-X1", 8002, "http://127.0.0.1:9/n"))
            .await
            .unwrap();
        let a_id = created.pay_order_id.clone().unwrap();
        assert_eq!(gw.pay(&a_id, "success").await.status(), 200);
        for query in [
            QueryOrderRequest {
                pay_order_id: Some(a_id.clone()),
                ..Default::default()
            },
            QueryOrderRequest {
                mch_order_no: Some("A-X1".into()),
                execute_notify: Some("true".into()),
                ..Default::default()
            },
        ] {
            let reply = other_xxpay.query_order(&query).await.unwrap();
            assert_eq!(reply.ret_code.as_deref(), Some("FAIL"), "{backend:?}");
            assert_eq!(reply.ret_msg.as_deref(), Some("支付订单不存在."));
        }

        // Merchant A's upp payment, paid.
        let scanned = gw.upp.scan_code(&scan(&gw, "A-U1", "1.00")).await.unwrap();
        assert_ok(&scanned);
        let a_upp_id = data(&scanned).out_payment_no.clone().unwrap();
        assert_eq!(gw.pay(&a_upp_id, "success").await.status(), 200);
        assert_refused(&other_upp.query(&by_no("A-U1")).await.unwrap(), "2002");
        assert_refused(&other_upp.close(&by_no("A-U1")).await.unwrap(), "2002");
        let refused = other_upp
            .refund(&refund("A-U1", "1.00", "RQ-B", "RF-B"))
            .await
            .unwrap();
        assert_refused(&refused, "2002");
        assert_eq!(
            data(&refused).trade_status.as_deref(),
            Some("refund_failed")
        );

        // Through xxpay's close_order, chinaums, hrss and mmsp: the dialect's own not-found
        // reply, and nothing stored changes.
        xxpay_close_keeps_to_the_merchant(&gw, &other_xxpay).await;
        chinaums_keeps_to_the_merchant(&gw).await;
        hrss_keeps_to_the_merchant(&gw).await;
        mmsp_keeps_to_the_merchant(&gw).await;

        // Through the core API, whatever id a dialect passes.
        let gateway = gw.running.operator.gateway();
        let b = MerchantId::new("other");
        for id in [&a_id, &a_upp_id] {
            let id = PlatformId::from_string(id.clone());
            assert!(matches!(
                gateway.find_order(&b, OrderKey::Platform(&id)).await,
                Err(paymux_core::Error::OrderNotFound)
            ));
            assert!(matches!(
                gateway.close_order(&b, OrderKey::Platform(&id), "x").await,
                Err(paymux_core::Error::OrderNotFound)
            ));
            assert!(matches!(
                gateway.resend_pay_notification(&b, &id).await,
                Err(paymux_core::Error::OrderNotFound)
            ));
            let refund = gateway
                .request_refund(paymux_core::gateway::NewRefund {
                    merchant_id: b.clone(),
                    order_id: id.clone(),
                    dialect: paymux_dialects::upp::TAG,
                    refund_no: RefundNo::parse("CORE-B", 32).unwrap(),
                    request_no: None,
                    amount: paymux_core::Fen::from_fen_str("1").unwrap(),
                    reason: String::new(),
                    extra: Default::default(),
                    split: None,
                })
                .await;
            assert!(
                matches!(refund, Err(paymux_core::Error::OrderNotFound)),
                "{refund:?}"
            );
            assert!(gateway.refunds_of_order(&b, &id).await.unwrap().is_empty());
        }

        // Nothing moved: A's orders are paid, unrefunded, and A still sees them.
        let mine = gw
            .xxpay
            .query_order(&QueryOrderRequest {
                pay_order_id: Some(a_id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(mine.status, Some(2), "{backend:?}");
        let mine = gw.upp.query(&by_no("A-U1")).await.unwrap();
        assert_eq!(data(&mine).trade_status.as_deref(), Some("pay_success"));
        let a = MerchantId::new("demo");
        let a_upp = PlatformId::from_string(a_upp_id);
        assert!(
            gateway
                .refunds_of_order(&a, &a_upp)
                .await
                .unwrap()
                .is_empty()
        );

        // A's own refund is A's: B finds it by no key, through upp or the core.
        assert_ok(
            &gw.upp
                .refund(&refund("A-U1", "0.40", "RQ-A", "RF-A"))
                .await
                .unwrap(),
        );
        let query = paymux_dialects::upp::wire::RefundQueryRequest {
            request_no: Some("RQ-A".into()),
        };
        assert_refused(&other_upp.refund_query(&query).await.unwrap(), "2007");
        let refund_no = RefundNo::parse("RF-A", 32).unwrap();
        assert!(matches!(
            gateway
                .find_refund(&b, RefundKey::RefundNo(&refund_no))
                .await,
            Err(paymux_core::Error::RefundNotFound)
        ));
        let mine = gateway
            .find_refund(&a, RefundKey::RefundNo(&refund_no))
            .await
            .unwrap();
        assert!(matches!(
            gateway.find_refund(&b, RefundKey::Platform(&mine.id)).await,
            Err(paymux_core::Error::RefundNotFound)
        ));
    }
}

/// What is stored of an order (the order, its tries, its refunds), to compare before and
/// after another merchant's requests.
async fn stored(gw: &TestGateway, id: &PlatformId) -> String {
    let operator = &gw.running.operator;
    let order = operator.order_by_id(id).await.unwrap();
    let tries = operator.attempts_of_order(id).await.unwrap();
    let refunds = operator
        .gateway()
        .refunds_of_order(&order.merchant_id, id)
        .await
        .unwrap();
    format!("{order:?}\n{tries:?}\n{refunds:?}")
}

/// The other merchant closes the demo merchant's open xxpay order, by either number.
async fn xxpay_close_keeps_to_the_merchant(gw: &TestGateway, other: &XxpayClient) {
    let open = gw
        .xxpay
        .create_order(&order("A-X2", 8002, "http://127.0.0.1:9/n"))
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    let id = PlatformId::from_string(open.clone());
    let before = stored(gw, &id).await;
    for request in [
        CloseOrderRequest {
            pay_order_id: Some(open.clone()),
            ..Default::default()
        },
        CloseOrderRequest {
            mch_order_no: Some("A-X2".into()),
            ..Default::default()
        },
    ] {
        let reply = other.close_order(&request).await.unwrap();
        assert_eq!(reply.ret_code.as_deref(), Some("FAIL"), "{request:?}");
        assert_eq!(reply.ret_msg.as_deref(), Some("支付订单不存在."));
    }
    assert_eq!(stored(gw, &id).await, before);
}

/// The other merchant (its own mid, terminal and app) queries and refunds the demo
/// merchant's paid bill and closes its open code.
async fn chinaums_keeps_to_the_merchant(gw: &TestGateway) {
    use crate::chinaums::{CLOSE, INFO, QUERY, REFUND, assert_refused, bill, one_time, paid_bill};
    let date = crate::chinaums::today(gw);
    let paid = paid_bill(gw, "1001000000009001", 100, json!({})).await;
    one_time(gw, "1001000000009002", 10, json!({"qrCodeId": "Q-SCOPE"})).await;
    let open = bill(gw, "1001000000009002").await;
    let code = || async {
        let code = crate::chinaums::code(gw, "Q-SCOPE").await;
        format!("{code:?}")
    };
    let before = (
        stored(gw, &paid.id).await,
        stored(gw, &open.id).await,
        code().await,
    );
    let table = other_merchant().tables_of("chinaums").remove(0);
    let credentials: ChinaumsCredentials =
        paymux_dialects::common::merchants::parse_table("chinaums", &table.merchant, &table.table)
            .unwrap();
    let other = ChinaumsClient::new(&gw.url, &credentials)
        .unwrap()
        .with_clock(gw.clock.clone());
    let call = |path: &'static str, fields: Value| {
        let mut body = json!({
            "requestTimestamp": crate::chinaums::timestamp(gw),
            "mid": OTHER_CHINAUMS_MID,
            "tid": OTHER_CHINAUMS_TID,
            "instMid": "QRPAYDEFAULT",
        });
        if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
            body.extend(fields);
        }
        let other = &other;
        async move { other.send(path, body.to_string().as_bytes()).await.unwrap() }
    };
    let bill_no = json!({"billNo": "1001000000009001", "billDate": date});
    let reply = call(QUERY, bill_no.clone()).await;
    assert_refused(&reply, "NO_ORDER", "找不到billNo=1001000000009001的账单");
    let mut refund = bill_no.clone();
    refund["refundAmount"] = json!(10);
    refund["refundOrderId"] = json!("RB-C1");
    assert_refused(
        &call(REFUND, refund).await,
        "NO_ORDER",
        "找不到billNo=1001000000009001的账单",
    );
    let reply = call(CLOSE, json!({"qrCodeId": "Q-SCOPE", "attachRefund": true})).await;
    assert_refused(&reply, "NO_ORDER", "找不到二维码");
    let reply = call(INFO, json!({"qrCodeId": "Q-SCOPE"})).await;
    assert_refused(&reply, "NO_ORDER", "找不到二维码");
    let after = (
        stored(gw, &paid.id).await,
        stored(gw, &open.id).await,
        code().await,
    );
    assert_eq!(after, before);
}

/// The other merchant queries and refunds the demo merchant's paid hrss order and closes
/// its open one, naming each by both its numbers.
async fn hrss_keeps_to_the_merchant(gw: &TestGateway) {
    use paymux_dialects::hrss::wire::{OrderReply, QueryRequest};
    let (paid_no, paid_id) = crate::hrss::paid_order(gw, "A-H1", 100, "http://127.0.0.1:9/n").await;
    let open: OrderReply = crate::hrss::ok(
        &crate::hrss::client(gw)
            .online_order(&crate::hrss::spec_order("A-H2", "http://127.0.0.1:9/n"))
            .await
            .unwrap(),
    );
    let paid_id = PlatformId::from_string(paid_id);
    let open_id = gw
        .running
        .operator
        .gateway()
        .find_order(
            &MerchantId::new("demo"),
            OrderKey::Merchant(&paymux_core::ids::MerchantOrderNo::parse("A-H2", 32).unwrap()),
        )
        .await
        .unwrap()
        .id;
    let before = (stored(gw, &paid_id).await, stored(gw, &open_id).await);
    let other = HrssClient::new(
        &gw.url,
        "engine",
        OTHER_HRSS_ACCESS_KEY,
        OTHER_HRSS_APP_ID,
        PrivateKey::parse(OTHER_HRSS_PRIVATE_KEY).unwrap(),
        Sm4Key::parse(OTHER_HRSS_SM4_KEY).unwrap(),
        false,
    )
    .unwrap();
    let not_found = ("0", "订单不存在");
    let query = QueryRequest {
        mch_order_id: Some("A-H1".into()),
        pay_order_id: Some(paid_no.clone()),
    };
    assert_eq!(
        crate::hrss::biz(&other.query(&query).await.unwrap()),
        not_found
    );
    let refund = crate::hrss::refund_request("A-H1", &paid_no, 10, "RB-H1");
    assert_eq!(
        crate::hrss::biz(&other.refund(&refund).await.unwrap()),
        not_found
    );
    let close = crate::hrss::close_request("A-H2", &open.pay_order_id);
    assert_eq!(
        crate::hrss::biz(&other.close(&close).await.unwrap()),
        not_found
    );
    let after = (stored(gw, &paid_id).await, stored(gw, &open_id).await);
    assert_eq!(after, before);
}

/// The other merchant queries, reverses, refunds and closes the demo merchant's mmsp scan
/// orders, by MERORDERID and by ORDERNO.
async fn mmsp_keeps_to_the_merchant(gw: &TestGateway) {
    use paymux_dialects::mmsp::wire::{OrderRef, command};

    use crate::mmsp::{assert_negative, by_no, field, micropay, mmsp, pid, s, scan_order};
    let url = "http://127.0.0.1:9/n";
    let demo = mmsp(gw);
    let paid = demo
        .scan_order(
            command::WECHAT_MICROPAY,
            &micropay("A-M1", "134567890123456781", url),
        )
        .await
        .unwrap();
    assert_eq!(field(&paid, "STATUS"), "1", "{:?}", paid.frame);
    let open = demo
        .scan_order(command::WECHAT_NATIVE, &scan_order("A-M2", "100", url))
        .await
        .unwrap();
    let (paid_no, open_no) = (field(&paid, "ORDERNO"), field(&open, "ORDERNO"));
    let paid_id = PlatformId::from_string(pid(&paid_no));
    let open_id = PlatformId::from_string(pid(&open_no));
    // Old enough to be reversed (§10.4), were it the other merchant's.
    gw.advance(15);
    let before = (stored(gw, &paid_id).await, stored(gw, &open_id).await);
    let other = MmspClient::new(
        &gw.url,
        OTHER_MMSP_MERNO,
        OTHER_MMSP_TERMNO,
        SecretString::from(OTHER_MMSP_KEY),
    )
    .unwrap();
    let by_orderno = |orderno: &str| OrderRef {
        orderno: s(orderno),
        randstr: s("r"),
        ..OrderRef::default()
    };
    for (no, orderno) in [("A-M1", &paid_no), ("A-M2", &open_no)] {
        for order in [by_no(no), by_orderno(orderno)] {
            let refund = OrderRef {
                refund_merorderid: s(&format!("RB-{no}")),
                amt: s("1"),
                ..order.clone()
            };
            for reply in [
                other.query(&order).await.unwrap(),
                other.cancel(&order).await.unwrap(),
                other.close(&order).await.unwrap(),
                other.refund(&refund).await.unwrap(),
            ] {
                assert_negative(&reply, "2002");
                assert!(
                    reply.error_msg().contains("没有该订单"),
                    "{}",
                    reply.error_msg()
                );
            }
        }
    }
    let after = (stored(gw, &paid_id).await, stored(gw, &open_id).await);
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_javascript_return_url_is_refused_at_create_order_and_never_rendered() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    for url in [
        "javascript:alert(document.domain)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
    ] {
        let mut request = order("XSS1", 8002, "http://127.0.0.1:9/n");
        request.return_url = Some(url.into());
        let reply = gw.xxpay.create_order(&request).await.unwrap();
        assert_eq!(reply.ret_code.as_deref(), Some("FAIL"), "{url}");
        assert_eq!(
            reply.ret_msg.as_deref(),
            Some("请求参数[returnUrl]须为http或https地址."),
            "{url}"
        );
    }
    // Nothing was created under that number: the same number works with a real URL.
    let mut request = order("XSS1", 8002, "http://127.0.0.1:9/n");
    request.return_url = Some("https://shop.example/back?o=1&x=\"<b>".into());
    let reply = gw.xxpay.create_order(&request).await.unwrap();
    let id = reply.pay_order_id.expect("created");
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    let page = gw.http.get(gw.cashier_url(&id)).send().await.unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(
        !policy.contains("script-src"),
        "no script is allowed: {policy}"
    );
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<a href="https://shop.example/back?o=1&amp;x=%22%3Cb%3E">返回商户</a>"#),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "{html}"
    );
}

#[tokio::test]
async fn the_payer_pages_open_only_through_the_link_create_order_returned() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw
        .xxpay
        .create_order(&order("LINK1", 8003, "http://127.0.0.1:9/n"))
        .await
        .unwrap();
    let id = reply.pay_order_id.unwrap();
    let link = reply.pay_params.unwrap().pay_url.unwrap();
    assert_eq!(link, gw.cashier_url(&id));
    let get = |url: String| {
        let http = gw.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(link.clone()).await, 200);
    assert_eq!(get(format!("{link}/qr.png")).await, 200);
    let bare = format!("{}/cashier/{id}", gw.url);
    let wrong = format!("{bare}/{}", "0".repeat(32));
    let other_order = gw.cashier_url("P2612060000000001000001");
    let other_token = other_order.rsplit('/').next().unwrap();
    for url in [
        bare.clone(),
        format!("{bare}/"),
        wrong.clone(),
        format!("{wrong}/qr.png"),
        format!("{bare}/{other_token}"),
        format!("{bare}/qr.png"),
    ] {
        assert_eq!(get(url.clone()).await, 404, "{url}");
    }
    // Neither pay nor cancel without the link.
    for url in [format!("{wrong}/pay"), format!("{bare}/pay")] {
        let status = gw
            .http
            .post(url.clone())
            .body("result=fail")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{url}");
    }
    let status = gw
        .xxpay
        .query_order(&QueryOrderRequest {
            pay_order_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap()
        .status;
    assert_eq!(status, Some(1), "still open");

    // The link's key is the gateway's, kept in the database: it opens after a restart too.
    let path = link.replacen(&gw.url, "", 1);
    let gw = gw.restart().await;
    let page = gw
        .http
        .get(format!("{}{path}", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn with_the_sandbox_off_its_routes_are_absent_and_pay_nothing() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = gw
        .xxpay
        .create_order(&order("OFF1", 8002, "http://127.0.0.1:9/n"))
        .await
        .unwrap();
    let id = reply.pay_order_id.unwrap();
    let link_path = gw.cashier_url(&id).replacen(&gw.url, "", 1);
    // mmsp's §10 pages stand in for WeChat's and Alipay's: a made-up openid, a page
    // instead of the app. With the sandbox they answer; without it they are not there.
    let back = base64::engine::general_purpose::STANDARD.encode("https://shop.example.com/h5");
    let sandbox_pages = [
        (
            format!(
                "/mmsp/openid?merno={MMSP_MERNO}&merurl=https://shop.example.com/h5&tradetype=1"
            ),
            302,
        ),
        (
            format!("/payopenplath5/wxh5pay?memo={MMSP_MERNO}&termno={MMSP_TERMNO}&merurl={back}"),
            200,
        ),
    ];
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, status) in &sandbox_pages {
        let reply = no_redirects
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), *status, "{path} with the sandbox");
    }
    let gw = gw.restart_with(|c| c.sandbox.enabled = false).await;
    let link = format!("{}{link_path}", gw.url);

    let paid = gw.pay(&id, "success").await;
    assert_eq!(paid.status(), 404);
    let page = gw.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 404);
    for (path, _) in &sandbox_pages {
        let reply = no_redirects
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404, "{path} without the sandbox");
        assert!(reply.headers().get("location").is_none(), "{path}");
        let body = reply.text().await.unwrap();
        assert!(
            !body.contains("token_id") && !body.contains("shop.example.com"),
            "{path}: {body}"
        );
    }
    let status = gw
        .xxpay
        .query_order(&QueryOrderRequest {
            pay_order_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap()
        .status;
    assert_eq!(status, Some(1), "nothing paid it");
    // And no new payment can start: there is no channel.
    let refused = gw
        .xxpay
        .create_order(&order("OFF2", 8002, "http://127.0.0.1:9/n"))
        .await
        .unwrap();
    assert_eq!(refused.ret_code.as_deref(), Some("FAIL"));
}

#[tokio::test]
async fn a_string_field_takes_a_string_or_a_number_and_nothing_else() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    for (field, value) in [
        ("mchOrderNo", json!(true)),
        ("mchOrderNo", json!({"a": 1})),
        ("subject", json!(["x"])),
    ] {
        let mut params = gw
            .xxpay
            .signed_params(&order("BOOL1", 8002, "http://127.0.0.1:9/n"));
        params.insert(field.into(), value.clone());
        params.remove("sign");
        let sign = paymux_dialects::xxpay::codec::sign_params(
            &params,
            &["sign"],
            crate::helpers::XXPAY_KEY,
        );
        params.insert("sign".into(), json!(sign));
        let reply = gw
            .xxpay
            .call("/api/pay/create_order", params)
            .await
            .unwrap();
        assert_eq!(reply["retCode"], "FAIL", "{field}={value}");
        assert_eq!(
            reply["retMsg"],
            format!("请求参数[{field}]格式错误,须为字符串或数值."),
            "{field}={value}"
        );
    }
    // A number where merchants send one is read as its text.
    let mut params = gw
        .xxpay
        .signed_params(&order("1", 8002, "http://127.0.0.1:9/n"));
    params.insert("mchOrderNo".into(), json!(20160427));
    params.remove("sign");
    let sign =
        paymux_dialects::xxpay::codec::sign_params(&params, &["sign"], crate::helpers::XXPAY_KEY);
    params.insert("sign".into(), json!(sign));
    let reply = gw
        .xxpay
        .call("/api/pay/create_order", params)
        .await
        .unwrap();
    assert_eq!(reply["retCode"], "SUCCESS", "{reply:?}");

    // upp: an object is refused (an empty one would not even be signed), and so is a
    // field far longer than the spec's String(32).
    for (field, value) in [
        ("bizData", json!({})),
        ("bizData", json!({"visit": "V1"})),
        ("districtId", json!(false)),
    ] {
        let mut params = request_params(&gw, "OBJ1");
        params.insert(field.into(), value.clone());
        let reply = send_signed(&gw, "/access/scancode", params).await;
        assert_eq!(reply["kind"], "1004", "{field}={value}: {reply:?}");
        assert_eq!(
            reply["msg"],
            format!("参数{field}格式错误:须为字符串或数值")
        );
    }
    let mut params = request_params(&gw, "LONG1");
    params.insert("bizType".into(), Value::String("b".repeat(100_000)));
    let reply = send_signed(&gw, "/access/query", params).await;
    assert_eq!(reply["kind"], "1004", "{reply:?}");
    assert_eq!(reply["msg"], "参数bizType格式错误:长度不能超过32");
    // None of them created anything.
    let reply = gw.upp.query(&by_no("OBJ1")).await.unwrap();
    assert_refused(&reply, "2002");
}

#[tokio::test]
async fn the_edges_answer_the_same_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let receiver = crate::helpers::Receiver::start().await;
        let created = gw
            .xxpay
            .create_order(&order("EDGE1", 8002, &receiver.url))
            .await
            .unwrap();
        let id = created.pay_order_id.unwrap();
        assert_eq!(gw.pay(&id, "success").await.status(), 200);

        // A NUL in payOrderId: "no such order", not "system error, retry".
        for bad in [format!("{id}\u{0}"), "\u{0}".to_owned(), "P1'--".to_owned()] {
            let reply = gw
                .xxpay
                .query_order(&QueryOrderRequest {
                    pay_order_id: Some(bad.clone()),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(
                reply.ret_msg.as_deref(),
                Some("支付订单不存在."),
                "{backend:?} {bad:?}"
            );
        }

        // One signed query with executeNotify=true, replayed 50 times, queues one re-send.
        assert_eq!(gw.deliver().await.delivered, 1, "the payment notification");
        let query = gw.xxpay.signed_params(&QueryOrderRequest {
            pay_order_id: Some(id.clone()),
            execute_notify: Some("true".into()),
            ..Default::default()
        });
        for _ in 0..50 {
            let reply = gw
                .xxpay
                .call("/api/pay/query_order", query.clone())
                .await
                .unwrap();
            assert_eq!(reply["retCode"], "SUCCESS", "{backend:?}");
        }
        let sent = gw.deliver().await;
        assert_eq!(sent.delivered, 1, "{backend:?}: one re-send, not 50");
        assert_eq!(receiver.received().len(), 2, "{backend:?}");

        // Twenty concurrent refunds with one requestNo: the same refund, the same answer.
        let paid = gw
            .upp
            .barcode(&crate::upp::barcode(&gw, "EDGE2", "134567890123456781"))
            .await
            .unwrap();
        assert_ok(&paid);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let client = gw.upp.clone();
                tokio::spawn(async move {
                    client
                        .refund(&refund("EDGE2", "0.05", "RQ-SAME", "RF-SAME"))
                        .await
                        .expect("a signed reply")
                })
            })
            .collect();
        let mut refund_ids = Vec::new();
        for task in tasks {
            let reply = task.await.unwrap();
            assert_ok(&reply);
            assert_eq!(
                data(&reply).trade_status.as_deref(),
                Some("refund_apply_success"),
                "{backend:?}: {reply:?}"
            );
            refund_ids.push(data(&reply).out_refund_no.clone().unwrap());
        }
        refund_ids.dedup();
        assert_eq!(refund_ids.len(), 1, "{backend:?}: {refund_ids:?}");
    }
}
