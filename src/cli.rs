//! Command-line arguments (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Simulate, run and load-test serverless autoscaling: Knative's KPA, cold starts,
/// scale-to-zero and Cloud Run / Lambda billing, from one scenario file.
#[derive(Debug, Parser)]
#[command(name = "scalelab", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 bad input, 3 SLO breach.\n\
Start with: scalelab sim scenarios/steady-api.toml\n\
Reference (scenario keys, result fields, every command): docs/README.md in the repository."
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
    /// Run a scenario live: the runtime on loopback driven by the load generator, one command.
    Run(RunArgs),
    /// Simulate and run a scenario live with the same seed; side by side with a verdict per metric.
    Compare(CompareArgs),
    /// Parse and resolve scenario files and print them with every default filled in.
    Validate(ValidateArgs),
    /// The Knative autoscaler on its own.
    #[command(subcommand)]
    Kpa(KpaCommand),
    /// Re-render saved results without re-running them; with two or more, compare them.
    Report(ReportArgs),
    /// HTTP load against a URL: open loop at a rate or a scenario's workload (latency from the
    /// intended send time), or closed loop with --connections; --merge combines shards.
    Load(LoadArgs),
    /// Serve a scenario live: a router/activator on 127.0.0.1 with real instances that the KPA
    /// scales from zero and back; Ctrl-C drains and writes the result.
    Serve(ServeArgs),
    /// Search the scenario's [tune] settings for the lowest cost under the [slo] (or the Pareto
    /// front of cost, p99 and cold starts), simulating candidates in parallel.
    Tune(TuneArgs),
    /// Write a scenario's (or the tuned winner's) settings as a Knative Service manifest or
    /// `gcloud run deploy` flags.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Start a scenario from what runs today: a Knative Service manifest to scenario tables,
    /// or an Azure Functions trace to a fleet scenario and its trace file.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
