//! Live runs: the runtime on loopback driven by the load generator with the scenario's own
//! workload, one variant after another (`scalelab run`).

use std::path::PathBuf;
use std::time::Duration;

use scalelab_core::measure::LatencyHist;
use scalelab_core::result::{ClientStats, Latency, Mode, RunResult, VariantResult, check_slo};
use scalelab_core::scenario::{BASELINE, LoadSettings};

use crate::{LabError, Plan};

/// How to run live.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Wall seconds per scenario second (0.1 runs ten times faster); in (0, 100].
    pub time_scale: f64,
    /// Instances run this shell command (listening on `$PORT`) instead of synthetic servers.
    pub cmd: Option<String>,
    /// The live event log; with several runs, one file per run (`FILE.<variant>`).
    pub events: Option<PathBuf>,
    /// A progress line from the load generator on stderr.
    pub progress: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            time_scale: 1.0,
            cmd: None,
            events: None,
            progress: false,
        }
    }
}

impl LiveOptions {
    /// Checks the time scale (bad input when out of range).
    pub fn check(&self) -> Result<(), LabError> {
        let f = self.time_scale;
        if !(f.is_finite() && (0.001..=100.0).contains(&f)) {
            return Err(LabError::setting(
                "--time-scale",
                format!("expected a number from 0.001 to 100, got {f}"),
            ));
        }
        Ok(())
    }
}

/// Runs every run of the plan live, one after another; `status` hears a line before each. A
/// run that fails part-way ends the plan: the document holds the runs so far, the last with
/// `live.failure` set ([`failure`]).
/// The document is in scenario units (mode `live`), with the resolved scenario; the caller
/// sets `command`.
pub fn run(plan: &Plan, opts: &LiveOptions, status: &dyn Fn(&str)) -> Result<RunResult, LabError> {
    opts.check()?;
    let mut variants = Vec::new();
    for name in &plan.names {
        status(&format!(
            "running {name} live at time scale {} ({} of wall time)…",
            opts.time_scale,
            scalelab_core::duration::format_duration(
                plan.scenario.duration.mul_f64(opts.time_scale)
            )
        ));
        let v = run_variant(plan, name, opts)?;
        let failed = v.live.as_ref().is_some_and(|l| l.failure.is_some());
        variants.push(v);
        if failed {
            // What was measured is kept; the runs after a failed one are not started.
            break;
        }
    }
    let s = &plan.scenario;
    Ok(RunResult {
        variants,
        scenario_path: Some(s.path.display().to_string()),
        time_scale: Some(opts.time_scale),
        resolved_scenario: Some(scalelab_reports::scenario_json(s)),
        ..RunResult::new(&s.name, plan.seed, Mode::Live, s.duration.as_secs_f64())
    })
}

