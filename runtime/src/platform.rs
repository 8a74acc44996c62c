//! The live platform's state and every policy call, mirroring the simulator's driver
//! (`sim/src/platform.rs`) step for step: the same revision router, decider, reconciler,
//! keepalive pool, meters and billing calls, in the same order. The difference is who keeps
//! time: here requests arrive on hyper's tasks, instances start and stop on their own tasks,
//! and the driver task (`driver.rs`) runs the 1 s scrape, the 2 s tick and the reconciler's
//! requeues.
//!
//! Locking: each revision's state sits behind its own `Mutex`, and the run-wide measurements
//! (billing meter, counters, integrals, series) behind one more; a [`Ctx`] holds a revision's
//! lock and then the global one (always in that order, never two revisions at once) and reads
//! the clock only once both are held, so the times every policy sees never go backwards. No
//! lock is ever held across an `.await`. A request that has to wait (activator queue,
//! queue-proxy queue, a keepalive cold start) waits on a `oneshot` that the code which starts
//! it (a completion, an instance becoming ready) fulfils.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::StatusCode;
use scalelab_core::Time;
use scalelab_core::autoscaler::{
    ActivatorMeter, AutoscalerSettings, ConcurrencyMeter, Decider, DeciderSpec, Keepalive,
    KeepaliveId, KpaScaler,
};
use scalelab_core::billing::{Meter, RevisionBilling};
use scalelab_core::event::{Event, Stamped};
use scalelab_core::rng::{SimRng, stream};
use scalelab_core::router::{Mode, ReqId, RevisionRouter, TrafficSplit};
use scalelab_core::scenario::Scenario;
use scalelab_core::workload::Sampler;
use tokio::sync::{Notify, oneshot};

use crate::InstanceKind;
use crate::clock::Clock;
use crate::sink::Sink;
use scalelab_core::measure::{Levels, SeriesBuilder, Tally};

mod autoscale;
mod instances;
mod requests;

const SECOND: u64 = 1_000_000_000;

/// Upper bounds of the request-duration histogram buckets, seconds (Prometheus `le`).
pub(crate) const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Everything the tasks of one run share.
pub(crate) struct Shared {
    pub clock: Clock,
    pub revs: Vec<RevCell>,
    pub global: Mutex<Global>,
    pub split: Mutex<(TrafficSplit, SimRng)>,
    /// Wakes the driver when a revision's next deadline moved earlier.
    pub wake: Notify,
    pub events: Option<Sink>,
    pub request_log: Option<Sink>,
    pub variant: String,
    pub instances: InstanceKind,
    /// Set at shutdown: no new instances, no replacements.
    pub closing: AtomicBool,
}

/// One revision: its names (read without locking) and its state.
pub(crate) struct RevCell {
    pub name: String,
    pub tag: Option<String>,
    pub state: Mutex<Rev>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    Free,
    QueuedActivator,
    QueuedProxy(u32),
    WaitingColdStart(u32),
    Running(u32),
}

struct Req {
    arrival: Time,
    deadline: Time,
    service_ns: u64,
    /// When it started on its instance (took a slot).
    started: Time,
    generation: u32,
    state: ReqState,
    proxied: bool,
    at_proxy: bool,
    cold: bool,
    waker: Option<oneshot::Sender<()>>,
}

/// An instance's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InstState {
    Starting,
    Ready,
    Draining,
    Stopped,
}

pub(crate) struct Inst {
    /// Unique in the run (billing, events, the `x-scalelab-instance` header).
    pub gid: u64,
    pub state: InstState,
    created: Time,
    ready_at: Time,
    meter: ConcurrencyMeter,
    busy: u32,
    ka: Option<KeepaliveId>,
    pending: Option<u32>,
    /// Where it listens, once its task knows.
    pub addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    /// Its process died: nothing to terminate, requests to it fail.
    lost: bool,
}

