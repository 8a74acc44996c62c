//! scalelab's core: the sans-IO policies and models that the simulator and the live runtime
//! both drive.
//!
//! Nothing in this crate reads a clock, sleeps, spawns or draws from a global RNG: every entry
//! point takes `now` ([`time::Time`], integer nanoseconds since the run started) and, where it
//! needs randomness, a generator passed in by the caller ([`rng::SimRng`]). That is what makes a
//! simulated run and a live run of the same scenario comparable.
//!
//! - [`time`]: the `Time` type.
//! - [`duration`]: durations with units (`"250ms"`, `"30s"`).
//! - [`rng`]: one master seed, one named stream per component.
//! - [`scenario`]: the scenario file format, parsed (raw) and resolved (defaults, checks).
//! - [`workload`]: arrival processes and service / cold-start distributions.
//! - [`autoscaler`]: Knative's KPA (metric windows, decider, scaler gating) and the keepalive
//!   autoscaler.
//! - [`router`]: the queue-proxy breaker, the activator and its load-balancing policies.
//! - [`billing`]: what a run costs under each platform's billing rules.
//! - [`result`]: the result document every mode writes (the JSON contract).
//! - [`measure`]: latency histograms, time integrals and the time series of a run.
//! - [`event`]: the event vocabulary shared by the simulator and the runtime.
//! - [`estimate`]: the work a scenario asks for, estimated before a run, and its limits.
//! - [`tune`]: `[tune]` searches: candidates, objective, Pareto front, shards.
//! - [`Error`]: every error of the crate in one type (each module also has its own).
//!
//! ```
//! use scalelab_core::scenario::Scenario;
//! let s = Scenario::from_toml_str(r#"
//!     name = "hello"
//!     duration = "1m"
//!     [[workload.phases]]
//!     duration = "1m"
//!     arrival = { process = "poisson", rate = 5 }
//! "#, "inline.toml".as_ref()).unwrap();
//! assert_eq!(s.name, "hello");
//! ```

#![forbid(unsafe_code)]

pub mod autoscaler;
pub mod billing;
pub mod cluster;
pub mod duration;
mod error;
pub mod estimate;
pub mod event;
pub mod fleet_totals;
pub mod ids;
pub mod measure;
pub mod platform;
pub mod result;
pub mod rng;
pub mod router;
pub mod scenario;
#[doc(hidden)]
pub mod testing;
pub mod time;
pub mod tune;
pub mod workload;

#[cfg(test)]
mod docs_tests;

pub use error::Error;
pub use time::Time;
