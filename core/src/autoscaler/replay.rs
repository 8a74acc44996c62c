//! `scalelab kpa replay`: feed a recorded metric series to one [`Decider`] and report each
//! decision (DESIGN.md, "The autoscaler on its own").
//!
//! Input (JSON):
//!
//! ```json
//! { "autoscaler": { "stable_window": "60s" }, "container_concurrency": 0,
//!   "initial_ready": 1, "reachable": true,
//!   "steps": [ { "t": "0s", "stable": 50, "panic": 50, "ready": 1 },
//!              { "t": "2s", "concurrency": 12.5 },
//!              { "t": "4s" },
//!              { "t": "6s", "stable": 9, "panic": 9, "ready": 2,
//!                "autoscaler": { "target": 10 }, "reachable": false } ] }
//! ```
//!
//! - `autoscaler` takes the scenario's `[autoscaler]` keys (KPA only) with the same ranges.
//! - The decider is created at t = 0 with `initial_ready` ready pods (default 0).
//! - A step gives either pre-averaged `stable` and `panic` values, or raw per-second revision
//!   totals `concurrency` (and/or `rps`) that are recorded into the windows at `t` before the
//!   tick, or neither: then the tick reads the windows as they are (no data if they are empty).
//! - `ready` and `reachable` carry over from the previous step; a step's `autoscaler` keys
//!   change the settings from that step on (on top of the current ones).
//!
//! Output: one [`ReplayLine`] per step.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::autoscaler::config::{Aggregation, KpaSettings, Metric};
use crate::autoscaler::decider::{Decider, DeciderSpec};
use crate::autoscaler::metrics::Stat;
use crate::duration::{Dur, format_duration};
use crate::time::{NANOS_PER_SEC, Time};

/// Why a replay input was rejected. All variants are bad input (exit code 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Not valid JSON, an unknown key or a value of the wrong type.
    #[error("{key}{message} at line {line} column {column}")]
    Json {
        /// The key path (`steps[2].stable: `), or empty.
        key: String,
        /// serde's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A value out of range or an inconsistent step.
    #[error("{key}: {message}")]
    Invalid {
        /// The key path, e.g. `steps[3].autoscaler.target`.
        key: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ReplayError {
    ReplayError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The `autoscaler` object: the scenario's `[autoscaler]` keys (KPA kind).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKpa {
    /// Must be "kpa" when given.
    pub kind: Option<String>,
    /// `concurrency` or `rps`.
    pub metric: Option<String>,
    /// Per-pod total, ≥ 0.01.
    pub target: Option<f64>,
    /// (0, 1], or a percentage up to 100.
    pub target_utilization: Option<f64>,
    /// 6 s … 1 h, whole seconds.
    pub stable_window: Option<Dur>,
    /// 1 … 100.
    pub panic_window_percentage: Option<f64>,
    /// 110 … 1000.
    pub panic_threshold_percentage: Option<f64>,
    /// > 1.
    pub max_scale_up_rate: Option<f64>,
    /// > 1.
    pub max_scale_down_rate: Option<f64>,
    /// ≥ 0 or −1.
    pub target_burst_capacity: Option<f64>,
    /// > 0.
    pub scale_to_zero_grace_period: Option<Dur>,
    /// ≤ 1 h.
    pub scale_to_zero_pod_retention: Option<Dur>,
    /// Whole seconds, ≤ 1 h.
    pub scale_down_delay: Option<Dur>,
    /// ≥ 0.
    pub min_scale: Option<i64>,
    /// ≥ 0 (0 = unbounded).
    pub max_scale: Option<i64>,
    /// ≥ 0.
    pub initial_scale: Option<i64>,
    /// ≥ 0; between min and max scale when > 1.
    pub activation_scale: Option<i64>,
    /// Bool.
    pub enable_scale_to_zero: Option<bool>,
    /// `linear` or `weighted-exponential`.
    pub aggregation: Option<String>,
    /// ≥ 1.
    pub activator_capacity: Option<f64>,
    /// > 0, whole seconds.
    pub progress_deadline: Option<Dur>,
}

/// The whole input document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplay {
    /// Settings (defaults: Knative's).
    #[serde(default)]
    pub autoscaler: RawKpa,
    /// The revision's container concurrency (0 = unlimited).
    #[serde(default)]
    pub container_concurrency: u32,
    /// Ready pods when the decider is created at t = 0.
    #[serde(default)]
    pub initial_ready: u32,
    /// Whether the revision is reachable (default true).
    pub reachable: Option<bool>,
    /// The steps, in time order.
    pub steps: Vec<RawStep>,
}

/// One step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// When (a duration since t = 0, e.g. `"4s"`).
    pub t: Dur,
    /// Pre-averaged stable window value.
    pub stable: Option<f64>,
    /// Pre-averaged panic window value.
    pub panic: Option<f64>,
    /// Raw revision-total concurrency for this second.
    pub concurrency: Option<f64>,
    /// Raw revision-total requests per second for this second.
    pub rps: Option<f64>,
    /// Ready pods (default: as before).
    pub ready: Option<u32>,
    /// Settings changed from this step on.
    pub autoscaler: Option<RawKpa>,
    /// Reachability from this step on.
    pub reachable: Option<bool>,
}

