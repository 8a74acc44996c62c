//! The result document of a load run (`mode: "load"`), merging shards' documents exactly, and
//! the text summary.
//!
//! Besides the shared fields, a variant's `extra` holds what only a load run measures:
//!
//! | key | meaning |
//! | --- | --- |
//! | `loop` | `"open"` or `"closed"` |
//! | `url`, `shard` | the target, and `i/n` |
//! | `outcomes` | requests per [`Outcome`] (`http_2xx`, `connect_refused`, `reset`, …) |
//! | `send_lag_ms` | send lag percentiles (open loop) |
//! | `target_rate_per_s`, `achieved_rate_per_s` | per second: intended and actual sends |
//! | `target_rate`, `achieved_rate` | the same over the whole schedule, per second |
//! | `behind_seconds` | seconds whose send lag exceeded `lag_warn_ms` |
//! | `latency_hdr`, `send_lag_hdr` | the full histograms, V2 + deflate, base64 (µs) |
//! | `connections_opened`, `peak_connections`, `bytes_received`, `unsent`, `elapsed_s` | |

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use scalelab_core::result::{
    Latency, Mode, Requests, RunResult, SCHEMA_VERSION, Series, SeriesRow, VariantResult, round3,
};
use serde_json::{Value, json};

use crate::outcome::{Bucket, OUTCOMES};
use crate::recorder::new_histogram;
use crate::{LoadConfig, LoadError, LoadReport, LoopMode};

/// A histogram as base64 of its V2 + deflate serialization (HdrHistogram's interchange form).
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into memory cannot fail");
    STANDARD.encode(buf)
}

/// The inverse of [`encode_histogram`] (also reads plain V2).
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HdrHistogram: {e:?}"))
}

fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |us: u64| round3(us as f64 / 1000.0);
    Latency {
        count: h.len(),
        mean: round3(h.mean() / 1000.0),
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

fn lag_json(h: &Histogram<u64>) -> Value {
    let l = latency(h);
    json!({ "mean": l.mean, "p50": l.p50, "p90": l.p90, "p99": l.p99, "p999": l.p999,
            "max": l.max })
}

/// The result document of one run.
pub fn to_result(cfg: &LoadConfig, report: &LoadReport) -> RunResult {
    let r = &report.recorder;
    let requests = Requests {
        arrived: r.dispatched,
        completed: r.count(Bucket::Completed),
        rejected: r.count(Bucket::Rejected),
        timed_out: r.count(Bucket::TimedOut),
        in_flight_at_end: r.count(Bucket::InFlightAtEnd),
    };
    let open = matches!(cfg.mode, LoopMode::Open(_));
    let rows: Vec<SeriesRow> = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| SeriesRow {
            t_s: i as f64,
            arrivals: row.sent,
            completions: row.completions,
            errors: row.errors,
            in_flight: row.in_flight,
            queued: row.queued,
            p99_ms: round3(row.p99_ms),
            ..SeriesRow::default()
        })
        .collect();
    let secs = cfg.duration.as_secs_f64().max(1e-9);
    let mut extra = BTreeMap::new();
    extra.insert("loop".into(), json!(if open { "open" } else { "closed" }));
    extra.insert("url".into(), json!(cfg.url));
    extra.insert("shard".into(), json!(cfg.shard.to_string()));
    let outcomes: BTreeMap<&str, u64> =
        OUTCOMES.iter().map(|o| (o.name(), r.outcome(*o))).collect();
    extra.insert("outcomes".into(), json!(outcomes));
    extra.insert(
        "achieved_rate_per_s".into(),
        json!(r.rows.iter().map(|x| x.sent).collect::<Vec<_>>()),
    );
    let duration_secs = (cfg.duration.as_secs_f64().ceil() as usize).max(1);
    let sent_in_schedule: u64 = r.rows.iter().take(duration_secs).map(|x| x.sent).sum();
    extra.insert(
        "achieved_rate".into(),
        json!(round3(sent_in_schedule as f64 / secs)),
    );
    if open {
        extra.insert(
            "target_rate_per_s".into(),
            json!(r.rows.iter().map(|x| x.target).collect::<Vec<_>>()),
        );
        let target: u64 = r.rows.iter().map(|x| x.target).sum::<u64>() + report.unsent;
        extra.insert("target_rate".into(), json!(round3(target as f64 / secs)));
        extra.insert("send_lag_ms".into(), lag_json(&r.send_lag));
        extra.insert("send_lag_hdr".into(), json!(encode_histogram(&r.send_lag)));
        let lag_warn_us = cfg.lag_warn.as_micros() as u64;
        let behind: Vec<usize> = r
            .rows
            .iter()
            .enumerate()
            .filter(|(_, x)| x.max_lag_us > lag_warn_us)
            .map(|(i, _)| i)
            .collect();
        extra.insert("behind_seconds".into(), json!(behind));
        extra.insert(
            "lag_warn_ms".into(),
            json!(round3(cfg.lag_warn.as_secs_f64() * 1000.0)),
        );
        extra.insert("unsent".into(), json!(report.unsent));
    } else if let LoopMode::Closed { connections } = cfg.mode {
        extra.insert("connections".into(), json!(connections));
    }
    extra.insert("latency_hdr".into(), json!(encode_histogram(&r.latency)));
    extra.insert(
        "connections_opened".into(),
        json!(report.connections_opened),
    );
    extra.insert("peak_connections".into(), json!(report.peak_connections));
    extra.insert("bytes_received".into(), json!(r.bytes_received));
    extra.insert(
        "elapsed_s".into(),
        json!(round3(report.elapsed.as_secs_f64())),
    );
    if let Some(why) = &report.stopped_early {
        extra.insert("stopped_early".into(), json!(why));
    }
    let variant = VariantResult {
        name: scalelab_core::scenario::BASELINE.into(),
        requests,
        latency_ms: latency(&r.latency),
        series: Some(Series {
            bucket_s: 1.0,
            rows,
        }),
        extra,
        ..VariantResult::default()
    };
    RunResult {
        schema: SCHEMA_VERSION,
        scenario: cfg.name.clone(),
        seed: cfg.seed,
        mode: Mode::Load,
        variants: vec![variant],
        scalelab_version: env!("CARGO_PKG_VERSION").into(),
        scenario_path: None,
        command: None,
        duration_s: round3(cfg.duration.as_secs_f64()),
        time_scale: None,
        resolved_scenario: None,
    }
}

