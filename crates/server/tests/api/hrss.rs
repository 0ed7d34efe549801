//! hrss (人社支付平台 v1.32) over HTTP: every service with the hrss client and the spec's
//! example payloads, raw bytes where the client could share a mistake with the server,
//! every public return code, the payer at the cashier, notifications verified with the
//! platform's public key, refunds, plaintext merchants, static codes of both modes with
//! the §5.1 call to a merchant's system, and full runs whose logs hold no ID number.

use paymux_dialects::hrss::HrssClient;
use paymux_dialects::hrss::client::Answer;
use paymux_dialects::hrss::crypto::{PrivateKey, PublicKey, Sm4Key};
use paymux_dialects::hrss::wire::{
    CloseRequest, NotificationData, OrderData, OrderReply, OrderRequest, Personal, QueryRequest,
    RefundData, RefundQueryRequest, RefundRequest, StaticCodeReply, StaticCodeRequest,
};
use paymux_dialects::hrss::{codec, convert};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, Child, HRSS_ACCESS_KEY, HRSS_APP_ID, HRSS_MCH_ID, HRSS_MERCHANT_PRIVATE_KEY,
    HRSS_MERCHANT_PUBLIC_KEY, HRSS_PLATFORM_PRIVATE_KEY, HRSS_SM4_KEY, Receiver, TestGateway,
    free_port, page, paymux, post_page, serve_logging_to,
};

fn merchant_key() -> PrivateKey {
    PrivateKey::parse(HRSS_MERCHANT_PRIVATE_KEY).unwrap()
}

fn sm4() -> Sm4Key {
    Sm4Key::parse(HRSS_SM4_KEY).unwrap()
}

fn platform_public_key() -> PublicKey {
    let public =
        paymux_dialects::hrss::platform_public_key(&SecretString::from(HRSS_PLATFORM_PRIVATE_KEY))
            .unwrap();
    PublicKey::parse(&public).unwrap()
}

pub(crate) fn client(gw: &TestGateway) -> HrssClient {
    HrssClient::new(
        &gw.url,
        "engine",
        HRSS_ACCESS_KEY,
        HRSS_APP_ID,
        merchant_key(),
        sm4(),
        false,
    )
    .unwrap()
}

/// §4.1.2's example, with our order number and notify address.
pub(crate) fn spec_order(mch_order_id: &str, notify_url: &str) -> OrderRequest {
    OrderRequest {
        id_name_order: Some(Personal("刘小梦".into())),
        id_number_order: Some(Personal("51012XXXXXXXXXX30023".into())),
        id_type_order: Some("01".into()),
        mch_order_id: Some(mch_order_id.into()),
        notify_url: Some(notify_url.into()),
        order_amount: Some("1".into()),
        order_create_time: Some("2023-06-26 22:22:22".into()),
        order_desc: Some("仅供测试".into()),
        order_title: Some("测试订单".into()),
        order_type: Some("10001".into()),
        pay_type: Some("1".into()),
        way_code: Some("SBK".into()),
        ..OrderRequest::default()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The reply's `biz_data.code` and `message`; panics on a refusal.
pub(crate) fn biz(answer: &Answer) -> (&str, &str) {
    assert_eq!(answer.reply.code, "1", "{:?}", answer.reply);
    assert_eq!(answer.reply.msg, "调用成功");
    let biz = answer.reply.biz_data.as_ref().expect("biz_data");
    (biz.code.as_str(), biz.message.as_str())
}

pub(crate) fn ok<T: serde::de::DeserializeOwned>(answer: &Answer) -> T {
    assert_eq!(biz(answer), ("1", ""), "{:?}", answer.reply);
    answer.data_as().unwrap()
}

/// paymux's order id, from the cashier link in a payUrl or a URL.
fn order_id_of(gw: &TestGateway, url: &str) -> String {
    let rest = url
        .strip_prefix(&format!("{}/cashier/", gw.url))
        .unwrap_or_else(|| panic!("a cashier link: {url}"));
    rest.split('/').next().unwrap().to_owned()
}

/// An order made by §4.1 and paid at the cashier: (payOrderId, paymux's id).
pub(crate) async fn paid_order(
    gw: &TestGateway,
    no: &str,
    amount: i64,
    notify: &str,
) -> (String, String) {
    let request = OrderRequest {
        order_amount: Some(amount.to_string()),
        ..spec_order(no, notify)
    };
    let reply: OrderReply = ok(&client(gw).online_order(&request).await.unwrap());
    let link: Value = serde_json::from_str(reply.pay_url.as_deref().unwrap()).unwrap();
    let id = order_id_of(gw, link["url"].as_str().unwrap());
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    (reply.pay_order_id, id)
}

/// The body of a request signed by the merchant, its fields as given.
fn signed_body(fields: &[(&str, String)]) -> String {
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let sign = codec::sign(&form, &merchant_key());
    form.push(("sign".into(), sign));
    codec::encode_request(&form)
}

/// The public parameters of a call whose `data` is these fields, before signing. Each has
/// its own request_id, shaped as the spec's example's: the gateway refuses one it has seen.
fn fields_for(data: &Value, timestamp: i64) -> Vec<(&'static str, String)> {
    static REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sealed = sm4().encrypt(&data.to_string());
    vec![
        ("access_key", HRSS_ACCESS_KEY.into()),
        (
            "biz_content",
            json!({"aaz001": "1687845434400", "appid": HRSS_APP_ID, "data": sealed}).to_string(),
        ),
        ("format", "json".into()),
        ("request_id", format!("a666{n:016}")),
        ("timestamp", timestamp.to_string()),
        ("version", "1.0".into()),
    ]
}

async fn post(gw: &TestGateway, path: &str, body: String) -> Value {
    let text = gw
        .post_raw(path, "application/x-www-form-urlencoded", body)
        .await;
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}"))
}

/// A refusal's code, sub_code and sub_msg.
fn refusal(reply: &Value) -> (String, String, String) {
    assert!(reply.get("biz_data").is_none(), "{reply}");
    (
        reply["code"].as_str().unwrap().to_owned(),
        reply["sub_code"].as_str().unwrap().to_owned(),
        reply["sub_msg"].as_str().unwrap().to_owned(),
    )
}

fn spec_fixture(name: &str) -> String {
    let path = format!(
        "{}/../dialects/src/hrss/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim_end()
        .to_owned()
}

#[tokio::test]
async fn the_spec_example_request_signed_by_openssl_is_refused_only_for_its_2023_timestamp() {
    let body = spec_fixture("request.form.txt");
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let text = gw
        .post_raw(
            "/engine/rest/88800100001",
            "application/x-www-form-urlencoded",
            body.clone(),
        )
        .await;
    assert_eq!(
        text,
        r#"{"code":"-102","msg":"参数格式异常","sub_code":"check.param.invalid","sub_msg":"timestamp参数格式异常:与平台时间相差超过300秒"}"#
    );

    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| c.server.max_clock_skew_s = 0).await;
    // §4.5.2's example asks for an order this gateway does not have.
    let answer = client(&gw)
        .send("/engine/rest/88800100001", &body)
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "订单不存在"));
    let header = answer.reply.biz_data.as_ref().unwrap();
    assert_eq!(header.aaz001, "1687845434400");
    assert_eq!(header.appid, "A203");
    assert_eq!(header.aaz002.len(), 20);
    assert!(header.aaz002.bytes().all(|b| b.is_ascii_digit()));
    // The same request again is a replay, refused even with the timestamp check off.
    let again = post(&gw, "/engine/rest/88800100001", body.clone()).await;
    assert_eq!(
        refusal(&again),
        (
            "-102".to_owned(),
            "check.param.invalid".to_owned(),
            "request_id参数格式异常:请求流水号已使用过,重放的请求被拒绝".to_owned()
        )
    );

    // With an order 1687837179580 of ours, the spec's payOrderId is not its number.
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| c.server.max_clock_skew_s = 0).await;
    paid_order(&gw, "1687837179580", 1, "http://127.0.0.1:9/notify").await;
    let answer = client(&gw)
        .send("/engine/rest/88800100001", &body)
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "支付平台订单号与商户订单号不匹配"));
}

#[tokio::test]
async fn an_online_order_opens_the_cashier_and_its_payment_is_notified_signed_by_the_platform() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let request = OrderRequest {
        return_url: Some("https://his.example/paid?x=1".into()),
        ..spec_order("1687837179580", &merchant.url)
    };
    let answer = client(&gw).online_order(&request).await.unwrap();
    let reply: OrderReply = ok(&answer);
    assert_eq!(reply.mch_order_id, "1687837179580");
    assert_eq!(reply.pay_order_id.len(), 20, "{}", reply.pay_order_id);
    assert!(reply.qr_image.is_none());
    let pay_url = reply.pay_url.unwrap();
    assert!(pay_url.chars().count() <= 256, "{pay_url}");
    let link: Value = serde_json::from_str(&pay_url).unwrap();
    assert_eq!(link["type"], "miniProgram");
    assert_eq!(link["appid"], "");
    assert_eq!(link["path"], "");
    assert_eq!(link["extraData"]["payNo"], reply.pay_order_id.as_str());
    let url = link["url"].as_str().unwrap();
    let id = order_id_of(&gw, url);
    assert_eq!(url, gw.cashier_url(&id));
    let page = gw.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("测试订单") && page.contains("社保卡"),
        "{page}"
    );
    // The reply's data travelled encrypted.
    let sealed = answer
        .reply
        .biz_data
        .as_ref()
        .unwrap()
        .data
        .as_ref()
        .unwrap();
    assert!(sealed.as_str().is_some_and(|s| !s.contains("payUrl")));

    let query = QueryRequest {
        mch_order_id: Some("1687837179580".into()),
        pay_order_id: Some(reply.pay_order_id.clone()),
    };
    let unpaid: OrderData = ok(&client(&gw).query(&query).await.unwrap());
    assert_eq!(
        (unpaid.pay_status.as_str(), unpaid.refund_status.as_deref()),
        ("0", Some("9"))
    );
    assert_eq!(unpaid.total_amount, None);

    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    let paid: OrderData = ok(&client(&gw).query(&query).await.unwrap());
    assert_eq!(paid.pay_status, "2");
    assert_eq!(paid.refund_status.as_deref(), Some("9"));
    assert_eq!(paid.way_code.as_deref(), Some("SBK"));
    assert_eq!(
        (
            paid.order_amount,
            paid.total_amount,
            paid.receipt_amount,
            paid.coupon_amount
        ),
        (Some(1), Some(1), Some(1), Some(0))
    );
    assert_eq!(paid.channel_msg.as_deref(), Some("SUCCESS"));
    assert!(paid.channel_order_id.is_some());
    assert_eq!(paid.pay_time.as_deref().map(str::len), Some(19));
    // The cashier sends the payer back to returnUrl.
    let page = gw.http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("https://his.example/paid?x=1"), "{page}");

    merchant.answer_with(&[r#"{"isSuccess":"1","returnMsg":""}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    let received = merchant.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(sent.method, "POST");
    assert!(
        sent.content_type
            .as_deref()
            .unwrap()
            .starts_with("application/json")
    );
    // A merchant's handler, by hand: the platform's signature over appId, data, mchId.
    let body: Value = serde_json::from_str(&sent.body).unwrap();
    let fields = body.as_object().unwrap();
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys, ["appId", "mchId", "data", "sign"]);
    assert_eq!(body["appId"], HRSS_APP_ID);
    assert_eq!(body["mchId"], HRSS_MCH_ID);
    let data_text = body["data"].as_str().unwrap();
    let signed = format!("appId={HRSS_APP_ID}&data={data_text}&mchId={HRSS_MCH_ID}");
    assert!(platform_public_key().verify(signed.as_bytes(), body["sign"].as_str().unwrap()));
    let merchant_public = PublicKey::parse(HRSS_MERCHANT_PUBLIC_KEY).unwrap();
    assert!(!merchant_public.verify(signed.as_bytes(), body["sign"].as_str().unwrap()));
    let data: Value = serde_json::from_str(&sm4().decrypt(data_text).unwrap()).unwrap();
    assert_eq!(data["appid"], HRSS_APP_ID);
    assert_eq!(data["mchOrderId"], "1687837179580");
    assert_eq!(data["payOrderId"], reply.pay_order_id.as_str());
    assert_eq!(data["payStatus"], "2");
    assert_eq!(data["wayCode"], "SBK");
    assert_eq!(data["orderAmount"], 1);
    assert_eq!(data["totalAmount"], 1);
    assert_eq!(data["receiptAmount"], 1);
    assert_eq!(data["couponAmount"], 0);
    assert_eq!(data["payTime"], paid.pay_time.unwrap().as_str());
    assert_eq!(
        data["channelOrderId"],
        paid.channel_order_id.unwrap().as_str()
    );
    assert!(data.get("errCode").is_none());
    // And with the SDK.
    let verified: NotificationData = client(&gw)
        .verify_notification(sent.body.as_bytes(), &platform_public_key())
        .unwrap();
    assert_eq!(verified.pay_status, "2");
    // Acknowledged: nothing more is sent.
    gw.advance(3600);
    assert_eq!(gw.deliver().await.attempts(), 0);
}

