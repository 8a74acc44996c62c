//! The autoscaler settings table: every `[autoscaler]` key, once.
//!
//! One row per key: the TOML key (also the key of `kpa replay`'s `"autoscaler"` object and of
//! dotted `[[variants]]` / `[tune]` keys), where Knative reads it (annotation, legacy camelCase
//! alias, or the cluster-wide `config-autoscaler` ConfigMap), its kind, its accepted range, its
//! default (read from [`KpaSettings::default`]) and a one-line description. The scenario
//! resolver, `kpa replay`, `scalelab import knative`, `scalelab export knative` and
//! `scalelab validate` all go through [`KPA_KEYS`] and [`KEEPALIVE_KEYS`]; a key missing from a
//! table does not exist anywhere, and a KPA key in a keepalive table is refused because the
//! KPA table has it.
//!
//! ```
//! use scalelab_core::autoscaler::keys::{self, KPA_KEYS, Value};
//! use scalelab_core::autoscaler::KpaSettings;
//! let k = keys::kpa("target_utilization").unwrap();
//! assert_eq!(k.default(), Value::Number(0.7));
//! let mut s = KpaSettings::default();
//! // A percentage is read as a fraction, as Knative's ConfigMap does.
//! k.set(&mut s, k.parse(toml::Value::Integer(80)).unwrap()).unwrap();
//! assert_eq!(s.target_utilization, 0.8);
//! assert!(KPA_KEYS.iter().any(|k| k.key == "stable_window"));
//! ```

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::config::{Aggregation, KeepaliveSettings, KpaSettings, Metric};
use crate::duration::{Dur, format_duration};

/// A setting's value, typed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A number that may be unset (then derived from other settings).
    Optional(Option<f64>),
    /// A whole number ≥ 0.
    Count(u32),
    /// A duration.
    Duration(Duration),
    /// `true` or `false`.
    Flag(bool),
    /// `concurrency` or `rps`.
    Metric(Metric),
    /// `linear` or `weighted-exponential`.
    Aggregation(Aggregation),
    /// One of a key's names (`idle_choice`).
    Choice(&'static str),
}

impl fmt::Display for Value {
    /// As a scenario file writes it (durations with units, names unquoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(x) | Value::Optional(Some(x)) => write!(f, "{x}"),
            Value::Optional(None) => f.write_str("unset"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Flag(b) => write!(f, "{b}"),
            Value::Metric(m) => f.write_str(metric_name(*m)),
            Value::Aggregation(a) => f.write_str(aggregation_name(*a)),
            Value::Choice(c) => f.write_str(c),
        }
    }
}

impl Value {
    /// The value as a scenario file writes it (None for an unset optional).
    pub fn to_toml(&self) -> Option<toml::Value> {
        Some(match self {
            Value::Number(x) | Value::Optional(Some(x)) => toml::Value::Float(*x),
            Value::Optional(None) => return None,
            Value::Count(n) => toml::Value::Integer(i64::from(*n)),
            Value::Duration(d) => toml::Value::String(format_duration(*d)),
            Value::Flag(b) => toml::Value::Boolean(*b),
            Value::Metric(m) => toml::Value::String(metric_name(*m).into()),
            Value::Aggregation(a) => toml::Value::String(aggregation_name(*a).into()),
            Value::Choice(c) => toml::Value::String((*c).into()),
        })
    }
}

/// The scenario (and Knative) name of a metric.
pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Concurrency => "concurrency",
        Metric::Rps => "rps",
    }
}

/// The scenario (and Knative) name of an aggregation.
pub fn aggregation_name(a: Aggregation) -> &'static str {
    match a {
        Aggregation::Linear => "linear",
        Aggregation::WeightedExponential => "weighted-exponential",
    }
}

/// Why a value is not accepted: a sentence saying what was expected, without the key (the
/// caller names the key, the file and the place).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

