//! Scenario files: the TOML format of docs/scenario.md, parsed in two layers.
//!
//! [`raw`] mirrors the file one-to-one with every key optional and unknown keys rejected;
//! [`Scenario`] is the resolved layer: defaults filled in, ranges and cross-field rules checked
//! (traffic percentages sum to 100, `min_scale ≤ max_scale`, lognormal `p99 > median`, …), trace
//! files read, and each `[[variants]]` entry applied as dotted-key overrides to give a complete
//! scenario of its own. Every problem is a [`ScenarioError`] naming the file, line, column and
//! key.
//!
//! This module owns the format of every table; the modules that use the resolved values
//! (`autoscaler`, `billing`, `workload`, `tune`) do not depend on it.

pub mod deploy;
pub mod error;
pub mod fleet;
pub mod load;
pub mod raw;
mod resolve;
pub mod tune;
mod variants;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use deploy::{HeaderRoute, RequestClass, Rollout};
pub use error::ScenarioError;
pub use fleet::{FleetService, FleetTrace, Member, Spread, TraceFormat, service_seed};
pub use load::{LoadSettings, RequestSpec};
pub use variants::CandidateBuilder;

use crate::autoscaler::AutoscalerSettings;
use crate::billing::{BillingConfig, RevisionBilling};
use crate::router::RouterPolicy;
use crate::workload::spec::{DistSpec, WorkloadSpec};

/// A resolved scenario: everything a run needs, with defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// `name`.
    pub name: String,
    /// `description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `seed`: the master seed, unless `--seed` overrides it.
    pub seed: Option<u64>,
    /// `duration`: arrivals stop at this horizon; in-flight work drains.
    #[serde(with = "crate::duration::serde_duration")]
    pub duration: Duration,
    /// The revisions; one named `default` with 100 % of traffic when the file has only
    /// `[service]`.
    pub revisions: Vec<Revision>,
    /// `[router]`.
    pub router: RouterSettings,
    /// `[workload]`.
    pub workload: WorkloadSpec,
    /// `[[workload.request_classes]]`: the classes requests are drawn from, with their headers
    /// (empty: requests carry no class headers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_classes: Vec<RequestClass>,
    /// `[[rollouts]]`: traffic changes over time, in order of `at`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<Rollout>,
    /// `[[routes]]`: header routes tried in order before the percentage split.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<HeaderRoute>,
    /// `[billing]`.
    pub billing: BillingConfig,
    /// `[slo]`.
    pub slo: Slo,
    /// `[load]`.
    pub load: LoadSettings,
    /// `[sim]`.
    pub sim: SimSettings,
    /// `[cluster]`: the nodes pods run on (None: capacity is unbounded, no nodes simulated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterSettings>,
    /// `[[variants]]`, each resolved to a complete scenario of its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// `[tune]`: the search `scalelab tune` runs (None in variants and candidates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tune: Option<tune::TuneSpec>,
    /// The file this came from (trace files resolve relative to its directory).
    #[serde(skip)]
    pub path: PathBuf,
    /// `[[services]]`: the services of a fleet (empty for a single-service scenario, which is
    /// its own only service). In a fleet, `revisions` and `workload` above are the first
    /// service's (code that runs one service reads them; fleet-aware code reads
    /// [`Scenario::members`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<FleetService>,
    /// `[trace]`: the fleet's arrivals from one time-ordered file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<FleetTrace>,
}

/// One revision of the service, with its share of traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    /// Its name.
    pub name: String,
    /// Percentage of requests it receives (all revisions sum to 100).
    pub traffic_percent: f64,
    /// Optional tag (a tagged URL in the live runtime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// When the revision is created (scenario time): before it, it has no instance and no
    /// bill; at it, its initial instances start. Zero for revisions that exist from the start.
    #[serde(
        with = "crate::duration::serde_duration",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub created_at: Duration,
    /// `[service]`.
    pub service: Service,
    /// `[autoscaler]`.
    pub autoscaler: AutoscalerSettings,
}

