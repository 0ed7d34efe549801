//! mmsp messages, spelled as the spec spells them: the frame's header (§3.1 消息头格式 of each
//! part), the command numbers (§3.2.1), and one type per Body.
//!
//! The spec types every Body field `string`; merchants send numbers as JSON numbers as often
//! as strings, so every request field is read as text (a number by its exact JSON text).
//! What paymux writes is strings, except where the spec says `int` (the scan push's `AMT`,
//! the quick notification's `PUSH_COUNT`).

use serde::{Deserialize, Serialize};

pub use crate::common::{Params, from_params, read_params, to_params, value_text};

pub const VERSION: &str = "1.0.0";
/// 统一否定应答.
pub const NEGATIVE: i64 = 0x8000;

/// §3.2.1 of the three parts. A reply's CommandID is the request's + 0x8000.
pub mod command {
    // 扫码 (scan)
    pub const WECHAT_NATIVE: i64 = 2306;
    pub const WECHAT_MICROPAY: i64 = 2307;
    pub const ALIPAY_NATIVE: i64 = 2308;
    pub const ALIPAY_MICROPAY: i64 = 2309;
    pub const QUERY: i64 = 2310;
    pub const CANCEL: i64 = 2311;
    pub const REFUND: i64 = 2312;
    pub const REFUND_QUERY: i64 = 2313;
    pub const CLOSE: i64 = 2314;
    pub const WECHAT_H5: i64 = 2321;
    /// 推送支付结果: the platform's request to the merchant.
    pub const SCAN_PUSH: i64 = 2324;
    pub const QQ_NATIVE: i64 = 2325;
    /// QQ micropay as the table numbers it (0x0308); its reply is 0x8916.
    pub const QQ_MICROPAY: i64 = 776;
    /// QQ micropay as its reply's number implies (0x8916 − 0x8000).
    pub const QQ_MICROPAY_ALT: i64 = 2326;
    /// The reply of QQ micropay, as tabled.
    pub const QQ_MICROPAY_REPLY: i64 = 35094;
    pub const UNIONPAY_NATIVE: i64 = 1025;
    pub const ALIPAY_STATIC: i64 = 1026;
    pub const ALIPAY_DYNAMIC: i64 = 1027;
    pub const ALIPAY_H5: i64 = 1030;
    pub const JD_NATIVE: i64 = 1031;
    // 快捷 (quick)
    pub const QUICK_PAY: i64 = 771;
    pub const QUICK_CONFIRM: i64 = 772;
    pub const QUICK_QUERY: i64 = 773;
    pub const BIND_CARD: i64 = 774;
    pub const UNBIND_CARD: i64 = 775;
    pub const BINDING_QUERY: i64 = 776;
    pub const QUICK_BATCH: i64 = 777;
    pub const QUICK_RESEND: i64 = 778;
    pub const BOUND_PAY: i64 = 779;
    pub const BOUND_SMS: i64 = 780;
    pub const BIND_SMS: i64 = 781;
    pub const UNIONPAY_QUICK: i64 = 783;
    /// 快捷支付异步通知.
    pub const QUICK_NOTICE: i64 = 35104;
    // 网关 (gateway)
    pub const GATEWAY_PAY: i64 = 2322;
    pub const GATEWAY_QUERY: i64 = 2323;
    pub const GATEWAY_BATCH: i64 = 782;
    /// 网关支付异步通知.
    pub const GATEWAY_NOTICE: i64 = 35090;
}

/// The reply's CommandID for a request's.
pub fn reply_command(request: i64) -> i64 {
    match request {
        command::QQ_MICROPAY | command::QQ_MICROPAY_ALT => command::QQ_MICROPAY_REPLY,
        other => other + NEGATIVE,
    }
}

/// The frame's header, as received (values keep their JSON types so that a reply can echo
/// them). `MERNO` is also read from the spec's typos `MERNNO`, `MERN0` and `MEORDERID`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub command_id: Option<i64>,
    pub seq_id: Option<serde_json::Value>,
    pub node_type: Option<serde_json::Value>,
    pub node_id: Option<serde_json::Value>,
    pub version: Option<String>,
    pub agent_no: Option<String>,
    pub mer_no: Option<String>,
    pub term_no: Option<String>,
    pub ret_code: Option<i64>,
    /// `ErrorMsg`, or `ErrMsg` as some of the spec's examples spell it.
    pub error_msg: Option<String>,
    pub sign: Option<String>,
}

