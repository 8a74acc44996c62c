//! scalelab's reports: result documents rendered as text, markdown, JSON, CSV, JUnit XML, charts
//! (SVG/PNG) and one self-contained HTML page; comparisons between runs.
//!
//! Every renderer reads only a [`RunResult`] (the JSON contract of docs/results.md), so any saved result
//! can be re-rendered later without re-running anything.
//!
//! Key items:
//! - [`Exporter`]: one type per output format ([`TextExporter`], [`MarkdownExporter`],
//!   [`JsonExporter`], [`CsvExporter`], [`JunitExporter`], [`HtmlExporter`]), as in hyperfine.
//! - [`charts`]: the charts, drawn with plotters as SVG or PNG with a bundled font.
//! - [`write_bundle`]: everything for one run into a directory (what `sim --out DIR` writes).
//! - [`compare()`]: two or more runs side by side, with deltas and regressions.
//! - [`load_result`]: reads a saved result document and checks its schema version;
//!   [`load_text`]: the text summary of a `scalelab load` result.
//! - [`tune`]: the answer of a `[tune]` search as text and as a Pareto chart.
//!
//! ```
//! use scalelab_core::result::{Mode, RunResult, VariantResult};
//! let r = RunResult {
//!     variants: vec![VariantResult { name: "baseline".into(), ..Default::default() }],
//!     ..RunResult::new("hello", 7, Mode::Sim, 60.0)
//! };
//! let text = scalelab_reports::render_text(&r, false);
//! assert!(text.contains("baseline"));
//! ```
//!
//! Output is deterministic: the same document renders to the same bytes (numbers are formatted
//! with fixed rules, maps are ordered), which is what makes the snapshot tests meaningful.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bundle;
pub mod charts;
mod compare;
mod exporters;
mod fidelity;
#[cfg(test)]
mod fixture;
mod fmt;
mod html;
mod load;
mod runs;
mod scenario;
mod table;
mod tradeoff;
pub mod tune;

use scalelab_core::result::RunResult;

pub use bundle::{BundleOptions, write_bundle};
pub use compare::{Comparison, MetricDelta, RunInfo, compare};
pub use exporters::{
    CsvExporter, JsonExporter, JunitExporter, MarkdownExporter, TextExporter, slo_failures,
};
pub use fidelity::{DEFAULT_TOLERANCES, FidelityRow, fidelity, fidelity_markdown, fidelity_text};
pub use fmt::{shell_join, shell_quote};
pub use html::HtmlExporter;
pub use load::{load_result, load_text, parse_result};
pub use runs::{distinct_labels, write_comparison};
pub use scenario::{
    arrival_text, dist_text, scenario_json, scenario_text, work_estimate_json, work_estimate_text,
};
pub use tradeoff::tradeoff_sentences;

/// Everything that can go wrong while loading or rendering a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Reading or writing a file failed (fatal for that file).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is not a scalelab result document, or one of an unsupported version (bad input).
    #[error("{path}: {message}")]
    BadInput {
        /// The file (or `-`).
        path: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A chart could not be drawn (a bug or an unusable number in the document).
    #[error("chart {chart}: {message}")]
    Chart {
        /// The chart's file stem.
        chart: String,
        /// The plotting library's message.
        message: String,
    },
    /// Serializing the document failed (a bug: the document types always serialize).
    #[error("serializing: {0}")]
    Json(#[from] serde_json::Error),
}

/// One output format (hyperfine's exporter pattern).
pub trait Exporter {
    /// Renders one run.
    fn render(&self, r: &RunResult) -> Result<Vec<u8>, ReportError>;
}

/// The terminal summary of a run; `color` adds ANSI colours (the caller decides: stdout is a
/// terminal and `NO_COLOR` is unset).
pub fn render_text(r: &RunResult, color: bool) -> String {
    exporters::text_summary(r, color)
}
