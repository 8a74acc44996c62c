//! Number formatting shared by every format, with fixed rules so output is stable.

/// Milliseconds: one decimal below 10 s, none above.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x.abs() >= 10_000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Plain numbers with up to `prec` decimals, trailing zeros trimmed.
pub fn num(x: f64, prec: usize) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{x:.prec$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// A ratio as a percentage, `1.23%`.
pub fn pct(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "-".into();
    }
    let p = ratio * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p.abs() < 0.01 {
        format!("{p:.4}%")
    } else {
        format!("{p:.2}%")
    }
}

/// US dollars with enough decimals to show small bills: `$12.35`, `$0.0042`.
pub fn usd(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    if a >= 100.0 {
        format!("{sign}${a:.2}")
    } else if a >= 1.0 {
        format!("{sign}${a:.3}")
    } else if a >= 0.001 || a == 0.0 {
        format!("{sign}${a:.4}")
    } else {
        format!("{sign}${a:.6}")
    }
}

/// A signed difference in the style of `fmt_fn`: `+12.0`, `-0.5`.
pub fn signed(delta: f64, fmt_fn: fn(f64) -> String) -> String {
    if delta > 0.0 {
        format!("+{}", fmt_fn(delta))
    } else if delta < 0.0 {
        format!("-{}", fmt_fn(-delta))
    } else {
        fmt_fn(0.0)
    }
}

/// A relative change, `+12.5%`, or `new` when the baseline is zero.
pub fn rel_change(base: f64, other: f64) -> String {
    if base == other {
        return "0%".into();
    }
    if base == 0.0 {
        return "new".into();
    }
    let r = (other - base) / base.abs() * 100.0;
    format!("{}{:.1}%", if r > 0.0 { "+" } else { "" }, r)
}

/// Seconds as a short duration: `45s`, `12.5m`, `3.2h`.
pub fn secs(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x < 120.0 {
        format!("{}s", num(x, 1))
    } else if x < 7200.0 {
        format!("{}m", num(x / 60.0, 1))
    } else if x < 2.0 * 86_400.0 {
        format!("{}h", num(x / 3600.0, 1))
    } else {
        format!("{}d", num(x / 86_400.0, 1))
    }
}

/// A file-name-safe form of a variant name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "variant".into() } else { s }
}

/// One argument quoted for a POSIX shell: unchanged when it holds only characters no shell
/// treats specially, else in single quotes (a `'` inside written `'\''`). A URL with `&` or
/// `?` stays one argument when the line is pasted into a terminal.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Arguments joined into one line a shell runs as the same command.
pub fn shell_join<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    args.into_iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_stably() {
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(ms(412.34), "412.3");
        assert_eq!(ms(12_345.6), "12346");
        assert_eq!(num(2.500, 3), "2.5");
        assert_eq!(num(3.0, 2), "3");
        assert_eq!(num(-0.0001, 2), "0");
        assert_eq!(pct(0.0123), "1.23%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(usd(12.345), "$12.345");
        assert_eq!(usd(0.00042), "$0.000420");
        assert_eq!(usd(-1.5), "-$1.500");
        assert_eq!(signed(-2.0, ms), "-2.00");
        assert_eq!(rel_change(100.0, 110.0), "+10.0%");
        assert_eq!(rel_change(0.0, 1.0), "new");
        assert_eq!(secs(90.0), "90s");
        assert_eq!(secs(600.0), "10m");
        assert_eq!(slug("Min 1/x"), "min-1-x");
        assert_eq!(ms(f64::NAN), "-");
    }

    #[test]
    fn shell_quoting_keeps_each_argument_whole() {
        assert_eq!(shell_quote("scenarios/a-b_c.toml"), "scenarios/a-b_c.toml");
        assert_eq!(shell_quote("--seed=7"), "--seed=7");
        assert_eq!(
            shell_quote("http://127.0.0.1:8080/?a=1&b=2"),
            "'http://127.0.0.1:8080/?a=1&b=2'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("my scenario.toml"), "'my scenario.toml'");
        assert_eq!(
            shell_join(["scalelab", "load", "http://h/?x=1&y=2", "--rate", "5"]),
            "scalelab load 'http://h/?x=1&y=2' --rate 5"
        );
    }
}
