//! Running many whole simulations in parallel, for parameter searches (`scalelab tune`).
//!
//! Parallelism goes across runs, never inside one: each job is one scenario with one seed,
//! simulated start to end on one thread. Workers take the next job from an atomic index, so
//! a slow candidate does not hold up the others. Results are returned in job order whatever
//! thread ran them, so the outcome does not depend on the number of threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use scalelab_core::result::VariantResult;
use scalelab_core::scenario::{BASELINE, Scenario};

use crate::SimError;

/// One simulation: a scenario (its baseline; variants are not run) with a seed.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The master seed of this run.
    pub seed: u64,
}

/// Shared with the caller while jobs run: cancel, and count what is done.
#[derive(Debug, Default)]
pub struct Control {
    /// Set to stop taking new jobs; jobs already running finish.
    pub cancel: AtomicBool,
    /// Jobs finished so far.
    pub done: AtomicUsize,
}

/// Runs `jobs` on `threads` threads (0: every core), passing each result through `map` on
/// the worker thread (keep only what is needed: a result carries a whole time series).
/// Returns one entry per job, in job order; `None` for jobs not started because of a cancel.
pub fn run_jobs<T: Send>(
    jobs: &[Job<'_>],
    threads: usize,
    control: &Control,
    map: impl Fn(usize, Result<VariantResult, SimError>) -> T + Sync,
) -> Vec<Option<T>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
    .clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut mine = Vec::new();
        while !control.cancel.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else { break };
            let r = crate::run_variant(job.scenario, BASELINE, job.seed, false, false, None)
                .map(|(v, _, _)| v);
            mine.push((i, map(i, r)));
            control.done.fetch_add(1, Ordering::Relaxed);
        }
        mine
    };
    let mut out: Vec<Option<T>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        for h in handles {
            // A panicking worker is a simulator bug; re-raise it on the caller's thread.
            let mine = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            for (i, t) in mine {
                out[i] = Some(t);
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(rate: u32) -> Scenario {
        Scenario::from_toml_str(
            &format!(
                "duration = \"30s\"\n[service]\nservice_time = {{ dist = \"fixed\", value = \"50ms\" }}\n\
                 [[workload.phases]]\nduration = \"30s\"\narrival = {{ process = \"poisson\", rate = {rate} }}\n"
            ),
            "t.toml".as_ref(),
        )
        .expect("valid")
    }

    #[test]
    fn results_come_back_in_job_order_whatever_the_threads() {
        let s: Vec<Scenario> = (1..=6).map(|r| scenario(r * 5)).collect();
        let jobs: Vec<Job<'_>> = s
            .iter()
            .map(|sc| Job {
                scenario: sc,
                seed: 3,
            })
            .collect();
        let run = |threads| {
            let c = Control::default();
            let out = run_jobs(&jobs, threads, &c, |i, r| {
                (i, r.expect("runs").requests.arrived)
            });
            assert_eq!(c.done.load(Ordering::Relaxed), jobs.len());
            out
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert!(
            one.iter()
                .enumerate()
                .all(|(i, o)| o.map(|(j, _)| j) == Some(i))
        );
        let arrived: Vec<u64> = one.iter().map(|o| o.expect("ran").1).collect();
        assert!(arrived.windows(2).all(|w| w[0] < w[1]), "{arrived:?}");
    }

    #[test]
    fn a_cancel_stops_new_jobs() {
        let s = scenario(5);
        let jobs = vec![
            Job {
                scenario: &s,
                seed: 1
            };
            4
        ];
        let c = Control::default();
        c.cancel.store(true, Ordering::Relaxed);
        let out = run_jobs(&jobs, 2, &c, |_, r| r.is_ok());
        assert!(out.iter().all(Option::is_none));
    }
}
