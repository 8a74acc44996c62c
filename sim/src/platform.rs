//! The simulator's driver of the platform state machine ([`scalelab_core::platform`]): it keeps
//! virtual time in one event queue and turns the platforms' effects into events. Every decision
//! (routing, scaling, lifecycle, billing, measurements) is taken by `scalelab-core`, the same
//! code the live runtime drives.
//!
//! A scenario runs as a fleet of services: one [`platform::Platform`] per service (a
//! single-service scenario is a fleet of one), all in one queue, each event carrying its
//! service's index. Services do not share anything on an unbounded cluster, so each one's
//! results are those of the service run alone.
//!
//! | effect | becomes |
//! |---|---|
//! | `StartInstance { cold, .. }` | the instance's readiness, `cold` from now |
//! | `StopInstance { shutdown, .. }` | the instance's end, `shutdown` from now |
//! | `Serve(s)` | the request's end at `s.ends_at` (a timeout if `s.times_out`); nothing when the performance model tells it later (`s.later()`) |
//! | `Finish(s)` | the request's end at `s.ends_at` (the performance model decided it) |
//! | `Wait { deadline, .. }` | the waiting request's timeout at `deadline` |
//! | `Timer { at, timer }` | the timer at `at` |
//! | `Reply` | nothing: the platform answered the request itself |
//!
//! Instances begin and end in one place each, [`Platform::instance_starts`] and
//! [`Platform::instance_stopped`] (with the service's index): where a model of shared nodes
//! places a pod and frees it.
//!
//! **Idle seconds.** The whole-second timer of a service whose second changes nothing
//! ([`platform::Platform::second_is_idle`]) is not delivered second by second: the service goes
//! *dormant* at that second, and the seconds are processed at once
//! ([`platform::Platform::skip_seconds`]) when its next event comes (or the run ends), exactly
//! as delivering them would have (a second comes after the events of its time that were
//! scheduled before it). A rare service in a large fleet therefore costs nothing between its
//! requests.
//!
//! **Shared nodes** (`[cluster]` in a fleet): one node pool for every service's pods. Its
//! deadlines are events of the pool (owner `CLUSTER`), processed whichever services are dormant or
//! ended; a pod it places for a dormant service wakes that service first (as its own event
//! would); its node changes are billed on the pool's own meter and logged without a service.
//!
//! **Trace arrivals** (`[trace]`) come from one time-ordered file; the next one waits in the
//! queue and comes first among the events of its instant (so a service's order of events does
//! not depend on the other services of the file).
//!
//! The platforms' event-log entries become lines of the event log.

use std::io::Write;

use scalelab_core::Time;
use scalelab_core::cluster::NodeEvent;
use scalelab_core::event::{Event, Stamped};
use scalelab_core::fleet_totals::add_rows;
use scalelab_core::ids::{InstId, ReqId};
use scalelab_core::measure::LatencyHist;
use scalelab_core::platform::{self, Config, Effect, Outcome, Stats, Timer};
use scalelab_core::result::{SeriesRow, VariantResult};
use scalelab_core::rng::SimRng;
use scalelab_core::scenario::{Scenario, Slo, TraceFormat};
use scalelab_core::workload::fleet_trace::{TraceArrival, TraceArrivals};
use scalelab_core::workload::{Arrivals, CLASS_STREAM, ClassPicker};

use crate::SimError;
use crate::engine::EventQueue;
use scalelab_core::rng::stream;

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// The service's next intended arrival from its workload (scheduled when the previous one
    /// is processed).
    Arrival,
    /// The next arrival of the `[trace]` (its service is in the pending trace arrival).
    Trace,
    /// A timer of the platform.
    Timer(Timer),
    /// An instance finished its cold start.
    Ready(InstId),
    /// A running request ends: its completion, or its timeout while running.
    Done { req: ReqId, timed_out: bool },
    /// A waiting request's deadline.
    Timeout(ReqId),
    /// An instance finished shutting down.
    Stopped(InstId),
    /// `[cluster]`: the node pool's deadline (a node ready, an empty node removable).
    Nodes,
}

#[derive(Clone, Copy, Debug)]
struct Ev {
    /// The service, by index ([`CLUSTER`] for a fleet's node pool).
    svc: u32,
    kind: Kind,
}

