//! The request loop.
//!
//! One loop, parameterised by where intended send times come from and when to stop:
//!
//! - **open loop**: a scheduler walks the [`Schedule`], sleeps until each request's intended
//!   time, and hands the request to a task of its own; nothing the target does delays the next
//!   send. Latency is measured from the *intended* time, so a stalled server (or a stalled
//!   generator) shows in the tail instead of silently thinning the samples: the coordinated
//!   omission that wrk and, through its correction, oha still suffer from
//!   (<https://www.scylladb.com/2021/04/22/on-coordinated-omission/>, Gil Tene's "How NOT to
//!   measure latency"). The scheduler's own delay, *send lag* = actual − intended, is a metric
//!   of its own; seconds where it exceeds `lag_warn` are reported as "generator behind", and
//!   `max_lag` stops the run.
//! - **closed loop**: `connections` workers each send the next request when the previous one
//!   is answered; a request is intended when it is sent.
//!
//! Both stop starting requests at `duration` (or after `max_requests`), give in-flight requests
//! until `duration + grace`, and abort what is left: every request's wait is bounded by
//! `min(its send time + timeout, duration + grace)`, so a target that stalls, resets or speaks
//! garbage can delay the end of a run by at most the grace period.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use scalelab_core::Time;
use scalelab_core::duration::format_duration;
use scalelab_core::rng;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::conn::Connector;
use crate::hdrlog::HdrLog;
use crate::outcome::Outcome;
use crate::pool::{Pool, PoolStats};
use crate::recorder::Recorder;
use crate::schedule::{Picker, Schedule};
use crate::target::{Prepared, Target};
use crate::{LoadConfig, LoadError, LoopMode};

/// What a run measured, before it is turned into a result document.
pub struct LoadReport {
    /// The measurements.
    pub recorder: Recorder,
    /// Wall time from the first request to the end of the run.
    pub elapsed: Duration,
    /// Connections opened during the run.
    pub connections_opened: u64,
    /// Most connections open at once.
    pub peak_connections: u64,
    /// Open loop: scheduled requests never sent (the run stopped before their time came).
    pub unsent: u64,
    /// Why the run stopped before its schedule ended, if it did (`--max-lag`).
    pub stopped_early: Option<String>,
}

struct Ctx {
    clock: Clock,
    prepared: Vec<Prepared>,
    rec: Mutex<Recorder>,
    timeout: Duration,
    hard_end: Time,
    in_flight: AtomicU64,
    drained: Notify,
}

impl Ctx {
    fn rec(&self) -> MutexGuard<'_, Recorder> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs a load test to its end. Failed requests are counted, never returned as errors; only
/// bad settings, an unresolvable host or an unwritable `--hdr-log` are.
pub async fn run(cfg: &LoadConfig) -> Result<LoadReport, LoadError> {
    cfg.validate()?;
    let target = Target::parse(&cfg.url)?;
    let prepared = cfg
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| Prepared::new(&target, i, r))
        .collect::<Result<Vec<_>, _>>()?;
    let connector = Arc::new(Connector::new(&target, cfg.http2, cfg.connect_timeout).await?);
    let clock = Clock::start();
    let hdr_log = match &cfg.hdr_log {
        Some(path) => Some(HdrLog::create(
            path,
            clock.wall_start(),
            &format!(
                "[Logged with scalelab {} load {}]",
                env!("CARGO_PKG_VERSION"),
                cfg.url
            ),
        )?),
        None => None,
    };
    let ctx = Arc::new(Ctx {
        clock,
        prepared,
        rec: Mutex::new(Recorder::new(hdr_log)),
        timeout: cfg.timeout,
        hard_end: Time::ZERO + cfg.duration + cfg.grace,
        in_flight: AtomicU64::new(0),
        drained: Notify::new(),
    });
    let end_of_starts = Time::ZERO + cfg.duration;

    let pools: Vec<Arc<Pool>> = match &cfg.mode {
        LoopMode::Open(_) => vec![Arc::new(Pool::new(
            connector.clone(),
            cfg.http2,
            cfg.max_connections as usize,
            cfg.h2_connections as usize,
        ))],
        // HTTP/2 workers multiplex over shared connections; HTTP/1.1 workers own one each.
        LoopMode::Closed { .. } if cfg.http2 => vec![Arc::new(Pool::new(
            connector.clone(),
            true,
            cfg.max_connections as usize,
            cfg.h2_connections as usize,
        ))],
        LoopMode::Closed { connections } => (0..*connections)
            .map(|_| Arc::new(Pool::new(connector.clone(), false, 1, 1)))
            .collect(),
    };

    let finished = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn(ticker(
        ctx.clone(),
        pools.clone(),
        finished.clone(),
        cfg.progress,
        matches!(cfg.mode, LoopMode::Open(_)),
        cfg.warnings && matches!(cfg.mode, LoopMode::Open(_)),
        cfg.lag_warn,
    ));

