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
