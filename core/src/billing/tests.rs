//! Hand-computed tests of the billing models (property tests are in `proptests.rs`). Expected figures are worked out in
//! the comments from BILLING.md's list prices.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::result::Cost;
use crate::time::Time;

const DAY_S: u64 = 86_400;
const MONTH_S: u64 = 2_592_000;

pub(super) fn rev(vcpu: f64, memory_gib: f64, min_instances: u32) -> RevisionBilling {
    RevisionBilling {
        vcpu,
        memory_gib,
        min_instances,
        startup_cpu_boost: false,
        created_at: Time::ZERO,
    }
}

pub(super) fn cfg(models: &[&str]) -> BillingConfig {
    BillingConfig {
        models: models.iter().map(|m| m.to_string()).collect(),
        ..BillingConfig::default()
    }
}

fn ms(x: u64) -> Time {
    Time::from_millis(x)
}

fn s(x: u64) -> Time {
    Time::from_secs(x)
}

/// Asserts two USD amounts agree to a millionth of a dollar (far finer than a cent).
#[track_caller]
fn usd(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "got ${actual:.8}, expected ${expected:.8}"
    );
}

#[track_caller]
fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9 * expected.abs().max(1.0),
        "got {actual}, expected {expected}"
    );
}

pub(super) fn extra(c: &Cost, key: &str) -> f64 {
    c.extra
        .get(key)
        .and_then(|v| v.as_f64())
        .unwrap_or_else(|| panic!("no extra.{key} in {:?}", c.extra))
}

/// A warm instance (started and ready at `t`).
fn warm(m: &mut Meter, t: Time, rev: usize, id: u64) {
    m.instance_starting(t, rev, id);
    m.instance_ready(t, id);
}

fn request(m: &mut Meter, rev: usize, id: u64, from: Time, to: Time) {
    m.request_arrived(from, rev);
    m.request_started(from, id);
    m.request_finished(to, id);
}

/// `count` requests on instance 1 of revision 0, one every `period_s` seconds from 0, each
/// busy for `busy`.
fn every(m: &mut Meter, period_s: u64, count: u64, busy: Duration) {
    for k in 0..count {
        request(m, 0, 1, s(period_s * k), s(period_s * k) + busy);
    }
}

fn stop(m: &mut Meter, t: Time, id: u64) {
    m.instance_stopping(t, id);
    m.instance_stopped(t, id);
}

pub(super) fn assert_additive(c: &Cost) {
    for v in [
        c.total_usd,
        c.cpu_usd,
        c.memory_usd,
        c.requests_usd,
        c.idle_usd,
    ] {
        assert!(v.is_finite() && v >= 0.0, "{c:?}");
    }
    assert!(c.billable_seconds.is_finite() && c.billable_seconds >= 0.0);
    close(
        c.total_usd,
        c.cpu_usd + c.memory_usd + c.requests_usd + c.idle_usd,
    );
}

#[test]
fn min_instance_one_request_every_10s_bills_200ms_each_and_the_rest_idle() {
    // One day, one warm min-instance (1 vCPU, 0.5 GiB), a 150 ms request every 10 s.
    let mut m = Meter::new(
        &cfg(&["cloud-run-request", "cloud-run-instance"]),
        &[rev(1.0, 0.5, 1)],
    );
    warm(&mut m, Time::ZERO, 0, 1);
    every(&mut m, 10, 8640, Duration::from_millis(150));
    let c = m.finish(s(DAY_S));
    let r = &c["cloud-run-request"];
    // 8,640 requests × 200 ms = 1,728 s active; the other 84,672 s idle.
    close(r.billable_seconds, 1728.0);
    close(extra(r, "idle_min_instance_seconds"), 84_672.0);
    usd(r.cpu_usd, 1728.0 * 0.000024); // 0.041472
    usd(r.memory_usd, 1728.0 * 0.5 * 0.0000025); // 0.00216
    usd(r.idle_usd, 84_672.0 * (0.0000025 + 0.5 * 0.0000025)); // 0.31752
    usd(r.requests_usd, 8640.0 * 0.40 / 1e6); // 0.003456
    usd(r.total_usd, 0.364608);
    usd(r.per_million_requests_usd, 0.364608 / 8640.0 * 1e6);
    assert_eq!(extra(r, "billable_slices"), 8640.0);
    close(extra(r, "rounding_seconds"), 8640.0 * 0.05);
    // Instance-based: the whole day, busy or not.
    let i = &c["cloud-run-instance"];
    close(i.billable_seconds, 86_400.0);
    usd(i.total_usd, 86_400.0 * (0.000018 + 0.5 * 0.000002)); // 1.6416
    assert_additive(r);
    assert_additive(i);
}

