//! Deploys as events: revisions created during the run, rollouts (instant, gradual, rolled
//! back), header routes before the split, and what each revision and rollout measured.

use super::*;
use crate::router::rollout::step_params;
use crate::testing::fill;

/// Two revisions: v1 with all traffic, v2 (a slower start) as the test sets it.
fn two(v2: &str, rest: &str) -> String {
    fill(
        include_str!("fixtures/deploy-two.toml"),
        &[("v2", &v2), ("rest", &rest)],
    )
}

impl Harness {
    /// A request arrives at `at` (for `rev`, or the split's pick); returns its revision.
    fn arrive_to(&mut self, at: Time, rev: Option<RevId>) -> RevId {
        self.run_until(at);
        let (_, r) = self.p.on_arrival(self.now, rev);
        self.apply();
        r
    }

    /// Runs to `end` and returns the result.
    fn finish(mut self, end: Time) -> VariantResult {
        self.run_until(end);
        let (v, stats) = self.p.finish("t".into(), end);
        assert!(stats.violations.is_empty(), "{:?}", stats.violations);
        v
    }
}

fn ms(x: u64) -> Time {
    Time::from_millis(x)
}

const V1: RevId = RevId(0);
const V2: RevId = RevId(1);

#[test]
fn a_revision_does_not_exist_before_created_at_then_starts_its_initial_instance() {
    let mut h = Harness::new(&two("created_at = \"10s\"", ""));
    h.run_until(ms(9_999));
    assert!(!h.p.revision_exists(V2));
    assert_eq!(h.p.revision(V2).starting + h.p.revision(V2).ready, 0);
    // Asked for by name (a tag) before it exists: 404, counted as rejected on it.
    let (req, r) = h.p.on_arrival(h.now, Some(V2));
    h.apply();
    assert_eq!(r, V2);
    assert!(h.replies.contains(&(req, Reply::UnknownRevision)));
    h.run_until(ms(10_000));
    assert!(h.p.revision_exists(V2));
    assert_eq!(
        h.p.revision(V2).starting,
        1,
        "its initial instance cold-starts"
    );
    assert!(!h.p.revision_ready(V2));
    h.run_until(ms(12_000));
    assert!(h.p.revision_ready(V2), "Ready once its initial instance is");
    let v = h.finish(Time::from_secs(30));
    let v2 = &v.revisions[1];
    assert_eq!((v2.created_at_s, v2.ready_at_s), (10.0, Some(12.0)));
    assert_eq!(v2.requests.arrived, 1);
    assert_eq!(v2.requests.rejected, 1);
    // No instance before 10 s: at most 20 s of instance time, and a bill for no more.
    assert!(v2.instances.instance_seconds <= 20.0 + 1e-9, "{v2:?}");
    let r = &v2.cost["cloud-run-instance"];
    let total = &v.cost["cloud-run-instance"];
    assert!(r.total_usd > 0.0 && r.total_usd < total.total_usd);
}

/// "A switch at t with duration = "0s" sends every request after the new revision is Ready to
/// it": asked for at 5 s, v2 created at 10 s and Ready at 12 s.
#[test]
fn an_instant_switch_sends_every_request_after_the_new_revision_is_ready_to_it() {
    let toml = two(
        "created_at = \"10s\"",
        "[[rollouts]]\nat = \"5s\"\ntraffic = { v2 = 100 }\nduration = \"0s\"",
    );
    let mut h = Harness::new(&toml);
    let mut t = 100;
    while t <= 30_000 {
        let r = h.arrive_to(ms(t), None);
        let want = if t < 12_000 { V1 } else { V2 };
        assert_eq!(r, want, "a request at {t} ms");
        t += 250;
    }
    let v = h.finish(Time::from_secs(60));
    let ro = &v.rollouts.as_ref().expect("rollouts")[0];
    assert_eq!(
        (ro.requested_s, ro.started_s, ro.finished_s),
        (5.0, Some(12.0), Some(12.0))
    );
    assert_eq!(ro.steps, 1);
    assert_eq!(v.revisions[0].traffic.last().map(|p| p.percent), Some(0.0));
    assert_eq!(
        v.revisions[1].traffic.last().map(|p| p.percent),
        Some(100.0)
    );
}

