//! Shards of one schedule add up to the unsharded schedule, and their results merge.

use std::time::Duration;

use scalelab_core::workload::ArrivalSpec;
use scalelab_loadgen::{Schedule, Shard, merge, run, to_result};

use crate::measure::{config, workload};
use crate::servers::{Behaviour, hyper_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_send_exactly_the_unsharded_schedule() {
    let d = Duration::from_secs(1);
    let arrival = ArrivalSpec::Poisson { rate: 400.0 };
    let server = hyper_server(Behaviour::Ok).await;
    let n = 3;
    let mut handles = Vec::new();
    for i in 0..n {
        let mut cfg = config(&server.url(), arrival.clone(), d);
        cfg.shard = Shard { index: i, count: n };
        handles.push(tokio::spawn(async move {
            let report = run(&cfg).await.unwrap();
            to_result(&cfg, &report)
        }));
    }
    let mut docs = Vec::new();
    for h in handles {
        docs.push(h.await.unwrap());
    }
    let planned = Schedule::new(&workload(arrival, d), d, 42, &[1.0], Shard::ALL, None).count();
    let sent: u64 = docs.iter().map(|d| d.variants[0].requests.arrived).sum();
    assert_eq!(sent, planned as u64);
    assert_eq!(server.count(), sent);
    for (i, doc) in docs.iter().enumerate() {
        let share = doc.variants[0].requests.arrived as f64 / planned as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.01, "shard {i}: {share}");
    }
    let merged = merge(&docs).unwrap();
    let v = &merged.variants[0];
    assert_eq!(v.requests.arrived, sent);
    assert_eq!(v.requests.completed, sent);
    assert_eq!(v.latency_ms.count, sent);
    assert_eq!(v.extra["outcomes"]["http_2xx"], sent);
    assert_eq!(v.extra["shard"], "0/3,1/3,2/3");
    // The same shard twice is a mistake, not a bigger run.
    assert!(merge(&[docs[0].clone(), docs[0].clone()]).is_err());
}