    let mut unsent = 0;
    let mut stopped_early = None;
    match &cfg.mode {
        LoopMode::Open(workload) => {
            let weights: Vec<f64> = cfg.requests.iter().map(|r| r.weight).collect();
            let mut schedule = Schedule::new(
                workload,
                cfg.duration,
                cfg.seed,
                &weights,
                cfg.shard,
                cfg.max_requests,
            );
            let pool = pools[0].clone();
            while let Some(p) = schedule.next() {
                if ctx.clock.now() < p.at {
                    tokio::time::sleep_until(ctx.clock.instant(p.at)).await;
                }
                let now = ctx.clock.now();
                if now >= ctx.hard_end {
                    unsent = 1 + schedule.by_ref().count() as u64;
                    break;
                }
                let lag = now.saturating_since(p.at);
                if let Some(max) = cfg.max_lag.filter(|&m| lag > m) {
                    stopped_early = Some(format!(
                        "the generator fell behind its schedule: send lag {} exceeds --max-lag {} \
                         at t = {}",
                        format_duration(round_ms(lag)),
                        format_duration(max),
                        now
                    ));
                    unsent = 1 + schedule.by_ref().count() as u64;
                    break;
                }
                ctx.rec().dispatched(p.at, now, true);
                ctx.in_flight.fetch_add(1, Ordering::Relaxed);
                let (ctx, pool) = (ctx.clone(), pool.clone());
                tokio::spawn(async move {
                    one_request(&ctx, &pool, p.request, p.at, now).await;
                });
            }
        }
        LoopMode::Closed { connections } => {
            let issued = Arc::new(AtomicU64::new(0));
            let picker = Picker::new(cfg.requests.iter().map(|r| r.weight));
            let mut workers = tokio::task::JoinSet::new();
            for w in 0..*connections {
                let pool = pools[(w as usize).min(pools.len() - 1)].clone();
                let (ctx, issued, picker) = (ctx.clone(), issued.clone(), picker.clone());
                let limit = cfg.max_requests;
                let mut rng = rng::stream(cfg.seed, &format!("load/requests/worker-{w}"));
                workers.spawn(async move {
                    loop {
                        let now = ctx.clock.now();
                        if now >= end_of_starts {
                            break;
                        }
                        if limit.is_some_and(|l| issued.fetch_add(1, Ordering::Relaxed) >= l) {
                            break;
                        }
                        let request = picker.pick(&mut rng);
                        ctx.rec().dispatched(now, now, false);
                        ctx.in_flight.fetch_add(1, Ordering::Relaxed);
                        one_request(&ctx, &pool, request, now, now).await;
                    }
                });
            }
            while workers.join_next().await.is_some() {}
        }
    }

    // Every request task ends by `hard_end` (its own deadline); wait for the last one.
    loop {
        let drained = ctx.drained.notified();
        if ctx.in_flight.load(Ordering::Acquire) == 0 {
            break;
        }
        let _ = tokio::time::timeout_at(
            ctx.clock.instant(ctx.hard_end + Duration::from_secs(1)),
            drained,
        )
        .await;
        if ctx.clock.now() > ctx.hard_end + Duration::from_secs(1) {
            break;
        }
    }
    let end = ctx.clock.now();
    finished.store(true, Ordering::Release);
    ticker.abort();
    let stats = pools.iter().fold(PoolStats::default(), |a, p| {
        let s = p.stats();
        PoolStats {
            open: a.open + s.open,
            waiting: a.waiting + s.waiting,
            opened_total: a.opened_total + s.opened_total,
            peak_open: a.peak_open + s.peak_open,
        }
    });
    let hdr_log = ctx.rec().finish(end);
    if let Some(log) = hdr_log {
        log.finish()?;
    }
    let recorder = std::mem::take(&mut *ctx.rec());
    Ok(LoadReport {
        recorder,
        elapsed: end.since_start(),
        connections_opened: stats.opened_total,
        peak_connections: stats.peak_open as u64,
        unsent,
        stopped_early,
    })
}

