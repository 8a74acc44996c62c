//! The processor-sharing CPU model, Cloud Run's and the HPA's kinds through the harness.

use super::*;

const PS: &str = include_str!("fixtures/ps.toml");

/// When each request ended, by id.
fn ends(h: &Harness) -> BTreeMap<ReqId, Time> {
    h.log
        .iter()
        .filter_map(|e| match e {
            Effect::Finish(s) => Some((s.req, s.ends_at)),
            Effect::Serve(s) if !s.later() => Some((s.req, s.ends_at)),
            _ => None,
        })
        .collect()
}

#[test]
fn requests_on_one_vcpu_share_it() {
    let mut h = Harness::new(PS);
    let t0 = Time::from_secs(2);
    let a = h.arrive(t0);
    let b = h.arrive(t0);
    h.run_until(Time::from_secs(3));
    let e = ends(&h);
    // Two 100 ms CPU requests at once on one vCPU: both done after 200 ms.
    assert_eq!(e[&a], t0 + Duration::from_millis(200));
    assert_eq!(e[&b], t0 + Duration::from_millis(200));
    // A third arriving halfway through the first's work slows it down.
    let c = h.arrive(Time::from_secs(4));
    let d = h.arrive(Time::from_millis(4050));
    h.run_until(Time::from_secs(5));
    let e = ends(&h);
    // c: 50 ms alone, then 50 ms at half speed = 100 ms → ends at 4.150 s; d then has
    // 50 ms left alone → 4.200 s.
    assert_eq!(e[&c], Time::from_millis(4150));
    assert_eq!(e[&d], Time::from_millis(4200));
    assert_eq!(h.p.tally().completed, 4);
}

#[test]
fn waiting_overlaps_and_the_timeout_cuts_a_cpu_phase() {
    // Half CPU: 50 ms of work, then 50 ms of waiting that does not slow the others.
    let toml = PS.replace("cpu_share = 1.0", "cpu_share = 0.5");
    let mut h = Harness::new(&toml);
    let a = h.arrive(Time::from_secs(2));
    let b = h.arrive(Time::from_secs(2));
    h.run_until(Time::from_secs(3));
    let e = ends(&h);
    assert_eq!(
        e[&a],
        Time::from_millis(2150),
        "100 ms of CPU for two, then 50 ms"
    );
    assert_eq!(e[&b], Time::from_millis(2150));
    // 60 requests of 100 ms of CPU at once: the instance needs 6 s, the timeout is 5 s.
    let mut h = Harness::new(PS);
    for _ in 0..60 {
        h.arrive(Time::from_secs(2));
    }
    h.run_until(Time::from_secs(20));
    let t = h.p.tally();
    assert_eq!(
        (t.completed, t.timed_out),
        (0, 60),
        "all still in their CPU phase at 7 s"
    );
    assert_eq!(h.now, Time::from_secs(20));
}

#[test]
fn cpu_utilization_is_metered() {
    let mut h = Harness::new(PS);
    for k in 0..10 {
        h.arrive(Time::from_secs(2 + k));
    }
    h.run_until(Time::from_secs(20));
    // 10 × 100 ms of CPU over 20 s of one vCPU alive.
    let p = std::mem::replace(
        &mut h.p,
        Platform::new(&scenario(PS), Config::simulated(&scenario(PS), 1)),
    );
    let (v, _) = p.finish("x".into(), Time::from_secs(20));
    assert!(
        (v.instances.mean_cpu_utilization - 0.05).abs() < 1e-9,
        "{}",
        v.instances.mean_cpu_utilization
    );
    let rows = &v.series.expect("series").rows;
    assert!(
        (rows[2].cpu_utilization - 0.1).abs() < 1e-9,
        "{:?}",
        rows[2]
    );
    assert_eq!(rows[0].cpu_utilization, 0.0);
}

const CLOUD_RUN: &str = include_str!("fixtures/cloud_run.toml");

#[test]
fn cloud_run_starts_for_waiting_requests_parks_surplus_and_retires_it_after_retention() {
    let mut h = Harness::new(CLOUD_RUN);
    assert_eq!(h.p.alive(), 0);
    // Five requests at once: ⌈5 / 2⌉ = 3 instances start at once (not at the next tick).
    for _ in 0..5 {
        h.arrive(Time::from_secs(10));
    }
    assert_eq!(h.started.len(), 3);
    h.run_until(Time::from_secs(20));
    assert_eq!(h.p.tally().completed, 5);
    // The 1-minute average decays: instances are parked, not stopped...
    h.run_until(Time::from_secs(200));
    assert!(h.stop_asked.is_empty(), "kept idle");
    let parked: Vec<InstId> = h
        .started
        .iter()
        .copied()
        .filter(|&i| h.p.insts[i.index()].parked)
        .collect();
    assert_eq!(parked.len(), 3);
    // ...and a request now finds a warm one: no cold start.
    let r = h.arrive(Time::from_secs(200));
    h.run_until(Time::from_secs(205));
    assert_eq!(h.started.len(), 3, "warm");
    assert!(h.p.request(r).is_none());
    assert_eq!(h.p.tally().delayed, 5, "only the first five were cold");
    // Five minutes after their last request the parked ones go.
    h.run_until(Time::from_secs(12 + 300 - 1));
    assert!(h.stop_asked.len() < 3);
    h.run_until(Time::from_secs(900));
    assert_eq!(h.stop_asked.len(), 3);
    assert_eq!(h.p.alive(), 0);
}

#[test]
fn cloud_run_at_max_instances_answers_429_after_the_pending_limit() {
    let toml = CLOUD_RUN.replace("max_scale = 3", "max_scale = 1").replace(
        r#"service_time = { dist = "fixed", value = "1s" }"#,
        r#"service_time = { dist = "fixed", value = "50s" }"#,
    );
    let mut h = Harness::new(&toml);
    let a = h.arrive(Time::from_secs(1));
    let b = h.arrive(Time::from_secs(1));
    let c = h.arrive(Time::from_secs(1));
    assert_eq!(h.started.len(), 1, "max 1");
    h.run_until(Time::from_secs(30));
    // Mean start-up 2 s: the limit is max(7 s, 10 s) = 10 s; c arrived before any start-up
    // was seen: 10 s too.
    assert!(
        h.replies.contains(&(c, Reply::MaxInstances)),
        "{:?}",
        h.replies
    );
    assert!(!h.replies.iter().any(|(r, _)| *r == a || *r == b));
    assert_eq!(h.p.tally().rejected, 1);
}

const HPA: &str = include_str!("fixtures/hpa.toml");

#[test]
fn the_hpa_scales_on_cpu_and_never_to_zero() {
    let mut h = Harness::new(HPA);
    assert_eq!(h.p.alive(), 1, "min_scale");
    // 8 requests of 100 ms per second on one vCPU: 80 % against a 50 % target.
    for k in 0..(60 * 8) {
        h.arrive(Time::from_millis(1000 + k * 125));
    }
    h.run_until(Time::from_secs(61));
    let n = h.p.alive();
    assert!(n >= 2, "scaled up to {n}");
    // Quiet: back to one after the 5-minute stabilisation, never zero.
    h.run_until(Time::from_secs(2000));
    assert_eq!(h.p.alive(), 1);
}
