//! The platform: requests and instances of every revision, as one sans-IO state machine.
//!
//! Everything between a request's arrival and its answer, and an instance's creation and its
//! end, happens here, once, for both the simulator and the live runtime: the traffic split,
//! the activator and queue-proxy breakers ([`crate::router`]), the keepalive pool or the KPA
//! (metric scrape, decider tick and pokes, reconciler with its requeues), instance draining,
//! request timeouts, the concurrency meters, billing and the run's measurements. The platform
//! never sleeps, spawns or reads a clock: each transition takes `now`, changes state and queues
//! [`Effect`]s for its driver.
//!
//! ```text
//!   driver                         Platform                              effects
//!   ──────                         ────────                              ───────
//!   boot(t0)                 ─▶ initial instances, first reconcile  ─▶ StartInstance, Timer(Second)
//!   on_arrival(now, rev?)    ─▶ split, router / keepalive pool      ─▶ Serve | Wait | Reply
//!   on_instance_ready(now,i) ─▶ queued requests start               ─▶ Serve…, Timer(Reconcile)
//!   on_request_done(now,r,o) ─▶ meters, billing, next queued one    ─▶ Serve, StopInstance
//!   on_timeout(now, r)       ─▶ a waiting request gives up          ─▶ Reply(Timeout)
//!   on_timer(now, at, t)     ─▶ scrape + tick, reconcile, expiry    ─▶ StartInstance, StopInstance, Timer
//!   on_instance_stopped(…)   ─▶ the instance is gone
//!   on_instance_lost(…)      ─▶ a process died: fail, replace       ─▶ Reply(InstanceFailed), StartInstance
//!   on_shutdown(now)         ─▶ stop everything, replace nothing    ─▶ StopInstance…
//! ```
//!
//! After each call the driver takes the effects with [`Platform::effects`] and carries them out
//! in order. The simulator turns them into event-queue pushes (a `Serve` becomes the request's
//! completion at [`Serve::ends_at`]); the runtime into tasks, oneshot answers, process starts and
//! stops, and timers. Both call the same transitions, so a simulated run predicts a live one.
//!
//! Guarantees, checked by the tests of this module:
//! - every request that arrived is, at any time, in exactly one place: waiting (activator,
//!   queue-proxy, its cold start), running on an instance, or answered (completed, rejected,
//!   failed, timed out) — `arrived = completed + rejected + timed_out + in flight`;
//! - a request starts only on a ready or draining instance, never on one that is starting or
//!   stopped, and never beyond the instance's container concurrency;
//! - a draining instance takes no new request and stops once it has none;
//! - ids that outlived their object (a late timer, a completion racing a timeout) are ignored.

use std::time::Duration;

use crate::autoscaler::metrics::{PodReport, ScrapeScratch};
use crate::autoscaler::{
    ActivatorMeter, AutoscalerSettings, CloudRun, ConcurrencyMeter, Decider, DeciderSpec, Hpa,
    Keepalive, KeepaliveId, KpaScaler,
};
use crate::billing::{Meter, RevisionBilling};
use crate::event::Event;
use crate::ids::{InstId, ReqId, RevId};
use crate::measure::{Integral, LatencyHist, Levels, SeriesBuilder, Tally, bucket_for};
use crate::result::VariantResult;
use crate::rng::{SimRng, stream};
use crate::router::{Mode, RevisionRouter, TrafficSplit};
use crate::scenario::Scenario;
use crate::time::{Time, duration_nanos};
use crate::workload::Sampler;

mod autoscale;
mod cpu;
mod deploy;
mod effect;
mod idle;
mod instances;
mod kinds;
mod nodes;
mod perf;
mod requests;
mod views;

pub use effect::{Effect, Outcome, Reply, Serve, Timer};

const SECOND: u64 = 1_000_000_000;

