//! The router's HTTP/1.1 server: one task per client connection, reading request heads with
//! `httparse` into one buffer, handing the router a view of the head (header lines stay where
//! they were read), streaming the request body from the same buffer, and writing the answer
//! itself: an instance's header lines pass through as they came, with the router's own
//! (`x-scalelab-*`, `date`, framing) after them. A connection that opens with the HTTP/2
//! preface is handed to hyper.
//!
//! Why not hyper for HTTP/1.1 too: building a `HeaderMap` for every request and every proxied
//! answer, and hyper's dispatch around each, cost about as much CPU per request as nginx spends
//! on a whole proxied request; a proxy that passes header lines through does not need them.
//!
//! What it accepts and refuses (RFC 9112):
//! - `Content-Length` or `Transfer-Encoding: chunked` request bodies; both at once, differing
//!   lengths, or another final transfer coding are refused with 400 and the connection closed
//!   (no request smuggling through the router);
//! - heads up to 64 KiB (431 beyond) and 100 header lines; a malformed head is a 400;
//! - `Expect: 100-continue` is answered `100 Continue` as soon as the head is read;
//! - keep-alive by default for HTTP/1.1, on request for HTTP/1.0; pipelined requests are
//!   answered in order; an unread rest of a body up to 64 KiB is drained before the next
//!   request, a longer one closes the connection;
//! - a bodiless request whose client closes the connection while it waits or runs is
//!   abandoned at once (its queue place or instance slot is given back).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::Body as _;
use hyper::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::body::{ClientBody, NoBody};
use crate::front::{self, Front, Out, OutHead};
use crate::head::{Headers, Line, ReqHead};
use crate::server::ConnState;
use crate::upstream::{Chunk, Decoded, decode_chunk, poll_read_more};

/// The largest request head.
const MAX_HEAD: usize = 64 * 1024;
/// Request header lines accepted.
const MAX_HEADERS: usize = 100;
/// The rest of an unread request body drained to keep a connection (more closes it).
const MAX_DRAIN: u64 = 64 * 1024;
/// Bodies up to this size are copied behind the head: one write per answer.
const COPY_BODY: usize = 16 * 1024;
/// The HTTP/2 connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    Done,
    /// Broken off, or malformed: the connection cannot be reused.
    Failed,
}

/// A parsed request head.
struct Parsed {
    len: usize,
    method: Method,
    /// Path and query (origin form), as a range of the head.
    target: (usize, usize),
    http10: bool,
    lines: Vec<Line>,
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
}

