//! `scalelab load`: the load generator on the command line (quick mode, scenario mode, merge).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;
use scalelab_core::result::RunResult;
use scalelab_core::scenario::{RequestSpec, Slo};
use scalelab_core::workload::{ArrivalSpec, Phase, WorkloadSpec};
use scalelab_loadgen::{LoadConfig, LoadError, LoopMode, Shard, SloFlags, Target, TlsOptions};

use super::common::{duration_flag, load_scenario, resolve_seed, stderr_is_terminal};
use super::{CmdResult, Code, Failure};
use crate::cli::{ArrivalKind, Format, LoadArgs};

fn bad(msg: impl std::fmt::Display) -> Failure {
    Failure::bad_input(anyhow!("{msg}"))
}

fn load_error(e: LoadError) -> Failure {
    match e {
        LoadError::BadUrl { .. }
        | LoadError::BadRequest { .. }
        | LoadError::BadConfig(_)
        | LoadError::CaCert { .. }
        | LoadError::Merge(_) => Failure::bad_input(e),
        _ => Failure::runtime(e),
    }
}

/// `200`, `200/s`, `50/1s`, `600/m`, `3600/h`, `5/100ms` → requests per second.
fn parse_rate(s: &str) -> Result<f64, Failure> {
    let expected = || {
        bad(format!(
            "--rate \"{s}\": expected requests per second (200, 200/s) or per a duration \
             (50/1s, 600/m, 5/100ms)"
        ))
    };
    let (num, per) = match s.trim().split_once('/') {
        Some((n, u)) => (n.trim(), u.trim()),
        None => (s.trim(), "s"),
    };
    let per_s = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" | "hour" => 3600.0,
        d => match scalelab_core::duration::parse_duration(d) {
            Ok(d) if !d.is_zero() => d.as_secs_f64(),
            _ => return Err(expected()),
        },
    };
    match num.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r / per_s),
        _ => Err(bad(format!(
            "--rate \"{s}\": expected a positive number of requests"
        ))),
    }
}

fn opt_duration(name: &str, v: &Option<String>) -> Result<Option<Duration>, Failure> {
    v.as_deref().map(|s| duration_flag(name, s)).transpose()
}

fn quick_request(a: &LoadArgs) -> Result<RequestSpec, Failure> {
    let method = a.method.to_ascii_uppercase();
    if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad(format!(
            "--method \"{}\": expected an HTTP method like GET or POST",
            a.method
        )));
    }
    let mut headers = BTreeMap::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| bad(format!("--header \"{h}\": expected \"Name: value\"")))?;
        headers.insert(k.trim().to_string(), v.trim().to_string());
    }
    let body = match (&a.body, &a.body_file) {
        (Some(b), _) => b.clone().into_bytes(),
        (None, Some(f)) => {
            std::fs::read(f).map_err(|e| bad(format!("--body-file {}: {e}", f.display())))?
        }
        (None, None) => Vec::new(),
    };
    Ok(RequestSpec {
        method,
        path: "/".into(),
        headers,
        body,
        weight: 1.0,
    })
}

/// Whether the positional argument is meant as a URL rather than a scenario file: it has a
/// scheme, or it is neither an existing file nor a `.toml` path (`127.0.0.1:8080`, `localhost`:
/// then the URL check says what is missing).
fn looks_like_url(s: &str) -> bool {
    s.contains("://") || (!Path::new(s).exists() && !s.ends_with(".toml"))
}

