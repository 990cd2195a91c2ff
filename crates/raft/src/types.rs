//! The vocabulary of the consensus core: node ids, terms, log indices, entries and the hard state that must
//! survive a crash. Indices are 1-based; index 0 and term 0 mean "nothing" (an empty log).

use super::proposal_ids::ProposalIds;
use super::tracker::Membership;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A node's identity inside the core. The node layer maps names (strings on the wire) to these.
pub type NodeId = u64;
/// A Raft term. Term 0 is the term of the empty log.
pub type Term = u64;
/// A 1-based log index. Index 0 is "before the first entry".
pub type Index = u64;

/// A proposal's idempotency key: a proposal retried under the same id commits at most once.
pub type ProposalId = Arc<str>;
/// Opaque application bytes carried by an entry. Shared, so that sending one entry to many peers copies no bytes.
pub type Payload = Arc<[u8]>;

/// What an entry is for. Only `Normal` entries are the application's; the others are the engine's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// Application data, handed to the user when committed.
    Normal,
    /// The empty entry a new leader appends so that entries of earlier terms can commit (Raft paper, section 8).
    Noop,
    /// A membership change; its payload is a serialized `Membership`.
    ConfChange,
}

/// One record of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: Index,
    pub kind: EntryKind,
    /// The proposal id of a `Normal` entry; `None` for the engine's own entries.
    pub id: Option<ProposalId>,
    pub data: Payload,
}

impl Entry {
    /// The bytes this entry counts for in flow control and message size limits.
    pub fn size_bytes(&self) -> u64 {
        // A fixed overhead keeps empty entries from being free, so a message can never hold unbounded entries.
        32 + self.data.len() as u64 + self.id.as_ref().map_or(0, |id| id.len() as u64)
    }

    /// Whether the application sees this entry when it commits.
    pub fn is_user_data(&self) -> bool {
        self.kind == EntryKind::Normal
    }
}

/// The state that must be on stable storage before the node answers any message that depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    /// The candidate this node voted for in `term`, if any.
    pub vote: Option<NodeId>,
    pub commit: Index,
}

/// The role a node plays in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Follower,
    /// A node that asks for pre-votes before it dares to increase its term (Raft thesis, section 9.6).
    PreCandidate,
    Candidate,
    Leader,
}

/// What `Raft::propose_idempotent` made of a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposed {
    /// Pending here until it commits (a retry of a pending id joins it).
    Pending,
    /// An entry with this id was already committed and applied here, at this index: nothing new was proposed.
    Committed(Index),
}

/// A new application proposal: an id for idempotency and the application's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: ProposalId,
    pub data: Payload,
}

impl Proposal {
    pub fn size_bytes(&self) -> u64 {
        32 + self.data.len() as u64 + self.id.len() as u64
    }
}

/// What a snapshot covers: the log up to `index` (whose entry had `term`), and the membership as of then.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub index: Index,
    pub term: Term,
    pub membership: Membership,
}

/// The application's state after applying the log up to `meta.index`, as opaque bytes, plus what the core itself
/// must remember across compaction: the proposal ids of the last compacted entries, so that a proposal retried
/// after its entry was compacted still commits only once (see `Config::proposal_id_window`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Payload,
    /// The proposal ids of compacted entries the core still remembers, as (index, id), by increasing index. Storage
    /// keeps them with the snapshot; a node restored from the snapshot knows them again.
    #[serde(default)]
    pub proposal_ids: ProposalIds,
    /// The driver's context of the configuration in `meta.membership` (`ConfEntry::context`: the node layer's
    /// names of the members), which the configuration entries it stands for carried. Empty when none did.
    #[serde(default)]
    pub membership_context: Payload,
}
