//! Tests of the duration samplers: draws against the closed forms, degenerate parameters, and
//! property tests of determinism.

use super::*;
use crate::rng::{self, SimRng};
use crate::workload::spec::MixturePart;
use proptest::prelude::*;

const N: usize = 200_000;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn draws(s: &Sampler, seed: u64, n: usize) -> Vec<u64> {
    let mut r = rng::stream(seed, "test/dist");
    (0..n).map(|_| s.sample_nanos(&mut r)).collect()
}

/// The empirical `q` quantile of sorted `v`, in nanoseconds.
fn empirical(v: &[u64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize] as f64
}

fn mean_of(v: &[u64]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
}

fn second_moment_of(v: &[u64]) -> f64 {
    v.iter().map(|&x| (x as f64 / 1e9).powi(2)).sum::<f64>() / v.len() as f64
}

fn close(actual: f64, expected: f64, rel: f64) {
    assert!(
        (actual - expected).abs() <= rel * expected.abs(),
        "{actual} is not within {}% of {expected}",
        rel * 100.0
    );
}

fn ns(d: Option<Duration>) -> f64 {
    d.expect("a closed form").as_nanos() as f64
}

#[test]
fn inverse_normal_cdf_matches_reference_values() {
    // Reference values from mpmath at 30 digits.
    let cases = [
        (0.5, 0.0),
        (0.99, 2.326_347_874_040_841),
        (0.975, 1.959_963_984_540_054),
        (0.025, -1.959_963_984_540_054),
        (0.3, -0.524_400_512_708_040_8),
        (0.9, 1.281_551_565_544_600_5),
        (1e-10, -6.361_340_902_404_056),
        (0.999_999_9, 5.199_337_582_192_817),
    ];
    for (p, z) in cases {
        let got = inverse_normal_cdf(p);
        assert!(
            (got - z).abs() < 1e-9 * z.abs().max(1.0),
            "Φ⁻¹({p}) = {got}, not {z}"
        );
    }
    assert!((inverse_normal_cdf(0.99) - Z_P99).abs() < 1e-15);
    assert!((inverse_normal_cdf(1e-300) + 37.047_096_299_361_2).abs() < 1e-9);
    assert_eq!(inverse_normal_cdf(0.0), f64::NEG_INFINITY);
    assert_eq!(inverse_normal_cdf(1.0), f64::INFINITY);
    assert!(inverse_normal_cdf(1.5).is_nan() && inverse_normal_cdf(f64::NAN).is_nan());
}

#[test]
fn fixed_is_always_its_value() {
    let s = Sampler::new(&DistSpec::Fixed { value: ms(250) });
    assert!(s.is_constant());
    assert!(draws(&s, 1, 1000).iter().all(|&x| x == 250_000_000));
    assert_eq!(s.mean(), ms(250));
    assert_eq!(s.quantile(0.0), Some(ms(250)));
    assert_eq!(s.quantile(0.99), Some(ms(250)));
    assert_eq!(s.second_moment_secs2(), 0.0625);
}

#[test]
fn exponential_matches_its_closed_form() {
    let s = Sampler::new(&DistSpec::Exponential { mean: ms(40) });
    let mut v = draws(&s, 2, N);
    close(mean_of(&v), 40e6, 0.01);
    close(second_moment_of(&v), s.second_moment_secs2(), 0.03);
    close(s.second_moment_secs2(), 2.0 * 0.04 * 0.04, 1e-12);
    v.sort_unstable();
    for q in [0.1, 0.5, 0.9, 0.99] {
        let expected = ns(s.quantile(q));
        assert!(
            (expected - -40e6 * (1.0 - q).ln()).abs() <= 1.0,
            "rounded to the ns"
        );
        close(empirical(&v, q), expected, 0.03);
    }
    assert_eq!(s.mean(), ms(40));
    assert_eq!(s.quantile(1.0), None);
}

