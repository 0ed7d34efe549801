//! xxpay over HTTP: the spec's example as raw bytes, every product, the whole payment flow
//! to the notification, every refusal, concurrency.

use paymux_dialects::common::encode_form;
use paymux_dialects::xxpay::codec;
use paymux_dialects::xxpay::wire::{CreateOrderRequest, Params, QueryOrderRequest};
use serde_json::{Value, json};

use crate::helpers::{Backend, Receiver, TestGateway, XXPAY_APP_ID, XXPAY_KEY, XXPAY_MCH_ID};

pub fn order(mch_order_no: &str, product_id: u32, notify_url: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        product_id: Some(product_id.to_string()),
        mch_order_no: Some(mch_order_no.into()),
        currency: Some("cny".into()),
        amount: Some("100".into()),
        notify_url: Some(notify_url.into()),
        subject: Some("测试商品名称".into()),
        body: Some("测试商品描述".into()),
        client_ip: Some("210.73.10.148".into()),
        device: Some("ios10.3.1".into()),
        ..CreateOrderRequest::default()
    }
}

fn as_object(text: &str) -> Params {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        other => panic!("not a JSON object: {text} ({other:?})"),
    }
}

/// The DESIGN.md worked example, signed with the merchant key, as a merchant's HTTP body.
fn spec_example() -> Params {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dialects/src/xxpay/testdata/create_order.request.json"
    ))
    .expect("fixture");
    let mut params = as_object(&text);
    let sign = codec::sign_params(&params, &["sign"], XXPAY_KEY);
    assert_eq!(
        sign, "9D219B16D3328A2679849D95848B872D",
        "the fixture is the published example"
    );
    params.insert("sign".into(), json!(sign));
    params
}

#[tokio::test]
async fn the_spec_example_request_sent_as_raw_bytes_creates_an_order() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let body = encode_form(&[("params", &Value::Object(spec_example()).to_string())]);
    let reply_text = gw
        .post_raw(
            "/api/pay/create_order",
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    assert!(!reply_text.contains('\n'), "one line of JSON");
    let reply = as_object(&reply_text);
    let keys: Vec<&str> = reply.keys().map(String::as_str).collect();
    assert_eq!(keys, ["retCode", "payOrderId", "payParams", "sign"]);
    assert_eq!(reply["retCode"], "SUCCESS");
    assert!(
        codec::verify_excluding(&reply, codec::REPLY_UNSIGNED, XXPAY_KEY),
        "{reply_text}"
    );
    // 8000 is online banking: the spec's POST;url form convention.
    let pay_url = reply["payParams"]["payUrl"].as_str().unwrap();
    let order_id = reply["payOrderId"].as_str().unwrap();
    assert_eq!(
        pay_url,
        format!(
            "POST;{}?orderId={order_id}&amount=1.00",
            gw.cashier_url(order_id)
        )
    );
}

#[tokio::test]
async fn every_product_gets_pay_params_that_open_the_cashier() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let scan = [8002, 8006, 8009, 8011, 8014, 8016, 8017, 8019];
    for product in 8000..=8019u32 {
        let reply = gw
            .xxpay
            .create_order(&order(
                &format!("P{product}"),
                product,
                "http://merchant.example/n",
            ))
            .await
            .expect("create_order");
        assert_eq!(
            reply.ret_code.as_deref(),
            Some("SUCCESS"),
            "{product}: {reply:?}"
        );
        let id = reply.pay_order_id.clone().unwrap();
        let cashier = gw.cashier_url(&id);
        let params = reply.pay_params.clone().unwrap();
        let pay_url = params.pay_url.clone().unwrap();
        if scan.contains(&product) {
            assert_eq!(
                pay_url,
                format!("{}/api/qrcode/create_qrcode?params={cashier}", gw.url),
                "{product}"
            );
            assert_eq!(params.code_url.as_deref(), Some(cashier.as_str()));
            let image = gw.http.get(&pay_url).send().await.unwrap();
            assert_eq!(image.headers()["content-type"], "image/png");
            assert_eq!(&image.bytes().await.unwrap()[..4], b"\x89PNG");
        } else if product == 8000 || product == 8001 {
            assert!(
                pay_url.starts_with(&format!("POST;{cashier}?")),
                "{product}: {pay_url}"
            );
            // The form convention: POST the query's fields to the address before `?`.
            let (target, fields) = pay_url["POST;".len()..].split_once('?').unwrap();
            let page = gw
                .http
                .post(target)
                .body(fields.to_owned())
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200);
            assert!(page.text().await.unwrap().contains("¥1.00"));
        } else {
            assert_eq!(pay_url, cashier, "{product}");
        }
    }
}

