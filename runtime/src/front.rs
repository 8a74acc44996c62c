//! The router/activator's request logic: access control, the reserved paths, the choice of
//! revision (traffic split, tagged URLs), then the platform's admission (start, queue or
//! reject) and the request's execution: in-process on a synthetic instance, or proxied to a
//! command instance ([`crate::upstream`]) with both bodies streamed, until its deadline.
//!
//! It works on a [`ReqHead`] and a [`ClientBody`] and answers with an [`Out`], whichever server
//! read the request: the HTTP/1.1 fast path (`h1.rs`) writes an `Out` itself (an instance's
//! header lines pass through as they came), hyper (HTTP/2) gets it as a `Response`.
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
//! | 403 | `source-not-allowed` | the client's address is outside `--allow-from`'s blocks (the connection is answered once and closed) |
//! | 404 | `unknown-service` | a fleet (`[[services]]`): neither the `Host` header's first label nor a `/_scalelab/service/NAME/` prefix names a service (the body lists them) |
//! | 404 | `unknown-revision` | `x-scalelab-revision` or `/@tag/` names no revision's tag, or one not created yet (`created_at`) |
//! | 413 | `body-too-large` | request body over the limit (`--max-request-body`, 32 MiB) |
//! | 429 | `max-instances` | keepalive autoscaler at `max_instances` |
//! | 502 | `instance-failed` | the instance refused, reset or crashed |
//! | 503 | `activator-queue-full` / `pending-request-queue-full` | the activator's or an instance's queue is full |
//! | 503 | `body-budget-exhausted` | the router holds `--max-inflight-body` bytes of request bodies already |
//! | 503 | `revision-failed` | the revision's instances keep failing to start |
//! | 503 | `shutting-down` | the run is draining |
//! | 504 | `timeout` | the request timeout passed (queued or running) |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use scalelab_core::Time;
use scalelab_core::ids::{ReqId, RevId};
use scalelab_core::platform::Reply;

use crate::InstanceKind;
use crate::body::{Body, Budget, ClientBody, Lease, Streaming};
use crate::head::{Headers, ReqHead};
use crate::platform::{Admit, Answer, Running, Shared, Start};
use crate::server::{ConnGuard, Limits};
use crate::upstream::{self, RawHead, ReqBody, ReqFraming, RespBody, UpError};

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

/// One service behind the router: its platform and the `x-scalelab-revision` value of each of
/// its revisions' answers.
pub(crate) struct Svc {
    pub name: String,
    pub sh: Arc<Shared>,
    pub rev_headers: Vec<HeaderValue>,
}

impl Svc {
    pub fn new(name: String, sh: Arc<Shared>) -> Svc {
        let rev_headers = sh
            .revs
            .iter()
            .map(|r| {
                HeaderValue::from_str(&r.name).unwrap_or_else(|_| HeaderValue::from_static("?"))
            })
            .collect();
        Svc {
            name,
            sh,
            rev_headers,
        }
    }
}

/// The router's configuration and handles.
pub(crate) struct Front {
    /// The services it serves: one, or a fleet's (`[[services]]`), each picked by the request's
    /// `Host` (its first DNS label) or the path prefix `/_scalelab/service/NAME/`.
    pub services: Vec<Svc>,
    /// A fleet: requests must name their service.
    pub fleet: bool,
    /// The bearer token requests need (`None`: unauthenticated access allowed).
    pub token: Option<String>,
    /// Serve `/metrics` too (else it goes to the service).
    pub root_metrics: bool,
    /// Set when the run drains: new requests get 503.
    pub draining: AtomicBool,
    /// Sources that may call (empty: all).
    pub allow_from: Vec<crate::Cidr>,
    /// Requests refused because of their source.
    pub forbidden: AtomicU64,
    pub limits: Limits,
    pub budget: Budget,
    /// The synthetic instances' behaviour (`None`: command instances).
    pub synthetic: Option<Synth>,
}

/// How synthetic instances answer.
pub(crate) struct Synth {
    pub hello: bool,
    pub allowed_origin: String,
}

/// An answer of the router.
pub(crate) struct Out {
    pub status: StatusCode,
    pub head: OutHead,
    /// `x-scalelab-revision`.
    pub revision: Option<HeaderValue>,
    /// `x-scalelab-instance`.
    pub instance: Option<HeaderValue>,
    /// `x-scalelab-cold-start: 1`.
    pub cold: bool,
    pub body: Body,
}

