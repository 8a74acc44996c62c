//! Instances' lifecycle in the platform: creation (with the sampled cold start), readiness,
//! draining, stopping, and the loss of a crashed process, as in the simulator's driver.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::StatusCode;
use scalelab_core::Time;
use scalelab_core::autoscaler::keepalive::LostState;
use scalelab_core::autoscaler::{ConcurrencyMeter, KeepaliveId};
use scalelab_core::event::Event;
use scalelab_core::router::ReqId;
use tokio::sync::oneshot;

use super::{Ctx, Inst, InstState, Kind, is_queued};
use crate::{InstanceKind, instance};

impl Ctx<'_> {
    pub(super) fn create_instance(&mut self, ka: Option<KeepaliveId>, warm: bool) -> u32 {
        let now = self.now;
        let id = self.rev.insts.len() as u32;
        let gid = self.g.next_gid;
        self.g.next_gid += 1;
        let synthetic = matches!(self.sh.instances, InstanceKind::Synthetic { .. });
        let cold_ns = if warm || !synthetic {
            0
        } else {
            let rev = &mut *self.rev;
            rev.cold.sample_nanos(&mut rev.rng_cold)
        };
        // A crash-looping command is restarted with an exponential back-off (Kubernetes'
        // CrashLoopBackOff): 100 ms, 200 ms, … up to 10 s, reset when an instance gets ready.
        let backoff = match self.rev.crash_streak {
            0 => Duration::ZERO,
            n => Duration::from_millis(100u64 << (n - 1).min(7)).min(Duration::from_secs(10)),
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let rev = &mut *self.rev;
        rev.insts.push(Inst {
            gid,
            state: InstState::Starting,
            created: now,
            ready_at: Time::MAX,
            meter: ConcurrencyMeter::new(now),
            busy: 0,
            ka,
            pending: None,
            addr: None,
            stop: Some(stop_tx),
            lost: false,
        });
        rev.alive.push(id);
        rev.starting += 1;
        if let (Some(k), Kind::Keepalive { by_ka, .. }) = (ka, &mut rev.kind) {
            by_ka.insert(k.0, id);
        }
        if !warm {
            self.g.m.t.cold_starts += 1;
            self.g.series.row().cold_starts += 1;
            self.rev.counters.cold_starts += 1;
        }
        let alive = self.g.m.t.alive.level() + 1;
        self.g.m.t.alive.set(now, alive);
        if alive == 1 {
            self.g.m.t.at_zero.set(now, 0);
        }
        self.g.m.t.peak = self.g.m.t.peak.max(alive);
        self.g.billing.instance_starting(now, self.r, gid);
        self.log(Event::ColdStartBegan {
            revision: self.rev.name.clone(),
            instance: gid,
            cold_start_s: cold_ns as f64 / 1e9,
        });
        let plan = instance::Plan {
            rev: self.r,
            id,
            created: now,
            cold: Duration::from_nanos(cold_ns),
            backoff,
            shutdown: self.rev.shutdown,
            progress_deadline: self.rev.progress_deadline,
        };
        instance::spawn(self.sh.clone(), plan, stop_rx);
        id
    }

    /// The instance's task knows its address.
    pub fn set_addr(&mut self, inst: u32, addr: SocketAddr) {
        if let Some(i) = self.rev.insts.get_mut(inst as usize) {
            i.addr = Some(addr);
        }
    }

    /// The instance finished starting.
    pub fn ready(&mut self, inst: u32) {
        let now = self.now;
        if self.rev.insts[inst as usize].state != InstState::Starting {
            return; // cancelled while starting
        }
        {
            let i = &mut self.rev.insts[inst as usize];
            i.state = InstState::Ready;
            i.ready_at = now;
        }
        let gid = self.rev.insts[inst as usize].gid;
        self.rev.starting -= 1;
        self.rev.ready += 1;
        self.rev.crash_streak = 0;
        self.g.m.t.idle_ready.add(now, 1);
        self.g.billing.instance_ready(now, gid);
        self.log(Event::InstanceReady {
            revision: self.rev.name.clone(),
            instance: gid,
        });
        match &mut self.rev.kind {
            Kind::Kpa { .. } => {
                let rev = &mut *self.rev;
                let reqs = &rev.reqs;
                let mut live = |t: ReqId| is_queued(reqs, t);
                let started = rev
                    .router
                    .add_ready(now, inst, &mut rev.rng_route, &mut live);
                for s in started {
                    self.begin((s.req & 0xffff_ffff) as u32, s.instance);
                }
                self.request_reconcile();
            }
            Kind::Keepalive { .. } => {
                let rev = &mut *self.rev;
                let i = &mut rev.insts[inst as usize];
                let Some(id) = i.ka else { return };
                let pending = i.pending.take();
                if let Kind::Keepalive { pool, .. } = &mut rev.kind {
                    pool.on_ready(now, id, pending.is_some());
                }
                match pending {
                    Some(slot) => {
                        self.rev.waiting_cold -= 1;
                        self.begin(slot, inst);
                    }
                    None => self.schedule_expire(),
                }
            }
        }
    }

    /// Takes `inst` out of service: a starting instance is cancelled, a ready one drains.
    pub(super) fn drain(&mut self, inst: u32) {
        let now = self.now;
        match self.rev.insts[inst as usize].state {
            InstState::Starting => {
                self.rev.starting -= 1;
                self.rev.insts[inst as usize].state = InstState::Draining;
                self.shut_down(inst);
            }
            InstState::Ready => {
                self.rev.ready -= 1;
                self.rev.router.begin_drain(inst);
                let i = &mut self.rev.insts[inst as usize];
                i.state = InstState::Draining;
                if i.busy == 0 {
                    self.g.m.t.idle_ready.add(now, -1);
                }
                let gid = i.gid;
                self.log(Event::InstanceDraining {
                    revision: self.rev.name.clone(),
                    instance: gid,
                });
                if self.rev.router.is_idle(inst) {
                    self.shut_down(inst);
                }
                self.request_reconcile();
            }
            InstState::Draining | InstState::Stopped => {}
        }
    }

    pub(super) fn shut_down(&mut self, inst: u32) {
        let now = self.now;
        let i = &mut self.rev.insts[inst as usize];
        let Some(stop) = i.stop.take() else { return };
        let gid = i.gid;
        let lost = i.lost;
        self.g.billing.instance_stopping(now, gid);
        if lost {
            drop(stop);
            self.stopped(inst);
        } else if stop.send(()).is_err() {
            // The instance's task already ended (it can only have panicked).
            self.stopped(inst);
        }
    }

    /// The instance is gone (its task finished stopping it).
    pub fn stopped(&mut self, inst: u32) {
        let now = self.now;
        let i = &mut self.rev.insts[inst as usize];
        if i.state == InstState::Stopped {
            return;
        }
        i.state = InstState::Stopped;
        i.stop = None;
        i.addr = None;
        let lifetime = now.0.saturating_sub(i.created.0);
        let gid = i.gid;
        self.g.billing.instance_stopped(now, gid);
        self.rev.router.remove(inst);
        self.rev.alive.retain(|&x| x != inst);
        self.rev.counters.stops += 1;
        let alive = self.g.m.t.alive.level().saturating_sub(1);
        self.g.m.t.alive.set(now, alive);
        if alive == 0 {
            self.g.m.t.at_zero.set(now, 1);
            self.g.m.t.scale_to_zero_events += 1;
        }
        self.log(Event::InstanceStopped {
            revision: self.rev.name.clone(),
            instance: gid,
            lifetime_s: lifetime as f64 / 1e9,
        });
    }

    /// The instance's process died on its own (crash, or it exited). Requests executing on it
    /// fail (their connections break); it is replaced.
    pub fn lost(&mut self, inst: u32) {
        let now = self.now;
        let state = self.rev.insts[inst as usize].state;
        if state == InstState::Stopped || self.rev.insts[inst as usize].lost {
            return;
        }
        self.rev.insts[inst as usize].lost = true;
        self.rev.counters.crashes += 1;
        self.g.m.crashes += 1;
        self.rev.crash_streak = self.rev.crash_streak.saturating_add(1);
        let ka = self.rev.insts[inst as usize].ka;
        match state {
            InstState::Starting => {
                self.rev.starting -= 1;
                self.rev.insts[inst as usize].state = InstState::Draining;
                if let (Some(id), Kind::Keepalive { pool, .. }) = (ka, &mut self.rev.kind) {
                    pool.on_lost(id, LostState::Starting);
                }
                if let Some(slot) = self.rev.insts[inst as usize].pending.take() {
                    // The request it was started for fails (its sender is dropped: 502).
                    self.rev.waiting_cold -= 1;
                    let latency = self.latency_ns(slot);
                    self.rev.counters.record(StatusCode::BAD_GATEWAY, latency);
                    self.g.m.t.rejected += 1;
                    self.g.m.failed += 1;
                    self.g.series.row().errors += 1;
                    self.release(slot);
                }
            }
            InstState::Ready => {
                self.rev.ready -= 1;
                let busy = self.rev.insts[inst as usize].busy;
                if busy == 0 {
                    self.g.m.t.idle_ready.add(now, -1);
                }
                self.rev.router.begin_drain(inst);
                self.rev.insts[inst as usize].state = InstState::Draining;
                if let (Some(id), Kind::Keepalive { pool, .. }) = (ka, &mut self.rev.kind) {
                    pool.on_lost(
                        id,
                        if busy > 0 {
                            LostState::Busy
                        } else {
                            LostState::Idle
                        },
                    );
                }
            }
            InstState::Draining | InstState::Stopped => {}
        }
        let idle = self.rev.router.is_idle(inst) && self.rev.insts[inst as usize].busy == 0;
        if idle {
            self.shut_down(inst);
        }
        if self.sh.closing.load(Ordering::Relaxed) {
            return;
        }
        match &mut self.rev.kind {
            Kind::Kpa { scaler, .. } => {
                let n = scaler.replicas();
                self.scale_to(n);
                self.request_reconcile();
            }
            Kind::Keepalive { pool, .. } => {
                for id in pool.ensure_min() {
                    self.create_instance(Some(id), false);
                }
                self.schedule_expire();
            }
        }
    }

    /// Stops every instance (shutdown): starting ones are cancelled, ready ones drain, and
    /// whatever still runs after the drain is stopped anyway.
    pub fn stop_all(&mut self) {
        let alive = self.rev.alive.clone();
        for i in alive {
            self.drain(i);
            if self.rev.insts[i as usize].state == InstState::Draining {
                self.shut_down(i);
            }
        }
    }
}
