//! §1.11: payment notifications, to the bill's `notifyUrl` and the merchant's configured
//! `notify_url` (one row each, each with its own stable `notifyId`). A POST of form fields
//! (`billPayment` and `extraBuyerInfo` as JSON text), every non-empty field of the table,
//! signed by §1.10.4 with `signType` always sent; acknowledged by a body of `SUCCESS`
//! (`FAILED`, or anything else, is tried again on the `chinaums` schedule).

use std::sync::Arc;

use paymux_core::Gateway;
use paymux_core::notification::{
    HttpMethod, Notification, NotificationEvent, NotificationFormat, NotificationSubject,
    OutgoingRequest,
};
use paymux_core::order::{Attempt, Order};
use secrecy::ExposeSecret;

use super::codec;
use super::convert::{self, CodeLinks};
use super::merchants::Directory;

/// What the notification and the return link sign with, and where codes' pages are.
#[derive(Clone)]
pub struct Signer {
    pub merchants: Arc<Directory>,
    pub gateway: Gateway,
    pub public_url: Arc<str>,
    pub links: paymux_core::links::PayerLinks,
}

impl Signer {
    /// A paid bill's signed result fields (`notify_id`: a notification's).
    pub fn result_fields(
        &self,
        order: &Order,
        paid: &Attempt,
        notify_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, String> {
        let merchant = self
            .merchants
            .of_merchant(&order.merchant_id)
            .ok_or_else(|| format!("merchant {} has no chinaums credentials", order.merchant_id))?;
        let c = &merchant.credentials;
        let name = self
            .gateway
            .merchant(&order.merchant_id)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let links = CodeLinks {
            public_url: &self.public_url,
            links: &self.links,
        };
        let mut fields = convert::result_fields(order, paid, &c.mid, &name, &links, notify_id);
        let sign_type = c.sign_type();
        fields.push(("signType".into(), sign_type.as_str().into()));
        let sign = codec::sign(
            &codec::form_string_to_sign(&fields),
            c.sign_key.expose_secret(),
            sign_type,
        );
        fields.push(("sign".into(), sign));
        Ok(fields)
    }
}

pub struct ChinaumsNotifications {
    pub signer: Signer,
}

impl NotificationFormat for ChinaumsNotifications {
    fn render(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
    ) -> Result<OutgoingRequest, String> {
        let (NotificationEvent::Pay, NotificationSubject::Bill { order, paid }) =
            (notification.event, subject)
        else {
            return Err(format!(
                "chinaums notifies bills' payments only, not this {} notification",
                notification.event.as_str()
            ));
        };
        let fields = self
            .signer
            .result_fields(order, paid, Some(notification.id.as_str()))?;
        Ok(OutgoingRequest {
            method: HttpMethod::Post,
            url: notification.url.as_str().to_owned(),
            content_type: Some("application/x-www-form-urlencoded;charset=UTF-8"),
            body: codec::encode_form(&fields).into_bytes(),
        })
    }

    /// `SUCCESS` acknowledges (surrounding white space aside); `FAILED` and anything else
    /// ask for the notification again.
    fn is_acknowledged(&self, body: &[u8]) -> bool {
        std::str::from_utf8(body).is_ok_and(|b| b.trim() == "SUCCESS")
    }

    fn schedule(
        &self,
        _notification: &Notification,
        _subject: &NotificationSubject,
    ) -> &'static str {
        super::NAME
    }
}
