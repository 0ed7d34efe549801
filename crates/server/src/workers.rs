//! Background work besides the notifier's sending: closing expired orders, asking channels
//! about pending attempts and refunds, and `pump`, which the poller and the notifier use
//! to work through claimed rows item by item.
//!
//! The core commands they call each do one bounded step; tests call the commands directly.

use std::future::Future;
use std::time::Duration;

use paymux_core::Operator;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

const ROUND: i64 = 100;

/// At most this many checks of each kind (attempts, refunds) in flight at once.
const CHECKS_IN_FLIGHT: usize = 32;

/// How often the poller looks for due checks when the last look found few.
const POLL_IDLE: Duration = Duration::from_millis(500);

/// Closes orders whose expiry has passed.
pub async fn run_expirer(operator: Operator, shutdown: watch::Receiver<bool>) {
    every(Duration::from_secs(1), shutdown, || async {
        match operator.expire_due_orders(ROUND).await {
            Ok(n) if n > 0 => tracing::info!(closed = n, "expired orders closed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiry round failed"),
        }
    })
    .await;
}

/// Asks channels about pending attempts and refunds that are due a check, each on its
/// own: a channel that is slow to answer about one holds up only that one.
pub async fn run_poller(operator: Operator, shutdown: watch::Receiver<bool>) {
    // Below the lease, so that no other instance takes a check while this one still runs it.
    let check_timeout =
        Duration::from_secs((operator.settings().lease_s / 2).max(1).unsigned_abs());
    let attempts = pump(
        "attempt checks",
        CHECKS_IN_FLIGHT,
        POLL_IDLE,
        check_timeout,
        shutdown.clone(),
        |limit| {
            let operator = operator.clone();
            async move {
                Claimed::from_result(
                    operator.claim_attempt_checks(limit_i64(limit)).await,
                    limit,
                    "attempt checks",
                )
            }
        },
        |attempt| {
            let operator = operator.clone();
            async move {
                if let Err(e) = operator.check_attempt(&attempt).await {
                    tracing::warn!(order = %attempt.order_id, seq = attempt.seq, error = %e, "could not check attempt");
                }
            }
        },
    );
    let refunds = pump(
        "refund checks",
        CHECKS_IN_FLIGHT,
        POLL_IDLE,
        check_timeout,
        shutdown,
        |limit| {
            let operator = operator.clone();
            async move {
                Claimed::from_result(
                    operator.claim_refund_checks(limit_i64(limit)).await,
                    limit,
                    "refund checks",
                )
            }
        },
        |refund| {
            let operator = operator.clone();
            async move {
                if let Err(e) = operator.check_refund(&refund).await {
                    tracing::warn!(refund = %refund.id, error = %e, "could not check refund");
                }
            }
        },
    );
    tokio::join!(attempts, refunds);
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// What one claim brought back.
pub(crate) struct Claimed<T> {
    /// The items to work on.
    pub items: Vec<T>,
    /// Whether the claim stopped at its limit, so that more may be due right now.
    pub full: bool,
}

impl<T> Claimed<T> {
    pub(crate) fn from_result<E: std::fmt::Display>(
        result: Result<Vec<T>, E>,
        limit: usize,
        what: &str,
    ) -> Claimed<T> {
        match result {
            Ok(items) => Claimed {
                full: items.len() >= limit,
                items,
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not claim {what}");
                Claimed {
                    items: Vec::new(),
                    full: false,
                }
            }
        }
    }
}

/// Works through claimed items, each as a task of its own, at most `bound` at a time. It
/// claims only as many as there are free slots, and claims again as soon as one frees
/// while claims come back full, otherwise every `idle`: no item waits for a round of
/// others to finish. An item still running after `item_timeout` is dropped (its lease
/// brings it back; keep the timeout below the lease). On shutdown it stops claiming and
/// waits for the items in hand.
pub(crate) async fn pump<T, C, CF, W, WF>(
    name: &'static str,
    bound: usize,
    idle: Duration,
    item_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut claim: C,
    work: W,
) where
    C: FnMut(usize) -> CF,
    CF: Future<Output = Claimed<T>>,
    W: Fn(T) -> WF,
    WF: Future<Output = ()> + Send + 'static,
{
    let mut in_flight = JoinSet::new();
    let mut more_due = true;
    let mut next_claim = Instant::now();
    while !*shutdown.borrow() {
        let free = bound.saturating_sub(in_flight.len());
        if free > 0 && (more_due || Instant::now() >= next_claim) {
            let claimed = claim(free).await;
            more_due = claimed.full;
            if !more_due {
                next_claim = Instant::now() + idle;
            }
            for item in claimed.items {
                let item = work(item);
                in_flight.spawn(async move {
                    if tokio::time::timeout(item_timeout, item).await.is_err() {
                        tracing::warn!(
                            worker = name,
                            "gave up waiting for an item; it comes back when its lease runs out"
                        );
                    }
                });
            }
            continue;
        }
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => log_failed_task(name, done),
            _ = tokio::time::sleep_until(next_claim), if free > 0 => {}
            _ = shutdown.changed() => break,
        }
    }
    while let Some(done) = in_flight.join_next().await {
        log_failed_task(name, done);
    }
}

fn log_failed_task(name: &'static str, done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(worker = name, error = %e, "worker task failed");
    }
}

async fn every<F, Fut>(period: Duration, mut shutdown: watch::Receiver<bool>, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        round().await;
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
    }
}
