//! The keepalive autoscaler (AWS Lambda, SimFaaS): one instance per concurrent request, each
//! removed after `idle_timeout` without work, at most `max_instances`, at least
//! `min_instances` kept (provisioned concurrency).
//!
//! A sans-IO policy. The pool hands out [`KeepaliveId`]s; the driver maps them to its own
//! instances and reports back:
//!
//! | driver event | call | answer |
//! |---|---|---|
//! | run start (and after an instance is lost) | [`Keepalive::ensure_min`] | ids to cold-start without a request |
//! | a request arrives | [`Keepalive::on_request`] | [`Route`]: a warm idle instance, a new instance to cold-start for it, or reject (429) |
//! | a cold start completes | [`Keepalive::on_ready`] | (serving its request, or idle if it was a warm-up) |
//! | a request completes | [`Keepalive::on_done`] | the instance is idle; its idle timer restarts |
//! | [`Keepalive::next_deadline`] is reached | [`Keepalive::expire`] | ids to stop |
//! | an instance dies | [`Keepalive::on_lost`] | |
//!
//! Warm requests go to the most recently used idle instance (Lambda's behaviour, and it lets
//! the least recently used ones expire); expiry takes the longest-idle first. Every call is
//! O(1) except `on_lost` (O(idle)).

use std::collections::VecDeque;

use serde::Serialize;

use crate::autoscaler::config::KeepaliveSettings;
use crate::time::Time;

/// An instance of the keepalive pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KeepaliveId(pub u64);

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Route {
    /// To this idle, warm instance (it is now busy).
    Warm(KeepaliveId),
    /// Start this new instance; the request waits for it and then runs on it.
    ColdStart(KeepaliveId),
    /// At `max_instances` with none idle: reject (429).
    Reject,
}

/// The keepalive pool's state.
#[derive(Clone, Debug)]
pub struct Keepalive {
    settings: KeepaliveSettings,
    next_id: u64,
    /// Idle instances with the time they became idle; front = longest idle.
    idle: VecDeque<(KeepaliveId, Time)>,
    busy: u32,
    starting: u32,
}

impl Keepalive {
    /// An empty pool.
    pub fn new(settings: KeepaliveSettings) -> Keepalive {
        Keepalive {
            settings,
            next_id: 0,
            idle: VecDeque::new(),
            busy: 0,
            starting: 0,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &KeepaliveSettings {
        &self.settings
    }

    /// Instances that exist: starting, busy and idle.
    pub fn instances(&self) -> u32 {
        self.starting + self.busy + self.idle.len() as u32
    }

    /// Idle warm instances.
    pub fn idle(&self) -> u32 {
        self.idle.len() as u32
    }

    /// Instances serving a request.
    pub fn busy(&self) -> u32 {
        self.busy
    }

    /// Instances cold-starting.
    pub fn starting(&self) -> u32 {
        self.starting
    }

    fn new_id(&mut self) -> KeepaliveId {
        let id = KeepaliveId(self.next_id);
        self.next_id += 1;
        id
    }

    fn at_max(&self) -> bool {
        self.settings.max_instances > 0 && self.instances() >= self.settings.max_instances
    }

    /// Instances to cold-start (without a request) so that at least `min_instances` exist.
    /// Report each with [`on_ready`](Self::on_ready)`(…, false)`.
    pub fn ensure_min(&mut self) -> Vec<KeepaliveId> {
        let mut out = Vec::new();
        while self.instances() < self.settings.min_instances && !self.at_max() {
            let id = self.new_id();
            self.starting += 1;
            out.push(id);
        }
        out
    }

    /// A request arrives at `now`.
    pub fn on_request(&mut self, _now: Time) -> Route {
        if let Some((id, _)) = self.idle.pop_back() {
            self.busy += 1;
            return Route::Warm(id);
        }
        if self.at_max() {
            return Route::Reject;
        }
        let id = self.new_id();
        self.starting += 1;
        Route::ColdStart(id)
    }

    /// Instance `id` finished its cold start at `now`: it serves the request it was started
    /// for (`with_request`), or becomes idle (a warm-up from `ensure_min`).
    pub fn on_ready(&mut self, now: Time, id: KeepaliveId, with_request: bool) {
        debug_assert!(self.starting > 0, "ready without a cold start");
        self.starting = self.starting.saturating_sub(1);
        if with_request {
            self.busy += 1;
        } else {
            self.idle.push_back((id, now));
        }
    }

    /// Instance `id` finished its request at `now` and is idle until reused or expired.
    pub fn on_done(&mut self, now: Time, id: KeepaliveId) {
        debug_assert!(self.busy > 0, "done without a request");
        self.busy = self.busy.saturating_sub(1);
        debug_assert!(
            self.idle.back().is_none_or(|&(_, t)| t <= now),
            "time went backwards"
        );
        self.idle.push_back((id, now));
    }

    /// Instance `id` is gone (crashed or stopped by the driver): forget it. `was` says what it
    /// was doing.
    pub fn on_lost(&mut self, id: KeepaliveId, was: LostState) {
        match was {
            LostState::Starting => self.starting = self.starting.saturating_sub(1),
            LostState::Busy => self.busy = self.busy.saturating_sub(1),
            LostState::Idle => self.idle.retain(|&(i, _)| i != id),
        }
    }

    /// When the longest-idle instance expires, if one may (never below `min_instances`).
    pub fn next_deadline(&self) -> Option<Time> {
        if self.instances() <= self.settings.min_instances {
            return None;
        }
        self.idle
            .front()
            .map(|&(_, since)| since.saturating_add(self.settings.idle_timeout))
    }

    /// Removes the instances whose idle timeout has passed at `now` (keeping
    /// `min_instances`), longest idle first, and returns them for the driver to stop.
    pub fn expire(&mut self, now: Time) -> Vec<KeepaliveId> {
        let mut out = Vec::new();
        while let Some(deadline) = self.next_deadline() {
            if deadline > now {
                break;
            }
            if let Some((id, _)) = self.idle.pop_front() {
                out.push(id);
            }
        }
        out
    }
}

/// What a lost instance was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostState {
    /// Cold-starting.
    Starting,
    /// Serving a request.
    Busy,
    /// Idle.
    Idle,
}

#[cfg(test)]
#[path = "tests/keepalive.rs"]
mod tests;
