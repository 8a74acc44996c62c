//! Dotted-key overrides: `[[variants]]` applied to the base scenario, each resolved into a
//! complete scenario of its own, and [`CandidateBuilder`], the same for a tuning candidate.

use std::path::{Path, PathBuf};

use super::error::ScenarioError;
use super::raw::RawScenario;
use super::{BASELINE, Scenario, Variant};

pub(super) fn resolve_variants(
    src: &str,
    path: &Path,
    raw: &RawScenario,
) -> Result<Vec<Variant>, ScenarioError> {
    let Some(variants) = &raw.variants else {
        return Ok(Vec::new());
    };
    let mut base: toml::Table = toml::from_str(src)
        .map_err(|e| ScenarioError::at(path, src, e.span(), None, e.message().to_string()))?;
    base.remove("variants");
    let mut out: Vec<Variant> = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let v = v.get_ref();
        let name = v.name.get_ref().trim().to_string();
        let at = |span, key: Option<String>, msg: String| {
            ScenarioError::at(path, src, Some(span), key, msg)
        };
        if name.is_empty() || name == BASELINE || out.iter().any(|o| o.name == name) {
            let why = if name.is_empty() {
                "empty variant name".to_string()
            } else if name == BASELINE {
                "\"baseline\" names the scenario without overrides; pick another name".to_string()
            } else {
                format!("duplicate variant name \"{name}\"")
            };
            return Err(at(v.name.span(), Some(format!("variants[{i}].name")), why));
        }
        let mut table = base.clone();
        let mut set = Vec::new();
        let overrides: Vec<_> = v
            .set
            .as_ref()
            .map(|s| s.get_ref().iter().collect())
            .unwrap_or_default();
        for (k, val) in &overrides {
            let key = k.get_ref().as_str();
            if key == "variants" || key.starts_with("variants.") {
                return Err(at(
                    k.span(),
                    Some(key.into()),
                    "a variant cannot override variants".into(),
                ));
            }
            apply(&mut table, key, val.get_ref().clone()).map_err(|m| {
                at(
                    k.span(),
                    Some(key.to_string()),
                    format!("variant \"{name}\": {m}"),
                )
            })?;
            set.push((
                key.to_string(),
                serde_json::to_value(val.get_ref()).unwrap_or_default(),
            ));
        }
        let text = to_toml_text(&table).map_err(|e| {
            at(
                v.name.span(),
                None,
                format!("variant \"{name}\": cannot apply overrides: {e}"),
            )
        })?;
        // Errors in the overridden document point at the override that caused them (its key is
        // a prefix of the failing key, or the other way round), else at the variant's name.
        let locate = |e: ScenarioError| {
            let failing = e.key.clone().unwrap_or_default();
            let norm = |s: &str| s.replace('[', ".").replace(']', "");
            let hit = overrides.iter().find(|(k, _)| {
                let k = norm(k.get_ref());
                let f = norm(&failing);
                !f.is_empty() && (f.starts_with(&k) || k.starts_with(&f))
            });
            let (span, key) = match hit {
                Some((k, _)) => (k.span(), Some(k.get_ref().clone())),
                None => (v.name.span(), e.key.clone()),
            };
            at(span, key, format!("variant \"{name}\": {}", e.message))
        };
        let vraw = super::resolve::parse_raw(&text, path).map_err(locate)?;
        let scenario = super::resolve::Resolver {
            file: path,
            src: &text,
        }
        .scenario(&vraw)
        .map_err(locate)?;
        out.push(Variant {
            name,
            description: v.description.clone(),
            set,
            scenario: Box::new(scenario),
        });
    }
    Ok(out)
}

/// `table` as TOML text, in time linear in its size. `toml::to_string` splices each table
/// header into its output with `String::insert_str`, which is quadratic in the number of
/// tables (4 s per variant for a file with 50 000 phases); the serializer's buffer printed
/// through `Display` writes the same text in one pass.
fn to_toml_text(table: &toml::Table) -> Result<String, toml::ser::Error> {
    use serde::Serialize;
    let mut buf = toml::ser::Buffer::new();
    table.serialize(toml::ser::Serializer::new(&mut buf))?;
    Ok(buf.to_string())
}

/// Sets `key` (dotted; numeric segments index arrays) in `table`, creating tables on the way.
fn apply(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let segs: Vec<&str> = key.split('.').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(format!(
            "malformed key \"{key}\": expected dotted names like \"autoscaler.min_scale\""
        ));
    }
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, &segs, 0, key, value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

