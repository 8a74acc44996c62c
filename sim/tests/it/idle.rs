//! Idle seconds cost nothing: a platform with nothing to do (keepalive always; KPA at zero
//! without traffic) processes no whole-second timers, and its results (JSON and event log)
//! are those of a run that ticks through every second.

use proptest::prelude::*;
use scalelab_core::scenario::Scenario;
use scalelab_core::testing::fill;
use scalelab_sim::run_variant_ticking;

use super::support::scenario;

/// Runs every variant skipping and ticking; the results and logs must be equal. Returns the
/// events processed skipping and ticking, summed over the variants.
fn same_both_ways(s: &Scenario, seed: u64) -> (u64, u64) {
    let (mut skipped, mut ticked) = (0, 0);
    for (name, sc) in s.runs() {
        let run = |force| {
            run_variant_ticking(sc, name, seed, true, true, None, force)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let (a, log_a, n_a) = run(false);
        let (b, log_b, n_b) = run(true);
        let ja = serde_json::to_string_pretty(&a).expect("json");
        let jb = serde_json::to_string_pretty(&b).expect("json");
        if ja != jb {
            let diff: Vec<String> = ja
                .lines()
                .zip(jb.lines())
                .filter(|(x, y)| x != y)
                .take(8)
                .map(|(x, y)| format!("skipping {x} / ticking {y}"))
                .collect();
            panic!("{name} seed {seed}: results differ:\n{}", diff.join("\n"));
        }
        assert!(log_a == log_b, "{name} seed {seed}: the event logs differ");
        assert_eq!(
            b.sim.expect("sim").events,
            n_b,
            "a ticking run skips nothing"
        );
        skipped += n_a;
        ticked += n_b;
    }
    (skipped, ticked)
}

#[test]
fn bundled_sparse_scenarios_skip_idle_seconds_with_the_same_results() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    // rare-function's baseline is at zero about half the time (its variants keep an
    // instance); lambda-keepalive never needs a second.
    for (f, fewer) in [("rare-function.toml", 1.05), ("lambda-keepalive.toml", 3.0)] {
        let s = Scenario::from_file(&root.join(f)).unwrap_or_else(|e| panic!("{e}"));
        let (skipped, ticked) = same_both_ways(&s, 1);
        assert!(
            skipped as f64 * fewer < ticked as f64,
            "{f}: {skipped} events skipping, {ticked} ticking"
        );
    }
}

#[test]
fn a_year_of_a_rare_function_processes_about_two_events_per_request() {
    for kind in ["", "kind = \"keepalive\"\nidle_timeout = \"10m\""] {
        let s = scenario(&fill(
            include_str!("fixtures/idle-year.toml"),
            &[("kind", &kind)],
        ));
        let (v, _, processed) =
            run_variant_ticking(&s, "baseline", 1, false, false, None, false).expect("runs");
        let arrived = v.requests.arrived;
        assert!((30_000..33_000).contains(&arrived), "{arrived}");
        // Arrival, start, end, stop, a few autoscaler seconds and timers per request; a year
        // of ticking would be 3.2·10⁷ events.
        assert!(
            processed < 150 * arrived,
            "{kind}: {processed} events for {arrived} requests"
        );
        assert!(v.sim.expect("sim").events > 31_000_000);
    }
}

fn kpa_toml(rate: f64, cc: u32, grace: u32, retention: u32, tbc: i32, bucket: u32) -> String {
    let tbc = if tbc == 1 {
        String::new()
    } else {
        format!("target_burst_capacity = {tbc}")
    };
    fill(
        include_str!("fixtures/idle-kpa.toml"),
        &[
            ("cc", &cc),
            ("grace", &grace),
            ("retention", &retention),
            ("tbc", &tbc),
            ("rate", &rate),
            ("bucket", &bucket),
        ],
    )
}

fn keepalive_toml(rate: f64, idle: u32, choice: &str, reset: bool, bucket: u32) -> String {
    fill(
        include_str!("fixtures/idle-keepalive.toml"),
        &[
            ("idle", &idle),
            ("choice", &choice),
            ("reset", &reset),
            ("rate", &rate),
            ("bucket", &bucket),
        ],
    )
}

#[test]
fn whole_second_arrivals_and_service_times_order_as_ticking_does() {
    // Arrivals and completions at exact whole seconds, where the order of a transition and
    // the second's timer matters.
    for auto in [
        "",
        "kind = \"keepalive\"\nidle_timeout = \"7s\"",
        "stable_window = \"6s\"\nscale_to_zero_grace_period = \"1s\"",
    ] {
        for service in ["1s", "3s", "500ms"] {
            let s = scenario(&fill(
                include_str!("fixtures/idle-services.toml"),
                &[("service", &service), ("auto", &auto)],
            ));
            same_both_ways(&s, 3);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sparse_kpa_skipping_equals_ticking(
        rate in prop::sample::select(vec![0.0005, 0.003, 0.02, 0.1]),
        cc in prop::sample::select(vec![1u32, 10, 0]),
        grace in 1u32..60,
        retention in prop::sample::select(vec![0u32, 0, 45]),
        tbc in prop::sample::select(vec![1i32, 0, -1, 5]),
        bucket in prop::sample::select(vec![1u32, 7, 60]),
        seed in 0u64..1000,
    ) {
        same_both_ways(&scenario(&kpa_toml(rate, cc, grace, retention, tbc, bucket)), seed);
    }

    #[test]
    fn sparse_keepalive_skipping_equals_ticking(
        rate in prop::sample::select(vec![0.0005, 0.003, 0.02, 0.3]),
        idle in prop::sample::select(vec![1u32, 60, 600]),
        choice in prop::sample::select(vec!["last-freed", "newest-created", "first-free"]),
        reset in any::<bool>(),
        bucket in prop::sample::select(vec![1u32, 7, 60]),
        seed in 0u64..1000,
    ) {
        same_both_ways(&scenario(&keepalive_toml(rate, idle, choice, reset, bucket)), seed);
    }
}
