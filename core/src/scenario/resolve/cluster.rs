//! `[cluster]`: the nodes pods run on (defaults, ranges, and the checks that every revision's
//! pod fits a node); with it, `[billing.knative]`'s node pool is the simulated one.

use super::{R, Resolver, positive};
use crate::billing::BillingConfig;
use crate::cluster::{CONTROL_PLANE_MCPU, CONTROL_PLANE_MIB, ClusterSettings, Placement};
use crate::scenario::Revision;
use crate::scenario::raw::{RawScenario, S};

impl Resolver<'_> {
    /// `[cluster]`, or None without it. With it, the node keys of `[billing.knative]` are
    /// taken from `[cluster]` (setting them in both is refused). `services` lists the pods
    /// that run on the nodes: each service's revisions, with the service's name in a fleet
    /// (one pool for every service of a fleet) and None for a single-service scenario.
    pub(super) fn cluster(
        &self,
        raw: &RawScenario,
        services: &[(Option<&str>, &[Revision])],
        billing: &mut BillingConfig,
    ) -> R<Option<ClusterSettings>> {
        let Some(table) = &raw.cluster else {
            return Ok(None);
        };
        let c = table.get_ref();
        let d = ClusterSettings::default();
        let placement = match &c.placement {
            None => d.placement,
            Some(p) => Placement::from_name(p.get_ref()).ok_or_else(|| {
                self.err(
                    p,
                    "cluster.placement",
                    format!(
                        "unknown placement \"{}\": expected \"least-allocated\" (Kubernetes's \
                         default scoring) or \"first-fit\"",
                        p.get_ref()
                    ),
                )
            })?,
        };
        let node_vcpu = self.f64_in(
            &c.node_vcpu,
            "cluster.node_vcpu",
            d.node_vcpu,
            |x| (0.001..=1024.0).contains(&x),
            "0.001 ≤ node_vcpu ≤ 1024",
        )?;
        let node_memory_gib = self.f64_in(
            &c.node_memory_gib,
            "cluster.node_memory_gib",
            d.node_memory_gib,
            |x| (0.001..=65_536.0).contains(&x),
            "0.001 ≤ node_memory_gib ≤ 65536",
        )?;
        let max_pods_per_node = self.u32_in(
            &c.max_pods_per_node,
            "cluster.max_pods_per_node",
            d.max_pods_per_node,
            10_000,
        )?;
        if max_pods_per_node == 0 {
            let at = c.max_pods_per_node.as_ref().expect("given, since 0");
            return Err(self.err(
                at,
                "cluster.max_pods_per_node",
                "0 pods per node: expected 1 to 10000",
            ));
        }
        let out = ClusterSettings {
            node_vcpu,
            node_memory_gib,
            min_nodes: self.u32_in(&c.min_nodes, "cluster.min_nodes", d.min_nodes, 100_000)?,
            max_nodes: self.u32_in(&c.max_nodes, "cluster.max_nodes", d.max_nodes, 100_000)?,
            node_provisioning: self.dur(
                &c.node_provisioning,
                "cluster.node_provisioning",
                d.node_provisioning,
                |_| Ok(()),
            )?,
            placement,
            max_pods_per_node,
            queue_proxy_vcpu: self.f64_in(
                &c.queue_proxy_vcpu,
                "cluster.queue_proxy_vcpu",
                d.queue_proxy_vcpu,
                |x| (0.0..=node_vcpu).contains(&x),
                "0 ≤ queue_proxy_vcpu ≤ node_vcpu",
            )?,
            control_plane: c.control_plane.unwrap_or(d.control_plane),
            scale_down_unneeded: self.dur(
                &c.scale_down_unneeded,
                "cluster.scale_down_unneeded",
                d.scale_down_unneeded,
                positive,
            )?,
            scale_down_delay_after_add: self.dur(
                &c.scale_down_delay_after_add,
                "cluster.scale_down_delay_after_add",
                d.scale_down_delay_after_add,
                |_| Ok(()),
            )?,
        };
        if out.max_nodes > 0 && out.min_nodes > out.max_nodes {
            let at = c.min_nodes.as_ref().expect("min_nodes > 0 was given");
            return Err(self.err(
                at,
                "cluster.min_nodes",
                format!(
                    "min_nodes {} exceeds max_nodes {}",
                    out.min_nodes, out.max_nodes
                ),
            ));
        }
        for (service, revisions) in services {
            self.pods_fit(table, c, &out, *service, revisions)?;
        }
        self.knative_from_cluster(raw, &out, billing)?;
        Ok(Some(out))
    }

    /// Every revision's pod fits an empty node (else it would wait for ever, and the Cluster
    /// Autoscaler would add no node for it); with one node at most and the control plane on
    /// it, beside the control plane. `service` names the fleet's service the revisions are of.
    fn pods_fit<T>(
        &self,
        table: &S<T>,
        c: &crate::scenario::raw::RawCluster,
        s: &ClusterSettings,
        service: Option<&str>,
        revisions: &[Revision],
    ) -> R<()> {
        let of = service.map_or(String::new(), |n| format!("service \"{n}\": "));
        let only_cp_node = s.control_plane && s.max_nodes == 1;
        let (room_mcpu, room_mib) = if only_cp_node {
            (
                s.node_mcpu().saturating_sub(CONTROL_PLANE_MCPU),
                s.node_mib().saturating_sub(CONTROL_PLANE_MIB),
            )
        } else {
            (s.node_mcpu(), s.node_mib())
        };
        let beside = if only_cp_node {
            " beside Knative's control plane (0.6 vCPU, 360 MiB; max_nodes = 1)"
        } else {
            ""
        };
        for r in revisions {
            let p = s.pod_size(r.service.vcpu, r.service.memory_gib);
            if p.mcpu > room_mcpu {
                let msg = format!(
                    "{of}revision \"{}\" asks {} millicores a pod ([service] vcpu {} + queue_proxy_vcpu \
                     {}) but a node has {room_mcpu} millicores for pods{beside}: the pod could \
                     never be placed; raise node_vcpu or lower the service's vcpu",
                    r.name, p.mcpu, r.service.vcpu, s.queue_proxy_vcpu
                );
                return Err(match &c.node_vcpu {
                    Some(v) => self.err(v, "cluster.node_vcpu", msg),
                    None => self.err(table, "cluster.node_vcpu", msg),
                });
            }
            if p.mib > room_mib {
                let msg = format!(
                    "{of}revision \"{}\" asks {} MiB a pod ([service] memory_gib {}) but a node has \
                     {room_mib} MiB for pods{beside}: the pod could never be placed; raise \
                     node_memory_gib or lower the service's memory_gib",
                    r.name, p.mib, r.service.memory_gib
                );
                return Err(match &c.node_memory_gib {
                    Some(v) => self.err(v, "cluster.node_memory_gib", msg),
                    None => self.err(table, "cluster.node_memory_gib", msg),
                });
            }
        }
        Ok(())
    }

    /// With `[cluster]`, `knative-nodes` bills the simulated nodes: its node keys come from
    /// `[cluster]`, and `[billing.knative]` may only add `cluster_fee`.
    fn knative_from_cluster(
        &self,
        raw: &RawScenario,
        s: &ClusterSettings,
        billing: &mut BillingConfig,
    ) -> R<()> {
        if let Some(k) = raw
            .billing
            .as_ref()
            .and_then(|b| b.get_ref().knative.as_ref())
        {
            let kr = k.get_ref();
            let given = [
                ("node_vcpu", kr.node_vcpu.is_some()),
                ("node_memory_gib", kr.node_memory_gib.is_some()),
                ("max_pods_per_node", kr.max_pods_per_node.is_some()),
                ("queue_proxy_vcpu", kr.queue_proxy_vcpu.is_some()),
                ("control_plane", kr.control_plane.is_some()),
                ("scale_down_unneeded", kr.scale_down_unneeded.is_some()),
                (
                    "scale_down_delay_after_add",
                    kr.scale_down_delay_after_add.is_some(),
                ),
            ];
            if let Some((key, _)) = given.iter().find(|(_, g)| *g) {
                return Err(self.err(
                    k,
                    &format!("billing.knative.{key}"),
                    format!(
                        "`{key}` is taken from [cluster] when the scenario has one (knative-nodes \
                         bills the simulated nodes); set it there, and keep only `cluster_fee` \
                         in [billing.knative]"
                    ),
                ));
            }
        }
        let k = &mut billing.knative;
        k.node_vcpu = s.node_vcpu;
        k.node_memory_gib = s.node_memory_gib;
        k.max_pods_per_node = s.max_pods_per_node;
        k.queue_proxy_vcpu = s.queue_proxy_vcpu;
        k.control_plane = s.control_plane;
        k.scale_down_unneeded = s.scale_down_unneeded;
        k.scale_down_delay_after_add = s.scale_down_delay_after_add;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::cluster::{ClusterSettings, Placement};
    use crate::scenario::Scenario;

    const BASE: &str = include_str!("../tests/min.toml");

    fn parse(extra: &str) -> Result<Scenario, crate::scenario::ScenarioError> {
        Scenario::from_toml_str(&format!("{BASE}{extra}"), "t.toml".as_ref())
    }

    #[test]
    fn without_the_table_there_is_no_cluster() {
        assert_eq!(parse("").unwrap().cluster, None);
    }

    #[test]
    fn an_empty_table_takes_the_defaults_and_knative_nodes_follows_it() {
        let s = parse("[cluster]\n").unwrap();
        assert_eq!(s.cluster, Some(ClusterSettings::default()));
        let s = parse(
            "[cluster]\nnode_vcpu = 4\nnode_memory_gib = 16\nplacement = \"first-fit\"\n\
             scale_down_unneeded = \"5m\"\ncontrol_plane = false\n\
             [billing]\nmodels = [\"knative-nodes\"]\n[billing.knative]\ncluster_fee = true\n",
        )
        .unwrap();
        let c = s.cluster.unwrap();
        assert_eq!(c.placement, Placement::FirstFit);
        let k = &s.billing.knative;
        assert_eq!((k.node_vcpu, k.node_memory_gib), (4.0, 16.0));
        assert_eq!(k.scale_down_unneeded, Duration::from_secs(300));
        assert!(!k.control_plane && k.cluster_fee);
    }

    #[test]
    fn variants_override_cluster_keys() {
        let s = parse(
            "[cluster]\nmin_nodes = 1\n[[variants]]\nname = \"big\"\n\
             set = { \"cluster.min_nodes\" = 5 }\n",
        )
        .unwrap();
        assert_eq!(
            s.variants[0].scenario.cluster.as_ref().unwrap().min_nodes,
            5
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (toml, key) in [
            ("[cluster]\nnode_vcpu = 0\n", "cluster.node_vcpu"),
            (
                "[cluster]\nnode_memory_gib = -1\n",
                "cluster.node_memory_gib",
            ),
            (
                "[cluster]\nmax_pods_per_node = 0\n",
                "cluster.max_pods_per_node",
            ),
            (
                "[cluster]\nscale_down_unneeded = \"0s\"\n",
                "cluster.scale_down_unneeded",
            ),
            (
                "[cluster]\nqueue_proxy_vcpu = 3\n",
                "cluster.queue_proxy_vcpu",
            ),
            (
                "[cluster]\nmin_nodes = 3\nmax_nodes = 2\n",
                "cluster.min_nodes",
            ),
            ("[cluster]\nplacement = \"spread\"\n", "cluster.placement"),
            (
                "[cluster]\nnode_memory_gib = 0.25\n",
                "cluster.node_memory_gib",
            ),
            (
                "[service]\nvcpu = 1.5\n[cluster]\nmax_nodes = 1\n",
                "cluster.node_vcpu",
            ),
            ("[cluster]\nzz = 1\n", "cluster.zz"),
        ] {
            let e = parse(toml).expect_err(toml);
            assert_eq!(e.key.as_deref(), Some(key), "{toml}: {}", e.message);
        }
    }

    const FLEET: &str = r#"
name = "f"
duration = "1m"
[service]
vcpu = 0.5
memory_gib = 1
[[workload.phases]]
duration = "1m"
arrival = { process = "poisson", rate = 5 }
[[services]]
name = "api"
[[services]]
name = "big"
[services.service]
vcpu = 1
memory_gib = 2
"#;

    #[test]
    fn a_fleet_shares_one_cluster_and_knative_nodes_follows_it() {
        let s = Scenario::from_toml_str(
            &format!(
                "{FLEET}[cluster]\nnode_vcpu = 4\nmax_nodes = 3\n\
                 [billing]\nmodels = [\"knative-nodes\"]\n\
                 [[variants]]\nname = \"more\"\nset = {{ \"cluster.max_nodes\" = 6 }}\n"
            ),
            "f.toml".as_ref(),
        )
        .unwrap();
        let c = s.cluster.as_ref().unwrap();
        assert_eq!((c.node_vcpu, c.max_nodes), (4.0, 3));
        assert_eq!(s.billing.knative.node_vcpu, 4.0);
        // Every service runs on it.
        assert_eq!(s.service_scenario(1).cluster.as_ref(), Some(c));
        assert_eq!(s.service_scenario(1).billing.knative.node_vcpu, 4.0);
        assert_eq!(
            s.variants[0].scenario.cluster.as_ref().unwrap().max_nodes,
            6
        );
    }

    #[test]
    fn a_service_whose_pod_fits_no_node_is_named() {
        for (cluster, key, what) in [
            ("node_vcpu = 1", "cluster.node_vcpu", "millicores"),
            ("node_memory_gib = 1.5", "cluster.node_memory_gib", "MiB"),
        ] {
            let e = Scenario::from_toml_str(
                &format!("{FLEET}[cluster]\n{cluster}\n"),
                "f.toml".as_ref(),
            )
            .expect_err(cluster);
            assert_eq!(e.key.as_deref(), Some(key), "{}", e.message);
            assert!(e.message.contains("service \"big\""), "{}", e.message);
            assert!(e.message.contains(what), "{}", e.message);
        }
    }
}
