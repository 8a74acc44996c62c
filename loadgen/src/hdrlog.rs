//! `--hdr-log FILE`: the standard HdrHistogram interval log (one compressed latency histogram
//! per second, base64, as jHiccup, wrk2 and HdrHistogram's `HistogramLogProcessor` read it),
//! written by the hdrhistogram crate's interval log writer on a thread of its own so file I/O
//! never stalls the request loop.
//!
//! Values are microseconds from each request's intended send time; the `Interval_Max` column
//! is in milliseconds (`MaxValueDivisor` 1000).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

use crate::LoadError;

/// One interval to write.
pub(crate) struct Interval {
    pub hist: Histogram<u64>,
    pub start: Duration,
    pub length: Duration,
}

/// A running log writer.
pub(crate) struct HdrLog {
    tx: Option<mpsc::Sender<Interval>>,
    thread: Option<JoinHandle<Result<(), String>>>,
    path: PathBuf,
}

impl HdrLog {
    /// Creates the file and writes the header (`StartTime` is the run's epoch).
    pub(crate) fn create(
        path: &Path,
        start: SystemTime,
        comment: &str,
    ) -> Result<HdrLog, LoadError> {
        let err = |reason: String| LoadError::HdrLog {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::create(path).map_err(|e| err(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<Interval>();
        let comment = comment.to_string();
        let thread = std::thread::Builder::new()
            .name("hdr-log".into())
            .spawn(move || -> Result<(), String> {
                let mut out = BufWriter::new(file);
                let mut serializer = V2DeflateSerializer::new();
                let mut log = IntervalLogWriterBuilder::new()
                    .add_comment(&comment)
                    .add_comment("[Histogram log format version 1.3]")
                    .add_comment("[values in microseconds from the intended send time]")
                    .with_start_time(start)
                    .with_max_value_divisor(1000.0)
                    .begin_log_with(&mut out, &mut serializer)
                    .map_err(|e| e.to_string())?;
                for i in rx {
                    log.write_histogram(&i.hist, i.start, i.length, None)
                        .map_err(|e| e.to_string())?;
                }
                drop(log);
                out.flush().map_err(|e| e.to_string())
            })
            .map_err(|e| err(e.to_string()))?;
        Ok(HdrLog {
            tx: Some(tx),
            thread: Some(thread),
            path: path.to_path_buf(),
        })
    }

    /// Queues one interval.
    pub(crate) fn write(&self, interval: Interval) {
        if let Some(tx) = &self.tx {
            // A send fails only when the writer thread stopped on an I/O error, which `finish`
            // reports.
            let _ = tx.send(interval);
        }
    }

    /// Writes what is queued, closes the file and reports the first error.
    pub(crate) fn finish(mut self) -> Result<(), LoadError> {
        self.tx = None;
        let err = |reason: String| LoadError::HdrLog {
            path: self.path.clone(),
            reason,
        };
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(e))) => Err(err(e)),
            Some(Err(_)) => Err(err("the writer thread panicked".into())),
        }
    }
}
