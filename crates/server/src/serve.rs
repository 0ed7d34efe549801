//! The gateway's accept loop: HTTP/1.1 over hyper, with every connection bounded in number
//! and in how long it may take to say what it wants (issue 9 point 9).
//!
//! - A connection has [`ServeConfig::header_read_timeout`] to send each request's headers,
//!   counted from the moment it is waiting for one: hyper starts that timer on a fresh
//!   connection and again after each response, so the same limit closes connections that
//!   send their headers a byte at a time and keep-alive connections left idle.
//! - At most [`ServeConfig::max_connections`] are open. At the cap the loop stops
//!   accepting: new connections wait in the kernel's listen queue, which costs us no
//!   descriptor, and are taken in arrival order as open ones close (each within the header
//!   timeout unless it is busy with a request). Connections already open are served as
//!   usual, so healthy clients with a kept-alive connection do not notice. Shedding new
//!   connections instead (accept and close) would answer no new client at all, and closing
//!   idle kept-alive connections to make room would cut off exactly the clients that are
//!   well-behaved: a slow-header attacker's connections are never idle. [`bind`] asks for a
//!   listen queue long enough for a burst ([`LISTEN_BACKLOG`]). Reaching the cap is logged
//!   at warn, at most once a minute, with how often it happened meanwhile.
//! - An accept error that is about this process (no descriptors left: EMFILE, ENFILE, no
//!   buffer space) is logged and the loop backs off, 5 ms doubling up to 1 s, instead of
//!   spinning on a listener that stays readable; errors that are about one connection
//!   (reset before we took it) are skipped.
//! - Shutdown stops accepting, lets each connection finish the request it is serving (idle
//!   ones close at once), and after [`ServeConfig::shutdown_grace`] closes what is left.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::limits::Occasional;

/// Descriptors kept back from client connections, at least: the database (SQLite's file,
/// journal and shared memory for each pooled connection, or PostgreSQL sockets), outgoing
/// notifications and channel calls, the runtime's own, standard streams and logs.
const RESERVED_DESCRIPTORS: u64 = 256;

/// The most connections the derived default allows, whatever the descriptor limit: an
/// open connection holds hyper's buffers and a task (measured: about 12 KiB idle, more
/// when it has sent a body), so this also bounds the memory idle clients can hold.
pub const MAX_DEFAULT_CONNECTIONS: usize = 16_384;

/// The most a connection buffers while reading (hyper's default is 400 KiB): it bounds the
/// request headers, which merchants keep to a few hundred bytes, and so the memory each
/// slow-header connection can make us hold.
const MAX_BUFFER: usize = 64 * 1024;

/// The length of the kernel's queue of connections not yet accepted, where connections
/// wait while the cap is reached. Tokio's `bind` asks for 128, which a burst overflows: the
/// kernel then drops handshakes or answers with a reset. Linux caps it at
/// `net.core.somaxconn` (4,096 by default).
pub const LISTEN_BACKLOG: u32 = 4096;

/// How often reaching the cap, or failing to accept, is logged at most.
const REPORT_EVERY: Duration = Duration::from_secs(60);

const BACKOFF_FIRST: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, and how long a
    /// kept-alive connection may stay idle.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in progress before closing their connections.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    pub fn new(max_connections: usize, header_read_timeout: Duration) -> ServeConfig {
        ServeConfig {
            max_connections,
            header_read_timeout,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Listens on `addr` (`host:port`; a name is resolved, and the first address that can be
/// bound is used) with a listen queue of [`LISTEN_BACKLOG`].
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match listen_on(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As tokio's `bind` does: a restarted gateway can listen again at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises this process's open-file soft limit to its hard limit and returns the soft limit
/// in force afterwards (`None` if it cannot be read). A failure to raise it is logged: the
/// gateway still runs, with fewer connections.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            let current = rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft);
            tracing::warn!(error = %e, ?current, "cannot raise the open-file limit");
            current
        }
    }
}

/// The connection cap for an open-file limit: what is left after [`RESERVED_DESCRIPTORS`]
/// (or an eighth of the limit, if more; but never more than half of it), up to
/// [`MAX_DEFAULT_CONNECTIONS`]. A limit of 1,024 gives 768; 65,536 gives 16,384.
pub fn default_max_connections(open_files: u64) -> usize {
    let reserve = RESERVED_DESCRIPTORS.max(open_files / 8).min(open_files / 2);
    let cap = open_files.saturating_sub(reserve).max(1);
    usize::try_from(cap)
        .unwrap_or(usize::MAX)
        .min(MAX_DEFAULT_CONNECTIONS)
}

