//! The payer's pages of payment codes (`/bills/{code}/{token}`): a one-time code's bill
//! paid after a cancelled try, fixed codes that make a bill per payer, an open code's
//! amount, and links that are not the code's.

use paymux_core::code::CodeKind;
use paymux_core::gateway::{NewBill, NewCode};
use paymux_core::ids::{MerchantId, MerchantOrderNo};
use paymux_core::money::Fen;
use paymux_core::order::OrderStatus;
use paymux_core::store::{CodeKey, OrderKey};

use crate::helpers::{Backend, TestGateway, browser, post_page};

fn merchant() -> MerchantId {
    MerchantId::new("demo")
}

fn new_code(kind: CodeKind, code_ref: &str, amount: Option<i64>, bill_no: Option<&str>) -> NewCode {
    NewCode {
        merchant_id: merchant(),
        dialect: paymux_dialects::xxpay::TAG,
        code_ref: Some(code_ref.into()),
        kind,
        amount: amount.map(|a| Fen::new(a).unwrap()),
        subject: "食堂".into(),
        notify_url: None,
        also_notify: None,
        return_url: None,
        expires_at: None,
        extra: Default::default(),
        bill_no_prefix: "3194".into(),
        one_at_a_time: true,
        escrow: false,
        splits: None,
        bill: bill_no.map(|no| NewBill {
            merchant_id: merchant(),
            merchant_order_no: MerchantOrderNo::parse(no, 32).unwrap(),
            dialect: paymux_dialects::xxpay::TAG,
            amount: Fen::new(880).unwrap(),
            subject: "午餐".into(),
            body: String::new(),
            notify_url: None,
            also_notify: None,
            return_url: None,
            extra: Default::default(),
            expires_at: None,
            one_at_a_time: true,
            escrow: false,
            splits: None,
        }),
    }
}

#[tokio::test]
async fn a_one_time_codes_bill_is_paid_from_its_page_after_a_cancelled_try() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let gateway = gw.running.operator.gateway();
    let (code, bill) = gateway
        .create_code(new_code(CodeKind::OneTime, "QR1", None, Some("BILL1")))
        .await
        .unwrap();
    let bill = bill.unwrap();
    let page_url = format!("{}{}", gw.url, gw.code_path(code.id.as_str()));

    let page = browser().get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    for shown in [
        "Demo Hospital",
        "午餐",
        "¥8.80",
        "微信支付",
        "支付宝",
        "银联云闪付",
        "沙箱环境",
    ] {
        assert!(html.contains(shown), "{shown} in {html}");
    }

    // WeChat: to the cashier, where the payer cancels.
    let went = post_page(&format!("{page_url}/pay"), "wallet=wechat").await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(cashier, gw.cashier_url(bill.id.as_str()));
    let cancelled = post_page(&format!("{cashier}/pay"), "result=fail").await;
    assert_eq!(cancelled.status(), 303);
    let html = browser()
        .get(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("本次支付未完成"), "{html}");
    assert!(
        html.contains(&gw.code_path(code.id.as_str())),
        "a way back to try again"
    );

    // Alipay, from the code's page again: paid.
    let went = post_page(&format!("{page_url}/pay"), "wallet=alipay").await;
    assert_eq!(went.status(), 303);
    let paid = post_page(&format!("{cashier}/pay"), "result=success").await;
    assert_eq!(paid.status(), 303);
    let order = gateway
        .find_order(&merchant(), OrderKey::Platform(&bill.id))
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Succeeded);
    let tries = gw
        .running
        .operator
        .attempts_of_order(&bill.id)
        .await
        .unwrap();
    assert_eq!(tries.len(), 2);
    assert_eq!(tries[1].pay_way.wallet, paymux_core::payway::Wallet::Alipay);
    let html = browser()
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("支付成功"), "{html}");
    // Paid: no further try from the page.
    let again = post_page(&format!("{page_url}/pay"), "wallet=wechat").await;
    assert!(again.text().await.unwrap().contains("账单已支付或关闭"));
}

#[tokio::test]
async fn fixed_codes_bill_each_payer_and_an_open_code_takes_the_amount_entered() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let gateway = gw.running.operator.gateway();
    let (fixed, _) = gateway
        .create_code(new_code(CodeKind::FixedAmount, "FX", Some(1500), None))
        .await
        .unwrap();
    let fixed_url = format!("{}{}", gw.url, gw.code_path(fixed.id.as_str()));
    let html = browser()
        .get(&fixed_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("¥15.00"), "{html}");
    let mut cashiers = Vec::new();
    for _ in 0..2 {
        let went = post_page(&format!("{fixed_url}/pay"), "wallet=unionpay").await;
        assert_eq!(went.status(), 303);
        cashiers.push(went.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_ne!(cashiers[0], cashiers[1], "a bill for each payer");

    let (open, _) = gateway
        .create_code(new_code(CodeKind::OpenAmount, "OP", None, None))
        .await
        .unwrap();
    let open_url = format!("{}{}", gw.url, gw.code_path(open.id.as_str()));
    let html = browser()
        .get(&open_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"amount\""), "an amount field: {html}");
    for bad in [
        "amount=&wallet=wechat",
        "amount=-1&wallet=wechat",
        "amount=1.001&wallet=wechat",
        "amount=12.50&wallet=paypal",
    ] {
        let refused = post_page(&format!("{open_url}/pay"), bad).await;
        assert_eq!(refused.status(), 400, "{bad}");
    }
    let went = post_page(&format!("{open_url}/pay"), "amount=12.50&wallet=wechat").await;
    assert_eq!(went.status(), 303);
    let cashier = went.headers()["location"].to_str().unwrap().to_owned();
    let html = browser()
        .get(&cashier)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("¥12.50"), "{html}");

    // Closed, the code makes no bill.
    gateway
        .close_code(&merchant(), CodeKey::Ref("OP"), false)
        .await
        .unwrap();
    let html = browser()
        .get(&open_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("二维码已失效"), "{html}");
    let refused = post_page(&format!("{open_url}/pay"), "amount=1&wallet=wechat").await;
    assert!(refused.text().await.unwrap().contains("账单已支付或关闭"));
}

#[tokio::test]
async fn a_code_page_opens_only_through_its_own_link() {
    let gw = TestGateway::spawn(Backend::Sqlite).await;
    let (code, bill) = gw
        .running
        .operator
        .gateway()
        .create_code(new_code(CodeKind::OneTime, "QR9", None, Some("BILL9")))
        .await
        .unwrap();
    let bill = bill.unwrap();
    let cashier_token = gw.cashier_url(bill.id.as_str());
    let cashier_token = cashier_token.rsplit('/').next().unwrap();
    for path in [
        format!("/bills/{}", code.id),
        format!("/bills/{}/{}", code.id, "0".repeat(32)),
        // The cashier's token of the same id is not the code's.
        format!("/bills/{}/{cashier_token}", code.id),
        "/bills/Q1/abc".to_owned(),
    ] {
        let status = browser()
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
    let status = post_page(
        &format!("{}/bills/{}/{}/pay", gw.url, code.id, "0".repeat(32)),
        "wallet=wechat",
    )
    .await
    .status();
    assert_eq!(status, 404);
    assert!(
        gw.running
            .operator
            .attempts_of_order(&bill.id)
            .await
            .unwrap()
            .is_empty(),
        "no try was started"
    );
}
