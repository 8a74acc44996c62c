//! Sim vs live: the same scenario and seed through the simulator and the live runtime, metric
//! by metric (`scalelab compare`), optionally calibrating the simulator's slot overhead from
//! what the live run measured first.

use std::path::Path;
use std::time::Duration;

use scalelab_core::duration::format_duration;
use scalelab_core::result::{Mode, RunResult, VariantResult};
use scalelab_core::scenario::{RouterSettings, Scenario};
use scalelab_reports::FidelityRow;
use serde::Serialize;

use crate::live::{self, LiveOptions};
use crate::{LabError, Plan};

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// The live side.
    pub live: LiveOptions,
    /// One relative tolerance (percent) for every metric instead of the per-metric defaults.
    pub tolerance: Option<f64>,
    /// Wall-clock latency the live path adds outside the instance slot; simulated as
    /// `[router] overhead` (divided by the time scale).
    pub router_overhead: Option<Duration>,
    /// Wall-clock time the proxy hop adds inside the instance slot; simulated as `[router]
    /// slot_overhead` (divided by the time scale).
    pub slot_overhead: Option<Duration>,
    /// Run live first and simulate with the slot overhead it measured.
    pub calibrate: bool,
}

/// The slot overhead of one variant: measured live and used by the simulator, wall time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlotOverhead {
    /// What the live run measured (None: no request completed).
    pub live_wall_ms: Option<f64>,
    /// What the simulator used (`[router] slot_overhead` × time scale).
    pub simulated_wall_ms: f64,
}

/// One variant compared (a fleet's: its totals, then each service).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantFidelity {
    /// The variant.
    pub variant: String,
    /// A fleet's service this table compares (absent: the variant's totals, or the only
    /// service of a single-service scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// One row per metric.
    pub rows: Vec<FidelityRow>,
    /// The slot overhead on both sides.
    pub slot_overhead: SlotOverhead,
    /// The heading of its table.
    #[serde(skip)]
    pub title: String,
}

/// Both runs and the verdict.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The simulated runs.
    pub sim: RunResult,
    /// The live runs.
    pub live: RunResult,
    /// One entry per variant.
    pub variants: Vec<VariantFidelity>,
    /// Every metric of every variant within tolerance.
    pub passed: bool,
    /// With `calibrate`: the slot overhead fed into the simulator (scenario units).
    pub calibrated: Option<Duration>,
    /// The time scale of the live runs.
    pub time_scale: f64,
}

/// Applies `f` to the `[router]` settings of the scenario and of every variant.
fn set_router(s: &mut Scenario, f: impl Fn(&mut RouterSettings)) {
    f(&mut s.router);
    for v in &mut s.variants {
        f(&mut v.scenario.router);
    }
}

/// The slot overhead a live run measured (scenario units), averaged over its variants by
/// completed requests.
pub fn measured_slot_overhead(live: &RunResult) -> Option<Duration> {
    let (mut sum, mut n) = (0.0, 0.0);
    for v in &live.variants {
        if let Some(ms) = v.live.as_ref().and_then(|l| l.slot_overhead_ms) {
            let w = v.requests.completed as f64;
            sum += ms * w;
            n += w;
        }
    }
    (n > 0.0).then(|| Duration::from_secs_f64(sum / n / 1e3))
}

/// Simulates every run of the plan (one document, mode `sim`).
pub fn simulate(plan: &Plan) -> Result<RunResult, LabError> {
    let mut variants = Vec::new();
    for name in &plan.names {
        let r = scalelab_sim::simulate(
            &plan.scenario,
            &scalelab_sim::SimOptions {
                seed: plan.seed,
                variant: Some(name.clone()),
                ..Default::default()
            },
        )?;
        variants.extend(r.variants);
    }
    let s = &plan.scenario;
    Ok(RunResult {
        variants,
        scenario_path: Some(s.path.display().to_string()),
        ..RunResult::new(&s.name, plan.seed, Mode::Sim, s.duration.as_secs_f64())
    })
}

