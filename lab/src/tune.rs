//! `[tune]` searches run: every candidate × seed simulated in parallel (one whole run per
//! thread), rung after rung for successive halving; shard documents merged; the outputs
//! (`tune.json`, `tune.csv`, the Pareto chart, `tuned.toml`) written; a tuned winner applied
//! back to its scenario (`export --from-tune`).
//!
//! The search's pure parts (candidates, seeds, summaries, ranking, the document) are in
//! [`scalelab_core::tune`]; the parallel runner is [`scalelab_sim::tune`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scalelab_core::scenario::Scenario;
use scalelab_core::tune::analyze::{Entry, Sample, halving_horizons, keep_count, rank, summarize};
use scalelab_core::tune::candidates::{Candidate, CandidateBuilder, sample_seed};
use scalelab_core::tune::doc::{Row, Setup, Shard, TuneDoc, merge, scenario_hash, value_text};
use scalelab_core::tune::{Search, TuneSpec};
use scalelab_sim::tune::{Control, Job, run_jobs};

use crate::LabError;

/// Command-line overrides of the `[tune]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    /// Seeds per candidate (1 … 1000).
    pub seeds: Option<u32>,
    /// How candidates are chosen.
    pub search: Option<Search>,
    /// Candidates to draw (random) or to start halving from (≥ 1).
    pub samples: Option<u64>,
}

impl Overrides {
    /// `spec` with the overrides applied; out-of-range values are bad input.
    pub fn apply(&self, spec: &TuneSpec) -> Result<TuneSpec, LabError> {
        let mut spec = spec.clone();
        if let Some(n) = self.seeds {
            if !(1..=1000).contains(&n) {
                return Err(LabError::setting("--seeds", "expected 1 to 1000"));
            }
            spec.seeds = n;
        }
        if let Some(s) = self.search {
            spec.search = s;
        }
        if let Some(n) = self.samples {
            if n == 0 {
                return Err(LabError::setting("--samples", "expected 1 or more"));
            }
            spec.samples = Some(n);
        }
        Ok(spec)
    }
}

/// A search ready to run: the candidates of this shard, their scenarios built.
pub struct Tuner {
    path: PathBuf,
    setup: Setup,
    shard: Option<Shard>,
    rows: Vec<Row>,
    /// (row index, scenario) of every candidate whose settings give a valid scenario.
    built: Vec<(usize, Scenario)>,
    horizons: Vec<Duration>,
    threads: usize,
}

/// One rung of a search as it runs, for a progress display (see [`Tuner::run`]).
pub struct Rung<'a> {
    /// `rung i/n (horizon)` for successive halving, else empty.
    pub label: &'a str,
    /// Simulations in this rung.
    pub jobs: usize,
    control: &'a Control,
    done_before: usize,
    finished: &'a AtomicBool,
}

impl Rung<'_> {
    /// Simulations of this rung finished so far.
    pub fn done(&self) -> usize {
        self.control
            .done
            .load(Ordering::Relaxed)
            .saturating_sub(self.done_before)
    }

    /// True once every simulation of the rung has finished (or the search was cancelled).
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }
}

/// What a search produced.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The document (partial when interrupted).
    pub doc: TuneDoc,
    /// Simulations run.
    pub simulations: usize,
    /// Stopped by [`Control::cancel`] before the end.
    pub interrupted: bool,
}

