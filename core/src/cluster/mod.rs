//! Nodes (`[cluster]`): a node pool with vCPU and memory, pods placed on it by Kubernetes's
//! default scoring or first fit, Pending pods, and the Cluster Autoscaler adding nodes for them
//! and removing nodes that stay empty.
//!
//! The model is sans-IO like the platform: every call takes `now`, nothing reads a clock, and a
//! driver (the simulator) carries out what it says. Pods are keyed by an opaque id the driver
//! chooses (`K`: an instance id, or a (service, instance) pair in a fleet).
//!
//! ```text
//!  request(now, pod, size) ──▶ placed on a ready node now ─────────────────▶ Some(node)
//!                         └──▶ Pending (FIFO) ──▶ scale-up: nodes ready at now + node_provisioning
//!  on_timer(deadline) ──▶ nodes ready ──▶ pending pods placed ──▶ drain_placed()
//!                     └──▶ empty nodes unneeded long enough removed (never below min_nodes)
//!  cancel(now, pod)   a Pending pod is withdrawn (its instance was stopped before it started)
//!  release(now, pod)  a placed pod's instance is gone: its capacity is free (pending pods retry)
//! ```
//!
//! Rules, and where they differ from a real cluster:
//! - Requests are integers, millicores and MiB, as Kubernetes counts them. A pod requests its
//!   service's `vcpu` plus `queue_proxy_vcpu` (Knative's sidecar, 25m by default; no memory
//!   request, as Knative's default) and its `memory_gib`.
//! - A node fits a pod when both requests and the pod count stay within its capacity
//!   (`NodeResourcesFit`'s filter). Among the nodes that fit, `least-allocated` takes the highest
//!   `NodeResourcesFit` `LeastAllocated` score (each resource `(free after placing) × 100 /
//!   capacity`, integer division, CPU and memory weighted equally), ties to the oldest node
//!   (kube-scheduler picks among tied nodes at random); `first-fit` takes the oldest node that fits.
//! - A pod that fits no ready node is Pending. The scheduler retries the Pending pods, oldest
//!   first and without head-of-line blocking, whenever capacity frees up (a pod released, a
//!   node ready).
//! - Scale-up, at once when a pod goes Pending (the Cluster Autoscaler's 10 s scan interval is
//!   folded into `node_provisioning`): the Pending pods are packed, oldest first and first fit,
//!   onto the free room of the nodes still provisioning, then onto as many new nodes as they
//!   need (the binpacking estimator), never beyond `max_nodes` (0: no limit). New nodes are
//!   ready `node_provisioning` later.
//! - Scale-down: a ready node with no pods is removed once it has been empty for
//!   `scale_down_unneeded` and at least `scale_down_delay_after_add` after the last scale-up,
//!   newest node first, never below `min_nodes`. The node holding Knative's control plane is
//!   never removed. **Unlike the real Cluster Autoscaler, pods are never evicted** to empty an
//!   under-used node (below 50 % requested): only empty nodes go.
//! - Nodes are identical; the first node (with `control_plane`) holds Knative's control plane
//!   reservation, 0.6 vCPU and 360 MiB, so with `control_plane` there is always one node.

mod placement;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::{Time, duration_nanos};

/// Knative's control plane requests: activator 300m / 60Mi, autoscaler, controller and webhook
/// 100m / 100Mi each (knative/serving `config/core/deployments/*.yaml`).
pub const CONTROL_PLANE_MCPU: u64 = 600;
/// Memory of Knative's control plane, MiB.
pub const CONTROL_PLANE_MIB: u64 = 360;

/// Where a pod goes among the nodes with room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Kubernetes's default scoring (`NodeResourcesFit` with `LeastAllocated`): the node with
    /// the most free CPU and memory after placing the pod; spreads pods.
    LeastAllocated,
    /// The oldest node with room: packs pods.
    FirstFit,
}

