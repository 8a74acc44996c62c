//! The billing meter: instance lifecycle and request events in, one bill per model out.
//!
//! Memory is bounded by what is alive, never by what happened: one small record per live
//! instance (plus the start times of its in-flight requests when a per-request model is listed),
//! integer accumulators per model and revision, and for `cloud-run-request` on revisions with
//! min-instances a heap of rounded slices that are still running (each entry ends less than one
//! rounding step after it was pushed, so the heap holds at most the slices closed in the last
//! step).
//!
//! Cost per event: one hash look-up plus O(1) work per listed model; on revisions with
//! min-instances, closing a `cloud-run-request` slice also pushes onto that heap (O(log p), p
//! the slices closed within the last rounding step). Measured in release mode, three calls per
//! request (arrived, started, finished), the default two Cloud Run models: about 30 ns a
//! request over 10 instances, about 120-180 ns over 1,000 instances (cache misses dominate).
//!
//! Times are integer nanoseconds and every accumulator is an integer, so the result does not
//! depend on the order in which instances are visited; conversion to USD happens once, in
//! [`Meter::finish`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::models::{self, Usage};
use super::nodes::{NodeTracker, SimNodes};
use super::prices::PriceTable;
use super::{BillingConfig, ModelKind, ModelSpec};
use crate::result::Cost;
use crate::time::{Time, duration_nanos};

/// What billing needs to know about one revision, in the order of the scenario's revisions
/// (the `rev` index of [`Meter::instance_starting`] and [`Meter::request_arrived`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RevisionBilling {
    /// vCPU per instance.
    pub vcpu: f64,
    /// Memory per instance, GiB.
    pub memory_gib: f64,
    /// The autoscaler's `min_scale`: idle instances billed (Cloud Run) or provisioned
    /// (Lambda, Azure Flex with `provisioned_concurrency`).
    pub min_instances: u32,
    /// Cloud Run startup CPU boost.
    pub startup_cpu_boost: bool,
    /// When the revision is created: provisioned and always-ready instances are billed from
    /// then on.
    pub created_at: Time,
}

pub(super) const SEC: u64 = 1_000_000_000;
/// Startup CPU boost lasts for the start-up and 10 s after the instance is ready.
pub(super) const BOOST_AFTER_READY: u64 = 10 * SEC;
/// Lambda caps the INIT phase at 10 s.
const LAMBDA_INIT_CAP: u64 = 10 * SEC;
const AZURE_CONSUMPTION_MIN: u64 = SEC / 10;
const AZURE_FLEX_MIN: u64 = SEC;
pub(super) const INSTANCE_MIN: u64 = 60 * SEC;

/// `ceil(ns / g) * g`, saturating.
pub(super) fn round_up(ns: u64, g: u64) -> u64 {
    let g = g.max(1);
    match ns % g {
        0 => ns,
        r => ns.saturating_add(g - r),
    }
}

/// A multiplicative hash for instance ids: the ids are trusted (they come from the driver),
/// so SipHash's flooding protection is not needed on the per-request path.
#[derive(Default, Clone, Copy)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        let h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Accumulators of one model for one revision. Integer nanoseconds throughout.
#[derive(Clone, Debug, Default)]
pub(super) struct Acc {
    /// Rounded billable time (active slices, lifetimes, on-demand durations).
    pub billed_ns: u128,
    /// The same time before rounding and minimums.
    pub exact_ns: u128,
    /// Billed time under startup CPU boost (Cloud Run models).
    pub boost_ns: u128,
    /// Rounded time on provisioned instances (Lambda PC duration, Flex always-ready).
    pub provisioned_ns: u128,
    /// Idle min-instance time (cloud-run-request).
    pub idle_min_ns: u128,
    /// Lambda INIT time billed.
    pub init_ns: u128,
    /// Slices, instances or executions billed.
    pub items: u64,
    /// Of those, billed at the model's minimum.
    pub at_minimum: u64,
    idle_count: u32,
    idle_last: Time,
    pending: BinaryHeap<Reverse<(Time, u64)>>,
}

impl Acc {
    fn integrate_idle(&mut self, t: Time, min_instances: u32) {
        if t > self.idle_last {
            let n = u128::from(self.idle_count.min(min_instances));
            self.idle_min_ns += n * u128::from(t.0 - self.idle_last.0);
            self.idle_last = t;
        }
    }
}

