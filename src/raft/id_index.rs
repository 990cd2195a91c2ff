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
    /// Positions in `slots` and `unwritten`.
    len: usize,
}

/// Inserts buffered before they are written to the table.
const WRITE_BATCH: usize = 128;

impl Default for IdPositions {
    fn default() -> Self {
        IdPositions { keys: RandomState::new(), slots: Vec::new(), unwritten: Vec::new(), filter: Vec::new(), len: 0 }
    }
}

impl fmt::Debug for IdPositions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdPositions").field("len", &self.len).field("slots", &(self.slots.len() / 2)).finish()
    }
}

impl IdPositions {
    pub fn hash(&self, id: &str) -> u64 {
        self.keys.hash_one(id)
    }

    /// The position of an id with this hash for which `holds(position)` says the id is there.
    pub fn find(&mut self, hash: u64, holds: impl FnMut(u64) -> bool) -> Option<u64> {
        if self.len == 0 || !self.may_contain(hash) {
            return None;
        }
        self.write_buffered();
        self.probe(hash, holds)
    }

    /// `find` for a caller that cannot lend the index mutably: also looks through the buffered inserts.
    pub fn find_shared(&self, hash: u64, mut holds: impl FnMut(u64) -> bool) -> Option<u64> {
        if self.len == 0 || !self.may_contain(hash) {
            return None;
        }
        let buffered = self.unwritten.iter().rev().find(|&&(h, position)| h == hash && holds(position));
        buffered.map(|&(_, position)| position).or_else(|| self.probe(hash, holds))
    }

    fn probe(&self, hash: u64, mut holds: impl FnMut(u64) -> bool) -> Option<u64> {
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
        self.set_filter_bits(hash);
        self.unwritten.push((hash, position));
        self.len += 1;
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
        let mask = self.slots.len() / 2 - 1;
        let mut hole = hash as usize & mask;
        loop {
            let at = self.slots[2 * hole + 1];
            if at == 0 {
                return;
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
    }

    /// Forgets every position; hashes stay the same.
    pub fn clear(&mut self) {
        self.slots.fill(0);
        self.filter.fill(0);
        self.unwritten.clear();
        self.len = 0;
    }

    /// Makes room for `additional` more positions without growing again.
    pub fn reserve(&mut self, additional: usize) {
        let needed = (self.len + additional).saturating_mul(2);
        if needed <= self.slots.len() / 2 {
            return;
        }
        self.write_buffered();
        let capacity = needed.next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; 2 * capacity]);
        // Rebuilt at the new size, which also clears the bits of removed positions.
        self.filter = vec![0; (capacity / 16).max(8)];
        for pair in old.chunks_exact(2) {
            if pair[1] != 0 {
                self.write(pair[0], pair[1]);
                self.set_filter_bits(pair[0]);
            }
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

    /// The block of the filter a hash falls in, and its four bits there as (word, mask) pairs.
    fn filter_bits(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> {
        // The table uses the low bits of the hash; the filter takes its block from the high ones and its bits
        // from a remix, so that the two are independent.
        let blocks = self.filter.len() / 8;
        let block = ((hash >> 32) as usize & (blocks - 1)) * 8;
        let bits = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..4).map(move |k| {
            let bit = (bits >> (64 - 9 * (k + 1))) & 511;
            (block + (bit >> 6) as usize, 1u64 << (bit & 63))
        })
    }

    fn may_contain(&self, hash: u64) -> bool {
        self.filter_bits(hash).all(|(word, mask)| self.filter[word] & mask != 0)
    }

    fn set_filter_bits(&mut self, hash: u64) {
        for (word, mask) in self.filter_bits(hash) {
            self.filter[word] |= mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::ProposalId;

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
