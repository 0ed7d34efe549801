//! mmsp's refusals, in the two places the spec puts them:
//!
//! - [`MmspError`]: the frame or the request cannot be served at all. The unified negative
//!   reply (CommandID 32768, RetCode 0, `ErrorMsg` `[-NNNN] text`, Body and Sign `""`),
//!   unsigned. The spec names `[-2002] 没有该订单` and `[-3005] 交易金额不符`; the other codes
//!   are paymux's (listed in `mod.rs`).
//! - [`Refusal`]: a served request whose business outcome is a refusal (the spec's
//!   STATUS 2 with ERR_CODE/ERRCODE and a message), in a signed positive reply.

use crate::common::{FieldError, FieldProblem, NUL_REFUSED};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MmspError {
    #[error("报文格式错误:{0}")]
    Malformed(String),
    #[error("不支持的命令字{0}")]
    UnknownCommand(i64),
    #[error("商户不存在")]
    UnknownMerchant,
    #[error("终端号错误")]
    UnknownTerminal,
    #[error("代理商编号错误")]
    UnknownAgent,
    #[error("签名错误")]
    BadSignature,
    #[error("缺少参数{0}")]
    MissingField(&'static str),
    #[error("参数{field}格式错误:{reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("参数{0}格式错误:须为字符串或数值")]
    NotText(String),
    #[error("暂未开通")]
    NotOpen,
    #[error("商户订单号重复")]
    DuplicateOrderNo,
    #[error("没有该订单")]
    OrderNotFound,
    #[error("没有该退款")]
    RefundNotFound,
    #[error("绑卡信息不存在")]
    BindingNotFound,
    #[error("交易金额不符")]
    AmountMismatch,
    #[error("系统繁忙,请稍后再试")]
    Busy,
    #[error("系统错误")]
    Internal(String),
}

impl MmspError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> MmspError {
        MmspError::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// The `NNNN` of `[-NNNN]`.
    pub fn code(&self) -> i32 {
        match self {
            MmspError::Malformed(_) => 1001,
            MmspError::UnknownCommand(_) => 1002,
            MmspError::UnknownMerchant => 1003,
            MmspError::UnknownTerminal => 1004,
            MmspError::UnknownAgent => 1005,
            MmspError::BadSignature => 1006,
            MmspError::MissingField(_) => 1007,
            MmspError::InvalidField { .. } | MmspError::NotText(_) => 1008,
            MmspError::NotOpen => 1009,
            MmspError::DuplicateOrderNo => 2001,
            MmspError::OrderNotFound => 2002,
            MmspError::RefundNotFound => 2003,
            MmspError::BindingNotFound => 2004,
            MmspError::AmountMismatch => 3005,
            MmspError::Busy => 9998,
            MmspError::Internal(_) => 9999,
        }
    }
}

impl From<FieldError> for MmspError {
    fn from(e: FieldError) -> MmspError {
        match e.problem {
            FieldProblem::Missing => MmspError::MissingField(e.field),
            FieldProblem::TooLong(max) => MmspError::invalid(e.field, format!("长度不能超过{max}")),
            FieldProblem::Nul => MmspError::invalid(e.field, NUL_REFUSED),
            FieldProblem::NotText => MmspError::NotText(e.field.to_owned()),
            FieldProblem::Invalid(reason) => MmspError::invalid(e.field, reason),
        }
    }
}

/// A business refusal: STATUS (2, or 0 for an empty batch), a code and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: &'static str,
    pub code: &'static str,
    pub msg: String,
}

impl Refusal {
    pub fn new(code: &'static str, msg: impl Into<String>) -> Refusal {
        Refusal {
            status: "2",
            code,
            msg: msg.into(),
        }
    }
}

