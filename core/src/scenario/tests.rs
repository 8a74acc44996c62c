use std::path::Path;

use super::*;
use crate::autoscaler::AutoscalerSettings;

fn parse(src: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml_str(src, Path::new("t.toml"))
}

const MIN: &str = include_str!("tests/min.toml");

#[test]
fn minimal_scenario_gets_knative_defaults() {
    let s = parse(MIN).unwrap();
    assert_eq!(s.revisions.len(), 1);
    assert_eq!(s.revisions[0].traffic_percent, 100.0);
    let AutoscalerSettings::Kpa(k) = &s.revisions[0].autoscaler else {
        panic!()
    };
    assert_eq!(k.target_burst_capacity, 211.0);
    assert_eq!(k.stable_window, Duration::from_secs(60));
    assert_eq!(s.revisions[0].service.container_concurrency, 0);
}

#[test]
fn errors_name_line_and_key() {
    let src = format!("{MIN}[service]\ntimeout = 300\n");
    let e = parse(&src).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("service.timeout"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(7), "{e}");
    assert!(e.message.contains("no unit"), "{e}");
}

#[test]
fn unknown_key_is_an_error() {
    let e = parse(&format!("{MIN}[autoscaler]\ntargett = 3\n")).unwrap_err();
    assert!(e.message.contains("unknown key"), "{e}");
    assert!(e.message.contains("targett"), "{e}");
    assert_eq!(e.position, Some((7, 1)), "{e}");
}

#[test]
fn traffic_must_sum_to_100() {
    let src = format!(
        "{MIN}[[revisions]]\nname = \"a\"\ntraffic = 90\n[[revisions]]\nname = \"b\"\ntraffic = 5\n"
    );
    let e = parse(&src).unwrap_err();
    assert!(e.message.contains("sum to 95"), "{e}");
}

#[test]
fn revisions_inherit_and_override() {
    let src = format!(
        "{MIN}[service]\ncontainer_concurrency = 10\n[autoscaler]\ntarget = 7\n\
         [[revisions]]\nname = \"a\"\ntraffic = 90\n\
         [[revisions]]\nname = \"b\"\ntraffic = 10\nautoscaler = {{ min_scale = 2 }}\n"
    );
    let s = parse(&src).unwrap();
    assert_eq!(s.revisions[1].service.container_concurrency, 10);
    let AutoscalerSettings::Kpa(k) = &s.revisions[1].autoscaler else {
        panic!()
    };
    assert_eq!((k.min_scale, k.target), (2, Some(7.0)));
}

#[test]
fn variants_override_dotted_keys() {
    let src = format!(
        "{MIN}[[variants]]\nname = \"min-1\"\nset = {{ \"autoscaler.min_scale\" = 1, \
         \"workload.phases.0.arrival.rate\" = 9 }}\n"
    );
    let s = parse(&src).unwrap();
    let runs = s.runs();
    assert_eq!(runs.len(), 2);
    let v = runs[1].1;
    let AutoscalerSettings::Kpa(k) = &v.revisions[0].autoscaler else {
        panic!()
    };
    assert_eq!(k.min_scale, 1);
    assert_eq!(
        v.workload.phases[0].arrival,
        crate::workload::ArrivalSpec::Poisson { rate: 9.0 }
    );
}

#[test]
fn variant_errors_point_at_the_override() {
    let src = format!("{MIN}[[variants]]\nname = \"v\"\nset = {{ \"autoscaler.min_scal\" = 1 }}\n");
    let e = parse(&src).unwrap_err();
    assert_eq!(e.position, Some((8, 9)), "{e}");
    assert!(e.message.contains("variant \"v\""), "{e}");
    assert!(e.message.contains("min_scal"), "{e}");
}

/// The error of a scenario whose `service_time` is `{ SPEC }`.
fn service_time_err(spec: &str) -> ScenarioError {
    parse(&format!("{MIN}[service]\nservice_time = {{ {spec} }}\n")).unwrap_err()
}

#[test]
fn bad_distributions_and_processes() {
    let e = service_time_err("dist = \"gauss\", mean = \"1s\"");
    assert!(e.message.contains("unknown distribution \"gauss\""), "{e}");
    let e = service_time_err("dist = \"lognormal\", median = \"1s\", p99 = \"0.5s\"");
    assert!(e.message.contains("median < p99"), "{e}");
    let e = parse(&MIN.replace("poisson\", rate = 5", "poisson\", rate = -5")).unwrap_err();
    assert!(e.message.contains("≥ 0"), "{e}");
    let e = parse(&MIN.replace("poisson", "bursty")).unwrap_err();
    assert!(e.message.contains("unknown arrival process"), "{e}");
}

