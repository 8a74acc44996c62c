//! Billing: what a run costs under each platform's rules (BILLING.md), from instance lifecycle
//! and request start/end events, with bounded memory.
//!
//! - [`BillingConfig`]: `[billing]` resolved: the models to compute, rounding, options, prices.
//! - [`Meter`]: fed by the simulator or the live runtime with instance and request events; its
//!   [`Meter::finish`] returns one [`Cost`](crate::result::Cost) per listed model.
//! - [`prices::PriceTable`]: BILLING.md's list prices, each overridable in `[billing.prices]`.
//! - [`break_even_note`]: a sentence comparing request-based and instance-based Cloud Run.
//!
//! The models (`[billing] models = [...]`; each name may carry `@<granularity>`, for example
//! `"cloud-run-request@per-second"`, to compute the same model with another rounding step side by
//! side; the result is keyed by the name exactly as listed):
//!
//! | model | billed | default rounding | minimum |
//! |---|---|---|---|
//! | `cloud-run-request` | per instance: start-up, union of in-flight intervals, shut-down; idle time of up to `min_instances` instances at the idle price; request fee | 100 ms per billable slice | — |
//! | `cloud-run-instance` | per instance: whole lifetime, start to termination | 100 ms | 1 min per instance |
//! | `lambda` | per request: duration (+ INIT of the instance's first request) × memory GB; request fee; optional provisioned concurrency | 1 ms per request | — |
//! | `azure-consumption` | per execution: duration × memory rounded up to 128 MB; execution fee | 1 ms per execution | 100 ms and 128 MB per execution |
//! | `azure-flex` | per instance: union of executing intervals × provisioned instance memory; execution fee; optional always-ready baseline | 100 ms per active slice | 1,000 ms per active slice |
//! | `knative-nodes` | nodes the pods are packed onto, removed 10 min after they become unneeded; optional cluster fee | 1 s per node | 1 min per node |
//!
//! ```
//! use scalelab_core::billing::{BillingConfig, Meter, RevisionBilling};
//! use scalelab_core::Time;
//! let rev = RevisionBilling { vcpu: 1.0, memory_gib: 0.5, min_instances: 0, startup_cpu_boost: false, created_at: Time::ZERO };
//! let mut m = Meter::new(&BillingConfig::default(), &[rev]);
//! m.request_arrived(Time::ZERO, 0);
//! m.instance_starting(Time::ZERO, 0, 7);
//! m.instance_ready(Time::from_millis(1_000), 7);
//! m.request_started(Time::from_millis(1_000), 7);
//! m.request_finished(Time::from_millis(1_150), 7);
//! m.instance_stopping(Time::from_secs(60), 7);
//! m.instance_stopped(Time::from_secs(60), 7);
//! let cost = m.finish(Time::from_secs(60));
//! // 1 s start-up + 150 ms request = one slice of 1.15 s, rounded up to 1.2 s.
//! assert_eq!(cost["cloud-run-request"].billable_seconds, 1.2);
//! // Instance-based billing bills the whole minute.
//! assert_eq!(cost["cloud-run-instance"].billable_seconds, 60.0);
//! ```

mod meter;
mod models;
mod nodes;
pub mod prices;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::duration::{Dur, format_duration, parse_duration};

pub use meter::{Meter, RevisionBilling};
pub use models::{boosted_vcpu, break_even_note};

/// `[billing.knative]`, resolved: the node pool of the `knative-nodes` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnativeNodes {
    /// vCPU a node offers to pods (default 2: e2-standard-2).
    pub node_vcpu: f64,
    /// Memory a node offers to pods, GiB (default 8: e2-standard-2).
    pub node_memory_gib: f64,
    /// Pods per node at most (GKE's default is 110).
    pub max_pods_per_node: u32,
    /// CPU request of each pod's queue-proxy sidecar (Knative's default 25m).
    pub queue_proxy_vcpu: f64,
    /// Reserve Knative's control plane (activator 300m/60Mi, autoscaler, controller and
    /// webhook 100m/100Mi each: 0.6 vCPU and 360 MiB), which keeps at least one node up.
    pub control_plane: bool,
    /// Add GKE's cluster management fee.
    pub cluster_fee: bool,
    /// How long a node must be unneeded before the cluster autoscaler removes it.
    #[serde(with = "crate::duration::serde_duration")]
    pub scale_down_unneeded: Duration,
    /// No scale-down for this long after any scale-up.
    #[serde(with = "crate::duration::serde_duration")]
    pub scale_down_delay_after_add: Duration,
}

impl Default for KnativeNodes {
    fn default() -> Self {
        KnativeNodes {
            node_vcpu: 2.0,
            node_memory_gib: 8.0,
            max_pods_per_node: 110,
            queue_proxy_vcpu: 0.025,
            control_plane: true,
            cluster_fee: false,
            scale_down_unneeded: Duration::from_secs(600),
            scale_down_delay_after_add: Duration::from_secs(600),
        }
    }
}

