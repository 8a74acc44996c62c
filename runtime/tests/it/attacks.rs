//! What a hostile or careless client, or a careless instance command, does to the router: each
//! test is one of the attacks of issue 19, which the router used to fail.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use scalelab_runtime::{InstanceKind, Limits, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// A one-instance platform (no cold start, no service time) with `limits`: its handle and the
/// address to dial.
async fn limited(limits: Limits) -> (scalelab_runtime::Handle, String) {
    let s = scenario_with(0, 0, "initial_scale = 1");
    let h = started(&s, Options { limits, ..open() }).await;
    let addr = hostport(&h.url());
    (h, addr)
}

/// Sends a raw request head and reads the status code of the answer.
async fn raw_status(url: &str, head: &str) -> u16 {
    let mut s = TcpStream::connect(hostport(url)).await.expect("connects");
    s.write_all(head.as_bytes()).await.expect("sends");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 12 {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("reads");
        assert!(n > 0, "closed without an answer");
        buf.extend_from_slice(&chunk[..n]);
    }
    std::str::from_utf8(&buf[9..12])
        .expect("status")
        .parse()
        .expect("status code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways_and_too_large_ones_are_413() {
    let dir = temp_dir("echo");
    let s = scenario_with(0, 0, "initial_scale = 1\nmin_scale = 1");
    let o = Options {
        instances: command(test_app(&dir)),
        limits: Limits {
            max_request_body: 4 << 20,
            ..Limits::default()
        },
        ..open()
    };
    let h = started(&s, o).await;
    assert!(
        wait_until(&h, Duration::from_secs(10), |st| st.ready == 1).await,
        "the app started"
    );
    // 3 MiB through the router and back: streamed in both directions, intact.
    let body: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
    let req = Request::post(format!("{}/echo", h.url()))
        .body(Full::new(Bytes::from(body.clone())))
        .expect("request");
    let resp = client().request(req).await.expect("answered");
    assert_eq!(resp.status(), StatusCode::OK);
    let got = resp.into_body().collect().await.expect("body").to_bytes();
    assert!(
        got == body,
        "the body came back intact ({} bytes)",
        got.len()
    );
    // A chunked answer streams through.
    let r = get(&h.url(), "/chunked").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), 100 * 1200);
    assert!(r.body.starts_with("00000,") && r.body.ends_with("00099,"));
    // A declared body over the limit is refused before it reaches the platform.
    let head = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        5u64 << 20
    );
    assert_eq!(raw_status(&h.url(), &head).await, 413);
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!(v.requests.arrived, 2, "the declared 5 MiB never arrived");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opens a connection and sends a chunked POST head and `kib` KiB of body in 32 KiB chunks,
/// without the last chunk.
async fn chunked_upload(url: &str, kib: usize) -> TcpStream {
    let mut s = TcpStream::connect(hostport(url)).await.expect("connects");
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .expect("head");
    let piece = vec![b'y'; 32 << 10];
    for _ in 0..kib / 32 {
        let mut c = format!("{:x}\r\n", piece.len()).into_bytes();
        c.extend_from_slice(&piece);
        c.extend_from_slice(b"\r\n");
        if s.write_all(&c).await.is_err() {
            break;
        }
    }
    s
}

