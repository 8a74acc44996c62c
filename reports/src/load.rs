//! Load results: reading saved result documents (with errors that say what is wrong), and the
//! text summary of a `scalelab load` run ([`load_text`]).

use std::fmt::Write as _;
use std::path::Path;

use scalelab_core::result::{RunResult, SCHEMA_VERSION, VariantResult};
use serde_json::Value;

use crate::ReportError;
use crate::exporters::{check_label, check_value};

/// Reads a result document: a JSON file, or a directory holding `result.json` (what
/// [`crate::write_bundle`] writes).
pub fn load_result(path: &Path) -> Result<RunResult, ReportError> {
    let shown = path.display().to_string();
    let file = if path.is_dir() {
        let f = path.join("result.json");
        if !f.is_file() {
            return Err(ReportError::BadInput {
                path: shown,
                message: "directory has no result.json (is it the output of `--out DIR`?)".into(),
            });
        }
        f
    } else {
        path.to_path_buf()
    };
    let shown_file = file.display().to_string();
    let open = || {
        std::fs::File::open(&file)
            .map(std::io::BufReader::new)
            .map_err(|e| {
                let message = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_string(),
                    _ => e.to_string(),
                };
                ReportError::BadInput {
                    path: shown_file.clone(),
                    message,
                }
            })
    };
    // Two streaming passes over the file instead of one text copy and a `serde_json::Value`
    // tree, which took 10–22 times the file's size (a 563 MB result did not fit): the first
    // checks the header, the second builds the typed document directly.
    check_header(
        &mut serde_json::Deserializer::from_reader(open()?),
        &shown_file,
    )?;
    serde_json::from_reader(open()?).map_err(|e| invalid(&shown_file, &e))
}

/// Parses a result document from JSON text; `path` names it in errors.
pub fn parse_result(text: &str, path: &str) -> Result<RunResult, ReportError> {
    check_header(&mut serde_json::Deserializer::from_str(text), path)?;
    serde_json::from_str(text).map_err(|e| invalid(path, &e))
}

fn invalid(path: &str, e: &serde_json::Error) -> ReportError {
    let message = if e.is_syntax() || e.is_eof() || e.is_io() {
        format!(
            "not a scalelab result document: invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    } else {
        format!("not a valid scalelab result document: {e}")
    };
    ReportError::BadInput {
        path: path.to_string(),
        message,
    }
}

/// Checks that the document is a JSON object with a supported `"schema"`, reading it as a
/// stream and keeping nothing but that field.
fn check_header<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    path: &str,
) -> Result<(), ReportError> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
    struct Schema;
    impl<'de> Visitor<'de> for Schema {
        type Value = Option<serde_json::Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut schema = None;
            while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                if k == "schema" {
                    schema = Some(m.next_value::<serde_json::Value>()?);
                } else {
                    m.next_value::<IgnoredAny>()?;
                }
            }
            Ok(schema)
        }
    }
    let bad = |message: String| ReportError::BadInput {
        path: path.to_string(),
        message,
    };
    let schema = de.deserialize_map(Schema).map_err(|e| {
        if e.is_data() {
            bad("not a scalelab result document: expected a JSON object".into())
        } else {
            invalid(path, &e)
        }
    })?;
    de.end().map_err(|e| invalid(path, &e))?;
    match schema {
        None => Err(bad(
            "not a scalelab result document: no \"schema\" field".into()
        )),
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => Ok(()),
        Some(v) => Err(bad(format!(
            "\"schema\": version {v} is not supported (this scalelab reads version \
             {SCHEMA_VERSION})"
        ))),
    }
}

/// `1234567` → `1,234,567`.
fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `p50 …  p90 …  p99 …  max …` of a latency summary object (ms; 0 where a field is missing).
fn percentiles(summary: &serde_json::Map<String, Value>) -> String {
    let g = |k: &str| lat(summary.get(k).and_then(Value::as_f64).unwrap_or(0.0));
    format!(
        "p50 {}  p90 {}  p99 {}  max {}",
        g("p50"),
        g("p90"),
        g("p99"),
        g("max")
    )
}

/// Latency in ms: microsecond precision where it matters (loopback answers in tenths of a ms),
/// fewer digits for long waits.
fn lat(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// A rate per second: whole numbers with separators from 100 up, one decimal below.
fn rate(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 100.0 {
        int(x.round() as u64)
    } else {
        format!("{x:.1}")
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.2} %", 100.0 * part as f64 / whole as f64)
    }
}

