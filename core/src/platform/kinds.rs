//! Cloud Run's autoscaler and the Kubernetes HPA in the platform: their per-second samples and
//! decisions, and what they do to instances.
//!
//! **Cloud Run** ([`crate::autoscaler::cloudrun`]). Every second the revision's in-flight
//! requests and CPU-seconds are recorded; every `evaluation_period` the drivers give the
//! instances wanted. Requests always reach instances through the front end (the router's proxy
//! mode: they wait centrally for a free slot). When fewer instances are wanted than are in
//! service, the surplus is *parked*: out of the routable set, alive, warm and idle once its
//! requests finish, and removed `idle_retention` after its last request; when more are wanted,
//! parked instances come back first (no cold start), then new ones start. A request that finds
//! no free slot makes the front end start instances for the waiting requests at once (the
//! pending driver); at `max_scale` it waits at most max(3.5 × the mean start-up, 10 s), then
//! gets 429.
//!
//! **HPA** ([`crate::autoscaler::hpa`]). Every `sync_period` (aligned on whole multiples of it
//! from t = 0) each non-draining instance is a pod with its CPU utilisation since the previous
//! sync; the replicas the HPA returns are applied like a Deployment's (new pods cold-start,
//! surplus ones drain: starting first, then the most recently ready). Requests go to the pods'
//! queue-proxies directly (the activator is not in the path of an HPA-class revision).

use crate::autoscaler::cloudrun::{CloudRun, Sample};
use crate::autoscaler::hpa::Pod;
use crate::event::Event;
use crate::ids::{InstId, ReqId, RevId};
use crate::time::{Time, duration_nanos};

use super::requests::is_queued;
use super::{Effect, InstState, Kind, Platform, Timer};

impl Platform {
    /// A Cloud Run or HPA decision of `desired` instances: counted as a tick and logged (these
    /// autoscalers have no panic mode and no burst capacity).
    fn decided(&mut self, r: RevId, desired: u32) {
        let rev = &mut self.revs[r.index()];
        rev.desired = u64::from(desired);
        rev.counters.ticks += 1;
        self.t.ticks += 1;
        let ready = rev.ready;
        self.log(|p| Event::ScaleDecision {
            revision: p.revs[r.index()].name.clone(),
            desired: i32::try_from(desired).unwrap_or(i32::MAX),
            excess_burst_capacity: 0,
            panic: false,
            ready,
            poke: false,
        });
    }

    /// Cloud Run's second `second` (whole, from t = 0) of revision `r`: the sample, and on
    /// every `evaluation_period` the decision.
    pub(super) fn cloud_run_second(&mut self, now: Time, r: RevId, second: u64) {
        let rev = &self.revs[r.index()];
        let mut sample = Sample::default();
        for &i in &rev.alive {
            let inst = &mut self.insts[i.index()];
            sample.concurrency += inst.meter.report(now).avg_concurrency;
            // `sample_cpu` ran this second: what the instance used in it.
            sample.cpu_seconds += inst.cpu_second_delta / 1e9;
        }
        let rev = &mut self.revs[r.index()];
        let Kind::CloudRun { cr, .. } = &mut rev.kind else {
            return;
        };
        cr.record(now, sample);
        let period = cr.settings().evaluation_period.as_secs().max(1);
        if !second.is_multiple_of(period) {
            return;
        }
        let d = cr.decide(now, rev.in_system);
        self.decided(r, d.desired);
        self.cloud_run_scale(now, r, d.desired);
    }

    /// The deadline of the wait of request `req`, queued at Cloud Run revision `r`'s front end:
    /// at the maximum, the pending limit (then 429), else its timeout.
    #[cold]
    #[inline(never)]
    pub(super) fn cloud_run_deadline(
        &mut self,
        now: Time,
        r: RevId,
        req: ReqId,
        deadline: Time,
    ) -> Time {
        let rev = &self.revs[r.index()];
        let Kind::CloudRun { cr, .. } = &rev.kind else {
            return deadline;
        };
        if !cr.at_max(rev.starting + rev.ready) || parked(rev) > 0 {
            return deadline;
        }
        let (sum, n) = rev.startups;
        let mean = if n > 0 {
            std::time::Duration::from_nanos(u64::try_from(sum / u128::from(n)).unwrap_or(u64::MAX))
        } else {
            std::time::Duration::ZERO
        };
        let limit = Time(
            now.0
                .saturating_add(duration_nanos(CloudRun::pending_limit(mean))),
        );
        if limit < deadline {
            self.reqs[req.index()].at_max = true;
            limit
        } else {
            deadline
        }
    }