impl Header {
    pub fn read(frame: &Params) -> Header {
        let text = |name: &str| frame.get(name).and_then(value_text);
        let int = |name: &str| text(name).and_then(|t| t.trim().parse::<i64>().ok());
        Header {
            command_id: int("CommandID"),
            seq_id: frame.get("SeqID").cloned(),
            node_type: frame.get("NodeType").cloned(),
            node_id: frame.get("NodeID").cloned(),
            version: text("Version"),
            agent_no: text("AGENTNO"),
            mer_no: ["MERNO", "MERNNO", "MERN0", "MEORDERID"]
                .into_iter()
                .find_map(text),
            term_no: text("TERMNO"),
            ret_code: int("RetCode"),
            error_msg: text("ErrorMsg").or_else(|| text("ErrMsg")),
            sign: text("Sign"),
        }
    }
}

/// Every order of the scan part (§5–§9): the fields of all of them; each command reads the
/// ones it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanOrder {
    #[serde(
        rename = "TRADETYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_type: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "CUR",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cur: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "RANDSTR",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub randstr: Option<String>,
    #[serde(
        rename = "GOODSNAME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub goodsname: Option<String>,
    #[serde(
        rename = "NOTIFY_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        rename = "TIME_END",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_end: Option<String>,
    #[serde(
        rename = "IP",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ip: Option<String>,
    #[serde(
        rename = "JUMP_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub jump_url: Option<String>,
    #[serde(
        rename = "OPENID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub openid: Option<String>,
    #[serde(
        rename = "IS_RAW",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_raw: Option<String>,
    #[serde(
        rename = "ISTO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub isto: Option<String>,
    #[serde(
        rename = "LIMIT_PAY",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit_pay: Option<String>,
    #[serde(
        rename = "IS_MINIPG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_minipg: Option<String>,
    #[serde(
        rename = "SUP_APPID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sup_appid: Option<String>,
    #[serde(
        rename = "ALIPAY_USER_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub alipay_user_id: Option<String>,
    #[serde(
        rename = "ALIPAY_ACCOUNT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub alipay_account: Option<String>,
    /// The payer's code (micropay).
    #[serde(
        rename = "CODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
}

/// The reply to a scan order (§5.1.3, §5.2.3, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanOrderReply {
    #[serde(
        rename = "ORDERNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub orderno: Option<String>,
    #[serde(
        rename = "URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    #[serde(
        rename = "PAY_INFO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_info: Option<String>,
    #[serde(
        rename = "TRADETYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_type: Option<String>,
    #[serde(
        rename = "TRADETIME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_time: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "ERR_CODE_MSG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code_msg: Option<String>,
    #[serde(
        rename = "ERR_CODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code: Option<String>,
}

/// §10.3–§10.6: an order by ORDERNO or MERORDERID.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderRef {
    #[serde(
        rename = "ORDERNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub orderno: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "RANDSTR",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub randstr: Option<String>,
    /// §10.6 退款 only.
    #[serde(
        rename = "REFUND_MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_merorderid: Option<String>,
    /// §10.6 退款 only: the amount to refund.
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
}

/// §10.3.2, §10.4.2, §10.5.2: an order's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderState {
    #[serde(
        rename = "ORDERNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub orderno: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "TRADETIME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_time: Option<String>,
    #[serde(
        rename = "PAYTIME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_time: Option<String>,
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "TRADETYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_type: Option<String>,
    #[serde(
        rename = "ERR_CODE_MSG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code_msg: Option<String>,
    #[serde(
        rename = "ERR_CODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code: Option<String>,
}

/// §10.7 退款查询.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefundRef {
    #[serde(
        rename = "REFUND_ORDERNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_orderno: Option<String>,
    #[serde(
        rename = "REFUND_MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_merorderid: Option<String>,
    #[serde(
        rename = "RANDSTR",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub randstr: Option<String>,
}

/// §10.6.2, §10.7.2.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefundState {
    #[serde(
        rename = "REFUND_ORDERNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_orderno: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "REFUND_TIME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_time: Option<String>,
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "REFUND_MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_merorderid: Option<String>,
    #[serde(
        rename = "ERR_CODE_MSG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code_msg: Option<String>,
    #[serde(
        rename = "ERR_CODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub err_code: Option<String>,
}

/// §10.8 推送支付结果 (CommandID 2324): `AMT` is an int.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanPush {
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<i64>,
    #[serde(
        rename = "ORDERNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub orderno: Option<String>,
    #[serde(
        rename = "TRDETIME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trde_time: Option<String>,
    #[serde(
        rename = "PAYTIME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_time: Option<String>,
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "TRADETYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_type: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
}

