//! The notifier: delivers the outbox at least once, on each dialect's schedule.
//!
//! Each round claims due rows (a claim counts the attempt and leases the row, so with
//! several instances on one PostgreSQL every attempt is made by exactly one of them; a
//! crashed sender's row comes back when its lease runs out), renders each from the current
//! record through its dialect's [`NotificationFormat`], sends it, and records the outcome.
//!
//! Callback URLs are checked when sent: unless private callbacks are allowed, a URL naming
//! or resolving to a loopback, private or link-local address is refused, redirects are not
//! followed, and the connection goes to the address that was checked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use paymux_core::clock::Clock;
use paymux_core::dialect::DialectTag;
use paymux_core::notification::{
    DeliveryRecord, HttpMethod, Notification, NotificationEvent, NotificationFormat,
    NotificationSubject, after_failed_attempt,
};
use paymux_core::store::{Store, StoreError};
use paymux_core::url::{NotifyUrl, is_public_ip};
use paymux_dialects::common::read_at_most;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::task::JoinSet;

use crate::config::Schedules;
use crate::metrics::Metrics;

/// A merchant gets this long to answer one notification.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed row stays with its sender this long (well beyond `SEND_TIMEOUT`).
const LEASE_S: i64 = 60;
/// At most this many notifications in flight per round.
const BATCH: i64 = 32;

pub struct Notifier {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    formats: HashMap<DialectTag, Arc<dyn NotificationFormat>>,
    schedules: Schedules,
    allow_private: bool,
    metrics: Arc<Metrics>,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundOutcome {
    pub delivered: usize,
    pub retried: usize,
    pub gave_up: usize,
}

impl RoundOutcome {
    pub fn attempts(&self) -> usize {
        self.delivered + self.retried + self.gave_up
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

impl Notifier {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        formats: HashMap<DialectTag, Arc<dyn NotificationFormat>>,
        schedules: Schedules,
        allow_private: bool,
        metrics: Arc<Metrics>,
    ) -> Result<Notifier, NotifierError> {
        paymux_dialects::common::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the merchant's host itself, past the address check.
            .no_proxy()
            .dns_resolver(Arc::new(CallbackResolver { allow_private }))
            .user_agent("paymux-notifier")
            .build()?;
        Ok(Notifier {
            store,
            clock,
            http,
            formats,
            schedules,
            allow_private,
            metrics,
        })
    }

    /// Claims due notifications and makes one attempt at each.
    pub async fn run_once(self: &Arc<Self>) -> Result<RoundOutcome, NotifierError> {
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_notifications(now, now.plus_secs(LEASE_S), BATCH)
            .await?;
        let mut sends = JoinSet::new();
        for notification in claimed {
            let notifier = Arc::clone(self);
            sends.spawn(async move { notifier.attempt(notification).await });
        }
        let mut outcome = RoundOutcome::default();
        while let Some(result) = sends.join_next().await {
            match result {
                Ok(Ok(DeliveryRecord::Delivered { .. })) => outcome.delivered += 1,
                Ok(Ok(DeliveryRecord::RetryAt { .. })) => outcome.retried += 1,
                Ok(Ok(DeliveryRecord::GaveUp { .. })) => outcome.gave_up += 1,
                Ok(Err(e)) => tracing::warn!(error = %e, "could not record a notification attempt"),
                Err(e) => tracing::error!(error = %e, "notification task failed"),
            }
        }
        Ok(outcome)
    }

    async fn attempt(&self, notification: Notification) -> Result<DeliveryRecord, StoreError> {
        let result = self.send(&notification).await;
        let now = self.clock.now();
        let (record, subject_acked) = match result {
            Ok(()) => (DeliveryRecord::Delivered { at: now }, true),
            Err(error) => {
                let schedule = self.schedule_of(&notification).await;
                let delays = self.schedules.delays(schedule);
                (
                    after_failed_attempt(notification.attempts, delays, now, error),
                    false,
                )
            }
        };
        let acked_order = (subject_acked && notification.event == NotificationEvent::Pay)
            .then_some(&notification.subject_id);
        let label = match &record {
            DeliveryRecord::Delivered { .. } => "delivered",
            DeliveryRecord::RetryAt { error, at } => {
                tracing::info!(id = %notification.id, attempt = notification.attempts, %error, next_at = %paymux_core::time::format_beijing_rfc3339(*at), "notification not acknowledged; will retry");
                "retry"
            }
            DeliveryRecord::GaveUp { error } => {
                tracing::warn!(id = %notification.id, attempt = notification.attempts, %error, "notification not acknowledged; giving up");
                "gave_up"
            }
        };
        self.metrics
            .notification(notification.dialect.as_str(), label);
        self.store
            .record_delivery(&notification, &record, acked_order)
            .await?;
        Ok(record)
    }

    async fn load_subject(
        &self,
        notification: &Notification,
    ) -> Result<NotificationSubject, String> {
        let order_of = |id| async move {
            self.store
                .order_by_id(id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "order not found".to_owned())
        };
        match notification.event {
            NotificationEvent::Pay => Ok(NotificationSubject::Order(
                order_of(&notification.subject_id).await?,
            )),
            NotificationEvent::Refund => {
                let refund = self
                    .store
                    .refund_by_id(&notification.subject_id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| "refund not found".to_owned())?;
                let order = order_of(&refund.order_id).await?;
                Ok(NotificationSubject::Refund {
                    refund: Box::new(refund),
                    order,
                })
            }
            NotificationEvent::Payout => Err("payout notifications are not implemented".to_owned()),
        }
    }

    async fn schedule_of(&self, notification: &Notification) -> &'static str {
        match (
            self.formats.get(&notification.dialect),
            self.load_subject(notification).await,
        ) {
            (Some(format), Ok(subject)) => format.schedule(notification, &subject),
            // The dialect's first schedule: it has no format or no subject to ask.
            _ => paymux_dialects::dialect(notification.dialect.as_str())
                .and_then(|d| d.schedules().first())
                .map_or("", |s| s.name),
        }
    }

