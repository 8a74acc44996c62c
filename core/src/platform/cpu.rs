//! The instance performance model: requests share their instance's vCPUs (MODELS.md §1).
//!
//! With `[service] cpu_share = s > 0`, a request whose uncontended service time is `S` carries
//! **CPU work** `x = s·S` (CPU-nanoseconds at one full vCPU) and **waiting** `w = (1 − s)·S`
//! (I/O, downstream calls; plus the modelled proxy hop, `[router] slot_overhead`). It runs its
//! CPU phase first, then waits: the order is an assumption (nothing published decides it; with
//! the waiting first, a request would hold its slot the same time on average but reach the
//! CPU later). An instance with `v` vCPUs and `n` requests in their CPU phase gives each the
//! rate `min(1, v / n)` — processor sharing over `v` servers, which Linux's CFS approximates
//! and DSLab FaaS's contended-CPU policy also uses. Waiting runs in real time.
//!
//! The model is kept per instance with the virtual-time technique of processor-sharing
//! simulators: a virtual clock `V` advances at the per-request rate `min(1, v / n)`; a request
//! entering its CPU phase at virtual time `V₀` with work `x` gets the finish tag `V₀ + x`, and
//! finishes its CPU phase when `V` reaches it, whatever arrives or leaves meanwhile. The tags
//! are a min-heap, so an arrival or a departure costs O(log n) and the instance needs ONE
//! pending timer: the real time at which `V` reaches the smallest tag (or the earliest
//! deadline of a request in its CPU phase), re-armed lazily — a timer whose time is no longer
//! the instance's next event fires, finds nothing due and re-arms.
//!
//! CPU use is metered as it goes: `min(n, v)` CPU-seconds per second. `v` is the configured
//! vCPUs; the startup CPU boost acts on start-up only (`cold_start_cpu_share`), not on requests
//! (a simplification: Cloud Run also boosts the first 10 s after start-up).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::ids::ReqId;
use crate::time::Time;

/// A request in its CPU phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Tag {
    /// The virtual time at which its CPU work is done (the bits of a non-negative f64, which
    /// order as the numbers do).
    finish: u64,
    req: ReqId,
    /// What it waits after its CPU phase, ns.
    wait_ns: u64,
}

/// A request whose CPU phase ended at the time of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Done {
    pub req: ReqId,
    pub wait_ns: u64,
}

/// One instance's CPU.
#[derive(Clone, Debug)]
pub(super) struct Cpu {
    /// vCPUs.
    vcpu: f64,
    /// The share of a request's service time that is CPU work.
    pub share: f64,
    /// Requests in their CPU phase.
    n: u32,
    /// Virtual time: CPU-nanoseconds of work each CPU-phase request has received since the
    /// instance last had none (reset then, so it stays small and precise).
    vt: f64,
    /// When `vt` was last advanced.
    at: Time,
    tags: BinaryHeap<Reverse<Tag>>,
    /// Deadlines of requests in their CPU phase; entries of requests that left are dropped
    /// when they reach the top.
    deadlines: BinaryHeap<Reverse<(Time, ReqId)>>,
    /// The earliest time a timer of this instance is pending for.
    pub armed: Option<Time>,
}

impl Cpu {
    /// An idle CPU of `vcpu` vCPUs at `now`.
    pub fn new(now: Time, vcpu: f64, share: f64) -> Cpu {
        Cpu {
            vcpu,
            share,
            n: 0,
            vt: 0.0,
            at: now,
            tags: BinaryHeap::new(),
            deadlines: BinaryHeap::new(),
            armed: None,
        }
    }

    /// Requests in their CPU phase.
    #[cfg(test)]
    pub fn running(&self) -> u32 {
        self.n
    }

    /// The rate each CPU-phase request progresses at.
    #[inline]
    fn rate(&self) -> f64 {
        if self.n == 0 {
            1.0
        } else {
            (self.vcpu / f64::from(self.n)).min(1.0)
        }
    }

    /// Brings the virtual clock to `now`; returns the CPU-nanoseconds used since the last call.
    #[inline]
    pub fn advance(&mut self, now: Time) -> f64 {
        if now <= self.at {
            return 0.0;
        }
        let dt = (now.0 - self.at.0) as f64;
        self.at = now;
        if self.n == 0 {
            return 0.0;
        }
        self.vt += dt * self.rate();
        dt * f64::from(self.n).min(self.vcpu)
    }

    /// A request starts its CPU phase at `now` (advance first) with `work_ns` of CPU work; it
    /// then waits `wait_ns`, and times out at `deadline`.
    pub fn push(&mut self, req: ReqId, work_ns: f64, wait_ns: u64, deadline: Time) {
        if self.n == 0 {
            self.vt = 0.0;
        }
        self.n += 1;
        let finish = (self.vt + work_ns).to_bits();
        self.tags.push(Reverse(Tag {
            finish,
            req,
            wait_ns,
        }));
        self.deadlines.push(Reverse((deadline, req)));
    }