/// Every request of the quick part (§5.3–§5.14): the fields of all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuickRequest {
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "LIST_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub list_id: Option<String>,
    #[serde(
        rename = "CARDNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cardno: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "CARDTYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cardtype: Option<String>,
    #[serde(
        rename = "EXPDATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expdate: Option<String>,
    #[serde(
        rename = "CVN2",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cvn2: Option<String>,
    #[serde(
        rename = "NAME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        rename = "ID_NO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_no: Option<String>,
    #[serde(
        rename = "PHONENO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub phoneno: Option<String>,
    #[serde(
        rename = "RANDSTR",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub randstr: Option<String>,
    #[serde(
        rename = "USER_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    #[serde(
        rename = "BIND_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bind_id: Option<String>,
    #[serde(
        rename = "MSG_CODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_code: Option<String>,
    #[serde(
        rename = "NOTIFY_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        rename = "JUMP_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub jump_url: Option<String>,
    #[serde(
        rename = "TRADE_MODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub trade_mode: Option<String>,
}

/// The replies of the quick part, and its notification (35104): the fields of all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuickReply {
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "ERRCODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub errcode: Option<String>,
    #[serde(
        rename = "ERRMSG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub errmsg: Option<String>,
    #[serde(
        rename = "USER_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    #[serde(
        rename = "BIND_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bind_id: Option<String>,
    #[serde(
        rename = "LIST_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub list_id: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "PAY_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_date: Option<String>,
    #[serde(
        rename = "NOTIFY_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_date: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "BANK_NAME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bank_name: Option<String>,
    #[serde(
        rename = "CARDNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cardno: Option<String>,
    #[serde(
        rename = "CARDTYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cardtype: Option<String>,
    /// The notification's attempt number (an int).
    #[serde(
        rename = "PUSH_COUNT",
        deserialize_with = "crate::common::integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub push_count: Option<i64>,
    #[serde(
        rename = "PAY_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_url: Option<String>,
    #[serde(
        rename = "HTML",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub html: Option<String>,
}

/// §5.9 / gateway §5.4 多笔批量查询.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchQuery {
    #[serde(
        rename = "START_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_date: Option<String>,
    #[serde(
        rename = "END_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_date: Option<String>,
    #[serde(
        rename = "PERPAGE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub perpage: Option<String>,
    #[serde(
        rename = "PAGE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub page: Option<String>,
}

/// One order of a batch query's `BIZ_CONTENT`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchItem {
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "LIST_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub list_id: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "PAY_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_date: Option<String>,
    #[serde(
        rename = "NOTIFY_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_date: Option<String>,
    #[serde(
        rename = "CARDNO",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cardno: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "CARDTYPE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cardtype: Option<String>,
    #[serde(
        rename = "BIND_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bind_id: Option<String>,
}

/// A batch query's reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchReply {
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "ERRCODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub errcode: Option<String>,
    #[serde(
        rename = "ERRMSG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub errmsg: Option<String>,
    #[serde(rename = "BIZ_CONTENT")]
    pub biz_content: Vec<BatchItem>,
    #[serde(
        rename = "PERPAGE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub perpage: Option<String>,
    #[serde(
        rename = "PAGE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub page: Option<String>,
    #[serde(
        rename = "TOTAL_NUM",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_num: Option<String>,
    #[serde(
        rename = "TOTAL_PAGE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_page: Option<String>,
}

/// Gateway §5.1 网关支付请求 and §5.3 单笔查询.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayRequest {
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "NOTIFY_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_url: Option<String>,
    #[serde(
        rename = "JUMP_URL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub jump_url: Option<String>,
    #[serde(
        rename = "PAY_CHANNEL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_channel: Option<String>,
    #[serde(
        rename = "GOODSNAME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub goodsname: Option<String>,
    #[serde(
        rename = "REMARK",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub remark: Option<String>,
    #[serde(
        rename = "RANDSTR",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub randstr: Option<String>,
}

/// Gateway §5.2 (notification), §5.3.3 (query reply), §5.5 (front-page return).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayResult {
    #[serde(
        rename = "STATUS",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        rename = "ERRCODE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub errcode: Option<String>,
    #[serde(
        rename = "ERRMSG",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub errmsg: Option<String>,
    #[serde(
        rename = "LIST_ID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub list_id: Option<String>,
    #[serde(
        rename = "MERORDERID",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merorderid: Option<String>,
    #[serde(
        rename = "AMT",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub amt: Option<String>,
    #[serde(
        rename = "GOODSNAME",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub goodsname: Option<String>,
    #[serde(
        rename = "PAY_CHANNEL",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_channel: Option<String>,
    #[serde(
        rename = "PAY_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub pay_date: Option<String>,
    #[serde(
        rename = "NOTIFY_DATE",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notify_date: Option<String>,
    #[serde(
        rename = "REMARK",
        deserialize_with = "crate::common::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub remark: Option<String>,
}

