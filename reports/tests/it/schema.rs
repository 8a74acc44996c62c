//! The JSON Schema in `schema/result.schema.json` accepts what we write and rejects documents
//! that break the contract.

use crate::fixture::two_variants;

fn validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/result.schema.json");
    let text = std::fs::read_to_string(path).expect("the schema file exists");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn written_documents_validate() {
    let v = validator();
    let mut r = two_variants();
    let doc = serde_json::to_value(&r).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    // The smallest document: optional parts absent.
    for var in &mut r.variants {
        var.series = None;
        var.latency_ms_cold = None;
        var.latency_ms_warm = None;
        var.latency_cdf = None;
        var.cost.clear();
        var.slo = Default::default();
    }
    r.resolved_scenario = None;
    r.command = None;
    r.scenario_path = None;
    let doc = serde_json::to_value(&r).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
}

#[test]
fn contract_violations_are_rejected() {
    let v = validator();
    let good = serde_json::to_value(two_variants()).unwrap();
    type Breaker = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Breaker)> = vec![
        (
            "no variants",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("variants");
            }),
        ),
        ("wrong schema version", Box::new(|d| d["schema"] = 2.into())),
        ("unknown mode", Box::new(|d| d["mode"] = "batch".into())),
        ("seed as string", Box::new(|d| d["seed"] = "7".into())),
        (
            "no p99",
            Box::new(|d| {
                d["variants"][0]["latency_ms"]
                    .as_object_mut()
                    .unwrap()
                    .remove("p99");
            }),
        ),
        (
            "negative count",
            Box::new(|d| d["variants"][0]["requests"]["arrived"] = (-1).into()),
        ),
        (
            "cost without total",
            Box::new(|d| {
                d["variants"][1]["cost"]["cloud-run-request"]
                    .as_object_mut()
                    .unwrap()
                    .remove("total_usd");
            }),
        ),
        (
            "slo check without passed",
            Box::new(|d| {
                d["variants"][0]["slo"]["checks"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("passed");
            }),
        ),
        (
            "series row panic as number",
            Box::new(|d| {
                d["variants"][0]["series"]["rows"][0]["panic"] = 1.into();
            }),
        ),
    ];
    for (name, break_it) in cases {
        let mut doc = good.clone();
        break_it(&mut doc);
        assert!(
            !v.is_valid(&doc),
            "{name}: the schema accepted a broken document"
        );
    }
}

#[test]
fn the_typed_sections_validate() {
    use scalelab_core::result::{ClientStats, LiveStats, Occupancy, SimStats};
    let v = validator();
    let mut r = two_variants();
    let var = &mut r.variants[0];
    var.set_occupancy(Occupancy {
        end_s: 420.0,
        mean_in_system: 3.5,
        mean_busy_instances: 1.2,
    });
    var.set_sim(SimStats {
        events: 1000,
        ..SimStats::default()
    });
    var.set_live(LiveStats {
        slot_overhead_ms: Some(1.4),
        slot_overhead_wall_ms: Some(1.4),
        ..LiveStats::default()
    });
    var.set_client(ClientStats {
        send_lag_ms: Some(Default::default()),
        ..ClientStats::default()
    });
    let doc = serde_json::to_value(&r).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    let mut bad = doc.clone();
    bad["variants"][0]["live"]["instance_errors"] = "none".into();
    assert!(!errors(&v, &bad).is_empty());
}
