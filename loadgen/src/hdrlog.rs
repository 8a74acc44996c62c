//! `--hdr-log FILE`: the standard HdrHistogram interval log (one compressed latency histogram
//! per second, base64, as jHiccup, wrk2 and HdrHistogram's `HistogramLogProcessor` read it),
//! written by the hdrhistogram crate's interval log writer on a thread of its own so file I/O
//! never stalls the request loop.
//!
//! Values are microseconds from each request's intended send time; the `Interval_Max` column
//! is in milliseconds (`MaxValueDivisor` 1000).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

use crate::LoadError;
use crate::writer::FileThread;

/// One interval to write.
pub(crate) struct Interval {
    pub hist: Histogram<u64>,
    pub start: Duration,
    pub length: Duration,
}

/// A running log writer.
pub(crate) struct HdrLog {
    thread: FileThread<Interval>,
    path: PathBuf,
}

impl HdrLog {
    /// Creates the file and writes the header (`StartTime` is the run's epoch).
    pub(crate) fn create(
        path: &Path,
        start: SystemTime,
        comment: &str,
    ) -> Result<HdrLog, LoadError> {
        let comment = comment.to_string();
        let thread =
            FileThread::start(path, "hdr-log", move |out, rx: mpsc::Receiver<Interval>| {
                let mut serializer = V2DeflateSerializer::new();
                let mut log = IntervalLogWriterBuilder::new()
                    .add_comment(&comment)
                    .add_comment("[Histogram log format version 1.3]")
                    .add_comment("[values in microseconds from the intended send time]")
                    .with_start_time(start)
                    .with_max_value_divisor(1000.0)
                    .begin_log_with(out, &mut serializer)
                    .map_err(|e| e.to_string())?;
                for i in rx {
                    log.write_histogram(&i.hist, i.start, i.length, None)
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            })
            .map_err(|reason| LoadError::HdrLog {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(HdrLog {
            thread,
            path: path.to_path_buf(),
        })
    }

    /// Queues one interval.
    pub(crate) fn write(&self, interval: Interval) {
        self.thread.send(interval);
    }

    /// Writes what is queued, closes the file and reports the first error.
    pub(crate) fn finish(self) -> Result<(), LoadError> {
        let path = self.path;
        self.thread
            .finish()
            .map_err(|reason| LoadError::HdrLog { path, reason })
    }
}
