//! The crate's error type: every module's errors in one enum, so a caller can `?` anything
//! this crate returns into one type. Each module keeps its own precise error as well.

use crate::autoscaler::keys::Rejected;
use crate::autoscaler::replay::ReplayError;
use crate::duration::DurationError;
use crate::scenario::ScenarioError;
use crate::tune::TuneError;

/// Everything that can go wrong in `scalelab-core`. All of it is bad input (a scenario, a
/// replay document, a flag value): nothing here fails while running.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario file is invalid (boxed: it carries the offending line).
    #[error(transparent)]
    Scenario(Box<ScenarioError>),
    /// A `kpa replay` input is invalid.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A tuning setting or a set of shard documents is invalid.
    #[error(transparent)]
    Tune(#[from] TuneError),
    /// A duration string is invalid.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// An autoscaler setting's value is out of range.
    #[error(transparent)]
    Setting(#[from] Rejected),
    /// A seed that is neither a decimal number nor a git commit id.
    #[error("invalid seed \"{0}\": expected a decimal number or a git commit id")]
    Seed(String),
    /// A shard that is not `i/n` with `0 ≤ i < n`.
    #[error("\"{0}\" is not a shard: expected i/n with 0 ≤ i < n, e.g. 0/4")]
    Shard(String),
    /// A billing model name that is not one of [`crate::billing::MODEL_NAMES`].
    #[error(
        "unknown billing model \"{0}\": expected one of {models} (optionally with \
         @<granularity>, like \"cloud-run-request@per-second\")",
        models = crate::billing::MODEL_NAMES.join(", ")
    )]
    BillingModel(String),
    /// A rounding step that is not a duration or `per-second`.
    #[error("{0}; a granularity is a duration like \"100ms\" or the preset \"per-second\"")]
    Granularity(DurationError),
    /// A rounding step of zero.
    #[error("a granularity must be longer than zero (use \"1ns\" for no rounding)")]
    GranularityZero,
    /// A rounding step longer than a day.
    #[error("granularity {0} is longer than a day")]
    GranularityTooLong(String),
}

impl From<ScenarioError> for Error {
    fn from(e: ScenarioError) -> Self {
        Error::Scenario(Box::new(e))
    }
}