fn set_in(
    cur: &mut toml::Value,
    segs: &[&str],
    i: usize,
    key: &str,
    value: toml::Value,
) -> Result<(), String> {
    let seg = segs[i];
    let last = i + 1 == segs.len();
    let here = segs[..=i].join(".");
    let slot = match cur {
        toml::Value::Table(t) => {
            if last {
                t.insert(seg.to_string(), value);
                return Ok(());
            }
            t.entry(seg.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        }
        toml::Value::Array(a) => {
            // An entry of an array of tables by its index, or by its `name`
            // (`services.checkout.autoscaler.target`).
            let by_name = || {
                a.iter().position(|e| {
                    e.as_table()
                        .and_then(|t| t.get("name"))
                        .and_then(|n| n.as_str())
                        .is_some_and(|n| n.trim() == seg)
                })
            };
            let idx: usize = match seg.parse() {
                Ok(i) => i,
                Err(_) => by_name().ok_or_else(|| {
                    format!(
                        "`{here}`: expected an array index or the name of an entry, found \"{seg}\""
                    )
                })?,
            };
            let len = a.len();
            let slot = a.get_mut(idx).ok_or_else(|| {
                format!("`{here}`: index {idx} is out of range (the array has {len} entries)")
            })?;
            if last {
                *slot = value;
                return Ok(());
            }
            slot
        }
        _ => {
            return Err(format!(
                "`{}` is a value, not a table, so `{key}` cannot be set",
                segs[..i].join(".")
            ));
        }
    };
    set_in(slot, segs, i + 1, key, value)
}

/// Builds candidate scenarios: the base file without `[tune]` and `[[variants]]`, with dotted
/// keys set as in `[[variants]] set`, resolved again.
#[derive(Debug, Clone)]
pub struct CandidateBuilder {
    base: toml::Table,
    path: PathBuf,
}

impl CandidateBuilder {
    /// From the scenario's text; `path` anchors trace files and names errors.
    pub fn new(src: &str, path: &Path) -> Result<CandidateBuilder, ScenarioError> {
        let mut base: toml::Table = toml::from_str(src)
            .map_err(|e| ScenarioError::at(path, src, e.span(), None, e.message().to_string()))?;
        base.remove("variants");
        base.remove("tune");
        Ok(CandidateBuilder {
            base,
            path: path.to_path_buf(),
        })
    }

    /// The base table with `settings` applied (what a candidate's scenario is resolved from).
    pub fn table(&self, settings: &[(String, toml::Value)]) -> Result<toml::Table, ScenarioError> {
        let mut t = self.base.clone();
        for (k, v) in settings {
            apply(&mut t, k, v.clone()).map_err(|m| ScenarioError {
                key: Some(k.clone()),
                ..ScenarioError::whole_file(&self.path, m)
            })?;
        }
        Ok(t)
    }

    /// The resolved scenario of `settings`, or why it is invalid. The scenario is resolved from
    /// generated text, so an error's position means nothing: show it with
    /// [`ScenarioError::brief`].
    pub fn build(&self, settings: &[(String, toml::Value)]) -> Result<Scenario, ScenarioError> {
        let t = self.table(settings)?;
        let text = to_toml_text(&t).map_err(|e| {
            ScenarioError::whole_file(&self.path, format!("cannot apply the settings: {e}"))
        })?;
        Scenario::from_toml_str(&text, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linear writer gives exactly the text `toml::to_string` gives, arrays of tables,
    /// nested tables and inline values included.
    #[test]
    fn linear_toml_text_matches_the_library_writer() {
        let mut src = String::from(
            "name = \"x\"\nduration = \"1m\"\n[service]\ntimeout = \"5s\"\nservice_time = { dist \
             = \"mixture\", parts = [{ weight = 1, dist = \"fixed\", value = \"1ms\" }] }\n\
             [autoscaler.extra]\na = 1\n[billing]\nmodels = [\"lambda\"]\n",
        );
        for i in 0..200 {
            src.push_str(&format!(
                "[[workload.phases]]\nduration = \"{i}s\"\narrival = {{ process = \"poisson\", \
                 rate = {i} }}\n"
            ));
        }
        let table: toml::Table = toml::from_str(&src).expect("valid TOML");
        assert_eq!(
            to_toml_text(&table).expect("serializes"),
            toml::to_string(&table).expect("serializes")
        );
    }
}
