//! `kpa replay`: the docs/kpa-replay.md example, settings changes, and every kind of bad input.

use super::*;

fn lines(src: &str) -> Vec<String> {
    replay_str(src)
        .expect("valid input")
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn err(src: &str) -> String {
    replay_str(src).expect_err("invalid input").to_string()
}

#[test]
fn design_example_runs() {
    let src = r#"{ "autoscaler": { "target": 10, "target_utilization": 1 }, "container_concurrency": 0,
      "initial_ready": 1, "reachable": true,
      "steps": [ { "t": "0s", "stable": 50, "panic": 50, "ready": 1 },
                 { "t": "2s", "concurrency": 12.5, "ready": 1 },
                 { "t": "4s", "ready": 1 },
                 { "t": "6s", "stable": 9, "panic": 9, "ready": 2,
                   "autoscaler": { "target": 10 }, "reachable": false } ] }"#;
    assert_eq!(
        lines(src),
        [
            r#"{"t_s":0,"valid":true,"desired":5,"excess_burst_capacity":-251,"panic":true}"#,
            r#"{"t_s":2,"valid":true,"desired":5,"excess_burst_capacity":-214,"panic":true}"#,
            r#"{"t_s":4,"valid":true,"desired":5,"excess_burst_capacity":-214,"panic":true}"#,
            r#"{"t_s":6,"valid":true,"desired":5,"excess_burst_capacity":-200,"panic":true}"#,
        ]
    );
}

#[test]
fn no_data_keeps_the_last_decision_and_fractional_times_print_as_seconds() {
    let src = r#"{ "steps": [ { "t": "500ms" }, { "t": "1.5s", "stable": 140, "panic": 140 },
                              { "t": "3s" } ] }"#;
    assert_eq!(
        lines(src),
        [
            r#"{"t_s":0.5,"valid":false,"desired":-1,"excess_burst_capacity":-111,"panic":false}"#,
            r#"{"t_s":1.5,"valid":true,"desired":2,"excess_burst_capacity":-351,"panic":true}"#,
            r#"{"t_s":3,"valid":false,"desired":2,"excess_burst_capacity":-351,"panic":true}"#,
        ]
    );
}

#[test]
fn settings_accumulate_across_steps() {
    // cc 10: target 7. A step sets target 5 (TargetValue 3.5); a later step changes only the
    // utilisation, keeping target 5: TargetValue 5 × 0.5 = 2.5.
    let src = r#"{ "container_concurrency": 10, "initial_ready": 4, "steps": [
        { "t": "0s", "stable": 14, "panic": 14 },
        { "t": "2s", "stable": 14, "panic": 14, "autoscaler": { "target": 5 } },
        { "t": "4s", "stable": 14, "panic": 14, "autoscaler": { "target_utilization": 50 } } ] }"#;
    let got = replay_str(src).expect("valid");
    let desired: Vec<i32> = got.iter().map(|l| l.desired).collect();
    // Created with 4 ready: panic holds 4 (restart behaviour), then ceil(14/3.5) = 4,
    // then ceil(14/2.5) = 6.
    assert_eq!(desired, [4, 4, 6]);
}

#[test]
fn bad_input_names_the_key_and_position() {
    let cases = [
        (
            r#"{"steps":[{"t":"0s","stabel":3}]}"#,
            "steps[0].stabel: unknown key `stabel`",
        ),
        ("{\"steps\":[\n {\"t\":\"0s\",,}]}", "line 2 column"),
        (
            r#"{"autoscaler":{"stable_window":"3s"},"steps":[{"t":"0s"}]}"#,
            "autoscaler.stable_window: must be at least 6s",
        ),
        (
            r#"{"steps":[{"t":"0s"},{"t":"1s","autoscaler":{"target":0}}]}"#,
            "steps[1].autoscaler.target: 0 is out of range",
        ),
        (
            r#"{"steps":[{"t":"0s","stable":1}]}"#,
            "steps[0]: give both `stable` and `panic`",
        ),
        (
            r#"{"steps":[{"t":"0s","stable":1,"panic":1,"concurrency":2}]}"#,
            "not both",
        ),
        (
            r#"{"steps":[{"t":"0s","ready":-1}]}"#,
            "steps[0].ready: invalid value",
        ),
        (
            r#"{"steps":[{"t":3}]}"#,
            "steps[0].t: duration \"3\" has no unit",
        ),
        (
            r#"{"steps":[{"t":"5s"},{"t":"1s"}]}"#,
            "steps[1].t: 1s is before the previous step's 5s",
        ),
        (r#"{"steps":[]}"#, "steps: no steps"),
        (r#"{"steps":[{"t":"0s"}]} x"#, "trailing characters"),
        (
            r#"{"steps":[{"t":"0s","concurrency":-3}]}"#,
            "steps[0].concurrency: -3 is out of range",
        ),
        (
            r#"{"container_concurrency":5000,"steps":[{"t":"0s"}]}"#,
            "container_concurrency: 5000 is too large",
        ),
        (
            r#"{"autoscaler":{"kind":"keepalive"},"steps":[{"t":"0s"}]}"#,
            "autoscaler.kind",
        ),
        (
            r#"{"autoscaler":{"min_scale":5,"max_scale":2},"steps":[{"t":"0s"}]}"#,
            "min_scale 5 exceeds max_scale 2",
        ),
        (
            r#"{"autoscaler":{"metric":"cpu"},"steps":[{"t":"0s"}]}"#,
            "unknown metric \"cpu\"",
        ),
        (
            r#"{"autoscaler":{"panic_threshold_percentage":100},"steps":[{"t":"0s"}]}"#,
            "110 to 1000",
        ),
        (
            r#"{"autoscaler":{"target_burst_capacity":-2},"steps":[{"t":"0s"}]}"#,
            "target_burst_capacity: -2",
        ),
        (
            r#"{"autoscaler":{"aggregation":"mean"},"steps":[{"t":"0s"}]}"#,
            "unknown aggregation",
        ),
        ("", "EOF"),
    ];
    for (src, want) in cases {
        let e = err(src);
        assert!(e.contains(want), "{src}: {e}");
    }
}

#[test]
fn settings_validation_matches_the_scenario_ranges() {
    let d = KpaSettings::default();
    let raw = |pairs: &[(&str, serde_json::Value)]| -> RawKpa {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let s = apply_settings(
        &d,
        &raw(&[
            ("target_utilization", 70.0.into()),
            ("aggregation", "weightedExponential".into()),
        ]),
        "autoscaler",
    )
    .expect("valid");
    assert_eq!(s.target_utilization, 0.7);
    assert_eq!(
        s.aggregation,
        crate::autoscaler::Aggregation::WeightedExponential
    );
    let e = apply_settings(
        &d,
        &raw(&[("activation_scale", 3.into()), ("max_scale", 2.into())]),
        "a",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("a.activation_scale"), "{e}");
    let e = apply_settings(&d, &raw(&[("scale_down_delay", "1500ms".into())]), "a")
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole seconds"), "{e}");
    // A keepalive key and an unknown key are named as such.
    let e = apply_settings(&d, &raw(&[("idle_timeout", "1m".into())]), "a")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a.idle_timeout") && e.contains("keepalive key"),
        "{e}"
    );
    let e = apply_settings(&d, &raw(&[("stabel_window", "1m".into())]), "a")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown key `stabel_window`"), "{e}");
}
