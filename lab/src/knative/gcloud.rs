//! `scalelab import gcloud deploy.sh`: the `gcloud run` commands `scalelab export gcloud`
//! writes (or a user's own deploy script) read back into a scenario.
//!
//! What is read, command by command, in order:
//! - `gcloud run deploy SERVICE FLAGS`: a revision. `--revision-suffix=S` names it `S` (the
//!   platform's `SERVICE-S`); its settings are the previous revision's with the flags given laid
//!   over them, as Cloud Run does (`--concurrency`, `--min-instances`, `--max-instances`,
//!   `--cpu`, `--memory`, `--timeout`, `--cpu-throttling`, `--cpu-boost`, `--tag`). Without
//!   `--no-traffic` the new revision takes all traffic.
//! - `gcloud run services update-traffic SERVICE --to-revisions=REV=PCT,…` (`LATEST` names the
//!   newest revision; percents under 100 leave the rest to the unnamed revisions in proportion
//!   to their traffic, as gcloud does), `--to-latest`, `--set-tags`/`--update-tags=TAG=REV,…`.
//! - `sleep N`: scenario time passes (revisions deployed later get `created_at`, traffic changes
//!   later become `[[rollouts]]`).
//! - The comments `export gcloud` writes before a deploy (`# at 4m: deploy v2`) and before a
//!   rollout's update-traffic steps (`# at 6m: traffic moves over 5m`) give the exact scenario
//!   time and the rollout's `duration`; the steps after such a comment are one rollout to the
//!   last step's split. Without the comment each update-traffic after the start is an instant
//!   switch (`duration = "0s"`) at the time the sleeps add up to.
//!
//! The autoscaler is `kind = "cloud-run"` (what runs on Cloud Run): its min and max instances
//! come from the flags, the drivers' targets, window and retention are Cloud Run's own (no flag
//! sets them). Flags and commands scalelab does not model are named in warnings; flags without
//! an effect on the model (`--region`, `--image`, …) are skipped silently.

use std::fmt::Write as _;
use std::time::Duration;

use super::import::{Imported, MAX_BYTES};
use super::{format, service_name};
use crate::LabError;

/// Flags that change nothing scalelab models: read without a word.
const SILENT: [&str; 18] = [
    "image",
    "region",
    "project",
    "platform",
    "allow-unauthenticated",
    "no-allow-unauthenticated",
    "quiet",
    "async",
    "format",
    "verbosity",
    "account",
    "labels",
    "update-labels",
    "service-account",
    "set-env-vars",
    "update-env-vars",
    "port",
    "description",
];

/// Flags that take no value.
const BOOLEAN: [&str; 16] = [
    "no-traffic",
    "cpu-throttling",
    "no-cpu-throttling",
    "cpu-boost",
    "no-cpu-boost",
    "allow-unauthenticated",
    "no-allow-unauthenticated",
    "quiet",
    "async",
    "to-latest",
    "clear-tags",
    "use-http2",
    "no-use-http2",
    "session-affinity",
    "no-session-affinity",
    "default-url",
];

/// One revision's settings as Cloud Run keeps them (each deploy starts from the previous one's).
#[derive(Clone, Debug, Default, PartialEq)]
struct Settings {
    concurrency: Option<i64>,
    min: Option<i64>,
    max: Option<i64>,
    vcpu: Option<f64>,
    memory_gib: Option<f64>,
    timeout: Option<Duration>,
    throttling: Option<bool>,
    boost: Option<bool>,
}

struct Rev {
    /// The scenario's name (the suffix).
    name: String,
    /// The platform's name, `SERVICE-SUFFIX`.
    full: String,
    created_at: Duration,
    tag: Option<String>,
    settings: Settings,
}

/// A rollout being read: its time, duration and the split it ends with.
struct Rollout {
    at: Duration,
    duration: Duration,
    target: Vec<f64>,
    /// Opened by an `export gcloud` comment: the update-traffic steps after it belong to it.
    open: bool,
}