enum Kind {
    Kpa {
        decider: Box<Decider>,
        scaler: Box<KpaScaler>,
        activator: ActivatorMeter,
        stable: Duration,
    },
    Keepalive {
        pool: Keepalive,
        by_ka: BTreeMap<u64, u32>,
        expire_at: Option<Time>,
    },
}

/// Per-status request counts and latency buckets of one revision (for `/metrics`).
#[derive(Clone, Debug, Default)]
pub(crate) struct CodeStats {
    pub count: u64,
    pub sum_s: f64,
    pub buckets: [u64; LATENCY_BUCKETS.len()],
}

/// Counters of one revision (for `/metrics`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RevCounters {
    pub codes: BTreeMap<u16, CodeStats>,
    pub cold_starts: u64,
    pub stops: u64,
    pub crashes: u64,
    pub ticks: u64,
}

impl RevCounters {
    fn record(&mut self, code: StatusCode, latency_ns: u64) {
        let s = self.codes.entry(code.as_u16()).or_default();
        let secs = latency_ns as f64 / 1e9;
        s.count += 1;
        s.sum_s += secs;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| secs <= le) {
            s.buckets[i] += 1;
        }
    }
}

/// One revision's state.
pub(crate) struct Rev {
    pub name: String,
    pub router: RevisionRouter,
    service: Sampler,
    cold: Sampler,
    cold_service: Option<Sampler>,
    pub timeout: Duration,
    shutdown: Duration,
    warm_at_start: bool,
    progress_deadline: Duration,
    rng_service: SimRng,
    rng_cold: SimRng,
    rng_route: SimRng,
    rng_scrape: SimRng,
    kind: Kind,
    pub insts: Vec<Inst>,
    alive: Vec<u32>,
    pub starting: u32,
    pub ready: u32,
    pub desired: u64,
    pub panic: bool,
    pub excess_burst_capacity: i32,
    reconcile_at: Option<Time>,
    /// The time the decider last ran at (its ticks are stamped with their scheduled time).
    decided_at: Time,
    reqs: Vec<Req>,
    free: Vec<u32>,
    /// Requests of this revision arrived and not answered (queued ones included).
    pub in_system: u64,
    /// Keepalive requests waiting for their instance's cold start.
    waiting_cold: u32,
    pub counters: RevCounters,
    crash_streak: u32,
}

impl Rev {
    /// Requests waiting for an instance slot.
    pub fn queued(&self) -> u64 {
        u64::from(self.router.queued()) + u64::from(self.waiting_cold)
    }

    /// Instances draining (stopping).
    pub fn draining(&self) -> u64 {
        self.alive.len() as u64 - u64::from(self.starting) - u64::from(self.ready)
    }

    /// Instances alive (starting, ready or draining).
    pub fn alive(&self) -> usize {
        self.alive.len()
    }

    /// True while the activator is in the request path.
    pub fn activator_in_path(&self) -> bool {
        self.router.mode() == Mode::Proxy || self.router.routable() == 0
    }

