//! The result document every mode writes: `sim`, `live` and `load` (docs/results.md). Field
//! names are a public contract: add fields, rename none.
//!
//! The document is self-contained: it carries the per-second series and the resolved scenario,
//! so `scalelab report` can re-render charts and checks later without re-running anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scenario::Slo;

/// The version of this document's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Which kind of run produced a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The discrete-event simulator.
    Sim,
    /// The live runtime driven by the load generator.
    Live,
    /// The load generator against any URL.
    Load,
}

impl RunResult {
    /// An empty document of this version: no variant yet, nothing optional set. Fill the rest
    /// with struct update syntax: `RunResult { variants, ..RunResult::new(…) }`.
    pub fn new(scenario: impl Into<String>, seed: u64, mode: Mode, duration_s: f64) -> RunResult {
        RunResult {
            schema: SCHEMA_VERSION,
            scenario: scenario.into(),
            seed,
            mode,
            variants: Vec::new(),
            scalelab_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario_path: None,
            command: None,
            duration_s,
            time_scale: None,
            resolved_scenario: None,
        }
    }
}

/// One run: a scenario, a seed, one entry per variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The master seed used.
    pub seed: u64,
    /// What produced it.
    pub mode: Mode,
    /// One entry per variant, `baseline` first.
    pub variants: Vec<VariantResult>,
    /// scalelab's version.
    #[serde(default)]
    pub scalelab_version: String,
    /// The scenario file, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_path: Option<String>,
    /// The command that reproduces this document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The horizon in scenario seconds.
    #[serde(default)]
    pub duration_s: f64,
    /// The time scale of a live run (1 = real time); times are reported in scenario units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// The resolved scenario (as `scalelab validate --format json` prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_scenario: Option<serde_json::Value>,
}

/// One variant's measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct VariantResult {
    /// `baseline` or the variant's name.
    pub name: String,
    /// Request accounting: arrived = completed + rejected + timed_out + in_flight_at_end.
    pub requests: Requests,
    /// Latency from arrival (intended send time) to response, all requests that completed.
    pub latency_ms: Latency,
    /// Latency of requests delayed by a cold start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms_cold: Option<Latency>,
    /// Latency of requests not delayed by a cold start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms_warm: Option<Latency>,
    /// Optional latency distribution: a few dozen points `(ms, fraction ≤ ms)` in increasing
    /// order, for the CDF chart. Without it the chart is drawn through the percentiles above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_cdf: Option<Vec<CdfPoint>>,
    /// Cold starts.
    pub cold_starts: ColdStarts,
    /// Instance counts and time.
    pub instances: Instances,
    /// Autoscaler activity.
    pub autoscaler: AutoscalerStats,
    /// Cost per billing model.
    pub cost: BTreeMap<String, Cost>,
    /// SLO checks.
    pub slo: SloResult,
    /// Path of the per-second CSV, when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeseries: Option<String>,
    /// The time series itself (per second, or coarser buckets for long horizons). In memory it
    /// is whole (and so is `timeseries.csv`); the JSON carries at most
    /// [`crate::measure::JSON_SERIES_MAX_ROWS`] rows, coarsened when longer.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::measure::serialize_bounded_series"
    )]
    pub series: Option<Series>,
    /// Time averages of the run and when it ended (simulated and live runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<Occupancy>,
    /// What only the simulator measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<SimStats>,
    /// What only the live runtime measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveStats>,
    /// What the node pool did (`[cluster]` scenarios only): nodes, Pending pods and their
    /// waits, the node count over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterResult>,
    /// In an entry of `services` of a fleet with `[cluster]`: what the service's own pods did
    /// in the shared node pool (Pending, waits, requests) and its share of the nodes' cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<crate::cluster::PodsResult>,
    /// The load generator's own view of a live run (`scalelab run`, `compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientStats>,
    /// The same measurements per revision (simulated and live runs), in the scenario's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<RevisionResult>,
    /// One entry per `[[rollouts]]` entry, in order (simulated and live runs; empty when the
    /// scenario has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollouts: Option<Vec<RolloutResult>>,
    /// Mode-specific extra figures by name (a load run's outcomes and histograms, notes). The
    /// typed sections above are also written here under their earlier names (`end_s`,
    /// `slot_overhead_ms`, `client_requests`, …) for readers of older documents; code reads
    /// the typed sections.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// A service's labels (`[[services]] labels`), in an entry of `services`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A fleet (`[[services]]`): the same measurements per service, in the scenario's order
    /// (`name` is the service's; no `series`); the fields above are the fleet's totals.
    /// Absent for a single-service scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<VariantResult>,
}

