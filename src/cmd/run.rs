//! `scalelab run SCENARIO` and `scalelab compare SCENARIO`: arguments to
//! `scalelab_lab::{live, compare}`, and the output.

use std::io::Write;

use scalelab_lab::Plan;
use scalelab_lab::compare::CompareOptions;
use scalelab_lab::live::LiveOptions;

use super::common::{duration_flag, load_scenario, resolve_seed, stderr_is_terminal};
use super::{CmdResult, Code, Failure};
use crate::cli::{CompareArgs, Format, RunArgs};

fn plan(a: &RunArgs, command: &str) -> Result<(Plan, LiveOptions), Failure> {
    let scenario = load_scenario(&a.scenario)?;
    super::common::refuse_live_fleet(&scenario, &a.scenario, command)?;
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    let live = LiveOptions {
        time_scale: a.time_scale,
        cmd: a.cmd.clone(),
        events: a.events.clone(),
        progress: stderr_is_terminal(),
    };
    live.check()?;
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration_flag("--duration", d))
        .transpose()?;
    let plan = Plan::new(scenario, seed, a.variant.as_deref(), duration)?;
    let mut estimate =
        scalelab_core::estimate::estimate_scenario(&plan.scenario, a.variant.as_deref());
    // Live, the rate is per wall-clock second.
    estimate.total.peak_rate /= a.time_scale;
    super::common::check_work(
        &a.scenario,
        &estimate,
        &scalelab_core::estimate::WorkLimits::LIVE,
        a.allow_large_run,
    )?;
    Ok((plan, live))
}

/// The scenario, seed, variant, time scale and duration of a run, as command-line arguments
/// (with a leading space).
fn reproduce_flags(p: &Plan, a: &RunArgs) -> String {
    let args = super::CommandLine::new(&a.scenario, p.seed)
        .flag("--time-scale", Some(a.time_scale))
        .flag("--variant", a.variant.as_ref())
        .flag("--duration", a.duration.as_ref())
        .flag("--cmd", a.cmd.as_ref());
    format!(" {}", args.join())
}

/// Status lines on stderr: always with several runs, else only for text output.
fn status(a: &RunArgs, runs: usize) -> impl Fn(&str) {
    let show = a.format == Format::Text || runs > 1;
    move |line: &str| {
        if show {
            eprintln!("{line}");
        }
    }
}

pub fn run(a: RunArgs) -> CmdResult {
    let (p, live) = plan(&a, "run")?;
    let mut result = scalelab_lab::live::run(&p, &live, &status(&a, p.names.len()))?;
    result.command = Some(format!("scalelab run{}", reproduce_flags(&p, &a)));
    let written = super::common::finish_run(&mut result, a.out.as_deref(), a.format);
    match scalelab_lab::live::failure(&result) {
        // What was measured is written; the run still failed.
        Some(f) => {
            written?;
            Err(Failure::runtime(anyhow::anyhow!("{f}")))
        }
        None => written,
    }
}

pub fn compare(a: CompareArgs) -> CmdResult {
    if a.tolerance.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--tolerance: expected a percentage ≥ 0"
        )));
    }
    let (p, live) = plan(&a.run, "compare")?;
    let wall = |flag: &str, d: &Option<String>| d.as_deref().map(|d| duration_flag(flag, d));
    let opts = CompareOptions {
        live,
        tolerance: a.tolerance,
        router_overhead: wall("--router-overhead", &a.router_overhead).transpose()?,
        slot_overhead: wall("--slot-overhead", &a.slot_overhead).transpose()?,
        calibrate: a.calibrate,
    };
    let mut cmd = format!("scalelab compare{}", reproduce_flags(&p, &a.run));
    for (flag, value) in [
        ("--router-overhead", &a.router_overhead),
        ("--slot-overhead", &a.slot_overhead),
    ] {
        if let Some(v) = value {
            cmd += &format!(" {flag} {}", scalelab_reports::shell_quote(v));
        }
    }
    if a.calibrate {
        cmd += " --calibrate";
    }
    // Calibration messages always go to stderr; run announcements as for `run`.
    let announce = status(&a.run, p.names.len());
    let status = |line: &str| {
        if line.starts_with("calibrated:") {
            eprintln!("{line}");
        } else {
            announce(line);
        }
    };
    let c = scalelab_lab::compare::compare(p, &opts, &status)?;
    if let Some(dir) = &a.run.out {
        let n = c.write(dir, cmd)?;
        eprintln!("wrote {n} files to {}", dir.display());
    }
    let mut out = std::io::stdout().lock();
    match a.run.format {
        Format::Json => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&c.to_json()).map_err(Failure::runtime)?
            )?;
        }
        Format::Text => {
            write!(out, "{}", c.text())?;
            writeln!(
                out,
                "{}",
                if c.passed {
                    "sim and live agree within tolerance"
                } else {
                    "sim and live DIFFER beyond tolerance"
                }
            )?;
        }
    }
    Ok(if c.passed { Code::Ok } else { Code::SloBreach })
}
