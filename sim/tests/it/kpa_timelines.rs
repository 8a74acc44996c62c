//! Whole KPA timelines with Knative's defaults (KPA.md §2.7).

use scalelab_core::event::{Event, Stamped};
use scalelab_core::testing::fill;
use scalelab_sim::{SimOptions, simulate_with};

use crate::support::*;

fn events(toml: &str, seed: u64) -> (scalelab_core::result::VariantResult, Vec<Stamped>) {
    let s = scenario(toml);
    let (r, x) = simulate_with(
        &s,
        &SimOptions {
            seed,
            threads: 1,
            check: true,
            events: true,
            ..Default::default()
        },
    )
    .unwrap();
    let evs = String::from_utf8(x.events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Stamped>(l).unwrap())
        .collect();
    (r.variants.into_iter().next().unwrap(), evs)
}

#[test]
fn a_single_request_to_a_revision_at_zero_waits_one_cold_start() {
    let (v, evs) = events(include_str!("fixtures/single-request.toml"), 1);
    // The initial pod (initial_scale 1) starts, idles for a stable window and goes; the
    // request at t = 200 s finds the revision at zero.
    assert_eq!(v.requests.completed, 1);
    assert_eq!(v.cold_starts.count, 2);
    assert_eq!(v.instances.scale_to_zero_events, 1);
    assert_eq!(v.cold_starts.requests_delayed, 1);
    // The activator's immediate stat pokes the decider: the pod is created at once, so the
    // request waits exactly the cold start plus its service time.
    assert!(
        (v.latency_ms.max - 2100.0).abs() < 2.5,
        "latency {}",
        v.latency_ms.max
    );
    let poke = evs
        .iter()
        .find(|e| matches!(e.event, Event::ScaleDecision { poke: true, .. }));
    assert!(
        poke.is_some_and(|e| e.t_s == 200.0),
        "a poke at the first request"
    );
}

#[test]
fn after_traffic_stops_the_last_instance_goes_60_to_90_s_later() {
    // Traffic for 2 minutes, then nothing; the run continues so the scale-down is observed.
    let toml = include_str!("fixtures/traffic-stops.toml");
    for seed in 1..=3 {
        let (v, evs) = events(toml, seed);
        let t0 = 120.0 - 1.0 / 20.0 + 0.05; // the last request ends
        let stops: Vec<f64> = evs
            .iter()
            .filter(|e| matches!(e.event, Event::InstanceStopped { .. }))
            .map(|e| e.t_s)
            .collect();
        let last = stops.last().copied().expect("instances were stopped");
        assert!(
            last >= t0 + 60.0 && last <= t0 + 90.0 + 2.0,
            "last stop at {last}, t0 {t0}"
        );
        assert_eq!(v.instances.scale_to_zero_events, 1);
        assert!(v.instances.time_at_zero_s > 360.0 - t0 - 92.0);
    }
}

#[test]
fn a_burst_enters_panic_and_never_scales_down_during_it() {
    let toml = include_str!("fixtures/burst.toml");
    let (v, evs) = events(toml, 5);
    assert!(v.autoscaler.panic_episodes >= 1);
    let mut in_panic = false;
    let mut high = 0;
    for e in &evs {
        if let Event::ScaleDecision { desired, panic, .. } = e.event {
            if panic {
                if in_panic {
                    assert!(
                        desired >= high,
                        "panic never scales down: {desired} < {high} at {}",
                        e.t_s
                    );
                }
                high = high.max(desired);
            } else {
                high = 0;
            }
            in_panic = panic;
        }
    }
    // 400 req/s × 0.2 s = 80 in flight; target 7 per pod → at least 12 pods at the peak.
    assert!(v.instances.peak >= 12, "peak {}", v.instances.peak);
}

/// `[router] overhead` is latency outside the instance; `[router] slot_overhead` is the proxy
/// hop inside it, so it also counts in what the instance is busy with (and thus in the
/// concurrency the autoscaler sees and in request-based billing).
#[test]
fn slot_overhead_holds_the_slot_and_router_overhead_does_not() {
    let with = |router: &str| {
        run(
            &scenario(&fill(
                include_str!("fixtures/timelines-router.toml"),
                &[("router", &router)],
            )),
            1,
        )
    };
    let busy = |v: &scalelab_core::result::VariantResult| {
        v.occupancy.expect("measured").mean_busy_instances
    };
    let plain = with("");
    let outside = with(r#"overhead = "10ms""#);
    let inside = with(r#"slot_overhead = "10ms""#);
    for v in [&plain, &outside, &inside] {
        assert_eq!(v.requests.completed, 600);
    }
    // One request every 100 ms, each alone on the instance: latency is service + overhead.
    assert!(
        (plain.latency_ms.p50 - 80.0).abs() < 0.1,
        "{}",
        plain.latency_ms.p50
    );
    assert!(
        (outside.latency_ms.p50 - 90.0).abs() < 0.1,
        "{}",
        outside.latency_ms.p50
    );
    assert!(
        (inside.latency_ms.p50 - 90.0).abs() < 0.1,
        "{}",
        inside.latency_ms.p50
    );
    // Busy 80 % of the time, or 90 % when the hop holds the slot.
    assert!((busy(&plain) - 0.8).abs() < 0.01, "{}", busy(&plain));
    assert!((busy(&outside) - 0.8).abs() < 0.01, "{}", busy(&outside));
    assert!((busy(&inside) - 0.9).abs() < 0.01, "{}", busy(&inside));
    // Request-based billing follows the slot.
    let billed = |v: &scalelab_core::result::VariantResult| {
        v.cost.values().next().expect("one model").billable_seconds
    };
    assert_eq!(billed(&plain), billed(&outside));
    // 600 requests × 10 ms more.
    assert!(
        (billed(&inside) - billed(&plain) - 6.0).abs() < 0.1,
        "{} vs {}",
        billed(&inside),
        billed(&plain)
    );
}
