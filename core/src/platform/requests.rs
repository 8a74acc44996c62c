//! The request path: arrival (traffic split, then the revision router or the keepalive pool),
//! the start of a request on an instance, its completion, and a waiting request's timeout.

use crate::autoscaler::Route as PoolRoute;
use crate::ids::{InstId, ReqId, RevId};
use crate::router::{Mode, Reject, Route};
use crate::time::Time;

use super::{Effect, InstState, Kind, Outcome, Platform, Reply, Req, ReqState, Serve};

impl Platform {
    /// A request arrives at `now`, for revision `rev` (a tagged URL) or, with `None`, for the
    /// revision the traffic split picks. Returns its id and revision; the effects say whether
    /// it runs ([`Effect::Serve`]), waits ([`Effect::Wait`]) or is turned away
    /// ([`Effect::Reply`]).
    #[inline]
    pub fn on_arrival(&mut self, now: Time, rev: Option<RevId>) -> (ReqId, RevId) {
        self.on_arrival_timed(now, rev, None)
    }

    /// [`on_arrival`](Self::on_arrival) of a request whose service time is given (a recorded
    /// invocation of a trace) instead of sampled; `None` samples it as usual.
    pub fn on_arrival_timed(
        &mut self,
        now: Time,
        rev: Option<RevId>,
        service: Option<u64>,
    ) -> (ReqId, RevId) {
        self.roll_series(now);
        let r = match rev {
            Some(r) => r,
            None => RevId(self.split.pick(&mut self.rng_split) as u16),
        };
        let unknown = !self.deploy[r.index()].exists;
        let rv = &mut self.revs[r.index()];
        let service_ns = match service {
            None => rv.service.sample_nanos(&mut rv.rng_service),
            Some(ns) => ns,
        };
        let deadline = Time(now.0.saturating_add(rv.timeout_ns));
        rv.in_system += 1;
        rv.counters.arrived += 1;
        rv.rt.bucket_arrivals += 1;
        let req = self.alloc(Req {
            arrival: now,
            deadline,
            service_ns,
            started: now,
            rev: r,
            generation: 0,
            state: ReqState::Free,
            proxied: false,
            at_proxy: false,
            cold: false,
            in_cpu: false,
            at_max: false,
        });
        self.t.arrived += 1;
        self.t.in_system.add(now, 1);
        self.series.row().arrivals += 1;
        self.billing.request_arrived(now, r.index());
        if self.closing || unknown {
            let reply = if unknown {
                Reply::UnknownRevision
            } else {
                Reply::ShuttingDown
            };
            self.answer(now, req, reply);
            return (req, r);
        }
        if self.revs[r.index()].failed {
            self.answer(now, req, Reply::RevisionFailed);
            return (req, r);
        }
        match &mut self.revs[r.index()].kind {
            Kind::Kpa { .. } | Kind::CloudRun { .. } | Kind::Hpa { .. } => {
                self.arrive_routed(now, r, req)
            }
            Kind::Keepalive { pool, .. } => match pool.on_request(now) {
                PoolRoute::Warm(id) => {
                    let inst = self.ka_inst(r, id);
                    self.begin(now, req, inst);
                }
                PoolRoute::ColdStart(id) => {
                    let inst = self.create_instance(now, r, Some(id), false);
                    self.insts[inst.index()].pending = Some(req);
                    self.revs[r.index()].waiting_cold += 1;
                    let q = &mut self.reqs[req.index()];
                    q.state = ReqState::WaitingColdStart(inst);
                    q.cold = true;
                    self.out.push(Effect::Wait { req, deadline });
                }
                PoolRoute::Reject => self.answer(now, req, Reply::MaxInstances),
            },
        }
        (req, r)
    }

