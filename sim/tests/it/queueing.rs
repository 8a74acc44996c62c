//! VALIDATION.md: a pinned pool behaves as M/M/c (Erlang C), a pool without a queue as a loss
//! system (Erlang B), and Little's law holds.

use crate::support::*;
use scalelab_core::testing::fill;

/// c instances pinned (min = max = initial = c), concurrency 1, warm from the start, activator
/// always in the path (FIFO queue), Poisson arrivals, exponential service with mean 1 s.
fn pinned(c: u32, lambda: f64, horizon_s: u64, queue: bool) -> String {
    let depth = if queue { 1_000_000 } else { 0 };
    fill(
        include_str!("fixtures/pinned.toml"),
        &[
            ("horizon_s", &horizon_s),
            ("c", &c),
            ("depth", &depth),
            ("lambda", &lambda),
        ],
    )
}

#[test]
fn reference_values_of_the_formulas() {
    // VALIDATION.md's table.
    assert!((erlang_b(10, 8.0) - 0.121661).abs() < 1e-6);
    let (pw, wq) = erlang_c(10, 8.0, 1.0);
    assert!((pw - 0.409180).abs() < 1e-6 && (wq - 0.204590).abs() < 1e-6);
    let (pw, wq) = erlang_c(3, 2.0, 1.0);
    assert!((pw - 0.444444).abs() < 1e-6 && (wq - 0.444444).abs() < 1e-6);
}

#[test]
fn mmc_wait_matches_erlang_c() {
    // M/M/10 at ρ = 0.8: P(wait) = 0.409180, Wq = 0.204590 s. Ten replications of 25 000 s
    // (about 200 000 requests each); the estimate must sit within 3.5 standard errors.
    let s = scenario(&pinned(10, 8.0, 25_000, true));
    let (pw_want, wq_want) = erlang_c(10, 8.0, 1.0);
    let mut pw = Vec::new();
    let mut wq = Vec::new();
    for seed in 1..=10 {
        let v = run(&s, seed);
        assert_eq!(v.requests.rejected, 0);
        assert_eq!(v.instances.peak, 10, "the pool is pinned");
        assert_eq!(v.cold_starts.count, 0, "warm from the start");
        pw.push(sim(&v).waited_ratio);
        wq.push(sim(&v).mean_wait_ms / 1000.0);
    }
    let (m, se) = mean_se(&pw);
    assert!(
        (m - pw_want).abs() < 3.5 * se + 0.002,
        "P(wait) {m} ± {se} vs {pw_want}"
    );
    let (m, se) = mean_se(&wq);
    assert!(
        (m - wq_want).abs() < 3.5 * se + 0.002,
        "Wq {m} ± {se} vs {wq_want}"
    );
    assert!(
        (m - wq_want).abs() / wq_want < 0.05,
        "Wq {m} within 5 % of {wq_want}"
    );
}

#[test]
fn mm1_wait_matches_closed_form() {
    // M/M/1 at ρ = 0.5: Wq = 1 s, P(wait) = 0.5.
    let s = scenario(&pinned(1, 0.5, 200_000, true));
    let mut wq = Vec::new();
    let mut pw = Vec::new();
    for seed in 1..=6 {
        let v = run(&s, seed);
        wq.push(sim(&v).mean_wait_ms / 1000.0);
        pw.push(sim(&v).waited_ratio);
    }
    let (m, se) = mean_se(&wq);
    assert!((m - 1.0).abs() < 3.5 * se + 0.01, "Wq {m} ± {se}");
    let (m, se) = mean_se(&pw);
    assert!((m - 0.5).abs() < 3.5 * se + 0.005, "P(wait) {m} ± {se}");
}

#[test]
fn loss_system_matches_erlang_b() {
    // No queue: c = 10 instances, offered load A = 8 → blocking 0.121661, for any service
    // distribution with that mean.
    let s = scenario(&pinned(10, 8.0, 20_000, false));
    let mut block = Vec::new();
    for seed in 1..=8 {
        let v = run(&s, seed);
        block.push(v.requests.rejected as f64 / v.requests.arrived as f64);
    }
    let (m, se) = mean_se(&block);
    let want = erlang_b(10, 8.0);
    assert!(
        (m - want).abs() < 3.5 * se + 0.002,
        "blocking {m} ± {se} vs {want}"
    );
}

