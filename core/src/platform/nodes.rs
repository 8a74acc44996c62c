//! The platform's side of `[cluster]`. The node pool ([`crate::cluster::Cluster`]) is the
//! driver's (one pool serves every service of a fleet): the driver tells the platform what it
//! did. Node changes are billed by `knative-nodes` (the simulated pool replaces its estimate)
//! and logged; a pod that waits for a node is logged. The platform needs nothing else: an
//! instance whose pod is Pending simply stays Starting until the driver reports it ready
//! (placement + its cold start), so its start-up time, the requests waiting for it and the
//! cold-start latencies include the wait.

use crate::cluster::{NodeEvent, NodeId};
use crate::event::Event;
use crate::ids::InstId;
use crate::time::Time;

use super::Platform;

impl Platform {
    /// The driver simulates the node pool: `knative-nodes` bills the nodes it reports with
    /// [`on_node_event`](Self::on_node_event) instead of its estimate. Call it before any
    /// other event (a driver without a node pool, like the live runtime, keeps the estimate).
    pub fn simulate_nodes(&mut self) {
        self.billing.simulate_nodes();
    }

    /// A change of the node pool at `now`: billed (`knative-nodes`) and logged.
    pub fn on_node_event(&mut self, now: Time, ev: NodeEvent) {
        match ev {
            NodeEvent::Added { node, ready_at } => {
                self.billing.node_added(now, u64::from(node.0));
                self.log(|_| Event::NodeAdded {
                    node: node.0,
                    ready_at_s: ready_at.as_secs_f64(),
                });
            }
            NodeEvent::Ready { node } => self.log(|_| Event::NodeReady { node: node.0 }),
            NodeEvent::Removed { node } => {
                self.billing.node_removed(now, u64::from(node.0));
                self.log(|_| Event::NodeRemoved { node: node.0 });
            }
            NodeEvent::InUse { nodes } => self.billing.nodes_in_use(now, u64::from(nodes)),
        }
    }

    /// Instance `inst`'s pod fits no ready node: it is Pending (logged).
    pub fn on_pod_pending(&mut self, inst: InstId) {
        self.log(|p| Event::PodPending {
            revision: p.revision_name_of(inst),
            instance: inst.number(),
        });
    }

    /// Instance `inst`'s Pending pod was placed on `node` after waiting `waited` (logged); the
    /// driver starts its cold start now.
    pub fn on_pod_placed(&mut self, inst: InstId, node: NodeId, waited: std::time::Duration) {
        self.log(|p| Event::PodPlaced {
            revision: p.revision_name_of(inst),
            instance: inst.number(),
            node: node.0,
            waited_s: waited.as_secs_f64(),
        });
    }

    fn revision_name_of(&self, inst: InstId) -> String {
        self.insts
            .get(inst.index())
            .map(|i| self.revs[i.rev.index()].name.clone())
            .unwrap_or_default()
    }
}