/// One output line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayLine {
    /// The step's time.
    pub t: Time,
    /// False when the decider had no data (the other fields are its last decision).
    pub valid: bool,
    /// Desired pods.
    pub desired: i32,
    /// Excess burst capacity.
    pub excess_burst_capacity: i32,
    /// Panic mode.
    pub panic: bool,
}

impl Serialize for ReplayLine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ReplayLine", 5)?;
        if self.t.as_nanos().is_multiple_of(NANOS_PER_SEC) {
            st.serialize_field("t_s", &self.t.whole_secs())?;
        } else {
            st.serialize_field("t_s", &self.t.as_secs_f64())?;
        }
        st.serialize_field("valid", &self.valid)?;
        st.serialize_field("desired", &self.desired)?;
        st.serialize_field("excess_burst_capacity", &self.excess_burst_capacity)?;
        st.serialize_field("panic", &self.panic)?;
        st.end()
    }
}

impl fmt::Display for ReplayLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

fn f64_in(
    v: Option<f64>,
    key: &str,
    default: f64,
    ok: impl Fn(f64) -> bool,
    expected: &str,
) -> Result<f64, ReplayError> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && ok(x) => Ok(x),
        Some(x) => Err(invalid(
            key,
            format!("{x} is out of range: expected {expected}"),
        )),
    }
}

fn u32_in(v: Option<i64>, key: &str, default: u32) -> Result<u32, ReplayError> {
    const MAX: i64 = 1_000_000;
    match v {
        None => Ok(default),
        Some(x) if x < 0 => Err(invalid(key, format!("{x} is negative: expected 0 or more"))),
        Some(x) if x > MAX => Err(invalid(
            key,
            format!("{x} is too large: expected at most {MAX}"),
        )),
        Some(x) => Ok(x as u32),
    }
}

fn dur_in(
    v: Option<Dur>,
    key: &str,
    default: std::time::Duration,
    ok: impl Fn(std::time::Duration) -> Result<(), String>,
) -> Result<std::time::Duration, ReplayError> {
    match v {
        None => Ok(default),
        Some(d) => ok(d.0).map(|()| d.0).map_err(|m| invalid(key, m)),
    }
}

fn whole(max: std::time::Duration) -> impl Fn(std::time::Duration) -> Result<(), String> {
    move |d| {
        if d.subsec_nanos() != 0 {
            Err("must be whole seconds".into())
        } else if d > max {
            Err(format!("must be at most {}", format_duration(max)))
        } else {
            Ok(())
        }
    }
}

