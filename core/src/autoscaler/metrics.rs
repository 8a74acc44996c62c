//! The metric pipeline that feeds the decider (KPA.md §2.2): time-weighted concurrency per
//! instance (the queue-proxy) and at the activator, the scraper's sample and extrapolation, and
//! the collector that turns both into the stable and panic windows.
//!
//! - [`ConcurrencyMeter`]: Knative's `RequestStats`. O(1) per request start and end; a
//!   [`Stat`] per reporting period (1 s).
//! - [`ActivatorMeter`]: the activator's per-revision meter, with the immediate first-request
//!   stat that pokes the autoscaler and the subtraction of it on the next report.
//! - [`sample_size`], [`choose_sample`], [`extrapolate`], [`scrape`]: the autoscaler's 1 s scrape.
//! - [`Collector`]: `record(now, stat)` into the four windows (concurrency and rps, stable and
//!   panic), `observed(now, metric)` for the decider.

use std::time::Duration;

use rand::seq::SliceRandom;
use serde::Serialize;

use crate::autoscaler::bucketing::{BUCKET, WindowBuckets};
use crate::autoscaler::config::{Aggregation, Metric};
use crate::time::Time;

/// One reporting period's statistics (Knative's `metrics.Stat`, minus the pod name and uptime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    /// Time-averaged in-flight requests over the period (queued ones included).
    pub avg_concurrency: f64,
    /// The part of `avg_concurrency` that came through the activator.
    pub avg_proxied_concurrency: f64,
    /// Requests that arrived in the period (per second: the period is 1 s).
    pub request_count: f64,
    /// The part of `request_count` that came through the activator.
    pub proxied_request_count: f64,
}

impl Stat {
    /// The revision's own share of a pod's stat: what the collector records, with
    /// activator-proxied load removed because the activator reports it itself.
    pub fn direct_concurrency(&self) -> f64 {
        self.avg_concurrency - self.avg_proxied_concurrency
    }

    /// The direct request rate (total minus proxied).
    pub fn direct_request_count(&self) -> f64 {
        self.request_count - self.proxied_request_count
    }

    fn add(&mut self, o: &Stat) {
        self.avg_concurrency += o.avg_concurrency;
        self.avg_proxied_concurrency += o.avg_proxied_concurrency;
        self.request_count += o.request_count;
        self.proxied_request_count += o.proxied_request_count;
    }

    fn scale(&mut self, f: f64) {
        self.avg_concurrency *= f;
        self.avg_proxied_concurrency *= f;
        self.request_count *= f;
        self.proxied_request_count *= f;
    }
}

/// Time-weighted concurrency and request counts (Knative's `RequestStats`): the queue-proxy of
/// one instance, or the activator's accounting for one revision.
///
/// Call [`on_arrival`](Self::on_arrival) when a request enters (before any queue: queued
/// requests count as concurrency) and [`on_departure`](Self::on_departure) when it completes;
/// [`report`](Self::report) once per reporting period. All three are O(1). The integral is kept
/// in integer request·nanoseconds, so no rounding accumulates between reports.
#[derive(Clone, Debug)]
pub struct ConcurrencyMeter {
    concurrency: u64,
    proxied_concurrency: u64,
    last_change: Time,
    /// ∫ concurrency dt since the last report, in request·ns.
    integral: u128,
    proxied_integral: u128,
    in_use: u64,
    count: u64,
    proxied_count: u64,
}

impl ConcurrencyMeter {
    /// A meter that starts measuring at `now`.
    pub fn new(now: Time) -> ConcurrencyMeter {
        ConcurrencyMeter {
            concurrency: 0,
            proxied_concurrency: 0,
            last_change: now,
            integral: 0,
            proxied_integral: 0,
            in_use: 0,
            count: 0,
            proxied_count: 0,
        }
    }

    fn advance(&mut self, now: Time) {
        if now > self.last_change {
            let dt = (now - self.last_change).as_nanos() as u64;
            self.in_use += dt;
            self.integral += u128::from(self.concurrency) * u128::from(dt);
            self.proxied_integral += u128::from(self.proxied_concurrency) * u128::from(dt);
            self.last_change = now;
        }
    }

    /// A request arrived; `proxied` when it came through the activator
    /// (`K-Proxy-Request: activator`).
    pub fn on_arrival(&mut self, now: Time, proxied: bool) {
        self.advance(now);
        self.concurrency += 1;
        self.count += 1;
        if proxied {
            self.proxied_concurrency += 1;
            self.proxied_count += 1;
        }
    }

