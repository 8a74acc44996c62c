//! scalelab's live runtime: a real router/activator on tokio + hyper in front of real instances,
//! scaled by the same `scalelab-core` policies as the simulator.
#![forbid(unsafe_code)]