/// One revision's measurements: the variant's standard sections for the requests the traffic
/// split, a route or a tag sent to it and for its instances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct RevisionResult {
    /// The revision's name.
    pub name: String,
    /// When it was created, scenario seconds.
    pub created_at_s: f64,
    /// When it became Ready (its initial instances up), scenario seconds; None if it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at_s: Option<f64>,
    /// Its requests: arrived = completed + rejected + timed_out + in_flight_at_end.
    pub requests: Requests,
    /// Latency of its completed requests.
    pub latency_ms: Latency,
    /// Its instances' cold starts and the requests they delayed.
    pub cold_starts: ColdStarts,
    /// Its instances; `mean` is over its life (from `created_at_s` to the end of the run).
    pub instances: Instances,
    /// Its autoscaler.
    pub autoscaler: AutoscalerStats,
    /// Its bill per billing model, as if it were billed on its own (cluster-level models such
    /// as `knative-nodes` are not split by revision and are left out).
    pub cost: BTreeMap<String, Cost>,
    /// Its configured share of the percentage split over time: one point per change.
    pub traffic: Vec<TrafficPoint>,
    /// Per bucket of the variant's series: its arrivals and its instances (only when the
    /// scenario has several revisions).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::measure::serialize_bounded_revision_series"
    )]
    pub series: Option<RevisionSeries>,
}

/// A revision's configured share of traffic from `t_s` on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct TrafficPoint {
    /// From when, scenario seconds.
    pub t_s: f64,
    /// Percent of the requests the split assigns it.
    pub percent: f64,
}

/// A revision's columns of the time series, one value per row of the variant's series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct RevisionSeries {
    /// Requests that arrived for it in the bucket (split, routes and tags).
    pub arrivals: Vec<u64>,
    /// Its ready instances at the end of the bucket.
    pub ready: Vec<u64>,
    /// Its starting instances at the end of the bucket.
    pub starting: Vec<u64>,
}

/// One `[[rollouts]]` entry: when it was asked for, when it ran, and what happened from its
/// request until the next rollout was asked for (or the run ended).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct RolloutResult {
    /// When the traffic change was asked for (`at`), scenario seconds.
    pub requested_s: f64,
    /// When traffic began to move (every revision gaining traffic Ready); None if it never did.
    pub started_s: Option<f64>,
    /// When the split reached the target; None if it never did (superseded or cut off).
    pub finished_s: Option<f64>,
    /// When a later rollout took over before this one finished, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_s: Option<f64>,
    /// The target split, percent by revision name (revisions at 0 left out).
    pub traffic: BTreeMap<String, f64>,
    /// The rollout duration asked for, seconds (0: at once).
    pub duration_s: f64,
    /// Traffic changes applied (1 for an instant switch).
    pub steps: u64,
    /// The end of the window the figures below cover: the next rollout's `requested_s`, or the
    /// end of the run. The window starts at `requested_s`.
    pub window_end_s: f64,
    /// Requests that arrived in the window.
    pub arrived: u64,
    /// Instances started in the window.
    pub cold_starts: u64,
    /// Requests completed in the window that had waited for a cold start.
    pub requests_delayed: u64,
    /// Requests rejected or timed out in the window.
    pub errors: u64,
    /// ∫ instances alive dt over the window, every revision.
    pub instance_seconds: f64,
    /// ∫ min(instances of the revisions losing traffic, instances of those gaining it) dt over
    /// the window: the time the old and the new fleet ran side by side.
    pub overlap_instance_seconds: f64,
    /// What the window cost per billing model: the bill at its end less the bill at its start.
    pub cost: BTreeMap<String, Cost>,
}

