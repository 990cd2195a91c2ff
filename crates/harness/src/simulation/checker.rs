//! The safety checker: Raft's invariants (paper, Figure 3), checked after every step against the nodes' in-memory
//! logs and a record of history: the leader of each term, the prefix behind every (index, term) ever seen, and the
//! entry committed at each index. Every check returns `Result<(), Violation>` so that a test can expect a failure.
//!
//! Logs are compacted: a node's mirror starts at its snapshot point, which must be a committed index whose history
//! hash is the snapshot's state. A node's state machine is the chained hash of every entry it applied; a snapshot
//! carries that hash (see `encode_state`), and a node restoring one must restore exactly the committed history.

use flotilla_raft::{Entry, EntryKind, Index, NodeId, ProposalId, Raft, Role, Snapshot, Term};
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast, deterministic hasher for the checker's maps (keys are small and not adversarial).
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix_bytes(self.0, bytes);
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = mix(self.0, value);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// Which property a run broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invariant {
    /// At most one leader per term, over the whole history.
    ElectionSafety,
    /// Two logs holding an entry with the same index and term are identical up to it.
    LogMatching,
    /// An entry committed in a term is in the log of every leader of a later term.
    LeaderCompleteness,
    /// No two nodes apply (or leaders commit) different entries at one index.
    StateMachineSafety,
    /// A node applies its log in order, one index after the other, and only committed entries.
    ApplyOrder,
    /// A snapshot (taken, sent, received or restored) holds exactly the committed history up to its index.
    SnapshotState,
    /// A proposal id is applied at most once per node, and committed at one index only.
    ExactlyOnce,
    /// A node restarts from what its disk holds.
    Recovery,
    /// A read returns a state at least as new as every write acknowledged and every read completed before it
    /// was asked, and only once its node applied up to it.
    Linearizability,
    /// After the faults heal, a leader appears and every acknowledged or pending proposal is applied everywhere.
    Liveness,
    /// The core panicked.
    Panic,
    /// No entry a stranger (a name no configuration holds) proposed or appended is committed.
    MembersOnly,
}

/// The name of the stranger on the simulated channel (see `world/stranger.rs`); its forged entries' ids begin
/// with it.
pub const STRANGER: &str = "stranger";

#[derive(Clone, Debug)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

impl Violation {
    pub fn new(invariant: Invariant, detail: impl Into<String>) -> Violation {
        Violation { invariant, detail: detail.into() }
    }

    /// Whether this breaks a safety property (as opposed to liveness).
    pub fn is_safety(&self) -> bool {
        !matches!(self.invariant, Invariant::Liveness | Invariant::Panic)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} violated: {}", self.invariant, self.detail)
    }
}

/// A content hash of one entry, so that entries compare without keeping copies.
pub fn fingerprint(entry: &Entry) -> u64 {
    let kind: u64 = match entry.kind {
        EntryKind::Normal => 1,
        EntryKind::Noop => 2,
        EntryKind::ConfChange => 3,
    };
    let mut hash = mix(mix(mix(0x243F_6A88_85A3_08D3, entry.index), entry.term), kind);
    match &entry.id {
        Some(id) => hash = mix_bytes(mix(hash, 1), id.as_bytes()),
        None => hash = mix(hash, 0),
    }
    mix_bytes(hash, &entry.data)
}

