//! The replicated log as one node sees it: the entries since the last snapshot, how far they are durable
//! (acknowledged by storage), committed and handed out for application, and which proposal ids they hold.
//!
//! Entries are kept in memory from the snapshot on; storage is write-behind. Three markers split the log:
//! `stable_index` (durable here), `persist_from` (not yet handed to storage) and `committed`.
//!
//! Compaction drops a prefix of applied entries; the snapshot then stands for them, and the log keeps the index
//! and term of the last one (so the log-matching check works at the boundary). Proposal ids of compacted entries
//! stay known for `id_window` more entries (in `compacted_ids`, by index), so that a late retry of them still
//! commits nothing new.
//!
//! Only a leader deduplicates proposals, so the proposal-id index is kept lazily: the ids up to `indexed_to`
//! (compacted or in the log) are in it, and the first proposal a leader appends indexes the rest at once. A
//! follower, which appends most entries, never pays for the index; a new leader pays once for the entries it
//! took as a follower and the ids it restored or received with a snapshot. The index names an id by its log
//! index, whether the id is still in an entry or already among the compacted ids: compaction leaves it alone.

use super::chunked::ChunkedDeque;
use super::id_index::IdPositions;
use super::proposal_ids::ProposalIds;
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
    /// Where each proposal id in the log or in `compacted_ids` sits, so that a retried proposal is recognised.
    /// Covers the ids up to `indexed_to`; `index_ids` brings it up to the last entry.
    proposal_index: IdPositions,
    indexed_to: Index,
    /// Ids of compacted entries still remembered, by index (all at or below `snapshot_index`).
    compacted_ids: ProposalIds,
    /// How many entries past its index a compacted id is remembered.
    id_window: u64,
    /// Ids that left the window at the last compaction and may still be in `proposal_index`.
    leaving: Option<LeavingIds>,
}

/// Ids that left the id window, taken out of the proposal-id index a few at a time (`RaftLog::unindex_some`):
/// taking a hundred thousand out at once took 20 ms. Lookups ignore them meanwhile, as `HeldIds` holds only the
/// window's ids.
#[derive(Debug)]
struct LeavingIds {
    /// Shares its blocks with what `compacted_ids` held before the compaction.
    ids: ProposalIds,
    /// The next index to take out, and the end of those leaving.
    next: Index,
    end: Index,
}

/// Leaving ids taken out of the index with each appended proposal, and with each tick.
const UNINDEX_PER_APPEND: usize = 16;
pub const UNINDEX_PER_TICK: usize = 1024;

