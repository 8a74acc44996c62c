//! What both importers share: a CSV reader that knows its file and line, errors that name them,
//! the stratified sample, and the pieces of the scenario file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::RngExt;

use crate::LabError;

/// Bad input at `file:line`: exit code 2 in the CLI.
pub(super) fn bad(path: &Path, line: u64, message: impl std::fmt::Display) -> LabError {
    LabError::InvalidValue(format!("{}:{line}: {message}", path.display()))
}

/// A CSV file read one line at a time (the Azure files have no quoting: hashes, names and
/// numbers), with the number of the line last read.
pub(super) struct Csv {
    path: PathBuf,
    reader: BufReader<File>,
    buf: String,
    /// The number of the line in `buf` (1-based).
    pub line: u64,
}

impl Csv {
    pub fn open(path: &Path) -> Result<Csv, LabError> {
        if path.is_dir() {
            return Err(LabError::InvalidValue(format!(
                "{}: is a directory, not a CSV file",
                path.display()
            )));
        }
        let f = File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                LabError::InvalidValue(format!("{}: no such file", path.display()))
            } else {
                LabError::io(path, e)
            }
        })?;
        Ok(Csv {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, f),
            buf: String::new(),
            line: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next non-blank line without its line ending, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<&str>, LabError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    bad(&self.path, self.line, "not UTF-8 text")
                } else {
                    LabError::io(&self.path, e)
                }
            })?;
            if n == 0 {
                return Ok(None);
            }
            if !self.buf.trim().is_empty() {
                return Ok(Some(self.buf.trim_end_matches(['\n', '\r'])));
            }
        }
    }

    /// The header line's columns, or an error naming the file when it is empty.
    pub fn header(&mut self, expected: &str) -> Result<Vec<String>, LabError> {
        let path = self.path.clone();
        match self.next_line()? {
            Some(l) => Ok(l.split(',').map(|c| c.trim().to_string()).collect()),
            None => Err(bad(
                &path,
                1,
                format!("empty file: expected the header `{expected}`"),
            )),
        }
    }

    /// An error at the current line.
    pub fn err(&self, message: impl std::fmt::Display) -> LabError {
        bad(&self.path, self.line, message)
    }
}

/// The index of each of `names` in `header`, or an error naming the first missing column.
pub(super) fn columns(
    csv: &Csv,
    header: &[String],
    names: &[&str],
    what: &str,
) -> Result<Vec<usize>, LabError> {
    names
        .iter()
        .map(|n| {
            header.iter().position(|h| h == n).ok_or_else(|| {
                bad(
                    csv.path(),
                    1,
                    format!(
                        "missing column `{n}` in the header: not {what} (found \"{}\")",
                        snippet(&header.join(","))
                    ),
                )
            })
        })
        .collect()
}

/// One line of a CSV file, read through the columns found for `names` by [`columns`].
pub(super) struct Fields<'a> {
    csv: &'a Csv,
    fields: Vec<&'a str>,
    cols: &'a [usize],
    names: &'a [&'a str],
}

impl<'a> Fields<'a> {
    pub fn new(csv: &'a Csv, line: &'a str, cols: &'a [usize], names: &'a [&'a str]) -> Self {
        Fields {
            csv,
            fields: line.split(',').collect(),
            cols,
            names,
        }
    }

    /// The 1-based column number of `names[i]`, for messages.
    pub fn column(&self, i: usize) -> usize {
        self.cols[i] + 1
    }

    /// The text of `names[i]`, trimmed, or an error naming the column when missing or empty.
    pub fn text(&self, i: usize) -> Result<String, LabError> {
        self.fields
            .get(self.cols[i])
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                self.csv.err(format!(
                    "column {} (`{}`) is missing or empty",
                    self.column(i),
                    self.names[i]
                ))
            })
    }

    /// `names[i]` as a finite number ≥ 0 (see [`non_negative`]).
    pub fn number(&self, i: usize) -> Result<f64, LabError> {
        let field = self.fields.get(self.cols[i]).copied();
        non_negative(self.csv, field, self.cols[i], self.names[i])
    }
}

/// At most 80 characters of `s`, for messages.
pub(super) fn snippet(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(77).collect();
        t.push('…');
        t
    }
}

