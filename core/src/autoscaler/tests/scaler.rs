//! Twins of Knative's `pkg/reconciler/autoscaling/kpa/scaler_test.go` (`TestScaler`,
//! `TestDisableScaleToZero`): the same PA states, settings and expectations, driven through
//! `KpaScaler::scale_and_apply`. Knative's test config: stable window 5 min, grace period 60 s,
//! progress deadline 121 s, TBC 200; "custom PA window" is 45 s.
//!
//! Knative's test counts calls of the enqueue callback; here a case checks whether a requeue
//! was scheduled. Knative's default SKS is not in proxy mode and its default probe succeeds;
//! here that is "the activator entered the path just now" (proxy for 0 s, probe ok). A failing
//! probe is "the activator is not in the path", which requeues after the probe period where
//! Knative hands the PA to its async prober.

use std::time::Duration;

use super::*;

const NOW: Time = Time::from_secs(10_000);
const STABLE: Duration = Duration::from_secs(300);
const GRACE: Duration = Duration::from_secs(60);
const PA_STABLE: Duration = Duration::from_secs(45);
const PROGRESS: Duration = Duration::from_secs(121);

fn ago(d: Duration) -> Time {
    Time::from_nanos(NOW.as_nanos() - d.as_nanos() as u64)
}

fn settings() -> KpaSettings {
    KpaSettings {
        stable_window: STABLE,
        scale_to_zero_grace_period: GRACE,
        target_burst_capacity: 200.0,
        progress_deadline: PROGRESS,
        max_scale_up_rate: 12.0,
        ..KpaSettings::default()
    }
}

#[derive(Clone)]
struct Case {
    label: &'static str,
    start: u32,
    scale_to: i32,
    min: u32,
    max: u32,
    /// The PA's Active condition and how long it has held.
    state: (ActiveState, Duration),
    initialized: bool,
    /// How long the activator has been in the path; None = not in the path (probe fails).
    proxy_for: Option<Duration>,
    sks: SksMode,
    reachable: bool,
    tweak: fn(&mut KpaSettings),
    want: i32,
    patch: Option<u32>,
    requeue: bool,
}

fn keep(_: &mut KpaSettings) {}

fn base(label: &'static str, start: u32, scale_to: i32) -> Case {
    Case {
        label,
        start,
        scale_to,
        min: 0,
        max: 0,
        state: (ActiveState::Activating, Duration::ZERO),
        initialized: false,
        proxy_for: Some(Duration::ZERO),
        sks: SksMode::Serve,
        reachable: true,
        tweak: keep,
        want: scale_to,
        patch: None,
        requeue: false,
    }
}

fn run(c: &Case) -> (i32, Option<u32>, Option<Time>) {
    let mut s = settings();
    s.min_scale = c.min;
    s.max_scale = c.max;
    (c.tweak)(&mut s);
    let mut k = KpaScaler::new(Time::ZERO, &s, 0);
    k.replicas = c.start;
    k.active = c.state.0;
    k.active_since = ago(c.state.1);
    k.initialized = c.initialized;
    k.mode = c.sks;
    k.proxy_since = c.proxy_for.map(ago);
    let input = ScalerInput {
        decider: DeciderStatus {
            desired_scale: c.scale_to,
            excess_burst_capacity: 0,
        },
        ready: c.start,
        reachable: c.reachable,
    };
    let (want, patch) = k.scale_and_apply(NOW, &input);
    (want, patch, k.next_requeue())
}

