//! One exporter per format: text, markdown, JSON, CSV time series, JUnit XML.

use std::fmt::Write;

use scalelab_core::result::{RunResult, SloCheck, VariantResult};

use crate::table::{Cell, Mark, Table, html_escape};
use crate::{Exporter, ReportError, fmt, tradeoff};

/// The aligned terminal summary; `color` adds ANSI colours.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextExporter {
    /// Colour PASS/FAIL and headings (the caller decides: a terminal and no `NO_COLOR`).
    pub color: bool,
}

/// A markdown summary (GitHub step summaries, pull-request comments).
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkdownExporter;

/// The result document itself, pretty-printed (stable key order).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonExporter;

/// The time series of every variant as one CSV, with a leading `variant` column.
#[derive(Clone, Copy, Debug, Default)]
pub struct CsvExporter;

/// JUnit XML: one test suite per variant, one test case per SLO check.
#[derive(Clone, Copy, Debug, Default)]
pub struct JunitExporter;

impl Exporter for TextExporter {
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError> {
        Ok(text_summary(r, self.color).into_bytes())
    }
}

impl Exporter for MarkdownExporter {
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError> {
        Ok(markdown_summary(r).into_bytes())
    }
}

impl Exporter for JsonExporter {
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError> {
        let mut v = serde_json::to_vec_pretty(r)?;
        v.push(b'\n');
        Ok(v)
    }
}

impl Exporter for CsvExporter {
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError> {
        Ok(timeseries_csv(r).into_bytes())
    }
}

impl Exporter for JunitExporter {
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError> {
        Ok(junit_xml(r).into_bytes())
    }
}

/// Every failed SLO check as `(variant, check)`, in document order.
pub fn slo_failures(r: &RunResult) -> Vec<(&str, &SloCheck)> {
    r.variants
        .iter()
        .flat_map(|v| {
            v.slo
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(move |c| (v.name.as_str(), c))
        })
        .collect()
}

/// One line naming the run: `spiky-api · sim · seed 7 · 30m`.
pub(crate) fn run_title(r: &RunResult) -> String {
    let mode = match r.mode {
        scalelab_core::result::Mode::Sim => "simulated",
        scalelab_core::result::Mode::Live => "live",
        scalelab_core::result::Mode::Load => "load test",
    };
    let mut s = format!(
        "{} · {mode} · seed {} · {}",
        r.scenario,
        r.seed,
        fmt::secs(r.duration_s)
    );
    if let Some(ts) = r.time_scale.filter(|t| *t != 1.0) {
        let _ = write!(s, " · time scale {}", fmt::num(ts, 3));
    }
    s
}

/// The command that reproduces the run.
pub(crate) fn reproduce_command(r: &RunResult) -> Option<String> {
    r.command.clone().or_else(|| {
        r.scenario_path.as_ref().map(|p| {
            let sub = match r.mode {
                scalelab_core::result::Mode::Sim => "sim",
                scalelab_core::result::Mode::Live => "run",
                scalelab_core::result::Mode::Load => "load",
            };
            format!("scalelab {sub} {} --seed {}", fmt::shell_quote(p), r.seed)
        })
    })
}

/// A human label for an SLO check: `p99 ≤ 1000 ms`, `error_ratio ≤ 1.00% (default)`.
pub(crate) fn check_label(c: &SloCheck) -> String {
    let label = match c.unit.as_str() {
        "ms" => format!("{} ≤ {} ms", c.name, fmt::ms(c.threshold)),
        "usd" => format!("{} ≤ {}", c.name, fmt::usd(c.threshold)),
        "ratio" => format!("{} ≤ {}", c.name, fmt::pct(c.threshold)),
        u => format!("{} ≤ {} {u}", c.name, fmt::num(c.threshold, 6)),
    };
    if c.default_threshold {
        format!("{label} (default)")
    } else {
        label
    }
}

/// The measured value of a check in its unit.
pub(crate) fn check_value(c: &SloCheck) -> String {
    if c.unit == "ms" && c.note.is_some() {
        return "no successful request".into();
    }
    match c.unit.as_str() {
        "ms" => format!("{} ms", fmt::ms(c.actual)),
        "usd" => fmt::usd(c.actual),
        "ratio" => fmt::pct(c.actual),
        u => format!("{} {u}", fmt::num(c.actual, 6)),
    }
}