/// Time averages of a run (simulated or live) and when it ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Occupancy {
    /// When the run ended, scenario seconds (after in-flight work drained).
    pub end_s: f64,
    /// Time-averaged requests in the system (queued or being served): L of Little's law.
    pub mean_in_system: f64,
    /// Time-averaged instances with at least one request.
    pub mean_busy_instances: f64,
}

/// What only the simulator measures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Share of started requests that waited for an instance slot.
    pub waited_ratio: f64,
    /// Mean wait for an instance slot over started requests, ms.
    pub mean_wait_ms: f64,
    /// Mean latency of completed requests from exact nanoseconds (no histogram rounding), ms.
    pub mean_latency_exact_ms: f64,
}

/// What only the live runtime measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct LiveStats {
    /// Instances that failed to start or to answer.
    pub instance_errors: u64,
    /// Instances whose process exited while serving.
    pub instance_crashes: u64,
    /// Times the driver fell behind its deadlines.
    pub driver_lag_events: u64,
    /// The longest such lag, wall seconds.
    pub driver_lag_max_s: f64,
    /// Mean time the proxy hop held an instance slot beyond the service time, scenario ms
    /// (compare with the simulator's `[router] slot_overhead`); None when nothing completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_overhead_ms: Option<f64>,
    /// The same in wall milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_overhead_wall_ms: Option<f64>,
    /// Why the event log could not be written completely, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_log_error: Option<String>,
    /// Why the request log could not be written completely, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_log_error: Option<String>,
    /// Requests refused with 403 because their source was outside `serve --allow-from`'s
    /// blocks: each such connection is answered once and closed (present only when the flag
    /// was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbidden_sources: Option<u64>,
    /// Requests whose client closed its connection before the answer (they left their queue
    /// or gave back their instance slot at once).
    #[serde(default)]
    pub client_closed: u64,
    /// Why the run failed (a revision whose instances kept failing to start), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The load generator's view of a live run: latency from the intended send time, scenario
/// milliseconds; the send lag in wall milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ClientStats {
    /// Latency as the client measured it (scenario ms).
    pub latency_ms: Latency,
    /// The client's request accounting.
    pub requests: Requests,
    /// How late requests were sent after their intended time (wall ms; open loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_ms: Option<Latency>,
}

impl VariantResult {
    /// Sets [`VariantResult::occupancy`] (and its `extra` names).
    pub fn set_occupancy(&mut self, o: Occupancy) {
        let e = &mut self.extra;
        e.insert("end_s".into(), o.end_s.into());
        e.insert("mean_in_system".into(), o.mean_in_system.into());
        e.insert("mean_busy_instances".into(), o.mean_busy_instances.into());
        self.occupancy = Some(o);
    }

    /// Sets [`VariantResult::sim`] (and its `extra` names).
    pub fn set_sim(&mut self, s: SimStats) {
        let e = &mut self.extra;
        e.insert("events".into(), s.events.into());
        e.insert("waited_ratio".into(), s.waited_ratio.into());
        e.insert("mean_wait_ms".into(), s.mean_wait_ms.into());
        e.insert(
            "mean_latency_exact_ms".into(),
            s.mean_latency_exact_ms.into(),
        );
        self.sim = Some(s);
    }

    /// Sets [`VariantResult::live`] (and its `extra` names).
    pub fn set_live(&mut self, l: LiveStats) {
        let e = &mut self.extra;
        e.insert("instance_errors".into(), l.instance_errors.into());
        e.insert("instance_crashes".into(), l.instance_crashes.into());
        e.insert("driver_lag_events".into(), l.driver_lag_events.into());
        e.insert("driver_lag_max_s".into(), l.driver_lag_max_s.into());
        e.insert("client_closed".into(), l.client_closed.into());
        for (k, v) in [
            ("slot_overhead_ms", l.slot_overhead_ms),
            ("slot_overhead_wall_ms", l.slot_overhead_wall_ms),
        ] {
            match v {
                Some(x) => e.insert(k.into(), x.into()),
                None => e.remove(k),
            };
        }
        for (k, v) in [
            ("event_log_error", &l.event_log_error),
            ("request_log_error", &l.request_log_error),
            ("failure", &l.failure),
        ] {
            match v {
                Some(x) => e.insert(k.into(), x.clone().into()),
                None => e.remove(k),
            };
        }
        self.live = Some(l);
    }

