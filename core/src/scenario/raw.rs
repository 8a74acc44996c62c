#![allow(missing_docs)] // the fields mirror the documented scenario keys one-to-one
//! The raw layer: the TOML file one-to-one, every key optional, unknown keys rejected.
//! Values that are checked later are wrapped in [`Spanned`] so a check can name their line.
//! Every `Raw*` type of the scenario format is here; the resolved types live with the code
//! that uses them (`billing`, `tune`, `autoscaler`, `workload`), which never needs these.

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
    pub billing: Option<S<RawBilling>>,
    pub slo: Option<S<RawSlo>>,
    pub variants: Option<Vec<S<RawVariant>>>,
    pub rollouts: Option<S<Vec<S<RawRollout>>>>,
    pub routes: Option<S<Vec<S<RawRoute>>>>,
    pub load: Option<S<RawLoad>>,
    pub sim: Option<S<RawSim>>,
    pub tune: Option<S<RawTune>>,
    pub cluster: Option<S<RawCluster>>,
    pub services: Option<S<Vec<S<RawFleetService>>>>,
    pub trace: Option<S<RawTrace>>,
}

impl RawScenario {
    /// The top-level `[service]` and `[autoscaler]` tables (empty when absent): a single
    /// service's settings, or every fleet service's defaults.
    pub fn base_tables(&self) -> (RawService, RawAutoscaler) {
        let service = self.service.as_ref().map(|s| s.get_ref().clone());
        let autoscaler = self.autoscaler.as_ref().map(|s| s.get_ref().clone());
        (service.unwrap_or_default(), autoscaler.unwrap_or_default())
    }
}

/// `[[services]]`: one service of a fleet, with the tables of a single-service scenario (the
/// top-level `[service]`, `[autoscaler]` and `[workload]` are its defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleetService {
    pub name: S<String>,
    pub labels: Option<S<BTreeMap<String, String>>>,
    pub service: Option<S<RawService>>,
    pub autoscaler: Option<S<RawAutoscaler>>,
    pub revisions: Option<S<Vec<S<RawRevision>>>>,
    pub workload: Option<S<RawWorkload>>,
    pub slo: Option<S<RawSlo>>,
}

/// `[trace]`: a fleet's arrivals from one time-ordered CSV file.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    pub file: Option<S<String>>,
    pub interval: Option<S<Dur>>,
    pub spread: Option<S<String>>,
    pub durations: Option<bool>,
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
    pub cpu_share: Option<S<f64>>,
    pub cold_start_cpu_share: Option<S<f64>>,
}

/// `[[revisions]]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRevision {
    pub name: S<String>,
    pub traffic: Option<S<f64>>,
    pub tag: Option<S<String>>,
    pub created_at: Option<S<Dur>>,
    pub service: Option<S<RawService>>,
    pub autoscaler: Option<S<RawAutoscaler>>,
}

/// A distribution: `{ dist = "lognormal", median = "80ms", p99 = "600ms" }` and friends.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawDist {
    pub dist: S<DistKind>,
    pub value: Option<S<Dur>>,
    pub mean: Option<S<Dur>>,
    pub median: Option<S<Dur>>,
    pub p99: Option<S<Dur>>,
    pub min: Option<S<Dur>>,
    pub max: Option<S<Dur>>,
    pub parts: Option<Vec<S<RawDist>>>,
    pub weight: Option<S<f64>>,
    /// `points = [[0.0, "5ms"], …, [1.0, "9s"]]` of an empirical distribution.
    pub points: Option<S<Vec<S<RawPoint>>>>,
}

/// One quantile point of an empirical distribution: `[p, "duration"]`.
pub type RawPoint = (f64, Dur);

/// The kind of a tagged table (`dist = "…"`, `process = "…"`).
pub trait Tag: Copy {
    /// The tag key.
    const KEY: &'static str;
    /// The name in a scenario file.
    fn name(self) -> &'static str;
    /// The keys this kind takes besides the tag.
    fn keys(self) -> &'static [&'static str];
}

/// Declares a tag enum (`dist = "…"`, `process = "…"`): its names, the keys each kind takes,
/// and a serde impl whose error lists the names.
macro_rules! tag_enum {
    ($(#[$m:meta])* $name:ident, $key:literal, $what:literal, { $($(#[$vm:meta])* $v:ident = $s:literal [$($k:literal),*]),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl $name {
            /// Every kind, in the order the reference lists them.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
        }

        impl Tag for $name {
            const KEY: &'static str = $key;

            fn name(self) -> &'static str {
                match self {
                    $($name::$v => $s,)*
                }
            }

            fn keys(self) -> &'static [&'static str] {
                match self {
                    $($name::$v => &[$($k),*],)*
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::ALL.iter().copied().find(|k| k.name() == s).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|k| k.name()).collect();
                    serde::de::Error::custom(format!(
                        concat!("unknown ", $what, " \"{}\": expected one of {}"),
                        s,
                        names.join(", ")
                    ))
                })
            }
        }
    };
}

tag_enum!(
    /// `dist = "…"` of a distribution table.
    DistKind, "dist", "distribution", {
        /// `{ dist = "fixed", value = D }`.
        Fixed = "fixed" ["value"],
        /// `{ dist = "exponential", mean = D }`.
        Exponential = "exponential" ["mean"],
        /// `{ dist = "lognormal", median = D, p99 = D }`.
        Lognormal = "lognormal" ["median", "p99"],
        /// `{ dist = "uniform", min = D, max = D }`.
        Uniform = "uniform" ["min", "max"],
        /// `{ dist = "mixture", parts = [...] }`.
        Mixture = "mixture" ["parts"],
        /// `{ dist = "empirical", points = [[p, D], ...] }`.
        Empirical = "empirical" ["points"],
    }
);

