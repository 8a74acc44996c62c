//! Whether a load run passed: thresholds given on the command line (`--slo KEY=VALUE`, the
//! scenario `[slo]` keys) and the rule that a run in which no request succeeded failed.
//!
//! `--slo` values are read by the scenario parser itself (a one-table document handed to
//! [`Scenario::from_toml_str`]), so a flag accepts exactly what a scenario's `[slo]` table
//! accepts and is rejected with the same message. `max` is checked here: the scenario schema has
//! no `[slo] max` key yet.

use std::path::Path;
use std::time::Duration;

use scalelab_core::result::{RunResult, SloCheck, SloResult, VariantResult, check_slo};
use scalelab_core::scenario::{Scenario, Slo};
use serde_json::Value;

use crate::LoadError;
use crate::outcome::{OUTCOMES, Outcome};

/// The keys `--slo` accepts.
pub const SLO_KEYS: [&str; 6] = ["p50", "p90", "p99", "p999", "max", "error_ratio"];

/// Thresholds from `--slo KEY=VALUE` flags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SloFlags {
    /// The `[slo]` table the flags amount to (only the keys given are set).
    pub slo: Slo,
    /// `max=D`: the slowest successful request.
    pub max: Option<Duration>,
}

fn bad(flag: &str, msg: impl std::fmt::Display) -> LoadError {
    LoadError::BadConfig(format!("--slo {flag}: {msg}"))
}

impl SloFlags {
    /// Parses `KEY=VALUE` flags (later flags win).
    pub fn parse(flags: &[String]) -> Result<SloFlags, LoadError> {
        let mut out = SloFlags::default();
        for flag in flags {
            let (key, value) = flag.split_once('=').ok_or_else(|| {
                bad(
                    flag,
                    format!(
                        "expected KEY=VALUE with a key among {}",
                        SLO_KEYS.join(", ")
                    ),
                )
            })?;
            let (key, value) = (key.trim(), value.trim());
            if !SLO_KEYS.contains(&key) {
                return Err(bad(
                    flag,
                    format!(
                        "unknown key \"{key}\": a load run checks {}",
                        SLO_KEYS.join(", ")
                    ),
                ));
            }
            if value.is_empty() || value.contains(['"', '\\', '\n', '\r']) {
                return Err(bad(flag, "expected a value after ="));
            }
            if key == "max" {
                let d = scalelab_core::duration::parse_duration(value)
                    .map_err(|e| bad(flag, format!("invalid duration: {e}")))?;
                out.max = Some(d);
                continue;
            }
            let toml_value = if key == "error_ratio" {
                match value.parse::<f64>() {
                    Ok(x) if x.is_finite() => value.to_string(),
                    _ => return Err(bad(flag, "expected a ratio from 0 to 1, like 0.01")),
                }
            } else {
                format!("\"{value}\"")
            };
            // The smallest scenario the parser accepts, plus the one key.
            let doc = format!(
                "[[workload.phases]]\nduration = \"1s\"\narrival = {{ process = \"constant\", \
                 rate = 1 }}\n[slo]\n{key} = {toml_value}\n"
            );
            let parsed = Scenario::from_toml_str(&doc, Path::new("--slo"))
                .map_err(|e| bad(flag, e.message.trim_end_matches('.')))?;
            let s = parsed.slo;
            match key {
                "p50" => out.slo.p50 = s.p50,
                "p90" => out.slo.p90 = s.p90,
                "p99" => out.slo.p99 = s.p99,
                "p999" => out.slo.p999 = s.p999,
                _ => out.slo.error_ratio = s.error_ratio,
            }
        }
        Ok(out)
    }

    /// True when no flag was given.
    pub fn is_empty(&self) -> bool {
        self == &SloFlags::default()
    }

    /// `base` (a scenario's `[slo]`) with the flags' keys overriding it.
    pub fn over(&self, base: &Slo) -> Slo {
        let mut s = base.clone();
        let f = &self.slo;
        s.p50 = f.p50.or(s.p50);
        s.p90 = f.p90.or(s.p90);
        s.p99 = f.p99.or(s.p99);
        s.p999 = f.p999.or(s.p999);
        s.error_ratio = f.error_ratio.or(s.error_ratio);
        s
    }

    /// The SLO checks of one variant: `check_slo` over `slo`, then `max` when given (unless
    /// `check_slo` already checks a `max`).
    pub fn check(&self, slo: &Slo, v: &VariantResult) -> SloResult {
        let mut r = check_slo(slo, v, None);
        if let Some(limit) = self.max
            && !r.checks.iter().any(|c| c.name == "max")
        {
            let threshold = limit.as_secs_f64() * 1000.0;
            // No successful request: no latency to hold under the limit, so the check fails.
            let passed = v.latency_ms.count > 0 && v.latency_ms.max <= threshold;
            r.checks.push(SloCheck {
                name: "max".into(),
                threshold,
                actual: v.latency_ms.max,
                unit: "ms".into(),
                passed,
                default_threshold: false,
                note: (v.latency_ms.count == 0).then(|| "no successful request".to_string()),
            });
            r.passed &= passed;
        }
        r
    }
}

