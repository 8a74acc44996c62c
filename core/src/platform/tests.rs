//! The state machine without a driver: a small harness plays the driver (time-ordered, or in
//! random orders as a live driver's timing may deliver them) and checks the invariants after
//! every transition.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use super::*;
use crate::scenario::Scenario;
use crate::testing::fill;

fn scenario(toml: &str) -> Scenario {
    Scenario::from_toml_str(toml, "platform-test.toml".as_ref()).expect("valid test scenario")
}

/// What the harness schedules, as the simulator does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Ready(InstId),
    Done(ReqId, bool),
    Timeout(ReqId),
    Stopped(InstId),
    Timer(Timer),
}

/// A driver for tests: it keeps the effects' consequences in a queue and checks invariants
/// after every call.
struct Harness {
    p: Platform,
    q: BinaryHeap<Reverse<(Time, u64, Ev)>>,
    seq: u64,
    now: Time,
    /// Requests running (from their `Serve`) and where.
    running: BTreeMap<ReqId, InstId>,
    /// Requests waiting (from their `Wait`).
    waiting: BTreeSet<ReqId>,
    /// Requests answered by the platform itself, and how.
    replies: Vec<(ReqId, Reply)>,
    /// Instances the platform asked to start / stop.
    started: BTreeSet<InstId>,
    stop_asked: BTreeSet<InstId>,
    gone: BTreeSet<InstId>,
    /// Every effect seen, in order.
    log: Vec<Effect>,
}

impl Harness {
    fn new(toml: &str) -> Harness {
        Harness::with_config(toml, |_| {})
    }

    /// The KPA scenario with `n` instances kept warm (initial and min scale), run until `t`.
    fn warm(n: u32, t: Time) -> Harness {
        let with = format!("initial_scale = {n}\nmin_scale = {n}");
        let mut h = Harness::new(&KPA.replace("initial_scale = 0", &with));
        h.run_until(t);
        h
    }

    fn with_config(toml: &str, f: impl FnOnce(&mut Config)) -> Harness {
        let s = scenario(toml);
        let mut cfg = Config {
            check: true,
            ..Config::simulated(&s, 1)
        };
        f(&mut cfg);
        let mut h = Harness {
            p: Platform::new(&s, cfg),
            q: BinaryHeap::new(),
            seq: 0,
            now: Time::ZERO,
            running: BTreeMap::new(),
            waiting: BTreeSet::new(),
            replies: Vec::new(),
            started: BTreeSet::new(),
            stop_asked: BTreeSet::new(),
            gone: BTreeSet::new(),
            log: Vec::new(),
        };
        h.p.boot(Time::ZERO);
        h.apply();
        h
    }

    fn push(&mut self, at: Time, ev: Ev) {
        self.seq += 1;
        self.q.push(Reverse((at, self.seq, ev)));
    }

    /// Carries out the effects and checks the invariants.
    fn apply(&mut self) {
        let mut effects = Vec::new();
        self.p.take_effects(&mut effects);
        let now = self.now;
        for &e in &effects {
            self.log.push(e);
            match e {
                Effect::StartInstance { inst, cold, .. } => {
                    assert!(self.started.insert(inst), "{inst} started twice");
                    self.push(now + cold, Ev::Ready(inst));
                }
                Effect::StopInstance { inst, shutdown } => {
                    assert!(self.stop_asked.insert(inst), "{inst} asked to stop twice");
                    self.push(now + shutdown, Ev::Stopped(inst));
                }
                Effect::Serve(s) => {
                    let (state, _) = self.p.instance(s.inst).expect("known instance");
                    assert!(
                        matches!(state, InstState::Ready | InstState::Draining),
                        "{} served on {} in state {state:?}",
                        s.req,
                        s.inst
                    );
                    self.waiting.remove(&s.req);
                    assert!(self.running.insert(s.req, s.inst).is_none());
                    if !s.later() {
                        self.push(s.ends_at, Ev::Done(s.req, s.times_out));
                    }
                }
                Effect::Finish(s) => {
                    assert_eq!(
                        self.running.get(&s.req),
                        Some(&s.inst),
                        "{} finished",
                        s.req
                    );
                    assert!(s.ends_at >= now, "an end in the past");
                    self.push(s.ends_at, Ev::Done(s.req, s.times_out));
                }
                Effect::Wait { req, deadline } => {
                    assert!(self.waiting.insert(req));
                    self.push(deadline, Ev::Timeout(req));
                }
                Effect::Reply { req, reply } => {
                    self.waiting.remove(&req);
                    self.replies.push((req, reply));
                }
                Effect::Timer { at, timer } => self.push(at, Ev::Timer(timer)),
                Effect::RevisionFailed { .. } => {}
            }
        }
        self.check();
    }

