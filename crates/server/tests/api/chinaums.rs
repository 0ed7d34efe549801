//! chinaums over HTTP: the OPEN-BODY-SIG header refused when it should be, the spec's
//! example requests (fixed where the OCR broke them) answered with the documented fields,
//! the three kinds of code paid and notified, refunds (partial, multiple, idempotent,
//! concurrent, split), escrow, the §1.9 lookup against a merchant's server, the §1.10
//! return link, and every error code the dialect returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use paymux_core::clock::Clock;
use paymux_core::code::PaymentCode;
use paymux_core::ids::{MerchantId, MerchantOrderNo};
use paymux_core::links::PayerLinks;
use paymux_core::order::{Attempt, AttemptStatus, Order, OrderStatus};
use paymux_core::payway::{PayMethod, PayWay, Wallet};
use paymux_core::store::{CodeKey, OrderKey};
use paymux_dialects::chinaums::codec::{self, SignType};
use paymux_dialects::chinaums::wire::{
    Params, QrCodeRequest, QueryRequest, RefundRequest, Reply, SecureRequest, read_params,
};
use paymux_dialects::chinaums::{ChinaumsClient, ChinaumsCredentials};
use paymux_dialects::{Dialect, Mount, PayerHooks, PlatformKeys};
use paymux_server::config::Config;
use serde_json::{Map, Value, json};

use crate::helpers::{
    Backend, CHINAUMS_APP_ID, CHINAUMS_APP_KEY, CHINAUMS_MID, CHINAUMS_SIGN_KEY, Received,
    Receiver, TestGateway, browser, config_text, post_page, serve_logging_to,
};

const GET: &str = "/v1/netpay/bills/get-qrcode";
const UPDATE: &str = "/v1/netpay/bills/update-qrcode";
pub(crate) const CLOSE: &str = "/v1/netpay/bills/close-qrcode";
pub(crate) const QUERY: &str = "/v1/netpay/bills/query";
pub(crate) const REFUND: &str = "/v1/netpay/bills/refund";
pub(crate) const INFO: &str = "/v1/netpay/bills/query-qrcode-info";
const CANCEL: &str = "/v1/netpay/secure-cancel";
const COMPLETE: &str = "/v1/netpay/secure-complete";

const WECHAT: PayWay = PayWay::new(Wallet::WeChat, PayMethod::Qr);
const ALIPAY: PayWay = PayWay::new(Wallet::Alipay, PayMethod::Qr);
const UNIONPAY: PayWay = PayWay::new(Wallet::UnionPay, PayMethod::Qr);

fn credentials() -> ChinaumsCredentials {
    let config = Config::parse(&config_text("sqlite://unused.db"), "test").expect("config");
    let table = config.tables_of("chinaums").remove(0);
    paymux_dialects::common::merchants::parse_table("chinaums", &table.merchant, &table.table)
        .expect("credentials")
}

fn client(gw: &TestGateway) -> ChinaumsClient {
    ChinaumsClient::new(&gw.url, &credentials())
        .expect("client")
        .with_clock(gw.clock.clone())
}

fn now(gw: &TestGateway) -> paymux_core::time::Millis {
    gw.clock.now()
}

pub(crate) fn timestamp(gw: &TestGateway) -> String {
    paymux_core::time::format_beijing_datetime(now(gw))
}

pub(crate) fn today(gw: &TestGateway) -> String {
    paymux_core::time::beijing(now(gw))
        .format("%Y-%m-%d")
        .to_string()
}

/// Posts a body as it is, signed with the merchant's app.
async fn post(gw: &TestGateway, path: &str, body: &str) -> Params {
    client(gw)
        .send(path, body.as_bytes())
        .await
        .expect("a JSON reply")
}

/// Posts a JSON object with the fields every request carries filled in.
pub(crate) async fn call(gw: &TestGateway, path: &str, fields: Value) -> Params {
    let mut body = json!({
        "requestTimestamp": timestamp(gw),
        "mid": CHINAUMS_MID,
        "tid": "88880001",
        "instMid": "QRPAYDEFAULT",
    });
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    post(gw, path, &body.to_string()).await
}

pub(crate) fn code_of(reply: &Params) -> &str {
    reply["errCode"].as_str().unwrap_or("(none)")
}

#[track_caller]
pub(crate) fn assert_code(reply: &Params, code: &str) {
    assert_eq!(code_of(reply), code, "{}", Value::Object(reply.clone()));
}

#[track_caller]
pub(crate) fn assert_refused(reply: &Params, code: &str, says: &str) {
    assert_code(reply, code);
    let message = reply["errMsg"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{code}: {message:?} should say {says:?}"
    );
}

fn merchant() -> MerchantId {
    MerchantId::new("demo")
}

pub(crate) async fn bill(gw: &TestGateway, no: &str) -> Order {
    gw.running
        .operator
        .gateway()
        .find_order(
            &merchant(),
            OrderKey::Merchant(&MerchantOrderNo::parse(no, 32).expect("bill no")),
        )
        .await
        .expect("the bill")
}

pub(crate) async fn code(gw: &TestGateway, qr_code_id: &str) -> PaymentCode {
    gw.running
        .operator
        .gateway()
        .find_code(&merchant(), CodeKey::Ref(qr_code_id))
        .await
        .expect("the code")
}

/// A payer scans the bill with a wallet: a new try.
async fn scan(gw: &TestGateway, order: &Order, way: PayWay) {
    gw.running
        .operator
        .start_attempt(&order.id, way, None)
        .await
        .expect("a try starts");
}

/// A payer scans and pays.
async fn scan_and_pay(gw: &TestGateway, order: &Order, way: PayWay) {
    scan(gw, order, way).await;
    let paid = gw.pay(order.id.as_str(), "success").await;
    assert_eq!(
        paid.status(),
        200,
        "{}",
        paid.text().await.unwrap_or_default()
    );
}

/// A one-time code of `amount` fen with bill `no`, made through get-qrcode.
pub(crate) async fn one_time(gw: &TestGateway, no: &str, amount: i64, more: Value) -> Params {
    let mut fields = json!({
        "billNo": no,
        "billDate": today(gw),
        "totalAmount": amount,
        "billDesc": "门诊缴费",
    });
    if let (Some(f), Value::Object(more)) = (fields.as_object_mut(), more) {
        f.extend(more);
    }
    let reply = call(gw, GET, fields).await;
    assert_code(&reply, "SUCCESS");
    reply
}

/// A paid one-time bill of `amount` fen.
pub(crate) async fn paid_bill(gw: &TestGateway, no: &str, amount: i64, more: Value) -> Order {
    one_time(gw, no, amount, more).await;
    let order = bill(gw, no).await;
    scan_and_pay(gw, &order, WECHAT).await;
    let order = bill(gw, no).await;
    assert_eq!(order.status, OrderStatus::Succeeded);
    order
}

