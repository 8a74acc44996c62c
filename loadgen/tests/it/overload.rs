//! The accounting holds under overload: against servers far slower than the offered rate, in
//! open and closed loop, every intended request ends in exactly one outcome, the requests
//! waiting for a connection never exceed `max_pending`, and "sent" means written to a
//! connection. Overload is created by counts (a server that sleeps per request or never
//! answers, one or two connections), so the bounds below follow from the server's sleeps, not
//! from how fast this machine is.

use std::time::Duration;

use scalelab_loadgen::{LoadConfig, LoadReport, LoopMode, OUTCOMES, Outcome, run, to_result};

use crate::measure::{constant, queued_on_one_connection};
use crate::servers::{Behaviour, Fault, fault_server, hyper_server};

/// Every intended request has exactly one outcome, in the recorder and in the document.
fn assert_accounted(cfg: &LoadConfig, report: &LoadReport) {
    let r = &report.recorder;
    let total: u64 = OUTCOMES.iter().map(|&o| r.outcome(o)).sum();
    assert_eq!(total, r.intended, "outcomes {:?}", r.outcomes);
    let doc = to_result(cfg, report);
    let v = &doc.variants[0];
    let outcomes: u64 = v.extra["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(outcomes, v.requests.arrived);
    let q = &v.requests;
    assert_eq!(
        q.completed + q.rejected + q.timed_out + q.in_flight_at_end,
        q.arrived
    );
}

#[tokio::test]
async fn open_loop_far_above_a_slow_servers_capacity() {
    // 200 requests in 400 ms; the server needs 200 ms per request on each of 2 connections.
    let server = hyper_server(Behaviour::Slow(Duration::from_millis(200))).await;
    let mut cfg = constant(&server.url(), 500.0, 400);
    cfg.max_connections = 2;
    cfg.max_pending = 10;
    cfg.grace = Duration::from_millis(300);
    let dir = std::env::temp_dir().join(format!("scalelab-overload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("requests.jsonl");
    cfg.output = Some(out.clone());
    let report = run(&cfg).await.unwrap();
    assert_accounted(&cfg, &report);
    let r = &report.recorder;
    assert_eq!(r.intended, 200);
    // Within 700 ms each connection completes at most 4 requests of ≥ 200 ms.
    assert!(r.sent <= 8, "sent {}", r.sent);
    assert!(report.peak_waiting <= 10, "{}", report.peak_waiting);
    assert!(r.outcome(Outcome::QueueFull) >= 200 - 8 - 10);
    assert_eq!(report.connections_opened, 2);
    // Sent means on the wire: the achieved rate is what the connections took, not the schedule.
    let doc = to_result(&cfg, &report);
    let achieved = doc.variants[0].extra["achieved_rate"].as_f64().unwrap();
    assert!(achieved <= 20.0, "achieved {achieved}/s of 500/s");

    // One JSON line per intended request, in the documented shape.
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, r.intended);
    let mut indexes: Vec<u64> = lines.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..200).collect::<Vec<_>>());
    for l in &lines {
        let outcome = l["outcome"].as_str().unwrap();
        assert!(Outcome::from_name(outcome).is_some(), "{l}");
        assert!(l["intended_us"].is_u64() && l["end_us"].is_u64(), "{l}");
        match outcome {
            "queue_full" | "not_sent" => {
                assert!(l["sent_us"].is_null() && l["latency_us"].is_null(), "{l}");
            }
            "http_2xx" => {
                assert_eq!(l["status"], 200, "{l}");
                let (i, s) = (
                    l["intended_us"].as_u64().unwrap(),
                    l["sent_us"].as_u64().unwrap(),
                );
                assert!(s >= i, "{l}");
                assert!(l["latency_us"].as_u64().unwrap() >= 200_000, "{l}");
            }
            _ => assert!(l["status"].is_null(), "{l}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn open_loop_against_a_server_that_never_answers() {
    let url = fault_server(Fault::Stall).await;
    let mut cfg = constant(&url, 200.0, 300);
    cfg.max_connections = 2;
    cfg.max_pending = 10;
    cfg.grace = Duration::from_millis(200);
    let report = run(&cfg).await.unwrap();
    assert_accounted(&cfg, &report);
    let r = &report.recorder;
    assert_eq!(r.intended, 60);
    // Two requests went out and hung until the end; the queue's ten never got a connection.
    assert_eq!(r.sent, 2);
    assert_eq!(r.outcome(Outcome::Aborted), 2);
    assert_eq!(r.outcome(Outcome::NotSent), 10);
    assert_eq!(r.outcome(Outcome::QueueFull), 48);
}

#[tokio::test]
async fn closed_loop_against_slow_and_silent_servers() {
    let server = hyper_server(Behaviour::Slow(Duration::from_millis(100))).await;
    let mut cfg = constant(&server.url(), 1.0, 250);
    cfg.mode = LoopMode::Closed { connections: 3 };
    cfg.grace = Duration::from_millis(500);
    let report = run(&cfg).await.unwrap();
    assert_accounted(&cfg, &report);
    let r = &report.recorder;
    // Each worker starts requests at 0, ≥100 and ≥200 ms: at most 3 each.
    assert!(r.intended >= 3 && r.intended <= 9, "{}", r.intended);
    assert_eq!(r.successes(), r.intended);

    let url = fault_server(Fault::Stall).await;
    let mut cfg = constant(&url, 1.0, 200);
    cfg.mode = LoopMode::Closed { connections: 3 };
    cfg.grace = Duration::from_millis(200);
    let report = run(&cfg).await.unwrap();
    assert_accounted(&cfg, &report);
    assert_eq!(report.recorder.intended, 3);
    assert_eq!(report.recorder.outcome(Outcome::Aborted), 3);
}

/// Requests that wait for the one connection are sent when it frees up: their send lag is the
/// wait (at least 40 ms more per request here), and their latency still counts from the
/// intended time.
#[tokio::test]
async fn send_time_is_when_the_request_reaches_a_connection() {
    let (cfg, report) =
        queued_on_one_connection(50, 100.0, 200, Duration::from_secs(3), |_| {}).await;
    assert_accounted(&cfg, &report);
    let r = &report.recorder;
    assert_eq!(r.successes(), 20);
    // The 20th request is due at 190 ms and cannot be written before 19 × 50 ms = 950 ms.
    assert!(
        r.send_lag.max() >= 700_000,
        "lag max {} µs",
        r.send_lag.max()
    );
    assert!(r.latency.max() >= r.send_lag.max() + 50_000);
    let doc = to_result(&cfg, &report);
    let v = &doc.variants[0];
    assert!(v.extra["achieved_rate"].as_f64().unwrap() < 50.0);
    assert!(!v.extra["behind_seconds"].as_array().unwrap().is_empty());
}

/// `--max-lag`: the run stops once a request is written too late; the rest of the schedule is
/// `not_sent`, and the accounting still holds.
#[tokio::test]
async fn max_lag_stops_the_run_and_counts_the_rest() {
    let (cfg, report) = queued_on_one_connection(50, 100.0, 500, Duration::from_secs(1), |c| {
        c.max_lag = Some(Duration::from_millis(30))
    })
    .await;
    assert_accounted(&cfg, &report);
    assert!(report.stopped_early.is_some());
    assert_eq!(report.recorder.intended, 50);
    assert!(report.recorder.outcome(Outcome::NotSent) > 0);
}
