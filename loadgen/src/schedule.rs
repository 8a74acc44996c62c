//! The open-loop schedule: the scenario's arrival process (the simulator's own seeded
//! generator, [`Arrivals`]) turned into numbered, planned requests, each with its request kind
//! drawn from the weighted `[[load.requests]]` list, and split into shards.
//!
//! Sharding is by arrival index: shard `i` of `n` keeps the arrivals whose index mod `n` is `i`.
//! Every shard generates the whole schedule from the same seed (generation costs nanoseconds per
//! arrival) and draws every request kind, kept or not, so the `n` shards together send exactly
//! the unsharded schedule: the same times, the same request kinds.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::rng::{self, SimRng};
use scalelab_core::workload::{Arrivals, WorkloadSpec};

/// Shard `index` of `count` (`--shard i/n`, 0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    /// This shard, `0 ≤ index < count`.
    pub index: u32,
    /// Number of shards, ≥ 1.
    pub count: u32,
}

impl Shard {
    /// The whole schedule.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether arrival number `i` (0-based, unsharded) belongs to this shard.
    pub fn owns(self, i: u64) -> bool {
        i % u64::from(self.count) == u64::from(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard \"{s}\": expected i/n with 0 ≤ i < n, like 0/4");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Chooses a request kind by weight (the simulator's picker of request classes: one uniform
/// draw per request, none when there is one kind).
pub(crate) use scalelab_core::workload::classes::ClassPicker as Picker;

/// One request of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// Its index in the unsharded schedule.
    pub index: u64,
    /// Its intended send time.
    pub at: Time,
    /// Which request kind (index into the request list).
    pub request: usize,
}

/// The planned requests of one shard, in time order.
pub struct Schedule {
    arrivals: Arrivals,
    picker: Picker,
    rng: SimRng,
    shard: Shard,
    next: u64,
    limit: Option<u64>,
}

impl Schedule {
    /// The schedule of `workload` up to `horizon` under `seed`: arrivals from the stream
    /// `"arrivals"` (as the simulator draws them), request kinds from `"load/requests"`. `limit`
    /// caps the unsharded schedule's length.
    pub fn new(
        workload: &WorkloadSpec,
        horizon: Duration,
        seed: u64,
        weights: &[f64],
        shard: Shard,
        limit: Option<u64>,
    ) -> Schedule {
        Schedule {
            arrivals: Arrivals::new(workload, horizon, rng::stream(seed, "arrivals")),
            picker: Picker::new(weights.iter().copied()),
            rng: rng::stream(seed, "load/requests"),
            shard,
            next: 0,
            limit,
        }
    }
}

impl Iterator for Schedule {
    type Item = Planned;
    fn next(&mut self) -> Option<Planned> {
        loop {
            if self.limit.is_some_and(|l| self.next >= l) {
                return None;
            }
            let at = self.arrivals.next()?;
            let index = self.next;
            self.next += 1;
            let request = self.picker.pick(&mut self.rng);
            if self.shard.owns(index) {
                return Some(Planned { index, at, request });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalelab_core::workload::{ArrivalSpec, Phase};

    fn poisson(rate: f64, secs: u64) -> WorkloadSpec {
        WorkloadSpec {
            phases: vec![Phase {
                duration: Duration::from_secs(secs),
                arrival: ArrivalSpec::Poisson { rate },
            }],
        }
    }

    #[test]
    fn shards_partition_the_unsharded_schedule() {
        let w = poisson(500.0, 4);
        let weights = [1.0, 3.0, 0.5];
        let h = Duration::from_secs(4);
        let all: Vec<Planned> = Schedule::new(&w, h, 11, &weights, Shard::ALL, None).collect();
        assert!(all.len() > 1500, "{}", all.len());
        let n = 3;
        let mut union: Vec<Planned> = (0..n)
            .flat_map(|i| {
                let shard = Shard { index: i, count: n };
                Schedule::new(&w, h, 11, &weights, shard, None).collect::<Vec<_>>()
            })
            .collect();
        union.sort_by_key(|p| p.index);
        assert_eq!(union, all);
        // The request kinds follow the weights.
        let share = all.iter().filter(|p| p.request == 1).count() as f64 / all.len() as f64;
        assert!((share - 3.0 / 4.5).abs() < 0.05, "{share}");
    }

    #[test]
    fn limit_caps_the_unsharded_count() {
        let w = poisson(1000.0, 2);
        let h = Duration::from_secs(2);
        let shard = Shard { index: 1, count: 2 };
        let got: Vec<u64> = Schedule::new(&w, h, 1, &[1.0], shard, Some(7))
            .map(|p| p.index)
            .collect();
        assert_eq!(got, [1, 3, 5]);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 0, count: 3 }.to_string(), "0/3");
    }
}
