//! Twins of Knative's `pkg/autoscaler/scaling/autoscaler_test.go` (their numbers and
//! expectations), plus the VALIDATION.md rules K1–K4. Knative builds its test deciders with
//! a 75 % utilisation (total = target / 0.75), panic threshold 2, rates 10, activator capacity
//! 150 and a 60 s stable window; `spec` below does the same. Knative compares EBC within ±1 (the
//! division by 0.75 makes some values land a float ulp from an integer); so does `expect`.

use std::time::Duration;

use super::*;

const T0: Time = Time::from_secs(1000);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn spec(target: f64, tbc: f64) -> DeciderSpec {
    DeciderSpec {
        metric: Metric::Concurrency,
        target_value: target,
        total_value: target / 0.75,
        panic_threshold: 2.0,
        stable_window: secs(60),
        panic_window: secs(6),
        target_burst_capacity: tbc,
        scale_down_delay: Duration::ZERO,
        max_scale_up_rate: 10.0,
        max_scale_down_rate: 10.0,
        activation_scale: 0,
        initial_scale: 1,
        activator_capacity: 150.0,
        aggregation: Aggregation::Linear,
    }
}

/// Knative's `newTestAutoscaler`: created with one ready pod (not panicking).
fn decider(target: f64, tbc: f64) -> Decider {
    Decider::new(T0, spec(target, tbc), 1)
}

#[track_caller]
fn expect(r: ScaleResult, desired: i32, ebc: i32) {
    assert!(r.valid, "{r:?}");
    assert_eq!(r.desired, desired, "desired in {r:?}");
    assert!(
        (r.excess_burst_capacity - ebc).abs() <= 1,
        "ebc {} want {ebc} (±1)",
        r.excess_burst_capacity
    );
}

fn obs(s: f64, p: f64) -> Option<(f64, f64)> {
    Some((s, p))
}

/// The desired pods of one decision on observed (stable, panic) averages.
fn desired(d: &mut Decider, now: Time, ready: u32, reachable: bool, (s, p): (f64, f64)) -> i32 {
    d.scale_observed(now, ready, reachable, obs(s, p)).desired
}

