//! A fleet (`[[services]]`) behind one listener: each request reaches the service its `Host`
//! (first DNS label) or `/_scalelab/service/NAME/` prefix names, each service on its own
//! platform; anything else is 404 `unknown-service`; the result has each service's figures and
//! the totals.

use std::time::Duration;

use scalelab_core::scenario::Scenario;

use crate::support::*;

const FLEET: &str = include_str!("fixtures/fleet.toml");

fn fleet(src: &str) -> Scenario {
    Scenario::from_toml_str(src, "two.toml".as_ref()).expect("valid fleet")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_pick_their_service_by_host_or_prefix_and_unknown_ones_get_404() {
    let h = scalelab_runtime::start(&fleet(FLEET), open())
        .await
        .expect("starts");
    assert_eq!(h.services(), ["api", "jobs"]);
    let url = h.url();
    // Each service has its own instances (min_scale 1 and 2).
    assert!(wait_until(&h, Duration::from_secs(5), |s| s.ready == 3).await);
    let q = "/?message=fleet";
    let api = get_with(&url, q, &[("host", "api")]).await;
    assert_eq!(api.status, 200, "{}", api.body);
    let jobs = get_with(&url, q, &[("host", "jobs.default.example.com:8080")]).await;
    assert_eq!(jobs.status, 200, "{}", jobs.body);
    let prefixed = get(&url, "/_scalelab/service/jobs/?message=fleet").await;
    assert_eq!(prefixed.status, 200, "{}", prefixed.body);
    // Neither names a service: 404 saying which exist.
    for headers in [vec![("host", "nope")], vec![("host", "127.0.0.1")]] {
        let r = get_with(&url, q, &headers).await;
        assert_eq!(r.status, 404, "{headers:?}");
        assert_eq!(r.headers["x-scalelab-reason"], "unknown-service");
        assert!(r.body.contains("Services: api, jobs"), "{}", r.body);
    }
    let r = get(&url, "/_scalelab/service/nope/").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("nope"), "{}", r.body);
    // Metrics are per service.
    let m = get_with(&url, "/_scalelab/metrics", &[("host", "jobs")]).await;
    assert_eq!(m.status, 200);
    assert!(h.metrics().contains("# service: api"));
    let doc = h.shutdown().await;
    let v = &doc.variants[0];
    let names: Vec<&str> = v.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["api", "jobs"]);
    assert_eq!(v.services[0].requests.arrived, 1);
    assert_eq!(v.services[1].requests.arrived, 2);
    // Totals are the sums; the unknown-service answers never reached a platform.
    assert_eq!(v.requests.arrived, 3);
    assert_eq!(v.requests.completed, 3);
    assert_eq!(
        v.instances.peak,
        v.services[0].instances.peak + v.services[1].instances.peak
    );
    assert!(v.live.is_some() && v.services[0].live.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_one_needs_no_host() {
    let one = FLEET
        .split("[[services]]\nname = \"jobs\"")
        .next()
        .unwrap_or_default();
    let h = scalelab_runtime::start(&fleet(one), open())
        .await
        .expect("starts");
    assert!(wait_until(&h, Duration::from_secs(5), |s| s.ready == 1).await);
    let r = get_with(&h.url(), "/?message=x", &[("host", "anything")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = h.shutdown().await;
    assert_eq!(doc.variants[0].services.len(), 1);
    assert_eq!(doc.variants[0].requests.arrived, 1);
}