#[tokio::test]
async fn a_payment_goes_from_create_order_through_the_cashier_to_a_signed_notification() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let merchant = Receiver::start().await;
        let mut request = order("20160427210604000490", 8002, &merchant.url);
        request.param1 = Some("p1".into());
        request.param2 = Some("p2".into());
        let reply = gw.xxpay.create_order(&request).await.expect("create_order");
        let id = reply.pay_order_id.expect("payOrderId");

        // The payer opens the cashier: merchant, subject, amount, a QR image, and pays.
        let page = gw.http.get(gw.cashier_url(&id)).send().await.unwrap();
        let html = page.text().await.unwrap();
        for shown in [
            "Demo Hospital",
            "测试商品名称",
            "¥1.00",
            &format!("{}/qr.png", gw.cashier_url(&id).trim_start_matches(&gw.url)),
        ] {
            assert!(
                html.contains(shown),
                "{backend:?}: the cashier shows {shown}"
            );
        }
        let qr = gw
            .http
            .get(format!("{}/qr.png", gw.cashier_url(&id)))
            .send()
            .await
            .unwrap();
        assert_eq!(qr.headers()["content-type"], "image/png");
        let paid = gw
            .http
            .post(format!("{}/pay", gw.cashier_url(&id)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("result=success")
            .send()
            .await
            .unwrap();
        assert_eq!(paid.status(), 200, "the redirect leads back to the page");
        assert!(paid.text().await.unwrap().contains("支付成功"));

        let query = QueryOrderRequest {
            pay_order_id: Some(id.clone()),
            ..Default::default()
        };
        let before = gw.xxpay.query_order(&query).await.unwrap();
        assert_eq!(
            before.status,
            Some(2),
            "{backend:?}: paid, not yet acknowledged"
        );

        let round = gw.deliver().await;
        assert_eq!(round.delivered, 1, "{backend:?}");
        let received = merchant.received();
        assert_eq!(received.len(), 1);
        let n = &received[0];
        assert_eq!(n.method, "POST");
        assert_eq!(n.query, None, "the fields travel in the body only");
        assert!(
            n.content_type
                .as_deref()
                .unwrap()
                .starts_with("application/x-www-form-urlencoded")
        );
        let names: Vec<String> = n.fields().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "payOrderId",
                "mchId",
                "appId",
                "productId",
                "mchOrderNo",
                "amount",
                "status",
                "channelOrderNo",
                "param1",
                "param2",
                "paySuccTime",
                "backType",
                "sign"
            ],
            "exactly the spec's fields"
        );
        assert!(
            gw.xxpay.verify_notification(&n.fields()),
            "{backend:?}: the notification is signed"
        );
        assert_eq!(n.field("payOrderId").as_deref(), Some(id.as_str()));
        assert_eq!(n.field("mchId").as_deref(), Some(XXPAY_MCH_ID));
        assert_eq!(n.field("appId").as_deref(), Some(XXPAY_APP_ID));
        assert_eq!(n.field("productId").as_deref(), Some("8002"));
        assert_eq!(n.field("amount").as_deref(), Some("100"));
        assert_eq!(n.field("status").as_deref(), Some("2"));
        assert_eq!(n.field("backType").as_deref(), Some("2"));
        assert_eq!(n.field("param1").as_deref(), Some("p1"));

        let after = gw.xxpay.query_order(&query).await.unwrap();
        assert_eq!(
            after.status,
            Some(3),
            "{backend:?}: paid and acknowledged (业务处理完成)"
        );
        assert_eq!(after.amount, Some(100));
        assert_eq!(after.product_id, Some(8002));
        assert_eq!(after.mch_id.as_deref(), Some(XXPAY_MCH_ID));
        assert_eq!(after.app_id.as_deref(), Some(XXPAY_APP_ID));
        assert_eq!(after.mch_order_no.as_deref(), Some("20160427210604000490"));
        assert_eq!(after.pay_order_id.as_deref(), Some(id.as_str()));
        assert_eq!(after.currency.as_deref(), Some("cny"));
        assert!(after.channel_user.is_some());
        assert_eq!(
            after.pay_succ_time.map(|t| t.to_string()),
            n.field("paySuccTime")
        );
        assert_eq!(after.channel_order_no, n.field("channelOrderNo"));
        assert_eq!(gw.deliver().await.attempts(), 0, "delivered once");
    }
}

#[tokio::test]
async fn execute_notify_sends_the_notification_again() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let id = gw
        .xxpay
        .create_order(&order("N1", 8003, &merchant.url))
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    let unpaid = QueryOrderRequest {
        mch_order_no: Some("N1".into()),
        execute_notify: Some("true".into()),
        ..Default::default()
    };
    assert_eq!(gw.xxpay.query_order(&unpaid).await.unwrap().status, Some(1));
    assert_eq!(
        gw.deliver().await.attempts(),
        0,
        "nothing to notify before payment"
    );
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    gw.deliver().await;
    assert_eq!(gw.xxpay.query_order(&unpaid).await.unwrap().status, Some(3));
    assert_eq!(gw.deliver().await.delivered, 1);
    let received = merchant.received();
    assert_eq!(
        received.len(),
        2,
        "the payment notification, then once more"
    );
    assert_eq!(received[0].body, received[1].body);
}

