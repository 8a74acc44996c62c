//! `scalelab tune SCENARIO`: search the `[tune]` table's settings, simulating every candidate
//! with every seed in parallel (one whole run per thread); `scalelab tune --merge` joins shard
//! documents. The search logic is in `scalelab_core::tune`, the parallel runner in
//! `scalelab_sim::tune`; this module runs the rungs, shows progress and writes the outputs.

mod chart;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use scalelab_core::scenario::Scenario;
use scalelab_core::tune::analyze::{Entry, Sample, halving_horizons, keep_count, rank, summarize};
use scalelab_core::tune::candidates::{CandidateBuilder, sample_seed};
use scalelab_core::tune::doc::{Row, Setup, Shard, TuneDoc, merge, scenario_hash};
use scalelab_core::tune::{Search, TuneError, TuneSpec};
use scalelab_sim::tune::{Control, Job, run_jobs};

use super::common::{load_scenario, resolve_seed, stderr_is_terminal};
use super::{CmdResult, Code, Failure};
use crate::cli::{Format, TuneArgs, TuneSearch};

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::bad_input(anyhow::anyhow!("{e}"))
}

pub fn run(a: TuneArgs) -> CmdResult {
    if !a.merge.is_empty() {
        return run_merge(&a);
    }
    let Some(path) = a.scenario.clone() else {
        return Err(bad("give a SCENARIO to tune, or --merge shard documents"));
    };
    let scenario = load_scenario(&path)?;
    let src = std::fs::read_to_string(&path)
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("reading {}: {e}", path.display())))?;
    let mut spec = scenario
        .tune
        .clone()
        .ok_or_else(|| bad(TuneError::NoTuneTable))?;
    if let Some(n) = a.seeds {
        if !(1..=1000).contains(&n) {
            return Err(bad("--seeds: expected 1 to 1000"));
        }
        spec.seeds = n;
    }
    if let Some(s) = a.search {
        spec.search = match s {
            TuneSearch::Grid => Search::Grid,
            TuneSearch::Random => Search::Random,
            TuneSearch::Halving => Search::Halving,
        };
    }
    if let Some(n) = a.samples {
        if n == 0 {
            return Err(bad("--samples: expected 1 or more"));
        }
        spec.samples = Some(n);
    }
    let shard = match &a.shard {
        Some(s) => Some(
            s.parse::<Shard>()
                .map_err(|e| bad(format!("--shard: {e}")))?,
        ),
        None => None,
    };
    if shard.is_some() && spec.search == Search::Halving {
        return Err(bad(
            "--shard: successive halving needs every candidate's result between rungs, so it \
             cannot be split; shard a grid or random search instead",
        ));
    }
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    let candidates = spec.candidates(seed).map_err(bad)?;
    let setup = Setup {
        scenario: scenario.name.clone(),
        scenario_hash: scenario_hash(&src),
        seed,
        seeds: (0..spec.seeds).map(|k| sample_seed(seed, k)).collect(),
        spec: spec.clone(),
        candidates: candidates.len() as u64,
        horizon_s: scenario.duration.as_secs_f64(),
    };
    let mine = match shard {
        Some(sh) => sh.select(candidates),
        None => candidates,
    };
    let builder = CandidateBuilder::new(&src, &path).map_err(bad)?;
    let show_bar = !a.quiet && stderr_is_terminal();
    let control = Arc::new(Control::default());
    on_interrupt(Arc::clone(&control));
    if !a.quiet {
        eprintln!(
            "tune: {} candidate(s){} × {} seed(s), {} search, objective {}, seed {seed}",
            mine.len(),
            shard
                .map(|s| format!(" (shard {}/{} of {})", s.index, s.count, setup.candidates))
                .unwrap_or_default(),
            spec.seeds,
            spec.search.label(),
            objective_text(&spec),
        );
    }
    let watch = crate::clock::Stopwatch::start();
    let mut rows: Vec<Row> = Vec::new();
    let mut built: Vec<(usize, Scenario)> = Vec::new();
    for c in &mine {
        let settings = spec.settings(c);
        let row = Row {
            id: c.id,
            settings: settings.iter().cloned().collect(),
            horizon_s: 0.0,
            rung: 0,
            full: false,
            samples: Vec::new(),
            summary: None,
            error: None,
        };
        // An invalid combination (min_scale above max_scale, say) is listed with its reason.
        let error = match builder.build(&settings) {
            Ok(s) => {
                built.push((rows.len(), s));
                None
            }
            Err(e) => Some(e),
        };
        rows.push(Row { error, ..row });
    }
    let horizons = match spec.search {
        Search::Halving => halving_horizons(scenario.duration, spec.min_duration),
        _ => vec![scenario.duration],
    };
    let mut alive: Vec<usize> = (0..built.len()).collect();
    let mut sims = 0usize;
    let mut interrupted = false;
    for (rung, &h) in horizons.iter().enumerate() {
        let full = rung + 1 == horizons.len();
        let rung_scenarios: Vec<Scenario> = alive
            .iter()
            .map(|&b| {
                let mut s = built[b].1.clone();
                s.duration = h;
                s
            })
            .collect();
        let jobs: Vec<Job<'_>> = rung_scenarios
            .iter()
            .flat_map(|s| {
                setup
                    .seeds
                    .iter()
                    .map(move |&seed| Job { scenario: s, seed })
            })
            .collect();
        let k = setup.seeds.len();
        let models: Vec<String> = rung_scenarios
            .iter()
            .map(|s| {
                spec.model
                    .clone()
                    .or_else(|| s.billing.models.first().cloned())
                    .unwrap_or_default()
            })
            .collect();
        let label = if horizons.len() > 1 {
            format!(
                "rung {}/{} ({})",
                rung + 1,
                horizons.len(),
                scalelab_core::duration::format_duration(h)
            )
        } else {
            String::new()
        };
        let done_before = control.done.load(Ordering::Relaxed);
        let finished = std::sync::atomic::AtomicBool::new(false);
        let results = std::thread::scope(|scope| {
            if show_bar {
                let (control, finished, n, label) =
                    (&control, &finished, jobs.len(), label.clone());
                scope.spawn(move || progress(control, finished, done_before, n, &label));
            }
            let r = run_jobs(&jobs, a.threads, &control, |i, r| {
                let seed = jobs[i].seed;
                let model = &models[i / k];
                r.map_err(|e| e.to_string()).and_then(|v| {
                    Sample::from_variant(&v, model, seed).ok_or_else(|| {
                        format!("the run computed no cost for billing model \"{model}\" (list it in [billing] models)")
                    })
                })
            });
            finished.store(true, Ordering::Relaxed);
            r
        });
        sims += results.iter().filter(|r| r.is_some()).count();
        interrupted = control.cancel.load(Ordering::Relaxed);
        for (j, &b) in alive.iter().enumerate() {
            let got = &results[j * k..(j + 1) * k];
            if got.iter().any(Option::is_none) {
                // Interrupted before every seed ran: keep the previous rung's figures.
                continue;
            }
            let row = &mut rows[built[b].0];
            row.horizon_s = h.as_secs_f64();
            row.rung = rung as u32;
            row.full = full;
            match got
                .iter()
                .flatten()
                .cloned()
                .collect::<Result<Vec<Sample>, String>>()
            {
                Ok(samples) => {
                    row.summary = Some(summarize(&samples, &rung_scenarios[j].slo, &models[j]));
                    row.samples = samples;
                    row.error = None;
                }
                Err(e) => {
                    row.summary = None;
                    row.samples.clear();
                    row.error = Some(e);
                    row.full = false;
                }
            }
        }
        if interrupted {
            break;
        }
        if !full {
            let entries: Vec<Entry<'_>> = alive
                .iter()
                .filter_map(|&b| {
                    let r = &rows[built[b].0];
                    r.summary
                        .as_ref()
                        .map(|summary| Entry { id: r.id, summary })
                })
                .collect();
            let order = rank(&entries, spec.objective);
            let keep = keep_count(entries.len(), spec.keep);
            let mut kept: Vec<u64> = order[..keep].iter().map(|&i| entries[i].id).collect();
            kept.sort_unstable();
            alive.retain(|&b| kept.binary_search(&rows[built[b].0].id).is_ok());
        }
    }
    // Keep only what finished: rows never simulated are dropped after an interrupt.
    if interrupted {
        rows.retain(|r| r.summary.is_some() || r.error.is_some());
    }
    let doc = TuneDoc::new(path.display().to_string(), setup, shard, !interrupted, rows);
    let wall = watch.elapsed();
    if !a.quiet {
        eprintln!(
            "{} simulation(s) in {:.1} s ({} thread(s)); reproduce: scalelab tune {} --seed {seed}{}",
            sims,
            wall.as_secs_f64(),
            if a.threads == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                a.threads
            },
            path.display(),
            a.shard
                .as_ref()
                .map(|s| format!(" --shard {s}"))
                .unwrap_or_default(),
        );
    }
    finish(&a, &doc, Some((&src, &path)), interrupted)
}

