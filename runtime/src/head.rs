//! A request's head as the router sees it, whichever server read it: the HTTP/1.1 fast path
//! (`h1.rs`: header lines left where they were read, as byte ranges) or hyper (HTTP/2: a
//! `HeaderMap`). The router reads a few headers (authorization, the revision tag, connection)
//! and forwards the others as they came.

use hyper::Method;
use hyper::header::HeaderMap;

/// One header line's name and value, as byte ranges of the head they were read from.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Line {
    pub name: (u32, u32),
    pub value: (u32, u32),
}

/// A request's headers.
#[derive(Clone, Copy)]
pub(crate) enum Headers<'a> {
    /// Lines of a head read by the fast path.
    Raw { buf: &'a [u8], lines: &'a [Line] },
    /// A head read by hyper.
    Map(&'a HeaderMap),
}

/// A request's head.
pub(crate) struct ReqHead<'a> {
    pub method: &'a Method,
    /// Path and query, as requested (origin form).
    pub target: &'a str,
    pub headers: Headers<'a>,
}

impl ReqHead<'_> {
    /// The path (without the query).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    /// The query, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}

impl Headers<'_> {
    /// The first value of header `name` (lowercase).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        match self {
            Headers::Raw { buf, lines } => lines.iter().find_map(|l| {
                let n = &buf[l.name.0 as usize..(l.name.0 + l.name.1) as usize];
                n.eq_ignore_ascii_case(name.as_bytes())
                    .then(|| &buf[l.value.0 as usize..(l.value.0 + l.value.1) as usize])
            }),
            Headers::Map(m) => m.get(name).map(|v| v.as_bytes()),
        }
    }

    /// Every header line, in order: name (as sent, any case), value.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match self {
            Headers::Raw { buf, lines } => {
                for l in *lines {
                    f(
                        &buf[l.name.0 as usize..(l.name.0 + l.name.1) as usize],
                        &buf[l.value.0 as usize..(l.value.0 + l.value.1) as usize],
                    );
                }
            }
            Headers::Map(m) => {
                for (k, v) in m.iter() {
                    f(k.as_str().as_bytes(), v.as_bytes());
                }
            }
        }
    }

    /// The header names listed in `Connection` (hop-by-hop by declaration), lowercased; empty
    /// without a `Connection` header (the usual case: no allocation).
    pub fn connection_named(&self) -> Vec<String> {
        let mut named = Vec::new();
        self.for_each(|k, v| {
            if k.eq_ignore_ascii_case(b"connection") {
                for t in v.split(|&c| c == b',') {
                    let t = t.trim_ascii();
                    if !t.is_empty() {
                        named.push(String::from_utf8_lossy(t).to_ascii_lowercase());
                    }
                }
            }
        });
        named
    }
}

/// What a header name is to a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Forwarded as it is.
    EndToEnd,
    /// Hop-by-hop (RFC 9110 §7.6.1): never forwarded.
    HopByHop,
    /// `Host`, `Content-Length`, `Transfer-Encoding`: the router writes its own.
    Framing,
    Authorization,
    /// `Date` and `Server` of an instance's answer (not passed on, as nginx's `proxy_pass`).
    DateServer,
}

/// Classifies a header name, any case.
pub(crate) fn kind(name: &[u8]) -> Kind {
    let is = |s: &[u8]| name.eq_ignore_ascii_case(s);
    match name.len() {
        2 if is(b"te") => Kind::HopByHop,
        4 if is(b"host") => Kind::Framing,
        4 if is(b"date") => Kind::DateServer,
        6 if is(b"server") => Kind::DateServer,
        7 if is(b"trailer") || is(b"upgrade") => Kind::HopByHop,
        10 if is(b"connection") || is(b"keep-alive") => Kind::HopByHop,
        13 if is(b"authorization") => Kind::Authorization,
        14 if is(b"content-length") => Kind::Framing,
        16 if is(b"proxy-connection") => Kind::HopByHop,
        17 if is(b"transfer-encoding") => Kind::Framing,
        18 if is(b"proxy-authenticate") => Kind::HopByHop,
        19 if is(b"proxy-authorization") => Kind::HopByHop,
        21 if is(crate::instance::SERVICE_NS_HEADER.as_bytes()) => Kind::Framing,
        _ => Kind::EndToEnd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_classified_in_any_case() {
        assert_eq!(kind(b"Connection"), Kind::HopByHop);
        assert_eq!(kind(b"KEEP-ALIVE"), Kind::HopByHop);
        assert_eq!(kind(b"te"), Kind::HopByHop);
        assert_eq!(kind(b"Proxy-Authorization"), Kind::HopByHop);
        assert_eq!(kind(b"Host"), Kind::Framing);
        assert_eq!(kind(b"transfer-encoding"), Kind::Framing);
        assert_eq!(kind(b"X-Scalelab-Service-Ns"), Kind::Framing);
        assert_eq!(kind(b"Authorization"), Kind::Authorization);
        assert_eq!(kind(b"Server"), Kind::DateServer);
        assert_eq!(kind(b"X-Request-Id"), Kind::EndToEnd);
        assert_eq!(kind(b"content-type"), Kind::EndToEnd);
    }

    #[test]
    fn raw_headers_are_found_in_any_case_and_connection_lists_names() {
        let buf = b"Host: a\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n";
        let line = |n: (u32, u32), v: (u32, u32)| Line { name: n, value: v };
        let lines = [
            line((0, 4), (6, 1)),
            line((9, 10), (21, 21)),
            line((44, 9), (55, 1)),
        ];
        let h = Headers::Raw { buf, lines: &lines };
        assert_eq!(h.get("host"), Some(&b"a"[..]));
        assert_eq!(h.get("x-private"), Some(&b"1"[..]));
        assert_eq!(h.get("nope"), None);
        assert_eq!(h.connection_named(), vec!["keep-alive", "x-private"]);
        let head = ReqHead {
            method: &Method::GET,
            target: "/a/b?c=d",
            headers: h,
        };
        assert_eq!((head.path(), head.query()), ("/a/b", Some("c=d")));
    }
}
