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

fn same(v: Value) -> Value {
    v
}

fn whole_seconds_up_to_1h(d: Duration) -> Result<(), &'static str> {
    if d.subsec_nanos() != 0 {
        Err("must be whole seconds")
    } else if d > Duration::from_secs(3600) {
        Err("must be at most 1h")
    } else {
        Ok(())
    }
}

fn positive(d: Duration) -> Result<(), &'static str> {
    if d.is_zero() {
        Err("must be greater than zero")
    } else {
        Ok(())
    }
}

/// Knative's defaults come from here, the rest from [`KpaSettings::default`].
const KPA: Key<KpaSettings> = Key {
    key: "",
    field: Field::Flag(|_| false, |_, _| {}),
    range: "any",
    check: Check::Any,
    normalize: same,
    knative: None,
    percent: false,
    export: Export::Always,
    doc: "",
};

/// Every KPA key, in the order `export knative` writes them (KPA.md §1 gives Knative's side of
/// each).
pub static KPA_KEYS: [Key<KpaSettings>; 20] = [
    Key {
        key: "metric",
        field: Field::Metric(|s| s.metric, |s, v| s.metric = v),
        range: "\"concurrency\" or \"rps\"",
        knative: Some(Knative::Revision {
            name: "metric",
            legacy: None,
        }),
        doc: "what the KPA scales on: in-flight requests or requests per second",
        ..KPA
    },
    Key {
        key: "target",
        field: Field::Optional(|s| s.target, |s, v| s.target = v),
        range: "≥ 0.01",
        check: Check::Number(|x| x >= 0.01),
        knative: Some(Knative::Revision {
            name: "target",
            legacy: None,
        }),
        doc: "per-instance target of the metric before utilization (default: \
              container_concurrency when > 0, else 100 for concurrency and 200 for rps)",
        ..KPA
    },
    Key {
        key: "target_utilization",
        field: Field::Number(|s| s.target_utilization, |s, v| s.target_utilization = v),
        range: "a fraction in (0, 1] (or a percentage up to 100)",
        check: Check::Number(|x| x > 0.0 && x <= 100.0),
        // Knative's config map accepts a percentage too: values above 1 are divided by 100.
        normalize: |v| match v {
            Value::Number(x) if x > 1.0 => Value::Number(x / 100.0),
            other => other,
        },
        knative: Some(Knative::Revision {
            name: "target-utilization-percentage",
            legacy: Some("targetUtilizationPercentage"),
        }),
        percent: true,
        doc: "share of the target the KPA aims at",
        ..KPA
    },
    Key {
        key: "stable_window",
        field: Field::Duration(|s| s.stable_window, |s, v| s.stable_window = v),
        range: "6s to 1h, whole seconds",
        check: Check::Duration(|w| {
            whole_seconds_up_to_1h(w)?;
            if w < Duration::from_secs(6) {
                return Err("must be at least 6s (Knative's range is 6s to 1h)");
            }
            Ok(())
        }),
        knative: Some(Knative::Revision {
            name: "window",
            legacy: None,
        }),
        doc: "the window the stable average is taken over",
        ..KPA
    },
    Key {
        key: "panic_window_percentage",
        field: Field::Number(
            |s| s.panic_window_percentage,
            |s, v| s.panic_window_percentage = v,
        ),
        range: "1 to 100",
        check: Check::Number(|x| (1.0..=100.0).contains(&x)),
        knative: Some(Knative::Revision {
            name: "panic-window-percentage",
            legacy: Some("panicWindowPercentage"),
        }),
        doc: "the panic window as a percentage of the stable window",
        ..KPA
    },
    Key {
        key: "panic_threshold_percentage",
        field: Field::Number(
            |s| s.panic_threshold_percentage,
            |s, v| s.panic_threshold_percentage = v,
        ),
        range: "110 to 1000",
        check: Check::Number(|x| (110.0..=1000.0).contains(&x)),
        knative: Some(Knative::Revision {
            name: "panic-threshold-percentage",
            legacy: Some("panicThresholdPercentage"),
        }),
        doc: "panic mode starts when desired instances over the panic window reach this \
              percentage of the ready ones",
        ..KPA
    },
    Key {
        key: "target_burst_capacity",
        field: Field::Number(
            |s| s.target_burst_capacity,
            |s, v| s.target_burst_capacity = v,
        ),
        range: "≥ 0, or -1 for \"activator always in the path\"",
        check: Check::Number(|x| x >= 0.0 || x == -1.0),
        knative: Some(Knative::Revision {
            name: "target-burst-capacity",
            legacy: Some("targetBurstCapacity"),
        }),
        doc: "spare capacity below which the activator stays in the request path",
        ..KPA
    },
    Key {
        key: "min_scale",
        field: Field::Count(|s| s.min_scale, |s, v| s.min_scale = v),
        range: "0 to 1000000, at most max_scale",
        knative: Some(Knative::Revision {
            name: "min-scale",
            legacy: Some("minScale"),
        }),
        doc: "instances kept whatever the traffic",
        ..KPA
    },
    Key {
        key: "max_scale",
        field: Field::Count(|s| s.max_scale, |s, v| s.max_scale = v),
        range: "0 (unbounded) to 1000000",
        knative: Some(Knative::Revision {
            name: "max-scale",
            legacy: Some("maxScale"),
        }),
        doc: "most instances; 0 = unbounded",
        ..KPA
    },
    Key {
        key: "initial_scale",
        field: Field::Count(|s| s.initial_scale, |s, v| s.initial_scale = v),
        range: "0 to 1000000",
        knative: Some(Knative::Revision {
            name: "initial-scale",
            legacy: Some("initialScale"),
        }),
        doc: "instances at creation; a floor until first reached",
        ..KPA
    },
    Key {
        key: "activation_scale",
        field: Field::Count(|s| s.activation_scale, |s, v| s.activation_scale = v),
        range: "1 to 1000000, between min_scale and max_scale (0 reads as 1)",
        normalize: |v| match v {
            Value::Count(n) => Value::Count(n.max(1)),
            other => other,
        },
        knative: Some(Knative::Revision {
            name: "activation-scale",
            legacy: None,
        }),
        export: Export::UnlessDefault,
        doc: "the smallest non-zero scale (1 = unset in Knative)",
        ..KPA
    },
    Key {
        key: "scale_down_delay",
        field: Field::Duration(|s| s.scale_down_delay, |s, v| s.scale_down_delay = v),
        range: "0s to 1h, whole seconds",
        check: Check::Duration(whole_seconds_up_to_1h),
        knative: Some(Knative::Revision {
            name: "scale-down-delay",
            legacy: Some("scaleDownDelay"),
        }),
        doc: "a scale-down waits until the higher count has not been wanted for this long",
        ..KPA
    },
    Key {
        key: "scale_to_zero_pod_retention",
        field: Field::Duration(
            |s| s.scale_to_zero_pod_retention,
            |s, v| s.scale_to_zero_pod_retention = v,
        ),
        range: "0s to 1h",
        check: Check::Duration(|r| {
            if r > Duration::from_secs(3600) {
                Err("must be at most 1h")
            } else {
                Ok(())
            }
        }),
        knative: Some(Knative::Revision {
            name: "scale-to-zero-pod-retention-period",
            legacy: Some("scaleToZeroPodRetentionPeriod"),
        }),
        doc: "the last instance stays this long after traffic stops",
        ..KPA
    },
    Key {
        key: "aggregation",
        field: Field::Aggregation(|s| s.aggregation, |s, v| s.aggregation = v),
        range: "\"linear\" or \"weighted-exponential\"",
        knative: Some(Knative::Revision {
            name: "metric-aggregation-algorithm",
            legacy: Some("metricAggregationAlgorithm"),
        }),
        export: Export::UnlessDefault,
        doc: "how both windows average their 1 s buckets",
        ..KPA
    },
    Key {
        key: "progress_deadline",
        field: Field::Duration(|s| s.progress_deadline, |s, v| s.progress_deadline = v),
        range: "more than 0s, whole seconds",
        check: Check::Duration(|pd| {
            positive(pd)?;
            if pd.subsec_nanos() != 0 {
                Err("must be whole seconds")
            } else if pd > Duration::from_secs(u64::from(u32::MAX)) {
                Err("must be at most 4294967295s")
            } else {
                Ok(())
            }
        }),
        knative: Some(Knative::Annotation("serving.knative.dev/progress-deadline")),
        export: Export::UnlessDefault,
        doc: "a cold start not ready after this (plus 30 s) is abandoned",
        ..KPA
    },
    Key {
        key: "max_scale_up_rate",
        field: Field::Number(|s| s.max_scale_up_rate, |s, v| s.max_scale_up_rate = v),
        range: "> 1",
        check: Check::Number(|x| x > 1.0),
        knative: Some(Knative::ClusterWide("max-scale-up-rate")),
        export: Export::UnlessDefault,
        doc: "most growth factor per decision",
        ..KPA
    },
    Key {
        key: "max_scale_down_rate",
        field: Field::Number(|s| s.max_scale_down_rate, |s, v| s.max_scale_down_rate = v),
        range: "> 1",
        check: Check::Number(|x| x > 1.0),
        knative: Some(Knative::ClusterWide("max-scale-down-rate")),
        export: Export::UnlessDefault,
        doc: "most shrink factor per decision",
        ..KPA
    },
    Key {
        key: "scale_to_zero_grace_period",
        field: Field::Duration(
            |s| s.scale_to_zero_grace_period,
            |s, v| s.scale_to_zero_grace_period = v,
        ),
        range: "more than 0s",
        check: Check::Duration(positive),
        knative: Some(Knative::ClusterWide("scale-to-zero-grace-period")),
        export: Export::UnlessDefault,
        doc: "how long the last instance is kept after the decision to scale to zero while \
              the activator takes over",
        ..KPA
    },
    Key {
        key: "enable_scale_to_zero",
        field: Field::Flag(
            |s| s.enable_scale_to_zero,
            |s, v| s.enable_scale_to_zero = v,
        ),
        range: "true or false",
        knative: Some(Knative::ClusterWide("enable-scale-to-zero")),
        export: Export::UnlessDefault,
        doc: "when false, a desired 0 becomes 1",
        ..KPA
    },
    Key {
        key: "activator_capacity",
        field: Field::Number(|s| s.activator_capacity, |s, v| s.activator_capacity = v),
        range: "≥ 1",
        check: Check::Number(|x| x >= 1.0),
        knative: Some(Knative::ClusterWide("activator-capacity")),
        export: Export::UnlessDefault,
        doc: "concurrent requests one activator handles (sizes the activator subset)",
        ..KPA
    },
];