/// Why a head is refused.
enum Bad {
    Incomplete,
    Status(StatusCode, &'static str),
}

fn parse(buf: &[u8]) -> Result<Parsed, Bad> {
    let mut raw = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut r, buf, &mut raw)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(Bad::Incomplete),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Bad::Status(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too-many-headers",
            ));
        }
        Err(_) => return Err(Bad::Status(StatusCode::BAD_REQUEST, "malformed-request")),
    };
    let bad = || Bad::Status(StatusCode::BAD_REQUEST, "malformed-request");
    let method = Method::from_bytes(r.method.unwrap_or("").as_bytes()).map_err(|_| bad())?;
    let http10 = r.version == Some(0);
    let base = buf.as_ptr() as usize;
    let at = |s: &[u8]| ((s.as_ptr() as usize - base) as u32, s.len() as u32);
    let path = r.path.unwrap_or("");
    let target = if path.starts_with('/') || path == "*" {
        at(path.as_bytes())
    } else if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        // Absolute form: the path after the authority.
        match rest.find('/') {
            Some(i) => at(&rest.as_bytes()[i..]),
            None => (0, 0),
        }
    } else {
        return Err(bad());
    };
    let target = (target.0 as usize, (target.0 + target.1) as usize);
    let mut lines = Vec::with_capacity(r.headers.len());
    let mut length: Option<u64> = None;
    let mut te: Option<bool> = None;
    let mut close = false;
    let mut keep = false;
    let mut expect_continue = false;
    for h in r.headers.iter() {
        let name = h.name.as_bytes();
        let is = |s: &[u8]| name.eq_ignore_ascii_case(s);
        if name.len() == 14 && is(b"content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(bad)?;
            if length.is_some_and(|l| l != n) {
                return Err(bad());
            }
            length = Some(n);
        } else if name.len() == 17 && is(b"transfer-encoding") {
            let last_chunked = h
                .value
                .rsplit(|&c| c == b',')
                .next()
                .is_some_and(|l| l.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            te = Some(last_chunked);
        } else if name.len() == 10 && is(b"connection") {
            for t in h.value.split(|&c| c == b',') {
                let t = t.trim_ascii();
                close |= t.eq_ignore_ascii_case(b"close");
                keep |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.len() == 6 && is(b"expect") {
            expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
        lines.push(Line {
            name: at(name),
            value: at(h.value),
        });
    }
    let framing = match (te, length) {
        (Some(_), Some(_)) | (Some(false), None) => return Err(bad()),
        (Some(true), None) => Framing::Chunked(Chunk::Size),
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Done,
    };
    let keep_alive = if http10 { keep && !close } else { !close };
    Ok(Parsed {
        len,
        method,
        target,
        http10,
        lines,
        framing,
        keep_alive,
        expect_continue,
    })
}

/// A request body read from the connection's buffer and socket as the router asks for it.
struct BodyReader<'a> {
    io: &'a mut TcpStream,
    buf: &'a mut BytesMut,
    framing: Framing,
}

enum Fill {
    Got,
    Pending,
    Failed,
}

impl ClientBody for BodyReader<'_> {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>> {
        loop {
            match self.framing {
                Framing::Done => return Poll::Ready(None),
                Framing::Failed => return Poll::Ready(Some(Err(()))),
                Framing::Length(0) => {
                    self.framing = Framing::Done;
                    return Poll::Ready(None);
                }
                Framing::Length(n) => {
                    if self.buf.is_empty() {
                        match self.fill(cx) {
                            Fill::Got => {}
                            Fill::Pending => return Poll::Pending,
                            Fill::Failed => return Poll::Ready(Some(Err(()))),
                        }
                    }
                    let take = (self.buf.len() as u64).min(n) as usize;
                    self.framing = Framing::Length(n - take as u64);
                    return Poll::Ready(Some(Ok(self.buf.split_to(take).freeze())));
                }
                Framing::Chunked(state) => match decode_chunk(self.buf, state) {
                    Err(_) => {
                        self.framing = Framing::Failed;
                        return Poll::Ready(Some(Err(())));
                    }
                    Ok(Decoded::Data(b, next)) => {
                        self.framing = Framing::Chunked(next);
                        return Poll::Ready(Some(Ok(b)));
                    }
                    Ok(Decoded::Next(next)) => self.framing = Framing::Chunked(next),
                    Ok(Decoded::End) => self.framing = Framing::Done,
                    Ok(Decoded::More) => {
                        if self.buf.len() > MAX_HEAD {
                            self.framing = Framing::Failed;
                            return Poll::Ready(Some(Err(())));
                        }
                        match self.fill(cx) {
                            Fill::Got => {}
                            Fill::Pending => return Poll::Pending,
                            Fill::Failed => return Poll::Ready(Some(Err(()))),
                        }
                    }
                },
            }
        }
    }

    fn exact_len(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            Framing::Done => Some(0),
            _ => None,
        }
    }

    fn is_end(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Length(0))
    }
}

impl BodyReader<'_> {
    /// Reads more of the body into the buffer; the client closing mid-body is a failure.
    fn fill(&mut self, cx: &mut Context<'_>) -> Fill {
        match poll_read_more(self.io, self.buf, cx) {
            Poll::Pending => Fill::Pending,
            Poll::Ready(Ok(n)) if n > 0 => Fill::Got,
            Poll::Ready(_) => {
                self.framing = Framing::Failed;
                Fill::Failed
            }
        }
    }
}