fn mix(hash: u64, value: u64) -> u64 {
    (hash ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

fn mix_bytes(mut hash: u64, bytes: &[u8]) -> u64 {
    hash = mix(hash, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        hash = mix(hash, u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(hash, u64::from_le_bytes(tail))
}

/// Chains an entry's fingerprint onto the hash of the log before it.
fn chain(prefix: u64, fingerprint: u64) -> u64 {
    let mut z = prefix.rotate_left(17) ^ fingerprint.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Copy, Debug)]
struct MirrorEntry {
    term: Term,
    fingerprint: u64,
    /// The chained hash of the log up to and including this entry.
    prefix: u64,
}

#[derive(Clone, Debug)]
struct CommittedEntry {
    term: Term,
    fingerprint: u64,
    /// The chained hash of the committed log up to and including this entry: the state after applying it.
    prefix: u64,
    id: Option<ProposalId>,
    /// The lowest term of a node seen holding it as committed (exact when that node was its leader).
    commit_term: Term,
}

/// What the checker knows of one node's current incarnation.
#[derive(Debug, Default)]
struct NodeView {
    /// The node's snapshot point: the mirror starts after it.
    base: Index,
    /// A copy of the node's log after `base` as (term, fingerprint, prefix hash), kept in step by `sync_log`.
    log: Vec<MirrorEntry>,
    /// Entries up to here were compared with the committed record.
    commit_checked: Index,
    /// The term this node was last seen leading in.
    leading: Option<Term>,
    applied: Index,
    /// The node's state machine: the chained hash of every entry it applied (or restored from a snapshot).
    state: u64,
    /// User entries applied (or restored), for the snapshot's encoding.
    user_entries: u64,
    /// The index of the snapshot the state machine was last restored from: ids committed up to it count as applied.
    restored_index: Index,
    /// Ids applied since then.
    applied_ids: FastSet<ProposalId>,
}

/// A node's state machine as the simulation's snapshots encode it: a magic, the index, the state hash, the number
/// of user entries, then the ids of the user entries applied since the previous snapshot (so that snapshots grow
/// with use, as real ones do, and take several chunks).
pub fn encode_state(index: Index, state: u64, user_entries: u64, recent_ids: &[ProposalId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + recent_ids.iter().map(|id| 4 + id.len()).sum::<usize>());
    out.extend_from_slice(b"simstate");
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&state.to_le_bytes());
    out.extend_from_slice(&user_entries.to_le_bytes());
    for id in recent_ids {
        out.extend_from_slice(&(id.len() as u32).to_le_bytes());
        out.extend_from_slice(id.as_bytes());
    }
    out
}

/// The index, state hash and user entry count of an encoded state, if it is one.
fn decode_state(bytes: &[u8]) -> Option<(Index, u64, u64)> {
    if bytes.len() < 32 || &bytes[..8] != b"simstate" {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    Some((word(8), word(16), word(24)))
}

#[derive(Debug)]
pub struct Checker {
    /// The leader of each term, with the life (incarnation) of that node in which it led.
    leader_of_term: FastMap<Term, (NodeId, u64)>,
    /// Per node (position = id - 1), how many times it restarted.
    lives: Vec<u64>,
    /// The prefix hash behind every (index, term) any node ever held.
    prefix_of: FastMap<(Index, Term), u64>,
    /// The (index, term) of every entry that was ever durable or sent: the others only ever existed in one node's
    /// memory, and are forgotten with it when it crashes.
    published: FastSet<(Index, Term)>,
    /// The entry committed at each index (position = index - 1); contiguous because commits are prefixes.
    committed: Vec<CommittedEntry>,
    index_of_id: FastMap<ProposalId, Index>,
    nodes: Vec<NodeView>,
}

impl Checker {
    pub fn new(size: usize) -> Checker {
        Checker {
            leader_of_term: FastMap::default(),
            lives: vec![0; size],
            prefix_of: FastMap::default(),
            published: FastSet::default(),
            committed: Vec::new(),
            index_of_id: FastMap::default(),
            nodes: (0..size).map(|_| NodeView::default()).collect(),
        }
    }

    fn view(&mut self, id: NodeId) -> &mut NodeView {
        &mut self.nodes[(id - 1) as usize]
    }

    /// The node's volatile state is gone; what it knew will be checked again from its restored log.
    pub fn on_restart(&mut self, id: NodeId) {
        *self.view(id) = NodeView::default();
        self.lives[(id - 1) as usize] += 1;
    }

    /// Entries that reached a disk or the network: part of history from now on.
    pub fn publish(&mut self, entries: &[Entry]) {
        for entry in entries {
            self.published.insert((entry.index, entry.term));
        }
    }

    /// The node's memory is gone, and with it what nobody ever saw: entries it created that never reached a disk or
    /// the network, and a leadership of a term that was not durable (a single node elects itself before its new
    /// term is written). It may create others at that (index, term), and lead that term again.
    pub fn on_crash(&mut self, id: NodeId, durable_term: Term) {
        let view = &mut self.nodes[(id - 1) as usize];
        if let Some(term) = view.leading.take() {
            if term > durable_term {
                self.leader_of_term.remove(&term);
            }
        }
        for (position, mirrored) in view.log.iter().enumerate() {
            let key = (view.base + position as Index + 1, mirrored.term);
            if !self.published.contains(&key) {
                self.prefix_of.remove(&key);
            }
        }
    }

    /// How far a node's current incarnation has applied.
    pub fn applied(&self, id: NodeId) -> Index {
        self.nodes[(id - 1) as usize].applied
    }

    /// Whether the node's state machine holds the proposal (applied, or in the snapshot it restored).
    pub fn has_applied(&self, id: NodeId, proposal: &ProposalId) -> bool {
        let view = &self.nodes[(id - 1) as usize];
        view.applied_ids.contains(proposal) || self.index_of_id.get(proposal).is_some_and(|&i| i <= view.restored_index)
    }

    /// The index at which a proposal committed, if it did.
    pub fn committed_index_of(&self, proposal: &ProposalId) -> Option<Index> {
        self.index_of_id.get(proposal).copied()
    }

    /// The state the node's application would put in a snapshot now: (applied index, encoded state). The ids are
    /// those of the user entries applied after `since`.
    pub fn snapshot_data(&self, id: NodeId, since: Index) -> (Index, Vec<u8>) {
        let view = &self.nodes[(id - 1) as usize];
        let recent: Vec<ProposalId> = (since + 1..=view.applied)
            .filter_map(|index| self.committed.get((index - 1) as usize).and_then(|c| c.id.clone()))
            .collect();
        (view.applied, encode_state(view.applied, view.state, view.user_entries, &recent))
    }

    /// A node's state machine is restored from a snapshot: received from a leader (`Ready::snapshot`, `fresh` false)
    /// or read from its disk at restart (`fresh` true). The snapshot must be of a committed index, with that entry's
    /// term, and hold the state of the committed history up to it; a received one must move the state forward.
    pub fn on_snapshot(&mut self, id: NodeId, snapshot: &Snapshot, fresh: bool) -> Result<(), Violation> {
        let index = snapshot.meta.index;
        let Some((data_index, state, user_entries)) = decode_state(&snapshot.data) else {
            return Err(Violation::new(
                Invariant::SnapshotState,
                format!("node {id} restores unreadable snapshot bytes"),
            ));
        };
        let expected = self.committed_state(index);
        let committed_term = index.checked_sub(1).and_then(|i| self.committed.get(i as usize)).map(|c| c.term);
        let consistent = data_index == index
            && expected == Some(state)
            && (index == 0 || committed_term == Some(snapshot.meta.term));
        if !consistent {
            return Err(Violation::new(
                Invariant::SnapshotState,
                format!(
                    "node {id} restores a snapshot at (index {index}, term {}) whose state is not the committed \
                     history's ({} entries committed)",
                    snapshot.meta.term,
                    self.committed.len()
                ),
            ));
        }
        let view = self.view(id);
        if !fresh && index <= view.applied {
            return Err(Violation::new(
                Invariant::ApplyOrder,
                format!("node {id} restores a snapshot at {index} after applying up to {}", view.applied),
            ));
        }
        view.applied = index;
        view.state = state;
        view.user_entries = user_entries;
        view.restored_index = index;
        view.applied_ids.clear();
        Ok(())
    }

    /// The state after applying the committed history up to `index` (0 for none), if that far is committed.
    fn committed_state(&self, index: Index) -> Option<u64> {
        match index {
            0 => Some(0),
            _ => self.committed.get((index - 1) as usize).map(|c| c.prefix),
        }
    }

    pub fn terms_with_leaders(&self) -> usize {
        self.leader_of_term.len()
    }

    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// Checks one node after a step in which it may have changed: its role, its log and its commit index.
    pub fn observe(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        self.check_election_safety(id, raft)?;
        self.sync_log(id, raft)?;
        self.check_new_leader_completeness(id, raft)?;
        self.check_committed(id, raft)
    }

    /// Rebuilds the mirror of a node's log from scratch, so that a change below the last entry (which the
    /// incremental sync would not notice) is still checked.
    pub fn resync(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        self.view(id).log.clear();
        self.sync_log(id, raft)
    }

    /// A node's log starts at a new snapshot point (compacted, or replaced by a received snapshot): the point must be
    /// committed, with the committed entry's term; the mirror restarts there.
    fn rebase(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        let (index, term) = (raft.log().snapshot_index(), raft.log().snapshot_term());
        let committed = index.checked_sub(1).and_then(|i| self.committed.get(i as usize));
        if index > 0 && committed.is_none_or(|c| c.term != term) {
            return Err(Violation::new(
                Invariant::SnapshotState,
                format!(
                    "node {id} compacted its log up to (index {index}, term {term}), which is not a committed entry \
                     ({} committed{})",
                    self.committed.len(),
                    committed.map_or(String::new(), |c| format!("; term {} there", c.term))
                ),
            ));
        }
        let view = self.view(id);
        view.base = index;
        view.log.clear();
        view.commit_checked = view.commit_checked.max(index);
        Ok(())
    }

    /// Log Matching: brings the mirror up to date with the node's log (the core only truncates a suffix and
    /// appends), and checks each new entry's prefix against every other log that ever held its (index, term).
    fn sync_log(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        let log = raft.log();
        if log.snapshot_index() != self.nodes[(id - 1) as usize].base {
            self.rebase(id, raft)?;
        }
        let base_prefix = self.committed_state(log.snapshot_index()).unwrap_or(0);
        let last = log.last_index();
        let view = &mut self.nodes[(id - 1) as usize];
        let base = view.base;
        let mut keep = view.log.len().min((last - base) as usize);
        while keep > 0 {
            let Some(entry) = log.entry(base + keep as Index) else {
                return Err(Violation::new(Invariant::LogMatching, format!("node {id} has no entry at {keep}")));
            };
            let mirrored = view.log[keep - 1];
            if mirrored.term == entry.term && mirrored.fingerprint == fingerprint(entry) {
                break;
            }
            keep -= 1;
        }
        view.log.truncate(keep);
        for index in base + keep as Index + 1..=last {
            let Some(entry) = log.entry(index) else {
                return Err(Violation::new(Invariant::LogMatching, format!("node {id} has no entry at {index}")));
            };
            if entry.index != index || entry.term == 0 {
                return Err(Violation::new(
                    Invariant::LogMatching,
                    format!("node {id} holds entry (index {}, term {}) at position {index}", entry.index, entry.term),
                ));
            }
            let fingerprint = fingerprint(entry);
            let previous = view.log.last().map_or(base_prefix, |m| m.prefix);
            let prefix = chain(previous, fingerprint);
            match self.prefix_of.entry((index, entry.term)) {
                MapEntry::Occupied(seen) if *seen.get() != prefix => {
                    return Err(Violation::new(
                        Invariant::LogMatching,
                        format!(
                            "node {id} holds (index {index}, term {}) with a log up to it that differs from another \
                             log's with the same entry",
                            entry.term
                        ),
                    ));
                }
                MapEntry::Occupied(_) => {}
                MapEntry::Vacant(slot) => {
                    slot.insert(prefix);
                }
            }
            view.log.push(MirrorEntry { term: entry.term, fingerprint, prefix });
        }
        Ok(())
    }

    /// Election Safety: one leader per term, over the whole history.
    fn check_election_safety(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        if raft.role() != Role::Leader {
            return Ok(());
        }
        let term = raft.term();
        let life = self.lives[(id - 1) as usize];
        match self.leader_of_term.entry(term) {
            MapEntry::Occupied(leader) if leader.get().0 != id => Err(Violation::new(
                Invariant::ElectionSafety,
                format!("nodes {} and {id} both led term {term}", leader.get().0),
            )),
            MapEntry::Occupied(leader) if leader.get().1 != life => Err(Violation::new(
                Invariant::ElectionSafety,
                format!("node {id} led term {term} in two lives (before and after a restart)"),
            )),
            MapEntry::Occupied(_) => Ok(()),
            MapEntry::Vacant(slot) => {
                slot.insert((id, life));
                Ok(())
            }
        }
    }

    /// Leader Completeness for a node seen leading a term for the first time: it holds every entry committed in
    /// an earlier term.
    fn check_new_leader_completeness(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        if raft.role() != Role::Leader {
            self.view(id).leading = None;
            return Ok(());
        }
        let term = raft.term();
        if self.view(id).leading != Some(term) {
            self.view(id).leading = Some(term);
            for index in 1..=self.committed.len() as Index {
                self.check_leader_holds(id, term, index)?;
            }
        }
        Ok(())
    }

    /// Whether the leader `id` of `term` holds the committed entry at `index`, if it was committed before `term`.
    fn check_leader_holds(&self, id: NodeId, term: Term, index: Index) -> Result<(), Violation> {
        let committed = &self.committed[(index - 1) as usize];
        if committed.commit_term >= term {
            return Ok(());
        }
        let view = &self.nodes[(id - 1) as usize];
        if index <= view.base {
            // Its snapshot covers the index, and was checked to be the committed history.
            return Ok(());
        }
        let held = view.log.get((index - view.base - 1) as usize);
        if held.is_some_and(|m| m.term == committed.term && m.fingerprint == committed.fingerprint) {
            return Ok(());
        }
        Err(Violation::new(
            Invariant::LeaderCompleteness,
            format!(
                "node {id} leads term {term} without the entry (index {index}, term {}) committed in term {}{}",
                committed.term,
                committed.commit_term,
                match held {
                    Some(m) => format!("; it holds one of term {} there", m.term),
                    None => "; its log is shorter".to_string(),
                }
            ),
        ))
    }

    /// Records what the node considers committed, checking it against what was committed before (State Machine
    /// Safety at commit time), then checks that current leaders of later terms hold the newly committed entries.
    fn check_committed(&mut self, id: NodeId, raft: &Raft) -> Result<(), Violation> {
        let log = raft.log();
        let committed = log.committed;
        let from = self.view(id).commit_checked.max(self.view(id).base) + 1;
        let base = self.view(id).base;
        let first_new = self.committed.len() as Index + 1;
        for index in from..=committed {
            let Some(entry) = log.entry(index) else {
                return Err(Violation::new(
                    Invariant::ApplyOrder,
                    format!("node {id} considers index {committed} committed but its log ends at {}", log.last_index()),
                ));
            };
            // The mirror is in step with the log (synced just before), so its fingerprint is this entry's.
            let mirrored = self.nodes[(id - 1) as usize].log[(index - base - 1) as usize];
            let (fingerprint, prefix) = (mirrored.fingerprint, mirrored.prefix);
            if let Some(known) = self.committed.get_mut((index - 1) as usize) {
                if known.term != entry.term || known.fingerprint != fingerprint {
                    return Err(Violation::new(
                        Invariant::StateMachineSafety,
                        format!(
                            "node {id} considers (index {index}, term {}) committed, but (index {index}, term {}) was \
                             committed before",
                            entry.term, known.term
                        ),
                    ));
                }
                known.commit_term = known.commit_term.min(raft.term());
                continue;
            }
            if let Some(proposal) = &entry.id {
                if proposal.starts_with(STRANGER) {
                    return Err(Violation::new(
                        Invariant::MembersOnly,
                        format!("node {id} considers the stranger's entry {proposal} committed at index {index}"),
                    ));
                }
                if let Some(&earlier) = self.index_of_id.get(proposal) {
                    return Err(Violation::new(
                        Invariant::ExactlyOnce,
                        format!("proposal {proposal} committed at index {earlier} and again at {index}"),
                    ));
                }
                self.index_of_id.insert(proposal.clone(), index);
            }
            let id_of = entry.id.clone().filter(|_| entry.is_user_data());
            self.committed.push(CommittedEntry {
                term: entry.term,
                fingerprint,
                prefix,
                id: id_of,
                commit_term: raft.term(),
            });
        }
        self.view(id).commit_checked = committed.max(from - 1);
        let last_new = self.committed.len() as Index;
        for index in first_new..=last_new {
            for (position, view) in self.nodes.iter().enumerate() {
                if let Some(term) = view.leading {
                    self.check_leader_holds(position as NodeId + 1, term, index)?;
                }
            }
        }
        Ok(())
    }

    /// A node applies an entry handed out in `Ready::committed`: in order, committed, the same entry every other
    /// node applies at that index, and a proposal id at most once.
    pub fn on_apply(&mut self, id: NodeId, entry: &Entry) -> Result<(), Violation> {
        let expected = self.view(id).applied + 1;
        if entry.index != expected {
            return Err(Violation::new(
                Invariant::ApplyOrder,
                format!("node {id} applied index {} after {}", entry.index, expected - 1),
            ));
        }
        let Some(known) = self.committed.get((entry.index - 1) as usize) else {
            return Err(Violation::new(
                Invariant::ApplyOrder,
                format!("node {id} applied index {} before it was committed", entry.index),
            ));
        };
        if known.term != entry.term || known.fingerprint != fingerprint(entry) {
            return Err(Violation::new(
                Invariant::StateMachineSafety,
                format!(
                    "node {id} applied (index {}, term {}) but (index {}, term {}) was committed there",
                    entry.index, entry.term, entry.index, known.term
                ),
            ));
        }
        // Ids commit at one index only: an id applied at another index (before, or inside a restored snapshot)
        // would be applied twice.
        let user_id = entry.id.as_ref().filter(|_| entry.is_user_data());
        let committed_elsewhere = user_id.and_then(|p| self.index_of_id.get(p)).is_some_and(|&at| at != entry.index);
        let view = &mut self.nodes[(id - 1) as usize];
        view.applied = entry.index;
        view.state = chain(view.state, fingerprint(entry));
        if let Some(proposal) = user_id {
            view.user_entries += 1;
            if !view.applied_ids.insert(proposal.clone()) || committed_elsewhere {
                return Err(Violation::new(
                    Invariant::ExactlyOnce,
                    format!("node {id} applied proposal {proposal} twice (again at index {})", entry.index),
                ));
            }
        }
        Ok(())
    }
}

/// The checker itself must fail when shown a broken history: logs and states are made by hand here.
#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_raft::{Config, HardState, Membership, Payload, RestoredState};
    use std::sync::Arc;

    fn entry(index: Index, term: Term, id: Option<&str>, data: &str) -> Entry {
        Entry {
            index,
            term,
            kind: if id.is_some() { EntryKind::Normal } else { EntryKind::Noop },
            id: id.map(Arc::from),
            data: Payload::from(data.as_bytes()),
        }
    }

    /// A node of a cluster of its own, restarted from `entries` with `term` and `commit`.
    fn node(id: NodeId, entries: Vec<Entry>, term: Term, commit: Index) -> Raft {
        let restored = RestoredState {
            hard_state: HardState { term, vote: None, commit },
            membership: Membership::with_voters([id]),
            entries,
            ..RestoredState::default()
        };
        Raft::new(Config::new(id), restored).expect("a valid restored state")
    }

    /// Elects the node (alone in its cluster) and persists everything it asks for.
    fn lead(raft: &mut Raft) {
        raft.campaign();
        while raft.has_ready() {
            let ready = raft.ready();
            if let Some(request) = ready.persist {
                raft.persisted(request.token);
            }
        }
        assert_eq!(raft.role(), Role::Leader);
    }

    fn expect(result: Result<(), Violation>, invariant: Invariant) {
        match result {
            Err(violation) => assert_eq!(violation.invariant, invariant, "{violation}"),
            Ok(()) => panic!("expected a {invariant:?} violation"),
        }
    }

    #[test]
    fn two_leaders_of_one_term_break_election_safety() {
        let mut checker = Checker::new(2);
        let (mut first, mut second) = (node(1, vec![], 0, 0), node(2, vec![], 0, 0));
        lead(&mut first);
        lead(&mut second);
        checker.observe(1, &first).expect("one leader is fine");
        expect(checker.observe(2, &second), Invariant::ElectionSafety);
    }

    #[test]
    fn one_index_and_term_with_two_prefixes_breaks_log_matching() {
        let mut checker = Checker::new(2);
        let first = node(1, vec![entry(1, 1, None, ""), entry(2, 1, Some("a"), "x")], 1, 0);
        let second = node(2, vec![entry(1, 1, Some("b"), "y"), entry(2, 1, Some("a"), "x")], 1, 0);
        checker.observe(1, &first).expect("one log is consistent");
        expect(checker.observe(2, &second), Invariant::LogMatching);
    }

    #[test]
    fn two_entries_committed_at_one_index_break_state_machine_safety() {
        let mut checker = Checker::new(2);
        let first = node(1, vec![entry(1, 1, None, ""), entry(2, 1, Some("a"), "x")], 1, 2);
        let second = node(2, vec![entry(1, 1, None, ""), entry(2, 2, Some("b"), "y")], 2, 2);
        checker.observe(1, &first).expect("one log is consistent");
        expect(checker.observe(2, &second), Invariant::StateMachineSafety);
    }

    #[test]
    fn a_leader_without_an_earlier_commit_breaks_leader_completeness() {
        let mut checker = Checker::new(2);
        let first = node(1, vec![entry(1, 1, None, ""), entry(2, 1, Some("a"), "x")], 1, 2);
        let mut second = node(2, vec![entry(1, 1, None, "")], 1, 1);
        checker.observe(1, &first).expect("one log is consistent");
        checker.observe(2, &second).expect("a shorter log is consistent");
        lead(&mut second);
        expect(checker.observe(2, &second), Invariant::LeaderCompleteness);
    }

    #[test]
    fn one_proposal_committed_twice_breaks_exactly_once() {
        let mut checker = Checker::new(1);
        let log = vec![entry(1, 1, None, ""), entry(2, 1, Some("a"), "x"), entry(3, 1, Some("a"), "x")];
        expect(checker.observe(1, &node(1, log, 1, 3)), Invariant::ExactlyOnce);
    }

    /// A snapshot of node `id` at `index` holding `state`.
    fn snapshot(id: NodeId, index: Index, term: Term, state: u64) -> flotilla_raft::Snapshot {
        flotilla_raft::Snapshot {
            meta: flotilla_raft::SnapshotMeta { index, term, membership: Membership::with_voters([id]) },
            data: Payload::from(encode_state(index, state, 1, &[])),
            ..Default::default()
        }
    }

    #[test]
    fn a_snapshot_that_is_not_the_committed_history_breaks_snapshot_state() {
        let mut checker = Checker::new(2);
        let log = vec![entry(1, 1, None, ""), entry(2, 1, Some("a"), "x")];
        checker.observe(1, &node(1, log.clone(), 1, 2)).expect("a consistent log");
        let state = chain(chain(0, fingerprint(&log[0])), fingerprint(&log[1]));
        checker.on_snapshot(2, &snapshot(2, 2, 1, state), false).expect("the committed history");
        checker.on_restart(2);
        expect(checker.on_snapshot(2, &snapshot(2, 2, 1, state ^ 1), true), Invariant::SnapshotState);
        expect(checker.on_snapshot(2, &snapshot(2, 2, 2, state), true), Invariant::SnapshotState);
        expect(checker.on_snapshot(2, &snapshot(2, 3, 1, state), true), Invariant::SnapshotState);
        // A node restored from the snapshot counts its ids as applied.
        checker.on_snapshot(2, &snapshot(2, 2, 1, state), true).unwrap();
        assert!(checker.has_applied(2, &ProposalId::from("a")));
        expect(checker.on_apply(2, &log[1]), Invariant::ApplyOrder);
    }

    #[test]
    fn applying_twice_or_out_of_order_is_reported() {
        let mut checker = Checker::new(1);
        let log = vec![entry(1, 1, None, ""), entry(2, 1, Some("a"), "x")];
        checker.observe(1, &node(1, log.clone(), 1, 2)).expect("a consistent log");
        expect(checker.on_apply(1, &log[1]), Invariant::ApplyOrder);
        checker.on_apply(1, &log[0]).expect("index 1 first");
        expect(checker.on_apply(1, &entry(2, 1, Some("a"), "other")), Invariant::StateMachineSafety);
        checker.on_apply(1, &log[1]).expect("then index 2");
        checker.on_restart(1);
        checker.on_apply(1, &log[0]).expect("a restarted node applies from the start again");
    }
}
