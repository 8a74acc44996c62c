//! `scalelab import azure-2019` and `scalelab import azure-2021`: arguments to
//! `scalelab_lab::azure`.

use scalelab_lab::azure::{self, Azure2019, Azure2021, Imported, Spread};

use super::{CmdResult, Code, Failure};
use crate::cli::{Azure2019Args, Azure2021Args, SpreadArg};

fn seed(s: &str) -> Result<u64, Failure> {
    scalelab_core::rng::parse_seed(s)
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("--seed: {e}")))
}

fn report(i: &Imported) {
    for w in &i.warnings {
        eprintln!("note: {w}");
    }
    eprintln!(
        "wrote {} ({} of {} functions) and {} ({} rows, {} invocations, {} s)",
        i.scenario.display(),
        i.functions_sampled,
        i.functions_in_trace,
        i.trace.display(),
        i.rows,
        i.invocations,
        i.duration_s
    );
    if i.max_buffered > 0 {
        eprintln!(
            "the reorder buffer held at most {} rows (start order from end order)",
            i.max_buffered
        );
    }
}

pub fn azure_2019(a: Azure2019Args) -> CmdResult {
    let imported = azure::import_2019(&Azure2019 {
        invocations: a.invocations,
        durations: a.durations,
        memory: a.memory,
        functions: a.functions,
        seed: seed(&a.seed)?,
        spread: match a.spread {
            SpreadArg::Uniform => Spread::Uniform,
            SpreadArg::Poisson => Spread::Poisson,
            SpreadArg::Even => Spread::Even,
        },
        output: a.output,
    })?;
    report(&imported);
    Ok(Code::Ok)
}

pub fn azure_2021(a: Azure2021Args) -> CmdResult {
    let imported = azure::import_2021(&Azure2021 {
        file: a.file,
        functions: a.functions,
        seed: seed(&a.seed)?,
        output: a.output,
    })?;
    report(&imported);
    Ok(Code::Ok)
}