#[tokio::test]
async fn a_notification_is_retried_on_its_schedule_until_is_success_is_one() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    paid_order(&gw, "RETRY1", 5, &merchant.url).await;
    merchant.answer_with(&["success", r#"{"isSuccess":"0","returnMsg":"busy"}"#]);
    assert_eq!(gw.deliver().await.retried, 1);
    gw.advance(14);
    assert_eq!(
        gw.deliver().await.attempts(),
        0,
        "the first retry is 15 s later"
    );
    gw.advance(1);
    assert_eq!(gw.deliver().await.retried, 1);
    gw.advance(59);
    assert_eq!(
        gw.deliver().await.attempts(),
        0,
        "the second retry is a minute later"
    );
    gw.advance(1);
    merchant.answer_with(&[r#"{"isSuccess":1}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    assert_eq!(merchant.received().len(), 3);
}

#[tokio::test]
async fn a_payer_who_cancels_is_notified_as_failed_and_only_hrss_tells_of_failures() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let reply: OrderReply = ok(&client(&gw)
        .online_order(&spec_order("FAIL1", &merchant.url))
        .await
        .unwrap());
    let link: Value = serde_json::from_str(reply.pay_url.as_deref().unwrap()).unwrap();
    let id = order_id_of(&gw, link["url"].as_str().unwrap());
    assert_eq!(gw.pay(&id, "fail").await.status(), 200);
    merchant.answer_with(&[r#"{"isSuccess":"1"}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    let data = client(&gw)
        .verify_notification(
            merchant.received()[0].body.as_bytes(),
            &platform_public_key(),
        )
        .unwrap();
    assert_eq!(data.pay_status, "3");
    assert_eq!(data.err_code.as_deref(), Some("USER_CANCELLED"));
    assert_eq!(data.err_msg.as_deref(), Some("付款人取消支付"));
    assert_eq!(data.total_amount, None);
    let query = QueryRequest {
        mch_order_id: Some("FAIL1".into()),
        pay_order_id: Some(reply.pay_order_id),
    };
    let failed: OrderData = ok(&client(&gw).query(&query).await.unwrap());
    assert_eq!(failed.pay_status, "3");
    assert_eq!(failed.channel_msg.as_deref(), Some("付款人取消支付"));

    // An xxpay order the payer cancels is not notified: xxpay notifies payments only.
    let xxpay_merchant = Receiver::start().await;
    let created = gw
        .xxpay
        .create_order(&paymux_dialects::xxpay::wire::CreateOrderRequest {
            product_id: Some("8002".into()),
            mch_order_no: Some("XFAIL1".into()),
            currency: Some("cny".into()),
            amount: Some("1".into()),
            notify_url: Some(xxpay_merchant.url.clone()),
            subject: Some("s".into()),
            body: Some("b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let xid = created.pay_order_id.unwrap();
    assert_eq!(gw.pay(&xid, "fail").await.status(), 200);
    assert_eq!(gw.deliver().await.attempts(), 0);
    assert!(xxpay_merchant.received().is_empty());
}

#[tokio::test]
async fn a_passive_scan_takes_the_payers_code_and_answers_with_the_cashier() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    // §4.2.2's example.
    let request = OrderRequest {
        qr_code: Some(Personal("6201234567890123456789012345678901".into())),
        ..spec_order(
            "1687841726833",
            "https://10.160.88.1:9002/wjry/getnotify.do",
        )
    };
    let reply: OrderReply = ok(&client(&gw).passive_scan(&request).await.unwrap());
    assert_eq!(reply.mch_order_id, "1687841726833");
    let link: Value = serde_json::from_str(reply.pay_url.as_deref().unwrap()).unwrap();
    assert_eq!(link["type"], "miniProgram");
    assert_eq!(link["extraData"]["payNo"], reply.pay_order_id.as_str());
    let id = order_id_of(&gw, link["url"].as_str().unwrap());
    assert_eq!(gw.pay(&id, "success").await.status(), 200);

    let missing = OrderRequest {
        qr_code: None,
        ..spec_order("QR2", "https://his.example/n")
    };
    let answer = client(&gw).passive_scan(&missing).await.unwrap();
    assert_eq!(
        (answer.reply.code.as_str(), answer.reply.sub_msg.as_str()),
        ("-101", "缺少qrCode参数")
    );
    let long = OrderRequest {
        qr_code: Some(Personal("1".repeat(35))),
        ..spec_order("QR3", "https://his.example/n")
    };
    let answer = client(&gw).passive_scan(&long).await.unwrap();
    assert_eq!(
        (answer.reply.code.as_str(), answer.reply.sub_msg.as_str()),
        ("-102", "qrCode参数格式异常:长度不能超过34")
    );
}

#[tokio::test]
async fn a_dynamic_code_is_a_png_of_the_cashier_link() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    // A kiosk's order: no payer's ID.
    let request = OrderRequest {
        id_type_order: None,
        id_number_order: None,
        id_name_order: None,
        way_code: Some("WX".into()),
        ..spec_order("1687841871896", "https://his.example/n")
    };
    let reply: OrderReply = ok(&client(&gw).dynamic_code(&request).await.unwrap());
    assert!(reply.pay_url.is_none());
    let image = reply.qr_image.unwrap();
    let png = image
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let bytes = paymux_dialects::hrss::crypto::decode_base64(png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // The image is the QR code of this order's cashier link (the dialect's tests read such
    // an image back with a QR decoder).
    let query = QueryRequest {
        mch_order_id: Some("1687841871896".into()),
        pay_order_id: Some(reply.pay_order_id.clone()),
    };
    let data: OrderData = ok(&client(&gw).query(&query).await.unwrap());
    assert_eq!(data.way_code.as_deref(), Some("WX"));
    let id = convert::platform_id('P', &reply.pay_order_id).unwrap();
    let cashier = gw.cashier_url(id.as_str());
    assert_eq!(
        image,
        paymux_dialects::common::qr::data_url(&cashier, 4).unwrap()
    );
}

pub(crate) fn close_request(no: &str, pay_order_id: &str) -> CloseRequest {
    CloseRequest {
        mch_order_id: Some(no.into()),
        pay_order_id: Some(pay_order_id.into()),
        // §4.8.2's example.
        close_desc: Some("用户选择了其他的支付方式".into()),
    }
}

#[tokio::test]
async fn orders_are_queried_and_closed_by_both_their_numbers() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let hrss = client(&gw);
    let reply: OrderReply = ok(&hrss
        .online_order(&spec_order("1687841726833", "https://his.example/n"))
        .await
        .unwrap());
    let closed: OrderData = ok(&hrss
        .close(&close_request("1687841726833", &reply.pay_order_id))
        .await
        .unwrap());
    assert_eq!(
        (
            closed.mch_order_id.as_str(),
            closed.pay_order_id.as_str(),
            closed.pay_status.as_str()
        ),
        ("1687841726833", reply.pay_order_id.as_str(), "4")
    );
    assert_eq!(closed.refund_status, None);
    // Closing again says the same; the query agrees; paymux's own id names it too.
    let again: OrderData = ok(&hrss
        .close(&close_request("1687841726833", &reply.pay_order_id))
        .await
        .unwrap());
    assert_eq!(again.pay_status, "4");
    let id = convert::platform_id('P', &reply.pay_order_id).unwrap();
    let query = QueryRequest {
        mch_order_id: Some("1687841726833".into()),
        pay_order_id: Some(id.to_string()),
    };
    let queried: OrderData = ok(&hrss.query(&query).await.unwrap());
    assert_eq!(queried.pay_status, "4");

    // A paid order cannot be closed: the failure shows it paid.
    let (paid, _) = paid_order(&gw, "PAID1", 10, "https://his.example/n").await;
    let answer = hrss.close(&close_request("PAID1", &paid)).await.unwrap();
    assert_eq!(biz(&answer), ("0", "订单已支付,不能关闭"));
    let data: OrderData = answer.data_as().unwrap();
    assert_eq!(data.pay_status, "2");

    // Both numbers are required, and must name one order.
    let answer = hrss
        .query(&QueryRequest {
            mch_order_id: Some("PAID1".into()),
            pay_order_id: Some(reply.pay_order_id.clone()),
        })
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "支付平台订单号与商户订单号不匹配"));
    let answer = hrss
        .query(&QueryRequest {
            mch_order_id: Some("NOSUCH".into()),
            pay_order_id: Some(paid.clone()),
        })
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "订单不存在"));
    let answer = hrss
        .query(&QueryRequest {
            mch_order_id: Some("PAID1".into()),
            pay_order_id: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            answer.reply.code.as_str(),
            answer.reply.sub_code.as_str(),
            answer.reply.sub_msg.as_str()
        ),
        ("-101", "check.param.missing", "缺少payOrderId参数")
    );
    // A second order with the same mchOrderId is refused by name.
    let answer = hrss
        .online_order(&spec_order("PAID1", "https://his.example/n"))
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "商户订单号PAID1已存在"));
}

pub(crate) fn refund_request(
    no: &str,
    pay_order_id: &str,
    amount: i64,
    refund_id: &str,
) -> RefundRequest {
    RefundRequest {
        mch_order_id: Some(no.into()),
        pay_order_id: Some(pay_order_id.into()),
        order_amount: Some(amount.to_string()),
        mch_refund_id: Some(refund_id.into()),
    }
}

fn refund_query(no: &str, refund_order_id: &str) -> RefundQueryRequest {
    RefundQueryRequest {
        mch_order_id: Some(no.into()),
        refund_order_id: Some(refund_order_id.into()),
    }
}

