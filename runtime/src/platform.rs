//! The live runtime's driver of the platform state machine ([`scalelab_core::platform`]).
//!
//! The platform (requests, instances, the router, the autoscalers, billing, measurements) is
//! one `Platform` behind one lock. A task that has something to report — a request arrived, a
//! request's instance answered, an instance became ready, a timer fired — locks it, reads the
//! clock once, calls the transition and carries out the effects before unlocking:
//!
//! | effect | becomes |
//! |---|---|
//! | `StartInstance` | an instance task (synthetic start-up timer or child process), with its stop channel |
//! | `StopInstance` | a message on that stop channel |
//! | `RevisionFailed` | the run's failure message (stderr, [`crate::Handle::failure`]) |
//! | `Serve` | the start message to the waiting request's task (or the admission's answer) |
//! | `Wait` | a oneshot the arriving request's task waits on, until its deadline |
//! | `Reply` | the platform's own answer to a waiting request (or the admission's) |
//! | `Timer` | an entry in the timer heap the timer task (`driver.rs`) sleeps on |
//!
//! No lock is held across an `.await`: effects only send on channels, spawn tasks and push
//! timers. Times never go backwards, because the clock is read with the lock held.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::header::HeaderValue;

use scalelab_core::Time;
use scalelab_core::event::{Event, Stamped};
use scalelab_core::ids::{InstId, ReqId, RevId};
use scalelab_core::platform::{Config, Effect, Outcome, Platform, Reply, Timer};
use scalelab_core::scenario::Scenario;
use tokio::sync::{Notify, oneshot, watch};

use crate::InstanceKind;
use crate::clock::Clock;
use crate::instance;
use crate::sink::Sink;
use crate::upstream::Upstream;

/// Upper bounds of the request-duration histogram buckets, seconds (Prometheus `le`).
pub(crate) const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A revision's names, readable without the lock.
pub(crate) struct RevName {
    pub name: String,
    pub tag: Option<String>,
}

/// An event log line of a fleet's service.
#[derive(serde::Serialize)]
struct FleetStamped<'a> {
    t_s: f64,
    variant: &'a str,
    service: &'a str,
    #[serde(flatten)]
    event: Event,
}

/// Everything the tasks of one service of a run share.
pub(crate) struct Shared {
    /// The service's name in a fleet (`[[services]]`; its event and request log lines carry
    /// it); None for a single-service scenario.
    pub service: Option<String>,
    pub clock: Clock,
    pub revs: Vec<RevName>,
    /// The scenario has `[[routes]]`: the router matches request headers before the split.
    pub has_routes: bool,
    state: Mutex<Live>,
    /// Wakes the timer task when a timer earlier than the one it sleeps on was pushed.
    pub wake: Notify,
    pub events: Option<Arc<Sink>>,
    pub request_log: Option<Arc<Sink>>,
    pub variant: String,
    pub instances: InstanceKind,
    /// `--ready-path`: an HTTP probe instead of a TCP one for command instances.
    pub ready_path: Option<String>,
    /// How the last instance of each revision that exited on its own ended (for the failure
    /// message).
    pub exits: Mutex<Vec<Option<ExitInfo>>>,
    /// Set once when a revision gives up; the run then ends as failed.
    pub failure: Arc<watch::Sender<Option<String>>>,
    /// Process groups of command instances still alive (killed at the end, whatever happens).
    pub groups: Mutex<BTreeSet<i32>>,
    /// The instance of each command instance's process group: its CPU time is read from
    /// `/proc` ([`crate::cpu`]).
    pub cpu_groups: Mutex<BTreeMap<i32, InstId>>,
}

/// How an instance's process ended.
#[derive(Clone, Debug)]
pub(crate) struct ExitInfo {
    pub instance: u64,
    /// `exit status N`, `signal N`, or why it was given up on.
    pub status: String,
    pub starting: bool,
    pub lifetime_s: f64,
    pub stderr_tail: VecDeque<String>,
}

/// Per-status request counts and latency buckets of one revision (for `/metrics`).
#[derive(Clone, Debug, Default)]
pub(crate) struct CodeStats {
    pub count: u64,
    pub sum_s: f64,
    pub buckets: [u64; LATENCY_BUCKETS.len()],
}