/// How a driver runs the platform.
#[derive(Clone, Debug)]
pub struct Config {
    /// The master seed: every random draw comes from one of its named streams.
    pub seed: u64,
    /// The width of the time series' buckets.
    pub bucket: Duration,
    /// Latency added to every answer without holding the instance slot (`[router] overhead`;
    /// zero live, where the hop is real).
    pub latency_overhead: Duration,
    /// Time the proxy hop adds inside the instance slot (`[router] slot_overhead`; zero live).
    pub slot_overhead: Duration,
    /// Queue [`Effect::Log`] entries for the event log.
    pub log_events: bool,
    /// Check invariants on every request start (slower); the end-of-run checks always run.
    pub check: bool,
    /// Sample instances' start-up times (false when real processes decide them).
    pub sample_cold_starts: bool,
    /// Whole-second timers are scheduled while `now` is before this (the simulator's hard end).
    pub seconds_until: Time,
    /// A request for a KPA revision with no instance, before its decider's first valid
    /// decision, pokes the decider (as a request to a revision at zero does). Knative's
    /// multiscaler starts a decider at desired = −1 and pokes only at 0, so the first request to
    /// a revision created at zero would wait for a tick that has data (up to two ticks); Cloud
    /// Run starts an instance for it at once.
    pub poke_before_first_decision: bool,
    /// A revision whose instances failed to start this many times in a row gives up
    /// ([`Effect::RevisionFailed`]); `None`: never (the simulator's instances do not fail).
    pub max_start_failures: Option<u32>,
    /// Instances' CPU use is measured by the driver ([`Platform::on_cpu_usage`]: real
    /// processes) instead of modelled from `[service] cpu_share`.
    pub measured_cpu: bool,
}

impl Config {
    /// The simulator's configuration for `s`: bucket width by horizon, the router's modelled
    /// overheads, seconds until the end of the drain.
    pub fn simulated(s: &Scenario, seed: u64) -> Config {
        Config {
            seed,
            bucket: s
                .sim
                .timeseries_bucket
                .unwrap_or_else(|| Duration::from_nanos(bucket_for(duration_nanos(s.duration)))),
            latency_overhead: s.router.overhead,
            slot_overhead: s.router.slot_overhead,
            log_events: false,
            check: false,
            sample_cold_starts: true,
            seconds_until: hard_end(s),
            poke_before_first_decision: true,
            max_start_failures: None,
            measured_cpu: false,
        }
    }

    /// The live runtime's configuration: 1 s buckets, no modelled overheads (the hop is real),
    /// seconds until shutdown. Instances whose cold starts are not sampled are real processes:
    /// their CPU use is measured, not modelled.
    pub fn live(seed: u64, sample_cold_starts: bool) -> Config {
        Config {
            seed,
            bucket: Duration::from_secs(1),
            latency_overhead: Duration::ZERO,
            slot_overhead: Duration::ZERO,
            log_events: false,
            check: false,
            sample_cold_starts,
            seconds_until: Time::MAX,
            poke_before_first_decision: true,
            max_start_failures: Some(5),
            measured_cpu: !sample_cold_starts,
        }
    }
}

/// When a simulated run stops at the latest: the horizon plus the drain (default: the longest
/// request timeout).
pub fn hard_end(s: &Scenario) -> Time {
    Time::ZERO + s.duration + s.sim.drain.unwrap_or(s.max_timeout())
}

/// An instance's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstState {
    /// Cold-starting: takes no request yet.
    Starting,
    /// Takes requests.
    Ready,
    /// Chosen for removal (or lost): finishes its requests, takes no new one.
    Draining,
    /// Gone.
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    Free,
    QueuedActivator,
    QueuedProxy(InstId),
    WaitingColdStart(InstId),
    Running(InstId),
}

#[derive(Clone, Copy, Debug)]
struct Req {
    arrival: Time,
    deadline: Time,
    service_ns: u64,
    /// When it took its instance slot.
    started: Time,
    rev: RevId,
    generation: u32,
    state: ReqState,
    proxied: bool,
    /// Counted at the instance's queue-proxy already (it waited there).
    at_proxy: bool,
    cold: bool,
    /// In its CPU phase on its instance (the performance model).
    in_cpu: bool,
    /// Waiting at a Cloud Run revision at its maximum: its wait ends in 429, not 504.
    at_max: bool,
}

