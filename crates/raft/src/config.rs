//! The tuning of one consensus core: its id, its timers in ticks, its switches and its limits.

use super::error::ConfigError;
use super::types::{NodeId, SnapshotMeta};

/// A deliberate bug, switched on only by tests, to show that the simulation's safety checker catches it. Only a
/// build with the `bug-injection` feature (the tests' build) can switch one on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedBug {
    /// Commit an entry of an earlier term as soon as a majority holds it (the Figure 8 mistake of the paper).
    CommitPreviousTermByCount,
    /// Grant a vote to every candidate of a term, not only the first (two leaders in one term).
    VoteTwiceInOneTerm,
    /// Grant votes without the up-to-date log check (a leader may lack committed entries).
    IgnoreLogUpToDateCheck,
    /// On installing a snapshot, keep the entries after its index without checking that the entry at its index
    /// has the snapshot's term (a follower keeps a suffix of another history).
    SnapshotKeepsSuffixWithoutTermCheck,
    /// In the node driver: tell the core a write is durable as soon as it is handed to storage, before the disk
    /// made it so (a crash loses entries and votes the core already counted on).
    AcknowledgeBeforeDurable,
    /// A leader answers a read with its commit index at once, without confirming with a quorum that it still
    /// leads (a deposed leader that does not know it yet serves stale reads).
    ReadWithoutQuorumRound,
    /// The read lease lasts twice the longest election timeout instead of less than the shortest one (a new
    /// leader may be elected and commit while the old one still serves reads from its lease).
    LeaseLongerThanElectionTimeout,
    /// A change of two or more voters goes straight to the new voters, without the joint configuration (an old
    /// majority and a new one may not overlap: two leaders in one term).
    JointStepSkipped,
    /// A membership change is taken while another has not committed (two configurations whose majorities may not
    /// overlap are in force at once).
    TwoChangesInFlight,
    /// Learners count in the quorum that commits entries (an entry held by a minority of voters commits).
    LearnerCountedInQuorum,
    /// Who may say what goes unchecked: a leader appends a stranger's forwarded proposals, a node takes its
    /// commit notices and read answers, and a follower takes its appends in the term of the leader it knows.
    StrangersTrusted,
    /// In the node driver: a leader that keeps its seats filled gives a silent voter's seat to a newcomer in its
    /// own configuration only, not by a change through the log (as gaggle's discovery let any node count whoever
    /// it heard): its majorities and the other members' need not overlap.
    SeatGivenAwayOutsideTheLog,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// An election timeout is drawn uniformly from `election_ticks_min..=election_ticks_max` at each reset.
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    pub heartbeat_ticks: u32,
    /// Ask for pre-votes before starting an election (thesis 9.6).
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum within an election timeout steps down, and followers that
    /// hear from a leader ignore vote requests for an election timeout (thesis 6.2 and 4.2.3).
    pub check_quorum: bool,
    /// Lease reads (thesis 6.4.1): a leader serves reads from its lease, and a node restarted from a persisted
    /// state grants no vote for an election timeout (it may have promised a leader not to, before the restart).
    /// Needs `check_quorum`; every node of a cluster must agree, since followers keep the lease.
    pub lease_reads: bool,
    /// At most this many append messages in flight to one follower.
    pub max_inflight_messages: usize,
    /// At most this many entry bytes in flight to one follower.
    pub max_inflight_bytes: u64,
    /// At most this many entry bytes in one append message (one entry larger than this still goes alone).
    pub max_message_bytes: u64,
    /// At most this many of this node's own proposals may wait for commit.
    pub max_pending_proposals: usize,
    /// At most this many entry bytes of committed entries in one `Ready` (at least one entry, however large), so
    /// that applying a long committed log (a restart) comes in pieces a caller can spread over time.
    pub max_apply_bytes_per_ready: u64,
    /// At most this many of this node's own reads may wait for their read index; a leader also queues at most
    /// this many reads of other nodes (more are dropped, and their nodes ask again).
    pub max_pending_reads: usize,
    /// A proposal of this node that has not committed after this many ticks is sent to the leader again (and a
    /// read the leader did not answer is asked again).
    pub proposal_retry_ticks: u32,
    /// A proposal id stays known (a retry of it commits nothing new) while its entry is in the log, and after the
    /// entry is compacted until the snapshot index passes the entry's index by this many entries. Snapshots carry
    /// these ids to followers and across restarts. 0 forgets ids with their entries.
    pub proposal_id_window: u64,
    /// Seeds the randomized election timeouts; a simulation with equal seeds replays exactly.
    pub seed: u64,
    /// Whether the application data of a snapshot received from a leader is one the driver can restore. A
    /// snapshot it refuses is not installed (the node stays as it was), and the chunk that completed it is counted
    /// as malformed. The core knows nothing of the data's form, so the driver says; by default all are taken.
    pub accept_snapshot_data: fn(&SnapshotMeta, &[u8]) -> bool,
    #[cfg(feature = "bug-injection")]
    pub injected_bug: Option<InjectedBug>,
}

