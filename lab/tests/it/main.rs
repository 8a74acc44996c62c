//! Tests of `scalelab-lab` through its public API: one binary, one module per area.

mod knative;
