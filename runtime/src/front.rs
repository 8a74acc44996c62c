//! The router/activator's HTTP side: access control, the reserved paths, the choice of
//! revision (traffic split, tagged URLs), then the platform's admission (start, queue or
//! reject) and the request's execution: in-process on a synthetic instance, or proxied to a
//! command instance ([`crate::upstream`]) with both bodies streamed, until its deadline.
//!
//! A request's platform accounting is held by a [`Ticket`]: it ends exactly once, when the
//! answer is complete (or failed, or timed out); a client that goes away first drops the
//! ticket, which leaves the queue or frees the instance slot at once (499 in the books) instead
//! of keeping it for a response nobody reads.
//!
//! Answers the platform gives itself carry `x-scalelab-reason`:
//!
//! | status | reason | when |
//! |---|---|---|
//! | 400 | `body-unreadable` | the request body broke off |
//! | 401 | `missing-token` | no `Authorization: Bearer …` while authentication is on |
//! | 403 | `wrong-token` | a bearer token that is not the run's |
//! | 404 | `unknown-revision` | `x-scalelab-revision` or `/@tag/` names no revision's tag |
//! | 413 | `body-too-large` | request body over the limit (`--max-request-body`, 32 MiB) |
//! | 429 | `max-instances` | keepalive autoscaler at `max_instances` |
//! | 502 | `instance-failed` | the instance refused, reset or crashed |
//! | 503 | `activator-queue-full` / `pending-request-queue-full` | the activator's or an instance's queue is full |
//! | 503 | `body-budget-exhausted` | the router holds `--max-inflight-body` bytes of request bodies already |
//! | 503 | `revision-failed` | the revision's instances keep failing to start |
//! | 503 | `shutting-down` | the run is draining |
//! | 504 | `timeout` | the request timeout passed (queued or running) |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use scalelab_core::Time;
use scalelab_core::ids::{ReqId, RevId};
use scalelab_core::platform::Reply;

use crate::InstanceKind;
use crate::body::{Body, Budget, Lease, Streaming};
use crate::platform::{Admit, Answer, Running, Shared, Start};
use crate::server::{ConnGuard, Limits};
use crate::upstream::{self, ReqBody, ReqFraming, RespBody, UpError};

/// The header naming the revision (by tag) a request is for.
pub const REVISION_HEADER: &str = "x-scalelab-revision";
/// The header on the platform's own answers saying why.
pub const REASON_HEADER: &str = "x-scalelab-reason";
/// The header on proxied answers naming the instance that served it.
pub const INSTANCE_HEADER: &str = "x-scalelab-instance";
/// The header on proxied answers that waited for a cold start (`1`).
pub const COLD_HEADER: &str = "x-scalelab-cold-start";
/// Prometheus metrics, always (the router reserves every path under `/_scalelab/`).
pub const METRICS_PATH: &str = "/_scalelab/metrics";

static REVISION: HeaderName = HeaderName::from_static(REVISION_HEADER);
static INSTANCE: HeaderName = HeaderName::from_static(INSTANCE_HEADER);
static COLD: HeaderName = HeaderName::from_static(COLD_HEADER);

/// The router's configuration and handles.
pub(crate) struct Front {
    pub sh: Arc<Shared>,
    /// The bearer token requests need (`None`: unauthenticated access allowed).
    pub token: Option<String>,
    /// Serve `/metrics` too (else it goes to the service).
    pub root_metrics: bool,
    /// Set when the run drains: new requests get 503.
    pub draining: AtomicBool,
    pub limits: Limits,
    pub budget: Budget,
    /// `x-scalelab-revision` of each revision's answers.
    pub rev_headers: Vec<HeaderValue>,
    /// The synthetic instances' behaviour (`None`: command instances).
    pub synthetic: Option<Synth>,
}

/// How synthetic instances answer.
pub(crate) struct Synth {
    pub hello: bool,
    pub allowed_origin: String,
}