#[test]
fn lognormal_matches_its_median_p99_and_mean() {
    let s = Sampler::new(&DistSpec::Lognormal {
        median: ms(80),
        p99: ms(600),
    });
    assert_eq!(s.quantile(0.5), Some(ms(80)));
    assert_eq!(s.quantile(0.99), Some(ms(600)));
    let mut v = draws(&s, 3, N);
    let sigma = (600f64 / 80.0).ln() / Z_P99;
    let mean = 80e6 * (sigma * sigma / 2.0).exp();
    close(s.mean().as_nanos() as f64, mean, 1e-8);
    close(mean_of(&v), mean, 0.02);
    close(
        s.second_moment_secs2(),
        0.08f64.powi(2) * (2.0 * sigma * sigma).exp(),
        1e-9,
    );
    close(second_moment_of(&v), s.second_moment_secs2(), 0.05);
    v.sort_unstable();
    close(empirical(&v, 0.5), 80e6, 0.02);
    close(empirical(&v, 0.99), 600e6, 0.02);
    close(empirical(&v, 0.9), ns(s.quantile(0.9)), 0.02);
    assert_eq!(s.quantile(0.0), Some(Duration::ZERO));
    assert_eq!(s.quantile(1.0), None);
}

#[test]
fn uniform_stays_in_bounds_and_matches_its_moments() {
    let s = Sampler::new(&DistSpec::Uniform {
        min: ms(10),
        max: ms(30),
    });
    let mut v = draws(&s, 4, N);
    assert!(v.iter().all(|&x| (10_000_000..=30_000_000).contains(&x)));
    close(mean_of(&v), 20e6, 0.01);
    close(second_moment_of(&v), s.second_moment_secs2(), 0.01);
    close(
        s.second_moment_secs2(),
        (0.01f64.powi(2) + 0.01 * 0.03 + 0.03f64.powi(2)) / 3.0,
        1e-12,
    );
    v.sort_unstable();
    assert!(
        v[0] < 10_001_000 && v[N - 1] > 29_999_000,
        "both ends are reached"
    );
    assert_eq!(s.quantile(0.25), Some(ms(15)));
    assert_eq!(s.quantile(1.0), Some(ms(30)));
    close(empirical(&v, 0.25), 15e6, 0.01);
    assert_eq!(s.mean(), ms(20));
}

fn part(weight: f64, dist: DistSpec) -> MixturePart {
    MixturePart { weight, dist }
}

#[test]
fn mixture_picks_parts_by_weight() {
    let spec = DistSpec::Mixture {
        parts: vec![
            part(3.0, DistSpec::Fixed { value: ms(10) }),
            part(1.0, DistSpec::Exponential { mean: ms(1000) }),
        ],
    };
    let s = Sampler::new(&spec);
    assert_eq!(s.quantile(0.5), None);
    let v = draws(&s, 5, N);
    let tens = v.iter().filter(|&&x| x == 10_000_000).count() as f64 / N as f64;
    close(tens, 0.75, 0.01);
    let mean = 0.75 * 10e6 + 0.25 * 1000e6;
    close(s.mean().as_nanos() as f64, mean, 1e-8);
    close(mean_of(&v), mean, 0.02);
    close(
        s.second_moment_secs2(),
        0.75 * 0.01 * 0.01 + 0.25 * 2.0,
        1e-9,
    );
    close(second_moment_of(&v), s.second_moment_secs2(), 0.05);
}

#[test]
fn nested_mixtures_flatten_with_multiplied_weights() {
    let inner = DistSpec::Mixture {
        parts: vec![
            part(1.0, DistSpec::Fixed { value: ms(2) }),
            part(1.0, DistSpec::Fixed { value: ms(3) }),
        ],
    };
    let spec = DistSpec::Mixture {
        parts: vec![
            part(1.0, DistSpec::Fixed { value: ms(1) }),
            part(1.0, inner),
        ],
    };
    let v = draws(&Sampler::new(&spec), 6, N);
    for (value, p) in [(1, 0.5), (2, 0.25), (3, 0.25)] {
        let share = v.iter().filter(|&&x| x == value * 1_000_000).count() as f64 / N as f64;
        close(share, p, 0.02);
    }
    // A mixture of one part is that part, with its closed forms.
    let one = Sampler::new(&DistSpec::Mixture {
        parts: vec![part(2.0, DistSpec::Exponential { mean: ms(5) })],
    });
    assert_eq!(one, Sampler::new(&DistSpec::Exponential { mean: ms(5) }));
}

