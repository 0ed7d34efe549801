//! chinaums' refusals: §2.1's error codes, spelled as the spec spells them
//! (`INVLID_MERCHANT_CONFIG` included), each with an `errMsg` that names the field or the
//! reason. The reply itself is built in `routes.rs` (it echoes the request's fields).

use crate::common::{FieldError, FieldProblem, NUL_REFUSED};

#[derive(Debug, thiserror::Error)]
pub enum ChinaumsError {
    /// The message is malformed: a field missing, too long, of the wrong form.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NoOrder(String),
    #[error("{0}")]
    DupOrder(String),
    /// The Authorization header is missing, malformed, or does not verify; or its nonce
    /// was used before (a replay).
    #[error("{0}")]
    BadSign(String),
    #[error("{0}")]
    OperationNotAllowed(String),
    /// Another operation on the order is under way: try again shortly.
    #[error("{0}")]
    OrderProcessing(String),
    #[error("{0}")]
    NoMerchant(String),
    #[error("商户已被冻结")]
    InactiveMerchant,
    #[error("{0}")]
    AbnormalRequestTime(String),
    #[error("{0}")]
    InvalidMsgSrc(String),
    #[error("{0}")]
    NoService(String),
    #[error("{0}")]
    InvalidMerchantConfig(String),
    /// The payment channel refused.
    #[error("{0}")]
    TargetFail(String),
    /// The gateway is at its limits (too many requests, or this one took too long).
    #[error("系统负载过大,请求被丢弃,请稍后再试")]
    TxnDiscarded,
    #[error("内部错误")]
    Internal(String),
}

impl ChinaumsError {
    /// The reply's `errCode`.
    pub fn code(&self) -> &'static str {
        match self {
            ChinaumsError::BadRequest(_) => "BAD_REQUEST",
            ChinaumsError::NoOrder(_) => "NO_ORDER",
            ChinaumsError::DupOrder(_) => "DUP_ORDER",
            ChinaumsError::BadSign(_) => "BAD_SIGN",
            ChinaumsError::OperationNotAllowed(_) => "OPERATION_NOT_ALLOWED",
            ChinaumsError::OrderProcessing(_) => "ORDER_PROCESSING",
            ChinaumsError::NoMerchant(_) => "NO_MERCHANT",
            ChinaumsError::InactiveMerchant => "INACTIVE_MERCHANT",
            ChinaumsError::AbnormalRequestTime(_) => "ABNORMAL_REQUEST_TIME",
            ChinaumsError::InvalidMsgSrc(_) => "INVALID_MSGSRC",
            ChinaumsError::NoService(_) => "NO_SERVICE",
            ChinaumsError::InvalidMerchantConfig(_) => "INVLID_MERCHANT_CONFIG",
            ChinaumsError::TargetFail(_) => "TARGET_FAIL",
            ChinaumsError::TxnDiscarded => "TXN_DISCARDED",
            ChinaumsError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// A malformed field, named.
    pub fn field(field: &str, reason: impl std::fmt::Display) -> ChinaumsError {
        ChinaumsError::BadRequest(format!("{field}{reason}"))
    }

    pub fn missing(field: &str) -> ChinaumsError {
        ChinaumsError::BadRequest(format!("缺少{field}"))
    }
}

impl From<FieldError> for ChinaumsError {
    fn from(e: FieldError) -> ChinaumsError {
        match e.problem {
            FieldProblem::Missing => ChinaumsError::missing(e.field),
            FieldProblem::TooLong(max) => {
                ChinaumsError::field(e.field, format!("长度不能超过{max}"))
            }
            FieldProblem::Nul => ChinaumsError::field(e.field, NUL_REFUSED),
            FieldProblem::NotText => ChinaumsError::field(e.field, "须为字符串或数值"),
            FieldProblem::Invalid(reason) => ChinaumsError::field(e.field, reason),
        }
    }
}

impl From<paymux_core::Error> for ChinaumsError {
    fn from(e: paymux_core::Error) -> ChinaumsError {
        use paymux_core::Error as E;
        match e {
            E::InvalidField { field, reason } => ChinaumsError::field(field, format!(":{reason}")),
            E::DuplicateOrderNo => ChinaumsError::DupOrder("账单号billNo已存在".into()),
            E::OrderNotFound => ChinaumsError::NoOrder("找不到账单".into()),
            E::OrderNotPayable(status) => {
                ChinaumsError::OperationNotAllowed(format!("账单{},不能支付", status_label(status)))
            }
            E::OrderAlreadyPaid => ChinaumsError::OperationNotAllowed("账单已支付".into()),
            E::OrderNotRefundable(status) => ChinaumsError::OperationNotAllowed(format!(
                "账单{},不能执行退货等操作",
                status_label(status)
            )),
            E::RefundExceedsPaid { refundable } => ChinaumsError::field(
                "refundAmount",
                format!("超过可退金额{}分", refundable.get()),
            ),
            E::DuplicateRefundNo | E::RequestNoConflict => {
                ChinaumsError::DupOrder("退款订单号refundOrderId已用于另一笔退款".into())
            }
            E::RefundNotFound => ChinaumsError::NoOrder("找不到退款".into()),
            E::DuplicateCodeRef => ChinaumsError::DupOrder("二维码ID qrCodeId已存在".into()),
            E::CodeNotFound => ChinaumsError::NoOrder("找不到二维码".into()),
            E::CodeNotUsable => ChinaumsError::OperationNotAllowed("二维码已关闭或已过期".into()),
            E::AnotherTryPaying => {
                ChinaumsError::OrderProcessing("账单正在支付中,请稍后再试".into())
            }
            E::NotInEscrow => ChinaumsError::OperationNotAllowed("不是已支付的担保交易".into()),
            E::EscrowSettled(status) => ChinaumsError::OperationNotAllowed(format!(
                "担保交易已{},不能再次操作",
                match status {
                    paymux_core::order::EscrowStatus::Canceled => "撤销",
                    _ => "完成",
                }
            )),
            E::EscrowNotCompleted(status) => ChinaumsError::OperationNotAllowed(format!(
                "担保交易{},不能退货",
                match status {
                    paymux_core::order::EscrowStatus::Canceled => "已撤销",
                    _ => "未完成",
                }
            )),
            E::CompletionExceedsPaid => ChinaumsError::field("completedAmount", "超过支付金额"),
            E::ChannelRefused { code, msg } => ChinaumsError::TargetFail(format!("{code}:{msg}")),
            E::Busy => ChinaumsError::TxnDiscarded,
            E::Contention => ChinaumsError::OrderProcessing("订单正在处理中,请稍后再试".into()),
            other => ChinaumsError::Internal(other.to_string()),
        }
    }
}

/// An order's status in the words of the replies.
fn status_label(status: paymux_core::order::OrderStatus) -> &'static str {
    use paymux_core::order::OrderStatus as S;
    match status {
        S::Created => "未支付",
        S::Paying => "支付中",
        S::Succeeded => "已支付",
        S::Failed => "支付失败",
        S::Closed => "已关闭",
        S::PartiallyRefunded => "已部分退款",
        S::Refunded => "已全额退款",
    }
}

