//! mmsp (specs/mmsp.txt, MMSP开放平台): the 扫码 (scan), 快捷支付 (quick) and 网关支付
//! (gateway) parts. 代付 (payouts, RSA) is a later issue.
//!
//! Frames (`codec.rs`): a JSON object with the header CommandID, SeqID, NodeType, NodeID,
//! Version, AGENTNO, MERNO, TERMNO (Attach and Extends pass unread), the Body and its Sign.
//! Signing: MD5 upper-case over PHP's `json_encode` of the Body sorted A–Z (unicode kept,
//! `/` escaped), `&key=` and the key. DESIGN.md's worked example (also
//! `testdata/scan_2306.*`):
//!
//! ```
//! use paymux_dialects::mmsp::codec;
//!
//! let frame = codec::decode(r#"{"CommandID":2306,"MERNO":"001440353999853","Body":{
//!     "TRADETYPE":"1","AMT":"1","MERORDERID":"711245","RANDSTR":"8236451970",
//!     "GOODSNAME":"测试商品","NOTIFY_URL":"http://123.58.32.141:20046/online_notify.php",
//!     "CUR":"CNY"}}"#.as_bytes()).unwrap();
//! assert_eq!(
//!     codec::string_to_sign(&frame.body),
//!     r#"{"AMT":"1","CUR":"CNY","GOODSNAME":"测试商品","MERORDERID":"711245","NOTIFY_URL":"http:\/\/123.58.32.141:20046\/online_notify.php","RANDSTR":"8236451970","TRADETYPE":"1"}"#
//! );
//! assert_eq!(
//!     codec::sign_body(&frame.body, "ea21842eea24e448b991b1cb0a0294cf"),
//!     "561138460160C42C21CE94FD9AB582E0"
//! );
//! ```
//!
//! Paths (the spec gives none): `/mmsp/scan`, `/mmsp/quick`, `/mmsp/gateway` (the gateway's
//! 2322 also as the form field `web_api`), `/mmsp/gateway/return/…` (the front-page
//! return), `/payopenplath5/wxh5pay` (§10.1, the spec's path), `/mmsp/openid` (§10.2).
//! The last two stand in for WeChat's and Alipay's own pages (a page instead of the app, a
//! made-up openid): they are served only with the sandbox on, and are 404 pages without.
//!
//! Choices where the spec is silent, garbled or contradicts itself:
//! - Replies: CommandID = request + 0x8000 (QQ micropay 776 and 2326 both answer 35094, as
//!   tabled); RetCode 1, ErrorMsg `""`, the request's SeqID, NodeType and NodeID echoed,
//!   Version 1.0.0, AGENTNO/MERNO/TERMNO echoed, the Body signed with the key the request
//!   was signed with. paymux writes `ErrorMsg`; its client reads `ErrMsg` too, and takes a
//!   positive CommandID with RetCode 0 (one of the spec's success examples) when its Body
//!   verifies.
//! - The unified negative reply (CommandID 32768, RetCode 0, `ErrorMsg` `[-NNNN] text`,
//!   Body and Sign `""`, unsigned) answers what cannot be served: -1001 not a frame (not
//!   JSON, no CommandID, a Body that is not an object, an unknown path), -1002 a CommandID
//!   the path does not serve, -1003 unknown MERNO, -1004 wrong TERMNO, -1005 an AGENTNO
//!   that is not the merchant's agent, -1006 a missing or wrong Sign, -1007 a missing
//!   field, -1008 a malformed field (or an object/array/boolean where a string belongs),
//!   -1009 暂未开通, -2001 a MERORDERID the merchant already used, -2002 没有该订单 (the
//!   spec's), -2003 no such refund, -2004 no such BIND_ID, -3005 交易金额不符 (the spec's;
//!   779's AMT is not 780's), -9998 busy, -9999 internal error.
//! - What a served order cannot do is a signed reply with STATUS 2 (0 for a batch without
//!   data) and ERR_CODE/ERR_CODE_MSG (scan) or ERRCODE/ERRMSG (quick, gateway): the spec's
//!   AA 用户支付中 and D4 订单已关闭 / 要素不匹配, and paymux's 3001 订单已支付, 3002 too early
//!   to cancel, 3003 refund exceeds the refundable amount, 3004 not paid, 3006 refund
//!   number used for another refund, 3007 wrong code, 3008 code expired (or checked 5
//!   times), 3009 a code was sent less than 60 s ago, 3010 the binding's first payment is
//!   not confirmed, 3011 refund failed, 3012 no data, 3013 the channel refused, 3014 the
//!   payment's 5 codes were all sent, 3015 a bound card's payment confirmed with 772.
//!   A refusal carries every field the spec marks required in that reply: the request's
//!   numbers echoed (a card number masked), the rest empty (a refused 2312's
//!   REFUND_ORDERNO and REFUND_TIME, a refused 771's LIST_ID, PAY_DATE, …).
//! - Each command sees the orders of its own part only, and only mmsp's: 2310, 2311, 2312,
//!   2314 and 2313 the scan part's, 772, 773, 778 and 779 the quick part's, 2323 the
//!   gateway's. Another part's or another dialect's order of the merchant is -2002
//!   没有该订单 (a refund of one, -2003): quick refunds are 暂未实现 (§5.10) and the
//!   gateway part has no refund.
//! - Numbers arrive as JSON numbers or strings; the Body as an object or a string holding
//!   one. The signature is checked over the Body as received, with its own types. MERNO
//!   is also read from the spec's typos MERNNO, MERN0 and MEORDERID. AGENTNO and TERMNO
//!   lengths are not enforced. An AGENTNO selects the merchant's `agent_md5_key` (config
//!   `agent_no`), which must then have signed; notifications are signed with the agent's
//!   key when the merchant has one.
//! - mmsp has no timestamp; replays change nothing: creates meet their MERORDERID, refunds
//!   their REFUND_MERORDERID, confirmations an order already paid.
//!
//! Scan (§5–§10):
//! - 2306 TRADETYPE 1 native (QR), 2 公众号 (OPENID required; IS_MINIPG=1 a mini-program,
//!   which needs SUP_APPID; IS_MINIPG with TRADETYPE 1 is refused); 2308 TRADETYPE 2 needs
//!   ALIPAY_USER_ID or ALIPAY_ACCOUNT; 2325 QQ; 1027, 1025, 1031 TRADETYPE 1 only; 2321 and
//!   1030 H5 (2321 needs JUMP_URL, the payer's way back). URL is the sandbox cashier link;
//!   with IS_RAW=1 a 公众号/服务窗/mini-program order gets PAY_INFO instead (WeChat's JSAPI
//!   fields, paySign by WeChat's MD5 rule with the merchant's key; Alipay `tradeNO`, QQ
//!   `tokenId`). TIME_END `yyyy-mm-dd hh24:mi:ss` (or 14 digits), default 5 minutes. ISTO,
//!   LIMIT_PAY, IS_RAW (1 or 2), OPENID, SUP_APPID, ALIPAY_* are kept with the order (ISTO
//!   for settlement). LIMIT_PAY=1: the sandbox cashier does not let the payer pay with a
//!   credit card (shown disabled; a script asking for one gets 409), as the wallets' own
//!   "no credit" options do; the order stays payable otherwise. CUR must be CNY.
//! - 1026 (支付宝静态码, §6.3; request and reply as 1027's): the spec says only that each
//!   1026 is an order (AMT, MERORDERID, … required) answered with a URL. Read as the
//!   merchant's printed, fixed Alipay code: the merchant has one (a one-time payment code,
//!   reference `mmsp-alipay-static`, made on its first 1026), and each 1026 binds its order
//!   to it as the code's bill, replacing the bill it carried (an unpaid one closes, a paid
//!   one stays paid). URL is the code's page, the same every time; the payer who scans it
//!   next pays the order bound now, and the page offers Alipay only. ORDERNO is the bill's;
//!   query, cancel, close, refund and the 2324 push treat it as any scan order (TRADETYPE 2).
//!   A bill may be tried again after a payer gives up; two payers paying at once end with
//!   one payment, the other refunded by the core. Two first 1026s at once make one code.
//! - Micropay (2307, 2309, 776/2326): CODE 10–32 digits, decided by the channel (the
//!   sandbox by the last digit). STATUS 1 paid, 3 + AA while the payer confirms, 2 with the
//!   channel's code and reason. A micropay paid at once is answered, not pushed (the core
//!   is told so at create, where it knows the payment was immediate); one paid later is
//!   pushed.
//! - 2310 STATUS: 1 paid (refunds since or not), 3 + AA unpaid, 2 + D4 closed (订单已关闭),
//!   expired (订单已过期) or failed (the reason). TRADETYPE 1 WeChat, 2 Alipay, 3 QQ, and
//!   paymux's 4 UnionPay, 5 JD, 6 bank. TRADETIME and PAYTIME `YYYY-MM-DD HH:mm:ss`.
//! - 2311 (撤销) reverses: an unpaid order is closed, a paid one refunded what is left of
//!   it (the whole amount, or the rest after the merchant's own refunds; the refund's
//!   REFUND_MERORDERID is the ORDERNO; asking again answers the same). §10.4 says only
//!   that the payer must end up not charged (撤单成功) or the reversal fails: a paid order
//!   already refunded in full is 撤单成功 with nothing refunded. Not within 15 s of the
//!   order (§10.4): STATUS 2, 3002. 2314 (关闭) closes an unpaid order; a paid one is
//!   STATUS 2, 3001.
//! - 2312: REFUND_MERORDERID required, the refund's number and idempotency key (the same
//!   number with the same amount answers the same refund). STATUS 1 受理成功 (under way or
//!   done), 2 refused or failed. 2313 by REFUND_ORDERNO or REFUND_MERORDERID, the same.
//! - Orders by ORDERNO or MERORDERID, ORDERNO first when both are sent.
//! - ORDERNO and REFUND_ORDERNO are 20 digits (`crate::common::ids`, as hrss's numbers):
//!   the id's time in seconds since 1970, its node and its sequence, reversible to
//!   paymux's 23-character id, which requests may also send. The spec gives no example
//!   of either; it sizes ORDERNO string(18) in the create replies but string(20) in every
//!   table where the merchant sends it back or receives it again (2310, 2311, 2314, 2312
//!   requests and replies, the 2324 push), and REFUND_ORDERNO string(20). The number must
//!   fit where it is sent back, and 18 digits cannot hold paymux's ids reversibly (node
//!   and sequence alone are 10), so 20 it is, and the 18 is read as a stale width. LIST_ID
//!   (string(32), quick and gateway) is paymux's id as it is.
//!
//! Quick (§5):
//! - 771: card number (Luhn), ID number (GB 11643 check character and birth date) and
//!   phone that cannot be right are 要素不匹配 (RetCode 1, STATUS 2, ERRCODE D4), as is the
//!   bank's refusal (the sandbox: a phone ending 0000); no order is made for the former.
//!   EXPDATE (MMYY) and CVN2 are read only for CARDTYPE 2. STATUS 0 下单成功待支付: the payer
//!   has a code. CARDNO is always masked (622848*********0018): paymux keeps no card or
//!   ID number. With USER_ID, the reply's BIND_ID names the card bound to that user; it is
//!   effective once this payment is paid.
//! - 772 confirms with the code (STATUS 1; a payment already confirmed answers 1 again);
//!   778 sends a new code at most once every 60 s and at most 5 codes per order (then
//!   3014: the merchant makes a new order); a code is good for 5 minutes and for 5 checks,
//!   each counted before the bank sees the code, so guesses sent at once share nothing
//!   (at most 25 guesses per order). 772 does not confirm a bound card's order (780):
//!   3015, that is 779's, which checks BIND_ID, USER_ID and AMT and names NOTIFY_URL.
//! - 773 STATUS 0 待支付, 1 成功, 2 失败/关闭, 3 已退款 (the spec's 5.7 example sends 775
//!   for it: a 775 with MERORDERID and no BIND_ID is answered as 773, CommandID 33541).
//! - 777/782: START_DATE and END_DATE of 8 (a day), 10 (an hour) or 14 digits (a second),
//!   both included, START_DATE within 3 months; PERPAGE default 10, at most 1000; PAGE
//!   default 1; the part's paid orders whose STATUS is 1 (§5.9: "目前只查询状态为 1 且支付成功的
//!   订单"; one refunded in full, STATUS 3, is not listed; a partly refunded one is), by
//!   payment time. STATUS 0 + 3012 when the page is empty.
//! - 780 (MERORDERID, BIND_ID, USER_ID, PHONENO, AMT) makes the order on the bound card and
//!   sends the code to the phone the card was bound with (§5.13: 用户在银行预留的手机号码);
//!   a PHONENO that is not that phone is STATUS 2, D4 要素不匹配, and nothing is made or
//!   sent. 779 (the same MERORDERID, BIND_ID, USER_ID, AMT) confirms it with MSG_CODE and
//!   names NOTIFY_URL, which is kept only once the code is right.
//! - 783: JUMP_URL required; PAY_URL is the sandbox page, TRADE_MODE 2 adds HTML (a form
//!   that takes the payer there).
//! - 774, 775 (解绑), 776 (绑卡查询), 781: -1009 暂未开通, as the spec marks them. 5.10
//!   (refunds of quick payments) is 暂未实现 in the spec.
//!
//! Gateway (网关):
//! - 2322 answers with the sandbox bank page of PAY_CHANNEL (§8.1.1; an unknown code is
//!   -1008), which leads to the cashier. §8.1.1's table has 20 codes; its last row,
//!   HXB-NET-B2C 华夏银行, is the spec file's last line (without a line break), easy to miss. JUMP_URL receives the front-page return (§5.5):
//!   a GET with the order's fields in the query, not proof of payment (unsigned, as the
//!   spec lists no Sign). 2323 answers 35091 (the table; one example shows 35104).
//!
//! Notifications: see `notify.rs`.

