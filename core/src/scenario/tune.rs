//! `[tune]`, resolved: what a search covers. The scenario resolver fills it (every value tried
//! against the scenario); [`crate::tune`] runs it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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

impl TuneSpec {
    /// The objective and the bill it is about, for people: `min-cost (cloud-run-request)`.
    pub fn objective_text(&self) -> String {
        let model = self
            .model
            .as_deref()
            .unwrap_or("each candidate's first billing model");
        format!("{} ({model})", self.objective.label())
    }

    /// Combinations of all values (saturating).
    pub fn grid_len(&self) -> u128 {
        self.params
            .iter()
            .map(|p| p.values.len() as u128)
            .try_fold(1u128, |acc, n| acc.checked_mul(n))
            .unwrap_or(u128::MAX)
    }
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