fn run_merge(a: &TuneArgs) -> CmdResult {
    let mut docs = Vec::new();
    for p in &a.merge {
        let file = if p.is_dir() {
            p.join("tune.json")
        } else {
            p.clone()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("reading {}: {e}", file.display())))?;
        let doc: TuneDoc = serde_json::from_str(&text).map_err(|e| {
            Failure::bad_input(anyhow::anyhow!(
                "{}: not a scalelab tune document: {e}",
                file.display()
            ))
        })?;
        docs.push(doc);
    }
    let doc = merge(docs).map_err(bad)?;
    if !doc.complete && !a.quiet {
        eprintln!("warning: some shards were interrupted; the merged table is partial");
    }
    // The scenario, when it is still where the shards read it and unchanged, gives tuned.toml.
    let src = std::fs::read_to_string(&doc.scenario_path)
        .ok()
        .filter(|s| scenario_hash(s) == doc.setup.scenario_hash);
    let path = PathBuf::from(&doc.scenario_path);
    finish(
        a,
        &doc,
        src.as_deref().map(|s| (s, path.as_path())),
        !doc.complete,
    )
}

/// Prints the answer, writes the outputs, picks the exit code.
fn finish(
    a: &TuneArgs,
    doc: &TuneDoc,
    scenario: Option<(&str, &Path)>,
    interrupted: bool,
) -> CmdResult {
    if let Some(dir) = &a.out {
        let written = write_outputs(dir, doc, scenario).map_err(Failure::runtime)?;
        if !a.quiet {
            eprintln!("wrote {} to {}", written.join(", "), dir.display());
        }
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let s = serde_json::to_string_pretty(doc).map_err(Failure::runtime)?;
            writeln!(out, "{s}")?;
        }
        Format::Text => write!(out, "{}", text::render(doc, a.top))?,
    }
    if interrupted {
        return Err(Failure::runtime(anyhow::anyhow!(
            "interrupted: {} of {} candidate(s) finished{}",
            doc.rows.len(),
            doc.shard.map_or(doc.setup.candidates, |s| {
                (doc.setup.candidates + u64::from(s.count) - 1 - u64::from(s.index))
                    / u64::from(s.count)
            }),
            if a.out.is_some() {
                " (written to --out)"
            } else {
                ""
            }
        )));
    }
    if doc.shard.is_none() && doc.outcome.winner.is_none() {
        return Ok(Code::SloBreach);
    }
    Ok(Code::Ok)
}

