//! A node's storage in memory: the hard state, snapshot and entries a crash-restart starts from, written by the
//! core's persist requests exactly as a disk would keep them.

use flotilla_raft::{Entry, HardState, Index, Membership, PersistRequest, RestoredState, Snapshot};

/// What a node's storage holds: the state a crash-restart starts from. `entries` follow the snapshot (or start at
/// index 1 without one).
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

impl MemoryStorage {
    pub fn snapshot_index(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.meta.index)
    }

    /// Applies one persist request: a snapshot replaces the whole log, then entries replace everything from their
    /// first index on.
    pub fn write(&mut self, request: &PersistRequest) {
        if let Some(snapshot) = &request.snapshot {
            self.snapshot = Some(snapshot.clone());
            self.entries.clear();
        }
        if let Some(first) = request.entries.first() {
            let base = self.snapshot_index();
            let keep = first.index.saturating_sub(base + 1) as usize;
            self.entries.truncate(keep);
            self.entries.extend(request.entries.iter().filter(|e| e.index > base).cloned());
        }
        if let Some(hard_state) = request.hard_state {
            self.hard_state = hard_state;
        }
    }

    /// The driver's side of `Raft::compact`: keeps the new snapshot and drops the entries it covers.
    pub fn compact(&mut self, snapshot: &Snapshot) {
        let base = self.snapshot_index();
        if snapshot.meta.index <= base {
            return;
        }
        let covered = ((snapshot.meta.index - base) as usize).min(self.entries.len());
        self.entries.drain(..covered);
        self.snapshot = Some(snapshot.clone());
    }

    /// What a node restarting from this storage reads back.
    pub fn restored_state(&self, membership: Membership) -> RestoredState {
        RestoredState {
            hard_state: self.hard_state,
            membership,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
            joining: false,
        }
    }
}
