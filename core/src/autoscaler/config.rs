//! Resolved autoscaler settings: Knative's KPA knobs with Knative's defaults, and the keepalive
//! autoscaler's. Scenario files fill these through `[autoscaler]`; `kpa replay` through its
//! input's `"autoscaler"` object (same keys).

use std::time::Duration;

use serde::Serialize;

/// The metric the KPA scales on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Time-averaged in-flight requests (Knative's default).
    Concurrency,
    /// Requests per second.
    Rps,
}

/// How the stable and panic windows average their 1 s buckets (Knative's
/// `metric-aggregation-algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// Plain mean over the buckets written so far (Knative's default).
    Linear,
    /// Exponentially weighted, not normalised (under-reads until the window fills).
    WeightedExponential,
}

/// Every KPA knob, resolved. Names follow the scenario keys; KPA.md §1 gives the Knative
/// annotation and config-map key of each and its valid range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KpaSettings {
    /// `metric`: concurrency or rps.
    pub metric: Metric,
    /// `target`: the per-pod total as written (None = Knative's default: the container
    /// concurrency when > 0, else 100 for concurrency, 200 for rps).
    pub target: Option<f64>,
    /// `target_utilization`: fraction in (0, 1] (Knative's 70 %).
    pub target_utilization: f64,
    /// `stable_window`: 6 s … 1 h, whole seconds.
    pub stable_window: Duration,
    /// `panic_window_percentage`: 1 … 100.
    pub panic_window_percentage: f64,
    /// `panic_threshold_percentage`: 110 … 1000 (a ratio × 100 of desired panic pods to ready).
    pub panic_threshold_percentage: f64,
    /// `max_scale_up_rate`: > 1.
    pub max_scale_up_rate: f64,
    /// `max_scale_down_rate`: > 1.
    pub max_scale_down_rate: f64,
    /// `target_burst_capacity`: ≥ 0, or −1 for "activator always in the path".
    pub target_burst_capacity: f64,
    /// `scale_to_zero_grace_period`.
    pub scale_to_zero_grace_period: Duration,
    /// `scale_to_zero_pod_retention`.
    pub scale_to_zero_pod_retention: Duration,
    /// `scale_down_delay`: whole seconds.
    pub scale_down_delay: Duration,
    /// `min_scale`.
    pub min_scale: u32,
    /// `max_scale`: 0 = unbounded.
    pub max_scale: u32,
    /// `initial_scale`: pods at creation; acts as a minimum until first reached.
    pub initial_scale: u32,
    /// `activation_scale`: minimum non-zero scale (1 = unset).
    pub activation_scale: u32,
    /// `enable_scale_to_zero`: when false a desired 0 becomes 1.
    pub enable_scale_to_zero: bool,
    /// `aggregation`: how both windows average.
    pub aggregation: Aggregation,
    /// `activator_capacity`: concurrent requests one activator handles (sizes the subset).
    pub activator_capacity: f64,
    /// `progress_deadline`: a cold start that is not ready after this + 30 s is abandoned.
    pub progress_deadline: Duration,
}

impl Default for KpaSettings {
    fn default() -> Self {
        KpaSettings {
            metric: Metric::Concurrency,
            target: None,
            target_utilization: 0.7,
            stable_window: Duration::from_secs(60),
            panic_window_percentage: 10.0,
            panic_threshold_percentage: 200.0,
            max_scale_up_rate: 1000.0,
            max_scale_down_rate: 2.0,
            target_burst_capacity: 211.0,
            scale_to_zero_grace_period: Duration::from_secs(30),
            scale_to_zero_pod_retention: Duration::ZERO,
            scale_down_delay: Duration::ZERO,
            min_scale: 0,
            max_scale: 0,
            initial_scale: 1,
            activation_scale: 1,
            enable_scale_to_zero: true,
            aggregation: Aggregation::Linear,
            activator_capacity: 100.0,
            progress_deadline: Duration::from_secs(600),
        }
    }
}

/// Which idle instance of a keepalive pool takes the next request (MODELS.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleChoice {
    /// The instance freed most recently (scalelab's original rule; AWS Lambda packs work onto
    /// recently used environments, and the least recently used ones expire).
    LastFreed,
    /// The idle instance created most recently (SimFaaS).
    NewestCreated,
    /// The idle instance created first, the first one found in creation order (DSLab FaaS).
    FirstFree,
}

impl IdleChoice {
    /// Every choice, in the order the reference lists them.
    pub const ALL: [IdleChoice; 3] = [
        IdleChoice::LastFreed,
        IdleChoice::NewestCreated,
        IdleChoice::FirstFree,
    ];

    /// The name in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            IdleChoice::LastFreed => "last-freed",
            IdleChoice::NewestCreated => "newest-created",
            IdleChoice::FirstFree => "first-free",
        }
    }
}

/// The keepalive autoscaler (AWS Lambda, SimFaaS): one instance per concurrent request, each
/// removed after `idle_timeout` without work.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeepaliveSettings {
    /// `idle_timeout`: how long an idle instance is kept.
    pub idle_timeout: Duration,
    /// `max_instances`: requests beyond it are rejected (429). 0 = unbounded.
    pub max_instances: u32,
    /// `min_instances`: kept warm whatever the traffic (provisioned concurrency).
    pub min_instances: u32,
    /// `idle_choice`: which idle instance takes a request.
    pub idle_choice: IdleChoice,
    /// `keepalive_reset`: true (the default) restarts an instance's idle timer each time it
    /// finishes a request; false starts it once, when the instance first goes idle, and reuse
    /// never extends it (DSLab FaaS's default): the instance is removed at the first moment it
    /// is idle past that deadline.
    pub keepalive_reset: bool,
}

impl Default for KeepaliveSettings {
    fn default() -> Self {
        KeepaliveSettings {
            idle_timeout: Duration::from_secs(600),
            max_instances: 1000,
            min_instances: 0,
            idle_choice: IdleChoice::LastFreed,
            keepalive_reset: true,
        }
    }
}

/// Which autoscaler a revision uses.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AutoscalerSettings {
    /// Knative's KPA.
    Kpa(KpaSettings),
    /// One instance per concurrent request with an idle timeout.
    Keepalive(KeepaliveSettings),
}

impl Default for AutoscalerSettings {
    fn default() -> Self {
        AutoscalerSettings::Kpa(KpaSettings::default())
    }
}
