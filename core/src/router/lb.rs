//! Load-balancing policies: given the routable instances of a revision, pick one with a free
//! slot. Each is a small pure function over a slice, so the activator, the simulator and the
//! tests share one definition.
//!
//! Knative's activator (`activator/net/lb_policy.go`, KPA.md §3.2) chooses by container
//! concurrency: power of two choices when cc = 0, first available for cc 1–3, round robin above
//! 3. The other policies are scalelab's additions for comparison.

use rand::RngExt;

use super::RouterPolicy;
use crate::time::Time;

/// What a policy sees of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Requests executing on it (its "weight" in Knative's tracker).
    pub in_flight: u32,
    /// Slots (0 = unlimited, container concurrency 0).
    pub capacity: u32,
    /// When a request last started on it (for newest-idle).
    pub last_used: Time,
}

impl Candidate {
    /// True when it can start one more request now.
    #[inline]
    pub fn has_slot(&self) -> bool {
        self.capacity == 0 || self.in_flight < self.capacity
    }
}

/// Cursor state kept between picks (round robin's position).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Index after the last chosen candidate.
    pub next: usize,
}

/// Picks a candidate with a free slot, or `None` when every one is full (the request waits).
///
/// `policy` is the scenario's; with [`RouterPolicy::Knative`] the choice follows `cc` as
/// Knative's activator does. The candidate order is the instances' creation order (Knative
/// sorts trackers by pod IP; creation order plays that role here).
pub fn pick(
    policy: RouterPolicy,
    cc: u32,
    cands: &[Candidate],
    cursor: &mut Cursor,
    rng: &mut impl rand::Rng,
) -> Option<usize> {
    if cands.is_empty() {
        return None;
    }
    match policy {
        RouterPolicy::Knative => match cc {
            0 => power_of_two(cands, true, rng),
            1..=3 => first_available(cands),
            _ => round_robin(cands, cursor),
        },
        RouterPolicy::Random => random_free(cands, rng),
        RouterPolicy::RoundRobin => round_robin(cands, cursor),
        RouterPolicy::LeastLoaded => least_loaded(cands),
        RouterPolicy::NewestIdle => newest_idle(cands),
    }
}

/// Knative's `randomChoice2`: two distinct random candidates, the one with fewer requests in
/// flight; ties broken at random. With one candidate, that one. Only candidates with a free slot
/// are considered (with cc = 0 all of them are).
///
/// `unlimited` says every candidate has capacity 0 (container concurrency 0), which makes the
/// pick O(1).
pub fn power_of_two(
    cands: &[Candidate],
    unlimited: bool,
    rng: &mut impl rand::Rng,
) -> Option<usize> {
    let n = cands.len();
    if unlimited {
        if n == 1 {
            return Some(0);
        }
        let a = rng.random_range(0..n);
        let mut b = rng.random_range(0..n - 1);
        if b >= a {
            b += 1;
        }
        let (wa, wb) = (cands[a].in_flight, cands[b].in_flight);
        return Some(match wa.cmp(&wb) {
            std::cmp::Ordering::Less => a,
            std::cmp::Ordering::Greater => b,
            std::cmp::Ordering::Equal => {
                if rng.random_bool(0.5) {
                    a
                } else {
                    b
                }
            }
        });
    }
    // With limits, sample among the candidates that have a slot.
    let free: Vec<usize> = (0..n).filter(|&i| cands[i].has_slot()).collect();
    match free.len() {
        0 => None,
        1 => Some(free[0]),
        m => {
            let a = rng.random_range(0..m);
            let mut b = rng.random_range(0..m - 1);
            if b >= a {
                b += 1;
            }
            let (ia, ib) = (free[a], free[b]);
            Some(if cands[ib].in_flight < cands[ia].in_flight {
                ib
            } else {
                ia
            })
        }
    }
}

/// Knative's `firstAvailableLBPolicy`: the first candidate in order with a free slot.
pub fn first_available(cands: &[Candidate]) -> Option<usize> {
    cands.iter().position(Candidate::has_slot)
}