#[tokio::test]
async fn refunds_partial_full_repeated_and_too_large() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let hrss = client(&gw);
    let (pay_order_id, _) = paid_order(&gw, "1687837179580", 100, "https://his.example/n").await;

    let first: RefundData = ok(&hrss
        .refund(&refund_request(
            "1687837179580",
            &pay_order_id,
            30,
            "1687843146040",
        ))
        .await
        .unwrap());
    assert_eq!(first.mch_refund_id, "1687843146040");
    assert_eq!(first.pay_order_id.as_deref(), Some(pay_order_id.as_str()));
    assert_eq!(first.refund_order_id.len(), 20);
    assert_eq!(first.refund_status, "1", "退款中 until the channel is done");
    assert_eq!(
        (first.pay_amount, first.refund_amount),
        (Some(100), Some(30))
    );
    assert_eq!(
        (first.refund_time.as_deref(), first.refund_real_amt),
        (None, None)
    );

    // The same request again is the same refund; the same mchRefundId for another amount
    // is refused, showing the refund that has it.
    let again: RefundData = ok(&hrss
        .refund(&refund_request(
            "1687837179580",
            &pay_order_id,
            30,
            "1687843146040",
        ))
        .await
        .unwrap());
    assert_eq!(again.refund_order_id, first.refund_order_id);
    let answer = hrss
        .refund(&refund_request(
            "1687837179580",
            &pay_order_id,
            40,
            "1687843146040",
        ))
        .await
        .unwrap();
    assert_eq!(
        biz(&answer),
        ("0", "商户退款订单号已存在,与本次退款的参数不同")
    );
    let shown: RefundData = answer.data_as().unwrap();
    assert_eq!(
        (shown.refund_order_id, shown.refund_amount),
        (first.refund_order_id.clone(), Some(30))
    );

    let answer = hrss
        .refund(&refund_request("1687837179580", &pay_order_id, 80, "R2"))
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "退款金额超过可退金额,可退70分"));

    gw.advance(3);
    gw.poll_channels().await;
    let done: RefundData = ok(&hrss
        .refund_query(&refund_query("1687837179580", &first.refund_order_id))
        .await
        .unwrap());
    assert_eq!(done.refund_status, "2");
    assert_eq!(done.refund_real_amt, Some(30));
    assert_eq!(done.channel_msg.as_deref(), Some("SUCCESS"));
    assert!(done.channel_refund_order_id.is_some());
    assert_eq!(done.refund_time.as_deref().map(str::len), Some(19));
    let query = QueryRequest {
        mch_order_id: Some("1687837179580".into()),
        pay_order_id: Some(pay_order_id.clone()),
    };
    let order: OrderData = ok(&hrss.query(&query).await.unwrap());
    assert_eq!(
        (order.pay_status.as_str(), order.refund_status.as_deref()),
        ("2", Some("8"))
    );

    let rest: RefundData = ok(&hrss
        .refund(&refund_request("1687837179580", &pay_order_id, 70, "R3"))
        .await
        .unwrap());
    gw.advance(3);
    gw.poll_channels().await;
    let order: OrderData = ok(&hrss.query(&query).await.unwrap());
    assert_eq!(
        (order.pay_status.as_str(), order.refund_status.as_deref()),
        ("2", Some("7"))
    );
    let answer = hrss
        .refund(&refund_request("1687837179580", &pay_order_id, 1, "R4"))
        .await
        .unwrap();
    assert_eq!(biz(&answer).0, "0");
    let rest: RefundData = ok(&hrss
        .refund_query(&refund_query("1687837179580", &rest.refund_order_id))
        .await
        .unwrap());
    assert_eq!(rest.refund_status, "2");

    // Refunds of an unpaid order, and of refunds that do not exist.
    let unpaid: OrderReply = ok(&hrss
        .online_order(&spec_order("UNPAID", "https://his.example/n"))
        .await
        .unwrap());
    let answer = hrss
        .refund(&refund_request("UNPAID", &unpaid.pay_order_id, 1, "R5"))
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "订单未支付成功或已全额退款,不能退款"));
    let answer = hrss
        .refund_query(&refund_query("1687837179580", "1684652164532"))
        .await
        .unwrap();
    assert_eq!(biz(&answer), ("0", "退款不存在"));
    let answer = hrss
        .refund_query(&refund_query("UNPAID", &first.refund_order_id))
        .await
        .unwrap();
    assert_eq!(
        biz(&answer),
        ("0", "退款不存在"),
        "a refund of another order"
    );
}

async fn concurrent_refunds(backend: Backend) {
    let gw = TestGateway::spawn(backend).await;
    let (pay_order_id, _) = paid_order(&gw, "CONC1", 100, "https://his.example/n").await;
    let hrss = std::sync::Arc::new(client(&gw));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let hrss = hrss.clone();
        let request = refund_request("CONC1", &pay_order_id, 30, &format!("RC{i}"));
        tasks.push(tokio::spawn(
            async move { hrss.refund(&request).await.unwrap() },
        ));
    }
    let mut succeeded = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        match biz(&answer).0 {
            "1" => succeeded += 1,
            _ => assert!(
                biz(&answer).1.starts_with("退款金额超过可退金额"),
                "{:?}",
                answer.reply
            ),
        }
    }
    assert_eq!(succeeded, 3, "30 fen three times out of 100");

    // One mchRefundId sent ten times at once is one refund.
    let (pay_order_id, _) = paid_order(&gw, "CONC2", 100, "https://his.example/n").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let hrss = hrss.clone();
        let request = refund_request("CONC2", &pay_order_id, 60, "SAME");
        tasks.push(tokio::spawn(
            async move { hrss.refund(&request).await.unwrap() },
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let refund: RefundData = ok(&task.await.unwrap());
        ids.insert(refund.refund_order_id);
    }
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_paid_amount_on_sqlite() {
    concurrent_refunds(Backend::Sqlite).await;
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_paid_amount_on_postgres() {
    concurrent_refunds(Backend::Postgres).await;
}

/// §4.5.2's example data.
fn query_data() -> Value {
    json!({"mchOrderId": "1687837179580", "payOrderId": "1000000000000000361"})
}

const QUERY: &str = "/engine/rest/88800100001";

/// The fields with one replaced (or left out, with `None`), then signed.
fn with(fields: &[(&'static str, String)], name: &str, value: Option<&str>) -> String {
    let changed: Vec<(&str, String)> = fields
        .iter()
        .filter(|(k, _)| *k != name || value.is_some())
        .map(|(k, v)| match value {
            Some(new) if *k == name => (*k, new.to_owned()),
            _ => (*k, v.clone()),
        })
        .collect();
    signed_body(&changed)
}

#[tokio::test]
async fn every_public_return_code_of_the_table_with_its_sub_code() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, add_plaintext_merchant).await;
    let fields = fields_for(&query_data(), now_ms());
    let expect = |reply: Value, code: &str, sub_code: &str, sub_msg: &str| {
        assert_eq!(
            refusal(&reply),
            (code.to_owned(), sub_code.to_owned(), sub_msg.to_owned()),
            "{reply}"
        );
    };
    // The well-formed call is served (the order does not exist).
    let reply = post(&gw, QUERY, signed_body(&fields)).await;
    assert_eq!(reply["code"], "1");
    assert_eq!(reply["biz_data"]["code"], "0");

    // -101, naming the parameter, public or business.
    for name in ["access_key", "biz_content", "sign", "timestamp", "version"] {
        let body = if name == "sign" {
            codec::encode_request(
                &fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect::<Vec<_>>(),
            )
        } else {
            with(&fields, name, None)
        };
        let reply = post(&gw, QUERY, body).await;
        expect(
            reply,
            "-101",
            "check.param.missing",
            &format!("缺少{name}参数"),
        );
    }
    let no_data = json!({"aaz001": "1", "appid": HRSS_APP_ID}).to_string();
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some(&no_data))).await;
    expect(reply, "-101", "check.param.missing", "缺少data参数");
    let no_aaz001 = json!({"appid": HRSS_APP_ID, "data": "x"}).to_string();
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some(&no_aaz001))).await;
    expect(reply, "-101", "check.param.missing", "缺少aaz001参数");
    let no_appid = json!({"aaz001": "1", "data": "x"}).to_string();
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some(&no_appid))).await;
    expect(reply, "-101", "check.param.missing", "缺少appid参数");
    let empty_appid = json!({"aaz001": "1", "appid": "", "data": "x"}).to_string();
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some(&empty_appid))).await;
    expect(reply, "-101", "check.param.missing", "缺少appid参数");
    let reply = post(
        &gw,
        QUERY,
        signed_body(&fields_for(&json!({"payOrderId": "1"}), now_ms())),
    )
    .await;
    expect(reply, "-101", "check.param.missing", "缺少mchOrderId参数");

    // -102, naming the parameter and saying how.
    let stale = (now_ms() - 301_000).to_string();
    let reply = post(&gw, QUERY, with(&fields, "timestamp", Some(&stale))).await;
    expect(
        reply,
        "-102",
        "check.param.invalid",
        "timestamp参数格式异常:与平台时间相差超过300秒",
    );
    let reply = post(&gw, QUERY, with(&fields, "timestamp", Some("yesterday"))).await;
    expect(
        reply,
        "-102",
        "check.param.invalid",
        "timestamp参数格式异常:须为毫秒时间戳",
    );
    let reply = post(&gw, QUERY, with(&fields, "format", Some("xml"))).await;
    expect(
        reply,
        "-102",
        "check.param.invalid",
        "format参数格式异常:只支持json",
    );
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some("[1]"))).await;
    expect(
        reply,
        "-102",
        "check.param.invalid",
        "biz_content参数格式异常:须为JSON对象",
    );
    let other_key = Sm4Key::parse("fedcba98765432100123456789abcdef").unwrap();
    let foreign = json!({"aaz001": "1", "appid": HRSS_APP_ID, "data": other_key.encrypt(&query_data().to_string())}).to_string();
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some(&foreign))).await;
    let (code, sub_code, sub_msg) = refusal(&reply);
    assert_eq!(
        (code.as_str(), sub_code.as_str()),
        ("-102", "check.param.invalid")
    );
    assert!(sub_msg.starts_with("data参数格式异常"), "{sub_msg}");
    let get = gw
        .http
        .get(format!("{}{QUERY}", gw.url))
        .send()
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&get.text().await.unwrap()).unwrap();
    let (code, _, sub_msg) = refusal(&reply);
    assert_eq!(code, "-102");
    assert!(sub_msg.contains("POST"), "{sub_msg}");
    let online = "/engine/rest/88800200001";
    for (field, value, sub_msg) in [
        (
            "orderType",
            json!("02"),
            "orderType参数格式异常:应为10001、10002、10003或10099",
        ),
        (
            "wayCode",
            json!("UNIONPAY"),
            "wayCode参数格式异常:应为SBK、WX或ALI",
        ),
        (
            "payType",
            json!("2"),
            "payType参数格式异常:目前只支持1(自费)",
        ),
        (
            "idTypeOrder",
            json!("02"),
            "idTypeOrder参数格式异常:应为01、90或99",
        ),
        ("orderAmount", json!(0), "orderAmount参数格式异常:须大于0"),
        (
            "orderAmount",
            json!("1.00"),
            "orderAmount参数格式异常:须为以分为单位的正整数",
        ),
        (
            "bizParams",
            json!("not json"),
            "bizParams参数格式异常:须为JSON",
        ),
        (
            "mchOrderId",
            json!("a".repeat(33)),
            "mchOrderId参数格式异常:长度不能超过32",
        ),
        (
            "notifyUrl",
            json!("javascript:alert(1)"),
            "notifyUrl参数格式异常:is not an http(s) URL",
        ),
        (
            "notifyUrl",
            json!(format!("https://his.example/{}", "n".repeat(237))),
            "notifyUrl参数格式异常:长度不能超过256",
        ),
        (
            "idNameOrder",
            json!("刘".repeat(81)),
            "idNameOrder参数格式异常:长度不能超过80",
        ),
        (
            "orderCreateTime",
            json!("2023/06/26"),
            "orderCreateTime参数格式异常:格式应为yyyy-MM-dd HH:mm:ss",
        ),
        (
            "idNumberOrder",
            json!("5".repeat(33)),
            "idNumberOrder参数格式异常:长度不能超过32",
        ),
        (
            "orderTitle",
            json!(true),
            "orderTitle参数格式异常:须为字符串或数值",
        ),
    ] {
        let mut data = serde_json::to_value(spec_order("E1", "https://his.example/n")).unwrap();
        data[field] = value;
        let reply = post(&gw, online, signed_body(&fields_for(&data, now_ms()))).await;
        expect(reply, "-102", "check.param.invalid", sub_msg);
    }
    // At the limits, counted in characters: a name of 80 (240 bytes), a notifyUrl of 256.
    let mut data = serde_json::to_value(spec_order(
        "E80",
        &format!("https://his.example/{}", "n".repeat(236)),
    ))
    .unwrap();
    data["idNameOrder"] = json!("刘".repeat(80));
    let reply = post(&gw, online, signed_body(&fields_for(&data, now_ms()))).await;
    assert_eq!(reply["biz_data"]["code"], "1", "{reply}");

    let refund = "/engine/rest/88800100002";
    for (data, sub_msg) in [
        (
            json!({"mchOrderId": "E1", "payOrderId": "1", "orderAmount": 1, "mchRefundId": "r".repeat(33)}),
            "mchRefundId参数格式异常:长度不能超过32",
        ),
        (
            json!({"mchOrderId": "E1", "payOrderId": "1", "orderAmount": -1, "mchRefundId": "r"}),
            "orderAmount参数格式异常:须为以分为单位的正整数",
        ),
        (
            json!({"mchOrderId": "E1", "payOrderId": "1", "orderAmount": 1}),
            "缺少mchRefundId参数",
        ),
    ] {
        let reply = post(&gw, refund, signed_body(&fields_for(&data, now_ms()))).await;
        let (_, _, got) = refusal(&reply);
        assert_eq!(got, sub_msg);
    }

    // -103: an unknown service (§4.4 static codes are not open), another version, a context
    // that is not the caller's.
    for path in [
        "/engine/rest/88800500001",
        "/engine/rest/",
        "/engine/rest",
        "/engine/rest/88800100001/x",
    ] {
        let reply = post(&gw, path, signed_body(&fields)).await;
        expect(
            reply,
            "-103",
            "check.service.undefine",
            "服务未定义或已下线",
        );
    }
    let reply = post(&gw, QUERY, with(&fields, "version", Some("2.0"))).await;
    expect(
        reply,
        "-103",
        "check.service.undefine",
        "服务未定义或已下线:版本号须为1.0",
    );
    let reply = post(&gw, "/other/rest/88800100001", signed_body(&fields)).await;
    expect(
        reply,
        "-103",
        "check.service.undefine",
        "服务未定义或已下线",
    );

    // -104, -105, -200.
    let reply = post(&gw, QUERY, with(&fields, "access_key", Some("NOSUCH"))).await;
    expect(
        reply,
        "-104",
        "check.system.forbidden",
        "接入系统不存在或已被禁用",
    );
    let mut forged: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    forged.push((
        "sign".into(),
        PrivateKey::generate()
            .unwrap()
            .sign(codec::string_to_sign(&forged).as_bytes()),
    ));
    let reply = post(&gw, QUERY, codec::encode_request(&forged)).await;
    expect(
        reply,
        "-105",
        "check.aop.invalid_sign",
        "数字证书签名验证失败",
    );
    let mut tampered = signed_body(&fields);
    tampered = tampered.replace("request_id=a666", "request_id=b666");
    let reply = post(&gw, QUERY, tampered).await;
    expect(
        reply,
        "-105",
        "check.aop.invalid_sign",
        "数字证书签名验证失败",
    );
    let other_app = json!({"aaz001": "1", "appid": "A999", "data": "x"}).to_string();
    let reply = post(&gw, QUERY, with(&fields, "biz_content", Some(&other_app))).await;
    expect(
        reply,
        "-200",
        "auth.insufficient.service_permissions",
        "无访问交易服务:appid不属于该接入系统",
    );

    // -300: the database is gone.
    gw.running.store.close().await;
    let reply = post(
        &gw,
        QUERY,
        signed_body(&fields_for(&query_data(), now_ms())),
    )
    .await;
    expect(reply, "-300", "run.error.internal", "服务内部运行错误");
}

