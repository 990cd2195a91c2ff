//! The Raft state machine: one node's roles, timers, elections, replication and commitment, with no I/O.
//!
//! Inputs are `tick`, `step` (a message from a peer), `propose`, `campaign`, `transfer_leadership` and `compact`;
//! output is collected by `ready`. Section numbers in comments refer to the Raft paper (Ongaro and Ousterhout, 2014) and,
//! where marked "thesis", to Ongaro's dissertation.

use super::conf_change::{ConfEntry, ConfigHistory};
use super::config::{Config, InjectedBug};
use super::error::{CompactError, ConfigError, DropReason, ProposeError, RestoredStateError, SeatError, TransferError};
use super::limits::{self, MAX_INDEX, MAX_TERM};
use super::log::RaftLog;
use super::message::{Message, MessageBody};
use super::own_indices::OwnIndices;
use super::progress::ProgressState;
use super::proposal_ids::ProposalIds;
use super::proposals::LocalProposals;
use super::quorum::VoteResult;
use super::read_queue::{LocalReads, ReadRounds};
use super::ready::{PersistRequest, ReadState, Ready, SoftState};
use super::rng::SplitMix64;
use super::snapshot::{self, Receiving, Transfer, MAX_SNAPSHOT_BYTES};
use super::stats::Stats;
use super::status::Status;
use super::tracker::{Membership, ProgressTracker};
use super::types::{
    Entry, EntryKind, HardState, Index, NodeId, Payload, Proposal, ProposalId, Proposed, Role, Snapshot, SnapshotMeta,
    Term,
};
use std::collections::VecDeque;

mod membership;
mod reads;

pub use membership::{is_caught_up, CATCH_UP_ENTRIES};

/// What a node restarts from: the last persisted hard state, membership, snapshot and log. The application has
/// restored its state from `snapshot` already; the core hands out committed entries from the one after it.
#[derive(Clone, Debug, Default)]
pub struct RestoredState {
    pub hard_state: HardState,
    /// The membership when there is no snapshot (a snapshot carries its own).
    pub membership: Membership,
    /// The latest durable snapshot. Entries at or below its index are ignored, and all entries are if the one at
    /// its index has another term (a crash came between writing a received snapshot and replacing the log).
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
    /// A node started to join an existing cluster: it knows no configuration (an empty `membership` is allowed),
    /// never campaigns, and takes the log (or a snapshot) from whichever leader adds it.
    pub joining: bool,
}

impl RestoredState {
    /// A brand-new node of a cluster with these voters.
    pub fn new_cluster(voters: impl IntoIterator<Item = NodeId>) -> RestoredState {
        RestoredState { membership: Membership::with_voters(voters), ..RestoredState::default() }
    }
}

/// A follower's answer to a heartbeat whose commit index is beyond its log: it holds less than it acknowledged (a
/// node kept in memory that restarted empty). A rejection of index 0, which no append gets from a correct node.
const LOST_ENTRIES: MessageBody = MessageBody::AppendReply { success: false, index: 0, hint_index: 0, hint_term: 0 };

/// A write handed to storage and not yet acknowledged.
#[derive(Debug)]
struct PendingWrite {
    token: u64,
    last_index: Index,
    last_term: Term,
}

pub struct Raft {
    config: Config,
    id: NodeId,
    term: Term,
    vote: Option<NodeId>,
    role: Role,
    leader: Option<NodeId>,
    log: RaftLog,
    tracker: ProgressTracker,
    rng: SplitMix64,

    /// Ticks since the last election timer reset (followers, candidates) or quorum check (leader).
    election_elapsed: u32,
    heartbeat_elapsed: u32,
    randomized_election_timeout: u32,
    /// Ticks since the node started; the clock of proposal retries.
    ticks: u64,

    /// Messages that may be sent at once.
    outbox: Vec<Message>,
    /// Messages that depend on state not yet handed to storage; they get the next write's token in `ready`.
    unsequenced: Vec<Message>,
    /// Messages waiting for the write with the given token to be acknowledged.
    held: VecDeque<(u64, Message)>,
    writes_in_flight: VecDeque<PendingWrite>,
    last_issued_token: u64,
    last_acked_token: u64,
    /// The hard state last handed to storage.
    handed_hard_state: HardState,
    last_soft_state: Option<SoftState>,

    proposals: LocalProposals,
    /// Proposals to forward to the leader in the next `ready`.
    forward_buffer: Vec<Proposal>,
    /// The highest commit index a leader has told this node of (its own log may lag far behind it).
    heard_commit: Index,
    /// Whether the leader sent an append (which carries its commit index; a heartbeat's is capped at what it
    /// knows this node holds) since proposals were last retried: a node cut off for long retries only once it has
    /// heard how far the log moved meanwhile, so that it abandons what a retry could commit twice.
    leader_heard_since_retry: bool,
    /// The tick of the last append or heartbeat from a leader.
    leader_last_spoke_tick: u64,
    /// This node's proposals given up since the last `ready`, outcome unknown (see `abandon_stale_proposals`).
    abandoned: Vec<ProposalId>,
    lead_transferee: Option<NodeId>,
    /// Set when something happened that may let the leader send appends.
    replication_dirty: bool,
    stats: Stats,

    /// The latest snapshot (taken here, restored, or received): what a restart must restore, and what this node
    /// sends when it leads and a follower needs compacted entries.
    snapshot: Option<Snapshot>,
    /// `snapshot` encoded as a transfer stream, built when first needed.
    snapshot_stream: Option<Payload>,
    /// A snapshot being received from the leader.
    receiving: Option<Receiving>,
    /// A received snapshot not yet handed to storage.
    snapshot_to_persist: Option<Snapshot>,
    /// A received snapshot handed to storage with this token: handed to the application once that is durable.
    snapshot_to_restore: Option<(u64, Snapshot)>,

    /// This node's reads waiting for a read index (see `reads`).
    local_reads: LocalReads,
    /// As leader: the heartbeat rounds and the reads held until a quorum answers one.
    read_rounds: ReadRounds,
    /// This node's reads answered since the last `ready`.
    answered_reads: Vec<ReadState>,
    /// As leader: the index of its term's first entry; reads are answered once it has committed.
    term_start_index: Index,
    /// The driver's clock is behind (`set_clock_behind`): no lease holds.
    clock_behind: bool,
    /// The configurations the log holds; the latest is in force (see `membership`).
    configs: ConfigHistory,
    /// A candidate that is the only voter won its term by its own vote, which counts once durable: the term, and
    /// the token of the write that holds the vote (once handed to storage). Until then it sends nothing in that
    /// term: a learner must never take entries of a term whose leader could forget it led it.
    sole_win: Option<(Term, Option<u64>)>,
    /// The node restarted from a persisted state: for its first election timeout it grants no vote (with lease
    /// reads on), as if it still heard from the leader it may have answered before the restart, whose read
    /// lease may count on that answer.
    restarted: bool,
}

