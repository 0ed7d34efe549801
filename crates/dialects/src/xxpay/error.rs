//! xxpay's error replies: HTTP 200 with `{"retCode":"FAIL","resCode":"FAIL","retMsg":"…"}`,
//! unsigned, as xxpay-master answers (its clients read `resCode` beside `retCode`). Messages
//! follow the wording of the xxpay forks merchants know.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::{FieldError, FieldProblem, NUL_REFUSED, tag};

#[derive(Debug, thiserror::Error)]
pub enum XxpayError {
    #[error("请求参数格式错误,须为params字段中的JSON对象.")]
    Malformed,
    #[error("请求地址[{0}]不存在.")]
    UnknownPath(String),
    #[error("请求参数[{0}]不能为空.")]
    MissingField(&'static str),
    #[error("请求参数[{field}]{reason}.")]
    InvalidField { field: &'static str, reason: String },
    #[error("请求参数[{0}]格式错误,须为字符串或数值.")]
    NotText(String),
    #[error("商户不存在[mchId={0}].")]
    UnknownMerchant(String),
    #[error("应用不存在[appId={0}].")]
    UnknownApp(String),
    #[error("验证签名失败.")]
    BadSignature,
    #[error("支付产品不存在[productId={0}].")]
    UnknownProduct(String),
    #[error("不支持的支付渠道类型[channelId={0}].")]
    UnknownChannel(String),
    #[error("订单号[{0}]已存在.")]
    DuplicateOrderNo(String),
    #[error("支付订单不存在.")]
    OrderNotFound,
    #[error("订单已支付,不能关闭.")]
    OrderPaid,
    #[error("支付渠道下单失败[{0}].")]
    ChannelRefused(String),
    #[error("系统错误,请用相同参数重新调用.")]
    Internal(String),
    /// The gateway is at its limits (too many requests, or this one took too long).
    #[error("系统繁忙,请稍后再试.")]
    Busy,
}

impl XxpayError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> XxpayError {
        XxpayError::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

impl From<FieldError> for XxpayError {
    fn from(e: FieldError) -> XxpayError {
        match e.problem {
            FieldProblem::Missing => XxpayError::MissingField(e.field),
            FieldProblem::TooLong(max) => {
                XxpayError::invalid(e.field, format!("长度不能超过{max}"))
            }
            FieldProblem::Nul => XxpayError::invalid(e.field, NUL_REFUSED),
            FieldProblem::NotText => XxpayError::NotText(e.field.to_owned()),
            FieldProblem::Invalid(reason) => XxpayError::invalid(e.field, reason),
        }
    }
}

impl From<paymux_core::Error> for XxpayError {
    fn from(e: paymux_core::Error) -> XxpayError {
        use paymux_core::Error as E;
        match e {
            E::InvalidField { field, reason } => XxpayError::invalid(field, reason),
            E::OrderNotFound => XxpayError::OrderNotFound,
            E::OrderAlreadyPaid => XxpayError::OrderPaid,
            E::Busy => XxpayError::Busy,
            other => XxpayError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for XxpayError {
    fn into_response(self) -> Response {
        let body = match &self {
            XxpayError::Internal(cause) => {
                tracing::error!(%cause, "xxpay request failed");
                json!({"retCode": "FAIL", "resCode": "FAIL", "retMsg": self.to_string(), "errCode": "0010"})
            }
            // §4.2 0010: 系统超时或异常, call again with the same parameters.
            XxpayError::Busy => {
                json!({"retCode": "FAIL", "resCode": "FAIL", "retMsg": self.to_string(), "errCode": "0010"})
            }
            _ => json!({"retCode": "FAIL", "resCode": "FAIL", "retMsg": self.to_string()}),
        };
        let response = (
            [(CONTENT_TYPE, "application/json;charset=UTF-8")],
            body.to_string(),
        )
            .into_response();
        tag(response, "xxpay", false)
    }
}