#[tokio::test]
async fn the_busy_reply_is_the_tables_server_busy() {
    use paymux_dialects::Dialect;
    let uri: axum::http::Uri = "/engine/rest/88800200001".parse().unwrap();
    let response = paymux_dialects::hrss::Hrss.busy(&paymux_dialects::BusyRequest {
        uri: &uri,
        body: None,
    });
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"code":"-103","msg":"服务不可用","sub_code":"check.service.server_busy","sub_msg":"服务器繁忙"}"#
    );
}

/// A second hrss merchant, configured for plaintext `data`, under its own context.
fn add_plaintext_merchant(config: &mut paymux_server::config::Config) {
    let text = format!(
        r#"
[[merchant]]
id = "plain"
name = "Plain Clinic"

[merchant.hrss]
access_key = "PLAIN"
app_id = "P100"
mch_id = "M200"
context = "other"
plaintext = true
sm2_public_key = "{HRSS_MERCHANT_PUBLIC_KEY}"
sm4_key = "{HRSS_SM4_KEY}"
"#
    );
    let other = paymux_server::config::Config::parse(&text, "plain merchant").unwrap();
    config.merchants.extend(other.merchants);
}

#[tokio::test]
async fn a_plaintext_merchant_sends_and_receives_data_as_json() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, add_plaintext_merchant).await;
    let plain = HrssClient::new(
        &gw.url,
        "other",
        "PLAIN",
        "P100",
        merchant_key(),
        sm4(),
        true,
    )
    .unwrap();
    let merchant = Receiver::start().await;
    let answer = plain
        .online_order(&spec_order("PLAIN1", &merchant.url))
        .await
        .unwrap();
    let data = answer
        .reply
        .biz_data
        .as_ref()
        .unwrap()
        .data
        .as_ref()
        .unwrap();
    assert!(data.is_object(), "plain JSON: {data}");
    let reply: OrderReply = ok(&answer);
    let link: Value = serde_json::from_str(reply.pay_url.as_deref().unwrap()).unwrap();
    let id = order_id_of(&gw, link["url"].as_str().unwrap());
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    merchant.answer_with(&[r#"{"isSuccess":"1"}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    let body: Value = serde_json::from_str(&merchant.received()[0].body).unwrap();
    assert_eq!(body["data"]["payStatus"], "2");
    assert_eq!(body["appId"], "P100");
    let verified = plain
        .verify_notification(
            merchant.received()[0].body.as_bytes(),
            &platform_public_key(),
        )
        .unwrap();
    assert_eq!(verified.mch_order_id, "PLAIN1");
    // The encrypting merchant's client cannot speak for the plaintext one, and its orders
    // are its own.
    let query = QueryRequest {
        mch_order_id: Some("PLAIN1".into()),
        pay_order_id: Some(reply.pay_order_id),
    };
    let answer = client(&gw).query(&query).await.unwrap();
    assert_eq!(biz(&answer), ("0", "订单不存在"));
}

#[tokio::test]
async fn signatures_and_bodies_in_every_form_merchants_send_are_accepted() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let (pay_order_id, _) = paid_order(&gw, "1687837179580", 1, "https://his.example/n").await;
    let data = json!({"mchOrderId": "1687837179580", "payOrderId": pay_order_id});
    let key = merchant_key();
    // Each call its own request (its own request_id): the same one again is a replay.
    let request = || -> (Vec<(String, String)>, String) {
        let fields: Vec<(String, String)> = fields_for(&data, now_ms())
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let message = codec::string_to_sign(&fields);
        (fields, message)
    };
    let hex_of =
        |b64: String| hex_string(&paymux_dialects::hrss::crypto::decode_base64(&b64).unwrap());
    for shape in ["DER", "r‖s", "DER hex", "r‖s hex"] {
        let (mut form, message) = request();
        let der = key.sign(message.as_bytes());
        let raw = key.sign_raw(message.as_bytes());
        let sign = match shape {
            "DER" => der,
            "r‖s" => raw,
            "DER hex" => hex_of(der),
            _ => hex_of(raw),
        };
        form.push(("sign".into(), sign));
        let answer = client(&gw)
            .send(QUERY, &codec::encode_request(&form))
            .await
            .unwrap();
        let order: OrderData = ok(&answer);
        assert_eq!(order.pay_status, "2", "{shape}");
    }
    // A merchant that does not URL-encode at all: its base64 keeps its `+` (a request
    // with one is picked: not every body has one).
    let body = (0..100)
        .map(|_| {
            let (mut form, message) = request();
            form.push(("sign".into(), key.sign(message.as_bytes())));
            let unencoded: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
            unencoded.join("&")
        })
        .find(|body| body.contains('+'))
        .unwrap();
    assert!(body.contains('+'), "the test needs a + in the body: {body}");
    let order: OrderData = ok(&client(&gw).send(QUERY, &body).await.unwrap());
    assert_eq!(order.pay_status, "2");
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `paymux client hrss …` against the demo merchant; its reply as JSON.
fn cli(url: &str, data_dir: &std::path::Path, args: &[&str]) -> Value {
    let output = paymux()
        .args(["client", "hrss"])
        .args(args)
        .args(["--url", url, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "{args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

async fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

// The server and the clients are child processes: the real binary, its real logging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_of_the_demo_logs_no_id_number_name_or_payer_code() {
    const ID_NUMBER: &str = "11010119900307123X";
    const NAME: &str = "张三丰";
    const PAYER_CODE: &str = "62123456789012345678";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("paymux.log");
    let (server, url) = serve_logging_to(&["--data-dir".as_ref(), data.as_ref()], &log_path).await;
    let http = paymux_dialects::common::http_client().unwrap();

    // `paymux keys hrss` prints the platform key the notifications verify with; a
    // merchant's endpoint (`paymux client hrss listen`) checks them with it.
    let keys = paymux()
        .args(["keys", "hrss", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        keys.status.success(),
        "{}",
        String::from_utf8_lossy(&keys.stderr)
    );
    let platform = String::from_utf8(keys.stdout).unwrap().trim().to_owned();
    assert!(PublicKey::parse(&platform).is_ok(), "{platform}");
    let listen_port = free_port();
    let listen_log = dir.path().join("listen.log");
    let _listener = Child(
        paymux()
            .args([
                "client",
                "hrss",
                "listen",
                "--addr",
                &format!("127.0.0.1:{listen_port}"),
            ])
            .args(["--platform-public-key", &platform, "--data-dir"])
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&listen_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let notify = format!("http://127.0.0.1:{listen_port}/notify");

    let created = cli(
        &url,
        &data,
        &[
            "online-order",
            "--amount",
            "120",
            "--mch-order-id",
            "LOG1",
            "--id-number",
            ID_NUMBER,
            "--id-name",
            NAME,
            "--notify-url",
            &notify,
        ],
    );
    assert_eq!(created["biz_data"]["code"], "1", "{created}");
    let pay_order_id = created["biz_data"]["data"]["payOrderId"]
        .as_str()
        .unwrap()
        .to_owned();
    let link: Value =
        serde_json::from_str(created["biz_data"]["data"]["payUrl"].as_str().unwrap()).unwrap();
    let cashier = link["url"].as_str().unwrap();
    let id = cashier
        .strip_prefix(&format!("{url}/cashier/"))
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let paid = http
        .post(format!("{url}/sandbox/orders/{id}/pay"))
        .body(r#"{"result":"success"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    wait_for("the notification to verify at the merchant", || {
        std::fs::read_to_string(&listen_log)
            .unwrap_or_default()
            .contains("signature verified")
    })
    .await;

    let scanned = cli(
        &url,
        &data,
        &[
            "passive-scan",
            "--mch-order-id",
            "LOG2",
            "--qr-code",
            PAYER_CODE,
            "--id-number",
            ID_NUMBER,
            "--id-name",
            NAME,
        ],
    );
    assert_eq!(scanned["biz_data"]["code"], "1", "{scanned}");
    // Refusals that carry the personal data: too long, a payer code too long, a forged
    // signature.
    let refused = cli(
        &url,
        &data,
        &[
            "online-order",
            "--mch-order-id",
            "LOG3",
            "--id-number",
            &format!("{ID_NUMBER}{ID_NUMBER}"),
        ],
    );
    assert_eq!(refused["code"], "-102");
    let refused = cli(
        &url,
        &data,
        &[
            "passive-scan",
            "--mch-order-id",
            "LOG4",
            "--qr-code",
            &format!("{PAYER_CODE}{PAYER_CODE}"),
            "--id-name",
            NAME,
        ],
    );
    assert_eq!(refused["code"], "-102");
    let demo = paymux_server::config::Config::load(&data.join("demo-merchant.toml")).unwrap();
    let table = demo.merchants[0].table("hrss").unwrap().table;
    let sm4_key = table["sm4_key"].as_str().unwrap().to_owned();
    let merchant_private = table["sm2_private_key"].as_str().unwrap().to_owned();
    let mut order = serde_json::to_value(spec_order("LOG5", &notify)).unwrap();
    order["idNumberOrder"] = json!(ID_NUMBER);
    order["idNameOrder"] = json!(NAME);
    let sealed = Sm4Key::parse(&sm4_key).unwrap().encrypt(&order.to_string());
    let mut form: Vec<(String, String)> = vec![
        ("access_key".into(), "DOTEST".into()),
        (
            "biz_content".into(),
            json!({"aaz001": "1", "appid": "A203", "data": sealed}).to_string(),
        ),
        ("timestamp".into(), now_ms().to_string()),
        ("version".into(), "1.0".into()),
    ];
    let forged = PrivateKey::generate()
        .unwrap()
        .sign(codec::string_to_sign(&form).as_bytes());
    form.push(("sign".into(), forged));
    let reply = http
        .post(format!("{url}/engine/rest/88800200001"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(codec::encode_request(&form))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reply.contains("-105"), "{reply}");

    let queried = cli(
        &url,
        &data,
        &[
            "query",
            "--mch-order-id",
            "LOG1",
            "--pay-order-id",
            &pay_order_id,
        ],
    );
    assert_eq!(queried["biz_data"]["data"]["payStatus"], "2");
    let refunded = cli(
        &url,
        &data,
        &[
            "refund",
            "--mch-order-id",
            "LOG1",
            "--pay-order-id",
            &pay_order_id,
            "--amount",
            "20",
            "--mch-refund-id",
            "LOGR1",
        ],
    );
    assert_eq!(refunded["biz_data"]["data"]["refundStatus"], "1");

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("paymux is listening"), "{log}");
    assert!(
        log.contains("/engine/rest/88800200001"),
        "requests are logged: {log}"
    );
    for secret in [ID_NUMBER, NAME, PAYER_CODE, &sm4_key, &merchant_private] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    // Nor in what the merchant's endpoint printed to its log (it decrypts the data, which
    // never carried them).
    let listened = std::fs::read_to_string(&listen_log).unwrap();
    assert!(!listened.contains(ID_NUMBER) && !listened.contains(NAME));
}

// §4.4 static codes and §5.1.

/// The payer's ID number in the static-code tests: it must reach the merchant's system,
/// and nothing else.
const PAYER_ID: &str = "110101199003071234";

/// The demo merchant's hrss table gets these keys (static codes, order_query_url).
fn hrss_table(config: &mut paymux_server::config::Config, keys: &str) {
    let keys: toml::Table = toml::from_str(keys).unwrap();
    config.merchants[0]
        .dialects
        .get_mut("hrss")
        .unwrap()
        .extend(keys);
}

/// A static code's page URL, as the merchant gets it (paymux.staticCode).
/// The pay form of the offer `choice` on a page of offers, as the browser sends it with
/// `wallet`: its hidden fields (the choice, the plain answers, the sealed personal ones).
fn pick(html: &str, choice: usize, wallet: &str) -> String {
    let form = html
        .split("<form")
        .filter(|f| f.contains("name=\"choice\""))
        .nth(choice)
        .unwrap_or_else(|| panic!("no offer {choice} in {html}"));
    let mut fields: Vec<String> = form
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|input| {
            let (name, rest) = input.split_once('"').unwrap();
            let value = rest
                .split_once("value=\"")
                .and_then(|(_, v)| v.split_once('"'))
                .map(|(v, _)| v.replace("&amp;", "&"))
                .unwrap();
            form_urlencoded::Serializer::new(String::new())
                .append_pair(name, &value)
                .finish()
        })
        .collect();
    fields.push(format!("wallet={wallet}"));
    fields.join("&")
}

async fn static_code_url(gw: &TestGateway, code_ref: &str) -> String {
    let reply: StaticCodeReply = ok(&client(gw)
        .static_code(&StaticCodeRequest {
            code_ref: Some(code_ref.into()),
        })
        .await
        .unwrap());
    reply.code_url
}

/// A merchant's §5.1 order service on a free port, written from the spec alone: checks
/// the platform's signature by hand, decrypts, and answers the payer's unpaid orders in
/// the merchant's signed reply.
#[derive(Clone)]
struct MerchantSystem {
    url: String,
    /// The payers (idTypeOrder, idNumberOrder) it was asked about.
    asked: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    /// Its unpaid orders, as §5.1.3's orderData.
    orders: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl MerchantSystem {
    async fn start(orders: Vec<Value>) -> MerchantSystem {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let system = MerchantSystem {
            url: format!("http://{}/his/orders", listener.local_addr().unwrap()),
            asked: Default::default(),
            orders: std::sync::Arc::new(std::sync::Mutex::new(orders)),
        };
        let app = axum::Router::new()
            .route(
                "/his/orders",
                axum::routing::post(
                    |axum::extract::State(system): axum::extract::State<MerchantSystem>,
                     body: String| async move { system.answer(&body) },
                ),
            )
            .with_state(system.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        system
    }

    fn answer(&self, body: &str) -> (axum::http::StatusCode, String) {
        let request: Value = serde_json::from_str(body).unwrap();
        let keys: Vec<&str> = request
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["appId", "mchId", "data", "sign"], "{body}");
        let sealed = request["data"].as_str().unwrap();
        let signed = format!(
            "appId={}&data={sealed}&mchId={}",
            request["appId"].as_str().unwrap(),
            request["mchId"].as_str().unwrap()
        );
        if !platform_public_key().verify(signed.as_bytes(), request["sign"].as_str().unwrap()) {
            return (axum::http::StatusCode::FORBIDDEN, "bad sign".into());
        }
        assert_eq!(
            (&request["appId"], &request["mchId"]),
            (&json!(HRSS_APP_ID), &json!(HRSS_MCH_ID))
        );
        let payer: Value = serde_json::from_str(&sm4().decrypt(sealed).unwrap()).unwrap();
        let (id_type, id_number) = (
            payer["idTypeOrder"].as_str().unwrap().to_owned(),
            payer["idNumberOrder"].as_str().unwrap().to_owned(),
        );
        self.asked
            .lock()
            .unwrap()
            .push((id_type.clone(), id_number.clone()));
        let data = json!({
            "idTypeOrder": id_type,
            "idNumberOrder": id_number,
            "orderData": self.orders.lock().unwrap().clone(),
        });
        let sealed = sm4().encrypt(&data.to_string());
        let signed = format!("appId={HRSS_APP_ID}&data={sealed}&mchId={HRSS_MCH_ID}");
        let sign = merchant_key().sign(signed.as_bytes());
        let answer =
            json!({"appId": HRSS_APP_ID, "mchId": HRSS_MCH_ID, "data": sealed, "sign": sign});
        (axum::http::StatusCode::OK, answer.to_string())
    }

    fn asked(&self) -> Vec<(String, String)> {
        self.asked.lock().unwrap().clone()
    }
}

/// An unpaid order of the merchant's, as §5.1.3 lists it.
fn his_order(no: &str, amount: i64, title: &str, notify_url: Option<&str>) -> Value {
    let mut order = json!({
        "orderAmount": amount,
        "mchOrderId": no,
        "orderType": "10002",
        "orderCreateTime": "2026-12-06 09:30:00",
        "orderTitle": title,
        "orderDesc": "住院预交金",
    });
    if let Some(url) = notify_url {
        order["notifyUrl"] = json!(url);
    }
    order
}

/// Checks a §5.2 notification as the merchant's handler does, by hand: the platform's
/// signature over appId, data and mchId, then data decrypted with the merchant's key.
fn opened_notification(body: &str) -> Value {
    let body: Value = serde_json::from_str(body).unwrap();
    let sealed = body["data"].as_str().unwrap();
    let signed = format!("appId={HRSS_APP_ID}&data={sealed}&mchId={HRSS_MCH_ID}");
    assert!(platform_public_key().verify(signed.as_bytes(), body["sign"].as_str().unwrap()));
    serde_json::from_str(&sm4().decrypt(sealed).unwrap()).unwrap()
}

#[tokio::test]
async fn a_mode_1_static_code_takes_the_amount_the_payer_enters_and_notifies_the_codes_address() {
    let merchant = Receiver::start().await;
    let declared = format!(
        r#"static_codes = [{{ ref = "S1", mode = 1, subject = "门诊缴费", notify_url = "{}" }}]"#,
        merchant.url
    );
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| hrss_table(c, &declared)).await;

    // The merchant gets its code's page and QR image with its own keys.
    let answer = client(&gw)
        .static_code(&StaticCodeRequest {
            code_ref: Some("S1".into()),
        })
        .await
        .unwrap();
    let code: StaticCodeReply = ok(&answer);
    assert_eq!(
        (
            code.code_ref.as_str(),
            code.static_mode.as_str(),
            code.subject.as_str(),
            code.status.as_str()
        ),
        ("S1", "1", "门诊缴费", "active")
    );
    let stored = gw
        .running
        .operator
        .gateway()
        .find_code(
            &paymux_core::ids::MerchantId::new("demo"),
            paymux_core::store::CodeKey::Ref("S1"),
        )
        .await
        .unwrap();
    assert_eq!(
        code.code_url,
        format!("{}{}", gw.url, gw.code_path(stored.id.as_str()))
    );
    assert!(code.qr_image.starts_with("data:image/png;base64,iVBOR"));
    assert!(
        !answer
            .reply
            .biz_data
            .as_ref()
            .unwrap()
            .data
            .as_ref()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("bills"),
        "its data travels encrypted"
    );
    let unknown = client(&gw)
        .static_code(&StaticCodeRequest {
            code_ref: Some("S9".into()),
        })
        .await
        .unwrap();
    assert_eq!(biz(&unknown), ("0", "静态码不存在"));

    // The payer scans it, enters ¥12.50 and pays with WeChat; §6.1's wallets only.
    let html = page(&code.code_url).await;
    for shown in [
        "Demo Hospital",
        "门诊缴费",
        "name=\"amount\"",
        "社保卡",
        "微信支付",
        "支付宝",
    ] {
        assert!(html.contains(shown), "{shown} in {html}");
    }
    assert!(!html.contains("银联"), "{html}");
    let refused = post_page(
        &format!("{}/pay", code.code_url),
        "amount=1&wallet=unionpay",
    )
    .await;
    assert_eq!(refused.status(), 400);
    let went = post_page(
        &format!("{}/pay", code.code_url),
        "amount=12.50&wallet=wechat",
    )
    .await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    let id = order_id_of(&gw, &cashier);
    let paid = post_page(&format!("{cashier}/pay"), "result=success").await;
    assert_eq!(paid.status(), 303);

    // Notified to the code's address, in §5.2's form, with paymux's mchOrderId.
    merchant.answer_with(&[r#"{"isSuccess":"1"}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    let data = opened_notification(&merchant.received()[0].body);
    let no = data["mchOrderId"].as_str().unwrap().to_owned();
    assert_eq!(no.len(), 24, "{no}");
    assert!(no.bytes().all(|b| b.is_ascii_digit()), "{no}");
    assert_eq!(data["payStatus"], "2");
    assert_eq!(data["wayCode"], "WX");
    assert_eq!(data["orderAmount"], 1250);
    assert_eq!(data["totalAmount"], 1250);
    assert_eq!(data["appid"], HRSS_APP_ID);
    let pay_order_id = data["payOrderId"].as_str().unwrap().to_owned();
    assert!(convert::names(
        &paymux_core::ids::PlatformId::from_string(id),
        &pay_order_id
    ));

    // The merchant may look the payment up, and refund it, like any order.
    let query = QueryRequest {
        mch_order_id: Some(no.clone()),
        pay_order_id: Some(pay_order_id.clone()),
    };
    let found: OrderData = ok(&client(&gw).query(&query).await.unwrap());
    assert_eq!(
        (
            found.pay_status.as_str(),
            found.way_code.as_deref(),
            found.order_amount
        ),
        ("2", Some("WX"), Some(1250))
    );
    let refunded: RefundData = ok(&client(&gw)
        .refund(&refund_request(&no, &pay_order_id, 250, "S1R1"))
        .await
        .unwrap());
    assert_eq!(refunded.refund_amount, Some(250));
}

#[tokio::test]
async fn a_static_code_follows_its_declaration_across_restarts_and_closes_for_good() {
    let declare = |subject: &str, closed: bool| {
        format!(
            r#"static_codes = [{{ ref = "S1", mode = 1, subject = "{subject}", notify_url = "https://his.example/n", closed = {closed} }}]"#
        )
    };
    let first = declare("门诊缴费", false);
    // PostgreSQL: two instances share it (SQLite is one process's).
    let gw = TestGateway::spawn_with(Backend::Postgres, |c| hrss_table(c, &first)).await;
    // The page's path: each restart listens on another port.
    let path = |gw: &TestGateway, url: String| url.strip_prefix(&gw.url).unwrap().to_owned();
    let code_path = path(&gw, static_code_url(&gw, "S1").await);
    assert!(
        page(&format!("{}{code_path}", gw.url))
            .await
            .contains("门诊缴费")
    );

    // The same declaration again: the same code, the same printed QR.
    let gw = gw.restart().await;
    assert_eq!(path(&gw, static_code_url(&gw, "S1").await), code_path);
    // A new subject: the same code, updated.
    let renamed = declare("挂号缴费", false);
    let gw = gw.restart_with(|c| hrss_table(c, &renamed)).await;
    assert_eq!(path(&gw, static_code_url(&gw, "S1").await), code_path);
    let url = format!("{}{code_path}", gw.url);
    assert!(page(&url).await.contains("挂号缴费"));
    // Closed: its page takes no payment, and a second instance agrees.
    let closed = declare("挂号缴费", true);
    let gw = gw.restart_with(|c| hrss_table(c, &closed)).await;
    let other = gw.another_instance().await;
    let url = format!("{}{code_path}", gw.url);
    assert!(page(&url).await.contains("二维码已失效"));
    let code: StaticCodeReply = ok(&client(&other)
        .static_code(&StaticCodeRequest {
            code_ref: Some("S1".into()),
        })
        .await
        .unwrap());
    assert_eq!(code.status, "closed");
    let refused = post_page(&format!("{url}/pay"), "amount=1&wallet=wechat").await;
    assert!(refused.text().await.unwrap().contains("账单已支付或关闭"));
}

#[tokio::test]
async fn static_code_declarations_are_refused_at_start_when_they_cannot_work() {
    for (keys, why) in [
        (
            r#"static_codes = [{ ref = "S2", mode = 2, subject = "住院", notify_url = "https://his.example/n" }]"#,
            "order_query_url",
        ),
        (
            r#"static_codes = [{ ref = "S1", mode = 1, subject = "x", notify_url = "https://his.example/n" }, { ref = "S1", mode = 1, subject = "y", notify_url = "https://his.example/n" }]"#,
            "declared twice",
        ),
    ] {
        let mut config = paymux_server::config::Config::parse(
            &crate::helpers::config_text("sqlite://unused.db"),
            "test",
        )
        .unwrap();
        hrss_table(&mut config, keys);
        let error = paymux_dialects::dialect("hrss")
            .unwrap()
            .check(&config.tables_of("hrss"))
            .unwrap_err();
        assert!(
            error.contains("static_codes") && error.contains(why),
            "{error}"
        );
    }
    // A loopback notify address is refused unless private callbacks are allowed.
    let dir = tempfile::tempdir().unwrap();
    let mut config = paymux_server::config::Config::parse(
        &crate::helpers::config_text(&format!("sqlite://{}/paymux.db", dir.path().display())),
        "test",
    )
    .unwrap();
    config.server.allow_private_callbacks = false;
    hrss_table(
        &mut config,
        r#"static_codes = [{ ref = "S1", mode = 1, subject = "x", notify_url = "http://127.0.0.1:9000/notify" }]"#,
    );
    let clock = std::sync::Arc::new(paymux_core::clock::ManualClock::new(
        paymux_core::time::Millis(now_ms()),
    ));
    let error =
        paymux_server::startup::start(config, clock, paymux_server::startup::Workers::Manual)
            .await
            .err()
            .expect("refused");
    assert!(error.to_string().contains("S1: notify_url"), "{error}");
}

#[tokio::test]
async fn a_mode_2_static_code_asks_the_merchants_system_and_pays_the_order_the_payer_picks() {
    let gw_notify = Receiver::start().await;
    let code_notify = Receiver::start().await;
    let his = MerchantSystem::start(vec![
        his_order("ZY20261206001", 20, "住院预交金 张三", Some(&gw_notify.url)),
        // Left out: orderType "02" is not in §6.1's table.
        json!({"orderAmount": 35, "mchOrderId": "ZY20261206002", "orderType": "02",
               "orderCreateTime": "2026-12-06 09:31:00", "orderTitle": "不该出现的订单"}),
        his_order("ZY20261206003", 1800, "检验费", None),
    ])
    .await;
    let declared = format!(
        r#"
order_query_url = "{}"
static_codes = [{{ ref = "S2", mode = 2, subject = "住院缴费", notify_url = "{}" }}]
"#,
        his.url, code_notify.url
    );
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| hrss_table(c, &declared)).await;
    let url = static_code_url(&gw, "S2").await;

    // The page asks the payer's ID before it asks the merchant.
    let html = page(&url).await;
    assert!(
        html.contains("name=\"idTypeOrder\"") && html.contains("name=\"idNumberOrder\""),
        "{html}"
    );
    assert!(his.asked().is_empty());
    let lookup = format!("idTypeOrder=01&idNumberOrder={PAYER_ID}");
    let offers = post_page(&url, &lookup).await;
    assert_eq!(offers.status(), 200);
    let html = offers.text().await.unwrap();
    assert_eq!(his.asked(), [("01".to_owned(), PAYER_ID.to_owned())]);
    // The ID number does not come back to the browser: the pay forms carry it sealed.
    assert!(
        !html.contains(PAYER_ID),
        "the ID number on the page: {html}"
    );
    assert!(html.contains("name=\"sealed\""), "{html}");
    for shown in ["住院预交金 张三", "¥0.20", "检验费", "¥18.00", "社保卡"] {
        assert!(html.contains(shown), "{shown} in {html}");
    }
    assert!(
        !html.contains("不该出现的订单"),
        "the invalid entry is left out"
    );
    // A wrong ID type is the payer's mistake: said to them, and the merchant is not asked.
    let wrong = post_page(&url, &format!("idTypeOrder=07&idNumberOrder={PAYER_ID}")).await;
    assert_eq!(wrong.status(), 400);
    let said = wrong.text().await.unwrap();
    assert!(said.contains("请检查证件类型/号码"), "{said}");
    assert!(!said.contains(PAYER_ID), "{said}");
    assert_eq!(his.asked().len(), 1);

    // A pay form without the sealed answers, with them altered, or with the number in
    // clear: the payer looks up again, and the merchant is not asked.
    let sealed_pick = pick(&html, 0, "social_security");
    for forged in [
        "choice=0&q.idTypeOrder=01&wallet=social_security".to_owned(),
        format!("choice=0&q.idTypeOrder=01&q.idNumberOrder={PAYER_ID}&wallet=social_security"),
        sealed_pick.replacen("sealed=", "sealed=A", 1),
    ] {
        let refused = post_page(&format!("{url}/pay"), &forged).await;
        assert_eq!(refused.status(), 200, "{forged}");
        assert!(
            refused.text().await.unwrap().contains("重新查询"),
            "{forged}"
        );
    }
    assert_eq!(his.asked().len(), 1);

    // The payer picks the first, tries with 社保卡 and cancels, then pays it.
    let went = post_page(&format!("{url}/pay"), &sealed_pick).await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(his.asked().len(), 2, "asked again for what is paid");
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=fail")
            .await
            .status(),
        303
    );
    let again = post_page(&format!("{url}/pay"), &sealed_pick).await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        cashier,
        "the merchant's order is one bill however often it is picked"
    );
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );

    // Notified to the order's notifyUrl, under the merchant's mchOrderId.
    gw_notify.answer_with(&[r#"{"isSuccess":"1"}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    assert!(code_notify.received().is_empty());
    let data = opened_notification(&gw_notify.received()[0].body);
    assert_eq!(data["mchOrderId"], "ZY20261206001");
    assert_eq!(data["payStatus"], "2");
    assert_eq!(data["wayCode"], "SBK");
    assert_eq!(data["orderAmount"], 20);
    let pay_order_id = data["payOrderId"].as_str().unwrap().to_owned();
    let verified = client(&gw)
        .verify_notification(
            gw_notify.received()[0].body.as_bytes(),
            &platform_public_key(),
        )
        .unwrap();
    assert_eq!(verified.mch_order_id, "ZY20261206001");
    let found: OrderData = ok(&client(&gw)
        .query(&QueryRequest {
            mch_order_id: Some("ZY20261206001".into()),
            pay_order_id: Some(pay_order_id),
        })
        .await
        .unwrap());
    assert_eq!(
        (found.pay_status.as_str(), found.way_code.as_deref()),
        ("2", Some("SBK"))
    );

    // The merchant's system has not caught up: the paid order is not offered again.
    let html = post_page(&url, &lookup).await.text().await.unwrap();
    assert!(
        !html.contains("住院预交金 张三") && html.contains("检验费"),
        "{html}"
    );
    // The second order has no notifyUrl of its own: the code's address is told. A page
    // left open longer than the sealed answers last is looked up again.
    let expired = pick(&html, 0, "alipay");
    gw.advance(31 * 60);
    let refused = post_page(&format!("{url}/pay"), &expired).await;
    assert!(refused.text().await.unwrap().contains("重新查询"));
    let html = post_page(&url, &lookup).await.text().await.unwrap();
    let went = post_page(&format!("{url}/pay"), &pick(&html, 0, "alipay")).await;
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );
    code_notify.answer_with(&[r#"{"isSuccess":"1"}"#]);
    assert_eq!(gw.deliver().await.delivered, 1);
    let data = opened_notification(&code_notify.received()[0].body);
    assert_eq!(
        (&data["mchOrderId"], &data["wayCode"], &data["orderAmount"]),
        (&json!("ZY20261206003"), &json!("ALI"), &json!(1800))
    );

    // Nothing left to pay: the page says so.
    his.orders.lock().unwrap().clear();
    let html = post_page(&url, &lookup).await.text().await.unwrap();
    assert!(html.contains("没有待缴费用"), "{html}");
}

#[tokio::test]
async fn a_merchants_answer_that_does_not_verify_shows_nothing_to_pay() {
    let his = MerchantSystem::start(vec![his_order("ZY1", 20, "住院预交金", None)]).await;
    let declared = format!(
        r#"
order_query_url = "{}"
static_codes = [{{ ref = "S2", mode = 2, subject = "住院缴费", notify_url = "https://his.example/n" }}]
"#,
        his.url
    );
    // The merchant's public key in paymux is not the one its system signs with.
    let other = PrivateKey::generate().unwrap().public_key().to_hex();
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        hrss_table(c, &declared);
        let hrss = c.merchants[0].dialects.get_mut("hrss").unwrap();
        hrss.remove("sm2_private_key");
        hrss.insert("sm2_public_key".into(), other.clone().into());
    })
    .await;
    let code = gw
        .running
        .operator
        .gateway()
        .find_code(
            &paymux_core::ids::MerchantId::new("demo"),
            paymux_core::store::CodeKey::Ref("S2"),
        )
        .await
        .unwrap();
    let url = format!("{}{}", gw.url, gw.code_path(code.id.as_str()));
    let answer = post_page(&url, &format!("idTypeOrder=01&idNumberOrder={PAYER_ID}")).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("暂时无法获取账单"));
    assert_eq!(his.asked().len(), 1);
    // No offers, so no sealed answers: a pay form made up without them is looked up again.
    let paid = post_page(
        &format!("{url}/pay"),
        &format!("choice=0&q.idTypeOrder=01&q.idNumberOrder={PAYER_ID}&wallet=wechat"),
    )
    .await;
    assert!(paid.text().await.unwrap().contains("重新查询"));
    assert_eq!(his.asked().len(), 1);
}

// The server, and the client printing a code, are the real binary with its real logging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_of_static_codes_logs_no_id_number() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Receiver::start().await;
    let his = MerchantSystem::start(vec![
        his_order("LOGZY1", 20, "住院预交金", None),
        json!({"orderAmount": -5, "mchOrderId": "LOGZY2", "orderType": "10002",
               "orderCreateTime": "2026-12-06 09:31:00", "orderTitle": "坏订单"}),
    ])
    .await;
    let config_path = dir.path().join("paymux.toml");
    // The declarations go into the merchant's [merchant.hrss] table.
    let config = crate::helpers::config_text(&format!("sqlite://{}/paymux.db", dir.path().display()))
        .replacen(
            "[merchant.hrss]\n",
            &format!(
                "[merchant.hrss]\norder_query_url = \"{}\"\nstatic_codes = [\n  {{ ref = \"S1\", mode = 1, subject = \"门诊缴费\", notify_url = \"{notify}\" }},\n  {{ ref = \"S2\", mode = 2, subject = \"住院缴费\", notify_url = \"{notify}\" }},\n]\n",
                his.url,
                notify = notify.url,
            ),
            1,
        );
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.path().join("paymux.log");
    let (server, url) =
        serve_logging_to(&["--config".as_ref(), config_path.as_ref()], &log_path).await;

    // The merchant prints its code's page and QR image.
    let png = dir.path().join("s2.png");
    let output = paymux()
        .args(["client", "--url", &url, "--config"])
        .arg(&config_path)
        .args(["hrss", "static-code", "--ref", "S2", "--save-png"])
        .arg(&png)
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    let code_url = printed["biz_data"]["data"]["codeUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        code_url.starts_with(&format!("{url}/bills/Q")),
        "{code_url}"
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));

    // The payer looks up their orders and pays the valid one.
    let lookup = format!("idTypeOrder=01&idNumberOrder={PAYER_ID}");
    let html = post_page(&code_url, &lookup).await.text().await.unwrap();
    assert!(
        html.contains("住院预交金") && !html.contains("坏订单"),
        "{html}"
    );
    assert!(!html.contains(PAYER_ID), "{html}");
    let went = post_page(
        &format!("{code_url}/pay"),
        &pick(&html, 0, "social_security"),
    )
    .await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    let paid = post_page(&format!("{cashier}/pay"), "result=success").await;
    assert_eq!(paid.status(), 303);
    notify.answer_with(&[r#"{"isSuccess":"1"}"#]);
    wait_for("the notification", || !notify.received().is_empty()).await;
    let data = opened_notification(&notify.received()[0].body);
    assert_eq!(
        (&data["mchOrderId"], &data["wayCode"]),
        (&json!("LOGZY1"), &json!("SBK"))
    );
    // A payer's mistake with their ID in it.
    let wrong = post_page(
        &code_url,
        &format!("idTypeOrder=01&idNumberOrder={PAYER_ID}{PAYER_ID}"),
    )
    .await;
    assert_eq!(wrong.status(), 400);
    assert!(his.asked().iter().all(|(_, n)| n == PAYER_ID));

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("hrss static code ready"), "{log}");
    assert!(
        log.contains(&code_url),
        "each code's page is logged at start: {log}"
    );
    assert!(
        log.contains("LOGZY2") && log.contains("left out"),
        "the invalid entry is logged: {log}"
    );
    assert!(!log.contains(PAYER_ID), "the ID number in the log:\n{log}");
    assert!(!log.contains(HRSS_SM4_KEY) && !log.contains(HRSS_PLATFORM_PRIVATE_KEY));
}

