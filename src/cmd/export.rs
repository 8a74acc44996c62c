//! `scalelab export knative|gcloud SCENARIO`: the scenario's (or the tuned winner's) settings as
//! a Knative Service manifest or a `gcloud run deploy` command.
//!
//! Annotation names and value formats follow Knative Serving (KPA.md §1): every value is a
//! string; percentages are percents (`"70"`, not `0.7`); durations are Go durations in whole
//! seconds where Knative requires them (`"60s"`). Settings Knative only has cluster-wide (in
//! the `config-autoscaler` ConfigMap) are written under `scalelab.dev/` when they differ from
//! the defaults, so that `scalelab import knative` reads every setting back; Knative ignores
//! them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scalelab_core::autoscaler::{Aggregation, AutoscalerSettings, KpaSettings, Metric};
use scalelab_core::scenario::{Revision, Scenario};
use scalelab_core::tune::candidates::CandidateBuilder;
use scalelab_core::tune::doc::{TuneDoc, scenario_hash};

use super::common::load_scenario;
use super::{CmdResult, Code, Failure};
use crate::cli::{ExportArgs, ExportCommand};

/// Knative's per-revision autoscaling annotation prefix.
pub const PREFIX: &str = "autoscaling.knative.dev/";
/// Where settings Knative has only cluster-wide are kept.
pub const SCALELAB_PREFIX: &str = "scalelab.dev/";
/// The KPA class.
pub const KPA_CLASS: &str = "kpa.autoscaling.knative.dev";

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::bad_input(anyhow::anyhow!("{e}"))
}

pub fn run(cmd: ExportCommand) -> CmdResult {
    let (a, knative) = match cmd {
        ExportCommand::Knative(a) => (a, true),
        ExportCommand::Gcloud(a) => (a, false),
    };
    let (scenario, source) = chosen(&a)?;
    let name = service_name(a.name.as_deref().unwrap_or(&scenario.name)).map_err(bad)?;
    let rev = single_revision(&scenario).map_err(bad)?;
    let text = if knative {
        knative_manifest(&scenario, rev, &name, &a.image, &source).map_err(bad)?
    } else {
        gcloud_command(&scenario, rev, &name, &a.image, &source)
    };
    match &a.output {
        Some(p) if p.as_os_str() != "-" => std::fs::write(p, text)
            .map_err(|e| Failure::runtime(anyhow::anyhow!("writing {}: {e}", p.display())))?,
        _ => {
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(Code::Ok)
}

/// The scenario to export and a phrase saying where it came from.
fn chosen(a: &ExportArgs) -> Result<(Scenario, String), Failure> {
    let scenario = load_scenario(&a.scenario)?;
    let shown = a.scenario.display().to_string();
    if let Some(v) = &a.variant {
        let Some(s) = scenario.run(v) else {
            let names: Vec<&str> = scenario.runs().iter().map(|(n, _)| *n).collect();
            return Err(bad(format!(
                "--variant: no variant named \"{v}\" in {shown} (it has: {})",
                names.join(", ")
            )));
        };
        return Ok((s.clone(), format!("{shown}, variant {v}")));
    }
    let Some(tune) = &a.from_tune else {
        return Ok((scenario, shown));
    };
    let file: PathBuf = if tune.is_dir() {
        tune.join("tune.json")
    } else {
        tune.clone()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| bad(format!("--from-tune: reading {}: {e}", file.display())))?;
    let doc: TuneDoc = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "--from-tune: {} is not a scalelab tune document: {e}",
            file.display()
        ))
    })?;
    doc.check().map_err(|e| bad(format!("--from-tune: {e}")))?;
    let Some(w) = doc.winner() else {
        return Err(bad(format!(
            "--from-tune: {} has no winner (no candidate met the [slo]); nothing to export",
            file.display()
        )));
    };
    let src = std::fs::read_to_string(&a.scenario)
        .map_err(|e| bad(format!("reading {}: {e}", a.scenario.display())))?;
    if scenario_hash(&src) != doc.setup.scenario_hash {
        eprintln!(
            "warning: {} was made from another version of {shown}; applying its winner's \
             settings to this one",
            file.display()
        );
    }
    let settings: Vec<(String, toml::Value)> = w
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let built = CandidateBuilder::new(&src, &a.scenario)
        .map_err(bad)?
        .build(&settings)
        .map_err(|e| {
            bad(format!(
                "--from-tune: the winner's settings do not apply to {shown}: {e}"
            ))
        })?;
    let set: Vec<String> = settings
        .iter()
        .map(|(k, v)| format!("{k} = {}", scalelab_core::tune::doc::value_text(v)))
        .collect();
    Ok((
        built,
        format!("{shown}, tuned winner {} ({})", w.id, set.join(", ")),
    ))
}

