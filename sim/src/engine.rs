//! The event queue: a 4-ary heap keyed by (time, insertion sequence) packed into one `u128`.
//!
//! The heap holds every in-flight completion (thousands in a busy scenario), so pops dominate
//! the simulator's profile. A 4-ary heap halves the depth of a binary one, and one integer
//! comparison per step replaces a tuple comparison (measured with callgrind on the steady
//! 100-instance scenario: see BENCHMARKS.md). Keys are unique, so equal times pop in insertion
//! order (FIFO).

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
    seq: u64,
    last: Time,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: QuaternaryHeap::new(),
            seq: 0,
            last: Time::ZERO,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `ev` at `at` (not before the last event popped).
    #[inline]
    pub fn push(&mut self, at: Time, ev: E) {
        assert!(
            at >= self.last,
            "event scheduled in the past: {at} < {}",
            self.last
        );
        let seq = self.seq;
        self.seq += 1;
        let key = (u128::from(at.0) << 64) | u128::from(seq);
        self.heap.push(Entry {
            key: Reverse(key),
            ev,
        });
    }

    /// Removes and returns the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        self.heap.pop().map(
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

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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

    proptest! {
        /// Interleaved pushes (never before the last pop) and pops come out sorted by time, then
        /// by insertion, exactly like a reference sorted list.
        #[test]
        fn matches_a_sorted_reference(ops in proptest::collection::vec((0u64..20, prop::bool::ANY), 0..300)) {
            let mut q = EventQueue::default();
            let mut reference: Vec<(u64, usize)> = Vec::new();
            let mut now = 0u64;
            for (i, (dt, pop)) in ops.into_iter().enumerate() {
                if pop {
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    let got = q.pop().map(|(t, e)| (t.0, e));
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t;
                    }
                } else {
                    q.push(Time(now + dt), i);
                    reference.push((now + dt, i));
                }
            }
        }
    }
}
