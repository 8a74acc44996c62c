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
//!   against the scenario) by the scenario resolver, which owns the format of every table.
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

pub use crate::scenario::tune::{
    DEFAULT_SAMPLES, MAX_CANDIDATES, MAX_RANGE_VALUES, Objective, Param, Search, TuneSpec,
};

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

#[cfg(test)]
mod tests;
