//! Deploys as events: revisions that appear during the run, their readiness, traffic changes
//! ([`crate::router::rollout`]'s steps as [`Timer::Rollout`] timers), header routes before the
//! split, the KPA's reachability, and what each revision and each rollout measured.
//!
//! ```text
//!   Timer::Create(r) at created_at ─▶ the revision exists: its initial instances start
//!   its initial instances ready    ─▶ the revision is Ready (once; it stays Ready)
//!   Timer::Rollout(i) at `at`      ─▶ requested: the previous rollout is superseded, a new
//!                                     measurement window opens; starts once every revision
//!                                     gaining traffic is Ready
//!   start                          ─▶ first split of the plan (1 %, or all of it at once)
//!   Timer::Rollout(i) at each step ─▶ the next split of the plan, until the target
//! ```
//!
//! A scenario without `created_at` and `[[rollouts]]` schedules none of these timers, so its
//! run is the same event for event.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::billing::Meter;
use crate::event::Event;
use crate::ids::RevId;
use crate::measure::{Integral, LatencyHist};
use crate::result::{
    AutoscalerStats, ColdStarts, Cost, Instances, Requests, RevisionResult, RevisionSeries,
    RolloutResult, TrafficPoint, VariantResult,
};
use crate::router::TrafficSplit;
use crate::router::rollout::{Step, plan};
use crate::time::Time;

use super::{Effect, Kind, Platform, Timer};

/// What a revision measures of its own. Kept only when the scenario has several revisions
/// (with one, the revision's figures are the run's): every update is an increment or an
/// integral step on the revision the transition already touches.
#[derive(Default)]
pub(super) struct RevTally {
    pub completed: u64,
    pub rejected: u64,
    pub timed_out: u64,
    pub delayed: u64,
    /// Completed requests' latencies (allocated on the first one).
    pub latency: Option<Box<LatencyHist>>,
    pub alive: Integral,
    pub idle_ready: Integral,
    /// 1 while the revision exists with no instance.
    pub at_zero: Integral,
    pub panic: Integral,
    pub panic_episodes: u64,
    pub peak: u64,
    pub scale_to_zero_events: u64,
    /// Arrivals in the current series bucket.
    pub bucket_arrivals: u64,
    pub series: RevisionSeries,
}

/// A revision's deploy state.
pub(super) struct RevDeploy {
    /// When it is created.
    pub created_at: Time,
    /// It has been created.
    pub exists: bool,
    /// Instances that must have become ready for the revision to be Ready.
    pub ready_target: u32,
    /// Instances of it that have become ready so far.
    pub ever_ready: u32,
    /// When it became Ready.
    pub ready_since: Option<Time>,
    /// A tag or a route reaches it whatever the split says.
    pub pinned: bool,
    /// Traffic, a tag or a route reaches it (Knative's PA reachability: an unreachable
    /// revision's KPA ignores min-scale and scale-down delay).
    pub reachable: bool,
    /// Newer revisions give up traffic first: (created_at, index).
    pub age: u64,
    /// Its configured share over time.
    pub traffic: Vec<TrafficPoint>,
}

/// Counters at the start of a rollout's window.
#[derive(Clone, Copy, Debug, Default)]
struct Snap {
    arrived: u64,
    cold_starts: u64,
    delayed: u64,
    errors: u64,
    instance_s: f64,
}

/// One `[[rollouts]]` entry as it runs.
pub(super) struct RolloutRun {
    requested: Time,
    target: Vec<f64>,
    duration: Duration,
    requested_done: bool,
    started: Option<Time>,
    finished: Option<Time>,
    superseded: Option<Time>,
    steps: Vec<Step>,
    next: usize,
    applied: u64,
    /// Revisions losing and gaining traffic (from the split when it was requested).
    losing: Vec<bool>,
    gaining: Vec<bool>,
    start: Snap,
    end: Option<(Time, Snap)>,
    overlap: Integral,
    meter_start: Option<Meter>,
    meter_end: Option<Meter>,
}

