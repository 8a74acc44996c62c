//! From measurements to an answer: per-seed samples → a summary per candidate (means, spread,
//! the SLO verdict on the means), the ranking, the Pareto front, the winner, and the
//! successive-halving schedule.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Objective;
use crate::result::{Cost, Latency, Requests, SloResult, VariantResult, check_slo};
use crate::scenario::Slo;

/// What one simulation of one candidate measured (the figures the search uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The seed it ran with.
    pub seed: u64,
    /// Total cost under the objective's billing model, USD.
    pub cost_usd: f64,
    /// That cost per million arrived requests, USD.
    pub cost_per_million_usd: f64,
    /// Latency percentiles and mean, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Requests delayed by a cold start over requests arrived.
    pub cold_start_ratio: f64,
    /// Instances started.
    pub cold_starts: u64,
    /// Requests arrived.
    pub arrived: u64,
    /// Requests rejected or timed out.
    pub errors: u64,
    /// Time-averaged instances alive.
    pub instances_mean: f64,
    /// Most instances alive at once.
    pub instances_peak: u64,
    /// This run alone passed the `[slo]`.
    pub slo_passed: bool,
}

impl Sample {
    /// The figures of a simulated variant, with the cost of `model` (None when the run did not
    /// compute that model).
    pub fn from_variant(v: &VariantResult, model: &str, seed: u64) -> Option<Sample> {
        let cost = v.cost.get(model)?;
        Some(Sample {
            seed,
            cost_usd: cost.total_usd,
            cost_per_million_usd: cost.per_million_requests_usd,
            p50_ms: v.latency_ms.p50,
            p90_ms: v.latency_ms.p90,
            p99_ms: v.latency_ms.p99,
            p999_ms: v.latency_ms.p999,
            cold_start_ratio: v.cold_starts.ratio,
            cold_starts: v.cold_starts.count,
            arrived: v.requests.arrived,
            errors: v.requests.rejected + v.requests.timed_out,
            instances_mean: v.instances.mean,
            instances_peak: v.instances.peak,
            slo_passed: v.slo.passed,
        })
    }
}

