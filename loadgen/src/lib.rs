//! scalelab's load generator: open-loop (intended send times from the scenario's arrival
//! process, latency from the intended time) and closed-loop HTTP load on tokio + hyper.
#![forbid(unsafe_code)]
