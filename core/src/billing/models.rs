//! From metered usage to USD: one function per billing model, plus the break-even note.
//!
//! Every bill is additive: `total_usd = cpu_usd + memory_usd + requests_usd + idle_usd`, after
//! free tiers. Models that bill GB-seconds (Lambda, Azure) put duration in `memory_usd`: their
//! CPU is proportional to memory and not billed on its own.
//!
//! Free tiers (`[billing] free_tier = true`) are monthly allowances per billing account; a run
//! gets the allowance pro-rated to its length (allowance × run seconds / 2,592,000), as if this
//! service alone used the account. They are discounts on the metered units at list price.

use std::collections::BTreeMap;

use serde_json::json;

use super::meter::{Acc, RevState, RevisionBilling, round_up};
use super::nodes::{NodeBill, node_hour_usd};
use super::prices::{PRICE_SET, PriceTable};
use super::{BillingConfig, ModelKind, ModelSpec};
use crate::duration::format_duration;
use crate::result::Cost;
use crate::time::Time;

/// Seconds in the 30-day month BILLING.md's figures use.
const MONTH_S: f64 = 2_592_000.0;
/// Lambda provisioned concurrency is billed in 5-minute steps.
const PC_STEP_NS: u64 = 300_000_000_000;
/// Lambda's x86 duration tiers: the first 6 B GB-s a month, the next 9 B, the rest.
const LAMBDA_TIER1_GBS: f64 = 6e9;
const LAMBDA_TIER2_GBS: f64 = 9e9;

pub(super) struct Usage<'a> {
    /// The spec's position in the model list.
    pub index: usize,
    pub spec: &'a ModelSpec,
    pub acc: &'a [Acc],
    pub revs: &'a [RevState],
    pub prices: &'a PriceTable,
    pub cfg: &'a BillingConfig,
    pub end: Time,
    pub nodes: Option<&'a NodeBill>,
    /// The nodes are the simulated pool of `[cluster]`, not the estimate.
    pub simulated_nodes: bool,
    pub ignored: u64,
}

fn secs(ns: u128) -> f64 {
    ns as f64 / 1e9
}

/// The vCPU an instance gets during startup CPU boost (BILLING.md §1.1): up to 1 vCPU rises to
/// 2, 2 to 4, 4 and 6 to 8; 8 stays 8. Limits in between take the next level up.
pub fn boosted_vcpu(vcpu: f64) -> f64 {
    if vcpu <= 1.0 {
        2.0
    } else if vcpu <= 2.0 {
        4.0
    } else if vcpu <= 8.0 {
        8.0
    } else {
        vcpu
    }
}

fn mem_mb(r: &RevisionBilling) -> f64 {
    (r.memory_gib.max(0.0) * 1024.0).ceil()
}

/// Lambda's configured memory: 128 MB to 10,240 MB in 1 MB steps.
fn lambda_gb(r: &RevisionBilling) -> f64 {
    mem_mb(r).clamp(128.0, 10_240.0) / 1024.0
}

/// Azure Consumption's billed memory: rounded up to 128 MB, at least 128 MB, at most 1,536 MB.
fn azure_bucket_gb(r: &RevisionBilling) -> f64 {
    ((mem_mb(r) / 128.0).ceil() * 128.0).clamp(128.0, 1536.0) / 1024.0
}

/// Azure Flex's instance memory: the smallest instance size (512 MB, 2 GB, 4 GB) that holds
/// the revision's memory, 4 GB at most.
fn flex_gb(r: &RevisionBilling) -> f64 {
    let mb = mem_mb(r);
    let size = [512.0, 2048.0, 4096.0]
        .into_iter()
        .find(|&s| s >= mb)
        .unwrap_or(4096.0);
    size / 1024.0
}

fn lambda_tiered(gbs: f64, p: &PriceTable) -> f64 {
    let t1 = gbs.min(LAMBDA_TIER1_GBS);
    let t2 = (gbs - LAMBDA_TIER1_GBS).clamp(0.0, LAMBDA_TIER2_GBS);
    let t3 = (gbs - LAMBDA_TIER1_GBS - LAMBDA_TIER2_GBS).max(0.0);
    t1 * p.lambda_gb_second_usd
        + t2 * p.lambda_gb_second_tier2_usd
        + t3 * p.lambda_gb_second_tier3_usd
}

