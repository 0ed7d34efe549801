//! hrss refusals: the public return codes of §3.5.1.6 (`code`, `msg`, `sub_code`,
//! `sub_msg`, no `biz_data`), and business failures, which are served calls (`code` 1)
//! whose `biz_data.code` is "0" with a `message` saying why.
//!
//! No message here ever quotes a request's value: a field is named, never shown, so an ID
//! number or a key cannot reach a reply or a log through an error.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::crypto::{SignatureError, USER_ID};
use super::wire::Reply;
use crate::common::{FieldError, FieldProblem, NUL_REFUSED, tag};

/// A served call that did not do what it asked, and what stands instead (the refund that
/// already has this mchRefundId, the paid order that cannot be closed).
#[derive(Debug, Clone, PartialEq)]
pub struct BizFailure {
    pub message: String,
    pub data: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum HrssError {
    /// -101: a required parameter (public or business) is absent or empty.
    #[error("缺少{0}参数")]
    Missing(String),
    /// -102: a parameter is malformed; `reason` says how, without its value.
    #[error("{field}参数格式异常{}", reason.as_deref().map(|r| format!(":{r}")).unwrap_or_default())]
    Invalid {
        field: String,
        reason: Option<String>,
    },
    /// -103: no such service here (an unknown serviceKey or version, a context that is
    /// not the merchant's, a §4.4 static code: not open yet).
    #[error("服务未定义或已下线{}", .0.as_deref().map(|r| format!(":{r}")).unwrap_or_default())]
    UnknownService(Option<String>),
    /// -103: the gateway is too busy; the same call may succeed a moment later.
    #[error("服务器繁忙")]
    Busy,
    /// -104: no merchant has this access_key.
    #[error("接入系统不存在或已被禁用")]
    UnknownAccessKey,
    /// -105, saying why when paymux can tell (the empty user ID, an unreadable `sign`).
    #[error("数字证书签名验证失败{}", signature_hint(*.0))]
    BadSignature(SignatureError),
    /// -200: the appid is not the access system's.
    #[error("无访问交易服务{}", .0.as_deref().map(|r| format!(":{r}")).unwrap_or_default())]
    NoPermission(Option<String>),
    /// -300: logged with its cause, answered without it.
    #[error("服务内部运行错误")]
    Internal(String),
    /// Code 1, biz_data.code "0".
    #[error("{}", .0.message)]
    Business(BizFailure),
}

impl HrssError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> HrssError {
        HrssError::Invalid {
            field: field.into(),
            reason: Some(reason.into()),
        }
    }

    pub fn malformed(field: impl Into<String>) -> HrssError {
        HrssError::Invalid {
            field: field.into(),
            reason: None,
        }
    }

    pub fn business(message: impl Into<String>) -> HrssError {
        HrssError::Business(BizFailure {
            message: message.into(),
            data: None,
        })
    }

    pub fn business_with(message: impl Into<String>, data: Value) -> HrssError {
        HrssError::Business(BizFailure {
            message: message.into(),
            data: Some(data),
        })
    }

    /// `code`, `msg` and `sub_code` of §3.5.1.6.
    pub fn codes(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            HrssError::Missing(_) => ("-101", "缺少必要参数", "check.param.missing"),
            HrssError::Invalid { .. } => ("-102", "参数格式异常", "check.param.invalid"),
            HrssError::UnknownService(_) => ("-103", "服务不可用", "check.service.undefine"),
            HrssError::Busy => ("-103", "服务不可用", "check.service.server_busy"),
            HrssError::UnknownAccessKey => ("-104", "访问受限", "check.system.forbidden"),
            HrssError::BadSignature(_) => ("-105", "认证失败", "check.aop.invalid_sign"),
            HrssError::NoPermission(_) => {
                ("-200", "权限不足", "auth.insufficient.service_permissions")
            }
            HrssError::Internal(_) => ("-300", "运行错误", "run.error.internal"),
            HrssError::Business(_) => ("1", super::wire::SUCCESS_MSG, ""),
        }
    }

    /// The reply of a refusal that has no business data to carry.
    pub fn reply(&self) -> Reply {
        if let HrssError::Internal(cause) = self {
            tracing::error!(%cause, "hrss request failed");
        }
        let (code, msg, sub_code) = self.codes();
        Reply {
            code: code.into(),
            msg: msg.into(),
            sub_code: sub_code.into(),
            sub_msg: self.to_string(),
            biz_data: None,
        }
    }
}

/// The -105 `sub_msg`'s tail: none for a plain mismatch (a forgery learns nothing).
fn signature_hint(e: SignatureError) -> String {
    match e {
        SignatureError::Mismatch => String::new(),
        SignatureError::Unreadable => ":sign须为base64或十六进制的DER或64字节r‖s".into(),
        SignatureError::EmptyUserId => {
            format!(":签名使用了空的用户ID(OpenSSL的默认值),须为{USER_ID}")
        }
    }
}

