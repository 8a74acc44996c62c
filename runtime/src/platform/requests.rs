//! The request path in the platform: admission (the revision router or the keepalive pool),
//! the start of queued requests, completion, timeouts, and the activator's and instances'
//! concurrency meters, as in the simulator's driver.

use hyper::StatusCode;
use scalelab_core::Time;
use scalelab_core::autoscaler::KeepaliveId;
use scalelab_core::router::{Reject, ReqId, Route};
use tokio::sync::oneshot;

use super::{Admit, Ctx, InstState, Kind, Outcome, Req, ReqState, Running, is_queued};

impl Ctx<'_> {
    pub(super) fn alloc(&mut self, arrival: Time, deadline: Time, service_ns: u64) -> u32 {
        let req = Req {
            arrival,
            deadline,
            service_ns,
            started: arrival,
            generation: 0,
            state: ReqState::Free,
            proxied: false,
            at_proxy: false,
            cold: false,
            waker: None,
        };
        let rev = &mut *self.rev;
        match rev.free.pop() {
            Some(s) => {
                let generation = rev.reqs[s as usize].generation;
                rev.reqs[s as usize] = Req { generation, ..req };
                s
            }
            None => {
                rev.reqs.push(req);
                (rev.reqs.len() - 1) as u32
            }
        }
    }

    pub(super) fn release(&mut self, slot: u32) {
        let now = self.now;
        let r = &mut self.rev.reqs[slot as usize];
        r.state = ReqState::Free;
        r.waker = None;
        r.generation = r.generation.wrapping_add(1);
        self.rev.free.push(slot);
        self.rev.in_system -= 1;
        self.g.m.t.in_system.add(now, -1);
    }

    pub(super) fn token(&self, slot: u32) -> ReqId {
        (u64::from(self.rev.reqs[slot as usize].generation) << 32) | u64::from(slot)
    }

    pub(super) fn latency_ns(&self, slot: u32) -> u64 {
        self.now
            .0
            .saturating_sub(self.rev.reqs[slot as usize].arrival.0)
    }

    /// A request arrives for this revision.
    pub fn arrive(&mut self) -> Admit {
        let now = self.now;
        let service_ns = {
            let rev = &mut *self.rev;
            rev.service.sample_nanos(&mut rev.rng_service)
        };
        let deadline = now + self.rev.timeout;
        let slot = self.alloc(now, deadline, service_ns);
        self.g.m.t.arrived += 1;
        self.g.m.t.in_system.add(now, 1);
        self.rev.in_system += 1;
        self.g.series.row().arrivals += 1;
        self.g.billing.request_arrived(now, self.r);
        match &mut self.rev.kind {
            Kind::Kpa { .. } => self.arrive_kpa(slot),
            Kind::Keepalive { pool, .. } => match pool.on_request(now) {
                scalelab_core::autoscaler::Route::Warm(id) => {
                    let inst = self.ka_inst(id);
                    self.begin(slot, inst);
                    self.admitted(slot)
                }
                scalelab_core::autoscaler::Route::ColdStart(id) => {
                    let inst = self.create_instance(Some(id), false);
                    self.rev.insts[inst as usize].pending = Some(slot);
                    self.rev.waiting_cold += 1;
                    let req = &mut self.rev.reqs[slot as usize];
                    req.state = ReqState::WaitingColdStart(inst);
                    req.cold = true;
                    self.admitted(slot)
                }
                scalelab_core::autoscaler::Route::Reject => {
                    self.reject(slot, StatusCode::TOO_MANY_REQUESTS);
                    Admit::Reject {
                        status: StatusCode::TOO_MANY_REQUESTS,
                        reason: "max-instances",
                        arrival: now,
                    }
                }
            },
        }
    }

    pub(super) fn ka_inst(&self, id: KeepaliveId) -> u32 {
        match &self.rev.kind {
            Kind::Keepalive { by_ka, .. } => by_ka.get(&id.0).copied().unwrap_or(u32::MAX),
            Kind::Kpa { .. } => u32::MAX,
        }
    }

    pub(super) fn arrive_kpa(&mut self, slot: u32) -> Admit {
        let now = self.now;
        let proxied = self.rev.activator_in_path();
        self.rev.reqs[slot as usize].proxied = proxied;
        if proxied {
            let poke = match &mut self.rev.kind {
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
                self.decide(true, now);
            }
        }
        let token = self.token(slot);
        let rev = &mut *self.rev;
        match rev.router.route(now, token, &mut rev.rng_route) {
            Route::Start(i) => {
                self.begin(slot, i);
            }
            Route::QueuedActivator => {
                self.rev.reqs[slot as usize].state = ReqState::QueuedActivator;
            }
            Route::QueuedProxy(i) => {
                let req = &mut self.rev.reqs[slot as usize];
                req.state = ReqState::QueuedProxy(i);
                req.at_proxy = true;
                let p = req.proxied;
                self.rev.insts[i as usize].meter.on_arrival(now, p);
            }
            Route::Rejected(why) => {
                self.reject(slot, StatusCode::SERVICE_UNAVAILABLE);
                let reason = match why {
                    Reject::ActivatorQueueFull => "activator-queue-full",
                    Reject::ProxyQueueFull => "pending-request-queue-full",
                };
                return Admit::Reject {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    reason,
                    arrival: now,
                };
            }
        }
        self.admitted(slot)
    }

    /// After routing: runs now, or waits with a oneshot.
    pub(super) fn admitted(&mut self, slot: u32) -> Admit {
        if let Some(run) = self.running_slot(slot) {
            return Admit::Run(run);
        }
        let (tx, rx) = oneshot::channel();
        let req = &mut self.rev.reqs[slot as usize];
        req.waker = Some(tx);
        Admit::Wait {
            slot,
            generation: req.generation,
            deadline: req.deadline,
            arrival: req.arrival,
            rx,
        }
    }

    pub(super) fn running_slot(&self, slot: u32) -> Option<Running> {
        let req = &self.rev.reqs[slot as usize];
        let ReqState::Running(inst) = req.state else {
            return None;
        };
        let i = &self.rev.insts[inst as usize];
        Some(Running {
            slot,
            generation: req.generation,
            gid: i.gid,
            addr: if i.lost { None } else { i.addr },
            service_ns: req.service_ns,
            deadline: req.deadline,
            cold: req.cold,
            proxied: req.proxied,
            arrival: req.arrival,
        })
    }

    /// The request `(slot, generation)` if it is executing.
    pub fn running(&self, slot: u32, generation: u32) -> Option<Running> {
        let req = self.rev.reqs.get(slot as usize)?;
        if req.generation != generation {
            return None;
        }
        self.running_slot(slot)
    }

    pub(super) fn reject(&mut self, slot: u32, status: StatusCode) {
        let now = self.now;
        if self.rev.reqs[slot as usize].proxied
            && let Kind::Kpa { activator, .. } = &mut self.rev.kind
        {
            activator.on_departure(now);
        }
        self.g.m.t.rejected += 1;
        self.g.series.row().errors += 1;
        self.rev.counters.record(status, 0);
        self.release(slot);
    }

    /// The request starts executing on `inst`.
    pub(super) fn begin(&mut self, slot: u32, inst: u32) {
        let now = self.now;
        let rev = &mut *self.rev;
        let req = &mut rev.reqs[slot as usize];
        let i = &mut rev.insts[inst as usize];
        if !req.at_proxy {
            i.meter.on_arrival(now, req.proxied);
        }
        req.state = ReqState::Running(inst);
        req.started = now;
        if i.ready_at > req.arrival {
            req.cold = true;
        }
        i.busy += 1;
        if i.busy == 1 {
            self.g.m.t.busy_instances.add(now, 1);
            if i.state == InstState::Ready {
                self.g.m.t.idle_ready.add(now, -1);
            }
        }
        if req.cold
            && let Some(cs) = &rev.cold_service
        {
            // SimFaaS convention: the cold request's whole time replaces start + service.
            let total = cs.sample_nanos(&mut rev.rng_cold);
            req.service_ns = total.saturating_sub(now.0 - req.arrival.0);
        }
        let gid = i.gid;
        let waker = req.waker.take();
        self.g.billing.request_started(now, gid);
        if let Some(tx) = waker
            && tx.send(()).is_err()
        {
            // The waiting task is gone (it can only have panicked): free the slot.
            let generation = self.rev.reqs[slot as usize].generation;
            self.finish(slot, generation, Outcome::Failed);
        }
    }

    /// A request that was executing ends with `outcome`.
    pub fn finish(&mut self, slot: u32, generation: u32, outcome: Outcome) {
        let now = self.now;
        let Some(req) = self.rev.reqs.get(slot as usize) else {
            return;
        };
        if req.generation != generation {
            return;
        }
        let ReqState::Running(inst) = req.state else {
            return;
        };
        let (proxied, cold) = (req.proxied, req.cold);
        let held = now.0.saturating_sub(req.started.0);
        let excess = held.saturating_sub(req.service_ns);
        let latency = self.latency_ns(slot);
        let status = match outcome {
            Outcome::Answered(s) => {
                let m = &mut self.g.m;
                m.slot_excess_ns += u128::from(excess);
                m.slot_excess_count += 1;
                m.t.completed += 1;
                m.t.latency.record_nanos(latency);
                if cold {
                    m.t.delayed += 1;
                    m.t.latency_cold.record_nanos(latency);
                } else {
                    m.t.latency_warm.record_nanos(latency);
                }
                self.g.series.row().completions += 1;
                self.g.series.latency(latency);
                s
            }
            Outcome::TimedOut => {
                self.g.m.t.timed_out += 1;
                self.g.series.row().errors += 1;
                StatusCode::GATEWAY_TIMEOUT
            }
            Outcome::Failed => {
                self.g.m.t.rejected += 1;
                self.g.m.failed += 1;
                self.g.series.row().errors += 1;
                StatusCode::BAD_GATEWAY
            }
        };
        self.rev.counters.record(status, latency);
        let gid = self.rev.insts[inst as usize].gid;
        self.rev.insts[inst as usize]
            .meter
            .on_departure(now, proxied);
        if proxied && let Kind::Kpa { activator, .. } = &mut self.rev.kind {
            activator.on_departure(now);
        }
        self.g.billing.request_finished(now, gid);
        self.release(slot);
        self.end_work(inst);
        match &mut self.rev.kind {
            Kind::Kpa { .. } => {
                let rev = &mut *self.rev;
                if rev.insts[inst as usize].state == InstState::Stopped {
                    // Stopped with work left after the shutdown drain: the router forgot it.
                    return;
                }
                let reqs = &rev.reqs;
                let mut live = |t: ReqId| is_queued(reqs, t);
                let next = rev.router.complete(now, inst, &mut live);
                if let Some(s) = next {
                    self.begin((s.req & 0xffff_ffff) as u32, s.instance);
                }
                if self.rev.insts[inst as usize].state == InstState::Draining
                    && self.rev.router.is_idle(inst)
                {
                    self.shut_down(inst);
                }
            }
            Kind::Keepalive { .. } => {
                let rev = &mut *self.rev;
                let i = &rev.insts[inst as usize];
                if let (Some(id), false, Kind::Keepalive { pool, .. }) =
                    (i.ka, i.lost, &mut rev.kind)
                {
                    pool.on_done(now, id);
                    self.schedule_expire();
                } else if i.state == InstState::Draining && i.busy == 0 {
                    self.shut_down(inst);
                }
            }
        }
    }

    pub(super) fn end_work(&mut self, inst: u32) {
        let now = self.now;
        let i = &mut self.rev.insts[inst as usize];
        i.busy = i.busy.saturating_sub(1);
        if i.busy == 0 {
            self.g.m.t.busy_instances.add(now, -1);
            if i.state == InstState::Ready {
                self.g.m.t.idle_ready.add(now, 1);
            }
        }
    }

    /// A waiting request's deadline passed. Returns false when it is no longer waiting (it
    /// started meanwhile: the caller runs it, and it times out there).
    pub fn give_up(&mut self, slot: u32, generation: u32) -> bool {
        let now = self.now;
        let Some(req) = self.rev.reqs.get(slot as usize) else {
            return false;
        };
        if req.generation != generation {
            return false;
        }
        let proxied = req.proxied;
        match req.state {
            ReqState::QueuedActivator => self.rev.router.cancel_queued(None),
            ReqState::QueuedProxy(i) => {
                self.rev.router.cancel_queued(Some(i));
                self.rev.insts[i as usize].meter.on_departure(now, proxied);
            }
            ReqState::WaitingColdStart(i) => {
                self.rev.insts[i as usize].pending = None;
                self.rev.waiting_cold -= 1;
            }
            ReqState::Running(_) | ReqState::Free => return false,
        }
        if proxied && let Kind::Kpa { activator, .. } = &mut self.rev.kind {
            activator.on_departure(now);
        }
        let latency = self.latency_ns(slot);
        self.rev
            .counters
            .record(StatusCode::GATEWAY_TIMEOUT, latency);
        self.g.m.t.timed_out += 1;
        self.g.series.row().errors += 1;
        self.release(slot);
        true
    }
}