/// Why a finished load run failed outright (exit 1), apart from SLO breaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failed {
    /// No request was intended at all (a rate too low for the duration).
    NothingIntended,
    /// No request succeeded; the most common outcome and its count.
    NoSuccess {
        /// Intended requests.
        intended: u64,
        /// The most common failure.
        most_common: Outcome,
        /// How many ended so.
        count: u64,
    },
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::NothingIntended => write!(
                f,
                "no request was sent: the rate and duration give no request (raise --rate or \
                 --duration)"
            ),
            Failed::NoSuccess {
                intended,
                most_common,
                count,
            } => write!(
                f,
                "no request succeeded: all {intended} failed; most common: {} ({}), {count} of \
                 {intended}",
                most_common.name(),
                most_common.describe()
            ),
        }
    }
}

/// Checks the "a run in which no request succeeded failed" rule on every variant of a load
/// result document.
pub fn failed(doc: &RunResult) -> Option<Failed> {
    for v in &doc.variants {
        if v.requests.arrived == 0 {
            return Some(Failed::NothingIntended);
        }
        let outcome = |o: Outcome| -> u64 {
            match v.extra.get("outcomes") {
                Some(Value::Object(m)) => m.get(o.name()).and_then(Value::as_u64).unwrap_or(0),
                _ => 0,
            }
        };
        let ok: u64 = OUTCOMES
            .iter()
            .filter(|o| o.is_success())
            .map(|&o| outcome(o))
            .sum();
        if ok == 0 {
            let (most_common, count) = OUTCOMES
                .iter()
                .filter(|o| !o.is_success())
                .map(|&o| (o, outcome(o)))
                .fold(
                    (Outcome::NotSent, 0),
                    |best, x| if x.1 > best.1 { x } else { best },
                );
            return Some(Failed::NoSuccess {
                intended: v.requests.arrived,
                most_common,
                count,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: &[&str]) -> Result<SloFlags, LoadError> {
        SloFlags::parse(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn slo_flags_use_the_scenario_keys() {
        let f = flags(&[
            "p99=250ms",
            "error_ratio=0.01",
            "max=2s",
            "p50=1ms",
            "p99=300ms",
        ])
        .unwrap();
        assert_eq!(f.slo.p99, Some(Duration::from_millis(300)));
        assert_eq!(f.slo.p50, Some(Duration::from_millis(1)));
        assert_eq!(f.slo.error_ratio, Some(0.01));
        assert_eq!(f.max, Some(Duration::from_secs(2)));
        let base = Slo {
            p90: Some(Duration::from_secs(1)),
            p99: Some(Duration::from_secs(9)),
            ..Slo::default()
        };
        let s = f.over(&base);
        assert_eq!(s.p90, Some(Duration::from_secs(1)));
        assert_eq!(s.p99, Some(Duration::from_millis(300)));
    }

    #[test]
    fn bad_slo_flags_name_the_flag_and_the_problem() {
        for (f, want) in [
            ("p99", "KEY=VALUE"),
            ("p98=1s", "unknown key"),
            ("cold_start_ratio=0.1", "unknown key"),
            ("p99=fast", "invalid duration"),
            ("max=soon", "invalid duration"),
            ("error_ratio=2", "ratio from 0 to 1"),
            ("error_ratio=x", "ratio from 0 to 1"),
            ("p99=", "expected a value"),
            ("p99=1s\"x", "expected a value"),
        ] {
            let e = flags(&[f]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--slo {f}")), "{f}: {e}");
            assert!(e.contains(want), "{f}: {e}");
        }
    }

    #[test]
    fn max_is_checked_and_fails_without_a_success() {
        let f = flags(&["max=100ms"]).unwrap();
        let mut v = VariantResult::default();
        v.latency_ms.count = 10;
        v.latency_ms.max = 150.0;
        let r = f.check(&f.slo, &v);
        assert!(!r.passed);
        let max = r
            .checks
            .iter()
            .find(|c| c.name == "max")
            .expect("a max check");
        assert!(!max.passed);
        // Every run also has the default error-ratio check (no request failed here).
        assert!(r.checks.iter().any(|c| c.name == "error_ratio" && c.passed));
        v.latency_ms.max = 50.0;
        assert!(f.check(&f.slo, &v).passed);
        v.latency_ms = Default::default();
        assert!(!f.check(&f.slo, &v).passed);
    }
}
