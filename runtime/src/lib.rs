//! scalelab's live runtime: a real router/activator on tokio + hyper in front of real
//! instances, scaled by the same `scalelab-core` policies as the simulator.
//!
//! ```text
//!  client ─▶ router (auth, /_scalelab/metrics, tag or traffic split, client timeouts, limits)
//!              │  core::router::RevisionRouter: start, queue in the activator / queue-proxy, 503
//!              ▼
//!           instance (synthetic: in-process, only the router reaches it; or a child process
//!              │       listening on $PORT, reached through a keep-alive pool, bodies streamed)
//!              ▲ ready after a sampled cold start / when its startup probe passes
//!  driver: 1 s scrape ─▶ core Decider (2 s tick, pokes) ─▶ core KpaScaler ─▶ start / stop
//! ```
//!
//! The platform (`platform.rs`) makes exactly the simulator's calls (`sim/src/platform.rs`)
//! with scenario time from one clock (`clock.rs`), so a live run and a simulated run of the
//! same scenario can be compared. A run is started with [`start`] and ended with
//! [`Handle::shutdown`], which stops accepting, drains the requests in flight, stops the
//! instances and returns the result document (mode `live`).
//!
//! ```no_run
//! # async fn demo(scenario: scalelab_core::scenario::Scenario) -> Result<(), scalelab_runtime::Error> {
//! let handle = scalelab_runtime::start(&scenario, scalelab_runtime::Options::default()).await?;
//! println!("listening on {} (token {:?})", handle.url(), handle.token());
//! // ... send requests ...
//! let result = handle.shutdown().await;
//! println!("{} requests", result.variants[0].requests.arrived);
//! # Ok(()) }
//! ```
//!
//! Reserved paths: `/_scalelab/metrics` (Prometheus text) always, and `/metrics` as well unless
//! [`Options::root_metrics`] is false (then `/metrics` goes to the service). Both need the
//! bearer token when authentication is on.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allow;
mod body;
mod clock;
mod cpu;
mod driver;
mod front;
mod h1;
mod head;
mod hello;
mod instance;
mod platform;
mod prom;
mod server;
mod sink;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::platform::{Config, Platform};
use scalelab_core::result::{LiveStats, Mode, RunResult, check_slo};
use scalelab_core::scenario::{BASELINE, Scenario};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use allow::Cidr;
pub use clock::Clock;
pub use front::{
    COLD_HEADER, INSTANCE_HEADER, METRICS_PATH, REASON_HEADER, REVISION_HEADER, SERVICE_PREFIX,
};
pub use hello::{message_and_name, respond as hello_respond};
pub use instance::SERVICE_NS_HEADER;
pub use server::Limits;

use crate::platform::Shared;

/// What the instances are.
#[derive(Clone, Debug, PartialEq)]
pub enum InstanceKind {
    /// In-process HTTP servers with the scenario's sampled cold start and service times.
    Synthetic {
        /// Serve the hello-function contract (else an empty `200`).
        hello: bool,
        /// `Access-Control-Allow-Origin` of the hello function (`*` by default).
        allowed_origin: String,
    },
    /// A child process per instance, `sh -c CMD` with `PORT` set (the Cloud Run contract).
    Command {
        /// The shell command.
        cmd: String,
        /// Time between SIGTERM and SIGKILL when the instance is stopped (wall time).
        termination_grace: Duration,
    },
}

impl Default for InstanceKind {
    fn default() -> Self {
        InstanceKind::Synthetic {
            hello: true,
            allowed_origin: "*".into(),
        }
    }
}

/// Who may call the service.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Auth {
    /// Requests need `Authorization: Bearer <token>` with a token generated at start (see
    /// [`Handle::token`]). Cloud Run's default.
    #[default]
    Generate,
    /// Requests need `Authorization: Bearer <this token>`.
    Token(String),
    /// Anyone who can reach the address (`--allow-unauthenticated`).
    AllowUnauthenticated,
}

