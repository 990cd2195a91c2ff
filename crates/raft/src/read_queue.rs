//! The bookkeeping of linearizable reads (Raft thesis, section 6.4): a node's own reads waiting for their read
//! index (`LocalReads`), and a leader's reads waiting for a quorum to confirm that it still leads
//! (`ReadRounds`). The rules that use them are in `raft/reads.rs`.

use super::types::NodeId;
use std::collections::{BTreeMap, VecDeque};

/// How many recent rounds a leader remembers the send tick of, for its lease. A round older than these cannot
/// hold a lease anyway (a leader broadcasts at least once per heartbeat interval).
const ROUND_TICKS_KEPT: usize = 1024;

/// One of this node's reads that has no read index yet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalRead {
    /// The leader may answer it from its lease.
    pub lease: bool,
    /// The tick it was last asked of a leader (as a follower), if it was.
    pub asked_at: Option<u64>,
}

/// This node's reads without a read index, by request number. They stay here across leader changes: a node
/// asks whoever leads (itself included) until the read is answered or the caller gives up (`cancel`).
#[derive(Debug, Default)]
pub(crate) struct LocalReads {
    pending: BTreeMap<u64, LocalRead>,
}

impl LocalReads {
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn contains(&self, request: u64) -> bool {
        self.pending.contains_key(&request)
    }

    pub fn insert(&mut self, request: u64, lease: bool) {
        self.pending.insert(request, LocalRead { lease, asked_at: None });
    }

    /// The read is answered (or given up): whether it was pending.
    pub fn remove(&mut self, request: u64) -> bool {
        self.pending.remove(&request).is_some()
    }

    pub fn get_mut(&mut self, request: u64) -> Option<&mut LocalRead> {
        self.pending.get_mut(&request)
    }

    /// Every pending read, as (request, lease).
    pub fn all(&self) -> Vec<(u64, bool)> {
        self.pending.iter().map(|(&request, read)| (request, read.lease)).collect()
    }

    /// The reads asked of a leader before `tick - retry_ticks`, or never asked, as (request, lease).
    pub fn due(&self, tick: u64, retry_ticks: u64) -> Vec<(u64, bool)> {
        let due = |read: &LocalRead| read.asked_at.is_none_or(|at| tick.saturating_sub(at) >= retry_ticks);
        self.pending.iter().filter(|(_, read)| due(read)).map(|(&request, read)| (request, read.lease)).collect()
    }
}

/// A read a leader holds until a quorum confirms a round sent after it arrived: `None` is this node's own read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeldRead {
    pub requester: Option<NodeId>,
    pub request: u64,
}

/// A leader's heartbeat rounds and the reads waiting for them. A round is one broadcast of heartbeats; the
/// numbers go up for the node's whole life, so an answer from an earlier term can never confirm a later round.
#[derive(Debug, Default)]
pub(crate) struct ReadRounds {
    /// The round of the last broadcast.
    sent: u64,
    /// Reads wait for a round that is not sent yet: broadcast at the next `ready`.
    due: bool,
    /// Reads by the round they wait for (ascending).
    held: VecDeque<(u64, HeldRead)>,
    /// Recent rounds of this term and the tick each was sent at (ascending), for the lease.
    sent_at: VecDeque<(u64, u64)>,
    /// The first round a lease may count on: none from a term's start, and none at all once a transferee was told
    /// to campaign in it.
    lease_floor: u64,
}

impl ReadRounds {
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn is_due(&self) -> bool {
        self.due
    }

    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// A new leadership: no read is held and no round of an earlier term counts for the lease.
    pub fn start_term(&mut self) {
        self.held.clear();
        self.sent_at.clear();
        self.due = false;
        self.lease_floor = self.sent + 1;
    }

    /// Leadership is lost: the held reads are handed back (their nodes ask the next leader).
    pub fn end_term(&mut self) -> Vec<HeldRead> {
        self.due = false;
        self.sent_at.clear();
        self.held.drain(..).map(|(_, read)| read).collect()
    }

