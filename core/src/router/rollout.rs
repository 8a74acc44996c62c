//! Gradual rollouts: how a traffic split moves to a new one over `rollout-duration`, step by
//! step, as Knative Serving's route reconciler moves it (`pkg/reconciler/route/traffic/
//! rollout.go`: `stepConfig`, `ObserveReady` / `computeProperties`, `stepRevisions`).
//!
//! Knative's rule, for a configuration whose latest revision is to receive `P` % of traffic:
//!
//! 1. when the new revision is Ready the route gives it **1 %** at once, taken from the newest
//!    older revision that has traffic;
//! 2. once the ingress carries that (Knative measures the time it took, `minStepSec`, at least
//!    1 s; modelled here as exactly 1 s) the rest is planned: `d = max(1, duration − 1 s)`,
//!    `steps = max(1, d / 1 s)`, at most `P − 1`; `step size = round((P − 1) / steps)` percent
//!    and `step duration = d / steps` (whole nanoseconds, truncated);
//! 3. every step duration after that, `step size` more percent moves to the new revision
//!    (taken from the older revisions newest first), capped at `P`, until all of it has moved.
//!
//! So a 120 s rollout of 100 % moves 1 % at t₀, then 1 % every 1.20202 s from t₀ + 1 s + 1.2 s
//! on; a 5 s rollout moves 1 %, then 25 % at t₀ + 2 s, 3 s, 4 s and 5 s (1 → 26 → 51 → 76 →
//! 100). A `duration` of zero, or a move of at most 1 %, switches at once (Knative skips the
//! rollout for a 1 % target too).
//!
//! The scenario format lets a rollout go from any split to any split, so the rule is applied
//! to the amount that moves, `M` = Σ of the increases: every step's amount is shared among the
//! revisions gaining traffic in proportion to what each gains (one gainer: exactly Knative's
//! rule), and taken from the revisions losing traffic newest first, each down to its target.
//! This module is pure: [`plan`] returns the whole schedule of splits.

use std::time::Duration;

use crate::time::Time;

const SECOND_NS: u64 = 1_000_000_000;

/// One change of the split during a rollout.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// When it takes effect.
    pub at: Time,
    /// The split from then on, one percentage per revision.
    pub percents: Vec<f64>,
}

/// Knative's step parameters for moving `moved` percent over `duration` (after the first 1 %):
/// (step size in percent, step duration). `None` when the move happens at once.
pub fn step_params(moved: f64, duration: Duration) -> Option<(f64, Duration)> {
    if duration.is_zero() || moved <= 1.0 {
        return None;
    }
    // `minStepSec`: the time the first 1 % took to reach the ingress, at least one second.
    let min_step_s = 1.0;
    let d = (duration.as_secs_f64() - min_step_s).max(1.0);
    let remaining = moved - 1.0;
    let steps = (d / min_step_s).max(1.0).min(remaining);
    let size = (remaining / steps).round();
    let step_ns = (d / steps * 1e9) as u64;
    Some((size, Duration::from_nanos(step_ns)))
}

/// The splits a rollout from `from` to `to` goes through when it starts at `start`: the first
/// entry is at `start`, the last is `to` exactly. `age[i]` orders revision `i` by creation
/// (larger is newer): losing revisions give up traffic newest first.
pub fn plan(start: Time, from: &[f64], to: &[f64], age: &[u64], duration: Duration) -> Vec<Step> {
    debug_assert_eq!(from.len(), to.len());
    let moved: f64 = from.iter().zip(to).map(|(f, t)| (t - f).max(0.0)).sum();
    let Some((size, step)) = step_params(moved, duration) else {
        return vec![Step {
            at: start,
            percents: to.to_vec(),
        }];
    };
    let mut out = vec![Step {
        at: start,
        percents: split_after(from, to, age, moved, 1.0),
    }];
    let mut done = 1.0;
    let mut at = Time(start.0.saturating_add(SECOND_NS));
    // At most ⌈99 / 1⌉ steps: the step size is at least 1 %.
    while done < moved {
        at = Time(at.0.saturating_add(step.as_nanos() as u64));
        done = (done + size).min(moved);
        let percents = if done >= moved {
            to.to_vec()
        } else {
            split_after(from, to, age, moved, done)
        };
        out.push(Step { at, percents });
    }
    out
}

