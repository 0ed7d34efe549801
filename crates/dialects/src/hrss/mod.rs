//! hrss (specs/hrss.txt, 人社支付平台 对外支付接口规范 V1.32): §3.5 the gateway protocol,
//! §4.1–§4.3 and §4.5–§4.8 the platform's services, §4.4 static codes with §5.1 (the call
//! to the merchant's system for a payer's unpaid orders), §5.2 payment notifications, §6 the
//! code tables and the payUrl format.
//!
//! Protocol (§3.5, `codec.rs`, `crypto.rs`): a POST of `application/x-www-form-urlencoded`
//! to `/{context}/rest/{serviceKey}` with access_key, biz_content (JSON text: appid, aaz001,
//! data), format, request_id, sign, timestamp (ms) and version. `sign` is SM3withSM2 with
//! the user ID `1234567812345678` over the sorted `k=v&…` of the non-empty fields but
//! `sign` and `access_token`, values URL-decoded, biz_content as received; verified with
//! the merchant's public key, DER or raw `r‖s`. `data`, both ways, is SM4-ECB-PKCS7 in
//! base64 with the merchant's key. DESIGN.md's known answer (also `testdata/sm4.*`):
//!
//! ```
//! use paymux_dialects::hrss::crypto::Sm4Key;
//!
//! let key = Sm4Key::parse("0123456789abcdeffedcba9876543210").unwrap();
//! assert_eq!(
//!     key.encrypt(r#"{"mchOrderId":"1687837179580","payOrderId":"1000000000000000361"}"#),
//!     "nQ4F0Oz+N8skk56tihIpXjrbqtKaGJsDrLisx88UY6ovI4XY3FO+MIlXg93jWsfOZTLqPs81Rqbvz9LRjdjWvdV6rHnNFZxscBhNqD5YSLg="
//! );
//! ```
//!
//! Replies are HTTP 200, one line of JSON: `code`, `msg`, `sub_code`, `sub_msg`, and on
//! code 1 `biz_data` (`code` "1" or "0", `message`, `appid`, `aaz001` echoed, `aaz002` a
//! 20-digit response serial, `data` encrypted). Refusals (§3.5.1.6): -101
//! check.param.missing naming the parameter (public or business); -102 check.param.invalid
//! naming it and saying why, also for a timestamp further than `[server]
//! max_clock_skew_s` from the platform's clock, a non-POST request, `data` that does not
//! decrypt, a replayed request (below); -103 check.service.undefine for an unknown
//! serviceKey, a version other than 1.0, or a context that is not the caller's; -103
//! check.service.server_busy when the gateway is overloaded; -104 check.system.forbidden
//! for an unknown access_key; -105 check.aop.invalid_sign, saying so when the signature
//! was made with the empty user ID (OpenSSL's default) or `sign` is neither DER nor r‖s;
//! -200 auth.insufficient.service_permissions for an appid that is not the access
//! system's; -300 run.error.internal. Business failures (a duplicate
//! mchOrderId, an unknown order, a payOrderId that is not the mchOrderId's order, an
//! over-refund, a paid order closed, a mchRefundId reused) are code 1 with `biz_data.code`
//! "0" and a message that says which.
//!
//! Choices where the spec is silent or garbled:
//! - Replays (DESIGN.md: a replayed request is refused and changes nothing): a request's
//!   `request_id` (§3.5.1.4 "请求唯一编码", optional) is remembered per merchant for twice
//!   `max_clock_skew_s`, as long as its timestamp stays acceptable (24 h when the check is
//!   off); a request without one is remembered by its signed content. Seen again, it is
//!   refused with -102 check.param.invalid naming request_id: its signature verifies, so
//!   -105 would send the merchant checking its keys, and the fault is a parameter that is
//!   not the unique one the spec asks for. Only a request that passed every other check
//!   is remembered: one refused for another reason may be fixed and sent again.
//! - `payOrderId` and `refundOrderId` are C(20); paymux's ids have 23 characters, so on the
//!   hrss wire they are 20 digits: the id's time as Unix seconds, its node and sequence
//!   (`convert::wire_id`). Requests may name orders either way.
//! - §4.1 payUrl (§6.2), at most 256 characters while `public_url` is at most 87:
//!   `{"type":"miniProgram","appid":"","path":"","extraData":{"payNo":payOrderId},"url":cashier}`.
//!   paymux has no mini program, so appid and path are empty and merchants open `url` (as
//!   §6.2 says H5 merchants do). The cashier sends the payer to returnUrl after paying.
//! - §4.2 passive scan: the payer's code (电子社保卡 or 电子健康码, at most 34 characters)
//!   identifies the payer, who confirms at the cashier the platform pushes to the app that
//!   showed the code (§4.2's note, §6.3); paymux answers with that cashier in payUrl. The
//!   code is checked, not kept.
//! - §4.3's table is cut off: its fields are §4.2's without qrCode, the payer's
//!   idTypeOrder/idNumberOrder optional (a kiosk's order may have none). `qrImage` is a PNG
//!   of the cashier link as a `data:` URL of a few kilobytes (the spec's 500 is too short
//!   for any PNG).
//! - idNumberOrder and idNameOrder are personal data: checked, never stored, never logged
//!   (`wire::Personal` hides them from `Debug`). idTypeOrder is kept.
//! - Code tables (§6.1): wayCode SBK (社保卡), WX, ALI, and only these on output (§4.5,
//!   §5.2; §4.5 requires it): the wallet of the order, or of a bill's try that paid it
//!   (else its latest try). A bill no payer has tried yet (a static code's order, another
//!   dialect's bill) and a wallet the table does not list (an order made through another
//!   dialect: UnionPay, a bank card, …) report SBK, the platform's own (§4.5.3: "固定:由
//!   支付平台分配 SBK"), so that WX and ALI are only ever said of payments made with them.
//!   payType 1 only; orderType 10001, 10002, 10003, 10099 (the §5.1 example's "02" is not
//!   in the table); idTypeOrder 01, 90, 99. payStatus: 0 unpaid, 1 a payer-code payment
//!   the channel is deciding (orders of other dialects), 2 paid, 3 failed, 4 closed or
//!   expired, 5 paid after it closed or failed (异常交易; paymux refunds such a payment by
//!   itself). The order's refundStatus (§4.5): 7 refunded in full, 8 in part, 9 none; a
//!   refund's (§4.6, §4.7): 1 while the channel executes it, 2 done, 3 failed (0 and 4 are
//!   not used).
//! - §4.6: mchRefundId is both the refund's number and the request's idempotency key: the
//!   same request again answers with the same refund; the same mchRefundId with other
//!   parameters is a business failure whose `data` shows the refund that has it.
//!   refundTime, refundRealAmt and channelRefundOrderId appear once the refund is done.
//! - orderDetail (no length in §4.1, 512 in §4.2) is at most 512 characters of any text;
//!   bizParams and extraParams must be JSON; each may be sent as the object itself.
//! - Plaintext merchants (`plaintext = true`, the spec's "依据配置"): `data` is the JSON
//!   object itself both ways (in a request, its JSON text is accepted too); the
//!   notification signs it as its compact JSON text.
//! - §5.2 notifications carry `appId` = the merchant's app id (the example repeats the
//!   mchId there) and go out when an order is paid and when it fails for good (payStatus 3
//!   with errCode and errMsg; the core queues them for dialects that ask). They are retried after 15 s, 1 min,
//!   5 min, 15 min, 30 min, 1 h, 2 h, 3 h, 4 h, 6 h and 7 h: twelve tries, the last 23 h 51
//!   min after the first (the spec: "24小时内尝试多次").
//! - §4.4 static codes (`static_codes.rs`, `payer.rs`): §4.4 has no serviceKey; the
//!   operator declares each code in `[merchant.hrss] static_codes` (ref, mode 1 or 2,
//!   subject, notify_url), made at start-up. The code's page offers the wayCodes of §6.1
//!   (社保卡, 微信, 支付宝). Mode 1: the payer enters the amount; the order's mchOrderId is
//!   paymux's, 24 digits. Mode 2: the page asks idTypeOrder and idNumberOrder, calls
//!   `order_query_url` (§5.1, shaped and signed as §5.2's notification; §5.1.3 gives the
//!   merchant's answer no `sign`, so an answer without one is taken, and one with a `sign`
//!   must verify with the merchant's key over the text it sent) and offers the
//!   payer's unpaid orders, each paid under its mchOrderId and notified to its notifyUrl
//!   (else the code's). The example's repeated `orderType` ("02", then "10001") reads as
//!   its last value, as JSON parsers take it. An order picked again after an unpaid try is
//!   the same order at paymux while it is open; once closed (unpaid past the order TTL) its
//!   mchOrderId cannot be paid here again and the merchant issues a new one.
//! - paymux's own serviceKey `paymux.staticCode` (not a number, so it cannot meet one the
//!   platform publishes): a merchant asks, signed as every call is, for a static code's
//!   page URL and QR image by its ref (§4.4.1: the merchant applies "with the platform" for
//!   the code). Any other unknown serviceKey is refused with -103 check.service.undefine.

