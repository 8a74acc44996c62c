//! Knative Serving and Cloud Run: a scenario's settings as a Knative Service manifest or
//! `gcloud run` commands ([`export`]), and a manifest back into scenario tables ([`import`]).
//!
//! The names of the autoscaling annotations and how their values are spelled follow Knative
//! Serving (KPA.md §1); [`format`] has the spellings (Go durations, Kubernetes quantities).

pub mod export;
pub mod format;
pub mod gcloud;
pub mod import;

pub use export::{gcloud, manifest};
pub use gcloud::scenario_from_gcloud;
pub use import::{Imported, scenario_from_manifest};

use crate::LabError;

/// Knative's per-revision autoscaling annotation prefix.
pub const PREFIX: &str = "autoscaling.knative.dev/";
/// Where settings Knative has only cluster-wide are kept.
pub const SCALELAB_PREFIX: &str = "scalelab.dev/";
/// The KPA class.
pub const KPA_CLASS: &str = "kpa.autoscaling.knative.dev";
/// Knative's HPA class (a Kubernetes HorizontalPodAutoscaler per revision).
pub const HPA_CLASS: &str = "hpa.autoscaling.knative.dev";

/// The annotation names a key of an autoscaler table is read from, preferred (and written)
/// first; empty for a key Knative has no setting for. Settings Knative has only cluster-wide
/// (`config-autoscaler`, controller flags) or on the HPA object (`spec.behavior`) live under
/// `scalelab.dev/`: Knative ignores them, `import knative` reads them back. A behaviour field
/// path is no valid annotation name, so those use the key (`scalelab.dev/scale-up-pods`).
pub fn annotation_names<T>(key: &scalelab_core::autoscaler::keys::Key<T>) -> Vec<String> {
    use scalelab_core::autoscaler::keys::Knative;
    match key.knative {
        None => Vec::new(),
        Some(Knative::Revision { name, legacy }) => std::iter::once(name)
            .chain(legacy)
            .map(|n| format!("{PREFIX}{n}"))
            .collect(),
        Some(Knative::Annotation(name)) => vec![name.to_string()],
        Some(Knative::ClusterWide(name) | Knative::Controller(name)) => {
            vec![format!("{SCALELAB_PREFIX}{name}")]
        }
        Some(Knative::Behavior(_)) => {
            vec![format!("{SCALELAB_PREFIX}{}", key.key.replace('_', "-"))]
        }
    }
}