/// The split once `done` of the `moved` percent has moved from `from` towards `to`: gainers in
/// proportion to their gain, losers drained newest first.
fn split_after(from: &[f64], to: &[f64], age: &[u64], moved: f64, done: f64) -> Vec<f64> {
    let mut out: Vec<f64> = from
        .iter()
        .zip(to)
        .map(
            |(&f, &t)| {
                if t > f { f + (t - f) * done / moved } else { f }
            },
        )
        .collect();
    let mut losers: Vec<usize> = (0..from.len()).filter(|&i| to[i] < from[i]).collect();
    losers.sort_by_key(|&i| std::cmp::Reverse((age[i], i)));
    let mut left = done;
    for i in losers {
        if left <= 0.0 {
            break;
        }
        let take = (from[i] - to[i]).min(left);
        out[i] = from[i] - take;
        left -= take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Time {
        Time((s * 1e9).round() as u64)
    }

    /// Knative's `TestObserveReady`, "step-begin < 1s": 100 % over 120 s, the ingress ready
    /// within a second, gives 99 steps of 1 % every 1.202020202 s.
    #[test]
    fn step_parameters_match_knative() {
        let (size, step) = step_params(100.0, Duration::from_secs(120)).expect("gradual");
        assert_eq!(size, 1.0);
        assert_eq!(step, Duration::from_nanos(1_202_020_202));
        // "días antiguos": 13 % when a step would take longer than the whole rollout: one
        // final step of 12 %.
        let (size, step) = step_params(13.0, Duration::from_secs(2)).expect("gradual");
        assert_eq!((size, step), (12.0, Duration::from_secs(1)));
        // 75 % over 41 s: 40 steps of round(74 / 40) = 2 %.
        let (size, _) = step_params(75.0, Duration::from_secs(41)).expect("gradual");
        assert_eq!(size, 2.0);
        // Zero duration and a 1 % move switch at once.
        assert_eq!(step_params(100.0, Duration::ZERO), None);
        assert_eq!(step_params(1.0, Duration::from_secs(60)), None);
    }

    /// "100 % in 4 steps: 1 % → 26 % → 51 % → 76 % → 100 %" (rollout.go's own example).
    #[test]
    fn a_short_rollout_moves_in_rounded_steps() {
        let steps = plan(
            secs(10.0),
            &[100.0, 0.0],
            &[0.0, 100.0],
            &[0, 1],
            Duration::from_secs(5),
        );
        let new: Vec<f64> = steps.iter().map(|s| s.percents[1]).collect();
        assert_eq!(new, [1.0, 26.0, 51.0, 76.0, 100.0]);
        let at: Vec<Time> = steps.iter().map(|s| s.at).collect();
        assert_eq!(
            at,
            [secs(10.0), secs(12.0), secs(13.0), secs(14.0), secs(15.0)]
        );
        for s in &steps {
            assert!(
                (s.percents.iter().sum::<f64>() - 100.0).abs() < 1e-9,
                "{s:?}"
            );
        }
    }

    #[test]
    fn six_minutes_move_one_percent_every_3_6_seconds() {
        let steps = plan(
            Time::ZERO,
            &[100.0, 0.0],
            &[0.0, 100.0],
            &[0, 1],
            Duration::from_secs(360),
        );
        assert_eq!(steps.len(), 100);
        assert_eq!(steps[0].percents, [99.0, 1.0]);
        let step = 359.0 / 99.0;
        assert_eq!(steps[1].at, Time(1_000_000_000 + (step * 1e9) as u64));
        assert_eq!(steps[50].percents, [49.0, 51.0]);
        let last = steps.last().expect("steps");
        assert_eq!(last.percents, [0.0, 100.0]);
        assert!(
            (last.at.as_secs_f64() - 360.0).abs() < 1e-6,
            "{:?}",
            last.at
        );
    }

    #[test]
    fn instant_switches_and_rollbacks_are_one_step() {
        let s = plan(
            secs(5.0),
            &[100.0, 0.0],
            &[0.0, 100.0],
            &[0, 1],
            Duration::ZERO,
        );
        assert_eq!(
            s,
            [Step {
                at: secs(5.0),
                percents: vec![0.0, 100.0]
            }]
        );
        // A rollback is a rollout like any other: back to the old split.
        let back = plan(
            secs(9.0),
            &[90.0, 10.0],
            &[100.0, 0.0],
            &[0, 1],
            Duration::ZERO,
        );
        assert_eq!(back[0].percents, [100.0, 0.0]);
    }

    /// Losers give up traffic newest first; several gainers share each step by their gains.
    #[test]
    fn general_splits_drain_the_newest_first() {
        let s = plan(
            Time::ZERO,
            &[50.0, 50.0, 0.0, 0.0],
            &[0.0, 0.0, 75.0, 25.0],
            &[0, 1, 2, 3],
            Duration::from_secs(5),
        );
        // First 1 %: from revision 1 (the newer loser), shared 3 : 1 by the gainers.
        assert_eq!(s[0].percents, [50.0, 49.0, 0.75, 0.25]);
        // Then 25 % steps: revision 1 empties before revision 0 gives anything.
        assert_eq!(s[1].percents, [50.0, 24.0, 19.5, 6.5]);
        assert_eq!(s[2].percents, [49.0, 0.0, 38.25, 12.75]);
        assert_eq!(s.last().expect("steps").percents, [0.0, 0.0, 75.0, 25.0]);
    }
}
