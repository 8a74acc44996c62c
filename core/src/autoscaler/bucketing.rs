//! Knative's windowed averages (`pkg/autoscaler/aggregation`): a ring of 1 s buckets with the
//! linear ("partial window") mean or the weighted-exponential mean, and the sliding maximum that
//! delays scale-downs.
//!
//! Bucket indices are `floor(t / granularity)` of the run's own clock (t = 0 at the run start).
//! Knative uses unix seconds; the two agree whenever the run starts on a whole (and, for the 2 s
//! delay window, even) second, which is how the simulator and `kpa replay` define t = 0.
//!
//! Internally bucket times are kept as signed nanoseconds, because resizing a window places
//! `first_write` up to one old window before the last write, which may be before t = 0; Knative
//! keeps that instant, and the linear average counts buckets from it.

use std::time::Duration;

use crate::autoscaler::config::Aggregation;
use crate::time::{Time, duration_nanos};

/// Knative's bucket granularity (`config.BucketSize`).
pub const BUCKET: Duration = Duration::from_secs(1);

/// Digits the linear average is rounded to (`precision` in Knative).
const PRECISION_DIGITS: i32 = 6;
/// The smallest smoothing coefficient of the weighted average (`minExponent`).
const MIN_SMOOTHING: f64 = 0.2;
/// The weight the weighted average's buckets add up to over a full window (`weightPrecision`).
const WEIGHT_PRECISION: f64 = 0.9999;

/// The weighted average's smoothing coefficient for a window of `buckets` buckets:
/// `max(1 − (1 − 0.9999)^(1/buckets), 0.2)`.
pub fn smoothing_coefficient(buckets: usize) -> f64 {
    (1.0 - (1.0 - WEIGHT_PRECISION).powf(1.0 / buckets as f64)).max(MIN_SMOOTHING)
}

/// Rounds to six decimal places, half away from zero (Go's `math.Round(f·10⁶)/10⁶`).
fn round6(f: f64) -> f64 {
    let p = 10f64.powi(PRECISION_DIGITS);
    (f * p).round() / p
}

fn to_i64(t: Time) -> i64 {
    i64::try_from(t.as_nanos()).unwrap_or(i64::MAX)
}

fn dur_i64(d: Duration) -> i64 {
    i64::try_from(duration_nanos(d)).unwrap_or(i64::MAX)
}

/// A window of 1 s buckets (`TimedFloat64Buckets` / `WeightedFloat64Buckets`).
///
/// `record` adds a value into the bucket of its second (values in the same second are summed),
/// `window_average` is the mean the decider scales on. Both are O(1) amortised: the ring is only
/// walked over the seconds that elapsed since the last write.
#[derive(Clone, Debug)]
pub struct WindowBuckets {
    buckets: Vec<f64>,
    /// Start of the oldest bucket of the current series (signed ns; `None` = not set).
    first_write: Option<i64>,
    /// Start of the newest bucket written (signed ns; `None` = never written).
    last_write: Option<i64>,
    /// `slot(index(last_write))` while `last_write` is set: the ring position of the newest
    /// bucket, so that records and averages find theirs without a division.
    last_slot: usize,
    granularity: i64,
    window: i64,
    window_total: f64,
    aggregation: Aggregation,
    smoothing: f64,
}

impl WindowBuckets {
    /// A window of `ceil(window / granularity)` buckets averaged with `aggregation`.
    /// `granularity` must be a whole number of seconds (Knative uses 1 s).
    pub fn new(window: Duration, granularity: Duration, aggregation: Aggregation) -> WindowBuckets {
        debug_assert!(
            granularity >= Duration::from_secs(1) && granularity.subsec_nanos() == 0,
            "bucket granularity must be whole seconds"
        );
        let granularity = dur_i64(granularity).max(1);
        let window = dur_i64(window).max(1);
        let nb = Self::bucket_count(window, granularity);
        WindowBuckets {
            buckets: vec![0.0; nb],
            first_write: None,
            last_write: None,
            last_slot: 0,
            granularity,
            window,
            window_total: 0.0,
            aggregation,
            smoothing: smoothing_coefficient(nb),
        }
    }

    fn bucket_count(window: i64, granularity: i64) -> usize {
        usize::try_from((window + granularity - 1) / granularity)
            .unwrap_or(1)
            .max(1)
    }