impl Raft {
    pub fn new(config: Config, restored: RestoredState) -> Result<Raft, ConfigError> {
        config.validate()?;
        let RestoredState { hard_state, membership, snapshot, entries, joining } = restored;
        let base_membership = snapshot.as_ref().map_or(membership, |snapshot| snapshot.meta.membership.clone());
        let (snapshot_index, snapshot_term) = snapshot.as_ref().map_or((0, 0), |s| (s.meta.index, s.meta.term));
        let last_restored_index = entries.last().map_or(snapshot_index, |e| e.index.max(snapshot_index));
        if hard_state.term > MAX_TERM || last_restored_index > MAX_INDEX {
            let (term, index) = (hard_state.term, last_restored_index);
            return Err(ConfigError::RestoredStateInvalid(RestoredStateError::AboveLimits { term, index }));
        }
        if snapshot_index > 0 && (snapshot_term == 0 || snapshot_term > hard_state.term) {
            let persisted_term = hard_state.term;
            return Err(ConfigError::RestoredStateInvalid(RestoredStateError::SnapshotTerm {
                snapshot_term,
                persisted_term,
            }));
        }
        let entries = entries_after_snapshot(entries, snapshot_index, snapshot_term);
        check_restored_entries(snapshot_index, snapshot_term, &entries)?;
        let base_context =
            snapshot.as_ref().map_or_else(|| Payload::from(Vec::new()), |s| s.membership_context.clone());
        let mut configs = ConfigHistory::new(snapshot_index, base_membership, base_context);
        for entry in entries.iter().filter(|entry| entry.kind == EntryKind::ConfChange) {
            let Some(conf) = ConfEntry::decode(&entry.data) else {
                let index = entry.index;
                return Err(ConfigError::RestoredStateInvalid(RestoredStateError::ConfEntry { index }));
            };
            configs.push(entry.index, entry.term, conf);
        }
        // The configuration in force is the committed one (see `conf_change`).
        let membership = configs.at(hard_state.commit.max(snapshot_index)).clone();
        if membership.voters.is_empty() && !joining {
            return Err(ConfigError::NoVoters);
        }
        // A node removed from the cluster may restart (and stays quiet); a new one must be a member.
        if !membership.contains(config.id) && hard_state.term == 0 && !joining {
            return Err(ConfigError::SelfNotMember);
        }
        let no_ids = ProposalIds::new();
        let snapshot_ids = snapshot.as_ref().map_or(&no_ids, |s| &s.proposal_ids);
        let log = RaftLog::restore(
            snapshot_index,
            snapshot_term,
            snapshot_ids,
            entries,
            hard_state.commit,
            config.proposal_id_window,
        );
        if log.last_term() > hard_state.term {
            let (last_term, persisted_term) = (log.last_term(), hard_state.term);
            return Err(ConfigError::RestoredStateInvalid(RestoredStateError::LogTerm { last_term, persisted_term }));
        }
        let id = config.id;
        let restarted = hard_state.term > 0;
        let mut raft = Raft {
            rng: SplitMix64::new(config.seed),
            id,
            term: hard_state.term,
            vote: hard_state.vote,
            role: Role::Follower,
            leader: None,
            tracker: ProgressTracker::new(id, membership),
            log,
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_election_timeout: 0,
            ticks: 0,
            outbox: Vec::new(),
            unsequenced: Vec::new(),
            held: VecDeque::new(),
            writes_in_flight: VecDeque::new(),
            last_issued_token: 0,
            last_acked_token: 0,
            handed_hard_state: HardState { commit: 0, ..hard_state },
            last_soft_state: None,
            proposals: LocalProposals::default(),
            forward_buffer: Vec::new(),
            heard_commit: 0,
            leader_heard_since_retry: false,
            leader_last_spoke_tick: 0,
            abandoned: Vec::new(),
            lead_transferee: None,
            replication_dirty: false,
            stats: Stats::default(),
            snapshot,
            snapshot_stream: None,
            receiving: None,
            snapshot_to_persist: None,
            snapshot_to_restore: None,
            local_reads: LocalReads::default(),
            read_rounds: ReadRounds::default(),
            answered_reads: Vec::new(),
            term_start_index: 0,
            restarted,
            configs,
            sole_win: None,
            clock_behind: false,
            config,
        };
        raft.handed_hard_state.commit = raft.log.committed;
        raft.tracker.learners_commit = raft.config.injects(InjectedBug::LearnerCountedInQuorum);
        raft.reset_election_timer();
        Ok(raft)
    }

    // ---- observers -------------------------------------------------------------------------------------