/// TestAutoscalerScale: the table, one decision each.
#[test]
fn knative_autoscaler_scale_table() {
    struct Case {
        label: &'static str,
        target: f64,
        tbc: f64,
        stable: f64,
        panic: f64,
        ready: u32,
        prep: fn(&mut Decider),
        reachable: bool,
        want: i32,
        ebc: i32,
    }
    fn none(_: &mut Decider) {}
    fn in_panic_5(d: &mut Decider) {
        d.panic_start = Some(Time::from_secs(995));
        d.max_panic_pods = 5;
    }
    fn up_1_1(d: &mut Decider) {
        d.spec.max_scale_up_rate = 1.1;
    }
    fn down_1_1(d: &mut Decider) {
        d.spec.max_scale_down_rate = 1.1;
    }
    let c = |label, target, tbc, stable, panic, ready, want, ebc| Case {
        label,
        target,
        tbc,
        stable,
        panic,
        ready,
        prep: none,
        reachable: true,
        want,
        ebc,
    };
    let cases = [
        c(
            "AutoscalerNoDataAtZeroNoAutoscale",
            10.0,
            100.0,
            0.0,
            0.0,
            1,
            0,
            -87,
        ),
        c(
            "AutoscalerStableModeUnlimitedTBC",
            181.0,
            -1.0,
            21.0,
            26.0,
            1,
            1,
            -1,
        ),
        c("Autoscaler0TBC", 10.0, 0.0, 50.0, 49.0, 1, 5, 0),
        c(
            "AutoscalerStableModeNoChange",
            10.0,
            100.0,
            50.0,
            50.0,
            1,
            5,
            -137,
        ),
        Case {
            prep: in_panic_5,
            ..c(
                "AutoscalerPanicStableLargerThanPanic",
                1.0,
                100.0,
                50.0,
                30.0,
                5,
                50,
                -124,
            )
        },
        Case {
            prep: in_panic_5,
            ..c(
                "AutoscalerPanicStableLessThanPanic",
                1.0,
                100.0,
                20.0,
                30.0,
                5,
                30,
                -124,
            )
        },
        c(
            "AutoscalerStableModeNoChangeAlreadyScaled",
            10.0,
            100.0,
            50.0,
            50.0,
            5,
            5,
            -84,
        ),
        Case {
            prep: up_1_1,
            ..c(
                "AutoscalerStableModeIncreaseWithSmallScaleUpRate",
                1.0,
                1982.0,
                3.0,
                3.1,
                2,
                3,
                -1983,
            )
        },
        Case {
            prep: down_1_1,
            ..c(
                "AutoscalerStableModeDecreaseWithSmallScaleDownRate",
                10.0,
                1982.0,
                1.0,
                1.0,
                100,
                90,
                -650,
            )
        },
        Case {
            prep: down_1_1,
            reachable: false,
            ..c(
                "AutoscalerStableModeDecreaseNonReachable",
                10.0,
                1982.0,
                1.0,
                1.0,
                100,
                1,
                -650,
            )
        },
        c(
            "AutoscalerPanicModeDoublePodCount",
            10.0,
            84.0,
            50.0,
            100.0,
            1,
            10,
            -171,
        ),
    ];
    for case in cases {
        let mut d = decider(case.target, case.tbc);
        (case.prep)(&mut d);
        let r = d.scale_observed(T0, case.ready, case.reachable, obs(case.stable, case.panic));
        assert!(r.valid, "{}", case.label);
        assert_eq!(r.desired, case.want, "{}", case.label);
        assert!(
            (r.excess_burst_capacity - case.ebc).abs() <= 1,
            "{}: {r:?}",
            case.label
        );
    }
}

/// TestAutoscalerScaleDownDelay ("simple" then "gradual", one decider): every decrease waits
/// until the higher values leave the 5 minute window of 2 s buckets.
#[test]
fn knative_scale_down_delay() {
    let mut s = spec(10.0, 0.0);
    s.panic_threshold = 100.0;
    s.scale_down_delay = secs(300);
    let mut d = Decider::new(Time::ZERO, s, 0);
    let at = |s: u64| Time::from_secs(s);
    let steps: [(u64, f64, i32); 8] = [
        (2, 40.0, 4),
        (300, 0.0, 4),
        (302, 0.0, 0),
        (540, 40.0, 4),
        (600, 30.0, 4),
        (660, 0.0, 4),
        (840, 0.0, 3),
        (900, 0.0, 0),
    ];
    for (t, v, want) in steps {
        let r = d.scale_observed(at(t), 0, true, obs(v, v));
        assert_eq!(r.desired, want, "t = {t}s");
    }
}

/// TestAutoscalerScaleDownDelayNotReachable: an unreachable revision skips the delay.
#[test]
fn knative_scale_down_delay_not_reachable() {
    let mut s = spec(10.0, 0.0);
    s.panic_threshold = 100.0;
    s.scale_down_delay = secs(300);
    let mut d = Decider::new(Time::ZERO, s.clone(), 0);
    assert_eq!(
        desired(&mut d, Time::from_secs(2), 0, true, (40.0, 40.0)),
        4
    );
    assert_eq!(desired(&mut d, Time::from_secs(60), 0, true, (0.0, 0.0)), 4);
    d.update(Time::from_secs(60), s);
    assert_eq!(
        desired(&mut d, Time::from_secs(62), 0, false, (0.0, 0.0)),
        0
    );
}

/// TestAutoscalerScaleDownDelayZero: no delay window, decreases apply at once.
#[test]
fn knative_scale_down_delay_zero() {
    let mut s = spec(10.0, 0.0);
    s.panic_threshold = 100.0;
    let mut d = Decider::new(Time::ZERO, s, 0);
    assert_eq!(desired(&mut d, Time::ZERO, 0, true, (40.0, 40.0)), 4);
    assert_eq!(
        desired(&mut d, Time::from_millis(500), 0, true, (20.0, 20.0)),
        2
    );
}

