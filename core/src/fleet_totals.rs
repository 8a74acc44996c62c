//! A fleet's totals from its services' results, for any driver (the live runtime; the
//! simulator builds the same fields in `sim/src/fleet.rs`): counts, times and costs summed;
//! latency percentiles read from the services' histograms merged, never averaged; the series
//! summed bucket by bucket; each service's SLO checked on its own result and its failed checks
//! listed among the totals' (named `SERVICE: check`).

use std::collections::BTreeMap;

use crate::measure::LatencyHist;
use crate::result::{
    CdfPoint, Cost, Occupancy, Series, SeriesRow, SloCheck, VariantResult, check_slo,
};
use crate::scenario::Slo;

/// One service's finished run.
pub struct ServiceOutcome {
    /// Its result (`name` is the service's; `series` is taken out and summed into the
    /// fleet's).
    pub result: VariantResult,
    /// Its own `[slo]`.
    pub slo: Slo,
    /// Its latency histograms (all, warm, cold), merged into the fleet's.
    pub hists: [LatencyHist; 3],
}

/// Adds `rows` (buckets of `bucket_s` seconds) into `into`, bucket by bucket: counts and levels
/// summed, panic "any", p99 and CPU utilisation the highest.
pub fn add_rows(into: &mut Vec<SeriesRow>, rows: &[SeriesRow], bucket_s: f64) {
    for r in rows {
        let k = (r.t_s / bucket_s).round() as usize;
        if into.len() <= k {
            let from = into.len();
            into.extend((from..=k).map(|j| SeriesRow {
                t_s: j as f64 * bucket_s,
                ..SeriesRow::default()
            }));
        }
        let m = &mut into[k];
        m.arrivals += r.arrivals;
        m.completions += r.completions;
        m.errors += r.errors;
        m.in_flight += r.in_flight;
        m.queued += r.queued;
        m.ready += r.ready;
        m.starting += r.starting;
        m.desired += r.desired;
        m.panic |= r.panic;
        m.cold_starts += r.cold_starts;
        m.p99_ms = m.p99_ms.max(r.p99_ms);
        m.cpu_utilization = m.cpu_utilization.max(r.cpu_utilization);
    }
}

/// A fleet's totals summed one service at a time: requests, cold starts, instances,
/// autoscaler counts, costs by model and occupancy.
pub struct Sums {
    t: VariantResult,
    occ: Occupancy,
    cost: BTreeMap<String, Cost>,
    cpu_weighted: f64,
}

impl Sums {
    /// Nothing summed yet, for the variant `name`.
    pub fn new(name: String) -> Sums {
        let t = VariantResult {
            name,
            ..VariantResult::default()
        };
        let (occ, cost) = (Occupancy::default(), BTreeMap::new());
        Sums {
            t,
            occ,
            cost,
            cpu_weighted: 0.0,
        }
    }

    /// Adds one service's result.
    pub fn add(&mut self, v: &VariantResult) {
        let t = &mut self.t;
        let q = &mut t.requests;
        q.arrived += v.requests.arrived;
        q.completed += v.requests.completed;
        q.rejected += v.requests.rejected;
        q.timed_out += v.requests.timed_out;
        q.in_flight_at_end += v.requests.in_flight_at_end;
        let c = &mut t.cold_starts;
        c.count += v.cold_starts.count;
        c.requests_delayed += v.cold_starts.requests_delayed;
        let i = &mut t.instances;
        i.peak += v.instances.peak;
        i.mean += v.instances.mean;
        i.instance_seconds += v.instances.instance_seconds;
        i.idle_instance_seconds += v.instances.idle_instance_seconds;
        i.time_at_zero_s += v.instances.time_at_zero_s;
        i.scale_to_zero_events += v.instances.scale_to_zero_events;
        self.cpu_weighted += v.instances.mean_cpu_utilization * v.instances.instance_seconds;
        let a = &mut t.autoscaler;
        a.ticks += v.autoscaler.ticks;
        a.panic_episodes += v.autoscaler.panic_episodes;
        a.panic_seconds += v.autoscaler.panic_seconds;
        for (model, c) in &v.cost {
            let e = self.cost.entry(model.clone()).or_default();
            e.total_usd += c.total_usd;
            e.cpu_usd += c.cpu_usd;
            e.memory_usd += c.memory_usd;
            e.requests_usd += c.requests_usd;
            e.idle_usd += c.idle_usd;
            e.billable_seconds += c.billable_seconds;
        }
        if let Some(o) = &v.occupancy {
            let occ = &mut self.occ;
            occ.end_s = occ.end_s.max(o.end_s);
            occ.mean_in_system += o.mean_in_system;
            occ.mean_busy_instances += o.mean_busy_instances;
        }
    }