    /// A request for a revision behind the router (KPA, Cloud Run, HPA).
    fn arrive_routed(&mut self, now: Time, r: RevId, req: ReqId) {
        let proxied = {
            let rev = &self.revs[r.index()];
            rev.router.mode() == Mode::Proxy || rev.router.routable() == 0
        };
        self.reqs[req.index()].proxied = proxied;
        if proxied {
            let first = self.cfg.poke_before_first_decision;
            let rev = &mut self.revs[r.index()];
            let at_zero = rev.alive.is_empty();
            let poke = match &mut rev.kind {
                Kind::Kpa {
                    decider, activator, ..
                } => match activator.on_arrival(now) {
                    Some(stat) => {
                        decider.record(now, &stat);
                        decider.wants_poke(&stat)
                            || (first
                                && at_zero
                                && decider.status().desired_scale < 0
                                && stat.avg_concurrency != 0.0)
                    }
                    None => false,
                },
                Kind::Keepalive { .. } | Kind::CloudRun { .. } | Kind::Hpa { .. } => false,
            };
            if poke {
                self.decide(now, r, now, true);
            }
        }
        let rev = &mut self.revs[r.index()];
        match rev.router.route(now, req, &mut rev.rng_route) {
            Route::Start(i) => self.begin(now, req, i),
            Route::QueuedActivator => {
                let q = &mut self.reqs[req.index()];
                q.state = ReqState::QueuedActivator;
                let mut deadline = q.deadline;
                let cloud_run = matches!(self.revs[r.index()].kind, Kind::CloudRun { .. });
                if cloud_run {
                    deadline = self.cloud_run_deadline(now, r, req, deadline);
                }
                self.out.push(Effect::Wait { req, deadline });
                if cloud_run {
                    self.cloud_run_queued(now, r);
                }
            }
            Route::QueuedProxy(i) => {
                let q = &mut self.reqs[req.index()];
                q.state = ReqState::QueuedProxy(i);
                q.at_proxy = true;
                let (deadline, p) = (q.deadline, q.proxied);
                self.insts[i.index()].meter.on_arrival(now, p);
                self.out.push(Effect::Wait { req, deadline });
            }
            Route::Rejected(why) => {
                let reply = match why {
                    Reject::ActivatorQueueFull => Reply::ActivatorQueueFull,
                    Reject::ProxyQueueFull => Reply::ProxyQueueFull,
                };
                self.answer(now, req, reply);
            }
        }
    }

    /// The instance serving keepalive id `id` of revision `r`.
    pub(super) fn ka_inst(&self, r: RevId, id: crate::autoscaler::KeepaliveId) -> InstId {
        match &self.revs[r.index()].kind {
            Kind::Keepalive { by_ka, .. } => by_ka[id.0 as usize],
            _ => unreachable!("keepalive id on a revision without a keepalive pool"),
        }
    }

    /// The platform answers `req` itself (it never ran, or its instance died before it
    /// started): counted by the reply's kind, then released.
    #[inline]
    pub(super) fn answer(&mut self, now: Time, req: ReqId, reply: Reply) {
        let q = &self.reqs[req.index()];
        if q.proxied
            && let Kind::Kpa { activator, .. } = &mut self.revs[q.rev.index()].kind
        {
            activator.on_departure(now);
        }
        let timed_out = match reply {
            Reply::Timeout => {
                self.t.timed_out += 1;
                true
            }
            Reply::InstanceFailed => {
                self.t.rejected += 1;
                self.stats.failed += 1;
                false
            }
            Reply::ClientClosed => {
                self.t.rejected += 1;
                self.stats.client_closed += 1;
                false
            }
            Reply::MaxInstances
            | Reply::ActivatorQueueFull
            | Reply::ProxyQueueFull
            | Reply::ShuttingDown
            | Reply::UnknownRevision
            | Reply::RevisionFailed => {
                self.t.rejected += 1;
                false
            }
        };
        if self.multi {
            let rt = &mut self.revs[q.rev.index()].rt;
            if timed_out {
                rt.timed_out += 1;
            } else {
                rt.rejected += 1;
            }
        }
        self.series.row().errors += 1;
        self.out.push(Effect::Reply { req, reply });
        self.release(now, req);
    }

    /// The request starts executing on `inst`.
    #[inline]
    pub(super) fn begin(&mut self, now: Time, req: ReqId, inst: InstId) {
        let state = self.insts[inst.index()].state;
        if self.cfg.check && state != InstState::Ready && state != InstState::Draining {
            self.violation(
                now,
                format!("request started on instance {inst} in state {state:?}"),
            );
        }
        let q = &mut self.reqs[req.index()];
        let i = &mut self.insts[inst.index()];
        if !q.at_proxy {
            i.meter.on_arrival(now, q.proxied);
        }
        q.state = ReqState::Running(inst);
        q.started = now;
        self.stats.begun += 1;
        if now > q.arrival {
            self.stats.waited += 1;
            self.stats.wait_ns_total += u128::from(now.0 - q.arrival.0);
        }
        if i.ready_at > q.arrival {
            q.cold = true;
        }
        i.busy += 1;
        if i.busy == 1 {
            self.t.busy_instances.add(now, 1);
            if i.state == InstState::Ready {
                self.t.idle_ready.add(now, -1);
                if self.multi {
                    self.revs[i.rev.index()].rt.idle_ready.add(now, -1);
                }
            }
        }
        if q.cold {
            let rev = &mut self.revs[q.rev.index()];
            if let Some(cs) = &rev.cold_service {
                // SimFaaS convention: the cold request's whole time replaces start + service.
                let total = cs.sample_nanos(&mut rev.rng_cold);
                q.service_ns = total.saturating_sub(now.0 - q.arrival.0);
            }
        }
        if self.cpu_model && i.cpu.is_some() && q.service_ns > 0 {
            // The performance model decides when it ends.
            self.billing.request_started(now, inst.number());
            self.begin_cpu(now, req, inst);
            return;
        }
        // The hop to the instance and back holds the slot too (modelled in the simulator).
        let hold = q.service_ns.saturating_add(self.slot_overhead_ns);
        let mut ends_at = Time(now.0.saturating_add(hold));
        let times_out = ends_at > q.deadline;
        if times_out {
            ends_at = q.deadline.max(now);
        }
        let serve = Serve {
            req,
            inst,
            ends_at,
            times_out,
        };
        self.billing.request_started(now, inst.number());
        self.out.push(Effect::Serve(serve));
    }