/// The summary table: one column per variant.
pub(crate) fn summary_table(r: &RunResult) -> Table {
    let mut header = vec!["metric".to_string()];
    header.extend(r.variants.iter().map(|v| v.name.clone()));
    let mut t = Table::new(header);
    let vs = &r.variants;
    let row = |t: &mut Table, label: &str, f: &dyn Fn(&VariantResult) -> String| {
        t.row_plain(label, vs.iter().map(f).collect());
    };

    t.section("requests");
    row(&mut t, "arrived", &|v| v.requests.arrived.to_string());
    row(&mut t, "completed", &|v| v.requests.completed.to_string());
    row(&mut t, "rejected", &|v| v.requests.rejected.to_string());
    row(&mut t, "timed out", &|v| v.requests.timed_out.to_string());
    row(&mut t, "in flight at end", &|v| {
        v.requests.in_flight_at_end.to_string()
    });
    row(&mut t, "error ratio", &|v| {
        fmt::pct(v.requests.error_ratio())
    });

    t.section("latency (ms, arrival to response, of successful requests)");
    row(&mut t, "failed (not in latency)", &|v| {
        let failed = v.requests.rejected + v.requests.timed_out;
        if failed == 0 {
            "0".into()
        } else {
            format!("{failed} ({})", fmt::pct(v.requests.error_ratio()))
        }
    });
    row(&mut t, "mean", &|v| fmt::ms(v.latency_ms.mean));
    row(&mut t, "p50", &|v| fmt::ms(v.latency_ms.p50));
    row(&mut t, "p90", &|v| fmt::ms(v.latency_ms.p90));
    row(&mut t, "p99", &|v| fmt::ms(v.latency_ms.p99));
    row(&mut t, "p99.9", &|v| fmt::ms(v.latency_ms.p999));
    row(&mut t, "max", &|v| fmt::ms(v.latency_ms.max));
    if vs
        .iter()
        .any(|v| v.latency_ms_cold.is_some() || v.latency_ms_warm.is_some())
    {
        row(&mut t, "p99 warm", &|v| {
            v.latency_ms_warm.map_or("-".into(), |l| fmt::ms(l.p99))
        });
        row(&mut t, "p99 cold-delayed", &|v| {
            v.latency_ms_cold
                .filter(|l| l.count > 0 || l.p99 > 0.0)
                .map_or("-".into(), |l| fmt::ms(l.p99))
        });
    }

    if r.mode == scalelab_core::result::Mode::Load {
        // A load run measures the client side only: no instances, autoscaler or bill to show.
        load_rows(&mut t, vs);
        return slo_rows(r, t);
    }

    t.section("cold starts");
    row(&mut t, "instances started", &|v| {
        v.cold_starts.count.to_string()
    });
    row(&mut t, "requests delayed", &|v| {
        v.cold_starts.requests_delayed.to_string()
    });
    row(&mut t, "delayed ratio", &|v| fmt::pct(v.cold_starts.ratio));

    t.section("instances");
    row(&mut t, "peak", &|v| v.instances.peak.to_string());
    row(&mut t, "mean", &|v| fmt::num(v.instances.mean, 2));
    row(&mut t, "instance-seconds", &|v| {
        fmt::num(v.instances.instance_seconds, 1)
    });
    row(&mut t, "idle instance-seconds", &|v| {
        fmt::num(v.instances.idle_instance_seconds, 1)
    });
    row(&mut t, "time at zero (s)", &|v| {
        fmt::num(v.instances.time_at_zero_s, 1)
    });
    row(&mut t, "scale-to-zero events", &|v| {
        v.instances.scale_to_zero_events.to_string()
    });
    // Only where CPU work is modelled or measured (`[service] cpu_share`, `--cmd`).
    if vs.iter().any(|v| v.instances.mean_cpu_utilization > 0.0) {
        row(&mut t, "mean CPU utilisation", &|v| {
            fmt::pct(v.instances.mean_cpu_utilization)
        });
    }

    // `[cluster]` scenarios: the node pool.
    if vs.iter().any(|v| v.cluster.is_some()) {
        let c = |v: &VariantResult,
                 f: &dyn Fn(&scalelab_core::cluster::ClusterResult) -> String| {
            v.cluster.as_ref().map_or("-".into(), f)
        };
        t.section("nodes");
        row(&mut t, "peak", &|v| c(v, &|c| c.nodes_max.to_string()));
        row(&mut t, "mean", &|v| c(v, &|c| fmt::num(c.nodes_mean, 2)));
        row(&mut t, "node-seconds", &|v| {
            c(v, &|c| fmt::num(c.node_seconds, 1))
        });
        row(&mut t, "added / removed", &|v| {
            c(v, &|c| format!("{} / {}", c.nodes_added, c.nodes_removed))
        });
        row(&mut t, "pods pending", &|v| {
            c(v, &|c| c.pods_pending.to_string())
        });
        row(&mut t, "pending wait mean (s)", &|v| {
            c(v, &|c| fmt::num(c.pending_wait_mean_s, 1))
        });
        row(&mut t, "pending wait max (s)", &|v| {
            c(v, &|c| fmt::num(c.pending_wait_max_s, 1))
        });
    }

    t.section("autoscaler");
    row(&mut t, "panic episodes", &|v| {
        v.autoscaler.panic_episodes.to_string()
    });
    row(&mut t, "panic time (s)", &|v| {
        fmt::num(v.autoscaler.panic_seconds, 1)
    });

    let models = cost_models(r);
    if !models.is_empty() {
        t.section("cost (USD)");
        for m in &models {
            row(&mut t, &format!("{m} total"), &|v| {
                v.cost.get(m).map_or("-".into(), |c| fmt::usd(c.total_usd))
            });
            row(&mut t, &format!("{m} per 1M requests"), &|v| {
                v.cost
                    .get(m)
                    .map_or("-".into(), |c| fmt::usd(c.per_million_requests_usd))
            });
        }
    }

    slo_rows(r, t)
}

