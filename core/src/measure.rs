//! Measurements with memory bounded whatever the request count: HDR histograms for latency,
//! time integrals of levels, and a bucketed time series. The simulator and the live runtime use
//! the same definitions, so a live result and a simulated one are computed alike.

use std::collections::BTreeMap;

use crate::Time;
use crate::result::{
    AutoscalerStats, CdfPoint, ColdStarts, Cost, Instances, Latency, Occupancy, Requests,
    RevisionSeries, Series, SeriesCoarsening, SeriesRow, VariantResult,
};
use hdrhistogram::Histogram;

/// The value at `percentile` (0–100) of `h`, as HdrHistogram's reference implementation and
/// its tooling (`HistogramLogProcessor`, `outputPercentileDistribution`) compute it: one ulp is
/// taken off the percentile before the count at it is rounded up, so a product such as
/// `0.07 × 100 = 7.000000000000001` asks for the 7th value, not the 8th (the Rust crate's
/// `value_at_quantile` leaves the ulp in). The value returned is the highest equivalent value
/// of the bucket reached, the lowest for percentile 0; 0 when `h` is empty.
pub fn value_at_percentile(h: &Histogram<u64>, percentile: f64) -> u64 {
    let total = h.len();
    if total == 0 {
        return 0;
    }
    if percentile <= 0.0 {
        return h.value_at_quantile(0.0);
    }
    let count = rank_at_percentile(total, percentile);
    // The crate walks the buckets exactly like the reference; ask it for a quantile whose
    // count it rounds up to `count` without any doubt (half a count below it).
    h.value_at_quantile((count as f64 - 0.5) / total as f64)
}

/// Which of `total` sorted values (1-based) [`value_at_percentile`] reports for `percentile`
/// (> 0).
fn rank_at_percentile(total: u64, percentile: f64) -> u64 {
    let requested = next_down(percentile).clamp(0.0, 100.0);
    let count = ((requested * total as f64) / 100.0).ceil().max(1.0);
    (count as u64).min(total)
}

/// The largest f64 below `x` (for finite positive `x`), `f64::next_down` without needing it.
fn next_down(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        f64::from_bits(x.to_bits() - 1)
    } else {
        x
    }
}

/// Latency histogram in microseconds, 1 µs to 1 day, 3 significant digits.
///
/// The histogram's counts take about 220 kB, written at creation; a fleet runs a thousand
/// platforms with several histograms each, most of which see a handful of requests. So the
/// first [`SPILL`] values are kept as they are and the histogram is made only when there are
/// more: every answer is read from the histogram those values give (made then and dropped
/// when the values are few), so it is exactly as if they had been recorded into one.
pub struct LatencyHist {
    h: Option<Box<Histogram<u64>>>,
    /// The values (µs, as recorded) while there is no histogram.
    few: Vec<u64>,
    /// Values recorded since the histogram was made and not yet added to it: they go in by
    /// [`PENDING`] at a time (a fleet records into a thousand histograms of 220 kB, so one
    /// value each would be a cache miss each; a batch touches each line once). Every answer
    /// counts them.
    pending: Vec<u64>,
    /// How many values are kept before the histogram is made (0: at the first).
    spill_at: usize,
}

/// How many latencies a [`LatencyHist`] keeps as values before it makes its histogram (16 kB).
pub const SPILL: usize = 2048;

/// How many values a [`LatencyHist`] with a histogram collects before it adds them (8 kB).
const PENDING: usize = 1024;

/// The highest latency a histogram tracks, µs (1 day); larger values are recorded as this.
const HIGH_US: u64 = 86_400_000_000;

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGH_US, 3).expect("valid histogram bounds")
}

/// An empty histogram of the shared settings, for the questions that depend only on them.
fn template() -> &'static Histogram<u64> {
    static T: std::sync::OnceLock<Histogram<u64>> = std::sync::OnceLock::new();
    T.get_or_init(new_histogram)
}

impl LatencyHist {
    /// An empty histogram.
    pub fn new() -> Self {
        LatencyHist {
            h: None,
            few: Vec::new(),
            pending: Vec::new(),
            spill_at: SPILL,
        }
    }