    /// A request of Cloud Run revision `r` waits at the front end for a slot: instances start
    /// (or come back) for the waiting requests at once, within `max_scale`.
    #[inline(never)]
    pub(super) fn cloud_run_queued(&mut self, now: Time, r: RevId) {
        let rev = &self.revs[r.index()];
        let Kind::CloudRun { cr, .. } = &rev.kind else {
            return;
        };
        let in_service = rev.starting + rev.ready - parked(rev);
        let wanted = cr.pending_driver(rev.in_system);
        if wanted > in_service {
            let n = wanted.max(u32::try_from(rev.desired).unwrap_or(u32::MAX));
            self.cloud_run_scale(now, r, n);
        }
    }

    /// Makes `n` of Cloud Run revision `r`'s instances serve (within `max_scale`): parked ones
    /// come back first (the most recently parked first), then new ones start; a surplus of
    /// ready instances is parked (idle ones first, the longest idle first, then the least busy).
    pub(super) fn cloud_run_scale(&mut self, now: Time, r: RevId, n: u32) {
        if self.closing {
            return;
        }
        let rev = &self.revs[r.index()];
        let max = rev_max(rev);
        let n = if max > 0 { n.min(max) } else { n };
        let serving = rev.starting + rev.ready - parked(rev);
        if n > serving {
            let mut need = n - serving;
            while need > 0 {
                let Kind::CloudRun { parked, .. } = &mut self.revs[r.index()].kind else {
                    return;
                };
                let Some(i) = parked.pop() else { break };
                self.unpark(now, r, i);
                need -= 1;
            }
            let rev = &self.revs[r.index()];
            let alive = rev.starting + rev.ready;
            let room = if max > 0 {
                max.saturating_sub(alive)
            } else {
                u32::MAX
            };
            for _ in 0..need.min(room) {
                self.create_instance(now, r, None, false);
            }
        } else if n < serving {
            let mut surplus = serving - n;
            let rev = &self.revs[r.index()];
            let mut cands: Vec<(u32, Time, InstId)> = rev
                .alive
                .iter()
                .filter_map(|&i| {
                    let x = &self.insts[i.index()];
                    (x.state == InstState::Ready && !x.parked).then_some((
                        rev.router.in_flight(i),
                        x.idle_since,
                        i,
                    ))
                })
                .collect();
            // Fewest in flight first; among idle ones the longest idle first.
            cands.sort();
            for (_, _, i) in cands {
                if surplus == 0 {
                    break;
                }
                self.park(r, i);
                surplus -= 1;
            }
        }
    }

    /// Takes ready instance `i` out of service, kept warm until its retention ends.
    fn park(&mut self, r: RevId, i: InstId) {
        let rev = &mut self.revs[r.index()];
        rev.router.begin_drain(i);
        if let Kind::CloudRun { parked, .. } = &mut rev.kind {
            parked.push(i);
        }
        self.insts[i.index()].parked = true;
        self.log(|p| Event::InstanceDraining {
            revision: p.revs[r.index()].name.clone(),
            instance: i.number(),
        });
        if self.insts[i.index()].busy == 0 {
            self.schedule_retention(r);
        }
    }

    /// Puts parked instance `i` back in service; requests waiting at the front end start on it.
    fn unpark(&mut self, now: Time, r: RevId, i: InstId) {
        self.insts[i.index()].parked = false;
        let (revs, reqs) = (&mut self.revs, &self.reqs);
        let rev = &mut revs[r.index()];
        let mut live = |t: ReqId| is_queued(reqs, t);
        let started = rev.router.add_ready(now, i, &mut rev.rng_route, &mut live);
        for s in started {
            self.begin(now, s.req, s.instance);
        }
    }

    /// Forgets that `i` was parked (it is drained, stopped or lost).
    #[inline(never)]
    pub(super) fn unpark_books(&mut self, i: InstId) {
        let inst = &mut self.insts[i.index()];
        if !inst.parked {
            return;
        }
        inst.parked = false;
        if let Kind::CloudRun { parked, .. } = &mut self.revs[inst.rev.index()].kind {
            parked.retain(|&x| x != i);
        }
    }

