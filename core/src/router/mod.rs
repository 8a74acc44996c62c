//! The request path: the queue-proxy breaker per instance, the activator's revision-level queue
//! and its load-balancing policies, traffic split across revisions. Sans-IO: randomness comes
//! from the generator the caller passes in.

pub mod lb;
pub mod revision;
pub mod rollout;

pub use revision::{InstId, Mode, Reject, ReqId, RevisionRouter, Route, Started, TrafficSplit};

use serde::Serialize;

/// How the activator picks an instance for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterPolicy {
    /// Knative's choice by container concurrency: power of two choices for cc = 0, first
    /// available for cc 1–3, round robin above 3.
    Knative,
    /// The most recently used free instance (Lambda, SimFaaS).
    NewestIdle,
    /// Uniformly random among instances with a free slot.
    Random,
    /// Round robin over instances with a free slot.
    RoundRobin,
    /// The instance with the fewest requests in flight.
    LeastLoaded,
}

impl RouterPolicy {
    /// Every policy's scenario name.
    pub const NAMES: &'static [&'static str] = &[
        "knative",
        "newest-idle",
        "random",
        "round-robin",
        "least-loaded",
    ];

    /// The policy for a scenario name.
    pub fn from_name(s: &str) -> Option<RouterPolicy> {
        Some(match s {
            "knative" => RouterPolicy::Knative,
            "newest-idle" => RouterPolicy::NewestIdle,
            "random" => RouterPolicy::Random,
            "round-robin" => RouterPolicy::RoundRobin,
            "least-loaded" => RouterPolicy::LeastLoaded,
            _ => return None,
        })
    }
}
