//! Live runs: the runtime on loopback driven by the load generator with the scenario's own
//! workload, one variant after another (`scalelab run`).

use std::path::PathBuf;
use std::time::Duration;

use scalelab_core::measure::LatencyHist;
use scalelab_core::result::{ClientStats, Latency, Mode, RunResult, VariantResult, check_slo};
use scalelab_core::rng::stream;
use scalelab_core::scenario::{BASELINE, LoadSettings, Scenario, TraceFormat};
use scalelab_core::workload::fleet_trace::TraceArrivals;
use scalelab_core::workload::{ArrivalSpec, Arrivals, Phase, WorkloadSpec};

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

/// Refuses what a live run of a fleet (`[[services]]`) cannot do, as bad input: `[cluster]`
/// (nodes are simulated only) and, when the load generator is to send the traffic (`run`,
/// `compare`; not `serve`), a `[trace]` whose requests take their recorded durations or that
/// holds more than [`LIVE_TRACE_MAX_REQUESTS`]. `command` names the subcommand in the message.
pub fn check_fleet(s: &Scenario, command: &str, generates_load: bool) -> Result<(), LabError> {
    if !s.is_fleet() {
        return Ok(());
    }
    let file = s.path.display();
    if s.cluster.is_some() {
        return Err(LabError::InvalidValue(format!(
            "{file}: `scalelab {command}` does not support fleets with [cluster]: nodes are \
             simulated only (simulate it with `scalelab sim`, or remove [cluster] to run the \
             fleet live on unbounded capacity)"
        )));
    }
    if generates_load && let Some(t) = &s.trace {
        let requests: u64 = t.requests.iter().sum();
        let why = if t.format == TraceFormat::Invocations && t.durations {
            Some(
                "its requests take their recorded durations (`durations = true`), which the \
                 live runtime cannot replay (set `durations = false` to sample each service's \
                 service time)"
                    .to_string(),
            )
        } else if requests > LIVE_TRACE_MAX_REQUESTS {
            Some(format!(
                "it holds {requests} requests, more than the {LIVE_TRACE_MAX_REQUESTS} a live \
                 run takes from a trace (each service's arrivals are laid out before the run; \
                 shorten it with --duration, or import fewer functions)"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(LabError::InvalidValue(format!(
                "{file}: `scalelab {command}` does not support fleets with this [trace] ({}): \
                 {why}; simulate it with `scalelab sim`",
                t.file.display()
            )));
        }
    }
    Ok(())
}

/// The most requests a live run takes from a fleet's `[trace]` (their times are laid out per
/// service before the run: 8 bytes each).
pub const LIVE_TRACE_MAX_REQUESTS: u64 = 1_000_000;

/// The arrivals the load generator sends each service of run `sc` (by index; None: none):
/// its own phases, or, for a service its `[trace]` names, the trace's arrivals for it (spread
/// from the stream `"trace"` of the service's seed, as the simulator spreads them) merged with
/// its phases' (the stream `"arrivals"`), as one list of times: exactly the simulator's.
fn service_workloads(sc: &Scenario, seed: u64) -> Result<Vec<Option<WorkloadSpec>>, LabError> {
    let members = sc.members(seed);
    let mut out: Vec<Option<WorkloadSpec>> = members
        .iter()
        .map(|m| {
            let w = &m.scenario.workload;
            (!w.phases.is_empty()).then(|| w.clone())
        })
        .collect();
    let Some(t) = &sc.trace else {
        return Ok(out);
    };
    let names: Vec<String> = sc.services.iter().map(|x| x.name.clone()).collect();
    let rngs = members.iter().map(|m| stream(m.seed, "trace")).collect();
    let mut trace = TraceArrivals::open(
        &t.file,
        &names,
        rngs,
        t.interval,
        t.spread,
        false,
        scalelab_core::time::duration_nanos(sc.duration),
    )
    .map_err(|e| LabError::InvalidValue(format!("{}: {e}", sc.path.display())))?;
    let mut times: Vec<Vec<u64>> = vec![Vec::new(); members.len()];
    while let Some(a) = trace.next_arrival() {
        if let Some(v) = times.get_mut(a.service as usize) {
            v.push(a.t_ns);
        }
    }
    if let Some(e) = trace.error() {
        return Err(LabError::InvalidValue(format!(
            "{}: {e}",
            sc.path.display()
        )));
    }
    for (i, (m, mut at)) in members.iter().zip(times).enumerate() {
        if at.is_empty() {
            continue;
        }
        let ms = m.scenario.as_ref();
        if !ms.workload.phases.is_empty() {
            let own = Arrivals::new(&ms.workload, ms.duration, stream(m.seed, "arrivals"));
            at.extend(own.map(|t| t.0));
        }
        at.sort_unstable();
        out[i] = Some(WorkloadSpec {
            phases: vec![Phase {
                duration: sc.duration,
                arrival: ArrivalSpec::Trace {
                    at: at.into_iter().map(Duration::from_nanos).collect(),
                },
            }],
        });
    }
    Ok(out)
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
    if sc.is_fleet() {
        check_fleet(sc, "run", true)?;
        return run_fleet_variant(plan, sc, name, opts);
    }
    let scale = opts.time_scale;
    let rt = async_runtime()?;
    rt.block_on(async {
        let runtime_opts = runtime_options(plan, name, opts);
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
        let run = scalelab_loadgen::run(&cfg);
        let (mut v, report) = drive(handle, run, sc.duration, name).await?;
        let report = match report {
            Ok(r) => r?,
            Err(why) => {
                // A revision kept failing to start: the run failed part-way. The runtime's
                // measurements so far are returned with the failure in `live.failure` (the
                // caller writes them and exits 1); the load generator was stopped.
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

/// The runtime's options for run `name` of the plan.
fn runtime_options(plan: &Plan, name: &str, opts: &LiveOptions) -> scalelab_runtime::Options {
    let instances = match &opts.cmd {
        Some(cmd) => scalelab_runtime::InstanceKind::Command {
            cmd: cmd.clone(),
            termination_grace: Duration::from_secs(10),
        },
        None => scalelab_runtime::InstanceKind::default(),
    };
    scalelab_runtime::Options {
        seed: plan.seed,
        variant: (name != BASELINE).then(|| name.to_string()),
        auth: scalelab_runtime::Auth::AllowUnauthenticated,
        time_scale: opts.time_scale,
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
    }
}

/// Summary of a histogram of wall microseconds, in scenario milliseconds.
fn scaled_latency(h: &hdrhistogram::Histogram<u64>, scale: f64) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1000.0 / scale;
    let p = |x: f64| ms(scalelab_loadgen::value_at_percentile(h, x));
    Latency {
        count: h.len(),
        mean: h.mean() / 1000.0 / scale,
        p50: p(50.0),
        p90: p(90.0),
        p99: p(99.0),
        p999: p(99.9),
        max: ms(h.max()),
    }
}

/// One service's load: its own phases under its own seed, each request with `Host: NAME`.
struct ServiceLoad {
    cfg: scalelab_loadgen::LoadConfig,
}

/// A fleet's run, live: one runtime serving every service behind one listener, and one load
/// generator per service with its arrivals (its phases and its `[trace]` rows) under its seed
/// ([`scalelab_core::scenario::service_seed`], the simulator's streams), each request
/// carrying `Host: NAME`. The result is the fleet's totals with each service's in `services`,
/// each with its client-side view (`client`); the totals' `client` merges the services'
/// histograms.
fn run_fleet_variant(
    plan: &Plan,
    sc: &Scenario,
    name: &str,
    opts: &LiveOptions,
) -> Result<VariantResult, LabError> {
    let scale = opts.time_scale;
    let workloads = service_workloads(sc, plan.seed)?;
    let rt = async_runtime()?;
    rt.block_on(async {
        let handle =
            scalelab_runtime::start(&plan.scenario, runtime_options(plan, name, opts)).await?;
        let max_timeout = sc.max_timeout();
        let members = sc.members(plan.seed);
        // A service with no arrivals (none of its own, none in the trace) gets no generator.
        let loads: Vec<Option<ServiceLoad>> = members
            .iter()
            .zip(&workloads)
            .map(|(m, w)| {
                let ms = m.scenario.as_ref();
                let w = w.as_ref()?;
                let mut cfg = scalelab_loadgen::LoadConfig::new(
                    handle.url(),
                    w.time_scaled(scale),
                    ms.duration.mul_f64(scale),
                )
                .with_settings(&ms.load);
                if opts.cmd.is_none() && ms.load.requests == LoadSettings::default().requests {
                    cfg.requests[0].path = "/?message=scalelab".into();
                }
                for r in &mut cfg.requests {
                    r.headers.retain(|k, _| !k.eq_ignore_ascii_case("host"));
                    r.headers.insert("Host".into(), m.name.to_string());
                }
                cfg.mode = scalelab_loadgen::LoopMode::Open(w.time_scaled(scale));
                // The simulator's streams of this service: the same arrivals.
                cfg.seed = m.seed;
                cfg.name = m.name.to_string();
                cfg.timeout = max_timeout.mul_f64(scale) + Duration::from_secs(5);
                cfg.grace = cfg.timeout;
                cfg.warnings = false;
                cfg.progress = false;
                cfg.max_connections = cfg.max_connections.max(1024);
                Some(ServiceLoad { cfg })
            })
            .collect();
        let mut tasks = Vec::new();
        for l in loads.iter().flatten() {
            let cfg = l.cfg.clone();
            tasks.push(tokio::spawn(
                async move { scalelab_loadgen::run(&cfg).await },
            ));
        }
        let all = async {
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await);
            }
            out
        };
        let (mut v, reports) = drive(handle, all, sc.duration, name).await?;
        let reports = match reports {
            Ok(r) => r,
            Err(why) => {
                v.slo.fail_unfinished(&why);
                return Ok(v);
            }
        };
        let mut reports = reports.into_iter();
        let mut merged = scalelab_loadgen::new_histogram();
        let mut lag = scalelab_loadgen::new_histogram();
        let mut requests = scalelab_core::result::Requests::default();
        for (svc, load) in v.services.iter_mut().zip(&loads) {
            let Some(load) = load else { continue };
            let report = reports
                .next()
                .ok_or_else(|| LabError::Failed("a load generator went missing".into()))?
                .map_err(|e| {
                    LabError::Failed(format!("the load generator of {}: {e}", svc.name))
                })??;
            let _ = merged.add(&report.recorder.latency);
            let _ = lag.add(&report.recorder.send_lag);
            let client = scalelab_loadgen::to_result(&load.cfg, &report);
            if let Some(c) = client.variants.first() {
                let q = &mut requests;
                q.arrived += c.requests.arrived;
                q.completed += c.requests.completed;
                q.rejected += c.requests.rejected;
                q.timed_out += c.requests.timed_out;
                q.in_flight_at_end += c.requests.in_flight_at_end;
                svc.set_client(ClientStats {
                    latency_ms: scaled_latency(&report.recorder.latency, scale),
                    requests: c.requests,
                    send_lag_ms: Some(
                        LatencyHist::from_micros(report.recorder.send_lag.clone()).summary(),
                    ),
                });
            }
        }
        v.set_client(ClientStats {
            latency_ms: scaled_latency(&merged, scale),
            requests,
            send_lag_ms: Some(LatencyHist::from_micros(lag).summary()),
        });
        Ok(v)
    })
}

/// Why a live document's run failed, if one did (`live.failure` of its last variant).
pub fn failure(doc: &RunResult) -> Option<&str> {
    doc.variants
        .iter()
        .find_map(|v| v.live.as_ref().and_then(|l| l.failure.as_deref()))
}

/// Runs `load` against the runtime behind `handle` (a revision whose instances keep failing to
/// start ends it at once), keeps the platform up to `horizon` as the simulator does, so the
/// scale-down after the last request is observed too, and shuts it down. Returns the
/// variant's result, named `name`, with the load's output, or with why the run failed
/// part-way (the result so far then carries it in `live.failure`).
async fn drive<T>(
    handle: scalelab_runtime::Handle,
    load: impl std::future::Future<Output = T>,
    horizon: Duration,
    name: &str,
) -> Result<(VariantResult, Result<T, String>), LabError> {
    let out = tokio::select! {
        r = load => Some(r),
        _ = handle.failed() => None,
    };
    if out.is_some() {
        let clock = handle.clock();
        tokio::select! {
            _ = clock.sleep_until(scalelab_core::Time::ZERO + horizon) => {}
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
    match (failure, out) {
        (None, Some(r)) => Ok((v, Ok(r))),
        (f, _) => {
            let why = f.unwrap_or_else(|| "the runtime stopped before the run ended".into());
            let mut live = v.live.clone().unwrap_or_default();
            live.failure = Some(why.clone());
            v.set_live(live);
            Ok((v, Err(why)))
        }
    }
}

/// The async runtime a live run drives the platform and its load generators on.
fn async_runtime() -> Result<tokio::runtime::Runtime, LabError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LabError::Failed(format!("starting the async runtime: {e}")))
}