pub mod cli;
pub mod client;
pub mod codec;
pub mod convert;
pub mod crypto;
pub mod error;
pub mod notify;
pub mod payer;
pub mod routes;
pub mod static_codes;
pub mod wire;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use axum::response::{IntoResponse, Response};
use paymux_core::dialect::DialectTag;
use paymux_core::ids::MerchantId;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use client::HrssClient;
pub use notify::HrssNotifications;
pub use payer::HrssPayer;
pub use routes::{HrssState, router};

use crate::common::ClientFailure;
use crate::common::merchants::{Credentials, MerchantTable, Merchants, parse_table};
use crate::dialect::{ClientTarget, Dialect, Mount, Mounted, Schedule};
use crate::platform::PlatformKey;
use codec::DataKey;
use crypto::{PrivateKey, PublicKey, Sm4Key};
use static_codes::StaticCode;

pub const NAME: &str = "hrss";
pub const TAG: DialectTag = DialectTag::new(NAME);

/// The notification schedule, the delays between tries: eleven retries, the last 23 h
/// 51 min after the first try (see the module doc).
pub const RETRY_DELAYS_S: &[u64] = &[
    15, 60, 300, 900, 1800, 3600, 7200, 10800, 14400, 21600, 25200,
];

/// Contexts that would clash with paymux's own routes.
const RESERVED_CONTEXTS: [&str; 2] = ["cashier", "sandbox"];