/// The flags of one command: `(name, value)` in order, and the positional words.
struct Parsed {
    flags: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

fn parse_words(words: &[String]) -> Parsed {
    let mut flags = Vec::new();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if let Some(f) = w.strip_prefix("--") {
            match f.split_once('=') {
                Some((n, v)) => flags.push((n.to_string(), Some(v.to_string()))),
                None if BOOLEAN.contains(&f) => flags.push((f.to_string(), None)),
                None => {
                    let v = words.get(i + 1).filter(|v| !v.starts_with('-')).cloned();
                    if v.is_some() {
                        i += 1;
                    }
                    flags.push((f.to_string(), v));
                }
            }
        } else if w == "-q" {
        } else {
            positional.push(w.clone());
        }
        i += 1;
    }
    Parsed { flags, positional }
}

/// `# at 6m: traffic moves over 5m` → (6m, Some(5m)); `# at 4m: deploy v2` → (4m, None).
fn export_comment(line: &str) -> Option<(Duration, Option<Duration>)> {
    let rest = line.trim_start_matches('#').trim().strip_prefix("at ")?;
    let (at, what) = rest.split_once(": ")?;
    let at = format::parse_go_duration(at).ok()?;
    if let Some(d) = what.strip_prefix("traffic moves over ") {
        return Some((at, Some(format::parse_go_duration(d).ok()?)));
    }
    what.starts_with("deploy ").then_some((at, None))
}

/// `sleep N` (seconds; GNU sleep's `s`, `m`, `h`, `d` suffixes).
fn sleep_seconds(arg: &str) -> Option<Duration> {
    let (num, unit) = match arg.char_indices().last()? {
        (i, 's') => (&arg[..i], 1.0),
        (i, 'm') => (&arg[..i], 60.0),
        (i, 'h') => (&arg[..i], 3600.0),
        (i, 'd') => (&arg[..i], 86400.0),
        _ => (arg, 1.0),
    };
    let x: f64 = num
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)?;
    Duration::try_from_secs_f64(x * unit).ok()
}

