//! `scalelab tune`, `export` and `import`: the search finds what exhaustive simulation finds,
//! shards merge exactly, manifests use Knative's names and formats and round-trip.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

fn temp_dir(name: &str) -> Scratch {
    fresh_dir("tune", name)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("readable")).expect("JSON")
}

/// Bursts every two minutes with slow cold starts. The cheapest setting (one warm instance,
/// a second one started for each burst) delays too many requests by cold starts, so the SLO
/// decides the answer.
const BASE: &str = include_str!("fixtures/tune-base.toml");

const MIN_SCALE: [i64; 4] = [0, 1, 2, 3];
const TARGET: [i64; 2] = [10, 20];

fn tune_table(seeds: u32) -> String {
    format!(
        "[tune]\nmodel = \"cloud-run-instance\"\nseeds = {seeds}\n[tune.params]\n\
         \"autoscaler.min_scale\" = {{ min = 0, max = 3, step = 1 }}\n\"autoscaler.target\" = [10, 20]\n"
    )
}

#[test]
fn tune_finds_the_optimum_of_an_exhaustive_search() {
    let dir = temp_dir("exhaustive");
    let scen = write_file(&dir, "small.toml", format!("{BASE}{}", tune_table(1)));
    // The exhaustive answer, computed without `tune`: every combination as a variant of one
    // `scalelab sim` run with the same seed.
    let mut variants = String::new();
    for m in MIN_SCALE {
        for t in TARGET {
            variants += &format!(
                "[[variants]]\nname = \"m{m}-t{t}\"\nset = {{ \"autoscaler.min_scale\" = {m}, \"autoscaler.target\" = {t} }}\n"
            );
        }
    }
    let all = write_file(&dir, "all.toml", format!("{BASE}{variants}"));
    let o = scalelab(&["sim", &s(&all), "--format", "json"]);
    assert_completed(&o);
    let sim: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let runs: Vec<&Value> = sim["variants"].as_array().expect("variants")[1..]
        .iter()
        .collect();
    let cost = |v: &Value| {
        v["cost"]["cloud-run-instance"]["total_usd"]
            .as_f64()
            .expect("cost")
    };
    let passing: Vec<&&Value> = runs.iter().filter(|v| v["slo"]["passed"] == true).collect();
    let best = passing
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .expect("some combination meets the SLO");
    let cheapest = runs
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .expect("runs");
    assert_eq!(
        cheapest["slo"]["passed"], false,
        "the SLO must rule out the cheapest setting"
    );
    assert!(
        passing.iter().filter(|v| cost(v) == cost(best)).count() == 1,
        "a unique optimum"
    );

    let out = dir.join("out");
    let o = scalelab(&[
        "tune",
        &s(&scen),
        "--out",
        &s(&out),
        "--format",
        "json",
        "--threads",
        "2",
    ]);
    assert_exit(&o, 0);
    let doc: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(
        doc,
        read_json(&out.join("tune.json")),
        "stdout and tune.json agree"
    );
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 8);
    // Every candidate's figures are those of the plain simulation (seed 0 is the master seed).
    for r in rows {
        let name = format!(
            "m{}-t{}",
            r["settings"]["autoscaler.min_scale"], r["settings"]["autoscaler.target"]
        );
        let v = runs
            .iter()
            .find(|v| v["name"] == name.as_str())
            .expect("variant");
        assert_eq!(
            r["summary"]["cost_usd"]["mean"].as_f64(),
            Some(cost(v)),
            "{name}"
        );
        assert_eq!(r["summary"]["slo"]["passed"], v["slo"]["passed"], "{name}");
    }
    let winner = doc["outcome"]["winner"].as_u64().expect("a winner");
    let w = rows.iter().find(|r| r["id"] == winner).expect("winner row");
    let want = best["name"].as_str().expect("name");
    assert_eq!(
        format!(
            "m{}-t{}",
            w["settings"]["autoscaler.min_scale"], w["settings"]["autoscaler.target"]
        ),
        want
    );
    for f in ["tune.csv", "pareto.svg", "pareto.png", "tuned.toml"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let csv = std::fs::read_to_string(out.join("tune.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 9);
    assert!(
        std::fs::read_to_string(out.join("pareto.svg"))
            .expect("svg")
            .contains("<svg")
    );
    assert!(
        std::fs::read(out.join("pareto.png"))
            .expect("png")
            .starts_with(b"\x89PNG")
    );

    // Compare: the tuned file simulates the winner next to the baseline with the same seed.
    let o = scalelab(&["sim", &s(&out.join("tuned.toml")), "--format", "json"]);
    assert_completed(&o);
    let cmp: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let tuned = &cmp["variants"][1];
    assert_eq!(tuned["name"], "tuned");
    assert_eq!(cost(tuned), cost(best));
    assert_eq!(tuned["slo"]["passed"], true);

    // Halving spends the full horizon on the better half only, and agrees here.
    let o = scalelab(&["tune", &s(&scen), "--search", "halving", "--format", "json"]);
    assert_exit(&o, 0);
    let h: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let rows = h["rows"].as_array().expect("rows");
    let full = rows.iter().filter(|r| r["full"] == true).count();
    // 8 candidates; horizons 37s, 1m14s, 2m28s, 5m; keep half each time: 8 → 4 → 2 → 1.
    assert_eq!(full, 1, "{}", stdout(&o));
    assert_eq!(
        rows.iter().map(|r| r["rung"].as_u64().unwrap()).max(),
        Some(3)
    );
    assert_eq!(h["outcome"]["winner"].as_u64(), Some(winner));
}

#[test]
fn sharded_runs_merge_to_exactly_the_unsharded_answer() {
    let dir = temp_dir("shards");
    let scen = write_file(&dir, "small.toml", format!("{BASE}{}", tune_table(2)));
    let args = |extra: &[&str]| {
        let mut v = vec![
            "tune".to_string(),
            s(&scen),
            "--search".into(),
            "random".into(),
            "--samples".into(),
            "6".into(),
        ];
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        scalelab(&a)
    };
    let whole = dir.join("whole");
    let o = run(&["--out", &s(&whole)]);
    assert_completed(&o);
    let whole_text = stdout(&o);
    let mut shards = Vec::new();
    for i in 0..3 {
        let d = dir.join(format!("shard-{i}"));
        let o = run(&[
            "--shard",
            &format!("{i}/3"),
            "--out",
            &s(&d),
            "--threads",
            "1",
        ]);
        assert_exit(&o, 0);
        shards.push(d);
    }
    let merged = dir.join("merged");
    // Order of the inputs does not matter.
    let o = scalelab(&[
        "tune",
        "--merge",
        &s(&shards[2]),
        &s(&shards[0].join("tune.json")),
        &s(&shards[1]),
        "--out",
        &s(&merged),
    ]);
    assert_completed(&o);
    assert_eq!(stdout(&o), whole_text, "the same answer, printed the same");
    for f in ["tune.csv", "tune.json", "tuned.toml"] {
        assert_eq!(
            std::fs::read_to_string(merged.join(f)).ok(),
            std::fs::read_to_string(whole.join(f)).ok(),
            "{f}"
        );
    }
    let doc = read_json(&whole.join("tune.json"));
    assert_eq!(doc["rows"].as_array().map(Vec::len), Some(6));

    let o = scalelab(&["tune", "--merge", &s(&shards[0]), &s(&shards[2])]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "missing shard(s): 1/3");
}

#[test]
fn tune_input_errors_exit_2_and_name_the_key() {
    let dir = temp_dir("errors");
    let no_tune = write_file(&dir, "plain.toml", BASE);
    let o = scalelab(&["tune", &s(&no_tune)]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "no [tune] table");
    let bad = write_file(
        &dir,
        "bad.toml",
        format!("{BASE}[tune.params]\n\"autoscaler.min_scale\" = {{ min = 0, max = 3 }}\n"),
    );
    let o = scalelab(&["tune", &s(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let line = BASE.lines().count() + 2;
    assert_contains(&e, &format!("bad.toml:{line}:"));
    assert!(
        e.contains("key `tune.params.\"autoscaler.min_scale\"`") && e.contains("`step` or `n`"),
        "{e}"
    );
    let good = write_file(&dir, "good.toml", format!("{BASE}{}", tune_table(1)));
    for (flags, msg) in [
        (vec!["--shard", "3/3"], "--shard"),
        (
            vec!["--shard", "0/2", "--search", "halving"],
            "cannot be split",
        ),
        (vec!["--seeds", "0"], "--seeds"),
    ] {
        let mut a = vec!["tune", good.to_str().unwrap()];
        a.extend(flags);
        let o = scalelab(&a);
        assert_eq!(o.status.code(), Some(2), "{a:?}");
        assert!(stderr(&o).contains(msg), "{a:?}: {}", stderr(&o));
    }
}

#[test]
fn ctrl_c_writes_what_finished_and_exits_1() {
    // A long sweep on every core: keep live (wall-clock) tests out of its way.
    let _shared = crate::support::shared();
    let dir = temp_dir("interrupt");
    let scen = write_file(
        &dir,
        "long.toml",
        format!(
            "{BASE}[tune]\nseeds = 3\n[tune.params]\n\"autoscaler.target\" = {{ min = 1, max = 400, step = 1 }}\n"
        ),
    );
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args([
            "tune",
            &s(&scen),
            "--threads",
            "1",
            "--out",
            &s(&out),
            "--format",
            "json",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // The first stderr line comes once the handler is installed.
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("a line");
    assert!(first.starts_with("tune: 400 candidate(s)"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let o = child.wait_with_output().expect("exits");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).expect("stderr");
    assert_eq!(o.status.code(), Some(1), "{rest}");
    assert_contains(&rest, "interrupted");
    let doc = read_json(&out.join("tune.json"));
    assert_eq!(doc["complete"], false);
    let rows = doc["rows"].as_array().expect("rows");
    assert!(rows.len() < 400, "stopped early: {} rows", rows.len());
    assert!(
        rows.iter()
            .all(|r| r["samples"].as_array().map(Vec::len) == Some(3)),
        "only whole candidates"
    );
}

/// Every KPA knob away from Knative's default, plus the service settings export carries.
const KNOBS: &str = include_str!("fixtures/tune-knobs.toml");

#[test]
fn exported_manifest_uses_knative_annotation_names_and_formats() {
    let dir = temp_dir("export");
    let scen = write_file(&dir, "knobs.toml", KNOBS);
    let o = scalelab(&["export", "knative", &s(&scen), "--image", "gcr.io/p/app:1"]);
    assert_exit(&o, 0);
    let y: serde_norway::Value = serde_norway::from_str(&stdout(&o)).expect("valid YAML");
    assert_eq!(y["apiVersion"].as_str(), Some("serving.knative.dev/v1"));
    assert_eq!(y["kind"].as_str(), Some("Service"));
    assert_eq!(y["metadata"]["name"].as_str(), Some("knobs-service"));
    let anns = y["spec"]["template"]["metadata"]["annotations"]
        .as_mapping()
        .expect("annotations");
    let ann: BTreeMap<&str, &str> = anns
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("key"),
                v.as_str().expect("every value is a string"),
            )
        })
        .collect();
    let a = |k: &str| {
        ann.get(format!("autoscaling.knative.dev/{k}").as_str())
            .copied()
    };
    assert_eq!(a("class"), Some("kpa.autoscaling.knative.dev"));
    assert_eq!(a("metric"), Some("rps"));
    assert_eq!(a("target"), Some("150"));
    assert_eq!(
        a("target-utilization-percentage"),
        Some("80"),
        "a percent, not a fraction"
    );
    assert_eq!(a("window"), Some("120s"));
    assert_eq!(a("panic-window-percentage"), Some("20"));
    assert_eq!(a("panic-threshold-percentage"), Some("300"));
    assert_eq!(a("target-burst-capacity"), Some("-1"));
    assert_eq!(a("min-scale"), Some("2"));
    assert_eq!(a("max-scale"), Some("30"));
    assert_eq!(a("initial-scale"), Some("3"));
    assert_eq!(a("activation-scale"), Some("4"));
    assert_eq!(a("scale-down-delay"), Some("30s"));
    assert_eq!(a("scale-to-zero-pod-retention-period"), Some("90s"));
    assert_eq!(
        a("metric-aggregation-algorithm"),
        Some("weighted-exponential")
    );
    assert_eq!(
        ann.get("serving.knative.dev/progress-deadline").copied(),
        Some("300s")
    );
    assert_eq!(
        ann.get("run.googleapis.com/cpu-throttling").copied(),
        Some("false")
    );
    // No camelCase legacy names, and nothing else under Knative's prefix.
    let known = [
        "class",
        "metric",
        "target",
        "target-utilization-percentage",
        "window",
        "panic-window-percentage",
        "panic-threshold-percentage",
        "target-burst-capacity",
        "min-scale",
        "max-scale",
        "initial-scale",
        "activation-scale",
        "scale-down-delay",
        "scale-to-zero-pod-retention-period",
        "metric-aggregation-algorithm",
    ];
    for k in ann
        .keys()
        .filter_map(|k| k.strip_prefix("autoscaling.knative.dev/"))
    {
        assert!(known.contains(&k), "unexpected annotation {k}");
    }
    let spec = &y["spec"]["template"]["spec"];
    assert_eq!(spec["containerConcurrency"].as_u64(), Some(40));
    assert_eq!(spec["timeoutSeconds"].as_u64(), Some(120));
    let c = &spec["containers"][0];
    assert_eq!(c["image"].as_str(), Some("gcr.io/p/app:1"));
    assert_eq!(c["resources"]["limits"]["cpu"].as_str(), Some("2"));
    assert_eq!(c["resources"]["limits"]["memory"].as_str(), Some("1536Mi"));

    let o = scalelab(&["export", "gcloud", &s(&scen)]);
    assert_exit(&o, 0);
    let g = stdout(&o);
    assert_contains(&g, "gcloud run deploy knobs-service");
    for flag in [
        "--concurrency=40",
        "--min-instances=2",
        "--max-instances=30",
        "--cpu=2",
        "--memory=1536Mi",
        "--timeout=120",
        "--no-cpu-throttling",
        "--cpu-boost",
    ] {
        assert!(
            g.lines().any(|l| l.trim().trim_end_matches(" \\") == flag),
            "{flag} in {g}"
        );
    }
    let req = write_file(
        &dir,
        "req.toml",
        KNOBS.replace("[\"cloud-run-instance\"]", "[\"cloud-run-request\"]"),
    );
    let g = stdout(&scalelab(&["export", "gcloud", &s(&req)]));
    assert!(
        g.contains("--cpu-throttling") && !g.contains("--no-cpu-throttling"),
        "{g}"
    );
}

#[test]
fn import_of_an_export_keeps_every_autoscaling_setting() {
    let dir = temp_dir("roundtrip");
    let scen = write_file(&dir, "knobs.toml", KNOBS);
    let manifest = dir.join("service.yaml");
    let o = scalelab(&["export", "knative", &s(&scen), "-o", &s(&manifest)]);
    assert_exit(&o, 0);
    let imported = dir.join("imported.toml");
    let o = scalelab(&["import", "knative", &s(&manifest), "-o", &s(&imported)]);
    assert_exit(&o, 0);
    let resolved = |p: &Path| {
        let o = scalelab(&["validate", &s(p), "--format", "json"]);
        assert_exit(&o, 0);
        serde_json::from_str::<Value>(&stdout(&o)).expect("JSON")
    };
    let (a, b) = (resolved(&scen), resolved(&imported));
    let rev = |v: &Value| v["revisions"][0].clone();
    assert_eq!(
        rev(&a)["autoscaler"],
        rev(&b)["autoscaler"],
        "every autoscaler setting"
    );
    for k in [
        "container_concurrency",
        "vcpu",
        "memory_gib",
        "timeout",
        "startup_cpu_boost",
    ] {
        assert_eq!(rev(&a)["service"][k], rev(&b)["service"][k], "service.{k}");
    }
    assert_eq!(
        a["billing"]["models"][0], b["billing"]["models"][0],
        "billing mode"
    );
    assert_eq!(b["name"], "knobs-service");

    // A tuned winner exports too: its settings replace the file's.
    let tuned_dir = temp_dir("from-tune");
    let small = write_file(&tuned_dir, "small.toml", format!("{BASE}{}", tune_table(1)));
    let out = tuned_dir.join("out");
    let o = scalelab(&["tune", &s(&small), "--out", &s(&out), "-q"]);
    assert_exit(&o, 0);
    let doc = read_json(&out.join("tune.json"));
    let id = doc["outcome"]["winner"].as_u64().expect("winner");
    let w = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    let o = scalelab(&["export", "knative", &s(&small), "--from-tune", &s(&out)]);
    assert_exit(&o, 0);
    let y: serde_norway::Value = serde_norway::from_str(&stdout(&o)).expect("YAML");
    let anns = &y["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        anns["autoscaling.knative.dev/min-scale"].as_str(),
        Some(w["settings"]["autoscaler.min_scale"].to_string().as_str())
    );
    assert_eq!(
        anns["autoscaling.knative.dev/target"].as_str(),
        Some(w["settings"]["autoscaler.target"].to_string().as_str())
    );
}

#[test]
fn the_bundled_tune_scenario_finds_a_winner() {
    let out = temp_dir("bundled");
    let o = scalelab(&["tune", "scenarios/tune-api.toml", "--out", &s(&out)]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    assert_contains(&text, "best: candidate");
    assert_contains(&text, "Pareto front");
    assert_contains(&text, "<- best");
}

#[test]
fn cpu_contention_makes_the_concurrency_a_trade_off() {
    // With requests sharing their instance's vCPU, neither extreme of container_concurrency
    // wins: 1 costs twice the instances, 64 breaks the p99 SLO.
    let out = temp_dir("cpu-contention");
    let o = scalelab(&["tune", "scenarios/cpu-contention.toml", "--out", &s(&out)]);
    assert_exit(&o, 0);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tune.json")).expect("tune.json"))
            .expect("json");
    let best = winner_cc(&j);
    assert!(
        best > 1 && best < 64,
        "strictly between the extremes: {best}"
    );
    // Without CPU work the same search is pushed to one instance at a high concurrency.
    let plain = std::fs::read_to_string("scenarios/cpu-contention.toml")
        .expect("scenario")
        .replace("cpu_share = 0.8", "cpu_share = 0");
    let file = write_file(&out, "plain.toml", plain);
    let out2 = out.join("plain");
    let o = scalelab(&["tune", &s(&file), "--out", &s(&out2)]);
    assert_exit(&o, 0);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("tune.json")).expect("tune.json"))
            .expect("json");
    let plain_best = winner_cc(&j);
    assert!(plain_best > best, "{plain_best} vs {best}");
}

/// The winning container_concurrency of a tune.json.
fn winner_cc(doc: &serde_json::Value) -> u64 {
    let winner = doc["outcome"]["winner"].as_u64().expect("a winner");
    let rows = doc["rows"].as_array().expect("rows");
    let w = rows.iter().find(|r| r["id"] == winner).expect("winner row");
    w["settings"]["service.container_concurrency"]
        .as_u64()
        .expect("the setting")
}

/// A search whose candidates ask for more than the simulator starts unasked is refused up front
/// (exit 2, the estimate named), and runs with `--allow-large-run`.
#[test]
fn a_search_beyond_the_work_limits_is_refused() {
    let dir = temp_dir("large");
    let text = format!(
        "{BASE}[tune]\nmodel = \"cloud-run-instance\"\nseeds = 1\n[tune.params]\n\
         \"autoscaler.min_scale\" = [0, 1000000]\n"
    );
    let f = write_file(&dir, "large.toml", &text);
    let o = scalelab(&["tune", &s(&f), "-q"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert_contains(&err, "instances at once");
    assert_contains(&err, "--allow-large-run");
    // The estimate alone decides: a search within the limits starts.
    let small = write_file(&dir, "small.toml", format!("{BASE}{}", tune_table(1)));
    let o = scalelab(&["tune", &s(&small), "-q", "--threads", "1"]);
    assert_completed(&o);
}