    /// One attempt: `Ok` when the merchant acknowledged it, else why not.
    async fn send(&self, notification: &Notification) -> Result<(), String> {
        let format = self
            .formats
            .get(&notification.dialect)
            .ok_or_else(|| format!("no notification format for {}", notification.dialect))?;
        let subject = self.load_subject(notification).await?;
        let request = format.render(notification, &subject)?;
        // Literal addresses never reach the resolver, so they are checked here.
        NotifyUrl::parse(&request.url, self.allow_private)
            .map_err(|e| format!("callback URL refused: {e}"))?;
        let builder = match request.method {
            HttpMethod::Get => self.http.get(&request.url),
            HttpMethod::Post => self.http.post(&request.url),
        };
        let builder = match request.content_type {
            Some(ct) => builder.header("content-type", ct),
            None => builder,
        };
        let response = builder.body(request.body).send().await.map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            message
        })?;
        let status = response.status().as_u16();
        let (body, _) = read_at_most(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        if format.is_acknowledged(&body) {
            Ok(())
        } else {
            let shown: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            Err(format!("HTTP {status}: {shown:?}"))
        }
    }
}

/// Merchants acknowledge in a word; more than this of an answer is not read.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Resolves callback hosts, dropping addresses paymux may not call.
struct CallbackResolver {
    allow_private: bool,
}

impl Resolve for CallbackResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Addrs = Box::new(
                resolve_callback_host(&host, allow_private)
                    .await?
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// The addresses of `host` that paymux may call.
pub async fn resolve_callback_host(
    host: &str,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, String> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| allow_private || is_public_ip(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "{host} resolves only to loopback, private or link-local addresses"
        ));
    }
    Ok(allowed)
}

/// Runs rounds until `shutdown` fires; idles briefly when there is nothing to send.
pub async fn run(notifier: Arc<Notifier>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let busy = match notifier.run_once().await {
            Ok(outcome) => outcome.attempts() > 0,
            Err(e) => {
                tracing::warn!(error = %e, "notifier round failed");
                false
            }
        };
        if busy {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_callback_host;

    #[tokio::test]
    async fn names_that_resolve_to_loopback_are_refused_unless_allowed() {
        let refused = resolve_callback_host("localhost", false).await.unwrap_err();
        assert!(refused.contains("resolves only to loopback"), "{refused}");
        let allowed = resolve_callback_host("localhost", true).await.unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()));
    }
}