/// TestAutoscalerNoDataNoAutoscale: no data → invalid, nothing changes.
#[test]
fn knative_no_data_no_autoscale() {
    let mut d = decider(10.0, 100.0);
    let before = d.status();
    let t = d.tick_observed(T0, 1, true, None);
    assert!(!t.result.valid && !t.notify);
    assert_eq!(d.status(), before);
    assert_eq!(t.result.desired, -1, "the last decision (none yet)");
    // And from the windows: nothing recorded, scraping on.
    let t = d.tick(T0, 1, true);
    assert!(!t.result.valid);
}

/// TestAutoscalerMetrics / TestAutoscalerMetricsWithRPS (their decisions).
#[test]
fn knative_metrics_decisions() {
    let mut d = decider(10.0, 100.0);
    expect(d.scale_observed(T0, 1, true, obs(50.0, 50.0)), 5, -137);
    let mut s = spec(10.0, 100.0);
    s.metric = Metric::Rps;
    let mut d = Decider::new(T0, s, 1);
    expect(
        d.scale_observed(T0 + secs(61), 1, true, obs(100.0, 99.0)),
        10,
        -186,
    );
}

/// TestAutoscalerStableModeIncreaseWithConcurrencyDefault and ...WithRPS.
#[test]
fn knative_stable_mode_increase() {
    let mut d = decider(10.0, 101.0);
    expect(d.scale_observed(T0, 1, true, obs(50.0, 10.0)), 5, -98);
    expect(d.scale_observed(T0, 1, true, obs(100.0, 10.0)), 10, -98);
    let mut s = spec(10.0, 101.0);
    s.metric = Metric::Rps;
    let mut d = Decider::new(T0, s, 1);
    expect(d.scale_observed(T0, 1, true, obs(50.0, 50.0)), 5, -138);
    expect(d.scale_observed(T0, 1, true, obs(100.0, 99.0)), 10, -187);
}

/// TestAutoscalerUnpanicAfterSlowIncrease: panic holds for a stable window after the last
/// over-threshold tick, then desired follows the stable average again.
#[test]
fn knative_unpanic_after_slow_increase() {
    let mut d = decider(1.0, 98.0);
    let start = T0;
    expect(d.scale_observed(start, 10, true, obs(11.0, 25.0)), 25, -110);
    assert_eq!(d.panic_start, Some(start));
    let tm = start + secs(30);
    expect(d.scale_observed(tm, 40, true, obs(30.0, 41.0)), 41, -86);
    assert_eq!(d.panic_start, Some(start), "panic time must not move");
    let tm = tm + secs(30) + TICK_INTERVAL;
    expect(d.scale_observed(tm, 55, true, obs(50.0, 56.0)), 50, -81);
    assert_eq!(d.panic_start, None);
}

/// TestAutoscalerExtendPanicWindow.
#[test]
fn knative_extend_panic_window() {
    let mut d = decider(1.0, 98.0);
    expect(d.scale_observed(T0, 10, true, obs(11.0, 25.0)), 25, -110);
    let tm = T0 + secs(30);
    expect(d.scale_observed(tm, 40, true, obs(30.0, 80.0)), 80, -125);
    assert_eq!(d.panic_start, Some(tm));
}

/// TestAutoscalerStableModeDecrease.
#[test]
fn knative_stable_mode_decrease() {
    let mut d = decider(10.0, 98.0);
    expect(d.scale_observed(T0, 8, true, obs(100.0, 100.0)), 10, -92);
    expect(d.scale_observed(T0, 8, true, obs(50.0, 50.0)), 5, -42);
}

