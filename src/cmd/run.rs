//! `scalelab run SCENARIO` (the live runtime driven by the load generator on loopback) and
//! `scalelab compare SCENARIO` (the same scenario and seed through the simulator and live).

use std::io::Write;
use std::time::Duration;

use scalelab_core::result::{RunResult, VariantResult, check_slo};
use scalelab_core::scenario::{LoadSettings, RouterSettings, Scenario};

use super::common::{duration_flag, load_scenario, resolve_seed};
use super::{CmdResult, Code, Failure};
use crate::cli::{CompareArgs, Format, RunArgs};

struct Prepared {
    scenario: Scenario,
    seed: u64,
    names: Vec<String>,
}

fn prepare(a: &RunArgs) -> Result<Prepared, Failure> {
    let mut scenario = load_scenario(&a.scenario)?;
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    if !(a.time_scale.is_finite() && (0.001..=100.0).contains(&a.time_scale)) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--time-scale: expected a number from 0.001 to 100, got {}",
            a.time_scale
        )));
    }
    if let Some(d) = &a.duration {
        let d = duration_flag("--duration", d)?;
        if d.is_zero() {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "--duration: must be greater than zero"
            )));
        }
        scenario.duration = d;
        for v in &mut scenario.variants {
            v.scenario.duration = d;
        }
    }
    let names: Vec<String> = match &a.variant {
        Some(v) => {
            if scenario.run(v).is_none() {
                let all: Vec<&str> = scenario.runs().iter().map(|(n, _)| *n).collect();
                return Err(Failure::bad_input(anyhow::anyhow!(
                    "--variant: no variant named \"{v}\" in {} (it has: {})",
                    a.scenario.display(),
                    all.join(", ")
                )));
            }
            vec![v.clone()]
        }
        None => scenario.runs().iter().map(|(n, _)| n.to_string()).collect(),
    };
    let mut estimate = scalelab_core::estimate::estimate_scenario(&scenario, a.variant.as_deref());
    // Live, the rate is per wall-clock second.
    estimate.total.peak_rate /= a.time_scale;
    super::common::check_work(
        &a.scenario,
        &estimate,
        &scalelab_core::estimate::WorkLimits::LIVE,
        a.allow_large_run,
    )?;
    Ok(Prepared {
        scenario,
        seed,
        names,
    })
}

/// One variant, live: start the runtime, drive it with the scenario's workload (time-scaled) from
/// the load generator, shut down, and return the runtime's measurements (scenario units) with
/// the generator's client-side view added under `extra`.
fn live_variant(p: &Prepared, name: &str, a: &RunArgs) -> Result<VariantResult, Failure> {
    let sc = p.scenario.run(name).expect("checked").clone();
    let scale = a.time_scale;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::runtime)?;
    rt.block_on(async {
        let instances = match &a.cmd {
            Some(cmd) => scalelab_runtime::InstanceKind::Command {
                cmd: cmd.clone(),
                termination_grace: Duration::from_secs(10),
            },
            None => scalelab_runtime::InstanceKind::default(),
        };
        let opts = scalelab_runtime::Options {
            seed: p.seed,
            variant: (name != scalelab_core::scenario::BASELINE).then(|| name.to_string()),
            auth: scalelab_runtime::Auth::AllowUnauthenticated,
            time_scale: scale,
            instances,
            root_metrics: false,
            events: a.events.as_ref().map(|f| {
                if p.names.len() > 1 {
                    f.with_extension(name)
                } else {
                    f.clone()
                }
            }),
            ..Default::default()
        };
        let handle = scalelab_runtime::start(&p.scenario, opts)
            .await
            .map_err(|e| Failure::runtime(anyhow::anyhow!("starting the runtime: {e}")))?;
        let max_timeout = sc.longest_timeout();
        let mut cfg = scalelab_loadgen::LoadConfig::new(
            handle.url(),
            sc.workload.time_scaled(scale),
            sc.duration.mul_f64(scale),
        )
        .with_settings(&sc.load);
        if a.cmd.is_none() && sc.load.requests == LoadSettings::default().requests {
            // Synthetic instances serve the hello function, which answers a request without a
            // message with 400: send one it accepts.
            cfg.requests[0].path = "/?message=scalelab".into();
        }
        // Open loop always: a live run reproduces the scenario's arrivals.
        cfg.mode = scalelab_loadgen::LoopMode::Open(sc.workload.time_scaled(scale));
        cfg.seed = p.seed;
        cfg.name = sc.name.clone();
        cfg.timeout = max_timeout.mul_f64(scale) + Duration::from_secs(5);
        cfg.grace = cfg.timeout;
        cfg.warnings = false;
        cfg.progress = super::common::stderr_is_terminal();
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
        if let Some(f) = failure {
            return Err(Failure::runtime(anyhow::anyhow!("{f}")));
        }
        let report = report
            .unwrap_or_else(|| unreachable!("the run failed"))
            .map_err(|e| Failure::runtime(anyhow::anyhow!("load generator: {e}")))?;
        let client = scalelab_loadgen::to_result(&cfg, &report);
        let mut v =
            doc.variants.into_iter().next().ok_or_else(|| {
                Failure::runtime(anyhow::anyhow!("the runtime returned no result"))
            })?;
        v.name = name.to_string();
        if let Some(c) = client.variants.first() {
            let ms = |x: f64| x / scale; // the client measures wall time
            v.extra.insert(
                "client_latency_ms".into(),
                serde_json::json!({
                    "p50": ms(c.latency_ms.p50), "p90": ms(c.latency_ms.p90),
                    "p99": ms(c.latency_ms.p99), "max": ms(c.latency_ms.max),
                }),
            );
            v.extra.insert(
                "client_requests".into(),
                serde_json::to_value(c.requests).unwrap_or_default(),
            );
            for k in ["send_lag_ms", "errors", "generator_behind_seconds"] {
                if let Some(x) = c.extra.get(k) {
                    v.extra.insert(format!("client_{k}"), x.clone());
                }
            }
        }
        v.slo = check_slo(&sc.slo, &v, sc.billing.models.first().map(String::as_str));
        Ok(v)
    })
}