/// Options of [`start`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The master seed (cold starts, service times, routing and traffic split draw from its
    /// named streams, as in the simulator).
    pub seed: u64,
    /// The variant to serve (`None`: the baseline).
    pub variant: Option<String>,
    /// Where the router listens (default `127.0.0.1:0`, an OS-assigned port on loopback).
    pub listen: SocketAddr,
    /// Synthetic or command instances.
    pub instances: InstanceKind,
    /// Access control.
    pub auth: Auth,
    /// Wall seconds per scenario second (1 = real time; 0.1 runs ten times faster).
    pub time_scale: f64,
    /// Write the event log (JSON lines) to this file.
    pub events: Option<PathBuf>,
    /// Write one JSON line per request to this file.
    pub request_log: Option<PathBuf>,
    /// Serve metrics at `/metrics` as well as `/_scalelab/metrics`.
    pub root_metrics: bool,
    /// How long shutdown waits for requests in flight (scenario time; default: the longest
    /// request timeout of the scenario).
    pub drain_timeout: Option<Duration>,
    /// Sources that may call (`serve --allow-from`): others get 403 `source-not-allowed` and
    /// are counted (`live.forbidden_sources`). Empty: every source.
    pub allow_from: Vec<Cidr>,
    /// Client-side limits: body sizes, connections, header and idle timeouts.
    pub limits: Limits,
    /// Probe command instances with `GET PATH` (2xx or 3xx passes) instead of a TCP connection.
    pub ready_path: Option<String>,
    /// A revision whose instances fail to start this many times in a row gives up and the run
    /// fails ([`Handle::failure`]).
    pub max_start_failures: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 0,
            variant: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            instances: InstanceKind::default(),
            auth: Auth::default(),
            time_scale: 1.0,
            events: None,
            request_log: None,
            root_metrics: true,
            drain_timeout: None,
            allow_from: Vec::new(),
            limits: Limits::default(),
            ready_path: None,
            max_start_failures: 5,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An output file could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `variant` names no variant of the scenario.
    #[error("no variant named \"{0}\" (the scenario has: {1})")]
    NoSuchVariant(String, String),
    /// An option is out of range.
    #[error("{0}")]
    InvalidOption(String),
    /// A log file (events, requests) could not be written to the end; the run's measurements
    /// are unaffected (reported in the result, not fatal).
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A log file's writer thread panicked (a bug; reported in the result, not fatal).
    #[error("{}: the writer thread panicked", path.display())]
    WriterPanicked {
        /// The file.
        path: PathBuf,
    },
}

/// A snapshot of the platform, for a status line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Status {
    /// Scenario time.
    pub t: Time,
    /// Ready instances.
    pub ready: u64,
    /// Starting instances.
    pub starting: u64,
    /// The instances the autoscalers ask for (the deciders' figures within `min_scale` and
    /// `max_scale`, as the reconciler applies them).
    pub desired: u64,
    /// Requests arrived and not answered (queued included).
    pub in_flight: u64,
    /// Requests waiting for an instance slot.
    pub queued: u64,
    /// Any revision in panic mode.
    pub panic: bool,
    /// Requests arrived so far.
    pub arrived: u64,
    /// Requests answered by an instance so far.
    pub completed: u64,
    /// Requests rejected, failed or timed out so far.
    pub errors: u64,
}

/// One service of a running platform (a fleet has one per `[[services]]` entry).
struct Running {
    sh: Arc<Shared>,
    /// The service as a single-service scenario (the run's scenario for a single service).
    scenario: Scenario,
    /// Its `[[services]]` labels.
    labels: std::collections::BTreeMap<String, String>,
}

/// A running live platform.
pub struct Handle {
    addr: SocketAddr,
    token: Option<String>,
    /// Its services, in the scenario's order (one for a single-service scenario).
    services: Vec<Running>,
    fleet: bool,
    front: Arc<front::Front>,
    stop_accept: watch::Sender<bool>,
    stop_driver: watch::Sender<bool>,
    server: JoinHandle<()>,
    drivers: Vec<JoinHandle<()>>,
    drain: Duration,
    grace: Duration,
    scenario: Scenario,
    seed: u64,
}

