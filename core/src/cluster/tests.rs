use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn s(secs: u64) -> Time {
    Time::from_secs(secs)
}

/// 2 vCPU / 8 GiB nodes, no control plane, 90 s provisioning, 10 min scale-down.
fn settings() -> ClusterSettings {
    ClusterSettings {
        control_plane: false,
        queue_proxy_vcpu: 0.0,
        ..ClusterSettings::default()
    }
}

const ONE: PodSize = PodSize {
    mcpu: 1000,
    mib: 1024,
};

#[test]
fn defaults_are_the_documented_ones() {
    let d = ClusterSettings::default();
    assert_eq!(d.node_mcpu(), 2000);
    assert_eq!(d.node_mib(), 8192);
    assert_eq!(d.node_provisioning, Duration::from_secs(90));
    assert_eq!(d.scale_down_unneeded, Duration::from_secs(600));
    // A pod asks for its vCPU plus the queue-proxy's 25m.
    assert_eq!(
        d.pod_size(1.0, 0.5),
        PodSize {
            mcpu: 1025,
            mib: 512
        }
    );
}

#[test]
fn pods_fit_then_wait_for_a_new_node() {
    let mut c: Cluster<u32> = Cluster::new(&settings(), Time::ZERO);
    assert_eq!(c.nodes(), 1);
    assert_eq!(c.request(s(1), 1, ONE), Some(NodeId(0)));
    assert_eq!(c.request(s(1), 2, ONE), Some(NodeId(0)));
    // The node is full: the third pod is Pending and a node is added, ready 90 s later.
    assert_eq!(c.request(s(2), 3, ONE), None);
    assert!(c.is_pending(&3));
    assert_eq!(c.nodes(), 2);
    assert_eq!(c.ready_nodes(), 1);
    assert_eq!(c.next_deadline(), Some(s(92)));
    // The fourth fits on the room the plan has left on the new node: no third node.
    assert_eq!(c.request(s(3), 4, ONE), None);
    assert_eq!(c.nodes(), 2);
    c.on_timer(s(92));
    let placed: Vec<u32> = c.drain_placed().map(|p| p.pod).collect();
    assert_eq!(placed, [3, 4]);
    assert_eq!(c.node_of(&3), Some(NodeId(1)));
    assert_eq!(c.pending(), 0);
    c.check().unwrap();
    let r = c.finish(s(100));
    assert_eq!(r.nodes_added, 1);
    assert_eq!(r.pods_pending, 2);
    assert_eq!(r.pending_wait_max_s, 90.0);
    assert_eq!(r.pending_wait_mean_s, 89.5);
    assert_eq!(r.nodes_max, 2);
    // One node for 100 s, one from t = 2 s.
    assert_eq!(r.node_seconds, 198.0);
}

#[test]
fn least_allocated_spreads_and_first_fit_packs() {
    let mut st = settings();
    st.min_nodes = 2;
    let small = PodSize {
        mcpu: 250,
        mib: 256,
    };
    let mut spread: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    st.placement = Placement::FirstFit;
    let mut packed: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    for k in 0..4 {
        spread.request(s(0), k, small);
        packed.request(s(0), k, small);
    }
    let on = |c: &Cluster<u32>, n: u32| (0..4).filter(|k| c.node_of(k) == Some(NodeId(n))).count();
    assert_eq!((on(&spread, 0), on(&spread, 1)), (2, 2));
    assert_eq!((on(&packed, 0), on(&packed, 1)), (4, 0));
}

#[test]
fn the_control_plane_takes_room_on_the_first_node() {
    let st = ClusterSettings {
        queue_proxy_vcpu: 0.0,
        min_nodes: 0,
        ..ClusterSettings::default()
    };
    // min_nodes 0, but the control plane needs a node.
    let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    assert_eq!(c.nodes(), 1);
    // 2000m - 600m leaves room for one 1-vCPU pod.
    assert_eq!(c.request(s(0), 1, ONE), Some(NodeId(0)));
    assert_eq!(c.request(s(0), 2, ONE), None);
    c.check().unwrap();
    // The control plane's node is never removed.
    c.release(s(1), 1);
    c.cancel(s(1), 2);
    c.on_timer(s(10_000));
    assert_eq!(c.node_of(&1), None);
    assert!(c.nodes() >= 1);
    assert!(c.created_times().any(|(id, _)| id == NodeId(0)));
}

