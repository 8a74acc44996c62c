//! `scalelab validate`: every bundled scenario is valid; every file in the bad corpus fails
//! with exit code 2 and the message recorded beside it, never a panic.

use crate::support::*;

#[test]
fn every_bundled_scenario_validates() {
    let files = bundled_scenarios();
    assert!(files.len() >= 5, "at least five bundled scenarios");
    for f in files {
        let o = scalelab(&["validate", &rel(&f)]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        let o = scalelab(&["validate", "--format", "json", &rel(&f)]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
        assert!(v["revisions"].is_array());
    }
}

/// Each `tests/bad/*.toml` starts with `# expect: <text>` lines; every one must appear in the
/// error, which must name the file and come with exit code 2.
#[test]
fn bad_scenarios_fail_cleanly() {
    let files = files_in("tests/bad", "toml");
    assert!(
        files.len() >= 12,
        "the bad corpus has {} files",
        files.len()
    );
    for f in files {
        let bytes = std::fs::read(&f).expect("readable");
        let text = String::from_utf8_lossy(&bytes);
        let mut expects: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_string)
            .collect();
        if let Ok(s) = std::fs::read_to_string(f.with_extension("expect")) {
            expects.extend(s.lines().filter(|l| !l.is_empty()).map(str::to_string));
        }
        assert!(!expects.is_empty(), "{} has no expectations", f.display());
        let o = scalelab(&["validate", &rel(&f)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", f.display());
        assert!(!err.contains("panicked"), "{}: {err}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            err.contains(&name),
            "{}: the error names the file: {err}",
            f.display()
        );
        for e in expects {
            assert!(
                err.contains(&e),
                "{}: expected {e:?} in:\n{err}",
                f.display()
            );
        }
    }
}

#[test]
fn missing_file_and_directory_are_clean_errors() {
    let o = scalelab(&["validate", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "no such file");
    let o = scalelab(&["validate", "scenarios"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "is a directory");
}

#[test]
fn usage_errors_exit_2() {
    let o = scalelab(&["validate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = scalelab(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A file past the size limit, and one that never ends, are refused without reading them whole
/// (issue 20: the malformed corpus's huge-file case; the 70 KB one-line case is
/// `tests/bad/long-line.toml`).
#[test]
fn huge_and_endless_files_are_refused() {
    let dir = fresh_dir("validate", "huge");
    let f = dir.join("huge.toml");
    let mut text = String::from("duration = \"1m\"\n");
    let line = format!("# {}\n", "x".repeat(1021));
    while text.len() <= 17 << 20 {
        text.push_str(&line);
    }
    std::fs::write(&f, text).expect("written");
    let o = scalelab(&["validate", f.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "larger than 16 MiB");
    assert_contains(&stderr(&o), "huge.toml");
    if std::path::Path::new("/dev/zero").exists() {
        let o = scalelab(&["validate", "/dev/zero"]);
        assert_exit(&o, 2);
        assert_contains(&stderr(&o), "larger than 16 MiB");
    }
}

/// `validate` fills in every default and prints the values (issue 20: it printed "target
/// default × 0.7").
#[test]
fn validate_prints_resolved_values_not_the_word_default() {
    let o = scalelab(&["validate", "scenarios/spiky-api.toml"]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    assert!(!text.contains("target default"), "{text}");
    assert_contains(
        &text,
        "target 10 (the default: the container concurrency) × utilization 0.7 = 7",
    );
    for expect in [
        "panic window 6s (10% of the 1m stable window)",
        "scale_down_delay            0s  (default)",
        "router: knative, activator queue 10000",
        "error ratio ≤ 1.00% (the default)",
        "work estimate",
    ] {
        assert!(text.contains(expect), "{expect:?} in:\n{text}");
    }
}
