//! The output directory of a run: everything `scalelab report DIR` needs to re-render it.

use std::path::{Path, PathBuf};

use scalelab_core::result::RunResult;

use crate::exporters::{markdown_summary, timeseries_csv};
use crate::{Exporter, HtmlExporter, JsonExporter, ReportError, charts};

/// What [`write_bundle`] writes besides `result.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleOptions {
    /// Write each chart as `NAME.svg`.
    pub svg: bool,
    /// Write each chart as `NAME.png`.
    pub png: bool,
    /// Write `report.html` (charts inline).
    pub html: bool,
    /// Chart size in pixels.
    pub chart_size: (u32, u32),
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            svg: true,
            png: true,
            html: true,
            chart_size: charts::SIZE,
        }
    }
}

/// Writes `result.json`, `timeseries.csv` (every variant, when there is a series), the charts
/// (`*.svg`, `*.png`), `report.html` and `report.md` into `dir` (created if missing). Returns
/// the paths written, in that order. Each variant's `timeseries` field is set to
/// `timeseries.csv` in the written document when the run has a series and the field was unset.
pub fn write_bundle(
    dir: &Path,
    r: &RunResult,
    opts: &BundleOptions,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    let mut write = |name: &str, bytes: &[u8]| -> Result<(), ReportError> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|source| ReportError::Io {
            path: p.display().to_string(),
            source,
        })?;
        written.push(p);
        Ok(())
    };

    let has_series = r.variants.iter().any(|v| v.series.is_some());
    let mut doc = r.clone();
    if has_series {
        for v in doc.variants.iter_mut().filter(|v| v.series.is_some()) {
            v.timeseries.get_or_insert_with(|| "timeseries.csv".into());
        }
    }
    write("result.json", &JsonExporter.render(&doc)?)?;
    if has_series {
        write("timeseries.csv", timeseries_csv(&doc).as_bytes())?;
    }
    for c in charts::charts_for(&doc) {
        if opts.svg {
            let svg = charts::render_svg(&doc, &c, opts.chart_size)?;
            write(&format!("{}.svg", c.name), svg.as_bytes())?;
        }
        if opts.png {
            let png = charts::render_png(&doc, &c, opts.chart_size)?;
            write(&format!("{}.png", c.name), &png)?;
        }
    }
    if opts.html {
        let html = HtmlExporter {
            chart_size: opts.chart_size,
        }
        .render(&doc)?;
        write("report.html", &html)?;
    }
    write("report.md", markdown_summary(&doc).as_bytes())?;
    Ok(written)
}