/// Knative's `roundRobinPolicy`: starting after the last chosen, the first with a free slot.
pub fn round_robin(cands: &[Candidate], cursor: &mut Cursor) -> Option<usize> {
    let n = cands.len();
    let start = cursor.next % n;
    for k in 0..n {
        let i = (start + k) % n;
        if cands[i].has_slot() {
            cursor.next = i + 1;
            return Some(i);
        }
    }
    None
}

/// Uniformly random among candidates with a free slot.
pub fn random_free(cands: &[Candidate], rng: &mut impl rand::Rng) -> Option<usize> {
    let free = cands.iter().filter(|c| c.has_slot()).count();
    if free == 0 {
        return None;
    }
    let mut k = rng.random_range(0..free);
    for (i, c) in cands.iter().enumerate() {
        if c.has_slot() {
            if k == 0 {
                return Some(i);
            }
            k -= 1;
        }
    }
    None
}

/// The candidate with the fewest requests in flight (first in order on ties).
pub fn least_loaded(cands: &[Candidate]) -> Option<usize> {
    cands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.has_slot())
        .min_by_key(|(_, c)| c.in_flight)
        .map(|(i, _)| i)
}

/// The most recently used candidate with a free slot (packs work, lets the others idle out), as
/// AWS Lambda and SimFaaS do; the newest instance on ties.
pub fn newest_idle(cands: &[Candidate]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in cands.iter().enumerate() {
        if c.has_slot() && best.is_none_or(|b| c.last_used >= cands[b].last_used) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn c(in_flight: u32, capacity: u32) -> Candidate {
        Candidate {
            in_flight,
            capacity,
            last_used: Time::ZERO,
        }
    }

    // Knative throttler_test.go "first available" cases: the first tracker with capacity wins.
    #[test]
    fn first_available_takes_first_free() {
        assert_eq!(first_available(&[c(1, 1), c(0, 1), c(0, 1)]), Some(1));
        assert_eq!(first_available(&[c(1, 1), c(1, 1)]), None);
        assert_eq!(first_available(&[c(2, 3), c(0, 3)]), Some(0));
    }

    // Knative lb_policy_test.go round robin: starts after the last pick, skips full trackers.
    #[test]
    fn round_robin_rotates_and_skips_full() {
        let cands = [c(0, 5), c(5, 5), c(0, 5)];
        let mut cur = Cursor::default();
        assert_eq!(round_robin(&cands, &mut cur), Some(0));
        assert_eq!(round_robin(&cands, &mut cur), Some(2));
        assert_eq!(round_robin(&cands, &mut cur), Some(0));
        assert_eq!(round_robin(&[c(5, 5)], &mut cur), None);
    }

    // Knative lb_policy_test.go randomChoice2: one tracker → it; two → the less loaded.
    #[test]
    fn power_of_two_prefers_less_loaded() {
        let mut rng = stream(1, "t");
        assert_eq!(power_of_two(&[c(9, 0)], true, &mut rng), Some(0));
        for _ in 0..100 {
            assert_eq!(power_of_two(&[c(3, 0), c(1, 0)], true, &mut rng), Some(1));
        }
        // Over many picks with three equal trackers, all are used.
        let mut seen = [0; 3];
        for _ in 0..300 {
            seen[power_of_two(&[c(0, 0), c(0, 0), c(0, 0)], true, &mut rng).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn newest_idle_packs_onto_recent() {
        let mut a = c(0, 1);
        a.last_used = Time::from_secs(5);
        let mut b = c(0, 1);
        b.last_used = Time::from_secs(9);
        let mut busy = c(1, 1);
        busy.last_used = Time::from_secs(10);
        assert_eq!(newest_idle(&[a, b, busy]), Some(1));
    }

    #[test]
    fn least_loaded_and_random_only_pick_free() {
        assert_eq!(least_loaded(&[c(3, 4), c(1, 4), c(4, 4)]), Some(1));
        let mut rng = stream(2, "t");
        for _ in 0..100 {
            assert_eq!(random_free(&[c(1, 1), c(0, 1), c(1, 1)], &mut rng), Some(1));
        }
    }
}
