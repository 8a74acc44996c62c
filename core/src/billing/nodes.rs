//! The node pool behind self-hosted Knative (`knative-nodes`): pods packed onto nodes, nodes
//! added at once when pods need them and removed by the cluster autoscaler only after they have
//! been unneeded for `scale_down_unneeded` (10 min) and no earlier than
//! `scale_down_delay_after_add` (10 min) after the last scale-up (BILLING.md §1.2 rule 7).
//!
//! Packing: the nodes needed for the pods alive are the largest of three lower bounds, computed
//! in integer millicores and MiB as Kubernetes does:
//! - fragmentation: each revision's identical pods fill `pods_per_node` slots of a node, so a
//!   pod occupies `1 / pods_per_node` of one; the shares are summed exactly (a common
//!   denominator), so two revisions can share a node;
//! - CPU and memory: the sum of all requests (pods, queue-proxies, the control plane) over a
//!   node's capacity.
//!
//! This is exact for one revision and never below a real packing's count by more than the
//! mixing it allows between revisions. Nodes are identical, so the last one added is the first
//! removed. Each node is billed for its lifetime, rounded up to the model's granularity, with a
//! one-minute minimum (Compute Engine's VM rule).

use super::KnativeNodes;
use super::meter::{INSTANCE_MIN, RevisionBilling, round_up};
use crate::time::{Time, duration_nanos};

/// Knative's control plane requests: activator 300m / 60Mi, autoscaler, controller and
/// webhook 100m / 100Mi each (knative/serving `config/core/deployments/*.yaml`).
const CONTROL_PLANE_MCPU: u64 = 600;
const CONTROL_PLANE_MIB: u64 = 360;

/// What the node pool cost, per listed `knative-nodes` spec.
#[derive(Clone, Debug, Default)]
pub(super) struct NodeBill {
    /// Spec index → (billed node-ns, nodes billed the one-minute minimum).
    pub billed: Vec<(usize, u128, u64)>,
    /// ∫ nodes alive dt.
    pub alive_ns: u128,
    /// ∫ nodes needed by the pods (and control plane) dt.
    pub needed_ns: u128,
    /// Most nodes at once.
    pub peak: u64,
    /// Nodes created.
    pub created: u64,
    /// Nodes removed by the cluster autoscaler during the run.
    pub removed: u64,
    /// Revisions whose pod does not fit on a node (billed one node per pod).
    pub oversized_revisions: u64,
}

