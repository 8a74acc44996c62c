//! `[service]` and `[[revisions]]` (each revision's `service` and `autoscaler` tables over the
//! shared ones), and the distributions of service and cold-start times.

use std::time::Duration;

use super::{R, Resolver, positive};
use crate::autoscaler::AutoscalerSettings;
use crate::duration::Dur;
use crate::scenario::ScenarioError;
use crate::scenario::raw::{
    DistKind, RawAutoscaler, RawDist, RawRevision, RawScenario, RawService, S,
};
use crate::scenario::{Revision, Service};
use crate::workload::spec::{DistSpec, MixturePart};

impl Resolver<'_> {
    pub(super) fn revisions(&self, raw: &RawScenario) -> R<Vec<Revision>> {
        let (base_service, base_as) = raw.base_tables();
        self.revisions_of(&base_service, &base_as, raw.revisions.as_ref(), "")
    }

    /// The revisions of one service: `revs` (or one `default` revision) over the `[service]`
    /// and `[autoscaler]` tables given; keys are named after `p` (`""`, or `services[3].` in a
    /// fleet).
    pub(super) fn revisions_of(
        &self,
        base_service: &RawService,
        base_as: &RawAutoscaler,
        revs: Option<&S<Vec<S<RawRevision>>>>,
        p: &str,
    ) -> R<Vec<Revision>> {
        let Some(revs) = revs else {
            let (sk, ak) = (format!("{p}service"), format!("{p}autoscaler"));
            let mut service = self.service(base_service, &sk)?;
            let autoscaler = self.autoscaler(base_as, &ak)?;
            self.service_and_autoscaler(
                base_service,
                base_as,
                &mut service,
                &autoscaler,
                (&sk, &ak),
            )?;
            self.keepalive_concurrency(base_service, &service, &autoscaler, &sk)?;
            return Ok(vec![Revision {
                name: "default".into(),
                traffic_percent: 100.0,
                tag: None,
                created_at: Duration::ZERO,
                service,
                autoscaler,
            }]);
        };
        if revs.get_ref().is_empty() {
            return Err(self.err(
                revs,
                &format!("{p}revisions"),
                "no revisions: list at least one, or use [service]",
            ));
        }
        let mut out: Vec<Revision> = Vec::new();
        let mut sum = 0.0;
        for (i, r) in revs.get_ref().iter().enumerate() {
            let r = r.get_ref();
            let prefix = format!("{p}revisions[{i}]");
            let names = out.iter().map(|o| o.name.as_str());
            let name = self.unique_name(&r.name, &format!("{prefix}.name"), "revision", names)?;
            let traffic = match &r.traffic {
                None => 0.0,
                Some(t) => {
                    let x = *t.get_ref();
                    if !(x.is_finite() && (0.0..=100.0).contains(&x)) {
                        return Err(self.err(
                            t,
                            &format!("{prefix}.traffic"),
                            format!("{x} is out of range: expected a percentage from 0 to 100"),
                        ));
                    }
                    x
                }
            };
            let created_at = self.dur(
                &r.created_at,
                &format!("{prefix}.created_at"),
                Duration::ZERO,
                |_| Ok(()),
            )?;
            if !created_at.is_zero()
                && traffic > 0.0
                && let Some(t) = &r.traffic
            {
                return Err(self.err(
                    t,
                    &format!("{prefix}.traffic"),
                    format!(
                        "revision \"{name}\" is created at {}, so it cannot hold traffic from the \
                         start: give it traffic = 0 and move traffic to it with [[rollouts]]",
                        crate::duration::format_duration(created_at)
                    ),
                ));
            }
            sum += traffic;
            let svc = merge_service(base_service, r.service.as_ref().map(|s| s.get_ref()));
            let mut service = self.service(&svc, &format!("{prefix}.service"))?;
            let a = base_as.merged(r.autoscaler.as_ref().map(|s| s.get_ref()));
            let autoscaler = self.autoscaler(&a, &format!("{prefix}.autoscaler"))?;
            self.service_and_autoscaler(
                &svc,
                &a,
                &mut service,
                &autoscaler,
                (
                    &format!("{prefix}.service"),
                    &format!("{prefix}.autoscaler"),
                ),
            )?;
            self.keepalive_concurrency(&svc, &service, &autoscaler, &format!("{prefix}.service"))?;
            out.push(Revision {
                name,
                traffic_percent: traffic,
                tag: r.tag.as_ref().map(|t| t.get_ref().clone()),
                created_at,
                service,
                autoscaler,
            });
        }
        if (sum - 100.0).abs() > 1e-9 {
            let list = out
                .iter()
                .map(|r| format!("{} {}%", r.name, r.traffic_percent))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(self.err(
                revs,
                &format!("{p}revisions.traffic"),
                format!("traffic percentages sum to {sum}, not 100 ({list})"),
            ));
        }
        Ok(out)
    }

    /// The keepalive kind runs one request per instance (Lambda): a `container_concurrency`
    /// above 1 would be ignored, so it is refused.
    fn keepalive_concurrency(
        &self,
        raw: &RawService,
        service: &Service,
        autoscaler: &AutoscalerSettings,
        p: &str,
    ) -> R<()> {
        if matches!(autoscaler, AutoscalerSettings::Keepalive(_))
            && service.container_concurrency > 1
            && let Some(cc) = &raw.container_concurrency
        {
            return Err(self.err(
                cc,
                &format!("{p}.container_concurrency"),
                format!(
                    "container_concurrency {} does not apply to kind = \"keepalive\": it runs one \
                     request per instance (AWS Lambda); use 1 (or 0), or kind = \"kpa\"",
                    service.container_concurrency
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn service(&self, s: &RawService, p: &str) -> R<Service> {
        let k = |name: &str| format!("{p}.{name}");
        Ok(Service {
            container_concurrency: self.u32_in(
                &s.container_concurrency,
                &k("container_concurrency"),
                0,
                1000,
            )?,
            vcpu: self.f64_in(
                &s.vcpu,
                &k("vcpu"),
                1.0,
                |x| x > 0.0 && x <= 64.0,
                "0 < vcpu ≤ 64",
            )?,
            memory_gib: self.f64_in(
                &s.memory_gib,
                &k("memory_gib"),
                0.5,
                |x| x > 0.0 && x <= 512.0,
                "0 < memory_gib ≤ 512",
            )?,
            timeout: self.dur(
                &s.timeout,
                &k("timeout"),
                Duration::from_secs(300),
                positive,
            )?,
            service_time: match &s.service_time {
                Some(d) => self.dist(d, &k("service_time"))?,
                None => DistSpec::Fixed {
                    value: Duration::from_millis(100),
                },
            },
            cold_start: match &s.cold_start {
                Some(d) => self.dist(d, &k("cold_start"))?,
                // BILLING.md §3.3: the Huawei production fit (median ≈ 1.35 s, p99 ≈ 29 s).
                None => DistSpec::Lognormal {
                    median: Duration::from_millis(1350),
                    p99: Duration::from_secs(29),
                },
            },
            cold_service_time: match &s.cold_service_time {
                Some(d) => Some(self.dist(d, &k("cold_service_time"))?),
                None => None,
            },
            warm_at_start: s.warm_at_start.unwrap_or(false),
            shutdown: self.dur(&s.shutdown, &k("shutdown"), Duration::ZERO, |_| Ok(()))?,
            startup_cpu_boost: s.startup_cpu_boost.unwrap_or(false),
            cpu_share: self.f64_in(
                &s.cpu_share,
                &k("cpu_share"),
                0.0,
                |x| (0.0..=1.0).contains(&x),
                "a share from 0 to 1",
            )?,
            cold_start_cpu_share: self.f64_in(
                &s.cold_start_cpu_share,
                &k("cold_start_cpu_share"),
                0.0,
                |x| (0.0..=1.0).contains(&x),
                "a share from 0 to 1",
            )?,
        })
    }

    /// The checks between a revision's service and its autoscaler: Cloud Run's concurrency is a
    /// hard cap from 1 to 1000 (80 when not given, Cloud Run's default); the HPA scales on CPU,
    /// which needs CPU work to see.
    fn service_and_autoscaler(
        &self,
        s: &RawService,
        a: &RawAutoscaler,
        service: &mut Service,
        autoscaler: &AutoscalerSettings,
        (sp, ap): (&str, &str),
    ) -> R<()> {
        let at = |span: Option<std::ops::Range<usize>>, key: String, msg: String| {
            ScenarioError::at(self.file, self.src, span, Some(key), msg)
        };
        let kind_span = a.get("kind").map(|(_, v)| v.span());
        if matches!(autoscaler, AutoscalerSettings::CloudRun(_))
            && s.container_concurrency.is_none()
        {
            service.container_concurrency = CLOUD_RUN_CONCURRENCY;
        }
        match autoscaler {
            AutoscalerSettings::CloudRun(_) if service.container_concurrency == 0 => Err(at(
                s.container_concurrency
                    .as_ref()
                    .map(|v| v.span())
                    .or(kind_span),
                format!("{sp}.container_concurrency"),
                "kind = \"cloud-run\" needs container_concurrency from 1 to 1000 (Cloud Run's \
                 concurrency is a hard cap per instance; 0, unlimited, is Knative's)"
                    .into(),
            )),
            AutoscalerSettings::Hpa(_) if service.cpu_share == 0.0 => Err(at(
                s.cpu_share.as_ref().map(|v| v.span()).or(kind_span),
                format!("{sp}.cpu_share"),
                format!(
                    "kind = \"hpa\" ({ap}) scales on CPU utilisation: set [service] cpu_share \
                     (the share of each request's service time that is CPU work) above 0, or \
                     every pod looks idle"
                ),
            )),
            _ => Ok(()),
        }
    }

    pub(super) fn dist(&self, d: &S<RawDist>, key: &str) -> R<DistSpec> {
        self.dist_inner(d, key, false)
    }

    pub(super) fn dist_inner(&self, sd: &S<RawDist>, key: &str, in_mixture: bool) -> R<DistSpec> {
        let d = sd.get_ref();
        let tag = *d.dist.get_ref();
        self.only_keys(sd, key, tag, &d.given())?;
        if let Some(w) = &d.weight
            && !in_mixture
        {
            return Err(self.err(
                w,
                &format!("{key}.weight"),
                "`weight` belongs to the parts of a mixture only",
            ));
        }
        let need = |v: &Option<S<Dur>>, name: &str| -> R<Duration> {
            v.as_ref()
                .map(|s| s.get_ref().0)
                .ok_or_else(|| self.needs(sd, key, tag, name))
        };
        // The second of two durations that must be in order, named `name`.
        let ordered = |ok: bool, at: &Option<S<Dur>>, name: &str, msg: &str| -> R<()> {
            match at {
                Some(v) if !ok => Err(self.err(v, &format!("{key}.{name}"), msg)),
                _ => Ok(()),
            }
        };
        Ok(match tag {
            DistKind::Fixed => DistSpec::Fixed {
                value: need(&d.value, "value")?,
            },
            DistKind::Exponential => DistSpec::Exponential {
                mean: need(&d.mean, "mean")?,
            },
            DistKind::Lognormal => {
                let median = need(&d.median, "median")?;
                let p99 = need(&d.p99, "p99")?;
                let ok = !median.is_zero() && p99 > median;
                ordered(ok, &d.p99, "p99", "lognormal needs 0 < median < p99")?;
                DistSpec::Lognormal { median, p99 }
            }
            DistKind::Uniform => {
                let min = need(&d.min, "min")?;
                let max = need(&d.max, "max")?;
                ordered(max >= min, &d.max, "max", "uniform needs min ≤ max")?;
                DistSpec::Uniform { min, max }
            }
            DistKind::Mixture => {
                let parts = d.parts.as_ref().filter(|p| !p.is_empty()).ok_or_else(|| {
                    self.err(
                        sd,
                        &format!("{key}.parts"),
                        "a mixture needs at least one part",
                    )
                })?;
                let mut out = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    let pk = format!("{key}.parts[{i}]");
                    let w = part.get_ref().weight.as_ref().ok_or_else(|| {
                        self.err(
                            part,
                            &format!("{pk}.weight"),
                            "each mixture part needs a `weight`",
                        )
                    })?;
                    let weight = *w.get_ref();
                    if !(weight.is_finite() && weight > 0.0) {
                        return Err(self.err(
                            w,
                            &format!("{pk}.weight"),
                            format!("{weight} is out of range: expected a weight > 0"),
                        ));
                    }
                    out.push(MixturePart {
                        weight,
                        dist: self.dist_inner(part, &pk, true)?,
                    });
                }
                DistSpec::Mixture { parts: out }
            }
            DistKind::Empirical => self.empirical(sd, key)?,
        })
    }

    /// `{ dist = "empirical", points = [[p, D], …] }`: at least two points, p from exactly 0 to
    /// exactly 1, p and the durations non-decreasing.
    fn empirical(&self, sd: &S<RawDist>, key: &str) -> R<DistSpec> {
        let pk = format!("{key}.points");
        let points = sd
            .get_ref()
            .points
            .as_ref()
            .ok_or_else(|| self.needs(sd, key, DistKind::Empirical, "points"))?;
        let list = points.get_ref();
        if list.len() < 2 {
            return Err(self.err(
                points,
                &pk,
                "an empirical distribution needs at least two points, from p = 0 to p = 1 \
                 (e.g. [[0.0, \"5ms\"], [0.5, \"120ms\"], [1.0, \"9s\"]])",
            ));
        }
        let mut out: Vec<(f64, Duration)> = Vec::with_capacity(list.len());
        for (i, pt) in list.iter().enumerate() {
            let (p, v) = (pt.get_ref().0, pt.get_ref().1.0);
            let at = format!("{pk}[{i}]");
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return Err(self.err(pt, &at, format!("p = {p} is out of range: expected 0 to 1")));
            }
            if let Some(&(p0, v0)) = out.last() {
                if p < p0 {
                    return Err(self.err(
                        pt,
                        &at,
                        format!("p = {p} comes after p = {p0}: points must be in increasing p"),
                    ));
                }
                if v < v0 {
                    return Err(self.err(
                        pt,
                        &at,
                        format!(
                            "{} at p = {p} is below {} at p = {p0}: a quantile never decreases",
                            crate::duration::format_duration(v),
                            crate::duration::format_duration(v0)
                        ),
                    ));
                }
            }
            out.push((p, v));
        }
        let first = &list[0];
        if out[0].0 != 0.0 {
            return Err(self.err(
                first,
                &format!("{pk}[0]"),
                format!(
                    "the first point's p is {}: it must be 0 (the minimum)",
                    out[0].0
                ),
            ));
        }
        let (n, last) = (out.len(), &list[list.len() - 1]);
        if out[n - 1].0 != 1.0 {
            return Err(self.err(
                last,
                &format!("{pk}[{}]", n - 1),
                format!(
                    "the last point's p is {}: it must be 1 (the maximum)",
                    out[n - 1].0
                ),
            ));
        }
        Ok(DistSpec::Empirical { points: out })
    }
}

/// Cloud Run's default maximum concurrency per instance, for `kind = "cloud-run"` when
/// `container_concurrency` is not given.
pub const CLOUD_RUN_CONCURRENCY: u32 = 80;

macro_rules! merge_fields {
    ($base:expr, $over:expr, $ty:ident { $($f:ident),* $(,)? }) => {{
        let b = $base;
        match $over {
            None => b.clone(),
            Some(o) => $ty { $($f: o.$f.clone().or_else(|| b.$f.clone()),)* },
        }
    }};
}

pub(super) fn merge_service(base: &RawService, over: Option<&RawService>) -> RawService {
    merge_fields!(
        base,
        over,
        RawService {
            container_concurrency,
            vcpu,
            memory_gib,
            timeout,
            service_time,
            cold_start,
            cold_service_time,
            warm_at_start,
            shutdown,
            startup_cpu_boost,
            cpu_share,
            cold_start_cpu_share,
        }
    )
}
