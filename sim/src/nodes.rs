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
//! Pods are keyed by (service index, instance): one pool serves every platform of a fleet
//! ([`Nodes::fleet`]: each service's pod sizes, and its own `pods` accounts), a single-service
//! run is service 0. In a fleet the pool's deadline belongs to the pool, not to a service (the
//! driver's `CLUSTER` owner), and its node changes are billed on a meter of their own. Without
//! `[cluster]` the driver holds no hook and nothing changes.

use std::collections::HashMap;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::cluster::{
    Cluster, ClusterResult, ClusterSettings, NodeEvent, NodeId, PodSize, PodsResult,
};
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

/// One service's pods in the pool (a fleet's `pods` section).
#[derive(Clone, Debug, Default)]
struct ServicePods {
    placed: u64,
    pending: u64,
    cancelled: u64,
    pending_now: u64,
    pending_max: u64,
    waited: u64,
    wait_ns: u128,
    wait_max_ns: u64,
    /// ∫ millicores requested by its placed pods dt (ns).
    mcpu_ns: u128,
    /// ∫ MiB requested by its placed pods dt (ns).
    mib_ns: u128,
}

/// The node pool of one simulated run and what its pods need.
pub(crate) struct Nodes {
    cluster: Cluster<PodKey>,
    /// Each service's revisions' pod requests.
    sizes: Vec<Vec<PodSize>>,
    /// The sampled cold start and the request of each Pending pod.
    cold: HashMap<PodKey, (Duration, PodSize)>,
    /// Per service, when [`Nodes::with_services`] asked for it: what its pods did.
    per_service: Option<Vec<ServicePods>>,
    /// The placed pods, when accounted per service: since when, and their request.
    placed_at: HashMap<PodKey, (Time, PodSize)>,
    /// The pool's deadline as scheduled in the event queue.
    timer_at: Option<Time>,
    /// The pool changed since [`next_timer`](Self::next_timer) last looked (its deadline
    /// depends on the pool alone, so an unchanged pool needs no new one).
    dirty: bool,
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
            per_service: None,
            placed_at: HashMap::new(),
            timer_at: None,
            dirty: true,
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

    /// The one pool of a fleet, shared by the pods of every service (`members`: each service
    /// as a single-service scenario, in order), accounting each service's pods on its own
    /// ([`finish_services`](Self::finish_services)); None without `[cluster]`.
    pub fn fleet(s: &Scenario, members: &[&Scenario], check: bool) -> Option<Nodes> {
        let c = s.cluster.as_ref()?;
        let sizes = members.iter().map(|m| pod_sizes(c, m)).collect();
        let mut n = Nodes::new(c, sizes, check);
        n.per_service = Some(vec![ServicePods::default(); members.len()]);
        Some(n)
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
        self.dirty = true;
        let placed = self.cluster.request(now, key, size);
        match placed {
            None => {
                self.cold.insert(key, (cold, size));
                self.news.pending.push(key);
                if let Some(p) = self.service(svc) {
                    p.pending += 1;
                    p.pending_now += 1;
                    p.pending_max = p.pending_max.max(p.pending_now);
                }
            }
            Some(_) => self.note_placed(now, key, size),
        }
        self.sync(now);
        placed.map(|_| now + cold)
    }

    /// `StopInstance { inst }` of service `svc`: a Pending pod is withdrawn.
    pub fn stop(&mut self, now: Time, svc: u32, inst: InstId) {
        if self.cluster.cancel(now, (svc, inst)) {
            self.dirty = true;
            self.cold.remove(&(svc, inst));
            if let Some(p) = self.service(svc) {
                p.cancelled += 1;
                p.pending_now -= 1;
            }
            self.sync(now);
        }
    }

    /// Service `svc`'s instance `inst` is gone: its pod's room is freed.
    pub fn stopped(&mut self, now: Time, svc: u32, inst: InstId) {
        if self.cluster.release(now, (svc, inst)) {
            self.dirty = true;
            if let Some((since, size)) = self.placed_at.remove(&(svc, inst)) {
                self.note_requested(svc, since, now, size);
            }
            self.sync(now);
        }
    }

    /// Service `svc`'s accounts, when kept.
    #[inline]
    fn service(&mut self, svc: u32) -> Option<&mut ServicePods> {
        self.per_service.as_mut()?.get_mut(svc as usize)
    }

    /// Pod `key` of `size` was placed at `now` (its requests count from now on).
    fn note_placed(&mut self, now: Time, key: PodKey, size: PodSize) {
        if let Some(p) = self.service(key.0) {
            p.placed += 1;
            self.placed_at.insert(key, (now, size));
        }
    }

    /// Service `svc` requested `size` from `since` to `until`.
    fn note_requested(&mut self, svc: u32, since: Time, until: Time, size: PodSize) {
        if let Some(p) = self.service(svc) {
            let dt = u128::from(until.0.saturating_sub(since.0));
            p.mcpu_ns += dt * u128::from(size.mcpu);
            p.mib_ns += dt * u128::from(size.mib);
        }
    }

    /// The pool's deadline: nodes get ready or go.
    pub fn on_timer(&mut self, now: Time) {
        if self.timer_at == Some(now) {
            self.timer_at = None;
        }
        self.dirty = true;
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
        // Unchanged since the last look: the same deadline, already scheduled (or none).
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let d = self.cluster.next_deadline()?.max(now);
        match self.timer_at {
            Some(t) if t <= d && t >= now => None,
            _ => {
                self.timer_at = Some(d);
                Some(d)
            }
        }
    }

    /// [`finish`](Self::finish) for a fleet: also each service's `pods` section, without its
    /// `node_share` (the driver sets it from the requests), in service order.
    pub fn finish_services(
        mut self,
        end: Time,
    ) -> (ClusterResult, Vec<PodsResult>, Option<String>) {
        let alive: Vec<(PodKey, (Time, PodSize))> = self.placed_at.drain().collect();
        for ((svc, _), (since, size)) in alive {
            self.note_requested(svc, since, end, size);
        }
        let pods = self
            .per_service
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|p| PodsResult {
                placed: p.placed,
                pending: p.pending,
                cancelled: p.cancelled,
                pending_at_end: p.pending_now,
                pending_max: p.pending_max,
                pending_wait_mean_s: if p.waited > 0 {
                    p.wait_ns as f64 / 1e9 / p.waited as f64
                } else {
                    0.0
                },
                pending_wait_max_s: p.wait_max_ns as f64 / 1e9,
                requested_vcpu_seconds: p.mcpu_ns as f64 / 1e12,
                requested_gib_seconds: p.mib_ns as f64 / 1024.0 / 1e9,
                node_share: 0.0,
            })
            .collect();
        let (c, violation) = self.finish(end);
        (c, pods, violation)
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
        let Nodes {
            cluster,
            cold,
            per_service,
            placed_at,
            news,
            ..
        } = self;
        for placed in cluster.drain_placed() {
            let (cold, size) = cold.remove(&placed.pod).unwrap_or_default();
            if let Some(p) = per_service
                .as_mut()
                .and_then(|v| v.get_mut(placed.pod.0 as usize))
            {
                let w = placed.waited.as_nanos() as u64;
                p.pending_now -= 1;
                p.waited += 1;
                p.wait_ns += u128::from(w);
                p.wait_max_ns = p.wait_max_ns.max(w);
                p.placed += 1;
                placed_at.insert(placed.pod, (now, size));
            }
            news.placed
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
