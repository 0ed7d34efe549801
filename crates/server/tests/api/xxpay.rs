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
    assert_eq!(
        keys,
        ["retCode", "resCode", "payOrderId", "payParams", "sign"]
    );
    assert_eq!(reply["retCode"], "SUCCESS");
    assert_eq!(reply["resCode"], "SUCCESS");
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
        assert_eq!(reply["resCode"], "FAIL", "xxpay-master's clients read it");
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

// ---------------------------------------------------------------------------------------
// The published merchant code, byte for byte: xxpay4pro's PHP and Java demos
// (demo/php/api/pay/*.php, demo/java/paydemo/.../PaydemoController.java) and the client of
// xxpay-master (its PayOrderDemo / GoodsOrderController). What they send is rebuilt here
// from their source, independently of paymux's codec; what they check is checked the way
// they check it.
// ---------------------------------------------------------------------------------------

/// How a merchant's own code orders the `k=v` pieces before it hashes them.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// `Arrays.sort(pieces, String.CASE_INSENSITIVE_ORDER)` over `k=v&` (the Java demos,
    /// xxpay-master's `PayDigestUtil`).
    Java,
    /// `ksort` (the PHP demo): the names, byte by byte.
    Php,
}

/// A JSON value as the merchant code turns it into text (`map.get(k) + ""`).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The signature a merchant computes: the non-empty `k=v` pieces but `skip`, sorted by
/// `rule`, joined, `key=KEY` appended, MD5 upper-case.
fn merchant_sign(fields: &[(String, String)], skip: &[&str], rule: Rule) -> String {
    let mut pieces: Vec<(&str, String)> = fields
        .iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), format!("{k}={v}&")))
        .collect();
    match rule {
        // ASCII names: Java's fold is lower-casing, over the whole piece.
        Rule::Java => pieces.sort_by_key(|(_, piece)| piece.to_ascii_lowercase()),
        Rule::Php => pieces.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes())),
    }
    let joined: String = pieces.into_iter().map(|(_, piece)| piece).collect();
    // `codec::sign` appends `&key=`: hand it the string without its last `&`.
    codec::sign(joined.trim_end_matches('&'), XXPAY_KEY)
}

fn fields_of(params: &Params) -> Vec<(String, String)> {
    params
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), text_of(v)?)))
        .collect()
}

/// A reply as the demos check it: `retCode` and xxpay-master's `resCode` both SUCCESS, and
/// `sign` equal (case-sensitively, as `String.equals` and PHP's `!=` compare) to what a Java
/// merchant and a PHP merchant compute over everything but `sign` and `payParams`.
fn assert_verifies_both_ways(reply: &Params) {
    assert_eq!(reply["retCode"], "SUCCESS", "{reply:?}");
    assert_eq!(reply["resCode"], "SUCCESS", "{reply:?}");
    let sign = reply["sign"].as_str().expect("a signed reply");
    let fields = fields_of(reply);
    for rule in [Rule::Java, Rule::Php] {
        assert_eq!(
            merchant_sign(&fields, &["sign", "payParams"], rule),
            sign,
            "{rule:?}: {reply:?}"
        );
    }
}

/// `String.hashCode()` spread as `HashMap.hash` does.
fn java_hash(key: &str) -> u32 {
    let h = key.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    });
    h ^ (h >> 16)
}

/// The order a `java.util.HashMap` filled with `keys` iterates them in: by bucket of the
/// final table (16, doubled whenever it passes three quarters full), then as inserted.
fn java_hashmap_order<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    let mut capacity = 16u32;
    while keys.len() as u32 * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut ordered: Vec<(u32, usize, &str)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (java_hash(k) & (capacity - 1), i, *k))
        .collect();
    ordered.sort();
    ordered.into_iter().map(|(_, _, k)| k).collect()
}