impl Placement {
    /// The scenario names.
    pub const NAMES: [&'static str; 2] = ["least-allocated", "first-fit"];

    /// The placement a scenario name refers to.
    pub fn from_name(s: &str) -> Option<Placement> {
        match s {
            "least-allocated" => Some(Placement::LeastAllocated),
            "first-fit" => Some(Placement::FirstFit),
            _ => None,
        }
    }
}

/// `[cluster]`, resolved: the nodes pods run on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSettings {
    /// vCPU a node offers to pods (default 2: an e2-standard-2).
    pub node_vcpu: f64,
    /// Memory a node offers to pods, GiB (default 8: an e2-standard-2).
    pub node_memory_gib: f64,
    /// Nodes kept whatever the load; the cluster starts with these, ready (default 1).
    pub min_nodes: u32,
    /// Most nodes alive (provisioning or ready); 0 = no limit (default 0).
    pub max_nodes: u32,
    /// From the Cluster Autoscaler's decision to add a node until pods can run on it
    /// **[assumption: 90 s, the middle of GKE's usual 60–120 s]**.
    #[serde(with = "crate::duration::serde_duration")]
    pub node_provisioning: Duration,
    /// Placement rule (default `least-allocated`, Kubernetes's).
    pub placement: Placement,
    /// Pods per node at most (GKE's default 110).
    pub max_pods_per_node: u32,
    /// CPU request of each pod's queue-proxy sidecar, on top of `[service] vcpu` (Knative's
    /// default 25m).
    pub queue_proxy_vcpu: f64,
    /// Reserve Knative's control plane (0.6 vCPU, 360 MiB) on the first node (default true).
    pub control_plane: bool,
    /// An empty node is removed after being unneeded this long (Cluster Autoscaler: 10 min).
    #[serde(with = "crate::duration::serde_duration")]
    pub scale_down_unneeded: Duration,
    /// No removal this soon after a node was added (Cluster Autoscaler: 10 min).
    #[serde(with = "crate::duration::serde_duration")]
    pub scale_down_delay_after_add: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            node_vcpu: 2.0,
            node_memory_gib: 8.0,
            min_nodes: 1,
            max_nodes: 0,
            node_provisioning: Duration::from_secs(90),
            placement: Placement::LeastAllocated,
            max_pods_per_node: 110,
            queue_proxy_vcpu: 0.025,
            control_plane: true,
            scale_down_unneeded: Duration::from_secs(600),
            scale_down_delay_after_add: Duration::from_secs(600),
        }
    }
}

impl ClusterSettings {
    /// A node's CPU, millicores.
    pub fn node_mcpu(&self) -> u64 {
        ((self.node_vcpu * 1000.0).floor() as u64).max(1)
    }

    /// A node's memory, MiB.
    pub fn node_mib(&self) -> u64 {
        ((self.node_memory_gib * 1024.0).floor() as u64).max(1)
    }

    /// What a pod of a service with `vcpu` and `memory_gib` requests: its container plus the
    /// queue-proxy's CPU, rounded up to millicores and MiB.
    pub fn pod_size(&self, vcpu: f64, memory_gib: f64) -> PodSize {
        PodSize {
            mcpu: (vcpu.max(0.0) * 1000.0).ceil() as u64
                + (self.queue_proxy_vcpu.max(0.0) * 1000.0).ceil() as u64,
            mib: (memory_gib.max(0.0) * 1024.0).ceil() as u64,
        }
    }

    /// True when a pod of this size fits an empty node (one without the control plane).
    pub fn fits_a_node(&self, p: PodSize) -> bool {
        p.mcpu <= self.node_mcpu() && p.mib <= self.node_mib() && self.max_pods_per_node >= 1
    }
}

/// What one pod requests: millicores and MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PodSize {
    /// CPU, millicores (container plus queue-proxy).
    pub mcpu: u64,
    /// Memory, MiB.
    pub mib: u64,
}

/// A node's id: its number in order of creation, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// A Pending pod that was placed (see [`Cluster::drain_placed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedPod<K> {
    /// The pod.
    pub pod: K,
    /// Its node.
    pub node: NodeId,
    /// How long it was Pending.
    pub waited: Duration,
}

/// A change of the node pool, for billing and the event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// The Cluster Autoscaler added a node (or the cluster started with it); it is ready at
    /// `ready_at` (now for the initial nodes).
    Added {
        /// The node.
        node: NodeId,
        /// When pods can run on it.
        ready_at: Time,
    },
    /// A node became ready.
    Ready {
        /// The node.
        node: NodeId,
    },
    /// The Cluster Autoscaler removed an empty node.
    Removed {
        /// The node.
        node: NodeId,
    },
    /// The number of nodes hosting pods (or the control plane) changed.
    InUse {
        /// Nodes with at least one pod or the control plane.
        nodes: u32,
    },
}

