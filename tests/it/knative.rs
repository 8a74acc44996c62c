//! `export knative|gcloud` of a canary and `import knative` of what it wrote; hostile input to
//! `import knative` is refused up front.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::*;

fn temp_dir(name: &str) -> Scratch {
    fresh_dir("knative", name)
}

/// `export KIND SCENARIO EXTRA… -o FILE` into `dir`, `import KIND` of that file, and
/// `validate --format json` of the imported scenario, each asserted to succeed: the export's
/// and the import's output and the validated document.
fn round_trip(dir: &Path, kind: &str, scenario: &str, extra: &[&str]) -> (Output, Output, Value) {
    let exported = dir.join(format!("exported.{kind}")).display().to_string();
    let imported = dir.join("imported.toml").display().to_string();
    let mut args = vec!["export", kind, scenario];
    args.extend_from_slice(extra);
    args.extend(["-o", &exported]);
    let export = scalelab(&args);
    assert_exit(&export, 0);
    let import = scalelab(&["import", kind, &exported, "-o", &imported]);
    assert_exit(&import, 0);
    let o = scalelab(&["validate", "--format", "json", &imported]);
    assert_exit(&o, 0);
    let v = serde_json::from_str(&stdout(&o)).expect("json");
    (export, import, v)
}

#[test]
fn canary_export_and_import_keep_the_split() {
    let dir = temp_dir("canary");
    let (_, _, v) = round_trip(&dir, "knative", "scenarios/canary.toml", &[]);
    let revs: Vec<(String, f64, String)> = v["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["traffic_percent"].as_f64().unwrap_or_default(),
                r["tag"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        revs,
        [
            ("stable".to_string(), 90.0, "-".to_string()),
            ("canary".to_string(), 10.0, "canary".to_string())
        ]
    );
    let o = scalelab(&["export", "gcloud", "scenarios/canary.toml"]);
    assert_exit(&o, 0);
    let g = stdout(&o);
    assert_contains(&g, "gcloud run services update-traffic canary");
    assert_contains(&g, "--to-revisions=canary-stable=90,canary-canary=10");
    assert_contains(&g, "--set-tags=canary=canary-canary");
}

#[test]
fn deeply_nested_input_is_refused_with_exit_2() {
    let dir = temp_dir("deep");
    let deep = write_file(
        &dir,
        "deep.yaml",
        format!("a: {}1{}\n", "{a: ".repeat(66_000), "}".repeat(66_000)),
    );
    let o = scalelab(&["import", "knative", &deep.display().to_string()]);
    assert_exit(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains("deep.yaml: line 1, column") && e.contains("nest more than"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

/// The rollout scenario through gcloud and back, by the CLI: the script `export gcloud` writes
/// (with a warning on stderr for the header route Cloud Run cannot do) is read back by
/// `import gcloud` into a scenario that validates with the same deploys; bad scripts exit 2
/// naming the line, unknown flags are named in warnings.
#[test]
fn gcloud_round_trip_and_bad_scripts() {
    let dir = temp_dir("gcloud");
    let rollback = ["--variant", "canary-rollback"];
    let (export, import, v) = round_trip(&dir, "gcloud", "scenarios/rollout.toml", &rollback);
    assert_contains(
        &stderr(&export),
        "warning: [[routes]] x-canary: 1 -> v2: Cloud Run has no header",
    );
    assert_eq!(stderr(&import), "", "no warnings for what export wrote");
    let at: Vec<&str> = v["rollouts"]
        .as_array()
        .expect("rollouts")
        .iter()
        .map(|r| r["at"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(at, ["6m", "12m"], "{}", v["rollouts"]);
    // Hand-written scripts.
    let import = |name: &str, script: &str| {
        let f = write_file(&dir, name, script);
        scalelab(&["import", "gcloud", &f.display().to_string()])
    };
    let o = import(
        "odd.sh",
        "gcloud run deploy api --min-instances=2 --gpu=1\n",
    );
    assert_exit(&o, 0);
    assert_contains(
        &stderr(&o),
        "warning: line 1: gcloud run deploy --gpu is not simulated",
    );
    assert_contains(&stdout(&o), "min_scale = 2");
    let o = import(
        "bad.sh",
        "gcloud run deploy api\ngcloud run services update-traffic api --to-revisions=api-zz=100\n",
    );
    assert_exit(&o, 2);
    let e = stderr(&o);
    assert_contains(&e, "line 2: revision api-zz is not deployed above");
}
