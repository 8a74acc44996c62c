//! Work estimates: how much a scenario asks of the simulator, the live runtime or the load
//! generator, computed from the resolved file before anything runs, so a valid file that asks
//! for days of CPU or gigabytes of memory (`rate = 1e12`, `min_scale = 1000000`) is refused
//! with its estimate instead of running until the machine gives up.
//!
//! The figures are estimates, not bounds: requests are the workload's expected arrivals
//! ([`crate::workload::expected_count`], exact for `constant` and `trace`); instances come from
//! the peak intended rate, the mean service time and each revision's per-instance target, or
//! from `min_scale` / `initial_scale` when larger; events add the per-second scrape of every
//! instance. They are meant to be right within a small factor, which is all a limit of this
//! kind needs. `docs/limits.md` states the limits and the flag that lifts them
//! (`--allow-large-run`).
//!
//! ```
//! use scalelab_core::estimate::{WorkLimits, estimate_scenario};
//! use scalelab_core::scenario::Scenario;
//! let s = Scenario::from_toml_str(r#"
//!     duration = "5s"
//!     [[workload.phases]]
//!     duration = "5s"
//!     arrival = { process = "poisson", rate = 1e12 }
//! "#, "huge.toml".as_ref()).unwrap();
//! let e = estimate_scenario(&s, None);
//! assert!(e.total.requests >= 5e9); // clamped to one arrival per nanosecond
//! assert!(e.check(&WorkLimits::SIM).is_err());
//! ```

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::autoscaler::{AutoscalerSettings, DeciderSpec, Metric};
use crate::scenario::Scenario;
use crate::workload::{ArrivalSpec, Sampler, WorkloadSpec, expected_count};

/// What one run (one variant) is expected to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WorkEstimate {
    /// Requests that arrive (expected).
    pub requests: f64,
    /// The highest intended arrival rate, requests per second.
    pub peak_rate: f64,
    /// Instances alive at once at the peak (the larger of what the load needs and the
    /// revisions' `min_scale` / `initial_scale`), summed over revisions.
    pub peak_instances: f64,
    /// Instance-seconds, taking the peak for the whole run (an upper estimate).
    pub instance_seconds: f64,
    /// Simulator events: about 2.5 per request, one per second per revision, and the
    /// per-second scrape of every instance (about 1/16 of an event each).
    pub events: f64,
    /// Rows of the time series.
    pub series_rows: f64,
}

/// The most work a command starts without `--allow-large-run`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WorkLimits {
    /// Requests, summed over the runs of one command.
    pub requests: f64,
    /// Peak intended arrival rate of any run, requests per second (wall-clock for live runs).
    pub peak_rate: f64,
    /// Instances alive at once in any one run.
    pub instances: f64,
    /// Simulator events, summed over the runs.
    pub events: f64,
    /// Time-series rows, summed over the runs (each row is about 100 bytes in memory).
    pub series_rows: f64,
}

impl WorkLimits {
    /// `scalelab sim` (and `validate`'s verdict): about ten minutes of one core at the
    /// simulator's few million events per second, and memory in the hundreds of MB.
    pub const SIM: WorkLimits = WorkLimits {
        requests: 1e9,
        peak_rate: f64::INFINITY,
        instances: 100_000.0,
        events: 2e9,
        series_rows: 1e7,
    };

    /// `scalelab run`, `compare` and `serve`: real instances are real servers on this machine
    /// and every request is a real HTTP exchange on loopback.
    pub const LIVE: WorkLimits = WorkLimits {
        requests: 1e8,
        peak_rate: 1e6,
        instances: 1_000.0,
        events: f64::INFINITY,
        series_rows: 1e7,
    };

    /// `scalelab load`: an open-loop schedule beyond a million requests per second, or beyond
    /// a hundred million requests, cannot be sent by one generator and only costs memory.
    pub const LOAD: WorkLimits = WorkLimits {
        requests: 1e8,
        peak_rate: 1e6,
        instances: f64::INFINITY,
        events: f64::INFINITY,
        series_rows: 1e7,
    };
}