/// TestAutoscalerStableModeNoTrafficScaleToZero.
#[test]
fn knative_no_traffic_scale_to_zero() {
    let mut d = decider(10.0, 75.0);
    expect(d.scale_observed(T0, 1, true, obs(1.0, 0.0)), 1, -62);
    expect(d.scale_observed(T0, 1, true, obs(0.0, 0.0)), 0, -62);
}

/// TestAutoscalerActivationScale: any non-zero want is at least the activation scale.
#[test]
fn knative_activation_scale() {
    let mut d = decider(10.0, 75.0);
    d.spec.activation_scale = 2;
    expect(d.scale_observed(T0, 1, true, obs(0.0, 0.0)), 0, -62);
    expect(d.scale_observed(T0, 1, true, obs(1.0, 0.0)), 2, -62);
}

/// TestAutoscalerPanicModeExponentialTrackAndStabilize.
#[test]
fn knative_panic_exponential_track() {
    let mut d = decider(1.0, 101.0);
    expect(d.scale_observed(T0, 1, true, obs(6.0, 6.0)), 6, -106);
    let tm = T0 + secs(1);
    expect(d.scale_observed(tm, 6, true, obs(36.0, 36.0)), 36, -129);
    assert_eq!(d.panic_start, Some(tm));
    let tm = tm + secs(1);
    expect(d.scale_observed(tm, 36, true, obs(216.0, 216.0)), 216, -269);
    assert_eq!(d.panic_start, Some(tm));
    expect(
        d.scale_observed(tm, 216, true, obs(1296.0, 1296.0)),
        1296,
        -1109,
    );
    assert_eq!(d.panic_start, Some(tm));
    let tm = tm + secs(1);
    expect(
        d.scale_observed(tm, 1296, true, obs(1296.0, 1296.0)),
        1296,
        331,
    );
}

/// TestAutoscalerPanicThenUnPanicScaleDown: in panic the high-water mark holds; after a
/// stable window without over-threshold ticks the decider drops to the stable want.
#[test]
fn knative_panic_then_unpanic_scale_down() {
    let mut d = decider(10.0, 93.0);
    expect(d.scale_observed(T0, 1, true, obs(100.0, 100.0)), 10, -180);
    let pt = T0 + secs(1);
    expect(
        d.scale_observed(pt, 10, true, obs(100.0, 1000.0)),
        100,
        -960,
    );
    expect(
        d.scale_observed(pt + secs(30), 10, true, obs(1.0, 1.0)),
        100,
        39,
    );
    expect(
        d.scale_observed(pt + secs(61), 10, true, obs(1.0, 1.0)),
        1,
        39,
    );
}

/// TestAutoscalerRateLimitScaleUp / ScaleDown.
#[test]
fn knative_rate_limits() {
    let mut d = decider(10.0, 61.0);
    expect(
        d.scale_observed(T0, 1, true, obs(1000.0, 1001.0)),
        10,
        -1049,
    );
    expect(
        d.scale_observed(T0, 10, true, obs(1000.0, 1001.0)),
        100,
        -929,
    );
    let mut d = decider(10.0, 61.0);
    expect(d.scale_observed(T0, 100, true, obs(1.0, 1.0)), 10, 1271);
    expect(d.scale_observed(T0, 10, true, obs(1.0, 1.0)), 1, 71);
}

/// TestAutoscalerUseOnePodAsMinimumIfEndpointsNotFound: zero ready pods count as one for the
/// rate limits, as zero for EBC.
#[test]
fn knative_zero_ready_counts_as_one() {
    let mut d = decider(10.0, 81.0);
    expect(d.scale_observed(T0, 0, true, obs(1000.0, 888.0)), 10, -969);
}

/// TestAutoscalerUpdateTarget.
#[test]
fn knative_update_target() {
    let mut d = decider(10.0, 77.0);
    expect(d.scale_observed(T0, 1, true, obs(100.0, 101.0)), 10, -165);
    let mut s = spec(1.0, 71.0);
    s.activator_capacity = 21.0;
    d.update(T0, s);
    expect(d.scale_observed(T0, 10, true, obs(100.0, 101.0)), 100, -159);
}