    /// The averaging window.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window as u64)
    }

    /// Number of buckets in the ring.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Always false: a window has at least one bucket (see [`WindowBuckets::is_empty_at`] for
    /// "no data").
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The start of `t`'s bucket: `index(t) × granularity`, which is `t − t mod granularity`.
    #[inline]
    fn trunc(&self, t: i64) -> i64 {
        self.index(t) * self.granularity
    }

    /// `floor(t / granularity)`. Knative's (and every scenario's) granularity is 1 s: divided
    /// by the constant, which the compiler turns into a multiplication (this runs several times
    /// per window per second of a run).
    #[inline]
    fn index(&self, t: i64) -> i64 {
        const SEC: i64 = 1_000_000_000;
        if self.granularity == SEC {
            t.div_euclid(SEC)
        } else {
            t.div_euclid(self.granularity)
        }
    }

    #[inline]
    fn slot(&self, index: i64) -> usize {
        index.rem_euclid(self.buckets.len() as i64) as usize
    }

    /// The slot after `s` in the ring (`slot(i + 1)` from `slot(i)`, without a division).
    #[inline]
    fn next_slot(&self, s: usize) -> usize {
        if s + 1 == self.buckets.len() {
            0
        } else {
            s + 1
        }
    }

    /// Adds `value` into the bucket of `now` (Knative's `Record`).
    ///
    /// A write for an earlier second that is still inside the window (a late write) lands in
    /// its own bucket; a write older than one window before the last write is dropped; a write
    /// after a gap of a window or more starts a fresh series.
    pub fn record(&mut self, now: Time, value: f64) {
        debug_assert!(!value.is_nan(), "recorded NaN");
        let now = to_i64(now);
        let write_index = self.index(now);
        let bucket_time = write_index * self.granularity;
        let mut s = self.last_slot;
        if self.last_write != Some(bucket_time) {
            if let Some(lw) = self.last_write
                && bucket_time.saturating_add(self.window) <= lw
            {
                return;
            }
            if self.first_write.is_none_or(|fw| fw > bucket_time) {
                self.first_write = Some(bucket_time);
            }
            if self.last_write.is_none_or(|lw| bucket_time > lw) {
                match self.last_write {
                    Some(lw) if bucket_time - lw < self.window => {
                        // The buckets after the last write up to this one (slots following
                        // the last write's) are cleared.
                        for _ in self.index(lw) + 1..=write_index {
                            s = self.next_slot(s);
                            self.window_total -= self.buckets[s];
                            self.buckets[s] = 0.0;
                        }
                    }
                    _ => {
                        self.first_write = Some(bucket_time);
                        self.buckets.iter_mut().for_each(|b| *b = 0.0);
                        self.window_total = 0.0;
                        s = self.slot(write_index);
                    }
                }
                self.last_write = Some(bucket_time);
                self.last_slot = s;
            } else {
                // A late write, into its own earlier bucket.
                s = self.slot(write_index);
            }
        }
        debug_assert_eq!(s, self.slot(write_index));
        self.buckets[s] += value;
        self.window_total += value;
    }

    /// True when every bucket holds 0 and the running total is small enough that the linear
    /// average rounds it to 0 for any bucket count (|total × 10⁶| < 0.5; dividing by a count
    /// ≥ 1 only shrinks it): both averages then read 0 (or −0) whenever they are read, until
    /// the next write.
    pub fn only_zeros(&self) -> bool {
        (self.window_total * 10f64.powi(PRECISION_DIGITS)).abs() < 0.5
            && self.buckets.iter().all(|&b| b == 0.0)
    }

    /// True when nothing was written in the last window (Knative's `IsEmpty`): the decider's
    /// "no data" condition.
    pub fn is_empty_at(&self, now: Time) -> bool {
        let now = self.trunc(to_i64(now));
        match self.last_write {
            None => true,
            Some(lw) => now - lw > self.window,
        }
    }

    /// The window's average at `now`, by the configured algorithm.
    pub fn window_average(&self, now: Time) -> f64 {
        match self.aggregation {
            Aggregation::Linear => self.linear_average(now),
            Aggregation::WeightedExponential => self.weighted_average(now),
        }
    }

    /// Knative's linear `WindowAverage`: the plain mean over the buckets from the first to the
    /// last write (at most one window), rounded to 6 decimals. Seconds after the last write are
    /// not counted as zeros; the oldest buckets that fell out of the window are.
    pub fn linear_average(&self, now: Time) -> f64 {
        let now = self.trunc(to_i64(now));
        let Some(lw) = self.last_write else {
            return 0.0;
        };
        let nb = self.buckets.len() as i64;
        let written = match self.first_write {
            Some(fw) => (lw - fw) / self.granularity + 1,
            None => i64::MAX,
        };
        let d = now - lw;
        if d <= 0 {
            let n = written.min(nb);
            round6(self.window_total / n as f64)
        } else if d < self.window {
            let st = self.index(lw);
            let en = self.index(now);
            let mut ret = self.window_total;
            debug_assert_eq!(self.last_slot, self.slot(st));
            let mut s = self.next_slot(self.last_slot);
            for _ in st + 1..=en {
                ret -= self.buckets[s];
                s = self.next_slot(s);
            }
            let n = written.min(nb - (en - st));
            round6(ret / n as f64)
        } else {
            0.0
        }
    }

    /// Knative's weighted-exponential `WindowAverage`: the newest bucket weighs `c`, each older
    /// one `(1 − c)` times less, seconds since the last write count as zeros; not normalised.
    pub fn weighted_average(&self, now: Time) -> f64 {
        if self.is_empty_at(now) {
            return 0.0;
        }
        let now = self.trunc(to_i64(now));
        let Some(lw) = self.last_write else {
            return 0.0;
        };
        let c = self.smoothing;
        let mut multiplier = c;
        let mut n = self.buckets.len() as i64;
        if now > lw {
            let zeros = (now - lw) / self.granularity;
            multiplier *= (1.0 - c).powf(zeros as f64);
            n -= zeros;
        }
        let start = self.index(lw);
        let mut ret = 0.0;
        debug_assert_eq!(self.last_slot, self.slot(start));
        let mut s = self.last_slot;
        for _ in 0..n.max(0) {
            ret += self.buckets[s] * multiplier;
            multiplier *= 1.0 - c;
            // slot(start − i − 1) from slot(start − i).
            s = if s == 0 {
                self.buckets.len() - 1
            } else {
                s - 1
            };
        }
        ret
    }

    /// Changes the window length, keeping the newest `min(old, new)` buckets when the data is
    /// recent (Knative's `ResizeWindow`, which reads the wall clock where this takes `now`).
    pub fn resize_window(&mut self, now: Time, window: Duration) {
        let w = dur_i64(window).max(1);
        if w == self.window {
            return;
        }
        let nb = Self::bucket_count(w, self.granularity);
        let mut fresh = vec![0.0; nb];
        let mut total = 0.0;
        let now = self.trunc(to_i64(now));
        match self.last_write {
            Some(lw) if now - lw <= self.window => {
                let old_nb = self.buckets.len();
                let mut t = self.index(lw);
                for _ in 0..nb.min(old_nb) {
                    let v = self.buckets[self.slot(t)];
                    fresh[t.rem_euclid(nb as i64) as usize] = v;
                    total += v;
                    t -= 1;
                }
                self.first_write = Some(lw - (old_nb as i64 - 1) * self.granularity);
            }
            _ => self.first_write = None,
        }
        self.window = w;
        self.buckets = fresh;
        self.window_total = total;
        if let Some(lw) = self.last_write {
            self.last_slot = self.slot(self.index(lw));
        }
        self.smoothing = smoothing_coefficient(nb);
    }
}