impl RaftLog {
    /// A log restored from storage: everything given is durable. `committed` is clamped to what exists. Entries
    /// must follow the snapshot point; `snapshot_ids` are the ids the snapshot remembers.
    pub fn restore(
        snapshot_index: Index,
        snapshot_term: Term,
        snapshot_ids: &ProposalIds,
        entries: Vec<Entry>,
        committed: Index,
        id_window: u64,
    ) -> RaftLog {
        let mut log = RaftLog {
            snapshot_index,
            snapshot_term,
            entries: ChunkedDeque::new(),
            committed: 0,
            applied: snapshot_index,
            stable_index: 0,
            persist_from: 0,
            proposal_index: IdPositions::default(),
            indexed_to: 0,
            compacted_ids: ProposalIds::new(),
            id_window,
            leaving: None,
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
    pub fn compacted_ids(&self) -> ProposalIds {
        self.compacted_ids.clone()
    }

    /// Drops the entries up to `index` (which must be in the log and applied): a snapshot now stands for them.
    /// The log keeps `index`'s term, and remembers the dropped entries' proposal ids for the id window. Returns
    /// the dropped entries, for the caller to free where that costs nothing (a hundred thousand take ms).
    pub fn compact_to(&mut self, index: Index) -> Vec<Entry> {
        let Some(term) = self.term(index) else { return Vec::new() };
        if index <= self.snapshot_index {
            return Vec::new();
        }
        let count = (index - self.snapshot_index) as usize;
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.forget_ids_outside_window();
        let window_start = self.window_start();
        // Whole chunks of entries are freed; their ids move to `compacted_ids` under the same index, where the
        // proposal-id index still finds them.
        let mut dropped = Vec::with_capacity(count);
        for entry in self.entries.drain(..count) {
            if let Some(id) = &entry.id {
                if entry.index >= window_start {
                    self.compacted_ids.push(entry.index, id);
                } else if entry.index <= self.indexed_to {
                    self.proposal_index.remove(self.proposal_index.hash(id), entry.index);
                }
            }
            dropped.push(entry);
        }
        self.persist_from = self.persist_from.max(index + 1);
        self.stable_index = self.stable_index.max(index);
        self.applied = self.applied.max(index);
        self.committed = self.committed.max(index);
        dropped
    }

    /// Takes a snapshot received from the leader (paper, Figure 13): the entries after it are kept if
    /// `keep_suffix` (the caller found the entry at `index` with `term`), else the whole log is discarded. The
    /// snapshot's point counts as committed and applied; the entries kept must be persisted again after the
    /// snapshot (storage drops its whole log when it writes one).
    pub fn install_snapshot(&mut self, index: Index, term: Term, snapshot_ids: &ProposalIds, keep_suffix: bool) {
        if keep_suffix && index <= self.last_index() && index >= self.snapshot_index {
            let count = (index - self.snapshot_index) as usize;
            self.entries.drain(..count);
        } else {
            self.entries.clear();
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        // The snapshot's ids replace ours; like the entries kept, they are indexed when this node next leads.
        self.proposal_index.clear();
        self.leaving = None;
        self.indexed_to = 0;
        self.compacted_ids.clear();
        self.remember_compacted_ids(snapshot_ids);
        self.committed = self.committed.max(index);
        self.applied = index;
        self.persist_from = index + 1;
        self.stable_index = self.stable_index.min(self.last_index()).max(index);
    }

    /// The lowest index whose id is still remembered once compacted: ids stay known until the snapshot index
    /// passes their own by `id_window`.
    fn window_start(&self) -> Index {
        (self.snapshot_index + 1).saturating_sub(self.id_window)
    }

    /// Takes a snapshot's remembered ids (those still inside the window, at or below the snapshot point), in a
    /// log that remembers none. They are shared with the snapshot, not copied.
    fn remember_compacted_ids(&mut self, ids: &ProposalIds) {
        self.compacted_ids = ids.up_to(self.snapshot_index);
        self.compacted_ids.forget_below(self.window_start(), |_, _| {});
    }

    fn forget_ids_outside_window(&mut self) {
        let window_start = self.window_start();
        let Some(first) = self.compacted_ids.first_index().filter(|&first| first < window_start) else { return };
        // What the last compaction left is taken out now (rarely anything: ticks and appends take it out).
        self.unindex_some(usize::MAX);
        self.leaving = Some(LeavingIds { ids: self.compacted_ids.clone(), next: first, end: window_start });
        self.compacted_ids.forget_below(window_start, |_, _| {});
    }

    #[cfg(test)]
    fn proposal_index_len(&self) -> usize {
        self.proposal_index.len()
    }

    /// Takes up to `budget` of the ids that left the window out of the proposal-id index.
    pub fn unindex_some(&mut self, budget: usize) {
        let Some(leaving) = self.leaving.as_mut() else { return };
        let indexed_to = self.indexed_to;
        let proposal_index = &mut self.proposal_index;
        let mut next = leaving.end;
        for (taken, (index, id)) in leaving.ids.iter_from(leaving.next).enumerate() {
            if index >= leaving.end {
                break;
            }
            if taken == budget {
                next = index;
                break;
            }
            if index <= indexed_to {
                proposal_index.remove(proposal_index.hash(id), index);
            }
        }
        if next >= leaving.end {
            self.leaving = None;
        } else {
            leaving.next = next;
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

    /// Where the proposal with this id sits in the log or among the remembered compacted ids, if it does.
    pub fn index_of_proposal(&self, id: &ProposalId) -> Option<Index> {
        // The ids not yet indexed are searched one by one, the latest first (as the index would answer).
        let unindexed = (self.indexed_to.max(self.snapshot_index) - self.snapshot_index) as usize;
        let in_log = self.entries.range(unindexed..).rev().find(|e| e.id.as_ref() == Some(id)).map(|e| e.index);
        let compacted = || {
            let unindexed = self.compacted_ids.iter_from(self.indexed_to + 1);
            unindexed.filter(|&(_, held)| held == &**id).map(|(index, _)| index).last()
        };
        in_log.or_else(compacted).or_else(|| {
            let hash = self.proposal_index.hash(id);
            let held = HeldIds::of(&self.entries, &self.compacted_ids, self.snapshot_index);
            self.proposal_index.find_shared(hash, |index| held.holds(index, id))
        })
    }

    /// `index_of_proposal` for an id that may well be held (a client's retry): brings the proposal-id index up to
    /// date first, so that a follower pays for indexing once per entry rather than a scan of its log per lookup.
    pub fn find_proposal(&mut self, id: &ProposalId) -> Option<Index> {
        self.index_ids();
        self.unindex_some(UNINDEX_PER_APPEND);
        let hash = self.proposal_index.hash(id);
        let held = HeldIds::of(&self.entries, &self.compacted_ids, self.snapshot_index);
        self.proposal_index.find(hash, |index| held.holds(index, id))
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

    /// Appends an entry the leader created for a proposal, unless the log (or the remembered compacted ids)
    /// already holds its id (one lookup for both the check and the insert). Returns whether it appended.
    pub fn append_new_unless_known(&mut self, entry: Entry) -> bool {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        self.index_ids();
        self.unindex_some(UNINDEX_PER_APPEND);
        if let Some(id) = &entry.id {
            let hash = self.proposal_index.hash(id);
            let held = HeldIds::of(&self.entries, &self.compacted_ids, self.snapshot_index);
            if !self.proposal_index.insert_new(hash, entry.index, |index| held.holds(index, id)) {
                return false;
            }
        }
        self.entries.push_back(entry);
        self.indexed_to = self.last_index();
        true
    }

    /// Adds the ids not yet indexed (remembered compacted ones, then the log's) to the proposal-id index.
    fn index_ids(&mut self) {
        if self.indexed_to == self.last_index() {
            return;
        }
        let from = self.indexed_to + 1;
        let unindexed_entries = (self.indexed_to.max(self.snapshot_index) - self.snapshot_index) as usize;
        let lowest_held = self.compacted_ids.first_index().unwrap_or(self.first_index());
        self.proposal_index.reserve((self.last_index() + 1).saturating_sub(from.max(lowest_held)) as usize);
        let held = HeldIds::of(&self.entries, &self.compacted_ids, self.snapshot_index);
        let compacted = self.compacted_ids.iter_from(from);
        let in_log = self.entries.range(unindexed_entries..).filter_map(|e| e.id.as_ref().map(|id| (e.index, &**id)));
        for (index, id) in compacted.chain(in_log) {
            let hash = self.proposal_index.hash(id);
            // An id held twice (only possible across leaders that did not know of each other's copy, or beyond
            // one leader's id window) is found at its latest index, as a lookup expects.
            if let Some(earlier) = self.proposal_index.find(hash, |at| held.holds(at, id)) {
                self.proposal_index.remove(hash, earlier);
            }
            self.proposal_index.insert(hash, index);
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
                // Below the snapshot no terms are known: the logs may match at most up to `probe` (for a leader,
                // that means the follower needs the snapshot).
                None => return (probe, 0),
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

/// Where the proposal-id index confirms an id: a position at or below the snapshot index names a remembered
/// compacted id, one above it an entry of the log.
#[derive(Clone, Copy)]
struct HeldIds<'a> {
    entries: &'a ChunkedDeque<Entry>,
    compacted: &'a ProposalIds,
    snapshot_index: Index,
}

impl<'a> HeldIds<'a> {
    fn of(entries: &'a ChunkedDeque<Entry>, compacted: &'a ProposalIds, snapshot_index: Index) -> HeldIds<'a> {
        HeldIds { entries, compacted, snapshot_index }
    }

    /// Whether the id at `index` is `id`.
    fn holds(&self, index: Index, id: &str) -> bool {
        if index <= self.snapshot_index {
            return self.compacted.get(index) == Some(id);
        }
        let entry = self.entries.get((index - self.snapshot_index - 1) as usize);
        entry.is_some_and(|entry| entry.id.as_deref() == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EntryKind, Payload};

    fn entry(index: Index, term: Term, id: &str) -> Entry {
        Entry { term, index, kind: EntryKind::Normal, id: Some(ProposalId::from(id)), data: Payload::from(&b"x"[..]) }
    }

    #[test]
    fn ids_a_follower_appended_are_known_when_it_leads() {
        let mut log = RaftLog::restore(0, 0, &ProposalIds::new(), vec![entry(1, 1, "a")], 1, 100);
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
        let mut log = RaftLog::restore(0, 0, &ProposalIds::new(), vec![entry(1, 1, "a")], 1, 100);
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

    fn id(text: &str) -> ProposalId {
        ProposalId::from(text)
    }

    /// A log of `count` entries with ids "e1".."e{count}", all committed, stable and applied.
    fn applied_log(count: Index, window: u64) -> RaftLog {
        let entries = (1..=count).map(|i| entry(i, 1, &format!("e{i}"))).collect();
        let mut log = RaftLog::restore(0, 0, &ProposalIds::new(), entries, count, window);
        let _ = log.take_committed(u64::MAX);
        log
    }

    #[test]
    fn compacted_ids_stay_known_for_the_window_whether_indexed_before_or_after() {
        for index_first in [true, false] {
            let mut log = applied_log(30, 10);
            if index_first {
                // Leading before the compaction: the ids are indexed while in the log, and stay indexed.
                assert!(log.append_new_unless_known(entry(31, 1, "e31")));
            } else {
                log.append_new(entry(31, 1, "e31"));
            }
            log.compact_to(25);
            assert_eq!(log.first_index(), 26);
            // Within the window (index + 10 > 25) the ids are known, below it they are forgotten.
            for i in 1..=31u64 {
                let expected = (i >= 16).then_some(i);
                assert_eq!(log.index_of_proposal(&id(&format!("e{i}"))), expected, "e{i} ({index_first})");
            }
            assert!(!log.append_new_unless_known(entry(32, 1, "e16")), "a compacted id in the window");
            assert!(!log.append_new_unless_known(entry(32, 1, "e28")), "an id in the log");
            assert!(log.append_new_unless_known(entry(32, 1, "e15")), "forgotten with the window");
            assert_eq!(log.compacted_ids().iter().next(), Some((16, "e16")));
            assert_eq!(log.compacted_ids().len(), 10);
            // Compacting further forgets what falls out of the window, from the index too.
            log.compact_to(30);
            assert!(log.append_new_unless_known(entry(33, 1, "e20")));
            assert!(!log.append_new_unless_known(entry(34, 1, "e21")));
            assert_eq!(log.compacted_ids().iter().map(|(i, _)| i).collect::<Vec<_>>(), (21..=30).collect::<Vec<_>>());
        }
    }

    #[test]
    fn ids_leaving_the_window_are_unknown_at_once_and_leave_the_index_a_few_at_a_time() {
        let mut log = applied_log(3_000, 1_000);
        assert!(log.append_new_unless_known(entry(3_001, 1, "e3001")), "leading: every id is indexed");
        let indexed = log.proposal_index_len();
        log.compact_to(1_000);
        log.compact_to(2_000);
        // e1..e1000 left the window: unknown at once, though still in the index.
        assert_eq!(log.index_of_proposal(&id("e1")), None);
        assert_eq!(log.index_of_proposal(&id("e1000")), None);
        assert_eq!(log.index_of_proposal(&id("e1001")), Some(1_001));
        assert_eq!(log.proposal_index_len(), indexed, "nothing was taken out of the index at the compaction");
        // Each append takes a few out; the rest go with ticks.
        assert!(log.append_new_unless_known(entry(3_002, 1, "e5")), "a forgotten id may come again");
        assert_eq!(log.proposal_index_len(), indexed + 1 - UNINDEX_PER_APPEND);
        log.unindex_some(usize::MAX);
        assert!(log.leaving.is_none());
        assert_eq!(log.proposal_index_len(), indexed + 1 - 1_000);
        assert_eq!(log.index_of_proposal(&id("e5")), Some(3_002), "the new copy stays");
        assert_eq!(log.index_of_proposal(&id("e6")), None);
        // A compaction while ids are still leaving takes those out first.
        log.compact_to(2_500);
        assert!(log.leaving.is_some());
        log.compact_to(3_000);
        assert_eq!(log.proposal_index_len(), indexed + 1 - 1_000 - 500, "the first 500 leaving were taken out");
        log.unindex_some(usize::MAX);
        assert_eq!(log.proposal_index_len(), indexed + 1 - 2_000);
        for i in (1..=2_000u64).step_by(97) {
            assert_eq!(log.index_of_proposal(&id(&format!("e{i}"))), if i == 5 { Some(3_002) } else { None }, "e{i}");
        }
    }

    #[test]
    fn ids_restored_or_received_with_a_snapshot_are_known_when_it_leads() {
        let snapshot_ids = [(3, "s3"), (8, "s8"), (10, "s10")].into_iter().collect();
        let mut log = RaftLog::restore(10, 1, &snapshot_ids, vec![entry(11, 1, "e11")], 11, 5);
        assert_eq!(log.compacted_ids(), [(8, "s8"), (10, "s10")].into_iter().collect(), "s3 is outside the window");
        assert_eq!(log.index_of_proposal(&id("s8")), Some(8));
        for known in ["s8", "s10", "e11"] {
            assert!(!log.append_new_unless_known(entry(12, 2, known)), "{known}");
        }
        assert!(log.append_new_unless_known(entry(12, 2, "s3")));

        // A follower that receives a snapshot knows its ids (and forgets its own) when it leads next.
        let mut log = applied_log(5, 100);
        assert!(log.append_new_unless_known(entry(6, 1, "e6")));
        log.install_snapshot(20, 2, &[(19, "r19"), (20, "r20")].into_iter().collect(), false);
        assert_eq!(log.index_of_proposal(&id("e6")), None);
        assert_eq!(log.index_of_proposal(&id("r19")), Some(19));
        assert!(!log.append_new_unless_known(entry(21, 2, "r19")));
        assert!(log.append_new_unless_known(entry(21, 2, "e6")));
        // The compacted ids continue seamlessly at the next compaction.
        let _ = log.take_unpersisted();
        log.stable_to(21, 2);
        log.commit_to(21);
        let _ = log.take_committed(u64::MAX);
        log.compact_to(21);
        assert_eq!(log.compacted_ids(), [(19, "r19"), (20, "r20"), (21, "e6")].into_iter().collect());
        assert!(!log.append_new_unless_known(entry(22, 2, "e6")));
    }
}
