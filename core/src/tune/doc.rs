//! The tuning result document (`tune.json`), its CSV table, shard slices and the exact merge of
//! shard documents.
//!
//! A document holds every candidate's per-seed samples and summary, so merging shard documents
//! is a union of rows followed by the same analysis a single run does: the merged table, front
//! and winner are the ones of the unsharded run, to the bit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::analyze::{Entry, Outcome, Sample, Summary, outcome};
use super::{TuneError, TuneSpec};

/// The version of the document's layout.
pub const TUNE_SCHEMA: u32 = 1;

/// The `kind` field of a tuning document.
pub const TUNE_KIND: &str = "scalelab-tune";

/// What a search is: every field must agree for shard documents to merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The scenario's name.
    pub scenario: String,
    /// FNV-1a of the scenario file's text (shards must run the same file).
    pub scenario_hash: String,
    /// The master seed.
    pub seed: u64,
    /// The seed of each sample (the same for every candidate).
    pub seeds: Vec<u64>,
    /// The search, as resolved (with command-line overrides applied).
    pub spec: TuneSpec,
    /// Candidates in the whole search (all shards).
    pub candidates: u64,
    /// The scenario's horizon, seconds.
    pub horizon_s: f64,
}

/// A slice of the candidates: those at positions `k` with `k mod count = index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0 ≤ index < count`.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
}

impl FromStr for Shard {
    type Err = crate::Error;

    /// Parses `i/n`.
    fn from_str(s: &str) -> Result<Shard, crate::Error> {
        let bad = || crate::Error::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The items of this shard, in order (round robin, so a grid's slow corner is spread).
    pub fn select<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(k, _)| *k as u64 % u64::from(self.count) == u64::from(self.index))
            .map(|(_, x)| x)
            .collect()
    }
}

/// One candidate's line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Grid id.
    pub id: u64,
    /// Its settings: dotted key → value.
    pub settings: BTreeMap<String, toml::Value>,
    /// The horizon it was last simulated on, seconds.
    pub horizon_s: f64,
    /// The halving rung it reached (0 for grid and random search).
    pub rung: u32,
    /// Simulated on the scenario's full horizon (only these compete for the front).
    pub full: bool,
    /// One entry per seed, in seed order.
    pub samples: Vec<Sample>,
    /// Means and spread over the samples; None when the candidate could not run.
    pub summary: Option<Summary>,
    /// Why the candidate could not run (invalid combination of settings, simulator error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The document `scalelab tune` writes (`tune.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneDoc {
    /// Always [`TUNE_SCHEMA`].
    pub schema: u32,
    /// Always [`TUNE_KIND`].
    pub kind: String,
    /// The scenario file, as given.
    pub scenario_path: String,
    /// What was searched.
    pub setup: Setup,
    /// The slice this document covers (None: all candidates).
    #[serde(default)]
    pub shard: Option<Shard>,
    /// Every candidate of the slice has a row (false after Ctrl-C).
    pub complete: bool,
    /// One row per candidate run, by id.
    pub rows: Vec<Row>,
    /// The ranking, front and winner over the rows' full-horizon candidates.
    pub outcome: Outcome,
}

impl TuneDoc {
    /// A document over `rows` (sorted here by id), analysed.
    pub fn new(
        scenario_path: String,
        setup: Setup,
        shard: Option<Shard>,
        complete: bool,
        mut rows: Vec<Row>,
    ) -> TuneDoc {
        rows.sort_by_key(|r| r.id);
        let mut doc = TuneDoc {
            schema: TUNE_SCHEMA,
            kind: TUNE_KIND.into(),
            scenario_path,
            setup,
            shard,
            complete,
            rows,
            outcome: Outcome::default(),
        };
        doc.outcome = doc.analyze();
        doc
    }

    /// Ranks the full-horizon rows that ran.
    pub fn analyze(&self) -> Outcome {
        let entries: Vec<Entry<'_>> = self
            .rows
            .iter()
            .filter(|r| r.full)
            .filter_map(|r| {
                r.summary
                    .as_ref()
                    .map(|summary| Entry { id: r.id, summary })
            })
            .collect();
        outcome(&entries, self.setup.spec.objective)
    }

    /// The row of candidate `id`.
    pub fn row(&self, id: u64) -> Option<&Row> {
        self.rows
            .binary_search_by_key(&id, |r| r.id)
            .ok()
            .map(|i| &self.rows[i])
    }

    /// The winning row, if any candidate passes the `[slo]`.
    pub fn winner(&self) -> Option<&Row> {
        self.outcome.winner.and_then(|id| self.row(id))
    }

    /// Checks the schema and kind of a document read from a file.
    pub fn check(&self) -> Result<(), TuneError> {
        if self.kind != TUNE_KIND || self.schema != TUNE_SCHEMA {
            return Err(TuneError::Merge(format!(
                "not a scalelab tune document of schema {TUNE_SCHEMA} (kind \"{}\", schema {})",
                self.kind, self.schema
            )));
        }
        Ok(())
    }