/// The load generator's own figures (the `extra` fields it writes), when present.
fn load_rows(t: &mut Table, vs: &[VariantResult]) {
    let num = |v: &VariantResult, k: &str| v.extra.get(k).and_then(serde_json::Value::as_f64);
    t.section("load generator");
    let mut row = |label: &str, f: &dyn Fn(&VariantResult) -> Option<String>| {
        if vs.iter().any(|v| f(v).is_some()) {
            t.row_plain(
                label,
                vs.iter()
                    .map(|v| f(v).unwrap_or_else(|| "-".into()))
                    .collect(),
            );
        }
    };
    row("loop", &|v| {
        v.extra
            .get("loop")
            .and_then(|x| x.as_str())
            .map(str::to_string)
    });
    row("target rate (req/s)", &|v| {
        num(v, "target_rate").map(|x| fmt::num(x, 2))
    });
    row("achieved rate (req/s)", &|v| {
        num(v, "achieved_rate").map(|x| fmt::num(x, 2))
    });
    row("send lag p99 (ms)", &|v| {
        v.extra
            .get("send_lag_ms")
            .and_then(|l| l.get("p99"))
            .and_then(serde_json::Value::as_f64)
            .map(fmt::ms)
    });
    row("not sent (generator behind)", &|v| {
        num(v, "unsent").map(|x| fmt::num(x, 0))
    });
    row("connections opened", &|v| {
        num(v, "connections_opened").map(|x| fmt::num(x, 0))
    });
}

/// The SLO section, the end of the summary table.
fn slo_rows(r: &RunResult, mut t: Table) -> Table {
    let vs = &r.variants;
    let checks = check_labels(r);
    if !checks.is_empty() {
        t.section("SLO checks");
        for (name, label) in &checks {
            let cells = vs
                .iter()
                .map(|v| match v.slo.checks.iter().find(|c| &c.name == name) {
                    Some(c) if c.passed => {
                        Cell::marked(format!("PASS {}", check_value(c)), Mark::Pass)
                    }
                    Some(c) => Cell::marked(format!("FAIL {}", check_value(c)), Mark::Fail),
                    None => Cell::plain("-"),
                })
                .collect();
            t.row(label, cells);
        }
    }
    t
}

/// Billing models in any variant, in name order.
pub(crate) fn cost_models(r: &RunResult) -> Vec<String> {
    let mut m: Vec<String> = r
        .variants
        .iter()
        .flat_map(|v| v.cost.keys().cloned())
        .collect();
    m.sort();
    m.dedup();
    m
}

