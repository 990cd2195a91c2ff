//! The proposal ids of compacted entries that are still remembered (`Config::proposal_id_window`), so that a
//! proposal retried after its entry was compacted still commits once: the log keeps them, and every snapshot
//! carries them to followers and across restarts.
//!
//! There are many of them (100,000 by default) and they live long, so they are packed: the ids of up to
//! `BLOCK_SLOTS` consecutive indices share one block, their bytes in one string and found through a table of end
//! offsets, instead of one allocation each (scattered among the entries' allocations, those kept the memory of
//! compacted entries from being freed). Blocks are shared between the log and its snapshots and copied on write,
//! so a snapshot taken after a compaction copies nothing but a list of blocks.

use super::types::Index;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

/// Indices per block.
const BLOCK_SLOTS: usize = 4096;
/// Two ids further apart than this go to separate blocks rather than filling the indices between with empty slots
/// (a snapshot from a peer may name ids anywhere below its index).
const MAX_GAP: Index = 64;
/// Set in a slot's end offset when the entry at that index had an id.
const PRESENT: u32 = 1 << 31;
/// A block that continues a full one reserves room for `BLOCK_SLOTS` ids as long as its first, up to this many
/// bytes.
const MAX_RESERVED_BYTES: usize = 1 << 20;

/// The ids of a run of consecutive indices (`None` for an index without one).
struct Block {
    /// The index of slot 0.
    first: Index,
    /// Per slot: where its id ends in `bytes` (it starts where the previous slot's ends), with `PRESENT` if the
    /// index has an id.
    ends: Vec<u32>,
    bytes: String,
}

/// Blocks are sized once, when created, and keep that size when copied on write: growing by doubling would leave
/// up to half of each block unused.
impl Clone for Block {
    fn clone(&self) -> Block {
        let mut ends = Vec::with_capacity(self.ends.capacity());
        ends.extend_from_slice(&self.ends);
        let mut bytes = String::with_capacity(self.bytes.capacity());
        bytes.push_str(&self.bytes);
        Block { first: self.first, ends, bytes }
    }
}

impl Block {
    /// A block starting at `first` with `id`; sized for a full block if it continues a full one (others, started
    /// after a gap, may stay small).
    fn new(first: Index, id: &str, continues_full: bool) -> Block {
        if !continues_full {
            return Block { first, ends: Vec::new(), bytes: String::new() };
        }
        let bytes = (BLOCK_SLOTS * id.len()).min(MAX_RESERVED_BYTES);
        Block { first, ends: Vec::with_capacity(BLOCK_SLOTS), bytes: String::with_capacity(bytes) }
    }

    fn end_index(&self) -> Index {
        self.first + self.ends.len() as Index
    }

    fn get(&self, slot: usize) -> Option<&str> {
        let end = *self.ends.get(slot)?;
        if end & PRESENT == 0 {
            return None;
        }
        let start = slot.checked_sub(1).map_or(0, |previous| self.ends[previous] & !PRESENT);
        self.bytes.get(start as usize..(end & !PRESENT) as usize)
    }

    /// Whether `id` fits at `index` without breaking the block's limits.
    fn takes(&self, index: Index, id: &str) -> bool {
        let gap = index.saturating_sub(self.end_index());
        index >= self.end_index()
            && gap <= MAX_GAP
            && self.ends.len() + (gap as usize) < BLOCK_SLOTS
            && self.bytes.len() + id.len() < PRESENT as usize
    }
}

/// Proposal ids by log index, increasing, each index at most once. Cheap to clone, and small: an empty one
/// allocates nothing, and a snapshot (which every `Ready` has room for) stays a few words.
#[derive(Clone, Default)]
pub struct ProposalIds {
    shared: Option<Arc<Blocks>>,
}

impl ProposalIds {
    pub fn new() -> ProposalIds {
        ProposalIds::default()
    }

