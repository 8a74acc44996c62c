//! The key table: complete, consistent, checked.

use super::*;

/// The table covers each field of the settings `T` serialize to (the scenario keys) once, and
/// names nothing else; every key's default goes in and out unchanged.
fn covers<T: Default + PartialEq + std::fmt::Debug + serde::Serialize>(table: &[Key<T>]) {
    let json = serde_json::to_value(T::default()).expect("serializes");
    let mut fields: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    let mut keys: Vec<&str> = table.iter().map(|k| k.key).collect();
    keys.sort_unstable();
    assert_eq!(fields, keys);
    for k in table {
        let mut s = T::default();
        k.set(&mut s, k.default())
            .unwrap_or_else(|e| panic!("{}: {e}", k.key));
        assert_eq!(s, T::default(), "{}", k.key);
        if let Some(t) = k.default().to_toml() {
            let back = k.parse(t).and_then(|v| k.accept(v));
            assert_eq!(back, Ok(k.default()), "{}", k.key);
        }
    }
}

#[test]
fn each_table_covers_its_settings_and_round_trips_defaults() {
    covers(&KPA_KEYS);
    covers(&KEEPALIVE_KEYS);
    covers(&CLOUD_RUN_KEYS);
    covers(&HPA_KEYS);
}

#[test]
fn the_new_kinds_check_their_values() {
    let k = cloud_run("cpu_target").expect("key");
    assert_eq!(
        k.accept(Value::Number(60.0)),
        Ok(Value::Number(0.6)),
        "a percentage"
    );
    assert!(k.accept(Value::Number(0.0)).is_err());
    let m = hpa("metric").expect("key");
    assert_eq!(m.parse(toml::Value::from("cpu")), Ok(Value::Choice("cpu")));
    assert!(
        m.parse(toml::Value::from("memory"))
            .unwrap_err()
            .0
            .contains("\"cpu\"")
    );
    let e = check_hpa(&HpaSettings {
        min_scale: 0,
        ..HpaSettings::default()
    })
    .unwrap_err();
    assert_eq!(e.0, "min_scale");
    assert!(e.1.0.contains("cannot scale to zero"), "{}", e.1);
    assert!(check_cloud_run(&CloudRunSettings::default()).is_ok());
    let r = reference(&CLOUD_RUN_KEYS);
    assert!(r.contains("`\"15m\"` (assumption)"), "{r}");
    assert!(r.contains("`gcloud run deploy --min-instances`"), "{r}");
    let r = reference(&HPA_KEYS);
    assert!(
        r.contains("kube-controller-manager `--horizontal-pod-autoscaler-sync-period`"),
        "{r}"
    );
}

#[test]
fn knative_names_are_unique() {
    fn names(k: impl Iterator<Item = Knative>) -> Vec<&'static str> {
        k.flat_map(|n| match n {
            Knative::Revision { name, legacy } => vec![Some(name), legacy],
            Knative::Annotation(a)
            | Knative::ClusterWide(a)
            | Knative::Controller(a)
            | Knative::Behavior(a) => vec![Some(a)],
        })
        .flatten()
        .collect()
    }
    for mut names in [
        names(KPA_KEYS.iter().filter_map(|k| k.knative)),
        names(HPA_KEYS.iter().filter_map(|k| k.knative)),
    ] {
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}

#[test]
fn values_are_checked_with_the_documented_ranges() {
    let err = |key: &str, v: toml::Value| {
        let k = kpa(key).expect("a key");
        k.parse(v).and_then(|x| k.accept(x)).unwrap_err().0
    };
    assert_eq!(
        err("panic_threshold_percentage", 100.into()),
        "100 is out of range: expected 110 to 1000"
    );
    assert!(err("stable_window", "3s".into()).contains("at least 6s"));
    assert!(err("scale_down_delay", "1.5s".into()).contains("whole seconds"));
    assert_eq!(
        err("min_scale", (-1).into()),
        "-1 is negative: expected 0 or more"
    );
    assert!(err("max_scale", 2_000_000.into()).contains("at most 1000000"));
    assert!(err("metric", "cpu".into()).contains("unknown metric \"cpu\""));
    assert!(
        err("target", "x".into()).contains("expected a number"),
        "{}",
        err("target", "x".into())
    );
    assert!(err("stable_window", 60.into()).contains("has no unit"));
    assert!(err("enable_scale_to_zero", 1.into()).contains("expected true or false"));
    let k = kpa("activation_scale").expect("key");
    assert_eq!(k.accept(Value::Count(0)), Ok(Value::Count(1)));
    let k = kpa("aggregation").expect("key");
    assert_eq!(
        k.parse(toml::Value::from("weightedExponential")),
        Ok(Value::Aggregation(Aggregation::WeightedExponential))
    );
    // JSON values read the same way.
    let k = kpa("target").expect("key");
    assert_eq!(
        k.parse(serde_json::json!(12.5)),
        Ok(Value::Optional(Some(12.5)))
    );
}

#[test]
fn cross_checks_blame_a_key() {
    let s = KpaSettings {
        min_scale: 5,
        max_scale: 2,
        ..KpaSettings::default()
    };
    assert_eq!(check_kpa(&s).unwrap_err().0, "min_scale");
    let s = KpaSettings {
        activation_scale: 3,
        min_scale: 4,
        ..KpaSettings::default()
    };
    assert_eq!(check_kpa(&s).unwrap_err().0, "activation_scale");
    let s = KeepaliveSettings {
        min_instances: 3,
        max_instances: 2,
        ..KeepaliveSettings::default()
    };
    assert_eq!(check_keepalive(&s).unwrap_err().0, "min_instances");
}

#[test]
fn the_reference_lists_every_key_with_its_default() {
    let r = reference(&KPA_KEYS);
    assert_eq!(r.lines().count(), KPA_KEYS.len() + 2);
    assert!(
        r.contains("| `stable_window` | duration | `\"1m\"` | 6s to 1h, whole seconds |"),
        "{r}"
    );
    assert!(
        r.contains("| `target` | number (optional) | derived |"),
        "{r}"
    );
    let r = reference(&KEEPALIVE_KEYS);
    assert!(r.contains("| `max_instances` | integer | `1000` |"), "{r}");
}
