//! The router's HTTP/1.1 client to `--cmd` instances: a pool of keep-alive connections per
//! instance, the request head written straight from the client's head (no intermediate
//! request), the response head parsed with `httparse`, and both bodies streamed.
//!
//! Why not hyper's client: each request through `hyper_util`'s pooled client crosses a channel
//! to a connection task and back (two task wake-ups, a oneshot, a pool lookup by authority),
//! which cost the router about as much CPU as nginx spends on a whole proxied request. Here the
//! request's own task writes to and reads from the instance's socket.
//!
//! Guarantees: a connection goes back to its pool only after a complete response that allows
//! keep-alive, with nothing left over in its buffer; a pooled connection that the instance
//! closed is dropped when taken (a non-blocking read sees the end of stream); a request without
//! a body that fails on a reused connection before any byte of the response is retried once on a
//! new connection (the instance may have closed it just then); response heads are limited to
//! [`MAX_HEAD`] bytes.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::body::{Budget, ClientBody, Lease};
use crate::head::{Kind, Line, ReqHead, kind};
use crate::platform::lock;

/// The largest response head accepted from an instance.
pub const MAX_HEAD: usize = 64 * 1024;
/// Idle connections kept per instance.
const MAX_IDLE: usize = 1024;
/// Bytes read from an instance at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Request body bytes gathered before they are written to the instance.
const WRITE_CHUNK: usize = 64 * 1024;
/// Response headers accepted (more is a protocol error).
const MAX_HEADERS: usize = 100;

/// One instance's address and its idle connections.
pub(crate) struct Upstream {
    addr: SocketAddr,
    host: HeaderValue,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({})", self.addr)
    }
}

/// A connection to an instance, with its read buffer.
pub(crate) struct Conn {
    io: TcpStream,
    buf: BytesMut,
    wbuf: Vec<u8>,
}

/// Why an exchange with an instance failed.
#[derive(Debug)]
pub(crate) enum UpError {
    /// No connection, a reset, an early end, a malformed response: the instance failed (502).
    Instance,
    /// The client's body could not be read (it went away): nobody to answer.
    ClientBody,
    /// The client's body is larger than the limit (413).
    TooLarge,
}

/// How the request body is framed towards the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReqFraming {
    /// No body.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The request as the router forwards it.
pub(crate) struct Head<'a> {
    pub req: &'a ReqHead<'a>,
    /// Do not forward `Authorization` (the platform's own credential).
    pub strip_authorization: bool,
    /// Add `K-Proxy-Request: activator` (the activator is in the path).
    pub proxied: bool,
    pub framing: ReqFraming,
}

/// How the response body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    Close,
}

/// Where a chunked decoder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// A response head from an instance, as it came: the status, and the header lines the router
/// passes on (not hop-by-hop, framing, `Date` or `Server`), as ranges of the head's bytes.
pub(crate) struct RawHead {
    pub status: StatusCode,
    pub bytes: Bytes,
    pub lines: Vec<Line>,
    /// The instance's `Content-Length`, unless it chunked its body (for `HEAD` and `304`
    /// answers, whose body is empty, it describes the resource and is passed on).
    pub declared_len: Option<u64>,
}

impl RawHead {
    /// Every passed-on header line: name (as sent), value.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        for l in &self.lines {
            f(
                &self.bytes[l.name.0 as usize..(l.name.0 + l.name.1) as usize],
                &self.bytes[l.value.0 as usize..(l.value.0 + l.value.1) as usize],
            );
        }
    }

    /// The passed-on headers as a `HeaderMap` (for answers sent through hyper).
    pub fn to_map(&self) -> HeaderMap {
        let mut m = HeaderMap::with_capacity(self.lines.len() + 1);
        for l in &self.lines {
            let name = &self.bytes[l.name.0 as usize..(l.name.0 + l.name.1) as usize];
            let (a, b) = (l.value.0 as usize, (l.value.0 + l.value.1) as usize);
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_maybe_shared(self.bytes.slice(a..b)),
            ) {
                m.append(k, v);
            }
        }
        if let Some(n) = self.declared_len {
            m.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        m
    }
}