/// What the driver keeps beside an instance.
#[derive(Default)]
struct Side {
    /// Where a command instance listens, and its idle connections.
    up: Option<Arc<Upstream>>,
    stop: Option<oneshot::Sender<()>>,
    /// `x-scalelab-instance` of its answers.
    header: Option<HeaderValue>,
}

/// A request waiting for the platform: its task holds the receiving end.
struct Waiter {
    tx: oneshot::Sender<Start>,
    rev: RevId,
    arrival: Time,
}

/// The platform, the driver's tables beside it, and the timers.
pub(crate) struct Live {
    pub core: Platform,
    timers: BinaryHeap<Reverse<(Time, u64, Timer)>>,
    timer_seq: u64,
    /// Waiting requests, by request slot.
    waiters: Vec<Option<Waiter>>,
    /// By instance id.
    insts: Vec<Side>,
    /// Answers by status, per revision (for `/metrics`).
    pub codes: Vec<BTreeMap<u16, CodeStats>>,
    pub lag_events: u64,
    pub lag_max_s: f64,
    buf: Vec<Effect>,
    /// The modelled CPU phases of running requests, by request slot.
    cpu: Vec<Option<CpuPhase>>,
}

/// A request that executes on an instance.
#[derive(Clone, Debug)]
pub(crate) struct Running {
    pub req: ReqId,
    pub rev: RevId,
    pub inst: InstId,
    /// The instance's process is gone: the request fails (502).
    pub lost: bool,
    /// Where a command instance listens (`None` for synthetic instances, which run in-process).
    pub up: Option<Arc<Upstream>>,
    /// `x-scalelab-instance` of the answer.
    pub header: HeaderValue,
    pub service: Duration,
    pub deadline: Time,
    pub cold: bool,
    pub proxied: bool,
    pub arrival: Time,
    /// The performance model decides when its CPU phase ends ([`Shared::cpu_phase`]).
    pub later: bool,
}

/// Where a request's modelled CPU phase stands (the performance model, `cpu_share` > 0).
#[derive(Debug)]
enum CpuPhase {
    /// Its task waits for the end.
    Waiting(oneshot::Sender<Time>),
    /// It ended; the request ends at this time.
    Done(Time),
}

/// What a waiting request is told.
#[derive(Debug)]
pub(crate) enum Start {
    /// It runs now.
    Run(Running),
    /// The platform answers it itself (its instance died while starting).
    Reply(Reply),
}

/// What happened to a request on arrival.
pub(crate) enum Admit {
    /// It runs now.
    Run(Running),
    /// It waits for the message on `rx`, until `deadline`.
    Wait {
        req: ReqId,
        rev: RevId,
        deadline: Time,
        arrival: Time,
        rx: oneshot::Receiver<Start>,
    },
    /// Turned away.
    Reject {
        rev: RevId,
        reply: Reply,
        arrival: Time,
    },
}

/// How the answer to a running request came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The instance answered with this status.
    Answered(u16),
    /// The request timeout passed while it ran (504).
    TimedOut,
    /// The instance failed (connection refused or reset, process crashed): 502.
    Failed,
    /// The client went away before its answer (499).
    ClientClosed,
}

