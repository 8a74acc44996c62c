//! The platform's views (what drivers and tests read back) and the end of a run.

use super::*;

impl Platform {
    /// True once [`Platform::on_shutdown`] ran.
    pub fn closing(&self) -> bool {
        self.closing
    }

    // ---- views ----

    /// The revisions' names, in order.
    pub fn revision_names(&self) -> impl Iterator<Item = &str> {
        self.revs.iter().map(|r| r.name.as_str())
    }

    /// How many revisions there are.
    pub fn revisions(&self) -> usize {
        self.revs.len()
    }

    /// One revision's state.
    pub fn revision(&self, r: RevId) -> RevisionView {
        let rev = &self.revs[r.index()];
        RevisionView {
            in_system: rev.in_system,
            queued: u64::from(rev.router.queued()) + u64::from(rev.waiting_cold),
            starting: rev.starting,
            ready: rev.ready,
            draining: rev.alive.len() as u32 - rev.starting - rev.ready,
            desired: Self::desired(rev),
            target: match &rev.kind {
                Kind::Kpa { scaler, .. } => u64::from(scaler.replicas()),
                Kind::Keepalive { pool, .. } => u64::from(pool.instances()),
                // Their decision is the count they scale to.
                Kind::CloudRun { .. } | Kind::Hpa { .. } => rev.desired,
            },
            failed: rev.failed,
            panic: rev.panic,
            excess_burst_capacity: rev.excess_burst_capacity,
            activator_in_path: rev.router.mode() == Mode::Proxy || rev.router.routable() == 0,
            counters: rev.counters,
        }
    }

    fn desired(rev: &Rev) -> u64 {
        match &rev.kind {
            // A keepalive pool has no decider: what it wants is the instances it keeps.
            Kind::Keepalive { pool, .. } => u64::from(pool.instances()),
            Kind::Kpa { .. } | Kind::CloudRun { .. } | Kind::Hpa { .. } => rev.desired,
        }
    }

    /// The levels the time series records at the end of each bucket.
    pub fn levels(&self) -> Levels {
        let mut l = Levels::default();
        for r in &self.revs {
            l.queued += u64::from(r.router.queued());
            l.ready += u64::from(r.ready);
            l.starting += u64::from(r.starting);
            l.desired += Self::desired(r);
            l.panic |= r.panic;
        }
        l.in_flight = self.t.in_system.level();
        l
    }

    /// The counters shared by both drivers.
    pub fn tally(&self) -> &Tally {
        &self.t
    }

    /// The other figures of the run.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Requests in the system (arrived, not answered).
    #[inline]
    pub fn in_system(&self) -> u64 {
        self.t.in_system.level()
    }

    /// Instances alive (starting, ready or draining).
    pub fn alive(&self) -> u64 {
        self.t.alive.level()
    }

    /// The state of instance `i`, and whether its process was lost.
    pub fn instance(&self, i: InstId) -> Option<(InstState, bool)> {
        self.insts.get(i.index()).map(|x| (x.state, x.lost))
    }

    /// The revision instance `i` belongs to.
    pub fn instance_revision(&self, i: InstId) -> Option<RevId> {
        self.insts.get(i.index()).map(|x| x.rev)
    }

    /// A request still in the system.
    pub fn request(&self, req: ReqId) -> Option<RequestView> {
        self.live_req(req).map(|q| RequestView {
            rev: q.rev,
            arrival: q.arrival,
            deadline: q.deadline,
            service: Duration::from_nanos(q.service_ns),
            cold: q.cold,
            proxied: q.proxied,
        })
    }

    /// How a live driver starts instance `i`.
    pub fn instance_plan(&self, i: InstId) -> Option<InstancePlan> {
        self.insts.get(i.index()).map(|x| InstancePlan {
            rev: x.rev,
            created: x.created,
            backoff: x.backoff,
            progress_deadline: self.revs[x.rev.index()].progress_deadline,
            shutdown: self.revs[x.rev.index()].shutdown,
        })
    }

    // ---- the end ----

    /// Ends the run at `end`: closes the time series, checks conservation and returns the
    /// result's standard sections (the SLO verdict is left to the caller) with the run's
    /// other figures in [`Stats`].
    pub fn finish(self, name: String, end: Time) -> (VariantResult, Stats) {
        let (v, stats, _) = self.finish_with_latency(name, end);
        (v, stats)
    }

    /// The width of the time series' buckets, ns.
    pub fn series_bucket_ns(&self) -> u64 {
        self.series.bucket_ns()
    }

    /// The series rows closed so far, moved out (see [`SeriesBuilder::take_rows`]); the
    /// result's series then holds only the rows closed after.
    pub fn take_series_rows(&mut self) -> Vec<crate::result::SeriesRow> {
        self.series.take_rows()
    }

    /// [`finish`](Self::finish), also returning the latency histograms (all, warm, cold) the
    /// summaries were read from, for a fleet's totals (percentiles of merged histograms).
    pub fn finish_with_latency(
        mut self,
        name: String,
        end: Time,
    ) -> (VariantResult, Stats, [LatencyHist; 3]) {
        self.roll_series(end);
        if !end.0.is_multiple_of(self.series.bucket_ns()) {
            let l = self.levels();
            if self.cpu_on {
                self.series.row().cpu_utilization = self.bucket_cpu_utilization(end);
            }
            self.series.close(l);
            self.close_revision_buckets();
        }
        self.stats.in_flight_end = self.t.in_system.level();
        let cpu_utilization = self.mean_cpu_utilization(end);
        let t = &self.t;
        if t.arrived != t.completed + t.rejected + t.timed_out + self.stats.in_flight_end {
            let msg = format!(
                "conservation: arrived {} != completed {} + rejected {} + timed out {} + in flight {}",
                t.arrived, t.completed, t.rejected, t.timed_out, self.stats.in_flight_end
            );
            self.violation(end, msg);
        }
        let busy = self.t.busy_instances.total_secs(end);
        let alive = self.t.alive.total_secs(end);
        if busy > alive + 1e-6 {
            self.violation(
                end,
                format!("busy instance-seconds {busy} exceed instance-seconds {alive}"),
            );
        }
        // Every completed request is recorded once, as warm or cold; the overall distribution
        // is their sum (one histogram update per request instead of two).
        let t = &mut self.t;
        // (Values still pending go into their histograms once, not into a copy per answer.)
        t.latency_warm.flush();
        t.latency_cold.flush();
        t.latency.merge(&t.latency_warm);
        t.latency.merge(&t.latency_cold);
        let billing = std::mem::replace(&mut self.billing, Meter::new(&Default::default(), &[]));
        let (cost, by_rev) = billing.finish_by_revision(end);
        let series = std::mem::replace(&mut self.series, SeriesBuilder::new(1)).finish();
        let mut v = self
            .t
            .variant(name, self.stats.in_flight_end, cost, series, end);
        let total = v.cost.clone();
        self.deploy_results(&mut v, end, by_rev, &total);
        v.instances.mean_cpu_utilization = cpu_utilization;
        let t = &mut self.t;
        let hists = [
            std::mem::take(&mut t.latency),
            std::mem::take(&mut t.latency_warm),
            std::mem::take(&mut t.latency_cold),
        ];
        (v, self.stats, hists)
    }
}
