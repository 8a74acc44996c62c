//! The open loop's hand-off between the scheduler and the connections: a bounded FIFO of
//! requests that are due but have no connection yet.
//!
//! ```text
//!  scheduler ──push(job)──► [ waiting jobs ≤ max_pending ] ──next_job()──► connection workers
//!      │                                                                    (≤ max_connections,
//!      └─ full: the job is not queued, it ends as `queue_full`               one request each)
//! ```
//!
//! A job is 24 bytes, so the queue's memory is bounded by `max_pending` whatever the target does;
//! a request's wait in it happens after its intended send time and therefore counts in its
//! latency and its send lag, as it would for a real client with a bounded pool. Workers are
//! started on demand: when a job finds no idle worker and fewer than `max_connections` exist.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use scalelab_core::Time;
use tokio::sync::Notify;

/// One intended request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Job {
    /// Its index in the (unsharded) schedule, or its start order in closed loop.
    pub index: u64,
    /// Its intended send time.
    pub intended: Time,
    /// Which request kind.
    pub request: u32,
}

/// What [`Dispatch::push`] did with a job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; `true` when the caller must start one more worker.
    Queued { start_worker: bool },
    /// Not queued: `max_pending` jobs already wait.
    Full(Job),
}

struct State {
    queue: VecDeque<Job>,
    /// Workers waiting for a job.
    idle: usize,
    /// Workers started.
    workers: usize,
    closed: bool,
}

/// The queue and its bookkeeping.
pub(crate) struct Dispatch {
    state: Mutex<State>,
    notify: Notify,
    max_pending: usize,
    max_workers: usize,
}

impl Dispatch {
    pub(crate) fn new(max_pending: usize, max_workers: usize) -> Dispatch {
        Dispatch {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: 0,
                workers: 0,
                closed: false,
            }),
            notify: Notify::new(),
            max_pending,
            max_workers: max_workers.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Counters only: a panic elsewhere cannot leave them worse than stopping would.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands a due job to an idle worker, or queues it for the next free one (asking for a new
    /// worker when none is idle and the limit allows), or refuses it when `max_pending` jobs
    /// already wait.
    pub(crate) fn push(&self, job: Job) -> Pushed {
        let mut s = self.lock();
        // Jobs matched by an idle worker are about to be taken, not waiting.
        let waiting = s.queue.len().saturating_sub(s.idle);
        let can_start = s.workers < self.max_workers;
        if s.idle == 0 && !can_start && waiting >= self.max_pending {
            return Pushed::Full(job);
        }
        s.queue.push_back(job);
        if s.idle > 0 {
            s.idle -= 1;
            drop(s);
            self.notify.notify_one();
            return Pushed::Queued {
                start_worker: false,
            };
        }
        let start_worker = can_start;
        if start_worker {
            s.workers += 1;
        }
        Pushed::Queued { start_worker }
    }

    /// The next job for a worker; `None` once the schedule is over and the queue is empty.
    pub(crate) async fn next_job(&self) -> Option<Job> {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if let Some(job) = s.queue.pop_front() {
                    return Some(job);
                }
                if s.closed {
                    return None;
                }
                s.idle += 1;
            }
            notified.await;
            // The pusher took this worker off the idle count when it woke it; a wake by
            // `close` leaves the count as it is (nothing is pushed after it).
        }
    }

    /// No more jobs: workers finish the queue and stop.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Jobs waiting for a connection.
    pub(crate) fn waiting(&self) -> usize {
        let s = self.lock();
        s.queue.len().saturating_sub(s.idle)
    }

    /// Every job still queued, removed (the run is over).
    pub(crate) fn drain(&self) -> Vec<Job> {
        self.lock().queue.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(i: u64) -> Job {
        Job {
            index: i,
            intended: Time::ZERO,
            request: 0,
        }
    }

    #[test]
    fn workers_start_on_demand_and_the_queue_is_bounded() {
        let d = Dispatch::new(2, 1);
        assert_eq!(d.push(job(0)), Pushed::Queued { start_worker: true });
        // The one worker is connecting; jobs wait for it, up to max_pending of them (the one it
        // will take counts: it waits for a connection too).
        assert_eq!(
            d.push(job(1)),
            Pushed::Queued {
                start_worker: false
            }
        );
        assert_eq!(d.push(job(2)), Pushed::Full(job(2)));
        assert_eq!(d.waiting(), 2);
        assert_eq!(d.drain().len(), 2);
        assert_eq!(d.waiting(), 0);
    }

    #[tokio::test]
    async fn idle_workers_take_jobs_in_order_and_stop_when_closed() {
        let d = std::sync::Arc::new(Dispatch::new(0, 1));
        assert_eq!(d.push(job(0)), Pushed::Queued { start_worker: true });
        let worker = {
            let d = d.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(j) = d.next_job().await {
                    got.push(j.index);
                    tokio::task::yield_now().await;
                }
                got
            })
        };
        tokio::task::yield_now().await;
        for i in 1..5 {
            // With max_pending 0 a job is refused only when the one worker is busy.
            if let Pushed::Full(j) = d.push(job(i)) {
                assert_eq!(j.index, i);
            }
            tokio::task::yield_now().await;
        }
        d.close();
        let got = worker.await.unwrap();
        assert_eq!(got[0], 0);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    }
}
