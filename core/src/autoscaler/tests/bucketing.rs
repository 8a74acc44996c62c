//! Twins of Knative's `pkg/autoscaler/aggregation/bucketing_test.go` and the max window's
//! `timewindow_test.go`, with t = 0 on a whole second as the simulator uses.

use std::time::Duration;

use super::*;

fn s(secs: u64) -> Time {
    Time::from_secs(secs)
}

fn ms(m: u64) -> Time {
    Time::from_millis(m)
}

fn linear(window_s: u64, granularity_s: u64) -> WindowBuckets {
    WindowBuckets::new(
        Duration::from_secs(window_s),
        Duration::from_secs(granularity_s),
        Aggregation::Linear,
    )
}

fn weighted(window_s: u64) -> WindowBuckets {
    WindowBuckets::new(
        Duration::from_secs(window_s),
        BUCKET,
        Aggregation::WeightedExponential,
    )
}

/// Knative's test helper `forEachBucket`: the buckets of the last window, newest first.
/// The non-empty buckets at `now`, oldest first.
fn nonzero_buckets_at(b: &WindowBuckets, now: Time) -> Vec<(i64, f64)> {
    let mut got: Vec<_> = buckets_at(b, now)
        .into_iter()
        .filter(|(_, v)| *v > 0.0)
        .collect();
    got.sort_by_key(|(t, _)| *t);
    got
}

fn buckets_at(b: &WindowBuckets, now: Time) -> Vec<(i64, f64)> {
    let now = b.trunc(to_i64(now));
    let Some(lw) = b.last_write else {
        return Vec::new();
    };
    let n = b.buckets.len() as i64 - (now - lw) / b.granularity;
    let mut out = Vec::new();
    let mut t = lw;
    for _ in 0..n.max(0) {
        out.push((t, b.buckets[b.slot(b.index(t))]));
        t -= b.granularity;
    }
    out
}

fn sum_at(b: &WindowBuckets, now: Time) -> f64 {
    buckets_at(b, now).iter().map(|(_, v)| v).sum()
}

fn round_to(n: i32, f: f64) -> f64 {
    let p = 10f64.powi(n);
    (f * p).round() / p
}

/// TestComputeDecayMultiplier.
#[test]
fn knative_smoothing_coefficient() {
    for (nb, want) in [
        (100, MIN_SMOOTHING),
        (60, MIN_SMOOTHING),
        (40, 0.20567),
        (6, 0.78456),
        (5, 0.84151),
    ] {
        assert!((smoothing_coefficient(nb) - want).abs() < 1e-5, "nb = {nb}");
    }
}

/// TestTimedFloat64BucketsSimple: same-second values add up; 1 s and 5 s granularity.
#[test]
fn knative_buckets_simple() {
    let mut b = linear(120, 1);
    assert!(b.is_empty_at(s(10)));
    for (t, v) in [
        (ms(10_000), 1.0),
        (ms(10_100), 10.0),
        (s(11), 1.0),
        (s(13), 1.0),
    ] {
        b.record(t, v);
    }
    let got = nonzero_buckets_at(&b, s(70));
    let ns = |x: u64| (x * 1_000_000_000) as i64;
    assert_eq!(got, vec![(ns(10), 11.0), (ns(11), 1.0), (ns(13), 1.0)]);

    let mut b = linear(120, 5);
    for (t, v) in [(s(10), 1.0), (s(13), 11.0), (s(16), 1.0)] {
        b.record(t, v);
    }
    let got = nonzero_buckets_at(&b, s(70));
    assert_eq!(got, vec![(ns(10), 12.0), (ns(15), 1.0)]);
}

/// TestTimedFloat64BucketsManyReps and ...WithNonMonotonicalOrder.
#[test]
fn knative_many_reps_in_any_order() {
    for order in [[1u64, 2, 3, 4, 5], [0, 3, 2, 1, 4]] {
        let mut b = linear(60, 1);
        let mut end = s(0);
        for (p, d) in order.iter().enumerate() {
            end = s(100 + d);
            for t in 0..5 {
                b.record(end, (p + t) as f64);
            }
        }
        assert_eq!(sum_at(&b, end), 100.0, "{order:?}");
        assert_eq!(sum_at(&b, end), 100.0, "idempotent read");
    }
}

