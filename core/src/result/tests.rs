use super::*;
use std::time::Duration;

fn arrived_completed_rejected(arrived: u64, completed: u64, rejected: u64) -> Requests {
    Requests {
        arrived,
        completed,
        rejected,
        ..Requests::default()
    }
}

#[test]
fn slo_checks_each_threshold() {
    let slo = Slo {
        p99: Some(Duration::from_millis(500)),
        error_ratio: Some(0.01),
        cold_start_ratio: Some(0.1),
        ..Slo::default()
    };
    let mut v = VariantResult::default();
    v.latency_ms.p99 = 400.0;
    v.latency_ms.count = 98;
    v.requests = arrived_completed_rejected(100, 98, 2);
    v.cold_starts.ratio = 0.05;
    let r = check_slo(&slo, &v, None);
    assert_eq!(r.checks.len(), 3);
    assert!(!r.passed);
    let failed: Vec<_> = r
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| &c.name)
        .collect();
    assert_eq!(failed, ["error_ratio"]);
}

#[test]
fn without_thresholds_only_the_default_error_ratio_applies() {
    let r = check_slo(&Slo::default(), &VariantResult::default(), None);
    assert!(r.passed);
    assert_eq!(r.checks.len(), 1);
    let c = &r.checks[0];
    assert_eq!((c.name.as_str(), c.threshold), ("error_ratio", 0.01));
    assert!(c.default_threshold);
}

/// A serve run in which every request timed out once printed "SLO: all 1 checks passed":
/// its p99 was 0 because timed-out requests have no latency.
#[test]
fn a_run_whose_requests_all_failed_never_passes() {
    let slo = Slo {
        p99: Some(Duration::from_millis(500)),
        ..Slo::default()
    };
    let mut v = VariantResult {
        requests: Requests {
            arrived: 40,
            timed_out: 40,
            ..Requests::default()
        },
        ..VariantResult::default()
    };
    let r = check_slo(&slo, &v, None);
    assert!(!r.passed);
    let p99 = r.checks.iter().find(|c| c.name == "p99").expect("p99");
    assert!(!p99.passed);
    assert!(
        p99.note
            .as_deref()
            .unwrap_or("")
            .contains("no request succeeded")
    );
    let err = r
        .checks
        .iter()
        .find(|c| c.name == "error_ratio")
        .expect("error ratio");
    assert!(!err.passed && err.default_threshold && err.actual == 1.0);
    // 1 % of errors passes the default, 2 % does not.
    v.latency_ms.count = 99;
    v.requests = arrived_completed_rejected(100, 99, 1);
    assert!(check_slo(&Slo::default(), &v, None).passed);
    v.requests.rejected = 2;
    v.requests.completed = 98;
    assert!(!check_slo(&Slo::default(), &v, None).passed);
}
