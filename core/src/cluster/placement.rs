//! Where pods go and how many nodes there are: placement (least-allocated or first fit),
//! Pending pods placed when room frees, the Cluster Autoscaler's scale-up plan and the
//! scale-down of empty nodes.

use std::hash::Hash;

use super::*;

impl<K: Copy + Eq + Hash> Cluster<K> {
    pub(super) fn index_of(&self, id: NodeId) -> Option<usize> {
        self.nodes.binary_search_by_key(&id, |n| n.id).ok()
    }

    pub(super) fn add_node(&mut self, now: Time, ready_at: Time) -> NodeId {
        let id = NodeId(self.next_id);
        self.next_id += 1;
        self.nodes.push(Node {
            id,
            created: now,
            ready_at,
            ready: false,
            mcpu: 0,
            mib: 0,
            pods: 0,
            control_plane: false,
            empty_since: ready_at,
            plan_mcpu: self.node_mcpu,
            plan_mib: self.node_mib,
            plan_pods: self.max_pods,
        });
        self.added += 1;
        self.nodes_max = self.nodes_max.max(self.nodes.len() as u32);
        self.events.push(NodeEvent::Added { node: id, ready_at });
        id
    }

    pub(super) fn fits(&self, n: &Node, p: PodSize) -> bool {
        n.ready
            && n.mcpu + p.mcpu <= self.node_mcpu
            && n.mib + p.mib <= self.node_mib
            && n.pods < self.max_pods
    }

    /// `NodeResourcesFit`'s `LeastAllocated` score of `n` with `p` placed on it.
    pub(super) fn score(&self, n: &Node, p: PodSize) -> u64 {
        let part = |used: u64, cap: u64| (cap - used) * 100 / cap;
        (part(n.mcpu + p.mcpu, self.node_mcpu) + part(n.mib + p.mib, self.node_mib)) / 2
    }

    /// The node a pod goes to now, by the placement rule.
    pub(super) fn choose(&self, p: PodSize) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if !self.fits(n, p) {
                continue;
            }
            match self.placement {
                Placement::FirstFit => return Some(i),
                Placement::LeastAllocated => {
                    let s = self.score(n, p);
                    if best.is_none_or(|(_, b)| s > b) {
                        best = Some((i, s));
                    }
                }
            }
        }
        best.map(|(i, _)| i)
    }

    pub(super) fn place(&mut self, _now: Time, key: K, size: PodSize, i: usize) -> NodeId {
        let n = &mut self.nodes[i];
        n.mcpu += size.mcpu;
        n.mib += size.mib;
        n.pods += 1;
        let id = n.id;
        self.pods.insert(
            key,
            Pod {
                size,
                state: PodState::Placed(id),
            },
        );
        self.pods_placed += 1;
        id
    }

    /// Places the Pending pods that fit now, oldest first (a pod that does not fit does not
    /// hold back the ones behind it).
    pub(super) fn place_pending(&mut self, now: Time) {
        let queued: Vec<(u64, K)> = self.queue.iter().map(|(&s, &k)| (s, k)).collect();
        // Sizes that fit no node in this pass: nodes only fill up as it goes, so a pod at
        // least as large fits nowhere either (a fleet's Pending pods share a few sizes).
        let mut misfits: Vec<PodSize> = Vec::new();
        for (seq, key) in queued {
            let Some(&Pod {
                size,
                state: PodState::Pending { since, planned, .. },
            }) = self.pods.get(&key)
            else {
                continue;
            };
            if misfits
                .iter()
                .any(|m| size.mcpu >= m.mcpu && size.mib >= m.mib)
            {
                continue;
            }
            let Some(i) = self.choose(size) else {
                misfits.push(size);
                continue;
            };
            self.queue.remove(&seq);
            self.pods.remove(&key);
            self.unplan(planned, size);
            let node = self.place(now, key, size, i);
            let w = now.0.saturating_sub(since.0);
            self.wait_ns += u128::from(w);
            self.waited += 1;
            self.wait_max = self.wait_max.max(w);
            self.placed.push(PlacedPod {
                pod: key,
                node,
                waited: Duration::from_nanos(w),
            });
        }
    }

    pub(super) fn can_add(&self) -> bool {
        self.max_nodes == 0 || (self.nodes.len() as u32) < self.max_nodes
    }

    /// Counts a Pending pod on the room of a provisioning node (first fit), adding a node when
    /// none has room and the limit allows. Returns the node it is counted on.
    pub(super) fn plan_one(&mut self, now: Time, p: PodSize) -> Option<NodeId> {
        let fits =
            |n: &Node| !n.ready && p.mcpu <= n.plan_mcpu && p.mib <= n.plan_mib && n.plan_pods >= 1;
        // Nodes get ready in the order they were added (one provisioning time): the ones
        // still provisioning are the last ones.
        let from = self
            .nodes
            .iter()
            .rposition(|n| n.ready)
            .map_or(0, |i| i + 1);
        debug_assert!(self.nodes[..from].iter().all(|n| n.ready));
        let i = match self.nodes[from..].iter().position(fits) {
            Some(i) => from + i,
            None => {
                if !self.can_add() || p.mcpu > self.node_mcpu || p.mib > self.node_mib {
                    return None;
                }
                self.add_node(now, now.saturating_add(self.provisioning));
                self.last_scale_up = Some(now);
                self.nodes.len() - 1
            }
        };
        let n = &mut self.nodes[i];
        n.plan_mcpu -= p.mcpu;
        n.plan_mib -= p.mib;
        n.plan_pods -= 1;
        Some(n.id)
    }

    pub(super) fn unplan(&mut self, planned: Option<NodeId>, p: PodSize) {
        if let Some(i) = planned.and_then(|id| self.index_of(id)) {
            let n = &mut self.nodes[i];
            if !n.ready {
                n.plan_mcpu += p.mcpu;
                n.plan_mib += p.mib;
                n.plan_pods += 1;
            }
        }
    }

    /// Plans the Pending pods afresh, oldest first: on the provisioning nodes' room, then on
    /// new nodes.
    pub(super) fn replan(&mut self, now: Time) {
        let (mcpu, mib, pods) = (self.node_mcpu, self.node_mib, self.max_pods);
        for n in self.nodes.iter_mut().filter(|n| !n.ready) {
            n.plan_mcpu = mcpu;
            n.plan_mib = mib;
            n.plan_pods = pods;
        }
        let queued: Vec<K> = self.queue.values().copied().collect();
        for key in queued {
            let size = self.pods[&key].size;
            let planned = self.plan_one(now, size);
            if let Some(Pod {
                state: PodState::Pending { planned: p, .. },
                ..
            }) = self.pods.get_mut(&key)
            {
                *p = planned;
            }
        }
    }

    pub(super) fn removable_at(&self, n: &Node) -> Time {
        let mut at = n.empty_since.0.saturating_add(self.unneeded);
        if let Some(up) = self.last_scale_up {
            at = at.max(up.0.saturating_add(self.after_add));
        }
        Time(at)
    }

    /// Removes the ready, empty nodes that have been unneeded long enough, newest first, down
    /// to `min_nodes`.
    pub(super) fn scale_down(&mut self, now: Time) {
        let mut k = self.nodes.len();
        while k > 0 {
            k -= 1;
            if self.nodes.len() as u32 <= self.min_nodes {
                break;
            }
            let n = &self.nodes[k];
            if n.ready && !n.in_use() && self.removable_at(n) <= now {
                let id = n.id;
                self.nodes.remove(k);
                self.removed += 1;
                self.events.push(NodeEvent::Removed { node: id });
            }
        }
    }
}
