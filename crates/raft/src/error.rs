//! Typed errors of the consensus core. The binding maps each to a JS `Error` once; nothing here panics.

use super::limits::{MAX_INDEX, MAX_TERM};
use super::types::{Index, NodeId, Term};
use std::fmt;

/// Why a configuration or a restored state was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    ZeroNodeId,
    NoVoters,
    SelfNotMember,
    ElectionTicks { min: u32, max: u32, heartbeat: u32 },
    ZeroLimit(&'static str),
    RestoredStateInvalid(RestoredStateError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroNodeId => write!(f, "the node id must not be 0"),
            ConfigError::NoVoters => write!(f, "the configuration has no voters"),
            ConfigError::SelfNotMember => write!(f, "this node is neither a voter nor a learner of the configuration"),
            ConfigError::ElectionTicks { min, max, heartbeat } => {
                write!(f, "election ticks must satisfy heartbeat ({heartbeat}) < min ({min}) <= max ({max})")
            }
            ConfigError::ZeroLimit(name) => write!(f, "{name} must be at least 1"),
            ConfigError::RestoredStateInvalid(why) => write!(f, "the restored state is invalid: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How a restored state (what a driver read back from its storage) cannot be a node's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoredStateError {
    /// The persisted term or the last index is above what the core accepts.
    AboveLimits { term: Term, index: Index },
    /// The snapshot's term is 0, or above the persisted term.
    SnapshotTerm { snapshot_term: Term, persisted_term: Term },
    /// The log's last term is above the persisted term.
    LogTerm { last_term: Term, persisted_term: Term },
    /// An entry does not follow the one before it (its index is not the next, or its term is 0 or lower).
    EntryOutOfOrder { index: Index, term: Term, previous_index: Index, previous_term: Term },
    /// A configuration entry cannot be read.
    ConfEntry { index: Index },
}

impl fmt::Display for RestoredStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoredStateError::AboveLimits { term, index } => {
                write!(f, "term {term} or index {index} is above the limits ({MAX_TERM}, {MAX_INDEX})")
            }
            RestoredStateError::SnapshotTerm { snapshot_term, persisted_term } => {
                write!(f, "the snapshot's term {snapshot_term} is 0 or above the persisted term {persisted_term}")
            }
            RestoredStateError::LogTerm { last_term, persisted_term } => {
                write!(f, "the log's last term {last_term} is above the persisted term {persisted_term}")
            }
            RestoredStateError::EntryOutOfOrder { index, term, previous_index, previous_term } => {
                write!(f, "entry {index} (term {term}) does not follow index {previous_index} (term {previous_term})")
            }
            RestoredStateError::ConfEntry { index } => write!(f, "the configuration entry {index} cannot be read"),
        }
    }
}

/// Why a proposal was refused at once. A refused proposal is not pending: the caller must report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// The proposal is larger than a single message may be.
    TooLarge { bytes: u64, limit: u64 },
    /// Too many proposals of this node wait for commit.
    TooManyPending { limit: usize },
    /// A proposal with this id is already pending on this node.
    DuplicateId,
    /// The log holds `MAX_INDEX` entries: another could not be sent to a peer.
    LogFull { limit: u64 },
}

impl fmt::Display for ProposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::TooLarge { bytes, limit } => {
                write!(f, "the entry is {bytes} bytes, more than the limit of {limit}")
            }
            ProposeError::TooManyPending { limit } => write!(f, "more than {limit} proposals are pending"),
            ProposeError::DuplicateId => write!(f, "a proposal with this id is already pending"),
            ProposeError::LogFull { limit } => write!(f, "the log is full: it holds the most entries it may ({limit})"),
        }
    }
}

impl std::error::Error for ProposeError {}

/// Why a read (`Raft::read_index`) was refused at once. A refused read is not pending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Too many reads of this node wait for their read index.
    TooManyPending { limit: usize },
    /// Lease reads are off (`Config::lease_reads`), or CheckQuorum is: without it a leader cut off from the others
    /// never learns it was deposed, and followers do not hold back their votes while they hear from it.
    LeaseNotEnabled,
    /// A read with this number is already pending on this node.
    DuplicateRequest(u64),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooManyPending { limit } => write!(f, "more than {limit} reads are pending"),
            ReadError::LeaseNotEnabled => write!(
                f,
                "lease reads are off: they need leaseReads and checkQuorum on every node (without checkQuorum no \
                 leader can know that its lease holds)"
            ),
            ReadError::DuplicateRequest(request) => write!(f, "read {request} is already pending"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Why a leadership transfer could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferError {
    NotLeader,
    NotAVoter(NodeId),
    ToSelf,
    /// This leader is the only voter: there is nobody to hand over to.
    NoOtherVoter,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotLeader => write!(f, "only the leader can transfer leadership"),
            TransferError::NotAVoter(id) => write!(f, "node {id} is not a voter"),
            TransferError::ToSelf => write!(f, "this node is already the leader"),
            TransferError::NoOtherVoter => write!(f, "this leader is the only voter: nobody can take over"),
        }
    }
}

impl std::error::Error for TransferError {}

/// Why `Raft::fill_vacant_seat` refused to seat a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatError {
    /// The seat to fill is not in the membership.
    NotAMember(NodeId),
    /// The node to seat already has a seat.
    AlreadyAMember(NodeId),
    /// The seat is this node's own.
    OwnSeat,
    /// Node id 0 means "no node".
    ZeroNodeId,
}

impl fmt::Display for SeatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeatError::NotAMember(id) => write!(f, "node {id} holds no seat in the membership"),
            SeatError::AlreadyAMember(id) => write!(f, "node {id} already holds a seat in the membership"),
            SeatError::OwnSeat => write!(f, "this node's own seat cannot be given to another"),
            SeatError::ZeroNodeId => write!(f, "the node id must not be 0"),
        }
    }
}

impl std::error::Error for SeatError {}

/// Why `Raft::compact` refused to compact the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// The index is already covered by the current snapshot.
    AlreadyCompacted { index: Index, snapshot_index: Index },
    /// The index has not been applied yet (the snapshot must hold the state after applying it).
    NotApplied { index: Index, applied: Index },
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactError::AlreadyCompacted { index, snapshot_index } => {
                write!(f, "index {index} is not above the current snapshot's index {snapshot_index}")
            }
            CompactError::NotApplied { index, applied } => {
                write!(f, "index {index} is above the last applied index {applied}")
            }
        }
    }
}

impl std::error::Error for CompactError {}

/// Why an incoming message was dropped. Dropped messages are counted, never fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Not addressed to this node, or sent by this node to itself.
    Misaddressed,
    /// The sender is not a member of the configuration.
    UnknownSender,
    /// Fields that contradict each other or the protocol (indices out of order, term 0, ...).
    Malformed,
    /// From an older term, and not worth an answer.
    StaleTerm,
    /// Valid but not expected in this role or state (a vote reply to a leader, ...).
    Unexpected,
}

impl DropReason {
    pub const ALL: [DropReason; 5] = [
        DropReason::Misaddressed,
        DropReason::UnknownSender,
        DropReason::Malformed,
        DropReason::StaleTerm,
        DropReason::Unexpected,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::Misaddressed => "misaddressed",
            DropReason::UnknownSender => "unknownSender",
            DropReason::Malformed => "malformed",
            DropReason::StaleTerm => "staleTerm",
            DropReason::Unexpected => "unexpected",
        }
    }
}
