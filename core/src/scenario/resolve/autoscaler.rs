//! `[autoscaler]`, through the key table ([`crate::autoscaler::keys`]).

use super::{R, Resolver};
use crate::autoscaler::AutoscalerSettings;
use crate::autoscaler::keys;
use crate::scenario::ScenarioError;
use crate::scenario::raw::RawAutoscaler;

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
            let other = |name: &str| {
                keys::keepalive(name).map(|_| {
                    format!(
                        "`{name}` applies to kind = \"keepalive\" only (add kind = \"keepalive\" \
                         to this table)"
                    )
                })
            };
            self.settings(a, p, &keys::KPA_KEYS, &other, keys::check_kpa)
                .map(AutoscalerSettings::Kpa)
        } else {
            let other = |name: &str| {
                keys::kpa(name).map(|_| {
                    format!(
                        "`{name}` is a KPA key and does not apply to kind = \"keepalive\" (it \
                         takes {})",
                        keys::names(&keys::KEEPALIVE_KEYS)
                    )
                })
            };
            self.settings(a, p, &keys::KEEPALIVE_KEYS, &other, keys::check_keepalive)
                .map(AutoscalerSettings::Keepalive)
        }
    }

    /// The settings of one kind: each key of `a` parsed, range-checked and stored through
    /// `table`; a key of the other kind refused with the message `other` gives, any other
    /// unknown key as such; then the cross-field check.
    fn settings<T: Default>(
        &self,
        a: &RawAutoscaler,
        p: &str,
        table: &[keys::Key<T>],
        other: &dyn Fn(&str) -> Option<String>,
        check: fn(&T) -> Result<(), (&'static str, keys::Rejected)>,
    ) -> R<T> {
        let k = |name: &str| format!("{p}.{name}");
        let mut s = T::default();
        for (key, v) in &a.0 {
            let name = key.get_ref().as_str();
            if name == "kind" {
                continue;
            }
            if let Some(row) = table.iter().find(|r| r.key == name) {
                row.parse(v.get_ref().clone())
                    .and_then(|val| row.set(&mut s, val))
                    .map_err(|e| self.err(v, &k(name), e.0))?;
            } else if let Some(msg) = other(name) {
                return Err(self.err(key, &k(name), msg));
            } else {
                return Err(self.err(key, &k(name), keys::unknown(name, table)));
            }
        }
        check(&s).map_err(|(name, e)| self.blame(a, p, name, e.0))?;
        Ok(s)
    }

    /// An error about `name` in table `a` (at its value, or the table when it was not given).
    fn blame(&self, a: &RawAutoscaler, p: &str, name: &str, msg: String) -> ScenarioError {
        let span = a.get(name).map(|(_, v)| v.span());
        ScenarioError::at(self.file, self.src, span, Some(format!("{p}.{name}")), msg)
    }
}