    fn check(&self) {
        let p = &self.p;
        let t = &p.t;
        assert!(
            p.stats.violations.is_empty(),
            "violations: {:?}",
            p.stats.violations
        );
        // Conservation: every request is in exactly one place.
        let in_system = t.in_system.level();
        assert_eq!(
            t.arrived,
            t.completed + t.rejected + t.timed_out + in_system,
            "conservation"
        );
        let queued: u64 = p
            .revs
            .iter()
            .map(|r| u64::from(r.router.queued()) + u64::from(r.waiting_cold))
            .sum::<u64>()
            // A shutdown may stop an instance with requests in its queue-proxy: they wait for
            // their timeout, no longer counted by the router.
            + p.reqs
                .iter()
                .filter(|q| {
                    matches!(q.state, ReqState::QueuedProxy(i)
                        if p.insts[i.index()].state == InstState::Stopped)
                })
                .count() as u64;
        let running = p
            .reqs
            .iter()
            .filter(|q| matches!(q.state, ReqState::Running(_)))
            .count();
        assert_eq!(in_system, queued + running as u64, "queued + running");
        assert_eq!(
            running,
            self.running.len(),
            "running as the driver knows it"
        );
        for (r, rev) in p.revs.iter().enumerate() {
            let mut by_state = [0u32; 4];
            for &i in &rev.alive {
                let inst = &p.insts[i.index()];
                assert_eq!(inst.rev.index(), r);
                by_state[inst.state as usize] += 1;
                // Never beyond the container concurrency.
                let cc = p.revs[r].router_cc();
                if cc > 0 {
                    assert!(inst.busy <= cc, "{i} runs {} > cc {cc}", inst.busy);
                }
                // A draining instance with nothing left has been asked to stop.
                if inst.state == InstState::Draining && inst.busy == 0 && rev.router.is_idle(i) {
                    assert!(inst.stopping, "idle draining {i} not stopping");
                }
            }
            assert_eq!(
                by_state[InstState::Stopped as usize],
                0,
                "stopped but alive"
            );
            assert_eq!(rev.starting, by_state[InstState::Starting as usize]);
            assert_eq!(rev.ready, by_state[InstState::Ready as usize]);
            // The performance model: each instance's CPU holds exactly its requests in their
            // CPU phase; parked instances are ready, idle-kept, out of the routable set.
            for &i in &rev.alive {
                let inst = &p.insts[i.index()];
                let in_cpu = p
                    .reqs
                    .iter()
                    .filter(|q| q.in_cpu && q.state == ReqState::Running(i))
                    .count() as u32;
                match &inst.cpu {
                    Some(c) => assert_eq!(c.running(), in_cpu, "{i}: CPU phases"),
                    None => assert_eq!(in_cpu, 0, "{i}: CPU phase without a CPU"),
                }
                if inst.parked {
                    assert_eq!(inst.state, InstState::Ready, "{i} parked");
                }
            }
            if let Kind::CloudRun { parked, .. } = &rev.kind {
                let flagged = rev
                    .alive
                    .iter()
                    .filter(|&&i| p.insts[i.index()].parked)
                    .count();
                assert_eq!(parked.len(), flagged, "parked instances");
                let max = rev_max_for_test(rev);
                if max > 0 && !p.closing {
                    assert!(rev.starting + rev.ready <= max, "beyond max_scale");
                }
            }
        }
        let alive: usize = p.revs.iter().map(|r| r.alive.len()).sum();
        assert_eq!(t.alive.level(), alive as u64, "alive");
        // Deploys: per-revision conservation, and no traffic to a revision that does not exist.
        if p.multi {
            let mut arrived = 0;
            for rev in &p.revs {
                let rt = &rev.rt;
                assert_eq!(
                    rev.counters.arrived,
                    rt.completed + rt.rejected + rt.timed_out + rev.in_system,
                    "conservation of revision {}",
                    rev.name
                );
                assert_eq!(
                    rt.alive.level(),
                    rev.alive.len() as u64,
                    "{} alive",
                    rev.name
                );
                arrived += rev.counters.arrived;
            }
            assert_eq!(arrived, t.arrived, "the revisions' arrivals add up");
        }
        let split: f64 = p.split_percents.iter().sum();
        assert!((split - 100.0).abs() < 1e-6, "the split sums to {split}");
        for (r, &pct) in p.split_percents.iter().enumerate() {
            assert!(
                pct == 0.0 || p.deploy[r].exists,
                "{pct} % for revision {r}, which does not exist"
            );
        }
    }

