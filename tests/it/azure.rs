//! `scalelab import azure-2019` and `import azure-2021` on the bundled samples: both files
//! written, bad input is exit 2 naming the file and line.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

fn temp_dir(name: &str) -> Scratch {
    fresh_dir("azure-cli", name)
}

const D1: &str = "scenarios/azure/invocations_per_function_md.anon.d01.csv";
const D2: &str = "scenarios/azure/invocations_per_function_md.anon.d02.csv";
const DUR: &str = "scenarios/azure/function_durations_percentiles.anon.d01.csv";
const MEM: &str = "scenarios/azure/app_memory_percentiles.anon.d01.csv";

/// `scalelab import KIND ARGS… -o OUT`.
fn import_to(kind: &str, args: &[&str], out: impl AsRef<Path>) -> Output {
    let mut all = vec!["import", kind];
    all.extend_from_slice(args);
    all.extend(["-o", out.as_ref().to_str().unwrap()]);
    scalelab(&all)
}

/// `import azure-2019` of both bundled days with their durations and memory files, then
/// `extra`, writing `out`; asserts that it succeeds.
fn import_2019(out: impl AsRef<Path>, extra: &[&str]) -> Output {
    let mut args = vec![
        "--invocations",
        D1,
        "--invocations",
        D2,
        "--durations",
        DUR,
        "--memory",
        MEM,
    ];
    args.extend_from_slice(extra);
    let o = import_to("azure-2019", &args, out);
    assert_exit(&o, 0);
    o
}

#[test]
fn import_azure_2019_writes_the_fleet_and_its_trace() {
    let dir = temp_dir("2019");
    let out = dir.join("fleet.toml");
    let flags = ["--functions", "10", "--seed", "7", "--spread", "poisson"];
    let o = import_2019(&out, &flags);
    assert_contains(&stderr(&o), "10 of");
    let toml_text = std::fs::read_to_string(&out).unwrap();
    let trace = std::fs::read_to_string(dir.join("fleet.trace.csv")).unwrap();
    assert_eq!(toml_text.matches("[[services]]").count(), 10);
    assert!(toml_text.contains("spread = \"poisson\""));
    assert!(toml_text.contains("seed = 7"));
    assert!(trace.lines().any(|l| l == "t_s,service,count"));
    let rows = trace.lines().filter(|l| !l.starts_with('#')).count() - 1;
    assert!(rows > 100, "{rows} rows");
    // Byte-identical again.
    import_2019(dir.join("again.toml"), &flags);
    assert_eq!(
        trace,
        std::fs::read_to_string(dir.join("again.trace.csv")).unwrap()
    );
}

#[test]
fn import_azure_2021_writes_the_fleet_and_its_trace() {
    let dir = temp_dir("2021");
    let out = dir.join("f.toml");
    let sample = "scenarios/azure/azure-2021-sample.csv";
    let o = import_to("azure-2021", &[sample, "--functions", "5"], &out);
    assert_exit(&o, 0);
    let toml_text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(toml_text.matches("[[services]]").count(), 5);
    assert!(toml_text.contains("durations = true"));
    let trace = std::fs::read_to_string(dir.join("f.trace.csv")).unwrap();
    assert!(trace.lines().any(|l| l == "t_s,service,duration_s"));
}

#[test]
fn bad_trace_input_is_exit_2_naming_file_and_line() {
    let dir = temp_dir("bad");
    let text = std::fs::read_to_string(root().join(D1)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cols: Vec<&str> = lines[3].split(',').collect();
    cols[10] = "zero";
    lines[3] = cols.join(",");
    let bad = write_file(&dir, "bad.csv", lines.join("\n"));
    let out = dir.join("x.toml");
    let o = import_to(
        "azure-2019",
        &["--invocations", bad.to_str().unwrap()],
        &out,
    );
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "bad.csv:4: column 11 (minute 7)");
    assert_contains(&stderr(&o), "\"zero\"");
    assert!(!out.exists(), "no scenario for a failed import");

    let o = import_to("azure-2021", &[D1], &out);
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "d01.csv:1: missing column `app`");
    let o = import_to("azure-2019", &["--invocations", "no/such.csv"], "x.toml");
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "no/such.csv: no such file");
    let o = scalelab(&["import", "azure-2019", "--invocations", D1]);
    assert_eq!(o.status.code(), Some(2), "-o is required");
    let o = import_to(
        "azure-2019",
        &["--invocations", D1, "--functions", "0"],
        &out,
    );
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "--functions");
}