/// §4.5's query of `no` / `pay_order_id`, answered with the order.
async fn queried(gw: &TestGateway, no: &str, pay_order_id: &str) -> OrderData {
    ok(&client(gw)
        .query(&QueryRequest {
            mch_order_id: Some(no.into()),
            pay_order_id: Some(pay_order_id.into()),
        })
        .await
        .unwrap())
}

#[tokio::test]
async fn a_query_always_answers_a_code_table_way_code() {
    let declared = r#"static_codes = [{ ref = "S1", mode = 1, subject = "门诊缴费", notify_url = "https://his.example/n" }]"#;
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| hrss_table(c, declared)).await;
    let merchant = paymux_core::ids::MerchantId::new("demo");

    // A static code's bill before the payer chose a wallet: no try, and wayCode is still
    // there (§4.5.3 requires it), the platform's SBK.
    let code = gw
        .running
        .operator
        .gateway()
        .find_code(&merchant, paymux_core::store::CodeKey::Ref("S1"))
        .await
        .unwrap();
    let bill = gw
        .running
        .operator
        .bill_from_code(
            &code.id,
            paymux_core::gateway::BillFromCode {
                amount: Some(paymux_core::Fen::positive(300).unwrap()),
                ..Default::default()
            },
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
    let found = queried(
        &gw,
        bill.merchant_order_no.as_str(),
        &convert::wire_id(&bill.id),
    )
    .await;
    assert_eq!(
        (found.pay_status.as_str(), found.way_code.as_deref()),
        ("0", Some("SBK"))
    );

    // An order the merchant made through xxpay with UnionPay (云闪付, 8019), a wallet §6.1
    // does not list: SBK, not a value outside the table.
    let reply = gw
        .xxpay
        .create_order(&paymux_dialects::xxpay::wire::CreateOrderRequest {
            product_id: Some("8019".into()),
            mch_order_no: Some("UNION1".into()),
            notify_url: Some("https://his.example/n".into()),
            currency: Some("cny".into()),
            amount: Some("7".into()),
            subject: Some("s".into()),
            body: Some("b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = reply
        .pay_order_id
        .clone()
        .unwrap_or_else(|| panic!("{reply:?}"));
    assert_eq!(gw.pay(&id, "success").await.status(), 200);
    let found = queried(&gw, "UNION1", &id).await;
    assert_eq!(
        (found.pay_status.as_str(), found.way_code.as_deref()),
        ("2", Some("SBK"))
    );

    // The table's own wallets are themselves.
    let reply: OrderReply = ok(&client(&gw)
        .online_order(&OrderRequest {
            way_code: Some("ALI".into()),
            ..spec_order("ALI1", "https://his.example/n")
        })
        .await
        .unwrap());
    let found = queried(&gw, "ALI1", &reply.pay_order_id).await;
    assert_eq!(found.way_code.as_deref(), Some("ALI"));
}

#[tokio::test]
async fn a_replayed_request_is_refused_and_changes_nothing() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let (pay_order_id, id) = paid_order(&gw, "REPLAY1", 10, "https://his.example/n").await;
    let refund = "/engine/rest/88800100002";
    let refund_data = |refund_id: &str| json!({"mchOrderId": "REPLAY1", "payOrderId": pay_order_id, "orderAmount": 3, "mchRefundId": refund_id});
    let replayed = |reply: &Value| {
        let (code, sub_code, sub_msg) = refusal(reply);
        assert_eq!(
            (code.as_str(), sub_code.as_str()),
            ("-102", "check.param.invalid"),
            "{reply}"
        );
        assert!(sub_msg.starts_with("request_id参数格式异常:"), "{sub_msg}");
        assert!(sub_msg.contains("重放"), "{sub_msg}");
    };
    // The order's refunds: how many, and their sum.
    let refunds = || async {
        let refunds = gw
            .running
            .operator
            .gateway()
            .refunds_of_order(
                &paymux_core::ids::MerchantId::new("demo"),
                &paymux_core::ids::PlatformId::from_string(id.clone()),
            )
            .await
            .unwrap();
        (
            refunds.len(),
            refunds.iter().map(|r| r.amount.get()).sum::<i64>(),
        )
    };

    // A refund, captured and sent again as it was: refused, and still one refund of 3.
    let body = signed_body(&fields_for(&refund_data("RR1"), now_ms()));
    let first = post(&gw, refund, body.clone()).await;
    assert_eq!(first["biz_data"]["code"], "1", "{first}");
    assert_eq!(refunds().await, (1, 3));
    replayed(&post(&gw, refund, body.clone()).await);
    assert_eq!(refunds().await, (1, 3));

    // The same request_id with other content signed anew is refused too: the id is the
    // request's, once.
    let mut fields = fields_for(&refund_data("RR2"), now_ms());
    let request_id = form_value(&body, "request_id");
    for (k, v) in fields.iter_mut() {
        if *k == "request_id" {
            *v = request_id.clone();
        }
    }
    replayed(&post(&gw, refund, signed_body(&fields)).await);
    assert_eq!(refunds().await, (1, 3));

    // Without a request_id (it is optional), the signed content is what is remembered:
    // the same request again is refused, even signed as raw r‖s instead of DER.
    let fields = fields_for(&refund_data("RR3"), now_ms());
    let body = with(&fields, "request_id", None);
    assert!(!body.contains("request_id"));
    let first = post(&gw, refund, body.clone()).await;
    assert_eq!(first["biz_data"]["code"], "1", "{first}");
    assert_eq!(refunds().await, (2, 6));
    replayed(&post(&gw, refund, body).await);
    let mut form: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| *k != "request_id")
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let raw = merchant_key().sign_raw(codec::string_to_sign(&form).as_bytes());
    form.push(("sign".into(), raw));
    replayed(&post(&gw, refund, codec::encode_request(&form)).await);
    assert_eq!(refunds().await, (2, 6));

    // A new request_id is a new request.
    let next = post(
        &gw,
        refund,
        signed_body(&fields_for(&refund_data("RR4"), now_ms())),
    )
    .await;
    assert_eq!(next["biz_data"]["code"], "1", "{next}");
    assert_eq!(refunds().await, (3, 9));
}

/// The decoded value of a field of a form body.
fn form_value(body: &str, name: &str) -> String {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

#[tokio::test]
async fn an_unacknowledged_notification_is_retried_through_the_whole_schedule_then_given_up() {
    use paymux_core::clock::Clock;
    // mod.rs: "retried after 15 s, 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 3 h, 4 h, 6 h
    // and 7 h: twelve tries, the last 23 h 51 min after the first".
    let documented: [i64; 11] = [
        15,
        60,
        5 * 60,
        15 * 60,
        30 * 60,
        3600,
        2 * 3600,
        3 * 3600,
        4 * 3600,
        6 * 3600,
        7 * 3600,
    ];
    assert_eq!(
        paymux_dialects::hrss::RETRY_DELAYS_S,
        documented.map(|d| d as u64)
    );
    assert_eq!(documented.iter().sum::<i64>(), 23 * 3600 + 51 * 60 + 15);

    let gw = TestGateway::spawn(Backend::Sqlite).await;
    // It answers `success`, which is not hrss's acknowledgement.
    let merchant = Receiver::start().await;
    paid_order(&gw, "GIVEUP1", 5, &merchant.url).await;
    let first = gw.clock.now();
    assert_eq!(gw.deliver().await.retried, 1, "the first try at once");
    for (i, delay) in documented.into_iter().enumerate() {
        let retry = i + 1;
        gw.advance(delay - 1);
        assert_eq!(
            gw.deliver().await.attempts(),
            0,
            "retry {retry} not before {delay} s"
        );
        gw.advance(1);
        let round = gw.deliver().await;
        if retry < documented.len() {
            assert_eq!(
                round.retried, 1,
                "retry {retry} {delay} s after the last try"
            );
        } else {
            assert_eq!(round.gave_up, 1, "the twelfth try is the last");
        }
        assert_eq!(merchant.received().len(), retry + 1);
    }
    assert_eq!(
        gw.clock.now().0 - first.0,
        (23 * 3600 + 51 * 60 + 15) * 1000,
        "the last try 23 h 51 min after the first"
    );
    // Given up: nothing more, however long.
    gw.advance(7 * 24 * 3600);
    assert_eq!(gw.deliver().await.attempts(), 0);
    let received = merchant.received();
    assert_eq!(received.len(), 12);
    // Every try was the payment's notification, signed by the platform.
    for sent in &received {
        let data = opened_notification(&sent.body);
        assert_eq!(
            (&data["mchOrderId"], &data["payStatus"]),
            (&json!("GIVEUP1"), &json!("2"))
        );
    }
}

#[tokio::test]
async fn a_loopback_notify_url_is_refused_naming_the_setting_that_allows_it() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.allow_private_callbacks = false
    })
    .await;
    let data = serde_json::to_value(spec_order("LOOP1", "http://127.0.0.1:9/n")).unwrap();
    let reply = post(
        &gw,
        "/engine/rest/88800200001",
        signed_body(&fields_for(&data, now_ms())),
    )
    .await;
    let (code, sub_code, sub_msg) = refusal(&reply);
    assert_eq!(
        (code.as_str(), sub_code.as_str()),
        ("-102", "check.param.invalid")
    );
    assert_eq!(
        sub_msg,
        "notifyUrl参数格式异常:points at a loopback, private or link-local address \
         ([server] allow_private_callbacks = true allows it)"
    );
}