scalelab serve scenarios/steady-api.toml --allow-unauthenticated\n  \
scalelab serve scenarios/steady-api.toml --cmd \"python3 app.py\" --out live-run\n  \
curl -H \"Authorization: Bearer $TOKEN\" \"$URL/?message=Hello\"   (URL and TOKEN are printed)\n  \
scalelab serve scenarios/steady-api.toml --cmd 'gunicorn -b 127.0.0.1:$PORT app:app' --ready-path /healthz\n\
Quote --cmd in single quotes: $PORT is set by scalelab for each instance, not by your shell.\n\
Metrics: $URL/_scalelab/metrics (and $URL/metrics unless --no-root-metrics).\n\
A revision by tag: header x-scalelab-revision: TAG, or the path prefix /@TAG/.")]
pub struct ServeArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Address to listen on; the default is loopback only, on a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Run each instance as this shell command, which must serve HTTP on $PORT (default:
    /// synthetic in-process instances with the scenario's cold start and service times).
    #[arg(long, value_name = "CMD")]
    pub cmd: Option<String>,
    /// Time from SIGTERM to SIGKILL when a --cmd instance is stopped.
    #[arg(long, value_name = "D", default_value = "10s")]
    pub termination_grace: String,
    /// Master seed: a number or a git commit id (default: the scenario's `seed`, else random).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Serve this variant (`baseline` or a `[[variants]]` name).
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
    /// Let requests in without a bearer token (Cloud Run's --allow-unauthenticated).
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Only these sources may call: an address block like 10.0.0.0/8, fd00::/8 or one address
    /// (repeatable). Others get 403 `source-not-allowed` and are counted
    /// (`live.forbidden_sources`); the stand-in for Cloud Run's ingress settings.
    #[arg(long, value_name = "CIDR")]
    pub allow_from: Vec<String>,
    /// Confirm that --allow-unauthenticated on a --listen address beyond loopback is meant:
    /// anyone who can reach the address may then call the service.
    #[arg(long)]
    pub confirm_unauthenticated_listen: bool,
    /// Probe a starting --cmd instance with GET PATH (ready on a 2xx or 3xx answer) instead of a
    /// TCP connection to $PORT (Cloud Run's startup probe, httpGet instead of tcpSocket).
    #[arg(long, value_name = "PATH")]
    pub ready_path: Option<String>,
    /// A revision whose instances fail to start this many times in a row gives up: its
    /// requests get 503 and serve stops with exit code 1.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_start_failures: u32,
    /// Largest request body (413 beyond), e.g. 32MiB, 512KiB, 1000000.
    #[arg(long, value_name = "SIZE", default_value = "32MiB")]
    pub max_request_body: String,
    /// Request-body bytes the router holds in memory at once over all requests.
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub max_inflight_body: String,
    /// Client connections open at once (more wait in the listen backlog).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,
    /// A request head must be complete this long after its first byte (slow clients are cut
    /// off), wall time.
    #[arg(long, value_name = "D", default_value = "10s")]
    pub header_timeout: String,
    /// Close a keep-alive connection idle this long, wall time.
    #[arg(long, value_name = "D", default_value = "75s")]
    pub idle_timeout: String,
    /// The bearer token requests must carry (default: one is generated and printed).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SCALELAB_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Access-Control-Allow-Origin of the synthetic hello function.
    #[arg(
        long,
        value_name = "ORIGIN",
        env = "ALLOWED_ORIGIN",
        default_value = "*"
    )]
    pub allowed_origin: String,
    /// Synthetic instances answer an empty 200 instead of the hello function.
    #[arg(long)]
    pub no_hello: bool,
    /// Leave /metrics to the service (metrics stay at /_scalelab/metrics).
    #[arg(long)]
    pub no_root_metrics: bool,
    /// Run even when the work estimate exceeds scalelab's limits (requests, instances, events,
    /// series rows; see docs/limits.md). Without it such a run is refused with exit code 2.
    #[arg(long)]
    pub allow_large_run: bool,
    /// Wall seconds per scenario second (0.1 runs every duration ten times faster).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Stop by itself after this long (scenario time), as if interrupted.
    #[arg(long, value_name = "D")]
    pub stop_after: Option<String>,
    /// Write result.json, timeseries.csv, charts and reports into DIR at the end.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the event log (instance lifecycle, decisions; JSON lines) to FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Write one JSON line per request to FILE.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
    /// Output format of the final summary on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// No status line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the status line every second even when stderr is not a terminal (by default it
    /// is only shown on a terminal).
    #[arg(long, conflicts_with = "quiet")]
    pub status: bool,
}

/// The arrival process of quick mode (`scalelab load URL --rate R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ArrivalKind {
    /// Evenly spaced sends.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process).
    Poisson,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
