//! The keepalive pool: one instance per concurrent request, sliding idle timeout, limits.

use std::time::Duration;

use super::*;

fn settings(idle_s: u64, max: u32, min: u32) -> KeepaliveSettings {
    KeepaliveSettings {
        idle_timeout: Duration::from_secs(idle_s),
        max_instances: max,
        min_instances: min,
        ..KeepaliveSettings::default()
    }
}

fn with(choice: IdleChoice, reset: bool) -> KeepaliveSettings {
    KeepaliveSettings {
        idle_choice: choice,
        keepalive_reset: reset,
        ..settings(10, 0, 0)
    }
}

/// Three instances created in order a, b, c, all busy from t = 1.
fn three(k: &mut Keepalive) -> [KeepaliveId; 3] {
    let ids = [0, 1, 2].map(|_| match k.on_request(t(0)) {
        Route::ColdStart(id) => id,
        r => panic!("{r:?}"),
    });
    for id in ids {
        k.on_ready(t(1), id, true);
    }
    ids
}

fn t(s: u64) -> Time {
    Time::from_secs(s)
}

#[test]
fn one_instance_per_concurrent_request_then_reuse() {
    let mut k = Keepalive::new(settings(600, 0, 0));
    let Route::ColdStart(a) = k.on_request(t(0)) else {
        panic!("cold start expected")
    };
    let Route::ColdStart(b) = k.on_request(t(0)) else {
        panic!("second concurrent request: cold")
    };
    assert_ne!(a, b);
    k.on_ready(t(1), a, true);
    k.on_ready(t(1), b, true);
    assert_eq!((k.busy(), k.instances()), (2, 2));
    k.on_done(t(2), a);
    k.on_done(t(3), b);
    // The most recently used idle instance takes the next request.
    assert_eq!(k.on_request(t(4)), Route::Warm(b));
    assert_eq!(k.on_request(t(4)), Route::Warm(a));
    assert_eq!(k.on_request(t(4)), Route::ColdStart(KeepaliveId(2)));
}

#[test]
fn idle_timeout_slides_and_expires_longest_idle_first() {
    let mut k = Keepalive::new(settings(10, 0, 0));
    let ids: Vec<_> = (0..3)
        .map(|_| match k.on_request(t(0)) {
            Route::ColdStart(id) => id,
            r => panic!("{r:?}"),
        })
        .collect();
    for &id in &ids {
        k.on_ready(t(1), id, true);
    }
    k.on_done(t(2), ids[0]);
    k.on_done(t(5), ids[1]);
    k.on_done(t(7), ids[2]);
    assert_eq!(k.next_deadline(), Some(t(12)));
    assert_eq!(k.expire(t(11)), vec![]);
    // Reuse resets the idle timer of the instance reused (the newest idle one).
    assert_eq!(k.on_request(t(8)), Route::Warm(ids[2]));
    k.on_done(t(9), ids[2]);
    assert_eq!(k.expire(t(15)), vec![ids[0], ids[1]]);
    assert_eq!(k.next_deadline(), Some(t(19)));
    assert_eq!(k.expire(t(19)), vec![ids[2]]);
    assert_eq!((k.instances(), k.next_deadline()), (0, None));
}

#[test]
fn max_instances_rejects_and_min_instances_stay_warm() {
    let mut k = Keepalive::new(settings(10, 2, 1));
    let warm = k.ensure_min();
    assert_eq!(warm.len(), 1);
    k.on_ready(t(1), warm[0], false);
    assert_eq!(k.idle(), 1);
    assert_eq!(k.on_request(t(2)), Route::Warm(warm[0]));
    let Route::ColdStart(b) = k.on_request(t(2)) else {
        panic!()
    };
    assert_eq!(
        k.on_request(t(2)),
        Route::Reject,
        "at max_instances with none idle"
    );
    k.on_ready(t(3), b, true);
    k.on_done(t(4), warm[0]);
    k.on_done(t(5), b);
    // Both idle; only one may expire (min 1): the longest idle.
    assert_eq!(k.expire(t(100)), vec![warm[0]]);
    assert_eq!(k.next_deadline(), None);
    assert_eq!(k.instances(), 1);
    k.on_lost(b, LostState::Idle);
    assert_eq!(k.instances(), 0);
    assert_eq!(k.ensure_min().len(), 1);
}