    /// Sets [`VariantResult::client`] (and its `extra` names, `client_*`).
    pub fn set_client(&mut self, c: ClientStats) {
        let e = &mut self.extra;
        let l = c.latency_ms;
        e.insert(
            "client_latency_ms".into(),
            serde_json::json!({ "p50": l.p50, "p90": l.p90, "p99": l.p99, "max": l.max }),
        );
        e.insert(
            "client_requests".into(),
            serde_json::to_value(c.requests).unwrap_or_default(),
        );
        match &c.send_lag_ms {
            Some(s) => e.insert(
                "client_send_lag_ms".into(),
                serde_json::json!({ "mean": s.mean, "p50": s.p50, "p90": s.p90, "p99": s.p99,
                                    "p999": s.p999, "max": s.max }),
            ),
            None => e.remove("client_send_lag_ms"),
        };
        self.client = Some(c);
    }
}

/// Request accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Requests {
    /// Requests that arrived (were sent).
    pub arrived: u64,
    /// Requests answered successfully.
    pub completed: u64,
    /// Requests rejected (queue full, over max instances, HTTP errors in load mode).
    pub rejected: u64,
    /// Requests that hit the request timeout.
    pub timed_out: u64,
    /// Requests still in flight when the run ended.
    pub in_flight_at_end: u64,
}

impl Requests {
    /// rejected + timed out, over arrived (0 when nothing arrived).
    pub fn error_ratio(&self) -> f64 {
        if self.arrived == 0 {
            0.0
        } else {
            (self.rejected + self.timed_out) as f64 / self.arrived as f64
        }
    }
}

/// A latency summary in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Latency {
    /// Number of samples.
    #[serde(default)]
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// One point of a latency distribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct CdfPoint {
    /// Latency, ms.
    pub ms: f64,
    /// Share of completed requests at or below `ms`, 0..=1.
    pub fraction: f64,
}

/// Cold starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ColdStarts {
    /// Instances started (each start is a cold start).
    pub count: u64,
    /// Requests that waited for an instance to start.
    pub requests_delayed: u64,
    /// requests_delayed / arrived.
    pub ratio: f64,
}

/// Instance counts and time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Instances {
    /// Most instances alive (starting or ready) at once.
    pub peak: u64,
    /// Time-averaged instances alive.
    pub mean: f64,
    /// ∫ instances alive dt, starting included.
    pub instance_seconds: f64,
    /// Instance-seconds with no request in flight on a ready instance.
    pub idle_instance_seconds: f64,
    /// Seconds with no instance alive.
    pub time_at_zero_s: f64,
    /// Times the instance count reached zero after being positive.
    pub scale_to_zero_events: u64,
    /// CPU-seconds the instances used over the vCPU-seconds they were alive (0–1; starting
    /// time included). 0 when no CPU work is modelled (`[service] cpu_share = 0`) or measured.
    #[serde(default)]
    pub mean_cpu_utilization: f64,
}

/// Autoscaler activity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct AutoscalerStats {
    /// Decider evaluations (ticks and pokes).
    pub ticks: u64,
    /// Times panic mode was entered.
    pub panic_episodes: u64,
    /// Seconds spent in panic mode.
    pub panic_seconds: f64,
}

/// One billing model's bill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Cost {
    /// Total in USD.
    pub total_usd: f64,
    /// Total per million arrived requests.
    pub per_million_requests_usd: f64,
    /// CPU share.
    #[serde(default)]
    pub cpu_usd: f64,
    /// Memory share.
    #[serde(default)]
    pub memory_usd: f64,
    /// Per-request fees.
    #[serde(default)]
    pub requests_usd: f64,
    /// Idle (min-instance, provisioned, node) share.
    #[serde(default)]
    pub idle_usd: f64,
    /// Billable seconds under this model's rounding.
    #[serde(default)]
    pub billable_seconds: f64,
    /// Model-specific figures and notes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The outcome of the `[slo]` checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// True when every check passed (and when there are none).
    pub passed: bool,
    /// One entry per threshold.
    pub checks: Vec<SloCheck>,
}

