//! `[tune]` as written → [`TuneSpec`]: ranges expanded, every value tried against the scenario.

use std::path::Path;
use std::time::Duration;

use toml::Value;

use super::{R, Resolver};
use crate::duration::{format_duration, parse_duration};
use crate::scenario::raw::{RawScenario, S};
use crate::scenario::tune::{
    DEFAULT_SAMPLES, MAX_CANDIDATES, MAX_RANGE_VALUES, Objective, Param, Search, TuneSpec,
};
use crate::scenario::{CandidateBuilder, ScenarioError};

/// Keys a search may not set: they are not settings of the service (the seed and the horizon
/// belong to the search itself).
const FORBIDDEN: [&str; 6] = [
    "tune",
    "variants",
    "seed",
    "duration",
    "name",
    "description",
];

/// Resolves `[tune]` of a scenario whose other tables resolved to `models` billing models.
/// Called once per file, after the scenario itself; candidates are built without `[tune]`, so
/// this never recurses.
pub(in crate::scenario) fn resolve_tune(
    src: &str,
    path: &Path,
    raw: &RawScenario,
    models: &[String],
) -> R<Option<TuneSpec>> {
    let Some(t) = &raw.tune else {
        return Ok(None);
    };
    let r = Resolver { file: path, src };
    let table = t.get_ref();
    let objective = match &table.objective {
        None => Objective::MinCost,
        Some(o) => match o.get_ref().as_str() {
            "min-cost" => Objective::MinCost,
            "pareto" => Objective::Pareto,
            other => {
                return Err(r.err(
                    o,
                    "tune.objective",
                    format!("unknown objective \"{other}\": expected \"min-cost\" or \"pareto\""),
                ));
            }
        },
    };
    let search = match &table.search {
        None => Search::Grid,
        Some(s) => Search::parse(s.get_ref()).ok_or_else(|| {
            r.err(
                s,
                "tune.search",
                format!(
                    "unknown search \"{}\": expected \"grid\", \"random\" or \"halving\"",
                    s.get_ref()
                ),
            )
        })?,
    };
    let seeds = match &table.seeds {
        None => 1,
        Some(s) => {
            let n = *s.get_ref();
            if !(1..=1000).contains(&n) {
                return Err(r.err(
                    s,
                    "tune.seeds",
                    format!("{n} is out of range: expected 1 to 1000"),
                ));
            }
            n as u32
        }
    };
    let samples = match &table.samples {
        None => None,
        Some(s) => {
            let n = *s.get_ref();
            if n < 1 || n as u64 > MAX_CANDIDATES {
                return Err(r.err(
                    s,
                    "tune.samples",
                    format!("{n} is out of range: expected 1 to {MAX_CANDIDATES}"),
                ));
            }
            Some(n as u64)
        }
    };
    let keep = match &table.keep {
        None => 0.5,
        Some(k) => {
            let x = *k.get_ref();
            if !(x > 0.0 && x < 1.0) {
                return Err(r.err(
                    k,
                    "tune.keep",
                    format!(
                        "{x} is out of range: expected a fraction between 0 and 1 (0.5 keeps half)"
                    ),
                ));
            }
            x
        }
    };
    let min_duration = match &table.min_duration {
        None => None,
        Some(d) if d.get_ref().0.is_zero() => {
            return Err(r.err(d, "tune.min_duration", "must be greater than zero"));
        }
        Some(d) => Some(d.get_ref().0),
    };
    let Some(params) = table.params.as_ref().filter(|p| !p.get_ref().is_empty()) else {
        return Err(ScenarioError::at(
            path,
            src,
            Some(t.span()),
            Some("tune.params".into()),
            "[tune] needs at least one key to search in [tune.params], e.g. \
             \"autoscaler.target\" = [10, 50, 100]",
        ));
    };
    let builder = CandidateBuilder::new(src, path)?;
    let mut out = Vec::new();
    for (k, v) in params.get_ref() {
        let key = k.get_ref().as_str();
        let name = format!("tune.params.\"{key}\"");
        let first = key.split('.').next().unwrap_or_default();
        if key.split('.').any(str::is_empty) {
            return Err(r.err(
                k,
                &name,
                format!(
                    "malformed key \"{key}\": expected dotted names like \"autoscaler.min_scale\""
                ),
            ));
        }
        if FORBIDDEN.contains(&first) {
            return Err(r.err(
                k,
                &name,
                format!("`{first}` cannot be searched: list service, autoscaler, router, billing, slo or workload keys"),
            ));
        }
        let values = r.values(v, &name)?;
        // Each value must give a valid scenario with everything else at its base setting; a
        // combination that is invalid (say min_scale above max_scale) is skipped at run time
        // and listed with its reason.
        for val in &values {
            builder
                .build(&[(key.to_string(), val.clone())])
                .map_err(|m| r.err(v, &name, format!("value {}: {}", show(val), m.brief())))?;
        }
        out.push(Param {
            key: key.to_string(),
            values,
        });
    }
    if let Some(m) = &table.model {
        let tuned = out
            .iter()
            .any(|p| p.key == "billing" || p.key.starts_with("billing.models"));
        if !tuned && !models.iter().any(|x| x == m.get_ref()) {
            return Err(r.err(
                m,
                "tune.model",
                format!(
                    "\"{}\" is not one of the scenario's billing models ({}): list it in [billing] models",
                    m.get_ref(),
                    models.join(", ")
                ),
            ));
        }
    }
    let spec = TuneSpec {
        params: out,
        objective,
        model: table.model.as_ref().map(|m| m.get_ref().clone()),
        seeds,
        search,
        samples,
        keep,
        min_duration,
    };
    let n = spec.grid_len();
    if n > u128::from(MAX_CANDIDATES) && search == Search::Grid {
        return Err(ScenarioError::at(
            path,
            src,
            Some(params.span()),
            Some("tune.params".into()),
            format!(
                "the grid has {n} candidates, more than the limit of {MAX_CANDIDATES}: use \
                 search = \"random\" with samples = N (default {DEFAULT_SAMPLES}), or fewer values"
            ),
        ));
    }
    Ok(Some(spec))
}