impl Front {
    pub fn new(
        sh: Arc<Shared>,
        token: Option<String>,
        root_metrics: bool,
        limits: Limits,
    ) -> Front {
        let rev_headers = sh
            .revs
            .iter()
            .map(|r| {
                HeaderValue::from_str(&r.name).unwrap_or_else(|_| HeaderValue::from_static("?"))
            })
            .collect();
        let synthetic = match &sh.instances {
            InstanceKind::Synthetic {
                hello,
                allowed_origin,
            } => Some(Synth {
                hello: *hello,
                allowed_origin: allowed_origin.clone(),
            }),
            InstanceKind::Command { .. } => None,
        };
        Front {
            budget: Budget::new(limits.max_inflight_body),
            sh,
            token,
            root_metrics,
            draining: AtomicBool::new(false),
            limits,
            rev_headers,
            synthetic,
        }
    }
}

/// A plain answer from the platform itself.
pub(crate) fn refuse(status: StatusCode, reason: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::full(Bytes::from_static(reason.as_bytes())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(REASON_HEADER, HeaderValue::from_static(reason));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Compares two strings in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request is refused access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Denied {
    /// No bearer token (401).
    Missing,
    /// A token that is not the run's (403).
    Wrong,
}

impl Denied {
    fn response(self) -> Response<Body> {
        match self {
            Denied::Missing => {
                let mut r = refuse(StatusCode::UNAUTHORIZED, "missing-token");
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            Denied::Wrong => refuse(StatusCode::FORBIDDEN, "wrong-token"),
        }
    }
}

/// Checks `Authorization: Bearer <token>`.
fn authorize(expected: &str, headers: &HeaderMap) -> Result<(), Denied> {
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Denied::Missing)?;
    let token = match v.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err(Denied::Missing),
    };
    if same_secret(token.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Denied::Wrong)
    }
}

/// The revision a tag names. Revisions are reachable by their tag only (as Knative's tagged
/// URLs): an untagged revision gets exactly its share of the traffic split, and one at 0 %
/// none.
fn find_revision(sh: &Shared, tag: &str) -> Option<RevId> {
    sh.revs
        .iter()
        .position(|c| c.tag.as_deref() == Some(tag))
        .map(|r| RevId(r as u16))
}

/// Handles one request to the router; `conn` is the client connection's busy guard, which the
/// answer holds until it is written.
pub(crate) async fn handle(
    front: Arc<Front>,
    conn: ConnGuard,
    req: Request<Incoming>,
) -> Response<Body> {
    let mut r = route(&front, req).await;
    r.body_mut().conn = Some(conn);
    r
}

async fn route(front: &Arc<Front>, req: Request<Incoming>) -> Response<Body> {
    if let Some(t) = &front.token
        && let Err(denied) = authorize(t, req.headers())
    {
        return denied.response();
    }
    let path = req.uri().path();
    if path == METRICS_PATH || (front.root_metrics && path == "/metrics") {
        let mut r = Response::new(Body::full(crate::prom::render(&front.sh)));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return r;
    }
    if front.draining.load(Ordering::Relaxed) {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "shutting-down");
    }
    // Which revision: a tag header, a `/@tag/` path prefix, else the traffic split.
    let mut forward_path: Option<String> = None;
    let rev = if let Some(v) = req.headers().get(&REVISION) {
        match v.to_str().ok().and_then(|k| find_revision(&front.sh, k)) {
            Some(r) => Some(r),
            None => return refuse(StatusCode::NOT_FOUND, "unknown-revision"),
        }
    } else if let Some(rest) = path.strip_prefix("/@") {
        let (key, tail) = rest.split_once('/').unwrap_or((rest, ""));
        match find_revision(&front.sh, key) {
            Some(r) => {
                let mut p = format!("/{tail}");
                if let Some(q) = req.uri().query() {
                    p.push('?');
                    p.push_str(q);
                }
                forward_path = Some(p);
                Some(r)
            }
            None => return refuse(StatusCode::NOT_FOUND, "unknown-revision"),
        }
    } else {
        None
    };
    // A body declared larger than the limit is refused before it takes a slot.
    if req
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n > front.limits.max_request_body)
    {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large");
    }
    let (parts, body) = req.into_parts();
    let sh = &front.sh;
    let (mut ticket, run) = match sh.arrive(rev) {
        Admit::Run(run) => (Ticket::running(front, &parts, run.clone()), run),
        Admit::Reject {
            rev,
            reply,
            arrival,
        } => return front.reply(rev, &parts, arrival, reply),
        Admit::Wait {
            req,
            rev,
            deadline,
            arrival,
            mut rx,
        } => {
            let mut ticket = Ticket::waiting(front, &parts, req, rev, arrival);
            let waited = tokio::time::timeout_at(sh.clock.wall_at(deadline), &mut rx).await;
            let start = match waited {
                Ok(started) => started.ok(),
                Err(_) => {
                    if sh.time_out(req, rev, arrival) {
                        ticket.answered();
                        return front.reply(rev, &parts, arrival, Reply::Timeout);
                    }
                    // It started just as its deadline passed: it times out on its instance.
                    rx.try_recv().ok()
                }
            };
            match start {
                Some(Start::Run(run)) => {
                    ticket.started(run.clone());
                    (ticket, run)
                }
                Some(Start::Reply(reply)) => {
                    ticket.answered();
                    return front.reply(rev, &parts, arrival, reply);
                }
                None => {
                    ticket.answered();
                    return front.reply(rev, &parts, arrival, Reply::InstanceFailed);
                }
            }
        }
    };
    let mut resp = if run.lost {
        ticket.finish(Answer::Failed);
        refuse(StatusCode::BAD_GATEWAY, "instance-failed")
    } else if let Some(up) = &run.up {
        front
            .proxy(ticket, &parts, forward_path.as_deref(), body, &run, up)
            .await
    } else if let Some(synth) = &front.synthetic {
        front
            .synthetic(&mut ticket, synth, &parts, body, &run)
            .await
    } else {
        ticket.finish(Answer::Failed);
        refuse(StatusCode::BAD_GATEWAY, "instance-failed")
    };
    let h = resp.headers_mut();
    h.insert(REVISION.clone(), front.rev_headers[run.rev.index()].clone());
    h.insert(INSTANCE.clone(), run.header.clone());
    if run.cold {
        h.insert(COLD.clone(), HeaderValue::from_static("1"));
    }
    resp
}