/// The scenario, seed, variant, time scale and duration of a run, as command-line arguments
/// (with a leading space).
fn reproduce_flags(p: &Prepared, a: &RunArgs) -> String {
    let mut args = vec![
        a.scenario.display().to_string(),
        "--seed".into(),
        p.seed.to_string(),
        "--time-scale".into(),
        a.time_scale.to_string(),
    ];
    if let Some(v) = &a.variant {
        args.extend(["--variant".into(), v.clone()]);
    }
    if let Some(d) = &a.duration {
        args.extend(["--duration".into(), d.clone()]);
    }
    format!(" {}", scalelab_reports::shell_join(args))
}

fn live_result(p: &Prepared, a: &RunArgs) -> Result<RunResult, Failure> {
    let mut variants = Vec::new();
    for name in &p.names {
        if a.format == Format::Text || p.names.len() > 1 {
            eprintln!(
                "running {name} live at time scale {} ({} of wall time)…",
                a.time_scale,
                scalelab_core::duration::format_duration(p.scenario.duration.mul_f64(a.time_scale))
            );
        }
        variants.push(live_variant(p, name, a)?);
    }
    let cmd = format!("scalelab run{}", reproduce_flags(p, a));
    Ok(RunResult {
        schema: scalelab_core::result::SCHEMA_VERSION,
        scenario: p.scenario.name.clone(),
        seed: p.seed,
        mode: scalelab_core::result::Mode::Live,
        variants,
        scalelab_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario_path: Some(a.scenario.display().to_string()),
        command: Some(cmd),
        duration_s: p.scenario.duration.as_secs_f64(),
        time_scale: Some(a.time_scale),
        resolved_scenario: Some(scalelab_reports::scenario_json(&p.scenario)),
    })
}

fn sim_result(p: &Prepared) -> Result<RunResult, Failure> {
    let mut variants = Vec::new();
    for name in &p.names {
        let r = scalelab_sim::simulate(
            &p.scenario,
            &scalelab_sim::SimOptions {
                seed: p.seed,
                variant: Some(name.clone()),
                ..Default::default()
            },
        )
        .map_err(Failure::runtime)?;
        variants.extend(r.variants);
    }
    Ok(RunResult {
        schema: scalelab_core::result::SCHEMA_VERSION,
        scenario: p.scenario.name.clone(),
        seed: p.seed,
        mode: scalelab_core::result::Mode::Sim,
        variants,
        scalelab_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario_path: Some(p.scenario.path.display().to_string()),
        command: None,
        duration_s: p.scenario.duration.as_secs_f64(),
        time_scale: None,
        resolved_scenario: None,
    })
}

fn write_out(dir: &std::path::Path, r: &RunResult) -> Result<(), Failure> {
    let written =
        scalelab_reports::write_bundle(dir, r, &scalelab_reports::BundleOptions::default())
            .map_err(Failure::runtime)?;
    eprintln!("wrote {} files to {}", written.len(), dir.display());
    Ok(())
}

pub fn run(a: RunArgs) -> CmdResult {
    let p = prepare(&a)?;
    let mut result = live_result(&p, &a)?;
    super::common::finish_run(&mut result, a.out.as_deref(), a.format)
}

/// Applies `f` to the `[router]` settings of the scenario and of every variant.
fn set_router(s: &mut Scenario, f: impl Fn(&mut RouterSettings)) {
    f(&mut s.router);
    for v in &mut s.variants {
        f(&mut v.scenario.router);
    }
}

/// The slot overhead a live run measured (scenario units), averaged over its variants by
/// completed requests.
fn measured_slot_overhead(live: &RunResult) -> Option<Duration> {
    let (mut sum, mut n) = (0.0, 0.0);
    for v in &live.variants {
        if let Some(ms) = v.extra.get("slot_overhead_ms").and_then(|x| x.as_f64()) {
            let w = v.requests.completed as f64;
            sum += ms * w;
            n += w;
        }
    }
    (n > 0.0).then(|| Duration::from_secs_f64(sum / n / 1e3))
}

