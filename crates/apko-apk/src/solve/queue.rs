//! The solver's two work lists, indexed so that each operation is logarithmic.
//!
//! apk-tools keeps the names still to decide in a linked list (new names at the front) and
//! scans it whole to pick the next one: the first name, in list order, that is ready (its
//! reverse dependencies are done, it is required and it has a single option), else the first
//! name with the greatest dequeue key. That scan makes solving quadratic on long chains and wide
//! worlds. [`Unresolved`] gives the same answer from two ordered sets: a name's list position is
//! a sequence number that decreases with every insertion (so the front has the smallest), and
//! the solver re-indexes a name whenever a field that the choice reads may have changed.
//! [`Dirty`] is apk's FIFO of names to reconsider, with removal in constant time (a removed
//! entry is skipped when it reaches the front).

use super::db::NameId;
use std::cmp::Reverse;
use std::collections::{BTreeSet, VecDeque};

/// The part of a name's state that orders it for decision (apk 2.14's `dequeue_less`, greater is
/// decided first): solver flags set on the name, lower priority, longer dependency chain, required.
pub(crate) type DequeueKey = (bool, Reverse<u8>, u32, bool);

/// Where a name sits in [`Unresolved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    seq: u64,
    ready: bool,
    key: DequeueKey,
}

/// The unresolved names: list order plus the two indexes the choice of the next name needs.
#[derive(Debug)]
pub(crate) struct Unresolved {
    /// Decreases with every insertion: the front of apk's list has the smallest number.
    next_seq: u64,
    /// Ready names by list position.
    ready: BTreeSet<(u64, NameId)>,
    /// Every name by decreasing key, then list position.
    by_key: BTreeSet<(Reverse<DequeueKey>, u64, NameId)>,
    slots: Vec<Option<Slot>>,
}

impl Unresolved {
    pub(crate) fn new(names: usize) -> Self {
        Unresolved {
            next_seq: u64::MAX,
            ready: BTreeSet::new(),
            by_key: BTreeSet::new(),
            slots: vec![None; names],
        }
    }

    pub(crate) fn contains(&self, n: NameId) -> bool {
        self.slots[n].is_some()
    }

    /// Puts `n` at the front of the list.
    pub(crate) fn push_front(&mut self, n: NameId, ready: bool, key: DequeueKey) {
        self.remove(n);
        let seq = self.next_seq;
        self.next_seq -= 1;
        self.insert(n, Slot { seq, ready, key });
    }

    /// Records a change of `n`'s fields, keeping its list position.
    pub(crate) fn update(&mut self, n: NameId, ready: bool, key: DequeueKey) {
        let Some(old) = self.slots[n] else { return };
        let new = Slot { ready, key, ..old };
        if new != old {
            self.remove(n);
            self.insert(n, new);
        }
    }

    pub(crate) fn remove(&mut self, n: NameId) {
        if let Some(s) = self.slots[n].take() {
            if s.ready {
                self.ready.remove(&(s.seq, n));
            }
            self.by_key.remove(&(Reverse(s.key), s.seq, n));
        }
    }

    fn insert(&mut self, n: NameId, s: Slot) {
        if s.ready {
            self.ready.insert((s.seq, n));
        }
        self.by_key.insert((Reverse(s.key), s.seq, n));
        self.slots[n] = Some(s);
    }

    /// The name apk would pick: the first ready one, else the first with the greatest key.
    pub(crate) fn next(&self) -> Option<NameId> {
        self.ready
            .first()
            .map(|&(_, n)| n)
            .or_else(|| self.by_key.first().map(|&(_, _, n)| n))
    }

    /// The names in list order (front first), for checking against apk's scan in tests.
    #[cfg(debug_assertions)]
    pub(crate) fn in_list_order(&self) -> Vec<NameId> {
        let mut v: Vec<(u64, NameId)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(n, s)| s.map(|s| (s.seq, n)))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, n)| n).collect()
    }
}

/// apk's FIFO of names to reconsider, with constant-time removal.
#[derive(Debug)]
pub(crate) struct Dirty {
    queue: VecDeque<(NameId, u64)>,
    /// The generation of each name's live entry; an entry of another generation is stale.
    live: Vec<Option<u64>>,
    generation: u64,
}

impl Dirty {
    pub(crate) fn new(names: usize) -> Self {
        Dirty {
            queue: VecDeque::new(),
            live: vec![None; names],
            generation: 0,
        }
    }

    #[cfg(test)]
    fn contains(&self, n: NameId) -> bool {
        self.live[n].is_some()
    }

    pub(crate) fn push_back(&mut self, n: NameId) {
        if self.live[n].is_none() {
            self.generation += 1;
            self.live[n] = Some(self.generation);
            self.queue.push_back((n, self.generation));
        }
    }

    pub(crate) fn remove(&mut self, n: NameId) {
        self.live[n] = None;
    }

    pub(crate) fn pop_front(&mut self) -> Option<NameId> {
        while let Some((n, g)) = self.queue.pop_front() {
            if self.live[n] == Some(g) {
                self.live[n] = None;
                return Some(n);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K0: DequeueKey = (false, Reverse(0), 0, false);
    const K1: DequeueKey = (false, Reverse(0), 1, true);

    #[test]
    fn the_first_ready_name_wins_then_the_first_greatest_key() {
        let mut u = Unresolved::new(4);
        u.push_front(0, false, K1);
        u.push_front(1, false, K1);
        u.push_front(2, false, K0);
        // List: 2 1 0. No ready name: first of the greatest key is 1.
        assert_eq!(u.next(), Some(1));
        u.update(0, true, K0);
        assert_eq!(u.next(), Some(0));
        u.push_front(3, true, K0);
        assert_eq!(u.next(), Some(3));
        u.remove(3);
        u.remove(0);
        assert_eq!(u.next(), Some(1));
        assert_eq!(u.in_list_order(), [2, 1]);
        // Re-inserting moves a name to the front.
        u.push_front(1, false, K1);
        u.push_front(0, false, K1);
        assert_eq!(u.next(), Some(0));
        assert_eq!(u.in_list_order(), [0, 1, 2]);
    }

    #[test]
    fn dirty_is_first_in_first_out_and_skips_removed_entries() {
        let mut d = Dirty::new(3);
        d.push_back(0);
        d.push_back(1);
        d.push_back(0);
        d.remove(0);
        d.push_back(2);
        d.push_back(0);
        assert!(d.contains(0));
        assert_eq!(d.pop_front(), Some(1));
        assert_eq!(d.pop_front(), Some(2));
        assert_eq!(d.pop_front(), Some(0));
        assert_eq!(d.pop_front(), None);
    }
}
