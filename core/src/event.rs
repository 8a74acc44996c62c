//! The event vocabulary shared by the simulator and the live runtime (`--events FILE`, JSON
//! lines, one `{"t_s": …, "variant": …, "type": …, "data": {…}}` object per line). Reports and
//! tools consume only these. Request-level events are not logged (a run has millions); the
//! lifecycle of every instance and every autoscaler decision is.

use serde::{Deserialize, Serialize};

/// One state change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An instance was created and begins its cold start.
    ColdStartBegan {
        /// Revision name.
        revision: String,
        /// Instance number (unique in the run).
        instance: u64,
        /// The sampled start-up time, seconds.
        cold_start_s: f64,
    },
    /// An instance finished starting and accepts requests.
    InstanceReady {
        /// Revision name.
        revision: String,
        /// Instance number.
        instance: u64,
    },
    /// An instance was chosen for removal; it takes no new requests and finishes its own.
    InstanceDraining {
        /// Revision name.
        revision: String,
        /// Instance number.
        instance: u64,
    },
    /// An instance is gone.
    InstanceStopped {
        /// Revision name.
        revision: String,
        /// Instance number.
        instance: u64,
        /// Seconds from creation to stop.
        lifetime_s: f64,
    },
    /// The decider ran (a 2 s tick or a poke) and produced a valid decision.
    ScaleDecision {
        /// Revision name.
        revision: String,
        /// Desired pods.
        desired: i32,
        /// Excess burst capacity.
        excess_burst_capacity: i32,
        /// Panic mode.
        panic: bool,
        /// Ready pods seen.
        ready: u32,
        /// True for a poke (first request to a revision at zero).
        poke: bool,
    },
    /// The reconciler changed the Deployment's replicas.
    ReplicasChanged {
        /// Revision name.
        revision: String,
        /// New replica count.
        replicas: u32,
    },
    /// The activator entered or left the request path.
    ModeChanged {
        /// Revision name.
        revision: String,
        /// "proxy" or "serve".
        mode: String,
    },
    /// A revision with `created_at` came into existence; its initial instances start.
    RevisionCreated {
        /// Revision name.
        revision: String,
    },
    /// A revision became Ready: its initial instances have been up (logged when the scenario
    /// has rollouts or routes, which wait for it).
    RevisionReady {
        /// Revision name.
        revision: String,
    },
    /// A `[[rollouts]]` entry was asked for.
    RolloutRequested {
        /// Its index in `[[rollouts]]`.
        rollout: usize,
        /// The split it moves to, percent by revision (revisions at 0 left out).
        traffic: std::collections::BTreeMap<String, f64>,
    },
    /// A rollout began to move traffic (every revision gaining traffic is Ready).
    RolloutStarted {
        /// Its index in `[[rollouts]]`.
        rollout: usize,
    },
    /// A rollout's split reached its target.
    RolloutFinished {
        /// Its index in `[[rollouts]]`.
        rollout: usize,
    },
    /// The percentage split changed (a rollout's step).
    TrafficChanged {
        /// The split from now on, percent by revision (revisions at 0 left out).
        traffic: std::collections::BTreeMap<String, f64>,
    },
    /// An instance's process exited on its own (live runs of `--cmd` instances): while it
    /// started, or while it served.
    InstanceExited {
        /// Revision name.
        revision: String,
        /// Instance number.
        instance: u64,
        /// How it ended: `exit status N`, `signal N`, or why it was given up on (`not ready
        /// after …`).
        status: String,
        /// True when it exited before it passed its readiness probe.
        starting: bool,
        /// Seconds from its start to its exit.
        lifetime_s: f64,
        /// Its last lines of standard error (at most 10).
        stderr_tail: Vec<String>,
    },
    /// A revision gave up: its instances failed to start this many times in a row. Its
    /// waiting requests are answered 503 and the live run ends as failed.
    RevisionFailed {
        /// Revision name.
        revision: String,
        /// Failed starts in a row.
        start_failures: u32,
    },
    /// `[cluster]`: the Cluster Autoscaler added a node (or the cluster starts with it).
    NodeAdded {
        /// Node number (in order of creation).
        node: u32,
        /// When pods can run on it, scenario seconds.
        ready_at_s: f64,
    },
    /// `[cluster]`: a node finished provisioning.
    NodeReady {
        /// Node number.
        node: u32,
    },
    /// `[cluster]`: the Cluster Autoscaler removed an empty node.
    NodeRemoved {
        /// Node number.
        node: u32,
    },
    /// `[cluster]`: an instance's pod fits no ready node and waits (Pending).
    PodPending {
        /// Revision name.
        revision: String,
        /// Instance number.
        instance: u64,
    },
    /// `[cluster]`: a Pending pod was placed on a node; its cold start begins now.
    PodPlaced {
        /// Revision name.
        revision: String,
        /// Instance number.
        instance: u64,
        /// Node number.
        node: u32,
        /// How long it was Pending, seconds.
        waited_s: f64,
    },
    /// The live runtime fell behind a deadline.
    DriverLag {
        /// How late, seconds.
        lag_s: f64,
    },
}

/// An event with its time and the run (variant) it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// Seconds since the run started.
    pub t_s: f64,
    /// The variant.
    pub variant: String,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}