/// How a setting is kept in the settings struct `T`: its kind, read and written through
/// accessors.
pub enum Field<T> {
    /// A number.
    Number(fn(&T) -> f64, fn(&mut T, f64)),
    /// A number that may be unset.
    Optional(fn(&T) -> Option<f64>, fn(&mut T, Option<f64>)),
    /// A whole number from 0 to [`MAX_COUNT`].
    Count(fn(&T) -> u32, fn(&mut T, u32)),
    /// A duration.
    Duration(fn(&T) -> Duration, fn(&mut T, Duration)),
    /// A boolean.
    Flag(fn(&T) -> bool, fn(&mut T, bool)),
    /// The KPA metric.
    Metric(fn(&T) -> Metric, fn(&mut T, Metric)),
    /// The window aggregation.
    Aggregation(fn(&T) -> Aggregation, fn(&mut T, Aggregation)),
    /// One of `names`, kept as its index.
    Choice(&'static [&'static str], fn(&T) -> usize, fn(&mut T, usize)),
}

/// The largest count any autoscaler key accepts (scales, instances).
pub const MAX_COUNT: u32 = 1_000_000;

impl<T> Field<T> {
    /// The kind, as the scenario reference names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Field::Number(..) => "number",
            Field::Optional(..) => "number (optional)",
            Field::Count(..) => "integer",
            Field::Duration(..) => "duration",
            Field::Flag(..) => "boolean",
            Field::Metric(..) => "\"concurrency\" or \"rps\"",
            Field::Aggregation(..) => "\"linear\" or \"weighted-exponential\"",
            Field::Choice(..) => "string",
        }
    }

    fn get(&self, s: &T) -> Value {
        match self {
            Field::Number(g, _) => Value::Number(g(s)),
            Field::Optional(g, _) => Value::Optional(g(s)),
            Field::Count(g, _) => Value::Count(g(s)),
            Field::Duration(g, _) => Value::Duration(g(s)),
            Field::Flag(g, _) => Value::Flag(g(s)),
            Field::Metric(g, _) => Value::Metric(g(s)),
            Field::Aggregation(g, _) => Value::Aggregation(g(s)),
            Field::Choice(names, g, _) => Value::Choice(names[g(s)]),
        }
    }

    /// Stores `v`; false when `v` is not of this field's kind.
    fn put(&self, s: &mut T, v: Value) -> bool {
        match (self, v) {
            (Field::Number(_, p), Value::Number(x)) => p(s, x),
            (Field::Optional(_, p), Value::Optional(x)) => p(s, x),
            (Field::Optional(_, p), Value::Number(x)) => p(s, Some(x)),
            (Field::Count(_, p), Value::Count(n)) => p(s, n),
            (Field::Duration(_, p), Value::Duration(d)) => p(s, d),
            (Field::Flag(_, p), Value::Flag(b)) => p(s, b),
            (Field::Metric(_, p), Value::Metric(m)) => p(s, m),
            (Field::Aggregation(_, p), Value::Aggregation(a)) => p(s, a),
            (Field::Choice(names, _, p), Value::Choice(c)) => {
                match names.iter().position(|n| *n == c) {
                    Some(i) => p(s, i),
                    None => return false,
                }
            }
            _ => return false,
        }
        true
    }

    /// Reads a value of this kind from any serde data format (a TOML or JSON value, a string).
    /// Type errors say what was expected in words (`expected a number`).
    pub fn parse<'de, D: serde::Deserializer<'de>>(&self, d: D) -> Result<Value, Rejected> {
        let e = |e: D::Error| Rejected(humanize(&e.to_string()));
        Ok(match self {
            Field::Number(..) => Value::Number(f64::deserialize(d).map_err(e)?),
            Field::Optional(..) => Value::Optional(Some(f64::deserialize(d).map_err(e)?)),
            Field::Count(..) => {
                let x = i64::deserialize(d).map_err(e)?;
                if x < 0 {
                    return Err(Rejected(format!("{x} is negative: expected 0 or more")));
                }
                if x > i64::from(MAX_COUNT) {
                    return Err(Rejected(format!(
                        "{x} is too large: expected at most {MAX_COUNT}"
                    )));
                }
                Value::Count(x as u32)
            }
            Field::Duration(..) => Value::Duration(Dur::deserialize(d).map_err(e)?.0),
            Field::Flag(..) => Value::Flag(bool::deserialize(d).map_err(e)?),
            Field::Metric(..) => {
                let s = String::deserialize(d).map_err(e)?;
                Value::Metric(match s.as_str() {
                    "concurrency" => Metric::Concurrency,
                    "rps" => Metric::Rps,
                    other => {
                        return Err(Rejected(format!(
                            "unknown metric \"{other}\": expected \"concurrency\" or \"rps\""
                        )));
                    }
                })
            }
            Field::Aggregation(..) => {
                let s = String::deserialize(d).map_err(e)?;
                Value::Aggregation(match s.as_str() {
                    "linear" => Aggregation::Linear,
                    // Knative's own spelling is camelCase.
                    "weighted-exponential" | "weightedExponential" => {
                        Aggregation::WeightedExponential
                    }
                    other => {
                        return Err(Rejected(format!(
                            "unknown aggregation \"{other}\": expected \"linear\" or \
                             \"weighted-exponential\""
                        )));
                    }
                })
            }
            Field::Choice(names, ..) => {
                let s = String::deserialize(d).map_err(e)?;
                match names.iter().find(|n| **n == s) {
                    Some(n) => Value::Choice(n),
                    None => {
                        let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                        return Err(Rejected(format!(
                            "unknown value \"{s}\": expected one of {}",
                            list.join(", ")
                        )));
                    }
                }
            }
        })
    }
}

