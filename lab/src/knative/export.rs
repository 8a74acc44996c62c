//! Writing a scenario as a Knative Service manifest or `gcloud run deploy` commands.
//!
//! Annotation names and value formats follow Knative Serving (KPA.md §1): every value is a
//! string; percentages are percents (`"70"`, not `0.7`); durations are Go durations in whole
//! seconds where Knative requires them (`"60s"`). Settings Knative only has cluster-wide (in
//! the `config-autoscaler` ConfigMap) are written under `scalelab.dev/` when they differ from
//! the defaults, so that `scalelab import knative` reads every setting back; Knative ignores
//! them.

use std::fmt::Write as _;

use scalelab_core::autoscaler::keys::{self, Export, Key, Knative, Value};
use scalelab_core::autoscaler::{AutoscalerSettings, KpaSettings};
use scalelab_core::scenario::{Revision, Scenario};

use super::format::{cpu_quantity, go_duration, memory_quantity, num};
use super::{KPA_CLASS, PREFIX, SCALELAB_PREFIX};
use crate::LabError;

/// The Knative Service manifest of `s` (one revision), named `name`, running `image`;
/// `source` says where the settings came from (a comment in the manifest).
pub fn manifest(s: &Scenario, name: &str, image: &str, source: &str) -> Result<String, LabError> {
    let rev = single_revision(s)?;
    knative_manifest(s, rev, name, image, source)
}

/// The `gcloud run deploy` command of `s` (one revision).
pub fn gcloud(s: &Scenario, name: &str, image: &str, source: &str) -> Result<String, LabError> {
    let rev = single_revision(s)?;
    Ok(gcloud_command(s, rev, name, image, source))
}

