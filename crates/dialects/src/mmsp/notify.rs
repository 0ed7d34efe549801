//! Payment notifications, one per part, each a POST of a signed JSON frame to the order's
//! NOTIFY_URL, success only:
//!
//! - quick (快捷 §5.5): CommandID 35104, NodeID `openplat`, RetCode 1; Body STATUS, LIST_ID,
//!   MERORDERID, PAY_DATE, NOTIFY_DATE, AMT, masked CARDNO, PUSH_COUNT (the attempt, an
//!   int), CARDTYPE, BANK_NAME. Schedule `mmsp_quick`.
//! - gateway (网关 §5.2): CommandID 35090; Body as the single query's. Schedule
//!   `mmsp_gateway`.
//! - scan (扫码 §10.8): CommandID 2324, a request (no RetCode); Body AMT (an int), ORDERNO,
//!   TRDETIME, PAYTIME, STATUS 1, TRADETYPE, MERORDERID. Schedule `mmsp_scan`.
//!
//! NOTIFY_DATE is the time of the attempt that carries it (each retry its own). In replies
//! (771, 773, 779, 783, 777, 2323, 782) it is when the merchant acknowledged the payment's
//! notification, empty until then.
//!
//! Acknowledged by a body that starts with `SUCCESS`, in any case (the scan part's
//! merchants print exactly `SUCCESS`, which this accepts too). Signed with the agent's key
//! when the merchant has one (the spec: the agent's key first), else the merchant's.

use std::sync::Arc;

use paymux_core::notification::{
    HttpMethod, Notification, NotificationEvent, NotificationFormat, NotificationSubject,
    OutgoingRequest,
};
use paymux_core::order::Order;
use paymux_core::payway::PayMethod;
use paymux_core::time::Millis;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::codec::{self, Outgoing};
use super::convert;
use super::wire::{QuickReply, command, to_params};
use super::{MmspMerchants, SCHEDULE_GATEWAY, SCHEDULE_QUICK, SCHEDULE_SCAN};

pub struct MmspNotifications {
    pub merchants: Arc<MmspMerchants>,
}

/// The part an order was made in decides its notification.
fn part_of(order: &Order) -> PayMethod {
    order.pay_way.method
}

impl NotificationFormat for MmspNotifications {
    /// As it would have been sent when it was made.
    fn render(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
    ) -> Result<OutgoingRequest, String> {
        self.render_at(notification, subject, notification.created_at)
    }

    /// NOTIFY_DATE (quick, gateway) is `now`, the time of this attempt.
    fn render_at(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
        now: Millis,
    ) -> Result<OutgoingRequest, String> {
        let Some(order) = subject.paid_order() else {
            return Err(format!(
                "mmsp has no {} notification",
                notification.event.as_str()
            ));
        };
        if notification.event != NotificationEvent::Pay {
            return Err(format!(
                "mmsp has no {} notification",
                notification.event.as_str()
            ));
        }
        let merchant = self
            .merchants
            .of_merchant(&order.merchant_id)
            .ok_or_else(|| format!("merchant {} has no mmsp credentials", order.merchant_id))?;
        let credentials = &merchant.credentials;
        let (key, agent_no) = match (&credentials.agent_no, &credentials.agent_md5_key) {
            (Some(no), Some(key)) => (key.expose_secret(), Value::from(no.as_str())),
            _ => (credentials.md5_key.expose_secret(), Value::from("")),
        };
        let (command_id, ret_code, body) = match part_of(order) {
            PayMethod::Quick => {
                let full = convert::quick_reply(order);
                let body = QuickReply {
                    status: Some("1".into()),
                    list_id: full.list_id,
                    merorderid: full.merorderid,
                    pay_date: full.pay_date,
                    notify_date: Some(paymux_core::time::format_beijing_compact(now)),
                    amt: full.amt,
                    cardno: full.cardno,
                    push_count: Some(i64::from(notification.attempts.max(1))),
                    cardtype: full.cardtype,
                    bank_name: full.bank_name,
                    ..QuickReply::default()
                };
                (command::QUICK_NOTICE, Some(1), to_params(&body))
            }
            PayMethod::Gateway => {
                let mut body = convert::gateway_result(order, Some(now));
                body.status = Some("1".into());
                body.errcode = None;
                body.errmsg = None;
                (command::GATEWAY_NOTICE, Some(1), to_params(&body))
            }
            _ => (
                command::SCAN_PUSH,
                None,
                to_params(&convert::scan_push(order)),
            ),
        };
        let frame = Outgoing {
            command_id,
            seq_id: Value::from(1),
            node_type: Value::from(3),
            node_id: Value::from("openplat"),
            ret_code,
            error_msg: "",
            agent_no,
            mer_no: Value::from(credentials.merno.as_str()),
            term_no: Value::from(credentials.termno.as_str()),
            body,
            key: Some(key),
        }
        .into_frame();
        Ok(OutgoingRequest {
            method: HttpMethod::Post,
            url: notification.url.as_str().to_owned(),
            content_type: Some("application/json;charset=UTF-8"),
            body: codec::encode(&frame).into_bytes(),
        })
    }

    fn is_acknowledged(&self, body: &[u8]) -> bool {
        let text = String::from_utf8_lossy(body);
        let text = text.trim_start_matches('\u{feff}').trim_start();
        text.get(..7)
            .is_some_and(|head| head.eq_ignore_ascii_case("SUCCESS"))
    }

    fn schedule(
        &self,
        _notification: &Notification,
        subject: &NotificationSubject,
    ) -> &'static str {
        let order = subject.order();
        match part_of(order) {
            PayMethod::Quick => SCHEDULE_QUICK,
            PayMethod::Gateway => SCHEDULE_GATEWAY,
            _ => SCHEDULE_SCAN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_starting_with_success_in_any_case_acknowledges() {
        let format = MmspNotifications {
            merchants: Arc::new(
                MmspMerchants::from_tables(super::super::NAME, &[]).expect("no merchants"),
            ),
        };
        for yes in [
            "SUCCESS",
            "success",
            "Success\n",
            " SUCCESS ok",
            "\u{feff}SUCCESS",
        ] {
            assert!(format.is_acknowledged(yes.as_bytes()), "{yes:?}");
        }
        for no in ["", "FAIL", "SUCCES", "ok SUCCESS"] {
            assert!(!format.is_acknowledged(no.as_bytes()), "{no:?}");
        }
    }
}
