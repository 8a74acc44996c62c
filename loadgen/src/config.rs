//! What a load run does: the target, the requests, the loop (open with an arrival process, or
//! closed with a number of connections), when it stops, and the transport settings.

use std::path::PathBuf;
use std::time::Duration;

use scalelab_core::scenario::{LoadSettings, RequestSpec};
use scalelab_core::workload::WorkloadSpec;

use crate::{Shard, TlsOptions};

/// Default of [`LoadConfig::max_pending`].
pub const DEFAULT_MAX_PENDING: u32 = 10_000;

/// How requests are started.
#[derive(Clone, Debug, PartialEq)]
pub enum LoopMode {
    /// Open loop: each request has an intended send time from the workload's arrival process,
    /// whatever the target does; latency is measured from it.
    Open(WorkloadSpec),
    /// Closed loop (wrk's model): `connections` workers each send the next request as soon as
    /// the previous one is answered. For peak throughput, not for latency under a given load.
    Closed {
        /// Concurrent requests (one HTTP/1.1 connection each).
        connections: u32,
    },
}

/// A load run's complete settings.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Target base URL (`http://` or `https://`).
    pub url: String,
    /// Request kinds with weights (at least one).
    pub requests: Vec<RequestSpec>,
    /// Open or closed loop.
    pub mode: LoopMode,
    /// How long requests are started for (the open-loop schedule's horizon).
    pub duration: Duration,
    /// Stop after this many requests of the unsharded schedule (or, in closed loop, in total).
    pub max_requests: Option<u64>,
    /// How long in-flight requests may finish after `duration` before they are aborted.
    pub grace: Duration,
    /// Master seed (arrival times and request kinds).
    pub seed: u64,
    /// Which part of the schedule this generator sends.
    pub shard: Shard,
    /// Most HTTP/1.1 connections open at once in open loop.
    pub max_connections: u32,
    /// Open loop: most requests waiting for a connection (all `max_connections` busy). A
    /// request due while that many wait is not sent and counted as `queue_full`; 0 drops every
    /// request that finds no free connection. Bounds the generator's memory under overload.
    pub max_pending: u32,
    /// HTTP/2: prior knowledge for http://, offered by ALPN for https://.
    pub http2: bool,
    /// HTTP/2 connections to multiplex over.
    pub h2_connections: u32,
    /// Time allowed from sending a request to the end of its response.
    pub timeout: Duration,
    /// Time allowed for TCP connect + TLS + HTTP handshake.
    pub connect_timeout: Duration,
    /// How https targets' certificates are checked.
    pub tls: TlsOptions,
    /// Fail (and stop) the run when a request's send lag exceeds this.
    pub max_lag: Option<Duration>,
    /// A second whose largest send lag exceeds this is reported as "generator behind".
    pub lag_warn: Duration,
    /// Write an HdrHistogram interval log here.
    pub hdr_log: Option<PathBuf>,
    /// Write one JSON line per request here (`--output`).
    pub output: Option<PathBuf>,
    /// Print a progress line on stderr every second.
    pub progress: bool,
    /// Print "generator behind" warnings on stderr (at most one line per 10 s, and a total at
    /// the end).
    pub warnings: bool,
    /// Name for the result document (scenario name, or "load" in quick mode).
    pub name: String,
}

impl LoadConfig {
    /// Settings for `url` with the generator's defaults (those of an empty `[load]` table), an
    /// open loop over `workload` for `duration`.
    pub fn new(url: impl Into<String>, workload: WorkloadSpec, duration: Duration) -> LoadConfig {
        let d = LoadSettings::default();
        LoadConfig {
            url: url.into(),
            requests: d.requests,
            mode: LoopMode::Open(workload),
            duration,
            max_requests: None,
            grace: d.timeout.min(Duration::from_secs(5)),
            seed: 0,
            shard: Shard::ALL,
            max_connections: d.max_connections,
            max_pending: DEFAULT_MAX_PENDING,
            http2: d.http2,
            h2_connections: 1,
            timeout: d.timeout,
            connect_timeout: d.connect_timeout,
            tls: TlsOptions::default(),
            max_lag: None,
            lag_warn: Duration::from_millis(10),
            hdr_log: None,
            output: None,
            progress: false,
            warnings: true,
            name: "load".into(),
        }
    }

