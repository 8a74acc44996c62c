//! The HTTP/1.1 client of the request loop: one request at a time on a dedicated connection,
//! the request written from bytes prepared once before the run, the response head parsed with
//! `httparse` (hyper's own parser) straight from a reused read buffer, the body counted and
//! dropped.
//!
//! Why not hyper's client here: measured against wrk on loopback (BENCHMARKS.md), hyper's
//! `client::conn::http1` driven in the sending task spends ≈ 2.9 µs of user CPU per request
//! (its dispatch channel, a oneshot and a body channel per request, a header map built for
//! every response, buffer copies), about six times wrk's whole user-space cost; the
//! generator's CPU per request was 1.45 × wrk's. A load generator only needs the status, the
//! framing of the body and whether the connection stays open, and this does exactly that with
//! no allocation per request. HTTP/2 stays on hyper ([`crate::pool`]).
//!
//! What it handles: `Content-Length` and chunked bodies (with trailers), bodies delimited by
//! the connection's close, 1xx interim responses (skipped), responses without a body (HEAD,
//! 204, 304), `Connection: close` and HTTP/1.0 keep-alive rules. A response it cannot frame is
//! a protocol error and the connection is dropped; nothing is pipelined.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::conn::Io;
use crate::outcome::Outcome;

/// Most response header lines read (more is a protocol error: no server sends that many).
const MAX_HEADERS: usize = 100;
/// The read buffer; a larger response head is a protocol error.
const BUF: usize = 16 * 1024;

/// How one exchange ended on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body_bytes: u64,
}

/// A dedicated HTTP/1.1 connection.
pub(crate) struct H1Conn {
    io: Io,
    buf: Box<[u8]>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    usable: bool,
}

enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

impl H1Conn {
    pub(crate) fn new(io: Io) -> H1Conn {
        H1Conn {
            io,
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            usable: true,
        }
    }

    /// Whether another request may be sent (false after `Connection: close`, an error, or a
    /// response delimited by the close).
    pub(crate) fn is_usable(&self) -> bool {
        self.usable
    }

    /// Lets a connection that sat idle notice a close by the server before a request is
    /// written into it: one non-blocking read. Anything but "nothing to read yet" (the end of
    /// the stream, an error, bytes nobody asked for) makes it unusable.
    pub(crate) async fn check_idle(&mut self) {
        let mut probe = [0u8; 1];
        let alive = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(&mut probe);
            match std::pin::Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                std::task::Poll::Pending => std::task::Poll::Ready(true),
                std::task::Poll::Ready(_) => std::task::Poll::Ready(false),
            }
        })
        .await;
        if !alive {
            self.usable = false;
        }
    }

    /// Writes the request (flushing TLS). Marks the connection unusable on failure.
    pub(crate) async fn write(&mut self, request: &[u8]) -> Result<(), Outcome> {
        let r = async {
            self.io.write_all(request).await?;
            self.io.flush().await
        }
        .await;
        r.map_err(|e| {
            self.usable = false;
            io_outcome(&e)
        })
    }

    /// Reads one complete response. `head` is true for a HEAD request (no body follows).
    /// Marks the connection unusable when the response ends it or cannot be read.
    pub(crate) async fn read_response(&mut self, head: bool) -> Result<Response, Outcome> {
        let r = self.read_response_inner(head).await;
        if r.is_err() {
            self.usable = false;
        }
        r
    }

    async fn read_response_inner(&mut self, head: bool) -> Result<Response, Outcome> {
        loop {
            let (status, framing, keep_alive, head_len) = loop {
                match self.parse_head()? {
                    Some(parsed) => break parsed,
                    None => {
                        if self.fill().await? == 0 {
                            // The server closed before a complete head: a reset if nothing at
                            // all came back, otherwise a truncated (invalid) response.
                            return Err(if self.end == self.start {
                                Outcome::Reset
                            } else {
                                Outcome::Protocol
                            });
                        }
                    }
                }
            };
            self.start += head_len;
            if (100..200).contains(&status) && status != 101 {
                // Interim response (100 Continue, 103 Early Hints): the final one follows.
                continue;
            }
            if !keep_alive {
                self.usable = false;
            }
            let no_body = head || status == 204 || status == 304 || (100..200).contains(&status);
            let body_bytes = if no_body {
                0
            } else {
                match framing {
                    Framing::Length(n) => self.skip(n).await?,
                    Framing::Chunked => self.skip_chunked().await?,
                    Framing::UntilClose => {
                        self.usable = false;
                        self.skip_to_close().await?
                    }
                }
            };
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else {
                // Bytes beyond the response: the server answered something not asked for.
                self.usable = false;
            }
            return Ok(Response { status, body_bytes });
        }
    }

    /// Parses a response head at the front of the buffer: `None` if incomplete.
    fn parse_head(&mut self) -> Result<Option<(u16, Framing, bool, usize)>, Outcome> {
        // Uninitialised: filling 100 empty headers for every response cost more than parsing.
        let mut headers =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        let n = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut resp,
            &self.buf[self.start..self.end],
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if self.end - self.start == self.buf.len() {
                    return Err(Outcome::Protocol); // a head larger than the buffer
                }
                return Ok(None);
            }
            Err(_) => return Err(Outcome::Protocol),
        };
        let status = resp.code.ok_or(Outcome::Protocol)?;
        let http10 = resp.version == Some(0);
        let mut length = None;
        let mut chunked = false;
        let mut keep_alive = !http10;
        for h in resp.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or(Outcome::Protocol)?;
                if length.is_some_and(|l| l != v) {
                    return Err(Outcome::Protocol);
                }
                length = Some(v);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // Chunked must be the last coding; anything else cannot be framed.
                let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
                if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    chunked = true;
                } else {
                    return Err(Outcome::Protocol);
                }
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in h.value.split(|&b| b == b',') {
                    let t = token.trim_ascii();
                    if t.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    }
                }
            }
        }
        let framing = if chunked {
            Framing::Chunked
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        Ok(Some((status, framing, keep_alive, n)))
    }

    /// Reads more bytes after the unconsumed ones; returns how many (0: end of stream).
    async fn fill(&mut self) -> Result<usize, Outcome> {
        if self.start > 0 && (self.end == self.buf.len() || self.start == self.end) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(Outcome::Protocol);
        }
        let n = self
            .io
            .read(&mut self.buf[self.end..])
            .await
            .map_err(|e| io_outcome(&e))?;
        self.end += n;
        Ok(n)
    }

    /// Consumes `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> Result<u64, Outcome> {
        let total = n;
        loop {
            let have = (self.end - self.start) as u64;
            if have >= n {
                self.start += n as usize;
                return Ok(total);
            }
            n -= have;
            self.start = 0;
            self.end = 0;
            if self.fill().await? == 0 {
                return Err(Outcome::Reset); // closed mid-body
            }
        }
    }

    /// Consumes a chunked body and its trailers; returns the payload size.
    async fn skip_chunked(&mut self) -> Result<u64, Outcome> {
        let mut total = 0u64;
        loop {
            // Chunk size line.
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.fill().await? == 0 {
                            return Err(Outcome::Reset);
                        }
                    }
                    Err(_) => return Err(Outcome::Protocol),
                }
            };
            if size == 0 {
                return self.skip_trailers().await.map(|()| total);
            }
            total += self.skip(size).await?;
            self.expect_crlf().await?;
        }
    }

    async fn expect_crlf(&mut self) -> Result<(), Outcome> {
        while self.end - self.start < 2 {
            if self.fill().await? == 0 {
                return Err(Outcome::Reset);
            }
        }
        if &self.buf[self.start..self.start + 2] != b"\r\n" {
            return Err(Outcome::Protocol);
        }
        self.start += 2;
        Ok(())
    }

    /// Trailer lines after the last chunk, up to the empty line.
    async fn skip_trailers(&mut self) -> Result<(), Outcome> {
        loop {
            let line_end = self.buf[self.start..self.end]
                .windows(2)
                .position(|w| w == b"\r\n");
            match line_end {
                Some(0) => {
                    self.start += 2;
                    return Ok(());
                }
                Some(i) => self.start += i + 2,
                None => {
                    if self.fill().await? == 0 {
                        return Err(Outcome::Reset);
                    }
                }
            }
        }
    }

    /// A body delimited by the end of the connection.
    async fn skip_to_close(&mut self) -> Result<u64, Outcome> {
        let mut total = (self.end - self.start) as u64;
        self.start = 0;
        self.end = 0;
        loop {
            let n = self.fill().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            self.start = 0;
            self.end = 0;
        }
    }
}

