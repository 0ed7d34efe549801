//! Malformed input of every kind gets the dialect's own refusal: HTTP 200, a parseable body
//! with the dialect's failure fields, never a 500, a 405 or a dropped connection.

use serde_json::Value;

use crate::helpers::{Backend, TestGateway};

fn junk() -> Vec<Vec<u8>> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        Vec::new(),
        b"\xff\xfe\x00\x01binary".to_vec(),
        b"params=".to_vec(),
        b"params=%7B%22mchId%22".to_vec(),
        b"params={\"mchId\":[1,2],\"sign\":{\"a\":1}}".to_vec(),
        b"{\"mchId\":1e400,\"amount\":-0.0,\"sign\":null}".to_vec(),
        b"{\"isvId\":[],\"partnerId\":{},\"sign\":1,\"timestamp\":-9223372036854775808}".to_vec(),
        b"{\"isvId\":20000,\"partnerId\":12345,\"sign\":\"x\",\"timestamp\":9223372036854775807}"
            .to_vec(),
        deep.clone().into_bytes(),
        format!("params={deep}").into_bytes(),
        b"[1,2,3]".to_vec(),
        b"\"just a string\"".to_vec(),
        b"a=1&&&=&%%%&b".to_vec(),
        "params={\"subject\":\"\u{0000}\u{FFFF}\"}"
            .as_bytes()
            .to_vec(),
    ]
}

async fn send(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let reply = gw
        .http
        .request(method, format!("{}{path}", gw.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the connection is answered");
    (reply.status().as_u16(), reply.text().await.expect("a body"))
}

#[tokio::test]
async fn junk_gets_each_dialects_own_refusal() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    for path in ["/api/pay/create_order", "/api/pay/query_order"] {
        for body in junk() {
            let (status, text) = send(&gw, reqwest::Method::POST, path, body.clone()).await;
            assert_eq!(status, 200, "{path} {:?}", String::from_utf8_lossy(&body));
            let reply: Value = serde_json::from_str(&text).expect(&text);
            assert_eq!(reply["retCode"], "FAIL", "{text}");
            assert!(reply["retMsg"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (status, text) = send(&gw, reqwest::Method::PUT, path, Vec::new()).await;
        assert_eq!(status, 200);
        assert!(text.contains(r#""retCode":"FAIL""#), "{text}");
    }
    for path in [
        "/access/network",
        "/access/scancode",
        "/access/barcode",
        "/access/query",
        "/access/refund",
        "/access/refundQuery",
        "/access/close",
    ] {
        for body in junk() {
            let (status, text) = send(&gw, reqwest::Method::POST, path, body.clone()).await;
            assert_eq!(status, 200, "{path} {:?}", String::from_utf8_lossy(&body));
            let reply: Value = serde_json::from_str(&text).expect(&text);
            assert_eq!(reply["result"], false, "{text}");
            assert!(reply["kind"].as_str().is_some_and(|k| k != "0"));
            for field in ["msg", "sign", "version", "timestamp"] {
                assert!(reply.get(field).is_some(), "{path}: {field} in {text}");
            }
        }
        let (status, text) = send(&gw, reqwest::Method::GET, path, Vec::new()).await;
        assert_eq!(status, 200, "{path}");
        assert!(text.contains(r#""result":false"#), "{text}");
    }
    let (status, text) = send(&gw, reqwest::Method::POST, "/access/pay", b"{}".to_vec()).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(r#""kind":"1007""#) && text.contains("pay"),
        "{text}"
    );
}

#[tokio::test]
async fn mistyped_paths_and_oversized_bodies_get_the_dialects_own_refusal() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let too_large = vec![b'a'; 3 * 1024 * 1024];

    for path in [
        "/api/pay/create_order/",
        "/api/pay/nothing",
        "/api/pay/a/b",
        "/api/pay",
        "/api/trans/create_order",
    ] {
        let (status, text) = send(&gw, reqwest::Method::POST, path, b"{}".to_vec()).await;
        assert_eq!(status, 200, "{path}");
        let reply: Value = serde_json::from_str(&text).expect(&text);
        assert_eq!(reply["retCode"], "FAIL", "{text}");
        assert!(
            reply["retMsg"].as_str().is_some_and(|m| m.contains(path)),
            "{text}"
        );
    }
    for path in ["/api/pay/create_order", "/api/pay/query_order"] {
        let (status, text) = send(&gw, reqwest::Method::POST, path, too_large.clone()).await;
        assert_eq!(status, 200, "{path}");
        assert!(text.contains(r#""retCode":"FAIL""#), "{path}: {text}");
    }

    for (path, named) in [
        ("/access", ""),
        ("/access/", ""),
        ("/access/a/b", "a/b"),
        ("/access/%FF", "\u{FFFD}"),
        ("/access/network/", "network/"),
    ] {
        let (status, text) = send(&gw, reqwest::Method::POST, path, b"{}".to_vec()).await;
        assert_eq!(status, 200, "{path}");
        let reply: Value = serde_json::from_str(&text).expect(&text);
        assert_eq!(reply["result"], false, "{text}");
        assert_eq!(reply["kind"], "1007", "{path}: {text}");
        assert!(
            reply["msg"].as_str().is_some_and(|m| m.contains(named)),
            "{path}: {text}"
        );
    }
    let (status, text) = send(&gw, reqwest::Method::POST, "/access/query", too_large).await;
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_str(&text).expect(&text);
    assert_eq!(reply["result"], false, "{text}");
    assert_eq!(reply["kind"], "1007", "{text}");
}

#[tokio::test]
async fn the_payer_pages_answer_malformed_input_in_their_own_format() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let get = |path: &str| gw.http.get(format!("{}{path}", gw.url)).send();
    let created = gw
        .xxpay
        .create_order(&crate::xxpay::order(
            "ROBUST1",
            8002,
            "http://127.0.0.1:9/n",
        ))
        .await
        .unwrap();
    let link = gw.cashier_url(created.pay_order_id.as_deref().unwrap());
    let pay_form = |body: &'static str| gw.http.post(format!("{link}/pay")).body(body).send();

    // A path that is not UTF-8 names no order: the not-found page.
    for path in ["/cashier/%FF", "/cashier/%FF/%FF", "/cashier/%FF/%FF/pay"] {
        let reply = get(path).await.unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        assert!(reply.text().await.unwrap().contains("订单不存在"));
    }

    // The page's form, without a content type or with the field twice: the page's answer.
    let reply = pay_form("result=maybe&result=success").await.unwrap();
    assert_eq!(reply.status(), 400);
    assert!(
        reply
            .headers()
            .get("content-type")
            .is_some_and(|t| t.to_str().unwrap_or("").starts_with("text/html"))
    );
    let wrong_link = gw
        .http
        .post(format!("{}/cashier/P1/{}/pay", gw.url, "0".repeat(32)))
        .body("result=success")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong_link.status(),
        404,
        "no such order, whatever the content type"
    );

    // The QR image of xxpay's scan products: the first `params` counts.
    let reply = get("/api/qrcode/create_qrcode?params=weixin%3A%2F%2Fx&params=b")
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "image/png");
    let reply = get("/api/qrcode/create_qrcode?nothing").await.unwrap();
    assert_eq!(reply.status(), 400);
    let body: Value = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "params is required");
}