/// The start of the answer on `s`.
async fn answer(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer in time")
        .expect("reads");
    String::from_utf8_lossy(&buf[..n]).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_instance_refuses_bodies_beyond_the_limit_and_the_budget() {
    let s = scenario_with(0, 0, "initial_scale = 1");
    let o = Options {
        limits: Limits {
            max_request_body: 1 << 20,
            max_inflight_body: 1536 << 10,
            ..Limits::default()
        },
        ..open()
    };
    let h = started(&s, o).await;
    assert!(wait_until(&h, Duration::from_secs(5), |st| st.ready == 1).await);
    // Within both limits: the hello function reads it.
    let r = call(
        &h.url(),
        Method::POST,
        "/",
        &[],
        r#"{"message":"Hi","name":"Body"}"#,
    )
    .await;
    assert_eq!(r.body, r#"{"message":"Hi welcomes you, Body!"}"#);
    // A chunked body is refused once it passes the per-request limit (1 MiB).
    let mut big = chunked_upload(&h.url(), 1152).await;
    let text = answer(&mut big).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    // One client holds 960 KiB of an unfinished body; a second one would bring the router past
    // its in-flight budget (1.5 MiB): 503, not memory.
    let _held = chunked_upload(&h.url(), 960).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = chunked_upload(&h.url(), 960).await;
    let text = answer(&mut second).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("body-budget-exhausted"), "{text}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off() {
    let (h, addr) = limited(Limits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    // Slowloris: 50 connections trickling a header line a byte at a time, and 10 that send
    // nothing at all.
    let mut trickle = Vec::new();
    for _ in 0..50 {
        let mut c = TcpStream::connect(&addr).await.expect("connects");
        c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await
            .expect("sends");
        trickle.push(c);
    }
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(TcpStream::connect(&addr).await.expect("connects"));
    }
    let feeder = tokio::spawn(async move {
        let mut closed = 0;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            closed = 0;
            for c in &mut trickle {
                if c.write_all(b"a").await.is_err() {
                    closed += 1;
                }
            }
            if closed == trickle.len() {
                break;
            }
        }
        closed
    });
    for mut c in silent {
        assert!(
            closed_within(&mut c, Duration::from_secs(10)).await,
            "a silent connection is closed"
        );
    }
    assert_eq!(
        feeder.await.expect("feeder"),
        50,
        "every trickling connection is closed (header timeout 500 ms)"
    );
    // A request the router refuses without reading its body (an unknown tag), whose body
    // never comes: the router answers, and the connection does not stay open waiting for the
    // rest of the body.
    let mut c = TcpStream::connect(&addr).await.expect("connects");
    c.write_all(b"POST /@nope/ HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nabc")
        .await
        .expect("sends");
    assert!(
        closed_within(&mut c, Duration::from_secs(10)).await,
        "a connection whose refused request's body never comes is closed"
    );
    // An idle keep-alive connection is closed after the idle timeout, not before a request.
    let mut c = TcpStream::connect(&addr).await.expect("connects");
    c.write_all(b"GET /?message=k HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("sends");
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).await.expect("an answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_within(&mut c, Duration::from_secs(10)).await,
        "idle keep-alive connection closed"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_max_connections_are_served_at_once() {
    let (h, addr) = limited(Limits {
        max_connections: 3,
        header_timeout: Duration::from_secs(30),
        ..Limits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&addr).await.expect("connects"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fourth waits in the listen backlog: no answer while three are open.
    let mut fourth = TcpStream::connect(&addr)
        .await
        .expect("the backlog takes it");
    fourth
        .write_all(b"GET /?message=4 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("sends");
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), fourth.read(&mut buf))
            .await
            .is_err(),
        "not served beyond the limit"
    );
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(10), fourth.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .expect("reads");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    drop(held);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_leaves_the_queue_at_once() {
    let s = scenario_with(3000, 100, "initial_scale = 0");
    let h = started(&s, open()).await;
    let mut c = TcpStream::connect(hostport(&h.url()))
        .await
        .expect("connects");
    c.write_all(b"GET /?message=gone HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("sends");
    assert!(wait_until(&h, Duration::from_secs(2), |st| st.queued == 1).await);
    drop(c);
    assert!(
        wait_until(&h, Duration::from_secs(2), |st| st.in_flight == 0).await,
        "the queue slot is given back when the client goes away"
    );
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!((v.requests.arrived, v.requests.rejected), (1, 1));
    assert_eq!(v.extra["client_closed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_request_after_start_waits_one_cold_start_not_a_tick() {
    // A revision created at zero: the first request pokes the autoscaler at once (it used to
    // wait for the 2 s tick, and then a tick with data: 2.4 s and more).
    let s = scenario_with(300, 100, "initial_scale = 0");
    let h = started(&s, open()).await;
    let took = cold_request(&h, "/?message=first").await;
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "300 ms cold start + 100 ms service, got {took:?}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_are_reachable_by_tag_only() {
    let h = started(&fixture("tags.toml"), open()).await;
    let url = h.url();
    for path in ["/@dark/?message=x", "/@stable/?message=x"] {
        let r = get(&url, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    for name in ["dark", "stable", "preview"] {
        let r = get_with(&url, "/?message=x", &[("x-scalelab-revision", name)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "by name: {name}");
    }
    let r = get(&url, "/@next/?message=x").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-scalelab-revision"], "preview");
    for _ in 0..50 {
        let r = get(&url, "/?message=split").await;
        assert_eq!(r.headers["x-scalelab-revision"], "stable", "0 % gets none");
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_for_the_http_readiness_probe() {
    for http_probe in [true, false] {
        let dir = temp_dir(&format!("late-{http_probe}"));
        let cmd = format!("{} --late {}", test_app(&dir), dir.display());
        let s = scenario_with(0, 0, "initial_scale = 1\nmin_scale = 1");
        let o = Options {
            instances: command(cmd),
            ready_path: http_probe.then(|| "/healthz".to_string()),
            ..open()
        };
        let h = started(&s, o).await;
        let serving = dir.join("serving");
        let mut ready_before_serving = false;
        let until = h.clock().now() + Duration::from_secs(10);
        while h.clock().now() < until {
            let up = serving.exists();
            if h.status().ready == 1 {
                ready_before_serving = !up;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(h.status().ready, 1, "ready in the end");
        if http_probe {
            assert!(
                !ready_before_serving,
                "with --ready-path the instance is ready only once it answers"
            );
        } else {
            assert!(
                ready_before_serving,
                "a TCP probe passes as soon as the port listens (Cloud Run's tcpSocket probe too)"
            );
        }
        let r = get(&h.url(), "/").await;
        assert_eq!(r.status, StatusCode::OK);
        h.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn pids(dir: &std::path::Path) -> Vec<u32> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("pid-")?
                .parse()
                .ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_ignoring_grandchild_does_not_survive_scale_down_or_shutdown() {
    let dir = temp_dir("stubborn");
    // The server is the shell's child, not scalelab's: `&` and `wait` keep the shell around.
    let app = test_app(&dir);
    let cmd = format!("{app} --ignore-sigterm --pid-dir {} & wait", dir.display());
    // Scales to zero quickly (6 s window + 1 s grace at time scale 0.25), then comes back for
    // a request and is shut down with the run.
    let s = scenario_with(0, 0, "initial_scale = 1");
    let o = Options {
        instances: InstanceKind::Command {
            cmd,
            termination_grace: Duration::from_millis(300),
        },
        time_scale: 0.25,
        ..open()
    };
    let h = started(&s, o).await;
    assert!(wait_until(&h, Duration::from_secs(40), |st| st.ready == 1).await);
    let first = pids(&dir);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(process_alive(first[0]));
    assert!(
        wait_until(&h, Duration::from_secs(60), |st| st.ready + st.starting
            == 0
            && st.in_flight == 0)
        .await,
        "scaled to zero"
    );
    let mut gone = false;
    for _ in 0..200 {
        if !process_alive(first[0]) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "scale-down killed the server after the grace period");
    let r = get(&h.url(), "/").await;
    assert_eq!(r.status, StatusCode::OK);
    let second: Vec<u32> = pids(&dir).into_iter().filter(|p| *p != first[0]).collect();
    assert_eq!(second.len(), 1, "{second:?}");
    h.shutdown().await;
    assert!(
        !process_alive(second[0]),
        "shutdown killed the server after the grace period"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_exits_at_start_fails_its_requests_fast_and_the_run() {
    let s = scenario_with(0, 0, "initial_scale = 0");
    let o = Options {
        instances: command("echo 'app: no port given' >&2; exit 3".into()),
        max_start_failures: 3,
        ..open()
    };
    let h = started(&s, o).await;
    // Three failed starts (back-off 100 ms, 200 ms) take well under the 3 s request timeout:
    // the waiting request gets 503 from the failed revision, not a 504 at its timeout.
    let r = get(&h.url(), "/").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.headers["x-scalelab-reason"], "revision-failed");
    let failure = h.failure().expect("the run failed");
    assert!(failure.contains("exited with status 3"), "{failure}");
    assert!(failure.contains("app: no port given"), "{failure}");
    assert!(failure.contains("single quotes"), "{failure}");
    assert!(failure.contains("$PORT"), "{failure}");
    // Later requests are answered at once.
    assert_eq!(
        get(&h.url(), "/").await.headers["x-scalelab-reason"],
        "revision-failed"
    );
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!(v.requests.rejected, 2);
    assert_eq!(v.extra["instance_crashes"], 3);
    assert!(
        v.extra["failure"]
            .as_str()
            .is_some_and(|f| f.contains("giving up"))
    );
}
