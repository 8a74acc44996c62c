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

/// CPU time this process has used so far (user + system, every thread, ended ones included),
/// from `/proc/self/stat`; `None` where there is no procfs. Its unit is the kernel's clock tick
/// as user space sees it (`USER_HZ`, 100 per second on Linux), so it resolves 10 ms.
pub fn process_cpu_time() -> Option<Duration> {
    const USER_HZ: u64 = 100;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line (utime, stime) are the 12th and 13th after `)`.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}