#[derive(Clone, Debug)]
struct Node {
    id: NodeId,
    created: Time,
    /// When pods can run on it (in the future while provisioning).
    ready_at: Time,
    ready: bool,
    mcpu: u64,
    mib: u64,
    pods: u32,
    control_plane: bool,
    /// When it last became empty (meaningful when ready with no pods).
    empty_since: Time,
    /// Room still free for the Pending pods the scale-up plan put on it while it provisions.
    plan_mcpu: u64,
    plan_mib: u64,
    plan_pods: u32,
}

impl Node {
    fn in_use(&self) -> bool {
        self.pods > 0 || self.control_plane
    }
}

#[derive(Clone, Copy, Debug)]
enum PodState {
    Placed(NodeId),
    Pending {
        since: Time,
        seq: u64,
        /// The provisioning node the scale-up plan counted it on.
        planned: Option<NodeId>,
    },
}

#[derive(Clone, Copy, Debug)]
struct Pod {
    size: PodSize,
    state: PodState,
}

/// One point of the node series: the node count from `t_s` on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct NodePoint {
    /// Scenario seconds.
    pub t_s: f64,
    /// Nodes alive (provisioning or ready).
    pub nodes: u32,
    /// Of those, ready.
    pub ready: u32,
}

/// The `cluster` section of a variant's result: what the node pool did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ClusterResult {
    /// Most nodes alive at once (provisioning or ready).
    pub nodes_max: u32,
    /// Time-averaged nodes alive.
    pub nodes_mean: f64,
    /// Nodes alive when the run ended.
    pub nodes_at_end: u32,
    /// ∫ nodes alive dt (provisioning included: a VM bills from its start), seconds.
    pub node_seconds: f64,
    /// ∫ nodes hosting at least one pod or the control plane dt, seconds.
    pub busy_node_seconds: f64,
    /// Nodes the Cluster Autoscaler added (the initial `min_nodes` not counted).
    pub nodes_added: u64,
    /// Nodes it removed.
    pub nodes_removed: u64,
    /// Pods placed on a node (at once or after waiting).
    pub pods_placed: u64,
    /// Pods that were Pending for a while (they waited for room or a node).
    pub pods_pending: u64,
    /// Pending pods withdrawn before they were placed (their instance was stopped).
    pub pods_cancelled: u64,
    /// Pods still Pending when the run ended.
    pub pods_pending_at_end: u64,
    /// Most pods Pending at once.
    pub pending_max: u64,
    /// Mean wait of the pods that were Pending and then placed, seconds (0 when none).
    pub pending_wait_mean_s: f64,
    /// Their longest wait, seconds.
    pub pending_wait_max_s: f64,
    /// The node count over time: one point per change (at most one per instant).
    pub series: Vec<NodePoint>,
}

/// The `pods` section of a fleet's service (`[[services]]` with `[cluster]`): what its own pods
/// did in the shared node pool, and its share of the pool's cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct PodsResult {
    /// Its pods placed on a node (at once or after waiting).
    pub placed: u64,
    /// Its pods that were Pending for a while (they waited for room or a node).
    pub pending: u64,
    /// Its Pending pods withdrawn before they were placed (their instance was stopped).
    pub cancelled: u64,
    /// Its pods still Pending when the run ended.
    pub pending_at_end: u64,
    /// Most of its pods Pending at once.
    pub pending_max: u64,
    /// Mean wait of its pods that were Pending and then placed, seconds (0 when none).
    pub pending_wait_mean_s: f64,
    /// Their longest wait, seconds.
    pub pending_wait_max_s: f64,
    /// ∫ vCPU requested by its placed pods dt (container + queue-proxy), vCPU-seconds.
    pub requested_vcpu_seconds: f64,
    /// ∫ memory requested by its placed pods dt, GiB-seconds.
    pub requested_gib_seconds: f64,
    /// Its share of the node pool's cost (`knative-nodes`): the CPU part of the node price
    /// split by requested vCPU-seconds, the memory part by requested GiB-seconds; the shares
    /// of a fleet's services add up to 1.
    pub node_share: f64,
}

