//! Autoscalers: Knative's KPA (metric windows, decider, scaler gating) and the keepalive
//! autoscaler. Sans-IO: every entry point takes `now` and returns a decision.

pub mod config;

pub use config::{Aggregation, AutoscalerSettings, KeepaliveSettings, KpaSettings, Metric};
