//! `scalelab serve SCENARIO`: the live runtime on the command line.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::anyhow;
use scalelab_core::Time;
use scalelab_runtime::{Auth, InstanceKind, Options, Status};

use super::common::{duration_flag, load_scenario, resolve_seed};
use super::{CmdResult, Failure};
use crate::cli::ServeArgs;

fn bad(msg: impl std::fmt::Display) -> Failure {
    Failure::bad_input(anyhow!("{msg}"))
}

/// `127.0.0.1:8080`, `[::1]:8080`, or a bare port (on loopback).
fn parse_listen(s: &str) -> Result<SocketAddr, Failure> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse::<SocketAddr>().map_err(|_| {
        bad(format!(
            "--listen \"{s}\": expected an address like 127.0.0.1:8080 or a port"
        ))
    })
}

fn status_line(s: &Status) -> String {
    format!(
        "[t={}s] instances: {} ready / {} desired ({} starting) | {} in flight, {} queued | panic: {} | {} requests, {} errors",
        s.t.whole_secs(),
        s.ready,
        s.desired,
        s.starting,
        s.in_flight,
        s.queued,
        if s.panic { "yes" } else { "no" },
        s.arrived,
        s.errors,
    )
}

pub fn run(a: ServeArgs) -> CmdResult {
    let scenario = load_scenario(&a.scenario)?;
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    let listen = parse_listen(&a.listen)?;
    let grace = duration_flag("--termination-grace", &a.termination_grace)?;
    let stop_after = a
        .stop_after
        .as_deref()
        .map(|d| duration_flag("--stop-after", d))
        .transpose()?;
    if !(a.time_scale.is_finite() && (0.001..=100.0).contains(&a.time_scale)) {
        return Err(bad(format!(
            "--time-scale {}: expected a number from 0.001 to 100",
            a.time_scale
        )));
    }
    // Traffic comes from outside; what the scenario itself starts is its instances.
    let mut idle = scenario.clone();
    idle.workload.phases.clear();
    for v in &mut idle.variants {
        v.scenario.workload.phases.clear();
    }
    super::common::check_work(
        &a.scenario,
        &scalelab_core::estimate::estimate_scenario(&idle, a.variant.as_deref()),
        &scalelab_core::estimate::WorkLimits::LIVE,
        a.allow_large_run,
    )?;
    let allow_from = a
        .allow_from
        .iter()
        .map(|c| {
            c.parse::<scalelab_runtime::Cidr>()
                .map_err(|e| bad(format!("--allow-from {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let instances = match &a.cmd {
        Some(cmd) => InstanceKind::Command {
            cmd: cmd.clone(),
            termination_grace: grace,
        },
        None => InstanceKind::Synthetic {
            hello: !a.no_hello,
            allowed_origin: a.allowed_origin.clone(),
        },
    };
    let auth = match (&a.token, a.allow_unauthenticated) {
        (_, true) => Auth::AllowUnauthenticated,
        (Some(t), false) => Auth::Token(t.clone()),
        (None, false) => Auth::Generate,
    };
    let opts = Options {
        seed,
        variant: a.variant.clone(),
        listen,
        instances,
        auth,
        time_scale: a.time_scale,
        events: a.events.clone(),
        request_log: a.request_log.clone(),
        root_metrics: !a.no_root_metrics,
        drain_timeout: None,
        allow_from,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::runtime)?;
    let quiet = a.quiet;
    let mut result = rt.block_on(async {
        let h = scalelab_runtime::start(&scenario, opts).await.map_err(|e| match e {
            scalelab_runtime::Error::NoSuchVariant(..) | scalelab_runtime::Error::InvalidOption(_) => {
                Failure::bad_input(e)
            }
            _ => Failure::runtime(e),
        })?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "url: {}", h.url())?;
            match h.token() {
                Some(t) => writeln!(out, "token: {t}")?,
                None => writeln!(out, "token: none (unauthenticated access allowed)")?,
            }
            out.flush()?;
        }
        if !quiet {
            let auth = if h.token().is_some() { " -H \"Authorization: Bearer $TOKEN\"" } else { "" };
            eprintln!(
                "serving {} (seed {seed}); try: curl{auth} \"{}/?message=Hello\"; metrics at {}{}; Ctrl-C stops",
                scenario.name,
                h.url(),
                h.url(),
                scalelab_runtime::METRICS_PATH
            );
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(Failure::runtime)?;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let stop_at = stop_after.map(|d| h.clock().wall_at(Time::ZERO + d));
        let stop_sleep = tokio::time::sleep_until(stop_at.unwrap_or_else(|| h.clock().wall_at(Time::MAX)));
        tokio::pin!(stop_sleep);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let tty = std::io::stderr().is_terminal();
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = term.recv() => break,
                _ = &mut stop_sleep, if stop_at.is_some() => break,
                _ = tick.tick() => {
                    if !quiet {
                        let line = status_line(&h.status());
                        if tty {
                            eprint!("\r\x1b[K{line}");
                        } else {
                            eprintln!("{line}");
                        }
                    }
                }
            }
        }
        if !quiet {
            if tty {
                eprintln!();
            }
            eprintln!("stopping: draining requests in flight, then stopping instances");
        }
        Ok::<_, Failure>(h.shutdown().await)
    })?;
    let mut cmd = vec![
        "scalelab".to_string(),
        "serve".into(),
        a.scenario.display().to_string(),
        "--seed".into(),
        seed.to_string(),
    ];
    if let Some(v) = &a.variant {
        cmd.extend(["--variant".into(), v.clone()]);
    }
    if let Some(c) = &a.cmd {
        cmd.extend(["--cmd".into(), c.clone()]);
    }
    if a.time_scale != 1.0 {
        cmd.extend(["--time-scale".into(), a.time_scale.to_string()]);
    }
    result.command = Some(scalelab_reports::shell_join(cmd));
    result.resolved_scenario = Some(scalelab_reports::scenario_json(&scenario));
    super::common::finish_run(&mut result, a.out.as_deref(), a.format)
}