/// The node pool of one run. See the [module docs](self) for the rules.
#[derive(Clone, Debug)]
pub struct Cluster<K> {
    node_mcpu: u64,
    node_mib: u64,
    max_pods: u32,
    min_nodes: u32,
    max_nodes: u32,
    provisioning: Duration,
    unneeded: u64,
    after_add: u64,
    placement: Placement,
    /// Alive nodes in order of creation.
    nodes: Vec<Node>,
    next_id: u32,
    pods: HashMap<K, Pod>,
    /// Pending pods by arrival order.
    queue: BTreeMap<u64, K>,
    seq: u64,
    last_scale_up: Option<Time>,
    placed: Vec<PlacedPod<K>>,
    events: Vec<NodeEvent>,
    in_use: u32,
    // Measurements.
    last: Time,
    alive_ns: u128,
    busy_ns: u128,
    nodes_max: u32,
    added: u64,
    removed: u64,
    pods_placed: u64,
    pods_pending: u64,
    cancelled: u64,
    pending_max: u64,
    wait_ns: u128,
    waited: u64,
    wait_max: u64,
    series: Vec<NodePoint>,
}

impl<K: Copy + Eq + Hash> Cluster<K> {
    /// The cluster at `now` (the start of the run): `min_nodes` ready nodes, at least one when
    /// the control plane is reserved.
    pub fn new(s: &ClusterSettings, now: Time) -> Cluster<K> {
        let mut c = Cluster {
            node_mcpu: s.node_mcpu(),
            node_mib: s.node_mib(),
            max_pods: s.max_pods_per_node,
            min_nodes: s.min_nodes,
            max_nodes: s.max_nodes,
            provisioning: s.node_provisioning,
            unneeded: duration_nanos(s.scale_down_unneeded),
            after_add: duration_nanos(s.scale_down_delay_after_add),
            placement: s.placement,
            nodes: Vec::new(),
            next_id: 0,
            pods: HashMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            last_scale_up: None,
            placed: Vec::new(),
            events: Vec::new(),
            in_use: 0,
            last: now,
            alive_ns: 0,
            busy_ns: 0,
            nodes_max: 0,
            added: 0,
            removed: 0,
            pods_placed: 0,
            pods_pending: 0,
            cancelled: 0,
            pending_max: 0,
            wait_ns: 0,
            waited: 0,
            wait_max: 0,
            series: Vec::new(),
        };
        let initial = s.min_nodes.max(u32::from(s.control_plane));
        for i in 0..initial {
            let id = c.add_node(now, now);
            let n = c.nodes.last_mut().expect("just added");
            n.ready = true;
            if i == 0 && s.control_plane {
                n.control_plane = true;
                n.mcpu = CONTROL_PLANE_MCPU.min(c.node_mcpu);
                n.mib = CONTROL_PLANE_MIB.min(c.node_mib);
            }
            c.events.push(NodeEvent::Ready { node: id });
        }
        c.added = 0;
        c.note_in_use();
        c.point(now);
        c
    }

    /// Pod `key` asks for a node: placed on a ready node now (`Some`), or Pending (`None`; it
    /// is placed later, listed by [`drain_placed`](Self::drain_placed), unless cancelled). A
    /// key already known is left as it is (and reported as it stands).
    pub fn request(&mut self, now: Time, key: K, size: PodSize) -> Option<NodeId> {
        self.advance(now);
        if let Some(p) = self.pods.get(&key) {
            return match p.state {
                PodState::Placed(n) => Some(n),
                PodState::Pending { .. } => None,
            };
        }
        if let Some(i) = self.choose(size) {
            let id = self.place(now, key, size, i);
            self.note_in_use();
            return Some(id);
        }
        let seq = self.seq;
        self.seq += 1;
        self.queue.insert(seq, key);
        self.pods_pending += 1;
        self.pending_max = self.pending_max.max(self.queue.len() as u64);
        let planned = self.plan_one(now, size);
        self.pods.insert(
            key,
            Pod {
                size,
                state: PodState::Pending {
                    since: now,
                    seq,
                    planned,
                },
            },
        );
        self.point(now);
        None
    }

    /// True when pod `key` is Pending.
    pub fn is_pending(&self, key: &K) -> bool {
        matches!(
            self.pods.get(key),
            Some(Pod {
                state: PodState::Pending { .. },
                ..
            })
        )
    }

    /// The node pod `key` is placed on, if it is.
    pub fn node_of(&self, key: &K) -> Option<NodeId> {
        match self.pods.get(key)?.state {
            PodState::Placed(n) => Some(n),
            PodState::Pending { .. } => None,
        }
    }

