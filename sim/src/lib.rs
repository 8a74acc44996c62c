//! scalelab's discrete-event simulator: the simulated platform (arrivals, activator, instances,
//! autoscaler ticks) built from `scalelab-core`'s policies, in virtual integer time.
#![forbid(unsafe_code)]
