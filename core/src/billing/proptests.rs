//! Property tests of the billing meter: random instance lives and request spans, checked
//! against invariants that hold for any traffic.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::tests::{assert_additive, cfg, extra, rev};
use super::*;
use crate::result::Cost;
use crate::time::Time;

/// One instance's life in a generated run.
#[derive(Clone, Debug)]
struct Life {
    start_ms: u64,
    cold_ms: u64,
    /// (offset after ready, duration), in µs.
    requests: Vec<(u64, u64)>,
    /// Time after the last request until shut-down begins, and shut-down length (ms); None:
    /// still alive at the end.
    stop: Option<(u64, u64)>,
}

fn life() -> impl Strategy<Value = Life> {
    (
        0u64..100_000,
        0u64..5_000,
        prop::collection::vec((0u64..60_000_000, 0u64..3_000_000), 0..8),
        prop::option::of((0u64..30_000, 0u64..2_000)),
    )
        .prop_map(|(start_ms, cold_ms, requests, stop)| Life {
            start_ms,
            cold_ms,
            requests,
            stop,
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Starting,
    Ready,
    ReqStart,
    ReqEnd,
    Stopping,
    Stopped,
}

/// Every model, and two with a non-default billing unit.
fn all_models() -> Vec<&'static str> {
    let mut v = MODEL_NAMES.to_vec();
    v.extend(["cloud-run-request@per-second", "cloud-run-instance@1ns"]);
    v
}

/// Feeds the lives to a meter (ids `id_base + 3 * i`), returns the bills, the horizon, and per
/// instance (lifetime ns, terminated).
fn run_lives(
    lives: &[Life],
    min_instances: u32,
    id_base: u64,
) -> (BTreeMap<String, Cost>, u64, Vec<(u64, bool)>) {
    let mut evs: Vec<(u64, usize, Ev)> = Vec::new();
    let mut spans = Vec::new();
    let mut horizon = 0;
    for (i, l) in lives.iter().enumerate() {
        let start = l.start_ms * 1_000_000;
        let ready = start + l.cold_ms * 1_000_000;
        evs.push((start, i, Ev::Starting));
        evs.push((ready, i, Ev::Ready));
        let mut last = ready;
        for &(off, dur) in &l.requests {
            let a = ready + off * 1000;
            evs.push((a, i, Ev::ReqStart));
            evs.push((a + dur * 1000, i, Ev::ReqEnd));
            last = last.max(a + dur * 1000);
        }
        let end = match l.stop {
            Some((gap, down)) => {
                let stopping = last + gap * 1_000_000;
                evs.push((stopping, i, Ev::Stopping));
                evs.push((stopping + down * 1_000_000, i, Ev::Stopped));
                stopping + down * 1_000_000
            }
            None => last,
        };
        horizon = horizon.max(end);
        spans.push((start, end, l.stop.is_some()));
    }
    let horizon = horizon + 1_000_000_000;
    // Time order; at equal times an instance's own events keep their lifecycle order.
    evs.sort();
    let revs = [rev(1.0, 0.5, min_instances)];
    let mut m = Meter::new(&cfg(&all_models()), &revs);
    for &(t, i, e) in &evs {
        let id = id_base + 3 * i as u64;
        let t = Time(t);
        match e {
            Ev::Starting => m.instance_starting(t, 0, id),
            Ev::Ready => m.instance_ready(t, id),
            Ev::ReqStart => {
                m.request_arrived(t, 0);
                m.request_started(t, id);
            }
            Ev::ReqEnd => m.request_finished(t, id),
            Ev::Stopping => m.instance_stopping(t, id),
            Ev::Stopped => m.instance_stopped(t, id),
        }
    }
    let lifetimes = spans
        .iter()
        .map(|&(a, b, term)| (if term { b - a } else { horizon - a }, term))
        .collect();
    (m.finish(Time(horizon)), horizon, lifetimes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_bill_is_ever_negative_and_parts_add_up(
        lives in prop::collection::vec(life(), 0..5),
        min in 0u32..3,
    ) {
        let (c, _, _) = run_lives(&lives, min, 0);
        prop_assert_eq!(c.len(), all_models().len());
        for cost in c.values() {
            assert_additive(cost);
            prop_assert!(cost.per_million_requests_usd >= 0.0);
            for v in cost.extra.values() {
                if let Some(x) = v.as_f64() {
                    prop_assert!(x.is_finite() && x >= 0.0, "{:?}", cost.extra);
                }
            }
        }
    }

    #[test]
    fn request_based_time_is_within_lifetime_plus_rounding(
        lives in prop::collection::vec(life(), 1..5),
        min in 0u32..3,
    ) {
        let (c, _, lifetimes) = run_lives(&lives, min, 0);
        let life_s: f64 = lifetimes.iter().map(|&(l, _)| l as f64 / 1e9).sum();
        let n = lifetimes.len() as f64;
        for (model, g) in [("cloud-run-request", 0.1), ("cloud-run-request@per-second", 1.0)] {
            let r = &c[model];
            prop_assert!(r.billable_seconds <= life_s + n * g + 1e-6,
                "{model}: {} > {life_s} + {n} × {g}", r.billable_seconds);
            // Billable plus idle min-instance time never exceeds the lifetimes plus the
            // rounding of each instance's last slice.
            let idle = r.extra["idle_min_instance_seconds"].as_f64().unwrap();
            prop_assert!(r.billable_seconds + idle <= life_s + n * g + 1e-6);
            prop_assert!(r.extra["rounding_seconds"].as_f64().unwrap() >= 0.0);
        }
    }

    #[test]
    fn instance_based_time_is_the_sum_of_lifetimes_rounded_with_minimums(
        lives in prop::collection::vec(life(), 1..5),
    ) {
        let (c, _, lifetimes) = run_lives(&lives, 0, 0);
        let expected = |g: u64| -> f64 {
            lifetimes.iter().map(|&(l, term)| {
                let r = l.div_ceil(g) * g;
                let r = if term { r.max(60_000_000_000) } else { r };
                r as f64 / 1e9
            }).sum()
        };
        let life_s: f64 = lifetimes.iter().map(|&(l, _)| l as f64 / 1e9).sum();
        let i = &c["cloud-run-instance"];
        prop_assert!((i.billable_seconds - expected(100_000_000)).abs() < 1e-6);
        prop_assert!(i.billable_seconds >= life_s - 1e-9);
        let exact = &c["cloud-run-instance@1ns"];
        prop_assert!((exact.billable_seconds - expected(1)).abs() < 1e-6);
        prop_assert!((extra(exact, "instance_lifetime_seconds") - life_s).abs() < 1e-6);
    }

    #[test]
    fn results_do_not_depend_on_instance_ids(
        lives in prop::collection::vec(life(), 1..5),
        min in 0u32..3,
        base in 1u64..u64::MAX / 4,
    ) {
        let (a, _, _) = run_lives(&lives, min, 0);
        let (b, _, _) = run_lives(&lives, min, base);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn per_request_models_bill_at_least_the_request_time(
        lives in prop::collection::vec(life(), 1..5),
    ) {
        let (c, _, _) = run_lives(&lives, 0, 0);
        let busy: f64 = lives.iter().flat_map(|l| l.requests.iter()).map(|r| r.1 as f64 / 1e6).sum();
        let n: f64 = lives.iter().map(|l| l.requests.len() as f64).sum();
        let init: f64 = lives.iter().filter(|l| !l.requests.is_empty())
            .map(|l| (l.cold_ms as f64 / 1e3).min(10.0)).sum();
        let l = &c["lambda"];
        prop_assert!(l.billable_seconds >= busy - 1e-6);
        prop_assert!(l.billable_seconds <= busy + init + n * 0.001 + 1e-6);
        let a = &c["azure-consumption"];
        prop_assert!(a.billable_seconds >= busy.max(n * 0.1) - 1e-6);
    }
}
