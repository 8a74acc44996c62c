//! The KPA decider (Knative's `scaling.autoscaler` plus the multiscaler's status rules),
//! KPA.md §2.1, §2.4 and §2.5.
//!
//! One [`Decider`] per revision. It owns the revision's metric windows ([`Collector`]): record
//! stats into it every second ([`Decider::record`]), and call [`Decider::tick`] every 2 s (and
//! right away after an activator's first-request stat when [`Decider::wants_poke`] says so).
//! `tick` returns the [`ScaleResult`] and whether the reconciler must hear about it.

use std::time::Duration;

use serde::Serialize;

use crate::autoscaler::bucketing::MaxWindow;
use crate::autoscaler::config::{Aggregation, KpaSettings, Metric};
use crate::autoscaler::metrics::{Collector, Stat};
use crate::time::{Time, duration_nanos};

/// The decider's tick interval (`tickInterval`): a free-running 2 s ticker per revision.
pub const TICK_INTERVAL: Duration = Duration::from_secs(2);

/// Knative's `TargetMin`: the smallest per-pod target.
pub const TARGET_MIN: f64 = 0.01;

/// Default per-pod total for the concurrency metric when container concurrency is 0.
pub const DEFAULT_CONCURRENCY_TARGET: f64 = 100.0;

/// Default per-pod total for the rps metric.
pub const DEFAULT_RPS_TARGET: f64 = 200.0;

/// Everything the decider derives from the settings and the revision's container concurrency
/// (Knative's `DeciderSpec` plus the Metric's windows), KPA.md §2.1.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeciderSpec {
    /// The scaling metric.
    pub metric: Metric,
    /// What each pod should carry on average: `max(0.01, total × utilisation)`.
    pub target_value: f64,
    /// What one pod can carry (for EBC and the activator count).
    pub total_value: f64,
    /// Ratio of desired panic pods to ready pods that triggers panic (`pct / 100`).
    pub panic_threshold: f64,
    /// The stable window (also the panic exit hold time).
    #[serde(with = "crate::duration::serde_duration")]
    pub stable_window: Duration,
    /// `max(1 s, round(stable × pct / 100))`, rounded half away from zero to whole seconds.
    #[serde(with = "crate::duration::serde_duration")]
    pub panic_window: Duration,
    /// Target burst capacity: −1, 0 or positive.
    pub target_burst_capacity: f64,
    /// Scale-down delay (only the value at construction sizes the delay window).
    #[serde(with = "crate::duration::serde_duration")]
    pub scale_down_delay: Duration,
    /// Per tick, desired ≤ ceil(rate × ready).
    pub max_scale_up_rate: f64,
    /// Per tick, desired ≥ floor(ready / rate) when reachable.
    pub max_scale_down_rate: f64,
    /// Minimum non-zero scale (≤ 1 = unset).
    pub activation_scale: i32,
    /// The initial scale (used for the starting excess burst capacity).
    pub initial_scale: i32,
    /// Concurrent requests one activator handles.
    pub activator_capacity: f64,
    /// Window averaging algorithm (fixed at construction, as in Knative).
    pub aggregation: Aggregation,
}

/// `Duration(stable × pct / 100).Round(1 s)`, at least 1 s: Go truncates the float product to
/// whole nanoseconds, then rounds half away from zero.
pub fn panic_window(stable: Duration, percentage: f64) -> Duration {
    let ns = (duration_nanos(stable) as f64 * percentage / 100.0) as u64;
    let s = ns / 1_000_000_000;
    let rem = ns % 1_000_000_000;
    let secs = if rem >= 500_000_000 { s + 1 } else { s };
    Duration::from_secs(secs.max(1))
}

