//! Measurements with memory bounded whatever the request count: HDR histograms for latency,
//! time integrals of levels, and a bucketed time series. The simulator and the live runtime use
//! the same definitions, so a live result and a simulated one are computed alike.

use std::collections::BTreeMap;

use crate::Time;
use crate::result::{
    AutoscalerStats, CdfPoint, ColdStarts, Cost, Instances, Latency, Occupancy, Requests, Series,
    SeriesRow, VariantResult, round3,
};
use hdrhistogram::Histogram;

/// Latency histogram in microseconds, 1 µs to 1 day, 3 significant digits.
pub struct LatencyHist {
    h: Histogram<u64>,
}

impl LatencyHist {
    /// An empty histogram.
    pub fn new() -> Self {
        LatencyHist {
            h: Histogram::new_with_bounds(1, 86_400_000_000, 3).expect("valid histogram bounds"),
        }
    }

    /// A histogram of microseconds recorded elsewhere (the load generator's), to be summarised
    /// the same way.
    pub fn from_micros(h: Histogram<u64>) -> Self {
        LatencyHist { h }
    }

    /// Records a latency of `ns` nanoseconds.
    #[inline]
    pub fn record_nanos(&mut self, ns: u64) {
        let us = (ns / 1000).max(1);
        self.h.saturating_record(us);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LatencyHist) {
        self.h
            .add(&other.h)
            .expect("histograms with the same bounds merge");
    }

    /// Forgets every sample (memory stays allocated).
    pub fn reset(&mut self) {
        self.h.reset();
    }

    /// A quantile in milliseconds (0 when empty).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.h.is_empty() {
            0.0
        } else {
            self.h.value_at_quantile(q) as f64 / 1000.0
        }
    }

    /// The summary the result document carries.
    pub fn summary(&self) -> Latency {
        if self.h.is_empty() {
            return Latency::default();
        }
        let ms = |v: u64| round3(v as f64 / 1000.0);
        Latency {
            count: self.h.len(),
            mean: round3(self.h.mean() / 1000.0),
            p50: ms(self.h.value_at_quantile(0.5)),
            p90: ms(self.h.value_at_quantile(0.9)),
            p99: ms(self.h.value_at_quantile(0.99)),
            p999: ms(self.h.value_at_quantile(0.999)),
            max: ms(self.h.max()),
        }
    }

    /// About forty (latency ms, cumulative fraction) points of the distribution, for the CDF
    /// chart.
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        if self.h.is_empty() {
            return Vec::new();
        }
        const QS: [f64; 24] = [
            0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95,
            0.975, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0,
        ];
        QS.iter()
            .map(|&q| (round3(self.h.value_at_quantile(q) as f64 / 1000.0), q))
            .collect()
    }
}

impl Default for LatencyHist {
    fn default() -> Self {
        Self::new()
    }
}

/// ∫ level dt for an integer level that changes at event times.
#[derive(Clone, Copy, Debug, Default)]
pub struct Integral {
    level: u64,
    since: Time,
    /// Accumulated level × nanoseconds.
    area: u128,
}

impl Integral {
    /// Sets the level at `now`.
    #[inline]
    pub fn set(&mut self, now: Time, level: u64) {
        // A live driver's times come from one clock read under a lock, so they never go back;
        // clamp anyway rather than underflow.
        let now = now.max(self.since);
        self.area += u128::from(self.level) * u128::from(now.0 - self.since.0);
        self.since = now;
        self.level = level;
    }

    /// Adds `delta` (may be negative) to the level at `now`.
    #[inline]
    pub fn add(&mut self, now: Time, delta: i64) {
        let l = self.level as i64 + delta;
        debug_assert!(l >= 0, "level went negative");
        self.set(now, l.max(0) as u64);
    }

    /// The current level.
    #[inline]
    pub fn level(&self) -> u64 {
        self.level
    }

    /// ∫ level dt up to `now`, in level-seconds.
    pub fn total_secs(&self, now: Time) -> f64 {
        let area =
            self.area + u128::from(self.level) * u128::from(now.0.saturating_sub(self.since.0));
        area as f64 / 1e9
    }
}

