//! scalelab's discrete-event simulator: a Knative / Cloud Run service, simulated.
//!
//! The simulator owns time and state; every decision comes from `scalelab-core`: the workload
//! generators give intended arrival times, the activator and queue-proxy breakers route, the KPA
//! decider and reconciler (or the keepalive pool) scale, the billing meters price. A simulated run
//! therefore predicts what the live runtime, which drives the same code, does.
//!
//! ```text
//!  arrivals ──▶ traffic split ──▶ revision router ──▶ instance (starting → ready → draining → stopped)
//!   (core)        (core)         activator / breaker        │ cold start sampled from the scenario
//!                                      ▲                    ▼
//!            1 s scrape ──▶ decider (2 s tick, pokes) ──▶ KPA reconciler ──▶ replicas, SKS mode
//! ```
//!
//! - [`simulate`]: runs every variant of a scenario (in parallel across cores) into a
//!   [`RunResult`](scalelab_core::result::RunResult).
//! - [`run_variant`]: one variant, one thread.
//! - [`SimError`]: a run that could not finish (the event guard tripped).
//! - [`tune`]: many whole runs in parallel, for parameter searches.
//!
//! # Ordering guarantees
//!
//! - Time is an integer number of nanoseconds since the start of the run ([`scalelab_core::Time`]).
//! - Events are processed in order of time; events scheduled for the same instant are processed in
//!   the order they were scheduled (FIFO, by an insertion sequence number).
//! - Arrivals are events like the others: the next arrival is generated lazily and scheduled
//!   when the previous one is processed, so among equal times it takes its place by that
//!   insertion.
//! - The per-second metric scrape at t = k s comes before the decider tick of the same second
//!   (even k), which uses it; a poke (the first request to a revision at zero) runs the decider at
//!   once, after the activator's immediate stat is recorded.
//! - A run is a function of (scenario, seed): the same inputs give byte-identical results. Each
//!   component draws from its own named stream of the master seed; all variants see the same
//!   arrivals and the same service time for the n-th request of a revision, so variants differ
//!   only by their settings.
//!
//! ```
//! use scalelab_core::scenario::Scenario;
//! let s = Scenario::from_toml_str(r#"
//!     duration = "2m"
//!     [service]
//!     service_time = { dist = "fixed", value = "100ms" }
//!     cold_start = { dist = "fixed", value = "1s" }
//!     [[workload.phases]]
//!     duration = "2m"
//!     arrival = { process = "poisson", rate = 20 }
//! "#, "doc.toml".as_ref()).unwrap();
//! let r = scalelab_sim::simulate(&s, &scalelab_sim::SimOptions { seed: 1, ..Default::default() }).unwrap();
//! let v = &r.variants[0];
//! assert_eq!(v.requests.arrived, v.requests.completed + v.requests.rejected + v.requests.timed_out + v.requests.in_flight_at_end);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod engine;
mod fleet;
mod nodes;
mod platform;
pub mod tune;

use std::sync::atomic::AtomicU64;

use scalelab_core::Time;
use scalelab_core::result::{Mode, RunResult, VariantResult, check_slo};
use scalelab_core::scenario::Scenario;

/// One variant's run: its result, its event log (JSON lines) and how many events it processed.
type VariantRun = (VariantResult, Vec<u8>, u64);

pub use engine::EventQueue;
pub use platform::{Platform, RunOptions};

/// Why a simulation stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// More events than `[sim] max_events` (a runaway run); fatal for that variant.
    #[error(
        "the run exceeded {limit} events at t = {at} (raise [sim] max_events if this is expected)"
    )]
    TooManyEvents {
        /// The limit.
        limit: u64,
        /// Simulated time when it tripped.
        at: Time,
    },
    /// An invariant checker found a bug in the accounting; fatal.
    #[error("invariant violated in variant {variant}: {what}")]
    Invariant {
        /// The variant.
        variant: String,
        /// What was wrong.
        what: String,
    },
    /// The `[trace]` file could not be read as the run went (it changed after it was checked).
    #[error("trace: {0}")]
    Trace(String),
    /// `--variant` named a variant the scenario does not have.
    #[error("no variant named \"{0}\" (the scenario has: {1})")]
    NoSuchVariant(String, String),
}