/// Where an answer's headers come from.
pub(crate) enum OutHead {
    /// The platform's or a synthetic instance's own.
    Own(HeaderMap),
    /// A command instance's, as it sent them.
    Upstream(RawHead),
}

impl Out {
    fn own(status: StatusCode, headers: HeaderMap, body: Body) -> Out {
        Out {
            status,
            head: OutHead::Own(headers),
            revision: None,
            instance: None,
            cold: false,
            body,
        }
    }

    /// The answer as a hyper response (HTTP/2).
    pub fn into_response(self) -> Response<Body> {
        let mut headers = match self.head {
            OutHead::Own(m) => m,
            OutHead::Upstream(raw) => raw.to_map(),
        };
        if let Some(v) = self.revision {
            headers.insert(REVISION.clone(), v);
        }
        if let Some(v) = self.instance {
            headers.insert(INSTANCE.clone(), v);
        }
        if self.cold {
            headers.insert(COLD.clone(), HeaderValue::from_static("1"));
        }
        let mut r = Response::new(self.body);
        *r.status_mut() = self.status;
        *r.headers_mut() = headers;
        r
    }
}

impl Front {
    pub fn new(
        services: Vec<Svc>,
        fleet: bool,
        instances: &InstanceKind,
        token: Option<String>,
        root_metrics: bool,
        limits: Limits,
    ) -> Front {
        let synthetic = match instances {
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
            services,
            fleet,
            token,
            root_metrics,
            draining: AtomicBool::new(false),
            allow_from: Vec::new(),
            forbidden: AtomicU64::new(0),
            limits,
            synthetic,
        }
    }
}

