//! Reading a Knative Service manifest (annotations with their legacy camelCase aliases,
//! containerConcurrency, timeoutSeconds, resources) into the matching scenario tables, plus a
//! placeholder workload to edit, so tuning starts from what runs today.

use std::fmt::Write as _;

use scalelab_core::autoscaler::KpaSettings;
use scalelab_core::autoscaler::keys::{self, Field, Key, Knative, Value as KeyValue};
use serde::Deserialize;
use serde_norway::Value;

use super::{KPA_CLASS, PREFIX, SCALELAB_PREFIX, format};
use crate::LabError;

/// A scenario read from a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The scenario file's text (valid: it resolves).
    pub toml: String,
    /// What was left out or chosen, one sentence each.
    pub warnings: Vec<String>,
}

/// An annotation or field value as text (manifests sometimes leave numbers unquoted).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(*k))
}

/// An annotation's text as a value of `key`, range-checked like a scenario value.
fn annotation(key: &Key<KpaSettings>, text: &str) -> Result<KeyValue, LabError> {
    let t = text.trim();
    let invalid = |e: keys::Rejected| LabError::InvalidValue(e.0);
    let v = match key.field {
        Field::Number(..) | Field::Optional(..) => {
            let x = format::number(t)? / if key.percent { 100.0 } else { 1.0 };
            key.parse(toml::Value::Float(x)).map_err(invalid)?
        }
        Field::Count(..) => {
            let x: i64 = t
                .parse()
                .map_err(|_| LabError::InvalidValue(format!("\"{t}\" is not a whole number")))?;
            key.parse(toml::Value::Integer(x)).map_err(invalid)?
        }
        Field::Duration(..) => KeyValue::Duration(format::parse_go_duration(t)?),
        Field::Flag(..) => match t {
            "true" => KeyValue::Flag(true),
            "false" => KeyValue::Flag(false),
            other => {
                return Err(LabError::InvalidValue(format!(
                    "\"{other}\": expected true or false"
                )));
            }
        },
        Field::Metric(..) | Field::Aggregation(..) => {
            key.parse(toml::Value::String(t.into())).map_err(invalid)?
        }
    };
    key.accept(v).map_err(invalid)
}

