//! The client side of the router: accepting connections (at most
//! [`Limits::max_connections`] at once; beyond it the listener's backlog waits), serving them
//! with hyper (HTTP/1.1, and HTTP/2 with prior knowledge), and closing the ones that stall.
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
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::front::{self, Front};

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
    fn on_read(&self) {
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

/// A client connection's socket, reporting reads to its watchdog.
struct Watched {
    io: TcpStream,
    st: Arc<ConnState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.st.on_read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Accepts connections until told to stop, then lets open connections finish their requests.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    front: Arc<Front>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = front.limits.clone();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Bounds each connection's read buffer, and so the size of a request head.
    builder.http1().max_buf_size(64 * 1024);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
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
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let st = Arc::new(ConnState::new());
        let f = front.clone();
        let s = st.clone();
        let svc = hyper::service::service_fn(move |req| {
            let f = f.clone();
            let guard = s.begin();
            async move { Ok::<_, Infallible>(front::handle(f, guard, req).await) }
        });
        let io = TokioIo::new(Watched {
            io: stream,
            st: st.clone(),
        });
        let conn = builder.serve_connection(io, svc).into_owned();
        let conn = graceful.watch(conn);
        let (header, idle) = (limits.header_timeout, limits.idle_timeout);
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                biased;
                _ = conn => {}
                _ = watchdog(st, header, idle) => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
