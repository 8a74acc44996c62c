//! Reading a Knative Service manifest (annotations with their legacy camelCase aliases,
//! containerConcurrency, timeoutSeconds, resources) into the matching scenario tables, plus a
//! placeholder workload to edit, so tuning starts from what runs today.

use std::fmt::Write as _;

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

/// How an annotation's text becomes a scenario value.
#[derive(Clone, Copy)]
enum Kind {
    /// A number.
    Num,
    /// An integer ≥ 0.
    Int,
    /// A percentage that the scenario keeps as a fraction.
    Percent,
    /// A Go duration.
    Dur,
    /// `concurrency` or `rps`.
    Metric,
    /// `linear` or `weighted-exponential`.
    Aggregation,
    /// `true` or `false`.
    Bool,
}

/// Annotation (without prefix), legacy alias, `[autoscaler]` key, kind (KPA.md §1).
const KNATIVE: [(&str, Option<&str>, &str, Kind); 14] = [
    ("metric", None, "metric", Kind::Metric),
    ("target", None, "target", Kind::Num),
    (
        "target-utilization-percentage",
        Some("targetUtilizationPercentage"),
        "target_utilization",
        Kind::Percent,
    ),
    ("window", None, "stable_window", Kind::Dur),
    (
        "panic-window-percentage",
        Some("panicWindowPercentage"),
        "panic_window_percentage",
        Kind::Num,
    ),
    (
        "panic-threshold-percentage",
        Some("panicThresholdPercentage"),
        "panic_threshold_percentage",
        Kind::Num,
    ),
    (
        "target-burst-capacity",
        Some("targetBurstCapacity"),
        "target_burst_capacity",
        Kind::Num,
    ),
    ("min-scale", Some("minScale"), "min_scale", Kind::Int),
    ("max-scale", Some("maxScale"), "max_scale", Kind::Int),
    (
        "initial-scale",
        Some("initialScale"),
        "initial_scale",
        Kind::Int,
    ),
    ("activation-scale", None, "activation_scale", Kind::Int),
    (
        "scale-down-delay",
        Some("scaleDownDelay"),
        "scale_down_delay",
        Kind::Dur,
    ),
    (
        "scale-to-zero-pod-retention-period",
        Some("scaleToZeroPodRetentionPeriod"),
        "scale_to_zero_pod_retention",
        Kind::Dur,
    ),
    (
        "metric-aggregation-algorithm",
        Some("metricAggregationAlgorithm"),
        "aggregation",
        Kind::Aggregation,
    ),
];

/// Settings Knative keeps cluster-wide, written by `export` under `scalelab.dev/`.
const GLOBAL: [(&str, &str, Kind); 5] = [
    ("max-scale-up-rate", "max_scale_up_rate", Kind::Num),
    ("max-scale-down-rate", "max_scale_down_rate", Kind::Num),
    (
        "scale-to-zero-grace-period",
        "scale_to_zero_grace_period",
        Kind::Dur,
    ),
    ("enable-scale-to-zero", "enable_scale_to_zero", Kind::Bool),
    ("activator-capacity", "activator_capacity", Kind::Num),
];

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

fn value(kind: Kind, s: &str) -> Result<toml::Value, LabError> {
    Ok(match kind {
        Kind::Num => toml::Value::Float(format::number(s)?),
        Kind::Int => {
            let x: i64 = s
                .trim()
                .parse()
                .map_err(|_| LabError::InvalidValue(format!("\"{s}\" is not a whole number")))?;
            toml::Value::Integer(x)
        }
        Kind::Percent => toml::Value::Float(format::number(s)? / 100.0),
        Kind::Dur => toml::Value::String(format::duration(s)?),
        Kind::Metric => match s.trim() {
            m @ ("concurrency" | "rps") => toml::Value::String(m.into()),
            other => {
                return Err(LabError::InvalidValue(format!(
                    "metric \"{other}\" is not simulated (the KPA scales on concurrency or rps)"
                )));
            }
        },
        Kind::Aggregation => match s.trim() {
            "linear" => toml::Value::String("linear".into()),
            "weighted-exponential" | "weightedExponential" => {
                toml::Value::String("weighted-exponential".into())
            }
            other => {
                return Err(LabError::InvalidValue(format!(
                    "\"{other}\": expected linear or weighted-exponential"
                )));
            }
        },
        Kind::Bool => match s.trim() {
            "true" => toml::Value::Boolean(true),
            "false" => toml::Value::Boolean(false),
            other => {
                return Err(LabError::InvalidValue(format!(
                    "\"{other}\": expected true or false"
                )));
            }
        },
    })
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
    let mut autoscaler: Vec<(String, toml::Value, String)> = Vec::new();
    if let Some(class) = ann(&format!("{PREFIX}class"))?
        && class != KPA_CLASS
    {
        return Err(bad(format!(
            "autoscaling class \"{class}\" is not simulated; scalelab models the KPA ({KPA_CLASS})"
        )));
    }
    for (name, alias, key, kind) in KNATIVE {
        let full = format!("{PREFIX}{name}");
        let legacy = alias.map(|a| format!("{PREFIX}{a}"));
        let (found, from) = match (
            ann(&full)?,
            legacy.as_deref().map(ann).transpose()?.flatten(),
        ) {
            (Some(v), Some(_)) => {
                warnings.push(format!(
                    "both {full} and its legacy alias {} are set; using {full}",
                    legacy.as_deref().unwrap_or_default()
                ));
                (Some(v), full.clone())
            }
            (Some(v), None) => (Some(v), full.clone()),
            (None, Some(v)) => (Some(v), legacy.clone().unwrap_or_default()),
            (None, None) => (None, String::new()),
        };
        if let Some(v) = found {
            let val = value(kind, &v).map_err(|e| bad(format!("annotation {from}: {e}")))?;
            autoscaler.push((key.into(), val, from));
        }
    }
    if let Some(v) = ann("serving.knative.dev/progress-deadline")? {
        let val = value(Kind::Dur, &v)
            .map_err(|e| bad(format!("serving.knative.dev/progress-deadline: {e}")))?;
        autoscaler.push((
            "progress_deadline".into(),
            val,
            "serving.knative.dev/progress-deadline".into(),
        ));
    }
    for (name, key, kind) in GLOBAL {
        let full = format!("{SCALELAB_PREFIX}{name}");
        if let Some(v) = ann(&full)? {
            let val = value(kind, &v).map_err(|e| bad(format!("annotation {full}: {e}")))?;
            autoscaler.push((key.into(), val, full));
        }
    }
    let known: Vec<String> = KNATIVE
        .iter()
        .flat_map(|(n, a, _, _)| std::iter::once(n.to_string()).chain(a.map(String::from)))
        .chain(["class".to_string()])
        .collect();
    for k in anns.keys().filter_map(Value::as_str) {
        if let Some(rest) = k.strip_prefix(PREFIX)
            && !known.iter().any(|n| n == rest)
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
