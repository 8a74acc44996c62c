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
//! let rev = RevisionBilling { vcpu: 1.0, memory_gib: 0.5, min_instances: 0, startup_cpu_boost: false };
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

use serde::{Deserialize, Serialize};

use crate::duration::{Dur, format_duration, parse_duration};
use crate::scenario::raw::S;

pub use meter::{Meter, RevisionBilling};
pub use models::break_even_note;
use prices::{PRICE_NAMES, PriceTable};

/// `[billing]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the fields mirror the documented scenario keys one-to-one
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
#[allow(missing_docs)] // the fields mirror KnativeNodes one-to-one
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
pub fn parse_granularity(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "per-second" {
        return Ok(Duration::from_secs(1));
    }
    let d = parse_duration(s).map_err(|e| {
        format!("{e}; a granularity is a duration like \"100ms\" or the preset \"per-second\"")
    })?;
    if d.is_zero() {
        return Err("a granularity must be longer than zero (use \"1ns\" for no rounding)".into());
    }
    if d > Duration::from_secs(86_400) {
        return Err(format!(
            "granularity {} is longer than a day",
            format_duration(d)
        ));
    }
    Ok(d)
}

/// Parses a model entry, `kind` or `kind@granularity`; `global` is `[billing] granularity`.
pub fn parse_model(name: &str, global: Option<Duration>) -> Result<ModelSpec, String> {
    let (base, gran) = match name.split_once('@') {
        Some((b, g)) => (b.trim(), Some(g)),
        None => (name.trim(), None),
    };
    let kind = ModelKind::from_name(base).ok_or_else(|| {
        format!(
            "unknown billing model \"{base}\": expected one of {} (optionally with \
             @<granularity>, like \"cloud-run-request@per-second\")",
            MODEL_NAMES.join(", ")
        )
    })?;
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

/// Builds an error at a span of the scenario file, for a key, with a message.
pub type ErrAt<'a> =
    &'a dyn Fn(Option<std::ops::Range<usize>>, &str, String) -> crate::scenario::ScenarioError;

impl BillingConfig {
    /// The models to compute, parsed. Names were validated by [`BillingConfig::from_raw`];
    /// entries that do not parse (a config built by hand) are returned as errors.
    pub fn specs(&self) -> Vec<Result<ModelSpec, (String, String)>> {
        let global = self.granularity.map(|d| d.0);
        self.models
            .iter()
            .map(|m| parse_model(m, global).map_err(|e| (m.clone(), e)))
            .collect()
    }

    /// Resolves `[billing]`.
    pub fn from_raw(
        raw: &RawBilling,
        err: ErrAt<'_>,
    ) -> Result<BillingConfig, crate::scenario::ScenarioError> {
        let d = BillingConfig::default();
        let granularity = match &raw.granularity {
            None => None,
            Some(g) => Some(Dur(parse_granularity(g.get_ref())
                .map_err(|m| err(Some(g.span()), "billing.granularity", m))?)),
        };
        let mut models = Vec::new();
        if let Some(ms) = &raw.models {
            for (i, m) in ms.get_ref().iter().enumerate() {
                let spec = parse_model(m.get_ref(), granularity.map(|g| g.0))
                    .map_err(|msg| err(Some(m.span()), &format!("billing.models[{i}]"), msg))?;
                if !models.contains(&spec.name) {
                    models.push(spec.name);
                }
            }
            if models.is_empty() {
                return Err(err(
                    Some(ms.span()),
                    "billing.models",
                    "no billing model listed: name at least one of ".to_string()
                        + &MODEL_NAMES.join(", "),
                ));
            }
        } else {
            models = d.models.clone();
        }
        let mut prices = BTreeMap::new();
        if let Some(p) = &raw.prices {
            for (k, v) in p.get_ref() {
                let name = k.get_ref();
                let key = format!("billing.prices.{name}");
                if !PriceTable::is_known(name) {
                    let names: Vec<&str> = PRICE_NAMES.iter().map(|(n, _)| *n).collect();
                    return Err(err(
                        Some(k.span()),
                        &key,
                        format!(
                            "unknown price \"{name}\": expected one of {}",
                            names.join(", ")
                        ),
                    ));
                }
                let x = *v.get_ref();
                if !x.is_finite() || x < 0.0 {
                    return Err(err(
                        Some(v.span()),
                        &key,
                        format!("{x} is out of range: a price is ≥ 0 USD"),
                    ));
                }
                prices.insert(name.clone(), x);
            }
        }
        let knative = match &raw.knative {
            None => KnativeNodes::default(),
            Some(k) => knative_from_raw(k.get_ref(), err)?,
        };
        Ok(BillingConfig {
            models,
            free_tier: raw.free_tier.unwrap_or(false),
            prices,
            granularity,
            provisioned_concurrency: raw.provisioned_concurrency.unwrap_or(false),
            knative,
        })
    }
}

fn knative_from_raw(
    raw: &RawKnativeNodes,
    err: ErrAt<'_>,
) -> Result<KnativeNodes, crate::scenario::ScenarioError> {
    let d = KnativeNodes::default();
    let pos = |v: &Option<S<f64>>, key: &str, default: f64, zero_ok: bool, max: f64| match v {
        None => Ok(default),
        Some(x) => {
            let f = *x.get_ref();
            let low_ok = if zero_ok { f >= 0.0 } else { f > 0.0 };
            if f.is_finite() && low_ok && f <= max {
                Ok(f)
            } else {
                let low = if zero_ok { "≥ 0" } else { "> 0" };
                Err(err(
                    Some(x.span()),
                    &format!("billing.knative.{key}"),
                    format!("{f} is out of range: expected a number {low} and ≤ {max}"),
                ))
            }
        }
    };
    let node_vcpu = pos(&raw.node_vcpu, "node_vcpu", d.node_vcpu, false, 1024.0)?;
    let node_memory_gib = pos(
        &raw.node_memory_gib,
        "node_memory_gib",
        d.node_memory_gib,
        false,
        65_536.0,
    )?;
    let queue_proxy_vcpu = pos(
        &raw.queue_proxy_vcpu,
        "queue_proxy_vcpu",
        d.queue_proxy_vcpu,
        true,
        node_vcpu,
    )?;
    let max_pods_per_node = match &raw.max_pods_per_node {
        None => d.max_pods_per_node,
        Some(v) => {
            let n = *v.get_ref();
            if !(1..=10_000).contains(&n) {
                return Err(err(
                    Some(v.span()),
                    "billing.knative.max_pods_per_node",
                    format!("{n} is out of range: expected 1 to 10000"),
                ));
            }
            n as u32
        }
    };
    Ok(KnativeNodes {
        node_vcpu,
        node_memory_gib,
        max_pods_per_node,
        queue_proxy_vcpu,
        control_plane: raw.control_plane.unwrap_or(d.control_plane),
        cluster_fee: raw.cluster_fee.unwrap_or(d.cluster_fee),
        scale_down_unneeded: raw
            .scale_down_unneeded
            .as_ref()
            .map_or(d.scale_down_unneeded, |x| x.get_ref().0),
        scale_down_delay_after_add: raw
            .scale_down_delay_after_add
            .as_ref()
            .map_or(d.scale_down_delay_after_add, |x| x.get_ref().0),
    })
}
