//! Raw → resolved: defaults, ranges, cross-field checks, one module per table: [`service`]
//! (with `[[revisions]]` and distributions), [`autoscaler`], [`workload`], [`load`],
//! [`billing`] and [`tune`]; the small `[router]`, `[slo]` and `[sim]` tables are here.

mod autoscaler;
mod billing;
mod cluster;
pub(crate) mod deploy;
pub(crate) mod fleet;
mod load;
mod service;
pub(super) mod tune;
mod workload;

use std::path::Path;
use std::time::Duration;

use super::error::ScenarioError;
use super::raw::*;
use super::{Revision, RouterSettings, Scenario, SimSettings, Slo};
use crate::autoscaler::{AutoscalerSettings, IdleChoice, keys};
use crate::billing::BillingConfig;
use crate::duration::Dur;
use crate::router::RouterPolicy;

/// Parses TOML text into the raw layer, with the key path of any error.
pub(super) fn parse_raw(src: &str, path: &Path) -> Result<RawScenario, ScenarioError> {
    let de = toml::de::Deserializer::parse(src).map_err(|e| toml_error(src, path, None, &e))?;
    serde_path_to_error::deserialize::<_, RawScenario>(de).map_err(|e| {
        let key = clean_path(&e.path().to_string());
        toml_error(src, path, key, e.inner())
    })
}