    /// The totals of `services` (each already SLO-checked on its own result): the sums, with
    /// `bills` replacing the summed bill of their models (a shared node pool's), ratios and
    /// per-million costs, latency from the merged histograms, the summed series, the fleet's
    /// `[slo]` checked on the totals and each service's failed checks added (named
    /// `SERVICE: check`), so the run fails when any service's SLO fails.
    pub fn finish(
        self,
        bills: BTreeMap<String, Cost>,
        [all, warm, cold]: [LatencyHist; 3],
        series: Series,
        services: Vec<VariantResult>,
        (fleet_slo, first_model): (&Slo, Option<&str>),
    ) -> VariantResult {
        let Sums {
            mut t,
            occ,
            mut cost,
            cpu_weighted,
        } = self;
        let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
        t.cold_starts.ratio = per(t.cold_starts.requests_delayed as f64, t.requests.arrived);
        t.instances.mean_cpu_utilization = if t.instances.instance_seconds > 0.0 {
            cpu_weighted / t.instances.instance_seconds
        } else {
            0.0
        };
        cost.extend(bills);
        for c in cost.values_mut() {
            c.per_million_requests_usd = per(c.total_usd * 1e6, t.requests.arrived);
        }
        t.cost = cost;
        t.latency_ms = all.summary();
        t.latency_ms_warm = Some(warm.summary());
        t.latency_ms_cold = Some(cold.summary());
        t.latency_cdf = Some(
            all.cdf()
                .into_iter()
                .map(|(ms, fraction)| CdfPoint { ms, fraction })
                .collect(),
        );
        t.series = Some(series);
        t.set_occupancy(occ);
        t.slo = check_slo(fleet_slo, &t, first_model);
        for s in &services {
            for c in s.slo.checks.iter().filter(|c| !c.passed) {
                t.slo.checks.push(SloCheck {
                    name: format!("{}: {}", s.name, c.name),
                    ..c.clone()
                });
                t.slo.passed = false;
            }
        }
        t.services = services;
        t
    }
}

/// The variant's result of a fleet named `name`: totals with each service's result in
/// `services` (in order), each service's SLO checked on its own result ([`Sums::finish`]).
/// The driver's own sections (`sim`, `live`, `client`) are left to the caller.
pub fn fleet_totals(
    name: String,
    services: Vec<ServiceOutcome>,
    fleet_slo: &Slo,
    first_model: Option<&str>,
) -> VariantResult {
    let mut sums = Sums::new(name);
    let mut hists = [LatencyHist::new(), LatencyHist::new(), LatencyHist::new()];
    let mut rows = Vec::new();
    let mut bucket_s = 1.0;
    let mut out = Vec::with_capacity(services.len());
    for s in services {
        let mut v = s.result;
        if let Some(sr) = v.series.take() {
            bucket_s = sr.bucket_s;
            add_rows(&mut rows, &sr.rows, sr.bucket_s);
        }
        for (f, h) in hists.iter_mut().zip(&s.hists) {
            f.merge(h);
        }
        sums.add(&v);
        v.slo = check_slo(&s.slo, &v, first_model);
        out.push(v);
    }
    let series = Series {
        bucket_s,
        rows,
        coarsened: None,
    };
    let slo = (fleet_slo, first_model);
    sums.finish(BTreeMap::new(), hists, series, out, slo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Requests;

    fn service(name: &str, arrived: u64, ms: &[u64]) -> ServiceOutcome {
        let mut all = LatencyHist::new();
        for &m in ms {
            all.record_nanos(m * 1_000_000);
        }
        let v = VariantResult {
            name: name.into(),
            requests: Requests {
                arrived,
                completed: arrived,
                ..Requests::default()
            },
            latency_ms: all.summary(),
            series: Some(Series {
                bucket_s: 1.0,
                rows: vec![SeriesRow {
                    t_s: 1.0,
                    arrivals: arrived,
                    ready: 1,
                    ..SeriesRow::default()
                }],
                coarsened: None,
            }),
            ..VariantResult::default()
        };
        ServiceOutcome {
            result: v,
            slo: Slo::default(),
            hists: [all, LatencyHist::new(), LatencyHist::new()],
        }
    }

    #[test]
    fn totals_sum_the_services_and_merge_their_histograms() {
        let t = fleet_totals(
            "baseline".into(),
            vec![service("a", 3, &[10, 10, 10]), service("b", 1, &[1000])],
            &Slo::default(),
            None,
        );
        assert_eq!(t.requests.arrived, 4);
        assert_eq!(t.services.len(), 2);
        assert_eq!(t.services[1].name, "b");
        assert!(t.services.iter().all(|s| s.series.is_none()));
        let rows = &t.series.as_ref().expect("series").rows;
        assert_eq!(rows[1].arrivals, 4);
        assert_eq!(rows[1].ready, 2);
        // The p99 of the merged histogram, not an average of the services' p99s.
        assert!(t.latency_ms.p99 > 900.0, "{:?}", t.latency_ms);
        assert!(t.latency_ms.p50 < 20.0, "{:?}", t.latency_ms);
        assert!(t.slo.passed);
    }
}