/// The text summary of a load result (`scalelab load`, and `scalelab report` of a saved one),
/// one block per variant: what was intended and what became of it, the success ratio, the
/// achieved rate against the target, latency of successful requests (percentiles and a
/// distribution), failed requests on their own line, send lag, connections, warnings and SLO
/// checks. A run without a successful request shows no latency table at all, never zeros.
pub fn load_text(doc: &RunResult) -> String {
    let mut out = String::new();
    for v in &doc.variants {
        variant_text(&mut out, doc, v);
    }
    out
}

fn variant_text(out: &mut String, doc: &RunResult, v: &VariantResult) {
    let x = |k: &str| v.extra.get(k);
    let f = |k: &str| x(k).and_then(Value::as_f64);
    let u = |k: &str| x(k).and_then(Value::as_u64);
    let q = &v.requests;
    let open = x("loop").and_then(Value::as_str) != Some("closed");
    let shard = x("shard")
        .and_then(Value::as_str)
        .filter(|s| *s != "0/1")
        .map(|s| format!(", shard {s}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} ({} loop{shard}) against {} · seed {} · {}",
        doc.scenario,
        if open { "open" } else { "closed" },
        x("url").and_then(Value::as_str).unwrap_or("?"),
        doc.seed,
        crate::fmt::secs(doc.duration_s),
    );
    let outcomes: Vec<(String, u64)> = match x("outcomes") {
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect(),
        _ => Vec::new(),
    };
    let success_names = ["http_2xx", "http_3xx"];
    let ok: u64 = outcomes
        .iter()
        .filter(|(k, _)| success_names.contains(&k.as_str()))
        .map(|(_, n)| n)
        .sum();
    let failed = q.arrived.saturating_sub(ok);
    let sent = u("sent");
    let _ = writeln!(
        out,
        "  requests     {} intended{} · {} succeeded · {} failed",
        int(q.arrived),
        sent.map(|s| format!(" · {} sent", int(s)))
            .unwrap_or_default(),
        int(ok),
        int(failed),
    );
    let _ = writeln!(
        out,
        "  success      {} ({} of {} intended requests got a 1xx-3xx response)",
        pct(ok, q.arrived),
        int(ok),
        int(q.arrived)
    );
    match (f("target_rate"), f("achieved_rate")) {
        (Some(t), Some(a)) if open => {
            let ratio = if t > 0.0 { a / t } else { 1.0 };
            let verdict = if ratio < 0.99 {
                ": TARGET RATE NOT MET"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  rate         {}/s sent on the wire of {}/s intended ({:.2} %){verdict}",
                rate(a),
                rate(t),
                100.0 * ratio
            );
        }
        (_, Some(a)) => {
            let conns = u("connections")
                .map(|c| format!(" over {c} connection(s)"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  rate         {}/s sent (closed loop: as fast as the target answers{conns})",
                rate(a)
            );
        }
        _ => {}
    }
    let dist = x("latency_distribution");
    let pcts = dist.and_then(|d| d.get("percentiles_ms"));
    let p = |k: &str| pcts.and_then(|m| m.get(k)).and_then(Value::as_f64);
    if ok == 0 || v.latency_ms.count == 0 && p("p50").is_none() {
        let _ = writeln!(
            out,
            "  latency      none: no request succeeded, so there is no latency to report"
        );
    } else {
        let l = &v.latency_ms;
        let _ = writeln!(
            out,
            "  latency      of the {} successful requests, ms from the intended send time",
            int(ok)
        );
        let mut cols: Vec<(&str, f64)> = vec![("mean", l.mean)];
        if let Some(m) = p("min") {
            cols.insert(0, ("min", m));
        }
        cols.push(("p50", l.p50));
        if let Some(x) = p("p75") {
            cols.push(("p75", x));
        }
        cols.push(("p90", l.p90));
        if let Some(x) = p("p95") {
            cols.push(("p95", x));
        }
        cols.push(("p99", l.p99));
        cols.push(("p99.9", l.p999));
        if let Some(x) = p("p9999") {
            cols.push(("p99.99", x));
        }
        cols.push(("max", l.max));
        let line: Vec<String> = cols
            .iter()
            .map(|(k, val)| format!("{k} {}", lat(*val)))
            .collect();
        let _ = writeln!(out, "               {}", line.join("  "));
        if let Some(Value::Array(h)) = dist.and_then(|d| d.get("histogram")) {
            let rows: Vec<(f64, u64)> = h
                .iter()
                .filter_map(|b| Some((b.get("to_ms")?.as_f64()?, b.get("count")?.as_u64()?)))
                .collect();
            let most = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
            if rows.len() > 1 {
                let _ = writeln!(out, "  distribution (successful requests, ms)");
                for (to, n) in rows {
                    let bar = "■".repeat(((n * 40).div_ceil(most)) as usize);
                    let _ = writeln!(out, "    ≤ {:>10}  {:>11}  {bar}", lat(to), int(n));
                }
            }
        }
    }
    if failed > 0 {
        let mut parts: Vec<(String, u64)> = outcomes
            .iter()
            .filter(|(k, n)| *n > 0 && !success_names.contains(&k.as_str()))
            .cloned()
            .collect();
        parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let list: Vec<String> = parts
            .iter()
            .map(|(k, n)| format!("{k} {}", int(*n)))
            .collect();
        let _ = writeln!(
            out,
            "  failed       {} ({}): {}",
            int(failed),
            pct(failed, q.arrived),
            list.join(" · ")
        );
        if let Some(Value::Object(fl)) = x("failed_latency_ms")
            && fl.get("count").and_then(Value::as_u64).unwrap_or(0) > 0
        {
            let _ = writeln!(
                out,
                "               time to failure ms: {}",
                percentiles(fl)
            );
        }
    }
    if let Some(Value::Object(lag)) = x("send_lag_ms") {
        let _ = writeln!(
            out,
            "  send lag     ms from the intended time to the write: {}",
            percentiles(lag)
        );
    }
    if let (Some(opened), Some(peak)) = (u("connections_opened"), u("peak_connections")) {
        let waiting = u("peak_waiting")
            .filter(|&w| w > 0)
            .map(|w| format!("; up to {} request(s) waited for one", int(w)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  connections  {} opened, {} at most at once{waiting}",
            int(opened),
            int(peak)
        );
    }
    if let Some(Value::Array(b)) = x("behind_seconds")
        && !b.is_empty()
    {
        let list: Vec<String> = b.iter().take(10).map(|s| s.to_string()).collect();
        let _ = writeln!(
            out,
            "  WARNING: behind schedule in {} second(s) (t = {}{} s): requests were sent later \
             than intended; latencies still count from the intended times",
            b.len(),
            list.join(", "),
            if b.len() > 10 { ", …" } else { "" }
        );
    }
    if let Some(n) = u("queue_full").or_else(|| {
        outcomes
            .iter()
            .find(|(k, _)| k == "queue_full")
            .map(|(_, n)| *n)
    }) && n > 0
    {
        let _ = writeln!(
            out,
            "  WARNING: {} request(s) were dropped unsent because {} already waited for a \
             connection (--max-pending): the target could not take the offered rate",
            int(n),
            u("max_pending")
                .map(int)
                .unwrap_or_else(|| "too many".into())
        );
    }
    if let Some(s) = x("stopped_early").and_then(Value::as_str) {
        let _ = writeln!(out, "  STOPPED EARLY: {s}");
    }
    if let Some(e) = x("most_common_error").and_then(Value::as_str)
        && ok == 0
        && q.arrived > 0
    {
        let _ = writeln!(
            out,
            "  FAILED: no request succeeded; the most common outcome was {e}"
        );
    }
    for c in &v.slo.checks {
        let _ = writeln!(
            out,
            "  slo          {}: {} {}",
            check_label(c),
            check_value(c),
            if c.passed { "ok" } else { "BREACH" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_problem() {
        let e = parse_result("{", "a.json").unwrap_err().to_string();
        assert!(
            e.starts_with("a.json: not a scalelab result document: invalid JSON"),
            "{e}"
        );
        let e = parse_result("[1]", "a.json").unwrap_err().to_string();
        assert!(e.contains("expected a JSON object"), "{e}");
        let e = parse_result("{\"x\": 1}", "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no \"schema\" field"), "{e}");
        let e = parse_result("{\"schema\": 2}", "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2 is not supported"), "{e}");
        let e = parse_result("{\"schema\": 1}", "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field"), "{e}");
    }

    #[test]
    fn thousands_and_latency_formats() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(int(n), want);
        }
        for (ms, want) in [(0.4123, "0.412"), (250.0, "250.0"), (5700.4, "5700")] {
            assert_eq!(lat(ms), want, "lat({ms})");
        }
        for (r, want) in [(66184.1, "66,184"), (12.34, "12.3")] {
            assert_eq!(rate(r), want, "rate({r})");
        }
    }

    #[test]
    fn missing_file_and_empty_directory() {
        let e = load_result(Path::new("no/such/result.json")).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        let e = load_result(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_err();
        assert!(e.to_string().contains("no result.json"), "{e}");
    }
}
