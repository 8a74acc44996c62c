//! `[autoscaler]`, through the key table ([`crate::autoscaler::keys`]).

use super::{R, Resolver};
use crate::autoscaler::keys;
use crate::autoscaler::{AutoscalerSettings, KeepaliveSettings, KpaSettings};
use crate::scenario::ScenarioError;
use crate::scenario::raw::{RawAutoscaler, S};

impl Resolver<'_> {
    /// `[autoscaler]` through the key table: each key parsed, range-checked and stored, keys of
    /// the other kind and unknown keys refused, then the cross-field checks.
    pub(super) fn autoscaler(&self, a: &RawAutoscaler, p: &str) -> R<AutoscalerSettings> {
        let k = |name: &str| format!("{p}.{name}");
        let kind = match a.get("kind") {
            None => "kpa",
            Some((_, v)) => match v.get_ref().as_str() {
                Some(s @ ("kpa" | "keepalive")) => s,
                Some(other) => {
                    return Err(self.err(
                        v,
                        &k("kind"),
                        format!(
                            "unknown autoscaler kind \"{other}\": expected \"kpa\" or \"keepalive\""
                        ),
                    ));
                }
                None => {
                    return Err(self.err(
                        v,
                        &k("kind"),
                        "expected a string: \"kpa\" or \"keepalive\"",
                    ));
                }
            },
        };
        if kind == "kpa" {
            let mut s = KpaSettings::default();
            for (key, v) in &a.0 {
                let name = key.get_ref().as_str();
                if name == "kind" {
                    continue;
                }
                if let Some(row) = keys::kpa(name) {
                    let val = row
                        .parse(v.get_ref().clone())
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                    row.set(&mut s, val)
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                } else if keys::keepalive(name).is_some() {
                    return Err(self.err(
                        key,
                        &k(name),
                        format!(
                            "`{name}` applies to kind = \"keepalive\" only (add kind = \"keepalive\" \
                             to this table)"
                        ),
                    ));
                } else {
                    return Err(self.unknown_key(key, &k(name), &keys::KPA_KEYS));
                }
            }
            if let Err((name, e)) = keys::check_kpa(&s) {
                return Err(self.blame(a, p, name, e.0));
            }
            Ok(AutoscalerSettings::Kpa(s))
        } else {
            let mut s = KeepaliveSettings::default();
            for (key, v) in &a.0 {
                let name = key.get_ref().as_str();
                if name == "kind" {
                    continue;
                }
                if let Some(row) = keys::keepalive(name) {
                    let val = row
                        .parse(v.get_ref().clone())
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                    row.set(&mut s, val)
                        .map_err(|e| self.err(v, &k(name), e.0))?;
                } else if keys::kpa(name).is_some() {
                    return Err(self.err(
                        key,
                        &k(name),
                        format!(
                            "`{name}` is a KPA key and does not apply to kind = \"keepalive\" \
                             (it takes {})",
                            keys::names(&keys::KEEPALIVE_KEYS)
                        ),
                    ));
                } else {
                    return Err(self.unknown_key(key, &k(name), &keys::KEEPALIVE_KEYS));
                }
            }
            if let Err((name, e)) = keys::check_keepalive(&s) {
                return Err(self.blame(a, p, name, e.0));
            }
            Ok(AutoscalerSettings::Keepalive(s))
        }
    }

    pub(super) fn unknown_key<T>(
        &self,
        key: &S<String>,
        path: &str,
        table: &[keys::Key<T>],
    ) -> ScenarioError {
        self.err(key, path, keys::unknown(key.get_ref(), table))
    }

    /// An error about `name` in table `a` (at its value, or the table when it was not given).
    pub(super) fn blame(
        &self,
        a: &RawAutoscaler,
        p: &str,
        name: &str,
        msg: String,
    ) -> ScenarioError {
        let span = a.get(name).map(|(_, v)| v.span());
        ScenarioError::at(self.file, self.src, span, Some(format!("{p}.{name}")), msg)
    }
}