/// Removes the internals of `Spanned` from a serde path and renders array indices as `[i]`.
fn clean_path(p: &str) -> Option<String> {
    let mut out = String::new();
    for seg in p.split('.') {
        if seg.is_empty() || seg == "?" || seg.starts_with("$__serde_spanned") {
            continue;
        }
        if seg.starts_with('[') || seg.chars().all(|c| c.is_ascii_digit()) {
            let idx = seg.trim_matches(|c| c == '[' || c == ']');
            out.push_str(&format!("[{idx}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn toml_error(src: &str, path: &Path, key: Option<String>, e: &toml::de::Error) -> ScenarioError {
    let message = keys::humanize(e.message());
    let key = key.or_else(|| e.span().and_then(|sp| key_at(src, sp.start)));
    ScenarioError::at(path, src, e.span(), key, message)
}

/// The dotted key on the line holding byte `offset` (`[table]` header + `key =`), for syntax
/// errors, which the parser reports without one.
fn key_at(src: &str, offset: usize) -> Option<String> {
    let offset = offset.min(src.len());
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = src[line_start..].lines().next().unwrap_or("");
    let (k, _) = line.split_once('=')?;
    let k = k.trim().trim_matches('"');
    if k.is_empty() || k.starts_with('#') || k.starts_with('[') {
        return None;
    }
    let table = src[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        (l.starts_with('[') && l.ends_with(']'))
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{k}"),
        _ => k.to_string(),
    })
}

pub(super) struct Resolver<'a> {
    pub file: &'a Path,
    pub src: &'a str,
}

type R<T> = Result<T, ScenarioError>;

/// For [`Resolver::dur`]: a duration that must not be zero.
fn positive(d: Duration) -> Result<(), String> {
    if d.is_zero() {
        Err("must be greater than zero".to_string())
    } else {
        Ok(())
    }
}

impl Resolver<'_> {
    fn err<T>(&self, v: &S<T>, key: &str, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at(
            self.file,
            self.src,
            Some(v.span()),
            Some(key.to_string()),
            msg,
        )
    }

    /// A `name` (trimmed) that is not empty and not among `taken`; `what` names the thing
    /// ("class", "revision") in the error.
    fn unique_name<'n>(
        &self,
        raw: &S<String>,
        key: &str,
        what: &str,
        mut taken: impl Iterator<Item = &'n str>,
    ) -> R<String> {
        let name = raw.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(self.err(raw, key, format!("empty {what} name")));
        }
        if taken.any(|t| t == name) {
            return Err(self.err(raw, key, format!("duplicate {what} name \"{name}\"")));
        }
        Ok(name)
    }

    fn f64_in(
        &self,
        v: &Option<S<f64>>,
        key: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> R<f64> {
        match v {
            None => Ok(default),
            Some(s) => {
                let x = *s.get_ref();
                if x.is_finite() && ok(x) {
                    Ok(x)
                } else {
                    Err(self.err(s, key, format!("{x} is out of range: expected {expected}")))
                }
            }
        }
    }

    fn u32_in(&self, v: &Option<S<i64>>, key: &str, default: u32, max: u32) -> R<u32> {
        match v {
            None => Ok(default),
            Some(s) => {
                let x = *s.get_ref();
                if x < 0 {
                    Err(self.err(s, key, format!("{x} is negative: expected 0 or more")))
                } else if x > i64::from(max) {
                    Err(self.err(s, key, format!("{x} is too large: expected at most {max}")))
                } else {
                    Ok(x as u32)
                }
            }
        }
    }

    fn dur(
        &self,
        v: &Option<S<Dur>>,
        key: &str,
        default: Duration,
        ok: impl Fn(Duration) -> Result<(), String>,
    ) -> R<Duration> {
        match v {
            None => Ok(default),
            Some(s) => {
                let d = s.get_ref().0;
                ok(d).map_err(|m| self.err(s, key, m))?;
                Ok(d)
            }
        }
    }

    /// Refuses the keys of a tagged table (`dist = "…"`, `process = "…"`) that its kind does
    /// not take.
    fn only_keys<T, K: Tag>(
        &self,
        at: &S<T>,
        key: &str,
        tag: K,
        given: &[(&'static str, bool)],
    ) -> R<()> {
        let allowed = tag.keys();
        match given
            .iter()
            .find(|(name, is)| *is && !allowed.contains(name))
        {
            None => Ok(()),
            Some((name, _)) => Err(self.err(
                at,
                &format!("{key}.{name}"),
                format!(
                    "`{name}` does not apply to {} = \"{}\" (it takes {})",
                    K::KEY,
                    tag.name(),
                    allowed.join(", ")
                ),
            )),
        }
    }

    /// The error for a key the kind of a tagged table needs.
    fn needs<T, K: Tag>(&self, at: &S<T>, key: &str, tag: K, name: &str) -> ScenarioError {
        self.err(
            at,
            &format!("{key}.{name}"),
            format!(
                "{} = \"{}\" needs `{name}` (it takes {})",
                K::KEY,
                tag.name(),
                tag.keys().join(", ")
            ),
        )
    }

    pub fn scenario(&self, raw: &RawScenario) -> R<Scenario> {
        let name = match &raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(self.err(n, "name", "empty name"));
            }
            Some(n) => n.get_ref().clone(),
            None => self
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into()),
        };
        let seed = match &raw.seed {
            Some(s) if *s.get_ref() < 0 => {
                return Err(self.err(s, "seed", "negative seed: expected 0 or more"));
            }
            Some(s) => Some(*s.get_ref() as u64),
            None => None,
        };
        if raw.services.is_some() {
            return self.fleet_scenario(raw, name, seed);
        }
        if let Some(t) = &raw.trace {
            return Err(self.err(
                t,
                "trace",
                "[trace] feeds the services of a fleet: list them as [[services]] (each trace \
                 row names one)",
            ));
        }
        let workload = self.workload(raw)?;
        let phases_total: Duration = workload.phases.iter().map(|p| p.duration).sum();
        let duration = match &raw.duration {
            Some(d) if d.get_ref().0.is_zero() => {
                return Err(self.err(d, "duration", "zero duration: expected a positive horizon"));
            }
            Some(d) => d.get_ref().0,
            None => phases_total,
        };
        let revisions = self.revisions(raw)?;
        let request_classes = self.request_classes(raw)?;
        let rollouts = self.rollouts(raw, &revisions)?;
        let routes = self.routes(raw, &revisions)?;
        let router = self.router(raw)?;
        self.keepalive_router(raw, &revisions, "")?;
        let mut billing = self.billing(raw)?;
        let cluster = self.cluster(raw, &revisions, &mut billing)?;
        let slo = self.slo(raw, &billing)?;
        let load = self.load(raw)?;
        let sim = self.sim(raw)?;
        Ok(Scenario {
            name,
            description: raw.description.clone(),
            seed,
            duration,
            revisions,
            router,
            workload,
            request_classes,
            rollouts,
            routes,
            billing,
            slo,
            load,
            sim,
            cluster,
            variants: Vec::new(),
            tune: None,
            path: self.file.to_path_buf(),
            services: Vec::new(),
            trace: None,
        })
    }

    /// A `[router] policy` written for a keepalive revision: the keepalive pool picks its own
    /// instances (`idle_choice`), so only `"newest-idle"`, which is its default rule
    /// (`"last-freed"`), is accepted; any other policy would be silently ignored and is refused.
    pub(super) fn keepalive_router(
        &self,
        raw: &RawScenario,
        revisions: &[Revision],
        what: &str,
    ) -> R<()> {
        let Some(policy) = raw
            .router
            .as_ref()
            .and_then(|r| r.get_ref().policy.as_ref())
        else {
            return Ok(());
        };
        for r in revisions {
            let AutoscalerSettings::Keepalive(k) = &r.autoscaler else {
                continue;
            };
            let name = policy.get_ref().as_str();
            if name != "newest-idle" {
                return Err(self.err(
                    policy,
                    "router.policy",
                    format!(
                        "router policy \"{name}\" does not apply to kind = \"keepalive\"{what}: \
                         the keepalive pool picks an idle instance by `idle_choice` \
                         (\"last-freed\", \"newest-created\" or \"first-free\"); drop \
                         [router] policy, or use \"newest-idle\" (the same as idle_choice = \
                         \"last-freed\")"
                    ),
                ));
            }
            if k.idle_choice != IdleChoice::LastFreed {
                return Err(self.err(
                    policy,
                    "router.policy",
                    format!(
                        "router policy \"newest-idle\" means idle_choice = \"last-freed\" for \
                         kind = \"keepalive\"{what}, but idle_choice is \"{}\"; drop one of them",
                        k.idle_choice.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn router(&self, raw: &RawScenario) -> R<RouterSettings> {
        let d = RouterSettings::default();
        let Some(r) = &raw.router else { return Ok(d) };
        let r = r.get_ref();
        let policy = match &r.policy {
            None => d.policy,
            Some(s) => RouterPolicy::from_name(s.get_ref()).ok_or_else(|| {
                self.err(
                    s,
                    "router.policy",
                    format!(
                        "unknown router policy \"{}\": expected one of {}",
                        s.get_ref(),
                        RouterPolicy::NAMES.join(", ")
                    ),
                )
            })?,
        };
        Ok(RouterSettings {
            policy,
            overhead: self.dur(&r.overhead, "router.overhead", Duration::ZERO, |_| Ok(()))?,
            slot_overhead: self.dur(
                &r.slot_overhead,
                "router.slot_overhead",
                Duration::ZERO,
                |_| Ok(()),
            )?,
            activator_queue_depth: self.u32_in(
                &r.activator_queue_depth,
                "router.activator_queue_depth",
                d.activator_queue_depth,
                100_000_000,
            )?,
        })
    }

    fn slo(&self, raw: &RawScenario, billing: &BillingConfig) -> R<Slo> {
        self.slo_of(raw.slo.as_ref(), billing, "")
    }

    /// The `[slo]` table `s`, its keys named after `pre` (`""`, or `services[3].`).
    pub(super) fn slo_of(
        &self,
        s: Option<&S<RawSlo>>,
        billing: &BillingConfig,
        pre: &str,
    ) -> R<Slo> {
        let Some(s) = s else {
            return Ok(Slo::default());
        };
        let s = s.get_ref();
        let opt = |v: &Option<S<Dur>>| v.as_ref().map(|d| d.get_ref().0);
        let ratio = |v: &Option<S<f64>>, key: &str| -> R<Option<f64>> {
            match v {
                None => Ok(None),
                Some(_) => self
                    .f64_in(
                        v,
                        key,
                        0.0,
                        |x| (0.0..=1.0).contains(&x),
                        "a ratio from 0 to 1",
                    )
                    .map(Some),
            }
        };
        let cost_model = match &s.cost_model {
            None => None,
            Some(m) => {
                if !billing.models.iter().any(|x| x == m.get_ref()) {
                    return Err(self.err(
                        m,
                        &format!("{pre}slo.cost_model"),
                        format!(
                            "\"{}\" is not one of this scenario's billing models ({})",
                            m.get_ref(),
                            billing.models.join(", ")
                        ),
                    ));
                }
                Some(m.get_ref().clone())
            }
        };
        Ok(Slo {
            p50: opt(&s.p50),
            p90: opt(&s.p90),
            p99: opt(&s.p99),
            p999: opt(&s.p999),
            cold_start_ratio: ratio(&s.cold_start_ratio, &format!("{pre}slo.cold_start_ratio"))?,
            error_ratio: ratio(&s.error_ratio, &format!("{pre}slo.error_ratio"))?,
            cost_per_million_usd: match &s.cost_per_million_usd {
                None => None,
                Some(_) => Some(self.f64_in(
                    &s.cost_per_million_usd,
                    &format!("{pre}slo.cost_per_million_usd"),
                    0.0,
                    |x| x >= 0.0,
                    "≥ 0",
                )?),
            },
            cost_model,
        })
    }

    fn sim(&self, raw: &RawScenario) -> R<SimSettings> {
        let d = SimSettings::default();
        let Some(s) = &raw.sim else { return Ok(d) };
        let s = s.get_ref();
        let max_events = match &s.max_events {
            None => d.max_events,
            Some(m) if *m.get_ref() <= 0 => {
                return Err(self.err(m, "sim.max_events", "expected a positive event count"));
            }
            Some(m) => *m.get_ref() as u64,
        };
        let bucket = match &s.timeseries_bucket {
            None => None,
            Some(b)
                if b.get_ref().0 < Duration::from_secs(1) || b.get_ref().0.subsec_nanos() != 0 =>
            {
                return Err(self.err(
                    b,
                    "sim.timeseries_bucket",
                    "expected whole seconds, at least 1s",
                ));
            }
            Some(b) => Some(b.get_ref().0),
        };
        Ok(SimSettings {
            max_events,
            timeseries_bucket: bucket,
            drain: s.drain.as_ref().map(|d| d.get_ref().0),
        })
    }
}
