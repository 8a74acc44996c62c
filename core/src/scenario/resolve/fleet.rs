//! `[[services]]` and `[trace]`: the tables of a fleet.

use std::path::Path;
use std::time::Duration;

use super::service::merge_service;
use super::{R, Resolver};
use crate::billing::BillingConfig;
use crate::scenario::fleet::{FleetService, FleetTrace, Spread, TraceFormat};
use crate::scenario::raw::RawScenario;
use crate::scenario::{Scenario, ScenarioError};
use crate::workload::WorkloadSpec;
use crate::workload::fleet_trace;

/// The most services a fleet may hold.
pub const MAX_SERVICES: usize = 100_000;

impl Resolver<'_> {
    /// A scenario with `[[services]]`.
    pub(super) fn fleet_scenario(
        &self,
        raw: &RawScenario,
        name: String,
        seed: Option<u64>,
    ) -> R<Scenario> {
        if let Some(d) = &raw.duration
            && d.get_ref().0.is_zero()
        {
            return Err(self.err(d, "duration", "zero duration: expected a positive horizon"));
        }
        self.fleet_refuses(raw)?;
        let billing = self.billing(raw)?;
        let services = self.fleet(raw, &billing)?;
        let trace = self.trace(raw, &services)?;
        let services = self.fleet_workloads(raw, services, trace.as_ref())?;
        let longest = services
            .iter()
            .map(|s| {
                s.workload
                    .phases
                    .iter()
                    .map(|p| p.duration)
                    .sum::<Duration>()
            })
            .max()
            .unwrap_or_default();
        let natural = longest.max(trace.as_ref().map_or(Duration::ZERO, |t| t.end));
        let duration = match &raw.duration {
            Some(d) => d.get_ref().0,
            None if natural.is_zero() => {
                return Err(ScenarioError::at(
                    self.file,
                    self.src,
                    raw.services.as_ref().map(|s| s.span()),
                    Some("duration".into()),
                    "no horizon: give `duration` (the services' workloads and the trace are empty)",
                ));
            }
            None => natural,
        };
        let router = self.router(raw)?;
        let slo = self.slo(raw, &billing)?;
        let load = self.load(raw)?;
        let sim = self.sim(raw)?;
        let first = &services[0];
        // `[cluster]` is refused for fleets (not simulated yet), never ignored.
        let cluster = self.cluster(raw, &first.revisions, &mut billing.clone())?;
        Ok(Scenario {
            name,
            description: raw.description.clone(),
            seed,
            duration,
            revisions: first.revisions.clone(),
            router,
            workload: first.workload.clone(),
            request_classes: Vec::new(),
            rollouts: Vec::new(),
            routes: Vec::new(),
            billing,
            slo,
            load,
            sim,
            variants: Vec::new(),
            tune: None,
            path: self.file.to_path_buf(),
            services,
            trace,
            cluster,
        })
    }

    /// Tables of a single-service scenario that a fleet does not take at the top level.
    fn fleet_refuses(&self, raw: &RawScenario) -> R<()> {
        let refuse = |span: std::ops::Range<usize>, key: &str, why: &str| {
            Err(ScenarioError::at(
                self.file,
                self.src,
                Some(span),
                Some(key.to_string()),
                why.to_string(),
            ))
        };
        if let Some(at) = &raw.revisions {
            return refuse(
                at.span(),
                "revisions",
                "a fleet's revisions belong to its services: move [[revisions]] into the \
                 [[services]] entry it splits ([[services.revisions]]); top-level [service] and \
                 [autoscaler] are defaults for every service",
            );
        }
        if let Some(at) = &raw.rollouts {
            return refuse(
                at.span(),
                "rollouts",
                "[[rollouts]] are not supported in a fleet ([[services]]) yet: run the service \
                 that rolls out as a scenario of its own",
            );
        }
        if let Some(at) = &raw.routes {
            return refuse(
                at.span(),
                "routes",
                "[[routes]] are not supported in a fleet ([[services]]) yet: run the service \
                 with header routes as a scenario of its own",
            );
        }
        if let Some(w) = &raw.workload
            && let Some(c) = &w.get_ref().request_classes
        {
            return refuse(
                c.span(),
                "workload.request_classes",
                "request classes are not supported in a fleet ([[services]]) yet",
            );
        }
        Ok(())
    }

    /// Every `[[services]]` entry: its tables over the top-level `[service]` and
    /// `[autoscaler]` (workloads are filled in by [`Self::fleet_workloads`]).
    fn fleet(&self, raw: &RawScenario, billing: &BillingConfig) -> R<Vec<FleetService>> {
        let Some(list) = &raw.services else {
            return Ok(Vec::new());
        };
        if list.get_ref().is_empty() {
            return Err(self.err(
                list,
                "services",
                "no services: list at least one [[services]] entry, or use [service]",
            ));
        }
        if list.get_ref().len() > MAX_SERVICES {
            return Err(self.err(
                list,
                "services",
                format!("more than {MAX_SERVICES} services"),
            ));
        }
        let (base_service, base_as) = raw.base_tables();
        let mut names = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(list.get_ref().len());
        for (i, e) in list.get_ref().iter().enumerate() {
            let e = e.get_ref();
            let p = format!("services[{i}].");
            let name = e.name.get_ref().trim().to_string();
            let bad = if name.is_empty() {
                Some("empty service name".to_string())
            } else if name.len() > 200 {
                Some("a service name is at most 200 characters".to_string())
            } else if name == super::super::BASELINE {
                Some("\"baseline\" names a variant; pick another service name".to_string())
            } else if let Some(c) = name
                .chars()
                .find(|c| *c == '.' || *c == ',' || c.is_whitespace() || c.is_control())
            {
                Some(format!(
                    "service name \"{name}\" holds {c:?}: names may not hold dots (variants \
                     address a service as services.NAME.key), commas (trace rows are CSV) or \
                     spaces"
                ))
            } else if !names.insert(name.clone()) {
                Some(format!("duplicate service name \"{name}\""))
            } else {
                None
            };
            if let Some(msg) = bad {
                return Err(self.err(&e.name, &format!("{p}name"), msg));
            }
            if let Some(w) = &e.workload
                && let Some(c) = &w.get_ref().request_classes
            {
                return Err(self.err(
                    c,
                    &format!("{p}workload.request_classes"),
                    "request classes are not supported in a fleet ([[services]]) yet",
                ));
            }
            let svc = merge_service(&base_service, e.service.as_ref().map(|s| s.get_ref()));
            // The top-level [autoscaler] is the default of services of its kind (Knative's
            // config-autoscaler applies to KPA revisions); a service of another kind starts
            // from its own table alone.
            let kind_of = |a: &crate::scenario::raw::RawAutoscaler| {
                a.get("kind")
                    .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
                    .unwrap_or_else(|| "kpa".to_string())
            };
            let own = e.autoscaler.as_ref().map(|s| s.get_ref());
            let same_kind =
                own.is_none_or(|o| o.get("kind").is_none() || kind_of(o) == kind_of(&base_as));
            let a = if same_kind {
                base_as.merged(own)
            } else {
                crate::scenario::raw::RawAutoscaler::default().merged(own)
            };
            let revisions = self.revisions_of(&svc, &a, e.revisions.as_ref(), &p)?;
            self.keepalive_router(raw, &revisions, &format!(" (service \"{name}\")"))?;
            let slo = self.slo_of(e.slo.as_ref(), billing, &p)?;
            let workload = match &e.workload {
                Some(w) => self.workload_of(Some(w), &p)?,
                None => WorkloadSpec { phases: Vec::new() },
            };
            out.push(FleetService {
                name,
                labels: e
                    .labels
                    .as_ref()
                    .map(|l| l.get_ref().clone())
                    .unwrap_or_default(),
                revisions,
                workload,
                slo,
            });
        }
        Ok(out)
    }

    /// A service without `[services.workload]`: fed by the trace when the trace names it, else
    /// the top-level `[workload]`; a service with neither is an error.
    fn fleet_workloads(
        &self,
        raw: &RawScenario,
        mut services: Vec<FleetService>,
        trace: Option<&FleetTrace>,
    ) -> R<Vec<FleetService>> {
        let default = match &raw.workload {
            Some(w) if w.get_ref().phases.is_some() => Some(self.workload(raw)?),
            _ => None,
        };
        let entries = raw.services.as_ref().map(|s| s.get_ref());
        for (i, s) in services.iter_mut().enumerate() {
            let own = entries
                .and_then(|e| e.get(i))
                .is_some_and(|e| e.get_ref().workload.is_some());
            if own {
                continue;
            }
            let in_trace = trace.is_some_and(|t| t.rows.get(i).copied().unwrap_or(0) > 0);
            if in_trace {
                continue;
            }
            match &default {
                Some(d) => s.workload = d.clone(),
                None => {
                    let at = entries.and_then(|e| e.get(i)).map(|e| e.get_ref());
                    return Err(match at {
                        Some(e) => self.err(
                            &e.name,
                            &format!("services[{i}].workload"),
                            format!(
                                "service \"{}\" has no arrivals: give it [services.workload] \
                                 phases, a top-level [workload] for every service, or rows in \
                                 the [trace] file",
                                s.name
                            ),
                        ),
                        None => ScenarioError::whole_file(self.file, "a service has no arrivals"),
                    });
                }
            }
        }
        Ok(services)
    }

    /// `[trace]`: the file checked once, row by row (streamed), against the services.
    fn trace(&self, raw: &RawScenario, services: &[FleetService]) -> R<Option<FleetTrace>> {
        let Some(t) = &raw.trace else {
            return Ok(None);
        };
        let tr = t.get_ref();
        let Some(file) = &tr.file else {
            return Err(self.err(
                t,
                "trace.file",
                "[trace] needs `file`, a CSV file of rows in time order (relative to the \
                 scenario's directory)",
            ));
        };
        let rel = Path::new(file.get_ref());
        let path = if rel.is_absolute() {
            rel.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new(".")).join(rel)
        };
        let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        let scan = fleet_trace::scan(&path, &names).map_err(|e| self.err(file, "trace.file", e))?;
        let interval = self.dur(
            &tr.interval,
            "trace.interval",
            Duration::from_secs(60),
            |d| {
                if d.is_zero() {
                    Err("must be greater than zero".into())
                } else {
                    Ok(())
                }
            },
        )?;
        let spread = match &tr.spread {
            None => Spread::Uniform,
            Some(s) => match s.get_ref().as_str() {
                "uniform" => Spread::Uniform,
                "poisson" => Spread::Poisson,
                "even" => Spread::Even,
                other => {
                    return Err(self.err(
                        s,
                        "trace.spread",
                        format!(
                            "unknown spread \"{other}\": expected \"uniform\" (exactly the count, \
                             at uniform times), \"poisson\" or \"even\""
                        ),
                    ));
                }
            },
        };
        if scan.format == TraceFormat::Invocations {
            let stray: Option<(&str, std::ops::Range<usize>)> = tr
                .interval
                .as_ref()
                .map(|v| ("interval", v.span()))
                .or(tr.spread.as_ref().map(|v| ("spread", v.span())));
            if let Some((k, span)) = stray {
                return Err(ScenarioError::at(
                    self.file,
                    self.src,
                    Some(span),
                    Some(format!("trace.{k}")),
                    format!(
                        "`{k}` applies to a counts trace (header `t_s,service,count`); this one \
                         has one row per request (`t_s,service,duration_s`)"
                    ),
                ));
            }
        }
        if scan.format == TraceFormat::Counts
            && let Some(d) = tr.durations
            && d
        {
            let span = t.span();
            return Err(ScenarioError::at(
                self.file,
                self.src,
                Some(span),
                Some("trace.durations".into()),
                "`durations` applies to an invocations trace (header `t_s,service,duration_s`); \
                 this one holds counts",
            ));
        }
        let last = Duration::from_nanos(scan.last_ns);
        let end = match scan.format {
            TraceFormat::Counts => last + interval,
            // Arrivals lie strictly before the horizon: the next whole second after the last.
            TraceFormat::Invocations => Duration::from_secs(last.as_secs() + 1),
        };
        Ok(Some(FleetTrace {
            file: path,
            format: scan.format,
            interval,
            spread,
            durations: tr.durations.unwrap_or(true),
            requests: scan.requests,
            rows: scan.rows_per_service,
            end,
        }))
    }
}