/// serde's names of types in words a scenario author knows.
pub fn humanize(message: &str) -> String {
    let mut m = message.trim().to_string();
    if let Some(rest) = m.strip_prefix("unknown field") {
        m = format!("unknown key{rest}");
    }
    for (rust, human) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected an integer"),
        ("expected u32", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        m = m.replace(rust, human);
    }
    m
}

/// What a key accepts beyond its kind.
#[derive(Clone, Copy)]
pub enum Check {
    /// Every value of the kind.
    Any,
    /// A number for which the predicate holds (else "X is out of range: expected RANGE").
    Number(fn(f64) -> bool),
    /// A duration; the error says what is wrong.
    Duration(fn(Duration) -> Result<(), &'static str>),
}

/// Where Knative reads a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knative {
    /// A per-revision annotation `autoscaling.knative.dev/NAME`, with its legacy camelCase
    /// alias where Knative still reads one.
    Revision {
        /// The name after the prefix.
        name: &'static str,
        /// The legacy alias after the prefix.
        legacy: Option<&'static str>,
    },
    /// A per-revision annotation of its own (full name).
    Annotation(&'static str),
    /// Only cluster-wide, in the `config-autoscaler` ConfigMap under this key. Export writes it
    /// as `scalelab.dev/KEY` (Knative ignores it) so that import reads every setting back.
    ClusterWide(&'static str),
}

/// When export writes a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// Always (an unset optional is left out).
    Always,
    /// Only when it differs from the default.
    UnlessDefault,
}

/// One autoscaler key.
pub struct Key<T: 'static> {
    /// The TOML key.
    pub key: &'static str,
    /// Its kind and where it lives in the settings.
    pub field: Field<T>,
    /// The accepted range, in words (scenario reference and error messages).
    pub range: &'static str,
    /// What is accepted beyond the kind.
    pub check: Check,
    /// Rewrites an accepted value (a percentage read as a fraction; 0 read as 1).
    pub normalize: fn(Value) -> Value,
    /// Where Knative reads it (None: Knative has no such setting).
    pub knative: Option<Knative>,
    /// Knative's value is the scenario's times 100 (a percentage for a fraction).
    pub percent: bool,
    /// When `export knative` writes it.
    pub export: Export,
    /// One line for the scenario reference.
    pub doc: &'static str,
}

impl<T: Default> Key<T> {
    /// The default: the value in `T::default()`.
    pub fn default(&self) -> Value {
        self.field.get(&T::default())
    }
}

impl<T> Key<T> {
    /// The value in `s`.
    pub fn get(&self, s: &T) -> Value {
        self.field.get(s)
    }

    /// Reads a value of this key's kind from any serde data format (not yet range-checked).
    pub fn parse<'de, D: serde::Deserializer<'de>>(&self, d: D) -> Result<Value, Rejected> {
        self.field.parse(d)
    }

    /// Checks the range of `v` and normalizes it.
    pub fn accept(&self, v: Value) -> Result<Value, Rejected> {
        match (self.check, v) {
            (Check::Number(ok), Value::Number(x) | Value::Optional(Some(x)))
                if !(x.is_finite() && ok(x)) =>
            {
                return Err(Rejected(format!(
                    "{x} is out of range: expected {}",
                    self.range
                )));
            }
            (Check::Duration(ok), Value::Duration(d)) => ok(d).map_err(|m| Rejected(m.into()))?,
            _ => {}
        }
        Ok((self.normalize)(v))
    }