fn io_outcome(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::InvalidData => Outcome::Protocol,
        _ => Outcome::Reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// Serves `reply` (split into the given pieces) to one connection and returns a client on it.
    async fn conn_with(pieces: Vec<&'static [u8]>) -> H1Conn {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            for p in pieces {
                s.write_all(p).await.unwrap();
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            // Keep the socket open a little unless the reply was meant to end with it.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        H1Conn::new(Io::Plain(tcp))
    }

    /// One response read from a server that sends `pieces`: (status, body bytes) or the
    /// outcome, and whether the connection can carry another request.
    async fn read(pieces: Vec<&'static [u8]>, head: bool) -> (Result<(u16, u64), Outcome>, bool) {
        let mut c = conn_with(pieces).await;
        let r = c.read_response(head).await;
        (r.map(|r| (r.status, r.body_bytes)), c.is_usable())
    }

    #[tokio::test]
    async fn content_length_chunked_and_interim_responses() {
        let interim: Vec<&[u8]> = vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe",
            b"llo",
        ];
        assert_eq!(read(interim, false).await, (Ok((200, 5)), true));
        let chunked: Vec<&[u8]> = vec![
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npe",
            b"dia\r\n0\r\nX-Trailer: 1\r\n\r\n",
        ];
        assert_eq!(read(chunked, false).await, (Ok((201, 9)), true));
        let close = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        assert_eq!(read(vec![close], false).await, (Ok((204, 0)), false));
        // HEAD: a Content-Length but no body.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        assert_eq!(read(vec![head], true).await, (Ok((200, 0)), true));
    }

    #[tokio::test]
    async fn close_delimited_bodies_and_http10() {
        let pieces: Vec<&[u8]> = vec![b"HTTP/1.0 200 OK\r\n\r\nabc", b"def"];
        assert_eq!(read(pieces, false).await, (Ok((200, 6)), false));
    }

    #[tokio::test]
    async fn broken_responses_are_classified() {
        for (reply, outcome) in [
            (&b"SPLORK 9000 \x00\x01\r\n\r\n"[..], Outcome::Protocol),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                Outcome::Reset,
            ),
            (b"", Outcome::Reset),
            (b"HTTP/1.1 200 OK\r\nContent-Le", Outcome::Protocol),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                Outcome::Protocol,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                Outcome::Protocol,
            ),
        ] {
            let pieces = if reply.is_empty() {
                vec![]
            } else {
                vec![reply]
            };
            let got = read(pieces, false).await;
            assert_eq!(
                got,
                (Err(outcome), false),
                "{}",
                String::from_utf8_lossy(reply)
            );
        }
    }
}