    /// Adds `id` at `index`, which must be above every index held (others are ignored, as are ids of 2 GiB or
    /// more, which no message can carry).
    pub fn push(&mut self, index: Index, id: &str) {
        // Copies the list of blocks if a snapshot shares it (and then the last block, which `push` writes).
        Arc::make_mut(self.shared.get_or_insert_with(Default::default)).push(index, id);
    }

    /// The id at `index`, if one is held.
    pub fn get(&self, index: Index) -> Option<&str> {
        self.shared.as_ref()?.get(index)
    }

    /// The ids at `from` and above, by increasing index.
    pub fn iter_from(&self, from: Index) -> impl Iterator<Item = (Index, &str)> + '_ {
        self.shared.iter().flat_map(move |blocks| blocks.iter_from(from))
    }

    /// Every id, by increasing index.
    pub fn iter(&self) -> impl Iterator<Item = (Index, &str)> + '_ {
        self.iter_from(0)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The lowest index held, if any.
    pub fn first_index(&self) -> Option<Index> {
        self.iter().next().map(|(index, _)| index)
    }

    /// Forgets the ids below `bound`, calling `forgotten` with each (index, id) first. Frees whole blocks.
    pub fn forget_below(&mut self, bound: Index, forgotten: impl FnMut(Index, &str)) {
        if let Some(shared) = self.shared.as_mut() {
            if bound > shared.start {
                Arc::make_mut(shared).forget_below(bound, forgotten);
            }
        }
    }

    /// The ids at or below `index` (a copy, unless that is all of them).
    pub fn up_to(&self, index: Index) -> ProposalIds {
        match &self.shared {
            Some(blocks) if blocks.end_index() > index + 1 => self.iter().take_while(|&(at, _)| at <= index).collect(),
            _ => self.clone(),
        }
    }

    pub fn clear(&mut self) {
        self.shared = None;
    }

    #[cfg(test)]
    fn block_count(&self) -> usize {
        self.shared.as_ref().map_or(0, |shared| shared.blocks.len())
    }
}

/// The blocks themselves, shared by clones until one of them changes.
#[derive(Clone, Default)]
struct Blocks {
    blocks: VecDeque<Arc<Block>>,
    /// Slots below this index are forgotten (the first block may still hold them).
    start: Index,
}

impl Blocks {
    fn push(&mut self, index: Index, id: &str) {
        if index < self.end_index() || id.len() >= PRESENT as usize {
            debug_assert!(false, "proposal id at {index} pushed below {} or too long", self.end_index());
            return;
        }
        if !self.blocks.back().is_some_and(|block| block.takes(index, id)) {
            let continues_full = self.blocks.back().is_some_and(|block| block.end_index() == index);
            self.blocks.push_back(Arc::new(Block::new(index, id, continues_full)));
        }
        let Some(block) = self.blocks.back_mut() else { return };
        // Copies the block if a snapshot shares it: at most one block per compaction.
        let block = Arc::make_mut(block);
        let end = block.bytes.len() as u32;
        while block.end_index() < index {
            block.ends.push(end);
        }
        block.bytes.push_str(id);
        block.ends.push(block.bytes.len() as u32 | PRESENT);
    }

    /// One past the highest index with a slot (0 if none).
    fn end_index(&self) -> Index {
        self.blocks.back().map_or(0, |block| block.end_index())
    }

    fn get(&self, index: Index) -> Option<&str> {
        if index < self.start {
            return None;
        }
        let after = self.blocks.partition_point(|block| block.first <= index);
        let block = self.blocks.get(after.checked_sub(1)?)?;
        block.get(usize::try_from(index - block.first).ok()?)
    }

