//! `scalelab kpa replay`: every `tests/replay/NAME.json` prints exactly
//! `tests/replay/NAME.expected.jsonl` (hand-computed from KPA.md; the Knative-derived ones say
//! which Knative test they come from); bad input exits 2 with a message naming the key.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn replay_inputs_print_their_expected_lines() {
    let _shared = crate::support::shared();
    let inputs = files_in("tests/replay", "json");
    assert!(inputs.len() >= 4, "{} replay inputs", inputs.len());
    for f in inputs {
        let expected = std::fs::read_to_string(f.with_extension("expected.jsonl"))
            .unwrap_or_else(|e| panic!("{}: no expected output: {e}", f.display()));
        let o = scalelab(&["kpa", "replay", "--input", &rel(&f)]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        assert_eq!(stdout(&o), expected, "{}", f.display());
        for line in stdout(&o).lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            for k in ["t_s", "valid", "desired", "excess_burst_capacity", "panic"] {
                assert!(v.get(k).is_some(), "{line} lacks {k}");
            }
        }
    }
}

#[test]
fn replay_reads_standard_input() {
    let _shared = crate::support::shared();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(["kpa", "replay", "--input", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"container_concurrency": 10, "steps": [{"t": "2s", "stable": 20, "panic": 20, "ready": 3}]}"#)
        .expect("write");
    let o = child.wait_with_output().expect("exits");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"t_s\":2,\"valid\":true,\"desired\":3,\"excess_burst_capacity\":-201,\"panic\":false}\n"
    );
}

#[test]
fn replay_bad_input_exits_2_with_a_message() {
    let _shared = crate::support::shared();
    let dir = fresh_dir("kpa", "replay");
    let cases = [
        (
            "unknown-key.json",
            r#"{"steps":[{"t":"0s","stabel":3}]}"#,
            "steps[0].stabel: unknown key",
        ),
        (
            "syntax.json",
            "{\"steps\": [\n  {\"t\": \"0s\",, }]}",
            "line 2 column",
        ),
        (
            "range.json",
            r#"{"autoscaler":{"max_scale_up_rate":1},"steps":[{"t":"0s"}]}"#,
            "autoscaler.max_scale_up_rate: 1 is out of range",
        ),
    ];
    for (name, src, want) in cases {
        let p = dir.join(name);
        std::fs::write(&p, src).expect("write");
        let o = scalelab(&["kpa", "replay", "--input", &p.display().to_string()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(want) && err.contains(name), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = scalelab(&["kpa", "replay", "--input", "tests/replay/no-such-file.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "no-such-file.json");
}
