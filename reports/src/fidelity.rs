//! Sim vs live: the same scenario and seed through the simulator and the live runtime, metric by
//! metric, with a tolerance and a verdict per row (`scalelab compare`).

use std::fmt::Write;

use scalelab_core::result::VariantResult;
use serde::Serialize;

/// One metric compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FidelityRow {
    /// What is compared.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// The simulator's value.
    pub sim: f64,
    /// The live system's value.
    pub live: f64,
    /// live − sim.
    pub delta: f64,
    /// The relative tolerance, in percent of the simulated value.
    pub tolerance_pct: f64,
    /// An absolute slack under which any difference passes (counting noise on small numbers).
    pub floor: f64,
    /// |delta| ≤ max(floor, tolerance × |sim|).
    pub passed: bool,
}

/// The default tolerances: (metric, unit, relative %, absolute floor).
pub const DEFAULT_TOLERANCES: &[(&str, &str, f64, f64)] = &[
    ("cold starts", "instances", 10.0, 1.0),
    ("requests delayed by a cold start", "requests", 25.0, 2.0),
    ("instance-seconds", "s", 10.0, 1.0),
    ("peak instances", "instances", 20.0, 1.0),
    ("time at zero", "s", 10.0, 5.0),
    ("latency p50", "ms", 20.0, 2.0),
    ("latency p90", "ms", 25.0, 5.0),
    ("latency p99", "ms", 50.0, 10.0),
    ("requests completed", "requests", 1.0, 2.0),
];

/// Compares a simulated variant with its live run. `tolerance_pct` replaces every row's
/// relative tolerance when given.
pub fn fidelity(
    sim: &VariantResult,
    live: &VariantResult,
    tolerance_pct: Option<f64>,
) -> Vec<FidelityRow> {
    let value = |v: &VariantResult, metric: &str| -> f64 {
        match metric {
            "cold starts" => v.cold_starts.count as f64,
            "requests delayed by a cold start" => v.cold_starts.requests_delayed as f64,
            "instance-seconds" => v.instances.instance_seconds,
            "peak instances" => v.instances.peak as f64,
            "time at zero" => v.instances.time_at_zero_s,
            "latency p50" => v.latency_ms.p50,
            "latency p90" => v.latency_ms.p90,
            "latency p99" => v.latency_ms.p99,
            _ => v.requests.completed as f64,
        }
    };
    DEFAULT_TOLERANCES
        .iter()
        .map(|&(metric, unit, tol, floor)| {
            let (s, l) = (value(sim, metric), value(live, metric));
            let tol = tolerance_pct.unwrap_or(tol);
            let delta = l - s;
            FidelityRow {
                metric: metric.to_string(),
                unit: unit.to_string(),
                sim: s,
                live: l,
                delta,
                tolerance_pct: tol,
                floor,
                passed: delta.abs() <= floor.max(tol / 100.0 * s.abs()),
            }
        })
        .collect()
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e12 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

fn rel(r: &FidelityRow) -> String {
    if r.sim == 0.0 {
        if r.live == 0.0 {
            "0%".into()
        } else {
            "new".into()
        }
    } else {
        format!("{:+.1}%", 100.0 * r.delta / r.sim.abs())
    }
}

/// An aligned text table.
pub fn fidelity_text(title: &str, rows: &[FidelityRow]) -> String {
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{} ({})", r.metric, r.unit))
        .collect();
    let w = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max("metric".len());
    let mut o = String::new();
    let _ = writeln!(o, "{title}");
    let _ = writeln!(
        o,
        "  {:<w$} {:>12} {:>12} {:>10} {:>9} {:>12}  verdict",
        "metric", "sim", "live", "delta", "rel", "tolerance"
    );
    for (r, label) in rows.iter().zip(&labels) {
        let _ = writeln!(
            o,
            "  {:<w$} {:>12} {:>12} {:>10} {:>9} {:>12}  {}",
            label,
            num(r.sim),
            num(r.live),
            num(r.delta),
            rel(r),
            format!("±{}% / {}", r.tolerance_pct, num(r.floor)),
            if r.passed { "ok" } else { "DIFFERS" }
        );
    }
    o
}

/// A markdown table (for FIDELITY.md and CI summaries).
pub fn fidelity_markdown(title: &str, rows: &[FidelityRow]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "#### {title}\n");
    let _ = writeln!(
        o,
        "| metric | sim | live | delta | rel | tolerance | verdict |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let _ = writeln!(
            o,
            "| {} ({}) | {} | {} | {} | {} | ±{}% / {} | {} |",
            r.metric,
            r.unit,
            num(r.sim),
            num(r.live),
            num(r.delta),
            rel(r),
            r.tolerance_pct,
            num(r.floor),
            if r.passed { "ok" } else { "**differs**" }
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_have_floors() {
        let mut sim = VariantResult::default();
        let mut live = VariantResult::default();
        sim.cold_starts.count = 3;
        live.cold_starts.count = 4; // within the floor of one
        sim.instances.instance_seconds = 100.0;
        live.instances.instance_seconds = 115.0; // beyond 10 %
        let rows = fidelity(&sim, &live, None);
        let get = |m: &str| rows.iter().find(|r| r.metric == m).unwrap().passed;
        assert!(get("cold starts"));
        assert!(!get("instance-seconds"));
        let rows = fidelity(&sim, &live, Some(20.0));
        assert!(
            rows.iter()
                .find(|r| r.metric == "instance-seconds")
                .unwrap()
                .passed
        );
        assert!(fidelity_text("t", &rows).contains("instance-seconds (s)"));
        assert!(fidelity_markdown("t", &rows).contains("| instance-seconds (s) | 100 | 115 |"));
    }
}