    fn iter_from(&self, from: Index) -> impl Iterator<Item = (Index, &str)> + '_ {
        let from = from.max(self.start);
        let first_block = self.blocks.partition_point(|block| block.end_index() <= from);
        self.blocks.range(first_block..).flat_map(move |block| {
            let skip = from.saturating_sub(block.first) as usize;
            (skip..block.ends.len()).filter_map(move |slot| block.get(slot).map(|id| (block.first + slot as Index, id)))
        })
    }

    fn forget_below(&mut self, bound: Index, mut forgotten: impl FnMut(Index, &str)) {
        for (index, id) in self.iter_from(0) {
            if index >= bound {
                break;
            }
            forgotten(index, id);
        }
        while self.blocks.front().is_some_and(|block| block.end_index() <= bound) {
            self.blocks.pop_front();
        }
        self.start = bound;
    }
}

impl<'a> IntoIterator for &'a ProposalIds {
    type Item = (Index, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (Index, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<S: AsRef<str>> FromIterator<(Index, S)> for ProposalIds {
    fn from_iter<I: IntoIterator<Item = (Index, S)>>(ids: I) -> ProposalIds {
        let mut out = ProposalIds::new();
        for (index, id) in ids {
            out.push(index, id.as_ref());
        }
        out
    }
}

impl PartialEq for ProposalIds {
    fn eq(&self, other: &ProposalIds) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for ProposalIds {}

impl fmt::Debug for ProposalIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// As a sequence of (index, id) pairs.
impl Serialize for ProposalIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ProposalIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProposalIds, D::Error> {
        let pairs = Vec::<(Index, String)>::deserialize(deserializer)?;
        if pairs.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(serde::de::Error::custom("proposal ids must have increasing indices"));
        }
        Ok(pairs.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(ids: &ProposalIds) -> Vec<(Index, String)> {
        ids.iter().map(|(index, id)| (index, id.to_string())).collect()
    }

    #[test]
    fn ids_are_found_by_index_across_gaps_blocks_and_forgetting() {
        let mut ids = ProposalIds::new();
        ids.push(5, "a");
        ids.push(9, "");
        ids.push(10, "bb");
        ids.push(10_000, "far");
        assert_eq!(ids.block_count(), 2, "a long gap starts a block");
        for (index, expected) in [(4, None), (5, Some("a")), (6, None), (9, Some("")), (10, Some("bb")), (11, None)] {
            assert_eq!(ids.get(index), expected, "{index}");
        }
        assert_eq!(ids.get(10_000), Some("far"));
        assert_eq!(ids.get(9_999), None);
        assert_eq!(held(&ids.iter_from(9).collect()), vec![(9, "".into()), (10, "bb".into()), (10_000, "far".into())]);
        let mut forgotten = Vec::new();
        ids.forget_below(10, |index, id| forgotten.push((index, id.to_string())));
        assert_eq!(forgotten, vec![(5, "a".into()), (9, "".into())]);
        assert_eq!(ids.get(5), None);
        assert_eq!(ids.first_index(), Some(10));
        assert_eq!(ids.up_to(9_999).len(), 1);
        ids.forget_below(20_000, |_, _| {});
        assert!(ids.is_empty() && ids.block_count() == 0);
    }

    #[test]
    fn full_blocks_roll_over_and_clones_are_not_changed_by_later_pushes() {
        let mut ids: ProposalIds = (1..=10_000u64).map(|i| (i, format!("id_{i}"))).collect();
        assert_eq!(ids.block_count(), 3);
        let snapshot = ids.clone();
        ids.push(10_001, "more");
        assert_eq!(snapshot.len(), 10_000);
        assert_eq!(snapshot.get(10_001), None);
        assert_eq!(ids.get(10_001), Some("more"));
        assert_eq!(ids.get(4_097), Some("id_4097"));
        assert_ne!(ids, snapshot);
        assert_eq!(ids.up_to(10_000), snapshot);
        ids.forget_below(5_000, |_, _| {});
        assert_eq!(ids.block_count(), 2, "the first full block is freed");
        assert_eq!(ids.first_index(), Some(5_000));
    }
}