const KEEPALIVE: Key<KeepaliveSettings> = Key {
    key: "",
    field: Field::Flag(|_| false, |_, _| {}),
    range: "any",
    check: Check::Any,
    normalize: same,
    knative: None,
    percent: false,
    export: Export::Always,
    doc: "",
};

/// Every keepalive key (`kind = "keepalive"`: AWS Lambda, SimFaaS).
pub static KEEPALIVE_KEYS: [Key<KeepaliveSettings>; 3] = [
    Key {
        key: "idle_timeout",
        field: Field::Duration(|s| s.idle_timeout, |s, v| s.idle_timeout = v),
        range: "any duration",
        doc: "an instance is removed after this long without work (reset by every request it \
              finishes)",
        ..KEEPALIVE
    },
    Key {
        key: "max_instances",
        field: Field::Count(|s| s.max_instances, |s, v| s.max_instances = v),
        range: "0 (unbounded) to 1000000",
        doc: "most instances; requests beyond them are rejected (429)",
        ..KEEPALIVE
    },
    Key {
        key: "min_instances",
        field: Field::Count(|s| s.min_instances, |s, v| s.min_instances = v),
        range: "0 to 1000000, at most max_instances",
        doc: "instances kept warm whatever the traffic (provisioned concurrency)",
        ..KEEPALIVE
    },
];

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

