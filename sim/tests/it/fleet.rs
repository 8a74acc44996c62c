//! Fleets (`[[services]]`) and their trace (`[trace]`): each service's results equal a fleet of
//! that service alone with the same seed; trace counts become exactly that many arrivals per
//! interval; idle seconds skipped per service give the results of ticking through them.

use std::path::PathBuf;

use crate::support::run;
use proptest::prelude::*;
use scalelab_core::result::VariantResult;
use scalelab_core::scenario::Scenario;
use scalelab_sim::run_variant_ticking;

const HEAD: &str = include_str!("fixtures/fleet-head.toml");

/// The services, each a block of its own.
const SERVICES: [(&str, &str); 4] = [
    (
        "api",
        r#"
[[services]]
name = "api"
labels = { team = "a" }
[services.autoscaler]
target = 10
[[services.workload.phases]]
duration = "6m"
arrival = { process = "poisson", rate = 30 }
[services.slo]
p99 = "3s"
"#,
    ),
    (
        "lambda",
        r#"
[[services]]
name = "lambda"
[services.service]
container_concurrency = 1
service_time = { dist = "exponential", mean = "700ms" }
[services.autoscaler]
kind = "keepalive"
idle_timeout = "45s"
[[services.workload.phases]]
duration = "6m"
arrival = { process = "onoff", rate = 2, on = "30s", off = "90s" }
"#,
    ),
    ("hook", "\n[[services]]\nname = \"hook\"\n"),
    (
        "rare",
        "\n[[services]]\nname = \"rare\"\n[services.service]\nservice_time = { dist = \"fixed\", value = \"2s\" }\n",
    ),
];

