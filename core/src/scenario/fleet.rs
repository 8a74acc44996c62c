//! Fleets: many services in one scenario (`[[services]]`) and a shared, time-ordered arrival
//! trace (`[trace]`), resolved.
//!
//! A single-service scenario is a fleet of one: [`Scenario::members`] lists the services of any
//! scenario, each as a complete single-service [`Scenario`] the platform runs as it always did.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{Revision, Scenario, Slo};
use crate::workload::spec::WorkloadSpec;

/// `[[services]]`: one service of a fleet, resolved (its tables over the top-level defaults).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetService {
    /// Its name (unique; a trace's function hash for an imported fleet).
    pub name: String,
    /// Free-form labels carried into the results (`trigger` for an imported Azure function).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its revisions (one named `default` unless it lists `revisions`).
    pub revisions: Vec<Revision>,
    /// Its own arrivals (no phases when it takes them from the fleet's `[trace]` only).
    pub workload: WorkloadSpec,
    /// Its own `[slo]` (checked on its own results; the fleet's `[slo]` is checked on the
    /// totals).
    #[serde(skip_serializing_if = "Slo::is_empty")]
    pub slo: Slo,
}

/// What the rows of a `[trace]` file are (told by its header line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    /// `t_s,service,count`: `count` requests in the interval starting at `t_s` (Azure 2019).
    Counts,
    /// `t_s,service,duration_s`: one request at `t_s`, taking `duration_s` (Azure 2021).
    Invocations,
}

/// How a count is spread over its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// Exactly `count` requests at independent uniform times within the interval (DSLab FaaS's
    /// default).
    Uniform,
    /// A Poisson process at `count / interval`: the count varies, its mean is the trace's.
    Poisson,
    /// Exactly `count` requests evenly spaced over the interval, the first at its start.
    Even,
}

impl Spread {
    /// The scenario names.
    pub const NAMES: [&'static str; 3] = ["uniform", "poisson", "even"];

    /// The scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Spread::Uniform => "uniform",
            Spread::Poisson => "poisson",
            Spread::Even => "even",
        }
    }
}

/// `[trace]`, resolved: the file is read as the run goes (one interval of rows at a time), so
/// a trace of any length costs the memory of one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetTrace {
    /// The file, as resolved against the scenario's directory.
    pub file: PathBuf,
    /// Its rows.
    pub format: TraceFormat,
    /// The interval of a `counts` row.
    #[serde(with = "crate::duration::serde_duration")]
    pub interval: Duration,
    /// How counts are spread.
    pub spread: Spread,
    /// `invocations`: each request takes its recorded duration instead of a sampled service
    /// time.
    pub durations: bool,
    /// Requests per service (by index in `services`) the file holds: counts summed, or rows.
    pub requests: Vec<u64>,
    /// Rows per service (a service the trace names takes its arrivals from it).
    #[serde(skip)]
    pub rows: Vec<u64>,
    /// Where the trace ends: the last row's time (plus the interval of a count).
    #[serde(with = "crate::duration::serde_duration")]
    pub end: Duration,
}

/// One service of a scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// Its name (the scenario's own for a single-service scenario).
    pub name: &'a str,
    /// Its labels (empty for a single-service scenario).
    pub labels: Cow<'a, BTreeMap<String, String>>,
    /// The service as a single-service scenario.
    pub scenario: Cow<'a, Scenario>,
    /// The master seed of its random streams: the run's seed for a single-service scenario,
    /// [`service_seed`]`(seed, name)` for a `[[services]]` entry, so a service draws the same
    /// numbers whatever else the fleet holds.
    pub seed: u64,
}

impl Scenario {
    /// True for a scenario with `[[services]]`.
    pub fn is_fleet(&self) -> bool {
        !self.services.is_empty()
    }

    /// How many services it runs.
    pub fn service_count(&self) -> usize {
        self.services.len().max(1)
    }

    /// Service `i` of a fleet as a complete single-service scenario: its revisions, workload
    /// and SLO, the fleet's router, billing, simulator settings and horizon.
    pub fn service_scenario(&self, i: usize) -> Scenario {
        let svc = &self.services[i];
        Scenario {
            name: svc.name.clone(),
            description: None,
            seed: self.seed,
            duration: self.duration,
            revisions: svc.revisions.clone(),
            router: self.router.clone(),
            workload: svc.workload.clone(),
            request_classes: Vec::new(),
            rollouts: Vec::new(),
            routes: Vec::new(),
            billing: self.billing.clone(),
            slo: svc.slo.clone(),
            load: self.load.clone(),
            sim: self.sim.clone(),
            variants: Vec::new(),
            tune: None,
            path: self.path.clone(),
            services: Vec::new(),
            trace: None,
            cluster: self.cluster.clone(),
        }
    }

    /// Every service the scenario runs, in order: its `[[services]]`, or itself; `seed` is the
    /// run's master seed.
    pub fn members(&self, seed: u64) -> Vec<Member<'_>> {
        if self.services.is_empty() {
            return vec![Member {
                name: &self.name,
                labels: Cow::Owned(BTreeMap::new()),
                scenario: Cow::Borrowed(self),
                seed,
            }];
        }
        self.services
            .iter()
            .enumerate()
            .map(|(i, s)| Member {
                name: &s.name,
                labels: Cow::Borrowed(&s.labels),
                scenario: Cow::Owned(self.service_scenario(i)),
                seed: service_seed(seed, &s.name),
            })
            .collect()
    }
}

/// The master seed of a `[[services]]` entry named `name` under the run's seed `seed`: every
/// stream of the service (arrivals, trace spreading, service and cold-start times, routing)
/// derives from it, so adding or removing another service changes none of its draws.
pub fn service_seed(seed: u64, name: &str) -> u64 {
    let s = crate::rng::stream_seed(seed, &format!("service:{name}"));
    (s >> 64) as u64
}
