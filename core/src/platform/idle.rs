//! Idle seconds cost nothing: a driver may process a run of whole seconds in which nothing
//! can change at once.
//!
//! The whole-second timer ([`Timer::Second`](super::Timer)) closes the time series' buckets,
//! scrapes every KPA revision and ticks its decider on even seconds. A keepalive revision has
//! no periodic work at all (its expiries are timers of their own), and a KPA revision at zero
//! with no traffic scrapes nothing and its decider has no data, so its ticks decide nothing
//! and only count. When every revision is in that state, no second changes anything but the
//! counters until the next transition: a driver that knows when its next event is may call
//! [`Platform::skip_seconds`] instead of delivering each second, with the same results
//! (the simulator does, keeping the timer's place among events at the same time exactly as
//! when ticking; the live runtime ticks).

use crate::time::Time;

use super::{InstState, Kind, Platform, Rev, SECOND};
use crate::autoscaler::metrics::Stat;

impl Platform {
    /// True when the whole second at `at` (the pending `Timer::Second`) changes nothing but
    /// counters, and so does every later one until the next transition: every keepalive
    /// revision (no periodic work), and every KPA revision with no instance, nothing queued
    /// and its activator and decider without data.
    ///
    /// A KPA revision whose windows still hold data is idle too when that data is all zeros
    /// and its decision from them is the one it shows ([`Decider::quiet`]): its ticks are
    /// valid but decide what was decided, until the stable window empties (then they have no
    /// data). Not with the event log on, which has a line for every valid tick.
    ///
    /// [`Decider::quiet`]: crate::autoscaler::decider::Decider::quiet
    pub fn second_is_idle(&self, at: Time) -> bool {
        self.revs.iter().enumerate().all(|(i, r)| match &r.kind {
            Kind::Keepalive { .. } => true,
            // Cloud Run's per-second samples and the HPA's syncs are never skipped.
            Kind::CloudRun { .. } | Kind::Hpa { .. } => false,
            Kind::Kpa {
                decider, activator, ..
            } => {
                if r.waiting_cold != 0 || r.router.queued() != 0 || !activator.is_idle() {
                    return false;
                }
                if r.alive.is_empty() {
                    decider.without_data(at) || self.kpa_quiet(r, i, at)
                } else {
                    self.one_quiet_pod(r).is_some() && self.kpa_quiet(r, i, at)
                }
            }
        })
    }

    /// Revision `r` (index `i`, KPA) decides at `at`, and at every later tick while nothing is
    /// recorded into its windows but zeros, what it shows now ([`Decider::quiet`]), and nothing
    /// would note the ticks (the event log has a line for every valid one).
    ///
    /// [`Decider::quiet`]: crate::autoscaler::decider::Decider::quiet
    fn kpa_quiet(&self, r: &Rev, i: usize, at: Time) -> bool {
        let Kind::Kpa { decider, .. } = &r.kind else {
            return false;
        };
        let status = decider.status();
        !self.cfg.log_events
            && !r.panic
            && status.desired_scale >= 0
            && r.desired == status.desired_scale as u64
            && r.excess_burst_capacity == status.excess_burst_capacity
            && decider.quiet(at, r.ready, self.deploy[i].reachable)
    }

    /// The instance of a KPA revision `r` whose one instance is ready, idle and has measured
    /// nothing since its last report: its scrapes report zeros (a sample of one pod draws no
    /// random number), recorded into the windows each second ([`skip_seconds`] does that in
    /// a loop). Not with the CPU model, which samples each second.
    ///
    /// [`skip_seconds`]: Self::skip_seconds
    fn one_quiet_pod(&self, r: &Rev) -> Option<usize> {
        if self.cpu_on || r.alive.len() != 1 {
            return None;
        }
        let k = r.alive[0].index();
        let inst = &self.insts[k];
        (inst.state == InstState::Ready && inst.busy == 0 && inst.meter.is_quiet()).then_some(k)
    }

    /// Processes `count` (≥ 1) whole seconds from `from` (the pending `Timer::Second`'s) at
    /// once, as `count` deliveries of the timer would, after
    /// [`second_is_idle`](Self::second_is_idle)`(from)` said they change nothing: the series'
    /// buckets close, the KPA ticks count. Returns the next whole second to schedule, or
    /// `None` when the timer ends (its `Timer::Second` is not emitted as an effect: the
    /// driver schedules it itself), with the last second processed.
    pub fn skip_seconds(&mut self, from: Time, count: u64) -> (Time, Option<Time>) {
        debug_assert!(count >= 1 && from.0.is_multiple_of(SECOND));
        let first = from.0 / SECOND;
        let mut last = first + count - 1;
        // The timer stops being scheduled after the first second at or past `seconds_until`.
        let stop = self.cfg.seconds_until.0.div_ceil(SECOND).max(first);
        last = last.min(stop);
        let n_secs = last - first + 1;
        self.stats.seconds_skipped += n_secs;
        self.roll_series(Time(last * SECOND));
        // A KPA revision with one quiet pod: each second's scrape recorded zeros (and cut
        // the pod's report).
        if self.timed_revisions > 0 {
            for ri in 0..self.revs.len() {
                if !self.deploy[ri].exists || !matches!(self.revs[ri].kind, Kind::Kpa { .. }) {
                    continue;
                }
                let Some(k) = self.one_quiet_pod(&self.revs[ri]) else {
                    continue;
                };
                self.insts[k].meter.report(Time(last * SECOND));
                if let Kind::Kpa { decider, .. } = &mut self.revs[ri].kind {
                    let zero = Stat::default();
                    for sec in first..=last {
                        decider.record(Time(sec * SECOND), &zero);
                    }
                }
            }
        }
        if self.timed_revisions > 0 {
            let first_even = first + first % 2;
            if first_even <= last {
                let n = (last - first_even) / 2 + 1;
                let at = Time((first_even + 2 * (n - 1)) * SECOND);
                for rev in &mut self.revs {
                    if matches!(rev.kind, Kind::Kpa { .. }) {
                        rev.counters.ticks += n;
                        self.t.ticks += n;
                        rev.decided_at = rev.decided_at.max(at);
                    }
                }
            }
        }
        let last_t = Time(last * SECOND);
        self.next_second = if !self.closing && last_t < self.cfg.seconds_until {
            Some(Time(last_t.0 + SECOND))
        } else {
            None
        };
        (last_t, self.next_second)
    }
}
