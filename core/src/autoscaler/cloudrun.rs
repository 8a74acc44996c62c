//! Cloud Run's own autoscaler (`kind = "cloud-run"`), as far as Google publishes it
//! (MODELS.md §2, BILLING.md §2: "About instance autoscaling", "Concurrency", "Maximum
//! instances"):
//!
//! - two drivers, each computed on its own, **the larger instance count wins**: the average CPU
//!   utilisation over a 1-minute window against `cpu_target` (60 %), and the average in-flight
//!   requests per instance over the same window against `concurrency_target` (60 %) of the
//!   maximum concurrency per instance (`container_concurrency`, a hard cap);
//! - instances the drivers no longer need are kept idle up to `idle_retention` (15 min) after
//!   their last request, and come back without a cold start if traffic returns;
//! - at `max_scale`, a request pends up to max(3.5 × the average start-up time, 10 s), then gets
//!   429 ([`CloudRun::pending_limit`]);
//! - `min_scale` instances are kept whatever the traffic.
//!
//! What Google does not publish is an assumption, and a key where it is a constant: how often
//! the drivers are evaluated (`evaluation_period`, 2 s); that a request that finds no free slot
//! makes the front end start an instance for it at once (the third, "pending" driver below:
//! ⌈requests in the system / container_concurrency⌉), so a burst is not left waiting for the
//! next evaluation of a 1-minute average; and the exactly-15-minute retention. "At lower
//! instance counts the utilisation thresholds are higher" is not quantified by Google and not
//! modelled.
//!
//! A sans-IO policy: the driver records one [`Sample`] per second (the revision's time-averaged
//! in-flight requests at its instances and the CPU-seconds they used) and asks for a
//! [`Decision`] every `evaluation_period`. Which instances to park, bring back or remove is the
//! platform's (`core/src/platform/autoscale.rs`).
//!
//! ```
//! use scalelab_core::Time;
//! use scalelab_core::autoscaler::{CloudRunSettings, cloudrun::{CloudRun, Sample}};
//! let mut cr = CloudRun::new(CloudRunSettings::default(), 80, 1.0);
//! for s in 1..=60 {
//!     cr.record(Time::from_secs(s), Sample { concurrency: 100.0, cpu_seconds: 0.0 });
//! }
//! // 100 in flight over a minute, 60 % of 80 per instance: ⌈100 / 48⌉ = 3.
//! assert_eq!(cr.decide(Time::from_secs(60), 0).desired, 3);
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::config::CloudRunSettings;
use crate::time::{Time, duration_nanos};

/// One second of a revision's measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Time-averaged requests in flight at the revision's instances over the second (summed
    /// over the instances).
    pub concurrency: f64,
    /// CPU-seconds the revision's instances used in the second.
    pub cpu_seconds: f64,
}

/// What the drivers ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Instances wanted: the largest driver, at least `min_scale`, at most `max_scale`.
    pub desired: u32,
    /// The CPU driver's count.
    pub cpu: u32,
    /// The concurrency driver's count.
    pub concurrency: u32,
    /// The pending driver's count (requests that need a slot now).
    pub pending: u32,
}

/// Cloud Run's autoscaler for one revision.
#[derive(Clone, Debug)]
pub struct CloudRun {
    settings: CloudRunSettings,
    cc: u32,
    vcpu: f64,
    /// Per-second samples in the window, oldest first.
    window: VecDeque<(Time, Sample)>,
    sum: Sample,
}

/// ⌈x⌉ as a count, forgiving the rounding error of a quotient that should be whole.
fn ceil_count(x: f64) -> u32 {
    if !(x.is_finite() && x > 0.0) {
        return 0;
    }
    (x - 1e-9).ceil().clamp(0.0, f64::from(u32::MAX)) as u32
}

impl CloudRun {
    /// The autoscaler of a revision whose instances have `container_concurrency` slots
    /// (Cloud Run's is 1 to 1000) and `vcpu` vCPUs.
    pub fn new(settings: CloudRunSettings, container_concurrency: u32, vcpu: f64) -> CloudRun {
        CloudRun {
            settings,
            cc: container_concurrency.max(1),
            vcpu,
            window: VecDeque::new(),
            sum: Sample::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &CloudRunSettings {
        &self.settings
    }

    /// Records the second that ends at `now`.
    pub fn record(&mut self, now: Time, s: Sample) {
        self.window.push_back((now, s));
        self.sum.concurrency += s.concurrency;
        self.sum.cpu_seconds += s.cpu_seconds;
        let from = now.0.saturating_sub(duration_nanos(self.settings.window));
        while self.window.front().is_some_and(|(t, _)| t.0 <= from) {
            if let Some((_, old)) = self.window.pop_front() {
                self.sum.concurrency -= old.concurrency;
                self.sum.cpu_seconds -= old.cpu_seconds;
            }
        }
        if self.window.is_empty() {
            self.sum = Sample::default();
        }
    }

    /// The window's averages: (in-flight requests, CPU cores in use). Averaged over the seconds
    /// recorded so far when the window is not yet full.
    pub fn averages(&self) -> (f64, f64) {
        let n = self.window.len();
        if n == 0 {
            return (0.0, 0.0);
        }
        let n = n as f64;
        (
            (self.sum.concurrency / n).max(0.0),
            (self.sum.cpu_seconds / n).max(0.0),
        )
    }

    /// The drivers' decision at `now`, with `in_system` requests arrived and not answered
    /// (running or waiting for a slot).
    pub fn decide(&self, _now: Time, in_system: u64) -> Decision {
        let (conc, cores) = self.averages();
        let s = &self.settings;
        let cpu = ceil_count(cores / (self.vcpu * s.cpu_target));
        let concurrency = ceil_count(conc / (f64::from(self.cc) * s.concurrency_target));
        let pending = self.pending_driver(in_system);
        let mut desired = cpu.max(concurrency).max(pending).max(s.min_scale);
        if s.max_scale > 0 {
            desired = desired.min(s.max_scale);
        }
        Decision {
            desired,
            cpu,
            concurrency,
            pending,
        }
    }

    /// Instances that `in_system` requests need right now, one slot each, within `max_scale`.
    pub fn pending_driver(&self, in_system: u64) -> u32 {
        let n = in_system.div_ceil(u64::from(self.cc));
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if self.settings.max_scale > 0 {
            n.min(self.settings.max_scale)
        } else {
            n
        }
    }

    /// How long a request that finds the revision at `max_scale` with no free slot waits before
    /// it gets 429: max(3.5 × the mean start-up time, 10 s) (published).
    pub fn pending_limit(mean_startup: Duration) -> Duration {
        mean_startup.mul_f64(3.5).max(Duration::from_secs(10))
    }

    /// True at `max_scale` with `instances` instances (starting, ready or kept idle).
    pub fn at_max(&self, instances: u32) -> bool {
        self.settings.max_scale > 0 && instances >= self.settings.max_scale
    }
}

#[cfg(test)]
#[path = "tests/cloudrun.rs"]
mod tests;
