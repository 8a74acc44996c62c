//! Durations written with units, as scenario files and flags spell them: `"250ms"`, `"30s"`,
//! `"1.5s"`, `"5m"`, `"1h"`, `"1m30s"`.
//!
//! A number without a unit is an error (is `300` seconds or milliseconds?), and so is a negative
//! value. [`Dur`] is the serde wrapper the scenario schema uses, so a bad value is reported by the
//! TOML parser with its line and column.

use std::fmt;
use std::time::Duration;

/// Why a duration string was rejected. Messages name what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// The string was empty.
    #[error("empty duration: expected a number with a unit, like \"250ms\" or \"30s\"")]
    Empty,
    /// A leading minus sign.
    #[error("negative duration \"{0}\": durations must be zero or positive")]
    Negative(String),
    /// A number with no unit after it.
    #[error("duration \"{0}\" has no unit: write it with one, like \"{0}s\" or \"{0}ms\"")]
    MissingUnit(String),
    /// A unit that is not one of ns, us, ms, s, m, min, h, d.
    #[error("unknown unit \"{unit}\" in duration \"{input}\": expected ns, us, ms, s, m, h or d")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unit that was not understood.
        unit: String,
    },
    /// Something that is not a number where a number belongs.
    #[error("invalid duration \"{0}\": expected a number with a unit, like \"250ms\" or \"1.5s\"")]
    Invalid(String),
    /// Longer than [`MAX_DURATION`] (100 years).
    #[error(
        "duration \"{0}\" is too long: at most 100 years (\"36525d\") is accepted, so that sums \
         of times stay within the 584 years a run's nanosecond clock can count"
    )]
    Overflow(String),
}

/// The longest duration accepted anywhere (scenario keys, trace times, flags): 100 years. A
/// run's clock counts nanoseconds in 64 bits (584 years), and an event time is a sum of a few
/// durations (horizon, drain, cold start, service time, slot overhead), so each must stay well
/// below that; random draws are capped at the same value.
pub const MAX_DURATION: Duration = Duration::from_secs(36_525 * 86_400);

fn unit_nanos(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" | "sec" | "secs" => 1e9,
        "m" | "min" | "mins" => 60e9,
        "h" | "hr" | "hour" | "hours" => 3600e9,
        "d" | "day" | "days" => 86_400e9,
        _ => return None,
    })
}

/// Parses a duration with units. Whitespace between parts is allowed (`"1m 30s"`).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(s.to_string()));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut total_ns: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(DurationError::Invalid(input.to_string()));
        }
        let num: String = rest[..num_len].chars().filter(|&c| c != '_').collect();
        let value: f64 = num
            .parse()
            .map_err(|_| DurationError::Invalid(input.to_string()))?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(num));
        }
        let per = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            input: input.to_string(),
            unit: unit.to_string(),
        })?;
        total_ns += value * per;
        rest = &rest[unit_len..];
    }
    if !total_ns.is_finite() || total_ns > MAX_DURATION.as_nanos() as f64 {
        return Err(DurationError::Overflow(input.to_string()));
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// Formats a duration compactly with the largest unit that keeps it short: `"250ms"`,
/// `"1.5s"`, `"2m30s"`, `"1h"`. Round-trips through [`parse_duration`].
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    const S: u128 = 1_000_000_000;
    if ns.is_multiple_of(S) {
        let secs = ns / S;
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        let mut out = String::new();
        if h > 0 {
            out += &format!("{h}h");
        }
        if m > 0 {
            out += &format!("{m}m");
        }
        if s > 0 {
            out += &format!("{s}s");
        }
        return out;
    }
    if ns >= S {
        return format!("{}s", trim_float(ns as f64 / S as f64));
    }
    if ns >= 1_000_000 {
        return format!("{}ms", trim_float(ns as f64 / 1e6));
    }
    if ns >= 1_000 {
        return format!("{}us", trim_float(ns as f64 / 1e3));
    }
    format!("{ns}ns")
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A duration as scenario files write it: a string with units. Deserialising anything else
/// (a bare number, a negative value, an unknown unit) fails with a message that says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl serde::Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string with a unit, like \"250ms\" or \"30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    return Err(E::custom(DurationError::Negative(v.to_string())));
                }
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dur, E> {
                if v < 0.0 {
                    return Err(E::custom(DurationError::Negative(v.to_string())));
                }
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let cases = [
            ("250ms", Duration::from_millis(250)),
            ("30s", Duration::from_secs(30)),
            ("1.5s", Duration::from_millis(1500)),
            ("5m", Duration::from_secs(300)),
            ("5min", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
            ("1m 30s", Duration::from_secs(90)),
            ("2d", Duration::from_secs(172_800)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("0s", Duration::ZERO),
            ("1_000ms", Duration::from_secs(1)),
            (" 3s ", Duration::from_secs(3)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        let kind = |e: &DurationError| match e {
            DurationError::Empty => "empty",
            DurationError::Negative(_) => "negative",
            DurationError::MissingUnit(_) => "missing unit",
            DurationError::UnknownUnit { .. } => "unknown unit",
            DurationError::Invalid(_) => "invalid",
            DurationError::Overflow(_) => "overflow",
        };
        for (input, want) in [
            ("-1s", "negative"),
            ("300", "missing unit"),
            ("3 parsecs", "unknown unit"),
            ("abc", "invalid"),
            ("1..2s", "invalid"),
            ("99999999999d", "overflow"),
        ] {
            let e = parse_duration(input).expect_err(input);
            assert_eq!(kind(&e), want, "{input}: {e}");
        }
    }

    /// Found by the scenario fuzzer: a cold start of 18446744073 s (584 years) parsed, and the
    /// simulator's event time `now + cold start` overflowed its nanosecond clock.
    #[test]
    fn at_most_a_hundred_years() {
        assert_eq!(parse_duration("36525d"), Ok(MAX_DURATION));
        for long in ["36526d", "18446744073s", "1000000h"] {
            let e = parse_duration(long).unwrap_err();
            assert!(matches!(e, DurationError::Overflow(_)), "{long}");
            assert!(e.to_string().contains("at most 100 years"), "{e}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        for (d, s) in [
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(150), "2m30s"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_micros(15), "15us"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(format_duration(d), s);
            assert_eq!(parse_duration(s), Ok(d));
        }
    }

    #[test]
    fn deserialises_from_toml_with_clear_errors() {
        #[derive(serde::Deserialize)]
        struct T {
            #[allow(dead_code)]
            d: Dur,
        }
        assert!(toml::from_str::<T>("d = \"2s\"").is_ok());
        let e = toml::from_str::<T>("d = 300").err().unwrap().to_string();
        assert!(e.contains("no unit"), "{e}");
        let e = toml::from_str::<T>("d = \"-3s\"")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("negative"), "{e}");
    }
}

/// `#[serde(with = "...")]` helpers that write a [`Duration`] as a string with units.
pub mod serde_duration {
    use std::time::Duration;

    /// Writes `d` as `"1.5s"`.
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    /// Reads a string with units.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <super::Dur as serde::Deserialize>::deserialize(d).map(|d| d.0)
    }

    /// Writes a list of durations as strings.
    pub fn serialize_vec<S: serde::Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&super::format_duration(*d))?;
        }
        seq.end()
    }
}
