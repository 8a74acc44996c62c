//! `scalelab tune SCENARIO` and `scalelab tune --merge`: arguments to `scalelab_lab::tune`, a
//! progress bar, Ctrl-C, and the output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use scalelab_core::tune::doc::{Shard, TuneDoc};
use scalelab_core::tune::{Search, TuneError};
use scalelab_lab::tune::{Overrides, Rung, Tuner};
use scalelab_sim::tune::Control;

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
    let spec = scenario
        .tune
        .clone()
        .ok_or_else(|| bad(TuneError::NoTuneTable))?;
    let overrides = Overrides {
        seeds: a.seeds,
        search: a.search.map(|s| match s {
            TuneSearch::Grid => Search::Grid,
            TuneSearch::Random => Search::Random,
            TuneSearch::Halving => Search::Halving,
        }),
        samples: a.samples,
    };
    let spec = overrides.apply(&spec)?;
    let shard = match &a.shard {
        Some(s) => Some(
            s.parse::<Shard>()
                .map_err(|e| bad(format!("--shard: {e}")))?,
        ),
        None => None,
    };
    let seed = resolve_seed(a.seed.as_deref(), scenario.seed)?;
    let tuner = Tuner::new(&scenario, &src, &path, spec, seed, shard, a.threads)?;
    super::common::check_work(
        &path,
        &tuner.estimate(),
        &scalelab_core::estimate::WorkLimits::SIM,
        a.allow_large_run,
    )?;
    let control = Arc::new(Control::default());
    on_interrupt(Arc::clone(&control));
    if !a.quiet {
        let setup = tuner.setup();
        eprintln!(
            "tune: {} candidate(s){} × {} seed(s), {} search, objective {}, seed {seed}",
            tuner.len(),
            shard
                .map(|s| format!(" (shard {}/{} of {})", s.index, s.count, setup.candidates))
                .unwrap_or_default(),
            setup.spec.seeds,
            setup.spec.search.label(),
            setup.spec.objective_text(),
        );
    }
    let watch = crate::clock::Stopwatch::start();
    let show_bar = !a.quiet && stderr_is_terminal();
    let bar: &(dyn Fn(&Rung<'_>) + Sync) = &progress;
    let done = tuner.run(&control, show_bar.then_some(bar));
    let wall = watch.elapsed();
    if !a.quiet {
        eprintln!(
            "{} simulation(s) in {:.1} s ({} thread(s)); reproduce: scalelab tune {} --seed {seed}{}",
            done.simulations,
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
    finish(&a, &done.doc, Some((&src, &path)), done.interrupted)
}

fn run_merge(a: &TuneArgs) -> CmdResult {
    let merged = scalelab_lab::tune::merge_files(&a.merge)?;
    if !merged.doc.complete && !a.quiet {
        eprintln!("warning: some shards were interrupted; the merged table is partial");
    }
    let path = PathBuf::from(&merged.doc.scenario_path);
    finish(
        a,
        &merged.doc,
        merged.scenario_src.as_deref().map(|s| (s, path.as_path())),
        !merged.doc.complete,
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
        let written =
            scalelab_lab::tune::write_outputs(dir, doc, scenario).map_err(Failure::runtime)?;
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
        Format::Text => write!(out, "{}", scalelab_reports::tune::render_text(doc, a.top))?,
    }
    if interrupted {
        return Err(Failure::runtime(anyhow::anyhow!(
            "interrupted: {} of {} candidate(s) finished{}",
            doc.rows.len(),
            scalelab_lab::tune::slice_size(doc),
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

/// A progress bar for one rung, until it finishes.
fn progress(r: &Rung<'_>) {
    let bar = indicatif::ProgressBar::new(r.jobs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} tuning {msg} [{bar:30}] {pos}/{len} simulations, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(r.label.to_string());
    while !r.is_finished() {
        bar.set_position(r.done() as u64);
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
                    "\ninterrupted: finishing the simulations already running, then writing \
                     what is done (Ctrl-C again quits at once)"
                );
                sig.recv().await;
                std::process::exit(130);
            });
        });
    if spawned.is_ok() {
        let _ = wait.recv_timeout(Duration::from_secs(5));
    }
}
