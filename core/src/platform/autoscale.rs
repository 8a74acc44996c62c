//! The autoscalers in the platform: the per-second scrape, the decider's tick and pokes, the
//! KPA reconciler with its requeues, and the keepalive pool's expiry.

use crate::autoscaler::ScalerInput;
use crate::autoscaler::metrics::{PodReport, scrape_with};
use crate::event::Event;
use crate::ids::RevId;
use crate::router::Mode;
use crate::time::Time;

use super::{Effect, InstState, Kind, Platform, Rev, SECOND, Timer};

impl Platform {
    /// The whole second scheduled at `at` (now, or a little earlier live): series buckets,
    /// every KPA revision's scrape, and on even seconds its tick. The next second is the next
    /// whole one after `now` (a live driver that fell behind skips the seconds it missed).
    #[inline]
    pub(super) fn on_second(&mut self, now: Time, at: Time) {
        self.roll_series(now);
        if self.cpu_on {
            self.sample_cpu(now);
        }
        if self.timed_revisions > 0 {
            self.scrape_and_tick(now, at);
        }
        if !self.closing && now < self.cfg.seconds_until {
            // On time (always, simulated), the next second is the next one; late, the first
            // whole second after now.
            let next = if now == at {
                Time(at.0 + SECOND)
            } else {
                Time(((at.0 / SECOND + 1).max(now.0 / SECOND + 1)) * SECOND)
            };
            self.schedule_second(next);
        } else {
            self.next_second = None;
        }
    }

    /// Every KPA revision's scrape, and on even seconds its tick; Cloud Run's per-second
    /// sample and its evaluations; the HPA's syncs.
    #[inline(never)]
    fn scrape_and_tick(&mut self, now: Time, at: Time) {
        let second = at.0 / SECOND;
        let tick = second.is_multiple_of(2);
        for r in 0..self.revs.len() {
            if !self.deploy[r].exists {
                continue;
            }
            let rev = RevId(r as u16);
            match &self.revs[r].kind {
                Kind::Kpa { .. } => {
                    self.on_scrape(now, rev);
                    if tick {
                        self.decide(now, rev, at, false);
                    }
                }
                Kind::CloudRun { .. } => self.cloud_run_second(now, rev, second),
                Kind::Hpa { hpa } => {
                    let period = hpa.settings().sync_period.as_secs().max(1);
                    if second.is_multiple_of(period) {
                        self.hpa_sync(now, rev);
                    }
                }
                Kind::Keepalive { .. } => {}
            }
        }
    }

    /// The autoscaler's scrape of revision `r`'s ready pods and the activator. Returns false
    /// for a revision without a decider.
    pub fn on_scrape(&mut self, now: Time, r: RevId) -> bool {
        let (reports, scratch) = &mut self.scrape_buf;
        let Rev {
            kind,
            alive,
            rng_scrape,
            ..
        } = &mut self.revs[r.index()];
        let Kind::Kpa {
            decider,
            activator,
            stable,
            ..
        } = kind
        else {
            return false;
        };
        reports.clear();
        for &i in alive.iter() {
            let inst = &mut self.insts[i.index()];
            let stat = inst.meter.report(now);
            if inst.state == InstState::Ready {
                reports.push(PodReport {
                    ready_since: inst.ready_at,
                    stat,
                });
            }
        }
        if let Some(stat) = scrape_with(now, reports, *stable, rng_scrape, scratch) {
            decider.record(now, &stat);
        }
        if let Some(stat) = activator.report(now) {
            decider.record(now, &stat);
        }
        true
    }

    /// Runs revision `r`'s decider: a tick (`poke` false) stamped `at`, or a poke.
    ///
    /// A tick is stamped with its scheduled whole second, not with the moment a live timer got
    /// to run: the decider compares tick times with the panic window's start, and a millisecond
    /// of scheduling jitter would otherwise decide by chance whether panic mode ends at a tick
    /// or one tick later. Pokes carry their real time; the times passed never go back.
    pub(super) fn decide(&mut self, now: Time, r: RevId, at: Time, poke: bool) {
        let reachable = self.deploy[r.index()].reachable;
        let rev = &mut self.revs[r.index()];
        let at = at.max(rev.decided_at);
        rev.decided_at = at;
        let ready = rev.ready;
        let Kind::Kpa { decider, .. } = &mut rev.kind else {
            return;
        };
        let tick = decider.tick(at, ready, reachable);
        rev.counters.ticks += 1;
        self.t.ticks += 1;
        if tick.result.valid {
            rev.desired = u64::try_from(tick.result.desired.max(0)).unwrap_or(0);
            rev.excess_burst_capacity = tick.result.excess_burst_capacity;
            if tick.result.panic != rev.panic {
                rev.panic = tick.result.panic;
                let now_panicking = self.revs.iter().any(|x| x.panic);
                if tick.result.panic {
                    self.t.panic_episodes += 1;
                    self.series.row().panic = true;
                }
                self.t.panic.set(now, u64::from(now_panicking));
                if self.multi {
                    let rt = &mut self.revs[r.index()].rt;
                    rt.panic.set(now, u64::from(tick.result.panic));
                    rt.panic_episodes += u64::from(tick.result.panic);
                }
            }
            self.log(|p| Event::ScaleDecision {
                revision: p.revs[r.index()].name.clone(),
                desired: tick.result.desired,
                excess_burst_capacity: tick.result.excess_burst_capacity,
                panic: tick.result.panic,
                ready,
                poke,
            });
        }
        if tick.notify {
            self.reconcile(now, r);
        }
    }