fn form(received: &Received) -> Vec<(String, String)> {
    received.fields()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The JSON text field of a notification, parsed.
fn json_field(fields: &[(String, String)], name: &str) -> Value {
    serde_json::from_str(field(fields, name).unwrap_or("null")).expect(name)
}

/// A payer at a code's page: posts `form` (the wallet, and what else the page asks), is
/// sent to the sandbox's cashier, and pays there. Returns the bill that was paid.
async fn pay_at_page(gw: &TestGateway, page_url: &str, form: &str) -> Order {
    let went = post_page(&format!("{page_url}/pay"), form).await;
    assert_eq!(went.status(), 303, "{:?}", went.text().await);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    let order_id = cashier
        .split("/cashier/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the cashier's link names the bill")
        .to_owned();
    let paid = post_page(&format!("{cashier}/pay"), "result=success").await;
    assert_eq!(paid.status(), 303);
    gw.running
        .operator
        .gateway()
        .find_order(
            &merchant(),
            OrderKey::Platform(&paymux_core::ids::PlatformId::from_string(order_id)),
        )
        .await
        .expect("the bill the page made")
}

#[tokio::test]
async fn the_header_is_refused_for_a_wrong_key_an_altered_body_a_stale_time_and_a_replayed_nonce() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let c = client(&gw);
    let body = json!({
        "requestTimestamp": timestamp(&gw), "mid": CHINAUMS_MID, "tid": "88880001",
        "instMid": "QRPAYDEFAULT", "billNo": "10010000000001", "billDate": today(&gw),
        "totalAmount": 1, "qrCodeId": "Q-HEADER",
    })
    .to_string();
    let compact = paymux_core::time::format_beijing_compact(now(&gw));
    let header = |key: &str, stamp: &str, nonce: &str, signed: &str| {
        codec::authorization(CHINAUMS_APP_ID, key, stamp, nonce, signed.as_bytes())
    };
    let send = |auth: Option<String>, body: String| {
        let c = c.clone();
        async move {
            c.send_with(GET, body.as_bytes(), auth.as_deref())
                .await
                .expect("a reply")
        }
    };

    let reply = send(None, body.clone()).await;
    assert_refused(&reply, "BAD_SIGN", "Authorization");
    let reply = send(
        Some(header("wrongKey", &compact, "n1", &body)),
        body.clone(),
    )
    .await;
    assert_refused(&reply, "BAD_SIGN", "签名错误");
    let altered = body.replace("\"totalAmount\":1", "\"totalAmount\":2");
    assert_ne!(altered, body);
    let reply = send(
        Some(header(CHINAUMS_APP_KEY, &compact, "n2", &body)),
        altered,
    )
    .await;
    assert_refused(&reply, "BAD_SIGN", "签名错误");
    let unknown_app = codec::authorization(
        "otherApp",
        CHINAUMS_APP_KEY,
        &compact,
        "n3",
        body.as_bytes(),
    );
    let reply = send(Some(unknown_app), body.clone()).await;
    assert_refused(&reply, "BAD_SIGN", "AppId");
    for offset in [-301, 301] {
        let stamp = paymux_core::time::format_beijing_compact(now(&gw).plus_secs(offset));
        let reply = send(
            Some(header(CHINAUMS_APP_KEY, &stamp, "n4", &body)),
            body.clone(),
        )
        .await;
        assert_refused(&reply, "ABNORMAL_REQUEST_TIME", "300");
    }
    let reply = send(
        Some(header(CHINAUMS_APP_KEY, "2024-01-02", "n5", &body)),
        body.clone(),
    )
    .await;
    assert_refused(&reply, "ABNORMAL_REQUEST_TIME", "yyyyMMddHHmmss");
    // Nothing the refusals carried was done.
    let info = call(&gw, INFO, json!({"qrCodeId": "Q-HEADER"})).await;
    assert_code(&info, "NO_ORDER");

    // Within the skew, with the right key, once: accepted. The same header again: a replay.
    let stamp = paymux_core::time::format_beijing_compact(now(&gw).plus_secs(-299));
    let good = header(
        CHINAUMS_APP_KEY,
        &stamp,
        "0123456789abcdef0123456789abcdef",
        &body,
    );
    let reply = send(Some(good.clone()), body.clone()).await;
    assert_code(&reply, "SUCCESS");
    let reply = send(Some(good), body.clone()).await;
    assert_refused(&reply, "BAD_SIGN", "Nonce");
    // The nonce of a refused request was not spent: it may sign a good one.
    let reply = send(
        Some(header(
            CHINAUMS_APP_KEY,
            &compact,
            "n2",
            &body
                .replace("Q-HEADER", "Q-H2")
                .replace("10010000000001", "10010000000002"),
        )),
        body.replace("Q-HEADER", "Q-H2")
            .replace("10010000000001", "10010000000002"),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    // The header's parameters may be separated without spaces.
    let tight = header(CHINAUMS_APP_KEY, &compact, "n6", &body).replace(", ", ",");
    let reply = send(Some(tight), body.clone()).await;
    assert_code(&reply, "DUP_ORDER");
}

#[tokio::test]
async fn a_nonce_is_refused_again_until_twice_the_skew_has_passed() {
    let gw = TestGateway::spawn(Backend::Postgres).await;
    let body = json!({
        "requestTimestamp": timestamp(&gw), "mid": CHINAUMS_MID, "tid": "88880001",
        "instMid": "QRPAYDEFAULT", "billNo": "1001404", "billDate": today(&gw),
    })
    .to_string();
    let c = client(&gw);
    let first = codec::authorization(
        CHINAUMS_APP_ID,
        CHINAUMS_APP_KEY,
        &paymux_core::time::format_beijing_compact(now(&gw)),
        "same-nonce",
        body.as_bytes(),
    );
    let reply = c
        .send_with(QUERY, body.as_bytes(), Some(&first))
        .await
        .unwrap();
    assert_code(&reply, "NO_ORDER");
    let reply = c
        .send_with(QUERY, body.as_bytes(), Some(&first))
        .await
        .unwrap();
    assert_refused(&reply, "BAD_SIGN", "Nonce");
    // After twice the skew the first header is stale anyway, and the nonce may be reused.
    gw.advance(601);
    let again = codec::authorization(
        CHINAUMS_APP_ID,
        CHINAUMS_APP_KEY,
        &paymux_core::time::format_beijing_compact(now(&gw)),
        "same-nonce",
        body.as_bytes(),
    );
    let reply = c
        .send_with(QUERY, body.as_bytes(), Some(&again))
        .await
        .unwrap();
    assert_code(&reply, "NO_ORDER");
}

/// §1.1–§1.6's example requests, as the spec prints them but for the OCR's damage: a
/// missing opening brace, `]` read as `1`, `ORPAYDEFAULT`.
#[tokio::test]
async fn the_spec_examples_are_answered_with_the_documented_fields() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let get = r#"{
  "qrCodeId": "10001609223224017146368158",
  "systemId": "3003",
  "counterNo": "8888",
  "requestTimestamp": "2016-09-22 16:55:00",
  "billDesc": "BillTesting",
  "goods": [
    {
      "quantity": "1",
      "goodsId": "0002",
      "price": "100",
      "goodsCategory": "Auto",
      "body": "goods body",
      "goodsName": "Goods Name"
    }
  ],
  "mid": "898340149000005",
  "msgId": "80000000010",
  "billDate": "2016-09-22",
  "tid": "0001",
  "instMid": "QRPAYDEFAULT",
  "totalAmount": "1"
}"#;
    let reply = post(&gw, GET, get).await;
    assert_code(&reply, "SUCCESS");
    for (name, value) in [
        ("qrCodeId", "10001609223224017146368158"),
        ("mid", "898340149000005"),
        ("billDate", "2016-09-22"),
        ("tid", "0001"),
        ("instMid", "QRPAYDEFAULT"),
        ("msgId", "80000000010"),
        ("systemId", "3003"),
        ("errMsg", "查询二维码成功"),
    ] {
        assert_eq!(reply[name], value, "{name}");
    }
    let first_bill = reply["billNo"].as_str().expect("billNo").to_owned();
    assert_eq!(first_bill.len(), 28, "msgSrcId + 17 digits of time + 7");
    assert!(first_bill.starts_with("1001") && first_bill.bytes().all(|b| b.is_ascii_digit()));
    let page = reply["billQRCode"].as_str().expect("billQRCode");
    assert!(page.starts_with(&format!("{}/bills/Q", gw.url)), "{page}");
    // Both spellings of the response time, as table and example name it.
    assert_eq!(reply["responseTimestamp"], reply["responseTimeStamp"]);
    assert_eq!(reply["responseTimestamp"], timestamp(&gw));

    let update = r#"{
  "qrCodeId": "10001609223224017146368158",
  "systemId": "3003",
  "counterNo": "8888",
  "requestTimestamp": "2016-09-22 16:55:00",
  "billDesc": "BillTesting",
  "goods": [
   {
      "quantity": "1",
      "goodsId": "0002",
      "price": "100",
      "goodsCategory": "Auto",
      "body": "goods body",
      "goodsName": "Goods Name"
   }
 ],
  "mid": "898340149000005",
 "msgId": "80000000010",
  "billDate": "2016-09-22",
  "tid": "00000001",
 "instMid": "QRPAYDEFAULT",
 "srcReserve": "TEST",
 "totalAmount": "1",
  "notifyUrl": "http://www.chinatvpay.com/test"
}"#;
    let reply = post(&gw, UPDATE, update).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["errMsg"], "更新二维码成功");
    assert_eq!(reply["srcReserve"], "TEST");
    assert_eq!(reply["tid"], "00000001");
    assert_eq!(reply["billQRCode"].as_str(), Some(page), "the same code");
    let second_bill = reply["billNo"].as_str().expect("a new bill").to_owned();
    assert_ne!(second_bill, first_bill);
    assert_eq!(bill(&gw, &first_bill).await.status, OrderStatus::Closed);
    assert_eq!(bill(&gw, &second_bill).await.status, OrderStatus::Created);

    let close = r#"{
  "qrCodeId": "10001609223224017146368158",
  "systemId": "3003",
  "requestTimestamp": "2016-09-22 16:55:00",
  "mid": "898340149000005",
  "msgId": "800000000010",
  "tid": "00000001",
  "instMid": "QRPAYDEFAULT"
}"#;
    let reply = post(&gw, CLOSE, close).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["errMsg"], "成功关闭二维码");
    assert_eq!(reply["qrCodeId"], "10001609223224017146368158");
    assert_eq!(reply["billDate"], "2016-09-22");
    assert_eq!(reply["systemId"], "3003");
    assert_eq!(bill(&gw, &second_bill).await.status, OrderStatus::Closed);

    // §1.4 and §1.5 name bill 1001201609234113339074548947 of 2016-09-22.
    let reply = call(
        &gw,
        GET,
        json!({"billNo": "1001201609234113339074548947", "billDate": "2016-09-22", "totalAmount": 1, "memberId": "M01"}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let query = r#"{
    "requestTimestamp": "2016-09-22 16:55:00",
    "mid": "898340149000005",
    "billDate": "2016-09-22",
    "billNo": "1001201609234113339074548947",
    "tid": "12345080",
    "msgId": "800000000010",
    "instMid": "QRPAYDEFAULT"
}"#;
    let reply = post(&gw, QUERY, query).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["billStatus"], "UNPAID");
    assert_eq!(reply["totalAmount"], json!(1), "a number");
    assert_eq!(reply["merName"], "Demo Hospital");
    assert_eq!(reply["memberId"], "M01");
    assert!(reply.get("billPayment").is_none(), "no try yet");
    let order = bill(&gw, "1001201609234113339074548947").await;
    scan_and_pay(&gw, &order, ALIPAY).await;
    let reply = post(&gw, QUERY, query).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["billStatus"], "PAID");
    let payment = &reply["billPayment"];
    assert_eq!(payment["merOrderId"], "10012016092341133390745489470");
    assert_eq!(payment["status"], "TRADE_SUCCESS");
    assert_eq!(payment["targetSys"], "Alipay 2.0");
    assert!(
        payment["buyerId"].as_str().unwrap().starts_with("2088"),
        "an Alipay user: {payment}"
    );
    assert!(
        payment["targetOrderId"].as_str().unwrap().contains("22001"),
        "an Alipay trade number"
    );
    assert_eq!(payment["billBizType"], "bills");
    assert_eq!(payment["totalAmount"], json!(1));
    assert_eq!(payment["buyerPayAmount"], json!(1));
    for name in [
        "payTime",
        "settleDate",
        "paySeqId",
        "targetOrderId",
        "buyerId",
        "payDetail",
    ] {
        assert!(
            payment[name].as_str().is_some_and(|v| !v.is_empty()),
            "{name}: {payment}"
        );
    }
    assert_eq!(reply["cardAttr"], "BALANCE");
    for name in [
        "createTime",
        "billQRCode",
        "billDate",
        "billNo",
        "tid",
        "mid",
        "instMid",
    ] {
        assert!(reply.get(name).is_some(), "{name}");
    }

    let refund = r#"{
    "requestTimestamp": "2016-09-22 16:01:42",
    "msgId": "07S30609000023115850160142",
    "mid": "898340149000005",
    "tid": "12340042",
    "instMid": "QRPAYDEFAULT",
    "refundAmount": "1",
    "billNo": "1001201609234113339074548947",
    "billDate": "2016-09-22"
}"#;
    let reply = post(&gw, REFUND, refund).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["refundAmount"], json!(1));
    assert_eq!(
        reply["refundStatus"], "PROCESSING",
        "the sandbox refunds after a delay"
    );
    assert_eq!(reply["merOrderId"], "10012016092341133390745489470");
    assert_eq!(reply["billStatus"], "REFUND");
    assert_eq!(reply["msgId"], "07S30609000023115850160142");
    let refund_no = reply["refundOrderId"]
        .as_str()
        .expect("a refund number")
        .to_owned();
    assert!(
        refund_no.starts_with("1001") && refund_no.len() == 28,
        "{refund_no}"
    );
    gw.advance(3);
    gw.poll_channels().await;
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001201609234113339074548947", "billDate": "2016-09-22", "refundOrderId": refund_no}),
    )
    .await;
    assert_eq!(reply["billStatus"], "REFUND");
    assert_eq!(
        reply["billPayment"]["status"], "TRADE_CLOSED",
        "refunded in full"
    );
    let refunded = &reply["refundBillPayment"];
    assert_eq!(refunded["merOrderId"].as_str(), Some(refund_no.as_str()));
    assert_eq!(refunded["status"], "TRADE_SUCCESS");
    assert_eq!(refunded["totalAmount"], json!(1));
    assert_eq!(refunded["targetSys"], "Alipay 2.0");

    // §1.6 (institution mode): only the time and the code.
    call(
        &gw,
        GET,
        json!({"qrCodeId": "10141612095761704095648510", "totalAmount": 500, "billDesc": "停车费"}),
    )
    .await;
    let info = r#"{
   "requestTimestamp": "2016-12-09 09:11:54",
   "qrCodeId": "10141612095761704095648510"
}"#;
    let reply = post(&gw, INFO, info).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["errMsg"], "查询二维码成功");
    assert_eq!(reply["mid"], CHINAUMS_MID);
    assert_eq!(reply["merName"], "Demo Hospital");
    assert_eq!(reply["totalAmount"], json!(500));
    assert_eq!(reply["billDesc"], "停车费");
    assert_eq!(
        reply["requestTimestamp"], "2016-12-09 09:11:54",
        "its table's field, echoed"
    );
    assert!(reply.get("responseTimestamp").is_some());
    assert_eq!(reply["qrCodeUrl"], reply["billQRCode"], "both spellings");
    assert!(reply["qrCodeUrl"].as_str().unwrap().starts_with(&gw.url));
}

/// §1.7's and §1.8's examples name payment 20160922145952000023114819 of a merchant whose
/// source number is 2016.
#[tokio::test]
async fn the_secure_examples_cancel_and_complete_an_escrowed_payment() {
    let example = |path| async move {
        let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
            if let Some(t) = c.merchants[0].dialects.get_mut("chinaums") {
                t.insert("msg_src_id".into(), toml::Value::String("2016".into()));
            }
        })
        .await;
        paid_bill(
            &gw,
            "20160922145952000023114819",
            1,
            json!({"secureTransaction": "true"}),
        )
        .await;
        let body = r#"{
    "requestTimestamp": "2016-09-22 16:01:42",
    "msgId": "07S30609000023115850160142",
    "mid": "898340149000005",
    "tid": "12340042",
    "instMid": "QRPAYDEFAULT",
    "completedAmount": "1",
    "merOrderId": "20160922145952000023114819"
}"#;
        let body = if path == CANCEL {
            body.replace("    \"completedAmount\": \"1\",\n", "")
        } else {
            body.to_owned()
        };
        (post(&gw, path, &body).await, gw)
    };
    let (reply, _gw) = example(CANCEL).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["secureStatus"], "CANCELED");
    assert_eq!(reply["completedAmount"], json!(0));
    assert_eq!(reply["merOrderId"], "201609221459520000231148190");
    assert_eq!(reply["msgId"], "07S30609000023115850160142");
    assert_eq!(reply["requestTimestamp"], "2016-09-22 16:01:42");

    let (reply, _gw) = example(COMPLETE).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["errMsg"], "担保完成成功");
    for (name, value) in [
        ("secureStatus", json!("ALL_COMPLETED")),
        ("completedAmount", json!(1)),
        ("totalAmount", json!(1)),
        ("status", json!("TRADE_SUCCESS")),
        ("targetSys", json!("WXPay")),
        ("merName", json!("Demo Hospital")),
        ("cardAttr", json!("BALANCE")),
        ("mid", json!("898340149000005")),
        ("tid", json!("12340042")),
    ] {
        assert_eq!(reply[name], value, "{name}");
    }
    assert!(reply["targetOrderId"].as_str().is_some());
    assert!(reply["seqId"].as_str().is_some());
    assert_eq!(reply["seqId"], reply["settleRefId"]);
    assert_eq!(reply["segId"], reply["seqId"], "the example's spelling too");
    assert!(
        reply.get("connectSys").is_none() && reply.get("targetMid").is_none(),
        "no channel reports them: not made up"
    );
}

