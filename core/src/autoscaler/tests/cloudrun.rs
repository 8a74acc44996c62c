//! Cloud Run's autoscaler against the arithmetic of VALIDATION.md and MODELS.md §2.

use std::time::Duration;

use super::*;

fn secs(s: u64) -> Time {
    Time::from_secs(s)
}

/// One minute of the same sample.
fn minute(cr: &mut CloudRun, from: u64, s: Sample) {
    for t in from + 1..=from + 60 {
        cr.record(secs(t), s);
    }
}

#[test]
fn in_flight_100_with_concurrency_80_needs_3_instances() {
    let mut cr = CloudRun::new(CloudRunSettings::default(), 80, 1.0);
    minute(
        &mut cr,
        0,
        Sample {
            concurrency: 100.0,
            cpu_seconds: 0.0,
        },
    );
    let d = cr.decide(secs(60), 100);
    // 100 / (0.6 × 80) = 2.08 → 3; the pending driver wants ⌈100 / 80⌉ = 2.
    assert_eq!((d.desired, d.concurrency, d.pending, d.cpu), (3, 3, 2, 0));
}

#[test]
fn the_cpu_driver_wins_when_cpu_bound() {
    let mut cr = CloudRun::new(CloudRunSettings::default(), 80, 1.0);
    // 20 in flight (concurrency driver: 1) using 2.4 cores: 2.4 / 0.6 = 4 instances.
    minute(
        &mut cr,
        0,
        Sample {
            concurrency: 20.0,
            cpu_seconds: 2.4,
        },
    );
    let d = cr.decide(secs(60), 20);
    assert_eq!((d.cpu, d.concurrency), (4, 1));
    assert_eq!(d.desired, 4);
    // With 2 vCPUs per instance half as many.
    let mut two = CloudRun::new(CloudRunSettings::default(), 80, 2.0);
    minute(
        &mut two,
        0,
        Sample {
            concurrency: 20.0,
            cpu_seconds: 2.4,
        },
    );
    assert_eq!(two.decide(secs(60), 20).desired, 2);
}

#[test]
fn the_window_forgets_what_is_older_than_a_minute() {
    let mut cr = CloudRun::new(CloudRunSettings::default(), 10, 1.0);
    minute(
        &mut cr,
        0,
        Sample {
            concurrency: 60.0,
            cpu_seconds: 0.0,
        },
    );
    assert_eq!(cr.decide(secs(60), 0).desired, 10);
    // Half a minute of nothing halves the average: 30 / 6 = 5.
    for t in 61..=90 {
        cr.record(secs(t), Sample::default());
    }
    assert_eq!(cr.decide(secs(90), 0).desired, 5);
    minute(&mut cr, 90, Sample::default());
    assert_eq!(cr.decide(secs(150), 0).desired, 0);
}

#[test]
fn bounds_and_the_pending_limit() {
    let s = CloudRunSettings {
        min_scale: 2,
        max_scale: 4,
        ..CloudRunSettings::default()
    };
    let mut cr = CloudRun::new(s, 80, 1.0);
    assert_eq!(cr.decide(secs(0), 0).desired, 2, "min instances");
    minute(
        &mut cr,
        0,
        Sample {
            concurrency: 1000.0,
            cpu_seconds: 0.0,
        },
    );
    assert_eq!(cr.decide(secs(60), 1000).desired, 4, "max instances");
    assert!(cr.at_max(4) && !cr.at_max(3));
    assert_eq!(
        CloudRun::pending_limit(Duration::from_secs(1)),
        Duration::from_secs(10)
    );
    assert_eq!(
        CloudRun::pending_limit(Duration::from_secs(4)),
        Duration::from_secs(14)
    );
}

#[test]
fn a_burst_gets_slots_at_once() {
    let cr = CloudRun::new(CloudRunSettings::default(), 10, 1.0);
    // Nothing averaged yet, 25 requests waiting: 3 instances now.
    assert_eq!(cr.decide(secs(1), 25).desired, 3);
    assert_eq!(cr.pending_driver(0), 0);
}
