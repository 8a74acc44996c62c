//! What the platform asks its driver to do, and what the driver tells it back.

use std::time::Duration;

use crate::ids::{InstId, ReqId, RevId};
use crate::time::Time;

/// One thing the driver must do after a transition, in the order the platform asked.
///
/// The simulator turns each effect into an event-queue push (or nothing); the live runtime
/// into a task, a oneshot answer, a process start or stop, or a timer. Effects are plain
/// values of at most 32 bytes (they are the simulator's hot path); the event log's entries
/// come separately, from [`Platform::log_entries`](super::Platform::log_entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start instance `inst` of revision `rev`. A synthetic instance is ready `cold` after now
    /// (its sampled start-up time); a real process is ready when its probe passes. Wait
    /// `backoff` before starting it (a crash-looping command). Report readiness with
    /// [`Platform::on_instance_ready`](super::Platform::on_instance_ready), a process that dies
    /// with [`Platform::on_instance_lost`](super::Platform::on_instance_lost).
    ///
    /// What a live driver needs besides (the crash-loop back-off, the progress deadline) is in
    /// [`Platform::instance_plan`](super::Platform::instance_plan).
    StartInstance {
        /// The new instance.
        inst: InstId,
        /// Its revision.
        rev: RevId,
        /// The sampled start-up time (zero when not sampled: warm at start, or a real process).
        cold: Duration,
    },
    /// Stop instance `inst`: it takes no more requests. It is gone `shutdown` after now
    /// (synthetic), or once its process exits (SIGTERM, grace, SIGKILL); report that with
    /// [`Platform::on_instance_stopped`](super::Platform::on_instance_stopped).
    StopInstance {
        /// The instance.
        inst: InstId,
        /// The revision's shutdown time.
        shutdown: Duration,
    },
    /// A request starts executing on an instance: send it there (live), or schedule its end
    /// (simulated). Report the end with
    /// [`Platform::on_request_done`](super::Platform::on_request_done). Under the instance
    /// performance model (`[service] cpu_share` > 0) its end is not known yet:
    /// [`Serve::ends_at`] is [`Serve::LATER`] and an [`Effect::Finish`] follows.
    Serve(Serve),
    /// The performance model decided when a request that is executing ends (its CPU work is
    /// done and `ends_at` adds its waiting, capped at its deadline): schedule that end
    /// (simulated), or have the synthetic instance answer then (live; an end that is a timeout
    /// is left to the driver's own deadline).
    Finish(Serve),
    /// The request that just arrived waits (in the activator, an instance's queue-proxy or for
    /// its own cold start) until it starts, or until `deadline`, when the driver calls
    /// [`Platform::on_timeout`](super::Platform::on_timeout).
    Wait {
        /// The request.
        req: ReqId,
        /// Its timeout.
        deadline: Time,
    },
    /// The platform answers the request itself: it never reached an instance. The request is
    /// finished in the platform's books.
    Reply {
        /// The request.
        req: ReqId,
        /// The answer.
        reply: Reply,
    },
    /// Revision `rev` gave up: its instances failed to start
    /// [`Config::max_start_failures`](super::Config::max_start_failures) times in a row. Its
    /// waiting requests were answered ([`Reply::RevisionFailed`]), new ones are answered so at
    /// once, and no instance of it starts again. A live driver reports it and ends the run.
    RevisionFailed {
        /// The revision.
        rev: RevId,
    },
    /// Call [`Platform::on_timer`](super::Platform::on_timer) with `timer` at `at`.
    Timer {
        /// When.
        at: Time,
        /// Which.
        timer: Timer,
    },
}

/// A request that starts executing. The rest of what a live driver needs to send it (its
/// service time, deadline, revision) is in [`Platform::request`](super::Platform::request).
///
/// Effects are kept small (they are the simulator's hot path): this one is 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Serve {
    /// The request.
    pub req: ReqId,
    /// Where it runs.
    pub inst: InstId,
    /// When it ends under the model (its service time plus the modelled proxy hop, capped at
    /// its deadline): the simulator's completion time; [`Serve::LATER`] when the performance
    /// model tells it later ([`Effect::Finish`]).
    pub ends_at: Time,
    /// True when `ends_at` is the deadline: the model says it times out while running.
    pub times_out: bool,
}

impl Serve {
    /// The `ends_at` of a request whose end the performance model decides later.
    pub const LATER: Time = Time::MAX;

    /// True when its end comes later, in an [`Effect::Finish`].
    pub fn later(&self) -> bool {
        self.ends_at == Self::LATER
    }
}

/// Why the platform answered a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The keepalive pool is at `max_instances` with none idle (429).
    MaxInstances,
    /// The activator's queue is full (503).
    ActivatorQueueFull,
    /// The instance's queue-proxy is full (503).
    ProxyQueueFull,
    /// Its timeout passed while it waited (504).
    Timeout,
    /// The instance it waited for died while starting (502).
    InstanceFailed,
    /// The platform is shutting down (503).
    ShuttingDown,
    /// The revision asked for does not exist (yet): 404.
    UnknownRevision,
    /// The client went away while the request waited (499, nginx's "client closed request";
    /// nobody reads it).
    ClientClosed,
    /// The revision's instances keep failing to start: it gave up (503).
    RevisionFailed,
}

impl Reply {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Reply::MaxInstances => 429,
            Reply::ActivatorQueueFull
            | Reply::ProxyQueueFull
            | Reply::ShuttingDown
            | Reply::RevisionFailed => 503,
            Reply::Timeout => 504,
            Reply::InstanceFailed => 502,
            Reply::UnknownRevision => 404,
            Reply::ClientClosed => 499,
        }
    }

    /// The reason the router states (`x-scalelab-reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Reply::MaxInstances => "max-instances",
            Reply::ActivatorQueueFull => "activator-queue-full",
            Reply::ProxyQueueFull => "pending-request-queue-full",
            Reply::Timeout => "timeout",
            Reply::InstanceFailed => "instance-failed",
            Reply::ShuttingDown => "shutting-down",
            Reply::UnknownRevision => "unknown-revision",
            Reply::ClientClosed => "client-closed",
            Reply::RevisionFailed => "revision-failed",
        }
    }
}

/// The platform's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// A whole second: series buckets, the metric scrape, and on even seconds the decider's
    /// tick.
    Second,
    /// The revision's reconciler (a requeue, or a change that needs reconciling).
    Reconcile(RevId),
    /// The revision's keepalive pool (or Cloud Run's idle retention): an idle instance may
    /// have expired.
    Expire(RevId),
    /// The instance's CPU (the performance model): a CPU phase may have ended, or a request in
    /// its CPU phase reached its deadline.
    Cpu(InstId),
    /// The revision's `created_at`: it comes into existence.
    Create(RevId),
    /// A `[[rollouts]]` entry (by index): its request, or its next traffic step.
    Rollout(u16),
}

/// How a request that was executing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The instance answered (any status: the platform delivered it).
    Answered,
    /// Its timeout passed while it ran (504).
    TimedOut,
    /// The instance failed it: connection refused or reset, process gone (502).
    Failed,
    /// The client went away while it executed; the router abandoned it (499).
    ClientClosed,
}