async fn notifications_to(receiver: &Receiver, n: usize, gw: &TestGateway) -> Vec<Received> {
    for _ in 0..20 {
        if receiver.received().len() >= n {
            break;
        }
        gw.deliver().await;
    }
    receiver.received()
}

#[track_caller]
fn assert_signed(fields: &[(String, String)], client: &ChinaumsClient) {
    assert!(client.verify_notification(fields), "{fields:?}");
    assert_eq!(field(fields, "signType"), Some("SHA256"));
    assert!(
        fields.iter().all(|(_, v)| !v.is_empty()),
        "no empty field: {fields:?}"
    );
    let sign = field(fields, "sign").unwrap();
    assert_eq!(sign, sign.to_uppercase());
}

#[tokio::test]
async fn the_three_kinds_of_code_are_paid_and_notified_to_both_addresses() {
    let bill_receiver = Receiver::start().await;
    let merchant_receiver = Receiver::start().await;
    let configured = merchant_receiver.url.clone();
    let gw = TestGateway::spawn_with(Backend::Sqlite, move |c| {
        if let Some(t) = c.merchants[0].dialects.get_mut("chinaums") {
            t.insert("notify_url".into(), toml::Value::String(configured));
        }
    })
    .await;
    let c = client(&gw);
    bill_receiver.answer_with(&["FAILED", "SUCCESS", "SUCCESS", "SUCCESS"]);
    merchant_receiver.answer_with(&["SUCCESS"]);

    // One-time, SINGLE: the first scanner's try holds the bill; it fails, the next pays.
    let reply = one_time(
        &gw,
        "1001000000000001",
        150,
        json!({"notifyUrl": bill_receiver.url, "walletOption": "SINGLE", "memberId": "M7",
               "counterNo": "T3", "qrCodeId": "Q-ONE"}),
    )
    .await;
    let page = reply["billQRCode"].as_str().unwrap().to_owned();
    let order = bill(&gw, "1001000000000001").await;
    scan(&gw, &order, WECHAT).await;
    let second = gw
        .running
        .operator
        .start_attempt(&order.id, ALIPAY, None)
        .await;
    assert!(
        matches!(second, Err(paymux_core::Error::AnotherTryPaying)),
        "{second:?}"
    );
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000001", "billDate": today(&gw)}),
    )
    .await;
    assert_eq!(reply["billStatus"], "UNPAID");
    assert_eq!(reply["billPayment"]["status"], "WAIT_BUYER_PAY");
    assert_eq!(reply["billPayment"]["merOrderId"], "10010000000000010");
    gw.pay(order.id.as_str(), "fail").await;
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000001", "billDate": today(&gw)}),
    )
    .await;
    assert_eq!(reply["billStatus"], "UNPAID");
    assert!(
        reply.get("billPayment").is_none(),
        "every try failed: the status only"
    );
    scan_and_pay(&gw, &order, UNIONPAY).await;

    let received = notifications_to(&bill_receiver, 1, &gw).await;
    assert_eq!(received.len(), 1);
    let first = form(&received[0]);
    assert_eq!(
        received[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded;charset=UTF-8")
    );
    assert_signed(&first, &c);
    for (name, value) in [
        ("mid", CHINAUMS_MID),
        ("tid", "88880001"),
        ("instMid", "QRPAYDEFAULT"),
        ("billNo", "1001000000000001"),
        ("billStatus", "PAID"),
        ("billDesc", "门诊缴费"),
        ("totalAmount", "150"),
        ("memberId", "M7"),
        ("counterNo", "T3"),
        ("merName", "Demo Hospital"),
        ("billQRCode", page.as_str()),
    ] {
        assert_eq!(field(&first, name), Some(value), "{name}");
    }
    assert_eq!(field(&first, "billDate"), Some(today(&gw).as_str()));
    assert!(field(&first, "createTime").is_some());
    assert!(field(&first, "secureStatus").is_none(), "not escrowed");
    let payment = json_field(&first, "billPayment");
    assert_eq!(
        payment["merOrderId"], "10010000000000011",
        "the second try paid"
    );
    assert_eq!(payment["targetSys"], "ACP");
    assert_eq!(payment["status"], "TRADE_SUCCESS");
    assert_eq!(payment["totalAmount"], json!(150));
    // UnionPay pays from a card: the payer did not choose, so the first, a debit card.
    assert_eq!(
        json_field(&first, "extraBuyerInfo"),
        json!({"cardAttr": "DEBIT_CARD"})
    );
    let notify_id = field(&first, "notifyId").unwrap().to_owned();

    // FAILED: the same notification again on the schedule, with the same notifyId.
    gw.advance(15);
    let received = notifications_to(&bill_receiver, 2, &gw).await;
    assert_eq!(received.len(), 2);
    let again = form(&received[1]);
    assert_eq!(field(&again, "notifyId"), Some(notify_id.as_str()));
    gw.advance(3600);
    gw.deliver().await;
    assert_eq!(bill_receiver.received().len(), 2, "SUCCESS acknowledged it");
    // The merchant's configured address got its own notification, with its own notifyId.
    let to_merchant = form(&merchant_receiver.received()[0]);
    assert_signed(&to_merchant, &c);
    assert_ne!(field(&to_merchant, "notifyId"), Some(notify_id.as_str()));
    assert_eq!(field(&to_merchant, "billNo"), Some("1001000000000001"));
    // The query finds the bill by either try's merOrderId.
    for id in ["10010000000000011", "10010000000000010"] {
        let reply = call(&gw, QUERY, json!({"merOrderId": id})).await;
        assert_code(&reply, "SUCCESS");
        assert_eq!(
            reply["billPayment"]["merOrderId"], "10010000000000011",
            "{id}"
        );
    }
    let reply = call(&gw, QUERY, json!({"merOrderId": "10010000000000012"})).await;
    assert_code(&reply, "NO_ORDER");

    // A fixed code with an amount: each payer gets a bill of it.
    let reply = call(
        &gw,
        GET,
        json!({"totalAmount": 300, "billDesc": "挂号费", "qrCodeId": "Q-FIXED",
        "notifyUrl": bill_receiver.url}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    assert!(
        reply.get("billNo").is_none() && reply.get("billDate").is_none(),
        "no bill of its own"
    );
    // A payer opens its page, sees its amount, and pays with Alipay at the sandbox's
    // cashier.
    let fixed_page = reply["billQRCode"].as_str().unwrap().to_owned();
    let html = browser()
        .get(&fixed_page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("挂号费") && html.contains("¥3.00"), "{html}");
    let made = pay_at_page(&gw, &fixed_page, "wallet=alipay").await;
    assert_eq!(made.amount.get(), 300);
    assert!(made.merchant_order_no.as_str().starts_with("1001"));
    assert_eq!(made.code_id, Some(code(&gw, "Q-FIXED").await.id));
    let received = notifications_to(&bill_receiver, 3, &gw).await;
    let fields = form(&received[2]);
    assert_signed(&fields, &c);
    assert_eq!(
        field(&fields, "billNo"),
        Some(made.merchant_order_no.as_str())
    );
    assert_eq!(field(&fields, "totalAmount"), Some("300"));
    assert_eq!(
        json_field(&fields, "billPayment")["targetSys"],
        "Alipay 2.0"
    );
    assert_eq!(field(&fields, "billQRCode"), reply["billQRCode"].as_str());

    // An open code: the payer enters the amount.
    let reply = call(
        &gw,
        GET,
        json!({"qrCodeId": "Q-OPEN", "notifyUrl": bill_receiver.url}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    // Its page asks the amount; the payer enters ¥2.50 and pays with WeChat Pay.
    let open_page = reply["billQRCode"].as_str().unwrap().to_owned();
    let html = browser()
        .get(&open_page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"amount\""), "{html}");
    let made = pay_at_page(&gw, &open_page, "wallet=wechat&amount=2.50").await;
    assert_eq!(made.amount.get(), 250);
    let received = notifications_to(&bill_receiver, 4, &gw).await;
    let fields = form(&received[3]);
    assert_signed(&fields, &c);
    assert_eq!(field(&fields, "totalAmount"), Some("250"));
    assert_eq!(json_field(&fields, "billPayment")["targetSys"], "WXPay");
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": made.merchant_order_no.as_str(), "billDate": today(&gw)}),
    )
    .await;
    assert_eq!(reply["billStatus"], "PAID");
    assert_eq!(reply["billQRCode"], json!(field(&fields, "billQRCode")));
}

#[tokio::test]
async fn a_one_time_code_expires_after_thirty_minutes_and_a_fixed_one_never() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    one_time(&gw, "1001000000000030", 10, json!({"qrCodeId": "Q-30"})).await;
    call(
        &gw,
        GET,
        json!({"qrCodeId": "Q-FOREVER", "totalAmount": 10}),
    )
    .await;
    let reply = call(&gw, INFO, json!({"qrCodeId": "Q-30"})).await;
    assert_eq!(
        reply["expireTime"].as_str(),
        Some(paymux_core::time::format_beijing_datetime(now(&gw).plus_secs(1800)).as_str())
    );
    let reply = call(&gw, INFO, json!({"qrCodeId": "Q-FOREVER"})).await;
    assert!(reply.get("expireTime").is_none());
    gw.advance(1801);
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000030", "billDate": today(&gw)}),
    )
    .await;
    assert_eq!(reply["billStatus"], "CLOSED");
    let forever = code(&gw, "Q-FOREVER").await;
    assert!(forever.is_usable(now(&gw)));
}

#[tokio::test]
async fn refunds_are_partial_multiple_idempotent_and_never_exceed_the_payment() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let date = today(&gw);
    paid_bill(&gw, "1001000000000100", 100, json!({})).await;
    let refund = |amount: i64, no: Option<&str>| {
        let mut f = json!({"billNo": "1001000000000100", "billDate": date, "refundAmount": amount});
        if let Some(no) = no {
            f["refundOrderId"] = json!(no);
        }
        call(&gw, REFUND, f)
    };
    let first = refund(30, None).await;
    assert_code(&first, "SUCCESS");
    assert_eq!(first["refundAmount"], json!(30));
    let generated = first["refundOrderId"].as_str().unwrap().to_owned();
    let reply = refund(30, None).await;
    assert_refused(&reply, "BAD_REQUEST", "refundOrderId");
    let second = refund(30, Some("R-2")).await;
    assert_code(&second, "SUCCESS");
    // The same refundOrderId again is the same refund, not another.
    let again = refund(30, Some("R-2")).await;
    assert_code(&again, "SUCCESS");
    assert_eq!(again["refundOrderId"], "R-2");
    let reply = refund(31, Some("R-2")).await;
    assert_refused(&reply, "DUP_ORDER", "refundOrderId");
    // 40 is left; 50 would fit only if a refund under way failed: the bill is busy.
    let reply = refund(50, Some("R-3")).await;
    assert_refused(&reply, "ORDER_PROCESSING", "退款");
    gw.advance(3);
    gw.poll_channels().await;
    let reply = refund(50, Some("R-3")).await;
    assert_refused(&reply, "BAD_REQUEST", "refundAmount超过可退金额40分");
    let last = refund(40, Some("R-4")).await;
    assert_code(&last, "SUCCESS");
    gw.advance(3);
    gw.poll_channels().await;
    let order = bill(&gw, "1001000000000100").await;
    assert_eq!(order.status, OrderStatus::Refunded);
    assert_eq!(order.refunded.get(), 100, "30 + 30 + 40, R-2 once");
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000100", "billDate": date, "refundOrderId": generated}),
    )
    .await;
    assert_eq!(reply["refundBillPayment"]["totalAmount"], json!(30));
    assert_eq!(reply["refundBillPayment"]["status"], "TRADE_SUCCESS");
    let reply = refund(1, Some("R-5")).await;
    assert_refused(&reply, "BAD_REQUEST", "refundAmount");
    // By merOrderId in billNo's place (§1.5: 也可填merOrderId).
    paid_bill(&gw, "1001000000000101", 10, json!({})).await;
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "10010000000001010", "billDate": date, "refundAmount": 10}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["billNo"], "1001000000000101");
    // An unpaid bill is not refunded.
    one_time(&gw, "1001000000000102", 10, json!({})).await;
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000102", "billDate": date, "refundAmount": 10}),
    )
    .await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "未支付,不能执行退货");
}

