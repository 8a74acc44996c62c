//! The trade-off between variants in words: what each variant costs or saves against the first
//! (the baseline), and what it does to tail latency and cold starts.

use scalelab_core::result::{RunResult, VariantResult};

use crate::exporters::cost_models;
use crate::fmt;

/// One sentence per variant after the first, comparing it with the first. Empty when the run
/// has a single variant.
pub fn tradeoff_sentences(r: &RunResult) -> Vec<String> {
    let Some((base, rest)) = r.variants.split_first() else {
        return Vec::new();
    };
    if r.mode == scalelab_core::result::Mode::Load {
        return Vec::new();
    }
    let models = cost_models(r);
    rest.iter().map(|v| sentence(base, v, &models)).collect()
}

fn sentence(base: &VariantResult, v: &VariantResult, models: &[String]) -> String {
    let mut clauses = Vec::new();
    let cost: Vec<String> = models
        .iter()
        .filter_map(|m| {
            let (b, o) = (base.cost.get(m)?, v.cost.get(m)?);
            let (b, o) = (b.per_million_requests_usd, o.per_million_requests_usd);
            let d = o - b;
            let how = if d.abs() < 1e-9 {
                "the same".to_string()
            } else if d > 0.0 {
                format!("{} more", fmt::usd(d))
            } else {
                format!("{} less", fmt::usd(-d))
            };
            Some((how, m, b, o, d.abs() < 1e-9))
        })
        .enumerate()
        .map(|(i, (how, m, b, o, same))| {
            let per = if i == 0 { " per million requests" } else { "" };
            if same {
                format!("{how}{per} under {m}")
            } else {
                format!("{how}{per} under {m} ({} → {})", fmt::usd(b), fmt::usd(o))
            }
        })
        .collect();
    if !cost.is_empty() {
        clauses.push(format!("costs {}", join_and(&cost)));
    }
    let (b99, o99) = (base.latency_ms.p99, v.latency_ms.p99);
    clauses.push(if o99 < b99 {
        format!("cuts p99 from {} ms to {} ms", fmt::ms(b99), fmt::ms(o99))
    } else if o99 > b99 {
        format!("raises p99 from {} ms to {} ms", fmt::ms(b99), fmt::ms(o99))
    } else {
        format!("keeps p99 at {} ms", fmt::ms(b99))
    });
    let ratios = [
        (
            "the share of requests delayed by a cold start",
            base.cold_starts.ratio,
            v.cold_starts.ratio,
        ),
        (
            "the error ratio",
            base.requests.error_ratio(),
            v.requests.error_ratio(),
        ),
    ];
    for (what, b, o) in ratios {
        if b != o {
            clauses.push(format!(
                "{} {what} from {} to {}",
                if o < b { "lowers" } else { "raises" },
                fmt::pct(b),
                fmt::pct(o)
            ));
        }
    }
    // Clauses are separated by semicolons: the cost clause has its own commas and "and".
    format!("{} (vs {}): {}.", v.name, base.name, clauses.join("; "))
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalelab_core::result::Mode;

    fn variant(name: &str, p99: f64, cost: f64, cold: f64) -> VariantResult {
        let mut v = crate::fixture::variant(name, p99, "cloud-run-instance", cost);
        v.cold_starts.ratio = cold;
        v
    }

    #[test]
    fn names_cost_and_latency_change() {
        let mut r = RunResult::new("s", 1, Mode::Sim, 60.0);
        r.variants = vec![
            variant("baseline", 2310.0, 1.2, 0.032),
            variant("min-1", 180.0, 1.62, 0.0),
        ];
        let s = tradeoff_sentences(&r);
        assert_eq!(
            s,
            [
                "min-1 (vs baseline): costs $0.4200 more per million requests under \
                 cloud-run-instance ($1.200 → $1.620); cuts p99 from 2310.0 ms to 180.0 ms; lowers \
                 the share of requests delayed by a cold start from 3.20% to 0%."
            ]
        );
    }
}
