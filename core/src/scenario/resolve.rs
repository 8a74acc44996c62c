//! Raw → resolved: defaults, ranges, cross-field checks.

use std::path::Path;
use std::time::Duration;

use super::error::ScenarioError;
use super::load::{LoadSettings, RequestSpec};
use super::raw::*;
use super::{Revision, RouterSettings, Scenario, Service, SimSettings, Slo};
use crate::autoscaler::keys;
use crate::autoscaler::{AutoscalerSettings, KeepaliveSettings, KpaSettings};
use crate::billing::BillingConfig;
use crate::duration::Dur;
use crate::router::RouterPolicy;
use crate::workload::spec::{ArrivalSpec, DistSpec, MixturePart, Phase, WorkloadSpec};

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
        let router = self.router(raw)?;
        let billing = self.billing(raw)?;
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
            billing,
            slo,
            load,
            sim,
            variants: Vec::new(),
            tune: None,
            path: self.file.to_path_buf(),
        })
    }

    fn revisions(&self, raw: &RawScenario) -> R<Vec<Revision>> {
        let base_service = raw
            .service
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        let base_as = raw
            .autoscaler
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        let Some(revs) = &raw.revisions else {
            let service = self.service(&base_service, "service")?;
            let autoscaler = self.autoscaler(&base_as, "autoscaler")?;
            return Ok(vec![Revision {
                name: "default".into(),
                traffic_percent: 100.0,
                tag: None,
                service,
                autoscaler,
            }]);
        };
        if revs.get_ref().is_empty() {
            return Err(self.err(
                revs,
                "revisions",
                "no revisions: list at least one, or use [service]",
            ));
        }
        let mut out: Vec<Revision> = Vec::new();
        let mut sum = 0.0;
        for (i, r) in revs.get_ref().iter().enumerate() {
            let r = r.get_ref();
            let prefix = format!("revisions[{i}]");
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(self.err(&r.name, &format!("{prefix}.name"), "empty revision name"));
            }
            if out.iter().any(|o| o.name == name) {
                return Err(self.err(
                    &r.name,
                    &format!("{prefix}.name"),
                    format!("duplicate revision name \"{name}\""),
                ));
            }
            let traffic = *r.traffic.get_ref();
            if !(traffic.is_finite() && (0.0..=100.0).contains(&traffic)) {
                return Err(self.err(
                    &r.traffic,
                    &format!("{prefix}.traffic"),
                    format!("{traffic} is out of range: expected a percentage from 0 to 100"),
                ));
            }
            sum += traffic;
            let svc = merge_service(&base_service, r.service.as_ref().map(|s| s.get_ref()));
            let service = self.service(&svc, &format!("{prefix}.service"))?;
            let a = base_as.merged(r.autoscaler.as_ref().map(|s| s.get_ref()));
            let autoscaler = self.autoscaler(&a, &format!("{prefix}.autoscaler"))?;
            out.push(Revision {
                name,
                traffic_percent: traffic,
                tag: r.tag.as_ref().map(|t| t.get_ref().clone()),
                service,
                autoscaler,
            });
        }
        if (sum - 100.0).abs() > 1e-9 {
            let list = out
                .iter()
                .map(|r| format!("{} {}%", r.name, r.traffic_percent))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(self.err(
                revs,
                "revisions.traffic",
                format!("traffic percentages sum to {sum}, not 100 ({list})"),
            ));
        }
        Ok(out)
    }

    fn service(&self, s: &RawService, p: &str) -> R<Service> {
        let k = |name: &str| format!("{p}.{name}");
        let positive = |d: Duration| {
            if d.is_zero() {
                Err("must be greater than zero".to_string())
            } else {
                Ok(())
            }
        };
        Ok(Service {
            container_concurrency: self.u32_in(
                &s.container_concurrency,
                &k("container_concurrency"),
                0,
                1000,
            )?,
            vcpu: self.f64_in(
                &s.vcpu,
                &k("vcpu"),
                1.0,
                |x| x > 0.0 && x <= 64.0,
                "0 < vcpu ≤ 64",
            )?,
            memory_gib: self.f64_in(
                &s.memory_gib,
                &k("memory_gib"),
                0.5,
                |x| x > 0.0 && x <= 512.0,
                "0 < memory_gib ≤ 512",
            )?,
            timeout: self.dur(
                &s.timeout,
                &k("timeout"),
                Duration::from_secs(300),
                positive,
            )?,
            service_time: match &s.service_time {
                Some(d) => self.dist(d, &k("service_time"))?,
                None => DistSpec::Fixed {
                    value: Duration::from_millis(100),
                },
            },
            cold_start: match &s.cold_start {
                Some(d) => self.dist(d, &k("cold_start"))?,
                // BILLING.md §3.3: the Huawei production fit (median ≈ 1.35 s, p99 ≈ 29 s).
                None => DistSpec::Lognormal {
                    median: Duration::from_millis(1350),
                    p99: Duration::from_secs(29),
                },
            },
            cold_service_time: match &s.cold_service_time {
                Some(d) => Some(self.dist(d, &k("cold_service_time"))?),
                None => None,
            },
            warm_at_start: s.warm_at_start.unwrap_or(false),
            shutdown: self.dur(&s.shutdown, &k("shutdown"), Duration::ZERO, |_| Ok(()))?,
            startup_cpu_boost: s.startup_cpu_boost.unwrap_or(false),
        })
    }

    pub fn dist(&self, d: &S<RawDist>, key: &str) -> R<DistSpec> {
        self.dist_inner(d, key, false)
    }

    fn dist_inner(&self, sd: &S<RawDist>, key: &str, in_mixture: bool) -> R<DistSpec> {
        let d = sd.get_ref();
        let kind = d.dist.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "fixed" => &["value"],
            "exponential" => &["mean"],
            "lognormal" => &["median", "p99"],
            "uniform" => &["min", "max"],
            "mixture" => &["parts"],
            other => {
                return Err(self.err(
                    &d.dist,
                    &format!("{key}.dist"),
                    format!(
                        "unknown distribution \"{other}\": expected one of fixed, exponential, \
                         lognormal, uniform, mixture"
                    ),
                ));
            }
        };
        let present: [(&str, bool); 7] = [
            ("value", d.value.is_some()),
            ("mean", d.mean.is_some()),
            ("median", d.median.is_some()),
            ("p99", d.p99.is_some()),
            ("min", d.min.is_some()),
            ("max", d.max.is_some()),
            ("parts", d.parts.is_some()),
        ];
        for (name, is) in present {
            if is && !allowed.contains(&name) {
                return Err(self.err(
                    sd,
                    &format!("{key}.{name}"),
                    format!(
                        "`{name}` does not apply to dist = \"{kind}\" (it takes {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        if let Some(w) = &d.weight
            && !in_mixture
        {
            return Err(self.err(
                w,
                &format!("{key}.weight"),
                "`weight` belongs to the parts of a mixture only",
            ));
        }
        let need = |v: &Option<S<Dur>>, name: &str| -> R<Duration> {
            v.as_ref().map(|s| s.get_ref().0).ok_or_else(|| {
                self.err(
                    sd,
                    &format!("{key}.{name}"),
                    format!(
                        "dist = \"{kind}\" needs `{name}` (it takes {})",
                        allowed.join(", ")
                    ),
                )
            })
        };
        Ok(match kind {
            "fixed" => DistSpec::Fixed {
                value: need(&d.value, "value")?,
            },
            "exponential" => DistSpec::Exponential {
                mean: need(&d.mean, "mean")?,
            },
            "lognormal" => {
                let median = need(&d.median, "median")?;
                let p99 = need(&d.p99, "p99")?;
                if median.is_zero() || p99 <= median {
                    return Err(self.err(
                        d.p99.as_ref().expect("given"),
                        &format!("{key}.p99"),
                        "lognormal needs 0 < median < p99",
                    ));
                }
                DistSpec::Lognormal { median, p99 }
            }
            "uniform" => {
                let min = need(&d.min, "min")?;
                let max = need(&d.max, "max")?;
                if max < min {
                    return Err(self.err(
                        d.max.as_ref().expect("given"),
                        &format!("{key}.max"),
                        "uniform needs min ≤ max",
                    ));
                }
                DistSpec::Uniform { min, max }
            }
            _ => {
                let parts = d.parts.as_ref().filter(|p| !p.is_empty()).ok_or_else(|| {
                    self.err(
                        sd,
                        &format!("{key}.parts"),
                        "a mixture needs at least one part",
                    )
                })?;
                let mut out = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    let pk = format!("{key}.parts[{i}]");
                    let w = part.get_ref().weight.as_ref().ok_or_else(|| {
                        self.err(
                            part,
                            &format!("{pk}.weight"),
                            "each mixture part needs a `weight`",
                        )
                    })?;
                    let weight = *w.get_ref();
                    if !(weight.is_finite() && weight > 0.0) {
                        return Err(self.err(
                            w,
                            &format!("{pk}.weight"),
                            format!("{weight} is out of range: expected a weight > 0"),
                        ));
                    }
                    out.push(MixturePart {
                        weight,
                        dist: self.dist_inner(part, &pk, true)?,
                    });
                }
                DistSpec::Mixture { parts: out }
            }
        })
    }

    /// `[autoscaler]` through the key table: each key parsed, range-checked and stored, keys of
    /// the other kind and unknown keys refused, then the cross-field checks.
    fn autoscaler(&self, a: &RawAutoscaler, p: &str) -> R<AutoscalerSettings> {
        let k = |name: &str| format!("{p}.{name}");
        let kind = match a.get("kind") {
            None => "kpa",
            Some((_, v)) => match v.get_ref().as_str() {
                Some(s @ ("kpa" | "keepalive")) => s,
                Some(other) => {
                    return Err(self.err(
                        v,
                        &k("kind"),
                        format!(
                            "unknown autoscaler kind \"{other}\": expected \"kpa\" or \"keepalive\""
                        ),
                    ));
                }
                None => {
                    return Err(self.err(
                        v,
                        &k("kind"),
                        "expected a string: \"kpa\" or \"keepalive\"",
                    ));
                }
            },
        };
        if kind == "kpa" {
            let mut s = KpaSettings::default();
            for (key, v) in &a.0 {
                let name = key.get_ref().as_str();
                if name == "kind" {
                    continue;
                }
                if let Some(row) = keys::kpa(name) {
                    let val = row
                        .parse(v.get_ref().clone())
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                    row.set(&mut s, val)
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                } else if keys::keepalive(name).is_some() {
                    return Err(self.err(
                        key,
                        &k(name),
                        format!(
                            "`{name}` applies to kind = \"keepalive\" only (add kind = \"keepalive\" \
                             to this table)"
                        ),
                    ));
                } else {
                    return Err(self.unknown_key(key, &k(name), &keys::KPA_KEYS));
                }
            }
            if let Err((name, e)) = keys::check_kpa(&s) {
                return Err(self.blame(a, p, name, e.0));
            }
            Ok(AutoscalerSettings::Kpa(s))
        } else {
            let mut s = KeepaliveSettings::default();
            for (key, v) in &a.0 {
                let name = key.get_ref().as_str();
                if name == "kind" {
                    continue;
                }
                if let Some(row) = keys::keepalive(name) {
                    let val = row
                        .parse(v.get_ref().clone())
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                    row.set(&mut s, val)
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                } else if keys::kpa(name).is_some() {
                    return Err(self.err(
                        key,
                        &k(name),
                        format!(
                            "`{name}` is a KPA key and does not apply to kind = \"keepalive\" \
                             (it takes {})",
                            keys::names(&keys::KEEPALIVE_KEYS)
                        ),
                    ));
                } else {
                    return Err(self.unknown_key(key, &k(name), &keys::KEEPALIVE_KEYS));
                }
            }
            if let Err((name, e)) = keys::check_keepalive(&s) {
                return Err(self.blame(a, p, name, e.0));
            }
            Ok(AutoscalerSettings::Keepalive(s))
        }
    }

    fn unknown_key<T>(&self, key: &S<String>, path: &str, table: &[keys::Key<T>]) -> ScenarioError {
        self.err(
            key,
            path,
            format!(
                "unknown key `{}`, expected `kind` or one of {}",
                key.get_ref(),
                keys::names(table)
            ),
        )
    }

    /// An error about `name` in table `a` (at its value, or the table when it was not given).
    fn blame(&self, a: &RawAutoscaler, p: &str, name: &str, msg: String) -> ScenarioError {
        let span = a.get(name).map(|(_, v)| v.span());
        ScenarioError::at(self.file, self.src, span, Some(format!("{p}.{name}")), msg)
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

    fn workload(&self, raw: &RawScenario) -> R<WorkloadSpec> {
        let phases = raw
            .workload
            .as_ref()
            .and_then(|w| w.get_ref().phases.as_ref());
        let Some(phases) = phases.filter(|p| !p.is_empty()) else {
            let at = raw.workload.as_ref().map(|w| w.span());
            return Err(ScenarioError::at(
                self.file,
                self.src,
                at,
                Some("workload.phases".into()),
                "no workload: add at least one [[workload.phases]] with a duration and an arrival \
                 process",
            ));
        };
        let mut out = Vec::with_capacity(phases.len());
        for (i, p) in phases.iter().enumerate() {
            let key = format!("workload.phases[{i}]");
            let ph = p.get_ref();
            let duration = match &ph.duration {
                Some(d) if d.get_ref().0.is_zero() => {
                    return Err(self.err(d, &format!("{key}.duration"), "a phase must last > 0"));
                }
                Some(d) => d.get_ref().0,
                None => {
                    return Err(self.err(
                        p,
                        &format!("{key}.duration"),
                        "each phase needs a duration",
                    ));
                }
            };
            let arrival = self.arrival(&ph.arrival, &format!("{key}.arrival"), duration)?;
            out.push(Phase { duration, arrival });
        }
        Ok(WorkloadSpec { phases: out })
    }

    fn arrival(&self, sa: &S<RawArrival>, key: &str, phase: Duration) -> R<ArrivalSpec> {
        let a = sa.get_ref();
        let process = a.process.get_ref().as_str();
        let allowed: &[&str] = match process {
            "poisson" | "constant" => &["rate"],
            "ramp" => &["from", "to"],
            "sine" => &["mean", "amplitude", "period"],
            "onoff" => &["rate", "on", "off"],
            "trace" => &["at", "file"],
            other => {
                return Err(self.err(
                    &a.process,
                    &format!("{key}.process"),
                    format!(
                        "unknown arrival process \"{other}\": expected one of poisson, constant, \
                         ramp, sine, onoff, trace"
                    ),
                ));
            }
        };
        let present = [
            ("rate", a.rate.is_some()),
            ("from", a.from.is_some()),
            ("to", a.to.is_some()),
            ("mean", a.mean.is_some()),
            ("amplitude", a.amplitude.is_some()),
            ("period", a.period.is_some()),
            ("on", a.on.is_some()),
            ("off", a.off.is_some()),
            ("at", a.at.is_some()),
            ("file", a.file.is_some()),
        ];
        for (name, is) in present {
            if is && !allowed.contains(&name) {
                return Err(self.err(
                    sa,
                    &format!("{key}.{name}"),
                    format!(
                        "`{name}` does not apply to process = \"{process}\" (it takes {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let rate = |v: &Option<S<f64>>, name: &str| -> R<f64> {
            match v {
                None => Err(self.err(
                    sa,
                    &format!("{key}.{name}"),
                    format!(
                        "process = \"{process}\" needs `{name}` (it takes {})",
                        allowed.join(", ")
                    ),
                )),
                Some(s) => {
                    let x = *s.get_ref();
                    if !x.is_finite() || x < 0.0 {
                        Err(self.err(
                            s,
                            &format!("{key}.{name}"),
                            format!("{x} is out of range: a rate is requests per second, ≥ 0"),
                        ))
                    } else {
                        Ok(x)
                    }
                }
            }
        };
        let dur = |v: &Option<S<Dur>>, name: &str| -> R<Duration> {
            match v {
                None => Err(self.err(
                    sa,
                    &format!("{key}.{name}"),
                    format!(
                        "process = \"{process}\" needs `{name}` (it takes {})",
                        allowed.join(", ")
                    ),
                )),
                Some(s) if s.get_ref().0.is_zero() => {
                    Err(self.err(s, &format!("{key}.{name}"), "must be greater than zero"))
                }
                Some(s) => Ok(s.get_ref().0),
            }
        };
        Ok(match process {
            "poisson" => ArrivalSpec::Poisson {
                rate: rate(&a.rate, "rate")?,
            },
            "constant" => ArrivalSpec::Constant {
                rate: rate(&a.rate, "rate")?,
            },
            "ramp" => ArrivalSpec::Ramp {
                from: rate(&a.from, "from")?,
                to: rate(&a.to, "to")?,
            },
            "sine" => {
                let mean = rate(&a.mean, "mean")?;
                let amplitude = rate(&a.amplitude, "amplitude")?;
                if amplitude > mean {
                    return Err(self.err(
                        a.amplitude.as_ref().expect("checked"),
                        &format!("{key}.amplitude"),
                        format!(
                            "amplitude {amplitude} exceeds mean {mean}: the rate would go negative"
                        ),
                    ));
                }
                ArrivalSpec::Sine {
                    mean,
                    amplitude,
                    period: dur(&a.period, "period")?,
                }
            }
            "onoff" => ArrivalSpec::Onoff {
                rate: rate(&a.rate, "rate")?,
                on: dur(&a.on, "on")?,
                off: dur(&a.off, "off")?,
            },
            _ => {
                let mut at = match (&a.at, &a.file) {
                    (Some(_), Some(f)) => {
                        return Err(self.err(
                            f,
                            &format!("{key}.file"),
                            "give either `at` or `file`, not both",
                        ));
                    }
                    (Some(at), None) => at.get_ref().iter().map(|d| d.0).collect::<Vec<_>>(),
                    (None, Some(f)) => self.trace_file(f, &format!("{key}.file"))?,
                    (None, None) => {
                        return Err(self.err(
                            sa,
                            &format!("{key}.at"),
                            "process = \"trace\" needs `at` (a list of offsets) or `file` (a CSV \
                             file)",
                        ));
                    }
                };
                at.sort();
                if let Some(last) = at.last()
                    && *last > phase
                {
                    let span =
                        a.at.as_ref()
                            .map(|s| s.span())
                            .or(a.file.as_ref().map(|f| f.span()));
                    return Err(ScenarioError::at(
                        self.file,
                        self.src,
                        span,
                        Some(key.to_string()),
                        format!(
                            "trace offset {} lies beyond the phase's duration {}",
                            crate::duration::format_duration(*last),
                            crate::duration::format_duration(phase)
                        ),
                    ));
                }
                ArrivalSpec::Trace { at }
            }
        })
    }

    /// Reads a trace CSV: one arrival per line, first column, as seconds (`1.25`) or a duration
    /// with units (`1250ms`); a header line and `#` comments are skipped.
    fn trace_file(&self, f: &S<String>, key: &str) -> R<Vec<Duration>> {
        let rel = Path::new(f.get_ref());
        let path = if rel.is_absolute() {
            rel.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new(".")).join(rel)
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            self.err(
                f,
                key,
                format!("cannot read trace file {}: {e}", path.display()),
            )
        })?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cell = line.split([',', ';', '\t']).next().unwrap_or("").trim();
            let parsed = match cell.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
                Ok(s) => Err(format!("{s} is negative")),
                Err(_) => crate::duration::parse_duration(cell).map_err(|e| e.to_string()),
            };
            match parsed {
                Ok(d) => out.push(d),
                Err(_) if n == 0 && out.is_empty() => continue, // a header line
                Err(e) => {
                    return Err(self.err(
                        f,
                        key,
                        format!(
                            "{}:{}: bad arrival time \"{cell}\": {e}",
                            path.display(),
                            n + 1
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn billing(&self, raw: &RawScenario) -> R<BillingConfig> {
        match &raw.billing {
            None => Ok(BillingConfig::default()),
            Some(b) => crate::billing::BillingConfig::from_raw(b.get_ref(), &|span, key, msg| {
                ScenarioError::at(self.file, self.src, span, Some(key.to_string()), msg)
            }),
        }
    }

    fn slo(&self, raw: &RawScenario, billing: &BillingConfig) -> R<Slo> {
        let Some(s) = &raw.slo else {
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
                        "slo.cost_model",
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
            cold_start_ratio: ratio(&s.cold_start_ratio, "slo.cold_start_ratio")?,
            error_ratio: ratio(&s.error_ratio, "slo.error_ratio")?,
            cost_per_million_usd: match &s.cost_per_million_usd {
                None => None,
                Some(_) => Some(self.f64_in(
                    &s.cost_per_million_usd,
                    "slo.cost_per_million_usd",
                    0.0,
                    |x| x >= 0.0,
                    "≥ 0",
                )?),
            },
            cost_model,
        })
    }

    fn load(&self, raw: &RawScenario) -> R<LoadSettings> {
        let d = LoadSettings::default();
        let Some(l) = &raw.load else { return Ok(d) };
        let l = l.get_ref();
        let url = match &l.url {
            None => None,
            Some(u) => {
                let s = u.get_ref();
                if !(s.starts_with("http://") || s.starts_with("https://")) {
                    return Err(self.err(u, "load.url", "expected an http:// or https:// URL"));
                }
                Some(s.clone())
            }
        };
        let requests = match &l.requests {
            None => d.requests.clone(),
            Some(reqs) if reqs.is_empty() => d.requests.clone(),
            Some(reqs) => {
                let mut out = Vec::new();
                for (i, r) in reqs.iter().enumerate() {
                    let key = format!("load.requests[{i}]");
                    let rr = r.get_ref();
                    let method = rr.method.as_ref().map(|m| m.get_ref().to_ascii_uppercase());
                    let method = method.unwrap_or_else(|| "GET".into());
                    if !method.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(self.err(
                            rr.method.as_ref().expect("given"),
                            &format!("{key}.method"),
                            "expected an HTTP method like GET or POST",
                        ));
                    }
                    let path = rr
                        .path
                        .as_ref()
                        .map(|p| p.get_ref().clone())
                        .unwrap_or("/".into());
                    if !path.starts_with('/') {
                        return Err(self.err(
                            rr.path.as_ref().expect("given"),
                            &format!("{key}.path"),
                            "a request path starts with /",
                        ));
                    }
                    let body = match (&rr.body, &rr.body_file) {
                        (Some(_), Some(f)) => {
                            return Err(self.err(
                                f,
                                &format!("{key}.body_file"),
                                "give either `body` or `body_file`, not both",
                            ));
                        }
                        (Some(b), None) => b.clone().into_bytes(),
                        (None, Some(f)) => {
                            let p = self
                                .file
                                .parent()
                                .unwrap_or(Path::new("."))
                                .join(f.get_ref());
                            std::fs::read(&p).map_err(|e| {
                                self.err(
                                    f,
                                    &format!("{key}.body_file"),
                                    format!("cannot read {}: {e}", p.display()),
                                )
                            })?
                        }
                        (None, None) => Vec::new(),
                    };
                    let weight = self.f64_in(
                        &rr.weight,
                        &format!("{key}.weight"),
                        1.0,
                        |x| x > 0.0,
                        "a weight > 0",
                    )?;
                    out.push(RequestSpec {
                        method,
                        path,
                        headers: rr.headers.clone().unwrap_or_default(),
                        body,
                        weight,
                    });
                }
                out
            }
        };
        let connections = match &l.connections {
            None => None,
            Some(_) => {
                let c = self.u32_in(&l.connections, "load.connections", 0, 100_000)?;
                if c == 0 {
                    return Err(self.err(
                        l.connections.as_ref().expect("given"),
                        "load.connections",
                        "expected at least 1 connection",
                    ));
                }
                Some(c)
            }
        };
        let positive = |d: Duration| {
            if d.is_zero() {
                Err("must be greater than zero".to_string())
            } else {
                Ok(())
            }
        };
        Ok(LoadSettings {
            url,
            requests,
            connections,
            max_connections: self
                .u32_in(
                    &l.max_connections,
                    "load.max_connections",
                    d.max_connections,
                    100_000,
                )?
                .max(1),
            http2: l.http2.unwrap_or(false),
            timeout: self.dur(&l.timeout, "load.timeout", d.timeout, positive)?,
            connect_timeout: self.dur(
                &l.connect_timeout,
                "load.connect_timeout",
                d.connect_timeout,
                positive,
            )?,
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

macro_rules! merge_fields {
    ($base:expr, $over:expr, $ty:ident { $($f:ident),* $(,)? }) => {{
        let b = $base;
        match $over {
            None => b.clone(),
            Some(o) => $ty { $($f: o.$f.clone().or_else(|| b.$f.clone()),)* },
        }
    }};
}

fn merge_service(base: &RawService, over: Option<&RawService>) -> RawService {
    merge_fields!(
        base,
        over,
        RawService {
            container_concurrency,
            vcpu,
            memory_gib,
            timeout,
            service_time,
            cold_start,
            cold_service_time,
            warm_at_start,
            shutdown,
            startup_cpu_boost,
        }
    )
}
