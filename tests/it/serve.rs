//! `scalelab serve`: prints the URL and token, answers on 127.0.0.1, stops on SIGTERM or
//! `--stop-after` with the requests drained, and writes the result, the event log and the
//! request log; bad flags are bad input (exit 2).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::support::*;

const SCENARIO: &str = include_str!("fixtures/serve-test.toml");

fn temp_dir(name: &str) -> Scratch {
    fresh_dir("serve", name)
}

/// A fresh directory `name` holding the scenario `file` written from `toml`: the directory
/// (removed when dropped) and the scenario's path.
fn scenario_in(name: &str, file: &str, toml: &str) -> (Scratch, String) {
    let dir = temp_dir(name);
    let path = write_file(&dir, file, toml);
    (dir, path.to_str().unwrap().to_string())
}

/// How long a serve run may take to exit by itself or on SIGTERM before it is killed.
const EXIT: Duration = Duration::from_secs(120);

/// A plain HTTP/1.1 GET; returns the status and the body.
fn http_get(url: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let hostport = url.strip_prefix("http://").expect("http url");
    let mut s = TcpStream::connect(hostport).expect("connects");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).expect("sends");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("reads");
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn write_scenario(dir: &Path) -> String {
    let p = write_file(dir, "serve.toml", SCENARIO);
    p.display().to_string()
}

#[test]
fn serve_answers_and_writes_result_events_and_request_log() {
    let _shared = crate::support::shared();
    let dir = temp_dir("out");
    let scen = write_scenario(&dir);
    let out = dir.join("run");
    let events = dir.join("events.jsonl");
    let log = dir.join("requests.jsonl");
    let mut s = Serve::start(&[
        &scen,
        "--allow-unauthenticated",
        "--stop-after",
        "2s",
        "--seed",
        "5",
        "--format",
        "json",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--request-log",
        log.to_str().unwrap(),
    ]);
    let url = s.url.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(s.token.starts_with("none"), "{}", s.token);
    let (status, body) = http_get(&url, "/?message=Hi&name=CLI", &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"message":"Hi welcomes you, CLI!"}"#);
    let (status, metrics) = http_get(&url, "/metrics", &[]);
    assert_eq!(status, 200);
    assert_contains(
        &metrics,
        "scalelab_requests_total{revision=\"default\",code=\"200\"} 1",
    );
    assert_eq!(s.wait(EXIT), Some(0), "{}", s.stderr());
    let doc: serde_json::Value = serde_json::from_str(&s.rest_of_stdout()).expect("json summary");
    assert_eq!(doc["mode"], "live");
    assert_eq!(doc["seed"], 5);
    assert_eq!(doc["variants"][0]["requests"]["arrived"], 1);
    assert_eq!(doc["variants"][0]["requests"]["completed"], 1);
    assert!(out.join("result.json").exists());
    let ev = std::fs::read_to_string(&events).expect("events");
    assert!(ev.lines().any(|l| l.contains("\"instance_ready\"")), "{ev}");
    let reqs = std::fs::read_to_string(&log).expect("request log");
    let line: serde_json::Value =
        serde_json::from_str(reqs.lines().next().expect("a line")).expect("json");
    assert_eq!(line["status"], 200);
    assert_eq!(line["revision"], "default");
}

#[test]
fn serve_needs_its_token_and_drains_on_sigterm() {
    let _shared = crate::support::shared();
    let dir = temp_dir("token");
    let scen = write_scenario(&dir);
    let mut s = Serve::start(&[&scen, "--token", "t0ken", "-q"]);
    let url = s.url.clone();
    assert_eq!(s.token, "t0ken");
    assert_eq!(http_get(&url, "/?message=x", &[]).0, 401);
    assert_eq!(
        http_get(&url, "/?message=x", &[("Authorization", "Bearer nope")]).0,
        403
    );
    assert_eq!(
        http_get(&url, "/?message=x", &[("Authorization", "Bearer t0ken")]).0,
        200
    );
    assert_eq!(s.stop(EXIT), Some(0), "SIGTERM is a normal stop");
    assert!(
        s.rest_of_stdout().contains("live"),
        "the summary is printed"
    );
}

#[test]
fn bad_serve_flags_are_bad_input() {
    let _shared = crate::support::shared();
    let dir = temp_dir("bad");
    let scen = write_scenario(&dir);
    for args in [
        vec!["serve", "no-such-file.toml"],
        vec!["serve", &scen, "--listen", "nowhere"],
        vec!["serve", &scen, "--time-scale", "0"],
        vec!["serve", &scen, "--variant", "nope"],
        vec!["serve", &scen, "--stop-after", "soon"],
        vec!["serve", &scen, "--allow-from", "127.0.0.0/33"],
        vec!["serve", &scen, "--allow-from", "localhost"],
    ] {
        let o = refused(&args);
        if args.contains(&"--allow-from") {
            assert_contains(&stderr(&o), "--allow-from");
        }
    }
}

/// A serve run in which every request timed out once printed "SLO: all 1 checks passed" and
/// exited 0 (its p99 was 0: timed-out requests have no latency). It fails now: on the p99
/// check, which has no successful request to judge, and on the error ratio.
#[test]
fn a_serve_run_whose_requests_all_time_out_fails_its_slo() {
    let _shared = crate::support::shared();
    let (_dir, scen) = scenario_in(
        "timeouts",
        "slow.toml",
        r#"
name = "all-time-out"
duration = "1m"
[service]
timeout = "200ms"
service_time = { dist = "fixed", value = "5s" }
cold_start = { dist = "fixed", value = "10ms" }
[[workload.phases]]
duration = "1m"
arrival = { process = "poisson", rate = 1 }
[slo]
p99 = "500ms"
"#,
    );
    let mut s = Serve::start(&[&scen, "--allow-unauthenticated", "--stop-after", "2s", "-q"]);
    assert_eq!(http_get(&s.url, "/", &[]).0, 504);
    let exit = s.wait(EXIT);
    let out = s.rest_of_stdout();
    assert_eq!(exit, Some(3), "{out}");
    assert_contains(&out, "2 of 2 checks FAILED");
    assert_contains(&out, "no successful request");
    assert_contains(&out, "error_ratio ≤ 1.00% (default)");
}

/// `serve` refuses a scenario whose instances alone are more than this machine can run.
#[test]
fn serve_refuses_a_million_instances() {
    let _shared = crate::support::shared();
    let (_dir, scen) = scenario_in(
        "million",
        "million.toml",
        "duration = \"1m\"\n[autoscaler]\nmin_scale = 1000000\n[[workload.phases]]\nduration = \
         \"1m\"\narrival = { process = \"poisson\", rate = 1 }\n",
    );
    let o = scalelab(&["serve", &scen, "--stop-after", "1s"]);
    assert_exit(&o, 2);
    assert_contains(
        &stderr(&o),
        "about 1,000,000 instances at once (limit 1,000)",
    );
}
