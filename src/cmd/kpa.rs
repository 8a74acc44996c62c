//! `scalelab kpa replay`: feed a recorded metric series to the KPA decider and print one JSON
//! line per step (docs/kpa-replay.md).

use std::io::{Read, Write};

use anyhow::Context;
use scalelab_core::autoscaler::replay;

use super::{CmdResult, Code, Failure};
use crate::cli::ReplayArgs;

/// Reads the input (`-` = stdin), replays it and writes the lines to stdout.
pub fn replay(a: ReplayArgs) -> CmdResult {
    let name = a.input.display().to_string();
    let src = if name == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")
            .map_err(Failure::bad_input)?;
        s
    } else {
        std::fs::read_to_string(&a.input)
            .with_context(|| format!("reading {name}"))
            .map_err(Failure::bad_input)?
    };
    let lines = replay::replay_str(&src)
        .with_context(|| format!("{name}: invalid replay input"))
        .map_err(Failure::bad_input)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for l in &lines {
        writeln!(out, "{l}")?;
    }
    out.flush()?;
    Ok(Code::Ok)
}
