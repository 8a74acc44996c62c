//! The answer of a tune search: text and the Pareto chart, from a document built by hand.

use std::collections::BTreeMap;

use scalelab_core::scenario::Slo;
use scalelab_core::tune::analyze::{Sample, summarize};
use scalelab_core::tune::doc::{Row, Setup, TuneDoc};
use scalelab_core::tune::{Objective, Param, Search, TuneSpec};

fn sample(seed: u64, cost: f64, p99: f64) -> Sample {
    Sample {
        seed,
        cost_usd: cost,
        cost_per_million_usd: cost * 10.0,
        p50_ms: p99 / 4.0,
        p90_ms: p99 / 2.0,
        p99_ms: p99,
        p999_ms: p99 * 1.5,
        cold_start_ratio: 0.01,
        cold_starts: 3,
        arrived: 100_000,
        errors: 0,
        instances_mean: 2.0,
        instances_peak: 4,
        slo_passed: p99 <= 500.0,
    }
}

fn doc() -> TuneDoc {
    let spec = TuneSpec {
        params: vec![Param {
            key: "autoscaler.min_scale".into(),
            values: vec![0.into(), 1.into(), 2.into()],
        }],
        objective: Objective::MinCost,
        model: Some("cloud-run-instance".into()),
        seeds: 2,
        search: Search::Grid,
        samples: None,
        keep: 0.5,
        min_duration: None,
    };
    let slo = Slo {
        p99: Some(std::time::Duration::from_millis(500)),
        ..Slo::default()
    };
    let rows = [(0, 1.0, 900.0), (1, 2.0, 300.0), (2, 3.0, 250.0)]
        .into_iter()
        .map(|(id, cost, p99)| {
            let samples = vec![sample(1, cost, p99), sample(2, cost * 1.1, p99 * 0.9)];
            Row {
                id,
                settings: BTreeMap::from([("autoscaler.min_scale".into(), (id as i64).into())]),
                horizon_s: 600.0,
                rung: 0,
                full: true,
                summary: Some(summarize(&samples, &slo, "cloud-run-instance")),
                samples,
                error: None,
            }
        })
        .collect();
    let setup = Setup {
        scenario: "t".into(),
        scenario_hash: "0".into(),
        seed: 1,
        seeds: vec![1, 2],
        spec,
        candidates: 3,
        horizon_s: 600.0,
    };
    TuneDoc::new("t.toml".into(), setup, None, true, rows)
}

#[test]
fn text_names_the_winner_and_the_front() {
    let d = doc();
    assert_eq!(d.outcome.winner, Some(1));
    let text = scalelab_reports::tune::render_text(&d, 20);
    assert!(text.contains("best: candidate 1"), "{text}");
    assert!(text.contains("autoscaler.min_scale = 1"), "{text}");
    assert!(text.contains("Pareto front"), "{text}");
    assert!(text.contains("<- best"), "{text}");
    let short = scalelab_reports::tune::render_text(&d, 1);
    assert!(short.contains("more on the front"), "{short}");
}

#[test]
fn the_pareto_chart_draws_every_candidate() {
    let svg = scalelab_reports::tune::pareto_svg(&doc()).expect("drawn");
    assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
    assert!(svg.contains("best: candidate 1"));
    assert!(svg.contains("SLO p99 500 ms"));
    let png = std::env::temp_dir().join(format!("scalelab-pareto-{}.png", std::process::id()));
    scalelab_reports::tune::pareto_png(&doc(), &png).expect("written");
    let bytes = std::fs::read(&png).expect("png");
    assert_eq!(&bytes[1..4], b"PNG");
    let _ = std::fs::remove_file(&png);
}
