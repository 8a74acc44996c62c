//! `scalelab run` and `scalelab compare`: the live runtime driven by the load generator on
//! loopback, against the simulator on the same scenario and seed. One short time-scaled
//! scenario (scale from zero, a burst into panic, scale to zero), about 18 s of wall time.

use crate::support::*;

#[test]
fn sim_and_live_agree_on_a_burst_from_zero_and_back() {
    let dir = fresh_dir("live", "compare");
    let _alone = WALL_CLOCK.write().unwrap_or_else(|e| e.into_inner());
    let o = scalelab_unlocked(&[
        "compare",
        "tests/live/burst.toml",
        "--time-scale",
        "0.5",
        "--calibrate",
        "--format",
        "json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(matches!(o.status.code(), Some(0) | Some(3)), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(doc["live"]["mode"], "live");
    assert_eq!(doc["live"]["time_scale"], 0.5);
    assert_eq!(doc["sim"]["mode"], "sim");
    let sim = &doc["sim"]["variants"][0];
    let live = &doc["live"]["variants"][0];
    let f = |v: &serde_json::Value, a: &str, b: &str| v[a][b].as_f64().unwrap();
    // Every request was answered in both, and the client saw every answer as a success
    // (synthetic instances answer the generator's default request with 200, not 400).
    assert_eq!(
        sim["requests"]["completed"], live["requests"]["completed"],
        "{live}"
    );
    assert_eq!(
        live["extra"]["client_requests"]["completed"], live["requests"]["completed"],
        "{live}"
    );
    assert_eq!(live["extra"]["client_requests"]["rejected"], 0, "{live}");
    // The live run measured the time the proxy hop holds a slot, and --calibrate fed it into
    // the simulator.
    let slot = live["extra"]["slot_overhead_ms"]
        .as_f64()
        .expect("slot_overhead_ms");
    assert!(slot > 0.0 && slot < 100.0, "slot overhead {slot} ms");
    assert_contains(&err, "calibrated:");
    // The suite runs in a debug build on two shared cores, so the live side carries more
    // scheduling noise than FIDELITY.md's release runs (which hold the 10 % bar): the stated
    // tolerances here are cold starts within two (or 15 %), instance-seconds within 20 %, p50
    // within 20 % + 2 ms.
    let (cs, cl) = (
        f(sim, "cold_starts", "count"),
        f(live, "cold_starts", "count"),
    );
    assert!(
        (cs - cl).abs() <= 2.0_f64.max(0.15 * cs),
        "cold starts sim {cs} live {cl}"
    );
    let (is, il) = (
        f(sim, "instances", "instance_seconds"),
        f(live, "instances", "instance_seconds"),
    );
    assert!(
        (is - il).abs() <= 0.2 * is,
        "instance-seconds sim {is} live {il}"
    );
    let (ps, pl) = (f(sim, "latency_ms", "p50"), f(live, "latency_ms", "p50"));
    assert!((ps - pl).abs() <= 0.2 * ps + 2.0, "p50 sim {ps} live {pl}");
    // The panic burst happened in both, and both went back to zero.
    assert!(
        f(sim, "autoscaler", "panic_episodes") >= 1.0
            && f(live, "autoscaler", "panic_episodes") >= 1.0
    );
    assert!(
        f(live, "instances", "scale_to_zero_events") >= 1.0,
        "{live}"
    );
    for name in ["fidelity.md", "fidelity.json", "report.html", "result.json"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
}

#[test]
fn run_rejects_bad_flags() {
    let o = scalelab(&["run", "tests/live/burst.toml", "--time-scale", "0"]);
    assert_exit(&o, 2);
    let o = scalelab(&["compare", "tests/live/burst.toml", "--tolerance", "-5"]);
    assert_exit(&o, 2);
    let o = scalelab(&["run", "tests/live/burst.toml", "--variant", "nope"]);
    assert_exit(&o, 2);
    let o = scalelab(&["compare", "tests/live/burst.toml", "--slot-overhead=-1ms"]);
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "--slot-overhead");
    let o = scalelab(&[
        "compare",
        "tests/live/burst.toml",
        "--slot-overhead",
        "1ms",
        "--calibrate",
    ]);
    assert_exit(&o, 2);
}