/// What one run of a platform counts, simulated or live: the same fields, updated by the same
/// kinds of events, turned into the result's standard sections by [`Tally::variant`]. Each
/// platform keeps its own extra counters beside it.
#[derive(Default)]
pub struct Tally {
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests answered by an instance.
    pub completed: u64,
    /// Requests refused (queue full, max instances) or failed by their instance.
    pub rejected: u64,
    /// Requests that passed their timeout, queued or running.
    pub timed_out: u64,
    /// Every completed request (the simulator fills it from the two below at the end).
    pub latency: LatencyHist,
    /// Completed requests that waited for a cold start.
    pub latency_cold: LatencyHist,
    /// Completed requests that did not.
    pub latency_warm: LatencyHist,
    /// Instances started.
    pub cold_starts: u64,
    /// Requests delayed by a cold start.
    pub delayed: u64,
    /// Instances alive (starting, ready or draining).
    pub alive: Integral,
    /// Ready instances with no request.
    pub idle_ready: Integral,
    /// Instances with at least one request.
    pub busy_instances: Integral,
    /// Requests in the system (queued or running): Little's L.
    pub in_system: Integral,
    /// 1 while no instance is alive.
    pub at_zero: Integral,
    /// 1 while some revision's autoscaler is in panic mode.
    pub panic: Integral,
    /// Most instances alive at once.
    pub peak: u64,
    /// Times the last instance went away.
    pub scale_to_zero_events: u64,
    /// Autoscaler ticks.
    pub ticks: u64,
    /// Times an autoscaler entered panic mode.
    pub panic_episodes: u64,
}

impl Tally {
    /// A tally at t = 0, with no instance alive yet.
    pub fn new() -> Tally {
        let mut t = Tally::default();
        t.at_zero.set(Time::ZERO, 1);
        t
    }

    /// The result's standard sections at `end`, plus the [`Occupancy`] both platforms report
    /// (and a `billing_note` in `extra`). The SLO verdict is left to the caller.
    pub fn variant(
        &self,
        name: String,
        in_flight_at_end: u64,
        mut cost: BTreeMap<String, Cost>,
        series: Series,
        end: Time,
    ) -> VariantResult {
        let horizon_s = end.as_secs_f64().max(1e-9);
        let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
        for c in cost.values_mut() {
            c.per_million_requests_usd = per(c.total_usd * 1e6, self.arrived);
        }
        let instance_seconds = self.alive.total_secs(end);
        let mut v = VariantResult {
            name,
            requests: Requests {
                arrived: self.arrived,
                completed: self.completed,
                rejected: self.rejected,
                timed_out: self.timed_out,
                in_flight_at_end,
            },
            latency_ms: self.latency.summary(),
            latency_ms_cold: Some(self.latency_cold.summary()),
            latency_ms_warm: Some(self.latency_warm.summary()),
            latency_cdf: Some(
                self.latency
                    .cdf()
                    .into_iter()
                    .map(|(ms, fraction)| CdfPoint { ms, fraction })
                    .collect(),
            ),
            cold_starts: ColdStarts {
                count: self.cold_starts,
                requests_delayed: self.delayed,
                ratio: per(self.delayed as f64, self.arrived),
            },
            instances: Instances {
                peak: self.peak,
                mean: round3(instance_seconds / horizon_s),
                instance_seconds: round3(instance_seconds),
                idle_instance_seconds: round3(self.idle_ready.total_secs(end)),
                time_at_zero_s: round3(self.at_zero.total_secs(end)),
                scale_to_zero_events: self.scale_to_zero_events,
            },
            autoscaler: AutoscalerStats {
                ticks: self.ticks,
                panic_episodes: self.panic_episodes,
                panic_seconds: round3(self.panic.total_secs(end)),
            },
            cost,
            slo: Default::default(),
            timeseries: None,
            series: Some(series),
            ..VariantResult::default()
        };
        v.set_occupancy(Occupancy {
            end_s: round3(end.as_secs_f64()),
            mean_in_system: round3(self.in_system.total_secs(end) / horizon_s),
            mean_busy_instances: round3(self.busy_instances.total_secs(end) / horizon_s),
        });
        if let Some(note) = crate::billing::break_even_note(&v.cost) {
            v.extra.insert("billing_note".into(), note.into());
        }
        v
    }
}

