//! mmsp over HTTP with the mmsp client and with raw frames: every CommandID of the scan,
//! quick and gateway parts, the quick-pay SMS flow with the sandbox's phone, bound cards,
//! the gateway's form post through the bank page to the notification and the front-page
//! return, micropay, refunds, cancel and close, batch paging, and the unsigned negative
//! reply for whatever cannot be served.

use paymux_dialects::mmsp::MmspClient;
use paymux_dialects::mmsp::client::{GatewayAnswer, Reply};
use paymux_dialects::mmsp::codec;
use paymux_dialects::mmsp::routes::Part;
use paymux_dialects::mmsp::wire::{
    BatchQuery, GatewayRequest, OrderRef, Params, QuickRequest, RefundRef, ScanOrder, command,
};
use paymux_server::config::Config;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, MMSP_KEY, MMSP_MERNO, MMSP_TERMNO, Receiver, TestGateway, browser, config_text,
    post_page,
};

const CARD: &str = "6228480402564890018";
const ID_NO: &str = "23210219820916601X";
const PHONE: &str = "18826570890";

pub(crate) fn mmsp(gw: &TestGateway) -> MmspClient {
    MmspClient::new(
        &gw.url,
        MMSP_MERNO,
        MMSP_TERMNO,
        SecretString::from(MMSP_KEY),
    )
    .expect("client")
}

pub(crate) fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

pub(crate) fn scan_order(no: &str, amt: &str, notify: &str) -> ScanOrder {
    ScanOrder {
        trade_type: s("1"),
        amt: s(amt),
        cur: s("CNY"),
        merorderid: s(no),
        randstr: s("8236451970"),
        goodsname: s("测试商品"),
        notify_url: s(notify),
        ..ScanOrder::default()
    }
}

pub(crate) fn micropay(no: &str, code: &str, notify: &str) -> ScanOrder {
    ScanOrder {
        trade_type: None,
        code: s(code),
        ..scan_order(no, "100", notify)
    }
}

pub(crate) fn by_no(no: &str) -> OrderRef {
    OrderRef {
        merorderid: s(no),
        randstr: s("r"),
        ..OrderRef::default()
    }
}

fn quick_pay(no: &str, notify: &str) -> QuickRequest {
    QuickRequest {
        merorderid: s(no),
        cardno: s(CARD),
        amt: s("1234"),
        cardtype: s("1"),
        name: s("张安"),
        id_no: s(ID_NO),
        phoneno: s(PHONE),
        randstr: s("123456"),
        notify_url: s(notify),
        ..QuickRequest::default()
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    paymux_dialects::common::encode_form(pairs)
}

/// paymux's id of an ORDERNO (20 digits on the wire).
pub(crate) fn pid(orderno: &str) -> String {
    assert_eq!(orderno.len(), 20, "{orderno}");
    paymux_dialects::common::ids::named('P', orderno).to_string()
}

pub(crate) fn field(reply: &Reply, name: &str) -> String {
    reply.field(name).unwrap_or_default()
}

#[track_caller]
fn assert_positive(reply: &Reply, command_id: i64) {
    assert!(!reply.is_negative(), "{:?}", reply.frame);
    assert_eq!(reply.command_id(), command_id, "{:?}", reply.frame);
    assert_eq!(reply.frame["RetCode"], json!(1));
}

#[track_caller]
pub(crate) fn assert_negative(reply: &Reply, code: &str) {
    assert!(reply.is_negative(), "{:?}", reply.frame);
    assert_eq!(reply.frame["RetCode"], json!(0));
    assert_eq!(reply.frame["Body"], json!(""));
    assert_eq!(reply.frame["Sign"], json!(""));
    assert!(
        reply.error_msg().starts_with(&format!("[-{code}] ")),
        "{}",
        reply.error_msg()
    );
}

/// The last code the sandbox sent to a phone.
async fn sms_code(gw: &TestGateway, phone: &str) -> String {
    let answer: Value = gw
        .http
        .get(format!("{}/sandbox/sms?phone={phone}", gw.url))
        .send()
        .await
        .expect("sandbox sms")
        .text()
        .await
        .map(|t| serde_json::from_str(&t).expect("json"))
        .expect("body");
    answer["code"].as_str().expect("a code").to_owned()
}

/// The frames a merchant endpoint received, each verified with the merchant's key.
fn notifications(gw: &TestGateway, merchant: &Receiver) -> Vec<Reply> {
    merchant
        .received()
        .iter()
        .map(|r| {
            assert!(
                r.content_type
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("application/json"),
                "{r:?}"
            );
            mmsp(gw)
                .verify_notification(&r.body)
                .expect("a notification signed with the merchant's key")
        })
        .collect()
}

#[tokio::test]
async fn the_worked_example_sent_as_raw_bytes_gets_a_signed_cashier_link() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let request = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dialects/src/mmsp/testdata/scan_2306.request.json"
    ))
    .unwrap();
    let text = gw.post_raw("/mmsp/scan", "application/json", request).await;
    let reply: Params = serde_json::from_str(&text).unwrap();
    assert_eq!(reply["CommandID"], json!(35074));
    assert_eq!(reply["SeqID"], json!(1), "echoed with its type");
    assert_eq!(reply["NodeID"], json!("openapi"));
    assert_eq!(reply["RetCode"], json!(1));
    assert_eq!(reply["ErrorMsg"], json!(""));
    assert_eq!(reply["MERNO"], json!(MMSP_MERNO));
    assert_eq!(reply["TERMNO"], json!(MMSP_TERMNO));
    let body = reply["Body"].as_object().unwrap();
    assert!(codec::verify(
        body,
        reply["Sign"].as_str().unwrap(),
        MMSP_KEY
    ));
    assert_eq!(body["STATUS"], json!("1"));
    assert_eq!(body["TRADETYPE"], json!("1"));
    assert_eq!(body["MERORDERID"], json!("711245"));
    let orderno = body["ORDERNO"].as_str().unwrap();
    assert_eq!(body["URL"], json!(gw.cashier_url(&pid(orderno))));
    // The payer's link opens the cashier.
    let page = gw
        .http
        .get(gw.cashier_url(&pid(orderno)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("测试商品"));
}

#[tokio::test]
async fn every_scan_product_is_paid_at_the_cashier_queried_and_pushed() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let products: Vec<(i64, ScanOrder, &str)> = vec![
        (
            command::WECHAT_NATIVE,
            scan_order("W1", "1", &merchant.url),
            "1",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                trade_type: s("2"),
                openid: s("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
                ..scan_order("W2", "2", &merchant.url)
            },
            "1",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                trade_type: s("2"),
                openid: s("o1"),
                is_minipg: s("1"),
                sup_appid: s("wxmini"),
                ..scan_order("W3", "3", &merchant.url)
            },
            "1",
        ),
        (
            command::WECHAT_H5,
            ScanOrder {
                trade_type: None,
                jump_url: s("https://shop.example.com/back"),
                ..scan_order("W4", "4", &merchant.url)
            },
            "1",
        ),
        (
            command::ALIPAY_NATIVE,
            scan_order("A1", "5", &merchant.url),
            "2",
        ),
        (
            command::ALIPAY_NATIVE,
            ScanOrder {
                trade_type: s("2"),
                alipay_user_id: s("2088102177846880"),
                ..scan_order("A2", "6", &merchant.url)
            },
            "2",
        ),
        (
            command::ALIPAY_DYNAMIC,
            scan_order("A3", "7", &merchant.url),
            "2",
        ),
        (
            command::ALIPAY_H5,
            ScanOrder {
                trade_type: None,
                ..scan_order("A4", "8", &merchant.url)
            },
            "2",
        ),
        (
            command::QQ_NATIVE,
            scan_order("Q1", "9", &merchant.url),
            "3",
        ),
        (
            command::UNIONPAY_NATIVE,
            scan_order("U1", "10", &merchant.url),
            "4",
        ),
        (
            command::JD_NATIVE,
            scan_order("J1", "11", &merchant.url),
            "5",
        ),
    ];
    for (cmd, order, wallet_type) in &products {
        let no = order.merorderid.clone().unwrap();
        let reply = client.scan_order(*cmd, order).await.unwrap();
        assert_positive(&reply, cmd + 0x8000);
        assert_eq!(field(&reply, "STATUS"), "1", "{no}: {:?}", reply.body);
        assert_eq!(field(&reply, "MERORDERID"), no);
        assert_eq!(reply.field("TRADETYPE"), order.trade_type, "{no}");
        let orderno = field(&reply, "ORDERNO");
        assert_eq!(field(&reply, "URL"), gw.cashier_url(&pid(&orderno)), "{no}");
        assert!(reply.field("PAY_INFO").is_none());

        let waiting = client.query(&by_no(&no)).await.unwrap();
        assert_positive(&waiting, 35078);
        assert_eq!(field(&waiting, "STATUS"), "3");
        assert_eq!(field(&waiting, "ERR_CODE"), "AA");
        assert_eq!(field(&waiting, "PAYTIME"), "");
        assert_eq!(gw.pay(&pid(&orderno), "success").await.status(), 200);
        let paid = client
            .query(&OrderRef {
                orderno: Some(orderno.clone()),
                ..by_no(&no)
            })
            .await
            .unwrap();
        assert_eq!(field(&paid, "STATUS"), "1", "{no}");
        assert_eq!(field(&paid, "TRADETYPE"), *wallet_type, "{no}");
        assert_eq!(field(&paid, "AMT"), order.amt.clone().unwrap());
        assert_eq!(field(&paid, "PAYTIME").len(), 19);
    }
    assert_eq!(gw.deliver().await.delivered, products.len());
    let pushes = notifications(&gw, &merchant);
    assert_eq!(pushes.len(), products.len());
    for push in &pushes {
        assert_eq!(push.command_id(), command::SCAN_PUSH);
        assert_eq!(push.frame["NodeID"], json!("openplat"));
        assert!(
            push.frame.get("RetCode").is_none(),
            "a request of the platform"
        );
        assert!(push.body["AMT"].is_i64(), "AMT is an int: {:?}", push.body);
        assert_eq!(push.body["STATUS"], json!("1"));
        let keys: Vec<&str> = push.body.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "AMT",
                "ORDERNO",
                "TRDETIME",
                "PAYTIME",
                "STATUS",
                "TRADETYPE",
                "MERORDERID"
            ]
        );
    }
}

#[tokio::test]
async fn scan_orders_follow_their_field_rules() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/notify";
    let cases: Vec<(i64, ScanOrder, &str, &str)> = vec![
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                trade_type: s("2"),
                ..scan_order("R1", "1", url)
            },
            "1007",
            "OPENID",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                trade_type: s("2"),
                openid: s("o"),
                is_minipg: s("1"),
                ..scan_order("R2", "1", url)
            },
            "1007",
            "SUP_APPID",
        ),
        (
            command::ALIPAY_NATIVE,
            ScanOrder {
                trade_type: s("2"),
                ..scan_order("R3", "1", url)
            },
            "1008",
            "ALIPAY_USER_ID",
        ),
        (
            command::WECHAT_H5,
            ScanOrder {
                trade_type: None,
                ..scan_order("R4", "1", url)
            },
            "1007",
            "JUMP_URL",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                goodsname: s("一二三四五六七八九十一二三四五六"),
                ..scan_order("R5", "1", url)
            },
            "1008",
            "GOODSNAME",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                time_end: s("2000-01-01 00:00:00"),
                ..scan_order("R6", "1", url)
            },
            "1008",
            "TIME_END",
        ),
        (
            command::WECHAT_NATIVE,
            scan_order("R7", "0", url),
            "1008",
            "AMT",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                randstr: None,
                ..scan_order("R8", "1", url)
            },
            "1007",
            "RANDSTR",
        ),
        (
            command::WECHAT_NATIVE,
            ScanOrder {
                isto: s("3"),
                ..scan_order("R9", "1", url)
            },
            "1008",
            "ISTO",
        ),
    ];
    for (cmd, order, code, named) in cases {
        let reply = client.scan_order(cmd, &order).await.unwrap();
        assert_negative(&reply, code);
        assert!(reply.error_msg().contains(named), "{}", reply.error_msg());
    }
    // Nothing was made of them.
    assert_negative(&client.query(&by_no("R1")).await.unwrap(), "2002");

    // IS_RAW=1: PAY_INFO (WeChat's JSAPI fields) instead of URL.
    let raw = ScanOrder {
        trade_type: s("2"),
        openid: s("o1"),
        sup_appid: s("wx8888888888888888"),
        is_raw: s("1"),
        isto: s("2"),
        limit_pay: s("1"),
        ..scan_order("RAW1", "1", url)
    };
    let reply = client
        .scan_order(command::WECHAT_NATIVE, &raw)
        .await
        .unwrap();
    assert_eq!(field(&reply, "STATUS"), "1");
    assert!(reply.field("URL").is_none());
    let info: Value = serde_json::from_str(&field(&reply, "PAY_INFO")).unwrap();
    assert_eq!(info["appId"], json!("wx8888888888888888"));
    assert_eq!(
        info["package"],
        json!(format!("prepay_id={}", pid(&field(&reply, "ORDERNO"))))
    );
    let to_sign = format!(
        "appId={}&nonceStr={}&package={}&signType=MD5&timeStamp={}&key={MMSP_KEY}",
        info["appId"].as_str().unwrap(),
        info["nonceStr"].as_str().unwrap(),
        info["package"].as_str().unwrap(),
        info["timeStamp"].as_str().unwrap()
    );
    assert_eq!(
        info["paySign"],
        json!(paymux_dialects::common::md5_hex_lower(to_sign.as_bytes()).to_uppercase())
    );
    // A MERORDERID used once is refused the second time.
    let again = client
        .scan_order(command::WECHAT_NATIVE, &raw)
        .await
        .unwrap();
    assert_negative(&again, "2001");
}