#[test]
fn littles_law_holds() {
    // L = λW for requests in the system, and E[busy instances] = λ_accepted · E[S] with cc = 1.
    let s = scenario(&pinned(10, 8.0, 50_000, true));
    let v = run(&s, 3);
    let horizon = occupancy(&v).end_s;
    let lambda = v.requests.completed as f64 / horizon;
    let w = sim(&v).mean_latency_exact_ms / 1000.0;
    let l = occupancy(&v).mean_in_system;
    assert!(
        (l - lambda * w).abs() / l < 0.01,
        "L {l} vs λW {}",
        lambda * w
    );
    let busy = occupancy(&v).mean_busy_instances;
    // E[S] = 1 s: busy instances ≈ λ. The measured mean service time is W − Wq.
    let es = w - sim(&v).mean_wait_ms / 1000.0;
    assert!(
        (busy - lambda * es).abs() / busy < 0.01,
        "busy {busy} vs λE[S] {}",
        lambda * es
    );
}

/// One instance pinned, unlimited concurrency, all of the service time CPU work on one vCPU:
/// the instance is an M/G/1 processor-sharing queue.
fn ps_instance(lambda: f64, horizon_s: u64, service: &str) -> String {
    fill(
        include_str!("fixtures/ps-instance.toml"),
        &[
            ("horizon_s", &horizon_s),
            ("service", &service),
            ("lambda", &lambda),
        ],
    )
}

#[test]
fn processor_sharing_matches_mg1_ps_for_any_work_distribution() {
    // VALIDATION.md / MODELS.md §1: M/G/1-PS at ρ = 0.5 with E[S] = 1 s: mean response
    // E[S] / (1 − ρ) = 2 s and mean number in the system ρ / (1 − ρ) = 1, for exponential and
    // fixed work alike (PS insensitivity); CPU utilisation = ρ. Six replications of 40 000 s
    // (about 20 000 requests each) per distribution, within 3.5 standard errors.
    for service in [
        r#"{ dist = "exponential", mean = "1s" }"#,
        r#"{ dist = "fixed", value = "1s" }"#,
    ] {
        let s = scenario(&ps_instance(0.5, 40_000, service));
        let (mut t, mut n, mut u) = (Vec::new(), Vec::new(), Vec::new());
        for seed in 1..=6 {
            let v = run(&s, seed);
            assert_eq!(v.instances.peak, 1, "one instance");
            assert_eq!(v.requests.rejected + v.requests.timed_out, 0);
            t.push(sim(&v).mean_latency_exact_ms / 1000.0);
            n.push(occupancy(&v).mean_in_system);
            u.push(v.instances.mean_cpu_utilization);
        }
        let (m, se) = mean_se(&t);
        assert!(
            (m - 2.0).abs() < 3.5 * se + 0.02,
            "{service}: mean response {m} ± {se} vs 2 s"
        );
        let (m, se) = mean_se(&n);
        assert!(
            (m - 1.0).abs() < 3.5 * se + 0.01,
            "{service}: mean in system {m} ± {se} vs 1"
        );
        let (m, se) = mean_se(&u);
        assert!(
            (m - 0.5).abs() < 3.5 * se + 0.005,
            "{service}: CPU utilisation {m} ± {se} vs ρ = 0.5"
        );
    }
}

#[test]
fn without_cpu_work_nothing_is_shared() {
    // cpu_share = 0 (the default): concurrent requests do not slow each other, whatever vcpu.
    let toml = ps_instance(0.5, 5_000, r#"{ dist = "fixed", value = "1s" }"#)
        .replace("cpu_share = 1", "cpu_share = 0");
    let v = run(&scenario(&toml), 1);
    let t = sim(&v).mean_latency_exact_ms / 1000.0;
    assert!((t - 1.0).abs() < 1e-6, "every request takes its 1 s: {t}");
    assert_eq!(v.instances.mean_cpu_utilization, 0.0);
}
