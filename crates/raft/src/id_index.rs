//! Finding a proposal id among many: the leader's log must recognise any id it holds, so that a retried
//! proposal is not appended twice, and a node's pending proposals must recognise their own ids. Ids are hashed
//! with the standard keyed SipHash, so a peer cannot choose ids that collide.

use std::fmt;
use std::hash::{BuildHasher, RandomState};

/// A set of positions (log indices, sequence numbers: anything at least 1 that names where an id is stored)
/// findable by the id stored there. The ids themselves stay where they are stored; a slot holds only an id's
/// keyed hash and its position, so that the table is compact. The caller confirms a hash match by comparing the
/// id at the position (a different id with the same 64-bit hash is possible, just very unlikely, and is handled).
///
/// Almost every lookup is for a new id, and with a long log each probe of the table would be a cache (and TLB)
/// miss. So a Bloom filter, a sixteenth of the table's size, answers "certainly not here" first, and inserts are
/// buffered and written to the table in batches, whose misses the processor overlaps. The table is only probed
/// when the filter cannot rule an id out.
///
/// The table grows without a pause: the old table (and its filter) stays beside the new one, and its slots move
/// over a few at a time with each insert, so no single call rehashes a long log (a million ids took 65 ms in
/// one piece, on the JS thread).
pub struct IdPositions {
    keys: RandomState,
    /// `slots[2 * k]` is the hash and `slots[2 * k + 1]` the position of slot `k`; position 0 marks it free.
    /// Linear probing, at most half full. Length a power of two times 2, or 0.
    slots: Vec<u64>,
    /// Inserts not yet written to `slots`.
    unwritten: Vec<(u64, u64)>,
    /// Blocks of 512 bits (eight words, one cache line) each; every hash inserted sets four bits in one block.
    /// Bits of removed positions stay set until the table grows: they only cost a needless probe.
    filter: Vec<u64>,
    /// Positions in `slots`, `unwritten` and the part of `old` not moved yet.
    len: usize,
    /// While the table grows: the previous one, moving into `slots`.
    old: Option<OldTable>,
}

/// The table being left behind while the table grows. Its slots move to the new table in slot order, `MOVE_STEP`
/// per insert; those below `moved` are there already (their copies here are ignored). Nothing is shifted here
/// any more: a position removed before it moved is overwritten with `GONE`, which keeps the probe runs whole.
struct OldTable {
    slots: Vec<u64>,
    filter: Vec<u64>,
    moved: usize,
}

/// Inserts buffered before they are written to the table.
const WRITE_BATCH: usize = 128;

/// Old slots moved to the new table per insert. The old table is at most half full and the new one at least
/// twice its size, so it has moved entirely long before the new one has to grow.
const MOVE_STEP: usize = 8;

/// A removed position in the old table.
const GONE: u64 = u64::MAX;

impl Default for IdPositions {
    fn default() -> Self {
        IdPositions {
            keys: RandomState::new(),
            slots: Vec::new(),
            unwritten: Vec::new(),
            filter: Vec::new(),
            len: 0,
            old: None,
        }
    }
}

impl fmt::Debug for IdPositions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdPositions").field("len", &self.len).field("slots", &(self.slots.len() / 2)).finish()
    }
}