#[tokio::test]
async fn twenty_concurrent_refunds_never_exceed_the_payment_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let date = today(&gw);
        paid_bill(&gw, "1001000000000200", 100, json!({})).await;
        let replies = join_all(
            (0..20)
                .map(|i| {
                    call(
                        &gw,
                        REFUND,
                        json!({"billNo": "1001000000000200", "billDate": date, "refundAmount": 10,
                               "refundOrderId": format!("RC-{i}")}),
                    )
                })
                .collect(),
        )
        .await;
        let accepted: Vec<&Params> = replies.iter().filter(|r| code_of(r) == "SUCCESS").collect();
        assert_eq!(accepted.len(), 10, "{backend:?}: {replies:?}");
        for r in replies.iter().filter(|r| code_of(r) != "SUCCESS") {
            assert_code(r, "ORDER_PROCESSING");
        }
        let order = bill(&gw, "1001000000000200").await;
        assert_eq!(order.refund_reserved.get(), 100, "{backend:?}");

        // One refundOrderId twenty times at once: one refund.
        paid_bill(&gw, "1001000000000201", 100, json!({})).await;
        let replies = join_all(
            (0..20)
                .map(|_| {
                    call(
                        &gw,
                        REFUND,
                        json!({"billNo": "1001000000000201", "billDate": date, "refundAmount": 60,
                               "refundOrderId": "RC-SAME"}),
                    )
                })
                .collect(),
        )
        .await;
        for r in &replies {
            assert_code(r, "SUCCESS");
            assert_eq!(r["refundOrderId"], "RC-SAME");
        }
        let order = bill(&gw, "1001000000000201").await;
        assert_eq!(order.refund_reserved.get(), 60, "{backend:?}");
    }
}

/// Runs the futures at once and waits for all.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

#[tokio::test]
async fn escrow_is_completed_or_canceled_and_refunds_follow_it() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let date = today(&gw);
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    paid_bill(
        &gw,
        "1001000000000300",
        100,
        json!({"secureTransaction": true, "notifyUrl": receiver.url}),
    )
    .await;
    let fields = form(&notifications_to(&receiver, 1, &gw).await[0]);
    assert_eq!(field(&fields, "secureStatus"), Some("UNCOMPLETED"));
    assert!(field(&fields, "completeAmount").is_none());

    let refund = |no: &'static str, amount: i64, id: &'static str| {
        call(
            &gw,
            REFUND,
            json!({"billNo": no, "billDate": date, "refundAmount": amount, "refundOrderId": id}),
        )
    };
    let reply = refund("1001000000000300", 10, "E-1").await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "担保交易未完成");
    let complete = |id: &str, amount: i64| {
        call(
            &gw,
            COMPLETE,
            json!({"merOrderId": id, "completedAmount": amount}),
        )
    };
    let reply = complete("10010000000003000", 101).await;
    assert_refused(&reply, "BAD_REQUEST", "completedAmount");
    let reply = complete("10010000000003000", 60).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["secureStatus"], "PARTLY_COMPLETED");
    assert_eq!(reply["completedAmount"], json!(60));
    let reply = complete("10010000000003000", 60).await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "已完成");
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000300", "billDate": date}),
    )
    .await;
    assert_eq!(reply["secureStatus"], "PARTLY_COMPLETED");
    assert_eq!(reply["completeAmount"], json!(60), "§1.4's own spelling");
    // The 40 not completed went back to the payer; at most the 60 completed is refundable.
    let reply = refund("1001000000000300", 61, "E-2").await;
    assert_refused(&reply, "BAD_REQUEST", "超过可退金额60分");
    let reply = refund("1001000000000300", 60, "E-3").await;
    assert_code(&reply, "SUCCESS");
    gw.advance(3);
    gw.poll_channels().await;
    assert_eq!(
        bill(&gw, "1001000000000300").await.status,
        OrderStatus::Refunded
    );

    // Cancel: everything goes back, and nothing is left to refund.
    paid_bill(
        &gw,
        "1001000000000301",
        100,
        json!({"secureTransaction": "true"}),
    )
    .await;
    let reply = call(&gw, CANCEL, json!({"merOrderId": "10010000000003010"})).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["secureStatus"], "CANCELED");
    let reply = refund("1001000000000301", 1, "E-4").await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "已撤销");
    let reply = call(&gw, CANCEL, json!({"merOrderId": "10010000000003010"})).await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "撤销");
    gw.advance(3);
    gw.poll_channels().await;
    let order = bill(&gw, "1001000000000301").await;
    assert_eq!(order.refunded.get(), 100);
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000301", "billDate": date}),
    )
    .await;
    assert_eq!(reply["billStatus"], "REFUND");
    assert_eq!(reply["secureStatus"], "CANCELED");

    // Not an escrowed payment.
    paid_bill(&gw, "1001000000000302", 100, json!({})).await;
    let reply = call(&gw, CANCEL, json!({"merOrderId": "10010000000003020"})).await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "担保交易");
}

#[tokio::test]
async fn split_bills_are_checked_at_the_edge_and_refunded_share_by_share() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let date = today(&gw);
    let split = json!({"divisionFlag": true, "platformAmount": 10,
        "subOrders": [{"mid": "898340149000101", "totalAmount": 60}, {"mid": "898340149000102", "totalAmount": 30}]});
    let order = paid_bill(&gw, "1001000000000400", 100, split.clone()).await;
    assert_eq!(
        order.extra["split"],
        json!({"platformAmount": 10, "subOrders": [{"mid": "898340149000101", "totalAmount": 60},
               {"mid": "898340149000102", "totalAmount": 30}]})
    );
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 10}),
    )
    .await;
    assert_refused(&reply, "BAD_REQUEST", "一次只能对一个子商户退款");
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 10,
        "subOrders": [{"mid": "898340149000101", "totalAmount": 10}]}),
    )
    .await;
    assert_refused(&reply, "BAD_REQUEST", "platformAmount");
    // The parts must add up to the refund.
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 12,
        "platformAmount": 0, "subOrders": [{"mid": "898340149000101", "totalAmount": 10}]}),
    )
    .await;
    assert_refused(&reply, "BAD_REQUEST", "refundAmount");
    // A sub-merchant that is not in the split.
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 10,
        "platformAmount": 0, "subOrders": [{"mid": "898340149000199", "totalAmount": 10}]}),
    )
    .await;
    assert_refused(&reply, "BAD_REQUEST", "subOrders");
    assert_eq!(bill(&gw, "1001000000000400").await.refund_reserved.get(), 0);
    // Within the first sub-merchant's 60: 2 from the platform and 45 from it.
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 47,
        "refundOrderId": "1001RF400A",
        "platformAmount": 2, "subOrders": [{"mid": "898340149000101", "totalAmount": 45}]}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    // 20 more from it would pass its 60: refused, naming the share and what is left.
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 20,
        "refundOrderId": "1001RF400B",
        "platformAmount": 0, "subOrders": [{"mid": "898340149000101", "totalAmount": 20}]}),
    )
    .await;
    assert_refused(&reply, "BAD_REQUEST", "可退15分");
    // The other sub-merchant's share is its own.
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000400", "billDate": date, "refundAmount": 30,
        "refundOrderId": "1001RF400C",
        "platformAmount": 0, "subOrders": [{"mid": "898340149000102", "totalAmount": 30}]}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(
        bill(&gw, "1001000000000400").await.refund_reserved.get(),
        77
    );

    // goods-based: each sub-merchant's share of what the platform leaves, to the fen.
    let reply = one_time(
        &gw,
        "1001000000000401",
        100,
        json!({"divisionFlag": "true", "platformAmount": 1,
        "goods": [{"goodsId": "1", "subMerchantId": "A", "subOrderAmount": 50},
                  {"goodsId": "2", "subMerchantId": "B", "subOrderAmount": 50}]}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let order = bill(&gw, "1001000000000401").await;
    assert_eq!(
        order.extra["split"]["subOrders"],
        json!([{"mid": "A", "totalAmount": 50}, {"mid": "B", "totalAmount": 49}])
    );

    for (more, says) in [
        (
            json!({"divisionFlag": true, "platformAmount": 10, "subOrders": [{"mid": "X", "totalAmount": 80}]}),
            "须等于totalAmount",
        ),
        (
            json!({"divisionFlag": true, "subOrders": [{"mid": "X", "totalAmount": 100}]}),
            "platformAmount",
        ),
        (
            json!({"divisionFlag": true, "platformAmount": 0}),
            "不能同时为空",
        ),
        (
            json!({"divisionFlag": true, "platformAmount": 0, "secureTransaction": "true",
                "subOrders": [{"mid": "X", "totalAmount": 100}]}),
            "secureTransaction",
        ),
        (
            json!({"divisionFlag": true, "platformAmount": 0, "goods": [{"subMerchantId": "A", "subOrderAmount": 99}]}),
            "goods",
        ),
        (
            json!({"subOrders": [{"mid": "X", "totalAmount": 100}]}),
            "divisionFlag",
        ),
        (
            json!({"divisionFlag": true, "platformAmount": 0,
                "subOrders": (0..21).map(|i| json!({"mid": format!("M{i}"), "totalAmount": 0})).collect::<Vec<_>>()}),
            "20",
        ),
    ] {
        let mut f = json!({"billNo": "1001000000000499", "billDate": date, "totalAmount": 100});
        if let (Some(f), Value::Object(more)) = (f.as_object_mut(), more) {
            f.extend(more);
        }
        let reply = call(&gw, GET, f.clone()).await;
        assert_refused(&reply, "BAD_REQUEST", says);
    }
}

#[tokio::test]
async fn codes_are_updated_and_closed_with_their_bills() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let date = today(&gw);
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS", "SUCCESS"]);
    one_time(
        &gw,
        "1001000000000500",
        10,
        json!({"qrCodeId": "Q-U", "notifyUrl": receiver.url, "memberId": "M1"}),
    )
    .await;
    let reply = call(&gw, UPDATE, json!({"qrCodeId": "Q-U", "billNo": "1001000000000500", "billDate": date, "totalAmount": 20})).await;
    assert_refused(&reply, "DUP_ORDER", "billNo");
    let reply = call(&gw, UPDATE, json!({"qrCodeId": "Q-U", "instMid": "H5DEFAULT", "billNo": "1001000000000501", "billDate": date, "totalAmount": 20})).await;
    assert_refused(&reply, "BAD_REQUEST", "instMid");
    let reply = call(&gw, UPDATE, json!({"qrCodeId": "Q-U", "billNo": "1001000000000501", "billDate": date, "totalAmount": 20})).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(
        bill(&gw, "1001000000000500").await.status,
        OrderStatus::Closed
    );
    let second = bill(&gw, "1001000000000501").await;
    assert_eq!(second.amount.get(), 20);
    assert_eq!(
        second.extra["memberId"], "M1",
        "kept: the update did not name it"
    );
    scan_and_pay(&gw, &second, WECHAT).await;
    let fields = form(&notifications_to(&receiver, 1, &gw).await[0]);
    assert_eq!(
        field(&fields, "billNo"),
        Some("1001000000000501"),
        "the kept notifyUrl"
    );
    // Closing with attachRefund refunds the paid bill in full.
    let reply = call(&gw, CLOSE, json!({"qrCodeId": "Q-U", "attachRefund": true})).await;
    assert_code(&reply, "SUCCESS");
    let refunded = bill(&gw, "1001000000000501").await;
    assert_eq!(refunded.refund_reserved.get(), 20);
    let reply = call(&gw, UPDATE, json!({"qrCodeId": "Q-U", "billNo": "1001000000000502", "billDate": date, "totalAmount": 20})).await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "已关闭");
    let reply = call(&gw, CLOSE, json!({"qrCodeId": "Q-NONE"})).await;
    assert_refused(&reply, "NO_ORDER", "二维码");
    // A fixed code's update may name a new lookup address; closing makes no more bills.
    call(&gw, GET, json!({"qrCodeId": "Q-F", "totalAmount": 5})).await;
    let reply = call(
        &gw,
        UPDATE,
        json!({"qrCodeId": "Q-F", "payInfoQueryAddr": "http://127.0.0.1:1/pay-info"}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let fixed = code(&gw, "Q-F").await;
    assert_eq!(
        fixed.kind,
        paymux_core::code::CodeKind::OpenAmount,
        "§1.2 describes the terms anew: no totalAmount, an open code now"
    );
    assert_eq!(
        fixed.extra["payInfoQueryAddr"],
        "http://127.0.0.1:1/pay-info"
    );
    call(&gw, CLOSE, json!({"qrCodeId": "Q-F"})).await;
    let made = gw
        .running
        .operator
        .bill_from_code(&fixed.id, Default::default())
        .await;
    assert!(
        matches!(made, Err(paymux_core::Error::CodeNotUsable)),
        "{made:?}"
    );
}

/// A merchant's §1.9 lookup: checks paymux's signature and header, answers as scripted.
#[derive(Clone, Default)]
struct PayInfoServer {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answer: Arc<Mutex<Option<Map<String, Value>>>>,
    sign_with: Arc<Mutex<Option<SignType>>>,
}

impl PayInfoServer {
    async fn start(self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/pay-info", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(
                |axum::extract::State(s): axum::extract::State<PayInfoServer>,
                 headers: HeaderMap,
                 body: String| async move {
                    s.seen.lock().unwrap().push((headers, body.clone()));
                    let request = codec::decode(body.as_bytes()).unwrap_or_default();
                    let mut answer = s.answer.lock().unwrap().clone().unwrap_or_default();
                    if let Some(id) = request.get("msgId") {
                        answer.entry("msgId").or_insert(id.clone());
                    }
                    let sign_type = *s.sign_with.lock().unwrap();
                    if let Some(t) = sign_type {
                        if t == SignType::Sha256 {
                            answer.insert("signType".into(), json!("SHA256"));
                        }
                        let sign =
                            codec::sign(&codec::string_to_sign(&answer), CHINAUMS_SIGN_KEY, t);
                        answer.insert("sign".into(), json!(sign));
                    }
                    Value::Object(answer).to_string()
                },
            )
            .with_state(self);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }
}

