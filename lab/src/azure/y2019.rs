//! `scalelab import azure-2019`: the Azure Functions 2019 trace (per-minute counts, duration
//! percentiles, app memory) as a fleet scenario and a counts trace.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use rand::RngExt;

use super::common::{
    Csv, Fields, FleetFile, FnKey, ServiceEntry, bad, columns, create, empirical_ms, finish,
    sample_functions, service_names, snippet,
};
use super::fits::burr_memory_mb;
use super::{Azure2019, Imported, trace_path};
use crate::LabError;

/// Minutes in a day file.
pub const MINUTES: usize = 1440;

/// The first four columns of an invocations file (then `1` … `1440`).
const INVOCATION_KEYS: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];

/// The header of an invocations file, for messages.
const INVOCATIONS_HEADER: &str = "HashOwner,HashApp,HashFunction,Trigger,1,2,…,1440";

/// The percentile columns of a durations file and the quantile each one is.
const DURATION_POINTS: [(&str, f64); 7] = [
    ("percentile_Average_0", 0.0),
    ("percentile_Average_1", 0.01),
    ("percentile_Average_25", 0.25),
    ("percentile_Average_50", 0.5),
    ("percentile_Average_75", 0.75),
    ("percentile_Average_99", 0.99),
    ("percentile_Average_100", 1.0),
];

/// A durations row: its `Count` and its (p, ms) points.
type Percentiles = (f64, Vec<(f64, f64)>);

/// What the sampler keeps per function in the first pass.
struct Totals {
    total: u64,
    trigger: String,
}

/// Reads and checks an invocations file's header.
fn invocations_header(csv: &mut Csv) -> Result<(), LabError> {
    let header = csv.header(INVOCATIONS_HEADER)?;
    for (i, h) in header.iter().enumerate() {
        let expected = match i {
            0..4 => INVOCATION_KEYS[i].to_string(),
            _ => (i - 3).to_string(),
        };
        if i >= 4 + MINUTES || *h != expected {
            return Err(csv.err(format!(
                "not an invocations file (header `{INVOCATIONS_HEADER}`): column {} is \"{}\", \
                 expected {}",
                i + 1,
                snippet(h),
                if i >= 4 + MINUTES {
                    "no column after `1440`".to_string()
                } else {
                    format!("`{expected}`")
                }
            )));
        }
    }
    if header.len() < 4 + MINUTES {
        let missing = if header.len() < 4 {
            INVOCATION_KEYS[header.len()].to_string()
        } else {
            (header.len() - 3).to_string()
        };
        return Err(csv.err(format!(
            "not an invocations file (header `{INVOCATIONS_HEADER}`): missing column `{missing}` \
             ({} columns, expected {})",
            header.len(),
            4 + MINUTES
        )));
    }
    Ok(())
}

/// A row's identity and trigger.
fn split_row(csv: &Csv, line: &str) -> Result<(FnKey, String), LabError> {
    let mut it = line.splitn(5, ',');
    let mut next = |i: usize| {
        it.next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                csv.err(format!(
                    "column {} (`{}`) is missing or empty",
                    i + 1,
                    INVOCATION_KEYS[i]
                ))
            })
    };
    let (owner, app, func, trigger) = (next(0)?, next(1)?, next(2)?, next(3)?);
    Ok((FnKey { owner, app, func }, trigger))
}

/// Parses the 1440 counts of a row into `out` (added to what is there), returning their sum.
fn counts(csv: &Csv, line: &str, out: &mut [u64]) -> Result<u64, LabError> {
    // The identity columns may carry spaces around them; find the fourth comma.
    let start = line
        .match_indices(',')
        .nth(3)
        .map(|(i, _)| i + 1)
        .ok_or_else(|| csv.err("fewer than 5 columns"))?;
    let mut sum = 0u64;
    let mut n = 0;
    for (m, field) in line[start..].split(',').enumerate() {
        if m >= MINUTES {
            return Err(csv.err(format!(
                "{} columns: expected {} (4 + 1440 minutes)",
                4 + line[start..].split(',').count(),
                4 + MINUTES
            )));
        }
        let f = field.trim();
        let c: u64 = f.parse().map_err(|_| {
            csv.err(format!(
                "column {} (minute {}): \"{}\" is not a count (an integer ≥ 0)",
                m + 5,
                m + 1,
                snippet(f)
            ))
        })?;
        out[m] += c;
        sum = sum.saturating_add(c);
        n = m + 1;
    }
    if n < MINUTES {
        return Err(csv.err(format!(
            "{} columns: expected {} (4 + 1440 minutes); minute {} is missing",
            4 + n,
            4 + MINUTES,
            n + 1
        )));
    }
    Ok(sum)
}