#[test]
fn idle_instances_that_are_not_min_instances_are_free() {
    // Three warm instances, min-instances 1, no traffic for an hour: one is billed idle.
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 0.5, 1)]);
    for id in 0..3 {
        warm(&mut m, Time::ZERO, 0, id);
    }
    let r = &m.finish(s(3600))["cloud-run-request"];
    close(extra(r, "idle_min_instance_seconds"), 3600.0);
    usd(r.total_usd, 3600.0 * 0.00000375);
}

#[test]
fn idle_min_instance_time_counts_only_idle_instances() {
    // min 2; two warm instances; one is busy from 0 to 1,000 s, the other idle throughout.
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 1.0, 2)]);
    warm(&mut m, Time::ZERO, 0, 10);
    warm(&mut m, Time::ZERO, 0, 20);
    request(&mut m, 0, 10, Time::ZERO, s(1000));
    let r = &m.finish(s(2000))["cloud-run-request"];
    // Idle: instance 20 for 2,000 s, instance 10 for the last 1,000 s.
    close(extra(r, "idle_min_instance_seconds"), 3000.0);
    close(r.billable_seconds, 1000.0);
}

#[test]
fn overlapping_requests_on_one_instance_are_billed_once() {
    let mut m = Meter::new(&cfg(&["cloud-run-request", "lambda"]), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    // A: 1.0-1.5 s, B: 1.2-1.7 s overlap; union 1.0-1.7 s = 700 ms.
    m.request_arrived(ms(1000), 0);
    m.request_started(ms(1000), 1);
    m.request_arrived(ms(1200), 0);
    m.request_started(ms(1200), 1);
    m.request_finished(ms(1500), 1);
    m.request_finished(ms(1700), 1);
    // C: 1.75-1.80 s starts after the rounded end (1.7 s): a slice of its own, 100 ms.
    request(&mut m, 0, 1, ms(1750), ms(1800));
    let c = m.finish(s(10));
    let r = &c["cloud-run-request"];
    close(r.billable_seconds, 0.8);
    usd(r.cpu_usd, 0.8 * 0.000024);
    usd(r.requests_usd, 3.0 * 0.4e-6);
    assert_eq!(extra(r, "billable_slices"), 2.0);
    // Lambda bills each request on its own: 500 + 500 + 50 ms.
    let l = &c["lambda"];
    close(l.billable_seconds, 1.05);
    usd(l.memory_usd, 1.05 * 0.5 * 0.0000166667);
}

#[test]
fn a_slice_starting_inside_the_last_rounding_continues_it() {
    // 0-150 ms rounds to 0-200 ms; a request at 180 ms continues that slice: one slice of
    // 0-230 ms, billed 300 ms (two slices would have been 200 + 100 ms).
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    request(&mut m, 0, 1, ms(0), ms(150));
    request(&mut m, 0, 1, ms(180), ms(230));
    let r = &m.finish(s(1))["cloud-run-request"];
    close(r.billable_seconds, 0.3);
    assert_eq!(extra(r, "billable_slices"), 1.0);
}

#[test]
fn slices_round_up_at_exact_boundaries() {
    let one = |len: Duration, model: &str| {
        let mut m = Meter::new(&cfg(&[model]), &[rev(1.0, 0.5, 0)]);
        warm(&mut m, Time::ZERO, 0, 1);
        request(&mut m, 0, 1, s(1), s(1) + len);
        m.finish(s(10))[model].billable_seconds
    };
    let exactly = Duration::from_millis(100);
    let plus_1ns = exactly + Duration::from_nanos(1);
    close(one(exactly, "cloud-run-request"), 0.1);
    close(one(plus_1ns, "cloud-run-request"), 0.2);
    close(one(Duration::from_nanos(1), "cloud-run-request"), 0.1);
    close(one(exactly, "cloud-run-request@per-second"), 1.0);
    close(
        one(Duration::from_millis(1001), "cloud-run-request@per-second"),
        2.0,
    );
    close(one(plus_1ns, "cloud-run-request@1ns"), 0.100000001);
    close(one(plus_1ns, "cloud-run-request@1m"), 60.0);
    // Lambda: 1 ms steps.
    close(one(plus_1ns, "lambda"), 0.101);
    close(one(exactly, "lambda"), 0.1);
}

#[test]
fn one_run_shows_what_the_rounding_rule_alone_does() {
    let models = [
        "cloud-run-request",
        "cloud-run-request@per-second",
        "cloud-run-request@1ms",
    ];
    let mut m = Meter::new(&cfg(&models), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    every(&mut m, 10, 100, Duration::from_millis(42));
    let c = m.finish(s(1000));
    close(c["cloud-run-request@1ms"].billable_seconds, 4.2);
    close(c["cloud-run-request"].billable_seconds, 10.0);
    close(c["cloud-run-request@per-second"].billable_seconds, 100.0);
    assert_eq!(c["cloud-run-request@per-second"].extra["granularity"], "1s");
    assert_eq!(c["cloud-run-request"].extra["granularity"], "100ms");
    // The request fee does not depend on rounding.
    usd(
        c["cloud-run-request"].requests_usd,
        c["cloud-run-request@per-second"].requests_usd,
    );
}

#[test]
fn startup_and_shutdown_are_billable() {
    // Cold start 0-1.23 s, a request 1.23-1.33 s, shut-down 100.0-100.25 s.
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 0.5, 0)]);
    m.instance_starting(Time::ZERO, 0, 5);
    m.instance_ready(ms(1230), 5);
    request(&mut m, 0, 5, ms(1230), ms(1330));
    m.instance_stopping(s(100), 5);
    m.instance_stopped(ms(100_250), 5);
    let r = &m.finish(s(200))["cloud-run-request"];
    // 1.33 s → 1.4 s, 0.25 s → 0.3 s.
    close(r.billable_seconds, 1.7);
    close(extra(r, "idle_min_instance_seconds"), 0.0);
}

