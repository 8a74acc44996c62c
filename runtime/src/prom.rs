//! Prometheus text exposition (format 0.0.4) of the live platform.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `scalelab_requests_total` | counter | `revision`, `code` |
//! | `scalelab_request_duration_seconds` | histogram | `revision`, `code` |
//! | `scalelab_requests_in_flight` | gauge (arrived, not answered; queued included) | `revision` |
//! | `scalelab_requests_queued` | gauge (waiting for an instance slot) | `revision` |
//! | `scalelab_instances` | gauge | `revision`, `state` = `starting` / `ready` / `draining` |
//! | `scalelab_desired_instances` | gauge | `revision` |
//! | `scalelab_panic_mode` | gauge, 0 or 1 | `revision` |
//! | `scalelab_excess_burst_capacity` | gauge | `revision` |
//! | `scalelab_activator_in_path` | gauge, 0 or 1 | `revision` |
//! | `scalelab_cold_starts_total` | counter | `revision` |
//! | `scalelab_instance_stops_total` | counter | `revision` |
//! | `scalelab_instance_crashes_total` | counter | `revision` |
//! | `scalelab_autoscaler_ticks_total` | counter | `revision` |
//! | `scalelab_cpu_utilization` | gauge, 0–1 (CPU-seconds over vCPU-seconds, last second) | `revision` |
//! | `scalelab_driver_lag_events_total` | counter | |
//!
//! Durations are in scenario seconds (wall seconds at time scale 1).

use std::fmt::Write;
use std::sync::Arc;

use scalelab_core::ids::RevId;

use crate::platform::{LATENCY_BUCKETS, Shared};

/// Escapes a label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric.
pub(crate) fn render(sh: &Arc<Shared>) -> String {
    let mut out = String::with_capacity(4096);
    // (name, type, help, samples as (labels, value)).
    type Family = (&'static str, &'static str, &'static str, Vec<(String, f64)>);
    let mut gauges: Vec<Family> = vec![
        (
            "scalelab_requests_in_flight",
            "gauge",
            "Requests arrived and not answered yet, queued ones included.",
            Vec::new(),
        ),
        (
            "scalelab_requests_queued",
            "gauge",
            "Requests waiting for an instance slot.",
            Vec::new(),
        ),
        (
            "scalelab_instances",
            "gauge",
            "Instances by lifecycle state.",
            Vec::new(),
        ),
        (
            "scalelab_desired_instances",
            "gauge",
            "The autoscaler's desired instance count.",
            Vec::new(),
        ),
        (
            "scalelab_panic_mode",
            "gauge",
            "1 while the KPA is in panic mode.",
            Vec::new(),
        ),
        (
            "scalelab_excess_burst_capacity",
            "gauge",
            "The KPA's excess burst capacity.",
            Vec::new(),
        ),
        (
            "scalelab_activator_in_path",
            "gauge",
            "1 while the activator buffers the revision's requests (proxy mode).",
            Vec::new(),
        ),
        (
            "scalelab_cold_starts_total",
            "counter",
            "Instances started (each start is a cold start).",
            Vec::new(),
        ),
        (
            "scalelab_instance_stops_total",
            "counter",
            "Instances stopped.",
            Vec::new(),
        ),
        (
            "scalelab_instance_crashes_total",
            "counter",
            "Instances whose process exited on its own.",
            Vec::new(),
        ),
        (
            "scalelab_autoscaler_ticks_total",
            "counter",
            "Decider evaluations (ticks and pokes).",
            Vec::new(),
        ),
        (
            "scalelab_cpu_utilization",
            "gauge",
            "CPU-seconds used over vCPU-seconds alive in the last whole second (0 without CPU work).",
            Vec::new(),
        ),
    ];
    let mut requests = String::new();
    let mut hist = String::new();
    let live = sh.lock();
    for (r, cell) in sh.revs.iter().enumerate() {
        let rev = live.core.revision(RevId(r as u16));
        let name = esc(&cell.name);
        let l = format!("revision=\"{name}\"");
        let values: [Vec<(String, f64)>; 12] = [
            vec![(l.clone(), rev.in_system as f64)],
            vec![(l.clone(), rev.queued as f64)],
            vec![
                (format!("{l},state=\"starting\""), f64::from(rev.starting)),
                (format!("{l},state=\"ready\""), f64::from(rev.ready)),
                (format!("{l},state=\"draining\""), f64::from(rev.draining)),
            ],
            vec![(l.clone(), rev.desired as f64)],
            vec![(l.clone(), f64::from(u8::from(rev.panic)))],
            vec![(l.clone(), f64::from(rev.excess_burst_capacity))],
            vec![(l.clone(), f64::from(u8::from(rev.activator_in_path)))],
            vec![(l.clone(), rev.counters.cold_starts as f64)],
            vec![(l.clone(), rev.counters.stops as f64)],
            vec![(l.clone(), rev.counters.crashes as f64)],
            vec![(l.clone(), rev.counters.ticks as f64)],
            vec![(l.clone(), live.core.cpu_utilization(RevId(r as u16)))],
        ];
        for (g, v) in gauges.iter_mut().zip(values) {
            g.3.extend(v);
        }
        for (code, s) in &live.codes[r] {
            let _ = writeln!(
                requests,
                "scalelab_requests_total{{{l},code=\"{code}\"}} {}",
                s.count
            );
            let mut cum = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(s.buckets) {
                cum += n;
                let _ = writeln!(
                    hist,
                    "scalelab_request_duration_seconds_bucket{{{l},code=\"{code}\",le=\"{le}\"}} {cum}"
                );
            }
            let _ = writeln!(
                hist,
                "scalelab_request_duration_seconds_bucket{{{l},code=\"{code}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                hist,
                "scalelab_request_duration_seconds_sum{{{l},code=\"{code}\"}} {}",
                s.sum_s
            );
            let _ = writeln!(
                hist,
                "scalelab_request_duration_seconds_count{{{l},code=\"{code}\"}} {}",
                s.count
            );
        }
    }
    out.push_str(
        "# HELP scalelab_requests_total Requests answered, by revision and status code.\n",
    );
    out.push_str("# TYPE scalelab_requests_total counter\n");
    out.push_str(&requests);
    out.push_str(
        "# HELP scalelab_request_duration_seconds Time from arrival at the router to the answer.\n",
    );
    out.push_str("# TYPE scalelab_request_duration_seconds histogram\n");
    out.push_str(&hist);
    for (name, kind, help, samples) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
    let lag = live.lag_events;
    drop(live);
    out.push_str("# HELP scalelab_driver_lag_events_total Times the autoscaler's timers ran late by more than 50 ms.\n");
    out.push_str("# TYPE scalelab_driver_lag_events_total counter\n");
    let _ = writeln!(out, "scalelab_driver_lag_events_total {lag}");
    out
}
