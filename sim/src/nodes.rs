//! The simulator's hook for `[cluster]`: the node pool ([`Cluster`]) between the platform's
//! `StartInstance` effect and the instance's readiness.
//!
//! | the platform / the queue says | the hook does |
//! |---|---|
//! | `StartInstance { inst, rev, cold }` | asks the pool for a node: placed → ready at now + `cold`; no room → Pending, `cold` kept |
//! | `StopInstance { inst }` of a Pending pod | withdraws it (it never started) |
//! | the instance stopped (`Stopped(inst)`) | frees its pod's room; Pending pods that now fit are placed |
//! | the pool's deadline (`Ev::Nodes`) | nodes get ready (Pending pods placed) or are removed |
//!
//! A Pending pod placed at `t` becomes ready at `t + cold`: its start-up time (which the
//! platform measures from its creation to its readiness), the requests waiting for it and
//! their cold-start latencies include the wait for a node. Node changes go to the platform
//! ([`platform::Platform::on_node_event`]) for `knative-nodes` and the event log.
//!
//! Without `[cluster]` the driver holds no hook and nothing changes.

use std::collections::HashMap;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::cluster::{Cluster, ClusterResult, PodSize};
use scalelab_core::ids::{InstId, RevId};
use scalelab_core::platform;
use scalelab_core::scenario::Scenario;

/// The node pool of one simulated platform and what its pods need.
pub(crate) struct Nodes {
    cluster: Cluster<InstId>,
    /// Each revision's pod request, by revision index.
    sizes: Vec<PodSize>,
    /// The sampled cold start of each Pending pod.
    cold: HashMap<InstId, Duration>,
    /// The pool's deadline as scheduled in the event queue.
    timer_at: Option<Time>,
    /// Check the pool's invariants after every change.
    check: bool,
    /// The first invariant the pool broke.
    violation: Option<String>,
}

impl Nodes {
    /// The pool at t = 0, or None without `[cluster]`.
    pub fn new(s: &Scenario, check: bool) -> Option<Nodes> {
        let c = s.cluster.as_ref()?;
        Some(Nodes {
            cluster: Cluster::new(c, Time::ZERO),
            sizes: s
                .revisions
                .iter()
                .map(|r| c.pod_size(r.service.vcpu, r.service.memory_gib))
                .collect(),
            cold: HashMap::new(),
            timer_at: None,
            check,
            violation: None,
        })
    }

    /// `StartInstance { inst, rev, cold }`: the instance's readiness time when its pod is
    /// placed now, None when it is Pending (its readiness comes from
    /// [`on_timer`](Self::on_timer) or [`stopped`](Self::stopped)).
    pub fn start(
        &mut self,
        now: Time,
        inst: InstId,
        rev: RevId,
        cold: Duration,
        p: &mut platform::Platform,
    ) -> Option<Time> {
        let size = self.sizes.get(rev.index()).copied().unwrap_or_default();
        let placed = self.cluster.request(now, inst, size);
        if placed.is_none() {
            self.cold.insert(inst, cold);
            p.on_pod_pending(inst);
        }
        self.sync(now, p, &mut Vec::new());
        placed.map(|_| now + cold)
    }

    /// `StopInstance { inst }`: a Pending pod is withdrawn.
    pub fn stop(&mut self, now: Time, inst: InstId, p: &mut platform::Platform) {
        if self.cluster.cancel(now, inst) {
            self.cold.remove(&inst);
            self.sync(now, p, &mut Vec::new());
        }
    }

    /// The instance is gone: its pod's room is freed; `ready` gets (instance, ready at) of
    /// the Pending pods placed in it.
    pub fn stopped(
        &mut self,
        now: Time,
        inst: InstId,
        p: &mut platform::Platform,
        ready: &mut Vec<(InstId, Time)>,
    ) {
        if self.cluster.release(now, inst) {
            self.sync(now, p, ready);
        }
    }

    /// The pool's deadline: nodes get ready or go; `ready` as in [`stopped`](Self::stopped).
    pub fn on_timer(
        &mut self,
        now: Time,
        p: &mut platform::Platform,
        ready: &mut Vec<(InstId, Time)>,
    ) {
        if self.timer_at == Some(now) {
            self.timer_at = None;
        }
        self.cluster.on_timer(now);
        self.sync(now, p, ready);
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

    /// The pool at t = 0 (its initial nodes) told to the platform.
    pub fn init(&mut self, p: &mut platform::Platform) {
        p.simulate_nodes();
        self.sync(Time::ZERO, p, &mut Vec::new());
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

    /// After a change: node events to the platform, placed pods' readiness, invariants.
    fn sync(&mut self, now: Time, p: &mut platform::Platform, ready: &mut Vec<(InstId, Time)>) {
        for ev in self.cluster.drain_events() {
            p.on_node_event(now, ev);
        }
        for placed in self.cluster.drain_placed() {
            let cold = self.cold.remove(&placed.pod).unwrap_or_default();
            p.on_pod_placed(placed.pod, placed.node, placed.waited);
            ready.push((placed.pod, now + cold));
        }
        if self.check
            && self.violation.is_none()
            && let Err(e) = self.cluster.check()
        {
            self.violation = Some(format!("t={now}: cluster: {e}"));
        }
    }
}