fn default_context() -> String {
    "engine".to_owned()
}

/// `[merchant.hrss]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrssCredentials {
    /// 接入标识: identifies the merchant (its access system) on the wire.
    pub access_key: String,
    pub app_id: String,
    pub mch_id: String,
    /// The first part of the services' paths: `/{context}/rest/{serviceKey}`.
    #[serde(default = "default_context")]
    pub context: String,
    /// The merchant's SM2 public key, `04‖x‖y` hex (or base64/PEM X.509, as Hutool prints
    /// it): verifies its requests.
    pub sm2_public_key: String,
    /// 32 hex digits or 16 characters.
    pub sm4_key: SecretString,
    /// `data` travels as plain JSON instead of SM4 (the spec's "依据配置").
    #[serde(default)]
    pub plaintext: bool,
    /// §5.1: where the platform asks for a payer's unpaid orders (mode 2 static codes).
    #[serde(default)]
    pub order_query_url: String,
    /// The merchant's own SM2 private key. Only `paymux client hrss` reads it, to sign as
    /// the merchant; a gateway's config does not need it.
    #[serde(default)]
    pub sm2_private_key: Option<SecretString>,
    /// §4.4 static codes the operator declares for the merchant (`static_codes.rs`).
    #[serde(default)]
    pub static_codes: Vec<StaticCode>,
}