#[test]
fn knative_scaler_table() {
    use ActiveState::*;
    let active = |d| (Active, d);
    let inactive = |d| (Inactive, d);
    let activating = |d| (Activating, d);
    let sec = Duration::from_secs;
    fn pa_window(s: &mut KpaSettings) {
        s.stable_window = PA_STABLE;
    }
    fn retention_0(s: &mut KpaSettings) {
        s.scale_to_zero_pod_retention = Duration::ZERO;
    }
    fn retention_2g(s: &mut KpaSettings) {
        s.scale_to_zero_pod_retention = 2 * GRACE;
    }
    fn retention_g(s: &mut KpaSettings) {
        s.scale_to_zero_pod_retention = GRACE;
    }
    fn retention_42(s: &mut KpaSettings) {
        s.scale_to_zero_pod_retention = Duration::from_secs(42);
    }
    fn retention_10g(s: &mut KpaSettings) {
        s.scale_to_zero_pod_retention = 10 * GRACE;
    }
    fn tbc_unlimited(s: &mut KpaSettings) {
        s.target_burst_capacity = -1.0;
    }
    fn deadline_5s(s: &mut KpaSettings) {
        s.progress_deadline = Duration::from_secs(5);
    }
    fn initial_2(s: &mut KpaSettings) {
        s.initial_scale = 2;
    }
    fn initial_5(s: &mut KpaSettings) {
        s.initial_scale = 5;
    }
    fn initial_0(s: &mut KpaSettings) {
        s.initial_scale = 0;
    }
    let activation_timeout = PROGRESS + ACTIVATION_TIMEOUT_BUFFER;
    let cases = vec![
        Case {
            state: active(STABLE - sec(1)),
            want: 1,
            requeue: true,
            ..base("waits to scale to zero (just before idle period)", 1, 0)
        },
        Case {
            state: active(PA_STABLE - sec(1)),
            tweak: pa_window,
            want: 1,
            requeue: true,
            ..base(
                "waits to scale to zero (just before idle period), custom PA window",
                1,
                0,
            )
        },
        Case {
            state: active(STABLE),
            tweak: pa_window,
            ..base(
                "custom PA window, check for standard window, no probe",
                1,
                0,
            )
        },
        Case {
            state: active(STABLE - sec(1)),
            want: 1,
            patch: Some(1),
            requeue: true,
            ..base("scale to 1 waiting for idle expires", 10, 0)
        },
        Case {
            state: active(STABLE),
            ..base("waits to scale to zero after idle period", 1, 0)
        },
        Case {
            state: active(STABLE),
            sks: SksMode::Proxy,
            requeue: true,
            ..base(
                "waits to scale to zero after idle period; sks in proxy mode",
                1,
                0,
            )
        },
        Case {
            state: active(PA_STABLE),
            tweak: pa_window,
            ..base(
                "waits to scale to zero after idle period (custom PA window)",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE),
            tweak: retention_0,
            patch: Some(0),
            ..base(
                "can scale to zero after grace period, but 0 PA retention",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE),
            tweak: retention_2g,
            requeue: true,
            ..base(
                "can't scale to zero after grace period, but before last pod retention",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE),
            tweak: retention_g,
            patch: Some(0),
            ..base(
                "scale to zero after grace period, and after last pod retention",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE),
            patch: Some(0),
            ..base("scale to zero after grace period", 1, 0)
        },
        Case {
            state: inactive(GRACE - sec(1)),
            requeue: true,
            ..base("waits to scale to zero (just before grace period)", 1, 0)
        },
        Case {
            state: inactive(GRACE - sec(1)),
            proxy_for: Some(GRACE - sec(1)),
            requeue: true,
            ..base(
                "waits to scale to zero (just before grace period, sks short)",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE - sec(1)),
            proxy_for: Some(GRACE),
            tweak: retention_42,
            patch: Some(0),
            ..base(
                "waits to scale to zero (just before grace period, sks in proxy long) and last pod timeout positive",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE - sec(1)),
            proxy_for: Some(GRACE),
            patch: Some(0),
            ..base(
                "waits to scale to zero (just before grace period, sks in proxy long)",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE),
            proxy_for: None,
            tweak: tbc_unlimited,
            patch: Some(0),
            ..base("scale to zero with TBC=-1", 1, 0)
        },
        Case {
            state: inactive(GRACE),
            proxy_for: None,
            requeue: true,
            ..base("scale to zero after grace period, but fail prober", 1, 0)
        },
        Case {
            state: activating(activation_timeout / 2),
            want: -1,
            requeue: true,
            ..base(
                "waits to scale to zero while activating until after deadline exceeded",
                1,
                0,
            )
        },
        Case {
            state: activating(activation_timeout + sec(1)),
            patch: Some(0),
            ..base(
                "scale to zero while activating after deadline exceeded",
                1,
                0,
            )
        },
        Case {
            state: activating(sec(5) + ACTIVATION_TIMEOUT_BUFFER + sec(1)),
            tweak: deadline_5s,
            patch: Some(0),
            ..base(
                "scale to zero while activating after revision deadline exceeded",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE - sec(1)),
            min: 2,
            want: 2,
            patch: Some(2),
            ..base("scale down to minScale before grace period", 10, 0)
        },
        Case {
            state: inactive(GRACE),
            min: 2,
            want: 2,
            patch: Some(2),
            ..base("scale down to minScale after grace period", 10, 0)
        },
        Case {
            state: inactive(GRACE),
            reachable: false,
            tweak: retention_10g,
            patch: Some(0),
            ..base(
                "scale to zero ignore last pod retention if revision is unreachable",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE - sec(1)),
            reachable: false,
            tweak: retention_10g,
            requeue: true,
            ..base(
                "can't scale to zero if revision is unreachable, but before deadline",
                1,
                0,
            )
        },
        Case {
            state: inactive(GRACE),
            min: 2,
            reachable: false,
            patch: Some(0),
            ..base("ignore minScale if unreachable", 10, 0)
        },
        Case {
            state: inactive(GRACE),
            min: 2,
            want: 2,
            patch: Some(2),
            ..base("observe minScale if reachability unknown", 10, 0)
        },
        Case {
            patch: Some(10),
            ..base("scales up", 1, 10)
        },
        Case {
            max: 8,
            want: 8,
            patch: Some(8),
            ..base("scales up to maxScale", 1, 10)
        },
        Case {
            state: inactive(GRACE / 2),
            patch: Some(10),
            ..base("scale up inactive revision", 1, 10)
        },
        Case {
            state: inactive(Duration::ZERO),
            ..base("does not scale up from zero with no metrics", 0, -1)
        },
        Case {
            patch: Some(1),
            ..base("scales up from zero to desired one", 0, 1)
        },
        Case {
            patch: Some(10),
            ..base("scales up from zero to desired high scale", 0, 10)
        },
        Case {
            state: active(Duration::ZERO),
            ..base("negative scale does not scale", 12, -1)
        },
        Case {
            state: active(sec(120)),
            initialized: true,
            tweak: initial_2,
            want: 1,
            patch: Some(1),
            requeue: true,
            ..base("initial scale attained, but now time to scale down", 2, 0)
        },
        Case {
            tweak: initial_2,
            want: 2,
            patch: Some(2),
            ..base(
                "haven't scaled to initial scale, override desired scale with initial scale",
                0,
                1,
            )
        },
        Case {
            tweak: initial_5,
            want: 5,
            ..base("initial scale reached for the first time", 5, 1)
        },
        Case {
            state: inactive(Duration::ZERO),
            tweak: initial_0,
            requeue: true,
            ..base("reaching initial scale zero", 0, 0)
        },
        Case {
            state: active(sec(120)),
            reachable: false,
            tweak: initial_2,
            want: 1,
            patch: Some(1),
            requeue: true,
            ..base(
                "unreachable revision with initialScale > 1 can scale to 0",
                2,
                0,
            )
        },
    ];
    for c in &cases {
        let (want, patch, requeue) = run(c);
        assert_eq!(want, c.want, "{}: want", c.label);
        assert_eq!(patch, c.patch, "{}: patch", c.label);
        assert_eq!(
            requeue.is_some(),
            c.requeue,
            "{}: requeue {requeue:?}",
            c.label
        );
    }
}

