//! `scalelab report DIR_OR_FILE...`: re-render saved results; compare two or more.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use scalelab_core::result::RunResult;
use scalelab_reports::{
    BundleOptions, Comparison, CsvExporter, Exporter, HtmlExporter, JsonExporter, JunitExporter,
    MarkdownExporter, TextExporter,
};

use super::{CmdResult, Code, Failure};
use crate::cli::{ReportArgs, ReportFormat};

pub fn run(a: ReportArgs) -> CmdResult {
    if !a.tolerance.is_finite() || a.tolerance < 0.0 {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--tolerance: expected a percentage ≥ 0, got {}",
            a.tolerance
        )));
    }
    if let Some(o) = a.output.as_ref().filter(|o| o.is_dir()) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "-o/--output {}: is a directory; -o writes one file in --format, --out DIR writes \
             every file of the run into a directory",
            o.display()
        )));
    }
    let load = |p: &Path| scalelab_reports::load_result(p).map_err(Failure::bad_input);
    let mut runs: Vec<(String, RunResult)> = Vec::new();
    if let Some(b) = &a.baseline {
        runs.push((b.display().to_string(), load(b)?));
    }
    for p in &a.inputs {
        runs.push((p.display().to_string(), load(p)?));
    }
    scalelab_reports::distinct_labels(&mut runs);
    if a.merge {
        let docs: Vec<RunResult> = runs.drain(..).map(|(_, r)| r).collect();
        let merged = scalelab_loadgen::merge(&docs).map_err(Failure::bad_input)?;
        runs.push(("merged".to_string(), merged));
    }

    let to_stdout = a.output.as_ref().is_none_or(|o| o.as_os_str() == "-");
    let color = to_stdout
        && a.format == ReportFormat::Text
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());

    if runs.len() == 1 {
        let (_, r) = &runs[0];
        let bytes = render_one(r, a.format, color).map_err(Failure::runtime)?;
        emit(&a.output, &bytes)?;
        if let Some(dir) = &a.out {
            scalelab_reports::write_bundle(dir, r, &BundleOptions::default())
                .map_err(Failure::runtime)?;
        }
        let md = MarkdownExporter.render(r).map_err(Failure::runtime)?;
        step_summary(&String::from_utf8_lossy(&md))?;
        let failures = scalelab_reports::slo_failures(r);
        if failures.is_empty() {
            return Ok(Code::Ok);
        }
        for (v, c) in &failures {
            eprintln!(
                "slo breach: {v}: {} = {} (threshold {} {})",
                c.name, c.actual, c.threshold, c.unit
            );
        }
        return Ok(Code::SloBreach);
    }

    let (base, others) = runs.split_first().expect("two or more runs");
    let others: Vec<(&str, &RunResult)> = others.iter().map(|(l, r)| (l.as_str(), r)).collect();
    let cmp = scalelab_reports::compare((base.0.as_str(), &base.1), &others, a.tolerance);
    let bytes = render_comparison(&cmp, a.format, color).map_err(Failure::runtime)?;
    emit(&a.output, &bytes)?;
    if let Some(dir) = &a.out {
        scalelab_reports::write_comparison(dir, &runs, &cmp).map_err(Failure::runtime)?;
    }
    step_summary(&cmp.to_markdown())?;
    if cmp.failed() {
        for d in cmp.regressions() {
            eprintln!(
                "regression: {}: {}: {} {} -> {} (tolerance {}%)",
                d.run, d.variant, d.metric, d.baseline, d.value, a.tolerance
            );
        }
        for s in &cmp.slo_failures {
            eprintln!("slo breach: {s}");
        }
        return Ok(Code::SloBreach);
    }
    Ok(Code::Ok)
}

fn render_one(
    r: &RunResult,
    format: ReportFormat,
    color: bool,
) -> Result<Vec<u8>, scalelab_reports::ReportError> {
    match format {
        ReportFormat::Text => TextExporter { color }.render(r),
        ReportFormat::Md => MarkdownExporter.render(r),
        ReportFormat::Json => JsonExporter.render(r),
        ReportFormat::Csv => CsvExporter.render(r),
        ReportFormat::Junit => JunitExporter.render(r),
        ReportFormat::Html => HtmlExporter::default().render(r),
    }
}

fn render_comparison(
    c: &Comparison,
    format: ReportFormat,
    color: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    Ok(match format {
        ReportFormat::Text => c.to_text(color).into_bytes(),
        ReportFormat::Md => c.to_markdown().into_bytes(),
        ReportFormat::Json => c.to_json()?.into_bytes(),
        ReportFormat::Csv => c.to_csv().into_bytes(),
        ReportFormat::Junit => c.to_junit().into_bytes(),
        ReportFormat::Html => c.to_html().into_bytes(),
    })
}

/// Writes to `-o FILE`, or standard output.
fn emit(output: &Option<PathBuf>, bytes: &[u8]) -> Result<(), Failure> {
    match output {
        Some(p) if p.as_os_str() != "-" => std::fs::write(p, bytes)
            .with_context(|| format!("writing {}", p.display()))
            .map_err(Failure::runtime),
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Appends markdown to the file named by `GITHUB_STEP_SUMMARY`, when set.
fn step_summary(md: &str) -> Result<(), Failure> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening GITHUB_STEP_SUMMARY {}", path.display()))
        .map_err(Failure::runtime)?;
    writeln!(f, "{md}")
        .with_context(|| format!("writing GITHUB_STEP_SUMMARY {}", path.display()))
        .map_err(Failure::runtime)
}
