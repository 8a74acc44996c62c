//! `scalelab kpa replay`: feed a recorded metric series to one [`Decider`] and report each
//! decision (the input and output are in docs/kpa-replay.md).
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

use std::collections::BTreeMap;

use crate::autoscaler::config::KpaSettings;
use crate::autoscaler::decider::{Decider, DeciderSpec};
use crate::autoscaler::keys;
use crate::autoscaler::metrics::Stat;
use crate::duration::Dur;
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

/// The `autoscaler` object: the scenario's `[autoscaler]` keys (KPA kind), each read and
/// checked through the key table ([`crate::autoscaler::keys::KPA_KEYS`]).
pub type RawKpa = BTreeMap<String, serde_json::Value>;

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

/// Applies the keys of `raw` on top of `base`, with the scenario resolver's ranges (the same
/// key table); errors name `prefix.key`.
pub fn apply_settings(
    base: &KpaSettings,
    raw: &RawKpa,
    prefix: &str,
) -> Result<KpaSettings, ReplayError> {
    let k = |name: &str| format!("{prefix}.{name}");
    let mut s = base.clone();
    for (name, v) in raw {
        if name == "kind" {
            if v.as_str() != Some("kpa") {
                return Err(invalid(
                    k("kind"),
                    format!("kpa replay drives the KPA only; got kind {v}"),
                ));
            }
            continue;
        }
        let Some(row) = keys::kpa(name) else {
            let why = if keys::keepalive(name).is_some() {
                format!("`{name}` is a keepalive key; kpa replay drives the KPA only")
            } else {
                keys::unknown(name, &keys::KPA_KEYS)
            };
            return Err(invalid(k(name), why));
        };
        row.parse(v.clone())
            .and_then(|val| row.set(&mut s, val))
            .map_err(|e| invalid(k(name), e.0))?;
    }
    keys::check_kpa(&s).map_err(|(name, e)| invalid(k(name), e.0))?;
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
