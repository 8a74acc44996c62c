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
    tiny_server_with(200)
}

/// The same server answering every request with `status`.
fn tiny_server_with(status: u16) -> TinyServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let counter = counter.clone();
            std::thread::spawn(move || serve(conn, &counter, status));
        }
    });
    TinyServer { url, requests }
}

fn serve(conn: TcpStream, counter: &AtomicU64, status: u16) {
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
        let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok");
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn json(args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let o = scalelab(args);
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(serde_json::Value::Null);
    (o, v)
}

/// A seeded second of Poisson arrivals at 100/s.
const POISSON_100_FOR_1S: [&str; 8] = [
    "--rate",
    "100",
    "-d",
    "1s",
    "--seed",
    "5",
    "--arrival",
    "poisson",
];

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
    assert_contains(&text, "closed loop");
    assert_contains(&text, "5 succeeded");
}

#[test]
fn shards_merge_into_the_whole_run() {
    let s = tiny_server();
    let dir = fresh_dir("load", "shards");
    let mut files = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("shard-{i}"));
        let shard = format!("{i}/2");
        let mut args = vec!["load", s.url.as_str()];
        args.extend(POISSON_100_FOR_1S);
        args.extend([
            "--shard",
            shard.as_str(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        let o = scalelab(&args);
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
    let mut args = vec!["load", s.url.as_str()];
    args.extend(POISSON_100_FOR_1S);
    args.extend(["--format", "json"]);
    let (o, whole) = json(&args);
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
    assert_exit(&o, 2);
}

#[test]
fn every_bundled_scenario_drives_a_local_server() {
    let s = tiny_server();
    for f in bundled_scenarios() {
        let before = s.count();
        let text = std::fs::read_to_string(&f).expect("scenario");
        if text.contains("[[services]]") {
            // A fleet is refused (one workload per service: `run` sends each with its Host).
            let o = scalelab(&["load", &rel(&f), "--url", &s.url, "--quiet"]);
            assert_exit(&o, 2);
            assert_contains(&stderr(&o), "scalelab run");
            assert_eq!(s.count(), before, "{}: nothing sent", f.display());
            continue;
        }
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
        let r = &v["variants"][0]["requests"];
        // 3: the run completed and an [slo] threshold failed; 1 only when the 300 ms slice of
        // a slow workload held no request at all (a run that measured nothing does not pass).
        let nothing = r["arrived"] == 0;
        assert!(
            matches!(o.status.code(), Some(0 | 3)) || (nothing && o.status.code() == Some(1)),
            "{}: {}",
            f.display(),
            stderr(&o)
        );
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

fn refused_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/")
}

/// A run in which every request failed is a failure (exit 1) that names the most common error,
/// and still writes what it measured.
#[test]
fn a_run_where_nothing_succeeded_exits_1_and_says_why() {
    let url = refused_url();
    let (o, v) = json(&[
        "load", &url, "--rate", "20", "-d", "500ms", "--format", "json",
    ]);
    assert_exit(&o, 1);
    assert_contains(&stderr(&o), "no request succeeded");
    assert_contains(&stderr(&o), "connect_refused");
    assert_eq!(v["variants"][0]["extra"]["outcomes"]["connect_refused"], 10);
    assert_eq!(v["variants"][0]["requests"]["rejected"], 10);
    assert_eq!(
        v["variants"][0]["extra"]["most_common_error"],
        "connect_refused"
    );

    // 100 × 4xx: the same, and the text summary shows no latency table of zeros.
    let s = tiny_server_with(404);
    let o = scalelab(&["load", &s.url, "-c", "2", "-n", "100", "--quiet"]);
    assert_exit(&o, 1);
    assert_contains(&stderr(&o), "http_4xx");
    let text = stdout(&o);
    assert_contains(&text, "success      0.00 %");
    assert_contains(&text, "failed       100 (100.00 %): http_4xx 100");
    assert_contains(&text, "latency      none");
    assert!(!text.contains("p50 0.000"), "{text}");
    assert_eq!(s.count(), 100);
}

#[test]
fn failures_are_on_their_own_line_beside_the_success_ratio() {
    let s = tiny_server_with(503);
    let ok = tiny_server();
    // Half the requests to a server that fails them is not expressible with one URL; a 5xx
    // server shows the failed line, a healthy one the latency of successes only.
    let o = scalelab(&["load", &ok.url, "--rate", "50/1s", "-d", "400ms", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_contains(&text, "success      100.00 % (20 of 20");
    assert!(text.contains("p75 ") && text.contains("p95 "), "{text}");
    assert_contains(&text, "distribution (successful requests, ms)");
    assert!(!text.contains("failed       "), "{text}");
    let o = scalelab(&["load", &s.url, "--rate", "20", "-d", "500ms", "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    assert_contains(&stdout(&o), "failed       10 (100.00 %): http_5xx 10");
}

#[test]
fn slo_flags_exit_3_on_a_breach() {
    let s = tiny_server();
    let base = [
        "load",
        s.url.as_str(),
        "--rate",
        "40",
        "-d",
        "250ms",
        "--quiet",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        scalelab(&args)
    };
    let o = run(&["--slo", "p99=1us"]);
    assert_exit(&o, 3);
    assert_contains(&stdout(&o), "BREACH");
    let o = run(&["--slo", "max=1us", "--slo", "error_ratio=0.5"]);
    assert_exit(&o, 3);
    let o = run(&[
        "--slo",
        "p99=30s",
        "--slo",
        "error_ratio=0",
        "--slo",
        "max=1m",
    ]);
    assert_exit(&o, 0);
    let (o, v) = json(&[
        "load", &s.url, "--rate", "40", "-d", "250ms", "--slo", "p50=30s", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v["variants"][0]["slo"]["checks"][0]["name"], "p50");
    assert_eq!(v["variants"][0]["slo"]["passed"], true);
    for bad in [
        "p98=1s",
        "p99",
        "p99=fast",
        "error_ratio=2",
        "cold_start_ratio=0.1",
    ] {
        let o = run(&["--slo", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("--slo {bad}")),
            "{bad}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn output_writes_one_json_line_per_request() {
    let s = tiny_server();
    let dir = fresh_dir("load", "output");
    let file = dir.join("requests.jsonl");
    let o = scalelab(&[
        "load",
        &s.url,
        "--rate",
        "600/m",
        "-d",
        "1s",
        "--quiet",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for l in &lines {
        assert_eq!(l["status"], 200, "{l}");
        assert_eq!(l["outcome"], "http_2xx", "{l}");
        assert!(l["sent_us"].as_u64() >= l["intended_us"].as_u64(), "{l}");
        assert!(l["latency_us"].is_u64(), "{l}");
    }
}

#[test]
fn urls_without_a_scheme_or_with_a_bad_port_exit_2() {
    for (url, want) in [
        ("127.0.0.1:8080", "no scheme"),
        ("localhost", "no scheme"),
        ("http://127.0.0.1:99999/", "invalid port"),
        ("http://127.0.0.1:http/", "invalid port"),
        ("ftp://127.0.0.1/", "unsupported scheme"),
    ] {
        let o = scalelab(&["load", url, "--rate", "5", "-d", "1s"]);
        assert_eq!(o.status.code(), Some(2), "{url}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{url}: {}", stderr(&o));
    }
}

#[test]
fn bad_input_exits_2() {
    // One run per entry, its arguments separated by `|` (one holds a space).
    let t = "load|http://127.0.0.1:9/";
    for line in [
        format!("{t}|-d|1s"),
        format!("{t}|--rate|fast|-d|1s"),
        format!("{t}|--rate|5|-d|1s|--shard|3/2"),
        format!("{t}|--rate|5|-d|soon"),
        format!("{t}|--rate|5|-d|1s|-H|no colon"),
        "load|no-such-scenario.toml".to_string(),
        format!("{t}|--rate|5|-d|1s|--cacert|no-such-ca.pem"),
        format!("{t}|--rate|5|-d|1s|--insecure|--cacert|x.pem"),
        "load|--merge|no-such-result.json".to_string(),
    ] {
        let args: Vec<&str> = line.split('|').collect();
        let o = refused(&args);
        assert!(stderr(&o).starts_with("error:"), "{args:?}: {}", stderr(&o));
    }
}
