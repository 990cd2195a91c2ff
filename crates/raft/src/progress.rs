//! What a leader knows about one follower's log, and how much it may send it: the probe/replicate/snapshot state
//! machine of etcd's raft, with in-flight limits by message count and by bytes.

use super::snapshot::Transfer;
use super::types::Index;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// The leader does not know where the follower's log matches: one append at a time, then wait.
    Probe,
    /// The follower's log matches up to `matched`: appends are pipelined within the in-flight limits.
    Replicate,
    /// The follower needs entries that were compacted away: a snapshot is being sent (`Progress::snapshot`), and
    /// no appends until the follower confirms it installed it.
    Snapshot,
}

/// Appends sent but not yet acknowledged, oldest first, each as (last index, bytes).
#[derive(Debug, Default)]
pub struct Inflights {
    sent: VecDeque<(Index, u64)>,
    bytes: u64,
}

impl Inflights {
    pub fn add(&mut self, last_index: Index, bytes: u64) {
        self.sent.push_back((last_index, bytes));
        self.bytes += bytes;
    }

    /// Forgets every message whose entries are all at or below `index`.
    pub fn free_to(&mut self, index: Index) {
        while let Some(&(last, bytes)) = self.sent.front() {
            if last > index {
                break;
            }
            self.bytes -= bytes;
            self.sent.pop_front();
        }
    }

    pub fn reset(&mut self) {
        self.sent.clear();
        self.bytes = 0;
    }

    pub fn count(&self) -> usize {
        self.sent.len()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[derive(Debug)]
pub struct Progress {
    /// The highest index known to match the leader's log.
    pub matched: Index,
    /// The next index to send.
    pub next: Index,
    pub state: ProgressState,
    /// In `Probe`: an append was sent and its answer (or a heartbeat reply) has not come yet.
    pub probe_sent: bool,
    pub inflights: Inflights,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
    pub is_learner: bool,
    /// The commit index last sent to this follower, so a new one is sent even when no entries are.
    pub commit_sent: Index,
    /// In `Snapshot`: the transfer under way.
    pub snapshot: Option<Box<Transfer>>,
    /// The highest read round (heartbeat broadcast) this follower answered in the leader's term.
    pub read_round: u64,
}

impl Progress {
    pub fn new(next: Index, is_learner: bool) -> Progress {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflights: Inflights::default(),
            recent_active: false,
            is_learner,
            commit_sent: 0,
            snapshot: None,
            read_round: 0,
        }
    }

    pub fn become_probe(&mut self) {
        self.state = ProgressState::Probe;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflights.reset();
        self.snapshot = None;
    }

    pub fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflights.reset();
        self.snapshot = None;
    }

    /// Starts sending a snapshot; appends wait until the follower confirms it.
    pub fn become_snapshot(&mut self, transfer: Transfer) {
        self.state = ProgressState::Snapshot;
        self.probe_sent = false;
        self.inflights.reset();
        self.snapshot = Some(Box::new(transfer));
    }

    /// Whether the leader must hold back appends to this follower for now.
    pub fn is_paused(&self, max_messages: usize, max_bytes: u64) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.count() >= max_messages || self.inflights.bytes() >= max_bytes,
            ProgressState::Snapshot => true,
        }
    }

    /// Records an append sent with entries up to `last_index` totalling `bytes`.
    pub fn sent_entries(&mut self, last_index: Index, bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                if last_index >= self.next {
                    self.next = last_index + 1;
                    self.inflights.add(last_index, bytes);
                }
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot => {}
        }
    }

    /// A successful reply up to `index`. Returns whether it told the leader something new.
    pub fn acknowledge(&mut self, index: Index) -> bool {
        let advanced = index > self.matched;
        if advanced {
            self.matched = index;
            self.probe_sent = false;
        }
        self.next = self.next.max(index + 1);
        self.inflights.free_to(index);
        advanced
    }

    /// A rejection of the append that followed `rejected`; `hint_next` is where the follower's log may match.
    /// Returns whether the rejection was current (not a stale answer to an older message).
    pub fn reject(&mut self, rejected: Index, hint_next: Index) -> bool {
        match self.state {
            ProgressState::Replicate => {
                // A rejection at or below the match point answers an old message: ignore it.
                if rejected <= self.matched {
                    return false;
                }
                self.become_probe();
                self.next = hint_next.clamp(self.matched + 1, self.next.max(self.matched + 1));
                true
            }
            ProgressState::Probe => {
                // Only the answer to the probe we sent (at next - 1) counts.
                if self.next == 0 || rejected != self.next - 1 {
                    return false;
                }
                self.next = hint_next.clamp(self.matched + 1, self.next);
                self.probe_sent = false;
                true
            }
            // Appends were not sent in this state: a rejection answers an older one.
            ProgressState::Snapshot => false,
        }
    }

    /// The follower holds less than it acknowledged (a node kept in memory restarted empty, and says so): the
    /// leader counts on nothing it held, and sends it the log from the start. Returns whether anything changed (a
    /// snapshot under way goes on: the follower answers its chunks for itself).
    pub fn lost_entries(&mut self) -> bool {
        if self.state == ProgressState::Snapshot || self.matched == 0 {
            return false;
        }
        self.matched = 0;
        self.become_probe();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicate_pauses_at_the_message_limit_and_resumes_on_ack() {
        let mut progress = Progress::new(1, false);
        progress.become_replicate();
        for last in 1..=4 {
            assert!(!progress.is_paused(4, u64::MAX));
            progress.sent_entries(last, 10);
        }
        assert!(progress.is_paused(4, u64::MAX));
        progress.acknowledge(2);
        assert!(!progress.is_paused(4, u64::MAX));
        assert_eq!(progress.inflights.count(), 2);
    }

    #[test]
    fn replicate_pauses_at_the_byte_limit() {
        let mut progress = Progress::new(1, false);
        progress.become_replicate();
        progress.sent_entries(1, 600);
        assert!(!progress.is_paused(100, 1000));
        progress.sent_entries(2, 600);
        assert!(progress.is_paused(100, 1000));
    }

    #[test]
    fn stale_rejection_is_ignored_in_replicate() {
        let mut progress = Progress::new(1, false);
        progress.acknowledge(5);
        progress.become_replicate();
        assert!(!progress.reject(4, 1));
        assert_eq!(progress.state, ProgressState::Replicate);
        assert!(progress.reject(7, 6));
        assert_eq!(progress.state, ProgressState::Probe);
        assert_eq!(progress.next, 6);
    }

    #[test]
    fn a_follower_that_lost_its_entries_is_counted_on_for_nothing_and_probed_from_the_start() {
        for probing in [false, true] {
            let mut progress = Progress::new(1, false);
            progress.acknowledge(5);
            if probing {
                progress.become_probe();
            } else {
                progress.become_replicate();
            }
            assert!(progress.lost_entries(), "probing: {probing}");
            assert_eq!((progress.state, progress.matched, progress.next), (ProgressState::Probe, 0, 1));
            assert!(!progress.lost_entries(), "nothing more to forget");
        }
    }
}