/// What the effects of one transition said about the request the caller is asking about.
#[derive(Default)]
struct Mine {
    run: Option<Running>,
    wait: Option<Time>,
    reply: Option<Reply>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The platform for scenario `s` at t = 0 (the clock's epoch). No instance exists yet;
    /// [`Shared::boot`] starts the initial ones.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        s: &Scenario,
        seed: u64,
        variant: String,
        clock: Clock,
        instances: InstanceKind,
        events: Option<Arc<Sink>>,
        request_log: Option<Arc<Sink>>,
        ready_path: Option<String>,
        max_start_failures: u32,
    ) -> Shared {
        let synthetic = matches!(instances, InstanceKind::Synthetic { .. });
        let cfg = Config {
            log_events: events.is_some(),
            ..Config::live(seed, synthetic)
        };
        let cfg = Config {
            max_start_failures: Some(max_start_failures),
            ..cfg
        };
        let core = Platform::new(s, cfg);
        let revs: Vec<RevName> = s
            .revisions
            .iter()
            .map(|r| RevName {
                name: r.name.clone(),
                tag: r.tag.clone(),
            })
            .collect();
        let n = revs.len();
        Shared {
            service: None,
            clock,
            revs,
            has_routes: !s.routes.is_empty(),
            state: Mutex::new(Live {
                core,
                timers: BinaryHeap::new(),
                timer_seq: 0,
                waiters: Vec::new(),
                insts: Vec::new(),
                codes: vec![BTreeMap::new(); s.revisions.len()],
                lag_events: 0,
                lag_max_s: 0.0,
                buf: Vec::new(),
                cpu: Vec::new(),
            }),
            wake: Notify::new(),
            events,
            request_log,
            variant,
            instances,
            ready_path,
            exits: Mutex::new(vec![None; n]),
            failure: Arc::new(watch::Sender::new(None)),
            groups: Mutex::new(BTreeSet::new()),
            cpu_groups: Mutex::new(BTreeMap::new()),
        }
    }

