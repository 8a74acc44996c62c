//! scalelab's workflows as a library: what the `scalelab` command does beyond parsing its
//! arguments, reachable from code and tested here.
//!
//! This crate sits above the simulator, the live runtime, the load generator and the reports
//! (none of which may depend on another), so it holds what needs several of them:
//!
//! - [`Plan`]: a scenario made ready to run (seed, `--duration`, the runs selected).
//! - [`live`]: a live run: the runtime on loopback driven by the load generator (`run`).
//! - [`compare`]: the simulator and a live run side by side, metric by metric, with the slot
//!   overhead calibrated from the live run (`compare --calibrate`).
//! - [`tune`]: `[tune]` searches: the parallel rung loop, shard merging, outputs, the winner.
//! - [`azure`]: the Azure Functions 2019 and 2021 traces as fleet scenarios with a `[trace]`
//!   file (`import azure-2019`, `import azure-2021`), and synthetic traces in their layouts.
//! - [`knative`]: a scenario as a Knative Service manifest or `gcloud run` commands, and a
//!   manifest back into scenario tables.
//! - [`LabError`]: the one error type; [`LabError::is_bad_input`] separates input problems
//!   (exit code 2) from failures while running (exit code 1).
//!
//! ```
//! use scalelab_core::scenario::Scenario;
//! let s = Scenario::from_toml_str(r#"
//!     name = "hello"
//!     duration = "1m"
//!     [[workload.phases]]
//!     duration = "1m"
//!     arrival = { process = "poisson", rate = 5 }
//! "#, "hello.toml".as_ref()).unwrap();
//! let yaml = scalelab_lab::knative::manifest(&s, "hello", "gcr.io/p/hello:1", "hello.toml").unwrap();
//! assert!(yaml.contains("autoscaling.knative.dev/class: \"kpa.autoscaling.knative.dev\""));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod azure;
pub mod compare;
mod error;
pub mod knative;
pub mod live;
mod plan;
pub mod tune;

pub use error::LabError;
pub use plan::Plan;