    /// A request completed (or was dropped); `proxied` as it was on arrival.
    pub fn on_departure(&mut self, now: Time, proxied: bool) {
        self.advance(now);
        debug_assert!(self.concurrency > 0, "departure without arrival");
        self.concurrency = self.concurrency.saturating_sub(1);
        if proxied {
            debug_assert!(
                self.proxied_concurrency > 0,
                "proxied departure without arrival"
            );
            self.proxied_concurrency = self.proxied_concurrency.saturating_sub(1);
        }
    }

    /// Requests in flight right now.
    pub fn concurrency(&self) -> u64 {
        self.concurrency
    }

    /// True when nothing is in flight and nothing was measured since the last report: every
    /// report from now on (until a request arrives) is all zeros.
    pub fn is_quiet(&self) -> bool {
        self.concurrency == 0
            && self.proxied_concurrency == 0
            && self.integral == 0
            && self.proxied_integral == 0
            && self.count == 0
            && self.proxied_count == 0
    }

    /// Cuts the report for the period since the previous one and starts a new period:
    /// `∫conc dt / elapsed` and the arrivals counted. In-flight requests carry over.
    pub fn report(&mut self, now: Time) -> Stat {
        self.advance(now);
        let mut s = Stat {
            request_count: self.count as f64,
            proxied_request_count: self.proxied_count as f64,
            ..Stat::default()
        };
        if self.in_use > 0 {
            s.avg_concurrency = as_f64(self.integral) / self.in_use as f64;
            s.avg_proxied_concurrency = as_f64(self.proxied_integral) / self.in_use as f64;
        }
        self.integral = 0;
        self.proxied_integral = 0;
        self.in_use = 0;
        self.count = 0;
        self.proxied_count = 0;
        s
    }
}

/// `x as f64` (rounded to nearest), through the cheap 64-bit conversion when it fits: the same
/// value (both round the same integer), without the software routine a 128-bit one calls.
#[inline]
fn as_f64(x: u128) -> f64 {
    match u64::try_from(x) {
        // (`black_box`: otherwise the compiler sees both arms are `x as f64` and keeps the
        // 128-bit conversion for both.)
        Ok(v) => std::hint::black_box(v) as f64,
        Err(_) => x as f64,
    }
}

/// One activator's accounting for one revision (Knative's `ConcurrencyReporter`).
///
/// Requests are counted from the moment they enter the activator, buffered time included. The
/// first request for a revision without a live entry returns an immediate stat
/// `{concurrency 1, count 1}` (record it and poke the decider); the next periodic report
/// subtracts that 1 from both values (concurrency clamped at 0). An entry whose report period
/// had zero average concurrency, with nothing in flight, is deleted after that report, so the
/// next request is "first" again.
#[derive(Clone, Debug, Default)]
pub struct ActivatorMeter {
    entry: Option<ActivatorEntry>,
}

#[derive(Clone, Debug)]
struct ActivatorEntry {
    meter: ConcurrencyMeter,
    /// 1 until the first periodic report after the immediate stat.
    first_request: f64,
}

impl ActivatorMeter {
    /// A meter with no live entry.
    pub fn new() -> ActivatorMeter {
        ActivatorMeter::default()
    }

    /// A request entered the activator. Returns the immediate stat to record (and poke with)
    /// when this revision had no live entry.
    pub fn on_arrival(&mut self, now: Time) -> Option<Stat> {
        let mut immediate = None;
        let entry = self.entry.get_or_insert_with(|| {
            immediate = Some(Stat {
                avg_concurrency: 1.0,
                request_count: 1.0,
                ..Stat::default()
            });
            ActivatorEntry {
                meter: ConcurrencyMeter::new(now),
                first_request: 1.0,
            }
        });
        entry.meter.on_arrival(now, false);
        immediate
    }

    /// A request left the activator (forwarded response done, timed out or failed).
    pub fn on_departure(&mut self, now: Time) {
        if let Some(e) = &mut self.entry {
            e.meter.on_departure(now, false);
        }
    }

    /// Requests in the activator right now (buffered or being proxied).
    pub fn concurrency(&self) -> u64 {
        self.entry.as_ref().map_or(0, |e| e.meter.concurrency())
    }

