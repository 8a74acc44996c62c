//! Simulator throughput: simulated requests per second of CPU, single core, on the steady
//! 100-instance scenario (cc = 80, Poisson) and on the bundled spiky scenario.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scalelab_core::scenario::Scenario;
use scalelab_sim::{SimOptions, simulate};

fn load(path: &str, duration: Option<&str>) -> Scenario {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut s = Scenario::from_file(&root.join(path)).expect("scenario");
    if let Some(d) = duration {
        s.duration = scalelab_core::duration::parse_duration(d).expect("duration");
    }
    s.variants.clear();
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    for (name, path, dur) in [
        (
            "steady-100x80",
            "benches/scenarios/steady-100.toml",
            Some("10s"),
        ),
        ("spiky-api", "scenarios/spiky-api.toml", None),
    ] {
        let s = load(path, dur);
        let opts = SimOptions {
            seed: 1,
            threads: 1,
            ..Default::default()
        };
        let n = simulate(&s, &opts).expect("runs").variants[0]
            .requests
            .arrived;
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| b.iter(|| simulate(&s, &opts).expect("runs")));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
