//! `docs/cli.md` names every flag of every command (`load`'s are in `docs/load.md`), and the
//! reference pages the README and `--help` point to exist.

use crate::support::*;

#[test]
fn every_flag_is_in_the_cli_reference() {
    let doc = std::fs::read_to_string(root().join("docs/cli.md")).expect("docs/cli.md");
    let commands: &[&[&str]] = &[
        &["sim"],
        &["run"],
        &["compare"],
        &["validate"],
        &["kpa", "replay"],
        &["report"],
        &["serve"],
        &["tune"],
        &["export", "knative"],
        &["export", "gcloud"],
        &["import", "knative"],
        &["import", "gcloud"],
        &["import", "azure-2019"],
        &["import", "azure-2021"],
    ];
    let mut missing = Vec::new();
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let o = scalelab(&args);
        assert_eq!(o.status.code(), Some(0), "{c:?}");
        for word in stdout(&o).split_whitespace() {
            let Some(flag) = word.strip_prefix("--") else {
                continue;
            };
            let flag: String = flag
                .chars()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '-')
                .collect();
            if flag.is_empty() || ["help", "version"].contains(&flag.as_str()) {
                continue;
            }
            if !doc.contains(&format!("`--{flag}")) {
                missing.push(format!("{} --{flag}", c.join(" ")));
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "docs/cli.md does not mention: {missing:?}"
    );
}

#[test]
fn the_help_points_to_the_reference_in_the_repository() {
    let o = scalelab(&["--help"]);
    assert_contains(&stdout(&o), "docs/");
    let o = scalelab(&["kpa", "replay", "--help"]);
    assert_contains(&stdout(&o), "docs/kpa-replay.md");
    for page in [
        "README.md",
        "scenario.md",
        "results.md",
        "cli.md",
        "kpa-replay.md",
    ] {
        assert!(root().join("docs").join(page).is_file(), "docs/{page}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    assert!(readme.contains("docs/scenario.md") && !readme.contains("DESIGN.md"));
}
