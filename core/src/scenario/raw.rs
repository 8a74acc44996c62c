#![allow(missing_docs)] // the fields mirror the documented scenario keys one-to-one
//! The raw layer: the TOML file one-to-one, every key optional, unknown keys rejected.
//! Values that are checked later are wrapped in [`Spanned`] so a check can name their line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::Dur;

/// A value with its byte range in the file.
pub type S<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<S<String>>,
    pub description: Option<String>,
    pub seed: Option<S<i64>>,
    pub duration: Option<S<Dur>>,
    pub service: Option<S<RawService>>,
    pub revisions: Option<S<Vec<S<RawRevision>>>>,
    pub autoscaler: Option<S<RawAutoscaler>>,
    pub router: Option<S<RawRouter>>,
    pub workload: Option<S<RawWorkload>>,
    pub billing: Option<S<crate::billing::RawBilling>>,
    pub slo: Option<S<RawSlo>>,
    pub variants: Option<Vec<S<RawVariant>>>,
    pub load: Option<S<super::load::RawLoad>>,
    pub sim: Option<S<RawSim>>,
    pub tune: Option<S<crate::tune::RawTune>>,
}

/// `[service]` (and a revision's own `service` table).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub container_concurrency: Option<S<i64>>,
    pub vcpu: Option<S<f64>>,
    pub memory_gib: Option<S<f64>>,
    pub timeout: Option<S<Dur>>,
    pub service_time: Option<S<RawDist>>,
    pub cold_start: Option<S<RawDist>>,
    pub cold_service_time: Option<S<RawDist>>,
    pub warm_at_start: Option<bool>,
    pub shutdown: Option<S<Dur>>,
    pub startup_cpu_boost: Option<bool>,
}

/// `[[revisions]]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRevision {
    pub name: S<String>,
    pub traffic: S<f64>,
    pub tag: Option<S<String>>,
    pub service: Option<S<RawService>>,
    pub autoscaler: Option<S<RawAutoscaler>>,
}

/// A distribution: `{ dist = "lognormal", median = "80ms", p99 = "600ms" }` and friends.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawDist {
    pub dist: S<String>,
    pub value: Option<S<Dur>>,
    pub mean: Option<S<Dur>>,
    pub median: Option<S<Dur>>,
    pub p99: Option<S<Dur>>,
    pub min: Option<S<Dur>>,
    pub max: Option<S<Dur>>,
    pub parts: Option<Vec<S<RawDist>>>,
    pub weight: Option<S<f64>>,
}

/// `[autoscaler]` (and a revision's own `autoscaler` table): every key as written. Which keys
/// exist and what they take is the autoscaler key table's business
/// ([`crate::autoscaler::keys`]), so the keys are not listed here.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(transparent)]
pub struct RawAutoscaler(pub BTreeMap<S<String>, S<toml::Value>>);

impl RawAutoscaler {
    /// The entry for `key`.
    pub fn get(&self, key: &str) -> Option<(&S<String>, &S<toml::Value>)> {
        self.0.iter().find(|(k, _)| k.get_ref() == key)
    }

    /// `self` with the keys of `over` replacing its own (a revision's table over `[autoscaler]`).
    pub fn merged(&self, over: Option<&RawAutoscaler>) -> RawAutoscaler {
        let mut out = self.clone();
        for (k, v) in over.into_iter().flat_map(|o| &o.0) {
            out.0.retain(|old, _| old.get_ref() != k.get_ref());
            out.0.insert(k.clone(), v.clone());
        }
        out
    }
}

/// `[router]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRouter {
    pub policy: Option<S<String>>,
    pub overhead: Option<S<Dur>>,
    pub slot_overhead: Option<S<Dur>>,
    pub activator_queue_depth: Option<S<i64>>,
}

/// `[workload]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub phases: Option<Vec<S<RawPhase>>>,
}

/// `[[workload.phases]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: Option<String>,
    pub duration: Option<S<Dur>>,
    pub arrival: S<RawArrival>,
}

/// An arrival process: `{ process = "poisson", rate = 40 }` and friends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrival {
    pub process: S<String>,
    pub rate: Option<S<f64>>,
    pub from: Option<S<f64>>,
    pub to: Option<S<f64>>,
    pub mean: Option<S<f64>>,
    pub amplitude: Option<S<f64>>,
    pub period: Option<S<Dur>>,
    pub on: Option<S<Dur>>,
    pub off: Option<S<Dur>>,
    pub at: Option<S<Vec<Dur>>>,
    pub file: Option<S<String>>,
}

/// `[slo]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub p50: Option<S<Dur>>,
    pub p90: Option<S<Dur>>,
    pub p99: Option<S<Dur>>,
    pub p999: Option<S<Dur>>,
    pub cold_start_ratio: Option<S<f64>>,
    pub error_ratio: Option<S<f64>>,
    pub cost_per_million_usd: Option<S<f64>>,
    pub cost_model: Option<S<String>>,
}

/// `[[variants]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    pub name: S<String>,
    pub description: Option<String>,
    pub set: Option<S<BTreeMap<S<String>, S<toml::Value>>>>,
}

/// `[sim]`: simulator settings.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSim {
    pub max_events: Option<S<i64>>,
    pub timeseries_bucket: Option<S<Dur>>,
    pub drain: Option<S<Dur>>,
}