/// The dialect's payer hooks, mounted on the running gateway's core.
fn payer_hooks(gw: &TestGateway) -> Arc<dyn PayerHooks> {
    let config = Config::parse(&config_text("sqlite://unused.db"), "test").expect("config");
    let mounted = paymux_dialects::chinaums::Chinaums
        .mount(
            &config.tables_of("chinaums"),
            &Mount {
                gateway: gw.running.operator.gateway(),
                public_url: gw.url.clone().into(),
                links: PayerLinks::new(b"test links"),
                max_clock_skew_s: 300,
                platform: PlatformKeys::default(),
                sandbox: true,
            },
        )
        .expect("mounted");
    mounted.payer.expect("chinaums has payer hooks")
}

#[tokio::test]
async fn a_fixed_code_asks_the_merchants_system_what_to_bill() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let server = PayInfoServer::default();
    let url = server.clone().start().await;
    *server.sign_with.lock().unwrap() = Some(SignType::Md5);
    *server.answer.lock().unwrap() = Some(
        json!({"errCode": "SUCCESS", "errMsg": "ok", "responseTimeStamp": "2024-01-01 00:00:00",
               "totalAmount": 888, "billDesc": "3号桌", "memberId": "VIP9", "counterNo": "T3"})
        .as_object()
        .cloned()
        .unwrap(),
    );
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    call(
        &gw,
        GET,
        json!({"qrCodeId": "Q-LOOKUP", "payInfoQueryAddr": url, "systemId": "S1",
        "notifyUrl": receiver.url, "counterNo": "C0"}),
    )
    .await;
    let code = code(&gw, "Q-LOOKUP").await;
    let hooks = payer_hooks(&gw);
    let choices = hooks
        .bills_for_code(&code, &BTreeMap::new())
        .await
        .expect("the merchant answered")
        .expect("it says what to bill");
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0].label, "3号桌");
    assert_eq!(choices[0].bill.amount.map(|a| a.get()), Some(888));

    // What paymux sent: the table's fields, SHA256-signed, under the app's header.
    let (headers, body) = server.seen.lock().unwrap()[0].clone();
    let request = codec::decode(body.as_bytes()).expect("JSON");
    assert_eq!(request["signType"], "SHA256");
    let expected = codec::sign(
        &codec::string_to_sign(&request),
        CHINAUMS_SIGN_KEY,
        SignType::Sha256,
    );
    assert_eq!(request["sign"].as_str(), Some(expected.as_str()));
    for (name, value) in [
        ("mid", CHINAUMS_MID),
        ("tid", "88880001"),
        ("qrCodeId", "Q-LOOKUP"),
        ("msgSrc", "WWW.TEST.COM"),
        ("systemId", "S1"),
        ("counterNo", "C0"),
    ] {
        assert_eq!(request[name], value, "{name}");
    }
    assert!(
        request.get("memberId").is_none(),
        "none to send: left out, not empty"
    );
    let auth = codec::parse_authorization(headers["authorization"].to_str().unwrap()).unwrap();
    assert_eq!(auth.app_id, CHINAUMS_APP_ID);
    assert!(codec::verify_authorization(
        &auth,
        CHINAUMS_APP_KEY,
        body.as_bytes()
    ));

    // The payer pays the bill it made; the notification carries the merchant's fields.
    let made = gw
        .running
        .operator
        .bill_from_code(&code.id, choices[0].bill.clone())
        .await
        .expect("a bill");
    assert_eq!(made.amount.get(), 888);
    scan_and_pay(&gw, &made, WECHAT).await;
    let fields = form(&notifications_to(&receiver, 1, &gw).await[0]);
    assert_eq!(field(&fields, "memberId"), Some("VIP9"));
    assert_eq!(field(&fields, "counterNo"), Some("T3"));
    assert_eq!(field(&fields, "billDesc"), Some("3号桌"));
    assert_eq!(field(&fields, "totalAmount"), Some("888"));

    // SHA256 answers verify by their signType; unsigned, wrongly signed or refusing ones
    // are errors the payer sees.
    *server.sign_with.lock().unwrap() = Some(SignType::Sha256);
    assert!(hooks.bills_for_code(&code, &BTreeMap::new()).await.is_ok());
    *server.sign_with.lock().unwrap() = None;
    let err = hooks
        .bills_for_code(&code, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(err.contains("signed"), "{err}");
    *server.sign_with.lock().unwrap() = Some(SignType::Md5);
    server
        .answer
        .lock()
        .unwrap()
        .as_mut()
        .unwrap()
        .insert("errCode".into(), json!("FAIL"));
    let err = hooks
        .bills_for_code(&code, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(err.contains("FAIL"), "{err}");

    // Without an address of its own, the merchant's configured one; without either, none.
    call(&gw, GET, json!({"qrCodeId": "Q-PLAIN"})).await;
    let plain = code_of_ref(&gw, "Q-PLAIN").await;
    assert!(
        hooks
            .bills_for_code(&plain, &BTreeMap::new())
            .await
            .unwrap()
            .is_none()
    );
}

/// [`code`], for the test whose `code` variable shadows it.
async fn code_of_ref(gw: &TestGateway, id: &str) -> PaymentCode {
    code(gw, id).await
}

#[tokio::test]
async fn the_return_link_carries_the_signed_result_only_when_there_is_a_return_url() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let order = paid_bill(
        &gw,
        "1001000000000600",
        12,
        json!({"returnUrl": "https://shop.example/back?from=ums"}),
    )
    .await;
    let tries: Vec<Attempt> = gw
        .running
        .operator
        .attempts_of_order(&order.id)
        .await
        .unwrap();
    let paid = tries
        .iter()
        .find(|a| a.status == AttemptStatus::Succeeded)
        .unwrap();
    let hooks = payer_hooks(&gw);
    let link = hooks.return_link(&order, Some(paid)).expect("a link");
    let (base, query) = link
        .split_once("?from=ums&")
        .expect("appended to the query");
    assert_eq!(base, "https://shop.example/back");
    let fields = paymux_dialects::common::decode_form(query, true);
    assert!(client(&gw).verify_notification(&fields), "{link}");
    assert_eq!(field(&fields, "billStatus"), Some("PAID"));
    assert_eq!(field(&fields, "billNo"), Some("1001000000000600"));
    assert!(
        field(&fields, "notifyId").is_none(),
        "a notification's field"
    );
    assert_eq!(
        json_field(&fields, "billPayment")["merOrderId"],
        "10010000000006000"
    );

    let plain = paid_bill(&gw, "1001000000000601", 12, json!({})).await;
    assert!(
        hooks.return_link(&plain, Some(paid)).is_none(),
        "no returnUrl, no button"
    );
}