fn write_outputs(
    dir: &Path,
    doc: &TuneDoc,
    scenario: Option<(&str, &Path)>,
) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let put = |name: &str, bytes: &[u8]| -> anyhow::Result<String> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
        Ok(name.to_string())
    };
    let mut written = vec![
        put(
            "tune.json",
            format!("{}\n", serde_json::to_string_pretty(doc)?).as_bytes(),
        )?,
        put("tune.csv", doc.to_csv().as_bytes())?,
    ];
    if doc.rows.iter().any(|r| r.full && r.summary.is_some()) {
        written.push(put("pareto.svg", chart::svg(doc)?.as_bytes())?);
        chart::png(doc, &dir.join("pareto.png"))?;
        written.push("pareto.png".into());
    }
    if let (Some(w), Some((src, path)), None) = (doc.winner(), scenario, doc.shard) {
        let settings: Vec<(String, toml::Value)> = w
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        written.push(put(
            "tuned.toml",
            tuned_scenario(src, path, &settings, doc)?.as_bytes(),
        )?);
    }
    Ok(written)
}

/// The scenario with the winner as a variant named `tuned` next to the baseline, the master
/// seed pinned (so its first sample is reproduced exactly) and `[tune]` removed: what
/// `scalelab sim tuned.toml` compares, with the full report.
pub fn tuned_scenario(
    src: &str,
    path: &Path,
    settings: &[(String, toml::Value)],
    doc: &TuneDoc,
) -> anyhow::Result<String> {
    let mut t: toml::Table = toml::from_str(src)?;
    t.remove("tune");
    t.insert("seed".into(), toml::Value::Integer(doc.setup.seed as i64));
    // Files named relative to the scenario must still be found from the output directory.
    let base = std::path::absolute(path.parent().unwrap_or(Path::new(".")))?;
    let absolutize = |v: &mut toml::Value, key: &str| {
        if let Some(toml::Value::String(f)) = v.get_mut(key)
            && Path::new(f.as_str()).is_relative()
        {
            *f = base.join(&*f).display().to_string();
        }
    };
    if let Some(toml::Value::Array(phases)) =
        t.get_mut("workload").and_then(|w| w.get_mut("phases"))
    {
        for p in phases {
            if let Some(arrival) = p.get_mut("arrival") {
                absolutize(arrival, "file");
            }
        }
    }
    if let Some(toml::Value::Array(reqs)) = t.get_mut("load").and_then(|w| w.get_mut("requests")) {
        for r in reqs {
            absolutize(r, "body_file");
        }
    }
    let variants = t
        .entry("variants")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    let toml::Value::Array(variants) = variants else {
        anyhow::bail!("`variants` is not an array of tables");
    };
    let taken = |n: &str| {
        variants
            .iter()
            .any(|v| v.get("name").and_then(|x| x.as_str()) == Some(n))
    };
    let mut name = "tuned".to_string();
    let mut i = 2;
    while taken(&name) {
        name = format!("tuned-{i}");
        i += 1;
    }
    let mut v = toml::Table::new();
    v.insert("name".into(), name.into());
    v.insert(
        "description".into(),
        format!(
            "the winner of scalelab tune ({})",
            objective_text(&doc.setup.spec)
        )
        .into(),
    );
    v.insert(
        "set".into(),
        toml::Value::Table(settings.iter().cloned().collect()),
    );
    variants.push(toml::Value::Table(v));
    Ok(format!(
        "# {}: the baseline next to the winner of `scalelab tune {}` (seed {}).\n\
         # Compare them: scalelab sim tuned.toml --out report\n\n{}",
        doc.setup.scenario,
        path.display(),
        doc.setup.seed,
        toml::to_string(&t)?
    ))
}

