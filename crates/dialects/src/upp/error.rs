//! upp's refusals. Every reply, refusals included, has result/kind/msg/sign/version/
//! timestamp; a refusal has `result=false` and one of these kinds (listed in `mod.rs`).

use crate::common::{FieldError, FieldProblem, NUL_REFUSED};

#[derive(Debug, thiserror::Error)]
pub enum UppError {
    #[error("签名错误")]
    BadSignature,
    #[error("请求已过期:timestamp与平台时间相差超过{0}秒")]
    Stale(u64),
    #[error("缺少参数{0}")]
    MissingField(&'static str),
    #[error("参数{field}格式错误:{reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("ISV或商户不存在")]
    UnknownMerchant,
    #[error("版本号错误,应为1.0.0")]
    BadVersion,
    #[error("请求须为POST的JSON对象")]
    Malformed,
    #[error("接口不存在:{0}")]
    UnknownInterface(String),
    #[error("HIS支付流水{0}已存在")]
    DuplicatePaymentNo(String),
    #[error("支付流水不存在")]
    PaymentNotFound,
    #[error("{0}")]
    NotAllowed(String),
    #[error("退款金额超过可退金额{0}元")]
    RefundExceeds(String),
    #[error("HIS退款流水已存在")]
    DuplicateRefundNo,
    #[error("退款请求号已用于不同的退款参数")]
    RequestNoConflict,
    #[error("退款不存在")]
    RefundNotFound,
    #[error("付款码无效,无法识别支付渠道")]
    BadAuthCode,
    #[error("参数{0}格式错误:须为字符串或数值")]
    NotText(String),
    #[error("系统错误")]
    Internal(String),
    /// The gateway is at its limits (too many requests, or this one took too long).
    #[error("系统繁忙,请稍后再试")]
    Busy,
}

impl UppError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> UppError {
        UppError::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// The reply's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            UppError::BadSignature => "1001",
            UppError::Stale(_) => "1002",
            UppError::MissingField(_) => "1003",
            UppError::InvalidField { .. } => "1004",
            UppError::UnknownMerchant => "1005",
            UppError::BadVersion => "1006",
            UppError::Malformed | UppError::UnknownInterface(_) => "1007",
            UppError::DuplicatePaymentNo(_) => "2001",
            UppError::PaymentNotFound => "2002",
            UppError::NotAllowed(_) => "2003",
            UppError::RefundExceeds(_) => "2004",
            UppError::DuplicateRefundNo => "2005",
            UppError::RequestNoConflict => "2006",
            UppError::RefundNotFound => "2007",
            UppError::BadAuthCode => "2008",
            UppError::NotText(_) => "1004",
            UppError::Busy => "9998",
            UppError::Internal(_) => "9999",
        }
    }
}

impl From<FieldError> for UppError {
    fn from(e: FieldError) -> UppError {
        match e.problem {
            FieldProblem::Missing => UppError::MissingField(e.field),
            FieldProblem::TooLong(max) => UppError::invalid(e.field, format!("长度不能超过{max}")),
            FieldProblem::Nul => UppError::invalid(e.field, NUL_REFUSED),
            FieldProblem::NotText => UppError::NotText(e.field.to_owned()),
            FieldProblem::Invalid(reason) => UppError::invalid(e.field, reason),
        }
    }
}

impl From<paymux_core::Error> for UppError {
    fn from(e: paymux_core::Error) -> UppError {
        use paymux_core::Error as E;
        match e {
            E::InvalidField { field, reason } => UppError::invalid(field, reason),
            E::OrderNotFound => UppError::PaymentNotFound,
            E::OrderAlreadyPaid => UppError::NotAllowed("订单已支付,请调用退款接口".into()),
            E::OrderNotPayable(status) | E::OrderNotRefundable(status) => {
                UppError::NotAllowed(format!("订单状态为{status},不允许该操作"))
            }
            E::RefundExceedsPaid { refundable } => {
                UppError::RefundExceeds(refundable.to_yuan_string())
            }
            E::DuplicateRefundNo => UppError::DuplicateRefundNo,
            E::RequestNoConflict => UppError::RequestNoConflict,
            E::RefundNotFound => UppError::RefundNotFound,
            E::Busy => UppError::Busy,
            other => UppError::Internal(other.to_string()),
        }
    }
}