/// A TOML value as written in a file, for messages.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

impl Resolver<'_> {
    /// The values of one searched key: a list as given, or a range expanded.
    fn values(&self, v: &S<Value>, name: &str) -> R<Vec<Value>> {
        match v.get_ref() {
            Value::Array(a) => {
                if a.is_empty() {
                    return Err(self.err(v, name, "empty list: give at least one value"));
                }
                for (i, x) in a.iter().enumerate() {
                    if a[..i].contains(x) {
                        return Err(self.err(
                            v,
                            name,
                            format!("value {} is listed twice", show(x)),
                        ));
                    }
                }
                Ok(a.clone())
            }
            Value::Table(t) => self.range(v, t, name).map_err(|m| self.err(v, name, m)),
            other => Err(self.err(
                v,
                name,
                format!(
                    "expected a list of values ([10, 50, 100]) or a range ({{ min = 1, max = 8, \
                     step = 1 }} or {{ min = 1, max = 1000, log = true, n = 4 }}), found {}",
                    show(other)
                ),
            )),
        }
    }

    fn range(&self, _v: &S<Value>, t: &toml::Table, _name: &str) -> Result<Vec<Value>, String> {
        if let Some(k) = t
            .keys()
            .find(|k| !["min", "max", "step", "n", "log"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown key `{k}` in a range: expected min, max and step, or min, max, n (and log = true)"
            ));
        }
        let (Some(min), Some(max)) = (t.get("min"), t.get("max")) else {
            return Err("a range needs both `min` and `max`".into());
        };
        let log = match t.get("log") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(other) => {
                return Err(format!(
                    "`log` must be true or false, found {}",
                    show(other)
                ));
            }
        };
        let n = match t.get("n") {
            None => None,
            Some(Value::Integer(n)) if *n >= 1 && (*n as usize) <= MAX_RANGE_VALUES => {
                Some(*n as usize)
            }
            Some(other) => {
                return Err(format!(
                    "`n` must be an integer from 1 to {MAX_RANGE_VALUES}, found {}",
                    show(other)
                ));
            }
        };
        let step = t.get("step");
        let how = match (log, n, step) {
            (true, Some(n), None) => How::Log(n),
            (true, None, _) => return Err("a log range needs `n`, the number of values".into()),
            (true, Some(_), Some(_)) => {
                return Err("a log range takes `n`, not `step`".into());
            }
            (false, Some(n), None) => How::Linear(n),
            (false, None, Some(s)) => How::Step(s.clone()),
            (false, None, None) => return Err("a range needs `step` or `n`".into()),
            (false, Some(_), Some(_)) => return Err("give `step` or `n`, not both".into()),
        };
        match (min, max) {
            (Value::String(a), Value::String(b)) => duration_range(a, b, how),
            (a, b) if number(a).is_some() && number(b).is_some() => number_range(a, b, how),
            _ => Err(format!(
                "`min` and `max` must both be numbers or both be durations (\"30s\"), found {} and {}",
                show(min),
                show(max)
            )),
        }
    }
}

