//! A fleet's result: each service's measurements, and the fleet's totals (counts, times and
//! costs summed; latency percentiles read from the services' histograms merged, never
//! averaged; the series summed bucket by bucket).
//!
//! With `[cluster]` the services share one node pool: the totals' `cluster` section and
//! `knative-nodes` bills are the pool's; each service gets its `pods` section and, as its
//! `knative-nodes` bill, its share of the pool's ([`node_shares`]).

use std::collections::BTreeMap;

use scalelab_core::cluster::PodsResult;
use scalelab_core::fleet_totals::Sums;
use scalelab_core::platform::Stats;
use scalelab_core::result::{Cost, Series, SimStats, VariantResult, check_slo};
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
    let mut sums = Sums::new(name);
    let mut st = Stats::default();
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
        sums.add(v);
        add_stats(&mut st, &r.stats);
        v.slo = check_slo(&r.slo, v, first_model);
        // Events are counted for the fleet, not per service.
        let mut own = sim_stats(&r.stats, 0, v.requests.completed);
        own.events = 0;
        v.set_sim(own);
        services.push(r.v);
    }
    // The pool's own bills (the services' shares add up to them).
    let (bills, pool) = match cluster.map(|c| *c) {
        Some(c) => (c.costs, Some(c.result)),
        None => (BTreeMap::new(), None),
    };
    let series = Series {
        bucket_s,
        rows,
        coarsened: None,
    };
    let slo = (fleet_slo, first_model);
    let mut t = sums.finish(bills, [all, warm, cold], series, services, slo);
    t.cluster = pool;
    t.set_sim(sim_stats(&st, events, t.requests.completed));
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
