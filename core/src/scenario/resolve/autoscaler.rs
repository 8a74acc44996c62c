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
                Some(s) if keys::KINDS.contains(&s) => s,
                Some(other) => {
                    return Err(self.err(
                        v,
                        &k("kind"),
                        format!("unknown autoscaler kind \"{other}\": expected {}", kinds()),
                    ));
                }
                None => {
                    return Err(self.err(v, &k("kind"), format!("expected a string: {}", kinds())));
                }
            },
        };
        // A key of another kind's table: say which kind it belongs to.
        let other = |name: &str| {
            let owners = keys::kinds_with(name);
            (!owners.is_empty()).then(|| {
                let owners: Vec<String> = owners.iter().map(|o| format!("\"{o}\"")).collect();
                format!(
                    "`{name}` does not apply to kind = \"{kind}\" (it is a key of kind = {}); \
                     kind = \"{kind}\" takes {}",
                    owners.join(" or "),
                    own_keys(kind)
                )
            })
        };
        match kind {
            "keepalive" => self
                .settings(a, p, &keys::KEEPALIVE_KEYS, &other, keys::check_keepalive)
                .map(AutoscalerSettings::Keepalive),
            "cloud-run" => self
                .settings(a, p, &keys::CLOUD_RUN_KEYS, &other, keys::check_cloud_run)
                .map(AutoscalerSettings::CloudRun),
            "hpa" => self
                .settings(a, p, &keys::HPA_KEYS, &other, keys::check_hpa)
                .map(AutoscalerSettings::Hpa),
            _ => self
                .settings(a, p, &keys::KPA_KEYS, &other, keys::check_kpa)
                .map(AutoscalerSettings::Kpa),
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

/// The kinds, quoted, for messages.
fn kinds() -> String {
    let q: Vec<String> = keys::KINDS.iter().map(|k| format!("\"{k}\"")).collect();
    let (last, rest) = q.split_last().expect("kinds");
    format!("{} or {last}", rest.join(", "))
}

/// The keys kind `kind` takes, for messages.
fn own_keys(kind: &str) -> String {
    match kind {
        "keepalive" => keys::names(&keys::KEEPALIVE_KEYS),
        "cloud-run" => keys::names(&keys::CLOUD_RUN_KEYS),
        "hpa" => keys::names(&keys::HPA_KEYS),
        _ => keys::names(&keys::KPA_KEYS),
    }
}