/// Pass 1: every function's total over every day file (memory ∝ functions).
fn totals(files: &[std::path::PathBuf]) -> Result<HashMap<FnKey, Totals>, LabError> {
    let mut totals: HashMap<FnKey, Totals> = HashMap::new();
    let mut row = vec![0u64; MINUTES];
    for path in files {
        let mut csv = Csv::open(path)?;
        invocations_header(&mut csv)?;
        while let Some(line) = csv.next_line()? {
            let line = line.to_string();
            let (key, trigger) = split_row(&csv, &line)?;
            row.fill(0);
            let sum = counts(&csv, &line, &mut row)?;
            let t = totals.entry(key).or_insert(Totals { total: 0, trigger });
            t.total = t.total.saturating_add(sum);
        }
    }
    Ok(totals)
}

/// The duration percentile points of the sampled functions (the row with the largest `Count`
/// when a function is in several files or rows). Every row is checked.
fn durations(
    files: &[std::path::PathBuf],
    index: &HashMap<FnKey, usize>,
) -> Result<Vec<Option<Percentiles>>, LabError> {
    let mut out: Vec<Option<Percentiles>> = vec![None; index.len()];
    let names: Vec<&str> = ["HashOwner", "HashApp", "HashFunction", "Count"]
        .into_iter()
        .chain(DURATION_POINTS.iter().map(|(n, _)| *n))
        .collect();
    for path in files {
        let mut csv = Csv::open(path)?;
        let header = csv.header(
            "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,…",
        )?;
        let cols = columns(&csv, &header, &names, "a function durations file")?;
        while let Some(line) = csv.next_line()? {
            let line = line.to_string();
            let row = Fields::new(&csv, &line, &cols, &names);
            let key = FnKey {
                owner: row.text(0)?,
                app: row.text(1)?,
                func: row.text(2)?,
            };
            let count = row.number(3)?;
            let mut points = Vec::with_capacity(DURATION_POINTS.len());
            for (j, (name, p)) in DURATION_POINTS.iter().enumerate() {
                let v = row.number(4 + j)?;
                if let Some(&(_, prev)) = points.last()
                    && v < prev
                {
                    return Err(csv.err(format!(
                        "column {} (`{name}`): {v} ms is below the percentile before it \
                         ({prev} ms): percentiles never decrease",
                        row.column(4 + j)
                    )));
                }
                points.push((*p, v));
            }
            if let Some(&i) = index.get(&key)
                && out[i].as_ref().is_none_or(|(c, _)| count > *c)
            {
                out[i] = Some((count, points));
            }
        }
    }
    Ok(out)
}

/// The allocated memory (average, MB) of the apps asked for (the row with the most samples
/// when an app is in several). Every row is checked.
fn memory(
    files: &[std::path::PathBuf],
    apps: &HashSet<(String, String)>,
) -> Result<HashMap<(String, String), f64>, LabError> {
    let mut best: HashMap<(String, String), (f64, f64)> = HashMap::new();
    let names = ["HashOwner", "HashApp", "SampleCount", "AverageAllocatedMb"];
    for path in files {
        let mut csv = Csv::open(path)?;
        let header = csv.header("HashOwner,HashApp,SampleCount,AverageAllocatedMb,…")?;
        let cols = columns(&csv, &header, &names, "an app memory file")?;
        while let Some(line) = csv.next_line()? {
            let line = line.to_string();
            let row = Fields::new(&csv, &line, &cols, &names);
            let key = (row.text(0)?, row.text(1)?);
            let samples = row.number(2)?;
            let mb = row.number(3)?;
            if apps.contains(&key) && best.get(&key).is_none_or(|(s, _)| samples > *s) {
                best.insert(key, (samples, mb));
            }
        }
    }
    Ok(best.into_iter().map(|(k, (_, mb))| (k, mb)).collect())
}

