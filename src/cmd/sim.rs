//! `scalelab sim SCENARIO`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scalelab_sim::{SimError, SimOptions};

use super::common::{duration_flag, load_scenario, resolve_seed, stderr_is_terminal};
use super::{CmdResult, Failure};
use crate::cli::SimArgs;

pub fn run(a: SimArgs) -> CmdResult {
    let scenario = load_scenario(&a.scenario)?;
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration_flag("--duration", d))
        .transpose()?;
    let plan = scalelab_lab::Plan::new(scenario, 0, a.variant.as_deref(), duration)?;
    let (scenario, runs) = (plan.scenario, plan.names.len());
    // Refused before a seed is drawn (a random one would be printed for nothing).
    super::common::check_work(
        &a.scenario,
        &scalelab_core::estimate::estimate_scenario(&scenario, a.variant.as_deref()),
        &scalelab_core::estimate::WorkLimits::SIM,
        a.allow_large_run,
    )?;
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    let progress: Vec<AtomicU64> = (0..runs).map(|_| AtomicU64::new(0)).collect();
    let opts = SimOptions {
        seed,
        variant: a.variant.clone(),
        check: a.check,
        events: a.events.is_some(),
        threads: a.threads,
        progress: Some(&progress),
    };
    let show_bar = !a.quiet && stderr_is_terminal();
    let watch = crate::clock::Stopwatch::start();
    let cpu_before = crate::clock::process_cpu_time();
    let horizon_ns = scenario.duration.as_nanos() as u64;
    let outcome = std::thread::scope(|scope| {
        let handle = scope.spawn(|| scalelab_sim::simulate_with(&scenario, &opts));
        if show_bar {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} simulating [{bar:30}] {percent}% {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            while !handle.is_finished() {
                let done: u64 = progress
                    .iter()
                    .map(|p| p.load(Ordering::Relaxed).min(horizon_ns))
                    .sum();
                let total = horizon_ns.saturating_mul(runs as u64).max(1);
                bar.set_position(done * 1000 / total);
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        }
        handle.join()
    });
    let (mut result, extras) = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e @ SimError::NoSuchVariant(..))) => return Err(Failure::bad_input(e)),
        Ok(Err(e)) => return Err(Failure::runtime(e)),
        Err(_) => return Err(Failure::runtime(anyhow::anyhow!("the simulator panicked"))),
    };
    let wall = watch.elapsed();
    let cpu = crate::clock::process_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let cmd = super::CommandLine::scalelab("sim", &a.scenario, seed)
        .flag("--variant", a.variant.as_ref())
        .flag("--duration", a.duration.as_ref());
    result.command = Some(cmd.join());
    result.resolved_scenario = Some(scalelab_reports::scenario_json(&scenario));
    if a.bench {
        let requests: u64 = result.variants.iter().map(|v| v.requests.arrived).sum();
        let events: u64 = extras.events_processed.iter().sum();
        let wall_s = wall.as_secs_f64().max(1e-9);
        let threads = if a.threads == 0 {
            "all cores".to_string()
        } else {
            format!("{} thread(s)", a.threads)
        };
        // Per CPU-second is the figure to compare; wall time shrinks with parallel variants.
        match cpu.map(|c| c.as_secs_f64()).filter(|c| *c > 0.0) {
            Some(cpu_s) => eprintln!(
                "bench: {requests} simulated requests, {events} events; CPU {cpu_s:.2} s (user + \
                 sys, all threads{}): {:.2} M requests and {:.2} M events per CPU-second; wall \
                 {wall_s:.3} s ({} variant(s), {threads})",
                if cpu_s < 1.0 {
                    "; counted in 10 ms ticks, so rough below a second"
                } else {
                    ""
                },
                requests as f64 / cpu_s / 1e6,
                events as f64 / cpu_s / 1e6,
                result.variants.len(),
            ),
            None => eprintln!(
                "bench: {requests} simulated requests, {events} events in {wall_s:.3} s of wall \
                 time (CPU time unavailable here): {:.2} M requests and {:.2} M events per \
                 wall-second ({} variant(s), {threads})",
                requests as f64 / wall_s / 1e6,
                events as f64 / wall_s / 1e6,
                result.variants.len(),
            ),
        }
    }
    if let Some(path) = &a.events {
        std::fs::write(path, &extras.events).map_err(|e| {
            Failure::runtime(anyhow::anyhow!(
                "writing the event log {}: {e}",
                path.display()
            ))
        })?;
    }
    super::common::finish_run(&mut result, a.out.as_deref(), a.format)
}
