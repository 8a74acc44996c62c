//! The platform's wiring of the core policies, on tokio's paused clock: requests enter through
//! the same admission calls the router makes, synthetic instances start after their sampled
//! cold start, and the driver runs the scrape, tick and reconciler, all in virtual time, so the
//! timelines are exact and the tests take no wall time.

use scalelab_core::testing::fill;
use std::sync::Arc;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::scenario::Scenario;
use tokio::sync::watch;

use crate::clock::Clock;
use scalelab_core::ids::RevId;
use scalelab_core::platform::Reply;

use crate::platform::{Admit, Answer, Running, Shared, Start};
use crate::{InstanceKind, driver};

fn scenario(extra: &str) -> Scenario {
    let src = fill(
        include_str!("tests/fixtures/paused.toml"),
        &[("extra", &extra)],
    );
    Scenario::from_toml_str(&src, "paused.toml".as_ref()).expect("valid test scenario")
}

struct Run {
    sh: Arc<Shared>,
    stop: watch::Sender<bool>,
}

fn boot(s: &Scenario) -> Run {
    let sh = Arc::new(Shared::new(
        s,
        7,
        "baseline".into(),
        Clock::start(1.0),
        InstanceKind::Synthetic {
            hello: true,
            allowed_origin: "*".into(),
        },
        None,
        None,
        None,
        5,
    ));
    sh.boot();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(driver::run(sh.clone(), rx));
    Run { sh, stop }
}

/// Admits a request and waits until it runs.
async fn admit(sh: &Arc<Shared>) -> Running {
    match sh.arrive(None) {
        Admit::Run(r) => r,
        Admit::Wait { rx, .. } => match rx.await.expect("a message") {
            Start::Run(r) => r,
            Start::Reply(reply) => panic!("answered: {}", reply.reason()),
        },
        Admit::Reject { reply, .. } => panic!("rejected: {}", reply.reason()),
    }
}

/// A request that holds its instance for `service`, like a synthetic instance does.
async fn request(sh: Arc<Shared>, service: Duration) -> (Time, Time, bool) {
    let t0 = sh.clock.now();
    let run = admit(&sh).await;
    sh.clock.sleep(service).await;
    sh.done(&run, Answer::Answered(200));
    (t0, sh.clock.now(), run.cold)
}

async fn wait_for_zero(sh: &Arc<Shared>, limit: Duration) -> Option<Time> {
    let until = sh.clock.now() + limit;
    while sh.clock.now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if sh.alive() == 0 {
            return Some(sh.clock.now());
        }
    }
    None
}

#[tokio::test(start_paused = true)]
async fn scale_from_zero_waits_one_cold_start_then_scales_back_to_zero() {
    let run = boot(&scenario(""));
    let sh = run.sh.clone();
    assert_eq!(sh.alive(), 0, "initial_scale = 0 starts nothing");
    // A new revision's decider has made no decision yet (desired −1, Knative's initial
    // status); the first request pokes it all the same: one cold start + the service time.
    let (t0, t1, cold) = request(sh.clone(), Duration::from_millis(100)).await;
    assert_eq!((t0, t1, cold), (Time::ZERO, Time::from_millis(400), true));
    let (_, t2, cold) = request(sh.clone(), Duration::from_millis(100)).await;
    assert_eq!(t2, Time::from_millis(500));
    assert!(!cold, "the second request finds the instance warm");
    // Idle: the stable window empties, the PA goes inactive, the grace period passes.
    let zero_at = wait_for_zero(&sh, Duration::from_secs(30))
        .await
        .expect("scaled to zero");
    assert!(
        zero_at >= Time::from_millis(8500) && zero_at <= Time::from_millis(14_500),
        "scale to zero at {zero_at}: after the 6 s window, within window + grace + ticks"
    );
    // At zero with desired = 0, a request pokes the decider: one cold start of latency.
    let (t3, t4, cold) = request(sh.clone(), Duration::from_millis(100)).await;
    assert_eq!(
        t4 - t3,
        Duration::from_millis(400),
        "300 ms cold start + 100 ms service"
    );
    assert!(cold);
    let live = sh.lock();
    let t = live.core.tally();
    assert_eq!(t.cold_starts, 2);
    assert_eq!(t.delayed, 2);
    assert_eq!(t.scale_to_zero_events, 1);
    assert_eq!(t.completed, 3);
    assert_eq!(t.in_system.level(), 0);
    drop(live);
    let _ = run.stop.send(true);
}