struct Ctx<'a> {
    u: &'a Usage<'a>,
    /// The free allowances' share this run gets (0 without free tiers).
    free: f64,
    arrived: u64,
    free_usd: f64,
}

impl Ctx<'_> {
    /// Revisions with their accumulators.
    fn revs(&self) -> impl Iterator<Item = (RevisionBilling, &Acc, &RevState)> {
        self.u
            .revs
            .iter()
            .zip(self.u.acc)
            .filter_map(|(r, a)| r.cfg.map(|c| (c, a, r)))
    }

    /// `usd` less the free allowance (`allowance` units at `unit_price`), recording the discount.
    fn discount(&mut self, usd: f64, allowance: f64, unit_price: f64) -> f64 {
        let off = usd.min(allowance * self.free * unit_price).max(0.0);
        self.free_usd += off;
        usd - off
    }

    fn request_fee(&mut self, per_million: f64, free_requests: f64) -> f64 {
        let usd = self.arrived as f64 * per_million / 1e6;
        self.discount(usd, free_requests, per_million / 1e6)
    }
}

/// The bill of one model.
pub(super) fn bill(u: &Usage<'_>) -> Cost {
    let arrived = u.revs.iter().map(|r| r.arrived).sum();
    let free = if u.cfg.free_tier {
        u.end.as_secs_f64() / MONTH_S
    } else {
        0.0
    };
    let mut cx = Ctx {
        u,
        free,
        arrived,
        free_usd: 0.0,
    };
    let mut c = Cost::default();
    let p = u.prices;
    let x = &mut c.extra;
    match u.spec.kind {
        ModelKind::CloudRunRequest => {
            let (mut vcpu_s, mut gib_s, mut boost_s, mut idle_s, mut idle_usd) =
                (0.0, 0.0, 0.0, 0.0, 0.0);
            let (mut billed, mut exact, mut slices) = (0u128, 0u128, 0u64);
            for (r, a, _) in cx.revs() {
                vcpu_s += secs(a.billed_ns) * r.vcpu;
                gib_s += secs(a.billed_ns) * r.memory_gib;
                if r.startup_cpu_boost {
                    boost_s += secs(a.boost_ns) * (boosted_vcpu(r.vcpu) - r.vcpu);
                }
                idle_s += secs(a.idle_min_ns);
                idle_usd += secs(a.idle_min_ns)
                    * (r.vcpu * p.cloud_run_idle_vcpu_second_usd
                        + r.memory_gib * p.cloud_run_idle_gib_second_usd);
                billed += a.billed_ns;
                exact += a.exact_ns;
                slices += a.items;
            }
            let cpu = (vcpu_s + boost_s) * p.cloud_run_request_vcpu_second_usd;
            c.cpu_usd = cx.discount(
                cpu,
                p.cloud_run_request_free_vcpu_seconds,
                p.cloud_run_request_vcpu_second_usd,
            );
            c.memory_usd = cx.discount(
                gib_s * p.cloud_run_request_gib_second_usd,
                p.cloud_run_request_free_gib_seconds,
                p.cloud_run_request_gib_second_usd,
            );
            c.requests_usd = cx.request_fee(
                p.cloud_run_request_per_million_usd,
                p.cloud_run_request_free_requests,
            );
            c.idle_usd = idle_usd;
            c.billable_seconds = secs(billed);
            x.insert("active_vcpu_seconds".into(), json!(vcpu_s));
            x.insert("active_gib_seconds".into(), json!(gib_s));
            if boost_s > 0.0 {
                x.insert("boost_extra_vcpu_seconds".into(), json!(boost_s));
            }
            x.insert("idle_min_instance_seconds".into(), json!(idle_s));
            x.insert("billable_slices".into(), json!(slices));
            x.insert(
                "rounding_seconds".into(),
                json!(secs(billed.saturating_sub(exact))),
            );
        }
        ModelKind::CloudRunInstance => {
            let (mut vcpu_s, mut gib_s, mut boost_s) = (0.0, 0.0, 0.0);
            let (mut billed, mut exact, mut n, mut at_min) = (0u128, 0u128, 0u64, 0u64);
            for (r, a, _) in cx.revs() {
                vcpu_s += secs(a.billed_ns) * r.vcpu;
                gib_s += secs(a.billed_ns) * r.memory_gib;
                if r.startup_cpu_boost {
                    boost_s += secs(a.boost_ns) * (boosted_vcpu(r.vcpu) - r.vcpu);
                }
                billed += a.billed_ns;
                exact += a.exact_ns;
                n += a.items;
                at_min += a.at_minimum;
            }
            c.cpu_usd = cx.discount(
                (vcpu_s + boost_s) * p.cloud_run_instance_vcpu_second_usd,
                p.cloud_run_instance_free_vcpu_seconds,
                p.cloud_run_instance_vcpu_second_usd,
            );
            c.memory_usd = cx.discount(
                gib_s * p.cloud_run_instance_gib_second_usd,
                p.cloud_run_instance_free_gib_seconds,
                p.cloud_run_instance_gib_second_usd,
            );
            c.billable_seconds = secs(billed);
            x.insert("instances".into(), json!(n));
            x.insert("instances_billed_minimum".into(), json!(at_min));
            x.insert("instance_lifetime_seconds".into(), json!(secs(exact)));
            x.insert("vcpu_seconds".into(), json!(vcpu_s));
            x.insert("gib_seconds".into(), json!(gib_s));
            if boost_s > 0.0 {
                x.insert("boost_extra_vcpu_seconds".into(), json!(boost_s));
            }
        }
        ModelKind::Lambda => {
            let (mut od_gbs, mut pc_exec_gbs, mut pc_gbs, mut init_s) = (0.0, 0.0, 0.0, 0.0);
            let (mut billed, mut n, mut pc_instances) = (0u128, 0u64, 0u64);
            // Provisioned from the revision's creation to the end, in 5-minute steps.
            let pc_time = |r: &RevisionBilling| {
                secs(u128::from(round_up(
                    u.end.0.saturating_sub(r.created_at.0),
                    PC_STEP_NS,
                )))
            };
            let mut mbs = Vec::new();
            for (r, a, _) in cx.revs() {
                let gb = lambda_gb(&r);
                mbs.push(gb * 1024.0);
                od_gbs += secs(a.billed_ns) * gb;
                pc_exec_gbs += secs(a.provisioned_ns) * gb;
                init_s += secs(a.init_ns);
                billed += a.billed_ns + a.provisioned_ns;
                n += a.items;
                if u.cfg.provisioned_concurrency {
                    pc_gbs += f64::from(r.min_instances) * gb * pc_time(&r);
                    pc_instances += u64::from(r.min_instances);
                }
            }
            // The free tier does not apply to functions with provisioned concurrency.
            if pc_instances > 0 {
                cx.free = 0.0;
            }
            let free_gbs = (p.lambda_free_gb_seconds * cx.free).min(od_gbs);
            let gross = lambda_tiered(od_gbs, p);
            let net = lambda_tiered(od_gbs - free_gbs, p);
            cx.free_usd += gross - net;
            c.memory_usd = net + pc_exec_gbs * p.lambda_pc_duration_gb_second_usd;
            c.requests_usd = cx.request_fee(p.lambda_per_million_usd, p.lambda_free_requests);
            c.idle_usd = pc_gbs * p.lambda_pc_gb_second_usd;
            c.billable_seconds = secs(billed);
            x.insert("memory_mb".into(), json!(mbs));
            x.insert("gb_seconds".into(), json!(od_gbs + pc_exec_gbs));
            x.insert("init_seconds_billed".into(), json!(init_s));
            x.insert("invocations_billed".into(), json!(n));
            if u.cfg.provisioned_concurrency {
                x.insert("provisioned_instances".into(), json!(pc_instances));
                x.insert("provisioned_gb_seconds".into(), json!(pc_gbs));
            }
        }
        ModelKind::AzureConsumption => {
            let mut gbs = 0.0;
            let (mut billed, mut n, mut at_min) = (0u128, 0u64, 0u64);
            let mut mbs = Vec::new();
            for (r, a, _) in cx.revs() {
                let gb = azure_bucket_gb(&r);
                mbs.push(gb * 1024.0);
                gbs += secs(a.billed_ns) * gb;
                billed += a.billed_ns;
                n += a.items;
                at_min += a.at_minimum;
            }
            c.memory_usd = cx.discount(
                gbs * p.azure_consumption_gb_second_usd,
                p.azure_consumption_free_gb_seconds,
                p.azure_consumption_gb_second_usd,
            );
            c.requests_usd = cx.request_fee(
                p.azure_consumption_per_million_usd,
                p.azure_consumption_free_executions,
            );
            c.billable_seconds = secs(billed);
            x.insert("memory_bucket_mb".into(), json!(mbs));
            x.insert("gb_seconds".into(), json!(gbs));
            x.insert("executions_billed".into(), json!(n));
            x.insert("executions_billed_minimum".into(), json!(at_min));
        }
        ModelKind::AzureFlex => {
            let (mut od_gbs, mut ar_gbs, mut base_gbs) = (0.0, 0.0, 0.0);
            let (mut billed, mut n, mut at_min, mut ar_instances) = (0u128, 0u64, 0u64, 0u64);
            let mut mbs = Vec::new();
            for (r, a, _) in cx.revs() {
                let gb = flex_gb(&r);
                mbs.push(gb * 1024.0);
                od_gbs += secs(a.billed_ns) * gb;
                ar_gbs += secs(a.provisioned_ns) * gb;
                billed += a.billed_ns + a.provisioned_ns;
                n += a.items;
                at_min += a.at_minimum;
                if u.cfg.provisioned_concurrency {
                    base_gbs += f64::from(r.min_instances)
                        * gb
                        * u.end.saturating_since(r.created_at).as_secs_f64();
                    ar_instances += u64::from(r.min_instances);
                }
            }
            let od = cx.discount(
                od_gbs * p.azure_flex_gb_second_usd,
                p.azure_flex_free_gb_seconds,
                p.azure_flex_gb_second_usd,
            );
            c.memory_usd = od + ar_gbs * p.azure_flex_always_ready_gb_second_usd;
            // Always-ready billing has no free grants.
            if ar_instances > 0 {
                cx.free = 0.0;
            }
            c.requests_usd =
                cx.request_fee(p.azure_flex_per_million_usd, p.azure_flex_free_executions);
            c.idle_usd = base_gbs * p.azure_flex_always_ready_baseline_gb_second_usd;
            c.billable_seconds = secs(billed);
            x.insert("instance_memory_mb".into(), json!(mbs));
            x.insert("gb_seconds".into(), json!(od_gbs + ar_gbs));
            x.insert("active_slices".into(), json!(n));
            x.insert("active_slices_billed_minimum".into(), json!(at_min));
            if u.cfg.provisioned_concurrency {
                x.insert("always_ready_instances".into(), json!(ar_instances));
                x.insert("always_ready_baseline_gb_seconds".into(), json!(base_gbs));
            }
        }
        ModelKind::KnativeNodes => knative(&mut cx, &mut c),
    }
    let x = &mut c.extra;
    x.insert("price_set".into(), json!(PRICE_SET));
    if !u.cfg.prices.is_empty() {
        x.insert("price_overrides".into(), json!(u.cfg.prices));
    }
    x.insert(
        "granularity".into(),
        json!(format_duration(u.spec.granularity)),
    );
    x.insert("free_tier".into(), json!(u.cfg.free_tier));
    if u.cfg.free_tier {
        x.insert("free_tier_usd".into(), json!(cx.free_usd));
    }
    if u.ignored > 0 {
        x.insert("ignored_events".into(), json!(u.ignored));
    }
    for v in [
        &mut c.cpu_usd,
        &mut c.memory_usd,
        &mut c.requests_usd,
        &mut c.idle_usd,
    ] {
        // Guards against -0.0 and rounding dust from the discounts.
        if v.is_nan() || *v <= 0.0 {
            *v = 0.0;
        }
    }
    c.total_usd = c.cpu_usd + c.memory_usd + c.requests_usd + c.idle_usd;
    c.per_million_requests_usd = if arrived == 0 {
        0.0
    } else {
        c.total_usd / arrived as f64 * 1e6
    };
    c
}

