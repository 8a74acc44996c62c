use super::*;

#[test]
fn integral_accumulates_level_time() {
    let mut i = Integral::default();
    i.set(Time::from_secs(0), 2);
    i.set(Time::from_secs(3), 1);
    assert_eq!(i.total_secs(Time::from_secs(5)), 8.0);
    i.add(Time::from_secs(5), -1);
    assert_eq!(i.total_secs(Time::from_secs(9)), 8.0);
}

#[test]
fn buckets_stay_bounded() {
    assert_eq!(bucket_for(60 * 1_000_000_000), 1_000_000_000);
    assert_eq!(bucket_for(3600 * 1_000_000_000), 1_000_000_000);
    assert_eq!(bucket_for(24 * 3600 * 1_000_000_000), 24 * 1_000_000_000);
}

/// The reference implementation's rank: the 7th of 100 values is p7, even though
/// 0.07 × 100 is 7.000000000000001 in floating point (the crate's own `value_at_quantile`
/// answers the 8th).
#[test]
fn percentiles_rank_as_the_reference_implementation_does() {
    let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).expect("bounds");
    for v in 1..=100u64 {
        h.record(v).expect("in range");
    }
    assert_eq!(
        h.value_at_quantile(0.07),
        8,
        "the crate's rank (for contrast)"
    );
    assert_eq!(value_at_percentile(&h, 7.0), 7);
    assert_eq!(value_at_percentile(&h, 50.0), 50);
    assert_eq!(value_at_percentile(&h, 99.0), 99);
    assert_eq!(value_at_percentile(&h, 100.0), 100);
    assert_eq!(value_at_percentile(&h, 0.0), 1);
    assert_eq!(value_at_percentile(&h, 0.5), 1);
    assert_eq!(value_at_percentile(&h, 1.5), 2);
    let empty = Histogram::<u64>::new(3).expect("bounds");
    assert_eq!(value_at_percentile(&empty, 99.0), 0);
    // Ten values: p90 is the 9th, p91 the 10th.
    let mut t = Histogram::<u64>::new_with_bounds(1, 1_000, 3).expect("bounds");
    for v in 1..=10u64 {
        t.record(v).expect("in range");
    }
    assert_eq!(value_at_percentile(&t, 90.0), 9);
    assert_eq!(value_at_percentile(&t, 91.0), 10);
}

#[test]
fn latency_summary_keeps_full_precision() {
    let mut h = LatencyHist::new();
    h.record_nanos(1_234_567);
    h.record_nanos(2_000_100);
    let s = h.summary();
    // 1234 µs and 2000 µs: the mean is 1.617 ms exactly, and a 1 µs value is not lost.
    assert_eq!(s.p50, 1.234);
    assert_eq!(s.mean, (1234.0 + 2000.0) / 2.0 / 1000.0);
    let mut t = Tally::new();
    t.alive.set(Time::ZERO, 0);
    t.busy_instances.set(Time::ZERO, 1);
    t.busy_instances.set(Time(3_897_000), 0);
    let v = t.variant(
        "x".into(),
        0,
        BTreeMap::new(),
        Series::default(),
        Time::from_secs(1),
    );
    // 0.003897 busy instances: once rounded to 0.004 (a 3 % error).
    assert_eq!(v.extra["mean_busy_instances"], 0.003897);
}

