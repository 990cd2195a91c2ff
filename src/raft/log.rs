//! The replicated log as one node sees it: the entries since the last snapshot, how far they are durable
//! (acknowledged by storage), committed and handed out for application, and which proposal ids they hold.
//!
//! Entries are kept in memory from the snapshot on; storage is write-behind. Three markers split the log:
//! `stable_index` (durable here), `persist_from` (not yet handed to storage) and `committed`.
//!
//! Only a leader deduplicates proposals, so the proposal-id index is kept lazily: entries up to `indexed_to` are
//! in it, and the first proposal a leader appends indexes the rest of the log at once. A follower, which appends
//! most entries, never pays for the index; a new leader pays once for the entries it took as a follower.

use super::chunked::ChunkedDeque;
use super::id_index::IdPositions;
use super::types::{Entry, Index, ProposalId, Term};

#[derive(Debug)]
pub struct RaftLog {
    /// The last index and term covered by the snapshot (0, 0 when there is none).
    snapshot_index: Index,
    snapshot_term: Term,
    /// `entries[k].index == snapshot_index + 1 + k`.
    entries: ChunkedDeque<Entry>,
    pub committed: Index,
    /// The last index handed out for application.
    pub applied: Index,
    /// Entries up to here are on stable storage.
    stable_index: Index,
    /// The first index not yet handed to storage.
    persist_from: Index,
    /// Where each proposal id in the log sits, so that a retried proposal is recognised. Covers the entries up
    /// to `indexed_to`; `index_ids` brings it up to the last entry.
    proposal_index: IdPositions,
    indexed_to: Index,
}

impl RaftLog {
    /// A log restored from storage: everything given is durable. `committed` is clamped to what exists.
    pub fn restore(snapshot_index: Index, snapshot_term: Term, entries: Vec<Entry>, committed: Index) -> RaftLog {
        let mut log = RaftLog {
            snapshot_index,
            snapshot_term,
            entries: ChunkedDeque::with_capacity(entries.len()),
            committed: 0,
            applied: snapshot_index,
            stable_index: 0,
            persist_from: 0,
            proposal_index: IdPositions::default(),
            indexed_to: snapshot_index,
        };
        for entry in entries {
            log.push(entry);
        }
        log.stable_index = log.last_index();
        log.persist_from = log.last_index() + 1;
        log.committed = committed.clamp(snapshot_index, log.last_index());
        log
    }

    pub fn first_index(&self) -> Index {
        self.snapshot_index + 1
    }

    pub fn last_index(&self) -> Index {
        self.snapshot_index + self.entries.len() as Index
    }

    pub fn last_term(&self) -> Term {
        self.entries.back().map_or(self.snapshot_term, |e| e.term)
    }

    pub fn stable_index(&self) -> Index {
        self.stable_index
    }

