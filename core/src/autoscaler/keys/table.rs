//! The rows: every KPA key and every keepalive key, one line each (rustfmt is told to leave the
//! table alone so that it reads as a table).

use std::time::Duration;

use super::{Check, Export, Field, Key, Knative, Value};
use crate::autoscaler::config::{
    CloudRunSettings, HpaSettings, IdleChoice, KeepaliveSettings, KpaSettings,
};

/// The accessors of field `f` of the KPA's settings, as a [`Field`] of kind `k`.
macro_rules! kpa {
    ($k:ident, $f:ident) => {
        Field::$k(|s: &KpaSettings| s.$f, |s: &mut KpaSettings, v| s.$f = v)
    };
}

/// The same for Cloud Run's autoscaler's settings.
macro_rules! cloud_run {
    ($k:ident, $f:ident) => {
        Field::$k(
            |s: &CloudRunSettings| s.$f,
            |s: &mut CloudRunSettings, v| s.$f = v,
        )
    };
}

/// The same for the HPA's settings.
macro_rules! hpa {
    ($k:ident, $f:ident) => {
        Field::$k(|s: &HpaSettings| s.$f, |s: &mut HpaSettings, v| s.$f = v)
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
            gcloud: None,
            assumption: false,
            doc,
        }
    }

    /// `gcloud run deploy --FLAG` sets it.
    const fn gcloud(self, flag: &'static str) -> Key<T> {
        Key {
            gcloud: Some(flag),
            ..self
        }
    }

    /// The platform does not publish it: the default is an assumption.
    const fn assumption(self) -> Key<T> {
        Key {
            assumption: true,
            ..self
        }
    }

    /// The Kubernetes controller manager's flag `--FLAG`.
    const fn controller(self, flag: &'static str) -> Key<T> {
        Key {
            knative: Some(Knative::Controller(flag)),
            ..self
        }
    }

    /// The HPA object's `spec.behavior.FIELD`.
    const fn behavior(self, field: &'static str) -> Key<T> {
        Key {
            knative: Some(Knative::Behavior(field)),
            ..self
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

fn whole_seconds_1s_to_1h(d: Duration) -> Result<(), &'static str> {
    whole_seconds_up_to_1h(d)?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s");
    }
    Ok(())
}

fn up_to_1d(d: Duration) -> Result<(), &'static str> {
    if d > Duration::from_secs(86_400) {
        Err("must be at most 24h")
    } else {
        Ok(())
    }
}

