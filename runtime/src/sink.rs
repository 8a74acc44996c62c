//! JSON-lines files written off the request path: the event log and the request log. Lines go
//! through a channel to a writer thread, so no file I/O happens under the platform's locks or
//! on tokio's workers. The first write error is kept and reported when the sink is closed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;

/// A line-oriented file with a writer thread. Shared by reference: every method takes `&self`.
pub struct Sink {
    tx: Mutex<Option<mpsc::Sender<String>>>,
    thread: Mutex<Option<JoinHandle<Result<(), crate::Error>>>>,
    path: PathBuf,
}

impl Sink {
    /// Creates (truncates) `path` and starts the writer.
    pub fn create(path: &Path) -> std::io::Result<Sink> {
        let file = File::create(path)?;
        let (tx, rx) = mpsc::channel::<String>();
        let owned = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("scalelab-sink".into())
            .spawn(move || {
                let mut w = BufWriter::new(file);
                let err = |source: std::io::Error| crate::Error::Write {
                    path: owned.clone(),
                    source,
                };
                while let Ok(line) = rx.recv() {
                    writeln!(w, "{line}").map_err(err)?;
                    // Write whatever else is already queued, then flush once, so the file is
                    // readable while the run goes on without a syscall per line under load.
                    while let Ok(line) = rx.try_recv() {
                        writeln!(w, "{line}").map_err(err)?;
                    }
                    w.flush().map_err(err)?;
                }
                w.flush().map_err(err)
            })?;
        Ok(Sink {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            path: path.to_path_buf(),
        })
    }

    /// Queues one line (without its newline).
    pub fn line(&self, line: String) {
        if let Some(tx) = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            // A send fails only when the writer stopped on an error, reported by `close`.
            let _ = tx.send(line);
        }
    }

    /// Queues a value serialised as one JSON line.
    pub fn json<T: serde::Serialize>(&self, v: &T) {
        if let Ok(s) = serde_json::to_string(v) {
            self.line(s);
        }
    }

    /// Stops the writer after the queued lines; the first error, if any.
    pub fn close(&self) -> Result<(), crate::Error> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match thread {
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(crate::Error::WriterPanicked {
                    path: self.path.clone(),
                })
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_arrive_in_order() {
        let dir = std::env::temp_dir().join(format!("scalelab-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.jsonl");
        let s = Sink::create(&p).unwrap();
        for i in 0..100 {
            s.json(&serde_json::json!({ "i": i }));
        }
        s.close().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let got: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
