//! The event queue: a 4-ary heap keyed by (time, insertion sequence) packed into one `u128`.
//!
//! The heap holds every in-flight completion (thousands in a busy scenario), so pops dominate
//! the simulator's profile. A 4-ary heap halves the depth of a binary one, and one integer
//! comparison per step replaces a tuple comparison (measured with callgrind on the steady
//! 100-instance scenario: see BENCHMARKS.md). Keys are unique, so equal times pop in insertion
//! order (FIFO).
//!
//! One source of events needs no heap at all: the arrival generator, which has exactly one
//! event pending at a time (the next arrival is scheduled when the previous one is processed).
//! It waits in a single-slot *lane* beside the heap, keyed like any other event, and `pop`
//! takes whichever of the lane and the heap's top comes first. That halves the heap's traffic
//! in a busy scenario (every request is one arrival and one completion) without changing the
//! order of anything.
//!
//! Another needs no heap either: the services' whole-second timers. Each is scheduled one
//! second ahead as the previous one is processed, so they are scheduled in order of time, and
//! they wait in a FIFO beside the heap ([`EventQueue::push_in_order`]); one scheduled before
//! the FIFO's last goes to the heap instead. Every event keeps its (time, insertion) key, and
//! `pop` takes the smallest of the lane, the FIFO's front and the heap's top, so the order of
//! events is exactly the heap's alone. In a fleet of a thousand services this takes the
//! busy services' seconds (a third of the events) out of the heap.

use std::cmp::Reverse;
use std::collections::VecDeque;

use dary_heap::QuaternaryHeap;
use scalelab_core::Time;

struct Entry<E> {
    key: Reverse<u128>,
    ev: E,
}
impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

/// Where the next event comes from.
enum Src {
    Heap,
    Lane,
    Fifo,
}

/// Pending events in (time, insertion) order. Scheduling before the last popped time is a bug
/// and panics.
pub struct EventQueue<E> {
    heap: QuaternaryHeap<Entry<E>>,
    lane: Option<Entry<E>>,
    /// Events scheduled in order of their keys (see [`push_in_order`](Self::push_in_order)).
    fifo: VecDeque<Entry<E>>,
    seq: u64,
    /// The sequence of [`push_first`](Self::push_first)'s events, below every `seq`.
    first_seq: u64,
    last: Time,
}

/// Where ordinary insertion sequence numbers start: the ones below are
/// [`EventQueue::push_first`]'s, so those events come first among the events of their instant.
const ORDINARY: u64 = 1 << 63;

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: QuaternaryHeap::new(),
            lane: None,
            fifo: VecDeque::new(),
            seq: ORDINARY,
            first_seq: 0,
            last: Time::ZERO,
        }
    }
}

impl<E> EventQueue<E> {
    #[inline]
    fn entry(&mut self, at: Time, ev: E) -> Entry<E> {
        assert!(
            at >= self.last,
            "event scheduled in the past: {at} < {}",
            self.last
        );
        let seq = self.seq;
        self.seq += 1;
        let key = (u128::from(at.0) << 64) | u128::from(seq);
        Entry {
            key: Reverse(key),
            ev,
        }
    }

    /// Schedules `ev` at `at` (not before the last event popped).
    #[inline]
    pub fn push(&mut self, at: Time, ev: E) {
        let e = self.entry(at, ev);
        self.heap.push(e);
    }

    /// Schedules `ev` at `at` before every event of the same instant scheduled with
    /// [`push`](Self::push) or [`push_lane`](Self::push_lane), whenever they were scheduled
    /// (among themselves, such events keep their insertion order). For a source whose events
    /// must not take their place among the others by when they were generated (a trace
    /// shared by many services).
    #[inline]
    pub fn push_first(&mut self, at: Time, ev: E) {
        assert!(
            at >= self.last,
            "event scheduled in the past: {at} < {}",
            self.last
        );
        let seq = self.first_seq;
        self.first_seq += 1;
        debug_assert!(seq < ORDINARY);
        let key = (u128::from(at.0) << 64) | u128::from(seq);
        self.heap.push(Entry {
            key: Reverse(key),
            ev,
        });
    }

    /// Schedules `ev` at `at` in the lane, the single slot for a source that has at most one
    /// event pending at a time. It takes its place in (time, insertion) order exactly as
    /// [`push`](Self::push) would. Panics if the lane is occupied.
    #[inline]
    pub fn push_lane(&mut self, at: Time, ev: E) {
        assert!(self.lane.is_none(), "the lane holds an event already");
        let e = self.entry(at, ev);
        self.lane = Some(e);
    }

    /// Schedules `ev` at `at` like [`push`](Self::push) (the same key, so the same place in
    /// the order), for a source whose events are mostly scheduled in order of time: it waits
    /// in the FIFO when it is not before the FIFO's last event, in the heap otherwise.
    #[inline]
    pub fn push_in_order(&mut self, at: Time, ev: E) {
        let e = self.entry(at, ev);
        match self.fifo.back() {
            // Keys are (time, sequence) and sequences grow: a later-or-equal time is a
            // larger key.
            Some(b) if b.key < e.key => self.heap.push(e),
            _ => self.fifo.push_back(e),
        }
    }