fn hist_from(
    v: &VariantResult,
    key: &str,
    doc: usize,
) -> Result<Option<Histogram<u64>>, LoadError> {
    match v.extra.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => decode_histogram(s)
            .map(Some)
            .map_err(|e| LoadError::Merge(format!("result {doc}, variant {}: {key}: {e}", v.name))),
        Some(_) => Err(LoadError::Merge(format!(
            "result {doc}, variant {}: {key} is not a string",
            v.name
        ))),
    }
}

fn add_u64_arrays(into: &mut Vec<u64>, from: Option<&Value>) {
    if let Some(Value::Array(a)) = from {
        if into.len() < a.len() {
            into.resize(a.len(), 0);
        }
        for (i, x) in a.iter().enumerate() {
            into[i] += x.as_u64().unwrap_or(0);
        }
    }
}

fn u64_of(v: &VariantResult, key: &str) -> u64 {
    v.extra.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Combines the documents of load runs that split one schedule (`--shard i/n`) into the
/// document of the whole: counters and per-second rows are summed, latency and send-lag
/// percentiles come from the exact sum of the embedded HDR histograms. Each row's `p99_ms` is
/// the largest of the shards' (an upper bound: a per-second histogram is not kept).
///
/// Errors when a document is not a load result, lacks its histogram, the seeds or variants
/// differ, or a shard appears twice.
pub fn merge(results: &[RunResult]) -> Result<RunResult, LoadError> {
    let first = results
        .first()
        .ok_or_else(|| LoadError::Merge("no results given".into()))?;
    let mut shards: Vec<String> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        if r.mode != Mode::Load {
            return Err(LoadError::Merge(format!(
                "result {i} is not a load result (mode {:?})",
                r.mode
            )));
        }
        if r.seed != first.seed {
            return Err(LoadError::Merge(format!(
                "result {i} has seed {} but result 0 has {}: shards of one schedule share a seed",
                r.seed, first.seed
            )));
        }
        let names: Vec<&str> = r.variants.iter().map(|v| v.name.as_str()).collect();
        let first_names: Vec<&str> = first.variants.iter().map(|v| v.name.as_str()).collect();
        if names != first_names {
            return Err(LoadError::Merge(format!(
                "result {i} has variants {names:?} but result 0 has {first_names:?}"
            )));
        }
        if let Some(s) = r
            .variants
            .first()
            .and_then(|v| v.extra.get("shard"))
            .and_then(Value::as_str)
        {
            if s != "0/1" && shards.iter().any(|x| x == s) {
                return Err(LoadError::Merge(format!("shard {s} is given twice")));
            }
            shards.push(s.to_string());
        }
    }
    let mut variants = Vec::new();
    for (vi, base) in first.variants.iter().enumerate() {
        let mut requests = Requests::default();
        let mut latency_h = new_histogram();
        let mut lag_h: Option<Histogram<u64>> = None;
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        let (mut target, mut achieved) = (Vec::new(), Vec::new());
        let mut rows: Vec<SeriesRow> = Vec::new();
        let mut behind: Vec<u64> = Vec::new();
        let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
        let (mut target_rate, mut achieved_rate, mut elapsed) = (0.0, 0.0, 0.0f64);
        for (di, doc) in results.iter().enumerate() {
            let v = &doc.variants[vi];
            requests.arrived += v.requests.arrived;
            requests.completed += v.requests.completed;
            requests.rejected += v.requests.rejected;
            requests.timed_out += v.requests.timed_out;
            requests.in_flight_at_end += v.requests.in_flight_at_end;
            let h = hist_from(v, "latency_hdr", di)?.ok_or_else(|| {
                LoadError::Merge(format!(
                    "result {di}, variant {}: no latency_hdr (was it written by scalelab load?)",
                    v.name
                ))
            })?;
            latency_h
                .add(&h)
                .map_err(|e| LoadError::Merge(format!("result {di}: {e:?}")))?;
            if let Some(h) = hist_from(v, "send_lag_hdr", di)? {
                match &mut lag_h {
                    Some(acc) => acc
                        .add(&h)
                        .map_err(|e| LoadError::Merge(format!("result {di}: {e:?}")))?,
                    None => lag_h = Some(h),
                }
            }
            if let Some(Value::Object(o)) = v.extra.get("outcomes") {
                for (k, n) in o {
                    *outcomes.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
                }
            }
            add_u64_arrays(&mut target, v.extra.get("target_rate_per_s"));
            add_u64_arrays(&mut achieved, v.extra.get("achieved_rate_per_s"));
            if let Some(Value::Array(b)) = v.extra.get("behind_seconds") {
                behind.extend(b.iter().filter_map(Value::as_u64));
            }
            for key in [
                "connections_opened",
                "peak_connections",
                "bytes_received",
                "unsent",
                "connections",
            ] {
                *sums.entry(key).or_default() += u64_of(v, key);
            }
            target_rate += v
                .extra
                .get("target_rate")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            achieved_rate += v
                .extra
                .get("achieved_rate")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            elapsed = elapsed.max(
                v.extra
                    .get("elapsed_s")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            );
            if let Some(series) = &v.series {
                for (i, row) in series.rows.iter().enumerate() {
                    if rows.len() <= i {
                        rows.push(SeriesRow {
                            t_s: row.t_s,
                            ..SeriesRow::default()
                        });
                    }
                    let m = &mut rows[i];
                    m.arrivals += row.arrivals;
                    m.completions += row.completions;
                    m.errors += row.errors;
                    m.in_flight += row.in_flight;
                    m.queued += row.queued;
                    m.p99_ms = m.p99_ms.max(row.p99_ms);
                }
            }
        }
        behind.sort_unstable();
        behind.dedup();
        let mut extra = base.extra.clone();
        extra.insert(
            "shard".into(),
            json!(if shards.is_empty() {
                "merged".to_string()
            } else {
                shards.join(",")
            }),
        );
        extra.insert("merged_from".into(), json!(results.len()));
        extra.insert("outcomes".into(), json!(outcomes));
        extra.insert("latency_hdr".into(), json!(encode_histogram(&latency_h)));
        extra.insert("achieved_rate_per_s".into(), json!(achieved));
        extra.insert("achieved_rate".into(), json!(round3(achieved_rate)));
        if let Some(h) = &lag_h {
            extra.insert("send_lag_hdr".into(), json!(encode_histogram(h)));
            extra.insert("send_lag_ms".into(), lag_json(h));
            extra.insert("target_rate_per_s".into(), json!(target));
            extra.insert("target_rate".into(), json!(round3(target_rate)));
            extra.insert("behind_seconds".into(), json!(behind));
        }
        for (k, n) in sums {
            if base.extra.contains_key(k) {
                extra.insert(k.into(), json!(n));
            }
        }
        extra.insert("elapsed_s".into(), json!(elapsed));
        variants.push(VariantResult {
            name: base.name.clone(),
            requests,
            latency_ms: latency(&latency_h),
            series: Some(Series {
                bucket_s: 1.0,
                rows,
            }),
            extra,
            slo: base.slo.clone(),
            ..VariantResult::default()
        });
    }
    Ok(RunResult {
        variants,
        command: None,
        duration_s: results.iter().map(|r| r.duration_s).fold(0.0, f64::max),
        ..first.clone()
    })
}