#[tokio::test(start_paused = true)]
async fn a_burst_panics_and_scales_up_within_max_scale() {
    let run = boot(&scenario("max_scale = 5"));
    let sh = run.sh.clone();
    let reqs: Vec<_> = (0..20)
        .map(|_| tokio::spawn(request(sh.clone(), Duration::from_secs(2))))
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    {
        let rev = sh.lock().core.revision(RevId(0));
        assert!(
            rev.panic,
            "20 requests on 1 pod is over the 200 % panic threshold"
        );
        assert_eq!(
            rev.desired, 20,
            "the decider wants one pod per request; the reconciler caps"
        );
        assert_eq!(
            rev.ready + rev.starting,
            5,
            "max_scale bounds the instances"
        );
        assert_eq!(
            rev.target, 5,
            "the status line's desired figure is the reconciler's, within max_scale"
        );
    }
    let mut done = 0;
    for r in reqs {
        let (_, _, _) = r.await.expect("request task");
        done += 1;
    }
    assert_eq!(done, 20);
    let live = sh.lock();
    let t = live.core.tally();
    assert!(t.panic_episodes >= 1);
    assert_eq!(t.peak, 5);
    assert_eq!(t.completed, 20);
    drop(live);
    let _ = run.stop.send(true);
}

#[tokio::test(start_paused = true)]
async fn a_full_activator_queue_rejects_and_a_queued_deadline_times_out() {
    let s = scenario(
        r#"max_scale = 1
        [router]
        activator_queue_depth = 2"#,
    );
    let run = boot(&s);
    let sh = run.sh.clone();
    let a = sh.arrive(None);
    let b = sh.arrive(None);
    let c = sh.arrive(None);
    assert!(matches!(a, Admit::Wait { .. }));
    assert!(matches!(b, Admit::Wait { .. }));
    match c {
        Admit::Reject { reply, .. } => {
            assert_eq!(reply.status(), 503);
            assert_eq!(reply.reason(), "activator-queue-full");
        }
        _ => panic!("the third request should be rejected"),
    }
    // The second waits behind the first (cc = 1, one instance) and gives up at its deadline.
    let Admit::Wait {
        req,
        rev,
        arrival,
        rx,
        ..
    } = b
    else {
        unreachable!()
    };
    drop(rx);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(sh.time_out(req, rev, arrival), Some(Reply::Timeout));
    let live = sh.lock();
    let t = live.core.tally();
    assert_eq!((t.arrived, t.rejected, t.timed_out), (3, 1, 1));
    drop(live);
    let _ = run.stop.send(true);
}

#[tokio::test(start_paused = true)]
async fn synthetic_instances_share_their_vcpu_like_the_simulator() {
    // One warm instance, one vCPU, all of each 100 ms request CPU work: two requests at once
    // both end after 200 ms (processor sharing), as the simulator has them.
    let s = Scenario::from_toml_str(include_str!("tests/fixtures/cpu.toml"), "cpu.toml".as_ref())
        .expect("valid");
    let run = boot(&s);
    let sh = run.sh.clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let one = |sh: Arc<Shared>| async move {
        let t0 = sh.clock.now();
        let run = admit(&sh).await;
        assert!(run.later, "the model decides its end");
        let left = sh.cpu_phase(&run).await.expect("not timed out");
        sh.clock.sleep(left).await;
        sh.done(&run, Answer::Answered(200));
        sh.clock.now() - t0
    };
    let (a, b) = tokio::join!(one(sh.clone()), one(sh.clone()));
    assert_eq!(
        (a, b),
        (Duration::from_millis(200), Duration::from_millis(200))
    );
    // Alone, a request takes its 100 ms.
    assert_eq!(one(sh.clone()).await, Duration::from_millis(100));
    let live = sh.lock();
    assert_eq!(live.core.tally().completed, 3);
    drop(live);
    let _ = run.stop.send(true);
}