    /// True when the meter has no live entry: its periodic report is `None` until the next
    /// request arrives.
    pub fn is_idle(&self) -> bool {
        self.entry.is_none()
    }

    /// The periodic (1 s) report, or `None` when there is no live entry (nothing to send).
    pub fn report(&mut self, now: Time) -> Option<Stat> {
        let e = self.entry.as_mut()?;
        let r = e.meter.report(now);
        let first = std::mem::take(&mut e.first_request);
        let delete = r.avg_concurrency == 0.0 && e.meter.concurrency() == 0;
        let stat = Stat {
            avg_concurrency: (r.avg_concurrency - first).max(0.0),
            request_count: r.request_count - first,
            ..Stat::default()
        };
        if delete {
            self.entry = None;
        }
        Some(stat)
    }
}

/// Knative's `X = 1.96² · 100 / 5²` (95 % confidence, 5 % error, pod variance 100).
pub const SAMPLE_X: f64 = 15.3664;

/// How many of `ready` pods the scraper samples: all of them up to 3, else
/// `ceil(N·X / (N + X − 1))` (5 → 4, 10 → 7, 100 → 14, 1000 → 16).
pub fn sample_size(ready: usize) -> usize {
    if ready <= 3 {
        return ready;
    }
    let n = ready as f64;
    (n * SAMPLE_X / (n + SAMPLE_X - 1.0)).ceil() as usize
}

/// Chooses which pods to scrape: writes `sample_size(ready_since.len())` indices into `out`.
/// Pods ready for at least `stable_window` are preferred (shuffled when there are more than
/// enough of them); young pods, shuffled, only fill the sample. Allocation-free when `out` has
/// capacity; O(N).
pub fn choose_sample<R: rand::Rng + ?Sized>(
    now: Time,
    ready_since: &[Time],
    stable_window: Duration,
    rng: &mut R,
    out: &mut Vec<usize>,
) {
    out.clear();
    let n = sample_size(ready_since.len());
    if n == 0 {
        return;
    }
    out.extend(
        (0..ready_since.len()).filter(|&i| now.saturating_since(ready_since[i]) >= stable_window),
    );
    let old = out.len();
    if old >= n {
        out.shuffle(rng);
        out.truncate(n);
        return;
    }
    out.extend(
        (0..ready_since.len()).filter(|&i| now.saturating_since(ready_since[i]) < stable_window),
    );
    out[old..].shuffle(rng);
    out.truncate(n);
}

/// `Σ sampled / n × N`: the scraper's estimate of the revision total from `sampled` pods out of
/// `total` ready pods.
pub fn extrapolate(sum: Stat, sampled: usize, total: usize) -> Stat {
    let mut s = sum;
    if sampled > 0 {
        s.scale(total as f64 / sampled as f64);
    }
    s
}

/// One pod as the scraper sees it: when it became ready and its latest report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PodReport {
    /// When the pod became ready.
    pub ready_since: Time,
    /// Its queue-proxy's latest 1 s report.
    pub stat: Stat,
}

/// One scrape: samples `pods` (the ready ones) as Knative does and extrapolates to the
/// revision total. `None` when there are no ready pods (nothing is recorded that second).
pub fn scrape<R: rand::Rng + ?Sized>(
    now: Time,
    pods: &[PodReport],
    stable_window: Duration,
    rng: &mut R,
) -> Option<Stat> {
    scrape_with(now, pods, stable_window, rng, &mut ScrapeScratch::default())
}

/// Buffers [`scrape_with`] reuses from one scrape to the next (a scrape every second of a
/// long run should not allocate).
#[derive(Clone, Debug, Default)]
pub struct ScrapeScratch {
    since: Vec<Time>,
    idx: Vec<usize>,
}

/// [`scrape`] with reused buffers.
pub fn scrape_with<R: rand::Rng + ?Sized>(
    now: Time,
    pods: &[PodReport],
    stable_window: Duration,
    rng: &mut R,
    scratch: &mut ScrapeScratch,
) -> Option<Stat> {
    if pods.is_empty() {
        return None;
    }
    let ScrapeScratch { since, idx } = scratch;
    since.clear();
    since.extend(pods.iter().map(|p| p.ready_since));
    choose_sample(now, since, stable_window, rng, idx);
    let mut sum = Stat::default();
    for &i in idx.iter() {
        sum.add(&pods[i].stat);
    }
    Some(extrapolate(sum, idx.len(), pods.len()))
}

