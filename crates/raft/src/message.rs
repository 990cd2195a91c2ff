//! The messages nodes exchange. Every field arrives from the network and is untrusted: the core validates a
//! message before acting on it (see `Raft::step`). Messages are serde-serializable so that any channel can carry them.

use super::types::{Entry, Index, NodeId, Payload, Proposal, SnapshotMeta, Term};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's term (for `PreVote`, the term the sender would campaign in).
    pub term: Term,
    pub body: MessageBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageBody {
    /// "Would you vote for me if I campaigned?" Changes no state on the receiver.
    PreVote {
        last_index: Index,
        last_term: Term,
    },
    PreVoteReply {
        granted: bool,
    },
    /// RequestVote. `transfer` is set when the leader asked the sender to campaign (leadership transfer), so
    /// voters skip the check-quorum lease.
    Vote {
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    VoteReply {
        granted: bool,
    },
    /// AppendEntries: `entries` follow the entry at `prev_index`, whose term is `prev_term`.
    Append {
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// The answer to `Append`. On success `index` is the follower's last index known to match the leader's log.
    /// On rejection `index` is the rejected `prev_index`, and `hint_index`/`hint_term` let the leader skip a
    /// whole term of conflicting entries at once (the last entry at or below `index` whose term is at most the
    /// leader's `prev_term`).
    AppendReply {
        success: bool,
        index: Index,
        hint_index: Index,
        hint_term: Term,
    },
    /// The leader's keep-alive. Carries a commit index the follower is known to have (min of its match and the
    /// leader's commit), so it needs no log check, and the leader's read round: each broadcast of heartbeats is a
    /// round, numbered upwards, and a quorum's answers to a round confirm the reads that waited for it.
    Heartbeat {
        commit: Index,
        read_round: u64,
    },
    /// The answer to `Heartbeat`, echoing its read round.
    HeartbeatReply {
        read_round: u64,
    },
    /// Proposals forwarded from a follower to the leader. Term-agnostic: any leader takes them.
    Propose {
        proposals: Vec<Proposal>,
    },
    /// Sent by a leader transferring leadership: the receiver campaigns at once.
    TimeoutNow,
    /// A node asks the leader for a read index (thesis 6.4) for its read `request` (the asker's own number);
    /// `lease`: the leader may answer from its lease instead of a heartbeat round. Term-agnostic: any leader
    /// answers it.
    ReadIndex {
        request: u64,
        lease: bool,
    },
    /// The leader's answer to `ReadIndex`: once the asker has applied up to `index`, its read sees every write
    /// acknowledged before the read was asked.
    ReadIndexReply {
        request: u64,
        index: Index,
    },
    /// Sent with a vote refused for its log: the entry at `index` (of `term`) is committed, as far as the sender
    /// knows. A candidate whose log holds that entry knows it committed too (log matching), which may put in force
    /// a configuration it did not know committed, and let it win; without it, a node whose committed configuration
    /// no longer counts it as a voter could hold the one log that tells, and stall the cluster. Term-agnostic.
    CommitNotice {
        index: Index,
        term: Term,
    },
    /// One chunk of a snapshot for a follower whose missing entries were compacted away: bytes
    /// `offset..offset + chunk.len()` of a transfer of `total` bytes. The follower appends a chunk only at the
    /// offset it has received up to, so a transfer resumes from the last byte received after a loss or a leader
    /// change. The meta is boxed: inline it would double the size of every message, which is moved often.
    InstallSnapshot {
        meta: Box<SnapshotMeta>,
        offset: u64,
        total: u64,
        chunk: Payload,
    },
    /// The answer to `InstallSnapshot`: the follower holds `received` bytes of the snapshot at `index`; `done` once
    /// the snapshot (or a commit index at or past it) is durable on the follower.
    SnapshotReply {
        index: Index,
        received: u64,
        done: bool,
    },
}

impl MessageBody {
    /// A short name for logs and counters.
    pub fn kind_name(&self) -> &'static str {
        match self {
            MessageBody::PreVote { .. } => "PreVote",
            MessageBody::PreVoteReply { .. } => "PreVoteReply",
            MessageBody::Vote { .. } => "Vote",
            MessageBody::VoteReply { .. } => "VoteReply",
            MessageBody::Append { .. } => "Append",
            MessageBody::AppendReply { .. } => "AppendReply",
            MessageBody::Heartbeat { .. } => "Heartbeat",
            MessageBody::HeartbeatReply { .. } => "HeartbeatReply",
            MessageBody::Propose { .. } => "Propose",
            MessageBody::TimeoutNow => "TimeoutNow",
            MessageBody::ReadIndex { .. } => "ReadIndex",
            MessageBody::ReadIndexReply { .. } => "ReadIndexReply",
            MessageBody::CommitNotice { .. } => "CommitNotice",
            MessageBody::InstallSnapshot { .. } => "InstallSnapshot",
            MessageBody::SnapshotReply { .. } => "SnapshotReply",
        }
    }
}