/// A client that does not follow redirects, to see where a page sends the payer.
#[tokio::test]
async fn limit_pay_keeps_credit_cards_out_of_the_payers_choice() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let limited = ScanOrder {
        limit_pay: s("1"),
        ..scan_order("L1", "100", &merchant.url)
    };
    let reply = client
        .scan_order(command::WECHAT_NATIVE, &limited)
        .await
        .unwrap();
    let orderno = field(&reply, "ORDERNO");
    let page = page_text(&gw.cashier_url(&pid(&orderno))).await;
    assert!(
        page.contains(r#"value="credit_card" disabled>信用卡(本单不支持)"#)
            && page.contains(r#"value="debit_card">借记卡"#),
        "{page}"
    );
    // A credit card is refused before anything is paid; the order stays payable.
    assert_eq!(
        gw.pay_from(&pid(&orderno), "credit_card").await.status(),
        409
    );
    assert_scan_status(&client.query(&by_no("L1")).await.unwrap(), "3", "AA");
    assert_eq!(gw.deliver().await.delivered, 0);
    assert_eq!(
        gw.pay_from(&pid(&orderno), "debit_card").await.status(),
        200
    );
    let paid = client.query(&by_no("L1")).await.unwrap();
    assert_eq!(field(&paid, "STATUS"), "1");

    // LIMIT_PAY=2, or none: a credit card pays.
    for (no, limit) in [("L2", s("2")), ("L3", None)] {
        let order = ScanOrder {
            limit_pay: limit,
            ..scan_order(no, "100", &merchant.url)
        };
        let reply = client
            .scan_order(command::WECHAT_NATIVE, &order)
            .await
            .unwrap();
        let orderno = field(&reply, "ORDERNO");
        assert_eq!(
            gw.pay_from(&pid(&orderno), "credit_card").await.status(),
            200,
            "{no}"
        );
    }
}

async fn page_text(url: &str) -> String {
    let page = browser().get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{url}");
    page.text().await.unwrap()
}

/// The static code's page a 1026 reply names: its URL is `{gateway}{code_path(id)}`.
#[track_caller]
fn static_code_url(gw: &TestGateway, reply: &Reply) -> String {
    let url = field(reply, "URL");
    let path = url.strip_prefix(&gw.url).expect("a link to this gateway");
    let id = path
        .strip_prefix("/bills/")
        .and_then(|rest| rest.split('/').next())
        .expect("a payment code's page");
    assert_eq!(path, gw.code_path(id), "the code's own link");
    url
}

#[track_caller]
fn assert_scan_status(reply: &Reply, status: &str, code: &str) {
    assert_positive(reply, 35078);
    assert_eq!(field(reply, "STATUS"), status, "{:?}", reply.body);
    assert_eq!(field(reply, "ERR_CODE"), code, "{:?}", reply.body);
}

#[tokio::test]
async fn the_alipay_static_code_carries_the_latest_order_and_its_payer_pays_with_alipay() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let bind = |no: &str, amt: &str| {
        let order = scan_order(no, amt, &merchant.url);
        let client = client.clone();
        async move {
            client
                .scan_order(command::ALIPAY_STATIC, &order)
                .await
                .unwrap()
        }
    };

    let first = bind("S1", "100").await;
    assert_positive(&first, 33794);
    assert_eq!(field(&first, "STATUS"), "1", "{:?}", first.body);
    assert_eq!(field(&first, "TRADETYPE"), "1");
    assert_eq!(field(&first, "MERORDERID"), "S1");
    assert_eq!(field(&first, "TRADETIME").len(), 19);
    assert!(first.field("PAY_INFO").is_none());
    let url = static_code_url(&gw, &first);
    let waiting = client.query(&by_no("S1")).await.unwrap();
    assert_scan_status(&waiting, "3", "AA");
    assert_eq!(field(&waiting, "ORDERNO"), field(&first, "ORDERNO"));
    assert_eq!(field(&waiting, "TRADETYPE"), "2", "an Alipay order");

    // The second order: the same printed code, now carrying it; the first closes.
    let second = bind("S2", "200").await;
    assert_positive(&second, 33794);
    assert_eq!(field(&second, "URL"), url, "the same URL every time");
    let s2 = field(&second, "ORDERNO");
    assert_ne!(s2, field(&first, "ORDERNO"));
    let replaced = client.query(&by_no("S1")).await.unwrap();
    assert_scan_status(&replaced, "2", "D4");
    assert_eq!(field(&replaced, "ERR_CODE_MSG"), "订单已关闭");
    assert_scan_status(&client.query(&by_no("S2")).await.unwrap(), "3", "AA");

    // The payer scans the code: the second order, Alipay only.
    let html = page_text(&url).await;
    for shown in ["Demo Hospital", "测试商品", "¥2.00", "支付宝", "沙箱环境"] {
        assert!(html.contains(shown), "{shown} in {html}");
    }
    for hidden in ["¥1.00", "微信支付", "银联云闪付", "value=\"wechat\""] {
        assert!(!html.contains(hidden), "{hidden} in {html}");
    }
    for other in ["wallet=wechat", "wallet=unionpay"] {
        let refused = post_page(&format!("{url}/pay"), other).await;
        assert_eq!(refused.status(), 400, "{other}");
        assert!(refused.text().await.unwrap().contains("不支持该支付方式"));
    }
    assert!(
        gw.running
            .operator
            .attempts_of_order(&paymux_core::ids::PlatformId::from_string(s2.clone()))
            .await
            .unwrap()
            .is_empty(),
        "no try was started with another wallet"
    );
    let went = post_page(&format!("{url}/pay"), "wallet=alipay").await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(cashier, gw.cashier_url(&pid(&s2)));
    let at_cashier = page_text(&cashier).await;
    assert!(at_cashier.contains("支付宝 · 订单号"), "{at_cashier}");
    assert_eq!(
        post_page(&format!("{cashier}/pay"), "result=success")
            .await
            .status(),
        303
    );

    let paid = client.query(&by_no("S2")).await.unwrap();
    assert_scan_status(&paid, "1", "");
    assert_eq!(field(&paid, "ORDERNO"), s2);
    assert_eq!(field(&paid, "AMT"), "200");
    assert_eq!(field(&paid, "TRADETYPE"), "2");
    assert_eq!(field(&paid, "PAYTIME").len(), 19);
    assert!(page_text(&url).await.contains("支付成功"));

    // Pushed once: the paid order, never the replaced one.
    assert_eq!(gw.deliver().await.delivered, 1);
    let pushes = notifications(&gw, &merchant);
    assert_eq!(pushes.len(), 1);
    let push = &pushes[0];
    assert_eq!(push.command_id(), command::SCAN_PUSH);
    assert_eq!(push.body["ORDERNO"], json!(s2));
    assert_eq!(push.body["MERORDERID"], json!("S2"));
    assert_eq!(push.body["AMT"], json!(200));
    assert_eq!(push.body["STATUS"], json!("1"));
    assert_eq!(push.body["TRADETYPE"], json!("2"));

    // A third order on the code: the paid one stays paid.
    let third = bind("S3", "300").await;
    assert_eq!(field(&third, "URL"), url);
    assert_scan_status(&client.query(&by_no("S2")).await.unwrap(), "1", "");
    assert_scan_status(&client.query(&by_no("S3")).await.unwrap(), "3", "AA");
    assert!(page_text(&url).await.contains("¥3.00"));

    // A MERORDERID used before is refused and changes nothing: S3 stays on the code.
    assert_negative(&bind("S2", "400").await, "2001");
    assert_negative(&bind("S1", "400").await, "2001");
    assert_scan_status(&client.query(&by_no("S3")).await.unwrap(), "3", "AA");
    assert!(page_text(&url).await.contains("¥3.00"));

    // Its orders refund and close as other scan orders do.
    let refund = client
        .refund(&OrderRef {
            refund_merorderid: s("SR1"),
            amt: s("50"),
            ..by_no("S2")
        })
        .await
        .unwrap();
    assert_positive(&refund, 35080);
    assert_eq!(field(&refund, "STATUS"), "1", "{:?}", refund.body);
    assert_eq!(field(&refund, "AMT"), "50");
    let closed = client.close(&by_no("S3")).await.unwrap();
    assert_positive(&closed, 35082);
    assert_eq!(field(&closed, "STATUS"), "1");
    assert!(page_text(&url).await.contains("账单已关闭"));
    let refused = post_page(&format!("{url}/pay"), "wallet=alipay").await;
    assert!(refused.text().await.unwrap().contains("账单已支付或关闭"));

    // The rules of 1027's fields hold.
    let fuwu = ScanOrder {
        trade_type: s("2"),
        ..scan_order("S4", "1", &merchant.url)
    };
    assert_negative(
        &client
            .scan_order(command::ALIPAY_STATIC, &fuwu)
            .await
            .unwrap(),
        "1008",
    );
    let no_amount = ScanOrder {
        amt: None,
        ..scan_order("S5", "1", &merchant.url)
    };
    assert_negative(
        &client
            .scan_order(command::ALIPAY_STATIC, &no_amount)
            .await
            .unwrap(),
        "1007",
    );
}

#[tokio::test]
async fn orders_bound_to_the_static_code_at_once_leave_one_code_carrying_one_of_them() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let client = mmsp(&gw);
        let url = "http://merchant.example/notify";
        let bind_all = |nos: Vec<String>| {
            let tasks: Vec<_> = nos
                .into_iter()
                .map(|no| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        let reply = client
                            .scan_order(command::ALIPAY_STATIC, &scan_order(&no, "1", url))
                            .await
                            .unwrap();
                        (no, reply)
                    })
                })
                .collect();
            async move {
                let mut replies = Vec::new();
                for task in tasks {
                    replies.push(task.await.unwrap());
                }
                replies
            }
        };
        // Two first orders at once, then five more.
        let mut replies = bind_all(vec!["R1".into(), "R2".into()]).await;
        replies.extend(bind_all((3..=7).map(|i| format!("R{i}")).collect()).await);
        let urls: std::collections::BTreeSet<String> = replies
            .iter()
            .map(|(no, reply)| {
                assert_positive(reply, 33794);
                assert_eq!(field(reply, "STATUS"), "1", "{backend:?} {no}");
                static_code_url(&gw, reply)
            })
            .collect();
        assert_eq!(urls.len(), 1, "{backend:?}: one code: {urls:?}");
        let mut open = Vec::new();
        for (no, _) in &replies {
            let state = client.query(&by_no(no)).await.unwrap();
            match field(&state, "STATUS").as_str() {
                "3" => open.push(no.clone()),
                "2" => assert_eq!(field(&state, "ERR_CODE"), "D4"),
                other => panic!("{backend:?} {no}: STATUS {other}"),
            }
        }
        assert_eq!(open.len(), 1, "{backend:?}: the code carries one: {open:?}");
        // The one open is the one its page shows.
        let url = urls.into_iter().next().unwrap();
        let went = post_page(&format!("{url}/pay"), "wallet=alipay").await;
        assert_eq!(went.status(), 303);
        let orderno = field(&client.query(&by_no(&open[0])).await.unwrap(), "ORDERNO");
        assert_eq!(
            went.headers()["location"].to_str().unwrap(),
            gw.cashier_url(&pid(&orderno))
        );
    }
}

