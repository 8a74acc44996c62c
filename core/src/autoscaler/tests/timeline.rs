//! Whole timelines through decider + reconciler with a tiny driver (scrape every 1 s, tick
//! every 2 s, reconcile on notify / ready change / requeue), and property tests.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::autoscaler::bucketing::WindowBuckets;
use crate::autoscaler::decider::TICK_INTERVAL;
use crate::autoscaler::scaler::PROXY_REQUEUE;
use crate::time::Time;

const STEP: Duration = Duration::from_millis(100);

/// A revision with pods that become ready `cold_start` after the reconciler asks for them.
struct Driver {
    now: Time,
    decider: Decider,
    scaler: KpaScaler,
    activator: ActivatorMeter,
    ready: u32,
    starting: Vec<Time>,
    cold_start: Duration,
    /// Direct (non-activator) revision concurrency per second, while pods are ready.
    load: Box<dyn Fn(Time) -> f64>,
    /// (time, replicas) of every patch.
    patches: Vec<(Time, u32)>,
    /// (time, desired) of every valid tick that notified.
    decisions: Vec<(Time, i32)>,
}

impl Driver {
    fn new(
        settings: KpaSettings,
        cold_start: Duration,
        load: impl Fn(Time) -> f64 + 'static,
    ) -> Driver {
        let spec = DeciderSpec::new(&settings, 0);
        let scaler = KpaScaler::new(Time::ZERO, &settings, 0);
        let starting = vec![Time::ZERO + cold_start; scaler.replicas() as usize];
        Driver {
            now: Time::ZERO,
            decider: Decider::new(Time::ZERO, spec, 0),
            scaler,
            activator: ActivatorMeter::new(),
            ready: 0,
            starting,
            cold_start,
            load: Box::new(load),
            patches: Vec::new(),
            decisions: Vec::new(),
        }
    }

    /// When the decider first wanted `n` pods.
    fn first_desired(&self, n: i32) -> Time {
        let at = self.decisions.iter().find(|(_, d)| *d == n);
        at.unwrap_or_else(|| panic!("desired never reaches {n}: {:?}", self.decisions))
            .0
    }

    fn reconcile(&mut self) {
        let out = self.scaler.reconcile(
            self.now,
            ScalerInput {
                decider: self.decider.status(),
                ready: self.ready,
                reachable: true,
            },
        );
        if let Some(r) = out.replicas {
            self.patches.push((self.now, r));
            let have = self.ready + self.starting.len() as u32;
            if r > have {
                for _ in have..r {
                    self.starting.push(self.now + self.cold_start);
                }
            } else {
                for _ in r..have {
                    if self.starting.pop().is_none() {
                        self.ready -= 1;
                    }
                }
            }
        }
    }

    fn tick(&mut self) {
        let t = self.decider.tick(self.now, self.ready, true);
        if t.notify {
            self.decisions.push((self.now, t.result.desired));
            self.reconcile();
        }
    }

    /// A request enters the activator now and stays for `hold` (not modelled further).
    fn activator_request(&mut self) {
        if let Some(stat) = self.activator.on_arrival(self.now) {
            self.decider.record(self.now, &stat);
            if self.decider.wants_poke(&stat) {
                self.tick();
            }
        }
    }

    fn run_until(&mut self, end: Time) {
        while self.now < end {
            self.now += STEP;
            let ms = self.now.as_nanos() / 1_000_000;
            let before = self.ready;
            let now = self.now;
            let n = self.starting.len();
            self.starting.retain(|&t| t > now);
            self.ready += (n - self.starting.len()) as u32;
            if ms.is_multiple_of(1000) {
                if self.ready > 0 {
                    let load = (self.load)(self.now);
                    self.decider.record(
                        self.now,
                        &Stat {
                            avg_concurrency: load,
                            ..Stat::default()
                        },
                    );
                }
                if let Some(s) = self.activator.report(self.now) {
                    self.decider.record(self.now, &s);
                }
            }
            if ms.is_multiple_of(2000) {
                self.tick();
            }
            if self.ready != before || self.scaler.next_requeue().is_some_and(|r| r <= self.now) {
                self.reconcile();
            }
        }
    }
}

fn scale_to_zero_after_traffic(load: f64) -> Driver {
    let t0 = Time::from_secs(100);
    let mut d = Driver::new(KpaSettings::default(), Duration::from_secs(1), move |t| {
        if t < t0 { load } else { 0.0 }
    });
    d.run_until(Time::from_secs(300));
    d
}

/// K5 / KPA.md §2.7: traffic stops at t0 = 100 s; desired reaches 0 once the last busy second
/// leaves the 60 s window, the last pod goes between t0 + 60 s and t0 + 90 s.
#[test]
fn scale_to_zero_last_instance_goes_60_to_90s_after_traffic_stops() {
    for load in [5.0, 300.0] {
        let d = scale_to_zero_after_traffic(load);
        let peak = d.patches.iter().map(|p| p.1).max().unwrap_or(0).max(1); // created at 1
        let want_peak = (load / 70.0_f64).ceil() as u32;
        assert!(
            peak >= want_peak,
            "load {load}: scaled up to {peak}, want ≥ {want_peak}"
        );
        let zero = d.first_desired(0);
        assert!(
            zero >= Time::from_secs(160) && zero <= Time::from_secs(162),
            "load {load}: desired 0 at {zero}"
        );
        let (gone, r) = *d.patches.last().expect("patched");
        assert_eq!(r, 0, "load {load}: {:?}", d.patches);
        assert!(
            gone >= Time::from_secs(160) && gone <= Time::from_secs(190),
            "load {load}: last pod at {gone}"
        );
        assert_eq!(d.scaler.active(), ActiveState::Inactive);
        assert_eq!(d.ready, 0);
    }
}

