//! `scalelab sim`: every bundled scenario runs (on a short horizon, invariants checked on every
//! event); JSON is reproducible; SLO breaches exit 3; `--out` writes the whole set.

use crate::support::*;

#[test]
fn every_bundled_scenario_simulates() {
    for f in bundled_scenarios() {
        let o = scalelab(&[
            "sim",
            &rel(&f),
            "--duration",
            "3m",
            "--check",
            "--format",
            "json",
            "-q",
        ]);
        ran_to_the_end(&o, &f.display().to_string());
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json on stdout");
        assert_eq!(v["schema"], 1);
        assert_eq!(v["mode"], "sim");
        for var in v["variants"].as_array().unwrap() {
            let r = &var["requests"];
            let n = |k: &str| r[k].as_u64().unwrap();
            assert_eq!(
                n("arrived"),
                n("completed") + n("rejected") + n("timed_out") + n("in_flight_at_end")
            );
            assert!(
                var["cost"].as_object().is_some_and(|c| !c.is_empty()),
                "costs for every model"
            );
            let breached = var["slo"]["passed"] == false;
            if breached {
                assert_eq!(
                    o.status.code(),
                    Some(3),
                    "{}: a breach exits 3",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn json_is_reproducible_from_scenario_and_seed() {
    let args = [
        "sim",
        "scenarios/spiky-api.toml",
        "--duration",
        "3m",
        "--seed",
        "9",
        "--format",
        "json",
        "-q",
    ];
    let a = scalelab(&args);
    let b = scalelab(&args);
    assert_eq!(stdout(&a), stdout(&b));
    let c = scalelab(&[
        "sim",
        "scenarios/spiky-api.toml",
        "--duration",
        "3m",
        "--seed",
        "10",
        "--format",
        "json",
        "-q",
    ]);
    assert_ne!(stdout(&a), stdout(&c));
}

#[test]
fn slo_breach_exits_3_and_names_the_check() {
    let dir = fresh_dir("sim", "slo");
    let f = write_file(&dir, "tight.toml", include_str!("fixtures/tight.toml"));
    let o = scalelab(&["sim", f.to_str().unwrap(), "--seed", "1"]);
    assert_exit(&o, 3);
    assert_contains(&stdout(&o), "FAIL");
}

/// `sim ARGS -q`, which must run to the end (exit 0, or 3 for a breached SLO).
fn sim_ran(args: &[&str]) {
    let mut all = vec!["sim"];
    all.extend_from_slice(args);
    all.push("-q");
    ran_to_the_end(&scalelab(&all), &all.join(" "));
}

/// The run got to its end: exit 0, or 3 for a breached SLO.
fn ran_to_the_end(o: &std::process::Output, what: &str) {
    let code = o.status.code();
    assert!(
        code == Some(0) || code == Some(3),
        "{what}: exit {code:?}: {}",
        stderr(o)
    );
}

#[test]
fn out_dir_gets_the_whole_set() {
    let dir = fresh_dir("sim", "out");
    sim_ran(&[
        "scenarios/rare-function.toml",
        "--duration",
        "30m",
        "--out",
        dir.to_str().unwrap(),
    ]);
    for name in ["result.json", "timeseries.csv", "report.html", "report.md"] {
        assert!(dir.join(name).is_file(), "{name} written");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(doc["variants"].as_array().unwrap().len(), 3);
    assert!(
        std::fs::read_dir(&dir).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "png"))
    );
}

#[test]
fn bad_flags_are_bad_input() {
    let o = scalelab(&["sim", "scenarios/steady-api.toml", "--variant", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "no variant named \"nope\"");
    let o = scalelab(&["sim", "scenarios/steady-api.toml", "--duration", "ten"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "--duration");
    let o = scalelab(&["sim", "tests/bad/unknown-key.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = scalelab(&["sim", "scenarios/steady-api.toml", "--seed", "x1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn event_log_is_json_lines() {
    let f = std::env::temp_dir().join(format!("scalelab-events-{}.jsonl", std::process::id()));
    sim_ran(&[
        "scenarios/canary.toml",
        "--duration",
        "2m",
        "--events",
        f.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.lines().count() > 10);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["type"].is_string() && v["t_s"].is_number());
    }
    std::fs::remove_file(&f).ok();
}

/// Scenario files the fuzzer found hanging or panicking (issue 20) validate and simulate.
#[test]
fn fuzz_corpus_validates_and_simulates() {
    let files = files_in("tests/fuzz", "toml");
    assert!(!files.is_empty());
    for f in files {
        let o = scalelab(&["validate", &rel(&f)]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), stderr(&o));
        let o = scalelab(&["sim", &rel(&f), "--seed", "1", "--format", "json", "-q"]);
        ran_to_the_end(&o, &f.display().to_string());
    }
}

/// Work a valid file asks for is estimated first and refused beyond the limits (issue 20):
/// `rate = 1e12` for 5 s, and a variant with a million min-instances.
#[test]
fn runaway_work_is_refused_with_the_estimate() {
    let dir = fresh_dir("sim", "work");
    let huge_rate = write_file(
        &dir,
        "rate.toml",
        "duration = \"5s\"\n[[workload.phases]]\nduration = \"5s\"\narrival = { process = \
         \"poisson\", rate = 1e12 }\n",
    );
    let o = scalelab(&["sim", huge_rate.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert_contains(&err, "about 5.0e9 requests (limit 1.0e9)");
    assert_contains(&err, "--allow-large-run");
    assert!(
        !err.contains("seed:"),
        "refused before a seed is drawn: {err}"
    );

    let min_scale = write_file(
        &dir,
        "min.toml",
        "duration = \"2s\"\n[[workload.phases]]\nduration = \"2s\"\narrival = { process = \
         \"constant\", rate = 1 }\n[[variants]]\nname = \"million\"\nset = { \
         \"autoscaler.min_scale\" = 1000000 }\n[[variants]]\nname = \"just-over\"\nset = { \
         \"autoscaler.min_scale\" = 100001 }\n",
    );
    let m = min_scale.to_str().unwrap();
    let o = scalelab(&["sim", m, "--seed", "1"]);
    assert_exit(&o, 2);
    assert_contains(
        &stderr(&o),
        "about 1,000,000 instances at once (limit 100,000)",
    );
    // The baseline alone is small; the flag lifts the limit for the one just over it.
    let o = scalelab(&["sim", m, "--seed", "1", "--variant", "baseline", "-q"]);
    assert_exit(&o, 0);
    let o = scalelab(&["sim", m, "--seed", "1", "--variant", "just-over", "-q"]);
    assert_exit(&o, 2);
    let o = scalelab(&[
        "sim",
        m,
        "--seed",
        "1",
        "--variant",
        "just-over",
        "-q",
        "--allow-large-run",
        "--format",
        "json",
    ]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("running beyond the work limits as asked"));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["variants"][0]["instances"]["peak"], 100_001);

    // validate prints the estimate and says sim would refuse it, without failing.
    let o = scalelab(&["validate", m]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    assert_contains(&text, "work estimate");
    assert_contains(
        &text,
        "million: about 2 requests (peak 1 req/s), 1,000,000 instances",
    );
    assert_contains(&text, "it runs only with --allow-large-run");
    let o = scalelab(&["validate", "--format", "json", m]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["work_estimate"]["within_sim_limits"], false);
    assert_eq!(v["work_estimate"]["runs"]["million"]["peak_instances"], 1e6);
}

/// The JSON keeps numbers at full precision and a bounded series; the CSV has every row
/// (issue 20: a 10⁶ s run with 1 s buckets wrote a 353 MB document).
#[test]
fn the_document_bounds_its_series_and_the_csv_keeps_it_whole() {
    let dir = fresh_dir("sim", "series");
    let f = write_file(
        &dir,
        "long.toml",
        "name = \"long\"\nduration = \"25000s\"\n[service]\nservice_time = { dist = \"fixed\", \
         value = \"100ms\" }\n[[workload.phases]]\nduration = \"25000s\"\narrival = { process = \
         \"constant\", rate = 0.01 }\n[sim]\ntimeseries_bucket = \"1s\"\n",
    );
    let out = dir.join("out");
    let o = scalelab(&[
        "sim",
        f.to_str().unwrap(),
        "--seed",
        "3",
        "-q",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let s = &v["variants"][0]["series"];
    let rows = s["rows"].as_array().expect("rows");
    assert!(rows.len() <= 10_000, "{} rows", rows.len());
    assert_eq!(s["bucket_s"], 3.0);
    assert_eq!(s["coarsened"]["from_bucket_s"], 1.0);
    let arrivals: u64 = rows.iter().map(|r| r["arrivals"].as_u64().unwrap()).sum();
    assert_eq!(arrivals, 250);
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("csv");
    assert!(csv.lines().count() > 25_000, "{}", csv.lines().count());
    // Full precision: 250 requests × 100 ms over 25 000 s is 0.001 busy instances exactly,
    // and the mean number of instances alive is not rounded to three decimals.
    let mean = v["variants"][0]["instances"]["mean"]
        .as_f64()
        .expect("mean");
    assert!(mean > 0.0 && (mean * 1000.0).fract() != 0.0, "{mean}");
}

/// `--bench` measures CPU time, not wall time summed over parallel variants (issue 20).
#[test]
fn bench_reports_cpu_time() {
    let o = scalelab(&[
        "sim",
        "scenarios/steady-api.toml",
        "--duration",
        "30s",
        "--bench",
        "-q",
    ]);
    let err = stderr(&o);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{err}");
    assert!(
        err.contains("per CPU-second") || err.contains("CPU time unavailable"),
        "{err}"
    );
    assert_contains(&err, "wall");
}
