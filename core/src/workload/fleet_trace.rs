//! A fleet's arrival trace (`[trace]`): one CSV file of rows in time order, each naming a
//! service, read one row at a time.
//!
//! Two layouts, told apart by the header line:
//!
//! - `t_s,service,count`: `count` requests for `service` in the interval that starts `t_s`
//!   seconds into the run (the per-minute counts of the Azure Functions 2019 trace);
//! - `t_s,service,duration_s`: one request at `t_s`, which takes `duration_s` seconds
//!   (`duration_s` may be empty: the service's sampled service time applies) (the Azure
//!   Functions 2021 trace).
//!
//! Lines starting with `#` and blank lines are skipped. `t_s` never decreases from one row to
//! the next. [`TraceReader`] streams the file (its memory does not grow with the file);
//! [`scan`] reads it once to check every row and count the requests per service, and caches
//! the answer for the life of the process (variants and tuning candidates resolve the same file
//! again).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use crate::rng::SimRng;
use crate::scenario::{Spread, TraceFormat};

/// The header of a `counts` trace.
pub const COUNTS_HEADER: &str = "t_s,service,count";
/// The header of an `invocations` trace.
pub const INVOCATIONS_HEADER: &str = "t_s,service,duration_s";

/// The largest count one row may hold.
pub const MAX_COUNT: u64 = 1_000_000_000;

/// One row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// Its time, ns from the start of the run.
    pub t_ns: u64,
    /// The service, by index.
    pub service: u32,
    /// Requests (1 for an invocation).
    pub count: u64,
    /// An invocation's recorded duration, ns.
    pub duration_ns: Option<u64>,
}

/// Reads a trace file row by row.
pub struct TraceReader {
    lines: std::io::Lines<BufReader<File>>,
    path: PathBuf,
    format: TraceFormat,
    names: HashMap<String, u32>,
    line: u64,
    last: u64,
}

impl TraceReader {
    /// Opens `path` and reads its header; `services` are the names rows may give, in order.
    pub fn open(path: &Path, services: &[String]) -> Result<TraceReader, String> {
        if path.is_dir() {
            return Err(format!(
                "{}: is a directory, not a trace file",
                path.display()
            ));
        }
        let f = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut lines = BufReader::new(f).lines();
        let mut line = 0;
        let format = loop {
            line += 1;
            let Some(l) = lines.next() else {
                return Err(format!(
                    "{}: empty: expected the header `{COUNTS_HEADER}` or `{INVOCATIONS_HEADER}`",
                    path.display()
                ));
            };
            let l = l.map_err(|e| format!("{}:{line}: {e}", path.display()))?;
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = l.split(',').map(str::trim).collect();
            break match cols.as_slice() {
                ["t_s", "service", "count"] => TraceFormat::Counts,
                ["t_s", "service", "duration_s"] => TraceFormat::Invocations,
                _ => {
                    return Err(format!(
                        "{}:{line}: expected the header `{COUNTS_HEADER}` (counts per interval) \
                         or `{INVOCATIONS_HEADER}` (one row per request), found \"{}\"",
                        path.display(),
                        snippet(l)
                    ));
                }
            };
        };
        let names = services
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Ok(TraceReader {
            lines,
            path: path.to_path_buf(),
            format,
            names,
            line,
            last: 0,
        })
    }

    /// What the rows are.
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<TraceRow>, String> {
        loop {
            self.line += 1;
            let Some(l) = self.lines.next() else {
                return Ok(None);
            };
            let l = l.map_err(|e| self.at(e.to_string()))?;
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut cols = l.split(',').map(str::trim);
            let (Some(t), Some(svc), Some(third), None) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                return Err(self.at(format!(
                    "expected 3 columns ({}), found \"{}\"",
                    match self.format {
                        TraceFormat::Counts => COUNTS_HEADER,
                        TraceFormat::Invocations => INVOCATIONS_HEADER,
                    },
                    snippet(l)
                )));
            };
            let t_ns = seconds(t).map_err(|e| self.at(format!("t_s \"{}\": {e}", snippet(t))))?;
            if t_ns < self.last {
                return Err(self.at(format!(
                    "t_s {t} is earlier than the row before ({} s): rows must be in time order",
                    self.last as f64 / 1e9
                )));
            }
            self.last = t_ns;
            let service = *self.names.get(svc).ok_or_else(|| {
                self.at(format!(
                    "service \"{}\" is not one of the scenario's [[services]]",
                    snippet(svc)
                ))
            })?;
            let (count, duration_ns) = match self.format {
                TraceFormat::Counts => {
                    let c: u64 = third.parse().map_err(|_| {
                        self.at(format!(
                            "count \"{}\": expected a whole number ≥ 0",
                            snippet(third)
                        ))
                    })?;
                    if c > MAX_COUNT {
                        return Err(self.at(format!("count {c} is more than {MAX_COUNT}")));
                    }
                    (c, None)
                }
                TraceFormat::Invocations if third.is_empty() => (1, None),
                TraceFormat::Invocations => {
                    let d = seconds(third)
                        .map_err(|e| self.at(format!("duration_s \"{}\": {e}", snippet(third))))?;
                    (1, Some(d))
                }
            };
            return Ok(Some(TraceRow {
                t_ns,
                service,
                count,
                duration_ns,
            }));
        }
    }

    fn at(&self, what: String) -> String {
        format!("{}:{}: {what}", self.path.display(), self.line)
    }
}