/// Mean and spread of one figure over a candidate's seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Stat {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (0 with one seed).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stat {
    /// The statistic of `xs` (all zero when empty).
    pub fn of(xs: impl IntoIterator<Item = f64>) -> Stat {
        let xs: Vec<f64> = xs.into_iter().collect();
        if xs.is_empty() {
            return Stat::default();
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let sd = if xs.len() > 1 {
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Stat {
            mean,
            sd,
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// A candidate's measurements over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The billing model the cost refers to.
    pub cost_model: String,
    /// Total cost, USD.
    pub cost_usd: Stat,
    /// Cost per million requests, USD.
    pub cost_per_million_usd: Stat,
    /// Median latency, ms.
    pub p50_ms: Stat,
    /// 99th percentile latency, ms.
    pub p99_ms: Stat,
    /// Cold-start ratio.
    pub cold_start_ratio: Stat,
    /// Errors over arrivals, all seeds pooled.
    pub error_ratio: f64,
    /// Time-averaged instances.
    pub instances_mean: Stat,
    /// The `[slo]` checked against the means (p99 is the mean of the seeds' p99s).
    pub slo: SloResult,
    /// Seeds whose own run passed the `[slo]`.
    pub slo_passed_seeds: u32,
}

/// Summarises a candidate's samples (non-empty) against its scenario's `slo`.
pub fn summarize(samples: &[Sample], slo: &Slo, model: &str) -> Summary {
    let stat = |f: fn(&Sample) -> f64| Stat::of(samples.iter().map(f));
    let cost_usd = stat(|s| s.cost_usd);
    let cost_per_million_usd = stat(|s| s.cost_per_million_usd);
    let p50_ms = stat(|s| s.p50_ms);
    let p99_ms = stat(|s| s.p99_ms);
    let cold_start_ratio = stat(|s| s.cold_start_ratio);
    let arrived: u64 = samples.iter().map(|s| s.arrived).sum();
    let errors: u64 = samples.iter().map(|s| s.errors).sum();
    // check_slo reads a result document; give it one made of the means.
    let mean = VariantResult {
        requests: Requests {
            arrived,
            rejected: errors,
            completed: arrived - errors.min(arrived),
            ..Requests::default()
        },
        latency_ms: Latency {
            // Latency is of the requests that succeeded; with none, latency checks fail.
            count: arrived - errors.min(arrived),
            p50: p50_ms.mean,
            p90: stat(|s| s.p90_ms).mean,
            p99: p99_ms.mean,
            p999: stat(|s| s.p999_ms).mean,
            ..Latency::default()
        },
        cold_starts: crate::result::ColdStarts {
            ratio: cold_start_ratio.mean,
            ..Default::default()
        },
        cost: BTreeMap::from([(
            model.to_string(),
            Cost {
                total_usd: cost_usd.mean,
                per_million_requests_usd: cost_per_million_usd.mean,
                ..Cost::default()
            },
        )]),
        ..VariantResult::default()
    };
    Summary {
        cost_model: model.to_string(),
        cost_usd,
        cost_per_million_usd,
        p50_ms,
        p99_ms,
        cold_start_ratio,
        error_ratio: if arrived == 0 {
            0.0
        } else {
            errors as f64 / arrived as f64
        },
        instances_mean: stat(|s| s.instances_mean),
        slo: check_slo(slo, &mean, Some(model)),
        slo_passed_seeds: samples.iter().filter(|s| s.slo_passed).count() as u32,
    }
}

impl Summary {
    /// How far the means are from passing: the sum over failed checks of actual / threshold − 1
    /// (0 when passing). Ranks infeasible candidates: nearer is better.
    pub fn violation(&self) -> f64 {
        self.slo
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| {
                if c.threshold > 0.0 {
                    c.actual / c.threshold - 1.0
                } else {
                    1.0 + c.actual
                }
            })
            .sum()
    }

    /// The three figures of the Pareto front: cost, p99, cold-start ratio (all minimised).
    pub fn point(&self) -> [f64; 3] {
        [
            self.cost_usd.mean,
            self.p99_ms.mean,
            self.cold_start_ratio.mean,
        ]
    }
}

/// `a` dominates `b`: no worse in every figure and better in one.
pub fn dominates(a: &[f64; 3], b: &[f64; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// The Pareto rank of each point: 0 for the front, 1 for the front of the rest, and so on.
pub fn pareto_ranks(points: &[[f64; 3]]) -> Vec<u32> {
    let mut rank = vec![u32::MAX; points.len()];
    let mut left: Vec<usize> = (0..points.len()).collect();
    let mut r = 0;
    while !left.is_empty() {
        let front: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| {
                !left
                    .iter()
                    .any(|&j| j != i && dominates(&points[j], &points[i]))
            })
            .collect();
        for &i in &front {
            rank[i] = r;
        }
        left.retain(|i| rank[*i] == u32::MAX);
        r += 1;
    }
    rank
}

/// A candidate as the ranking sees it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Its grid id (the final tie-break).
    pub id: u64,
    /// Its summary.
    pub summary: &'a Summary,
}

fn cost_order(a: &Summary, b: &Summary) -> Ordering {
    a.cost_usd
        .mean
        .total_cmp(&b.cost_usd.mean)
        .then(a.p99_ms.mean.total_cmp(&b.p99_ms.mean))
        .then(a.cold_start_ratio.mean.total_cmp(&b.cold_start_ratio.mean))
}

/// The entries' positions, best first. Min-cost: SLO-passing candidates by cost (then p99,
/// cold-start ratio), then failing ones by how far they miss. Pareto: by Pareto rank, then
/// passing before failing, then by cost. Ties go to the lower id, so the order is total.
pub fn rank(entries: &[Entry<'_>], objective: Objective) -> Vec<usize> {
    let ranks = match objective {
        Objective::Pareto => pareto_ranks(
            &entries
                .iter()
                .map(|e| e.summary.point())
                .collect::<Vec<_>>(),
        ),
        Objective::MinCost => vec![0; entries.len()],
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (entries[i].summary, entries[j].summary);
        let by_slo = match (a.slo.passed, b.slo.passed) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (true, true) => Ordering::Equal,
            (false, false) => match objective {
                Objective::MinCost => a.violation().total_cmp(&b.violation()),
                Objective::Pareto => Ordering::Equal,
            },
        };
        ranks[i]
            .cmp(&ranks[j])
            .then(by_slo)
            .then(cost_order(a, b))
            .then(entries[i].id.cmp(&entries[j].id))
    });
    order
}

/// The outcome over the candidates that ran to the full horizon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Outcome {
    /// Ids, best first.
    pub order: Vec<u64>,
    /// Ids on the Pareto front (cost, p99, cold-start ratio), cheapest first.
    pub front: Vec<u64>,
    /// The best candidate that passes the `[slo]`: the cheapest for min-cost, the cheapest
    /// front member for pareto. None when no candidate passes.
    pub winner: Option<u64>,
}

/// Ranks `entries`, finds the front and the winner.
pub fn outcome(entries: &[Entry<'_>], objective: Objective) -> Outcome {
    let order = rank(entries, objective);
    let ranks = pareto_ranks(
        &entries
            .iter()
            .map(|e| e.summary.point())
            .collect::<Vec<_>>(),
    );
    let mut front: Vec<usize> = (0..entries.len()).filter(|&i| ranks[i] == 0).collect();
    front.sort_by(|&i, &j| {
        cost_order(entries[i].summary, entries[j].summary).then(entries[i].id.cmp(&entries[j].id))
    });
    let winner = match objective {
        Objective::MinCost => order.first().filter(|&&i| entries[i].summary.slo.passed),
        Objective::Pareto => front.iter().find(|&&i| entries[i].summary.slo.passed),
    }
    .map(|&i| entries[i].id);
    Outcome {
        order: order.iter().map(|&i| entries[i].id).collect(),
        front: front.iter().map(|&i| entries[i].id).collect(),
        winner,
    }
}

/// The horizons of successive halving: `first` (default: an eighth of `full`, at least 1 s,
/// whole seconds), doubled at each rung while below three quarters of `full`, then `full`.
pub fn halving_horizons(full: Duration, first: Option<Duration>) -> Vec<Duration> {
    let first = first
        .unwrap_or_else(|| Duration::from_secs((full.as_secs() / 8).max(1)))
        .min(full);
    let mut out = Vec::new();
    let mut h = first;
    // A rung within a quarter of the full horizon would cost nearly a full run for little
    // information: go to the full horizon instead.
    while h.saturating_mul(4) < full.saturating_mul(3) {
        out.push(h);
        h = h.saturating_mul(2);
    }
    out.push(full);
    out
}

/// How many of `n` candidates go on to the next rung when keeping the fraction `keep`: at
/// least one.
pub fn keep_count(n: usize, keep: f64) -> usize {
    ((n as f64 * keep).ceil() as usize).clamp(1.min(n), n)
}
