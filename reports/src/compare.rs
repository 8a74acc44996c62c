//! Runs side by side: deltas against a baseline run and regressions beyond a tolerance.
//!
//! Variants are matched by name (a run with one variant matches the baseline's first variant
//! whatever their names, so `sim` vs `live` of one scenario and two single-variant scenarios
//! compare directly). Gated metrics (latency p50/p90/p99, error ratio, cost per million
//! requests under each billing model) regress when they grow by more than the tolerance *and*
//! by more than a small absolute floor (0.5 ms, 0.01 percentage points, $0.000001), so noise
//! around zero does not fail a build.

use std::fmt::Write;

use scalelab_core::result::{RunResult, VariantResult};
use serde::Serialize;

use crate::exporters::{check_label, check_value, run_title, slo_failures};
use crate::fmt;
use crate::table::{Cell, Mark, Table, html_escape};

/// One run in a comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunInfo {
    /// How the run is named in tables (usually its file path).
    pub label: String,
    /// `scenario · mode · seed · horizon`.
    pub title: String,
    /// The seed.
    pub seed: u64,
}

/// One metric of one variant: baseline vs another run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricDelta {
    /// The other run's label.
    pub run: String,
    /// The variant (the other run's name for it).
    pub variant: String,
    /// The metric (`latency_ms.p99`, `cost.lambda.per_million_requests_usd`, …).
    pub metric: String,
    /// `ms`, `ratio`, `usd`, `count`, `s`.
    pub unit: String,
    /// The baseline's value.
    pub baseline: f64,
    /// The other run's value.
    pub value: f64,
    /// value - baseline.
    pub delta: f64,
    /// Relative change in percent (absent when the baseline is zero).
    pub delta_pct: Option<f64>,
    /// Whether the metric is checked against the tolerance.
    pub gated: bool,
    /// Gated and worse by more than the tolerance.
    pub regression: bool,
}

/// The comparison of runs against a baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The tolerance, percent.
    pub tolerance_pct: f64,
    /// The baseline run.
    pub baseline: RunInfo,
    /// The other runs.
    pub runs: Vec<RunInfo>,
    /// Every metric of every matched variant.
    pub deltas: Vec<MetricDelta>,
    /// Variants with no counterpart (`run: variant`).
    pub unmatched: Vec<String>,
    /// Failed SLO checks in any run (`run: variant: check`).
    pub slo_failures: Vec<String>,
    /// Every SLO check of every run, `(run label, variant, check)`, for JUnit (one test case
    /// each, passing or not, so CI history can follow it).
    #[serde(skip)]
    pub slo_checks: Vec<(String, String, scalelab_core::result::SloCheck)>,
}

impl Comparison {
    /// The deltas flagged as regressions.
    pub fn regressions(&self) -> impl Iterator<Item = &MetricDelta> {
        self.deltas.iter().filter(|d| d.regression)
    }

    /// True when there is a regression or a failed SLO check (exit code 3).
    pub fn failed(&self) -> bool {
        self.regressions().next().is_some() || !self.slo_failures.is_empty()
    }
}

/// Compares `others` with `baseline`; labels name the runs in the output.
pub fn compare(
    baseline: (&str, &RunResult),
    others: &[(&str, &RunResult)],
    tolerance_pct: f64,
) -> Comparison {
    let info = |label: &str, r: &RunResult| RunInfo {
        label: label.to_string(),
        title: run_title(r),
        seed: r.seed,
    };
    let (blabel, base) = baseline;
    let mut deltas = Vec::new();
    let mut unmatched = Vec::new();
    let mut slo = Vec::new();
    let mut slo_checks = Vec::new();
    for (label, r) in std::iter::once(&baseline).chain(others) {
        for v in &r.variants {
            for c in &v.slo.checks {
                slo_checks.push((label.to_string(), v.name.clone(), c.clone()));
            }
        }
        for (v, c) in slo_failures(r) {
            slo.push(format!(
                "{label}: {v}: {} is {}",
                check_label(c),
                check_value(c)
            ));
        }
    }
    for (label, r) in others {
        let single = base.variants.len() == 1 && r.variants.len() == 1;
        for v in &r.variants {
            let b = if single {
                base.variants.first()
            } else {
                base.variants.iter().find(|b| b.name == v.name)
            };
            match b {
                Some(b) => deltas.extend(variant_deltas(label, b, v, tolerance_pct)),
                None => unmatched.push(format!("{label}: {}", v.name)),
            }
        }
        if !single {
            for b in &base.variants {
                if !r.variants.iter().any(|v| v.name == b.name) {
                    unmatched.push(format!("{blabel}: {}", b.name));
                }
            }
        }
    }
    Comparison {
        tolerance_pct,
        baseline: info(blabel, base),
        runs: others.iter().map(|(l, r)| info(l, r)).collect(),
        deltas,
        unmatched,
        slo_failures: slo,
        slo_checks,
    }
}

