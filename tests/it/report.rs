//! `scalelab report`: re-rendering saved results, comparing runs (exit 3 on a regression or a
//! breached SLO), and clean errors with exit 2 for input that is not a result document.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use scalelab_core::result::{
    Cost, Latency, Mode, Requests, RunResult, SCHEMA_VERSION, Series, SeriesRow, SloCheck,
    SloResult, VariantResult,
};

use crate::support::*;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> Scratch {
    fresh_dir("report", name)
}

fn variant(name: &str, p99: f64, cost_per_million: f64, p99_limit: f64) -> VariantResult {
    let mut cost = BTreeMap::new();
    cost.insert(
        "cloud-run-request".to_string(),
        Cost {
            total_usd: cost_per_million / 100.0,
            per_million_requests_usd: cost_per_million,
            ..Default::default()
        },
    );
    let rows = (0..30)
        .map(|t| SeriesRow {
            t_s: f64::from(t),
            arrivals: 10_000 / 30,
            completions: 10_000 / 30,
            ready: 1 + u64::from(t > 10),
            desired: 1 + u64::from(t > 9),
            panic: (10..14).contains(&t),
            cold_starts: u64::from(t == 10),
            ..Default::default()
        })
        .collect();
    VariantResult {
        name: name.into(),
        requests: Requests {
            arrived: 10_000,
            completed: 10_000,
            ..Default::default()
        },
        latency_ms: Latency {
            count: 10_000,
            mean: p99 / 4.0,
            p50: p99 / 5.0,
            p90: p99 / 2.0,
            p99,
            p999: p99 * 1.5,
            max: p99 * 2.0,
        },
        cost,
        slo: SloResult {
            passed: p99 <= p99_limit,
            checks: vec![SloCheck {
                name: "p99".into(),
                threshold: p99_limit,
                actual: p99,
                unit: "ms".into(),
                passed: p99 <= p99_limit,
                default_threshold: false,
                note: None,
            }],
        },
        series: Some(Series {
            bucket_s: 1.0,
            rows,
            coarsened: None,
        }),
        ..Default::default()
    }
}

fn run_doc(seed: u64, p99: f64, cost: f64, p99_limit: f64) -> RunResult {
    RunResult {
        schema: SCHEMA_VERSION,
        scenario: "report-cli".into(),
        seed,
        mode: Mode::Sim,
        variants: vec![
            variant("baseline", p99, cost, p99_limit),
            variant("min-1", p99 / 3.0, cost * 1.4, p99_limit),
        ],
        scalelab_version: "test".into(),
        scenario_path: Some("scenarios/report-cli.toml".into()),
        command: None,
        duration_s: 30.0,
        time_scale: None,
        resolved_scenario: None,
    }
}

fn write_doc(dir: &Path, name: &str, r: &RunResult) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(r).unwrap()).unwrap();
    p.display().to_string()
}

/// Runs `scalelab` with an extra environment variable.
fn scalelab_env(args: &[&str], key: &str, value: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env(key, value)
        .output()
        .expect("the scalelab binary runs")
}