/// A bearer token nobody can guess: 128 bits from the process's random hasher keys (no clock,
/// no global RNG, and not derived from the run's seed).
fn generate_token() -> String {
    use std::hash::BuildHasher;
    let a = std::collections::hash_map::RandomState::new().hash_one(0x746f_6b65_6e5f_6131_u64);
    let b = std::collections::hash_map::RandomState::new().hash_one(a);
    format!("{a:016x}{b:016x}")
}

/// Starts the platform for `scenario` (its baseline, or `opts.variant`): binds the router,
/// starts the initial instances and the autoscaler. Must be called within a tokio runtime
/// with time and I/O enabled.
///
/// A fleet (`[[services]]`) runs every service behind the one listener, each with its own
/// platform (revisions, activator, instances, autoscaler) and random streams from
/// [`scalelab_core::scenario::service_seed`]`(seed, name)`, as the simulator runs it. A request
/// names its service by its `Host` header's first DNS label (`NAME`, `NAME:PORT` or
/// `NAME.anything`, as Knative's `NAME.NAMESPACE.DOMAIN`) or the path prefix
/// `/_scalelab/service/NAME/` (removed before the request goes on); anything else gets 404
/// `unknown-service`. A fleet with `[cluster]` is refused (nodes are simulated only).
pub async fn start(scenario: &Scenario, opts: Options) -> Result<Handle, Error> {
    if !(opts.time_scale.is_finite() && opts.time_scale > 0.0) {
        return Err(Error::InvalidOption(format!(
            "time scale must be a number > 0, got {}",
            opts.time_scale
        )));
    }
    let variant = opts.variant.clone().unwrap_or_else(|| BASELINE.to_string());
    let s = match scenario.run(&variant) {
        Some(s) => s.clone(),
        None => {
            let names: Vec<&str> = scenario.runs().iter().map(|(n, _)| *n).collect();
            return Err(Error::NoSuchVariant(variant, names.join(", ")));
        }
    };
    if let InstanceKind::Command { cmd, .. } = &opts.instances
        && cmd.trim().is_empty()
    {
        return Err(Error::InvalidOption("the instance command is empty".into()));
    }
    if let Some(p) = &opts.ready_path
        && (!p.starts_with('/') || p.bytes().any(|b| b <= b' ' || b == 0x7f))
    {
        return Err(Error::InvalidOption(format!(
            "the readiness path must start with / and have no spaces or control characters, \
             got {p:?}"
        )));
    }
    let l = &opts.limits;
    if l.max_connections == 0
        || l.max_request_body == 0
        || l.max_inflight_body == 0
        || l.header_timeout.is_zero()
        || l.idle_timeout.is_zero()
    {
        return Err(Error::InvalidOption(
            "limits must be greater than zero (connections, body sizes, timeouts)".into(),
        ));
    }
    let create = |p: &PathBuf| {
        sink::Sink::create(p).map_err(|source| Error::Create {
            path: p.clone(),
            source,
        })
    };
    if s.is_fleet() && s.cluster.is_some() {
        return Err(Error::InvalidOption(
            "a fleet with [cluster] cannot run live: nodes are simulated only (run it with \
             `scalelab sim`, or remove [cluster] to run the fleet on unbounded capacity)"
                .into(),
        ));
    }
    let events = opts.events.as_ref().map(create).transpose()?.map(Arc::new);
    let request_log = opts
        .request_log
        .as_ref()
        .map(create)
        .transpose()?
        .map(Arc::new);
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: opts.listen,
        source,
    })?;
    let token = match &opts.auth {
        Auth::Generate => Some(generate_token()),
        Auth::Token(t) => Some(t.clone()),
        Auth::AllowUnauthenticated => None,
    };
    if token
        .as_deref()
        .is_some_and(|t| t.is_empty() || t.chars().any(|c| c.is_whitespace()))
    {
        return Err(Error::InvalidOption(
            "the token must be non-empty and without spaces".into(),
        ));
    }
    let grace = match &opts.instances {
        InstanceKind::Command {
            termination_grace, ..
        } => *termination_grace,
        InstanceKind::Synthetic { .. } => Duration::ZERO,
    };
    let clock = Clock::start(opts.time_scale);
    let fleet = s.is_fleet();
    // A fleet fails as a whole when any service's revision gives up (the message names it).
    let failure = Arc::new(watch::Sender::new(None));
    let mut services = Vec::new();
    for m in s.members(opts.seed) {
        let mut sh = Shared::new(
            &m.scenario,
            m.seed,
            variant.clone(),
            clock,
            opts.instances.clone(),
            events.clone(),
            request_log.clone(),
            opts.ready_path.clone(),
            opts.max_start_failures,
        );
        if fleet {
            sh.service = Some(m.name.to_string());
            sh.failure = failure.clone();
        }
        services.push(Running {
            sh: Arc::new(sh),
            scenario: m.scenario.into_owned(),
            labels: m.labels.into_owned(),
        });
    }
    let svcs = services
        .iter()
        .map(|r| front::Svc::new(r.scenario.name.clone(), r.sh.clone()))
        .collect();
    let mut front = front::Front::new(
        svcs,
        fleet,
        &opts.instances,
        token.clone(),
        opts.root_metrics,
        opts.limits.clone(),
    );
    front.allow_from = opts.allow_from.clone();
    let front = Arc::new(front);
    for r in &services {
        r.sh.boot();
    }
    let (stop_accept, accept_rx) = watch::channel(false);
    let (stop_driver, driver_rx) = watch::channel(false);
    let drivers = services
        .iter()
        .map(|r| tokio::spawn(driver::run(r.sh.clone(), driver_rx.clone())))
        .collect();
    let server = tokio::spawn(server::accept_loop(listener, front.clone(), accept_rx));
    let max_timeout = s.max_timeout();
    Ok(Handle {
        addr,
        token,
        services,
        fleet,
        front,
        stop_accept,
        stop_driver,
        server,
        drivers,
        drain: opts.drain_timeout.unwrap_or(max_timeout),
        grace,
        scenario: s,
        seed: opts.seed,
    })
}