/// A response from an instance: its head and its body.
pub(crate) struct Response {
    pub head: RawHead,
    pub body: RespBody,
}

/// A response body: complete already, or still streaming from the instance.
pub(crate) enum RespBody {
    Full(Bytes),
    Stream(Stream),
}

/// The rest of a response body, read from the instance as the client takes it.
pub(crate) struct Stream {
    up: Arc<Upstream>,
    conn: Option<Conn>,
    framing: Framing,
    reuse: bool,
}

/// The client's request body, as it streams to the instance.
pub(crate) struct ReqBody<'a> {
    pub body: &'a mut (dyn ClientBody + Send),
    /// Per-request limit (413 beyond).
    pub max: u64,
    pub budget: &'a Budget,
}

impl Upstream {
    pub fn new(addr: SocketAddr) -> Arc<Upstream> {
        let host = HeaderValue::from_str(&addr.to_string()).expect("a socket address is ASCII");
        Arc::new(Upstream {
            addr,
            host,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection that still looks open.
    fn checkout(&self) -> Option<Conn> {
        loop {
            let c = lock(&self.idle).pop()?;
            // The instance may have closed it while it idled: a non-blocking read says so
            // (no system call when tokio saw no readiness since the last read).
            let mut b = [0u8; 1];
            match c.io.try_read(&mut b) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(c),
                _ => continue,
            }
        }
    }

    fn checkin(&self, c: Conn) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(c);
        }
    }

    /// Closes the idle connections (the instance is stopping).
    pub fn close_idle(&self) {
        lock(&self.idle).clear();
    }

    async fn connect(&self) -> io::Result<Conn> {
        let io = TcpStream::connect(self.addr).await?;
        io.set_nodelay(true)?;
        Ok(Conn {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(1024),
        })
    }

    /// Sends the request (streaming its body) and reads the response head, and the body too
    /// when it came with the head.
    pub async fn send(
        self: &Arc<Self>,
        head: &Head<'_>,
        mut body: Option<ReqBody<'_>>,
    ) -> Result<Response, UpError> {
        let mut retried = false;
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(c) => (c, true),
                None => (self.connect().await.map_err(|_| UpError::Instance)?, false),
            };
            write_head(&mut conn.wbuf, head, &self.host);
            let sent = match (&mut body, head.framing) {
                (Some(b), ReqFraming::Length(_) | ReqFraming::Chunked) => {
                    send_body(&mut conn, b, head.framing).await
                }
                _ => {
                    let r = conn.io.write_all(&conn.wbuf).await;
                    conn.wbuf.clear();
                    r.map_err(|_| UpError::Instance)
                }
            };
            if let Err(e) = sent {
                // A bodiless request on a reused connection the instance had just closed.
                if reused && !retried && head.framing == ReqFraming::None {
                    retried = true;
                    continue;
                }
                // The instance may have answered before reading the whole body (an early
                // error): prefer its answer.
                if matches!(e, UpError::Instance)
                    && let Ok(r) = self.read_response(conn, head.req.method).await
                {
                    return Ok(r);
                }
                return Err(e);
            }
            match self.read_response(conn, head.req.method).await {
                Err(ReadError::Closed)
                    if reused && !retried && head.framing == ReqFraming::None =>
                {
                    retried = true;
                }
                // The instance closed the connection before answering, or broke the protocol.
                Err(ReadError::Closed | ReadError::Io) => return Err(UpError::Instance),
                Ok(r) => return Ok(r),
            }
        }
    }

    async fn read_response(
        self: &Arc<Self>,
        mut conn: Conn,
        method: &Method,
    ) -> Result<Response, ReadError> {
        loop {
            let (head, framing, reuse) = loop {
                if let Some(parsed) = parse_head(&mut conn.buf, method)? {
                    break parsed;
                }
                if conn.buf.len() >= MAX_HEAD {
                    return Err(ReadError::Io);
                }
                let got = read_more(&mut conn).await.map_err(|_| ReadError::Io)?;
                if got == 0 {
                    return Err(if conn.buf.is_empty() {
                        ReadError::Closed
                    } else {
                        ReadError::Io
                    });
                }
            };
            if head.status.is_informational() {
                // 100 Continue, 103 Early Hints: the final answer follows.
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(ReadError::Io);
                }
                continue;
            }
            let mut stream = Stream {
                up: self.clone(),
                conn: Some(conn),
                framing,
                reuse,
            };
            // The common case: the whole body came with the head.
            let body = match stream.take_complete() {
                Some(b) => RespBody::Full(b),
                None => RespBody::Stream(stream),
            };
            return Ok(Response { head, body });
        }
    }
}

