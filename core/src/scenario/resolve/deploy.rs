//! Deploys as events: `[[rollouts]]` (traffic changes over time), `[[routes]]` (header routes
//! before the split) and `[[workload.request_classes]]` (the headers requests carry).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{R, Resolver};
use crate::duration::format_duration;
use crate::scenario::raw::{RawScenario, S};
use crate::scenario::{HeaderRoute, RequestClass, Revision, Rollout};

/// Whether `s` is an HTTP header name (an RFC 9110 token).
pub(crate) fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `s` can be sent as an HTTP header value (visible ASCII, spaces and tabs inside).
pub(crate) fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) && s.trim() == s
}

impl Resolver<'_> {
    /// A string `parent` must have at `key`: `missing` when it is absent, `bad(value)` when
    /// `ok` rejects it.
    fn required_str<T>(
        &self,
        parent: &S<T>,
        v: &Option<S<String>>,
        key: &str,
        ok: impl Fn(&str) -> bool,
        bad: impl Fn(&str) -> String,
        missing: &str,
    ) -> R<String> {
        match v {
            Some(s) if ok(s.get_ref()) => Ok(s.get_ref().clone()),
            Some(s) => Err(self.err(s, key, bad(s.get_ref()))),
            None => Err(self.err(parent, key, missing)),
        }
    }

    /// `[[rollouts]]`: in time order, each naming revisions of the scenario with percentages
    /// that sum to 100.
    pub(super) fn rollouts(&self, raw: &RawScenario, revisions: &[Revision]) -> R<Vec<Rollout>> {
        let Some(list) = &raw.rollouts else {
            return Ok(Vec::new());
        };
        let names: Vec<&str> = revisions.iter().map(|r| r.name.as_str()).collect();
        let mut out: Vec<Rollout> = Vec::new();
        for (i, e) in list.get_ref().iter().enumerate() {
            let key = format!("rollouts[{i}]");
            let r = e.get_ref();
            let at = match &r.at {
                Some(a) => a.get_ref().0,
                None => {
                    return Err(self.err(
                        e,
                        &format!("{key}.at"),
                        "each rollout needs `at`, the time the traffic change is asked for",
                    ));
                }
            };
            if let (Some(prev), Some(a)) = (out.last(), &r.at)
                && at < prev.at
            {
                return Err(self.err(
                    a,
                    &format!("{key}.at"),
                    format!(
                        "rollouts are listed in time order: {} comes before the previous entry's {}",
                        format_duration(at),
                        format_duration(prev.at)
                    ),
                ));
            }
            let duration = self.dur(
                &r.duration,
                &format!("{key}.duration"),
                Duration::ZERO,
                |_| Ok(()),
            )?;
            let Some(traffic) = &r.traffic else {
                return Err(self.err(
                    e,
                    &format!("{key}.traffic"),
                    "each rollout needs `traffic = { <revision> = <percent>, … }` (summing to 100)",
                ));
            };
            let mut percents = vec![0.0; revisions.len()];
            let mut sum = 0.0;
            for (name, pct) in traffic.get_ref() {
                let n = name.get_ref().as_str();
                let k = format!("{key}.traffic.{n}");
                let Some(idx) = names.iter().position(|x| *x == n) else {
                    return Err(self.err(
                        name,
                        &k,
                        format!(
                            "no revision named \"{n}\" (the scenario has: {})",
                            names.join(", ")
                        ),
                    ));
                };
                let x = *pct.get_ref();
                if !(x.is_finite() && (0.0..=100.0).contains(&x)) {
                    return Err(self.err(
                        pct,
                        &k,
                        format!("{x} is out of range: expected a percentage from 0 to 100"),
                    ));
                }
                percents[idx] = x;
                sum += x;
            }
            if (sum - 100.0).abs() > 1e-9 {
                return Err(self.err(
                    traffic,
                    &format!("{key}.traffic"),
                    format!("the percentages sum to {sum}, not 100"),
                ));
            }
            out.push(Rollout {
                at,
                traffic: names
                    .iter()
                    .zip(percents)
                    .map(|(n, p)| (n.to_string(), p))
                    .collect(),
                duration,
            });
        }
        Ok(out)
    }

    /// `[[routes]]`: a header match and an existing revision each.
    pub(super) fn routes(&self, raw: &RawScenario, revisions: &[Revision]) -> R<Vec<HeaderRoute>> {
        let Some(list) = &raw.routes else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, e) in list.get_ref().iter().enumerate() {
            let key = format!("routes[{i}]");
            let r = e.get_ref();
            let Some(m) = &r.match_ else {
                return Err(self.err(
                    e,
                    &format!("{key}.match"),
                    "each route needs `match = { header = \"NAME\", value = \"VALUE\" }`",
                ));
            };
            let mk = m.get_ref();
            let header = self.required_str(
                m,
                &mk.header,
                &format!("{key}.match.header"),
                is_header_name,
                |h| format!("\"{h}\" is not an HTTP header name"),
                "the match needs `header`, the name of the header to look at",
            )?;
            let value = self.required_str(
                m,
                &mk.value,
                &format!("{key}.match.value"),
                is_header_value,
                |_| "a header value is visible ASCII, without leading or trailing spaces".into(),
                "the match needs `value`, the header's exact value",
            )?;
            let Some(rev) = &r.revision else {
                return Err(self.err(
                    e,
                    &format!("{key}.revision"),
                    "each route needs `revision`, the revision its requests go to",
                ));
            };
            let Some(idx) = revisions.iter().position(|x| &x.name == rev.get_ref()) else {
                let names: Vec<&str> = revisions.iter().map(|r| r.name.as_str()).collect();
                return Err(self.err(
                    rev,
                    &format!("{key}.revision"),
                    format!(
                        "no revision named \"{}\" (the scenario has: {})",
                        rev.get_ref(),
                        names.join(", ")
                    ),
                ));
            };
            out.push(HeaderRoute {
                header: header.to_ascii_lowercase(),
                value,
                revision: rev.get_ref().clone(),
                revision_index: idx,
            });
        }
        Ok(out)
    }

    /// `[[workload.request_classes]]`: unique names, weights > 0, sendable headers.
    pub(super) fn request_classes(&self, raw: &RawScenario) -> R<Vec<RequestClass>> {
        let Some(list) = raw
            .workload
            .as_ref()
            .and_then(|w| w.get_ref().request_classes.as_ref())
        else {
            return Ok(Vec::new());
        };
        if list.get_ref().is_empty() {
            return Err(self.err(
                list,
                "workload.request_classes",
                "no request classes: list at least one, or leave the key out",
            ));
        }
        let mut out: Vec<RequestClass> = Vec::new();
        for (i, e) in list.get_ref().iter().enumerate() {
            let key = format!("workload.request_classes[{i}]");
            let c = e.get_ref();
            let names = out.iter().map(|o| o.name.as_str());
            let name = self.unique_name(&c.name, &format!("{key}.name"), "class", names)?;
            let weight = self.f64_in(
                &c.weight,
                &format!("{key}.weight"),
                1.0,
                |x| x > 0.0,
                "a weight > 0",
            )?;
            let mut headers = BTreeMap::new();
            if let Some(h) = &c.headers {
                for (k, v) in h.get_ref() {
                    if !is_header_name(k) {
                        return Err(self.err(
                            h,
                            &format!("{key}.headers.{k}"),
                            format!("\"{k}\" is not an HTTP header name"),
                        ));
                    }
                    if !is_header_value(v) {
                        return Err(self.err(
                            h,
                            &format!("{key}.headers.{k}"),
                            "a header value is visible ASCII, without leading or trailing spaces",
                        ));
                    }
                    headers.insert(k.to_ascii_lowercase(), v.clone());
                }
            }
            out.push(RequestClass {
                name,
                weight,
                headers,
            });
        }
        Ok(out)
    }
}
