//! The notifier: delivers the outbox at least once, on each dialect's schedule.
//!
//! The notifier claims due rows (a claim counts the attempt and leases the row, so with
//! several instances on one PostgreSQL every attempt is made by exactly one of them; a
//! crashed sender's row comes back when its lease runs out), renders each from the current
//! record through its dialect's [`NotificationFormat`], sends it, and records the outcome.
//!
//! [`run`] sends each notification as a task of its own and claims more as soon as a slot
//! frees, so one merchant's slow endpoint never holds up another's notification: at most
//! [`IN_FLIGHT`] sends at once, at most [`PER_MERCHANT_IN_FLIGHT`] of them to any one
//! merchant, and the last [`RESERVED_FOR_IDLE_MERCHANTS`] only for merchants with none in
//! flight. A row claimed for a merchant already at its bound is handed back, uncounted,
//! for about as long as that merchant's sends take to free a slot. [`Notifier::run_once`]
//! is one round with no such bounds, for tests that drive the clock.
//!
//! Callback URLs are checked when sent: unless private callbacks are allowed, a URL naming
//! or resolving to a loopback, private or link-local address is refused, redirects are not
//! followed, and the connection goes to the address that was checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paymux_core::clock::Clock;
use paymux_core::dialect::DialectTag;
use paymux_core::ids::MerchantId;
use paymux_core::notification::{
    DeliveryRecord, HttpMethod, Notification, NotificationEvent, NotificationFormat,
    NotificationSubject, after_failed_attempt,
};
use paymux_core::order::{AttemptStatus, Tries};
use paymux_core::store::{Store, StoreError};
use paymux_core::url::NotifyUrl;
use paymux_dialects::common::read_at_most;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::Schedules;
use crate::metrics::Metrics;
use crate::workers::{Claimed, pump};

/// A merchant gets this long to answer one notification.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed row stays with its sender this long (well beyond `SEND_TIMEOUT`).
const LEASE_S: i64 = paymux_core::notification::NOTIFICATION_LEASE_S;
/// One attempt (reading the subject, sending, recording) is abandoned after this long;
/// below the lease, so that no other instance sends the row while this one still might.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const _: () = assert!(ATTEMPT_TIMEOUT.as_secs() < LEASE_S.unsigned_abs());
/// At most this many notifications in flight per [`Notifier::run_once`] round.
const BATCH: i64 = 32;
/// At most this many sends in flight at once in [`run`].
pub const IN_FLIGHT: usize = 128;
/// At most this many of them to one merchant, so that a merchant whose endpoints hang
/// cannot take every slot.
pub const PER_MERCHANT_IN_FLIGHT: usize = 16;
/// The last this many slots go only to merchants with no send in flight, so that several
/// merchants whose endpoints hang (six fill the rest) still leave room for everyone else:
/// another merchant waits only when more than 38 merchants hang at once.
pub const RESERVED_FOR_IDLE_MERCHANTS: usize = 32;
/// How often [`run`] looks for due notifications when the last look found few.
const IDLE: Duration = Duration::from_millis(200);
/// A row handed back comes due again after at least this long, and at most this long.
const MIN_HOLD: Duration = Duration::from_secs(1);
const MAX_HOLD: Duration = Duration::from_secs(60);

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
        let http =
            paymux_dialects::common::http::callback_client_builder(allow_private, SEND_TIMEOUT)
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
            NotificationEvent::Pay => {
                let order = order_of(&notification.subject_id).await?;
                if order.tries == Tries::Once {
                    return Ok(NotificationSubject::Order(order));
                }
                // A bill: the notification names the try that paid it.
                let paid = self
                    .store
                    .attempts_of_order(&order.id)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|a| a.status == AttemptStatus::Succeeded)
                    .ok_or_else(|| "the bill has no successful try".to_owned())?;
                Ok(NotificationSubject::Bill {
                    order,
                    paid: Box::new(paid),
                })
            }
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
        let request = format.render_at(notification, &subject, self.clock.now())?;
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

