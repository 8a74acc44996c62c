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
mod deploy;
mod kinds;

mod properties;