/// The first Knative Service in `yaml` (read from `source`) as scenario TOML, checked as the
/// scenario file `target` would be, and warnings about what was skipped.
pub fn scenario_from_manifest(
    yaml: &str,
    source: &str,
    target: &str,
) -> Result<Imported, LabError> {
    let bad = |message: String| LabError::Manifest {
        source_name: source.to_string(),
        message,
    };
    let mut service = None;
    for doc in serde_norway::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc).map_err(|e| bad(format!("not valid YAML: {e}")))?;
        if v.get("kind").and_then(Value::as_str) == Some("Service")
            && v.get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("serving.knative.dev/"))
        {
            service = Some(v);
            break;
        }
    }
    let svc = service.ok_or_else(|| {
        bad("no Knative Service (apiVersion serving.knative.dev/v1, kind Service) found".into())
    })?;
    let mut warnings = Vec::new();
    let name = get(&svc, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("imported");
    let tmpl = get(&svc, &["spec", "template"])
        .ok_or_else(|| bad("the Service has no spec.template".into()))?;
    let empty = serde_norway::Mapping::new();
    let anns = get(tmpl, &["metadata", "annotations"])
        .and_then(Value::as_mapping)
        .unwrap_or(&empty);
    let ann = |key: &str| -> Result<Option<String>, LabError> {
        match anns.get(key) {
            None => Ok(None),
            Some(v) => text(v)
                .map(Some)
                .ok_or_else(|| bad(format!("annotation {key}: expected a string"))),
        }
    };
    let mut autoscaler: Vec<(&str, toml::Value, String)> = Vec::new();
    if let Some(class) = ann(&format!("{PREFIX}class"))?
        && class != KPA_CLASS
    {
        return Err(bad(format!(
            "autoscaling class \"{class}\" is not simulated; scalelab models the KPA ({KPA_CLASS})"
        )));
    }
    let mut known = vec!["class"];
    for key in &keys::KPA_KEYS {
        // The annotation names Knative reads, preferred first.
        let names: Vec<String> = match key.knative {
            None => continue,
            Some(Knative::Revision { name, legacy }) => {
                known.push(name);
                known.extend(legacy);
                std::iter::once(name)
                    .chain(legacy)
                    .map(|n| format!("{PREFIX}{n}"))
                    .collect()
            }
            Some(Knative::Annotation(name)) => vec![name.to_string()],
            Some(Knative::ClusterWide(name)) => vec![format!("{SCALELAB_PREFIX}{name}")],
        };
        let mut found: Vec<(&String, String)> = Vec::new();
        for n in &names {
            if let Some(v) = ann(n)? {
                found.push((n, v));
            }
        }
        let Some((from, text)) = found.first() else {
            continue;
        };
        if let Some((alias, _)) = found.get(1) {
            warnings.push(format!(
                "both {from} and its legacy alias {alias} are set; using {from}"
            ));
        }
        let v = annotation(key, text).map_err(|e| bad(format!("annotation {from}: {e}")))?;
        if let Some(t) = v.to_toml() {
            autoscaler.push((key.key, t, from.to_string()));
        }
    }
    for k in anns.keys().filter_map(Value::as_str) {
        if let Some(rest) = k.strip_prefix(PREFIX)
            && !known.contains(&rest)
        {
            warnings.push(format!("annotation {k} is not simulated; left out"));
        }
    }
    // The service: concurrency, timeout, resources, and Cloud Run's billing annotations.
    let spec = tmpl.get("spec");
    let mut service: Vec<(&str, toml::Value)> = Vec::new();
    if let Some(cc) = spec.and_then(|s| s.get("containerConcurrency")) {
        let cc = cc
            .as_i64()
            .filter(|c| *c >= 0)
            .ok_or_else(|| bad("containerConcurrency: expected a whole number ≥ 0".into()))?;
        service.push(("container_concurrency", toml::Value::Integer(cc)));
    }
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_sequence);
    if containers.is_some_and(|c| c.len() > 1) {
        warnings
            .push("the Service has several containers; the resources of the first are used".into());
    }
    let resources = containers
        .and_then(|c| c.first())
        .and_then(|c| c.get("resources"));
    let quantity = |name: &str| {
        ["limits", "requests"]
            .iter()
            .find_map(|kind| resources.and_then(|r| get(r, &[kind, name])).and_then(text))
    };
    if let Some(cpu) = quantity("cpu") {
        let x = format::parse_cpu(&cpu).map_err(|e| bad(format!("resources: {e}")))?;
        service.push(("vcpu", toml::Value::Float(x)));
    }
    if let Some(mem) = quantity("memory") {
        let x = format::parse_memory(&mem).map_err(|e| bad(format!("resources: {e}")))?;
        service.push(("memory_gib", toml::Value::Float(x)));
    }
    if let Some(t) = spec.and_then(|s| s.get("timeoutSeconds")) {
        let t = t
            .as_u64()
            .filter(|t| *t > 0)
            .ok_or_else(|| bad("timeoutSeconds: expected a whole number > 0".into()))?;
        service.push(("timeout", toml::Value::String(format!("{t}s"))));
    }
    if ann("run.googleapis.com/startup-cpu-boost")?.as_deref() == Some("true") {
        service.push(("startup_cpu_boost", toml::Value::Boolean(true)));
    }
    let models = match ann("run.googleapis.com/cpu-throttling")?.as_deref() {
        Some("false") => "[\"cloud-run-instance\", \"cloud-run-request\"]",
        _ => "[\"cloud-run-request\", \"cloud-run-instance\"]",
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `scalelab import knative` from {source} (Knative Service \"{name}\")."
    );
    out.push_str(
        "# [service] and [autoscaler] carry the manifest's settings; keys it does not set take\n\
         # Knative's defaults. The service time, cold start, workload and [slo] below are\n\
         # PLACEHOLDERS: replace them with your service's measurements and traffic, then tune.\n",
    );
    let _ = writeln!(
        out,
        "name = {}",
        toml::Value::String(super::service_name(name).unwrap_or_else(|_| "imported".into()))
    );
    out.push_str("duration = \"10m\"\n\n[service]\n");
    for (k, v) in &service {
        let _ = writeln!(out, "{k} = {v}");
    }
    out.push_str(
        "service_time = { dist = \"lognormal\", median = \"80ms\", p99 = \"600ms\" }   # placeholder\n\
         cold_start = { dist = \"lognormal\", median = \"1.2s\", p99 = \"6s\" }        # placeholder\n\n\
         [autoscaler]\nkind = \"kpa\"\n",
    );
    for (k, v, from) in &autoscaler {
        let _ = writeln!(out, "{k} = {v}   # {from}");
    }
    out.push_str(
        "\n[[workload.phases]]   # placeholder traffic\nduration = \"10m\"\n\
         arrival = { process = \"poisson\", rate = 50 }\n\n[billing]\n",
    );
    let _ = writeln!(out, "models = {models}");
    out.push_str(
        "\n[slo]   # placeholder\np99 = \"1s\"\nerror_ratio = 0.001\n\n\
         # Then search, e.g.:\n\
         # [tune]\n\
         # seeds = 3\n\
         # [tune.params]\n\
         # \"autoscaler.target\" = [10, 25, 50, 100]\n\
         # \"autoscaler.min_scale\" = { min = 0, max = 2, step = 1 }\n",
    );
    // What we write must be a scenario scalelab accepts; check it the way `validate` would.
    scalelab_core::scenario::Scenario::from_toml_str(&out, std::path::Path::new(target)).map_err(
        |e| {
            bad(format!(
                "the manifest's settings do not make a valid scenario: {e}"
            ))
        },
    )?;
    Ok(Imported {
        toml: out,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_aliases_are_read() {
        let yaml = r#"
apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: hello }
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/minScale: "2"
        autoscaling.knative.dev/targetUtilizationPercentage: "80"
        autoscaling.knative.dev/scaleDownDelay: "1m30s"
        autoscaling.knative.dev/window: "2m"
        autoscaling.knative.dev/unheard-of: "1"
    spec:
      containerConcurrency: 40
"#;
        let Imported { toml, warnings } = scenario_from_manifest(yaml, "t.yaml", "i.toml").unwrap();
        assert!(toml.contains("min_scale = 2"), "{toml}");
        assert!(toml.contains("target_utilization = 0.8"), "{toml}");
        assert!(toml.contains("scale_down_delay = \"1m30s\""), "{toml}");
        assert!(toml.contains("stable_window = \"2m\""), "{toml}");
        assert!(toml.contains("container_concurrency = 40"), "{toml}");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let s = scalelab_core::scenario::Scenario::from_toml_str(&toml, "i.toml".as_ref()).unwrap();
        assert_eq!(s.name, "hello");
    }

    #[test]
    fn hpa_and_bad_values_are_errors() {
        let hpa = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec:\n  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/class: hpa.autoscaling.knative.dev\n";
        assert!(
            scenario_from_manifest(hpa, "t", "i.toml")
                .unwrap_err()
                .to_string()
                .contains("not simulated")
        );
        let bad = hpa.replace("class: hpa.autoscaling.knative.dev", "min-scale: \"two\"");
        let e = scenario_from_manifest(&bad, "t", "i.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("autoscaling.knative.dev/min-scale"), "{e}");
        assert!(scenario_from_manifest("kind: Deployment\n", "t", "i.toml").is_err());
    }
}
