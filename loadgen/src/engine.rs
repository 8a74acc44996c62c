//! The request loop.
//!
//! One loop, parameterised by where intended send times come from and when to stop:
//!
//! - **open loop**: a scheduler walks the [`Schedule`], sleeps until each request's intended
//!   time and hands the request to a connection ([`Dispatch`]: an idle one, a new one while
//!   fewer than `max_connections` are open, or a bounded FIFO of at most `max_pending` waiting
//!   requests; beyond that the request ends as `queue_full`). Nothing the target does delays the
//!   schedule. Latency is measured from the *intended* time, so a stalled server (or a stalled
//!   generator) shows in the tail instead of silently thinning the samples: the coordinated
//!   omission that wrk and, through its correction, oha still suffer from
//!   (<https://www.scylladb.com/2021/04/22/on-coordinated-omission/>, Gil Tene's "How NOT to
//!   measure latency"). *Send lag* = written to a connection − intended is a metric of its own;
//!   seconds where it exceeds `lag_warn` are reported as "behind schedule", and `max_lag` stops
//!   the run.
//! - **closed loop**: `connections` workers each send the next request when the previous one
//!   is answered; a request is intended when its worker starts it.
//!
//! A request is *sent* when its first byte is written to a connection (see [`crate::conn`]),
//! not when the generator decides to send it: send time, send lag and the achieved rate are
//! measured there.
//!
//! Both loops stop starting requests at `duration` (or after `max_requests`), give in-flight
//! requests until `duration + grace`, and end what is left: every request's wait is bounded by
//! `min(its submission + timeout, duration + grace)`, so a target that stalls, resets or speaks
//! garbage can delay the end of a run by at most the grace period.
//!
//! Accounting: every intended request ends in exactly one [`Outcome`]: a response class, an
//! error class, `timeout`, `aborted` (written, unanswered at the end), `not_sent` (never
//! written: the run ended or stopped first) or `queue_full`. The counts add up to the intended
//! count whatever the target does.
//!
//! HTTP/1.1 (the default, plain or TLS) uses dedicated connections: each connection belongs to
//! one worker task that writes the request prepared before the run and reads the response
//! itself ([`crate::h1`]), so a request costs no task switch, no allocation, no lock but the
//! recorder's, and no timer registration (one long-lived timer per worker, [`Deadline`]). HTTP/2 (`--http2`) multiplexes requests over a few shared
//! connections ([`Pool`]), one task per request.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use http_body_util::BodyExt;
use scalelab_core::Time;
use scalelab_core::duration::format_duration;
use scalelab_core::rng;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::conn::{Connector, Deadline};
use crate::dispatch::{Dispatch, Job, Pushed};
use crate::h1::H1Conn;
use crate::hdrlog::HdrLog;
use crate::outcome::Outcome;
use crate::output::OutputLog;
use crate::pool::Pool;
use crate::recorder::{Done, Recorder};
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
    /// Requests never written to a connection because the run ended or stopped first
    /// (outcome `not_sent`).
    pub unsent: u64,
    /// Most requests waiting for a connection at once (open loop).
    pub peak_waiting: u64,
    /// Why the run stopped before its schedule ended, if it did (`--max-lag`).
    pub stopped_early: Option<String>,
}

/// Connection counts, shared by the workers.
#[derive(Default)]
struct ConnStats {
    open: AtomicUsize,
    opened: AtomicU64,
    peak: AtomicUsize,
}

impl ConnStats {
    fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        let n = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(n, Ordering::Relaxed);
    }

    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Ctx {
    clock: Clock,
    prepared: Vec<Prepared>,
    rec: Mutex<Recorder>,
    connector: Arc<Connector>,
    timeout: Duration,
    hard_end: Time,
    open_loop: bool,
    max_lag: Option<Duration>,
    /// Set when `max_lag` is exceeded: nothing more is sent.
    stopped: AtomicBool,
    stop_reason: Mutex<Option<String>>,
    conns: ConnStats,
    /// HTTP/2 path: requests not yet handed to a connection, and requests not yet finished.
    h2_unsent: AtomicUsize,
    h2_in_flight: AtomicUsize,
    h2_drained: Notify,
    /// What the ticker warned about, for the closing line.
    warned: Mutex<Warned>,
}

