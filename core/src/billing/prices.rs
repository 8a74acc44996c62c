//! Unit prices and free allowances: BILLING.md's list prices (USD, Tier 1 regions, 2025-2026) as
//! defaults, each one overridable in `[billing.prices]` by the name in [`PRICE_NAMES`].
//!
//! Names are flat snake_case keys with the unit last (`..._vcpu_second_usd`), so they can be
//! written in TOML without quoting. Free allowances (`..._free_...`) are per month; they apply
//! only when `[billing] free_tier = true`.

use std::collections::BTreeMap;

/// The name of the default price set, written into every bill's `extra.price_set`.
pub const PRICE_SET: &str = "list-2026";

/// Declares every price once: its name (the `[billing.prices]` key and the field), its type
/// (`Option<f64>`: computed unless set), its default and its meaning. From that one table come
/// [`PRICE_NAMES`], [`PriceTable`], its `Default` and the by-name setter.
macro_rules! prices {
    ($($name:ident: $ty:ty = $default:expr, $meaning:literal;)*) => {
        /// Every overridable price or allowance: `(name, meaning)`, in the order the docs list them.
        pub const PRICE_NAMES: &[(&str, &str)] = &[$((stringify!($name), $meaning)),*];

        /// A resolved set of prices. Field names are [`PRICE_NAMES`] entries.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(missing_docs)] // each field is documented in PRICE_NAMES
        pub struct PriceTable {
            $(pub $name: $ty,)*
        }

        impl Default for PriceTable {
            /// BILLING.md §1.1 list prices.
            fn default() -> Self {
                PriceTable { $($name: $default,)* }
            }
        }

        impl PriceTable {
            /// The field a price name refers to, or `None` for an unknown name.
            fn slot(&mut self, name: &str) -> Option<Slot<'_>> {
                Some(match name {
                    $(stringify!($name) => Slot::from(&mut self.$name),)*
                    _ => return None,
                })
            }
        }
    };
}

prices! {
    cloud_run_request_vcpu_second_usd: f64 = 0.000024,
        "Cloud Run request-based: active vCPU-second";
    cloud_run_request_gib_second_usd: f64 = 0.0000025,
        "Cloud Run request-based: active GiB-second";
    cloud_run_request_per_million_usd: f64 = 0.40,
        "Cloud Run request-based: per million requests";
    cloud_run_idle_vcpu_second_usd: f64 = 0.0000025,
        "Cloud Run request-based: idle min-instance vCPU-second";
    cloud_run_idle_gib_second_usd: f64 = 0.0000025,
        "Cloud Run request-based: idle min-instance GiB-second";
    cloud_run_request_free_vcpu_seconds: f64 = 180_000.0,
        "Cloud Run request-based: free vCPU-seconds a month";
    cloud_run_request_free_gib_seconds: f64 = 360_000.0,
        "Cloud Run request-based: free GiB-seconds a month";
    cloud_run_request_free_requests: f64 = 2_000_000.0,
        "Cloud Run request-based: free requests a month";
    cloud_run_instance_vcpu_second_usd: f64 = 0.000018,
        "Cloud Run instance-based: vCPU-second";
    cloud_run_instance_gib_second_usd: f64 = 0.000002,
        "Cloud Run instance-based: GiB-second";
    cloud_run_instance_free_vcpu_seconds: f64 = 240_000.0,
        "Cloud Run instance-based: free vCPU-seconds a month";
    cloud_run_instance_free_gib_seconds: f64 = 450_000.0,
        "Cloud Run instance-based: free GiB-seconds a month";
    lambda_gb_second_usd: f64 = 0.0000166667,
        "Lambda x86 duration, first 6 B GB-s a month";
    lambda_gb_second_tier2_usd: f64 = 0.000015,
        "Lambda x86 duration, next 9 B GB-s a month";
    lambda_gb_second_tier3_usd: f64 = 0.0000133334,
        "Lambda x86 duration, above 15 B GB-s a month";
    lambda_per_million_usd: f64 = 0.20,
        "Lambda: per million requests";
    lambda_pc_gb_second_usd: f64 = 0.0000041667,
        "Lambda provisioned concurrency: GB-second enabled";
    lambda_pc_duration_gb_second_usd: f64 = 0.0000097222,
        "Lambda provisioned concurrency: duration GB-second";
    lambda_free_gb_seconds: f64 = 400_000.0,
        "Lambda: free GB-seconds a month (not with provisioned concurrency)";
    lambda_free_requests: f64 = 1_000_000.0,
        "Lambda: free requests a month (not with provisioned concurrency)";
    azure_consumption_gb_second_usd: f64 = 0.000016,
        "Azure Functions Consumption: GB-second";
    azure_consumption_per_million_usd: f64 = 0.20,
        "Azure Functions Consumption: per million executions";
    azure_consumption_free_gb_seconds: f64 = 400_000.0,
        "Azure Functions Consumption: free GB-seconds a month";
    azure_consumption_free_executions: f64 = 1_000_000.0,
        "Azure Functions Consumption: free executions a month";
    azure_flex_gb_second_usd: f64 = 0.000026,
        "Azure Flex on-demand: GB-second executing";
    azure_flex_per_million_usd: f64 = 0.40,
        "Azure Flex: per million executions";
    azure_flex_always_ready_baseline_gb_second_usd: f64 = 0.000004,
        "Azure Flex always-ready: baseline GB-second";
    azure_flex_always_ready_gb_second_usd: f64 = 0.000016,
        "Azure Flex always-ready: GB-second executing";
    azure_flex_free_gb_seconds: f64 = 100_000.0,
        "Azure Flex on-demand: free GB-seconds a month";
    azure_flex_free_executions: f64 = 250_000.0,
        "Azure Flex on-demand: free executions a month";
    knative_node_vcpu_hour_usd: f64 = 0.02181159,
        "GKE node (E2, us-central1): vCPU-hour";
    knative_node_gib_hour_usd: f64 = 0.00292353,
        "GKE node (E2, us-central1): GiB-hour";
    knative_node_hour_usd: Option<f64> = None,
        "GKE node: price per node-hour (default: from the vCPU and GiB prices)";
    knative_cluster_hour_usd: f64 = 0.10,
        "GKE cluster management fee per hour";
    knative_free_credit_usd: f64 = 74.40,
        "GKE free-tier credit a month (covers one zonal cluster's fee)";
}

