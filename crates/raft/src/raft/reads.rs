//! Linearizable reads (Raft thesis, section 6.4). A read gets a read index: the leader's commit index, taken
//! once a quorum has answered a heartbeat round sent after the read arrived (so the leader still led when the
//! read was asked) and once an entry of the leader's own term has committed (so its commit index covers every
//! entry committed before it led). A node that has applied up to the read index can serve the read.
//!
//! Reads of one flush share one round (batching); a follower asks the leader for the index and then waits for
//! its own apply, so reads spread over the cluster without data being forwarded. With CheckQuorum, a leader
//! whose quorum answered a round less than `Config::lease_ticks` ago answers at once (thesis 6.4.1): followers
//! that answered it refuse to vote for anyone else for an election timeout of their own.

use super::Raft;
use crate::config::InjectedBug;
use crate::error::{DropReason, ReadError};
use crate::message::MessageBody;
use crate::read_queue::HeldRead;
use crate::ready::ReadState;
use crate::types::{Index, NodeId, Role};

impl Raft {
    /// Asks for a read index for this node's read `request` (a number of the caller's, unique among its pending
    /// reads). The answer comes in a later `Ready::reads`, however long it takes: the node asks whoever leads,
    /// again after a leader change or when the leader's answer is late; `cancel_read` gives it up. `lease`: the
    /// leader may answer from its lease without a round (only with CheckQuorum).
    pub fn read_index(&mut self, request: u64, lease: bool) -> Result<(), ReadError> {
        if lease && !self.leases_enabled() {
            return Err(ReadError::LeaseNotEnabled);
        }
        if self.local_reads.contains(request) {
            return Err(ReadError::DuplicateRequest(request));
        }
        if self.local_reads.len() >= self.config.max_pending_reads {
            return Err(ReadError::TooManyPending { limit: self.config.max_pending_reads });
        }
        self.local_reads.insert(request, lease);
        self.submit_read(request, lease);
        Ok(())
    }

    /// A read answered at once from this leader's lease: its read index, or `None` when this node is not a leader
    /// whose lease holds (then ask with `read_index`). Nothing is left pending either way.
    pub fn read_by_lease(&mut self) -> Option<Index> {
        if self.role != Role::Leader || !self.lease_holds() {
            return None;
        }
        self.stats.reads_by_lease += 1;
        self.stats.reads_answered += 1;
        Some(self.log.committed)
    }

    /// Whether lease reads are on: `Config::lease_reads`, with CheckQuorum.
    pub(super) fn leases_enabled(&self) -> bool {
        self.config.lease_reads && self.config.check_quorum
    }

    /// The driver says its clock is behind: ticks are due that it has not given the core yet (the thread that
    /// runs the core was busy). A lease counted in ticks would then last longer than it may, so none holds until
    /// the ticks are in.
    pub fn set_clock_behind(&mut self, behind: bool) {
        self.clock_behind = behind;
    }

    /// Gives up a pending read: no answer comes for it.
    pub fn cancel_read(&mut self, request: u64) {
        self.local_reads.remove(request);
    }

    /// This node's reads that have no read index yet.
    pub fn pending_reads(&self) -> usize {
        self.local_reads.len()
    }

    /// Whether this leader's commit index covers every committed entry: an entry of its own term has committed.
    pub(super) fn committed_in_term(&self) -> bool {
        self.role == Role::Leader && self.log.committed >= self.term_start_index
    }

    /// Sends a pending read of this node to whoever leads, or holds it as the leader.
    fn submit_read(&mut self, request: u64, lease: bool) {
        match (self.role, self.leader) {
            (Role::Leader, _) => self.leader_read(None, request, lease),
            (_, Some(leader)) if leader != self.id => {
                if let Some(read) = self.local_reads.get_mut(request) {
                    read.asked_at = Some(self.ticks);
                }
                self.send_now(leader, MessageBody::ReadIndex { request, lease });
            }
            // No leader known: asked once one is.
            _ => {}
        }
    }