impl IdPositions {
    /// How many positions it holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn hash(&self, id: &str) -> u64 {
        self.keys.hash_one(id)
    }

    /// The position of an id with this hash for which `holds(position)` says the id is there.
    pub fn find(&mut self, hash: u64, mut holds: impl FnMut(u64) -> bool) -> Option<u64> {
        if self.len == 0 || !self.may_contain(hash) {
            return None;
        }
        self.write_buffered();
        self.probe(hash, &mut holds).or_else(|| self.probe_old(hash, &mut holds).map(|(_, position)| position))
    }

    /// `find` for a caller that cannot lend the index mutably: also looks through the buffered inserts.
    pub fn find_shared(&self, hash: u64, mut holds: impl FnMut(u64) -> bool) -> Option<u64> {
        if self.len == 0 || !self.may_contain(hash) {
            return None;
        }
        let buffered = self.unwritten.iter().rev().find(|&&(h, position)| h == hash && holds(position));
        buffered
            .map(|&(_, position)| position)
            .or_else(|| self.probe(hash, &mut holds))
            .or_else(|| self.probe_old(hash, &mut holds).map(|(_, position)| position))
    }

    /// Looks through the old table's slots that have not moved yet: the matching slot and its position.
    fn probe_old(&self, hash: u64, holds: &mut impl FnMut(u64) -> bool) -> Option<(usize, u64)> {
        let old = self.old.as_ref()?;
        let mask = old.slots.len() / 2 - 1;
        let mut slot = hash as usize & mask;
        loop {
            let position = old.slots[2 * slot + 1];
            if position == 0 {
                return None;
            }
            if slot >= old.moved && position != GONE && old.slots[2 * slot] == hash && holds(position) {
                return Some((slot, position));
            }
            slot = (slot + 1) & mask;
        }
    }

    fn probe(&self, hash: u64, holds: &mut impl FnMut(u64) -> bool) -> Option<u64> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() / 2 - 1;
        let mut slot = hash as usize & mask;
        loop {
            let position = self.slots[2 * slot + 1];
            if position == 0 {
                return None;
            }
            if self.slots[2 * slot] == hash && holds(position) {
                return Some(position);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Adds a position (not 0) whose id has this hash; the caller knows it is not there yet.
    pub fn insert(&mut self, hash: u64, position: u64) {
        debug_assert!(position != 0);
        self.reserve(1);
        set_filter_bits(&mut self.filter, hash);
        self.unwritten.push((hash, position));
        self.len += 1;
        self.move_old_slots(MOVE_STEP);
        if self.unwritten.len() >= WRITE_BATCH {
            self.write_buffered();
        }
    }

    /// Adds the position unless an id with this hash that `holds` is already there; returns whether it added.
    pub fn insert_new(&mut self, hash: u64, position: u64, holds: impl FnMut(u64) -> bool) -> bool {
        if self.find(hash, holds).is_some() {
            return false;
        }
        self.insert(hash, position);
        true
    }

    /// Removes this exact (hash, position) pair, if present.
    pub fn remove(&mut self, hash: u64, position: u64) {
        if self.len == 0 || !self.may_contain(hash) {
            return;
        }
        self.write_buffered();
        if self.remove_from_table(hash, position) {
            return;
        }
        if let Some((slot, _)) = self.probe_old(hash, &mut |at| at == position) {
            if let Some(old) = self.old.as_mut() {
                old.slots[2 * slot + 1] = GONE;
                self.len -= 1;
            }
        }
    }

    /// Removes the pair from the (new) table; whether it was there.
    fn remove_from_table(&mut self, hash: u64, position: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() / 2 - 1;
        let mut hole = hash as usize & mask;
        loop {
            let at = self.slots[2 * hole + 1];
            if at == 0 {
                return false;
            }
            if at == position && self.slots[2 * hole] == hash {
                break;
            }
            hole = (hole + 1) & mask;
        }
        // Backward-shift deletion: move later members of the probe run into the hole where their probe passes it.
        let mut next = hole;
        loop {
            next = (next + 1) & mask;
            if self.slots[2 * next + 1] == 0 {
                break;
            }
            let home = self.slots[2 * next] as usize & mask;
            if (next.wrapping_sub(home) & mask) >= (next.wrapping_sub(hole) & mask) {
                self.slots.copy_within(2 * next..2 * next + 2, 2 * hole);
                hole = next;
            }
        }
        self.slots[2 * hole] = 0;
        self.slots[2 * hole + 1] = 0;
        self.len -= 1;
        true
    }

    /// Forgets every position; hashes stay the same.
    pub fn clear(&mut self) {
        self.slots.fill(0);
        self.filter.fill(0);
        self.unwritten.clear();
        self.old = None;
        self.len = 0;
    }

    /// Makes room for `additional` more positions without growing again. Growing starts a new table at once;
    /// the positions of the old one move over with the inserts that follow.
    pub fn reserve(&mut self, additional: usize) {
        let needed = (self.len + additional).saturating_mul(2);
        if needed <= self.slots.len() / 2 {
            return;
        }
        // Only when one table grows again before it was filled by moving (a large reserve): finish that first.
        self.move_old_slots(usize::MAX);
        self.write_buffered();
        let capacity = needed.next_power_of_two().max(16);
        let slots = std::mem::replace(&mut self.slots, vec![0; 2 * capacity]);
        // A new filter at the new size, set as positions arrive, which also clears the bits of removed ones.
        let filter = std::mem::replace(&mut self.filter, vec![0; (capacity / 16).max(8)]);
        if !slots.is_empty() {
            self.old = Some(OldTable { slots, filter, moved: 0 });
        }
    }

    /// Moves up to `count` slots of the old table (if the table is growing) into the new one.
    fn move_old_slots(&mut self, count: usize) {
        let Some(mut old) = self.old.take() else { return };
        let total = old.slots.len() / 2;
        let end = old.moved.saturating_add(count).min(total);
        for slot in old.moved..end {
            let (hash, position) = (old.slots[2 * slot], old.slots[2 * slot + 1]);
            if position != 0 && position != GONE {
                self.write(hash, position);
                set_filter_bits(&mut self.filter, hash);
            }
        }
        old.moved = end;
        if end < total {
            self.old = Some(old);
        }
    }

    /// Writes the buffered inserts to the table, one after another so that their cache misses overlap.
    fn write_buffered(&mut self) {
        for (hash, position) in std::mem::take(&mut self.unwritten) {
            self.write(hash, position);
        }
    }

    fn write(&mut self, hash: u64, position: u64) {
        let mask = self.slots.len() / 2 - 1;
        let mut slot = hash as usize & mask;
        while self.slots[2 * slot + 1] != 0 {
            slot = (slot + 1) & mask;
        }
        self.slots[2 * slot] = hash;
        self.slots[2 * slot + 1] = position;
    }

    fn may_contain(&self, hash: u64) -> bool {
        filter_has(&self.filter, hash) || self.old.as_ref().is_some_and(|old| filter_has(&old.filter, hash))
    }
}

/// The block of a filter (of `words` words) a hash falls in, and its four bits there as (word, mask) pairs.
fn filter_bits(words: usize, hash: u64) -> impl Iterator<Item = (usize, u64)> {
    // The table uses the low bits of the hash; the filter takes its block from the high ones and its bits from a
    // remix, so that the two are independent.
    let blocks = words / 8;
    let block = ((hash >> 32) as usize & (blocks - 1)) * 8;
    let bits = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..4).map(move |k| {
        let bit = (bits >> (64 - 9 * (k + 1))) & 511;
        (block + (bit >> 6) as usize, 1u64 << (bit & 63))
    })
}

