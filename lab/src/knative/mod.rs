//! Knative Serving and Cloud Run: a scenario's settings as a Knative Service manifest or
//! `gcloud run` commands ([`export`]), and a manifest back into scenario tables ([`import`]).
//!
//! The names of the autoscaling annotations and how their values are spelled follow Knative
//! Serving (KPA.md §1); [`format`] has the spellings (Go durations, Kubernetes quantities).

pub mod export;
pub mod format;
pub mod import;

pub use export::{gcloud, manifest};
pub use import::{Imported, scenario_from_manifest};

use crate::LabError;

/// Knative's per-revision autoscaling annotation prefix.
pub const PREFIX: &str = "autoscaling.knative.dev/";
/// Where settings Knative has only cluster-wide are kept.
pub const SCALELAB_PREFIX: &str = "scalelab.dev/";
/// The KPA class.
pub const KPA_CLASS: &str = "kpa.autoscaling.knative.dev";

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
    use scalelab_core::autoscaler::AutoscalerSettings;
    use scalelab_core::autoscaler::keys::KPA_KEYS;
    use scalelab_core::scenario::Scenario;

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

    #[test]
    fn every_key_of_the_table_survives_export_and_import() {
        let mut src = String::from(
            "name = \"knobs\"\nduration = \"1m\"\nworkload = { phases = [{ duration = \"1m\", \
             arrival = { process = \"constant\", rate = 1 } }] }\n[autoscaler]\n",
        );
        for k in &KPA_KEYS {
            let (_, v) = AWAY
                .iter()
                .find(|(key, _)| *key == k.key)
                .unwrap_or_else(|| panic!("AWAY sets {}", k.key));
            src += &format!("{} = {v}\n", k.key);
        }
        let s = Scenario::from_toml_str(&src, "k.toml".as_ref()).expect("valid");
        let yaml = super::manifest(&s, "knobs", "img", "k.toml").expect("exported");
        let back = super::scenario_from_manifest(&yaml, "k.yaml", "i.toml").expect("imported");
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        let t = Scenario::from_toml_str(&back.toml, "i.toml".as_ref()).expect("valid");
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
        let s = Scenario::from_toml_str(src, "d.toml".as_ref()).expect("valid");
        let yaml = super::manifest(&s, "deploy", "img", "d.toml").expect("exported");
        assert!(
            yaml.contains("serving.knative.dev/rollout-duration: \"5s\""),
            "{yaml}"
        );
        let back = super::scenario_from_manifest(&yaml, "d.yaml", "i.toml").expect("imported");
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        let t = Scenario::from_toml_str(&back.toml, "i.toml".as_ref()).expect("valid");
        let names = |s: &Scenario| -> Vec<(String, f64, std::time::Duration)> {
            s.revisions
                .iter()
                .map(|r| (r.name.clone(), r.traffic_percent, r.created_at))
                .collect()
        };
        assert_eq!(names(&t), names(&s), "{}", back.toml);
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
}