pub(crate) fn objective_text(spec: &TuneSpec) -> String {
    let model = spec
        .model
        .as_deref()
        .unwrap_or("each candidate's first billing model");
    format!("{} ({model})", spec.objective.label())
}

fn progress(
    control: &Control,
    finished: &std::sync::atomic::AtomicBool,
    base: usize,
    n: usize,
    label: &str,
) {
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} tuning {msg} [{bar:30}] {pos}/{len} simulations, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    while !finished.load(Ordering::Relaxed) {
        bar.set_position((control.done.load(Ordering::Relaxed) - base) as u64);
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

/// Ctrl-C: stop starting simulations, finish the running ones, write what is done, exit 1. A
/// second Ctrl-C quits at once. Returns once the handler is installed.
fn on_interrupt(control: Arc<Control>) {
    let (ready, wait) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready.send(());
                return;
            };
            rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut sig) = signal(SignalKind::interrupt()) else {
                let _ = ready.send(());
                return;
            };
            let _ = ready.send(());
            sig.recv().await;
            control.cancel.store(true, Ordering::Relaxed);
            eprintln!(
                "\ninterrupted: finishing the simulations already running, then writing what is \
                 done (Ctrl-C again quits at once)"
            );
            sig.recv().await;
            std::process::exit(130);
        });
        });
    if spawned.is_ok() {
        let _ = wait.recv_timeout(Duration::from_secs(5));
    }
}