    /// Withdraws Pending pod `key` (its instance was stopped before it was placed). Returns
    /// false, changing nothing, when it is not Pending.
    pub fn cancel(&mut self, now: Time, key: K) -> bool {
        self.advance(now);
        let Some(&Pod {
            size,
            state: PodState::Pending { seq, planned, .. },
        }) = self.pods.get(&key)
        else {
            return false;
        };
        self.pods.remove(&key);
        self.queue.remove(&seq);
        self.unplan(planned, size);
        self.cancelled += 1;
        self.point(now);
        true
    }

    /// Placed pod `key` is gone (its instance stopped): its room is free, and Pending pods that
    /// now fit are placed ([`drain_placed`](Self::drain_placed)). Returns false, changing
    /// nothing, when it is not placed.
    pub fn release(&mut self, now: Time, key: K) -> bool {
        self.advance(now);
        let Some(&Pod {
            size,
            state: PodState::Placed(node),
        }) = self.pods.get(&key)
        else {
            return false;
        };
        self.pods.remove(&key);
        if let Some(i) = self.index_of(node) {
            let n = &mut self.nodes[i];
            n.mcpu -= size.mcpu;
            n.mib -= size.mib;
            n.pods -= 1;
            if n.pods == 0 {
                n.empty_since = now;
            }
        }
        if !self.queue.is_empty() {
            self.place_pending(now);
            self.replan(now);
        }
        self.note_in_use();
        true
    }

    /// When [`on_timer`](Self::on_timer) has something to do next: a node gets ready, or an
    /// empty node may be removed.
    pub fn next_deadline(&self) -> Option<Time> {
        let mut next: Option<Time> = None;
        let mut take = |t: Time| next = Some(next.map_or(t, |n: Time| n.min(t)));
        let alive = self.nodes.len() as u32;
        for n in &self.nodes {
            if !n.ready {
                take(n.ready_at);
            } else if alive > self.min_nodes && !n.in_use() {
                take(self.removable_at(n));
            }
        }
        next
    }

    /// Nodes whose provisioning is over get ready and the Pending pods that fit are placed
    /// ([`drain_placed`](Self::drain_placed)); empty nodes unneeded long enough are removed.
    /// Early or repeated calls are harmless.
    pub fn on_timer(&mut self, now: Time) {
        self.advance(now);
        let mut readied = false;
        for k in 0..self.nodes.len() {
            let n = &mut self.nodes[k];
            if !n.ready && n.ready_at <= now {
                n.ready = true;
                n.empty_since = now;
                n.plan_mcpu = 0;
                n.plan_mib = 0;
                n.plan_pods = 0;
                readied = true;
                let id = n.id;
                self.events.push(NodeEvent::Ready { node: id });
            }
        }
        if readied {
            if !self.queue.is_empty() {
                self.place_pending(now);
            }
            self.replan(now);
        }
        self.scale_down(now);
        self.note_in_use();
        self.point(now);
    }

