//! `scalelab import knative service.yaml`: arguments to `scalelab_lab::knative::import`.

use std::path::Path;

use super::{CmdResult, Code};
use crate::cli::ImportCommand;

pub fn run(cmd: ImportCommand) -> CmdResult {
    let ImportCommand::Knative(a) = cmd;
    let text = super::common::read_input(&a.manifest)?;
    let out = a.output.as_deref().filter(|p| p.as_os_str() != "-");
    let target = out.unwrap_or(Path::new("imported.toml"));
    let imported = scalelab_lab::knative::scenario_from_manifest(
        &text,
        &super::common::shown(&a.manifest),
        &target.display().to_string(),
    )?;
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    super::common::write_output(out, imported.toml.as_bytes())?;
    Ok(Code::Ok)
}