pub mod cli;
pub mod client;
pub mod codec;
pub mod convert;
pub mod error;
pub mod notify;
pub mod pages;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use paymux_core::code::PaymentCode;
use paymux_core::dialect::DialectTag;
use paymux_core::order::Order;
use paymux_core::payway::{Funding, Wallet};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

pub use client::MmspClient;
pub use notify::MmspNotifications;
pub use routes::{MmspState, Part, router};

use crate::common::ClientFailure;
use crate::common::merchants::{Credentials, MerchantTable, Merchants, Registered, parse_table};
use crate::dialect::{BusyRequest, ClientTarget, Dialect, Mount, Mounted, PayerHooks, Schedule};
use crate::platform::PlatformKey;

pub const NAME: &str = "mmsp";
pub const TAG: DialectTag = DialectTag::new(NAME);

pub const SCHEDULE_QUICK: &str = "mmsp_quick";
pub const SCHEDULE_GATEWAY: &str = "mmsp_gateway";
pub const SCHEDULE_SCAN: &str = "mmsp_scan";

/// `[merchant.mmsp]` in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmspCredentials {
    pub merno: String,
    pub termno: String,
    pub md5_key: SecretString,
    /// AGENTNO: when set, its key signs instead of `md5_key` (the spec: the agent's key first).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub agent_no: Option<String>,
    #[serde(default)]
    pub agent_md5_key: Option<SecretString>,
    /// For payouts (a later issue): kept, not used yet.
    #[serde(default)]
    pub rsa_public_key: Option<String>,
}

fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
}

impl Credentials for MmspCredentials {
    const WIRE_ID: &'static str = "merno";
    fn wire_id(&self) -> String {
        self.merno.clone()
    }
    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        let mut secrets = vec![("md5_key", &self.md5_key)];
        if self.agent_no.is_some()
            && let Some(key) = &self.agent_md5_key
        {
            secrets.push(("agent_md5_key", key));
        }
        secrets
    }
}

pub type MmspMerchants = Merchants<MmspCredentials>;
pub type MmspMerchant = Registered<MmspCredentials>;

/// Reads the merchants; an `agent_no` without its key is refused by name.
fn load(tables: &[MerchantTable]) -> Result<MmspMerchants, String> {
    for t in tables {
        let c: MmspCredentials = parse_table(NAME, &t.merchant, &t.table)?;
        if c.agent_no.is_some() && c.agent_md5_key.is_none() {
            return Err(format!(
                "merchant {}: [merchant.mmsp] agent_no is set but agent_md5_key is not",
                t.merchant
            ));
        }
    }
    MmspMerchants::from_tables(NAME, tables)
}

/// The payer's side of mmsp's codes: the static code (1026) is Alipay's, its page offers
/// Alipay only.
struct MmspPayer;

#[async_trait]
impl PayerHooks for MmspPayer {
    fn wallets(&self, code: &PaymentCode) -> Vec<Wallet> {
        if code.code_ref == convert::STATIC_CODE_REF {
            vec![Wallet::Alipay]
        } else {
            vec![Wallet::WeChat, Wallet::Alipay, Wallet::UnionPay]
        }
    }