#[test]
fn degenerate_parameters_do_not_panic() {
    let huge = Duration::from_secs(u64::MAX);
    let specs = [
        DistSpec::Lognormal {
            median: ms(80),
            p99: ms(80),
        },
        DistSpec::Lognormal {
            median: ms(80),
            p99: ms(10),
        },
        DistSpec::Lognormal {
            median: Duration::ZERO,
            p99: ms(10),
        },
        DistSpec::Lognormal {
            median: ms(80),
            p99: ms(80) + Duration::from_nanos(1),
        },
        DistSpec::Lognormal {
            median: Duration::from_nanos(1),
            p99: huge,
        },
        DistSpec::Lognormal {
            median: huge,
            p99: huge,
        },
        DistSpec::Exponential {
            mean: Duration::ZERO,
        },
        DistSpec::Exponential { mean: huge },
        DistSpec::Uniform {
            min: ms(30),
            max: ms(10),
        },
        DistSpec::Uniform {
            min: Duration::ZERO,
            max: huge,
        },
        DistSpec::Fixed { value: huge },
        DistSpec::Mixture { parts: vec![] },
        DistSpec::Mixture {
            parts: vec![
                part(f64::NAN, DistSpec::Fixed { value: ms(1) }),
                part(-1.0, DistSpec::Fixed { value: ms(2) }),
                part(f64::INFINITY, DistSpec::Fixed { value: ms(3) }),
            ],
        },
    ];
    for spec in &specs {
        let s = Sampler::new(spec);
        let v = draws(&s, 7, 2000);
        let _ = (s.mean(), s.second_moment_secs2());
        for q in [-1.0, 0.0, 0.5, 0.99, 1.0, 2.0, f64::NAN] {
            let _ = s.quantile(q);
        }
        assert!(!s.second_moment_secs2().is_nan(), "{spec:?}");
        if let DistSpec::Uniform { .. } = spec {
            assert!(v.iter().all(|&x| x <= duration_nanos(huge)));
        }
    }
    // Degenerate lognormals are the constant median; a reversed uniform is swapped.
    assert!(Sampler::new(&specs[0]).is_constant());
    assert_eq!(draws(&Sampler::new(&specs[1]), 1, 10), vec![80_000_000; 10]);
    let near = draws(&Sampler::new(&specs[3]), 1, 1000);
    assert!(near.iter().all(|&x| x.abs_diff(80_000_000) <= 2));
    let swapped = draws(&Sampler::new(&specs[8]), 1, 1000);
    assert!(
        swapped
            .iter()
            .all(|&x| (10_000_000..=30_000_000).contains(&x))
    );
    assert_eq!(Sampler::new(&specs[11]).mean(), Duration::ZERO);
    assert_eq!(Sampler::new(&specs[12]).mean(), Duration::ZERO);
    assert_eq!(
        Sampler::new(&specs[5]).mean(),
        Duration::from_nanos(u64::MAX)
    );
    assert_eq!(Sampler::new(&specs[0]).quantile(f64::NAN), None);
}

fn leaf_spec() -> impl Strategy<Value = DistSpec> {
    let d = prop_oneof![
        (0u64..10_000_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
    ];
    prop_oneof![
        d.clone().prop_map(|value| DistSpec::Fixed { value }),
        d.clone().prop_map(|mean| DistSpec::Exponential { mean }),
        (d.clone(), d.clone()).prop_map(|(median, p99)| DistSpec::Lognormal { median, p99 }),
        (d.clone(), d.clone()).prop_map(|(min, max)| DistSpec::Uniform { min, max }),
        prop::collection::vec((-0.5f64..1.5, d), 0..6)
            .prop_map(|points| DistSpec::Empirical { points }),
    ]
}

fn dist_spec() -> impl Strategy<Value = DistSpec> {
    leaf_spec().prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec((-1.0f64..10.0, inner), 0..4).prop_map(|parts| DistSpec::Mixture {
            parts: parts
                .into_iter()
                .map(|(weight, dist)| part(weight, dist))
                .collect(),
        })
    })
}