impl Ctx {
    fn rec(&self) -> MutexGuard<'_, Recorder> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Records a request written to a connection at `sent`, and stops the run when its send lag
    /// exceeds `--max-lag`.
    fn on_sent(&self, intended: Time, sent: Time) {
        self.rec().on_sent(intended, sent, self.open_loop);
        if !self.open_loop {
            return;
        }
        let lag = sent.saturating_since(intended);
        if let Some(max) = self.max_lag.filter(|&m| lag > m)
            && !self.stopped.swap(true, Ordering::Relaxed)
        {
            let why = format!(
                "the target rate was not met: a request was sent {} after its intended time \
                 (--max-lag {}) at t = {}",
                format_duration(round_ms(lag)),
                format_duration(max),
                sent
            );
            *self.stop_reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        }
    }

    /// Records how a request ended (and, in closed loop, that it was intended).
    fn done(
        &self,
        job: &Job,
        sent: Option<Time>,
        outcome: Outcome,
        status: Option<u16>,
        bytes: u64,
    ) {
        self.done_at(job, sent, self.clock.now(), outcome, status, bytes);
    }

    /// [`Ctx::done`] with the end time already read.
    fn done_at(
        &self,
        job: &Job,
        sent: Option<Time>,
        end: Time,
        outcome: Outcome,
        status: Option<u16>,
        bytes: u64,
    ) {
        let mut r = self.rec();
        if !self.open_loop {
            r.intend(job.intended, false);
        }
        r.finished(&Done {
            index: job.index,
            intended: job.intended,
            sent,
            end,
            outcome,
            status,
            bytes,
        });
    }
}

