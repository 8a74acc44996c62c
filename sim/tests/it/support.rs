//! Scenario builders and run helpers.

use scalelab_core::result::{Occupancy, SimStats, VariantResult};
use scalelab_core::scenario::Scenario;
use scalelab_sim::{SimOptions, simulate};

pub fn scenario(toml: &str) -> Scenario {
    Scenario::from_toml_str(toml, "test.toml".as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn run(s: &Scenario, seed: u64) -> VariantResult {
    let r = simulate(
        s,
        &SimOptions {
            seed,
            threads: 1,
            check: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    r.variants.into_iter().next().expect("one variant")
}

/// The time averages every simulated variant has.
pub fn occupancy(v: &VariantResult) -> Occupancy {
    v.occupancy.expect("a simulated variant has its occupancy")
}

/// What the simulator alone measures.
pub fn sim(v: &VariantResult) -> SimStats {
    v.sim
        .expect("a simulated variant has its simulator figures")
}

/// Mean and standard error of the mean.
pub fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Erlang B by the stable recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    b
}

/// Erlang C: probability of waiting, and the mean wait, for M/M/c with rate λ and μ.
pub fn erlang_c(c: u32, lambda: f64, mu: f64) -> (f64, f64) {
    let a = lambda / mu;
    let b = erlang_b(c, a);
    let pw = c as f64 * b / (c as f64 - a * (1.0 - b));
    let wq = pw / (c as f64 * mu - lambda);
    (pw, wq)
}