impl Platform {
    /// The deploy state of each revision, the rollouts, and the timers they need.
    pub(super) fn init_deploy(&mut self, s: &crate::scenario::Scenario) {
        let routed: Vec<bool> = (0..s.revisions.len())
            .map(|r| s.routes.iter().any(|x| x.revision_index == r))
            .collect();
        self.deploy = s
            .revisions
            .iter()
            .enumerate()
            .map(|(r, rev)| {
                let created_at = Time::ZERO + rev.created_at;
                let pinned = rev.tag.is_some() || routed[r];
                RevDeploy {
                    created_at,
                    exists: rev.created_at.is_zero(),
                    ready_target: 0,
                    ever_ready: 0,
                    ready_since: None,
                    pinned,
                    reachable: pinned || rev.traffic_percent > 0.0,
                    age: created_at.0,
                    traffic: vec![TrafficPoint {
                        t_s: 0.0,
                        percent: rev.traffic_percent,
                    }],
                }
            })
            .collect();
        self.split_percents = s.revisions.iter().map(|r| r.traffic_percent).collect();
        self.routes = s
            .routes
            .iter()
            .map(|r| {
                (
                    r.header.clone(),
                    r.value.clone(),
                    RevId(r.revision_index as u16),
                )
            })
            .collect();
        self.class_routes = s
            .request_classes
            .iter()
            .map(|c| {
                s.routes
                    .iter()
                    .filter(|r| c.header(&r.header) == Some(r.value.as_str()))
                    .map(|r| RevId(r.revision_index as u16))
                    .collect()
            })
            .collect();
        self.rollouts = s
            .rollouts
            .iter()
            .map(|ro| RolloutRun {
                requested: Time::ZERO + ro.at,
                target: ro.percents(),
                duration: ro.duration,
                requested_done: false,
                started: None,
                finished: None,
                superseded: None,
                steps: Vec::new(),
                next: 0,
                applied: 0,
                losing: Vec::new(),
                gaining: Vec::new(),
                start: Snap::default(),
                end: None,
                overlap: Integral::default(),
                meter_start: None,
                meter_end: None,
            })
            .collect();
    }

    /// Boot's part for revisions and rollouts that come later: their timers.
    pub(super) fn schedule_deploys(&mut self, now: Time) {
        for r in 0..self.deploy.len() {
            let d = &self.deploy[r];
            if !d.exists {
                let at = d.created_at.max(now);
                self.out.push(Effect::Timer {
                    at,
                    timer: Timer::Create(RevId(r as u16)),
                });
            }
        }
        for i in 0..self.rollouts.len() {
            let at = self.rollouts[i].requested.max(now);
            self.out.push(Effect::Timer {
                at,
                timer: Timer::Rollout(i as u16),
            });
        }
    }

    /// The earliest creation, rollout request or rollout step still to come.
    pub(super) fn next_deploy_deadline(&self) -> Option<Time> {
        let created = self
            .deploy
            .iter()
            .filter(|d| !d.exists && !self.closing)
            .map(|d| d.created_at);
        let requested = self
            .rollouts
            .iter()
            .filter(|r| !r.requested_done)
            .map(|r| r.requested);
        let step = self
            .active_rollout
            .and_then(|i| self.rollouts[i].steps.get(self.rollouts[i].next))
            .map(|s| s.at);
        created.chain(requested).chain(step).min()
    }

    /// Whether revision `r` exists (it may not yet: `created_at`).
    pub fn revision_exists(&self, r: RevId) -> bool {
        self.deploy.get(r.index()).is_some_and(|d| d.exists)
    }

    /// Whether revision `r` is Ready (its initial instances have been up).
    pub fn revision_ready(&self, r: RevId) -> bool {
        self.deploy
            .get(r.index())
            .is_some_and(|d| d.ready_since.is_some())
    }

    /// The current percentage split, one entry per revision.
    pub fn split(&self) -> &[f64] {
        &self.split_percents
    }

    /// The revision the routes send a request of class `class` (`[[workload.request_classes]]`
    /// index) to: the first route whose header the class carries with the route's value and
    /// whose revision is Ready. `None`: the percentage split decides.
    #[inline]
    pub fn route_class(&self, class: usize) -> Option<RevId> {
        self.class_routes
            .get(class)?
            .iter()
            .copied()
            .find(|&r| self.revision_ready(r))
    }

