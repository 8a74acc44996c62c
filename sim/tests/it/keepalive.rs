//! The keepalive kind against the published SimFaaS / AWS Lambda behaviour (VALIDATION.md,
//! low-load keep-alive formulas).

use crate::support::*;
use scalelab_core::testing::fill;

fn keepalive(lambda: f64, idle_s: u64, horizon_s: u64, extra_toml: &str) -> String {
    fill(
        include_str!("fixtures/keepalive.toml"),
        &[
            ("horizon_s", &horizon_s),
            ("idle_s", &idle_s),
            ("lambda", &lambda),
            ("extra_toml", &extra_toml),
        ],
    )
}

#[test]
fn cold_start_ratio_follows_the_first_order_formula() {
    // λ = 0.01/s, s̄ = 1 s, T = 60 s: P_cold ≈ e^(−λT)/(1 + λs̄) + λs̄.
    let (lambda, s, t) = (0.01_f64, 1.0_f64, 60.0_f64);
    let want = (-lambda * t).exp() / (1.0 + lambda * s) + lambda * s;
    let sc = scenario(&keepalive(lambda, 60, 20_000_000, ""));
    let v = run(&sc, 9);
    let n = v.requests.arrived as f64;
    assert!(n > 150_000.0, "{n} requests");
    let ratio = v.cold_starts.count as f64 / n;
    // Binomial standard error ≈ 0.0011; the formula itself is good to about 0.3 %.
    assert!(
        (ratio - want).abs() < 0.006,
        "cold-start ratio {ratio} vs {want}"
    );
    assert_eq!(v.cold_starts.requests_delayed, v.cold_starts.count);
    assert_eq!(v.requests.rejected, 0);
}

#[test]
fn no_keepalive_means_every_request_is_cold_and_instances_are_m_g_infinity() {
    // T = 0: every request is cold; instances alive = requests in service: Poisson with mean λE[S].
    let sc = scenario(&keepalive(2.0, 0, 50_000, ""));
    let v = run(&sc, 4);
    assert_eq!(v.cold_starts.count, v.requests.arrived);
    let mean = v.instances.mean;
    assert!(
        (mean - 2.0).abs() < 0.05,
        "mean instances {mean} vs λE[S] = 2"
    );
    let p0 = v.instances.time_at_zero_s / occupancy(&v).end_s;
    let want = (-2.0_f64).exp();
    assert!((p0 - want).abs() < 0.01, "P(N = 0) {p0} vs {want}");
}

#[test]
fn max_instances_rejects_beyond_it() {
    let sc =
        scenario(&keepalive(5.0, 60, 2_000, "").replace("max_instances = 0", "max_instances = 2"));
    let v = run(&sc, 1);
    assert!(v.instances.peak <= 2);
    assert!(v.requests.rejected > 0);
    // Erlang B with c = 2 and A = 5 (insensitive to the service distribution).
    let b = erlang_b(2, 5.0);
    let got = v.requests.rejected as f64 / v.requests.arrived as f64;
    assert!((got - b).abs() < 0.03, "blocking {got} vs {b}");
}

/// SimFaaS's own example service (its README: warm service 1.991 s, cold service 2.244 s, both
/// exponential, Poisson arrivals at 0.9/s) with an idle timeout of 13 s, comparable to the
/// service times, where the idle-instance rule matters (MODELS.md §4, case D1).
fn d1(choice: &str) -> String {
    fill(
        include_str!("fixtures/keepalive-d1.toml"),
        &[("choice", &choice)],
    )
}

#[test]
fn simfaas_case_d1_with_simfaas_s_rule() {
    // SimFaaS's rule (the idle instance created last) gives P(cold) = 0.0781 in case D1; our
    // original rule (the one freed last) 0.0815.
    let v = run(&scenario(&d1("newest-created")), 1);
    let n = v.requests.arrived as f64;
    assert!(n > 250_000.0, "{n} requests");
    let p = v.cold_starts.count as f64 / n;
    assert!((p - 0.0781).abs() <= 0.03 * 0.0781, "P(cold) {p} vs 0.0781");
    let last = run(&scenario(&d1("last-freed")), 1);
    let q = last.cold_starts.count as f64 / last.requests.arrived as f64;
    eprintln!("D1: newest-created {p:.4}, last-freed {q:.4}");
    assert!(
        q > p,
        "last-freed {q} should be colder than newest-created {p}"
    );
}
