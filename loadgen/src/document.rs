//! The result document of a load run (`mode: "load"`) and merging shards' documents exactly.
//! (The text summary of a load result is `scalelab_reports::load_text`.)
//!
//! `requests.arrived` is every *intended* request; `latency_ms` covers successful requests
//! only (1xx–3xx), from their intended send time. Besides the shared fields, a variant's `extra`
//! holds what only a load run measures:
//!
//! | key | meaning |
//! | --- | --- |
//! | `loop` | `"open"` or `"closed"` |
//! | `url`, `shard` | the target, and `i/n` |
//! | `outcomes` | requests per [`Outcome`] (`http_2xx`, `connect_refused`, `reset`, `not_sent`, `queue_full`, …); they add up to `requests.arrived` |
//! | `sent` | requests written to a connection |
//! | `success_ratio` | successful requests / intended requests |
//! | `most_common_error` | the failure outcome with the highest count (absent without failures) |
//! | `latency_distribution` | `percentiles_ms` (`min`, `p50`, `p75`, `p90`, `p95`, `p99`, `p999`, `p9999`, `max`) and `histogram` (`[{ "to_ms", "count" }]`, log-spaced) of successful requests |
//! | `failed_latency_ms`, `failed_latency_hdr` | time to failure of failed, attempted requests |
//! | `send_lag_ms` | send lag percentiles: written to a connection − intended (open loop) |
//! | `target_rate_per_s`, `achieved_rate_per_s` | per second: intended sends and sends on the wire |
//! | `target_rate`, `achieved_rate` | the same over the whole schedule, per second |
//! | `behind_seconds` | seconds whose send lag exceeded `lag_warn_ms` |
//! | `latency_hdr`, `send_lag_hdr` | the full histograms, V2 + deflate, base64 (µs) |
//! | `connections_opened`, `peak_connections`, `peak_waiting`, `max_pending`, `bytes_received`, `unsent`, `elapsed_s` | |
//!
//! Every percentile is [`value_at_percentile`]: the value HdrHistogram's own tooling reports for
//! the same histogram (the highest value equivalent to the bucket holding the ⌈p·n/100⌉-th
//! sample).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use scalelab_core::result::{
    Latency, Mode, Requests, RunResult, SCHEMA_VERSION, Series, SeriesCoarsening, SeriesRow,
    VariantResult,
};
use serde_json::{Value, json};

use crate::outcome::{Bucket, OUTCOMES, Outcome};
use crate::recorder::{new_histogram, value_at_percentile};
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
    let p = |x: f64| ms(value_at_percentile(h, x));
    Latency {
        count: h.len(),
        mean: h.mean() / 1000.0,
        p50: p(50.0),
        p90: p(90.0),
        p99: p(99.0),
        p999: p(99.9),
        max: ms(h.max()),
    }
}

fn lag_json(h: &Histogram<u64>) -> Value {
    let l = latency(h);
    json!({ "mean": l.mean, "p50": l.p50, "p90": l.p90, "p99": l.p99, "p999": l.p999,
            "max": l.max })
}

/// Milliseconds of a histogram value in µs (exact to the microsecond the histogram holds).
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Percentiles and a log-spaced histogram of successful requests' latency, for the text
/// summary (and for readers without an HdrHistogram decoder).
fn distribution(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({ "percentiles_ms": {}, "histogram": [] });
    }
    let q = |x: f64| ms(value_at_percentile(h, x));
    let percentiles = json!({
        "min": ms(h.min()), "p50": q(50.0), "p75": q(75.0), "p90": q(90.0), "p95": q(95.0),
        "p99": q(99.0), "p999": q(99.9), "p9999": q(99.99), "max": ms(h.max()),
    });
    // Ten buckets whose edges grow geometrically from the fastest to the slowest request.
    let (lo, hi) = (h.min().max(1), h.max().max(1));
    let mut buckets = Vec::new();
    let mut from = lo;
    let ratio = (hi as f64 / lo as f64).powf(0.1);
    for i in 1..=10u32 {
        let to = if i == 10 {
            hi
        } else {
            ((lo as f64 * ratio.powi(i as i32)).round() as u64).clamp(from, hi)
        };
        if to <= from && i < 10 {
            continue;
        }
        let count = if buckets.is_empty() {
            h.count_between(0, to)
        } else {
            h.count_between(from + 1, to)
        };
        buckets.push(json!({ "to_ms": ms(h.highest_equivalent(to)), "count": count }));
        from = to;
    }
    json!({ "percentiles_ms": percentiles, "histogram": buckets })
}

fn failed_json(h: &Histogram<u64>) -> Value {
    let l = latency(h);
    json!({ "count": l.count, "mean": l.mean, "p50": l.p50, "p90": l.p90, "p99": l.p99,
            "max": l.max })
}