pub fn compare(a: CompareArgs) -> CmdResult {
    if a.tolerance.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--tolerance: expected a percentage ≥ 0"
        )));
    }
    let mut p = prepare(&a.run)?;
    // Measured live overheads (wall time) go into the model in scenario units.
    let scenario_units = |flag: &str, d: &String| -> Result<Duration, Failure> {
        Ok(duration_flag(flag, d)?.div_f64(a.run.time_scale))
    };
    if let Some(d) = &a.router_overhead {
        let d = scenario_units("--router-overhead", d)?;
        set_router(&mut p.scenario, |r| r.overhead = d);
    }
    if let Some(d) = &a.slot_overhead {
        let d = scenario_units("--slot-overhead", d)?;
        set_router(&mut p.scenario, |r| r.slot_overhead = d);
    }
    let (sim, live) = if a.calibrate {
        let live = live_result(&p, &a.run)?;
        let measured = measured_slot_overhead(&live);
        if let Some(d) = measured {
            eprintln!(
                "calibrated: the live run held instance slots {} (wall) beyond the service time; \
                 simulating with [router] slot_overhead = \"{}\" (scenario units)",
                scalelab_core::duration::format_duration(d.mul_f64(a.run.time_scale)),
                scalelab_core::duration::format_duration(d),
            );
            set_router(&mut p.scenario, |r| r.slot_overhead = d);
        }
        (sim_result(&p)?, live)
    } else {
        let sim = sim_result(&p)?;
        (sim, live_result(&p, &a.run)?)
    };
    let mut all_ok = true;
    let mut text = String::new();
    let mut md = String::new();
    let mut rows_json = Vec::new();
    for (s, l) in sim.variants.iter().zip(&live.variants) {
        let rows = scalelab_reports::fidelity(s, l, a.tolerance);
        all_ok &= rows.iter().all(|r| r.passed);
        let title = format!(
            "{} / {} · seed {} · time scale {}",
            p.scenario.name, s.name, p.seed, a.run.time_scale
        );
        text += &scalelab_reports::fidelity_text(&title, &rows);
        md += &scalelab_reports::fidelity_markdown(&title, &rows);
        let used_ms = p
            .scenario
            .run(&s.name)
            .map_or(0.0, |sc| sc.router.slot_overhead.as_secs_f64() * 1e3);
        let measured_ms = l.extra.get("slot_overhead_ms").and_then(|x| x.as_f64());
        if let Some(ms) = measured_ms {
            let line = format!(
                "slot overhead: live held instance slots {:.3} ms (wall) beyond the service time; \
                 the simulator used {:.3} ms ([router] slot_overhead {:.3} ms × time scale)",
                ms * a.run.time_scale,
                used_ms * a.run.time_scale,
                used_ms,
            );
            text += &format!("  {line}\n");
            md += &format!("\n{line}\n");
        }
        text.push('\n');
        md.push('\n');
        let slot = serde_json::json!({
            "live_wall_ms": measured_ms.map(|ms| ms * a.run.time_scale),
            "simulated_wall_ms": used_ms * a.run.time_scale,
        });
        rows_json
            .push(serde_json::json!({ "variant": s.name, "rows": rows, "slot_overhead": slot }));
    }
    if let Some(dir) = &a.run.out {
        // One document with both runs as variants, so the charts (instances and desired over
        // time, latency) show sim and live side by side.
        let mut both = sim.clone();
        both.variants = sim
            .variants
            .iter()
            .map(|v| VariantResult {
                name: format!("sim: {}", v.name),
                ..v.clone()
            })
            .chain(live.variants.iter().map(|v| VariantResult {
                name: format!("live: {}", v.name),
                ..v.clone()
            }))
            .collect();
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
        both.command = Some(cmd);
        write_out(dir, &both)?;
        std::fs::write(dir.join("fidelity.md"), &md).map_err(Failure::runtime)?;
        std::fs::write(
            dir.join("fidelity.json"),
            serde_json::to_string_pretty(&rows_json).map_err(Failure::runtime)?,
        )
        .map_err(Failure::runtime)?;
    }
    let mut out = std::io::stdout().lock();
    match a.run.format {
        Format::Json => {
            let doc = serde_json::json!({ "sim": sim, "live": live, "fidelity": rows_json, "passed": all_ok });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).map_err(Failure::runtime)?
            )?;
        }
        Format::Text => {
            write!(out, "{text}")?;
            writeln!(
                out,
                "{}",
                if all_ok {
                    "sim and live agree within tolerance"
                } else {
                    "sim and live DIFFER beyond tolerance"
                }
            )?;
        }
    }
    Ok(if all_ok { Code::Ok } else { Code::SloBreach })
}
