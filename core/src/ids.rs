//! Typed ids of the platform's arenas: requests, instances and revisions.
//!
//! Each id is an index into a `Vec` the platform owns ([`crate::platform::Platform`]); the
//! types keep a request id from being used as an instance id and say what a number means in
//! a signature. Request slots are reused once a request is answered, so a [`ReqId`] carries
//! the slot's generation too: an id kept by a driver after its request ended (a timer that
//! fires late, a completion racing a timeout) no longer matches, and the platform ignores it.

use std::fmt;

/// A request: its slot in the request arena and the slot's generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReqId {
    slot: u32,
    generation: u32,
}

impl ReqId {
    /// The request in `slot` at `generation`.
    pub const fn new(slot: u32, generation: u32) -> ReqId {
        ReqId { slot, generation }
    }

    /// The arena slot.
    pub const fn slot(self) -> u32 {
        self.slot
    }

    /// The arena slot as an index.
    pub const fn index(self) -> usize {
        self.slot as usize
    }

    /// The slot's generation when this request held it.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Display for ReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}.{}", self.slot, self.generation)
    }
}

/// An instance: dense from 0 in creation order, unique in a run (instances are never
/// renumbered; the number also names the instance in events, billing and response headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstId(pub u32);

impl InstId {
    /// The arena index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The number used in events and billing.
    pub const fn number(self) -> u64 {
        self.0 as u64
    }
}

impl fmt::Display for InstId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A revision: its position among the scenario's revisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RevId(pub u16);

impl RevId {
    /// The index in the scenario's revisions.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for RevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