/// Sends `params` as the `params` form field and returns the reply.
async fn send(gw: &TestGateway, path: &str, params: &Params) -> Params {
    let body = encode_form(&[("params", &Value::Object(params.clone()).to_string())]);
    as_object(
        &gw.post_raw(path, "application/x-www-form-urlencoded", body)
            .await,
    )
}

fn signed(mut params: Params) -> Params {
    params.remove("sign");
    let sign = codec::sign_params(&params, &["sign"], XXPAY_KEY);
    params.insert("sign".into(), json!(sign));
    params
}

fn valid(mch_order_no: &str) -> Params {
    let mut p = Params::new();
    for (k, v) in [
        ("mchId", XXPAY_MCH_ID),
        ("appId", XXPAY_APP_ID),
        ("productId", "8002"),
        ("mchOrderNo", mch_order_no),
        ("currency", "cny"),
        ("amount", "100"),
        ("notifyUrl", "http://merchant.example/notify"),
        ("subject", "subject"),
        ("body", "body"),
    ] {
        p.insert(k.into(), json!(v));
    }
    p
}

#[tokio::test]
async fn every_refusal_names_its_reason_and_changes_nothing() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let with = |field: &str, value: Value| {
        let mut p = valid("R1");
        p.insert(field.into(), value);
        signed(p)
    };
    let without = |field: &str| {
        let mut p = valid("R1");
        p.remove(field);
        signed(p)
    };
    let mut tampered = signed(valid("R1"));
    tampered.insert("amount".into(), json!("1"));
    let mut unsigned = valid("R1");
    unsigned.remove("sign");
    let cases: Vec<(Params, &str)> = vec![
        (tampered, "验证签名失败."),
        (unsigned, "请求参数[sign]不能为空."),
        (without("mchId"), "请求参数[mchId]不能为空."),
        (with("mchId", json!("99999")), "商户不存在[mchId=99999]."),
        (without("appId"), "请求参数[appId]不能为空."),
        (with("appId", json!("nope")), "应用不存在[appId=nope]."),
        (without("productId"), "请求参数[productId]不能为空."),
        (
            with("productId", json!("abc")),
            "请求参数[productId]应为数值类型.",
        ),
        (
            with("productId", json!(9000)),
            "支付产品不存在[productId=9000].",
        ),
        (without("mchOrderNo"), "请求参数[mchOrderNo]不能为空."),
        (
            with("mchOrderNo", json!("1".repeat(31))),
            "请求参数[mchOrderNo]长度不能超过30.",
        ),
        (without("currency"), "请求参数[currency]不能为空."),
        (
            with("currency", json!("usd")),
            "请求参数[currency]仅支持cny.",
        ),
        (without("amount"), "请求参数[amount]不能为空."),
        (
            with("amount", json!("1.5")),
            "请求参数[amount]应为以分为单位的整数.",
        ),
        (with("amount", json!(0)), "请求参数[amount]必须大于0."),
        (with("amount", json!("-5")), "请求参数[amount]必须大于0."),
        (without("notifyUrl"), "请求参数[notifyUrl]不能为空."),
        (
            with("notifyUrl", json!("notify.htm")),
            "请求参数[notifyUrl]须为http或https地址.",
        ),
        (without("subject"), "请求参数[subject]不能为空."),
        (
            with("subject", json!("长".repeat(65))),
            "请求参数[subject]长度不能超过64.",
        ),
        (without("body"), "请求参数[body]不能为空."),
        (
            with("body", json!("挂号\u{0}费")),
            "请求参数[body]不能包含空字符.",
        ),
        (
            with("param1", json!("x".repeat(65))),
            "请求参数[param1]长度不能超过64.",
        ),
    ];
    for (params, message) in cases {
        let reply = send(&gw, "/api/pay/create_order", &params).await;
        assert_eq!(reply["retCode"], "FAIL", "{message}");
        assert_eq!(reply["retMsg"], message);
        assert!(!reply.contains_key("sign"), "failures are not signed");
    }
    let garbled = gw
        .post_raw(
            "/api/pay/create_order",
            "application/x-www-form-urlencoded",
            "params={oops",
        )
        .await;
    assert_eq!(as_object(&garbled)["retCode"], "FAIL");
    let empty = gw.post_raw("/api/pay/create_order", "text/plain", "").await;
    assert_eq!(as_object(&empty)["retCode"], "FAIL");

    // None of that wrote an order: the number is still free.
    let query = signed({
        let mut p = Params::new();
        p.insert("mchId".into(), json!(XXPAY_MCH_ID));
        p.insert("appId".into(), json!(XXPAY_APP_ID));
        p.insert("mchOrderNo".into(), json!("R1"));
        p
    });
    let reply = send(&gw, "/api/pay/query_order", &query).await;
    assert_eq!(reply["retMsg"], "支付订单不存在.");
    assert_eq!(
        send(&gw, "/api/pay/create_order", &signed(valid("R1"))).await["retCode"],
        "SUCCESS"
    );
    let again = send(&gw, "/api/pay/create_order", &signed(valid("R1"))).await;
    assert_eq!(again["retCode"], "FAIL");
    assert_eq!(again["retMsg"], "订单号[R1]已存在.");
}

