//! The hello-function contract that synthetic instances serve by default (the seed's function):
//!
//! - `message` from the query string (`?message=Hi&name=Ada`) or a JSON body
//!   (`{"message": "Hi", "name": "Ada"}`), the query string winning;
//! - `name` optional, `"world"` when absent;
//! - `200 {"message": "<message> welcomes you, <name>!"}`, or
//!   `400 {"error": "No message provided"}` when there is no (non-empty) message;
//! - CORS: every answer carries `Access-Control-Allow-Origin: <allowed origin>` (`*` unless
//!   configured, like the seed's `ALLOWED_ORIGIN`); `OPTIONS` is a preflight answered `204`
//!   with the allowed methods and headers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response, StatusCode};

/// Methods the function allows (for the preflight).
pub const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
/// Request headers the function allows (for the preflight).
pub const ALLOW_HEADERS: &str = "Content-Type, Authorization";

/// Answers one request. `query` is the raw query string, `body` the request body.
pub fn respond(
    allowed_origin: &str,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let origin =
        HeaderValue::from_str(allowed_origin).unwrap_or_else(|_| HeaderValue::from_static("*"));
    if method == Method::OPTIONS {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
        return r;
    }
    let (status, doc) = match message_and_name(query, body) {
        Some((message, name)) => (
            StatusCode::OK,
            serde_json::json!({ "message": format!("{message} welcomes you, {name}!") }),
        ),
        None => (
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "No message provided" }),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(doc.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    r
}

/// The message and name of a request, or `None` without a non-empty message.
pub fn message_and_name(query: Option<&str>, body: &[u8]) -> Option<(String, String)> {
    let mut message = None;
    let mut name = None;
    for (k, v) in query.into_iter().flat_map(parse_query) {
        match k.as_str() {
            "message" if message.is_none() => message = Some(v),
            "name" if name.is_none() => name = Some(v),
            _ => {}
        }
    }
    if (message.is_none() || name.is_none())
        && !body.is_empty()
        && let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body)
    {
        let text = |k: &str| o.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if message.is_none() {
            message = text("message");
        }
        if name.is_none() {
            name = text("name");
        }
    }
    let message = message.filter(|m| !m.is_empty())?;
    let name = name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "world".to_string());
    Some((message, name))
}

/// `application/x-www-form-urlencoded` pairs of a query string (`+` is a space, `%XX` a byte;
/// invalid escapes are kept as written, invalid UTF-8 is replaced).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(r: Response<Full<Bytes>>) -> serde_json::Value {
        let b = r.into_body().collect().await.expect("full body").to_bytes();
        serde_json::from_slice(&b).expect("json")
    }

    #[tokio::test]
    async fn message_from_query_with_default_name() {
        let r = respond("*", &Method::GET, Some("message=Hello%20there"), b"");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(body(r).await["message"], "Hello there welcomes you, world!");
    }

    #[tokio::test]
    async fn message_and_name_from_json_body() {
        let r = respond(
            "https://example.org",
            &Method::POST,
            None,
            br#"{"message":"Hi","name":"Ada"}"#,
        );
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://example.org"
        );
        assert_eq!(body(r).await["message"], "Hi welcomes you, Ada!");
    }

    #[tokio::test]
    async fn no_message_is_400() {
        for (q, b) in [
            (None, &b""[..]),
            (Some("name=Ada"), &b"{}"[..]),
            (Some("message="), &b"not json"[..]),
        ] {
            let r = respond("*", &Method::GET, q, b);
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert_eq!(body(r).await["error"], "No message provided");
        }
    }

    #[test]
    fn preflight_lists_methods_and_headers() {
        let r = respond("https://a.example", &Method::OPTIONS, None, b"");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_METHODS],
            ALLOW_METHODS
        );
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://a.example"
        );
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("a=1+2&b=%41%zz&&c"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "A%zz".into()),
                ("c".into(), String::new())
            ]
        );
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("100%"), "100%");
    }
}