/// The owner of a fleet's node-pool events (`Kind::Nodes`): the pool, not a service, so its
/// deadlines come whichever services are dormant or ended.
const CLUSTER: u32 = u32::MAX;

/// Options of one simulated run.
pub struct RunOptions<'a> {
    /// The master seed.
    pub seed: u64,
    /// The variant's name (for the event log and the result).
    pub variant: &'a str,
    /// Check invariants as the run goes (slower); they are always checked at the end.
    pub check: bool,
    /// Where to write the event log (JSON lines), if anywhere.
    pub events: Option<&'a mut dyn Write>,
    /// Updated with the simulated time (ns) as the run goes, for a progress bar.
    pub progress: Option<&'a std::sync::atomic::AtomicU64>,
    /// Deliver every whole second even when nothing can change in it (the results are the
    /// same; for tests of that equivalence).
    pub force_ticks: bool,
}

/// One service of the run.
struct Svc {
    p: platform::Platform,
    /// Its workload's arrivals (`None`: it has no phases, a trace feeds it).
    arrivals: Option<Arrivals>,
    /// Request classes (`[[workload.request_classes]]`): each arrival's class is drawn from
    /// its own stream, and the platform's routes pick its revision.
    classes: Option<(ClassPicker, SimRng)>,
    horizon: Time,
    hard_end: Time,
    /// The time of its last event (where its run ends when its events run out).
    now: Time,
    /// Its whole second at this time was found idle and is not processed yet.
    dormant: Option<Time>,
    /// Its run ended at this time: later events of the service are dropped.
    ended: Option<Time>,
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    slo: Slo,
}

/// One service's finished run: its result (its series moved to the fleet's) and the figures
/// besides.
pub(crate) struct ServiceRun {
    pub v: VariantResult,
    pub stats: Stats,
    pub slo: Slo,
}

/// What [`Platform::run`] returns.
pub(crate) enum Finished {
    /// A single-service scenario: the result as it always was.
    Single(Box<VariantResult>, Stats),
    /// A fleet: each service's run, the fleet's summed series rows and bucket width, and its
    /// latency histograms (all, warm, cold: the services' merged).
    Fleet(FleetRun),
}

/// A fleet's finished run.
pub(crate) struct FleetRun {
    /// Each service's run, in order.
    pub runs: Vec<ServiceRun>,
    /// The fleet's series rows (the services' summed).
    pub rows: Vec<SeriesRow>,
    /// Their bucket width, seconds.
    pub bucket_s: f64,
    /// The fleet's latency histograms (all, warm, cold: the services' merged).
    pub hists: [LatencyHist; 3],
    /// `[cluster]`: the shared node pool's figures.
    pub cluster: Option<Box<FleetCluster>>,
}

/// What a fleet's shared node pool did (`[cluster]`).
pub(crate) struct FleetCluster {
    /// The `cluster` section of the totals.
    pub result: scalelab_core::cluster::ClusterResult,
    /// Each service's `pods` section (its `node_share` still 0), in order.
    pub pods: Vec<scalelab_core::cluster::PodsResult>,
    /// The bill of the pool's nodes under each `knative-nodes` model, by name.
    pub costs: std::collections::BTreeMap<String, scalelab_core::result::Cost>,
}

/// The simulated platform for one scenario (one variant): every service of it.
pub struct Platform<'a> {
    q: EventQueue<Ev>,
    svcs: Vec<Svc>,
    /// `[trace]` arrivals, and the next one (in the queue as a `Kind::Trace`).
    trace: Option<TraceArrivals>,
    trace_next: Option<TraceArrival>,
    fleet: bool,
    /// Services whose run has not ended.
    running: usize,
    max_events: u64,
    events: u64,
    /// A fleet's summed series (the services' closed rows are moved here as the run goes).
    series: Vec<SeriesRow>,
    bucket_ns: u64,
    next_series_drain: Time,
    opts: RunOptions<'a>,
    /// `[cluster]`: the node pool (None: capacity is unbounded), one for every service of a
    /// fleet.
    nodes: Option<Box<crate::nodes::Nodes>>,
    /// A fleet with `[cluster]`: the meter billing the pool's nodes (`knative-nodes`), which
    /// belong to no service.
    node_bill: Option<
        Box<(
            scalelab_core::billing::Meter,
            scalelab_core::billing::BillingConfig,
        )>,
    >,
    /// A fleet's node-pool events past every service's hard end are not processed.
    cluster_hard_end: Time,
}