#[test]
fn a_long_series_is_bounded_in_the_document_and_whole_in_the_csv() {
    let rows: Vec<SeriesRow> = (0..25_000u64)
        .map(|i| SeriesRow {
            t_s: i as f64,
            arrivals: 1,
            ready: u64::from(i == 12_345) * 9,
            ..SeriesRow::default()
        })
        .collect();
    let full = Series {
        bucket_s: 1.0,
        rows,
        coarsened: None,
    };
    assert_eq!(full.to_csv().lines().count(), 25_001);
    let v = VariantResult {
        series: Some(full),
        ..VariantResult::default()
    };
    let doc = serde_json::to_value(&v).expect("serializes");
    let s = &doc["series"];
    let rows = s["rows"].as_array().expect("rows");
    assert!(rows.len() <= JSON_SERIES_MAX_ROWS, "{}", rows.len());
    assert_eq!(s["bucket_s"], 3.0);
    assert_eq!(s["coarsened"]["from_bucket_s"], 1.0);
    assert_eq!(s["coarsened"]["from_rows"], 25_000);
    let arrivals: u64 = rows.iter().map(|r| r["arrivals"].as_u64().unwrap()).sum();
    assert_eq!(arrivals, 25_000, "counts are kept");
    assert_eq!(rows[12_345 / 3]["ready"], 9, "a spike stays visible");
    // Read back and written again (`report --out`), the series still says it was coarsened.
    let back: VariantResult = serde_json::from_value(doc.clone()).expect("reads back");
    let again = serde_json::to_value(&back).expect("serializes");
    assert_eq!(again["series"], doc["series"]);
    // A short series is written as it is.
    let short = VariantResult {
        series: Some(Series {
            bucket_s: 1.0,
            rows: vec![SeriesRow::default(); 10],
            coarsened: None,
        }),
        ..VariantResult::default()
    };
    let doc = serde_json::to_value(&short).expect("serializes");
    assert_eq!(doc["series"]["rows"].as_array().map(Vec::len), Some(10));
    assert!(doc["series"].get("coarsened").is_none());
}

#[test]
fn latency_summary_in_ms() {
    let mut h = LatencyHist::new();
    for ms in 1..=100u64 {
        h.record_nanos(ms * 1_000_000);
    }
    let s = h.summary();
    assert_eq!(s.count, 100);
    assert!((s.p50 - 50.0).abs() < 0.1, "{s:?}");
    assert!((s.max - 100.0).abs() < 0.1, "{s:?}");
}

proptest::proptest! {
    /// Values kept as values, pending or in the histogram: every answer (count, summary,
    /// CDF, merges either way) is that of one histogram every value was recorded into.
    #[test]
    fn pending_values_count_everywhere(
        a in proptest::collection::vec(1u64..100_000_000, 0..3_000),
        b in proptest::collection::vec(1u64..100_000_000, 0..3_000),
    ) {
        let plain = |vs: &[u64]| {
            let mut h = new_histogram();
            for &v in vs {
                h.saturating_record(v);
            }
            LatencyHist::from_micros(h)
        };
        let mut ha = LatencyHist::new();
        for &v in &a {
            ha.record_micros(v);
        }
        let mut hb = LatencyHist::new();
        for &v in &b {
            hb.record_micros(v);
        }
        let (pa, pb) = (plain(&a), plain(&b));
        proptest::prop_assert_eq!(ha.len(), a.len() as u64);
        proptest::prop_assert_eq!(ha.summary(), pa.summary());
        proptest::prop_assert_eq!(ha.cdf(), pa.cdf());
        proptest::prop_assert_eq!(hb.summary(), pb.summary());
        let mut ab = plain(&a);
        ab.merge(&plain(&b));
        let mut m1 = LatencyHist::new();
        m1.merge(&ha);
        m1.merge(&hb);
        proptest::prop_assert_eq!(m1.summary(), ab.summary());
        ha.merge(&hb);
        proptest::prop_assert_eq!(ha.summary(), ab.summary());
        proptest::prop_assert_eq!(ha.len(), (a.len() + b.len()) as u64);
    }

    /// A bucket's p99 is the histogram's whether the bucket kept its few latencies as
    /// values or spilled them into the histogram.
    #[test]
    fn bucket_p99_is_the_histograms(
        buckets in proptest::collection::vec(
            proptest::collection::vec(0u64..200_000_000_000, 0..80), 1..6),
    ) {
        let mut b = SeriesBuilder::new(1_000_000_000);
        let mut want = Vec::new();
        for lat in &buckets {
            let mut h = LatencyHist::new();
            for &ns in lat {
                b.latency(ns);
                h.record_nanos(ns);
            }
            want.push(h.quantile_ms(0.99));
            b.close(Levels::default());
        }
        let got: Vec<f64> = b.finish().rows.iter().map(|r| r.p99_ms).collect();
        proptest::prop_assert_eq!(got, want);
    }
}
