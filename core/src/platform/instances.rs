//! Instances' lifecycle: creation (with the sampled start-up time), readiness, draining,
//! stopping, and the loss of a process that died on its own.

use std::time::Duration;

use crate::autoscaler::KeepaliveId;
use crate::autoscaler::keepalive::LostState;
use crate::event::Event;
use crate::ids::{InstId, ReqId, RevId};
use crate::time::Time;

use super::requests::is_queued;
use super::{ConcurrencyMeter, Effect, Inst, InstState, Kind, Platform, Reply};

impl Platform {
    pub(super) fn create_instance(
        &mut self,
        now: Time,
        r: RevId,
        ka: Option<KeepaliveId>,
        warm: bool,
    ) -> InstId {
        let id = InstId(self.insts.len() as u32);
        let rev = &mut self.revs[r.index()];
        let mut cold_ns = if warm || !self.cfg.sample_cold_starts {
            0
        } else {
            rev.cold.sample_nanos(&mut rev.rng_cold)
        };
        if rev.boost && rev.cold_start_cpu_share > 0.0 && cold_ns > 0 {
            // The CPU part of start-up uses every vCPU; the boost multiplies them.
            let share = rev.cold_start_cpu_share;
            let speedup = crate::billing::boosted_vcpu(rev.vcpu) / rev.vcpu;
            let c = cold_ns as f64;
            cold_ns = (c * (1.0 - share) + c * share / speedup).round() as u64;
        }
        // A crash-looping command is restarted with an exponential back-off (Kubernetes'
        // CrashLoopBackOff): 100 ms, 200 ms, … up to 10 s, reset when an instance gets ready.
        let backoff = match rev.crash_streak {
            0 => Duration::ZERO,
            n => Duration::from_millis(100u64 << (n - 1).min(7)).min(Duration::from_secs(10)),
        };
        self.insts.push(Inst {
            rev: r,
            backoff,
            state: InstState::Starting,
            created: now,
            ready_at: Time::MAX,
            meter: ConcurrencyMeter::new(now),
            busy: 0,
            ka,
            pending: None,
            stopping: false,
            lost: false,
            by_shutdown: false,
            vcpu: rev.vcpu,
            cpu: (rev.cpu_share > 0.0 && !self.cfg.measured_cpu)
                .then(|| Box::new(super::cpu::Cpu::new(now, rev.vcpu, rev.cpu_share))),
            cpu_ns: 0.0,
            cpu_second_mark: 0.0,
            cpu_second_delta: 0.0,
            cpu_sync_mark: (0.0, now),
            cpu_seen: false,
            idle_since: now,
            parked: false,
        });
        self.vcpu_alive.add(now, micro_vcpu(rev.vcpu));
        rev.alive.push(id);
        rev.starting += 1;
        if let (Some(k), Kind::Keepalive { by_ka, .. }) = (ka, &mut rev.kind) {
            let k = k.0 as usize;
            if by_ka.len() <= k {
                by_ka.resize(k + 1, InstId(u32::MAX));
            }
            by_ka[k] = id;
        }
        if !warm {
            rev.counters.cold_starts += 1;
            self.t.cold_starts += 1;
            self.series.row().cold_starts += 1;
        }
        let alive = self.t.alive.level() + 1;
        self.t.alive.set(now, alive);
        if alive == 1 {
            self.t.at_zero.set(now, 0);
        }
        self.t.peak = self.t.peak.max(alive);
        if self.multi {
            let rt = &mut self.revs[r.index()].rt;
            let n = rt.alive.level() + 1;
            rt.alive.set(now, n);
            if n == 1 {
                rt.at_zero.set(now, 0);
            }
            rt.peak = rt.peak.max(n);
        }
        self.track_overlap(now);
        self.billing.instance_starting(now, r.index(), id.number());
        self.out.push(Effect::StartInstance {
            inst: id,
            rev: r,
            cold: Duration::from_nanos(cold_ns),
        });
        self.log(|p| Event::ColdStartBegan {
            revision: p.revs[r.index()].name.clone(),
            instance: id.number(),
            cold_start_s: cold_ns as f64 / 1e9,
        });
        id
    }

