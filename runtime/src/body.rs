//! Bodies: the router's response body (complete, or streaming from an instance with the
//! request's accounting at its end) and the global budget of request-body bytes the router
//! holds in memory at once.
//!
//! Memory stays bounded whatever clients send: a request body is never read before its request
//! was admitted to an instance; a proxied body streams through (one gathered chunk of at most
//! 64 KiB per request at a time, each counted against the budget while it is written); a body a
//! synthetic instance needs whole (the hello function's JSON) is counted against the budget as
//! it is read, and refused with 503 when the budget is spent. Each client connection's own
//! buffer is bounded by hyper's `max_buf_size`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::front::Ticket;
use crate::platform::Answer;
use crate::server::ConnGuard;
use crate::upstream::Stream;

/// A client's request body, whichever server reads it.
pub(crate) trait ClientBody {
    /// The next piece of the body (`None` at its end; `Err` when the client broke off).
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>>;
    /// The exact length still to come, when known.
    fn exact_len(&self) -> Option<u64>;
    /// True when nothing more will come.
    fn is_end(&self) -> bool;
}

/// A body read by hyper (HTTP/2). Trailers are dropped.
impl ClientBody for hyper::body::Incoming {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>> {
        use hyper::body::Body as _;
        loop {
            return match Pin::new(&mut *self).poll_frame(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(()))),
                Poll::Ready(Some(Ok(f))) => match f.into_data() {
                    Ok(d) => Poll::Ready(Some(Ok(d))),
                    Err(_) => continue,
                },
            };
        }
    }

    fn exact_len(&self) -> Option<u64> {
        hyper::body::Body::size_hint(self).exact()
    }

    fn is_end(&self) -> bool {
        hyper::body::Body::is_end_stream(self)
    }
}

/// No body.
pub(crate) struct NoBody;

impl ClientBody for NoBody {
    fn poll_data(&mut self, _: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>> {
        Poll::Ready(None)
    }

    fn exact_len(&self) -> Option<u64> {
        Some(0)
    }

    fn is_end(&self) -> bool {
        true
    }
}

/// The error type of the router's bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Request-body bytes the router may hold at once, over all requests.
#[derive(Clone)]
pub(crate) struct Budget {
    sem: Arc<Semaphore>,
    total: usize,
}

/// Bytes taken from the [`Budget`], given back when dropped.
pub(crate) struct Lease(Option<OwnedSemaphorePermit>);

impl Budget {
    pub fn new(bytes: u64) -> Budget {
        let total = usize::try_from(bytes)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            sem: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes free now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }

    /// Takes `n` bytes, waiting for room (a single piece larger than the whole budget takes
    /// all of it).
    pub async fn acquire(&self, n: usize) -> Lease {
        let n = u32::try_from(n.min(self.total)).unwrap_or(u32::MAX);
        Lease(self.sem.clone().acquire_many_owned(n).await.ok())
    }

    /// Takes `n` bytes if they are free now.
    pub fn try_take(&self, n: usize) -> Option<Lease> {
        let n = u32::try_from(n.min(self.total)).ok()?;
        self.sem
            .clone()
            .try_acquire_many_owned(n)
            .ok()
            .map(|p| Lease(Some(p)))
    }
}

impl Lease {
    pub fn empty() -> Lease {
        Lease(None)
    }

    /// Adds `other`'s bytes to this lease.
    pub fn add(&mut self, other: Lease) {
        match (&mut self.0, other.0) {
            (Some(a), Some(b)) => a.merge(b),
            (slot @ None, b) => *slot = b,
            (_, None) => {}
        }
    }

    /// Gives the bytes back now.
    pub fn release(&mut self) {
        self.0 = None;
    }
}

/// The body of every answer the router gives.
pub(crate) struct Body {
    inner: Inner,
    /// Ends the client connection's busy period when the answer is done (see
    /// [`crate::server`]).
    pub(crate) conn: Option<ConnGuard>,
}

enum Inner {
    Full(Option<Bytes>),
    Stream(Box<Streaming>),
}

/// A response body still coming from an instance; its request ends with it.
pub(crate) struct Streaming {
    pub stream: Stream,
    pub ticket: Ticket,
    pub status: u16,
    pub deadline: Pin<Box<Sleep>>,
}

impl Body {
    pub fn full(b: impl Into<Bytes>) -> Body {
        let b: Bytes = b.into();
        Body {
            inner: Inner::Full((!b.is_empty()).then_some(b)),
            conn: None,
        }
    }

    /// The whole body when it is complete already (`None` for a streaming one).
    pub fn take_full(&mut self) -> Option<Bytes> {
        match &mut self.inner {
            Inner::Full(b) => Some(b.take().unwrap_or_default()),
            Inner::Stream(_) => None,
        }
    }

    pub fn streaming(s: Streaming) -> Body {
        Body {
            inner: Inner::Stream(Box::new(s)),
            conn: None,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Inner::Stream(s) => {
                if s.ticket.is_done() {
                    return Poll::Ready(None);
                }
                match s.stream.poll_next(cx) {
                    Poll::Ready(Some(Ok(b))) => {
                        // hyper stops polling once it has written a known length: the request
                        // ends with its last byte, not with a poll nobody makes.
                        if s.stream.complete() {
                            s.ticket.finish(Answer::Answered(s.status));
                        }
                        Poll::Ready(Some(Ok(Frame::data(b))))
                    }
                    Poll::Ready(None) => {
                        s.ticket.finish(Answer::Answered(s.status));
                        Poll::Ready(None)
                    }
                    Poll::Ready(Some(Err(e))) => {
                        s.ticket.finish(Answer::Failed);
                        Poll::Ready(Some(Err(e.into())))
                    }
                    Poll::Pending => {
                        if s.deadline.as_mut().poll(cx).is_ready() {
                            s.ticket.finish(Answer::TimedOut);
                            return Poll::Ready(Some(Err("the request timed out".into())));
                        }
                        Poll::Pending
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(b) => b.is_none(),
            Inner::Stream(s) => s.ticket.is_done(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::Stream(s) => match s.stream.remaining() {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_is_shared_and_given_back() {
        let b = Budget::new(100);
        let mut a = b.try_take(60).expect("60 of 100");
        assert!(b.try_take(50).is_none(), "only 40 left");
        a.add(b.try_take(40).expect("40"));
        assert_eq!(b.available(), 0);
        a.release();
        assert_eq!(b.available(), 100);
        // A piece larger than the whole budget takes all of it instead of waiting forever.
        let all = b.acquire(1_000).await;
        assert_eq!(b.available(), 0);
        drop(all);
        assert_eq!(b.available(), 100);
    }
}
