//! Property tests of the sampler and the reorder buffer.

use proptest::prelude::*;

use super::common::{Candidate, FnKey, stratified};
use super::y2021::Reorder;

fn cand(i: usize, total: u64) -> Candidate {
    Candidate {
        total,
        key: FnKey {
            owner: String::new(),
            app: format!("a{}", i % 3),
            func: format!("f{i}"),
        },
    }
}

proptest! {
    /// N strata of equal rank width, one function from each, the same for the same seed, and
    /// never a function without invocations.
    #[test]
    fn the_sample_takes_one_function_per_popularity_stratum(
        totals in prop::collection::vec(0u64..1_000_000, 1..200),
        n in 1usize..50,
        seed in any::<u64>(),
    ) {
        let all: Vec<Candidate> = totals.iter().enumerate().map(|(i, &t)| cand(i, t)).collect();
        let mut ranked: Vec<Candidate> = all.iter().filter(|c| c.total > 0).cloned().collect();
        ranked.sort();
        let m = ranked.len();
        let got = stratified(all.clone(), Some(n), seed);
        prop_assert_eq!(&got, &stratified(all.iter().rev().cloned().collect(), Some(n), seed));
        prop_assert_eq!(got.len(), n.min(m));
        if n < m {
            for (i, c) in got.iter().enumerate() {
                let r = ranked.iter().position(|x| x == c).unwrap();
                prop_assert!((i * m / n..(i + 1) * m / n).contains(&r), "stratum {} rank {}", i, r);
            }
        } else {
            prop_assert_eq!(got, ranked);
        }
    }

    /// Rows in end order with durations up to the window come out in start order, every one
    /// exactly once.
    #[test]
    fn the_reorder_buffer_emits_in_start_order(
        rows in prop::collection::vec((0.0f64..100.0, 0.0f64..30.0), 0..300),
    ) {
        let mut rows: Vec<(f64, f64)> = rows;
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let window = rows.iter().map(|r| r.1).fold(0.0, f64::max);
        let mut out: Vec<(f64, usize, f64)> = Vec::new();
        let mut r = Reorder::new(window);
        for (i, (end, d)) in rows.iter().enumerate() {
            r.push(*end, end - d, i, *d, |s, i, d| { out.push((s, i, d)); Ok::<(), ()>(()) }).unwrap();
        }
        r.finish(|s, i, d| { out.push((s, i, d)); Ok::<(), ()>(()) }).unwrap();
        prop_assert_eq!(out.len(), rows.len());
        prop_assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        let mut seen: Vec<usize> = out.iter().map(|o| o.1).collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..rows.len()).collect::<Vec<_>>());
        for (s, i, d) in &out {
            prop_assert_eq!(*s, rows[*i].0 - rows[*i].1);
            prop_assert_eq!(*d, rows[*i].1);
        }
    }
}