tag_enum!(
    /// `process = "…"` of an arrival table.
    Process, "process", "arrival process", {
        /// Poisson arrivals at `rate`.
        Poisson = "poisson" ["rate"],
        /// Evenly spaced arrivals at `rate`.
        Constant = "constant" ["rate"],
        /// A linear rate change from `from` to `to`.
        Ramp = "ramp" ["from", "to"],
        /// `mean` ± `amplitude` over `period`.
        Sine = "sine" ["mean", "amplitude", "period"],
        /// Bursts at `rate` for `on`, then `off`.
        Onoff = "onoff" ["rate", "on", "off"],
        /// Recorded offsets, `at` or a CSV `file`.
        Trace = "trace" ["at", "file"],
    }
);

impl RawDist {
    /// Each key of a distribution table and whether it is given (the keys that depend on
    /// `dist` are checked against the kind's own).
    pub fn given(&self) -> [(&'static str, bool); 8] {
        [
            ("value", self.value.is_some()),
            ("mean", self.mean.is_some()),
            ("median", self.median.is_some()),
            ("p99", self.p99.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("parts", self.parts.is_some()),
            ("points", self.points.is_some()),
        ]
    }
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
    pub request_classes: Option<S<Vec<S<RawRequestClass>>>>,
}

/// `[[workload.request_classes]]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRequestClass {
    pub name: S<String>,
    pub weight: Option<S<f64>>,
    pub headers: Option<S<BTreeMap<String, String>>>,
}

/// `[[rollouts]]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    pub at: Option<S<Dur>>,
    pub traffic: Option<S<BTreeMap<S<String>, S<f64>>>>,
    pub duration: Option<S<Dur>>,
}

/// `[[routes]]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    #[serde(rename = "match")]
    pub match_: Option<S<RawMatch>>,
    pub revision: Option<S<String>>,
}

/// A route's `match = { header = "…", value = "…" }`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub header: Option<S<String>>,
    pub value: Option<S<String>>,
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
    pub process: S<Process>,
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

impl RawArrival {
    /// Each key of an arrival table and whether it is given (checked against the process's
    /// own keys).
    pub fn given(&self) -> [(&'static str, bool); 10] {
        [
            ("rate", self.rate.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("mean", self.mean.is_some()),
            ("amplitude", self.amplitude.is_some()),
            ("period", self.period.is_some()),
            ("on", self.on.is_some()),
            ("off", self.off.is_some()),
            ("at", self.at.is_some()),
            ("file", self.file.is_some()),
        ]
    }
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

/// `[billing]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawBilling {
    pub models: Option<S<Vec<S<String>>>>,
    pub free_tier: Option<bool>,
    /// A duration (`"100ms"`) or `"per-second"`: every model's rounding step unless the model
    /// name carries its own `@<granularity>`.
    pub granularity: Option<S<String>>,
    pub prices: Option<S<BTreeMap<S<String>, S<f64>>>>,
    /// Bill `min_instances` as Lambda provisioned concurrency and Azure Flex always-ready
    /// instances.
    pub provisioned_concurrency: Option<bool>,
    /// `[billing.knative]`: the node pool of the `knative-nodes` model.
    pub knative: Option<S<RawKnativeNodes>>,
}

/// `[billing.knative]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawKnativeNodes {
    pub node_vcpu: Option<S<f64>>,
    pub node_memory_gib: Option<S<f64>>,
    pub max_pods_per_node: Option<S<i64>>,
    pub queue_proxy_vcpu: Option<S<f64>>,
    pub control_plane: Option<bool>,
    pub cluster_fee: Option<bool>,
    pub scale_down_unneeded: Option<S<Dur>>,
    pub scale_down_delay_after_add: Option<S<Dur>>,
}

/// `[cluster]` as written: the nodes the pods run on.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub node_vcpu: Option<S<f64>>,
    pub node_memory_gib: Option<S<f64>>,
    pub min_nodes: Option<S<i64>>,
    pub max_nodes: Option<S<i64>>,
    pub node_provisioning: Option<S<Dur>>,
    pub placement: Option<S<String>>,
    pub max_pods_per_node: Option<S<i64>>,
    pub queue_proxy_vcpu: Option<S<f64>>,
    pub control_plane: Option<bool>,
    pub scale_down_unneeded: Option<S<Dur>>,
    pub scale_down_delay_after_add: Option<S<Dur>>,
}

/// `[load]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub url: Option<S<String>>,
    pub requests: Option<Vec<S<RawRequest>>>,
    pub connections: Option<S<i64>>,
    pub max_connections: Option<S<i64>>,
    pub http2: Option<bool>,
    pub timeout: Option<S<Dur>>,
    pub connect_timeout: Option<S<Dur>>,
}

/// `[[load.requests]]` as written.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    pub body_file: Option<S<String>>,
    pub weight: Option<S<f64>>,
}

/// `[tune]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTune {
    pub params: Option<S<BTreeMap<S<String>, S<toml::Value>>>>,
    pub objective: Option<S<String>>,
    pub model: Option<S<String>>,
    pub seeds: Option<S<i64>>,
    pub search: Option<S<String>>,
    pub samples: Option<S<i64>>,
    pub keep: Option<S<f64>>,
    pub min_duration: Option<S<Dur>>,
}
