//! The importers on the bundled samples (`scenarios/azure/`) and on broken copies of them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::synth::{
    SAMPLE_2019, SAMPLE_2021, SAMPLE_2021_FILE, Synth2019, Synth2021, write_2019, write_2021,
};
use super::*;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/azure")
}

fn days() -> Vec<PathBuf> {
    (1..=2)
        .map(|d| samples().join(format!("invocations_per_function_md.anon.d{d:02}.csv")))
        .collect()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalelab-azure-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn opts2019(out: &Path, functions: Option<usize>, seed: u64) -> Azure2019 {
    Azure2019 {
        invocations: days(),
        durations: vec![samples().join("function_durations_percentiles.anon.d01.csv")],
        memory: vec![samples().join("app_memory_percentiles.anon.d01.csv")],
        functions,
        seed,
        spread: Spread::Uniform,
        output: out.join("fleet.toml"),
    }
}

/// (function hash, minute of the run) → count, read straight from the day files.
fn source_counts(files: &[PathBuf]) -> HashMap<(String, u64), u64> {
    let mut out = HashMap::new();
    for (d, f) in files.iter().enumerate() {
        for line in std::fs::read_to_string(f).unwrap().lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 1444);
            for (m, c) in cols[4..].iter().enumerate() {
                let c: u64 = c.parse().unwrap();
                if c > 0 {
                    *out.entry((cols[2].to_string(), (d * 1440 + m) as u64))
                        .or_default() += c;
                }
            }
        }
    }
    out
}

/// The data rows of a written trace, checking the header and the time order.
fn trace_rows(path: &Path, header: &str) -> Vec<(f64, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(lines.next(), Some(header));
    let rows: Vec<(f64, String, String)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 3, "{l}");
            (c[0].parse().unwrap(), c[1].to_string(), c[2].to_string())
        })
        .collect();
    assert!(
        rows.windows(2).all(|w| w[0].0 <= w[1].0),
        "rows in time order"
    );
    rows
}

