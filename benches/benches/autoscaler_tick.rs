//! Measures one KPA decider tick (the 2 s decision over full 60 s / 6 s windows) and the
//! per-request and per-scrape metric calls a simulator makes.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use scalelab_core::Time;
use scalelab_core::autoscaler::decider::{Decider, DeciderSpec};
use scalelab_core::autoscaler::metrics::{ConcurrencyMeter, Stat};
use scalelab_core::autoscaler::{Aggregation, KpaSettings};

fn full_decider(aggregation: Aggregation) -> (Decider, Time) {
    let settings = KpaSettings {
        aggregation,
        ..KpaSettings::default()
    };
    let mut d = Decider::new(Time::ZERO, DeciderSpec::new(&settings, 10), 5);
    for s in 0..120u64 {
        let stat = Stat {
            avg_concurrency: 20.0 + (s % 7) as f64,
            ..Stat::default()
        };
        d.record(Time::from_secs(s), &stat);
    }
    (d, Time::from_secs(120))
}

fn bench_tick(c: &mut Criterion) {
    for (name, agg) in [
        ("linear", Aggregation::Linear),
        ("weighted", Aggregation::WeightedExponential),
    ] {
        let (mut d, now) = full_decider(agg);
        c.bench_function(&format!("decider_tick/{name}"), |b| {
            b.iter(|| black_box(d.tick(black_box(now), black_box(5), true)))
        });
    }
    // A tick that also records the second's stat first (scrape + tick), moving time forward
    // so the ring is walked as in a run.
    let (mut d, mut now) = full_decider(Aggregation::Linear);
    c.bench_function("decider_record_and_tick", |b| {
        b.iter(|| {
            now += Duration::from_secs(1);
            d.record(
                now,
                &Stat {
                    avg_concurrency: 21.0,
                    ..Stat::default()
                },
            );
            black_box(d.tick(now, 5, true))
        })
    });
}

fn bench_meter(c: &mut Criterion) {
    let mut m = ConcurrencyMeter::new(Time::ZERO);
    let mut t = 0u64;
    c.bench_function("meter_arrival_departure", |b| {
        b.iter(|| {
            t += 1_000;
            m.on_arrival(Time::from_nanos(t), false);
            m.on_departure(Time::from_nanos(t + 500), false);
        })
    });
}

criterion_group!(benches, bench_tick, bench_meter);
criterion_main!(benches);