/// Builds the bucketed time series.
pub struct SeriesBuilder {
    bucket_ns: u64,
    cur: SeriesRow,
    cur_start: Time,
    rows: Vec<SeriesRow>,
    p99: LatencyHist,
}

impl SeriesBuilder {
    /// Buckets of `bucket_ns` starting at t = 0.
    pub fn new(bucket_ns: u64) -> Self {
        SeriesBuilder {
            bucket_ns,
            cur: SeriesRow::default(),
            cur_start: Time::ZERO,
            rows: Vec::new(),
            p99: LatencyHist::new(),
        }
    }

    /// The bucket width.
    pub fn bucket_ns(&self) -> u64 {
        self.bucket_ns
    }

    /// The row being filled.
    #[inline]
    pub fn row(&mut self) -> &mut SeriesRow {
        &mut self.cur
    }

    /// Records a completed request's latency into the bucket's p99.
    #[inline]
    pub fn latency(&mut self, ns: u64) {
        self.p99.record_nanos(ns);
    }

    /// True when `now` is at or past the end of the current bucket.
    #[inline]
    pub fn due(&self, now: Time) -> bool {
        now.0 >= self.cur_start.0 + self.bucket_ns
    }

    /// Closes the current bucket with the given end-of-bucket levels and opens the next.
    pub fn close(&mut self, levels: Levels) {
        let mut row = std::mem::take(&mut self.cur);
        row.t_s = self.cur_start.as_secs_f64();
        row.in_flight = levels.in_flight;
        row.queued = levels.queued;
        row.ready = levels.ready;
        row.starting = levels.starting;
        row.desired = levels.desired;
        row.panic |= levels.panic;
        row.p99_ms = self.p99.quantile_ms(0.99);
        self.p99.reset();
        self.rows.push(row);
        self.cur_start = Time(self.cur_start.0 + self.bucket_ns);
    }

    /// The finished series.
    pub fn finish(self) -> Series {
        Series {
            bucket_s: self.bucket_ns as f64 / 1e9,
            rows: self.rows,
        }
    }
}

/// End-of-bucket levels of the series.
#[derive(Clone, Copy, Debug, Default)]
pub struct Levels {
    /// Requests in the system.
    pub in_flight: u64,
    /// Requests waiting.
    pub queued: u64,
    /// Ready instances.
    pub ready: u64,
    /// Starting instances.
    pub starting: u64,
    /// Desired instances.
    pub desired: u64,
    /// Panic mode now.
    pub panic: bool,
}

/// The series bucket for a horizon: 1 s up to an hour, then wider so a run has at most about
/// 3 600 rows.
pub fn bucket_for(horizon_ns: u64) -> u64 {
    const S: u64 = 1_000_000_000;
    let secs = horizon_ns.div_ceil(S).max(1);
    secs.div_ceil(3600).max(1) * S
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_accumulates_level_time() {
        let mut i = Integral::default();
        i.set(Time::from_secs(0), 2);
        i.set(Time::from_secs(3), 1);
        assert_eq!(i.total_secs(Time::from_secs(5)), 8.0);
        i.add(Time::from_secs(5), -1);
        assert_eq!(i.total_secs(Time::from_secs(9)), 8.0);
    }

    #[test]
    fn buckets_stay_bounded() {
        assert_eq!(bucket_for(60 * 1_000_000_000), 1_000_000_000);
        assert_eq!(bucket_for(3600 * 1_000_000_000), 1_000_000_000);
        assert_eq!(bucket_for(24 * 3600 * 1_000_000_000), 24 * 1_000_000_000);
    }

    #[test]
    fn latency_summary_in_ms() {
        let mut h = LatencyHist::new();
        for ms in 1..=100u64 {
            h.record_nanos(ms * 1_000_000);
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50 - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max - 100.0).abs() < 0.1, "{s:?}");
    }
}
