//! The Kubernetes Horizontal Pod Autoscaler on CPU (`kind = "hpa"`; Knative Serving's
//! `hpa.autoscaling.knative.dev` class creates one), after the controller's source
//! (`pkg/controller/podautoscaler/horizontal.go`, `replica_calculator.go`) and the
//! autoscaling/v2 API's defaults (MODELS.md §3):
//!
//! 1. Every `sync_period` (15 s): each pod's CPU utilisation of its request over the last
//!    period. Pods are grouped as the replica calculator does: starting pods, and pods within
//!    the CPU initialisation period (5 min) whose sample began before they were ready, are
//!    *unready*; ready pods without a sample are *missing*.
//! 2. usage ratio = mean utilisation of the ready pods / `cpu_target`. Without unready or
//!    missing pods: no change while |ratio − 1| ≤ `tolerance` (0.1), else
//!    ⌈ratio × ready pods⌉. With them, conservatively: when scaling up, unready and missing pods
//!    count at 0 %; when scaling down, missing pods count at 100 % (unready ones stay out); if
//!    that flips the direction or lands within the tolerance, no change.
//! 3. Stabilisation: a scale-up goes only to the lowest recommendation of the last
//!    `scale_up_stabilization` (0 s), a scale-down only to the highest of the last
//!    `scale_down_stabilization` (300 s).
//! 4. Rate policies over `policy_period` (15 s), counted from the replicas at the period's
//!    start: up by at most max(`scale_up_pods` = 4, `scale_up_percent` = 100 %), down by at
//!    most `scale_down_percent` = 100 %; then `min_scale` ≥ 1 and `max_scale`.
//!
//! ```
//! use scalelab_core::Time;
//! use scalelab_core::autoscaler::{HpaSettings, hpa::{Hpa, Pod}};
//! let mut h = Hpa::new(HpaSettings { cpu_target: 0.75, ..HpaSettings::default() });
//! let pods = vec![Pod::ready(Time::ZERO, 0.9); 50];
//! // 50 pods at 90 % of their request against a 75 % target: ⌈1.2 × 50⌉ = 60.
//! assert_eq!(h.sync(Time::from_secs(600), 50, &pods).replicas, 60);
//! ```

use std::collections::VecDeque;

use serde::Serialize;

use super::config::HpaSettings;
use crate::time::{Time, duration_nanos};

/// One pod as the HPA sees it at a sync.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Pod {
    /// When it was created (its start time).
    pub started: Time,
    /// When it became ready (None: still starting).
    pub ready_since: Option<Time>,
    /// Its CPU utilisation of its request over the last sample (None: no sample).
    pub utilization: Option<f64>,
}

impl Pod {
    /// A pod ready since `ready_since` (created then too) with `utilization`.
    pub fn ready(ready_since: Time, utilization: f64) -> Pod {
        Pod {
            started: ready_since,
            ready_since: Some(ready_since),
            utilization: Some(utilization),
        }
    }

    /// A pod created at `started` that is not ready yet.
    pub fn starting(started: Time) -> Pod {
        Pod {
            started,
            ready_since: None,
            utilization: None,
        }
    }
}

/// The outcome of one sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sync {
    /// The replicas to run from now on.
    pub replicas: u32,
    /// The replica calculator's recommendation before stabilisation and rate limits (None: no
    /// metrics, nothing changes).
    pub recommendation: Option<u32>,
}

/// The HPA of one revision.
#[derive(Clone, Debug)]
pub struct Hpa {
    settings: HpaSettings,
    /// Past recommendations (time, replicas), oldest first.
    recommendations: VecDeque<(Time, u32)>,
    /// Past scale changes (time, +added / −removed), oldest first.
    events: VecDeque<(Time, i64)>,
}

/// ⌈x⌉ as a count, forgiving the rounding error of a product that should be whole.
fn ceil_count(x: f64) -> u32 {
    if !(x.is_finite() && x > 0.0) {
        return 0;
    }
    (x - 1e-9).ceil().clamp(0.0, f64::from(u32::MAX)) as u32
}

