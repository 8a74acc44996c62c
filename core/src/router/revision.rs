//! One revision's request path: the activator's revision-level queue, the ingress in Serve mode,
//! and each instance's queue-proxy breaker (KPA.md §3).
//!
//! ```text
//!            Proxy mode (0 pods, EBC < 0, TBC = -1)        Serve mode (want > 0, EBC ≥ 0)
//! request ─▶ activator: pick a pod with a free slot ─▶ pod     ingress ─▶ pod's queue-proxy
//!            none free: wait in the activator queue            cc full: wait (≤ 10·cc), else 503
//! ```
//!
//! The router is sans-IO: the driver calls [`RevisionRouter::route`] when a request arrives,
//! [`RevisionRouter::complete`] when one finishes, [`RevisionRouter::add_ready`] when an
//! instance becomes ready and [`RevisionRouter::begin_drain`] when one is chosen for removal;
//! each returns which requests start where. Requests that give up while queued (timeouts) are
//! removed lazily: the driver tells the router with [`RevisionRouter::cancel_queued`] and answers
//! "is this request still waiting?" through the `is_live` callback when the router pops.

use std::collections::VecDeque;

use super::RouterPolicy;
use super::lb::{self, Candidate, Cursor};
use crate::time::Time;

pub use crate::ids::{InstId, ReqId};

/// The ServerlessService mode: who receives the revision's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The activator is in the path: it buffers and load-balances with capacity awareness.
    Proxy,
    /// Traffic goes to the pods directly; only their queue-proxy breakers limit it.
    Serve,
}

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reject {
    /// The activator's queue is at its depth (503).
    ActivatorQueueFull,
    /// The instance's queue-proxy holds 11·cc requests (503 "pending request queue full").
    ProxyQueueFull,
}

/// Where a request went on arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// It starts executing on this instance now.
    Start(InstId),
    /// It waits in the activator's queue.
    QueuedActivator,
    /// It waits in this instance's queue-proxy.
    QueuedProxy(InstId),
    /// It is rejected.
    Rejected(Reject),
}

/// A queued request that starts executing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    /// The request.
    pub req: ReqId,
    /// Where it runs.
    pub instance: InstId,
}

#[derive(Clone, Debug, Default)]
struct InstState {
    alive: bool,
    /// Position in `cands` when routable.
    pos: Option<usize>,
    /// In-flight count while not routable (draining); when routable `cands[pos]` holds it.
    in_flight_off: u32,
    proxy_queue: VecDeque<ReqId>,
    proxy_live: u32,
}

/// The request path of one revision.
#[derive(Clone, Debug)]
pub struct RevisionRouter {
    policy: RouterPolicy,
    cc: u32,
    cands: Vec<Candidate>,
    ids: Vec<InstId>,
    inst: Vec<InstState>,
    cursor: Cursor,
    ingress: Cursor,
    activator: VecDeque<ReqId>,
    activator_live: u32,
    queue_depth: u32,
    proxy_live_total: u32,
    mode: Mode,
}

