//! Instances: one tokio task per instance, which starts it, reports it ready, and stops it when
//! the platform says so.
//!
//! - **Synthetic**: in-process, nothing listens anywhere. The instance becomes ready after the
//!   cold start the platform sampled from the scenario; the router serves each request it runs
//!   itself (`front.rs`): it holds the instance slot for the service time the platform sampled
//!   for the request, then answers with the hello-function contract ([`crate::hello`]) or an
//!   empty `200`. Only the router can reach a synthetic instance.
//! - **Command**: a child process per instance, `sh -c CMD` with `PORT` set, in a process group
//!   of its own; its standard output and error are copied to scalelab's standard error, one
//!   `[instance N] ` prefixed line at a time, and the last lines of its standard error are kept.
//!   It is ready when its startup probe passes: a TCP connection to `$PORT` (Cloud Run's
//!   default), or `GET --ready-path` answered 2xx/3xx. It is stopped with SIGTERM to its process
//!   group, then, if anything of the group is left after the termination grace, SIGKILL to the
//!   group (a server started under a shell, a shim or npm that ignores SIGTERM does not survive
//!   it). A process that exits on its own is reported at once (a line on stderr, an
//!   `instance_exited` event with its exit status and last stderr lines, the crash counter),
//!   what is left of its group is killed, and the platform fails its requests and replaces it
//!   with a crash-loop back-off; a revision whose instances keep failing to start gives up and
//!   the run fails ([`scalelab_core::platform::Config::max_start_failures`]).
//!
//! Process groups still alive are killed when the task is dropped (the runtime shutting down)
//! and once more at the end of [`crate::Handle::shutdown`]. A server that moves itself into
//! another process group or session (a daemon) escapes this, as it would escape Cloud Run's.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{Pid, Signal};
use scalelab_core::Time;
use scalelab_core::event::Event;
use scalelab_core::ids::InstId;
use scalelab_core::platform::InstancePlan;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::InstanceKind;
use crate::platform::{ExitInfo, Shared, lock};
use crate::upstream::Upstream;

/// A header synthetic instances used to read their service time from; the router still drops
/// it from requests it forwards (a client must not set an instance's work).
pub const SERVICE_NS_HEADER: &str = "x-scalelab-service-ns";

/// How often a starting command instance is probed (wall time).
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// How long one probe may take (wall time).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A starting command instance not ready after this long (wall time) gets a warning.
const NOT_READY_WARNING: Duration = Duration::from_secs(10);
/// Lines of an instance's standard error kept for its exit report.
const TAIL_LINES: usize = 10;
/// Longest line copied from an instance's output (longer ones are split).
const MAX_LINE: usize = 4096;

/// What the platform decided for a new instance.
pub(crate) struct Plan {
    pub id: InstId,
    /// When the platform created it, scenario time.
    pub created: Time,
    /// Sampled cold start (synthetic), scenario time: from `created` to ready.
    pub cold: Duration,
    /// Wait before starting (crash-loop back-off), scenario time.
    pub backoff: Duration,
    /// Time from the stop decision until a synthetic instance is gone, scenario time.
    pub shutdown: Duration,
    /// A command instance not ready after this (scenario time) is killed and replaced.
    pub progress_deadline: Duration,
}

/// Starts the task of instance `id`, which the platform planned as `p` with start-up `cold`.
pub(crate) fn spawn(
    sh: Arc<Shared>,
    id: InstId,
    p: InstancePlan,
    cold: Duration,
    stop: oneshot::Receiver<()>,
) {
    let plan = Plan {
        id,
        created: p.created,
        cold,
        backoff: p.backoff,
        shutdown: p.shutdown,
        progress_deadline: p.progress_deadline,
    };
    let rev = p.rev.index();
    tokio::spawn(async move {
        match &sh.instances {
            InstanceKind::Synthetic { .. } => synthetic(&sh, plan, stop).await,
            InstanceKind::Command {
                cmd,
                termination_grace,
            } => {
                let (cmd, grace) = (cmd.clone(), *termination_grace);
                command(&sh, plan, rev, stop, &cmd, grace).await;
            }
        }
    });
}

