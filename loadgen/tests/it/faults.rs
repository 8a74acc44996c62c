//! Bad targets never hang or panic: each fault is counted under its own outcome and the run
//! ends on time.

use std::time::Duration;

use scalelab_core::workload::ArrivalSpec;
use scalelab_loadgen::{Bucket, LoadReport, Outcome, run};

use crate::measure::config;
use crate::servers::{Behaviour, Fault, fault_server, hyper_server, refused_url};

const D: Duration = Duration::from_millis(500);

async fn load(url: &str, tweak: impl FnOnce(&mut scalelab_loadgen::LoadConfig)) -> LoadReport {
    let mut cfg = config(url, ArrivalSpec::Constant { rate: 40.0 }, D);
    cfg.timeout = Duration::from_millis(300);
    cfg.connect_timeout = Duration::from_millis(200);
    cfg.grace = Duration::from_millis(400);
    tweak(&mut cfg);
    let report = run(&cfg).await.unwrap();
    assert!(
        report.elapsed <= D + cfg.grace + Duration::from_millis(300),
        "the run took {:?}",
        report.elapsed
    );
    let r = &report.recorder;
    assert_eq!(r.intended, 20);
    assert_eq!(
        r.outcomes.iter().sum::<u64>(),
        20,
        "every request has one outcome"
    );
    report
}

/// A fault server's URL with `https://`: what a TLS client meets there.
async fn https_url(fault: Fault) -> String {
    fault_server(fault).await.replace("http://", "https://")
}

/// Each fault on its own: every one of the 20 requests ends in the fault's outcome (and, where
/// given, in the fault's bucket).
#[tokio::test]
async fn each_fault_is_counted_under_its_own_outcome() {
    use Bucket::{Rejected, TimedOut};
    use Outcome::{ConnectError, ConnectRefused, ConnectTimeout, Protocol, Reset, Timeout};
    let cases = [
        (fault_server(Fault::Garbage).await, Protocol, None),
        (fault_server(Fault::Reset).await, Reset, None),
        (fault_server(Fault::Stall).await, Timeout, Some(TimedOut)),
        // A TLS handshake that never ends is a connect timeout.
        (https_url(Fault::Blackhole).await, ConnectTimeout, None),
        // TLS to a plain server is a connect error.
        (https_url(Fault::Garbage).await, ConnectError, None),
        // Last: nothing bound after it can take its port.
        (refused_url().await, ConnectRefused, Some(Rejected)),
    ];
    for (url, outcome, bucket) in cases {
        let r = load(&url, |_| {}).await;
        let got = (
            r.recorder.outcome(outcome),
            bucket.map(|b| r.recorder.count(b)),
        );
        assert_eq!(
            got,
            (20, bucket.map(|_| 20)),
            "{url}, {outcome:?}: {:?}",
            r.recorder.outcomes
        );
    }
}

#[tokio::test]
async fn h2c_against_garbage_is_a_protocol_error() {
    let r = load(&fault_server(Fault::Garbage).await, |c| c.http2 = true).await;
    let bad = r.recorder.outcome(Outcome::Protocol) + r.recorder.outcome(Outcome::Reset);
    assert_eq!(bad, 20, "{:?}", r.recorder.outcomes);
}

#[tokio::test]
async fn a_5xx_flood_is_rejected() {
    let server = hyper_server(Behaviour::Status(503)).await;
    let r = load(&server.url(), |_| {}).await;
    assert_eq!(r.recorder.outcome(Outcome::Http5xx), 20);
    assert_eq!(r.recorder.count(Bucket::Rejected), 20);
    assert!(
        r.recorder.latency.is_empty(),
        "only completed requests have a latency"
    );
}

#[tokio::test]
async fn slow_responses_past_the_grace_are_aborted_at_the_end() {
    let server = hyper_server(Behaviour::Slow(Duration::from_secs(10))).await;
    let r = load(&server.url(), |c| c.timeout = Duration::from_secs(30)).await;
    assert_eq!(r.recorder.outcome(Outcome::Aborted), 20);
    assert_eq!(r.recorder.count(Bucket::InFlightAtEnd), 20);
}