proptest! {
    #[test]
    fn same_seed_same_draws_and_no_panics(spec in dist_spec(), seed in any::<u64>()) {
        let s = Sampler::new(&spec);
        let a = draws(&s, seed, 64);
        prop_assert_eq!(&a, &draws(&s, seed, 64));
        let (mut r1, mut r2): (SimRng, SimRng) = (rng::stream(seed, "x"), rng::stream(seed, "x"));
        prop_assert_eq!(s.sample(&mut r1), Duration::from_nanos(s.sample_nanos(&mut r2)));
        let _ = s.mean();
        // No draw is further ahead than a run's clock can add to `now`.
        prop_assert!(a.iter().all(|&x| x <= crate::duration::MAX_DURATION.as_nanos() as u64));
        prop_assert!(!s.second_moment_secs2().is_nan());
        prop_assert!(s.second_moment_secs2() >= 0.0);
        // Closed-form quantiles never decrease in q.
        let qs: Vec<Option<Duration>> =
            [0.0, 0.1, 0.5, 0.9, 0.99, 1.0].iter().map(|&q| s.quantile(q)).collect();
        let known: Vec<Duration> = qs.iter().flatten().copied().collect();
        prop_assert!(known.windows(2).all(|w| w[0] <= w[1]), "{:?}", qs);
    }
}

/// Throughput check, run by hand in release mode and timed from outside (code in `core` reads
/// no clock): `time cargo test --release -p scalelab-core --lib
/// workload::dist::tests::throughput -- --ignored --nocapture`. Draws 10⁸ lognormal samples.
#[test]
#[ignore = "a manual throughput measurement"]
fn throughput() {
    let s = Sampler::new(&DistSpec::Lognormal {
        median: ms(80),
        p99: ms(600),
    });
    let mut r = rng::stream(1, "bench");
    let mut sum = 0u64;
    for _ in 0..100_000_000 {
        sum = sum.wrapping_add(s.sample_nanos(&mut r));
    }
    println!("10^8 lognormal draws, checksum {sum}");
}

/// A heavy lognormal tail draws at most 100 years (it drew up to u64::MAX nanoseconds, and
/// `now + draw` overflowed the simulator's clock).
#[test]
fn draws_are_capped_at_a_hundred_years() {
    let s = Sampler::new(&DistSpec::Lognormal {
        median: Duration::from_secs(1_000_000_000),
        p99: Duration::from_secs(3_000_000_000),
    });
    let mut r = rng::stream(1, "cap");
    let cap = crate::duration::MAX_DURATION.as_nanos() as u64;
    let draws: Vec<u64> = (0..1000).map(|_| s.sample_nanos(&mut r)).collect();
    assert!(draws.iter().all(|&x| x <= cap));
    assert!(draws.contains(&cap), "the tail reaches the cap");
}

fn empirical_spec(points: &[(f64, u64)]) -> DistSpec {
    DistSpec::Empirical {
        points: points.iter().map(|&(p, v)| (p, ms(v))).collect(),
    }
}

/// The Azure 2019 durations file's percentile points (0, 1, 25, 50, 75, 99, 100).
const AZURE_POINTS: [(f64, u64); 7] = [
    (0.0, 5),
    (0.01, 8),
    (0.25, 40),
    (0.5, 120),
    (0.75, 400),
    (0.99, 2000),
    (1.0, 9000),
];