fn snippet(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Seconds (`12.5`) as nanoseconds: finite, ≥ 0, at most 100 years.
fn seconds(s: &str) -> Result<u64, String> {
    let x: f64 = s
        .parse()
        .map_err(|_| "not a number of seconds".to_string())?;
    if !x.is_finite() || x < 0.0 {
        return Err("expected a number of seconds ≥ 0".into());
    }
    let d = Duration::try_from_secs_f64(x)
        .ok()
        .filter(|d| *d <= crate::duration::MAX_DURATION)
        .ok_or_else(|| "more than 100 years".to_string())?;
    Ok(crate::time::duration_nanos(d))
}

/// What [`scan`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The layout.
    pub format: TraceFormat,
    /// Requests per service (counts summed, or rows).
    pub requests: Vec<u64>,
    /// Rows read.
    pub rows: u64,
    /// Rows per service.
    pub rows_per_service: Vec<u64>,
    /// The last row's time, ns.
    pub last_ns: u64,
}

type Key = (PathBuf, u64, Option<std::time::SystemTime>, u64);

fn cache() -> &'static Mutex<HashMap<Key, Scan>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Scan>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Reads the whole file once: every row checked, requests counted per service. The answer is
/// kept for the life of the process, keyed by the file's path, size, modification time and
/// the service names.
pub fn scan(path: &Path, services: &[String]) -> Result<Scan, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let names_hash = crate::rng::stream_seed(0, &services.join("\n")) as u64;
    // (u128 → u64: the low half is enough for a cache key.)
    let key = (
        path.to_path_buf(),
        meta.len(),
        meta.modified().ok(),
        names_hash,
    );
    if let Some(s) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(s);
    }
    let mut r = TraceReader::open(path, services)?;
    let mut out = Scan {
        format: r.format(),
        requests: vec![0; services.len()],
        rows: 0,
        rows_per_service: vec![0; services.len()],
        last_ns: 0,
    };
    while let Some(row) = r.next_row()? {
        out.rows += 1;
        out.requests[row.service as usize] += row.count;
        out.rows_per_service[row.service as usize] += 1;
        out.last_ns = row.t_ns;
    }
    if let Ok(mut c) = cache().lock() {
        c.insert(key, out.clone());
    }
    Ok(out)
}

/// One arrival of a trace: its time, service (by index) and recorded duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceArrival {
    /// Intended arrival time, ns from the start of the run.
    pub t_ns: u64,
    /// The service, by index.
    pub service: u32,
    /// The request's recorded duration (invocations traces with `durations = true`), ns.
    pub duration_ns: Option<u64>,
}

/// The arrivals of a trace in time order, read as the run goes: a count row is spread over
/// its interval when the run reaches it, so memory holds the arrivals of about one interval,
/// whatever the trace's length. Each service's spreading draws from its own generator, so a
/// service's arrival times do not depend on the other services in the file.
pub struct TraceArrivals {
    reader: TraceReader,
    /// The next row, read but not spread yet.
    ahead: Option<TraceRow>,
    /// Arrivals spread but not delivered: (time, order, service, duration or u64::MAX).
    pending: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64, u32, u64)>>,
    order: u64,
    rngs: Vec<SimRng>,
    interval_ns: u64,
    spread: Spread,
    durations: bool,
    horizon_ns: u64,
    error: Option<String>,
}

impl TraceArrivals {
    /// Opens the trace; `rngs` holds one generator per service (in `services` order), and
    /// arrivals at or after `horizon_ns` are dropped.
    pub fn open(
        path: &Path,
        services: &[String],
        rngs: Vec<SimRng>,
        interval: Duration,
        spread: Spread,
        durations: bool,
        horizon_ns: u64,
    ) -> Result<TraceArrivals, String> {
        let mut reader = TraceReader::open(path, services)?;
        let ahead = reader.next_row()?;
        Ok(TraceArrivals {
            reader,
            ahead,
            pending: std::collections::BinaryHeap::new(),
            order: 0,
            rngs,
            interval_ns: crate::time::duration_nanos(interval).max(1),
            spread,
            durations,
            horizon_ns,
            error: None,
        })
    }

