//! One self-contained HTML page: inline CSS and inline SVG charts, no scripts, no external
//! assets, so it opens offline and can be attached to a CI run as a single file.

use std::fmt::Write;

use scalelab_core::result::RunResult;

use crate::charts::{self, ChartKind};
use crate::exporters::{reproduce_command, run_title, slo_failures, slo_verdict, summary_table};
use crate::table::html_escape;
use crate::{Comparison, Exporter, ReportError, tradeoff};

/// The HTML report of one run.
#[derive(Clone, Copy, Debug)]
pub struct HtmlExporter {
    /// Chart size in pixels (the SVG scales down to the page width).
    pub chart_size: (u32, u32),
}

impl Default for HtmlExporter {
    fn default() -> Self {
        HtmlExporter {
            chart_size: charts::SIZE,
        }
    }
}

const CSS: &str = r#"
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 16px 24px 48px; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: 0; } .meta { color: #555; margin-top: 4px; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px; }
th, td { padding: 3px 12px; border-bottom: 1px solid #eee; }
td { text-align: right; } tbody th { text-align: left; font-weight: normal; padding-left: 22px; }
thead th { text-align: right; border-bottom: 2px solid #bbb; } thead th:first-child { text-align: left; }
tr.section th { text-align: left; font-weight: bold; padding-left: 8px; background: #f5f5f7; }
.pass { color: #1a7f37; } .fail { color: #c62828; font-weight: bold; }
.verdict { font-size: 16px; padding: 8px 12px; border-radius: 6px; list-style: none; }
div.verdict.pass, ul.verdict.pass { background: #e8f5e9; } div.verdict.fail, ul.verdict.fail { background: #ffebee; }
figure { margin: 24px 0; } figure svg { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 14px; margin-top: 4px; }
pre { background: #f5f5f7; padding: 12px; overflow-x: auto; font-size: 12px; }
code { background: #f5f5f7; padding: 1px 4px; }
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        html_escape(title)
    )
}

/// What a reader should look for in each chart.
fn chart_help(kind: &ChartKind, mode: scalelab_core::result::Mode) -> &'static str {
    if mode == scalelab_core::result::Mode::Load {
        match kind {
            ChartKind::Timeline(_) => {
                return "Top: requests sent per second (the schedule as it was kept), answered \
                        (dashed) and failed. Bottom: the 99th percentile latency of the \
                        requests answered in each second, from their intended send time.";
            }
            ChartKind::Latency => {
                return "Latency percentiles of the answered requests on a log scale, measured \
                        from each request's intended send time.";
            }
            _ => {}
        }
    }
    match kind {
        ChartKind::Timeline(_) => {
            "Top: requests arriving per second. Bottom: instances ready to serve (green) and \
             the autoscaler's desired count (dashed). Orange bands: the autoscaler was in panic \
             mode (a burst outran the stable window). Grey bands: no instance at all, so the next \
             request waits for a cold start."
        }
        ChartKind::Instances => {
            "Ready instances of each variant over time: the area under a line is what \
             instance-billed platforms charge for."
        }
        ChartKind::Latency => {
            "Latency percentiles per variant on a log scale; the panels split requests that found \
             a warm instance from those that waited for a cold start."
        }
        ChartKind::LatencyCdf => {
            "Share of requests answered within a latency. The vertical axis is stretched towards \
             the tail (90%, 99%, 99.9% are evenly spaced): the further right a line reaches at the \
             top, the slower its slowest requests."
        }
        ChartKind::ColdStarts => "Instances started so far: each start is a cold start.",
        ChartKind::Cost => {
            "What a million requests cost under each billing model; the same traffic, the same \
             autoscaler, different price rules."
        }
        ChartKind::Revisions(_) => {
            "Top: each revision's share of the traffic split over time (a deploy, a canary, a \
             rollout's steps or a rollback). Bottom: each revision's ready instances: where the \
             lines overlap, the old and the new fleet run (and bill) side by side."
        }
    }
}

/// Inline SVG without an XML prolog or namespace declaration (HTML5 does not need it, and the
/// page then names no URL at all).
fn inline_svg(svg: &str) -> String {
    let s = svg.find("<svg").map_or(svg, |i| &svg[i..]);
    s.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

impl HtmlExporter {
    fn body(&self, r: &RunResult) -> Result<String, ReportError> {
        let mut b = String::new();
        let _ = writeln!(b, "<h1>{}</h1>", html_escape(&r.scenario));
        let _ = writeln!(b, "<p class=\"meta\">{}</p>", html_escape(&run_title(r)));

        b.push_str("<h2>Summary</h2>\n");
        if let Some(v) = slo_verdict(r) {
            let class = if slo_failures(r).is_empty() {
                "pass"
            } else {
                "fail"
            };
            let _ = writeln!(
                b,
                "<div class=\"verdict {class}\">{}</div>",
                html_escape(&v)
            );
        }
        let sentences = tradeoff::tradeoff_sentences(r);
        if !sentences.is_empty() {
            b.push_str("<h3>Trade-off</h3>\n<ul>\n");
            for s in sentences {
                let _ = writeln!(b, "<li>{}</li>", html_escape(&s));
            }
            b.push_str("</ul>\n");
        }
        b.push_str(&summary_table(r).to_html());
        for (title, t) in crate::exporters::service_tables(r) {
            let _ = writeln!(b, "<h3>{}</h3>", html_escape(&title));
            b.push_str(&t.to_html());
        }

        let list = charts::charts_for(r);
        if !list.is_empty() {
            b.push_str("<h2>Charts</h2>\n");
        }
        for c in &list {
            let svg = charts::render_svg(r, c, self.chart_size)?;
            let _ = writeln!(
                b,
                "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
                html_escape(&c.name),
                inline_svg(&svg),
                html_escape(chart_help(&c.kind, r.mode))
            );
        }

        b.push_str("<h2>Reproduce</h2>\n<ul>\n");
        let _ = writeln!(b, "<li>seed: <code>{}</code></li>", r.seed);
        if let Some(cmd) = reproduce_command(r) {
            let _ = writeln!(b, "<li>command: <code>{}</code></li>", html_escape(&cmd));
        }
        if let Some(p) = &r.scenario_path {
            let _ = writeln!(b, "<li>scenario file: <code>{}</code></li>", html_escape(p));
        }
        if !r.scalelab_version.is_empty() {
            let _ = writeln!(
                b,
                "<li>scalelab version: <code>{}</code></li>",
                html_escape(&r.scalelab_version)
            );
        }
        b.push_str("</ul>\n");
        if let Some(s) = &r.resolved_scenario {
            let pretty = serde_json::to_string_pretty(s)?;
            let _ = writeln!(
                b,
                "<h2>Scenario as resolved</h2>\n<details open>\n<summary>every default filled in, \
                 variants expanded</summary>\n<pre>{}</pre>\n</details>",
                html_escape(&pretty)
            );
        }
        Ok(b)
    }
}

impl Exporter for HtmlExporter {
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError> {
        let body = self.body(r)?;
        Ok(page(&format!("scalelab: {}", r.scenario), &body).into_bytes())
    }
}

impl Comparison {
    /// A self-contained HTML page of this comparison.
    pub fn to_html(&self) -> String {
        let mut b = String::from("<h1>scalelab comparison</h1>\n");
        b.push_str(&self.to_html_fragment());
        page("scalelab comparison", &b)
    }
}