/// The sliding maximum over the last `size` buckets of `granularity` (Knative's
/// `max.TimeWindow`), used to delay scale-downs by `scale_down_delay`.
///
/// A monotonic deque: `record` is amortised O(1), `current` O(1).
#[derive(Clone, Debug)]
pub struct MaxWindow {
    /// (bucket index, value), values strictly decreasing from front to back.
    maxima: std::collections::VecDeque<(i64, i32)>,
    size: i64,
    granularity: i64,
}

impl MaxWindow {
    /// A window covering `duration` in buckets of `granularity` (whole seconds):
    /// `ceil(duration / granularity)` buckets.
    pub fn new(duration: Duration, granularity: Duration) -> MaxWindow {
        let g = dur_i64(granularity).max(1);
        let size = ((dur_i64(duration) + g - 1) / g).max(1);
        MaxWindow {
            maxima: std::collections::VecDeque::with_capacity(size as usize + 1),
            size,
            granularity: g,
        }
    }

    /// Records `value` at `now`; several values in one bucket keep their maximum.
    pub fn record(&mut self, now: Time, value: i32) {
        let index = to_i64(now).div_euclid(self.granularity);
        let mut v = value;
        while let Some(&(_, last)) = self.maxima.back() {
            if v < last {
                break;
            }
            self.maxima.pop_back();
        }
        while let Some(&(first, _)) = self.maxima.front() {
            if index - first < self.size {
                break;
            }
            self.maxima.pop_front();
        }
        if let Some(&(last_index, last)) = self.maxima.back()
            && last_index == index
        {
            v = v.max(last);
            self.maxima.pop_back();
        }
        self.maxima.push_back((index, v));
    }

    /// The maximum over the window (0 before anything was recorded).
    pub fn current(&self) -> i32 {
        self.maxima.front().map_or(0, |&(_, v)| v)
    }
}

#[cfg(test)]
#[path = "tests/bucketing.rs"]
mod tests;
