//! The KPA reconciler (Knative's `kpa.go` + `scaler.go`), KPA.md §2.6, as a sans-IO state
//! machine.
//!
//! [`KpaScaler::reconcile`] takes the decider's status and the ready pod count and returns what
//! Knative would do: the Deployment replicas to apply (if they change), the ServerlessService
//! mode (activator in the path or not), how many activators to use, the PA's Active condition,
//! and when to reconcile again at the latest.
//!
//! Call it when the decider notifies ([`crate::autoscaler::decider::Tick::notify`]), when the
//! number of ready pods changes, and at [`KpaScaler::next_requeue`]. Extra calls are harmless:
//! like Knative's reconciler it is level-triggered.
//!
//! Modelling choices where Knative depends on other controllers:
//! - The SKS mode asked for takes effect at once; the SKS controller forces Proxy while no pod
//!   is ready, so `activator_in_path` is `mode == Proxy || ready == 0`. "Proxy for" counts from
//!   the moment the activator entered the path.
//! - The scale-to-zero probe (is the activator answering for the revision?) succeeds when the
//!   activator was in the path at the start of the reconcile; when it fails, Knative starts an
//!   asynchronous probe (every 1 s) and requeues 1 s after it succeeds: here, a requeue 1 s
//!   later.
//! - A change of the SKS (mode or activators) triggers another reconcile in Knative: here, a
//!   requeue at `now`.

use std::time::Duration;

use serde::Serialize;

use crate::autoscaler::config::KpaSettings;
use crate::autoscaler::decider::{DeciderSpec, DeciderStatus};
use crate::time::Time;

/// Extra time after the progress deadline before a stuck activation is abandoned.
pub const ACTIVATION_TIMEOUT_BUFFER: Duration = Duration::from_secs(30);
/// Requeue when the SKS is already in Proxy mode as the PA goes inactive.
pub const PROXY_REQUEUE: Duration = Duration::from_secs(3);
/// Requeue after a failed activator probe (async probe period + re-enqueue period).
pub const PROBE_REQUEUE: Duration = Duration::from_secs(1);

/// The ServerlessService mode: who the revision's public endpoints are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SksMode {
    /// The pods serve traffic directly.
    Serve,
    /// The activator subset is in the path (buffers, load-balances, counts).
    Proxy,
}

/// The PA's `Active` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActiveState {
    /// Unknown: pods wanted but fewer than the threshold are ready (a cold start).
    Activating,
    /// True: enough pods are ready.
    Active,
    /// False: scaled (or scaling) to zero.
    Inactive,
}

/// What the reconciler needs to know about the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalerInput {
    /// The decider's status (desired −1 = no decision yet).
    pub decider: DeciderStatus,
    /// Pods running, ready and not terminating.
    pub ready: u32,
    /// False when the revision receives no traffic (routing state "reserve").
    pub reachable: bool,
}

/// One reconcile's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ScalerOutput {
    /// New Deployment replicas when they changed (patch the scale target), else `None`.
    pub replicas: Option<u32>,
    /// The scale the reconciler wants (−1 = unknown yet; not applied when the gating holds it).
    pub want: i32,
    /// The SKS mode asked for.
    pub sks_mode: SksMode,
    /// True when requests go through the activator (Proxy, or no ready pod).
    pub activator_in_path: bool,
    /// Activators to put in the revision's subset.
    pub num_activators: u32,
    /// The PA's Active condition after this reconcile.
    pub active: ActiveState,
    /// The earliest pending requeue, if any.
    pub requeue_at: Option<Time>,
}

/// The KPA reconciler for one revision.
#[derive(Clone, Debug)]
pub struct KpaScaler {
    min_scale: i32,
    max_scale: i32,
    initial_scale: i32,
    enable_scale_to_zero: bool,
    grace: Duration,
    retention: Duration,
    activation_timeout: Duration,
    spec: DeciderSpec,
    active: ActiveState,
    active_since: Time,
    initialized: bool,
    replicas: u32,
    mode: SksMode,
    /// When the activator entered the path (None while pods serve directly).
    proxy_since: Option<Time>,
    requeue: Option<Time>,
    pa_desired: Option<i32>,
}