struct Inst {
    rev: RevId,
    /// Wait before starting it (crash-loop back-off).
    backoff: Duration,
    state: InstState,
    created: Time,
    ready_at: Time,
    meter: ConcurrencyMeter,
    busy: u32,
    ka: Option<KeepaliveId>,
    /// The keepalive request waiting for this instance's cold start.
    pending: Option<ReqId>,
    /// Its stop was asked for (billing and the driver told once).
    stopping: bool,
    /// Its process died: nothing to stop, requests on it fail.
    lost: bool,
    /// The platform's shutdown ended it (not the autoscaler).
    by_shutdown: bool,
    /// Its vCPUs.
    vcpu: f64,
    /// Its CPU under the performance model (`cpu_share` > 0, modelled).
    cpu: Option<Box<cpu::Cpu>>,
    /// CPU-nanoseconds it used so far (modelled or measured).
    cpu_ns: f64,
    /// `cpu_ns` at the last whole-second sample.
    cpu_second_mark: f64,
    /// CPU-nanoseconds it used in the second before that sample.
    cpu_second_delta: f64,
    /// `cpu_ns` at the HPA's last sync, and when that was.
    cpu_sync_mark: (f64, Time),
    /// The driver reported its CPU use at least once (measured CPU).
    cpu_seen: bool,
    /// When it last became idle (no request executing).
    idle_since: Time,
    /// Kept idle by Cloud Run's autoscaler: alive and warm, out of the routable set.
    parked: bool,
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
        /// The instance of each keepalive id (ids are dense).
        by_ka: Vec<InstId>,
        expire_at: Option<Time>,
    },
    CloudRun {
        cr: Box<CloudRun>,
        /// Instances kept idle, in the order they were parked.
        parked: Vec<InstId>,
        /// The pending retention timer.
        expire_at: Option<Time>,
    },
    Hpa {
        hpa: Box<Hpa>,
    },
}

/// Counters of one revision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevCounters {
    /// Requests that arrived.
    pub arrived: u64,
    /// Instances started.
    pub cold_starts: u64,
    /// Instances stopped.
    pub stops: u64,
    /// Instances whose process died on its own.
    pub crashes: u64,
    /// Decider evaluations (ticks and pokes).
    pub ticks: u64,
}

struct Rev {
    name: String,
    router: RevisionRouter,
    service: Sampler,
    cold: Sampler,
    cold_service: Option<Sampler>,
    timeout_ns: u64,
    shutdown: Duration,
    warm_at_start: bool,
    progress_deadline: Duration,
    rng_service: SimRng,
    rng_cold: SimRng,
    rng_route: SimRng,
    rng_scrape: SimRng,
    kind: Kind,
    alive: Vec<InstId>,
    starting: u32,
    ready: u32,
    desired: u64,
    panic: bool,
    excess_burst_capacity: i32,
    reconcile_at: Option<Time>,
    /// The time the decider last ran at (ticks are stamped with their scheduled time).
    decided_at: Time,
    /// Requests arrived and not answered.
    in_system: u64,
    /// Keepalive requests waiting for their instance's cold start.
    waiting_cold: u32,
    counters: RevCounters,
    /// Instances lost in a row without one getting ready (crash-loop back-off).
    crash_streak: u32,
    /// Its own measurements (with several revisions).
    rt: deploy::RevTally,
    /// Gave up after [`Config::max_start_failures`] failed starts: nothing starts again.
    failed: bool,
    /// vCPUs per instance.
    vcpu: f64,
    /// `[service] cpu_share` (0: no CPU model).
    cpu_share: f64,
    /// `[service] cold_start_cpu_share`.
    cold_start_cpu_share: f64,
    /// `[service] startup_cpu_boost`.
    boost: bool,
    /// Σ and count of the start-up times of its instances (created → ready), ns.
    startups: (u128, u64),
    /// CPU-seconds per vCPU-second of its instances over the last whole second.
    cpu_utilization: f64,
}

