//! A synthetic two-variant run (scale-to-zero vs min-1) with a burst, built without randomness
//! so every rendering of it is stable.

use std::collections::BTreeMap;

use scalelab_core::result::{
    AutoscalerStats, CdfPoint, ColdStarts, Cost, Instances, Latency, Mode, Requests, RunResult,
    SCHEMA_VERSION, Series, SeriesRow, SloCheck, SloResult, VariantResult,
};

/// Arrivals per second at `t`: quiet, idle (nothing), then a burst, then a tail.
fn rate(t: u32) -> u64 {
    match t {
        0..=119 => 4 + u64::from(t.is_multiple_of(7)),
        120..=239 => 0,
        240..=299 => 60 + u64::from(t % 5) * 10,
        _ => 6,
    }
}

fn series(min_scale: u64) -> Series {
    let mut rows = Vec::new();
    let mut ready = 1u64.max(min_scale);
    for t in 0..420u32 {
        let arrivals = rate(t);
        let desired = if (240..300).contains(&t) {
            8
        } else if arrivals == 0 && t >= 150 {
            min_scale
        } else {
            1.max(min_scale)
        };
        let starting = u64::from((240..244).contains(&t)) * (desired - ready.min(desired))
            + u64::from(t == 240 && min_scale == 0);
        if t == 150 && min_scale == 0 {
            ready = 0;
        }
        if t == 244 || (t == 240 && min_scale > 0) {
            ready = 8;
        }
        if t == 360 {
            ready = 1.max(min_scale);
        }
        rows.push(SeriesRow {
            t_s: f64::from(t),
            arrivals,
            completions: arrivals,
            errors: u64::from(min_scale == 0 && t == 241),
            in_flight: arrivals / 4,
            queued: u64::from((240..244).contains(&t)) * 20,
            ready,
            starting,
            desired,
            panic: (240..262).contains(&t),
            cold_starts: if t == 240 {
                7 + u64::from(min_scale == 0)
            } else {
                0
            },
            p99_ms: if (240..244).contains(&t) {
                1900.0
            } else {
                140.0
            },
        });
    }
    Series {
        bucket_s: 1.0,
        rows,
        coarsened: None,
    }
}

fn cost(total: f64, arrived: u64, idle: f64) -> Cost {
    Cost {
        total_usd: total,
        per_million_requests_usd: total / arrived as f64 * 1e6,
        cpu_usd: total * 0.7,
        memory_usd: total * 0.2,
        requests_usd: total * 0.1,
        idle_usd: idle,
        billable_seconds: total * 10_000.0,
        extra: BTreeMap::new(),
    }
}

fn variant(name: &str, min_scale: u64) -> VariantResult {
    let cold = min_scale == 0;
    let arrived: u64 = (0..420).map(rate).sum();
    let errors = u64::from(cold);
    let latency = if cold {
        Latency {
            count: arrived - errors,
            mean: 162.5,
            p50: 81.2,
            p90: 240.7,
            p99: 1840.3,
            p999: 2675.0,
            max: 3120.9,
        }
    } else {
        Latency {
            count: arrived,
            mean: 118.1,
            p50: 80.4,
            p90: 231.9,
            p99: 1410.8,
            p999: 2210.4,
            max: 2480.2,
        }
    };
    let delayed = if cold { 96 } else { 71 };
    let mut costs = BTreeMap::new();
    let (req, inst) = if cold {
        (0.0123, 0.0271)
    } else {
        (0.0131, 0.0409)
    };
    costs.insert("cloud-run-request".into(), cost(req, arrived, 0.0));
    costs.insert(
        "cloud-run-instance".into(),
        cost(inst, arrived, if cold { 0.0 } else { 0.011 }),
    );
    let p99_limit = 1500.0;
    let checks = vec![
        SloCheck {
            name: "p99".into(),
            threshold: p99_limit,
            actual: latency.p99,
            unit: "ms".into(),
            passed: latency.p99 <= p99_limit,
            default_threshold: false,
            note: None,
        },
        SloCheck {
            name: "error_ratio".into(),
            threshold: 0.0001,
            actual: errors as f64 / arrived as f64,
            unit: "ratio".into(),
            passed: errors as f64 / arrived as f64 <= 0.0001,
            default_threshold: false,
            note: None,
        },
    ];
    let cdf = (!cold).then(|| {
        [
            (20.0, 0.0),
            (40.0, 0.1),
            (80.4, 0.5),
            (120.0, 0.75),
            (231.9, 0.9),
            (600.0, 0.97),
            (1410.8, 0.99),
            (2210.4, 0.999),
            (2480.2, 1.0),
        ]
        .iter()
        .map(|&(ms, fraction)| CdfPoint { ms, fraction })
        .collect()
    });
    VariantResult {
        name: name.into(),
        requests: Requests {
            arrived,
            completed: arrived - errors,
            rejected: 0,
            timed_out: errors,
            in_flight_at_end: 0,
        },
        latency_ms: latency,
        latency_ms_cold: Some(Latency {
            count: delayed,
            mean: 1620.0,
            p50: 1450.2,
            p90: 2210.0,
            p99: 2890.5,
            p999: 3100.0,
            max: if cold { 3120.9 } else { 2480.2 },
        }),
        latency_ms_warm: Some(Latency {
            count: arrived - delayed - errors,
            mean: 101.3,
            p50: 79.9,
            p90: 210.4,
            p99: 580.2,
            p999: 901.0,
            max: 1204.7,
        }),
        latency_cdf: cdf,
        cold_starts: ColdStarts {
            count: if cold { 9 } else { 7 },
            requests_delayed: delayed,
            ratio: delayed as f64 / arrived as f64,
        },
        instances: Instances {
            peak: 8,
            mean: if cold { 1.72 } else { 2.31 },
            instance_seconds: if cold { 722.5 } else { 970.0 },
            idle_instance_seconds: if cold { 301.2 } else { 548.7 },
            time_at_zero_s: if cold { 90.0 } else { 0.0 },
            scale_to_zero_events: u64::from(cold),
        },
        autoscaler: AutoscalerStats {
            ticks: 210,
            panic_episodes: 1,
            panic_seconds: 22.0,
        },
        cost: costs,
        slo: SloResult {
            passed: checks.iter().all(|c| c.passed),
            checks,
        },
        timeseries: None,
        series: Some(series(min_scale)),
        ..VariantResult::default()
    }
}

/// The synthetic run: `baseline` (scale to zero) and `min-1`.
pub fn two_variants() -> RunResult {
    RunResult {
        schema: SCHEMA_VERSION,
        scenario: "burst-after-idle".into(),
        seed: 42,
        mode: Mode::Sim,
        variants: vec![variant("baseline", 0), variant("min-1", 1)],
        scalelab_version: "0.1.0".into(),
        scenario_path: Some("scenarios/burst-after-idle.toml".into()),
        command: Some("scalelab sim scenarios/burst-after-idle.toml --seed 42".into()),
        duration_s: 420.0,
        time_scale: None,
        resolved_scenario: Some(serde_json::json!({
            "name": "burst-after-idle",
            "duration": "7m",
            "autoscaler": { "kind": "kpa", "target": 10, "min_scale": 0 },
            "note": "<script>alert('escaped')</script>"
        })),
    }
}
