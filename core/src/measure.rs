//! Measurements with memory bounded whatever the request count: HDR histograms for latency,
//! time integrals of levels, and a bucketed time series. The simulator and the live runtime use
//! the same definitions, so a live result and a simulated one are computed alike.

use crate::Time;
use crate::result::{Latency, Series, SeriesRow, round3};
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
