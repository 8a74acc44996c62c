//! `scalelab export knative|gcloud SCENARIO`: arguments to `scalelab_lab::knative`.

use scalelab_core::scenario::Scenario;

use super::common::load_scenario;
use super::{CmdResult, Code, Failure};
use crate::cli::{ExportArgs, ExportCommand};

pub fn run(cmd: ExportCommand) -> CmdResult {
    let (a, knative) = match cmd {
        ExportCommand::Knative(a) => (a, true),
        ExportCommand::Gcloud(a) => (a, false),
    };
    let (scenario, source) = chosen(&a)?;
    let name = scalelab_lab::knative::service_name(a.name.as_deref().unwrap_or(&scenario.name))?;
    let text = if knative {
        scalelab_lab::knative::manifest(&scenario, &name, &a.image, &source)?
    } else {
        scalelab_lab::knative::gcloud(&scenario, &name, &a.image, &source)?
    };
    for w in scalelab_lab::knative::export::warnings(&scenario, knative) {
        eprintln!("warning: {w}");
    }
    super::common::write_output(a.output.as_deref(), text.as_bytes())?;
    Ok(Code::Ok)
}

/// The scenario to export and a phrase saying where it came from.
fn chosen(a: &ExportArgs) -> Result<(Scenario, String), Failure> {
    let scenario = load_scenario(&a.scenario)?;
    let shown = a.scenario.display().to_string();
    if let Some(v) = &a.variant {
        let plan = scalelab_lab::Plan::new(scenario, 0, Some(v), None)?;
        let s = plan.run(v).cloned().unwrap_or(plan.scenario);
        return Ok((s, format!("{shown}, variant {v}")));
    }
    let Some(tune) = &a.from_tune else {
        return Ok((scenario, shown));
    };
    let w = scalelab_lab::tune::winner(&a.scenario, tune)?;
    if w.stale {
        eprintln!(
            "warning: {} was made from another version of {shown}; applying its winner's \
             settings to this one",
            tune.display()
        );
    }
    Ok((w.scenario, format!("{shown}, {}", w.description)))
}