#[test]
fn empty_nodes_go_after_ten_minutes_but_not_below_min() {
    let mut c: Cluster<u32> = Cluster::new(&settings(), Time::ZERO);
    for k in 0..4 {
        c.request(s(0), k, ONE);
    }
    c.on_timer(s(90));
    assert_eq!(c.drain_placed().count(), 2);
    assert_eq!(c.nodes(), 2);
    for k in 0..4 {
        assert!(c.release(s(100), k));
    }
    // Unneeded since 100 s; the scale-up at 0 s allows removal from 600 s on.
    assert_eq!(c.next_deadline(), Some(s(700)));
    c.on_timer(s(699));
    assert_eq!(c.nodes(), 2);
    c.on_timer(s(700));
    assert_eq!(c.nodes(), 1, "one removed, min_nodes = 1 kept");
    assert_eq!(c.next_deadline(), None);
    let ev: Vec<NodeEvent> = c.drain_events().collect();
    assert!(ev.contains(&NodeEvent::Removed { node: NodeId(1) }));
    let r = c.finish(s(800));
    assert_eq!(r.nodes_removed, 1);
    assert_eq!(
        r.series
            .iter()
            .map(|p| (p.nodes, p.ready))
            .collect::<Vec<_>>(),
        // The node added at t = 0 replaces the first point (one per instant).
        [(2, 1), (2, 2), (1, 1)]
    );
}

#[test]
fn scale_down_waits_for_the_delay_after_the_last_add() {
    let mut st = settings();
    st.scale_down_unneeded = Duration::from_secs(60);
    let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    c.request(s(0), 1, ONE);
    c.request(s(0), 2, ONE);
    c.request(s(0), 3, ONE);
    c.on_timer(s(90));
    c.release(s(95), 3);
    // Unneeded for 60 s from 95 s, but the scale-up at 0 s holds removals until 600 s.
    assert_eq!(c.next_deadline(), Some(s(600)));
}

#[test]
fn max_nodes_caps_the_scale_up_and_freed_room_is_used() {
    let mut st = settings();
    st.max_nodes = 2;
    let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    for k in 0..6 {
        c.request(s(0), k, ONE);
    }
    assert_eq!(c.nodes(), 2);
    assert_eq!(c.pending(), 4);
    c.on_timer(s(90));
    assert_eq!(c.drain_placed().map(|p| p.pod).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(c.pending(), 2);
    // A pod gone: the oldest Pending one takes its place.
    c.release(s(120), 0);
    assert_eq!(c.drain_placed().map(|p| p.pod).collect::<Vec<_>>(), [4]);
    c.check().unwrap();
    let r = c.finish(s(200));
    assert_eq!(r.pods_pending_at_end, 1);
    assert_eq!(r.pending_max, 4);
}

#[test]
fn a_cancelled_pending_pod_leaves_an_unneeded_node() {
    let mut c: Cluster<u32> = Cluster::new(&settings(), Time::ZERO);
    c.request(s(0), 1, ONE);
    c.request(s(0), 2, ONE);
    assert_eq!(c.request(s(0), 3, ONE), None);
    assert!(c.cancel(s(10), 3));
    assert!(!c.cancel(s(10), 3));
    assert!(!c.release(s(10), 3));
    c.on_timer(s(90));
    assert_eq!(c.drain_placed().count(), 0);
    assert_eq!(c.nodes(), 2);
    // Empty since it got ready at 90 s.
    assert_eq!(c.next_deadline(), Some(s(690)));
    c.on_timer(s(690));
    assert_eq!(c.nodes(), 1);
    let r = c.finish(s(700));
    assert_eq!(r.pods_cancelled, 1);
    assert_eq!(r.pods_placed, 2);
}

#[test]
fn a_pending_pod_does_not_block_a_smaller_one() {
    let mut st = settings();
    st.max_nodes = 1;
    let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    c.request(s(0), 1, ONE);
    let big = PodSize {
        mcpu: 1500,
        mib: 512,
    };
    assert_eq!(c.request(s(0), 2, big), None);
    let small = PodSize {
        mcpu: 500,
        mib: 512,
    };
    assert_eq!(c.request(s(0), 3, small), Some(NodeId(0)));
    c.release(s(5), 3);
    assert_eq!(c.drain_placed().count(), 0, "1500m still does not fit");
    c.release(s(6), 1);
    assert_eq!(c.drain_placed().map(|p| p.pod).collect::<Vec<_>>(), [2]);
}

#[test]
fn pods_per_node_limit_the_placement() {
    let mut st = settings();
    st.max_pods_per_node = 3;
    let tiny = PodSize { mcpu: 10, mib: 10 };
    let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    for k in 0..7 {
        c.request(s(0), k, tiny);
    }
    // 3 placed, 4 pending need two more nodes of 3 pods.
    assert_eq!(c.nodes(), 3);
    c.on_timer(s(90));
    assert_eq!(c.drain_placed().count(), 4);
    c.check().unwrap();
}

#[test]
fn zero_provisioning_places_at_the_same_instant() {
    let mut st = settings();
    st.node_provisioning = Duration::ZERO;
    let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
    c.request(s(5), 1, ONE);
    c.request(s(5), 2, ONE);
    assert_eq!(c.request(s(5), 3, ONE), None);
    assert_eq!(c.next_deadline(), Some(s(5)));
    c.on_timer(s(5));
    assert_eq!(c.drain_placed().map(|p| p.pod).collect::<Vec<_>>(), [3]);
}

#[derive(Debug, Clone)]
enum Op {
    Request(u32, u64, u64),
    Cancel(u32),
    Release(u32),
    Timer,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..40, 1u64..2500, 0u64..9000).prop_map(|(k, c, m)| Op::Request(k, c, m)),
        1 => (0u32..40).prop_map(Op::Cancel),
        2 => (0u32..40).prop_map(Op::Release),
        2 => Just(Op::Timer),
    ]
}