fn variant_deltas(run: &str, b: &VariantResult, v: &VariantResult, tol: f64) -> Vec<MetricDelta> {
    let mut out = Vec::new();
    let mut push = |metric: String, unit: &str, base: f64, value: f64, floor: Option<f64>| {
        let delta = value - base;
        let regression =
            floor.is_some_and(|floor| value > base + base.abs() * tol / 100.0 && delta > floor);
        out.push(MetricDelta {
            run: run.to_string(),
            variant: v.name.clone(),
            metric,
            unit: unit.into(),
            baseline: base,
            value,
            delta,
            delta_pct: (base != 0.0).then(|| delta / base.abs() * 100.0),
            gated: floor.is_some(),
            regression,
        });
    };
    let (bl, vl) = (&b.latency_ms, &v.latency_ms);
    push("latency_ms.p50".into(), "ms", bl.p50, vl.p50, Some(0.5));
    push("latency_ms.p90".into(), "ms", bl.p90, vl.p90, Some(0.5));
    push("latency_ms.p99".into(), "ms", bl.p99, vl.p99, Some(0.5));
    push("latency_ms.p999".into(), "ms", bl.p999, vl.p999, None);
    push("latency_ms.max".into(), "ms", bl.max, vl.max, None);
    push(
        "error_ratio".into(),
        "ratio",
        b.requests.error_ratio(),
        v.requests.error_ratio(),
        Some(1e-4),
    );
    push(
        "cold_starts.ratio".into(),
        "ratio",
        b.cold_starts.ratio,
        v.cold_starts.ratio,
        None,
    );
    push(
        "cold_starts.count".into(),
        "count",
        b.cold_starts.count as f64,
        v.cold_starts.count as f64,
        None,
    );
    push(
        "instances.instance_seconds".into(),
        "s",
        b.instances.instance_seconds,
        v.instances.instance_seconds,
        None,
    );
    for (model, bc) in &b.cost {
        if let Some(vc) = v.cost.get(model) {
            push(
                format!("cost.{model}.per_million_requests_usd"),
                "usd",
                bc.per_million_requests_usd,
                vc.per_million_requests_usd,
                Some(1e-6),
            );
        }
    }
    out
}

fn value_text(unit: &str, x: f64) -> String {
    match unit {
        "ms" => fmt::ms(x),
        "ratio" => fmt::pct(x),
        "usd" => fmt::usd(x),
        "s" => fmt::num(x, 1),
        _ => fmt::num(x, 3),
    }
}

fn delta_text(d: &MetricDelta) -> String {
    match d.unit.as_str() {
        "ms" => fmt::signed(d.delta, fmt::ms),
        "ratio" => {
            let pp = d.delta * 100.0;
            format!("{}{} pp", if pp > 0.0 { "+" } else { "" }, fmt::num(pp, 4))
        }
        "usd" => fmt::signed(d.delta, fmt::usd),
        "s" => fmt::signed(d.delta, |x| fmt::num(x, 1)),
        _ => fmt::signed(d.delta, |x| fmt::num(x, 3)),
    }
}

impl Comparison {
    /// One table per other run: metric, baseline, other, delta, relative change, verdict.
    fn tables(&self) -> Vec<(String, Table)> {
        self.runs
            .iter()
            .map(|run| {
                let mut t = Table::new(vec![
                    "metric".into(),
                    "baseline".into(),
                    "this run".into(),
                    "delta".into(),
                    "change".into(),
                    "verdict".into(),
                ]);
                let mut last_variant: Option<&str> = None;
                for d in self.deltas.iter().filter(|d| d.run == run.label) {
                    if last_variant != Some(d.variant.as_str()) {
                        t.section(format!("variant {}", d.variant));
                        last_variant = Some(&d.variant);
                    }
                    let verdict = match (d.gated, d.regression) {
                        (false, _) => Cell::plain(""),
                        (true, false) => Cell::marked("ok", Mark::Pass),
                        (true, true) => Cell::marked("REGRESSION", Mark::Fail),
                    };
                    t.row(
                        d.metric.clone(),
                        vec![
                            Cell::plain(value_text(&d.unit, d.baseline)),
                            Cell::plain(value_text(&d.unit, d.value)),
                            Cell::plain(delta_text(d)),
                            Cell::plain(fmt::rel_change(d.baseline, d.value)),
                            verdict,
                        ],
                    );
                }
                (format!("{} vs {}", run.label, self.baseline.label), t)
            })
            .collect()
    }

