//! Fleets live: `scalelab run`, `compare` and `serve` on `scenarios/fleet-live.toml` (three
//! services behind one listener, each request carrying its service's Host). Short
//! time-scaled runs on loopback, a few seconds of wall time each.

use serde_json::Value;

use crate::support::*;

const FLEET: &str = "scenarios/fleet-live.toml";
const SERVICES: [&str; 3] = ["api", "worker", "rare"];

fn json(o: &std::process::Output) -> Value {
    let out = stdout(o);
    let start = out.find('{').unwrap_or_else(|| panic!("no JSON in {out}"));
    serde_json::from_str(&out[start..]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn names(v: &Value) -> Vec<&str> {
    v["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect()
}

fn arrived(v: &Value) -> u64 {
    v["requests"]["arrived"].as_u64().expect("arrived")
}

#[test]
fn run_on_a_fleet_sends_each_service_its_own_arrivals() {
    let _alone = WALL_CLOCK.write().unwrap_or_else(|e| e.into_inner());
    let args = ["--duration", "16s", "--format", "json"];
    let sim = scalelab_unlocked(&[&["sim", FLEET][..], &args].concat());
    assert_eq!(sim.status.code(), Some(0), "{}", stderr(&sim));
    let live = scalelab_unlocked(&[&["run", FLEET, "--time-scale", "0.2"][..], &args].concat());
    assert!(
        matches!(live.status.code(), Some(0) | Some(3)),
        "{}",
        stderr(&live)
    );
    let (sim, live) = (json(&sim), json(&live));
    assert_eq!(live["mode"], "live");
    let (s, l) = (&sim["variants"][0], &live["variants"][0]);
    assert_eq!(names(l), SERVICES);
    let mut sum = 0;
    for (i, name) in SERVICES.iter().enumerate() {
        let (ss, ls) = (&s["services"][i], &l["services"][i]);
        // The same (seed, service name) streams as the simulator: the same arrivals.
        assert_eq!(arrived(ls), arrived(ss), "{name}: live {ls}");
        assert_eq!(
            ls["client"]["requests"]["arrived"], ls["requests"]["arrived"],
            "{name}: what the generator sent reached the service"
        );
        assert_eq!(ls["labels"]["team"], ss["labels"]["team"]);
        sum += arrived(ls);
    }
    assert!(arrived(&l["services"][0]) > 100 && arrived(&l["services"][1]) > 50);
    assert_eq!(arrived(l), sum, "totals are the services' sum");
    assert_eq!(l["client"]["requests"]["arrived"].as_u64(), Some(sum));
    assert!(l["live"].is_object() && l["services"][0]["live"].is_object());
}

#[test]
fn compare_on_a_fleet_gives_a_verdict_per_service() {
    let _alone = WALL_CLOCK.write().unwrap_or_else(|e| e.into_inner());
    let o = scalelab_unlocked(&["compare", FLEET, "--time-scale", "0.25", "--format", "json"]);
    assert_completed(&o);
    let doc = json(&o);
    let tables = doc["fidelity"].as_array().expect("fidelity");
    let services: Vec<Option<&str>> = tables.iter().map(|t| t["service"].as_str()).collect();
    assert_eq!(services, [None, Some("api"), Some("worker"), Some("rare")]);
    for t in tables {
        assert!(!t["rows"].as_array().expect("rows").is_empty(), "{t}");
    }
    let passed = tables.iter().all(|t| {
        t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passed"] == true)
    });
    assert_eq!(doc["passed"], passed);
    // Both sides have the same services and the same arrivals per service.
    let (s, l) = (&doc["sim"]["variants"][0], &doc["live"]["variants"][0]);
    for i in 0..SERVICES.len() {
        assert_eq!(arrived(&s["services"][i]), arrived(&l["services"][i]));
    }
}

#[test]
fn serve_on_a_fleet_prints_each_service_host() {
    let o = scalelab(&[
        "serve",
        FLEET,
        "--allow-unauthenticated",
        "--stop-after",
        "2s",
        "--time-scale",
        "0.25",
        "--quiet",
        "--format",
        "json",
    ]);
    assert_completed(&o);
    let out = stdout(&o);
    for name in SERVICES {
        assert!(
            out.contains(&format!("service: {name} (Host: {name}")),
            "{out}"
        );
    }
    let doc = json(&o);
    assert_eq!(names(&doc["variants"][0]), SERVICES);
}

#[test]
fn a_single_service_live_result_has_no_services() {
    let o = scalelab(&[
        "run",
        "tests/live/burst.toml",
        "--duration",
        "3s",
        "--time-scale",
        "0.25",
        "--format",
        "json",
    ]);
    assert_completed(&o);
    let v = &json(&o)["variants"][0];
    assert!(v.get("services").is_none(), "{v}");
    assert!(v["client"].is_object());
}

#[test]
fn run_on_a_trace_fleet_sends_each_service_the_simulated_arrivals() {
    let d = std::env::temp_dir().join(format!("scalelab-live-trace-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch dir");
    std::fs::write(
        d.join("t.csv"),
        "t_s,service,count\n0,a,20\n0,b,6\n5,b,4\n10,a,15\n10,b,9\n",
    )
    .expect("trace");
    let f = d.join("trace-fleet.toml");
    std::fs::write(
        &f,
        r#"
name = "trace-fleet"
seed = 9
duration = "20s"
[service]
service_time = { dist = "fixed", value = "50ms" }
cold_start = { dist = "fixed", value = "500ms" }
[autoscaler]
stable_window = "6s"
scale_to_zero_grace_period = "2s"
[trace]
file = "t.csv"
interval = "5s"
# `a` has phases of its own too: its arrivals are both, merged.
[[services]]
name = "a"
[[services.workload.phases]]
duration = "20s"
arrival = { process = "poisson", rate = 2 }
[[services]]
name = "b"
"#,
    )
    .expect("scenario");
    let f = f.to_str().expect("utf-8 path");
    let _alone = WALL_CLOCK.write().unwrap_or_else(|e| e.into_inner());
    let sim = scalelab_unlocked(&["sim", f, "--format", "json"]);
    assert_eq!(sim.status.code(), Some(0), "{}", stderr(&sim));
    let live = scalelab_unlocked(&["run", f, "--time-scale", "0.2", "--format", "json"]);
    assert!(
        matches!(live.status.code(), Some(0) | Some(3)),
        "{}",
        stderr(&live)
    );
    let (s, l) = (&json(&sim)["variants"][0], &json(&live)["variants"][0]);
    assert_eq!(
        arrived(&l["services"][1]),
        19,
        "b: exactly the trace's counts"
    );
    for i in 0..2 {
        assert_eq!(
            arrived(&l["services"][i]),
            arrived(&s["services"][i]),
            "{i}"
        );
    }
    assert!(
        arrived(&l["services"][0]) > 35,
        "a: its trace rows and its phases"
    );
    assert_eq!(
        arrived(l),
        arrived(&l["services"][0]) + arrived(&l["services"][1])
    );
    let _ = std::fs::remove_dir_all(&d);
}