    /// The full table as CSV: one line per row, by id; params as columns.
    pub fn to_csv(&self) -> String {
        let keys: Vec<&str> = self
            .setup
            .spec
            .params
            .iter()
            .map(|p| p.key.as_str())
            .collect();
        let mut out = String::from("id");
        for k in &keys {
            out.push(',');
            out.push_str(&csv_field(k));
        }
        out.push_str(
            ",rung,horizon_s,full,seeds,cost_model,cost_usd_mean,cost_usd_sd,cost_usd_min,\
             cost_usd_max,cost_per_million_usd_mean,p50_ms_mean,p99_ms_mean,p99_ms_sd,p99_ms_max,\
             cold_start_ratio_mean,cold_start_ratio_sd,error_ratio,instances_mean,slo_passed,\
             slo_passed_seeds,pareto,winner,error\n",
        );
        let front: std::collections::BTreeSet<u64> = self.outcome.front.iter().copied().collect();
        for r in &self.rows {
            let _ = write!(out, "{}", r.id);
            for k in &keys {
                out.push(',');
                out.push_str(&csv_field(
                    &r.settings.get(*k).map(value_text).unwrap_or_default(),
                ));
            }
            let _ = write!(
                out,
                ",{},{},{},{}",
                r.rung,
                r.horizon_s,
                u8::from(r.full),
                r.samples.len()
            );
            match &r.summary {
                Some(s) => {
                    let _ = write!(
                        out,
                        ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                        csv_field(&s.cost_model),
                        s.cost_usd.mean,
                        s.cost_usd.sd,
                        s.cost_usd.min,
                        s.cost_usd.max,
                        s.cost_per_million_usd.mean,
                        s.p50_ms.mean,
                        s.p99_ms.mean,
                        s.p99_ms.sd,
                        s.p99_ms.max,
                        s.cold_start_ratio.mean,
                        s.cold_start_ratio.sd,
                        s.error_ratio,
                        s.instances_mean.mean,
                        u8::from(s.slo.passed),
                        s.slo_passed_seeds,
                    );
                }
                None => out.push_str(",,,,,,,,,,,,,,,,"),
            }
            let _ = writeln!(
                out,
                ",{},{},{}",
                u8::from(front.contains(&r.id)),
                u8::from(self.outcome.winner == Some(r.id)),
                csv_field(r.error.as_deref().unwrap_or_default())
            );
        }
        out
    }
}

/// A setting's value as text: strings bare, everything else as TOML writes it.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// FNV-1a (64 bit) of a scenario's text, as hex: identifies the file shards ran.
pub fn scenario_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Merges shard documents into the document of the whole search: the rows' union, analysed
/// again. Every shard of the split must be there exactly once, with the same setup.
pub fn merge(docs: Vec<TuneDoc>) -> Result<TuneDoc, TuneError> {
    let Some(first) = docs.first() else {
        return Err(TuneError::Merge("no documents given".into()));
    };
    for d in &docs {
        d.check()?;
    }
    let count = match first.shard {
        Some(s) => s.count,
        None => {
            return Err(TuneError::Merge(
                "the first document is not a shard (run with --shard i/n)".into(),
            ));
        }
    };
    let setup = first.setup.clone();
    let scenario_path = first.scenario_path.clone();
    let mut seen = vec![false; count as usize];
    let mut complete = true;
    let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
    for (n, d) in docs.into_iter().enumerate() {
        let Some(shard) = d.shard else {
            return Err(TuneError::Merge(format!(
                "document {} is not a shard",
                n + 1
            )));
        };
        if shard.count != count {
            return Err(TuneError::Merge(format!(
                "document {} is shard {}/{}, the first is of {count} shards",
                n + 1,
                shard.index,
                shard.count
            )));
        }
        if d.setup != setup {
            return Err(TuneError::Merge(format!(
                "shard {}/{count} ran a different search ({}); every shard needs the same \
                 scenario file, seed and settings",
                shard.index,
                setup_difference(&setup, &d.setup)
            )));
        }
        if std::mem::replace(&mut seen[shard.index as usize], true) {
            return Err(TuneError::Merge(format!(
                "shard {}/{count} is given twice",
                shard.index
            )));
        }
        complete &= d.complete;
        for r in d.rows {
            let id = r.id;
            if rows.insert(id, r).is_some() {
                return Err(TuneError::Merge(format!(
                    "candidate {id} appears in two shards"
                )));
            }
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(TuneError::Merge(format!(
            "missing shard(s): {}",
            missing.join(", ")
        )));
    }
    Ok(TuneDoc::new(
        scenario_path,
        setup,
        None,
        complete,
        rows.into_values().collect(),
    ))
}

fn setup_difference(a: &Setup, b: &Setup) -> String {
    if a.scenario_hash != b.scenario_hash {
        "a different scenario file".into()
    } else if a.seed != b.seed {
        format!("seed {} vs {}", b.seed, a.seed)
    } else if a.seeds != b.seeds {
        format!("{} seeds vs {}", b.seeds.len(), a.seeds.len())
    } else if a.spec.search != b.spec.search {
        format!(
            "search {} vs {}",
            b.spec.search.label(),
            a.spec.search.label()
        )
    } else {
        "different [tune] settings".into()
    }
}
