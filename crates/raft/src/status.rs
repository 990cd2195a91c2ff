//! A snapshot of what a node knows about itself and, as a leader, about its followers: one typed value for
//! observers (status pages, tests, the driver), taken in one call instead of a getter per field (raft-rs
//! `status.rs`, etcd `status.go`).

use super::progress::ProgressState;
use super::raft::Raft;
use super::stats::Stats;
use super::types::{Index, NodeId, Role, Term};

/// The node's state and counters at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub first_index: Index,
    pub last_index: Index,
    pub commit_index: Index,
    pub applied_index: Index,
    pub pending_proposals: usize,
    /// The peer a leadership transfer is handing over to, while one is under way.
    pub lead_transferee: Option<NodeId>,
    /// The voters that granted this node's candidacy in its current term, itself included, while it is a
    /// candidate or the leader that candidacy made; empty otherwise (Raft section 5.2).
    pub votes_granted: Vec<NodeId>,
    /// Each peer's replication progress as this node last led it (current only on a leader), in id order.
    pub peers: Vec<PeerProgress>,
    pub stats: Stats,
}

/// How far a leader has brought one peer's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerProgress {
    pub id: NodeId,
    /// The highest index known to match the leader's log.
    pub match_index: Index,
    /// The next index the leader sends.
    pub next_index: Index,
    /// Entries are streamed (the peer's log is known to match), not probed.
    pub replicating: bool,
    /// A snapshot transfer under way to the peer.
    pub snapshot_transfer: Option<SnapshotTransfer>,
}

/// A snapshot being sent to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotTransfer {
    pub index: Index,
    /// Bytes of the snapshot stream the peer confirmed.
    pub confirmed_bytes: u64,
    pub total_bytes: u64,
}

impl Status {
    /// The status of `raft` now.
    pub fn of(raft: &Raft) -> Status {
        let log = raft.log();
        let peers = raft
            .tracker()
            .peer_ids()
            .into_iter()
            .filter_map(|id| raft.tracker().get(id).map(|progress| (id, progress)))
            .map(|(id, progress)| PeerProgress {
                id,
                match_index: progress.matched,
                next_index: progress.next,
                replicating: progress.state == ProgressState::Replicate,
                snapshot_transfer: progress.snapshot.as_ref().map(|transfer| SnapshotTransfer {
                    index: transfer.index(),
                    confirmed_bytes: transfer.acked,
                    total_bytes: transfer.total(),
                }),
            })
            .collect();
        let votes_granted = match raft.role() {
            Role::Candidate | Role::Leader => raft.tracker().granted_votes().collect(),
            Role::Follower | Role::PreCandidate => Vec::new(),
        };
        Status {
            id: raft.id(),
            term: raft.term(),
            vote: raft.vote(),
            role: raft.role(),
            leader: raft.leader(),
            first_index: log.first_index(),
            last_index: log.last_index(),
            commit_index: log.committed,
            applied_index: log.applied,
            pending_proposals: raft.pending_proposals(),
            lead_transferee: raft.lead_transferee(),
            votes_granted,
            peers,
            stats: raft.stats().clone(),
        }
    }

    /// The progress of peer `id`, if it is a member.
    pub fn peer(&self, id: NodeId) -> Option<&PeerProgress> {
        self.peers.iter().find(|peer| peer.id == id)
    }
}