    /// The platform, locked.
    pub fn lock(&self) -> MutexGuard<'_, Live> {
        lock(&self.state)
    }

    /// Locks the platform, reads the clock, runs `f` and carries out its effects.
    fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut Live, Time) -> R) -> R {
        let mut live = self.lock();
        let now = self.clock.now();
        let r = f(&mut live, now);
        live.apply(self, now, None);
        r
    }

    /// Starts the initial instances and reconciles once (t ≈ 0).
    pub fn boot(self: &Arc<Self>) {
        self.with(|l, now| l.core.boot(now));
    }

    /// A request arrives, for revision `rev` (a tag) or the one the traffic split picks.
    pub fn arrive(self: &Arc<Self>, rev: Option<RevId>) -> Admit {
        let mut live = self.lock();
        let now = self.clock.now();
        let (req, rev) = live.core.on_arrival(now, rev);
        let mut mine = Mine::default();
        live.apply(self, now, Some((req, &mut mine)));
        if let Some(run) = mine.run {
            return Admit::Run(run);
        }
        if let Some(reply) = mine.reply {
            live.record(rev, reply.status(), 0);
            return Admit::Reject {
                rev,
                reply,
                arrival: now,
            };
        }
        let deadline = mine.wait.unwrap_or(Time::MAX);
        let (tx, rx) = oneshot::channel();
        let slot = req.index();
        if live.waiters.len() <= slot {
            live.waiters.resize_with(slot + 1, || None);
        }
        live.waiters[slot] = Some(Waiter {
            tx,
            rev,
            arrival: now,
        });
        Admit::Wait {
            req,
            rev,
            deadline,
            arrival: now,
            rx,
        }
    }

    /// A waiting request's deadline passed. The platform's answer when it gave up (504, or
    /// 429 at a Cloud Run revision's maximum); None when it started (or ended) meanwhile: its
    /// message is on its channel.
    pub fn time_out(self: &Arc<Self>, req: ReqId, rev: RevId, arrival: Time) -> Option<Reply> {
        self.with(|l, now| {
            let reply = l.core.on_wait_deadline(now, req);
            if let Some(reply) = reply {
                l.record(rev, reply.status(), now.0.saturating_sub(arrival.0));
            }
            reply
        })
    }

    /// Waits until the modelled CPU phase of `run` ends (`run.later`: the performance model)
    /// and returns the scenario time left until the request ends (its waiting), or None when
    /// its deadline passed first (it timed out).
    pub async fn cpu_phase(self: &Arc<Self>, run: &Running) -> Option<Duration> {
        let rx = {
            let mut l = self.lock();
            let slot = run.req.index();
            if l.cpu.len() <= slot {
                l.cpu.resize_with(slot + 1, || None);
            }
            match l.cpu[slot].take() {
                Some(CpuPhase::Done(end)) => {
                    return Some(Duration::from_nanos(
                        end.0.saturating_sub(self.clock.now().0),
                    ));
                }
                _ => {
                    let (tx, rx) = oneshot::channel();
                    l.cpu[slot] = Some(CpuPhase::Waiting(tx));
                    rx
                }
            }
        };
        match tokio::time::timeout_at(self.clock.wall_at(run.deadline), rx).await {
            Ok(Ok(end)) => Some(Duration::from_nanos(
                end.0.saturating_sub(self.clock.now().0),
            )),
            _ => {
                if let Some(c) = self.lock().cpu.get_mut(run.req.index()) {
                    *c = None;
                }
                None
            }
        }
    }

    /// The request running on its instance ended.
    pub fn done(self: &Arc<Self>, run: &Running, answer: Answer) {
        self.with(|l, now| {
            if let Some(c) = l.cpu.get_mut(run.req.index()) {
                *c = None;
            }
            let (outcome, status) = match answer {
                Answer::Answered(s) => (Outcome::Answered, s),
                Answer::TimedOut => (Outcome::TimedOut, 504),
                Answer::Failed => (Outcome::Failed, 502),
                Answer::ClientClosed => (Outcome::ClientClosed, 499),
            };
            l.record(run.rev, status, now.0.saturating_sub(run.arrival.0));
            l.core.on_request_done(now, run.req, outcome);
        });
    }

    /// Command instance `inst` listens behind `up`.
    pub fn set_upstream(&self, inst: InstId, up: Arc<Upstream>) {
        if let Some(s) = self.lock().insts.get_mut(inst.index()) {
            s.up = Some(up);
        }
    }

    /// The client of a request that had not been answered went away: it leaves its queue, or
    /// frees its instance slot (499).
    pub fn abandon(self: &Arc<Self>, req: ReqId, rev: RevId, arrival: Time) {
        self.with(|l, now| {
            if let Some(w) = l.waiter(req) {
                drop(w);
            }
            if !l.core.on_client_closed(now, req) {
                // It started meanwhile (its start message was never read).
                if l.core.request(req).is_none() {
                    return;
                }
                l.core.on_request_done(now, req, Outcome::ClientClosed);
            }
            l.record(
                rev,
                Reply::ClientClosed.status(),
                now.0.saturating_sub(arrival.0),
            );
        });
    }

    /// A revision gave up: the run fails with `msg` (kept, printed once).
    fn fail(&self, msg: String) {
        self.failure.send_if_modified(|f| {
            if f.is_some() {
                return false;
            }
            eprintln!("scalelab: {msg}");
            *f = Some(msg);
            true
        });
    }

    /// The message a failed revision ends the run with.
    fn failure_message(&self, rev: RevId) -> String {
        let name = &self.revs[rev.index()].name;
        let exit = lock(&self.exits).get(rev.index()).cloned().flatten();
        let mut msg = match &self.service {
            Some(svc) => format!(
                "service \"{svc}\", revision \"{name}\": its instances keep failing to start, \
                 giving up"
            ),
            None => format!("revision \"{name}\": its instances keep failing to start, giving up"),
        };
        if let Some(e) = &exit {
            msg += &format!(
                " (the last one, instance {}, {} after {:.1} s{})",
                e.instance,
                e.status,
                e.lifetime_s,
                if e.starting {
                    ", before it was ready"
                } else {
                    ""
                }
            );
            if !e.stderr_tail.is_empty() {
                msg += "; its last lines of stderr:";
                for l in &e.stderr_tail {
                    msg += "\n    ";
                    msg += l;
                }
                msg += "\n";
            } else {
                msg += ". ";
            }
        } else {
            msg += ". ";
        }
        if let InstanceKind::Command { cmd, .. } = &self.instances {
            msg += &port_hint(cmd, self.ready_path.as_deref());
        }
        msg
    }

    /// Instance `inst` finished starting.
    pub fn instance_ready(self: &Arc<Self>, inst: InstId) {
        self.with(|l, now| l.core.on_instance_ready(now, inst));
    }

    /// Instance `inst`'s process died on its own.
    pub fn instance_lost(self: &Arc<Self>, inst: InstId) {
        self.with(|l, now| l.core.on_instance_lost(now, inst));
    }

    /// Instance `inst` is gone.
    pub fn instance_stopped(self: &Arc<Self>, inst: InstId) {
        self.with(|l, now| {
            if let Some(s) = l.insts.get_mut(inst.index()) {
                if let Some(up) = s.up.take() {
                    up.close_idle();
                }
                s.stop = None;
            }
            l.core.on_instance_stopped(now, inst);
        });
    }

    /// Shutdown: no new instances; every instance drains and stops.
    pub fn shut_down(self: &Arc<Self>) {
        self.with(|l, now| l.core.on_shutdown(now));
    }

    /// Records an event in the event log.
    pub fn log(&self, now: Time, event: Event) {
        let Some(s) = &self.events else { return };
        match &self.service {
            None => s.json(&Stamped {
                t_s: now.as_secs_f64(),
                variant: self.variant.clone(),
                event,
            }),
            // A fleet's services share one log: each line names its service.
            Some(service) => s.json(&FleetStamped {
                t_s: now.as_secs_f64(),
                variant: &self.variant,
                service,
                event,
            }),
        }
    }

    /// The run's failure, once a revision gave up.
    pub fn failed(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Instances alive.
    pub fn alive(&self) -> u64 {
        self.lock().core.alive()
    }

    /// Requests in the system.
    pub fn in_system(&self) -> u64 {
        self.lock().core.in_system()
    }
}