/// Imports the 2019 trace: see the module docs of [`super`].
///
/// Memory: the first pass holds one total per function of the trace; the second one day of
/// counts per sampled function (1440 × 8 bytes each). Nothing grows with the number of days.
pub fn import_2019(opts: &Azure2019) -> Result<Imported, LabError> {
    if opts.invocations.is_empty() {
        return Err(LabError::setting(
            "--invocations",
            "give at least one invocations file (invocations_per_function_md.anon.dNN.csv)",
        ));
    }
    if opts.functions == Some(0) {
        return Err(LabError::setting("--functions", "0: expected 1 or more"));
    }
    let trace = trace_path(&opts.output);
    let mut warnings = Vec::new();

    // Pass 1: totals, then the sample.
    let totals = totals(&opts.invocations)?;
    let in_trace = totals.values().filter(|t| t.total > 0).count();
    if in_trace == 0 {
        return Err(bad(
            &opts.invocations[0],
            1,
            "no function has an invocation in the given files: nothing to import",
        ));
    }
    let per_function = totals.iter().map(|(k, t)| (k, t.total));
    let sampled = sample_functions(per_function, opts.functions, opts.seed, &mut warnings);
    let keys: Vec<&FnKey> = sampled.iter().map(|c| &c.key).collect();
    let names = service_names(&keys);
    let index: HashMap<FnKey, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| ((*k).clone(), i))
        .collect();

    // Durations and memory of the sampled functions.
    let durations = durations(&opts.durations, &index)?;
    let apps: HashSet<(String, String)> = keys
        .iter()
        .map(|k| (k.owner.clone(), k.app.clone()))
        .collect();
    let memory = memory(&opts.memory, &apps)?;
    let no_durations = durations.iter().filter(|d| d.is_none()).count();
    if opts.durations.is_empty() {
        warnings.push(
            "no --durations file: every function takes the log-normal fit of execution times \
             (median 684 ms, p99 165.7 s)"
                .to_string(),
        );
    } else if no_durations > 0 {
        warnings.push(format!(
            "{no_durations} of {} sampled functions have no row in the durations file(s): they \
             take the log-normal fit of execution times (the fleet's default service_time)",
            keys.len()
        ));
    }
    let app_mb = |k: &FnKey| -> (f64, bool) {
        match memory.get(&(k.owner.clone(), k.app.clone())) {
            Some(&mb) => (mb.max(1.0), true),
            None => {
                let mut rng = scalelab_core::rng::stream(
                    opts.seed,
                    &format!("import/azure/memory/{}/{}", k.owner, k.app),
                );
                (burr_memory_mb(rng.random::<f64>()).max(1.0), false)
            }
        }
    };
    let no_memory = apps.iter().filter(|k| !memory.contains_key(*k)).count();
    if opts.memory.is_empty() {
        warnings.push(
            "no --memory file: each app's memory is drawn from the Burr XII fit (median \
             139.6 MB), seeded by --seed and the app"
                .to_string(),
        );
    } else if no_memory > 0 {
        warnings.push(format!(
            "{no_memory} of {} apps have no row in the memory file(s): their memory is drawn \
             from the Burr XII fit (median 139.6 MB)",
            apps.len()
        ));
    }

    // Pass 2: the sampled functions' rows, one day at a time, emitted minute by minute.
    let mut out = create(&trace)?;
    let w = |out: &mut std::io::BufWriter<std::fs::File>, s: std::fmt::Arguments| {
        out.write_fmt(s).map_err(|e| LabError::io(&trace, e))
    };
    w(
        &mut out,
        format_args!(
            "# Azure Functions 2019 trace: {} of {in_trace} functions, {} day(s), seed {}\n\
             t_s,service,count\n",
            keys.len(),
            opts.invocations.len(),
            opts.seed
        ),
    )?;
    let (mut rows, mut requests) = (0u64, 0u64);
    let mut day: Vec<Option<Vec<u64>>> = vec![None; keys.len()];
    for (d, path) in opts.invocations.iter().enumerate() {
        day.iter_mut().for_each(|x| *x = None);
        let mut csv = Csv::open(path)?;
        invocations_header(&mut csv)?;
        while let Some(line) = csv.next_line()? {
            let line = line.to_string();
            let (key, _) = split_row(&csv, &line)?;
            if let Some(&i) = index.get(&key) {
                let row = day[i].get_or_insert_with(|| vec![0; MINUTES]);
                counts(&csv, &line, row)?;
            }
        }
        for m in 0..MINUTES {
            let t = (d * MINUTES + m) as u64 * 60;
            for (i, row) in day.iter().enumerate() {
                if let Some(c) = row.as_ref().map(|r| r[m]).filter(|&c| c > 0) {
                    w(&mut out, format_args!("{t},{},{c}\n", names[i]))?;
                    rows += 1;
                    requests += c;
                }
            }
        }
    }
    finish(out, &trace)?;

    // The scenario.
    let services: Vec<ServiceEntry> = sampled
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let trigger = totals[&c.key].trigger.clone();
            let (mb, from_file) = app_mb(&c.key);
            ServiceEntry {
                name: names[i].clone(),
                labels: vec![
                    ("trigger", trigger),
                    ("app", c.key.app.clone()),
                    ("owner", c.key.owner.clone()),
                ],
                service_time: durations[i].as_ref().map(|(_, p)| empirical_ms(p)),
                // It ran that long, so its timeout was at least that.
                timeout: durations[i]
                    .as_ref()
                    .and_then(|(_, p)| p.last())
                    .filter(|(_, ms)| *ms > 600_000.0)
                    .map(|(_, ms)| format!("\"{}s\"", (ms / 1000.0).ceil() + 1.0)),
                memory_gib: Some(mb / 1024.0),
                comment: format!(
                    "{} invocations; durations: {}; memory {mb:.1} MB ({})",
                    c.total,
                    if durations[i].is_some() {
                        "percentiles"
                    } else {
                        "log-normal fit"
                    },
                    if from_file {
                        "memory file"
                    } else {
                        "Burr XII fit"
                    }
                ),
            }
        })
        .collect();
    let duration_s = (opts.invocations.len() * 86_400) as f64;
    let trace_name = file_name(&trace);
    let shown: Vec<String> = opts
        .invocations
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let fleet = FleetFile {
        name: &stem(&opts.output),
        description: format!(
            "{} of {in_trace} functions of the Azure Functions 2019 trace ({} day(s)), sampled \
             across popularity with seed {}",
            keys.len(),
            opts.invocations.len(),
            opts.seed
        ),
        header: vec![
            "Written by `scalelab import azure-2019` (docs/cli.md).".into(),
            format!("invocations: {}", shown.join(" ")),
            format!(
                "durations: {}",
                display_list(&opts.durations, "none (log-normal fit)")
            ),
            format!(
                "memory: {}",
                display_list(&opts.memory, "none (Burr XII fit)")
            ),
            format!("{requests} invocations in {rows} rows of {trace_name}"),
        ],
        seed: opts.seed,
        duration_s,
        trace_file: &trace_name,
        trace_lines: vec![
            "interval = \"60s\"".into(),
            format!("spread = \"{}\"", opts.spread.name()),
        ],
        // One time-series row per trace minute.
        sim_lines: vec!["timeseries_bucket = \"60s\"".into()],
        services,
    };
    fleet.write(&opts.output)?;
    Ok(Imported {
        scenario: opts.output.clone(),
        trace,
        functions_in_trace: in_trace,
        functions_sampled: keys.len(),
        invocations: requests,
        rows,
        duration_s,
        max_buffered: 0,
        warnings,
    })
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleet".into())
}

fn display_list(files: &[std::path::PathBuf], none: &str) -> String {
    if files.is_empty() {
        none.to_string()
    } else {
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub(super) fn write_text(path: &Path, text: &str) -> Result<(), LabError> {
    let mut f = create(path)?;
    f.write_all(text.as_bytes())
        .map_err(|e| LabError::io(path, e))?;
    finish(f, path)
}
