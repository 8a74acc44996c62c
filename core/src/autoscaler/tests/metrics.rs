//! The metric pipeline: time-weighted meters, the activator's first-request stat, the
//! scraper's sample size and choice (KPA.md §2.2).

use std::time::Duration;

use super::*;
use crate::rng::stream;

fn ms(m: u64) -> Time {
    Time::from_millis(m)
}

#[test]
fn sample_size_matches_knative() {
    let cases = [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 4),
        (10, 7),
        (100, 14),
        (1000, 16),
    ];
    for (n, want) in cases {
        assert_eq!(sample_size(n), want, "N = {n}");
    }
}

#[test]
fn meter_is_time_weighted() {
    // Two requests of 0.5 s back to back in one second average 1.0.
    let mut m = ConcurrencyMeter::new(ms(0));
    m.on_arrival(ms(0), false);
    m.on_departure(ms(500), false);
    m.on_arrival(ms(500), false);
    m.on_departure(ms(1000), false);
    let s = m.report(ms(1000));
    assert_eq!((s.avg_concurrency, s.request_count), (1.0, 2.0));
    // A proxied request for the middle half (0.5) and a direct one from 1.5 s that spans the
    // report and carries over into the next period.
    m.on_arrival(ms(1250), true);
    m.on_arrival(ms(1500), false);
    m.on_departure(ms(1750), true);
    let s = m.report(ms(2000));
    assert_eq!(s.avg_concurrency, 1.0);
    assert_eq!(s.avg_proxied_concurrency, 0.5);
    assert_eq!((s.request_count, s.proxied_request_count), (2.0, 1.0));
    assert_eq!(s.direct_concurrency(), 0.5);
    let s = m.report(ms(3000));
    assert_eq!(
        (s.avg_concurrency, s.request_count),
        (1.0, 0.0),
        "in flight all period"
    );
    assert_eq!(m.concurrency(), 1);
    // A report at the same instant as the last has no elapsed time: zero average.
    let s = m.report(ms(3000));
    assert_eq!(s.avg_concurrency, 0.0);
}

#[test]
fn activator_sends_an_immediate_stat_then_subtracts_it() {
    let mut a = ActivatorMeter::new();
    assert_eq!(a.report(ms(0)), None, "no entry, nothing to send");
    let first = a.on_arrival(ms(200));
    assert_eq!(
        first,
        Some(Stat {
            avg_concurrency: 1.0,
            request_count: 1.0,
            ..Stat::default()
        })
    );
    assert_eq!(a.on_arrival(ms(400)), None);
    a.on_departure(ms(600));
    a.on_departure(ms(1000));
    // Period 0.2 s … 1 s: ∫ = 0.2·1 + 0.2·2 + 0.4·1 = 1.0 over 0.8 s → 1.25; minus the 1 sent.
    let s = a.report(ms(1000)).expect("entry");
    assert!((s.avg_concurrency - 0.25).abs() < 1e-12, "{s:?}");
    assert_eq!(s.request_count, 1.0);
    assert_eq!(
        s.avg_proxied_concurrency, 0.0,
        "the activator's own requests are not proxied"
    );
    // An idle period: a zero report, then the entry is gone and the next request is first.
    assert_eq!(a.report(ms(2000)), Some(Stat::default()));
    assert_eq!(a.report(ms(3000)), None);
    assert!(a.on_arrival(ms(3100)).is_some());
    // Concurrency is clamped at 0 after the subtraction.
    a.on_departure(ms(3200));
    let s = a.report(ms(4000)).expect("entry");
    assert_eq!(s.avg_concurrency, 0.0);
    assert_eq!(s.request_count, 0.0);
}

#[test]
fn sample_prefers_pods_ready_for_a_window() {
    let window = Duration::from_secs(60);
    let now = Time::from_secs(1000);
    // 10 pods: 0..5 old, 5..10 young. Sample of 7: all 5 old plus 2 young.
    let since: Vec<Time> = (0..10)
        .map(|i| {
            if i < 5 {
                Time::from_secs(100)
            } else {
                Time::from_secs(990)
            }
        })
        .collect();
    let mut rng = stream(1, "scrape");
    let mut out = Vec::new();
    for _ in 0..50 {
        choose_sample(now, &since, window, &mut rng, &mut out);
        assert_eq!(out.len(), 7);
        let old = out.iter().filter(|&&i| i < 5).count();
        assert_eq!(old, 5, "{out:?}");
        let mut d = out.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 7, "distinct");
    }
    // 100 old pods: a sample of 14 old ones, varying between draws.
    let since = vec![Time::ZERO; 100];
    choose_sample(now, &since, window, &mut rng, &mut out);
    let a = out.clone();
    choose_sample(now, &since, window, &mut rng, &mut out);
    assert_eq!(a.len(), 14);
    assert_ne!(a, out);
}

#[test]
fn scrape_extrapolates_to_the_revision() {
    let mut rng = stream(2, "scrape");
    let now = Time::from_secs(100);
    assert_eq!(scrape(now, &[], Duration::from_secs(60), &mut rng), None);
    let pod = |c| PodReport {
        ready_since: Time::ZERO,
        stat: Stat {
            avg_concurrency: c,
            request_count: 2.0 * c,
            ..Stat::default()
        },
    };
    // Every pod carries 3: the estimate is 3 × N whatever the sample.
    let pods: Vec<_> = (0..10).map(|_| pod(3.0)).collect();
    let s = scrape(now, &pods, Duration::from_secs(60), &mut rng).expect("pods");
    assert!((s.avg_concurrency - 30.0).abs() < 1e-9);
    assert!((s.request_count - 60.0).abs() < 1e-9);
    let e = extrapolate(
        Stat {
            avg_concurrency: 10.0,
            ..Stat::default()
        },
        4,
        10,
    );
    assert_eq!(e.avg_concurrency, 25.0);
}

#[test]
fn collector_no_data_and_resize() {
    let mut c = Collector::new(
        Duration::from_secs(60),
        Duration::from_secs(6),
        Aggregation::Linear,
        true,
    );
    assert_eq!(c.observed(Time::from_secs(5), Metric::Concurrency), None);
    c.record(
        Time::from_secs(5),
        &Stat {
            avg_concurrency: 6.0,
            request_count: 4.0,
            ..Stat::default()
        },
    );
    assert_eq!(
        c.observed(Time::from_secs(5), Metric::Concurrency),
        Some((6.0, 6.0))
    );
    assert_eq!(
        c.observed(Time::from_secs(5), Metric::Rps),
        Some((4.0, 4.0))
    );
    // The panic window forgets first.
    assert_eq!(
        c.observed(Time::from_secs(11), Metric::Concurrency),
        Some((6.0, 0.0))
    );
    assert_eq!(c.observed(Time::from_secs(66), Metric::Concurrency), None);
    c.update(
        Time::from_secs(66),
        Duration::from_secs(60),
        Duration::from_secs(6),
        false,
    );
    assert_eq!(
        c.observed(Time::from_secs(66), Metric::Concurrency),
        Some((0.0, 0.0))
    );
}