impl Credentials for HrssCredentials {
    const WIRE_ID: &'static str = "access_key";
    fn wire_id(&self) -> String {
        self.access_key.clone()
    }
    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        let mut secrets = vec![("sm4_key", &self.sm4_key)];
        if let Some(key) = &self.sm2_private_key {
            secrets.push(("sm2_private_key", key));
        }
        secrets
    }
}

/// A merchant's keys, parsed once.
#[derive(Debug, Clone)]
pub struct MerchantKeys {
    pub public: PublicKey,
    pub sm4: Sm4Key,
    pub plaintext: bool,
}

impl MerchantKeys {
    pub fn data_key(&self) -> DataKey<'_> {
        if self.plaintext {
            DataKey::Plain
        } else {
            DataKey::Sm4(&self.sm4)
        }
    }
}

/// Reads and checks one merchant's table; the error names the merchant and the key.
fn keys_of(merchant: &MerchantId, c: &HrssCredentials) -> Result<MerchantKeys, String> {
    let err = |key: &str, why: String| format!("merchant {merchant}: [merchant.hrss] {key} {why}");
    for (key, value, max) in [
        ("access_key", &c.access_key, 30),
        ("app_id", &c.app_id, 20),
        ("mch_id", &c.mch_id, 32),
    ] {
        if value.trim().is_empty() || value.chars().count() > max {
            return Err(err(key, format!("must be 1 to {max} characters")));
        }
    }
    let context_ok = !c.context.is_empty()
        && c.context
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !RESERVED_CONTEXTS.contains(&c.context.as_str());
    if !context_ok {
        return Err(err(
            "context",
            "must be letters, digits, -, _ or . (and not cashier or sandbox)".into(),
        ));
    }
    let public =
        PublicKey::parse(&c.sm2_public_key).map_err(|e| err("sm2_public_key", e.to_string()))?;
    let sm4 =
        Sm4Key::parse(c.sm4_key.expose_secret()).map_err(|e| err("sm4_key", e.to_string()))?;
    if let Some(private) = &c.sm2_private_key {
        let private = PrivateKey::parse(private.expose_secret())
            .map_err(|e| err("sm2_private_key", e.to_string()))?;
        if private.public_key() != public {
            return Err(err(
                "sm2_private_key",
                crypto::KeyError::Mismatch.to_string(),
            ));
        }
    }
    if !c.order_query_url.is_empty()
        && paymux_core::url::NotifyUrl::parse(&c.order_query_url, true).is_err()
    {
        return Err(err("order_query_url", "must be an http(s) URL".into()));
    }
    static_codes::check(&c.static_codes, !c.order_query_url.is_empty())
        .map_err(|why| err("static_codes", why))?;
    Ok(MerchantKeys {
        public,
        sm4,
        plaintext: c.plaintext,
    })
}

/// The hrss merchants: the registry by access_key, and their parsed keys.
#[derive(Debug)]
pub struct HrssMerchants {
    registry: Merchants<HrssCredentials>,
    keys: HashMap<MerchantId, MerchantKeys>,
    contexts: BTreeSet<String>,
}

/// One merchant, as a request or a notification needs it.
#[derive(Debug, Clone, Copy)]
pub struct HrssMerchant<'m> {
    pub id: &'m MerchantId,
    pub credentials: &'m HrssCredentials,
    pub keys: &'m MerchantKeys,
}