enum ReadError {
    /// The connection ended before any byte of a response.
    Closed,
    /// A read failed, or the response broke the protocol.
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

fn proto(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads what the socket has into the connection's buffer; 0 at the end of stream.
async fn read_more(conn: &mut Conn) -> io::Result<usize> {
    poll_fn(|cx| poll_read_more(&mut conn.io, &mut conn.buf, cx)).await
}

pub(crate) fn poll_read_more(
    io: &mut TcpStream,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_CHUNK);
    }
    // `read_buf` fills the spare capacity without zeroing it; its future holds nothing but the
    // two references, so dropping it while pending loses nothing.
    std::pin::pin!(io.read_buf(buf)).poll(cx)
}

/// Writes the request head into `out`: the client's header lines as they came, but for
/// hop-by-hop ones, those named in `Connection`, framing (the router's own), and
/// `Authorization` when it is the platform's credential.
fn write_head(out: &mut Vec<u8>, h: &Head<'_>, host: &HeaderValue) {
    out.clear();
    out.extend_from_slice(h.req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(h.req.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    let named = h.req.headers.connection_named();
    h.req.headers.for_each(|k, v| {
        let skip = match kind(k) {
            Kind::EndToEnd | Kind::DateServer => {
                !named.is_empty() && named.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(k))
            }
            Kind::Authorization => h.strip_authorization,
            Kind::HopByHop | Kind::Framing => true,
        };
        if !skip {
            out.extend_from_slice(k);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
    });
    if h.proxied {
        out.extend_from_slice(b"k-proxy-request: activator\r\n");
    }
    match h.framing {
        ReqFraming::None => {}
        ReqFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        ReqFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Polls the body once: its next piece if one is ready now.
async fn data_now(body: &mut (dyn ClientBody + Send)) -> Option<Option<Result<Bytes, ()>>> {
    poll_fn(|cx| match body.poll_data(cx) {
        Poll::Ready(f) => Poll::Ready(Some(f)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

async fn next_data(body: &mut (dyn ClientBody + Send)) -> Option<Result<Bytes, ()>> {
    poll_fn(|cx| body.poll_data(cx)).await
}

/// Writes the head (already in `conn.wbuf`) and streams the body after it: frames that are
/// ready are gathered (up to [`WRITE_CHUNK`]) and written together; the buffer is written as
/// soon as the client has nothing more ready, so a slow upload streams instead of waiting.
async fn send_body(
    conn: &mut Conn,
    b: &mut ReqBody<'_>,
    framing: ReqFraming,
) -> Result<(), UpError> {
    let chunked = framing == ReqFraming::Chunked;
    let mut total: u64 = 0;
    let mut lease = Lease::empty();
    loop {
        let f = match data_now(b.body).await {
            Some(f) => f,
            None => {
                // Nothing ready: send what is gathered, then wait for the client.
                flush(conn, &mut lease).await?;
                next_data(b.body).await
            }
        };
        match f {
            None => break,
            Some(Err(())) => return Err(UpError::ClientBody),
            Some(Ok(data)) => {
                if data.is_empty() {
                    continue;
                }
                total += data.len() as u64;
                if total > b.max {
                    return Err(UpError::TooLarge);
                }
                // In-flight bytes are bounded globally: wait for room (the request's deadline
                // bounds the wait).
                lease.add(b.budget.acquire(data.len()).await);
                if chunked {
                    conn.wbuf
                        .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                    conn.wbuf.extend_from_slice(&data);
                    conn.wbuf.extend_from_slice(b"\r\n");
                } else {
                    conn.wbuf.extend_from_slice(&data);
                }
                if conn.wbuf.len() >= WRITE_CHUNK {
                    flush(conn, &mut lease).await?;
                }
            }
        }
    }
    if let ReqFraming::Length(n) = framing
        && total != n
    {
        return Err(UpError::ClientBody);
    }
    if chunked {
        conn.wbuf.extend_from_slice(b"0\r\n\r\n");
    }
    flush(conn, &mut lease).await
}

async fn flush(conn: &mut Conn, lease: &mut Lease) -> Result<(), UpError> {
    if !conn.wbuf.is_empty() {
        let r = conn.io.write_all(&conn.wbuf).await;
        conn.wbuf.clear();
        if conn.wbuf.capacity() > 4 * WRITE_CHUNK {
            conn.wbuf.shrink_to(WRITE_CHUNK);
        }
        r.map_err(|_| UpError::Instance)?;
    }
    lease.release();
    Ok(())
}

type Parsed = (RawHead, Framing, bool);

/// Parses a response head at the start of `buf` and takes it off the buffer: `None` when it is
/// incomplete (nothing is taken). The lines passed on stay in the head's bytes (no copy).
///
/// As nginx's `proxy_pass` does, the instance's `Date` and `Server` are not passed on (the
/// router answers with its own `Date`).
fn parse_head(buf: &mut BytesMut, method: &Method) -> io::Result<Option<Parsed>> {
    // Uninitialised slots: no 3 KB of empty headers written per response.
    let mut raw = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut []);
    let parsed =
        httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut r, buf, &mut raw);
    let len = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(proto(&format!("malformed response head: {e}"))),
    };
    let status = r
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| proto("bad status code"))?;
    let http10 = r.version == Some(0);
    let base = buf.as_ptr() as usize;
    let at = |s: &[u8]| ((s.as_ptr() as usize - base) as u32, s.len() as u32);
    let mut lines: Vec<Line> = Vec::with_capacity(r.headers.len());
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut te = false;
    let mut close = http10;
    let mut keep_alive = false;
    let mut named: Vec<String> = Vec::new();
    for h in r.headers.iter() {
        let name = h.name.as_bytes();
        match kind(name) {
            Kind::EndToEnd => lines.push(Line {
                name: at(name),
                value: at(h.value),
            }),
            Kind::Framing if name.eq_ignore_ascii_case(b"content-length") => {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| proto("bad content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(proto("conflicting content-length"));
                }
                length = Some(n);
            }
            Kind::Framing if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                te = true;
                chunked = h
                    .value
                    .rsplit(|&c| c == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            Kind::HopByHop if name.eq_ignore_ascii_case(b"connection") => {
                for t in h.value.split(|&c| c == b',') {
                    let t = t.trim_ascii();
                    if t.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    } else if !t.is_empty() {
                        named.push(String::from_utf8_lossy(t).to_ascii_lowercase());
                    }
                }
            }
            _ => {}
        }
    }
    if !named.is_empty() {
        let head = &buf[..];
        lines.retain(|l| {
            let n = &head[l.name.0 as usize..(l.name.0 + l.name.1) as usize];
            !named.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(n))
        });
    }
    if http10 && keep_alive {
        close = false;
    }
    let no_body = *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        Framing::Length(0)
    } else if te {
        if chunked {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::Close
        }
    } else {
        match length {
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    let declared_len = if te || status == StatusCode::NO_CONTENT {
        None
    } else {
        length
    };
    let bytes = buf.split_to(len).freeze();
    let reuse = !close && framing != Framing::Close;
    let head = RawHead {
        status,
        bytes,
        lines,
        declared_len,
    };
    Ok(Some((head, framing, reuse)))
}

impl Stream {
    /// The whole body, when it is in the buffer already (the connection goes back to the pool).
    fn take_complete(&mut self) -> Option<Bytes> {
        let Framing::Length(n) = self.framing else {
            return None;
        };
        let conn = self.conn.as_mut()?;
        if (conn.buf.len() as u64) < n {
            return None;
        }
        let n = n as usize;
        // Small bodies are copied so the read buffer stays the connection's own.
        let body = if n <= 4096 {
            let b = Bytes::copy_from_slice(&conn.buf[..n]);
            conn.buf.advance(n);
            b
        } else {
            conn.buf.split_to(n).freeze()
        };
        self.framing = Framing::Length(0);
        self.finish();
        Some(body)
    }

    /// The body ended: the connection goes back to the pool when it may.
    fn finish(&mut self) {
        if let Some(c) = self.conn.take()
            && self.reuse
            && c.buf.is_empty()
        {
            self.up.checkin(c);
        }
    }

    /// The next piece of the body; `None` at its end.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match self.framing {
                Framing::Length(0) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Framing::Length(n) => {
                    if conn.buf.is_empty() {
                        let got = ready!(poll_read_more(&mut conn.io, &mut conn.buf, cx))?;
                        if got == 0 {
                            return Poll::Ready(Some(Err(proto("the instance closed mid-body"))));
                        }
                    }
                    let take = (conn.buf.len() as u64).min(n) as usize;
                    self.framing = Framing::Length(n - take as u64);
                    return Poll::Ready(Some(Ok(conn.buf.split_to(take).freeze())));
                }
                Framing::Close => {
                    if conn.buf.is_empty() {
                        let got = ready!(poll_read_more(&mut conn.io, &mut conn.buf, cx))?;
                        if got == 0 {
                            self.conn = None;
                            return Poll::Ready(None);
                        }
                    }
                    let n = conn.buf.len();
                    return Poll::Ready(Some(Ok(conn.buf.split_to(n).freeze())));
                }
                Framing::Chunked(state) => match decode_chunk(&mut conn.buf, state)? {
                    Decoded::Data(b, next) => {
                        self.framing = Framing::Chunked(next);
                        return Poll::Ready(Some(Ok(b)));
                    }
                    Decoded::Next(next) => self.framing = Framing::Chunked(next),
                    Decoded::End => {
                        self.framing = Framing::Length(0);
                    }
                    Decoded::More => {
                        if conn.buf.len() > MAX_HEAD {
                            return Poll::Ready(Some(Err(proto("chunk header too large"))));
                        }
                        let got = ready!(poll_read_more(&mut conn.io, &mut conn.buf, cx))?;
                        if got == 0 {
                            return Poll::Ready(Some(Err(proto("the instance closed mid-body"))));
                        }
                    }
                },
            }
        }
    }

    /// True (and the connection back in its pool) once a body of known length was read whole;
    /// a client of such a body need not poll past its last byte.
    pub fn complete(&mut self) -> bool {
        if self.framing == Framing::Length(0) {
            self.finish();
            return true;
        }
        false
    }

    /// The exact remaining length, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }
}

/// One step of a chunked decoder.
pub(crate) enum Decoded {
    Data(Bytes, Chunk),
    Next(Chunk),
    End,
    More,
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// One step of the chunked decoder over `buf`.
pub(crate) fn decode_chunk(buf: &mut BytesMut, state: Chunk) -> io::Result<Decoded> {
    match state {
        Chunk::Size => {
            let Some(end) = find_crlf(buf) else {
                return Ok(Decoded::More);
            };
            let line = &buf[..end];
            let hex = line
                .split(|&c| c == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let size = std::str::from_utf8(hex)
                .ok()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or_else(|| proto("bad chunk size"))?;
            buf.advance(end + 2);
            Ok(Decoded::Next(if size == 0 {
                Chunk::Trailers
            } else {
                Chunk::Data(size)
            }))
        }
        Chunk::Data(n) => {
            if buf.is_empty() {
                return Ok(Decoded::More);
            }
            let take = (buf.len() as u64).min(n) as usize;
            let data = buf.split_to(take).freeze();
            let left = n - take as u64;
            Ok(Decoded::Data(
                data,
                if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                },
            ))
        }
        Chunk::DataEnd => {
            if buf.len() < 2 {
                return Ok(Decoded::More);
            }
            if &buf[..2] != b"\r\n" {
                return Err(proto("chunk not followed by CRLF"));
            }
            buf.advance(2);
            Ok(Decoded::Next(Chunk::Size))
        }
        Chunk::Trailers => {
            let Some(end) = find_crlf(buf) else {
                return Ok(Decoded::More);
            };
            buf.advance(end + 2);
            Ok(if end == 0 {
                Decoded::End
            } else {
                Decoded::Next(Chunk::Trailers)
            })
        }
    }
}