    /// Takes every request whose CPU work is done at the current time (within half a
    /// nanosecond of real time) into `out`.
    pub fn pop_done(&mut self, out: &mut Vec<Done>) {
        while let Some(Reverse(t)) = self.tags.peek() {
            let left = f64::from_bits(t.finish) - self.vt;
            if left / self.rate() >= 0.5 {
                break;
            }
            let t = *t;
            self.tags.pop();
            self.n -= 1;
            out.push(Done {
                req: t.req,
                wait_ns: t.wait_ns,
            });
        }
        if self.n == 0 {
            self.deadlines.clear();
        }
    }

    /// Takes request `req` out of its CPU phase before its work is done (it timed out, or its
    /// instance failed it). O(n); not on the normal path.
    pub fn remove(&mut self, req: ReqId) -> bool {
        let before = self.tags.len();
        self.tags.retain(|Reverse(t)| t.req != req);
        let removed = self.tags.len() < before;
        if removed {
            self.n -= 1;
            if self.n == 0 {
                self.deadlines.clear();
            }
        }
        removed
    }

    /// The earliest deadline of a request still in its CPU phase, `live` telling which are.
    pub fn earliest_deadline(&mut self, live: impl Fn(ReqId) -> bool) -> Option<(Time, ReqId)> {
        while let Some(&Reverse((t, r))) = self.deadlines.peek() {
            if live(r) {
                return Some((t, r));
            }
            self.deadlines.pop();
        }
        None
    }

    /// Drops the top deadline (its request was handled).
    pub fn pop_deadline(&mut self) {
        self.deadlines.pop();
    }

    /// When the next CPU phase ends at the current rate, if any.
    pub fn next_completion(&self) -> Option<Time> {
        let Reverse(t) = self.tags.peek()?;
        let left = (f64::from_bits(t.finish) - self.vt).max(0.0);
        let ns = (left / self.rate()).ceil();
        Some(Time(
            self.at.0.saturating_add(ns.min(u64::MAX as f64) as u64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: u32) -> ReqId {
        ReqId::new(n, 0)
    }

    fn done_at(c: &mut Cpu, now: Time) -> Vec<u32> {
        c.advance(now);
        let mut out = Vec::new();
        c.pop_done(&mut out);
        out.iter().map(|d| d.req.slot()).collect()
    }

    #[test]
    fn two_requests_on_one_vcpu_share_it() {
        let mut c = Cpu::new(Time::ZERO, 1.0, 1.0);
        c.push(req(1), 100.0, 0, Time::MAX);
        assert_eq!(c.next_completion(), Some(Time(100)));
        // At 50 a second request of 100 arrives: both at half speed.
        assert_eq!(c.advance(Time(50)), 50.0);
        c.push(req(2), 100.0, 0, Time::MAX);
        // The first has 50 left at rate 1/2: done at 150.
        assert_eq!(c.next_completion(), Some(Time(150)));
        assert!(done_at(&mut c, Time(149)).is_empty());
        assert_eq!(done_at(&mut c, Time(150)), [1]);
        // The second got 50 of 100; alone again: 50 more.
        assert_eq!(c.next_completion(), Some(Time(200)));
        assert_eq!(done_at(&mut c, Time(200)), [2]);
        assert_eq!(c.running(), 0);
    }

    #[test]
    fn more_vcpus_than_requests_run_at_full_speed() {
        let mut c = Cpu::new(Time::ZERO, 2.0, 1.0);
        c.push(req(1), 100.0, 0, Time::MAX);
        c.push(req(2), 100.0, 0, Time::MAX);
        assert_eq!(c.next_completion(), Some(Time(100)));
        c.push(req(3), 100.0, 0, Time::MAX);
        // Three on two vCPUs: 2/3 each.
        assert_eq!(c.next_completion(), Some(Time(150)));
        let used = c.advance(Time(150));
        assert_eq!(used, 300.0, "two vCPUs busy for 150 ns");
        let mut out = Vec::new();
        c.pop_done(&mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn a_removed_request_gives_its_share_back() {
        let mut c = Cpu::new(Time::ZERO, 1.0, 1.0);
        c.push(req(1), 100.0, 0, Time(70));
        c.push(req(2), 100.0, 0, Time(500));
        assert_eq!(c.earliest_deadline(|_| true), Some((Time(70), req(1))));
        c.advance(Time(70));
        assert!(c.remove(req(1)));
        assert!(!c.remove(req(1)));
        assert_eq!(
            c.earliest_deadline(|r| r != req(1)),
            Some((Time(500), req(2)))
        );
        // The second got 35 by 70; 65 more alone.
        assert_eq!(c.next_completion(), Some(Time(135)));
    }
}
