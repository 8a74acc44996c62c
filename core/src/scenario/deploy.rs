//! Deploys as events, resolved: traffic changes over time (`[[rollouts]]`), header routes tried
//! before the split (`[[routes]]`), and the classes of requests that carry headers
//! (`[[workload.request_classes]]`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// One `[[rollouts]]` entry: at `at`, move traffic to `traffic` over `duration` (Knative's
/// `serving.knative.dev/rollout-duration`; zero switches at once). The move starts once every
/// revision gaining traffic is Ready.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    /// When the change is asked for (scenario time).
    #[serde(with = "crate::duration::serde_duration")]
    pub at: Duration,
    /// The split to reach, one percentage per revision, in the order of the scenario's
    /// revisions (revisions the entry does not list get 0); sums to 100.
    #[serde(serialize_with = "traffic_map")]
    pub traffic: Vec<(String, f64)>,
    /// How long the move takes (0: at once).
    #[serde(with = "crate::duration::serde_duration")]
    pub duration: Duration,
}

impl Rollout {
    /// The target percentages, one per revision in the scenario's order.
    pub fn percents(&self) -> Vec<f64> {
        self.traffic.iter().map(|(_, p)| *p).collect()
    }
}

fn traffic_map<S: serde::Serializer>(t: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
    let m: BTreeMap<&str, f64> = t
        .iter()
        .filter(|(_, p)| *p > 0.0)
        .map(|(n, p)| (n.as_str(), *p))
        .collect();
    m.serialize(s)
}

/// One `[[routes]]` entry: requests whose header `header` is exactly `value` go to `revision`
/// (once it is Ready), before the percentage split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeaderRoute {
    /// The header's name, lowercase (HTTP header names are case-insensitive).
    pub header: String,
    /// The value it must have, exactly.
    pub value: String,
    /// The revision's name.
    pub revision: String,
    /// The revision's index in the scenario's revisions.
    #[serde(skip)]
    pub revision_index: usize,
}

/// One `[[workload.request_classes]]` entry: a share of the requests that carry `headers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestClass {
    /// Its name.
    pub name: String,
    /// Relative weight (> 0): a request is of this class with probability weight / Σ weights.
    pub weight: f64,
    /// Headers its requests carry (names lowercase).
    pub headers: BTreeMap<String, String>,
}

impl RequestClass {
    /// The value of header `name` (lowercase) on this class's requests.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}