/// Options of [`simulate`].
#[derive(Default)]
pub struct SimOptions<'a> {
    /// The master seed.
    pub seed: u64,
    /// Only this variant (`baseline` or a variant's name).
    pub variant: Option<String>,
    /// Check invariants on every event (slower); they are always checked at the end.
    pub check: bool,
    /// Collect the event log (JSON lines, all variants in order).
    pub events: bool,
    /// Threads to use (0 = all cores).
    pub threads: usize,
    /// One progress counter per variant (simulated nanoseconds), for a progress bar.
    pub progress: Option<&'a [AtomicU64]>,
}

/// What [`simulate`] returns besides the result: the event log when asked for, and run
/// statistics.
#[derive(Default)]
pub struct SimExtras {
    /// The event log, JSON lines.
    pub events: Vec<u8>,
    /// Events processed per variant (without the whole seconds skipped while the platform was
    /// idle, which the result's `sim.events` counts).
    pub events_processed: Vec<u64>,
}

/// Simulates every variant (or the one asked for) and returns the result document.
pub fn simulate(s: &Scenario, o: &SimOptions<'_>) -> Result<RunResult, SimError> {
    simulate_with(s, o).map(|(r, _)| r)
}

/// [`simulate`], also returning the event log and statistics.
pub fn simulate_with(s: &Scenario, o: &SimOptions<'_>) -> Result<(RunResult, SimExtras), SimError> {
    let runs: Vec<(&str, &Scenario)> = match &o.variant {
        None => s.runs(),
        Some(v) => {
            let all = s.runs();
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            let found = all.into_iter().find(|(n, _)| n == v);
            vec![found.ok_or_else(|| SimError::NoSuchVariant(v.clone(), names.join(", ")))?]
        }
    };
    let threads = if o.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        o.threads
    };
    let mut outs: Vec<Option<Result<VariantRun, SimError>>> =
        (0..runs.len()).map(|_| None).collect();
    // Variants are independent: run them on up to `threads` threads, each a whole run.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(&mut outs);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(runs.len()).max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= runs.len() {
                        break;
                    }
                    let (name, sc) = runs[i];
                    let progress = o.progress.and_then(|p| p.get(i));
                    let r = run_variant(sc, name, o.seed, o.check, o.events, progress);
                    results.lock().expect("no thread panicked")[i] = Some(r);
                }
            });
        }
    });
    let mut variants = Vec::new();
    let mut extras = SimExtras::default();
    for r in outs {
        let (v, ev, n) = r.expect("every variant ran")?;
        extras.events.extend_from_slice(&ev);
        extras.events_processed.push(n);
        variants.push(v);
    }
    let result = RunResult {
        variants,
        scenario_path: Some(s.path.display().to_string()),
        ..RunResult::new(&s.name, o.seed, Mode::Sim, s.duration.as_secs_f64())
    };
    Ok((result, extras))
}

/// Runs one variant on the calling thread.
pub fn run_variant(
    s: &Scenario,
    name: &str,
    seed: u64,
    check: bool,
    events: bool,
    progress: Option<&AtomicU64>,
) -> Result<VariantRun, SimError> {
    run_variant_ticking(s, name, seed, check, events, progress, false)
}

/// [`run_variant`], with `force_ticks` true processing every whole second even while the
/// platform is idle (the results are the same, only slower: for tests of that equivalence).
pub fn run_variant_ticking(
    s: &Scenario,
    name: &str,
    seed: u64,
    check: bool,
    events: bool,
    progress: Option<&AtomicU64>,
    force_ticks: bool,
) -> Result<VariantRun, SimError> {
    let mut log = Vec::new();
    let opts = RunOptions {
        seed,
        variant: name,
        check,
        events: if events { Some(&mut log) } else { None },
        progress,
        force_ticks,
    };
    let first_model = s.billing.models.first().map(String::as_str);
    let (finished, events) = Platform::new(s, opts)?.run(name.to_string())?;
    let (v, st) = match finished {
        platform::Finished::Single(v, st) => {
            let mut v = *v;
            v.slo = check_slo(&s.slo, &v, first_model);
            v.set_sim(fleet::sim_stats(&st, events, v.requests.completed));
            (v, st)
        }
        platform::Finished::Fleet(run) => {
            fleet::totals(name.to_string(), run, &s.slo, first_model, events)
        }
    };
    if let Some(what) = st.violations.first() {
        return Err(SimError::Invariant {
            variant: name.to_string(),
            what: what.clone(),
        });
    }
    Ok((v, log, events))
}
