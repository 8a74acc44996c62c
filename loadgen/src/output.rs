//! `--output FILE`: one JSON line per request, in the order requests end, written by a thread
//! of its own so file I/O never stalls the request loop. Lines are formatted into a buffer on
//! the loop (about 150 bytes each, no allocation per line) and handed over 64 KiB at a time.
//!
//! ```text
//! {"index":41,"intended_us":205000,"sent_us":205013,"end_us":205410,"latency_us":410,"status":200,"outcome":"http_2xx","bytes":16}
//! {"index":42,"intended_us":210000,"sent_us":null,"end_us":210001,"latency_us":null,"status":null,"outcome":"queue_full","bytes":0}
//! ```
//!
//! Times are microseconds since the start of the run; `latency_us` counts from the intended
//! send time to the end of the response (or of the failed attempt) and is `null` for a request
//! that was never attempted (`not_sent`, `queue_full`); `status` is `null` without a response.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::LoadError;
use crate::outcome::Outcome;
use crate::recorder::Done;
use crate::writer::FileThread;

const CHUNK: usize = 64 * 1024;

/// A running per-request log writer.
pub(crate) struct OutputLog {
    buf: Vec<u8>,
    thread: FileThread<Vec<u8>>,
    path: PathBuf,
}

impl OutputLog {
    /// Creates (truncates) the file.
    pub(crate) fn create(path: &Path) -> Result<OutputLog, LoadError> {
        let thread = FileThread::start(path, "output", |out, rx: mpsc::Receiver<Vec<u8>>| {
            for chunk in rx {
                out.write_all(&chunk).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .map_err(|reason| LoadError::Output {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(OutputLog {
            buf: Vec::with_capacity(CHUNK + 512),
            thread,
            path: path.to_path_buf(),
        })
    }

    /// Appends the line of one request.
    pub(crate) fn line(&mut self, d: &Done) {
        let us = |t: scalelab_core::Time| t.as_nanos() / 1000;
        let b = &mut self.buf;
        // Writing into a Vec cannot fail.
        let _ = write!(
            b,
            "{{\"index\":{},\"intended_us\":{},\"sent_us\":",
            d.index,
            us(d.intended)
        );
        match d.sent {
            Some(t) => {
                let _ = write!(b, "{}", us(t));
            }
            None => b.extend_from_slice(b"null"),
        }
        let _ = write!(b, ",\"end_us\":{},\"latency_us\":", us(d.end));
        if matches!(d.outcome, Outcome::NotSent | Outcome::QueueFull) {
            b.extend_from_slice(b"null");
        } else {
            let _ = write!(b, "{}", us(d.end).saturating_sub(us(d.intended)));
        }
        b.extend_from_slice(b",\"status\":");
        match d.status {
            Some(s) => {
                let _ = write!(b, "{s}");
            }
            None => b.extend_from_slice(b"null"),
        }
        let _ = writeln!(
            b,
            ",\"outcome\":\"{}\",\"bytes\":{}}}",
            d.outcome.name(),
            d.bytes
        );
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 512));
        self.thread.send(chunk);
    }

    /// Writes what is buffered, closes the file and reports the first error.
    pub(crate) fn finish(mut self) -> Result<(), LoadError> {
        self.flush();
        let path = self.path;
        self.thread
            .finish()
            .map_err(|reason| LoadError::Output { path, reason })
    }
}