    /// The revision the routes send a request to, given its headers (`get` returns a header's
    /// value by lowercase name): the first matching route whose revision is Ready. `None`: the
    /// percentage split decides.
    pub fn route_headers<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> Option<RevId> {
        self.routes
            .iter()
            .find(|(h, v, r)| get(h) == Some(v.as_str()) && self.revision_ready(*r))
            .map(|(_, _, r)| *r)
    }

    /// Whether the platform has header routes.
    pub fn has_routes(&self) -> bool {
        !self.routes.is_empty()
    }

    // ---- revisions ----

    /// `Timer::Create`: revision `r` comes into existence and starts its initial instances.
    pub(super) fn create_revision(&mut self, now: Time, r: RevId) {
        let d = &mut self.deploy[r.index()];
        if d.exists || self.closing {
            return;
        }
        d.exists = true;
        if self.multi {
            self.revs[r.index()].rt.at_zero.set(now, 1);
        }
        self.log(|p| Event::RevisionCreated {
            revision: p.revs[r.index()].name.clone(),
        });
        self.boot_revision(now, r, false);
    }

    /// Starts revision `r`'s initial instances (KPA: the initial scale; keepalive: its
    /// minimum) and reconciles; the revision is Ready once that many have been ready.
    pub(super) fn boot_revision(&mut self, now: Time, r: RevId, warm: bool) {
        let target = match &mut self.revs[r.index()].kind {
            Kind::Kpa { scaler, .. } => {
                let n = scaler.replicas();
                for _ in 0..n {
                    self.create_instance(now, r, None, warm);
                }
                self.reconcile(now, r);
                n
            }
            Kind::Keepalive { pool, .. } => {
                let ids = pool.ensure_min();
                let n = ids.len() as u32;
                for id in ids {
                    self.create_instance(now, r, Some(id), warm);
                }
                n
            }
            Kind::CloudRun { cr, .. } => {
                let n = cr.settings().min_scale;
                self.revs[r.index()].desired = u64::from(n);
                for _ in 0..n {
                    self.create_instance(now, r, None, warm);
                }
                n
            }
            Kind::Hpa { hpa } => {
                let n = hpa.initial();
                self.revs[r.index()].desired = u64::from(n);
                for _ in 0..n {
                    self.create_instance(now, r, None, warm);
                }
                n
            }
        };
        self.deploy[r.index()].ready_target = target;
        if target == 0 {
            self.revision_became_ready(now, r);
        }
    }

    /// An instance of `r` became ready: the revision may now be Ready.
    #[inline]
    pub(super) fn count_ready(&mut self, now: Time, r: RevId) {
        let d = &mut self.deploy[r.index()];
        d.ever_ready = d.ever_ready.saturating_add(1);
        if d.ready_since.is_none() && d.ever_ready >= d.ready_target {
            self.revision_became_ready(now, r);
        }
    }

    fn revision_became_ready(&mut self, now: Time, r: RevId) {
        self.deploy[r.index()].ready_since = Some(now);
        if self.rollouts.is_empty() && self.routes.is_empty() {
            return;
        }
        self.log(|p| Event::RevisionReady {
            revision: p.revs[r.index()].name.clone(),
        });
        self.try_start_rollout(now);
    }

    // ---- rollouts ----

    /// `Timer::Rollout(i)`: its request, or one of its steps.
    pub(super) fn on_rollout_timer(&mut self, now: Time, i: usize) {
        let Some(ro) = self.rollouts.get(i) else {
            return;
        };
        if !ro.requested_done {
            if now >= ro.requested {
                self.request_rollout(now, i);
            }
            return;
        }
        if self.active_rollout == Some(i) {
            self.step_rollout(now, i);
        }
    }