    /// `LIMIT_PAY=1` (是否限制信用卡交易): the wallet does not offer the payer's credit cards,
    /// as WeChat's `no_credit` and Alipay's `disable_pay_channels` do.
    fn accepts_funding(&self, order: &Order, funding: Funding) -> bool {
        !(funding == Funding::CreditCard && order.extra_str("LIMIT_PAY") == Some("1"))
    }
}

/// `[platform] rsa_private_key` (PEM, PKCS#8): 代付 (payouts, a later issue) decrypt with
/// it what merchants encrypt to its public key. Read and kept until then; nothing uses it
/// yet, so the demo has none and `paymux keys` prints nothing of it.
pub const PLATFORM_KEY: PlatformKey = PlatformKey {
    name: "rsa_private_key",
    purpose: "mmsp payouts: merchants encrypt to its public key (PEM, PKCS#8)",
    generate: None,
    public: None,
};

/// The mmsp dialect.
pub struct Mmsp;

#[async_trait]
impl Dialect for Mmsp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "mmsp (MMSP开放平台): scan pay, micropay, quick pay (SMS), gateway pay, queries, refunds"
    }

    fn secret_paths(&self) -> &'static [&'static str] {
        &["/mmsp/gateway/return/{merno}/{merorderid}/{token}"]
    }

    fn schedules(&self) -> &'static [Schedule] {
        &[
            Schedule {
                name: SCHEDULE_QUICK,
                delays_s: &[1, 5, 10, 30, 90, 180, 300],
            },
            Schedule {
                name: SCHEDULE_GATEWAY,
                delays_s: &[1, 5, 10, 30, 90, 180, 300],
            },
            Schedule {
                name: SCHEDULE_SCAN,
                delays_s: &[15, 15, 30, 180, 1800, 1800, 1800, 1800, 1800, 3600],
            },
        ]
    }

    fn platform_keys(&self) -> &'static [PlatformKey] {
        &[PLATFORM_KEY]
    }

    fn check(&self, merchants: &[MerchantTable]) -> Result<(), String> {
        load(merchants).map(drop)
    }

    fn mount(&self, merchants: &[MerchantTable], mount: &Mount) -> Result<Mounted, String> {
        let merchants = Arc::new(load(merchants)?);
        Ok(Mounted {
            router: router(MmspState {
                gateway: mount.gateway.clone(),
                merchants: merchants.clone(),
                public_url: mount.public_url.clone(),
                links: mount.links.clone(),
                sandbox: mount.sandbox,
            }),
            notifications: Some(Arc::new(MmspNotifications { merchants })),
            payer: Some(Arc::new(MmspPayer)),
        })
    }

    /// The negative reply, echoing the request's header when its body had arrived.
    fn busy(&self, request: &BusyRequest<'_>) -> Response {
        let header = request
            .body
            .and_then(|body| codec::decode_gateway(body).ok())
            .map(|received| received.header);
        routes::negative(header.as_ref(), &error::MmspError::Busy)
    }

    fn demo_table(&self, random_hex: &mut dyn FnMut(usize) -> String) -> String {
        format!(
            "merno = \"001440353999853\"\ntermno = \"84970001\"\nmd5_key = \"{}\"\n",
            random_hex(16)
        )
    }

    fn describe(&self, merchant: &MerchantTable, _public_url: &str, client: &str) -> Vec<String> {
        let Ok(m) = parse_table::<MmspCredentials>(NAME, &merchant.merchant, &merchant.table)
        else {
            return Vec::new();
        };
        vec![
            format!(
                "mmsp     MERNO={} TERMNO={} md5_key={}",
                m.merno,
                m.termno,
                m.md5_key.expose_secret()
            ),
            format!("  try:   {client} mmsp scan --product wechat --amt 1"),
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

#[cfg(test)]
mod tests {
    use paymux_core::ids::MerchantId;

    use super::*;

    fn table(text: &str) -> MerchantTable {
        MerchantTable {
            merchant: MerchantId::new("demo"),
            table: toml::from_str(text).expect("toml"),
        }
    }

    #[test]
    fn the_design_table_reads_and_an_agent_needs_its_key() {
        let design = table(
            "merno = \"001440353999853\"\ntermno = \"84970001\"\nmd5_key = \"k1\"\n\
             agent_no = \"\"\nagent_md5_key = \"\"\nrsa_public_key = \"<PEM>\"\n",
        );
        let merchants = load(&[design]).expect("DESIGN.md's table");
        let m = merchants.by_wire_id("001440353999853").expect("by MERNO");
        assert_eq!(m.credentials.agent_no, None, "an empty AGENTNO is none");
        let err = load(&[table(
            "merno = \"1\"\ntermno = \"2\"\nmd5_key = \"k1\"\nagent_no = \"A1\"\n",
        )])
        .unwrap_err();
        assert!(err.contains("agent_md5_key"), "{err}");
        let err = load(&[table(
            "merno = \"1\"\ntermno = \"2\"\nmd5_key = \"k1\"\nagent_no = \"A1\"\nagent_md5_key = \"…\"\n",
        )])
        .unwrap_err();
        assert!(err.contains("agent_md5_key"), "{err}");
        let err = load(&[table(
            "merno = \"1\"\ntermno = \"2\"\nmd5_key = \"changeme\"\n",
        )])
        .unwrap_err();
        assert!(err.contains("md5_key"), "{err}");
    }
}