/// The split follows Knative's step rule: 30 s for 100 % moves 1 % at the start, then
/// round(99 / 29) = 3 % every second from 1 s + 1 s on, the last step capped at 100 %.
#[test]
fn a_gradual_rollout_follows_knatives_step_rule() {
    let toml = two(
        "traffic = 0",
        "[[rollouts]]\nat = \"10s\"\ntraffic = { v2 = 100 }\nduration = \"30s\"",
    );
    assert_eq!(
        step_params(100.0, Duration::from_secs(30)),
        Some((3.0, Duration::from_secs(1)))
    );
    let mut h = Harness::new(&toml);
    h.run_until(ms(9_999));
    assert_eq!(h.p.split(), [100.0, 0.0]);
    h.run_until(ms(10_000));
    assert_eq!(h.p.split(), [99.0, 1.0], "1 % first");
    h.run_until(ms(11_999));
    assert_eq!(
        h.p.split(),
        [99.0, 1.0],
        "for the time the ingress takes (1 s) and a step"
    );
    for k in 1..=32u64 {
        h.run_until(Time::from_secs(11 + k));
        let v2 = 1.0 + 3.0 * k as f64;
        assert_eq!(h.p.split(), [100.0 - v2, v2], "step {k}");
    }
    h.run_until(Time::from_secs(44));
    assert_eq!(h.p.split(), [0.0, 100.0], "the last step is capped");
    let v = h.finish(Time::from_secs(60));
    let ro = &v.rollouts.as_ref().expect("rollouts")[0];
    assert_eq!((ro.started_s, ro.finished_s), (Some(10.0), Some(44.0)));
    assert_eq!(ro.steps, 34);
    assert_eq!(v.revisions[1].traffic.len(), 35, "0 %, then 34 steps");
}

/// The shares of arrivals follow the split while it moves: with a rollout held at 1 % for a
/// while, then 50 %, the requests each revision receives match.
#[test]
fn arrivals_follow_the_split_step_by_step() {
    let toml = two(
        "traffic = 0",
        "[[rollouts]]\nat = \"5s\"\ntraffic = { v1 = 50, v2 = 50 }\nduration = \"0s\"",
    );
    let mut h = Harness::new(&toml);
    let (mut before, mut after) = ([0u32; 2], [0u32; 2]);
    for i in 0..4000u64 {
        let t = ms(i * 2);
        let r = h.arrive_to(t, None);
        if t < Time::from_secs(5) {
            before[r.index()] += 1;
        } else {
            after[r.index()] += 1;
        }
    }
    assert_eq!(before[1], 0, "no request for v2 before the switch");
    let share = f64::from(after[1]) / f64::from(after[0] + after[1]);
    assert!((share - 0.5).abs() < 0.03, "{share}");
}

/// "A rollback restores the old split": a canary at 10 s, rolled back at 20 s; and a gradual
/// rollout rolled back while it moves stops where it is and is superseded.
#[test]
fn a_rollback_restores_the_old_split() {
    let toml = two(
        "traffic = 0",
        "[[rollouts]]\nat = \"10s\"\ntraffic = { v1 = 90, v2 = 10 }\n\
         [[rollouts]]\nat = \"20s\"\ntraffic = { v1 = 100 }",
    );
    let mut h = Harness::new(&toml);
    h.run_until(Time::from_secs(15));
    assert_eq!(h.p.split(), [90.0, 10.0]);
    h.run_until(Time::from_secs(25));
    assert_eq!(h.p.split(), [100.0, 0.0], "the old split");
    for i in 0..200 {
        assert_eq!(
            h.arrive_to(Time::from_secs(25) + Duration::from_millis(i), None),
            V1
        );
    }
    let v = h.finish(Time::from_secs(40));
    let ros = v.rollouts.expect("rollouts");
    assert_eq!(
        ros[0].window_end_s, 20.0,
        "the canary's window ends at the rollback"
    );
    assert_eq!(ros[1].requested_s, 20.0);
    assert_eq!(ros[1].traffic.get("v1"), Some(&100.0));

    // Rolled back in the middle of a gradual rollout.
    let toml = two(
        "traffic = 0",
        "[[rollouts]]\nat = \"10s\"\ntraffic = { v2 = 100 }\nduration = \"60s\"\n\
         [[rollouts]]\nat = \"20s\"\ntraffic = { v1 = 100 }",
    );
    let mut h = Harness::new(&toml);
    h.run_until(Time::from_secs(19));
    let mid = h.p.split()[1];
    assert!(mid > 1.0 && mid < 50.0, "{mid}");
    h.run_until(Time::from_secs(20));
    assert_eq!(h.p.split(), [100.0, 0.0]);
    h.run_until(Time::from_secs(90));
    assert_eq!(
        h.p.split(),
        [100.0, 0.0],
        "the superseded rollout takes no more steps"
    );
    let v = h.finish(Time::from_secs(90));
    let ros = v.rollouts.expect("rollouts");
    assert_eq!(ros[0].superseded_s, Some(20.0));
    assert_eq!(ros[0].finished_s, None);
    assert_eq!(ros[1].finished_s, Some(20.0));
}

