//! `[load]`: settings for the load generator (`scalelab load`, `scalelab run`): the target and
//! the requests to send. Absent keys take the generator's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// One kind of request the generator sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestSpec {
    /// HTTP method (upper case).
    pub method: String,
    /// Path and query, appended to the target URL.
    pub path: String,
    /// Extra headers, sorted by name.
    pub headers: BTreeMap<String, String>,
    /// Body bytes (from `body` or `body_file`).
    pub body: Vec<u8>,
    /// Relative weight, > 0.
    pub weight: f64,
}

/// `[load]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadSettings {
    /// Target base URL, when the scenario names one (`scalelab load` may also take it as an
    /// argument).
    pub url: Option<String>,
    /// Requests, weighted. Defaults to one `GET /`.
    pub requests: Vec<RequestSpec>,
    /// Closed-loop connections (None: open loop).
    pub connections: Option<u32>,
    /// Cap on open connections in open loop.
    pub max_connections: u32,
    /// Use HTTP/2 (h2c prior knowledge for http://, ALPN for https://).
    pub http2: bool,
    /// Request timeout.
    #[serde(with = "crate::duration::serde_duration")]
    pub timeout: Duration,
    /// Connect timeout.
    #[serde(with = "crate::duration::serde_duration")]
    pub connect_timeout: Duration,
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            url: None,
            requests: vec![RequestSpec {
                method: "GET".into(),
                path: "/".into(),
                headers: BTreeMap::new(),
                body: Vec::new(),
                weight: 1.0,
            }],
            connections: None,
            max_connections: 1000,
            http2: false,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}
