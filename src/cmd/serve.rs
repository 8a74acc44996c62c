//! `scalelab serve SCENARIO`: the live runtime on the command line.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::anyhow;
use scalelab_core::Time;
use scalelab_runtime::{Auth, InstanceKind, Limits, Options, Status};

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

/// A byte size: a number with an optional unit (B, KB/KiB, MB/MiB, GB/GiB; k, M, G are the
/// binary ones).
fn parse_size(flag: &str, v: &str) -> Result<u64, Failure> {
    let t = v.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "k" | "K" | "KiB" | "Ki" => 1 << 10,
        "M" | "MiB" | "Mi" => 1 << 20,
        "G" | "GiB" | "Gi" => 1 << 30,
        _ => {
            return Err(bad(format!(
                "{flag} \"{v}\": expected a size like 32MiB, 512KiB or 1000000 (bytes)"
            )));
        }
    };
    let n: f64 = num.parse().map_err(|_| {
        bad(format!(
            "{flag} \"{v}\": expected a size like 32MiB, 512KiB or 1000000 (bytes)"
        ))
    })?;
    let bytes = n * mult as f64;
    if !(bytes.is_finite() && (1.0..=1e15).contains(&bytes)) {
        return Err(bad(format!(
            "{flag} \"{v}\": expected a size from 1 byte to 1 PB"
        )));
    }
    Ok(bytes as u64)
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
    super::common::refuse_live_fleet(&scenario, &a.scenario, "serve")?;
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
    idle.trace = None;
    for svc in &mut idle.services {
        svc.workload.phases.clear();
    }
    for v in &mut idle.variants {
        v.scenario.workload.phases.clear();
        v.scenario.trace = None;
        for svc in &mut v.scenario.services {
            svc.workload.phases.clear();
        }
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
    if a.allow_unauthenticated && !listen.ip().is_loopback() && !a.confirm_unauthenticated_listen {
        return Err(bad(format!(
            "--listen {listen} with --allow-unauthenticated would let anyone who can reach {} call \
             the service without a token; add --confirm-unauthenticated-listen if that is meant, \
             or leave out --allow-unauthenticated (a token is generated and printed)",
            listen.ip()
        )));
    }
    if let Some(p) = &a.ready_path
        && (!p.starts_with('/') || p.bytes().any(|b| b <= b' ' || b == 0x7f))
    {
        return Err(bad(format!(
            "--ready-path \"{p}\": expected a path starting with / (no spaces)"
        )));
    }
    if a.max_start_failures == 0 {
        return Err(bad("--max-start-failures: must be at least 1"));
    }
    if a.max_connections == 0 {
        return Err(bad("--max-connections: must be at least 1"));
    }
    let header_timeout = duration_flag("--header-timeout", &a.header_timeout)?;
    let idle_timeout = duration_flag("--idle-timeout", &a.idle_timeout)?;
    for (flag, d) in [
        ("--header-timeout", header_timeout),
        ("--idle-timeout", idle_timeout),
    ] {
        if d.is_zero() {
            return Err(bad(format!("{flag}: must be greater than zero")));
        }
    }
    let limits = Limits {
        max_request_body: parse_size("--max-request-body", &a.max_request_body)?,
        max_inflight_body: parse_size("--max-inflight-body", &a.max_inflight_body)?,
        max_connections: a.max_connections,
        header_timeout,
        idle_timeout,
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
        limits,
        ready_path: a.ready_path.clone(),
        max_start_failures: a.max_start_failures,
    };
    // One worker per CPU this process may use; on one CPU (taskset, a one-vCPU container) the
    // single-threaded scheduler does the same work without cross-thread wake-ups.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .map_err(Failure::runtime)?;
    let quiet = a.quiet;
    let (mut result, failure) = rt.block_on(async {
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
            // A fleet: each service answers to its Host name (or the path prefix).
            for name in h.services() {
                writeln!(
                    out,
                    "service: {name} (Host: {name}, or {}{}{name}/)",
                    h.url(),
                    scalelab_runtime::SERVICE_PREFIX
                )?;
            }
            out.flush()?;
        }
        if !quiet {
            // The hint works as printed: the real token, quoted for a POSIX shell.
            let auth = match h.token() {
                Some(t) => format!(" -H 'Authorization: Bearer {t}'"),
                None => String::new(),
            };
            match h.services().first() {
                None => eprintln!(
                    "serving {} (seed {seed}); try: curl{auth} '{}/?message=Hello'; metrics at {}{}; Ctrl-C stops",
                    scenario.name,
                    h.url(),
                    h.url(),
                    scalelab_runtime::METRICS_PATH
                ),
                Some(first) => eprintln!(
                    "serving the fleet {} ({} services, seed {seed}); try: curl{auth} -H 'Host: {first}' '{}/?message=Hello'; metrics per service at {}{} with its Host; Ctrl-C stops",
                    scenario.name,
                    h.services().len(),
                    h.url(),
                    h.url(),
                    scalelab_runtime::METRICS_PATH
                ),
            }
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
        // A status line every second on a terminal, or when asked for (--status); a log file
        // gets nothing unless asked.
        let show = !quiet && (tty || a.status);
        let mut failure = None;
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = term.recv() => break,
                _ = &mut stop_sleep, if stop_at.is_some() => break,
                f = h.failed() => {
                    failure = Some(f);
                    break;
                }
                _ = tick.tick() => {
                    if show {
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
        if show && tty {
            eprintln!();
        }
        if !quiet {
            eprintln!("stopping: draining requests in flight, then stopping instances");
        }
        let mut result = h.shutdown().await;
        if let Some(f) = &failure {
            // A failed run never passes, whatever it measured before it failed.
            for v in &mut result.variants {
                v.slo.fail_unfinished(f);
            }
        }
        Ok::<_, Failure>((result, failure))
    })?;
    let cmd = super::CommandLine::scalelab("serve", &a.scenario, seed)
        .flag("--variant", a.variant.as_ref())
        .flag("--cmd", a.cmd.as_ref())
        .flag("--time-scale", Some(a.time_scale).filter(|t| *t != 1.0))
        .flag("--ready-path", a.ready_path.as_ref());
    result.command = Some(cmd.join());
    result.resolved_scenario = Some(scalelab_reports::scenario_json(&scenario));
    let written = super::common::finish_run(&mut result, a.out.as_deref(), a.format);
    match failure {
        // What was measured is written; the run still failed.
        Some(f) => {
            written?;
            Err(Failure::runtime(anyhow!("{f}")))
        }
        None => written,
    }
}