    pub fn id(&self) -> NodeId {
        self.id
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Whether `id` is a member of any configuration the log holds (the snapshot's, and each entry's after it).
    pub fn config_history_holds(&self, id: NodeId) -> bool {
        self.configs.ever_holds(id)
    }
    pub fn log(&self) -> &RaftLog {
        &self.log
    }
    pub fn membership(&self) -> &Membership {
        self.tracker.membership()
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn pending_proposals(&self) -> usize {
        self.proposals.len()
    }
    pub fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.log.committed }
    }
    pub fn lead_transferee(&self) -> Option<NodeId> {
        self.lead_transferee
    }
    /// Everything above in one typed value, with every peer's progress.
    pub fn status(&self) -> Status {
        Status::of(self)
    }
    pub(crate) fn tracker(&self) -> &ProgressTracker {
        &self.tracker
    }
    /// The latest snapshot: taken by `compact`, restored at start, or received from a leader. After `compact`, the
    /// driver writes this one to storage.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    // ---- inputs ----------------------------------------------------------------------------------------

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        self.ticks += 1;
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        self.log.unindex_some(super::log::UNINDEX_PER_TICK);
        if self.role == Role::Leader {
            self.tick_leader();
        } else if self.election_elapsed >= self.randomized_election_timeout {
            self.election_elapsed = 0;
            if self.tracker.is_voter(self.id) {
                self.start_election(false);
            } else {
                // A learner (or a node its log does not yet show as a voter) heard from no leader for an election
                // timeout: it knows none, and so holds no lease against a candidate that may need its vote.
                self.set_leader(None);
            }
        }
        if self.ticks.is_multiple_of(u64::from(self.config.proposal_retry_ticks.div_ceil(4))) {
            self.retry_due_proposals();
            self.retry_due_reads();
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        if self.election_elapsed >= self.config.election_ticks_min {
            self.election_elapsed = 0;
            if self.config.check_quorum && !self.tracker.quorum_recently_active() {
                // Thesis 6.2: a leader cut off from a majority steps down, so clients find the real leader.
                self.stats.check_quorum_step_downs += 1;
                self.become_follower(self.term, None);
                return;
            }
            if self.lead_transferee.take().is_some() {
                // The transfer did not finish within an election timeout: take proposals again.
                self.resubmit_pending_proposals();
            }
        }
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeats();
        }
    }

    /// Moves this node to the later `term` as a follower, as if it had heard of that term (gaggle's tests set a
    /// node's `_currentTerm` so): it has voted for no one in it, and a leader of an earlier term is told the new
    /// term in the answer to its next append, and steps down. False, changing nothing, for a term that is not
    /// after the current one, more than `MAX_TERM_STEP` after it (as far as a peer's message may move a term), or
    /// not below `MAX_TERM` (a term in which no node could campaign again).
    pub fn raise_term(&mut self, term: Term) -> bool {
        if term <= self.term || term >= limits::MAX_TERM || term - self.term > limits::MAX_TERM_STEP {
            return false;
        }
        self.become_follower(term, None);
        true
    }

    /// Starts an election now (after a pre-vote round when pre-vote is on), as if the timer had fired.
    pub fn campaign(&mut self) {
        if self.role != Role::Leader && self.tracker.is_voter(self.id) {
            self.start_election(false);
        }
    }

    /// Proposes application data under an idempotency id. Pending until committed; retried across leader changes.
    /// For a fresh id (a node's own): an id that may have committed already goes through `propose_idempotent`,
    /// which answers it at once, where this would wait for a commit that will not come again.
    pub fn propose(&mut self, id: ProposalId, data: Payload) -> Result<(), ProposeError> {
        let proposal = Proposal { id, data };
        let bytes = proposal.size_bytes();
        if bytes > self.config.max_message_bytes {
            return Err(ProposeError::TooLarge { bytes, limit: self.config.max_message_bytes });
        }
        if self.proposals.len() >= self.config.max_pending_proposals {
            return Err(ProposeError::TooManyPending { limit: self.config.max_pending_proposals });
        }
        if self.log.last_index() >= MAX_INDEX {
            return Err(ProposeError::LogFull { limit: MAX_INDEX });
        }
        // Added as sent now: it is appended or forwarded at once, or waits for a leader and a retry.
        self.abandon_stale_proposals();
        // Any leader's log holds every committed entry, so the entry will lie above what this node knows committed.
        let mark = self.log.committed.max(self.heard_commit);
        if !self.proposals.add(proposal.id.clone(), proposal.data.clone(), self.ticks, mark) {
            return Err(ProposeError::DuplicateId);
        }
        self.submit(proposal);
        Ok(())
    }

    /// Proposes under an id that may have been proposed before, here or on another node (a client's request id,
    /// retried after a timeout, a leader change or a restart): it commits at most once, as long as its entry is
    /// in the log or among the `Config::proposal_id_window` last compacted entries. An id this node has already
    /// applied is answered at once with its entry's index, and nothing is proposed (`propose` would wait for a
    /// commit that already happened); a retry of an id pending here joins it. `propose` is for fresh ids: it
    /// skips the lookup, which on a follower means bringing the proposal-id index up to date.
    pub fn propose_idempotent(&mut self, id: ProposalId, data: Payload) -> Result<Proposed, ProposeError> {
        if let Some(index) = self.log.find_proposal(&id).filter(|&index| index <= self.log.applied) {
            return Ok(Proposed::Committed(index));
        }
        if self.proposals.contains(&id) {
            return Ok(Proposed::Pending);
        }
        self.propose(id, data).map(|()| Proposed::Pending)
    }

    /// The application took a snapshot of its state after applying `index` (`data`): the log drops its entries up
    /// to `index` (keeping that entry's term) and the snapshot stands for them; it is what a leader sends to
    /// followers that need compacted entries. Storage is the driver's: it writes `snapshot()` and compacts its own
    /// log; no persist request comes from this. Proposal ids of dropped entries stay known for
    /// `Config::proposal_id_window` entries. Returns the dropped entries: freeing many takes a while, and the
    /// caller may do it elsewhere.
    pub fn compact(&mut self, index: Index, data: Payload) -> Result<Vec<Entry>, CompactError> {
        let snapshot_index = self.log.snapshot_index();
        if index <= snapshot_index {
            return Err(CompactError::AlreadyCompacted { index, snapshot_index });
        }
        let applied = self.log.applied;
        if index > applied {
            return Err(CompactError::NotApplied { index, applied });
        }
        // Applied entries are in the log (applied <= stable <= last): the term is known.
        let Some(term) = self.log.term(index) else {
            return Err(CompactError::NotApplied { index, applied });
        };
        let dropped = self.log.compact_to(index);
        let meta = SnapshotMeta { index, term, membership: self.configs.at(index).clone() };
        let membership_context = self.configs.context_at(index);
        self.configs.compact_to(index);
        let proposal_ids = self.log.compacted_ids();
        self.snapshot = Some(Snapshot { meta, data, proposal_ids, membership_context });
        self.snapshot_stream = None;
        self.stats.compactions += 1;
        Ok(dropped)
    }

    /// Gives the seat `vacant` holds in the membership to `id`, with its replication progress: a cluster that knows
    /// only how many voters it has (gaggle's discovery) starts with placeholder ids, and the node layer fills each
    /// when it learns who sits there. Safe because no seat is added or removed: every quorum has the same size,
    /// and `vacant` never voted nor acknowledged anything (nothing is ever sent to it), so no decision counted a
    /// placeholder that the real member did not make.
    pub fn fill_vacant_seat(&mut self, vacant: NodeId, id: NodeId) -> Result<(), SeatError> {
        if id == 0 {
            return Err(SeatError::ZeroNodeId);
        }
        if vacant == self.id {
            return Err(SeatError::OwnSeat);
        }
        if !self.tracker.is_member(vacant) {
            return Err(SeatError::NotAMember(vacant));
        }
        if self.tracker.is_member(id) {
            return Err(SeatError::AlreadyAMember(id));
        }
        self.tracker.fill_seat(vacant, id);
        self.configs.reseat(vacant, id);
        Ok(())
    }

    /// Starts handing leadership to `target` (thesis 3.10): it is brought up to date, then told to campaign.
    pub fn transfer_leadership(&mut self, target: NodeId) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader);
        }
        if target == self.id {
            return Err(TransferError::ToSelf);
        }
        if !self.tracker.is_voter(target) {
            return Err(TransferError::NotAVoter(target));
        }
        self.lead_transferee = Some(target);
        self.election_elapsed = 0;
        let caught_up = self.tracker.get(target).is_some_and(|p| p.matched == self.log.last_index());
        if caught_up {
            self.send_timeout_now(target);
        } else {
            self.replication_dirty = true;
        }
        Ok(())
    }

    /// A peer knows the entry at `index` (of `term`) committed: so is this node's, if it holds that entry.
    fn handle_commit_notice(&mut self, index: Index, term: Term) {
        if index > self.log.committed && self.log.term(index) == Some(term) {
            self.stats.commits_learned_from_notices += 1;
            self.log.commit_to(index);
            self.apply_committed_configuration();
        }
    }

    /// Starts handing leadership to the voter whose log is most caught up (the highest match index; the lowest id
    /// among equals), before this leader goes away on purpose (a planned restart): it is brought up to date and
    /// told to campaign at once, so the cluster has a leader again after about one round trip instead of an
    /// election timeout. Returns the chosen voter.
    pub fn transfer_leadership_to_most_caught_up(&mut self) -> Result<NodeId, TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader);
        }
        let best = self.most_caught_up_voter().ok_or(TransferError::NoOtherVoter)?;
        self.transfer_leadership(best)?;
        Ok(best)
    }

    /// The voter peer whose log matches the leader's furthest (the lowest id among equals).
    fn most_caught_up_voter(&self) -> Option<NodeId> {
        let matched = |id: NodeId| self.tracker.get(id).map(|progress| (progress.matched, std::cmp::Reverse(id)));
        let best = self.tracker.voter_peer_ids().into_iter().filter_map(matched).max();
        best.map(|(_, std::cmp::Reverse(id))| id)
    }

    /// Handles a message from a peer. A message that makes no sense is dropped, counted, and reported as `Err`.
    pub fn step(&mut self, message: Message) -> Result<(), DropReason> {
        let result = self.step_checked(message);
        if let Err(reason) = result {
            self.stats.count_drop(reason);
        }
        result
    }

    fn step_checked(&mut self, m: Message) -> Result<(), DropReason> {
        if m.to != self.id || m.from == self.id {
            return Err(DropReason::Misaddressed);
        }
        // Thesis 4.1: requests are answered without consulting the configuration (a leader that is not in it, or
        // not yet; a candidate whose vote keeps the cluster available); a reply counts only from a member.
        validate_body(&m)?;
        // The sender's step is looked up only for a term beyond the smaller one (most messages are within it).
        let within = |step| limits::term_is_acceptable(self.term, m.term, step);
        let step = if within(limits::MAX_STRANGER_TERM_STEP) {
            limits::MAX_STRANGER_TERM_STEP
        } else {
            self.term_step_of(m.from)
        };
        if !within(step) {
            // Dropped, but not ignored: the node rises by the most one message may take it, so that a node left far
            // behind (its peers pushed ahead by a hostile term) is never cut off for good; each such message brings
            // it `step` closer. Raising one's own term is always safe (it is what an election timeout does).
            if m.term <= limits::MAX_TERM && self.adopts_the_term_of(&m) {
                self.become_follower(self.term + step, None);
            }
            return Err(DropReason::Malformed);
        }
        // Proposals and reads are not requests a server must answer whoever sends them (thesis 4.1 covers votes
        // and a leader's messages): a leader takes them only from a member of its configuration, so that a
        // stranger (or a removed member, which is told it was removed) puts nothing into the log.
        if let MessageBody::Propose { proposals } = m.body {
            self.leader_hears_a_member(m.from)?;
            return self.handle_forwarded_proposals(proposals);
        }
        if let MessageBody::ReadIndex { request, lease } = m.body {
            self.leader_hears_a_member(m.from)?;
            self.handle_read_index_request(m.from, request, lease);
            return Ok(());
        }
        if let MessageBody::CommitNotice { index, term } = m.body {
            // Sent by a voter a candidate asked, or by a leader to a member it removed: by a member of some
            // configuration this log holds. From anyone else it would commit what no quorum may hold.
            if !self.config_history_holds(m.from) && !self.config.injects(InjectedBug::StrangersTrusted) {
                return Err(DropReason::UnknownSender);
            }
            self.handle_commit_notice(index, term);
            // Told by the leader of a configuration it holds that leaves it out: it was removed.
            if self.log.term(index) == Some(term) && index <= self.log.committed {
                self.forget_own_proposals_once_removed();
            }
            return Ok(());
        }

        if m.term > self.term && self.refuses_snapshot_completed_by(&m) {
            return Err(DropReason::Malformed);
        }
        if m.term > self.term {
            match m.body {
                MessageBody::PreVote { .. } | MessageBody::Vote { .. } => {
                    let transfer = matches!(m.body, MessageBody::Vote { transfer: true, .. });
                    if !transfer && self.in_leader_lease() {
                        // Thesis 4.2.3: while we hear from a leader, a disruptive candidate is ignored.
                        self.stats.votes_ignored_in_lease += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            match m.body {
                // A pre-vote does not change anyone's term; a granted pre-vote reply carries the future term.
                MessageBody::PreVote { .. } => {}
                MessageBody::PreVoteReply { granted: true } => {}
                MessageBody::Append { .. } | MessageBody::Heartbeat { .. } | MessageBody::InstallSnapshot { .. } => {
                    self.become_follower(m.term, Some(m.from));
                }
                // A leader hands over only to a node that has answered it in its term: never to one in an older term.
                MessageBody::TimeoutNow => return Err(DropReason::Unexpected),
                _ => self.become_follower(m.term, None),
            }
        } else if m.term < self.term {
            return self.answer_stale(&m);
        }

        match m.body {
            MessageBody::PreVote { last_index, last_term } => {
                self.handle_vote_request(m.from, m.term, last_index, last_term, true);
                Ok(())
            }
            MessageBody::Vote { last_index, last_term, .. } => {
                self.handle_vote_request(m.from, m.term, last_index, last_term, false);
                Ok(())
            }
            MessageBody::ReadIndexReply { request, index } => {
                // Reads are asked of the leader; an answer from anyone else (or from a leader since replaced,
                // whose reads were asked again of the next) is not taken.
                if self.leader != Some(m.from) && !self.config.injects(InjectedBug::StrangersTrusted) {
                    return Err(DropReason::Unexpected);
                }
                self.handle_read_index_reply(request, index);
                Ok(())
            }
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                Role::Candidate | Role::PreCandidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    /// How far one message from `from` may move this node's term: a sender no configuration of this log holds (a
    /// member added by a change not seen yet, or a stranger) moves it by a smaller step, since strangers' messages
    /// could otherwise exhaust the terms in millions. A node that joins and knows no member yet takes the whole
    /// step from anyone: its leader is such a sender.
    fn term_step_of(&self, from: NodeId) -> Term {
        if self.config_history_holds(from) || self.configs.holds_no_member() {
            limits::MAX_TERM_STEP
        } else {
            limits::MAX_STRANGER_TERM_STEP
        }
    }

    /// For a proposal or a read sent to a leader: it is taken only from a member of its configuration (a removed
    /// member is told it was removed). A node that does not lead drops or keeps them by its own rules.
    fn leader_hears_a_member(&mut self, from: NodeId) -> Result<(), DropReason> {
        if self.role != Role::Leader {
            return Ok(());
        }
        self.tell_removed_member(from);
        if self.tracker.is_member(from) || self.config.injects(InjectedBug::StrangersTrusted) {
            Ok(())
        } else {
            Err(DropReason::UnknownSender)
        }
    }

    /// Whether a message of a higher term makes this node take up that term (pre-votes never do, nor a vote
    /// request while a leader's lease holds).
    fn adopts_the_term_of(&self, m: &Message) -> bool {
        match m.body {
            MessageBody::PreVote { .. }
            | MessageBody::PreVoteReply { granted: true }
            | MessageBody::Propose { .. }
            | MessageBody::ReadIndex { .. }
            | MessageBody::CommitNotice { .. }
            | MessageBody::TimeoutNow => false,
            MessageBody::Vote { transfer, .. } => transfer || !self.in_leader_lease(),
            _ => true,
        }
    }

    /// A message from an older term. Most are ignored; a stale leader is told our term so it steps down
    /// (otherwise, with pre-vote, a partitioned old leader could stay leader forever), and a stale candidate or
    /// pre-candidate gets a rejection with our term, so it stops waiting (Figure 2, RequestVote: "reply false if
    /// term < currentTerm").
    fn answer_stale(&mut self, m: &Message) -> Result<(), DropReason> {
        match m.body {
            MessageBody::Append { .. } | MessageBody::Heartbeat { .. } | MessageBody::InstallSnapshot { .. }
                if self.config.check_quorum || self.config.pre_vote =>
            {
                self.send_now(
                    m.from,
                    MessageBody::AppendReply { success: false, index: 0, hint_index: 0, hint_term: 0 },
                );
                Ok(())
            }
            MessageBody::PreVote { .. } => {
                self.send_now(m.from, MessageBody::PreVoteReply { granted: false });
                Ok(())
            }
            MessageBody::Vote { .. } => {
                // Our term goes out in the reply: it must be durable first, as with any vote reply.
                self.send_after_persist(m.from, MessageBody::VoteReply { granted: false });
                Ok(())
            }
            _ => Err(DropReason::StaleTerm),
        }
    }

    /// Raft paper 5.2 and 5.4.1: one vote per term, only for a candidate whose log is at least as up-to-date.
    fn handle_vote_request(&mut self, from: NodeId, term: Term, last_index: Index, last_term: Term, pre_vote: bool) {
        let free_to_vote = self.vote == Some(from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && term > self.term)
            || self.config.injects(InjectedBug::VoteTwiceInOneTerm);
        let log_ok =
            self.log.is_up_to_date(last_index, last_term) || self.config.injects(InjectedBug::IgnoreLogUpToDateCheck);
        let granted = free_to_vote && log_ok;
        if !log_ok && self.log.committed > 0 {
            // The candidate may lack entries; perhaps not the ones this node knows committed (see `CommitNotice`).
            if let Some(commit_term) = self.log.term(self.log.committed) {
                self.send_now(from, MessageBody::CommitNotice { index: self.log.committed, term: commit_term });
            }
        }
        if pre_vote {
            // A granted pre-vote answers in the future term, so that the pre-candidate does not see it as stale.
            let reply_term = if granted { term } else { self.term };
            self.send_with_term(from, reply_term, MessageBody::PreVoteReply { granted }, false);
            return;
        }
        if granted {
            self.vote = Some(from);
            self.election_elapsed = 0;
        }
        // The vote must be on disk before the candidate hears of it.
        self.send_after_persist(from, MessageBody::VoteReply { granted });
    }

    fn step_leader(&mut self, m: Message) -> Result<(), DropReason> {
        let from = m.from;
        let last_index = self.log.last_index();
        let Some(progress) = self.tracker.get_mut(from) else {
            return Err(DropReason::UnknownSender);
        };
        progress.recent_active = true;
        match m.body {
            MessageBody::AppendReply { success: true, index, .. } => {
                if index > last_index {
                    return Err(DropReason::Malformed);
                }
                if progress.acknowledge(index) {
                    // In `Snapshot`, an append answered late shows the follower can go on with entries after all.
                    let can_append = progress.matched >= self.log.snapshot_index();
                    if progress.state == ProgressState::Probe
                        || (progress.state == ProgressState::Snapshot && can_append)
                    {
                        progress.become_replicate();
                    }
                    self.maybe_commit();
                }
                self.replication_dirty = true;
                self.maybe_finish_transfer(from);
                Ok(())
            }
            MessageBody::AppendReply { success: false, index: 0, .. } => {
                // `LOST_ENTRIES`: the follower holds less than it acknowledged.
                if progress.lost_entries() {
                    self.replication_dirty = true;
                }
                Ok(())
            }
            MessageBody::AppendReply { success: false, index, hint_index, hint_term } => {
                // Fast back-off (paper 5.3, last paragraphs): skip to where the terms may agree.
                let (agree_index, _) = self.log.find_conflict_by_term(hint_index, hint_term);
                if progress.reject(index, agree_index + 1) {
                    self.replication_dirty = true;
                }
                Ok(())
            }
            MessageBody::HeartbeatReply { read_round } => {
                progress.probe_sent = false;
                if let Some(transfer) = progress.snapshot.as_mut() {
                    if transfer.on_heartbeat_reply() {
                        self.replication_dirty = true;
                    }
                } else if progress.matched < last_index {
                    if progress.state == ProgressState::Replicate {
                        // An append may have been lost: an empty one at the send point makes the follower say
                        // where it really is.
                        self.send_empty_append(from);
                    } else {
                        self.replication_dirty = true;
                    }
                }
                self.handle_read_round_answer(from, read_round)
            }
            MessageBody::SnapshotReply { index, done: true, .. } => {
                // The follower's log matches ours up to `index` (durably): its snapshot or its commit covers it.
                if index > self.log.committed {
                    return Err(DropReason::Malformed);
                }
                progress.acknowledge(index);
                let finished = progress.snapshot.as_ref().is_some_and(|transfer| transfer.index() <= progress.matched);
                if finished {
                    progress.become_probe();
                    self.stats.snapshots_sent += 1;
                }
                self.replication_dirty = true;
                self.maybe_finish_transfer(from);
                Ok(())
            }
            MessageBody::SnapshotReply { index, received, done: false } => {
                match progress.snapshot.as_mut() {
                    Some(transfer) if transfer.index() == index => {
                        if !transfer.on_reply(received) {
                            return Err(DropReason::Malformed);
                        }
                        self.replication_dirty = true;
                    }
                    // An answer about an earlier transfer.
                    _ => {}
                }
                Ok(())
            }
            MessageBody::VoteReply { .. } | MessageBody::PreVoteReply { .. } => Ok(()),
            // Two leaders in one term cannot happen between correct nodes.
            MessageBody::Append { .. }
            | MessageBody::Heartbeat { .. }
            | MessageBody::InstallSnapshot { .. }
            | MessageBody::TimeoutNow => Err(DropReason::Unexpected),
            MessageBody::PreVote { .. }
            | MessageBody::Vote { .. }
            | MessageBody::Propose { .. }
            | MessageBody::ReadIndex { .. }
            | MessageBody::ReadIndexReply { .. }
            | MessageBody::CommitNotice { .. } => Ok(()),
        }
    }

    fn step_candidate(&mut self, m: Message) -> Result<(), DropReason> {
        match m.body {
            MessageBody::PreVoteReply { granted } if self.role == Role::PreCandidate => {
                if m.term != self.term + 1 && granted {
                    return Err(DropReason::Unexpected);
                }
                self.tracker.record_vote(m.from, granted);
                match self.tracker.vote_result() {
                    VoteResult::Won => self.become_candidate_and_request_votes(false),
                    VoteResult::Lost => self.become_follower(self.term, None),
                    VoteResult::Pending => {}
                }
                Ok(())
            }
            MessageBody::VoteReply { granted } if self.role == Role::Candidate => {
                self.tracker.record_vote(m.from, granted);
                match self.tracker.vote_result() {
                    VoteResult::Won => self.become_leader(),
                    VoteResult::Lost => self.become_follower(self.term, None),
                    VoteResult::Pending => {}
                }
                Ok(())
            }
            MessageBody::Append { .. } | MessageBody::Heartbeat { .. } | MessageBody::InstallSnapshot { .. } => {
                // Paper 5.2: a candidate that hears from a leader of its term returns to follower.
                self.become_follower(m.term, Some(m.from));
                self.step_follower(m)
            }
            // A pre-vote answered after the pre-vote was won (or a vote after it was decided): nothing to do.
            MessageBody::PreVoteReply { .. } | MessageBody::VoteReply { .. } => Ok(()),
            _ => Err(DropReason::Unexpected),
        }
    }

    fn step_follower(&mut self, m: Message) -> Result<(), DropReason> {
        let from_a_leader = matches!(
            m.body,
            MessageBody::Append { .. } | MessageBody::Heartbeat { .. } | MessageBody::InstallSnapshot { .. }
        );
        let second_leader = self.leader.is_some_and(|leader| leader != m.from);
        if from_a_leader && second_leader && !self.config.injects(InjectedBug::StrangersTrusted) {
            // Two leaders in one term cannot happen between correct nodes: a second one is not taken, lest an
            // entry of its own sit where the real leader's entry of the same term is taken as matching.
            return Err(DropReason::Unexpected);
        }
        match m.body {
            MessageBody::Append { prev_index, prev_term, entries, commit } => {
                self.election_elapsed = 0;
                self.set_leader(Some(m.from));
                self.heard_from_leader(commit);
                self.handle_append(m.from, prev_index, prev_term, entries, commit);
                Ok(())
            }
            MessageBody::Heartbeat { commit, read_round } => {
                self.election_elapsed = 0;
                self.set_leader(Some(m.from));
                // A heartbeat's commit is capped at what the leader knows this node holds: it says how far the log
                // moved only to a node that was not cut off (one that was waits for an append or a snapshot).
                if self.ticks.saturating_sub(self.leader_last_spoke_tick) < u64::from(self.config.election_ticks_min) {
                    self.leader_heard_since_retry = true;
                }
                self.leader_last_spoke_tick = self.ticks;
                self.log.commit_to(commit);
                self.apply_committed_configuration();
                self.send_now(m.from, MessageBody::HeartbeatReply { read_round });
                if commit > self.log.last_index() {
                    // The leader counts this node as holding entries it does not hold: it lost them (a node kept
                    // in memory restarted empty). It says so with a rejection of index 0, which no append gets
                    // (everything matches at index 0): the leader sends it the log from the start.
                    self.stats.append_rejections += 1;
                    self.send_after_persist(m.from, LOST_ENTRIES);
                }
                Ok(())
            }
            MessageBody::TimeoutNow => {
                // Only the leader of this term hands over to this node; from anyone else, a campaign that skips
                // pre-vote and every lease would only unseat that leader.
                if self.leader != Some(m.from) {
                    return Err(DropReason::Unexpected);
                }
                if self.tracker.is_voter(self.id) {
                    self.stats.transfers_received += 1;
                    self.start_election(true);
                }
                Ok(())
            }
            MessageBody::InstallSnapshot { meta, offset, total, chunk } => {
                self.election_elapsed = 0;
                self.set_leader(Some(m.from));
                self.handle_snapshot_chunk(m.from, *meta, offset, total, &chunk)
            }
            _ => Err(DropReason::Unexpected),
        }
    }

    /// The follower's side of InstallSnapshot. A chunk at the offset received so far is appended; any other is
    /// answered with that offset, so that the leader sends from there. A complete snapshot replaces the log (or
    /// its prefix, if the log holds the snapshot's last entry) and is persisted; `done` is answered only once the
    /// snapshot is durable. A follower whose commit index already covers the snapshot answers `done` at once
    /// (after whatever it has pending is durable).
    fn handle_snapshot_chunk(
        &mut self,
        leader: NodeId,
        meta: SnapshotMeta,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> Result<(), DropReason> {
        let index = meta.index;
        if index <= self.log.committed {
            if self.receiving.as_ref().is_some_and(|receiving| receiving.meta.index <= index) {
                self.receiving = None;
            }
            self.send_after_persist(leader, MessageBody::SnapshotReply { index, received: total, done: true });
            return Ok(());
        }
        let receiving = match self.receiving.as_mut() {
            Some(receiving) if receiving.is_for(&meta, total) => receiving,
            _ => self.receiving.insert(Receiving { meta, total, data: Vec::new() }),
        };
        receiving.offer(offset, chunk);
        if !receiving.is_complete() {
            let received = receiving.received();
            self.send_now(leader, MessageBody::SnapshotReply { index, received, done: false });
            return Ok(());
        }
        let Some(Receiving { meta, data, .. }) = self.receiving.take() else { return Ok(()) };
        let Some(snapshot) = self.installable(meta, &data) else {
            // A correct leader never sends this; start over rather than keep bytes that cannot be read. Nothing
            // was taken from it: the log, the commit index and the hard state are as they were.
            self.send_now(leader, MessageBody::SnapshotReply { index, received: 0, done: false });
            return Err(DropReason::Malformed);
        };
        self.install_snapshot(snapshot);
        self.send_after_persist(leader, MessageBody::SnapshotReply { index, received: total, done: true });
        Ok(())
    }

    /// A complete received stream as a snapshot this node can install: a readable stream whose application data
    /// the driver accepts (`Config::accept_snapshot_data`).
    fn installable(&self, meta: SnapshotMeta, stream: &[u8]) -> Option<Snapshot> {
        let accept_data = self.config.accept_snapshot_data;
        snapshot::decode_stream(meta, stream).filter(|snapshot| accept_data(&snapshot.meta, &snapshot.data))
    }

    /// Whether `m` is a chunk from the leader of a newer term that completes a snapshot this node cannot install.
    /// Checked before the term is adopted, so that such a snapshot changes nothing, the term, vote and leader
    /// included (a chunk of this node's own term is checked by `handle_snapshot_chunk`). The chunk is taken into
    /// the receive buffer here; a refused snapshot is dropped from it and answered as not received.
    fn refuses_snapshot_completed_by(&mut self, m: &Message) -> bool {
        let MessageBody::InstallSnapshot { meta, offset, total, chunk } = &m.body else { return false };
        if meta.index <= self.log.committed {
            return false;
        }
        let received = match &self.receiving {
            Some(receiving) if receiving.is_for(meta, *total) => receiving.received(),
            _ => 0,
        };
        if *offset != received || received + chunk.len() as u64 != *total {
            return false;
        }
        let receiving = match self.receiving.as_mut() {
            Some(receiving) if receiving.is_for(meta, *total) => receiving,
            _ => self.receiving.insert(Receiving { meta: (**meta).clone(), total: *total, data: Vec::new() }),
        };
        receiving.offer(*offset, chunk);
        let stream = self.receiving.as_ref().map_or(&[][..], |receiving| &receiving.data[..]);
        if self.installable((**meta).clone(), stream).is_some() {
            return false;
        }
        self.receiving = None;
        self.send_now(m.from, MessageBody::SnapshotReply { index: meta.index, received: 0, done: false });
        true
    }

    /// Takes a complete snapshot from the leader into the log, and queues it for storage and then the application.
    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let SnapshotMeta { index, term, .. } = snapshot.meta;
        let bug = self.config.injects(InjectedBug::SnapshotKeepsSuffixWithoutTermCheck);
        let keep_suffix = self.log.matches(index, term) || (bug && self.log.last_index() > index);
        self.log.install_snapshot(index, term, &snapshot.proposal_ids, keep_suffix);
        // Writes in flight were for the log before the snapshot: their acknowledgements prove nothing now (the kept
        // suffix is written again after the snapshot).
        self.writes_in_flight.clear();
        self.configs.rebase(index, snapshot.meta.membership.clone(), snapshot.membership_context.clone());
        let log = &self.log;
        self.configs.retain_held(|at| log.term(at));
        self.apply_committed_configuration();
        self.stats.snapshots_received += 1;
        self.snapshot = Some(snapshot.clone());
        self.snapshot_stream = None;
        self.snapshot_to_persist = Some(snapshot);
    }

    /// Paper 5.3: accept entries that follow a matching entry, drop a conflicting suffix, and reply.
    fn handle_append(
        &mut self,
        leader: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    ) {
        if prev_index < self.log.committed {
            // Everything up to our commit index matches any correct leader's log.
            let index = self.log.committed;
            self.send_after_persist(
                leader,
                MessageBody::AppendReply { success: true, index, hint_index: 0, hint_term: 0 },
            );
            return;
        }
        let configurations = Raft::configurations_in(&entries);
        match self.log.try_append(prev_index, prev_term, entries) {
            Some(last_new) => {
                self.take_appended_configurations(configurations);
                self.log.commit_to(commit.min(last_new));
                self.apply_committed_configuration();
                self.send_after_persist(
                    leader,
                    MessageBody::AppendReply { success: true, index: last_new, hint_index: 0, hint_term: 0 },
                );
            }
            None => {
                let (hint_index, hint_term) = self.log.find_conflict_by_term(prev_index, prev_term);
                self.stats.append_rejections += 1;
                self.send_after_persist(
                    leader,
                    MessageBody::AppendReply { success: false, index: prev_index, hint_index, hint_term },
                );
            }
        }
    }

    fn handle_forwarded_proposals(&mut self, proposals: Vec<Proposal>) -> Result<(), DropReason> {
        if self.role != Role::Leader || self.lead_transferee.is_some() {
            // The proposer keeps its proposals and sends them to the next leader it learns of.
            self.stats.forwarded_proposals_dropped += proposals.len() as u64;
            return Ok(());
        }
        for proposal in proposals {
            self.append_proposal(proposal);
        }
        Ok(())
    }

    // ---- elections -------------------------------------------------------------------------------------

    fn start_election(&mut self, transfer: bool) {
        if self.election_refused() {
            return;
        }
        self.stats.elections_started += 1;
        if self.config.pre_vote && !transfer {
            self.become_pre_candidate();
        } else {
            self.become_candidate_and_request_votes(transfer);
        }
    }

    fn become_pre_candidate(&mut self) {
        self.role = Role::PreCandidate;
        self.set_leader(None);
        self.tracker.reset_votes();
        self.tracker.record_vote(self.id, true);
        self.reset_election_timer();
        if self.tracker.vote_result() == VoteResult::Won {
            self.become_candidate_and_request_votes(false);
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for peer in self.tracker.voter_peer_ids() {
            self.send_with_term(peer, self.term + 1, MessageBody::PreVote { last_index, last_term }, false);
        }
    }

    /// Whether this node must not campaign because the next term, or the no-op entry a new leader appends, would
    /// be beyond what a message can carry (see `limits`). Counted; the node stays a follower.
    fn election_refused(&mut self) -> bool {
        if self.term < MAX_TERM && self.log.last_index() < MAX_INDEX {
            return false;
        }
        self.stats.elections_refused += 1;
        if self.role != Role::Follower {
            self.become_follower(self.term, None);
        }
        true
    }

    fn become_candidate_and_request_votes(&mut self, transfer: bool) {
        if self.election_refused() {
            return;
        }
        self.term += 1;
        self.vote = Some(self.id);
        self.role = Role::Candidate;
        self.set_leader(None);
        self.tracker.reset_votes();
        self.tracker.record_vote(self.id, true);
        self.reset_election_timer();
        if self.tracker.vote_result() == VoteResult::Won {
            // The only voter: it leads once its vote is durable (see `persisted`).
            self.sole_win = Some((self.term, None));
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for peer in self.tracker.voter_peer_ids() {
            // Our own vote must be durable before we ask for others'.
            self.send_after_persist(peer, MessageBody::Vote { last_index, last_term, transfer });
        }
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.set_leader(Some(self.id));
        self.lead_transferee = None;
        self.receiving = None;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.tracker.reset_progress(self.log.last_index() + 1);
        self.read_rounds.start_term();
        self.term_start_index = self.log.last_index() + 1;
        // Section 8: an empty entry of the new term lets earlier entries commit without waiting for a client.
        let noop = Entry {
            term: self.term,
            index: self.log.last_index() + 1,
            kind: EntryKind::Noop,
            id: None,
            data: Payload::from(Vec::new()),
        };
        self.log.append_new(noop);
        self.replication_dirty = true;
        self.maybe_commit();
        self.resubmit_pending_proposals();
        self.resubmit_reads();
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if self.role == Role::Leader {
            // The reads held here are asked again: this node's of the next leader, a peer's by that peer.
            self.read_rounds.end_term();
        }
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        self.role = Role::Follower;
        self.lead_transferee = None;
        self.reset_election_timer();
        self.set_leader(leader);
    }

    fn set_leader(&mut self, leader: Option<NodeId>) {
        if self.leader == leader {
            return;
        }
        self.leader = leader;
        if let Some(leader) = leader {
            self.stats.leader_changes += 1;
            if leader != self.id {
                self.resubmit_pending_proposals();
                self.resubmit_reads();
            }
        }
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let span = u64::from(self.config.election_ticks_max - self.config.election_ticks_min) + 1;
        self.randomized_election_timeout = self.config.election_ticks_min + (self.rng.next() % span) as u32;
    }

    fn in_leader_lease(&self) -> bool {
        let heard_lately = self.leader.is_some()
            || (self.restarted && self.config.lease_reads && self.ticks < u64::from(self.config.election_ticks_min));
        self.config.check_quorum && heard_lately && self.election_elapsed < self.config.election_ticks_min
    }

    // ---- replication -----------------------------------------------------------------------------------

    /// Appends or forwards a pending proposal; the caller has marked it as sent.
    fn submit(&mut self, proposal: Proposal) {
        match (self.role, self.leader) {
            (Role::Leader, _) if self.lead_transferee.is_none() => self.append_proposal(proposal),
            (Role::Leader, _) => {}
            (_, Some(_)) => self.forward_buffer.push(proposal),
            (_, None) => {}
        }
    }

    fn resubmit_pending_proposals(&mut self) {
        self.abandon_stale_proposals();
        for proposal in self.proposals.take_all_for_resend(self.ticks) {
            self.submit(proposal);
        }
    }

    fn retry_due_proposals(&mut self) {
        if self.proposals.is_empty() || self.leader.is_none() {
            return;
        }
        if self.role != Role::Leader && !std::mem::take(&mut self.leader_heard_since_retry) {
            return;
        }
        self.abandon_stale_proposals();
        let due = self.proposals.take_due_for_retry(self.ticks, u64::from(self.config.proposal_retry_ticks));
        for proposal in due {
            self.stats.proposal_retries += 1;
            self.submit(proposal);
        }
    }

    fn heard_from_leader(&mut self, commit: Index) {
        self.heard_commit = self.heard_commit.max(commit);
        self.leader_last_spoke_tick = self.ticks;
        self.leader_heard_since_retry = true;
    }

    /// Gives up the proposals made before the log moved on by nearly a whole `Config::proposal_id_window` (as far
    /// as this node knows: its commit index, or a leader's it heard of). A leader deduplicates a retry only against
    /// its log and that many compacted ids, so a retry of such a proposal could commit it a second time; its
    /// outcome is unknown instead (`Ready::abandoned`). The margin (an eighth of the window) covers what the
    /// leader committed since this node last heard from it.
    fn abandon_stale_proposals(&mut self) {
        let known = self.log.committed.max(self.heard_commit);
        let reach = self.config.proposal_id_window - self.config.proposal_id_window / 8;
        if let Some(limit) = known.checked_sub(reach) {
            self.proposals.abandon_marked_below(limit, &mut self.abandoned);
        }
    }

    /// The leader appends a proposal unless its log already holds that id.
    fn append_proposal(&mut self, proposal: Proposal) {
        if self.log.last_index() >= MAX_INDEX {
            // The proposer keeps it pending; its own `propose` says the log is full.
            self.stats.proposals_refused_log_full += 1;
            return;
        }
        let entry = Entry {
            term: self.term,
            index: self.log.last_index() + 1,
            kind: EntryKind::Normal,
            id: Some(proposal.id),
            data: proposal.data,
        };
        if !self.log.append_new_unless_known(entry) {
            self.stats.duplicate_proposals += 1;
            return;
        }
        self.replication_dirty = true;
    }

    /// Paper 5.3 and 5.4.2: commit the highest index a majority holds, but only if it is of the current term.
    fn maybe_commit(&mut self) {
        let quorum_index = self.tracker.committed_index(self.log.stable_index());
        if quorum_index <= self.log.committed {
            return;
        }
        let bug = self.config.injects(InjectedBug::CommitPreviousTermByCount);
        if self.log.term(quorum_index) == Some(self.term) || bug {
            self.log.commit_to(quorum_index);
            self.apply_committed_configuration();
            // Followers learn the new commit index with the next append or heartbeat.
            self.replication_dirty = true;
            self.release_confirmed_reads();
        }
    }

    /// Sends every peer a heartbeat: one read round.
    fn broadcast_heartbeats(&mut self) {
        let read_round = self.read_rounds.next_round(self.ticks);
        for peer in self.tracker.peer_ids() {
            let Some(progress) = self.tracker.get(peer) else { continue };
            // Never tell a follower to commit beyond what it is known to hold.
            let commit = progress.matched.min(self.log.committed);
            self.send_now(peer, MessageBody::Heartbeat { commit, read_round });
        }
        // A leader alone is its own quorum.
        self.release_confirmed_reads();
    }

    /// Sends each follower what it lacks, as far as its flow control allows.
    fn send_appends(&mut self) {
        for peer in self.tracker.peer_ids() {
            self.send_appends_to(peer);
        }
    }

    fn send_appends_to(&mut self, peer: NodeId) {
        let max_inflight = self.config.max_inflight_messages;
        let max_inflight_bytes = self.config.max_inflight_bytes;
        let max_message_bytes = self.config.max_message_bytes;
        loop {
            let Some(progress) = self.tracker.get(peer) else { return };
            if progress.state == ProgressState::Snapshot {
                self.send_snapshot_chunks(peer);
                return;
            }
            if progress.is_paused(max_inflight, max_inflight_bytes) {
                return;
            }
            let next = progress.next;
            let last_index = self.log.last_index();
            let in_probe = progress.state == ProgressState::Probe;
            // In replicate, an append with no entries only matters to carry a newer commit index.
            let commit_news = progress.commit_sent < self.log.committed;
            if next > last_index && !in_probe && !commit_news {
                return;
            }
            let prev_index = next - 1;
            let Some(prev_term) = self.log.term(prev_index) else {
                // The entries the follower needs were compacted away: it needs the snapshot.
                if self.start_snapshot_transfer(peer) {
                    continue;
                }
                return;
            };
            let entries = self.log.entries_from(next, max_message_bytes);
            let bytes: u64 = entries.iter().map(Entry::size_bytes).sum();
            let sent_last = prev_index + entries.len() as Index;
            let commit = self.log.committed;
            let empty = entries.is_empty();
            if let Some(progress) = self.tracker.get_mut(peer) {
                progress.sent_entries(sent_last, bytes);
                progress.commit_sent = commit;
            }
            self.send_now(peer, MessageBody::Append { prev_index, prev_term, entries, commit });
            if empty || in_probe {
                return;
            }
        }
    }

    /// Switches a follower that needs compacted entries to receiving the latest snapshot. Returns whether it did.
    #[cold]
    fn start_snapshot_transfer(&mut self, peer: NodeId) -> bool {
        let Some(snapshot) = self.snapshot.as_ref() else { return false };
        let stream = self.snapshot_stream.get_or_insert_with(|| snapshot::encode_stream(snapshot)).clone();
        let transfer = Transfer::new(snapshot.meta.clone(), stream);
        let Some(progress) = self.tracker.get_mut(peer) else { return false };
        progress.become_snapshot(transfer);
        self.stats.snapshot_needed += 1;
        true
    }

    /// Sends the chunks of a follower's snapshot transfer that flow control allows: chunks of at most
    /// `max_message_bytes`, at most a few unconfirmed at once, within `max_inflight_bytes`.
    #[cold]
    fn send_snapshot_chunks(&mut self, peer: NodeId) {
        let chunk_bytes = self.config.max_message_bytes.max(1);
        let max_chunks = self.config.max_inflight_messages.clamp(1, 4);
        let max_bytes = self.config.max_inflight_bytes;
        loop {
            let Some(transfer) = self.tracker.get_mut(peer).and_then(|p| p.snapshot.as_mut()) else { return };
            let Some((offset, chunk)) = transfer.next_chunk(chunk_bytes, max_chunks, max_bytes) else { return };
            let (meta, total) = (Box::new(transfer.meta.clone()), transfer.total());
            self.stats.snapshot_chunks_sent += 1;
            self.send_now(peer, MessageBody::InstallSnapshot { meta, offset, total, chunk });
        }
    }

    /// Hands leadership over once the transfer target has caught up.
    fn maybe_finish_transfer(&mut self, peer: NodeId) {
        let last_index = self.log.last_index();
        if self.lead_transferee == Some(peer) && self.tracker.get(peer).is_some_and(|p| p.matched == last_index) {
            self.send_timeout_now(peer);
        }
    }

    /// An append with no entries at the follower's send point, outside flow control.
    fn send_empty_append(&mut self, peer: NodeId) {
        let Some(progress) = self.tracker.get_mut(peer) else { return };
        let prev_index = progress.next - 1;
        let commit = self.log.committed;
        match self.log.term(prev_index) {
            Some(prev_term) => {
                progress.commit_sent = commit;
                self.send_now(peer, MessageBody::Append { prev_index, prev_term, entries: Vec::new(), commit });
            }
            None => {
                // The send point was compacted away: probe from the match point, which leads to the snapshot.
                progress.become_probe();
                self.replication_dirty = true;
            }
        }
    }

    fn send_timeout_now(&mut self, target: NodeId) {
        // The target campaigns without waiting out the followers' lease: no read lease may count on it now.
        self.read_rounds.void_lease();
        self.send_now(target, MessageBody::TimeoutNow);
    }

    // ---- output ----------------------------------------------------------------------------------------

    fn send_now(&mut self, to: NodeId, body: MessageBody) {
        self.send_with_term(to, self.term, body, false);
    }

    fn send_after_persist(&mut self, to: NodeId, body: MessageBody) {
        self.send_with_term(to, self.term, body, true);
    }

    fn send_with_term(&mut self, to: NodeId, term: Term, body: MessageBody, after_persist: bool) {
        let message = Message { from: self.id, to, term, body };
        if after_persist {
            self.unsequenced.push(message);
        } else {
            self.outbox.push(message);
        }
    }

    /// Whether `ready` would return anything.
    pub fn has_ready(&self) -> bool {
        !self.outbox.is_empty()
            || !self.unsequenced.is_empty()
            || !self.forward_buffer.is_empty()
            || !self.abandoned.is_empty()
            || self.log.has_unpersisted()
            || self.snapshot_to_persist.is_some()
            || self.snapshot_to_restore.as_ref().is_some_and(|(token, _)| *token <= self.last_acked_token)
            || (self.log.has_committed_to_apply() && self.snapshot_to_restore.is_none())
            || self.hard_state_changed()
            || self.soft_state() != self.last_soft_state
            || (self.replication_dirty && self.role == Role::Leader)
            || (self.read_rounds.is_due() && self.role == Role::Leader)
            || !self.answered_reads.is_empty()
            || self.held.front().is_some_and(|(token, _)| *token <= self.last_acked_token)
    }

    fn hard_state_changed(&self) -> bool {
        self.term != self.handed_hard_state.term || self.vote != self.handed_hard_state.vote
    }

    fn soft_state(&self) -> Option<SoftState> {
        Some(SoftState { role: self.role, leader: self.leader, term: self.term })
    }

    /// Collects everything the driver must do now. Call after each batch of inputs, and after `persisted`.
    pub fn ready(&mut self) -> Ready {
        self.advance_membership();
        if self.role == Role::Leader && self.replication_dirty {
            self.replication_dirty = false;
            self.send_appends();
        }
        if self.role == Role::Leader && self.read_rounds.is_due() {
            // The reads of this batch of inputs share one round.
            self.broadcast_heartbeats();
        }
        self.flush_forward_buffer();

        let snapshot = self.snapshot_to_persist.take();
        let entries = self.log.take_unpersisted();
        let persist = if !entries.is_empty() || snapshot.is_some() || self.hard_state_changed() {
            self.last_issued_token += 1;
            let token = self.last_issued_token;
            let last =
                entries.last().map(|e| (e.index, e.term)).or(snapshot.as_ref().map(|s| (s.meta.index, s.meta.term)));
            if let Some((last_index, last_term)) = last {
                self.writes_in_flight.push_back(PendingWrite { token, last_index, last_term });
            }
            if let Some(snapshot) = &snapshot {
                // A newer received snapshot supersedes one not yet handed to the application.
                self.snapshot_to_restore = Some((token, snapshot.clone()));
            }
            let hard_state = self.hard_state();
            self.handed_hard_state = hard_state;
            Some(PersistRequest { token, hard_state: Some(hard_state), snapshot, entries })
        } else {
            None
        };

        // Messages that depend on state take the token of the last write that holds it.
        let token = self.last_issued_token;
        if let Some((term, waiting @ None)) = self.sole_win.as_mut() {
            if *term == self.term {
                *waiting = Some(token);
            }
        }
        for message in self.unsequenced.drain(..) {
            self.held.push_back((token, message));
        }
        let mut messages = std::mem::take(&mut self.outbox);
        while self.held.front().is_some_and(|(token, _)| *token <= self.last_acked_token) {
            if let Some((_, message)) = self.held.pop_front() {
                messages.push(message);
            }
        }

        // A received snapshot is restored once durable, before any entry after it is applied.
        let snapshot = match &self.snapshot_to_restore {
            Some((token, _)) if *token <= self.last_acked_token => self.snapshot_to_restore.take().map(|(_, s)| s),
            _ => None,
        };
        let mut own = OwnIndices::default();
        if let Some(snapshot) = &snapshot {
            self.snapshot_restored(snapshot, &mut own);
        }
        let committed = if self.snapshot_to_restore.is_some() {
            Vec::new()
        } else {
            self.log.take_committed(self.config.max_apply_bytes_per_ready)
        };
        for entry in &committed {
            if entry.id.as_deref().is_some_and(|id| self.proposals.committed(id)) {
                own.push(entry.index);
            }
        }

        self.abandon_stale_proposals();
        let abandoned = std::mem::take(&mut self.abandoned);

        let soft_state = self.soft_state();
        let soft_state = if soft_state != self.last_soft_state {
            self.last_soft_state = soft_state;
            soft_state
        } else {
            None
        };
        let reads = std::mem::take(&mut self.answered_reads);
        Ready { messages, persist, snapshot, committed, own, abandoned, soft_state, reads }
    }

    /// A received snapshot goes to the application: this node's proposals that it holds have committed (their
    /// indices go to `own`).
    #[cold]
    fn snapshot_restored(&mut self, snapshot: &Snapshot, own: &mut OwnIndices) {
        self.stats.snapshots_installed += 1;
        // Its index is committed: what this node knows of the log's progress is fresh again.
        self.leader_heard_since_retry = true;
        for (index, id) in snapshot.proposal_ids.iter() {
            if self.proposals.committed(id) {
                own.push(index);
            }
        }
    }

    /// Storage made the write with this token (and every earlier one) durable.
    pub fn persisted(&mut self, token: u64) {
        if token <= self.last_acked_token || token > self.last_issued_token {
            return;
        }
        self.last_acked_token = token;
        while self.writes_in_flight.front().is_some_and(|write| write.token <= token) {
            if let Some(write) = self.writes_in_flight.pop_front() {
                self.log.stable_to(write.last_index, write.last_term);
            }
        }
        if let Some((term, Some(vote_token))) = self.sole_win {
            if token >= vote_token {
                self.sole_win = None;
                if self.role == Role::Candidate && self.term == term {
                    self.become_leader();
                }
            }
        }
        if self.role == Role::Leader {
            self.maybe_commit();
        }
    }

    fn flush_forward_buffer(&mut self) {
        if self.forward_buffer.is_empty() {
            return;
        }
        // What the leader said in this batch of inputs may have made some of these too old to send (rare).
        let abandoned_before = self.abandoned.len();
        self.abandon_stale_proposals();
        if self.abandoned.len() > abandoned_before {
            let proposals = &mut self.proposals;
            self.forward_buffer.retain(|proposal| proposals.contains(&proposal.id));
        }
        let Some(leader) = self.leader.filter(|&leader| leader != self.id) else {
            // No leader to forward to: the proposals stay pending and are resubmitted when one is known.
            self.forward_buffer.clear();
            return;
        };
        let limit = self.config.max_message_bytes;
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        for proposal in std::mem::take(&mut self.forward_buffer) {
            let bytes = proposal.size_bytes();
            if !batch.is_empty() && batch_bytes + bytes > limit {
                self.send_now(leader, MessageBody::Propose { proposals: std::mem::take(&mut batch) });
                batch_bytes = 0;
            }
            batch_bytes += bytes;
            batch.push(proposal);
        }
        if !batch.is_empty() {
            self.send_now(leader, MessageBody::Propose { proposals: batch });
        }
    }
}

/// The restored entries that follow the snapshot: none if the one at the snapshot's index has another term (the
/// log the snapshot replaced), else those after its index.
fn entries_after_snapshot(mut entries: Vec<Entry>, snapshot_index: Index, snapshot_term: Term) -> Vec<Entry> {
    if snapshot_index == 0 {
        return entries;
    }
    if entries.iter().any(|e| e.index == snapshot_index && e.term != snapshot_term) {
        return Vec::new();
    }
    entries.retain(|e| e.index > snapshot_index);
    entries
}

/// Whether every index a message carries (and the last index of the entries it carries) is at most `MAX_INDEX`.
fn indices_in_range(body: &MessageBody) -> bool {
    let max = |indices: &[Index]| indices.iter().all(|&index| index <= MAX_INDEX);
    match body {
        MessageBody::PreVote { last_index, .. } | MessageBody::Vote { last_index, .. } => max(&[*last_index]),
        MessageBody::Append { prev_index, entries, commit, .. } => {
            MAX_INDEX.checked_sub(*prev_index).is_some_and(|room| entries.len() as u64 <= room) && max(&[*commit])
        }
        MessageBody::AppendReply { index, hint_index, .. } => max(&[*index, *hint_index]),
        MessageBody::Heartbeat { commit, .. } => max(&[*commit]),
        MessageBody::ReadIndexReply { index, .. } => max(&[*index]),
        MessageBody::CommitNotice { index, .. } => max(&[*index]),
        MessageBody::InstallSnapshot { meta, .. } => max(&[meta.index]),
        MessageBody::SnapshotReply { index, .. } => max(&[*index]),
        MessageBody::PreVoteReply { .. }
        | MessageBody::VoteReply { .. }
        | MessageBody::HeartbeatReply { .. }
        | MessageBody::ReadIndex { .. }
        | MessageBody::Propose { .. }
        | MessageBody::TimeoutNow => true,
    }
}

/// Restored entries must be contiguous after the snapshot, with terms that never decrease.
fn check_restored_entries(snapshot_index: Index, snapshot_term: Term, entries: &[Entry]) -> Result<(), ConfigError> {
    let mut previous_term = snapshot_term;
    for (entry, expected) in entries.iter().zip(snapshot_index + 1..) {
        if entry.index != expected || entry.term < previous_term || entry.term == 0 {
            return Err(ConfigError::RestoredStateInvalid(RestoredStateError::EntryOutOfOrder {
                index: entry.index,
                term: entry.term,
                previous_index: expected - 1,
                previous_term,
            }));
        }
        previous_term = entry.term;
    }
    Ok(())
}

/// Checks what can be checked of a message without the node's state.
fn validate_body(m: &Message) -> Result<(), DropReason> {
    if !indices_in_range(&m.body) {
        return Err(DropReason::Malformed);
    }
    match &m.body {
        MessageBody::Append { prev_index, prev_term, entries, commit } => {
            if *prev_term > m.term {
                return Err(DropReason::Malformed);
            }
            let mut previous_term = *prev_term;
            for (entry, expected_index) in entries.iter().zip(prev_index + 1..) {
                let bad_kind = (entry.kind == EntryKind::Normal && entry.id.is_none())
                    || (entry.kind == EntryKind::ConfChange && ConfEntry::decode(&entry.data).is_none());
                if entry.index != expected_index
                    || entry.term < previous_term
                    || entry.term > m.term
                    || entry.term == 0
                    || bad_kind
                {
                    return Err(DropReason::Malformed);
                }
                previous_term = entry.term;
            }
            let _ = commit;
            Ok(())
        }
        MessageBody::Vote { last_term, .. } | MessageBody::PreVote { last_term, .. } => {
            if *last_term > m.term {
                Err(DropReason::Malformed)
            } else {
                Ok(())
            }
        }
        MessageBody::AppendReply { success: false, hint_index, index, .. } if hint_index > index => {
            Err(DropReason::Malformed)
        }
        MessageBody::InstallSnapshot { meta, offset, total, chunk } => {
            let chunk_end = offset.checked_add(chunk.len() as u64);
            let bad = meta.index == 0
                || meta.term == 0
                || meta.term > m.term
                || meta.membership.voters.is_empty()
                || meta.membership.members().contains(&0)
                || *total > MAX_SNAPSHOT_BYTES
                || chunk_end.is_none_or(|end| end > *total)
                // Only the end of the stream may come as an empty chunk.
                || (chunk.is_empty() && offset != total);
            if bad {
                Err(DropReason::Malformed)
            } else {
                Ok(())
            }
        }
        MessageBody::SnapshotReply { index, received, .. } if *index == 0 || *received > MAX_SNAPSHOT_BYTES => {
            Err(DropReason::Malformed)
        }
        _ => Ok(()),
    }
}
