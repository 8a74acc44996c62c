//! The router/activator's HTTP side: access control, the reserved paths, the choice of
//! revision (traffic split, tagged URLs), then the platform's admission (start, queue or
//! reject) and the proxying of the request to its instance with a deadline.
//!
//! Answers the platform gives itself carry `x-scalelab-reason`:
//!
//! | status | reason | when |
//! |---|---|---|
//! | 401 | `missing-token` | no `Authorization: Bearer …` while authentication is on |
//! | 403 | `wrong-token` | a bearer token that is not the run's |
//! | 403 | `source-not-allowed` | the client's address is outside `--allow-from`'s blocks |
//! | 404 | `unknown-revision` | `x-scalelab-revision` or `/@tag/` names no revision, or one not created yet (`created_at`) |
//! | 413 | `body-too-large` | request body over 32 MiB |
//! | 429 | `max-instances` | keepalive autoscaler at `max_instances` |
//! | 502 | `instance-failed` | the instance refused, reset or crashed |
//! | 503 | `activator-queue-full` / `pending-request-queue-full` | the activator's or an instance's queue is full |
//! | 503 | `shutting-down` | the run is draining |
//! | 504 | `timeout` | the request timeout passed (queued or running) |

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use scalelab_core::Time;

use crate::InstanceKind;
use crate::instance::SERVICE_NS_HEADER;
use scalelab_core::ids::RevId;
use scalelab_core::platform::Reply;

use crate::platform::{Admit, Answer, Running, Shared, Start};

/// The header naming the revision (by tag or name) a request is for.
pub const REVISION_HEADER: &str = "x-scalelab-revision";
/// The header on the platform's own answers saying why.
pub const REASON_HEADER: &str = "x-scalelab-reason";
/// The header on proxied answers naming the instance that served it.
pub const INSTANCE_HEADER: &str = "x-scalelab-instance";
/// The header on proxied answers that waited for a cold start (`1`).
pub const COLD_HEADER: &str = "x-scalelab-cold-start";
/// Prometheus metrics, always (the router reserves every path under `/_scalelab/`).
pub const METRICS_PATH: &str = "/_scalelab/metrics";
/// Request bodies larger than this are refused (413).
pub const MAX_BODY: usize = 32 << 20;

/// Hop-by-hop headers, which a proxy does not forward.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The router's configuration and handles.
pub(crate) struct Front {
    pub sh: Arc<Shared>,
    pub client: HttpClient,
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
}

