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