impl DeciderSpec {
    /// Resolves the settings for a revision with `container_concurrency` (0 = unlimited), per
    /// KPA.md §2.1. The settings' `target_utilization` applies to both metrics.
    pub fn new(s: &KpaSettings, container_concurrency: u32) -> DeciderSpec {
        let cc = f64::from(container_concurrency);
        let total = match s.metric {
            Metric::Rps => s.target.unwrap_or(DEFAULT_RPS_TARGET),
            Metric::Concurrency => match (s.target, container_concurrency > 0) {
                (None, true) => cc,
                (None, false) => DEFAULT_CONCURRENCY_TARGET,
                (Some(t), true) => t.min(cc),
                (Some(t), false) => t,
            },
        };
        DeciderSpec {
            metric: s.metric,
            target_value: (total * s.target_utilization).max(TARGET_MIN),
            total_value: total,
            panic_threshold: s.panic_threshold_percentage / 100.0,
            stable_window: s.stable_window,
            panic_window: panic_window(s.stable_window, s.panic_window_percentage),
            target_burst_capacity: s.target_burst_capacity,
            scale_down_delay: s.scale_down_delay,
            max_scale_up_rate: s.max_scale_up_rate,
            max_scale_down_rate: s.max_scale_down_rate,
            activation_scale: i32::try_from(s.activation_scale).unwrap_or(i32::MAX),
            initial_scale: i32::try_from(s.initial_scale).unwrap_or(i32::MAX),
            activator_capacity: s.activator_capacity,
            aggregation: s.aggregation,
        }
    }

    /// Whether the autoscaler scrapes pods (false when TBC = −1: the activator sees all
    /// traffic, and an empty window reads 0 instead of "no data").
    pub fn scraping(&self) -> bool {
        self.target_burst_capacity != -1.0
    }

    /// The starting excess burst capacity (the multiscaler's): TBC itself when it is −1 or 0,
    /// else `trunc(initial × total − TBC)`.
    pub fn initial_excess_burst_capacity(&self) -> i32 {
        let tbc = self.target_burst_capacity;
        if tbc == -1.0 || tbc == 0.0 {
            tbc as i32
        } else {
            (f64::from(self.initial_scale) * self.total_value - tbc) as i32
        }
    }

    /// Activators to put in the path for `ready` pods: 2 when TBC = 0, else
    /// `max(2, ceil((ready × total + max(TBC, 0)) / activator_capacity))`.
    pub fn num_activators(&self, ready: u32) -> u32 {
        const MIN_ACTIVATORS: f64 = 2.0;
        if self.target_burst_capacity == 0.0 {
            return MIN_ACTIVATORS as u32;
        }
        let mut cover = f64::from(ready) * self.total_value;
        if self.target_burst_capacity > 0.0 {
            cover += self.target_burst_capacity;
        }
        MIN_ACTIVATORS.max((cover / self.activator_capacity).ceil()) as u32
    }
}

/// One decision (Knative's `ScaleResult`, plus whether the decider is panicking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ScaleResult {
    /// Desired pods. On an invalid result, the last valid decision (−1 before the first).
    pub desired: i32,
    /// `floor(ready × total − TBC − panic average)`, 0 when TBC = 0, −1 when TBC = −1. On an
    /// invalid result, the last valid value (initially the multiscaler's starting value).
    pub excess_burst_capacity: i32,
    /// False when there was no data: nothing changes, the last decision stands.
    pub valid: bool,
    /// Whether the decider is in panic mode after this tick.
    pub panic: bool,
}

/// The decision as the reconciler sees it (the `Decider` resource's status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DeciderStatus {
    /// −1 until the first valid tick.
    pub desired_scale: i32,
    /// Starts at [`DeciderSpec::initial_excess_burst_capacity`].
    pub excess_burst_capacity: i32,
}

impl DeciderStatus {
    /// The multiscaler's starting status for `spec`.
    pub fn initial(spec: &DeciderSpec) -> DeciderStatus {
        DeciderStatus {
            desired_scale: -1,
            excess_burst_capacity: spec.initial_excess_burst_capacity(),
        }
    }

    /// Applies a valid result; true when the reconciler must be told (desired changed, or the
    /// sign of EBC flipped, 0 counting as non-negative).
    pub fn update(&mut self, r: &ScaleResult) -> bool {
        if !r.valid {
            return false;
        }
        let mut notify = self.desired_scale != r.desired;
        self.desired_scale = r.desired;
        notify |= (self.excess_burst_capacity < 0) != (r.excess_burst_capacity < 0);
        self.excess_burst_capacity = r.excess_burst_capacity;
        notify
    }
}

