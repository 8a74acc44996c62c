//! A scenario made ready to run: the seed chosen, a `--duration` override applied to it and
//! every variant, and the runs to do selected.

use std::time::Duration;

use scalelab_core::scenario::Scenario;

use crate::LabError;

/// What `sim`, `run` and `compare` run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario, with the duration override applied.
    pub scenario: Scenario,
    /// The master seed.
    pub seed: u64,
    /// The runs, in order: `baseline` and every variant, or the one asked for.
    pub names: Vec<String>,
}

impl Plan {
    /// `duration` replaces the horizon of the scenario and of every variant; `variant` picks
    /// one run (`baseline` or a `[[variants]]` name). A zero duration and an unknown variant
    /// are bad input.
    pub fn new(
        mut scenario: Scenario,
        seed: u64,
        variant: Option<&str>,
        duration: Option<Duration>,
    ) -> Result<Plan, LabError> {
        if let Some(d) = duration {
            if d.is_zero() {
                return Err(LabError::setting("--duration", "must be greater than zero"));
            }
            scenario.duration = d;
            for v in &mut scenario.variants {
                v.scenario.duration = d;
            }
        }
        let all: Vec<String> = scenario.runs().iter().map(|(n, _)| n.to_string()).collect();
        let names = match variant {
            None => all,
            Some(v) if all.iter().any(|n| n == v) => vec![v.to_string()],
            Some(v) => {
                return Err(LabError::NoSuchVariant {
                    name: v.to_string(),
                    scenario: scenario.path.display().to_string(),
                    names: all.join(", "),
                });
            }
        };
        Ok(Plan {
            scenario,
            seed,
            names,
        })
    }

    /// The scenario of run `name` (one of [`Plan::names`]).
    pub fn run(&self, name: &str) -> Option<&Scenario> {
        self.scenario.run(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::from_toml_str(
            "duration = \"1m\"\n[[workload.phases]]\nduration = \"1m\"\n\
             arrival = { process = \"poisson\", rate = 1 }\n\
             [[variants]]\nname = \"v\"\nset = { \"autoscaler.min_scale\" = 1 }\n",
            "p.toml".as_ref(),
        )
        .expect("valid")
    }

    #[test]
    fn selects_runs_and_overrides_the_duration_everywhere() {
        let p = Plan::new(scenario(), 1, None, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(p.names, ["baseline", "v"]);
        assert_eq!(p.run("v").unwrap().duration, Duration::from_secs(5));
        let p = Plan::new(scenario(), 1, Some("v"), None).unwrap();
        assert_eq!(p.names, ["v"]);
        let e = Plan::new(scenario(), 1, Some("w"), None).unwrap_err();
        assert!(e.is_bad_input());
        assert_eq!(
            e.to_string(),
            "--variant: no variant named \"w\" in p.toml (it has: baseline, v)"
        );
        let e = Plan::new(scenario(), 1, None, Some(Duration::ZERO)).unwrap_err();
        assert_eq!(e.to_string(), "--duration: must be greater than zero");
    }
}