/// `(check name, label)` in order of first appearance.
fn check_labels(r: &RunResult) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for c in r.variants.iter().flat_map(|v| &v.slo.checks) {
        if !out.iter().any(|(n, _)| n == &c.name) {
            out.push((c.name.clone(), check_label(c)));
        }
    }
    out
}

/// The SLO verdict in one line, or `None` when the scenario sets no thresholds.
pub(crate) fn slo_verdict(r: &RunResult) -> Option<String> {
    let total: usize = r.variants.iter().map(|v| v.slo.checks.len()).sum();
    if total == 0 {
        return None;
    }
    let failures = slo_failures(r);
    if failures.is_empty() {
        Some(if total == 1 {
            "SLO: the 1 check passed".to_string()
        } else {
            format!("SLO: all {total} checks passed")
        })
    } else {
        let list: Vec<String> = failures
            .iter()
            .map(|(v, c)| format!("{v}: {} is {}", check_label(c), check_value(c)))
            .collect();
        Some(format!(
            "SLO: {} of {total} checks FAILED ({})",
            failures.len(),
            list.join("; ")
        ))
    }
}

/// How many services a report lists per variant (the most expensive first).
pub(crate) const TOP_SERVICES: usize = 20;

/// A fleet's per-service tables, one per variant with `services`: the services by cost under
/// the first billing model, most expensive first, the first [`TOP_SERVICES`] of them. Empty
/// for a single-service run.
pub(crate) fn service_tables(r: &RunResult) -> Vec<(String, Table)> {
    let model = cost_models(r).into_iter().next();
    let mut out = Vec::new();
    for v in r.variants.iter().filter(|v| !v.services.is_empty()) {
        let mut header = vec!["service".to_string()];
        header.extend(
            [
                "arrived",
                "errors",
                "p50 ms",
                "p99 ms",
                "cold starts",
                "instance-s",
            ]
            .map(String::from),
        );
        // `[cluster]`: each service's pods in the shared node pool.
        let pods = v.services.iter().any(|s| s.pods.is_some());
        if pods {
            header.extend(["pods pending", "pending wait max s"].map(String::from));
        }
        if let Some(m) = &model {
            header.push(format!("cost {m}"));
        }
        header.push("SLO".into());
        let mut t = Table::new(header);
        let cost = |x: &VariantResult| {
            model
                .as_ref()
                .and_then(|m| x.cost.get(m))
                .map_or(0.0, |c| c.total_usd)
        };
        let mut order: Vec<&VariantResult> = v.services.iter().collect();
        order.sort_by(|a, b| cost(b).total_cmp(&cost(a)).then(a.name.cmp(&b.name)));
        for s in order.iter().take(TOP_SERVICES) {
            let mut cells = vec![
                Cell::plain(s.requests.arrived.to_string()),
                Cell::plain((s.requests.rejected + s.requests.timed_out).to_string()),
                Cell::plain(fmt::ms(s.latency_ms.p50)),
                Cell::plain(fmt::ms(s.latency_ms.p99)),
                Cell::plain(s.cold_starts.count.to_string()),
                Cell::plain(fmt::secs(s.instances.instance_seconds)),
            ];
            if pods {
                let p = s.pods.clone().unwrap_or_default();
                cells.push(Cell::plain(p.pending.to_string()));
                cells.push(Cell::plain(fmt::num(p.pending_wait_max_s, 1)));
            }
            if model.is_some() {
                cells.push(Cell::plain(fmt::usd(cost(s))));
            }
            cells.push(match (s.slo.checks.is_empty(), s.slo.passed) {
                (true, _) => Cell::plain("-"),
                (false, true) => Cell::marked("pass", Mark::Pass),
                (false, false) => Cell::marked("FAIL", Mark::Fail),
            });
            t.row(s.name.clone(), cells);
        }
        let title = if v.services.len() > TOP_SERVICES {
            format!(
                "services of {} (the {TOP_SERVICES} most expensive of {})",
                v.name,
                v.services.len()
            )
        } else {
            format!("services of {} ({})", v.name, v.services.len())
        };
        out.push((title, t));
    }
    out
}

pub(crate) fn text_summary(r: &RunResult, color: bool) -> String {
    summary(r, false, color)
}

pub(crate) fn markdown_summary(r: &RunResult) -> String {
    summary(r, true, false)
}

