//! The proposal ids of compacted entries that a log still remembers (`Config::proposal_id_window`), so that a
//! proposal retried after its entry was compacted still commits once.
//!
//! They are kept by log index, one slot per compacted index (`None` for an entry without an id), so that the
//! proposal-id index can name an id here by its log index exactly as it names one still in the log: compaction
//! moves an id from the log to this ring without touching the index.

use super::chunked::ChunkedDeque;
use super::types::{Index, ProposalId};

#[derive(Debug, Default)]
pub struct CompactedIds {
    /// The log index of `ids[0]`; slot `k` is index `first + k`.
    first: Index,
    /// Kept in chunks, so that forgetting the oldest frees whole chunks and growing copies nothing.
    ids: ChunkedDeque<Option<ProposalId>>,
}

impl CompactedIds {
    /// The first index with a slot (the ids cover `first_index()..end_index()`).
    pub fn first_index(&self) -> Index {
        self.first
    }

    /// One past the last index with a slot.
    pub fn end_index(&self) -> Index {
        self.first + self.ids.len() as Index
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id remembered for `index`, if any.
    pub fn get(&self, index: Index) -> Option<&ProposalId> {
        let slot = index.checked_sub(self.first)?;
        self.ids.get(usize::try_from(slot).ok()?)?.as_ref()
    }

    /// Remembers the id (or its absence) of the entry at `index`, which must lie above every index held; indices
    /// skipped in between get empty slots.
    pub fn push(&mut self, index: Index, id: Option<ProposalId>) {
        if self.ids.is_empty() {
            if id.is_none() {
                return;
            }
            self.first = index;
        }
        debug_assert!(index >= self.end_index());
        while self.end_index() < index {
            self.ids.push_back(None);
        }
        self.ids.push_back(id);
    }

    /// Forgets every id below `bound`, calling `forgotten` with each (index, id).
    pub fn forget_below(&mut self, bound: Index, mut forgotten: impl FnMut(Index, &ProposalId)) {
        let count = bound.saturating_sub(self.first).min(self.ids.len() as Index);
        if count == 0 {
            return;
        }
        let first = self.first;
        for (offset, id) in self.ids.range(..count as usize).enumerate() {
            if let Some(id) = id {
                forgotten(first + offset as Index, id);
            }
        }
        let _ = self.ids.drain(..count as usize);
        self.first += count;
        if self.ids.is_empty() {
            self.first = 0;
        }
    }

    pub fn clear(&mut self) {
        self.ids.clear();
        self.first = 0;
    }

    /// The ids held at `from` and above, latest first.
    pub fn iter_from_latest(&self, from: Index) -> impl Iterator<Item = (Index, &ProposalId)> {
        let skip = from.saturating_sub(self.first).min(self.ids.len() as Index) as usize;
        let first = self.first;
        self.ids
            .range(skip..)
            .enumerate()
            .rev()
            .filter_map(move |(offset, id)| id.as_ref().map(|id| (first + (skip + offset) as Index, id)))
    }

    /// The ids held at `from` and above, oldest first.
    pub fn iter_from(&self, from: Index) -> impl Iterator<Item = (Index, &ProposalId)> {
        let skip = from.saturating_sub(self.first).min(self.ids.len() as Index) as usize;
        let first = self.first;
        self.ids
            .range(skip..)
            .enumerate()
            .filter_map(move |(offset, id)| id.as_ref().map(|id| (first + (skip + offset) as Index, id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> ProposalId {
        ProposalId::from(text)
    }

    #[test]
    fn ids_are_found_by_index_across_gaps_and_forgetting() {
        let mut ids = CompactedIds::default();
        ids.push(3, None);
        assert!(ids.is_empty(), "no slots before the first id");
        ids.push(5, Some(id("a")));
        ids.push(6, None);
        ids.push(9, Some(id("b")));
        assert_eq!((ids.first_index(), ids.end_index()), (5, 10));
        assert_eq!(ids.get(5), Some(&id("a")));
        assert_eq!(ids.get(9), Some(&id("b")));
        assert_eq!(ids.get(4), None);
        assert_eq!(ids.get(7), None);
        assert_eq!(ids.get(10), None);
        let latest: Vec<_> = ids.iter_from_latest(0).map(|(index, id)| (index, id.clone())).collect();
        assert_eq!(latest, vec![(9, id("b")), (5, id("a"))]);
        let mut forgotten = Vec::new();
        ids.forget_below(7, |index, id| forgotten.push((index, id.clone())));
        assert_eq!(forgotten, vec![(5, id("a"))]);
        assert_eq!(ids.get(5), None);
        assert_eq!(ids.iter_from(0).map(|(index, _)| index).collect::<Vec<_>>(), vec![9]);
        ids.forget_below(100, |_, _| {});
        assert!(ids.is_empty());
        ids.push(200, Some(id("c")));
        assert_eq!(ids.first_index(), 200);
    }
}