impl SloResult {
    /// Marks a run that failed part-way: a `run_completed` check (threshold 1, actual 0) that
    /// fails with `why` as its note, so a failed run never passes whatever it measured before.
    pub fn fail_unfinished(&mut self, why: &str) {
        self.checks.push(SloCheck {
            name: "run_completed".into(),
            threshold: 1.0,
            actual: 0.0,
            unit: "ratio".into(),
            passed: false,
            default_threshold: true,
            note: Some(why.into()),
        });
        self.passed = false;
    }
}

impl Default for SloResult {
    fn default() -> Self {
        SloResult {
            passed: true,
            checks: Vec::new(),
        }
    }
}

/// One threshold and what was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloCheck {
    /// The `[slo]` key (`p99`, `cold_start_ratio`, …).
    pub name: String,
    /// The limit, in `unit`.
    pub threshold: f64,
    /// The measured value, in `unit`.
    pub actual: f64,
    /// Unit of both numbers (`ms`, `ratio`, `usd`).
    pub unit: String,
    /// actual ≤ threshold (and, for a latency check, at least one request succeeded).
    pub passed: bool,
    /// True when the scenario set no such threshold and scalelab's default applied (the
    /// error-ratio check every run has: [`DEFAULT_ERROR_RATIO`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default_threshold: bool,
    /// Why the check failed when the numbers alone do not say (a latency check with no
    /// successful request has no latency to compare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The error-ratio threshold of a run whose `[slo]` sets none: more than 1 % of requests
/// rejected or timed out fails the run.
pub const DEFAULT_ERROR_RATIO: f64 = 0.01;

/// The time series: one row per bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Series {
    /// Bucket width in seconds.
    pub bucket_s: f64,
    /// The rows, in time order.
    pub rows: Vec<SeriesRow>,
    /// Present when the rows were merged from finer ones to bound the document's size (kept
    /// when a document is read back and written again, e.g. by `report --out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coarsened: Option<SeriesCoarsening>,
}

/// How a coarsened series was made (its `coarsened` field in a result document, written next to
/// `bucket_s` and `rows` when the series was merged to bound the document's size; the CSV has
/// every row): each of its rows merges `bucket_s / from_bucket_s`
/// measured rows; counts are sums, levels and `p99_ms` the highest of the merged rows, `panic`
/// true when any was.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesCoarsening {
    /// The bucket as measured (the CSV's), seconds.
    pub from_bucket_s: f64,
    /// Rows as measured.
    pub from_rows: u64,
}

/// One bucket of the time series. Counts are sums over the bucket; levels are at its end.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct SeriesRow {
    /// Start of the bucket, seconds.
    pub t_s: f64,
    /// Requests that arrived.
    pub arrivals: u64,
    /// Requests completed.
    pub completions: u64,
    /// Requests rejected or timed out.
    pub errors: u64,
    /// Requests in flight (end of bucket).
    pub in_flight: u64,
    /// Requests waiting for an instance slot (end of bucket).
    pub queued: u64,
    /// Ready instances (end of bucket).
    pub ready: u64,
    /// Instances starting (end of bucket).
    pub starting: u64,
    /// The autoscaler's desired count (end of bucket).
    pub desired: u64,
    /// Panic mode at any time in the bucket.
    pub panic: bool,
    /// Cold starts begun in the bucket.
    pub cold_starts: u64,
    /// p99 latency of requests completed in the bucket, ms (0 when none).
    #[serde(default)]
    pub p99_ms: f64,
    /// CPU-seconds used over vCPU-seconds alive in the bucket (0 without CPU work).
    #[serde(default)]
    pub cpu_utilization: f64,
}

impl SeriesRow {
    /// Consecutive buckets merged into one: counts are summed, levels keep the maximum (so
    /// peaks stay visible), panic is "any", p99 the largest; the time is the first row's.
    /// `rows` must not be empty.
    pub fn merged(rows: &[SeriesRow]) -> SeriesRow {
        let mut m = rows[0];
        for r in &rows[1..] {
            m.arrivals += r.arrivals;
            m.completions += r.completions;
            m.errors += r.errors;
            m.cold_starts += r.cold_starts;
            m.in_flight = m.in_flight.max(r.in_flight);
            m.queued = m.queued.max(r.queued);
            m.ready = m.ready.max(r.ready);
            m.starting = m.starting.max(r.starting);
            m.desired = m.desired.max(r.desired);
            m.panic |= r.panic;
            m.p99_ms = m.p99_ms.max(r.p99_ms);
            m.cpu_utilization = m.cpu_utilization.max(r.cpu_utilization);
        }
        m
    }
}