    /// A request that was executing ends with `outcome`. Ignored if `req` is not executing
    /// (it ended already).
    pub fn on_request_done(&mut self, now: Time, req: ReqId, outcome: Outcome) {
        let Some(q) = self.live_req(req).copied() else {
            return;
        };
        let ReqState::Running(inst) = q.state else {
            return;
        };
        self.roll_series(now);
        let latency = now.0.saturating_sub(q.arrival.0) + self.latency_overhead_ns;
        if self.multi {
            self.revision_done(q.rev, outcome, q.cold, latency);
        }
        match outcome {
            Outcome::Answered => {
                let held = now.0.saturating_sub(q.started.0);
                self.stats.slot_excess_ns += u128::from(held.saturating_sub(q.service_ns));
                self.stats.slot_excess_count += 1;
                self.t.completed += 1;
                self.stats.latency_sum_ns += u128::from(latency);
                if q.cold {
                    self.t.delayed += 1;
                    self.t.latency_cold.record_nanos(latency);
                } else {
                    self.t.latency_warm.record_nanos(latency);
                }
                self.series.row().completions += 1;
                self.series.latency(latency);
            }
            Outcome::TimedOut => {
                self.t.timed_out += 1;
                self.series.row().errors += 1;
            }
            Outcome::Failed => {
                self.t.rejected += 1;
                self.stats.failed += 1;
                self.series.row().errors += 1;
            }
            Outcome::ClientClosed => {
                self.t.rejected += 1;
                self.stats.client_closed += 1;
                self.series.row().errors += 1;
            }
        }
        let r = q.rev;
        if q.in_cpu {
            // It leaves before its CPU work is done (timed out live, or failed).
            self.leave_cpu(now, req, inst);
        }
        self.insts[inst.index()].meter.on_departure(now, q.proxied);
        if q.proxied
            && let Kind::Kpa { activator, .. } = &mut self.revs[r.index()].kind
        {
            activator.on_departure(now);
        }
        self.billing.request_finished(now, inst.number());
        self.release(now, req);
        self.end_work(now, inst);
        let i = &self.insts[inst.index()];
        match &mut self.revs[r.index()].kind {
            Kind::Kpa { .. } | Kind::CloudRun { .. } | Kind::Hpa { .. } => {
                if i.state == InstState::Stopped {
                    // Stopped with work left after the shutdown drain: the router forgot it.
                    return;
                }
                let (revs, reqs) = (&mut self.revs, &self.reqs);
                let mut live = |t: ReqId| is_queued(reqs, t);
                let next = revs[r.index()].router.complete(now, inst, &mut live);
                if let Some(s) = next {
                    self.begin(now, s.req, s.instance);
                }
                if self.insts[inst.index()].state == InstState::Draining
                    && self.revs[r.index()].router.is_idle(inst)
                {
                    self.shut_down(now, inst);
                } else if self.cloud_run
                    && self.insts[inst.index()].parked
                    && self.insts[inst.index()].busy == 0
                {
                    self.schedule_retention(r);
                }
            }
            Kind::Keepalive { pool, .. } => match (i.ka, i.lost) {
                (Some(id), false) => {
                    pool.on_done(now, id);
                    self.schedule_expire(r);
                }
                _ => {
                    if i.state == InstState::Draining && i.busy == 0 {
                        self.shut_down(now, inst);
                    }
                }
            },
        }
    }

    /// A waiting request's deadline passed. Returns false when it is no longer waiting (it
    /// started meanwhile, or ended): then nothing changes.
    pub fn on_timeout(&mut self, now: Time, req: ReqId) -> bool {
        self.on_wait_deadline(now, req).is_some()
    }

    /// A waiting request's deadline ([`Effect::Wait`]) passed: the platform's answer to it
    /// (504, or 429 for a request that pended at a Cloud Run revision's maximum), or None
    /// when it is no longer waiting (it started meanwhile, or ended): then nothing changes.
    pub fn on_wait_deadline(&mut self, now: Time, req: ReqId) -> Option<Reply> {
        self.give_up(now, req, Reply::Timeout)
    }

