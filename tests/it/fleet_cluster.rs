//! Fleets on shared nodes end to end: `sim` with variants over cluster-wide keys, `tune` over
//! `cluster.*` and fleet-wide `autoscaler.*` keys, reports and `validate` showing the pool,
//! and a service whose pod fits no node refused with exit 2.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{assert_completed, root, scalelab, stderr, stdout};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "scalelab-fleet-cluster-cli-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Two services on 2-vCPU nodes: `burst` scales up at once and fills them, `steady` runs all
/// along; nodes take 60 s to provision.
const FLEET: &str = include_str!("fixtures/fleet-cluster.toml");

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)))
}

#[test]
fn variants_over_cluster_keys_change_the_shared_pool() {
    let d = scratch("variants");
    let f = d.join("fleet.toml");
    std::fs::write(
        &f,
        format!(
            "{FLEET}[[variants]]\nname = \"warm\"\nset = {{ \"cluster.min_nodes\" = 6 }}\n\
             [[variants]]\nname = \"fleet-target\"\nset = {{ \"autoscaler.target\" = 8 }}\n"
        ),
    )
    .unwrap();
    let o = scalelab(&["sim", &s(&f), "--seed", "2", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    let vs = doc["variants"].as_array().expect("variants");
    let by = |n: &str| vs.iter().find(|v| v["name"] == n).expect("variant");
    let (base, warm, target) = (by("baseline"), by("warm"), by("fleet-target"));
    let pending = |v: &Value| v["cluster"]["pods_pending"].as_u64().expect("pods_pending");
    assert!(pending(base) > 0, "{}", base["cluster"]);
    assert_eq!(pending(warm), 0);
    assert!(warm["cluster"]["node_seconds"].as_f64() > base["cluster"]["node_seconds"].as_f64());
    // A fleet-wide autoscaler key changes every service's pods.
    assert!(pending(target) < pending(base));
    for v in vs {
        let services = v["services"].as_array().expect("services");
        assert_eq!(services.len(), 2);
        let sum: u64 = services
            .iter()
            .map(|x| x["pods"]["pending"].as_u64().expect("pods.pending"))
            .sum();
        assert_eq!(sum, pending(v), "{}", v["name"]);
        let total = v["cost"]["knative-nodes"]["total_usd"].as_f64().unwrap();
        let shares: f64 = services
            .iter()
            .map(|x| x["cost"]["knative-nodes"]["total_usd"].as_f64().unwrap())
            .sum();
        assert!((total - shares).abs() < 1e-9, "{total} vs {shares}");
    }
    // The text report has the nodes section and the services' pods.
    let o = scalelab(&["sim", &s(&f), "--seed", "2"]);
    let t = stdout(&o);
    assert!(
        t.contains("nodes") && t.contains("pending wait mean (s)"),
        "{t}"
    );
    assert!(t.contains("pods pending"), "{t}");
    // Markdown and HTML reports from the written result too.
    let out = d.join("out");
    let o = scalelab(&["sim", &s(&f), "--seed", "2", "--out", &s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = scalelab(&["report", &s(&out), "--format", "md"]);
    let md = stdout(&o);
    assert!(
        md.contains("node-seconds") && md.contains("pods pending"),
        "{md}"
    );
    let o = scalelab(&["report", &s(&out), "--format", "html"]);
    let html = stdout(&o);
    assert!(html.contains("node-seconds") && html.contains("pods pending"));
    // validate shows the pool.
    let o = scalelab(&["validate", &s(&f)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = stdout(&o);
    assert!(
        v.contains("fleet: 2 services") && v.contains("cluster: nodes of 2 vCPU"),
        "{v}"
    );
}

#[test]
fn tune_searches_cluster_wide_keys_of_a_fleet() {
    let d = scratch("tune");
    let f = d.join("fleet.toml");
    std::fs::write(
        &f,
        format!(
            "{FLEET}[slo]\np99 = \"10s\"\n[tune]\nmodel = \"knative-nodes\"\nseeds = 1\n\
             [tune.params]\n\"cluster.min_nodes\" = [1, 3, 6]\n\
             \"cluster.node_provisioning\" = [\"20s\", \"60s\"]\n\"autoscaler.target\" = [2, 4]\n"
        ),
    )
    .unwrap();
    let out = d.join("out");
    let tune = |out: &str| {
        let args = [
            "tune",
            &s(&f),
            "--seed",
            "4",
            "--format",
            "json",
            "--threads",
            "2",
        ];
        let o = scalelab(&[&args[..], &["--out", out]].concat());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        o
    };
    let o = tune(&s(&out));
    // Reproducible from (scenario, seed), whatever the threads do.
    let again = tune(&s(&d.join("again")));
    assert_eq!(stdout(&o), stdout(&again), "same seed, same rows");
    let doc = json(&o);
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 12);
    // Every combination ran, and the cluster keys reached the shared pool: a candidate with 6
    // nodes from the start pays for 6 nodes all along.
    for min in [1, 3, 6] {
        assert_eq!(
            rows.iter()
                .filter(|r| r["settings"]["cluster.min_nodes"] == min)
                .count(),
            4
        );
    }
    let cost_of = |min: i64| -> f64 {
        rows.iter()
            .filter(|r| r["settings"]["cluster.min_nodes"] == min)
            .map(|r| r["summary"]["cost_usd"]["mean"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min)
    };
    assert!(cost_of(6) > cost_of(1), "{} vs {}", cost_of(6), cost_of(1));
    let costs: Vec<f64> = rows
        .iter()
        .map(|r| r["summary"]["cost_usd"]["mean"].as_f64().unwrap())
        .collect();
    assert!(
        costs.iter().any(|c| (c - costs[0]).abs() > 1e-9),
        "the cluster keys change the bill: {costs:?}"
    );
    let tuned = std::fs::read_to_string(out.join("tuned.toml")).expect("tuned.toml");
    assert!(tuned.contains("[cluster]"), "{tuned}");
}

#[test]
fn a_service_whose_pod_fits_no_node_exits_2_naming_it() {
    let d = scratch("bad");
    let f = d.join("fleet.toml");
    let bad = FLEET.replace(
        "[[services]]\nname = \"steady\"\n",
        "[[services]]\nname = \"steady\"\n[services.service]\nvcpu = 3\n",
    );
    std::fs::write(&f, &bad).unwrap();
    for cmd in ["validate", "sim"] {
        let o = scalelab(&[cmd, &s(&f)]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("service \"steady\"") && e.contains("cluster.node_vcpu"),
            "{cmd}: {e}"
        );
        assert!(e.contains("fleet.toml"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn the_bundled_fleet_cluster_shows_the_trade_off() {
    let f = root().join("scenarios/fleet-cluster.toml");
    let o = scalelab(&["sim", &s(&f), "--format", "json"]);
    assert_completed(&o);
    let doc = json(&o);
    let vs = doc["variants"].as_array().expect("variants");
    let by = |n: &str| vs.iter().find(|v| v["name"] == n).expect("variant");
    let c = |n: &str, k: &str| by(n)["cluster"][k].as_f64().expect("a cluster figure");
    // A warm pool: nobody waits for a node, and more node-seconds are paid.
    assert!(c("baseline", "pods_pending") > 0.0);
    assert_eq!(c("warm-pool", "pods_pending"), 0.0);
    assert!(c("warm-pool", "node_seconds") > c("baseline", "node_seconds"));
    assert!(
        by("warm-pool")["latency_ms"]["p99"].as_f64()
            < by("baseline")["latency_ms"]["p99"].as_f64()
    );
    // Faster provisioning: shorter waits.
    assert!(c("fast-nodes", "pending_wait_max_s") < c("baseline", "pending_wait_max_s"));
    assert!(by("baseline")["services"].as_array().unwrap().len() >= 4);
}
