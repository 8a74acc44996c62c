//! `[billing]`: the models to compute, rounding, prices and the `knative-nodes` node pool.

use std::collections::BTreeMap;

use super::{R, Resolver};
use crate::billing::prices::{PRICE_NAMES, PriceTable};
use crate::billing::{BillingConfig, KnativeNodes, MODEL_NAMES, parse_granularity, parse_model};
use crate::duration::Dur;
use crate::scenario::ScenarioError;
use crate::scenario::raw::{RawKnativeNodes, RawScenario, S};

impl Resolver<'_> {
    /// `[billing]`.
    pub(super) fn billing(&self, raw: &RawScenario) -> R<BillingConfig> {
        let Some(raw) = &raw.billing else {
            return Ok(BillingConfig::default());
        };
        let raw = raw.get_ref();
        let err = |span, key: &str, msg: String| {
            ScenarioError::at(self.file, self.src, span, Some(key.to_string()), msg)
        };
        let d = BillingConfig::default();
        let granularity = match &raw.granularity {
            None => None,
            Some(g) => Some(Dur(parse_granularity(g.get_ref()).map_err(|e| {
                err(Some(g.span()), "billing.granularity", e.to_string())
            })?)),
        };
        let mut models = Vec::new();
        if let Some(ms) = &raw.models {
            for (i, m) in ms.get_ref().iter().enumerate() {
                let spec = parse_model(m.get_ref(), granularity.map(|g| g.0)).map_err(|e| {
                    err(
                        Some(m.span()),
                        &format!("billing.models[{i}]"),
                        e.to_string(),
                    )
                })?;
                if !models.contains(&spec.name) {
                    models.push(spec.name);
                }
            }
            if models.is_empty() {
                return Err(err(
                    Some(ms.span()),
                    "billing.models",
                    "no billing model listed: name at least one of ".to_string()
                        + &MODEL_NAMES.join(", "),
                ));
            }
        } else {
            models = d.models.clone();
        }
        let mut prices = BTreeMap::new();
        if let Some(p) = &raw.prices {
            for (k, v) in p.get_ref() {
                let name = k.get_ref();
                let key = format!("billing.prices.{name}");
                if !PriceTable::is_known(name) {
                    let names: Vec<&str> = PRICE_NAMES.iter().map(|(n, _)| *n).collect();
                    return Err(err(
                        Some(k.span()),
                        &key,
                        format!(
                            "unknown price \"{name}\": expected one of {}",
                            names.join(", ")
                        ),
                    ));
                }
                let x = *v.get_ref();
                if !x.is_finite() || x < 0.0 {
                    return Err(err(
                        Some(v.span()),
                        &key,
                        format!("{x} is out of range: a price is ≥ 0 USD"),
                    ));
                }
                prices.insert(name.clone(), x);
            }
        }
        let knative = match &raw.knative {
            None => KnativeNodes::default(),
            Some(k) => self.knative_nodes(k.get_ref())?,
        };
        Ok(BillingConfig {
            models,
            free_tier: raw.free_tier.unwrap_or(false),
            prices,
            granularity,
            provisioned_concurrency: raw.provisioned_concurrency.unwrap_or(false),
            knative,
        })
    }

    /// `[billing.knative]`: the node pool of `knative-nodes`.
    fn knative_nodes(&self, raw: &RawKnativeNodes) -> R<KnativeNodes> {
        let err = |span, key: &str, msg: String| {
            ScenarioError::at(self.file, self.src, span, Some(key.to_string()), msg)
        };
        let d = KnativeNodes::default();
        let pos = |v: &Option<S<f64>>, key: &str, default: f64, zero_ok: bool, max: f64| match v {
            None => Ok(default),
            Some(x) => {
                let f = *x.get_ref();
                let low_ok = if zero_ok { f >= 0.0 } else { f > 0.0 };
                if f.is_finite() && low_ok && f <= max {
                    Ok(f)
                } else {
                    let low = if zero_ok { "≥ 0" } else { "> 0" };
                    Err(err(
                        Some(x.span()),
                        &format!("billing.knative.{key}"),
                        format!("{f} is out of range: expected a number {low} and ≤ {max}"),
                    ))
                }
            }
        };
        let node_vcpu = pos(&raw.node_vcpu, "node_vcpu", d.node_vcpu, false, 1024.0)?;
        let node_memory_gib = pos(
            &raw.node_memory_gib,
            "node_memory_gib",
            d.node_memory_gib,
            false,
            65_536.0,
        )?;
        let queue_proxy_vcpu = pos(
            &raw.queue_proxy_vcpu,
            "queue_proxy_vcpu",
            d.queue_proxy_vcpu,
            true,
            node_vcpu,
        )?;
        let max_pods_per_node = match &raw.max_pods_per_node {
            None => d.max_pods_per_node,
            Some(v) => {
                let n = *v.get_ref();
                if !(1..=10_000).contains(&n) {
                    return Err(err(
                        Some(v.span()),
                        "billing.knative.max_pods_per_node",
                        format!("{n} is out of range: expected 1 to 10000"),
                    ));
                }
                n as u32
            }
        };
        Ok(KnativeNodes {
            node_vcpu,
            node_memory_gib,
            max_pods_per_node,
            queue_proxy_vcpu,
            control_plane: raw.control_plane.unwrap_or(d.control_plane),
            cluster_fee: raw.cluster_fee.unwrap_or(d.cluster_fee),
            scale_down_unneeded: raw
                .scale_down_unneeded
                .as_ref()
                .map_or(d.scale_down_unneeded, |x| x.get_ref().0),
            scale_down_delay_after_add: raw
                .scale_down_delay_after_add
                .as_ref()
                .map_or(d.scale_down_delay_after_add, |x| x.get_ref().0),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::billing::{BillingConfig, ModelKind};
    use crate::duration::Dur;

    fn scenario(
        billing: &str,
    ) -> Result<crate::scenario::Scenario, crate::scenario::ScenarioError> {
        let src = format!(
            "name = \"b\"\nduration = \"1m\"\n[[workload.phases]]\nduration = \"1m\"\n\
             arrival = {{ process = \"poisson\", rate = 5 }}\n[billing]\n{billing}\n"
        );
        crate::scenario::Scenario::from_toml_str(&src, "b.toml".as_ref())
    }

    #[test]
    fn billing_table_resolves_with_defaults_and_options() {
        let s = scenario(
            "models = [\"cloud-run-request\", \"cloud-run-request@per-second\", \"lambda@10ms\"]\n\
             granularity = \"1ms\"\nprovisioned_concurrency = true\n\
             prices = { lambda_gb_second_usd = 0.00001 }\n\
             [billing.knative]\nnode_vcpu = 4\nnode_memory_gib = 16\ncluster_fee = true\n\
             scale_down_unneeded = \"5m\"",
        )
        .expect("valid");
        let b = &s.billing;
        assert_eq!(b.models.len(), 3);
        assert_eq!(b.granularity, Some(Dur(Duration::from_millis(1))));
        assert!(b.provisioned_concurrency);
        assert_eq!(b.prices["lambda_gb_second_usd"], 0.00001);
        assert_eq!(b.knative.node_vcpu, 4.0);
        assert_eq!(b.knative.scale_down_unneeded, Duration::from_secs(300));
        let specs: Vec<_> = b.specs().into_iter().map(|s| s.expect("parses")).collect();
        assert_eq!(specs[0].granularity, Duration::from_millis(1));
        assert_eq!(specs[1].granularity, Duration::from_secs(1));
        assert_eq!(specs[2].granularity, Duration::from_millis(10));
        assert_eq!(specs[2].kind, ModelKind::Lambda);
        let d = scenario("").expect("valid").billing;
        assert_eq!(d, BillingConfig::default());
    }

    #[test]
    fn billing_errors_name_the_key() {
        let cases = [
            (
                "models = [\"cloud-run\"]",
                "billing.models[0]",
                "unknown billing model",
            ),
            (
                "models = [\"lambda@fast\"]",
                "billing.models[0]",
                "granularity",
            ),
            ("models = []", "billing.models", "no billing model"),
            (
                "granularity = \"0s\"",
                "billing.granularity",
                "longer than zero",
            ),
            (
                "granularity = \"often\"",
                "billing.granularity",
                "per-second",
            ),
            (
                "prices = { cloud_run_cpu = 1.0 }",
                "billing.prices.cloud_run_cpu",
                "unknown price",
            ),
            (
                "prices = { lambda_per_million_usd = -1.0 }",
                "billing.prices.lambda_per_million_usd",
                "≥ 0",
            ),
            (
                "[billing.knative]\nnode_vcpu = 0",
                "billing.knative.node_vcpu",
                "out of range",
            ),
            (
                "[billing.knative]\nmax_pods_per_node = 0",
                "billing.knative.max_pods_per_node",
                "out of range",
            ),
        ];
        for (toml, key, msg) in cases {
            let e = scenario(toml).expect_err(toml);
            assert_eq!(e.key.as_deref(), Some(key), "{toml}: {e:?}");
            assert!(e.message.contains(msg), "{toml}: {}", e.message);
        }
        // Unknown keys are rejected by the schema.
        assert!(scenario("colour = \"red\"").is_err());
        assert!(scenario("[billing.knative]\nnodes = 3").is_err());
    }
}
