//! scalelab's load generator: HTTP load on tokio that measures honestly and costs little.
//!
//! It is open-loop by default: the scenario's arrival process (the simulator's own seeded
//! generator) gives every request an intended send time, latency is measured from that time,
//! and the *send lag* (written to a connection − intended) is a metric of its own, so neither a
//! stalled server nor a stalled generator can hide in the tail (coordinated omission). A closed
//! loop (wrk's model) measures peak throughput. Latencies go into fixed-memory HDR histograms;
//! results are the same [`RunResult`](scalelab_core::result::RunResult) document the simulator
//! writes (`mode: "load"`), with the full histograms embedded so shards merge exactly
//! ([`merge`]).
//!
//! - [`LoadConfig`], [`LoopMode`], [`TlsOptions`]: what to run; [`run`]: run it;
//!   [`LoadReport`]: what it measured.
//! - [`to_result`]: the result document; [`merge`]: combine shards' documents exactly;
//!   [`value_at_percentile`]: percentiles as HdrHistogram computes them.
//! - [`Schedule`], [`Shard`]: the planned requests of one shard of the arrival schedule.
//! - [`Outcome`]: how each intended request ended (status class, refused, reset, timeout,
//!   `not_sent`, `queue_full`, …).
//! - [`SloFlags`], [`failed`]: `--slo KEY=VALUE` thresholds and the "nothing succeeded" rule.
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
//! Guarantees:
//! - every intended request ends in exactly one [`Outcome`]; the counts add up to the intended
//!   count whatever the target does (refusing, resetting, stalling, answering garbage, far
//!   slower than the offered rate);
//! - a run ends by `duration + grace` (plus the connect timeout of a connection being opened);
//! - memory does not grow with the number of requests: requests waiting for a connection are
//!   capped by [`LoadConfig::max_pending`] (24 bytes each), the rest are histograms and one row
//!   per second;
//! - wall-clock time is read only in `clock.rs`.
//!
//! Caveats: HTTP/1.1 requests go through the crate's own client ([`h1`](crate) module), which
//! frames responses by `Content-Length`, chunked coding or the connection's close and does not
//! follow redirects; HTTP/2 goes through hyper, and its send time is the hand-off to a ready
//! connection rather than the socket write.
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
mod writer;

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