    /// Instance `inst` finished starting: queued requests start on it. Ignored unless it is
    /// starting (it was cancelled meanwhile, or lost).
    pub fn on_instance_ready(&mut self, now: Time, inst: InstId) {
        let Some(i) = self.insts.get_mut(inst.index()) else {
            return;
        };
        if i.state != InstState::Starting {
            return;
        }
        i.state = InstState::Ready;
        i.ready_at = now;
        i.idle_since = now;
        let r = i.rev;
        let startup = now.0.saturating_sub(i.created.0);
        let rev = &mut self.revs[r.index()];
        rev.starting -= 1;
        rev.ready += 1;
        rev.crash_streak = 0;
        rev.startups.0 += u128::from(startup);
        rev.startups.1 += 1;
        self.idle_ready_add(now, r, 1);
        self.count_ready(now, r);
        self.billing.instance_ready(now, inst.number());
        self.log(|p| Event::InstanceReady {
            revision: p.revs[r.index()].name.clone(),
            instance: inst.number(),
        });
        match &mut self.revs[r.index()].kind {
            Kind::Kpa { .. } | Kind::CloudRun { .. } | Kind::Hpa { .. } => {
                let (revs, reqs) = (&mut self.revs, &self.reqs);
                let rev = &mut revs[r.index()];
                let kpa = matches!(rev.kind, Kind::Kpa { .. });
                let mut live = |t: ReqId| is_queued(reqs, t);
                let started = rev
                    .router
                    .add_ready(now, inst, &mut rev.rng_route, &mut live);
                for s in started {
                    self.begin(now, s.req, s.instance);
                }
                if kpa {
                    self.request_reconcile(now, r);
                }
            }
            Kind::Keepalive { pool, .. } => {
                let i = &mut self.insts[inst.index()];
                let Some(id) = i.ka else { return };
                let pending = i.pending.take();
                pool.on_ready(now, id, pending.is_some());
                match pending {
                    Some(req) => {
                        self.revs[r.index()].waiting_cold -= 1;
                        self.begin(now, req, inst);
                    }
                    None => self.schedule_expire(r),
                }
            }
        }
    }

    /// Takes `inst` out of service: a starting instance is cancelled, a ready one drains.
    pub(super) fn drain(&mut self, now: Time, inst: InstId) {
        let r = self.insts[inst.index()].rev;
        match self.insts[inst.index()].state {
            InstState::Starting => {
                self.revs[r.index()].starting -= 1;
                self.insts[inst.index()].state = InstState::Draining;
                self.shut_down(now, inst);
            }
            InstState::Ready => {
                self.unpark_books(inst);
                let rev = &mut self.revs[r.index()];
                rev.ready -= 1;
                rev.router.begin_drain(inst);
                let i = &mut self.insts[inst.index()];
                i.state = InstState::Draining;
                if i.busy == 0 {
                    self.idle_ready_add(now, r, -1);
                }
                self.log(|p| Event::InstanceDraining {
                    revision: p.revs[r.index()].name.clone(),
                    instance: inst.number(),
                });
                if self.revs[r.index()].router.is_idle(inst) {
                    self.shut_down(now, inst);
                }
                self.request_reconcile(now, r);
            }
            InstState::Draining | InstState::Stopped => {}
        }
    }

    /// Asks the driver to stop `inst` (once); a lost instance has nothing to stop and is gone
    /// at once.
    pub(super) fn shut_down(&mut self, now: Time, inst: InstId) {
        let i = &mut self.insts[inst.index()];
        if i.stopping {
            return;
        }
        i.stopping = true;
        let (r, lost) = (i.rev, i.lost);
        self.billing.instance_stopping(now, inst.number());
        if lost {
            self.on_instance_stopped(now, inst);
        } else {
            let shutdown = self.revs[r.index()].shutdown;
            self.out.push(Effect::StopInstance { inst, shutdown });
        }
    }

    /// Instance `inst` is gone (its shutdown time passed, its process exited). Ignored if it
    /// is gone already.
    pub fn on_instance_stopped(&mut self, now: Time, inst: InstId) {
        let Some(i) = self.insts.get_mut(inst.index()) else {
            return;
        };
        if i.state == InstState::Stopped {
            return;
        }
        if i.state == InstState::Starting {
            // Stopped before it was ever ready or asked to stop (a driver-side failure).
            self.revs[i.rev.index()].starting -= 1;
        }
        i.state = InstState::Stopped;
        // Neither the end of a live run nor a crash is the autoscaler scaling to zero.
        let (r, not_scaled) = (i.rev, i.by_shutdown || i.lost);
        let lifetime = now.0.saturating_sub(i.created.0);
        if !i.stopping {
            i.stopping = true;
            self.billing.instance_stopping(now, inst.number());
        }
        self.billing.instance_stopped(now, inst.number());
        let vcpu = i.vcpu;
        self.vcpu_alive.add(now, -micro_vcpu(vcpu));
        let rev = &mut self.revs[r.index()];
        rev.router.remove(inst);
        rev.alive.retain(|&x| x != inst);
        rev.counters.stops += 1;
        let alive = self.t.alive.level() - 1;
        self.t.alive.set(now, alive);
        if alive == 0 {
            self.t.at_zero.set(now, 1);
            // The end of a live run stops every instance and a crash may take the last one;
            // neither is the autoscaler's doing (an instance it was already draining still
            // counts).
            if !not_scaled {
                self.t.scale_to_zero_events += 1;
            }
        }
        if self.multi {
            let rt = &mut self.revs[r.index()].rt;
            let n = rt.alive.level().saturating_sub(1);
            rt.alive.set(now, n);
            if n == 0 {
                rt.at_zero.set(now, 1);
                if !not_scaled {
                    rt.scale_to_zero_events += 1;
                }
            }
        }
        self.track_overlap(now);
        self.log(|p| Event::InstanceStopped {
            revision: p.revs[r.index()].name.clone(),
            instance: inst.number(),
            lifetime_s: lifetime as f64 / 1e9,
        });
    }

