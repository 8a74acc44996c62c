//! A resolved scenario rendered for `scalelab validate`: JSON (everything, variants resolved)
//! and a short text summary.

use std::fmt::Write;

use scalelab_core::autoscaler::keys::{self, Key, Value};
use scalelab_core::autoscaler::{AutoscalerSettings, DeciderSpec};
use scalelab_core::duration::format_duration;
use scalelab_core::scenario::Scenario;
use scalelab_core::workload::{ArrivalSpec, DistSpec};

/// The resolved scenario as JSON, each variant with its complete resolved scenario.
pub fn scenario_json(s: &Scenario) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("path".into(), s.path.display().to_string().into());
        let variants: Vec<serde_json::Value> = s
            .variants
            .iter()
            .map(|var| {
                let mut resolved = serde_json::to_value(var.scenario.as_ref()).unwrap_or_default();
                if let Some(o) = resolved.as_object_mut() {
                    o.remove("variants");
                }
                serde_json::json!({
                    "name": var.name,
                    "description": var.description,
                    "set": var.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>(),
                    "resolved": resolved,
                })
            })
            .collect();
        if !variants.is_empty() {
            obj.insert("variants".into(), variants.into());
        }
    }
    v
}

/// One line describing a distribution: `lognormal(median 80ms, p99 600ms)`.
pub fn dist_text(d: &DistSpec) -> String {
    match d {
        DistSpec::Fixed { value } => format!("fixed {}", format_duration(*value)),
        DistSpec::Exponential { mean } => format!("exponential(mean {})", format_duration(*mean)),
        DistSpec::Lognormal { median, p99 } => format!(
            "lognormal(median {}, p99 {})",
            format_duration(*median),
            format_duration(*p99)
        ),
        DistSpec::Uniform { min, max } => {
            format!(
                "uniform({}..{})",
                format_duration(*min),
                format_duration(*max)
            )
        }
        DistSpec::Mixture { parts } => {
            let total: f64 = parts.iter().map(|p| p.weight).sum();
            let inner: Vec<String> = parts
                .iter()
                .map(|p| format!("{:.0}% {}", 100.0 * p.weight / total, dist_text(&p.dist)))
                .collect();
            format!("mixture[{}]", inner.join("; "))
        }
    }
}

/// One line describing an arrival process.
pub fn arrival_text(a: &ArrivalSpec) -> String {
    match a {
        ArrivalSpec::Poisson { rate } => format!("poisson {rate} req/s"),
        ArrivalSpec::Constant { rate } => format!("constant {rate} req/s"),
        ArrivalSpec::Ramp { from, to } => format!("ramp {from} → {to} req/s"),
        ArrivalSpec::Sine {
            mean,
            amplitude,
            period,
        } => {
            format!(
                "sine {mean} ± {amplitude} req/s, period {}",
                format_duration(*period)
            )
        }
        ArrivalSpec::Onoff { rate, on, off } => format!(
            "onoff {rate} req/s for {}, then {} off",
            format_duration(*on),
            format_duration(*off)
        ),
        ArrivalSpec::Trace { at } => format!("trace of {} arrivals", at.len()),
    }
}

/// A short human summary of a resolved scenario.
pub fn scenario_text(s: &Scenario) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} ({}): valid", s.name, s.path.display());
    if let Some(d) = &s.description {
        let _ = writeln!(o, "  {}", d.trim());
    }
    let seed = s
        .seed
        .map_or("random (printed at run time)".to_string(), |x| {
            x.to_string()
        });
    let _ = writeln!(
        o,
        "  duration {}   seed {}",
        format_duration(s.duration),
        seed
    );
    for r in &s.revisions {
        let svc = &r.service;
        let cc = match svc.container_concurrency {
            0 => "unlimited".to_string(),
            n => n.to_string(),
        };
        let _ = writeln!(
            o,
            "  revision {} ({}% of traffic): concurrency {cc}, {} vCPU, {} GiB, timeout {}",
            r.name,
            r.traffic_percent,
            svc.vcpu,
            svc.memory_gib,
            format_duration(svc.timeout)
        );
        let _ = writeln!(o, "    service time  {}", dist_text(&svc.service_time));
        let _ = writeln!(o, "    cold start    {}", dist_text(&svc.cold_start));
        autoscaler_text(&mut o, &r.autoscaler, svc.container_concurrency);
    }
    for (i, p) in s.workload.phases.iter().enumerate() {
        let _ = writeln!(
            o,
            "  phase {}: {} of {}",
            i + 1,
            format_duration(p.duration),
            arrival_text(&p.arrival)
        );
    }
    let _ = writeln!(o, "  billing: {}", s.billing.models.join(", "));
    for v in &s.variants {
        let set: Vec<String> = v
            .set
            .iter()
            .map(|(k, val)| format!("{k} = {val}"))
            .collect();
        let _ = writeln!(o, "  variant {}: {}", v.name, set.join(", "));
    }
    o
}

/// Every autoscaler key with its value, through the key table; `(default)` marks the values
/// the file did not change, and an unset `target` shows what it is derived as.
fn autoscaler_text(o: &mut String, a: &AutoscalerSettings, container_concurrency: u32) {
    fn rows<T: Default>(
        o: &mut String,
        table: &[Key<T>],
        s: &T,
        derived: impl Fn(&Key<T>) -> String,
    ) {
        for key in table {
            let v = key.get(s);
            let (shown, mark) = match v {
                Value::Optional(None) => (derived(key), ""),
                other if v == key.default() => (other.to_string(), "  (default)"),
                other => (other.to_string(), ""),
            };
            let _ = writeln!(o, "      {:<28}{shown}{mark}", key.key);
        }
    }
    match a {
        AutoscalerSettings::Kpa(k) => {
            let _ = writeln!(o, "    autoscaler    kpa");
            let total = DeciderSpec::new(k, container_concurrency).total_value;
            rows(o, &keys::KPA_KEYS, k, |_| {
                format!("{total} (Knative's default for this metric and container_concurrency)")
            });
        }
        AutoscalerSettings::Keepalive(k) => {
            let _ = writeln!(o, "    autoscaler    keepalive");
            rows(o, &keys::KEEPALIVE_KEYS, k, |_| String::new());
        }
    }
}