#[tokio::test]
async fn micropay_paid_at_once_is_answered_not_pushed_and_one_confirmed_later_is_pushed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let merchant = Receiver::start().await;
        let client = mmsp(&gw);
        let at_once = client
            .scan_order(
                command::WECHAT_MICROPAY,
                &micropay("M1", "134567890123456781", &merchant.url),
            )
            .await
            .unwrap();
        assert_positive(&at_once, 35075);
        assert_eq!(field(&at_once, "STATUS"), "1", "{backend:?}");
        assert!(at_once.field("URL").is_none());

        let confirming = client
            .scan_order(
                command::ALIPAY_MICROPAY,
                &micropay("M2", "284567890123456782", &merchant.url),
            )
            .await
            .unwrap();
        assert_positive(&confirming, 35077);
        assert_eq!(field(&confirming, "STATUS"), "3");
        assert_eq!(field(&confirming, "ERR_CODE"), "AA");
        assert_eq!(
            field(&client.query(&by_no("M2")).await.unwrap(), "STATUS"),
            "3"
        );

        let broke = client
            .scan_order(
                command::QQ_MICROPAY,
                &micropay("M3", "914567890123456789", &merchant.url),
            )
            .await
            .unwrap();
        assert_positive(&broke, 35094);
        assert_eq!(field(&broke, "STATUS"), "2");
        assert_eq!(field(&broke, "ERR_CODE"), "NOTENOUGH");
        assert_eq!(field(&broke, "ERR_CODE_MSG"), "余额不足");
        let alt = client
            .scan_order(
                command::QQ_MICROPAY_ALT,
                &micropay("M4", "914567890123456785", &merchant.url),
            )
            .await
            .unwrap();
        assert_positive(&alt, 35094);
        assert_eq!(field(&alt, "STATUS"), "1");

        assert_eq!(
            gw.deliver().await.attempts(),
            0,
            "nothing paid at once is pushed"
        );
        assert_eq!(
            gw.pay(&pid(&field(&confirming, "ORDERNO")), "success")
                .await
                .status(),
            200
        );
        assert_eq!(
            field(&client.query(&by_no("M2")).await.unwrap(), "STATUS"),
            "1"
        );
        assert_eq!(gw.deliver().await.delivered, 1);
        let pushed = notifications(&gw, &merchant);
        assert_eq!(pushed.len(), 1);
        assert_eq!(pushed[0].body["MERORDERID"], json!("M2"));
        assert_eq!(pushed[0].body["TRADETYPE"], json!("2"));
        assert_eq!(pushed[0].body["AMT"], json!(100));
    }
}

#[tokio::test]
async fn cancel_waits_15_seconds_then_closes_unpaid_orders_and_reverses_paid_ones() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/notify";
    client
        .scan_order(command::WECHAT_NATIVE, &scan_order("C1", "10", url))
        .await
        .unwrap();
    let paid = client
        .scan_order(
            command::WECHAT_MICROPAY,
            &micropay("C2", "134567890123456781", url),
        )
        .await
        .unwrap();
    assert_eq!(field(&paid, "STATUS"), "1");

    let early = client.cancel(&by_no("C1")).await.unwrap();
    assert_positive(&early, 35079);
    assert_eq!(field(&early, "STATUS"), "2");
    assert_eq!(field(&early, "ERR_CODE"), "3002");
    assert_eq!(
        field(&client.query(&by_no("C1")).await.unwrap(), "STATUS"),
        "3"
    );

    gw.advance(15);
    let unpaid = client.cancel(&by_no("C1")).await.unwrap();
    assert_eq!(field(&unpaid, "STATUS"), "1", "{:?}", unpaid.body);
    let closed = client.query(&by_no("C1")).await.unwrap();
    assert_eq!(field(&closed, "STATUS"), "2");
    assert_eq!(field(&closed, "ERR_CODE"), "D4");

    let reversed = client.cancel(&by_no("C2")).await.unwrap();
    assert_eq!(field(&reversed, "STATUS"), "1", "{:?}", reversed.body);
    assert_eq!(field(&reversed, "PAYTIME").len(), 19);
    // The reversal is the order's full refund, under its ORDERNO.
    let orderno = field(&paid, "ORDERNO");
    let refund = client
        .refund_query(&RefundRef {
            refund_merorderid: Some(orderno.clone()),
            ..RefundRef::default()
        })
        .await
        .unwrap();
    assert_eq!(field(&refund, "STATUS"), "1");
    assert_eq!(field(&refund, "AMT"), "100");
    // Asking again is the same reversal.
    assert_eq!(
        field(&client.cancel(&by_no("C2")).await.unwrap(), "STATUS"),
        "1"
    );
    gw.advance(5);
    gw.poll_channels().await;
    let refunded = client.query(&by_no("C2")).await.unwrap();
    assert_eq!(
        field(&refunded, "STATUS"),
        "1",
        "the payment itself stays paid"
    );
    assert_negative(&client.cancel(&by_no("NONE")).await.unwrap(), "2002");
}

#[tokio::test]
async fn close_closes_an_unpaid_order_and_refuses_a_paid_one() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/notify";
    let open = client
        .scan_order(command::ALIPAY_NATIVE, &scan_order("K1", "10", url))
        .await
        .unwrap();
    let closed = client
        .close(&OrderRef {
            orderno: s(&field(&open, "ORDERNO")),
            randstr: s("r"),
            ..OrderRef::default()
        })
        .await
        .unwrap();
    assert_positive(&closed, 35082);
    assert_eq!(field(&closed, "STATUS"), "1");
    assert_eq!(
        field(&client.query(&by_no("K1")).await.unwrap(), "ERR_CODE"),
        "D4"
    );
    // The payer is too late.
    assert_eq!(
        gw.pay(&pid(&field(&open, "ORDERNO")), "success")
            .await
            .status(),
        200
    );
    assert_eq!(
        field(&client.query(&by_no("K1")).await.unwrap(), "STATUS"),
        "2"
    );

    client
        .scan_order(
            command::ALIPAY_MICROPAY,
            &micropay("K2", "284567890123456781", url),
        )
        .await
        .unwrap();
    let refused = client.close(&by_no("K2")).await.unwrap();
    assert_eq!(field(&refused, "STATUS"), "2");
    assert_eq!(field(&refused, "ERR_CODE"), "3001");
    assert_eq!(field(&refused, "ERR_CODE_MSG"), "订单已支付");
}

#[tokio::test]
async fn an_order_past_time_end_reports_closed() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    client
        .scan_order(
            command::WECHAT_NATIVE,
            &scan_order("E1", "1", "http://merchant.example/notify"),
        )
        .await
        .unwrap();
    gw.advance(5 * 60);
    let expired = client.query(&by_no("E1")).await.unwrap();
    assert_eq!(field(&expired, "STATUS"), "2");
    assert_eq!(field(&expired, "ERR_CODE"), "D4");
    assert_eq!(field(&expired, "ERR_CODE_MSG"), "订单已过期");
}

#[tokio::test]
async fn refunds_are_accepted_once_per_number_and_never_beyond_the_payment() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let client = mmsp(&gw);
        let url = "http://merchant.example/notify";
        client
            .scan_order(
                command::WECHAT_MICROPAY,
                &micropay("F1", "134567890123456781", url),
            )
            .await
            .unwrap();
        let refund = |number: &str, amt: &str| OrderRef {
            refund_merorderid: s(number),
            amt: s(amt),
            ..by_no("F1")
        };
        assert_negative(
            &client
                .refund(&OrderRef {
                    amt: s("10"),
                    ..by_no("F1")
                })
                .await
                .unwrap(),
            "1007",
        );
        let first = client.refund(&refund("RF1", "60")).await.unwrap();
        assert_positive(&first, 35080);
        assert_eq!(
            field(&first, "STATUS"),
            "1",
            "{backend:?}: {:?}",
            first.body
        );
        assert_eq!(field(&first, "REFUND_MERORDERID"), "RF1");
        assert_eq!(field(&first, "AMT"), "60");
        let again = client.refund(&refund("RF1", "60")).await.unwrap();
        assert_eq!(
            field(&again, "REFUND_ORDERNO"),
            field(&first, "REFUND_ORDERNO")
        );
        let reused = client.refund(&refund("RF1", "10")).await.unwrap();
        assert_eq!(field(&reused, "STATUS"), "2");
        assert_eq!(field(&reused, "ERR_CODE"), "3006");
        let too_much = client.refund(&refund("RF2", "41")).await.unwrap();
        assert_eq!(field(&too_much, "STATUS"), "2");
        assert_eq!(field(&too_much, "ERR_CODE"), "3003");
        let rest = client.refund(&refund("RF3", "40")).await.unwrap();
        assert_eq!(field(&rest, "STATUS"), "1");

        gw.advance(3);
        gw.poll_channels().await;
        let by_platform = client
            .refund_query(&RefundRef {
                refund_orderno: s(&field(&first, "REFUND_ORDERNO")),
                randstr: s("r"),
                ..RefundRef::default()
            })
            .await
            .unwrap();
        assert_positive(&by_platform, 35081);
        assert_eq!(field(&by_platform, "STATUS"), "1");
        assert_eq!(field(&by_platform, "REFUND_MERORDERID"), "RF1");
        let by_merchant = client
            .refund_query(&RefundRef {
                refund_merorderid: s("RF3"),
                ..RefundRef::default()
            })
            .await
            .unwrap();
        assert_eq!(field(&by_merchant, "AMT"), "40");
        assert_negative(
            &client
                .refund_query(&RefundRef {
                    refund_merorderid: s("NOPE"),
                    ..RefundRef::default()
                })
                .await
                .unwrap(),
            "2003",
        );

        client
            .scan_order(command::WECHAT_NATIVE, &scan_order("F2", "10", url))
            .await
            .unwrap();
        let unpaid = client
            .refund(&OrderRef {
                refund_merorderid: s("RF4"),
                amt: s("1"),
                ..by_no("F2")
            })
            .await
            .unwrap();
        assert_eq!(field(&unpaid, "ERR_CODE"), "3004");
        assert_negative(
            &client
                .refund(&OrderRef {
                    refund_merorderid: s("RF5"),
                    amt: s("1"),
                    ..by_no("F404")
                })
                .await
                .unwrap(),
            "2002",
        );
    }
}