    fn request_rollout(&mut self, now: Time, i: usize) {
        // The latest request wins: an earlier rollout still waiting or moving stops here.
        for j in [self.pending_rollout.take(), self.active_rollout.take()]
            .into_iter()
            .flatten()
        {
            self.rollouts[j].superseded = Some(now);
        }
        if let Some(w) = self.window.take() {
            self.close_window(now, w, true);
        }
        let snap = self.snap(now);
        let meter = self.billing.clone();
        let split = self.split_percents.clone();
        let ro = &mut self.rollouts[i];
        ro.requested_done = true;
        ro.gaining = split.iter().zip(&ro.target).map(|(c, t)| t > c).collect();
        ro.losing = split.iter().zip(&ro.target).map(|(c, t)| t < c).collect();
        ro.start = snap;
        ro.meter_start = Some(meter);
        self.window = Some(i);
        self.track_overlap(now);
        self.pending_rollout = Some(i);
        let target = self.named(&self.rollouts[i].target);
        self.log(|_| Event::RolloutRequested {
            rollout: i,
            traffic: target,
        });
        self.try_start_rollout(now);
    }

    /// Starts the pending rollout once every revision gaining traffic is Ready.
    fn try_start_rollout(&mut self, now: Time) {
        let Some(i) = self.pending_rollout else {
            return;
        };
        if self.closing {
            return;
        }
        let ro = &self.rollouts[i];
        let waiting = ro
            .target
            .iter()
            .zip(&self.split_percents)
            .enumerate()
            .any(|(r, (t, c))| t > c && self.deploy[r].ready_since.is_none());
        if waiting {
            return;
        }
        self.pending_rollout = None;
        let age: Vec<u64> = self.deploy.iter().map(|d| d.age).collect();
        let steps = plan(
            now,
            &self.split_percents,
            &self.rollouts[i].target,
            &age,
            self.rollouts[i].duration,
        );
        let ro = &mut self.rollouts[i];
        ro.started = Some(now);
        ro.steps = steps;
        ro.next = 0;
        self.log(|_| Event::RolloutStarted { rollout: i });
        self.active_rollout = Some(i);
        self.step_rollout(now, i);
    }

    /// Applies the steps of rollout `i` that are due and asks for a timer at the next one.
    fn step_rollout(&mut self, now: Time, i: usize) {
        loop {
            let ro = &self.rollouts[i];
            let Some(step) = ro.steps.get(ro.next) else {
                break;
            };
            if step.at > now {
                let at = step.at;
                self.out.push(Effect::Timer {
                    at,
                    timer: Timer::Rollout(i as u16),
                });
                return;
            }
            let percents = step.percents.clone();
            let ro = &mut self.rollouts[i];
            ro.next += 1;
            ro.applied += 1;
            self.set_split(now, percents);
        }
        let ro = &mut self.rollouts[i];
        ro.finished = Some(now);
        self.active_rollout = None;
        self.log(|_| Event::RolloutFinished { rollout: i });
    }

    /// The percentage split from now on; revisions whose reachability changes are reconciled.
    pub(super) fn set_split(&mut self, now: Time, percents: Vec<f64>) {
        let t_s = now.as_secs_f64();
        for (r, (&new, old)) in percents.iter().zip(&self.split_percents).enumerate() {
            if new != *old {
                let d = &mut self.deploy[r];
                match d.traffic.last_mut() {
                    Some(last) if last.t_s == t_s => last.percent = new,
                    _ => d.traffic.push(TrafficPoint { t_s, percent: new }),
                }
            }
        }
        self.split = TrafficSplit::new(&percents);
        self.split_percents = percents;
        for r in 0..self.deploy.len() {
            let d = &mut self.deploy[r];
            let reachable = d.pinned || self.split_percents[r] > 0.0;
            if reachable != d.reachable {
                d.reachable = reachable;
                if d.exists && matches!(self.revs[r].kind, Kind::Kpa { .. }) {
                    self.request_reconcile(now, RevId(r as u16));
                }
            }
        }
        let traffic = self.named(&self.split_percents);
        self.log(|_| Event::TrafficChanged { traffic });
    }

    fn named(&self, percents: &[f64]) -> BTreeMap<String, f64> {
        self.revs
            .iter()
            .zip(percents)
            .filter(|(_, p)| **p > 0.0)
            .map(|(r, p)| (r.name.clone(), *p))
            .collect()
    }

    // ---- rollout windows ----

