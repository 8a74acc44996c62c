//! End-to-end tests of the `scalelab` command: one test binary, one module per area.

mod azure;
mod docs;
mod fleet;
mod hardening;
mod knative;
mod kpa;
mod live;
mod live_fleet;
mod load;
mod report;
mod router;
mod serve;
mod sim;
mod support;
mod tune;
mod validate;