/// TestStartInPanicMode / TestNewFail: more than one ready pod at creation starts in panic
/// holding that count; 0 or 1 does not.
#[test]
fn knative_start_in_panic_mode() {
    let mut s = spec(100.0, 11.0);
    s.total_value = 120.0;
    s.panic_threshold = 220.0;
    for ready in 0..2 {
        let d = Decider::new(T0, s.clone(), ready);
        assert!(!d.in_panic(), "ready {ready}");
        assert_eq!(d.max_panic_pods, ready as i32);
    }
    let d = Decider::new(T0, s, 2);
    assert!(d.in_panic());
    assert_eq!(d.max_panic_pods, 2);
}

/// A restarted decider holds its pods for a stable window although the new windows read low.
#[test]
fn restart_holds_scale_for_a_stable_window() {
    let mut d = Decider::new(T0, spec(10.0, 100.0), 5);
    assert_eq!(desired(&mut d, T0 + secs(2), 5, true, (10.0, 10.0)), 5);
    assert_eq!(desired(&mut d, T0 + secs(60), 5, true, (10.0, 10.0)), 5);
    let r = d.scale_observed(T0 + secs(62), 5, true, obs(10.0, 10.0));
    assert_eq!(
        r.desired, 1,
        "panic exits after the window; floor(5/10) = 0, ceil(10/10) = 1"
    );
    assert!(!r.panic);
}

/// The multiscaler's status: starts at −1 with the initial EBC; notifies on a new desired or
/// an EBC sign flip (0 counts as non-negative) only.
#[test]
fn status_notifies_on_change_or_ebc_sign_flip() {
    let mut s = spec(25.0, 42.0);
    s.total_value = 25.0;
    s.initial_scale = 2;
    let st = DeciderStatus::initial(&s);
    assert_eq!(
        st,
        DeciderStatus {
            desired_scale: -1,
            excess_burst_capacity: 8
        }
    );
    let r = |desired, ebc| ScaleResult {
        desired,
        excess_burst_capacity: ebc,
        valid: true,
        panic: false,
    };
    let mut st = st;
    let cases = [
        (r(1, 5), true),   // desired −1 → 1
        (r(1, 3), false),  // same desired, EBC stays non-negative
        (r(1, 0), false),  // 0 is non-negative
        (r(1, -1), true),  // sign flip
        (r(1, -9), false), // still negative
        (r(2, -9), true),  // desired changed
        (r(2, 0), true),   // back to non-negative
    ];
    for (i, (res, want)) in cases.into_iter().enumerate() {
        assert_eq!(st.update(&res), want, "case {i}");
        assert_eq!(st.desired_scale, res.desired);
        assert_eq!(st.excess_burst_capacity, res.excess_burst_capacity);
    }
    assert!(!st.update(&ScaleResult {
        valid: false,
        ..r(7, -7)
    }));
    assert_eq!(st.desired_scale, 2);
    for (tbc, want) in [(-1.0, -1), (0.0, 0), (211.0, -111)] {
        let mut s = spec(75.0, tbc);
        s.total_value = 100.0;
        assert_eq!(s.initial_excess_burst_capacity(), want, "tbc {tbc}");
    }
}