/// TestTimedFloat64BucketsWeightedAverage.
#[test]
fn knative_weighted_average() {
    let now = s(100);
    let mut b = weighted(5);
    let m = b.smoothing;
    b.record(now, 2.0);
    let mut want = 2.0 * m;
    assert_eq!(b.window_average(now), want);
    want *= 1.0 - m;
    assert!((b.window_average(now + Duration::from_secs(1)) - want).abs() < 1e-12);
    b.record(now + Duration::from_secs(1), 2.0);
    want += 2.0 * m;
    assert!((b.window_average(now + Duration::from_secs(1)) - want).abs() < 1e-12);
    for i in 0..5u64 {
        b.record(now + Duration::from_secs(2 + i), (i + 2) as f64);
    }
    let q = 1.0 - m;
    let want =
        6.0 * m + 5.0 * m * q + 4.0 * m * q * q + 3.0 * m * q * q * q + 2.0 * m * q * q * q * q;
    assert!((b.window_average(now + Duration::from_secs(6)) - want).abs() < 1e-12);
    assert_eq!(b.window_average(now + Duration::from_secs(16)), 0.0);
}

/// TestTimedFloat64BucketsWindowAverage: partial windows, gaps, late writes, too-old drops.
#[test]
fn knative_linear_window_average() {
    let mut b = linear(5, 1);
    let mut now = s(100);
    let at = |t: Time, d: i64| Time::from_nanos((t.as_nanos() as i64 + d * 1_000_000_000) as u64);
    b.record(now, 1.0);
    assert_eq!(b.window_average(now), 1.0);
    for i in 1..5 {
        b.record(at(now, i), (i + 1) as f64);
    }
    assert_eq!(b.window_average(at(now, 4)), 15.0 / 5.0);
    assert_eq!(
        b.window_average(now + Duration::from_millis(3600)),
        15.0 / 5.0
    );
    assert_eq!(b.window_average(at(now, 6)), (15.0 - 1.0 - 2.0) / 3.0);
    assert_eq!(b.window_average(at(now, 10)), 0.0);
    b.record(at(now, 6), 91.0);
    assert_eq!(
        b.window_average(at(now, 6)),
        (15.0 - 1.0 - 2.0 + 91.0) / 5.0
    );

    now = at(now, 60);
    b.record(now, 1984.0);
    assert_eq!(
        b.window_average(now),
        1984.0,
        "a gap of a window starts afresh"
    );
    b.record(at(now, -3), 4.0);
    assert_eq!(
        b.window_average(now),
        (4.0 + 1984.0) / 4.0,
        "late write widens the series"
    );
    now = at(now, 1);
    b.record(now, 5.0);
    assert_eq!(b.window_average(now), (4.0 + 1984.0 + 5.0) / 5.0);
    b.record(at(now, -3), 10.0);
    assert_eq!(b.window_average(now), (4.0 + 10.0 + 1984.0 + 5.0) / 5.0);
    b.record(at(now, -6), 10.0);
    assert_eq!(
        b.window_average(now),
        (4.0 + 10.0 + 1984.0 + 5.0) / 5.0,
        "too old: dropped"
    );
    b.record(at(now, -5), 10.0);
    assert_eq!(
        b.window_average(now),
        (4.0 + 10.0 + 1984.0 + 5.0) / 5.0,
        "exactly a window old"
    );
    b.record(at(now, 5), 10.0);
    assert_eq!(b.window_average(at(now, 5)), 10.0);
}

/// TestDescendingRecord.
#[test]
fn knative_descending_record() {
    let mut b = linear(5, 1);
    for i in (0..=8).rev() {
        b.record(s(100 + i), 5.0);
    }
    assert_eq!(b.window_average(s(105)), 5.0);
}

