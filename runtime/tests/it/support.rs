//! Helpers shared by the runtime's integration tests.

use scalelab_core::testing::fill;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scalelab_core::scenario::Scenario;
use scalelab_runtime::{Auth, Handle, InstanceKind, Options, start};

/// A scenario with fixed cold start and service time (ms); `extra` goes into `[autoscaler]`
/// and may open further tables.
pub fn scenario_with(cold_ms: u64, service_ms: u64, extra: &str) -> Scenario {
    let src = fill(
        include_str!("fixtures/live-test.toml"),
        &[
            ("service_ms", &service_ms),
            ("cold_ms", &cold_ms),
            ("extra", &extra),
        ],
    );
    Scenario::from_toml_str(&src, "live-test.toml".as_ref()).expect("valid test scenario")
}

/// The scenario `tests/it/fixtures/NAME`.
pub fn fixture(name: &str) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(name);
    let src = std::fs::read_to_string(&path).expect("fixture readable");
    Scenario::from_toml_str(&src, name.as_ref()).expect("valid fixture")
}

pub fn scenario(extra: &str) -> Scenario {
    scenario_with(300, 100, extra)
}

pub fn open() -> Options {
    Options {
        auth: Auth::AllowUnauthenticated,
        ..Options::default()
    }
}

/// [`open`] at `time_scale` wall seconds per scenario second.
pub fn scaled(time_scale: f64) -> Options {
    Options {
        time_scale,
        ..open()
    }
}

/// Command instances running `cmd`, with 2 s between SIGTERM and SIGKILL.
pub fn command(cmd: String) -> InstanceKind {
    InstanceKind::Command {
        cmd,
        termination_grace: Duration::from_secs(2),
    }
}

/// The platform of `s` started with `o`; the test fails if it does not start.
pub async fn started(s: &Scenario, o: Options) -> Handle {
    start(s, o).await.expect("starts")
}

/// Sends GET `path` to `h` and checks it was answered after a cold start: the scenario time
/// the answer took.
pub async fn cold_request(h: &Handle, path: &str) -> Duration {
    let t0 = h.clock().now();
    let r = get(&h.url(), path).await;
    let took = h.clock().now() - t0;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-scalelab-cold-start"], "1");
    took
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub async fn call(
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = Request::new(Full::new(Bytes::from(body.to_string())));
    *req.method_mut() = method;
    *req.uri_mut() = format!("{base}{path}").parse().expect("uri");
    for (k, v) in headers {
        req.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    let resp = client().request(req).await.expect("the router answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(base: &str, path: &str) -> Reply {
    get_with(base, path, &[]).await
}

/// GET `path` with these headers.
pub async fn get_with(base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    call(base, Method::GET, path, headers, "").await
}

/// GET `path` with the bearer token `token`.
pub async fn get_as(base: &str, path: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    get_with(base, path, &[("authorization", &auth)]).await
}

/// Waits (polling the status) until `pred` holds, up to `limit` of scenario time.
pub async fn wait_until(
    h: &Handle,
    limit: Duration,
    pred: impl Fn(&scalelab_runtime::Status) -> bool,
) -> bool {
    let until = h.clock().now() + limit;
    while h.clock().now() < until {
        if pred(&h.status()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pred(&h.status())
}

/// A directory of its own for a test (removed first if it exists).
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("scalelab-rt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Writes a Python app into `dir` and returns the `--cmd` that runs it.
pub fn python_app(dir: &std::path::Path, name: &str, src: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, src).expect("write app");
    format!("python3 {}", p.display())
}

/// The instance app of the live tests (fixtures/app.py: its arguments are in its docstring).
pub const TEST_APP: &str = include_str!("fixtures/app.py");

/// Writes the test app into `dir` and returns the `--cmd` that runs it.
pub fn test_app(dir: &std::path::Path) -> String {
    python_app(dir, "app.py", TEST_APP)
}

/// The host:port of a `http://` URL.
pub fn hostport(url: &str) -> String {
    url.strip_prefix("http://").expect("http url").to_string()
}

/// Reads from `s` until the peer closes (or `limit` passes): true when it closed.
pub async fn closed_within(s: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let until_closed = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, until_closed).await.is_ok()
}

/// True while process `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
