//! The simulator's driver of the platform state machine ([`scalelab_core::platform`]): it keeps
//! virtual time in an event queue and turns the platform's effects into events. Every decision
//! (routing, scaling, lifecycle, billing, measurements) is taken by `scalelab-core`, the same
//! code the live runtime drives.
//!
//! | effect | becomes |
//! |---|---|
//! | `StartInstance { cold, .. }` | the instance's readiness, `cold` from now |
//! | `StopInstance { shutdown, .. }` | the instance's end, `shutdown` from now |
//! | `Serve(s)` | the request's end at `s.ends_at` (a timeout if `s.times_out`); nothing when the performance model tells it later (`s.later()`) |
//! | `Finish(s)` | the request's end at `s.ends_at` (the performance model decided it) |
//! | `Wait { deadline, .. }` | the waiting request's timeout at `deadline` |
//! | `Timer { at, timer }` | the timer at `at` |
//! | `Reply` | nothing: the platform answered the request itself |
//!
//! The platform's event-log entries become lines of the event log.
//!
//! With `[cluster]`, `StartInstance` and `StopInstance` go through the node pool first
//! ([`crate::nodes`]; the `*_nodes` functions below): a pod that fits no node is ready only once
//! it is placed, and the pool's own deadlines are `Ev::Nodes` events.

use std::io::Write;

use scalelab_core::Time;
use scalelab_core::event::Stamped;
use scalelab_core::ids::{InstId, ReqId};
use scalelab_core::platform::{self, Config, Effect, Outcome, Stats, Timer};
use scalelab_core::result::VariantResult;
use scalelab_core::rng::SimRng;
use scalelab_core::scenario::Scenario;
use scalelab_core::workload::{Arrivals, CLASS_STREAM, ClassPicker};

use crate::SimError;
use crate::engine::EventQueue;
use crate::nodes::Nodes;
use scalelab_core::rng::stream;

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// The next intended arrival (scheduled when the previous one is processed, in the event
    /// queue's lane).
    Arrival,
    /// A timer of the platform.
    Timer(Timer),
    /// An instance finished its cold start.
    Ready(InstId),
    /// A running request ends: its completion, or its timeout while running.
    Done { req: ReqId, timed_out: bool },
    /// A waiting request's deadline.
    Timeout(ReqId),
    /// An instance finished shutting down.
    Stopped(InstId),
    /// `[cluster]`: the node pool's deadline (a node ready, an empty node removable).
    Nodes,
}

/// Options of one simulated run.
pub struct RunOptions<'a> {
    /// The master seed.
    pub seed: u64,
    /// The variant's name (for the event log and the result).
    pub variant: &'a str,
    /// Check invariants as the run goes (slower); they are always checked at the end.
    pub check: bool,
    /// Where to write the event log (JSON lines), if anywhere.
    pub events: Option<&'a mut dyn Write>,
    /// Updated with the simulated time (ns) as the run goes, for a progress bar.
    pub progress: Option<&'a std::sync::atomic::AtomicU64>,
    /// Deliver every whole second even when nothing can change in it (the results are the
    /// same; for tests of that equivalence).
    pub force_ticks: bool,
}

/// The simulated platform for one scenario (one variant).
pub struct Platform<'a> {
    q: EventQueue<Ev>,
    arrivals: Arrivals,
    /// Request classes (`[[workload.request_classes]]`): each arrival's class is drawn from
    /// its own stream, and the platform's routes pick its revision.
    classes: Option<(ClassPicker, SimRng)>,
    p: platform::Platform,
    horizon: Time,
    hard_end: Time,
    max_events: u64,
    events: u64,
    opts: RunOptions<'a>,
    /// `[cluster]`: the node pool (None: capacity is unbounded).
    nodes: Option<Box<Nodes>>,
    /// Scratch space of the `[cluster]` path: the platform's effects.
    fx: Vec<Effect>,
}

