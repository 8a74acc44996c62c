//! The property test: events delivered in random orders, invariants checked after each.

use super::*;
use proptest::prelude::*;

/// What the random driver does next.
#[derive(Clone, Debug)]
enum Op {
    /// A request arrives now.
    Arrive,
    /// A request of a class arrives now (its headers meet the routes first).
    ArriveClass(usize),
    /// Time passes: the earliest pending event is delivered.
    Next,
    /// A pending event, any of them, is delivered now (late, out of order).
    Any(usize),
    /// An alive instance's process dies.
    Lose(usize),
    /// A client goes away: a waiting or running request is abandoned.
    ClientGone(usize),
    /// Shutdown.
    Shutdown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Arrive),
        1 => (0usize..2).prop_map(Op::ArriveClass),
        6 => Just(Op::Next),
        3 => (0usize..64).prop_map(Op::Any),
        1 => (0usize..8).prop_map(Op::Lose),
        1 => (0usize..16).prop_map(Op::ClientGone),
        1 => Just(Op::Shutdown),
    ]
}

fn settings() -> impl Strategy<Value = String> {
    let cc = prop::sample::select(vec![0u32, 1, 2, 10]);
    let kind = prop::sample::select(vec!["kpa", "keepalive", "cloud-run", "hpa"]);
    let share = prop::sample::select(vec![0.0f64, 0.5, 1.0]);
    let policy = prop::sample::select(vec![
        "knative",
        "newest-idle",
        "random",
        "round-robin",
        "least-loaded",
    ]);
    // Deploys: one revision; a revision created later and switched to; a gradual rollout
    // rolled back while it moves; a header route with a gradual rollout.
    let deploy = prop::sample::select(vec![
        "",
        r#"[[revisions]]
            name = "v1"
            traffic = 100
            [[revisions]]
            name = "v2"
            created_at = "5s"
            [[rollouts]]
            at = "3s"
            traffic = { v2 = 100 }"#,
        r#"[[revisions]]
            name = "v1"
            traffic = 100
            [[revisions]]
            name = "v2"
            [[rollouts]]
            at = "2s"
            traffic = { v1 = 50, v2 = 50 }
            duration = "20s"
            [[rollouts]]
            at = "12s"
            traffic = { v1 = 100 }"#,
        r#"[[revisions]]
            name = "v1"
            traffic = 100
            [[revisions]]
            name = "v2"
            created_at = "4s"
            [[routes]]
            match = { header = "x-ab", value = "b" }
            revision = "v2"
            [[workload.request_classes]]
            name = "a"
            [[workload.request_classes]]
            name = "b"
            headers = { x-ab = "b" }
            [[rollouts]]
            at = "8s"
            traffic = { v2 = 100 }
            duration = "10s""#,
    ]);
    let choice = prop::sample::select(vec!["last-freed", "newest-created", "first-free"]);
    let reset = prop::sample::select(vec![true, false]);
    (cc, kind, policy, 0u32..3, 1u64..4, choice, reset, share, deploy).prop_map(|(cc, kind, policy, initial, queue, choice, reset, share, deploy)| {
        let autoscaler = match kind {
            "kpa" => format!(
                "initial_scale = {initial}\ntarget = 2\nstable_window = \"6s\"\nscale_to_zero_grace_period = \"1s\"\nmax_scale = 4"
            ),
            "cloud-run" => format!(
                "kind = \"cloud-run\"\nmin_scale = {initial}\nmax_scale = 3\nwindow = \"6s\"\nidle_retention = \"3s\""
            ),
            "hpa" => format!(
                "kind = \"hpa\"\nmin_scale = {}\nmax_scale = 4\nsync_period = \"2s\"\nscale_down_stabilization = \"4s\"\ncpu_target = 0.5",
                initial.max(1)
            ),
            _ => format!("kind = \"keepalive\"\nidle_timeout = \"3s\"\nmax_instances = 3\nidle_choice = \"{choice}\"\nkeepalive_reset = {reset}"),
        };
        let cc = match kind {
            "kpa" | "hpa" => cc,
            "cloud-run" => cc.max(1),
            _ => 1,
        };
        let share = if kind == "hpa" { share.max(0.5) } else { share };
        // The keepalive pool picks its own instances: a router policy is refused there.
        let policy = if kind == "keepalive" { String::new() } else if kind == "kpa" { format!("policy = \"{policy}\"") } else { "policy = \"knative\"".to_string() };
        fill(include_str!("fixtures/any-platform.toml"), &[("cc", &cc), ("share", &share), ("autoscaler", &autoscaler), ("policy", &policy), ("queue", &queue), ("deploy", &deploy)])
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever order a driver delivers the platform's events in (late, out of time order),
    /// and whatever instances die, the invariants hold after every transition: requests are
    /// conserved and each is in one place, none runs on a starting or stopped instance or
    /// beyond the container concurrency, idle draining instances are stopping, stale ids are
    /// ignored. In the end, with everything delivered, nothing is left waiting or running.
    #[test]
    fn invariants_hold_in_any_delivery_order(
        toml in settings(),
        give_up in prop::option::of(1u32..4),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut h = Harness::with_config(&toml, |c| c.max_start_failures = give_up);
        for o in ops {
            match o {
                Op::Arrive => {
                    let (_, _) = h.p.on_arrival(h.now, None);
                    h.apply();
                }
                Op::ArriveClass(c) => {
                    let r = h.p.route_class(c);
                    let (_, got) = h.p.on_arrival(h.now, r);
                    prop_assert!(r.is_none_or(|r| r == got && h.p.revision_ready(r)));
                    h.apply();
                }
                Op::Next => {
                    if let Some(Reverse((at, _, ev))) = h.q.pop() {
                        h.deliver(at, ev);
                    }
                }
                Op::Any(k) => {
                    let n = h.q.len();
                    if n > 0 {
                        let mut all: Vec<_> = std::mem::take(&mut h.q).into_vec();
                        all.sort();
                        let Reverse((at, _, ev)) = all.remove(k % n);
                        h.q = all.into();
                        h.deliver(at, ev);
                    }
                }
                Op::Lose(k) => {
                    let alive: Vec<InstId> = h.p.revs.iter().flat_map(|r| r.alive.iter().copied()).collect();
                    if !alive.is_empty() {
                        let i = alive[k % alive.len()];
                        h.p.on_instance_lost(h.now, i);
                        // A lost instance's running requests fail as their connections break.
                        let on_it: Vec<ReqId> = h.running.iter().filter(|&(_, &x)| x == i).map(|(&r, _)| r).collect();
                        h.apply();
                        for r in on_it {
                            h.running.remove(&r);
                            h.p.on_request_done(h.now, r, Outcome::Failed);
                            h.apply();
                        }
                    }
                }
                Op::ClientGone(k) => {
                    let waiting: Vec<ReqId> = h.waiting.iter().copied().collect();
                    let running: Vec<ReqId> = h.running.keys().copied().collect();
                    let all: Vec<(ReqId, bool)> = waiting
                        .iter()
                        .map(|&r| (r, true))
                        .chain(running.iter().map(|&r| (r, false)))
                        .collect();
                    if !all.is_empty() {
                        let (r, was_waiting) = all[k % all.len()];
                        if was_waiting {
                            prop_assert!(h.p.on_client_closed(h.now, r));
                            h.waiting.remove(&r);
                        } else {
                            prop_assert!(!h.p.on_client_closed(h.now, r));
                            h.running.remove(&r);
                            h.p.on_request_done(h.now, r, Outcome::ClientClosed);
                        }
                        h.apply();
                    }
                }
                Op::Shutdown => {
                    h.p.on_shutdown(h.now);
                    h.apply();
                }
            }
        }
        // Drain: everything still pending is delivered (timers stop after shutdown).
        h.p.on_shutdown(h.now);
        h.apply();
        let mut guard = 0;
        while let Some(Reverse((at, _, ev))) = h.q.pop() {
            h.deliver(at, ev);
            guard += 1;
            prop_assert!(guard < 100_000, "the run does not end");
        }
        prop_assert!(h.running.is_empty());
        prop_assert!(h.waiting.is_empty());
        prop_assert_eq!(h.p.in_system(), 0);
        prop_assert_eq!(h.p.alive(), 0);
    }
}
