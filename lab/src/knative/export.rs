//! Writing a scenario as a Knative Service manifest or `gcloud run deploy` commands.
//!
//! Annotation names and value formats follow Knative Serving (KPA.md §1): every value is a
//! string; percentages are percents (`"70"`, not `0.7`); durations are Go durations in whole
//! seconds where Knative requires them (`"60s"`). Settings Knative only has cluster-wide (in
//! the `config-autoscaler` ConfigMap) are written under `scalelab.dev/` when they differ from
//! the defaults, so that `scalelab import knative` reads every setting back; Knative ignores
//! them.
//!
//! A scenario with `[[revisions]]` becomes one Service document per revision, each with its
//! revision's template (named `SERVICE-REVISION`: Knative's bring-your-own revision name) and
//! a `traffic` block; applied in order they create the revisions and end with the scenario's
//! split, tags included. For Cloud Run: one `gcloud run deploy --revision-suffix` per revision
//! and a `gcloud run services update-traffic` with `--to-revisions` and `--set-tags`.

use std::fmt::Write as _;
use std::time::Duration;

use scalelab_core::autoscaler::keys::{self, Export, Key, Knative, Value};
use scalelab_core::autoscaler::{AutoscalerSettings, HpaSettings, KpaSettings};
use scalelab_core::scenario::{Revision, Scenario};

use super::format::{cpu_quantity, go_duration, memory_quantity, num};
use super::{HPA_CLASS, KPA_CLASS, PREFIX, SCALELAB_PREFIX};
use crate::LabError;

