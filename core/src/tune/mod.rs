//! Tuning: which settings give the lowest bill with p99 under the SLO?
//!
//! A scenario's `[tune]` table names the scenario keys to search (dotted, as in `[[variants]]`
//! `set`), each with a list of values or a range, the objective, and how many seeds each
//! candidate is simulated with. Everything here is pure: the binary runs the simulations (in
//! parallel, one whole run per thread) and hands the measurements back to these functions.
//!
//! ```toml
//! [tune]
//! objective = "min-cost"          # or "pareto": cost vs p99 vs cold-start ratio
//! model = "cloud-run-request"     # the bill to minimise (default: each candidate's first model)
//! seeds = 3                       # per candidate; results averaged, spread reported
//! search = "grid"                 # or "random" (with samples = N) or "halving"
//! # samples = 50                  # random: candidates drawn; halving: start from a sample
//! # keep = 0.5                    # halving: fraction kept per rung
//! # min_duration = "2m"           # halving: first horizon (default: duration / 8)
//! [tune.params]
//! "autoscaler.target" = [10, 25, 50, 100]
//! "autoscaler.min_scale" = { min = 0, max = 3, step = 1 }
//! "autoscaler.stable_window" = { min = "30s", max = "120s", step = "30s" }
//! "service.container_concurrency" = { min = 10, max = 1000, log = true, n = 5 }
//! "billing.models" = [["cloud-run-request"], ["cloud-run-instance"]]
//! ```
//!
//! Key items:
//! - [`TuneSpec`]: `[tune]` resolved (ranges expanded to value lists, each value checked
//!   against the scenario); [`RawTune`] mirrors the table as written.
//! - [`candidates`]: the grid in a fixed order, random samples from it, the seed of every
//!   simulation, and building a candidate's scenario ([`candidates::CandidateBuilder`]).
//! - [`analyze`]: per-seed [`analyze::Sample`]s → a [`analyze::Summary`] (means, spread, SLO
//!   verdict), the Pareto front, the winner, the successive-halving schedule.
//! - [`doc`]: the result document (`tune.json`), its CSV table, shard slices and the exact merge
//!   of shard documents.
//!
//! ```
//! use scalelab_core::scenario::Scenario;
//! let s = Scenario::from_toml_str(r#"
//!     duration = "1m"
//!     [[workload.phases]]
//!     duration = "1m"
//!     arrival = { process = "poisson", rate = 5 }
//!     [tune]
//!     [tune.params]
//!     "autoscaler.min_scale" = { min = 0, max = 2, step = 1 }
//!     "autoscaler.target" = [10, 50]
//! "#, "inline.toml".as_ref()).unwrap();
//! let tune = s.tune.unwrap();
//! assert_eq!(tune.grid_size().unwrap(), 6);
//! // The grid's order: keys sorted, the last key varies fastest.
//! let c = tune.candidates(7).unwrap();
//! assert_eq!(tune.settings(&c[1])[0].0, "autoscaler.min_scale");
//! ```
//!
//! Each value of a param must give a valid scenario with every other key at its base setting
//! (checked when the file is read, so typos fail with the file, line and key); a combination
//! that is invalid (say `min_scale` above `max_scale`) is listed with its reason and skipped.
//! Candidates are the scenario itself with the settings applied: `[[variants]]` are not tuned.
//!
//! Guarantees: the candidate list, each candidate's id and the seed of every simulation depend
//! only on the scenario file and the master seed, never on threads or shards; seed `k` is the
//! same for every candidate (common random numbers: candidates are compared on the same
//! traffic), and seed 0 is the master seed itself, so `scalelab sim --seed MASTER` of a
//! candidate reproduces its first sample exactly.

pub mod analyze;
pub mod candidates;
pub mod doc;
mod resolve;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::scenario::raw::S;

pub(crate) use resolve::resolve_tune;

/// `[tune]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the fields mirror the documented scenario keys one-to-one
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