/// A plain answer from the platform itself.
pub(crate) fn refuse(status: StatusCode, reason: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{reason}\n"))));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(REASON_HEADER, HeaderValue::from_static(reason));
    r.headers_mut().insert(
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
    fn response(self) -> Response<Full<Bytes>> {
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

/// The revision named by a tag or a name.
fn find_revision(sh: &Shared, key: &str) -> Option<RevId> {
    sh.revs
        .iter()
        .position(|c| c.tag.as_deref() == Some(key))
        .or_else(|| sh.revs.iter().position(|c| c.name == key))
        .map(|r| RevId(r as u16))
}

/// Handles one request to the router.
pub(crate) async fn handle(
    front: Arc<Front>,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Response<Full<Bytes>> {
    if !crate::allow::allowed(&front.allow_from, peer) {
        front.forbidden.fetch_add(1, Ordering::Relaxed);
        return refuse(StatusCode::FORBIDDEN, "source-not-allowed");
    }
    if let Some(t) = &front.token
        && let Err(denied) = authorize(t, req.headers())
    {
        return denied.response();
    }
    let path = req.uri().path();
    if path == METRICS_PATH || (front.root_metrics && path == "/metrics") {
        let mut r = Response::new(Full::new(Bytes::from(crate::prom::render(&front.sh))));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return r;
    }
    if front.draining.load(Ordering::Relaxed) {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "shutting-down");
    }
    // Which revision: a tag header, a `/@tag/` path prefix, a `[[routes]]` header match, else
    // the traffic split.
    let mut forward_path: Option<String> = None;
    let by_header = req
        .headers()
        .get(REVISION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let r = if let Some(key) = by_header {
        match find_revision(&front.sh, &key) {
            Some(r) => Some(r),
            None => return refuse(StatusCode::NOT_FOUND, "unknown-revision"),
        }
    } else if let Some(rest) = path.strip_prefix("/@") {
        let (key, tail) = rest.split_once('/').map_or((rest, ""), |(k, t)| (k, t));
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
    } else if front.sh.has_routes {
        // The first route whose header matches and whose revision is Ready; else the split.
        let h = req.headers();
        front
            .sh
            .lock()
            .core
            .route_headers(|name| h.get(name).and_then(|v| v.to_str().ok()))
    } else {
        // The traffic split picks.
        None
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large");
            }
            return refuse(StatusCode::BAD_REQUEST, "body-unreadable");
        }
    };
    // The request's life runs on its own task: a client that disconnects must not leave it
    // half-accounted (a slot held, a queue entry live).
    let task = tokio::spawn(serve(front.clone(), r, parts, forward_path, body));
    task.await
        .unwrap_or_else(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal-error"))
}

/// Admission, waiting, proxying and accounting of one request for revision `r` (`None`: the
/// traffic split picks).
async fn serve(
    front: Arc<Front>,
    r: Option<RevId>,
    parts: hyper::http::request::Parts,
    forward_path: Option<String>,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let sh = &front.sh;
    let run = match sh.arrive(r) {
        Admit::Run(run) => run,
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
            let waited = tokio::time::timeout_at(sh.clock.wall_at(deadline), &mut rx).await;
            let start = match waited {
                Ok(started) => started.ok(),
                Err(_) => {
                    if sh.time_out(req, rev, arrival) {
                        return front.reply(rev, &parts, arrival, Reply::Timeout);
                    }
                    // It started just as its deadline passed: it times out on its instance.
                    rx.try_recv().ok()
                }
            };
            match start {
                Some(Start::Run(run)) => run,
                Some(Start::Reply(reply)) => return front.reply(rev, &parts, arrival, reply),
                None => return front.reply(rev, &parts, arrival, Reply::InstanceFailed),
            }
        }
    };
    let (answer, response) = front
        .forward(&parts, forward_path.as_deref(), body, &run)
        .await;
    sh.done(&run, answer);
    let reason = match answer {
        Answer::Answered(_) => None,
        Answer::TimedOut => Some("timeout"),
        Answer::Failed => Some("instance-failed"),
    };
    front.log_request(
        run.rev,
        &parts,
        run.arrival,
        response.status().as_u16(),
        Some(run.inst.number()),
        run.cold,
        reason,
    );
    response
}

impl Front {
    /// The platform's own answer to a request that never reached an instance, logged.
    fn reply(
        &self,
        rev: RevId,
        parts: &hyper::http::request::Parts,
        arrival: Time,
        reply: Reply,
    ) -> Response<Full<Bytes>> {
        let status = reply.status();
        self.log_request(
            rev,
            parts,
            arrival,
            status,
            None,
            false,
            Some(reply.reason()),
        );
        refuse(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reply.reason(),
        )
    }

    /// Proxies to the instance until the request's deadline.
    async fn forward(
        &self,
        parts: &hyper::http::request::Parts,
        forward_path: Option<&str>,
        body: Bytes,
        run: &Running,
    ) -> (Answer, Response<Full<Bytes>>) {
        let Some(addr) = run.addr else {
            return (
                Answer::Failed,
                refuse(StatusCode::BAD_GATEWAY, "instance-failed"),
            );
        };
        let pq = forward_path
            .or_else(|| parts.uri.path_and_query().map(|p| p.as_str()))
            .unwrap_or("/");
        let Ok(uri) = format!("http://{addr}{pq}").parse::<Uri>() else {
            return (
                Answer::Answered(400),
                refuse(StatusCode::BAD_REQUEST, "bad-path"),
            );
        };
        let mut out = Request::new(Full::new(body));
        *out.method_mut() = parts.method.clone();
        *out.uri_mut() = uri;
        let h = out.headers_mut();
        copy_end_to_end(&parts.headers, h);
        h.remove(header::HOST);
        // The platform's credential stays with the platform.
        if self.token.is_some() {
            h.remove(header::AUTHORIZATION);
        }
        h.remove(SERVICE_NS_HEADER);
        if matches!(self.sh.instances, InstanceKind::Synthetic { .. }) {
            h.insert(
                HeaderName::from_static(SERVICE_NS_HEADER),
                HeaderValue::from(u64::try_from(run.service.as_nanos()).unwrap_or(u64::MAX)),
            );
        }
        if run.proxied {
            h.insert(
                HeaderName::from_static("k-proxy-request"),
                HeaderValue::from_static("activator"),
            );
        }
        let call = async {
            let resp = self.client.request(out).await.map_err(|_| ())?;
            let (p, b) = resp.into_parts();
            let bytes = b.collect().await.map_err(|_| ())?.to_bytes();
            Ok::<_, ()>((p, bytes))
        };
        match tokio::time::timeout_at(self.sh.clock.wall_at(run.deadline), call).await {
            Ok(Ok((p, bytes))) => {
                let mut resp = Response::new(Full::new(bytes));
                *resp.status_mut() = p.status;
                copy_end_to_end(&p.headers, resp.headers_mut());
                resp.headers_mut().remove(header::TRANSFER_ENCODING);
                let rh = resp.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&self.sh.revs[run.rev.index()].name) {
                    rh.insert(HeaderName::from_static(REVISION_HEADER), v);
                }
                rh.insert(
                    HeaderName::from_static(INSTANCE_HEADER),
                    HeaderValue::from(run.inst.number()),
                );
                if run.cold {
                    rh.insert(
                        HeaderName::from_static(COLD_HEADER),
                        HeaderValue::from_static("1"),
                    );
                }
                (Answer::Answered(p.status.as_u16()), resp)
            }
            Ok(Err(())) => (
                Answer::Failed,
                refuse(StatusCode::BAD_GATEWAY, "instance-failed"),
            ),
            Err(_) => (
                Answer::TimedOut,
                refuse(StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ),
        }
    }

    /// One line of the request log (`--request-log`).
    #[allow(clippy::too_many_arguments)]
    fn log_request(
        &self,
        r: RevId,
        parts: &hyper::http::request::Parts,
        arrival: Time,
        status: u16,
        instance: Option<u64>,
        cold: bool,
        reason: Option<&str>,
    ) {
        let Some(sink) = &self.sh.request_log else {
            return;
        };
        let now = self.sh.clock.now();
        let latency_ms = now.0.saturating_sub(arrival.0) as f64 / 1e6;
        sink.json(&serde_json::json!({
            "t_s": arrival.as_secs_f64(),
            "revision": self.sh.revs[r.index()].name,
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "status": status,
            "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
            "instance": instance,
            "cold_start": cold,
            "reason": reason,
        }));
    }
}

/// Copies the end-to-end headers (everything but hop-by-hop ones and those named in
/// `Connection`).
fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    let named: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for (k, v) in from {
        let n = k.as_str();
        if HOP_BY_HOP.contains(&n) || named.iter().any(|x| x == n) {
            continue;
        }
        to.append(k.clone(), v.clone());
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

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut from = HeaderMap::new();
        from.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        from.insert("x-private", HeaderValue::from_static("1"));
        from.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        from.insert("x-kept", HeaderValue::from_static("2"));
        let mut to = HeaderMap::new();
        copy_end_to_end(&from, &mut to);
        assert_eq!(to.len(), 1);
        assert_eq!(to["x-kept"], "2");
    }
}