/// One run, live: start the runtime, drive it with the scenario's workload (time-scaled) from
/// the load generator, shut down, and return the runtime's measurements (scenario units) with
/// the generator's client-side view added. A run that failed part-way (a revision whose
/// instances kept failing to start) returns what was measured with `live.failure` set.
pub fn run_variant(plan: &Plan, name: &str, opts: &LiveOptions) -> Result<VariantResult, LabError> {
    opts.check()?;
    let sc = plan.run(name).ok_or_else(|| LabError::NoSuchVariant {
        name: name.to_string(),
        scenario: plan.scenario.path.display().to_string(),
        names: plan.names.join(", "),
    })?;
    let scale = opts.time_scale;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LabError::Failed(format!("starting the async runtime: {e}")))?;
    rt.block_on(async {
        let instances = match &opts.cmd {
            Some(cmd) => scalelab_runtime::InstanceKind::Command {
                cmd: cmd.clone(),
                termination_grace: Duration::from_secs(10),
            },
            None => scalelab_runtime::InstanceKind::default(),
        };
        let runtime_opts = scalelab_runtime::Options {
            seed: plan.seed,
            variant: (name != BASELINE).then(|| name.to_string()),
            auth: scalelab_runtime::Auth::AllowUnauthenticated,
            time_scale: scale,
            instances,
            root_metrics: false,
            events: opts.events.as_ref().map(|f| {
                if plan.names.len() > 1 {
                    f.with_extension(name)
                } else {
                    f.clone()
                }
            }),
            ..Default::default()
        };
        let handle = scalelab_runtime::start(&plan.scenario, runtime_opts).await?;
        let max_timeout = sc.max_timeout();
        let mut cfg = scalelab_loadgen::LoadConfig::new(
            handle.url(),
            sc.workload.time_scaled(scale),
            sc.duration.mul_f64(scale),
        )
        .with_settings(&sc.load);
        if opts.cmd.is_none() && sc.load.requests == LoadSettings::default().requests {
            // Synthetic instances serve the hello function, which answers a request without a
            // message with 400: send one it accepts.
            cfg.requests[0].path = "/?message=scalelab".into();
        }
        // Each request carries its class's headers, which the router's [[routes]] match.
        let mut cfg = cfg.with_request_classes(&sc.request_classes);
        // Open loop always: a live run reproduces the scenario's arrivals.
        cfg.mode = scalelab_loadgen::LoopMode::Open(sc.workload.time_scaled(scale));
        cfg.seed = plan.seed;
        cfg.name = sc.name.clone();
        cfg.timeout = max_timeout.mul_f64(scale) + Duration::from_secs(5);
        cfg.grace = cfg.timeout;
        cfg.warnings = false;
        cfg.progress = opts.progress;
        cfg.max_connections = cfg.max_connections.max(4096);
        // A revision whose instances keep failing to start ends the run at once.
        let report = tokio::select! {
            r = scalelab_loadgen::run(&cfg) => Some(r),
            _ = handle.failed() => None,
        };
        if report.is_some() {
            // Like the simulator, keep the platform up to the scenario's horizon so the
            // scale-down after the last request is observed too.
            let clock = handle.clock();
            tokio::select! {
                _ = clock.sleep_until(scalelab_core::Time::ZERO + sc.duration) => {}
                _ = handle.failed() => {}
            }
        }
        let failure = handle.failure();
        let doc = handle.shutdown().await;
        let mut v = doc
            .variants
            .into_iter()
            .next()
            .ok_or_else(|| LabError::Failed("the runtime returned no result".into()))?;
        v.name = name.to_string();
        let report = match (failure, report) {
            (None, Some(r)) => r?,
            (f, _) => {
                // A revision kept failing to start: the run failed part-way. The runtime's
                // measurements so far are returned with the failure in `live.failure` (the
                // caller writes them and exits 1); the load generator was stopped.
                let why = f.unwrap_or_else(|| "the runtime stopped before the run ended".into());
                let mut live = v.live.clone().unwrap_or_default();
                live.failure = Some(why.clone());
                v.set_live(live);
                v.slo = check_slo(&sc.slo, &v, sc.billing.models.first().map(String::as_str));
                v.slo.fail_unfinished(&why);
                return Ok(v);
            }
        };
        let client = scalelab_loadgen::to_result(&cfg, &report);
        if let Some(c) = client.variants.first() {
            let ms = |x: f64| x / scale; // the client measures wall time
            let l = c.latency_ms;
            v.set_client(ClientStats {
                latency_ms: Latency {
                    count: l.count,
                    mean: ms(l.mean),
                    p50: ms(l.p50),
                    p90: ms(l.p90),
                    p99: ms(l.p99),
                    p999: ms(l.p999),
                    max: ms(l.max),
                },
                requests: c.requests,
                send_lag_ms: Some(
                    LatencyHist::from_micros(report.recorder.send_lag.clone()).summary(),
                ),
            });
        }
        v.slo = check_slo(&sc.slo, &v, sc.billing.models.first().map(String::as_str));
        Ok(v)
    })
}

/// Why a live document's run failed, if one did (`live.failure` of its last variant).
pub fn failure(doc: &RunResult) -> Option<&str> {
    doc.variants
        .iter()
        .find_map(|v| v.live.as_ref().and_then(|l| l.failure.as_deref()))
}
