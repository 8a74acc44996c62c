//! The regression corpus: every bundled scenario (and the live and benchmark scenarios),
//! simulated with three seeds, must give exactly the recorded result document and event log.
//!
//! `sim/tests/corpus/results.txt` holds, per (scenario, seed), a 64-bit FNV-1a digest of the
//! result JSON and of the event log, and a readable summary line per variant, so a change shows
//! what moved. A change to the simulator that is meant to change results (a model fix, a new
//! field) re-records the corpus with `SCALELAB_BLESS=1 cargo test -p scalelab-sim --test it
//! corpus` and says why in its commit; a refactoring must leave it untouched.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use scalelab_core::scenario::Scenario;
use scalelab_sim::{SimOptions, simulate_with};

const SEEDS: [u64; 3] = [1, 42, 7];

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v.push(root().join("tests/live/burst.toml"));
    v.push(root().join("benches/scenarios/steady-100.toml"));
    v
}

fn record() -> String {
    let mut out = String::new();
    for f in files() {
        let s = Scenario::from_file(&f).unwrap_or_else(|e| panic!("{e}"));
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        for seed in SEEDS {
            let o = SimOptions {
                seed,
                events: true,
                threads: 2,
                ..Default::default()
            };
            let (mut r, x) = simulate_with(&s, &o).unwrap_or_else(|e| panic!("{name}: {e}"));
            // The path is the machine's, not the result's.
            r.scenario_path = None;
            let json = serde_json::to_string(&r).expect("serialisable");
            let _ = writeln!(
                out,
                "{name} seed={seed} json={:016x} events={:016x}",
                fnv1a(json.as_bytes()),
                fnv1a(&x.events)
            );
            for v in &r.variants {
                let _ = writeln!(
                    out,
                    "    {}: arrived={} completed={} rejected={} timed_out={} cold_starts={} delayed={} instance_s={} p99_ms={}",
                    v.name,
                    v.requests.arrived,
                    v.requests.completed,
                    v.requests.rejected,
                    v.requests.timed_out,
                    v.cold_starts.count,
                    v.cold_starts.requests_delayed,
                    v.instances.instance_seconds,
                    v.latency_ms.p99,
                );
            }
        }
    }
    out
}

#[test]
fn bundled_scenarios_give_the_recorded_results() {
    let path = root().join("sim/tests/corpus/results.txt");
    let got = record();
    if std::env::var_os("SCALELAB_BLESS").is_some() {
        std::fs::write(&path, &got).expect("write the corpus");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("sim/tests/corpus/results.txt");
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "simulated results differ from the recorded corpus (first differences below; if the \
             change is intended, re-record with SCALELAB_BLESS=1 and say why in the commit):\n{}",
            diff.join("\n")
        );
    }
}
