//! The autoscaler in the platform: the per-second scrape, the decider's tick and pokes, the
//! KPA reconciler and the keepalive pool's expiry, as in the simulator's driver.

use std::sync::atomic::Ordering;

use scalelab_core::Time;
use scalelab_core::autoscaler::ScalerInput;
use scalelab_core::autoscaler::metrics::{PodReport, scrape};
use scalelab_core::event::Event;
use scalelab_core::router::Mode;

use super::{Ctx, InstState, Kind, Rev};

impl Ctx<'_> {
    /// The per-second work at whole second `k`: the scrape, and on even seconds the tick.
    pub fn second(&mut self, k: u64) {
        let now = self.now;
        let rev = &mut *self.rev;
        let Rev {
            kind,
            alive,
            rng_scrape,
            insts,
            ..
        } = rev;
        let Kind::Kpa {
            decider,
            activator,
            stable,
            ..
        } = kind
        else {
            return;
        };
        let mut reports = Vec::with_capacity(alive.len());
        for &i in alive.iter() {
            let inst = &mut insts[i as usize];
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
        if k.is_multiple_of(2) {
            self.decide(false, Time::from_secs(k));
        }
    }

    /// Runs the decider: a tick (`poke` false) at its scheduled time `at`, or a poke at once.
    ///
    /// A tick is stamped with its scheduled whole second, as in the simulator, not with the
    /// moment the timer task got to run: the decider compares tick times with the panic
    /// window's start, and a millisecond of scheduling jitter would otherwise decide by chance
    /// whether panic mode ends at a tick or one tick later. Pokes carry their real time; the
    /// times passed never go back.
    pub(super) fn decide(&mut self, poke: bool, at: Time) {
        let now = self.now;
        let at = at.max(self.rev.decided_at);
        self.rev.decided_at = at;
        let ready = self.rev.ready;
        let Kind::Kpa { decider, .. } = &mut self.rev.kind else {
            return;
        };
        let tick = decider.tick(at, ready, true);
        self.g.m.t.ticks += 1;
        self.rev.counters.ticks += 1;
        if tick.result.valid {
            let rev = &mut *self.rev;
            rev.desired = u64::try_from(tick.result.desired.max(0)).unwrap_or(0);
            rev.excess_burst_capacity = tick.result.excess_burst_capacity;
            if tick.result.panic != rev.panic {
                rev.panic = tick.result.panic;
                self.g.panicking[self.r] = tick.result.panic;
                let any = self.g.panicking.iter().any(|&p| p);
                if tick.result.panic {
                    self.g.m.t.panic_episodes += 1;
                    self.g.series.row().panic = true;
                }
                self.g.m.t.panic.set(now, u64::from(any));
            }
            self.log(Event::ScaleDecision {
                revision: self.rev.name.clone(),
                desired: tick.result.desired,
                excess_burst_capacity: tick.result.excess_burst_capacity,
                panic: tick.result.panic,
                ready,
                poke,
            });
        }
        if tick.notify {
            self.reconcile();
        }
    }

    pub(super) fn request_reconcile(&mut self) {
        let now = self.now;
        if self.rev.reconcile_at.is_none_or(|t| t > now) {
            self.rev.reconcile_at = Some(now);
            self.sh.wake.notify_one();
        }
    }

    /// Runs the reconciler if it is due at `now`.
    pub fn reconcile_if_due(&mut self) {
        if self.rev.reconcile_at.is_some_and(|t| t <= self.now) {
            self.rev.reconcile_at = None;
            self.reconcile();
        }
        if let Kind::Keepalive { expire_at, .. } = &self.rev.kind
            && expire_at.is_some_and(|t| t <= self.now)
        {
            self.expire();
        }
    }

    pub(super) fn reconcile(&mut self) {
        let now = self.now;
        let ready = self.rev.ready;
        let Kind::Kpa {
            decider, scaler, ..
        } = &mut self.rev.kind
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
        if self.rev.router.mode() != mode {
            self.rev.router.set_mode(mode);
            let m = if mode == Mode::Proxy {
                "proxy"
            } else {
                "serve"
            };
            self.log(Event::ModeChanged {
                revision: self.rev.name.clone(),
                mode: m.into(),
            });
        }
        if let Some(n) = out.replicas {
            self.log(Event::ReplicasChanged {
                revision: self.rev.name.clone(),
                replicas: n,
            });
            self.scale_to(n);
        }
        if let Some(t) = out.requeue_at {
            let t = t.max(now);
            if self.rev.reconcile_at.is_none_or(|x| t < x) {
                self.rev.reconcile_at = Some(t);
                self.sh.wake.notify_one();
            }
        }
    }

    /// Makes the revision's non-draining instances number `n`: new ones cold-start; surplus
    /// ones go starting-newest first, then ready-newest first.
    pub(super) fn scale_to(&mut self, n: u32) {
        if self.sh.closing.load(Ordering::Relaxed) {
            return;
        }
        let current = self.rev.starting + self.rev.ready;
        if n > current {
            for _ in 0..(n - current) {
                self.create_instance(None, false);
            }
        } else if n < current {
            let mut k = current - n;
            let alive = self.rev.alive.clone();
            for want in [InstState::Starting, InstState::Ready] {
                let mut cands: Vec<u32> = alive
                    .iter()
                    .copied()
                    .filter(|&i| self.rev.insts[i as usize].state == want)
                    .collect();
                if want == InstState::Ready {
                    cands.sort_by_key(|&i| (self.rev.insts[i as usize].ready_at, i));
                }
                while k > 0 {
                    let Some(i) = cands.pop() else { break };
                    self.drain(i);
                    k -= 1;
                }
            }
        }
    }

    pub(super) fn schedule_expire(&mut self) {
        if let Kind::Keepalive {
            pool, expire_at, ..
        } = &mut self.rev.kind
            && let Some(t) = pool.next_deadline()
            && expire_at.is_none_or(|x| t < x)
        {
            *expire_at = Some(t);
            self.sh.wake.notify_one();
        }
    }

    pub(super) fn expire(&mut self) {
        let now = self.now;
        let ids = match &mut self.rev.kind {
            Kind::Keepalive {
                pool, expire_at, ..
            } => {
                *expire_at = None;
                pool.expire(now)
            }
            Kind::Kpa { .. } => return,
        };
        for id in ids {
            let inst = self.ka_inst(id);
            let Some(i) = self.rev.insts.get_mut(inst as usize) else {
                continue;
            };
            if i.state != InstState::Ready {
                continue;
            }
            i.state = InstState::Draining;
            self.rev.ready -= 1;
            self.g.m.t.idle_ready.add(now, -1);
            self.shut_down(inst);
        }
        self.schedule_expire();
    }
}