/// [`run`] on a runtime of its own: one thread (the most efficient on a small machine, where
/// the target needs the other cores) or `threads` worker threads.
pub fn run_blocking(cfg: &LoadConfig, threads: usize) -> Result<LoadReport, LoadError> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let rt = builder
        .enable_all()
        .build()
        .map_err(|e| LoadError::BadConfig(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(run(cfg))
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// Sends one request and records its outcome; never outlives `hard_end`.
async fn one_request(ctx: &Ctx, pool: &Pool, request: usize, intended: Time, sent: Time) {
    let own_deadline = sent + ctx.timeout;
    let deadline = own_deadline.min(ctx.hard_end);
    let mut bytes = 0;
    let outcome = match tokio::time::timeout_at(
        ctx.clock.instant(deadline),
        exchange(ctx, pool, request, &mut bytes),
    )
    .await
    {
        Ok(o) => o,
        Err(_) if own_deadline <= ctx.hard_end => Outcome::Timeout,
        Err(_) => Outcome::Aborted,
    };
    let end = ctx.clock.now();
    ctx.rec().finished(intended, end, outcome, bytes);
    if ctx.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
        ctx.drained.notify_waiters();
    }
}

async fn exchange(ctx: &Ctx, pool: &Pool, request: usize, bytes: &mut u64) -> Outcome {
    let mut lease = match pool.acquire().await {
        Ok(l) => l,
        Err(o) => return o,
    };
    let p = &ctx.prepared[request];
    let mut req = Request::new(Full::new(p.body.clone()));
    *req.method_mut() = p.method.clone();
    if lease.is_h2() {
        *req.uri_mut() = p.absolute_uri.clone();
        *req.headers_mut() = p.headers.clone();
    } else {
        *req.uri_mut() = p.origin_uri.clone();
        *req.headers_mut() = p.h1_headers.clone();
    }
    let resp = match lease.send(req).await {
        Ok(r) => r,
        Err(e) => return Outcome::from_hyper(&e),
    };
    let outcome = Outcome::from_status(resp.status().as_u16());
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    *bytes += d.len() as u64;
                }
            }
            Err(e) => return Outcome::from_hyper(&e),
        }
    }
    lease.recycle();
    outcome
}

/// Once a second: close the finished second in the recorder, sample pool levels, print the
/// progress line and "generator behind" warnings.
async fn ticker(
    ctx: Arc<Ctx>,
    pools: Vec<Arc<Pool>>,
    finished: Arc<AtomicBool>,
    progress: bool,
    open_loop: bool,
    warnings: bool,
    lag_warn: Duration,
) {
    let lag_warn_us = lag_warn.as_micros() as u64;
    for sec in 1u64.. {
        tokio::time::sleep_until(ctx.clock.instant(Time::from_secs(sec))).await;
        if finished.load(Ordering::Acquire) {
            return;
        }
        let (queued, open) = pools.iter().fold((0, 0), |(q, o), p| {
            let s = p.stats();
            (q + s.waiting as u64, o + s.open as u64)
        });
        let (row, ok, err, p99) = {
            let mut r = ctx.rec();
            r.set_levels(sec - 1, queued, open);
            r.roll_to(sec);
            let row = r.rows.get(sec as usize - 1).copied().unwrap_or_default();
            let ok = r.count(crate::Bucket::Completed);
            let err = r.count(crate::Bucket::Rejected) + r.count(crate::Bucket::TimedOut);
            let p99 = if r.latency.is_empty() {
                0.0
            } else {
                r.latency.value_at_quantile(0.99) as f64 / 1000.0
            };
            (row, ok, err, p99)
        };
        let behind = row.max_lag_us > lag_warn_us;
        if progress {
            let target = if open_loop {
                format!(" (target {}/s)", row.target)
            } else {
                String::new()
            };
            eprintln!(
                "[{sec:>4}s] sent {}/s{target}  ok {ok}  errors {err}  in flight {}  \
                 connections {open}  p99 so far {p99:.1}ms{}",
                row.sent,
                row.in_flight,
                if behind { "  GENERATOR BEHIND" } else { "" }
            );
        }
        if warnings && behind {
            eprintln!(
                "warning: generator behind in second {}: send lag up to {:.1}ms (sent {} of {} \
                 intended); latencies still count from the intended times",
                sec - 1,
                row.max_lag_us as f64 / 1000.0,
                row.sent,
                row.target
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An overloaded open loop holds one task per request waiting for a connection; each must
    /// stay small so memory does not balloon (the connect path is boxed for this).
    #[test]
    fn a_waiting_request_is_small() {
        fn size<F: Future>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let target = Target::parse("http://127.0.0.1:1/").unwrap();
            let connector = Connector::new(&target, false, Duration::from_secs(1))
                .await
                .unwrap();
            let pool = Pool::new(Arc::new(connector), false, 1, 1);
            let ctx = Ctx {
                clock: Clock::start(),
                prepared: vec![],
                rec: Mutex::default(),
                timeout: Duration::from_secs(1),
                hard_end: Time::ZERO,
                in_flight: AtomicU64::default(),
                drained: Notify::default(),
            };
            assert!(size(&pool.acquire()) <= 512, "{}", size(&pool.acquire()));
            let f = one_request(&ctx, &pool, 0, Time::ZERO, Time::ZERO);
            assert!(size(&f) <= 2048, "{}", size(&f));
        });
    }
}