/// The Knative Service manifest of `s`, named `name`, running `image`; `source` says where
/// the settings came from (a comment in the manifest). One document for a one-revision
/// scenario; one per revision, ending with the traffic split, for `[[revisions]]`.
pub fn manifest(s: &Scenario, name: &str, image: &str, source: &str) -> Result<String, LabError> {
    match s.revisions.as_slice() {
        [rev] => {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "# Knative Service written by `scalelab export knative` from {source}."
            );
            let _ = writeln!(
                out,
                "# Deploy: kubectl apply -f FILE (set the image first)."
            );
            service_document(&mut out, s, rev, name, image, None, &Extra::default())?;
            Ok(out)
        }
        revs => {
            let plan = split(s, name)?;
            let mut out = String::new();
            let _ = writeln!(
                out,
                "# Knative Service written by `scalelab export knative` from {source}."
            );
            let shares: Vec<String> = plan
                .iter()
                .zip(revs)
                .filter(|(_, rev)| rev.created_at.is_zero())
                .map(|(r, _)| format!("{} {} %", r.scenario_name, r.percent))
                .collect();
            // Revisions created during the run come after, with the deploys.
            let from_start = revs.iter().filter(|r| r.created_at.is_zero()).count();
            let indices: Vec<String> = (0..from_start).map(|i| i.to_string()).collect();
            let _ = write!(
                out,
                "# The scenario starts with {n} revision(s) ({shares}).\n\
                 # Knative makes a revision from each change of spec.template, so the Service \
                 comes as {n}\n\
                 # documents, one per revision (named by its template); the last one sets the \
                 split and\n\
                 # the tags. Set the image, then apply the documents in order, each once the \
                 revision\n\
                 # before it is ready:\n\
                 #   for i in {indices}; do yq \"select(documentIndex == $i)\" FILE | kubectl \
                 apply -f - &&\n\
                 #     kubectl wait ksvc/{name} --for=condition=Ready; done\n",
                n = from_start,
                shares = shares.join(", "),
                indices = indices.join(" "),
            );
            let timeline = Timeline::new(s, &plan)?;
            if !timeline.events.is_empty() {
                let _ = writeln!(
                    out,
                    "# Deploys during the run: after the split, one document per later revision \
                     (`{SCALELAB_PREFIX}created-at`)\n\
                     # and per [[rollouts]] entry (the traffic to reach, Knative's \
                     serving.knative.dev/rollout-duration\n\
                     # and `{SCALELAB_PREFIX}rollout-at`): apply each at its time."
                );
            }
            let routes = routes_note(s, &plan);
            for line in routes.lines() {
                let _ = writeln!(out, "# {line}");
            }
            // Until the last document of the revisions that exist from the start, the first
            // revision keeps all traffic, so creating the others moves none.
            let hold = [Route {
                percent: 100,
                tag: None,
                ..plan[0].clone()
            }];
            let initial: Vec<usize> = (0..revs.len())
                .filter(|&i| revs[i].created_at.is_zero())
                .collect();
            for (j, &i) in initial.iter().enumerate() {
                out.push_str("---\n");
                let last = j + 1 == initial.len();
                let traffic: &[Route] = if last { &timeline.first } else { &hold };
                let mut extra = Extra {
                    revision: Some(plan[i].revision.clone()),
                    ..Extra::default()
                };
                if last && !s.routes.is_empty() {
                    extra
                        .service
                        .push((format!("{SCALELAB_PREFIX}routes"), routes_json(s, &plan)));
                }
                service_document(&mut out, s, &revs[i], name, image, Some(traffic), &extra)?;
            }
            let mut latest = *initial.last().unwrap_or(&0);
            for ev in &timeline.events {
                out.push_str("---\n");
                let mut extra = Extra::default();
                let mut latest_now = latest;
                match ev.what {
                    What::Revision(i) => {
                        latest_now = i;
                        let _ = writeln!(
                            out,
                            "# at {}: revision {} is deployed (no traffic moves)",
                            go_duration(ev.at),
                            plan[i].revision
                        );
                        extra
                            .template
                            .push((format!("{SCALELAB_PREFIX}created-at"), go_duration(ev.at)));
                    }
                    What::Rollout(j) => {
                        let ro = &s.rollouts[j];
                        rollout_comment(&mut out, ev.at, ro.duration);
                        extra.service.push((
                            "serving.knative.dev/rollout-duration".into(),
                            go_duration(ro.duration),
                        ));
                        extra
                            .service
                            .push((format!("{SCALELAB_PREFIX}rollout-at"), go_duration(ev.at)));
                    }
                }
                latest = latest_now;
                extra.revision = Some(plan[latest].revision.clone());
                service_document(
                    &mut out,
                    s,
                    &revs[latest],
                    name,
                    image,
                    Some(&ev.traffic),
                    &extra,
                )?;
            }
            Ok(out)
        }
    }
}

/// The header Knative routes on by itself: with its `tag-header-based-routing` feature on, a
/// request carrying `Knative-Serving-Tag: TAG` goes to the revision tagged TAG.
pub const TAG_HEADER: &str = "knative-serving-tag";

/// True when Knative itself carries route `r`: it matches [`TAG_HEADER`] on the tag of its
/// revision.
fn tag_header_route(s: &Scenario, r: &scalelab_core::scenario::HeaderRoute) -> bool {
    r.header == TAG_HEADER && s.revisions[r.revision_index].tag.as_deref() == Some(r.value.as_str())
}

