//! Counters a node keeps about itself: dropped messages by reason, elections, retries, snapshots. Exposed by
//! `status()`.

use super::error::DropReason;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub dropped_misaddressed: u64,
    pub dropped_unknown_sender: u64,
    pub dropped_malformed: u64,
    pub dropped_stale_term: u64,
    pub dropped_unexpected: u64,
    pub elections_started: u64,
    /// Elections not started because the next term or the new leader's entry would be beyond the limits.
    pub elections_refused: u64,
    pub leader_changes: u64,
    pub check_quorum_step_downs: u64,
    pub votes_ignored_in_lease: u64,
    pub append_rejections: u64,
    pub proposal_retries: u64,
    pub duplicate_proposals: u64,
    pub forwarded_proposals_dropped: u64,
    /// Proposals a leader did not append because its log is full (`MAX_INDEX`).
    pub proposals_refused_log_full: u64,
    pub transfers_received: u64,
    /// A follower needed entries that were compacted away: a snapshot transfer to it began.
    pub snapshot_needed: u64,
    /// Snapshot chunks sent (including resent ones).
    pub snapshot_chunks_sent: u64,
    /// Snapshot transfers a follower confirmed as installed and durable.
    pub snapshots_sent: u64,
    /// Snapshots received in full from a leader and taken into the log (then persisted).
    pub snapshots_received: u64,
    /// Snapshots handed to the application to restore (`Ready::snapshot`).
    pub snapshots_installed: u64,
    /// Compactions of this node's own log (`Raft::compact`).
    pub compactions: u64,
    /// This node's reads answered with a read index (by its own leadership or by the leader's reply).
    pub reads_answered: u64,
    /// Reads a leader answered from its lease, without a heartbeat round.
    pub reads_by_lease: u64,
    /// Heartbeat rounds a quorum confirmed while reads waited for them.
    pub read_rounds_confirmed: u64,
    /// Read requests of other nodes a leader dropped: it was not the leader, or too many waited.
    pub read_requests_dropped: u64,
    /// Configuration entries this node appended as leader (changes asked for, and leaving joint configurations).
    pub membership_changes: u64,
    /// Hand-overs this node started as a leader that the committed configuration no longer counts as a voter.
    pub removed_leader_hand_overs: u64,
    /// Commit indices learned from a peer's `CommitNotice` (with a refused vote).
    pub commits_learned_from_notices: u64,
    /// Reads this node asked the leader for again (the answer was late or lost).
    pub read_retries: u64,
}

impl Stats {
    pub fn count_drop(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Misaddressed => &mut self.dropped_misaddressed,
            DropReason::UnknownSender => &mut self.dropped_unknown_sender,
            DropReason::Malformed => &mut self.dropped_malformed,
            DropReason::StaleTerm => &mut self.dropped_stale_term,
            DropReason::Unexpected => &mut self.dropped_unexpected,
        };
        *counter += 1;
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped_misaddressed
            + self.dropped_unknown_sender
            + self.dropped_malformed
            + self.dropped_stale_term
            + self.dropped_unexpected
    }
}