/// TestTimedFloat64BucketsHoles.
#[test]
fn knative_holes() {
    let mut b = linear(5, 1);
    for i in 0..5 {
        b.record(s(100 + i), (i + 1) as f64);
    }
    assert_eq!(sum_at(&b, s(104)), 15.0);
    assert_eq!(b.window_average(s(104)), 3.0);
    b.record(s(108), 2.0);
    assert_eq!(sum_at(&b, s(108)), 7.0);
}

/// TestWeightedFloat64BucketsResizeWindow.
#[test]
fn knative_weighted_resize() {
    let mut b = weighted(5);
    assert!((b.smoothing - smoothing_coefficient(5)).abs() < 1e-12);
    for i in 0..6 {
        b.record(s(100 + i), (i + 1) as f64);
    }
    let now = s(105);
    assert_eq!(sum_at(&b, now), 20.0);
    assert_eq!(round_to(3, b.window_average(now)), 5.812);
    b.resize_window(now, Duration::from_secs(10));
    assert_eq!(b.buckets.len(), 10);
    assert_eq!(b.window(), Duration::from_secs(10));
    assert!((b.smoothing - smoothing_coefficient(10)).abs() < 1e-12);
}

/// TestTimedFloat64BucketsResizeWindow.
#[test]
fn knative_linear_resize() {
    let mut b = linear(5, 1);
    for i in 0..6 {
        b.record(s(100 + i), (i + 1) as f64);
    }
    let mut now = s(105);
    let initial = 2.0 + 3.0 + 4.0 + 5.0 + 6.0;
    assert_eq!(sum_at(&b, now), initial);
    assert_eq!(b.window_average(now), initial / 5.0);
    b.resize_window(now, Duration::from_secs(10));
    assert_eq!(b.buckets.len(), 10);
    assert_eq!(b.window(), Duration::from_secs(10));
    assert_eq!(sum_at(&b, now), initial);
    assert_eq!(b.window_average(now), initial / 5.0);
    now = s(106);
    b.record(now, 7.0);
    let updated = initial + 7.0;
    assert_eq!(sum_at(&b, now), updated);
    assert_eq!(b.window_average(now), round_to(6, updated / 6.0));
    b.resize_window(now, Duration::from_secs(4));
    assert_eq!(b.buckets.len(), 4);
    let shrunk = updated - 2.0 - 3.0;
    assert_eq!(sum_at(&b, now), shrunk);
    assert_eq!(b.window_average(now), shrunk / 4.0);
    let before = b.buckets.as_ptr();
    b.resize_window(now, Duration::from_secs(4));
    assert_eq!(before, b.buckets.as_ptr(), "same window: untouched");
}

/// TestTimedFloat64BucketsWindowUpdate3sGranularity.
#[test]
fn knative_resize_with_3s_granularity() {
    let t0 = s(99);
    let mut b = linear(5, 3);
    assert_eq!(b.buckets.len(), 2);
    for (d, v) in [
        (0, 10.0),
        (1, 2.0),
        (2, 3.0),
        (3, 4.0),
        (4, 5.0),
        (5, 6.0),
        (6, 7.0),
    ] {
        b.record(t0 + Duration::from_secs(d), v);
    }
    let mut want = 4.0 + 5.0 + 6.0 + 7.0;
    assert_eq!(sum_at(&b, t0 + Duration::from_secs(6)), want);
    b.resize_window(t0 + Duration::from_secs(6), Duration::from_secs(10));
    assert_eq!(b.buckets.len(), 4);
    assert_eq!(sum_at(&b, t0 + Duration::from_secs(6)), want);
    b.record(t0 + Duration::from_millis(9300), 42.0);
    want += 42.0;
    assert_eq!(sum_at(&b, t0 + Duration::from_secs(9)), want);
    b.resize_window(t0 + Duration::from_secs(9), Duration::from_secs(4));
    assert_eq!(b.buckets.len(), 2);
    assert_eq!(sum_at(&b, t0 + Duration::from_secs(9)), 42.0 + 7.0);
}