fn knative(cx: &mut Ctx<'_>, c: &mut Cost) {
    let u = cx.u;
    let p = u.prices;
    let k = &u.cfg.knative;
    let Some(nodes) = u.nodes else { return };
    // This spec's own rounding of the node lifetimes.
    let row = nodes
        .billed
        .iter()
        .find(|(i, _, _)| *i == u.index)
        .copied()
        .unwrap_or((u.index, nodes.alive_ns, 0));
    let node_hour = node_hour_usd(k, p);
    let per_s = node_hour / 3600.0;
    let billed_s = secs(row.1);
    let needed_s = secs(nodes.needed_ns).min(billed_s);
    let (cpu_part, mem_part) = (
        k.node_vcpu * p.knative_node_vcpu_hour_usd,
        k.node_memory_gib * p.knative_node_gib_hour_usd,
    );
    let cpu_share = if cpu_part + mem_part > 0.0 {
        cpu_part / (cpu_part + mem_part)
    } else {
        1.0
    };
    let needed_usd = needed_s * per_s;
    c.cpu_usd = needed_usd * cpu_share;
    c.memory_usd = needed_usd * (1.0 - cpu_share);
    let mut fee = 0.0;
    if k.cluster_fee {
        let gross = u.end.as_secs_f64() / 3600.0 * p.knative_cluster_hour_usd;
        fee = cx.discount(gross, p.knative_free_credit_usd, 1.0);
    }
    c.idle_usd = (billed_s - needed_s) * per_s + fee;
    c.billable_seconds = billed_s;
    let x = &mut c.extra;
    x.insert("node_hours".into(), json!(billed_s / 3600.0));
    x.insert("needed_node_hours".into(), json!(needed_s / 3600.0));
    x.insert(
        "idle_node_hours".into(),
        json!((billed_s - needed_s) / 3600.0),
    );
    x.insert("peak_nodes".into(), json!(nodes.peak));
    x.insert("nodes_created".into(), json!(nodes.created));
    x.insert("nodes_removed".into(), json!(nodes.removed));
    x.insert("nodes_billed_minimum".into(), json!(row.2));
    x.insert("node_usd_per_hour".into(), json!(node_hour));
    x.insert("node_vcpu".into(), json!(k.node_vcpu));
    x.insert("node_memory_gib".into(), json!(k.node_memory_gib));
    x.insert("cluster_fee_usd".into(), json!(fee));
    x.insert("control_plane".into(), json!(k.control_plane));
    if u.simulated_nodes {
        x.insert("simulated_nodes".into(), json!(true));
    }
    if nodes.oversized_revisions > 0 {
        x.insert(
            "oversized_revisions".into(),
            json!(nodes.oversized_revisions),
        );
    }
}

