//! The HPA against the Kubernetes controller's arithmetic (VALIDATION.md, MODELS.md §3).

use super::*;

fn secs(s: u64) -> Time {
    Time::from_secs(s)
}

fn hpa(target: f64) -> Hpa {
    Hpa::new(HpaSettings {
        cpu_target: target,
        max_scale: 1000,
        ..HpaSettings::default()
    })
}

fn at(n: usize, u: f64) -> Vec<Pod> {
    vec![Pod::ready(Time::ZERO, u); n]
}

#[test]
fn fifty_pods_at_90_percent_against_75_become_60() {
    let mut h = hpa(0.75);
    let s = h.sync(secs(600), 50, &at(50, 0.9));
    assert_eq!(s.recommendation, Some(60));
    assert_eq!(s.replicas, 60);
}

#[test]
fn within_the_tolerance_nothing_changes() {
    let mut h = hpa(0.75);
    // 80 / 75 = 1.067: within 0.1 of 1.
    assert_eq!(h.sync(secs(600), 50, &at(50, 0.8)).replicas, 50);
    // 0.68 / 0.75 = 0.907: within too; 0.67 / 0.75 = 0.893 is not (a scale-down
    // recommendation, held by the stabilisation window: see below).
    assert_eq!(h.recommend(secs(615), 50, &at(50, 0.68)), Some(50));
    assert_eq!(h.recommend(secs(615), 50, &at(50, 0.67)), Some(45));
    // 0.83 / 0.75 = 1.107 is outside: ⌈1.107 × 50⌉ = 56.
    assert_eq!(h.recommend(secs(615), 50, &at(50, 0.83)), Some(56));
}

#[test]
fn a_dip_shorter_than_the_stabilisation_window_does_not_scale_down() {
    let mut h = hpa(0.5);
    let mut t = 600;
    assert_eq!(h.sync(secs(t), 10, &at(10, 0.5)).replicas, 10);
    // Four minutes at 10 %: each sync recommends 2, the window's highest (10) wins.
    for _ in 0..16 {
        t += 15;
        assert_eq!(h.sync(secs(t), 10, &at(10, 0.1)).replicas, 10, "t = {t}");
    }
    // Load back: nothing happened.
    t += 15;
    assert_eq!(h.sync(secs(t), 10, &at(10, 0.5)).replicas, 10);
    // A dip longer than 5 minutes does scale down, once the 10 has left the window.
    let mut down = None;
    for _ in 0..25 {
        t += 15;
        let r = h.sync(secs(t), 10, &at(10, 0.1)).replicas;
        if r < 10 {
            down = Some(t);
            assert_eq!(r, 2);
            break;
        }
    }
    let d = down.expect("scaled down");
    assert!(d >= 600 + 17 * 15 + 300, "scaled down at {d}");
}

#[test]
fn the_default_scale_up_policies_allow_4_pods_or_100_percent() {
    // 2 pods at 10× the target want 20: at most max(2 + 4, 2 × 2) = 6 in a period.
    let mut h = hpa(0.1);
    assert_eq!(h.sync(secs(600), 2, &at(2, 1.0)).replicas, 6);
    // Within the same 15 s period the budget is spent (counted from the period's start).
    assert_eq!(h.sync(secs(605), 6, &at(6, 1.0)).replicas, 6);
    // Next period: from 6, max(10, 12) = 12.
    assert_eq!(h.sync(secs(621), 6, &at(6, 1.0)).replicas, 12);
    // 10 pods: the percent policy allows more (20 vs 14).
    let mut h = hpa(0.1);
    assert_eq!(h.sync(secs(600), 10, &at(10, 1.0)).replicas, 20);
}

#[test]
fn unready_pods_count_at_zero_when_scaling_up() {
    let mut h = hpa(0.5);
    // 4 ready pods at 100 % (ratio 2) and 4 starting: ⌈(4 × 1.0 + 4 × 0) / 8 / 0.5 × 8⌉ = 8:
    // the starting pods absorb the increase, nothing changes.
    let mut pods = at(4, 1.0);
    pods.extend(vec![Pod::starting(secs(590)); 4]);
    assert_eq!(h.sync(secs(600), 8, &pods).replicas, 8);
    // Without them the same ready pods ask for 8 from 4.
    let mut h = hpa(0.5);
    assert_eq!(h.sync(secs(600), 4, &at(4, 1.0)).replicas, 8);
    // A pod ready for less than one sample window in its first 5 minutes is unready too.
    let young = Pod {
        started: secs(500),
        ready_since: Some(secs(595)),
        utilization: Some(0.0),
    };
    assert!(h.unready(secs(600), &young));
    assert!(!h.unready(secs(611), &young));
    // Old pods are never unready once ready.
    let old = Pod::ready(Time::ZERO, 0.3);
    assert!(!h.unready(secs(600), &old));
}

#[test]
fn missing_metrics_count_at_100_percent_when_scaling_down() {
    let h = hpa(0.5);
    // 4 pods at 10 % (ratio 0.2) and 4 without a sample (at 100 %): (0.4 + 4) / 8 = 0.55 → 1.1:
    // the direction flips, nothing changes.
    let mut pods = at(4, 0.1);
    pods.extend(vec![
        Pod {
            started: Time::ZERO,
            ready_since: Some(Time::ZERO),
            utilization: None,
        };
        4
    ]);
    assert_eq!(h.recommend(secs(600), 8, &pods), Some(8));
    // No pod with a metric: no recommendation.
    assert_eq!(h.recommend(secs(600), 2, &[Pod::starting(secs(599))]), None);
}

#[test]
fn bounds_hold() {
    let mut h = Hpa::new(HpaSettings {
        min_scale: 2,
        max_scale: 5,
        cpu_target: 0.5,
        scale_down_stabilization: std::time::Duration::ZERO,
        ..HpaSettings::default()
    });
    assert_eq!(h.sync(secs(600), 4, &at(4, 2.0)).replicas, 5);
    assert_eq!(h.sync(secs(700), 5, &at(5, 0.0)).replicas, 2);
    assert_eq!(h.sync(secs(800), 1, &at(1, 0.5)).replicas, 2, "below min");
    assert_eq!(h.initial(), 2);
}