/// Which instances a slice-based model bills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SliceRule {
    /// Starting, serving at least one request, or shutting down.
    CloudRun,
    /// Executing at least one request.
    Flex,
}

#[derive(Clone, Copy, Debug)]
struct Slicer {
    spec: usize,
    rule: SliceRule,
    g: u64,
    min: u64,
    /// Track idle min-instances (cloud-run-request).
    idle: bool,
}

/// One slice-based model's state on one instance.
#[derive(Clone, Copy, Debug, Default)]
struct Slice {
    open: bool,
    start: Time,
    /// The rounded end of the last closed slice: a slice opening before it continues that one.
    paid_until: Time,
    closed_any: bool,
    last_start: Time,
    last_billed: u64,
    last_exact: u64,
    last_boost: u64,
    last_at_min: bool,
    idle: bool,
}

#[derive(Clone, Debug)]
struct Inst {
    rev: usize,
    started: Time,
    ready: Option<Time>,
    stopping: bool,
    in_flight: u32,
    provisioned: bool,
    /// Lambda INIT still to be added to the instance's first request.
    init_ns: u64,
    /// Start times of in-flight requests, oldest first (only with a per-request model).
    starts: VecDeque<Time>,
    slices: Vec<Slice>,
}

impl Inst {
    fn boost_end(&self) -> Time {
        match self.ready {
            Some(r) => r.saturating_add(std::time::Duration::from_nanos(BOOST_AFTER_READY)),
            None => Time::MAX,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct RevState {
    pub cfg: Option<RevisionBilling>,
    pub arrived: u64,
    provisioned_alive: u32,
}

/// The billing meter of one run (one variant). Feed it events in time order; call
/// [`Meter::finish`] at the end.
///
/// Instance ids are arbitrary `u64`s, unique within the run (they need not be dense); memory is
/// proportional to the instances alive. Events for unknown ids, a finish without a start, or a
/// time earlier than one already seen (possible when a live runtime stamps events on several
/// tasks) never panic: times are clamped to the latest seen and the odd events are counted in
/// every bill's `extra.ignored_events`.
#[derive(Debug, Clone)]
pub struct Meter {
    specs: Vec<Result<ModelSpec, (String, crate::Error)>>,
    prices: PriceTable,
    cfg: BillingConfig,
    revs: Vec<RevState>,
    /// `[spec][rev]`.
    acc: Vec<Vec<Acc>>,
    slicers: Vec<Slicer>,
    /// Specs billed per request (Lambda, Azure Consumption).
    per_request: Vec<usize>,
    /// Specs billed per instance lifetime (cloud-run-instance).
    lifetime: Vec<usize>,
    nodes: Option<NodeTracker>,
    /// The simulated node pool (`[cluster]`), which `knative-nodes` bills instead of the
    /// estimate when set.
    sim_nodes: Option<SimNodes>,
    /// `knative-nodes` specs: (spec index, granularity ns).
    node_specs: Vec<(usize, u64)>,
    insts: IdMap<Inst>,
    now: Time,
    ignored: u64,
}

impl Meter {
    /// A meter for the models of `cfg`, on a service with these revisions.
    pub fn new(cfg: &BillingConfig, revisions: &[RevisionBilling]) -> Meter {
        let specs = cfg.specs();
        let mut slicers = Vec::new();
        let mut per_request = Vec::new();
        let mut lifetime = Vec::new();
        let mut node_specs = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let Ok(s) = s else { continue };
            let g = duration_nanos(s.granularity).max(1);
            match s.kind {
                ModelKind::CloudRunRequest => slicers.push(Slicer {
                    spec: i,
                    rule: SliceRule::CloudRun,
                    g,
                    min: 0,
                    idle: true,
                }),
                ModelKind::AzureFlex => slicers.push(Slicer {
                    spec: i,
                    rule: SliceRule::Flex,
                    g,
                    min: AZURE_FLEX_MIN,
                    idle: false,
                }),
                ModelKind::CloudRunInstance => lifetime.push(i),
                ModelKind::Lambda | ModelKind::AzureConsumption => per_request.push(i),
                ModelKind::KnativeNodes => node_specs.push((i, g)),
            }
        }
        let nodes = if node_specs.is_empty() {
            None
        } else {
            Some(NodeTracker::new(
                &cfg.knative,
                revisions,
                node_specs.clone(),
            ))
        };
        Meter {
            acc: vec![vec![Acc::default(); revisions.len()]; specs.len()],
            specs,
            prices: PriceTable::with_overrides(&cfg.prices),
            cfg: cfg.clone(),
            revs: revisions
                .iter()
                .map(|r| RevState {
                    cfg: Some(*r),
                    ..RevState::default()
                })
                .collect(),
            slicers,
            per_request,
            lifetime,
            nodes,
            sim_nodes: None,
            node_specs,
            insts: IdMap::default(),
            now: Time::ZERO,
            ignored: 0,
        }
    }

    /// The nodes are simulated (`[cluster]`): from now on `knative-nodes` bills the nodes
    /// reported with [`node_added`](Self::node_added), [`node_removed`](Self::node_removed)
    /// and [`nodes_in_use`](Self::nodes_in_use) instead of its estimate. Call it before any
    /// event.
    pub fn simulate_nodes(&mut self) {
        self.nodes = None;
        self.sim_nodes = Some(SimNodes::new(self.node_specs.clone()));
    }

    /// A node of the simulated pool was created (billed from now: provisioning included).
    pub fn node_added(&mut self, now: Time, node: u64) {
        let now = self.tick(now);
        if let Some(n) = &mut self.sim_nodes
            && !n.added(now, node)
        {
            self.ignored += 1;
        }
    }

    /// A node of the simulated pool was removed.
    pub fn node_removed(&mut self, now: Time, node: u64) {
        let now = self.tick(now);
        if let Some(n) = &mut self.sim_nodes
            && !n.removed(now, node)
        {
            self.ignored += 1;
        }
    }

    /// From now, `nodes` nodes of the simulated pool host pods or the control plane (the
    /// needed nodes of `knative-nodes`; the others are its idle nodes).
    pub fn nodes_in_use(&mut self, now: Time, nodes: u64) {
        let now = self.tick(now);
        if let Some(n) = &mut self.sim_nodes {
            n.in_use(now, nodes);
        }
    }

    /// Clamps `now` to the latest time seen, so the meter's clock never runs backwards.
    fn tick(&mut self, now: Time) -> Time {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// A request for revision `rev` arrived (request fees count arrivals).
    pub fn request_arrived(&mut self, now: Time, rev: usize) {
        self.tick(now);
        match self.revs.get_mut(rev) {
            Some(r) => r.arrived += 1,
            None => self.ignored += 1,
        }
    }

    /// Instance `inst` of revision `rev` begins its cold start.
    pub fn instance_starting(&mut self, now: Time, rev: usize, inst: u64) {
        let now = self.tick(now);
        if rev >= self.revs.len() || self.insts.contains_key(&inst) {
            self.ignored += 1;
            return;
        }
        let r = &mut self.revs[rev];
        let rc = r.cfg.unwrap_or(RevisionBilling {
            vcpu: 0.0,
            memory_gib: 0.0,
            min_instances: 0,
            startup_cpu_boost: false,
            created_at: Time::ZERO,
        });
        let provisioned =
            self.cfg.provisioned_concurrency && r.provisioned_alive < rc.min_instances;
        if provisioned {
            r.provisioned_alive += 1;
        }
        if let Some(n) = &mut self.nodes {
            n.pod_started(now, rev);
        }
        self.insts.insert(
            inst,
            Inst {
                rev,
                started: now,
                ready: None,
                stopping: false,
                in_flight: 0,
                provisioned,
                init_ns: 0,
                starts: VecDeque::new(),
                slices: vec![Slice::default(); self.slicers.len()],
            },
        );
        self.sync(now, inst, false);
    }

    /// Instance `inst` finished its cold start and can serve.
    pub fn instance_ready(&mut self, now: Time, inst: u64) {
        let now = self.tick(now);
        let Some(i) = self.insts.get_mut(&inst) else {
            self.ignored += 1;
            return;
        };
        if i.ready.is_some() {
            self.ignored += 1;
            return;
        }
        i.ready = Some(now);
        if !i.provisioned {
            i.init_ns = (now.0 - i.started.0).min(LAMBDA_INIT_CAP);
        }
        self.sync(now, inst, false);
    }

    /// A request begins executing on instance `inst`.
    pub fn request_started(&mut self, now: Time, inst: u64) {
        let now = self.tick(now);
        let per_request = !self.per_request.is_empty();
        let Some(i) = self.insts.get_mut(&inst) else {
            self.ignored += 1;
            return;
        };
        i.in_flight += 1;
        if per_request {
            i.starts.push_back(now);
        }
        if i.in_flight == 1 {
            self.sync(now, inst, false);
        }
    }

    /// A request executing on instance `inst` finished (answered, failed or timed out).
    pub fn request_finished(&mut self, now: Time, inst: u64) {
        let now = self.tick(now);
        let Some(i) = self.insts.get_mut(&inst) else {
            self.ignored += 1;
            return;
        };
        if i.in_flight == 0 {
            self.ignored += 1;
            return;
        }
        i.in_flight -= 1;
        if !self.per_request.is_empty() {
            let start = i.starts.pop_front().unwrap_or(now);
            let init = std::mem::take(&mut i.init_ns);
            let (rev, provisioned) = (i.rev, i.provisioned);
            self.bill_request(rev, provisioned, now.0 - start.0, init);
        }
        if self.insts.get(&inst).is_some_and(|i| i.in_flight == 0) {
            self.sync(now, inst, false);
        }
    }

    /// Instance `inst` begins shutting down (billed as shut-down time by Cloud Run).
    pub fn instance_stopping(&mut self, now: Time, inst: u64) {
        let now = self.tick(now);
        let Some(i) = self.insts.get_mut(&inst) else {
            self.ignored += 1;
            return;
        };
        i.stopping = true;
        self.sync(now, inst, false);
    }

    /// Instance `inst` is gone. Requests still in flight on it end here.
    pub fn instance_stopped(&mut self, now: Time, inst: u64) {
        let now = self.tick(now);
        if !self.insts.contains_key(&inst) {
            self.ignored += 1;
            return;
        }
        self.end_instance(now, inst, true);
    }

    /// Closes the books at `end` and returns one bill per listed model, keyed by the model's
    /// name as listed. Instances and nodes still alive are billed up to `end` (rounded up, but
    /// without the per-instance minimum: they were cut off, not terminated).
    pub fn finish(self, end: Time) -> BTreeMap<String, Cost> {
        self.finish_by_revision(end).0
    }

    /// [`Meter::finish`], and the bill of each revision as if it were billed on its own (its
    /// usage and its requests; free tiers and Lambda's volume tiers apply per revision, so with
    /// `free_tier` the revisions' bills may add up to more than the total). Cluster-level
    /// models (`knative-nodes`) are not split by revision and are left out of the revisions'
    /// bills.
    pub fn finish_by_revision(
        mut self,
        end: Time,
    ) -> (BTreeMap<String, Cost>, Vec<BTreeMap<String, Cost>>) {
        let end = self.tick(end);
        let mut alive: Vec<u64> = self.insts.keys().copied().collect();
        alive.sort_unstable();
        self.advance_idle_all(end);
        for id in alive {
            self.end_instance(end, id, false);
        }
        let simulated = self.sim_nodes.is_some();
        let nodes = match self.sim_nodes.take() {
            Some(n) => Some(n.finish(end)),
            None => self.nodes.take().map(|n| n.finish(end)),
        };
        let mut out = BTreeMap::new();
        for (k, spec) in self.specs.iter().enumerate() {
            let cost = match spec {
                Ok(spec) => models::bill(&Usage {
                    index: k,
                    spec,
                    acc: &self.acc[k],
                    revs: &self.revs,
                    prices: &self.prices,
                    cfg: &self.cfg,
                    end,
                    nodes: nodes.as_ref(),
                    ignored: self.ignored,
                    simulated_nodes: simulated,
                }),
                Err((_, msg)) => {
                    let mut c = Cost::default();
                    c.extra.insert("error".into(), msg.to_string().into());
                    c
                }
            };
            let name = match spec {
                Ok(s) => s.name.clone(),
                Err((n, _)) => n.clone(),
            };
            out.insert(name, cost);
        }
        let mut by_rev = vec![BTreeMap::new(); self.revs.len()];
        for (r, bills) in by_rev.iter_mut().enumerate() {
            // The others masked out: no settings (skipped by every model), no requests.
            let revs: Vec<RevState> = self
                .revs
                .iter()
                .enumerate()
                .map(|(j, x)| {
                    if j == r {
                        x.clone()
                    } else {
                        RevState::default()
                    }
                })
                .collect();
            for (k, spec) in self.specs.iter().enumerate() {
                let Ok(spec) = spec else { continue };
                if spec.kind == ModelKind::KnativeNodes {
                    continue;
                }
                let cost = models::bill(&Usage {
                    index: k,
                    spec,
                    acc: &self.acc[k],
                    revs: &revs,
                    prices: &self.prices,
                    cfg: &self.cfg,
                    end,
                    nodes: None,
                    ignored: 0,
                    simulated_nodes: false,
                });
                bills.insert(spec.name.clone(), cost);
            }
        }
        (out, by_rev)
    }

    /// Removes an instance: closes its slices, in-flight requests and lifetime at `now`.
    /// `terminated` is false when the run ends with the instance still alive.
    fn end_instance(&mut self, now: Time, inst: u64, terminated: bool) {
        self.sync(now, inst, true);
        let Some(mut i) = self.insts.remove(&inst) else {
            return;
        };
        // Requests cut off by the end of the instance or of the run are billed up to now.
        while let Some(start) = i.starts.pop_front() {
            let init = std::mem::take(&mut i.init_ns);
            self.bill_request(i.rev, i.provisioned, now.0 - start.0, init);
        }
        let life = now.0 - i.started.0;
        let boost_window = i.boost_end().0.saturating_sub(i.started.0);
        for &k in &self.lifetime {
            let g = self.specs[k]
                .as_ref()
                .map_or(1, |s| duration_nanos(s.granularity).max(1));
            let rounded = round_up(life, g);
            let billed = if terminated {
                rounded.max(INSTANCE_MIN)
            } else {
                rounded
            };
            let a = &mut self.acc[k][i.rev];
            a.billed_ns += u128::from(billed);
            a.exact_ns += u128::from(life);
            a.boost_ns += u128::from(billed.min(boost_window));
            a.items += 1;
            if billed > rounded {
                a.at_minimum += 1;
            }
        }
        let r = &mut self.revs[i.rev];
        if i.provisioned {
            r.provisioned_alive = r.provisioned_alive.saturating_sub(1);
        }
        if let Some(n) = &mut self.nodes {
            n.pod_stopped(now, i.rev);
        }
    }

    fn bill_request(&mut self, rev: usize, provisioned: bool, dur: u64, init: u64) {
        for &k in &self.per_request {
            let Ok(spec) = &self.specs[k] else { continue };
            let g = duration_nanos(spec.granularity).max(1);
            let a = &mut self.acc[k][rev];
            a.items += 1;
            match spec.kind {
                ModelKind::Lambda => {
                    if provisioned {
                        a.provisioned_ns += u128::from(round_up(dur, g));
                        a.exact_ns += u128::from(dur);
                    } else {
                        a.billed_ns += u128::from(round_up(dur + init, g));
                        a.exact_ns += u128::from(dur + init);
                        a.init_ns += u128::from(init);
                    }
                }
                _ => {
                    let rounded = round_up(dur, g);
                    a.billed_ns += u128::from(rounded.max(AZURE_CONSUMPTION_MIN));
                    a.exact_ns += u128::from(dur);
                    if rounded < AZURE_CONSUMPTION_MIN {
                        a.at_minimum += 1;
                    }
                }
            }
        }
    }

    /// Brings the idle accounting of every slice model with min-instances up to `t`.
    fn advance_idle_all(&mut self, t: Time) {
        for rev in 0..self.revs.len() {
            self.advance_idle(t, rev);
        }
    }

    /// Processes the rounded slices of revision `rev` that ended by `t` (their instances turn
    /// idle at the rounded end), then integrates idle min-instance time up to `t`.
    fn advance_idle(&mut self, t: Time, rev: usize) {
        let min = self.revs[rev].cfg.map_or(0, |c| c.min_instances);
        if min == 0 {
            return;
        }
        for (si, sl) in self.slicers.iter().enumerate() {
            if !sl.idle {
                continue;
            }
            let a = &mut self.acc[sl.spec][rev];
            while let Some(&Reverse((pt, id))) = a.pending.peek() {
                if pt > t {
                    break;
                }
                a.pending.pop();
                let Some(i) = self.insts.get_mut(&id) else {
                    continue;
                };
                let s = &mut i.slices[si];
                if !s.open && !s.idle && s.paid_until == pt {
                    a.integrate_idle(pt, min);
                    a.idle_count += 1;
                    s.idle = true;
                }
            }
            a.integrate_idle(t, min);
        }
    }

    /// Opens or closes each slice model's billable slice on `inst` to match its state at `now`.
    /// `gone`: the instance is being removed (every slice closes, nothing turns idle).
    fn sync(&mut self, now: Time, inst: u64, gone: bool) {
        if self.slicers.is_empty() {
            return;
        }
        let Some(rev) = self.insts.get(&inst).map(|i| i.rev) else {
            return;
        };
        self.advance_idle(now, rev);
        let min = self.revs[rev].cfg.map_or(0, |c| c.min_instances);
        let boost = self.revs[rev].cfg.is_some_and(|c| c.startup_cpu_boost);
        let Some(i) = self.insts.get_mut(&inst) else {
            return;
        };
        let boost_end = i.boost_end();
        for (si, sl) in self.slicers.iter().enumerate() {
            let want = !gone
                && match sl.rule {
                    SliceRule::CloudRun => i.ready.is_none() || i.in_flight > 0 || i.stopping,
                    SliceRule::Flex => i.in_flight > 0,
                };
            let a = &mut self.acc[sl.spec][rev];
            let s = &mut i.slices[si];
            let track_idle = sl.idle && min > 0;
            if want && !s.open {
                if s.idle {
                    a.integrate_idle(now, min);
                    a.idle_count -= 1;
                    s.idle = false;
                }
                if s.closed_any && now < s.paid_until {
                    // Still inside the last slice's rounding: it continues, billed once.
                    let (billed, exact, boost_ns) = (s.last_billed, s.last_exact, s.last_boost);
                    if i.provisioned && sl.rule == SliceRule::Flex {
                        a.provisioned_ns -= u128::from(billed);
                    } else {
                        a.billed_ns -= u128::from(billed);
                    }
                    a.exact_ns -= u128::from(exact);
                    a.boost_ns -= u128::from(boost_ns);
                    if billed > 0 {
                        a.items -= 1;
                    }
                    if s.last_at_min {
                        a.at_minimum -= 1;
                    }
                    s.start = s.last_start;
                } else {
                    s.start = now;
                }
                s.open = true;
            } else if !want && s.open {
                let exact = now.0 - s.start.0;
                let rounded = round_up(exact, sl.g);
                let billed = rounded.max(sl.min);
                let boost_ns = if boost && sl.rule == SliceRule::CloudRun {
                    let lo = s.start.0.max(i.started.0);
                    let hi = s.start.0.saturating_add(billed).min(boost_end.0);
                    hi.saturating_sub(lo)
                } else {
                    0
                };
                if i.provisioned && sl.rule == SliceRule::Flex {
                    a.provisioned_ns += u128::from(billed);
                } else {
                    a.billed_ns += u128::from(billed);
                }
                a.exact_ns += u128::from(exact);
                a.boost_ns += u128::from(boost_ns);
                // A warm instance's zero-length start-up is not a slice.
                if billed > 0 {
                    a.items += 1;
                }
                let at_min = billed > rounded;
                if at_min {
                    a.at_minimum += 1;
                }
                *s = Slice {
                    open: false,
                    start: s.start,
                    paid_until: s
                        .start
                        .saturating_add(std::time::Duration::from_nanos(billed)),
                    closed_any: true,
                    last_start: s.start,
                    last_billed: billed,
                    last_exact: exact,
                    last_boost: boost_ns,
                    last_at_min: at_min,
                    idle: false,
                };
                if track_idle && !gone {
                    if s.paid_until <= now {
                        a.integrate_idle(now, min);
                        a.idle_count += 1;
                        s.idle = true;
                    } else {
                        a.pending.push(Reverse((s.paid_until, inst)));
                    }
                }
            } else if gone && s.idle {
                a.integrate_idle(now, min);
                a.idle_count -= 1;
                s.idle = false;
            }
        }
    }

    /// Entries waiting in the idle heaps (for the bounded-memory tests).
    #[cfg(test)]
    pub(super) fn pending_len(&self) -> usize {
        self.acc
            .iter()
            .flat_map(|v| v.iter())
            .map(|a| a.pending.len())
            .sum()
    }

    /// Instances alive.
    #[cfg(test)]
    pub(super) fn alive(&self) -> usize {
        self.insts.len()
    }
}
