//! Workload models shared by the simulator and the load generator: arrival processes that
//! produce intended send offsets, and distributions of service and cold-start times. All are
//! pure seeded generators: the same spec and generator state give the same sequence.

pub mod arrival;
pub mod classes;
pub mod dist;
pub mod fleet_trace;
pub mod spec;

pub use arrival::{Arrivals, expected_count, rate_at};
pub use classes::{CLASS_STREAM, ClassPicker};
pub use dist::Sampler;
pub use spec::{ArrivalSpec, DistSpec, MixturePart, Phase, WorkloadSpec};