#[derive(Debug, Clone)]
pub(super) struct NodeTracker {
    /// Per revision: share units one pod occupies, out of `denom` per node.
    units: Vec<u128>,
    denom: u128,
    pod_mcpu: Vec<u64>,
    pod_mib: Vec<u64>,
    node_mcpu: u64,
    node_mib: u64,
    cp_mcpu: u64,
    cp_mib: u64,
    control_plane: bool,
    unneeded: u64,
    after_add: u64,
    sum_units: u128,
    sum_mcpu: u64,
    sum_mib: u64,
    pods: u64,
    needed: usize,
    /// Per node level (1-based index + 1): created at.
    created_at: Vec<Time>,
    /// Per node level: when it last became unneeded (meaningful above `needed`).
    unneeded_since: Vec<Time>,
    last_scale_up: Option<Time>,
    last: Time,
    bill: NodeBill,
    specs: Vec<(usize, u64)>,
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl NodeTracker {
    /// `specs`: (spec index, granularity ns) of each listed `knative-nodes` model.
    pub fn new(
        k: &KnativeNodes,
        revisions: &[RevisionBilling],
        specs: Vec<(usize, u64)>,
    ) -> NodeTracker {
        let node_mcpu = ((k.node_vcpu * 1000.0).floor() as u64).max(1);
        let node_mib = ((k.node_memory_gib * 1024.0).floor() as u64).max(1);
        let qp = (k.queue_proxy_vcpu * 1000.0).ceil() as u64;
        let mut oversized = 0;
        let mut pod_mcpu = Vec::new();
        let mut pod_mib = Vec::new();
        let mut ppn = Vec::new();
        for r in revisions {
            let c = (r.vcpu.max(0.0) * 1000.0).ceil() as u64 + qp;
            let m = (r.memory_gib.max(0.0) * 1024.0).ceil() as u64;
            let by_cpu = node_mcpu.checked_div(c).unwrap_or(u64::MAX);
            let by_mem = node_mib.checked_div(m).unwrap_or(u64::MAX);
            let n = by_cpu.min(by_mem).min(u64::from(k.max_pods_per_node));
            if n == 0 {
                oversized += 1;
            }
            pod_mcpu.push(c);
            pod_mib.push(m);
            ppn.push(u128::from(n.max(1)));
        }
        // A common denominator of the per-revision slot counts (each ≤ max_pods_per_node), so
        // shares add up exactly; with too many distinct counts to multiply out, fall back to a
        // large denominator and round each share up (never fewer nodes than needed).
        let mut denom: u128 = 1;
        let mut exact = true;
        for &p in &ppn {
            let l = denom / gcd(denom, p);
            match l.checked_mul(p) {
                Some(v) if v <= 1 << 100 => denom = v,
                _ => exact = false,
            }
        }
        if !exact {
            denom = 1 << 100;
        }
        let units = ppn.iter().map(|&p| denom.div_ceil(p)).collect();
        let (cp_mcpu, cp_mib) = if k.control_plane {
            (CONTROL_PLANE_MCPU, CONTROL_PLANE_MIB)
        } else {
            (0, 0)
        };
        let mut t = NodeTracker {
            units,
            denom,
            pod_mcpu,
            pod_mib,
            node_mcpu,
            node_mib,
            cp_mcpu,
            cp_mib,
            control_plane: k.control_plane,
            unneeded: duration_nanos(k.scale_down_unneeded),
            after_add: duration_nanos(k.scale_down_delay_after_add),
            sum_units: 0,
            sum_mcpu: 0,
            sum_mib: 0,
            pods: 0,
            needed: 0,
            created_at: Vec::new(),
            unneeded_since: Vec::new(),
            last_scale_up: None,
            last: Time::ZERO,
            bill: NodeBill {
                billed: specs.iter().map(|&(i, _)| (i, 0, 0)).collect(),
                oversized_revisions: oversized,
                ..NodeBill::default()
            },
            specs,
        };
        // The control plane's nodes exist from the start of the run.
        t.set_needed(Time::ZERO);
        t
    }

    fn nodes_needed(&self) -> usize {
        if self.pods == 0 && !self.control_plane {
            return 0;
        }
        let frag = self.sum_units.div_ceil(self.denom);
        let cpu = u128::from((self.sum_mcpu + self.cp_mcpu).div_ceil(self.node_mcpu));
        let mem = u128::from((self.sum_mib + self.cp_mib).div_ceil(self.node_mib));
        usize::try_from(frag.max(cpu).max(mem).max(1)).unwrap_or(usize::MAX)
    }

    /// Bills nodes up to `t`: integrals, and removals the cluster autoscaler made by then.
    fn advance(&mut self, t: Time) {
        loop {
            let n = self.created_at.len();
            if n <= self.needed {
                break;
            }
            // Levels above `needed` became unneeded in reverse order, so the top one is
            // always the first the autoscaler may remove.
            let mut at = self.unneeded_since[n - 1].0.saturating_add(self.unneeded);
            if let Some(up) = self.last_scale_up {
                at = at.max(up.0.saturating_add(self.after_add));
            }
            if at > t.0 {
                break;
            }
            let at = Time(at.max(self.last.0));
            self.integrate(at);
            let created = self.created_at.pop().unwrap_or(at);
            self.unneeded_since.pop();
            self.bill_node(at.0 - created.0, true);
            self.bill.removed += 1;
        }
        self.integrate(t);
    }

    fn integrate(&mut self, t: Time) {
        if t > self.last {
            let dt = u128::from(t.0 - self.last.0);
            self.bill.alive_ns += dt * self.created_at.len() as u128;
            self.bill.needed_ns += dt * self.needed as u128;
            self.last = t;
        }
    }

    fn bill_node(&mut self, life: u64, terminated: bool) {
        bill_node(&mut self.bill, &self.specs, life, terminated);
    }

    fn set_needed(&mut self, t: Time) {
        let new = self.nodes_needed();
        let old = self.needed;
        let n = self.created_at.len();
        if new < old {
            for level in new + 1..=old.min(n) {
                self.unneeded_since[level - 1] = t;
            }
        }
        if new > n {
            for _ in n..new {
                self.created_at.push(t);
                self.unneeded_since.push(t);
            }
            self.bill.created += (new - n) as u64;
            self.last_scale_up = Some(t);
            self.bill.peak = self.bill.peak.max(new as u64);
        }
        self.needed = new;
    }

    pub fn pod_started(&mut self, t: Time, rev: usize) {
        self.advance(t);
        self.pods += 1;
        self.sum_units += self.units[rev];
        self.sum_mcpu += self.pod_mcpu[rev];
        self.sum_mib += self.pod_mib[rev];
        self.set_needed(t);
    }

    pub fn pod_stopped(&mut self, t: Time, rev: usize) {
        self.advance(t);
        self.pods = self.pods.saturating_sub(1);
        self.sum_units = self.sum_units.saturating_sub(self.units[rev]);
        self.sum_mcpu = self.sum_mcpu.saturating_sub(self.pod_mcpu[rev]);
        self.sum_mib = self.sum_mib.saturating_sub(self.pod_mib[rev]);
        self.set_needed(t);
    }

    /// Bills the nodes still up at `end` up to `end` and returns the bill.
    pub fn finish(mut self, end: Time) -> NodeBill {
        self.advance(end);
        while let Some(created) = self.created_at.pop() {
            self.bill_node(end.0 - created.0, false);
        }
        self.bill
    }
}

/// Adds one node's lifetime to every listed spec's bill: rounded up to the spec's step, with the
/// one-minute minimum when the node was terminated (not cut off by the end of the run).
fn bill_node(bill: &mut NodeBill, specs: &[(usize, u64)], life: u64, terminated: bool) {
    for (k, &(_, g)) in specs.iter().enumerate() {
        let rounded = round_up(life, g);
        let billed = if terminated {
            rounded.max(INSTANCE_MIN)
        } else {
            rounded
        };
        let b = &mut bill.billed[k];
        b.1 += u128::from(billed);
        if billed > rounded {
            b.2 += 1;
        }
    }
}

/// The simulated node pool (`[cluster]`): the nodes the driver's cluster model reports, each
/// billed for its lifetime like the estimate's (rounded up, one-minute minimum when removed).
#[derive(Debug, Clone)]
pub(super) struct SimNodes {
    /// Alive nodes: id → created at.
    created: std::collections::BTreeMap<u64, Time>,
    in_use: u64,
    last: Time,
    bill: NodeBill,
    specs: Vec<(usize, u64)>,
}

impl SimNodes {
    pub fn new(specs: Vec<(usize, u64)>) -> SimNodes {
        SimNodes {
            created: Default::default(),
            in_use: 0,
            last: Time::ZERO,
            bill: NodeBill {
                billed: specs.iter().map(|&(i, _)| (i, 0, 0)).collect(),
                ..NodeBill::default()
            },
            specs,
        }
    }

