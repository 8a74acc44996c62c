//! `scalelab import knative service.yaml`: arguments to `scalelab_lab::knative::import`;
//! `scalelab import azure-2019|azure-2021`: see `import_azure`.

use std::path::Path;

use super::{CmdResult, Code};
use crate::cli::ImportCommand;

pub fn run(cmd: ImportCommand) -> CmdResult {
    let a = match cmd {
        ImportCommand::Knative(a) => a,
        ImportCommand::Azure2019(a) => return super::import_azure::azure_2019(a),
        ImportCommand::Azure2021(a) => return super::import_azure::azure_2021(a),
    };
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