    /// Holds `read` until a quorum answers the next round.
    pub fn hold(&mut self, read: HeldRead) {
        self.held.push_back((self.sent + 1, read));
        self.due = true;
    }

    /// A broadcast at `tick`: returns its round.
    pub fn next_round(&mut self, tick: u64) -> u64 {
        self.sent += 1;
        self.due = false;
        self.sent_at.push_back((self.sent, tick));
        if self.sent_at.len() > ROUND_TICKS_KEPT {
            self.sent_at.pop_front();
        }
        self.sent
    }

    /// The reads of every round up to `confirmed` (the highest round a quorum answered).
    pub fn release(&mut self, confirmed: u64) -> Vec<HeldRead> {
        let mut released = Vec::new();
        while self.held.front().is_some_and(|&(round, _)| round <= confirmed) {
            if let Some((_, read)) = self.held.pop_front() {
                released.push(read);
            }
        }
        released
    }

    /// The tick round `confirmed` was sent at, if a lease may count on it; forgets earlier rounds.
    pub fn lease_start(&mut self, confirmed: u64) -> Option<u64> {
        while self.sent_at.front().is_some_and(|&(round, _)| round < confirmed) {
            self.sent_at.pop_front();
        }
        if confirmed < self.lease_floor {
            return None;
        }
        self.sent_at.front().filter(|&&(round, _)| round == confirmed).map(|&(_, tick)| tick)
    }

    /// The transferee was told to campaign: no round of this term holds a lease any more, those sent so far nor
    /// those to come (its election skips the followers' wait, which is what the lease counts on, and the message
    /// may arrive at any time, after the transfer gave up too). The next term starts afresh (`start_term`).
    pub fn void_lease(&mut self) {
        self.lease_floor = u64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(request: u64) -> HeldRead {
        HeldRead { requester: None, request }
    }

    #[test]
    fn a_read_waits_for_a_round_sent_after_it_arrived() {
        let mut rounds = ReadRounds::default();
        assert_eq!(rounds.next_round(1), 1);
        rounds.hold(read(7));
        assert!(rounds.is_due());
        assert_eq!(rounds.release(1), vec![], "round 1 was sent before the read");
        assert_eq!(rounds.next_round(2), 2);
        assert_eq!(rounds.release(2), vec![read(7)]);
    }

    #[test]
    fn reads_of_one_round_are_released_together_in_order() {
        let mut rounds = ReadRounds::default();
        rounds.hold(read(1));
        rounds.hold(read(2));
        rounds.next_round(0);
        rounds.hold(read(3));
        assert_eq!(rounds.release(1), vec![read(1), read(2)]);
        assert_eq!(rounds.held_len(), 1);
    }

    #[test]
    fn a_lease_counts_only_on_rounds_after_the_floor_and_none_after_a_transfer_in_that_term() {
        let mut rounds = ReadRounds::default();
        rounds.start_term();
        rounds.next_round(5);
        assert_eq!(rounds.lease_start(1), Some(5));
        rounds.void_lease();
        rounds.next_round(6);
        assert_eq!(rounds.lease_start(1), None, "round 1 was before the transfer");
        assert_eq!(rounds.lease_start(2), None, "nor does a round after it, in the same term");
        rounds.start_term();
        rounds.next_round(9);
        assert_eq!(rounds.lease_start(3), Some(9), "a new term starts afresh");
    }

    #[test]
    fn local_reads_are_due_again_after_the_retry_interval() {
        let mut reads = LocalReads::default();
        reads.insert(1, false);
        assert_eq!(reads.due(0, 10), vec![(1, false)]);
        if let Some(read) = reads.get_mut(1) {
            read.asked_at = Some(3);
        }
        assert_eq!(reads.due(12, 10), vec![]);
        assert_eq!(reads.due(13, 10), vec![(1, false)]);
    }
}