#[test]
fn the_java_hashmap_order_is_javas() {
    // Printed by a JVM (OpenJDK): `new HashMap<>()`, put in this order, then `keySet()`.
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &["mchId", "payOrderId", "mchOrderNo", "executeNotify", "sign"],
            &["payOrderId", "mchId", "mchOrderNo", "executeNotify", "sign"],
        ),
        (
            &[
                "mchId",
                "appId",
                "productId",
                "mchOrderNo",
                "currency",
                "amount",
                "clientIp",
                "device",
                "returnUrl",
                "notifyUrl",
                "subject",
                "body",
                "param1",
                "param2",
                "channelUserId",
                "extra",
                "sign",
            ],
            &[
                "amount",
                "mchId",
                "productId",
                "mchOrderNo",
                "subject",
                "sign",
                "body",
                "param1",
                "param2",
                "channelUserId",
                "appId",
                "clientIp",
                "extra",
                "notifyUrl",
                "currency",
                "returnUrl",
                "device",
            ],
        ),
        (
            &[
                "mchId",
                "mchOrderNo",
                "channelId",
                "amount",
                "currency",
                "clientIp",
                "device",
                "subject",
                "body",
                "notifyUrl",
                "param1",
                "param2",
                "extra",
                "sign",
            ],
            &[
                "amount",
                "mchId",
                "mchOrderNo",
                "subject",
                "sign",
                "body",
                "param1",
                "param2",
                "clientIp",
                "extra",
                "notifyUrl",
                "currency",
                "device",
                "channelId",
            ],
        ),
    ];
    for (put, iterated) in cases {
        assert_eq!(java_hashmap_order(put), iterated);
    }
}

/// xxpay4pro's Java demo: a `HashMap`, signed by `SignUtil.getSign`, sent by `genUrlParams`
/// (`k=v` joined by `&`, nothing encoded) as the raw POST body.
fn java_demo_body(fields: &[(&str, &str)]) -> String {
    let owned: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sign = merchant_sign(&owned, &[], Rule::Java);
    let mut keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    keys.push("sign");
    java_hashmap_order(&keys)
        .into_iter()
        .map(|k| {
            let value = fields
                .iter()
                .find(|(name, _)| *name == k)
                .map_or(sign.as_str(), |(_, v)| *v);
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// xxpay4pro's PHP demo: an array signed by `paramArraySign` (`ksort`), `sign` appended, sent
/// by `http_build_query` (URL-encoded, in the array's order) as the POST body.
fn php_demo_body(fields: &[(&str, &str)]) -> String {
    let owned: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sign = merchant_sign(&owned, &[], Rule::Php);
    let mut all = fields.to_vec();
    all.push(("sign", &sign));
    encode_form(&all)
}

async fn post_form(gw: &TestGateway, path: &str, body: String) -> Params {
    as_object(
        &gw.post_raw(path, "application/x-www-form-urlencoded", body)
            .await,
    )
}

/// The create_order fields of xxpay4pro's demos, in the order they put them.
fn demo_create<'a>(
    product_id: &'a str,
    mch_order_no: &'a str,
    notify_url: &'a str,
    channel_user_id: &'a str,
    extra: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("mchId", XXPAY_MCH_ID),
        // The demo page's 应用ID box, left empty.
        ("appId", ""),
        ("productId", product_id),
        ("mchOrderNo", mch_order_no),
        ("currency", "cny"),
        ("amount", "100"),
        ("clientIp", "210.73.10.148"),
        ("device", "ios10.3.1"),
        ("returnUrl", "http://localhost:8080/return_page.html"),
        ("notifyUrl", notify_url),
        ("subject", "网络购物"),
        ("body", "网络购物"),
        ("param1", ""),
        ("param2", ""),
        ("channelUserId", channel_user_id),
        ("extra", extra),
    ]
}

#[tokio::test]
async fn the_demos_query_without_app_id_and_get_a_reply_both_sorts_verify() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let created = gw
        .xxpay
        .create_order(&order("Q1", 8002, "http://merchant.example/n"))
        .await
        .unwrap();
    let id = created.pay_order_id.unwrap();
    // The Java demo's exact bytes: `payOrderId=&mchId=…&mchOrderNo=Q1&executeNotify=false&sign=…`.
    let query = [
        ("mchId", XXPAY_MCH_ID),
        ("payOrderId", ""),
        ("mchOrderNo", "Q1"),
        ("executeNotify", "false"),
    ];
    let java = java_demo_body(&query);
    assert!(java.starts_with("payOrderId=&mchId=20001222&mchOrderNo=Q1&executeNotify=false&sign="));
    // The PHP demo's: `mchId=…&payOrderId=&mchOrderNo=Q1&executeNotify=false&sign=…`.
    let php = php_demo_body(&query);
    assert!(php.starts_with("mchId=20001222&payOrderId=&mchOrderNo=Q1&executeNotify=false&sign="));
    for body in [java, php] {
        let reply = post_form(&gw, "/api/pay/query_order", body).await;
        assert_verifies_both_ways(&reply);
        assert_eq!(reply["payOrderId"], id.as_str());
        assert_eq!(reply["status"], 1);
        assert_eq!(reply["appId"], XXPAY_APP_ID, "the merchant's app");
    }
    // appId, when sent, is still checked.
    let mut wrong = query.to_vec();
    wrong.push(("appId", "not-ours"));
    let reply = post_form(&gw, "/api/pay/query_order", php_demo_body(&wrong)).await;
    assert_eq!(reply["retCode"], "FAIL");
    assert_eq!(reply["resCode"], "FAIL");
    assert_eq!(reply["retMsg"], "应用不存在[appId=not-ours].");
    let mut right = query.to_vec();
    right.push(("appId", XXPAY_APP_ID));
    assert_verifies_both_ways(&post_form(&gw, "/api/pay/query_order", php_demo_body(&right)).await);
}