#[tokio::test]
async fn quick_pay_sends_a_code_the_payer_confirms_and_the_merchant_is_notified() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let merchant = Receiver::start().await;
        merchant.answer_with(&["FAIL"]);
        let client = mmsp(&gw);
        let reply = client
            .quick(
                command::QUICK_PAY,
                &QuickRequest {
                    user_id: s("U1"),
                    ..quick_pay("Q1", &merchant.url)
                },
            )
            .await
            .unwrap();
        assert_positive(&reply, 33539);
        assert_eq!(
            field(&reply, "STATUS"),
            "0",
            "{backend:?}: {:?}",
            reply.body
        );
        assert_eq!(field(&reply, "CARDNO"), "622848*********0018");
        assert_eq!(field(&reply, "BANK_NAME"), "农业银行");
        assert_eq!(field(&reply, "AMT"), "1234");
        let list_id = field(&reply, "LIST_ID");
        let bind_id = field(&reply, "BIND_ID");
        assert!(bind_id.starts_with('B'), "{:?}", reply.body);

        let code = sms_code(&gw, PHONE).await;
        assert_eq!(code.len(), 6);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let confirm = |code: &str| QuickRequest {
            list_id: Some(list_id.clone()),
            msg_code: s(code),
            randstr: s("r"),
            ..QuickRequest::default()
        };
        let refused = client
            .quick(command::QUICK_CONFIRM, &confirm(wrong))
            .await
            .unwrap();
        assert_positive(&refused, 33540);
        assert_eq!(field(&refused, "STATUS"), "2");
        assert_eq!(field(&refused, "ERRCODE"), "3007");
        let waiting = client
            .quick(
                command::QUICK_QUERY,
                &QuickRequest {
                    merorderid: s("Q1"),
                    ..QuickRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(field(&waiting, "STATUS"), "0");

        let confirmed = client
            .quick(command::QUICK_CONFIRM, &confirm(&code))
            .await
            .unwrap();
        assert_eq!(field(&confirmed, "STATUS"), "1", "{:?}", confirmed.body);
        assert_eq!(field(&confirmed, "LIST_ID"), list_id);
        let twice = client
            .quick(command::QUICK_CONFIRM, &confirm(&code))
            .await
            .unwrap();
        assert_eq!(field(&twice, "STATUS"), "1", "a retried confirmation");

        let paid = client
            .quick(
                command::QUICK_QUERY,
                &QuickRequest {
                    merorderid: s("Q1"),
                    ..QuickRequest::default()
                },
            )
            .await
            .unwrap();
        assert_positive(&paid, 33541);
        assert_eq!(field(&paid, "STATUS"), "1");
        assert_eq!(field(&paid, "BIND_ID"), bind_id);
        assert_eq!(field(&paid, "CARDTYPE"), "1");
        assert_eq!(field(&paid, "PAY_DATE").len(), 14);

        // Not acknowledged at first: pushed again a second later, PUSH_COUNT 2.
        assert_eq!(gw.deliver().await.retried, 1);
        gw.advance(1);
        assert_eq!(gw.deliver().await.delivered, 1);
        let pushes = notifications(&gw, &merchant);
        assert_eq!(pushes.len(), 2);
        for (i, push) in pushes.iter().enumerate() {
            assert_eq!(push.command_id(), command::QUICK_NOTICE);
            assert_eq!(push.frame["NodeID"], json!("openplat"));
            assert_eq!(push.frame["RetCode"], json!(1));
            assert_eq!(push.body["STATUS"], json!("1"));
            assert_eq!(push.body["LIST_ID"], json!(list_id));
            assert_eq!(push.body["CARDNO"], json!("622848*********0018"));
            assert_eq!(push.body["CARDTYPE"], json!("1"));
            assert_eq!(push.body["BANK_NAME"], json!("农业银行"));
            assert_eq!(push.body["PUSH_COUNT"], json!(i + 1));
        }

        // Neither the card number nor the ID number was kept.
        if backend == Backend::Sqlite {
            let path = gw.database.trim_start_matches("sqlite://").to_owned();
            for file in [path.clone(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(!text.contains(CARD), "{file} holds the card number");
                    assert!(!text.contains(ID_NO), "{file} holds the ID number");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_code_is_sent_again_at_most_once_a_minute_and_only_the_newest_works() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let reply = client
        .quick(
            command::QUICK_PAY,
            &quick_pay("Q2", "http://merchant.example/n"),
        )
        .await
        .unwrap();
    let list_id = field(&reply, "LIST_ID");
    let first = sms_code(&gw, PHONE).await;
    let resend = QuickRequest {
        list_id: Some(list_id.clone()),
        randstr: s("r"),
        ..QuickRequest::default()
    };
    let soon = client.quick(command::QUICK_RESEND, &resend).await.unwrap();
    assert_positive(&soon, 33546);
    assert_eq!(field(&soon, "STATUS"), "2");
    assert_eq!(field(&soon, "ERRCODE"), "3009");
    gw.advance(60);
    let sent = client.quick(command::QUICK_RESEND, &resend).await.unwrap();
    assert_eq!(field(&sent, "STATUS"), "1", "{:?}", sent.body);
    assert_eq!(field(&sent, "LIST_ID"), list_id);
    let second = sms_code(&gw, PHONE).await;
    let confirm = |code: &str| QuickRequest {
        list_id: Some(list_id.clone()),
        msg_code: s(code),
        ..QuickRequest::default()
    };
    if first != second {
        let old = client
            .quick(command::QUICK_CONFIRM, &confirm(&first))
            .await
            .unwrap();
        assert_eq!(field(&old, "ERRCODE"), "3007");
    }
    // Five minutes later the code has expired.
    gw.advance(300);
    let late = client
        .quick(command::QUICK_CONFIRM, &confirm(&second))
        .await
        .unwrap();
    assert_eq!(field(&late, "ERRCODE"), "3008");
    gw.advance(1);
    client.quick(command::QUICK_RESEND, &resend).await.unwrap();
    let third = sms_code(&gw, PHONE).await;
    // Five wrong codes void it.
    let wrong = if third == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let r = client
            .quick(command::QUICK_CONFIRM, &confirm(wrong))
            .await
            .unwrap();
        assert_eq!(field(&r, "ERRCODE"), "3007");
    }
    let void = client
        .quick(command::QUICK_CONFIRM, &confirm(&third))
        .await
        .unwrap();
    assert_eq!(field(&void, "ERRCODE"), "3008");
}

#[tokio::test]
async fn impossible_card_elements_are_an_element_mismatch() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/n";
    for (no, bad) in [
        (
            "X1",
            QuickRequest {
                cardno: s("6228480402564890017"),
                ..quick_pay("X1", url)
            },
        ),
        (
            "X2",
            QuickRequest {
                id_no: s("232102198209166010"),
                ..quick_pay("X2", url)
            },
        ),
    ] {
        let reply = client.quick(command::QUICK_PAY, &bad).await.unwrap();
        assert_positive(&reply, 33539);
        assert_eq!(field(&reply, "STATUS"), "2");
        assert_eq!(field(&reply, "ERRCODE"), "D4");
        assert_eq!(field(&reply, "ERRMSG"), "要素不匹配");
        assert_eq!(field(&reply, "MERORDERID"), no);
        // The reply's required fields are there, empty where no order was made; the card
        // number masked.
        for empty in ["LIST_ID", "PAY_DATE", "NOTIFY_DATE", "BANK_NAME"] {
            assert_eq!(reply.body[empty], json!(""), "{empty}");
        }
        assert_eq!(field(&reply, "AMT"), "1234");
        assert!(field(&reply, "CARDNO").starts_with("622848*********001"));
        let query = client
            .quick(
                command::QUICK_QUERY,
                &QuickRequest {
                    merorderid: s(no),
                    ..QuickRequest::default()
                },
            )
            .await
            .unwrap();
        assert_negative(&query, "2002");
    }
    // The bank's own refusal (the sandbox: a phone it does not have for the card).
    let refused = client
        .quick(
            command::QUICK_PAY,
            &QuickRequest {
                phoneno: s("18800000000"),
                ..quick_pay("X3", url)
            },
        )
        .await
        .unwrap();
    assert_eq!(field(&refused, "STATUS"), "2");
    assert_eq!(field(&refused, "ERRCODE"), "D4");
    assert_eq!(field(&refused, "ERRMSG"), "要素不匹配");
    assert!(!field(&refused, "LIST_ID").is_empty());
    // A credit card needs its expiry and CVN2; a debit card's are not read.
    let credit = QuickRequest {
        cardtype: s("2"),
        ..quick_pay("X4", url)
    };
    assert_negative(
        &client.quick(command::QUICK_PAY, &credit).await.unwrap(),
        "1007",
    );
    let credit = QuickRequest {
        expdate: s("0629"),
        cvn2: s("344"),
        ..credit
    };
    let reply = client.quick(command::QUICK_PAY, &credit).await.unwrap();
    assert_eq!(field(&reply, "STATUS"), "0");
    assert_eq!(field(&reply, "CARDNO"), "622848*********0018");
}

#[tokio::test]
async fn a_bound_card_pays_with_780_and_779() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let first = client
        .quick(
            command::QUICK_PAY,
            &QuickRequest {
                user_id: s("U9"),
                ..quick_pay("BQ1", "http://merchant.example/n")
            },
        )
        .await
        .unwrap();
    let bind_id = field(&first, "BIND_ID");
    let sms = |no: &str, bind: &str, amt: &str| QuickRequest {
        bind_id: s(bind),
        merorderid: s(no),
        user_id: s("U9"),
        phoneno: s(PHONE),
        amt: s(amt),
        randstr: s("1234567890"),
        ..QuickRequest::default()
    };
    // Not effective until the first payment is confirmed.
    let early = client
        .quick(command::BOUND_SMS, &sms("BQ2", &bind_id, "500"))
        .await
        .unwrap();
    assert_positive(&early, 33548);
    assert_eq!(field(&early, "STATUS"), "2");
    assert_eq!(field(&early, "ERRCODE"), "3010");
    let code = sms_code(&gw, PHONE).await;
    client
        .quick(
            command::QUICK_CONFIRM,
            &QuickRequest {
                list_id: s(&field(&first, "LIST_ID")),
                msg_code: s(&code),
                ..QuickRequest::default()
            },
        )
        .await
        .unwrap();
    gw.deliver().await;

    assert_negative(
        &client
            .quick(command::BOUND_SMS, &sms("BQ2", "B000", "500"))
            .await
            .unwrap(),
        "2004",
    );
    // The code goes to the phone the bank has for the card: another phone is 要素不匹配,
    // and nothing is made or sent.
    let elsewhere = client
        .quick(
            command::BOUND_SMS,
            &QuickRequest {
                phoneno: s("13912345678"),
                ..sms("BQ2", &bind_id, "500")
            },
        )
        .await
        .unwrap();
    assert_positive(&elsewhere, 33548);
    assert_eq!(field(&elsewhere, "STATUS"), "2", "{:?}", elsewhere.body);
    assert_eq!(field(&elsewhere, "ERRCODE"), "D4");
    assert_eq!(field(&elsewhere, "ERRMSG"), "要素不匹配");
    for required in ["USER_ID", "LIST_ID", "MERORDERID", "CARDNO"] {
        assert!(elsewhere.body.contains_key(required), "{required}");
    }
    let inbox = gw
        .http
        .get(format!("{}/sandbox/sms?phone=13912345678", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        inbox.status(),
        404,
        "no code was sent to the merchant's phone"
    );
    assert_negative(
        &client
            .quick(
                command::QUICK_QUERY,
                &QuickRequest {
                    merorderid: s("BQ2"),
                    ..QuickRequest::default()
                },
            )
            .await
            .unwrap(),
        "2002",
    );
    let sent = client
        .quick(command::BOUND_SMS, &sms("BQ2", &bind_id, "500"))
        .await
        .unwrap();
    assert_eq!(field(&sent, "STATUS"), "1", "{:?}", sent.body);
    assert_eq!(field(&sent, "USER_ID"), "U9");
    assert_eq!(field(&sent, "MERORDERID"), "BQ2");
    assert_eq!(field(&sent, "CARDNO"), "622848*********0018");
    let code = sms_code(&gw, PHONE).await;
    // 772 does not confirm it: that skips 779's checks and its NOTIFY_URL.
    let by_772 = client
        .quick(
            command::QUICK_CONFIRM,
            &QuickRequest {
                list_id: s(&field(&sent, "LIST_ID")),
                msg_code: s(&code),
                ..QuickRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(field(&by_772, "STATUS"), "2", "{:?}", by_772.body);
    assert_eq!(field(&by_772, "ERRCODE"), "3015");
    let pay = |amt: &str, code: &str| QuickRequest {
        bind_id: s(&bind_id),
        merorderid: s("BQ2"),
        user_id: s("U9"),
        amt: s(amt),
        msg_code: s(code),
        randstr: s("r"),
        notify_url: s(&merchant.url),
        ..QuickRequest::default()
    };
    assert_negative(
        &client
            .quick(command::BOUND_PAY, &pay("501", &code))
            .await
            .unwrap(),
        "3005",
    );
    // A wrong code names another NOTIFY_URL: it is not kept.
    let stranger = Receiver::start().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = client
        .quick(
            command::BOUND_PAY,
            &QuickRequest {
                notify_url: s(&stranger.url),
                ..pay("500", wrong)
            },
        )
        .await
        .unwrap();
    assert_eq!(field(&refused, "ERRCODE"), "3007", "{:?}", refused.body);
    let paid = client
        .quick(command::BOUND_PAY, &pay("500", &code))
        .await
        .unwrap();
    assert_positive(&paid, 33547);
    assert_eq!(field(&paid, "STATUS"), "1", "{:?}", paid.body);
    assert_eq!(field(&paid, "BIND_ID"), bind_id);
    assert_eq!(field(&paid, "USER_ID"), "U9");
    assert_eq!(field(&paid, "BANK_NAME"), "农业银行");
    assert_eq!(field(&paid, "AMT"), "500");
    assert_eq!(gw.deliver().await.delivered, 1, "to 779's NOTIFY_URL");
    assert!(stranger.received().is_empty());
    let pushed = notifications(&gw, &merchant);
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].body["MERORDERID"], json!("BQ2"));
    assert_eq!(pushed[0].body["AMT"], json!("500"));
}

#[tokio::test]
async fn commands_the_spec_marks_not_open_answer_so_and_775_shaped_as_a_query_is_773() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    for cmd in [
        command::BIND_CARD,
        command::UNBIND_CARD,
        command::BINDING_QUERY,
        command::BIND_SMS,
    ] {
        let reply = client
            .quick(
                cmd,
                &QuickRequest {
                    bind_id: s("B1"),
                    ..QuickRequest::default()
                },
            )
            .await
            .unwrap();
        assert_negative(&reply, "1009");
    }
    client
        .quick(
            command::QUICK_PAY,
            &quick_pay("N1", "http://merchant.example/n"),
        )
        .await
        .unwrap();
    let query = client
        .quick(
            command::UNBIND_CARD,
            &QuickRequest {
                merorderid: s("N1"),
                ..QuickRequest::default()
            },
        )
        .await
        .unwrap();
    assert_positive(&query, 33541);
    assert_eq!(field(&query, "STATUS"), "0");
}

#[tokio::test]
async fn the_unionpay_quick_order_needs_a_jump_url_and_gives_a_pay_url_and_html() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let order = |no: &str, mode: &str| QuickRequest {
        merorderid: s(no),
        amt: s("1000"),
        jump_url: s("https://shop.example.com/paid"),
        notify_url: s(&merchant.url),
        trade_mode: s(mode),
        randstr: s("r"),
        ..QuickRequest::default()
    };
    let no_jump = QuickRequest {
        jump_url: None,
        ..order("UQ0", "1")
    };
    assert_negative(
        &client
            .quick(command::UNIONPAY_QUICK, &no_jump)
            .await
            .unwrap(),
        "1007",
    );
    let url_only = client
        .quick(command::UNIONPAY_QUICK, &order("UQ1", "1"))
        .await
        .unwrap();
    assert_positive(&url_only, 33551);
    assert_eq!(field(&url_only, "STATUS"), "0");
    assert_eq!(field(&url_only, "ERRMSG"), "用户支付中");
    let list_id = field(&url_only, "LIST_ID");
    assert_eq!(field(&url_only, "PAY_URL"), gw.cashier_url(&list_id));
    assert!(url_only.field("HTML").is_none());
    let with_html = client
        .quick(command::UNIONPAY_QUICK, &order("UQ2", "2"))
        .await
        .unwrap();
    let html = field(&with_html, "HTML");
    assert!(
        html.contains(&gw.cashier_url(&field(&with_html, "LIST_ID"))) && html.contains("<form"),
        "{html}"
    );
    // The payer pays at PAY_URL's page; the cashier's success links back to JUMP_URL.
    let paid = gw
        .http
        .post(format!("{}/pay", field(&url_only, "PAY_URL")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("result=success")
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success() || paid.status().is_redirection());
    let page = gw
        .http
        .get(field(&url_only, "PAY_URL"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("https://shop.example.com/paid"), "{page}");
    assert_eq!(gw.deliver().await.delivered, 1);
    let pushes = notifications(&gw, &merchant);
    assert_eq!(pushes[0].command_id(), command::QUICK_NOTICE);
    assert_eq!(pushes[0].body["LIST_ID"], json!(list_id));
}

#[tokio::test]
async fn batch_queries_page_through_paid_orders_of_their_part() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let client = mmsp(&gw);
        let url = "http://merchant.example/n";
        for i in 0..12 {
            let reply = client
                .quick(
                    command::UNIONPAY_QUICK,
                    &QuickRequest {
                        merorderid: s(&format!("BT{i:02}")),
                        amt: s(&format!("{}", 100 + i)),
                        jump_url: s("https://shop.example.com/paid"),
                        notify_url: s(url),
                        ..QuickRequest::default()
                    },
                )
                .await
                .unwrap();
            if i != 5 {
                gw.pay(&field(&reply, "LIST_ID"), "success").await;
            }
            gw.advance(1);
        }
        // A paid gateway order is not a quick one.
        let gateway = client
            .gateway_pay(&GatewayRequest {
                merorderid: s("GT1"),
                amt: s("1"),
                notify_url: s(url),
                jump_url: s("https://shop.example.com/back"),
                pay_channel: s("YLBILL-NET-B2C"),
                ..GatewayRequest::default()
            })
            .await
            .unwrap();
        assert!(matches!(gateway, GatewayAnswer::Page(_)));
        let gt1 = client
            .gateway_query(&GatewayRequest {
                merorderid: s("GT1"),
                ..GatewayRequest::default()
            })
            .await
            .unwrap();
        gw.pay(&field(&gt1, "LIST_ID"), "success").await;

        let today = paymux_core::time::format_beijing_compact(paymux_core::clock::Clock::now(
            gw.clock.as_ref(),
        ));
        let query = |perpage: Option<&str>, page: &str| BatchQuery {
            start_date: s(&today[..8]),
            end_date: s(&today[..8]),
            perpage: perpage.map(str::to_owned),
            page: s(page),
        };
        let mut seen = Vec::new();
        for page in 1..=3 {
            let reply = client
                .quick_batch(&query(Some("5"), &page.to_string()))
                .await
                .unwrap();
            assert_positive(&reply, 33545);
            assert_eq!(field(&reply, "STATUS"), "1", "{backend:?} page {page}");
            assert_eq!(field(&reply, "TOTAL_NUM"), "11");
            assert_eq!(field(&reply, "TOTAL_PAGE"), "3");
            assert_eq!(field(&reply, "PERPAGE"), "5");
            assert_eq!(field(&reply, "PAGE"), page.to_string());
            let items = reply.body["BIZ_CONTENT"].as_array().unwrap();
            assert_eq!(items.len(), if page == 3 { 1 } else { 5 });
            for item in items {
                assert_eq!(item["STATUS"], json!("1"));
                seen.push(item["MERORDERID"].as_str().unwrap().to_owned());
            }
        }
        let expected: Vec<String> = (0..12)
            .filter(|i| *i != 5)
            .map(|i| format!("BT{i:02}"))
            .collect();
        assert_eq!(seen, expected, "by payment time, each once");
        let default = client.quick_batch(&query(None, "1")).await.unwrap();
        assert_eq!(default.body["BIZ_CONTENT"].as_array().unwrap().len(), 10);
        let beyond = client.quick_batch(&query(Some("5"), "4")).await.unwrap();
        assert_eq!(field(&beyond, "STATUS"), "0");
        assert_eq!(beyond.body["BIZ_CONTENT"], json!([]));

        let gateway_batch = client.gateway_batch(&query(None, "1")).await.unwrap();
        assert_positive(&gateway_batch, 33550);
        assert_eq!(field(&gateway_batch, "TOTAL_NUM"), "1");
        assert_eq!(
            gateway_batch.body["BIZ_CONTENT"][0]["MERORDERID"],
            json!("GT1")
        );

        assert_negative(
            &client.quick_batch(&query(Some("1001"), "1")).await.unwrap(),
            "1008",
        );
        let old = BatchQuery {
            start_date: s("20200101"),
            ..query(None, "1")
        };
        assert_negative(&client.quick_batch(&old).await.unwrap(), "1008");
        let hours = BatchQuery {
            start_date: s(&today[..10]),
            end_date: s(&today[..14]),
            ..query(None, "1")
        };
        assert_eq!(
            field(&client.quick_batch(&hours).await.unwrap(), "STATUS"),
            "1"
        );
    }
}