/// The request log's view of a request (kept only while a request log is written).
struct LogInfo {
    method: Method,
    path: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Running,
    Done,
}

/// A request's place in the platform's books, from its admission to its answer. Dropped before
/// the answer (the client went away), it takes the request out of its queue or off its
/// instance (499).
pub(crate) struct Ticket {
    sh: Arc<Shared>,
    phase: Phase,
    req: ReqId,
    rev: RevId,
    arrival: Time,
    run: Option<Running>,
    log: Option<Box<LogInfo>>,
}

impl Ticket {
    fn new(front: &Front, parts: &Parts, req: ReqId, rev: RevId, arrival: Time) -> Ticket {
        let log = front.sh.request_log.as_ref().map(|_| {
            Box::new(LogInfo {
                method: parts.method.clone(),
                path: parts.uri.path().to_string(),
            })
        });
        Ticket {
            sh: front.sh.clone(),
            phase: Phase::Waiting,
            req,
            rev,
            arrival,
            run: None,
            log,
        }
    }

    fn waiting(front: &Front, parts: &Parts, req: ReqId, rev: RevId, arrival: Time) -> Ticket {
        Ticket::new(front, parts, req, rev, arrival)
    }

    fn running(front: &Front, parts: &Parts, run: Running) -> Ticket {
        let mut t = Ticket::new(front, parts, run.req, run.rev, run.arrival);
        t.started(run);
        t
    }

    fn started(&mut self, run: Running) {
        self.phase = Phase::Running;
        self.run = Some(run);
    }