/// (minute → count) per service, from a counts trace.
fn trace_counts(path: &Path) -> std::collections::BTreeMap<String, Vec<u64>> {
    let mut out: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let text = std::fs::read_to_string(path).unwrap();
    for l in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        let m = c[0].parse::<usize>().unwrap() / 60;
        let v = out.entry(c[1].to_string()).or_insert_with(|| vec![0; 2880]);
        v[m] += c[2].parse::<u64>().unwrap();
    }
    out
}

fn sim_json(scenario: &Path) -> serde_json::Value {
    let o = scalelab(&["sim", scenario.to_str().unwrap(), "--format", "json"]);
    assert_completed(&o);
    serde_json::from_slice(&o.stdout).expect("result JSON")
}

fn import(dir: &Path, name: &str, functions: &str, seed: &str) -> PathBuf {
    let out = dir.join(format!("{name}.toml"));
    import_2019(&out, &["--functions", functions, "--seed", seed]);
    out
}

/// The check: simulated arrivals per function per minute equal the trace's counts. A
/// fleet of one function gives that function's series; a fleet of several gives each one's
/// total and the fleet's series.
#[test]
fn simulated_arrivals_per_function_per_minute_equal_the_trace() {
    let dir = temp_dir("sim");
    let mut seen = std::collections::BTreeSet::new();
    for seed in ["1", "2", "5"] {
        let f = import(&dir, &format!("one-{seed}"), "1", seed);
        let counts = trace_counts(&dir.join(format!("one-{seed}.trace.csv")));
        assert_eq!(counts.len(), 1);
        let (name, want) = counts.iter().next().unwrap();
        seen.insert(name.clone());
        let r = sim_json(&f);
        let v = &r["variants"][0];
        assert_eq!(
            v["series"]["bucket_s"].as_f64(),
            Some(60.0),
            "one row per minute"
        );
        let rows = v["series"]["rows"].as_array().unwrap();
        let got: Vec<u64> = (0..2880)
            .map(|m| rows.get(m).map_or(0, |r| r["arrivals"].as_u64().unwrap()))
            .collect();
        assert_eq!(&got, want, "{name}: arrivals per minute");
    }
    assert!(seen.len() >= 2, "different functions: {seen:?}");

    let f = import(&dir, "six", "6", "9");
    let counts = trace_counts(&dir.join("six.trace.csv"));
    let r = sim_json(&f);
    let v = &r["variants"][0];
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 6);
    for s in services {
        let name = s["name"].as_str().unwrap();
        let want: u64 = counts[name].iter().sum();
        assert_eq!(s["requests"]["arrived"].as_u64(), Some(want), "{name}");
        assert!(s["labels"]["trigger"].is_string(), "{s}");
    }
    let rows = v["series"]["rows"].as_array().unwrap();
    for m in 0..2880 {
        let want: u64 = counts.values().map(|c| c[m]).sum();
        let got = rows.get(m).map_or(0, |r| r["arrivals"].as_u64().unwrap());
        assert_eq!(got, want, "minute {m}");
    }
}

/// `scenarios/azure-2019-sample.toml` and its trace are what the importer writes from the
/// bundled sample files (rewrite them with the command in the scenario's header).
#[test]
fn the_bundled_imported_fleet_is_what_import_writes() {
    let dir = temp_dir("bundled");
    let bundled = root().join("scenarios/azure-2019-sample.toml");
    let text = std::fs::read_to_string(&bundled).expect("scenarios/azure-2019-sample.toml");
    let out = dir.join("azure-2019-sample.toml");
    import_2019(&out, &["--functions", "8", "--seed", "1"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    assert_eq!(
        std::fs::read(dir.join("azure-2019-sample.trace.csv")).unwrap(),
        std::fs::read(root().join("scenarios/azure-2019-sample.trace.csv")).unwrap()
    );
}
