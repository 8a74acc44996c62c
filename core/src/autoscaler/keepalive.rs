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
//! Which idle instance takes a request is `idle_choice`: the most recently freed one (the
//! default, Lambda's behaviour, which lets the least recently used ones expire), the newest
//! created (SimFaaS) or the first created (DSLab FaaS). With `keepalive_reset` (the default) an
//! instance's idle timer restarts every time it finishes a request; without it the timer starts
//! once, when the instance first goes idle (DSLab FaaS's default). Expiry takes the earliest
//! deadline first. With the defaults every call is O(1) except `on_lost` (O(idle)); the other
//! rules keep the idle instances in two ordered sets (O(log idle)).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::autoscaler::config::{IdleChoice, KeepaliveSettings};
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

/// The idle instances, in the order the rule needs.
#[derive(Clone, Debug)]
enum Idle {
    /// `last-freed` with a sliding timer: (id, idle since), front = longest idle, back = most
    /// recently freed, which is also the expiry order.
    Stack(VecDeque<(KeepaliveId, Time)>),
    /// Any other rule: by choice key (the largest is taken) and by deadline.
    Ordered {
        by_choice: BTreeMap<u64, (KeepaliveId, Time)>,
        by_deadline: BTreeSet<(Time, u64)>,
    },
}

/// The keepalive pool's state.
#[derive(Clone, Debug)]
pub struct Keepalive {
    settings: KeepaliveSettings,
    next_id: u64,
    idle: Idle,
    /// With `keepalive_reset = false`: each instance's fixed deadline, by id (`Time::MAX`
    /// until it first goes idle).
    fixed: Vec<Time>,
    /// How many instances have been freed (the choice key of `last-freed`).
    freed: u64,
    busy: u32,
    starting: u32,
}

impl Keepalive {
    /// An empty pool.
    pub fn new(settings: KeepaliveSettings) -> Keepalive {
        let idle = if settings.idle_choice == IdleChoice::LastFreed && settings.keepalive_reset {
            Idle::Stack(VecDeque::new())
        } else {
            Idle::Ordered {
                by_choice: BTreeMap::new(),
                by_deadline: BTreeSet::new(),
            }
        };
        Keepalive {
            settings,
            next_id: 0,
            idle,
            fixed: Vec::new(),
            freed: 0,
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
        self.starting + self.busy + self.idle()
    }

    /// Idle warm instances.
    pub fn idle(&self) -> u32 {
        match &self.idle {
            Idle::Stack(q) => q.len() as u32,
            Idle::Ordered { by_choice, .. } => by_choice.len() as u32,
        }
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
        if !self.settings.keepalive_reset {
            self.fixed.push(Time::MAX);
        }
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

    /// Takes the idle instance the rule picks.
    fn take_idle(&mut self) -> Option<KeepaliveId> {
        match &mut self.idle {
            Idle::Stack(q) => q.pop_back().map(|(id, _)| id),
            Idle::Ordered {
                by_choice,
                by_deadline,
            } => {
                let (key, (id, deadline)) = match self.settings.idle_choice {
                    IdleChoice::FirstFree => by_choice.pop_first()?,
                    IdleChoice::LastFreed | IdleChoice::NewestCreated => by_choice.pop_last()?,
                };
                by_deadline.remove(&(deadline, key));
                Some(id)
            }
        }
    }

    /// Instance `id` becomes idle at `now`.
    fn push_idle(&mut self, now: Time, id: KeepaliveId) {
        match &mut self.idle {
            Idle::Stack(q) => {
                debug_assert!(
                    q.back().is_none_or(|&(_, t)| t <= now),
                    "time went backwards"
                );
                q.push_back((id, now));
            }
            Idle::Ordered {
                by_choice,
                by_deadline,
            } => {
                let timeout = self.settings.idle_timeout;
                let deadline = if self.settings.keepalive_reset {
                    now.saturating_add(timeout)
                } else {
                    let slot = &mut self.fixed[id.0 as usize];
                    if *slot == Time::MAX {
                        *slot = now.saturating_add(timeout);
                    }
                    // Past its deadline already (it was busy then): it goes at once.
                    (*slot).max(now)
                };
                let key = match self.settings.idle_choice {
                    IdleChoice::LastFreed => self.freed,
                    IdleChoice::NewestCreated | IdleChoice::FirstFree => id.0,
                };
                self.freed += 1;
                by_choice.insert(key, (id, deadline));
                by_deadline.insert((deadline, key));
            }
        }
    }

    /// A request arrives at `now`.
    pub fn on_request(&mut self, _now: Time) -> Route {
        if let Some(id) = self.take_idle() {
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
            self.push_idle(now, id);
        }
    }

    /// Instance `id` finished its request at `now` and is idle until reused or expired.
    pub fn on_done(&mut self, now: Time, id: KeepaliveId) {
        debug_assert!(self.busy > 0, "done without a request");
        self.busy = self.busy.saturating_sub(1);
        self.push_idle(now, id);
    }

    /// Instance `id` is gone (crashed or stopped by the driver): forget it. `was` says what it
    /// was doing.
    pub fn on_lost(&mut self, id: KeepaliveId, was: LostState) {
        match was {
            LostState::Starting => self.starting = self.starting.saturating_sub(1),
            LostState::Busy => self.busy = self.busy.saturating_sub(1),
            LostState::Idle => match &mut self.idle {
                Idle::Stack(q) => q.retain(|&(i, _)| i != id),
                Idle::Ordered {
                    by_choice,
                    by_deadline,
                } => {
                    if let Some((&key, &(_, deadline))) =
                        by_choice.iter().find(|(_, (i, _))| *i == id)
                    {
                        by_choice.remove(&key);
                        by_deadline.remove(&(deadline, key));
                    }
                }
            },
        }
    }

    /// When the next idle instance expires, if one may (never below `min_instances`).
    pub fn next_deadline(&self) -> Option<Time> {
        if self.instances() <= self.settings.min_instances {
            return None;
        }
        match &self.idle {
            Idle::Stack(q) => q
                .front()
                .map(|&(_, since)| since.saturating_add(self.settings.idle_timeout)),
            Idle::Ordered { by_deadline, .. } => by_deadline.first().map(|&(t, _)| t),
        }
    }

    /// Removes the instances whose idle timeout has passed at `now` (keeping
    /// `min_instances`), earliest deadline first, and returns them for the driver to stop.
    pub fn expire(&mut self, now: Time) -> Vec<KeepaliveId> {
        let mut out = Vec::new();
        while let Some(deadline) = self.next_deadline() {
            if deadline > now {
                break;
            }
            match &mut self.idle {
                Idle::Stack(q) => {
                    if let Some((id, _)) = q.pop_front() {
                        out.push(id);
                    }
                }
                Idle::Ordered {
                    by_choice,
                    by_deadline,
                } => {
                    if let Some((_, key)) = by_deadline.pop_first()
                        && let Some((id, _)) = by_choice.remove(&key)
                    {
                        out.push(id);
                    }
                }
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