/// A column's text as a finite number ≥ 0, or an error naming the line, column and value.
pub(super) fn non_negative(
    csv: &Csv,
    field: Option<&str>,
    col: usize,
    name: &str,
) -> Result<f64, LabError> {
    let field = field
        .ok_or_else(|| csv.err(format!("missing column {} (`{name}`)", col + 1)))?
        .trim();
    match field.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(csv.err(format!(
            "column {} (`{name}`): \"{}\" is not a number ≥ 0",
            col + 1,
            snippet(field)
        ))),
    }
}

/// One function as the sampler sees it: its identity (owner, app, function hashes as given)
/// and its total invocations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Candidate {
    pub total: u64,
    pub key: FnKey,
}

/// A function's identity: owner (empty in the 2021 trace), app, function hash.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct FnKey {
    pub owner: String,
    pub app: String,
    pub func: String,
}

/// The functions to import, from each function's total invocations: [`stratified`] over those
/// with an invocation, with a warning when `n` asks for more than the trace has.
pub(super) fn sample_functions<'a>(
    totals: impl IntoIterator<Item = (&'a FnKey, u64)>,
    n: Option<usize>,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Vec<Candidate> {
    let all: Vec<Candidate> = totals
        .into_iter()
        .map(|(key, total)| Candidate {
            total,
            key: key.clone(),
        })
        .collect();
    let in_trace = all.iter().filter(|c| c.total > 0).count();
    let sampled = stratified(all, n, seed);
    if let Some(n) = n.filter(|&n| n > in_trace) {
        warnings.push(format!(
            "--functions {n}: the trace has {in_trace} functions with an invocation; all of them \
             are imported"
        ));
    }
    sampled
}

/// Stratified by popularity: the candidates with an invocation, ordered by (total, key), cut
/// into `n` strata of equal rank width, one drawn uniformly from each with a generator seeded
/// by `seed`. All of them when `n` is `None` or at least their number. Returned in rank order.
pub(super) fn stratified(mut all: Vec<Candidate>, n: Option<usize>, seed: u64) -> Vec<Candidate> {
    all.retain(|c| c.total > 0);
    all.sort_unstable();
    let m = all.len();
    let n = n.unwrap_or(m);
    if n >= m {
        return all;
    }
    let mut rng = scalelab_core::rng::stream(seed, "import/azure/sample");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // Stratum i holds ranks [⌊i·m/n⌋, ⌊(i+1)·m/n⌋): non-empty since n < m.
        let lo = (i as u128 * m as u128 / n as u128) as usize;
        let hi = ((i + 1) as u128 * m as u128 / n as u128) as usize;
        let pick = rng.random_range(lo..hi);
        out.push(all[pick].clone());
    }
    out
}

/// Service names for the sampled functions: the function hash, unless two sampled functions
/// share it (different apps), then `hash-<first 8 characters of the app hash>`.
pub(super) fn service_names(keys: &[&FnKey]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for k in keys {
        *count.entry(k.func.as_str()).or_default() += 1;
    }
    keys.iter()
        .map(|k| {
            if count[k.func.as_str()] > 1 {
                let app: String = k.app.chars().take(8).collect();
                format!("{}-{app}", k.func)
            } else {
                k.func.clone()
            }
        })
        .collect()
}