/// The estimate of every run a command would start, and their total.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ScenarioEstimate {
    /// `(run name, estimate)`: `baseline` first, then each variant.
    pub runs: Vec<(String, WorkEstimate)>,
    /// Sums over the runs (peaks: the largest).
    pub total: WorkEstimate,
}

/// A refusal: what the estimate exceeds.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkTooLarge {
    /// One entry per exceeded limit: `about 5.0e9 requests (limit 1.0e9)`.
    pub exceeded: Vec<String>,
}

impl fmt::Display for WorkTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this asks for more work than scalelab starts without being told to: {}; pass \
             --allow-large-run to run it anyway (the limits and how the estimate is made: \
             docs/limits.md)",
            self.exceeded.join(", ")
        )
    }
}

impl std::error::Error for WorkTooLarge {}

/// A count for messages: `12,345` below ten million, `1.2e9` above.
pub fn count_text(x: f64) -> String {
    if !x.is_finite() {
        return "unbounded".into();
    }
    if x >= 1e7 {
        return format!("{x:.1e}");
    }
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl ScenarioEstimate {
    /// `Err` naming every limit the estimate exceeds.
    pub fn check(&self, limits: &WorkLimits) -> Result<(), WorkTooLarge> {
        let t = &self.total;
        let mut exceeded = Vec::new();
        let mut over = |value: f64, limit: f64, what: &str| {
            // NaN counts as over: an estimate that cannot be computed is not a small one.
            if value.is_nan() || value > limit {
                exceeded.push(format!(
                    "about {} {what} (limit {})",
                    count_text(value),
                    count_text(limit)
                ));
            }
        };
        over(t.requests, limits.requests, "requests");
        over(
            t.peak_rate,
            limits.peak_rate,
            "requests per second at the peak",
        );
        over(t.peak_instances, limits.instances, "instances at once");
        over(t.events, limits.events, "simulator events");
        over(t.series_rows, limits.series_rows, "time-series rows");
        if exceeded.is_empty() {
            Ok(())
        } else {
            Err(WorkTooLarge { exceeded })
        }
    }

    /// One line per run for `validate`: `baseline: ~12,000 requests, peak 3 instances, …`.
    pub fn lines(&self) -> Vec<String> {
        self.runs
            .iter()
            .map(|(name, e)| {
                let rate = if e.peak_rate > 0.0 && e.peak_rate < 10.0 {
                    format!("{:.3}", e.peak_rate)
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_string()
                } else {
                    count_text(e.peak_rate)
                };
                format!(
                    "{name}: about {} requests (peak {rate} req/s), {} instance{} at the peak, {} \
                     simulator events, {} series rows",
                    count_text(e.requests),
                    count_text(e.peak_instances),
                    if e.peak_instances == 1.0 { "" } else { "s" },
                    count_text(e.events),
                    count_text(e.series_rows)
                )
            })
            .collect()
    }
}

/// Estimates every run of `s` (or only `variant`).
pub fn estimate_scenario(s: &Scenario, variant: Option<&str>) -> ScenarioEstimate {
    let runs: Vec<(String, WorkEstimate)> = s
        .runs()
        .into_iter()
        .filter(|(n, _)| variant.is_none_or(|v| v == *n))
        .map(|(n, sc)| (n.to_string(), estimate_run(sc)))
        .collect();
    let mut total = WorkEstimate::default();
    for (_, e) in &runs {
        total.requests += e.requests;
        total.peak_rate = total.peak_rate.max(e.peak_rate);
        total.peak_instances = total.peak_instances.max(e.peak_instances);
        total.instance_seconds += e.instance_seconds;
        total.events += e.events;
        total.series_rows += e.series_rows;
    }
    ScenarioEstimate { runs, total }
}

/// A fleet's run: its services' estimates summed (one series for the fleet), with the trace's
/// requests.
fn estimate_fleet(s: &Scenario) -> WorkEstimate {
    let mut t = WorkEstimate::default();
    for i in 0..s.services.len() {
        let e = estimate_run(&s.service_scenario(i));
        t.requests += e.requests;
        t.peak_rate += e.peak_rate;
        t.peak_instances += e.peak_instances;
        t.instance_seconds += e.instance_seconds;
        t.events += e.events;
        t.series_rows = t.series_rows.max(e.series_rows);
    }
    if let Some(tr) = &s.trace {
        let n: u64 = tr.requests.iter().sum();
        t.requests += n as f64;
        t.events += 2.5 * n as f64;
        // (The trace's peak rate is not known without reading it again: its mean instead.)
        t.peak_rate += n as f64 / tr.end.as_secs_f64().max(1.0);
    }
    t
}

/// Estimates one resolved run.
pub fn estimate_run(s: &Scenario) -> WorkEstimate {
    if s.is_fleet() {
        return estimate_fleet(s);
    }
    let duration_s = s.duration.as_secs_f64();
    let requests = expected_count(&s.workload, s.duration);
    let peak_rate = peak_rate(&s.workload, s.duration);
    let mut peak_instances = 0.0;
    let total_traffic: f64 = s.revisions.iter().map(|r| r.traffic_percent).sum();
    for (i, r) in s.revisions.iter().enumerate() {
        // The largest share the revision has at any time: at the start or after a rollout (a
        // header route can send it more; the estimate is a guard, not a prediction).
        let share = if total_traffic > 0.0 {
            s.rollouts
                .iter()
                .map(|ro| ro.traffic[i].1 / 100.0)
                .fold(r.traffic_percent / total_traffic, f64::max)
        } else {
            0.0
        };
        let rate = peak_rate * share;
        // Time in an instance slot: the service time plus the proxy hop, cut at the timeout.
        let service_s = (Sampler::new(&r.service.service_time).mean() + s.router.slot_overhead)
            .min(r.service.timeout)
            .as_secs_f64();
        let concurrency = rate * service_s;
        let cc = r.service.container_concurrency;
        let needed_for_limit = if cc > 0 {
            concurrency / f64::from(cc)
        } else {
            0.0
        };
        let n = match &r.autoscaler {
            AutoscalerSettings::Kpa(k) => {
                let spec = DeciderSpec::new(k, cc);
                let load = match spec.metric {
                    Metric::Concurrency => concurrency,
                    Metric::Rps => rate,
                };
                let needed = (load / spec.target_value).max(needed_for_limit).ceil();
                let needed = if k.max_scale > 0 {
                    needed.min(f64::from(k.max_scale))
                } else {
                    needed
                };
                needed
                    .max(f64::from(k.min_scale))
                    .max(f64::from(k.initial_scale))
            }
            AutoscalerSettings::Keepalive(k) => {
                let needed = concurrency.ceil();
                let needed = if k.max_instances > 0 {
                    needed.min(f64::from(k.max_instances))
                } else {
                    needed
                };
                needed.max(f64::from(k.min_instances))
            }
            AutoscalerSettings::CloudRun(_) | AutoscalerSettings::Hpa(_) => {
                // Enough instances for the concurrency at the drivers' targets (60 % of the
                // slots, or the CPU target of the vCPUs), within the bounds.
                let (cpu_target, conc_target) = match &r.autoscaler {
                    AutoscalerSettings::CloudRun(c) => (c.cpu_target, c.concurrency_target),
                    AutoscalerSettings::Hpa(h) => (h.cpu_target, 0.0),
                    _ => (1.0, 1.0),
                };
                let cores = rate * service_s * r.service.cpu_share;
                let by_cpu = cores / (r.service.vcpu * cpu_target);
                let by_conc = if cc > 0 && conc_target > 0.0 {
                    concurrency / (f64::from(cc) * conc_target)
                } else {
                    0.0
                };
                let needed = by_cpu.max(by_conc).max(needed_for_limit).ceil();
                let max = r.autoscaler.max_instances();
                let needed = if max > 0 {
                    needed.min(f64::from(max))
                } else {
                    needed
                };
                needed.max(f64::from(r.autoscaler.min_instances()))
            }
        };
        peak_instances += n;
    }
    let timeout_max = s
        .revisions
        .iter()
        .map(|r| r.service.timeout)
        .max()
        .unwrap_or_default();
    let drain_s = s.sim.drain.unwrap_or(timeout_max).as_secs_f64();
    let run_s = duration_s + drain_s;
    let bucket_s = s.sim.timeseries_bucket.map_or_else(
        || crate::measure::bucket_for(crate::time::duration_nanos(s.duration)) as f64 / 1e9,
        |b| b.as_secs_f64(),
    );
    let instance_seconds = peak_instances * duration_s;
    let events = 2.5 * requests
        + run_s * (1.0 + s.revisions.len() as f64)
        + instance_seconds / 16.0
        + 4.0 * peak_instances;
    WorkEstimate {
        requests,
        peak_rate,
        peak_instances,
        instance_seconds,
        events,
        series_rows: (run_s / bucket_s.max(1e-9)).ceil(),
    }
}

/// The highest intended rate of any phase that starts before `horizon`, requests per second
/// (a trace phase: the most arrivals in any one-second window).
pub fn peak_rate(w: &WorkloadSpec, horizon: Duration) -> f64 {
    let mut start = Duration::ZERO;
    let mut peak: f64 = 0.0;
    for p in &w.phases {
        if start >= horizon {
            break;
        }
        let clean = |r: f64| {
            if r > 0.0 {
                r.min(crate::workload::arrival::MAX_RATE)
            } else {
                0.0
            }
        };
        let r = match &p.arrival {
            ArrivalSpec::Poisson { rate } | ArrivalSpec::Constant { rate } => clean(*rate),
            ArrivalSpec::Onoff { rate, .. } => clean(*rate),
            ArrivalSpec::Ramp { from, to } => clean(*from).max(clean(*to)),
            ArrivalSpec::Sine {
                mean, amplitude, ..
            } => clean(*mean) + clean(*amplitude).min(clean(*mean)),
            ArrivalSpec::Trace { at } => {
                let mut best = 0usize;
                let mut lo = 0usize;
                for (hi, t) in at.iter().enumerate() {
                    while *t - at[lo] >= Duration::from_secs(1) {
                        lo += 1;
                    }
                    best = best.max(hi + 1 - lo);
                }
                best as f64
            }
        };
        peak = peak.max(r);
        start = start.saturating_add(p.duration);
    }
    peak
}

/// The load generator's quick mode (`scalelab load URL --rate R --duration D`): `R × D`
/// requests at `R` per second.
pub fn estimate_rate(rate: f64, duration: Duration) -> ScenarioEstimate {
    load_estimate(rate * duration.as_secs_f64(), rate, duration)
}

/// An open-loop schedule of the load generator: `w` sent for `duration`, stopping after
/// `max_requests` when given. Unlike the simulator's, these counts are not clamped to one
/// arrival per nanosecond.
pub fn estimate_schedule(
    w: &WorkloadSpec,
    duration: Duration,
    max_requests: Option<u64>,
) -> ScenarioEstimate {
    let mut requests = expected_count(w, duration);
    let mut peak = peak_rate(w, duration);
    // The simulator clamps rates to one per nanosecond; a schedule of a higher rate is at
    // least that large, so the clamp never hides an oversized one.
    for p in &w.phases {
        if let ArrivalSpec::Poisson { rate } | ArrivalSpec::Constant { rate } = p.arrival
            && rate > peak
        {
            peak = rate;
            requests = requests.max(rate * p.duration.min(duration).as_secs_f64());
        }
    }
    if let Some(n) = max_requests {
        requests = requests.min(n as f64);
    }
    load_estimate(requests, peak, duration)
}

/// One load-generator run of `requests` at a peak of `peak_rate`, a series row a second.
fn load_estimate(requests: f64, peak_rate: f64, duration: Duration) -> ScenarioEstimate {
    let e = WorkEstimate {
        requests,
        peak_rate,
        series_rows: duration.as_secs_f64().ceil(),
        ..WorkEstimate::default()
    };
    ScenarioEstimate {
        runs: vec![("load".into(), e)],
        total: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(extra: &str) -> Scenario {
        Scenario::from_toml_str(
            &format!(
                "duration = \"5m\"\n[service]\nservice_time = {{ dist = \"fixed\", value = \
                 \"100ms\" }}\n{extra}\n[[workload.phases]]\nduration = \"5m\"\narrival = {{ \
                 process = \"poisson\", rate = 100 }}\n"
            ),
            Path::new("t.toml"),
        )
        .expect("valid")
    }

    #[test]
    fn an_ordinary_scenario_is_small() {
        let e = estimate_scenario(&scenario(""), None);
        assert_eq!(e.runs.len(), 1);
        let r = e.total;
        assert!((r.requests - 30_000.0).abs() < 1.0, "{r:?}");
        assert_eq!(r.peak_rate, 100.0);
        // 100 req/s × 0.1 s = 10 in flight over a target of 100 × 0.7: one instance.
        assert_eq!(r.peak_instances, 1.0);
        assert!(e.check(&WorkLimits::SIM).is_ok());
        assert!(e.check(&WorkLimits::LIVE).is_ok());
    }

    #[test]
    fn a_million_min_instances_is_refused_with_the_estimate() {
        let s = scenario("[autoscaler]\nmin_scale = 1000000");
        let e = estimate_scenario(&s, None);
        assert_eq!(e.total.peak_instances, 1e6);
        let err = e.check(&WorkLimits::SIM).unwrap_err().to_string();
        assert!(
            err.contains("about 1,000,000 instances at once (limit 100,000)"),
            "{err}"
        );
        assert!(err.contains("--allow-large-run"), "{err}");
    }

    #[test]
    fn variants_add_up_and_can_be_picked() {
        let s = Scenario::from_toml_str(
            "duration = \"10s\"\n[[workload.phases]]\nduration = \"10s\"\narrival = { process \
             = \"constant\", rate = 10 }\n[[variants]]\nname = \"big\"\nset = { \
             \"autoscaler.min_scale\" = 500000 }\n",
            Path::new("v.toml"),
        )
        .expect("valid");
        let all = estimate_scenario(&s, None);
        assert_eq!(all.runs.len(), 2);
        assert_eq!(all.total.requests, 200.0);
        assert!(all.check(&WorkLimits::SIM).is_err());
        let base = estimate_scenario(&s, Some("baseline"));
        assert!(base.check(&WorkLimits::SIM).is_ok());
    }

    #[test]
    fn load_quick_mode_multiplies_rate_and_duration() {
        let e = estimate_rate(1e12, Duration::from_secs(2));
        let err = e.check(&WorkLimits::LOAD).unwrap_err().to_string();
        assert!(err.contains("about 2.0e12 requests (limit 1.0e8)"), "{err}");
        assert!(
            estimate_rate(200.0, Duration::from_secs(30))
                .check(&WorkLimits::LOAD)
                .is_ok()
        );
    }

    #[test]
    fn a_load_schedule_counts_its_requests_unclamped() {
        let w = WorkloadSpec {
            phases: vec![crate::workload::Phase {
                duration: Duration::from_secs(2),
                arrival: ArrivalSpec::Constant { rate: 1e12 },
            }],
        };
        let e = estimate_schedule(&w, Duration::from_secs(2), None);
        assert_eq!(e.total.requests, 2e12);
        assert!(e.check(&WorkLimits::LOAD).is_err());
        let capped = estimate_schedule(&w, Duration::from_secs(2), Some(100));
        assert_eq!(capped.total.requests, 100.0);
        // The rate alone is still beyond what one generator sends.
        assert!(capped.check(&WorkLimits::LOAD).is_err());
    }

    #[test]
    fn trace_peak_is_the_busiest_second() {
        let at = [0u64, 100, 200, 1500, 1600, 1700, 1800, 5000]
            .map(Duration::from_millis)
            .to_vec();
        let w = WorkloadSpec {
            phases: vec![crate::workload::Phase {
                duration: Duration::from_secs(10),
                arrival: ArrivalSpec::Trace { at },
            }],
        };
        assert_eq!(peak_rate(&w, Duration::from_secs(10)), 4.0);
    }

    #[test]
    fn counts_read_well() {
        assert_eq!(count_text(0.0), "0");
        assert_eq!(count_text(1234.4), "1,234");
        assert_eq!(count_text(1_000_000.0), "1,000,000");
        assert_eq!(count_text(2e12), "2.0e12");
        assert_eq!(count_text(f64::INFINITY), "unbounded");
    }
}