impl KpaScaler {
    /// The reconciler of a revision created at `now`: the Deployment starts at the initial
    /// scale, the PA is Activating, the SKS in Proxy mode.
    pub fn new(now: Time, settings: &KpaSettings, container_concurrency: u32) -> KpaScaler {
        let spec = DeciderSpec::new(settings, container_concurrency);
        KpaScaler {
            min_scale: i32::try_from(settings.min_scale).unwrap_or(i32::MAX),
            max_scale: i32::try_from(settings.max_scale).unwrap_or(i32::MAX),
            initial_scale: spec.initial_scale,
            enable_scale_to_zero: settings.enable_scale_to_zero,
            grace: settings.scale_to_zero_grace_period,
            retention: settings.scale_to_zero_pod_retention,
            activation_timeout: settings.progress_deadline + ACTIVATION_TIMEOUT_BUFFER,
            spec,
            active: ActiveState::Activating,
            active_since: now,
            initialized: false,
            replicas: settings.initial_scale,
            mode: SksMode::Proxy,
            proxy_since: Some(now),
            requeue: None,
            pa_desired: None,
        }
    }

    /// Applies changed settings (min/max, gating durations, TBC, …) from the next reconcile on.
    pub fn update(&mut self, settings: &KpaSettings, container_concurrency: u32) {
        self.min_scale = i32::try_from(settings.min_scale).unwrap_or(i32::MAX);
        self.max_scale = i32::try_from(settings.max_scale).unwrap_or(i32::MAX);
        self.initial_scale = i32::try_from(settings.initial_scale).unwrap_or(i32::MAX);
        self.enable_scale_to_zero = settings.enable_scale_to_zero;
        self.grace = settings.scale_to_zero_grace_period;
        self.retention = settings.scale_to_zero_pod_retention;
        self.activation_timeout = settings.progress_deadline + ACTIVATION_TIMEOUT_BUFFER;
        self.spec = DeciderSpec::new(settings, container_concurrency);
    }

    /// The Deployment's replicas as last applied.
    pub fn replicas(&self) -> u32 {
        self.replicas
    }

    /// The PA's Active condition.
    pub fn active(&self) -> ActiveState {
        self.active
    }

    /// The SKS mode last asked for.
    pub fn sks_mode(&self) -> SksMode {
        self.mode
    }

    /// Whether the initial scale has been reached once.
    pub fn scale_target_initialized(&self) -> bool {
        self.initialized
    }

    /// The PA's desired scale status (`None` until known).
    pub fn pa_desired_scale(&self) -> Option<i32> {
        self.pa_desired
    }

    /// The earliest pending requeue.
    pub fn next_requeue(&self) -> Option<Time> {
        self.requeue
    }

    fn enqueue(&mut self, at: Time) {
        self.requeue = Some(self.requeue.map_or(at, |r| r.min(at)));
    }

    /// One reconcile at `now`.
    pub fn reconcile(&mut self, now: Time, input: ScalerInput) -> ScalerOutput {
        if self.requeue.is_some_and(|r| r <= now) {
            self.requeue = None;
        }
        // The SKS controller puts the activator in the path while no pod is ready.
        if input.ready == 0 && self.proxy_since.is_none() {
            self.proxy_since = Some(now);
        }
        let (want, patched) = self.scale_and_apply(now, &input);
        let mode = if want == -1 && self.active == ActiveState::Inactive {
            SksMode::Proxy
        } else if want > 0 && input.decider.excess_burst_capacity >= 0 {
            SksMode::Serve
        } else {
            SksMode::Proxy
        };
        let in_path = mode == SksMode::Proxy || input.ready == 0;
        let was_in_path = self.proxy_since.is_some();
        if in_path && !was_in_path {
            self.proxy_since = Some(now);
        } else if !in_path {
            self.proxy_since = None;
        }
        if mode != self.mode || in_path != was_in_path {
            // The SKS changed; its status update reconciles the PA again.
            self.enqueue(now);
        }
        self.mode = mode;
        let num_activators = self.spec.num_activators(input.ready);
        self.compute_status(now, want, input.ready, input.reachable);
        ScalerOutput {
            replicas: patched,
            want,
            sks_mode: mode,
            activator_in_path: in_path,
            num_activators,
            active: self.active,
            requeue_at: self.requeue,
        }
    }