#[cfg(test)]
mod tests {
    use paymux_core::order::{EscrowStatus, OrderStatus};
    use paymux_core::{Error, Fen};

    use super::*;

    #[test]
    fn core_errors_map_to_the_codes_the_spec_means() {
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::invalid("expireTime", "must be in the future"),
                "BAD_REQUEST",
            ),
            (Error::DuplicateOrderNo, "DUP_ORDER"),
            (Error::OrderNotFound, "NO_ORDER"),
            (
                Error::OrderNotRefundable(OrderStatus::Closed),
                "OPERATION_NOT_ALLOWED",
            ),
            (
                Error::RefundExceedsPaid {
                    refundable: Fen::new(3).unwrap(),
                },
                "BAD_REQUEST",
            ),
            (Error::RequestNoConflict, "DUP_ORDER"),
            (Error::CodeNotFound, "NO_ORDER"),
            (Error::AnotherTryPaying, "ORDER_PROCESSING"),
            (
                Error::EscrowNotCompleted(EscrowStatus::Uncompleted),
                "OPERATION_NOT_ALLOWED",
            ),
            (
                Error::ChannelRefused {
                    code: "X".into(),
                    msg: "y".into(),
                },
                "TARGET_FAIL",
            ),
            (Error::Busy, "TXN_DISCARDED"),
            (Error::Contention, "ORDER_PROCESSING"),
        ];
        for (error, code) in cases {
            let text = error.to_string();
            assert_eq!(ChinaumsError::from(error).code(), code, "{text}");
        }
        assert_eq!(
            ChinaumsError::from(Error::RefundExceedsPaid {
                refundable: Fen::new(3).unwrap()
            })
            .to_string(),
            "refundAmount超过可退金额3分"
        );
    }
}
