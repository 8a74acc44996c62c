//! The Azure Functions traces as fleet scenarios: `scalelab import azure-2019` and
//! `scalelab import azure-2021`.
//!
//! Each importer reads the published CSV files (MODELS.md §6 gives their column layouts),
//! samples `--functions N` of the trace's functions across popularity, and writes two files: a
//! fleet scenario (one `[[services]]` entry per sampled function, named by its function hash)
//! and, next to it, the `[trace]` file its arrivals come from (`NAME.trace.csv` for
//! `NAME.toml`), in the format of the shared fleet trace contract:
//!
//! - [`import_2019`]: per-minute invocation counts, `t_s,service,count`, one row per function
//!   and minute with invocations; durations from the percentile file (an `empirical`
//!   distribution through the percentile points), memory per application from the memory file.
//! - [`import_2021`]: one row per invocation, `t_s,service,duration_s`, with the start time
//!   (`end_timestamp − duration`) and the recorded duration.
//!
//! # Sampling across popularity
//!
//! A first pass totals the invocations of every function (memory grows with the number of
//! functions, never with the trace's length). The functions with at least one invocation are
//! ordered by total (ties by their hashes, so the order does not depend on the file's), the
//! ranks are cut into N strata of equal size, and one function is drawn uniformly within each
//! stratum from a generator seeded by `--seed`. The sample therefore has the trace's
//! distribution of popularity, rank by rank: the rarest and the most popular strata are always
//! represented, and the same files and seed always give the same functions.
//!
//! # Streaming
//!
//! Neither importer holds the trace. The 2019 files have one row per function and day with
//! 1440 minute columns: after the first pass, each day file is read again keeping only the
//! sampled functions' rows (memory ∝ sampled functions × 1440 minutes) and emitted minute by
//! minute. The 2021 file is in end-time order; rows are emitted in start order through a
//! reorder buffer bounded by the longest duration among the sampled functions (see
//! [`import_2021`]).

mod common;
mod fits;
pub mod synth;
mod y2019;
mod y2021;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use fits::{
    BURR_C, BURR_K, BURR_LAMBDA_MB, EXEC_LOGNORMAL_MU, EXEC_LOGNORMAL_SIGMA, burr_memory_mb,
};
pub use y2019::import_2019;
pub use y2021::import_2021;

/// How the 2019 per-minute counts are spread within their minute (the `[trace]` table's
/// `spread`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spread {
    /// Exactly the minute's count, at independent uniform times (DSLab FaaS's default).
    #[default]
    Uniform,
    /// A Poisson process at the minute's rate: the count varies, its mean is the trace's.
    Poisson,
    /// Exactly the count, evenly spaced.
    Even,
}

impl Spread {
    /// The name in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Spread::Uniform => "uniform",
            Spread::Poisson => "poisson",
            Spread::Even => "even",
        }
    }
}

/// What `import azure-2019` reads and writes.
#[derive(Clone, Debug)]
pub struct Azure2019 {
    /// The invocation files, one per day in order (`…d01.csv`, `…d02.csv`, …): day k starts at
    /// (k − 1) · 24 h.
    pub invocations: Vec<PathBuf>,
    /// The function durations files (percentiles); when a function is in several, the row with
    /// the most executions (`Count`) is used.
    pub durations: Vec<PathBuf>,
    /// The app memory files; when an app is in several, the row with the most samples is used.
    pub memory: Vec<PathBuf>,
    /// How many functions to sample (`None`: every function with an invocation).
    pub functions: Option<usize>,
    /// The sampling seed (also the scenario's seed).
    pub seed: u64,
    /// How the per-minute counts are spread within their minute.
    pub spread: Spread,
    /// The scenario to write; the trace goes next to it.
    pub output: PathBuf,
}

/// What `import azure-2021` reads and writes.
#[derive(Clone, Debug)]
pub struct Azure2021 {
    /// The invocation trace (`app,func,end_timestamp,duration`).
    pub file: PathBuf,
    /// How many functions to sample (`None`: all).
    pub functions: Option<usize>,
    /// The sampling seed (also the scenario's seed).
    pub seed: u64,
    /// The scenario to write; the trace goes next to it.
    pub output: PathBuf,
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The trace file next to it.
    pub trace: PathBuf,
    /// Functions in the trace with at least one invocation.
    pub functions_in_trace: usize,
    /// Functions written as `[[services]]`.
    pub functions_sampled: usize,
    /// Invocations of the sampled functions (the requests the trace file holds).
    pub invocations: u64,
    /// Data rows written to the trace file.
    pub rows: u64,
    /// The scenario's duration, seconds.
    pub duration_s: f64,
    /// The most rows the 2021 reorder buffer held at once (0 for 2019).
    pub max_buffered: usize,
    /// What was filled in or left out, one sentence each.
    pub warnings: Vec<String>,
}

/// The trace file written next to `scenario`: `x/NAME.toml` → `x/NAME.trace.csv`.
pub fn trace_path(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleet".into());
    scenario.with_file_name(format!("{stem}.trace.csv"))
}