    pub fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }

    /// The term of the entry at `index`, if the log still knows it.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: Index) -> Option<&Entry> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize)
    }

    pub fn matches(&self, index: Index, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Where the proposal with this id sits in the log, if it does.
    pub fn index_of_proposal(&self, id: &ProposalId) -> Option<Index> {
        let unindexed = (self.indexed_to - self.snapshot_index) as usize;
        // The entries not yet indexed are searched one by one, the latest first (as the index would answer).
        let found = self.entries.range(unindexed..).rev().find(|e| e.id.as_ref() == Some(id));
        found.map(|e| e.index).or_else(|| {
            let hash = self.proposal_index.hash(id);
            self.proposal_index.find_shared(hash, |index| holds_id(&self.entries, self.first_index(), index, id))
        })
    }

    /// Raft paper 5.4.1: a candidate's log is at least as up-to-date as ours if its last term is higher, or equal
    /// with a last index at least as high.
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        last_term > self.last_term() || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Appends entries the leader created. Their indices must follow the last one.
    pub fn append_new(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        self.push(entry);
    }

    /// Appends an entry the leader created for a proposal, unless the log already holds its id (one lookup for
    /// both the check and the insert). Returns whether it appended.
    pub fn append_new_unless_known(&mut self, entry: Entry) -> bool {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        self.index_ids();
        if let Some(id) = &entry.id {
            let hash = self.proposal_index.hash(id);
            let (entries, first) = (&self.entries, self.first_index());
            if !self.proposal_index.insert_new(hash, entry.index, |index| holds_id(entries, first, index, id)) {
                return false;
            }
        }
        self.entries.push_back(entry);
        self.indexed_to = self.last_index();
        true
    }

    /// Adds the ids of the entries not yet indexed to the proposal-id index.
    fn index_ids(&mut self) {
        let unindexed = (self.indexed_to - self.snapshot_index) as usize;
        if unindexed == self.entries.len() {
            return;
        }
        self.proposal_index.reserve(self.entries.len() - unindexed);
        let (entries, first) = (&self.entries, self.first_index());
        for entry in entries.range(unindexed..) {
            let Some(id) = &entry.id else { continue };
            let hash = self.proposal_index.hash(id);
            // An id the log holds twice (only possible across leaders that did not know of each other's copy)
            // is found at its latest index, as a lookup expects.
            if let Some(earlier) = self.proposal_index.find(hash, |index| holds_id(entries, first, index, id)) {
                self.proposal_index.remove(hash, earlier);
            }
            self.proposal_index.insert(hash, entry.index);
        }
        self.indexed_to = self.last_index();
    }

    /// The follower's side of AppendEntries (paper 5.3): if the entry at `prev_index` has `prev_term`, drop any
    /// conflicting suffix, append what is new and return the index of the last entry the message covered.
    /// Returns `None` on a mismatch. Entries must already be validated as contiguous after `prev_index`.
    pub fn try_append(&mut self, prev_index: Index, prev_term: Term, entries: Vec<Entry>) -> Option<Index> {
        if !self.matches(prev_index, prev_term) {
            return None;
        }
        let last_new = prev_index + entries.len() as Index;
        // Entries at or below the snapshot are committed and so identical to ours: skip them.
        let skip = self.snapshot_index.saturating_sub(prev_index).min(entries.len() as Index) as usize;
        let mut first_new = None;
        for (offset, entry) in entries.iter().enumerate().skip(skip) {
            match self.term(entry.index) {
                Some(term) if term == entry.term => continue,
                _ => {
                    first_new = Some(offset);
                    break;
                }
            }
        }
        if let Some(offset) = first_new {
            let conflict_index = entries[offset].index;
            // Never truncate a committed entry: a leader that asks us to is not a correct leader.
            if conflict_index <= self.committed {
                return None;
            }
            self.truncate_from(conflict_index);
            for entry in entries.into_iter().skip(offset) {
                self.push(entry);
            }
        }
        Some(last_new)
    }

    /// For a rejected AppendEntries: the last index at or below `index` whose term is at most `term`, with its
    /// term. The leader uses it to skip every entry of a conflicting term at once.
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> (Index, Term) {
        let mut probe = index.min(self.last_index());
        loop {
            match self.term(probe) {
                Some(t) if t > term => probe -= 1,
                Some(t) => return (probe, t),
                // Below the snapshot we know no terms; the snapshot point itself is the best hint.
                None => return (self.snapshot_index, self.snapshot_term),
            }
        }
    }

    /// Entries from `from` on, as many as fit in `max_bytes` (at least one if any exists).
    pub fn entries_from(&self, from: Index, max_bytes: u64) -> Vec<Entry> {
        let start = (from.max(self.first_index()) - self.first_index()) as usize;
        self.entries_within(start, self.entries.len(), max_bytes)
    }

    /// Copies of the entries at positions `start..end` of `entries`, cut where they exceed `max_bytes` (at least
    /// one).
    fn entries_within(&self, start: usize, end: usize, max_bytes: u64) -> Vec<Entry> {
        let start = start.min(end);
        let mut bytes = 0u64;
        let mut stop = start;
        for entry in self.entries.range(start..end) {
            bytes += entry.size_bytes();
            if stop > start && bytes > max_bytes {
                break;
            }
            stop += 1;
        }
        self.entries.clone_range(start..stop)
    }

    /// Advances the commit index; never moves it back.
    pub fn commit_to(&mut self, index: Index) {
        let index = index.min(self.last_index());
        if index > self.committed {
            self.committed = index;
        }
    }

    /// Entries not yet handed to storage; marks them handed.
    pub fn take_unpersisted(&mut self) -> Vec<Entry> {
        let from = self.persist_from.max(self.first_index());
        let start = ((from - self.first_index()) as usize).min(self.entries.len());
        let out = self.entries.clone_range(start..);
        self.persist_from = self.last_index() + 1;
        out
    }

    pub fn has_unpersisted(&self) -> bool {
        self.persist_from <= self.last_index()
    }

    /// Storage wrote everything up to `(index, term)`. Ignored if the log has since changed at that index.
    pub fn stable_to(&mut self, index: Index, term: Term) {
        if index > self.stable_index && self.matches(index, term) && index < self.persist_from {
            self.stable_index = index;
        }
    }

    /// Committed, durable entries not yet handed out for application; marks them handed out.
    pub fn take_committed(&mut self, max_bytes: u64) -> Vec<Entry> {
        let upto = self.committed.min(self.stable_index);
        if upto <= self.applied {
            return Vec::new();
        }
        let start = (self.applied + 1 - self.first_index()) as usize;
        let end = ((upto + 1 - self.first_index()) as usize).min(self.entries.len());
        let out = self.entries_within(start, end, max_bytes);
        self.applied += out.len() as Index;
        out
    }

    pub fn has_committed_to_apply(&self) -> bool {
        self.committed.min(self.stable_index) > self.applied
    }

    fn push(&mut self, entry: Entry) {
        self.entries.push_back(entry);
    }

    fn truncate_from(&mut self, index: Index) {
        while self.last_index() >= index {
            let Some(entry) = self.entries.pop_back() else { break };
            if entry.index > self.indexed_to {
                continue;
            }
            if let Some(id) = &entry.id {
                let hash = self.proposal_index.hash(id);
                self.proposal_index.remove(hash, entry.index);
            }
        }
        self.indexed_to = self.indexed_to.min(index - 1);
        self.persist_from = self.persist_from.min(index);
        self.stable_index = self.stable_index.min(index - 1);
    }
}

