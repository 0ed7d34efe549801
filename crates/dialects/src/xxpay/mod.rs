//! xxpay (specs/xxpay.txt, 聚合支付接口说明书): §1 rules, §2 pay (create_order,
//! query_order, the payment notification), and what the published merchant code of the
//! xxpay family sends and reads beyond the spec (xxpay4pro's PHP and Java demos, the clients
//! of the older xxpay-master). §3 (trans, payouts) is not implemented yet.
//!
//! Signing (§1.3, `codec.rs`): the `k=v` pieces of the non-empty fields but `sign`, sorted,
//! joined by `&`, then `&key=KEY`; MD5, upper-case hex. DESIGN.md's worked example (also
//! `testdata/create_order.*`):
//!
//! ```
//! use paymux_dialects::xxpay::codec;
//!
//! let request: paymux_dialects::xxpay::wire::Params = serde_json::from_str(r#"{"amount":100,
//!     "appId":"0ae8be35ff634e2abe94f5f32f6d5c4f","body":"测试商品描述","clientIp":"210.73.10.148",
//!     "currency":"cny","device":"ios10.3.1","mchId":"20001222","mchOrderNo":"20160427210604000490",
//!     "notifyUrl":"http://domain/notify.htm","productId":8000,"subject":"测试商品名称"}"#).unwrap();
//! assert_eq!(codec::sign_params(&request, &["sign"], "EXAMPLEKEY123"), "9D219B16D3328A2679849D95848B872D");
//! ```
//!
//! Choices where the spec is silent or garbled:
//! - Requests are accepted as the form or query field `params` holding the JSON object
//!   (URL-encoded or not), as a JSON body, or as plain form fields (URL-encoded or not);
//!   values may be JSON strings or numbers. Replies are one line of JSON, HTTP 200 either way.
//! - Sort order: §1.3 says names sort by ASCII, case-sensitively (PHP's `ksort`); Java
//!   clients sort the `k=v&` pieces case-insensitively. A request signed in either order is
//!   accepted. Replies and notifications are signed in the Java order; their fields sort
//!   alike both ways, so both kinds of client verify them.
//! - `mchId` and the signature identify the merchant. `appId` may be left out (xxpay4pro's
//!   demos leave it out of query and close and send it empty on create, xxpay-master never
//!   sends it); when sent it must be the merchant's app.
//! - Success replies carry `retCode`, `resCode` (the same value, which xxpay-master's
//!   clients read), the fields of the spec and `sign` (over everything but `payParams`, as
//!   xxpay-master signs); failures carry `retCode=FAIL`, `resCode=FAIL` and a `retMsg`
//!   naming the field or the reason, and are not signed. Internal errors add the appendix's
//!   `errCode` 0010.
//! - `payParams.payUrl`: scan products (8002, 8006, 8009, 8011, 8014, 8016, 8017, 8019)
//!   get `{public_url}/api/qrcode/create_qrcode?params={cashier url}`, the spec's own example
//!   form, a PNG of the QR code; `codeUrl` carries the code's content. H5, in-app and
//!   mini-program products get the cashier URL. Online banking (8000) and quick pay (8001)
//!   get `POST;{cashier url}?orderId=…&amount=…`, the spec's form convention. WeChat in-app
//!   and mini-program products (8004, 8005, 8023) add WeChat's JSAPI fields to `payParams`
//!   (`appId`, `timeStamp`, `nonceStr`, `package`, `signType`, `paySign`), as xxpay4pro and
//!   xxpay-master give them; in the sandbox `package` is `prepay_id={payOrderId}`, `paySign`
//!   is WeChat's MD5 rule keyed with the merchant's xxpay key, and the payer pays at `payUrl`.
//! - Status: 0 created, 1 paying, 2 paid, 3 paid and the notification acknowledged
//!   (xxpay-master's 业务处理完成), 5 failed, closed or expired.
//! - Orders expire two hours after creation (the spec has no expiry field).
//! - `executeNotify=true` queues the payment notification again for a paid order.
//! - Notifications: POST form fields, exactly §2.3.2's list (absent values left out),
//!   `backType=2`, `status=2`.
//!
//! Extensions (not in the spec):
//! - Products 8020 微信条码支付 and 8021 支付宝条码支付 (xxpay4pro): the payer's code in
//!   `extra` (10 to 32 digits). The channel decides at once or waits for the payer (the
//!   sandbox by the code's last digit); the reply carries `orderStatus` 2 (paid) or 1 (the
//!   payer is confirming: query until 2 or 5); a refused payment gets `retCode=FAIL` with the
//!   channel's reason, and its query says 5.
//! - Product 8023 微信小程序支付 (xxpay4pro): `channelUserId` (the payer's openid) required;
//!   `payParams` as for the in-app product 8004. `channelUserId` is kept for every product
//!   and answered as the query's `channelUser` until the channel names the payer.
//! - `/api/pay/close_order` (xxpay4pro): `mchId`, `payOrderId` or `mchOrderNo`, `sign`;
//!   closes an unpaid order (a closed one again is not an error; a paid one is refused with
//!   订单已支付,不能关闭.; a payment that arrives after the close is refunded by the core).
//!   The signed reply carries `mchId`, `appId`, `payOrderId`, `mchOrderNo`, `status` (5) and
//!   xxpay4pro's `resultCode=SUCCESS`.
//! - xxpay-master's older create: `channelId` instead of `productId` (ignored when a
//!   `productId` is sent), mapped as `WX_NATIVE` 8002, `WX_JSAPI` 8004, `WX_APP` 8004,
//!   `WX_MWEB` 8003, `ALIPAY_MOBILE` 8008, `ALIPAY_PC` 8007, `ALIPAY_WAP` 8007, `ALIPAY_QR`
//!   8006; `extra` is its JSON text (`WX_JSAPI`'s `openId` becomes `channelUserId`). The reply
//!   is the spec's, plus the fields its merchants read: `codeUrl` (`WX_NATIVE`, `ALIPAY_QR`),
//!   `payUrl` (`WX_MWEB`: the cashier URL; `ALIPAY_WAP`, `ALIPAY_PC`: a self-submitting form
//!   to it, as Alipay's SDK renders those payments, which its merchants write into their page),
//!   `payParams` with WeChat's JSAPI fields (`WX_JSAPI`) or app fields (`WX_APP`: `appId`,
//!   `partnerId`, `prepayId`, `packageValue`, `timeStamp`, `nonceStr`, `sign`). `ALIPAY_MOBILE`
//!   gets the spec's `payParams` object where xxpay-master gave Alipay's SDK order string: the
//!   sandbox has no Alipay app to hand it to. Queries of such orders add `channelId`; their
//!   notifications carry xxpay-master's fields instead of §2.3.2's (`payOrderId`, `mchId`,
//!   `mchOrderNo`, `channelId`, `amount`, `currency`, `status`, `clientIp`, `device`,
//!   `subject`, `channelOrderNo`, `param1`, `param2`, `paySuccTime`, `backType`), which its
//!   merchants' handlers read and sign.