    /// A new leader is known (another node, or this one): every pending read is asked of it.
    pub(super) fn resubmit_reads(&mut self) {
        for (request, lease) in self.local_reads.all() {
            self.submit_read(request, lease);
        }
    }

    /// A follower asks again for reads the leader has not answered within `proposal_retry_ticks` (a message may
    /// have been lost, or the leader dropped it).
    pub(super) fn retry_due_reads(&mut self) {
        if self.role == Role::Leader || self.leader.is_none() {
            return;
        }
        for (request, lease) in self.local_reads.due(self.ticks, u64::from(self.config.proposal_retry_ticks)) {
            self.stats.read_retries += 1;
            self.submit_read(request, lease);
        }
    }

    /// The leader takes a read: answered at once from its lease, or held for the next round.
    fn leader_read(&mut self, requester: Option<NodeId>, request: u64, lease: bool) {
        let read = HeldRead { requester, request };
        if self.config.injects(InjectedBug::ReadWithoutQuorumRound) {
            self.answer_read(read, self.log.committed);
            return;
        }
        if lease && self.lease_holds() {
            self.stats.reads_by_lease += 1;
            self.answer_read(read, self.log.committed);
            return;
        }
        self.read_rounds.hold(read);
    }

    /// Whether this leader may answer reads without a round: CheckQuorum is on, no leadership transfer is under
    /// way (nor was a transferee told to campaign in this term: `ReadRounds::void_lease`), its term's entry has
    /// committed, and a quorum answered a round sent at most `lease_ticks` ago.
    fn lease_holds(&mut self) -> bool {
        if !self.leases_enabled() || self.clock_behind || self.lead_transferee.is_some() || !self.committed_in_term() {
            return false;
        }
        let confirmed = self.tracker.quorum_read_round(self.read_rounds.sent());
        self.read_rounds
            .lease_start(confirmed)
            .is_some_and(|sent_at| self.ticks.saturating_sub(sent_at) <= self.config.lease_ticks())
    }

    /// Answers the held reads whose round a quorum has answered, once the term's entry has committed.
    pub(super) fn release_confirmed_reads(&mut self) {
        if self.read_rounds.held_len() == 0 || !self.committed_in_term() {
            return;
        }
        let confirmed = self.tracker.quorum_read_round(self.read_rounds.sent());
        let released = self.read_rounds.release(confirmed);
        if released.is_empty() {
            return;
        }
        self.stats.read_rounds_confirmed += 1;
        // Any commit index from now on is at least the one when the reads arrived: the highest is the best.
        let index = self.log.committed;
        for read in released {
            self.answer_read(read, index);
        }
    }

    fn answer_read(&mut self, read: HeldRead, index: Index) {
        match read.requester {
            None => self.read_answered(read.request, index),
            Some(peer) => self.send_now(peer, MessageBody::ReadIndexReply { request: read.request, index }),
        }
    }

    /// One of this node's reads has its index (unless it was given up meanwhile).
    fn read_answered(&mut self, request: u64, index: Index) {
        if self.local_reads.remove(request) {
            self.stats.reads_answered += 1;
            self.answered_reads.push(ReadState { request, index });
        }
    }

    /// A peer asks for a read index. Only a leader answers; a queue already full drops it (the peer asks again).
    pub(super) fn handle_read_index_request(&mut self, from: NodeId, request: u64, lease: bool) {
        if self.role != Role::Leader || self.read_rounds.held_len() >= self.config.max_pending_reads {
            self.stats.read_requests_dropped += 1;
            return;
        }
        self.leader_read(Some(from), request, lease);
    }

    pub(super) fn handle_read_index_reply(&mut self, request: u64, index: Index) {
        self.read_answered(request, index);
    }

    /// A follower answered a heartbeat round.
    pub(super) fn handle_read_round_answer(&mut self, from: NodeId, read_round: u64) -> Result<(), DropReason> {
        if read_round > self.read_rounds.sent() {
            return Err(DropReason::Malformed);
        }
        if let Some(progress) = self.tracker.get_mut(from) {
            progress.read_round = progress.read_round.max(read_round);
        }
        self.release_confirmed_reads();
        Ok(())
    }
}