impl HrssMerchants {
    pub fn from_tables(tables: &[MerchantTable]) -> Result<HrssMerchants, String> {
        let registry = Merchants::<HrssCredentials>::from_tables(NAME, tables)?;
        let mut keys = HashMap::new();
        let mut contexts = BTreeSet::new();
        for table in tables {
            let Some(registered) = registry.of_merchant(&table.merchant) else {
                continue;
            };
            keys.insert(
                table.merchant.clone(),
                keys_of(&table.merchant, &registered.credentials)?,
            );
            contexts.insert(registered.credentials.context.clone());
        }
        Ok(HrssMerchants {
            registry,
            keys,
            contexts,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The contexts the merchants' services live under.
    pub fn contexts(&self) -> impl Iterator<Item = &str> {
        self.contexts.iter().map(String::as_str)
    }

    fn merchant<'m>(
        &'m self,
        registered: &'m crate::common::merchants::Registered<HrssCredentials>,
    ) -> Option<HrssMerchant<'m>> {
        Some(HrssMerchant {
            id: &registered.merchant_id,
            credentials: &registered.credentials,
            keys: self.keys.get(&registered.merchant_id)?,
        })
    }

    pub fn by_access_key(&self, access_key: &str) -> Option<HrssMerchant<'_>> {
        self.merchant(self.registry.by_wire_id(access_key)?)
    }

    pub fn of_merchant(&self, merchant: &MerchantId) -> Option<HrssMerchant<'_>> {
        self.merchant(self.registry.of_merchant(merchant)?)
    }

    /// Every merchant, by id.
    pub fn all(&self) -> Vec<HrssMerchant<'_>> {
        let mut ids: Vec<&MerchantId> = self.keys.keys().collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.into_iter()
            .filter_map(|id| self.of_merchant(id))
            .collect()
    }
}

/// `[platform] sm2_private_key`: the platform's SM2 key, which signs notifications and
/// §5.1 calls; merchants verify them with its public key.
pub const PLATFORM_KEY: PlatformKey = PlatformKey {
    name: "sm2_private_key",
    purpose: "signs hrss notifications and §5.1 calls (64 hex digits); merchants verify them with its public key (04‖x‖y hex)",
    generate: Some(generate_private_key),
    public: Some(platform_public_key),
};

/// The platform's key, `[platform] sm2_private_key`: required as soon as a merchant speaks
/// hrss, since it signs their notifications.
fn platform_key(mount: &Mount, merchants: &HrssMerchants) -> Result<Option<PrivateKey>, String> {
    match mount.platform.get(PLATFORM_KEY.name) {
        Some(key) => PrivateKey::parse(key.expose_secret())
            .map(Some)
            .map_err(|e| format!("[platform] sm2_private_key {e}")),
        None if merchants.is_empty() => Ok(None),
        None => Err(
            "[platform] sm2_private_key is missing: it signs hrss notifications, which merchants verify with its public key. `paymux keys hrss --generate` makes one"
                .to_owned(),
        ),
    }
}

/// The public key merchants verify the platform's notifications with, `04‖x‖y` hex.
pub fn platform_public_key(private_key: &SecretString) -> Result<String, String> {
    PrivateKey::parse(private_key.expose_secret())
        .map(|k| k.public_key().to_hex())
        .map_err(|e| format!("[platform] sm2_private_key {e}"))
}

/// A new SM2 private key, 64 hex digits (for `[platform] sm2_private_key`).
pub fn generate_private_key() -> Result<String, String> {
    PrivateKey::generate()
        .map(|k| k.to_hex())
        .map_err(|e| e.to_string())
}

/// The demo merchant's static code (mode 1), notified where `paymux client hrss listen`
/// listens by default.
const DEMO_STATIC_CODES: &str = "static_codes = [{ ref = \"S1\", mode = 1, subject = \"门诊缴费\", notify_url = \"http://127.0.0.1:9000/notify\" }]\n";

/// The hrss dialect.
pub struct Hrss;

