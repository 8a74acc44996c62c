//! Swarm testing: random small scenarios (TigerBeetle's VOPR idea); invariants are checked on
//! every event, and the accounting must balance.

use proptest::prelude::*;
use scalelab_core::testing::fill;

use crate::support::*;

fn arb_scenario() -> impl Strategy<Value = String> {
    (
        0u32..4, // container concurrency choice
        prop::sample::select(vec![
            "knative",
            "newest-idle",
            "random",
            "round-robin",
            "least-loaded",
        ]),
        1u32..400,                                   // rate
        10u64..2000,                                 // service ms
        0u64..5000,                                  // cold start ms
        0u32..3,                                     // min scale
        prop::sample::select(vec![-1i32, 0, 211]),   // tbc
        prop::bool::ANY,                             // keepalive
        1u64..20,                                    // timeout s
        prop::sample::select(vec![0u32, 5, 10_000]), // activator queue depth
    )
        .prop_map(
            |(cc, policy, rate, svc, cold, min, tbc, ka, timeout, depth)| {
                // A keepalive pool runs one request per instance and picks its own instance
                // (other values are refused, not ignored).
                let cc = if ka {
                    [0, 1, 1, 0][cc as usize]
                } else {
                    [0, 1, 4, 50][cc as usize]
                };
                let policy = if ka { "newest-idle" } else { policy };
                let autoscaler = if ka {
                    "kind = \"keepalive\"\nidle_timeout = \"20s\"\nmax_instances = 30".to_string()
                } else {
                    format!(
                        "min_scale = {min}\ntarget_burst_capacity = {tbc}\nstable_window = \"10s\""
                    )
                };
                fill(
                    include_str!("fixtures/swarm.toml"),
                    &[
                        ("cc", &cc),
                        ("timeout", &timeout),
                        ("svc", &svc),
                        ("cold", &cold),
                        ("autoscaler", &autoscaler),
                        ("policy", &policy),
                        ("depth", &depth),
                        ("rate", &rate),
                    ],
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn accounting_balances_and_invariants_hold(toml in arb_scenario(), seed in 0u64..1000) {
        let s = scenario(&toml);
        let v = run(&s, seed); // panics on an invariant violation
        let r = v.requests;
        prop_assert_eq!(r.arrived, r.completed + r.rejected + r.timed_out + r.in_flight_at_end);
        prop_assert!(v.instances.idle_instance_seconds <= v.instances.instance_seconds + 1e-6);
        prop_assert!(occupancy(&v).mean_busy_instances <= v.instances.mean + 1e-6);
        for c in v.cost.values() {
            prop_assert!(c.total_usd >= 0.0);
        }
    }
}
