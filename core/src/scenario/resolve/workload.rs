//! `[workload]`: phases, their arrival processes, trace files.

use std::path::Path;
use std::time::Duration;

use super::{R, Resolver};
use crate::duration::Dur;
use crate::scenario::ScenarioError;
use crate::scenario::raw::{Process, RawArrival, RawScenario, RawWorkload, S};
use crate::workload::spec::{ArrivalSpec, Phase, WorkloadSpec};

impl Resolver<'_> {
    pub(super) fn workload(&self, raw: &RawScenario) -> R<WorkloadSpec> {
        self.workload_of(raw.workload.as_ref(), "")
    }

    /// The `[workload]` table `w`, its keys named after `pre` (`""`, or `services[3].`).
    pub(super) fn workload_of(&self, w: Option<&S<RawWorkload>>, pre: &str) -> R<WorkloadSpec> {
        let phases = w.and_then(|w| w.get_ref().phases.as_ref());
        let Some(phases) = phases.filter(|p| !p.is_empty()) else {
            let at = w.map(|w| w.span());
            return Err(ScenarioError::at(
                self.file,
                self.src,
                at,
                Some(format!("{pre}workload.phases")),
                "no workload: add at least one [[workload.phases]] with a duration and an arrival \
                 process",
            ));
        };
        let mut out = Vec::with_capacity(phases.len());
        for (i, p) in phases.iter().enumerate() {
            let key = format!("{pre}workload.phases[{i}]");
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

    pub(super) fn arrival(&self, sa: &S<RawArrival>, key: &str, phase: Duration) -> R<ArrivalSpec> {
        let a = sa.get_ref();
        let tag = *a.process.get_ref();
        self.only_keys(sa, key, tag, &a.given())?;
        let needs = |name: &str| self.needs(sa, key, tag, name);
        let rate = |v: &Option<S<f64>>, name: &str| -> R<f64> {
            let s = v.as_ref().ok_or_else(|| needs(name))?;
            let x = *s.get_ref();
            if !x.is_finite() || x < 0.0 {
                return Err(self.err(
                    s,
                    &format!("{key}.{name}"),
                    format!("{x} is out of range: a rate is requests per second, ≥ 0"),
                ));
            }
            Ok(x)
        };
        let dur = |v: &Option<S<Dur>>, name: &str| -> R<Duration> {
            let s = v.as_ref().ok_or_else(|| needs(name))?;
            if s.get_ref().0.is_zero() {
                return Err(self.err(s, &format!("{key}.{name}"), "must be greater than zero"));
            }
            Ok(s.get_ref().0)
        };
        Ok(match tag {
            Process::Poisson => ArrivalSpec::Poisson {
                rate: rate(&a.rate, "rate")?,
            },
            Process::Constant => ArrivalSpec::Constant {
                rate: rate(&a.rate, "rate")?,
            },
            Process::Ramp => ArrivalSpec::Ramp {
                from: rate(&a.from, "from")?,
                to: rate(&a.to, "to")?,
            },
            Process::Sine => {
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
            Process::Onoff => ArrivalSpec::Onoff {
                rate: rate(&a.rate, "rate")?,
                on: dur(&a.on, "on")?,
                off: dur(&a.off, "off")?,
            },
            Process::Trace => {
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
    pub(super) fn trace_file(&self, f: &S<String>, key: &str) -> R<Vec<Duration>> {
        let rel = Path::new(f.get_ref());
        let path = if rel.is_absolute() {
            rel.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new(".")).join(rel)
        };
        let cannot = |why: String| {
            self.err(
                f,
                key,
                format!("cannot read trace file {}: {why}", path.display()),
            )
        };
        if path.is_dir() {
            return Err(cannot("it is a directory".into()));
        }
        let bytes = crate::scenario::read_at_most(&path, crate::scenario::MAX_TRACE_BYTES)
            .map_err(|e| cannot(e.to_string()))?
            .ok_or_else(|| {
                cannot(format!(
                    "it is larger than {} MiB, the most a trace file may hold",
                    crate::scenario::MAX_TRACE_BYTES >> 20
                ))
            })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| cannot("it is not UTF-8 text (expected CSV)".into()))?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cell = line.split([',', ';', '\t']).next().unwrap_or("").trim();
            let parsed = match cell.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| *d <= crate::duration::MAX_DURATION)
                    .ok_or_else(|| format!("{s} seconds is more than 100 years")),
                Ok(s) if s.is_nan() => Err("not a number".to_string()),
                Ok(s) if s.is_infinite() && s > 0.0 => Err(format!("{s} is not finite")),
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
}