    /// Asks for a timer when the next parked, idle instance of `r` reaches its retention.
    #[cold]
    #[inline(never)]
    pub(super) fn schedule_retention(&mut self, r: RevId) {
        let rev = &self.revs[r.index()];
        let Kind::CloudRun {
            cr,
            parked,
            expire_at,
        } = &rev.kind
        else {
            return;
        };
        let keep = duration_nanos(cr.settings().idle_retention);
        let next = parked
            .iter()
            .filter(|&&i| self.insts[i.index()].busy == 0)
            .map(|&i| Time(self.insts[i.index()].idle_since.0.saturating_add(keep)))
            .min();
        if let Some(t) = next
            && expire_at.is_none_or(|x| t < x)
        {
            if let Kind::CloudRun { expire_at, .. } = &mut self.revs[r.index()].kind {
                *expire_at = Some(t);
            }
            self.out.push(Effect::Timer {
                at: t,
                timer: Timer::Expire(r),
            });
        }
    }

    /// Removes the parked instances of `r` idle for their retention.
    pub(super) fn cloud_run_expire(&mut self, now: Time, r: RevId) {
        let rev = &mut self.revs[r.index()];
        let Kind::CloudRun {
            cr,
            parked,
            expire_at,
        } = &mut rev.kind
        else {
            return;
        };
        if expire_at.is_some_and(|t| t <= now) {
            *expire_at = None;
        }
        let keep = duration_nanos(cr.settings().idle_retention);
        let due: Vec<InstId> = parked
            .iter()
            .copied()
            .filter(|&i| {
                let x = &self.insts[i.index()];
                x.busy == 0 && x.idle_since.0.saturating_add(keep) <= now.0
            })
            .collect();
        for i in due {
            self.drain(now, i);
        }
        self.schedule_retention(r);
    }

    /// One HPA sync of revision `r`: every pod's CPU utilisation since the last sync, the
    /// replicas the HPA returns applied.
    pub(super) fn hpa_sync(&mut self, now: Time, r: RevId) {
        let measured = self.cfg.measured_cpu;
        let rev = &self.revs[r.index()];
        let mut pods = Vec::with_capacity(rev.alive.len());
        for &i in &rev.alive {
            let x = &mut self.insts[i.index()];
            if !matches!(x.state, InstState::Starting | InstState::Ready) {
                continue;
            }
            if let Some(c) = &mut x.cpu {
                let used = c.advance(now);
                x.cpu_ns += used;
                self.cpu_total_ns += used;
            }
            let (mark, since) = x.cpu_sync_mark;
            let from = since.max(x.created);
            let span = now.0.saturating_sub(from.0) as f64;
            let utilization =
                (x.state == InstState::Ready && span >= 1e6 && (!measured || x.cpu_seen))
                    .then(|| ((x.cpu_ns - mark) / (x.vcpu * span)).max(0.0));
            x.cpu_sync_mark = (x.cpu_ns, now);
            pods.push(Pod {
                started: x.created,
                ready_since: (x.state == InstState::Ready).then_some(x.ready_at),
                utilization,
            });
        }
        let current = rev.starting + rev.ready;
        let rev = &mut self.revs[r.index()];
        let Kind::Hpa { hpa } = &mut rev.kind else {
            return;
        };
        let sync = hpa.sync(now, current, &pods);
        self.decided(r, sync.replicas);
        if sync.replicas != current {
            self.log(|p| Event::ReplicasChanged {
                revision: p.revs[r.index()].name.clone(),
                replicas: sync.replicas,
            });
        }
        self.scale_to(now, r, sync.replicas);
    }
}

/// Instances of `rev` parked by Cloud Run's autoscaler.
fn parked(rev: &super::Rev) -> u32 {
    match &rev.kind {
        Kind::CloudRun { parked, .. } => parked.len() as u32,
        _ => 0,
    }
}

/// The most instances of `rev` (0 = unbounded).
fn rev_max(rev: &super::Rev) -> u32 {
    match &rev.kind {
        Kind::CloudRun { cr, .. } => cr.settings().max_scale,
        _ => 0,
    }
}