/// The outcome of one tick: the decision and whether to reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tick {
    /// The decision.
    pub result: ScaleResult,
    /// True when the status changed in a way Knative notifies the reconciler about.
    pub notify: bool,
}

/// [`Decider::raw`]'s figures.
struct Raw {
    ds: i32,
    dp: i32,
    over: bool,
    ebc: i32,
}

/// One revision's decider: metric windows, panic state, scale-down delay window, status.
#[derive(Clone, Debug)]
pub struct Decider {
    spec: DeciderSpec,
    collector: Collector,
    panic_start: Option<Time>,
    max_panic_pods: i32,
    delay: Option<MaxWindow>,
    status: DeciderStatus,
}

impl Decider {
    /// A decider created at `now` with `ready` pods ready. More than one ready pod starts it in
    /// panic mode holding that count (Knative's restart behaviour: keep the current scale
    /// until a window of data has been seen).
    pub fn new(now: Time, spec: DeciderSpec, ready: u32) -> Decider {
        let collector = Collector::new(
            spec.stable_window,
            spec.panic_window,
            spec.aggregation,
            spec.scraping(),
        );
        let delay = (!spec.scale_down_delay.is_zero())
            .then(|| MaxWindow::new(spec.scale_down_delay, TICK_INTERVAL));
        let ready = i32::try_from(ready).unwrap_or(i32::MAX);
        Decider {
            status: DeciderStatus::initial(&spec),
            collector,
            panic_start: (ready > 1).then_some(now),
            max_panic_pods: ready,
            delay,
            spec,
        }
    }

    /// The current spec.
    pub fn spec(&self) -> &DeciderSpec {
        &self.spec
    }

    /// The status the reconciler reads.
    pub fn status(&self) -> DeciderStatus {
        self.status
    }

    /// True when a tick at `now`, or at any later time until a stat is recorded, has no data:
    /// it changes nothing (the stable window is empty and the revision is scraped, so an empty
    /// window means "no data" rather than 0).
    pub fn without_data(&self, now: Time) -> bool {
        !self.collector.has_data(now, self.spec.metric)
    }

    /// Whether the decider is in panic mode.
    pub fn in_panic(&self) -> bool {
        self.panic_start.is_some()
    }

    /// The metric windows.
    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// Replaces the spec (Knative's `Update`): window lengths are resized in place; the
    /// scale-down delay window keeps the size it was created with; the aggregation algorithm
    /// cannot change.
    pub fn update(&mut self, now: Time, mut spec: DeciderSpec) {
        spec.aggregation = self.spec.aggregation;
        self.collector
            .update(now, spec.stable_window, spec.panic_window, spec.scraping());
        self.spec = spec;
    }

    /// Records a stat at `now` (a scrape's extrapolated total or an activator report).
    pub fn record(&mut self, now: Time, stat: &Stat) {
        self.collector.record(now, stat);
    }

    /// True when `stat` (from an activator) should run a tick right away: non-zero
    /// concurrency while the last decision is 0 (Knative's `Poke`).
    pub fn wants_poke(&self, stat: &Stat) -> bool {
        self.status.desired_scale == 0 && stat.avg_concurrency != 0.0
    }

    /// One decision from the windows (Knative's `Scale`), without touching the status.
    pub fn scale(&mut self, now: Time, ready: u32, reachable: bool) -> ScaleResult {
        let observed = self.collector.observed(now, self.spec.metric);
        self.scale_observed(now, ready, reachable, observed)
    }

    /// One decision from given `(stable, panic)` averages (`None` = no data), for replaying
    /// pre-averaged series.
    pub fn scale_observed(
        &mut self,
        now: Time,
        ready: u32,
        reachable: bool,
        observed: Option<(f64, f64)>,
    ) -> ScaleResult {
        let Some((stable, panic)) = observed else {
            return ScaleResult {
                desired: self.status.desired_scale,
                excess_burst_capacity: self.status.excess_burst_capacity,
                valid: false,
                panic: self.in_panic(),
            };
        };
        let Raw { ds, dp, over, ebc } = self.raw(ready, reachable, stable, panic);
        let spec = &self.spec;
        if over {
            self.panic_start = Some(now);
        } else if let Some(ps) = self.panic_start
            && ps.saturating_add(spec.stable_window) < now
        {
            self.panic_start = None;
            self.max_panic_pods = 0;
        }
        let mut desired = ds;
        if self.panic_start.is_some() {
            desired = desired.max(dp);
            self.max_panic_pods = self.max_panic_pods.max(desired);
            desired = self.max_panic_pods;
        }
        if reachable && let Some(w) = &mut self.delay {
            w.record(now, desired);
            desired = w.current();
        }
        ScaleResult {
            desired,
            excess_burst_capacity: ebc,
            valid: true,
            panic: self.in_panic(),
        }
    }