#[test]
fn instance_based_bills_a_minute_at_least() {
    let mut m = Meter::new(&cfg(&["cloud-run-instance"]), &[rev(1.0, 0.5, 0)]);
    // 10 s of life → 60 s.
    warm(&mut m, Time::ZERO, 0, 1);
    stop(&mut m, s(10), 1);
    // 61.05 s → 61.1 s.
    warm(&mut m, s(100), 0, 2);
    stop(&mut m, ms(161_050), 2);
    // Still alive at the end of the run after 30 s: 30 s (cut off, not terminated).
    warm(&mut m, s(270), 0, 3);
    let i = &m.finish(s(300))["cloud-run-instance"];
    close(i.billable_seconds, 60.0 + 61.1 + 30.0);
    assert_eq!(extra(i, "instances_billed_minimum"), 1.0);
    assert_eq!(extra(i, "instances"), 3.0);
    close(extra(i, "instance_lifetime_seconds"), 10.0 + 61.05 + 30.0);
    usd(i.total_usd, 151.1 * (0.000018 + 0.5 * 0.000002));
    assert_eq!(i.requests_usd, 0.0);
}

#[test]
fn lambda_bills_init_with_the_first_request() {
    let mut m = Meter::new(&cfg(&["lambda"]), &[rev(1.0, 0.5, 0)]);
    // INIT 1.2345 s, then a 100 ms request: 1.3345 s → 1.335 s; then 50.5 ms → 51 ms.
    m.instance_starting(Time::ZERO, 0, 1);
    m.instance_ready(Time::from_nanos(1_234_500_000), 1);
    request(
        &mut m,
        0,
        1,
        Time::from_nanos(1_234_500_000),
        Time::from_nanos(1_334_500_000),
    );
    request(&mut m, 0, 1, s(5), s(5) + Duration::from_micros(50_500));
    // INIT is capped at 10 s: a 15 s cold start bills 10 s with its first request.
    m.instance_starting(s(6), 0, 2);
    m.instance_ready(s(21), 2);
    request(&mut m, 0, 2, s(21), ms(21_020));
    let l = &m.finish(s(60))["lambda"];
    close(l.billable_seconds, 1.335 + 0.051 + 10.02);
    close(extra(l, "init_seconds_billed"), 1.2345 + 10.0);
    usd(l.memory_usd, (1.335 + 0.051 + 10.02) * 0.5 * 0.0000166667);
    usd(l.requests_usd, 3.0 * 0.2e-6);
    assert_eq!(l.idle_usd, 0.0);
    assert_eq!(l.cpu_usd, 0.0);
}