#[derive(Clone)]
enum How {
    Step(Value),
    Linear(usize),
    Log(usize),
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// Rounds away binary noise (0.1 + 0.2) so values print as written.
fn tidy(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

fn points(min: f64, max: f64, how: &How) -> Result<Vec<f64>, String> {
    if max < min {
        return Err(format!("`max` ({max}) is below `min` ({min})"));
    }
    let out: Vec<f64> = match how {
        How::Step(s) => {
            let s =
                number(s).ok_or_else(|| format!("`step` must be a number, found {}", show(s)))?;
            if s <= 0.0 {
                return Err(format!("`step` must be greater than zero, found {s}"));
            }
            let count = ((max - min) / s + 1e-9).floor() + 1.0;
            if count > MAX_RANGE_VALUES as f64 {
                return Err(format!(
                    "the range has {count} values, more than {MAX_RANGE_VALUES}: use a larger step"
                ));
            }
            (0..count as usize)
                .map(|i| tidy(min + i as f64 * s))
                .collect()
        }
        How::Linear(n) => {
            if *n == 1 || min == max {
                vec![min]
            } else {
                (0..*n)
                    .map(|i| tidy(min + (max - min) * i as f64 / (*n - 1) as f64))
                    .collect()
            }
        }
        How::Log(n) => {
            if min <= 0.0 {
                return Err(format!("a log range needs `min` above zero, found {min}"));
            }
            if *n == 1 || min == max {
                vec![min]
            } else {
                let ratio = (max / min).ln();
                (0..*n)
                    .map(|i| tidy(min * (ratio * i as f64 / (*n - 1) as f64).exp()))
                    .collect()
            }
        }
    };
    Ok(out)
}

fn number_range(min: &Value, max: &Value, how: How) -> Result<Vec<Value>, String> {
    let ints = matches!((min, max), (Value::Integer(_), Value::Integer(_)))
        && match &how {
            How::Step(s) => matches!(s, Value::Integer(_)),
            _ => true,
        };
    let pts = points(number(min).unwrap_or(0.0), number(max).unwrap_or(0.0), &how)?;
    let mut out: Vec<Value> = Vec::with_capacity(pts.len());
    for p in pts {
        let v = if ints {
            Value::Integer(p.round() as i64)
        } else {
            Value::Float(p)
        };
        // Rounding a log range to integers can repeat small values.
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

fn duration_range(min: &str, max: &str, how: How) -> Result<Vec<Value>, String> {
    let parse = |name: &str, s: &str| parse_duration(s).map_err(|e| format!("`{name}`: {e}"));
    let (a, b) = (parse("min", min)?, parse("max", max)?);
    let whole = a.subsec_nanos() == 0 && b.subsec_nanos() == 0;
    let durations: Vec<Duration> = match &how {
        How::Step(Value::String(s)) => {
            let s = parse("step", s)?;
            if s.is_zero() {
                return Err("`step` must be greater than zero".into());
            }
            if b < a {
                return Err(format!(
                    "`max` ({}) is below `min` ({})",
                    format_duration(b),
                    format_duration(a)
                ));
            }
            let count = (b - a).as_nanos() / s.as_nanos() + 1;
            if count > MAX_RANGE_VALUES as u128 {
                return Err(format!(
                    "the range has {count} values, more than {MAX_RANGE_VALUES}: use a larger step"
                ));
            }
            (0..count as u32).map(|i| a + s * i).collect()
        }
        How::Step(other) => {
            return Err(format!(
                "`step` of a duration range must be a duration (\"10s\"), found {}",
                show(other)
            ));
        }
        _ => {
            // Spaced points are rounded to whole seconds when both ends are whole seconds (many
            // Knative durations must be), else to whole milliseconds.
            let unit = if whole { 1e9 } else { 1e6 };
            points(a.as_nanos() as f64, b.as_nanos() as f64, &how)?
                .into_iter()
                .map(|ns| Duration::from_nanos(((ns / unit).round() * unit) as u64))
                .collect()
        }
    };
    let mut out: Vec<Value> = Vec::with_capacity(durations.len());
    for d in durations {
        let v = Value::String(format_duration(d));
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}