    fn advance(&mut self, t: Time) {
        if t > self.last {
            let dt = u128::from(t.0 - self.last.0);
            self.bill.alive_ns += dt * self.created.len() as u128;
            self.bill.needed_ns += dt * u128::from(self.in_use);
            self.last = t;
        }
    }

    /// A node was created at `t` (it bills from now, provisioning included). Returns false
    /// for an id already alive.
    pub fn added(&mut self, t: Time, node: u64) -> bool {
        self.advance(t);
        if self.created.contains_key(&node) {
            return false;
        }
        self.created.insert(node, t.max(self.last));
        self.bill.created += 1;
        self.bill.peak = self.bill.peak.max(self.created.len() as u64);
        true
    }

    /// A node was removed at `t`. Returns false for an unknown id.
    pub fn removed(&mut self, t: Time, node: u64) -> bool {
        self.advance(t);
        let Some(c) = self.created.remove(&node) else {
            return false;
        };
        bill_node(&mut self.bill, &self.specs, self.last.0 - c.0, true);
        self.bill.removed += 1;
        true
    }

    /// From `t`, `n` nodes host pods (or the control plane): the nodes needed.
    pub fn in_use(&mut self, t: Time, n: u64) {
        self.advance(t);
        self.in_use = n;
    }

    /// Bills the nodes still up at `end` up to `end` and returns the bill.
    pub fn finish(mut self, end: Time) -> NodeBill {
        self.advance(end);
        let end = self.last;
        for (_, c) in std::mem::take(&mut self.created) {
            bill_node(&mut self.bill, &self.specs, end.0 - c.0, false);
        }
        self.bill
    }
}

/// A node's hourly price: the override, or its size at the per-vCPU and per-GiB prices.
pub(super) fn node_hour_usd(k: &KnativeNodes, p: &super::prices::PriceTable) -> f64 {
    p.knative_node_hour_usd.unwrap_or(
        k.node_vcpu * p.knative_node_vcpu_hour_usd
            + k.node_memory_gib * p.knative_node_gib_hour_usd,
    )
}