    /// Knative's `scaler.scale`: bounds, gating, then the patch if the replicas change.
    fn scale_and_apply(&mut self, now: Time, input: &ScalerInput) -> (i32, Option<u32>) {
        let (want, apply) = self.scale(now, input);
        if apply && want >= 0 {
            let w = u32::try_from(want).unwrap_or(u32::MAX);
            if w != self.replicas {
                self.replicas = w;
                return (want, Some(w));
            }
        }
        (want, None)
    }

    fn bounds(&self, reachable: bool) -> (i32, i32) {
        let min = if reachable { self.min_scale } else { 0 };
        (min, self.max_scale)
    }

    fn scale(&mut self, now: Time, input: &ScalerInput) -> (i32, bool) {
        let mut desired = input.decider.desired_scale;
        if desired < 0 && self.active != ActiveState::Activating {
            return (desired, false);
        }
        let (mut min, max) = self.bounds(input.reachable);
        if self.initial_scale > 1 && !self.initialized && input.reachable {
            min = min.max(self.initial_scale);
        }
        if desired < min {
            desired = min;
        } else if max != 0 && desired > max {
            desired = max;
        }
        self.handle_scale_to_zero(now, desired, input.reachable)
    }

    fn handle_scale_to_zero(&mut self, now: Time, desired: i32, reachable: bool) -> (i32, bool) {
        if desired != 0 {
            return (desired, true);
        }
        if !self.enable_scale_to_zero {
            return (1, true);
        }
        let in_state = now.saturating_since(self.active_since);
        match self.active {
            ActiveState::Activating => {
                if in_state > self.activation_timeout {
                    return (desired, true);
                }
                self.enqueue(now + self.activation_timeout);
                (-1, false)
            }
            ActiveState::Active => {
                let sw = self.spec.stable_window;
                if in_state >= sw {
                    if self.mode == SksMode::Proxy {
                        self.enqueue(now + PROXY_REQUEUE);
                    }
                    return (desired, false);
                }
                self.enqueue(now + (sw - in_state));
                (1, true)
            }
            ActiveState::Inactive => {
                let probe_ok =
                    self.spec.target_burst_capacity == -1.0 || self.proxy_since.is_some();
                if !probe_ok {
                    self.enqueue(now + PROBE_REQUEUE);
                    return (desired, false);
                }
                let retention = if reachable {
                    self.retention
                } else {
                    Duration::ZERO
                };
                if in_state >= self.grace.max(retention) {
                    return (desired, true);
                }
                if !retention.is_zero() && in_state < retention {
                    self.enqueue(now + (retention - in_state));
                    return (desired, false);
                }
                let proxy_for = self
                    .proxy_since
                    .map_or(Duration::ZERO, |s| now.saturating_since(s));
                match self.grace.checked_sub(proxy_for) {
                    Some(to) if !to.is_zero() => {
                        self.enqueue(now + to);
                        (desired, false)
                    }
                    _ => (desired, true),
                }
            }
        }
    }

    fn set_active(&mut self, now: Time, s: ActiveState) {
        if self.active != s {
            self.active = s;
            self.active_since = now;
        }
    }

    fn compute_status(&mut self, now: Time, want: i32, ready: u32, reachable: bool) {
        if !(want == -1 && self.pa_desired.is_some_and(|d| d >= 0)) {
            self.pa_desired = Some(want);
        }
        let (min, _) = self.bounds(reachable);
        let min_ready = if self.initialized {
            min.max(1)
        } else {
            min.max(self.initial_scale)
        };
        let ready = i32::try_from(ready).unwrap_or(i32::MAX);
        if ready >= min_ready {
            self.initialized = true;
        }
        if want == 0 || min_ready == 0 {
            self.set_active(now, ActiveState::Inactive);
        } else if ready < min_ready {
            if want > 0 || self.active != ActiveState::Inactive {
                self.set_active(now, ActiveState::Activating);
            }
        } else if want > 0 || self.active != ActiveState::Inactive {
            self.set_active(now, ActiveState::Active);
        }
    }
}

#[cfg(test)]
#[path = "tests/scaler.rs"]
mod tests;
