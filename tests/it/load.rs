//! `scalelab load`: quick mode, closed loop, scenario mode for every bundled scenario, shards
//! and --merge, and bad input. The target is a small keep-alive HTTP/1.1 server on 127.0.0.1
//! with an OS-assigned port, written with the standard library only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::*;

struct TinyServer {
    url: String,
    requests: Arc<AtomicU64>,
}

impl TinyServer {
    fn count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

fn tiny_server() -> TinyServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let counter = counter.clone();
            std::thread::spawn(move || serve(conn, &counter));
        }
    });
    TinyServer { url, requests }
}

fn serve(conn: TcpStream, counter: &AtomicU64) {
    let mut out = conn.try_clone().expect("clone");
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        counter.fetch_add(1, Ordering::SeqCst);
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

fn json(args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let o = scalelab(args);
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(serde_json::Value::Null);
    (o, v)
}

#[test]
fn quick_mode_sends_the_rate_for_the_duration() {
    let s = tiny_server();
    let (o, v) = json(&[
        "load",
        &s.url,
        "--rate",
        "100/s",
        "--duration",
        "1s",
        "--seed",
        "3",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v["mode"], "load");
    assert_eq!(v["seed"], 3);
    let r = &v["variants"][0]["requests"];
    assert_eq!(r["arrived"], 100);
    assert_eq!(r["completed"], 100);
    assert_eq!(s.count(), 100);
    let extra = &v["variants"][0]["extra"];
    assert_eq!(extra["loop"], "open");
    assert!(extra["latency_hdr"].is_string());
    assert!(v["variants"][0]["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
}

#[test]
fn closed_loop_with_a_request_limit() {
    let s = tiny_server();
    let (o, v) = json(&["load", &s.url, "-c", "2", "-n", "50", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v["variants"][0]["requests"]["arrived"], 50);
    assert_eq!(v["variants"][0]["extra"]["loop"], "closed");
    assert_eq!(s.count(), 50);
    // The text summary names the loop and the counts.
    let o = scalelab(&["load", &s.url, "-c", "1", "-n", "5", "--quiet"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("closed loop"), "{text}");
    assert!(text.contains("5 completed"), "{text}");
}

#[test]
fn shards_merge_into_the_whole_run() {
    let s = tiny_server();
    let dir = std::env::temp_dir().join(format!("scalelab-load-shards-{}", std::process::id()));
    let mut files = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("shard-{i}"));
        let shard = format!("{i}/2");
        let o = scalelab(&[
            "load",
            &s.url,
            "--rate",
            "100",
            "-d",
            "1s",
            "--seed",
            "5",
            "--arrival",
            "poisson",
            "--shard",
            &shard,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        files.push(out.join("result.json").display().to_string());
    }
    let mut args = vec!["load", "--merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--format", "json"]);
    let (o, v) = json(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let arrived = v["variants"][0]["requests"]["arrived"].as_u64().unwrap();
    assert_eq!(arrived, s.count());
    assert_eq!(v["variants"][0]["extra"]["shard"], "0/2,1/2");
    // The unsharded run sends the same number of requests.
    let (o, whole) = json(&[
        "load",
        &s.url,
        "--rate",
        "100",
        "-d",
        "1s",
        "--seed",
        "5",
        "--arrival",
        "poisson",
        "--format",
        "json",
    ]);
    assert!(o.status.success());
    assert_eq!(whole["variants"][0]["requests"]["arrived"], arrived);
    // `scalelab report --merge` gives the same merged document.
    let mut args = vec!["report", "--merge", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let (o, r) = json(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        r["variants"][0]["requests"]["arrived"].as_u64(),
        Some(arrived)
    );
    assert_eq!(
        r["variants"][0]["extra"]["latency_hdr"],
        v["variants"][0]["extra"]["latency_hdr"]
    );
    // Merging a shard with itself is refused (exit 2).
    let o = scalelab(&["load", "--merge", &files[0], &files[0]]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_bundled_scenario_drives_a_local_server() {
    let s = tiny_server();
    for f in bundled_scenarios() {
        let before = s.count();
        let (o, v) = json(&[
            "load",
            &rel(&f),
            "--url",
            &s.url,
            "--duration",
            "300ms",
            "--seed",
            "1",
            "--quiet",
            "--format",
            "json",
        ]);
        // 3: the run completed and an [slo] threshold failed; anything else is a failure.
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{}: {}",
            f.display(),
            stderr(&o)
        );
        let r = &v["variants"][0]["requests"];
        assert_eq!(r["arrived"], r["completed"], "{}", f.display());
        assert_eq!(
            r["arrived"].as_u64(),
            Some(s.count() - before),
            "{}",
            f.display()
        );
        assert!(v["resolved_scenario"].is_object());
    }
}

#[test]
fn refused_connections_are_results_not_failures() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let (o, v) = json(&[
        "load", &url, "--rate", "20", "-d", "500ms", "--format", "json",
    ]);
    // A result, not a runtime failure (1): the run completed and its default error-ratio
    // check (1 %) failed, so it exits 3 (issue 20: a failed run never passes).
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(v["variants"][0]["extra"]["outcomes"]["connect_refused"], 10);
    assert_eq!(v["variants"][0]["requests"]["rejected"], 10);
}

#[test]
fn bad_input_exits_2() {
    for args in [
        vec!["load", "http://127.0.0.1:9/", "-d", "1s"],
        vec!["load", "http://127.0.0.1:9/", "--rate", "fast", "-d", "1s"],
        vec![
            "load",
            "http://127.0.0.1:9/",
            "--rate",
            "5",
            "-d",
            "1s",
            "--shard",
            "3/2",
        ],
        vec!["load", "http://127.0.0.1:9/", "--rate", "5", "-d", "soon"],
        vec![
            "load",
            "http://127.0.0.1:9/",
            "--rate",
            "5",
            "-d",
            "1s",
            "-H",
            "no colon",
        ],
        vec!["load", "no-such-scenario.toml"],
        vec!["load", "--merge", "no-such-result.json"],
    ] {
        let o = scalelab(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error:"), "{args:?}: {}", stderr(&o));
    }
}
