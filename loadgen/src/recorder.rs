//! Measurements of a run in fixed memory: HDR histograms (latency of successful requests and
//! time to failure of failed ones, both from the intended send time; send lag), counters per
//! outcome, and one row of counters per second of the run. Memory grows with the run's
//! duration (one small row per second), never with the number of requests.
//!
//! Accounting: every intended request is counted once by [`Recorder::intend`] and ends in
//! exactly one outcome through [`Recorder::finished`]; at the end of a run
//! `intended == outcomes.sum()` (checked by the engine and by the tests).

use hdrhistogram::Histogram;
use scalelab_core::Time;
use scalelab_core::time::NANOS_PER_SEC;

use crate::hdrlog::{HdrLog, Interval};
use crate::outcome::{OUTCOMES, Outcome};
use crate::output::OutputLog;

/// Largest value a histogram holds: one hour in microseconds. Longer values are clamped to it.
pub const HIST_MAX_US: u64 = 3_600_000_000;
/// Significant decimal digits kept by every histogram (0.1 % value resolution).
pub const HIST_SIGFIG: u8 = 3;

/// An empty histogram with the crate's bounds (microseconds, 1 µs to 1 h, 3 digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG).expect("constant bounds are valid")
}

/// The value at `percentile` (0–100) exactly as HdrHistogram's reference implementation
/// computes it (Java `AbstractHistogram.getValueAtPercentile`, which `HistogramLogProcessor`,
/// wrk2 and jHiccup print): the percentile is lowered by one ulp (so that a product like
/// 0.07 × 100 that rounds up in floating point does not skip to the next sample), the rank is
/// ⌈p·n/100⌉ (at least 1), and the value is the highest one equivalent to the bucket holding
/// that sample (the lowest for p = 0). This is the hdrhistogram crate's `value_at_quantile`
/// except for that one-ulp guard; `tests/it/percentiles.rs` checks both against the Java
/// library's output. 0 for an empty histogram.
pub fn value_at_percentile(h: &Histogram<u64>, percentile: f64) -> u64 {
    let total = h.len();
    if total == 0 {
        return 0;
    }
    let requested = percentile.next_down().clamp(0.0, 100.0);
    let rank = ((requested * total as f64) / 100.0).ceil() as u64;
    let rank = rank.max(1);
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_at_value();
        if seen >= rank {
            let value = v.value_iterated_to();
            return if percentile == 0.0 {
                h.lowest_equivalent(value)
            } else {
                h.highest_equivalent(value)
            };
        }
    }
    h.max()
}

/// Microseconds in a span of run time, at least 1 (the histograms' lowest value).
pub(crate) fn micros(from: Time, to: Time) -> u64 {
    (to.saturating_since(from).as_nanos() / 1000).max(1) as u64
}

/// One second of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SecondRow {
    /// Requests whose intended send time falls in this second (open loop).
    pub target: u64,
    /// Requests written to a connection in this second.
    pub sent: u64,
    /// Requests completed (1xx–3xx) in this second.
    pub completions: u64,
    /// Requests that failed in this second (every outcome but success and `aborted`).
    pub errors: u64,
    /// Requests written and not yet answered at the end of the second.
    pub in_flight: u64,
    /// Requests waiting for a connection at the end of the second.
    pub queued: u64,
    /// Connections open at the end of the second.
    pub connections: u64,
    /// p99 latency of the requests completed in this second, ms.
    pub p99_ms: f64,
    /// Largest send lag of a request sent in this second, µs.
    pub max_lag_us: u64,
}

/// How one request ended, as recorded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Done {
    /// Position in the schedule (open loop) or in start order (closed loop).
    pub index: u64,
    pub intended: Time,
    /// When it was written to a connection, if it was.
    pub sent: Option<Time>,
    pub end: Time,
    pub outcome: Outcome,
    /// The response status, when there was a response.
    pub status: Option<u16>,
    pub bytes: u64,
}