/// With the default TBC (211) one pod has EBC < 0: the activator is already in the path, so
/// the fast path removes the last pod 3 s after the PA went inactive.
#[test]
fn scale_to_zero_activator_already_in_path_takes_the_fast_path() {
    let d = scale_to_zero_after_traffic(5.0);
    let zero = d.first_desired(0);
    assert_eq!(d.patches.last(), Some(&(zero + PROXY_REQUEUE, 0)));
}

/// KPA.md §2.7 scale from zero: the activator's first request pokes a tick at once (not at the
/// next 2 s tick) and the reconciler patches the Deployment to 1 at that instant.
#[test]
fn scale_from_zero_first_request_pokes_a_tick() {
    let mut d = scale_to_zero_after_traffic(5.0);
    assert_eq!(d.decider.status().desired_scale, 0);
    d.run_until(Time::from_millis(301_300));
    let t1 = d.now;
    d.activator_request();
    assert_eq!(d.decisions.last(), Some(&(t1, 1)));
    assert_eq!(d.patches.last(), Some(&(t1, 1)));
    assert_eq!(
        d.scaler.active(),
        ActiveState::Activating,
        "pods wanted, none ready yet"
    );
    d.run_until(Time::from_secs(310));
    assert_eq!(d.ready, 1);
    assert_eq!(d.scaler.active(), ActiveState::Active);
}

fn settings_strategy() -> impl Strategy<Value = KpaSettings> {
    (0u32..4, 0u32..20, 1u32..4, 0u32..3, any::<bool>()).prop_map(
        |(min, extra, initial, tbc, stz)| KpaSettings {
            min_scale: min,
            max_scale: if extra == 0 { 0 } else { min.max(1) + extra },
            initial_scale: initial,
            target_burst_capacity: [211.0, 0.0, -1.0][tbc as usize],
            enable_scale_to_zero: stz,
            ..KpaSettings::default()
        },
    )
}

proptest! {
    /// Every replica count the reconciler applies for a reachable revision is within
    /// [min, max] (max 0 = unbounded), whatever the decider says; until the revision first
    /// reaches its initial scale, that floor applies even above max, as in Knative's
    /// `applyBounds(min, max, x)` with min raised to the initial scale.
    #[test]
    fn reconciler_output_stays_within_bounds(
        s in settings_strategy(),
        steps in prop::collection::vec((-1i32..60, 0u32..60, -50i32..50, 0u64..5000), 1..60),
    ) {
        let mut k = KpaScaler::new(Time::ZERO, &s, 0);
        let mut now = Time::ZERO;
        for (desired, ready, ebc, dt) in steps {
            now += Duration::from_millis(dt);
            let o = k.reconcile(now, ScalerInput {
                decider: DeciderStatus { desired_scale: desired, excess_burst_capacity: ebc },
                ready,
                reachable: true,
            });
            if let Some(r) = o.replicas {
                prop_assert!(r >= s.min_scale, "{r} < min {}", s.min_scale);
                let max = if s.max_scale == 0 { 0 } else { s.max_scale.max(s.initial_scale) };
                prop_assert!(max == 0 || r <= max, "{r} > max {max} (initial {})", s.initial_scale);
            }
        }
    }

    /// While the decider stays in panic mode it never lowers its decision.
    #[test]
    fn panic_never_scales_down(
        steps in prop::collection::vec((0.0f64..2000.0, 0.0f64..2000.0, 0u32..40), 1..80),
    ) {
        let mut d = Decider::new(Time::ZERO, DeciderSpec::new(&KpaSettings::default(), 10), 3);
        let mut now = Time::ZERO;
        let mut last: Option<ScaleResult> = None;
        for (stable, panic, ready) in steps {
            now += TICK_INTERVAL;
            let r = d.scale_observed(now, ready, true, Some((stable, panic)));
            if let Some(prev) = last
                && prev.panic && r.panic
            {
                prop_assert!(r.desired >= prev.desired, "{prev:?} → {r:?}");
            }
            last = Some(r);
        }
    }

    /// The linear window average of consecutive seconds stays within [min, max] of the values
    /// recorded (up to the 6-digit rounding); the weighted one within [0, max].
    #[test]
    fn window_averages_stay_within_inputs(
        values in prop::collection::vec(0.0f64..1000.0, 1..150),
        window_s in 6u64..80,
        after_s in 0u64..90,
    ) {
        let w = Duration::from_secs(window_s);
        let mut lin = WindowBuckets::new(w, crate::autoscaler::bucketing::BUCKET, Aggregation::Linear);
        let mut wei = WindowBuckets::new(w, crate::autoscaler::bucketing::BUCKET, Aggregation::WeightedExponential);
        for (i, v) in values.iter().enumerate() {
            lin.record(Time::from_secs(i as u64), *v);
            wei.record(Time::from_secs(i as u64), *v);
        }
        let last = values.len() as u64 - 1;
        let now = Time::from_secs(last + after_s);
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(0.0, f64::max);
        let a = lin.window_average(now);
        if after_s < window_s {
            prop_assert!(a >= lo - 1e-6 && a <= hi + 1e-6, "{a} outside [{lo}, {hi}]");
        } else {
            prop_assert_eq!(a, 0.0);
        }
        let b = wei.window_average(now);
        prop_assert!((0.0..=hi + 1e-9).contains(&b), "{b} outside [0, {hi}]");
    }
}
