//! Measurements of a run in fixed memory: HDR histograms (latency from the intended send time,
//! send lag), counters per outcome, and one row of counters per second of the run. Memory grows
//! with the run's duration (one small row per second), never with the number of requests.

use hdrhistogram::Histogram;
use scalelab_core::Time;
use scalelab_core::time::NANOS_PER_SEC;

use crate::hdrlog::{HdrLog, Interval};
use crate::outcome::{Bucket, OUTCOMES, Outcome};

/// Largest value a histogram holds: one hour in microseconds. Longer values are clamped to it.
pub const HIST_MAX_US: u64 = 3_600_000_000;
/// Significant decimal digits kept by every histogram (0.1 % value resolution).
pub const HIST_SIGFIG: u8 = 3;

/// An empty histogram with the crate's bounds (microseconds, 1 µs to 1 h, 3 digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG).expect("constant bounds are valid")
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
    /// Requests sent in this second.
    pub sent: u64,
    /// Requests completed (2xx/3xx) in this second.
    pub completions: u64,
    /// Requests that failed in this second (everything but completed and aborted).
    pub errors: u64,
    /// Requests in flight at the end of the second.
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

/// All measurements of one run.
pub struct Recorder {
    /// Latency of completed requests, µs from the intended send time.
    pub latency: Histogram<u64>,
    /// Send lag (actual − intended send time), µs, open loop only.
    pub send_lag: Histogram<u64>,
    interval: Histogram<u64>,
    /// Requests per outcome, indexed like [`OUTCOMES`].
    pub outcomes: [u64; OUTCOMES.len()],
    /// Requests dispatched.
    pub dispatched: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// One row per second.
    pub rows: Vec<SecondRow>,
    current: u64,
    hdr_log: Option<HdrLog>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(None)
    }
}

fn second(t: Time) -> u64 {
    t.as_nanos() / NANOS_PER_SEC
}

impl Recorder {
    /// An empty recorder, optionally feeding an interval log.
    pub(crate) fn new(hdr_log: Option<HdrLog>) -> Recorder {
        Recorder {
            latency: new_histogram(),
            send_lag: new_histogram(),
            interval: new_histogram(),
            outcomes: [0; OUTCOMES.len()],
            dispatched: 0,
            bytes_received: 0,
            rows: Vec::new(),
            current: 0,
            hdr_log,
        }
    }

    fn row(&mut self, sec: u64) -> &mut SecondRow {
        let i = usize::try_from(sec).unwrap_or(usize::MAX);
        if i >= self.rows.len() {
            self.rows.resize(i + 1, SecondRow::default());
        }
        &mut self.rows[i]
    }

    /// Requests sent but not finished.
    pub fn in_flight(&self) -> u64 {
        self.dispatched - self.outcomes.iter().sum::<u64>()
    }

    /// A request leaves the generator. `open` marks open-loop requests, whose intended time
    /// comes from the schedule (closed-loop requests are intended when they are sent).
    pub(crate) fn dispatched(&mut self, intended: Time, actual: Time, open: bool) {
        self.dispatched += 1;
        if open {
            self.row(second(intended)).target += 1;
            let lag = actual.saturating_since(intended).as_micros() as u64;
            self.send_lag.saturating_record(lag.max(1));
            let row = self.row(second(actual));
            row.max_lag_us = row.max_lag_us.max(lag);
        }
        self.row(second(actual)).sent += 1;
    }

    /// A request ended at `end` with `outcome`.
    pub(crate) fn finished(&mut self, intended: Time, end: Time, outcome: Outcome, bytes: u64) {
        self.roll_to(second(end));
        self.outcomes[outcome.index()] += 1;
        self.bytes_received += bytes;
        let sec = second(end).max(self.current);
        match outcome.bucket() {
            Bucket::Completed => {
                let us = micros(intended, end);
                self.latency.saturating_record(us);
                self.interval.saturating_record(us);
                self.row(sec).completions += 1;
            }
            Bucket::InFlightAtEnd => {}
            Bucket::Rejected | Bucket::TimedOut => self.row(sec).errors += 1,
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
            self.interval.value_at_quantile(0.99) as f64 / 1000.0
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

    /// Closes the last, partial second at `end` and hands back the interval log.
    pub(crate) fn finish(&mut self, end: Time) -> Option<HdrLog> {
        self.roll_to(second(end));
        let partial = end.as_nanos() % NANOS_PER_SEC;
        if partial > 0 || self.current as usize >= self.rows.len() {
            self.close_current(partial.max(1));
        }
        self.rows
            .truncate(usize::try_from(self.current).unwrap_or(usize::MAX).max(1));
        self.hdr_log.take()
    }

    /// Requests counted under `bucket`.
    pub fn count(&self, bucket: Bucket) -> u64 {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_and_latency_from_the_intended_time() {
        let mut r = Recorder::new(None);
        let t = Time::from_millis;
        r.dispatched(t(100), t(150), true);
        r.finished(t(100), t(300), Outcome::Http2xx, 10);
        r.dispatched(t(900), t(900), true);
        r.dispatched(t(1200), t(1201), true);
        r.finished(t(900), t(1500), Outcome::Http5xx, 0);
        assert_eq!(r.in_flight(), 1);
        r.finished(t(1200), t(2500), Outcome::Aborted, 0);
        r.finish(t(2500));
        assert_eq!(r.latency.len(), 1);
        let lat = r.latency.max();
        assert!((199_000..=201_000).contains(&lat), "{lat}");
        assert_eq!(r.count(Bucket::Rejected), 1);
        assert_eq!(r.count(Bucket::InFlightAtEnd), 1);
        assert_eq!(r.rows.len(), 3);
        assert_eq!(
            (r.rows[0].target, r.rows[0].sent, r.rows[0].completions),
            (2, 2, 1)
        );
        assert_eq!(
            (r.rows[1].target, r.rows[1].errors, r.rows[1].in_flight),
            (1, 1, 1)
        );
        assert_eq!(r.rows[0].max_lag_us, 50_000);
        assert!((r.rows[0].p99_ms - 200.0).abs() < 1.0);
    }
}