#[test]
fn lambda_memory_is_clamped_to_128_mb() {
    let mut m = Meter::new(&cfg(&["lambda"]), &[rev(0.1, 0.0625, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    request(&mut m, 0, 1, Time::ZERO, s(1));
    let l = &m.finish(s(2))["lambda"];
    usd(l.memory_usd, 0.125 * 0.0000166667);
    assert_eq!(l.extra["memory_mb"][0], 128.0);
}

#[test]
fn lambda_provisioned_concurrency_bills_the_warm_pool() {
    let mut c = cfg(&["lambda"]);
    c.provisioned_concurrency = true;
    // 1 GB, one provisioned instance, no traffic, 30 days: $10.80 (BILLING.md §1.3).
    let mut m = Meter::new(&c, &[rev(1.0, 1.0, 1)]);
    warm(&mut m, Time::ZERO, 0, 1);
    let l = &m.finish(s(MONTH_S))["lambda"];
    usd(l.idle_usd, 2_592_000.0 * 0.0000041667);
    assert_eq!((l.total_usd * 100.0).round() / 100.0, 10.80);
    // Requests on the provisioned instance: PC duration rate, no INIT; the second instance
    // is on demand and bills its INIT. PC time rounds up to 5 minutes (301 s → 600 s).
    let mut m = Meter::new(&c, &[rev(1.0, 1.0, 1)]);
    m.instance_starting(Time::ZERO, 0, 1);
    m.instance_ready(s(2), 1);
    request(&mut m, 0, 1, s(2), s(3));
    m.instance_starting(s(3), 0, 2);
    m.instance_ready(s(5), 2);
    request(&mut m, 0, 2, s(5), s(6));
    let l = &m.finish(s(301))["lambda"];
    usd(
        l.memory_usd,
        1.0 * 0.0000097222 + (2.0 + 1.0) * 0.0000166667,
    );
    usd(l.idle_usd, 600.0 * 0.0000041667);
    close(extra(l, "init_seconds_billed"), 2.0);
}

#[test]
fn lambda_busy_for_30_days_costs_43_20() {
    let mut m = Meter::new(&cfg(&["lambda"]), &[rev(1.0, 1.0, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    request(&mut m, 0, 1, Time::ZERO, s(MONTH_S));
    let l = &m.finish(s(MONTH_S))["lambda"];
    assert_eq!((l.memory_usd * 100.0).round() / 100.0, 43.20);
}

#[test]
fn azure_consumption_bills_100ms_and_128mb_at_least() {
    let mut m = Meter::new(
        &cfg(&["azure-consumption"]),
        &[rev(1.0, 0.1, 0), rev(1.0, 2.0, 0)],
    );
    warm(&mut m, Time::ZERO, 0, 1);
    warm(&mut m, Time::ZERO, 1, 2);
    // Revision 0 (102.4 MB → 128 MB): 10 ms → 100 ms; 150.5 ms → 151 ms.
    request(&mut m, 0, 1, s(1), ms(1010));
    request(&mut m, 0, 1, s(2), s(2) + Duration::from_micros(150_500));
    // Revision 1 (2,048 MB, capped at 1,536 MB): 1 s.
    request(&mut m, 1, 2, s(3), s(4));
    let a = &m.finish(s(10))["azure-consumption"];
    close(a.billable_seconds, 0.1 + 0.151 + 1.0);
    let gbs = (0.1 + 0.151) * 0.125 + 1.0 * 1.5;
    close(extra(a, "gb_seconds"), gbs);
    usd(a.memory_usd, gbs * 0.000016);
    usd(a.requests_usd, 3.0 * 0.2e-6);
    assert_eq!(extra(a, "executions_billed_minimum"), 1.0);
}

#[test]
fn azure_consumption_bills_concurrent_executions_separately() {
    let mut m = Meter::new(&cfg(&["azure-consumption"]), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    m.request_started(s(1), 1);
    m.request_started(s(1), 1);
    m.request_finished(s(2), 1);
    m.request_finished(s(2), 1);
    close(m.finish(s(3))["azure-consumption"].billable_seconds, 2.0);
}

#[test]
fn azure_flex_bills_1000ms_then_100ms_steps_per_active_slice() {
    let mut m = Meter::new(&cfg(&["azure-flex"]), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    // 200 ms → 1,000 ms; a request at 500 ms is inside that second: the same slice.
    request(&mut m, 0, 1, s(10), ms(10_200));
    request(&mut m, 0, 1, ms(10_500), ms(10_600));
    // 1.23 s → 1.3 s.
    request(&mut m, 0, 1, s(20), ms(21_230));
    let f = &m.finish(s(30))["azure-flex"];
    close(f.billable_seconds, 1.0 + 1.3);
    assert_eq!(extra(f, "active_slices_billed_minimum"), 1.0);
    // 512 MB instance.
    usd(f.memory_usd, 2.3 * 0.5 * 0.000026);
    usd(f.requests_usd, 3.0 * 0.4e-6);
}

#[test]
fn azure_flex_always_ready_bills_a_baseline() {
    let mut c = cfg(&["azure-flex"]);
    c.provisioned_concurrency = true;
    let mut m = Meter::new(&c, &[rev(1.0, 2.0, 1)]);
    warm(&mut m, Time::ZERO, 0, 1);
    request(&mut m, 0, 1, s(1), s(3));
    let f = &m.finish(s(MONTH_S))["azure-flex"];
    // 2 GB baseline for 30 days ≈ $20.74 (BILLING.md §1.1).
    usd(f.idle_usd, 2.0 * 2_592_000.0 * 0.000004);
    usd(f.memory_usd, 2.0 * 2.0 * 0.000016);
}

fn knative_cfg(control_plane: bool) -> BillingConfig {
    let mut c = cfg(&["knative-nodes"]);
    c.knative.control_plane = control_plane;
    c
}

const NODE_HOUR: f64 = 2.0 * 0.02181159 + 8.0 * 0.00292353;

#[test]
fn knative_keeps_a_node_10_minutes_after_it_empties() {
    let mut m = Meter::new(&knative_cfg(false), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    stop(&mut m, s(60), 1);
    let k = &m.finish(s(3600))["knative-nodes"];
    // The node is unneeded from 60 s and removed at 660 s.
    close(k.billable_seconds, 660.0);
    close(extra(k, "needed_node_hours"), 60.0 / 3600.0);
    assert_eq!(extra(k, "nodes_removed"), 1.0);
    usd(k.total_usd, 660.0 / 3600.0 * NODE_HOUR);
    usd(k.idle_usd, 600.0 / 3600.0 * NODE_HOUR);
    // A pod coming back resets the timer: unneeded again from 560 s, removed at 1,160 s.
    let mut m = Meter::new(&knative_cfg(false), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    stop(&mut m, s(60), 1);
    warm(&mut m, s(500), 0, 2);
    stop(&mut m, s(560), 2);
    close(m.finish(s(3600))["knative-nodes"].billable_seconds, 1160.0);
}

#[test]
fn knative_waits_10_minutes_after_a_scale_up() {
    // With a 1-minute unneeded time, the 10-minute delay after a scale-up decides.
    let mut c = knative_cfg(false);
    c.knative.scale_down_unneeded = Duration::from_secs(60);
    let mut m = Meter::new(&c, &[rev(1.0, 0.5, 0)]);
    // 1.025 vCPU pods: one per 2-vCPU node; two pods at 0 s, two nodes.
    warm(&mut m, Time::ZERO, 0, 1);
    warm(&mut m, Time::ZERO, 0, 2);
    stop(&mut m, s(100), 2);
    stop(&mut m, s(1000), 1);
    let k = &m.finish(s(7200))["knative-nodes"];
    // Node 2: unneeded from 100 s, removable at 160 s, but not before 0 + 600 s.
    // Node 1: unneeded from 1,000 s, removed at 1,060 s.
    close(k.billable_seconds, 600.0 + 1060.0);
    assert_eq!(extra(k, "peak_nodes"), 2.0);
    assert_eq!(extra(k, "nodes_created"), 2.0);
}

#[test]
fn knative_packs_small_pods_and_keeps_the_control_plane_node() {
    // 0.25 vCPU + 25m queue-proxy = 275m: 7 pods per 2-vCPU node; the control plane (600m)
    // shares the first node. 5 pods + control plane = 1,975m: one node.
    let mut m = Meter::new(&knative_cfg(true), &[rev(0.25, 0.25, 0)]);
    for id in 0..5 {
        warm(&mut m, Time::ZERO, 0, id);
    }
    // A sixth pod: 2,250m > 2,000m → a second node.
    warm(&mut m, s(10), 0, 5);
    for id in 0..6 {
        stop(&mut m, s(20), id);
    }
    let k = &m.finish(s(3600))["knative-nodes"];
    // Node 1 (control plane) the whole hour; node 2 from 10 s to 20 + 600 = 620 s.
    close(k.billable_seconds, 3600.0 + 610.0);
    assert_eq!(extra(k, "peak_nodes"), 2.0);
    // Scale-to-zero of the pods saved nothing of node 1.
    close(extra(k, "needed_node_hours"), (3600.0 + 10.0) / 3600.0);
}

#[test]
fn knative_bills_the_simulated_nodes_when_told_so() {
    let mut m = Meter::new(&knative_cfg(false), &[rev(1.0, 0.5, 0)]);
    m.simulate_nodes();
    m.node_added(Time::ZERO, 0);
    m.nodes_in_use(Time::ZERO, 1);
    // Pods no longer drive the estimate.
    for id in 0..5 {
        warm(&mut m, Time::ZERO, 0, id);
    }
    m.node_added(s(10), 1);
    m.nodes_in_use(s(20), 2);
    m.nodes_in_use(s(30), 1);
    // Node 1 lived from 10 s to 40.5 s: billed the one-minute minimum.
    m.node_removed(ms(40_500), 1);
    m.node_removed(s(50), 7); // unknown: ignored, counted
    let k = &m.finish(s(3600))["knative-nodes"];
    // Node 0 the whole hour (cut off: no minimum), node 1 a minute.
    close(k.billable_seconds, 3600.0 + 60.0);
    close(extra(k, "needed_node_hours"), (3600.0 + 10.0) / 3600.0);
    assert_eq!(extra(k, "peak_nodes"), 2.0);
    assert_eq!(extra(k, "nodes_created"), 2.0);
    assert_eq!(extra(k, "nodes_removed"), 1.0);
    assert_eq!(extra(k, "nodes_billed_minimum"), 1.0);
    assert_eq!(k.extra["simulated_nodes"], serde_json::json!(true));
    assert_eq!(extra(k, "ignored_events"), 1.0);
}

#[test]
fn knative_nodes_bill_a_minute_at_least() {
    let mut c = knative_cfg(false);
    c.knative.scale_down_unneeded = Duration::from_secs(5);
    c.knative.scale_down_delay_after_add = Duration::ZERO;
    let mut m = Meter::new(&c, &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    stop(&mut m, s(10), 1);
    let k = &m.finish(s(3600))["knative-nodes"];
    close(k.billable_seconds, 60.0);
    assert_eq!(extra(k, "nodes_billed_minimum"), 1.0);
}

#[test]
fn knative_cluster_fee_and_free_credit() {
    let mut c = knative_cfg(true);
    c.knative.cluster_fee = true;
    let m = Meter::new(&c, &[rev(1.0, 0.5, 0)]);
    let k = &m.finish(s(MONTH_S))["knative-nodes"];
    // One control-plane node for 30 days: $48.25, plus the $72 cluster fee.
    assert_eq!(((k.total_usd - 72.0) * 100.0).round() / 100.0, 48.25);
    usd(extra(k, "cluster_fee_usd"), 72.0);
    c.free_tier = true;
    let m = Meter::new(&c, &[rev(1.0, 0.5, 0)]);
    let k = &m.finish(s(MONTH_S))["knative-nodes"];
    usd(extra(k, "cluster_fee_usd"), 0.0);
    usd(extra(k, "free_tier_usd"), 72.0);
}

#[test]
fn billing_md_reference_numbers_for_30_days() {
    // One idle min-instance, request-based: $9.72.
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 0.5, 1)]);
    warm(&mut m, Time::ZERO, 0, 1);
    let r = &m.finish(s(MONTH_S))["cloud-run-request"];
    assert_eq!((r.total_usd * 100.0).round() / 100.0, 9.72);
    usd(r.total_usd, 9.72);
    // One instance always on, instance-based: $49.25 (49.248).
    let mut m = Meter::new(&cfg(&["cloud-run-instance"]), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    let i = &m.finish(s(MONTH_S))["cloud-run-instance"];
    assert_eq!((i.total_usd * 100.0).round() / 100.0, 49.25);
    // One instance 100 % busy, request-based: $65.45 (65.448) plus one request's fee.
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    request(&mut m, 0, 1, Time::ZERO, s(MONTH_S));
    let r = &m.finish(s(MONTH_S))["cloud-run-request"];
    assert_eq!(
        ((r.total_usd - r.requests_usd) * 100.0).round() / 100.0,
        65.45
    );
    // GKE e2-standard-2 node: $48.25.
    let m = Meter::new(&knative_cfg(true), &[rev(1.0, 0.5, 0)]);
    let k = &m.finish(s(MONTH_S))["knative-nodes"];
    assert_eq!((k.total_usd * 100.0).round() / 100.0, 48.25);
}

#[test]
fn startup_cpu_boost_bills_the_boosted_vcpu() {
    let r = RevisionBilling {
        startup_cpu_boost: true,
        ..rev(2.0, 1.0, 0)
    };
    let mut m = Meter::new(&cfg(&["cloud-run-request", "cloud-run-instance"]), &[r]);
    // Start-up 0-5 s, a request 5-5.5 s, gone at 100 s.
    m.instance_starting(Time::ZERO, 0, 1);
    m.instance_ready(s(5), 1);
    request(&mut m, 0, 1, s(5), ms(5500));
    m.instance_stopped(s(100), 1);
    let c = m.finish(s(100));
    // Request-based: the 5.5 s slice is inside the boost window (0-15 s): 2 extra vCPU.
    let q = &c["cloud-run-request"];
    close(extra(q, "boost_extra_vcpu_seconds"), 11.0);
    usd(q.cpu_usd, (5.5 * 2.0 + 11.0) * 0.000024);
    // Instance-based: 100 s of life, 15 s of it boosted.
    let i = &c["cloud-run-instance"];
    close(extra(i, "boost_extra_vcpu_seconds"), 30.0);
    usd(i.cpu_usd, (100.0 * 2.0 + 30.0) * 0.000018);
    assert_eq!(models::boosted_vcpu(0.5), 2.0);
    assert_eq!(models::boosted_vcpu(1.0), 2.0);
    assert_eq!(models::boosted_vcpu(4.0), 8.0);
    assert_eq!(models::boosted_vcpu(6.0), 8.0);
    assert_eq!(models::boosted_vcpu(8.0), 8.0);
}

#[test]
fn free_tier_is_prorated_and_off_by_default() {
    let run = |free: bool| {
        let mut c = cfg(&["cloud-run-request"]);
        c.free_tier = free;
        let mut m = Meter::new(&c, &[rev(1.0, 0.5, 0)]);
        warm(&mut m, Time::ZERO, 0, 1);
        // 10,000 s busy in one day: the day's allowance is 6,000 vCPU-s and 12,000 GiB-s.
        request(&mut m, 0, 1, Time::ZERO, s(10_000));
        m.finish(s(DAY_S))["cloud-run-request"].clone()
    };
    let paid = run(false);
    let free = run(true);
    usd(paid.cpu_usd, 10_000.0 * 0.000024);
    usd(free.cpu_usd, 4_000.0 * 0.000024);
    usd(free.memory_usd, 0.0);
    usd(free.requests_usd, 0.0);
    usd(
        extra(&free, "free_tier_usd"),
        paid.total_usd - free.total_usd,
    );
    assert!(!paid.extra.contains_key("free_tier_usd"));
}

#[test]
fn price_overrides_apply_and_are_named() {
    let mut c = cfg(&["cloud-run-instance"]);
    c.prices
        .insert("cloud_run_instance_vcpu_second_usd".into(), 0.00001);
    let mut m = Meter::new(&c, &[rev(1.0, 0.5, 0)]);
    warm(&mut m, Time::ZERO, 0, 1);
    let i = &m.finish(s(100))["cloud-run-instance"];
    usd(i.cpu_usd, 100.0 * 0.00001);
    assert_eq!(i.extra["price_set"], "list-2026");
    assert_eq!(
        i.extra["price_overrides"]["cloud_run_instance_vcpu_second_usd"],
        0.00001
    );
}

#[test]
fn odd_events_are_counted_not_fatal() {
    let mut m = Meter::new(&cfg(&["cloud-run-request"]), &[rev(1.0, 0.5, 0)]);
    m.request_finished(s(1), 99);
    m.instance_ready(s(1), 99);
    m.request_arrived(s(1), 7);
    warm(&mut m, s(2), 0, 1);
    m.request_finished(s(3), 1);
    // A time earlier than one seen is clamped.
    m.request_started(s(1), 1);
    m.request_finished(ms(3100), 1);
    let r = &m.finish(s(4))["cloud-run-request"];
    assert_eq!(extra(r, "ignored_events"), 4.0);
    close(r.billable_seconds, 0.1);
}

#[test]
fn memory_stays_bounded_over_many_requests() {
    let mut m = Meter::new(
        &cfg(&[
            "cloud-run-request",
            "cloud-run-instance",
            "lambda",
            "azure-flex",
        ]),
        &[rev(1.0, 0.5, 2)],
    );
    for id in 0..3 {
        warm(&mut m, Time::ZERO, 0, 1000 + id * 7919);
    }
    let mut t = 0u64;
    for k in 0..200_000u64 {
        let id = 1000 + (k % 3) * 7919;
        t += 3_000_000;
        m.request_arrived(Time(t), 0);
        m.request_started(Time(t), id);
        m.request_finished(Time(t + 1_500_000), id);
        assert!(m.pending_len() <= 300, "{}", m.pending_len());
    }
    assert_eq!(m.alive(), 3);
    let c = m.finish(Time(t + 1_000_000_000));
    assert_eq!(extra(&c["lambda"], "invocations_billed"), 200_000.0);
}

#[test]
fn break_even_note_names_the_cheaper_model() {
    let cost = |t: f64| Cost {
        total_usd: t,
        ..Cost::default()
    };
    let both = |a: f64, b: f64| {
        BTreeMap::from([
            ("cloud-run-request".to_string(), cost(a)),
            ("cloud-run-instance".to_string(), cost(b)),
        ])
    };
    let near = break_even_note(&both(65.45, 60.0)).expect("a note");
    assert!(near.starts_with("near the break-even"), "{near}");
    let inst = break_even_note(&both(65.45, 49.25)).expect("a note");
    assert!(
        inst.starts_with("instance-based Cloud Run billing is 25 % cheaper"),
        "{inst}"
    );
    let req = break_even_note(&both(9.72, 49.25)).expect("a note");
    assert!(
        req.starts_with("request-based Cloud Run billing is 80 % cheaper"),
        "{req}"
    );
    assert_eq!(break_even_note(&both(0.0, 0.0)), None);
    let mut one = both(1.0, 2.0);
    one.remove("cloud-run-instance");
    assert_eq!(break_even_note(&one), None);
}

#[test]
fn break_even_sits_near_75_percent_busy() {
    // An instance busy 75 % of each minute for 30 days (no min-instances, instance kept up).
    let run = |busy_ms: u64| {
        let mut m = Meter::new(
            &cfg(&["cloud-run-request", "cloud-run-instance"]),
            &[rev(1.0, 0.5, 0)],
        );
        warm(&mut m, Time::ZERO, 0, 1);
        every(&mut m, 60, 43_200, Duration::from_millis(busy_ms));
        m.finish(s(MONTH_S))
    };
    let at = run(45_000);
    assert!(
        break_even_note(&at)
            .unwrap()
            .starts_with("near the break-even")
    );
    let busy = run(58_000);
    assert!(
        break_even_note(&busy)
            .unwrap()
            .starts_with("instance-based")
    );
    let idle = run(10_000);
    assert!(break_even_note(&idle).unwrap().starts_with("request-based"));
}
