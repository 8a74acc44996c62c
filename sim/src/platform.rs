//! The simulated platform: arrivals, the activator and per-instance breakers, instances with an
//! explicit lifecycle, the 1 s scrape and 2 s decider tick, the KPA reconciler or the keepalive
//! pool, per revision. Every decision is taken by `scalelab-core`; this module only keeps time,
//! state and measurements.

use std::io::Write;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::autoscaler::metrics::{PodReport, scrape};
use scalelab_core::autoscaler::{
    ActivatorMeter, AutoscalerSettings, ConcurrencyMeter, Decider, DeciderSpec, Keepalive,
    KeepaliveId, KpaScaler, ScalerInput,
};
use scalelab_core::billing::{Meter, RevisionBilling};
use scalelab_core::event::{Event, Stamped};
use scalelab_core::rng::{SimRng, stream};
use scalelab_core::router::{Mode, ReqId, RevisionRouter, Route, TrafficSplit};
use scalelab_core::scenario::Scenario;
use scalelab_core::time::duration_nanos;
use scalelab_core::workload::{Arrivals, Sampler};

use crate::SimError;
use crate::engine::EventQueue;
use scalelab_core::measure::{Levels, SeriesBuilder, Tally, bucket_for};

const SECOND: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// Whole second: scrape, and on even seconds the decider tick; series buckets.
    Second,
    Ready(u32),
    /// A running request ends (completion, or its timeout while running).
    Done {
        slot: u32,
        generation: u32,
    },
    /// A queued request's deadline.
    Timeout {
        slot: u32,
        generation: u32,
    },
    Reconcile(u16),
    Stopped(u32),
    Expire(u16),
    /// The next intended arrival (scheduled when the previous one is processed).
    Arrival,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    Free,
    QueuedActivator,
    QueuedProxy(u32),
    WaitingColdStart(u32),
    Running(u32),
}

#[derive(Clone, Copy, Debug)]
struct Req {
    arrival: Time,
    deadline: Time,
    service_ns: u64,
    rev: u16,
    generation: u32,
    state: ReqState,
    proxied: bool,
    /// Counted at the instance's queue-proxy already (it waited there).
    at_proxy: bool,
    cold: bool,
    ends_in_timeout: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InstState {
    Starting,
    Ready,
    Draining,
    Stopped,
}

struct Inst {
    rev: u16,
    state: InstState,
    created: Time,
    ready_at: Time,
    meter: ConcurrencyMeter,
    busy: u32,
    ka: Option<KeepaliveId>,
    pending: Option<u32>,
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
        by_ka: Vec<u32>,
        expire_at: Option<Time>,
    },
}

struct Rev {
    name: String,
    router: RevisionRouter,
    service: Sampler,
    cold: Sampler,
    cold_service: Option<Sampler>,
    timeout_ns: u64,
    shutdown_ns: u64,
    warm_at_start: bool,
    rng_service: SimRng,
    rng_cold: SimRng,
    rng_route: SimRng,
    rng_scrape: SimRng,
    kind: Kind,
    alive: Vec<u32>,
    starting: u32,
    ready: u32,
    desired: u64,
    panic: bool,
    reconcile_at: Option<Time>,
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
}

/// What one run measured.
pub struct Measured {
    /// What the live runtime counts too.
    pub(crate) t: Tally,
    pub(crate) in_flight_end: u64,
    pub(crate) latency_sum_ns: u128,
    pub(crate) events: u64,
    pub(crate) end: Time,
    pub(crate) waited: u64,
    pub(crate) begun: u64,
    pub(crate) wait_ns_total: u128,
    pub(crate) violations: Vec<String>,
}

/// The simulated platform for one scenario (one variant).
pub struct Platform<'a> {
    q: EventQueue<Ev>,
    arrivals: Arrivals,
    split: TrafficSplit,
    rng_split: SimRng,
    revs: Vec<Rev>,
    insts: Vec<Inst>,
    reqs: Vec<Req>,
    free: Vec<u32>,
    horizon: Time,
    hard_end: Time,
    /// `[router] overhead`: latency the live router adds to every response.
    overhead_ns: u64,
    /// `[router] slot_overhead`: time the proxy hop adds inside the instance slot.
    slot_overhead_ns: u64,
    max_events: u64,
    billing: Meter,
    series: SeriesBuilder,
    m: Measured,
    opts: RunOptions<'a>,
}

