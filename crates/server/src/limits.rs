//! Bounds on the work the dialect routes take on, so that overload is answered with the
//! dialect's own "busy" reply instead of growing memory or going silent (issue 9 point 9).
//!
//! A request is admitted in three steps, all within its timeout:
//! 1. its body is read in full (up to [`MAX_BODY_BYTES`]) before it counts as running, so
//!    that clients sending their bodies slowly hold a connection, not one of the slots;
//! 2. it takes one of `max_concurrent` slots; when all are taken it may wait, but only
//!    behind as many waiting requests as there are slots and for at most [`MAX_WAIT`];
//! 3. the handler runs with the slot held.
//!
//! A request refused at step 2, or not finished when its timeout expires, gets the busy
//! reply the caller supplied, built from what the limiter knows of it ([`BusyRequest`]: a
//! dialect's busy reply may depend on the interface, as upp's refund does). A handler cut
//! off by the timeout is dropped, exactly as when its client disconnects: the core's
//! commands are transactions, and the busy reply asks the merchant to ask again (the same
//! order number then finds the order).

pub use paymux_dialects::BusyRequest;

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use hyper::body::Frame;
use tokio::sync::{Semaphore, SemaphorePermit};

/// The largest request body a dialect route reads. Merchants' requests are a few KB; this
/// leaves room for generous fields while bounding what a connection can make us hold.
/// A longer body reaches the handler as an unreadable one (the dialect's "malformed").
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The longest a request waits for a slot. Running requests take milliseconds; when they
/// take longer than this, the database or a channel is stuck, and waiting does not help.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// How often refusals are reported in the log.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// The limits shared by every dialect: one pool of slots for the whole gateway, so the
/// total work in flight is bounded whichever dialect it arrives through.
#[derive(Clone)]
pub struct RequestLimits {
    inner: Arc<Inner>,
}

struct Inner {
    slots: Semaphore,
    max_concurrent: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    timeout: Duration,
    max_body: usize,
    over_limit: AtomicU64,
    timed_out: AtomicU64,
    report: Occasional,
}

impl fmt::Debug for RequestLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLimits")
            .field("max_concurrent", &self.inner.max_concurrent)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RequestLimits {
    /// `max_concurrent` requests run at once (at least one); each has `timeout` from its
    /// arrival to its answer, its body and any wait for a slot included.
    pub fn new(max_concurrent: usize, timeout: Duration) -> RequestLimits {
        RequestLimits::with(max_concurrent, timeout, MAX_WAIT, MAX_BODY_BYTES)
    }

    fn with(
        max_concurrent: usize,
        timeout: Duration,
        max_wait: Duration,
        max_body: usize,
    ) -> RequestLimits {
        let max_concurrent = max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        RequestLimits {
            inner: Arc::new(Inner {
                slots: Semaphore::new(max_concurrent),
                max_concurrent,
                waiting: AtomicUsize::new(0),
                max_waiting: max_concurrent,
                max_wait,
                timeout,
                max_body,
                over_limit: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
                report: Occasional::new(REPORT_EVERY),
            }),
        }
    }

    /// Requests holding a slot now.
    pub fn running(&self) -> usize {
        self.inner.max_concurrent - self.inner.slots.available_permits()
    }
}

/// Puts `router`'s routes under `limits`; requests refused or cut off get `busy(request)`.
/// Routes merged into the gateway's router afterwards (health, metrics) stay outside.
pub fn with_limits<F>(router: Router, limits: RequestLimits, busy: F) -> Router
where
    F: Fn(&BusyRequest<'_>) -> Response + Clone + Send + Sync + 'static,
{
    let guard = Guard {
        limits,
        busy: Arc::new(busy),
    };
    router.layer(middleware::from_fn_with_state(guard, limit))
}

#[derive(Clone)]
struct Guard {
    limits: RequestLimits,
    busy: Arc<dyn Fn(&BusyRequest<'_>) -> Response + Send + Sync>,
}

/// Why a request got the busy reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    OverLimit,
    TimedOut,
}

async fn limit(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let inner = &guard.limits.inner;
    let uri = request.uri().clone();
    let mut body = None;
    let admitted = admit(inner, request, next, &mut body);
    let refused = match tokio::time::timeout(inner.timeout, admitted).await {
        Ok(Ok(response)) => return response,
        Ok(Err(refused)) => refused,
        Err(_) => Refused::TimedOut,
    };
    inner.note(refused);
    (guard.busy)(&BusyRequest {
        uri: &uri,
        body: body.as_ref(),
    })
}

async fn admit(
    inner: &Inner,
    request: Request,
    next: Next,
    read: &mut Option<Bytes>,
) -> Result<Response, Refused> {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, inner.max_body).await {
        Some(bytes) => {
            *read = Some(bytes.clone());
            Body::from(bytes)
        }
        None => Body::new(Unreadable),
    };
    let _slot = inner.slot().await.ok_or(Refused::OverLimit)?;
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The whole body, or `None` if it is longer than `max` or broke off: the handler then
/// gets a body that fails when read, and answers as it does for any unreadable body.
async fn read_body(body: Body, max: usize) -> Option<Bytes> {
    if body.size_hint().lower() > max as u64 {
        return None;
    }
    Limited::new(body, max)
        .collect()
        .await
        .ok()
        .map(|collected| collected.to_bytes())
}

impl Inner {
    async fn slot(&self) -> Option<SemaphorePermit<'_>> {
        if let Ok(slot) = self.slots.try_acquire() {
            return Some(slot);
        }
        let queued = Queued::join(&self.waiting);
        if queued.ahead >= self.max_waiting {
            return None;
        }
        let slot = tokio::time::timeout(self.max_wait, self.slots.acquire()).await;
        drop(queued);
        slot.ok()?.ok()
    }

    fn note(&self, refused: Refused) {
        match refused {
            Refused::OverLimit => self.over_limit.fetch_add(1, Ordering::Relaxed),
            Refused::TimedOut => self.timed_out.fetch_add(1, Ordering::Relaxed),
        };
        if self.report.due() {
            let over_limit = self.over_limit.swap(0, Ordering::Relaxed);
            let timed_out = self.timed_out.swap(0, Ordering::Relaxed);
            tracing::warn!(
                over_limit,
                timed_out,
                max_concurrent = self.max_concurrent,
                timeout_s = self.timeout.as_secs_f64(),
                "answered requests as busy: all slots taken, or not done in time"
            );
        }
    }
}

