//! The one place the load generator reads the wall clock.
//!
//! A run has an epoch, taken when it starts; everything else in the crate speaks
//! [`Time`] (nanoseconds since that epoch, the simulator's time type) and converts back to a
//! tokio [`Instant`] only to sleep or to bound a future. Keeping the conversion here is what lets
//! clippy ban clock reads everywhere else (`clippy.toml`).

use std::time::SystemTime;

use scalelab_core::Time;
use scalelab_core::time::duration_nanos;
use tokio::time::Instant;

/// A run's clock: a monotonic epoch plus the wall-clock time it corresponds to (for the
/// `StartTime` header of HdrHistogram interval logs).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    wall_epoch: SystemTime,
}

impl Clock {
    /// A clock whose t = 0 is now.
    #[expect(
        clippy::disallowed_methods,
        reason = "the load generator's single clock module: the run's epoch is read here"
    )]
    pub fn start() -> Clock {
        Clock {
            epoch: Instant::now(),
            wall_epoch: SystemTime::now(),
        }
    }

    /// The time since the epoch.
    #[expect(
        clippy::disallowed_methods,
        reason = "the load generator's single clock module: all run time is read here"
    )]
    pub fn now(&self) -> Time {
        Time::from_nanos(duration_nanos(
            Instant::now().saturating_duration_since(self.epoch),
        ))
    }

    /// The tokio instant of run time `t` (to sleep until it or bound a future by it).
    pub fn instant(&self, t: Time) -> Instant {
        self.epoch + t.since_start()
    }

    /// The wall-clock time of the epoch.
    pub fn wall_start(&self) -> SystemTime {
        self.wall_epoch
    }
}