impl<'a> Platform<'a> {
    /// Builds the platform at t = 0: revisions with their autoscalers, initial instances.
    pub fn new(s: &Scenario, opts: RunOptions<'a>) -> Platform<'a> {
        let seed = opts.seed;
        let horizon = Time::ZERO + s.duration;
        let max_timeout = s
            .revisions
            .iter()
            .map(|r| r.service.timeout)
            .max()
            .unwrap_or_default();
        let drain = s.sim.drain.unwrap_or(max_timeout);
        let revs: Vec<Rev> = s
            .revisions
            .iter()
            .map(|r| {
                let cc = r.service.container_concurrency;
                let kind = match &r.autoscaler {
                    AutoscalerSettings::Kpa(k) => Kind::Kpa {
                        decider: Box::new(Decider::new(Time::ZERO, DeciderSpec::new(k, cc), 0)),
                        scaler: Box::new(KpaScaler::new(Time::ZERO, k, cc)),
                        activator: ActivatorMeter::new(),
                        stable: k.stable_window,
                    },
                    AutoscalerSettings::Keepalive(k) => Kind::Keepalive {
                        pool: Keepalive::new(k.clone()),
                        by_ka: Vec::new(),
                        expire_at: None,
                    },
                };
                let n = &r.name;
                Rev {
                    name: r.name.clone(),
                    router: RevisionRouter::new(
                        s.router.policy,
                        cc,
                        s.router.activator_queue_depth,
                    ),
                    service: Sampler::new(&r.service.service_time),
                    cold: Sampler::new(&r.service.cold_start),
                    cold_service: r.service.cold_service_time.as_ref().map(Sampler::new),
                    timeout_ns: duration_nanos(r.service.timeout),
                    shutdown_ns: duration_nanos(r.service.shutdown),
                    warm_at_start: r.service.warm_at_start,
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
                    reconcile_at: None,
                }
            })
            .collect();
        let billing_revs: Vec<RevisionBilling> = s
            .revisions
            .iter()
            .map(|r| RevisionBilling {
                vcpu: r.service.vcpu,
                memory_gib: r.service.memory_gib,
                min_instances: match &r.autoscaler {
                    AutoscalerSettings::Kpa(k) => k.min_scale,
                    AutoscalerSettings::Keepalive(k) => k.min_instances,
                },
                startup_cpu_boost: r.service.startup_cpu_boost,
            })
            .collect();
        let bucket = s
            .sim
            .timeseries_bucket
            .map_or_else(|| bucket_for(duration_nanos(s.duration)), duration_nanos);
        let arrivals = Arrivals::new(&s.workload, s.duration, stream(seed, "arrivals"));
        let mut p = Platform {
            q: EventQueue::default(),
            arrivals,
            split: TrafficSplit::new(
                &s.revisions
                    .iter()
                    .map(|r| r.traffic_percent)
                    .collect::<Vec<_>>(),
            ),
            rng_split: stream(seed, "split"),
            revs,
            insts: Vec::new(),
            reqs: Vec::new(),
            free: Vec::new(),
            horizon,
            hard_end: horizon + drain,
            overhead_ns: duration_nanos(s.router.overhead),
            slot_overhead_ns: duration_nanos(s.router.slot_overhead),
            max_events: s.sim.max_events,
            billing: Meter::new(&s.billing, &billing_revs),
            series: SeriesBuilder::new(bucket),
            m: Measured {
                t: Tally::new(),
                in_flight_end: 0,
                latency_sum_ns: 0,
                events: 0,
                end: Time::ZERO,
                waited: 0,
                begun: 0,
                wait_ns_total: 0,
                violations: Vec::new(),
            },
            opts,
        };
        p.start(Time::ZERO);
        p
    }

    fn start(&mut self, now: Time) {
        for r in 0..self.revs.len() {
            match &mut self.revs[r].kind {
                Kind::Kpa { scaler, .. } => {
                    let n = scaler.replicas();
                    let warm = self.revs[r].warm_at_start;
                    for _ in 0..n {
                        self.create_instance(r, now, None, warm);
                    }
                    self.reconcile(r, now);
                }
                Kind::Keepalive { pool, .. } => {
                    let ids = pool.ensure_min();
                    let warm = self.revs[r].warm_at_start;
                    for id in ids {
                        self.create_instance(r, now, Some(id), warm);
                    }
                }
            }
        }
        self.q.push(Time::from_secs(1), Ev::Second);
        if let Some(t) = self.arrivals.next() {
            self.q.push(t, Ev::Arrival);
        }
    }

    fn log(&mut self, now: Time, event: Event) {
        if let Some(w) = self.opts.events.as_mut() {
            let line = Stamped {
                t_s: now.as_secs_f64(),
                variant: self.opts.variant.to_string(),
                event,
            };
            if let Ok(s) = serde_json::to_string(&line) {
                let _ = writeln!(w, "{s}");
            }
        }
    }

    fn violation(&mut self, now: Time, what: String) {
        if self.m.violations.len() < 20 {
            self.m.violations.push(format!("t={now}: {what}"));
        }
    }

    /// Runs to the end: arrivals stop at the horizon; in-flight work drains until the last
    /// request finishes or the drain limit passes.
    pub fn run(mut self) -> Result<(Measured, Meter, SeriesBuilder), SimError> {
        let mut now = Time::ZERO;
        while let Some((t, ev)) = self.q.pop() {
            now = t;
            // After the horizon, stop at the first whole second with nothing left in flight.
            let drained = now >= self.horizon && self.m.t.in_system.level() == 0;
            if now > self.hard_end || (drained && matches!(ev, Ev::Second)) {
                break;
            }
            self.handle(now, ev);
            self.m.events += 1;
            if self.m.events > self.max_events {
                return Err(SimError::TooManyEvents {
                    limit: self.max_events,
                    at: now,
                });
            }
            if self.m.events & 0xffff == 0
                && let Some(p) = self.opts.progress
            {
                p.store(now.0, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let end = now.min(self.hard_end).max(self.horizon);
        self.finish(end);
        Ok((self.m, self.billing, self.series))
    }

    fn finish(&mut self, end: Time) {
        self.m.end = end;
        self.roll_series(end);
        if !end.0.is_multiple_of(self.series.bucket_ns()) {
            let l = self.levels();
            self.series.close(l);
        }
        self.m.in_flight_end = self.m.t.in_system.level();
        let m = &self.m;
        if m.t.arrived != m.t.completed + m.t.rejected + m.t.timed_out + m.in_flight_end {
            let msg = format!(
                "conservation: arrived {} != completed {} + rejected {} + timed out {} + in flight {}",
                m.t.arrived, m.t.completed, m.t.rejected, m.t.timed_out, m.in_flight_end
            );
            self.violation(end, msg);
        }
        let busy = self.m.t.busy_instances.total_secs(end);
        let alive = self.m.t.alive.total_secs(end);
        if busy > alive + 1e-6 {
            self.violation(
                end,
                format!("busy instance-seconds {busy} exceed instance-seconds {alive}"),
            );
        }
    }

    fn levels(&self) -> Levels {
        let mut l = Levels::default();
        for r in &self.revs {
            l.queued += u64::from(r.router.queued());
            l.ready += u64::from(r.ready);
            l.starting += u64::from(r.starting);
            // A keepalive pool has no decider: what it wants is the instances it keeps.
            l.desired += match &r.kind {
                Kind::Keepalive { pool, .. } => u64::from(pool.instances()),
                Kind::Kpa { .. } => r.desired,
            };
            l.panic |= r.panic;
        }
        l.in_flight = self.m.t.in_system.level();
        l
    }

    fn handle(&mut self, now: Time, ev: Ev) {
        match ev {
            Ev::Second => self.second(now),
            Ev::Ready(i) => self.ready(now, i),
            Ev::Done { slot, generation } => self.done(now, slot, generation),
            Ev::Timeout { slot, generation } => self.timeout(now, slot, generation),
            Ev::Reconcile(r) => {
                let r = r as usize;
                if self.revs[r].reconcile_at.is_some_and(|t| t <= now) {
                    self.revs[r].reconcile_at = None;
                }
                self.reconcile(r, now);
            }
            Ev::Stopped(i) => self.stopped(now, i),
            Ev::Expire(r) => self.expire(now, r as usize),
            Ev::Arrival => {
                self.arrival(now);
                if let Some(t) = self.arrivals.next() {
                    self.q.push(t, Ev::Arrival);
                }
            }
        }
    }

    // ---- requests ----

    fn alloc(&mut self, req: Req) -> u32 {
        match self.free.pop() {
            Some(s) => {
                let generation = self.reqs[s as usize].generation;
                self.reqs[s as usize] = Req { generation, ..req };
                s
            }
            None => {
                self.reqs.push(req);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, now: Time, slot: u32) {
        let r = &mut self.reqs[slot as usize];
        r.state = ReqState::Free;
        r.generation = r.generation.wrapping_add(1);
        self.free.push(slot);
        self.m.t.in_system.add(now, -1);
    }

    fn token(&self, slot: u32) -> ReqId {
        (u64::from(self.reqs[slot as usize].generation) << 32) | u64::from(slot)
    }

    fn arrival(&mut self, now: Time) {
        self.roll_series(now);
        let r = self.split.pick(&mut self.rng_split);
        let rev = &mut self.revs[r];
        let service_ns = rev.service.sample_nanos(&mut rev.rng_service);
        let deadline = Time(now.0.saturating_add(rev.timeout_ns));
        let slot = self.alloc(Req {
            arrival: now,
            deadline,
            service_ns,
            rev: r as u16,
            generation: 0,
            state: ReqState::Free,
            proxied: false,
            at_proxy: false,
            cold: false,
            ends_in_timeout: false,
        });
        self.m.t.arrived += 1;
        self.m.t.in_system.add(now, 1);
        self.series.row().arrivals += 1;
        self.billing.request_arrived(now, r);
        match &mut self.revs[r].kind {
            Kind::Kpa { .. } => self.arrival_kpa(now, r, slot),
            Kind::Keepalive { pool, .. } => match pool.on_request(now) {
                scalelab_core::autoscaler::Route::Warm(id) => {
                    let inst = self.ka_inst(r, id);
                    self.begin(now, slot, inst);
                }
                scalelab_core::autoscaler::Route::ColdStart(id) => {
                    let inst = self.create_instance(r, now, Some(id), false);
                    self.insts[inst as usize].pending = Some(slot);
                    self.reqs[slot as usize].state = ReqState::WaitingColdStart(inst);
                    self.reqs[slot as usize].cold = true;
                    let generation = self.reqs[slot as usize].generation;
                    self.q.push(deadline, Ev::Timeout { slot, generation });
                }
                scalelab_core::autoscaler::Route::Reject => self.reject(now, slot),
            },
        }
    }

    fn ka_inst(&self, r: usize, id: KeepaliveId) -> u32 {
        match &self.revs[r].kind {
            Kind::Keepalive { by_ka, .. } => by_ka[id.0 as usize],
            Kind::Kpa { .. } => unreachable!("keepalive id on a KPA revision"),
        }
    }

    fn arrival_kpa(&mut self, now: Time, r: usize, slot: u32) {
        let proxied = {
            let rev = &self.revs[r];
            rev.router.mode() == Mode::Proxy || rev.router.routable() == 0
        };
        self.reqs[slot as usize].proxied = proxied;
        if proxied {
            let poke = match &mut self.revs[r].kind {
                Kind::Kpa {
                    decider, activator, ..
                } => match activator.on_arrival(now) {
                    Some(stat) => {
                        decider.record(now, &stat);
                        decider.wants_poke(&stat)
                    }
                    None => false,
                },
                Kind::Keepalive { .. } => false,
            };
            if poke {
                self.decide(r, now, true);
            }
        }
        let token = self.token(slot);
        let rev = &mut self.revs[r];
        let route = rev.router.route(now, token, &mut rev.rng_route);
        match route {
            Route::Start(i) => self.begin(now, slot, i),
            Route::QueuedActivator => {
                self.reqs[slot as usize].state = ReqState::QueuedActivator;
                let (d, generation) = (
                    self.reqs[slot as usize].deadline,
                    self.reqs[slot as usize].generation,
                );
                self.q.push(d, Ev::Timeout { slot, generation });
            }
            Route::QueuedProxy(i) => {
                let req = &mut self.reqs[slot as usize];
                req.state = ReqState::QueuedProxy(i);
                req.at_proxy = true;
                let (d, generation, p) = (req.deadline, req.generation, req.proxied);
                self.insts[i as usize].meter.on_arrival(now, p);
                self.q.push(d, Ev::Timeout { slot, generation });
            }
            Route::Rejected(_) => self.reject(now, slot),
        }
    }

    fn reject(&mut self, now: Time, slot: u32) {
        let req = self.reqs[slot as usize];
        if req.proxied
            && let Kind::Kpa { activator, .. } = &mut self.revs[req.rev as usize].kind
        {
            activator.on_departure(now);
        }
        self.m.t.rejected += 1;
        self.series.row().errors += 1;
        self.release(now, slot);
    }

    /// The request starts executing on `inst`.
    fn begin(&mut self, now: Time, slot: u32, inst: u32) {
        let state = self.insts[inst as usize].state;
        if self.opts.check && state != InstState::Ready && state != InstState::Draining {
            self.violation(
                now,
                format!("request started on instance {inst} in state {state:?}"),
            );
        }
        let req = &mut self.reqs[slot as usize];
        let i = &mut self.insts[inst as usize];
        if !req.at_proxy {
            i.meter.on_arrival(now, req.proxied);
        }
        req.state = ReqState::Running(inst);
        self.m.begun += 1;
        if now > req.arrival {
            self.m.waited += 1;
            self.m.wait_ns_total += u128::from(now.0 - req.arrival.0);
        }
        if i.ready_at > req.arrival {
            req.cold = true;
        }
        i.busy += 1;
        if i.busy == 1 {
            self.m.t.busy_instances.add(now, 1);
            if i.state == InstState::Ready {
                self.m.t.idle_ready.add(now, -1);
            }
        }
        let mut service = req.service_ns;
        if req.cold {
            let rev = &mut self.revs[req.rev as usize];
            if let Some(cs) = &rev.cold_service {
                // SimFaaS convention: the cold request's whole time replaces start + service.
                let total = cs.sample_nanos(&mut rev.rng_cold);
                service = total.saturating_sub(now.0 - req.arrival.0);
            }
        }
        // The hop to the instance and back holds the slot too.
        service = service.saturating_add(self.slot_overhead_ns);
        let mut end = Time(now.0.saturating_add(service));
        if end > req.deadline {
            end = req.deadline.max(now);
            req.ends_in_timeout = true;
        }
        let generation = req.generation;
        self.billing.request_started(now, u64::from(inst));
        self.q.push(end, Ev::Done { slot, generation });
    }

    fn done(&mut self, now: Time, slot: u32, generation: u32) {
        let req = self.reqs[slot as usize];
        if req.generation != generation {
            return;
        }
        let ReqState::Running(inst) = req.state else {
            return;
        };
        self.roll_series(now);
        let latency = now.0 - req.arrival.0 + self.overhead_ns;
        if req.ends_in_timeout {
            self.m.t.timed_out += 1;
            self.series.row().errors += 1;
        } else {
            self.m.t.completed += 1;
            self.m.latency_sum_ns += u128::from(latency);
            if req.cold {
                self.m.t.delayed += 1;
                self.m.t.latency_cold.record_nanos(latency);
            } else {
                self.m.t.latency_warm.record_nanos(latency);
            }
            self.series.row().completions += 1;
            self.series.latency(latency);
        }
        let r = req.rev as usize;
        self.insts[inst as usize]
            .meter
            .on_departure(now, req.proxied);
        if req.proxied
            && let Kind::Kpa { activator, .. } = &mut self.revs[r].kind
        {
            activator.on_departure(now);
        }
        self.billing.request_finished(now, u64::from(inst));
        self.release(now, slot);
        self.end_work(now, inst);
        match &mut self.revs[r].kind {
            Kind::Kpa { .. } => {
                let reqs = &self.reqs;
                let mut live = |t: ReqId| is_queued(reqs, t);
                let next = self.revs[r].router.complete(now, inst, &mut live);
                if let Some(s) = next {
                    self.begin(now, (s.req & 0xffff_ffff) as u32, s.instance);
                }
                if self.insts[inst as usize].state == InstState::Draining
                    && self.revs[r].router.is_idle(inst)
                {
                    self.shut_down(now, inst);
                }
            }
            Kind::Keepalive { pool, .. } => {
                let id = self.insts[inst as usize].ka.expect("keepalive instance");
                pool.on_done(now, id);
                self.schedule_expire(r);
            }
        }
    }

    /// Bookkeeping when a request stops executing on `inst`.
    fn end_work(&mut self, now: Time, inst: u32) {
        let i = &mut self.insts[inst as usize];
        debug_assert!(i.busy > 0);
        i.busy -= 1;
        if i.busy == 0 {
            self.m.t.busy_instances.add(now, -1);
            if i.state == InstState::Ready {
                self.m.t.idle_ready.add(now, 1);
            }
        }
    }

    fn timeout(&mut self, now: Time, slot: u32, generation: u32) {
        let req = self.reqs[slot as usize];
        if req.generation != generation {
            return;
        }
        let r = req.rev as usize;
        match req.state {
            ReqState::QueuedActivator => self.revs[r].router.cancel_queued(None),
            ReqState::QueuedProxy(i) => {
                self.revs[r].router.cancel_queued(Some(i));
                self.insts[i as usize].meter.on_departure(now, req.proxied);
            }
            ReqState::WaitingColdStart(i) => self.insts[i as usize].pending = None,
            _ => return,
        }
        if req.proxied
            && let Kind::Kpa { activator, .. } = &mut self.revs[r].kind
        {
            activator.on_departure(now);
        }
        self.roll_series(now);
        self.m.t.timed_out += 1;
        self.series.row().errors += 1;
        self.release(now, slot);
    }

    // ---- instances ----

    fn create_instance(&mut self, r: usize, now: Time, ka: Option<KeepaliveId>, warm: bool) -> u32 {
        let id = self.insts.len() as u32;
        let rev = &mut self.revs[r];
        let cold_ns = if warm {
            0
        } else {
            rev.cold.sample_nanos(&mut rev.rng_cold)
        };
        self.insts.push(Inst {
            rev: r as u16,
            state: InstState::Starting,
            created: now,
            ready_at: Time::MAX,
            meter: ConcurrencyMeter::new(now),
            busy: 0,
            ka,
            pending: None,
        });
        rev.alive.push(id);
        rev.starting += 1;
        if let (Some(k), Kind::Keepalive { by_ka, .. }) = (ka, &mut rev.kind) {
            let k = k.0 as usize;
            if by_ka.len() <= k {
                by_ka.resize(k + 1, u32::MAX);
            }
            by_ka[k] = id;
        }
        if !warm {
            self.m.t.cold_starts += 1;
            self.series.row().cold_starts += 1;
        }
        let alive = self.m.t.alive.level() + 1;
        self.m.t.alive.set(now, alive);
        if alive == 1 {
            self.m.t.at_zero.set(now, 0);
        }
        self.m.t.peak = self.m.t.peak.max(alive);
        self.billing.instance_starting(now, r, u64::from(id));
        self.q.push(Time(now.0 + cold_ns), Ev::Ready(id));
        if self.opts.events.is_some() {
            let revision = self.revs[r].name.clone();
            self.log(
                now,
                Event::ColdStartBegan {
                    revision,
                    instance: u64::from(id),
                    cold_start_s: cold_ns as f64 / 1e9,
                },
            );
        }
        id
    }

    fn ready(&mut self, now: Time, inst: u32) {
        if self.insts[inst as usize].state != InstState::Starting {
            return; // cancelled while starting
        }
        let r = self.insts[inst as usize].rev as usize;
        {
            let i = &mut self.insts[inst as usize];
            i.state = InstState::Ready;
            i.ready_at = now;
        }
        self.revs[r].starting -= 1;
        self.revs[r].ready += 1;
        self.m.t.idle_ready.add(now, 1);
        self.billing.instance_ready(now, u64::from(inst));
        if self.opts.events.is_some() {
            let revision = self.revs[r].name.clone();
            self.log(
                now,
                Event::InstanceReady {
                    revision,
                    instance: u64::from(inst),
                },
            );
        }
        match &mut self.revs[r].kind {
            Kind::Kpa { .. } => {
                let reqs = &self.reqs;
                let mut live = |t: ReqId| is_queued(reqs, t);
                let rev = &mut self.revs[r];
                let started = rev
                    .router
                    .add_ready(now, inst, &mut rev.rng_route, &mut live);
                for s in started {
                    self.begin(now, (s.req & 0xffff_ffff) as u32, s.instance);
                }
                self.request_reconcile(r, now);
            }
            Kind::Keepalive { pool, .. } => {
                let i = &mut self.insts[inst as usize];
                let id = i.ka.expect("keepalive instance");
                let pending = i.pending.take();
                pool.on_ready(now, id, pending.is_some());
                match pending {
                    Some(slot) => self.begin(now, slot, inst),
                    None => self.schedule_expire(r),
                }
            }
        }
    }

    /// Takes `inst` out of service: a starting instance is cancelled, a ready one drains.
    fn drain(&mut self, now: Time, inst: u32) {
        let r = self.insts[inst as usize].rev as usize;
        match self.insts[inst as usize].state {
            InstState::Starting => {
                self.revs[r].starting -= 1;
                self.insts[inst as usize].state = InstState::Draining;
                self.shut_down(now, inst);
            }
            InstState::Ready => {
                self.revs[r].ready -= 1;
                self.revs[r].router.begin_drain(inst);
                let i = &mut self.insts[inst as usize];
                i.state = InstState::Draining;
                if i.busy == 0 {
                    self.m.t.idle_ready.add(now, -1);
                }
                if self.opts.events.is_some() {
                    let revision = self.revs[r].name.clone();
                    self.log(
                        now,
                        Event::InstanceDraining {
                            revision,
                            instance: u64::from(inst),
                        },
                    );
                }
                if self.revs[r].router.is_idle(inst) {
                    self.shut_down(now, inst);
                }
                self.request_reconcile(r, now);
            }
            InstState::Draining | InstState::Stopped => {}
        }
    }

    fn shut_down(&mut self, now: Time, inst: u32) {
        let r = self.insts[inst as usize].rev as usize;
        self.billing.instance_stopping(now, u64::from(inst));
        let at = Time(now.0 + self.revs[r].shutdown_ns);
        self.q.push(at, Ev::Stopped(inst));
    }

    fn stopped(&mut self, now: Time, inst: u32) {
        let i = &mut self.insts[inst as usize];
        if i.state == InstState::Stopped {
            return;
        }
        i.state = InstState::Stopped;
        let r = i.rev as usize;
        let lifetime = now.0 - i.created.0;
        self.billing.instance_stopped(now, u64::from(inst));
        self.revs[r].router.remove(inst);
        self.revs[r].alive.retain(|&x| x != inst);
        let alive = self.m.t.alive.level() - 1;
        self.m.t.alive.set(now, alive);
        if alive == 0 {
            self.m.t.at_zero.set(now, 1);
            self.m.t.scale_to_zero_events += 1;
        }
        if self.opts.events.is_some() {
            let revision = self.revs[r].name.clone();
            self.log(
                now,
                Event::InstanceStopped {
                    revision,
                    instance: u64::from(inst),
                    lifetime_s: lifetime as f64 / 1e9,
                },
            );
        }
    }

    // ---- autoscaling ----

    fn second(&mut self, now: Time) {
        self.roll_series(now);
        let even = (now.0 / SECOND).is_multiple_of(2);
        for r in 0..self.revs.len() {
            let Rev {
                kind,
                alive,
                rng_scrape,
                ..
            } = &mut self.revs[r];
            let Kind::Kpa {
                decider,
                activator,
                stable,
                ..
            } = kind
            else {
                continue;
            };
            let mut reports = Vec::with_capacity(alive.len());
            for &i in alive.iter() {
                let inst = &mut self.insts[i as usize];
                let stat = inst.meter.report(now);
                if inst.state == InstState::Ready {
                    reports.push(PodReport {
                        ready_since: inst.ready_at,
                        stat,
                    });
                }
            }
            if let Some(stat) = scrape(now, &reports, *stable, rng_scrape) {
                decider.record(now, &stat);
            }
            if let Some(stat) = activator.report(now) {
                decider.record(now, &stat);
            }
            if even {
                self.decide(r, now, false);
            }
        }
        if now < self.hard_end {
            self.q.push(Time(now.0 + SECOND), Ev::Second);
        }
    }

    fn decide(&mut self, r: usize, now: Time, poke: bool) {
        let ready = self.revs[r].ready;
        let Kind::Kpa { decider, .. } = &mut self.revs[r].kind else {
            return;
        };
        let tick = decider.tick(now, ready, true);
        self.m.t.ticks += 1;
        if tick.result.valid {
            let rev = &mut self.revs[r];
            rev.desired = u64::try_from(tick.result.desired.max(0)).unwrap_or(0);
            if tick.result.panic != rev.panic {
                rev.panic = tick.result.panic;
                let now_panicking = self.revs.iter().any(|x| x.panic);
                if tick.result.panic {
                    self.m.t.panic_episodes += 1;
                    self.series.row().panic = true;
                }
                self.m.t.panic.set(now, u64::from(now_panicking));
            }
            if self.opts.events.is_some() {
                let revision = self.revs[r].name.clone();
                self.log(
                    now,
                    Event::ScaleDecision {
                        revision,
                        desired: tick.result.desired,
                        excess_burst_capacity: tick.result.excess_burst_capacity,
                        panic: tick.result.panic,
                        ready,
                        poke,
                    },
                );
            }
        }
        if tick.notify {
            self.reconcile(r, now);
        }
    }

    fn request_reconcile(&mut self, r: usize, now: Time) {
        let rev = &mut self.revs[r];
        if rev.reconcile_at.is_none_or(|t| t > now) {
            rev.reconcile_at = Some(now);
            self.q.push(now, Ev::Reconcile(r as u16));
        }
    }

    fn reconcile(&mut self, r: usize, now: Time) {
        let ready = self.revs[r].ready;
        let Kind::Kpa {
            decider, scaler, ..
        } = &mut self.revs[r].kind
        else {
            return;
        };
        let out = scaler.reconcile(
            now,
            ScalerInput {
                decider: decider.status(),
                ready,
                reachable: true,
            },
        );
        let mode = if out.activator_in_path {
            Mode::Proxy
        } else {
            Mode::Serve
        };
        if self.revs[r].router.mode() != mode {
            self.revs[r].router.set_mode(mode);
            if self.opts.events.is_some() {
                let revision = self.revs[r].name.clone();
                let m = if mode == Mode::Proxy {
                    "proxy"
                } else {
                    "serve"
                };
                self.log(
                    now,
                    Event::ModeChanged {
                        revision,
                        mode: m.into(),
                    },
                );
            }
        }
        if let Some(n) = out.replicas {
            if self.opts.events.is_some() {
                let revision = self.revs[r].name.clone();
                self.log(
                    now,
                    Event::ReplicasChanged {
                        revision,
                        replicas: n,
                    },
                );
            }
            self.scale_to(r, n, now);
        }
        if let Some(t) = out.requeue_at {
            let t = t.max(now);
            let rev = &mut self.revs[r];
            if rev.reconcile_at.is_none_or(|x| t < x) {
                rev.reconcile_at = Some(t);
                self.q.push(t, Ev::Reconcile(r as u16));
            }
        }
    }

    /// Makes the revision's non-draining instances number `n`: new ones cold-start; surplus
    /// ones go starting-newest first, then ready-newest first (Kubernetes prefers to delete
    /// pods that are not ready, then the most recently ready).
    fn scale_to(&mut self, r: usize, n: u32, now: Time) {
        let current = self.revs[r].starting + self.revs[r].ready;
        if n > current {
            for _ in 0..(n - current) {
                self.create_instance(r, now, None, false);
            }
        } else if n < current {
            let mut k = current - n;
            let alive = self.revs[r].alive.clone();
            for want in [InstState::Starting, InstState::Ready] {
                let mut cands: Vec<u32> = alive
                    .iter()
                    .copied()
                    .filter(|&i| self.insts[i as usize].state == want)
                    .collect();
                if want == InstState::Ready {
                    cands.sort_by_key(|&i| (self.insts[i as usize].ready_at, i));
                }
                while k > 0 {
                    let Some(i) = cands.pop() else { break };
                    self.drain(now, i);
                    k -= 1;
                }
            }
        }
    }

    fn schedule_expire(&mut self, r: usize) {
        if let Kind::Keepalive {
            pool, expire_at, ..
        } = &mut self.revs[r].kind
            && let Some(t) = pool.next_deadline()
            && expire_at.is_none_or(|x| t < x)
        {
            *expire_at = Some(t);
            self.q.push(t, Ev::Expire(r as u16));
        }
    }

    fn expire(&mut self, now: Time, r: usize) {
        let ids = match &mut self.revs[r].kind {
            Kind::Keepalive {
                pool, expire_at, ..
            } => {
                if expire_at.is_some_and(|t| t <= now) {
                    *expire_at = None;
                }
                pool.expire(now)
            }
            Kind::Kpa { .. } => return,
        };
        for id in ids {
            let inst = self.ka_inst(r, id);
            let i = &mut self.insts[inst as usize];
            debug_assert_eq!(i.busy, 0, "expired a busy instance");
            i.state = InstState::Draining;
            self.revs[r].ready -= 1;
            self.m.t.idle_ready.add(now, -1);
            self.shut_down(now, inst);
        }
        self.schedule_expire(r);
    }

    fn roll_series(&mut self, now: Time) {
        while self.series.due(now) {
            let l = self.levels();
            self.series.close(l);
        }
    }
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