impl Live {
    /// Carries out the platform's effects (and those of the calls they lead to) in order.
    /// `mine` collects what they say about the request the caller is asking about.
    fn apply(&mut self, sh: &Arc<Shared>, now: Time, mut mine: Option<(ReqId, &mut Mine)>) {
        let mut effects = std::mem::take(&mut self.buf);
        loop {
            self.core.take_effects(&mut effects);
            if effects.is_empty() {
                break;
            }
            for &e in &effects {
                match e {
                    Effect::StartInstance { inst, cold, .. } => self.start_instance(sh, inst, cold),
                    Effect::StopInstance { inst, .. } => {
                        let stop = self.insts.get_mut(inst.index()).and_then(|s| s.stop.take());
                        // An instance whose task is gone has nothing left to stop.
                        if stop.is_none_or(|tx| tx.send(()).is_err()) {
                            self.core.on_instance_stopped(now, inst);
                        }
                    }
                    Effect::Serve(s) => {
                        let Some(run) = self.running(s.req, s.inst, s.later()) else {
                            continue;
                        };
                        match &mut mine {
                            Some((req, m)) if *req == s.req => m.run = Some(run),
                            _ => {
                                if !self.tell(s.req, Start::Run(run)) {
                                    // Its task is gone (it can only have panicked).
                                    self.core.on_request_done(now, s.req, Outcome::Failed);
                                }
                            }
                        }
                    }
                    // The performance model's end of a request's CPU phase: its task
                    // forwards it then, for the time left (`Shared::cpu_phase`).
                    Effect::Finish(f) => self.cpu_phase_done(f.req, f.ends_at),
                    Effect::Wait { req, deadline } => {
                        if let Some((r, m)) = &mut mine
                            && *r == req
                        {
                            m.wait = Some(deadline);
                        }
                    }
                    Effect::Reply { req, reply } => match &mut mine {
                        Some((r, m)) if *r == req => m.reply = Some(reply),
                        _ => {
                            if let Some(w) = self.waiter(req) {
                                let latency = now.0.saturating_sub(w.arrival.0);
                                self.record(w.rev, reply.status(), latency);
                                let _ = w.tx.send(Start::Reply(reply));
                            }
                        }
                    },
                    Effect::RevisionFailed { rev } => {
                        let msg = sh.failure_message(rev);
                        sh.fail(msg);
                    }
                    Effect::Timer { at, timer } => {
                        let earliest = self.next_timer().is_none_or(|t| at < t);
                        self.timer_seq += 1;
                        self.timers.push(Reverse((at, self.timer_seq, timer)));
                        if earliest {
                            sh.wake.notify_one();
                        }
                    }
                }
            }
        }
        self.buf = effects;
        if sh.events.is_some() {
            for event in self.core.log_entries() {
                sh.log(now, event);
            }
        }
    }