/// Runs a load test to its end. Failed requests are counted, never returned as errors; only
/// bad settings, an unresolvable host or an unwritable `--hdr-log` / `--output` are.
pub async fn run(cfg: &LoadConfig) -> Result<LoadReport, LoadError> {
    cfg.validate()?;
    let target = Target::parse(&cfg.url)?;
    let prepared = cfg
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| Prepared::new(&target, i, r))
        .collect::<Result<Vec<_>, _>>()?;
    let connector = Connector::new(&target, cfg.http2, cfg.connect_timeout, &cfg.tls).await?;
    let output = cfg.output.as_deref().map(OutputLog::create).transpose()?;
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
    let open_loop = matches!(cfg.mode, LoopMode::Open(_));
    let ctx = Arc::new(Ctx {
        clock,
        prepared,
        rec: Mutex::new({
            let mut r = Recorder::new(hdr_log, output);
            r.set_horizon(Time::ZERO + cfg.duration);
            r
        }),
        connector: Arc::new(connector),
        timeout: cfg.timeout,
        hard_end: Time::ZERO + cfg.duration + cfg.grace,
        open_loop,
        max_lag: cfg.max_lag,
        stopped: AtomicBool::new(false),
        stop_reason: Mutex::new(None),
        conns: ConnStats::default(),
        h2_unsent: AtomicUsize::new(0),
        h2_in_flight: AtomicUsize::new(0),
        h2_drained: Notify::new(),
        warned: Mutex::new(Warned::default()),
    });
    let end_of_starts = Time::ZERO + cfg.duration;
    let dispatch = Arc::new(Dispatch::new(
        cfg.max_pending as usize,
        cfg.max_connections as usize,
    ));
    let pool = cfg.http2.then(|| {
        Arc::new(Pool::new(
            ctx.connector.clone(),
            true,
            cfg.max_connections as usize,
            cfg.h2_connections as usize,
        ))
    });

    let ticker = tokio::spawn(ticker(
        ctx.clone(),
        dispatch.clone(),
        pool.clone(),
        TickerSettings {
            progress: cfg.progress,
            warnings: cfg.warnings && open_loop,
            lag_warn: cfg.lag_warn,
        },
    ));

    let mut workers = tokio::task::JoinSet::new();
    let mut peak_waiting = 0u64;
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
            let max_pending = cfg.max_pending as usize;
            while let Some(p) = schedule.next() {
                if ctx.clock.now() < p.at {
                    tokio::time::sleep_until(ctx.clock.instant(p.at)).await;
                }
                if ctx.is_stopped() || ctx.clock.now() >= ctx.hard_end {
                    let rest = 1 + schedule.by_ref().count() as u64;
                    ctx.rec().never_sent(rest, Outcome::NotSent);
                    break;
                }
                ctx.rec().intend(p.at, true);
                let job = Job {
                    index: p.index,
                    intended: p.at,
                    request: p.request as u32,
                };
                match &pool {
                    None => match dispatch.push(job) {
                        Pushed::Queued { start_worker } => {
                            if start_worker {
                                let (ctx, dispatch) = (ctx.clone(), dispatch.clone());
                                workers.spawn(async move { open_worker(&ctx, &dispatch).await });
                            }
                        }
                        Pushed::Full(job) => {
                            ctx.done(&job, None, Outcome::QueueFull, None, 0);
                        }
                    },
                    Some(pool) => {
                        if ctx.h2_unsent.load(Ordering::Relaxed) >= max_pending.max(1) {
                            ctx.done(&job, None, Outcome::QueueFull, None, 0);
                            continue;
                        }
                        ctx.h2_unsent.fetch_add(1, Ordering::Relaxed);
                        ctx.h2_in_flight.fetch_add(1, Ordering::Relaxed);
                        let (ctx, pool) = (ctx.clone(), pool.clone());
                        tokio::spawn(async move {
                            h2_request(&ctx, &pool, job).await;
                            if ctx.h2_in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
                                ctx.h2_drained.notify_waiters();
                            }
                        });
                    }
                }
                peak_waiting = peak_waiting.max(dispatch.waiting() as u64);
            }
            dispatch.close();
        }
        LoopMode::Closed { connections } => {
            let issued = Arc::new(AtomicU64::new(0));
            let picker = Picker::new(cfg.requests.iter().map(|r| r.weight));
            for w in 0..*connections {
                let (ctx, issued, picker, pool) =
                    (ctx.clone(), issued.clone(), picker.clone(), pool.clone());
                let limit = cfg.max_requests;
                let rng = rng::stream(cfg.seed, &format!("load/requests/worker-{w}"));
                workers.spawn(async move {
                    let source = ClosedSource {
                        issued,
                        limit,
                        picker,
                        rng,
                        end_of_starts,
                    };
                    match pool {
                        None => closed_worker(&ctx, source).await,
                        Some(pool) => closed_h2_worker(&ctx, &pool, source).await,
                    }
                });
            }
        }
    }

    // Every worker and request task ends by its own deadline (`hard_end` at the latest).
    while workers.join_next().await.is_some() {}
    loop {
        let drained = ctx.h2_drained.notified();
        if ctx.h2_in_flight.load(Ordering::Acquire) == 0 {
            break;
        }
        drained.await;
    }
    // Workers leave nothing queued; this is only a guard for the accounting.
    for job in dispatch.drain() {
        ctx.done(&job, None, Outcome::NotSent, None, 0);
    }
    let end = ctx.clock.now();
    ticker.abort();
    let warned = std::mem::take(&mut *ctx.warned.lock().unwrap_or_else(|p| p.into_inner()));
    let (hdr_log, output) = ctx.rec().finish(end);
    if let Some(log) = hdr_log {
        log.finish()?;
    }
    if let Some(out) = output {
        out.finish()?;
    }
    let recorder = std::mem::take(&mut *ctx.rec());
    debug_assert_eq!(
        recorder.intended,
        recorder.finished_count(),
        "every intended request has exactly one outcome"
    );
    // The closing total counts the same seconds as the summary (the last, partial one too).
    let lag_warn_us = cfg.lag_warn.as_micros() as u64;
    let behind = recorder.rows.iter().filter(|r| r.max_lag_us > lag_warn_us);
    let (behind_seconds, max_lag_us) = behind.fold((0, warned.max_lag_us), |(n, m), r| {
        (n + 1, m.max(r.max_lag_us))
    });
    if behind_seconds > 0 && cfg.warnings && open_loop {
        eprintln!(
            "warning: behind schedule in {behind_seconds} of {} second(s) (send lag above {}, up \
             to {:.1}ms); latencies still count from the intended times",
            recorder.rows.len(),
            format_duration(cfg.lag_warn),
            max_lag_us as f64 / 1000.0
        );
    }
    let stopped_early = ctx
        .stop_reason
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let (opened, peak) = match &pool {
        Some(p) => {
            let s = p.stats();
            (s.opened_total, s.peak_open as u64)
        }
        None => (
            ctx.conns.opened.load(Ordering::Relaxed),
            ctx.conns.peak.load(Ordering::Relaxed) as u64,
        ),
    };
    Ok(LoadReport {
        unsent: recorder.outcome(Outcome::NotSent),
        recorder,
        elapsed: end.since_start(),
        connections_opened: opened,
        peak_connections: peak,
        peak_waiting,
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

/// A worker's dedicated HTTP/1.1 connection and its timer.
struct Lane {
    conn: Option<H1Conn>,
    deadline: Deadline,
    last_used: Time,
}

impl Lane {
    fn new(ctx: &Ctx) -> Lane {
        Lane {
            conn: None,
            deadline: Deadline::new(ctx.clock, ctx.hard_end),
            last_used: Time::ZERO,
        }
    }

    fn drop_conn(&mut self, ctx: &Ctx) {
        if self.conn.take().is_some() {
            ctx.conns.closed();
        }
    }
}

/// How long a connection may sit idle before it is checked for a close by the server.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Runs `fut` until it completes or `deadline` passes (`None`).
async fn until<F: Future>(deadline: &mut Deadline, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(x) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(x));
        }
        if deadline.poll_expired(cx) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Sends one request on the lane's connection (opening one if needed) and records its outcome.
async fn send_h1(ctx: &Ctx, lane: &mut Lane, job: Job) {
    let now = ctx.clock.now();
    if now >= ctx.hard_end || ctx.is_stopped() {
        ctx.done(&job, None, Outcome::NotSent, None, 0);
        return;
    }
    if let Some(c) = &mut lane.conn
        && c.is_usable()
        && now.saturating_since(lane.last_used) > IDLE_CHECK
    {
        c.check_idle().await;
    }
    if lane.conn.as_ref().is_some_and(|c| !c.is_usable()) {
        lane.drop_conn(ctx);
    }
    if lane.conn.is_none() {
        let connect = ctx.connector.connect_h1();
        match tokio::time::timeout_at(ctx.clock.instant(ctx.hard_end), connect).await {
            Err(_) => {
                ctx.done(&job, None, Outcome::NotSent, None, 0);
                return;
            }
            Ok(Err(outcome)) => {
                ctx.done(&job, None, outcome, None, 0);
                return;
            }
            Ok(Ok(c)) => {
                ctx.conns.opened();
                lane.conn = Some(c);
            }
        }
    }
    let Some(conn) = lane.conn.as_mut() else {
        unreachable!("a connection was just opened")
    };
    let own_deadline = now + ctx.timeout;
    lane.deadline.set(own_deadline.min(ctx.hard_end));
    let prepared = &ctx.prepared[job.request as usize];
    let mut sent = None;
    let result = until(&mut lane.deadline, async {
        conn.write(&prepared.wire).await?;
        let t = ctx.clock.now();
        sent = Some(t);
        ctx.on_sent(job.intended, t);
        conn.read_response(prepared.is_head).await
    })
    .await;
    let end = ctx.clock.now();
    lane.last_used = end;
    let (outcome, status, bytes) = match result {
        Some(Ok(r)) => (Outcome::from_status(r.status), Some(r.status), r.body_bytes),
        Some(Err(o)) => (o, None, 0),
        // The deadline: the request's own timeout, or the end of the run.
        None => {
            let outcome = match sent {
                _ if lane.deadline.target() == own_deadline => Outcome::Timeout,
                Some(_) => Outcome::Aborted,
                None => Outcome::NotSent,
            };
            (outcome, None, 0)
        }
    };
    if !matches!(result, Some(Ok(_))) || !conn.is_usable() {
        lane.drop_conn(ctx);
    }
    ctx.done_at(&job, sent, end, outcome, status, bytes);
}

/// An open-loop connection worker: takes due requests from the dispatch queue until the
/// schedule is over.
async fn open_worker(ctx: &Ctx, dispatch: &Dispatch) {
    let mut lane = Lane::new(ctx);
    while let Some(job) = dispatch.next_job().await {
        send_h1(ctx, &mut lane, job).await;
    }
    lane.drop_conn(ctx);
}

/// Where a closed-loop worker's requests come from.
struct ClosedSource {
    issued: Arc<AtomicU64>,
    limit: Option<u64>,
    picker: Picker,
    rng: rng::SimRng,
    end_of_starts: Time,
}

impl ClosedSource {
    fn next(&mut self, now: Time) -> Option<Job> {
        if now >= self.end_of_starts {
            return None;
        }
        let index = self.issued.fetch_add(1, Ordering::Relaxed);
        if self.limit.is_some_and(|l| index >= l) {
            return None;
        }
        Some(Job {
            index,
            intended: now,
            request: self.picker.pick(&mut self.rng) as u32,
        })
    }
}

/// A closed-loop worker on its own HTTP/1.1 connection.
async fn closed_worker(ctx: &Ctx, mut source: ClosedSource) {
    let mut lane = Lane::new(ctx);
    while let Some(job) = source.next(ctx.clock.now()) {
        send_h1(ctx, &mut lane, job).await;
        // Let every connection whose response arrived in the same event-loop turn read it
        // before any writes its next request: the writes then reach the server in one burst,
        // which it serves in one wake-up (wrk's read-all-then-write-all pattern). Writing each
        // request as soon as its predecessor's response is read interleaves the server's
        // wake-ups with the generator's work and costs both sides more CPU per request.
        tokio::task::yield_now().await;
    }
    lane.drop_conn(ctx);
}

/// A closed-loop worker over the shared HTTP/2 connections.
async fn closed_h2_worker(ctx: &Ctx, pool: &Pool, mut source: ClosedSource) {
    while let Some(job) = source.next(ctx.clock.now()) {
        ctx.h2_unsent.fetch_add(1, Ordering::Relaxed);
        h2_request(ctx, pool, job).await;
    }
}

/// Sends one request over the HTTP/2 pool and records its outcome; never outlives `hard_end`.
/// Its send time is when it is handed to a ready connection (hyper writes HTTP/2 frames of many
/// requests together, so a write cannot be attributed to one of them).
async fn h2_request(ctx: &Ctx, pool: &Pool, job: Job) {
    let mut sent = None;
    let mut bytes = 0;
    let mut status = None;
    let exchange = async {
        let mut lease = match pool.acquire().await {
            Ok(l) => l,
            Err(o) => return Err(o),
        };
        let p = &ctx.prepared[job.request as usize];
        let req = if lease.is_h2() { p.h2() } else { p.h1() };
        let t = ctx.clock.now();
        sent = Some(t);
        ctx.h2_unsent.fetch_sub(1, Ordering::Relaxed);
        ctx.on_sent(job.intended, t);
        let resp = match tokio::time::timeout_at(
            ctx.clock.instant((t + ctx.timeout).min(ctx.hard_end)),
            lease.send(req),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(Outcome::from_hyper(&e)),
            Err(_) => return Ok(None),
        };
        status = Some(resp.status().as_u16());
        let mut body = resp.into_body();
        loop {
            let next = tokio::time::timeout_at(
                ctx.clock.instant((t + ctx.timeout).min(ctx.hard_end)),
                body.frame(),
            );
            match next.await {
                Ok(Some(Ok(f))) => {
                    if let Some(d) = f.data_ref() {
                        bytes += d.len() as u64;
                    }
                }
                Ok(Some(Err(e))) => return Err(Outcome::from_hyper(&e)),
                Ok(None) => break,
                Err(_) => return Ok(None),
            }
        }
        lease.recycle();
        Ok(status.map(Outcome::from_status))
    };
    let result = tokio::time::timeout_at(ctx.clock.instant(ctx.hard_end), exchange).await;
    let outcome = match result {
        Ok(Ok(Some(o))) => o,
        Ok(Err(o)) => {
            status = None;
            o
        }
        // The request's own deadline, or the end of the run.
        Ok(Ok(None)) | Err(_) => {
            status = None;
            match sent {
                None => Outcome::NotSent,
                Some(t) if t + ctx.timeout <= ctx.hard_end => Outcome::Timeout,
                Some(_) => Outcome::Aborted,
            }
        }
    };
    if sent.is_none() {
        ctx.h2_unsent.fetch_sub(1, Ordering::Relaxed);
    }
    ctx.done(&job, sent, outcome, status, bytes);
}

struct TickerSettings {
    progress: bool,
    warnings: bool,
    lag_warn: Duration,
}

/// What the ticker saw, for the closing warning.
#[derive(Default)]
struct Warned {
    behind_seconds: u64,
    max_lag_us: u64,
}

/// One line per this many seconds at most.
const WARN_EVERY_S: u64 = 10;

/// Once a second: close the finished second in the recorder, sample the connection and queue
/// levels, print the progress line and, at most once per 10 s, a "behind schedule" warning.
async fn ticker(
    ctx: Arc<Ctx>,
    dispatch: Arc<Dispatch>,
    pool: Option<Arc<Pool>>,
    s: TickerSettings,
) {
    let lag_warn_us = s.lag_warn.as_micros() as u64;
    let mut last_warning: Option<u64> = None;
    let mut behind_since_warning = 0u64;
    let mut max_lag_since_warning = 0u64;
    for sec in 1u64.. {
        tokio::time::sleep_until(ctx.clock.instant(Time::from_secs(sec))).await;
        let (queued, open) = match &pool {
            Some(p) => {
                let st = p.stats();
                (ctx.h2_unsent.load(Ordering::Relaxed) as u64, st.open as u64)
            }
            None => (
                dispatch.waiting() as u64,
                ctx.conns.open.load(Ordering::Relaxed) as u64,
            ),
        };
        let (row, ok, err, p99) = {
            let mut r = ctx.rec();
            r.set_levels(sec - 1, queued, open);
            r.roll_to(sec);
            let row = r.rows.get(sec as usize - 1).copied().unwrap_or_default();
            let ok = r.successes();
            let err = r.finished_count() - ok;
            let p99 = if r.latency.is_empty() {
                0.0
            } else {
                crate::recorder::value_at_percentile(&r.latency, 99.0) as f64 / 1000.0
            };
            (row, ok, err, p99)
        };
        let behind = row.max_lag_us > lag_warn_us;
        if behind {
            let mut w = ctx.warned.lock().unwrap_or_else(|p| p.into_inner());
            w.behind_seconds += 1;
            w.max_lag_us = w.max_lag_us.max(row.max_lag_us);
            drop(w);
            behind_since_warning += 1;
            max_lag_since_warning = max_lag_since_warning.max(row.max_lag_us);
        }
        if s.progress {
            let target = if ctx.open_loop {
                format!(" (target {}/s)", row.target)
            } else {
                String::new()
            };
            eprintln!(
                "[{sec:>4}s] sent {}/s{target}  ok {ok}  failed {err}  in flight {}  waiting {queued}  \
                 connections {open}  p99 so far {p99:.1}ms{}",
                row.sent,
                row.in_flight,
                if behind { "  BEHIND SCHEDULE" } else { "" }
            );
        }
        let due = last_warning.is_none_or(|w| sec - w >= WARN_EVERY_S);
        if s.warnings && behind_since_warning > 0 && due {
            let cause = if queued > 0 {
                format!(
                    "{queued} request(s) waiting for a connection, all {open} busy: the target \
                     is slower than the offered rate"
                )
            } else {
                "the generator itself cannot keep up".to_string()
            };
            eprintln!(
                "warning: behind schedule in {behind_since_warning} second(s) up to t = {sec}s: \
                 send lag up to {:.1}ms; sent {}/s of {}/s intended in the last second; {cause}",
                max_lag_since_warning as f64 / 1000.0,
                row.sent,
                row.target,
            );
            last_warning = Some(sec);
            behind_since_warning = 0;
            max_lag_since_warning = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The open loop's queue holds 24-byte jobs, not tasks: its memory is bounded by
    /// `max_pending`, whatever the overload.
    #[test]
    fn a_waiting_request_is_small() {
        assert!(std::mem::size_of::<Job>() <= 24);
    }
}
