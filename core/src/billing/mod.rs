//! Billing: what a run costs under each platform's rules (BILLING.md), from instance lifecycle
//! and request start/end events, with bounded memory.

#![allow(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::scenario::raw::S;

/// `[billing]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawBilling {
    pub models: Option<S<Vec<S<String>>>>,
    pub free_tier: Option<bool>,
    pub granularity: Option<S<Dur>>,
    pub prices: Option<S<BTreeMap<S<String>, S<f64>>>>,
}

/// `[billing]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillingConfig {
    /// The models to compute, in the order listed.
    pub models: Vec<String>,
    /// Apply free tiers.
    pub free_tier: bool,
    /// Price overrides by name.
    pub prices: BTreeMap<String, f64>,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            models: vec!["cloud-run-request".into(), "cloud-run-instance".into()],
            free_tier: false,
            prices: BTreeMap::new(),
        }
    }
}

/// Every billing model's scenario name.
pub const MODEL_NAMES: &[&str] = &[
    "cloud-run-request",
    "cloud-run-instance",
    "lambda",
    "azure-consumption",
    "azure-flex",
    "knative-nodes",
];

/// Builds an error at a span of the scenario file, for a key, with a message.
pub type ErrAt<'a> =
    &'a dyn Fn(Option<std::ops::Range<usize>>, &str, String) -> crate::scenario::ScenarioError;

impl BillingConfig {
    /// Resolves `[billing]`.
    pub fn from_raw(
        raw: &RawBilling,
        err: ErrAt<'_>,
    ) -> Result<BillingConfig, crate::scenario::ScenarioError> {
        let d = BillingConfig::default();
        let mut models = Vec::new();
        if let Some(ms) = &raw.models {
            for (i, m) in ms.get_ref().iter().enumerate() {
                let name = m.get_ref();
                if !MODEL_NAMES.contains(&name.as_str()) {
                    return Err(err(
                        Some(m.span()),
                        &format!("billing.models[{i}]"),
                        format!(
                            "unknown billing model \"{name}\": expected one of {}",
                            MODEL_NAMES.join(", ")
                        ),
                    ));
                }
                if !models.contains(name) {
                    models.push(name.clone());
                }
            }
        } else {
            models = d.models.clone();
        }
        let mut prices = BTreeMap::new();
        if let Some(p) = &raw.prices {
            for (k, v) in p.get_ref() {
                let x = *v.get_ref();
                if !x.is_finite() || x < 0.0 {
                    return Err(err(
                        Some(v.span()),
                        &format!("billing.prices.{}", k.get_ref()),
                        format!("{x} is out of range: a price is ≥ 0 USD"),
                    ));
                }
                prices.insert(k.get_ref().clone(), x);
            }
        }
        Ok(BillingConfig {
            models,
            free_tier: raw.free_tier.unwrap_or(false),
            prices,
        })
    }
}
