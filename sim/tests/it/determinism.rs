//! Same scenario and seed: byte-identical JSON; another seed: different.

use scalelab_sim::{SimOptions, simulate};

use crate::support::*;

const S: &str = r#"
    duration = "3m"
    [service]
    container_concurrency = 10
    service_time = { dist = "lognormal", median = "100ms", p99 = "800ms" }
    cold_start = { dist = "lognormal", median = "1s", p99 = "4s" }
    [[workload.phases]]
    duration = "1m"
    arrival = { process = "poisson", rate = 50 }
    [[workload.phases]]
    duration = "1m"
    arrival = { process = "ramp", from = 50, to = 300 }
    [[workload.phases]]
    duration = "1m"
    arrival = { process = "onoff", rate = 200, on = "5s", off = "10s" }
    [[variants]]
    name = "min-2"
    set = { "autoscaler.min_scale" = 2 }
"#;

fn json(seed: u64, threads: usize) -> String {
    let s = scenario(S);
    let r = simulate(
        &s,
        &SimOptions {
            seed,
            threads,
            ..Default::default()
        },
    )
    .unwrap();
    serde_json::to_string(&r).unwrap()
}

#[test]
fn same_seed_same_bytes_and_thread_count_does_not_matter() {
    let a = json(42, 1);
    assert_eq!(a, json(42, 1));
    assert_eq!(a, json(42, 2));
}

#[test]
fn another_seed_differs() {
    assert_ne!(json(42, 1), json(43, 1));
}