    /// Removes and returns the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        // The smallest (time, sequence) of the three sources (keys are stored `Reverse`d).
        let mut src = Src::Heap;
        let mut best = self.heap.peek().map(|e| e.key.0);
        if let Some(l) = &self.lane
            && best.is_none_or(|b| l.key.0 < b)
        {
            src = Src::Lane;
            best = Some(l.key.0);
        }
        if let Some(f) = self.fifo.front()
            && best.is_none_or(|b| f.key.0 < b)
        {
            src = Src::Fifo;
        }
        let next = match src {
            Src::Heap => self.heap.pop(),
            Src::Lane => self.lane.take(),
            Src::Fifo => self.fifo.pop_front(),
        };
        next.map(
            |Entry {
                 key: Reverse(k),
                 ev,
             }| {
                let t = (k >> 64) as u64;
                self.last = Time(t);
                (Time(t), ev)
            },
        )
    }

    /// The time of the next event, if any (without removing it).
    #[inline]
    pub fn peek_time(&self) -> Option<Time> {
        let l = self.lane.as_ref().map(|e| e.key.0);
        let h = self.heap.peek().map(|e| e.key.0);
        let f = self.fifo.front().map(|e| e.key.0);
        let k = [l, h, f].into_iter().flatten().min()?;
        Some(Time((k >> 64) as u64))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.fifo.len() + usize::from(self.lane.is_some())
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::default();
        q.push(Time::from_secs(2), 'c');
        q.push(Time::from_secs(1), 'a');
        q.push(Time::from_secs(1), 'b');
        q.push(Time::from_secs(2), 'd');
        assert_eq!(q.pop(), Some((Time::from_secs(1), 'a')));
        q.push(Time::from_secs(1), 'e');
        q.push(Time::from_secs(2), 'f');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['b', 'e', 'c', 'd', 'f']);
    }

    #[test]
    fn push_first_comes_before_the_instant_s_other_events() {
        let mut q = EventQueue::default();
        q.push(Time::from_secs(1), 'a');
        q.push_lane(Time::from_secs(1), 'b');
        q.push_first(Time::from_secs(1), 'c');
        q.push_first(Time::from_secs(1), 'd');
        q.push_first(Time::from_secs(0), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['e', 'c', 'd', 'a', 'b']);
    }

    #[test]
    fn in_order_events_keep_their_place() {
        let mut q = EventQueue::default();
        q.push_in_order(Time::from_secs(1), 'a');
        q.push(Time::from_secs(1), 'b');
        q.push_in_order(Time::from_secs(2), 'c');
        // Before the FIFO's last: to the heap, same place.
        q.push_in_order(Time::from_secs(1), 'd');
        q.push_lane(Time::from_secs(2), 'e');
        q.push_in_order(Time::from_secs(2), 'f');
        assert_eq!(q.len(), 6);
        assert_eq!(q.peek_time(), Some(Time::from_secs(1)));
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['a', 'b', 'd', 'c', 'e', 'f']);
    }

    #[test]
    fn the_lane_keeps_its_place_in_insertion_order() {
        let mut q = EventQueue::default();
        q.push(Time::from_secs(1), 'a');
        q.push_lane(Time::from_secs(1), 'b');
        q.push(Time::from_secs(1), 'c');
        q.push(Time::from_secs(3), 'e');
        assert_eq!(q.len(), 4);
        assert_eq!(q.pop(), Some((Time::from_secs(1), 'a')));
        assert_eq!(q.pop(), Some((Time::from_secs(1), 'b')));
        q.push_lane(Time::from_secs(2), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['c', 'd', 'e']);
        assert!(q.is_empty());
        assert_eq!(q.peek_time(), None);
        q.push(Time::from_secs(5), 'f');
        assert_eq!(q.peek_time(), Some(Time::from_secs(5)));
        q.push_lane(Time::from_secs(4), 'g');
        assert_eq!(q.peek_time(), Some(Time::from_secs(4)));
    }

    proptest! {
        /// Interleaved pushes (never before the last pop) and pops come out sorted by time, then
        /// by insertion, exactly like a reference sorted list.
        #[test]
        fn matches_a_sorted_reference(ops in proptest::collection::vec((0u64..20, 0u8..5), 0..300)) {
            let mut q = EventQueue::default();
            let mut reference: Vec<(u64, usize)> = Vec::new();
            let mut now = 0u64;
            // The lane's event, by its index (at most one pending).
            let mut in_lane: Option<usize> = None;
            for (i, (dt, what)) in ops.into_iter().enumerate() {
                if what == 0 {
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    let got = q.pop().map(|(t, e)| (t.0, e));
                    prop_assert_eq!(got, want);
                    if let Some((t, e)) = got {
                        now = t;
                        if in_lane == Some(e) {
                            in_lane = None;
                        }
                    }
                } else if what == 1 && in_lane.is_none() {
                    q.push_lane(Time(now + dt), i);
                    in_lane = Some(i);
                    reference.push((now + dt, i));
                } else if what == 3 {
                    // Mostly in order (a second ahead of now), sometimes not.
                    let t = if dt < 15 { now + 1 + dt / 8 } else { now + dt % 3 };
                    q.push_in_order(Time(t), i);
                    reference.push((t, i));
                } else {
                    q.push(Time(now + dt), i);
                    reference.push((now + dt, i));
                }
            }
        }
    }
}
