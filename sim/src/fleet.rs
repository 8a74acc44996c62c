//! A fleet's result: each service's measurements, and the fleet's totals (counts, times and
//! costs summed; latency percentiles read from the services' histograms merged, never
//! averaged; the series summed bucket by bucket).
//!
//! With `[cluster]` the services share one node pool: the totals' `cluster` section and
//! `knative-nodes` bills are the pool's; each service gets its `pods` section and, as its
//! `knative-nodes` bill, its share of the pool's ([`node_shares`]).

use std::collections::BTreeMap;

use scalelab_core::cluster::PodsResult;
use scalelab_core::platform::Stats;
use scalelab_core::result::{
    CdfPoint, Cost, Occupancy, Series, SimStats, SloCheck, VariantResult, check_slo,
};
use scalelab_core::scenario::Slo;

use crate::platform::FleetRun;

/// The `sim` section from a run's figures.
pub(crate) fn sim_stats(st: &Stats, events: u64, completed: u64) -> SimStats {
    let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
    SimStats {
        // As many as a run ticking through idle seconds processes: results do not depend on
        // the skipping.
        events: events + st.seconds_skipped,
        waited_ratio: per(st.waited as f64, st.begun),
        mean_wait_ms: per(st.wait_ns_total as f64, st.begun) / 1e6,
        mean_latency_exact_ms: per(st.latency_sum_ns as f64, completed) / 1e6,
    }
}

/// The variant's result of a fleet: totals with each service's result in `services`. Each
/// service's SLO is checked on its own result; the fleet's `[slo]` on the totals, and a
/// service's failed checks are listed among the totals' (named `SERVICE: check`), so the run
/// fails when any service's SLO fails. Returns the summed figures too.
pub(crate) fn totals(
    name: String,
    run: FleetRun,
    fleet_slo: &Slo,
    first_model: Option<&str>,
    events: u64,
) -> (VariantResult, Stats) {
    let FleetRun {
        runs,
        rows,
        bucket_s,
        hists: [all, warm, cold],
        cluster,
    } = run;
    let shares = cluster
        .as_ref()
        .map(|c| node_shares(&c.pods, c.costs.values().next()));
    let mut t = VariantResult {
        name,
        ..VariantResult::default()
    };
    let mut st = Stats::default();
    let mut occ = Occupancy::default();
    let mut cost: BTreeMap<String, Cost> = BTreeMap::new();
    let mut cpu_weighted = 0.0;
    let mut services = Vec::with_capacity(runs.len());
    for (k, mut r) in runs.into_iter().enumerate() {
        let v = &mut r.v;
        if let (Some(c), Some(shares)) = (&cluster, &shares) {
            let share = shares[k];
            let mut pods = c.pods.get(k).cloned().unwrap_or_default();
            pods.node_share = share;
            for (model, total) in &c.costs {
                v.cost.insert(
                    model.clone(),
                    share_of(total, share, &pods, v.requests.arrived),
                );
            }
            v.pods = Some(pods);
        }
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
        cpu_weighted += v.instances.mean_cpu_utilization * v.instances.instance_seconds;
        let a = &mut t.autoscaler;
        a.ticks += v.autoscaler.ticks;
        a.panic_episodes += v.autoscaler.panic_episodes;
        a.panic_seconds += v.autoscaler.panic_seconds;
        for (model, c) in &v.cost {
            let e = cost.entry(model.clone()).or_default();
            e.total_usd += c.total_usd;
            e.cpu_usd += c.cpu_usd;
            e.memory_usd += c.memory_usd;
            e.requests_usd += c.requests_usd;
            e.idle_usd += c.idle_usd;
            e.billable_seconds += c.billable_seconds;
        }
        if let Some(o) = &v.occupancy {
            occ.end_s = occ.end_s.max(o.end_s);
            occ.mean_in_system += o.mean_in_system;
            occ.mean_busy_instances += o.mean_busy_instances;
        }
        add_stats(&mut st, &r.stats);
        v.slo = check_slo(&r.slo, v, first_model);
        // Events are counted for the fleet, not per service.
        let mut own = sim_stats(&r.stats, 0, v.requests.completed);
        own.events = 0;
        v.set_sim(own);
        services.push(r.v);
    }
    let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
    t.cold_starts.ratio = per(t.cold_starts.requests_delayed as f64, t.requests.arrived);
    t.instances.mean_cpu_utilization = if t.instances.instance_seconds > 0.0 {
        cpu_weighted / t.instances.instance_seconds
    } else {
        0.0
    };
    if let Some(c) = cluster.map(|c| *c) {
        // The pool's own bills (the services' shares add up to them).
        for (model, bill) in c.costs {
            cost.insert(model, bill);
        }
        t.cluster = Some(c.result);
    }
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
    t.series = Some(Series {
        bucket_s,
        rows,
        coarsened: None,
    });
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
    t.set_sim(sim_stats(&st, events, t.requests.completed));
    t.services = services;
    (t, st)
}

