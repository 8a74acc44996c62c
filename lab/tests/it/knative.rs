//! Exported manifests validate against Knative Serving's own Service CRD schema, and a canary
//! (several revisions, a traffic split with tags) survives export and import.

use std::path::{Path, PathBuf};

use scalelab_core::autoscaler::AutoscalerSettings;
use scalelab_core::scenario::Scenario;
use scalelab_lab::knative;
use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The CRD's `openAPIV3Schema` as a JSON Schema that also refuses what the API server would
/// silently drop: an object schema that lists its properties, and does not say it keeps
/// unknown fields, gets `additionalProperties: false`.
fn service_schema() -> jsonschema::Validator {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/knative-serving-service-crd.yaml");
    let text = std::fs::read_to_string(path).expect("the CRD is checked in");
    let crd: Value = serde_norway::from_str(&text).expect("the CRD is YAML");
    let mut schema = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == "v1")
        .expect("v1")["schema"]["openAPIV3Schema"]
        .clone();
    fn strict(v: &mut Value) {
        match v {
            Value::Object(o) => {
                let closed = o.contains_key("properties")
                    && !o.contains_key("additionalProperties")
                    && o.get("x-kubernetes-preserve-unknown-fields") != Some(&Value::Bool(true));
                if closed {
                    o.insert("additionalProperties".into(), Value::Bool(false));
                }
                o.values_mut().for_each(strict);
            }
            Value::Array(a) => a.iter_mut().for_each(strict),
            _ => {}
        }
    }
    strict(&mut schema);
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// Every document of a multi-document YAML file, as JSON.
fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

fn scenario(rel: &str) -> Scenario {
    Scenario::from_file(&root().join(rel)).expect("a valid scenario")
}

#[test]
fn every_bundled_kpa_and_hpa_scenario_exports_a_valid_service() {
    let v = service_schema();
    let (mut checked, mut hpas) = (0, 0);
    for f in std::fs::read_dir(root().join("scenarios")).expect("scenarios/") {
        let path = f.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = Scenario::from_file(&path).expect("valid");
        // Every variant too (autoscalers-compared has its hpa one there).
        for (variant, s) in s.runs() {
            if s.revisions.iter().any(|r| {
                !matches!(
                    r.autoscaler,
                    AutoscalerSettings::Kpa(_) | AutoscalerSettings::Hpa(_)
                )
            }) {
                continue;
            }
            let hpa = matches!(s.revisions[0].autoscaler, AutoscalerSettings::Hpa(_));
            let yaml = knative::manifest(s, "svc", "gcr.io/p/app:1", "t").expect("exported");
            assert_eq!(
                yaml.contains("hpa.autoscaling.knative.dev"),
                hpa,
                "{} {variant}",
                path.display()
            );
            for doc in documents(&yaml) {
                assert_eq!(
                    errors(&v, &doc),
                    Vec::<String>::new(),
                    "{} {variant}",
                    path.display()
                );
            }
            checked += 1;
            hpas += usize::from(hpa);
        }
    }
    assert!(hpas >= 1, "no bundled hpa variant checked");
    assert!(checked >= 4, "{checked} scenarios checked");
}

