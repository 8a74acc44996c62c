//! Autoscalers: Knative's KPA (metric windows, decider, scaler gating) and the keepalive
//! autoscaler. Sans-IO: every entry point takes `now` and returns a decision; randomness comes
//! from the caller's generator. `/work/shared/KPA.md` (Knative Serving's behaviour, down to the
//! rounding) is the specification; each module names the Knative code it mirrors.
//!
//! # Key types
//!
//! - [`config::KpaSettings`], [`config::KeepaliveSettings`]: the resolved `[autoscaler]` table.
//! - [`keys::KPA_KEYS`], [`keys::KEEPALIVE_KEYS`]: the one table of autoscaler keys (TOML key,
//!   Knative annotation, legacy alias, kind, range, default) every reader and writer uses.
//! - [`metrics::ConcurrencyMeter`]: a queue-proxy's time-weighted concurrency; O(1) per request.
//! - [`metrics::ActivatorMeter`]: the activator's meter, with the immediate first-request stat.
//! - [`metrics::Stat`]: one 1 s report (average concurrency, request count, proxied parts).
//! - [`metrics::scrape`] / [`metrics::choose_sample`] / [`metrics::extrapolate`]: the 1 s scrape.
//! - [`bucketing::WindowBuckets`]: the 1 s bucket ring (linear or weighted-exponential average).
//! - [`bucketing::MaxWindow`]: the sliding maximum behind `scale_down_delay`.
//! - [`decider::DeciderSpec`]: targets and windows derived from settings + container concurrency.
//! - [`decider::Decider`]: one per revision; windows, panic mode, [`decider::ScaleResult`].
//! - [`scaler::KpaScaler`]: the KPA reconciler: bounds, scale-to-zero gating, SKS mode,
//!   activator count, requeues ([`scaler::ScalerOutput`]).
//! - [`keepalive::Keepalive`]: one instance per concurrent request with an idle timeout.
//! - [`replay`]: `scalelab kpa replay`.
//!
//! # Driving the KPA
//!
//! Per revision: a `Decider::new(t0, DeciderSpec::new(&settings, cc), ready)`, a
//! `KpaScaler::new(t0, &settings, cc)`, one `ConcurrencyMeter` per instance and one
//! `ActivatorMeter` per activator. Use a run epoch on a whole, even second (t = 0 is).
//!
//! - **Per request**: `on_arrival(now, proxied)` on the instance's meter when it reaches the
//!   queue-proxy (`proxied` = it came through the activator) and `on_departure` when it ends.
//!   Through the activator also `ActivatorMeter::on_arrival(now)` on entry (it counts the buffered
//!   time too) and `on_departure` when the response is done. If `on_arrival` returns a stat:
//!   `decider.record(now, &stat)`, and if `decider.wants_poke(&stat)` run a tick right away.
//! - **Every 1 s (scrape, t = k s)**: `report(now)` every instance meter; `metrics::scrape(now,
//!   ready pods' reports, stable window, rng)` and `decider.record(now, &stat)` if `Some`; each
//!   activator's `report(now)`, recorded the same way (same second = summed).
//! - **Every 2 s (tick, t = 2m s + phase)**: `let t = decider.tick(now, ready, reachable)`; if
//!   `t.notify`, reconcile.
//! - **Reconcile** (once at creation, then on notify, when the ready count changes, and at
//!   `scaler.next_requeue()`):
//!   `scaler.reconcile(now, ScalerInput { decider: decider.status(), ready, reachable })`, then
//!   apply `replicas` (start or stop instances), route through the activator while
//!   `activator_in_path`, and schedule the next reconcile at `requeue_at`.
//!
//! ```
//! use scalelab_core::Time;
//! use scalelab_core::autoscaler::{KpaSettings, decider::{Decider, DeciderSpec}, metrics::Stat};
//! let spec = DeciderSpec::new(&KpaSettings::default(), 10); // cc 10 → target 7 per pod
//! let mut d = Decider::new(Time::ZERO, spec, 1);
//! d.record(Time::from_secs(1), &Stat { avg_concurrency: 20.0, ..Stat::default() });
//! let tick = d.tick(Time::from_secs(2), 1, true);
//! assert_eq!(tick.result.desired, 3); // ceil(20 / 7)
//! assert!(tick.notify);
//! ```

pub mod bucketing;
pub mod config;
pub mod decider;
pub mod keepalive;
pub mod keys;
pub mod metrics;
pub mod replay;
pub mod scaler;

pub use config::{
    Aggregation, AutoscalerSettings, IdleChoice, KeepaliveSettings, KpaSettings, Metric,
};
pub use decider::{Decider, DeciderSpec, DeciderStatus, ScaleResult, Tick};
pub use keepalive::{Keepalive, KeepaliveId, Route};
pub use metrics::{ActivatorMeter, Collector, ConcurrencyMeter, Stat};
pub use scaler::{ActiveState, KpaScaler, ScalerInput, ScalerOutput, SksMode};

#[cfg(test)]
#[path = "tests/timeline.rs"]
mod tests;