/// The `gcloud run` commands in `text` (read from `source`) as scenario TOML, checked as the
/// scenario file `target` would be, and warnings about what was left out.
pub fn scenario_from_gcloud(text: &str, source: &str, target: &str) -> Result<Imported, LabError> {
    let bad = |message: String| LabError::Manifest {
        source_name: source.to_string(),
        message,
    };
    if text.len() > MAX_BYTES {
        return Err(bad(format!(
            "the script is {} bytes, more than the {MAX_BYTES} a deploy script could need",
            text.len()
        )));
    }
    // Logical lines (backslash-newline joins), each with the line it starts on.
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        match raw.strip_suffix('\\') {
            Some(head) if !raw.trim_start().starts_with('#') => {
                acc.push_str(head);
                acc.push(' ');
                pending = Some((start, acc));
            }
            _ => {
                acc.push_str(raw);
                lines.push((start, acc));
            }
        }
    }
    if let Some(p) = pending {
        lines.push(p);
    }

    let mut warnings: Vec<String> = Vec::new();
    let mut service: Option<String> = None;
    let mut revs: Vec<Rev> = Vec::new();
    let mut current: Vec<f64> = Vec::new();
    let mut split: Option<Vec<f64>> = None;
    let mut rollouts: Vec<Rollout> = Vec::new();
    let mut clock = Duration::ZERO;
    let mut deploy_at: Option<Duration> = None;
    // Before the first sleep or deploy event: deploys and traffic make the initial split.
    let mut started = false;

    for (no, line) in &lines {
        let at = |m: String| bad(format!("line {no}: {m}"));
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("#!") {
            continue;
        }
        if trimmed.starts_with('#') {
            match export_comment(trimmed) {
                Some((t, Some(d))) => {
                    close(&mut rollouts);
                    started = true;
                    rollouts.push(Rollout {
                        at: t,
                        duration: d,
                        target: current.clone(),
                        open: true,
                    });
                }
                Some((t, None)) => {
                    close(&mut rollouts);
                    started = true;
                    deploy_at = Some(t);
                }
                None => {}
            }
            continue;
        }
        let words = shlex::split(trimmed).ok_or_else(|| {
            at("unbalanced quotes (not a shell command scalelab can read)".into())
        })?;
        if words
            .iter()
            .any(|w| matches!(w.as_str(), ";" | "&&" | "||" | "|"))
        {
            warnings.push(format!(
                "line {no}: one command per line is read; `{trimmed}` is left out"
            ));
            continue;
        }
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["sleep", arg] => {
                let d = sleep_seconds(arg)
                    .ok_or_else(|| at(format!("sleep {arg}: expected a number of seconds")))?;
                clock += d;
                if !d.is_zero() {
                    started = true;
                }
            }
            ["gcloud", rest @ ..] => {
                // `gcloud beta run …` and `gcloud alpha run …` take the same flags.
                let rest = match rest {
                    ["beta" | "alpha", r @ ..] => r,
                    r => r,
                };
                let owned: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                match rest {
                    ["run", "deploy", ..] => {
                        let p = parse_words(&owned[2..]);
                        let name = one_service(&p, &mut service, "gcloud run deploy", &at)?;
                        let mut settings = revs.last().map(|r| r.settings.clone()).unwrap_or_default();
                        let mut suffix = None;
                        let mut no_traffic = false;
                        let mut tag = None;
                        for (f, v) in &p.flags {
                            let value = |v: &Option<String>| {
                                v.clone()
                                    .ok_or_else(|| at(format!("--{f} needs a value")))
                            };
                            let flag_err = |e: LabError| at(format!("--{f}: {e}"));
                            match f.as_str() {
                                "concurrency" => settings.concurrency = count(&value(v)?).map_err(flag_err)?,
                                "min-instances" => settings.min = count(&value(v)?).map_err(flag_err)?,
                                "max-instances" => settings.max = count(&value(v)?).map_err(flag_err)?,
                                "cpu" => settings.vcpu = Some(format::parse_cpu(&value(v)?).map_err(flag_err)?),
                                "memory" => {
                                    settings.memory_gib = Some(format::parse_memory(&value(v)?).map_err(flag_err)?)
                                }
                                "timeout" => settings.timeout = Some(timeout(&value(v)?).map_err(flag_err)?),
                                "cpu-throttling" => settings.throttling = Some(true),
                                "no-cpu-throttling" => settings.throttling = Some(false),
                                "cpu-boost" => settings.boost = Some(true),
                                "no-cpu-boost" => settings.boost = Some(false),
                                "revision-suffix" => suffix = Some(value(v)?),
                                "no-traffic" => no_traffic = true,
                                "tag" => tag = Some(value(v)?),
                                s if SILENT.contains(&s) => {}
                                other => warnings.push(format!(
                                    "line {no}: gcloud run deploy --{other} is not simulated; left out"
                                )),
                            }
                        }
                        let suffix = suffix.unwrap_or_else(|| format!("r{}", revs.len() + 1));
                        let full = format!("{name}-{suffix}");
                        if revs.iter().any(|r| r.full == full) {
                            return Err(at(format!("revision {full} is deployed twice")));
                        }
                        let created_at = if started { deploy_at.take().unwrap_or(clock) } else { Duration::ZERO };
                        close(&mut rollouts);
                        revs.push(Rev { name: suffix, full, created_at, tag, settings });
                        current.push(0.0);
                        if let Some(s) = split.as_mut() {
                            s.push(0.0);
                        }
                        for r in &mut rollouts {
                            r.target.push(0.0);
                        }
                        if !no_traffic {
                            let n = current.len();
                            current = (0..n).map(|i| if i + 1 == n { 100.0 } else { 0.0 }).collect();
                            if started {
                                rollouts.push(Rollout { at: created_at, duration: Duration::ZERO, target: current.clone(), open: false });
                            }
                        }
                        if !started {
                            split = Some(current.clone());
                        }
                    }
                    ["run", "services", "update-traffic", ..] => {
                        let p = parse_words(&owned[3..]);
                        one_service(&p, &mut service, "gcloud run services update-traffic", &at)?;
                        if revs.is_empty() {
                            return Err(at("update-traffic before any gcloud run deploy".into()));
                        }
                        let find = |revs: &[Rev], r: &str| -> Result<usize, LabError> {
                            if r == "LATEST" {
                                return Ok(revs.len() - 1);
                            }
                            revs.iter().position(|x| x.full == r || x.name == r).ok_or_else(|| {
                                at(format!("revision {r} is not deployed above"))
                            })
                        };
                        let mut moved = false;
                        let mut next = current.clone();
                        for (f, v) in &p.flags {
                            let value = v.clone().unwrap_or_default();
                            match f.as_str() {
                                "to-revisions" => {
                                    let mut listed = vec![false; revs.len()];
                                    let mut sum = 0.0;
                                    for part in value.split(',').filter(|s| !s.is_empty()) {
                                        let (r, pct) = part.rsplit_once('=').ok_or_else(|| {
                                            at(format!("--to-revisions: \"{part}\" is not REVISION=PERCENT"))
                                        })?;
                                        let pct: f64 = pct.parse().ok().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                                            at(format!("--to-revisions: \"{part}\": the percent must be 0 to 100"))
                                        })?;
                                        let i = find(&revs, r)?;
                                        next[i] = pct;
                                        listed[i] = true;
                                        sum += pct;
                                    }
                                    if sum > 100.0 + 1e-9 {
                                        return Err(at(format!("--to-revisions adds up to {sum}, more than 100")));
                                    }
                                    // The rest goes to the unnamed revisions, in proportion to their traffic.
                                    let rest: f64 = (0..revs.len()).filter(|i| !listed[*i]).map(|i| current[i]).sum();
                                    for i in (0..revs.len()).filter(|i| !listed[*i]) {
                                        next[i] = if rest > 0.0 { current[i] / rest * (100.0 - sum) } else { 0.0 };
                                    }
                                    if sum < 100.0 - 1e-9 && rest <= 0.0 {
                                        return Err(at(format!(
                                            "--to-revisions adds up to {sum}, and no other revision has traffic to take the rest"
                                        )));
                                    }
                                    moved = true;
                                }
                                "to-latest" => {
                                    next = (0..revs.len()).map(|i| if i + 1 == revs.len() { 100.0 } else { 0.0 }).collect();
                                    moved = true;
                                }
                                "set-tags" | "update-tags" => {
                                    for part in value.split(',').filter(|s| !s.is_empty()) {
                                        let (t, r) = part.split_once('=').ok_or_else(|| {
                                            at(format!("--{f}: \"{part}\" is not TAG=REVISION"))
                                        })?;
                                        let i = find(&revs, r)?;
                                        match &revs[i].tag {
                                            Some(old) if old != t => warnings.push(format!(
                                                "line {no}: revision {} has tags {old} and {t}; a scenario revision has one: keeping {old}",
                                                revs[i].full
                                            )),
                                            _ => revs[i].tag = Some(t.to_string()),
                                        }
                                    }
                                }
                                s if SILENT.contains(&s) => {}
                                other => warnings.push(format!(
                                    "line {no}: gcloud run services update-traffic --{other} is not simulated; left out"
                                )),
                            }
                        }
                        if moved {
                            current = next;
                            if !started {
                                split = Some(current.clone());
                            } else {
                                match rollouts.last_mut() {
                                    Some(r) if r.open => r.target = current.clone(),
                                    _ => rollouts.push(Rollout { at: clock, duration: Duration::ZERO, target: current.clone(), open: false }),
                                }
                            }
                        }
                    }
                    _ => warnings.push(format!(
                        "line {no}: `gcloud {}` is not read (only gcloud run deploy and gcloud run services update-traffic)",
                        rest.iter().take(3).copied().collect::<Vec<_>>().join(" ")
                    )),
                }
            }
            [cmd, ..] => warnings.push(format!(
                "line {no}: `{cmd}` is not a gcloud command; left out"
            )),
            [] => {}
        }
    }
    let Some(name) = service else {
        return Err(bad("no `gcloud run deploy SERVICE` command found".into()));
    };
    let split = split.unwrap_or_else(|| vec![0.0; revs.len()]);
    let single = revs.len() == 1 && rollouts.is_empty() && revs[0].tag.is_none();
    let models = match revs.last().and_then(|r| r.settings.throttling) {
        Some(false) => "[\"cloud-run-instance\", \"cloud-run-request\"]",
        _ => "[\"cloud-run-request\", \"cloud-run-instance\"]",
    };
    // Long enough to see the last deploy settle.
    let last = rollouts
        .iter()
        .map(|r| r.at + r.duration)
        .chain(revs.iter().map(|r| r.created_at))
        .max()
        .unwrap_or_default();
    let minutes = (last.as_secs() + 300).div_ceil(60).max(10);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported by `scalelab import gcloud` from {source} (Cloud Run service \"{name}\")."
    );
    out.push_str(
        "# [service] and [autoscaler] (or each of [[revisions]]' own tables) carry the deploy\n\
         # flags; Cloud Run's autoscaler (kind = \"cloud-run\") keeps its own targets. The service\n\
         # time, cold start, workload and [slo] below are PLACEHOLDERS: replace them with your\n\
         # service's measurements and traffic.\n",
    );
    let scenario_name = service_name(&name).unwrap_or_else(|_| "imported".into());
    let _ = writeln!(out, "name = {}", toml::Value::String(scenario_name));
    let _ = writeln!(out, "duration = \"{minutes}m\"\n\n[service]");
    if single {
        service_keys(&mut out, &revs[0].settings);
    }
    out.push_str(
        "service_time = { dist = \"lognormal\", median = \"80ms\", p99 = \"600ms\" }   # placeholder\n\
         cold_start = { dist = \"lognormal\", median = \"1.2s\", p99 = \"6s\" }        # placeholder\n",
    );
    if single {
        out.push_str("\n[autoscaler]\n");
        autoscaler_keys(&mut out, &revs[0].settings);
    } else {
        for (i, r) in revs.iter().enumerate() {
            let _ = writeln!(out, "\n[[revisions]]   # --revision-suffix={}", r.name);
            let _ = writeln!(out, "name = {}", toml::Value::String(r.name.clone()));
            let _ = writeln!(out, "traffic = {}", format::num(split[i]));
            if !r.created_at.is_zero() {
                let _ = writeln!(
                    out,
                    "created_at = {}",
                    toml::Value::String(format::go_duration(r.created_at))
                );
            }
            if let Some(t) = &r.tag {
                let _ = writeln!(out, "tag = {}", toml::Value::String(t.clone()));
            }
            out.push_str("[revisions.service]\n");
            service_keys(&mut out, &r.settings);
            out.push_str("[revisions.autoscaler]\n");
            autoscaler_keys(&mut out, &r.settings);
        }
    }
    for r in &rollouts {
        out.push_str("\n[[rollouts]]   # update-traffic\n");
        let _ = writeln!(
            out,
            "at = {}",
            toml::Value::String(format::go_duration(r.at))
        );
        let parts: Vec<String> = revs
            .iter()
            .zip(&r.target)
            .filter(|(_, p)| **p > 0.0)
            .map(|(rev, p)| {
                format!(
                    "{} = {}",
                    toml::Value::String(rev.name.clone()),
                    format::num(*p)
                )
            })
            .collect();
        let _ = writeln!(out, "traffic = {{ {} }}", parts.join(", "));
        let _ = writeln!(
            out,
            "duration = {}",
            toml::Value::String(format::go_duration(r.duration))
        );
    }
    let _ = write!(
        out,
        "\n[[workload.phases]]   # placeholder traffic\nduration = \"{minutes}m\"\n\
         arrival = {{ process = \"poisson\", rate = 50 }}\n\n[billing]\nmodels = {models}\n\n\
         [slo]   # placeholder\np99 = \"1s\"\nerror_ratio = 0.001\n"
    );
    scalelab_core::scenario::Scenario::from_toml_str(&out, std::path::Path::new(target)).map_err(
        |e| {
            bad(format!(
                "the commands' settings do not make a valid scenario: {e}"
            ))
        },
    )?;
    Ok(Imported {
        toml: out,
        warnings,
    })
}