/// The `name` of every `[[services]]` entry.
fn service_names_in(toml_text: &str) -> Vec<String> {
    services(toml_text)
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn services(toml_text: &str) -> Vec<toml::Table> {
    let doc: toml::Table = toml_text.parse().expect("the scenario is TOML");
    doc["services"]
        .as_array()
        .expect("[[services]]")
        .iter()
        .map(|s| s.as_table().unwrap().clone())
        .collect()
}

#[test]
fn imported_counts_per_function_per_minute_equal_the_trace() {
    let dir = tmp("counts");
    let got = import_2019(&opts2019(&dir, Some(15), 3)).unwrap();
    assert_eq!(got.functions_sampled, 15);
    assert!(got.functions_in_trace >= 35, "{got:?}");
    assert_eq!(got.duration_s, 2.0 * 86_400.0);
    let rows = trace_rows(&got.trace, "t_s,service,count");
    assert_eq!(rows.len() as u64, got.rows);
    let mut written: HashMap<(String, u64), u64> = HashMap::new();
    for (t, name, c) in &rows {
        assert_eq!(t % 60.0, 0.0);
        let prev = written.insert((name.clone(), *t as u64 / 60), c.parse().unwrap());
        assert!(prev.is_none(), "one row per function and minute");
    }
    let text = std::fs::read_to_string(&got.scenario).unwrap();
    let names: Vec<String> = service_names_in(&text);
    assert_eq!(names.len(), 15);
    let expected: HashMap<(String, u64), u64> = source_counts(&days())
        .into_iter()
        .filter(|((f, _), _)| names.contains(f))
        .collect();
    assert_eq!(written, expected);
    assert_eq!(got.invocations, expected.values().sum::<u64>());
    // Every sampled function has invocations; the file points to the trace next to it.
    for n in &names {
        assert!(written.keys().any(|(f, _)| f == n), "{n} has rows");
    }
    assert!(text.contains("file = \"fleet.trace.csv\""), "{text}");
    assert!(text.contains("spread = \"uniform\""));
    assert!(text.contains("duration = \"172800s\""));
}

#[test]
fn without_functions_every_function_with_an_invocation_is_imported() {
    let dir = tmp("all");
    let got = import_2019(&opts2019(&dir, None, 1)).unwrap();
    assert_eq!(got.functions_sampled, got.functions_in_trace);
    let written: u64 = trace_rows(&got.trace, "t_s,service,count")
        .iter()
        .map(|r| r.2.parse::<u64>().unwrap())
        .sum();
    assert_eq!(written, source_counts(&days()).values().sum::<u64>());
}

#[test]
fn sampling_is_deterministic_and_spans_popularity() {
    let (a, b, c) = (tmp("det-a"), tmp("det-b"), tmp("det-c"));
    let x = import_2019(&opts2019(&a, Some(8), 42)).unwrap();
    let y = import_2019(&opts2019(&b, Some(8), 42)).unwrap();
    let z = import_2019(&opts2019(&c, Some(8), 43)).unwrap();
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(read(&x.trace), read(&y.trace));
    assert_eq!(
        std::fs::read_to_string(&x.scenario).unwrap(),
        std::fs::read_to_string(&y.scenario).unwrap()
    );
    assert_ne!(
        read(&x.trace),
        read(&z.trace),
        "another seed, another sample"
    );

    // Totals of every function, ranked; the sample has one function in each eighth.
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for ((f, _), c) in source_counts(&days()) {
        *totals.entry(f).or_default() += c;
    }
    let mut ranked: Vec<(u64, String)> = totals.iter().map(|(f, t)| (*t, f.clone())).collect();
    ranked.sort();
    let m = ranked.len();
    let text = std::fs::read_to_string(&x.scenario).unwrap();
    let sampled: Vec<String> = service_names_in(&text);
    let mut ranks: Vec<usize> = sampled
        .iter()
        .map(|n| ranked.iter().position(|(_, f)| f == n).unwrap())
        .collect();
    ranks.sort();
    for (i, r) in ranks.iter().enumerate() {
        assert!(
            (i * m / 8..(i + 1) * m / 8).contains(r),
            "stratum {i} of {m} functions: rank {r}"
        );
    }
    let lo = ranked[ranks[0]].0 as f64;
    let hi = ranked[ranks[7]].0 as f64;
    assert!(
        hi / lo >= 1000.0,
        "the sample spans orders of magnitude: {lo} to {hi}"
    );
}

#[test]
fn durations_become_empirical_points_and_memory_comes_per_app() {
    let dir = tmp("points");
    let got = import_2019(&opts2019(&dir, None, 1)).unwrap();
    let text = std::fs::read_to_string(&got.scenario).unwrap();
    let durations =
        std::fs::read_to_string(samples().join("function_durations_percentiles.anon.d01.csv"))
            .unwrap();
    let memory =
        std::fs::read_to_string(samples().join("app_memory_percentiles.anon.d01.csv")).unwrap();
    let (mut with_points, mut with_fit) = (0, 0);
    for s in services(&text) {
        let name = s["name"].as_str().unwrap();
        let labels = s["labels"].as_table().unwrap();
        for k in ["trigger", "app", "owner"] {
            assert!(labels.contains_key(k), "{name}: label {k}");
        }
        let svc = s["service"].as_table().unwrap();
        let row = durations
            .lines()
            .find(|l| l.split(',').nth(2) == Some(name));
        match (row, svc.get("service_time")) {
            (Some(row), Some(st)) => {
                with_points += 1;
                let st = st.as_table().unwrap();
                assert_eq!(st["dist"].as_str(), Some("empirical"));
                let pts = st["points"].as_array().unwrap();
                let cols: Vec<&str> = row.split(',').collect();
                let expected: Vec<String> = cols[7..14].iter().map(|v| format!("{v}ms")).collect();
                let got: Vec<String> = pts
                    .iter()
                    .map(|p| p.as_array().unwrap()[1].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(got, expected, "{name}");
                let ps: Vec<f64> = pts
                    .iter()
                    .map(|p| p.as_array().unwrap()[0].as_float().unwrap())
                    .collect();
                assert_eq!(ps, [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0]);
            }
            (None, None) => with_fit += 1,
            (row, st) => panic!("{name}: row {row:?}, service_time {st:?}"),
        }
        let app = labels["app"].as_str().unwrap();
        let gib = svc["memory_gib"].as_float().unwrap();
        if let Some(row) = memory.lines().find(|l| l.split(',').nth(1) == Some(app)) {
            let mb: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
            assert!(
                (gib * 1024.0 - mb).abs() < 0.1,
                "{name}: {gib} GiB vs {mb} MB"
            );
        } else {
            assert!(gib > 0.0 && gib <= 1.5, "{name}: {gib}");
        }
    }
    assert!(with_points > 20 && with_fit > 0, "{with_points} {with_fit}");
    assert!(
        text.contains("median = \"684ms\", p99 = \"165.7s\""),
        "the fit is the default"
    );
    assert!(got.warnings.iter().any(|w| w.contains("log-normal fit")));
}

#[test]
fn the_2021_trace_comes_out_in_start_order_with_its_durations() {
    let dir = tmp("y2021");
    let src = samples().join("azure-2021-sample.csv");
    let got = import_2021(&Azure2021 {
        file: src.clone(),
        functions: Some(12),
        seed: 5,
        output: dir.join("f.toml"),
    })
    .unwrap();
    assert_eq!(got.trace, dir.join("f.trace.csv"));
    let rows = trace_rows(&got.trace, "t_s,service,duration_s");
    assert_eq!(rows.len() as u64, got.invocations);
    let text = std::fs::read_to_string(&got.scenario).unwrap();
    let names: Vec<String> = service_names_in(&text);
    assert_eq!(names.len(), 12);
    assert!(text.contains("durations = true"));
    // Every source row of a sampled function, as (start, function, duration) with start =
    // end − duration, shifted so that none is negative.
    let source = std::fs::read_to_string(&src).unwrap();
    let mut expected: Vec<(f64, String, f64)> = source
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let (end, d): (f64, f64) = (c[2].parse().unwrap(), c[3].parse().unwrap());
            (end - d, c[1].to_string(), d)
        })
        .filter(|r| names.contains(&r.1))
        .collect();
    let origin = expected.iter().map(|r| r.0).fold(0.0, f64::min);
    for r in &mut expected {
        r.0 -= origin;
    }
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(rows.len(), expected.len());
    // Same multiset of rows (equal starts may come in either order).
    let key = |t: f64, n: &str, d: f64| (format!("{t:.6}"), n.to_string(), format!("{d:.6}"));
    let mut a: Vec<_> = rows
        .iter()
        .map(|(t, n, d)| key(*t, n, d.parse().unwrap()))
        .collect();
    let mut b: Vec<_> = expected.iter().map(|(t, n, d)| key(*t, n, *d)).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(got.max_buffered > 0 && got.max_buffered < rows.len());
    // Deterministic.
    let again = import_2021(&Azure2021 {
        file: src,
        functions: Some(12),
        seed: 5,
        output: dir.join("g.toml"),
    })
    .unwrap();
    assert_eq!(
        std::fs::read(&got.trace).unwrap(),
        std::fs::read(&again.trace).unwrap()
    );
    // All functions: one invocation starts 20 s before the trace's 0, so every time shifts.
    let all = import_2021(&Azure2021 {
        file: samples().join("azure-2021-sample.csv"),
        functions: None,
        seed: 5,
        output: dir.join("all.toml"),
    })
    .unwrap();
    assert_eq!(all.functions_sampled, 30);
    assert!(
        all.warnings.iter().any(|w| w.contains("20 s before")),
        "{:?}",
        all.warnings
    );
    let rows = trace_rows(&all.trace, "t_s,service,duration_s");
    assert_eq!(rows[0].0, 0.0);
    assert_eq!(rows[0].2, "25");
    assert_eq!(rows.len() as u64, all.invocations);
    let last_end: f64 = source
        .lines()
        .last()
        .and_then(|l| l.split(',').nth(2))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(all.duration_s, (last_end + 20.0).ceil());
}

