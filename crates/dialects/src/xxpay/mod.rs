//! xxpay (specs/xxpay.txt, 聚合支付接口说明书): §1 rules, §2 pay (create_order,
//! query_order, the payment notification). §3 (trans, payouts) is not implemented yet.
//!
//! Signing (§1.3, `codec.rs`): the `k=v` pieces of the non-empty fields but `sign`, sorted
//! case-insensitively, joined by `&`, then `&key=KEY`; MD5, upper-case hex. DESIGN.md's
//! worked example (also `testdata/create_order.*`):
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
//!   (URL-encoded or not), as a JSON body, or as plain form fields; values may be JSON
//!   strings or numbers. Replies are one line of JSON, HTTP 200 either way.
//! - Success replies carry `retCode`, the fields of the spec and `sign` (over everything
//!   but `payParams`, as xxpay-master signs); failures carry `retCode=FAIL` and a
//!   `retMsg` naming the field or the reason, and are not signed. Internal errors add the
//!   appendix's `errCode` 0010.
//! - `payParams.payUrl`: scan products (8002, 8006, 8009, 8011, 8014, 8016, 8017, 8019)
//!   get `{public_url}/api/qrcode/create_qrcode?params={cashier url}`, the spec's own example
//!   form, a PNG of the QR code; `codeUrl` carries the code's content. H5, in-app and
//!   mini-program products get the cashier URL. Online banking (8000) and quick pay (8001)
//!   get `POST;{cashier url}?orderId=…&amount=…`, the spec's form convention.
//! - Status: 0 created, 1 paying, 2 paid, 3 paid and the notification acknowledged
//!   (xxpay-master's 业务处理完成), 5 failed, closed or expired.
//! - Orders expire two hours after creation (the spec has no expiry field).
//! - `executeNotify=true` queues the payment notification again for a paid order.
//! - Notifications: POST form fields, exactly §2.3.2's list (absent values left out),
//!   `backType=2`, `status=2`.

pub mod client;
pub mod codec;
pub mod convert;
pub mod error;
pub mod notify;
pub mod routes;
pub mod wire;

pub use client::XxpayClient;
pub use notify::XxpayNotifications;
pub use routes::{XxpayCredentials, XxpayMerchant, XxpayMerchants, XxpayState, router};