proptest! {
    /// Whatever pods come and go: no node over capacity, every pod placed on one node or
    /// Pending once, nodes within [min, max]; a pod placed is reported placed once; a pod that
    /// fits an empty node is never left Pending while a ready node has room for it.
    #[test]
    fn invariants_hold(
        ops in proptest::collection::vec((op(), 0u64..200), 1..150),
        min in 0u32..3,
        max in 0u32..6,
        cp in any::<bool>(),
        first_fit in any::<bool>(),
        pods_per_node in 1u32..6,
        prov in 0u64..120,
    ) {
        let st = ClusterSettings {
            min_nodes: min,
            max_nodes: if max == 0 { 0 } else { max.max(min).max(1) },
            control_plane: cp,
            placement: if first_fit { Placement::FirstFit } else { Placement::LeastAllocated },
            max_pods_per_node: pods_per_node,
            node_provisioning: Duration::from_secs(prov),
            scale_down_unneeded: Duration::from_secs(60),
            scale_down_delay_after_add: Duration::from_secs(30),
            ..ClusterSettings::default()
        };
        let mut c: Cluster<u32> = Cluster::new(&st, Time::ZERO);
        let mut now = Time::ZERO;
        // The model's view, rebuilt from what it reports: pod → placed?
        let mut known: HashMap<u32, bool> = HashMap::new();
        for (o, dt) in ops {
            now = now.saturating_add(Duration::from_secs(dt));
            // The driver delivers due deadlines first.
            while let Some(d) = c.next_deadline() {
                if d > now { break; }
                c.on_timer(d);
                for k in c.drain_placed().map(|p| p.pod) {
                    prop_assert_eq!(known.insert(k, true), Some(false), "placed twice or unknown");
                }
            }
            match o {
                Op::Request(k, mcpu, mib) => {
                    if known.contains_key(&k) { continue; }
                    let p = PodSize { mcpu, mib };
                    let placed = c.request(now, k, p).is_some();
                    known.insert(k, placed);
                }
                Op::Cancel(k) => {
                    let was = known.get(&k) == Some(&false);
                    prop_assert_eq!(c.cancel(now, k), was);
                    if was { known.remove(&k); }
                }
                Op::Release(k) => {
                    let was = known.get(&k) == Some(&true);
                    prop_assert_eq!(c.release(now, k), was);
                    if was { known.remove(&k); }
                }
                Op::Timer => c.on_timer(now),
            }
            for k in c.drain_placed().map(|p| p.pod) {
                prop_assert_eq!(known.insert(k, true), Some(false), "placed twice or unknown");
            }
            if let Err(e) = c.check() {
                return Err(TestCaseError::fail(e));
            }
            for (k, &placed) in &known {
                prop_assert_eq!(c.is_pending(k), !placed);
                prop_assert_eq!(c.node_of(k).is_some(), placed);
            }
            prop_assert_eq!(c.pending() + c.placed_pods(), known.len());
            // Nothing Pending fits a ready node now (it would have been placed).
            for (k, &placed) in &known {
                if !placed {
                    let size = c.pods[k].size;
                    prop_assert!(c.choose(size).is_none(), "pod {} pending but fits", k);
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum FleetOp {
    /// Service, instance.
    Request(u32, u32),
    Cancel(u32, u32),
    Release(u32, u32),
    Timer,
}

fn fleet_op(services: u32) -> impl Strategy<Value = FleetOp> {
    prop_oneof![
        4 => (0..services, 0u32..15).prop_map(|(s, k)| FleetOp::Request(s, k)),
        1 => (0..services, 0u32..15).prop_map(|(s, k)| FleetOp::Cancel(s, k)),
        2 => (0..services, 0u32..15).prop_map(|(s, k)| FleetOp::Release(s, k)),
        2 => Just(FleetOp::Timer),
    ]
}

proptest! {
    /// A fleet's services share one pool, each with its own pod size: no node over capacity,
    /// every pod placed at most once (on one node, or Pending), and the Pending pods are
    /// placed oldest first: within a batch in the order they went Pending, and a service's
    /// pods (all of one size) in exactly the order they went Pending.
    #[test]
    fn several_services_share_one_pool(
        sizes in proptest::collection::vec((100u64..2000, 0u64..6000), 2..5),
        ops in proptest::collection::vec((fleet_op(4), 0u64..120), 1..200),
        min in 0u32..3,
        max in 0u32..5,
        first_fit in any::<bool>(),
        prov in 0u64..120,
    ) {
        let st = ClusterSettings {
            min_nodes: min,
            max_nodes: if max == 0 { 0 } else { max.max(min).max(1) },
            placement: if first_fit { Placement::FirstFit } else { Placement::LeastAllocated },
            node_provisioning: Duration::from_secs(prov),
            scale_down_unneeded: Duration::from_secs(60),
            scale_down_delay_after_add: Duration::from_secs(30),
            ..ClusterSettings::default()
        };
        let n = sizes.len() as u32;
        let size = |svc: u32| PodSize { mcpu: sizes[svc as usize].0, mib: sizes[svc as usize].1 };
        let mut c: Cluster<(u32, u32)> = Cluster::new(&st, Time::ZERO);
        let mut now = Time::ZERO;
        // pod → Some(pending order) while Pending, None once placed.
        let mut known: HashMap<(u32, u32), Option<u64>> = HashMap::new();
        let mut order = 0u64;
        let mut placed_ever: std::collections::HashSet<(u32, u32, u64)> = Default::default();
        // Each pod gets a fresh generation when requested again after it went away.
        let mut generation: HashMap<(u32, u32), u64> = HashMap::new();
        let check_batch = |c: &mut Cluster<(u32, u32)>,
                           known: &mut HashMap<(u32, u32), Option<u64>>,
                           generation: &HashMap<(u32, u32), u64>,
                           placed_ever: &mut std::collections::HashSet<(u32, u32, u64)>|
         -> Result<(), TestCaseError> {
            let batch: Vec<(u32, u32)> = c.drain_placed().map(|p| p.pod).collect();
            let mut last = None;
            for k in batch {
                let Some(Some(seq)) = known.get(&k).copied() else {
                    return Err(TestCaseError::fail(format!("{k:?} placed but not Pending")));
                };
                prop_assert!(last < Some(seq), "batch not oldest first");
                last = Some(seq);
                // A service's older Pending pods (same size) went first.
                for (o, s) in known.iter() {
                    if o.0 == k.0 && let Some(s) = s {
                        prop_assert!(*s >= seq, "{:?} placed before the older {:?}", k, o);
                    }
                }
                let g = generation.get(&k).copied().unwrap_or(0);
                prop_assert!(placed_ever.insert((k.0, k.1, g)), "{:?} placed twice", k);
                known.insert(k, None);
            }
            Ok(())
        };
        for (o, dt) in ops {
            now = now.saturating_add(Duration::from_secs(dt));
            while let Some(d) = c.next_deadline() {
                if d > now { break; }
                c.on_timer(d);
                check_batch(&mut c, &mut known, &generation, &mut placed_ever)?;
            }
            match o {
                FleetOp::Request(s, k) => {
                    let s = s % n;
                    if known.contains_key(&(s, k)) { continue; }
                    let g = generation.entry((s, k)).or_insert(0);
                    *g += 1;
                    let p = size(s);
                    if p.mcpu > c.node_mcpu || p.mib > c.node_mib { continue; }
                    match c.request(now, (s, k), p) {
                        Some(_) => {
                            prop_assert!(placed_ever.insert((s, k, *g)));
                            known.insert((s, k), None);
                        }
                        None => {
                            order += 1;
                            known.insert((s, k), Some(order));
                        }
                    }
                }
                FleetOp::Cancel(s, k) => {
                    let key = (s % n, k);
                    let was = matches!(known.get(&key), Some(Some(_)));
                    prop_assert_eq!(c.cancel(now, key), was);
                    if was { known.remove(&key); }
                }
                FleetOp::Release(s, k) => {
                    let key = (s % n, k);
                    let was = known.get(&key) == Some(&None);
                    prop_assert_eq!(c.release(now, key), was);
                    if was { known.remove(&key); }
                }
                FleetOp::Timer => c.on_timer(now),
            }
            check_batch(&mut c, &mut known, &generation, &mut placed_ever)?;
            if let Err(e) = c.check() {
                return Err(TestCaseError::fail(e));
            }
            prop_assert_eq!(c.pending() + c.placed_pods(), known.len());
            for (k, st) in &known {
                prop_assert_eq!(c.is_pending(k), st.is_some());
                if st.is_some() {
                    prop_assert!(c.choose(size(k.0)).is_none(), "{:?} pending but fits", k);
                }
            }
        }
    }
}