#[tokio::test]
async fn a_request_signed_in_phps_ksort_order_is_accepted() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    // A PHP merchant's create with names the two orders disagree on: ksort puts `Attach`
    // before `amount` and `subOpenId` before `subject`; Java the other way round.
    let mut fields = demo_create("8002", "K1", &merchant.url, "", "");
    fields.push(("Attach", "床位费"));
    fields.push(("subOpenId", "o-sub"));
    let owned: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_ne!(
        merchant_sign(&owned, &[], Rule::Php),
        merchant_sign(&owned, &[], Rule::Java),
        "the orders differ for this request"
    );
    let reply = post_form(&gw, "/api/pay/create_order", php_demo_body(&fields)).await;
    assert_verifies_both_ways(&reply);
    // The same request signed in the Java order is accepted too, and a wrong key in neither.
    let reply = post_form(&gw, "/api/pay/create_order", {
        let mut java = fields.clone();
        java[3] = ("mchOrderNo", "K2");
        java_demo_body(&java)
    })
    .await;
    assert_verifies_both_ways(&reply);
    let mut forged = php_demo_body(&fields);
    forged = forged.replace("amount=100", "amount=1");
    let reply = post_form(&gw, "/api/pay/create_order", forged).await;
    assert_eq!(reply["retMsg"], "验证签名失败.");
}

