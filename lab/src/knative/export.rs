//! Writing a scenario as a Knative Service manifest or `gcloud run deploy` commands.
//!
//! Annotation names and value formats follow Knative Serving (KPA.md §1): every value is a
//! string; percentages are percents (`"70"`, not `0.7`); durations are Go durations in whole
//! seconds where Knative requires them (`"60s"`). Settings Knative only has cluster-wide (in
//! the `config-autoscaler` ConfigMap) are written under `scalelab.dev/` when they differ from
//! the defaults, so that `scalelab import knative` reads every setting back; Knative ignores
//! them.

use std::fmt::Write as _;

use scalelab_core::autoscaler::{Aggregation, AutoscalerSettings, KpaSettings, Metric};
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

/// The annotations of a KPA revision, in a fixed order, with a comment where one helps.
pub fn kpa_annotations(k: &KpaSettings) -> Vec<(String, String, Option<&'static str>)> {
    let d = KpaSettings::default();
    let mut v: Vec<(String, String, Option<&'static str>)> = Vec::new();
    let mut ann = |name: &str, value: String| v.push((format!("{PREFIX}{name}"), value, None));
    ann("class", KPA_CLASS.into());
    ann(
        "metric",
        match k.metric {
            Metric::Concurrency => "concurrency".into(),
            Metric::Rps => "rps".into(),
        },
    );
    if let Some(t) = k.target {
        ann("target", num(t));
    }
    ann(
        "target-utilization-percentage",
        num(k.target_utilization * 100.0),
    );
    ann("window", go_duration(k.stable_window));
    ann("panic-window-percentage", num(k.panic_window_percentage));
    ann(
        "panic-threshold-percentage",
        num(k.panic_threshold_percentage),
    );
    ann("target-burst-capacity", num(k.target_burst_capacity));
    ann("min-scale", k.min_scale.to_string());
    ann("max-scale", k.max_scale.to_string());
    ann("initial-scale", k.initial_scale.to_string());
    // Knative's activation-scale is unset below 2 (scalelab writes 1 for unset).
    if k.activation_scale > 1 {
        ann("activation-scale", k.activation_scale.to_string());
    }
    ann("scale-down-delay", go_duration(k.scale_down_delay));
    ann(
        "scale-to-zero-pod-retention-period",
        go_duration(k.scale_to_zero_pod_retention),
    );
    if k.aggregation != d.aggregation {
        ann(
            "metric-aggregation-algorithm",
            match k.aggregation {
                Aggregation::Linear => "linear".into(),
                Aggregation::WeightedExponential => "weighted-exponential".into(),
            },
        );
    }
    if k.progress_deadline != d.progress_deadline {
        v.push((
            "serving.knative.dev/progress-deadline".into(),
            go_duration(k.progress_deadline),
            None,
        ));
    }
    const GLOBAL: Option<&str> =
        Some("cluster-wide in Knative: set it in ConfigMap config-autoscaler");
    let mut global =
        |name: &str, value: String| v.push((format!("{SCALELAB_PREFIX}{name}"), value, GLOBAL));
    if k.max_scale_up_rate != d.max_scale_up_rate {
        global("max-scale-up-rate", num(k.max_scale_up_rate));
    }
    if k.max_scale_down_rate != d.max_scale_down_rate {
        global("max-scale-down-rate", num(k.max_scale_down_rate));
    }
    if k.scale_to_zero_grace_period != d.scale_to_zero_grace_period {
        global(
            "scale-to-zero-grace-period",
            go_duration(k.scale_to_zero_grace_period),
        );
    }
    if k.enable_scale_to_zero != d.enable_scale_to_zero {
        global("enable-scale-to-zero", k.enable_scale_to_zero.to_string());
    }
    if k.activator_capacity != d.activator_capacity {
        global("activator-capacity", num(k.activator_capacity));
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
