//! Results for unit tests.

use scalelab_core::result::{Cost, VariantResult};

/// A variant with a p99 and one billing model's cost per million requests.
pub(crate) fn variant(name: &str, p99: f64, model: &str, cost: f64) -> VariantResult {
    let mut v = VariantResult {
        name: name.into(),
        ..Default::default()
    };
    v.latency_ms.p99 = p99;
    v.cost.insert(
        model.into(),
        Cost {
            per_million_requests_usd: cost,
            ..Default::default()
        },
    );
    v
}