/// The body codes: the spec's AA (用户支付中) and D4 (订单已关闭, and 要素不匹配 for
/// quick pay), and paymux's own for what the spec leaves unnamed.
pub mod codes {
    pub const PAYING: &str = "AA";
    pub const CLOSED: &str = "D4";
    pub const ALREADY_PAID: &str = "3001";
    pub const TOO_EARLY: &str = "3002";
    pub const REFUND_EXCEEDS: &str = "3003";
    pub const NOT_PAID: &str = "3004";
    pub const REFUND_NO_REUSED: &str = "3006";
    pub const WRONG_CODE: &str = "3007";
    pub const CODE_EXPIRED: &str = "3008";
    pub const RESEND_TOO_SOON: &str = "3009";
    pub const BINDING_NOT_ACTIVE: &str = "3010";
    pub const REFUND_FAILED: &str = "3011";
    pub const NO_DATA: &str = "3012";
    pub const CHANNEL: &str = "3013";
    pub const TOO_MANY_CODES: &str = "3014";
    pub const BOUND_ORDER: &str = "3015";
}

/// What a command can come to besides its reply: a negative reply, or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Negative(MmspError),
    Refused(Refusal),
}

impl From<MmspError> for Failure {
    fn from(e: MmspError) -> Failure {
        Failure::Negative(e)
    }
}

impl From<FieldError> for Failure {
    fn from(e: FieldError) -> Failure {
        Failure::Negative(e.into())
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Refused(r)
    }
}

/// The core's errors: not found and malformed are negative replies; what a served order
/// cannot do is a refusal.
impl From<paymux_core::Error> for Failure {
    fn from(e: paymux_core::Error) -> Failure {
        use paymux_core::Error as E;
        match e {
            E::InvalidField { field, reason } => MmspError::invalid(field, reason).into(),
            E::DuplicateOrderNo => MmspError::DuplicateOrderNo.into(),
            E::OrderNotFound => MmspError::OrderNotFound.into(),
            E::RefundNotFound => MmspError::RefundNotFound.into(),
            E::BindingNotFound => MmspError::BindingNotFound.into(),
            E::Busy => MmspError::Busy.into(),
            E::OrderAlreadyPaid => Refusal::new(codes::ALREADY_PAID, "订单已支付").into(),
            E::OrderNotPayable(_) => Refusal::new(codes::CLOSED, "订单已关闭").into(),
            E::OrderNotRefundable(_) => Refusal::new(codes::NOT_PAID, "订单未支付,不能退款").into(),
            E::RefundExceedsPaid { refundable } => Refusal::new(
                codes::REFUND_EXCEEDS,
                format!("退款金额超过可退金额{}分", refundable.get()),
            )
            .into(),
            E::DuplicateRefundNo | E::RequestNoConflict => {
                Refusal::new(codes::REFUND_NO_REUSED, "退款单号已用于其他退款").into()
            }
            E::WrongCode { tries_left } => Refusal::new(
                codes::WRONG_CODE,
                format!("验证码错误,还可尝试{tries_left}次"),
            )
            .into(),
            E::CodeExpired => Refusal::new(codes::CODE_EXPIRED, "验证码已失效,请重新获取").into(),
            E::NoCodeSent => Refusal::new(codes::CODE_EXPIRED, "未发送验证码,请重新获取").into(),
            E::ResendTooSoon { wait_s } => Refusal::new(
                codes::RESEND_TOO_SOON,
                format!("60秒内只能重发一次,请{wait_s}秒后再试"),
            )
            .into(),
            E::TooManyCodes => {
                Refusal::new(codes::TOO_MANY_CODES, "验证码发送次数已达上限,请重新下单").into()
            }
            E::CardDetailsMismatch => Refusal::new(codes::CLOSED, "要素不匹配").into(),
            E::BindingNotActive => {
                Refusal::new(codes::BINDING_NOT_ACTIVE, "绑卡未生效:首笔支付未完成").into()
            }
            E::TooEarly { wait_s } => Refusal::new(
                codes::TOO_EARLY,
                format!("请在下单15秒后再撤销,{wait_s}秒后再试"),
            )
            .into(),
            E::ChannelRefused { msg, .. } => Refusal::new(codes::CHANNEL, msg).into(),
            other => MmspError::Internal(other.to_string()).into(),
        }
    }
}
