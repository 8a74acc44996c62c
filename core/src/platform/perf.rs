//! The instance performance model in the platform ([`super::cpu`]): a request's CPU phase on
//! its instance, the instance's one CPU timer, and the CPU meter (CPU-seconds used, modelled or
//! measured, against vCPU-seconds alive) behind `instances.mean_cpu_utilization`, the series'
//! `cpu_utilization` and the CPU-driven autoscalers.
//!
//! Nothing here runs for a scenario without CPU work (`cpu_share = 0` everywhere) and without
//! measured instances: [`Platform::begin`] takes the path with the end time in `Serve`.

use crate::ids::{InstId, ReqId};
use crate::time::Time;

use super::{Effect, Platform, ReqState, Serve, Timer};

/// A request is in its CPU phase on `inst` (for the lazily cleaned deadline heap).
fn in_cpu_on(reqs: &[super::Req], r: ReqId, inst: InstId) -> bool {
    reqs.get(r.index()).is_some_and(|q| {
        q.generation == r.generation() && q.in_cpu && q.state == ReqState::Running(inst)
    })
}

impl Platform {
    /// Request `req` starts on `inst`, whose CPU is modelled: its CPU phase begins; its end
    /// comes with [`Effect::Finish`].
    #[inline(never)]
    pub(super) fn begin_cpu(&mut self, now: Time, req: ReqId, inst: InstId) {
        let q = &mut self.reqs[req.index()];
        let i = &mut self.insts[inst.index()];
        let Some(c) = i.cpu.as_mut() else {
            return;
        };
        let used = c.advance(now);
        let work = q.service_ns as f64 * c.share;
        let work_ns = (work.round() as u64).min(q.service_ns);
        let wait_ns = (q.service_ns - work_ns).saturating_add(self.slot_overhead_ns);
        c.push(req, work, wait_ns, q.deadline);
        q.in_cpu = true;
        i.cpu_ns += used;
        self.cpu_total_ns += used;
        self.out.push(Effect::Serve(Serve {
            req,
            inst,
            ends_at: Serve::LATER,
            times_out: false,
        }));
        self.arm_cpu(now, inst);
    }

    /// Request `req` leaves its CPU phase on `inst` before its work is done.
    #[cold]
    #[inline(never)]
    pub(super) fn leave_cpu(&mut self, now: Time, req: ReqId, inst: InstId) {
        let i = &mut self.insts[inst.index()];
        if let Some(c) = i.cpu.as_mut() {
            let used = c.advance(now);
            c.remove(req);
            i.cpu_ns += used;
            self.cpu_total_ns += used;
        }
        self.reqs[req.index()].in_cpu = false;
        self.arm_cpu(now, inst);
    }

    /// Asks for the CPU timer of `inst` at its next event (a CPU phase ending, a deadline of a
    /// request in its CPU phase), unless an earlier one is pending.
    fn arm_cpu(&mut self, now: Time, inst: InstId) {
        let Platform {
            insts, reqs, out, ..
        } = self;
        let Some(c) = insts[inst.index()].cpu.as_mut() else {
            return;
        };
        let deadline = c
            .earliest_deadline(|r| in_cpu_on(reqs, r, inst))
            .map(|(t, _)| t);
        let Some(due) = [c.next_completion(), deadline].into_iter().flatten().min() else {
            return;
        };
        let due = due.max(now);
        if c.armed.is_none_or(|a| due < a) {
            c.armed = Some(due);
            out.push(Effect::Timer {
                at: due,
                timer: Timer::Cpu(inst),
            });
        }
    }

