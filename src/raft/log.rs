//! The replicated log as one node sees it: the entries since the last snapshot, how far they are durable
//! (acknowledged by storage), committed and handed out for application, and which proposal ids they hold.
//!
//! Entries are kept in memory from the snapshot on; storage is write-behind. Three markers split the log:
//! `stable_index` (durable here), `persist_from` (not yet handed to storage) and `committed`.
//!
//! Compaction drops a prefix of applied entries; the snapshot then stands for them, and the log keeps the index
//! and term of the last one (so the log-matching check works at the boundary). Proposal ids of compacted entries
//! stay known for `id_window` more entries, so that a late retry of them still commits nothing new.

use super::id_index::IdMap;
use super::types::{Entry, Index, ProposalId, Term};
use std::collections::VecDeque;

#[derive(Debug)]
pub struct RaftLog {
    /// The last index and term covered by the snapshot (0, 0 when there is none).
    snapshot_index: Index,
    snapshot_term: Term,
    /// `entries[k].index == snapshot_index + 1 + k`.
    entries: VecDeque<Entry>,
    pub committed: Index,
    /// The last index handed out for application.
    pub applied: Index,
    /// Entries up to here are on stable storage.
    stable_index: Index,
    /// The first index not yet handed to storage.
    persist_from: Index,
    /// Where each proposal id in the log (or in `compacted_ids`) sits, so that a retried proposal is recognised.
    proposal_index: IdMap<Index>,
    /// Ids of compacted entries still remembered, by increasing index.
    compacted_ids: VecDeque<(Index, ProposalId)>,
    /// How many entries past its index a compacted id is remembered.
    id_window: u64,
}

impl RaftLog {
    /// A log restored from storage: everything given is durable. `committed` is clamped to what exists. Entries
    /// must follow the snapshot point; `snapshot_ids` are the ids the snapshot remembers.
    pub fn restore(
        snapshot_index: Index,
        snapshot_term: Term,
        snapshot_ids: &[(Index, ProposalId)],
        entries: Vec<Entry>,
        committed: Index,
        id_window: u64,
    ) -> RaftLog {
        let mut log = RaftLog {
            snapshot_index,
            snapshot_term,
            entries: VecDeque::with_capacity(entries.len()),
            committed: 0,
            applied: snapshot_index,
            stable_index: 0,
            persist_from: 0,
            proposal_index: IdMap::default(),
            compacted_ids: VecDeque::new(),
            id_window,
        };
        log.remember_compacted_ids(snapshot_ids);
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

    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// The ids of compacted entries still remembered, by increasing index: what a snapshot taken now carries.
    pub fn compacted_ids(&self) -> Vec<(Index, ProposalId)> {
        self.compacted_ids.iter().cloned().collect()
    }

    /// Drops the entries up to `index` (which must be in the log and applied): a snapshot now stands for them.
    /// The log keeps `index`'s term, and remembers the dropped entries' proposal ids for the id window.
    pub fn compact_to(&mut self, index: Index) {
        let Some(term) = self.term(index) else { return };
        if index <= self.snapshot_index {
            return;
        }
        let count = (index - self.snapshot_index) as usize;
        for entry in self.entries.drain(..count) {
            if let Some(id) = entry.id {
                self.compacted_ids.push_back((entry.index, id));
            }
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.forget_ids_outside_window();
        self.persist_from = self.persist_from.max(index + 1);
        self.stable_index = self.stable_index.max(index);
        self.applied = self.applied.max(index);
        self.committed = self.committed.max(index);
    }

    /// Takes a snapshot received from the leader (paper, Figure 13): the entries after it are kept if
    /// `keep_suffix` (the caller found the entry at `index` with `term`), else the whole log is discarded. The
    /// snapshot's point counts as committed and applied; the entries kept must be persisted again after the
    /// snapshot (storage drops its whole log when it writes one).
    pub fn install_snapshot(&mut self, index: Index, term: Term, snapshot_ids: &[(Index, ProposalId)], keep_suffix: bool) {
        if keep_suffix && index <= self.last_index() && index >= self.snapshot_index {
            let count = (index - self.snapshot_index) as usize;
            self.entries.drain(..count);
        } else {
            self.entries.clear();
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.proposal_index = IdMap::default();
        self.compacted_ids.clear();
        self.remember_compacted_ids(snapshot_ids);
        for entry in &self.entries {
            if let Some(id) = &entry.id {
                self.proposal_index.insert(id.clone(), entry.index);
            }
        }
        self.committed = self.committed.max(index);
        self.applied = index;
        self.persist_from = index + 1;
        self.stable_index = self.stable_index.min(self.last_index()).max(index);
    }

    /// Adds a snapshot's remembered ids (those still inside the window, at or below the snapshot point).
    fn remember_compacted_ids(&mut self, ids: &[(Index, ProposalId)]) {
        for (index, id) in ids {
            if *index <= self.snapshot_index && index.saturating_add(self.id_window) > self.snapshot_index {
                self.proposal_index.insert(id.clone(), *index);
                self.compacted_ids.push_back((*index, id.clone()));
            }
        }
    }

    fn forget_ids_outside_window(&mut self) {
        while let Some((index, _)) = self.compacted_ids.front() {
            if index.saturating_add(self.id_window) > self.snapshot_index {
                break;
            }
            let Some((index, id)) = self.compacted_ids.pop_front() else { break };
            if self.proposal_index.get(&id) == Some(&index) {
                self.proposal_index.remove(&id);
            }
        }
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
        self.proposal_index.get(id).copied()
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
        if let Some(id) = &entry.id {
            if !self.proposal_index.insert_new(id.clone(), entry.index) {
                return false;
            }
        }
        self.entries.push_back(entry);
        true
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
                // Below the snapshot no terms are known: the logs may match at most up to `probe` (for a leader,
                // that means the follower needs the snapshot).
                None => return (probe, 0),
            }
        }
    }

    /// Entries from `from` on, as many as fit in `max_bytes` (at least one if any exists).
    pub fn entries_from(&self, from: Index, max_bytes: u64) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        let mut index = from.max(self.first_index());
        while let Some(entry) = self.entry(index) {
            bytes += entry.size_bytes();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(entry.clone());
            index += 1;
        }
        out
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
        let out: Vec<Entry> = (from..=self.last_index()).filter_map(|i| self.entry(i).cloned()).collect();
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
        let mut out = Vec::new();
        let mut bytes = 0u64;
        let mut index = self.applied + 1;
        while index <= upto {
            let Some(entry) = self.entry(index) else { break };
            bytes += entry.size_bytes();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(entry.clone());
            index += 1;
        }
        self.applied = index - 1;
        out
    }

    pub fn has_committed_to_apply(&self) -> bool {
        self.committed.min(self.stable_index) > self.applied
    }

    fn push(&mut self, entry: Entry) {
        if let Some(id) = &entry.id {
            self.proposal_index.insert(id.clone(), entry.index);
        }
        self.entries.push_back(entry);
    }

    fn truncate_from(&mut self, index: Index) {
        while self.last_index() >= index {
            let Some(entry) = self.entries.pop_back() else { break };
            if let Some(id) = &entry.id {
                if self.proposal_index.get(id) == Some(&entry.index) {
                    self.proposal_index.remove(id);
                }
            }
        }
        self.persist_from = self.persist_from.min(index);
        self.stable_index = self.stable_index.min(index - 1);
    }
}
