//! Fleets end to end: `sim` on a fleet (totals and `services`), reports with the per-service
//! table, variants addressing a service by name, bad fleet input (exit 2 naming the file, line
//! and key), and live commands refusing a trace of recorded durations.

use crate::support::*;

fn scratch(name: &str) -> Scratch {
    fresh_dir("fleet-cli", name)
}

const GOOD: &str = include_str!("fixtures/fleet-good.toml");

fn write(dir: &std::path::Path, toml: &str, trace: &str) -> String {
    std::fs::write(dir.join("t.csv"), trace).expect("trace");
    let p = write_file(dir, "fleet.toml", toml);
    p.display().to_string()
}

#[test]
fn sim_reports_totals_and_each_service() {
    let d = scratch("good");
    let f = write(&d, GOOD, "t_s,service,count\n0,b,30\n60,b,12\n");
    let o = scalelab(&["sim", &f, "--seed", "4", "--format", "json"]);
    assert_exit(&o, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let vs = doc["variants"].as_array().expect("variants");
    assert_eq!(vs.len(), 2);
    for v in vs {
        let s = v["services"].as_array().expect("services");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["name"], "a");
        assert_eq!(s[0]["labels"]["team"], "x");
        assert_eq!(
            s[1]["requests"]["arrived"], 42,
            "b gets exactly the trace's counts"
        );
        let sum = s[0]["requests"]["arrived"].as_u64().unwrap() + 42;
        assert_eq!(v["requests"]["arrived"].as_u64(), Some(sum));
    }
    // The variant changed service a only.
    assert_eq!(vs[0]["services"][1], vs[1]["services"][1]);
    // Text and markdown reports have the per-service table.
    let o = scalelab(&["sim", &f, "--seed", "4"]);
    assert_contains(&stdout(&o), "services of baseline (2)");
    let out = d.join("out");
    let o = scalelab(&["sim", &f, "--seed", "4", "--out", out.to_str().unwrap()]);
    assert_exit(&o, 0);
    let o = scalelab(&["report", out.to_str().unwrap(), "--format", "md"]);
    assert_contains(&stdout(&o), "### services of baseline (2)");
    // validate lists the services and the trace.
    let o = scalelab(&["validate", &f]);
    assert_exit(&o, 0);
    let t = stdout(&o);
    assert!(
        t.contains("fleet: 2 services") && t.contains("42 requests in the trace"),
        "{t}"
    );
}

#[test]
fn bad_fleet_input_exits_2_naming_file_line_and_key() {
    let d = scratch("bad");
    let dup = GOOD.replace("name = \"b\"", "name = \"a\"");
    for (toml, trace, want) in [
        (
            dup.as_str(),
            "t_s,service,count\n",
            vec![
                "fleet.toml:14",
                "services[1].name",
                "duplicate service name \"a\"",
            ],
        ),
        (
            GOOD,
            "t_s,service,count\n0,b,1\n60,nope,2\n",
            vec![
                "t.csv:3",
                "service \"nope\" is not one of the scenario's [[services]]",
                "trace.file",
            ],
        ),
        (
            GOOD,
            "t_s,service,count\n60,b,1\n0,b,2\n",
            vec!["t.csv:3", "rows must be in time order"],
        ),
        (GOOD, "time,fn,n\n", vec!["t.csv:1", "expected the header"]),
        (
            &GOOD.replace(
                "[[services]]\nname = \"b\"\n",
                "[[services]]\nname = \"b\"\n[services.autoscaler]\ntarget = -1\n",
            ),
            "t_s,service,count\n",
            vec!["services[1].autoscaler.target"],
        ),
        (
            &GOOD.replace(
                "[trace]\nfile = \"t.csv\"\n",
                "[trace]\nfile = \"t.csv\"\nspread = \"bursty\"\n",
            ),
            "t_s,service,count\n",
            vec!["trace.spread", "unknown spread \"bursty\""],
        ),
        (
            &GOOD.replace("[trace]\nfile = \"t.csv\"\n", ""),
            "",
            vec!["services[1].workload", "service \"b\" has no arrivals"],
        ),
    ] {
        let f = write(&d, toml, trace);
        for cmd in ["validate", "sim"] {
            let o = scalelab(&[cmd, &f]);
            assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
            let e = stderr(&o);
            for w in &want {
                assert!(e.contains(w), "{cmd}: {w:?} not in {e}");
            }
        }
    }
}

#[test]
fn live_commands_refuse_a_trace_of_recorded_durations() {
    // A trace whose requests take their recorded durations cannot be replayed live: refused,
    // not half-run (other fleets run live: tests/it/live_fleet.rs).
    let d = scratch("durations");
    let toml = GOOD.replace(
        "[trace]\nfile = \"t.csv\"",
        "[trace]\nfile = \"t.csv\"\ndurations = true",
    );
    let f = write(&d, &toml, "t_s,service,duration_s\n1.5,b,0.2\n3,b,0.1\n");
    for cmd in ["run", "compare"] {
        let o = scalelab(&[cmd, &f]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("recorded durations"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn load_refuses_a_fleet_and_points_at_run() {
    // `load` sends one workload to one URL: a fleet is refused (exit 2), never half-sent as
    // its first service's workload without a Host header.
    let d = scratch("load");
    let f = write(&d, GOOD, "t_s,service,count\n0,b,2\n");
    let o = scalelab(&["load", &f, "--url", "http://127.0.0.1:9/"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("scalelab run"), "{}", stderr(&o));
}
