//! The target: a parsed base URL and the requests prepared for it once, before the run, so the
//! hot path only clones cheap handles.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use scalelab_core::scenario::RequestSpec;

use crate::LoadError;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS (rustls).
    Https,
}

/// A parsed target URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 / 443 when the URL has none).
    pub port: u16,
    /// The `Host` header / `:authority`.
    pub authority: String,
    /// The URL's path and query, "" when it is just `/`.
    pub base_path: String,
}

impl Target {
    /// Parses an `http://` or `https://` URL.
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let bad = |reason: &str| LoadError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = url.trim();
        if !trimmed.contains("://") {
            return Err(bad(&format!(
                "the URL has no scheme: write http://{0} or https://{0}",
                trimmed.trim_start_matches('/')
            )));
        }
        let uri: Uri = trimmed.parse().map_err(|e: http::uri::InvalidUri| {
            let msg = e.to_string();
            if msg.contains("port") {
                bad("invalid port: expected a number from 1 to 65535")
            } else {
                bad(&msg)
            }
        })?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(other) => {
                return Err(bad(&format!(
                    "unsupported scheme \"{other}\": expected http:// or https://"
                )));
            }
            None => return Err(bad("expected an absolute http:// or https:// URL")),
        };
        let auth = uri.authority().ok_or_else(|| bad("the URL has no host"))?;
        if auth.as_str().contains('@') {
            return Err(bad("user names and passwords in URLs are not supported"));
        }
        let host = auth.host().trim_matches(|c| c == '[' || c == ']');
        if host.is_empty() {
            return Err(bad("the URL has no host"));
        }
        // `Authority::port` hides a port that is not a u16 (it returns None, and the default
        // would be used silently): read the port text itself.
        let a = auth.as_str();
        let after_host = match a.find(']') {
            Some(i) if a.starts_with('[') => &a[i + 1..],
            _ => a,
        };
        let port = match after_host.rsplit_once(':') {
            None => match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            },
            Some((_, p)) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(bad(&format!(
                        "invalid port \"{p}\": expected a number from 1 to 65535"
                    )));
                }
            },
        };
        let base_path = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("/") | Some("") => String::new(),
            Some(p) => p.to_string(),
        };
        Ok(Target {
            scheme,
            host: host.to_string(),
            port,
            authority: auth.as_str().to_string(),
            base_path,
        })
    }

    /// The path a request spec is sent to: `/` means the URL itself; any other path is appended
    /// to the URL's path (`http://h/api` + `/users` = `/api/users`).
    pub fn path_for(&self, spec_path: &str) -> String {
        if spec_path == "/" || spec_path.is_empty() {
            if self.base_path.is_empty() {
                "/".to_string()
            } else {
                self.base_path.clone()
            }
        } else {
            format!("{}{}", self.base_path.trim_end_matches('/'), spec_path)
        }
    }
}

/// A request ready to be cloned onto the wire: everything is built once, before the run; a
/// request costs reference-count increments and one header-map copy.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub method: Method,
    /// Origin form (`/path?q`), for HTTP/1.1 with a `Host` header.
    pub origin_uri: Uri,
    /// Absolute form, for HTTP/2 (`:scheme` and `:authority` come from it).
    pub absolute_uri: Uri,
    /// Headers for HTTP/2.
    pub headers: HeaderMap,
    /// Headers for HTTP/1.1: the same plus `Host`.
    pub h1_headers: HeaderMap,
    pub body: Bytes,
    /// The whole HTTP/1.1 request as written on the wire: request line, `Host`, the headers,
    /// the body.
    pub wire: Bytes,
    /// A HEAD request (its response has no body whatever its headers say).
    pub is_head: bool,
}