#[test]
fn empirical_draws_match_their_quantile_points() {
    let s = Sampler::new(&empirical_spec(&AZURE_POINTS));
    let mut v = draws(&s, 11, N);
    v.sort_unstable();
    assert!(
        v[0] >= 5_000_000 && v[N - 1] <= 9_000_000_000,
        "within the ends"
    );
    for &(p, value) in &AZURE_POINTS {
        assert_eq!(s.quantile(p), Some(ms(value)), "closed form at p = {p}");
        if (0.01..=0.99).contains(&p) {
            close(empirical(&v, p), value as f64 * 1e6, 0.02);
        }
    }
    // Between points: linear (p = 0.375 is half way from 40 ms to 120 ms).
    assert_eq!(s.quantile(0.375), Some(ms(80)));
    close(empirical(&v, 0.375), 80e6, 0.02);
    close(empirical(&v, 0.875), ns(s.quantile(0.875)), 0.02);
    // Mean and E[S²]: uniform within each segment.
    let mean: f64 = AZURE_POINTS
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) as f64 / 2.0 * 1e6)
        .sum();
    close(s.mean().as_nanos() as f64, mean, 1e-9);
    close(mean_of(&v), mean, 0.02);
    close(second_moment_of(&v), s.second_moment_secs2(), 0.03);
}

#[test]
fn empirical_with_flat_segments_and_jumps() {
    // A point mass at 10 ms (p 0 to 0.5) and a jump from 10 ms to 100 ms at p = 0.5.
    let s = Sampler::new(&empirical_spec(&[
        (0.0, 10),
        (0.5, 10),
        (0.5, 100),
        (1.0, 200),
    ]));
    let v = draws(&s, 12, N);
    let at_ten = v.iter().filter(|&&x| x == 10_000_000).count() as f64 / N as f64;
    close(at_ten, 0.5, 0.02);
    assert!(
        v.iter()
            .all(|&x| x == 10_000_000 || (100_000_000..=200_000_000).contains(&x)),
        "nothing inside the jump"
    );
    close(s.mean().as_nanos() as f64, 0.5 * 10e6 + 0.5 * 150e6, 1e-9);
    // Inside a mixture, too.
    let m = Sampler::new(&DistSpec::Mixture {
        parts: vec![
            part(1.0, empirical_spec(&[(0.0, 1), (1.0, 3)])),
            part(1.0, DistSpec::Fixed { value: ms(10) }),
        ],
    });
    close(m.mean().as_nanos() as f64, 0.5 * 2e6 + 0.5 * 10e6, 1e-9);
}

#[test]
fn degenerate_empirical_tables_do_not_panic() {
    for pts in [
        vec![],
        vec![(0.5, ms(3))],
        vec![(0.0, ms(3)), (1.0, ms(3))],
        vec![(f64::NAN, ms(1)), (2.0, ms(2)), (-1.0, ms(3))],
    ] {
        let s = Sampler::new(&DistSpec::Empirical {
            points: pts.clone(),
        });
        assert!(s.is_constant(), "{pts:?}");
        let _ = draws(&s, 1, 100);
    }
    // Unsorted, decreasing values, missing ends: sorted, floored, extended flat.
    let s = Sampler::new(&DistSpec::Empirical {
        points: vec![(0.9, ms(50)), (0.2, ms(100)), (0.5, ms(10))],
    });
    assert_eq!(s.quantile(0.0), Some(ms(100)));
    assert_eq!(s.quantile(1.0), Some(ms(100)));
    let s = Sampler::new(&DistSpec::Empirical {
        points: vec![(0.2, ms(10)), (0.8, ms(70))],
    });
    assert_eq!(s.quantile(0.1), Some(ms(10)));
    assert_eq!(s.quantile(0.5), Some(ms(40)));
    assert_eq!(s.quantile(0.9), Some(ms(70)));
    let huge = Sampler::new(&DistSpec::Empirical {
        points: vec![(0.0, Duration::ZERO), (1.0, Duration::from_secs(u64::MAX))],
    });
    assert!(draws(&huge, 1, 1000).iter().all(|&x| x <= MAX_SAMPLE_NS));
}