    fn verdict_lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        let regs: Vec<String> = self
            .regressions()
            .map(|d| {
                format!(
                    "{}: {}: {} {} → {} ({})",
                    d.run,
                    d.variant,
                    d.metric,
                    value_text(&d.unit, d.baseline),
                    value_text(&d.unit, d.value),
                    fmt::rel_change(d.baseline, d.value)
                )
            })
            .collect();
        if regs.is_empty() {
            v.push(format!(
                "no regression beyond {}% (latency p50/p90/p99, error ratio, cost per million)",
                fmt::num(self.tolerance_pct, 2)
            ));
        } else {
            v.push(format!(
                "{} regression(s) beyond {}%:",
                regs.len(),
                fmt::num(self.tolerance_pct, 2)
            ));
            v.extend(regs.into_iter().map(|s| format!("  {s}")));
        }
        if !self.slo_failures.is_empty() {
            v.push(format!("{} SLO check(s) failed:", self.slo_failures.len()));
            v.extend(self.slo_failures.iter().map(|s| format!("  {s}")));
        }
        for u in &self.unmatched {
            v.push(format!("no counterpart for variant {u}"));
        }
        v
    }

    /// Aligned text.
    pub fn to_text(&self, color: bool) -> String {
        self.render(false, color)
    }

    /// Markdown (GitHub step summaries).
    pub fn to_markdown(&self) -> String {
        self.render(true, false)
    }

    /// The one layout of both: the runs compared, the tables, the verdict; as markdown (a
    /// title, list items, `###` headings, a ✅/❌ verdict) or as aligned text.
    fn render(&self, markdown: bool, color: bool) -> String {
        let mut o = String::new();
        let (item, code) = if markdown { ("- ", "`") } else { ("", "") };
        if markdown {
            o.push_str("## scalelab comparison\n\n");
        }
        let _ = writeln!(
            o,
            "{item}baseline: {code}{}{code} ({})",
            self.baseline.label, self.baseline.title
        );
        for r in &self.runs {
            let _ = writeln!(o, "{item}compared: {code}{}{code} ({})", r.label, r.title);
        }
        for (title, t) in self.tables() {
            if markdown {
                let _ = writeln!(o, "\n### {title}\n");
                o.push_str(&t.to_markdown());
            } else {
                let _ = writeln!(o, "\n{title}");
                o.push_str(&t.to_text(color));
            }
        }
        o.push('\n');
        let lines = self.verdict_lines();
        if markdown {
            let mark = if self.failed() { "❌" } else { "✅" };
            let _ = writeln!(o, "{mark} {}", lines[0]);
            for l in &lines[1..] {
                let _ = writeln!(o, "- {}", l.trim());
            }
        } else {
            for l in lines {
                let _ = writeln!(o, "{l}");
            }
        }
        o
    }

    /// Pretty JSON of this comparison.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|s| s + "\n")
    }

    /// Every delta as CSV.
    pub fn to_csv(&self) -> String {
        let mut o = String::from(
            "run,variant,metric,unit,baseline,value,delta,delta_pct,gated,regression\n",
        );
        let q = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        for d in &self.deltas {
            let _ = writeln!(
                o,
                "{},{},{},{},{},{},{},{},{},{}",
                q(&d.run),
                q(&d.variant),
                q(&d.metric),
                d.unit,
                d.baseline,
                d.value,
                d.delta,
                d.delta_pct.map_or(String::new(), |p| format!("{p:.3}")),
                d.gated,
                d.regression
            );
        }
        o
    }

    /// JUnit XML: one test case per gated metric and one per failed SLO check.
    pub fn to_junit(&self) -> String {
        let gated: Vec<&MetricDelta> = self.deltas.iter().filter(|d| d.gated).collect();
        let failures = self.regressions().count() + self.slo_failures.len();
        let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            o,
            "<testsuites name=\"scalelab comparison\" tests=\"{}\" failures=\"{failures}\">",
            gated.len() + self.slo_checks.len()
        );
        let _ = writeln!(
            o,
            "  <testsuite name=\"regressions vs {}\" tests=\"{}\" failures=\"{}\">",
            html_escape(&self.baseline.label),
            gated.len(),
            self.regressions().count()
        );
        for d in gated {
            let _ = write!(
                o,
                "    <testcase classname=\"{}\" name=\"{}\"",
                html_escape(&format!("{}.{}", d.run, d.variant)),
                html_escape(&d.metric)
            );
            if d.regression {
                let _ = writeln!(
                    o,
                    ">\n      <failure message=\"{} → {} ({}), tolerance {}%\" type=\"regression\"/>\n    </testcase>",
                    html_escape(&value_text(&d.unit, d.baseline)),
                    html_escape(&value_text(&d.unit, d.value)),
                    fmt::rel_change(d.baseline, d.value),
                    fmt::num(self.tolerance_pct, 2)
                );
            } else {
                o.push_str("/>\n");
            }
        }
        o.push_str("  </testsuite>\n");
        if !self.slo_checks.is_empty() {
            let failed = self.slo_checks.iter().filter(|c| !c.2.passed).count();
            let _ = writeln!(
                o,
                "  <testsuite name=\"slo\" tests=\"{}\" failures=\"{failed}\">",
                self.slo_checks.len()
            );
            // Names carry no measured value, so the same check has the same name in every run.
            for (run, variant, c) in &self.slo_checks {
                let _ = write!(
                    o,
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    html_escape(&format!("slo.{run}.{variant}")),
                    html_escape(&c.name)
                );
                if c.passed {
                    o.push_str("/>\n");
                } else {
                    let _ = writeln!(
                        o,
                        ">\n      <failure message=\"{}\" type=\"slo\"/>\n    </testcase>",
                        html_escape(&format!(
                            "{run}: {variant}: {} is {}",
                            check_label(c),
                            check_value(c)
                        ))
                    );
                }
            }
            o.push_str("  </testsuite>\n");
        }
        o.push_str("</testsuites>\n");
        o
    }

    /// The comparison tables as an HTML fragment.
    pub(crate) fn to_html_fragment(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "<p>Baseline: <code>{}</code> ({})</p>",
            html_escape(&self.baseline.label),
            html_escape(&self.baseline.title)
        );
        for (title, t) in self.tables() {
            let _ = writeln!(o, "<h3>{}</h3>", html_escape(&title));
            o.push_str(&t.to_html());
        }
        let class = if self.failed() { "fail" } else { "pass" };
        o.push_str(&format!("<ul class=\"verdict {class}\">\n"));
        for l in self.verdict_lines() {
            let _ = writeln!(o, "<li>{}</li>", html_escape(l.trim()));
        }
        o.push_str("</ul>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalelab_core::result::Mode;

    fn run(p99: f64, cost: f64, rejected: u64) -> RunResult {
        let mut v = crate::fixture::variant("baseline", p99, "lambda", cost);
        v.requests.arrived = 10_000;
        v.requests.rejected = rejected;
        let mut r = RunResult::new("s", 1, Mode::Sim, 60.0);
        r.variants.push(v);
        r
    }

    /// Run "b" against baseline "a" at a 10 % tolerance.
    fn a_vs_b(a: RunResult, b: RunResult) -> Comparison {
        compare(("a", &a), &[("b", &b)], 10.0)
    }

    #[test]
    fn within_tolerance_is_not_a_regression() {
        let c = a_vs_b(run(100.0, 1.0, 0), run(109.0, 1.05, 0));
        assert!(!c.failed(), "{:?}", c.regressions().collect::<Vec<_>>());
    }

    #[test]
    fn latency_cost_and_errors_regress_beyond_tolerance() {
        let c = a_vs_b(run(100.0, 1.0, 0), run(120.0, 1.2, 50));
        let names: Vec<&str> = c.regressions().map(|d| d.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "latency_ms.p99",
                "error_ratio",
                "cost.lambda.per_million_requests_usd"
            ]
        );
        assert!(c.failed());
        assert!(c.to_text(false).contains("REGRESSION"));
        assert!(c.to_junit().contains("type=\"regression\""));
    }

    #[test]
    fn improvements_and_tiny_absolute_changes_pass() {
        let c = a_vs_b(run(1.0, 1.0, 0), run(1.3, 0.5, 0));
        assert!(!c.failed(), "0.3 ms is below the 0.5 ms floor");
    }
}
