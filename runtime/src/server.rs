//! The client side of the router: accepting connections (at most
//! [`Limits::max_connections`] at once; beyond it the listener's backlog waits), serving them
//! (HTTP/1.1 with the router's own server, `h1.rs`; HTTP/2 with prior knowledge with hyper),
//! and closing the ones that stall.
//!
//! A connection is *busy* while a request on it has not been fully answered, and *quiet*
//! otherwise. A quiet connection is closed when
//! - the head of a request is not complete [`Limits::header_timeout`] after its first byte
//!   (after the accept, for the first request): slowloris clients that trickle headers, or
//!   connect and send nothing, are cut off;
//! - nothing arrives for [`Limits::idle_timeout`] after the last answer (keep-alive idle).
//!
//! A busy connection has no client-side timeout here: the request's own timeout (504) bounds
//! it. Each connection has one watchdog timer; the request path only bumps counters.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::front::{self, Front};
use crate::h1;

/// Client-side limits of the router.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest request body (413 beyond).
    pub max_request_body: u64,
    /// Request-body bytes held in memory at once over all requests (bodies a synthetic
    /// instance reads whole are refused with 503 beyond it; proxied bodies wait for room).
    pub max_inflight_body: u64,
    /// Client connections open at once (more wait in the listen backlog).
    pub max_connections: usize,
    /// A request head must be complete this long after its first byte (wall time).
    pub header_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed (wall time).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_body: 32 << 20,
            max_inflight_body: 256 << 20,
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
        }
    }
}

/// What the watchdog of one connection looks at. The request path only bumps counters (no
/// clock reads): the watchdog wakes every quarter of the shortest limit and measures quiet
/// spells by how many wake-ups saw no change, so a connection is closed between its limit and
/// its limit plus a quarter of the shortest one.
pub(crate) struct ConnState {
    /// Requests not fully answered.
    busy: AtomicU32,
    /// Bytes of a new request arrived while quiet (the header timeout applies).
    reading: AtomicBool,
    /// Bumped at every change between quiet and busy, and at the first byte of a request.
    activity: AtomicU64,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            busy: AtomicU32::new(0),
            // The first request's head is due from the accept on.
            reading: AtomicBool::new(true),
            activity: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn on_read(&self) {
        if self.busy.load(Ordering::Relaxed) == 0 && !self.reading.load(Ordering::Relaxed) {
            self.reading.store(true, Ordering::Relaxed);
            self.activity.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request's head was read: the connection is busy until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> ConnGuard {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.reading.store(false, Ordering::Relaxed);
        ConnGuard(self.clone())
    }
}

/// Held by a request's answer; dropping it (the answer was written, or abandoned) ends the
/// request's busy spell.
pub(crate) struct ConnGuard(Arc<ConnState>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.activity.fetch_add(1, Ordering::Relaxed);
    }
}

/// Returns when the connection has been quiet for too long.
async fn watchdog(st: Arc<ConnState>, header: Duration, idle: Duration) {
    let tick = (header.min(idle) / 4).max(Duration::from_millis(10));
    let mut seen = st.activity.load(Ordering::Relaxed);
    let mut quiet = Duration::ZERO;
    loop {
        tokio::time::sleep(tick).await;
        let now = st.activity.load(Ordering::Relaxed);
        if now != seen || st.busy.load(Ordering::Relaxed) > 0 {
            seen = now;
            quiet = Duration::ZERO;
            continue;
        }
        quiet += tick;
        let limit = if st.reading.load(Ordering::Relaxed) {
            header
        } else {
            idle
        };
        if quiet >= limit {
            return;
        }
    }
}

/// Serves an HTTP/2 connection (prior knowledge) with hyper; `pre` is what was read of it
/// already.
pub(crate) async fn serve_h2(
    front: Arc<Front>,
    io: TcpStream,
    pre: bytes::Bytes,
    st: Arc<ConnState>,
    mut stop: watch::Receiver<bool>,
) {
    let s = st.clone();
    let svc = hyper::service::service_fn(move |req| {
        let f = front.clone();
        let guard = s.begin();
        async move { Ok::<_, Infallible>(front::handle(f, guard, req).await) }
    });
    let io = TokioIo::new(h1::Prepend { pre, io, st });
    let conn =
        hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Accepts connections until told to stop, then waits for open connections to finish their
/// requests (idle ones close at once).
/// A source outside `--allow-from`: reads what it sent (briefly), answers 403
/// `source-not-allowed` and closes the connection.
async fn forbid(mut stream: tokio::net::TcpStream, permit: tokio::sync::OwnedSemaphorePermit) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _permit = permit;
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
    let body = "source-not-allowed\n";
    let answer = format!(
        "HTTP/1.1 403 Forbidden\r\nx-scalelab-reason: source-not-allowed\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    front: Arc<Front>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = front.limits.clone();
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p,
            _ = stop.changed() => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of file descriptors and the like: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        if !crate::allow::allowed(&front.allow_from, peer.ip()) {
            front
                .forbidden
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(forbid(stream, permit));
            continue;
        }
        let _ = stream.set_nodelay(true);
        let st = Arc::new(ConnState::new());
        let f = front.clone();
        let (header, idle) = (limits.header_timeout, limits.idle_timeout);
        let stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                biased;
                _ = h1::serve(f, stream, st.clone(), stop) => {}
                _ = watchdog(st, header, idle) => {}
            }
        });
    }
    drop(listener);
    // Every connection gives its slot back when it ends.
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}