#[tokio::test]
async fn amounts_arrive_as_numbers_or_text_and_timestamps_in_either_form() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let compact = paymux_core::time::format_beijing_compact(now(&gw));
    let reply = call(
        &gw,
        GET,
        json!({"billNo": "1001000000000700", "billDate": today(&gw), "totalAmount": "7",
        "requestTimestamp": compact}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let reply = call(
        &gw,
        GET,
        json!({"billNo": "1001000000000701", "billDate": today(&gw), "totalAmount": 7}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let raw = client(&gw)
        .send(
            QUERY,
            json!({"requestTimestamp": timestamp(&gw), "mid": CHINAUMS_MID, "tid": "88880001",
            "instMid": "QRPAYDEFAULT", "billNo": "1001000000000700", "billDate": today(&gw)})
            .to_string()
            .as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(raw["totalAmount"], json!(7));
    let reply: Reply = read_params(&raw).unwrap();
    assert_eq!(reply.total_amount, Some(7));
    // The client sends amounts as numbers, and reads what it sent.
    let c = client(&gw);
    let reply = c
        .get_qrcode(&QrCodeRequest {
            bill_no: Some("1001000000000702".into()),
            bill_date: Some(today(&gw)),
            total_amount: Some("9".into()),
            ..QrCodeRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.err_code.as_deref(), Some("SUCCESS"));
    let reply = c
        .query(&QueryRequest {
            bill_no: Some("1001000000000702".into()),
            bill_date: Some(today(&gw)),
            ..QueryRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.total_amount, Some(9));
    for bad in [
        json!("1.5"),
        json!(0),
        json!(-1),
        json!(100000001),
        json!("x"),
    ] {
        let reply = call(
            &gw,
            GET,
            json!({"billNo": "1001000000000703", "billDate": today(&gw), "totalAmount": bad}),
        )
        .await;
        assert_refused(&reply, "BAD_REQUEST", "totalAmount");
    }
    let reply = c
        .refund(&RefundRequest {
            bill_no: Some("1001000000000702".into()),
            bill_date: Some(today(&gw)),
            refund_amount: Some("1".into()),
            ..RefundRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.err_code.as_deref(), Some("OPERATION_NOT_ALLOWED"));
    let reply = c
        .secure_complete(&SecureRequest {
            mer_order_id: Some("1001000000000702".into()),
            completed_amount: Some("1".into()),
            ..SecureRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.err_code.as_deref(), Some("OPERATION_NOT_ALLOWED"));
}

#[tokio::test]
async fn each_error_code_is_returned_where_the_spec_means_it() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        crate::helpers::add_other_merchant(c);
        let other = Config::parse(
            &format!(
                r#"
[[merchant]]
id = "frozen"
name = "Frozen Shop"

[merchant.chinaums]
mid = "898340149000999"
tid = "88880001"
msg_src_id = "1001"
msg_src = "WWW.TEST.COM"
app_id = "{CHINAUMS_APP_ID}"
app_key = "{CHINAUMS_APP_KEY}"
sign_key = "frozen-sign-key"
active = false
"#
            ),
            "frozen",
        )
        .expect("frozen merchant");
        c.merchants.extend(other.merchants);
    })
    .await;
    let date = today(&gw);
    let bill_of = |more: Value| {
        let mut f = json!({"billNo": "1001000000000800", "billDate": date, "totalAmount": 10});
        if let (Some(f), Value::Object(more)) = (f.as_object_mut(), more) {
            f.extend(more);
        }
        f
    };

    let reply = call(&gw, GET, bill_of(json!({"mid": "898340149000777"}))).await;
    assert_refused(&reply, "NO_MERCHANT", "898340149000777");
    let reply = call(&gw, GET, bill_of(json!({"mid": "898340149000999"}))).await;
    assert_code(&reply, "INACTIVE_MERCHANT");
    let reply = call(&gw, GET, bill_of(json!({"msgSrc": "WWW.OTHER.COM"}))).await;
    assert_refused(&reply, "INVALID_MSGSRC", "msgSrc");
    let reply = call(
        &gw,
        GET,
        bill_of(json!({"msgSrc": "WWW.TEST.COM", "msgType": "bills.getQRCode"})),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let reply = call(&gw, GET, bill_of(json!({"msgType": "bills.query"}))).await;
    assert_refused(&reply, "NO_SERVICE", "msgType");
    let reply = call(&gw, "/v1/netpay/bills/get-grcode", bill_of(json!({}))).await;
    assert_refused(&reply, "NO_SERVICE", "get-grcode");
    let reply = call(&gw, GET, bill_of(json!({"tid": "99999999"}))).await;
    assert_refused(&reply, "INVLID_MERCHANT_CONFIG", "99999999");
    let reply = call(&gw, GET, bill_of(json!({}))).await;
    assert_refused(&reply, "DUP_ORDER", "billNo");
    let reply = call(
        &gw,
        GET,
        bill_of(json!({"billNo": "1001000000000801", "qrCodeId": "Q-E"})),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let reply = call(
        &gw,
        GET,
        bill_of(json!({"billNo": "1001000000000802", "qrCodeId": "Q-E"})),
    )
    .await;
    assert_refused(&reply, "DUP_ORDER", "qrCodeId");
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000899", "billDate": date}),
    )
    .await;
    assert_refused(&reply, "NO_ORDER", "1001000000000899");
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000800", "billDate": "2001-01-01"}),
    )
    .await;
    assert_refused(&reply, "NO_ORDER", "billDate");

    for (more, says) in [
        (
            json!({"billNo": "9999000000000800"}),
            "billNo须以来源编号1001开头",
        ),
        (json!({"billNo": "10010"}), "billNo"),
        (json!({"billNo": "1001000000000000000000000000X"}), "billNo"),
        (json!({"billDate": "2024/01/01"}), "billDate格式"),
        (json!({"billDate": null}), "缺少billDate"),
        (json!({"totalAmount": null}), "缺少totalAmount"),
        (json!({"walletOption": "ONE"}), "walletOption"),
        (json!({"expireTime": "2001-01-01 00:00:00"}), "expireTime"),
        (json!({"notifyUrl": "ftp://x"}), "notifyUrl"),
        (json!({"returnUrl": "javascript:alert(1)"}), "returnUrl"),
        (json!({"fixBuyer": "T", "name": "5byg5LiJ"}), "certNo"),
        (json!({"name": "5byg5LiJ"}), "fixBuyer"),
        (
            json!({"fixBuyer": "T", "name": "not base64!", "certNo": "MTIz"}),
            "name须为Base64",
        ),
        (
            json!({"fixBuyer": "T", "name": "5byg5LiJ", "certNo": "MTIz", "certType": "SUxFR0FM"}),
            "certType",
        ),
        (
            json!({"goods": (0..21).map(|i| json!({"goodsId": i.to_string()})).collect::<Vec<_>>()}),
            "goods元素不能超过20个",
        ),
        (json!({"goods": {"goodsId": "1"}}), "goods须为JSON数组"),
        (json!({"billDesc": {"a": 1}}), "billDesc须为字符串或数值"),
        (json!({"instMid": null}), "缺少instMid"),
        (json!({"requestTimestamp": "yesterday"}), "requestTimestamp"),
        (json!({"msgId": "x".repeat(65)}), "msgId长度不能超过64"),
    ] {
        let reply = call(&gw, GET, bill_of(more.clone())).await;
        assert_refused(&reply, "BAD_REQUEST", says);
    }
    // Real-name fields that pass: fixBuyer=T, name and certNo in base64, a plain certType.
    let reply = call(
        &gw,
        GET,
        bill_of(json!({"billNo": "1001000000000803", "fixBuyer": "T",
        "name": "5byg5LiJ", "certNo": "MTEwMTAxMTk5MDAxMDEwMDEx", "certType": "IDENTITY_CARD"})),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let reply = post(&gw, GET, "not json").await;
    assert_refused(&reply, "BAD_REQUEST", "JSON");
    let reply = call(&gw, GET, bill_of(json!({"mid": null}))).await;
    assert_refused(&reply, "BAD_REQUEST", "缺少mid");
    // Another method than POST, an unknown path.
    let reply = gw
        .http
        .get(format!("{}{GET}", gw.url))
        .send()
        .await
        .unwrap();
    let body: Params = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    assert_refused(&body, "BAD_REQUEST", "POST");
    // A refund while another try holds a SINGLE bill is not the merchant's to make: the
    // bill is unpaid.
    one_time(
        &gw,
        "1001000000000804",
        10,
        json!({"walletOption": "SINGLE"}),
    )
    .await;
    let order = bill(&gw, "1001000000000804").await;
    scan(&gw, &order, WECHAT).await;
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000804", "billDate": date, "refundAmount": 1}),
    )
    .await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "支付中");
}

#[tokio::test]
async fn a_payer_pays_through_the_bill_qr_code_and_returns_to_the_merchant_signed() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    let reply = one_time(
        &gw,
        "1001000000000900",
        250,
        json!({"notifyUrl": receiver.url, "returnUrl": "https://shop.example/back",
               "billDesc": "挂号费"}),
    )
    .await;
    // billQRCode is the code's page, as a phone opens it from the QR image.
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();
    let page = browser().get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("挂号费") && html.contains("¥2.50"), "{html}");

    // The payer chooses Alipay: a try, and the channel's page.
    let went = post_page(&format!("{page_url}/pay"), "wallet=alipay").await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        browser()
            .get(&cashier)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("支付宝")
    );
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );

    // Paid: the notification says Alipay paid it, through merOrderId = billNo + 0.
    let received = notifications_to(&receiver, 1, &gw).await;
    let fields = form(&received[0]);
    assert_signed(&fields, &client(&gw));
    assert_eq!(field(&fields, "billStatus"), Some("PAID"));
    let payment = json_field(&fields, "billPayment");
    assert_eq!(payment["targetSys"], "Alipay 2.0");
    assert_eq!(payment["merOrderId"], "10010000000009000");
    assert_eq!(payment["status"], "TRADE_SUCCESS");

    // The way back carries the signed result (§1.10), on the cashier and on the code's page.
    let html = browser()
        .get(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let back = html
        .split("<a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link back")
        .replace("&amp;", "&");
    assert!(back.starts_with("https://shop.example/back?"), "{back}");
    let query = back.split_once('?').unwrap().1;
    let returned = paymux_dialects::common::decode_form(query, true);
    assert!(client(&gw).verify_notification(&returned), "{returned:?}");
    assert_eq!(field(&returned, "billNo"), Some("1001000000000900"));
    let html = browser()
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("支付成功") && html.contains("shop.example/back?"),
        "{html}"
    );
}

#[tokio::test]
async fn a_fixed_codes_page_bills_what_the_merchants_system_says() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let server = PayInfoServer::default();
    let lookup = server.clone().start().await;
    *server.sign_with.lock().unwrap() = Some(SignType::Sha256);
    *server.answer.lock().unwrap() = Some(
        json!({"errCode": "SUCCESS", "errMsg": "ok", "responseTimeStamp": "2024-01-01 00:00:00",
               "totalAmount": 1888, "billDesc": "5号桌", "memberId": "VIP5", "counterNo": "T5"})
        .as_object()
        .cloned()
        .unwrap(),
    );
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    let reply = call(
        &gw,
        GET,
        json!({"qrCodeId": "Q-TABLE5", "payInfoQueryAddr": lookup, "systemId": "S1",
               "notifyUrl": receiver.url}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();
    let html = browser()
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("5号桌") && html.contains("¥18.88"), "{html}");
    // The pay form names the bill the merchant's system described.
    let choice = html
        .split("name=\"choice\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the bill's choice")
        .replace("&amp;", "&");
    let pay_form =
        paymux_dialects::common::encode_form(&[("choice", &choice), ("wallet", "wechat")]);
    let went = post_page(&format!("{page_url}/pay"), &pay_form).await;
    assert_eq!(went.status(), 303, "{:?}", went.text().await);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );
    let received = notifications_to(&receiver, 1, &gw).await;
    let fields = form(&received[0]);
    assert_eq!(field(&fields, "totalAmount"), Some("1888"));
    assert_eq!(field(&fields, "memberId"), Some("VIP5"));
    assert_eq!(json_field(&fields, "billPayment")["targetSys"], "WXPay");
    // The merchant's system was asked on opening the page and again on paying.
    assert_eq!(server.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_bill_that_limits_credit_cards_refuses_one_before_paying_and_card_attr_says_what_paid() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    let reply = one_time(
        &gw,
        "1001000000000950",
        300,
        json!({"notifyUrl": receiver.url, "limitCreditCard": "true"}),
    )
    .await;
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();
    let went = post_page(&format!("{page_url}/pay"), "wallet=wechat").await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();

    // The cashier offers the balance and a debit card; the credit card is shown, not taken.
    let html = browser()
        .get(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"value="balance" checked>余额"#)
            && html.contains(r#"value="debit_card">借记卡"#)
            && html.contains(r#"value="credit_card" disabled>信用卡(本单不支持)"#),
        "{html}"
    );

    // Paying by credit card anyway is refused before paying: the same page says why, and
    // nothing moved (the try is still open, nothing is notified).
    let refused = post_page(
        &format!("{cashier}/pay"),
        "funding=credit_card&result=success",
    )
    .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(html.contains("本次支付不支持信用卡"), "{html}");
    assert!(
        html.contains("确认支付"),
        "the payer can choose again: {html}"
    );
    let order = bill(&gw, "1001000000000950").await;
    let scripted = gw.pay_from(order.id.as_str(), "credit_card").await;
    assert_eq!(scripted.status(), 409);
    let order = bill(&gw, "1001000000000950").await;
    assert_eq!(order.status, OrderStatus::Paying);
    let tries = gw
        .running
        .operator
        .attempts_of_order(&order.id)
        .await
        .unwrap();
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].status, AttemptStatus::Paying);
    assert_eq!(gw.deliver().await.delivered, 0);
    let query = json!({"billNo": "1001000000000950", "billDate": today(&gw)});
    let unpaid = call(&gw, QUERY, query.clone()).await;
    assert_eq!(unpaid["billStatus"], "UNPAID");
    assert!(unpaid.get("cardAttr").is_none(), "{unpaid:?}");

    // A debit card pays, and the query and the notification say so.
    let paid = post_page(
        &format!("{cashier}/pay"),
        "funding=debit_card&result=success",
    )
    .await;
    assert_eq!(paid.status(), 303);
    let reply = call(&gw, QUERY, query).await;
    assert_eq!(reply["billStatus"], "PAID");
    assert_eq!(reply["cardAttr"], "DEBIT_CARD");
    let received = notifications_to(&receiver, 1, &gw).await;
    let fields = form(&received[0]);
    assert_signed(&fields, &client(&gw));
    assert_eq!(
        json_field(&fields, "extraBuyerInfo"),
        json!({"cardAttr": "DEBIT_CARD"})
    );

    // Without the limit a credit card pays; the refund reply names it too.
    one_time(&gw, "1001000000000951", 200, json!({})).await;
    let order = bill(&gw, "1001000000000951").await;
    scan(&gw, &order, ALIPAY).await;
    assert_eq!(
        gw.pay_from(order.id.as_str(), "credit_card").await.status(),
        200
    );
    let date = today(&gw);
    let reply = call(
        &gw,
        QUERY,
        json!({"billNo": "1001000000000951", "billDate": date}),
    )
    .await;
    assert_eq!(reply["cardAttr"], "CREDIT_CARD");
    let refund = call(
        &gw,
        REFUND,
        json!({"billNo": "1001000000000951", "billDate": date, "refundAmount": 200}),
    )
    .await;
    assert_code(&refund, "SUCCESS");
    assert_eq!(refund["cardAttr"], "CREDIT_CARD");

    // UnionPay pays from cards only: a balance is not what it can pay from.
    one_time(&gw, "1001000000000952", 100, json!({})).await;
    let order = bill(&gw, "1001000000000952").await;
    scan(&gw, &order, UNIONPAY).await;
    assert_eq!(
        gw.pay_from(order.id.as_str(), "balance").await.status(),
        409
    );
    assert_eq!(
        bill(&gw, "1001000000000952").await.status,
        OrderStatus::Paying
    );
}

