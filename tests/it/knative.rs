//! `export knative|gcloud` of a canary and `import knative` of what it wrote; hostile input to
//! `import knative` is refused up front.

use crate::support::*;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("scalelab-knative-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn canary_export_and_import_keep_the_split() {
    let dir = temp_dir("canary");
    let yaml = dir.join("canary.yaml");
    let o = scalelab(&[
        "export",
        "knative",
        "scenarios/canary.toml",
        "-o",
        &yaml.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let toml = dir.join("canary.toml");
    let o = scalelab(&[
        "import",
        "knative",
        &yaml.display().to_string(),
        "-o",
        &toml.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = scalelab(&["validate", "--format", "json", &toml.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
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
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let g = stdout(&o);
    assert!(
        g.contains("gcloud run services update-traffic canary"),
        "{g}"
    );
    assert!(
        g.contains("--to-revisions=canary-stable=90,canary-canary=10"),
        "{g}"
    );
    assert!(g.contains("--set-tags=canary=canary-canary"), "{g}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deeply_nested_input_is_refused_with_exit_2() {
    let dir = temp_dir("deep");
    let deep = dir.join("deep.yaml");
    std::fs::write(
        &deep,
        format!("a: {}1{}\n", "{a: ".repeat(66_000), "}".repeat(66_000)),
    )
    .expect("written");
    let o = scalelab(&["import", "knative", &deep.display().to_string()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("deep.yaml: line 1, column") && e.contains("nest more than"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The rollout scenario through gcloud and back, by the CLI: the script `export gcloud` writes
/// (with a warning on stderr for the header route Cloud Run cannot do) is read back by
/// `import gcloud` into a scenario that validates with the same deploys; bad scripts exit 2
/// naming the line, unknown flags are named in warnings.
#[test]
fn gcloud_round_trip_and_bad_scripts() {
    let dir = temp_dir("gcloud");
    let sh = dir.join("deploy.sh");
    let o = scalelab(&[
        "export",
        "gcloud",
        "scenarios/rollout.toml",
        "--variant",
        "canary-rollback",
        "-o",
        &sh.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: [[routes]] x-canary: 1 -> v2: Cloud Run has no header"),
        "{}",
        stderr(&o)
    );
    let toml = dir.join("back.toml");
    let o = scalelab(&[
        "import",
        "gcloud",
        &sh.display().to_string(),
        "-o",
        &toml.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "no warnings for what export wrote");
    let o = scalelab(&["validate", "--format", "json", &toml.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let at: Vec<&str> = v["rollouts"]
        .as_array()
        .expect("rollouts")
        .iter()
        .map(|r| r["at"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(at, ["6m", "12m"], "{}", v["rollouts"]);
    let odd = dir.join("odd.sh");
    std::fs::write(&odd, "gcloud run deploy api --min-instances=2 --gpu=1\n").expect("written");
    let o = scalelab(&["import", "gcloud", &odd.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: line 1: gcloud run deploy --gpu is not simulated"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("min_scale = 2"), "{}", stdout(&o));
    let bad = dir.join("bad.sh");
    std::fs::write(
        &bad,
        "gcloud run deploy api\ngcloud run services update-traffic api --to-revisions=api-zz=100\n",
    )
    .expect("written");
    let o = scalelab(&["import", "gcloud", &bad.display().to_string()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("line 2: revision api-zz is not deployed above"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
