//! Same scenario and seed: byte-identical JSON; another seed: different.

use scalelab_sim::{SimOptions, simulate};

use crate::support::*;

const S: &str = include_str!("fixtures/determinism.toml");

fn json(seed: u64, threads: usize) -> String {
    let s = scenario(S);
    let r = simulate(
        &s,
        &SimOptions {
            seed,
            threads,
            ..Default::default()
        },
    )
    .unwrap();
    serde_json::to_string(&r).unwrap()
}

#[test]
fn same_seed_same_bytes_and_thread_count_does_not_matter() {
    let a = json(42, 1);
    assert_eq!(a, json(42, 1));
    assert_eq!(a, json(42, 2));
}

#[test]
fn another_seed_differs() {
    assert_ne!(json(42, 1), json(43, 1));
}