/// The connection cap: `configured`, or what the open-file limit leaves (see
/// [`default_max_connections`]; 1,024 descriptors are assumed when the limit is unknown).
/// A configured cap above what the limit leaves is kept, and warned about.
pub fn connection_cap(configured: Option<usize>, open_files: Option<u64>) -> usize {
    let derived = default_max_connections(open_files.unwrap_or(1024));
    let cap = match configured {
        Some(configured) if configured > derived => {
            tracing::warn!(
                configured,
                open_files,
                "server.max_connections is more than the open-file limit leaves room for: \
                 accepting may fail for want of descriptors"
            );
            configured
        }
        Some(configured) => configured,
        None => derived,
    };
    tracing::info!(max_connections = cap, open_files, "connection cap");
    cap
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in
/// progress (see the module doc) and returns.
pub async fn serve<F>(listener: TcpListener, router: Router, config: ServeConfig, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let max_connections = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_BUFFER);
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let at_cap = Occasional::new(REPORT_EVERY);
    let mut cap_reached: u64 = 0;
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(shutdown);

    loop {
        while connections.try_join_next().is_some() {}
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                cap_reached += 1;
                if at_cap.due() {
                    tracing::warn!(
                        max_connections,
                        times = std::mem::take(&mut cap_reached),
                        "connection cap reached: new connections wait until open ones close"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    accept_errors.reset();
                    (stream, peer)
                }
                Err(e) if is_about_one_connection(&e) => continue,
                Err(e) => {
                    let pause = accept_errors.failed(&e);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        // Each request carries the client's address, as axum's `ConnectInfo` reads it.
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _slot = slot;
            let stopped = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                // Timeouts, resets and malformed requests: the client's business, and
                // too many to log one by one under an attack.
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }

    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_s = config.shutdown_grace.as_secs(),
            "closing connections still busy after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

/// Errors `accept` reports about a connection that went away before we took it.
fn is_about_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Consecutive accept failures: how long to pause, and when to say so.
struct AcceptErrors {
    pause: Duration,
    since_report: u64,
    report: Occasional,
}

impl Default for AcceptErrors {
    fn default() -> AcceptErrors {
        AcceptErrors {
            pause: Duration::ZERO,
            since_report: 0,
            report: Occasional::new(REPORT_EVERY),
        }
    }
}

impl AcceptErrors {
    fn failed(&mut self, e: &io::Error) -> Duration {
        self.pause = (self.pause * 2).clamp(BACKOFF_FIRST, BACKOFF_MAX);
        self.since_report += 1;
        if self.report.due() {
            tracing::error!(
                error = %e,
                failures = self.since_report,
                pause_ms = self.pause.as_millis() as u64,
                "cannot accept connections; pausing before trying again"
            );
            self.since_report = 0;
        }
        self.pause
    }

    fn reset(&mut self) {
        self.pause = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    #[test]
    fn the_default_cap_leaves_descriptors_for_the_database_and_notifications() {
        assert_eq!(default_max_connections(1024), 768);
        assert_eq!(default_max_connections(4096), 3584);
        assert_eq!(default_max_connections(20_000), 16_384);
        assert_eq!(default_max_connections(65_536), MAX_DEFAULT_CONNECTIONS);
        assert_eq!(default_max_connections(u64::MAX), MAX_DEFAULT_CONNECTIONS);
        // A tiny limit still leaves half of it to the rest of the process.
        assert_eq!(default_max_connections(64), 32);
        assert_eq!(default_max_connections(1), 1);
    }

    #[test]
    fn a_configured_cap_is_kept_and_an_absent_one_derived() {
        assert_eq!(connection_cap(Some(10), Some(1024)), 10);
        assert_eq!(
            connection_cap(Some(5000), Some(1024)),
            5000,
            "kept, with a warning"
        );
        assert_eq!(connection_cap(None, Some(4096)), 3584);
        assert_eq!(connection_cap(None, None), 768, "1,024 descriptors assumed");
    }

    #[test]
    fn accept_failures_back_off_from_5_ms_doubling_to_a_second_and_reset_on_success() {
        let mut errors = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(24);
        let pauses: Vec<_> = (0..10).map(|_| errors.failed(&emfile)).collect();
        assert_eq!(pauses[0], Duration::from_millis(5));
        assert_eq!(pauses[1], Duration::from_millis(10));
        assert_eq!(pauses[7], Duration::from_millis(640));
        assert_eq!(pauses[8], Duration::from_secs(1));
        assert_eq!(pauses[9], Duration::from_secs(1));
        errors.reset();
        assert_eq!(errors.failed(&emfile), Duration::from_millis(5));
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let limit = raise_open_file_limit().expect("a readable limit");
        let (soft, hard) = rlimit::Resource::NOFILE.get().expect("limits");
        assert_eq!(limit, soft);
        assert_eq!(soft, hard);
    }

    async fn start(
        router: Router,
        config: ServeConfig,
    ) -> (
        std::net::SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, config, async {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    async fn send(stream: &mut TcpStream, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = vec![0; 4096];
        let n = stream.read(&mut reply).await.unwrap();
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    #[tokio::test]
    async fn shutdown_finishes_the_request_in_progress_and_then_refuses_connections() {
        let router = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "finished"
            }),
        );
        let (addr, stop, server) = start(router, ServeConfig::new(8, Duration::from_secs(5))).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        assert!(
            send(&mut idle, "/nothing")
                .await
                .starts_with("HTTP/1.1 404")
        );
        let in_progress = tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let request = "GET /slow HTTP/1.1\r\nhost: test\r\n\r\n";
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut reply = String::new();
            stream.read_to_string(&mut reply).await.unwrap();
            reply
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        let reply = in_progress.await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("finished"), "{reply}");
        // The idle kept-alive connection is closed, not left to its timeout.
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(2), idle.read_to_end(&mut rest));
        assert!(closed.await.is_ok(), "the idle connection was closed");
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("serve returns once the requests in progress are done")
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }

    #[tokio::test]
    async fn a_connection_that_sends_no_headers_is_closed_after_the_header_timeout() {
        let router = Router::new().route("/", get(|| async { "ok" }));
        let timeout = Duration::from_millis(300);
        let (addr, _stop, _server) = start(router, ServeConfig::new(8, timeout)).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nhost:").await.unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest));
        let _ = read.await.expect("closed by the server");
        let waited = started.elapsed();
        assert!(waited >= timeout && waited < timeout * 4, "{waited:?}");
        // A kept-alive connection left idle after a request is closed the same way.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        assert!(send(&mut idle, "/").await.starts_with("HTTP/1.1 200"));
        let started = std::time::Instant::now();
        let read = tokio::time::timeout(Duration::from_secs(3), idle.read_to_end(&mut rest));
        let _ = read.await.expect("closed by the server");
        let waited = started.elapsed();
        assert!(waited >= timeout && waited < timeout * 4, "{waited:?}");
    }

    #[tokio::test]
    async fn at_the_cap_a_new_connection_waits_for_a_slot_and_open_ones_are_served() {
        let router = Router::new().route("/", get(|| async { "ok" }));
        let timeout = Duration::from_millis(500);
        let (addr, _stop, _server) = start(router, ServeConfig::new(2, timeout)).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        assert!(send(&mut first, "/").await.starts_with("HTTP/1.1 200"));
        // The second slot goes to a connection that sends nothing.
        let _silent = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A third is queued by the kernel until a slot frees.
        let started = std::time::Instant::now();
        let mut third = TcpStream::connect(addr).await.unwrap();
        let waiting = tokio::spawn(async move { send(&mut third, "/").await });
        // Meanwhile the open connection is served at once.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let served = std::time::Instant::now();
        assert!(send(&mut first, "/").await.starts_with("HTTP/1.1 200"));
        assert!(served.elapsed() < Duration::from_millis(200));
        assert!(!waiting.is_finished(), "no slot yet");
        let reply = waiting.await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        let waited = started.elapsed();
        // The silent connection times out first and frees its slot.
        assert!(waited >= timeout - Duration::from_millis(100), "{waited:?}");
        assert!(waited < timeout * 3, "{waited:?}");
    }
}
