//! chinaums (specs/chinaums.txt, 银联商务 全民付移动支付 C扫B, version 20181023): QR bills.
//! §1.1–§1.8 the merchant's calls, §1.9 paymux's call to the merchant for a fixed code's
//! payment elements, §1.10 the return link, §1.11 notifications, §2 the code values.
//!
//! A code (`core::code`) makes bills; a bill is an order the payer may try to pay more
//! than once, each try an attempt with its own `merOrderId` (the bill number and the try's
//! sequence number less one, as the spec's example shows: bill `…2644` paid by
//! `…26440`), at most one of them paid. The core keeps the codes, bills, tries, refunds and
//! escrow; this folder translates.
//!
//! Signing (`codec.rs`, fixtures in `testdata/`): requests carry `Authorization:
//! OPEN-BODY-SIG AppId="…", Timestamp="yyyyMMddHHmmss", Nonce="…", Signature="…"`, the
//! signature base64(HMAC-SHA256(appKey, appId + Timestamp + Nonce + hex(SHA256(body)))) over
//! the body's exact bytes. DESIGN.md's vector:
//!
//! ```
//! use paymux_dialects::chinaums::codec;
//!
//! let header = codec::authorization("testAppId", "testAppKey", "20240102030405",
//!     "0123456789abcdef0123456789abcdef", b"{}");
//! assert!(header.ends_with(r#"Signature="+tXpALDcLiXWARGKKZOUz7boorW2R2JbIbaoNScpwJo=""#));
//! ```
//!
//! Notifications, return links and §1.9 are signed by §1.10.4: the non-empty fields but
//! `sign`, sorted, `k=v` joined by `&` with raw values (JSON values as their compact text in
//! their own key order), the key appended directly, MD5 or SHA256 in upper-case hex. The
//! spec's vector (its key printed with a stray space, read without it):
//!
//! ```
//! use paymux_dialects::chinaums::codec::{self, SignType};
//!
//! let params = codec::decode(r#"{"walletOption":"SINGLE","billNo":"31940000201700002",
//!     "billDate":"2017-06-26","sign":"2631915B7F7822C4B00A488A32E03764",
//!     "requestTimestamp":"2017-06-26 17:28:02","instMid":"QRPAYDEFAULT","msgSrc":"WWW.TEST.COM",
//!     "totalAmount":"1","goods":[{"body":"微信二维码测试","price":"1","goodsName":"微信二维码测试",
//!     "goodsId":"1","quantity":"1","goodsCategory":"TEST"}],"msgType":"bills.getQRCode",
//!     "mid":"898340149000005","tid":"88880001"}"#.as_bytes()).unwrap();
//! let key = "fcAmtnx7MwismjWNhNKdHC44mNXtnEQeJkRrhKJwyrW2ysRR";
//! let text = codec::string_to_sign(&params);
//! assert_eq!(codec::sign(&text, key, SignType::Md5), "57F81BAF8E3BAE1190B26D6C733038AF");
//! assert_eq!(codec::sign(&text, key, SignType::Sha256),
//!     "A9ECED8DD8425D1FC4047CF94E672C69ED1073557EE831C51287341CFAB0B21F");
//! ```
//!
//! `[merchant.chinaums]`: `mid` (the wire id: requests are found by it), `tid` (a terminal
//! or a list of them; a request must name one), `msg_src_id` (4 characters, every billNo's
//! prefix), `msg_src`, `app_id` and `app_key` (OPEN-BODY-SIG), `sign_key` and `sign_type`
//! (`SHA256`, the default, or `MD5`: notifications and return links), `notify_url` and
//! `pay_info_query_addr` (optional), `active` (default true; false: INACTIVE_MERCHANT).
//!
//! Authentication and the error codes:
//! - The header is checked first: missing, malformed, an unknown AppId or a signature that
//!   is not the body's → `BAD_SIGN`; a Timestamp not `yyyyMMddHHmmss` or further from
//!   paymux's clock than `[server] max_clock_skew_s` → `ABNORMAL_REQUEST_TIME`. Then the
//!   body (not a JSON object → `BAD_REQUEST`), the merchant (`mid` unknown or not the
//!   AppId's → `NO_MERCHANT`; `active = false` → `INACTIVE_MERCHANT`), the nonce, `msgSrc`
//!   (when sent, the merchant's `msg_src`, else `INVALID_MSGSRC`), `msgType` (when sent,
//!   the interface's own: `bills.getQRCode`, `bills.updateQRCode`, `bills.closeQRCode`,
//!   `bills.query`, `bills.refund`, `bills.queryQRCodeInfo`, `bills.secureCancel`,
//!   `bills.secureComplete`, else `NO_SERVICE`), and `tid` (one of the merchant's
//!   configured terminals, else `INVLID_MERCHANT_CONFIG`, spelled as §2.1 spells it).
//! - A Nonce seen before from the same merchant is refused with `BAD_SIGN` (errMsg says it
//!   is a replay): the header's credentials are single-use, and §2.1 has no code of its
//!   own for replays. Nonces are remembered twice `max_clock_skew_s` (the span in which a
//!   Timestamp is accepted), or 24 hours when the check is off; a request refused before
//!   its signature verified leaves nothing remembered.
//! - One app may serve several merchants (the spec's institution mode); they share its
//!   appKey (start-up refuses otherwise). §1.6 may then leave out `mid`: the code is looked
//!   up among the app's merchants.
//! - Other codes: `BAD_REQUEST` (errMsg names the field and why), `NO_ORDER`, `DUP_ORDER`
//!   (a billNo or qrCodeId taken, a refundOrderId reused for another refund, an update to
//!   the same billNo), `OPERATION_NOT_ALLOWED` (a closed code or bill, an unpaid bill's
//!   refund, escrow not completed or already settled),
//!   `ORDER_PROCESSING` (another try or refund of the bill is under way), `TARGET_FAIL`
//!   (the payment channel refused), `TXN_DISCARDED` (the gateway's request limits:
//!   overloaded, or not done in time), `INTERNAL_ERROR`. HTTP status is 200 throughout;
//!   unknown paths under `/v1/netpay` get `NO_SERVICE`, other methods `BAD_REQUEST`.
//! - Replies are not signed (the spec shows no signature on them).
//!
//! Where the spec is garbled or silent:
//! - `responseTimeStamp` (§1.1–§1.5's tables) vs `responseTimestamp` (their examples):
//!   those replies carry both. §1.6–§1.8's tables name `requestTimestamp` where their
//!   examples have `responseTimestamp`: those replies carry `responseTimestamp` and echo
//!   the request's `requestTimestamp`.
//! - `completeAmount` (§1.4, §1.11) vs `completedAmount` (§1.7, §1.8): each interface keeps
//!   its own spelling. `qrCodeUrl` (§1.6's table) vs `billQRCode` (its example): both.
//! - Paths: the scan reads `q` as `g` in places: §1.1/§1.2's production URLs end in
//!   `get-grcode`/`update-grcode` (their test URLs in `qrcode`), and both of §1.6's URLs in
//!   `guery-grcode-info`. paymux serves the spelling of §1.3's, which reads the same in
//!   both: `qrcode`, `query` (`get-qrcode`, `update-qrcode`, `query-qrcode-info`).
//! - The examples' `ORPAYDEFAULT` is `QRPAYDEFAULT`; their broken JSON (a missing `{`, a
//!   `]` read as `1`) is fixed in the tests. `instMid` is required, kept with the code, and
//!   an update must name the same one; its value is not restricted.
//! - `requestTimestamp` is required and read as `yyyy-MM-dd HH:mm:ss` or `yyyyMMddHHmmss`
//!   (a popular PHP SDK sends the latter); the header's Timestamp is the one checked
//!   against the clock.
//! - Amounts are fen, JSON numbers or numeric strings (`"1"`), integers from 1 (0 for
//!   sub-merchants' and the platform's shares) to 100000000; replies send numbers.
//! - §1.1: a `billNo` or `billDate` makes a one-time code (then `billDate` and `totalAmount`
//!   are required), `totalAmount` alone a fixed-amount code, neither an open code. A
//!   one-time code without `billNo` gets `{msgSrcId}{yyyyMMddHHmmssSSS}{7 digits}`; a given
//!   billNo must start with msgSrcId and be 6 to 28 characters (the recommended form is
//!   28, so "大于6位,小于28位" is read inclusively). A one-time code's bill expires after 30
//!   minutes unless `expireTime` says; fixed codes never unless it says. `walletOption`
//!   SINGLE (the first payer to scan pays; others wait) applies to one-time codes and is
//!   ignored for fixed ones. `billQRCode` is the code's page on this gateway
//!   (`{public_url}/bills/{id}/{token}`); `qrCodeId` is the merchant's (unique per
//!   merchant), or paymux's code id when it sent none.
//! - Real-name fields (`name`, `mobile`, `certNo` base64; `certType` one of the five types,
//!   not encoded) only with `fixBuyer=T`, which needs `name` and `certNo`. Such a bill is
//!   paid only by the person it names: the code's page asks the payer's name and
//!   certificate number and refuses anyone else before any try (`payer.rs`).
//! - `limitCreditCard=true`: as WeChat Pay and Alipay do for a merchant's "no credit"
//!   payment, the payer's credit cards are not offered (the sandbox's cashier shows them
//!   disabled), and a payment from one is refused before it is made: nothing is paid and
//!   the try stays open for the payer to pay from the balance or a debit card. The bill
//!   never fails for it.
//! - 分账: `divisionFlag=true` needs `totalAmount`, `platformAmount`, and `subOrders`
//!   (each `mid` and `totalAmount`; their sum plus platformAmount is totalAmount) or
//!   `goods` that each name `subMerchantId` and `subOrderAmount` (summing to totalAmount;
//!   the sub-merchants then share totalAmount − platformAmount in proportion, to the fen,
//!   left-over fen to the largest remainders); `secureTransaction` must then be false.
//!   `subOrders`/`platformAmount` without the flag are refused. At most 20 goods and 20
//!   subOrders. §1.1 does not keep the flag to one-time codes (as it does walletOption),
//!   and its sum rule needs a totalAmount: a fixed-amount code may be split, and each of
//!   its bills is split the same way; an open code may not (`BAD_REQUEST` naming
//!   divisionFlag), its amounts being the payer's. The split is the core's (`Splits`, on
//!   the bill and on a fixed-amount code), which keeps refunds within it; the bill shows it
//!   in its `extra` (`split`). The flag's "only WeChat Pay and Alipay for now" is not
//!   enforced: the sandbox splits nothing at the wallet.
//! - §1.2: an update replaces the bill terms (amount, number, date, description, goods,
//!   wallet option, real name, split, escrow, expiry); notifyUrl, returnUrl, memberId,
//!   counterNo, systemId, limitCreditCard and payInfoQueryAddr stay as they were unless
//!   sent. A one-time code's unpaid bill is closed and replaced; a paid one stays. The
//!   reading: §1.2 is for binding bill information to codes made in bulk, or "更换二维码中
//!   账单信息" (replacing it), its request is §1.1's, and its example sends the whole bill
//!   again; so the update's billNo, billDate and totalAmount decide the code's kind by
//!   §1.1's rule, as a new code's do. An update that sends none of them (say, only a new
//!   payInfoQueryAddr) makes the code an open one, whose amount the payer enters or the
//!   merchant's §1.9 system gives; to keep a fixed amount, send totalAmount again.
//! - §1.3: `attachRefund` refunds what is left of a one-time code's paid bill (a split
//!   bill's shares one refund each), before the code closes: a refund refused leaves the
//!   code open (`OPERATION_NOT_ALLOWED` while the escrow is UNCOMPLETED: cancel it, which
//!   returns the money, or complete it first; `TARGET_FAIL` when the channel refuses), and
//!   a close with attachRefund of a code closed already still refunds what is left (so a
//!   retry finishes what failed). For fixed codes attachRefund is ignored.
//! - §1.4/§1.5: `billNo` may hold a bill number or a try's merOrderId (§1.4 says so), with
//!   `billDate`, which must be the bill's (a fixed code's bill is dated the day it was
//!   made); a `merOrderId` field may be sent instead, without a date. billStatus: UNPAID,
//!   PAID, REFUND (once any refund was accepted), CLOSED (closed, expired, or failed),
//!   UNKNOWN (a try the channel reported with another amount, held for an operator).
//!   `billPayment` is the try that paid; while unpaid, the try under way
//!   (`WAIT_BUYER_PAY`); absent when every try failed. Its status: TRADE_SUCCESS,
//!   TRADE_REFUND (part refunded, or a refund under way), TRADE_CLOSED (fully refunded, or
//!   a failed try). `refundBillPayment` (with `refundOrderId`): TRADE_SUCCESS when the
//!   refund is done, UNKNOWN while under way, TRADE_CLOSED when it failed. targetSys by
//!   wallet (§2.4): WeChat `WXPay`, Alipay `Alipay 2.0`, UnionPay QR `ACP` (otherwise
//!   `UnionPay`), JD `JD`, Baidu `BaiDu`, bank cards `QMF`, others `NetPayBills`.
//!   `paySeqId` is paymux's bill id and the try's number; `payDetail` says how much was
//!   paid. `buyerId` is the payer's account at the wallet as the channel reported it;
//!   `buyerUsername` (the example's masked login `119***@qq.com`) is left out: no channel,
//!   the sandbox's payer included, reports a login name.
//!   `cardAttr` (§1.4, §1.5, §1.7/§1.8, and `extraBuyerInfo` of §1.11) is where the
//!   paying try's money came from, as the channel reported it: `DEBIT_CARD` or
//!   `CREDIT_CARD` (§1.4's table), or `BALANCE` (the wallet's balance, as §1.7's example
//!   says); left out when the channel did not say. The sandbox's payer chooses at the
//!   cashier, from what the wallet offers (UnionPay: cards only).
//! - §1.5: refunds go through the core: never more than paid, under concurrency too. The
//!   refundOrderId is the idempotency key (the same one again returns the same refund; with
//!   other parameters, a split bill's shares included, `DUP_ORDER`); without one, paymux
//!   makes one for the first refund and requires it from the second on (`BAD_REQUEST`
//!   naming refundOrderId). The number made is msgSrcId, the time the bill was made
//!   (`yyyyMMddHHmmss`) and ten more digits of the bill's paymux id (the form of §1.5's
//!   example, 28 characters): one per bill, so the store's unique key admits one refund
//!   without refundOrderId per bill even when several arrive at once. One that arrives
//!   with it asking the same is that refund (as a resend is), one asking otherwise
//!   `BAD_REQUEST`. A refund that
//!   does not fit only because other refunds of the bill are still under way gets
//!   `ORDER_PROCESSING` (the loser of a race); one that does not fit at all `BAD_REQUEST`.
//!   refundStatus: PROCESSING while the channel executes it, SUCCESS, FAIL. A split bill's
//!   refund must name one sub-merchant in `subOrders` and `platformAmount`, adding up to
//!   `refundAmount`; the core keeps the platform's part and each sub-merchant's within its
//!   share, under concurrency too (`BAD_REQUEST` naming the share and what is left).
//! - §1.7/§1.8: keyed by `merOrderId` (a bill number works too). A refund is refused
//!   while the escrow is UNCOMPLETED or CANCELED (cancel already returned the money); after
//!   a completion, at most `completedAmount` is refundable, the rest having gone back to the
//!   payer at once. The reply carries the table's fields and the example's (`totalAmount`,
//!   `status`, `targetSys`, `targetOrderId`, `seqId`/`settleRefId` = paySeqId, `cardAttr`,
//!   `merName`). §1.8's example spells `segId`, likely `seqId` with the scan's `g` for
//!   `q` (as in `grcode`), but no table names either: both are sent, the same value. Its
//!   `connectSys` (the acquiring system the wallet payment went through, `MYBANK2`) and
//!   `targetMid` (the merchant's number at the wallet, an Alipay PID) are left out:
//!   paymux's channels report neither, and a value made up here would look real.
//! - §1.9: for a fixed code with a `payInfoQueryAddr` (the code's, else the merchant's
//!   configured one), paymux POSTs the table's fields (those it has: an absent memberId,
//!   counterNo, systemId or srcReserve is left out, never sent empty) with `signType=SHA256`
//!   and the SHA256 `sign`, plus the Authorization header of the merchant's app; it
//!   verifies the answer by its `signType` (MD5 when absent), requires `errCode=SUCCESS`
//!   and the same msgId when echoed, and bills the `totalAmount`, `billDesc`, `memberId`
//!   and `counterNo` it gives (a fixed-amount code's answer must name the code's amount).
//!   Calls follow the notifier's address rules (`allow_private_callbacks`) and wait 10 s.
//! - §1.10: after paying, the link back is the bill's returnUrl with the table's fields
//!   (and `signType`, `sign`) appended as a query string; none without a returnUrl.
//! - §1.11: every non-empty field of the table, form-encoded (the signature covers the raw
//!   values), `billPayment` and `extraBuyerInfo` (`{"cardAttr":…}`) as JSON text,
//!   `signType` always, `notifyId` the notification's id (the same on every retry); to the
//!   bill's notifyUrl and the merchant's `notify_url` (once when they are the same). Only
//!   `SUCCESS` acknowledges. The spec says "within 24 hours": retried after 15 s, 15 s,
//!   30 s, 3 min, 10 min, 30 min, 30 min, 1 h, 2 h, 4 h, 6 h and 8 h (about 22 h in all).

