//! §2.3: payment notifications to the merchant's `notifyUrl`. A POST of exactly the
//! §2.3.2 fields as form fields, signed like requests; acknowledged by an answer whose body
//! is `success` (trimmed, any case); retried after 60, 120, 180, 240 and 300 s. Orders made
//! with xxpay-master's `channelId` are notified in its fields instead, which its merchants'
//! handlers read and sign.

use std::sync::Arc;

use paymux_core::notification::{
    HttpMethod, Notification, NotificationEvent, NotificationFormat, NotificationSubject,
    OutgoingRequest,
};
use secrecy::ExposeSecret;

use super::XxpayMerchants;
use super::codec;
use super::convert;
use super::wire;

pub struct XxpayNotifications {
    pub merchants: Arc<XxpayMerchants>,
}

impl NotificationFormat for XxpayNotifications {
    fn render(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
    ) -> Result<OutgoingRequest, String> {
        let Some(order) = subject.paid_order() else {
            return Err(format!(
                "xxpay has no {} notification",
                notification.event.as_str()
            ));
        };
        if notification.event != NotificationEvent::Pay {
            return Err(format!(
                "xxpay has no {} notification",
                notification.event.as_str()
            ));
        }
        let merchant = self
            .merchants
            .of_merchant(&order.merchant_id)
            .ok_or_else(|| format!("merchant {} has no xxpay credentials", order.merchant_id))?;
        let credentials = &merchant.credentials;
        let mut params = if order.extra_str("channelId").is_some() {
            wire::to_params(&convert::legacy_pay_notification(
                order,
                &credentials.mch_id,
            ))
        } else {
            wire::to_params(&convert::pay_notification(
                order,
                &credentials.mch_id,
                &credentials.app_id,
            ))
        };
        let sign = codec::sign_params(&params, &["sign"], credentials.key.expose_secret());
        params.insert("sign".into(), serde_json::Value::String(sign));
        Ok(OutgoingRequest {
            method: HttpMethod::Post,
            url: notification.url.as_str().to_owned(),
            content_type: Some("application/x-www-form-urlencoded;charset=UTF-8"),
            body: codec::encode_form(&params).into_bytes(),
        })
    }

    /// The body alone decides (DESIGN.md): `success`, trimmed, in any case.
    fn is_acknowledged(&self, body: &[u8]) -> bool {
        std::str::from_utf8(body).is_ok_and(|b| b.trim().eq_ignore_ascii_case("success"))
    }

    fn schedule(
        &self,
        _notification: &Notification,
        _subject: &NotificationSubject,
    ) -> &'static str {
        "xxpay"
    }
}