/// `[service]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// Hard per-instance limit; 0 = unlimited (Knative's default).
    pub container_concurrency: u32,
    /// vCPU per instance.
    pub vcpu: f64,
    /// Memory per instance in GiB.
    pub memory_gib: f64,
    /// Request timeout (504 after it).
    #[serde(with = "crate::duration::serde_duration")]
    pub timeout: Duration,
    /// Time a request holds an instance.
    pub service_time: DistSpec,
    /// Instance start until ready.
    pub cold_start: DistSpec,
    /// Total time of a request that triggered a cold start, replacing cold start + service time
    /// for that request (SimFaaS / Lambda convention).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_service_time: Option<DistSpec>,
    /// Instances that exist at t = 0 (min / initial scale) are already warm.
    pub warm_at_start: bool,
    /// Time from the decision to remove an instance until it is gone (billed as shut-down).
    #[serde(with = "crate::duration::serde_duration")]
    pub shutdown: Duration,
    /// Cloud Run startup CPU boost: billed as boosted vCPUs during start-up and 10 s after;
    /// shortens the CPU part of start-up (`cold_start_cpu_share`).
    pub startup_cpu_boost: bool,
    /// The share (0–1) of each request's uncontended service time that is CPU work on one
    /// vCPU; the rest is waiting. Requests in their CPU phase share the instance's vCPUs
    /// (processor sharing). 0 = no CPU model: results as without it.
    pub cpu_share: f64,
    /// The share (0–1) of the sampled start-up time that is CPU work using every vCPU of the
    /// instance, which a startup CPU boost shortens.
    pub cold_start_cpu_share: f64,
}

/// `[router]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouterSettings {
    /// Load-balancing policy.
    pub policy: RouterPolicy,
    /// Extra latency the request path adds to every request outside its instance slot (the
    /// client's and the router's own hops): latency only (measured on the live system).
    #[serde(with = "crate::duration::serde_duration")]
    pub overhead: Duration,
    /// Time the proxy hop to the instance and back adds while the request holds its
    /// instance slot: it lengthens the time in the slot, so it counts in the concurrency the
    /// autoscaler sees, in request-based billing and in latency (measured on the live system:
    /// `slot_overhead_ms` in a live result).
    #[serde(with = "crate::duration::serde_duration")]
    pub slot_overhead: Duration,
    /// The activator's revision-level queue depth (Knative: 10 000).
    pub activator_queue_depth: u32,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            policy: RouterPolicy::Knative,
            overhead: Duration::ZERO,
            slot_overhead: Duration::ZERO,
            activator_queue_depth: 10_000,
        }
    }
}

/// `[slo]`: thresholds checked after a run; a breach exits with code 3.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Slo {
    /// Median latency limit.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub p50: Option<Duration>,
    /// 90th percentile latency limit.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub p90: Option<Duration>,
    /// 99th percentile latency limit.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub p99: Option<Duration>,
    /// 99.9th percentile latency limit.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub p999: Option<Duration>,
    /// Largest allowed share of requests delayed by a cold start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start_ratio: Option<f64>,
    /// Largest allowed share of requests rejected or timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<f64>,
    /// Largest allowed cost per million requests, in USD, under `cost_model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_million_usd: Option<f64>,
    /// The billing model `cost_per_million_usd` refers to (default: the first listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_model: Option<String>,
}

impl Slo {
    /// True when no threshold is set.
    pub fn is_empty(&self) -> bool {
        self == &Slo::default()
    }
}

/// `[sim]`: simulator guards and output resolution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimSettings {
    /// End the run with an error after this many events (a runaway guard).
    pub max_events: u64,
    /// Width of a time-series row (None: 1 s, coarser for long horizons).
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub timeseries_bucket: Option<Duration>,
    /// How long after `duration` in-flight work may drain before the run stops.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub drain: Option<Duration>,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            max_events: 50_000_000_000,
            timeseries_bucket: None,
            drain: None,
        }
    }
}

/// A named set of overrides and the complete scenario it gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// Its name (unique, not `baseline`).
    pub name: String,
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The overrides as written: dotted key → value.
    pub set: Vec<(String, serde_json::Value)>,
    /// The scenario with the overrides applied.
    #[serde(skip)]
    pub scenario: Box<Scenario>,
}

mod opt_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => crate::duration::serde_duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}

/// The name of the scenario as given, before variants.
pub const BASELINE: &str = "baseline";