    /// The platform answered it itself (it was never started); the platform logged it.
    fn answered(&mut self) {
        self.phase = Phase::Done;
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The request ended on its instance.
    pub fn finish(&mut self, answer: Answer) {
        if self.phase != Phase::Running {
            return;
        }
        self.phase = Phase::Done;
        let Some(run) = self.run.take() else { return };
        self.sh.done(&run, answer);
        let (status, reason) = match answer {
            Answer::Answered(s) => (s, None),
            Answer::TimedOut => (504, Some("timeout")),
            Answer::Failed => (502, Some("instance-failed")),
            Answer::ClientClosed => (499, Some("client-closed")),
        };
        self.write_log(status, Some(run.inst.number()), run.cold, reason);
    }

    fn write_log(&self, status: u16, instance: Option<u64>, cold: bool, reason: Option<&str>) {
        let (Some(sink), Some(info)) = (&self.sh.request_log, &self.log) else {
            return;
        };
        let now = self.sh.clock.now();
        let latency_ms = now.0.saturating_sub(self.arrival.0) as f64 / 1e6;
        sink.json(&serde_json::json!({
            "t_s": self.arrival.as_secs_f64(),
            "revision": self.sh.revs[self.rev.index()].name,
            "method": info.method.as_str(),
            "path": info.path,
            "status": status,
            "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
            "instance": instance,
            "cold_start": cold,
            "reason": reason,
        }));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        match self.phase {
            Phase::Done => {}
            Phase::Running => self.finish(Answer::ClientClosed),
            Phase::Waiting => {
                self.phase = Phase::Done;
                self.sh.abandon(self.req, self.rev, self.arrival);
                self.write_log(499, None, false, Some("client-closed"));
            }
        }
    }
}

/// Reads a body whole, up to `max` bytes, each piece counted against the budget.
async fn read_whole(
    body: &mut Incoming,
    max: u64,
    budget: &Budget,
) -> Result<(Bytes, Lease), &'static str> {
    let mut lease = Lease::empty();
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut total = 0u64;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await
    {
        let Ok(frame) = frame else {
            return Err("body-unreadable");
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > max {
            return Err("body-too-large");
        }
        match budget.try_take(data.len()) {
            Some(l) => lease.add(l),
            None => return Err("body-budget-exhausted"),
        }
        pieces.push(data);
    }
    let whole = match pieces.len() {
        0 => Bytes::new(),
        1 => pieces.pop().unwrap_or_default(),
        _ => {
            let mut b = BytesMut::with_capacity(total as usize);
            for p in &pieces {
                b.extend_from_slice(p);
            }
            b.freeze()
        }
    };
    Ok((whole, lease))
}

impl Front {
    /// The platform's own answer to a request that never reached an instance, logged.
    fn reply(&self, rev: RevId, parts: &Parts, arrival: Time, reply: Reply) -> Response<Body> {
        let status = reply.status();
        if let Some(sink) = &self.sh.request_log {
            let latency_ms = self.sh.clock.now().0.saturating_sub(arrival.0) as f64 / 1e6;
            sink.json(&serde_json::json!({
                "t_s": arrival.as_secs_f64(),
                "revision": self.sh.revs[rev.index()].name,
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "status": status,
                "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
                "instance": serde_json::Value::Null,
                "cold_start": false,
                "reason": reply.reason(),
            }));
        }
        let mut r = refuse(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reply.reason(),
        );
        r.headers_mut()
            .insert(REVISION.clone(), self.rev_headers[rev.index()].clone());
        r
    }

    /// Serves a request on a synthetic instance, in-process: it holds the instance slot for
    /// its sampled service time (capped at its deadline), then answers.
    async fn synthetic(
        &self,
        ticket: &mut Ticket,
        synth: &Synth,
        parts: &Parts,
        mut body: Incoming,
        run: &Running,
    ) -> Response<Body> {
        let clock = &self.sh.clock;
        let started = clock.wall_now();
        let deadline = clock.wall_at(run.deadline);
        let mut lease = Lease::empty();
        let mut bytes = Bytes::new();
        if synth.hello && !body.is_end_stream() {
            let read = read_whole(&mut body, self.limits.max_request_body, &self.budget);
            match tokio::time::timeout_at(deadline, read).await {
                Ok(Ok((b, l))) => {
                    bytes = b;
                    lease = l;
                }
                Ok(Err(reason)) => {
                    let (status, answer) = match reason {
                        "body-too-large" => (StatusCode::PAYLOAD_TOO_LARGE, Answer::Answered(413)),
                        "body-budget-exhausted" => {
                            (StatusCode::SERVICE_UNAVAILABLE, Answer::Answered(503))
                        }
                        _ => (StatusCode::BAD_REQUEST, Answer::ClientClosed),
                    };
                    ticket.finish(answer);
                    return refuse(status, reason);
                }
                Err(_) => {
                    ticket.finish(Answer::TimedOut);
                    return refuse(StatusCode::GATEWAY_TIMEOUT, "timeout");
                }
            }
        }
        drop(body);
        let done_at = started + clock.to_wall(run.service);
        if done_at > deadline {
            tokio::time::sleep_until(deadline).await;
            ticket.finish(Answer::TimedOut);
            return refuse(StatusCode::GATEWAY_TIMEOUT, "timeout");
        }
        if !run.service.is_zero() {
            tokio::time::sleep_until(done_at).await;
        }
        let resp = if synth.hello {
            crate::hello::respond(
                &synth.allowed_origin,
                &parts.method,
                parts.uri.query(),
                &bytes,
            )
        } else {
            Response::new(http_body_util::Full::new(Bytes::new()))
        };
        drop(lease);
        let (p, b) = resp.into_parts();
        // The hello function's bodies are `Full`: their one frame, taken at once.
        let data = futures_bytes(b);
        ticket.finish(Answer::Answered(p.status.as_u16()));
        Response::from_parts(p, Body::full(data))
    }