scalelab load http://127.0.0.1:8080/ --rate 200 --duration 30s\n  \
scalelab load http://127.0.0.1:8080/ --rate 600/m --duration 5m --slo p99=250ms --slo error_ratio=0.01\n  \
scalelab load http://127.0.0.1:8080/ --connections 50 --duration 10s\n  \
scalelab load https://127.0.0.1:8443/ --cacert ca.pem --http2 --rate 100 -d 10s --output requests.jsonl\n  \
scalelab load scenarios/spiky-api.toml --url http://127.0.0.1:8080 --shard 0/4 --out shard-0\n  \
scalelab load --merge shard-*/result.json")]
pub struct LoadArgs {
    /// A URL (quick mode) or a scenario file whose workload to drive.
    #[arg(value_name = "URL|SCENARIO", required_unless_present = "merge")]
    pub target: Option<String>,
    /// The target URL in scenario mode (default: the scenario's `[load] url`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Open-loop rate in quick mode: requests per second (`200`, `200/s`) or per a duration
    /// (`50/1s`, `600/m`, `3600/h`, `5/100ms`).
    #[arg(long, value_name = "R")]
    pub rate: Option<String>,
    /// How long to send (quick mode), or the part of the scenario's workload to drive.
    #[arg(long, short, value_name = "D")]
    pub duration: Option<String>,
    /// Arrival process of quick mode.
    #[arg(long, value_enum, default_value_t)]
    pub arrival: ArrivalKind,
    /// Master seed: a number or a git commit id (default: the scenario's `seed`, else random).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Closed loop with N connections when no rate is given; with --rate, caps the pool.
    #[arg(long, short, value_name = "N")]
    pub connections: Option<u32>,
    /// Most HTTP/1.1 connections open at once in open loop (default 1000 or `[load]`).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u32>,
    /// Stop after N requests (of the unsharded schedule in open loop).
    #[arg(long, short = 'n', value_name = "N")]
    pub requests: Option<u64>,
    /// Run even when the work estimate exceeds scalelab's limits (requests, instances, events,
    /// series rows; see docs/limits.md). Without it such a run is refused with exit code 2.
    #[arg(long)]
    pub allow_large_run: bool,
    /// HTTP/2: prior knowledge (h2c) for http://, offered through ALPN for https://.
    #[arg(long)]
    pub http2: bool,
    /// HTTP/2 connections to multiplex over.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub h2_connections: u32,
    /// Request timeout, from the moment a connection takes the request up (opening one
    /// included, waiting for one not) to the end of the response (default 30s or `[load]`).
    #[arg(long, value_name = "D")]
    pub timeout: Option<String>,
    /// Connect timeout: TCP, TLS and HTTP handshake (default 5s or `[load]`).
    #[arg(long, value_name = "D")]
    pub connect_timeout: Option<String>,
    /// How long in-flight requests may finish after the duration before they are aborted
    /// (default: the timeout, at most 5s).
    #[arg(long, value_name = "D")]
    pub grace: Option<String>,
    /// HTTP method in quick mode.
    #[arg(long, short = 'm', value_name = "METHOD", default_value = "GET")]
    pub method: String,
    /// A request header in quick mode, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "H")]
    pub headers: Vec<String>,
    /// Request body in quick mode.
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Request body from a file in quick mode.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Fail the run (exit 1) as soon as a request is written to its connection later than this
    /// after its intended time: the target rate is not being met.
    #[arg(long, value_name = "D")]
    pub max_lag: Option<String>,
    /// Thresholds, TLS and per-request output (a group of its own, boxed to keep the
    /// subcommand enum small).
    #[command(flatten)]
    pub more: Box<LoadMoreArgs>,
    /// Write an HdrHistogram interval log (one latency histogram per second).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Send only shard i of n of the schedule (arrival index mod n = i); merge with --merge.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Merge result documents of shards (exact histograms) instead of running.
    #[arg(long, num_args = 1.., value_name = "RESULT.json", conflicts_with = "target")]
    pub merge: Vec<PathBuf>,
    /// Runtime threads for the generator (0 and 1 both mean one thread, the most efficient on
    /// a small machine).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// Progress line on stderr every second (default: when stderr is a terminal).
    #[arg(long)]
    pub progress: bool,
    /// No progress and no warnings on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write result.json and timeseries.csv into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `scalelab load` options added with issue 18: SLO thresholds, lag warnings, the connection
/// queue bound, TLS trust and the per-request log.
#[derive(Debug, Args)]
pub struct LoadMoreArgs {
    /// Open loop: most requests waiting for a free connection; a request due while that many
    /// wait is not sent and counts as `queue_full` (bounds memory under overload; 0 drops every
    /// request that finds all connections busy).
    #[arg(long, value_name = "N", default_value_t = scalelab_loadgen::DEFAULT_MAX_PENDING)]
    pub max_pending: u32,
    /// A second whose largest send lag exceeds this counts as "behind schedule" (warned about at
    /// most once per 10 s, totalled at the end).
    #[arg(long, value_name = "D", default_value = "10ms")]
    pub lag_warn: String,
    /// A threshold, `KEY=VALUE`, with the `[slo]` keys `p50`, `p90`, `p99`, `p999`, `max`
    /// (durations, over successful requests) and `error_ratio` (0-1); repeatable. A breach exits
    /// with code 3. In scenario mode these add to (and override) the scenario's `[slo]`.
    #[arg(long = "slo", value_name = "KEY=VALUE")]
    pub slo: Vec<String>,
    /// Write one JSON line per request to FILE: intended and sent time, latency, status or
    /// failure class.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// https: accept any server certificate (self-signed, expired, other name).
    #[arg(long, short = 'k', conflicts_with = "cacert")]
    pub insecure: bool,
    /// https: trust the CA certificates in this PEM file instead of the bundled Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
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
    /// The input JSON (docs/kpa-replay.md); `-` reads standard input.
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
#[command(after_help = "Examples:\n  \
scalelab report out/spiky                          (text on standard output)\n  \
scalelab report out/spiky --format html -o r.html  (-o/--output: one FILE in --format)\n  \
scalelab report result.json --out bundle           (--out: a DIRECTORY of every file)\n  \
scalelab report base/ new/ --tolerance 10          (two or more: a comparison)\n\
Exit codes: 0 ok, 3 an SLO check failed or a metric regressed, 2 bad input.")]
pub struct ReportArgs {
    /// Result documents (`result.json`) or directories written by `--out DIR`.
    #[arg(required = true, value_name = "DIR_OR_FILE")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Write the --format output (one file) to FILE instead of standard output (`-`: standard
    /// output). Not a directory: that is --out.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A directory: also write every file of a run into DIR (result.json, timeseries.csv,
    /// charts, report.html, report.md), whatever --format says; when comparing, one
    /// subdirectory per run plus comparison.{md,json,html}. Unlike -o, never one file.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Comparisons: a latency percentile, the error ratio or a cost per million requests that
    /// grows by more than PCT percent is a regression (exit code 3).
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    pub tolerance: f64,
    /// Compare every input with this run (default: the first input is the baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Merge the inputs, shards of one `scalelab load --shard i/n` run, into one result (HDR
    /// histograms added exactly) and render that.
    #[arg(long, conflicts_with = "baseline")]
    pub merge: bool,
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
    /// Run even when the work estimate exceeds scalelab's limits (requests, instances, events,
    /// series rows; see docs/limits.md). Without it such a run is refused with exit code 2.
    #[arg(long)]
    pub allow_large_run: bool,
    /// Threads for running variants in parallel; 0 (the default) means one per core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Print simulator throughput on stderr: simulated requests and events per CPU-second
    /// (user + sys of every thread), and the wall time.
    #[arg(long)]
    pub bench: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `scalelab tune --search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TuneSearch {
    /// Every combination of the values.
    Grid,
    /// --samples combinations drawn from the grid with the seed.
    Random,
    /// Successive halving: all on a short horizon, the best fraction on twice the horizon, …
    Halving,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
scalelab tune scenarios/tune-api.toml --out tuned\n  \
scalelab sim tuned/tuned.toml --out report          (the winner next to the baseline)\n  \
scalelab tune scenarios/tune-api.toml --shard 0/4 --out shard-0   (… through 3/4)\n  \
scalelab tune --merge shard-*/tune.json --out tuned\n\
Exit codes: 0 a candidate meets the [slo], 3 none does, 1 interrupted (what finished is \
written), 2 bad input.")]
pub struct TuneArgs {
    /// The scenario file (TOML) with a [tune] table.
    #[arg(value_name = "SCENARIO", required_unless_present = "merge")]
    pub scenario: Option<PathBuf>,
    /// Master seed: a number or a git commit id (default: the scenario's `seed`, else random).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Seeds per candidate (overrides [tune] seeds).
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// How candidates are chosen (overrides [tune] search).
    #[arg(long, value_enum)]
    pub search: Option<TuneSearch>,
    /// Candidates to draw in random search, or to start halving from (overrides [tune] samples).
    #[arg(long, value_name = "N")]
    pub samples: Option<u64>,
    /// Run only shard i of n of the candidates (every n-th, from the i-th); merge with --merge.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Merge shard documents (tune.json, or the directories holding them) instead of running.
    #[arg(long, num_args = 1.., value_name = "TUNE.json", conflicts_with = "scenario")]
    pub merge: Vec<PathBuf>,
    /// Write tune.json, tune.csv, pareto.svg, pareto.png and tuned.toml into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Threads; 0 (the default) means one per core. Each simulation runs on one.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Rows of the front shown in the text output.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Run even when the search's work estimate (every candidate × seed) exceeds the
    /// simulator's limits (see docs/limits.md). Without it such a search is refused with exit
    /// code 2.
    #[arg(long)]
    pub allow_large_run: bool,
    /// No progress bar and no notes on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A Knative Service manifest (serving.knative.dev/v1) with the autoscaling annotations;
    /// with [[revisions]], one document per revision ending with the traffic split and tags,
    /// then one per later revision and per [[rollouts]] entry (rollout-duration annotation).
    Knative(ExportArgs),
    /// The `gcloud run deploy` command with the matching flags; with [[revisions]], one per
    /// revision and `gcloud run services update-traffic --to-revisions … --set-tags …`, then
    /// later revisions with --no-traffic and each rollout's update-traffic steps.
    Gcloud(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Export this variant (`baseline` or a `[[variants]]` name).
    #[arg(long, value_name = "NAME", conflicts_with = "from_tune")]
    pub variant: Option<String>,
    /// Export the winner of a `scalelab tune` run of this scenario (its tune.json or --out DIR).
    #[arg(long, value_name = "FILE")]
    pub from_tune: Option<PathBuf>,
    /// The service name (default: the scenario's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The container image.
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = "REPLACE-ME/your-image:latest"
    )]
    pub image: String,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Read a Knative Service manifest; write [service] and [autoscaler] tables (or
    /// [[revisions]] from its traffic block) and a placeholder workload to edit.
    Knative(ImportArgs),
    /// Read the `gcloud run deploy` / `gcloud run services update-traffic` commands (what
    /// `export gcloud` writes, `sleep`s included); write [service] and [autoscaler] (kind
    /// "cloud-run"), or [[revisions]] and [[rollouts]], and a placeholder workload to edit.
    Gcloud(ImportGcloudArgs),
    /// Azure Functions 2019 trace (per-minute counts, duration percentiles, app memory): a
    /// fleet scenario with one [[services]] per sampled function, and its [trace] file.
    #[command(name = "azure-2019")]
    Azure2019(Azure2019Args),
    /// Azure Functions 2021 trace (one row per invocation): a fleet scenario with one
    /// [[services]] per sampled function, and its [trace] file in start order.
    #[command(name = "azure-2021")]
    Azure2021(Azure2021Args),
}

#[derive(Debug, Args)]
pub struct ImportGcloudArgs {
    /// The shell script with the gcloud commands; `-` reads standard input.
    #[arg(value_name = "DEPLOY.sh")]
    pub script: PathBuf,
    /// Write the scenario to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The manifest (YAML); `-` reads standard input.
    #[arg(value_name = "SERVICE.yaml")]
    pub manifest: PathBuf,
    /// Write the scenario to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Master seed (default: the scenario's, else random and printed).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Run only this variant (default: every variant, one after another).
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
    /// Wall seconds per scenario second: 0.1 runs ten times faster (every duration of the
    /// scenario shrinks, every rate grows); results are reported in scenario units.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Override the scenario's duration, e.g. `2m`.
    #[arg(long, value_name = "D")]
    pub duration: Option<String>,
    /// Write result.json, timeseries.csv, charts and the HTML report into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Instances run this command (listening on $PORT) instead of synthetic in-process servers.
    #[arg(long, value_name = "CMD")]
    pub cmd: Option<String>,
    /// Write the live event log (JSON lines) to FILE (one file per variant: FILE.<variant>
    /// when several run).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Run even when the work estimate exceeds scalelab's limits (requests, instances, events,
    /// series rows; see docs/limits.md). Without it such a run is refused with exit code 2.
    #[arg(long)]
    pub allow_large_run: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Relative tolerance in percent for every metric (default: per metric, see --help of
    /// the report: cold starts 10 %, instance-seconds 10 %, p50 20 %, …).
    #[arg(long, value_name = "PCT")]
    pub tolerance: Option<f64>,
    /// Wall-clock latency the live path adds outside the instance slot, fed into the
    /// simulator as `[router] overhead` (divided by the time scale): latency only. The live
    /// latencies compared are the router's (arrival to answer), so this is for a path with
    /// more hops in front; the proxy hop itself is --slot-overhead.
    #[arg(long, value_name = "D")]
    pub router_overhead: Option<String>,
    /// Wall-clock time the proxy hop to the instance and back adds while a request holds its
    /// instance slot, fed into the simulator as `[router] slot_overhead` (divided by the time
    /// scale): it adds to the concurrency the autoscaler sees. A live run measures it
    /// (`slot_overhead_wall_ms` in its result); see FIDELITY.md.
    #[arg(long, value_name = "D")]
    pub slot_overhead: Option<String>,
    /// Run live first and feed the slot overhead it measured into the simulator (instead of
    /// --slot-overhead); the output says what was measured.
    #[arg(long, conflicts_with = "slot_overhead")]
    pub calibrate: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
scalelab import azure-2019 --invocations d01.csv --invocations d02.csv -o fleet.toml\n  \
scalelab import azure-2019 --invocations d01.csv --durations dur.d01.csv --memory mem.d01.csv \
--functions 200\n    \
--seed 7 -o fleet.toml\n\
Writes fleet.toml and fleet.trace.csv next to it. Sampling and the files: docs/cli.md.")]
pub struct Azure2019Args {
    /// An invocations file (`invocations_per_function_md.anon.dNN.csv`); repeat for several
    /// days, in order: day k starts at (k − 1) × 24 h.
    #[arg(long, value_name = "FILE", required = true)]
    pub invocations: Vec<PathBuf>,
    /// A function durations file (`function_durations_percentiles.anon.dNN.csv`): service
    /// times through its percentile points (default: the log-normal fit); may be repeated.
    #[arg(long, value_name = "FILE")]
    pub durations: Vec<PathBuf>,
    /// An app memory file (`app_memory_percentiles.anon.dNN.csv`): each app's memory (default:
    /// the Burr XII fit); may be repeated.
    #[arg(long, value_name = "FILE")]
    pub memory: Vec<PathBuf>,
    /// Sample N functions across popularity (default: every function with an invocation).
    #[arg(long, value_name = "N")]
    pub functions: Option<usize>,
    /// Sampling seed, also written as the scenario's seed.
    #[arg(long, value_name = "S", default_value = "1")]
    pub seed: String,
    /// How each minute's count is spread within the minute: exactly the count at uniform
    /// times, Poisson at the minute's rate, or exactly the count evenly spaced.
    #[arg(long, value_enum, default_value_t)]
    pub spread: SpreadArg,
    /// The scenario to write; the trace goes next to it (`NAME.toml` → `NAME.trace.csv`).
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub output: PathBuf,
}

/// `--spread` of `import azure-2019`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SpreadArg {
    /// Exactly the minute's count, at independent uniform times.
    #[default]
    Uniform,
    /// A Poisson process at the minute's rate.
    Poisson,
    /// Exactly the minute's count, evenly spaced.
    Even,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
scalelab import azure-2021 trace2021.txt --functions 100 -o fleet.toml\n\
Writes fleet.toml and fleet.trace.csv next to it. Sampling and the files: docs/cli.md.")]
pub struct Azure2021Args {
    /// The invocation trace (`app,func,end_timestamp,duration`, in end-time order).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Sample N functions across popularity (default: every function).
    #[arg(long, value_name = "N")]
    pub functions: Option<usize>,
    /// Sampling seed, also written as the scenario's seed.
    #[arg(long, value_name = "S", default_value = "1")]
    pub seed: String,
    /// The scenario to write; the trace goes next to it (`NAME.toml` → `NAME.trace.csv`).
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub output: PathBuf,
}
