//! Tests of the arrival processes: counts and shapes against the closed forms, exact
//! schedules, horizons, seeds, and property tests of ordering and determinism.

use super::*;
use proptest::prelude::*;

const SEC: u64 = 1_000_000_000;

fn phase(duration: Duration, arrival: ArrivalSpec) -> Phase {
    Phase { duration, arrival }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn one(duration: Duration, arrival: ArrivalSpec) -> WorkloadSpec {
    WorkloadSpec {
        phases: vec![phase(duration, arrival)],
    }
}

fn run(spec: &WorkloadSpec, horizon: Duration, seed: u64) -> Vec<u64> {
    Arrivals::new(spec, horizon, rng::stream(seed, "arrivals"))
        .map(Time::as_nanos)
        .collect()
}

fn count_in(v: &[u64], lo: u64, hi: u64) -> usize {
    v.iter().filter(|&&x| lo <= x && x < hi).count()
}

/// A Poisson count is within `k` standard deviations of its mean.
fn within_sigma(count: usize, expected: f64, k: f64) {
    let dev = (count as f64 - expected).abs();
    assert!(
        dev <= k * expected.sqrt() + 1.0,
        "{count} arrivals, expected {expected:.1} ± {k}σ"
    );
}

#[test]
fn poisson_count_and_gaps_match_the_rate() {
    let spec = one(secs(60), ArrivalSpec::Poisson { rate: 2000.0 });
    let v = run(&spec, secs(60), 1);
    assert_eq!(expected_count(&spec, secs(60)), 120_000.0);
    within_sigma(v.len(), 120_000.0, 4.0);
    let gaps: Vec<u64> = v.windows(2).map(|w| w[1] - w[0]).collect();
    let mean_gap = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
    assert!(
        (mean_gap / 500_000.0 - 1.0).abs() < 0.01,
        "mean gap {mean_gap}"
    );
    // Exponential gaps: P(gap > mean) = 1/e.
    let long = gaps.iter().filter(|&&g| g as f64 > 500_000.0).count() as f64;
    assert!((long / gaps.len() as f64 - (-1.0f64).exp()).abs() < 0.005);
    // Equal-length slices get equal shares.
    for s in 0..6 {
        within_sigma(
            count_in(&v, s * 10 * SEC, (s + 1) * 10 * SEC),
            20_000.0,
            4.0,
        );
    }
}

#[test]
fn constant_spacing_is_exact() {
    let v = run(
        &one(secs(10), ArrivalSpec::Constant { rate: 4.0 }),
        secs(60),
        0,
    );
    assert_eq!(v, (0..40).map(|k| k * 250_000_000).collect::<Vec<_>>());
    let spec = one(secs(10), ArrivalSpec::Constant { rate: 3.0 });
    let v = run(&spec, secs(60), 0);
    assert_eq!(v, (0..30).map(|k| k * SEC / 3).collect::<Vec<_>>());
    assert_eq!(expected_count(&spec, secs(60)), 30.0);
    let spec = one(secs(3), ArrivalSpec::Constant { rate: 0.5 });
    assert_eq!(run(&spec, secs(3), 0), [0, 2 * SEC]);
    assert_eq!(expected_count(&spec, secs(3)), 2.0);
    // The seed does not matter for a deterministic process.
    assert_eq!(run(&spec, secs(3), 0), run(&spec, secs(3), 99));
    // No drift over a long phase at a rate whose gap is not a whole number of ns.
    let spec = one(secs(1000), ArrivalSpec::Constant { rate: 7.0 });
    let v = run(&spec, secs(1000), 0);
    assert_eq!(v.len(), 7000);
    assert_eq!(v[6999], 6999 * SEC / 7);
    assert_eq!(expected_count(&spec, secs(1000)), 7000.0);
}

/// Checks that `v` has about `integral(t0, t1)` arrivals in every slice of `slice` ns.
fn follows(v: &[u64], len: u64, slice: u64, integral: impl Fn(f64, f64) -> f64) {
    let mut t = 0;
    while t < len {
        let (t0, t1) = (t as f64 / 1e9, (t + slice).min(len) as f64 / 1e9);
        within_sigma(count_in(v, t, t + slice), integral(t0, t1), 5.0);
        t += slice;
    }
}

#[test]
fn ramp_follows_its_rate_line() {
    for (from, to) in [
        (0.0, 4000.0),
        (4000.0, 0.0),
        (500.0, 3500.0),
        (2000.0, 2000.0),
    ] {
        let spec = one(secs(50), ArrivalSpec::Ramp { from, to });
        let v = run(&spec, secs(50), 2);
        assert!(v.windows(2).all(|w| w[0] <= w[1]) && v.iter().all(|&x| x < 50 * SEC));
        let expected = expected_count(&spec, secs(50));
        assert!((expected - 100_000.0).abs() < 1e-6);
        within_sigma(v.len(), expected, 4.0);
        let slope = (to - from) / 50.0;
        follows(&v, 50 * SEC, 5 * SEC, |a, b| {
            from * (b - a) + slope * (b * b - a * a) / 2.0
        });
        assert!((rate_at(&spec, secs(25)) - (from + to) / 2.0).abs() < 1e-9);
    }
    // A ramp clipped by the horizon counts only the part before it.
    let spec = one(
        secs(10),
        ArrivalSpec::Ramp {
            from: 0.0,
            to: 1000.0,
        },
    );
    assert!((expected_count(&spec, secs(5)) - 1250.0).abs() < 1e-9);
    within_sigma(run(&spec, secs(5), 3).len(), 1250.0, 4.0);
    let zero = one(secs(1_000_000), ArrivalSpec::Ramp { from: 0.0, to: 0.0 });
    assert!(run(&zero, secs(1_000_000), 2).is_empty());
}

#[test]
fn sine_follows_its_rate_curve() {
    let (mean, amp, period) = (2000.0, 1500.0, 10.0);
    let spec = one(
        secs(50),
        ArrivalSpec::Sine {
            mean,
            amplitude: amp,
            period: secs(10),
        },
    );
    let v = run(&spec, secs(50), 4);
    let expected = expected_count(&spec, secs(50));
    assert!((expected - 100_000.0).abs() < 1e-6);
    within_sigma(v.len(), expected, 4.0);
    let w = TAU / period;
    follows(&v, 50 * SEC, SEC, |a, b| {
        mean * (b - a) + amp / w * ((w * a).cos() - (w * b).cos())
    });
    assert!((rate_at(&spec, Duration::from_millis(2500)) - 3500.0).abs() < 1e-9);
    assert!((rate_at(&spec, Duration::from_millis(7500)) - 500.0).abs() < 1e-9);
    // A short period (many segment boundaries), folded onto one period in 8 bins.
    let p_ns = 1_000_000u64;
    let fast = one(
        secs(20),
        ArrivalSpec::Sine {
            mean: 5000.0,
            amplitude: 5000.0,
            period: Duration::from_nanos(p_ns),
        },
    );
    let v = run(&fast, secs(20), 9);
    within_sigma(v.len(), 100_000.0, 4.0);
    let folded: Vec<u64> = v.iter().map(|x| x % p_ns).collect();
    let cycles = 20_000.0;
    let w = TAU / (p_ns as f64 / 1e9);
    follows(&folded, p_ns, p_ns / 8, |a, b| {
        cycles * (5000.0 * (b - a) + 5000.0 / w * ((w * a).cos() - (w * b).cos()))
    });
    // Part of a period: mean·t + amp·P/2π·(1 − cos 2πt/P).
    let quarter = expected_count(&spec, Duration::from_millis(2500));
    assert!((quarter - (5000.0 + 1500.0 * 10.0 / TAU)).abs() < 1e-6);
}

#[test]
fn onoff_is_silent_when_off() {
    let spec = one(
        secs(30),
        ArrivalSpec::Onoff {
            rate: 2000.0,
            on: secs(1),
            off: secs(2),
        },
    );
    let v = run(&spec, secs(30), 5);
    assert!(
        v.iter().all(|x| x % (3 * SEC) < SEC),
        "an arrival in an off period"
    );
    assert_eq!(expected_count(&spec, secs(30)), 20_000.0);
    within_sigma(v.len(), 20_000.0, 4.0);
    for k in 0..10 {
        within_sigma(count_in(&v, 3 * k * SEC, (3 * k + 1) * SEC), 2000.0, 5.0);
    }
    assert_eq!(rate_at(&spec, Duration::from_millis(3500)), 2000.0);
    assert_eq!(rate_at(&spec, Duration::from_millis(4500)), 0.0);
    assert_eq!(expected_count(&spec, Duration::from_millis(4500)), 4000.0);
}

#[test]
fn trace_is_replayed_exactly() {
    let ms = Duration::from_millis;
    let spec = WorkloadSpec {
        phases: vec![
            phase(
                secs(2),
                ArrivalSpec::Trace {
                    at: vec![ms(1500), ms(0), ms(2000), ms(1500), ms(2500)],
                },
            ),
            phase(
                secs(1),
                ArrivalSpec::Trace {
                    at: vec![ms(0), ms(500)],
                },
            ),
        ],
    };
    let v = run(&spec, secs(60), 0);
    let expect: Vec<u64> = [0, 1500, 1500, 2000, 2000, 2500]
        .iter()
        .map(|m| m * 1_000_000)
        .collect();
    assert_eq!(v, expect);
    assert_eq!(expected_count(&spec, secs(60)), 6.0);
    // The horizon is exclusive.
    assert_eq!(run(&spec, secs(2), 0), &expect[..3]);
    assert_eq!(expected_count(&spec, secs(2)), 3.0);
    assert_eq!(rate_at(&spec, secs(1)), 2.0);
}

#[test]
fn phases_run_back_to_back_and_zero_rates_are_skipped() {
    let spec = WorkloadSpec {
        phases: vec![
            phase(secs(3), ArrivalSpec::Constant { rate: 1.0 }),
            phase(secs(3600), ArrivalSpec::Poisson { rate: 0.0 }),
            phase(Duration::ZERO, ArrivalSpec::Constant { rate: 5.0 }),
            phase(
                secs(100 * 365 * 86_400),
                ArrivalSpec::Ramp { from: 0.0, to: 0.0 },
            ),
            phase(secs(2), ArrivalSpec::Constant { rate: 2.0 }),
        ],
    };
    let t = 3603 + 100 * 365 * 86_400;
    let v = run(&spec, Duration::MAX, 0);
    assert_eq!(
        v,
        [
            0,
            SEC,
            2 * SEC,
            t * SEC,
            t * SEC + SEC / 2,
            (t + 1) * SEC,
            (t + 1) * SEC + SEC / 2
        ]
    );
    assert_eq!(expected_count(&spec, Duration::MAX), 7.0);
    assert_eq!(rate_at(&spec, secs(100)), 0.0);
    assert_eq!(rate_at(&spec, secs(t + 1)), 2.0);
    assert_eq!(rate_at(&spec, secs(t + 2)), 0.0);
    // Nothing at all, and no waiting for it.
    let silent = one(Duration::MAX, ArrivalSpec::Poisson { rate: 0.0 });
    assert_eq!(
        Arrivals::new(&silent, Duration::MAX, rng::stream(0, "a")).next(),
        None
    );
    assert!(run(&WorkloadSpec::default(), secs(10), 0).is_empty());
}

#[test]
fn the_horizon_clips_every_process() {
    let processes = [
        ArrivalSpec::Poisson { rate: 100.0 },
        ArrivalSpec::Constant { rate: 100.0 },
        ArrivalSpec::Ramp {
            from: 50.0,
            to: 150.0,
        },
        ArrivalSpec::Sine {
            mean: 100.0,
            amplitude: 50.0,
            period: secs(3),
        },
        ArrivalSpec::Onoff {
            rate: 100.0,
            on: secs(1),
            off: secs(1),
        },
        ArrivalSpec::Trace {
            at: (0..100).map(|k| Duration::from_millis(100 * k)).collect(),
        },
    ];
    for p in processes {
        let spec = one(secs(10), p);
        let v = run(&spec, secs(4), 6);
        assert!(v.iter().all(|&x| x < 4 * SEC) && !v.is_empty(), "{spec:?}");
        assert!(run(&spec, Duration::ZERO, 6).is_empty());
        assert!(run(&spec, secs(60), 6).iter().all(|&x| x < 10 * SEC));
        assert_eq!(expected_count(&spec, Duration::ZERO), 0.0);
    }
    let spec = one(secs(10), ArrivalSpec::Constant { rate: 10.0 });
    assert_eq!(run(&spec, secs(1), 0).len(), 10);
    assert_eq!(expected_count(&spec, secs(1)), 10.0);
}

#[test]
fn changing_one_phase_leaves_the_others_alone() {
    let with = |rate| WorkloadSpec {
        phases: vec![
            phase(secs(10), ArrivalSpec::Poisson { rate }),
            phase(secs(10), ArrivalSpec::Poisson { rate: 50.0 }),
        ],
    };
    let later = |v: Vec<u64>| v.into_iter().filter(|&x| x >= 10 * SEC).collect::<Vec<_>>();
    let (a, b) = (
        run(&with(100.0), secs(20), 8),
        run(&with(300.0), secs(20), 8),
    );
    assert_ne!(a, b);
    assert_eq!(later(a), later(b));
}

#[test]
fn extreme_rates_are_clamped_and_end() {
    let short = Duration::from_micros(2);
    let v = run(&one(short, ArrivalSpec::Poisson { rate: 1e30 }), secs(1), 0);
    within_sigma(v.len(), 2000.0, 5.0);
    let v = run(
        &one(
            short,
            ArrivalSpec::Constant {
                rate: f64::INFINITY,
            },
        ),
        secs(1),
        0,
    );
    assert_eq!(v, (0..2000).collect::<Vec<_>>());
    let sine = ArrivalSpec::Sine {
        mean: 1e30,
        amplitude: 1e30,
        period: Duration::from_nanos(7),
    };
    assert!(run(&one(short, sine), secs(1), 0).len() < 6000);
    for bad in [f64::NAN, -1.0, f64::NEG_INFINITY] {
        for p in [
            ArrivalSpec::Poisson { rate: bad },
            ArrivalSpec::Constant { rate: bad },
            ArrivalSpec::Ramp { from: bad, to: bad },
            ArrivalSpec::Sine {
                mean: bad,
                amplitude: bad,
                period: secs(1),
            },
            ArrivalSpec::Onoff {
                rate: bad,
                on: secs(1),
                off: secs(1),
            },
        ] {
            let spec = one(Duration::MAX, p);
            assert!(run(&spec, Duration::MAX, 0).is_empty());
            assert_eq!(expected_count(&spec, Duration::MAX), 0.0);
        }
    }
    // An amplitude above the mean (the resolver refuses it) is cut to the mean.
    let sine = |amplitude| {
        one(
            secs(20),
            ArrivalSpec::Sine {
                mean: 100.0,
                amplitude,
                period: secs(4),
            },
        )
    };
    let spec = sine(300.0);
    assert_eq!(run(&spec, secs(20), 1), run(&sine(100.0), secs(20), 1));
    assert_eq!(expected_count(&spec, secs(20)), 2000.0);
    assert_eq!(rate_at(&spec, secs(3)), 0.0);
}

fn arrival_spec(max_rate: f64) -> impl Strategy<Value = ArrivalSpec> {
    let rate = prop_oneof![Just(0.0), 0.0..max_rate];
    let d = (1u64..3_000_000_000).prop_map(Duration::from_nanos);
    prop_oneof![
        rate.clone().prop_map(|rate| ArrivalSpec::Poisson { rate }),
        rate.clone().prop_map(|rate| ArrivalSpec::Constant { rate }),
        (rate.clone(), rate.clone()).prop_map(|(from, to)| ArrivalSpec::Ramp { from, to }),
        (rate.clone(), 0.0..1.0f64, d.clone()).prop_map(|(mean, f, period)| {
            ArrivalSpec::Sine {
                mean,
                amplitude: mean * f,
                period,
            }
        }),
        (rate, d.clone(), d.clone()).prop_map(|(rate, on, off)| ArrivalSpec::Onoff {
            rate,
            on,
            off
        }),
        prop::collection::vec(d, 0..50).prop_map(|at| ArrivalSpec::Trace { at }),
    ]
}

fn workload() -> impl Strategy<Value = WorkloadSpec> {
    let phase = (
        (0u64..5_000_000_000).prop_map(Duration::from_nanos),
        arrival_spec(300.0),
    )
        .prop_map(|(duration, arrival)| Phase { duration, arrival });
    prop::collection::vec(phase, 0..4).prop_map(|phases| WorkloadSpec { phases })
}

fn any_arrival() -> impl Strategy<Value = ArrivalSpec> {
    let d = any::<u64>().prop_map(Duration::from_nanos);
    let f = any::<f64>();
    prop_oneof![
        f.prop_map(|rate| ArrivalSpec::Poisson { rate }),
        f.prop_map(|rate| ArrivalSpec::Constant { rate }),
        (f, f).prop_map(|(from, to)| ArrivalSpec::Ramp { from, to }),
        (f, f, d.clone()).prop_map(|(mean, amplitude, period)| ArrivalSpec::Sine {
            mean,
            amplitude,
            period
        }),
        (f, d.clone(), d.clone()).prop_map(|(rate, on, off)| ArrivalSpec::Onoff { rate, on, off }),
        prop::collection::vec(d, 0..5).prop_map(|at| ArrivalSpec::Trace { at }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn same_seed_same_offsets_in_order_before_the_horizon(
        spec in workload(),
        horizon_ns in 0u64..25_000_000_000,
        seed in any::<u64>(),
    ) {
        let horizon = Duration::from_nanos(horizon_ns);
        let a = run(&spec, horizon, seed);
        prop_assert_eq!(&a, &run(&spec, horizon, seed));
        prop_assert!(a.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(a.iter().all(|&x| x < horizon_ns));
        let total: u64 = spec.phases.iter().map(|p| duration_nanos(p.duration)).sum();
        prop_assert!(a.iter().all(|&x| x <= total));
        prop_assert!(expected_count(&spec, horizon) >= 0.0);
    }

    #[test]
    fn extreme_specs_never_panic_or_step_back(
        arrivals in prop::collection::vec((any::<u64>(), any_arrival()), 1..4),
        horizon_ns in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let spec = WorkloadSpec {
            phases: arrivals
                .into_iter()
                .map(|(d, arrival)| Phase { duration: Duration::from_nanos(d), arrival })
                .collect(),
        };
        let horizon = Duration::from_nanos(horizon_ns);
        let a: Vec<u64> = Arrivals::new(&spec, horizon, rng::stream(seed, "a"))
            .take(2000)
            .map(Time::as_nanos)
            .collect();
        prop_assert!(a.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(a.iter().all(|&x| x < horizon_ns));
        let _ = expected_count(&spec, horizon);
        for t in [0, horizon_ns / 2, horizon_ns] {
            let r = rate_at(&spec, Duration::from_nanos(t));
            prop_assert!(r >= 0.0 && !r.is_nan(), "rate {}", r);
        }
    }
}

/// Throughput check, run by hand in release mode and timed from outside (code in `core` reads
/// no clock): `time cargo test --release -p scalelab-core --lib
/// workload::arrival::tests::throughput_<process> -- --ignored --nocapture`. Each produces
/// 10⁸ offsets.
fn throughput(arrival: ArrivalSpec) {
    let spec = one(secs(100), arrival);
    let mut n = 0u64;
    let mut last = 0;
    for t in Arrivals::new(&spec, secs(100), rng::stream(1, "bench")) {
        n += 1;
        last = t.as_nanos();
    }
    println!("{n} offsets, last at {last} ns");
}

#[test]
#[ignore = "a manual throughput measurement"]
fn throughput_poisson() {
    throughput(ArrivalSpec::Poisson { rate: 1e6 });
}

#[test]
#[ignore = "a manual throughput measurement"]
fn throughput_ramp() {
    throughput(ArrivalSpec::Ramp { from: 0.0, to: 2e6 });
}

#[test]
#[ignore = "a manual throughput measurement"]
fn throughput_sine() {
    throughput(ArrivalSpec::Sine {
        mean: 1e6,
        amplitude: 5e5,
        period: secs(10),
    });
}

#[test]
#[ignore = "a manual throughput measurement"]
fn throughput_constant() {
    throughput(ArrivalSpec::Constant { rate: 1e6 });
}

/// Found by the scenario fuzzer: a sine whose period (1 ns) is far shorter than the gap between
/// arrivals stepped through every segment of every period, a billion periods per simulated
/// second. It now costs work per arrival, and still runs at the mean rate.
#[test]
fn a_period_shorter_than_the_gaps_costs_work_per_arrival_not_per_period() {
    let spec = one(
        secs(600),
        ArrivalSpec::Sine {
            mean: 150.0,
            amplitude: 100.0,
            period: Duration::from_nanos(1),
        },
    );
    let v = run(&spec, secs(600), 3);
    // 90 000 expected; Poisson spread is about 300.
    assert!((88_500..91_500).contains(&v.len()), "{}", v.len());
    assert!(v.windows(2).all(|w| w[0] <= w[1]));
    assert!(expected_count(&spec, secs(600)) > 89_000.0);
}

/// A 1 ns period at a rate high enough to keep the segmented generator: its one segment spans
/// the whole period (a debug assertion used to fire).
#[test]
fn a_one_nanosecond_period_at_a_high_rate_is_generated() {
    let spec = one(
        Duration::from_micros(10),
        ArrivalSpec::Sine {
            mean: 8e8,
            amplitude: 8e8,
            period: Duration::from_nanos(1),
        },
    );
    let v = run(&spec, secs(1), 5);
    assert!((6_000..10_000).contains(&v.len()), "{}", v.len());
}