fn single_revision(s: &Scenario) -> Result<&Revision, String> {
    match s.revisions.as_slice() {
        [r] => Ok(r),
        revs => Err(format!(
            "the scenario splits traffic over {} revisions ({}); export supports one [service]",
            revs.len(),
            revs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A Kubernetes object name (RFC 1123 label) from a scenario name.
pub fn service_name(name: &str) -> Result<String, String> {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let s = s
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches('-');
    let s: String = s.chars().take(63).collect();
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        return Err(format!(
            "\"{name}\" gives no valid service name: pass --name"
        ));
    }
    Ok(s)
}

/// A number as Knative writes it: no trailing zeros, at most 10 decimals.
pub fn num(x: f64) -> String {
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// A Go duration string: whole seconds as `"60s"`, else milliseconds or nanoseconds.
pub fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ns", d.as_nanos())
    }
}

/// vCPU as a Kubernetes quantity: `"1"`, `"500m"`.
pub fn cpu_quantity(vcpu: f64) -> String {
    if vcpu.fract() == 0.0 {
        format!("{}", vcpu as u64)
    } else {
        format!("{}m", (vcpu * 1000.0).round() as u64)
    }
}

/// GiB as a Kubernetes quantity: `"512Mi"`, `"2Gi"`.
pub fn memory_quantity(gib: f64) -> String {
    if gib.fract() == 0.0 {
        format!("{}Gi", gib as u64)
    } else {
        let mib = gib * 1024.0;
        if mib.fract().abs() < 1e-9 {
            format!("{}Mi", mib.round() as u64)
        } else {
            format!("{}Ki", (gib * 1024.0 * 1024.0).round() as u64)
        }
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
pub fn knative_manifest(
    s: &Scenario,
    rev: &Revision,
    name: &str,
    image: &str,
    source: &str,
) -> Result<String, String> {
    let AutoscalerSettings::Kpa(k) = &rev.autoscaler else {
        return Err(
            "the scenario uses kind = \"keepalive\", which Knative does not have; export a KPA \
             scenario (or use `scalelab export gcloud`)"
                .into(),
        );
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
pub fn gcloud_command(
    s: &Scenario,
    rev: &Revision,
    name: &str,
    image: &str,
    source: &str,
) -> String {
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

/// Used by `import` to name the file a manifest came from.
pub fn shown(p: &Path) -> String {
    if p.as_os_str() == "-" {
        "standard input".into()
    } else {
        p.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_knative() {
        assert_eq!(num(0.7 * 100.0), "70");
        assert_eq!(num(0.55 * 100.0), "55");
        assert_eq!(num(72.5), "72.5");
        assert_eq!(num(-1.0), "-1");
        assert_eq!(go_duration(Duration::from_secs(60)), "60s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "3600s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(cpu_quantity(1.0), "1");
        assert_eq!(cpu_quantity(0.25), "250m");
        assert_eq!(memory_quantity(0.5), "512Mi");
        assert_eq!(memory_quantity(2.0), "2Gi");
        assert_eq!(service_name("Spiky API v2!").unwrap(), "spiky-api-v2");
        assert_eq!(service_name("42-things").unwrap(), "things");
        assert!(service_name("___").is_err());
    }
}
