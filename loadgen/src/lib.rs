//! scalelab's load generator: HTTP load on tokio + hyper that measures honestly.
//!
//! It is open-loop by default: the scenario's arrival process (the simulator's own seeded
//! generator) gives every request an intended send time, latency is measured from that time,
//! and the generator's own delay (send lag) is a metric of its own, so neither a stalled server
//! nor a stalled generator can hide in the tail (coordinated omission). A closed loop (wrk's
//! model) measures peak throughput. Latencies go into fixed-memory HDR histograms; results are
//! the same [`RunResult`](scalelab_core::result::RunResult) document the simulator writes
//! (`mode: "load"`), with the full histogram embedded so shards merge exactly ([`merge`]).
//!
//! - [`LoadConfig`], [`LoopMode`]: what to run; [`run`]: run it; [`LoadReport`]: what it measured.
//! - [`to_result`]: the result document; [`merge`]: combine shards' documents exactly;
//!   [`summary`]: the text table.
//! - [`Schedule`], [`Shard`]: the planned requests of one shard of the arrival schedule.
//! - [`Outcome`]: how each request ended (status class, connect refused, reset, timeout, …).
//!
//! ```no_run
//! # async fn demo() -> Result<(), scalelab_loadgen::LoadError> {
//! use std::time::Duration;
//! use scalelab_core::workload::{ArrivalSpec, Phase, WorkloadSpec};
//! use scalelab_loadgen::{LoadConfig, run, to_result};
//!
//! let d = Duration::from_secs(10);
//! let workload = WorkloadSpec {
//!     phases: vec![Phase { duration: d, arrival: ArrivalSpec::Poisson { rate: 200.0 } }],
//! };
//! let cfg = LoadConfig::new("http://127.0.0.1:8080/", workload, d);
//! let report = run(&cfg).await?;
//! let doc = to_result(&cfg, &report);
//! println!("p99 {} ms", doc.variants[0].latency_ms.p99);
//! # Ok(()) }
//! ```
//!
//! Guarantees: a run ends by `duration + grace` whatever the target does (refusing, resetting,
//! stalling, answering garbage); every request sent is counted in exactly one outcome; memory
//! does not grow with the number of requests. Wall-clock time is read only in `clock.rs`.
#![forbid(unsafe_code)]

mod clock;
mod config;
mod conn;
mod dispatch;
mod document;
mod engine;
mod error;
mod h1;
mod hdrlog;
mod outcome;
mod output;
mod pool;
mod recorder;
mod schedule;
mod target;
mod verdict;

pub use config::{DEFAULT_MAX_PENDING, LoadConfig, LoopMode};
pub use conn::TlsOptions;
pub use document::{decode_histogram, encode_histogram, merge, to_result};
pub use engine::{LoadReport, run, run_blocking};
pub use error::LoadError;
pub use outcome::{Bucket, OUTCOMES, Outcome};
pub use recorder::{
    HIST_MAX_US, HIST_SIGFIG, Recorder, SecondRow, new_histogram, value_at_percentile,
};
pub use schedule::{Planned, Schedule, Shard};
pub use target::{Scheme, Target};
pub use verdict::{Failed, SLO_KEYS, SloFlags, failed};