impl PriceTable {
    /// True when `name` is a price this table knows.
    pub fn is_known(name: &str) -> bool {
        PriceTable::default().slot(name).is_some()
    }

    /// Sets one price by name; false (and no change) for an unknown name.
    pub fn set(&mut self, name: &str, value: f64) -> bool {
        match self.slot(name) {
            Some(Slot::F(f)) => *f = value,
            Some(Slot::Opt(f)) => *f = Some(value),
            None => return false,
        }
        true
    }

    /// The list prices with `overrides` applied. Unknown names are skipped: `[billing.prices]`
    /// is validated when the scenario is resolved ([`super::BillingConfig::from_raw`]).
    pub fn with_overrides(overrides: &BTreeMap<String, f64>) -> PriceTable {
        let mut t = PriceTable::default();
        for (k, v) in overrides {
            t.set(k, *v);
        }
        t
    }
}

enum Slot<'a> {
    F(&'a mut f64),
    Opt(&'a mut Option<f64>),
}

impl<'a> From<&'a mut f64> for Slot<'a> {
    fn from(f: &'a mut f64) -> Self {
        Slot::F(f)
    }
}

impl<'a> From<&'a mut Option<f64>> for Slot<'a> {
    fn from(f: &'a mut Option<f64>) -> Self {
        Slot::Opt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_name_is_settable_and_no_other() {
        for (name, _) in PRICE_NAMES {
            let mut t = PriceTable::default();
            assert!(t.set(name, 123.5), "{name}");
            assert_ne!(t, PriceTable::default(), "{name} changed nothing");
        }
        assert!(!PriceTable::is_known("cloud_run_vcpu"));
        assert!(!PriceTable::default().set("nope", 1.0));
    }

    #[test]
    fn defaults_match_billing_md() {
        let t = PriceTable::default();
        // e2-standard-2 (2 vCPU, 8 GiB) ≈ $0.0670 an hour.
        let node = 2.0 * t.knative_node_vcpu_hour_usd + 8.0 * t.knative_node_gib_hour_usd;
        assert!((node - 0.0670).abs() < 0.0001, "{node}");
        // Idle min-instance vCPU is about a tenth of the active price.
        let r = t.cloud_run_request_vcpu_second_usd / t.cloud_run_idle_vcpu_second_usd;
        assert!((r - 9.6).abs() < 1e-9);
    }
}