/// A gateway whose demo merchant has mode 2 static code S2 asking `order_query_url`, and
/// the code's page.
async fn mode_2_code(
    order_query_url: &str,
    tweak: impl FnOnce(&mut paymux_server::config::Config),
) -> (TestGateway, String) {
    let declared = format!(
        r#"
order_query_url = "{order_query_url}"
static_codes = [{{ ref = "S2", mode = 2, subject = "住院缴费", notify_url = "https://his.example/n" }}]
"#
    );
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        hrss_table(c, &declared);
        tweak(c);
    })
    .await;
    let code = gw
        .running
        .operator
        .gateway()
        .find_code(
            &paymux_core::ids::MerchantId::new("demo"),
            paymux_core::store::CodeKey::Ref("S2"),
        )
        .await
        .unwrap();
    let url = format!("{}{}", gw.url, gw.code_path(code.id.as_str()));
    (gw, url)
}

#[tokio::test]
async fn a_payers_mistake_on_a_lookup_is_a_400_saying_what_to_correct_and_a_silent_merchant_a_502()
{
    let his = MerchantSystem::start(vec![his_order("ZY1", 20, "住院预交金", None)]).await;
    let (_gw, url) = mode_2_code(&his.url, |_| {}).await;
    let too_long = "1".repeat(33);
    for (form, says) in [
        (
            format!("idTypeOrder=07&idNumberOrder={PAYER_ID}"),
            "证件类型应为01、90或99",
        ),
        (
            format!("idTypeOrder=01&idNumberOrder={too_long}"),
            "证件号码长度不能超过32",
        ),
        ("idTypeOrder=01&idNumberOrder=".to_owned(), "请填写证件号码"),
        (
            "idTypeOrder=01&idNumberOrder=1%E4%B8%80".to_owned(),
            "证件号码含有非法字符",
        ),
    ] {
        let answer = post_page(&url, &form).await;
        assert_eq!(answer.status(), 400, "{form}");
        let html = answer.text().await.unwrap();
        assert!(
            html.contains("请检查证件类型/号码") && html.contains(says),
            "{form}: {html}"
        );
        // The questions again, to correct; what was typed is not shown back.
        assert!(html.contains("name=\"idNumberOrder\""), "{html}");
        assert!(
            !html.contains(PAYER_ID) && !html.contains(&too_long),
            "{html}"
        );
    }
    assert!(his.asked().is_empty(), "the merchant is not asked");

    // A pay form whose plain answer was altered after the lookup: the same, on paying.
    let html = post_page(&url, &format!("idTypeOrder=01&idNumberOrder={PAYER_ID}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(his.asked().len(), 1);
    let altered = pick(&html, 0, "wechat").replace("q.idTypeOrder=01", "q.idTypeOrder=07");
    let refused = post_page(&format!("{url}/pay"), &altered).await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("请检查证件类型/号码")
    );
    assert_eq!(his.asked().len(), 1);

    // The merchant's system not answering is not the payer's doing: 502.
    let (_gw, url) = mode_2_code(
        &format!("http://127.0.0.1:{}/his/orders", free_port()),
        |_| {},
    )
    .await;
    let answer = post_page(&url, &format!("idTypeOrder=01&idNumberOrder={PAYER_ID}")).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("暂时无法获取账单"));
}