/// A Kubernetes object name (RFC 1123 label) from a scenario name.
pub fn service_name(name: &str) -> Result<String, LabError> {
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
        return Err(LabError::Export(format!(
            "\"{name}\" gives no valid service name: pass --name"
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns_labels() {
        assert_eq!(service_name("Spiky API v2!").unwrap(), "spiky-api-v2");
        assert_eq!(service_name("42-things").unwrap(), "things");
        assert!(service_name("___").is_err());
    }
}

#[cfg(test)]
mod round_trip {
    use super::{Imported, scenario_from_gcloud};
    use scalelab_core::autoscaler::AutoscalerSettings;
    use scalelab_core::autoscaler::keys::{KPA_KEYS, Key};
    use scalelab_core::scenario::Scenario;

    /// A scenario written by a test (or read back by one).
    fn parse(src: &str, file: &str) -> Scenario {
        Scenario::from_toml_str(src, file.as_ref()).expect("valid")
    }

    /// A one-minute scenario `name` at one request a second, with `tables` after the workload.
    fn one_minute(name: &str, tables: &str) -> Scenario {
        let src = format!(
            "name = \"{name}\"\nduration = \"1m\"\nworkload = {{ phases = [{{ duration = \"1m\", \
             arrival = {{ process = \"constant\", rate = 1 }} }}] }}\n{tables}"
        );
        parse(&src, &format!("{name}.toml"))
    }

    /// `s` exported as the manifest of service `name`, and what importing it gives: the
    /// manifest, the import and the scenario it parses to.
    fn via_manifest(s: &Scenario, name: &str) -> (String, Imported, Scenario) {
        let yaml = super::manifest(s, name, "img", "s.toml").expect("exported");
        let back = super::scenario_from_manifest(&yaml, "s.yaml", "i.toml").expect("imported");
        let t = parse(&back.toml, "i.toml");
        (yaml, back, t)
    }

    /// `s` exported as the gcloud commands for service `name`, and what importing them gives.
    fn via_gcloud(s: &Scenario, name: &str) -> (String, Imported, Scenario) {
        let sh = super::gcloud(s, name, "img", "s.toml").expect("exported");
        let back = scenario_from_gcloud(&sh, "s.sh", "i.toml").expect("imported");
        let t = parse(&back.toml, "i.toml");
        (sh, back, t)
    }

    /// The one-minute scenario `name` with `tables` through `via_gcloud`, checked to carry its
    /// service settings back: the scenario, the script, the import and what it parses to.
    fn service_through_gcloud(name: &str, tables: &str) -> (Scenario, String, Imported, Scenario) {
        let s = one_minute(name, tables);
        let (sh, back, t) = via_gcloud(&s, name);
        assert_eq!(
            carried(&t.revisions[0].service),
            carried(&s.revisions[0].service),
            "{}",
            back.toml
        );
        (s, sh, back, t)
    }

    /// `scenarios/rollout.toml`: revisions, rollouts, routes and variants of them.
    fn rollout_toml() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/rollout.toml"
        ))
        .expect("scenarios/rollout.toml")
    }

    /// Each revision's name, traffic share, creation time and tag.
    fn revisions(s: &Scenario) -> Vec<(String, f64, std::time::Duration, Option<String>)> {
        s.revisions
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.traffic_percent,
                    r.created_at,
                    r.tag.clone(),
                )
            })
            .collect()
    }

    /// A value away from the default for every KPA key.
    const AWAY: [(&str, &str); 20] = [
        ("metric", "\"rps\""),
        ("target", "150"),
        ("target_utilization", "0.8"),
        ("stable_window", "\"2m\""),
        ("panic_window_percentage", "20"),
        ("panic_threshold_percentage", "300"),
        ("max_scale_up_rate", "50"),
        ("max_scale_down_rate", "4"),
        ("target_burst_capacity", "-1"),
        ("scale_to_zero_grace_period", "\"45s\""),
        ("scale_to_zero_pod_retention", "\"90s\""),
        ("scale_down_delay", "\"30s\""),
        ("min_scale", "2"),
        ("max_scale", "30"),
        ("initial_scale", "3"),
        ("activation_scale", "4"),
        ("enable_scale_to_zero", "false"),
        ("aggregation", "\"weighted-exponential\""),
        ("activator_capacity", "200"),
        ("progress_deadline", "\"300s\""),
    ];

    /// `key = value` lines setting every key of a table to its value in `away`.
    fn every_key<T>(keys: &[Key<T>], away: &[(&str, &str)]) -> String {
        keys.iter()
            .map(|k| {
                let (_, v) = away
                    .iter()
                    .find(|(key, _)| *key == k.key)
                    .unwrap_or_else(|| panic!("the away values set {}", k.key));
                format!("{} = {v}\n", k.key)
            })
            .collect()
    }

    #[test]
    fn every_key_of_the_table_survives_export_and_import() {
        let tables = String::from("[autoscaler]\n") + &every_key(&KPA_KEYS, &AWAY);
        let s = one_minute("knobs", &tables);
        let (_, back, t) = via_manifest(&s, "knobs");
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        let (AutoscalerSettings::Kpa(a), AutoscalerSettings::Kpa(b)) =
            (&s.revisions[0].autoscaler, &t.revisions[0].autoscaler)
        else {
            panic!("kpa")
        };
        assert_eq!(a, b);
    }

    /// Deploys as events: a revision created later and rollouts (instant and gradual) survive
    /// export and import; gcloud gets the --no-traffic deploy and the update-traffic steps.
    #[test]
    fn deploys_survive_export_and_import() {
        let src = r#"
            name = "deploy"
            duration = "20m"
            workload = { phases = [{ duration = "20m", arrival = { process = "constant", rate = 1 } }] }
            [[revisions]]
            name = "v1"
            traffic = 100
            [[revisions]]
            name = "v2"
            created_at = "4m"
            autoscaler = { initial_scale = 2 }
            [[rollouts]]
            at = "6m"
            traffic = { v1 = 90, v2 = 10 }
            [[rollouts]]
            at = "8m"
            traffic = { v2 = 100 }
            duration = "5s"
            [[rollouts]]
            at = "12m"
            traffic = { v1 = 100 }
        "#;
        let s = parse(src, "d.toml");
        let (yaml, back, t) = via_manifest(&s, "deploy");
        assert!(
            yaml.contains("serving.knative.dev/rollout-duration: \"5s\""),
            "{yaml}"
        );
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(revisions(&t), revisions(&s), "{}", back.toml);
        assert_eq!(t.rollouts, s.rollouts, "{}", back.toml);
        let AutoscalerSettings::Kpa(k) = &t.revisions[1].autoscaler else {
            panic!("kpa")
        };
        assert_eq!(k.initial_scale, 2);

        let sh = super::gcloud(&s, "deploy", "img", "d.toml").expect("exported");
        let deploy_v2 = sh.find("--revision-suffix=v2").expect("v2 deployed");
        assert!(
            sh[deploy_v2..].starts_with("--revision-suffix=v2 \\\n  --no-traffic"),
            "{sh}"
        );
        // 6m: 90/10 at once; 8m: 1 %, then round(89 / 4) = 22 % steps (5 s); 12m: back to v1.
        for step in [
            "--to-revisions=deploy-v1=100\n",
            "--to-revisions=deploy-v1=90,deploy-v2=10\n",
            "--to-revisions=deploy-v1=89,deploy-v2=11\n",
            "--to-revisions=deploy-v1=67,deploy-v2=33\n",
            "--to-revisions=deploy-v1=23,deploy-v2=77\n",
            "--to-revisions=deploy-v2=100\n",
        ] {
            assert!(sh.contains(step), "{step} in {sh}");
        }
        assert!(
            sh.trim_end().ends_with("--to-revisions=deploy-v1=100"),
            "{sh}"
        );
        assert!(sh.contains("sleep 240\n"), "{sh}");
    }

    /// A value away from the default for every HPA key.
    const HPA_AWAY: [(&str, &str); 13] = [
        ("metric", "\"cpu\""),
        ("cpu_target", "0.65"),
        ("min_scale", "2"),
        ("max_scale", "12"),
        ("sync_period", "\"30s\""),
        ("tolerance", "0.2"),
        ("scale_down_stabilization", "\"2m\""),
        ("scale_up_stabilization", "\"30s\""),
        ("scale_up_pods", "2"),
        ("scale_up_percent", "50"),
        ("scale_down_percent", "25"),
        ("policy_period", "\"30s\""),
        ("cpu_initialization_period", "\"1m\""),
    ];

    /// `kind = "hpa"`: export writes Knative's HPA class, metric cpu, the target as a
    /// percentage and min/max scale; import reads every key of the table back.
    #[test]
    fn every_hpa_key_survives_export_and_import() {
        use scalelab_core::autoscaler::keys::HPA_KEYS;
        let tables =
            String::from("[service]\nvcpu = 2\ncpu_share = 0.5\n[autoscaler]\nkind = \"hpa\"\n")
                + &every_key(&HPA_KEYS, &HPA_AWAY);
        let s = one_minute("cpu", &tables);
        let (yaml, back, t) = via_manifest(&s, "cpu");
        for line in [
            "autoscaling.knative.dev/class: \"hpa.autoscaling.knative.dev\"",
            "autoscaling.knative.dev/metric: \"cpu\"",
            "autoscaling.knative.dev/target: \"65\"",
            "autoscaling.knative.dev/min-scale: \"2\"",
            "autoscaling.knative.dev/max-scale: \"12\"",
            "scalelab.dev/horizontal-pod-autoscaler-sync-period: \"30s\"",
            "scalelab.dev/scale-up-pods: \"2\"",
            "requests:\n              cpu: \"2\"",
        ] {
            assert!(yaml.contains(line), "{line} in {yaml}");
        }
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        let (AutoscalerSettings::Hpa(a), AutoscalerSettings::Hpa(b)) =
            (&s.revisions[0].autoscaler, &t.revisions[0].autoscaler)
        else {
            panic!("hpa: {}", back.toml)
        };
        assert_eq!(a, b);
        assert_eq!(s.revisions[0].service.vcpu, t.revisions[0].service.vcpu);
        // Defaults stay out of the manifest; the round trip still gives them.
        let plain = one_minute(
            "p",
            "[service]\ncpu_share = 0.5\n[autoscaler]\nkind = \"hpa\"\n",
        );
        let (yaml, _, t) = via_manifest(&plain, "p");
        assert!(!yaml.contains("scalelab.dev/"), "{yaml}");
        assert_eq!(plain.revisions[0].autoscaler, t.revisions[0].autoscaler);
    }

    /// An HPA manifest with a KPA-only annotation and a metric the HPA class does not model.
    #[test]
    fn hpa_manifests_name_what_is_left_out() {
        let yaml = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\n\
                    spec:\n  template:\n    metadata:\n      annotations:\n        \
                    autoscaling.knative.dev/class: hpa.autoscaling.knative.dev\n        \
                    autoscaling.knative.dev/metric: cpu\n        \
                    autoscaling.knative.dev/target: \"70\"\n        \
                    autoscaling.knative.dev/scale-down-delay: \"30s\"\n";
        let back = super::scenario_from_manifest(yaml, "a.yaml", "i.toml").expect("imported");
        assert!(back.toml.contains("kind = \"hpa\""), "{}", back.toml);
        assert!(back.toml.contains("cpu_target = 0.7"), "{}", back.toml);
        assert_eq!(back.warnings.len(), 1, "{:?}", back.warnings);
        assert!(
            back.warnings[0].contains("scale-down-delay is not simulated for kind = \"hpa\""),
            "{:?}",
            back.warnings
        );
        let memory = yaml.replace("metric: cpu", "metric: memory");
        let e = super::scenario_from_manifest(&memory, "a.yaml", "i.toml").unwrap_err();
        assert!(e.is_bad_input());
        let e = e.to_string();
        assert!(
            e.contains("autoscaling.knative.dev/metric") && e.contains("memory"),
            "{e}"
        );
    }

    /// What `export gcloud` writes for `cloud-run` (concurrency, min/max instances, cpu, memory,
    /// timeout, boost, billing) `import gcloud` reads back into the same settings.
    #[test]
    fn cloud_run_survives_gcloud_export_and_import() {
        let tables = r#"
            [service]
            container_concurrency = 40
            vcpu = 2
            memory_gib = 1.5
            timeout = "120s"
            startup_cpu_boost = true
            [autoscaler]
            kind = "cloud-run"
            min_scale = 1
            max_scale = 25
            [billing]
            models = ["cloud-run-instance"]
        "#;
        let (s, sh, back, t) = service_through_gcloud("run", tables);
        assert!(!sh.contains("not Knative's KPA"), "{sh}");
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(
            t.revisions[0].autoscaler, s.revisions[0].autoscaler,
            "{}",
            back.toml
        );
        assert_eq!(t.billing.models[0], "cloud-run-instance");
    }

    /// A KPA scenario through gcloud: the keys Cloud Run has flags for come back (min and max
    /// instances, the service), under Cloud Run's own autoscaler.
    #[test]
    fn kpa_through_gcloud_keeps_what_the_flags_carry() {
        let tables = r#"
            [service]
            container_concurrency = 10
            vcpu = 0.5
            memory_gib = 0.5
            [autoscaler]
            min_scale = 1
            max_scale = 7
            target = 7
        "#;
        let (s, _, back, t) = service_through_gcloud("kpa", tables);
        let (AutoscalerSettings::Kpa(k), AutoscalerSettings::CloudRun(c)) =
            (&s.revisions[0].autoscaler, &t.revisions[0].autoscaler)
        else {
            panic!("{}", back.toml)
        };
        assert_eq!((k.min_scale, k.max_scale), (c.min_scale, c.max_scale));
    }

    /// The rollout scenario through gcloud: revisions created later, the initial split with its
    /// tags, an instant switch, a gradual rollout (Knative's steps, read back as one rollout with
    /// its duration) and a rollback.
    #[test]
    fn deploys_survive_gcloud_export_and_import() {
        let s = parse(&rollout_toml(), "rollout.toml");
        assert!(!s.rollouts.is_empty());
        let services =
            |s: &Scenario| -> Vec<_> { s.revisions.iter().map(|r| carried(&r.service)).collect() };
        for v in variants(&s) {
            let (sh, back, t) = via_gcloud(&v, "shop");
            assert!(back.warnings.is_empty(), "{:?}", back.warnings);
            assert_eq!(revisions(&t), revisions(&v), "{sh}\n{}", back.toml);
            assert_eq!(services(&t), services(&v), "{sh}\n{}", back.toml);
            assert_eq!(t.rollouts, v.rollouts, "{sh}\n{}", back.toml);
        }
    }

    /// The scenario of each variant (the baseline first).
    fn variants(s: &Scenario) -> Vec<Scenario> {
        s.runs().into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// The `[service]` keys Knative manifests and gcloud flags carry.
    fn carried(s: &scalelab_core::scenario::Service) -> (u32, f64, f64, std::time::Duration, bool) {
        (
            s.container_concurrency,
            s.vcpu,
            s.memory_gib,
            s.timeout,
            s.startup_cpu_boost,
        )
    }

    /// Hand-written scripts: flags in both spellings, unknown flags and commands named, an
    /// update-traffic after a sleep is an instant switch, bad values exit 2 with the line.
    #[test]
    fn hand_written_gcloud_scripts() {
        let sh = "#!/bin/sh\nset -e\ngcloud run deploy api --image gcr.io/x/y --region europe-west1 \\\n  \
                  --concurrency 30 --min-instances=2 --memory 1Gi --execution-environment gen2 \\\n  \
                  --revision-suffix=blue\ngcloud run deploy api --revision-suffix=green --no-traffic --cpu 2\n\
                  gcloud run services update-traffic api --to-revisions=api-green=20 --set-tags=canary=api-green\n\
                  sleep 90\ngcloud run services update-traffic api --to-latest\n";
        let back = scenario_from_gcloud(sh, "d.sh", "i.toml").expect("imported");
        assert_eq!(back.warnings.len(), 2, "{:?}", back.warnings);
        assert!(
            back.warnings[0].contains("line 2: `set`"),
            "{:?}",
            back.warnings
        );
        assert!(
            back.warnings[1].contains("line 3: gcloud run deploy --execution-environment"),
            "{:?}",
            back.warnings
        );
        let t = parse(&back.toml, "i.toml");
        let r: Vec<_> = t
            .revisions
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.traffic_percent,
                    r.tag.as_deref(),
                    r.service.container_concurrency,
                    r.service.vcpu,
                )
            })
            .collect();
        // green inherits blue's concurrency (a deploy changes only what its flags say).
        assert_eq!(
            r,
            [
                ("blue", 80.0, None, 30, 1.0),
                ("green", 20.0, Some("canary"), 30, 2.0)
            ],
            "{}",
            back.toml
        );
        assert_eq!(t.rollouts.len(), 1);
        assert_eq!(t.rollouts[0].at, std::time::Duration::from_secs(90));
        assert_eq!(t.rollouts[0].duration, std::time::Duration::ZERO);
        assert_eq!(
            t.rollouts[0].traffic,
            [("blue".to_string(), 0.0), ("green".to_string(), 100.0)]
        );
        for (bad, says) in [
            (
                "gcloud run deploy api --concurrency=lots\n",
                "line 1: --concurrency",
            ),
            ("gcloud run deploy api --memory lots\n", "line 1: --memory"),
            (
                "gcloud run deploy api --memory 12 parsecs\n",
                "unexpected word \"parsecs\"",
            ),
            (
                "gcloud run deploy api\ngcloud run services update-traffic api --to-revisions=api-r9=100\n",
                "line 2: revision api-r9 is not deployed",
            ),
            (
                "gcloud run deploy api \"--cpu=1\n",
                "line 1: unbalanced quotes",
            ),
            ("echo hi\n", "no `gcloud run deploy SERVICE` command"),
        ] {
            let e = scenario_from_gcloud(bad, "b.sh", "i.toml").unwrap_err();
            assert!(e.is_bad_input(), "{e}");
            assert!(e.to_string().contains(says), "{says} in {e}");
        }
    }

    /// `[[routes]]`: kept in `scalelab.dev/routes` and read back; a route on
    /// Knative-Serving-Tag with the revision's tag is what Knative's tag-header-based routing
    /// does (no warning); any other header is warned about, and gcloud warns about every route.
    #[test]
    fn routes_survive_knative_export_and_import() {
        let src = rollout_toml();
        let s = parse(&src, "rollout.toml");
        let (yaml, back, t) = via_manifest(&s, "shop");
        assert!(yaml.contains("scalelab.dev/routes: "), "{yaml}");
        assert!(
            yaml.contains("x-canary: 1 -> shop-v2: NOT deployed"),
            "{yaml}"
        );
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(t.routes, s.routes, "{}", back.toml);
        // Every variant's deploys (instant, gradual, canary and rollback) come back too.
        for v in variants(&s) {
            let (_, back, t) = via_manifest(&v, "shop");
            assert_eq!(revisions(&t), revisions(&v), "{}", back.toml);
            assert_eq!(t.rollouts, v.rollouts, "{}", back.toml);
            assert_eq!(t.routes, v.routes, "{}", back.toml);
        }
        let w = super::export::warnings(&s, true);
        assert!(w.len() == 1 && w[0].contains("x-canary: 1 -> v2"), "{w:?}");
        let w = super::export::warnings(&s, false);
        assert!(
            w.len() == 1 && w[0].contains("Cloud Run has no header-based routing"),
            "{w:?}"
        );

        let tagged = src
            .replace("name = \"v2\"\n", "name = \"v2\"\ntag = \"canary\"\n")
            .replace(
                "match = { header = \"x-canary\", value = \"1\" }",
                "match = { header = \"Knative-Serving-Tag\", value = \"canary\" }",
            );
        let s = parse(&tagged, "rollout.toml");
        assert!(super::export::warnings(&s, true).is_empty());
        let (yaml, back, t) = via_manifest(&s, "shop");
        assert!(
            yaml.contains("tag-header-based-routing\\\":\\\"Enabled")
                || yaml.contains("\"tag-header-based-routing\":\"Enabled\""),
            "{yaml}"
        );
        assert_eq!(t.routes, s.routes, "{}", back.toml);
        assert_eq!(t.revisions[1].tag.as_deref(), Some("canary"));
    }
}