    /// An empty histogram that makes its counts at the first value and keeps them through
    /// [`reset`](Self::reset) (one that is filled and read many times).
    pub fn reused() -> Self {
        LatencyHist {
            h: None,
            few: Vec::new(),
            pending: Vec::new(),
            spill_at: 0,
        }
    }

    /// A histogram of microseconds recorded elsewhere (the load generator's), to be summarised
    /// the same way.
    pub fn from_micros(h: Histogram<u64>) -> Self {
        LatencyHist {
            h: Some(Box::new(h)),
            few: Vec::new(),
            pending: Vec::new(),
            spill_at: SPILL,
        }
    }

    /// Records a latency of `ns` nanoseconds.
    #[inline]
    pub fn record_nanos(&mut self, ns: u64) {
        self.record_micros((ns / 1000).max(1));
    }

    /// Records a latency of `us` microseconds (≥ 1).
    #[inline]
    pub fn record_micros(&mut self, us: u64) {
        match &mut self.h {
            // A histogram filled and read many times (`reused`) records at once.
            Some(h) if self.spill_at == 0 => h.saturating_record(us),
            Some(h) => {
                self.pending.push(us);
                if self.pending.len() >= PENDING {
                    for &v in &self.pending {
                        h.saturating_record(v);
                    }
                    self.pending.clear();
                }
            }
            None if self.few.len() < self.spill_at => self.few.push(us),
            None => {
                self.spill();
                if let Some(h) = &mut self.h {
                    h.saturating_record(us);
                }
            }
        }
    }

    #[cold]
    fn spill(&mut self) {
        let mut h = new_histogram();
        for &us in &self.few {
            h.saturating_record(us);
        }
        self.few = Vec::new();
        self.h = Some(Box::new(h));
    }

    /// Adds the values pending into the histogram (answers are the same before and after;
    /// they are only cheaper after).
    pub fn flush(&mut self) {
        if let Some(h) = &mut self.h {
            for &us in &self.pending {
                h.saturating_record(us);
            }
            self.pending.clear();
        }
    }

    /// The histogram: its own, or one made from the values kept (with the values pending).
    fn hist(&self) -> std::borrow::Cow<'_, Histogram<u64>> {
        match &self.h {
            Some(h) if self.pending.is_empty() => std::borrow::Cow::Borrowed(h),
            Some(h) => {
                let mut h = (**h).clone();
                for &us in &self.pending {
                    h.saturating_record(us);
                }
                std::borrow::Cow::Owned(h)
            }
            None => {
                let mut h = new_histogram();
                for &us in &self.few {
                    h.saturating_record(us);
                }
                std::borrow::Cow::Owned(h)
            }
        }
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        match &self.h {
            Some(h) => h.len() + self.pending.len() as u64,
            None => self.few.len() as u64,
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LatencyHist) {
        if other.is_empty() {
            return;
        }
        if self.h.is_none()
            && other.h.is_none()
            && self.few.len() + other.len() as usize <= self.spill_at
        {
            self.few.extend_from_slice(&other.few);
            return;
        }
        if self.h.is_none() {
            self.spill();
        }
        let h = self.h.as_mut().expect("made above");
        match &other.h {
            Some(o) => {
                h.add(&**o).expect("histograms with the same bounds merge");
                for &us in &other.pending {
                    h.saturating_record(us);
                }
            }
            None => {
                for &us in &other.few {
                    h.saturating_record(us);
                }
            }
        }
    }

    /// Forgets every sample (memory stays allocated). An empty histogram is left alone:
    /// clearing its counts is a memset of the whole array (≈ 0.5 MB), which a series of a
    /// quiet run would otherwise pay for every bucket.
    pub fn reset(&mut self) {
        if let Some(h) = &mut self.h
            && !h.is_empty()
        {
            h.reset();
        }
        self.few.clear();
        self.pending.clear();
    }