/// TestTimedFloat64BucketsWindowUpdateNoOp: resizing stale data resets the series.
#[test]
fn knative_resize_stale_resets() {
    let mut b = linear(5, 1);
    b.record(s(40), 19.82);
    assert_eq!(b.first_write, b.last_write);
    b.resize_window(s(100), Duration::from_secs(10));
    assert_eq!(b.first_write, None);
}

/// TestRoundToNDigits (the 6-digit case is what the average uses).
#[test]
fn knative_round_to_digits() {
    assert_eq!(round6(3.6e-17), 0.0);
    assert_eq!(round_to(3, -3.6e-17), 0.0);
    assert_eq!(round_to(3, 0.0004), 0.0);
    assert_eq!(round_to(3, 1.2345), 1.235);
    assert_eq!(round_to(4, 1.2345), 1.2345);
    assert_eq!(round6(12345.0), 12345.0);
    assert_eq!(round6(1.0 / 3.0), 0.333333);
}

/// A fresh series at t = 0: Knative's zero `lastWrite` must not be confused with a write at
/// the run's first second.
#[test]
fn first_write_at_time_zero_counts() {
    let mut b = linear(60, 1);
    assert!(b.is_empty_at(Time::ZERO));
    b.record(Time::ZERO, 4.0);
    assert!(!b.is_empty_at(Time::ZERO));
    assert_eq!(b.window_average(Time::ZERO), 4.0);
    assert_eq!(
        b.window_average(s(30)),
        4.0,
        "seconds after the last write are not zeros"
    );
    assert!(!b.is_empty_at(s(60)));
    assert!(b.is_empty_at(s(61)));
}

/// The max window (`max.TimeWindow`, `window_test.go`): the maximum over the last buckets,
/// same-bucket values keep the larger, older maxima expire.
#[test]
fn max_window_slides() {
    let mut w = MaxWindow::new(Duration::from_secs(10), Duration::from_secs(2)); // 5 buckets
    let steps: [(u64, i32, i32); 9] = [
        (0, 5, 5),
        (2, 3, 5),
        (3, 7, 7), // same bucket as 2 s: max(3, 7)
        (2, 1, 7), // same bucket again, lower: ignored
        (8, 2, 7),
        (12, 1, 2), // index 6: bucket 1 (7) expires (6 − 1 ≥ 5)
        (18, 0, 1),
        (30, 0, 0),
        (32, 4, 4),
    ];
    for (t, v, want) in steps {
        w.record(s(t), v);
        assert_eq!(w.current(), want, "t = {t}s");
    }
}

/// The ring as it was written before the division-free indexing (every index and slot by a
/// division): the reference the faster code must match bit for bit.
mod reference {
    use super::*;

    fn trunc(b: &WindowBuckets, t: i64) -> i64 {
        t - t.rem_euclid(b.granularity)
    }
    fn index(b: &WindowBuckets, t: i64) -> i64 {
        t.div_euclid(b.granularity)
    }
    fn slot(b: &WindowBuckets, i: i64) -> usize {
        i.rem_euclid(b.buckets.len() as i64) as usize
    }

    pub fn record(b: &mut WindowBuckets, now: Time, value: f64) {
        let now = to_i64(now);
        let bucket_time = trunc(b, now);
        let write_index = index(b, now);
        if b.last_write != Some(bucket_time) {
            if let Some(lw) = b.last_write
                && bucket_time.saturating_add(b.window) <= lw
            {
                return;
            }
            if b.first_write.is_none_or(|fw| fw > bucket_time) {
                b.first_write = Some(bucket_time);
            }
            if b.last_write.is_none_or(|lw| bucket_time > lw) {
                match b.last_write {
                    Some(lw) if bucket_time - lw < b.window => {
                        for i in index(b, lw) + 1..=write_index {
                            let s = slot(b, i);
                            b.window_total -= b.buckets[s];
                            b.buckets[s] = 0.0;
                        }
                    }
                    _ => {
                        b.first_write = Some(bucket_time);
                        b.buckets.iter_mut().for_each(|x| *x = 0.0);
                        b.window_total = 0.0;
                    }
                }
                b.last_write = Some(bucket_time);
            }
        }
        let s = slot(b, write_index);
        b.buckets[s] += value;
        b.window_total += value;
    }

