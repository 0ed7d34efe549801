//! chinaums' QR-bill pages as the payer sees them (issue 12's payer paragraph): the bill's
//! goods, and the payer's memo (付款附言) carried to the §1.11 notification, the §1.4 query
//! and the §1.10 return link.

use paymux_core::clock::Clock;
use paymux_dialects::chinaums::wire::Params;
use paymux_dialects::chinaums::{ChinaumsClient, ChinaumsCredentials};
use paymux_server::config::Config;
use serde_json::{Value, json};

use crate::helpers::{Backend, CHINAUMS_MID, TestGateway, config_text, page, post_page};

fn client(gw: &TestGateway) -> ChinaumsClient {
    let config = Config::parse(&config_text("sqlite://unused.db"), "test").expect("config");
    let table = config.tables_of("chinaums").remove(0);
    let credentials: ChinaumsCredentials =
        paymux_dialects::common::merchants::parse_table("chinaums", &table.merchant, &table.table)
            .expect("credentials");
    ChinaumsClient::new(&gw.url, &credentials)
        .expect("client")
        .with_clock(gw.clock.clone())
}

fn today(gw: &TestGateway) -> String {
    paymux_core::time::beijing(gw.clock.now())
        .format("%Y-%m-%d")
        .to_string()
}

/// A chinaums request with the fields every one carries, signed by the merchant's app.
async fn call(gw: &TestGateway, path: &str, fields: Value) -> Params {
    let mut body = json!({
        "requestTimestamp": paymux_core::time::format_beijing_datetime(gw.clock.now()),
        "mid": CHINAUMS_MID,
        "tid": "88880001",
        "instMid": "QRPAYDEFAULT",
    });
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    let reply = client(gw)
        .send(path, body.to_string().as_bytes())
        .await
        .expect("a JSON reply");
    assert_eq!(
        reply["errCode"],
        "SUCCESS",
        "{}",
        Value::Object(reply.clone())
    );
    reply
}

#[tokio::test]
async fn a_bills_page_lists_its_goods_by_name_quantity_and_price_escaped() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let reply = call(
        &gw,
        "/v1/netpay/bills/get-qrcode",
        json!({"billNo": "1001000000000777", "billDate": today(&gw), "totalAmount": 350,
        "billDesc": "午餐",
        "goods": [
            {"goodsId": "1", "goodsName": "牛肉面", "quantity": "2", "price": "150",
             "goodsCategory": "FOOD", "body": "大碗"},
            {"goodsId": "2", "goodsName": "<b>可乐</b>", "quantity": "1", "price": "50"},
        ]}),
    )
    .await;
    let html = page(reply["billQRCode"].as_str().unwrap()).await;
    for shown in [
        "午餐",
        "¥3.50",
        "牛肉面 × 2,单价 ¥1.50",
        "&lt;b&gt;可乐&lt;/b&gt; × 1,单价 ¥0.50",
    ] {
        assert!(html.contains(shown), "{shown} in {html}");
    }
    assert!(!html.contains("<b>"), "{html}");

    // A fixed code's page lists the goods it bills too.
    let reply = call(
        &gw,
        "/v1/netpay/bills/get-qrcode",
        json!({"qrCodeId": "Q-PARKING", "totalAmount": 300,
               "goods": [{"goodsName": "停车费", "quantity": "1", "price": "300"}]}),
    )
    .await;
    let html = page(reply["billQRCode"].as_str().unwrap()).await;
    assert!(html.contains("停车费 × 1,单价 ¥3.00"), "{html}");
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_memo_a_payer_types_reaches_the_notification_the_query_and_the_return_link() {
    memo_reaches_the_merchant(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_memo_a_payer_types_is_kept_with_the_try_on_postgres_too() {
    memo_reaches_the_merchant(Backend::Postgres).await;
}

async fn memo_reaches_the_merchant(backend: Backend) {
    let gw = TestGateway::spawn(backend).await;
    let receiver = crate::helpers::Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    let bill_date = today(&gw);
    let reply = call(
        &gw,
        "/v1/netpay/bills/get-qrcode",
        json!({"billNo": "1001000000000888", "billDate": bill_date, "totalAmount": 1200,
               "billDesc": "3号桌", "notifyUrl": receiver.url,
               "returnUrl": "https://shop.example/back"}),
    )
    .await;
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();
    let html = page(&page_url).await;
    assert!(
        html.contains("付款附言") && html.contains("name=\"memo\" maxlength=\"64\""),
        "{html}"
    );
    let pay = |body: String| {
        let url = format!("{page_url}/pay");
        async move { post_page(&url, &body).await }
    };
    let memo_form = |wallet: &str, memo: &str| {
        paymux_dialects::common::encode_form(&[("wallet", wallet), ("memo", memo)])
    };

    // Too long, or with a control character: said, and no try starts.
    for memo in ["备".repeat(65), "少辣\u{7}".to_owned()] {
        let refused = pay(memo_form("wechat", &memo)).await;
        assert_eq!(refused.status(), 400, "{memo}");
        assert!(refused.text().await.unwrap().contains("付款附言"));
    }
    let bill_no = paymux_core::ids::MerchantOrderNo::parse("1001000000000888", 32).unwrap();
    let bill = gw
        .running
        .operator
        .gateway()
        .find_order(
            &paymux_core::ids::MerchantId::new("demo"),
            paymux_core::store::OrderKey::Merchant(&bill_no),
        )
        .await
        .unwrap();
    assert!(
        gw.running
            .operator
            .attempts_of_order(&bill.id)
            .await
            .unwrap()
            .is_empty()
    );

    // A first try with one memo, cancelled; the second, with another, pays.
    let went = pay(memo_form("alipay", "先试一下")).await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=fail")
            .await
            .status(),
        303
    );
    let typed = " 少辣 & 多放香菜=好 ";
    let went = pay(memo_form("wechat", typed)).await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );
    let memo = typed.trim();

    // §1.11: the notification carries it, signed.
    assert_eq!(gw.deliver().await.delivered, 1);
    let fields = receiver.received()[0].fields();
    assert!(client(&gw).verify_notification(&fields), "{fields:?}");
    assert_eq!(field(&fields, "memo"), Some(memo));

    // §1.4: the query answers it.
    let query = call(
        &gw,
        "/v1/netpay/bills/query",
        json!({"billNo": "1001000000000888", "billDate": bill_date}),
    )
    .await;
    assert_eq!(query["billStatus"], "PAID");
    assert_eq!(query["memo"], memo);

    // §1.10: the way back to the merchant carries it, signed.
    let html = page(&cashier).await;
    let back = html
        .split("<a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link back")
        .replace("&amp;", "&");
    let returned = paymux_dialects::common::decode_form(back.split_once('?').unwrap().1, true);
    assert!(client(&gw).verify_notification(&returned), "{returned:?}");
    assert_eq!(field(&returned, "memo"), Some(memo));

    // A try without a memo sends none: no empty field.
    let reply = call(
        &gw,
        "/v1/netpay/bills/get-qrcode",
        json!({"billNo": "1001000000000889", "billDate": bill_date, "totalAmount": 100,
               "notifyUrl": receiver.url}),
    )
    .await;
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();
    let went = post_page(&format!("{page_url}/pay"), "wallet=wechat&memo=+").await;
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    post_page(&format!("{cashier}/pay"), "result=success").await;
    receiver.answer_with(&["SUCCESS"]);
    assert_eq!(gw.deliver().await.delivered, 1);
    let fields = receiver.received()[1].fields();
    assert_eq!(field(&fields, "billNo"), Some("1001000000000889"));
    assert_eq!(field(&fields, "memo"), None);
}