    /// A quantile (0–1) in milliseconds (0 when empty), by [`value_at_percentile`].
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.percentile_ms(q * 100.0)
    }

    /// A percentile (0–100) in milliseconds (0 when empty), by [`value_at_percentile`].
    pub fn percentile_ms(&self, p: f64) -> f64 {
        value_at_percentile(&self.hist(), p) as f64 / 1000.0
    }

    /// The summary the result document carries.
    pub fn summary(&self) -> Latency {
        if self.is_empty() {
            return Latency::default();
        }
        let h = self.hist();
        // Full precision: the document is data; text, markdown and HTML round when they show
        // a number.
        let ms = |v: u64| v as f64 / 1000.0;
        let pct = |p: f64| value_at_percentile(&h, p) as f64 / 1000.0;
        Latency {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: pct(50.0),
            p90: pct(90.0),
            p99: pct(99.0),
            p999: pct(99.9),
            max: ms(h.max()),
        }
    }

    /// About forty (latency ms, cumulative fraction) points of the distribution, for the CDF
    /// chart.
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        if self.is_empty() {
            return Vec::new();
        }
        // Percentiles, so each is the exact decimal the reference implementation is asked for.
        const PS: [f64; 24] = [
            0.0, 1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5,
            95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
        ];
        const QS: [f64; 24] = [
            0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95,
            0.975, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 1.0,
        ];
        let h = self.hist();
        PS.iter()
            .zip(QS)
            .map(|(&p, q)| (value_at_percentile(&h, p) as f64 / 1000.0, q))
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

    /// ∫ level dt up to `now`, in level-nanoseconds.
    pub fn area_at(&self, now: Time) -> u128 {
        self.area + u128::from(self.level) * u128::from(now.0.saturating_sub(self.since.0))
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
                mean: instance_seconds / horizon_s,
                instance_seconds,
                idle_instance_seconds: self.idle_ready.total_secs(end),
                time_at_zero_s: self.at_zero.total_secs(end),
                scale_to_zero_events: self.scale_to_zero_events,
                mean_cpu_utilization: 0.0,
            },
            autoscaler: AutoscalerStats {
                ticks: self.ticks,
                panic_episodes: self.panic_episodes,
                panic_seconds: self.panic.total_secs(end),
            },
            cost,
            slo: Default::default(),
            timeseries: None,
            series: Some(series),
            ..VariantResult::default()
        };
        v.set_occupancy(Occupancy {
            end_s: end.as_secs_f64(),
            mean_in_system: self.in_system.total_secs(end) / horizon_s,
            mean_busy_instances: self.busy_instances.total_secs(end) / horizon_s,
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
    /// The bucket's latencies (µs, as recorded) while there are at most [`FEW`] of them: the
    /// p99 is read off them by selection (the value at the histogram's rank, as the histogram
    /// gives it), sparing the histogram's recording, scan and clearing of 220 kB per bucket.
    few: Vec<u64>,
    /// More than [`FEW`] this bucket: they are in `p99`.
    spilled: bool,
}

/// How many latencies a series bucket keeps as values before it uses its histogram.
const FEW: usize = 1 << 16;

impl SeriesBuilder {
    /// Buckets of `bucket_ns` starting at t = 0.
    pub fn new(bucket_ns: u64) -> Self {
        SeriesBuilder {
            bucket_ns,
            cur: SeriesRow::default(),
            cur_start: Time::ZERO,
            rows: Vec::new(),
            p99: LatencyHist::reused(),
            few: Vec::new(),
            spilled: false,
        }
    }

    /// The bucket width.
    pub fn bucket_ns(&self) -> u64 {
        self.bucket_ns
    }

    /// The end of the bucket being filled.
    pub fn bucket_end(&self) -> Time {
        Time(self.cur_start.0 + self.bucket_ns)
    }

    /// The row being filled.
    #[inline]
    pub fn row(&mut self) -> &mut SeriesRow {
        &mut self.cur
    }

    /// Records a completed request's latency into the bucket's p99.
    #[inline]
    pub fn latency(&mut self, ns: u64) {
        if self.spilled {
            self.p99.record_nanos(ns);
            return;
        }
        let us = (ns / 1000).max(1);
        if self.few.len() < FEW && us <= HIGH_US {
            self.few.push(us);
        } else {
            self.spill();
            self.p99.record_nanos(ns);
        }
    }

    #[cold]
    fn spill(&mut self) {
        for &us in &self.few {
            self.p99.record_micros(us);
        }
        self.few.clear();
        self.spilled = true;
    }

    /// The bucket's p99, ms, exactly as its histogram gives it ([`value_at_percentile`]).
    fn bucket_p99_ms(&mut self) -> f64 {
        if self.spilled {
            let q = self.p99.quantile_ms(0.99);
            self.p99.reset();
            self.spilled = false;
            return q;
        }
        if self.few.is_empty() {
            return 0.0;
        }
        let k = rank_at_percentile(self.few.len() as u64, 99.0);
        let (_, kth, _) = self.few.select_nth_unstable(k as usize - 1);
        let v = template().highest_equivalent(*kth);
        self.few.clear();
        v as f64 / 1000.0
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
        row.p99_ms = self.bucket_p99_ms();
        self.rows.push(row);
        self.cur_start = Time(self.cur_start.0 + self.bucket_ns);
    }

    /// Moves out the rows closed so far (a fleet's driver sums its services' rows as the run
    /// goes, so that a thousand services do not hold a thousand series); later rows follow in
    /// [`finish`](Self::finish).
    pub fn take_rows(&mut self) -> Vec<SeriesRow> {
        std::mem::take(&mut self.rows)
    }

    /// The finished series.
    pub fn finish(self) -> Series {
        Series {
            bucket_s: self.bucket_ns as f64 / 1e9,
            rows: self.rows,
            coarsened: None,
        }
    }
}

/// The most rows a result document's time series holds per variant. A longer series (a
/// `[sim] timeseries_bucket` of 1 s over a 10⁶ s run, a day-long load test) is written whole
/// to `timeseries.csv` and coarsened in the JSON to at most this many rows, so a result
/// document stays a few MB whatever the horizon (see [`SeriesCoarsening`]).
pub const JSON_SERIES_MAX_ROWS: usize = 10_000;

impl Series {
    /// The series with at most `max_rows` rows, merging `k = ⌈rows / max_rows⌉` consecutive
    /// rows into one: counts are summed, levels and `p99_ms` are the highest of the merged
    /// rows (a spike stays visible), `panic` is true when any was; its `coarsened` field says
    /// what it was made from (the first measurement's bucket when this series was already
    /// coarsened). `None` when the series already fits.
    pub fn coarsened(&self, max_rows: usize) -> Option<Series> {
        let n = self.rows.len();
        if n <= max_rows || max_rows == 0 {
            return None;
        }
        let k = n.div_ceil(max_rows);
        let rows = self.rows.chunks(k).map(SeriesRow::merged).collect();
        Some(Series {
            bucket_s: self.bucket_s * k as f64,
            rows,
            coarsened: Some(self.coarsened.unwrap_or(SeriesCoarsening {
                from_bucket_s: self.bucket_s,
                from_rows: n as u64,
            })),
        })
    }
}

/// Serializes a variant's series bounded to [`JSON_SERIES_MAX_ROWS`] rows (the field's
/// `serialize_with`): the document carries a bounded series, `timeseries.csv` the whole one.
pub(crate) fn serialize_bounded_series<S: serde::Serializer>(
    series: &Option<Series>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    match series {
        Some(full) => match full.coarsened(JSON_SERIES_MAX_ROWS) {
            Some(coarse) => coarse.serialize(s),
            None => full.serialize(s),
        },
        None => s.serialize_none(),
    }
}

/// Serializes a revision's series columns bounded like the variant's series (the same
/// [`JSON_SERIES_MAX_ROWS`] and the same merging: arrivals summed, levels the highest), so its
/// values stay aligned with the document's rows.
pub(crate) fn serialize_bounded_revision_series<S: serde::Serializer>(
    series: &Option<RevisionSeries>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let Some(full) = series else {
        return s.serialize_none();
    };
    let n = full.arrivals.len();
    if n <= JSON_SERIES_MAX_ROWS {
        return full.serialize(s);
    }
    let k = n.div_ceil(JSON_SERIES_MAX_ROWS);
    let sum = |v: &[u64]| v.chunks(k).map(|c| c.iter().sum()).collect::<Vec<u64>>();
    let max = |v: &[u64]| {
        v.chunks(k)
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect::<Vec<u64>>()
    };
    RevisionSeries {
        arrivals: sum(&full.arrivals),
        ready: max(&full.ready),
        starting: max(&full.starting),
    }
    .serialize(s)
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
mod tests;