#[tokio::test]
async fn a_gateway_payment_goes_through_the_bank_page_to_the_notification_and_the_front_return() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let request = GatewayRequest {
        merorderid: s("G1"),
        amt: s("666"),
        notify_url: s(&merchant.url),
        jump_url: s("https://shop.example.com/return?from=mmsp"),
        pay_channel: s("ICBC-NET-B2C"),
        goodsname: s("product"),
        remark: s("备注"),
        ..GatewayRequest::default()
    };
    let form = client.gateway_form(&request);
    assert!(
        form.contains("name='web_api'") && form.contains("/mmsp/gateway"),
        "{form}"
    );
    let GatewayAnswer::Page(page) = client.gateway_pay(&request).await.unwrap() else {
        panic!("a bank page");
    };
    assert!(page.contains("工商银行网上银行"), "{page}");
    assert!(page.contains("ICBC-NET-B2C") && page.contains("¥6.66"));
    let query = client
        .gateway_query(&GatewayRequest {
            merorderid: s("G1"),
            ..GatewayRequest::default()
        })
        .await
        .unwrap();
    assert_positive(&query, 35091);
    assert_eq!(field(&query, "STATUS"), "0");
    let list_id = field(&query, "LIST_ID");
    let cashier = gw.cashier_url(&list_id);
    assert!(page.contains(&format!("action=\"{cashier}\"")), "{page}");
    // The bank page's form leads to the cashier, where the payer pays.
    let at_bank = gw
        .http
        .post(&cashier)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("orderId={list_id}&amount=6.66"))
        .send()
        .await
        .unwrap();
    assert_eq!(at_bank.status(), 200);
    gw.http
        .post(format!("{cashier}/pay"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("result=success")
        .send()
        .await
        .unwrap();

    assert_eq!(gw.deliver().await.delivered, 1);
    let pushed = notifications(&gw, &merchant);
    assert_eq!(pushed[0].command_id(), command::GATEWAY_NOTICE);
    assert_eq!(pushed[0].body["STATUS"], json!("1"));
    assert_eq!(pushed[0].body["PAY_CHANNEL"], json!("ICBC-NET-B2C"));
    assert_eq!(pushed[0].body["GOODSNAME"], json!("product"));
    assert_eq!(pushed[0].body["REMARK"], json!("备注"));
    assert_eq!(pushed[0].body["AMT"], json!("666"));
    let paid = client
        .gateway_query(&GatewayRequest {
            merorderid: s("G1"),
            ..GatewayRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(field(&paid, "STATUS"), "1");

    // The cashier's way back is the front-page return, a GET to JUMP_URL with the state.
    let done = gw
        .http
        .get(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let back = done
        .split("<a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link back")
        .replace("&amp;", "&");
    assert!(back.contains("/mmsp/gateway/return/"), "{back}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = no_redirects.get(&back).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://shop.example.com/return?from=mmsp&STATUS=1&"),
        "{location}"
    );
    assert!(location.contains(&format!("LIST_ID={list_id}")));
    assert!(location.contains("MERORDERID=G1") && location.contains("PAY_CHANNEL=ICBC-NET-B2C"));
    let forged = back.replace(&back[back.len() - 4..], "0000");
    assert_eq!(
        no_redirects.get(&forged).send().await.unwrap().status(),
        404
    );

    let unknown_bank = client
        .gateway_pay(&GatewayRequest {
            merorderid: s("G2"),
            pay_channel: s("NOBANK-NET-B2C"),
            ..request.clone()
        })
        .await
        .unwrap();
    let GatewayAnswer::Frame(refused) = unknown_bank else {
        panic!("a negative reply");
    };
    assert_negative(&refused, "1008");
    assert!(refused.error_msg().contains("PAY_CHANNEL"));
}

/// A frame as a merchant could write it, signed over the given Body text.
fn raw_frame(command_id: Value, body: Value, key: &str) -> Value {
    let body_object = match &body {
        Value::String(text) => serde_json::from_str::<Params>(text).unwrap(),
        Value::Object(map) => map.clone(),
        _ => Params::new(),
    };
    json!({
        "CommandID": command_id, "SeqID": "9", "NodeType": "3", "NodeID": "openapi",
        "Version": "1.0.0", "AGENTNO": "", "MERNNO": MMSP_MERNO, "TERMNO": MMSP_TERMNO,
        "Body": body, "Sign": codec::sign_body(&body_object, key)
    })
}

#[tokio::test]
async fn numbers_as_numbers_bodies_as_strings_and_header_typos_are_accepted() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    // AMT as a JSON number, the Body as a string holding the JSON, MERNNO for MERNO.
    let body = r#"{"TRADETYPE":1,"AMT":100,"MERORDERID":"N/A-1","RANDSTR":"x","GOODSNAME":"测试","NOTIFY_URL":"http://merchant.example/n"}"#;
    let frame = raw_frame(json!("2306"), json!(body), MMSP_KEY);
    let reply = client
        .send_bytes(Part::Scan, frame.to_string().into_bytes())
        .await
        .unwrap();
    assert_negative(&reply, "1008");
    assert!(
        reply.error_msg().contains("MERORDERID"),
        "{}",
        reply.error_msg()
    );
    let body = body.replace("N/A-1", "NA-1");
    let frame = raw_frame(json!("2306"), json!(body), MMSP_KEY);
    let reply = client
        .send_bytes(Part::Scan, frame.to_string().into_bytes())
        .await
        .unwrap();
    assert_positive(&reply, 35074);
    assert_eq!(reply.frame["SeqID"], json!("9"));
    assert_eq!(field(&reply, "STATUS"), "1");
    assert_eq!(
        field(&client.query(&by_no("NA-1")).await.unwrap(), "AMT"),
        "100"
    );
    // Signed as strings, sent as numbers: the signature covers what was sent.
    let mut frame = raw_frame(
        json!(2310),
        json!({"MERORDERID": "NA-1", "RANDSTR": 7}),
        MMSP_KEY,
    );
    frame["Body"]["RANDSTR"] = json!("7");
    let reply = client
        .send_bytes(Part::Scan, frame.to_string().into_bytes())
        .await
        .unwrap();
    assert_negative(&reply, "1006");
}

#[tokio::test]
async fn malformed_and_unsigned_frames_get_the_unsigned_negative_reply() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let body = json!({"MERORDERID": "Z1", "RANDSTR": "r"});
    let signed = raw_frame(json!(2310), body.clone(), MMSP_KEY);
    let with = |name: &str, value: Value| {
        let mut frame = signed.clone();
        frame[name] = value;
        frame.to_string().into_bytes()
    };
    let cases: Vec<(Part, Vec<u8>, &str)> = vec![
        (Part::Scan, b"not json".to_vec(), "1001"),
        (Part::Scan, b"[]".to_vec(), "1001"),
        (Part::Scan, with("CommandID", Value::Null), "1001"),
        (Part::Scan, with("Body", json!([1])), "1001"),
        (Part::Scan, with("CommandID", json!(9999)), "1002"),
        (Part::Quick, signed.to_string().into_bytes(), "1002"),
        (Part::Scan, with("MERNNO", json!("000")), "1003"),
        (Part::Scan, with("TERMNO", json!("000")), "1004"),
        (Part::Scan, with("AGENTNO", json!("A1")), "1005"),
        (Part::Scan, with("Sign", json!("")), "1006"),
        (
            Part::Scan,
            with("Sign", json!("0123456789ABCDEF0123456789ABCDEF")),
            "1006",
        ),
        (
            Part::Scan,
            raw_frame(json!(2310), json!({"MERORDERID": "Z1"}), "wrong key")
                .to_string()
                .into_bytes(),
            "1006",
        ),
        (
            Part::Scan,
            raw_frame(json!(2310), json!({"MERORDERID": {"x": 1}}), MMSP_KEY)
                .to_string()
                .into_bytes(),
            "1008",
        ),
        (Part::Scan, signed.to_string().into_bytes(), "2002"),
    ];
    for (part, bytes, code) in cases {
        let reply = client.send_bytes(part, bytes.clone()).await.unwrap();
        assert_negative(&reply, code);
        assert_eq!(reply.command_id(), 32768);
    }
    // The header is echoed where there was one.
    let reply = client
        .send_bytes(Part::Scan, with("Sign", json!("")))
        .await
        .unwrap();
    assert_eq!(reply.frame["SeqID"], json!("9"));
    assert_eq!(reply.frame["MERNO"], json!(MMSP_MERNO));
    // Unknown paths and methods under /mmsp answer the same way.
    for response in [
        gw.http
            .post(format!("{}/mmsp/nope", gw.url))
            .body("{}")
            .send()
            .await
            .unwrap(),
        gw.http
            .get(format!("{}/mmsp/scan", gw.url))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 200);
        let frame: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(frame["CommandID"], json!(32768));
        assert_eq!(frame["Sign"], json!(""));
    }
}

