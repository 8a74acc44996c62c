//! Reading a Knative Service manifest (annotations with their legacy camelCase aliases,
//! containerConcurrency, timeoutSeconds, resources, the traffic block) into the matching
//! scenario tables, plus a placeholder workload to edit, so tuning starts from what runs today.
//!
//! A manifest whose `traffic` block splits requests over several revisions becomes
//! `[[revisions]]` with their percents and tags; each revision's settings come from the
//! template that names it (`spec.template.metadata.name`) in any of the manifest's documents
//! (what `scalelab export knative` writes), else from the latest template, with a warning.
//!
//! The input is bounded before it is parsed ([`MAX_BYTES`], [`MAX_DEPTH`]): a YAML parser spends
//! time quadratic in the nesting of flow collections, and a Service manifest needs neither
//! megabytes nor deep nesting.

use std::fmt::Write as _;
use std::time::Duration;

use scalelab_core::autoscaler::keys::{self, Field, Key, Value as KeyValue};
use serde::Deserialize;
use serde_norway::Value;

use super::{HPA_CLASS, KPA_CLASS, PREFIX, SCALELAB_PREFIX, format};
use crate::LabError;

/// The largest manifest read, in bytes (a Service with every annotation is a few kilobytes).
pub const MAX_BYTES: usize = 4 << 20;

/// The deepest nesting of YAML flow collections (`{…}`, `[…]`) read; a Service manifest nests
/// a few levels.
pub const MAX_DEPTH: usize = 64;

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
fn annotation<T>(key: &Key<T>, text: &str) -> Result<KeyValue, LabError> {
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
        Field::Metric(..) | Field::Aggregation(..) | Field::Choice(..) => {
            key.parse(toml::Value::String(t.into())).map_err(invalid)?
        }
    };
    key.accept(v).map_err(invalid)
}

