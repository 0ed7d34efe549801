//! chinaums' QR-bill pages as the payer sees them (issue 12's payer paragraph): the bill's
//! goods, and the payer's memo (付款附言) carried to the §1.11 notification, the §1.4 query
//! and the §1.10 return link.

use paymux_core::clock::Clock;
use paymux_dialects::chinaums::wire::Params;
use paymux_dialects::chinaums::{ChinaumsClient, ChinaumsCredentials};
use paymux_server::config::Config;
use serde_json::{Value, json};

use crate::helpers::{Backend, CHINAUMS_MID, TestGateway, config_text};

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

/// A payer's browser: it does not follow redirects, so a test sees where each page leads.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(url: &str) -> String {
    browser()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
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
