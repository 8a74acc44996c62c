//! The rows: every KPA key and every keepalive key, one line each (rustfmt is told to leave the
//! table alone so that it reads as a table).

use std::time::Duration;

use super::{Check, Export, Field, Key, Knative, Value};
use crate::autoscaler::config::{IdleChoice, KeepaliveSettings, KpaSettings};

/// The accessors of field `f` of the KPA's settings, as a [`Field`] of kind `k`.
macro_rules! kpa {
    ($k:ident, $f:ident) => {
        Field::$k(|s: &KpaSettings| s.$f, |s: &mut KpaSettings, v| s.$f = v)
    };
}

/// The same for the keepalive autoscaler's settings.
macro_rules! keepalive {
    ($k:ident, $f:ident) => {
        Field::$k(
            |s: &KeepaliveSettings| s.$f,
            |s: &mut KeepaliveSettings, v| s.$f = v,
        )
    };
}

impl<T> Key<T> {
    /// A key read and written as is, that Knative does not have and export always writes.
    const fn new(
        key: &'static str,
        field: Field<T>,
        range: &'static str,
        doc: &'static str,
    ) -> Key<T> {
        Key {
            key,
            field,
            range,
            check: Check::Any,
            normalize: same,
            knative: None,
            percent: false,
            export: Export::Always,
            doc,
        }
    }

    const fn check(self, check: Check) -> Key<T> {
        Key { check, ..self }
    }

    const fn normalize(self, normalize: fn(Value) -> Value) -> Key<T> {
        Key { normalize, ..self }
    }

    /// Knative reads it from the annotation `autoscaling.knative.dev/NAME` (or its alias).
    const fn annotation(self, name: &'static str, legacy: Option<&'static str>) -> Key<T> {
        Key {
            knative: Some(Knative::Revision { name, legacy }),
            ..self
        }
    }

    /// Knative reads it from an annotation outside the autoscaling prefix.
    const fn own_annotation(self, full: &'static str) -> Key<T> {
        Key {
            knative: Some(Knative::Annotation(full)),
            ..self
        }
    }

    /// Knative has it only cluster-wide, under this `config-autoscaler` key.
    const fn cluster_wide(self, key: &'static str) -> Key<T> {
        Key {
            knative: Some(Knative::ClusterWide(key)),
            ..self
        }
    }

    /// Knative's annotation is a percentage of this fraction.
    const fn percent(self) -> Key<T> {
        Key {
            percent: true,
            ..self
        }
    }

    /// Export writes it only when it differs from the default.
    const fn unless_default(self) -> Key<T> {
        Key {
            export: Export::UnlessDefault,
            ..self
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

fn window(w: Duration) -> Result<(), &'static str> {
    whole_seconds_up_to_1h(w)?;
    if w < Duration::from_secs(6) {
        return Err("must be at least 6s (Knative's range is 6s to 1h)");
    }
    Ok(())
}

fn positive(d: Duration) -> Result<(), &'static str> {
    if d.is_zero() {
        Err("must be greater than zero")
    } else {
        Ok(())
    }
}

fn up_to_1h(d: Duration) -> Result<(), &'static str> {
    if d > Duration::from_secs(3600) {
        Err("must be at most 1h")
    } else {
        Ok(())
    }
}

fn progress_deadline(d: Duration) -> Result<(), &'static str> {
    positive(d)?;
    if d.subsec_nanos() != 0 {
        Err("must be whole seconds")
    } else if d > Duration::from_secs(u64::from(u32::MAX)) {
        Err("must be at most 4294967295s")
    } else {
        Ok(())
    }
}

/// Knative's config map accepts a percentage too: values above 1 are divided by 100.
fn fraction(v: Value) -> Value {
    match v {
        Value::Number(x) if x > 1.0 => Value::Number(x / 100.0),
        other => other,
    }
}

/// Knative reads an activation scale of 0 as unset, which is 1.
fn at_least_one(v: Value) -> Value {
    match v {
        Value::Count(n) => Value::Count(n.max(1)),
        other => other,
    }
}

