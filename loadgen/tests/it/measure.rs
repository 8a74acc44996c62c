//! Counts, rates, the connection pool and honest latency under a stall.

use std::time::Duration;

use scalelab_core::workload::{ArrivalSpec, Phase, WorkloadSpec, expected_count};
use scalelab_loadgen::{
    Bucket, LoadConfig, LoadReport, LoopMode, Outcome, Schedule, Shard, decode_histogram, run,
    to_result,
};

use crate::servers::{Behaviour, hyper_server};

pub fn workload(arrival: ArrivalSpec, d: Duration) -> WorkloadSpec {
    WorkloadSpec {
        phases: vec![Phase {
            duration: d,
            arrival,
        }],
    }
}

pub fn config(url: &str, arrival: ArrivalSpec, d: Duration) -> LoadConfig {
    let mut c = LoadConfig::new(url, workload(arrival, d), d);
    c.warnings = false;
    c.grace = Duration::from_millis(500);
    c.seed = 42;
    c
}

/// [`config`] at a constant `rate` per second for `ms` milliseconds.
pub fn constant(url: &str, rate: f64, ms: u64) -> LoadConfig {
    config(
        url,
        ArrivalSpec::Constant { rate },
        Duration::from_millis(ms),
    )
}

/// [`constant`] against a server that takes `slow_ms` a request, through one connection (so
/// requests queue for it), with `grace` to finish and `tweak` applied: the config and the run.
pub async fn queued_on_one_connection(
    slow_ms: u64,
    rate: f64,
    ms: u64,
    grace: Duration,
    tweak: impl FnOnce(&mut LoadConfig),
) -> (LoadConfig, LoadReport) {
    let server = hyper_server(Behaviour::Slow(Duration::from_millis(slow_ms))).await;
    let mut cfg = constant(&server.url(), rate, ms);
    cfg.max_connections = 1;
    cfg.grace = grace;
    tweak(&mut cfg);
    let report = run(&cfg).await.unwrap();
    (cfg, report)
}

#[tokio::test]
async fn constant_rate_sends_exactly_the_schedule() {
    let server = hyper_server(Behaviour::Ok).await;
    let cfg = constant(&server.url(), 200.0, 1500);
    let report = run(&cfg).await.unwrap();
    let r = &report.recorder;
    assert_eq!(r.intended, 300);
    assert_eq!(r.outcome(Outcome::Http2xx), 300);
    assert_eq!(server.count(), 300);
    assert_eq!(r.rows[0].target, 200);
    assert_eq!(r.rows[0].sent, 200);
    assert_eq!(r.rows[1].target, 100);
    assert_eq!(r.latency.len(), 300);
    // Keep-alive: a handful of connections for 300 requests at 200/s.
    assert!(
        report.connections_opened < 20,
        "{}",
        report.connections_opened
    );
    let doc = to_result(&cfg, &report);
    let v = &doc.variants[0];
    assert_eq!(v.requests.arrived, 300);
    assert_eq!(v.requests.completed, 300);
    assert_eq!(v.extra["target_rate"], 200.0);
    assert_eq!(v.extra["achieved_rate"], 200.0);
    assert_eq!(v.extra["outcomes"]["http_2xx"], 300);
    let h = decode_histogram(v.extra["latency_hdr"].as_str().unwrap()).unwrap();
    assert_eq!(h, r.latency);
}

#[tokio::test]
async fn every_arrival_process_keeps_its_rate() {
    let d = Duration::from_secs(1);
    let processes = [
        ArrivalSpec::Poisson { rate: 300.0 },
        ArrivalSpec::Ramp {
            from: 100.0,
            to: 500.0,
        },
        ArrivalSpec::Sine {
            mean: 300.0,
            amplitude: 200.0,
            period: Duration::from_millis(500),
        },
        ArrivalSpec::Onoff {
            rate: 600.0,
            on: Duration::from_millis(250),
            off: Duration::from_millis(250),
        },
        ArrivalSpec::Trace {
            at: (0..50).map(|i| Duration::from_millis(i * 19)).collect(),
        },
    ];
    let runs = processes.into_iter().map(|p| async move {
        let server = hyper_server(Behaviour::Ok).await;
        let cfg = config(&server.url(), p.clone(), d);
        let report = run(&cfg).await.unwrap();
        (p, server.count(), report)
    });
    for (p, served, report) in futures_join_all(runs).await {
        let w = workload(p.clone(), d);
        let planned = Schedule::new(&w, d, 42, &[1.0], Shard::ALL, None).count() as u64;
        let r = &report.recorder;
        assert_eq!(r.intended, planned, "{p:?}");
        assert_eq!(served, planned, "{p:?}");
        assert_eq!(r.count(Bucket::Completed), planned, "{p:?}");
        let expected = expected_count(&w, d);
        let tolerance = 5.0 * expected.sqrt() + 1.0;
        assert!(
            (planned as f64 - expected).abs() <= tolerance,
            "{p:?}: {planned} sent, {expected} expected"
        );
    }
}

