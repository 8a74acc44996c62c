use std::path::Path;
use std::time::Duration;

use toml::Value;

use super::analyze::{Sample, Stat, halving_horizons, keep_count, pareto_ranks, summarize};
use super::candidates::{CandidateBuilder, sample_seed};
use super::doc::{Row, Setup, Shard, TuneDoc, merge};
use super::*;
use crate::autoscaler::AutoscalerSettings;
use crate::scenario::{Scenario, Slo};

const BASE: &str = include_str!("tests/base.toml");

fn tune(extra: &str) -> Result<Scenario, crate::scenario::ScenarioError> {
    Scenario::from_toml_str(&format!("{BASE}{extra}"), Path::new("t.toml"))
}

fn spec(extra: &str) -> TuneSpec {
    tune(extra).expect("valid").tune.expect("has [tune]")
}

fn err(extra: &str) -> String {
    tune(extra).expect_err("invalid").to_string()
}

#[test]
fn ranges_expand_as_written() {
    let s = spec(
        r#"
[tune.params]
"autoscaler.min_scale" = { min = 0, max = 3, step = 1 }
"autoscaler.target_utilization" = { min = 0.5, max = 0.8, step = 0.1 }
"service.container_concurrency" = { min = 1, max = 1000, log = true, n = 4 }
"autoscaler.stable_window" = { min = "30s", max = "2m", step = "30s" }
"autoscaler.scale_down_delay" = { min = "1s", max = "100s", log = true, n = 3 }
"#,
    );
    let values = |k: &str| {
        s.params
            .iter()
            .find(|p| p.key == k)
            .expect("param")
            .values
            .clone()
    };
    let ints = |v: &[i64]| v.iter().map(|&i| Value::Integer(i)).collect::<Vec<_>>();
    let strs = |v: &[&str]| {
        v.iter()
            .map(|s| Value::String(s.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(values("autoscaler.min_scale"), ints(&[0, 1, 2, 3]));
    assert_eq!(
        values("autoscaler.target_utilization"),
        [0.5, 0.6, 0.7, 0.8].map(Value::Float).to_vec()
    );
    assert_eq!(
        values("service.container_concurrency"),
        ints(&[1, 10, 100, 1000])
    );
    assert_eq!(
        values("autoscaler.stable_window"),
        strs(&["30s", "1m", "1m30s", "2m"])
    );
    assert_eq!(
        values("autoscaler.scale_down_delay"),
        strs(&["1s", "10s", "1m40s"])
    );
    // Keys are sorted; the grid is the product.
    let keys: Vec<&str> = s.params.iter().map(|p| p.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(s.grid_size().unwrap(), 4 * 4 * 4 * 4 * 3);
    assert_eq!(
        (s.objective, s.search, s.seeds),
        (Objective::MinCost, Search::Grid, 1)
    );
}

#[test]
fn log_range_of_integers_drops_repeats() {
    let s =
        spec("[tune.params]\n\"autoscaler.max_scale\" = { min = 1, max = 4, log = true, n = 6 }\n");
    assert_eq!(
        s.params[0].values,
        [1, 2, 3, 4].map(Value::Integer).to_vec()
    );
}

#[test]
fn bad_tune_tables_name_line_and_key() {
    let cases = [
        (
            "[tune]\nobjective = \"cheapest\"\n[tune.params]\n\"autoscaler.target\" = [1]\n",
            "tune.objective",
            "unknown objective",
        ),
        (
            "[tune]\nsearch = \"bayes\"\n[tune.params]\n\"autoscaler.target\" = [1]\n",
            "tune.search",
            "unknown search",
        ),
        (
            "[tune]\nseeds = 0\n[tune.params]\n\"autoscaler.target\" = [1]\n",
            "tune.seeds",
            "out of range",
        ),
        (
            "[tune]\nkeep = 1.5\n[tune.params]\n\"autoscaler.target\" = [1]\n",
            "tune.keep",
            "out of range",
        ),
        ("[tune]\nbogus = 1\n", "tune.bogus", "unknown key"),
        ("[tune]\nseeds = 2\n", "tune.params", "at least one key"),
        (
            "[tune.params]\n\"autoscaler.target\" = 5\n",
            "tune.params.\"autoscaler.target\"",
            "expected a list",
        ),
        (
            "[tune.params]\n\"autoscaler.target\" = []\n",
            "tune.params.\"autoscaler.target\"",
            "empty list",
        ),
        (
            "[tune.params]\n\"autoscaler.target\" = [1, 1]\n",
            "tune.params.\"autoscaler.target\"",
            "listed twice",
        ),
        (
            "[tune.params]\n\"autoscaler.target\" = { min = 1, max = 5 }\n",
            "tune.params.\"autoscaler.target\"",
            "`step` or `n`",
        ),
        (
            "[tune.params]\n\"autoscaler.target\" = { min = 5, max = 1, step = 1 }\n",
            "tune.params.\"autoscaler.target\"",
            "below `min`",
        ),
        (
            "[tune.params]\n\"autoscaler.target\" = { min = 1, max = 5, stride = 1 }\n",
            "tune.params.\"autoscaler.target\"",
            "unknown key `stride`",
        ),
        (
            "[tune.params]\n\"autoscaler.target\" = { min = 0, max = 5, log = true, n = 3 }\n",
            "tune.params.\"autoscaler.target\"",
            "above zero",
        ),
        (
            "[tune.params]\n\"autoscaler.stable_window\" = { min = \"6s\", max = 60, step = 1 }\n",
            "tune.params.\"autoscaler.stable_window\"",
            "both be numbers or both be durations",
        ),
        (
            "[tune.params]\n\"autoscaler.targett\" = [1, 2]\n",
            "tune.params.\"autoscaler.targett\"",
            "unknown key",
        ),
        (
            "[tune.params]\n\"autoscaler.stable_window\" = [\"1s\"]\n",
            "tune.params.\"autoscaler.stable_window\"",
            "at least 6s",
        ),
        (
            "[tune.params]\n\"seed\" = [1, 2]\n",
            "tune.params.\"seed\"",
            "cannot be searched",
        ),
        (
            "[tune.params]\n\"autoscaler..target\" = [1, 2]\n",
            "tune.params.\"autoscaler..target\"",
            "malformed key",
        ),
        (
            "[tune]\nmodel = \"lambda\"\n[tune.params]\n\"autoscaler.target\" = [1]\n",
            "tune.model",
            "not one of the scenario's billing models",
        ),
    ];
    let base_lines = BASE.lines().count();
    for (extra, key, msg) in cases {
        let e = err(extra);
        assert!(e.starts_with("t.toml:"), "{extra}: {e}");
        assert!(e.contains(&format!("key `{key}`")), "{extra}: {e}");
        assert!(e.contains(msg), "{extra}: {e}");
        let line: usize = e
            .split(':')
            .nth(1)
            .and_then(|l| l.parse().ok())
            .expect("a line");
        assert!(
            line > base_lines,
            "{extra}: the error points into [tune]: {e}"
        );
    }
}

#[test]
fn grid_order_is_mixed_radix_with_the_last_key_fastest() {
    let s = spec(
        "[tune.params]\n\"autoscaler.min_scale\" = [0, 1]\n\"autoscaler.target\" = [10, 20, 30]\n",
    );
    let c = s.candidates(1).unwrap();
    assert_eq!(c.len(), 6);
    let got: Vec<(i64, i64)> = c
        .iter()
        .map(|c| {
            let st = s.settings(c);
            (st[0].1.as_integer().unwrap(), st[1].1.as_integer().unwrap())
        })
        .collect();
    assert_eq!(got, [(0, 10), (0, 20), (0, 30), (1, 10), (1, 20), (1, 30)]);
    assert!(c.iter().enumerate().all(|(i, c)| c.id == i as u64));
}

#[test]
fn random_search_draws_distinct_ids_from_the_seed() {
    let s = spec(
        "[tune]\nsearch = \"random\"\nsamples = 7\n[tune.params]\n\"autoscaler.target\" = { min = 1, max = 50, step = 1 }\n\"autoscaler.min_scale\" = [0, 1, 2]\n",
    );
    let a = s.candidates(11).unwrap();
    assert_eq!(a.len(), 7);
    assert!(a.windows(2).all(|w| w[0].id < w[1].id), "sorted, distinct");
    assert!(a.iter().all(|c| c.id < 150));
    assert_eq!(a, s.candidates(11).unwrap(), "same seed, same draw");
    assert_ne!(a, s.candidates(12).unwrap(), "another seed, another draw");
    let mut all = s.clone();
    all.samples = Some(1000);
    assert_eq!(
        all.candidates(11).unwrap().len(),
        150,
        "asking for more takes the grid"
    );
}

#[test]
fn seeds_are_the_master_first_then_named_streams() {
    assert_eq!(sample_seed(42, 0), 42);
    assert_ne!(sample_seed(42, 1), 42);
    assert_ne!(sample_seed(42, 1), sample_seed(42, 2));
    assert_eq!(sample_seed(42, 3), sample_seed(42, 3));
}

#[test]
fn candidates_apply_their_settings_and_combinations_can_fail() {
    let src = format!(
        "{BASE}[tune.params]\n\"autoscaler.min_scale\" = [0, 5]\n\"autoscaler.max_scale\" = [3, 10]\n"
    );
    let s = Scenario::from_toml_str(&src, Path::new("t.toml")).unwrap();
    let t = s.tune.clone().unwrap();
    let b = CandidateBuilder::new(&src, Path::new("t.toml")).unwrap();
    let built: Vec<Result<Scenario, crate::scenario::ScenarioError>> = t
        .candidates(1)
        .unwrap()
        .iter()
        .map(|c| b.build(&t.settings(c)))
        .collect();
    assert_eq!(built.len(), 4);
    let min_scale = |s: &Scenario| match &s.revisions[0].autoscaler {
        AutoscalerSettings::Kpa(k) => (k.min_scale, k.max_scale),
        _ => panic!("kpa"),
    };
    assert_eq!(min_scale(built[0].as_ref().unwrap()), (0, 3));
    assert_eq!(min_scale(built[3].as_ref().unwrap()), (5, 10));
    // Keys are sorted: max_scale varies slowest, so candidate 1 is (max 3, min 5).
    let e = built[1].as_ref().expect_err("min 5 > max 3").brief();
    assert_eq!(
        e,
        "key `autoscaler.min_scale`: min_scale 5 exceeds max_scale 3"
    );
    assert!(
        built[0].as_ref().unwrap().tune.is_none(),
        "candidates carry no [tune]"
    );
}

fn sample(cost: f64, p99: f64, cold: f64) -> Sample {
    Sample {
        seed: 1,
        cost_usd: cost,
        cost_per_million_usd: cost * 10.0,
        p50_ms: p99 / 4.0,
        p90_ms: p99 / 2.0,
        p99_ms: p99,
        p999_ms: p99 * 2.0,
        cold_start_ratio: cold,
        cold_starts: 1,
        arrived: 1000,
        errors: 0,
        instances_mean: 1.0,
        instances_peak: 2,
        slo_passed: true,
    }
}

#[test]
fn stat_has_mean_and_sample_sd() {
    let s = Stat::of([1.0, 2.0, 3.0, 4.0]);
    assert_eq!((s.mean, s.min, s.max), (2.5, 1.0, 4.0));
    assert!((s.sd - 1.290_994_448_735_805_6).abs() < 1e-12);
    assert_eq!(Stat::of([7.0]).sd, 0.0);
}

#[test]
fn summary_checks_the_slo_on_the_means() {
    let slo = Slo {
        p99: Some(Duration::from_millis(500)),
        ..Slo::default()
    };
    // One lucky seed under the limit does not make a pass: the mean is 550 ms.
    let s = summarize(
        &[sample(1.0, 400.0, 0.0), sample(1.2, 700.0, 0.0)],
        &slo,
        "m",
    );
    assert!(!s.slo.passed);
    assert!((s.p99_ms.mean - 550.0).abs() < 1e-9);
    assert!((s.violation() - 0.1).abs() < 1e-9);
    assert!((s.cost_usd.mean - 1.1).abs() < 1e-12);
}

#[test]
fn pareto_ranks_peel_fronts() {
    let pts = [
        [1.0, 5.0, 0.0],
        [2.0, 2.0, 0.0],
        [3.0, 3.0, 0.0],
        [1.0, 5.0, 0.0],
        [4.0, 6.0, 1.0],
    ];
    assert_eq!(pareto_ranks(&pts), [0, 0, 1, 0, 2]);
}

fn row(id: u64, cost: f64, p99: f64, cold: f64, slo: &Slo) -> Row {
    let samples = vec![sample(cost, p99, cold)];
    Row {
        id,
        settings: [("autoscaler.target".to_string(), Value::Integer(id as i64))].into(),
        horizon_s: 60.0,
        rung: 0,
        full: true,
        summary: Some(summarize(&samples, slo, "m")),
        samples,
        error: None,
    }
}

fn setup(objective: Objective) -> Setup {
    let mut spec = spec("[tune.params]\n\"autoscaler.target\" = { min = 1, max = 6, step = 1 }\n");
    spec.objective = objective;
    Setup {
        scenario: "t".into(),
        scenario_hash: "0".into(),
        seed: 1,
        seeds: vec![1],
        spec,
        candidates: 6,
        horizon_s: 60.0,
    }
}

/// The unsharded document of `rows` under `objective`.
fn doc(objective: Objective, rows: Vec<Row>) -> TuneDoc {
    TuneDoc::new("t.toml".into(), setup(objective), None, true, rows)
}

fn rows() -> Vec<Row> {
    let slo = Slo {
        p99: Some(Duration::from_millis(500)),
        ..Slo::default()
    };
    vec![
        row(0, 1.0, 900.0, 0.2, &slo), // cheapest, breaks the SLO
        row(1, 2.0, 450.0, 0.1, &slo), // cheapest that passes
        row(2, 2.0, 450.0, 0.1, &slo), // a tie: the lower id wins
        row(3, 3.0, 200.0, 0.0, &slo),
        row(4, 3.5, 300.0, 0.05, &slo), // dominated by 3
        row(5, 9.0, 100.0, 0.0, &slo),
    ]
}

#[test]
fn min_cost_picks_the_cheapest_passing_candidate() {
    let d = doc(Objective::MinCost, rows());
    assert_eq!(d.outcome.winner, Some(1));
    assert_eq!(d.outcome.order, [1, 2, 3, 4, 5, 0]);
    assert_eq!(d.outcome.front, [0, 1, 2, 3, 5]);
}

#[test]
fn pareto_picks_the_cheapest_passing_front_member() {
    let d = doc(Objective::Pareto, rows());
    assert_eq!(d.outcome.winner, Some(1));
    assert_eq!(d.outcome.order, [1, 2, 3, 5, 0, 4]);
    let mut r = rows();
    for x in &mut r {
        x.summary.as_mut().unwrap().slo.passed = false;
    }
    let d = doc(Objective::Pareto, r);
    assert_eq!(d.outcome.winner, None, "nothing passes, nothing wins");
}

#[test]
fn shards_merge_into_the_unsharded_document() {
    let whole = doc(Objective::MinCost, rows());
    let n = 3;
    let shards: Vec<TuneDoc> = (0..n)
        .rev()
        .map(|i| {
            let sh = Shard { index: i, count: n };
            TuneDoc::new(
                "t.toml".into(),
                setup(Objective::MinCost),
                Some(sh),
                true,
                sh.select(rows()),
            )
        })
        .collect();
    let merged = merge(shards.clone()).unwrap();
    assert_eq!(merged, whole);
    assert_eq!(merged.to_csv(), whole.to_csv());

    let e = merge(shards[..2].to_vec()).unwrap_err().to_string();
    assert!(e.contains("missing shard(s): 0/3"), "{e}");
    let e = merge(vec![
        shards[0].clone(),
        shards[0].clone(),
        shards[1].clone(),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("given twice"), "{e}");
    let mut other = shards[1].clone();
    other.setup.seed = 99;
    let e = merge(vec![shards[0].clone(), other, shards[2].clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("seed 99 vs 1"), "{e}");
    let e = merge(vec![whole]).unwrap_err().to_string();
    assert!(e.contains("not a shard"), "{e}");
}

#[test]
fn shard_specs_parse_strictly() {
    assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
    for bad in ["4/4", "1", "a/b", "0/0", "-1/3"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
    let sh = Shard { index: 1, count: 3 };
    assert_eq!(sh.select((0..8).collect()), [1, 4, 7]);
}

#[test]
fn halving_doubles_the_horizon_up_to_the_full_one() {
    let h = halving_horizons(Duration::from_secs(3600), None);
    let secs: Vec<u64> = h.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [450, 900, 1800, 3600]);
    let h = halving_horizons(Duration::from_secs(100), Some(Duration::from_secs(30)));
    assert_eq!(
        h.iter().map(Duration::as_secs).collect::<Vec<_>>(),
        [30, 60, 100]
    );
    let h = halving_horizons(Duration::from_secs(300), None);
    assert_eq!(
        h.iter().map(Duration::as_secs).collect::<Vec<_>>(),
        [37, 74, 148, 300]
    );
    assert_eq!(keep_count(10, 0.5), 5);
    assert_eq!(keep_count(5, 0.5), 3);
    assert_eq!(keep_count(1, 0.1), 1);
    assert_eq!(keep_count(0, 0.5), 0);
}

#[test]
fn csv_has_one_line_per_row_and_marks_front_and_winner() {
    let d = doc(Objective::MinCost, rows());
    let csv = d.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7);
    assert!(
        lines[0]
            .starts_with("id,autoscaler.target,rung,horizon_s,full,seeds,cost_model,cost_usd_mean")
    );
    let cols = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == cols));
    assert!(
        lines[2].ends_with(",1,1,"),
        "row 1 is on the front and wins: {}",
        lines[2]
    );
    assert!(
        lines[5].ends_with(",0,0,"),
        "row 4 is dominated: {}",
        lines[5]
    );
}