#[tokio::test]
async fn an_agent_signs_with_its_own_key() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |config| {
        let text = config_text("sqlite://unused.db").replace(
            &format!("md5_key = \"{MMSP_KEY}\""),
            &format!(
                "md5_key = \"{MMSP_KEY}\"\nagent_no = \"88800001\"\nagent_md5_key = \"AGENTKEY0123456789\""
            ),
        );
        let with_agent = Config::parse(&text, "agent").expect("config");
        config.merchants = with_agent.merchants;
    })
    .await;
    let merchant = Receiver::start().await;
    let agent = mmsp(&gw).with_agent("88800001", SecretString::from("AGENTKEY0123456789"));
    let reply = agent
        .scan_order(
            command::WECHAT_NATIVE,
            &scan_order("AG1", "1", &merchant.url),
        )
        .await
        .expect("a reply signed with the agent's key");
    assert_eq!(field(&reply, "STATUS"), "1");
    assert_eq!(reply.frame["AGENTNO"], json!("88800001"));
    // The merchant's own key still works without AGENTNO; with it, only the agent's.
    assert_eq!(
        field(&mmsp(&gw).query(&by_no("AG1")).await.unwrap(), "STATUS"),
        "3"
    );
    let mut frame = mmsp(&gw).frame(command::QUERY, &by_no("AG1"));
    frame.insert("AGENTNO".into(), json!("88800001"));
    assert_negative(&mmsp(&gw).send(Part::Scan, &frame).await.unwrap(), "1006");
    gw.pay(&pid(&field(&reply, "ORDERNO")), "success").await;
    gw.deliver().await;
    let received = merchant.received();
    let push: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(push["AGENTNO"], json!("88800001"));
    let body = push["Body"].as_object().unwrap();
    assert!(codec::verify(
        body,
        push["Sign"].as_str().unwrap(),
        "AGENTKEY0123456789"
    ));
}

