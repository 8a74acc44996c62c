//! The simulator's hook for `[cluster]`: the node pool ([`Cluster`]) between the platform's
//! `StartInstance` effect and the instance's readiness.
//!
//! | the platform / the queue says | the driver calls |
//! |---|---|
//! | `StartInstance { inst, rev, cold }` | [`Nodes::start`]: placed → ready at now + `cold`; no room → Pending, `cold` kept |
//! | `StopInstance { inst }` | [`Nodes::stop`]: a Pending pod is withdrawn (it never started) |
//! | the instance stopped (`Stopped(inst)`) | [`Nodes::stopped`]: its pod's room is freed; Pending pods that now fit are placed |
//! | the pool's deadline (`Ev::Nodes`) | [`Nodes::on_timer`]: nodes get ready (Pending pods placed) or are removed |
//!
//! After each call the driver takes [`Nodes::drain`]: the node changes (for `knative-nodes`
//! and the event log: [`platform::Platform::on_node_event`]), the pods that went Pending and
//! the Pending pods placed, each with its readiness time (placement + its cold start), which
//! the driver schedules. A Pending pod's start-up time (which the platform measures from its
//! creation to its readiness), the requests waiting for it and their cold-start latencies
//! therefore include the wait for a node.
//!
//! Pods are keyed by (service index, instance), so one pool can serve every platform of a
//! fleet; a single-service run is service 0. Without `[cluster]` the driver holds no hook and
//! nothing changes.

use std::collections::HashMap;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::cluster::{Cluster, ClusterResult, ClusterSettings, NodeEvent, NodeId, PodSize};
use scalelab_core::ids::{InstId, RevId};
use scalelab_core::scenario::Scenario;

/// A pod: (service index, instance).
pub(crate) type PodKey = (u32, InstId);

/// What happened in the pool, for the driver to carry out (see [`Nodes::drain`]).
#[derive(Default)]
pub(crate) struct NodeNews {
    /// Node changes, in order.
    pub events: Vec<NodeEvent>,
    /// Pods that went Pending.
    pub pending: Vec<PodKey>,
    /// Pending pods placed: (pod, node, how long it waited, when its instance is ready).
    pub placed: Vec<(PodKey, NodeId, Duration, Time)>,
}

impl NodeNews {
    /// True when there is nothing to carry out.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.pending.is_empty() && self.placed.is_empty()
    }
}

/// The node pool of one simulated run and what its pods need.
pub(crate) struct Nodes {
    cluster: Cluster<PodKey>,
    /// Each service's revisions' pod requests.
    sizes: Vec<Vec<PodSize>>,
    /// The sampled cold start of each Pending pod.
    cold: HashMap<PodKey, Duration>,
    /// The pool's deadline as scheduled in the event queue.
    timer_at: Option<Time>,
    news: NodeNews,
    /// Check the pool's invariants after every change.
    check: bool,
    /// The first invariant the pool broke.
    violation: Option<String>,
}

/// Each revision's pod request under `c`.
pub(crate) fn pod_sizes(c: &ClusterSettings, s: &Scenario) -> Vec<PodSize> {
    s.revisions
        .iter()
        .map(|r| c.pod_size(r.service.vcpu, r.service.memory_gib))
        .collect()
}

impl Nodes {
    /// The pool at t = 0 for the services whose pod sizes are `sizes` (by service index).
    pub fn new(c: &ClusterSettings, sizes: Vec<Vec<PodSize>>, check: bool) -> Nodes {
        let mut n = Nodes {
            cluster: Cluster::new(c, Time::ZERO),
            sizes,
            cold: HashMap::new(),
            timer_at: None,
            news: NodeNews::default(),
            check,
            violation: None,
        };
        n.sync(Time::ZERO);
        n
    }

    /// The pool of a single-service scenario, or None without `[cluster]`.
    pub fn single(s: &Scenario, check: bool) -> Option<Nodes> {
        let c = s.cluster.as_ref()?;
        Some(Nodes::new(c, vec![pod_sizes(c, s)], check))
    }

    /// `StartInstance { inst, rev, cold }` of service `svc`: the instance's readiness time
    /// when its pod is placed now, None when it is Pending (its readiness comes in a later
    /// [`drain`](Self::drain)).
    pub fn start(
        &mut self,
        now: Time,
        svc: u32,
        inst: InstId,
        rev: RevId,
        cold: Duration,
    ) -> Option<Time> {
        let size = self
            .sizes
            .get(svc as usize)
            .and_then(|s| s.get(rev.index()))
            .copied()
            .unwrap_or_default();
        let key = (svc, inst);
        let placed = self.cluster.request(now, key, size);
        if placed.is_none() {
            self.cold.insert(key, cold);
            self.news.pending.push(key);
        }
        self.sync(now);
        placed.map(|_| now + cold)
    }

    /// `StopInstance { inst }` of service `svc`: a Pending pod is withdrawn.
    pub fn stop(&mut self, now: Time, svc: u32, inst: InstId) {
        if self.cluster.cancel(now, (svc, inst)) {
            self.cold.remove(&(svc, inst));
            self.sync(now);
        }
    }

    /// Service `svc`'s instance `inst` is gone: its pod's room is freed.
    pub fn stopped(&mut self, now: Time, svc: u32, inst: InstId) {
        if self.cluster.release(now, (svc, inst)) {
            self.sync(now);
        }
    }

    /// The pool's deadline: nodes get ready or go.
    pub fn on_timer(&mut self, now: Time) {
        if self.timer_at == Some(now) {
            self.timer_at = None;
        }
        self.cluster.on_timer(now);
        self.sync(now);
    }

    /// What happened since the last call, for the driver to carry out.
    pub fn drain(&mut self) -> NodeNews {
        std::mem::take(&mut self.news)
    }

    /// True when [`drain`](Self::drain) has something.
    pub fn has_news(&self) -> bool {
        !self.news.is_empty()
    }

    /// The deadline to schedule in the queue (`Ev::Nodes`), if a new one is needed: the pool's
    /// next deadline when nothing is scheduled for it yet or it moved earlier. A queued
    /// deadline that is no longer needed fires harmlessly.
    pub fn next_timer(&mut self, now: Time) -> Option<Time> {
        let d = self.cluster.next_deadline()?.max(now);
        match self.timer_at {
            Some(t) if t <= d && t >= now => None,
            _ => {
                self.timer_at = Some(d);
                Some(d)
            }
        }
    }

    /// The `cluster` section of the result, and the first invariant the pool broke (always
    /// checked at the end, after every change with `check`).
    pub fn finish(mut self, end: Time) -> (ClusterResult, Option<String>) {
        if self.violation.is_none()
            && let Err(e) = self.cluster.check()
        {
            self.violation = Some(format!("t={end}: cluster: {e}"));
        }
        (self.cluster.finish(end), self.violation)
    }

    /// After a change: collects node events and placed pods' readiness; checks invariants.
    fn sync(&mut self, now: Time) {
        self.news.events.extend(self.cluster.drain_events());
        for placed in self.cluster.drain_placed() {
            let cold = self.cold.remove(&placed.pod).unwrap_or_default();
            self.news
                .placed
                .push((placed.pod, placed.node, placed.waited, now + cold));
        }
        if self.check
            && self.violation.is_none()
            && let Err(e) = self.cluster.check()
        {
            self.violation = Some(format!("t={now}: cluster: {e}"));
        }
    }
}
