//! `scalelab import azure-2021`: the Azure Functions 2021 invocation trace
//! (`app,func,end_timestamp,duration`, one row per invocation, in end-time order) as a fleet
//! scenario and an invocations trace in start order.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::Write;

use rand::RngExt;

use super::common::{
    Csv, Fields, FleetFile, FnKey, ServiceEntry, bad, columns, create, finish, sample_functions,
    secs, service_names,
};
use super::fits::burr_memory_mb;
use super::y2019::{file_name, stem};
use super::{Azure2021, Imported, trace_path};
use crate::LabError;

const HEADER: &str = "app,func,end_timestamp,duration";
const NAMES: [&str; 4] = ["app", "func", "end_timestamp", "duration"];

/// One row, read and checked.
struct Row {
    key: FnKey,
    end: f64,
    duration: f64,
}

/// The trace file, read row by row; checks that `end_timestamp` never decreases.
struct Reader {
    csv: Csv,
    cols: Vec<usize>,
    last_end: f64,
}

impl Reader {
    fn open(path: &std::path::Path) -> Result<Reader, LabError> {
        let mut csv = Csv::open(path)?;
        let header = csv.header(HEADER)?;
        let cols = columns(&csv, &header, &NAMES, "the 2021 invocation trace")?;
        Ok(Reader {
            csv,
            cols,
            last_end: f64::NEG_INFINITY,
        })
    }

    fn next(&mut self) -> Result<Option<Row>, LabError> {
        let Some(line) = self.csv.next_line()? else {
            return Ok(None);
        };
        let line = line.to_string();
        let row = Fields::new(&self.csv, &line, &self.cols, &NAMES);
        let key = FnKey {
            owner: String::new(),
            app: row.text(0)?,
            func: row.text(1)?,
        };
        let end = row.number(2)?;
        let duration = row.number(3)?;
        if end < self.last_end {
            return Err(self.csv.err(format!(
                "column {} (`end_timestamp`): {end} is earlier than the row before ({}): the \
                 2021 trace is in end-time order",
                row.column(2),
                self.last_end
            )));
        }
        self.last_end = end;
        Ok(Some(Row { key, end, duration }))
    }
}

/// What the first pass keeps per function.
struct Stats {
    count: u64,
    max_duration: f64,
    min_start: f64,
}

/// A row waiting in the reorder buffer, ordered by start time then by its place in the file.
struct Pending {
    start: f64,
    seq: u64,
    service: usize,
    duration: f64,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        self.start.total_cmp(&o.start).then(self.seq.cmp(&o.seq))
    }
}

/// Turns rows in end order into rows in start order: a row ending at `e` that lasted at most
/// `window` started at or after `e − window`, so once a row ending at `e` is pushed, every
/// buffered row that starts by `e − window` can go.
pub(super) struct Reorder {
    heap: BinaryHeap<Reverse<Pending>>,
    window: f64,
    seq: u64,
    /// The most rows held at once.
    pub max_len: usize,
}

impl Reorder {
    pub fn new(window: f64) -> Reorder {
        Reorder {
            heap: BinaryHeap::new(),
            window,
            seq: 0,
            max_len: 0,
        }
    }

    /// Adds a row (ends never decrease from one push to the next; `end − start ≤ window`) and
    /// hands every row that can no longer be preceded to `emit`, in start order (ties in push
    /// order).
    pub fn push<E>(
        &mut self,
        end: f64,
        start: f64,
        service: usize,
        duration: f64,
        mut emit: impl FnMut(f64, usize, f64) -> Result<(), E>,
    ) -> Result<(), E> {
        let safe = end - self.window;
        while self.heap.peek().is_some_and(|Reverse(p)| p.start <= safe) {
            let Reverse(p) = self.heap.pop().expect("peeked");
            emit(p.start, p.service, p.duration)?;
        }
        self.heap.push(Reverse(Pending {
            start,
            seq: self.seq,
            service,
            duration,
        }));
        self.seq += 1;
        self.max_len = self.max_len.max(self.heap.len());
        Ok(())
    }

    /// Hands the rest to `emit`, in start order.
    pub fn finish<E>(
        &mut self,
        mut emit: impl FnMut(f64, usize, f64) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(Reverse(p)) = self.heap.pop() {
            emit(p.start, p.service, p.duration)?;
        }
        Ok(())
    }
}