/// Sends due notifications until `shutdown` fires, each on its own (see the module doc);
/// then waits for the sends in flight.
pub async fn run(notifier: Arc<Notifier>, shutdown: tokio::sync::watch::Receiver<bool>) {
    let loads = Arc::new(MerchantLoads::default());
    pump(
        "notifier",
        IN_FLIGHT,
        IDLE,
        ATTEMPT_TIMEOUT,
        shutdown,
        |limit| claim_within_bounds(&notifier, &loads, limit),
        |(notification, slot): (Notification, MerchantSlot)| {
            let notifier = Arc::clone(&notifier);
            async move {
                let _slot = slot;
                if let Err(e) = notifier.attempt(notification).await {
                    tracing::warn!(error = %e, "could not record a notification attempt");
                }
            }
        },
    )
    .await;
}

/// Claims up to `limit` due rows; keeps those whose merchant has a free slot and hands the
/// others back.
async fn claim_within_bounds(
    notifier: &Arc<Notifier>,
    loads: &Arc<MerchantLoads>,
    limit: usize,
) -> Claimed<(Notification, MerchantSlot)> {
    let now = notifier.clock.now();
    let result = notifier
        .store
        .claim_notifications(
            now,
            now.plus_secs(LEASE_S),
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
        .await;
    let Claimed {
        items: claimed,
        full,
    } = Claimed::from_result(result, limit, "notifications");
    let mut items = Vec::with_capacity(claimed.len());
    for notification in claimed {
        match MerchantLoads::take_slot(loads, &notification.merchant_id) {
            Some(slot) => items.push((notification, slot)),
            None => {
                let hold = loads.hold(&notification.merchant_id);
                let at = now.plus_millis(i64::try_from(hold.as_millis()).unwrap_or(i64::MAX));
                // Off the claiming path: releasing many rows must not delay the sends.
                let store = Arc::clone(&notifier.store);
                tokio::spawn(async move {
                    if let Err(e) = store.release_notification(&notification, at).await {
                        tracing::warn!(id = %notification.id, error = %e, "could not hand a notification back; it comes back when its lease runs out");
                    }
                });
            }
        }
    }
    Claimed { items, full }
}

/// Each merchant's sends in flight, and how long its sends take.
#[derive(Default)]
struct MerchantLoads(Mutex<HashMap<MerchantId, MerchantLoad>>);

struct MerchantLoad {
    in_flight: usize,
    /// A smoothed duration of the merchant's recent sends.
    typical: Duration,
    /// Rows handed back are spread from here on, one slot's worth of a typical send apart,
    /// so that a merchant with a large backlog does not have all of it claimed and handed
    /// back again every [`MIN_HOLD`].
    next_hold_end: Instant,
}

impl MerchantLoads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MerchantId, MerchantLoad>> {
        // The map holds counters only: one a panicking holder left half-updated is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for one send to `merchant`, or `None` when it has all its slots in use, or
    /// has some and only the slots kept for merchants with none are left.
    fn take_slot(loads: &Arc<MerchantLoads>, merchant: &MerchantId) -> Option<MerchantSlot> {
        let mut map = loads.lock();
        let load = map.entry(merchant.clone()).or_insert_with(|| MerchantLoad {
            in_flight: 0,
            typical: MIN_HOLD,
            next_hold_end: Instant::now(),
        });
        let busy = load.in_flight > 0;
        if load.in_flight >= PER_MERCHANT_IN_FLIGHT {
            return None;
        }
        let in_flight: usize = map.values().map(|l| l.in_flight).sum();
        if busy && in_flight >= IN_FLIGHT - RESERVED_FOR_IDLE_MERCHANTS {
            return None;
        }
        let load = map.get_mut(merchant)?;
        load.in_flight += 1;
        Some(MerchantSlot {
            loads: Arc::clone(loads),
            merchant: merchant.clone(),
            started: Instant::now(),
        })
    }

    /// How long to hand back a row of `merchant`, which has all its slots in use.
    fn hold(&self, merchant: &MerchantId) -> Duration {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(load) = map.get_mut(merchant) else {
            return MIN_HOLD;
        };
        let end = load.next_hold_end.max(now + MIN_HOLD).min(now + MAX_HOLD);
        let spacing = load.typical / u32::try_from(PER_MERCHANT_IN_FLIGHT).unwrap_or(1);
        load.next_hold_end = (end + spacing).min(now + MAX_HOLD);
        end - now
    }

    fn finish(&self, merchant: &MerchantId, took: Duration) {
        let mut map = self.lock();
        if let Some(load) = map.get_mut(merchant) {
            load.in_flight = load.in_flight.saturating_sub(1);
            load.typical = (load.typical * 7 + took) / 8;
            if load.in_flight == 0 && load.next_hold_end <= Instant::now() {
                map.remove(merchant);
            }
        }
    }
}

/// One send's hold on its merchant's slots, given back when the send ends however it ends.
struct MerchantSlot {
    loads: Arc<MerchantLoads>,
    merchant: MerchantId,
    started: Instant,
}

impl Drop for MerchantSlot {
    fn drop(&mut self) {
        self.loads.finish(&self.merchant, self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use paymux_core::ids::MerchantId;

    use super::{
        IN_FLIGHT, MAX_HOLD, MIN_HOLD, MerchantLoads, PER_MERCHANT_IN_FLIGHT,
        RESERVED_FOR_IDLE_MERCHANTS,
    };
    use paymux_dialects::common::http::resolve_callback_host;

    #[test]
    fn a_merchant_at_its_bound_gets_no_slot_and_its_rows_are_held_apart() {
        let loads = Arc::new(MerchantLoads::default());
        let slow = MerchantId::new("slow");
        let mut slots: Vec<_> = (0..PER_MERCHANT_IN_FLIGHT)
            .map(|_| MerchantLoads::take_slot(&loads, &slow).expect("a free slot"))
            .collect();
        assert!(MerchantLoads::take_slot(&loads, &slow).is_none());
        assert!(
            MerchantLoads::take_slot(&loads, &MerchantId::new("other")).is_some(),
            "another merchant is not held up"
        );

        // Held back at least a second, and a slot's worth of a typical send (a second, as
        // none has finished yet) apart: as many rows a second as the merchant has slots.
        let holds: Vec<Duration> = (0..1200).map(|_| loads.hold(&slow)).collect();
        assert!(holds[0] >= MIN_HOLD - Duration::from_millis(50));
        let sixteen_later = holds[PER_MERCHANT_IN_FLIGHT] - holds[0];
        assert!(
            (Duration::from_millis(900)..Duration::from_millis(1100)).contains(&sixteen_later),
            "{sixteen_later:?}"
        );
        // Never longer than the cap, however large the backlog.
        assert!(holds.iter().all(|h| *h <= MAX_HOLD));
        assert!(holds[1199] > MAX_HOLD - Duration::from_secs(1));

        slots.pop();
        assert!(
            MerchantLoads::take_slot(&loads, &slow).is_some(),
            "a finished send frees its slot"
        );
    }

    #[test]
    fn many_hanging_merchants_still_leave_slots_for_the_others() {
        let loads = Arc::new(MerchantLoads::default());
        // Nine merchants whose endpoints hang each ask for every slot they may have.
        let mut held = Vec::new();
        for n in 0..9 {
            let slow = MerchantId::new(format!("slow{n}"));
            while let Some(slot) = MerchantLoads::take_slot(&loads, &slow) {
                held.push(slot);
            }
        }
        let busy_share = IN_FLIGHT - RESERVED_FOR_IDLE_MERCHANTS;
        let full_merchants = busy_share / PER_MERCHANT_IN_FLIGHT;
        // The first six take their sixteen; the other three one each, from the reserve.
        assert_eq!(held.len(), busy_share + (9 - full_merchants));
        // A merchant with nothing in flight still gets a slot, and so do the next ones.
        for n in 0..RESERVED_FOR_IDLE_MERCHANTS - (9 - full_merchants) {
            let healthy = MerchantId::new(format!("healthy{n}"));
            held.push(MerchantLoads::take_slot(&loads, &healthy).expect("a slot"));
        }
        // (No more than IN_FLIGHT are claimed at once: the pump's bound, not the slots'.)
        assert_eq!(held.len(), IN_FLIGHT);
        // A hanging merchant whose sends end takes its share again.
        held.retain(|slot| !slot.merchant.as_str().starts_with("healthy"));
        held.truncate(busy_share - 1);
        assert!(MerchantLoads::take_slot(&loads, &MerchantId::new("slow5")).is_some());
    }

    #[tokio::test]
    async fn names_that_resolve_to_loopback_are_refused_unless_allowed() {
        let refused = resolve_callback_host("localhost", false).await.unwrap_err();
        assert!(refused.contains("resolves only to loopback"), "{refused}");
        let allowed = resolve_callback_host("localhost", true).await.unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()));
    }
}