    pub fn linear_average(b: &WindowBuckets, now: Time) -> f64 {
        let now = trunc(b, to_i64(now));
        let Some(lw) = b.last_write else {
            return 0.0;
        };
        let nb = b.buckets.len() as i64;
        let written = match b.first_write {
            Some(fw) => (lw - fw) / b.granularity + 1,
            None => i64::MAX,
        };
        let d = now - lw;
        if d <= 0 {
            round6(b.window_total / written.min(nb) as f64)
        } else if d < b.window {
            let st = index(b, lw);
            let en = index(b, now);
            let mut ret = b.window_total;
            for i in st + 1..=en {
                ret -= b.buckets[slot(b, i)];
            }
            round6(ret / written.min(nb - (en - st)) as f64)
        } else {
            0.0
        }
    }

    pub fn weighted_average(b: &WindowBuckets, now: Time) -> f64 {
        let t = trunc(b, to_i64(now));
        let Some(lw) = b.last_write else {
            return 0.0;
        };
        if t - lw > b.window {
            return 0.0;
        }
        let c = b.smoothing;
        let mut multiplier = c;
        let mut n = b.buckets.len() as i64;
        if t > lw {
            let zeros = (t - lw) / b.granularity;
            multiplier *= (1.0 - c).powf(zeros as f64);
            n -= zeros;
        }
        let start = index(b, lw);
        let mut ret = 0.0;
        for i in 0..n.max(0) {
            ret += b.buckets[slot(b, start - i)] * multiplier;
            multiplier *= 1.0 - c;
        }
        ret
    }
}

proptest::proptest! {
    /// Records (mostly forward in time, some late, some after long gaps, a resize now and
    /// then) and averages read between them are bit for bit those of the reference, for
    /// 1 s and 3 s buckets, both algorithms.
    #[test]
    fn matches_the_division_reference(
        window_s in 1u64..70,
        gran_s in proptest::prop_oneof![proptest::strategy::Just(1u64), proptest::strategy::Just(3u64)],
        weighted_avg in proptest::bool::ANY,
        ops in proptest::collection::vec((0u64..5_000, 0u8..10, -1.0f64..50.0), 1..200),
    ) {
        let agg = if weighted_avg { Aggregation::WeightedExponential } else { Aggregation::Linear };
        let mut b = WindowBuckets::new(Duration::from_secs(window_s), Duration::from_secs(gran_s), agg);
        let mut r = b.clone();
        let mut now_ms = 0u64;
        for (dt, what, v) in ops {
            match what {
                // A long gap.
                0 => now_ms += dt * 100,
                // A late write (up to 5 s back).
                1 => {
                    let t = ms(now_ms.saturating_sub(dt));
                    b.record(t, v);
                    reference::record(&mut r, t, v);
                }
                // A resize.
                2 if dt % 7 == 0 => {
                    let w = Duration::from_secs(1 + dt % 80);
                    b.resize_window(ms(now_ms), w);
                    r.resize_window(ms(now_ms), w);
                }
                _ => {
                    now_ms += dt / 4;
                    b.record(ms(now_ms), v);
                    reference::record(&mut r, ms(now_ms), v);
                }
            }
            proptest::prop_assert_eq!(b.window_total.to_bits(), r.window_total.to_bits());
            proptest::prop_assert_eq!(&b.buckets, &r.buckets);
            proptest::prop_assert_eq!(b.last_write, r.last_write);
            proptest::prop_assert_eq!(b.first_write, r.first_write);
            for ahead in [0u64, 700, 1_000, 2_500, 30_000, 65_000, 200_000] {
                let t = ms(now_ms + ahead);
                proptest::prop_assert_eq!(b.linear_average(t).to_bits(), reference::linear_average(&r, t).to_bits());
                proptest::prop_assert_eq!(b.weighted_average(t).to_bits(), reference::weighted_average(&r, t).to_bits());
                proptest::prop_assert_eq!(b.is_empty_at(t), r.is_empty_at(t));
            }
        }
    }
}