    /// Processes the next event in time order. False when none is left or `until` is reached.
    fn step(&mut self, until: Time) -> bool {
        let Some(Reverse((at, _, ev))) = self.q.peek().copied() else {
            return false;
        };
        if at > until {
            return false;
        }
        self.q.pop();
        self.deliver(at, ev);
        true
    }

    /// Delivers `ev`, scheduled at `at`, at `max(now, at)` (late, as a live driver may).
    fn deliver(&mut self, at: Time, ev: Ev) {
        self.now = self.now.max(at);
        let now = self.now;
        match ev {
            Ev::Ready(i) => self.p.on_instance_ready(now, i),
            Ev::Done(req, timed_out) => {
                if self.running.remove(&req).is_some() {
                    let o = if timed_out {
                        Outcome::TimedOut
                    } else {
                        Outcome::Answered
                    };
                    self.p.on_request_done(now, req, o);
                }
            }
            Ev::Timeout(req) => {
                let waited = self.waiting.contains(&req);
                assert_eq!(self.p.on_timeout(now, req), waited, "timeout of {req}");
            }
            Ev::Stopped(i) => {
                self.gone.insert(i);
                self.p.on_instance_stopped(now, i);
            }
            Ev::Timer(timer) => self.p.on_timer(now, at, timer),
        }
        self.apply();
    }

