//! The outbox. A notification row is written in the same transaction as the state change
//! that causes it; the notifier delivers it at least once, on its dialect's schedule, and
//! rows survive restarts. Only the id of the subject is stored: the notifier renders the
//! message from the subject's current record when it sends.

use std::fmt;
use std::str::FromStr;

use crate::dialect::DialectTag;
use crate::ids::{MerchantId, PlatformId};
use crate::time::Millis;
use crate::url::NotifyUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationEvent {
    /// An order was paid.
    Pay,
    /// A refund reached its outcome.
    Refund,
    /// A payout reached its outcome.
    Payout,
}

impl NotificationEvent {
    pub const ALL: [NotificationEvent; 3] = [
        NotificationEvent::Pay,
        NotificationEvent::Refund,
        NotificationEvent::Payout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::Pay => "pay",
            NotificationEvent::Refund => "refund",
            NotificationEvent::Payout => "payout",
        }
    }
}

impl FromStr for NotificationEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NotificationEvent::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown notification event {s:?}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    Pending,
    Delivered,
    /// Every attempt of the schedule was made and none was acknowledged.
    GaveUp,
}

impl NotificationStatus {
    pub const ALL: [NotificationStatus; 3] = [
        NotificationStatus::Pending,
        NotificationStatus::Delivered,
        NotificationStatus::GaveUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Delivered => "delivered",
            NotificationStatus::GaveUp => "gave_up",
        }
    }
}

impl fmt::Display for NotificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotificationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NotificationStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown notification status {s:?}"))
    }
}

/// A claimed notification stays with its sender this long (its `next_attempt_at` is moved
/// this far ahead); the store keeps a merchant's re-send request from pulling it back.
pub const NOTIFICATION_LEASE_S: i64 = 60;

#[derive(Debug, Clone)]
pub struct Notification {
    pub id: PlatformId,
    pub merchant_id: MerchantId,
    pub dialect: DialectTag,
    pub event: NotificationEvent,
    /// The order, refund or payout the notification is about.
    pub subject_id: PlatformId,
    pub url: NotifyUrl,
    pub status: NotificationStatus,
    /// Attempts made so far.
    pub attempts: i32,
    pub next_attempt_at: Millis,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
    pub last_error: Option<String>,
}

impl Notification {
    pub fn new(
        id: PlatformId,
        merchant_id: MerchantId,
        dialect: DialectTag,
        event: NotificationEvent,
        subject_id: PlatformId,
        url: NotifyUrl,
        now: Millis,
    ) -> Notification {
        Notification {
            id,
            merchant_id,
            dialect,
            event,
            subject_id,
            url,
            status: NotificationStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            delivered_at: None,
            last_error: None,
        }
    }
}

/// What one delivery attempt came to, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryRecord {
    Delivered { at: Millis },
    RetryAt { at: Millis, error: String },
    GaveUp { error: String },
}

/// Decides what to record after attempt number `attempts_made` (1 for the first) failed,
/// given the delays after the first attempt (`[60, 120, …]` seconds).
pub fn after_failed_attempt(
    attempts_made: i32,
    delays_s: &[u64],
    now: Millis,
    error: String,
) -> DeliveryRecord {
    let index = usize::try_from(attempts_made - 1).unwrap_or(usize::MAX);
    match delays_s.get(index) {
        Some(&delay) => DeliveryRecord::RetryAt {
            at: now.plus_secs(i64::try_from(delay).unwrap_or(i64::MAX / 1000)),
            error,
        },
        None => DeliveryRecord::GaveUp { error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_give_up() {
        let delays = [60, 120, 180, 240, 300];
        let now = Millis(1_000_000);
        assert_eq!(
            after_failed_attempt(1, &delays, now, "x".into()),
            DeliveryRecord::RetryAt {
                at: Millis(1_060_000),
                error: "x".into()
            }
        );
        assert_eq!(
            after_failed_attempt(5, &delays, now, "x".into()),
            DeliveryRecord::RetryAt {
                at: Millis(1_300_000),
                error: "x".into()
            }
        );
        assert_eq!(
            after_failed_attempt(6, &delays, now, "x".into()),
            DeliveryRecord::GaveUp { error: "x".into() }
        );
    }
}

/// The record a notification is about, loaded by the notifier when it sends.
#[derive(Debug, Clone)]
pub enum NotificationSubject {
    Order(crate::order::Order),
    /// A paid bill (an order the payer may try more than once) and the try that paid it:
    /// which wallet, which sequence number.
    Bill {
        order: crate::order::Order,
        paid: Box<crate::order::Attempt>,
    },
    Refund {
        refund: Box<crate::refund::Refund>,
        order: crate::order::Order,
    },
}

impl NotificationSubject {
    /// The order of a payment notification: a one-try order or a bill; `None` for a refund.
    pub fn paid_order(&self) -> Option<&crate::order::Order> {
        match self {
            NotificationSubject::Order(order) | NotificationSubject::Bill { order, .. } => {
                Some(order)
            }
            NotificationSubject::Refund { .. } => None,
        }
    }

    /// The order the notification is about (a refund's own order for a refund).
    pub fn order(&self) -> &crate::order::Order {
        match self {
            NotificationSubject::Order(order)
            | NotificationSubject::Bill { order, .. }
            | NotificationSubject::Refund { order, .. } => order,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

/// One HTTP request to a merchant, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub method: HttpMethod,
    /// With the query string, where the dialect puts parameters there.
    pub url: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

/// How a dialect speaks to merchants: renders a notification and reads the answer.
pub trait NotificationFormat: Send + Sync {
    fn render(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
    ) -> Result<OutgoingRequest, String>;

    /// [`render`](Self::render) for the attempt being sent at `now`: a format whose
    /// notification says when it was sent (mmsp's NOTIFY_DATE) overrides this.
    fn render_at(
        &self,
        notification: &Notification,
        subject: &NotificationSubject,
        now: Millis,
    ) -> Result<OutgoingRequest, String> {
        let _ = now;
        self.render(notification, subject)
    }

    /// Whether the merchant's answer acknowledges the notification.
    fn is_acknowledged(&self, body: &[u8]) -> bool;

    /// The `[notify]` config key whose retry delays apply (`xxpay`, `mmsp_scan`, …).
    fn schedule(&self, notification: &Notification, subject: &NotificationSubject) -> &'static str;
}