    /// The pods placed since the last call that had been Pending, in the order they were
    /// placed.
    pub fn drain_placed(&mut self) -> std::vec::Drain<'_, PlacedPod<K>> {
        self.placed.drain(..)
    }

    /// The node pool's changes since the last call, in order.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, NodeEvent> {
        self.events.drain(..)
    }

    /// Nodes alive (provisioning or ready).
    pub fn nodes(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// Ready nodes.
    pub fn ready_nodes(&self) -> u32 {
        self.nodes.iter().filter(|n| n.ready).count() as u32
    }

    /// Pods Pending.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Pods placed.
    pub fn placed_pods(&self) -> usize {
        self.pods.len() - self.queue.len()
    }

    /// Checks the invariants: no node over its capacity, every pod placed on one alive node or
    /// Pending once, node counts within `min_nodes` and `max_nodes`. Returns what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let mut per_node: HashMap<NodeId, (u64, u64, u32)> = HashMap::new();
        let mut pending = 0;
        for p in self.pods.values() {
            match p.state {
                PodState::Placed(n) => {
                    let e = per_node.entry(n).or_default();
                    e.0 += p.size.mcpu;
                    e.1 += p.size.mib;
                    e.2 += 1;
                }
                PodState::Pending { seq, .. } => {
                    pending += 1;
                    if !self.queue.contains_key(&seq) {
                        return Err(format!("pending pod #{seq} is not queued"));
                    }
                }
            }
        }
        if pending != self.queue.len() {
            return Err(format!(
                "{} pods pending but {} queued",
                pending,
                self.queue.len()
            ));
        }
        for n in &self.nodes {
            let (c, m, k) = per_node.remove(&n.id).unwrap_or_default();
            let (cp_c, cp_m) = if n.control_plane {
                (
                    CONTROL_PLANE_MCPU.min(self.node_mcpu),
                    CONTROL_PLANE_MIB.min(self.node_mib),
                )
            } else {
                (0, 0)
            };
            if n.mcpu != c + cp_c || n.mib != m + cp_m || n.pods != k {
                return Err(format!("node {} books disagree with its pods", n.id.0));
            }
            if n.mcpu > self.node_mcpu || n.mib > self.node_mib || n.pods > self.max_pods {
                return Err(format!("node {} is over its capacity", n.id.0));
            }
            if !n.ready && n.pods > 0 {
                return Err(format!("node {} has pods before it is ready", n.id.0));
            }
        }
        if let Some(n) = per_node.keys().next() {
            return Err(format!("pods placed on node {} which is gone", n.0));
        }
        let alive = self.nodes.len() as u32;
        if self.max_nodes > 0 && alive > self.max_nodes.max(1) {
            return Err(format!("{alive} nodes, above max_nodes {}", self.max_nodes));
        }
        if alive < self.min_nodes {
            return Err(format!("{alive} nodes, below min_nodes {}", self.min_nodes));
        }
        Ok(())
    }

    /// The `cluster` section of the result, the run ending at `end`.
    pub fn finish(mut self, end: Time) -> ClusterResult {
        self.advance(end);
        let secs = |ns: u128| ns as f64 / 1e9;
        let span = end.as_secs_f64();
        ClusterResult {
            nodes_max: self.nodes_max,
            nodes_mean: if span > 0.0 {
                secs(self.alive_ns) / span
            } else {
                f64::from(self.nodes.len() as u32)
            },
            nodes_at_end: self.nodes.len() as u32,
            node_seconds: secs(self.alive_ns),
            busy_node_seconds: secs(self.busy_ns),
            nodes_added: self.added,
            nodes_removed: self.removed,
            pods_placed: self.pods_placed,
            pods_pending: self.pods_pending,
            pods_cancelled: self.cancelled,
            pods_pending_at_end: self.queue.len() as u64,
            pending_max: self.pending_max,
            pending_wait_mean_s: if self.waited > 0 {
                secs(self.wait_ns) / self.waited as f64
            } else {
                0.0
            },
            pending_wait_max_s: self.wait_max as f64 / 1e9,
            series: self.series,
        }
    }

    // ---- internals ----

    fn advance(&mut self, now: Time) {
        if now > self.last {
            let dt = u128::from(now.0 - self.last.0);
            self.alive_ns += dt * self.nodes.len() as u128;
            self.busy_ns += dt * u128::from(self.in_use);
            self.last = now;
        }
    }

    fn note_in_use(&mut self) {
        let n = self.nodes.iter().filter(|n| n.in_use()).count() as u32;
        if n != self.in_use {
            self.in_use = n;
            self.events.push(NodeEvent::InUse { nodes: n });
        }
    }

    /// Records a point of the series if the node counts changed (one point per instant).
    fn point(&mut self, now: Time) {
        let p = NodePoint {
            t_s: now.as_secs_f64(),
            nodes: self.nodes.len() as u32,
            ready: self.nodes.iter().filter(|n| n.ready).count() as u32,
        };
        let same = |a: &NodePoint, b: &NodePoint| (a.nodes, a.ready) == (b.nodes, b.ready);
        match self.series.last_mut() {
            Some(l) if same(l, &p) => {}
            Some(l) if l.t_s == p.t_s => {
                *l = p;
                let k = self.series.len();
                if k >= 2 && same(&self.series[k - 2], &p) {
                    self.series.pop();
                }
            }
            _ => self.series.push(p),
        }
    }
}

impl<K> Cluster<K> {
    /// When each node alive was created, oldest first (for billing at the end of a run).
    pub fn created_times(&self) -> impl Iterator<Item = (NodeId, Time)> + '_ {
        self.nodes.iter().map(|n| (n.id, n.created))
    }
}