/// Every KPA key, in the order `export knative` writes them (KPA.md §1 gives Knative's side of
/// each). Defaults are [`KpaSettings::default`]'s.
#[rustfmt::skip]
pub static KPA_KEYS: [Key<KpaSettings>; 20] = [
    Key::new("metric", kpa!(Metric, metric), "\"concurrency\" or \"rps\"", "what the KPA scales on: in-flight requests or requests per second").annotation("metric", None),
    Key::new("target", kpa!(Optional, target), "≥ 0.01", "per-instance target of the metric before utilization (default: container_concurrency when > 0, else 100 for concurrency and 200 for rps)").check(Check::Number(|x| x >= 0.01)).annotation("target", None),
    Key::new("target_utilization", kpa!(Number, target_utilization), "a fraction in (0, 1] (or a percentage up to 100)", "share of the target the KPA aims at").check(Check::Number(|x| x > 0.0 && x <= 100.0)).normalize(fraction).annotation("target-utilization-percentage", Some("targetUtilizationPercentage")).percent(),
    Key::new("stable_window", kpa!(Duration, stable_window), "6s to 1h, whole seconds", "the window the stable average is taken over").check(Check::Duration(window)).annotation("window", None),
    Key::new("panic_window_percentage", kpa!(Number, panic_window_percentage), "1 to 100", "the panic window as a percentage of the stable window").check(Check::Number(|x| (1.0..=100.0).contains(&x))).annotation("panic-window-percentage", Some("panicWindowPercentage")),
    Key::new("panic_threshold_percentage", kpa!(Number, panic_threshold_percentage), "110 to 1000", "panic mode starts when desired instances over the panic window reach this percentage of the ready ones").check(Check::Number(|x| (110.0..=1000.0).contains(&x))).annotation("panic-threshold-percentage", Some("panicThresholdPercentage")),
    Key::new("target_burst_capacity", kpa!(Number, target_burst_capacity), "≥ 0, or -1 for \"activator always in the path\"", "spare capacity below which the activator stays in the request path").check(Check::Number(|x| x >= 0.0 || x == -1.0)).annotation("target-burst-capacity", Some("targetBurstCapacity")),
    Key::new("min_scale", kpa!(Count, min_scale), "0 to 1000000, at most max_scale", "instances kept whatever the traffic").annotation("min-scale", Some("minScale")),
    Key::new("max_scale", kpa!(Count, max_scale), "0 (unbounded) to 1000000", "most instances; 0 = unbounded").annotation("max-scale", Some("maxScale")),
    Key::new("initial_scale", kpa!(Count, initial_scale), "0 to 1000000", "instances at creation; a floor until first reached").annotation("initial-scale", Some("initialScale")),
    Key::new("activation_scale", kpa!(Count, activation_scale), "1 to 1000000, between min_scale and max_scale (0 reads as 1)", "the smallest non-zero scale (1 = unset in Knative)").normalize(at_least_one).annotation("activation-scale", None).unless_default(),
    Key::new("scale_down_delay", kpa!(Duration, scale_down_delay), "0s to 1h, whole seconds", "a scale-down waits until the higher count has not been wanted for this long").check(Check::Duration(whole_seconds_up_to_1h)).annotation("scale-down-delay", Some("scaleDownDelay")),
    Key::new("scale_to_zero_pod_retention", kpa!(Duration, scale_to_zero_pod_retention), "0s to 1h", "the last instance stays this long after traffic stops").check(Check::Duration(up_to_1h)).annotation("scale-to-zero-pod-retention-period", Some("scaleToZeroPodRetentionPeriod")),
    Key::new("aggregation", kpa!(Aggregation, aggregation), "\"linear\" or \"weighted-exponential\"", "how both windows average their 1 s buckets").annotation("metric-aggregation-algorithm", Some("metricAggregationAlgorithm")).unless_default(),
    Key::new("progress_deadline", kpa!(Duration, progress_deadline), "more than 0s, whole seconds", "a cold start not ready after this (plus 30 s) is abandoned").check(Check::Duration(progress_deadline)).own_annotation("serving.knative.dev/progress-deadline").unless_default(),
    Key::new("max_scale_up_rate", kpa!(Number, max_scale_up_rate), "> 1", "most growth factor per decision").check(Check::Number(|x| x > 1.0)).cluster_wide("max-scale-up-rate").unless_default(),
    Key::new("max_scale_down_rate", kpa!(Number, max_scale_down_rate), "> 1", "most shrink factor per decision").check(Check::Number(|x| x > 1.0)).cluster_wide("max-scale-down-rate").unless_default(),
    Key::new("scale_to_zero_grace_period", kpa!(Duration, scale_to_zero_grace_period), "more than 0s", "how long the last instance is kept after the decision to scale to zero while the activator takes over").check(Check::Duration(positive)).cluster_wide("scale-to-zero-grace-period").unless_default(),
    Key::new("enable_scale_to_zero", kpa!(Flag, enable_scale_to_zero), "true or false", "when false, a desired 0 becomes 1").cluster_wide("enable-scale-to-zero").unless_default(),
    Key::new("activator_capacity", kpa!(Number, activator_capacity), "≥ 1", "concurrent requests one activator handles (sizes the activator subset)").check(Check::Number(|x| x >= 1.0)).cluster_wide("activator-capacity").unless_default(),
];

/// Every keepalive key (`kind = "keepalive"`: AWS Lambda, SimFaaS). Defaults are
/// [`KeepaliveSettings::default`]'s.
#[rustfmt::skip]
pub static KEEPALIVE_KEYS: [Key<KeepaliveSettings>; 5] = [
    Key::new("idle_timeout", keepalive!(Duration, idle_timeout), "any duration", "an instance is removed after this long without work (reset by every request it finishes unless `keepalive_reset = false`)"),
    Key::new("max_instances", keepalive!(Count, max_instances), "0 (unbounded) to 1000000", "most instances; requests beyond them are rejected (429)"),
    Key::new("min_instances", keepalive!(Count, min_instances), "0 to 1000000, at most max_instances", "instances kept warm whatever the traffic (provisioned concurrency)"),
    Key::new("idle_choice", Field::Choice(&IDLE_CHOICES, |s: &KeepaliveSettings| IdleChoice::ALL.iter().position(|c| *c == s.idle_choice).unwrap_or(0), |s: &mut KeepaliveSettings, i| s.idle_choice = IdleChoice::ALL[i]), "\"last-freed\", \"newest-created\" or \"first-free\"", "which idle instance takes a request: the one freed most recently (AWS Lambda-like), the newest created (SimFaaS) or the first created (DSLab FaaS)"),
    Key::new("keepalive_reset", keepalive!(Flag, keepalive_reset), "true or false", "true: every request an instance finishes restarts its idle timer; false: the timer starts when the instance first goes idle and reuse never extends it (DSLab FaaS)"),
];

/// The names of [`IdleChoice::ALL`], in order.
static IDLE_CHOICES: [&str; 3] = ["last-freed", "newest-created", "first-free"];
