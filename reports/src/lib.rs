//! scalelab's reports: result documents rendered as text, markdown, JSON, CSV, charts (SVG/PNG)
//! and one self-contained HTML page; comparisons between runs.
#![forbid(unsafe_code)]

mod scenario;

pub use scenario::{arrival_text, dist_text, scenario_json, scenario_text};