/// Runs the plan through the simulator and live (live first when calibrating) and compares
/// them. `status` hears what is happening (which run starts, what was calibrated).
pub fn compare(
    mut plan: Plan,
    opts: &CompareOptions,
    status: &dyn Fn(&str),
) -> Result<Comparison, LabError> {
    if opts.tolerance.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
        return Err(LabError::setting(
            "--tolerance",
            "expected a percentage ≥ 0",
        ));
    }
    opts.live.check()?;
    let scale = opts.live.time_scale;
    // Measured live overheads (wall time) go into the model in scenario units.
    if let Some(d) = opts.router_overhead {
        let d = d.div_f64(scale);
        set_router(&mut plan.scenario, |r| r.overhead = d);
    }
    if let Some(d) = opts.slot_overhead {
        let d = d.div_f64(scale);
        set_router(&mut plan.scenario, |r| r.slot_overhead = d);
    }
    let mut calibrated = None;
    let (sim, live) = if opts.calibrate {
        let live = live::run(&plan, &opts.live, status)?;
        if let Some(d) = measured_slot_overhead(&live) {
            status(&format!(
                "calibrated: the live run held instance slots {} (wall) beyond the service time; \
                 simulating with [router] slot_overhead = \"{}\" (scenario units)",
                format_duration(d.mul_f64(scale)),
                format_duration(d),
            ));
            set_router(&mut plan.scenario, |r| r.slot_overhead = d);
            calibrated = Some(d);
        }
        (simulate(&plan)?, live)
    } else {
        let sim = simulate(&plan)?;
        (sim, live::run(&plan, &opts.live, status)?)
    };
    if let Some(f) = live::failure(&live) {
        return Err(LabError::Failed(f.to_string()));
    }
    let variants = fidelity_tables(&plan, &sim, &live, opts.tolerance, scale)?;
    let passed = variants.iter().all(|v| v.rows.iter().all(|r| r.passed));
    Ok(Comparison {
        sim,
        live,
        variants,
        passed,
        calibrated,
        time_scale: scale,
    })
}

/// The tables of a comparison: per variant, one of the whole run (a fleet's totals) and, for a
/// fleet, one per service (matched by name; a service missing on the live side is a failure).
fn fidelity_tables(
    plan: &Plan,
    sim: &RunResult,
    live: &RunResult,
    tolerance: Option<f64>,
    scale: f64,
) -> Result<Vec<VariantFidelity>, LabError> {
    let mut variants = Vec::new();
    for (s, l) in sim.variants.iter().zip(&live.variants) {
        let used_ms = plan
            .scenario
            .run(&s.name)
            .map_or(0.0, |sc| sc.router.slot_overhead.as_secs_f64() * 1e3);
        let table = |sv: &VariantResult, lv: &VariantResult, service: Option<&str>| {
            let measured_ms = lv.live.as_ref().and_then(|x| x.slot_overhead_ms);
            let what = match service {
                Some(svc) => format!("{} / service {svc}", s.name),
                None if !s.services.is_empty() => format!("{} / fleet totals", s.name),
                None => s.name.clone(),
            };
            VariantFidelity {
                variant: s.name.clone(),
                service: service.map(str::to_string),
                rows: scalelab_reports::fidelity(sv, lv, tolerance),
                slot_overhead: SlotOverhead {
                    live_wall_ms: measured_ms.map(|ms| ms * scale),
                    simulated_wall_ms: used_ms * scale,
                },
                title: format!(
                    "{} / {what} · seed {} · time scale {}",
                    plan.scenario.name, plan.seed, scale
                ),
            }
        };
        variants.push(table(s, l, None));
        // A fleet: each service's own table and verdict, matched by name.
        for ss in &s.services {
            match l.services.iter().find(|x| x.name == ss.name) {
                Some(ls) => variants.push(table(ss, ls, Some(&ss.name))),
                None => {
                    return Err(LabError::Failed(format!(
                        "the live run of {} has no result for service {}",
                        s.name, ss.name
                    )));
                }
            }
        }
    }
    Ok(variants)
}

impl VariantFidelity {
    /// The slot-overhead sentence under the table, when the live run measured one.
    fn slot_line(&self, time_scale: f64) -> Option<String> {
        let ms = self.slot_overhead.live_wall_ms?;
        let used = self.slot_overhead.simulated_wall_ms;
        Some(format!(
            "slot overhead: live held instance slots {:.3} ms (wall) beyond the service time; \
             the simulator used {:.3} ms ([router] slot_overhead {:.3} ms × time scale)",
            ms,
            used,
            used / time_scale,
        ))
    }
}