impl Handle {
    /// The router's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token requests need (`None` when unauthenticated access is allowed).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The scenario clock of this run.
    pub fn clock(&self) -> Clock {
        self.services[0].sh.clock
    }

    /// The names of a fleet's services, in the scenario's order: a request names its service
    /// by `Host: NAME` (or `NAME.anything`) or the path prefix `/_scalelab/service/NAME/`.
    /// Empty for a single-service scenario (every request goes to it).
    pub fn services(&self) -> Vec<&str> {
        if !self.fleet {
            return Vec::new();
        }
        self.services
            .iter()
            .map(|r| r.scenario.name.as_str())
            .collect()
    }

    /// The current state, for a status line (a fleet's summed over its services).
    pub fn status(&self) -> Status {
        let mut st = Status {
            t: self.clock().now(),
            ..Status::default()
        };
        for r in &self.services {
            let live = r.sh.lock();
            let l = live.core.levels();
            let t = live.core.tally();
            // What the reconcilers ask for: the deciders' figures within each revision's bounds.
            let desired: u64 = (0..live.core.revisions())
                .map(|r| {
                    live.core
                        .revision(scalelab_core::ids::RevId(r as u16))
                        .target
                })
                .sum();
            st.ready += l.ready;
            st.starting += l.starting;
            st.desired += desired;
            st.in_flight += l.in_flight;
            st.queued += l.queued;
            st.panic |= l.panic;
            st.arrived += t.arrived;
            st.completed += t.completed;
            st.errors += t.rejected + t.timed_out;
        }
        st
    }

    /// Why the run failed, once it has: a revision whose instances keep failing to start gave
    /// up (its requests get 503 at once). The run should be ended and reported as failed.
    pub fn failure(&self) -> Option<String> {
        self.services[0].sh.failed()
    }

    /// Resolves when the run fails (see [`Handle::failure`]); never otherwise.
    pub async fn failed(&self) -> String {
        // The services of a fleet share one failure.
        let mut rx = self.services[0].sh.failure.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(f) => f.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }

    /// The Prometheus exposition `/metrics` serves (a fleet's: each service's, under a
    /// `# service: NAME` comment; over HTTP the request's service's alone).
    pub fn metrics(&self) -> String {
        if !self.fleet {
            return prom::render(&self.services[0].sh);
        }
        let mut out = String::new();
        for r in &self.services {
            out += &format!("# service: {}\n", r.scenario.name);
            out += &prom::render(&r.sh);
        }
        out
    }

    /// Ends the run: stops accepting connections and answers new requests on open ones with
    /// 503, waits (up to the drain timeout) for the requests in flight, stops every instance
    /// (SIGTERM, grace period, SIGKILL for commands), and returns the result document.
    pub async fn shutdown(self) -> RunResult {
        let clock = self.clock();
        let shs: Vec<Arc<Shared>> = self.services.iter().map(|r| r.sh.clone()).collect();
        self.front.draining.store(true, Ordering::Relaxed);
        let _ = self.stop_accept.send(true);
        // Drain: the autoscaler keeps running, so queued requests still get instances.
        let drain_until = clock.wall_now() + clock.to_wall(self.drain);
        while shs.iter().any(|sh| sh.in_system() > 0) && clock.wall_now() < drain_until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = self.stop_driver.send(true);
        for d in self.drivers {
            let _ = d.await;
        }
        for sh in &shs {
            // The CPU command instances used since the last whole second counts too.
            driver::sample_cpu_now(sh);
            sh.shut_down();
        }
        // Instances stop after their shutdown time (synthetic) or their grace period.
        let longest_shutdown = self
            .services
            .iter()
            .flat_map(|r| &r.scenario.revisions)
            .map(|r| r.service.shutdown)
            .max()
            .unwrap_or_default();
        let stop_until = clock.wall_now()
            + clock.to_wall(longest_shutdown)
            + self.grace
            + Duration::from_secs(2);
        while shs.iter().any(|sh| sh.alive() > 0) && clock.wall_now() < stop_until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Whatever is left of a command instance does not outlive the run.
        for sh in &shs {
            instance::kill_groups(sh).await;
        }
        // Requests still queued or running after the drain are reported in flight at the end.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.server).await;
        let forbidden = (!self.front.allow_from.is_empty())
            .then(|| self.front.forbidden.load(Ordering::Relaxed));
        if !self.fleet {
            return finish(&shs[0], &self.scenario, self.seed, forbidden);
        }
        finish_fleet(&self.services, &self.scenario, self.seed, forbidden)
    }
}

