//! Command-line arguments (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Simulate, run and load-test serverless autoscaling: Knative's KPA, cold starts,
/// scale-to-zero and Cloud Run / Lambda billing, from one scenario file.
#[derive(Debug, Parser)]
#[command(name = "scalelab", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 bad input, 3 SLO breach.\n\
Start with: scalelab sim scenarios/steady-api.toml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Output format for data on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable tables.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a scenario (every variant, side by side): latency, cold starts, instances, cost.
    Sim(SimArgs),
    /// Parse and resolve scenario files and print them with every default filled in.
    Validate(ValidateArgs),
    /// The Knative autoscaler on its own.
    #[command(subcommand)]
    Kpa(KpaCommand),
    /// Re-render saved results without re-running them; with two or more, compare them.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum KpaCommand {
    /// Feed a recorded metric series to the KPA decider; print one JSON line per step.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The input JSON (DESIGN.md, "The autoscaler on its own"); `-` reads standard input.
    #[arg(long, short, value_name = "FILE")]
    pub input: PathBuf,
}

/// Output format of `scalelab report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// Aligned tables for a terminal.
    #[default]
    Text,
    /// Markdown (pull requests, GitHub step summaries).
    Md,
    /// The result document (one run) or the comparison (several), as JSON.
    Json,
    /// The time series of every variant (one run) or every delta (several).
    Csv,
    /// JUnit XML: one test case per SLO check (and per gated metric when comparing).
    Junit,
    /// One self-contained HTML page.
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Result documents (`result.json`) or directories written by `--out DIR`.
    #[arg(required = true, value_name = "DIR_OR_FILE")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Write the output to FILE instead of standard output (`-`: standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the whole set (result.json, timeseries.csv, charts, report.html, report.md)
    /// into DIR; when comparing, one subdirectory per run plus comparison.{md,json,html}.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Comparisons: a latency percentile, the error ratio or a cost per million requests that
    /// grows by more than PCT percent is a regression (exit code 3).
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    pub tolerance: f64,
    /// Compare every input with this run (default: the first input is the baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Master seed: a number or a git commit id (default: the scenario's `seed`, else random,
    /// printed on stderr).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Run only this variant (`baseline` or a `[[variants]]` name).
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
    /// Override the scenario's duration (arrivals stop at this horizon), e.g. `2m`.
    #[arg(long, value_name = "D")]
    pub duration: Option<String>,
    /// Write result.json, timeseries.csv, charts, report.html and report.md into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write the event log (instance lifecycle, decisions; JSON lines) to FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Check invariants on every event (slower; they are always checked at the end).
    #[arg(long)]
    pub check: bool,
    /// Threads for running variants in parallel (default: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Print simulator throughput (simulated requests and events per second of CPU) on stderr.
    #[arg(long)]
    pub bench: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}