/// The fields the spec marks required (必须) in a command's reply, besides STATUS and the
/// error code and message: a refusal carries them too, echoed from the request where it
/// has them, else empty.
pub fn reply_fields(part: crate::mmsp::routes::Part, cmd: i64) -> &'static [&'static str] {
    use crate::mmsp::routes::Part;
    use command::*;
    match (part, cmd) {
        (
            Part::Scan,
            WECHAT_NATIVE | ALIPAY_NATIVE | QQ_NATIVE | ALIPAY_STATIC | ALIPAY_DYNAMIC,
        )
        | (Part::Scan, UNIONPAY_NATIVE | JD_NATIVE) => {
            &["ORDERNO", "URL", "TRADETYPE", "TRADETIME", "MERORDERID"]
        }
        (Part::Scan, WECHAT_H5 | ALIPAY_H5) => &["ORDERNO", "TRADETIME", "MERORDERID", "URL"],
        (Part::Scan, WECHAT_MICROPAY | ALIPAY_MICROPAY | QQ_MICROPAY | QQ_MICROPAY_ALT) => {
            &["ORDERNO", "TRADETIME", "MERORDERID"]
        }
        (Part::Scan, QUERY | CANCEL | CLOSE) => &[
            "ORDERNO",
            "AMT",
            "TRADETIME",
            "PAYTIME",
            "MERORDERID",
            "TRADETYPE",
        ],
        (Part::Scan, REFUND | REFUND_QUERY) => {
            &["REFUND_ORDERNO", "AMT", "REFUND_TIME", "REFUND_MERORDERID"]
        }
        (Part::Quick, QUICK_PAY) => &[
            "LIST_ID",
            "MERORDERID",
            "PAY_DATE",
            "NOTIFY_DATE",
            "AMT",
            "BANK_NAME",
            "CARDNO",
        ],
        (Part::Quick, QUICK_QUERY | UNBIND_CARD) => &[
            "LIST_ID",
            "MERORDERID",
            "PAY_DATE",
            "NOTIFY_DATE",
            "CARDNO",
            "AMT",
            "CARDTYPE",
        ],
        (Part::Quick, QUICK_RESEND) => &["LIST_ID"],
        (Part::Quick, BOUND_PAY) => &[
            "USER_ID",
            "BIND_ID",
            "LIST_ID",
            "MERORDERID",
            "PAY_DATE",
            "NOTIFY_DATE",
            "AMT",
            "BANK_NAME",
            "CARDNO",
        ],
        (Part::Quick, BOUND_SMS) => &["USER_ID", "LIST_ID", "MERORDERID", "CARDNO"],
        (Part::Quick, UNIONPAY_QUICK) => &[
            "LIST_ID",
            "MERORDERID",
            "PAY_DATE",
            "NOTIFY_DATE",
            "PAY_URL",
            "AMT",
        ],
        (Part::Gateway, GATEWAY_PAY | GATEWAY_QUERY) => &[
            "LIST_ID",
            "MERORDERID",
            "AMT",
            "PAY_CHANNEL",
            "PAY_DATE",
            "NOTIFY_DATE",
        ],
        _ => &[],
    }
}

/// Gateway §8.1.1: the bank channels, by code, all 20 rows of the table (its last,
/// HXB-NET-B2C, is the spec file's last line).
pub const BANKS: &[(&str, &str)] = &[
    ("YLBILL-NET-B2C", "银联"),
    ("ICBC-NET-B2C", "工商银行"),
    ("CMBCHINA-NET-B2C", "招商银行"),
    ("ABC-NET-B2C", "中国农业银行"),
    ("CCB-NET-B2C", "建设银行"),
    ("BCCB-NET-B2C", "北京银行"),
    ("BOCO-NET-B2C", "交通银行"),
    ("CIB-NET-B2C", "兴业银行"),
    ("CMBC-NET-B2C", "中国民生银行"),
    ("CEB-NET-B2C", "光大银行"),
    ("BOC-NET-B2C", "中国银行"),
    ("PINGANBANK-NET-B2C", "平安银行"),
    ("ECITIC-NET-B2C", "中信银行"),
    ("SDB-NET-B2C", "深圳发展银行"),
    ("GDB-NET-B2C", "广发银行"),
    ("SHB-NET-B2C", "上海银行"),
    ("SPDB-NET-B2C", "上海浦东发展银行"),
    ("POST-NET-B2C", "中国邮政"),
    ("BJRCB-NET-B2C", "北京农村商业银行"),
    ("HXB-NET-B2C", "华夏银行"),
];

/// The bank a §8.1 channel code names.
pub fn bank_of(code: &str) -> Option<&'static str> {
    BANKS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}