/// The autoscaler's per-revision metric store (Knative's `collection`): four windows, stable and
/// panic for concurrency and for rps.
#[derive(Clone, Debug)]
pub struct Collector {
    concurrency_stable: WindowBuckets,
    concurrency_panic: WindowBuckets,
    rps_stable: WindowBuckets,
    rps_panic: WindowBuckets,
    /// False when the revision has no scrape target (TBC = −1): empty windows then read as 0
    /// instead of "no data".
    scraping: bool,
}

impl Collector {
    /// Windows of `stable` and `panic` length averaged by `aggregation`; `scraping` false
    /// disables the no-data check (Knative's empty scrape target when TBC = −1).
    pub fn new(
        stable: Duration,
        panic: Duration,
        aggregation: Aggregation,
        scraping: bool,
    ) -> Collector {
        Collector {
            concurrency_stable: WindowBuckets::new(stable, BUCKET, aggregation),
            concurrency_panic: WindowBuckets::new(panic, BUCKET, aggregation),
            rps_stable: WindowBuckets::new(stable, BUCKET, aggregation),
            rps_panic: WindowBuckets::new(panic, BUCKET, aggregation),
            scraping,
        }
    }

    /// Records a stat (a scrape's extrapolated total or an activator's report) at `now`:
    /// concurrency minus proxied concurrency, rps minus proxied rps, summed with anything else
    /// recorded in the same second.
    pub fn record(&mut self, now: Time, stat: &Stat) {
        let c = stat.direct_concurrency();
        self.concurrency_stable.record(now, c);
        self.concurrency_panic.record(now, c);
        let r = stat.direct_request_count();
        self.rps_stable.record(now, r);
        self.rps_panic.record(now, r);
    }

    /// Records already-direct values (concurrency, rps) at `now`.
    pub fn record_values(&mut self, now: Time, concurrency: f64, rps: f64) {
        self.concurrency_stable.record(now, concurrency);
        self.concurrency_panic.record(now, concurrency);
        self.rps_stable.record(now, rps);
        self.rps_panic.record(now, rps);
    }

    /// `(stable, panic)` averages of `metric` at `now`, or `None` for "no data" (the stable
    /// window is empty and scraping is enabled).
    pub fn observed(&self, now: Time, metric: Metric) -> Option<(f64, f64)> {
        let (s, p) = match metric {
            Metric::Concurrency => (&self.concurrency_stable, &self.concurrency_panic),
            Metric::Rps => (&self.rps_stable, &self.rps_panic),
        };
        if self.scraping && s.is_empty_at(now) {
            return None;
        }
        Some((s.window_average(now), p.window_average(now)))
    }

    /// False exactly when [`observed`](Self::observed) is `None` ("no data"), without
    /// computing the averages.
    pub fn has_data(&self, now: Time, metric: Metric) -> bool {
        let s = match metric {
            Metric::Concurrency => &self.concurrency_stable,
            Metric::Rps => &self.rps_stable,
        };
        !(self.scraping && s.is_empty_at(now))
    }

    /// True when both windows of `metric` hold only zeros and their running total is within
    /// rounding of 0 (the linear average rounds it to 0 whatever the bucket count), so that
    /// their averages read 0 at every later time as long as nothing is recorded.
    pub fn only_zeros(&self, metric: Metric) -> bool {
        let (s, p) = match metric {
            Metric::Concurrency => (&self.concurrency_stable, &self.concurrency_panic),
            Metric::Rps => (&self.rps_stable, &self.rps_panic),
        };
        s.only_zeros() && p.only_zeros()
    }

    /// Applies new window lengths (Knative resizes the buckets when the Metric changes) and
    /// the scraping flag.
    pub fn update(&mut self, now: Time, stable: Duration, panic: Duration, scraping: bool) {
        self.concurrency_stable.resize_window(now, stable);
        self.rps_stable.resize_window(now, stable);
        self.concurrency_panic.resize_window(now, panic);
        self.rps_panic.resize_window(now, panic);
        self.scraping = scraping;
    }

    /// Whether an empty window means "no data".
    pub fn scraping(&self) -> bool {
        self.scraping
    }
}

#[cfg(test)]
#[path = "tests/metrics.rs"]
mod tests;