/// KPA.md §2.1: derived parameters from the settings.
#[test]
fn spec_derivation_follows_knative() {
    let d = KpaSettings::default();
    let s = DeciderSpec::new(&d, 0);
    assert_eq!((s.total_value, s.target_value), (100.0, 70.0));
    assert_eq!(s.panic_window, secs(6));
    assert_eq!(s.panic_threshold, 2.0);
    assert_eq!(s.initial_excess_burst_capacity(), -111);
    let s = DeciderSpec::new(&d, 10);
    assert_eq!((s.total_value, s.target_value), (10.0, 7.0));
    let t = |target: f64, cc| {
        DeciderSpec::new(
            &KpaSettings {
                target: Some(target),
                ..d.clone()
            },
            cc,
        )
    };
    assert_eq!(
        t(10.0, 0).target_value,
        7.0,
        "the target annotation is a total"
    );
    assert_eq!(
        t(50.0, 10).total_value,
        10.0,
        "capped by container concurrency"
    );
    assert_eq!(t(0.001, 0).target_value, TARGET_MIN);
    let rps = DeciderSpec::new(
        &KpaSettings {
            metric: Metric::Rps,
            ..d.clone()
        },
        10,
    );
    assert_eq!((rps.total_value, rps.target_value), (200.0, 140.0));
    // Panic window: 60 s × 51 % = 30.6 s → 31 s; 6 s × 1 % = 0.06 s → 1 s; half rounds up.
    let cases = [
        (60, 10.0, 6),
        (60, 51.0, 31),
        (6, 1.0, 1),
        (10, 15.0, 2),
        (10, 25.0, 3),
        (3600, 100.0, 3600),
    ];
    for (sw, pct, want) in cases {
        assert_eq!(panic_window(secs(sw), pct), secs(want), "{sw}s × {pct}%");
    }
    // Activators: max(2, ceil((ready × total + TBC) / capacity)); 2 when TBC = 0.
    let s = DeciderSpec::new(&d, 0);
    assert_eq!(s.num_activators(0), 3); // ceil(211 / 100)
    assert_eq!(s.num_activators(10), 13); // ceil(1211 / 100)
    let s0 = DeciderSpec::new(
        &KpaSettings {
            target_burst_capacity: 0.0,
            ..d.clone()
        },
        0,
    );
    assert_eq!(s0.num_activators(50), 2);
    let sm = DeciderSpec::new(
        &KpaSettings {
            target_burst_capacity: -1.0,
            ..d
        },
        0,
    );
    assert_eq!(sm.num_activators(1), 2);
    assert_eq!(sm.num_activators(5), 5);
}

fn defaults_decider(cc: u32, ready: u32) -> Decider {
    Decider::new(
        Time::ZERO,
        DeciderSpec::new(&KpaSettings::default(), cc),
        ready,
    )
}

/// VALIDATION.md K1: containerConcurrency 10 → 7 per pod; stable average 20 → 3 pods.
/// VALIDATION.md K2: unlimited concurrency → target 70; average 300 → 5 pods.
#[test]
fn k1_k2_desired_pods_from_the_stable_average() {
    // (case, containerConcurrency, ready pods, stable = panic average, desired)
    for (case, cc, ready, avg, want) in [("K1", 10, 3, 20.0, 3), ("K2", 0, 5, 300.0, 5)] {
        let mut d = defaults_decider(cc, ready);
        let r = d.scale_observed(Time::from_secs(2), ready, true, obs(avg, avg));
        assert_eq!(r.desired, want, "{case}");
    }
}

/// VALIDATION.md K3: ready 2, target 7, 6 s average 30 → ⌈30/7⌉ = 5; 5/2 ≥ 2 → panic, 5.
#[test]
fn k3_panic_at_twice_the_ready_pods() {
    let mut d = defaults_decider(10, 1);
    let r = d.scale_observed(Time::from_secs(2), 2, true, obs(7.0, 30.0));
    assert!(r.panic);
    assert_eq!(r.desired, 5);
}

/// VALIDATION.md K4: 10 ready, want 3 → 5 this tick (floor(10/2)), 3 on the next.
#[test]
fn k4_scale_down_rate_halves_per_tick() {
    let mut d = defaults_decider(10, 1);
    assert_eq!(
        desired(&mut d, Time::from_secs(2), 10, true, (21.0, 21.0)),
        5
    );
    assert_eq!(
        desired(&mut d, Time::from_secs(4), 5, true, (21.0, 21.0)),
        3
    );
}

