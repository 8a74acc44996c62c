//! Resolved workload specifications, as the scenario file describes them (validated: rates are
//! finite and non-negative, lognormal p99 > median, uniform min ≤ max, mixture weights > 0,
//! trace files already read).

use std::time::Duration;

use serde::Serialize;

/// A distribution of durations (service times, cold starts).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum DistSpec {
    /// Always `value`.
    Fixed {
        /// The value.
        #[serde(with = "crate::duration::serde_duration")]
        value: Duration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean.
        #[serde(with = "crate::duration::serde_duration")]
        mean: Duration,
    },
    /// Lognormal given by its median and 99th percentile (p99 > median).
    Lognormal {
        /// The median, e^μ.
        #[serde(with = "crate::duration::serde_duration")]
        median: Duration,
        /// The 99th percentile, e^(μ + 2.326 σ).
        #[serde(with = "crate::duration::serde_duration")]
        p99: Duration,
    },
    /// Uniform on [min, max].
    Uniform {
        /// Lower bound.
        #[serde(with = "crate::duration::serde_duration")]
        min: Duration,
        /// Upper bound (≥ min).
        #[serde(with = "crate::duration::serde_duration")]
        max: Duration,
    },
    /// An empirical distribution given by quantile points, sampled by inverse-CDF linear
    /// interpolation between them (the Azure Functions traces publish durations this way).
    Empirical {
        /// The quantile points: p from 0 to 1 (first exactly 0, last exactly 1), both p and the
        /// value non-decreasing. Serialized as `[p, "duration"]` pairs, as written.
        #[serde(serialize_with = "serialize_points")]
        points: Vec<(f64, Duration)>,
    },
    /// A weighted mixture: a part is chosen with probability weight / Σ weights.
    Mixture {
        /// The parts, each with a weight > 0.
        parts: Vec<MixturePart>,
    },
}

/// `points` as `[[0.0, "5ms"], …]`, the way a scenario file writes them.
fn serialize_points<S: serde::Serializer>(
    points: &[(f64, Duration)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(points.len()))?;
    for (p, v) in points {
        seq.serialize_element(&(p, crate::duration::format_duration(*v)))?;
    }
    seq.end()
}

/// One part of a mixture.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MixturePart {
    /// Relative weight, > 0.
    pub weight: f64,
    /// The part's distribution.
    #[serde(flatten)]
    pub dist: DistSpec,
}

/// An arrival process: how intended send times are spread over a phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "process", rename_all = "lowercase")]
pub enum ArrivalSpec {
    /// Poisson arrivals at `rate` per second.
    Poisson {
        /// Requests per second, ≥ 0.
        rate: f64,
    },
    /// Evenly spaced arrivals, `rate` per second (deterministic).
    Constant {
        /// Requests per second, ≥ 0.
        rate: f64,
    },
    /// Poisson arrivals whose rate changes linearly from `from` to `to` over the phase.
    Ramp {
        /// Rate at the start of the phase.
        from: f64,
        /// Rate at the end of the phase.
        to: f64,
    },
    /// Poisson arrivals with rate `mean + amplitude · sin(2πt / period)` (amplitude ≤ mean).
    Sine {
        /// Mean rate.
        mean: f64,
        /// Amplitude, ≤ mean.
        amplitude: f64,
        /// Period.
        #[serde(with = "crate::duration::serde_duration")]
        period: Duration,
    },
    /// Bursts: Poisson at `rate` for `on`, then nothing for `off`, repeated.
    Onoff {
        /// Rate while on.
        rate: f64,
        /// Length of a burst.
        #[serde(with = "crate::duration::serde_duration")]
        on: Duration,
        /// Length of a pause.
        #[serde(with = "crate::duration::serde_duration")]
        off: Duration,
    },
    /// Arrivals at the given offsets from the start of the phase (sorted, from `at` or a CSV
    /// file).
    Trace {
        /// Offsets from the phase start, non-decreasing.
        #[serde(serialize_with = "crate::duration::serde_duration::serialize_vec")]
        at: Vec<Duration>,
    },
}

/// One phase of the workload; phases run back to back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    /// How long the phase lasts.
    #[serde(with = "crate::duration::serde_duration")]
    pub duration: Duration,
    /// Its arrival process.
    pub arrival: ArrivalSpec,
}

/// The whole workload: phases back to back from t = 0.
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct WorkloadSpec {
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

impl WorkloadSpec {
    /// The same workload on a clock that runs `scale` times as fast as scenario time (`scale`
    /// 0.1: every duration a tenth, every rate ten times). Used by live runs at a time scale;
    /// with inversion-based generators the arrival offsets are the scenario's, multiplied by
    /// `scale`.
    pub fn time_scaled(&self, scale: f64) -> WorkloadSpec {
        let d = |x: Duration| x.mul_f64(scale);
        let r = |x: f64| x / scale;
        WorkloadSpec {
            phases: self
                .phases
                .iter()
                .map(|p| Phase {
                    duration: d(p.duration),
                    arrival: match &p.arrival {
                        ArrivalSpec::Poisson { rate } => ArrivalSpec::Poisson { rate: r(*rate) },
                        ArrivalSpec::Constant { rate } => ArrivalSpec::Constant { rate: r(*rate) },
                        ArrivalSpec::Ramp { from, to } => ArrivalSpec::Ramp {
                            from: r(*from),
                            to: r(*to),
                        },
                        ArrivalSpec::Sine {
                            mean,
                            amplitude,
                            period,
                        } => ArrivalSpec::Sine {
                            mean: r(*mean),
                            amplitude: r(*amplitude),
                            period: d(*period),
                        },
                        ArrivalSpec::Onoff { rate, on, off } => ArrivalSpec::Onoff {
                            rate: r(*rate),
                            on: d(*on),
                            off: d(*off),
                        },
                        ArrivalSpec::Trace { at } => ArrivalSpec::Trace {
                            at: at.iter().map(|x| d(*x)).collect(),
                        },
                    },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_scaling_shrinks_durations_and_raises_rates() {
        let w = WorkloadSpec {
            phases: vec![Phase {
                duration: Duration::from_secs(60),
                arrival: ArrivalSpec::Onoff {
                    rate: 10.0,
                    on: Duration::from_secs(5),
                    off: Duration::from_secs(15),
                },
            }],
        };
        let s = w.time_scaled(0.1);
        assert_eq!(s.phases[0].duration, Duration::from_secs(6));
        assert_eq!(
            s.phases[0].arrival,
            ArrivalSpec::Onoff {
                rate: 100.0,
                on: Duration::from_millis(500),
                off: Duration::from_millis(1500)
            }
        );
    }
}