/// Stops adding update-traffic steps to the rollout an `export gcloud` comment opened.
fn close(rollouts: &mut [Rollout]) {
    if let Some(r) = rollouts.last_mut() {
        r.open = false;
    }
}

/// The service a command names (the first positional word): the same in every command.
fn one_service(
    p: &Parsed,
    service: &mut Option<String>,
    cmd: &str,
    at: &dyn Fn(String) -> LabError,
) -> Result<String, LabError> {
    let name = p
        .positional
        .first()
        .cloned()
        .ok_or_else(|| at(format!("{cmd} names no service")))?;
    if let Some(extra) = p.positional.get(1) {
        return Err(at(format!(
            "{cmd} {name}: unexpected word \"{extra}\" (a flag's value with a space in it \
             needs quotes)"
        )));
    }
    match service {
        Some(s) if *s != name => Err(at(format!(
            "{cmd} {name}: the script already deploys service {s}; import one service at a time"
        ))),
        Some(_) => Ok(name),
        None => {
            *service = Some(name.clone());
            Ok(name)
        }
    }
}

/// A whole number ≥ 0 or `default` (None).
fn count(v: &str) -> Result<Option<i64>, LabError> {
    if v == "default" {
        return Ok(None);
    }
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| LabError::InvalidValue(format!("\"{v}\" is not a whole number ≥ 0")))
}