/// A TOML basic string.
pub(super) fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Seconds as the shortest decimal with at most microsecond precision: `60`, `0.25`, `12.000001`.
pub(super) fn secs(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Milliseconds as a duration string: `"120ms"`, `"0.5ms"` (at most microsecond precision).
pub(super) fn ms(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("\"{}ms\"", if s.is_empty() { "0" } else { s })
}

/// Opens a file for writing, buffered.
pub(super) fn create(path: &Path) -> Result<BufWriter<File>, LabError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(LabError::InvalidValue(format!(
            "{}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 16, f))
        .map_err(|e| LabError::io(path, e))
}

/// Flushes a writer, naming its file on failure.
pub(super) fn finish(mut w: BufWriter<File>, path: &Path) -> Result<(), LabError> {
    w.flush().map_err(|e| LabError::io(path, e))?;
    w.into_inner()
        .map_err(|e| LabError::io(path, e.into_error()))?
        .sync_all()
        .map_err(|e| LabError::io(path, e))
}

/// One `[[services]]` entry.
pub(super) struct ServiceEntry {
    pub name: String,
    pub labels: Vec<(&'static str, String)>,
    /// `service_time = …` (a whole inline table), or `None`: the fleet's default.
    pub service_time: Option<String>,
    pub memory_gib: Option<f64>,
    /// `timeout = …` (a duration string), or `None`: the fleet's default.
    pub timeout: Option<String>,
    /// A comment line (without `# `) above the entry.
    pub comment: String,
}

/// The scenario file: header comment, top-level tables, `[trace]`, the services.
pub(super) struct FleetFile<'a> {
    pub name: &'a str,
    pub description: String,
    pub header: Vec<String>,
    pub seed: u64,
    pub duration_s: f64,
    pub trace_file: &'a str,
    pub trace_lines: Vec<String>,
    /// `[sim]` keys, if any.
    pub sim_lines: Vec<String>,
    pub services: Vec<ServiceEntry>,
}

impl FleetFile<'_> {
    /// Writes the rendered scenario to `path`.
    pub fn write(&self, path: &Path) -> Result<(), LabError> {
        super::y2019::write_text(path, &self.render())
    }

    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        for h in &self.header {
            let _ = writeln!(s, "# {h}");
        }
        let _ = writeln!(s, "name = {}", q(self.name));
        let _ = writeln!(s, "description = {}", q(&self.description));
        let _ = writeln!(s, "seed = {}", self.seed);
        let _ = writeln!(s, "duration = \"{}s\"", secs(self.duration_s));
        s.push_str(
            "\n# Defaults for every service ([services.service] and [services.autoscaler] \
             override them).\n",
        );
        s.push_str("[service]\n");
        // The defaults are the published fits: a service without its own data gets them.
        let _ = writeln!(s, "service_time = {}", super::fits::exec_lognormal());
        let _ = writeln!(
            s,
            "memory_gib = {}",
            gib(super::fits::burr_memory_mb(0.5) / 1024.0)
        );
        s.push_str(
            "# Azure Functions' longest execution on the Consumption plan.\ntimeout = \"10m\"\n",
        );
        s.push_str(
            "\n# Knative's KPA with scale to zero; `kind = \"keepalive\"` with `idle_timeout = \
             \"20m\"` is Azure's fixed keep-alive of the time (Shahrad et al. 2020).\n",
        );
        s.push_str("[autoscaler]\nkind = \"kpa\"\n\n[trace]\n");
        let _ = writeln!(s, "file = {}", q(self.trace_file));
        for l in &self.trace_lines {
            let _ = writeln!(s, "{l}");
        }
        if !self.sim_lines.is_empty() {
            s.push_str("\n[sim]\n");
            for l in &self.sim_lines {
                let _ = writeln!(s, "{l}");
            }
        }
        for e in &self.services {
            let _ = writeln!(s, "\n# {}", e.comment);
            s.push_str("[[services]]\n");
            let _ = writeln!(s, "name = {}", q(&e.name));
            let labels: Vec<String> = e
                .labels
                .iter()
                .map(|(k, v)| format!("{k} = {}", q(v)))
                .collect();
            let _ = writeln!(s, "labels = {{ {} }}", labels.join(", "));
            if e.service_time.is_some() || e.memory_gib.is_some() || e.timeout.is_some() {
                s.push_str("[services.service]\n");
                if let Some(m) = e.memory_gib {
                    let _ = writeln!(s, "memory_gib = {}", gib(m));
                }
                if let Some(t) = &e.timeout {
                    let _ = writeln!(s, "timeout = {t}");
                }
                if let Some(t) = &e.service_time {
                    let _ = writeln!(s, "service_time = {t}");
                }
            }
        }
        s
    }
}

/// GiB with enough digits for a MiB (at least 0.001).
pub(super) fn gib(x: f64) -> String {
    let s = format!("{:.4}", x.max(0.001));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An `empirical` distribution through percentile points in milliseconds.
pub(super) fn empirical_ms(points: &[(f64, f64)]) -> String {
    let pts: Vec<String> = points
        .iter()
        .map(|(p, v)| {
            let p = secs(*p);
            let p = if p.contains('.') { p } else { format!("{p}.0") };
            format!("[{p}, {}]", ms(*v))
        })
        .collect();
    format!("{{ dist = \"empirical\", points = [{}] }}", pts.join(", "))
}
