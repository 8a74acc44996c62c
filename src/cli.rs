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
    /// Parse and resolve scenario files and print them with every default filled in.
    Validate(ValidateArgs),
    /// The Knative autoscaler on its own.
    #[command(subcommand)]
    Kpa(KpaCommand),
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
