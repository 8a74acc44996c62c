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

use std::cmp::Reverse;

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

/// Pending events in (time, insertion) order. Scheduling before the last popped time is a bug
/// and panics.
pub struct EventQueue<E> {
    heap: QuaternaryHeap<Entry<E>>,
    lane: Option<Entry<E>>,
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

    /// Removes and returns the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        let from_lane = match (&self.lane, self.heap.peek()) {
            (Some(l), Some(h)) => l.key > h.key,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let next = if from_lane {
            self.lane.take()
        } else {
            self.heap.pop()
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
        let k = match (l, h) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(Time((k >> 64) as u64))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + usize::from(self.lane.is_some())
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
        fn matches_a_sorted_reference(ops in proptest::collection::vec((0u64..20, 0u8..3), 0..300)) {
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
                } else {
                    q.push(Time(now + dt), i);
                    reference.push((now + dt, i));
                }
            }
        }
    }
}
