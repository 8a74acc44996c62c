//! The runtime's one clock: tokio's monotonic time converted to scenario [`Time`].
//!
//! Scenario time is the wall time elapsed since the run's epoch divided by the time scale:
//! with `scale = 1` a scenario second is a wall second; with `scale = 0.1` (ten times faster)
//! a scenario second lasts 100 ms of wall time, so every duration of the scenario (cold starts,
//! service times, windows, timeouts) shrinks by the same factor. Policies only ever see
//! scenario time. Under `#[tokio::test(start_paused = true)]` the clock is tokio's paused clock.

#![expect(
    clippy::disallowed_methods,
    reason = "the runtime's one wall clock: every other module reads time through Clock"
)]

use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::time::duration_nanos;
use tokio::time::Instant;

/// Converts between tokio instants and scenario time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    scale: f64,
}

impl Clock {
    /// A clock whose epoch (scenario t = 0) is now. `scale` is wall seconds per scenario second
    /// (1 = real time); it must be finite and > 0 (callers validate it).
    pub fn start(scale: f64) -> Clock {
        Clock::with_epoch(Instant::now(), scale)
    }

    /// A clock with the given epoch.
    pub fn with_epoch(epoch: Instant, scale: f64) -> Clock {
        debug_assert!(scale.is_finite() && scale > 0.0, "time scale {scale}");
        Clock { epoch, scale }
    }

    /// The time scale (wall seconds per scenario second).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The wall instant of the epoch.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The current scenario time.
    pub fn now(&self) -> Time {
        self.time_at(Instant::now())
    }

    /// The current wall instant (for wall-clock measurements such as router overhead).
    pub fn wall_now(&self) -> Instant {
        Instant::now()
    }

    /// The scenario time of a wall instant (instants before the epoch map to t = 0).
    pub fn time_at(&self, at: Instant) -> Time {
        Time(duration_nanos(
            self.to_scenario(at.saturating_duration_since(self.epoch)),
        ))
    }

    /// The wall instant of scenario time `t` (saturating at about 30 years from the epoch,
    /// tokio's "never", so [`Time::MAX`] is a valid deadline).
    pub fn wall_at(&self, t: Time) -> Instant {
        let far = Duration::from_secs(86_400 * 365 * 30);
        self.epoch + self.to_wall(t.since_start()).min(far)
    }

    /// A scenario span as a wall span.
    pub fn to_wall(&self, d: Duration) -> Duration {
        if self.scale == 1.0 {
            d
        } else {
            Duration::from_nanos(round_nanos(duration_nanos(d) as f64 * self.scale))
        }
    }

    /// A wall span as a scenario span.
    pub fn to_scenario(&self, wall: Duration) -> Duration {
        if self.scale == 1.0 {
            wall
        } else {
            Duration::from_nanos(round_nanos(duration_nanos(wall) as f64 / self.scale))
        }
    }

    /// Sleeps until scenario time `t`.
    pub async fn sleep_until(&self, t: Time) {
        tokio::time::sleep_until(self.wall_at(t)).await;
    }

    /// Sleeps for a scenario span.
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(self.to_wall(d)).await;
    }
}

/// Appends the current date as an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) for
/// the `Date` header of the router's answers; formatted once a second per thread.
pub(crate) fn push_http_date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            *c = (secs, http_date(secs));
        }
        out.extend_from_slice(&c.1);
    });
}

/// The IMF-fixdate of `secs` seconds since the Unix epoch.
fn http_date(secs: u64) -> [u8; 29] {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let text = httpdate::fmt_http_date(t);
    let mut out = [0u8; 29];
    let n = text.len().min(29);
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out
}

/// Nearest whole nanosecond, saturating (f64 → u64 casts saturate; NaN maps to 0).
fn round_nanos(ns: f64) -> u64 {
    ns.round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scenario_time_is_wall_time_over_scale() {
        let c = Clock::start(1.0);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(c.now(), Time::from_millis(1500));
        let fast = Clock::with_epoch(c.epoch(), 0.1);
        // 1.5 s of wall time is 15 s of scenario time at scale 0.1.
        assert_eq!(fast.now(), Time::from_secs(15));
        assert_eq!(
            fast.to_wall(Duration::from_secs(2)),
            Duration::from_millis(200)
        );
        assert_eq!(
            fast.wall_at(Time::from_secs(20)) - c.epoch(),
            Duration::from_secs(2)
        );
        fast.sleep_until(Time::from_secs(20)).await;
        assert_eq!(fast.now(), Time::from_secs(20));
        assert!(fast.wall_at(Time::MAX) > fast.wall_at(Time::from_secs(86_400 * 365)));
    }

    #[test]
    fn http_dates() {
        assert_eq!(&http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&http_date(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        let mut v = Vec::new();
        push_http_date(&mut v);
        assert_eq!(v.len(), 29);
        assert!(v.ends_with(b" GMT"));
    }

    #[tokio::test(start_paused = true)]
    async fn instants_before_the_epoch_are_time_zero() {
        let before = Clock::start(1.0).epoch();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let c = Clock::start(1.0);
        assert_eq!(c.time_at(before), Time::ZERO);
    }
}
