//! The platform's behaviour over real sockets: scaling from and to zero, queues and timeouts,
//! revisions and tags, crashed instances, shutdown.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use scalelab_core::Time;
use scalelab_core::scenario::Scenario;
use scalelab_runtime::{Auth, InstanceKind, Options};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_contract_with_cors() {
    let s = scenario_with(0, 100, "initial_scale = 1");
    let o = Options {
        instances: InstanceKind::Synthetic {
            hello: true,
            allowed_origin: "https://app.example".into(),
        },
        ..open()
    };
    let h = started(&s, o).await;
    let r = get(&h.url(), "/?message=Hello&name=Ada").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, r#"{"message":"Hello welcomes you, Ada!"}"#);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(r.headers["x-scalelab-revision"], "default");
    let r = call(
        &h.url(),
        Method::POST,
        "/",
        &[("content-type", "application/json")],
        r#"{"message":"Hi"}"#,
    )
    .await;
    assert_eq!(r.body, r#"{"message":"Hi welcomes you, world!"}"#);
    let r = get(&h.url(), "/").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, r#"{"error":"No message provided"}"#);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example"
    );
    let r = call(
        &h.url(),
        Method::OPTIONS,
        "/",
        &[("origin", "https://app.example")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        r.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!(v.requests.arrived, 4);
    assert_eq!(
        v.requests.completed, 4,
        "4xx answers of the function are completed requests"
    );
    assert_eq!(result.mode, scalelab_core::result::Mode::Live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_required_unless_unauthenticated_access_is_allowed() {
    let s = scenario("initial_scale = 1");
    let h = started(
        &s,
        Options {
            auth: Auth::Token("s3cret".into()),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(h.token(), Some("s3cret"));
    let r = get(&h.url(), "/?message=x").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = get_as(&h.url(), "/?message=x", "wrong").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = get_as(&h.url(), "/?message=x", "s3cret").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get_as(&h.url(), "/_scalelab/metrics", "s3cret").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("scalelab_requests_total{revision=\"default\",code=\"200\"} 1"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("scalelab_instances{revision=\"default\",state=\"ready\"} 1"),
        "{}",
        r.body
    );
    let result = h.shutdown().await;
    assert_eq!(
        result.variants[0].requests.arrived, 1,
        "refused requests never reach a revision"
    );
    // A generated token is long and random.
    let h = started(&s, Options::default()).await;
    let t = h.token().expect("a token").to_string();
    assert_eq!(t.len(), 32);
    let h2 = started(&s, Options::default()).await;
    assert_ne!(h2.token(), Some(t.as_str()));
    h.shutdown().await;
    h2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_request_after_scale_to_zero_waits_one_cold_start() {
    // min 0, initial 1: the first instance idles out (6 s window + 1 s grace, at time scale
    // 0.25 that is about 2 s of wall time), then a request brings one back.
    let s = scenario("initial_scale = 1");
    let h = started(&s, scaled(0.25)).await;
    assert!(
        wait_until(&h, Duration::from_secs(30), |st| st.ready + st.starting
            == 0)
        .await,
        "scaled to zero"
    );
    let waited = cold_request(&h, "/?message=cold").await;
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(2000),
        "one 300 ms cold start + 100 ms service (the paused-clock test checks it exactly), got {waited:?}"
    );
    let r = get(&h.url(), "/?message=warm").await;
    assert!(!r.headers.contains_key("x-scalelab-cold-start"));
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!(v.cold_starts.count, 2);
    assert_eq!(v.cold_starts.requests_delayed, 1);
    assert!(v.instances.scale_to_zero_events >= 1);
    assert!(v.instances.time_at_zero_s > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_load_scales_up_then_back_to_zero() {
    let s = scenario_with(300, 500, "initial_scale = 1\nmax_scale = 4");
    let h = started(&s, scaled(0.25)).await;
    // Eight clients back to back for 6 scenario seconds (1.5 s of wall time).
    let until = h.clock().now() + Duration::from_secs(6);
    let url = h.url();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            let clock = h.clock();
            tokio::spawn(async move {
                let c = client();
                let mut ok = 0;
                while clock.now() < until {
                    let req = Request::get(format!("{url}/?message=load"))
                        .body(Full::new(Bytes::new()))
                        .expect("request");
                    if c.request(req)
                        .await
                        .is_ok_and(|r| r.status() == StatusCode::OK)
                    {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for c in clients {
        ok += c.await.expect("client");
    }
    assert!(ok >= 8, "{ok} requests answered");
    let peak_ready = h.status().ready;
    assert!(
        wait_until(&h, Duration::from_secs(40), |st| st.ready + st.starting
            == 0)
        .await,
        "back to zero"
    );
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!(
        v.instances.peak, 4,
        "scaled up to max_scale (ready at the end of the load: {peak_ready})"
    );
    assert!(
        v.autoscaler.panic_episodes >= 1,
        "8 requests on 1 pod is a burst"
    );
    assert!(v.instances.scale_to_zero_events >= 1);
    assert_eq!(
        v.requests.arrived,
        v.requests.completed + v.requests.rejected + v.requests.timed_out
    );
    let series = v.series.as_ref().expect("series");
    assert!(
        series.rows.iter().any(|r| r.ready == 4),
        "the series saw 4 ready instances"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_is_503_and_timeouts_are_504() {
    let s = scenario_with(
        2000,
        2500,
        "initial_scale = 0\nmax_scale = 1\n[router]\nactivator_queue_depth = 2",
    );
    let h = started(&s, open()).await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let url = h.url();
        tasks.push(tokio::spawn(async move {
            get(&url, &format!("/?message={i}")).await
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.expect("task"));
    }
    // No instance for 2 s: two requests wait in the activator, the third is turned away.
    assert_eq!(replies[2].status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        replies[2].headers["x-scalelab-reason"],
        "activator-queue-full"
    );
    // The first starts at ~2 s (tick) + 2 s cold start > its 3 s timeout: 504 while queued;
    // so does the second.
    for r in &replies[..2] {
        assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.body);
        assert_eq!(r.headers["x-scalelab-reason"], "timeout");
    }
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!(
        (
            v.requests.arrived,
            v.requests.rejected,
            v.requests.timed_out
        ),
        (3, 1, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_running_past_its_timeout_is_504() {
    let s = fixture("timeout.toml");
    let h = started(&s, open()).await;
    assert!(wait_until(&h, Duration::from_secs(2), |st| st.ready == 1).await);
    let t0 = h.clock().now();
    let r = get(&h.url(), "/?message=slow").await;
    let took = h.clock().now() - t0;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(900),
        "{took:?}"
    );
    let result = h.shutdown().await;
    assert_eq!(result.variants[0].requests.timed_out, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_requests_in_flight() {
    let s = fixture("drain.toml");
    let h = started(&s, open()).await;
    assert!(wait_until(&h, Duration::from_secs(2), |st| st.ready == 1).await);
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let url = h.url();
            tokio::spawn(async move { get(&url, "/?message=drain").await.status })
        })
        .collect();
    assert!(wait_until(&h, Duration::from_secs(2), |st| st.in_flight == 3).await);
    let url = h.url();
    let result = h.shutdown().await;
    for t in tasks {
        assert_eq!(
            t.await.expect("task"),
            StatusCode::OK,
            "requests in flight finish"
        );
    }
    let v = &result.variants[0];
    assert_eq!(
        (
            v.requests.arrived,
            v.requests.completed,
            v.requests.in_flight_at_end
        ),
        (3, 3, 0)
    );
    assert!(v.latency_ms.p50 >= 600.0);
    // The router no longer accepts connections.
    let req = Request::get(format!("{url}/?message=late"))
        .body(Full::new(Bytes::new()))
        .expect("req");
    assert!(client().request(req).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_child_process_is_replaced_and_its_request_fails_with_502() {
    let dir = temp_dir("crashy");
    let s = scenario("initial_scale = 1\nmin_scale = 1");
    let o = Options {
        instances: command(test_app(&dir)),
        ..open()
    };
    let h = started(&s, o).await;
    assert!(
        wait_until(&h, Duration::from_secs(8), |st| st.ready == 1).await,
        "the app started"
    );
    let r = get(&h.url(), "/").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok"));
    let first = r.headers["x-scalelab-instance"].clone();
    let r = get(&h.url(), "/crash").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.headers["x-scalelab-reason"], "instance-failed");
    // The exit is noticed, and a replacement starts and gets ready.
    let crashed = "scalelab_instance_crashes_total{revision=\"default\"} 1";
    let until = h.clock().now() + Duration::from_secs(8);
    while !(h.metrics().contains(crashed) && h.status().ready == 1) && h.clock().now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.status().ready, 1, "replaced");
    let r = get(&h.url(), "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(
        r.headers["x-scalelab-instance"], first,
        "a new instance serves"
    );
    assert!(h.metrics().contains(crashed));
    let result = h.shutdown().await;
    let v = &result.variants[0];
    assert_eq!((v.requests.completed, v.requests.rejected), (2, 1));
    assert_eq!(v.live.as_ref().expect("live stats").instance_crashes, 1);
    assert_eq!(v.cold_starts.count, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_splits_by_percentage_and_tags_pick_a_revision() {
    let s = fixture("canary.toml");
    let h = started(&s, open()).await;
    let url = h.url();
    let r = get(&url, "/@next/?message=tagged").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["x-scalelab-revision"], "canary");
    assert_eq!(
        r.body, r#"{"message":"tagged welcomes you, world!"}"#,
        "the tag prefix is stripped"
    );
    let r = get_with(&url, "/?message=x", &[("x-scalelab-revision", "next")]).await;
    assert_eq!(r.headers["x-scalelab-revision"], "canary");
    // Revisions are reachable by tag only: "stable" has none.
    let r = get_with(&url, "/?message=x", &[("x-scalelab-revision", "stable")]).await;
    assert_eq!(
        (r.status, r.headers["x-scalelab-reason"].to_str().unwrap()),
        (StatusCode::NOT_FOUND, "unknown-revision")
    );
    let r = get(&url, "/@nope/?message=x").await;
    assert_eq!(
        (r.status, r.headers["x-scalelab-reason"].to_str().unwrap()),
        (StatusCode::NOT_FOUND, "unknown-revision")
    );
    let mut canary = 0;
    for _ in 0..200 {
        if get(&url, "/?message=split").await.headers["x-scalelab-revision"] == "canary" {
            canary += 1;
        }
    }
    assert!(
        (20..=60).contains(&canary),
        "about 20 % of 200 went to the canary: {canary}"
    );
    h.shutdown().await;
}

/// Deploys as events on the live clock: a header route reaches the new revision before the
/// split does, and the rollout moves the split at its scenario time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_match_headers_and_a_rollout_switches_at_its_time() {
    let h = started(&fixture("deploy.toml"), open()).await;
    let url = h.url();
    // v2 is Ready once its initial instance is (a cold start of zero).
    let ready = wait_until(&h, Duration::from_secs(1), |st| st.ready >= 2).await;
    assert!(ready, "both initial instances ready");
    assert!(
        h.clock().now() < Time::from_millis(1_800),
        "the test is too slow to check the split before the rollout"
    );
    let canary = [("x-canary", "1")];
    let r = get_with(&url, "/?message=x", &canary).await;
    assert_eq!(r.headers["x-scalelab-revision"], "v2", "the route matched");
    let r = get_with(&url, "/?message=x", &[("x-canary", "2")]).await;
    assert_eq!(
        r.headers["x-scalelab-revision"], "v1",
        "no route: the split (v1 100 %)"
    );
    while h.clock().now() < Time::from_millis(2_200) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..20 {
        let r = get(&url, "/?message=x").await;
        assert_eq!(
            r.headers["x-scalelab-revision"], "v2",
            "after the switch every request goes to v2"
        );
    }
    let res = h.shutdown().await;
    let v = &res.variants[0];
    let ro = &v.rollouts.as_ref().expect("rollouts")[0];
    let started = ro.started_s.expect("started");
    assert!((2.0..2.2).contains(&started), "started at {started}");
    assert_eq!(ro.finished_s, Some(started), "an instant switch");
    let arrived: Vec<u64> = v.revisions.iter().map(|r| r.requests.arrived).collect();
    assert_eq!(arrived, [1, 21]);
    assert_eq!(arrived.iter().sum::<u64>(), v.requests.arrived);
}

/// Starts `s` with `--allow-from BLOCK`, sends one request from 127.0.0.1, shuts down.
async fn one_request_allowing(
    s: &Scenario,
    block: &str,
) -> (Reply, scalelab_core::result::RunResult) {
    let block: scalelab_runtime::Cidr = block.parse().expect("block");
    let o = Options {
        allow_from: vec![block],
        ..open()
    };
    let h = started(s, o).await;
    let r = get(&h.url(), "/?message=x").await;
    (r, h.shutdown().await)
}

/// `--allow-from`: sources outside the blocks get 403 and are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_outside_allow_from_get_403() {
    let s = scenario("initial_scale = 1");
    let (r, res) = one_request_allowing(&s, "127.0.0.2/32").await;
    assert_eq!(
        (r.status, r.headers["x-scalelab-reason"].to_str().unwrap()),
        (StatusCode::FORBIDDEN, "source-not-allowed")
    );
    let live = res.variants[0].live.as_ref().expect("live stats");
    assert_eq!(live.forbidden_sources, Some(1));
    assert_eq!(
        res.variants[0].requests.arrived, 0,
        "refused before the platform"
    );

    let (r, res) = one_request_allowing(&s, "127.0.0.0/8").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let live = res.variants[0].live.as_ref().expect("live stats");
    assert_eq!(live.forbidden_sources, Some(0));
}

/// A `--cmd` instance reports its real CPU use (read from /proc): a process group that burns
/// a core reads what the burner itself counted (its `process_time`, over the instance-seconds
/// alive) and, on a machine where it gets most of a core, above half its vCPU; an idle server
/// reads near 0.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_instances_report_their_real_cpu() {
    let dir = temp_dir("cpu");
    let server = test_app(&dir);
    // A bounded busy loop (20 s at most, killed with its group at the end anyway) that writes
    // the CPU time it has used every 50 ms.
    let used = dir.join("used");
    let burner = python_app(
        &dir,
        "burn.py",
        &format!(
            "import os, time\nout = {:?}\nend = time.time() + 20\nnext = 0\n\
             while time.time() < end:\n    if time.time() >= next:\n        \
             open(out + '.tmp', 'w').write(str(time.process_time()))\n        \
             os.replace(out + '.tmp', out)\n        next = time.time() + 0.05\n",
            used.display().to_string()
        ),
    );
    let mut measured = Vec::new();
    for cmd in [
        format!("{burner} & exec {server}"),
        format!("exec {server}"),
    ] {
        let s = scenario("initial_scale = 1\nmin_scale = 1");
        let o = Options {
            instances: command(cmd),
            ..open()
        };
        let h = started(&s, o).await;
        assert!(
            wait_until(&h, Duration::from_secs(20), |st| st.ready == 1).await,
            "the server started"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        let result = h.shutdown().await;
        let i = &result.variants[0].instances;
        measured.push((i.mean_cpu_utilization, i.instance_seconds));
    }
    let burned: f64 = std::fs::read_to_string(&used)
        .expect("the burner wrote its CPU time")
        .trim()
        .parse()
        .expect("seconds");
    let _ = std::fs::remove_dir_all(&dir);
    let (busy, alive) = measured[0];
    let expected = burned / alive;
    eprintln!(
        "measured {measured:?}; the burner used {burned:.2} CPU-s over {alive:.2} s alive: {expected:.2}"
    );
    // /proc agrees with the burner (plus the server's start-up, minus the last 50 ms).
    assert!(
        (busy - expected).abs() < 0.1 + 0.15 * expected,
        "measured {busy:.3}, the burner says {expected:.3}"
    );
    // Where the burner got most of a core, the instance reads above half its vCPU (a loaded
    // machine gives it less: what /proc says is what it got).
    if expected > 0.65 {
        assert!(busy > 0.5, "burning: {measured:?}");
    }
    assert!(measured[1].0 < 0.15, "idle: {measured:?}");
}

/// The CPU-driven kinds scale real processes: an HPA (sync every second) over `--cmd`
/// instances that each burn CPU on a quarter vCPU scales out from 1 on what /proc reports (a
/// busy loop on 0.25 vCPU reads above 0.5 even on a loaded machine).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpa_scales_command_instances_on_their_real_cpu() {
    let dir = temp_dir("hpa-cpu");
    let server = test_app(&dir);
    let burner = python_app(
        &dir,
        "burn.py",
        "import time\nend = time.time() + 20\nwhile time.time() < end:\n    pass\n",
    );
    let s = fixture("hpa-cpu.toml");
    let o = Options {
        instances: command(format!("{burner} & exec {server}")),
        ..open()
    };
    let h = started(&s, o).await;
    let scaled = wait_until(&h, Duration::from_secs(20), |st| st.ready == 2).await;
    let result = h.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let i = &result.variants[0].instances;
    assert!(scaled, "the HPA scaled out: {i:?}");
    assert_eq!(i.peak, 2);
    assert!(i.mean_cpu_utilization > 0.5, "{i:?}");
}