/// The requeue times of the gating branches.
#[test]
fn requeue_times_follow_the_gating() {
    let sec = Duration::from_secs;
    let at = |c: Case| run(&c).2;
    let c = Case {
        state: (ActiveState::Active, STABLE - sec(7)),
        ..base("hold", 1, 0)
    };
    assert_eq!(at(c), Some(NOW + sec(7)), "the rest of the stable window");
    let c = Case {
        state: (ActiveState::Active, STABLE),
        sks: SksMode::Proxy,
        ..base("proxy", 1, 0)
    };
    assert_eq!(at(c), Some(NOW + PROXY_REQUEUE));
    let c = Case {
        state: (ActiveState::Inactive, sec(10)),
        proxy_for: Some(sec(25)),
        ..base("grace", 1, 0)
    };
    assert_eq!(at(c), Some(NOW + sec(35)), "grace − proxy for");
    fn retention_50(s: &mut KpaSettings) {
        s.scale_to_zero_pod_retention = Duration::from_secs(50);
    }
    let c = Case {
        state: (ActiveState::Inactive, sec(10)),
        tweak: retention_50,
        ..base("retention", 1, 0)
    };
    assert_eq!(at(c), Some(NOW + sec(40)), "retention − inactive for");
    let c = Case {
        state: (ActiveState::Activating, sec(10)),
        ..base("activating", 1, 0)
    };
    assert_eq!(
        at(c),
        Some(NOW + PROGRESS + ACTIVATION_TIMEOUT_BUFFER),
        "the full activation timeout"
    );
}