    /// A problem met reading the file as the run went (it changed since it was checked).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Arrivals spread and not yet delivered (what the reader holds in memory).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn push(&mut self, t_ns: u64, service: u32, duration_ns: Option<u64>) {
        if t_ns >= self.horizon_ns {
            return;
        }
        self.order += 1;
        self.pending.push(std::cmp::Reverse((
            t_ns,
            self.order,
            service,
            duration_ns.unwrap_or(u64::MAX),
        )));
    }

    /// Spreads one row into pending arrivals.
    fn spread_row(&mut self, row: TraceRow) {
        let svc = row.service;
        if self.reader.format() == TraceFormat::Invocations {
            let d = if self.durations {
                row.duration_ns
            } else {
                None
            };
            self.push(row.t_ns, svc, d);
            return;
        }
        let (t0, len, n) = (row.t_ns, self.interval_ns, row.count);
        if n == 0 {
            return;
        }
        match self.spread {
            Spread::Uniform => {
                for _ in 0..n {
                    let u: f64 = self.rngs[svc as usize].random();
                    let off = ((u * len as f64) as u64).min(len - 1);
                    self.push(t0 + off, svc, None);
                }
            }
            Spread::Even => {
                for k in 0..n {
                    let off = (u128::from(k) * u128::from(len) / u128::from(n)) as u64;
                    self.push(t0 + off, svc, None);
                }
            }
            Spread::Poisson => {
                let mean_gap = len as f64 / n as f64;
                let mut t = t0 as f64;
                loop {
                    let e: f64 = Exp1.sample(&mut self.rngs[svc as usize]);
                    t += e * mean_gap;
                    if t >= (t0 + len) as f64 {
                        break;
                    }
                    self.push(t as u64, svc, None);
                }
            }
        }
    }

    /// The next arrival in time order (ties in the order the rows were spread), or `None` at
    /// the end of the trace (or at its horizon).
    pub fn next_arrival(&mut self) -> Option<TraceArrival> {
        loop {
            // A row starting no later than the earliest pending arrival may hold an earlier
            // one: spread it first.
            let due = match (&self.ahead, self.pending.peek()) {
                (Some(r), Some(p)) => r.t_ns <= p.0.0,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !due {
                break;
            }
            let row = self.ahead.take().expect("checked above");
            if row.t_ns >= self.horizon_ns {
                // Rows are in time order: nothing later can arrive before the horizon.
                break;
            }
            self.spread_row(row);
            match self.reader.next_row() {
                Ok(r) => self.ahead = r,
                Err(e) => {
                    self.error.get_or_insert(e);
                    self.ahead = None;
                }
            }
        }
        let std::cmp::Reverse((t_ns, _, service, d)) = self.pending.pop()?;
        Some(TraceArrival {
            t_ns,
            service,
            duration_ns: (d != u64::MAX).then_some(d),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scalelab-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn reads_both_layouts_and_names_bad_lines() {
        let names = vec!["a".to_string(), "b".to_string()];
        let p = write(
            "counts.csv",
            "# a comment\nt_s,service,count\n0,a,3\n0,b,0\n60,a,1\n",
        );
        let s = scan(&p, &names).expect("valid");
        assert_eq!(s.format, TraceFormat::Counts);
        assert_eq!(s.requests, vec![4, 0]);
        assert_eq!((s.rows, s.last_ns), (3, 60_000_000_000));
        let p = write(
            "inv.csv",
            "t_s,service,duration_s\n0.5,b,0.25\n0.5,a,\n1,b,2\n",
        );
        let mut r = TraceReader::open(&p, &names).expect("opens");
        assert_eq!(r.format(), TraceFormat::Invocations);
        let first = r.next_row().expect("row").expect("some");
        assert_eq!(
            first,
            TraceRow {
                t_ns: 500_000_000,
                service: 1,
                count: 1,
                duration_ns: Some(250_000_000)
            }
        );
        assert_eq!(r.next_row().expect("row").expect("some").duration_ns, None);
        for (text, want) in [
            ("t_s,service,count\n5,a,1\n4,a,1\n", ":3: t_s 4 is earlier"),
            ("t_s,service,count\n5,c,1\n", ":2: service \"c\" is not one"),
            ("t_s,service,count\n5,a,-1\n", ":2: count \"-1\""),
            ("t_s,service,count\n-5,a,1\n", ":2: t_s \"-5\""),
            ("t_s,service,count\n5,a\n", ":2: expected 3 columns"),
            ("time,function,n\n", ":1: expected the header"),
            ("", "empty"),
        ] {
            let p = write("bad.csv", text);
            let e = scan(&p, &names).expect_err(text);
            assert!(e.contains(want), "{e} vs {want}");
        }
    }

    #[test]
    fn spreads_exactly_the_counts_in_time_order() {
        let names = vec!["a".to_string(), "b".to_string()];
        let p = write(
            "spread.csv",
            "t_s,service,count\n0,a,5\n0,b,2\n60,a,3\n120,b,4\n",
        );
        for spread in [Spread::Uniform, Spread::Even] {
            let rngs = vec![crate::rng::stream(1, "a"), crate::rng::stream(1, "b")];
            let mut g = TraceArrivals::open(
                &p,
                &names,
                rngs,
                Duration::from_secs(60),
                spread,
                true,
                u64::MAX,
            )
            .expect("opens");
            let mut last = 0;
            let mut per = [[0u64; 3]; 2];
            while let Some(a) = g.next_arrival() {
                assert!(a.t_ns >= last, "time order");
                last = a.t_ns;
                per[a.service as usize][(a.t_ns / 60_000_000_000) as usize] += 1;
            }
            assert_eq!(per, [[5, 3, 0], [2, 0, 4]], "{spread:?}");
            assert!(g.error().is_none());
        }
    }
}
