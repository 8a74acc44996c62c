//! The keepalive pool: one instance per concurrent request, sliding idle timeout, limits.

use std::time::Duration;

use super::*;

fn settings(idle_s: u64, max: u32, min: u32) -> KeepaliveSettings {
    KeepaliveSettings {
        idle_timeout: Duration::from_secs(idle_s),
        max_instances: max,
        min_instances: min,
    }
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
