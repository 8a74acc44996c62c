//! The target: a parsed base URL and the requests prepared for it once, before the run, so the
//! hot path only clones cheap handles.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};
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
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(_) => return Err(bad("expected an http:// or https:// URL")),
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
        let port = auth.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
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

/// A request ready to be cloned onto the wire.
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
        Ok(Prepared {
            method,
            origin_uri,
            absolute_uri,
            headers,
            h1_headers,
            body: Bytes::from(spec.body.clone()),
        })
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
    fn rejects_bad_urls() {
        for u in [
            "ftp://h/",
            "127.0.0.1:80",
            "/path",
            "http://",
            "http://u:p@h/",
            "not a url",
        ] {
            assert!(Target::parse(u).is_err(), "{u}");
        }
    }
}