/// What a run measured besides the [`Tally`]: the figures each driver may report.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests still in the system at the end.
    pub in_flight_end: u64,
    /// Σ of completed requests' latencies, ns (the exact mean, beside the histogram's).
    pub latency_sum_ns: u128,
    /// Requests that started on an instance.
    pub begun: u64,
    /// Of those, requests that waited before starting.
    pub waited: u64,
    /// Σ of those waits, ns.
    pub wait_ns_total: u128,
    /// Requests failed by their instance (502): counted in `rejected` too.
    pub failed: u64,
    /// Requests whose client went away before the answer (499): counted in `rejected` too.
    pub client_closed: u64,
    /// Instances whose process died.
    pub crashes: u64,
    /// Σ over answered requests of (time the slot was held − sampled service time), ns.
    pub slot_excess_ns: u128,
    /// How many requests `slot_excess_ns` covers.
    pub slot_excess_count: u64,
    /// Invariant violations found (at most 20 kept).
    pub violations: Vec<String>,
    /// Whole seconds a driver skipped because nothing could change in them
    /// ([`Platform::skip_seconds`]): a run that ticks through them processes this many more
    /// events, with the same results.
    pub seconds_skipped: u64,
}

/// The platform of one run (one variant of a scenario).
pub struct Platform {
    cfg: Config,
    split: TrafficSplit,
    rng_split: SimRng,
    revs: Vec<Rev>,
    insts: Vec<Inst>,
    reqs: Vec<Req>,
    free: Vec<u32>,
    billing: Meter,
    series: SeriesBuilder,
    t: Tally,
    stats: Stats,
    slot_overhead_ns: u64,
    latency_overhead_ns: u64,
    next_second: Option<Time>,
    /// How many revisions have an autoscaler that acts on whole seconds (KPA, Cloud Run, HPA).
    timed_revisions: usize,
    /// Some instance's CPU is modelled or measured (else CPU metering is skipped).
    cpu_on: bool,
    /// Some instance's CPU is modelled (`cpu_share` > 0, not measured): requests may take the
    /// performance model's path. False keeps the per-request path as without the model.
    cpu_model: bool,
    /// Some revision has Cloud Run's autoscaler (instances may be parked).
    cloud_run: bool,
    /// Σ CPU-nanoseconds used by every instance.
    cpu_total_ns: f64,
    /// Σ vCPUs of the instances alive, in micro-vCPUs (its integral: vCPU-time alive).
    vcpu_alive: Integral,
    /// (`cpu_total_ns`, vCPU area) when the last series bucket closed.
    cpu_bucket_mark: (f64, u128),
    /// Reused buffer of CPU phases that ended.
    cpu_done: Vec<cpu::Done>,
    /// Several revisions: each keeps its own measurements besides the run's.
    multi: bool,
    /// Each revision's deploy state (creation, readiness, reachability, share over time).
    deploy: Vec<deploy::RevDeploy>,
    /// The current split, one percentage per revision.
    split_percents: Vec<f64>,
    /// `[[routes]]`: (lowercase header, value, revision), in order.
    routes: Vec<(String, String, RevId)>,
    /// Per request class: the revisions of the routes it matches, in route order.
    class_routes: Vec<Vec<RevId>>,
    /// `[[rollouts]]`, in order.
    rollouts: Vec<deploy::RolloutRun>,
    /// The rollout asked for and waiting for its revisions to be Ready.
    pending_rollout: Option<usize>,
    /// The rollout moving traffic.
    active_rollout: Option<usize>,
    /// The rollout whose measurement window is open.
    window: Option<usize>,
    closing: bool,
    out: Vec<Effect>,
    log: Vec<Event>,
    /// The scrape's buffers, reused every second.
    scrape_buf: (Vec<PodReport>, ScrapeScratch),
}

/// A request in the system, for a live driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestView {
    /// Its revision.
    pub rev: RevId,
    /// When it arrived.
    pub arrival: Time,
    /// Its timeout: answered 504 if not finished by then.
    pub deadline: Time,
    /// The work it asks of a synthetic instance: its sampled service time (for the request that
    /// triggered a cold start under `cold_service_time`, what is left of that time).
    pub service: Duration,
    /// It waited for a cold start.
    pub cold: bool,
    /// The activator is in its path.
    pub proxied: bool,
}

/// How a live driver starts an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstancePlan {
    /// Its revision.
    pub rev: RevId,
    /// When the platform created it.
    pub created: Time,
    /// Wait this long before starting it (crash-loop back-off).
    pub backoff: Duration,
    /// A real process not ready after this is given up on (Knative's progress deadline).
    pub progress_deadline: Duration,
    /// The revision's shutdown time.
    pub shutdown: Duration,
}