impl RevisionRouter {
    /// A router with no instances, in Proxy mode. `queue_depth` bounds the activator's queue.
    pub fn new(policy: RouterPolicy, container_concurrency: u32, queue_depth: u32) -> Self {
        RevisionRouter {
            policy,
            cc: container_concurrency,
            cands: Vec::new(),
            ids: Vec::new(),
            inst: Vec::new(),
            cursor: Cursor::default(),
            ingress: Cursor::default(),
            activator: VecDeque::new(),
            activator_live: 0,
            queue_depth,
            proxy_live_total: 0,
            mode: Mode::Proxy,
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switches between Proxy and Serve (the KPA reconciler decides).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// The per-instance limit (0 = unlimited).
    pub fn container_concurrency(&self) -> u32 {
        self.cc
    }

    /// Instances that can receive new requests (ready, not draining).
    pub fn routable(&self) -> usize {
        self.cands.len()
    }

    /// Requests waiting in the activator.
    pub fn activator_queued(&self) -> u32 {
        self.activator_live
    }

    /// Requests waiting anywhere (activator and queue-proxies).
    pub fn queued(&self) -> u32 {
        self.activator_live + self.proxy_live_total
    }

    /// Requests executing on `inst`.
    pub fn in_flight(&self, inst: InstId) -> u32 {
        match self.inst.get(inst.index()) {
            Some(s) => match s.pos {
                Some(p) => self.cands[p].in_flight,
                None => s.in_flight_off,
            },
            None => 0,
        }
    }

    /// Requests waiting in `inst`'s queue-proxy.
    pub fn proxy_queued(&self, inst: InstId) -> u32 {
        self.inst.get(inst.index()).map_or(0, |s| s.proxy_live)
    }

    fn state(&mut self, inst: InstId) -> &mut InstState {
        let i = inst.index();
        if i >= self.inst.len() {
            self.inst.resize_with(i + 1, InstState::default);
        }
        &mut self.inst[i]
    }

    fn start_on_pos(&mut self, now: Time, pos: usize) -> InstId {
        let c = &mut self.cands[pos];
        c.in_flight += 1;
        c.last_used = now;
        self.ids[pos]
    }

    fn enqueue_activator(&mut self, req: ReqId) -> Route {
        if self.activator_live >= self.queue_depth {
            return Route::Rejected(Reject::ActivatorQueueFull);
        }
        self.activator.push_back(req);
        self.activator_live += 1;
        Route::QueuedActivator
    }

    /// A request arrives. In Proxy mode the activator picks an instance with a free slot (the
    /// request queues behind earlier waiters); in Serve mode the ingress sends it to a pod whose
    /// queue-proxy starts, queues or rejects it.
    pub fn route(&mut self, now: Time, req: ReqId, rng: &mut impl rand::Rng) -> Route {
        if self.mode == Mode::Serve && !self.cands.is_empty() {
            return self.route_serve(now, req);
        }
        if self.activator_live > 0 {
            return self.enqueue_activator(req);
        }
        match lb::pick(self.policy, self.cc, &self.cands, &mut self.cursor, rng) {
            Some(pos) => Route::Start(self.start_on_pos(now, pos)),
            None => self.enqueue_activator(req),
        }
    }

    fn route_serve(&mut self, now: Time, req: ReqId) -> Route {
        // The ingress is not capacity-aware: round robin over the pods (Knative's policy), or the
        // scenario's own policy when it names one, falling back to round robin when all are full.
        let pos = match self.policy {
            RouterPolicy::Knative => None,
            RouterPolicy::NewestIdle => lb::newest_idle(&self.cands),
            RouterPolicy::LeastLoaded => lb::least_loaded(&self.cands),
            RouterPolicy::Random | RouterPolicy::RoundRobin => {
                lb::round_robin(&self.cands, &mut self.cursor)
            }
        };
        let pos = pos.unwrap_or_else(|| {
            let p = self.ingress.next % self.cands.len();
            self.ingress.next = p + 1;
            p
        });
        if self.cands[pos].has_slot() {
            return Route::Start(self.start_on_pos(now, pos));
        }
        let id = self.ids[pos];
        let depth = 10 * self.cc;
        let st = &mut self.inst[id.index()];
        if st.proxy_live >= depth {
            return Route::Rejected(Reject::ProxyQueueFull);
        }
        st.proxy_queue.push_back(req);
        st.proxy_live += 1;
        self.proxy_live_total += 1;
        Route::QueuedProxy(id)
    }

    fn pop_live(q: &mut VecDeque<ReqId>, is_live: &mut impl FnMut(ReqId) -> bool) -> Option<ReqId> {
        while let Some(r) = q.pop_front() {
            if is_live(r) {
                return Some(r);
            }
        }
        None
    }

    /// A request finished on `inst` (or gave up while executing). Returns the queued request
    /// that takes its slot, if any: first from the instance's own queue-proxy, else from the
    /// activator's queue when the instance is routable.
    pub fn complete(
        &mut self,
        now: Time,
        inst: InstId,
        is_live: &mut impl FnMut(ReqId) -> bool,
    ) -> Option<Started> {
        let st = &mut self.inst[inst.index()];
        let pos = st.pos;
        match pos {
            Some(p) => {
                debug_assert!(
                    self.cands[p].in_flight > 0,
                    "completion on an idle instance"
                );
                self.cands[p].in_flight -= 1;
            }
            None => {
                debug_assert!(st.in_flight_off > 0, "completion on an idle instance");
                st.in_flight_off -= 1;
            }
        }
        if st.proxy_live > 0
            && let Some(r) = Self::pop_live(&mut st.proxy_queue, is_live)
        {
            st.proxy_live -= 1;
            self.proxy_live_total -= 1;
            match pos {
                Some(p) => {
                    self.cands[p].in_flight += 1;
                    self.cands[p].last_used = now;
                }
                None => st.in_flight_off += 1,
            }
            return Some(Started {
                req: r,
                instance: inst,
            });
        }
        let p = pos?;
        if self.activator_live > 0
            && self.cands[p].has_slot()
            && let Some(r) = Self::pop_live(&mut self.activator, is_live)
        {
            self.activator_live -= 1;
            self.start_on_pos(now, p);
            return Some(Started {
                req: r,
                instance: inst,
            });
        }
        None
    }

    /// `inst` became ready: it joins the routable set (in creation order) and the activator
    /// hands it, and any other instance with a free slot, the requests it has been holding.
    pub fn add_ready(
        &mut self,
        now: Time,
        inst: InstId,
        rng: &mut impl rand::Rng,
        is_live: &mut impl FnMut(ReqId) -> bool,
    ) -> Vec<Started> {
        let st = self.state(inst);
        debug_assert!(st.pos.is_none(), "instance {inst} added twice");
        st.alive = true;
        let carried = std::mem::take(&mut st.in_flight_off);
        let at = self.ids.partition_point(|&i| i < inst);
        self.ids.insert(at, inst);
        self.cands.insert(
            at,
            Candidate {
                in_flight: carried,
                capacity: self.cc,
                last_used: now,
            },
        );
        self.reindex(at);
        let mut started = Vec::new();
        while self.activator_live > 0 {
            let Some(pos) = lb::pick(self.policy, self.cc, &self.cands, &mut self.cursor, rng)
            else {
                break;
            };
            let Some(r) = Self::pop_live(&mut self.activator, is_live) else {
                break;
            };
            self.activator_live -= 1;
            let id = self.start_on_pos(now, pos);
            started.push(Started {
                req: r,
                instance: id,
            });
        }
        started
    }

    fn reindex(&mut self, from: usize) {
        for p in from..self.ids.len() {
            let id = self.ids[p].index();
            self.inst[id].pos = Some(p);
        }
    }

    /// `inst` stops receiving new requests (scale-down or shutdown); requests executing or
    /// waiting in its queue-proxy still finish there.
    pub fn begin_drain(&mut self, inst: InstId) {
        let Some(st) = self.inst.get_mut(inst.index()) else {
            return;
        };
        let Some(p) = st.pos.take() else { return };
        st.in_flight_off = self.cands[p].in_flight;
        self.cands.remove(p);
        self.ids.remove(p);
        self.reindex(p);
    }

    /// True when `inst` has nothing executing or queued.
    pub fn is_idle(&self, inst: InstId) -> bool {
        self.in_flight(inst) == 0 && self.proxy_queued(inst) == 0
    }

    /// `inst` is gone. It must not be routable and must be idle.
    pub fn remove(&mut self, inst: InstId) {
        if let Some(st) = self.inst.get_mut(inst.index()) {
            debug_assert!(st.pos.is_none(), "removing a routable instance");
            // Requests still waiting in its queue-proxy (a shutdown stops an instance with a
            // queue) are no longer counted; they end at their timeout.
            self.proxy_live_total -= st.proxy_live;
            *st = InstState::default();
        }
    }

    /// A queued request gave up (timeout); `at` is where it waits (`None` = the activator). The
    /// entry is dropped lazily when popped, so the driver's `is_live` must answer false for it
    /// from now on.
    pub fn cancel_queued(&mut self, at: Option<InstId>) {
        match at {
            None => self.activator_live = self.activator_live.saturating_sub(1),
            Some(i) => {
                if let Some(st) = self.inst.get_mut(i.index())
                    && st.proxy_live > 0
                {
                    st.proxy_live -= 1;
                    self.proxy_live_total -= 1;
                }
            }
        }
    }

    /// Requests waiting in the activator, oldest first, including ones cancelled lazily.
    pub fn activator_queue(&self) -> impl Iterator<Item = ReqId> + '_ {
        self.activator.iter().copied()
    }
}

/// Splits traffic across revisions by percentage.
#[derive(Clone, Debug)]
pub struct TrafficSplit {
    cumulative: Vec<f64>,
}

impl TrafficSplit {
    /// From the revisions' percentages (they sum to 100).
    pub fn new(percents: &[f64]) -> Self {
        let mut acc = 0.0;
        let cumulative = percents
            .iter()
            .map(|p| {
                acc += p / 100.0;
                acc
            })
            .collect();
        TrafficSplit { cumulative }
    }