    /// Takes the scenario's `[load]` settings (requests, connection limits, timeouts).
    pub fn with_settings(mut self, s: &LoadSettings) -> LoadConfig {
        self.requests = s.requests.clone();
        self.max_connections = s.max_connections;
        self.http2 = s.http2;
        self.timeout = s.timeout;
        self.connect_timeout = s.connect_timeout;
        self.grace = s.timeout.min(Duration::from_secs(5));
        if let Some(c) = s.connections {
            self.mode = LoopMode::Closed { connections: c };
        }
        self
    }

    /// Crosses the request kinds with the scenario's `[[workload.request_classes]]`: every kind
    /// is also sent as every class, carrying the class's headers (they win over the kind's own
    /// headers of the same name), with weight = the kind's weight × the class's share. So each
    /// request's class is drawn by the classes' weights, as the simulator draws it. No classes:
    /// unchanged.
    pub fn with_request_classes(
        mut self,
        classes: &[scalelab_core::scenario::RequestClass],
    ) -> LoadConfig {
        if classes.is_empty() {
            return self;
        }
        let total: f64 = classes.iter().map(|c| c.weight).sum();
        let mut out = Vec::with_capacity(self.requests.len() * classes.len());
        for r in &self.requests {
            for c in classes {
                let mut spec = r.clone();
                spec.headers
                    .retain(|k, _| !c.headers.contains_key(&k.to_ascii_lowercase()));
                spec.headers
                    .extend(c.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
                spec.weight = r.weight * c.weight / total;
                out.push(spec);
            }
        }
        self.requests = out;
        self
    }

    /// Checks ranges and combinations.
    pub(crate) fn validate(&self) -> Result<(), crate::LoadError> {
        let bad = |m: &str| Err(crate::LoadError::BadConfig(m.to_string()));
        if self.requests.is_empty() {
            return bad("no requests to send");
        }
        if self
            .requests
            .iter()
            .any(|r| !(r.weight.is_finite() && r.weight > 0.0))
        {
            return bad("request weights must be > 0");
        }
        if self.duration.is_zero() && self.max_requests.is_none() {
            return bad("the duration must be greater than zero");
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("timeouts must be greater than zero");
        }
        if self.max_connections == 0 || self.h2_connections == 0 {
            return bad("connection limits must be at least 1");
        }
        if let LoopMode::Closed { connections: 0 } = self.mode {
            return bad("closed loop needs at least 1 connection");
        }
        if self.shard.count == 0 || self.shard.index >= self.shard.count {
            return bad("invalid shard");
        }
        if self.shard.count > 1 && matches!(self.mode, LoopMode::Closed { .. }) {
            return bad("--shard splits an open-loop schedule; a closed loop has none to split");
        }
        Ok(())
    }
}

#[cfg(test)]
mod class_tests {
    use super::*;
    use scalelab_core::scenario::RequestClass;

    #[test]
    fn request_classes_cross_the_request_kinds() {
        let mut cfg = LoadConfig::new(
            "http://127.0.0.1:1",
            WorkloadSpec::default(),
            Duration::from_secs(1),
        );
        cfg.requests[0]
            .headers
            .insert("X-Canary".into(), "0".into());
        cfg.requests[0].weight = 2.0;
        let class = |name: &str, weight: f64, h: &[(&str, &str)]| RequestClass {
            name: name.into(),
            weight,
            headers: h
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let cfg = cfg.with_request_classes(&[
            class("users", 3.0, &[]),
            class("testers", 1.0, &[("x-canary", "1")]),
        ]);
        assert_eq!(cfg.requests.len(), 2);
        assert_eq!(cfg.requests[0].weight, 1.5);
        assert_eq!(
            cfg.requests[0].headers.get("X-Canary").map(String::as_str),
            Some("0")
        );
        assert_eq!(cfg.requests[1].weight, 0.5);
        assert_eq!(cfg.requests[1].headers.len(), 1);
        assert_eq!(
            cfg.requests[1].headers.get("x-canary").map(String::as_str),
            Some("1")
        );
        // No classes: unchanged.
        let same = cfg.clone().with_request_classes(&[]);
        assert_eq!(same.requests, cfg.requests);
    }
}