pub mod cli;
pub mod client;
pub mod codec;
pub mod convert;
pub mod error;
pub mod merchants;
pub mod notify;
pub mod payer;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use paymux_core::dialect::DialectTag;
use paymux_core::url::NotifyUrl;
use secrecy::ExposeSecret;

pub use client::ChinaumsClient;
pub use merchants::{ChinaumsCredentials, ChinaumsMerchant, Directory};
pub use notify::ChinaumsNotifications;
pub use routes::{ChinaumsState, router};

use crate::common::ClientFailure;
use crate::common::merchants::{MerchantTable, parse_table};
use crate::dialect::{ClientTarget, Dialect, Mount, Mounted, Schedule};

pub const NAME: &str = "chinaums";
pub const TAG: DialectTag = DialectTag::new(NAME);

/// §1.11's retries (seconds after the first attempt): about 22 hours in all.
pub const RETRY_DELAYS_S: &[u64] = &[
    15, 15, 30, 180, 600, 1800, 1800, 3600, 7200, 14400, 21600, 28800,
];

/// The chinaums dialect.
pub struct Chinaums;

#[async_trait]
impl Dialect for Chinaums {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "chinaums (银联商务 全民付 C扫B): get-qrcode, update-qrcode, close-qrcode, query, refund, query-qrcode-info, secure-cancel, secure-complete, listen"
    }

    fn schedules(&self) -> &'static [Schedule] {
        &[Schedule {
            name: NAME,
            delays_s: RETRY_DELAYS_S,
        }]
    }

    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String> {
        Directory::from_tables(NAME, merchants).map(drop)
    }

    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String> {
        let directory = Arc::new(Directory::from_tables(NAME, merchants)?);
        let allow_private = mount.gateway.settings().allow_private_callbacks;
        for m in directory.all() {
            for (key, url) in [
                ("notify_url", m.credentials.notify_url()),
                ("pay_info_query_addr", m.credentials.pay_info_query_addr()),
            ] {
                if let Some(url) = url {
                    NotifyUrl::parse(url, allow_private).map_err(|e| {
                        format!(
                            "merchant {}: [merchant.{NAME}] {key} {url:?} {e} (allow_private_callbacks is off)",
                            m.merchant_id
                        )
                    })?;
                }
            }
        }
        let signer = notify::Signer {
            merchants: directory.clone(),
            gateway: mount.gateway.clone(),
            public_url: mount.public_url.clone(),
            links: mount.links.clone(),
        };
        let payer = payer::ChinaumsPayer::new(signer.clone(), allow_private)
            .map_err(|e| format!("chinaums: {e}"))?;
        Ok(Mounted {
            router: router(ChinaumsState {
                gateway: mount.gateway.clone(),
                merchants: directory,
                public_url: mount.public_url.clone(),
                links: mount.links.clone(),
                max_clock_skew_s: mount.max_clock_skew_s,
            }),
            notifications: Some(Arc::new(ChinaumsNotifications { signer })),
            payer: Some(Arc::new(payer)),
        })
    }

    fn busy(&self, request: &crate::BusyRequest<'_>) -> Response {
        let now = paymux_core::clock::Clock::now(&paymux_core::clock::SystemClock);
        routes::busy_reply(request, now)
    }

    fn demo_table(&self, random_hex: &mut dyn FnMut(usize) -> String) -> String {
        format!(
            "mid = \"898340149000005\"\ntid = \"88880001\"\nmsg_src_id = \"3194\"\nmsg_src = \"WWW.TEST.COM\"\napp_id = \"{}\"\napp_key = \"{}\"\nsign_key = \"{}\"\nsign_type = \"SHA256\"\n",
            random_hex(16),
            random_hex(16),
            random_hex(24)
        )
    }

    fn describe(&self, merchant: &MerchantTable, _public_url: &str, client: &str) -> Vec<String> {
        let Ok(c) = parse_table::<ChinaumsCredentials>(NAME, &merchant.merchant, &merchant.table)
        else {
            return Vec::new();
        };
        vec![
            format!(
                "chinaums mid={} tid={} msgSrcId={} appId={} appKey={} signKey={}",
                c.mid,
                c.default_tid(),
                c.msg_src_id,
                c.app_id,
                c.app_key.expose_secret(),
                c.sign_key.expose_secret()
            ),
            format!("  try:   {client} chinaums get-qrcode --amount 1"),
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