/// A plain answer from the platform itself.
pub(crate) fn refuse(status: StatusCode, reason: &'static str) -> Out {
    let mut h = HeaderMap::with_capacity(2);
    h.insert(REASON_HEADER, HeaderValue::from_static(reason));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Out::own(status, h, Body::full(Bytes::from_static(reason.as_bytes())))
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
    fn answer(self) -> Out {
        match self {
            Denied::Missing => {
                let mut r = refuse(StatusCode::UNAUTHORIZED, "missing-token");
                if let OutHead::Own(h) = &mut r.head {
                    h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                r
            }
            Denied::Wrong => refuse(StatusCode::FORBIDDEN, "wrong-token"),
        }
    }
}

/// Checks `Authorization: Bearer <token>`.
fn authorize(expected: &str, headers: &Headers<'_>) -> Result<(), Denied> {
    let v = headers
        .get("authorization")
        .and_then(|v| std::str::from_utf8(v).ok())
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
fn find_revision(sh: &Shared, tag: &[u8]) -> Option<RevId> {
    sh.revs
        .iter()
        .position(|c| c.tag.as_deref().is_some_and(|t| t.as_bytes() == tag))
        .map(|r| RevId(r as u16))
}

/// Handles one request read by hyper (HTTP/2); `conn` is the client connection's busy guard,
/// which the answer holds until it is written.
pub(crate) async fn handle(
    front: Arc<Front>,
    conn: ConnGuard,
    req: Request<Incoming>,
) -> Response<Body> {
    let (mut parts, mut body) = req.into_parts();
    if front.fleet
        && !parts.headers.contains_key(header::HOST)
        && let Some(a) = parts.uri.authority()
        && let Ok(v) = HeaderValue::from_str(a.as_str())
    {
        // HTTP/2 names the host in `:authority`: a fleet picks the service by it.
        parts.headers.insert(header::HOST, v);
    }
    let head = ReqHead {
        method: &parts.method,
        target: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: Headers::Map(&parts.headers),
    };
    let mut r = route(&front, &head, &mut body).await.into_response();
    r.body_mut().conn = Some(conn);
    r
}

/// Routes one request and answers it.
pub(crate) async fn route(
    front: &Arc<Front>,
    req: &ReqHead<'_>,
    body: &mut (dyn ClientBody + Send),
) -> Out {
    if let Some(t) = &front.token
        && let Err(denied) = authorize(t, &req.headers)
    {
        return denied.answer();
    }
    // Which service: the only one, or the one the Host or the path prefix names.
    let (svc, rewritten) = match pick_service(front, req) {
        Ok(x) => x,
        Err(out) => return *out,
    };
    let under_prefix;
    let req = match &rewritten {
        Some(t) => {
            under_prefix = ReqHead {
                method: req.method,
                target: t,
                headers: req.headers,
            };
            &under_prefix
        }
        None => req,
    };
    let path = req.path();
    if path == METRICS_PATH || (front.root_metrics && path == "/metrics") {
        let mut h = HeaderMap::with_capacity(1);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return Out::own(StatusCode::OK, h, Body::full(crate::prom::render(&svc.sh)));
    }
    if front.draining.load(Ordering::Relaxed) {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "shutting-down");
    }
    // Which revision: a tag header, a `/@tag/` path prefix, else the traffic split.
    let mut forward_target: Option<String> = None;
    let rev = if let Some(v) = req.headers.get(REVISION_HEADER) {
        match find_revision(&svc.sh, v) {
            Some(r) => Some(r),
            None => return refuse(StatusCode::NOT_FOUND, "unknown-revision"),
        }
    } else if let Some(rest) = path.strip_prefix("/@") {
        let (key, tail) = rest.split_once('/').unwrap_or((rest, ""));
        match find_revision(&svc.sh, key.as_bytes()) {
            Some(r) => {
                let mut p = format!("/{tail}");
                if let Some(q) = req.query() {
                    p.push('?');
                    p.push_str(q);
                }
                forward_target = Some(p);
                Some(r)
            }
            None => return refuse(StatusCode::NOT_FOUND, "unknown-revision"),
        }
    } else if svc.sh.has_routes {
        // The first route whose header matches and whose revision is Ready; else the split.
        let h = &req.headers;
        svc.sh
            .lock()
            .core
            .route_headers(|name| h.get(name).and_then(|v| std::str::from_utf8(v).ok()))
    } else {
        None
    };
    // A body declared larger than the limit is refused before it takes a slot.
    if body
        .exact_len()
        .is_some_and(|n| n > front.limits.max_request_body)
    {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large");
    }
    let sh = &svc.sh;
    let (mut ticket, run) = match sh.arrive(rev) {
        Admit::Run(run) => (Ticket::running(sh, req, run.clone()), run),
        Admit::Reject {
            rev,
            reply,
            arrival,
        } => return svc.reply(rev, req, arrival, reply),
        Admit::Wait {
            req: id,
            rev,
            deadline,
            arrival,
            mut rx,
        } => {
            let mut ticket = Ticket::new(sh, req, id, rev, arrival);
            let waited = tokio::time::timeout_at(sh.clock.wall_at(deadline), &mut rx).await;
            let start = match waited {
                Ok(started) => started.ok(),
                Err(_) => {
                    if let Some(reply) = sh.time_out(id, rev, arrival) {
                        ticket.answered();
                        return svc.reply(rev, req, arrival, reply);
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
                    return svc.reply(rev, req, arrival, reply);
                }
                None => {
                    ticket.answered();
                    return svc.reply(rev, req, arrival, Reply::InstanceFailed);
                }
            }
        }
    };
    // Under the performance model the request's CPU phase on its instance is computed (no
    // CPU is burned): it reaches its instance for the rest (its waiting) once that ends.
    let mut run = run;
    let cpu_timed_out = run.later
        && match sh.cpu_phase(&run).await {
            Some(left) => {
                run.service = left;
                false
            }
            None => true,
        };
    let mut out = if cpu_timed_out {
        ticket.finish(Answer::TimedOut);
        refuse(StatusCode::GATEWAY_TIMEOUT, "timeout")
    } else if run.lost {
        ticket.finish(Answer::Failed);
        refuse(StatusCode::BAD_GATEWAY, "instance-failed")
    } else if let Some(up) = &run.up {
        let target = forward_target.as_deref().unwrap_or(req.target);
        front.proxy(sh, ticket, req, target, body, &run, up).await
    } else if let Some(synth) = &front.synthetic {
        front
            .synthetic(sh, &mut ticket, synth, req, body, &run)
            .await
    } else {
        ticket.finish(Answer::Failed);
        refuse(StatusCode::BAD_GATEWAY, "instance-failed")
    };
    out.revision = Some(svc.rev_headers[run.rev.index()].clone());
    out.instance = Some(run.header.clone());
    out.cold = run.cold;
    out
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
    fn new(sh: &Arc<Shared>, head: &ReqHead<'_>, req: ReqId, rev: RevId, arrival: Time) -> Ticket {
        let log = sh.request_log.as_ref().map(|_| {
            Box::new(LogInfo {
                method: head.method.clone(),
                path: head.path().to_string(),
            })
        });
        Ticket {
            sh: sh.clone(),
            phase: Phase::Waiting,
            req,
            rev,
            arrival,
            run: None,
            log,
        }
    }

    fn running(sh: &Arc<Shared>, head: &ReqHead<'_>, run: Running) -> Ticket {
        let mut t = Ticket::new(sh, head, run.req, run.rev, run.arrival);
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
        let mut line = serde_json::json!({
            "t_s": self.arrival.as_secs_f64(),
            "revision": self.sh.revs[self.rev.index()].name,
            "method": info.method.as_str(),
            "path": info.path,
            "status": status,
            "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
            "instance": instance,
            "cold_start": cold,
            "reason": reason,
        });
        name_service(&mut line, &self.sh);
        sink.json(&line);
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
    body: &mut (dyn ClientBody + Send),
    max: u64,
    budget: &Budget,
) -> Result<(Bytes, Lease), &'static str> {
    let mut lease = Lease::empty();
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut total = 0u64;
    while let Some(data) = std::future::poll_fn(|cx| body.poll_data(cx)).await {
        let Ok(data) = data else {
            return Err("body-unreadable");
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

/// A fleet's request log names each line's service.
fn name_service(line: &mut serde_json::Value, sh: &Shared) {
    if let (Some(s), Some(m)) = (&sh.service, line.as_object_mut()) {
        m.insert("service".into(), s.clone().into());
    }
}

/// The path prefix that names a fleet's service (`/_scalelab/service/NAME/…`), for clients
/// that cannot set `Host`.
pub const SERVICE_PREFIX: &str = "/_scalelab/service/";

/// At most this many service names are listed in an `unknown-service` answer.
const LIST_SERVICES: usize = 20;

/// The service a request is for, and its target with the service prefix removed when it had
/// one. A single service (or a fleet of one) takes every request; in a fleet the path prefix
/// `/_scalelab/service/NAME/` or the `Host` header's first DNS label (`NAME`, `NAME:PORT`,
/// `NAME.anything`, as Knative's `NAME.NAMESPACE.DOMAIN`) names it; anything else is 404
/// `unknown-service`.
fn pick_service<'f>(
    front: &'f Front,
    req: &ReqHead<'_>,
) -> Result<(&'f Svc, Option<String>), Box<Out>> {
    if !front.fleet {
        return Ok((&front.services[0], None));
    }
    let find = |name: &[u8]| {
        front
            .services
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    };
    if let Some(rest) = req.target.strip_prefix(SERVICE_PREFIX) {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (name, tail) = rest.split_at(end);
        let Some(svc) = find(name.as_bytes()) else {
            return Err(unknown_service(
                front,
                &format!("path prefix {SERVICE_PREFIX}{name}/"),
            ));
        };
        let target = match tail.strip_prefix('/') {
            Some(t) => format!("/{t}"),
            None => format!("/{tail}"),
        };
        return Ok((svc, Some(target)));
    }
    if front.services.len() == 1 {
        // A fleet of one: no Host needed.
        return Ok((&front.services[0], None));
    }
    let Some(host) = req.headers.get("host") else {
        return Err(unknown_service(front, "no Host header"));
    };
    // The first DNS label, without a port (`[v6]:port` names no service).
    let label = host
        .split(|&b| b == b'.' || b == b':')
        .next()
        .unwrap_or_default();
    match find(label) {
        Some(svc) => Ok((svc, None)),
        None => Err(unknown_service(
            front,
            &format!("Host \"{}\"", String::from_utf8_lossy(host)),
        )),
    }
}

/// 404 `unknown-service`, its body saying what was asked for and which services exist.
fn unknown_service(front: &Front, asked: &str) -> Box<Out> {
    let names: Vec<&str> = front
        .services
        .iter()
        .take(LIST_SERVICES)
        .map(|s| s.name.as_str())
        .collect();
    let more = front.services.len().saturating_sub(LIST_SERVICES);
    let mut msg = format!(
        "unknown-service: {asked} names no service of this fleet; name one by the Host header \
         (NAME or NAME.anything) or the path prefix {SERVICE_PREFIX}NAME/. Services: {}",
        names.join(", ")
    );
    if more > 0 {
        msg += &format!(" and {more} more");
    }
    msg.push('\n');
    let mut r = refuse(StatusCode::NOT_FOUND, "unknown-service");
    r.body = Body::full(Bytes::from(msg));
    Box::new(r)
}

impl Svc {
    /// The platform's own answer to a request that never reached an instance, logged.
    fn reply(&self, rev: RevId, req: &ReqHead<'_>, arrival: Time, reply: Reply) -> Out {
        let status = reply.status();
        if let Some(sink) = &self.sh.request_log {
            let latency_ms = self.sh.clock.now().0.saturating_sub(arrival.0) as f64 / 1e6;
            let mut line = serde_json::json!({
                "t_s": arrival.as_secs_f64(),
                "revision": self.sh.revs[rev.index()].name,
                "method": req.method.as_str(),
                "path": req.path(),
                "status": status,
                "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
                "instance": serde_json::Value::Null,
                "cold_start": false,
                "reason": reply.reason(),
            });
            name_service(&mut line, &self.sh);
            sink.json(&line);
        }
        let mut r = refuse(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reply.reason(),
        );
        r.revision = Some(self.rev_headers[rev.index()].clone());
        r
    }
}

impl Front {
    /// Serves a request on a synthetic instance, in-process: it holds the instance slot for
    /// its sampled service time (capped at its deadline), then answers.
    async fn synthetic(
        &self,
        sh: &Shared,
        ticket: &mut Ticket,
        synth: &Synth,
        req: &ReqHead<'_>,
        body: &mut (dyn ClientBody + Send),
        run: &Running,
    ) -> Out {
        let clock = &sh.clock;
        let started = clock.wall_now();
        let deadline = clock.wall_at(run.deadline);
        let mut lease = Lease::empty();
        let mut bytes = Bytes::new();
        if synth.hello && !body.is_end() {
            let read = read_whole(body, self.limits.max_request_body, &self.budget);
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
        let done_at = started + clock.to_wall(run.service);
        if done_at > deadline {
            tokio::time::sleep_until(deadline).await;
            ticket.finish(Answer::TimedOut);
            return refuse(StatusCode::GATEWAY_TIMEOUT, "timeout");
        }
        if !run.service.is_zero() {
            tokio::time::sleep_until(done_at).await;
        }
        let out = if synth.hello {
            let r = crate::hello::respond(&synth.allowed_origin, req.method, req.query(), &bytes);
            let (p, b) = r.into_parts();
            Out::own(p.status, p.headers, Body::full(full_bytes(b)))
        } else {
            Out::own(StatusCode::OK, HeaderMap::new(), Body::full(Bytes::new()))
        };
        drop(lease);
        ticket.finish(Answer::Answered(out.status.as_u16()));
        out
    }

    /// Proxies a request to its command instance, until its deadline.
    #[allow(clippy::too_many_arguments)]
    async fn proxy(
        &self,
        sh: &Shared,
        mut ticket: Ticket,
        req: &ReqHead<'_>,
        target: &str,
        body: &mut (dyn ClientBody + Send),
        run: &Running,
        up: &Arc<upstream::Upstream>,
    ) -> Out {
        let framing = if body.is_end() {
            ReqFraming::None
        } else {
            match body.exact_len() {
                Some(n) => ReqFraming::Length(n),
                None => ReqFraming::Chunked,
            }
        };
        let forward = ReqHead {
            method: req.method,
            target,
            headers: req.headers,
        };
        let head = upstream::Head {
            req: &forward,
            strip_authorization: self.token.is_some(),
            proxied: run.proxied,
            framing,
        };
        let deadline = sh.clock.wall_at(run.deadline);
        let rb = (framing != ReqFraming::None).then_some(ReqBody {
            body,
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
        let status = resp.head.status;
        let body = match resp.body {
            RespBody::Full(b) => {
                ticket.finish(Answer::Answered(status.as_u16()));
                Body::full(b)
            }
            RespBody::Stream(stream) => Body::streaming(Streaming {
                stream,
                ticket,
                status: status.as_u16(),
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
            }),
        };
        Out {
            status,
            head: OutHead::Upstream(resp.head),
            revision: None,
            instance: None,
            cold: false,
            body,
        }
    }
}

/// The bytes of a `Full` body (it yields them in its first frame, without waiting).
fn full_bytes(b: http_body_util::Full<Bytes>) -> Bytes {
    use hyper::body::Body as _;
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
        let get = |h: &HeaderMap| authorize("s3cret", &Headers::Map(h));
        assert_eq!(get(&h), Err(Denied::Missing));
        assert_eq!(Denied::Missing.answer().status, StatusCode::UNAUTHORIZED);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic czNjcmV0"),
        );
        assert_eq!(get(&h), Err(Denied::Missing));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert_eq!(get(&h), Err(Denied::Wrong));
        assert_eq!(Denied::Wrong.answer().status, StatusCode::FORBIDDEN);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(get(&h).is_ok());
    }
}
