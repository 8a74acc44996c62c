//! `scalelab import knative service.yaml` and `scalelab import gcloud deploy.sh`: arguments to
//! `scalelab_lab::knative`; `scalelab import azure-2019|azure-2021`: see `import_azure`.

use std::path::{Path, PathBuf};

use super::{CmdResult, Code};
use crate::cli::ImportCommand;

pub fn run(cmd: ImportCommand) -> CmdResult {
    let (input, output, read): (PathBuf, Option<PathBuf>, Reader) = match cmd {
        ImportCommand::Knative(a) => (
            a.manifest,
            a.output,
            scalelab_lab::knative::scenario_from_manifest,
        ),
        ImportCommand::Gcloud(a) => (
            a.script,
            a.output,
            scalelab_lab::knative::scenario_from_gcloud,
        ),
        ImportCommand::Azure2019(a) => return super::import_azure::azure_2019(a),
        ImportCommand::Azure2021(a) => return super::import_azure::azure_2021(a),
    };
    let text = super::common::read_input(&input)?;
    let out = output.as_deref().filter(|p| p.as_os_str() != "-");
    let target = out.unwrap_or(Path::new("imported.toml"));
    let imported = read(
        &text,
        &super::common::shown(&input),
        &target.display().to_string(),
    )?;
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    super::common::write_output(out, imported.toml.as_bytes())?;
    Ok(Code::Ok)
}

/// Reads an input's text (named by its source) into a scenario checked as the target file.
type Reader =
    fn(&str, &str, &str) -> Result<scalelab_lab::knative::Imported, scalelab_lab::LabError>;
