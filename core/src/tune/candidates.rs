//! Candidates: the grid in a fixed order, random draws from it, the seed of every simulation,
//! and a candidate's scenario (the base file with the candidate's keys set, re-resolved).

use std::collections::BTreeSet;

use rand::RngExt;

use super::{DEFAULT_SAMPLES, MAX_CANDIDATES, Search, TuneError, TuneSpec};
pub use crate::scenario::CandidateBuilder;

/// One point of the search space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its position in the full grid (mixed radix over the params, the last varying fastest):
    /// stable across searches, shards and runs.
    pub id: u64,
    /// The index of its value in each param's list.
    pub choice: Vec<usize>,
}

impl TuneSpec {
    /// Number of combinations of all values (an error above [`MAX_CANDIDATES`]).
    pub fn grid_size(&self) -> Result<u64, TuneError> {
        let n = self.grid_len();
        if n > u128::from(MAX_CANDIDATES) {
            return Err(TuneError::TooManyCandidates(n));
        }
        Ok(n as u64)
    }

    /// The grid point with id `id` (< [`TuneSpec::grid_size`]).
    pub fn candidate(&self, id: u64) -> Candidate {
        let mut choice = vec![0; self.params.len()];
        let mut rest = id;
        for (i, p) in self.params.iter().enumerate().rev() {
            let n = p.values.len() as u64;
            choice[i] = (rest % n) as usize;
            rest /= n;
        }
        Candidate { id, choice }
    }

    /// The candidates this search evaluates, in increasing id order: the whole grid, or
    /// `samples` distinct grid points drawn with `master_seed` (random search, and halving when
    /// `samples` is set).
    pub fn candidates(&self, master_seed: u64) -> Result<Vec<Candidate>, TuneError> {
        let draw = match self.search {
            Search::Grid => None,
            Search::Random => Some(self.samples.unwrap_or(DEFAULT_SAMPLES)),
            Search::Halving => self.samples,
        };
        let ids: Vec<u64> = match draw {
            None => (0..self.grid_size()?).collect(),
            Some(k) => {
                // The grid may be far larger than the limit when drawing from it.
                let n = self.grid_len().min(u128::from(u64::MAX));
                sample_ids(n as u64, k, master_seed)
            }
        };
        Ok(ids.into_iter().map(|id| self.candidate(id)).collect())
    }

    /// The settings of candidate `c`: `(dotted key, value)` per param.
    pub fn settings(&self, c: &Candidate) -> Vec<(String, toml::Value)> {
        self.params
            .iter()
            .zip(&c.choice)
            .map(|(p, &i)| (p.key.clone(), p.values[i].clone()))
            .collect()
    }
}

/// `k` distinct ids from `0..n`, sorted (Floyd's algorithm: exactly `k` draws, no retries).
fn sample_ids(n: u64, k: u64, master_seed: u64) -> Vec<u64> {
    if k >= n {
        return (0..n).collect();
    }
    let mut rng = crate::rng::stream(master_seed, "tune/random");
    let mut chosen = BTreeSet::new();
    for j in (n - k)..n {
        let t = rng.random_range(0..=j);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}

/// The seed of sample `k` of every candidate: the master seed for `k = 0` (so `scalelab sim
/// --seed MASTER` reproduces a candidate's first sample), a named stream of it after.
pub fn sample_seed(master_seed: u64, k: u32) -> u64 {
    if k == 0 {
        master_seed
    } else {
        crate::rng::stream_seed(master_seed, &format!("tune/seed/{k}")) as u64
    }
}
