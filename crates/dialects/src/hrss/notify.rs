//! §5.2: payment notifications to the order's `notifyUrl`. A POST of the JSON object
//! `{"appId","mchId","data","sign"}`: `data` is §5.2.2's fields, SM4-encrypted with the
//! merchant's key (or the object itself in plaintext), and `sign` is the platform's SM2
//! signature over the top-level fields by the §3.5.1.3 rule (`appId=…&data=…&mchId=…`),
//! which merchants verify with the platform public key (`paymux keys hrss`).
//! Acknowledged by `{"isSuccess":"1"}`; retried on the `hrss` schedule (see `mod.rs`).
//! Bills made by static codes (§4.4) are notified the same way, to the address of the
//! merchant's order (§5.1 `notifyUrl`) or of the code, with the wallet the payer paid with.

use std::sync::Arc;

use paymux_core::notification::{
    HttpMethod, Notification, NotificationEvent, NotificationFormat, NotificationSubject,
    OutgoingRequest,
};
use serde_json::Value;

use super::HrssMerchants;
use super::codec;
use super::convert;
use super::crypto::PrivateKey;
use super::wire::{self, Params};

pub struct HrssNotifications {
    pub merchants: Arc<HrssMerchants>,
    /// `[platform] sm2_private_key`; `None` only when no merchant speaks hrss.
    pub platform_key: Option<Arc<PrivateKey>>,
}

impl NotificationFormat for HrssNotifications {
    fn render(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
    ) -> Result<OutgoingRequest, String> {
        // A bill (made by a static code) was paid through the try the payer chose: its
        // wallet is the wayCode.
        let (order, wallet) = match subject {
            NotificationSubject::Order(order) => (order, order.pay_way.wallet),
            NotificationSubject::Bill { order, paid } => (order, paid.pay_way.wallet),
            NotificationSubject::Refund { .. } => {
                return Err(format!(
                    "hrss has no {} notification",
                    notification.event.as_str()
                ));
            }
        };
        if notification.event != NotificationEvent::Pay {
            return Err(format!(
                "hrss has no {} notification",
                notification.event.as_str()
            ));
        }
        let merchant = self
            .merchants
            .of_merchant(&order.merchant_id)
            .ok_or_else(|| format!("merchant {} has no hrss credentials", order.merchant_id))?;
        let platform = self
            .platform_key
            .as_ref()
            .ok_or("no [platform] sm2_private_key to sign hrss notifications with")?;
        let credentials = merchant.credentials;
        let data = wire::to_params(&convert::notification_data(
            order,
            wallet,
            &credentials.app_id,
        ));
        let body = signed(
            &credentials.app_id,
            &credentials.mch_id,
            codec::seal(&data, merchant.keys.data_key()),
            platform,
        );
        Ok(OutgoingRequest {
            method: HttpMethod::Post,
            url: notification.url.as_str().to_owned(),
            content_type: Some("application/json;charset=UTF-8"),
            body: Value::Object(body).to_string().into_bytes(),
        })
    }

    /// §5.2.3: `isSuccess` is 1 (as a string, or a number from a lax merchant).
    fn is_acknowledged(&self, body: &[u8]) -> bool {
        let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        match answer.get("isSuccess") {
            Some(Value::String(s)) => s.trim() == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    fn schedule(
        &self,
        _notification: &Notification,
        _subject: &NotificationSubject,
    ) -> &'static str {
        super::NAME
    }
}

/// The notification's body: the fields and the platform's signature over them.
pub fn signed(app_id: &str, mch_id: &str, data: Value, platform: &PrivateKey) -> Params {
    let mut body = Params::new();
    body.insert("appId".into(), Value::String(app_id.to_owned()));
    body.insert("mchId".into(), Value::String(mch_id.to_owned()));
    body.insert("data".into(), data);
    let sign = platform.sign(codec::json_string_to_sign(&body).as_bytes());
    body.insert("sign".into(), Value::String(sign));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_is_success_one_acknowledges() {
        let format = HrssNotifications {
            merchants: Arc::new(HrssMerchants::from_tables(&[]).unwrap()),
            platform_key: None,
        };
        for (body, acked) in [
            (r#"{"isSuccess":"1","returnMsg":""}"#, true),
            (r#"{"isSuccess":1}"#, true),
            (r#"{"isSuccess":"0","returnMsg":"验签失败"}"#, false),
            (r#"{"returnMsg":"1"}"#, false),
            ("success", false),
            ("1", false),
            ("", false),
        ] {
            assert_eq!(format.is_acknowledged(body.as_bytes()), acked, "{body}");
        }
    }
}