    /// The revision for the next request. One revision draws nothing from `rng`.
    pub fn pick(&self, rng: &mut impl rand::Rng) -> usize {
        if self.cumulative.len() <= 1 {
            return 0;
        }
        let u: f64 = rand::RngExt::random(rng);
        crate::rng::bucket_of(&self.cumulative, u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn live(_: ReqId) -> bool {
        true
    }

    /// Request `n` (generation 0).
    fn q(n: u32) -> ReqId {
        ReqId::new(n, 0)
    }

    /// Instance `n`.
    fn i(n: u32) -> InstId {
        InstId(n)
    }

    /// Request `req` started on instance `inst`.
    fn st(req: u32, inst: u32) -> Started {
        Started {
            req: q(req),
            instance: i(inst),
        }
    }

    #[test]
    fn proxy_mode_buffers_until_an_instance_is_ready() {
        let mut rng = stream(1, "t");
        let mut r = RevisionRouter::new(RouterPolicy::Knative, 1, 100);
        assert_eq!(r.route(Time::ZERO, q(1), &mut rng), Route::QueuedActivator);
        assert_eq!(r.route(Time::ZERO, q(2), &mut rng), Route::QueuedActivator);
        let s = r.add_ready(Time::from_secs(1), i(0), &mut rng, &mut live);
        assert_eq!(s, vec![st(1, 0)]);
        assert_eq!(r.queued(), 1);
        let next = r.complete(Time::from_secs(2), i(0), &mut live);
        assert_eq!(next, Some(st(2, 0)));
        assert_eq!(r.complete(Time::from_secs(3), i(0), &mut live), None);
        assert!(r.is_idle(i(0)));
    }

    #[test]
    fn unlimited_concurrency_flushes_the_whole_queue() {
        let mut rng = stream(1, "t");
        let mut r = RevisionRouter::new(RouterPolicy::Knative, 0, 100);
        for n in 0..5 {
            r.route(Time::ZERO, q(n), &mut rng);
        }
        let s = r.add_ready(Time::from_secs(1), i(0), &mut rng, &mut live);
        assert_eq!(s.len(), 5);
        assert_eq!(r.in_flight(i(0)), 5);
    }

    #[test]
    fn activator_queue_depth_rejects() {
        let mut rng = stream(1, "t");
        let mut r = RevisionRouter::new(RouterPolicy::Knative, 1, 2);
        r.route(Time::ZERO, q(1), &mut rng);
        r.route(Time::ZERO, q(2), &mut rng);
        assert_eq!(
            r.route(Time::ZERO, q(3), &mut rng),
            Route::Rejected(Reject::ActivatorQueueFull)
        );
    }

    #[test]
    fn serve_mode_queue_proxy_breaker_holds_ten_times_cc() {
        let mut rng = stream(1, "t");
        let mut r = RevisionRouter::new(RouterPolicy::Knative, 2, 100);
        r.add_ready(Time::ZERO, i(0), &mut rng, &mut live);
        r.set_mode(Mode::Serve);
        let mut routes = Vec::new();
        for n in 0..23 {
            routes.push(r.route(Time::ZERO, q(n), &mut rng));
        }
        assert_eq!(
            routes
                .iter()
                .filter(|x| matches!(x, Route::Start(_)))
                .count(),
            2
        );
        assert_eq!(
            routes
                .iter()
                .filter(|x| matches!(x, Route::QueuedProxy(InstId(0))))
                .count(),
            20
        );
        assert_eq!(routes[22], Route::Rejected(Reject::ProxyQueueFull));
    }

    #[test]
    fn cancelled_requests_are_skipped() {
        let mut rng = stream(1, "t");
        let mut r = RevisionRouter::new(RouterPolicy::Knative, 1, 100);
        r.route(Time::ZERO, q(1), &mut rng);
        r.route(Time::ZERO, q(2), &mut rng);
        r.cancel_queued(None);
        let mut alive = |x: ReqId| x != q(1);
        let s = r.add_ready(Time::from_secs(1), i(0), &mut rng, &mut alive);
        assert_eq!(s, vec![st(2, 0)]);
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn draining_instances_take_no_new_work_but_finish_theirs() {
        let mut rng = stream(1, "t");
        let mut r = RevisionRouter::new(RouterPolicy::Knative, 1, 100);
        r.add_ready(Time::ZERO, i(0), &mut rng, &mut live);
        r.add_ready(Time::ZERO, i(1), &mut rng, &mut live);
        assert_eq!(r.route(Time::ZERO, q(7), &mut rng), Route::Start(i(0)));
        r.begin_drain(i(0));
        assert_eq!(r.routable(), 1);
        assert_eq!(r.route(Time::ZERO, q(8), &mut rng), Route::Start(i(1)));
        assert_eq!(r.route(Time::ZERO, q(9), &mut rng), Route::QueuedActivator);
        // Instance 0 finishing does not pick up the activator's queue.
        assert_eq!(r.complete(Time::from_secs(1), i(0), &mut live), None);
        assert!(r.is_idle(i(0)));
        r.remove(i(0));
        assert_eq!(
            r.complete(Time::from_secs(1), i(1), &mut live),
            Some(st(9, 1))
        );
    }

    #[test]
    fn traffic_split_follows_percentages() {
        let s = TrafficSplit::new(&[90.0, 10.0]);
        let mut rng = stream(3, "split");
        let n = 100_000;
        let canary = (0..n).filter(|_| s.pick(&mut rng) == 1).count();
        let share = canary as f64 / n as f64;
        assert!((share - 0.10).abs() < 0.005, "{share}");
        assert_eq!(TrafficSplit::new(&[100.0]).pick(&mut rng), 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        #[derive(Clone, Debug)]
        enum Op {
            Arrive,
            Ready,
            Complete(usize),
            Drain(usize),
            Cancel(usize),
            Mode(bool),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => Just(Op::Arrive),
                1 => Just(Op::Ready),
                4 => (0usize..64).prop_map(Op::Complete),
                1 => (0usize..64).prop_map(Op::Drain),
                1 => (0usize..64).prop_map(Op::Cancel),
                1 => prop::bool::ANY.prop_map(Op::Mode),
            ]
        }

        fn policy() -> impl Strategy<Value = RouterPolicy> {
            prop::sample::select(vec![
                RouterPolicy::Knative,
                RouterPolicy::NewestIdle,
                RouterPolicy::Random,
                RouterPolicy::RoundRobin,
                RouterPolicy::LeastLoaded,
            ])
        }

        proptest! {
            /// The router never starts a request on an instance that is not routable (or, for a
            /// new arrival, draining) or full, and every request is accounted for exactly once:
            /// running, waiting, rejected or cancelled.
            #[test]
            fn never_overfills_and_conserves_requests(
                cc in prop::sample::select(vec![0u32, 1, 2, 4]),
                depth in 0u32..8,
                pol in policy(),
                ops in prop::collection::vec(op(), 1..200),
            ) {
                let mut rng = crate::rng::stream(7, "prop");
                let mut r = RevisionRouter::new(pol, cc, depth);
                let mut next_inst = 0u32;
                let mut ready: BTreeSet<InstId> = BTreeSet::new();
                let mut draining: BTreeSet<InstId> = BTreeSet::new();
                let mut running: BTreeMap<ReqId, InstId> = BTreeMap::new();
                let mut waiting: BTreeMap<ReqId, Option<InstId>> = BTreeMap::new();
                let mut cancelled: BTreeSet<ReqId> = BTreeSet::new();
                let (mut arrived, mut rejected, mut completed) = (0u64, 0u64, 0u64);
                let mut now = Time::ZERO;
                for o in ops {
                    now += std::time::Duration::from_millis(1);
                    let mut started: Vec<Started> = Vec::new();
                    {
                        let w = waiting.clone();
                        let mut live = |q: ReqId| w.contains_key(&q);
                        match o {
                            Op::Arrive => {
                                let id = ReqId::new(arrived as u32, 0);
                                arrived += 1;
                                match r.route(now, id, &mut rng) {
                                    Route::Start(i) => {
                                        prop_assert!(ready.contains(&i), "started on non-routable {i}");
                                        running.insert(id, i);
                                    }
                                    Route::QueuedActivator => { waiting.insert(id, None); }
                                    Route::QueuedProxy(i) => {
                                        prop_assert!(ready.contains(&i));
                                        waiting.insert(id, Some(i));
                                    }
                                    Route::Rejected(_) => rejected += 1,
                                }
                            }
                            Op::Ready => {
                                let i = InstId(next_inst);
                                next_inst += 1;
                                ready.insert(i);
                                started = r.add_ready(now, i, &mut rng, &mut live);
                            }
                            Op::Complete(k) => {
                                if let Some((&q, &i)) = running.iter().nth(k % running.len().max(1)) {
                                    running.remove(&q);
                                    completed += 1;
                                    if let Some(s) = r.complete(now, i, &mut live) { started.push(s); }
                                    if draining.contains(&i) && r.is_idle(i) {
                                        r.remove(i);
                                        draining.remove(&i);
                                    }
                                }
                            }
                            Op::Drain(k) => {
                                if let Some(&i) = ready.iter().nth(k % ready.len().max(1)) {
                                    ready.remove(&i);
                                    r.begin_drain(i);
                                    if r.is_idle(i) { r.remove(i); } else { draining.insert(i); }
                                }
                            }
                            Op::Cancel(k) => {
                                if let Some((&q, &at)) = waiting.iter().nth(k % waiting.len().max(1)) {
                                    waiting.remove(&q);
                                    cancelled.insert(q);
                                    r.cancel_queued(at);
                                }
                            }
                            Op::Mode(serve) => r.set_mode(if serve { Mode::Serve } else { Mode::Proxy }),
                        }
                    }
                    for s in started {
                        let from = waiting.remove(&s.req);
                        prop_assert!(from.is_some(), "started request {} was not waiting", s.req);
                        if let Some(Some(at)) = from {
                            prop_assert_eq!(at, s.instance, "a proxy-queued request moved instance");
                        }
                        prop_assert!(ready.contains(&s.instance) || draining.contains(&s.instance));
                        running.insert(s.req, s.instance);
                    }
                    // Capacity: never more than cc executing on one instance.
                    if cc > 0 {
                        for &i in ready.iter().chain(draining.iter()) {
                            prop_assert!(r.in_flight(i) <= cc, "instance {i} holds {} > cc {cc}", r.in_flight(i));
                        }
                    }
                    prop_assert_eq!(r.queued() as usize, waiting.len());
                    let total = running.len() + waiting.len() + cancelled.len() + (rejected + completed) as usize;
                    prop_assert_eq!(total as u64, arrived);
                }
            }
        }
    }
}