/// `text` with field `col` of line `line` (both 0-based) replaced by `value`.
fn with_field(text: &str, line: usize, col: usize, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cols: Vec<&str> = lines[line].split(',').collect();
    cols[col] = value;
    lines[line] = cols.join(",");
    lines.join("\n")
}

fn err_text(e: crate::LabError) -> String {
    assert!(e.is_bad_input(), "{e}");
    e.to_string()
}

#[test]
fn bad_2019_input_names_the_file_line_and_column() {
    let dir = tmp("bad2019");
    let files = write_2019(
        &dir,
        &Synth2019 {
            functions: 5,
            days: 1,
            max_daily: 100.0,
            seed: 1,
        },
    )
    .unwrap();
    let inv = &files[0];
    let good = std::fs::read_to_string(inv).unwrap();
    let run = |text: &str| {
        let f = dir.join("broken.csv");
        std::fs::write(&f, text).unwrap();
        let mut o = opts2019(&dir, None, 1);
        o.invocations = vec![f];
        o.durations.clear();
        o.memory.clear();
        err_text(import_2019(&o).unwrap_err())
    };
    // A count that is not a number, on the third line, minute 10 (column 14).
    let e = run(&with_field(&good, 2, 13, "x7"));
    assert!(e.contains("broken.csv:3:"), "{e}");
    assert!(
        e.contains("column 14 (minute 10)") && e.contains("\"x7\""),
        "{e}"
    );
    // A short row.
    let mut lines: Vec<String> = good.lines().map(String::from).collect();
    lines[1] = lines[1].rsplit_once(',').unwrap().0.to_string();
    let e = run(&lines.join("\n"));
    assert!(
        e.contains("broken.csv:2:") && e.contains("minute 1440 is missing"),
        "{e}"
    );
    // A wrong header.
    let e = run(&good.replacen("HashFunction", "Function", 1));
    assert!(e.contains("broken.csv:1:") && e.contains("column 3"), "{e}");
    let e = run("");
    assert!(e.contains("empty file"), "{e}");
    // A durations file without a percentile column, and a decreasing percentile.
    let dur = dir.join("function_durations_percentiles.anon.d01.csv");
    let text = std::fs::read_to_string(&dur).unwrap();
    let mut o = opts2019(&dir, None, 1);
    o.invocations = files.clone();
    o.durations = vec![dir.join("d.csv")];
    std::fs::write(
        &o.durations[0],
        text.replace("percentile_Average_99", "p99"),
    )
    .unwrap();
    let e = err_text(import_2019(&o).unwrap_err());
    assert!(
        e.contains("d.csv:1:") && e.contains("`percentile_Average_99`"),
        "{e}"
    );
    std::fs::write(&o.durations[0], with_field(&text, 1, 12, "0")).unwrap();
    let e = err_text(import_2019(&o).unwrap_err());
    assert!(e.contains("d.csv:2:") && e.contains("column 13"), "{e}");
    // A missing file.
    o.durations = vec![dir.join("nope.csv")];
    let e = err_text(import_2019(&o).unwrap_err());
    assert!(e.contains("nope.csv") && e.contains("no such file"), "{e}");
}