    /// The client of a waiting request went away (its connection closed): it leaves its queue
    /// and is counted as rejected ([`Reply::ClientClosed`]). Returns false when it is no longer
    /// waiting: then nothing changes (a request that runs ends with
    /// [`Outcome::ClientClosed`] instead).
    pub fn on_client_closed(&mut self, now: Time, req: ReqId) -> bool {
        self.give_up(now, req, Reply::ClientClosed).is_some()
    }

    /// A waiting request leaves its queue, answered `reply` (a timeout of a request that pended
    /// at a Cloud Run revision's maximum is answered 429 instead); None when it is not waiting.
    pub(super) fn give_up(&mut self, now: Time, req: ReqId, reply: Reply) -> Option<Reply> {
        let q = self.live_req(req).copied()?;
        let r = q.rev;
        match q.state {
            ReqState::QueuedActivator => self.revs[r.index()].router.cancel_queued(None),
            ReqState::QueuedProxy(i) => {
                self.revs[r.index()].router.cancel_queued(Some(i));
                self.insts[i.index()].meter.on_departure(now, q.proxied);
            }
            ReqState::WaitingColdStart(i) => {
                self.insts[i.index()].pending = None;
                self.revs[r.index()].waiting_cold -= 1;
            }
            ReqState::Running(_) | ReqState::Free => return None,
        }
        self.roll_series(now);
        let reply = if matches!(reply, Reply::Timeout) && q.at_max && now < q.deadline {
            Reply::MaxInstances
        } else {
            reply
        };
        self.answer(now, req, reply);
        Some(reply)
    }

    /// Every request of revision `r` still waiting (activator, queue-proxies, cold starts),
    /// oldest slot first.
    pub(super) fn waiting_of(&self, r: RevId) -> Vec<ReqId> {
        self.reqs
            .iter()
            .enumerate()
            .filter(|(_, q)| {
                q.rev == r
                    && matches!(
                        q.state,
                        ReqState::QueuedActivator
                            | ReqState::QueuedProxy(_)
                            | ReqState::WaitingColdStart(_)
                    )
            })
            .map(|(i, q)| ReqId::new(i as u32, q.generation))
            .collect()
    }

    /// Bookkeeping when a request stops executing on `inst`.
    #[inline]
    fn end_work(&mut self, now: Time, inst: InstId) {
        let i = &mut self.insts[inst.index()];
        debug_assert!(i.busy > 0, "request ended on idle instance {inst}");
        i.busy -= 1;
        if i.busy == 0 {
            if self.cloud_run {
                // Cloud Run's idle retention counts from here.
                i.idle_since = now;
            }
            self.t.busy_instances.add(now, -1);
            if i.state == InstState::Ready {
                let r = i.rev;
                self.idle_ready_add(now, r, 1);
            }
        }
    }

    /// A request of revision `r` that ran ended: its revision's own counts.
    #[inline(never)]
    fn revision_done(&mut self, r: RevId, outcome: Outcome, cold: bool, latency: u64) {
        let rt = &mut self.revs[r.index()].rt;
        match outcome {
            Outcome::Answered => {
                rt.completed += 1;
                if cold {
                    rt.delayed += 1;
                }
                rt.latency
                    .get_or_insert_with(|| Box::new(crate::measure::LatencyHist::new()))
                    .record_nanos(latency);
            }
            Outcome::TimedOut => rt.timed_out += 1,
            Outcome::Failed | Outcome::ClientClosed => rt.rejected += 1,
        }
    }

    // ---- the request arena ----

    #[inline]
    fn alloc(&mut self, req: Req) -> ReqId {
        match self.free.pop() {
            Some(s) => {
                let generation = self.reqs[s as usize].generation;
                self.reqs[s as usize] = Req { generation, ..req };
                ReqId::new(s, generation)
            }
            None => {
                self.reqs.push(req);
                ReqId::new((self.reqs.len() - 1) as u32, 0)
            }
        }
    }

    /// The request `req` names, if it is still in the system.
    #[inline]
    pub(super) fn live_req(&self, req: ReqId) -> Option<&Req> {
        self.reqs
            .get(req.index())
            .filter(|q| q.generation == req.generation() && q.state != ReqState::Free)
    }

    /// The request is answered: its slot is free for the next one.
    #[inline]
    pub(super) fn release(&mut self, now: Time, req: ReqId) {
        let q = &mut self.reqs[req.index()];
        let r = q.rev;
        q.state = ReqState::Free;
        q.generation = q.generation.wrapping_add(1);
        self.free.push(req.slot());
        self.revs[r.index()].in_system -= 1;
        self.t.in_system.add(now, -1);
    }
}

/// True while `token` is a request waiting in a queue (the router drops the others lazily).
pub(super) fn is_queued(reqs: &[Req], token: ReqId) -> bool {
    reqs.get(token.index()).is_some_and(|r| {
        r.generation == token.generation()
            && matches!(
                r.state,
                ReqState::QueuedActivator | ReqState::QueuedProxy(_)
            )
    })
}
