//! End-to-end tests of the `scalelab` command: one test binary, one module per area.

mod report;
mod serve;
mod sim;
mod kpa;
mod live;
mod load;
mod support;
mod tune;
mod validate;