#[tokio::test]
async fn the_h5_wake_up_and_the_openid_redirect_lead_back_to_the_merchant() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let back = "https://shop.example.com/h5?x=1";
    // base64 of the URL, as PHP's base64_encode writes it.
    let encoded = {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = back.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
        out
    };
    let wake = gw
        .http
        .get(format!(
            "{}/payopenplath5/wxh5pay?{}",
            gw.url,
            form(&[
                ("memo", MMSP_MERNO),
                ("termno", MMSP_TERMNO),
                ("merurl", &encoded),
                ("tradetype", "1"),
            ])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wake.status(), 200);
    assert!(
        wake.text()
            .await
            .unwrap()
            .contains("https://shop.example.com/h5?x=1")
    );
    let wrong = gw
        .http
        .get(format!(
            "{}/payopenplath5/wxh5pay?{}",
            gw.url,
            form(&[("memo", MMSP_MERNO), ("termno", "x"), ("merurl", &encoded)])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (tradetype, prefix) in [("1", "oSbx"), ("2", "2088")] {
        let redirect = no_redirects
            .get(format!(
                "{}/mmsp/openid?{}",
                gw.url,
                form(&[
                    ("merurl", back),
                    ("merno", MMSP_MERNO),
                    ("tradetype", tradetype),
                ])
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(redirect.status(), 302);
        let location = redirect.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with(&format!("{back}&token_id={prefix}")),
            "{location}"
        );
    }
    let refused = no_redirects
        .get(format!(
            "{}/mmsp/openid?{}",
            gw.url,
            form(&[("merurl", "javascript:alert(1)"), ("merno", MMSP_MERNO)])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

/// `paymux client … mmsp …` as a person at a terminal runs it.
fn client_exit(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_paymux"))
        .arg("client")
        .args(args)
        .output()
        .expect("paymux client");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_pays_by_card_with_the_code_and_quotes_negative_replies() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("merchant.toml");
    std::fs::write(&config, config_text("sqlite://unused.db")).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let base = [
        "--url",
        gw.url.as_str(),
        "--config",
        config.as_str(),
        "mmsp",
    ];
    let run = |more: &[&str]| {
        let args: Vec<&str> = base.iter().chain(more).copied().collect();
        client_exit(&args)
    };

    let (code, stdout, stderr) = run(&[
        "quick-pay",
        "--card-no",
        CARD,
        "--name",
        "张安",
        "--id-no",
        ID_NO,
        "--phone",
        PHONE,
        "--merorderid",
        "CLI1",
        "--amt",
        "99",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("reply signature verified"), "{stderr}");
    let reply: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reply["Body"]["STATUS"], json!("0"));
    let list_id = reply["Body"]["LIST_ID"].as_str().unwrap().to_owned();
    let sms = sms_code(&gw, PHONE).await;
    let (code, stdout, stderr) = run(&["quick-confirm", "--list-id", &list_id, "--code", &sms]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"STATUS\": \"1\""), "{stdout}");

    let (code, stdout, stderr) = run(&["query", "--merorderid", "NOPE"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("\"CommandID\": 32768"), "{stdout}");
    assert!(
        stderr.contains("the server refused our request: [-2002] 没有该订单"),
        "{stderr}"
    );
    let (code, stdout, _) = run(&["gateway-pay", "--merorderid", "CLIG", "--form"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("name='web_api'"), "{stdout}");
}

fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

fn confirm(list_id: &str, code: &str) -> QuickRequest {
    QuickRequest {
        list_id: s(list_id),
        msg_code: s(code),
        randstr: s("r"),
        ..QuickRequest::default()
    }
}

/// Sends the codes at once as 772s; their ERRCODEs ("" for STATUS 1).
async fn guesses_at_once(client: &MmspClient, list_id: &str, codes: Vec<String>) -> Vec<String> {
    let mut guesses = tokio::task::JoinSet::new();
    for code in codes {
        let client = client.clone();
        let request = confirm(list_id, &code);
        guesses.spawn(async move {
            let reply = client
                .quick(command::QUICK_CONFIRM, &request)
                .await
                .unwrap();
            field(&reply, "ERRCODE")
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = guesses.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_at_once_share_no_check_and_an_order_gets_five_codes() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let client = mmsp(&gw);
        let reply = client
            .quick(
                command::QUICK_PAY,
                &quick_pay("G20", "http://merchant.example/n"),
            )
            .await
            .unwrap();
        let list_id = field(&reply, "LIST_ID");
        let code = sms_code(&gw, PHONE).await;
        let wrong = wrong_code(&code).to_owned();
        // Twenty wrong guesses at once: five are checked, the rest find the code void.
        let answers = guesses_at_once(&client, &list_id, vec![wrong.clone(); 20]).await;
        let checked = answers.iter().filter(|c| *c == "3007").count();
        let void = answers.iter().filter(|c| *c == "3008").count();
        assert_eq!((checked, void), (5, 15), "{backend:?}: {answers:?}");
        let right = client
            .quick(command::QUICK_CONFIRM, &confirm(&list_id, &code))
            .await
            .unwrap();
        assert_eq!(field(&right, "ERRCODE"), "3008", "{backend:?}: void");

        // Four wrong guesses, then twenty at once with the right code among them: one
        // check is left, so one of the twenty is checked (the right code pays only if it
        // is that one), never all of them.
        let reply = client
            .quick(
                command::QUICK_PAY,
                &quick_pay("G21", "http://merchant.example/n"),
            )
            .await
            .unwrap();
        let list_id = field(&reply, "LIST_ID");
        let code = sms_code(&gw, PHONE).await;
        let wrong = wrong_code(&code).to_owned();
        for _ in 0..4 {
            let r = client
                .quick(command::QUICK_CONFIRM, &confirm(&list_id, &wrong))
                .await
                .unwrap();
            assert_eq!(field(&r, "ERRCODE"), "3007");
        }
        let mut codes = vec![wrong.clone(); 19];
        codes.push(code.clone());
        let answers = guesses_at_once(&client, &list_id, codes).await;
        let checked = answers.iter().filter(|c| *c != "3008").count();
        assert_eq!(checked, 1, "{backend:?}: {answers:?}");

        // Five codes in all: the first and four more, a minute apart.
        let reply = client
            .quick(
                command::QUICK_PAY,
                &quick_pay("G22", "http://merchant.example/n"),
            )
            .await
            .unwrap();
        let list_id = field(&reply, "LIST_ID");
        let resend = QuickRequest {
            list_id: s(&list_id),
            ..QuickRequest::default()
        };
        for _ in 0..4 {
            gw.advance(60);
            let sent = client.quick(command::QUICK_RESEND, &resend).await.unwrap();
            assert_eq!(field(&sent, "STATUS"), "1", "{:?}", sent.body);
        }
        let fifth = sms_code(&gw, PHONE).await;
        gw.advance(60);
        let capped = client.quick(command::QUICK_RESEND, &resend).await.unwrap();
        assert_positive(&capped, 33546);
        assert_eq!(field(&capped, "STATUS"), "2", "{backend:?}");
        assert_eq!(field(&capped, "ERRCODE"), "3014");
        assert_eq!(field(&capped, "LIST_ID"), list_id);
        assert_eq!(sms_code(&gw, PHONE).await, fifth, "no sixth code was sent");
        // The last code sent is good for its own checks (sent 60 s ago, within 5 minutes).
        let paid = client
            .quick(command::QUICK_CONFIRM, &confirm(&list_id, &fifth))
            .await
            .unwrap();
        assert_eq!(field(&paid, "STATUS"), "1", "{backend:?}: {:?}", paid.body);
    }
}

#[tokio::test]
async fn commands_see_only_their_own_parts_orders_and_no_other_dialects() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/n";
    // A scan order paid at once, a quick order paid, a gateway order, an xxpay order.
    let scan = client
        .scan_order(
            command::WECHAT_MICROPAY,
            &micropay("PS1", "134567890123456781", url),
        )
        .await
        .unwrap();
    assert_eq!(field(&scan, "STATUS"), "1");
    let quick = client
        .quick(command::QUICK_PAY, &quick_pay("PQ1", url))
        .await
        .unwrap();
    let quick_id = field(&quick, "LIST_ID");
    let code = sms_code(&gw, PHONE).await;
    let paid = client
        .quick(command::QUICK_CONFIRM, &confirm(&quick_id, &code))
        .await
        .unwrap();
    assert_eq!(field(&paid, "STATUS"), "1");
    client
        .gateway_pay(&GatewayRequest {
            merorderid: s("PG1"),
            amt: s("100"),
            notify_url: s(url),
            jump_url: s("https://shop.example.com/back"),
            pay_channel: s("YLBILL-NET-B2C"),
            ..GatewayRequest::default()
        })
        .await
        .unwrap();
    let xxpay = paymux_dialects::xxpay::XxpayClient::new(
        &gw.url,
        crate::helpers::XXPAY_MCH_ID,
        crate::helpers::XXPAY_APP_ID,
        SecretString::from(crate::helpers::XXPAY_KEY),
    )
    .unwrap();
    let created = xxpay
        .create_order(&paymux_dialects::xxpay::wire::CreateOrderRequest {
            product_id: s("8002"),
            mch_order_no: s("PX1"),
            currency: s("cny"),
            amount: s("100"),
            notify_url: s(url),
            subject: s("s"),
            body: s("b"),
            ..Default::default()
        })
        .await
        .unwrap();
    let xxpay_id = created.pay_order_id.unwrap();
    gw.advance(15);

    // The scan part: not the quick, gateway or xxpay orders, by either number.
    for no in ["PQ1", "PG1", "PX1"] {
        for reply in [
            client.query(&by_no(no)).await.unwrap(),
            client.cancel(&by_no(no)).await.unwrap(),
            client.close(&by_no(no)).await.unwrap(),
            client
                .refund(&OrderRef {
                    refund_merorderid: s(&format!("R{no}")),
                    amt: s("1"),
                    ..by_no(no)
                })
                .await
                .unwrap(),
        ] {
            assert_negative(&reply, "2002");
        }
    }
    for id in [&quick_id, &xxpay_id] {
        let by_id = OrderRef {
            orderno: s(id),
            randstr: s("r"),
            ..OrderRef::default()
        };
        assert_negative(&client.query(&by_id).await.unwrap(), "2002");
    }
    assert_eq!(
        field(&client.query(&by_no("PS1")).await.unwrap(), "STATUS"),
        "1"
    );
    // The quick part: not the scan, gateway or xxpay orders.
    for no in ["PS1", "PG1", "PX1"] {
        let query = QuickRequest {
            merorderid: s(no),
            ..QuickRequest::default()
        };
        assert_negative(
            &client.quick(command::QUICK_QUERY, &query).await.unwrap(),
            "2002",
        );
    }
    let scan_id = pid(&field(&scan, "ORDERNO"));
    for cmd in [command::QUICK_CONFIRM, command::QUICK_RESEND] {
        for id in [&scan_id, &xxpay_id] {
            assert_negative(
                &client.quick(cmd, &confirm(id, "123456")).await.unwrap(),
                "2002",
            );
        }
    }
    // The gateway part: not the scan, quick or xxpay orders.
    for no in ["PS1", "PQ1", "PX1"] {
        let query = GatewayRequest {
            merorderid: s(no),
            ..GatewayRequest::default()
        };
        assert_negative(&client.gateway_query(&query).await.unwrap(), "2002");
    }
    let quick_query = client
        .quick(
            command::QUICK_QUERY,
            &QuickRequest {
                merorderid: s("PQ1"),
                ..QuickRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(field(&quick_query, "STATUS"), "1", "nothing was refunded");
}

#[tokio::test]
async fn orderno_and_refund_orderno_are_20_digits_and_requests_may_use_either_form() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    let client = mmsp(&gw);
    let made = client
        .scan_order(
            command::ALIPAY_NATIVE,
            &scan_order("N20", "300", &merchant.url),
        )
        .await
        .unwrap();
    let orderno = field(&made, "ORDERNO");
    assert!(
        orderno.len() == 20 && orderno.bytes().all(|b| b.is_ascii_digit()),
        "{orderno}"
    );
    assert_eq!(gw.pay(&pid(&orderno), "success").await.status(), 200);
    for named in [orderno.clone(), pid(&orderno)] {
        let query = client
            .query(&OrderRef {
                orderno: s(&named),
                randstr: s("r"),
                ..OrderRef::default()
            })
            .await
            .unwrap();
        assert_eq!(field(&query, "STATUS"), "1", "{named}");
        assert_eq!(field(&query, "ORDERNO"), orderno);
    }
    gw.deliver().await;
    let pushed = notifications(&gw, &merchant);
    assert_eq!(pushed[0].body["ORDERNO"], json!(orderno));
    let refund = client
        .refund(&OrderRef {
            orderno: s(&orderno),
            refund_merorderid: s("NR1"),
            amt: s("100"),
            randstr: s("r"),
            ..OrderRef::default()
        })
        .await
        .unwrap();
    let refund_orderno = field(&refund, "REFUND_ORDERNO");
    assert!(
        refund_orderno.len() == 20 && refund_orderno.bytes().all(|b| b.is_ascii_digit()),
        "{refund_orderno}"
    );
    let paymux_form = paymux_dialects::common::ids::named('R', &refund_orderno).to_string();
    assert!(paymux_form.starts_with('R'), "{paymux_form}");
    for named in [refund_orderno.clone(), paymux_form] {
        let found = client
            .refund_query(&RefundRef {
                refund_orderno: s(&named),
                randstr: s("r"),
                ..RefundRef::default()
            })
            .await
            .unwrap();
        assert_eq!(field(&found, "REFUND_ORDERNO"), refund_orderno, "{named}");
        assert_eq!(field(&found, "REFUND_MERORDERID"), "NR1");
    }
}

#[tokio::test]
async fn a_partly_refunded_order_is_reversed_for_the_rest() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/n";
    let paid = client
        .scan_order(
            command::WECHAT_MICROPAY,
            &micropay("RV1", "134567890123456781", url),
        )
        .await
        .unwrap();
    assert_eq!(field(&paid, "STATUS"), "1");
    let part = client
        .refund(&OrderRef {
            refund_merorderid: s("RV1-1"),
            amt: s("30"),
            ..by_no("RV1")
        })
        .await
        .unwrap();
    assert_eq!(field(&part, "STATUS"), "1", "{:?}", part.body);
    gw.advance(15);
    let reversed = client.cancel(&by_no("RV1")).await.unwrap();
    assert_eq!(field(&reversed, "STATUS"), "1", "{:?}", reversed.body);
    let orderno = field(&paid, "ORDERNO");
    let rest = client
        .refund_query(&RefundRef {
            refund_merorderid: s(&orderno),
            ..RefundRef::default()
        })
        .await
        .unwrap();
    assert_eq!(field(&rest, "AMT"), "70", "{:?}", rest.body);
    assert_eq!(field(&rest, "REFUND_MERORDERID"), orderno);
    // Asking again answers the same; nothing more is refunded.
    assert_eq!(
        field(&client.cancel(&by_no("RV1")).await.unwrap(), "STATUS"),
        "1"
    );
    let over = client
        .refund(&OrderRef {
            refund_merorderid: s("RV1-2"),
            amt: s("1"),
            ..by_no("RV1")
        })
        .await
        .unwrap();
    assert_eq!(field(&over, "STATUS"), "2");
    // A refusal carries the reply's required fields.
    assert_eq!(field(&over, "ERR_CODE"), "3003");
    assert_eq!(over.body["REFUND_ORDERNO"], json!(""));
    assert_eq!(over.body["REFUND_TIME"], json!(""));
    assert_eq!(field(&over, "REFUND_MERORDERID"), "RV1-2");
    assert_eq!(field(&over, "AMT"), "1");
    // Refunded in full by the merchant: nothing is left to reverse, the payer is not charged.
    let full = client
        .scan_order(
            command::WECHAT_MICROPAY,
            &micropay("RV2", "134567890123456781", url),
        )
        .await
        .unwrap();
    assert_eq!(field(&full, "STATUS"), "1");
    client
        .refund(&OrderRef {
            refund_merorderid: s("RV2-1"),
            amt: s("100"),
            ..by_no("RV2")
        })
        .await
        .unwrap();
    gw.advance(15);
    let nothing = client.cancel(&by_no("RV2")).await.unwrap();
    assert_eq!(field(&nothing, "STATUS"), "1", "{:?}", nothing.body);
}

#[tokio::test]
async fn notify_date_is_each_pushs_send_time_and_in_replies_the_acknowledgement() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    merchant.answer_with(&["FAIL"]);
    let client = mmsp(&gw);
    let made = client
        .quick(command::QUICK_PAY, &quick_pay("ND1", &merchant.url))
        .await
        .unwrap();
    let list_id = field(&made, "LIST_ID");
    assert_eq!(made.body["NOTIFY_DATE"], json!(""), "not notified yet");
    let code = sms_code(&gw, PHONE).await;
    client
        .quick(command::QUICK_CONFIRM, &confirm(&list_id, &code))
        .await
        .unwrap();
    let query = || async {
        client
            .quick(
                command::QUICK_QUERY,
                &QuickRequest {
                    merorderid: s("ND1"),
                    ..QuickRequest::default()
                },
            )
            .await
            .unwrap()
    };
    gw.advance(7);
    assert_eq!(gw.deliver().await.retried, 1);
    assert_eq!(
        query().await.body["NOTIFY_DATE"],
        json!(""),
        "not acknowledged"
    );
    gw.advance(1);
    assert_eq!(gw.deliver().await.delivered, 1);
    let pushes = notifications(&gw, &merchant);
    let dates: Vec<String> = pushes
        .iter()
        .map(|p| p.body["NOTIFY_DATE"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dates.len(), 2);
    assert_ne!(dates[0], dates[1], "each push is dated when it is sent");
    assert_ne!(dates[0], field(&query().await, "PAY_DATE"));
    let acknowledged = query().await;
    assert_eq!(field(&acknowledged, "NOTIFY_DATE"), dates[1]);
    assert_eq!(field(&acknowledged, "NOTIFY_DATE").len(), 14);
}

/// The pushes a merchant received, with the manual clock's seconds since `start` when each
/// was sent, until the notifier gives up or acknowledges.
async fn push_times(gw: &TestGateway, merchant: &Receiver, delays: &[i64]) -> Vec<usize> {
    let mut counts = vec![merchant.received().len()];
    for delay in delays {
        gw.advance(delay - 1);
        let early = gw.deliver().await;
        assert_eq!(early.attempts(), 0, "nothing is due a second early");
        gw.advance(1);
        let due = gw.deliver().await;
        assert_eq!(due.attempts(), 1, "due after {delay} s");
        counts.push(merchant.received().len());
    }
    counts
}

#[tokio::test]
async fn pushes_follow_the_specs_schedules_and_give_up_after_the_last() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let merchant = Receiver::start().await;
    merchant.answer_with(&["FAIL"; 20]);
    let client = mmsp(&gw);
    // Scan (§10.8): pushed at 0, 15, 15, 30, 180, 1800 ×5, 3600 s after each other.
    let made = client
        .scan_order(
            command::WECHAT_NATIVE,
            &scan_order("SC1", "5", &merchant.url),
        )
        .await
        .unwrap();
    assert_eq!(
        gw.pay(&pid(&field(&made, "ORDERNO")), "success")
            .await
            .status(),
        200
    );
    assert_eq!(gw.deliver().await.retried, 1, "the first push");
    let scan = [15, 15, 30, 180, 1800, 1800, 1800, 1800, 1800];
    let counts = push_times(&gw, &merchant, &scan).await;
    assert_eq!(counts, (1..=10).collect::<Vec<_>>());
    gw.advance(3599);
    assert_eq!(gw.deliver().await.attempts(), 0);
    gw.advance(1);
    assert_eq!(gw.deliver().await.gave_up, 1, "the 11th push is the last");
    gw.advance(86_400);
    assert_eq!(gw.deliver().await.attempts(), 0);
    assert_eq!(merchant.received().len(), 11);
    for push in notifications(&gw, &merchant) {
        assert_eq!(push.command_id(), command::SCAN_PUSH);
    }

    // Quick (§5.5.3): 7 more tries, about 1, 5, 10, 30, 90, 180 and 300 s apart.
    let quick = Receiver::start().await;
    quick.answer_with(&["FAIL"; 20]);
    let made = client
        .quick(command::QUICK_PAY, &quick_pay("SQ1", &quick.url))
        .await
        .unwrap();
    let code = sms_code(&gw, PHONE).await;
    client
        .quick(
            command::QUICK_CONFIRM,
            &confirm(&field(&made, "LIST_ID"), &code),
        )
        .await
        .unwrap();
    assert_eq!(gw.deliver().await.retried, 1);
    let counts = push_times(&gw, &quick, &[1, 5, 10, 30, 90, 180]).await;
    assert_eq!(counts, (1..=7).collect::<Vec<_>>());
    gw.advance(300);
    assert_eq!(gw.deliver().await.gave_up, 1, "the 8th push is the last");
    gw.advance(86_400);
    assert_eq!(gw.deliver().await.attempts(), 0);
    let pushes: Vec<i64> = notifications(&gw, &quick)
        .iter()
        .map(|p| p.body["PUSH_COUNT"].as_i64().unwrap())
        .collect();
    assert_eq!(pushes, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_merchant_order_number_is_used_once_in_quick_unionpay_quick_and_gateway() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/n";
    let first = client
        .quick(command::QUICK_PAY, &quick_pay("D771", url))
        .await
        .unwrap();
    assert_eq!(field(&first, "STATUS"), "0");
    assert_negative(
        &client
            .quick(command::QUICK_PAY, &quick_pay("D771", url))
            .await
            .unwrap(),
        "2001",
    );
    let unionpay = QuickRequest {
        merorderid: s("D783"),
        amt: s("100"),
        jump_url: s("https://shop.example.com/back"),
        notify_url: s(url),
        ..QuickRequest::default()
    };
    let first = client
        .quick(command::UNIONPAY_QUICK, &unionpay)
        .await
        .unwrap();
    assert_eq!(field(&first, "STATUS"), "0", "{:?}", first.body);
    assert_negative(
        &client
            .quick(command::UNIONPAY_QUICK, &unionpay)
            .await
            .unwrap(),
        "2001",
    );
    let gateway = GatewayRequest {
        merorderid: s("D2322"),
        amt: s("100"),
        notify_url: s(url),
        jump_url: s("https://shop.example.com/back"),
        pay_channel: s("YLBILL-NET-B2C"),
        ..GatewayRequest::default()
    };
    assert!(matches!(
        client.gateway_pay(&gateway).await.unwrap(),
        GatewayAnswer::Page(_)
    ));
    match client.gateway_pay(&gateway).await.unwrap() {
        GatewayAnswer::Frame(reply) => assert_negative(&reply, "2001"),
        GatewayAnswer::Page(page) => panic!("a second page: {page}"),
    }
}

#[tokio::test]
async fn is_raw_gives_alipay_and_qq_their_pay_info_instead_of_a_url() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let client = mmsp(&gw);
    let url = "http://merchant.example/n";
    let alipay = client
        .scan_order(
            command::ALIPAY_NATIVE,
            &ScanOrder {
                trade_type: s("2"),
                alipay_user_id: s("2088102146225135"),
                is_raw: s("1"),
                ..scan_order("RAW1", "10", url)
            },
        )
        .await
        .unwrap();
    assert_eq!(field(&alipay, "STATUS"), "1", "{:?}", alipay.body);
    assert!(alipay.body.get("URL").is_none(), "{:?}", alipay.body);
    let info: Value = serde_json::from_str(&field(&alipay, "PAY_INFO")).unwrap();
    assert_eq!(info, json!({ "tradeNO": pid(&field(&alipay, "ORDERNO")) }));
    let qq = client
        .scan_order(
            command::QQ_NATIVE,
            &ScanOrder {
                trade_type: s("2"),
                is_raw: s("1"),
                ..scan_order("RAW2", "10", url)
            },
        )
        .await
        .unwrap();
    assert_eq!(field(&qq, "STATUS"), "1", "{:?}", qq.body);
    assert!(qq.body.get("URL").is_none());
    let info: Value = serde_json::from_str(&field(&qq, "PAY_INFO")).unwrap();
    assert_eq!(info, json!({ "tokenId": pid(&field(&qq, "ORDERNO")) }));
    // IS_RAW 2 (the default) gives the URL.
    let with_url = client
        .scan_order(
            command::QQ_NATIVE,
            &ScanOrder {
                trade_type: s("2"),
                is_raw: s("2"),
                ..scan_order("RAW3", "10", url)
            },
        )
        .await
        .unwrap();
    assert!(with_url.body.get("PAY_INFO").is_none());
    assert_eq!(
        field(&with_url, "URL"),
        gw.cashier_url(&pid(&field(&with_url, "ORDERNO")))
    );
}

/// Every text the database holds, as one string: the raw files for SQLite, every row of
/// every table as text for PostgreSQL.
async fn stored_text(gw: &TestGateway) -> String {
    if let Some(path) = gw.database.strip_prefix("sqlite://") {
        return [path.to_owned(), format!("{path}-wal")]
            .iter()
            .filter_map(|f| std::fs::read(f).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect();
    }
    let pool = sqlx::PgPool::connect(&gw.database).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{table}\" t"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        text.push_str(&rows.join("\n"));
    }
    text
}

#[tokio::test]
async fn no_card_number_id_number_name_expiry_or_cvn2_is_stored() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let gw = TestGateway::spawn(backend).await;
        let client = mmsp(&gw);
        let reply = client
            .quick(
                command::QUICK_PAY,
                &QuickRequest {
                    cardtype: s("2"),
                    expdate: s("0931"),
                    cvn2: s("827"),
                    name: s("欧阳安娜"),
                    user_id: s("U1"),
                    ..quick_pay("NS1", "http://merchant.example/n")
                },
            )
            .await
            .unwrap();
        assert_eq!(field(&reply, "STATUS"), "0", "{:?}", reply.body);
        let code = sms_code(&gw, PHONE).await;
        client
            .quick(
                command::QUICK_CONFIRM,
                &confirm(&field(&reply, "LIST_ID"), &code),
            )
            .await
            .unwrap();
        gw.deliver().await;
        let text = stored_text(&gw).await;
        assert!(
            text.contains("NS1"),
            "{backend:?}: the order is there to be found"
        );
        for secret in [
            CARD,
            ID_NO,
            "欧阳安娜",
            "\"0931\"",
            "\"827\"",
            "CVN2",
            "EXPDATE",
        ] {
            assert!(!text.contains(secret), "{backend:?} holds {secret}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_listens_for_pushes_and_answers_success_only_to_signed_ones() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("merchant.toml");
    std::fs::write(&config, config_text("sqlite://unused.db")).unwrap();
    let port = crate::helpers::free_port();
    let out_path = dir.path().join("listen.out");
    let err_path = dir.path().join("listen.err");
    let _listener = crate::helpers::Child(
        crate::helpers::paymux()
            .args(["client", "--config"])
            .arg(&config)
            .args(["mmsp", "listen", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let listen_url = format!("http://127.0.0.1:{port}/notify");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    for _ in 0..200 {
        if read(&err_path).contains("listening") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(read(&err_path).contains("listening"), "{}", read(&err_path));

    // A forged push is answered FAIL.
    let client = mmsp(&gw);
    let forged = raw_frame(
        json!(command::SCAN_PUSH),
        json!({"AMT": 1, "ORDERNO": "1", "STATUS": "1"}),
        "not the key",
    );
    let answer = gw
        .http
        .post(&listen_url)
        .body(forged.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "FAIL");

    // The three parts' pushes verify and are answered SUCCESS: delivered at the first try.
    let scan = client
        .scan_order(command::WECHAT_NATIVE, &scan_order("L1", "7", &listen_url))
        .await
        .unwrap();
    gw.pay(&pid(&field(&scan, "ORDERNO")), "success").await;
    let quick = client
        .quick(command::QUICK_PAY, &quick_pay("L2", &listen_url))
        .await
        .unwrap();
    let code = sms_code(&gw, PHONE).await;
    client
        .quick(
            command::QUICK_CONFIRM,
            &confirm(&field(&quick, "LIST_ID"), &code),
        )
        .await
        .unwrap();
    client
        .gateway_pay(&GatewayRequest {
            merorderid: s("L3"),
            amt: s("9"),
            notify_url: s(&listen_url),
            jump_url: s("https://shop.example.com/back"),
            pay_channel: s("YLBILL-NET-B2C"),
            ..GatewayRequest::default()
        })
        .await
        .unwrap();
    let gateway = client
        .gateway_query(&GatewayRequest {
            merorderid: s("L3"),
            ..GatewayRequest::default()
        })
        .await
        .unwrap();
    gw.pay(&field(&gateway, "LIST_ID"), "success").await;
    let round = gw.deliver().await;
    assert_eq!(
        (round.delivered, round.attempts()),
        (3, 3),
        "{}",
        read(&err_path)
    );
    let err = read(&err_path);
    assert_eq!(
        err.matches("signature verified: answering SUCCESS").count(),
        3,
        "{err}"
    );
    let out = read(&out_path);
    for expected in ["2324", "35104", "35090", "\"L1\"", "\"L2\"", "\"L3\""] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
}

#[tokio::test]
async fn a_loopback_notify_url_is_refused_naming_the_setting_that_allows_it() {
    let gw = TestGateway::spawn_with(Backend::Sqlite, |c| {
        c.server.allow_private_callbacks = false
    })
    .await;
    let reply = mmsp(&gw)
        .scan_order(
            command::WECHAT_NATIVE,
            &scan_order("LOOP1", "1", "http://127.0.0.1:9/n"),
        )
        .await
        .unwrap();
    let message = reply.error_msg();
    assert!(
        message.contains("NOTIFY_URL") && message.contains("allow_private_callbacks = true"),
        "{message} {:?}",
        reply.frame
    );
}
