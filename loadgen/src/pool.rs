//! The connection pool of the HTTP/2 path (`--http2`), sized by the offered load. (Plain
//! HTTP/1.1 runs use dedicated connections instead, see [`crate::engine`]; this pool serves
//! HTTP/1.1 only when a server refuses h2 through ALPN.)
//!
//! HTTP/1.1 connections are used by one request at a time: a request takes an idle connection,
//! or opens a new one while fewer than `max` are open, or waits in FIFO order for one to come
//! back. The wait happens after the request's intended send time, so it counts in its latency,
//! as it would for a real client with a bounded pool. HTTP/2 connections are shared: requests
//! multiplex over up to `h2_max` of them, round robin.
//!
//! Every open connection holds one *slot* (`State::open`). A slot is an RAII [`Slot`]: dropping
//! one that is still armed frees the slot and hands the right to open a connection to the next
//! waiter, so a request that times out or is aborted while holding or waiting for a connection
//! never leaks capacity.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper::body::Incoming;
use tokio::sync::oneshot;

use crate::conn::{Connector, H1Sender, H2Sender, Sender};
use crate::outcome::Outcome;

/// A pool of connections to one target.
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    connector: Arc<Connector>,
    state: Mutex<State>,
}

struct State {
    idle: Vec<H1Sender>,
    h2: Vec<H2Sender>,
    rr: usize,
    open: usize,
    max: usize,
    h1_max: usize,
    waiters: VecDeque<oneshot::Sender<Grant>>,
    opened_total: u64,
    peak_open: usize,
}

/// What a waiting request is handed.
enum Grant {
    /// An idle HTTP/1.1 connection.
    Reuse(Slot),
    /// The right to open a new connection.
    Open(Slot),
    /// A shared HTTP/2 connection.
    H2(H2Sender),
}

/// One unit of the pool's capacity, optionally with the HTTP/1.1 connection that fills it.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    conn: Option<H1Sender>,
    armed: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            self.conn = None;
            let mut s = self.shared.lock();
            s.open -= 1;
            grant_open(&self.shared, &mut s);
        }
    }
}

/// Gives the right to open a connection to the first live waiter, if capacity allows.
fn grant_open(shared: &Arc<Shared>, s: &mut State) {
    while s.open < s.max {
        let Some(tx) = s.waiters.pop_front() else {
            return;
        };
        s.open += 1;
        let slot = Slot {
            shared: shared.clone(),
            conn: None,
            armed: true,
        };
        match tx.send(Grant::Open(slot)) {
            Ok(()) => return,
            Err(g) => {
                s.open -= 1;
                disarm(g);
            }
        }
    }
}