/// A sentence on request-based vs instance-based Cloud Run billing, when the bills have both
/// `cloud-run-request` and `cloud-run-instance`: near the break-even (within ±15 % of each
/// other) it says so; otherwise it says which is cheaper and by how much. BILLING.md §1.3:
/// instance-based billing wins once an instance is busy more than about 75 % of the time.
pub fn break_even_note(costs: &BTreeMap<String, Cost>) -> Option<String> {
    let req = costs.get("cloud-run-request")?.total_usd;
    let inst = costs.get("cloud-run-instance")?.total_usd;
    if !req.is_finite() || !inst.is_finite() || (req <= 0.0 && inst <= 0.0) {
        return None;
    }
    let hi = req.max(inst);
    let diff_pct = (req - inst).abs() / hi * 100.0;
    Some(if (req - inst).abs() <= 0.15 * hi {
        format!(
            "near the break-even: request-based ${req:.2} and instance-based ${inst:.2} Cloud Run \
             billing are within {diff_pct:.0} % of each other; instance-based billing wins once \
             instances are busy more than about 75 % of the time (BILLING.md §1.3)"
        )
    } else if inst < req {
        format!(
            "instance-based Cloud Run billing is {diff_pct:.0} % cheaper than request-based \
             (${inst:.2} vs ${req:.2}): instances are busy most of the time"
        )
    } else {
        format!(
            "request-based Cloud Run billing is {diff_pct:.0} % cheaper than instance-based \
             (${req:.2} vs ${inst:.2}): instances are idle much of the time"
        )
    })
}