    /// The CPU timer of `inst` (asked for at `scheduled`) fires: the CPU phases done end (their
    /// end is their waiting from now, capped at their deadline), requests in their CPU phase
    /// past their deadline time out, and the next timer is asked for.
    pub(super) fn on_cpu_timer(&mut self, now: Time, scheduled: Time, inst: InstId) {
        self.roll_series(now);
        let mut done = std::mem::take(&mut self.cpu_done);
        {
            let Platform {
                insts,
                reqs,
                out,
                cpu_total_ns,
                ..
            } = self;
            let Some(i) = insts.get_mut(inst.index()) else {
                return;
            };
            let Some(c) = i.cpu.as_mut() else {
                return;
            };
            if c.armed == Some(scheduled) {
                c.armed = None;
            }
            let used = c.advance(now);
            i.cpu_ns += used;
            *cpu_total_ns += used;
            c.pop_done(&mut done);
            for d in done.drain(..) {
                let q = &mut reqs[d.req.index()];
                q.in_cpu = false;
                let mut ends_at = Time(now.0.saturating_add(d.wait_ns));
                let times_out = ends_at > q.deadline;
                if times_out {
                    ends_at = q.deadline.max(now);
                }
                out.push(Effect::Finish(Serve {
                    req: d.req,
                    inst,
                    ends_at,
                    times_out,
                }));
            }
            while let Some((t, r)) = c.earliest_deadline(|r| in_cpu_on(reqs, r, inst)) {
                if t > now {
                    break;
                }
                c.pop_deadline();
                c.remove(r);
                reqs[r.index()].in_cpu = false;
                out.push(Effect::Finish(Serve {
                    req: r,
                    inst,
                    ends_at: now,
                    times_out: true,
                }));
            }
        }
        self.cpu_done = done;
        self.arm_cpu(now, inst);
    }

    /// Brings the CPU meters of every instance of every revision to `now`.
    fn advance_all(&mut self, now: Time) {
        let Platform {
            revs,
            insts,
            cpu_total_ns,
            ..
        } = self;
        for rev in revs.iter() {
            for &i in &rev.alive {
                let x = &mut insts[i.index()];
                if let Some(c) = x.cpu.as_mut() {
                    let used = c.advance(now);
                    x.cpu_ns += used;
                    *cpu_total_ns += used;
                }
            }
        }
    }

    /// The whole-second CPU sample: each instance's CPU-nanoseconds in the last second, and
    /// each revision's utilisation over it.
    pub(super) fn sample_cpu(&mut self, now: Time) {
        self.advance_all(now);
        let Platform { revs, insts, .. } = self;
        for rev in revs.iter_mut() {
            let (mut used, mut vcpu_ns) = (0.0, 0.0);
            for &i in &rev.alive {
                let x = &mut insts[i.index()];
                let delta = (x.cpu_ns - x.cpu_second_mark).max(0.0);
                x.cpu_second_mark = x.cpu_ns;
                x.cpu_second_delta = delta;
                used += delta;
                vcpu_ns += x.vcpu * now.0.saturating_sub(x.created.0).min(super::SECOND) as f64;
            }
            rev.cpu_utilization = if vcpu_ns > 0.0 { used / vcpu_ns } else { 0.0 };
        }
    }

    /// CPU-seconds over vCPU-seconds alive since the previous bucket closed, at `end`.
    pub(super) fn bucket_cpu_utilization(&mut self, end: Time) -> f64 {
        self.advance_all(end);
        let area = self.vcpu_alive.area_at(end);
        let (cpu0, area0) = self.cpu_bucket_mark;
        self.cpu_bucket_mark = (self.cpu_total_ns, area);
        let vcpu_ns = area.saturating_sub(area0) as f64 / 1e6;
        if vcpu_ns > 0.0 {
            (self.cpu_total_ns - cpu0).max(0.0) / vcpu_ns
        } else {
            0.0
        }
    }

    /// CPU-seconds over vCPU-seconds alive over the whole run, at `end`.
    pub(super) fn mean_cpu_utilization(&mut self, end: Time) -> f64 {
        if !self.cpu_on {
            return 0.0;
        }
        self.advance_all(end);
        let vcpu_ns = self.vcpu_alive.area_at(end) as f64 / 1e6;
        if vcpu_ns > 0.0 {
            self.cpu_total_ns / vcpu_ns
        } else {
            0.0
        }
    }

    /// The driver measured that instance `inst`'s processes have used `total` of CPU time so
    /// far (scenario time: CPU-seconds scaled like wall time). For real processes
    /// ([`super::Config::measured_cpu`]); a total lower than the last one is ignored.
    pub fn on_cpu_usage(&mut self, _now: Time, inst: InstId, total: std::time::Duration) {
        let Some(x) = self.insts.get_mut(inst.index()) else {
            return;
        };
        let total = total.as_nanos() as f64;
        if total > x.cpu_ns {
            self.cpu_total_ns += total - x.cpu_ns;
            x.cpu_ns = total;
        }
        x.cpu_seen = true;
    }

    /// The CPU utilisation of revision `r`'s instances over the last whole second (0 without
    /// CPU work).
    pub fn cpu_utilization(&self, r: crate::ids::RevId) -> f64 {
        self.revs.get(r.index()).map_or(0.0, |x| x.cpu_utilization)
    }
}