/// gcloud's timeout: seconds, or a duration (`5m`, `1h`).
fn timeout(v: &str) -> Result<Duration, LabError> {
    let d = match v.parse::<u64>() {
        Ok(s) => Duration::from_secs(s),
        Err(_) => format::parse_go_duration(v)?,
    };
    if d.is_zero() {
        return Err(LabError::InvalidValue(
            "the timeout must be positive".into(),
        ));
    }
    Ok(d)
}

fn service_keys(out: &mut String, s: &Settings) {
    if let Some(c) = s.concurrency {
        let _ = writeln!(out, "container_concurrency = {c}   # --concurrency");
    }
    if let Some(v) = s.vcpu {
        let _ = writeln!(out, "vcpu = {}   # --cpu", toml::Value::Float(v));
    }
    if let Some(m) = s.memory_gib {
        let _ = writeln!(out, "memory_gib = {}   # --memory", toml::Value::Float(m));
    }
    if let Some(t) = s.timeout {
        let _ = writeln!(
            out,
            "timeout = {}   # --timeout",
            toml::Value::String(format::go_duration(t))
        );
    }
    if let Some(b) = s.boost {
        let _ = writeln!(out, "startup_cpu_boost = {b}   # --cpu-boost");
    }
}

fn autoscaler_keys(out: &mut String, s: &Settings) {
    out.push_str("kind = \"cloud-run\"\n");
    if let Some(n) = s.min {
        let _ = writeln!(out, "min_scale = {n}   # --min-instances");
    }
    if let Some(n) = s.max {
        let _ = writeln!(out, "max_scale = {n}   # --max-instances");
    }
}