pub mod cli;
pub mod client;
pub mod codec;
pub mod convert;
pub mod error;
pub mod notify;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use paymux_core::dialect::DialectTag;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use client::XxpayClient;
pub use notify::XxpayNotifications;
pub use routes::{XxpayState, router};

use crate::common::ClientFailure;
use crate::common::merchants::{Credentials, MerchantTable, Merchants, Registered};
use crate::dialect::{ClientTarget, Dialect, Mount, Mounted, Schedule};

pub const NAME: &str = "xxpay";
pub const TAG: DialectTag = DialectTag::new(NAME);

/// `[merchant.xxpay]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XxpayCredentials {
    pub mch_id: String,
    pub app_id: String,
    pub key: SecretString,
}

impl Credentials for XxpayCredentials {
    const WIRE_ID: &'static str = "mch_id";
    fn wire_id(&self) -> String {
        self.mch_id.clone()
    }
    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        vec![("key", &self.key)]
    }
}

pub type XxpayMerchants = Merchants<XxpayCredentials>;
pub type XxpayMerchant = Registered<XxpayCredentials>;

/// The xxpay dialect.
pub struct Xxpay;

#[async_trait]
impl Dialect for Xxpay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "xxpay (聚合支付): create-order, query-order, close-order, listen"
    }

    fn schedules(&self) -> &'static [Schedule] {
        &[Schedule {
            name: NAME,
            delays_s: &[60, 120, 180, 240, 300],
        }]
    }

    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String> {
        XxpayMerchants::from_tables(NAME, merchants).map(drop)
    }

    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String> {
        let merchants = Arc::new(XxpayMerchants::from_tables(NAME, merchants)?);
        Ok(Mounted {
            router: router(XxpayState {
                gateway: mount.gateway.clone(),
                merchants: merchants.clone(),
                public_url: mount.public_url.clone(),
            }),
            notifications: Some(Arc::new(XxpayNotifications { merchants })),
            payer: None,
        })
    }

    fn busy(&self, _request: &crate::BusyRequest<'_>) -> Response {
        error::XxpayError::Busy.into_response()
    }

    fn demo_table(&self, random_hex: &mut dyn FnMut(usize) -> String) -> String {
        format!(
            "mch_id = \"20001222\"\napp_id = \"0ae8be35ff634e2abe94f5f32f6d5c4f\"\nkey = \"{}\"\n",
            random_hex(16).to_uppercase()
        )
    }

    fn describe(&self, merchant: &MerchantTable, public_url: &str, client: &str) -> Vec<String> {
        let Ok(x) = crate::common::merchants::parse_table::<XxpayCredentials>(
            NAME,
            &merchant.merchant,
            &merchant.table,
        ) else {
            return Vec::new();
        };
        let request = wire::CreateOrderRequest {
            mch_id: Some(x.mch_id.clone()),
            app_id: Some(x.app_id.clone()),
            product_id: Some("8002".into()),
            mch_order_no: Some(format!("DEMO{}", cli::stamp())),
            currency: Some("cny".into()),
            amount: Some("100".into()),
            notify_url: Some("http://127.0.0.1:9000/notify".into()),
            subject: Some("测试商品名称".into()),
            body: Some("测试商品描述".into()),
            ..wire::CreateOrderRequest::default()
        };
        let mut params = wire::to_params(&request);
        let sign = codec::sign_params(&params, &["sign"], x.key.expose_secret());
        params.insert("sign".into(), serde_json::Value::String(sign));
        vec![
            format!(
                "xxpay    mchId={} appId={} key={}",
                x.mch_id,
                x.app_id,
                x.key.expose_secret()
            ),
            format!(
                "  try:   curl -s {public_url}/api/pay/create_order --data-urlencode 'params={}'",
                serde_json::Value::Object(params)
            ),
            format!("  or:    {client} xxpay create-order --amount 100"),
        ]
    }

    fn client_command(&self) -> clap::Command {
        use clap::Subcommand;
        cli::Operation::augment_subcommands(clap::Command::new(NAME).about(self.about()))
            .subcommand_required(true)
    }

    async fn run_client(
        &self,
        operation: &clap::ArgMatches,
        target: ClientTarget,
    ) -> Result<(), ClientFailure> {
        cli::run(operation, target).await
    }
}