#[test]
fn idle_choice_picks_the_rule_s_instance() {
    // Freed in the order c, a, b: last-freed takes b, newest-created c, first-free a.
    for (choice, want) in [
        (IdleChoice::LastFreed, 1),
        (IdleChoice::NewestCreated, 2),
        (IdleChoice::FirstFree, 0),
    ] {
        for reset in [true, false] {
            let mut k = Keepalive::new(with(choice, reset));
            let ids = three(&mut k);
            k.on_done(t(2), ids[2]);
            k.on_done(t(3), ids[0]);
            k.on_done(t(4), ids[1]);
            assert_eq!(
                k.on_request(t(5)),
                Route::Warm(ids[want]),
                "{choice:?} reset={reset}"
            );
            assert_eq!(k.idle(), 2);
        }
    }
}

#[test]
fn without_reset_reuse_never_extends_the_idle_timer() {
    let mut k = Keepalive::new(with(IdleChoice::LastFreed, false));
    let [a, b, _] = three(&mut k);
    k.on_done(t(2), a);
    // a's clock started at 2: it goes at 12 however often it is reused.
    assert_eq!(k.on_request(t(5)), Route::Warm(a));
    k.on_done(t(6), a);
    k.on_done(t(7), b);
    assert_eq!(k.next_deadline(), Some(t(12)));
    assert_eq!(k.expire(t(12)), vec![a]);
    // b's clock started at 7; busy past its deadline, it goes as soon as it is idle again.
    assert_eq!(k.on_request(t(8)), Route::Warm(b));
    k.on_done(t(30), b);
    assert_eq!(k.next_deadline(), Some(t(30)));
    assert_eq!(k.expire(t(30)), vec![b]);
    // With the reset (the default) the same history keeps a until 16.
    let mut k = Keepalive::new(with(IdleChoice::LastFreed, true));
    let [a, _, _] = three(&mut k);
    k.on_done(t(2), a);
    assert_eq!(k.on_request(t(5)), Route::Warm(a));
    k.on_done(t(6), a);
    assert_eq!(k.next_deadline(), Some(t(16)));
}

proptest::proptest! {
    /// The ordered sets with `last-freed` and the reset make exactly the choices of the O(1)
    /// stack the default uses (same warm instance, same expiries), whatever the history.
    #[test]
    fn ordered_last_freed_matches_the_stack(ops in proptest::collection::vec((0u8..3, 0u64..20), 1..200)) {
        let fast = Keepalive::new(with(IdleChoice::LastFreed, true));
        let mut slow = Keepalive::new(with(IdleChoice::LastFreed, true));
        slow.idle = Idle::Ordered { by_choice: BTreeMap::new(), by_deadline: BTreeSet::new() };
        let mut pools = [fast, slow];
        let mut now = 0u64;
        let mut busy: Vec<KeepaliveId> = Vec::new();
        for (op, dt) in ops {
            now += dt;
            let at = t(now);
            match op {
                0 => {
                    let r: Vec<Route> = pools.iter_mut().map(|p| p.on_request(at)).collect();
                    proptest::prop_assert_eq!(r[0], r[1]);
                    match r[0] {
                        Route::Warm(id) => busy.push(id),
                        Route::ColdStart(id) => {
                            for p in pools.iter_mut() {
                                p.on_ready(at, id, true);
                            }
                            busy.push(id);
                        }
                        Route::Reject => {}
                    }
                }
                1 if !busy.is_empty() => {
                    let id = busy.remove((dt as usize) % busy.len());
                    for p in pools.iter_mut() {
                        p.on_done(at, id);
                    }
                }
                _ => {
                    let e: Vec<Vec<KeepaliveId>> = pools.iter_mut().map(|p| p.expire(at)).collect();
                    proptest::prop_assert_eq!(&e[0], &e[1]);
                }
            }
            proptest::prop_assert_eq!(pools[0].next_deadline(), pools[1].next_deadline());
            proptest::prop_assert_eq!(pools[0].instances(), pools[1].instances());
        }
    }
}
