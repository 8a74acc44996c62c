//! `scalelab sim SCENARIO`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scalelab_sim::{SimError, SimOptions};

use super::common::{duration_flag, load_scenario, resolve_seed, stderr_is_terminal};
use super::{CmdResult, Failure};
use crate::cli::SimArgs;

pub fn run(a: SimArgs) -> CmdResult {
    let scenario = load_scenario(&a.scenario)?;
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration_flag("--duration", d))
        .transpose()?;
    let plan = scalelab_lab::Plan::new(scenario, seed, a.variant.as_deref(), duration)?;
    let (scenario, runs) = (plan.scenario, plan.names.len());
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
    let mut cmd = format!("scalelab sim {} --seed {seed}", a.scenario.display());
    if let Some(v) = &a.variant {
        cmd += &format!(" --variant {v}");
    }
    if let Some(d) = &a.duration {
        cmd += &format!(" --duration {d}");
    }
    result.command = Some(cmd);
    result.resolved_scenario = Some(scalelab_reports::scenario_json(&scenario));
    if a.bench {
        let requests: u64 = result.variants.iter().map(|v| v.requests.arrived).sum();
        let events: u64 = extras.events_processed.iter().sum();
        let secs = wall.as_secs_f64().max(1e-9);
        eprintln!(
            "bench: {requests} simulated requests, {events} events in {:.3} s wall: {:.2} M requests/s, {:.2} M events/s ({} variant(s), threads {})",
            secs,
            requests as f64 / secs / 1e6,
            events as f64 / secs / 1e6,
            result.variants.len(),
            if a.threads == 0 {
                "all".to_string()
            } else {
                a.threads.to_string()
            },
        );
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