/// Per-minute counts of the trace-fed services (`hook`, `rare`).
const ROWS: [(u32, &str, u64); 9] = [
    (0, "hook", 50),
    (60, "hook", 0),
    (60, "rare", 2),
    (120, "hook", 200),
    (180, "hook", 17),
    (240, "hook", 90),
    (240, "rare", 1),
    (300, "hook", 3),
    (300, "rare", 0),
];

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalelab-fleet-it-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A fleet of the services named in `names`, with the trace rows of those services, written
/// under `tag`.
fn fleet(names: &[&str], tag: &str, extra: &str) -> Scenario {
    let d = dir();
    let trace = d.join(format!("{tag}.trace.csv"));
    let mut csv = String::from("# test trace\nt_s,service,count\n");
    for (t, s, n) in ROWS {
        if names.contains(&s) {
            csv.push_str(&format!("{t},{s},{n}\n"));
        }
    }
    std::fs::write(&trace, csv).expect("write trace");
    let mut src = HEAD.replace("TRACE", &format!("{tag}.trace.csv"));
    src.push_str(extra);
    for (n, block) in SERVICES {
        if names.contains(&n) {
            src.push_str(block);
        }
    }
    let path = d.join(format!("{tag}.toml"));
    std::fs::write(&path, &src).expect("write scenario");
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_service_equals_a_fleet_of_it_alone() {
    let all: Vec<&str> = SERVICES.iter().map(|(n, _)| *n).collect();
    for seed in [1, 9] {
        let whole = run(&fleet(&all, "all", ""), seed);
        assert_eq!(whole.services.len(), all.len());
        for (i, name) in all.iter().enumerate() {
            let alone = run(&fleet(&[name], &format!("alone-{name}"), ""), seed);
            assert_eq!(alone.services.len(), 1);
            let a = serde_json::to_string(&alone.services[0]).expect("json");
            let w = serde_json::to_string(&whole.services[i]).expect("json");
            assert_eq!(a, w, "service {name}, seed {seed}");
            assert!(whole.services[i].requests.arrived > 0, "{name} has traffic");
        }
        // The totals are the services' sums; latency comes from the merged histograms.
        let sum = |f: &dyn Fn(&VariantResult) -> u64| whole.services.iter().map(f).sum::<u64>();
        assert_eq!(whole.requests.arrived, sum(&|v| v.requests.arrived));
        assert_eq!(whole.requests.completed, sum(&|v| v.requests.completed));
        assert_eq!(whole.cold_starts.count, sum(&|v| v.cold_starts.count));
        assert_eq!(whole.latency_ms.count, sum(&|v| v.latency_ms.count));
        let max = whole
            .services
            .iter()
            .map(|v| v.latency_ms.max)
            .fold(0.0, f64::max);
        assert_eq!(whole.latency_ms.max, max);
        let inst: f64 = whole
            .services
            .iter()
            .map(|v| v.instances.instance_seconds)
            .sum();
        assert!((whole.instances.instance_seconds - inst).abs() < 1e-6);
        let cost: f64 = whole
            .services
            .iter()
            .map(|v| v.cost["lambda"].total_usd)
            .sum();
        assert!((whole.cost["lambda"].total_usd - cost).abs() < 1e-9);
        let series = whole
            .series
            .as_ref()
            .expect("a fleet has its summed series");
        let arrivals: u64 = series.rows.iter().map(|r| r.arrivals).sum();
        assert_eq!(arrivals, whole.requests.arrived);
        assert_eq!(whole.services[0].labels["team"], "a");
        assert!(whole.services.iter().all(|s| s.series.is_none()));
    }
}

#[test]
fn trace_counts_become_exactly_that_many_arrivals_per_minute() {
    for (name, spread) in [("hook", "uniform"), ("hook", "even"), ("rare", "uniform")] {
        let extra = format!("spread = \"{spread}\"\n[sim]\ntimeseries_bucket = \"60s\"\n");
        let s = fleet(&[name], &format!("counts-{name}-{spread}"), &extra);
        let v = run(&s, 3);
        let rows = &v.series.as_ref().expect("series").rows;
        for m in 0..6u32 {
            let want: u64 = ROWS
                .iter()
                .filter(|(t, s, _)| *s == name && *t == m * 60)
                .map(|r| r.2)
                .sum();
            let got = rows.get(m as usize).map_or(0, |r| r.arrivals);
            assert_eq!(got, want, "{name} {spread} minute {m}");
        }
    }
}

#[test]
fn recorded_durations_are_the_requests_service_times() {
    let d = dir();
    std::fs::write(
        d.join("inv.trace.csv"),
        "t_s,service,duration_s\n1,a,2.5\n30,a,0.25\n30.5,a,\n",
    )
    .expect("write");
    let src = r#"
duration = "1m"
[service]
warm_at_start = true
service_time = { dist = "fixed", value = "10ms" }
[autoscaler]
min_scale = 1
[trace]
file = "inv.trace.csv"
[[services]]
name = "a"
"#;
    let path = d.join("inv.toml");
    std::fs::write(&path, src).expect("write");
    let s = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let v = run(&s, 1);
    assert_eq!(v.requests.arrived, 3);
    assert_eq!(v.cold_starts.requests_delayed, 0);
    // 2.5 s, 0.25 s and the sampled 10 ms (histogram precision: 0.1 %).
    assert!(
        (v.latency_ms.max - 2500.0).abs() < 3.0,
        "{:?}",
        v.latency_ms
    );
    assert!(
        v.latency_ms.p50 > 240.0 && v.latency_ms.p50 < 260.0,
        "{:?}",
        v.latency_ms
    );
}

#[test]
fn skipping_idle_seconds_per_service_changes_nothing() {
    let all: Vec<&str> = SERVICES.iter().map(|(n, _)| *n).collect();
    let s = fleet(&all, "ticks", "");
    let (skip, _, n_skip) =
        run_variant_ticking(&s, "baseline", 5, true, false, None, false).expect("runs");
    let (tick, _, n_tick) =
        run_variant_ticking(&s, "baseline", 5, true, false, None, true).expect("runs");
    assert!(
        n_skip < n_tick,
        "{n_skip} events skipping, {n_tick} ticking"
    );
    for (a, b) in skip.services.iter().zip(&tick.services) {
        assert_eq!(
            serde_json::to_string_pretty(a).expect("json"),
            serde_json::to_string_pretty(b).expect("json"),
            "service {}",
            a.name
        );
    }
    assert_eq!(
        serde_json::to_string_pretty(&skip).expect("json"),
        serde_json::to_string_pretty(&tick).expect("json")
    );
}

#[test]
fn the_bundled_fleet_runs_and_names_its_services() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fleet.toml");
    let s = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.services.len() >= 3);
    let v = run(&s, 1);
    let names: Vec<&str> = v.services.iter().map(|x| x.name.as_str()).collect();
    let want: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, want);
    let trace = s.trace.as_ref().expect("a trace");
    for (i, svc) in v.services.iter().enumerate() {
        if s.services[i].workload.phases.is_empty() {
            assert_eq!(svc.requests.arrived, trace.requests[i], "{}", svc.name);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    /// Whatever subset of services runs, each one's results are its results in the whole
    /// fleet.
    #[test]
    fn any_subset_gives_each_service_the_same_results(mask in 1u8..16, seed in 0u64..1000) {
        let all: Vec<&str> = SERVICES.iter().map(|(n, _)| *n).collect();
        let some: Vec<&str> = all.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n).collect();
        let whole = run(&fleet(&all, &format!("p-all-{mask}-{seed}"), ""), seed);
        let part = run(&fleet(&some, &format!("p-some-{mask}-{seed}"), ""), seed);
        for (j, name) in some.iter().enumerate() {
            let i = all.iter().position(|n| n == name).expect("listed");
            prop_assert_eq!(
                serde_json::to_string(&part.services[j]).expect("json"),
                serde_json::to_string(&whole.services[i]).expect("json")
            );
        }
    }
}