fn filter_has(filter: &[u64], hash: u64) -> bool {
    !filter.is_empty() && filter_bits(filter.len(), hash).all(|(word, mask)| filter[word] & mask != 0)
}

fn set_filter_bits(filter: &mut [u64], hash: u64) {
    for (word, mask) in filter_bits(filter.len(), hash) {
        filter[word] |= mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ProposalId;

    #[test]
    fn positions_behave_as_a_set_through_growth_collisions_and_removal() {
        let ids: Vec<ProposalId> = (0..20_000u64).map(|i| ProposalId::from(format!("id_{i}").as_str())).collect();
        let at = |position: u64| &ids[position as usize - 1];
        let mut index = IdPositions::default();
        for position in 1..=10_000u64 {
            let hash = index.hash(at(position));
            assert!(index.insert_new(hash, position, |p| at(p) == at(position)));
        }
        // Equal hashes for different ids (forced by hashing everything to a few values) are told apart.
        let mut crowded = IdPositions::default();
        for position in 1..=2_000u64 {
            assert!(crowded.insert_new(position % 3, position, |p| p == position));
        }
        for position in 1..=2_000u64 {
            assert_eq!(crowded.find(position % 3, |p| p == position), Some(position));
        }
        for position in (1..=2_000u64).step_by(2) {
            crowded.remove(position % 3, position);
        }
        for position in 1..=2_000u64 {
            let expected = (position % 2 == 0).then_some(position);
            assert_eq!(crowded.find(position % 3, |p| p == position), expected, "{position}");
        }

        let hash_of = |index: &IdPositions, position: u64| index.hash(at(position));
        assert!(!index.insert_new(hash_of(&index, 7), 10_001, |p| at(p) == at(7)));
        for position in (1..=10_000u64).filter(|p| p % 3 == 0) {
            index.remove(hash_of(&index, position), position);
        }
        for position in 1..=12_000u64 {
            let found = index.find(hash_of(&index, position), |p| at(p) == at(position));
            let expected = (position <= 10_000 && position % 3 != 0).then_some(position);
            assert_eq!(found, expected, "{position}");
        }
        assert_eq!(index.len, 10_000 - 3_333);
        index.clear();
        assert_eq!(index.find(hash_of(&index, 1), |p| at(p) == at(1)), None);
        assert!(index.insert_new(hash_of(&index, 1), 1, |p| at(p) == at(1)));
        assert_eq!(index.find(hash_of(&index, 1), |p| at(p) == at(1)), Some(1));
    }

    #[test]
    fn growing_moves_the_old_table_a_few_slots_per_insert_and_loses_nothing() {
        let mut index = IdPositions::default();
        let mut position = 0u64;
        let mut grew = 0;
        while grew < 6 {
            position += 1;
            let before = index.slots.len();
            index.insert(position.wrapping_mul(0x9E37_79B9_7F4A_7C15), position);
            if index.slots.len() != before && before != 0 {
                grew += 1;
                let old = index.old.as_ref().expect("the old table stays beside the new one");
                assert!(old.moved <= MOVE_STEP, "only a step of it moved at once, not {}", old.moved);
            }
        }
        for p in 1..=position {
            assert_eq!(index.find(p.wrapping_mul(0x9E37_79B9_7F4A_7C15), |at| at == p), Some(p), "{p}");
        }
    }

    #[test]
    fn a_set_model_agrees_with_every_lookup_while_the_table_grows() {
        // Few distinct hashes, so that runs are long and collisions common; removals at every stage of a move.
        let mut rng = crate::rng::SplitMix64::new(42);
        let mut index = IdPositions::default();
        let mut model: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        let hash_of = |position: u64| position % 97 * 0x1_0000_0001 + (position % 5);
        for step in 0..60_000u64 {
            let position = 1 + rng.next() % 8_000;
            match rng.next() % 10 {
                0..=5 => {
                    let added = index.insert_new(hash_of(position), position, |at| at == position);
                    assert_eq!(
                        added,
                        model.insert(position, hash_of(position)).is_none(),
                        "insert {position} at {step}"
                    );
                }
                6..=7 => {
                    index.remove(hash_of(position), position);
                    model.remove(&position);
                }
                _ => {
                    let expected = model.contains_key(&position).then_some(position);
                    assert_eq!(
                        index.find_shared(hash_of(position), |at| at == position),
                        expected,
                        "find_shared {position} at {step}"
                    );
                    assert_eq!(
                        index.find(hash_of(position), |at| at == position),
                        expected,
                        "find {position} at {step}"
                    );
                }
            }
            assert_eq!(index.len, model.len(), "len at {step}");
        }
        for position in 1..=8_000u64 {
            let expected = model.contains_key(&position).then_some(position);
            assert_eq!(index.find(hash_of(position), |at| at == position), expected, "{position}");
        }
    }

    #[test]
    fn buffered_inserts_are_found_by_every_lookup_and_removable() {
        let ids: Vec<ProposalId> = (0..10u64).map(|i| ProposalId::from(format!("id_{i}").as_str())).collect();
        let at = |position: u64| &ids[position as usize - 1];
        let mut index = IdPositions::default();
        for position in 1..=5u64 {
            index.insert(index.hash(at(position)), position);
        }
        assert!(!index.unwritten.is_empty(), "fewer than a batch stay buffered");
        for position in 1..=10u64 {
            let hash = index.hash(at(position));
            let expected = (position <= 5).then_some(position);
            assert_eq!(index.find_shared(hash, |p| at(p) == at(position)), expected);
        }
        index.remove(index.hash(at(3)), 3);
        assert_eq!(index.find_shared(index.hash(at(3)), |p| at(p) == at(3)), None);
        assert_eq!(index.find(index.hash(at(4)), |p| at(p) == at(4)), Some(4));
    }
}
