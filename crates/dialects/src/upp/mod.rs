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
//!   A payment that failed (`tradeStatus=pay_failed`) says why in `msg` (§4.3: 失败时返回失败
//!   原因), e.g. 余额不足, in §4.3's and §4.4's replies; `result` stays true: the request
//!   was served.
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

pub mod cli;
pub mod client;
pub mod codec;
pub mod convert;
pub mod error;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use paymux_core::dialect::DialectTag;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use client::UppClient;
pub use routes::{UppState, busy_reply, router};

use crate::common::ClientFailure;
use crate::common::merchants::{Credentials, MerchantTable, Merchants, Registered, parse_table};
use crate::dialect::{ClientTarget, Dialect, Mount, Mounted};

pub const NAME: &str = "upp";
pub const TAG: DialectTag = DialectTag::new(NAME);

/// `[merchant.upp]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UppCredentials {
    pub isv_id: i64,
    pub partner_id: i64,
    pub key: SecretString,
}

/// A upp merchant is known on the wire by its ISV and partner numbers together.
pub fn wire_id(isv_id: &str, partner_id: &str) -> String {
    format!("{isv_id}/{partner_id}")
}

impl Credentials for UppCredentials {
    const WIRE_ID: &'static str = "isv_id/partner_id";
    fn wire_id(&self) -> String {
        wire_id(&self.isv_id.to_string(), &self.partner_id.to_string())
    }
    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        vec![("key", &self.key)]
    }
}

pub type UppMerchants = Merchants<UppCredentials>;
pub type UppMerchant = Registered<UppCredentials>;

/// The upp dialect. It defines no notifications: merchants poll `query`.
pub struct Upp;

#[async_trait]
impl Dialect for Upp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "upp (芸泰统一支付平台): network, scancode, barcode, query, refund, refund-query, close"
    }

    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String> {
        UppMerchants::from_tables(NAME, merchants).map(drop)
    }

    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String> {
        let merchants = Arc::new(UppMerchants::from_tables(NAME, merchants)?);
        Ok(Mounted {
            router: router(UppState {
                gateway: mount.gateway.clone(),
                merchants,
                max_clock_skew_s: mount.max_clock_skew_s,
            }),
            notifications: None,
            payer: None,
        })
    }

    fn busy(&self, request: &crate::BusyRequest<'_>) -> Response {
        let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
        busy_reply(request.uri, now)
    }

    fn demo_table(&self, random_hex: &mut dyn FnMut(usize) -> String) -> String {
        format!(
            "isv_id = 20000\npartner_id = 12345\nkey = \"{}\"\n",
            random_hex(16)
        )
    }

    fn describe(&self, merchant: &MerchantTable, _public_url: &str, client: &str) -> Vec<String> {
        let Ok(u) = parse_table::<UppCredentials>(NAME, &merchant.merchant, &merchant.table) else {
            return Vec::new();
        };
        vec![
            format!(
                "upp      isvId={} partnerId={} key={}",
                u.isv_id,
                u.partner_id,
                u.key.expose_secret()
            ),
            format!("  try:   {client} upp scancode --trade-fee 0.01"),
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
