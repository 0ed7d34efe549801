//! upp (specs/upp.txt, 芸泰统一支付平台 ISV 前置机接口): §2.4/§2.5 signing, §3 the
//! request and reply envelope, §4.1–§4.7 the seven interfaces, §5 the enumerations.
//!
//! Signing (see `codec.rs`): the non-empty fields but `sign`, sorted, as a JSON object with
//! every value a string (an object a merchant sends is signed as its JSON text), the key
//! appended, MD5 lower-case hex. §2.4's worked example:
//!
//! ```
//! use paymux_dialects::upp::codec;
//!
//! let request = codec::decode(br#"{"isvId":20000,"partnerId":12345,"version":"1.0.0",
//!     "timestamp":102540025,"bizType":"scan_code","paymentNo":"1234567"}"#).unwrap();
//! assert_eq!(
//!     codec::string_to_sign(&request),
//!     r#"{"bizType":"scan_code","isvId":"20000","partnerId":"12345","paymentNo":"1234567","timestamp":"102540025","version":"1.0.0"}"#
//! );
//! assert_eq!(codec::sign_params(&request, "abc123"), "3b30450ef5af2c2065b572cbee9c6417");
//! ```
//!
//! The spec does not show how a reply's nested `data` is written; paymux writes it inline
//! with its own keys sorted and its values as strings. §2.5's reply:
//!
//! ```
//! use paymux_dialects::upp::codec;
//!
//! let reply = codec::decode(br#"{"result":true,"kind":"0","msg":"","version":"1.0.0",
//!     "timestamp":102540025,"data":{"tradeStatus":"wait_pay","channelType":"ali",
//!     "channelProduct":"ali_scan_code","outPaymentNo":"a123456789","inPaymentNo":"987646513",
//!     "paymentNo":"1234567","tradeFee":"0.01","paymentTime":"2019-01-01 12:00:00",
//!     "bizData":"test"}}"#).unwrap();
//! assert_eq!(
//!     codec::reply_string_to_sign(&reply),
//!     concat!(
//!         r#"{"data":{"bizData":"test","channelProduct":"ali_scan_code","channelType":"ali","#,
//!         r#""inPaymentNo":"987646513","outPaymentNo":"a123456789","paymentNo":"1234567","#,
//!         r#""paymentTime":"2019-01-01 12:00:00","tradeFee":"0.01","tradeStatus":"wait_pay"},"#,
//!         r#""kind":"0","result":"true","timestamp":"102540025","version":"1.0.0"}"#
//!     )
//! );
//! assert_eq!(codec::sign_reply(&reply, "abc123"), "ef1d74d4f2ea2aaba39591cfdd312465");
//! ```
//!
//! The same examples are fixtures in `testdata/`.
//!
//! Choices where the spec is silent or garbled:
//! - Every reply has `result` (a JSON boolean), `kind`, `msg` (empty on success), `version`,
//!   `timestamp` (milliseconds, a number), `sign`, and `data` where the interface has one.
//!   Refusals of callers paymux cannot identify carry an empty `sign`.
//! - `kind` codes: `0` success; `1001` bad signature; `1002` timestamp outside
//!   `[server] max_clock_skew_s`; `1003` missing field; `1004` malformed field; `1005`
//!   unknown isvId/partnerId; `1006` version not 1.0.0; `1007` not a POST of a JSON object
//!   to a known interface; `2001` duplicate paymentNo; `2002` unknown paymentNo; `2003` not
//!   allowed in the order's state; `2004` refund exceeds the refundable amount; `2005`
//!   duplicate refundNo; `2006` requestNo reused with other parameters; `2007` unknown
//!   refund; `2008` unrecognised payer code; `9998` busy (the gateway's request limits:
//!   too many requests at once, or not done in time; unsigned, as the caller was not yet
//!   authenticated); `9999` internal error. `msg` says which field and why.
//! - Amounts are yuan with at most 8 integer digits and 2 decimals, more than 0, read
//!   exactly from their text (a JSON number `0.1` is 10 fen). Replies print two decimals.
//! - §4.2 returns the cashier URL as `data.payUrl` (the field's name is lost in the PDF),
//!   with `tradeStatus=wait_pay` and `expireTime`.
//! - §4.3 takes the wallet from the payer code (WeChat 10–15, Alipay 25–30, UnionPay 62).
//! - §4.4: an unpaid order past its expireTime is closed on the spot and reports
//!   `pay_failed`, as does a closed one. `bizType` is required but not matched against
//!   the order (the spec's own examples send `scan_code` and `hos`).
//! - §4.5: `requestNo` is the idempotency key: the same requestNo with the same parameters
//!   returns the same refund. Success statuses are returned only for a refund whose money
//!   is reserved and which paymux will not let fail (a channel that refuses it later is
//!   retried and an operator alerted): `refund_apply_success` while the channel executes
//!   it, `refund_success` when done. Refusals carry `data.tradeStatus=refund_failed` and
//!   `failedReason`, because merchants treat any other status as success, with two
//!   exceptions chosen to prevent double refunds: a refundNo that already has a refund
//!   (kind 2005) shows that refund and its real status; an internal error or a busy
//!   reply, where paymux cannot tell whether the refund was recorded, says
//!   `refund_exception` (query again).
//!   §4.6 refuses an unknown requestNo with `refund_failed`.
//! - §4.7: every refusal carries `data.isCloseOrder=N`. A payment that arrives after a close
//!   is refunded automatically (core rule); `query` then reports the refund's status
//!   (`refund_apply_success`, `refund_success`), and `refundQuery` with the paymentNo as
//!   requestNo shows the automatic refund.
//! - upp defines no notifications: merchants poll `query`.

pub mod client;
pub mod codec;
pub mod convert;
pub mod error;
pub mod routes;
pub mod wire;

use secrecy::SecretString;
use serde::Deserialize;

pub use client::UppClient;
pub use routes::{UppMerchant, UppMerchants, UppState, busy_reply, router};

/// `[merchant.upp]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UppCredentials {
    pub isv_id: i64,
    pub partner_id: i64,
    pub key: SecretString,
}