/// A fleet's result document, from the run's measurements until now: each service's result
/// (its platform's books closed at the same end) in `services`, the fleet's totals around
/// them ([`scalelab_core::fleet_totals`], with the live section summed).
fn finish_fleet(
    services: &[Running],
    s: &Scenario,
    seed: u64,
    forbidden: Option<u64>,
) -> RunResult {
    use scalelab_core::fleet_totals::{ServiceOutcome, fleet_totals};
    let sh0 = &services[0].sh;
    let end = sh0.clock.now();
    let scale = sh0.clock.scale();
    let mut outcomes = Vec::with_capacity(services.len());
    let mut total = LiveStats::default();
    let (mut slot_ns, mut slot_n) = (0u128, 0u64);
    for r in services {
        let sh = &r.sh;
        let (mut v, stats, hists, lag_events, lag_max_s) = {
            let mut live = sh.lock();
            let synthetic = matches!(sh.instances, InstanceKind::Synthetic { .. });
            let empty = Platform::new(&r.scenario, Config::live(seed, synthetic));
            let core = std::mem::replace(&mut live.core, empty);
            let (v, stats, hists) = core.finish_with_latency(r.scenario.name.clone(), end);
            (v, stats, hists, live.lag_events, live.lag_max_s)
        };
        let slot_ms = (stats.slot_excess_count > 0)
            .then(|| stats.slot_excess_ns as f64 / stats.slot_excess_count as f64 / 1e6);
        slot_ns += stats.slot_excess_ns;
        slot_n += stats.slot_excess_count;
        let live = LiveStats {
            instance_errors: stats.failed,
            instance_crashes: stats.crashes,
            driver_lag_events: lag_events,
            driver_lag_max_s: lag_max_s,
            slot_overhead_ms: slot_ms,
            slot_overhead_wall_ms: slot_ms.map(|ms| ms * scale),
            client_closed: stats.client_closed,
            ..LiveStats::default()
        };
        total.instance_errors += live.instance_errors;
        total.instance_crashes += live.instance_crashes;
        total.driver_lag_events += live.driver_lag_events;
        total.driver_lag_max_s = total.driver_lag_max_s.max(live.driver_lag_max_s);
        total.client_closed += live.client_closed;
        v.set_live(live);
        v.labels = r.labels.clone();
        outcomes.push(ServiceOutcome {
            result: v,
            slo: r.scenario.slo.clone(),
            hists,
        });
    }
    let first_model = s.billing.models.first().map(String::as_str);
    let mut t = fleet_totals(sh0.variant.clone(), outcomes, &s.slo, first_model);
    let slot_ms = (slot_n > 0).then(|| slot_ns as f64 / slot_n as f64 / 1e6);
    total.slot_overhead_ms = slot_ms;
    total.slot_overhead_wall_ms = slot_ms.map(|ms| ms * scale);
    total.forbidden_sources = forbidden;
    total.failure = sh0.failed();
    // The services share the logs: closed once.
    let close = |sink: &Option<Arc<sink::Sink>>| sink.as_ref().and_then(|s| s.close().err());
    total.event_log_error = close(&sh0.events).map(|e| e.to_string());
    total.request_log_error = close(&sh0.request_log).map(|e| e.to_string());
    t.set_live(total);
    RunResult {
        variants: vec![t],
        scenario_path: Some(s.path.display().to_string()),
        time_scale: Some(scale),
        ..RunResult::new(&s.name, seed, Mode::Live, end.as_secs_f64())
    }
}

/// The result document, from the run's measurements until now.
fn finish(sh: &Arc<Shared>, s: &Scenario, seed: u64, forbidden: Option<u64>) -> RunResult {
    let (mut v, stats, end, lag_events, lag_max_s) = {
        let mut live = sh.lock();
        let end = sh.clock.now();
        // The platform's books close here; an empty one takes its place for any late caller.
        let synthetic = matches!(sh.instances, InstanceKind::Synthetic { .. });
        let empty = Platform::new(s, Config::live(seed, synthetic));
        let core = std::mem::replace(&mut live.core, empty);
        let (v, stats) = core.finish(sh.variant.clone(), end);
        (v, stats, end, live.lag_events, live.lag_max_s)
    };
    // Scenario milliseconds: compare with the simulator's `[router] slot_overhead`.
    let slot_ms = (stats.slot_excess_count > 0)
        .then(|| stats.slot_excess_ns as f64 / stats.slot_excess_count as f64 / 1e6);
    let mut live = LiveStats {
        instance_errors: stats.failed,
        instance_crashes: stats.crashes,
        driver_lag_events: lag_events,
        driver_lag_max_s: lag_max_s,
        slot_overhead_ms: slot_ms,
        slot_overhead_wall_ms: slot_ms.map(|ms| ms * sh.clock.scale()),
        forbidden_sources: forbidden,
        client_closed: stats.client_closed,
        failure: sh.failed(),
        ..LiveStats::default()
    };
    let close = |sink: &Option<Arc<sink::Sink>>| sink.as_ref().and_then(|s| s.close().err());
    live.event_log_error = close(&sh.events).map(|e| e.to_string());
    live.request_log_error = close(&sh.request_log).map(|e| e.to_string());
    v.set_live(live);
    let first_model = s.billing.models.first().map(String::as_str);
    v.slo = check_slo(&s.slo, &v, first_model);
    RunResult {
        variants: vec![v],
        scenario_path: Some(s.path.display().to_string()),
        time_scale: Some(sh.clock.scale()),
        ..RunResult::new(&s.name, seed, Mode::Live, end.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