/// Resolves when the client closed its connection (or it failed); pending while it stays
/// open or sends more (a pipelined request: then closing cannot be seen without reading it).
async fn client_gone(io: &TcpStream) {
    let mut b = [0u8; 1];
    match io.peek(&mut b).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Writes a plain answer of the router and closes (for a head it cannot serve).
async fn refuse_and_close(io: &mut TcpStream, status: StatusCode, reason: &'static str) {
    let mut w = Vec::with_capacity(256);
    w.extend_from_slice(b"HTTP/1.1 ");
    w.extend_from_slice(status.as_str().as_bytes());
    w.push(b' ');
    w.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    w.extend_from_slice(b"\r\nx-scalelab-reason: ");
    w.extend_from_slice(reason.as_bytes());
    w.extend_from_slice(b"\r\ncontent-type: text/plain; charset=utf-8\r\ndate: ");
    crate::clock::push_http_date(&mut w);
    w.extend_from_slice(b"\r\nconnection: close\r\ncontent-length: ");
    w.extend_from_slice(reason.len().to_string().as_bytes());
    w.extend_from_slice(b"\r\n\r\n");
    w.extend_from_slice(reason.as_bytes());
    let _ = io.write_all(&w).await;
    let _ = io.shutdown().await;
}

/// Serves one client connection until it closes, times out (its watchdog, beside this task),
/// or the router stops.
pub(crate) async fn serve(
    front: Arc<Front>,
    mut io: TcpStream,
    st: Arc<ConnState>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut first = true;
    loop {
        // A whole head, from what is buffered (pipelined) or more reads.
        let parsed = loop {
            if !buf.is_empty() {
                if first && H2_PREFACE.starts_with(&buf[..buf.len().min(H2_PREFACE.len())]) {
                    if buf.len() >= H2_PREFACE.len() {
                        crate::server::serve_h2(front, io, buf.freeze(), st, stop).await;
                        return;
                    }
                } else {
                    match parse(&buf) {
                        Ok(p) => break p,
                        Err(Bad::Incomplete) => {}
                        Err(Bad::Status(s, reason)) => {
                            refuse_and_close(&mut io, s, reason).await;
                            return;
                        }
                    }
                }
                if buf.len() >= MAX_HEAD {
                    refuse_and_close(
                        &mut io,
                        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "head-too-large",
                    )
                    .await;
                    return;
                }
            }
            let read = if buf.is_empty() {
                // Between requests: the router's stop ends an idle connection at once.
                tokio::select! {
                    biased;
                    r = poll_fn(|cx| poll_read_more(&mut io, &mut buf, cx)) => r,
                    _ = stop.changed() => return,
                }
            } else {
                poll_fn(|cx| poll_read_more(&mut io, &mut buf, cx)).await
            };
            match read {
                Ok(n) if n > 0 => st.on_read(),
                _ => return,
            }
        };
        first = false;
        let guard = st.begin();
        let head_bytes = buf.split_to(parsed.len).freeze();
        let target =
            std::str::from_utf8(&head_bytes[parsed.target.0..parsed.target.1]).unwrap_or("/");
        let target = if target.is_empty() { "/" } else { target };
        let req = ReqHead {
            method: &parsed.method,
            target,
            headers: Headers::Raw {
                buf: &head_bytes,
                lines: &parsed.lines,
            },
        };
        let has_body = parsed.framing != Framing::Done;
        if has_body
            && parsed.expect_continue
            && !parsed.http10
            && io
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let mut framing = parsed.framing;
        let answer = if has_body {
            let mut body = BodyReader {
                io: &mut io,
                buf: &mut buf,
                framing,
            };
            let a = front::route(&front, &req, &mut body).await;
            framing = body.framing;
            Some(a)
        } else {
            // A bodiless request is abandoned as soon as its client goes away.
            let mut none = NoBody;
            tokio::select! {
                biased;
                a = front::route(&front, &req, &mut none) => Some(a),
                _ = client_gone(&io) => None,
            }
        };
        let Some(mut answer) = answer else {
            return;
        };
        // What is left of the request body: drained if short, else the connection closes.
        let mut keep_alive =
            parsed.keep_alive && !front.draining.load(std::sync::atomic::Ordering::Relaxed);
        match framing {
            Framing::Done | Framing::Length(0) => {}
            Framing::Length(n) if n <= MAX_DRAIN => {
                let mut body = BodyReader {
                    io: &mut io,
                    buf: &mut buf,
                    framing,
                };
                // A client that never sends the rest cannot hold its slot: the drain gets the
                // header timeout, then the connection closes.
                let drain = async {
                    while let Some(r) = poll_fn(|cx| body.poll_data(cx)).await {
                        if r.is_err() {
                            return false;
                        }
                    }
                    true
                };
                if !matches!(
                    tokio::time::timeout(front.limits.header_timeout, drain).await,
                    Ok(true)
                ) {
                    keep_alive = false;
                }
            }
            _ => keep_alive = false,
        }
        let head_only = parsed.method == Method::HEAD;
        let written = write_answer(
            &mut io,
            &mut out,
            &mut answer,
            parsed.http10,
            head_only,
            keep_alive,
        )
        .await;
        drop(answer);
        drop(guard);
        match written {
            Ok(true) if keep_alive => {}
            _ => {
                let _ = io.shutdown().await;
                return;
            }
        }
    }
}

/// Writes an answer; `Ok(false)` when its framing needs the connection closed after it.
async fn write_answer(
    io: &mut TcpStream,
    w: &mut Vec<u8>,
    a: &mut Out,
    http10: bool,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<bool> {
    w.clear();
    w.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    w.extend_from_slice(a.status.as_str().as_bytes());
    w.push(b' ');
    w.extend_from_slice(a.status.canonical_reason().unwrap_or("").as_bytes());
    w.extend_from_slice(b"\r\n");
    let mut declared = None;
    match &a.head {
        OutHead::Own(m) => {
            for (k, v) in m {
                w.extend_from_slice(k.as_str().as_bytes());
                w.extend_from_slice(b": ");
                w.extend_from_slice(v.as_bytes());
                w.extend_from_slice(b"\r\n");
            }
        }
        OutHead::Upstream(raw) => {
            raw.for_each(|k, v| {
                w.extend_from_slice(k);
                w.extend_from_slice(b": ");
                w.extend_from_slice(v);
                w.extend_from_slice(b"\r\n");
            });
            declared = raw.declared_len;
        }
    }
    for (k, v) in [
        (&b"x-scalelab-revision: "[..], a.revision.as_ref()),
        (&b"x-scalelab-instance: "[..], a.instance.as_ref()),
    ] {
        if let Some(v) = v {
            w.extend_from_slice(k);
            w.extend_from_slice(v.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
    }
    if a.cold {
        w.extend_from_slice(b"x-scalelab-cold-start: 1\r\n");
    }
    w.extend_from_slice(b"date: ");
    crate::clock::push_http_date(w);
    w.extend_from_slice(b"\r\n");
    let code = a.status.as_u16();
    let bodiless = head_only || (100..200).contains(&code) || code == 204 || code == 304;
    let full = a.body.take_full();
    // Framing: a known length, chunks (HTTP/1.1), or the end of the connection (HTTP/1.0).
    let mut chunked = false;
    let mut keep = keep_alive;
    let length = match &full {
        Some(b) => Some(declared.filter(|_| bodiless).unwrap_or(b.len() as u64)),
        None => a.body.size_hint().exact().or(declared.filter(|_| bodiless)),
    };
    if code != 204 && !(100..200).contains(&code) {
        match length {
            Some(n) => {
                w.extend_from_slice(b"content-length: ");
                w.extend_from_slice(n.to_string().as_bytes());
                w.extend_from_slice(b"\r\n");
            }
            None if bodiless => {}
            None if http10 => keep = false,
            None => {
                chunked = true;
                w.extend_from_slice(b"transfer-encoding: chunked\r\n");
            }
        }
    }
    if !keep {
        w.extend_from_slice(b"connection: close\r\n");
    } else if http10 {
        w.extend_from_slice(b"connection: keep-alive\r\n");
    }
    w.extend_from_slice(b"\r\n");
    if let Some(b) = full {
        if bodiless || b.is_empty() {
            io.write_all(w).await?;
        } else if b.len() <= COPY_BODY {
            w.extend_from_slice(&b);
            io.write_all(w).await?;
        } else {
            io.write_all(w).await?;
            io.write_all(&b).await?;
        }
        return Ok(keep);
    }
    io.write_all(w).await?;
    if bodiless {
        // The instance's body (there is none) is not read: its connection is not reused.
        return Ok(keep);
    }
    let mut body = Pin::new(&mut a.body);
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let data = match frame {
            Ok(f) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
            Err(e) => return Err(io::Error::other(e)),
        };
        if data.is_empty() {
            continue;
        }
        if chunked {
            let size = format!("{:x}\r\n", data.len());
            io.write_all(size.as_bytes()).await?;
            io.write_all(&data).await?;
            io.write_all(b"\r\n").await?;
        } else {
            io.write_all(&data).await?;
        }
    }
    if chunked {
        io.write_all(b"0\r\n\r\n").await?;
    }
    Ok(keep)
}

/// A client connection's socket behind bytes already read from it (the HTTP/2 hand-over),
/// reporting reads to its watchdog.
pub(crate) struct Prepend {
    pub pre: Bytes,
    pub io: TcpStream,
    pub st: Arc<ConnState>,
}

impl AsyncRead for Prepend {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pre.is_empty() {
            let n = this.pre.len().min(buf.remaining());
            buf.put_slice(&this.pre.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.st.on_read();
        }
        r
    }
}

impl AsyncWrite for Prepend {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
