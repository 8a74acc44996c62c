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
        DistSpec::Empirical { points } => {
            let shown: Vec<String> = points
                .iter()
                .map(|(p, v)| format!("p{} {}", crate::fmt::num(100.0 * p, 3), format_duration(*v)))
                .collect();
            format!("empirical({})", shown.join(", "))
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

/// A plain number for a setting: `0.7`, `100`, `211`.
fn setting(x: f64) -> String {
    crate::fmt::num(x, 6)
}

/// The KPA's per-instance target, computed the way the decider computes it (so a default shows
/// as the number it becomes).
fn kpa_target_text(
    k: &scalelab_core::autoscaler::KpaSettings,
    container_concurrency: u32,
) -> String {
    use scalelab_core::autoscaler::Metric;
    let spec = DeciderSpec::new(k, container_concurrency);
    let (metric, unit) = match k.metric {
        Metric::Concurrency => ("concurrency", "in flight"),
        Metric::Rps => ("rps", "req/s"),
    };
    let target_from = match (k.target, k.metric, container_concurrency) {
        (Some(_), _, _) => "",
        (None, Metric::Concurrency, 0) => " (Knative's default with unlimited concurrency)",
        (None, Metric::Concurrency, _) => " (the default: the container concurrency)",
        (None, Metric::Rps, _) => " (Knative's default for rps)",
    };
    format!(
        "    autoscaler    kpa on {metric}: target {}{target_from} × utilization {} = {} {unit} \
         per instance\n                  panic window {} ({}% of the {} stable window)\n",
        setting(spec.total_value),
        setting(k.target_utilization),
        setting(spec.target_value),
        format_duration(spec.panic_window),
        setting(k.panic_window_percentage),
        format_duration(k.stable_window),
    )
}

/// A short human summary of a resolved scenario: every value the run will use, defaults
/// included, as the number they resolve to.
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
    if s.is_fleet() {
        fleet_text(&mut o, s);
    }
    let single = !s.is_fleet();
    for r in s.revisions.iter().filter(|_| single) {
        let svc = &r.service;
        let cc = match svc.container_concurrency {
            0 => "unlimited".to_string(),
            n => n.to_string(),
        };
        let _ = writeln!(
            o,
            "  revision {} ({}% of traffic): concurrency {cc}, {} vCPU, {} GiB, timeout {}",
            r.name,
            setting(r.traffic_percent),
            setting(svc.vcpu),
            setting(svc.memory_gib),
            format_duration(svc.timeout)
        );
        let _ = writeln!(o, "    service time  {}", dist_text(&svc.service_time));
        let _ = writeln!(o, "    cold start    {}", dist_text(&svc.cold_start));
        if let Some(c) = &svc.cold_service_time {
            let _ = writeln!(o, "    cold request  {}", dist_text(c));
        }
        let _ = writeln!(
            o,
            "    instances     {} at t = 0, shut-down {}, startup CPU boost {}",
            if svc.warm_at_start { "warm" } else { "cold" },
            format_duration(svc.shutdown),
            if svc.startup_cpu_boost { "on" } else { "off" },
        );
        autoscaler_text(&mut o, &r.autoscaler, svc.container_concurrency);
    }
    let policy = serde_json::to_value(s.router.policy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "  router: {policy}, activator queue {}, overhead {}, slot overhead {}",
        s.router.activator_queue_depth,
        format_duration(s.router.overhead),
        format_duration(s.router.slot_overhead),
    );
    for (i, p) in s.workload.phases.iter().enumerate().filter(|_| single) {
        let _ = writeln!(
            o,
            "  phase {}: {} of {}",
            i + 1,
            format_duration(p.duration),
            arrival_text(&p.arrival)
        );
    }
    let b = &s.billing;
    let _ = writeln!(
        o,
        "  billing: {}{}{}{}",
        b.models.join(", "),
        b.granularity.as_ref().map_or(String::new(), |g| format!(
            ", every model rounded to {}",
            format_duration(g.0)
        )),
        if b.free_tier { ", free tier" } else { "" },
        if b.provisioned_concurrency {
            ", min instances billed as provisioned"
        } else {
            ""
        },
    );
    if let Some(c) = &s.cluster {
        let _ = writeln!(
            o,
            "  cluster: nodes of {} vCPU / {} GiB, {} to {} nodes, provisioning {}, {}, {} pods a node \
             at most, queue-proxy {} vCPU a pod{}, empty nodes removed after {} (not within {} of a \
             scale-up)",
            c.node_vcpu,
            c.node_memory_gib,
            c.min_nodes,
            if c.max_nodes == 0 {
                "unlimited".to_string()
            } else {
                c.max_nodes.to_string()
            },
            format_duration(c.node_provisioning),
            match c.placement {
                scalelab_core::cluster::Placement::LeastAllocated => "least-allocated",
                scalelab_core::cluster::Placement::FirstFit => "first-fit",
            },
            c.max_pods_per_node,
            c.queue_proxy_vcpu,
            if c.control_plane {
                ", control plane on the first node"
            } else {
                ""
            },
            format_duration(c.scale_down_unneeded),
            format_duration(c.scale_down_delay_after_add),
        );
    }
    o.push_str(&slo_text(&s.slo));
    let _ = writeln!(
        o,
        "  sim: series bucket {}, drain {}, at most {} events",
        s.sim.timeseries_bucket.map_or(
            "1s (wider past 1h: at most 3,600 rows)".to_string(),
            format_duration
        ),
        s.sim.drain.map_or(
            "until the longest request timeout".to_string(),
            format_duration
        ),
        scalelab_core::estimate::count_text(s.sim.max_events as f64),
    );
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

/// The `[slo]` line, with the error-ratio check every run gets.
fn slo_text(slo: &scalelab_core::scenario::Slo) -> String {
    let mut parts = Vec::new();
    for (name, d) in [
        ("p50", slo.p50),
        ("p90", slo.p90),
        ("p99", slo.p99),
        ("p99.9", slo.p999),
    ] {
        if let Some(d) = d {
            parts.push(format!("{name} ≤ {}", format_duration(d)));
        }
    }
    if let Some(r) = slo.cold_start_ratio {
        parts.push(format!("cold-start ratio ≤ {}", crate::fmt::pct(r)));
    }
    match slo.error_ratio {
        Some(r) => parts.push(format!("error ratio ≤ {}", crate::fmt::pct(r))),
        None => parts.push(format!(
            "error ratio ≤ {} (the default)",
            crate::fmt::pct(scalelab_core::result::DEFAULT_ERROR_RATIO)
        )),
    }
    if let Some(c) = slo.cost_per_million_usd {
        parts.push(format!(
            "cost ≤ {} per 1M requests{}",
            crate::fmt::usd(c),
            slo.cost_model
                .as_ref()
                .map_or(String::new(), |m| format!(" ({m})"))
        ));
    }
    format!("  slo: {} (a breach exits with code 3)\n", parts.join(", "))
}

/// The work estimate `validate` prints: one line per run and whether `scalelab sim` would
/// start it without `--allow-large-run`.
pub fn work_estimate_text(s: &Scenario) -> String {
    use scalelab_core::estimate::{WorkLimits, estimate_scenario};
    let e = estimate_scenario(s, None);
    let mut o = String::from("  work estimate (docs/limits.md):\n");
    for line in e.lines() {
        let _ = writeln!(o, "    {line}");
    }
    match e.check(&WorkLimits::SIM) {
        Ok(()) => {
            let _ = writeln!(o, "    within the limits of `scalelab sim`");
        }
        Err(why) => {
            let _ = writeln!(
                o,
                "    beyond the limits of `scalelab sim` ({}): it runs only with \
                 --allow-large-run",
                why.exceeded.join(", ")
            );
        }
    }
    o
}

/// The work estimate as JSON: every run's figures, the total, and the simulator's limits.
pub fn work_estimate_json(s: &Scenario) -> serde_json::Value {
    use scalelab_core::estimate::{WorkLimits, estimate_scenario};
    let e = estimate_scenario(s, None);
    let runs: serde_json::Map<String, serde_json::Value> = e
        .runs
        .iter()
        .map(|(n, w)| (n.clone(), serde_json::to_value(w).unwrap_or_default()))
        .collect();
    serde_json::json!({
        "runs": runs,
        "total": e.total,
        "sim_limits": WorkLimits::SIM,
        "within_sim_limits": e.check(&WorkLimits::SIM).is_ok(),
    })
}

/// Every autoscaler key with its value, through the key table; `(default)` marks the values
/// the file did not change, and an unset `target` shows what it is derived as.
/// The services of a fleet, one line each (the first [`FLEET_LINES`]), and its trace.
fn fleet_text(o: &mut String, s: &Scenario) {
    let _ = writeln!(o, "  fleet: {} services", s.services.len());
    for (i, f) in s.services.iter().enumerate().take(FLEET_LINES) {
        let kinds: Vec<String> = f
            .revisions
            .iter()
            .map(|r| {
                let kind = serde_json::to_value(&r.autoscaler)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str().map(str::to_string)))
                    .unwrap_or_else(|| "?".into());
                let cc = match r.service.container_concurrency {
                    0 => "unlimited".to_string(),
                    n => n.to_string(),
                };
                format!(
                    "{} {kind}, concurrency {cc}, {} vCPU, {} GiB, service time {}",
                    r.name,
                    setting(r.service.vcpu),
                    setting(r.service.memory_gib),
                    dist_text(&r.service.service_time)
                )
            })
            .collect();
        let arrivals = match f.workload.phases.len() {
            0 => String::new(),
            1 => format!("; {}", arrival_text(&f.workload.phases[0].arrival)),
            n => format!("; {n} phases"),
        };
        let traced = s
            .trace
            .as_ref()
            .and_then(|t| t.requests.get(i).copied())
            .filter(|&n| n > 0)
            .map_or(String::new(), |n| format!("; {n} requests in the trace"));
        let labels = if f.labels.is_empty() {
            String::new()
        } else {
            let l: Vec<String> = f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(" [{}]", l.join(", "))
        };
        let _ = writeln!(
            o,
            "    {}{labels}: {}{arrivals}{traced}{}",
            f.name,
            kinds.join(" | "),
            if f.slo.is_empty() { "" } else { "; own SLO" }
        );
    }
    if s.services.len() > FLEET_LINES {
        let _ = writeln!(o, "    … {} more", s.services.len() - FLEET_LINES);
    }
    if let Some(t) = &s.trace {
        let total: u64 = t.requests.iter().sum();
        let _ = writeln!(
            o,
            "  trace: {} ({}, {} requests{}), ends at {}",
            t.file.display(),
            match t.format {
                scalelab_core::scenario::TraceFormat::Counts => "counts",
                scalelab_core::scenario::TraceFormat::Invocations => "invocations",
            },
            total,
            match t.format {
                scalelab_core::scenario::TraceFormat::Counts => format!(
                    " per {} spread {}",
                    format_duration(t.interval),
                    t.spread.name()
                ),
                scalelab_core::scenario::TraceFormat::Invocations => {
                    if t.durations {
                        ", recorded durations".to_string()
                    } else {
                        ", sampled service times".to_string()
                    }
                }
            },
            format_duration(t.end)
        );
    }
}

/// How many services `validate` lists one by one.
const FLEET_LINES: usize = 50;

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
            o.push_str(&kpa_target_text(k, container_concurrency));
            let total = DeciderSpec::new(k, container_concurrency).total_value;
            rows(o, &keys::KPA_KEYS, k, |_| {
                format!("{total} (Knative's default for this metric and container_concurrency)")
            });
        }
        AutoscalerSettings::Keepalive(k) => {
            let _ = writeln!(o, "    autoscaler    keepalive");
            rows(o, &keys::KEEPALIVE_KEYS, k, |_| String::new());
        }
        AutoscalerSettings::CloudRun(k) => {
            let _ = writeln!(o, "    autoscaler    cloud-run");
            rows(o, &keys::CLOUD_RUN_KEYS, k, |_| String::new());
        }
        AutoscalerSettings::Hpa(k) => {
            let _ = writeln!(o, "    autoscaler    hpa");
            rows(o, &keys::HPA_KEYS, k, |_| String::new());
        }
    }
}