impl Hpa {
    /// An HPA with no history.
    pub fn new(settings: HpaSettings) -> Hpa {
        Hpa {
            settings,
            recommendations: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &HpaSettings {
        &self.settings
    }

    /// The replicas a deployment starts with: `min_scale`.
    pub fn initial(&self) -> u32 {
        self.settings.min_scale.max(1)
    }

    /// Whether `p` counts as unready for CPU at `now` (`groupPods`): not ready; or, within the
    /// CPU initialisation period, ready for less than one sample window. (The controller's
    /// initial-readiness delay only matters for pods whose readiness flaps, which instances
    /// here do not: a pod not ready is unready whatever its age.)
    fn unready(&self, now: Time, p: &Pod) -> bool {
        let s = &self.settings;
        match p.ready_since {
            None => true,
            Some(ready) => {
                let young = p.started.0 + duration_nanos(s.cpu_initialization_period) > now.0;
                if young {
                    ready.0 + duration_nanos(s.sync_period) > now.0
                } else {
                    false
                }
            }
        }
    }

    /// The replica calculator (`GetResourceReplicas`): the recommendation for `current`
    /// replicas and `pods`, or None without a usable metric.
    pub fn recommend(&self, now: Time, current: u32, pods: &[Pod]) -> Option<u32> {
        let target = self.settings.cpu_target;
        let tol = self.settings.tolerance;
        let mut ready: Vec<f64> = Vec::with_capacity(pods.len());
        let (mut unready, mut missing) = (0usize, 0usize);
        for p in pods {
            if self.unready(now, p) {
                unready += 1;
            } else {
                match p.utilization {
                    Some(u) => ready.push(u),
                    None => missing += 1,
                }
            }
        }
        if ready.is_empty() {
            return None;
        }
        let ratio_of = |sum: f64, n: usize| sum / n as f64 / target;
        let sum: f64 = ready.iter().sum();
        let ratio = ratio_of(sum, ready.len());
        let scale_up_with_unready = unready > 0 && ratio > 1.0;
        if !scale_up_with_unready && missing == 0 {
            if (1.0 - ratio).abs() <= tol {
                return Some(current);
            }
            return Some(ceil_count(ratio * ready.len() as f64));
        }
        // Conservative: missing pods at 100 % when scaling down (at least the target), at 0 %
        // when scaling up; unready pods at 0 % when scaling up.
        let mut n = ready.len();
        let mut total = sum;
        if missing > 0 {
            if ratio < 1.0 {
                total += missing as f64 * target.max(1.0);
                n += missing;
            } else if ratio > 1.0 {
                n += missing;
            }
        }
        if scale_up_with_unready {
            n += unready;
        }
        let new_ratio = ratio_of(total, n);
        if (1.0 - new_ratio).abs() <= tol
            || (ratio < 1.0 && new_ratio > 1.0)
            || (ratio > 1.0 && new_ratio < 1.0)
        {
            return Some(current);
        }
        let replicas = ceil_count(new_ratio * n as f64);
        if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
            return Some(current);
        }
        Some(replicas)
    }

    /// One sync at `now` with `current` replicas (the deployment's, starting ones included) and
    /// their `pods`: the recommendation, stabilised and rate-limited, within the bounds.
    pub fn sync(&mut self, now: Time, current: u32, pods: &[Pod]) -> Sync {
        let s = &self.settings;
        let (min, max) = (s.min_scale.max(1), s.max_scale);
        // Out of bounds: straight back into them (the controller does this before anything).
        if max > 0 && current > max {
            return self.apply(now, current, max, None);
        }
        if current < min {
            return self.apply(now, current, min, None);
        }
        let Some(rec) = self.recommend(now, current, pods) else {
            return Sync {
                replicas: current,
                recommendation: None,
            };
        };
        let stabilised = self.stabilise(now, current, rec);
        let replicas = self.rate_limit(now, current, stabilised);
        self.apply(now, current, replicas, Some(rec))
    }

    /// `stabilizeRecommendationWithBehaviors`: keeps `rec` in the history and returns the
    /// current replicas moved no further up than the lowest recommendation of the scale-up
    /// window and no further down than the highest of the scale-down window.
    fn stabilise(&mut self, now: Time, current: u32, rec: u32) -> u32 {
        let s = &self.settings;
        let up_cutoff = now
            .0
            .saturating_sub(duration_nanos(s.scale_up_stabilization));
        let down_cutoff = now
            .0
            .saturating_sub(duration_nanos(s.scale_down_stabilization));
        let (mut up, mut down) = (rec, rec);
        for &(t, r) in &self.recommendations {
            if t.0 > up_cutoff {
                up = up.min(r);
            }
            if t.0 > down_cutoff {
                down = down.max(r);
            }
        }
        let oldest_needed = up_cutoff.min(down_cutoff);
        while self
            .recommendations
            .front()
            .is_some_and(|(t, _)| t.0 <= oldest_needed)
        {
            self.recommendations.pop_front();
        }
        self.recommendations.push_back((now, rec));
        current.max(up).min(down)
    }

    /// Replicas added (or removed, as a positive number) in the policy period before `now`.
    fn changed_in_period(&self, now: Time) -> (i64, i64) {
        let from = now
            .0
            .saturating_sub(duration_nanos(self.settings.policy_period));
        let mut added = 0;
        let mut removed = 0;
        for &(t, c) in &self.events {
            if t.0 > from {
                if c > 0 {
                    added += c;
                } else {
                    removed -= c;
                }
            }
        }
        (added, removed)
    }

    /// `convertDesiredReplicasWithBehaviorRate`: the scale-up and scale-down policies (the one
    /// allowing the largest change wins), then `min_scale` and `max_scale`.
    fn rate_limit(&self, now: Time, current: u32, desired: u32) -> u32 {
        let s = &self.settings;
        let (added, removed) = self.changed_in_period(now);
        let start = (i64::from(current) - added + removed).max(0);
        let cur = i64::from(current);
        let (min, max) = (i64::from(s.min_scale.max(1)), i64::from(s.max_scale));
        let d = i64::from(desired);
        let out = if d > cur {
            let by_pods = start + i64::from(s.scale_up_pods);
            let by_percent =
                (start as f64 * (1.0 + s.scale_up_percent / 100.0) - 1e-9).ceil() as i64;
            let limit = by_pods.max(by_percent).max(cur);
            let ceiling = if max > 0 { max.min(limit) } else { limit };
            d.min(ceiling)
        } else if d < cur {
            let limit =
                ((start as f64) * (1.0 - s.scale_down_percent / 100.0) + 1e-9).floor() as i64;
            let limit = limit.min(cur);
            d.max(min.max(limit))
        } else {
            d
        };
        out.clamp(0, i64::from(u32::MAX)) as u32
    }

    fn apply(&mut self, now: Time, current: u32, replicas: u32, rec: Option<u32>) -> Sync {
        if replicas != current {
            self.events
                .push_back((now, i64::from(replicas) - i64::from(current)));
        }
        let from = now
            .0
            .saturating_sub(duration_nanos(self.settings.policy_period));
        while self.events.front().is_some_and(|(t, _)| t.0 <= from) {
            self.events.pop_front();
        }
        Sync {
            replicas,
            recommendation: rec,
        }
    }
}

#[cfg(test)]
#[path = "tests/hpa.rs"]
mod tests;