/// Runs futures concurrently on the current task (no extra dependency for join_all).
async fn futures_join_all<F>(fs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The measurement is honest: a server that stops for a second mid-run shows in the open-loop
/// tail (every request scheduled during the stall waits for it), while a closed-loop run at the
/// same server hides it (its one connection simply sends nothing during the stall: coordinated
/// omission).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_shows_a_stall_that_closed_loop_hides() {
    let stall = Duration::from_secs(1);
    let d = Duration::from_secs(2);
    let server = hyper_server(Behaviour::StallOnce { at: 100, stall }).await;
    let mut cfg = config(&server.url(), ArrivalSpec::Constant { rate: 200.0 }, d);
    cfg.grace = Duration::from_secs(2);
    let open = run(&cfg).await.unwrap();
    let open_p99 = open.recorder.latency.value_at_quantile(0.99);
    assert_eq!(open.recorder.count(Bucket::Completed), 400);
    assert!(
        open_p99 >= 800_000,
        "open-loop p99 {open_p99} µs hides the stall"
    );
    // Half the requests were scheduled during the stall and waited 0–1 s for its end.
    assert!(open.recorder.latency.value_at_quantile(0.75) >= 300_000);

    let server = hyper_server(Behaviour::StallOnce { at: 100, stall }).await;
    let mut cfg = config(&server.url(), ArrivalSpec::Constant { rate: 1.0 }, d);
    cfg.mode = LoopMode::Closed { connections: 1 };
    let closed = run(&cfg).await.unwrap();
    let h = &closed.recorder.latency;
    assert!(h.len() > 500, "closed loop sent only {}", h.len());
    assert!(h.max() >= 900_000, "the stall happened: max {} µs", h.max());
    assert!(
        h.value_at_quantile(0.99) < 100_000,
        "closed-loop p99 {} µs",
        h.value_at_quantile(0.99)
    );
}

/// With one connection allowed, requests queue for it, and the wait counts in their latency.
#[tokio::test]
async fn pool_wait_counts_in_latency() {
    let (_, report) = queued_on_one_connection(40, 50.0, 400, Duration::from_secs(2), |_| {}).await;
    let r = &report.recorder;
    assert_eq!(r.count(Bucket::Completed), 20);
    assert_eq!(report.connections_opened, 1);
    assert_eq!(report.peak_connections, 1);
    // Served one at a time every 40 ms while arriving every 20 ms: the last waits ~400 ms.
    assert!(r.latency.max() >= 350_000, "{}", r.latency.max());
    assert!(r.latency.min() >= 39_000, "{}", r.latency.min());
}

#[tokio::test]
async fn http2_prior_knowledge_multiplexes_one_connection() {
    let server = hyper_server(Behaviour::Slow(Duration::from_millis(30))).await;
    let mut cfg = constant(&server.url(), 200.0, 500);
    cfg.http2 = true;
    let report = run(&cfg).await.unwrap();
    assert_eq!(report.recorder.outcome(Outcome::Http2xx), 100);
    assert_eq!(report.connections_opened, 1);
}

#[tokio::test]
async fn closed_loop_stops_at_the_request_limit() {
    let server = hyper_server(Behaviour::Ok).await;
    let mut cfg = constant(&server.url(), 1.0, 5000);
    cfg.mode = LoopMode::Closed { connections: 4 };
    cfg.max_requests = Some(250);
    let report = run(&cfg).await.unwrap();
    assert_eq!(report.recorder.intended, 250);
    assert_eq!(report.recorder.count(Bucket::Completed), 250);
    assert_eq!(server.count(), 250);
    assert_eq!(report.connections_opened, 4);
    assert!(report.elapsed < Duration::from_secs(4));
}

#[tokio::test]
async fn hdr_log_is_a_standard_interval_log() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let server = hyper_server(Behaviour::Ok).await;
    let dir = std::env::temp_dir().join(format!("scalelab-hdrlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latency.hlog");
    let mut cfg = constant(&server.url(), 100.0, 1500);
    cfg.hdr_log = Some(path.clone());
    let report = run(&cfg).await.unwrap();
    let text = std::fs::read(&path).unwrap();
    let mut total = 0;
    let mut intervals = 0;
    let mut start_time = false;
    for entry in IntervalLogIterator::new(&text) {
        match entry.unwrap() {
            LogEntry::StartTime(_) => start_time = true,
            LogEntry::Interval(i) => {
                intervals += 1;
                let h = decode_histogram(i.encoded_histogram()).unwrap();
                total += h.len();
            }
            _ => {}
        }
    }
    assert!(start_time);
    assert!(intervals >= 2, "{intervals}");
    assert_eq!(total, 150);
    assert_eq!(total, report.recorder.latency.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