/// `[billing]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillingConfig {
    /// The models to compute, in the order listed (each may carry `@<granularity>`).
    pub models: Vec<String>,
    /// Apply free tiers (pro-rated: the monthly allowance × run length / 30 days).
    pub free_tier: bool,
    /// Price overrides by name (see [`prices::PRICE_NAMES`]).
    pub prices: BTreeMap<String, f64>,
    /// Every model's rounding step, unless its name carries one (None: each model's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Dur>,
    /// Bill `min_instances` as Lambda provisioned concurrency / Azure Flex always-ready.
    pub provisioned_concurrency: bool,
    /// The node pool of `knative-nodes`.
    pub knative: KnativeNodes,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            models: vec!["cloud-run-request".into(), "cloud-run-instance".into()],
            free_tier: false,
            prices: BTreeMap::new(),
            granularity: None,
            provisioned_concurrency: false,
            knative: KnativeNodes::default(),
        }
    }
}

/// Every billing model's scenario name.
pub const MODEL_NAMES: &[&str] = &[
    "cloud-run-request",
    "cloud-run-instance",
    "lambda",
    "azure-consumption",
    "azure-flex",
    "knative-nodes",
];

/// A billing model's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ModelKind {
    /// Cloud Run, request-based billing.
    CloudRunRequest,
    /// Cloud Run, instance-based billing.
    CloudRunInstance,
    /// AWS Lambda.
    Lambda,
    /// Azure Functions Consumption plan.
    AzureConsumption,
    /// Azure Functions Flex Consumption plan.
    AzureFlex,
    /// Self-hosted Knative on GKE Standard nodes.
    KnativeNodes,
}

impl ModelKind {
    /// The kind a model name (without `@…`) refers to.
    pub fn from_name(name: &str) -> Option<ModelKind> {
        Some(match name {
            "cloud-run-request" => ModelKind::CloudRunRequest,
            "cloud-run-instance" => ModelKind::CloudRunInstance,
            "lambda" => ModelKind::Lambda,
            "azure-consumption" => ModelKind::AzureConsumption,
            "azure-flex" => ModelKind::AzureFlex,
            "knative-nodes" => ModelKind::KnativeNodes,
            _ => return None,
        })
    }

    /// The model's own rounding step (BILLING.md §1.1).
    pub fn default_granularity(self) -> Duration {
        match self {
            ModelKind::CloudRunRequest | ModelKind::CloudRunInstance | ModelKind::AzureFlex => {
                Duration::from_millis(100)
            }
            ModelKind::Lambda | ModelKind::AzureConsumption => Duration::from_millis(1),
            ModelKind::KnativeNodes => Duration::from_secs(1),
        }
    }
}

/// One model to compute: its result key, its rules and its rounding step.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// The name as listed (the key of the result).
    pub name: String,
    /// The rules.
    pub kind: ModelKind,
    /// The rounding step of each billable slice, request, instance or node.
    pub granularity: Duration,
}

/// Parses a rounding step: a duration with units (`"1ms"`, `"100ms"`, `"1s"`, `"1m"`) or the
/// preset `"per-second"` (billable slices rounded up to whole seconds).
pub fn parse_granularity(s: &str) -> Result<Duration, crate::Error> {
    let s = s.trim();
    if s == "per-second" {
        return Ok(Duration::from_secs(1));
    }
    let d = parse_duration(s).map_err(crate::Error::Granularity)?;
    if d.is_zero() {
        return Err(crate::Error::GranularityZero);
    }
    if d > Duration::from_secs(86_400) {
        return Err(crate::Error::GranularityTooLong(format_duration(d)));
    }
    Ok(d)
}

/// Parses a model entry, `kind` or `kind@granularity`; `global` is `[billing] granularity`.
pub fn parse_model(name: &str, global: Option<Duration>) -> Result<ModelSpec, crate::Error> {
    let (base, gran) = match name.split_once('@') {
        Some((b, g)) => (b.trim(), Some(g)),
        None => (name.trim(), None),
    };
    let kind =
        ModelKind::from_name(base).ok_or_else(|| crate::Error::BillingModel(base.to_string()))?;
    let granularity = match gran {
        Some(g) => parse_granularity(g)?,
        None => global.unwrap_or_else(|| kind.default_granularity()),
    };
    Ok(ModelSpec {
        name: name.trim().to_string(),
        kind,
        granularity,
    })
}

impl BillingConfig {
    /// The models to compute, parsed. Names were validated when the scenario was resolved;
    /// entries that do not parse (a config built by hand) are returned as errors.
    pub fn specs(&self) -> Vec<Result<ModelSpec, (String, crate::Error)>> {
        let global = self.granularity.map(|d| d.0);
        self.models
            .iter()
            .map(|m| parse_model(m, global).map_err(|e| (m.clone(), e)))
            .collect()
    }
}