pub fn run(a: LoadArgs) -> CmdResult {
    if !a.merge.is_empty() {
        return merge(&a);
    }
    let target = a
        .target
        .clone()
        .ok_or_else(|| bad("give a URL or a scenario file"))?;
    let duration_flag_v = opt_duration("--duration", &a.duration)?;
    // Check every flag before anything runs (or a seed is announced).
    let shard = match &a.shard {
        Some(s) => s.parse::<Shard>().map_err(bad)?,
        None => Shard::ALL,
    };
    let timeout = opt_duration("--timeout", &a.timeout)?;
    let connect_timeout = opt_duration("--connect-timeout", &a.connect_timeout)?;
    let grace = opt_duration("--grace", &a.grace)?;
    let max_lag = opt_duration("--max-lag", &a.max_lag)?;
    let lag_warn = duration_flag("--lag-warn", &a.more.lag_warn)?;
    let slo_flags = SloFlags::parse(&a.more.slo).map_err(load_error)?;
    if let Some(f) = &a.more.cacert
        && !f.is_file()
    {
        return Err(bad(format!("--cacert {}: no such file", f.display())));
    }
    let mut scenario = None;
    let mut cfg = if looks_like_url(&target) {
        Target::parse(&target).map_err(load_error)?;
        if a.url.is_some() {
            return Err(bad(
                "--url is for scenario mode; the URL is already the first argument",
            ));
        }
        let rate = a.rate.as_deref().map(parse_rate).transpose()?;
        let (mode, duration) = match (rate, a.connections) {
            (Some(rate), _) => {
                let duration = match (duration_flag_v, a.requests) {
                    (Some(d), _) => d,
                    (None, Some(n)) => Duration::from_secs_f64((n as f64 / rate).ceil()),
                    (None, None) => return Err(bad("give --duration (or --requests) with --rate")),
                };
                let arrival = match a.arrival {
                    ArrivalKind::Constant => ArrivalSpec::Constant { rate },
                    ArrivalKind::Poisson => ArrivalSpec::Poisson { rate },
                };
                (
                    LoopMode::Open(WorkloadSpec {
                        phases: vec![Phase { duration, arrival }],
                    }),
                    duration,
                )
            }
            (None, Some(connections)) => {
                let duration = match (duration_flag_v, a.requests) {
                    (Some(d), _) => d,
                    (None, Some(_)) => Duration::from_secs(24 * 3600),
                    (None, None) => {
                        return Err(bad("give --duration (or --requests) with --connections"));
                    }
                };
                (LoopMode::Closed { connections }, duration)
            }
            (None, None) => {
                return Err(bad(
                    "give --rate R for an open loop or --connections N for a closed loop \
                     (or a scenario file instead of the URL)",
                ));
            }
        };
        let request = quick_request(&a)?;
        let mut cfg = LoadConfig::new(target.clone(), WorkloadSpec::default(), duration);
        cfg.mode = mode;
        cfg.requests = vec![request];
        if let (Some(_), Some(c)) = (&a.rate, a.connections) {
            cfg.max_connections = c;
        }
        cfg.seed = resolve_seed(a.seed.as_deref(), None)?;
        cfg
    } else {
        let path = Path::new(&target);
        let s = load_scenario(path)?;
        if s.is_fleet() {
            return Err(bad(format!(
                "{}: a fleet ([[services]]) has one workload per service and `scalelab load` sends \
                 one workload to one URL; run the fleet live with `scalelab run {}` (each \
                 service's workload with its Host header), or simulate it with `scalelab sim`",
                path.display(),
                path.display()
            )));
        }
        if a.rate.is_some() {
            return Err(bad(
                "--rate is for quick mode; the scenario's workload sets the rate",
            ));
        }
        if a.body.is_some() || a.body_file.is_some() || !a.headers.is_empty() || a.method != "GET" {
            return Err(bad(
                "--method, --header and --body are for quick mode; a scenario lists its requests \
                 in [[load.requests]]",
            ));
        }
        let url = a
            .url
            .clone()
            .or_else(|| s.load.url.clone())
            .ok_or_else(|| {
                bad(format!(
                    "{}: no target: pass --url URL or set `url` in the scenario's [load] table",
                    path.display()
                ))
            })?;
        Target::parse(&url).map_err(|e| bad(format!("--url: {e}")))?;
        let duration = duration_flag_v.unwrap_or(s.duration);
        let mut cfg = LoadConfig::new(url, s.workload.clone(), duration)
            .with_settings(&s.load)
            .with_request_classes(&s.request_classes);
        if let Some(c) = a.connections {
            cfg.mode = LoopMode::Closed { connections: c };
        }
        cfg.name = s.name.clone();
        cfg.seed = resolve_seed(a.seed.as_deref(), s.seed)?;
        scenario = Some(s);
        cfg
    };
    if let Some(m) = a.max_connections {
        cfg.max_connections = m;
    }
    cfg.max_requests = a.requests;
    cfg.http2 |= a.http2;
    cfg.h2_connections = a.h2_connections;
    if let Some(t) = timeout {
        cfg.timeout = t;
        cfg.grace = t.min(Duration::from_secs(5));
    }
    if let Some(t) = connect_timeout {
        cfg.connect_timeout = t;
    }
    if let Some(g) = grace {
        cfg.grace = g;
    }
    cfg.max_lag = max_lag;
    cfg.lag_warn = lag_warn;
    cfg.max_pending = a.more.max_pending;
    cfg.tls = TlsOptions {
        insecure: a.more.insecure,
        cacert: a.more.cacert.clone(),
    };
    cfg.output = a.more.output.clone();
    cfg.hdr_log = a.hdr_log.clone();
    cfg.shard = shard;
    cfg.progress = !a.quiet && (a.progress || stderr_is_terminal());
    cfg.warnings = !a.quiet;

    if let LoopMode::Open(w) = &cfg.mode {
        super::common::check_work(
            Path::new(&target),
            &scalelab_core::estimate::estimate_schedule(w, cfg.duration, cfg.max_requests),
            &scalelab_core::estimate::WorkLimits::LOAD,
            a.allow_large_run,
        )?;
    }
    let report = scalelab_loadgen::run_blocking(&cfg, a.threads).map_err(load_error)?;
    let mut result = scalelab_loadgen::to_result(&cfg, &report);
    result.command = Some(scalelab_reports::shell_join(std::env::args()));
    let base_slo = match &scenario {
        Some(s) => {
            result.scenario_path = Some(s.path.display().to_string());
            result.resolved_scenario = serde_json::to_value(s).ok();
            s.slo.clone()
        }
        None => Slo::default(),
    };
    verdict(&a, &mut result, &slo_flags, &base_slo, report.stopped_early)
}

