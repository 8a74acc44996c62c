//! The fits MODELS.md §6 gives for a file that is missing (Shahrad et al., ATC'20).

/// μ of the log-normal fit of functions' execution times, seconds: median e^μ = 0.684 s.
pub const EXEC_LOGNORMAL_MU: f64 = -0.38;
/// σ of the log-normal fit of functions' execution times: p99 = e^(μ + 2.326σ) = 165.7 s.
pub const EXEC_LOGNORMAL_SIGMA: f64 = 2.36;
/// Burr XII shape c of the fit of applications' allocated memory.
pub const BURR_C: f64 = 11.652;
/// Burr XII shape k of the fit of applications' allocated memory.
pub const BURR_K: f64 = 0.221;
/// Burr XII scale λ of the fit of applications' allocated memory, MB (median 139.6 MB).
pub const BURR_LAMBDA_MB: f64 = 107.083;

/// Azure Functions' Consumption plan memory limit per instance, MB: a draw from the Burr XII
/// fit's heavy tail is capped here.
pub const MEMORY_CAP_MB: f64 = 1536.0;

/// The Burr XII fit's quantile at `u` in [0, 1): λ((1 − u)^(−1/k) − 1)^(1/c) MB, at most
/// [`MEMORY_CAP_MB`].
pub fn burr_memory_mb(u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0 - 1e-12);
    let x = BURR_LAMBDA_MB * ((1.0 - u).powf(-1.0 / BURR_K) - 1.0).powf(1.0 / BURR_C);
    if x.is_finite() {
        x.min(MEMORY_CAP_MB)
    } else {
        MEMORY_CAP_MB
    }
}

/// The execution-time fit as a scenario distribution: `lognormal(median, p99)` in seconds.
pub(super) fn exec_lognormal() -> String {
    let median = EXEC_LOGNORMAL_MU.exp();
    let p99 =
        (EXEC_LOGNORMAL_MU + scalelab_core::workload::dist::Z_P99 * EXEC_LOGNORMAL_SIGMA).exp();
    format!(
        "{{ dist = \"lognormal\", median = \"{}ms\", p99 = \"{}s\" }}",
        (median * 1000.0).round(),
        (p99 * 10.0).round() / 10.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fits_have_their_published_medians() {
        assert!(
            (burr_memory_mb(0.5) - 139.6).abs() < 0.1,
            "{}",
            burr_memory_mb(0.5)
        );
        assert!(burr_memory_mb(0.0) == 0.0);
        assert_eq!(burr_memory_mb(1.0), MEMORY_CAP_MB);
        // 90 % of apps stay under 400 MB.
        assert!(burr_memory_mb(0.9) < 400.0, "{}", burr_memory_mb(0.9));
        assert_eq!(
            exec_lognormal(),
            "{ dist = \"lognormal\", median = \"684ms\", p99 = \"165.7s\" }"
        );
    }
}