/// A real-name bill's payer: 张三丰, ID card 11010119900307002X (base64 as §1.1 sends them).
const BUYER_NAME: &str = "张三丰";
const BUYER_CERT_NO: &str = "11010119900307002X";

fn real_name_fields() -> Value {
    json!({"fixBuyer": "T", "name": "5byg5LiJ5Liw", "certType": "IDENTITY_CARD",
           "certNo": "MTEwMTAxMTk5MDAzMDcwMDJY", "mobile": "MTM4MDAxMzgwMDA="})
}

#[track_caller]
fn assert_names_no_one(html: &str) {
    for personal in [
        BUYER_NAME,
        BUYER_CERT_NO,
        "5byg5LiJ5Liw",
        "MTEwMTAxMTk5MDAzMDcwMDJY",
        "13800138000",
    ] {
        assert!(!html.contains(personal), "{personal} on the page: {html}");
    }
}

#[tokio::test]
async fn only_the_person_a_real_name_bill_names_can_pay_it() {
    let gw = TestGateway::spawn(Backend::Postgres).await;
    let db = sqlx::PgPool::connect(&gw.database)
        .await
        .expect("test database");
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    let mut more = real_name_fields();
    more["notifyUrl"] = json!(receiver.url);
    let reply = one_time(&gw, "1001000000000960", 500, more).await;
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();

    // The page asks who pays, showing the bill's person masked only.
    let html = browser()
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("name=\"payerName\"") && html.contains("name=\"payerCertNo\""),
        "{html}"
    );
    assert!(
        html.contains("张*丰") && html.contains("1101**********002X") && html.contains("身份证号"),
        "{html}"
    );
    assert_names_no_one(&html);

    // Someone else, or the right name with another number, or nobody: refused before any
    // try, with what they typed not shown back.
    let order = bill(&gw, "1001000000000960").await;
    for answers in [
        "payerName=%E6%9D%8E%E5%9B%9B&payerCertNo=11010119900307002X",
        "payerName=%E5%BC%A0%E4%B8%89%E4%B8%B0&payerCertNo=110101199003070021",
        "",
    ] {
        let refused = post_page(
            &format!("{page_url}/pay"),
            &format!("wallet=wechat&{answers}"),
        )
        .await;
        assert_eq!(refused.status(), 403, "{answers}");
        let html = refused.text().await.unwrap();
        assert!(html.contains("仅限本人支付"), "{html}");
        assert!(
            !html.contains("110101199003070021") && !html.contains("李四"),
            "{html}"
        );
        assert_names_no_one(&html);
    }
    let unchanged = bill(&gw, "1001000000000960").await;
    assert_eq!(unchanged.status, order.status);
    assert!(
        gw.running
            .operator
            .attempts_of_order(&order.id)
            .await
            .unwrap()
            .is_empty(),
        "no try was started"
    );

    // The named person (the number's x in lower case, as people type it) pays as usual.
    let went = post_page(
        &format!("{page_url}/pay"),
        "wallet=alipay&payerName=+%E5%BC%A0%E4%B8%89%E4%B8%B0+&payerCertNo=11010119900307002x",
    )
    .await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );
    let received = notifications_to(&receiver, 1, &gw).await;
    let fields = form(&received[0]);
    assert_eq!(field(&fields, "billStatus"), Some("PAID"));
    assert_eq!(
        json_field(&fields, "billPayment")["targetSys"],
        "Alipay 2.0"
    );

    // A fixed real-name code makes no bill for someone else; it bills the named person.
    let reply = call(
        &gw,
        GET,
        json!({"qrCodeId": "Q-REAL", "totalAmount": 300, "fixBuyer": "T",
               "name": "5byg5LiJ5Liw", "certNo": "MTEwMTAxMTk5MDAzMDcwMDJY"}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let fixed_url = reply["billQRCode"].as_str().unwrap().to_owned();
    let fixed = code(&gw, "Q-REAL").await;
    let html = browser()
        .get(&fixed_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("证件号码") && html.contains("张*丰"),
        "{html}"
    );
    assert_names_no_one(&html);
    let bills_of_code = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders WHERE code_id = $1")
            .bind(fixed.id.as_str())
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let refused = post_page(
        &format!("{fixed_url}/pay"),
        "wallet=wechat&payerName=%E6%9D%8E%E5%9B%9B&payerCertNo=11010119900307002X",
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(bills_of_code().await, 0, "no bill for someone else");
    let went = post_page(
        &format!("{fixed_url}/pay"),
        "wallet=wechat&payerName=%E5%BC%A0%E4%B8%89%E4%B8%B0&payerCertNo=11010119900307002X",
    )
    .await;
    assert_eq!(went.status(), 303);
    assert_eq!(bills_of_code().await, 1);
}

// The server is the real binary with its real logging, at debug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_of_a_real_name_bill_logs_no_name_or_certificate_number() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("paymux.toml");
    std::fs::write(
        &config_path,
        config_text(&format!("sqlite://{}/paymux.db", dir.path().display())),
    )
    .unwrap();
    let log_path = dir.path().join("paymux.log");
    let (_server, url) =
        serve_logging_to(&["--config".as_ref(), config_path.as_ref()], &log_path).await;

    let merchant = ChinaumsClient::new(&url, &credentials()).expect("client");
    let now = paymux_core::clock::SystemClock.now();
    let mut request = real_name_fields();
    for (k, v) in [
        (
            "requestTimestamp",
            json!(paymux_core::time::format_beijing_datetime(now)),
        ),
        ("mid", json!(CHINAUMS_MID)),
        ("tid", json!("88880001")),
        ("instMid", json!("QRPAYDEFAULT")),
        ("billNo", json!("1001000000000970")),
        (
            "billDate",
            json!(
                paymux_core::time::beijing(now)
                    .format("%Y-%m-%d")
                    .to_string()
            ),
        ),
        ("totalAmount", json!(100)),
    ] {
        request[k] = v;
    }
    let reply = merchant
        .send(GET, request.to_string().as_bytes())
        .await
        .expect("a reply");
    assert_code(&reply, "SUCCESS");
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();

    // Someone else is refused; the named person pays.
    let refused = post_page(
        &format!("{page_url}/pay"),
        "wallet=wechat&payerName=%E6%9D%8E%E5%9B%9B&payerCertNo=110101199003079999",
    )
    .await;
    assert_eq!(refused.status(), 403);
    let went = post_page(
        &format!("{page_url}/pay"),
        "wallet=wechat&payerName=%E5%BC%A0%E4%B8%89%E4%B8%B0&payerCertNo=11010119900307002X",
    )
    .await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );
    let query = json!({"requestTimestamp": paymux_core::time::format_beijing_datetime(now),
        "mid": CHINAUMS_MID, "tid": "88880001", "instMid": "QRPAYDEFAULT",
        "billNo": "1001000000000970", "billDate": request["billDate"]});
    let reply = merchant
        .send(QUERY, query.to_string().as_bytes())
        .await
        .expect("a reply");
    assert_eq!(reply["billStatus"], "PAID");

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("/pay"),
        "the pages' requests are logged: {log}"
    );
    for personal in [
        BUYER_NAME,
        BUYER_CERT_NO,
        "5byg5LiJ5Liw",
        "MTEwMTAxMTk5MDAzMDcwMDJY",
        "MTM4MDAxMzgwMDA=",
        "110101199003079999",
        "%E5%BC%A0",
    ] {
        assert!(!log.contains(personal), "{personal} in the log:\n{log}");
    }
}

// Splits of fixed codes, close-qrcode's refund, refund replays and numbers, MD5
// notifications, the busy reply over HTTP, and the client as a process.

#[tokio::test]
async fn a_fixed_codes_split_goes_to_each_bill_and_its_refunds_keep_to_the_shares() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let date = today(&gw);
    let split = json!({"divisionFlag": true, "platformAmount": 10,
        "subOrders": [{"mid": "898340149000101", "totalAmount": 60},
                      {"mid": "898340149000102", "totalAmount": 30}]});
    let mut fields = json!({"qrCodeId": "Q-SPLIT", "totalAmount": 100, "billDesc": "套餐"});
    if let (Some(f), Value::Object(more)) = (fields.as_object_mut(), split.clone()) {
        f.extend(more);
    }
    let reply = call(&gw, GET, fields).await;
    assert_code(&reply, "SUCCESS");
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();

    // Two payers, two bills, each split as the code says.
    let first = pay_at_page(&gw, &page_url, "wallet=wechat").await;
    let second = pay_at_page(&gw, &page_url, "wallet=alipay").await;
    for bill in [&first, &second] {
        let splits = bill.splits.as_ref().expect("the code's split");
        assert_eq!(splits.platform.get(), 10);
        assert_eq!(splits.share("898340149000101").map(|f| f.get()), Some(60));
        assert_eq!(splits.share("898340149000102").map(|f| f.get()), Some(30));
        assert_eq!(
            bill.extra["split"]["subOrders"][0]["mid"],
            "898340149000101"
        );
    }
    let refund = |bill: &Order, id: &str, platform: i64, mid: &str, amount: i64| {
        call(
            &gw,
            REFUND,
            json!({"billNo": bill.merchant_order_no.as_str(), "billDate": date,
                   "refundOrderId": id, "refundAmount": platform + amount,
                   "platformAmount": platform,
                   "subOrders": [{"mid": mid, "totalAmount": amount}]}),
        )
    };
    let reply = call(
        &gw,
        REFUND,
        json!({"billNo": first.merchant_order_no.as_str(), "billDate": date,
               "refundAmount": 10}),
    )
    .await;
    assert_refused(&reply, "BAD_REQUEST", "一次只能对一个子商户退款");
    let reply = refund(&first, "1001SPA1", 2, "898340149000101", 50).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["refundAmount"], json!(52));
    let reply = refund(&first, "1001SPA2", 0, "898340149000101", 11).await;
    assert_refused(&reply, "BAD_REQUEST", "可退10分");
    let reply = refund(&first, "1001SPA3", 8, "898340149000102", 30).await;
    assert_code(&reply, "SUCCESS");
    // The second bill's shares are its own.
    let reply = refund(&second, "1001SPB1", 10, "898340149000101", 60).await;
    assert_code(&reply, "SUCCESS");

    // A refundOrderId used again is the same refund only if it names the same shares.
    let reply = refund(&first, "1001SPA3", 8, "898340149000102", 30).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(reply["refundOrderId"], "1001SPA3");
    let reply = refund(&first, "1001SPA1", 2, "898340149000102", 50).await;
    assert_refused(&reply, "DUP_ORDER", "refundOrderId");
    let reply = refund(&first, "1001SPA1", 0, "898340149000101", 52).await;
    assert_refused(&reply, "DUP_ORDER", "refundOrderId");
    gw.advance(3);
    gw.poll_channels().await;
    let first = bill(&gw, first.merchant_order_no.as_str()).await;
    assert_eq!(first.refunded.get(), 52 + 38, "each refund once");

    // An open code has no amount for shares to add up to.
    let reply = call(&gw, GET, {
        let mut f = json!({"qrCodeId": "Q-SPLIT-OPEN"});
        if let (Some(f), Value::Object(more)) = (f.as_object_mut(), split) {
            f.extend(more);
        }
        f
    })
    .await;
    assert_refused(&reply, "BAD_REQUEST", "divisionFlag");
}

