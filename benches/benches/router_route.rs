//! One routing decision (route, then the matching completion) with 10, 100 and 1000 ready
//! instances, for Knative's policies by container concurrency and the alternatives.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scalelab_core::Time;
use scalelab_core::router::{InstId, ReqId, RevisionRouter, Route, RouterPolicy};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("router");
    for n in [10u32, 100, 1000] {
        for (name, policy, cc) in [
            ("knative-p2c-cc0", RouterPolicy::Knative, 0),
            ("knative-first-cc2", RouterPolicy::Knative, 2),
            ("knative-rr-cc80", RouterPolicy::Knative, 80),
            ("least-loaded-cc80", RouterPolicy::LeastLoaded, 80),
            ("newest-idle-cc1", RouterPolicy::NewestIdle, 1),
        ] {
            let mut rng = scalelab_core::rng::stream(1, "bench");
            let mut r = RevisionRouter::new(policy, cc, 10_000);
            let mut live = |_: ReqId| true;
            for i in 0..n {
                r.add_ready(Time::ZERO, InstId(i), &mut rng, &mut live);
            }
            // Half the instances busy, so first-available and newest-idle have to look.
            let mut held = Vec::new();
            for q in 0..n / 2 * cc.max(1) {
                if let Route::Start(i) = r.route(Time::ZERO, ReqId::new(q, 0), &mut rng) {
                    held.push(i);
                }
            }
            let mut t = 1u64;
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    t += 1;
                    let now = Time(t);
                    if let Route::Start(i) = r.route(now, ReqId::new(t as u32, 0), &mut rng) {
                        r.complete(now, i, &mut live);
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