impl From<FieldError> for HrssError {
    fn from(e: FieldError) -> HrssError {
        match e.problem {
            FieldProblem::Missing => HrssError::Missing(e.field.to_owned()),
            FieldProblem::TooLong(max) => HrssError::invalid(e.field, format!("长度不能超过{max}")),
            FieldProblem::Nul => HrssError::invalid(e.field, NUL_REFUSED),
            FieldProblem::NotText => HrssError::invalid(e.field, "须为字符串或数值"),
            FieldProblem::Invalid(reason) => HrssError::invalid(e.field, reason),
        }
    }
}

impl From<paymux_core::Error> for HrssError {
    fn from(e: paymux_core::Error) -> HrssError {
        use paymux_core::Error as E;
        match e {
            E::InvalidField { field, reason } => HrssError::invalid(field, reason),
            E::DuplicateOrderNo => HrssError::business("商户订单号已存在"),
            E::OrderNotFound => HrssError::business("订单不存在"),
            E::OrderAlreadyPaid => HrssError::business("订单已支付,不能关闭"),
            E::OrderNotPayable(status) => {
                HrssError::business(format!("订单状态为{status},不能支付"))
            }
            E::OrderNotRefundable(_) => HrssError::business("订单未支付成功或已全额退款,不能退款"),
            E::RefundExceedsPaid { refundable } => {
                HrssError::business(format!("退款金额超过可退金额,可退{}分", refundable.get()))
            }
            E::DuplicateRefundNo => HrssError::business("商户退款订单号已存在"),
            E::RequestNoConflict => HrssError::business("商户退款订单号已用于其他退款"),
            E::RefundNotFound => HrssError::business("退款不存在"),
            E::ChannelRefused { msg, .. } => HrssError::business(format!("支付渠道拒绝:{msg}")),
            E::Busy | E::Contention => HrssError::Busy,
            other => HrssError::Internal(other.to_string()),
        }
    }
}

/// One line of JSON, HTTP 200 whatever the code, as the gateway of the spec answers.
pub fn json_reply(reply: &Reply) -> Response {
    let ok = reply.code == "1" && reply.biz_data.as_ref().is_some_and(|b| b.code == "1");
    let body = serde_json::to_string(reply).unwrap_or_else(|_| {
        r#"{"code":"-300","msg":"运行错误","sub_code":"run.error.internal","sub_msg":"服务内部运行错误"}"#
            .to_owned()
    });
    let response = ([(CONTENT_TYPE, "application/json;charset=UTF-8")], body).into_response();
    tag(response, super::NAME, ok)
}

impl IntoResponse for HrssError {
    fn into_response(self) -> Response {
        json_reply(&self.reply())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_codes_of_the_table_and_name_the_parameter() {
        let reply = HrssError::Missing("access_key".into()).reply();
        assert_eq!(
            (
                reply.code.as_str(),
                reply.msg.as_str(),
                reply.sub_code.as_str(),
                reply.sub_msg.as_str()
            ),
            (
                "-101",
                "缺少必要参数",
                "check.param.missing",
                "缺少access_key参数"
            )
        );
        assert_eq!(
            HrssError::malformed("timestamp").reply().sub_msg,
            "timestamp参数格式异常"
        );
        assert_eq!(
            HrssError::invalid("timestamp", "与平台时间相差超过300秒")
                .reply()
                .sub_msg,
            "timestamp参数格式异常:与平台时间相差超过300秒"
        );
        assert_eq!(
            HrssError::UnknownService(None).reply().sub_msg,
            "服务未定义或已下线"
        );
        assert_eq!(HrssError::Busy.codes().2, "check.service.server_busy");
        // -105 says why when paymux can tell, and nothing for a plain mismatch.
        let refused = |e| {
            let reply = HrssError::BadSignature(e).reply();
            assert_eq!(reply.code, "-105");
            assert_eq!(reply.sub_code, "check.aop.invalid_sign");
            reply.sub_msg
        };
        assert_eq!(refused(SignatureError::Mismatch), "数字证书签名验证失败");
        assert_eq!(
            refused(SignatureError::EmptyUserId),
            "数字证书签名验证失败:签名使用了空的用户ID(OpenSSL的默认值),须为1234567812345678"
        );
        assert_eq!(
            refused(SignatureError::Unreadable),
            "数字证书签名验证失败:sign须为base64或十六进制的DER或64字节r‖s"
        );
        assert_eq!(
            HrssError::Internal("disk on fire".into()).reply().sub_msg,
            "服务内部运行错误"
        );
    }
}