impl<'a> Platform<'a> {
    /// Builds the platform at t = 0: revisions with their autoscalers, initial instances.
    pub fn new(s: &Scenario, opts: RunOptions<'a>) -> Platform<'a> {
        let cfg = Config {
            log_events: opts.events.is_some(),
            check: opts.check,
            ..Config::simulated(s, opts.seed)
        };
        let mut sim = Platform {
            q: EventQueue::default(),
            arrivals: Arrivals::new(&s.workload, s.duration, stream(opts.seed, "arrivals")),
            classes: (!s.request_classes.is_empty()).then(|| {
                (
                    ClassPicker::new(s.request_classes.iter().map(|c| c.weight)),
                    stream(opts.seed, CLASS_STREAM),
                )
            }),
            p: platform::Platform::new(s, cfg),
            horizon: Time::ZERO + s.duration,
            hard_end: platform::hard_end(s),
            max_events: s.sim.max_events,
            events: 0,
            nodes: Nodes::single(s, opts.check).map(Box::new),
            opts,
            fx: Vec::new(),
        };
        if sim.nodes.is_some() {
            // knative-nodes bills the simulated nodes, from the initial ones on.
            sim.p.simulate_nodes();
            sim.carry_out_nodes(Time::ZERO);
        }
        sim.p.boot(Time::ZERO);
        sim.apply(Time::ZERO);
        if let Some(t) = sim.arrivals.next() {
            sim.q.push_lane(t, Ev::Arrival);
        }
        sim
    }

    /// Runs to the end: arrivals stop at the horizon; in-flight work drains until the last
    /// request finishes or the drain limit passes. Returns the result's standard sections,
    /// the run's other figures and the number of events processed.
    pub fn run(mut self, name: String) -> Result<(VariantResult, Stats, u64), SimError> {
        let mut now = Time::ZERO;
        while let Some((t, ev)) = self.q.pop() {
            now = t;
            // After the horizon, stop at the first whole second with nothing left in flight.
            let drained = now >= self.horizon && self.p.in_system() == 0;
            let second = matches!(ev, Ev::Timer(Timer::Second));
            if now > self.hard_end || (drained && second) {
                break;
            }
            if second && !self.opts.force_ticks && self.p.second_is_idle(now) {
                match self.skip_idle_seconds(now) {
                    (last, false) => now = last,
                    (end, true) => {
                        now = end;
                        break;
                    }
                }
                continue;
            }
            self.handle(now, ev);
            self.events += 1;
            if self.events > self.max_events {
                return Err(SimError::TooManyEvents {
                    limit: self.max_events,
                    at: now,
                });
            }
            if self.events & 0xffff == 0
                && let Some(p) = self.opts.progress
            {
                p.store(now.0, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let end = now.min(self.hard_end).max(self.horizon);
        let nodes = self.nodes.take();
        let (mut v, stats) = self.p.finish(name, end);
        if let Some(n) = nodes {
            let (c, violation) = n.finish(end);
            v.cluster = Some(c);
            if let Some(what) = violation {
                return Err(SimError::Invariant {
                    variant: self.opts.variant.to_string(),
                    what,
                });
            }
        }
        Ok((v, stats, self.events))
    }

    /// The whole second at `t` is due and changes nothing: processes it and every later one
    /// that would come before the next event at once, as delivering them one by one would
    /// (each would find nothing to do; a second comes after the events of its time that were
    /// scheduled before it, so the next event's time is where the skipping stops). Returns the
    /// last second processed, or the second the run ends at (`true`): the first one past the
    /// hard end, or at or after the horizon with nothing in flight.
    #[inline(never)]
    fn skip_idle_seconds(&mut self, t: Time) -> (Time, bool) {
        const S: u64 = 1_000_000_000;
        // Seconds t, t + 1 s, … before the next event; at least t itself (it was popped first).
        let mut count = match self.q.peek_time() {
            Some(n) if n > t => (n.0 - t.0).div_ceil(S),
            Some(_) => 1,
            None => u64::MAX,
        };
        let mut end = None;
        let mut bound = |at: u64| {
            let k = (at - t.0) / S;
            if k < count {
                count = k;
                end = Some(Time(at));
            }
        };
        // (t is before the horizon if nothing is in flight, and not past the hard end.)
        if self.p.in_system() == 0 {
            bound(self.horizon.0.div_ceil(S).max(t.0 / S) * S);
        }
        bound((self.hard_end.0 / S + 1) * S);
        let (last, next) = self.p.skip_seconds(t, count);
        match (next, end) {
            (Some(n), Some(e)) if n == e => (e, true),
            (Some(n), _) => {
                self.q.push(n, Ev::Timer(Timer::Second));
                (last, false)
            }
            (None, _) => (last, false),
        }
    }

    fn handle(&mut self, now: Time, ev: Ev) {
        match ev {
            Ev::Arrival => {
                // The class's headers meet the routes before the split.
                let rev = match &mut self.classes {
                    Some((picker, rng)) => self.p.route_class(picker.pick(rng)),
                    None => None,
                };
                self.p.on_arrival(now, rev);
                self.apply(now);
                if let Some(t) = self.arrivals.next() {
                    self.q.push_lane(t, Ev::Arrival);
                }
                return;
            }
            Ev::Timer(timer) => self.p.on_timer(now, now, timer),
            Ev::Ready(i) => self.p.on_instance_ready(now, i),
            Ev::Done { req, timed_out } => {
                let outcome = if timed_out {
                    Outcome::TimedOut
                } else {
                    Outcome::Answered
                };
                self.p.on_request_done(now, req, outcome);
            }
            Ev::Timeout(req) => {
                self.p.on_timeout(now, req);
            }
            Ev::Stopped(i) => {
                self.p.on_instance_stopped(now, i);
                if self.nodes.is_some() {
                    self.stopped_nodes(now, i);
                }
            }
            Ev::Nodes => self.timer_nodes(now),
        }
        self.apply(now);
    }

    /// Carries out the platform's effects, in order.
    #[inline(always)]
    fn apply(&mut self, now: Time) {
        if self.nodes.is_some() {
            self.apply_nodes(now);
            return;
        }
        let Platform { q, p, .. } = self;
        for &e in p.effects() {
            schedule(q, now, e);
        }
        p.clear_effects();
        if self.opts.events.is_some() {
            self.write_log(now);
        }
    }

    /// [`apply`](Self::apply) with `[cluster]`: an instance's start asks the node pool for a
    /// node (ready at once + its cold start, or when its Pending pod is placed); a stop
    /// withdraws a Pending pod.
    #[inline(never)]
    fn apply_nodes(&mut self, now: Time) {
        let Platform {
            q, p, nodes, fx, ..
        } = self;
        let Some(n) = nodes.as_deref_mut() else {
            return;
        };
        fx.clear();
        fx.extend_from_slice(p.effects());
        p.clear_effects();
        for &e in fx.iter() {
            match e {
                Effect::StartInstance { inst, rev, cold } => {
                    if let Some(at) = n.start(now, 0, inst, rev, cold) {
                        q.push(at, Ev::Ready(inst));
                    }
                }
                Effect::StopInstance { inst, .. } => {
                    n.stop(now, 0, inst);
                    schedule(q, now, e);
                }
                _ => schedule(q, now, e),
            }
        }
        self.carry_out_nodes(now);
        if self.opts.events.is_some() {
            self.write_log(now);
        }
    }

    /// `[cluster]`: instance `inst` is gone: its pod's room is freed (Pending pods may be
    /// placed).
    #[inline(never)]
    fn stopped_nodes(&mut self, now: Time, inst: InstId) {
        if let Some(n) = self.nodes.as_deref_mut() {
            n.stopped(now, 0, inst);
        }
        self.carry_out_nodes(now);
    }

    /// `[cluster]`: the node pool's deadline.
    #[inline(never)]
    fn timer_nodes(&mut self, now: Time) {
        if let Some(n) = self.nodes.as_deref_mut() {
            n.on_timer(now);
        }
        self.carry_out_nodes(now);
    }

    /// `[cluster]`: what the node pool did: node changes and Pending pods to the platform
    /// (billing, event log), the readiness of the pods it placed, its next deadline.
    fn carry_out_nodes(&mut self, now: Time) {
        let Platform { q, p, nodes, .. } = self;
        let Some(n) = nodes.as_deref_mut() else {
            return;
        };
        if n.has_news() {
            let news = n.drain();
            for (_, inst) in news.pending {
                p.on_pod_pending(inst);
            }
            for ev in news.events {
                p.on_node_event(now, ev);
            }
            for ((_, inst), node, waited, at) in news.placed {
                p.on_pod_placed(inst, node, waited);
                q.push(at, Ev::Ready(inst));
            }
        }
        if let Some(t) = n.next_timer(now) {
            q.push(t, Ev::Nodes);
        }
    }

    /// Writes the platform's event-log entries.
    #[cold]
    fn write_log(&mut self, now: Time) {
        let Platform { p, opts, .. } = self;
        let Some(w) = opts.events.as_mut() else {
            return;
        };
        for event in p.log_entries() {
            let line = Stamped {
                t_s: now.as_secs_f64(),
                variant: opts.variant.to_string(),
                event,
            };
            if let Ok(s) = serde_json::to_string(&line) {
                let _ = writeln!(w, "{s}");
            }
        }
    }
}

/// One effect of the platform as an event (or nothing).
#[inline(always)]
fn schedule(q: &mut EventQueue<Ev>, now: Time, e: Effect) {
    match e {
        Effect::Timer { at, timer } => q.push(at, Ev::Timer(timer)),
        // Under the performance model the end comes later, in a `Finish`.
        Effect::Serve(s) | Effect::Finish(s) if !s.later() => q.push(
            s.ends_at,
            Ev::Done {
                req: s.req,
                timed_out: s.times_out,
            },
        ),
        Effect::Serve(_) | Effect::Finish(_) => {}
        Effect::Wait { req, deadline } => q.push(deadline, Ev::Timeout(req)),
        Effect::StartInstance { inst, cold, .. } => q.push(now + cold, Ev::Ready(inst)),
        Effect::StopInstance { inst, shutdown } => q.push(now + shutdown, Ev::Stopped(inst)),
        Effect::Reply { .. } | Effect::RevisionFailed { .. } => {}
    }
}