    fn snap(&self, now: Time) -> Snap {
        Snap {
            arrived: self.t.arrived,
            cold_starts: self.t.cold_starts,
            delayed: self.t.delayed,
            errors: self.t.rejected + self.t.timed_out,
            instance_s: self.t.alive.total_secs(now),
        }
    }

    /// Ends rollout `w`'s window at `now`; `keep_meter`: the run goes on, so the bill at the
    /// window's end is kept aside.
    fn close_window(&mut self, now: Time, w: usize, keep_meter: bool) {
        let snap = self.snap(now);
        let meter = keep_meter.then(|| self.billing.clone());
        let ro = &mut self.rollouts[w];
        ro.overlap.set(now, 0);
        ro.end = Some((now, snap));
        ro.meter_end = meter;
    }

    /// Brings the open window's overlap level up to date (an instance of a revision started
    /// or stopped).
    #[inline]
    pub(super) fn track_overlap(&mut self, now: Time) {
        let Some(w) = self.window else { return };
        let (mut losing, mut gaining) = (0u64, 0u64);
        let ro = &self.rollouts[w];
        for (r, rev) in self.revs.iter().enumerate() {
            let n = rev.alive.len() as u64;
            if ro.losing[r] {
                losing += n;
            }
            if ro.gaining[r] {
                gaining += n;
            }
        }
        self.rollouts[w].overlap.set(now, losing.min(gaining));
    }

    // ---- results ----

