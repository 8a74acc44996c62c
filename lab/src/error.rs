//! The one error type of the crate.

use std::path::PathBuf;

use scalelab_core::scenario::ScenarioError;
use scalelab_core::tune::TuneError;

/// Why a workflow could not run or finish. [`LabError::is_bad_input`] tells input problems
/// (exit code 2 in the CLI) from failures while running (exit code 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A scenario file is invalid (bad input).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A setting given outside the scenario file (a flag) is out of range (bad input).
    #[error("{what}: {message}")]
    Setting {
        /// The flag or option, as the user spells it (`--time-scale`).
        what: String,
        /// What was expected.
        message: String,
    },
    /// A run was asked of a variant the scenario does not have (bad input).
    #[error("--variant: no variant named \"{name}\" in {scenario} (it has: {names})")]
    NoSuchVariant {
        /// The name asked for.
        name: String,
        /// The scenario file.
        scenario: String,
        /// The names it has, comma-separated.
        names: String,
    },
    /// A Knative manifest cannot be read or has settings scalelab cannot map (bad input).
    #[error("{source_name}: {message}")]
    Manifest {
        /// The file (or `standard input`).
        source_name: String,
        /// What is wrong, naming the field or annotation.
        message: String,
    },
    /// A value (an annotation, a quantity, a duration) cannot be read (bad input).
    #[error("{0}")]
    InvalidValue(String),
    /// The scenario cannot be expressed as a Knative manifest or gcloud commands (bad input).
    #[error("{0}")]
    Export(String),
    /// A tune document is unreadable or does not fit the request (bad input).
    #[error("{0}")]
    TuneDoc(String),
    /// A tuning setting or shard set is invalid (bad input).
    #[error(transparent)]
    Tune(#[from] TuneError),
    /// The simulator failed (a runaway run or an invariant; runtime failure).
    #[error(transparent)]
    Sim(#[from] scalelab_sim::SimError),
    /// The live runtime could not start (runtime failure, or bad input for its options).
    #[error("starting the runtime: {0}")]
    Runtime(#[from] scalelab_runtime::Error),
    /// The load generator failed (runtime failure).
    #[error("load generator: {0}")]
    Load(#[from] scalelab_loadgen::LoadError),
    /// Writing a report failed (runtime failure).
    #[error(transparent)]
    Report(#[from] scalelab_reports::ReportError),
    /// A file could not be read or written (runtime failure).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Something failed while running that is not one of the above (runtime failure).
    #[error("{0}")]
    Failed(String),
}

impl LabError {
    /// True when the input (a scenario, a flag, a manifest, a document) is at fault: the CLI
    /// exits with code 2; otherwise with code 1.
    pub fn is_bad_input(&self) -> bool {
        match self {
            LabError::Scenario(_)
            | LabError::Setting { .. }
            | LabError::NoSuchVariant { .. }
            | LabError::Manifest { .. }
            | LabError::InvalidValue(_)
            | LabError::Export(_)
            | LabError::TuneDoc(_)
            | LabError::Tune(_) => true,
            LabError::Runtime(e) => matches!(
                e,
                scalelab_runtime::Error::NoSuchVariant(..)
                    | scalelab_runtime::Error::InvalidOption(_)
            ),
            LabError::Sim(e) => matches!(e, scalelab_sim::SimError::NoSuchVariant(..)),
            _ => false,
        }
    }

    /// A bad flag or option.
    pub fn setting(what: impl Into<String>, message: impl Into<String>) -> LabError {
        LabError::Setting {
            what: what.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> LabError {
        LabError::Io {
            path: path.into(),
            source,
        }
    }
}