/// Applies the SLO, writes the output, and turns the result into an exit code: 1 when the run
/// stopped early or no request succeeded (naming the most common failure), 3 on an SLO
/// breach, 0 otherwise. The result is written in every case.
fn verdict(
    a: &LoadArgs,
    result: &mut RunResult,
    flags: &SloFlags,
    base: &Slo,
    stopped_early: Option<String>,
) -> CmdResult {
    // Every run is checked, quick mode included: at least the default error ratio.
    let slo = flags.over(base);
    for v in &mut result.variants {
        v.slo = flags.check(&slo, v);
    }
    emit(a, result)?;
    if let Some(why) = stopped_early {
        return Err(Failure::runtime(anyhow!("{why}")));
    }
    if let Some(f) = scalelab_loadgen::failed(result) {
        return Err(Failure::runtime(anyhow!("{f}")));
    }
    if result.variants.iter().any(|v| !v.slo.passed) {
        return Ok(Code::SloBreach);
    }
    Ok(Code::Ok)
}

fn merge(a: &LoadArgs) -> CmdResult {
    let mut docs = Vec::new();
    for path in &a.merge {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("reading {}: {e}", path.display())))?;
        let doc: RunResult = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{}: not a result document: {e}", path.display())))?;
        docs.push(doc);
    }
    let mut result = scalelab_loadgen::merge(&docs).map_err(load_error)?;
    // The merged document keeps the shards' SLO checks unless flags give new thresholds.
    let flags = SloFlags::parse(&a.more.slo).map_err(load_error)?;
    verdict(a, &mut result, &flags, &Slo::default(), None)
}

/// Writes `--out` files and prints the document in the chosen format.
fn emit(a: &LoadArgs, result: &mut RunResult) -> Result<(), Failure> {
    if let Some(dir) = &a.out {
        let io = |e: std::io::Error| Failure::runtime(anyhow!("writing {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        if let Some(series) = result.variants.first().and_then(|v| v.series.clone()) {
            let csv = dir.join("timeseries.csv");
            std::fs::write(&csv, series.to_csv()).map_err(io)?;
            for v in &mut result.variants {
                v.timeseries = Some(csv.display().to_string());
            }
        }
        let json = serde_json::to_string_pretty(&*result).map_err(Failure::runtime)?;
        std::fs::write(dir.join("result.json"), json + "\n").map_err(io)?;
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let s = serde_json::to_string_pretty(&*result).map_err(Failure::runtime)?;
            writeln!(out, "{s}")?;
        }
        Format::Text => write!(out, "{}", scalelab_reports::load_text(result))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_rate("200").ok(), Some(200.0));
        assert_eq!(parse_rate("200/s").ok(), Some(200.0));
        assert_eq!(parse_rate("600/m").ok(), Some(10.0));
        assert_eq!(parse_rate("50/1s").ok(), Some(50.0));
        assert_eq!(parse_rate("50/2s").ok(), Some(25.0));
        assert_eq!(parse_rate("5/100ms").ok(), Some(50.0));
        assert_eq!(parse_rate("3600/h").ok(), Some(1.0));
        assert!(parse_rate("5/0s").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5/week").is_err());
    }
}