impl Config {
    /// The defaults of the switches and limits a user may set: `Config::new` and the binding (for what the user
    /// left out) both read them here.
    pub const DEFAULT_PRE_VOTE: bool = true;
    pub const DEFAULT_CHECK_QUORUM: bool = true;
    pub const DEFAULT_LEASE_READS: bool = false;
    pub const DEFAULT_MAX_INFLIGHT_MESSAGES: usize = 256;
    pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 16 * 1024 * 1024;
    pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 1024 * 1024;

    /// Defaults in the spirit of etcd: 10 ticks per election timeout (randomized up to 20), heartbeat every tick.
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 1,
            pre_vote: Config::DEFAULT_PRE_VOTE,
            check_quorum: Config::DEFAULT_CHECK_QUORUM,
            lease_reads: Config::DEFAULT_LEASE_READS,
            max_inflight_messages: Config::DEFAULT_MAX_INFLIGHT_MESSAGES,
            max_inflight_bytes: Config::DEFAULT_MAX_INFLIGHT_BYTES,
            max_message_bytes: Config::DEFAULT_MAX_MESSAGE_BYTES,
            max_pending_proposals: 1_000_000,
            max_pending_reads: 1_000_000,
            max_apply_bytes_per_ready: 64 * 1024 * 1024,
            proposal_retry_ticks: 20,
            proposal_id_window: 100_000,
            seed: id,
            accept_snapshot_data: |_, _| true,
            #[cfg(feature = "bug-injection")]
            injected_bug: None,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::ZeroNodeId);
        }
        let ticks_ok = self.heartbeat_ticks >= 1
            && self.heartbeat_ticks < self.election_ticks_min
            && self.election_ticks_min <= self.election_ticks_max;
        if !ticks_ok {
            return Err(ConfigError::ElectionTicks {
                min: self.election_ticks_min,
                max: self.election_ticks_max,
                heartbeat: self.heartbeat_ticks,
            });
        }
        if self.max_inflight_messages == 0 {
            return Err(ConfigError::ZeroLimit("max_inflight_messages"));
        }
        if self.max_inflight_bytes == 0 {
            return Err(ConfigError::ZeroLimit("max_inflight_bytes"));
        }
        if self.max_message_bytes == 0 {
            return Err(ConfigError::ZeroLimit("max_message_bytes"));
        }
        if self.max_pending_proposals == 0 {
            return Err(ConfigError::ZeroLimit("max_pending_proposals"));
        }
        if self.max_pending_reads == 0 {
            return Err(ConfigError::ZeroLimit("max_pending_reads"));
        }
        if self.max_apply_bytes_per_ready == 0 {
            return Err(ConfigError::ZeroLimit("max_apply_bytes_per_ready"));
        }
        if self.proposal_retry_ticks == 0 {
            return Err(ConfigError::ZeroLimit("proposal_retry_ticks"));
        }
        Ok(())
    }

    /// How many ticks after sending a heartbeat round a leader may still serve reads from the quorum's answers to
    /// it, without a new round (thesis 6.4.1). A follower that answered does not grant a vote to anyone else for
    /// `election_ticks_min` of its own ticks, which is at least `election_ticks_min - 1` whole tick periods (its
    /// first tick may come at once); the leader counts from the send, to within one tick of its own. So the lease
    /// holds while `(lease + 1) * leader_tick <= (election_ticks_min - 1) * follower_tick`, and the clock-drift bound
    /// is that no node's tick period is more than 25% longer than another's: lease + 1 = (min - 1) * 4/5, rounded
    /// down. With the default 10 ticks the lease is 6 ticks; below 4 ticks there is none (every read takes a round).
    pub fn lease_ticks(&self) -> u64 {
        if self.injects(InjectedBug::LeaseLongerThanElectionTimeout) {
            return 2 * u64::from(self.election_ticks_max);
        }
        (u64::from(self.election_ticks_min).saturating_sub(1) * 4 / 5).saturating_sub(1)
    }

    /// Whether the tests switched `bug` on: always false, and compiled away, in a build without `bug-injection`.
    #[inline]
    pub fn injects(&self, bug: InjectedBug) -> bool {
        #[cfg(feature = "bug-injection")]
        return self.injected_bug == Some(bug);
        #[cfg(not(feature = "bug-injection"))]
        {
            let _ = bug;
            false
        }
    }
}