/// The CSV header for [`SeriesRow`]s.
pub const SERIES_CSV_HEADER: &str = "t_s,arrivals,completions,errors,in_flight,queued,ready,starting,desired,panic,cold_starts,p99_ms,cpu_utilization";

impl Series {
    /// The series as CSV, with [`SERIES_CSV_HEADER`].
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(64 * (self.rows.len() + 1));
        out.push_str(SERIES_CSV_HEADER);
        out.push('\n');
        for r in &self.rows {
            push_csv_row(&mut out, r);
        }
        out
    }
}

/// Appends one row of [`SERIES_CSV_HEADER`]'s columns and a newline to `out`, numbers at full
/// precision.
pub fn push_csv_row(out: &mut String, r: &SeriesRow) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.t_s,
        r.arrivals,
        r.completions,
        r.errors,
        r.in_flight,
        r.queued,
        r.ready,
        r.starting,
        r.desired,
        u8::from(r.panic),
        r.cold_starts,
        r.p99_ms,
        r.cpu_utilization
    );
}

/// Checks a variant's measurements against the scenario's `[slo]`. `cost_model` picks the bill
/// that `cost_per_million_usd` applies to (the scenario's first model when the SLO names none).
///
/// Every run gets an error-ratio check, with [`DEFAULT_ERROR_RATIO`] when the `[slo]` table
/// sets no `error_ratio`, so a run whose requests failed never passes. Latency percentiles are
/// of the requests that succeeded; a latency check of a run in which none did fails.
pub fn check_slo(slo: &Slo, v: &VariantResult, default_cost_model: Option<&str>) -> SloResult {
    let mut checks = Vec::new();
    let succeeded = v.latency_ms.count > 0;
    let mut lat = |name: &str, limit: Option<std::time::Duration>, actual: f64| {
        if let Some(limit) = limit {
            let threshold = limit.as_secs_f64() * 1000.0;
            checks.push(SloCheck {
                name: name.into(),
                threshold,
                actual,
                unit: "ms".into(),
                passed: succeeded && actual <= threshold,
                default_threshold: false,
                note: (!succeeded).then(|| {
                    "no request succeeded, so there is no latency to meet the threshold".into()
                }),
            });
        }
    };
    lat("p50", slo.p50, v.latency_ms.p50);
    lat("p90", slo.p90, v.latency_ms.p90);
    lat("p99", slo.p99, v.latency_ms.p99);
    lat("p999", slo.p999, v.latency_ms.p999);
    let mut ratio = |name: &str, limit: Option<f64>, actual: f64, unit: &str| {
        if let Some(threshold) = limit {
            checks.push(SloCheck {
                name: name.into(),
                threshold,
                actual,
                unit: unit.into(),
                passed: actual <= threshold,
                default_threshold: false,
                note: None,
            });
        }
    };
    ratio(
        "cold_start_ratio",
        slo.cold_start_ratio,
        v.cold_starts.ratio,
        "ratio",
    );
    let error_ratio = v.requests.error_ratio();
    checks.push(SloCheck {
        name: "error_ratio".into(),
        threshold: slo.error_ratio.unwrap_or(DEFAULT_ERROR_RATIO),
        actual: error_ratio,
        unit: "ratio".into(),
        passed: error_ratio <= slo.error_ratio.unwrap_or(DEFAULT_ERROR_RATIO),
        default_threshold: slo.error_ratio.is_none(),
        note: None,
    });
    if let Some(limit) = slo.cost_per_million_usd {
        let model = slo.cost_model.as_deref().or(default_cost_model);
        if let Some(cost) = model.and_then(|m| v.cost.get(m)) {
            checks.push(SloCheck {
                name: "cost_per_million_usd".into(),
                threshold: limit,
                actual: cost.per_million_requests_usd,
                unit: "usd".into(),
                passed: cost.per_million_requests_usd <= limit,
                default_threshold: false,
                note: None,
            });
        }
    }
    SloResult {
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

#[cfg(test)]
mod tests;