fn add_stats(into: &mut Stats, s: &Stats) {
    into.in_flight_end += s.in_flight_end;
    into.latency_sum_ns += s.latency_sum_ns;
    into.begun += s.begun;
    into.waited += s.waited;
    into.wait_ns_total += s.wait_ns_total;
    into.failed += s.failed;
    into.client_closed += s.client_closed;
    into.crashes += s.crashes;
    into.slot_excess_ns += s.slot_excess_ns;
    into.slot_excess_count += s.slot_excess_count;
    into.seconds_skipped += s.seconds_skipped;
    for v in &s.violations {
        if into.violations.len() < 20 {
            into.violations.push(v.clone());
        }
    }
}

/// Each service's share of a shared node pool's cost, from its pods' requests, as OpenCost
/// allocates a node: the CPU part of the node price (`bill`'s `cpu_usd` against its
/// `memory_usd`, the price split of a node) by requested vCPU-seconds, the memory part by
/// requested GiB-seconds; idle capacity, the control plane and the cluster fee are shared
/// the same way. A resource nobody requested splits its part evenly. The shares add up to 1.
pub(crate) fn node_shares(pods: &[PodsResult], bill: Option<&Cost>) -> Vec<f64> {
    let n = pods.len().max(1) as f64;
    let cpu_w = match bill {
        Some(b) if b.cpu_usd + b.memory_usd > 0.0 => b.cpu_usd / (b.cpu_usd + b.memory_usd),
        _ => 1.0,
    };
    let split = |x: &dyn Fn(&PodsResult) -> f64| -> Vec<f64> {
        let sum: f64 = pods.iter().map(x).sum();
        pods.iter()
            .map(|p| if sum > 0.0 { x(p) / sum } else { 1.0 / n })
            .collect()
    };
    let cpu = split(&|p| p.requested_vcpu_seconds);
    let mem = split(&|p| p.requested_gib_seconds);
    cpu.iter()
        .zip(&mem)
        .map(|(c, m)| cpu_w * c + (1.0 - cpu_w) * m)
        .collect()
}

/// A service's `knative-nodes` bill: `share` of the pool's `total`, every amount scaled.
fn share_of(total: &Cost, share: f64, pods: &PodsResult, arrived: u64) -> Cost {
    let mut c = Cost {
        total_usd: total.total_usd * share,
        cpu_usd: total.cpu_usd * share,
        memory_usd: total.memory_usd * share,
        requests_usd: total.requests_usd * share,
        idle_usd: total.idle_usd * share,
        billable_seconds: total.billable_seconds * share,
        per_million_requests_usd: 0.0,
        ..Cost::default()
    };
    if arrived > 0 {
        c.per_million_requests_usd = c.total_usd * 1e6 / arrived as f64;
    }
    let x = &mut c.extra;
    x.insert("simulated_nodes".into(), serde_json::json!(true));
    x.insert(
        "allocation".into(),
        serde_json::json!(
            "share of the shared node pool by requested vCPU-seconds and GiB-seconds"
        ),
    );
    x.insert("node_share".into(), serde_json::json!(share));
    x.insert(
        "requested_vcpu_seconds".into(),
        serde_json::json!(pods.requested_vcpu_seconds),
    );
    x.insert(
        "requested_gib_seconds".into(),
        serde_json::json!(pods.requested_gib_seconds),
    );
    c
}