/// paymux's bill for a merchant's order number, if it made one.
async fn bill_of(gw: &TestGateway, no: &str) -> Option<paymux_core::order::Order> {
    let no = paymux_core::ids::MerchantOrderNo::parse(no, 32).unwrap();
    match gw
        .running
        .operator
        .gateway()
        .find_order(
            &paymux_core::ids::MerchantId::new("demo"),
            paymux_core::store::OrderKey::Merchant(&no),
        )
        .await
    {
        Ok(order) => Some(order),
        Err(paymux_core::Error::OrderNotFound) => None,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn the_order_the_payer_clicked_is_paid_though_the_list_moved_and_none_once_it_changed() {
    let his = MerchantSystem::start(vec![
        his_order("ZYA", 20, "住院预交金", None),
        his_order("ZYB", 1800, "检验费", None),
        his_order("ZYC", 300, "挂号费", None),
    ])
    .await;
    let (gw, url) = mode_2_code(&his.url, |_| {}).await;
    let html = post_page(&url, &format!("idTypeOrder=01&idNumberOrder={PAYER_ID}"))
        .await
        .text()
        .await
        .unwrap();
    let (a, b, c) = (
        pick(&html, 0, "alipay"),
        pick(&html, 1, "wechat"),
        pick(&html, 2, "wechat"),
    );
    assert!(b.contains("ZYB"), "the form names the order: {b}");

    // Meanwhile ZYA was paid at the hospital's window and a new order came first.
    *his.orders.lock().unwrap() = vec![
        his_order("ZYN", 5000, "新开检查", None),
        his_order("ZYC", 300, "挂号费", None),
        his_order("ZYB", 1800, "检验费", None),
    ];
    // The payer clicked 检验费: that order is paid, now third in the list.
    let went = post_page(&format!("{url}/pay"), &b).await;
    assert_eq!(went.status(), 303, "{:?}", went.text().await);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    let id = paymux_core::ids::PlatformId::from_string(order_id_of(&gw, &cashier));
    let bill = gw.running.operator.order_by_id(&id).await.unwrap();
    assert_eq!(
        (bill.merchant_order_no.as_str(), bill.amount.get()),
        ("ZYB", 1800)
    );

    // The order that dropped out: the payer is told, and nothing starts.
    let gone = post_page(&format!("{url}/pay"), &a).await;
    assert_eq!(gone.status(), 409);
    assert!(gone.text().await.unwrap().contains("账单已变化,请重新选择"));
    // An order whose amount changed: the same.
    his.orders.lock().unwrap()[1] = his_order("ZYC", 350, "挂号费", None);
    let changed = post_page(&format!("{url}/pay"), &c).await;
    assert_eq!(changed.status(), 409);
    assert!(
        changed
            .text()
            .await
            .unwrap()
            .contains("账单已变化,请重新选择")
    );
    for no in ["ZYA", "ZYC", "ZYN"] {
        assert!(bill_of(&gw, no).await.is_none(), "{no} was billed");
    }
}

/// A merchant's §5.1 service that answers with the body it is given, byte for byte, and
/// keeps the requests it got.
#[derive(Clone, Default)]
struct ScriptedHis {
    answer: std::sync::Arc<std::sync::Mutex<String>>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ScriptedHis {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/his/orders", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(
                |axum::extract::State(his): axum::extract::State<ScriptedHis>,
                 body: String| async move {
                    his.requests.lock().unwrap().push(body);
                    his.answer.lock().unwrap().clone()
                },
            )
            .with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    fn answer_with(&self, body: String) {
        *self.answer.lock().unwrap() = body;
    }
}

#[tokio::test]
async fn a_merchants_answer_is_taken_unsigned_as_the_spec_shows_it_and_verified_over_its_own_text_when_signed()
 {
    let his = ScriptedHis::default();
    let his_url = his.start().await;
    let lookup = format!("idTypeOrder=01&idNumberOrder={PAYER_ID}");

    // §5.1.3's answer has no sign: an encrypted merchant's is taken without one.
    let (_gw, url) = mode_2_code(&his_url, |_| {}).await;
    let data = json!({"idTypeOrder": "01", "idNumberOrder": PAYER_ID,
                      "orderData": [his_order("ZY1", 20, "住院预交金", None)]});
    his.answer_with(
        json!({"appId": HRSS_APP_ID, "mchId": HRSS_MCH_ID, "data": sm4().encrypt(&data.to_string())})
            .to_string(),
    );
    let answer = post_page(&url, &lookup).await;
    assert_eq!(answer.status(), 200);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("住院预交金") && html.contains("¥0.20"),
        "{html}"
    );

    // A plaintext merchant signs data as it writes it (spaced, a key repeated as in the
    // spec's example): verified over that text.
    let (gw, url) = mode_2_code(&his_url, |c| hrss_table(c, "plaintext = true")).await;
    let data = format!(
        r#"{{ "idTypeOrder": "01", "idNumberOrder": "{PAYER_ID}",
  "orderData": [ {{ "orderAmount": 1800, "mchOrderId": "ZY2", "orderType": "02", "orderType": "10002",
    "orderCreateTime": "2026-12-06 09:30:00", "orderTitle": "检验费" }} ] }}"#
    );
    let signed_by = |key: &PrivateKey| {
        let sign =
            key.sign(format!("appId={HRSS_APP_ID}&data={data}&mchId={HRSS_MCH_ID}").as_bytes());
        format!(
            r#"{{"appId": "{HRSS_APP_ID}", "mchId": "{HRSS_MCH_ID}", "data": {data}, "sign": "{sign}"}}"#
        )
    };
    his.answer_with(signed_by(&merchant_key()));
    let answer = post_page(&url, &lookup).await;
    assert_eq!(answer.status(), 200);
    let html = answer.text().await.unwrap();
    assert!(html.contains("检验费") && html.contains("¥18.00"), "{html}");
    // paymux asked it in plaintext, as configured.
    let asked: Value = serde_json::from_str(his.requests.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(asked["data"]["idNumberOrder"], PAYER_ID);
    let went = post_page(&format!("{url}/pay"), &pick(&html, 0, "wechat")).await;
    assert_eq!(went.status(), 303);
    assert_eq!(bill_of(&gw, "ZY2").await.unwrap().amount.get(), 1800);

    // A sign that does not verify is refused: nothing to pay.
    his.answer_with(signed_by(&PrivateKey::generate().unwrap()));
    let answer = post_page(&url, &lookup).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("暂时无法获取账单"));
}