/// Applies the keys of `raw` on top of `base`, with the scenario resolver's ranges; errors name
/// `prefix.key`.
pub fn apply_settings(
    base: &KpaSettings,
    raw: &RawKpa,
    prefix: &str,
) -> Result<KpaSettings, ReplayError> {
    use std::time::Duration;
    let k = |name: &str| format!("{prefix}.{name}");
    let mut s = base.clone();
    if let Some(kind) = &raw.kind
        && kind != "kpa"
    {
        return Err(invalid(
            k("kind"),
            format!("kpa replay drives the KPA only; got kind \"{kind}\""),
        ));
    }
    if let Some(m) = &raw.metric {
        s.metric = match m.as_str() {
            "concurrency" => Metric::Concurrency,
            "rps" => Metric::Rps,
            other => {
                return Err(invalid(
                    k("metric"),
                    format!("unknown metric \"{other}\": expected \"concurrency\" or \"rps\""),
                ));
            }
        };
    }
    if raw.target.is_some() {
        s.target = Some(f64_in(
            raw.target,
            &k("target"),
            0.0,
            |x| x >= 0.01,
            "≥ 0.01",
        )?);
    }
    if raw.target_utilization.is_some() {
        let mut tu = f64_in(
            raw.target_utilization,
            &k("target_utilization"),
            s.target_utilization,
            |x| x > 0.0 && x <= 100.0,
            "a fraction in (0, 1] (or a percentage up to 100)",
        )?;
        if tu > 1.0 {
            tu /= 100.0;
        }
        s.target_utilization = tu;
    }
    s.stable_window = dur_in(
        raw.stable_window,
        &k("stable_window"),
        s.stable_window,
        |w| {
            whole(Duration::from_secs(3600))(w)?;
            if w < Duration::from_secs(6) {
                return Err("must be at least 6s (Knative's range is 6s to 1h)".into());
            }
            Ok(())
        },
    )?;
    s.panic_window_percentage = f64_in(
        raw.panic_window_percentage,
        &k("panic_window_percentage"),
        s.panic_window_percentage,
        |x| (1.0..=100.0).contains(&x),
        "1 to 100",
    )?;
    s.panic_threshold_percentage = f64_in(
        raw.panic_threshold_percentage,
        &k("panic_threshold_percentage"),
        s.panic_threshold_percentage,
        |x| (110.0..=1000.0).contains(&x),
        "110 to 1000",
    )?;
    s.max_scale_up_rate = f64_in(
        raw.max_scale_up_rate,
        &k("max_scale_up_rate"),
        s.max_scale_up_rate,
        |x| x > 1.0,
        "> 1",
    )?;
    s.max_scale_down_rate = f64_in(
        raw.max_scale_down_rate,
        &k("max_scale_down_rate"),
        s.max_scale_down_rate,
        |x| x > 1.0,
        "> 1",
    )?;
    s.target_burst_capacity = f64_in(
        raw.target_burst_capacity,
        &k("target_burst_capacity"),
        s.target_burst_capacity,
        |x| x >= 0.0 || x == -1.0,
        "≥ 0, or -1 for \"activator always in the path\"",
    )?;
    s.scale_to_zero_grace_period = dur_in(
        raw.scale_to_zero_grace_period,
        &k("scale_to_zero_grace_period"),
        s.scale_to_zero_grace_period,
        |g| {
            if g.is_zero() {
                Err("must be greater than zero".into())
            } else {
                Ok(())
            }
        },
    )?;
    s.scale_to_zero_pod_retention = dur_in(
        raw.scale_to_zero_pod_retention,
        &k("scale_to_zero_pod_retention"),
        s.scale_to_zero_pod_retention,
        |r| {
            if r > Duration::from_secs(3600) {
                Err("must be at most 1h".into())
            } else {
                Ok(())
            }
        },
    )?;
    s.scale_down_delay = dur_in(
        raw.scale_down_delay,
        &k("scale_down_delay"),
        s.scale_down_delay,
        whole(Duration::from_secs(3600)),
    )?;
    s.min_scale = u32_in(raw.min_scale, &k("min_scale"), s.min_scale)?;
    s.max_scale = u32_in(raw.max_scale, &k("max_scale"), s.max_scale)?;
    if s.max_scale > 0 && s.min_scale > s.max_scale {
        return Err(invalid(
            k("min_scale"),
            format!(
                "min_scale {} exceeds max_scale {}",
                s.min_scale, s.max_scale
            ),
        ));
    }
    s.initial_scale = u32_in(raw.initial_scale, &k("initial_scale"), s.initial_scale)?;
    s.activation_scale = u32_in(
        raw.activation_scale,
        &k("activation_scale"),
        s.activation_scale,
    )?
    .max(1);
    if s.activation_scale > 1 {
        if s.max_scale > 0 && s.activation_scale > s.max_scale {
            return Err(invalid(
                k("activation_scale"),
                format!(
                    "activation_scale {} exceeds max_scale {}",
                    s.activation_scale, s.max_scale
                ),
            ));
        }
        if s.activation_scale < s.min_scale {
            return Err(invalid(
                k("activation_scale"),
                format!(
                    "activation_scale {} is below min_scale {}",
                    s.activation_scale, s.min_scale
                ),
            ));
        }
    }
    if let Some(e) = raw.enable_scale_to_zero {
        s.enable_scale_to_zero = e;
    }
    if let Some(a) = &raw.aggregation {
        s.aggregation = match a.as_str() {
            "linear" => Aggregation::Linear,
            "weighted-exponential" | "weightedExponential" => Aggregation::WeightedExponential,
            other => {
                return Err(invalid(
                    k("aggregation"),
                    format!(
                        "unknown aggregation \"{other}\": expected \"linear\" or \"weighted-exponential\""
                    ),
                ));
            }
        };
    }
    s.activator_capacity = f64_in(
        raw.activator_capacity,
        &k("activator_capacity"),
        s.activator_capacity,
        |x| x >= 1.0,
        "≥ 1",
    )?;
    s.progress_deadline = dur_in(
        raw.progress_deadline,
        &k("progress_deadline"),
        s.progress_deadline,
        |pd| {
            if pd.is_zero() {
                Err("must be greater than zero".into())
            } else {
                whole(Duration::from_secs(u64::from(u32::MAX)))(pd)
            }
        },
    )?;
    Ok(s)
}