/// "Header routes send exactly the matching class to its revision, before any split": the
/// testers' class goes to v2 once it is Ready (before that, the split, all v1), every other
/// class takes the split (all v1), whatever the split says about v2.
#[test]
fn header_routes_send_exactly_the_matching_class_before_the_split() {
    let toml = two(
        "traffic = 0\ncreated_at = \"5s\"",
        "[[routes]]\nmatch = { header = \"X-Canary\", value = \"1\" }\nrevision = \"v2\"\n\
         [[routes]]\nmatch = { header = \"x-group\", value = \"beta\" }\nrevision = \"v1\"\n\
         [[workload.request_classes]]\nname = \"users\"\nweight = 9\n\
         [[workload.request_classes]]\nname = \"testers\"\nheaders = { \"x-canary\" = \"1\" }\n\
         [[workload.request_classes]]\nname = \"wrong-value\"\nheaders = { \"x-canary\" = \"yes\" }",
    );
    let mut h = Harness::new(&toml);
    assert!(h.p.has_routes());
    for t in (0..20_000).step_by(100) {
        let at = ms(t);
        for class in 0..3 {
            h.run_until(at);
            let route = h.p.route_class(class);
            let r = h.arrive_to(at, route);
            let want = if class == 1 && at >= Time::from_secs(7) {
                V2
            } else {
                V1
            };
            assert_eq!(r, want, "class {class} at {t} ms");
        }
    }
    // The live router matches the request's own headers the same way.
    let headers = |v: &'static str| move |name: &str| (name == "x-canary").then_some(v);
    assert_eq!(h.p.route_headers(headers("1")), Some(V2));
    assert_eq!(h.p.route_headers(headers("0")), None);
    assert_eq!(
        h.p.route_headers(|n: &str| (n == "x-group").then_some("beta")),
        Some(V1)
    );
    let v = h.finish(Time::from_secs(30));
    // v2 is reachable through its route: its instance stays for the testers.
    assert!(v.revisions[1].requests.arrived > 0);
}

/// A revision no route, tag or share reaches is unreachable: its KPA ignores min-scale and
/// scales it to zero (Knative); a tag keeps it reachable.
#[test]
fn an_unreachable_revision_scales_to_zero_despite_min_scale() {
    let unreachable = two("traffic = 0\nautoscaler = { min_scale = 2 }", "");
    let mut h = Harness::new(&unreachable);
    h.run_until(Time::from_secs(100));
    assert_eq!(h.p.revision(V2).ready + h.p.revision(V2).starting, 0);
    let tagged = two(
        "traffic = 0\ntag = \"next\"\nautoscaler = { min_scale = 2 }",
        "",
    );
    let mut h = Harness::new(&tagged);
    h.run_until(Time::from_secs(100));
    assert_eq!(h.p.revision(V2).ready, 2);
}

/// Per-revision results add up to the run's, and a single revision's are the run's.
#[test]
fn revisions_add_up_to_the_run() {
    let toml = two(
        "traffic = 0",
        "[[rollouts]]\nat = \"10s\"\ntraffic = { v1 = 30, v2 = 70 }\nduration = \"20s\"",
    );
    let mut h = Harness::new(&toml);
    for i in 0..3000u64 {
        h.arrive_to(ms(i * 15), None);
    }
    let v = h.finish(Time::from_secs(60));
    let sum = |f: &dyn Fn(&crate::result::RevisionResult) -> f64| -> f64 {
        v.revisions.iter().map(f).sum()
    };
    assert_eq!(
        sum(&|r| r.requests.arrived as f64),
        v.requests.arrived as f64
    );
    assert_eq!(
        sum(&|r| r.requests.completed as f64),
        v.requests.completed as f64
    );
    assert_eq!(
        sum(&|r| r.cold_starts.count as f64),
        v.cold_starts.count as f64
    );
    assert!((sum(&|r| r.instances.instance_seconds) - v.instances.instance_seconds).abs() < 1e-6);
    for model in v.cost.keys() {
        let parts = sum(&|r| r.cost[model].total_usd);
        assert!(
            (parts - v.cost[model].total_usd).abs() < 1e-9,
            "{model}: {parts} vs {}",
            v.cost[model].total_usd
        );
    }
    let latency_n: u64 = v.revisions.iter().map(|r| r.latency_ms.count).sum();
    assert_eq!(latency_n, v.latency_ms.count);
    // One revision: its figures are the run's.
    let mut h = Harness::new(KPA);
    for i in 0..50u64 {
        h.arrive_to(ms(i * 300), None);
    }
    let v = h.finish(Time::from_secs(40));
    let r = &v.revisions[0];
    assert_eq!(r.requests, v.requests);
    assert_eq!(r.latency_ms, v.latency_ms);
    assert_eq!(r.instances, v.instances);
    assert_eq!(v.rollouts.as_deref(), Some(&[][..]));
}