/// A revision's state, for status lines and `/metrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct RevisionView {
    /// Requests arrived and not answered (queued included).
    pub in_system: u64,
    /// Requests waiting for an instance slot (activator, queue-proxies, their cold start).
    pub queued: u64,
    /// Starting instances.
    pub starting: u32,
    /// Ready instances.
    pub ready: u32,
    /// Draining instances.
    pub draining: u32,
    /// The autoscaler's desired instances (the keepalive pool's instances): the decider's
    /// figure, before the reconciler's bounds.
    pub desired: u64,
    /// The instances the reconciler asks for (`desired` within `min_scale`..`max_scale`,
    /// activation scale and scale-down delay applied; the keepalive pool's instances).
    pub target: u64,
    /// The revision gave up: its instances failed to start too many times in a row.
    pub failed: bool,
    /// Panic mode.
    pub panic: bool,
    /// The KPA's excess burst capacity.
    pub excess_burst_capacity: i32,
    /// The activator is in the request path.
    pub activator_in_path: bool,
    /// Counters.
    pub counters: RevCounters,
}

impl Platform {
    /// The platform for scenario `s` at t = 0: revisions with their autoscalers, no instance
    /// yet ([`Platform::boot`] starts the initial ones).
    pub fn new(s: &Scenario, cfg: Config) -> Platform {
        let seed = cfg.seed;
        let revs = s
            .revisions
            .iter()
            .map(|r| {
                let cc = r.service.container_concurrency;
                let mut router =
                    RevisionRouter::new(s.router.policy, cc, s.router.activator_queue_depth);
                // A revision that comes later gets its autoscaler when it is created.
                let created = Time::ZERO + r.created_at;
                let (kind, progress_deadline) = match &r.autoscaler {
                    AutoscalerSettings::Kpa(k) => (
                        Kind::Kpa {
                            decider: Box::new(Decider::new(created, DeciderSpec::new(k, cc), 0)),
                            scaler: Box::new(KpaScaler::new(created, k, cc)),
                            activator: ActivatorMeter::new(),
                            stable: k.stable_window,
                        },
                        k.progress_deadline,
                    ),
                    AutoscalerSettings::Keepalive(k) => (
                        Kind::Keepalive {
                            pool: Keepalive::new(k.clone()),
                            by_ka: Vec::new(),
                            expire_at: None,
                        },
                        Duration::from_secs(600),
                    ),
                    AutoscalerSettings::CloudRun(c) => (
                        Kind::CloudRun {
                            cr: Box::new(CloudRun::new(c.clone(), cc, r.service.vcpu)),
                            parked: Vec::new(),
                            expire_at: None,
                        },
                        Duration::from_secs(600),
                    ),
                    AutoscalerSettings::Hpa(h) => {
                        // Requests go straight to the pods' queue-proxies (min scale ≥ 1: the
                        // activator is not in the path).
                        router.set_mode(Mode::Serve);
                        (
                            Kind::Hpa {
                                hpa: Box::new(Hpa::new(h.clone())),
                            },
                            Duration::from_secs(600),
                        )
                    }
                };
                let n = &r.name;
                Rev {
                    name: r.name.clone(),
                    router,
                    service: Sampler::new(&r.service.service_time),
                    cold: Sampler::new(&r.service.cold_start),
                    cold_service: r.service.cold_service_time.as_ref().map(Sampler::new),
                    timeout_ns: duration_nanos(r.service.timeout),
                    shutdown: r.service.shutdown,
                    warm_at_start: r.service.warm_at_start,
                    progress_deadline,
                    rng_service: stream(seed, &format!("service/{n}")),
                    rng_cold: stream(seed, &format!("cold-start/{n}")),
                    rng_route: stream(seed, &format!("router/{n}")),
                    rng_scrape: stream(seed, &format!("scrape/{n}")),
                    kind,
                    alive: Vec::new(),
                    starting: 0,
                    ready: 0,
                    desired: 0,
                    panic: false,
                    excess_burst_capacity: 0,
                    reconcile_at: None,
                    decided_at: Time::ZERO,
                    in_system: 0,
                    waiting_cold: 0,
                    counters: RevCounters::default(),
                    crash_streak: 0,
                    rt: deploy::RevTally::default(),
                    failed: false,
                    vcpu: r.service.vcpu,
                    cpu_share: r.service.cpu_share,
                    cold_start_cpu_share: r.service.cold_start_cpu_share,
                    boost: r.service.startup_cpu_boost,
                    startups: (0, 0),
                    cpu_utilization: 0.0,
                }
            })
            .collect();
        let percents: Vec<f64> = s.revisions.iter().map(|r| r.traffic_percent).collect();
        let timed_revisions = s
            .revisions
            .iter()
            .filter(|r| !matches!(r.autoscaler, AutoscalerSettings::Keepalive(_)))
            .count();
        let cpu_on = cfg.measured_cpu || s.revisions.iter().any(|r| r.service.cpu_share > 0.0);
        let cpu_model = !cfg.measured_cpu && s.revisions.iter().any(|r| r.service.cpu_share > 0.0);
        let cloud_run = s
            .revisions
            .iter()
            .any(|r| matches!(r.autoscaler, AutoscalerSettings::CloudRun(_)));
        let multi = s.revisions.len() > 1;
        let mut p = Platform {
            split: TrafficSplit::new(&percents),
            rng_split: stream(seed, "split"),
            revs,
            insts: Vec::new(),
            reqs: Vec::new(),
            free: Vec::new(),
            billing: Meter::new(&s.billing, &RevisionBilling::from_scenario(s)),
            series: SeriesBuilder::new(duration_nanos(cfg.bucket).max(1)),
            t: Tally::new(),
            stats: Stats::default(),
            slot_overhead_ns: duration_nanos(cfg.slot_overhead),
            latency_overhead_ns: duration_nanos(cfg.latency_overhead),
            next_second: None,
            timed_revisions,
            cpu_on,
            cpu_model,
            cloud_run,
            cpu_total_ns: 0.0,
            vcpu_alive: Integral::default(),
            cpu_bucket_mark: (0.0, 0),
            cpu_done: Vec::new(),
            multi,
            deploy: Vec::new(),
            split_percents: Vec::new(),
            routes: Vec::new(),
            class_routes: Vec::new(),
            rollouts: Vec::new(),
            pending_rollout: None,
            active_rollout: None,
            window: None,
            closing: false,
            out: Vec::new(),
            scrape_buf: Default::default(),
            log: Vec::new(),
            cfg,
        };
        p.init_deploy(s);
        if multi {
            for (r, d) in p.revs.iter_mut().zip(&p.deploy) {
                if d.exists {
                    r.rt.at_zero.set(Time::ZERO, 1);
                }
            }
        }
        p
    }