#[test]
fn rerenders_a_saved_result_in_every_format() {
    let _shared = crate::support::shared();
    let d = scratch("rerender");
    let doc = run_doc(7, 400.0, 2.0, 1000.0);
    let file = write_doc(&d, "result.json", &doc);

    let o = scalelab(&["report", &file]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert_contains(&out, "report-cli · simulated · seed 7");
    assert_contains(&out, "PASS 400.0 ms");
    assert!(!out.contains('\x1b'), "no colour without a terminal");

    // A directory works like its result.json; JSON re-renders the same document.
    let o = scalelab(&["report", &d.display().to_string(), "--format", "json"]);
    assert_exit(&o, 0);
    let back: RunResult = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(back.seed, 7);
    assert_eq!(back.variants.len(), 2);

    let o = scalelab(&["report", &file, "--format", "csv"]);
    let csv = stdout(&o);
    assert!(csv.starts_with("variant,t_s,arrivals,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 30);

    let o = scalelab(&["report", &file, "--format", "junit"]);
    assert_eq!(stdout(&o).matches("<testcase ").count(), 2);

    let o = scalelab(&["report", &file, "--format", "md"]);
    assert_contains(&stdout(&o), "| metric | baseline | min-1 |");

    let html = d.join("page.html");
    let page_arg = html.display().to_string();
    let o = scalelab(&["report", &file, "--format", "html", "-o", &page_arg]);
    assert_exit(&o, 0);
    assert!(stdout(&o).is_empty());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && !page.contains("https://"));

    let bundle = d.join("bundle");
    let o = scalelab(&["report", &file, "--out", &bundle.display().to_string()]);
    assert_exit(&o, 0);
    for f in [
        "result.json",
        "timeseries.csv",
        "report.html",
        "report.md",
        "latency.png",
        "cost.svg",
    ] {
        assert!(bundle.join(f).is_file(), "{f} written");
    }
}

#[test]
fn breached_slo_exits_3_and_names_the_check() {
    let _shared = crate::support::shared();
    let d = scratch("breach");
    let file = write_doc(&d, "r.json", &run_doc(1, 1500.0, 2.0, 1000.0));
    let summary = d.join("summary.md");
    let o = scalelab_env(&["report", &file], "GITHUB_STEP_SUMMARY", &summary);
    assert_exit(&o, 3);
    assert_contains(&stdout(&o), "FAIL 1500.0 ms");
    assert_contains(&stderr(&o), "slo breach: baseline: p99");
    let md = std::fs::read_to_string(&summary).expect("the step summary was written");
    assert!(
        md.contains("## scalelab: report-cli") && md.contains("FAILED"),
        "{md}"
    );
}

#[test]
fn comparison_flags_regressions_beyond_tolerance() {
    let _shared = crate::support::shared();
    let d = scratch("compare");
    let a = write_doc(&d, "a.json", &run_doc(1, 400.0, 2.0, 10_000.0));
    let b = write_doc(&d, "b.json", &run_doc(2, 600.0, 2.1, 10_000.0));

    let o = scalelab(&["report", &a, &b]);
    assert_exit(&o, 3);
    let out = stdout(&o);
    assert_contains(&out, "REGRESSION");
    assert_contains(&out, "+50.0%");
    assert_contains(&stderr(&o), "regression:");

    // Within a generous tolerance nothing regresses.
    let o = scalelab(&["report", &a, &b, "--tolerance", "60"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("no regression beyond 60%"));

    // --baseline picks the reference: b against a is an improvement.
    let o = scalelab(&["report", &a, "--baseline", &b, "--format", "json"]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["baseline"]["label"], b.as_str());
    assert!(
        v["deltas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["regression"] == false)
    );

    // The same run twice compares clean; --out writes both bundles and the comparison.
    let out_dir = d.join("cmp");
    let o = scalelab(&["report", &a, &a, "--out", &out_dir.display().to_string()]);
    assert_exit(&o, 0);
    assert!(out_dir.join("comparison.html").is_file());
    assert!(out_dir.join("run-2-report-cli/report.html").is_file());
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let _shared = crate::support::shared();
    let d = scratch("bad");
    let cases: Vec<(String, &str)> = vec![
        ("no/such/result.json".into(), "no such file"),
        (write_raw(&d, "notjson.json", "hello"), "invalid JSON"),
        (
            write_raw(&d, "other.json", "{\"name\": \"x\"}"),
            "no \"schema\" field",
        ),
        (
            write_raw(&d, "future.json", "{\"schema\": 99}"),
            "version 99 is not supported",
        ),
        (
            write_raw(&d, "partial.json", "{\"schema\": 1, \"scenario\": \"x\"}"),
            "missing field",
        ),
        (d.display().to_string(), "no result.json"),
    ];
    for (path, expect) in cases {
        let o = scalelab(&["report", &path]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{path}: {err}");
        assert!(err.contains(expect), "{path}: expected {expect:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let good = write_doc(&d, "good.json", &run_doc(1, 1.0, 1.0, 10.0));
    let o = scalelab(&["report", &good, "--tolerance=-5"]);
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "--tolerance");
    let o = scalelab(&["report"]);
    assert_eq!(o.status.code(), Some(2));
}

fn write_raw(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}