fn policy_period(d: Duration) -> Result<(), &'static str> {
    whole_seconds_1s_to_1h(d)?;
    if d > Duration::from_secs(1800) {
        return Err("must be at most 30m (Kubernetes' periodSeconds is 1 to 1800)");
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

/// Every key of Cloud Run's autoscaler (`kind = "cloud-run"`), in the order `export gcloud`
/// writes them. Defaults are [`CloudRunSettings::default`]'s: Cloud Run's published behaviour,
/// and assumptions where Google publishes none.
#[rustfmt::skip]
pub static CLOUD_RUN_KEYS: [Key<CloudRunSettings>; 7] = [
    Key::new("cpu_target", cloud_run!(Number, cpu_target), "a fraction in (0, 1] (or a percentage up to 100)", "the CPU driver keeps the average CPU utilisation of the instances at this").check(Check::Number(|x| x > 0.0 && x <= 100.0)).normalize(fraction),
    Key::new("concurrency_target", cloud_run!(Number, concurrency_target), "a fraction in (0, 1] (or a percentage up to 100)", "the concurrency driver keeps the average in-flight requests per instance at this share of container_concurrency").check(Check::Number(|x| x > 0.0 && x <= 100.0)).normalize(fraction),
    Key::new("window", cloud_run!(Duration, window), "1s to 1h, whole seconds", "both drivers average their metric over this window").check(Check::Duration(whole_seconds_1s_to_1h)),
    Key::new("idle_retention", cloud_run!(Duration, idle_retention), "0s to 24h", "an instance the drivers no longer need is removed after this long without a request (Cloud Run: \"up to 15 minutes\")").check(Check::Duration(up_to_1d)).assumption(),
    Key::new("evaluation_period", cloud_run!(Duration, evaluation_period), "1s to 1h, whole seconds", "how often the drivers are evaluated (not published)").check(Check::Duration(whole_seconds_1s_to_1h)).assumption(),
    Key::new("min_scale", cloud_run!(Count, min_scale), "0 to 1000000, at most max_scale", "instances kept warm whatever the traffic (min instances)").gcloud("min-instances"),
    Key::new("max_scale", cloud_run!(Count, max_scale), "0 (unbounded) to 1000000", "most instances; at the maximum requests pend up to max(3.5 × mean start-up, 10 s), then get 429").gcloud("max-instances"),
];

/// Every key of the Kubernetes HPA (`kind = "hpa"`, Knative's `hpa.autoscaling.knative.dev`
/// class), in the order `export knative` writes them. Defaults are [`HpaSettings::default`]'s:
/// the Kubernetes controller's and the autoscaling/v2 API's.
#[rustfmt::skip]
pub static HPA_KEYS: [Key<HpaSettings>; 13] = [
    Key::new("metric", Field::Choice(&["cpu"], |_: &HpaSettings| 0, |_: &mut HpaSettings, _| {}), "\"cpu\"", "what the HPA scales on: the pods' CPU utilisation of their CPU request (vcpu)").annotation("metric", None),
    Key::new("cpu_target", hpa!(Number, cpu_target), "a fraction in (0, 1] (or a percentage up to 100)", "the average CPU utilisation of the ready pods aimed at (80 % is what `kubectl autoscale` sets when none is given)").check(Check::Number(|x| x > 0.0 && x <= 100.0)).normalize(fraction).annotation("target", None).percent(),
    Key::new("min_scale", hpa!(Count, min_scale), "1 to 1000000, at most max_scale", "fewest pods (the HPA cannot scale to zero)").annotation("min-scale", Some("minScale")),
    Key::new("max_scale", hpa!(Count, max_scale), "0 (unbounded) to 1000000", "most pods; 0 = unbounded").annotation("max-scale", Some("maxScale")),
    Key::new("sync_period", hpa!(Duration, sync_period), "1s to 1h, whole seconds", "how often the controller computes a recommendation; CPU is averaged over the same period").check(Check::Duration(whole_seconds_1s_to_1h)).controller("horizontal-pod-autoscaler-sync-period").unless_default(),
    Key::new("tolerance", hpa!(Number, tolerance), "0 to 0.99", "no change while the usage ratio (mean utilisation over cpu_target) is within this of 1").check(Check::Number(|x| (0.0..1.0).contains(&x))).controller("horizontal-pod-autoscaler-tolerance").unless_default(),
    Key::new("scale_down_stabilization", hpa!(Duration, scale_down_stabilization), "0s to 1h, whole seconds", "a scale-down goes only to the highest recommendation of this window").check(Check::Duration(whole_seconds_up_to_1h)).behavior("scaleDown.stabilizationWindowSeconds").unless_default(),
    Key::new("scale_up_stabilization", hpa!(Duration, scale_up_stabilization), "0s to 1h, whole seconds", "a scale-up goes only to the lowest recommendation of this window").check(Check::Duration(whole_seconds_up_to_1h)).behavior("scaleUp.stabilizationWindowSeconds").unless_default(),
    Key::new("scale_up_pods", hpa!(Count, scale_up_pods), "1 to 1000000", "scale-up policy: at most this many pods added per policy period (the larger of the two policies applies)").behavior("scaleUp.policies[type=Pods].value").unless_default(),
    Key::new("scale_up_percent", hpa!(Number, scale_up_percent), "> 0", "scale-up policy: at most this percentage of the pods added per policy period").check(Check::Number(|x| x > 0.0)).behavior("scaleUp.policies[type=Percent].value").unless_default(),
    Key::new("scale_down_percent", hpa!(Number, scale_down_percent), "more than 0, up to 100", "scale-down policy: at most this percentage of the pods removed per policy period").check(Check::Number(|x| x > 0.0 && x <= 100.0)).behavior("scaleDown.policies[type=Percent].value").unless_default(),
    Key::new("policy_period", hpa!(Duration, policy_period), "1s to 30m, whole seconds", "the period of the scaling policies").check(Check::Duration(policy_period)).behavior("scale*.policies[].periodSeconds").unless_default(),
    Key::new("cpu_initialization_period", hpa!(Duration, cpu_initialization_period), "0s to 1h", "a pod younger than this whose CPU sample began before it was ready counts as not ready").check(Check::Duration(up_to_1h)).controller("horizontal-pod-autoscaler-cpu-initialization-period").unless_default(),
];

/// The names of [`IdleChoice::ALL`], in order.
static IDLE_CHOICES: [&str; 3] = ["last-freed", "newest-created", "first-free"];
