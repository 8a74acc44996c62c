//! Simulated and live time: integer nanoseconds since the start of a run.
//!
//! Logic never uses `f64` seconds: [`Time`] is an instant, [`std::time::Duration`] a span, and
//! conversion to floating point happens only in reports and statistical estimators.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// An instant of a run: nanoseconds since the run started (t = 0).
///
/// The simulator advances it by popping events; the live runtime converts its monotonic clock
/// into it in exactly one place (`runtime/src/clock.rs`). Every policy in `core` takes it as an
/// argument and never reads a clock of its own.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub u64);

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Time {
    /// The start of the run.
    pub const ZERO: Time = Time(0);
    /// The end of time, used as "never".
    pub const MAX: Time = Time(u64::MAX);

    /// An instant `ns` nanoseconds after the start.
    pub const fn from_nanos(ns: u64) -> Time {
        Time(ns)
    }
    /// An instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }
    /// An instant `s` whole seconds after the start.
    pub const fn from_secs(s: u64) -> Time {
        Time(s * NANOS_PER_SEC)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole seconds since the start (truncated).
    pub const fn whole_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }
    /// Seconds since the start as `f64`, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
    /// The span since the start of the run.
    pub fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }
    /// `self` truncated down to a multiple of `granularity` (the start of its bucket).
    pub fn truncate(self, granularity: Duration) -> Time {
        let g = duration_nanos(granularity).max(1);
        Time(self.0 - self.0 % g)
    }
    /// `self + d`, saturating at [`Time::MAX`].
    pub fn saturating_add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(duration_nanos(d)))
    }
}

/// A span in nanoseconds as `u64`, saturating (a span longer than 584 years is "forever").
pub fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    /// The span between two instants; zero when `rhs` is later (time never runs backwards in a
    /// run, so a negative span is a caller's ordering mistake that must not wrap around).
    fn sub(self, rhs: Time) -> Duration {
        debug_assert!(self >= rhs, "time went backwards: {self} - {rhs}");
        self.saturating_since(rhs)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            crate::duration::format_duration(self.since_start())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_integer_and_saturating() {
        let t = Time::from_secs(3) + Duration::from_millis(250);
        assert_eq!(t.as_nanos(), 3_250_000_000);
        assert_eq!(t - Time::from_secs(1), Duration::from_millis(2250));
        assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
        assert_eq!(t.truncate(Duration::from_secs(1)), Time::from_secs(3));
        assert_eq!(t.truncate(Duration::from_secs(2)), Time::from_secs(2));
        assert_eq!(t.whole_secs(), 3);
    }

    #[test]
    fn display_uses_units() {
        assert_eq!(Time::from_millis(1500).to_string(), "1.5s");
        assert_eq!(Time::ZERO.to_string(), "0s");
    }
}