impl Prepared {
    pub(crate) fn new(
        target: &Target,
        index: usize,
        spec: &RequestSpec,
    ) -> Result<Prepared, LoadError> {
        let bad = |reason: String| LoadError::BadRequest { index, reason };
        let method = Method::from_bytes(spec.method.as_bytes())
            .map_err(|e| bad(format!("method \"{}\": {e}", spec.method)))?;
        let path = target.path_for(&spec.path);
        let origin_uri: Uri = path
            .parse()
            .map_err(|e| bad(format!("path \"{path}\": {e}")))?;
        let scheme = match target.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let absolute_uri: Uri = format!("{scheme}://{}{path}", target.authority)
            .parse()
            .map_err(|e| bad(format!("path \"{path}\": {e}")))?;
        let mut headers = HeaderMap::new();
        for (k, v) in &spec.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| bad(format!("header name \"{k}\": {e}")))?;
            let value =
                HeaderValue::from_str(v).map_err(|e| bad(format!("header \"{k}\" value: {e}")))?;
            headers.append(name, value);
        }
        if !spec.body.is_empty() && !headers.contains_key(http::header::CONTENT_LENGTH) {
            headers.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(spec.body.len() as u64),
            );
        }
        let mut h1_headers = headers.clone();
        if !h1_headers.contains_key(http::header::HOST) {
            let host = HeaderValue::from_str(&target.authority)
                .map_err(|e| bad(format!("host \"{}\": {e}", target.authority)))?;
            h1_headers.insert(http::header::HOST, host);
        }
        let mut wire = Vec::with_capacity(128 + spec.body.len());
        wire.extend_from_slice(method.as_str().as_bytes());
        wire.push(b' ');
        wire.extend_from_slice(path.as_bytes());
        wire.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &h1_headers {
            wire.extend_from_slice(name.as_str().as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&spec.body);
        Ok(Prepared {
            is_head: method == Method::HEAD,
            method,
            origin_uri,
            absolute_uri,
            headers,
            h1_headers,
            body: Bytes::from(spec.body.clone()),
            wire: Bytes::from(wire),
        })
    }
}

impl Prepared {
    /// The request in HTTP/1.1 form (origin-form target, `Host` header).
    pub(crate) fn h1(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.origin_uri.clone();
        *req.headers_mut() = self.h1_headers.clone();
        req
    }

    /// The request in HTTP/2 form (absolute URI: `:scheme`, `:authority`).
    pub(crate) fn h2(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.absolute_uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_joins_paths() {
        let t = Target::parse("http://127.0.0.1:8080/api?x=1").unwrap();
        assert_eq!(t.scheme, Scheme::Http);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(t.path_for("/"), "/api?x=1");
        let t = Target::parse("https://example.com").unwrap();
        assert_eq!((t.scheme, t.port), (Scheme::Https, 443));
        assert_eq!(t.path_for("/"), "/");
        assert_eq!(t.path_for("/hello"), "/hello");
        let t = Target::parse("http://[::1]:81/base/").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority, "[::1]:81");
        assert_eq!(t.path_for("/x"), "/base/x");
    }

    #[test]
    fn the_wire_form_is_a_complete_request() {
        let t = Target::parse("http://127.0.0.1:8080/api").unwrap();
        let spec = RequestSpec {
            method: "POST".into(),
            path: "/users?x=1".into(),
            headers: [("X-Token".to_string(), "abc".to_string())]
                .into_iter()
                .collect(),
            body: b"{}".to_vec(),
            weight: 1.0,
        };
        let p = Prepared::new(&t, 0, &spec).unwrap();
        let wire = std::str::from_utf8(&p.wire).unwrap();
        assert!(
            wire.starts_with("POST /api/users?x=1 HTTP/1.1\r\n"),
            "{wire}"
        );
        assert!(wire.contains("\r\nhost: 127.0.0.1:8080\r\n"), "{wire}");
        assert!(wire.contains("\r\nx-token: abc\r\n"), "{wire}");
        assert!(wire.contains("\r\ncontent-length: 2\r\n"), "{wire}");
        assert!(wire.ends_with("\r\n\r\n{}"), "{wire}");
        assert!(!p.is_head);
    }

    #[test]
    fn rejects_bad_urls() {
        for u in [
            "ftp://h/",
            "127.0.0.1:80",
            "/path",
            "http://",
            "http://u:p@h/",
            "not a url",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:port/",
        ] {
            assert!(Target::parse(u).is_err(), "{u}");
        }
        let e = Target::parse("127.0.0.1:8080").unwrap_err().to_string();
        assert!(
            e.contains("no scheme") && e.contains("http://127.0.0.1:8080"),
            "{e}"
        );
        for u in ["http://127.0.0.1:99999/", "http://127.0.0.1:port/"] {
            let e = Target::parse(u).unwrap_err().to_string();
            assert!(e.contains("invalid port"), "{u}: {e}");
        }
    }
}
