//! The terminal answer of `scalelab tune`: the best configuration, then the frontier table.

use std::fmt::Write as _;

use scalelab_core::tune::analyze::{Stat, Summary};
use scalelab_core::tune::doc::{Row, TuneDoc, value_text};

/// `x` with about four significant digits.
pub(crate) fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{x:.decimals$}")
}

/// `x` with about two significant digits (for a spread).
fn sig2(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (1 - x.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{x:.decimals$}")
}

/// An axis label: `x` with about four significant digits and no trailing zeros.
pub(crate) fn axis(x: f64) -> String {
    let s = sig(x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn spread(s: &Stat, f: fn(f64) -> String, seeds: usize) -> String {
    if seeds > 1 {
        format!("{} ± {}", f(s.mean), sig2(s.sd))
    } else {
        f(s.mean)
    }
}

fn slo_text(s: &Summary) -> String {
    if s.slo.checks.is_empty() {
        return "no [slo] thresholds".into();
    }
    let checks: Vec<String> = s
        .slo
        .checks
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}{}",
                c.name,
                axis(c.actual),
                if c.passed { "≤" } else { ">" },
                axis(c.threshold),
                if c.unit == "ms" { " ms" } else { "" }
            )
        })
        .collect();
    format!(
        "{} ({})",
        if s.slo.passed { "passed" } else { "FAILED" },
        checks.join("; ")
    )
}

fn describe(out: &mut String, r: &Row, doc: &TuneDoc) {
    for (k, v) in &r.settings {
        let _ = writeln!(out, "  {k} = {}", scalelab_core::tune::doc::value_text(v));
    }
    let Some(s) = &r.summary else { return };
    let n = r.samples.len();
    let _ = writeln!(
        out,
        "  cost {} USD ({}; {} per million requests)",
        spread(&s.cost_usd, sig, n),
        s.cost_model,
        sig(s.cost_per_million_usd.mean)
    );
    let _ = writeln!(
        out,
        "  p99 {} ms, p50 {} ms, cold-start ratio {}, error ratio {}, instances {}",
        spread(&s.p99_ms, ms, n),
        ms(s.p50_ms.mean),
        spread(&s.cold_start_ratio, sig, n),
        sig(s.error_ratio),
        sig(s.instances_mean.mean)
    );
    let _ = writeln!(
        out,
        "  SLO on the mean of {n} seed(s): {}; {} of {n} seed(s) pass on their own",
        slo_text(s),
        s.slo_passed_seeds
    );
    if !r.full {
        let _ = writeln!(
            out,
            "  (stopped at rung {} on a {} s horizon of {} s)",
            r.rung, r.horizon_s, doc.setup.horizon_s
        );
    }
}

/// The text report: the best candidate (or the closest), then up to `top` rows of the front.
pub fn render(doc: &TuneDoc, top: usize) -> String {
    let mut out = String::new();
    let spec = &doc.setup.spec;
    let _ = writeln!(
        out,
        "tune {}: {} candidate(s) × {} seed(s), {} search, objective {}",
        doc.setup.scenario,
        doc.setup.candidates,
        doc.setup.seeds.len(),
        spec.search.label(),
        spec.objective_text()
    );
    if let Some(sh) = doc.shard {
        let _ = writeln!(
            out,
            "shard {}/{}: {} candidate(s); merge the shards with `scalelab tune --merge A.json B.json …`",
            sh.index,
            sh.count,
            doc.rows.len()
        );
    }
    let invalid = doc.rows.iter().filter(|r| r.summary.is_none()).count();
    let early = doc
        .rows
        .iter()
        .filter(|r| !r.full && r.summary.is_some())
        .count();
    if invalid > 0 {
        let first = doc
            .rows
            .iter()
            .find_map(|r| r.error.as_deref())
            .unwrap_or_default();
        let _ = writeln!(out, "{invalid} candidate(s) could not run (first: {first})");
    }
    if early > 0 {
        let _ = writeln!(
            out,
            "{early} candidate(s) stopped early by successive halving"
        );
    }
    out.push('\n');
    match doc.winner() {
        Some(w) => {
            let _ = writeln!(out, "best: candidate {}", w.id);
            describe(&mut out, w, doc);
        }
        None => {
            let closest = doc.outcome.order.first().and_then(|&id| doc.row(id));
            match closest {
                Some(c) => {
                    let _ = writeln!(
                        out,
                        "no candidate meets the [slo]; the closest is candidate {}",
                        c.id
                    );
                    describe(&mut out, c, doc);
                }
                None => {
                    let _ = writeln!(out, "no candidate finished");
                }
            }
        }
    }
    if doc.outcome.front.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nPareto front (cost, p99, cold-start ratio; cheapest first): {} of {} candidate(s)",
        doc.outcome.front.len(),
        doc.outcome.order.len()
    );
    let keys: Vec<&str> = spec.params.iter().map(|p| p.key.as_str()).collect();
    let mut header: Vec<String> = vec!["id".into()];
    header.extend(keys.iter().map(|k| k.to_string()));
    header.extend(["cost_usd", "p99_ms", "cold_start_ratio", "slo", ""].map(String::from));
    let mut lines = vec![header];
    for &id in doc.outcome.front.iter().take(top) {
        let Some(r) = doc.row(id) else { continue };
        let Some(s) = &r.summary else { continue };
        let n = r.samples.len();
        let mut l = vec![id.to_string()];
        l.extend(
            keys.iter()
                .map(|k| r.settings.get(*k).map(value_text).unwrap_or_default()),
        );
        l.push(spread(&s.cost_usd, sig, n));
        l.push(spread(&s.p99_ms, ms, n));
        l.push(spread(&s.cold_start_ratio, sig, n));
        l.push(if s.slo.passed { "pass" } else { "fail" }.into());
        l.push(if doc.outcome.winner == Some(id) {
            "<- best".into()
        } else {
            String::new()
        });
        lines.push(l);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    if doc.outcome.front.len() > top {
        let _ = writeln!(
            out,
            "  … {} more on the front (tune.csv has every candidate)",
            doc.outcome.front.len() - top
        );
    }
    out
}