async fn synthetic(sh: &Arc<Shared>, plan: Plan, mut stop: oneshot::Receiver<()>) {
    // The sampled cold start runs from the instance's creation.
    let cancelled = tokio::select! {
        _ = sh.clock.sleep_until(plan.created + plan.cold) => false,
        _ = &mut stop => true,
    };
    if !cancelled {
        sh.instance_ready(plan.id);
        // Stop when told to (or when the platform is gone).
        let _ = stop.await;
    }
    sh.clock.sleep(plan.shutdown).await;
    sh.instance_stopped(plan.id);
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Sends `sig` to process group `pgid`; false when no process of it is left.
fn signal_group(pgid: i32, sig: Signal) -> bool {
    Pid::from_raw(pgid).is_some_and(|p| rustix::process::kill_process_group(p, sig).is_ok())
}

/// True while a process of group `pgid` exists.
fn group_alive(pgid: i32) -> bool {
    Pid::from_raw(pgid).is_some_and(|p| rustix::process::test_kill_process_group(p).is_ok())
}

/// True while a process of group `pgid` is alive and not a zombie (a zombie is dead already,
/// waiting for its parent, which for an orphan is init). Reads `/proc`: the slow path.
fn group_has_live_member(pgid: i32) -> bool {
    if !group_alive(pgid) {
        return false;
    }
    let Some(stats) = crate::cpu::proc_stats() else {
        return true;
    };
    for stat in stats {
        let Some(mut f) = crate::cpu::stat_fields(&stat) else {
            continue;
        };
        let state = f.next().unwrap_or("");
        let pgrp = f.nth(1).and_then(|x| x.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != "Z" && state != "X" {
            return true;
        }
    }
    false
}

/// Waits (up to `limit`, wall time) until no live process of group `pgid` is left.
async fn wait_group_gone(pgid: i32, limit: Duration) {
    let mut waited = Duration::ZERO;
    while group_has_live_member(pgid) && waited < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
}

/// Kills the group of a command instance when dropped, unless it is known to be gone.
struct Group {
    pgid: i32,
    sh: Arc<Shared>,
}

impl Drop for Group {
    fn drop(&mut self) {
        if group_alive(self.pgid) {
            signal_group(self.pgid, Signal::KILL);
        }
        lock(&self.sh.groups).remove(&self.pgid);
        lock(&self.sh.cpu_groups).remove(&self.pgid);
    }
}

/// Kills every process group of command instances still alive (the end of a run), and waits
/// (up to 2 s) until none of their processes lives: a SIGKILL takes effect asynchronously.
pub(crate) async fn kill_groups(sh: &Shared) {
    let groups: Vec<i32> = lock(&sh.groups).iter().copied().collect();
    for &g in &groups {
        signal_group(g, Signal::KILL);
    }
    for g in groups {
        wait_group_gone(g, Duration::from_secs(2)).await;
    }
}

/// Copies an instance's output to our standard error, `[instance N] ` before each line; the
/// last lines go into `tail` when given.
async fn copy_lines(
    mut from: impl AsyncRead + Unpin,
    n: u64,
    tail: Option<Arc<Mutex<VecDeque<String>>>>,
) {
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let emit = |line: &mut Vec<u8>| {
        let text = String::from_utf8_lossy(line)
            .trim_end_matches('\r')
            .to_string();
        line.clear();
        let mut err = std::io::stderr().lock();
        let _ = std::io::Write::write_fmt(&mut err, format_args!("[instance {n}] {text}\n"));
        if let Some(t) = &tail {
            let mut t = lock(t);
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(text);
        }
    };
    loop {
        let got = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        for &b in &buf[..got] {
            if b == b'\n' {
                emit(&mut line);
            } else {
                line.push(b);
                if line.len() >= MAX_LINE {
                    emit(&mut line);
                }
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line);
    }
}

/// The startup probe: a TCP connection, or `GET path` answered 2xx/3xx.
async fn probe(addr: SocketAddr, path: Option<&str>) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let Some(path) = path else {
            return Some(true);
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nhost: {addr}\r\nuser-agent: scalelab-probe\r\nconnection: \
             close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::with_capacity(64);
        let mut chunk = [0u8; 64];
        while buf.len() < 12 {
            let k = s.read(&mut chunk).await.ok()?;
            if k == 0 {
                return Some(false);
            }
            buf.extend_from_slice(&chunk[..k]);
        }
        let code: u16 = std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()?;
        Some(buf.starts_with(b"HTTP/1.") && (200..400).contains(&code))
    };
    tokio::time::timeout(PROBE_TIMEOUT, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => "exited".into(),
        },
        Err(e) => format!("could not be waited for ({e})"),
    }
}

/// How a command instance's start ended.
enum Started {
    Ready,
    Cancelled,
    /// It exited, or was given up on: why.
    Failed(String),
}

async fn command(
    sh: &Arc<Shared>,
    plan: Plan,
    rev: usize,
    mut stop: oneshot::Receiver<()>,
    cmd: &str,
    grace: Duration,
) {
    if !plan.backoff.is_zero() {
        tokio::select! {
            _ = sh.clock.sleep(plan.backoff) => {}
            _ = &mut stop => {
                sh.instance_stopped(plan.id);
                return;
            }
        }
    }
    let n = plan.id.number();
    let began = sh.clock.wall_now();
    let spawned = free_port().and_then(|port| {
        tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("PORT", port.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map(|child| (child, SocketAddr::from(([127, 0, 0, 1], port))))
    });
    let (mut child, addr) = match spawned {
        Ok(x) => x,
        Err(e) => {
            let info = ExitInfo {
                instance: n,
                status: format!("could not be started ({e})"),
                starting: true,
                lifetime_s: 0.0,
                stderr_tail: VecDeque::new(),
            };
            report_exit(sh, rev, info);
            sh.instance_lost(plan.id);
            return;
        }
    };
    let Some(pgid) = child.id().and_then(|p| i32::try_from(p).ok()) else {
        sh.instance_lost(plan.id);
        return;
    };
    lock(&sh.groups).insert(pgid);
    lock(&sh.cpu_groups).insert(pgid, plan.id);
    let _group = Group {
        pgid,
        sh: sh.clone(),
    };
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let out = child
        .stdout
        .take()
        .map(|o| tokio::spawn(copy_lines(o, n, None)));
    let err = child
        .stderr
        .take()
        .map(|e| tokio::spawn(copy_lines(e, n, Some(tail.clone()))));
    let up = Upstream::new(addr);
    sh.set_upstream(plan.id, up);
    // Starting: probe until it passes, the process dies, the deadline passes or the platform
    // cancels the start.
    let deadline = began + sh.clock.to_wall(plan.progress_deadline);
    let ready_path = sh.ready_path.clone();
    // A newcomer's most common mistake (a server on another port) shows as a start that never
    // ends: say so once, long before the progress deadline.
    let mut warn_at = Some(began + NOT_READY_WARNING);
    let started = loop {
        tokio::select! {
            st = child.wait() => break Started::Failed(describe(st)),
            _ = &mut stop => break Started::Cancelled,
            _ = tokio::time::sleep(PROBE_EVERY) => {
                if probe(addr, ready_path.as_deref()).await {
                    break Started::Ready;
                }
                if warn_at.is_some_and(|t| sh.clock.wall_now() >= t) {
                    warn_at = None;
                    eprintln!(
                        "scalelab: instance {n} of revision \"{}\" is not ready after {} s \
                         (nothing {} on 127.0.0.1:{}, its $PORT). {}",
                        sh.revs[rev].name,
                        NOT_READY_WARNING.as_secs(),
                        if ready_path.is_some() { "answers the readiness path" } else { "listens" },
                        addr.port(),
                        crate::platform::port_hint(cmd, ready_path.as_deref())
                    );
                }
                if sh.clock.wall_now() >= deadline {
                    let what = match &ready_path {
                        Some(p) => format!("GET {p} on $PORT"),
                        None => "a connection to $PORT".into(),
                    };
                    break Started::Failed(format!(
                        "was not ready after {} (its startup probe, {what}, never passed)",
                        scalelab_core::duration::format_duration(plan.progress_deadline)
                    ));
                }
            }
        }
    };
    let exited = match started {
        Started::Failed(why) => Some((why, true)),
        Started::Cancelled => None,
        Started::Ready => {
            sh.instance_ready(plan.id);
            tokio::select! {
                st = child.wait() => Some((describe(st), false)),
                _ = &mut stop => None,
            }
        }
    };
    if let Some((status, starting)) = exited {
        // What is left of its group goes with it; its last output is read before the report.
        signal_group(pgid, Signal::KILL);
        let _ = child.start_kill();
        let _ = child.wait().await;
        wait_group_gone(pgid, Duration::from_secs(2)).await;
        if let Some(e) = err {
            let _ = tokio::time::timeout(Duration::from_millis(300), e).await;
        }
        if let Some(o) = out {
            o.abort();
        }
        let info = ExitInfo {
            instance: n,
            status,
            starting,
            lifetime_s: sh.clock.wall_now().duration_since(began).as_secs_f64(),
            stderr_tail: lock(&tail).clone(),
        };
        report_exit(sh, rev, info);
        sh.instance_lost(plan.id);
        return;
    }
    // Stopping: SIGTERM to the group, the grace period for all of it, then SIGKILL.
    signal_group(pgid, Signal::TERM);
    let until = sh.clock.wall_now() + grace;
    let mut polls = 0u32;
    loop {
        // Reap the shell as soon as it exits, so that only live processes keep the group.
        let reaped = matches!(child.try_wait(), Ok(Some(_)));
        if reaped && !group_alive(pgid) {
            break;
        }
        // Orphans that died are zombies until init reaps them: look closer now and then.
        polls += 1;
        if reaped && polls.is_multiple_of(10) && !group_has_live_member(pgid) {
            break;
        }
        if sh.clock.wall_now() >= until {
            signal_group(pgid, Signal::KILL);
            let _ = child.start_kill();
            wait_group_gone(pgid, Duration::from_secs(2)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = child.wait().await;
    for t in [out, err].into_iter().flatten() {
        t.abort();
    }
    sh.instance_stopped(plan.id);
}

/// An instance's process ended on its own: one line on stderr, an event, and the exit kept
/// for the run's failure message.
fn report_exit(sh: &Arc<Shared>, rev: usize, info: ExitInfo) {
    let name = &sh.revs[rev].name;
    let mut line = format!(
        "scalelab: instance {} of revision \"{name}\" {} after {:.1} s{}",
        info.instance,
        info.status,
        info.lifetime_s,
        if info.starting {
            ", before it was ready"
        } else {
            ""
        }
    );
    if let Some(last) = info.stderr_tail.back() {
        line += &format!(" (its last line of stderr: {last})");
    }
    eprintln!("{line}");
    sh.log(
        sh.clock.now(),
        Event::InstanceExited {
            revision: name.clone(),
            instance: info.instance,
            status: info.status.clone(),
            starting: info.starting,
            lifetime_s: info.lifetime_s,
            stderr_tail: info.stderr_tail.iter().cloned().collect(),
        },
    );
    if let Some(slot) = lock(&sh.exits).get_mut(rev) {
        *slot = Some(info);
    }
}
