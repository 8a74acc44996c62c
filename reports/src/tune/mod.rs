//! The answer of a `[tune]` search: the terminal text (the best candidate, the Pareto front) and
//! the Pareto chart (every full-horizon candidate at its mean cost and p99, the front with ±1 sd
//! bars over seeds, the SLO line, the winner), from the tune document alone.

mod chart;
mod text;

pub use chart::{pareto_png, pareto_svg};
pub use text::render as render_text;
