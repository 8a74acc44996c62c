//! End-to-end tests of the `scalelab` command: one test binary, one module per area.

mod report;
mod support;
mod validate;