impl Scenario {
    /// Reads and resolves a scenario file. Errors name the file, line, column and key.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            ScenarioError::whole_file(
                path,
                format!("cannot read scenario file: {}", io_reason(&e)),
            )
        })?;
        if meta.is_dir() {
            return Err(ScenarioError::whole_file(
                path,
                "is a directory, not a scenario file (give the path of a .toml file)",
            ));
        }
        let bytes = read_at_most(path, MAX_SCENARIO_BYTES)
            .map_err(|e| {
                ScenarioError::whole_file(
                    path,
                    format!("cannot read scenario file: {}", io_reason(&e)),
                )
            })?
            .ok_or_else(|| {
                ScenarioError::whole_file(
                    path,
                    format!(
                        "the file is larger than {} MiB, the most a scenario file may hold (long \
                         arrival traces belong in a trace file: `{{ process = \"trace\", file = \
                         \"arrivals.csv\" }}`)",
                        MAX_SCENARIO_BYTES >> 20
                    ),
                )
            })?;
        let src = String::from_utf8(bytes).map_err(|e| {
            let (line, col) = error::line_col(
                &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
                usize::MAX,
            );
            ScenarioError {
                file: path.to_path_buf(),
                position: Some((line, col)),
                key: None,
                message: "the file is not valid UTF-8 text (is it a TOML scenario file?)".into(),
                snippet: None,
            }
        })?;
        Scenario::from_toml_str(&src, path)
    }

    /// Resolves a scenario from TOML text; `path` names it in errors and anchors trace files.
    pub fn from_toml_str(src: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        if src.trim().is_empty() {
            return Err(ScenarioError::whole_file(
                path,
                "the file is empty: a scenario needs at least `duration` and [[workload.phases]]",
            ));
        }
        let raw = resolve::parse_raw(src, path)?;
        let mut scenario = resolve::Resolver { file: path, src }.scenario(&raw)?;
        scenario.variants = variants::resolve_variants(src, path, &raw)?;
        scenario.tune = resolve::tune::resolve_tune(src, path, &raw, &scenario.billing.models)?;
        Ok(scenario)
    }

    /// The runs this scenario asks for: `baseline` first, then each variant, in file order.
    pub fn runs(&self) -> Vec<(&str, &Scenario)> {
        let mut out = vec![(BASELINE, self)];
        out.extend(
            self.variants
                .iter()
                .map(|v| (v.name.as_str(), v.scenario.as_ref())),
        );
        out
    }

    /// The run called `name` (`baseline` or a variant's name).
    pub fn run(&self, name: &str) -> Option<&Scenario> {
        self.runs()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
    }

    /// The longest request timeout of any revision (how long in-flight work may still run).
    pub fn max_timeout(&self) -> Duration {
        self.revisions
            .iter()
            .chain(self.services.iter().flat_map(|s| &s.revisions))
            .map(|r| r.service.timeout)
            .max()
            .unwrap_or_default()
    }

    /// The directory trace files are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// The largest scenario file read, in bytes (parsing costs about 25 times the file's size in
/// memory, so this bounds a validation at a few hundred MB).
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// The largest trace file read, in bytes (about 25 million arrival times).
pub const MAX_TRACE_BYTES: u64 = 256 << 20;

/// Reads `path` whole, or returns `None` when it holds more than `limit` bytes. Reads through
/// the limit rather than trusting the file's reported size, so a device or a pipe that never
/// ends (`/dev/zero`) cannot exhaust memory.
pub(crate) fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

// Billing needs only these figures of a scenario; they are taken here so that the billing
// module does not depend on the scenario's types (the scenario depends on billing's).
impl RevisionBilling {
    /// One entry per revision of a resolved scenario, in order.
    pub fn from_scenario(s: &Scenario) -> Vec<RevisionBilling> {
        s.revisions
            .iter()
            .map(|r| RevisionBilling {
                vcpu: r.service.vcpu,
                memory_gib: r.service.memory_gib,
                min_instances: r.autoscaler.min_instances(),
                startup_cpu_boost: r.service.startup_cpu_boost,
                created_at: crate::time::Time::ZERO + r.created_at,
            })
            .collect()
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
