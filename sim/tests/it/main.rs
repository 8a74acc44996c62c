//! The simulator checked against queueing theory, Knative's timelines and its own invariants.

mod cluster;
mod corpus;
mod determinism;
mod fleet;
mod fleet_cluster;
mod idle;
mod keepalive;
mod kpa_timelines;
mod queueing;
mod support;
mod swarm;