/// Whether the entry at `index` of a log whose `entries` start at `first` holds the proposal `id`.
fn holds_id(entries: &ChunkedDeque<Entry>, first: Index, index: Index, id: &ProposalId) -> bool {
    let entry = index.checked_sub(first).and_then(|offset| entries.get(offset as usize));
    entry.is_some_and(|entry| entry.id.as_ref() == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{EntryKind, Payload};

    fn entry(index: Index, term: Term, id: &str) -> Entry {
        Entry { term, index, kind: EntryKind::Normal, id: Some(ProposalId::from(id)), data: Payload::from(&b"x"[..]) }
    }

    #[test]
    fn ids_a_follower_appended_are_known_when_it_leads() {
        let mut log = RaftLog::restore(0, 0, vec![entry(1, 1, "a")], 1);
        assert_eq!(log.try_append(1, 1, vec![entry(2, 1, "b"), entry(3, 1, "c")]), Some(3));
        assert_eq!(log.index_of_proposal(&ProposalId::from("b")), Some(2));
        // Leading now: every id already in the log is recognised, committed or not.
        for id in ["a", "b", "c"] {
            assert!(!log.append_new_unless_known(entry(4, 2, id)), "{id} appended twice");
        }
        assert!(log.append_new_unless_known(entry(4, 2, "d")));
        assert_eq!(log.index_of_proposal(&ProposalId::from("a")), Some(1));
        assert_eq!(log.index_of_proposal(&ProposalId::from("d")), Some(4));
    }

    #[test]
    fn truncated_ids_are_forgotten_whether_indexed_or_not() {
        let mut log = RaftLog::restore(0, 0, vec![entry(1, 1, "a")], 1);
        assert!(log.append_new_unless_known(entry(2, 1, "b")));
        assert_eq!(log.try_append(2, 1, vec![entry(3, 1, "c")]), Some(3));
        // A leader of term 2 overwrites indices 2 and 3 (indexed and not) with other proposals.
        assert_eq!(log.try_append(1, 1, vec![entry(2, 2, "x"), entry(3, 2, "y")]), Some(3));
        for (id, index) in [("a", Some(1)), ("b", None), ("c", None), ("x", Some(2)), ("y", Some(3))] {
            assert_eq!(log.index_of_proposal(&ProposalId::from(id)), index, "{id}");
        }
        assert!(log.append_new_unless_known(entry(4, 3, "b")), "a truncated id may be appended again");
        assert!(!log.append_new_unless_known(entry(5, 3, "y")));
    }
}