    /// Starts the initial instances of every revision (`initial_scale`, `min_instances`),
    /// reconciles once and schedules the first whole second.
    pub fn boot(&mut self, now: Time) {
        for r in 0..self.revs.len() {
            if !self.deploy[r].exists {
                continue;
            }
            let warm = self.revs[r].warm_at_start;
            self.boot_revision(now, RevId(r as u16), warm);
        }
        let first = Time(now.0 / SECOND * SECOND + SECOND);
        self.schedule_second(first);
        self.schedule_deploys(now);
    }

    /// The effects queued by the transitions since they were last cleared, in order. Carry
    /// them out, then [`clear_effects`](Self::clear_effects) (a driver whose handling of an
    /// effect calls back into the platform takes them with [`take_effects`](Self::take_effects)
    /// instead).
    #[inline]
    pub fn effects(&self) -> &[Effect] {
        &self.out
    }

    /// Forgets the effects taken.
    #[inline]
    pub fn clear_effects(&mut self) {
        self.out.clear();
    }

    /// Moves the queued effects into `into` (cleared first), so the platform can be called
    /// again while they are carried out.
    pub fn take_effects(&mut self, into: &mut Vec<Effect>) {
        into.clear();
        std::mem::swap(&mut self.out, into);
    }

    /// The event-log entries of the transitions since the last call (only when
    /// [`Config::log_events`] is on), in order.
    pub fn log_entries(&mut self) -> std::vec::Drain<'_, Event> {
        self.log.drain(..)
    }

    /// The earliest time a timer of the platform is due (the next whole second, a reconciler
    /// requeue, a keepalive or idle-retention expiry; not the instances' CPU timers).
    pub fn next_deadline(&self) -> Option<Time> {
        let revs = self.revs.iter().flat_map(|r| {
            let expire = match &r.kind {
                Kind::Keepalive { expire_at, .. } | Kind::CloudRun { expire_at, .. } => *expire_at,
                Kind::Kpa { .. } | Kind::Hpa { .. } => None,
            };
            [r.reconcile_at, expire]
        });
        revs.chain([self.next_second, self.next_deploy_deadline()])
            .flatten()
            .min()
    }

    /// A timer the platform asked for ([`Effect::Timer`]) fires. `scheduled` is the time it was
    /// asked for (ticks are stamped with it, not with the moment a live timer got to run).
    #[inline]
    pub fn on_timer(&mut self, now: Time, scheduled: Time, timer: Timer) {
        match timer {
            Timer::Second => self.on_second(now, scheduled),
            Timer::Reconcile(r) => self.on_reconcile_timer(now, r),
            Timer::Expire(r) => self.expire(now, r),
            Timer::Cpu(i) => self.on_cpu_timer(now, scheduled, i),
            Timer::Create(r) => self.create_revision(now, r),
            Timer::Rollout(i) => self.on_rollout_timer(now, usize::from(i)),
        }
    }

    fn on_reconcile_timer(&mut self, now: Time, r: RevId) {
        let rev = &mut self.revs[r.index()];
        if rev.reconcile_at.is_some_and(|t| t <= now) {
            rev.reconcile_at = None;
        }
        self.reconcile(now, r);
    }

    /// Shutdown: no new instance from now on; every instance drains and stops (starting ones
    /// are cancelled). Requests still running finish on their instance.
    pub fn on_shutdown(&mut self, now: Time) {
        self.closing = true;
        self.next_second = None;
        for r in 0..self.revs.len() {
            let alive = self.revs[r].alive.clone();
            for i in alive {
                let inst = &mut self.insts[i.index()];
                inst.by_shutdown = matches!(inst.state, InstState::Starting | InstState::Ready);
                self.drain(now, i);
                if self.insts[i.index()].state == InstState::Draining {
                    self.shut_down(now, i);
                }
            }
        }
    }

    // ---- shared helpers ----

    fn log(&mut self, event: impl FnOnce(&Self) -> Event) {
        if self.cfg.log_events {
            let e = event(self);
            self.log.push(e);
        }
    }

    fn violation(&mut self, now: Time, what: String) {
        if self.stats.violations.len() < 20 {
            self.stats.violations.push(format!("t={now}: {what}"));
        }
    }

    #[inline]
    fn roll_series(&mut self, now: Time) {
        if self.series.due(now) {
            self.close_buckets(now);
        }
    }

    #[inline(never)]
    fn close_buckets(&mut self, now: Time) {
        while self.series.due(now) {
            let l = self.levels();
            if self.cpu_on {
                let end = self.series.bucket_end();
                self.series.row().cpu_utilization = self.bucket_cpu_utilization(end);
            }
            self.series.close(l);
            self.close_revision_buckets();
        }
    }

    /// Each revision's columns of the bucket just closed (with several revisions).
    fn close_revision_buckets(&mut self) {
        if !self.multi {
            return;
        }
        for r in &mut self.revs {
            let rt = &mut r.rt;
            rt.series
                .arrivals
                .push(std::mem::take(&mut rt.bucket_arrivals));
            rt.series.ready.push(u64::from(r.ready));
            rt.series.starting.push(u64::from(r.starting));
        }
    }

    /// Ready instances without a request: `d` more on revision `r`.
    #[inline]
    fn idle_ready_add(&mut self, now: Time, r: RevId, d: i64) {
        self.t.idle_ready.add(now, d);
        if self.multi {
            self.revs[r.index()].rt.idle_ready.add(now, d);
        }
    }

    #[inline]
    fn schedule_second(&mut self, at: Time) {
        self.next_second = Some(at);
        self.out.push(Effect::Timer {
            at,
            timer: Timer::Second,
        });
    }
}

#[cfg(test)]
mod tests;
