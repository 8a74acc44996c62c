//! A fleet on shared nodes (`[[services]]` with `[cluster]`): one node pool for the pods of
//! every service. One service's burst makes another's cold start wait for a node; with enough
//! nodes every service's results are those of the fleet on an unbounded cluster; a fleet of one
//! is the single-service scenario; skipping idle seconds changes nothing.

use std::path::{Path, PathBuf};

use scalelab_core::result::VariantResult;
use scalelab_core::scenario::{Scenario, service_seed};
use scalelab_sim::{SimOptions, run_variant_ticking, simulate};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalelab-fleet-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn load(path: &Path) -> Scenario {
    Scenario::from_file(path).unwrap_or_else(|e| panic!("{e}"))
}

fn run_all(s: &Scenario, seed: u64) -> Vec<VariantResult> {
    simulate(
        s,
        &SimOptions {
            seed,
            threads: 1,
            check: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .variants
}

fn run(s: &Scenario, seed: u64) -> VariantResult {
    run_all(s, seed).into_iter().next().expect("a variant")
}

/// Two keepalive services, one pod per request: `burst` takes two 1-vCPU pods at t = 1 s and
/// 1.5 s for 2 minutes; `late` one at t = 10 s for 1 s. Nodes of 2 vCPU (two pods), no control
/// plane, provisioning 60 s.
const TWO: &str = include_str!("fixtures/fleet-two-keepalive.toml");

fn two(tag: &str, services: &[&str], min_nodes: u32) -> Scenario {
    let mut csv = String::from("t_s,service,duration_s\n");
    for (t, s, d) in [
        (1.0, "burst", 120.0),
        (1.5, "burst", 120.0),
        (10.0, "late", 1.0),
    ] {
        if services.contains(&s) {
            csv.push_str(&format!("{t},{s},{d}\n"));
        }
    }
    write(&format!("{tag}.csv"), &csv);
    let mut src = TWO
        .replace("TRACE", &format!("{tag}.csv"))
        .replace("MIN", &min_nodes.to_string());
    for s in services {
        src.push_str(&format!("[[services]]\nname = \"{s}\"\n"));
    }
    load(&write(&format!("{tag}.toml"), &src))
}

#[test]
fn one_service_s_burst_makes_another_s_cold_start_wait_for_a_node() {
    let v = run(&two("shared", &["burst", "late"], 1), 1);
    let c = v
        .cluster
        .as_ref()
        .expect("the pool's section on the totals");
    assert_eq!(c.nodes_added, 1, "{c:?}");
    assert_eq!(c.pods_pending, 1);
    let (burst, late) = (&v.services[0], &v.services[1]);
    let (pb, pl) = (burst.pods.as_ref().unwrap(), late.pods.as_ref().unwrap());
    assert_eq!((pb.placed, pb.pending), (2, 0));
    assert_eq!((pl.placed, pl.pending), (1, 1));
    // Pending from t = 10 s until the new node is ready at 70 s.
    assert!((pl.pending_wait_max_s - 60.0).abs() < 1e-9, "{pl:?}");
    assert_eq!(pl.pending_wait_mean_s, pl.pending_wait_max_s);
    assert_eq!(c.pending_wait_max_s, pl.pending_wait_max_s);
    // Its one request waited for the node, then the cold start, then its 1 s.
    assert!(
        (late.latency_ms.max - 63_000.0).abs() < 100.0,
        "{:?}",
        late.latency_ms
    );
    assert!(burst.latency_ms.max < 123_000.0 * 1.01);
    // Alone on the same nodes it does not wait: the pool is shared, not per service.
    let alone = run(&two("late-alone", &["late"], 1), 1);
    let pa = alone.services[0].pods.as_ref().unwrap();
    assert_eq!(pa.pending, 0);
    assert!(alone.services[0].latency_ms.max < 3_100.0);
    assert_eq!(alone.cluster.as_ref().unwrap().nodes_added, 0);
    // The shares of the pool's bill add up to it; `burst` requested most.
    let total = v.cost["knative-nodes"].total_usd;
    let sum: f64 = v
        .services
        .iter()
        .map(|s| s.cost["knative-nodes"].total_usd)
        .sum();
    assert!(
        total > 0.0 && (sum - total).abs() < 1e-9 * total.max(1.0),
        "{sum} vs {total}"
    );
    assert!(pb.node_share > 0.9 && (pb.node_share + pl.node_share - 1.0).abs() < 1e-12);
    assert_eq!(
        v.cost["knative-nodes"].extra["simulated_nodes"],
        serde_json::json!(true)
    );
    assert!((v.cost["knative-nodes"].billable_seconds - c.node_seconds).abs() <= 60.0);
    // With two nodes from the start, nobody waits.
    let enough = run(&two("shared-enough", &["burst", "late"], 2), 1);
    assert_eq!(enough.cluster.as_ref().unwrap().pods_pending, 0);
    assert!(enough.services[1].latency_ms.max < 3_100.0);
}

/// Three services of different shapes (KPA steady, keepalive bursts, KPA rare).
const MIXED: &str = include_str!("fixtures/fleet-mixed.toml");

fn mixed(tag: &str, cluster: &str) -> Scenario {
    load(&write(&format!("{tag}.toml"), &format!("{MIXED}{cluster}")))
}

/// A service's result without its `pods` section and node bill (a share of the simulated pool
/// with `[cluster]`, its own estimate without), as JSON.
fn without_pods(v: &VariantResult) -> String {
    let mut v = v.clone();
    v.pods = None;
    v.cost.remove("knative-nodes");
    serde_json::to_string_pretty(&v).expect("json")
}

#[test]
fn with_enough_nodes_each_service_is_as_on_an_unbounded_cluster() {
    let enough = mixed(
        "mixed-enough",
        "[cluster]\nnode_vcpu = 16\nnode_memory_gib = 64\nmin_nodes = 8\n",
    );
    let unbounded = mixed("mixed-unbounded", "");
    for seed in [2, 7] {
        let a = run(&enough, seed);
        let b = run(&unbounded, seed);
        assert!(b.cluster.is_none() && b.services.iter().all(|s| s.pods.is_none()));
        let c = a.cluster.as_ref().unwrap();
        assert_eq!((c.pods_pending, c.nodes_added), (0, 0));
        assert!(c.pods_placed > 3, "{c:?}");
        for (x, y) in a.services.iter().zip(&b.services) {
            assert_eq!(x.pods.as_ref().unwrap().pending, 0);
            assert_eq!(without_pods(x), without_pods(y), "service {}", x.name);
        }
        assert_eq!(a.requests, b.requests);
        assert_eq!(a.latency_ms, b.latency_ms);
    }
}

#[test]
fn skipping_idle_seconds_on_shared_nodes_changes_nothing() {
    let s = mixed(
        "mixed-few",
        "[cluster]\nmin_nodes = 1\nmax_nodes = 3\nnode_provisioning = \"45s\"\n\
         scale_down_unneeded = \"1m\"\nscale_down_delay_after_add = \"30s\"\n",
    );
    for seed in [1, 4] {
        let (skip, log_s, n_skip) =
            run_variant_ticking(&s, "baseline", seed, true, true, None, false).expect("runs");
        let (tick, log_t, n_tick) =
            run_variant_ticking(&s, "baseline", seed, true, true, None, true).expect("runs");
        assert!(n_skip < n_tick, "{n_skip} vs {n_tick}");
        let c = skip.cluster.as_ref().unwrap();
        assert!(c.pods_pending > 0, "the pool is short: {c:?}");
        assert_eq!(
            serde_json::to_string_pretty(&skip).expect("json"),
            serde_json::to_string_pretty(&tick).expect("json"),
            "seed {seed}"
        );
        // The node lines are the pool's; the same log either way.
        let lines = |l: &[u8]| String::from_utf8(l.to_vec()).expect("utf-8");
        let (ls, lt) = (lines(&log_s), lines(&log_t));
        assert_eq!(ls, lt);
        let node_line = ls
            .lines()
            .find(|l| l.contains("\"node_added\""))
            .expect("a node added");
        assert!(!node_line.contains("\"service\""), "{node_line}");
    }
}

#[test]
fn a_fleet_of_one_is_the_single_service_scenario() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cluster.toml");
    let single = load(&path);
    let text = std::fs::read_to_string(&path).expect("read");
    // The same service as the only entry of a fleet: top-level tables are its defaults.
    let fleet = load(&write(
        "fleet-of-one.toml",
        &format!("{text}\n[[services]]\nname = \"only\"\n"),
    ));
    assert!(fleet.is_fleet() && fleet.cluster.is_some());
    for seed in [1, 11] {
        // A fleet's service draws from (seed, name).
        let a = run_all(&fleet, seed);
        let b = run_all(&single, service_seed(seed, "only"));
        assert_eq!(a.len(), b.len());
        for (f, s) in a.iter().zip(&b) {
            let fc = f.cluster.as_ref().expect("cluster");
            assert!(fc.pods_pending > 0 || f.name != "baseline");
            assert_eq!(
                serde_json::to_string(fc).expect("json"),
                serde_json::to_string(s.cluster.as_ref().unwrap()).expect("json"),
                "variant {}",
                f.name
            );
            // The pool's bill (per million requests is computed on the fleet's totals).
            let bill = |v: &VariantResult| {
                let mut c = v.cost["knative-nodes"].clone();
                c.per_million_requests_usd = 0.0;
                serde_json::to_string(&c).expect("json")
            };
            assert_eq!(bill(f), bill(s), "variant {}", f.name);
            let one = &f.services[0];
            assert_eq!(one.requests, s.requests);
            assert_eq!(one.latency_ms, s.latency_ms);
            assert_eq!(one.cold_starts, s.cold_starts);
            assert_eq!(one.instances, s.instances);
            let p = one.pods.as_ref().unwrap();
            assert_eq!(p.node_share, 1.0);
            assert_eq!(p.pending, fc.pods_pending);
        }
    }
}