#[tokio::test]
async fn closing_with_attach_refund_refunds_before_it_closes_and_a_retry_refunds_what_is_left() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let close = |qr: &'static str, attach: bool| {
        call(&gw, CLOSE, json!({"qrCodeId": qr, "attachRefund": attach}))
    };
    // An escrow not completed cannot be refunded (§2.3): refused, and the code stays open.
    paid_bill(
        &gw,
        "1001000000001000",
        100,
        json!({"qrCodeId": "Q-ESC", "secureTransaction": true}),
    )
    .await;
    let reply = close("Q-ESC", true).await;
    assert_refused(&reply, "OPERATION_NOT_ALLOWED", "担保交易未完成");
    assert_eq!(
        code(&gw, "Q-ESC").await.status,
        paymux_core::code::CodeStatus::Active
    );
    assert_eq!(bill(&gw, "1001000000001000").await.refund_reserved.get(), 0);
    // Completed with 60 (40 back to the payer): the close refunds the 60 and closes.
    let reply = call(
        &gw,
        COMPLETE,
        json!({"merOrderId": "10010000000010000", "completedAmount": 60}),
    )
    .await;
    assert_code(&reply, "SUCCESS");
    let reply = close("Q-ESC", true).await;
    assert_code(&reply, "SUCCESS");
    assert_eq!(
        code(&gw, "Q-ESC").await.status,
        paymux_core::code::CodeStatus::Closed
    );
    gw.advance(3);
    gw.poll_channels().await;
    let order = bill(&gw, "1001000000001000").await;
    assert_eq!(
        (order.status, order.refunded.get()),
        (OrderStatus::Refunded, 100)
    );

    // Closed without attachRefund, then again with it: the second close refunds.
    paid_bill(&gw, "1001000000001001", 50, json!({"qrCodeId": "Q-LATER"})).await;
    assert_code(&close("Q-LATER", false).await, "SUCCESS");
    assert_eq!(bill(&gw, "1001000000001001").await.refund_reserved.get(), 0);
    for _ in 0..2 {
        assert_code(&close("Q-LATER", true).await, "SUCCESS");
    }
    let order = bill(&gw, "1001000000001001").await;
    assert_eq!(order.refund_reserved.get(), 50, "refunded once");
    let refunds = gw
        .running
        .operator
        .gateway()
        .refunds_of_order(&merchant(), &order.id)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
}

#[tokio::test]
async fn a_bill_has_one_refund_without_refund_order_id_even_when_several_arrive_at_once() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let date = today(&gw);
        // Twenty different refunds at once, none with a refundOrderId: one is made.
        paid_bill(&gw, "1001000000001100", 1000, json!({})).await;
        let replies = join_all(
            (1..=20)
                .map(|i| {
                    call(
                        &gw,
                        REFUND,
                        json!({"billNo": "1001000000001100", "billDate": date,
                               "refundAmount": i}),
                    )
                })
                .collect(),
        )
        .await;
        let accepted: Vec<&Params> = replies.iter().filter(|r| code_of(r) == "SUCCESS").collect();
        assert_eq!(accepted.len(), 1, "{backend:?}: {replies:?}");
        for r in replies.iter().filter(|r| code_of(r) != "SUCCESS") {
            assert_refused(r, "BAD_REQUEST", "refundOrderId");
        }
        let order = bill(&gw, "1001000000001100").await;
        assert_eq!(
            Some(order.refund_reserved.get()),
            accepted[0]["refundAmount"].as_i64(),
            "{backend:?}"
        );
        let generated = accepted[0]["refundOrderId"].as_str().unwrap().to_owned();
        assert!(generated.starts_with("1001"), "{generated}");

        // The same refund twenty times at once (a resend): at most that one refund.
        paid_bill(&gw, "1001000000001101", 1000, json!({})).await;
        let replies = join_all(
            (0..20)
                .map(|_| {
                    call(
                        &gw,
                        REFUND,
                        json!({"billNo": "1001000000001101", "billDate": date,
                               "refundAmount": 30}),
                    )
                })
                .collect(),
        )
        .await;
        let mut numbers: Vec<&str> = Vec::new();
        for r in &replies {
            if code_of(r) == "SUCCESS" {
                numbers.push(r["refundOrderId"].as_str().unwrap());
            } else {
                assert_refused(r, "BAD_REQUEST", "refundOrderId");
            }
        }
        numbers.dedup();
        assert_eq!(numbers.len(), 1, "{backend:?}: {replies:?}");
        assert_eq!(
            bill(&gw, "1001000000001101").await.refund_reserved.get(),
            30,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn md5_signed_notifications_and_return_links_verify_end_to_end() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        if let Some(t) = c.merchants[0].dialects.get_mut("chinaums") {
            t.insert("sign_type".into(), toml::Value::String("MD5".into()));
        }
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer_with(&["SUCCESS"]);
    let reply = one_time(
        &gw,
        "1001000000001200",
        88,
        json!({"notifyUrl": receiver.url, "returnUrl": "https://shop.example/back"}),
    )
    .await;
    let page_url = reply["billQRCode"].as_str().unwrap().to_owned();
    pay_at_page(&gw, &page_url, "wallet=unionpay").await;

    let fields = form(&notifications_to(&receiver, 1, &gw).await[0]);
    assert_eq!(field(&fields, "signType"), Some("MD5"));
    let sign = field(&fields, "sign").unwrap();
    assert_eq!(sign.len(), 32, "MD5 in hex: {sign}");
    assert_eq!(sign, sign.to_uppercase());
    let c = client(&gw);
    assert!(c.verify_notification(&fields), "{fields:?}");
    // It is MD5 the signature is: named SHA256, it does not verify.
    let renamed: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| {
            if k == "signType" {
                (k.clone(), "SHA256".to_owned())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert!(!c.verify_notification(&renamed));
    assert_eq!(field(&fields, "billNo"), Some("1001000000001200"));
    assert_eq!(json_field(&fields, "billPayment")["targetSys"], "ACP");

    // The return link on the code's page is signed the same way.
    let html = browser()
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html
        .find("https://shop.example/back?")
        .expect("a link back");
    let back = html[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let returned = paymux_dialects::common::decode_form(back.split_once('?').unwrap().1, true);
    assert_eq!(field(&returned, "signType"), Some("MD5"));
    assert!(c.verify_notification(&returned), "{returned:?}");
}

#[tokio::test]
async fn a_request_not_done_in_time_gets_txn_discarded_over_http() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.request_timeout_s = std::num::NonZeroU64::new(1).unwrap();
    })
    .await;
    let body = json!({"requestTimestamp": timestamp(&gw), "msgId": "M-SLOW",
        "mid": CHINAUMS_MID, "tid": "88880001", "instMid": "QRPAYDEFAULT",
        "billNo": "1001000000001300", "billDate": today(&gw)})
    .to_string();
    let host = gw.running.addr.to_string();
    let head = format!(
        "POST {QUERY} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         authorization: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        client(&gw).authorization(body.as_bytes()),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half the body, then nothing: the request cannot be done in time.
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("answered after the timeout")
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP reply");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let reply: Params = serde_json::from_str(body).expect(body);
    assert_refused(&reply, "TXN_DISCARDED", "请求被丢弃");
    assert!(
        reply.get("responseTimeStamp").is_some() && reply.get("responseTimestamp").is_some(),
        "§1.4's spellings: {body}"
    );
}

/// Runs `paymux client chinaums --url … --config … <args>`: (exit code, stdout, stderr).
fn chinaums_cli(url: &str, config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = crate::helpers::paymux()
        .args(["client", "chinaums", "--url", url, "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("paymux client");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// Multi-threaded: the client runs as a blocking child process while this runtime serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chinaums_client_makes_a_code_and_refunds_its_bill_as_a_process() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("merchant.toml");
    std::fs::write(&config, config_text("sqlite://unused.db")).unwrap();

    let (exit, stdout, stderr) = chinaums_cli(
        &gw.url,
        &config,
        &[
            "get-qrcode",
            "--kind",
            "one-time",
            "--amount",
            "120",
            "--bill-no",
            "1001000000001400",
            "--desc",
            "药费",
            "--qr-code-id",
            "Q-CLI",
        ],
    );
    assert_eq!(exit, 0, "{stderr}");
    let reply: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(reply["errCode"], "SUCCESS", "{stdout}");
    assert_eq!(reply["qrCodeId"], "Q-CLI");
    assert_eq!(reply["billNo"], "1001000000001400");
    let page = reply["billQRCode"].as_str().unwrap();
    assert!(page.starts_with(&format!("{}/bills/", gw.url)), "{page}");
    let made = bill(&gw, "1001000000001400").await;
    assert_eq!((made.amount.get(), made.subject.as_str()), (120, "药费"));

    scan_and_pay(&gw, &made, WECHAT).await;
    let (exit, stdout, stderr) = chinaums_cli(
        &gw.url,
        &config,
        &["refund", "--bill-no", "1001000000001400", "--amount", "20"],
    );
    assert_eq!(exit, 0, "{stderr}");
    let reply: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(reply["refundStatus"], "PROCESSING", "{stdout}");
    assert_eq!(reply["refundAmount"], 20);
    assert_eq!(
        bill(&gw, "1001000000001400").await.refund_reserved.get(),
        20
    );

    // The server refuses: exit 1, the reply on stdout, its words on stderr.
    let (exit, stdout, stderr) = chinaums_cli(
        &gw.url,
        &config,
        &["refund", "--bill-no", "1001000000001400", "--amount", "20"],
    );
    assert_eq!(exit, 1, "{stderr}");
    assert!(stdout.contains("\"errCode\": \"BAD_REQUEST\""), "{stdout}");
    assert!(
        stderr.contains("the server refused our request: BAD_REQUEST: refundOrderId"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_loopback_notify_url_is_refused_naming_the_setting_that_allows_it() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.allow_private_callbacks = false
    })
    .await;
    let reply = call(
        &gw,
        GET,
        json!({
            "billNo": "3194LOOP0001",
            "billDate": today(&gw),
            "totalAmount": 1,
            "notifyUrl": "http://127.0.0.1:9/n",
        }),
    )
    .await;
    assert_code(&reply, "BAD_REQUEST");
    let message = reply["errMsg"].as_str().unwrap_or_default();
    assert!(
        message.contains("notifyUrl") && message.contains("allow_private_callbacks = true"),
        "{message}"
    );
}