#[tokio::test]
async fn close_order_closes_an_unpaid_order_and_a_late_payment_is_refunded() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let id = gw
        .xxpay
        .create_order(&order("C1", 8002, &merchant.url))
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    // xxpay4pro's Java demo: `payOrderId=&mchId=…&mchOrderNo=C1&sign=…`, no appId.
    let close = [
        ("mchId", XXPAY_MCH_ID),
        ("payOrderId", ""),
        ("mchOrderNo", "C1"),
    ];
    let body = java_demo_body(&close);
    assert!(body.starts_with("payOrderId=&mchId=20001222&mchOrderNo=C1&sign="));
    let reply = post_form(&gw, "/api/pay/close_order", body.clone()).await;
    assert_verifies_both_ways(&reply);
    assert_eq!(reply["payOrderId"], id.as_str());
    assert_eq!(reply["mchOrderNo"], "C1");
    assert_eq!(reply["status"], 5);
    assert_eq!(reply["resultCode"], "SUCCESS");
    // Closing a closed order again is not an error.
    assert_verifies_both_ways(&post_form(&gw, "/api/pay/close_order", body).await);

    let query = QueryOrderRequest {
        pay_order_id: Some(id.clone()),
        ..Default::default()
    };
    assert_eq!(gw.xxpay.query_order(&query).await.unwrap().status, Some(5));
    // The payer pays anyway: the core takes it back; the merchant hears of no payment.
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

    // A paid order is not closed.
    let paid = gw
        .xxpay
        .create_order(&order("C2", 8002, &merchant.url))
        .await
        .unwrap()
        .pay_order_id
        .unwrap();
    assert_eq!(gw.pay(&paid, "success").await.status(), 200);
    let by_id = [("mchId", XXPAY_MCH_ID), ("payOrderId", paid.as_str())];
    let reply = post_form(&gw, "/api/pay/close_order", php_demo_body(&by_id)).await;
    assert_eq!(reply["retCode"], "FAIL");
    assert_eq!(reply["resCode"], "FAIL");
    assert_eq!(reply["retMsg"], "订单已支付,不能关闭.");
    let still = QueryOrderRequest {
        pay_order_id: Some(paid),
        ..Default::default()
    };
    assert_eq!(gw.xxpay.query_order(&still).await.unwrap().status, Some(2));

    // Unknown orders, missing keys, a foreign appId.
    let unknown = [("mchId", XXPAY_MCH_ID), ("mchOrderNo", "NOPE")];
    let reply = post_form(&gw, "/api/pay/close_order", php_demo_body(&unknown)).await;
    assert_eq!(reply["retMsg"], "支付订单不存在.");
    let neither = [("mchId", XXPAY_MCH_ID), ("payOrderId", "")];
    let reply = post_form(&gw, "/api/pay/close_order", php_demo_body(&neither)).await;
    assert_eq!(reply["retMsg"], "请求参数[payOrderId或mchOrderNo]不能为空.");
    let foreign = [
        ("mchId", XXPAY_MCH_ID),
        ("appId", "x"),
        ("mchOrderNo", "C1"),
    ];
    let reply = post_form(&gw, "/api/pay/close_order", php_demo_body(&foreign)).await;
    assert_eq!(reply["retMsg"], "应用不存在[appId=x].");

    // The SDK closes too.
    gw.xxpay
        .create_order(&order("C3", 8003, &merchant.url))
        .await
        .unwrap();
    let closed = gw
        .xxpay
        .close_order(&paymux_dialects::xxpay::wire::CloseOrderRequest {
            mch_order_no: Some("C3".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(closed.status, Some(5));
    assert_eq!(closed.res_code.as_deref(), Some("SUCCESS"));
}

#[tokio::test]
async fn barcode_products_are_decided_by_the_payers_code_and_said_in_reply_and_query() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let query = |no: &str| QueryOrderRequest {
        mch_order_no: Some(no.into()),
        ..Default::default()
    };
    // 8020 from the PHP demo, a code ending in 1: paid at once.
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        php_demo_body(&demo_create(
            "8020",
            "B1",
            &merchant.url,
            "",
            "134567890123456781",
        )),
    )
    .await;
    assert_verifies_both_ways(&reply);
    assert_eq!(reply["orderStatus"], 2, "{reply:?}");
    assert!(
        !reply.contains_key("payParams"),
        "nothing for the payer to open"
    );
    let queried = gw.xxpay.query_order(&query("B1")).await.unwrap();
    assert_eq!(queried.status, Some(2));
    assert_eq!(queried.product_id, Some(8020));
    assert!(queried.channel_order_no.is_some() && queried.pay_succ_time.is_some());
    // The notification, checked by both demos' handlers (their own field lists, `income`
    // among them, their own sort; PHP compares with `!=`, Java with `equals`).
    assert_eq!(gw.deliver().await.delivered, 1);
    let n = &merchant.received()[0];
    for (rule, list) in [
        (
            Rule::Php,
            &[
                "payOrderId",
                "income",
                "mchId",
                "appId",
                "productId",
                "mchOrderNo",
                "amount",
                "status",
                "channelOrderNo",
                "channelAttach",
                "param1",
                "param2",
                "paySuccTime",
                "backType",
            ][..],
        ),
        (
            Rule::Java,
            &[
                "payOrderId",
                "mchId",
                "appId",
                "productId",
                "mchOrderNo",
                "amount",
                "status",
                "channelOrderNo",
                "channelAttach",
                "param1",
                "param2",
                "paySuccTime",
                "backType",
                "income",
            ][..],
        ),
    ] {
        let picked: Vec<(String, String)> = list
            .iter()
            .filter_map(|name| Some((name.to_string(), n.field(name)?)))
            .collect();
        assert_eq!(
            Some(merchant_sign(&picked, &[], rule)),
            n.field("sign"),
            "{rule:?}"
        );
    }
    assert_eq!(n.field("productId").as_deref(), Some("8020"));

    // 8021 from the Java demo, a code ending in 2: the payer confirms on the phone.
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        java_demo_body(&demo_create(
            "8021",
            "B2",
            &merchant.url,
            "",
            "281234567890123452",
        )),
    )
    .await;
    assert_verifies_both_ways(&reply);
    assert_eq!(reply["orderStatus"], 1, "{reply:?}");
    assert_eq!(
        gw.xxpay.query_order(&query("B2")).await.unwrap().status,
        Some(1)
    );
    let id = reply["payOrderId"].as_str().unwrap();
    assert_eq!(gw.pay(id, "success").await.status(), 200);
    assert_eq!(
        gw.xxpay.query_order(&query("B2")).await.unwrap().status,
        Some(2)
    );
    // ...or by itself within 30 s.
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        java_demo_body(&demo_create(
            "8021",
            "B3",
            &merchant.url,
            "",
            "281234567890123452",
        )),
    )
    .await;
    assert_eq!(reply["orderStatus"], 1);
    gw.advance(30);
    gw.poll_channels().await;
    assert_eq!(
        gw.xxpay.query_order(&query("B3")).await.unwrap().status,
        Some(2)
    );

    // A code ending in 9: 余额不足, said in the reply and by the query.
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        php_demo_body(&demo_create(
            "8020",
            "B9",
            &merchant.url,
            "",
            "134567890123456789",
        )),
    )
    .await;
    assert_eq!(reply["retCode"], "FAIL");
    assert_eq!(reply["resCode"], "FAIL");
    assert_eq!(reply["retMsg"], "支付渠道下单失败[余额不足].");
    assert_eq!(
        gw.xxpay.query_order(&query("B9")).await.unwrap().status,
        Some(5)
    );

    // No code, or not a code: refused before anything is written.
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        php_demo_body(&demo_create("8020", "B0", &merchant.url, "", "")),
    )
    .await;
    assert_eq!(reply["retMsg"], "请求参数[extra]不能为空.");
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        php_demo_body(&demo_create(
            "8020",
            "B0",
            &merchant.url,
            "",
            "{\"authCode\":1}",
        )),
    )
    .await;
    assert_eq!(
        reply["retMsg"],
        "请求参数[extra]应为用户付款码(10至32位数字)."
    );
    let missing = gw.xxpay.query_order(&query("B0")).await.unwrap();
    assert_eq!(missing.ret_msg.as_deref(), Some("支付订单不存在."));
}