/// The one layout of both summaries: the run, its tables, the trade-offs, the SLO verdict and
/// the command that reproduces it; as markdown (a title, `###` headings, list items, a ✅/❌
/// verdict) or as aligned text (the verdict painted when `color`).
fn summary(r: &RunResult, markdown: bool, color: bool) -> String {
    let mut o = String::new();
    if markdown {
        let _ = writeln!(o, "## scalelab: {}", r.scenario);
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "{}", run_title(r));
    let _ = writeln!(o);
    let table = |t: &crate::table::Table| {
        if markdown {
            t.to_markdown()
        } else {
            t.to_text(color)
        }
    };
    o.push_str(&table(&summary_table(r)));
    for (title, t) in service_tables(r) {
        let _ = writeln!(o);
        if markdown {
            let _ = writeln!(o, "### {}", crate::table::md_escape(&title));
            let _ = writeln!(o);
        } else {
            let _ = writeln!(o, "{title}");
        }
        o.push_str(&table(&t));
    }
    let sentences = tradeoff::tradeoff_sentences(r);
    if !sentences.is_empty() {
        let _ = writeln!(o);
        let item = if markdown { "- " } else { "" };
        for s in sentences {
            let _ = writeln!(o, "{item}{s}");
        }
    }
    if let Some(v) = slo_verdict(r) {
        let _ = writeln!(o);
        let verdict = match (markdown, color, slo_failures(r).is_empty()) {
            (true, _, true) => format!("✅ {v}"),
            (true, _, false) => format!("❌ {v}"),
            (false, false, _) => v,
            (false, true, true) => format!("\x1b[32m{v}\x1b[0m"),
            (false, true, false) => format!("\x1b[1;31m{v}\x1b[0m"),
        };
        let _ = writeln!(o, "{verdict}");
    }
    if let Some(cmd) = reproduce_command(r) {
        if markdown {
            let _ = writeln!(o);
            let _ = writeln!(o, "Reproduce: `{cmd}`");
        } else {
            let _ = writeln!(o, "reproduce: {cmd}");
        }
    }
    o
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn timeseries_csv(r: &RunResult) -> String {
    let rows: usize = r
        .variants
        .iter()
        .filter_map(|v| v.series.as_ref())
        .map(|s| s.rows.len())
        .sum();
    let mut o = String::with_capacity(80 * (rows + 1));
    let _ = writeln!(o, "variant,{}", scalelab_core::result::SERIES_CSV_HEADER);
    for v in &r.variants {
        let Some(series) = &v.series else { continue };
        let name = csv_field(&v.name);
        for row in &series.rows {
            o.push_str(&name);
            o.push(',');
            scalelab_core::result::push_csv_row(&mut o, row);
        }
    }
    o
}

pub(crate) fn junit_xml(r: &RunResult) -> String {
    let total: usize = r.variants.iter().map(|v| v.slo.checks.len()).sum();
    let failed = slo_failures(r).len();
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"scalelab {}\" tests=\"{total}\" failures=\"{failed}\">",
        html_escape(&r.scenario)
    );
    for v in &r.variants {
        let vf = v.slo.checks.iter().filter(|c| !c.passed).count();
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}/{}\" tests=\"{}\" failures=\"{vf}\">",
            html_escape(&r.scenario),
            html_escape(&v.name),
            v.slo.checks.len()
        );
        let _ = writeln!(
            o,
            "    <properties><property name=\"seed\" value=\"{}\"/></properties>",
            r.seed
        );
        for c in &v.slo.checks {
            // The name is the check's key, never a value: CI history follows a test case by
            // its name, so it must be the same from run to run (thresholds and measurements
            // are in the failure message).
            let classname = format!("scalelab.{}.{}", r.scenario, v.name);
            let _ = write!(
                o,
                "    <testcase classname=\"{}\" name=\"{}\"",
                html_escape(&classname),
                html_escape(&c.name)
            );
            if c.passed {
                o.push_str("/>\n");
            } else {
                let msg = format!("{} is {}", check_label(c), check_value(c));
                let _ = writeln!(
                    o,
                    ">\n      <failure message=\"{}\" type=\"slo\">{} measured {}, threshold {} \
                     {}</failure>\n    </testcase>",
                    html_escape(&msg),
                    html_escape(&c.name),
                    c.actual,
                    c.threshold,
                    html_escape(&c.unit)
                );
            }
        }
        o.push_str("  </testsuite>\n");
    }
    o.push_str("</testsuites>\n");
    o
}