/// Imports the 2021 trace: see the module docs of [`super`].
///
/// Two passes over the file. The first counts invocations per function and notes each one's
/// longest duration and earliest start (memory ∝ functions). The second emits the sampled
/// functions' rows in start order through a reorder buffer: rows arrive in end order, so once a
/// row ending at `e` is read no later row can start before `e − D`, where `D` is the longest
/// duration among the sampled functions, and every buffered row starting at or before that is
/// written. The buffer holds the sampled invocations that end within `D` of the current row:
/// memory ∝ the sampled functions' invocation rate × `D` (not the trace's length; a function
/// with hour-long invocations makes the window an hour). [`Imported::max_buffered`] reports
/// the most rows it held.
///
/// Times: `t_s = end − duration − origin`, where the origin is 0, or the earliest start of a
/// sampled invocation when one starts before the trace's 0 (so no time is negative).
pub fn import_2021(opts: &Azure2021) -> Result<Imported, LabError> {
    if opts.functions == Some(0) {
        return Err(LabError::setting("--functions", "0: expected 1 or more"));
    }
    let trace = trace_path(&opts.output);
    let mut warnings = Vec::new();

    // Pass 1.
    let mut stats: HashMap<FnKey, Stats> = HashMap::new();
    let mut reader = Reader::open(&opts.file)?;
    let mut last_end = 0.0f64;
    while let Some(r) = reader.next()? {
        last_end = last_end.max(r.end);
        let s = stats.entry(r.key).or_insert(Stats {
            count: 0,
            max_duration: 0.0,
            min_start: f64::INFINITY,
        });
        s.count += 1;
        s.max_duration = s.max_duration.max(r.duration);
        s.min_start = s.min_start.min(r.end - r.duration);
    }
    if stats.is_empty() {
        return Err(bad(
            &opts.file,
            2,
            "no invocation rows after the header: nothing to import",
        ));
    }
    let in_trace = stats.len();
    let counts = stats.iter().map(|(k, s)| (k, s.count));
    let sampled = sample_functions(counts, opts.functions, opts.seed, &mut warnings);
    let keys: Vec<&FnKey> = sampled.iter().map(|c| &c.key).collect();
    let names = service_names(&keys);
    let index: HashMap<&FnKey, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let window = keys
        .iter()
        .map(|k| stats[*k].max_duration)
        .fold(0.0, f64::max);
    let origin = keys.iter().map(|k| stats[*k].min_start).fold(0.0, f64::min);
    if origin < 0.0 {
        warnings.push(format!(
            "the earliest sampled invocation starts {} s before the trace's 0: every time is \
             shifted by that much",
            secs(-origin)
        ));
    }

    // Pass 2.
    let mut out = create(&trace)?;
    let io = |e| LabError::io(&trace, e);
    write!(
        out,
        "# Azure Functions 2021 trace: {} of {in_trace} functions, seed {}, t_s = \
         end_timestamp - duration{}\nt_s,service,duration_s\n",
        keys.len(),
        opts.seed,
        if origin < 0.0 {
            format!(" + {}", secs(-origin))
        } else {
            String::new()
        }
    )
    .map_err(io)?;
    let mut reorder = Reorder::new(window);
    let (mut rows, mut seq) = (0u64, 0u64);
    let mut emit = |start: f64, service: usize, duration: f64| {
        rows += 1;
        writeln!(
            out,
            "{},{},{}",
            secs(start - origin),
            names[service],
            secs(duration)
        )
    };
    let mut reader = Reader::open(&opts.file)?;
    while let Some(r) = reader.next()? {
        let Some(&service) = index.get(&r.key) else {
            continue;
        };
        reorder
            .push(r.end, r.end - r.duration, service, r.duration, &mut emit)
            .map_err(io)?;
        seq += 1;
    }
    reorder.finish(&mut emit).map_err(io)?;
    let max_buffered = reorder.max_len;
    finish(out, &trace)?;

    // The scenario.
    let apps: HashSet<&str> = keys.iter().map(|k| k.app.as_str()).collect();
    let services: Vec<ServiceEntry> = sampled
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut rng = scalelab_core::rng::stream(
                opts.seed,
                &format!("import/azure/memory//{}", c.key.app),
            );
            let mb = burr_memory_mb(rng.random::<f64>()).max(1.0);
            ServiceEntry {
                name: names[i].clone(),
                labels: vec![("app", c.key.app.clone())],
                service_time: None,
                timeout: Some(stats[&c.key].max_duration)
                    .filter(|&d| d > 600.0)
                    .map(|d| format!("\"{}s\"", d.ceil() + 1.0)),
                memory_gib: Some(mb / 1024.0),
                comment: format!(
                    "{} invocations, longest {} s; memory {mb:.1} MB (Burr XII fit)",
                    c.total,
                    secs(stats[&c.key].max_duration)
                ),
            }
        })
        .collect();
    warnings.push(format!(
        "the 2021 trace has no memory data: each of the {} apps' memory is drawn from the Burr \
         XII fit (median 139.6 MB), seeded by --seed and the app",
        apps.len()
    ));
    let duration_s = ((last_end - origin).ceil()).max(1.0);
    let trace_name = file_name(&trace);
    let fleet = FleetFile {
        name: &stem(&opts.output),
        description: format!(
            "{} of {in_trace} functions of the Azure Functions 2021 invocation trace, sampled \
             across popularity with seed {}",
            keys.len(),
            opts.seed
        ),
        header: vec![
            "Written by `scalelab import azure-2021` (docs/cli.md).".into(),
            format!("trace: {}", opts.file.display()),
            format!("{seq} invocations in {trace_name}, in start order (end_timestamp - duration)"),
        ],
        seed: opts.seed,
        duration_s,
        trace_file: &trace_name,
        trace_lines: vec!["durations = true".into()],
        sim_lines: Vec::new(),
        services,
    };
    fleet.write(&opts.output)?;
    Ok(Imported {
        scenario: opts.output.clone(),
        trace,
        functions_in_trace: in_trace,
        functions_sampled: keys.len(),
        invocations: seq,
        rows,
        duration_s,
        max_buffered,
        warnings,
    })
}
