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
        let code = o.status.code();
        assert!(
            code == Some(0) || code == Some(3),
            "{}: exit {code:?}: {}",
            f.display(),
            stderr(&o)
        );
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
                assert_eq!(code, Some(3), "{}: a breach exits 3", f.display());
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
    let dir = std::env::temp_dir().join(format!("scalelab-slo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("tight.toml");
    std::fs::write(
        &f,
        r#"
        duration = "2m"
        [service]
        service_time = { dist = "fixed", value = "300ms" }
        cold_start = { dist = "fixed", value = "2s" }
        [[workload.phases]]
        duration = "2m"
        arrival = { process = "poisson", rate = 5 }
        [slo]
        p99 = "100ms"
        "#,
    )
    .unwrap();
    let o = scalelab(&["sim", f.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).contains("FAIL"), "{}", stdout(&o));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn out_dir_gets_the_whole_set() {
    let dir = std::env::temp_dir().join(format!("scalelab-out-{}", std::process::id()));
    let o = scalelab(&[
        "sim",
        "scenarios/rare-function.toml",
        "--duration",
        "30m",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "{}",
        stderr(&o)
    );
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
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_flags_are_bad_input() {
    let o = scalelab(&["sim", "scenarios/steady-api.toml", "--variant", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no variant named \"nope\""),
        "{}",
        stderr(&o)
    );
    let o = scalelab(&["sim", "scenarios/steady-api.toml", "--duration", "ten"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--duration"), "{}", stderr(&o));
    let o = scalelab(&["sim", "tests/bad/unknown-key.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = scalelab(&["sim", "scenarios/steady-api.toml", "--seed", "x1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn event_log_is_json_lines() {
    let f = std::env::temp_dir().join(format!("scalelab-events-{}.jsonl", std::process::id()));
    let o = scalelab(&[
        "sim",
        "scenarios/canary.toml",
        "--duration",
        "2m",
        "--events",
        f.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.lines().count() > 10);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["type"].is_string() && v["t_s"].is_number());
    }
    std::fs::remove_file(&f).ok();
}
