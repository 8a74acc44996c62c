//! Seeded random streams: one master seed per run, one named stream per component.
//!
//! [`stream`] derives a component's generator from the master seed and a stable name (for
//! example `"arrivals"` or `"service/rev-a"`), so adding a component never shifts the draws of
//! the others. The algorithm is named ([`SimRng`] is PCG-64 MCG) so results do not change when
//! `rand` changes its default generator.

use rand::SeedableRng;

/// The generator every component uses: PCG 64-bit multiplicative congruential (fast, small,
/// a fixed and documented algorithm).
pub type SimRng = rand_pcg::Pcg64Mcg;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over the bytes of a stream name.
fn fnv1a(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The seed of the stream `name` under `master`.
pub fn stream_seed(master: u64, name: &str) -> u128 {
    let a = mix64(master ^ fnv1a(name));
    let b = mix64(a ^ 0x9e37_79b9_7f4a_7c15);
    (u128::from(a) << 64) | u128::from(b)
}

/// The generator for component `name` under master seed `master`.
pub fn stream(master: u64, name: &str) -> SimRng {
    SimRng::from_seed(stream_seed(master, name).to_le_bytes())
}

/// Parses a `--seed`: a decimal `u64`, or a hexadecimal git commit id (40 digits, as CI systems
/// pass `$GITHUB_SHA`), which is folded into 64 bits.
pub fn parse_seed(s: &str) -> Result<u64, crate::Error> {
    let s = s.trim();
    if let Ok(v) = s.parse::<u64>() {
        return Ok(v);
    }
    if s.len() >= 7 && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut h = 0u64;
        for chunk in s.as_bytes().chunks(16) {
            let bad = || crate::Error::Seed(s.to_string());
            let part = std::str::from_utf8(chunk).map_err(|_| bad())?;
            let v = u64::from_str_radix(part, 16).map_err(|_| bad())?;
            h = mix64(h ^ v);
        }
        return Ok(h);
    }
    Err(crate::Error::Seed(s.to_string()))
}

/// The bucket `x` falls in over cumulative weights (non-decreasing): the first whose cumulative
/// weight exceeds `x`, or the last when none does (rounding at the top end).
pub fn bucket_of(cumulative: &[f64], x: f64) -> usize {
    cumulative
        .iter()
        .position(|&c| x < c)
        .unwrap_or(cumulative.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let draw = |seed: u64, name: &str| -> Vec<u64> {
            let mut r = stream(seed, name);
            (0..4).map(|_| r.random()).collect()
        };
        let (a1, a2) = (draw(7, "arrivals"), draw(7, "arrivals"));
        let (b, c) = (draw(7, "service"), draw(8, "arrivals"));
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn seeds_parse_from_numbers_and_commit_ids() {
        assert_eq!(parse_seed("42"), Ok(42));
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(parse_seed(sha), parse_seed(sha));
        assert!(parse_seed(sha).is_ok());
        assert!(parse_seed("not a seed").is_err());
        assert!(parse_seed("-3").is_err());
    }
}