    /// The stateless part of a decision from `(stable, panic)` averages: the stable and panic
    /// desired pods (clamped, activation scale applied), whether that is over the panic
    /// threshold, and the excess burst capacity.
    #[inline]
    fn raw(&self, ready: u32, reachable: bool, stable: f64, panic: f64) -> Raw {
        let spec = &self.spec;
        let ready_raw = f64::from(ready);
        let r = ready_raw.max(1.0);
        let max_up = (spec.max_scale_up_rate * r).ceil();
        let max_down = if reachable {
            (r / spec.max_scale_down_rate).floor()
        } else {
            0.0
        };
        let dspc = (stable / spec.target_value).ceil();
        let dppc = (panic / spec.target_value).ceil();
        // Go converts the clamped float to int32; saturate the same way for absurd inputs.
        let mut ds = dspc.max(max_down).min(max_up) as i32;
        let mut dp = dppc.max(max_down).min(max_up) as i32;
        if spec.activation_scale > 1 {
            if dspc > 0.0 && spec.activation_scale > ds {
                ds = spec.activation_scale;
            }
            if dppc > 0.0 && spec.activation_scale > dp {
                dp = spec.activation_scale;
            }
        }
        let over = dppc / r >= spec.panic_threshold;
        let tbc = spec.target_burst_capacity;
        let ebc = if tbc == 0.0 {
            0.0
        } else if tbc > 0.0 {
            (ready_raw * spec.total_value - tbc - panic).floor()
        } else {
            -1.0
        };
        Raw {
            ds,
            dp,
            over,
            ebc: ebc as i32,
        }
    }

    /// True when every tick from `now` on, while `ready` pods stay ready, nothing is recorded
    /// and `reachable` holds, changes nothing the decider or its revision shows: the windows of
    /// the scaling metric hold only zeros (so their averages read 0 at every later time, until
    /// the stable window is empty and the ticks have no data), the decider is not panicking
    /// and would not start to, the scale-down delay holds nothing above 0, and the decision
    /// those zeros give is the current status (`desired` and EBC: no notification). Such ticks
    /// only count, like ticks without data (see `Platform::second_is_idle`).
    pub fn quiet(&self, now: Time, ready: u32, reachable: bool) -> bool {
        if self.panic_start.is_some() || self.delay.as_ref().is_some_and(|d| d.current() != 0) {
            return false;
        }
        if !self.collector.only_zeros(self.spec.metric) {
            return false;
        }
        let Some((stable, panic)) = self.collector.observed(now, self.spec.metric) else {
            return true;
        };
        let raw = self.raw(ready, reachable, stable, panic);
        // With a delay window, a decision above 0 would be recorded into it.
        !raw.over
            && (self.delay.is_none() || raw.ds == 0)
            && raw.ds == self.status.desired_scale
            && raw.ebc == self.status.excess_burst_capacity
    }

    /// A tick: [`scale`](Self::scale), then the multiscaler's status update.
    pub fn tick(&mut self, now: Time, ready: u32, reachable: bool) -> Tick {
        let result = self.scale(now, ready, reachable);
        let notify = self.status.update(&result);
        Tick { result, notify }
    }

    /// A tick on given averages (see [`scale_observed`](Self::scale_observed)).
    pub fn tick_observed(
        &mut self,
        now: Time,
        ready: u32,
        reachable: bool,
        observed: Option<(f64, f64)>,
    ) -> Tick {
        let result = self.scale_observed(now, ready, reachable, observed);
        let notify = self.status.update(&result);
        Tick { result, notify }
    }
}

#[cfg(test)]
#[path = "tests/decider.rs"]
mod tests;