#[test]
fn the_schema_check_catches_what_knative_would_not_take() {
    let v = service_schema();
    let yaml = knative::manifest(&scenario("scenarios/canary.toml"), "shop", "img", "t").unwrap();
    let mut doc = documents(&yaml).pop().expect("a document");
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    // A misspelt field, a percent as text, a revision spec without containers.
    let mut typo = doc.clone();
    typo["spec"]["template"]["spec"]["containerConcurency"] = 5.into();
    assert!(!errors(&v, &typo).is_empty());
    let mut text = doc.clone();
    text["spec"]["traffic"][0]["percent"] = "90".into();
    assert!(!errors(&v, &text).is_empty());
    doc["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("containers");
    assert!(!errors(&v, &doc).is_empty());
}

/// Two revisions with different settings and a tagged split.
const CANARY: &str = r#"
name = "shop"
duration = "1m"
billing = { models = ["cloud-run-instance"] }
workload = { phases = [{ arrival = { process = "constant", rate = 2 }, duration = "1m" }] }
[service]
container_concurrency = 20
[autoscaler]
target = 15
[[revisions]]
name = "blue"
traffic = 80
tag = "blue"
autoscaler = { min_scale = 2, stable_window = "2m" }
[[revisions]]
name = "green"
traffic = 20
tag = "green"
service = { container_concurrency = 10, vcpu = 2.0, memory_gib = 2.0, timeout = "30s", startup_cpu_boost = true }
autoscaler = { max_scale = 5, target_utilization = 0.5, max_scale_up_rate = 4 }
"#;

#[test]
fn a_canary_round_trips_through_a_knative_manifest() {
    let v = service_schema();
    let s = Scenario::from_toml_str(CANARY, Path::new("canary.toml")).expect("valid");
    let yaml = knative::manifest(&s, "shop", "gcr.io/p/shop:2", "canary.toml").expect("exported");
    let docs = documents(&yaml);
    assert_eq!(docs.len(), 2, "one document per revision");
    for d in &docs {
        assert_eq!(errors(&v, d), Vec::<String>::new());
    }
    assert_eq!(docs[0]["spec"]["template"]["metadata"]["name"], "shop-blue");
    assert_eq!(docs[0]["spec"]["traffic"][0]["revisionName"], "shop-blue");
    assert_eq!(docs[0]["spec"]["traffic"][0]["percent"], 100);
    let last = &docs[1]["spec"]["traffic"];
    assert_eq!(last[1]["revisionName"], "shop-green");
    assert_eq!(last[1]["percent"], 20);
    assert_eq!(last[1]["tag"], "green");

    let back =
        knative::scenario_from_manifest(&yaml, "shop.yaml", "imported.toml").expect("imported");
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    let t = Scenario::from_toml_str(&back.toml, Path::new("imported.toml")).expect("valid");
    assert_eq!(t.revisions.len(), 2);
    for (a, b) in s.revisions.iter().zip(&t.revisions) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.traffic_percent, b.traffic_percent);
        assert_eq!(a.tag, b.tag);
        assert_eq!(a.autoscaler, b.autoscaler, "revision {}", a.name);
        let (x, y) = (&a.service, &b.service);
        assert_eq!(
            (
                x.container_concurrency,
                x.vcpu,
                x.memory_gib,
                x.timeout,
                x.startup_cpu_boost
            ),
            (
                y.container_concurrency,
                y.vcpu,
                y.memory_gib,
                y.timeout,
                y.startup_cpu_boost
            ),
            "revision {}",
            a.name
        );
    }
    assert_eq!(t.billing.models[0], "cloud-run-instance");
}

#[test]
fn a_canary_exports_as_gcloud_deploys_and_a_traffic_update() {
    let s = Scenario::from_toml_str(CANARY, Path::new("canary.toml")).expect("valid");
    let g = knative::gcloud(&s, "shop", "img", "canary.toml").expect("exported");
    assert_eq!(g.matches("gcloud run deploy shop").count(), 2, "{g}");
    assert!(g.contains("--revision-suffix=blue"), "{g}");
    assert!(
        g.contains("--revision-suffix=green \\\n  --no-traffic"),
        "{g}"
    );
    let update = &g[g
        .find("gcloud run services update-traffic shop")
        .expect("an update")..];
    assert!(
        update.contains("--to-revisions=shop-blue=80,shop-green=20"),
        "{g}"
    );
    assert!(
        update.contains("--set-tags=blue=shop-blue,green=shop-green"),
        "{g}"
    );
}

#[test]
fn splits_knative_cannot_take_are_refused() {
    let half = CANARY
        .replace("traffic = 80", "traffic = 79.5")
        .replace("traffic = 20", "traffic = 20.5");
    let s = Scenario::from_toml_str(&half, Path::new("c.toml")).expect("valid");
    let e = knative::manifest(&s, "shop", "img", "t").unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("whole percents"),
        "{e}"
    );
    let bad_tag = CANARY.replace("tag = \"green\"", "tag = \"Green Light\"");
    let s = Scenario::from_toml_str(&bad_tag, Path::new("c.toml")).expect("valid");
    let e = knative::gcloud(&s, "shop", "img", "t").unwrap_err();
    assert!(e.to_string().contains("not a DNS label"), "{e}");
}
