//! What the core hands to its driver after a batch of inputs: messages to send, state to persist, entries to
//! apply and role changes. The driver persists, sends, applies, then acknowledges the write with `persisted`.

use super::message::Message;
use super::own_indices::OwnIndices;
use super::types::{Entry, HardState, Index, NodeId, ProposalId, Role, Snapshot, Term};

/// Work for storage. `entries` replace any stored entries from `entries[0].index` on.
///
/// With a `snapshot` (one this follower received from the leader), the snapshot replaces the whole stored log:
/// storage makes the snapshot durable first, then drops every entry it holds, and then writes `entries` (which
/// start right after the snapshot: the entries the core kept, if any). Dropping and writing must be one atomic
/// step (one WAL record), because the kept entries may have been acknowledged to the leader already. A crash
/// after the snapshot is durable but before the log changed is safe: on restart the core ignores restored entries
/// at or below the snapshot's index, and all of them if the one at the snapshot's index has another term.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersistRequest {
    /// Acknowledge with `Raft::persisted(token)` once durable. Tokens increase; acknowledge them in order.
    pub token: u64,
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

/// The part of a node's state that is not persisted but that observers care about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    pub role: Role,
    pub leader: Option<NodeId>,
    pub term: Term,
}

#[derive(Debug, Default)]
pub struct Ready {
    /// Safe to send now: messages that depended on a write were held back until it was acknowledged.
    pub messages: Vec<Message>,
    pub persist: Option<PersistRequest>,
    /// A snapshot received from the leader, now durable: the application restores its state from it BEFORE
    /// applying `committed` (which then starts right after `snapshot.meta.index`). Handed out once.
    pub snapshot: Option<Snapshot>,
    /// Committed and locally durable entries, in order, to apply (including the engine's own entries:
    /// check `Entry::is_user_data`).
    pub committed: Vec<Entry>,
    /// The log indices, ascending, of this node's own proposals that this `Ready` reports committed (in
    /// `committed`, or covered by `snapshot`): the ones it was waiting for. The driver settles them without
    /// guessing from ids.
    pub own: OwnIndices,
    /// Ids of this node's proposals it stopped waiting for: the log moved on so far since they were made that a
    /// retry could commit them twice, so they are no longer retried. Each may have committed, or may yet commit
    /// (then it shows up in `committed` as usual), but never twice: report its outcome as unknown.
    pub abandoned: Vec<ProposalId>,
    /// Set when the role, leader or term changed since the last `Ready`.
    pub soft_state: Option<SoftState>,
    /// This node's reads that have their read index: each may be served once the node has applied up to its
    /// index (`Raft::read_index`).
    pub reads: Vec<ReadState>,
}

/// A read of this node with its read index (thesis 6.4): once the node has applied up to `index`, its state
/// reflects every write acknowledged before the read was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The number the read was asked with.
    pub request: u64,
    pub index: Index,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.persist.is_none()
            && self.snapshot.is_none()
            && self.committed.is_empty()
            && self.abandoned.is_empty()
            && self.soft_state.is_none()
            && self.reads.is_empty()
    }
}