    /// The process of instance `inst` died on its own (a crash, an exit, a start that never
    /// became ready). Requests executing on it fail as their connections break (the driver
    /// reports each with [`Outcome::Failed`](super::Outcome::Failed)); a request waiting for
    /// its cold start fails now; the instance is replaced unless the platform is closing.
    pub fn on_instance_lost(&mut self, now: Time, inst: InstId) {
        let Some(i) = self.insts.get_mut(inst.index()) else {
            return;
        };
        if i.state == InstState::Stopped || i.lost {
            return;
        }
        i.lost = true;
        let (r, state, ka, busy) = (i.rev, i.state, i.ka, i.busy);
        let rev = &mut self.revs[r.index()];
        rev.counters.crashes += 1;
        rev.crash_streak = rev.crash_streak.saturating_add(1);
        self.stats.crashes += 1;
        match state {
            InstState::Starting => {
                rev.starting -= 1;
                if let (Some(id), Kind::Keepalive { pool, .. }) = (ka, &mut rev.kind) {
                    pool.on_lost(id, LostState::Starting);
                }
                self.insts[inst.index()].state = InstState::Draining;
                if let Some(req) = self.insts[inst.index()].pending.take() {
                    // The request it was started for fails.
                    self.revs[r.index()].waiting_cold -= 1;
                    self.answer(now, req, Reply::InstanceFailed);
                }
            }
            InstState::Ready => {
                rev.ready -= 1;
                rev.router.begin_drain(inst);
                self.unpark_books(inst);
                let rev = &mut self.revs[r.index()];
                if let (Some(id), Kind::Keepalive { pool, .. }) = (ka, &mut rev.kind) {
                    let was = if busy > 0 {
                        LostState::Busy
                    } else {
                        LostState::Idle
                    };
                    pool.on_lost(id, was);
                }
                if busy == 0 {
                    self.idle_ready_add(now, r, -1);
                }
                self.insts[inst.index()].state = InstState::Draining;
            }
            InstState::Draining | InstState::Stopped => {}
        }
        if self.revs[r.index()].router.is_idle(inst) && self.insts[inst.index()].busy == 0 {
            self.shut_down(now, inst);
        }
        let streak = self.revs[r.index()].crash_streak;
        if state == InstState::Starting
            && self
                .cfg
                .max_start_failures
                .is_some_and(|max| streak >= max.max(1))
        {
            self.fail_revision(now, r);
        }
        if self.closing || self.revs[r.index()].failed {
            return;
        }
        match &mut self.revs[r.index()].kind {
            Kind::Kpa { scaler, .. } => {
                let n = scaler.replicas();
                self.scale_to(now, r, n);
                self.request_reconcile(now, r);
            }
            Kind::Keepalive { pool, .. } => {
                for id in pool.ensure_min() {
                    self.create_instance(now, r, Some(id), false);
                }
                self.schedule_expire(r);
            }
            Kind::CloudRun { .. } => {
                let n = u32::try_from(self.revs[r.index()].desired).unwrap_or(u32::MAX);
                self.cloud_run_scale(now, r, n);
            }
            Kind::Hpa { .. } => {
                let n = u32::try_from(self.revs[r.index()].desired).unwrap_or(u32::MAX);
                self.scale_to(now, r, n);
            }
        }
    }

    /// Revision `r` gives up: its waiting requests are answered 503, its starting instances
    /// are cancelled, and nothing of it starts again (ready instances keep serving).
    fn fail_revision(&mut self, now: Time, r: RevId) {
        if self.revs[r.index()].failed {
            return;
        }
        self.revs[r.index()].failed = true;
        for req in self.waiting_of(r) {
            self.give_up(now, req, Reply::RevisionFailed);
        }
        let starting: Vec<InstId> = self.revs[r.index()]
            .alive
            .iter()
            .copied()
            .filter(|&i| self.insts[i.index()].state == InstState::Starting)
            .collect();
        for i in starting {
            self.drain(now, i);
        }
        self.out.push(Effect::RevisionFailed { rev: r });
        self.log(|p| Event::RevisionFailed {
            revision: p.revs[r.index()].name.clone(),
            start_failures: p.revs[r.index()].crash_streak,
        });
    }
}

/// vCPUs in whole micro-vCPUs (the integral of vCPUs alive is kept exactly).
pub(super) fn micro_vcpu(vcpu: f64) -> i64 {
    (vcpu * 1e6).round() as i64
}
