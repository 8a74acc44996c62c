//! `[load]`: the load generator's target and requests.

use std::path::Path;

use super::{R, Resolver, positive};
use crate::scenario::load::{LoadSettings, RequestSpec};
use crate::scenario::raw::RawScenario;

impl Resolver<'_> {
    pub(super) fn load(&self, raw: &RawScenario) -> R<LoadSettings> {
        let d = LoadSettings::default();
        let Some(l) = &raw.load else { return Ok(d) };
        let l = l.get_ref();
        let url = match &l.url {
            None => None,
            Some(u) => {
                let s = u.get_ref();
                if !(s.starts_with("http://") || s.starts_with("https://")) {
                    return Err(self.err(u, "load.url", "expected an http:// or https:// URL"));
                }
                Some(s.clone())
            }
        };
        let requests = match &l.requests {
            None => d.requests.clone(),
            Some(reqs) if reqs.is_empty() => d.requests.clone(),
            Some(reqs) => {
                let mut out = Vec::new();
                for (i, r) in reqs.iter().enumerate() {
                    let key = format!("load.requests[{i}]");
                    let rr = r.get_ref();
                    let method = rr.method.as_ref().map(|m| m.get_ref().to_ascii_uppercase());
                    let method = method.unwrap_or_else(|| "GET".into());
                    if !method.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(self.err(
                            rr.method.as_ref().expect("given"),
                            &format!("{key}.method"),
                            "expected an HTTP method like GET or POST",
                        ));
                    }
                    let path = rr
                        .path
                        .as_ref()
                        .map(|p| p.get_ref().clone())
                        .unwrap_or("/".into());
                    if !path.starts_with('/') {
                        return Err(self.err(
                            rr.path.as_ref().expect("given"),
                            &format!("{key}.path"),
                            "a request path starts with /",
                        ));
                    }
                    let body = match (&rr.body, &rr.body_file) {
                        (Some(_), Some(f)) => {
                            return Err(self.err(
                                f,
                                &format!("{key}.body_file"),
                                "give either `body` or `body_file`, not both",
                            ));
                        }
                        (Some(b), None) => b.clone().into_bytes(),
                        (None, Some(f)) => {
                            let p = self
                                .file
                                .parent()
                                .unwrap_or(Path::new("."))
                                .join(f.get_ref());
                            std::fs::read(&p).map_err(|e| {
                                self.err(
                                    f,
                                    &format!("{key}.body_file"),
                                    format!("cannot read {}: {e}", p.display()),
                                )
                            })?
                        }
                        (None, None) => Vec::new(),
                    };
                    let weight = self.f64_in(
                        &rr.weight,
                        &format!("{key}.weight"),
                        1.0,
                        |x| x > 0.0,
                        "a weight > 0",
                    )?;
                    out.push(RequestSpec {
                        method,
                        path,
                        headers: rr.headers.clone().unwrap_or_default(),
                        body,
                        weight,
                    });
                }
                out
            }
        };
        let connections = match &l.connections {
            None => None,
            Some(_) => {
                let c = self.u32_in(&l.connections, "load.connections", 0, 100_000)?;
                if c == 0 {
                    return Err(self.err(
                        l.connections.as_ref().expect("given"),
                        "load.connections",
                        "expected at least 1 connection",
                    ));
                }
                Some(c)
            }
        };
        Ok(LoadSettings {
            url,
            requests,
            connections,
            max_connections: self
                .u32_in(
                    &l.max_connections,
                    "load.max_connections",
                    d.max_connections,
                    100_000,
                )?
                .max(1),
            http2: l.http2.unwrap_or(false),
            timeout: self.dur(&l.timeout, "load.timeout", d.timeout, positive)?,
            connect_timeout: self.dur(
                &l.connect_timeout,
                "load.connect_timeout",
                d.connect_timeout,
                positive,
            )?,
        })
    }
}
