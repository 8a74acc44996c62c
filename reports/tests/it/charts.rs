//! Charts render as PNGs of the requested size that decode, and as SVG; the bundle writes
//! every file `scalelab report DIR` and the HTML page need.

use scalelab_reports::charts::{self, ChartKind};
use scalelab_reports::{BundleOptions, write_bundle};

use crate::fixture::two_variants;

#[test]
fn every_chart_renders_as_png_of_the_requested_size() {
    let r = two_variants();
    let list = charts::charts_for(&r);
    let kinds: Vec<&ChartKind> = list.iter().map(|c| &c.kind).collect();
    assert_eq!(
        kinds,
        [
            &ChartKind::Timeline(0),
            &ChartKind::Timeline(1),
            &ChartKind::Instances,
            &ChartKind::Latency,
            &ChartKind::LatencyCdf,
            &ChartKind::ColdStarts,
            &ChartKind::Cost
        ]
    );
    for size in [charts::SIZE, (640, 400)] {
        for c in &list {
            let png = charts::render_png(&r, c, size).unwrap();
            let img = image::load_from_memory(&png).expect("the PNG decodes");
            assert_eq!((img.width(), img.height()), size, "{}", c.name);
            // Not blank: a chart has ink (dark pixels from text and axes).
            let rgb = img.to_rgb8();
            let dark = rgb
                .pixels()
                .filter(|p| p.0.iter().all(|&x| x < 100))
                .count();
            assert!(dark > 500, "{}: {dark} dark pixels", c.name);
        }
    }
}

#[test]
fn svg_charts_keep_text_as_text() {
    let r = two_variants();
    for c in charts::charts_for(&r) {
        let svg = charts::render_svg(&r, &c, charts::SIZE).unwrap();
        assert!(svg.contains("<svg"), "{}", c.name);
        assert!(svg.contains("<text"), "{}: axis labels are text", c.name);
    }
    let cost = charts::charts_for(&r)
        .into_iter()
        .find(|c| c.kind == ChartKind::Cost)
        .unwrap();
    let svg = charts::render_svg(&r, &cost, charts::SIZE).unwrap();
    assert!(svg.contains("USD per million requests"));
    assert!(svg.contains("cloud-run-instance") && svg.contains("min-1"));
}

#[test]
fn a_run_without_series_or_costs_has_fewer_charts() {
    let mut r = two_variants();
    for v in &mut r.variants {
        v.series = None;
        v.cost.clear();
    }
    let names: Vec<String> = charts::charts_for(&r).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["latency", "latency-cdf"]);
}

#[test]
fn bundle_writes_every_file() {
    let dir = std::env::temp_dir().join(format!("scalelab-reports-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = two_variants();
    let written = write_bundle(&dir, &r, &BundleOptions::default()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for must in [
        "result.json",
        "timeseries.csv",
        "report.html",
        "report.md",
        "latency.png",
        "latency.svg",
        "timeline-min-1.png",
        "cost.svg",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} missing from {names:?}"
        );
    }
    for p in &written {
        assert!(
            std::fs::metadata(p).unwrap().len() > 0,
            "{} is empty",
            p.display()
        );
    }
    // The written document re-reads, and now names its CSV.
    let back = scalelab_reports::load_result(&dir).unwrap();
    assert_eq!(
        back.variants[0].timeseries.as_deref(),
        Some("timeseries.csv")
    );
    assert_eq!(back.variants[0].series, r.variants[0].series);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Variants with identical results hid each other in the CDF and cold-start charts (issue 20):
/// the later one is drawn dashed on top and the legend says which it coincides with.
#[test]
fn identical_variants_are_told_apart() {
    let pair = two_variants();
    let mut r = pair.clone();
    let mut twin = r.variants[0].clone();
    twin.name = "twin".into();
    r.variants.push(twin);
    for kind in [ChartKind::LatencyCdf, ChartKind::ColdStarts] {
        let render = |r: &scalelab_core::result::RunResult| {
            let c = charts::charts_for(r)
                .into_iter()
                .find(|c| c.kind == kind)
                .expect("the chart applies");
            (charts::render_svg(r, &c, charts::SIZE).unwrap(), c.name)
        };
        let (svg, name) = render(&r);
        let (without, _) = render(&pair);
        let first = &r.variants[0].name;
        assert!(
            svg.contains(&format!("twin (same as {first}: dashed on top)")),
            "{name}: no note in the legend"
        );
        // The dashes are drawn as many short segments.
        let segments = |s: &str| s.matches("<line").count() + s.matches("<polyline").count();
        assert!(
            segments(&svg) > segments(&without) + 10,
            "{name}: the twin is not dashed"
        );
        // Two variants that differ get no such note.
        assert!(!svg.contains(&format!("{} (same as", r.variants[1].name)));
    }
}

/// A load run has no instances, cold starts or bills to chart.
#[test]
fn a_load_run_charts_only_requests_and_latency() {
    let mut r = two_variants();
    r.mode = scalelab_core::result::Mode::Load;
    r.variants.truncate(1);
    let list = charts::charts_for(&r);
    let kinds: Vec<&ChartKind> = list.iter().map(|c| &c.kind).collect();
    assert_eq!(
        kinds,
        [
            &ChartKind::Timeline(0),
            &ChartKind::Latency,
            &ChartKind::LatencyCdf
        ]
    );
    let svg = charts::render_svg(&r, &list[0], charts::SIZE).unwrap();
    assert!(svg.contains("p99 latency of the second"));
    assert!(!svg.contains("scaled to zero"));
    assert!(!svg.contains("ready instances"));
}