    fn run_until(&mut self, until: Time) {
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    fn arrive(&mut self, at: Time) -> ReqId {
        self.run_until(at);
        let (req, _) = self.p.on_arrival(self.now, None);
        self.apply();
        req
    }

    fn state(&self, i: InstId) -> InstState {
        self.p.instance(i).expect("instance").0
    }
}

impl Rev {
    fn router_cc(&self) -> u32 {
        self.router.container_concurrency()
    }
}

fn rev_max_for_test(rev: &Rev) -> u32 {
    match &rev.kind {
        Kind::CloudRun { cr, .. } => cr.settings().max_scale,
        _ => 0,
    }
}

const KPA: &str = include_str!("tests/fixtures/kpa.toml");

#[test]
fn a_request_to_a_revision_at_zero_waits_for_the_cold_start_and_never_runs_on_a_starting_instance()
{
    let mut h = Harness::new(KPA);
    assert_eq!(h.p.alive(), 0, "initial_scale = 0");
    let req = h.arrive(Time::from_secs(3));
    assert!(h.waiting.contains(&req), "it waits in the activator");
    // The decider has made no decision yet (desired −1, Knative's initial status): the first
    // request pokes it all the same, so its instance starts now, not at the 4 s tick.
    let inst = *h
        .started
        .iter()
        .next()
        .expect("an instance for the request, at once");
    assert_eq!(h.state(inst), InstState::Starting);
    assert!(h.running.is_empty(), "nothing runs on a starting instance");
    h.run_until(Time::from_millis(3999));
    assert_eq!(h.state(inst), InstState::Starting);
    assert!(h.running.is_empty(), "nothing runs on a starting instance");
    h.run_until(Time::from_millis(4000));
    assert_eq!(h.state(inst), InstState::Ready);
    h.run_until(Time::from_millis(4100));
    let t = h.p.tally();
    assert_eq!((t.completed, t.delayed), (1, 1), "one cold request");
    assert!(h.p.request(req).is_none(), "answered and released");
    let max_ms = t.latency_cold.summary().max;
    assert!(
        (max_ms - 1100.0).abs() < 2.0,
        "one cold start (1 s) + the service time (100 ms): {max_ms} ms"
    );
}

#[test]
fn without_the_first_request_poke_the_first_request_waits_for_a_tick_with_data() {
    // Knative's multiscaler as it is: no poke before the first valid decision.
    let mut h = Harness::with_config(KPA, |c| c.poke_before_first_decision = false);
    let req = h.arrive(Time::from_secs(3));
    assert!(h.started.is_empty(), "no instance before the 4 s tick");
    h.run_until(Time::from_millis(4000));
    assert_eq!(h.started.len(), 1, "the 4 s tick starts it");
    h.run_until(Time::from_millis(5100));
    assert!(h.p.request(req).is_none(), "answered");
}

#[test]
fn a_waiting_request_whose_client_went_away_leaves_its_queue() {
    let mut h = Harness::new(&KPA.replace(r#"value = "1s""#, r#"value = "20s""#));
    let req = h.arrive(Time::from_secs(1));
    assert!(h.waiting.contains(&req));
    assert!(h.p.on_client_closed(h.now, req));
    h.waiting.remove(&req);
    h.apply();
    assert!(h.replies.contains(&(req, Reply::ClientClosed)));
    assert_eq!(Reply::ClientClosed.status(), 499);
    let t = h.p.tally();
    assert_eq!((t.rejected, t.timed_out, t.completed), (1, 0, 0));
    assert_eq!(h.p.stats().client_closed, 1);
    // Gone already: a second report and its deadline change nothing.
    assert!(!h.p.on_client_closed(h.now, req));
    h.run_until(Time::from_secs(30));
    assert_eq!(h.p.tally().timed_out, 0);
    assert_eq!(h.p.tally().rejected, 1);
}

#[test]
fn a_running_request_whose_client_went_away_frees_its_slot() {
    let mut h = Harness::warm(1, Time::from_secs(2));
    let a = h.arrive(Time::from_secs(3));
    let b = h.arrive(Time::from_secs(3));
    assert!(h.running.contains_key(&a), "cc = 1: the first runs");
    assert!(h.waiting.contains(&b), "the second waits for the slot");
    assert!(
        !h.p.on_client_closed(h.now, a),
        "a running request does not wait"
    );
    h.running.remove(&a);
    h.p.on_request_done(h.now, a, Outcome::ClientClosed);
    h.apply();
    assert!(
        h.running.contains_key(&b),
        "the freed slot goes to the next one"
    );
    assert_eq!(h.p.stats().client_closed, 1);
    assert_eq!(h.p.tally().rejected, 1);
    h.run_until(Time::from_secs(4));
    assert_eq!(h.p.tally().completed, 1);
}

#[test]
fn a_revision_whose_instances_keep_failing_to_start_gives_up() {
    let toml = KPA.replace(
        "initial_scale = 0",
        "initial_scale = 0\ntarget_utilization = 1.0",
    );
    let mut h = Harness::with_config(&toml, |c| c.max_start_failures = Some(3));
    let waiting = h.arrive(Time::from_secs(1));
    for n in 1..=3usize {
        assert_eq!(h.started.len(), n, "one instance at a time");
        let inst = *h.started.iter().last().expect("an instance starts");
        assert_eq!(h.state(inst), InstState::Starting);
        assert!(
            h.waiting.contains(&waiting),
            "still waiting before failure {n}"
        );
        h.p.on_instance_lost(h.now, inst);
        h.apply();
    }
    assert_eq!(h.started.len(), 3, "no fourth start");
    assert!(
        h.log
            .iter()
            .any(|e| matches!(e, Effect::RevisionFailed { rev } if rev.index() == 0))
    );
    assert!(h.replies.contains(&(waiting, Reply::RevisionFailed)));
    assert_eq!(Reply::RevisionFailed.status(), 503);
    let later = h.arrive(Time::from_secs(2));
    assert!(
        h.replies.contains(&(later, Reply::RevisionFailed)),
        "at once"
    );
    h.run_until(Time::from_secs(20));
    assert_eq!(h.started.len(), 3, "the autoscaler starts nothing either");
    assert!(h.p.revision(RevId(0)).failed);
    assert_eq!(h.p.tally().rejected, 2);
}

#[test]
fn the_reconcilers_target_is_within_max_scale_while_the_decider_wants_more() {
    let toml = KPA
        .replace("initial_scale = 0", "initial_scale = 1\nmax_scale = 2")
        .replace(r#"value = "100ms""#, r#"value = "5s""#)
        .replace(r#"timeout = "5s""#, r#"timeout = "60s""#);
    let mut h = Harness::new(&toml);
    for _ in 0..30 {
        h.arrive(Time::from_millis(2500));
    }
    h.run_until(Time::from_secs(5));
    let v = h.p.revision(RevId(0));
    assert!(v.desired > 2, "the decider wants {}", v.desired);
    assert_eq!(v.target, 2, "max_scale bounds what the reconciler asks for");
}

#[test]
fn a_queued_request_times_out_at_its_deadline_and_a_late_timeout_is_ignored() {
    let mut h = Harness::new(&KPA.replace(r#"value = "1s""#, r#"value = "20s""#));
    let req = h.arrive(Time::from_secs(1));
    h.run_until(Time::from_secs(7));
    assert!(
        h.replies.contains(&(req, Reply::Timeout)),
        "504 at the deadline"
    );
    assert_eq!(h.p.tally().timed_out, 1);
    // The same id again (a timer that fires twice, a reused slot): nothing happens.
    assert!(!h.p.on_timeout(h.now, req));
    h.p.on_request_done(h.now, req, Outcome::Answered);
    assert_eq!(h.p.tally().completed, 0);
    h.check();
}

#[test]
fn a_request_running_past_its_timeout_ends_at_the_deadline() {
    let mut h = Harness::new(&KPA.replace(r#"value = "100ms""#, r#"value = "9s""#));
    h.arrive(Time::from_secs(1));
    h.run_until(Time::from_secs(30));
    let t = h.p.tally();
    assert_eq!((t.completed, t.timed_out), (0, 1));
    let serve = h
        .log
        .iter()
        .find_map(|e| match e {
            Effect::Serve(s) => Some(*s),
            _ => None,
        })
        .expect("it started");
    assert!(serve.times_out);
    assert_eq!(
        serve.ends_at,
        Time::from_secs(6),
        "arrival 1 s + timeout 5 s"
    );
}

#[test]
fn an_idle_kpa_revision_drains_its_instance_and_it_stops_once() {
    // One request, then nothing: the stable window empties and the instance is removed.
    let mut h = Harness::new(KPA);
    h.arrive(Time::from_secs(1));
    h.run_until(Time::from_secs(200));
    let inst = *h.started.iter().next().expect("started");
    assert!(h.stop_asked.contains(&inst), "drained after the window");
    assert!(h.gone.contains(&inst));
    assert_eq!(h.state(inst), InstState::Stopped);
    assert_eq!(h.p.alive(), 0);
    assert_eq!(h.p.tally().scale_to_zero_events, 1);
    // A late readiness or stop report for a gone instance changes nothing.
    h.p.on_instance_ready(h.now, inst);
    h.p.on_instance_stopped(h.now, inst);
    h.apply();
    assert_eq!(h.p.tally().scale_to_zero_events, 1);
}

/// Runs `toml` with arrivals at `at` (seconds) until `end`, delivering every whole second, or
/// (`skip`) processing the idle ones at once as the simulator does. Returns the result, the
/// seconds skipped, and whether a second was ever found idle while an instance was alive.
fn run_idle(toml: &str, at: &[u64], end: u64, skip: bool) -> (String, u64, bool) {
    let mut h = Harness::new(toml);
    let mut idle_while_alive = false;
    let mut arrivals = at.iter().map(|&s| Time::from_secs(s)).peekable();
    loop {
        let next_ev = h.q.peek().map(|Reverse((t, _, _))| *t);
        let next_arr = arrivals.peek().copied();
        match (next_ev, next_arr) {
            (_, Some(a)) if next_ev.is_none_or(|t| a < t) => {
                arrivals.next();
                h.arrive(a);
                continue;
            }
            (None, None) => break,
            _ => {}
        }
        let Some(Reverse((t, _, ev))) = h.q.peek().copied() else {
            break;
        };
        if t >= Time::from_secs(end) {
            break;
        }
        if skip && ev == Ev::Timer(Timer::Second) && h.p.second_is_idle(t) {
            idle_while_alive |=
                h.p.alive() > 0 && h.p.revs.iter().any(|r| matches!(r.kind, Kind::Kpa { .. }));
            h.q.pop();
            h.now = t;
            // Seconds before the next event or arrival (at least this one).
            let next = [
                h.q.peek().map(|Reverse((n, _, _))| *n),
                arrivals.peek().copied(),
            ]
            .into_iter()
            .flatten()
            .chain([Time::from_secs(end)])
            .min()
            .expect("the end");
            let count = if next > t {
                (next.0 - t.0).div_ceil(SECOND)
            } else {
                1
            };
            let (last, n) = h.p.skip_seconds(t, count);
            h.now = last;
            if let Some(n) = n {
                h.push(n, Ev::Timer(Timer::Second));
            }
            h.check();
            continue;
        }
        h.step(Time::from_secs(end));
    }
    let skipped = h.p.stats().seconds_skipped;
    let (v, _) = h.p.finish("v".into(), Time::from_secs(end));
    let json = serde_json::to_string(&v).expect("json");
    (json, skipped, idle_while_alive)
}

#[test]
fn idle_seconds_processed_at_once_give_what_delivering_each_gives() {
    // A KPA revision is busy for about two minutes after a request (window, grace period).
    for (toml, at, end, idle) in [
        (KPA, &[1, 2, 200, 201, 450][..], 600, 150),
        (KEEPALIVE, &[1, 2, 200, 201, 1500, 3000][..], 3600, 3500),
    ] {
        let (ticked, none, _) = run_idle(toml, at, end, false);
        // (A KPA second may be idle with an instance alive: one ready, idle pod whose
        // scrapes report zeros to a quiet decider; `skip_seconds` records them.)
        let (skipped, n, _alive) = run_idle(toml, at, end, true);
        assert_eq!(none, 0);
        assert!(n > idle, "{n} seconds skipped, expected more than {idle}");
        assert_eq!(skipped, ticked);
    }
}

#[test]
fn a_draining_instance_finishes_its_request_before_it_stops() {
    let mut h = Harness::new(&KPA.replace(r#"value = "100ms""#, r#"value = "1500ms""#));
    h.arrive(Time::from_secs(1));
    // Poked at 1 s, ready at 2 s: the request runs from 2 s to 3.5 s.
    h.run_until(Time::from_millis(2500));
    let inst = *h.started.iter().next().expect("started");
    assert_eq!(h.running.len(), 1);
    h.p.drain(h.now, inst);
    h.apply();
    assert_eq!(h.state(inst), InstState::Draining);
    assert!(!h.stop_asked.contains(&inst), "it still runs a request");
    h.run_until(Time::from_secs(8));
    assert!(h.stop_asked.contains(&inst), "stopped once idle");
    assert_eq!(h.p.tally().completed, 1);
}

#[test]
fn the_reconciler_requeues_itself_and_scale_to_zero_waits_for_the_grace_period() {
    let mut h = Harness::new(KPA);
    h.arrive(Time::from_secs(1));
    h.run_until(Time::from_secs(200));
    let reconcile_timers = h
        .log
        .iter()
        .filter(|e| {
            matches!(
                e,
                Effect::Timer {
                    timer: Timer::Reconcile(_),
                    ..
                }
            )
        })
        .count();
    assert!(reconcile_timers >= 2, "requeues: {reconcile_timers}");
    let stopped_at = h
        .log
        .iter()
        .position(|e| matches!(e, Effect::StopInstance { .. }))
        .expect("stopped");
    assert!(stopped_at > 0);
    // Traffic ended at ~1.1 s; the 60 s window, then 30 s of grace.
    assert!(h.p.tally().at_zero.level() == 1);
}

const KEEPALIVE: &str = include_str!("tests/fixtures/keepalive.toml");

#[test]
fn keepalive_reuses_a_warm_instance_and_expires_it_after_the_idle_timeout() {
    let mut h = Harness::new(KEEPALIVE);
    h.arrive(Time::from_secs(1));
    h.run_until(Time::from_secs(10));
    assert_eq!(h.started.len(), 1);
    h.arrive(Time::from_secs(60));
    h.run_until(Time::from_secs(70));
    assert_eq!(h.started.len(), 1, "warm reuse");
    assert_eq!(h.p.tally().delayed, 1);
    // Idle since 61 s: gone at 661 s, not before.
    h.run_until(Time::from_secs(660));
    assert!(h.stop_asked.is_empty());
    h.run_until(Time::from_secs(662));
    assert_eq!(h.stop_asked.len(), 1);
}

#[test]
fn keepalive_rejects_beyond_max_instances() {
    let mut h = Harness::new(KEEPALIVE);
    let a = h.arrive(Time::from_secs(1));
    let b = h.arrive(Time::from_secs(1));
    let c = h.arrive(Time::from_secs(1));
    assert!(h.waiting.contains(&a) && h.waiting.contains(&b));
    assert!(h.replies.contains(&(c, Reply::MaxInstances)));
    assert_eq!(h.p.tally().rejected, 1);
}

#[test]
fn a_lost_starting_instance_fails_its_waiting_request_and_is_replaced_with_a_back_off() {
    let mut h = Harness::new(KEEPALIVE);
    let req = h.arrive(Time::from_secs(1));
    let inst = *h.started.iter().next().expect("started");
    h.p.on_instance_lost(h.now, inst);
    h.apply();
    assert!(h.replies.contains(&(req, Reply::InstanceFailed)));
    assert_eq!(h.p.stats().failed, 1);
    assert_eq!(h.state(inst), InstState::Stopped, "nothing to stop");
    assert_eq!(
        h.p.tally().scale_to_zero_events,
        0,
        "a crash that takes the last instance is not a scale-to-zero"
    );
    // The next request starts a new instance, after a back-off.
    h.arrive(Time::from_secs(2));
    let next = *h.started.iter().last().expect("replacement");
    assert_ne!(next, inst);
    let plan = h.p.instance_plan(next).expect("plan");
    assert_eq!(plan.backoff, Duration::from_millis(100));
    h.run_until(Time::from_secs(10));
    assert_eq!(h.p.tally().completed, 1);
    let plan_after = h.p.instance_plan(next).expect("plan");
    assert_eq!(plan_after.backoff, Duration::from_millis(100), "kept");
}

#[test]
fn a_lost_ready_kpa_instance_is_replaced_and_its_running_request_fails() {
    let mut h = Harness::warm(1, Time::from_secs(2));
    let first = *h.started.iter().next().expect("initial instance");
    assert_eq!(h.state(first), InstState::Ready);
    let req = h.arrive(Time::from_secs(3));
    assert_eq!(h.running.get(&req), Some(&first));
    h.p.on_instance_lost(h.now, first);
    h.apply();
    assert_eq!(
        h.state(first),
        InstState::Draining,
        "its request still holds it"
    );
    assert_eq!(h.started.len(), 2, "replaced at once (min_scale 1)");
    // The driver reports the broken connection.
    h.running.remove(&req);
    h.p.on_request_done(h.now, req, Outcome::Failed);
    h.apply();
    assert_eq!(h.state(first), InstState::Stopped);
    assert_eq!(h.p.tally().rejected, 1);
    assert_eq!(h.p.stats().crashes, 1);
}

#[test]
fn shutdown_stops_everything_replaces_nothing_and_is_not_a_scale_to_zero() {
    let mut h = Harness::warm(2, Time::from_secs(5));
    assert_eq!(h.p.alive(), 2);
    h.p.on_shutdown(h.now);
    h.apply();
    assert_eq!(h.stop_asked.len(), 2);
    h.run_until(Time::from_secs(60));
    assert_eq!(h.p.alive(), 0);
    assert_eq!(h.started.len(), 2, "no replacement while closing");
    assert_eq!(h.p.tally().scale_to_zero_events, 0);
    assert_eq!(h.p.next_deadline(), None, "no more seconds");
}

#[test]
fn next_deadline_is_the_earliest_timer() {
    let h = Harness::new(KPA);
    let earliest = h.q.iter().map(|Reverse((t, _, _))| *t).min();
    let timers =
        h.q.iter()
            .filter(|Reverse((_, _, e))| matches!(e, Ev::Timer(_)))
            .map(|Reverse((t, _, _))| *t)
            .min();
    assert_eq!(h.p.next_deadline(), timers);
    assert!(earliest.is_some());
}

const PS: &str = include_str!("tests/fixtures/ps.toml");

/// When each request ended, by id.
fn ends(h: &Harness) -> BTreeMap<ReqId, Time> {
    h.log
        .iter()
        .filter_map(|e| match e {
            Effect::Finish(s) => Some((s.req, s.ends_at)),
            Effect::Serve(s) if !s.later() => Some((s.req, s.ends_at)),
            _ => None,
        })
        .collect()
}

#[test]
fn requests_on_one_vcpu_share_it() {
    let mut h = Harness::new(PS);
    let t0 = Time::from_secs(2);
    let a = h.arrive(t0);
    let b = h.arrive(t0);
    h.run_until(Time::from_secs(3));
    let e = ends(&h);
    // Two 100 ms CPU requests at once on one vCPU: both done after 200 ms.
    assert_eq!(e[&a], t0 + Duration::from_millis(200));
    assert_eq!(e[&b], t0 + Duration::from_millis(200));
    // A third arriving halfway through the first's work slows it down.
    let c = h.arrive(Time::from_secs(4));
    let d = h.arrive(Time::from_millis(4050));
    h.run_until(Time::from_secs(5));
    let e = ends(&h);
    // c: 50 ms alone, then 50 ms at half speed = 100 ms → ends at 4.150 s; d then has
    // 50 ms left alone → 4.200 s.
    assert_eq!(e[&c], Time::from_millis(4150));
    assert_eq!(e[&d], Time::from_millis(4200));
    assert_eq!(h.p.tally().completed, 4);
}

#[test]
fn waiting_overlaps_and_the_timeout_cuts_a_cpu_phase() {
    // Half CPU: 50 ms of work, then 50 ms of waiting that does not slow the others.
    let toml = PS.replace("cpu_share = 1.0", "cpu_share = 0.5");
    let mut h = Harness::new(&toml);
    let a = h.arrive(Time::from_secs(2));
    let b = h.arrive(Time::from_secs(2));
    h.run_until(Time::from_secs(3));
    let e = ends(&h);
    assert_eq!(
        e[&a],
        Time::from_millis(2150),
        "100 ms of CPU for two, then 50 ms"
    );
    assert_eq!(e[&b], Time::from_millis(2150));
    // 60 requests of 100 ms of CPU at once: the instance needs 6 s, the timeout is 5 s.
    let mut h = Harness::new(PS);
    for _ in 0..60 {
        h.arrive(Time::from_secs(2));
    }
    h.run_until(Time::from_secs(20));
    let t = h.p.tally();
    assert_eq!(
        (t.completed, t.timed_out),
        (0, 60),
        "all still in their CPU phase at 7 s"
    );
    assert_eq!(h.now, Time::from_secs(20));
}

#[test]
fn cpu_utilization_is_metered() {
    let mut h = Harness::new(PS);
    for k in 0..10 {
        h.arrive(Time::from_secs(2 + k));
    }
    h.run_until(Time::from_secs(20));
    // 10 × 100 ms of CPU over 20 s of one vCPU alive.
    let p = std::mem::replace(
        &mut h.p,
        Platform::new(&scenario(PS), Config::simulated(&scenario(PS), 1)),
    );
    let (v, _) = p.finish("x".into(), Time::from_secs(20));
    assert!(
        (v.instances.mean_cpu_utilization - 0.05).abs() < 1e-9,
        "{}",
        v.instances.mean_cpu_utilization
    );
    let rows = &v.series.expect("series").rows;
    assert!(
        (rows[2].cpu_utilization - 0.1).abs() < 1e-9,
        "{:?}",
        rows[2]
    );
    assert_eq!(rows[0].cpu_utilization, 0.0);
}

const CLOUD_RUN: &str = include_str!("tests/fixtures/cloud_run.toml");

#[test]
fn cloud_run_starts_for_waiting_requests_parks_surplus_and_retires_it_after_retention() {
    let mut h = Harness::new(CLOUD_RUN);
    assert_eq!(h.p.alive(), 0);
    // Five requests at once: ⌈5 / 2⌉ = 3 instances start at once (not at the next tick).
    for _ in 0..5 {
        h.arrive(Time::from_secs(10));
    }
    assert_eq!(h.started.len(), 3);
    h.run_until(Time::from_secs(20));
    assert_eq!(h.p.tally().completed, 5);
    // The 1-minute average decays: instances are parked, not stopped...
    h.run_until(Time::from_secs(200));
    assert!(h.stop_asked.is_empty(), "kept idle");
    let parked: Vec<InstId> = h
        .started
        .iter()
        .copied()
        .filter(|&i| h.p.insts[i.index()].parked)
        .collect();
    assert_eq!(parked.len(), 3);
    // ...and a request now finds a warm one: no cold start.
    let r = h.arrive(Time::from_secs(200));
    h.run_until(Time::from_secs(205));
    assert_eq!(h.started.len(), 3, "warm");
    assert!(h.p.request(r).is_none());
    assert_eq!(h.p.tally().delayed, 5, "only the first five were cold");
    // Five minutes after their last request the parked ones go.
    h.run_until(Time::from_secs(12 + 300 - 1));
    assert!(h.stop_asked.len() < 3);
    h.run_until(Time::from_secs(900));
    assert_eq!(h.stop_asked.len(), 3);
    assert_eq!(h.p.alive(), 0);
}

#[test]
fn cloud_run_at_max_instances_answers_429_after_the_pending_limit() {
    let toml = CLOUD_RUN.replace("max_scale = 3", "max_scale = 1").replace(
        r#"service_time = { dist = "fixed", value = "1s" }"#,
        r#"service_time = { dist = "fixed", value = "50s" }"#,
    );
    let mut h = Harness::new(&toml);
    let a = h.arrive(Time::from_secs(1));
    let b = h.arrive(Time::from_secs(1));
    let c = h.arrive(Time::from_secs(1));
    assert_eq!(h.started.len(), 1, "max 1");
    h.run_until(Time::from_secs(30));
    // Mean start-up 2 s: the limit is max(7 s, 10 s) = 10 s; c arrived before any start-up
    // was seen: 10 s too.
    assert!(
        h.replies.contains(&(c, Reply::MaxInstances)),
        "{:?}",
        h.replies
    );
    assert!(!h.replies.iter().any(|(r, _)| *r == a || *r == b));
    assert_eq!(h.p.tally().rejected, 1);
}

const HPA: &str = include_str!("tests/fixtures/hpa.toml");

#[test]
fn the_hpa_scales_on_cpu_and_never_to_zero() {
    let mut h = Harness::new(HPA);
    assert_eq!(h.p.alive(), 1, "min_scale");
    // 8 requests of 100 ms per second on one vCPU: 80 % against a 50 % target.
    for k in 0..(60 * 8) {
        h.arrive(Time::from_millis(1000 + k * 125));
    }
    h.run_until(Time::from_secs(61));
    let n = h.p.alive();
    assert!(n >= 2, "scaled up to {n}");
    // Quiet: back to one after the 5-minute stabilisation, never zero.
    h.run_until(Time::from_secs(2000));
    assert_eq!(h.p.alive(), 1);
}
mod deploy;

mod properties {
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
            fill(include_str!("tests/fixtures/any-platform.toml"), &[("cc", &cc), ("share", &share), ("autoscaler", &autoscaler), ("policy", &policy), ("queue", &queue), ("deploy", &deploy)])
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
}
