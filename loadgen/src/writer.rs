//! A file written by a thread of its own, fed through a channel, so file I/O never stalls the
//! request loop (`--output`, `--hdr-log`). The first I/O error stops the thread; `finish` reports
//! it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// A running writer thread taking `T`s.
pub(crate) struct FileThread<T> {
    tx: Option<mpsc::Sender<T>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl<T: Send + 'static> FileThread<T> {
    /// Creates (truncates) `path` and starts `name`, which runs `body` with the buffered file and
    /// the items sent; the file is flushed after `body` returns.
    pub(crate) fn start(
        path: &Path,
        name: &str,
        body: impl FnOnce(&mut BufWriter<File>, mpsc::Receiver<T>) -> Result<(), String>
        + Send
        + 'static,
    ) -> Result<FileThread<T>, String> {
        let file = File::create(path).map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel::<T>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || -> Result<(), String> {
                let mut out = BufWriter::new(file);
                body(&mut out, rx)?;
                out.flush().map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?;
        Ok(FileThread {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues one item. A send fails only when the thread stopped on an I/O error, which
    /// `finish` reports.
    pub(crate) fn send(&self, item: T) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(item);
        }
    }

    /// Closes the channel, waits for the thread and reports its first error.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            None => Ok(()),
            Some(Err(_)) => Err("the writer thread panicked".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_is_sent_and_reports_a_failed_create() {
        let dir = std::env::temp_dir().join(format!("scalelab-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.txt");
        let w = FileThread::start(&path, "test", |out, rx| {
            for line in rx {
                writeln!(out, "{line}").map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .unwrap();
        w.send("a".to_string());
        w.send("b".to_string());
        w.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        let bad = dir.join("missing-dir").join("x");
        assert!(FileThread::<String>::start(&bad, "test", |_, _| Ok(())).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