/// The text summary of a load result, one block per variant.
pub fn summary(doc: &RunResult) -> String {
    let mut out = String::new();
    for v in &doc.variants {
        let q = &v.requests;
        let l = &v.latency_ms;
        let x = |k: &str| v.extra.get(k);
        let lp = x("loop").and_then(Value::as_str).unwrap_or("open");
        out += &format!(
            "{} ({lp} loop{}) against {}\n",
            doc.scenario,
            x("shard")
                .and_then(Value::as_str)
                .filter(|s| *s != "0/1")
                .map(|s| format!(", shard {s}"))
                .unwrap_or_default(),
            x("url").and_then(Value::as_str).unwrap_or("?"),
        );
        out += &format!(
            "  requests   {:>10} sent   {:>10} completed   {:>8} rejected   {:>8} timed out   {:>6} aborted at end\n",
            q.arrived, q.completed, q.rejected, q.timed_out, q.in_flight_at_end
        );
        let rate = |k: &str| x(k).and_then(Value::as_f64);
        match (rate("target_rate"), rate("achieved_rate")) {
            (Some(t), Some(a)) => {
                let pct = if t > 0.0 { 100.0 * a / t } else { 100.0 };
                out +=
                    &format!("  rate       {a:>10.1}/s achieved of {t:.1}/s target ({pct:.2} %)\n");
            }
            (None, Some(a)) => out += &format!("  rate       {a:>10.1}/s\n"),
            _ => {}
        }
        out += &format!(
            "  latency ms  mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  (from the intended send time)\n",
            l.mean, l.p50, l.p90, l.p99, l.p999, l.max
        );
        if let Some(Value::Object(lag)) = x("send_lag_ms") {
            let g = |k: &str| lag.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            out += &format!(
                "  send lag ms p50 {:.3}  p99 {:.3}  max {:.3}\n",
                g("p50"),
                g("p99"),
                g("max")
            );
        }
        if let Some(Value::Object(o)) = x("outcomes") {
            let parts: Vec<String> = o
                .iter()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            out += &format!(
                "  outcomes   {}\n",
                if parts.is_empty() {
                    "none".into()
                } else {
                    parts.join(", ")
                }
            );
        }
        if let Some(Value::Array(b)) =
            x("behind_seconds").filter(|b| b.as_array().is_some_and(|a| !a.is_empty()))
        {
            {
                let list: Vec<String> = b.iter().take(10).map(|s| s.to_string()).collect();
                out += &format!(
                    "  WARNING: the generator fell behind its schedule in {} second(s) (t = {}{}s); \
                     latencies still count from the intended times\n",
                    b.len(),
                    list.join(", "),
                    if b.len() > 10 { ", …" } else { "" }
                );
            }
        }
        if let Some(u) = x("unsent").and_then(Value::as_u64).filter(|&u| u > 0) {
            out += &format!("  WARNING: {u} scheduled request(s) were never sent\n");
        }
        if let Some(s) = x("stopped_early").and_then(Value::as_str) {
            out += &format!("  STOPPED EARLY: {s}\n");
        }
        if !v.slo.checks.is_empty() {
            for c in &v.slo.checks {
                out += &format!(
                    "  slo {:<12} {:>10.3} {} (limit {:.3}) {}\n",
                    c.name,
                    c.actual,
                    c.unit,
                    c.threshold,
                    if c.passed { "ok" } else { "BREACH" }
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use scalelab_core::Time;
    use scalelab_core::workload::WorkloadSpec;

    use super::*;
    use crate::recorder::Recorder;
    use crate::{Outcome, Shard};

    fn report(samples: &[(u64, u64, Outcome)]) -> LoadReport {
        let mut r = Recorder::default();
        let mut ends = Vec::new();
        for &(at_us, lat_us, o) in samples {
            let at = Time::from_nanos(at_us * 1000);
            r.dispatched(at, at + Duration::from_micros(at_us % 97), true);
            ends.push((at + Duration::from_micros(lat_us), at, o));
        }
        // A run records completions in time order.
        ends.sort();
        for (end, at, o) in ends {
            r.finished(at, end, o, 2);
        }
        r.finish(Time::from_secs(3));
        LoadReport {
            recorder: r,
            elapsed: Duration::from_secs(3),
            connections_opened: 1,
            peak_connections: 1,
            unsent: 0,
            stopped_early: None,
        }
    }

    /// Merging the shards' documents gives exactly the histogram of one run over all samples.
    #[test]
    fn merged_histograms_equal_the_single_run() {
        let samples: Vec<(u64, u64, Outcome)> = (0..5000u64)
            .map(|i| {
                let lat = 200 + (i * 7919) % 250_000;
                let o = if i % 13 == 0 {
                    Outcome::Http5xx
                } else {
                    Outcome::Http2xx
                };
                (i * 500, lat, o)
            })
            .collect();
        let cfg = |shard| {
            let mut c = LoadConfig::new(
                "http://127.0.0.1:1/",
                WorkloadSpec::default(),
                Duration::from_secs(3),
            );
            c.shard = shard;
            c
        };
        let whole = to_result(&cfg(Shard::ALL), &report(&samples));
        let n = 3;
        let docs: Vec<RunResult> = (0..n)
            .map(|i| {
                let part: Vec<_> = samples
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|(k, _)| *k as u32 % n == i)
                    .map(|(_, s)| s)
                    .collect();
                to_result(&cfg(Shard { index: i, count: n }), &report(&part))
            })
            .collect();
        let merged = merge(&docs).unwrap();
        let (m, w) = (&merged.variants[0], &whole.variants[0]);
        let hist =
            |v: &VariantResult, k: &str| decode_histogram(v.extra[k].as_str().unwrap()).unwrap();
        assert_eq!(hist(m, "latency_hdr"), hist(w, "latency_hdr"));
        assert_eq!(hist(m, "send_lag_hdr"), hist(w, "send_lag_hdr"));
        assert_eq!(m.latency_ms, w.latency_ms);
        assert_eq!(m.requests, w.requests);
        assert_eq!(m.extra["outcomes"], w.extra["outcomes"]);
        assert_eq!(m.extra["send_lag_ms"], w.extra["send_lag_ms"]);
        assert_eq!(m.extra["target_rate_per_s"], w.extra["target_rate_per_s"]);
        let rows = |v: &VariantResult| {
            v.series
                .as_ref()
                .unwrap()
                .rows
                .iter()
                .map(|r| (r.arrivals, r.completions, r.errors))
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(m), rows(w));
    }

    #[test]
    fn merge_rejects_what_does_not_belong_together() {
        let cfg = LoadConfig::new(
            "http://127.0.0.1:1/",
            WorkloadSpec::default(),
            Duration::from_secs(1),
        );
        let a = to_result(&cfg, &report(&[(1, 100, Outcome::Http2xx)]));
        assert!(merge(&[]).is_err());
        let mut b = a.clone();
        b.seed = 9;
        assert!(merge(&[a.clone(), b]).is_err());
        let mut c = a.clone();
        c.mode = Mode::Sim;
        assert!(merge(&[a.clone(), c]).is_err());
        let mut d = a.clone();
        d.variants[0].extra.remove("latency_hdr");
        assert!(merge(&[a.clone(), d]).is_err());
        let mut e = a.clone();
        e.variants[0]
            .extra
            .insert("latency_hdr".into(), json!("%%%"));
        assert!(merge(&[a, e]).is_err());
    }
}
