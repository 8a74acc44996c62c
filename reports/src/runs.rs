//! Several saved runs at once (`scalelab report A B …`): labels that tell them apart, and the
//! directory a comparison writes.

use std::path::Path;

use scalelab_core::result::RunResult;

use crate::{BundleOptions, Comparison, ReportError, write_bundle};

/// Gives runs loaded twice (the same path) distinct labels: `a.json`, `a.json#2`, ….
pub fn distinct_labels(runs: &mut [(String, RunResult)]) {
    for i in 1..runs.len() {
        let mut n = 2;
        let base = runs[i].0.clone();
        while runs[..i].iter().any(|(l, _)| *l == runs[i].0) {
            runs[i].0 = format!("{base}#{n}");
            n += 1;
        }
    }
}

/// Writes `DIR/run-1-<scenario>/…` (every file of [`write_bundle`]) per run, plus
/// `comparison.md`, `comparison.json` and `comparison.html`.
pub fn write_comparison(
    dir: &Path,
    runs: &[(String, RunResult)],
    cmp: &Comparison,
) -> Result<(), ReportError> {
    for (i, (_, r)) in runs.iter().enumerate() {
        let name: String = r
            .scenario
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let sub = dir.join(format!("run-{}-{name}", i + 1));
        write_bundle(&sub, r, &BundleOptions::default())?;
    }
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|source| ReportError::Io {
            path: p.display().to_string(),
            source,
        })
    };
    write("comparison.md", cmp.to_markdown())?;
    write("comparison.json", cmp.to_json()?)?;
    write("comparison.html", cmp.to_html())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_run_twice_gets_two_labels() {
        let r = RunResult::new("s", 1, scalelab_core::result::Mode::Sim, 1.0);
        let mut runs = vec![
            ("a.json".to_string(), r.clone()),
            ("a.json".to_string(), r.clone()),
            ("a.json".to_string(), r),
        ];
        distinct_labels(&mut runs);
        let labels: Vec<&str> = runs.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["a.json", "a.json#2", "a.json#3"]);
    }
}