    /// Asks for the reconciler of `r` to run now (after the current transition). Cloud Run's
    /// and the HPA's revisions have no reconciler.
    pub(super) fn request_reconcile(&mut self, now: Time, r: RevId) {
        let rev = &mut self.revs[r.index()];
        if matches!(rev.kind, Kind::CloudRun { .. } | Kind::Hpa { .. }) {
            return;
        }
        if rev.reconcile_at.is_none_or(|t| t > now) {
            rev.reconcile_at = Some(now);
            self.out.push(Effect::Timer {
                at: now,
                timer: Timer::Reconcile(r),
            });
        }
    }

    /// The KPA reconciler of `r`: the SKS mode, the replicas, the next requeue.
    pub(super) fn reconcile(&mut self, now: Time, r: RevId) {
        let reachable = self.deploy[r.index()].reachable;
        let rev = &mut self.revs[r.index()];
        let ready = rev.ready;
        let Kind::Kpa {
            decider, scaler, ..
        } = &mut rev.kind
        else {
            return;
        };
        let out = scaler.reconcile(
            now,
            ScalerInput {
                decider: decider.status(),
                ready,
                reachable,
            },
        );
        let mode = if out.activator_in_path {
            Mode::Proxy
        } else {
            Mode::Serve
        };
        if rev.router.mode() != mode {
            rev.router.set_mode(mode);
            self.log(|p| Event::ModeChanged {
                revision: p.revs[r.index()].name.clone(),
                mode: if mode == Mode::Proxy {
                    "proxy"
                } else {
                    "serve"
                }
                .into(),
            });
        }
        if let Some(n) = out.replicas {
            self.log(|p| Event::ReplicasChanged {
                revision: p.revs[r.index()].name.clone(),
                replicas: n,
            });
            self.scale_to(now, r, n);
        }
        if let Some(t) = out.requeue_at {
            let t = t.max(now);
            let rev = &mut self.revs[r.index()];
            if rev.reconcile_at.is_none_or(|x| t < x) {
                rev.reconcile_at = Some(t);
                self.out.push(Effect::Timer {
                    at: t,
                    timer: Timer::Reconcile(r),
                });
            }
        }
    }

    /// Makes revision `r`'s non-draining instances number `n`: new ones cold-start; surplus
    /// ones go starting-newest first, then ready-newest first (Kubernetes prefers to delete
    /// pods that are not ready, then the most recently ready). Nothing starts once closing.
    pub(super) fn scale_to(&mut self, now: Time, r: RevId, n: u32) {
        if self.closing || self.revs[r.index()].failed {
            return;
        }
        let current = self.revs[r.index()].starting + self.revs[r.index()].ready;
        if n > current {
            for _ in 0..(n - current) {
                self.create_instance(now, r, None, false);
            }
        } else if n < current {
            let mut k = current - n;
            let alive = self.revs[r.index()].alive.clone();
            for want in [InstState::Starting, InstState::Ready] {
                let mut cands: Vec<_> = alive
                    .iter()
                    .copied()
                    .filter(|&i| self.insts[i.index()].state == want)
                    .collect();
                if want == InstState::Ready {
                    cands.sort_by_key(|&i| (self.insts[i.index()].ready_at, i));
                }
                while k > 0 {
                    let Some(i) = cands.pop() else { break };
                    self.drain(now, i);
                    k -= 1;
                }
            }
        }
    }

    /// Asks for the keepalive pool of `r` to be checked when its next idle instance expires.
    pub(super) fn schedule_expire(&mut self, r: RevId) {
        if let Kind::Keepalive {
            pool, expire_at, ..
        } = &mut self.revs[r.index()].kind
            && let Some(t) = pool.next_deadline()
            && expire_at.is_none_or(|x| t < x)
        {
            *expire_at = Some(t);
            self.out.push(Effect::Timer {
                at: t,
                timer: Timer::Expire(r),
            });
        }
    }

    /// The keepalive pool of `r` stops the instances idle for its timeout (Cloud Run: the
    /// instances kept idle past their retention).
    pub(super) fn expire(&mut self, now: Time, r: RevId) {
        if let Kind::CloudRun { .. } = self.revs[r.index()].kind {
            self.cloud_run_expire(now, r);
            return;
        }
        let ids = match &mut self.revs[r.index()].kind {
            Kind::Keepalive {
                pool, expire_at, ..
            } => {
                if expire_at.is_some_and(|t| t <= now) {
                    *expire_at = None;
                }
                pool.expire(now)
            }
            Kind::Kpa { .. } | Kind::CloudRun { .. } | Kind::Hpa { .. } => return,
        };
        for id in ids {
            let inst = self.ka_inst(r, id);
            let i = &mut self.insts[inst.index()];
            if i.state != InstState::Ready {
                continue;
            }
            debug_assert_eq!(i.busy, 0, "expired a busy instance");
            i.state = InstState::Draining;
            self.revs[r.index()].ready -= 1;
            self.idle_ready_add(now, r, -1);
            self.shut_down(now, inst);
        }
        self.schedule_expire(r);
    }
}