#[tokio::test]
async fn the_mini_program_product_needs_an_openid_and_gets_jsapi_pay_params() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        java_demo_body(&demo_create("8023", "M0", &merchant.url, "", "")),
    )
    .await;
    assert_eq!(reply["retMsg"], "请求参数[channelUserId]不能为空.");

    let openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        java_demo_body(&demo_create("8023", "M1", &merchant.url, openid, "")),
    )
    .await;
    assert_verifies_both_ways(&reply);
    let id = reply["payOrderId"].as_str().unwrap().to_owned();
    let params = reply["payParams"].as_object().unwrap();
    assert_eq!(params["payUrl"], gw.cashier_url(&id).as_str());
    // What `wx.requestPayment` / `getBrandWCPayRequest` takes, signed by WeChat's rule.
    assert_eq!(params["appId"], XXPAY_APP_ID);
    assert_eq!(params["package"], format!("prepay_id={id}").as_str());
    assert_eq!(params["signType"], "MD5");
    let signed: Vec<(String, String)> = ["appId", "timeStamp", "nonceStr", "package", "signType"]
        .iter()
        .map(|k| (k.to_string(), params[*k].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        params["paySign"].as_str().unwrap(),
        merchant_sign(&signed, &[], Rule::Php)
    );
    let stamp: i64 = params["timeStamp"].as_str().unwrap().parse().unwrap();
    let now_s = paymux_core::clock::Clock::now(&*gw.clock).0 / 1000;
    assert!((stamp - now_s).abs() <= 1, "{stamp} vs {now_s}");
    // 8004 (公众号) answers the same way.
    let in_app = gw
        .xxpay
        .create_order(&order("M2", 8004, &merchant.url))
        .await
        .unwrap()
        .pay_params
        .unwrap();
    assert!(in_app.pay_sign.is_some() && in_app.package.is_some());

    let queried = gw
        .xxpay
        .query_order(&QueryOrderRequest {
            mch_order_no: Some("M1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(queried.product_id, Some(8023));
    assert_eq!(queried.channel_user.as_deref(), Some(openid));
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    assert_eq!(gw.deliver().await.delivered, 1);
}

/// xxpay-master's client: a fastjson `JSONObject` (a `HashMap`), signed by `PayDigestUtil`,
/// sent as `params=` + `toJSONString()`, not URL-encoded, as the POST body.
fn xxpay_master_body(fields: &[(&str, Value)]) -> String {
    let owned: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), text_of(v)?)))
        .collect();
    let sign = merchant_sign(&owned, &[], Rule::Java);
    let mut keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    keys.push("sign");
    let mut object = Params::new();
    for key in java_hashmap_order(&keys) {
        let value = fields
            .iter()
            .find(|(name, _)| *name == key)
            .map_or(json!(sign), |(_, v)| v.clone());
        object.insert(key.to_owned(), value);
    }
    format!("params={}", Value::Object(object))
}