impl Comparison {
    /// Every variant's table (drawn by `table`) and slot-overhead sentence (set by `line`).
    fn tables(
        &self,
        table: fn(&str, &[FidelityRow]) -> String,
        line: fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        for v in &self.variants {
            out += &table(&v.title, &v.rows);
            if let Some(l) = v.slot_line(self.time_scale) {
                out += &line(&l);
            }
            out.push('\n');
        }
        out
    }

    /// The tables for a terminal.
    pub fn text(&self) -> String {
        self.tables(scalelab_reports::fidelity_text, |l| format!("  {l}\n"))
    }

    /// The tables as markdown (`fidelity.md`).
    pub fn markdown(&self) -> String {
        self.tables(scalelab_reports::fidelity_markdown, |l| format!("\n{l}\n"))
    }

    /// The rows as JSON (`fidelity.json`, and the `fidelity` field of `--format json`).
    pub fn rows_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.variants).unwrap_or_default()
    }

    /// The whole comparison as one JSON document (`--format json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "sim": self.sim, "live": self.live, "fidelity": self.rows_json(),
                            "passed": self.passed })
    }

    /// One document with both runs as variants (`sim: NAME`, `live: NAME`), so the charts show
    /// them side by side.
    pub fn side_by_side(&self) -> RunResult {
        let mut both = self.sim.clone();
        both.variants = self
            .sim
            .variants
            .iter()
            .map(|v| VariantResult {
                name: format!("sim: {}", v.name),
                ..v.clone()
            })
            .chain(self.live.variants.iter().map(|v| VariantResult {
                name: format!("live: {}", v.name),
                ..v.clone()
            }))
            .collect();
        both
    }

    /// Writes the side-by-side bundle plus `fidelity.md` and `fidelity.json` into `dir`;
    /// `command` reproduces the comparison. Returns how many files the bundle has.
    pub fn write(&self, dir: &Path, command: String) -> Result<usize, LabError> {
        let mut both = self.side_by_side();
        both.command = Some(command);
        let written = scalelab_reports::write_bundle(
            dir,
            &both,
            &scalelab_reports::BundleOptions::default(),
        )?;
        let put = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| LabError::io(p, e))
        };
        put("fidelity.md", &self.markdown())?;
        let json = serde_json::to_string_pretty(&self.rows_json())
            .map_err(|e| LabError::Failed(format!("serializing fidelity.json: {e}")))?;
        put("fidelity.json", &json)?;
        Ok(written.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalelab_core::result::LiveStats;

    fn plan() -> Plan {
        let s = Scenario::from_toml_str(
            "duration = \"30s\"\n[service]\nservice_time = { dist = \"fixed\", value = \"50ms\" }\n\
             [[workload.phases]]\nduration = \"30s\"\narrival = { process = \"constant\", rate = 5 }\n\
             [[variants]]\nname = \"warm\"\nset = { \"autoscaler.min_scale\" = 1 }\n",
            "c.toml".as_ref(),
        )
        .expect("valid");
        Plan::new(s, 7, None, None).expect("plan")
    }

    #[test]
    fn the_slot_overhead_is_averaged_by_completed_requests() {
        let sim = simulate(&plan()).expect("simulated");
        assert_eq!(sim.variants.len(), 2);
        let mut live = sim.clone();
        let slot = |ms: Option<f64>| LiveStats {
            slot_overhead_ms: ms,
            ..LiveStats::default()
        };
        live.variants[0].set_live(slot(Some(1.0)));
        live.variants[1].set_live(slot(Some(3.0)));
        live.variants[1].requests.completed = live.variants[0].requests.completed * 3;
        let d = measured_slot_overhead(&live).expect("measured");
        assert!((d.as_secs_f64() * 1e3 - 2.5).abs() < 1e-9, "{d:?}");
        assert_eq!(live.variants[0].extra["slot_overhead_ms"], 1.0);
        live.variants[0].set_live(slot(None));
        live.variants[1].set_live(slot(None));
        assert_eq!(measured_slot_overhead(&live), None);
        assert!(!live.variants[0].extra.contains_key("slot_overhead_ms"));
    }

    #[test]
    fn identical_runs_agree_and_render() {
        let sim = simulate(&plan()).expect("simulated");
        let mut live = sim.clone();
        live.variants[0].set_live(LiveStats {
            slot_overhead_ms: Some(1.5),
            ..LiveStats::default()
        });
        let variants: Vec<VariantFidelity> = sim
            .variants
            .iter()
            .zip(&live.variants)
            .map(|(s, l)| VariantFidelity {
                variant: s.name.clone(),
                service: None,
                rows: scalelab_reports::fidelity(s, l, None),
                slot_overhead: SlotOverhead {
                    live_wall_ms: l
                        .live
                        .as_ref()
                        .and_then(|x| x.slot_overhead_ms)
                        .map(|ms| ms * 0.5),
                    simulated_wall_ms: 0.0,
                },
                title: format!("c / {}", s.name),
            })
            .collect();
        let c = Comparison {
            passed: variants.iter().all(|v| v.rows.iter().all(|r| r.passed)),
            sim,
            live,
            variants,
            calibrated: None,
            time_scale: 0.5,
        };
        assert!(c.passed);
        let text = c.text();
        assert!(text.contains("c / baseline"), "{text}");
        assert!(
            text.contains("live held instance slots 0.750 ms (wall)"),
            "{text}"
        );
        assert!(c.markdown().contains("#### c / warm"));
        let json = c.rows_json();
        assert_eq!(json[0]["variant"], "baseline");
        assert_eq!(json[0]["slot_overhead"]["live_wall_ms"], 0.75);
        assert!(json[1]["slot_overhead"]["live_wall_ms"].is_null());
        let both = c.side_by_side();
        let names: Vec<&str> = both.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            ["sim: baseline", "sim: warm", "live: baseline", "live: warm"]
        );
    }

    #[test]
    fn a_fleet_gets_a_table_for_its_totals_and_each_service() {
        let s = Scenario::from_toml_str(
            "duration = \"20s\"\n[service]\nservice_time = { dist = \"fixed\", value = \"50ms\" }\n\
             [[workload.phases]]\nduration = \"20s\"\narrival = { process = \"constant\", rate = 5 }\n\
             [[services]]\nname = \"a\"\n[[services]]\nname = \"b\"\n",
            "f.toml".as_ref(),
        )
        .expect("valid");
        let plan = Plan::new(s, 3, None, None).expect("plan");
        let sim = simulate(&plan).expect("simulated");
        let mut live = sim.clone();
        let t = fidelity_tables(&plan, &sim, &live, None, 0.5).expect("tables");
        let services: Vec<Option<&str>> = t.iter().map(|v| v.service.as_deref()).collect();
        assert_eq!(services, [None, Some("a"), Some("b")]);
        assert!(t.iter().all(|v| v.rows.iter().all(|r| r.passed)));
        assert!(t[0].title.contains("fleet totals"), "{}", t[0].title);
        assert!(t[2].title.contains("service b"), "{}", t[2].title);
        let json = serde_json::to_value(&t).expect("json");
        assert!(json[0].get("service").is_none());
        assert_eq!(json[1]["service"], "a");
        // A service live lost is a failure, never a silent pass.
        live.variants[0].services.pop();
        let e = fidelity_tables(&plan, &sim, &live, None, 0.5).unwrap_err();
        assert!(e.to_string().contains("service b"), "{e}");
    }

    #[test]
    fn bad_options_are_bad_input() {
        let opts = CompareOptions {
            tolerance: Some(-1.0),
            ..CompareOptions::default()
        };
        let e = compare(plan(), &opts, &|_| {}).unwrap_err();
        assert!(e.is_bad_input());
        let opts = CompareOptions {
            live: LiveOptions {
                time_scale: 0.0,
                ..LiveOptions::default()
            },
            ..CompareOptions::default()
        };
        let e = compare(plan(), &opts, &|_| {}).unwrap_err();
        assert!(e.to_string().starts_with("--time-scale"), "{e}");
    }
}