/// Raw per-second stats through the windows: the collector subtracts proxied load and sums
/// an activator stat and a scrape in the same second.
#[test]
fn record_sums_same_second_and_subtracts_proxied() {
    let mut d = defaults_decider(10, 1);
    let t = Time::from_secs(1);
    d.record(
        t,
        &Stat {
            avg_concurrency: 9.0,
            avg_proxied_concurrency: 4.0,
            ..Stat::default()
        },
    );
    d.record(
        t + Duration::from_millis(300),
        &Stat {
            avg_concurrency: 4.0,
            ..Stat::default()
        },
    );
    assert_eq!(
        d.collector().observed(t, Metric::Concurrency),
        Some((9.0, 9.0))
    );
    let tick = d.tick(Time::from_secs(2), 1, true);
    assert_eq!(tick.result.desired, 2); // ceil(9 / 7)
    let one = Stat {
        avg_concurrency: 1.0,
        ..Stat::default()
    };
    assert!(!d.wants_poke(&one), "the last decision is 2, not 0");
}

/// Poke: only when the last decision is 0 and the stat has concurrency.
#[test]
fn poke_only_from_zero() {
    let mut d = defaults_decider(0, 1);
    let one = Stat {
        avg_concurrency: 1.0,
        request_count: 1.0,
        ..Stat::default()
    };
    assert!(!d.wants_poke(&one), "desired −1 is not 0");
    d.tick_observed(Time::from_secs(2), 1, true, obs(0.0, 0.0));
    assert_eq!(d.status().desired_scale, 0);
    assert!(d.wants_poke(&one));
    assert!(!d.wants_poke(&Stat::default()));
}

/// TBC −1: no scraping, so empty windows read 0 (valid) instead of "no data".
#[test]
fn unlimited_tbc_disables_no_data() {
    let s = DeciderSpec::new(
        &KpaSettings {
            target_burst_capacity: -1.0,
            ..KpaSettings::default()
        },
        0,
    );
    let mut d = Decider::new(Time::ZERO, s, 0);
    let t = d.tick(Time::from_secs(2), 0, true);
    assert!(t.result.valid);
    assert_eq!((t.result.desired, t.result.excess_burst_capacity), (0, -1));
}

/// `quiet`: true exactly when every later tick (nothing recorded but zeros) would decide what
/// the status shows, and then such ticks indeed change nothing.
#[test]
fn quiet_means_the_next_ticks_change_nothing() {
    let zero = Stat::default();
    let one = Stat {
        avg_concurrency: 1.0,
        ..Stat::default()
    };
    let mut d = decider(10.0, 0.0);
    // Data above zero in the window: not quiet.
    d.record(T0, &one);
    let t = d.tick(T0, 1, true);
    assert!(t.result.valid);
    assert!(!d.quiet(T0 + secs(1), 1, true));
    // Zeros for a whole window: the bucket with 1 left it.
    let mut now = T0;
    for _ in 0..61 {
        now += secs(1);
        d.record(now, &zero);
    }
    // The status still says 1 (the last tick's decision): the zeros decide 0, not quiet yet.
    assert_eq!(d.status().desired_scale, 1);
    assert!(!d.quiet(now, 1, true));
    let tick = d.tick(now, 1, true);
    assert_eq!(tick.result.desired, 0);
    assert!(d.quiet(now, 1, true), "{:?}", d.status());
    let status = d.status();
    // Quiet: the following ticks (zeros recorded, or nothing) notify nothing and decide the same.
    for k in 1..100 {
        let at = now + secs(k);
        if k < 30 {
            d.record(at, &zero);
        }
        if k % 2 == 0 {
            let t = d.tick(at, 1, true);
            assert!(!t.notify, "tick {k}: {t:?}");
            assert!(!t.result.valid || t.result.desired == status.desired_scale);
            assert_eq!(d.status(), status);
        }
    }
    // Panic mode is never quiet.
    let mut p = Decider::new(T0, spec(10.0, 0.0), 3);
    assert!(p.in_panic());
    p.record(T0, &zero);
    assert!(!p.quiet(T0, 3, true));
}