/// Checks the KPA settings against each other; on failure, the key to blame and why.
pub fn check_kpa(s: &KpaSettings) -> Result<(), (&'static str, Rejected)> {
    if s.max_scale > 0 && s.min_scale > s.max_scale {
        return Err((
            "min_scale",
            Rejected(format!(
                "min_scale {} exceeds max_scale {}",
                s.min_scale, s.max_scale
            )),
        ));
    }
    if s.activation_scale > 1 {
        if s.max_scale > 0 && s.activation_scale > s.max_scale {
            return Err((
                "activation_scale",
                Rejected(format!(
                    "activation_scale {} exceeds max_scale {}",
                    s.activation_scale, s.max_scale
                )),
            ));
        }
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
    if s.max_instances > 0 && s.min_instances > s.max_instances {
        return Err((
            "min_instances",
            Rejected(format!(
                "min_instances {} exceeds max_instances {}",
                s.min_instances, s.max_instances
            )),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kpa_field_has_exactly_one_key() {
        // The resolved settings serialize with the scenario keys: the table covers each field
        // once and names nothing else.
        let json = serde_json::to_value(KpaSettings::default()).expect("serializes");
        let mut fields: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut keys: Vec<&str> = KPA_KEYS.iter().map(|k| k.key).collect();
        keys.sort_unstable();
        assert_eq!(fields, keys);
        let json = serde_json::to_value(KeepaliveSettings::default()).expect("serializes");
        let mut fields: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut keys: Vec<&str> = KEEPALIVE_KEYS.iter().map(|k| k.key).collect();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    #[test]
    fn every_key_round_trips_its_default() {
        for k in &KPA_KEYS {
            let mut s = KpaSettings::default();
            k.set(&mut s, k.default())
                .unwrap_or_else(|e| panic!("{}: {e}", k.key));
            assert_eq!(s, KpaSettings::default(), "{}", k.key);
            if let Some(t) = k.default().to_toml() {
                assert_eq!(
                    k.parse(t).map(|v| k.accept(v)),
                    Ok(Ok(k.default())),
                    "{}",
                    k.key
                );
            }
        }
        for k in &KEEPALIVE_KEYS {
            let mut s = KeepaliveSettings::default();
            k.set(&mut s, k.default())
                .unwrap_or_else(|e| panic!("{}: {e}", k.key));
            assert_eq!(s, KeepaliveSettings::default(), "{}", k.key);
        }
    }

    #[test]
    fn knative_names_are_unique() {
        let mut names: Vec<&str> = KPA_KEYS
            .iter()
            .filter_map(|k| k.knative)
            .flat_map(|n| match n {
                Knative::Revision { name, legacy } => vec![Some(name), legacy],
                Knative::Annotation(a) | Knative::ClusterWide(a) => vec![Some(a)],
            })
            .flatten()
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn values_are_checked_with_the_documented_ranges() {
        let err = |key: &str, v: toml::Value| {
            let k = kpa(key).expect("a key");
            k.parse(v).and_then(|x| k.accept(x)).unwrap_err().0
        };
        assert_eq!(
            err("panic_threshold_percentage", 100.into()),
            "100 is out of range: expected 110 to 1000"
        );
        assert!(err("stable_window", "3s".into()).contains("at least 6s"));
        assert!(err("scale_down_delay", "1.5s".into()).contains("whole seconds"));
        assert_eq!(
            err("min_scale", (-1).into()),
            "-1 is negative: expected 0 or more"
        );
        assert!(err("max_scale", 2_000_000.into()).contains("at most 1000000"));
        assert!(err("metric", "cpu".into()).contains("unknown metric \"cpu\""));
        assert!(
            err("target", "x".into()).contains("expected a number"),
            "{}",
            err("target", "x".into())
        );
        assert!(err("stable_window", 60.into()).contains("has no unit"));
        assert!(err("enable_scale_to_zero", 1.into()).contains("expected true or false"));
        let k = kpa("activation_scale").expect("key");
        assert_eq!(k.accept(Value::Count(0)), Ok(Value::Count(1)));
        let k = kpa("aggregation").expect("key");
        assert_eq!(
            k.parse(toml::Value::from("weightedExponential")),
            Ok(Value::Aggregation(Aggregation::WeightedExponential))
        );
        // JSON values read the same way.
        let k = kpa("target").expect("key");
        assert_eq!(
            k.parse(serde_json::json!(12.5)),
            Ok(Value::Optional(Some(12.5)))
        );
    }

    #[test]
    fn cross_checks_blame_a_key() {
        let s = KpaSettings {
            min_scale: 5,
            max_scale: 2,
            ..KpaSettings::default()
        };
        assert_eq!(check_kpa(&s).unwrap_err().0, "min_scale");
        let s = KpaSettings {
            activation_scale: 3,
            min_scale: 4,
            ..KpaSettings::default()
        };
        assert_eq!(check_kpa(&s).unwrap_err().0, "activation_scale");
        let s = KeepaliveSettings {
            min_instances: 3,
            max_instances: 2,
            ..KeepaliveSettings::default()
        };
        assert_eq!(check_keepalive(&s).unwrap_err().0, "min_instances");
    }
}