#[test]
fn empty_and_syntax_errors() {
    assert!(parse("  \n").unwrap_err().message.contains("empty"));
    let e = parse("name = \"x\nduration = 3").unwrap_err();
    assert!(e.position.is_some(), "{e}");
}

#[test]
fn min_above_max_is_rejected() {
    let e = parse(&format!(
        "{MIN}[autoscaler]\nmin_scale = 5\nmax_scale = 2\n"
    ))
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("autoscaler.min_scale"));
}

#[test]
fn router_overheads_resolve_and_are_checked() {
    let s = parse(&format!(
        "{MIN}[router]\noverhead = \"1ms\"\nslot_overhead = \"1.5ms\"\n"
    ))
    .unwrap();
    assert_eq!(s.router.overhead, Duration::from_millis(1));
    assert_eq!(s.router.slot_overhead, Duration::from_micros(1500));
    assert_eq!(parse(MIN).unwrap().router.slot_overhead, Duration::ZERO);
    let e = parse(&format!("{MIN}[router]\nslot_overhead = 2\n")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("router.slot_overhead"), "{e}");
}

/// The hand-kept list of KPA keys that a keepalive table refused missed keys; the key tables
/// refuse every key of another kind's table, naming the kind it belongs to.
#[test]
fn each_autoscaler_kind_refuses_the_other_kinds_keys() {
    use crate::autoscaler::keys::{self, CLOUD_RUN_KEYS, HPA_KEYS, KEEPALIVE_KEYS, KPA_KEYS};
    let tables: [(&str, Vec<(&str, toml::Value)>); 4] = [
        (
            "kpa",
            KPA_KEYS
                .iter()
                .map(|k| {
                    (
                        k.key,
                        k.default().to_toml().unwrap_or(toml::Value::Float(10.0)),
                    )
                })
                .collect(),
        ),
        (
            "keepalive",
            KEEPALIVE_KEYS
                .iter()
                .map(|k| (k.key, k.default().to_toml().expect("set")))
                .collect(),
        ),
        (
            "cloud-run",
            CLOUD_RUN_KEYS
                .iter()
                .map(|k| (k.key, k.default().to_toml().expect("set")))
                .collect(),
        ),
        (
            "hpa",
            HPA_KEYS
                .iter()
                .map(|k| (k.key, k.default().to_toml().expect("set")))
                .collect(),
        ),
    ];
    let mut checked = 0;
    for (kind, _) in &tables {
        for (owner, rows) in &tables {
            for (key, v) in rows {
                if keys::kinds_with(key).contains(kind) {
                    continue;
                }
                let src = format!("{MIN}[autoscaler]\nkind = \"{kind}\"\n{key} = {v}\n");
                let e = parse(&src).expect_err(key);
                assert_eq!(e.key.as_deref(), Some(format!("autoscaler.{key}").as_str()));
                assert!(
                    e.message
                        .contains(&format!("does not apply to kind = \"{kind}\""))
                        && e.message.contains(&format!("\"{owner}\"")),
                    "{kind} / {key}: {e}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

/// The error of `[autoscaler]` holding `body`: on line 7 (the table's first line), naming `key`.
fn autoscaler_error(body: &str, key: &str) -> String {
    let e = parse(&format!("{MIN}[autoscaler]\n{body}\n")).expect_err(body);
    assert_eq!(e.key.as_deref(), Some(key), "{body}: {e}");
    assert_eq!(e.position.map(|p| p.0), Some(7), "{body}: {e}");
    e.message
}

#[test]
fn autoscaler_values_are_checked_through_the_key_table() {
    let e = autoscaler_error("stable_window = \"3s\"", "autoscaler.stable_window");
    assert!(e.contains("at least 6s"), "{e}");
    let e = autoscaler_error("target = \"ten\"", "autoscaler.target");
    assert!(e.contains("expected a number"), "{e}");
    let e = autoscaler_error("min_scale = -1", "autoscaler.min_scale");
    assert!(e.contains("is negative"), "{e}");
    let e = autoscaler_error("kind = \"vpa\"", "autoscaler.kind");
    assert!(e.contains("unknown autoscaler kind"), "{e}");
    assert!(e.contains("\"cloud-run\" or \"hpa\""), "{e}");
    // The HPA cannot scale to zero, and scales on CPU, which needs CPU work.
    let e = parse(&format!(
        "{MIN}[autoscaler]\nkind = \"hpa\"\nmin_scale = 0\n"
    ))
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("autoscaler.min_scale"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(8), "the value's line: {e}");
    assert!(e.message.contains("cannot scale to zero"), "{e}");
    let e = autoscaler_error("kind = \"hpa\"", "service.cpu_share");
    assert!(e.contains("scales on CPU"), "{e}");
    let s = parse(&format!(
        "{MIN}[service]\ncpu_share = 0.5\n[autoscaler]\nkind = \"hpa\"\ncpu_target = 60\n"
    ))
    .expect("valid");
    let AutoscalerSettings::Hpa(h) = &s.revisions[0].autoscaler else {
        panic!()
    };
    assert_eq!((h.cpu_target, h.min_scale), (0.6, 1));
    // Cloud Run's concurrency is a hard cap of 1 to 1000.
    let e = parse(&format!(
        "{MIN}[service]\ncontainer_concurrency = 0\n[autoscaler]\nkind = \"cloud-run\"\n"
    ))
    .unwrap_err();
    assert_eq!(
        e.key.as_deref(),
        Some("service.container_concurrency"),
        "{e}"
    );
    let s = parse(&format!("{MIN}[autoscaler]\nkind = \"cloud-run\"\n")).expect("valid");
    assert_eq!(s.revisions[0].autoscaler.kind(), "cloud-run");
    assert_eq!(
        s.revisions[0].service.container_concurrency, 80,
        "Cloud Run's default"
    );
    assert_eq!(s.revisions[0].autoscaler.max_instances(), 100);
    let e = parse(&format!("{MIN}[service]\ncpu_share = 1.5\n")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("service.cpu_share"), "{e}");
    let e = autoscaler_error("metrc = \"rps\"", "autoscaler.metrc");
    assert!(e.contains("unknown key `metrc`"), "{e}");
    let e = autoscaler_error(
        "activation_scale = 3\nmax_scale = 2",
        "autoscaler.activation_scale",
    );
    assert!(e.contains("exceeds"), "{e}");
    // A revision's own table overrides the shared one key by key.
    let s = parse(&format!(
        "{MIN}[autoscaler]\ntarget = 7\nmin_scale = 1\n[[revisions]]\nname = \"a\"\ntraffic = 100\n\
         autoscaler = {{ min_scale = 3, target_utilization = 50 }}\n"
    ))
    .expect("valid");
    let AutoscalerSettings::Kpa(k) = &s.revisions[0].autoscaler else {
        panic!()
    };
    assert_eq!(
        (k.min_scale, k.target, k.target_utilization),
        (3, Some(7.0), 0.5)
    );
}

#[test]
fn empirical_service_time_resolves_and_checks_its_points() {
    let ok = format!(
        "{MIN}[service]\nservice_time = {{ dist = \"empirical\", points = [[0, \"5ms\"], \
         [0.5, \"120ms\"], [1, \"9s\"]] }}\n"
    );
    let s = parse(&ok).unwrap();
    assert_eq!(
        s.revisions[0].service.service_time,
        crate::workload::DistSpec::Empirical {
            points: vec![
                (0.0, Duration::from_millis(5)),
                (0.5, Duration::from_millis(120)),
                (1.0, Duration::from_secs(9)),
            ]
        }
    );
    let bad = |points: &str| service_time_err(&format!("dist = \"empirical\", points = {points}"));
    let cases = [
        (
            "[[0, \"5ms\"]]",
            "service.service_time.points",
            "at least two",
        ),
        (
            "[[0.1, \"5ms\"], [1, \"9s\"]]",
            "service.service_time.points[0]",
            "must be 0",
        ),
        (
            "[[0, \"5ms\"], [0.9, \"9s\"]]",
            "service.service_time.points[1]",
            "must be 1",
        ),
        (
            "[[0, \"5ms\"], [0.6, \"1s\"], [0.5, \"2s\"], [1, \"9s\"]]",
            "service.service_time.points[2]",
            "increasing p",
        ),
        (
            "[[0, \"5ms\"], [0.5, \"1s\"], [1, \"10ms\"]]",
            "service.service_time.points[2]",
            "never decreases",
        ),
        (
            "[[0, \"5ms\"], [1.5, \"1s\"]]",
            "service.service_time.points[1]",
            "out of range",
        ),
    ];
    for (points, key, msg) in cases {
        let e = bad(points);
        assert_eq!(e.key.as_deref(), Some(key), "{points}: {e}");
        assert!(e.message.contains(msg), "{points}: {e}");
        // The line of `service_time`, after MIN and `[service]`.
        let line = MIN.lines().count() + 2;
        assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    }
    // A duration without a unit and a missing `points` are errors too.
    let e = bad("[[0, 5], [1, \"9s\"]]");
    assert!(e.to_string().contains("unit"), "{e}");
    let e = service_time_err("dist = \"empirical\"");
    assert!(e.message.contains("needs `points`"), "{e}");
    let e = service_time_err(
        "dist = \"empirical\", points = [[0, \"1ms\"], [1, \"2ms\"]], mean = \"1s\"",
    );
    assert!(e.message.contains("does not apply"), "{e}");
}