#[tokio::test]
async fn a_plaintext_merchant_whose_order_query_url_is_http_is_refused_at_start() {
    // The error, if the gateway refuses to start with these [merchant.hrss] keys.
    let refusal = |keys: &'static str, allow_private: bool| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = paymux_server::config::Config::parse(
            &crate::helpers::config_text(&format!("sqlite://{}/paymux.db", dir.path().display())),
            "test",
        )
        .unwrap();
        config.server.allow_private_callbacks = allow_private;
        hrss_table(&mut config, keys);
        let clock = std::sync::Arc::new(paymux_core::clock::ManualClock::new(
            paymux_core::time::Millis(now_ms()),
        ));
        match paymux_server::startup::start(config, clock, paymux_server::startup::Workers::Manual)
            .await
        {
            Ok(running) => {
                running.stop().await;
                None
            }
            Err(e) => Some(e.to_string()),
        }
    };
    for (keys, allow_private) in [
        (
            "plaintext = true\norder_query_url = \"http://his.example/orders\"",
            false,
        ),
        (
            "plaintext = true\norder_query_url = \"http://his.example/orders\"",
            true,
        ),
    ] {
        let error = refusal(keys, allow_private).await.expect(keys);
        assert!(
            error.contains("order_query_url") && error.contains("plaintext"),
            "{error}"
        );
    }
    for (keys, allow_private) in [
        (
            "plaintext = true\norder_query_url = \"https://his.example/orders\"",
            false,
        ),
        // The merchant's system on the gateway's own network, where tests run it.
        (
            "plaintext = true\norder_query_url = \"http://127.0.0.1:9000/orders\"",
            true,
        ),
        // Encrypted, the ID number does not travel in clear.
        ("order_query_url = \"http://his.example/orders\"", false),
    ] {
        assert_eq!(refusal(keys, allow_private).await, None, "{keys}");
    }
}

#[tokio::test]
async fn lookups_are_limited_per_code_and_client_address_so_id_numbers_cannot_be_tried_in_bulk() {
    let his = MerchantSystem::start(vec![his_order("ZY1", 20, "住院预交金", None)]).await;
    let declared = format!(
        r#"
order_query_url = "{}"
static_codes = [
  {{ ref = "S2", mode = 2, subject = "住院缴费", notify_url = "https://his.example/n" }},
  {{ ref = "S3", mode = 2, subject = "门诊缴费", notify_url = "https://his.example/n" }},
]
"#,
        his.url
    );
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| hrss_table(c, &declared)).await;
    let (s2, s3) = (
        static_code_url(&gw, "S2").await,
        static_code_url(&gw, "S3").await,
    );
    let guess = |n: u32| format!("idTypeOrder=01&idNumberOrder=1101011990030{n:05}");
    // The default: ten a minute.
    for n in 0..10 {
        assert_eq!(post_page(&s2, &guess(n)).await.status(), 200, "{n}");
    }
    let refused = post_page(&s2, &guess(10)).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("查询过于频繁,请稍后再试")
    );
    assert_eq!(his.asked().len(), 10, "the merchant is not asked");
    // Another code, and another address, count apart.
    assert_eq!(post_page(&s3, &guess(11)).await.status(), 200);
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let answer = elsewhere
        .post(&s2)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(guess(12))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // A minute on, the first address may look up again.
    gw.advance(60);
    assert_eq!(post_page(&s2, &guess(13)).await.status(), 200);
    assert_eq!(his.asked().len(), 13);

    // The limit is `[server] code_lookups_per_minute`.
    let (_gw, url) = mode_2_code(&his.url, |c| c.server.code_lookups_per_minute = 2).await;
    for n in 0..2 {
        assert_eq!(post_page(&url, &guess(n)).await.status(), 200);
    }
    assert_eq!(post_page(&url, &guess(2)).await.status(), 429);
}