    /// Checks `v` and stores it in `s`.
    pub fn set(&self, s: &mut T, v: Value) -> Result<(), Rejected> {
        let v = self.accept(v)?;
        if self.field.put(s, v) {
            Ok(())
        } else {
            Err(Rejected(format!("expected {}", self.field.kind())))
        }
    }
}

mod table;

pub use table::{KEEPALIVE_KEYS, KPA_KEYS};

/// The KPA key named `key`.
pub fn kpa(key: &str) -> Option<&'static Key<KpaSettings>> {
    KPA_KEYS.iter().find(|k| k.key == key)
}

/// The keepalive key named `key`.
pub fn keepalive(key: &str) -> Option<&'static Key<KeepaliveSettings>> {
    KEEPALIVE_KEYS.iter().find(|k| k.key == key)
}

/// The keys of a table, comma-separated, for messages.
pub fn names<T>(table: &[Key<T>]) -> String {
    table.iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
}

/// The message for a key a table does not have, listing the ones it has (as serde words it
/// for the other tables).
pub fn unknown<T>(key: &str, table: &[Key<T>]) -> String {
    let keys: Vec<String> = table.iter().map(|k| format!("`{}`", k.key)).collect();
    format!(
        "unknown key `{key}`, expected `kind` or one of {}",
        keys.join(", ")
    )
}

/// The table as the scenario reference prints it (markdown): key, kind, default, accepted
/// range, where Knative reads it, what it does. `docs/scenario.md` holds this text; a test
/// keeps the two the same.
pub fn reference<T: Default>(table: &[Key<T>]) -> String {
    let mut out = String::from(
        "| key | kind | default | range | Knative | meaning |\n|---|---|---|---|---|---|\n",
    );
    for k in table {
        let default = match k.default() {
            Value::Optional(None) => "derived".to_string(),
            Value::Metric(_) | Value::Aggregation(_) | Value::Choice(_) => {
                format!("`\"{}\"`", k.default())
            }
            Value::Duration(_) => format!("`\"{}\"`", k.default()),
            v => format!("`{v}`"),
        };
        let knative = match k.knative {
            None => "—".to_string(),
            Some(Knative::Revision { name, legacy }) => {
                let mut s = format!("`autoscaling.knative.dev/{name}`");
                if let Some(l) = legacy {
                    s += &format!(" (legacy `{l}`)");
                }
                if k.percent {
                    s += ", a percentage";
                }
                s
            }
            Some(Knative::Annotation(a)) => format!("`{a}`"),
            Some(Knative::ClusterWide(c)) => {
                format!("cluster-wide: ConfigMap `config-autoscaler` `{c}`")
            }
        };
        out += &format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            k.key,
            k.field.kind(),
            default,
            k.range,
            knative,
            k.doc
        );
    }
    out
}

/// `a` (named `a_name`) at most `b` (`b_name`) unless `b` is 0 (unbounded).
fn within(
    a: u32,
    a_name: &'static str,
    b: u32,
    b_name: &str,
) -> Result<(), (&'static str, Rejected)> {
    if b > 0 && a > b {
        return Err((
            a_name,
            Rejected(format!("{a_name} {a} exceeds {b_name} {b}")),
        ));
    }
    Ok(())
}

/// Checks the KPA settings against each other; on failure, the key to blame and why.
pub fn check_kpa(s: &KpaSettings) -> Result<(), (&'static str, Rejected)> {
    within(s.min_scale, "min_scale", s.max_scale, "max_scale")?;
    if s.activation_scale > 1 {
        within(
            s.activation_scale,
            "activation_scale",
            s.max_scale,
            "max_scale",
        )?;
        if s.activation_scale < s.min_scale {
            return Err((
                "activation_scale",
                Rejected(format!(
                    "activation_scale {} is below min_scale {}",
                    s.activation_scale, s.min_scale
                )),
            ));
        }
    }
    Ok(())
}

/// Checks the keepalive settings against each other; on failure, the key to blame and why.
pub fn check_keepalive(s: &KeepaliveSettings) -> Result<(), (&'static str, Rejected)> {
    within(
        s.min_instances,
        "min_instances",
        s.max_instances,
        "max_instances",
    )
}

#[cfg(test)]
#[path = "tests/keys.rs"]
mod tests;