fn xxpay_master_create(channel_id: &str, mch_order_no: i64, notify_url: &str) -> String {
    xxpay_master_body(&[
        ("mchId", json!(XXPAY_MCH_ID)),
        ("mchOrderNo", json!(mch_order_no)),
        ("channelId", json!(channel_id)),
        ("amount", json!(1)),
        ("currency", json!("cny")),
        ("clientIp", json!("114.112.124.236")),
        ("device", json!("WEB")),
        ("subject", json!("XXPAY捐助商品G_0001")),
        ("body", json!("XXPAY捐助商品G_0001")),
        ("notifyUrl", json!(notify_url)),
        ("param1", json!("")),
        ("param2", json!("")),
        (
            "extra",
            json!("{\"productId\":\"120989823\",\"openId\":\"o2RvowBf7sOVJf8kJksUEMceaDqo\"}"),
        ),
    ])
}

#[tokio::test]
async fn xxpay_masters_channel_ids_create_orders_its_merchants_can_read() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let body = xxpay_master_create("WX_NATIVE", 1494774484058, &merchant.url);
    assert!(
        body.starts_with(
            "params={\"amount\":1,\"mchId\":\"20001222\",\"mchOrderNo\":1494774484058,"
        )
    );
    for (n, (channel, product)) in [
        ("WX_NATIVE", 8002),
        ("WX_JSAPI", 8004),
        ("WX_APP", 8004),
        ("WX_MWEB", 8003),
        ("ALIPAY_MOBILE", 8008),
        ("ALIPAY_PC", 8007),
        ("ALIPAY_WAP", 8007),
        ("ALIPAY_QR", 8006),
    ]
    .into_iter()
    .enumerate()
    {
        let no = 1494774484058 + n as i64;
        let reply = post_form(
            &gw,
            "/api/pay/create_order",
            xxpay_master_create(channel, no, &merchant.url),
        )
        .await;
        // `"SUCCESS".equals(retCode) && "SUCCESS".equalsIgnoreCase(resCode)`, then
        // `PayDigestUtil.getSign(retMap, resKey, "sign", "payParams").equals(sign)`.
        assert_verifies_both_ways(&reply);
        let id = reply["payOrderId"].as_str().unwrap().to_owned();
        let cashier = gw.cashier_url(&id);
        let params = &reply["payParams"];
        match channel {
            "WX_NATIVE" | "ALIPAY_QR" => assert_eq!(reply["codeUrl"], cashier.as_str()),
            "WX_MWEB" => assert_eq!(reply["payUrl"], cashier.as_str()),
            "ALIPAY_WAP" | "ALIPAY_PC" => {
                // Written into the merchant's page, it sends the payer to the cashier.
                let page = reply["payUrl"].as_str().unwrap();
                assert!(page.starts_with("<form"), "{page}");
                assert!(page.contains(&format!("action=\"{cashier}\"")), "{page}");
                assert!(page.contains("document.forms[0].submit()"));
                let opened = gw.http.get(format!("{cashier}?")).send().await.unwrap();
                assert_eq!(opened.status(), 200);
            }
            // What its qrPay.ftl hands to `getBrandWCPayRequest`.
            "WX_JSAPI" => {
                for field in [
                    "appId",
                    "timeStamp",
                    "nonceStr",
                    "package",
                    "signType",
                    "paySign",
                ] {
                    assert!(params[field].is_string(), "{field}: {params}");
                }
            }
            "WX_APP" => {
                for field in [
                    "appId",
                    "partnerId",
                    "prepayId",
                    "packageValue",
                    "timeStamp",
                    "nonceStr",
                    "sign",
                ] {
                    assert!(params[field].is_string(), "{field}: {params}");
                }
                assert_eq!(params["packageValue"], "Sign=WXPay");
            }
            _ => {}
        }
        assert!(
            params["payUrl"].is_string(),
            "the spec's payParams too: {reply:?}"
        );

        // Its query: `params={"payOrderId":…,"mchId":…,"mchOrderNo":…,"executeNotify":"true",…}`.
        let queried = post_form(
            &gw,
            "/api/pay/query_order",
            xxpay_master_body(&[
                ("mchId", json!(XXPAY_MCH_ID)),
                ("mchOrderNo", json!(no.to_string())),
                ("payOrderId", json!(id)),
                ("executeNotify", json!("true")),
            ]),
        )
        .await;
        assert_verifies_both_ways(&queried);
        assert_eq!(queried["productId"], product, "{channel}");
        assert_eq!(queried["channelId"], channel);
        assert_eq!(queried["status"], 1);
    }
    let jsapi = gw
        .xxpay
        .query_order(&QueryOrderRequest {
            mch_order_no: Some("1494774484059".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        jsapi.channel_user.as_deref(),
        Some("o2RvowBf7sOVJf8kJksUEMceaDqo"),
        "WX_JSAPI's openId, from its extra"
    );

    let unknown = post_form(
        &gw,
        "/api/pay/create_order",
        xxpay_master_create("WX_BAR", 1, &merchant.url),
    )
    .await;
    assert_eq!(unknown["retCode"], "FAIL");
    assert_eq!(unknown["resCode"], "FAIL");
    assert_eq!(unknown["retMsg"], "不支持的支付渠道类型[channelId=WX_BAR].");
}

#[tokio::test]
async fn xxpay_masters_merchants_verify_the_notification_of_their_orders() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let reply = post_form(
        &gw,
        "/api/pay/create_order",
        xxpay_master_create("ALIPAY_WAP", 1494774484058, &merchant.url),
    )
    .await;
    let id = reply["payOrderId"].as_str().unwrap().to_owned();
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    assert_eq!(gw.deliver().await.delivered, 1);
    let n = &merchant.received()[0];
    // GoodsOrderController.payNotify: `request2payResponseMap` picks these names, then
    // `PayDigestUtil.getSign(map, resKey, "sign")` must equal the received sign.
    let list = [
        "payOrderId",
        "mchId",
        "mchOrderNo",
        "channelId",
        "amount",
        "currency",
        "status",
        "clientIp",
        "device",
        "subject",
        "channelOrderNo",
        "param1",
        "param2",
        "paySuccTime",
        "backType",
        "sign",
    ];
    let names: Vec<String> = n.fields().into_iter().map(|(k, _)| k).collect();
    assert!(
        names.iter().all(|name| list.contains(&name.as_str())),
        "nothing its handler would leave out of its check: {names:?}"
    );
    let picked: Vec<(String, String)> = list
        .iter()
        .filter_map(|name| Some((name.to_string(), n.field(name)?)))
        .collect();
    assert_eq!(
        Some(merchant_sign(&picked, &["sign"], Rule::Java)),
        n.field("sign")
    );
    assert_eq!(
        n.field("status").as_deref(),
        Some("2"),
        "its handler acts on 2"
    );
    assert_eq!(n.field("channelId").as_deref(), Some("ALIPAY_WAP"));
    assert_eq!(n.field("mchOrderNo").as_deref(), Some("1494774484058"));
    assert_eq!(n.field("amount").as_deref(), Some("1"));
    assert_eq!(n.field("subject").as_deref(), Some("XXPAY捐助商品G_0001"));
}