/// Parses an input document (JSON syntax and types only).
pub fn parse(src: &str) -> Result<RawReplay, ReplayError> {
    let mut de = serde_json::Deserializer::from_str(src);
    let raw: RawReplay = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_path_to_error writes `?` for a segment it could not name (a broken key).
        let path = path.trim_end_matches(".?").trim_end_matches('?');
        let key = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        let mut message = inner.to_string();
        if let Some(rest) = message.strip_prefix("unknown field") {
            message = format!("unknown key{rest}");
        }
        // serde_json appends its own " at line L column C"; we print the position once.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        ReplayError::Json {
            key,
            message,
            line: inner.line(),
            column: inner.column(),
        }
    })?;
    de.end().map_err(|e| ReplayError::Json {
        key: String::new(),
        message: "trailing characters after the document".into(),
        line: e.line(),
        column: e.column(),
    })?;
    Ok(raw)
}

fn check_value(v: Option<f64>, key: String) -> Result<(), ReplayError> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => Err(invalid(
            key,
            format!("{x} is out of range: expected a finite value ≥ 0"),
        )),
        _ => Ok(()),
    }
}

/// Validates the whole input, then runs it: one line per step.
pub fn run(raw: &RawReplay) -> Result<Vec<ReplayLine>, ReplayError> {
    let mut settings = apply_settings(&KpaSettings::default(), &raw.autoscaler, "autoscaler")?;
    let cc = raw.container_concurrency;
    if cc > 1000 {
        return Err(invalid(
            "container_concurrency",
            format!("{cc} is too large: expected 0 (unlimited) to 1000"),
        ));
    }
    if raw.steps.is_empty() {
        return Err(invalid("steps", "no steps: give at least one"));
    }
    let mut reachable = raw.reachable.unwrap_or(true);
    let mut ready = raw.initial_ready;
    let mut decider = Decider::new(Time::ZERO, DeciderSpec::new(&settings, cc), ready);
    let mut out = Vec::with_capacity(raw.steps.len());
    let mut last_t = Time::ZERO;
    for (i, step) in raw.steps.iter().enumerate() {
        let p = format!("steps[{i}]");
        let now = Time::ZERO + step.t.0;
        if now < last_t {
            return Err(invalid(
                format!("{p}.t"),
                format!(
                    "{} is before the previous step's {}",
                    step.t,
                    Dur(last_t.since_start())
                ),
            ));
        }
        last_t = now;
        let pre = match (step.stable, step.panic) {
            (Some(s), Some(pa)) => Some((s, pa)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    p,
                    "give both `stable` and `panic` (pre-averaged), or neither",
                ));
            }
        };
        let raw_given = step.concurrency.is_some() || step.rps.is_some();
        if pre.is_some() && raw_given {
            return Err(invalid(
                p,
                "give either pre-averaged `stable`/`panic` or raw `concurrency`/`rps`, not both",
            ));
        }
        check_value(step.stable, format!("{p}.stable"))?;
        check_value(step.panic, format!("{p}.panic"))?;
        check_value(step.concurrency, format!("{p}.concurrency"))?;
        check_value(step.rps, format!("{p}.rps"))?;
        if let Some(a) = &step.autoscaler {
            settings = apply_settings(&settings, a, &format!("{p}.autoscaler"))?;
            decider.update(now, DeciderSpec::new(&settings, cc));
        }
        if let Some(r) = step.reachable {
            reachable = r;
        }
        if let Some(r) = step.ready {
            ready = r;
        }
        if raw_given {
            decider.record(
                now,
                &Stat {
                    avg_concurrency: step.concurrency.unwrap_or(0.0),
                    request_count: step.rps.unwrap_or(0.0),
                    ..Stat::default()
                },
            );
        }
        let tick = match pre {
            Some(o) => decider.tick_observed(now, ready, reachable, Some(o)),
            None => decider.tick(now, ready, reachable),
        };
        out.push(ReplayLine {
            t: now,
            valid: tick.result.valid,
            desired: tick.result.desired,
            excess_burst_capacity: tick.result.excess_burst_capacity,
            panic: tick.result.panic,
        });
    }
    Ok(out)
}

/// Parses and runs `src`.
pub fn replay_str(src: &str) -> Result<Vec<ReplayLine>, ReplayError> {
    run(&parse(src)?)
}

#[cfg(test)]
#[path = "tests/replay.rs"]
mod tests;
