//! The binary's one wall clock: timing `--bench` runs and progress bars. Nothing that decides a
//! result reads it.

#![expect(
    clippy::disallowed_methods,
    reason = "the wall clock of the CLI lives here"
)]

use std::time::{Duration, Instant};

/// A started stopwatch.
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A seed nobody chose: from the process's random hasher keys (no clock, no global RNG).
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5ca1_ab1e_u64)
}