    /// The `revisions` and `rollouts` sections at `end`, from the totals `v` and the bills.
    pub(super) fn deploy_results(
        &mut self,
        v: &mut VariantResult,
        end: Time,
        by_rev: Vec<BTreeMap<String, Cost>>,
        total_cost: &BTreeMap<String, Cost>,
    ) {
        if let Some(w) = self.window.take() {
            self.close_window(end, w, false);
        }
        let end_s = end.as_secs_f64();
        let mut revisions = Vec::with_capacity(self.revs.len());
        for (r, bills) in by_rev.into_iter().enumerate() {
            let rev = &self.revs[r];
            let d = &self.deploy[r];
            let life_s = end.saturating_since(d.created_at).as_secs_f64().max(1e-9);
            let mut out = if self.multi {
                let rt = &rev.rt;
                let arrived = rev.counters.arrived;
                let alive_s = rt.alive.total_secs(end);
                RevisionResult {
                    requests: Requests {
                        arrived,
                        completed: rt.completed,
                        rejected: rt.rejected,
                        timed_out: rt.timed_out,
                        in_flight_at_end: rev.in_system,
                    },
                    latency_ms: rt.latency.as_ref().map(|h| h.summary()).unwrap_or_default(),
                    cold_starts: ColdStarts {
                        count: rev.counters.cold_starts,
                        requests_delayed: rt.delayed,
                        ratio: if arrived > 0 {
                            rt.delayed as f64 / arrived as f64
                        } else {
                            0.0
                        },
                    },
                    instances: Instances {
                        peak: rt.peak,
                        mean: alive_s / life_s,
                        instance_seconds: alive_s,
                        idle_instance_seconds: rt.idle_ready.total_secs(end),
                        time_at_zero_s: rt.at_zero.total_secs(end),
                        scale_to_zero_events: rt.scale_to_zero_events,
                        mean_cpu_utilization: if self.cpu_on && alive_s > 0.0 {
                            // Instances are never reused: their CPU totals are the revision's.
                            let cpu_ns: f64 = self
                                .insts
                                .iter()
                                .filter(|i| i.rev.index() == r)
                                .map(|i| i.cpu_ns)
                                .sum();
                            cpu_ns / (rev.vcpu * alive_s * 1e9)
                        } else {
                            0.0
                        },
                    },
                    autoscaler: AutoscalerStats {
                        ticks: rev.counters.ticks,
                        panic_episodes: rt.panic_episodes,
                        panic_seconds: rt.panic.total_secs(end),
                    },
                    series: Some(rt.series.clone()),
                    ..RevisionResult::default()
                }
            } else {
                RevisionResult {
                    requests: v.requests,
                    latency_ms: v.latency_ms,
                    cold_starts: v.cold_starts,
                    instances: v.instances,
                    autoscaler: v.autoscaler,
                    ..RevisionResult::default()
                }
            };
            out.name = rev.name.clone();
            out.created_at_s = d.created_at.as_secs_f64();
            out.ready_at_s = d.ready_since.map(Time::as_secs_f64);
            out.traffic = d.traffic.clone();
            out.cost = bills;
            if self.multi {
                let r = &out.requests;
                if r.arrived != r.completed + r.rejected + r.timed_out + r.in_flight_at_end {
                    let msg = format!(
                        "conservation of revision {}: arrived {} != completed {} + rejected {} + \
                         timed out {} + in flight {}",
                        out.name,
                        r.arrived,
                        r.completed,
                        r.rejected,
                        r.timed_out,
                        r.in_flight_at_end
                    );
                    self.violation(end, msg);
                }
            }
            revisions.push(out);
        }
        let arrived: u64 = revisions.iter().map(|r| r.requests.arrived).sum();
        if arrived != v.requests.arrived {
            let msg = format!(
                "the revisions' arrivals add up to {arrived}, not the run's {}",
                v.requests.arrived
            );
            self.violation(end, msg);
        }
        let mut rollouts = Vec::with_capacity(self.rollouts.len());
        for ro in std::mem::take(&mut self.rollouts) {
            let (window_end, last) = ro.end.unwrap_or((end, self.snap(end)));
            let requested = ro.requested_done;
            let d = |a: u64, b: u64| if requested { a.saturating_sub(b) } else { 0 };
            let start_cost = ro.meter_start.map(|m| m.finish(ro.requested));
            let end_cost = match ro.meter_end {
                Some(m) => m.finish(window_end),
                None => total_cost.clone(),
            };
            let arrived = d(last.arrived, ro.start.arrived);
            let cost = match start_cost {
                Some(start) => cost_between(&start, &end_cost, arrived),
                None => BTreeMap::new(),
            };
            rollouts.push(RolloutResult {
                requested_s: ro.requested.as_secs_f64(),
                started_s: ro.started.map(Time::as_secs_f64),
                finished_s: ro.finished.map(Time::as_secs_f64),
                superseded_s: ro.superseded.map(Time::as_secs_f64),
                traffic: self.named(&ro.target),
                duration_s: ro.duration.as_secs_f64(),
                steps: ro.applied,
                window_end_s: if requested {
                    window_end.as_secs_f64()
                } else {
                    ro.requested.as_secs_f64().min(end_s)
                },
                arrived,
                cold_starts: d(last.cold_starts, ro.start.cold_starts),
                requests_delayed: d(last.delayed, ro.start.delayed),
                errors: d(last.errors, ro.start.errors),
                instance_seconds: if requested {
                    (last.instance_s - ro.start.instance_s).max(0.0)
                } else {
                    0.0
                },
                overlap_instance_seconds: ro.overlap.total_secs(window_end),
                cost,
            });
        }
        v.revisions = revisions;
        v.rollouts = Some(rollouts);
    }
}

/// The bill of a window: each model's bill at its end less the bill at its start.
fn cost_between(
    start: &BTreeMap<String, Cost>,
    end: &BTreeMap<String, Cost>,
    arrived: u64,
) -> BTreeMap<String, Cost> {
    end.iter()
        .map(|(name, e)| {
            let s = start.get(name).cloned().unwrap_or_default();
            let sub = |a: f64, b: f64| (a - b).max(0.0);
            let total = sub(e.total_usd, s.total_usd);
            let c = Cost {
                total_usd: total,
                per_million_requests_usd: if arrived > 0 {
                    total / arrived as f64 * 1e6
                } else {
                    0.0
                },
                cpu_usd: sub(e.cpu_usd, s.cpu_usd),
                memory_usd: sub(e.memory_usd, s.memory_usd),
                requests_usd: sub(e.requests_usd, s.requests_usd),
                idle_usd: sub(e.idle_usd, s.idle_usd),
                billable_seconds: sub(e.billable_seconds, s.billable_seconds),
                extra: BTreeMap::new(),
            };
            (name.clone(), c)
        })
        .collect()
}