/// Drops a grant that was never delivered without touching the pool (the caller holds the lock
/// and has already accounted for it).
fn disarm(g: Grant) {
    match g {
        Grant::Reuse(mut slot) | Grant::Open(mut slot) => slot.armed = false,
        Grant::H2(_) => {}
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters half-updated in a way that
        // matters more than stopping the run, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection held by one request.
pub(crate) enum Lease {
    /// Exclusive HTTP/1.1.
    H1(Slot),
    /// Shared HTTP/2.
    H2(H2Sender),
}

/// Pool figures for the report.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PoolStats {
    pub open: usize,
    pub opened_total: u64,
    pub peak_open: usize,
}

enum Next {
    Ready(Lease),
    Open(Slot),
    Wait(oneshot::Receiver<Grant>),
}

impl Pool {
    /// A pool of at most `max` HTTP/1.1 connections or `h2_max` HTTP/2 connections.
    pub(crate) fn new(connector: Arc<Connector>, http2: bool, max: usize, h2_max: usize) -> Pool {
        let h1_max = max.max(1);
        Pool {
            shared: Arc::new(Shared {
                connector,
                state: Mutex::new(State {
                    idle: Vec::new(),
                    h2: Vec::new(),
                    rr: 0,
                    open: 0,
                    max: if http2 { h2_max.max(1) } else { h1_max },
                    h1_max,
                    waiters: VecDeque::new(),
                    opened_total: 0,
                    peak_open: 0,
                }),
            }),
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let s = self.shared.lock();
        PoolStats {
            open: s.open,
            opened_total: s.opened_total,
            peak_open: s.peak_open,
        }
    }

    fn next(&self) -> Next {
        let mut s = self.shared.lock();
        while !s.h2.is_empty() {
            s.rr = s.rr.wrapping_add(1);
            let i = s.rr % s.h2.len();
            if s.h2[i].is_closed() {
                s.h2.swap_remove(i);
                s.open -= 1;
            } else {
                return Next::Ready(Lease::H2(s.h2[i].clone()));
            }
        }
        while let Some(conn) = s.idle.pop() {
            if conn.is_closed() {
                s.open -= 1;
            } else {
                return Next::Ready(Lease::H1(Slot {
                    shared: self.shared.clone(),
                    conn: Some(conn),
                    armed: true,
                }));
            }
        }
        if s.open < s.max {
            s.open += 1;
            return Next::Open(Slot {
                shared: self.shared.clone(),
                conn: None,
                armed: true,
            });
        }
        let (tx, rx) = oneshot::channel();
        s.waiters.push_back(tx);
        Next::Wait(rx)
    }

    /// A connection ready to take a request: idle, new, or after waiting for one. A reused
    /// connection that turns out to be dead is replaced; a new one that fails is the request's
    /// outcome. The caller bounds the whole wait with the request's deadline.
    pub(crate) async fn acquire(&self) -> Result<Lease, Outcome> {
        // Opening a connection (TCP, TLS, handshake) is a large future and rare; boxing it keeps
        // the many requests that wait for a connection in an overloaded open loop small.
        loop {
            let (mut lease, reused) = match self.next() {
                Next::Ready(lease) => (lease, true),
                Next::Open(slot) => (Box::pin(self.open(slot)).await?, false),
                Next::Wait(rx) => match rx.await {
                    Ok(Grant::Reuse(slot)) => (Lease::H1(slot), true),
                    Ok(Grant::H2(sender)) => (Lease::H2(sender), true),
                    Ok(Grant::Open(slot)) => (Box::pin(self.open(slot)).await?, false),
                    Err(_) => continue,
                },
            };
            match lease.ready().await {
                Ok(()) => return Ok(lease),
                Err(_) if reused => continue,
                Err(e) => return Err(Outcome::from_hyper(&e)),
            }
        }
    }

    async fn open(&self, mut slot: Slot) -> Result<Lease, Outcome> {
        // On failure `slot` drops here and passes the right to open on to the next waiter.
        let sender = self.shared.connector.connect_shared().await?;
        let mut s = self.shared.lock();
        s.opened_total += 1;
        s.peak_open = s.peak_open.max(s.open);
        match sender {
            Sender::H1(conn) => {
                // An HTTP/2 request over TLS may be answered by an HTTP/1.1-only server (ALPN);
                // then the HTTP/1.1 limit applies.
                if s.max < s.h1_max && s.h2.is_empty() {
                    s.max = s.h1_max;
                    grant_open(&self.shared, &mut s);
                }
                drop(s);
                slot.conn = Some(conn);
                Ok(Lease::H1(slot))
            }
            Sender::H2(conn) => {
                // The slot now belongs to the shared list, which gives it back when it finds the
                // connection closed.
                slot.armed = false;
                s.h2.push(conn.clone());
                while let Some(tx) = s.waiters.pop_front() {
                    let _ = tx.send(Grant::H2(conn.clone())).map_err(disarm);
                }
                Ok(Lease::H2(conn))
            }
        }
    }
}

impl Lease {
    async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Lease::H1(slot) => match slot.conn.as_mut() {
                Some(c) => c.ready().await,
                None => Ok(()),
            },
            Lease::H2(c) => c.ready().await,
        }
    }

    /// Sends a request and waits for the response head.
    pub(crate) async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<hyper::Response<Incoming>, hyper::Error> {
        match self {
            Lease::H1(slot) => match slot.conn.as_mut() {
                Some(conn) => conn.send_request(req).await,
                None => unreachable!("an HTTP/1.1 lease always holds its connection"),
            },
            Lease::H2(c) => c.send_request(req).await,
        }
    }

    /// Whether requests on this connection are written in HTTP/2 form.
    pub(crate) fn is_h2(&self) -> bool {
        matches!(self, Lease::H2(_))
    }

    /// Returns an HTTP/1.1 connection whose response was read completely to the pool (or to
    /// the first waiter). Dropping a lease instead closes the connection.
    pub(crate) fn recycle(self) {
        let Lease::H1(mut slot) = self else { return };
        let Some(conn) = slot.conn.take() else { return };
        if conn.is_closed() {
            return; // `slot` drops armed: frees the capacity.
        }
        let shared = slot.shared.clone();
        let mut s = shared.lock();
        slot.conn = Some(conn);
        while let Some(tx) = s.waiters.pop_front() {
            match tx.send(Grant::Reuse(slot)) {
                Ok(()) => return,
                Err(Grant::Reuse(back)) => slot = back,
                Err(other) => {
                    disarm(other);
                    return;
                }
            }
        }
        slot.armed = false;
        if let Some(conn) = slot.conn.take() {
            s.idle.push(conn);
        }
    }
}