#[test]
fn bad_2021_input_names_the_file_line_and_column() {
    let dir = tmp("bad2021");
    let f = dir.join("t.csv");
    write_2021(
        &f,
        &Synth2021 {
            functions: 3,
            seconds: 60.0,
            invocations: 50.0,
            seed: 1,
        },
    )
    .unwrap();
    let good = std::fs::read_to_string(&f).unwrap();
    let run = |text: &str| {
        let b = dir.join("broken.csv");
        std::fs::write(&b, text).unwrap();
        err_text(
            import_2021(&Azure2021 {
                file: b,
                functions: None,
                seed: 1,
                output: dir.join("o.toml"),
            })
            .unwrap_err(),
        )
    };
    let e = run(&good.replacen("duration", "dur", 1));
    assert!(
        e.contains("broken.csv:1:") && e.contains("`duration`"),
        "{e}"
    );
    let e = run(&with_field(&good, 3, 3, "-1"));
    assert!(
        e.contains("broken.csv:4:") && e.contains("column 4 (`duration`)"),
        "{e}"
    );
    // Out of end-time order.
    let mut l: Vec<String> = good.lines().map(String::from).collect();
    let last = l.len() - 1;
    l.swap(1, last);
    let e = run(&l.join("\n"));
    assert!(
        e.contains("broken.csv:3:") && e.contains("end-time order"),
        "{e}"
    );
}

#[test]
fn the_bundled_samples_are_what_the_generator_writes() {
    let dir = tmp("regen");
    write_2019(&dir, &SAMPLE_2019).unwrap();
    write_2021(&dir.join(SAMPLE_2021_FILE), &SAMPLE_2021).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(samples().join(name)).unwrap(),
            "{name:?}: regenerate with `cargo run -p scalelab-lab --example azure_sample`"
        );
    }
}