/// All measurements of one run.
pub struct Recorder {
    /// Latency of successful requests (1xx–3xx), µs from the intended send time.
    pub latency: Histogram<u64>,
    /// Time to failure of failed requests that were attempted (every failure but `not_sent` and
    /// `queue_full`), µs from the intended send time.
    pub failed_latency: Histogram<u64>,
    /// Send lag (written to a connection − intended send time), µs, open loop only.
    pub send_lag: Histogram<u64>,
    interval: Histogram<u64>,
    /// Requests per outcome, indexed like [`OUTCOMES`].
    pub outcomes: [u64; OUTCOMES.len()],
    /// Requests intended (scheduled, or started by a closed-loop worker).
    pub intended: u64,
    /// Requests written to a connection.
    pub sent: u64,
    /// Requests written to a connection before the end of the schedule (the run's duration):
    /// the achieved rate's numerator.
    pub sent_in_schedule: u64,
    horizon: Time,
    finished_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// One row per second.
    pub rows: Vec<SecondRow>,
    current: u64,
    hdr_log: Option<HdrLog>,
    output: Option<OutputLog>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(None, None)
    }
}

fn second(t: Time) -> u64 {
    t.as_nanos() / NANOS_PER_SEC
}

impl Recorder {
    /// An empty recorder, optionally feeding an interval log and a per-request log.
    pub(crate) fn new(hdr_log: Option<HdrLog>, output: Option<OutputLog>) -> Recorder {
        Recorder {
            latency: new_histogram(),
            failed_latency: new_histogram(),
            send_lag: new_histogram(),
            interval: new_histogram(),
            outcomes: [0; OUTCOMES.len()],
            intended: 0,
            sent: 0,
            sent_in_schedule: 0,
            horizon: Time::from_nanos(u64::MAX),
            finished_sent: 0,
            bytes_received: 0,
            rows: Vec::new(),
            current: 0,
            hdr_log,
            output,
        }
    }

    /// Sets the end of the schedule (sends after it do not count towards the achieved rate).
    pub(crate) fn set_horizon(&mut self, horizon: Time) {
        self.horizon = horizon;
    }

    fn row(&mut self, sec: u64) -> &mut SecondRow {
        let i = usize::try_from(sec).unwrap_or(usize::MAX);
        if i >= self.rows.len() {
            self.rows.resize(i + 1, SecondRow::default());
        }
        &mut self.rows[i]
    }

    /// Requests written to a connection and not answered yet.
    pub fn in_flight(&self) -> u64 {
        self.sent - self.finished_sent
    }