#[tokio::test]
async fn requests_arrive_in_every_form_merchants_send() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let json_text = |no: &str| Value::Object(signed(valid(no))).to_string();
    // A JSON body.
    let reply = gw
        .post_raw("/api/pay/create_order", "application/json", json_text("T1"))
        .await;
    assert_eq!(as_object(&reply)["retCode"], "SUCCESS", "{reply}");
    // params= without URL-encoding.
    let reply = gw
        .post_raw(
            "/api/pay/create_order",
            "application/x-www-form-urlencoded",
            format!("params={}", json_text("T2")),
        )
        .await;
    assert_eq!(as_object(&reply)["retCode"], "SUCCESS", "{reply}");
    // Plain form fields.
    let fields: Vec<(String, String)> = signed(valid("T3"))
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reply = gw
        .post_raw(
            "/api/pay/create_order",
            "application/x-www-form-urlencoded",
            encode_form(&pairs),
        )
        .await;
    assert_eq!(as_object(&reply)["retCode"], "SUCCESS", "{reply}");
    // GET with params= in the query string.
    let query = encode_form(&[("params", &json_text("T4"))]);
    let reply = gw
        .http
        .get(format!("{}/api/pay/create_order?{query}", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(as_object(&reply)["retCode"], "SUCCESS", "{reply}");
    // Numbers where the spec says int/long.
    let mut numeric = valid("T5");
    numeric.insert("amount".into(), json!(100));
    numeric.insert("productId".into(), json!(8002));
    numeric.insert("mchId".into(), json!(20001222));
    let reply = send(&gw, "/api/pay/create_order", &signed(numeric)).await;
    assert_eq!(reply["retCode"], "SUCCESS", "{reply:?}");
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_order_number_make_one_order() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let client = gw.xxpay.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .create_order(&order("SAME-NUMBER", 8002, "http://merchant.example/n"))
                    .await
                    .expect("a reply")
            }));
        }
        let mut created = Vec::new();
        let mut refused = 0;
        for t in tasks {
            let reply = t.await.unwrap();
            match reply.ret_code.as_deref() {
                Some("SUCCESS") => created.push(reply.pay_order_id.unwrap()),
                _ => {
                    assert_eq!(
                        reply.ret_msg.as_deref(),
                        Some("订单号[SAME-NUMBER]已存在."),
                        "{backend:?}"
                    );
                    refused += 1;
                }
            }
        }
        assert_eq!(created.len(), 1, "{backend:?}: exactly one order");
        assert_eq!(refused, 49, "{backend:?}");
        let found = gw
            .xxpay
            .query_order(&QueryOrderRequest {
                mch_order_no: Some("SAME-NUMBER".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.pay_order_id.as_ref(), Some(&created[0]));
    }
}

#[tokio::test]
async fn an_unpaid_order_expires_and_can_no_longer_be_paid_as_live() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let id = gw
        .xxpay
        .create_order(&order("E1", 8002, &merchant.url))
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    gw.advance(2 * 3600);
    assert_eq!(gw.running.operator.expire_due_orders(10).await.unwrap(), 1);
    let query = QueryOrderRequest {
        pay_order_id: Some(id.clone()),
        ..Default::default()
    };
    assert_eq!(gw.xxpay.query_order(&query).await.unwrap().status, Some(5));
    let page = gw.http.get(gw.cashier_url(&id)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("订单已关闭") && !html.contains("确认支付"),
        "no pay button"
    );
    // A payment that crossed the close is taken back, never notified as a live payment.
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    assert_eq!(gw.xxpay.query_order(&query).await.unwrap().status, Some(5));
    assert_eq!(gw.deliver().await.attempts(), 0);
    let refund = gw
        .running
        .operator
        .gateway()
        .automatic_refund_of(
            &paymux_core::ids::MerchantId::new("demo"),
            &paymux_core::ids::PlatformId::from_string(id),
        )
        .await
        .unwrap()
        .expect("an automatic refund");
    assert_eq!(refund.amount.get(), 100);
}