/// `[[routes]]` as the `scalelab.dev/routes` annotation: a JSON list of `{header, value,
/// revision}` (the platform's revision name), read back by `import knative`.
fn routes_json(s: &Scenario, plan: &[Route]) -> String {
    let list: Vec<serde_json::Value> = s
        .routes
        .iter()
        .map(|r| {
            serde_json::json!({
                "header": r.header,
                "value": r.value,
                "revision": plan[r.revision_index].revision,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// What the manifest says about `[[routes]]` (comment lines): Knative Serving has no header
/// match of its own; tag-header routes are what its `tag-header-based-routing` feature does,
/// the others need a VirtualService of the mesh in front (Istio matches headers before
/// weights). Empty without routes.
fn routes_note(s: &Scenario, plan: &[Route]) -> String {
    if s.routes.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "[[routes]] (header matches before the split) are kept in the Service annotation \
         scalelab.dev/routes\n(Knative ignores it; `scalelab import knative` reads it back). \
         Knative Serving matches no header\nof its own:\n",
    );
    for r in &s.routes {
        let rev = &plan[r.revision_index].revision;
        if tag_header_route(s, r) {
            let _ = writeln!(
                out,
                "  {}: {} -> {rev}: Knative's tag-header-based routing does this; enable it with\n    \
                 kubectl patch configmap/config-features -n knative-serving --type merge \\\n    \
                 -p '{{\"data\":{{\"tag-header-based-routing\":\"Enabled\"}}}}'",
                r.header, r.value
            );
        } else {
            let _ = writeln!(
                out,
                "  {}: {} -> {rev}: NOT deployed by this manifest. Route it in the mesh ahead of \
                 Knative (an Istio\n    VirtualService with a headers match sending to the \
                 revision's tag URL), or use the header\n    Knative-Serving-Tag with the \
                 revision's tag (tag-header-based-routing).",
                r.header, r.value
            );
        }
    }
    out
}

/// Warnings for the person exporting `s` (stderr): what the manifest (`knative`) or the gcloud
/// commands do not deploy.
pub fn warnings(s: &Scenario, knative: bool) -> Vec<String> {
    let mut out = Vec::new();
    if s.revisions.len() < 2 {
        return out;
    }
    for r in &s.routes {
        if !knative {
            out.push(format!(
                "[[routes]] {}: {} -> {}: Cloud Run has no header-based routing (only tag URLs); \
                 not exported",
                r.header, r.value, r.revision
            ));
        } else if !tag_header_route(s, r) {
            out.push(format!(
                "[[routes]] {}: {} -> {}: Knative Serving has no header matches; kept in the \
                 scalelab.dev/routes annotation only (route it with an Istio VirtualService, or \
                 match Knative-Serving-Tag on the revision's tag)",
                r.header, r.value, r.revision
            ));
        }
    }
    out
}

/// The comment both exports write before a rollout's traffic moves.
fn rollout_comment(out: &mut String, at: Duration, over: Duration) {
    let _ = writeln!(
        out,
        "# at {}: traffic moves over {}",
        go_duration(at),
        go_duration(over)
    );
}

/// The `gcloud run deploy` command of `s` (one per revision with `[[revisions]]`, then
/// `gcloud run services update-traffic` with the split and the tags).
pub fn gcloud(s: &Scenario, name: &str, image: &str, source: &str) -> Result<String, LabError> {
    let mut notes = vec![format!(
        "Cloud Run deploy command written by `scalelab export gcloud` from {source}."
    )];
    let mut out = String::new();
    match s.revisions.as_slice() {
        [rev] => {
            let flags = deploy_flags(s, rev, image, &mut notes);
            command(&mut out, &format!("gcloud run deploy {name}"), &flags);
        }
        revs => {
            let plan = split(s, name)?;
            notes.push(format!(
                "The scenario splits traffic over {} revisions: one deploy per revision (named \
                 SERVICE-SUFFIX), then the split and the tags.",
                revs.len()
            ));
            let timeline = Timeline::new(s, &plan)?;
            let mut first = true;
            for (rev, r) in revs.iter().zip(&plan) {
                if !rev.created_at.is_zero() {
                    continue;
                }
                let mut flags = deploy_flags(s, rev, image, &mut notes);
                flags.push(format!("--revision-suffix={}", r.suffix));
                // A new service takes its first revision's traffic; later ones wait for the split.
                if !first {
                    flags.push("--no-traffic".into());
                }
                first = false;
                command(&mut out, &format!("gcloud run deploy {name}"), &flags);
            }
            update_traffic(&mut out, name, &timeline.first, true);
            if !s.routes.is_empty() {
                notes.push(
                    "[[routes]] (header matches) have no gcloud flag: Cloud Run routes by tag \
                     URL only."
                        .into(),
                );
            }
            if !timeline.events.is_empty() {
                notes.push(
                    "Deploys during the run follow at their scenario times (`sleep` between \
                     them): later revisions with --no-traffic, rollouts as update-traffic steps \
                     (Cloud Run has no rollout duration: Knative's steps, one command each)."
                        .into(),
                );
            }
            let mut clock = Duration::ZERO;
            let mut current: Vec<f64> = plan.iter().map(|r| f64::from(r.percent)).collect();
            let age: Vec<u64> = revs
                .iter()
                .map(|r| r.created_at.as_nanos() as u64)
                .collect();
            for ev in &timeline.events {
                sleep_until(&mut out, &mut clock, ev.at);
                match ev.what {
                    What::Revision(i) => {
                        let mut flags = deploy_flags(s, &revs[i], image, &mut notes);
                        flags.push(format!("--revision-suffix={}", plan[i].suffix));
                        flags.push("--no-traffic".into());
                        let _ = writeln!(
                            out,
                            "# at {}: deploy {}",
                            go_duration(ev.at),
                            plan[i].revision
                        );
                        command(&mut out, &format!("gcloud run deploy {name}"), &flags);
                    }
                    What::Rollout(j) => {
                        let ro = &s.rollouts[j];
                        rollout_comment(&mut out, ev.at, ro.duration);
                        let start = scalelab_core::Time::ZERO + ev.at;
                        let steps = scalelab_core::router::rollout::plan(
                            start,
                            &current,
                            &ro.percents(),
                            &age,
                            ro.duration,
                        );
                        let whole = steps
                            .iter()
                            .all(|st| st.percents.iter().all(|p| p.fract() == 0.0));
                        let steps = if whole {
                            steps
                        } else {
                            vec![steps[steps.len() - 1].clone()]
                        };
                        for st in &steps {
                            sleep_until(
                                &mut out,
                                &mut clock,
                                st.at.saturating_since(scalelab_core::Time::ZERO),
                            );
                            let routes: Vec<Route> = plan
                                .iter()
                                .zip(&st.percents)
                                .filter(|(_, p)| **p > 0.0)
                                .map(|(r, p)| Route {
                                    percent: *p as u32,
                                    ..r.clone()
                                })
                                .collect();
                            update_traffic(&mut out, name, &routes, false);
                        }
                        current = ro.percents();
                    }
                }
            }
        }
    }
    let mut head = String::new();
    let mut seen = Vec::new();
    for n in notes {
        if !seen.contains(&n) {
            let _ = writeln!(head, "# {n}");
            seen.push(n);
        }
    }
    Ok(head + &out)
}

/// `gcloud run services update-traffic NAME --to-revisions=…` (and the tags once).
fn update_traffic(out: &mut String, name: &str, routes: &[Route], tags: bool) {
    let mut flags = vec![format!(
        "--to-revisions={}",
        routes
            .iter()
            .map(|r| format!("{}={}", r.revision, r.percent))
            .collect::<Vec<_>>()
            .join(",")
    )];
    let tags: Vec<String> = routes
        .iter()
        .filter(|_| tags)
        .filter_map(|r| r.tag.as_ref().map(|t| format!("{t}={}", r.revision)))
        .collect();
    if !tags.is_empty() {
        flags.push(format!("--set-tags={}", tags.join(",")));
    }
    command(
        out,
        &format!("gcloud run services update-traffic {name}"),
        &flags,
    );
}

/// `sleep S` up to scenario time `at` (whole seconds, rounded up), if it is later than `clock`.
fn sleep_until(out: &mut String, clock: &mut Duration, at: Duration) {
    if at > *clock {
        let d = at - *clock;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let _ = writeln!(out, "sleep {secs}");
        *clock += Duration::from_secs(secs);
    }
}

/// What happens at a time of the run: a revision is created, or a rollout is asked for.
#[derive(Clone, Copy, Debug)]
enum What {
    Revision(usize),
    Rollout(usize),
}

/// One deploy event and the traffic block from then on.
struct Event {
    at: Duration,
    what: What,
    traffic: Vec<Route>,
}

/// The deploys of a scenario in time order: the split of the revisions that exist from the
/// start, then each later revision and each rollout with the traffic block after it.
struct Timeline {
    first: Vec<Route>,
    events: Vec<Event>,
}

impl Timeline {
    fn new(s: &Scenario, plan: &[Route]) -> Result<Timeline, LabError> {
        let mut exists: Vec<bool> = s.revisions.iter().map(|r| r.created_at.is_zero()).collect();
        let mut current: Vec<u32> = plan.iter().map(|r| r.percent).collect();
        let block = |exists: &[bool], current: &[u32]| -> Vec<Route> {
            plan.iter()
                .enumerate()
                .filter(|(i, r)| exists[*i] && (current[*i] > 0 || r.tag.is_some()))
                .map(|(i, r)| Route {
                    percent: current[i],
                    ..r.clone()
                })
                .collect()
        };
        let first = block(&exists, &current);
        let mut order: Vec<(Duration, What)> = s
            .revisions
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.created_at.is_zero())
            .map(|(i, r)| (r.created_at, What::Revision(i)))
            .collect();
        order.extend(
            s.rollouts
                .iter()
                .enumerate()
                .map(|(j, r)| (r.at, What::Rollout(j))),
        );
        // Stable: at the same time a revision is created before traffic moves to it.
        order.sort_by_key(|(at, _)| *at);
        let mut events = Vec::new();
        for (at, what) in order {
            match what {
                What::Revision(i) => exists[i] = true,
                What::Rollout(j) => {
                    for (i, (n, p)) in s.rollouts[j].traffic.iter().enumerate() {
                        if p.fract() != 0.0 {
                            return Err(LabError::Export(format!(
                                "rollouts[{j}] gives revision \"{n}\" {p} % of traffic: \
                                 Knative and Cloud Run split traffic in whole percents"
                            )));
                        }
                        current[i] = *p as u32;
                    }
                }
            }
            events.push(Event {
                at,
                what,
                traffic: block(&exists, &current),
            });
        }
        Ok(Timeline { first, events })
    }
}

/// What a document names besides its revision's settings: the revision's name, annotations
/// on the Service (`metadata.annotations`) and on the revision template.
#[derive(Default)]
struct Extra {
    /// The revision's name (Knative's bring-your-own revision name).
    revision: Option<String>,
    service: Vec<(String, String)>,
    template: Vec<(String, String)>,
}

/// One revision in the traffic split.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    /// The platform's revision name, `SERVICE-SUFFIX`.
    revision: String,
    /// Whole percent.
    percent: u32,
    /// Its tag, if any.
    tag: Option<String>,
    /// The scenario's name of the revision.
    scenario_name: String,
    /// `SUFFIX`.
    suffix: String,
}

/// The split of a `[[revisions]]` scenario as Knative and Cloud Run take it: revision names
/// `SERVICE-SUFFIX` (DNS labels), whole percents, DNS-label tags.
fn split(s: &Scenario, service: &str) -> Result<Vec<Route>, LabError> {
    let mut out: Vec<Route> = Vec::new();
    for r in &s.revisions {
        let suffix = super::service_name(&r.name).map_err(|_| {
            LabError::Export(format!(
                "revision \"{}\" gives no valid revision name: rename it with letters and digits",
                r.name
            ))
        })?;
        let revision = format!("{service}-{suffix}");
        if revision.len() > 63 {
            return Err(LabError::Export(format!(
                "revision name {revision} is longer than 63 characters: pass a shorter --name"
            )));
        }
        if let Some(o) = out.iter().find(|o| o.revision == revision) {
            return Err(LabError::Export(format!(
                "revisions \"{}\" and \"{}\" both become {revision}: rename one",
                o.scenario_name, r.name
            )));
        }
        if r.traffic_percent.fract() != 0.0 {
            return Err(LabError::Export(format!(
                "revision \"{}\" has {} % of traffic: Knative and Cloud Run split traffic in \
                 whole percents",
                r.name, r.traffic_percent
            )));
        }
        let tag = match &r.tag {
            None => None,
            Some(t) => {
                let ok = super::service_name(t).is_ok_and(|n| &n == t);
                if !ok {
                    return Err(LabError::Export(format!(
                        "revision \"{}\": tag \"{t}\" is not a DNS label (lowercase letters, \
                         digits and '-', starting with a letter)",
                        r.name
                    )));
                }
                Some(t.clone())
            }
        };
        out.push(Route {
            revision,
            percent: r.traffic_percent as u32,
            tag,
            scenario_name: r.name.clone(),
            suffix,
        });
    }
    Ok(out)
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
pub fn annotation_value<T>(key: &Key<T>, v: Value) -> Option<String> {
    let scale = if key.percent { 100.0 } else { 1.0 };
    Some(match v {
        Value::Number(x) | Value::Optional(Some(x)) => num(x * scale),
        Value::Optional(None) => return None,
        Value::Duration(d) => go_duration(d),
        other => other.to_string(),
    })
}

/// One annotation: name, value and a comment where one helps.
pub type Annotation = (String, String, Option<String>);

/// The annotations of an autoscaler's settings `k` under `class`, in the table's order: the
/// class, then each key Knative reads (those Knative has only cluster-wide or on the HPA object
/// under `scalelab.dev/`, with a comment), leaving out what the table exports only when it
/// differs from the default.
fn table_annotations<T: Default>(class: &str, table: &[Key<T>], k: &T) -> Vec<Annotation> {
    let mut v: Vec<Annotation> = vec![(format!("{PREFIX}class"), class.into(), None)];
    for key in table {
        let Some(knative) = key.knative else { continue };
        let value = key.get(k);
        if key.export == Export::UnlessDefault && value == key.default() {
            continue;
        }
        let Some(text) = annotation_value(key, value) else {
            continue;
        };
        let Some(name) = super::annotation_names(key).into_iter().next() else {
            continue;
        };
        let note = match knative {
            Knative::Revision { .. } | Knative::Annotation(_) => None,
            Knative::ClusterWide(_) => {
                Some("cluster-wide in Knative: set it in ConfigMap config-autoscaler".to_string())
            }
            Knative::Controller(flag) => Some(format!(
                "cluster-wide in Kubernetes: kube-controller-manager --{flag}"
            )),
            Knative::Behavior(field) => Some(format!(
                "the HPA object's spec.behavior.{field}: Knative's HPA class does not set it; \
                 patch the HorizontalPodAutoscaler"
            )),
        };
        v.push((name, text, note));
    }
    v
}

/// The annotations of a KPA revision (see [`table_annotations`]).
pub fn kpa_annotations(k: &KpaSettings) -> Vec<Annotation> {
    table_annotations(KPA_CLASS, &keys::KPA_KEYS, k)
}

/// The annotations of an HPA revision: class `hpa.autoscaling.knative.dev`, metric `cpu`, the
/// CPU target as a percentage (`autoscaling.knative.dev/target`), min and max scale, and the
/// controller's and `spec.behavior`'s settings under `scalelab.dev/` when not the defaults.
pub fn hpa_annotations(k: &HpaSettings) -> Vec<Annotation> {
    table_annotations(HPA_CLASS, &keys::HPA_KEYS, k)
}

/// Writes one Service document: the template of `rev` (named `revision` when given) and, when
/// given, the traffic block.
fn service_document(
    out: &mut String,
    s: &Scenario,
    rev: &Revision,
    name: &str,
    image: &str,
    traffic: Option<&[Route]>,
    extra: &Extra,
) -> Result<(), LabError> {
    let (mut anns, hpa) = match &rev.autoscaler {
        AutoscalerSettings::Kpa(k) => (kpa_annotations(k), false),
        AutoscalerSettings::Hpa(h) => (hpa_annotations(h), true),
        other => {
            return Err(LabError::Export(format!(
                "the scenario uses kind = \"{}\", which Knative does not have; export a KPA \
                 or HPA scenario (or use `scalelab export gcloud`)",
                other.kind()
            )));
        }
    };
    out.push_str("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n");
    let _ = writeln!(out, "  name: {name}");
    if !extra.service.is_empty() {
        out.push_str("  annotations:\n");
        for (k, v) in &extra.service {
            let _ = writeln!(out, "    {k}: {}", quote(v));
        }
    }
    out.push_str("spec:\n  template:\n    metadata:\n");
    if let Some(r) = &extra.revision {
        let _ = writeln!(out, "      name: {r}");
    }
    out.push_str("      annotations:\n");
    anns.extend(
        extra
            .template
            .iter()
            .map(|(k, v)| (k.clone(), v.clone(), None)),
    );
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
    let _ = writeln!(out, "      timeoutSeconds: {}", timeout_seconds(rev));
    out.push_str("      containers:\n");
    let _ = writeln!(out, "        - image: {}", quote(image));
    // The HPA's utilisation is of the CPU request: without one it cannot scale.
    let sections: &[&str] = if hpa {
        &["limits", "requests"]
    } else {
        &["limits"]
    };
    out.push_str("          resources:\n");
    for section in sections {
        let _ = writeln!(out, "            {section}:");
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
    }
    if let Some(routes) = traffic {
        out.push_str("  traffic:\n");
        for r in routes {
            let _ = writeln!(out, "    - revisionName: {}", r.revision);
            let _ = writeln!(out, "      percent: {}", r.percent);
            if let Some(t) = &r.tag {
                let _ = writeln!(out, "      tag: {t}");
            }
        }
    }
    Ok(())
}

/// The request timeout in whole seconds, rounded up (Knative and Cloud Run take seconds).
fn timeout_seconds(rev: &Revision) -> u64 {
    let t = rev.service.timeout;
    t.as_secs() + u64::from(t.subsec_nanos() > 0)
}

/// The `gcloud run deploy` flags of one revision; what Cloud Run cannot express goes to
/// `notes`.
fn deploy_flags(s: &Scenario, rev: &Revision, image: &str, notes: &mut Vec<String>) -> Vec<String> {
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
        AutoscalerSettings::CloudRun(k) => {
            // The drivers' targets, window and retention are Cloud Run's own: no flags.
            let d = scalelab_core::autoscaler::CloudRunSettings::default();
            let changed: Vec<&str> = [
                ("cpu_target", k.cpu_target != d.cpu_target),
                (
                    "concurrency_target",
                    k.concurrency_target != d.concurrency_target,
                ),
                ("window", k.window != d.window),
                ("idle_retention", k.idle_retention != d.idle_retention),
                (
                    "evaluation_period",
                    k.evaluation_period != d.evaluation_period,
                ),
            ]
            .iter()
            .filter_map(|(key, c)| c.then_some(*key))
            .collect();
            if !changed.is_empty() {
                notes.push(format!(
                    "Cloud Run has no flags for the autoscaler's {}: the deployed service uses \
                     Cloud Run's own values.",
                    changed.join(", ")
                ));
            }
            (k.min_scale, k.max_scale)
        }
        AutoscalerSettings::Hpa(k) => {
            notes.push(
                "Cloud Run's autoscaler is not the Kubernetes HPA: the CPU target, sync period, \
                 tolerance and stabilisation have no flags; min and max instances carry over."
                    .into(),
            );
            (k.min_scale, k.max_scale)
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
    flags.push(format!("--timeout={}", timeout_seconds(rev)));
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
    flags
}

/// One shell command, a flag per line.
fn command(out: &mut String, cmd: &str, flags: &[String]) {
    out.push_str(cmd);
    for f in flags {
        let _ = write!(out, " \\\n  {}", shell_word(f));
    }
    out.push('\n');
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
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
