//! Instances: one tokio task per instance, which starts it, reports it ready, and stops it when
//! the platform says so.
//!
//! - **Synthetic**: an in-process hyper server on `127.0.0.1:0`. It becomes ready after the
//!   cold start the platform sampled from the scenario, and answers each request after the
//!   service time the platform sampled for it at arrival (passed in the
//!   `x-scalelab-service-ns` header, scenario nanoseconds), with the hello-function contract
//!   ([`crate::hello`]) or an empty `200`.
//! - **Command**: a child process per instance (`sh -c CMD` in its own process group, `PORT`
//!   set, standard output sent to standard error). It is ready when its port accepts a TCP
//!   connection; it is stopped with SIGTERM to its process group, then SIGKILL after the grace
//!   period. A process that exits on its own is reported lost: requests on it fail with 502 and
//!   the platform replaces it (with a crash-loop back-off).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::clock::Clock;
use scalelab_core::ids::InstId;
use scalelab_core::platform::InstancePlan;

use crate::platform::Shared;
use crate::{InstanceKind, hello};

/// The header carrying a request's sampled service time (scenario nanoseconds) to a
/// synthetic instance.
pub const SERVICE_NS_HEADER: &str = "x-scalelab-service-ns";

/// How often a starting command instance's port is probed (wall time).
const PROBE_EVERY: Duration = Duration::from_millis(20);

/// What the platform decided for a new instance.
pub(crate) struct Plan {
    pub id: InstId,
    /// When the platform created it, scenario time.
    pub created: scalelab_core::Time,
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
    tokio::spawn(async move {
        match &sh.instances {
            InstanceKind::Synthetic {
                hello,
                allowed_origin,
            } => {
                let cfg = Arc::new(SynthConfig {
                    clock: sh.clock,
                    hello: *hello,
                    allowed_origin: allowed_origin.clone(),
                });
                synthetic(&sh, plan, stop, cfg).await;
            }
            InstanceKind::Command {
                cmd,
                termination_grace,
            } => {
                let (cmd, grace) = (cmd.clone(), *termination_grace);
                command(&sh, plan, stop, &cmd, grace).await;
            }
        }
    });
}

struct SynthConfig {
    clock: Clock,
    hello: bool,
    allowed_origin: String,
}

async fn synthetic(
    sh: &Arc<Shared>,
    plan: Plan,
    mut stop: oneshot::Receiver<()>,
    cfg: Arc<SynthConfig>,
) {
    let listener = match TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(l) => l,
        Err(_) => {
            sh.instance_lost(plan.id);
            return;
        }
    };
    let Ok(addr) = listener.local_addr() else {
        sh.instance_lost(plan.id);
        return;
    };
    sh.set_addr(plan.id, addr);
    let (down_tx, down_rx) = watch::channel(false);
    let server = tokio::spawn(serve_synthetic(listener, cfg, down_rx));
    // The sampled cold start runs from the instance's creation: the time spent binding its
    // port and spawning its server is part of it, not added to it.
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
    let _ = down_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    sh.instance_stopped(plan.id);
}

/// Serves a synthetic instance until `down` turns true; open connections finish their request.
async fn serve_synthetic(
    listener: TcpListener,
    cfg: Arc<SynthConfig>,
    mut down: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = down.changed() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let cfg = cfg.clone();
        let mut down = down.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| answer(req, cfg.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = down.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    cfg: Arc<SynthConfig>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let service_ns = req
        .headers()
        .get(SERVICE_NS_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if service_ns > 0 {
        cfg.clock.sleep(Duration::from_nanos(service_ns)).await;
    }
    if cfg.hello {
        Ok(hello::respond(
            &cfg.allowed_origin,
            &parts.method,
            parts.uri.query(),
            &body,
        ))
    } else {
        Ok(Response::new(Full::new(Bytes::new())))
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Sends `signal` to the process group led by `pid` (through the shell's `kill`, so no unsafe
/// code is needed).
async fn signal_group(pid: u32, signal: &str) {
    let _ = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- -{pid} 2>/dev/null"))
        .stdin(std::process::Stdio::null())
        .status()
        .await;
}

async fn command(
    sh: &Arc<Shared>,
    plan: Plan,
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
    let spawned = free_port().and_then(|port| {
        let stdout = {
            use std::os::fd::AsFd;
            std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map(std::process::Stdio::from)
        }
        .unwrap_or_else(|_| std::process::Stdio::null());
        tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("PORT", port.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map(|child| (child, SocketAddr::from(([127, 0, 0, 1], port))))
    });
    let Ok((mut child, addr)) = spawned else {
        sh.instance_lost(plan.id);
        return;
    };
    let pid = child.id();
    sh.set_addr(plan.id, addr);
    // Starting: probe the port until it answers, the process dies, the deadline passes or the
    // platform cancels the start.
    let deadline = sh.clock.wall_now() + sh.clock.to_wall(plan.progress_deadline);
    let started = loop {
        tokio::select! {
            _ = child.wait() => break Err(()),
            _ = &mut stop => break Ok(false),
            _ = tokio::time::sleep(PROBE_EVERY) => {
                if TcpStream::connect(addr).await.is_ok() {
                    break Ok(true);
                }
                if sh.clock.wall_now() >= deadline {
                    if let Some(pid) = pid {
                        signal_group(pid, "KILL").await;
                    }
                    let _ = child.kill().await;
                    break Err(());
                }
            }
        }
    };
    match started {
        Err(()) => {
            sh.instance_lost(plan.id);
            return;
        }
        Ok(true) => {
            sh.instance_ready(plan.id);
            tokio::select! {
                _ = child.wait() => {
                    if let Some(pid) = pid {
                        // Its own children go with it.
                        signal_group(pid, "KILL").await;
                    }
                    sh.instance_lost(plan.id);
                    return;
                }
                _ = &mut stop => {}
            }
        }
        Ok(false) => {}
    }
    // Stopping: SIGTERM, the grace period, then SIGKILL.
    if let Some(pid) = pid {
        signal_group(pid, "TERM").await;
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        if let Some(pid) = pid {
            signal_group(pid, "KILL").await;
        }
        let _ = child.kill().await;
    }
    sh.instance_stopped(plan.id);
}
