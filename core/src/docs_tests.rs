//! The reference in `docs/` keeps up with the code: every key the scenario resolver accepts is
//! in `docs/scenario.md`, whose autoscaler tables are the key table's own text, and every field
//! of a result document is in `docs/results.md`.

use std::path::Path;

use crate::autoscaler::keys::{self, CLOUD_RUN_KEYS, HPA_KEYS, KEEPALIVE_KEYS, KPA_KEYS};
use crate::billing::MODEL_NAMES;
use crate::billing::prices::PRICE_NAMES;
use crate::result::{
    CdfPoint, ClientStats, LiveStats, Occupancy, RunResult, Series, SeriesRow, SimStats, SloCheck,
    VariantResult,
};
use crate::router::RouterPolicy;
use crate::scenario::Scenario;
use crate::scenario::raw::{DistKind, Process, Tag};

fn doc(name: &str) -> String {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn reference() -> String {
    doc("scenario.md")
}

const MIN: &str = "duration = \"1m\"\n[[workload.phases]]\nduration = \"1m\"\n\
                   arrival = { process = \"poisson\", rate = 1 }\n";

/// The keys a table accepts, read from the resolver's own "unknown key" message for a key
/// that does not exist: (where, scenario text with `zz_probe` in that table).
fn accepted(src: &str) -> Vec<String> {
    let e = Scenario::from_toml_str(src, Path::new("probe.toml")).expect_err(src);
    let m = &e.message;
    assert!(m.contains("unknown key `zz_probe`"), "{src}: {m}");
    let list = &m[m.find("expected").expect("a list of keys")..];
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_key_the_resolver_accepts_is_in_the_reference() {
    let probes = [
        format!("zz_probe = 1\n{MIN}"),
        format!("{MIN}[service]\nzz_probe = 1\n"),
        format!("{MIN}[[revisions]]\nname = \"a\"\ntraffic = 100\nzz_probe = 1\n"),
        format!(
            "{MIN}[service]\nservice_time = {{ dist = \"fixed\", value = \"1s\", zz_probe = 1 }}\n"
        ),
        format!("{MIN}[router]\nzz_probe = 1\n"),
        format!("{MIN}[workload]\nzz_probe = 1\n"),
        "duration = \"1m\"\n[[workload.phases]]\nduration = \"1m\"\nzz_probe = 1\n\
         arrival = { process = \"poisson\", rate = 1 }\n"
            .to_string(),
        "duration = \"1m\"\n[[workload.phases]]\nduration = \"1m\"\n\
         arrival = { process = \"poisson\", rate = 1, zz_probe = 1 }\n"
            .to_string(),
        format!("{MIN}[billing]\nzz_probe = 1\n"),
        format!("{MIN}[billing.knative]\nzz_probe = 1\n"),
        format!("{MIN}[slo]\nzz_probe = 1\n"),
        format!("{MIN}[[variants]]\nname = \"v\"\nzz_probe = 1\n"),
        format!("{MIN}[load]\nzz_probe = 1\n"),
        format!("{MIN}[[load.requests]]\nzz_probe = 1\n"),
        format!("{MIN}[sim]\nzz_probe = 1\n"),
        format!("{MIN}[cluster]\nzz_probe = 1\n"),
        format!("{MIN}[tune]\nzz_probe = 1\n"),
        format!("{MIN}[autoscaler]\nzz_probe = 1\n"),
        format!("{MIN}[[services]]\nname = \"a\"\nzz_probe = 1\n"),
        format!("{MIN}[trace]\nzz_probe = 1\n"),
        format!("{MIN}[autoscaler]\nkind = \"keepalive\"\nzz_probe = 1\n"),
        format!("{MIN}[autoscaler]\nkind = \"cloud-run\"\nzz_probe = 1\n"),
        format!("{MIN}[autoscaler]\nkind = \"hpa\"\nzz_probe = 1\n"),
    ];
    // The keys the probes find, the autoscaler tables' keys, price names and range keys.
    let tables = KPA_KEYS
        .iter()
        .map(|k| k.key)
        .chain(KEEPALIVE_KEYS.iter().map(|k| k.key))
        .chain(CLOUD_RUN_KEYS.iter().map(|k| k.key))
        .chain(HPA_KEYS.iter().map(|k| k.key));
    let prices = PRICE_NAMES.iter().map(|(n, _)| *n);
    let ranges = ["min", "max", "step", "n", "log", "weight"];
    let mut names: Vec<String> = probes.iter().flat_map(|p| accepted(p)).collect();
    names.extend(tables.chain(prices).chain(ranges).map(String::from));
    // The names a string value may take.
    let dists: Vec<&str> = DistKind::ALL.iter().map(|k| k.name()).collect();
    let processes: Vec<&str> = Process::ALL.iter().map(|k| k.name()).collect();
    let values: Vec<String> = [
        MODEL_NAMES,
        RouterPolicy::NAMES,
        &dists,
        &processes,
        &crate::cluster::Placement::NAMES,
    ]
    .concat()
    .iter()
    .map(|v| format!("\"{v}\""))
    .collect();
    let doc = reference();
    let missing: Vec<String> = names
        .iter()
        .map(|n| format!("`{n}`"))
        .chain(values)
        .filter(|n| !doc.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/scenario.md does not mention: {}",
        missing.join(", ")
    );
}

#[test]
fn the_autoscaler_tables_are_the_key_tables() {
    let doc = reference();
    for (name, text) in [
        ("kpa", keys::reference(&KPA_KEYS)),
        ("keepalive", keys::reference(&KEEPALIVE_KEYS)),
        ("cloud-run", keys::reference(&CLOUD_RUN_KEYS)),
        ("hpa", keys::reference(&HPA_KEYS)),
    ] {
        let start = format!("<!-- {name} keys: generated from the key table -->\n");
        let end = format!("<!-- end of {name} keys -->");
        let i = doc
            .find(&start)
            .unwrap_or_else(|| panic!("docs/scenario.md has no line {start:?}"))
            + start.len();
        let j = doc[i..].find(&end).map(|j| i + j).expect("an end marker");
        assert_eq!(
            &doc[i..j],
            text,
            "docs/scenario.md's {name} table is out of date; replace it with:\n{text}"
        );
    }
}

/// Every key of `v`'s JSON, at any depth (map keys of `cost`, `extra` and `labels` are data, not
/// fields).
fn fields(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                if k != "cost" && k != "extra" && k != "labels" {
                    fields(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| fields(x, out)),
        _ => {}
    }
}

#[test]
fn every_field_of_a_result_is_in_the_reference() {
    let mut v = VariantResult {
        name: "baseline".into(),
        latency_ms_cold: Some(Default::default()),
        latency_ms_warm: Some(Default::default()),
        latency_cdf: Some(vec![CdfPoint::default()]),
        timeseries: Some("timeseries.csv".into()),
        series: Some(Series {
            bucket_s: 1.0,
            rows: vec![SeriesRow::default()],
            coarsened: Some(crate::result::SeriesCoarsening {
                from_bucket_s: 0.5,
                from_rows: 2,
            }),
        }),
        revisions: vec![crate::result::RevisionResult {
            ready_at_s: Some(1.0),
            traffic: vec![Default::default()],
            series: Some(Default::default()),
            ..Default::default()
        }],
        rollouts: Some(vec![crate::result::RolloutResult {
            superseded_s: Some(1.0),
            ..Default::default()
        }]),
        cluster: Some(crate::cluster::ClusterResult {
            series: vec![Default::default()],
            ..Default::default()
        }),
        ..VariantResult::default()
    };
    v.cost.insert("lambda".into(), Default::default());
    v.slo.checks.push(SloCheck {
        name: "p99".into(),
        threshold: 1.0,
        actual: 1.0,
        unit: "ms".into(),
        passed: true,
        default_threshold: true,
        note: Some("why".into()),
    });
    v.set_occupancy(Occupancy::default());
    v.set_sim(SimStats::default());
    v.set_live(LiveStats {
        slot_overhead_ms: Some(1.0),
        slot_overhead_wall_ms: Some(1.0),
        event_log_error: Some("e".into()),
        request_log_error: Some("e".into()),
        forbidden_sources: Some(1),
        client_closed: 1,
        failure: Some("e".into()),
        ..LiveStats::default()
    });
    v.set_client(ClientStats {
        send_lag_ms: Some(Default::default()),
        ..ClientStats::default()
    });
    v.labels.insert("team".into(), "x".into());
    v.services = vec![VariantResult {
        name: "checkout".into(),
        pods: Some(crate::cluster::PodsResult::default()),
        ..VariantResult::default()
    }];
    let r = RunResult {
        variants: vec![v],
        scenario_path: Some("s.toml".into()),
        command: Some("scalelab sim s.toml".into()),
        time_scale: Some(1.0),
        resolved_scenario: Some(serde_json::json!({})),
        ..RunResult::new("s", 1, crate::result::Mode::Sim, 60.0)
    };
    let mut names = Vec::new();
    fields(&serde_json::to_value(&r).expect("serializes"), &mut names);
    // The cost fields and the legacy extra names are data of maps, listed on their own.
    names.extend(r.variants[0].extra.keys().cloned());
    let c = serde_json::to_value(crate::result::Cost::default()).expect("serializes");
    fields(&c, &mut names);
    names.sort();
    names.dedup();
    let doc = doc("results.md");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/results.md does not mention: {missing:?}"
    );
}