/// `[tune]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneSpec {
    /// The keys searched, sorted by key, each with its values in the order given (ranges
    /// expanded from `min` up).
    pub params: Vec<Param>,
    /// What "best" means.
    pub objective: Objective,
    /// The billing model whose cost is minimised (None: each candidate's first listed model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Simulations per candidate, each with its own seed (1 … 1000).
    pub seeds: u32,
    /// How candidates are chosen.
    pub search: Search,
    /// Random search: how many candidates to draw; halving: how many to start from (None:
    /// the whole grid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// Halving: the fraction of candidates kept at each rung, in (0, 1).
    pub keep: f64,
    /// Halving: the horizon of the first rung (None: an eighth of the scenario's duration).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_duration"
    )]
    pub min_duration: Option<Duration>,
}

/// One searched key and its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Dotted scenario key, as in `[[variants]] set` (`autoscaler.target`).
    pub key: String,
    /// The values tried, as TOML values (durations as strings).
    pub values: Vec<toml::Value>,
}

/// The objective of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// The lowest mean cost of the billing model among candidates whose mean measurements pass
    /// the `[slo]`.
    MinCost,
    /// The Pareto front of mean cost, mean p99 latency and mean cold-start ratio; the best is
    /// the cheapest front member that passes the `[slo]`.
    Pareto,
}

impl Objective {
    /// The name in scenario files and on the command line.
    pub fn label(self) -> &'static str {
        match self {
            Objective::MinCost => "min-cost",
            Objective::Pareto => "pareto",
        }
    }
}

impl TuneSpec {
    /// The objective and the bill it is about, for people: `min-cost (cloud-run-request)`.
    pub fn objective_text(&self) -> String {
        let model = self
            .model
            .as_deref()
            .unwrap_or("each candidate's first billing model");
        format!("{} ({model})", self.objective.label())
    }
}

/// How candidates are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Search {
    /// Every combination of the values.
    Grid,
    /// `samples` distinct combinations drawn from the grid with the master seed.
    Random,
    /// Successive halving on the horizon: every candidate on a short horizon, the best `keep`
    /// fraction on twice the horizon, and so on up to the scenario's duration.
    Halving,
}

impl Search {
    /// The name in scenario files and on the command line.
    pub fn label(self) -> &'static str {
        match self {
            Search::Grid => "grid",
            Search::Random => "random",
            Search::Halving => "halving",
        }
    }

    /// Parses a name (`grid`, `random`, `halving`).
    pub fn parse(s: &str) -> Option<Search> {
        match s {
            "grid" => Some(Search::Grid),
            "random" => Some(Search::Random),
            "halving" => Some(Search::Halving),
            _ => None,
        }
    }
}

/// The most candidates one search may have (a guard against a typo'd range).
pub const MAX_CANDIDATES: u64 = 1_000_000;

/// The most values one range may expand to.
pub const MAX_RANGE_VALUES: usize = 10_000;

/// Random search without `samples`: this many candidates.
pub const DEFAULT_SAMPLES: u64 = 20;

/// Problems of a tuning run that are not in the scenario file: command-line settings, shard
/// documents that do not fit together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TuneError {
    /// The scenario has no `[tune]` table; fatal.
    #[error("the scenario has no [tune] table: add one with [tune.params] to search")]
    NoTuneTable,
    /// A setting (flag or key) is out of range; fatal.
    #[error("{what}: {message}")]
    Setting {
        /// The flag or key.
        what: String,
        /// What was expected.
        message: String,
    },
    /// The grid has more candidates than [`MAX_CANDIDATES`]; fatal.
    #[error(
        "the grid has {0} candidates, more than the limit of {MAX_CANDIDATES}: use search = \
         \"random\" with samples, or fewer values"
    )]
    TooManyCandidates(u128),
    /// Shard documents cannot be merged; fatal.
    #[error("cannot merge: {0}")]
    Merge(String),
}

mod opt_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => crate::duration::serde_duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        use serde::Deserialize;
        Option::<crate::duration::Dur>::deserialize(d).map(|o| o.map(|d| d.0))
    }
}

#[cfg(test)]
mod tests;
