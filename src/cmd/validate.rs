//! `scalelab validate FILE...`

use std::io::Write;

use scalelab_core::scenario::Scenario;

use super::{CmdResult, Code, Failure};
use crate::cli::{Format, ValidateArgs};

pub fn run(a: ValidateArgs) -> CmdResult {
    let mut ok = Vec::new();
    let mut failed = 0;
    for f in &a.files {
        match Scenario::from_file(f) {
            Ok(s) => ok.push(s),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let docs: Vec<_> = ok
                .iter()
                .map(|s| {
                    let mut doc = scalelab_reports::scenario_json(s);
                    if let Some(o) = doc.as_object_mut() {
                        o.insert(
                            "work_estimate".into(),
                            scalelab_reports::work_estimate_json(s),
                        );
                    }
                    doc
                })
                .collect();
            let v = if a.files.len() == 1 && docs.len() == 1 {
                docs.into_iter().next().expect("one")
            } else {
                serde_json::Value::Array(docs)
            };
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).map_err(Failure::runtime)?
            )?;
        }
        Format::Text => {
            for s in &ok {
                write!(out, "{}", scalelab_reports::scenario_text(s))?;
                write!(out, "{}", scalelab_reports::work_estimate_text(s))?;
            }
        }
    }
    if failed > 0 {
        if a.files.len() > 1 {
            eprintln!("{failed} of {} scenario files are invalid", a.files.len());
        }
        return Ok(Code::BadInput);
    }
    Ok(Code::Ok)
}