impl Tuner {
    /// Prepares the search of `scenario` (resolved, with `[tune]`) read from `src` at `path`,
    /// with `spec` (the `[tune]` table with overrides applied), the master `seed`, an optional
    /// shard, and `threads` (0: every core).
    pub fn new(
        scenario: &Scenario,
        src: &str,
        path: &Path,
        spec: TuneSpec,
        seed: u64,
        shard: Option<Shard>,
        threads: usize,
    ) -> Result<Tuner, LabError> {
        if shard.is_some() && spec.search == Search::Halving {
            return Err(LabError::setting(
                "--shard",
                "successive halving needs every candidate's result between rungs, so it \
                 cannot be split; shard a grid or random search instead",
            ));
        }
        let candidates = spec.candidates(seed)?;
        let setup = Setup {
            scenario: scenario.name.clone(),
            scenario_hash: scenario_hash(src),
            seed,
            seeds: (0..spec.seeds).map(|k| sample_seed(seed, k)).collect(),
            spec,
            candidates: candidates.len() as u64,
            horizon_s: scenario.duration.as_secs_f64(),
        };
        let mine: Vec<Candidate> = match shard {
            Some(sh) => sh.select(candidates),
            None => candidates,
        };
        let builder = CandidateBuilder::new(src, path)?;
        let mut rows = Vec::with_capacity(mine.len());
        let mut built = Vec::new();
        for c in &mine {
            let settings = setup.spec.settings(c);
            // An invalid combination (min_scale above max_scale, say) is listed with its reason.
            let error = match builder.build(&settings) {
                Ok(s) => {
                    built.push((rows.len(), s));
                    None
                }
                Err(e) => Some(e.brief()),
            };
            rows.push(Row {
                id: c.id,
                settings: settings.into_iter().collect(),
                horizon_s: 0.0,
                rung: 0,
                full: false,
                samples: Vec::new(),
                summary: None,
                error,
            });
        }
        let horizons = match setup.spec.search {
            Search::Halving => halving_horizons(scenario.duration, setup.spec.min_duration),
            _ => vec![scenario.duration],
        };
        Ok(Tuner {
            path: path.to_path_buf(),
            setup,
            shard,
            rows,
            built,
            horizons,
            threads,
        })
    }

    /// The work of the search: one run per valid candidate at the full horizon (`runs`, named
    /// `candidate N`), and `total` the largest of any one of them, field by field, with the
    /// requests and events of every simulation the search starts (candidates × seeds) summed
    /// (successive halving runs fewer). The simulator's limits apply to the total.
    pub fn estimate(&self) -> scalelab_core::estimate::ScenarioEstimate {
        use scalelab_core::estimate::{ScenarioEstimate, WorkEstimate, estimate_run};
        let runs: Vec<(String, WorkEstimate)> = self
            .built
            .iter()
            .map(|(row, s)| (format!("candidate {}", self.rows[*row].id), estimate_run(s)))
            .collect();
        let seeds = f64::from(self.setup.spec.seeds.max(1));
        let mut total = WorkEstimate::default();
        for (_, e) in &runs {
            total.requests += e.requests * seeds;
            total.events += e.events * seeds;
            total.instance_seconds += e.instance_seconds * seeds;
            total.peak_rate = total.peak_rate.max(e.peak_rate);
            total.peak_instances = total.peak_instances.max(e.peak_instances);
            total.series_rows = total.series_rows.max(e.series_rows);
        }
        ScenarioEstimate { runs, total }
    }

