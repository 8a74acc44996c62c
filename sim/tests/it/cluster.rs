//! `[cluster]`: pods wait for nodes. With too few nodes, cold starts include the node's
//! provisioning; with enough, none does, and the results are those of an unbounded cluster.

use std::collections::HashMap;

use scalelab_core::result::VariantResult;
use scalelab_sim::{SimOptions, simulate_with};

use crate::support::*;
use scalelab_core::testing::fill;

/// Four requests one second apart, each holding its own instance (concurrency 1) for 30 s;
/// 1-vCPU pods, two to a 2-vCPU node; cold start 2 s; nodes provision in 60 s.
fn four_pods(cluster: &str) -> String {
    fill(
        include_str!("fixtures/cluster-four-pods.toml"),
        &[("cluster", &cluster)],
    )
}

/// The `[cluster]` table with `min_nodes` nodes at the start.
fn nodes(min_nodes: u32) -> String {
    fill(
        include_str!("fixtures/cluster-few-nodes.toml"),
        &[("min_nodes", &min_nodes)],
    )
}

/// Per instance: (created, pending wait, ready), seconds, from the event log.
fn startups(log: &[u8]) -> HashMap<u64, (f64, Option<f64>, f64)> {
    let mut out: HashMap<u64, (f64, Option<f64>, f64)> = HashMap::new();
    for line in std::str::from_utf8(log).expect("utf-8").lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("json line");
        let t = e["t_s"].as_f64().unwrap();
        let d = &e["data"];
        let inst = || d["instance"].as_u64().unwrap();
        match e["type"].as_str().unwrap() {
            "cold_start_began" => {
                out.insert(inst(), (t, None, f64::NAN));
            }
            "pod_placed" => out.get_mut(&inst()).unwrap().1 = d["waited_s"].as_f64(),
            "instance_ready" => out.get_mut(&inst()).unwrap().2 = t,
            _ => {}
        }
    }
    out
}

fn run_logged(toml: &str) -> (VariantResult, Vec<u8>) {
    let s = scenario(toml);
    let (r, x) = simulate_with(
        &s,
        &SimOptions {
            seed: 3,
            threads: 1,
            check: true,
            events: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (r.variants.into_iter().next().unwrap(), x.events)
}

#[test]
fn with_too_few_nodes_cold_starts_include_node_provisioning() {
    let (v, log) = run_logged(&four_pods(&nodes(1)));
    let c = v.cluster.as_ref().expect("a cluster section");
    assert_eq!(v.cold_starts.count, 4);
    // Two pods fit the first node; the other two wait for one new node.
    assert_eq!(c.pods_pending, 2);
    assert_eq!(c.nodes_added, 1);
    assert_eq!(c.nodes_max, 2);
    let s = startups(&log);
    assert_eq!(s.len(), 4);
    let mut waited = 0;
    for (inst, &(created, wait, ready)) in &s {
        match wait {
            None => assert_eq!(ready - created, 2.0, "instance {inst} placed at once"),
            Some(w) => {
                waited += 1;
                // The node was asked for when the first of them went Pending.
                assert!((59.0..=60.0).contains(&w), "instance {inst} waited {w} s");
                // Its start-up is the wait plus its own cold start.
                assert!(
                    (ready - created - (w + 2.0)).abs() < 1e-6,
                    "instance {inst}: {created} → {ready}, waited {w}"
                );
            }
        }
    }
    assert_eq!(waited, 2);
    assert!((c.pending_wait_max_s - 60.0).abs() < 1e-9);
    // The requests that started those pods waited for them: the wait is in their latency.
    let cold = v.latency_ms_cold.expect("cold latencies");
    assert!(cold.max >= 91_000.0, "{}", cold.max);
    // knative-nodes bills the simulated nodes: both up to the end of the run.
    let k = &v.cost["knative-nodes"];
    assert_eq!(k.extra["simulated_nodes"], serde_json::json!(true));
    assert_eq!(k.extra["peak_nodes"], serde_json::json!(2));
    assert!(
        (k.billable_seconds - c.node_seconds).abs() <= 2.0,
        "{} vs {}",
        k.billable_seconds,
        c.node_seconds
    );
}

#[test]
fn with_enough_nodes_no_cold_start_waits_and_results_are_the_unbounded_ones() {
    let (v, log) = run_logged(&four_pods(&nodes(2)));
    let c = v.cluster.as_ref().expect("a cluster section");
    assert_eq!(c.pods_pending, 0);
    assert_eq!(c.nodes_added, 0);
    for (inst, &(created, wait, ready)) in &startups(&log) {
        assert_eq!(wait, None);
        assert_eq!(ready - created, 2.0, "instance {inst}");
    }
    // The same run without [cluster]: the same requests, latencies and instances.
    let (u, _) = run_logged(&four_pods(""));
    assert!(u.cluster.is_none());
    assert!(
        !u.cost["knative-nodes"]
            .extra
            .contains_key("simulated_nodes")
    );
    assert_eq!(v.requests, u.requests);
    assert_eq!(v.latency_ms, u.latency_ms);
    assert_eq!(v.cold_starts, u.cold_starts);
    assert_eq!(v.instances, u.instances);
}

#[test]
fn the_bundled_scenario_shows_provisioning_in_its_cold_starts() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/cluster.toml");
    let s = scalelab_core::scenario::Scenario::from_file(path.as_ref()).unwrap();
    let r = scalelab_sim::simulate(
        &s,
        &SimOptions {
            seed: 1,
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let by = |n: &str| r.variants.iter().find(|v| v.name == n).unwrap();
    let (few, enough) = (by("baseline"), by("enough-nodes"));
    let (cf, ce) = (
        few.cluster.as_ref().unwrap(),
        enough.cluster.as_ref().unwrap(),
    );
    assert!(
        cf.pods_pending > 0 && cf.pending_wait_mean_s >= 60.0,
        "{cf:?}"
    );
    assert_eq!(ce.pods_pending, 0);
    // The wait shows in the requests delayed by cold starts.
    assert!(
        few.latency_ms_cold.unwrap().p99 > enough.latency_ms_cold.unwrap().p99 + 50_000.0,
        "{:?} vs {:?}",
        few.latency_ms_cold,
        enough.latency_ms_cold
    );
    // Nodes came and went in the baseline; the enough-nodes cluster paid for idle nodes.
    assert!(cf.nodes_removed > 0);
    assert!(ce.node_seconds > cf.node_seconds);
}