    /// Requests with an outcome.
    pub fn finished_count(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// A request is intended at `at`. `open` marks open-loop requests, whose intended time
    /// comes from the schedule and counts towards the second's target.
    pub(crate) fn intend(&mut self, at: Time, open: bool) {
        self.intended += 1;
        if open {
            self.row(second(at)).target += 1;
        }
    }

    /// `n` requests of the schedule, never sent, are intended (the rest of a schedule when a
    /// run stops early); their outcome is recorded here too.
    pub(crate) fn never_sent(&mut self, n: u64, outcome: Outcome) {
        self.intended += n;
        self.outcomes[outcome.index()] += n;
    }

    /// A request was written to a connection at `sent`.
    pub(crate) fn on_sent(&mut self, intended: Time, sent: Time, open: bool) {
        self.sent += 1;
        if sent < self.horizon {
            self.sent_in_schedule += 1;
        }
        let row = self.row(second(sent));
        row.sent += 1;
        if open {
            let lag = sent.saturating_since(intended).as_micros() as u64;
            row.max_lag_us = row.max_lag_us.max(lag);
            self.send_lag.saturating_record(lag.max(1));
        }
    }

    /// A request ended.
    pub(crate) fn finished(&mut self, d: &Done) {
        self.roll_to(second(d.end));
        self.outcomes[d.outcome.index()] += 1;
        self.bytes_received += d.bytes;
        if d.sent.is_some() {
            self.finished_sent += 1;
        }
        let sec = second(d.end).max(self.current);
        if d.outcome.is_success() {
            let us = micros(d.intended, d.end);
            self.latency.saturating_record(us);
            self.interval.saturating_record(us);
            self.row(sec).completions += 1;
        } else {
            if !matches!(d.outcome, Outcome::NotSent | Outcome::QueueFull) {
                self.failed_latency
                    .saturating_record(micros(d.intended, d.end));
            }
            if d.outcome != Outcome::Aborted {
                self.row(sec).errors += 1;
            }
        }
        if let Some(out) = &mut self.output {
            out.line(d);
        }
    }

    /// Closes every second before `sec`: its p99, its interval-log entry.
    pub(crate) fn roll_to(&mut self, sec: u64) {
        while self.current < sec {
            self.close_current(1_000_000_000);
        }
    }

    fn close_current(&mut self, length_ns: u64) {
        let sec = self.current;
        let in_flight = self.in_flight();
        let p99_ms = if self.interval.is_empty() {
            0.0
        } else {
            value_at_percentile(&self.interval, 99.0) as f64 / 1000.0
        };
        let row = self.row(sec);
        row.in_flight = in_flight;
        row.p99_ms = p99_ms;
        if let Some(log) = &self.hdr_log {
            log.write(Interval {
                hist: self.interval.clone(),
                start: std::time::Duration::from_secs(sec),
                length: std::time::Duration::from_nanos(length_ns),
            });
        }
        self.interval.reset();
        self.current += 1;
    }

    /// Sets the pool levels of the second being filled (sampled by the once-a-second ticker).
    pub(crate) fn set_levels(&mut self, sec: u64, queued: u64, connections: u64) {
        let row = self.row(sec);
        row.queued = queued;
        row.connections = connections;
    }

    /// Closes the last, partial second at `end` and hands back the logs.
    pub(crate) fn finish(&mut self, end: Time) -> (Option<HdrLog>, Option<OutputLog>) {
        self.roll_to(second(end));
        let partial = end.as_nanos() % NANOS_PER_SEC;
        if partial > 0 || self.current as usize >= self.rows.len() {
            self.close_current(partial.max(1));
        }
        self.rows
            .truncate(usize::try_from(self.current).unwrap_or(usize::MAX).max(1));
        (self.hdr_log.take(), self.output.take())
    }

    /// Requests counted under `bucket`.
    pub fn count(&self, bucket: crate::Bucket) -> u64 {
        OUTCOMES
            .iter()
            .filter(|o| o.bucket() == bucket)
            .map(|o| self.outcomes[o.index()])
            .sum()
    }

    /// Requests with this outcome.
    pub fn outcome(&self, o: Outcome) -> u64 {
        self.outcomes[o.index()]
    }

    /// Requests that succeeded (1xx–3xx).
    pub fn successes(&self) -> u64 {
        OUTCOMES
            .iter()
            .filter(|o| o.is_success())
            .map(|o| self.outcomes[o.index()])
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(intended: Time, sent: Option<Time>, end: Time, outcome: Outcome) -> Done {
        Done {
            index: 0,
            intended,
            sent,
            end,
            outcome,
            status: None,
            bytes: 0,
        }
    }

    #[test]
    fn counts_rows_and_latency_from_the_intended_time() {
        let mut r = Recorder::default();
        let t = Time::from_millis;
        r.intend(t(100), true);
        r.on_sent(t(100), t(150), true);
        r.finished(&done(t(100), Some(t(150)), t(300), Outcome::Http2xx));
        r.intend(t(900), true);
        r.on_sent(t(900), t(900), true);
        r.intend(t(1200), true);
        r.on_sent(t(1200), t(1201), true);
        r.finished(&done(t(900), Some(t(900)), t(1500), Outcome::Http5xx));
        assert_eq!(r.in_flight(), 1);
        r.intend(t(1300), true);
        r.finished(&done(t(1300), None, t(1600), Outcome::QueueFull));
        r.finished(&done(t(1200), Some(t(1201)), t(2500), Outcome::Aborted));
        r.finish(t(2500));
        assert_eq!(r.intended, 4);
        assert_eq!(r.finished_count(), 4);
        assert_eq!(r.latency.len(), 1);
        let lat = r.latency.max();
        assert!((199_000..=201_000).contains(&lat), "{lat}");
        // Time to failure of the 5xx and the aborted request, not of the one never sent.
        assert_eq!(r.failed_latency.len(), 2);
        assert_eq!(r.count(crate::Bucket::Rejected), 2);
        assert_eq!(r.count(crate::Bucket::InFlightAtEnd), 1);
        assert_eq!(r.rows.len(), 3);
        assert_eq!(
            (r.rows[0].target, r.rows[0].sent, r.rows[0].completions),
            (2, 2, 1)
        );
        assert_eq!(
            (r.rows[1].target, r.rows[1].errors, r.rows[1].in_flight),
            (2, 2, 1)
        );
        assert_eq!(r.rows[0].max_lag_us, 50_000);
        assert!((r.rows[0].p99_ms - 200.0).abs() < 1.0);
    }
}