    /// The earliest time the driver must act for this revision.
    pub fn next_deadline(&self) -> Option<Time> {
        let expire = match &self.kind {
            Kind::Keepalive { expire_at, .. } => *expire_at,
            Kind::Kpa { .. } => None,
        };
        match (self.reconcile_at, expire) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What one run measured (the simulator's `Measured`).
pub(crate) struct Measured {
    /// What the simulator counts too.
    pub t: Tally,
    /// Requests that failed at their instance (502): counted in `rejected` too.
    pub failed: u64,
    pub crashes: u64,
    pub lag_events: u64,
    pub lag_max_s: f64,
    /// Σ over answered requests of (time the instance slot was held − sampled service time),
    /// scenario nanoseconds: what the proxy hop to the instance and back adds to concurrency.
    pub slot_excess_ns: u128,
    /// How many requests `slot_excess_ns` covers.
    pub slot_excess_count: u64,
}

/// Run-wide state: billing, measurements, the series.
pub(crate) struct Global {
    pub billing: Meter,
    pub series: SeriesBuilder,
    pub m: Measured,
    next_gid: u64,
    panicking: Vec<bool>,
}

/// Outcome of a request at its instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The instance answered with this status.
    Answered(StatusCode),
    /// The request timeout passed while it ran (504).
    TimedOut,
    /// The instance failed (connection refused or reset, process crashed): 502.
    Failed,
}

/// A request that is executing on an instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Running {
    pub slot: u32,
    pub generation: u32,
    pub gid: u64,
    pub addr: Option<SocketAddr>,
    pub service_ns: u64,
    pub deadline: Time,
    pub cold: bool,
    pub proxied: bool,
    pub arrival: Time,
}

/// What happened to a request on arrival.
pub(crate) enum Admit {
    /// It runs now.
    Run(Running),
    /// It waits; the sender side fires when it starts (or is dropped when it failed).
    Wait {
        slot: u32,
        generation: u32,
        deadline: Time,
        arrival: Time,
        rx: oneshot::Receiver<()>,
    },
    /// Turned away.
    Reject {
        status: StatusCode,
        reason: &'static str,
        arrival: Time,
    },
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Builds the platform at t = 0 (the clock's epoch): revisions with their autoscalers. No
    /// instance exists yet; [`Shared::boot`] starts the initial ones.
    pub fn new(
        s: &Scenario,
        seed: u64,
        variant: String,
        clock: Clock,
        instances: InstanceKind,
        events: Option<Sink>,
        request_log: Option<Sink>,
    ) -> Shared {
        let revs = s
            .revisions
            .iter()
            .map(|r| {
                let cc = r.service.container_concurrency;
                let (kind, progress_deadline) = match &r.autoscaler {
                    AutoscalerSettings::Kpa(k) => (
                        Kind::Kpa {
                            decider: Box::new(Decider::new(Time::ZERO, DeciderSpec::new(k, cc), 0)),
                            scaler: Box::new(KpaScaler::new(Time::ZERO, k, cc)),
                            activator: ActivatorMeter::new(),
                            stable: k.stable_window,
                        },
                        k.progress_deadline,
                    ),
                    AutoscalerSettings::Keepalive(k) => (
                        Kind::Keepalive {
                            pool: Keepalive::new(k.clone()),
                            by_ka: BTreeMap::new(),
                            expire_at: None,
                        },
                        Duration::from_secs(600),
                    ),
                };
                let n = &r.name;
                RevCell {
                    name: r.name.clone(),
                    tag: r.tag.clone(),
                    state: Mutex::new(Rev {
                        name: r.name.clone(),
                        router: RevisionRouter::new(
                            s.router.policy,
                            cc,
                            s.router.activator_queue_depth,
                        ),
                        service: Sampler::new(&r.service.service_time),
                        cold: Sampler::new(&r.service.cold_start),
                        cold_service: r.service.cold_service_time.as_ref().map(Sampler::new),
                        timeout: r.service.timeout,
                        shutdown: r.service.shutdown,
                        warm_at_start: r.service.warm_at_start,
                        progress_deadline,
                        rng_service: stream(seed, &format!("service/{n}")),
                        rng_cold: stream(seed, &format!("cold-start/{n}")),
                        rng_route: stream(seed, &format!("router/{n}")),
                        rng_scrape: stream(seed, &format!("scrape/{n}")),
                        kind,
                        insts: Vec::new(),
                        alive: Vec::new(),
                        starting: 0,
                        ready: 0,
                        desired: 0,
                        panic: false,
                        excess_burst_capacity: 0,
                        reconcile_at: None,
                        decided_at: Time::ZERO,
                        reqs: Vec::new(),
                        free: Vec::new(),
                        in_system: 0,
                        waiting_cold: 0,
                        counters: RevCounters::default(),
                        crash_streak: 0,
                    }),
                }
            })
            .collect();
        let billing_revs = RevisionBilling::from_scenario(s);
        let m = Measured {
            t: Tally::new(),
            failed: 0,
            crashes: 0,
            lag_events: 0,
            lag_max_s: 0.0,
            slot_excess_ns: 0,
            slot_excess_count: 0,
        };
        Shared {
            clock,
            global: Mutex::new(Global {
                billing: Meter::new(&s.billing, &billing_revs),
                series: SeriesBuilder::new(SECOND),
                m,
                next_gid: 0,
                panicking: vec![false; s.revisions.len()],
            }),
            split: Mutex::new((
                TrafficSplit::new(
                    &s.revisions
                        .iter()
                        .map(|r| r.traffic_percent)
                        .collect::<Vec<_>>(),
                ),
                stream(seed, "split"),
            )),
            revs,
            wake: Notify::new(),
            events,
            request_log,
            variant,
            instances,
            closing: AtomicBool::new(false),
        }
    }

    /// Locks revision `r` and the global state, then reads the clock.
    pub fn ctx<'a>(self: &'a Arc<Self>, r: usize) -> Ctx<'a> {
        let rev = lock(&self.revs[r].state);
        let g = lock(&self.global);
        let now = self.clock.now();
        Ctx {
            sh: self,
            r,
            rev,
            g,
            now,
        }
    }