/// How often (in buckets of the series) a fleet moves its services' closed rows into its own.
const DRAIN_EVERY_BUCKETS: u64 = 64;

impl<'a> Platform<'a> {
    /// Builds the platform at t = 0: every service's revisions with their autoscalers, initial
    /// instances, first arrivals. Fails when the `[trace]` cannot be opened.
    pub fn new(s: &Scenario, opts: RunOptions<'a>) -> Result<Platform<'a>, SimError> {
        let members = s.members(opts.seed);
        let fleet = s.is_fleet();
        let mut svcs = Vec::with_capacity(members.len());
        for m in &members {
            let sc = m.scenario.as_ref();
            let cfg = Config {
                log_events: opts.events.is_some(),
                check: opts.check,
                ..Config::simulated(sc, m.seed)
            };
            svcs.push(Svc {
                arrivals: (!sc.workload.phases.is_empty())
                    .then(|| Arrivals::new(&sc.workload, sc.duration, stream(m.seed, "arrivals"))),
                classes: (!sc.request_classes.is_empty()).then(|| {
                    (
                        ClassPicker::new(sc.request_classes.iter().map(|c| c.weight)),
                        stream(m.seed, CLASS_STREAM),
                    )
                }),
                p: platform::Platform::new(sc, cfg),
                horizon: Time::ZERO + sc.duration,
                hard_end: platform::hard_end(sc),
                now: Time::ZERO,
                dormant: None,
                ended: None,
                name: m.name.to_string(),
                labels: m.labels.as_ref().clone(),
                slo: sc.slo.clone(),
            });
        }
        let trace = match &s.trace {
            None => None,
            Some(t) => {
                let names: Vec<String> = s.services.iter().map(|x| x.name.clone()).collect();
                let rngs = members.iter().map(|m| stream(m.seed, "trace")).collect();
                let horizon = scalelab_core::time::duration_nanos(s.duration);
                Some(
                    TraceArrivals::open(
                        &t.file,
                        &names,
                        rngs,
                        t.interval,
                        t.spread,
                        t.format == TraceFormat::Invocations && t.durations,
                        horizon,
                    )
                    .map_err(SimError::Trace)?,
                )
            }
        };
        let bucket_ns = svcs.first().map_or(1, |x| x.p.series_bucket_ns().max(1));
        let nodes = if fleet {
            let scs: Vec<&Scenario> = members.iter().map(|m| m.scenario.as_ref()).collect();
            crate::nodes::Nodes::fleet(s, &scs, opts.check)
        } else {
            crate::nodes::Nodes::single(s, opts.check)
        };
        let node_bill = (fleet && nodes.is_some()).then(|| {
            let mut m = scalelab_core::billing::Meter::new(&s.billing, &[]);
            m.simulate_nodes();
            Box::new((m, s.billing.clone()))
        });
        let cluster_hard_end = svcs.iter().map(|x| x.hard_end).max().unwrap_or(Time::ZERO);
        let mut sim = Platform {
            q: EventQueue::default(),
            svcs,
            trace,
            trace_next: None,
            fleet,
            running: members.len(),
            max_events: s.sim.max_events,
            events: 0,
            series: Vec::new(),
            bucket_ns,
            next_series_drain: Time(bucket_ns.saturating_mul(DRAIN_EVERY_BUCKETS)),
            nodes: nodes.map(Box::new),
            node_bill,
            cluster_hard_end,
            opts,
        };
        if sim.nodes.is_some() {
            // knative-nodes bills the simulated nodes, from the initial ones on: a fleet's on
            // its own meter (each service's share is set from its pods' requests at the end).
            if fleet {
                for x in &mut sim.svcs {
                    x.p.simulate_nodes();
                }
            } else {
                sim.svcs[0].p.simulate_nodes();
            }
            sim.carry_out_nodes(0, Time::ZERO);
        }
        for i in 0..sim.svcs.len() {
            sim.svcs[i].p.boot(Time::ZERO);
            sim.apply(i, Time::ZERO);
            sim.next_arrival(i);
        }
        sim.next_trace();
        Ok(sim)
    }

    /// Schedules service `i`'s next workload arrival.
    #[inline]
    fn next_arrival(&mut self, i: usize) {
        let Some(a) = self.svcs[i].arrivals.as_mut() else {
            return;
        };
        if let Some(t) = a.next() {
            let ev = Ev {
                svc: i as u32,
                kind: Kind::Arrival,
            };
            // One service: its only arrival source waits in the queue's lane (the same order,
            // less heap traffic).
            if self.svcs.len() == 1 {
                self.q.push_lane(t, ev);
            } else {
                self.q.push(t, ev);
            }
        }
    }

    /// A service stopped running while handling an event of `kind`: true when it was the last
    /// one (the run is over); otherwise a trace event still schedules the trace's next arrival.
    fn retire(&mut self, kind: &Kind) -> bool {
        self.running -= 1;
        if self.running == 0 {
            return true;
        }
        if matches!(kind, Kind::Trace) {
            self.next_trace();
        }
        false
    }

    /// Schedules the trace's next arrival.
    fn next_trace(&mut self) {
        let Some(tr) = self.trace.as_mut() else {
            return;
        };
        self.trace_next = tr.next_arrival();
        if let Some(a) = self.trace_next {
            self.q.push_first(
                Time(a.t_ns),
                Ev {
                    svc: a.service,
                    kind: Kind::Trace,
                },
            );
        }
    }

    /// Runs to the end: arrivals stop at the horizon; in-flight work drains until the last
    /// request finishes or the drain limit passes (each service on its own). Returns the
    /// services' results and the number of events processed.
    pub(crate) fn run(mut self, name: String) -> Result<(Finished, u64), SimError> {
        while let Some((t, ev)) = self.q.pop() {
            if ev.svc == CLUSTER {
                // A fleet's node pool: its deadline, whoever is dormant or done.
                if t <= self.cluster_hard_end {
                    self.timer_nodes(0, t);
                    self.events += 1;
                }
                if self.running == 0 {
                    break;
                }
                continue;
            }
            let i = ev.svc as usize;
            if self.svcs[i].ended.is_some() {
                if matches!(ev.kind, Kind::Trace) {
                    self.next_trace();
                }
                continue;
            }
            if let Some(from) = self.svcs[i].dormant
                && self.wake(i, from, Some(t))
            {
                if self.retire(&ev.kind) {
                    break;
                }
                continue;
            }
            let s = &mut self.svcs[i];
            s.now = t;
            // After the horizon, stop at the first whole second with nothing left in flight.
            let drained = t >= s.horizon && s.p.in_system() == 0;
            let second = matches!(ev.kind, Kind::Timer(Timer::Second));
            if t > s.hard_end || (drained && second) {
                s.ended = Some(t);
                if self.retire(&ev.kind) {
                    break;
                }
                continue;
            }
            if second && !self.opts.force_ticks && s.p.second_is_idle(t) {
                s.dormant = Some(t);
                continue;
            }
            self.handle(i, t, ev.kind);
            self.events += 1;
            if self.running == 0 {
                // The node pool woke a service whose run ended in its idle seconds.
                break;
            }
            if self.events > self.max_events {
                return Err(SimError::TooManyEvents {
                    limit: self.max_events,
                    at: t,
                });
            }
            if self.events & 0xffff == 0
                && let Some(p) = self.opts.progress
            {
                p.store(t.0, std::sync::atomic::Ordering::Relaxed);
            }
            if self.fleet && t >= self.next_series_drain {
                self.drain_series(t);
            }
        }
        if let Some(e) = self.trace.as_ref().and_then(|t| t.error()) {
            return Err(SimError::Trace(e.to_string()));
        }
        let events = self.events;
        if !self.fleet {
            // A service still dormant processes its remaining seconds up to its end.
            if self.svcs[0].ended.is_none()
                && let Some(from) = self.svcs[0].dormant
            {
                self.wake(0, from, None);
            }
            let s = self.svcs.pop().expect("one service");
            let end = s.ended.unwrap_or(s.now).min(s.hard_end).max(s.horizon);
            let (mut v, stats) = s.p.finish(name, end);
            if let Some(n) = self.nodes.take() {
                let (c, violation) = n.finish(end);
                v.cluster = Some(c);
                if let Some(what) = violation {
                    return Err(SimError::Invariant {
                        variant: self.opts.variant.to_string(),
                        what,
                    });
                }
            }
            return Ok((Finished::Single(Box::new(v), stats), events));
        }
        let mut series = std::mem::take(&mut self.series);
        let bucket_s = self.bucket_ns as f64 / 1e9;
        let mut out = Vec::with_capacity(self.svcs.len());
        let mut fleet_hists = [LatencyHist::new(), LatencyHist::new(), LatencyHist::new()];
        // Service by service (each one's rows and histograms are summed and dropped before
        // the next one finishes): a service still dormant processes its remaining seconds up
        // to its end first.
        let bucket_ns = self.bucket_ns;
        let mut fleet_end = Time::ZERO;
        for (i, mut s) in std::mem::take(&mut self.svcs).into_iter().enumerate() {
            if s.ended.is_none()
                && let Some(from) = s.dormant
            {
                wake(
                    &mut s,
                    &mut self.q,
                    Some((&mut series, bucket_ns)),
                    i,
                    from,
                    None,
                );
            }
            let end = s.ended.unwrap_or(s.now).min(s.hard_end).max(s.horizon);
            fleet_end = fleet_end.max(end);
            let (mut v, stats, hists) = s.p.finish_with_latency(s.name, end);
            if let Some(sr) = v.series.take() {
                add_rows(&mut series, &sr.rows, bucket_s);
            }
            v.labels = s.labels;
            // Merged at once (a service's histograms are dropped as it finishes).
            for (f, h) in fleet_hists.iter_mut().zip(&hists) {
                f.merge(h);
            }
            out.push(ServiceRun {
                v,
                stats,
                slo: s.slo,
            });
        }
        // The shared node pool up to the last service's end.
        let cluster = match self.nodes.take() {
            None => None,
            Some(n) => {
                let (result, pods, violation) = n.finish_services(fleet_end);
                if let Some(what) = violation {
                    return Err(SimError::Invariant {
                        variant: self.opts.variant.to_string(),
                        what,
                    });
                }
                let costs = match self.node_bill.take() {
                    Some(b) => {
                        let (m, cfg) = *b;
                        node_costs(m, &cfg, fleet_end)
                    }
                    None => Default::default(),
                };
                Some(Box::new(FleetCluster {
                    result,
                    pods,
                    costs,
                }))
            }
        };
        Ok((
            Finished::Fleet(FleetRun {
                runs: out,
                rows: series,
                bucket_s,
                hists: fleet_hists,
                cluster,
            }),
            events,
        ))
    }

    /// Moves every service's closed series rows into the fleet's.
    #[cold]
    fn drain_series(&mut self, now: Time) {
        let bucket_s = self.bucket_ns as f64 / 1e9;
        for s in &mut self.svcs {
            let rows = s.p.take_series_rows();
            add_rows(&mut self.series, &rows, bucket_s);
        }
        self.next_series_drain = Time(now.0 + self.bucket_ns.saturating_mul(DRAIN_EVERY_BUCKETS));
    }

    /// [`wake`] for service `i`.
    #[inline]
    fn wake(&mut self, i: usize, from: Time, next: Option<Time>) -> bool {
        let series = self.fleet.then_some((&mut self.series, self.bucket_ns));
        wake(&mut self.svcs[i], &mut self.q, series, i, from, next)
    }

    fn handle(&mut self, i: usize, now: Time, kind: Kind) {
        let s = &mut self.svcs[i];
        match kind {
            Kind::Arrival => {
                // The class's headers meet the routes before the split.
                let rev = match &mut s.classes {
                    Some((picker, rng)) => s.p.route_class(picker.pick(rng)),
                    None => None,
                };
                s.p.on_arrival(now, rev);
                self.apply(i, now);
                self.next_arrival(i);
                return;
            }
            Kind::Trace => {
                let d = self.trace_next.and_then(|a| a.duration_ns);
                s.p.on_arrival_timed(now, None, d);
                self.apply(i, now);
                self.next_trace();
                return;
            }
            Kind::Timer(timer) => s.p.on_timer(now, now, timer),
            Kind::Ready(inst) => s.p.on_instance_ready(now, inst),
            Kind::Done { req, timed_out } => {
                let outcome = if timed_out {
                    Outcome::TimedOut
                } else {
                    Outcome::Answered
                };
                s.p.on_request_done(now, req, outcome);
            }
            Kind::Timeout(req) => {
                s.p.on_timeout(now, req);
            }
            Kind::Stopped(inst) => self.instance_stopped(i, now, inst),
            Kind::Nodes => self.timer_nodes(i, now),
        }
        self.apply(i, now);
    }

    /// Service `i`'s instance `inst` finished shutting down at `now`: the one place an
    /// instance's end reaches its platform (a node model frees the pod's room here).
    #[inline]
    fn instance_stopped(&mut self, i: usize, now: Time, inst: InstId) {
        self.svcs[i].p.on_instance_stopped(now, inst);
        if let Some(n) = self.nodes.as_deref_mut() {
            n.stopped(now, i as u32, inst);
            self.carry_out_nodes(i, now);
        }
    }

    /// `[cluster]`: the node pool's deadline.
    #[inline(never)]
    fn timer_nodes(&mut self, i: usize, now: Time) {
        if let Some(n) = self.nodes.as_deref_mut() {
            n.on_timer(now);
        }
        self.carry_out_nodes(i, now);
    }

    /// `[cluster]`: what the node pool did: Pending pods and node changes to the platform
    /// (billing, event log; a fleet's node changes to its own meter and log), the readiness of
    /// the pods it placed, its next deadline (a single service's event, a fleet's pool's).
    fn carry_out_nodes(&mut self, i: usize, now: Time) {
        let Some(n) = self.nodes.as_deref_mut() else {
            return;
        };
        if n.has_news() {
            let news = n.drain();
            if self.fleet {
                self.carry_out_fleet_nodes(now, news);
            } else {
                let Platform { q, svcs, .. } = self;
                for (svc, inst) in news.pending {
                    svcs[svc as usize].p.on_pod_pending(inst);
                }
                for ev in news.events {
                    svcs[0].p.on_node_event(now, ev);
                }
                for ((svc, inst), node, waited, at) in news.placed {
                    svcs[svc as usize].p.on_pod_placed(inst, node, waited);
                    q.push(
                        at,
                        Ev {
                            svc,
                            kind: Kind::Ready(inst),
                        },
                    );
                }
            }
        }
        let owner = if self.fleet { CLUSTER } else { i as u32 };
        if let Some(t) = self.nodes.as_deref_mut().and_then(|n| n.next_timer(now)) {
            self.q.push(
                t,
                Ev {
                    svc: owner,
                    kind: Kind::Nodes,
                },
            );
        }
    }

    /// A fleet's share of [`carry_out_nodes`](Self::carry_out_nodes): node changes are the
    /// pool's (its meter, its log lines); a pod placed for a dormant service first wakes it
    /// (its idle seconds up to now processed, as its own event now would), one placed for a
    /// service whose run ended is dropped.
    #[cold]
    fn carry_out_fleet_nodes(&mut self, now: Time, news: crate::nodes::NodeNews) {
        for &(svc, inst) in &news.pending {
            self.svcs[svc as usize].p.on_pod_pending(inst);
            if self.opts.events.is_some() {
                self.write_log(svc as usize, now);
            }
        }
        for &ev in &news.events {
            if let Some((m, _)) = self.node_bill.as_deref_mut() {
                match ev {
                    NodeEvent::Added { node, .. } => m.node_added(now, u64::from(node.0)),
                    NodeEvent::Removed { node } => m.node_removed(now, u64::from(node.0)),
                    NodeEvent::InUse { nodes } => m.nodes_in_use(now, u64::from(nodes)),
                    NodeEvent::Ready { .. } => {}
                }
            }
            if self.opts.events.is_some() {
                self.write_node_log(now, ev);
            }
        }
        for ((svc, inst), node, waited, at) in news.placed {
            let j = svc as usize;
            if self.svcs[j].ended.is_some() {
                continue;
            }
            if let Some(from) = self.svcs[j].dormant
                && self.wake(j, from, Some(now))
            {
                self.running -= 1;
                continue;
            }
            self.svcs[j].p.on_pod_placed(inst, node, waited);
            self.q.push(
                at,
                Ev {
                    svc,
                    kind: Kind::Ready(inst),
                },
            );
            if self.opts.events.is_some() {
                self.write_log(j, now);
            }
        }
    }

    /// A fleet's node change as an event-log line (the pool's: no service).
    #[cold]
    fn write_node_log(&mut self, now: Time, ev: NodeEvent) {
        let event = match ev {
            NodeEvent::Added { node, ready_at } => Event::NodeAdded {
                node: node.0,
                ready_at_s: ready_at.as_secs_f64(),
            },
            NodeEvent::Ready { node } => Event::NodeReady { node: node.0 },
            NodeEvent::Removed { node } => Event::NodeRemoved { node: node.0 },
            NodeEvent::InUse { .. } => return,
        };
        let Some(w) = self.opts.events.as_mut() else {
            return;
        };
        let line = serde_json::to_string(&Stamped {
            t_s: now.as_secs_f64(),
            variant: self.opts.variant.to_string(),
            event,
        });
        if let Ok(line) = line {
            let _ = writeln!(w, "{line}");
        }
    }

    /// Service `i` starts instance `inst` at `now`, ready `cold` later: the one place an
    /// instance's start becomes an event without `[cluster]` (with it, the node pool places
    /// the pod first, and a pod that fits nowhere waits for a node before its cold start).
    #[inline]
    fn instance_starts(
        q: &mut EventQueue<Ev>,
        i: usize,
        now: Time,
        inst: InstId,
        cold: std::time::Duration,
    ) {
        q.push(
            now + cold,
            Ev {
                svc: i as u32,
                kind: Kind::Ready(inst),
            },
        );
    }

    /// Carries out service `i`'s platform's effects, in order.
    #[inline(always)]
    fn apply(&mut self, i: usize, now: Time) {
        let Platform { q, svcs, nodes, .. } = self;
        let p = &mut svcs[i].p;
        let svc = i as u32;
        for &e in p.effects() {
            match e {
                // Whole seconds are scheduled in order of time (the queue's FIFO).
                Effect::Timer {
                    at,
                    timer: Timer::Second,
                } => q.push_in_order(
                    at,
                    Ev {
                        svc,
                        kind: Kind::Timer(Timer::Second),
                    },
                ),
                Effect::Timer { at, timer } => q.push(
                    at,
                    Ev {
                        svc,
                        kind: Kind::Timer(timer),
                    },
                ),
                // Under the performance model the end comes later, in a `Finish`.
                Effect::Serve(s) | Effect::Finish(s) if !s.later() => q.push(
                    s.ends_at,
                    Ev {
                        svc,
                        kind: Kind::Done {
                            req: s.req,
                            timed_out: s.times_out,
                        },
                    },
                ),
                Effect::Serve(_) | Effect::Finish(_) => {}
                Effect::Wait { req, deadline } => q.push(
                    deadline,
                    Ev {
                        svc,
                        kind: Kind::Timeout(req),
                    },
                ),
                Effect::StartInstance { inst, rev, cold } => match nodes.as_deref_mut() {
                    None => Self::instance_starts(q, i, now, inst, cold),
                    // `[cluster]`: ready once its pod is placed (now, or when a node has room).
                    Some(n) => {
                        if let Some(at) = n.start(now, svc, inst, rev, cold) {
                            q.push(
                                at,
                                Ev {
                                    svc,
                                    kind: Kind::Ready(inst),
                                },
                            );
                        }
                    }
                },
                Effect::StopInstance { inst, shutdown } => {
                    if let Some(n) = nodes.as_deref_mut() {
                        // A Pending pod is withdrawn.
                        n.stop(now, svc, inst);
                    }
                    q.push(
                        now + shutdown,
                        Ev {
                            svc,
                            kind: Kind::Stopped(inst),
                        },
                    )
                }
                Effect::Reply { .. } | Effect::RevisionFailed { .. } => {}
            }
        }
        p.clear_effects();
        if self.nodes.is_some() {
            self.carry_out_nodes(i, now);
        }
        if self.opts.events.is_some() {
            self.write_log(i, now);
        }
    }

    /// Writes the platform's event-log entries (a fleet's lines name their service).
    #[cold]
    fn write_log(&mut self, i: usize, now: Time) {
        let Platform {
            svcs, opts, fleet, ..
        } = self;
        let Some(w) = opts.events.as_mut() else {
            return;
        };
        let s = &mut svcs[i];
        for event in s.p.log_entries() {
            let line = if *fleet {
                serde_json::to_string(&ServiceStamped {
                    t_s: now.as_secs_f64(),
                    variant: opts.variant,
                    service: &s.name,
                    event,
                })
            } else {
                serde_json::to_string(&Stamped {
                    t_s: now.as_secs_f64(),
                    variant: opts.variant.to_string(),
                    event,
                })
            };
            if let Ok(line) = line {
                let _ = writeln!(w, "{line}");
            }
        }
    }
}

/// Service `i`'s whole second at `from` was idle, and its next event is at `next` (`None`:
/// it has none). Processes the seconds from `from` before that event at once, as
/// delivering them one by one would (each would find nothing to do), and schedules the next
/// one. Returns true when the service's run ended in them: the first second past its hard
/// end, or at or after its horizon with nothing in flight.
#[inline(never)]
fn wake(
    s: &mut Svc,
    q: &mut EventQueue<Ev>,
    series: Option<(&mut Vec<SeriesRow>, u64)>,
    i: usize,
    from: Time,
    next: Option<Time>,
) -> bool {
    const S: u64 = 1_000_000_000;
    s.dormant = None;
    let t = from;
    // Seconds t, t + 1 s, … before the next event; at least t itself (it was popped first).
    let mut count = match next {
        Some(n) if n > t => (n.0 - t.0).div_ceil(S),
        Some(_) => 1,
        None => u64::MAX,
    };
    let mut end = None;
    let mut bound = |at: u64| {
        let k = (at - t.0) / S;
        if k < count {
            count = k;
            end = Some(Time(at));
        }
    };
    // (t is before the horizon if nothing is in flight, and not past the hard end.)
    if s.p.in_system() == 0 {
        bound(s.horizon.0.div_ceil(S).max(t.0 / S) * S);
    }
    bound((s.hard_end.0 / S + 1) * S);
    let (last, next_second) = s.p.skip_seconds(t, count);
    if let Some((into, bucket_ns)) = series {
        // The seconds just closed may be many rows: summed into the fleet's at once.
        let rows = s.p.take_series_rows();
        add_rows(into, &rows, bucket_ns as f64 / 1e9);
    }
    match (next_second, end) {
        (Some(n), Some(e)) if n == e => {
            s.now = e;
            s.ended = Some(e);
            true
        }
        (Some(n), _) => {
            s.now = last;
            q.push_in_order(
                n,
                Ev {
                    svc: i as u32,
                    kind: Kind::Timer(Timer::Second),
                },
            );
            false
        }
        (None, _) => {
            s.now = last;
            false
        }
    }
}

/// The bills of a fleet's node pool under its `knative-nodes` models, closed at `end`.
fn node_costs(
    m: scalelab_core::billing::Meter,
    billing: &scalelab_core::billing::BillingConfig,
    end: Time,
) -> std::collections::BTreeMap<String, scalelab_core::result::Cost> {
    let names: Vec<String> = billing
        .specs()
        .into_iter()
        .filter_map(|x| x.ok())
        .filter(|x| x.kind == scalelab_core::billing::ModelKind::KnativeNodes)
        .map(|x| x.name)
        .collect();
    let mut all = m.finish(end);
    all.retain(|k, _| names.contains(k));
    all
}

/// An event-log line of a fleet: [`Stamped`] with the service's name.
#[derive(serde::Serialize)]
struct ServiceStamped<'a> {
    t_s: f64,
    variant: &'a str,
    service: &'a str,
    #[serde(flatten)]
    event: Event,
}