    /// Proxies a request to its command instance, until its deadline.
    async fn proxy(
        &self,
        mut ticket: Ticket,
        parts: &Parts,
        forward_path: Option<&str>,
        mut body: Incoming,
        run: &Running,
        up: &Arc<upstream::Upstream>,
    ) -> Response<Body> {
        let target = forward_path
            .or_else(|| parts.uri.path_and_query().map(|p| p.as_str()))
            .unwrap_or("/");
        let framing = if body.is_end_stream() {
            ReqFraming::None
        } else {
            match body.size_hint().exact() {
                Some(n) => ReqFraming::Length(n),
                None => ReqFraming::Chunked,
            }
        };
        let head = upstream::Head {
            method: &parts.method,
            target,
            headers: &parts.headers,
            strip_authorization: self.token.is_some(),
            proxied: run.proxied,
            framing,
        };
        let deadline = self.sh.clock.wall_at(run.deadline);
        let rb = (framing != ReqFraming::None).then_some(ReqBody {
            body: &mut body,
            max: self.limits.max_request_body,
            budget: &self.budget,
        });
        let sent = tokio::time::timeout_at(deadline, up.send(&head, rb)).await;
        let resp = match sent {
            Err(_) => {
                ticket.finish(Answer::TimedOut);
                return refuse(StatusCode::GATEWAY_TIMEOUT, "timeout");
            }
            Ok(Err(e)) => {
                let (status, reason, answer) = match e {
                    UpError::TooLarge => (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body-too-large",
                        Answer::Answered(413),
                    ),
                    UpError::ClientBody => (
                        StatusCode::BAD_REQUEST,
                        "body-unreadable",
                        Answer::ClientClosed,
                    ),
                    UpError::Instance => {
                        (StatusCode::BAD_GATEWAY, "instance-failed", Answer::Failed)
                    }
                };
                ticket.finish(answer);
                return refuse(status, reason);
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status.as_u16();
        let body = match resp.body {
            RespBody::Full(b) => {
                ticket.finish(Answer::Answered(status));
                Body::full(b)
            }
            RespBody::Stream(stream) => Body::streaming(Streaming {
                stream,
                ticket,
                status,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
            }),
        };
        let mut r = Response::new(body);
        *r.status_mut() = resp.status;
        *r.headers_mut() = resp.headers;
        r
    }
}

/// The bytes of a `Full` body (it yields them in its first frame, without waiting).
fn futures_bytes(b: http_body_util::Full<Bytes>) -> Bytes {
    use std::task::{Context, Poll, Waker};
    let mut b = std::pin::pin!(b);
    let mut cx = Context::from_waker(Waker::noop());
    match b.as_mut().poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(f))) => f.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_checked() {
        let mut h = HeaderMap::new();
        assert_eq!(authorize("s3cret", &h), Err(Denied::Missing));
        assert_eq!(
            Denied::Missing.response().status(),
            StatusCode::UNAUTHORIZED
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic czNjcmV0"),
        );
        assert_eq!(authorize("s3cret", &h), Err(Denied::Missing));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert_eq!(authorize("s3cret", &h), Err(Denied::Wrong));
        assert_eq!(Denied::Wrong.response().status(), StatusCode::FORBIDDEN);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(authorize("s3cret", &h).is_ok());
    }
}