    /// Starts the initial instances of every revision and reconciles once (t ≈ 0).
    pub fn boot(self: &Arc<Self>) {
        for r in 0..self.revs.len() {
            let mut c = self.ctx(r);
            let warm = c.rev.warm_at_start;
            match &mut c.rev.kind {
                Kind::Kpa { scaler, .. } => {
                    let n = scaler.replicas();
                    for _ in 0..n {
                        c.create_instance(None, warm);
                    }
                    c.reconcile();
                }
                Kind::Keepalive { pool, .. } => {
                    for id in pool.ensure_min() {
                        c.create_instance(Some(id), warm);
                    }
                }
            }
        }
    }

    /// The revision a request goes to by the traffic split.
    pub fn pick_revision(&self) -> usize {
        let mut s = lock(&self.split);
        let (split, rng) = &mut *s;
        split.pick(rng)
    }

    /// Records an event in the event log.
    pub fn log(&self, now: Time, event: Event) {
        if let Some(s) = &self.events {
            s.json(&Stamped {
                t_s: now.as_secs_f64(),
                variant: self.variant.clone(),
                event,
            });
        }
    }

    /// The end-of-bucket levels across revisions (locks each revision in turn).
    pub fn levels(self: &Arc<Self>) -> Levels {
        let mut l = Levels::default();
        for cell in &self.revs {
            let r = lock(&cell.state);
            l.queued += r.queued();
            l.ready += u64::from(r.ready);
            l.starting += u64::from(r.starting);
            l.in_flight += r.in_system;
            l.panic |= r.panic;
            l.desired += match &r.kind {
                Kind::Kpa { .. } => r.desired,
                Kind::Keepalive { pool, .. } => u64::from(pool.instances()),
            };
        }
        l
    }

    /// Instances alive across revisions.
    pub fn alive(&self) -> usize {
        self.revs.iter().map(|c| lock(&c.state).alive()).sum()
    }

    /// Requests in the system across revisions.
    pub fn in_system(&self) -> u64 {
        lock(&self.global).m.t.in_system.level()
    }
}

/// A revision's state and the global state, locked, at one instant.
pub(crate) struct Ctx<'a> {
    sh: &'a Arc<Shared>,
    r: usize,
    pub rev: MutexGuard<'a, Rev>,
    pub g: MutexGuard<'a, Global>,
    /// The scenario time read once both locks were held.
    pub now: Time,
}

fn is_queued(reqs: &[Req], token: ReqId) -> bool {
    let slot = (token & 0xffff_ffff) as usize;
    let generation = (token >> 32) as u32;
    reqs.get(slot).is_some_and(|r| {
        r.generation == generation
            && matches!(
                r.state,
                ReqState::QueuedActivator | ReqState::QueuedProxy(_)
            )
    })
}

impl Ctx<'_> {
    fn log(&self, event: Event) {
        self.sh.log(self.now, event);
    }
}
