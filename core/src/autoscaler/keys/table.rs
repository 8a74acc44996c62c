//! The rows: every KPA key and every keepalive key.

use std::time::Duration;

use super::{Check, Export, Field, Key, Knative, Value};
use crate::autoscaler::config::{KeepaliveSettings, KpaSettings};

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