#[async_trait]
impl Dialect for Hrss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "hrss (人社支付平台): online-order, passive-scan, dynamic-code, static-code, query, refund, refund-query, close, listen"
    }

    fn schedules(&self) -> &'static [Schedule] {
        &[Schedule {
            name: NAME,
            delays_s: RETRY_DELAYS_S,
        }]
    }

    fn platform_keys(&self) -> &'static [PlatformKey] {
        &[PLATFORM_KEY]
    }

    /// §5.2: "所有支付场景的异步支付结果通知", failures included.
    fn notifies_failed_payments(&self) -> bool {
        true
    }

    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String> {
        HrssMerchants::from_tables(merchants).map(drop)
    }

    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String> {
        let merchants = Arc::new(HrssMerchants::from_tables(merchants)?);
        let platform_key = platform_key(mount, &merchants)?.map(Arc::new);
        if !merchants.is_empty() && mount.public_url.chars().count() > 87 {
            tracing::warn!(public_url = %mount.public_url, "hrss payUrl will be longer than the spec's 256 characters: public_url is longer than 87");
        }
        let allow_private = mount.gateway.settings().allow_private_callbacks;
        for merchant in merchants.all() {
            let url = &merchant.credentials.order_query_url;
            if !url.is_empty() && paymux_core::url::NotifyUrl::parse(url, allow_private).is_err() {
                return Err(format!(
                    "merchant {}: [merchant.hrss] order_query_url is a loopback or private address, which [server] allow_private_callbacks = false refuses",
                    merchant.id
                ));
            }
        }
        let payer = HrssPayer::new(
            merchants.clone(),
            platform_key.clone(),
            mount.gateway.clone(),
        )?;
        Ok(Mounted {
            router: router(HrssState {
                gateway: mount.gateway.clone(),
                merchants: merchants.clone(),
                max_clock_skew_s: mount.max_clock_skew_s,
                serial: Arc::default(),
                public_url: mount.public_url.clone(),
                links: mount.links.clone(),
            }),
            notifications: Some(Arc::new(HrssNotifications {
                merchants,
                platform_key,
            })),
            payer: Some(Arc::new(payer)),
        })
    }

    /// Creates, updates or closes the static codes the merchants' tables declare.
    async fn prepare(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<(), String> {
        let merchants = HrssMerchants::from_tables(merchants)?;
        static_codes::prepare(&merchants, mount).await
    }

    fn busy(&self, _request: &crate::BusyRequest<'_>) -> Response {
        error::HrssError::Busy.into_response()
    }

    fn demo_table(&self, random_hex: &mut dyn FnMut(usize) -> String) -> String {
        // The demo merchant's own key pair: the gateway verifies with the public half,
        // `paymux client hrss` signs with the private one.
        let private = (0..8).find_map(|_| PrivateKey::parse(&random_hex(32)).ok());
        // Without randomness the keys stay empty and the config refuses them (the caller
        // reports why); a random value out of the curve's range is about 1 in 2^32.
        let (public, private) = private
            .map(|k| (k.public_key().to_hex(), k.to_hex()))
            .unwrap_or_default();
        format!(
            "access_key = \"DOTEST\"\napp_id = \"A203\"\nmch_id = \"M100043\"\ncontext = \"engine\"\nsm2_public_key = \"{}\"\nsm4_key = \"{}\"\nsm2_private_key = \"{}\"\n{DEMO_STATIC_CODES}",
            public,
            random_hex(16),
            private,
        )
    }

    fn describe(&self, merchant: &MerchantTable, public_url: &str, client: &str) -> Vec<String> {
        let Ok(h) = parse_table::<HrssCredentials>(NAME, &merchant.merchant, &merchant.table)
        else {
            return Vec::new();
        };
        vec![
            format!(
                "hrss     access_key={} appid={} mchId={} sm4Key={}",
                h.access_key,
                h.app_id,
                h.mch_id,
                h.sm4_key.expose_secret()
            ),
            format!(
                "  keys:  merchant public key {} (its private key is in the file); `paymux keys hrss` prints the platform's",
                h.sm2_public_key
            ),
            format!("  url:   {public_url}/{}/rest/{{serviceKey}}", h.context),
            format!("  try:   {client} hrss online-order --amount 1"),
        ]
        .into_iter()
        .chain(h.static_codes.iter().filter(|c| !c.closed).map(|c| {
            format!(
                "  code:  static code {} ({}, mode {}): `{client} hrss static-code --ref {} --save-png {}.png` prints its page and QR image",
                c.code_ref,
                c.subject,
                c.mode,
                c.code_ref,
                c.code_ref.to_lowercase()
            )
        }))
        .collect()
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