fn single_revision(s: &Scenario) -> Result<&Revision, LabError> {
    match s.revisions.as_slice() {
        [r] => Ok(r),
        revs => Err(LabError::Export(format!(
            "the scenario splits traffic over {} revisions ({}); export supports one [service]",
            revs.len(),
            revs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The billing mode of the scenario's first billing model, as Cloud Run calls it: `Some(true)`
/// for request-based (CPU throttled outside requests), `Some(false)` for instance-based.
pub fn cpu_throttling(s: &Scenario) -> Option<bool> {
    let first = s.billing.models.first()?;
    match first.split('@').next().unwrap_or_default() {
        "cloud-run-request" => Some(true),
        "cloud-run-instance" => Some(false),
        _ => None,
    }
}

/// The annotation value of `v`: every value is a string in Knative (numbers without trailing
/// zeros, Go durations, percentages for fractions); None for an unset optional.
pub fn annotation_value(key: &Key<KpaSettings>, v: Value) -> Option<String> {
    let scale = if key.percent { 100.0 } else { 1.0 };
    Some(match v {
        Value::Number(x) | Value::Optional(Some(x)) => num(x * scale),
        Value::Optional(None) => return None,
        Value::Duration(d) => go_duration(d),
        other => other.to_string(),
    })
}

/// The annotations of a KPA revision, in the key table's order, with a comment where one
/// helps: the class, then each key Knative reads (those only cluster-wide under
/// `scalelab.dev/`), leaving out what the table exports only when it differs from the default.
pub fn kpa_annotations(k: &KpaSettings) -> Vec<(String, String, Option<&'static str>)> {
    const GLOBAL: Option<&str> =
        Some("cluster-wide in Knative: set it in ConfigMap config-autoscaler");
    let mut v: Vec<(String, String, Option<&'static str>)> =
        vec![(format!("{PREFIX}class"), KPA_CLASS.into(), None)];
    for key in &keys::KPA_KEYS {
        let Some(knative) = key.knative else { continue };
        let value = key.get(k);
        if key.export == Export::UnlessDefault && value == key.default() {
            continue;
        }
        let Some(text) = annotation_value(key, value) else {
            continue;
        };
        v.push(match knative {
            Knative::Revision { name, .. } => (format!("{PREFIX}{name}"), text, None),
            Knative::Annotation(name) => (name.to_string(), text, None),
            Knative::ClusterWide(name) => (format!("{SCALELAB_PREFIX}{name}"), text, GLOBAL),
        });
    }
    v
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The Knative Service manifest of a one-revision scenario.
fn knative_manifest(
    s: &Scenario,
    rev: &Revision,
    name: &str,
    image: &str,
    source: &str,
) -> Result<String, LabError> {
    let AutoscalerSettings::Kpa(k) = &rev.autoscaler else {
        return Err(LabError::Export(
            "the scenario uses kind = \"keepalive\", which Knative does not have; export a KPA \
             scenario (or use `scalelab export gcloud`)"
                .into(),
        ));
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Knative Service written by `scalelab export knative` from {source}."
    );
    let _ = writeln!(
        out,
        "# Deploy: kubectl apply -f FILE (set the image first)."
    );
    out.push_str("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n");
    let _ = writeln!(out, "  name: {name}");
    out.push_str("spec:\n  template:\n    metadata:\n      annotations:\n");
    let mut anns = kpa_annotations(k);
    // Cloud Run reads these from the same manifest (`gcloud run services replace`).
    if let Some(throttled) = cpu_throttling(s) {
        anns.push((
            "run.googleapis.com/cpu-throttling".into(),
            throttled.to_string(),
            None,
        ));
    }
    if rev.service.startup_cpu_boost {
        anns.push((
            "run.googleapis.com/startup-cpu-boost".into(),
            "true".into(),
            None,
        ));
    }
    for (key, value, note) in anns {
        if let Some(n) = note {
            let _ = writeln!(out, "        # {n}");
        }
        let _ = writeln!(out, "        {key}: {}", quote(&value));
    }
    out.push_str("    spec:\n");
    let _ = writeln!(
        out,
        "      containerConcurrency: {}",
        rev.service.container_concurrency
    );
    let timeout = rev.service.timeout.as_secs() + u64::from(rev.service.timeout.subsec_nanos() > 0);
    let _ = writeln!(out, "      timeoutSeconds: {timeout}");
    out.push_str("      containers:\n");
    let _ = writeln!(out, "        - image: {}", quote(image));
    out.push_str("          resources:\n            limits:\n");
    let _ = writeln!(
        out,
        "              cpu: {}",
        quote(&cpu_quantity(rev.service.vcpu))
    );
    let _ = writeln!(
        out,
        "              memory: {}",
        quote(&memory_quantity(rev.service.memory_gib))
    );
    Ok(out)
}

/// The `gcloud run deploy` command of a one-revision scenario, with notes on what Cloud Run
/// cannot express.
fn gcloud_command(s: &Scenario, rev: &Revision, name: &str, image: &str, source: &str) -> String {
    let mut notes = vec![format!(
        "Cloud Run deploy command written by `scalelab export gcloud` from {source}."
    )];
    let svc = &rev.service;
    let (min, max) = match &rev.autoscaler {
        AutoscalerSettings::Kpa(k) => {
            notes.push(
                "Cloud Run's autoscaler is not Knative's KPA: target, windows, panic mode and \
                 burst capacity have no flags; concurrency, scale bounds, size, timeout and \
                 billing carry over."
                    .into(),
            );
            (k.min_scale, k.max_scale)
        }
        AutoscalerSettings::Keepalive(k) => {
            notes.push(
                "The scenario's keepalive autoscaler maps to min and max instances only.".into(),
            );
            (k.min_instances, k.max_instances)
        }
    };
    let mut flags = vec![format!("--image={image}")];
    if svc.container_concurrency == 0 {
        notes.push(
            "container_concurrency = 0 (unlimited) is not possible on Cloud Run; its maximum, \
             1000, is used."
                .into(),
        );
        flags.push("--concurrency=1000".into());
    } else {
        flags.push(format!("--concurrency={}", svc.container_concurrency));
    }
    flags.push(format!("--min-instances={min}"));
    if max > 0 {
        flags.push(format!("--max-instances={max}"));
    } else {
        notes.push("max_scale = 0 (unbounded): Cloud Run's default maximum applies.".into());
    }
    flags.push(format!("--cpu={}", cpu_quantity(svc.vcpu)));
    flags.push(format!("--memory={}", memory_quantity(svc.memory_gib)));
    let timeout = svc.timeout.as_secs() + u64::from(svc.timeout.subsec_nanos() > 0);
    flags.push(format!("--timeout={timeout}"));
    match cpu_throttling(s) {
        Some(true) => flags.push("--cpu-throttling".into()),
        Some(false) => flags.push("--no-cpu-throttling".into()),
        None => notes.push(format!(
            "The first billing model, {}, is not a Cloud Run model: no --cpu-throttling flag.",
            s.billing.models.first().map_or("(none)", String::as_str)
        )),
    }
    flags.push(
        if svc.startup_cpu_boost {
            "--cpu-boost"
        } else {
            "--no-cpu-boost"
        }
        .into(),
    );
    let mut out = String::new();
    for n in notes {
        let _ = writeln!(out, "# {n}");
    }
    let _ = write!(out, "gcloud run deploy {name}");
    for f in flags {
        let _ = write!(out, " \\\n  {}", shell_word(&f));
    }
    out.push('\n');
    out
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_=./:@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