/// The fields computed from the counters and histograms (the same for a run and a merge).
fn derived(
    extra: &mut BTreeMap<String, Value>,
    requests: &Requests,
    outcomes: &BTreeMap<String, u64>,
    latency_h: &Histogram<u64>,
    failed_h: &Histogram<u64>,
) {
    let successes: u64 = outcomes
        .iter()
        .filter(|(k, _)| Outcome::from_name(k).is_some_and(Outcome::is_success))
        .map(|(_, n)| n)
        .sum();
    let ratio = if requests.arrived == 0 {
        0.0
    } else {
        successes as f64 / requests.arrived as f64
    };
    extra.insert("success_ratio".into(), json!(ratio));
    // Report order breaks ties, so the choice does not depend on map order.
    let worst = OUTCOMES
        .iter()
        .filter(|o| !o.is_success())
        .map(|o| (o.name(), outcomes.get(o.name()).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .fold(None::<(&str, u64)>, |best, x| match best {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        });
    match worst {
        Some((name, _)) => {
            extra.insert("most_common_error".into(), json!(name));
        }
        None => {
            extra.remove("most_common_error");
        }
    }
    extra.insert("latency_distribution".into(), distribution(latency_h));
    extra.insert("failed_latency_ms".into(), failed_json(failed_h));
    extra.insert(
        "failed_latency_hdr".into(),
        json!(encode_histogram(failed_h)),
    );
}

/// The result document of one run.
pub fn to_result(cfg: &LoadConfig, report: &LoadReport) -> RunResult {
    let r = &report.recorder;
    let requests = Requests {
        arrived: r.intended,
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
            p99_ms: row.p99_ms,
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
    // Open loop: sends on the wire within the schedule's horizon, over the horizon. Closed
    // loop (which may stop early, at --requests): every send over the time it took.
    let achieved = if open {
        r.sent_in_schedule as f64 / secs
    } else {
        r.sent as f64 / report.elapsed.min(cfg.duration).as_secs_f64().max(1e-9)
    };
    extra.insert("achieved_rate".into(), json!(achieved));
    if open {
        extra.insert(
            "target_rate_per_s".into(),
            json!(r.rows.iter().map(|x| x.target).collect::<Vec<_>>()),
        );
        extra.insert("target_rate".into(), json!(r.intended as f64 / secs));
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
            json!(cfg.lag_warn.as_secs_f64() * 1000.0),
        );
        extra.insert("unsent".into(), json!(report.unsent));
        extra.insert("peak_waiting".into(), json!(report.peak_waiting));
        extra.insert("max_pending".into(), json!(cfg.max_pending));
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
    extra.insert("sent".into(), json!(r.sent));
    let outcomes = outcomes_map(&extra);
    derived(
        &mut extra,
        &requests,
        &outcomes,
        &r.latency,
        &r.failed_latency,
    );
    extra.insert("elapsed_s".into(), json!(report.elapsed.as_secs_f64()));
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
            coarsened: None,
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
        duration_s: if open {
            cfg.duration.as_secs_f64()
        } else {
            report.elapsed.min(cfg.duration).as_secs_f64()
        },
        time_scale: None,
        resolved_scenario: None,
    }
}

fn outcomes_map(extra: &BTreeMap<String, Value>) -> BTreeMap<String, u64> {
    match extra.get("outcomes") {
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect(),
        _ => BTreeMap::new(),
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
        let mut failed_h = new_histogram();
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        let (mut target, mut achieved) = (Vec::new(), Vec::new());
        let mut rows: Vec<SeriesRow> = Vec::new();
        // The shards' series share their buckets (1 s, or the same coarsening of a long run).
        let mut bucket: Option<(f64, Option<SeriesCoarsening>)> = None;
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
            if let Some(h) = hist_from(v, "failed_latency_hdr", di)? {
                failed_h
                    .add(&h)
                    .map_err(|e| LoadError::Merge(format!("result {di}: {e:?}")))?;
            }
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
                "sent",
                "peak_waiting",
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
                let this = (series.bucket_s, series.coarsened);
                match bucket {
                    None => bucket = Some(this),
                    Some(b) if b.0 != this.0 => {
                        return Err(LoadError::Merge(format!(
                            "result {di}: its time series has {} s buckets, the first result's \
                             {} s (runs of different lengths cannot be merged row by row)",
                            this.0, b.0
                        )));
                    }
                    Some(_) => {}
                }
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
        extra.insert("achieved_rate".into(), json!(achieved_rate));
        if let Some(h) = &lag_h {
            extra.insert("send_lag_hdr".into(), json!(encode_histogram(h)));
            extra.insert("send_lag_ms".into(), lag_json(h));
            extra.insert("target_rate_per_s".into(), json!(target));
            extra.insert("target_rate".into(), json!(target_rate));
            extra.insert("behind_seconds".into(), json!(behind));
        }
        for (k, n) in sums {
            if base.extra.contains_key(k) {
                extra.insert(k.into(), json!(n));
            }
        }
        extra.insert("elapsed_s".into(), json!(elapsed));
        derived(&mut extra, &requests, &outcomes, &latency_h, &failed_h);
        variants.push(VariantResult {
            name: base.name.clone(),
            requests,
            latency_ms: latency(&latency_h),
            series: Some(Series {
                bucket_s: bucket.map_or(1.0, |b| b.0),
                rows,
                coarsened: bucket.and_then(|b| b.1),
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
            let sent = at + Duration::from_micros(at_us % 97);
            r.intend(at, true);
            r.on_sent(at, sent, true);
            ends.push((at + Duration::from_micros(lat_us), at, sent, o));
        }
        // A run records completions in time order.
        ends.sort();
        for (end, at, sent, o) in ends {
            r.finished(&crate::recorder::Done {
                index: 0,
                intended: at,
                sent: Some(sent),
                end,
                outcome: o,
                status: None,
                bytes: 2,
            });
        }
        r.finish(Time::from_secs(3));
        LoadReport {
            recorder: r,
            elapsed: Duration::from_secs(3),
            connections_opened: 1,
            peak_connections: 1,
            unsent: 0,
            peak_waiting: 0,
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
        assert_eq!(hist(m, "failed_latency_hdr"), hist(w, "failed_latency_hdr"));
        for k in [
            "latency_distribution",
            "failed_latency_ms",
            "success_ratio",
            "most_common_error",
            "sent",
        ] {
            assert_eq!(m.extra[k], w.extra[k], "{k}");
        }
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