    fn start_instance(&mut self, sh: &Arc<Shared>, inst: InstId, cold: Duration) {
        let Some(plan) = self.core.instance_plan(inst) else {
            return;
        };
        if self.insts.len() <= inst.index() {
            self.insts.resize_with(inst.index() + 1, Side::default);
        }
        let (tx, rx) = oneshot::channel();
        let side = &mut self.insts[inst.index()];
        side.stop = Some(tx);
        side.header = Some(HeaderValue::from(inst.number()));
        instance::spawn(sh.clone(), inst, plan, cold, rx);
    }

    /// What a request's task needs to send it to its instance.
    fn running(&self, req: ReqId, inst: InstId, later: bool) -> Option<Running> {
        let q = self.core.request(req)?;
        let side = self.insts.get(inst.index());
        let lost = self.core.instance(inst).is_none_or(|(_, lost)| lost);
        Some(Running {
            req,
            rev: q.rev,
            inst,
            lost,
            up: side.and_then(|s| s.up.clone()),
            header: side
                .and_then(|s| s.header.clone())
                .unwrap_or_else(|| HeaderValue::from(inst.number())),
            service: q.service,
            deadline: q.deadline,
            cold: q.cold,
            proxied: q.proxied,
            arrival: q.arrival,
            later,
        })
    }

    /// The modelled CPU phase of `req` ended; the request ends at `end`.
    fn cpu_phase_done(&mut self, req: ReqId, end: Time) {
        let slot = req.index();
        if self.cpu.len() <= slot {
            self.cpu.resize_with(slot + 1, || None);
        }
        match self.cpu[slot].take() {
            Some(CpuPhase::Waiting(tx)) => {
                let _ = tx.send(end);
            }
            _ => self.cpu[slot] = Some(CpuPhase::Done(end)),
        }
    }

    /// Takes the waiter of `req`, if it still waits.
    fn waiter(&mut self, req: ReqId) -> Option<Waiter> {
        self.waiters.get_mut(req.index()).and_then(Option::take)
    }

    /// Sends `msg` to the waiting request `req`; false when nobody was there to receive it.
    fn tell(&mut self, req: ReqId, msg: Start) -> bool {
        self.waiter(req).is_some_and(|w| w.tx.send(msg).is_ok())
    }

    /// The earliest pending timer.
    pub fn next_timer(&self) -> Option<Time> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Takes the earliest timer if it is due at `now`: (scheduled time, timer).
    pub fn pop_due(&mut self, now: Time) -> Option<(Time, Timer)> {
        if self.next_timer().is_some_and(|t| t <= now) {
            self.timers.pop().map(|Reverse((t, _, timer))| (t, timer))
        } else {
            None
        }
    }

    /// Runs a due timer and carries out its effects.
    pub fn fire(&mut self, sh: &Arc<Shared>, now: Time, scheduled: Time, timer: Timer) {
        self.core.on_timer(now, scheduled, timer);
        self.apply(sh, now, None);
    }

    /// Counts an answer of revision `rev` for `/metrics`.
    fn record(&mut self, rev: RevId, status: u16, latency_ns: u64) {
        let Some(codes) = self.codes.get_mut(rev.index()) else {
            return;
        };
        let s = codes.entry(status).or_default();
        let secs = latency_ns as f64 / 1e9;
        s.count += 1;
        s.sum_s += secs;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| secs <= le) {
            s.buckets[i] += 1;
        }
    }
}

/// What a user whose command never gets ready most likely did wrong: `$PORT` expanded by their
/// own shell (double quotes), or not used at all.
pub(crate) fn port_hint(cmd: &str, ready_path: Option<&str>) -> String {
    let mut hint = String::from(
        "The instance command must start an HTTP server listening on 127.0.0.1 at the port in \
         $PORT",
    );
    if let Some(p) = ready_path {
        hint += &format!(" and answer GET {p} with a 2xx or 3xx status (--ready-path)");
    }
    hint += ". ";
    if !cmd.contains("PORT") {
        hint += &format!(
            "The command ({cmd:?}) does not mention $PORT: if you wrote --cmd \"... $PORT\" in \
             double quotes, your shell replaced $PORT (unset there) before scalelab saw it. "
        );
    }
    hint += "Quote the command in single quotes so that your shell leaves $PORT alone, e.g. \
             --cmd 'python3 -m http.server $PORT'.";
    hint
}
