//! What a run did, summed over seeds for the summary a test prints: steps, commits, elections, proposals and
//! the cores' own counters (evidence of which code paths the simulation reached).

use flotilla_raft::Stats;

/// What a run did, for the summary.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub steps: u64,
    pub ticks_to_recover: u64,
    pub committed: usize,
    pub leader_terms: usize,
    pub proposed: u64,
    pub acknowledged: u64,
    pub crashes: u64,
    /// Reads completed (and checked), and how many of them were lease reads.
    pub reads: u64,
    pub lease_reads: u64,
    /// In a replacing run: the newcomers that hold a voter's seat at the end.
    pub newcomers_seated: u64,
    /// The cores' own counters, summed over nodes and incarnations: evidence of which paths the run took.
    pub core: Stats,
}

impl Outcome {
    /// Sums another run into this one (keeping the larger recovery time).
    pub fn add(&mut self, other: &Outcome) {
        self.steps += other.steps;
        self.ticks_to_recover = self.ticks_to_recover.max(other.ticks_to_recover);
        self.committed += other.committed;
        self.leader_terms += other.leader_terms;
        self.proposed += other.proposed;
        self.acknowledged += other.acknowledged;
        self.crashes += other.crashes;
        self.reads += other.reads;
        self.lease_reads += other.lease_reads;
        self.newcomers_seated += other.newcomers_seated;
        add_stats(&mut self.core, &other.core);
    }
}

pub fn add_stats(total: &mut Stats, more: &Stats) {
    total.dropped_misaddressed += more.dropped_misaddressed;
    total.dropped_unknown_sender += more.dropped_unknown_sender;
    total.dropped_malformed += more.dropped_malformed;
    total.dropped_stale_term += more.dropped_stale_term;
    total.dropped_unexpected += more.dropped_unexpected;
    total.elections_started += more.elections_started;
    total.leader_changes += more.leader_changes;
    total.check_quorum_step_downs += more.check_quorum_step_downs;
    total.votes_ignored_in_lease += more.votes_ignored_in_lease;
    total.append_rejections += more.append_rejections;
    total.proposal_retries += more.proposal_retries;
    total.duplicate_proposals += more.duplicate_proposals;
    total.forwarded_proposals_dropped += more.forwarded_proposals_dropped;
    total.transfers_received += more.transfers_received;
    total.snapshot_needed += more.snapshot_needed;
    total.snapshot_chunks_sent += more.snapshot_chunks_sent;
    total.snapshots_sent += more.snapshots_sent;
    total.snapshots_received += more.snapshots_received;
    total.snapshots_installed += more.snapshots_installed;
    total.compactions += more.compactions;
    total.reads_answered += more.reads_answered;
    total.reads_by_lease += more.reads_by_lease;
    total.read_rounds_confirmed += more.read_rounds_confirmed;
    total.read_requests_dropped += more.read_requests_dropped;
    total.read_retries += more.read_retries;
    total.membership_changes += more.membership_changes;
    total.removed_leader_hand_overs += more.removed_leader_hand_overs;
}