/// TestDisableScaleToZero.
#[test]
fn knative_disable_scale_to_zero() {
    fn off(s: &mut KpaSettings) {
        s.enable_scale_to_zero = false;
    }
    let active = (ActiveState::Active, Duration::ZERO);
    let cases = [
        Case {
            state: active,
            tweak: off,
            want: 1,
            patch: Some(1),
            ..base("EnableScaleToZero == false and minScale == 0", 10, 0)
        },
        Case {
            state: active,
            tweak: off,
            min: 2,
            want: 2,
            patch: Some(2),
            ..base("EnableScaleToZero == false and minScale == 2", 10, 0)
        },
        Case {
            state: active,
            tweak: off,
            ..base(
                "EnableScaleToZero == false and desire pod is -1(initial value)",
                10,
                -1,
            )
        },
    ];
    for c in &cases {
        let (want, patch, _) = run(c);
        assert_eq!((want, patch), (c.want, c.patch), "{}", c.label);
    }
}

/// computeActiveCondition's table (kpa.go): want × ready vs the threshold × current state.
#[test]
fn knative_active_condition_table() {
    use ActiveState::*;
    // (want, ready, min, state) → new state; the scale target is initialized (threshold
    // max(min, 1)).
    let cases = [
        (0, 5, 0, Active, Inactive),
        (3, 0, 0, Active, Activating),
        (3, 3, 0, Activating, Active),
        (-1, 0, 0, Inactive, Inactive),
        (-1, 0, 0, Activating, Activating),
        (-1, 0, 0, Active, Activating),
        (-1, 1, 0, Inactive, Inactive),
        (-1, 1, 1, Activating, Active),
        (-1, 1, 1, Active, Active),
    ];
    for (i, (want, ready, min, from, to)) in cases.into_iter().enumerate() {
        let s = KpaSettings {
            min_scale: min,
            ..settings()
        };
        let mut k = KpaScaler::new(Time::ZERO, &s, 0);
        k.initialized = true;
        k.active = from;
        k.compute_status(NOW, want, ready, true);
        assert_eq!(k.active, to, "case {i}");
    }
    // Before initialisation the threshold is the initial scale: 3 pods wanted, 2 ready.
    let s = KpaSettings {
        initial_scale: 3,
        ..settings()
    };
    let mut k = KpaScaler::new(Time::ZERO, &s, 0);
    k.compute_status(NOW, 3, 2, true);
    assert_eq!((k.active, k.initialized), (Activating, false));
    k.compute_status(NOW, 3, 3, true);
    assert_eq!((k.active, k.initialized), (Active, true));
    // Initial scale 0 (allowed): inactive from the start.
    let s = KpaSettings {
        initial_scale: 0,
        ..settings()
    };
    let mut k = KpaScaler::new(Time::ZERO, &s, 0);
    k.compute_status(NOW, -1, 0, true);
    assert_eq!(k.active, Inactive);
}

/// SKS mode: Serve only when want > 0 and EBC ≥ 0; Proxy at −1 while inactive.
#[test]
fn sks_mode_follows_want_and_ebc() {
    let s = KpaSettings::default();
    let input = |desired, ebc, ready| ScalerInput {
        decider: DeciderStatus {
            desired_scale: desired,
            excess_burst_capacity: ebc,
        },
        ready,
        reachable: true,
    };
    let mut k = KpaScaler::new(Time::ZERO, &s, 0);
    let o = k.reconcile(Time::from_secs(1), input(3, -5, 3));
    assert_eq!((o.sks_mode, o.activator_in_path), (SksMode::Proxy, true));
    let o = k.reconcile(Time::from_secs(2), input(3, 0, 3));
    assert_eq!((o.sks_mode, o.activator_in_path), (SksMode::Serve, false));
    assert_eq!(
        o.requeue_at,
        Some(Time::from_secs(2)),
        "the SKS changed: reconcile again"
    );
    let o = k.reconcile(Time::from_secs(2), input(3, 0, 3));
    assert_eq!(o.requeue_at, None, "level-triggered: nothing changes");
    // No ready pod: the SKS controller forces the activator into the path.
    let o = k.reconcile(Time::from_secs(3), input(3, 0, 0));
    assert_eq!((o.sks_mode, o.activator_in_path), (SksMode::Serve, true));
    assert_eq!(o.num_activators, 3);
}