    /// What is searched.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Candidates of this shard.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the shard has no candidate.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Runs the search. `control` cancels it (what finished is kept) and counts simulations;
    /// `watch`, when given, runs on a thread of its own during each rung and must return once
    /// [`Rung::is_finished`].
    pub fn run(self, control: &Control, watch: Option<&(dyn Fn(&Rung<'_>) + Sync)>) -> Finished {
        let Tuner {
            path,
            setup,
            shard,
            mut rows,
            built,
            horizons,
            threads,
        } = self;
        let spec = &setup.spec;
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
            let finished = AtomicBool::new(false);
            let progress = Rung {
                label: &label,
                jobs: jobs.len(),
                control,
                done_before: control.done.load(Ordering::Relaxed),
                finished: &finished,
            };
            let results = std::thread::scope(|scope| {
                if let Some(w) = watch {
                    let progress = &progress;
                    scope.spawn(move || w(progress));
                }
                let r = run_jobs(&jobs, threads, control, |i, r| {
                    let seed = jobs[i].seed;
                    let model = &models[i / k];
                    r.map_err(|e| e.to_string()).and_then(|v| {
                        Sample::from_variant(&v, model, seed).ok_or_else(|| {
                            format!(
                                "the run computed no cost for billing model \"{model}\" (list it \
                                 in [billing] models)"
                            )
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
        Finished {
            doc,
            simulations: sims,
            interrupted,
        }
    }
}

/// Reads a tune document: a `tune.json`, or the directory holding one.
pub fn read_doc(path: &Path) -> Result<TuneDoc, LabError> {
    let file = if path.is_dir() {
        path.join("tune.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| LabError::TuneDoc(format!("reading {}: {e}", file.display())))?;
    let doc: TuneDoc = serde_json::from_str(&text).map_err(|e| {
        LabError::TuneDoc(format!(
            "{}: not a scalelab tune document: {e}",
            file.display()
        ))
    })?;
    Ok(doc)
}

/// A merged document and, when the scenario is still where the shards read it and unchanged,
/// its text (which gives `tuned.toml`).
pub struct Merged {
    /// The merged document.
    pub doc: TuneDoc,
    /// The scenario's text, when found unchanged.
    pub scenario_src: Option<String>,
}

/// Merges shard documents (files or directories holding `tune.json`).
pub fn merge_files(paths: &[PathBuf]) -> Result<Merged, LabError> {
    let docs = paths
        .iter()
        .map(|p| read_doc(p))
        .collect::<Result<Vec<_>, _>>()?;
    let doc = merge(docs)?;
    let scenario_src = std::fs::read_to_string(&doc.scenario_path)
        .ok()
        .filter(|s| scenario_hash(s) == doc.setup.scenario_hash);
    Ok(Merged { doc, scenario_src })
}

/// Candidates the document's slice has in all (every candidate, or its shard's share).
pub fn slice_size(doc: &TuneDoc) -> u64 {
    doc.shard.map_or(doc.setup.candidates, |s| {
        (doc.setup.candidates + u64::from(s.count) - 1 - u64::from(s.index)) / u64::from(s.count)
    })
}

/// Writes `tune.json`, `tune.csv`, `pareto.svg` and `pareto.png` (when a candidate finished on
/// the full horizon) and `tuned.toml` (when there is a winner, the scenario is given and the
/// document is not a shard) into `dir`. Returns the names written.
pub fn write_outputs(
    dir: &Path,
    doc: &TuneDoc,
    scenario: Option<(&str, &Path)>,
) -> Result<Vec<String>, LabError> {
    std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    let put = |name: &str, bytes: &[u8]| -> Result<String, LabError> {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| LabError::io(p, e))?;
        Ok(name.to_string())
    };
    let json = serde_json::to_string_pretty(doc)
        .map_err(|e| LabError::Failed(format!("serializing tune.json: {e}")))?;
    let mut written = vec![
        put("tune.json", format!("{json}\n").as_bytes())?,
        put("tune.csv", doc.to_csv().as_bytes())?,
    ];
    if doc.rows.iter().any(|r| r.full && r.summary.is_some()) {
        written.push(put(
            "pareto.svg",
            scalelab_reports::tune::pareto_svg(doc)?.as_bytes(),
        )?);
        scalelab_reports::tune::pareto_png(doc, &dir.join("pareto.png"))?;
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
) -> Result<String, LabError> {
    let bad = |e: String| LabError::Failed(format!("writing tuned.toml: {e}"));
    let mut t: toml::Table = toml::from_str(src).map_err(|e| bad(e.to_string()))?;
    t.remove("tune");
    t.insert("seed".into(), toml::Value::Integer(doc.setup.seed as i64));
    // Files named relative to the scenario must still be found from the output directory.
    // `Path::parent` of a bare file name is the empty path, which has no absolute form.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = std::path::absolute(dir).map_err(|e| bad(e.to_string()))?;
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
        return Err(bad("`variants` is not an array of tables".into()));
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
            doc.setup.spec.objective_text()
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
        toml::to_string(&t).map_err(|e| bad(e.to_string()))?
    ))
}

/// The winner of a tune document applied to the scenario it came from.
#[derive(Debug, Clone)]
pub struct Winner {
    /// The scenario with the winner's settings.
    pub scenario: Scenario,
    /// `tuned winner 12 (autoscaler.target = 50, …)`.
    pub description: String,
    /// The document was made from another version of the scenario file.
    pub stale: bool,
}

/// Applies the winner of the tune document at `doc_path` (a `tune.json` or its directory) to
/// the scenario file `scenario_path`.
pub fn winner(scenario_path: &Path, doc_path: &Path) -> Result<Winner, LabError> {
    let ctx = |e: LabError| LabError::TuneDoc(format!("--from-tune: {e}"));
    let doc = read_doc(doc_path).map_err(ctx)?;
    doc.check().map_err(|e| ctx(e.into()))?;
    let file = if doc_path.is_dir() {
        doc_path.join("tune.json")
    } else {
        doc_path.to_path_buf()
    };
    let Some(w) = doc.winner() else {
        return Err(LabError::TuneDoc(format!(
            "--from-tune: {} has no winner (no candidate met the [slo]); nothing to export",
            file.display()
        )));
    };
    let src = std::fs::read_to_string(scenario_path)
        .map_err(|e| LabError::TuneDoc(format!("reading {}: {e}", scenario_path.display())))?;
    let settings: Vec<(String, toml::Value)> = w
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let shown = scenario_path.display();
    let scenario = CandidateBuilder::new(&src, scenario_path)?
        .build(&settings)
        .map_err(|e| {
            LabError::TuneDoc(format!(
                "--from-tune: the winner's settings do not apply to {shown}: {}",
                e.brief()
            ))
        })?;
    let set: Vec<String> = settings
        .iter()
        .map(|(k, v)| format!("{k} = {}", value_text(v)))
        .collect();
    Ok(Winner {
        scenario,
        description: format!("tuned winner {} ({})", w.id, set.join(", ")),
        stale: scenario_hash(&src) != doc.setup.scenario_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
name = "t"
seed = 3
duration = "2m"
billing = { models = ["cloud-run-instance"] }
slo = { p99 = "500ms" }
workload = { phases = [{ duration = "2m", arrival = { process = "poisson", rate = 4 } }] }
[service]
service_time = { dist = "fixed", value = "50ms" }
cold_start = { dist = "fixed", value = "1s" }
[tune]
seeds = 2
[tune.params]
"autoscaler.min_scale" = [0, 1]
"autoscaler.max_scale" = [0, 3]
"#;

    fn tuner(shard: Option<Shard>, spec: impl FnOnce(&mut TuneSpec)) -> Tuner {
        let path = Path::new("t.toml");
        let s = Scenario::from_toml_str(SRC, path).expect("valid");
        let mut t = s.tune.clone().expect("[tune]");
        spec(&mut t);
        Tuner::new(&s, SRC, path, t, 3, shard, 1).expect("ready")
    }

    #[test]
    fn a_grid_search_runs_every_candidate_with_every_seed() {
        let t = tuner(None, |_| {});
        assert_eq!(t.len(), 4);
        assert_eq!(t.setup().seeds.len(), 2);
        let done = t.run(&Control::default(), None);
        assert!(!done.interrupted);
        assert_eq!(done.simulations, 8);
        assert_eq!(done.doc.rows.len(), 4);
        assert!(done.doc.rows.iter().all(|r| r.full && r.samples.len() == 2));
        // Every candidate meets the p99 of 500 ms: the cheapest wins.
        let w = done.doc.winner().expect("a candidate meets the SLO");
        let cost = |r: &Row| {
            r.summary
                .as_ref()
                .map_or(f64::INFINITY, |s| s.cost_usd.mean)
        };
        let cheapest = done.doc.rows.iter().map(cost).fold(f64::INFINITY, f64::min);
        assert_eq!(cost(w), cheapest);
    }

    #[test]
    fn shards_split_the_candidates_and_merge_back() {
        let whole = tuner(None, |_| {}).run(&Control::default(), None).doc;
        let parts: Vec<TuneDoc> = (0..2)
            .map(|i| {
                tuner(Some(Shard { index: i, count: 2 }), |_| {})
                    .run(&Control::default(), None)
                    .doc
            })
            .collect();
        assert_eq!(parts[0].rows.len(), 2);
        assert_eq!(slice_size(&parts[1]), 2);
        let merged = merge(parts).expect("the shards fit together");
        assert_eq!(merged.rows, whole.rows);
        assert_eq!(merged.outcome, whole.outcome);
    }

    #[test]
    fn halving_cannot_be_sharded_and_overrides_are_checked() {
        let path = Path::new("t.toml");
        let s = Scenario::from_toml_str(SRC, path).expect("valid");
        let mut spec = s.tune.clone().expect("[tune]");
        spec.search = Search::Halving;
        let e = Tuner::new(
            &s,
            SRC,
            path,
            spec.clone(),
            1,
            Some(Shard { index: 0, count: 2 }),
            1,
        )
        .err()
        .expect("refused");
        assert!(
            e.is_bad_input() && e.to_string().contains("cannot be split"),
            "{e}"
        );
        let bad = Overrides {
            seeds: Some(0),
            ..Overrides::default()
        };
        assert!(
            bad.apply(&spec)
                .unwrap_err()
                .to_string()
                .starts_with("--seeds")
        );
        let ok = Overrides {
            seeds: Some(5),
            search: Some(Search::Random),
            samples: Some(2),
        };
        let applied = ok.apply(&spec).expect("in range");
        assert_eq!(
            (applied.seeds, applied.search, applied.samples),
            (5, Search::Random, Some(2))
        );
    }

    #[test]
    fn an_invalid_combination_is_listed_with_its_reason() {
        let src = SRC
            .replace("[0, 3]", "[0, 3]\n\"autoscaler.initial_scale\" = [1]")
            .replace(
                "\"autoscaler.min_scale\" = [0, 1]",
                "\"autoscaler.min_scale\" = [0, 5]",
            );
        let path = Path::new("t.toml");
        let s = Scenario::from_toml_str(&src, path).expect("valid");
        let t =
            Tuner::new(&s, &src, path, s.tune.clone().expect("[tune]"), 3, None, 1).expect("ready");
        let done = t.run(&Control::default(), None);
        let bad: Vec<&str> = done
            .doc
            .rows
            .iter()
            .filter_map(|r| r.error.as_deref())
            .collect();
        assert_eq!(
            bad,
            ["key `autoscaler.min_scale`: min_scale 5 exceeds max_scale 3"]
        );
        assert_eq!(done.simulations, 6);
    }

    #[test]
    fn a_cancelled_search_keeps_only_what_finished() {
        let control = Control::default();
        control.cancel.store(true, Ordering::Relaxed);
        let done = tuner(None, |_| {}).run(&control, None);
        assert!(done.interrupted);
        assert!(!done.doc.complete);
        assert!(done.doc.rows.is_empty());
    }

    #[test]
    fn halving_runs_rungs_and_reports_progress() {
        let t = tuner(None, |s| {
            s.search = Search::Halving;
            s.min_duration = Some(Duration::from_secs(30));
        });
        let labels = std::sync::Mutex::new(Vec::new());
        let watch = |r: &Rung<'_>| {
            while !r.is_finished() {
                std::thread::yield_now();
            }
            labels
                .lock()
                .unwrap()
                .push((r.label.to_string(), r.jobs, r.done()));
        };
        let done = t.run(&Control::default(), Some(&watch));
        let labels = labels.into_inner().unwrap();
        assert!(labels.len() >= 2, "{labels:?}");
        assert!(labels[0].0.starts_with("rung 1/"), "{labels:?}");
        assert!(
            labels.iter().all(|(_, jobs, done)| jobs == done),
            "{labels:?}"
        );
        // Only the kept fraction reached the full horizon.
        assert!(done.doc.rows.iter().any(|r| !r.full));
        assert!(done.doc.rows.iter().any(|r| r.full));
    }

    /// A scenario named without a directory (`scalelab tune t.toml` in its own folder) used to
    /// fail to write `tuned.toml`: the parent of a bare file name is the empty path.
    #[test]
    fn outputs_and_the_tuned_scenario() {
        let done = tuner(None, |_| {}).run(&Control::default(), None);
        let dir = std::env::temp_dir().join(format!("scalelab-lab-tune-{}", std::process::id()));
        let written =
            write_outputs(&dir, &done.doc, Some((SRC, Path::new("t.toml")))).expect("written");
        assert_eq!(
            written,
            [
                "tune.json",
                "tune.csv",
                "pareto.svg",
                "pareto.png",
                "tuned.toml"
            ]
        );
        let tuned = std::fs::read_to_string(dir.join("tuned.toml")).expect("tuned.toml");
        let s = Scenario::from_toml_str(&tuned, &dir.join("tuned.toml")).expect("valid");
        assert_eq!(s.seed, Some(3));
        assert!(s.tune.is_none());
        assert_eq!(s.runs().len(), 2);
        assert_eq!(s.variants[0].name, "tuned");
        let back = read_doc(&dir).expect("tune.json reads back");
        assert_eq!(back, done.doc);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