/// A place in the queue for a slot, given up when dropped (also when the wait is cut off).
struct Queued<'a> {
    waiting: &'a AtomicUsize,
    ahead: usize,
}

impl<'a> Queued<'a> {
    fn join(waiting: &'a AtomicUsize) -> Queued<'a> {
        let ahead = waiting.fetch_add(1, Ordering::AcqRel);
        Queued { waiting, ahead }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A body whose first read fails.
struct Unreadable;

#[derive(Debug, thiserror::Error)]
#[error("the request body is too long or was cut off")]
struct UnreadableBody;

impl HttpBody for Unreadable {
    type Data = Bytes;
    type Error = UnreadableBody;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UnreadableBody>>> {
        Poll::Ready(Some(Err(UnreadableBody)))
    }
}

/// Says whether an event that may happen many times a second is due to be logged again:
/// the first time, then at most once per interval.
pub(crate) struct Occasional {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl Occasional {
    pub(crate) fn new(every: Duration) -> Occasional {
        Occasional {
            every,
            last: Mutex::new(None),
        }
    }

    pub(crate) fn due(&self) -> bool {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked while logging: log anyway.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(at) if now.duration_since(at) < self.every => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    fn busy(_: &BusyRequest<'_>) -> Response {
        (StatusCode::OK, "busy").into_response()
    }

    async fn text(response: Response) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    fn post_to(path: &str, body: impl Into<Body>) -> Request {
        Request::post(path).body(body.into()).expect("request")
    }

    /// A route whose requests wait until the gate (a semaphore with no permits) is closed.
    fn gated(gate: Arc<Semaphore>) -> Router {
        Router::new().route(
            "/gated",
            post(move || {
                let gate = gate.clone();
                async move {
                    let _ = gate.acquire().await;
                    "done"
                }
            }),
        )
    }

    fn waiting(limits: &RequestLimits) -> usize {
        limits.inner.waiting.load(Ordering::Acquire)
    }

    async fn until(what: impl Fn() -> bool) {
        while !what() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_request_within_the_limits_reaches_the_handler_with_its_body() {
        let router = Router::new().route("/echo", post(|body: Bytes| async move { body }));
        let limits = RequestLimits::new(2, Duration::from_secs(5));
        let router = with_limits(router, limits.clone(), busy);
        let reply = router.oneshot(post_to("/echo", "hello")).await.unwrap();
        assert_eq!(text(reply).await, "hello");
        assert_eq!(limits.running(), 0, "the slot is given back");
    }

    #[tokio::test]
    async fn a_handler_slower_than_the_timeout_gets_the_busy_reply_and_frees_its_slot() {
        let slow = Router::new().route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let limits = RequestLimits::new(1, Duration::from_millis(50));
        let router = with_limits(slow, limits.clone(), busy);
        let started = Instant::now();
        let reply = router.oneshot(post_to("/slow", "")).await.unwrap();
        assert_eq!(text(reply).await, "busy");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(limits.running(), 0);
    }

    #[tokio::test]
    async fn requests_beyond_the_slots_and_the_queue_are_busy_at_once() {
        let gate = Arc::new(Semaphore::new(0));
        let limits = RequestLimits::with(2, Duration::from_secs(30), Duration::from_secs(30), 1024);
        let router = with_limits(gated(gate.clone()), limits.clone(), busy);
        // Two run and two wait (the queue is as long as there are slots).
        let admitted: Vec<_> = (0..4)
            .map(|_| tokio::spawn(router.clone().oneshot(post_to("/gated", ""))))
            .collect();
        until(|| limits.running() == 2 && waiting(&limits) == 2).await;
        let started = Instant::now();
        let refused = router.clone().oneshot(post_to("/gated", "")).await.unwrap();
        assert_eq!(text(refused).await, "busy");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused without waiting"
        );
        gate.close();
        for handle in admitted {
            let reply = handle.await.unwrap().unwrap();
            assert_eq!(text(reply).await, "done");
        }
        assert_eq!(limits.running(), 0);
        assert_eq!(waiting(&limits), 0);
    }

    #[tokio::test]
    async fn a_waiting_request_gives_up_after_the_longest_wait() {
        let gate = Arc::new(Semaphore::new(0));
        let max_wait = Duration::from_millis(100);
        let limits = RequestLimits::with(1, Duration::from_secs(30), max_wait, 1024);
        let router = with_limits(gated(gate.clone()), limits.clone(), busy);
        let first = tokio::spawn(router.clone().oneshot(post_to("/gated", "")));
        until(|| limits.running() == 1).await;
        let started = Instant::now();
        let late = router.clone().oneshot(post_to("/gated", "")).await.unwrap();
        assert_eq!(text(late).await, "busy");
        assert!(started.elapsed() >= max_wait);
        assert_eq!(waiting(&limits), 0, "it left the queue");
        gate.close();
        assert_eq!(text(first.await.unwrap().unwrap()).await, "done");
    }

    #[tokio::test]
    async fn a_waiting_request_runs_when_a_slot_frees() {
        let gate = Arc::new(Semaphore::new(0));
        let limits = RequestLimits::with(1, Duration::from_secs(30), Duration::from_secs(30), 1024);
        let router = with_limits(gated(gate.clone()), limits.clone(), busy);
        let first = tokio::spawn(router.clone().oneshot(post_to("/gated", "")));
        until(|| limits.running() == 1).await;
        let second = tokio::spawn(router.clone().oneshot(post_to("/gated", "")));
        until(|| waiting(&limits) == 1).await;
        gate.close();
        assert_eq!(text(first.await.unwrap().unwrap()).await, "done");
        assert_eq!(text(second.await.unwrap().unwrap()).await, "done");
    }

    #[tokio::test]
    async fn the_busy_reply_is_told_the_path_and_the_body_when_it_had_arrived() {
        let gate = Arc::new(Semaphore::new(0));
        let limits = RequestLimits::with(1, Duration::from_secs(30), Duration::ZERO, 1024);
        let described = |request: &BusyRequest<'_>| {
            let body = request
                .body
                .map(|b| String::from_utf8_lossy(b).into_owned());
            (StatusCode::OK, format!("{} {body:?}", request.uri.path())).into_response()
        };
        let router = with_limits(gated(gate.clone()), limits.clone(), described);
        let first = tokio::spawn(router.clone().oneshot(post_to("/gated", "")));
        until(|| limits.running() == 1).await;
        let refused = router
            .clone()
            .oneshot(post_to("/gated", "mine"))
            .await
            .unwrap();
        assert_eq!(text(refused).await, r#"/gated Some("mine")"#);
        gate.close();
        assert_eq!(text(first.await.unwrap().unwrap()).await, "done");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_reaches_the_handler_unreadable() {
        let router = Router::new().route(
            "/echo",
            post(
                |body: Result<Bytes, axum::extract::rejection::BytesRejection>| async move {
                    match body {
                        Ok(bytes) => format!("read {}", bytes.len()),
                        Err(_) => "unreadable".to_owned(),
                    }
                },
            ),
        );
        let limits = RequestLimits::with(1, Duration::from_secs(5), MAX_WAIT, 8);
        let router = with_limits(router, limits, busy);
        let fits = router.clone().oneshot(post_to("/echo", "12345678")).await;
        assert_eq!(text(fits.unwrap()).await, "read 8");
        let long = router.oneshot(post_to("/echo", "123456789")).await;
        assert_eq!(text(long.unwrap()).await, "unreadable");
    }

    #[tokio::test]
    async fn routes_merged_afterwards_are_outside_the_limits() {
        let gate = Arc::new(Semaphore::new(0));
        let limits = RequestLimits::with(1, Duration::from_secs(30), Duration::ZERO, 1024);
        let router = with_limits(gated(gate.clone()), limits.clone(), busy)
            .route("/healthz", get(|| async { "ok" }));
        let first = tokio::spawn(router.clone().oneshot(post_to("/gated", "")));
        until(|| limits.running() == 1).await;
        let refused = router.clone().oneshot(post_to("/gated", "")).await.unwrap();
        assert_eq!(text(refused).await, "busy", "the limited route is full");
        let health = Request::get("/healthz").body(Body::empty()).unwrap();
        let reply = router.clone().oneshot(health).await.unwrap();
        assert_eq!(text(reply).await, "ok");
        gate.close();
        assert_eq!(text(first.await.unwrap().unwrap()).await, "done");
    }

    #[test]
    fn an_occasional_event_is_due_the_first_time_then_once_per_interval() {
        let occasional = Occasional::new(Duration::from_millis(50));
        assert!(occasional.due());
        assert!(!occasional.due());
        std::thread::sleep(Duration::from_millis(60));
        assert!(occasional.due());
        assert!(!occasional.due());
    }
}