/// Refuses input that would take a YAML parser unbounded time or memory: more than
/// [`MAX_BYTES`], or flow collections nested deeper than [`MAX_DEPTH`] (counted outside quotes
/// and comments). Line and column name where the limit is crossed.
pub fn check_bounds(yaml: &str) -> Result<(), String> {
    if yaml.len() > MAX_BYTES {
        return Err(format!(
            "the manifest is {} bytes, more than the {} a Service manifest could need",
            yaml.len(),
            MAX_BYTES
        ));
    }
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    let mut chars = yaml.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            comment = false;
            // A plain scalar cannot hold a quote across lines here, but a quoted one can.
            prev = c;
            continue;
        }
        if comment {
            continue;
        }
        match quote {
            Some('\'') if c == '\'' => {
                if chars.peek() == Some(&'\'') {
                    chars.next(); // '' is an escaped quote
                    col += 1;
                } else {
                    quote = None;
                }
            }
            Some('"') if c == '\\' => {
                chars.next();
                col += 1;
            }
            Some('"') if c == '"' => quote = None,
            Some(_) => {}
            None => match c {
                '#' if prev.is_whitespace() => comment = true,
                '\'' | '"' if prev.is_whitespace() || "[{,:-".contains(prev) => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(format!(
                            "line {line}, column {col}: collections nest more than {MAX_DEPTH} \
                             levels deep; a Service manifest needs a few"
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    Ok(())
}

/// What one revision template sets.
struct Template {
    /// The autoscaler kind (`kpa`, `hpa`) its class names.
    kind: &'static str,
    /// `[service]` keys.
    service: Vec<(&'static str, toml::Value)>,
    /// `[autoscaler]` keys, each with the annotation it came from.
    autoscaler: Vec<(&'static str, toml::Value, String)>,
    /// `run.googleapis.com/cpu-throttling`.
    cpu_throttling: Option<bool>,
}

/// Reads one `spec.template`; `bad` names the manifest in errors.
fn template(
    tmpl: &Value,
    warnings: &mut Vec<String>,
    bad: &dyn Fn(String) -> LabError,
) -> Result<Template, LabError> {
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
    let class = ann(&format!("{PREFIX}class"))?;
    let (kind, (autoscaler, known)) = match class.as_deref() {
        None | Some(KPA_CLASS) => ("kpa", read_table(&keys::KPA_KEYS, &ann, warnings, bad)?),
        Some(HPA_CLASS) => ("hpa", read_table(&keys::HPA_KEYS, &ann, warnings, bad)?),
        Some(other) => {
            return Err(bad(format!(
                "autoscaling class \"{other}\" is not simulated; scalelab models the KPA \
                 ({KPA_CLASS}) and the HPA ({HPA_CLASS})"
            )));
        }
    };
    let created_at = format!("{SCALELAB_PREFIX}created-at");
    for k in anns.keys().filter_map(Value::as_str) {
        let ours = k.starts_with(PREFIX) || k.starts_with(SCALELAB_PREFIX);
        if ours && k != format!("{PREFIX}class") && k != created_at && !known.iter().any(|n| n == k)
        {
            warnings.push(format!(
                "annotation {k} is not simulated for kind = \"{kind}\"; left out"
            ));
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
    let cpu_throttling = match ann("run.googleapis.com/cpu-throttling")?.as_deref() {
        Some("false") => Some(false),
        Some("true") => Some(true),
        _ => None,
    };
    Ok(Template {
        kind,
        service,
        autoscaler,
        cpu_throttling,
    })
}

/// An autoscaler's `[autoscaler]` keys from a template's annotations (`ann` reads one), each
/// with the annotation it came from, and every annotation name the table knows.
#[allow(clippy::type_complexity)]
fn read_table<T>(
    table: &[Key<T>],
    ann: &dyn Fn(&str) -> Result<Option<String>, LabError>,
    warnings: &mut Vec<String>,
    bad: &dyn Fn(String) -> LabError,
) -> Result<(Vec<(&'static str, toml::Value, String)>, Vec<String>), LabError> {
    let mut autoscaler = Vec::new();
    let mut known = Vec::new();
    for key in table {
        // The annotation names Knative reads, preferred first.
        let names = super::annotation_names(key);
        known.extend(names.iter().cloned());
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
    Ok((autoscaler, known))
}

/// One entry of the scenario's split, read from the traffic block.
struct Split {
    /// The platform's revision name (None: the latest template, unnamed).
    revision: Option<String>,
    percent: u32,
    tag: Option<String>,
}

/// The traffic block of the last Service document, grouped by revision (percents added, the
/// first tag kept).
fn traffic(
    svc: &Value,
    latest: Option<&str>,
    warnings: &mut Vec<String>,
    bad: &dyn Fn(String) -> LabError,
) -> Result<Vec<Split>, LabError> {
    let Some(entries) = get(svc, &["spec", "traffic"]) else {
        return Ok(Vec::new());
    };
    let entries = entries
        .as_sequence()
        .ok_or_else(|| bad("spec.traffic: expected a list of traffic targets".into()))?;
    let mut out: Vec<Split> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = |m: &str| bad(format!("spec.traffic[{i}]: {m}"));
        let named = e.get("revisionName").and_then(Value::as_str);
        let latest_flag = e.get("latestRevision").and_then(Value::as_bool);
        let revision = match (named, latest_flag) {
            (Some(r), Some(true)) => {
                return Err(at(&format!(
                    "revisionName {r} with latestRevision: true (Knative rejects it)"
                )));
            }
            (Some(r), _) => Some(r.to_string()),
            (None, _) => latest.map(str::to_string),
        };
        let percent = match e.get("percent") {
            None => 0,
            Some(p) => p
                .as_u64()
                .filter(|p| *p <= 100)
                .ok_or_else(|| at("percent: expected a whole number from 0 to 100"))?
                as u32,
        };
        let tag = e.get("tag").and_then(Value::as_str).map(str::to_string);
        match out.iter_mut().find(|s| s.revision == revision) {
            Some(s) => {
                s.percent += percent;
                if let Some(t) = tag {
                    match &s.tag {
                        None => s.tag = Some(t),
                        Some(first) => warnings.push(format!(
                            "revision {} has tags {first} and {t}; a scenario revision has one: \
                             keeping {first}",
                            revision.as_deref().unwrap_or("latest")
                        )),
                    }
                }
            }
            None => out.push(Split {
                revision,
                percent,
                tag,
            }),
        }
    }
    Ok(out)
}

/// The Knative Services in `yaml` (read from `source`) as scenario TOML, checked as the
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
    check_bounds(yaml).map_err(bad)?;
    // Every document of the first Service's name, in order: later ones update earlier ones, as
    // `kubectl apply` of the file would.
    let mut docs: Vec<Value> = Vec::new();
    for doc in serde_norway::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc).map_err(|e| bad(format!("not valid YAML: {e}")))?;
        let is_service = v.get("kind").and_then(Value::as_str) == Some("Service")
            && v.get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("serving.knative.dev/"));
        let same = docs.first().is_none_or(|first| {
            get(first, &["metadata", "name"]) == get(&v, &["metadata", "name"])
        });
        if is_service && same {
            docs.push(v);
        }
    }
    let Some(svc) = docs.last() else {
        return Err(bad(
            "no Knative Service (apiVersion serving.knative.dev/v1, kind Service) found".into(),
        ));
    };
    let mut warnings = Vec::new();
    let name = get(svc, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("imported");
    let service_name = super::service_name(name).unwrap_or_else(|_| "imported".into());
    // Templates by revision name; the last document's is the latest.
    let mut templates: Vec<(Option<String>, &Value)> = Vec::new();
    for d in &docs {
        let tmpl = get(d, &["spec", "template"])
            .ok_or_else(|| bad("the Service has no spec.template".into()))?;
        let rev = get(tmpl, &["metadata", "name"])
            .and_then(Value::as_str)
            .map(str::to_string);
        templates.retain(|(r, _)| rev.is_none() || *r != rev);
        templates.push((rev, tmpl));
    }
    let (latest_name, latest) = templates.last().cloned().expect("one document at least");
    // Deploys during the run (written by `scalelab export knative`): documents of revisions
    // created later (`scalelab.dev/created-at` on the template) and of rollouts
    // (`scalelab.dev/rollout-at` on the Service). The split is the last document's before them.
    let created_at_key = format!("{SCALELAB_PREFIX}created-at");
    let rollout_at_key = format!("{SCALELAB_PREFIX}rollout-at");
    let service_ann = |d: &Value, k: &str| {
        get(d, &["metadata", "annotations", k])
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let template_ann = |d: &Value, k: &str| {
        get(d, &["spec", "template", "metadata", "annotations", k])
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let first_event = docs
        .iter()
        .position(|d| {
            service_ann(d, &rollout_at_key).is_some() || template_ann(d, &created_at_key).is_some()
        })
        .unwrap_or(docs.len());
    let split_doc = if first_event > 0 {
        &docs[first_event - 1]
    } else {
        svc
    };
    let split_latest = docs[..first_event.max(1)]
        .last()
        .and_then(|d| get(d, &["spec", "template", "metadata", "name"]))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut split = traffic(
        split_doc,
        if first_event < docs.len() {
            split_latest.as_deref()
        } else {
            latest_name.as_deref()
        },
        &mut warnings,
        &bad,
    )?;
    // Later revisions (no traffic at the start) and the rollouts' targets.
    let mut created: Vec<(String, Duration)> = Vec::new();
    let mut rollouts: Vec<(Duration, Duration, Vec<Split>)> = Vec::new();
    for d in &docs[first_event..] {
        let rev = get(d, &["spec", "template", "metadata", "name"])
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(at) = template_ann(d, &created_at_key) {
            let at = format::parse_go_duration(&at)
                .map_err(|e| bad(format!("annotation {created_at_key}: {e}")))?;
            if let Some(r) = &rev
                && !created.iter().any(|(c, _)| c == r)
                && !split.iter().any(|s| s.revision.as_deref() == Some(r))
            {
                created.push((r.clone(), at));
                split.push(Split {
                    revision: Some(r.clone()),
                    percent: 0,
                    tag: None,
                });
            }
        }
        // A revision tagged after the start (its tag first appears in a later traffic block).
        let mut quiet = Vec::new();
        for t in traffic(d, rev.as_deref(), &mut quiet, &bad)? {
            if let (Some(tag), Some(sp)) = (
                t.tag,
                split
                    .iter_mut()
                    .find(|s| s.revision == t.revision && s.tag.is_none()),
            ) {
                sp.tag = Some(tag);
            }
        }
        if let Some(at) = service_ann(d, &rollout_at_key) {
            let at = format::parse_go_duration(&at)
                .map_err(|e| bad(format!("annotation {rollout_at_key}: {e}")))?;
            let duration = match service_ann(d, "serving.knative.dev/rollout-duration") {
                Some(t) => format::parse_go_duration(&t).map_err(|e| {
                    bad(format!(
                        "annotation serving.knative.dev/rollout-duration: {e}"
                    ))
                })?,
                None => Duration::ZERO,
            };
            let target = traffic(d, rev.as_deref(), &mut warnings, &bad)?;
            let total: u32 = target.iter().map(|s| s.percent).sum();
            if total != 100 {
                return Err(bad(format!(
                    "the rollout at {}: spec.traffic adds up to {total}, not 100",
                    format::go_duration(at)
                )));
            }
            rollouts.push((at, duration, target));
        }
    }
    // Header routes (`scalelab.dev/routes`, written by `export knative`).
    let routes_key = format!("{SCALELAB_PREFIX}routes");
    let mut routes: Vec<(String, String, String)> = Vec::new();
    if let Some(text) = docs.iter().rev().find_map(|d| service_ann(d, &routes_key)) {
        let list: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "annotation {routes_key}: not a JSON list of routes ({e})"
            ))
        })?;
        for (i, r) in list.iter().enumerate() {
            let field = |k: &str| {
                r.get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        bad(format!(
                            "annotation {routes_key}: route {i} has no string \"{k}\""
                        ))
                    })
            };
            let rev = field("revision")?;
            let rev = rev
                .strip_prefix(&format!("{name}-"))
                .unwrap_or(&rev)
                .to_string();
            routes.push((field("header")?, field("value")?, rev));
        }
    }
    let total: u32 = split.iter().map(|s| s.percent).sum();
    if !split.is_empty() && total != 100 {
        return Err(bad(format!(
            "spec.traffic: the percents add up to {total}, not 100"
        )));
    }
    // One revision taking everything (or no traffic block): plain [service] and [autoscaler].
    let single = split.len() <= 1 && split.iter().all(|s| s.tag.is_none()) && rollouts.is_empty();
    let find = |rev: &Option<String>| templates.iter().find(|(r, _)| r == rev).map(|(_, t)| *t);
    let mut revisions: Vec<(String, &Split, Template)> = Vec::new();
    let latest_t = template(latest, &mut warnings, &bad)?;
    let cpu_throttling = latest_t.cpu_throttling;
    let mut base = None;
    if single {
        // All traffic on one revision: its template when the manifest has it.
        base = Some(match split.first().and_then(|s| find(&s.revision)) {
            Some(t) if split[0].revision != latest_name => template(t, &mut warnings, &bad)?,
            _ => latest_t,
        });
    } else {
        for s in &split {
            let tmpl = match find(&s.revision) {
                Some(t) => t,
                None => {
                    warnings.push(format!(
                        "the manifest has no template of revision {}; it takes the settings of \
                         the latest template",
                        s.revision.as_deref().unwrap_or("latest")
                    ));
                    latest
                }
            };
            let scenario_name = match &s.revision {
                Some(r) => r.strip_prefix(&format!("{name}-")).unwrap_or(r).to_string(),
                None => "latest".to_string(),
            };
            revisions.push((scenario_name, s, template(tmpl, &mut warnings, &bad)?));
        }
    }
    let models = match cpu_throttling {
        Some(false) => "[\"cloud-run-instance\", \"cloud-run-request\"]",
        _ => "[\"cloud-run-request\", \"cloud-run-instance\"]",
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `scalelab import knative` from {source} (Knative Service \"{name}\")."
    );
    out.push_str(
        "# [service] and [autoscaler] (or each of [[revisions]]' own tables) carry the manifest's\n\
         # settings; keys it does not set take Knative's defaults. The service time, cold start,\n\
         # workload and [slo] below are PLACEHOLDERS: replace them with your service's\n\
         # measurements and traffic, then tune.\n",
    );
    let _ = writeln!(out, "name = {}", toml::Value::String(service_name));
    out.push_str("duration = \"10m\"\n\n[service]\n");
    if let Some(t) = &base {
        for (k, v) in &t.service {
            let _ = writeln!(out, "{k} = {v}");
        }
    }
    // The HPA scales on CPU: a share of the service time that is CPU work is needed, and no
    // manifest says it.
    let hpa = base.as_ref().is_some_and(|t| t.kind == "hpa")
        || revisions.iter().any(|(_, _, t)| t.kind == "hpa");
    if hpa {
        out.push_str(
            "cpu_share = 0.5   # placeholder: the share of each request's service time that is CPU work\n",
        );
    }
    out.push_str(
        "service_time = { dist = \"lognormal\", median = \"80ms\", p99 = \"600ms\" }   # placeholder\n\
         cold_start = { dist = \"lognormal\", median = \"1.2s\", p99 = \"6s\" }        # placeholder\n",
    );
    match &base {
        Some(t) => {
            let _ = writeln!(out, "\n[autoscaler]\nkind = \"{}\"", t.kind);
            for (k, v, from) in &t.autoscaler {
                let _ = writeln!(out, "{k} = {v}   # {from}");
            }
        }
        None => {
            for (scenario_name, s, t) in &revisions {
                let _ = writeln!(out, "\n[[revisions]]   # spec.traffic");
                let _ = writeln!(out, "name = {}", toml::Value::String(scenario_name.clone()));
                let _ = writeln!(out, "traffic = {}", s.percent);
                if let Some((_, at)) = created.iter().find(|(r, _)| s.revision.as_ref() == Some(r))
                {
                    let _ = writeln!(
                        out,
                        "created_at = {}   # {SCALELAB_PREFIX}created-at",
                        toml::Value::String(format::go_duration(*at))
                    );
                }
                if let Some(tag) = &s.tag {
                    let _ = writeln!(out, "tag = {}", toml::Value::String(tag.clone()));
                }
                if !t.service.is_empty() {
                    out.push_str("[revisions.service]\n");
                    for (k, v) in &t.service {
                        let _ = writeln!(out, "{k} = {v}");
                    }
                }
                let _ = writeln!(out, "[revisions.autoscaler]\nkind = \"{}\"", t.kind);
                for (k, v, from) in &t.autoscaler {
                    let _ = writeln!(out, "{k} = {v}   # {from}");
                }
            }
        }
    }
    if base.is_some() && !routes.is_empty() {
        warnings.push(format!(
            "{routes_key}: header routes need several revisions; the manifest has one, left out"
        ));
    } else {
        for (header, value, rev) in &routes {
            let _ = writeln!(out, "\n[[routes]]   # {routes_key}");
            let _ = writeln!(
                out,
                "match = {{ header = {}, value = {} }}",
                toml::Value::String(header.clone()),
                toml::Value::String(value.clone())
            );
            let _ = writeln!(out, "revision = {}", toml::Value::String(rev.clone()));
        }
    }
    for (at, duration, target) in &rollouts {
        let _ = writeln!(out, "\n[[rollouts]]   # {SCALELAB_PREFIX}rollout-at");
        let _ = writeln!(
            out,
            "at = {}",
            toml::Value::String(format::go_duration(*at))
        );
        let parts: Vec<String> = target
            .iter()
            .filter(|t| t.percent > 0)
            .map(|t| {
                let n = match &t.revision {
                    Some(r) => r.strip_prefix(&format!("{name}-")).unwrap_or(r).to_string(),
                    None => "latest".to_string(),
                };
                format!("{} = {}", toml::Value::String(n), t.percent)
            })
            .collect();
        let _ = writeln!(out, "traffic = {{ {} }}", parts.join(", "));
        let _ = writeln!(
            out,
            "duration = {}   # serving.knative.dev/rollout-duration",
            toml::Value::String(format::go_duration(*duration))
        );
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
        let hpa = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec:\n  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/class: custom.example.com\n";
        assert!(
            scenario_from_manifest(hpa, "t", "i.toml")
                .unwrap_err()
                .to_string()
                .contains("not simulated")
        );
        let bad = hpa.replace("class: custom.example.com", "min-scale: \"two\"");
        let e = scenario_from_manifest(&bad, "t", "i.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("autoscaling.knative.dev/min-scale"), "{e}");
        assert!(scenario_from_manifest("kind: Deployment\n", "t", "i.toml").is_err());
    }

    const SPLIT: &str = r#"
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: shop
spec:
  template:
    metadata:
      name: shop-green
      annotations:
        autoscaling.knative.dev/min-scale: "1"
    spec:
      containerConcurrency: 20
      containers:
        - image: x
  traffic:
    - revisionName: shop-blue
      percent: 75
      tag: blue
    - latestRevision: true
      percent: 25
      tag: green
    - revisionName: shop-blue
      tag: old
"#;

    #[test]
    fn a_traffic_block_becomes_revisions() {
        let Imported { toml, warnings } = scenario_from_manifest(SPLIT, "s", "i.toml").unwrap();
        let s = scalelab_core::scenario::Scenario::from_toml_str(&toml, "i.toml".as_ref()).unwrap();
        let revs: Vec<(&str, f64, Option<&str>)> = s
            .revisions
            .iter()
            .map(|r| (r.name.as_str(), r.traffic_percent, r.tag.as_deref()))
            .collect();
        assert_eq!(
            revs,
            [("blue", 75.0, Some("blue")), ("green", 25.0, Some("green"))]
        );
        // shop-blue's template is not in the manifest: it takes the latest one's, with a word.
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("no template of revision shop-blue")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("keeping blue")),
            "{warnings:?}"
        );
        assert!(
            s.revisions
                .iter()
                .all(|r| r.service.container_concurrency == 20)
        );
    }

    #[test]
    fn traffic_that_does_not_add_up_is_refused() {
        let bad = SPLIT.replace("percent: 25", "percent: 20");
        let e = scenario_from_manifest(&bad, "s.yaml", "i.toml").unwrap_err();
        assert!(e.is_bad_input());
        assert!(e.to_string().contains("add up to 95"), "{e}");
    }

    /// `import knative` on a 200 KB deeply nested flow document ran for 20 s and more: the
    /// YAML parser's time is quadratic in flow nesting. It is refused up front now.
    #[test]
    fn deep_or_huge_input_is_refused_before_parsing() {
        let deep = format!("a: {}1{}\n", "{a: ".repeat(66_000), "}".repeat(66_000));
        assert!(deep.len() > 200_000);
        let e = scenario_from_manifest(&deep, "deep.yaml", "i.toml").unwrap_err();
        assert!(e.is_bad_input());
        let e = e.to_string();
        assert!(e.starts_with("deep.yaml: line 1, column "), "{e}");
        assert!(e.contains("nest more than 64 levels"), "{e}");
        let wide = "[".repeat(100_000);
        assert!(scenario_from_manifest(&wide, "w.yaml", "i.toml").is_err());
        let huge = "# padding\n".repeat(MAX_BYTES / 10 + 1);
        let e = scenario_from_manifest(&huge, "h.yaml", "i.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes, more than"), "{e}");
        // Brackets in quotes and comments do not count; a normal manifest passes.
        assert!(check_bounds("a: \"[[[[\"\nb: '{{{' # [[[[[[\n").is_ok());
        assert!(check_bounds(SPLIT).is_ok());
    }
}
