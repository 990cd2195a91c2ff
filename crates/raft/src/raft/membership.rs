//! Membership changes on a node (Raft thesis, chapter 4; the rules of a change are in `conf_change`): the leader
//! proposes a configuration entry, every node puts a configuration in force once its entry is committed (as
//! etcd's raft does: see `conf_change` for why), the leader leaves a joint configuration once entering it
//! committed, and a leader that is not a voter of the committed configuration hands leadership to the most
//! caught-up voter and steps down.

use super::Raft;
use crate::conf_change::{self, ConfChangeError, ConfEntry};
use crate::config::InjectedBug;
use crate::message::MessageBody;
use crate::types::{Entry, EntryKind, Index, NodeId, Payload, Role, Term};
use std::collections::BTreeSet;

/// A learner may be promoted to voter once its log matches the leader's to within this many entries: close
/// enough that it catches up within a round trip or two, so that the voter it becomes does not hold back commits
/// (thesis 4.2.1). A learner that needs a snapshot is further behind than any log this bound allows.
pub const CATCH_UP_ENTRIES: Index = 1_000;

/// Whether a learner whose log matches the leader's up to `matched` may be promoted, the leader's log ending at
/// `last_index`. A learner that never acknowledged an entry (matched 0: the leader's log always holds its own
/// term's first entry) may not be reachable at all: as a voter it would weaken the quorum.
pub fn is_caught_up(matched: Index, last_index: Index) -> bool {
    matched > 0 && matched + CATCH_UP_ENTRIES >= last_index
}

impl Raft {
    /// Proposes moving the membership to `voters` and `learners` (the leader only): a learner added or removed, a
    /// learner promoted, or a voter removed is one step; any other change of the voters goes through a joint
    /// configuration, which the leader leaves by itself once it committed. `context` is the driver's (the node
    /// layer's names of the members); it travels with the configuration. Returns the index of the configuration
    /// entry. Refused while another change has not committed, before this leader's own entry of its term has
    /// committed (a new leader may not yet know the latest committed configuration), and when a promoted learner is
    /// more than `CATCH_UP_ENTRIES` behind.
    pub fn propose_membership(
        &mut self,
        voters: &BTreeSet<NodeId>,
        learners: &BTreeSet<NodeId>,
        context: Payload,
    ) -> Result<Index, ConfChangeError> {
        if self.role != Role::Leader || self.lead_transferee.is_some() {
            return Err(ConfChangeError::NotLeader);
        }
        let pending = self.configs.latest_index();
        if pending > self.log.committed && !self.config.injects(InjectedBug::TwoChangesInFlight) {
            return Err(ConfChangeError::InFlight { index: pending });
        }
        if !self.committed_in_term() {
            return Err(ConfChangeError::TermNotStarted { index: self.term_start_index });
        }
        let last_index = self.log.last_index();
        let caught_up = |id: NodeId| {
            let matched = self.tracker.get(id).map_or(0, |progress| progress.matched);
            if is_caught_up(matched, last_index) {
                Ok(())
            } else {
                Err(ConfChangeError::NotCaughtUp { id, matched, last_index })
            }
        };
        let mut next = conf_change::next_configuration(self.configs.latest(), voters, learners, caught_up)?;
        if self.config.injects(InjectedBug::JointStepSkipped) {
            next = conf_change::leave_joint(&next);
        }
        Ok(self.append_configuration(ConfEntry { membership: next, context }))
    }

    /// The index of the latest configuration entry (or of the snapshot or start whose configuration is in force).
    pub fn membership_index(&self) -> Index {
        self.configs.latest_index()
    }

    /// The configuration in force at `index` of the log (at the commit index: the committed configuration).
    pub fn membership_at(&self, index: Index) -> &crate::tracker::Membership {
        self.configs.at(index)
    }

    /// The leader appends a configuration entry; it is in force once committed.
    fn append_configuration(&mut self, entry: ConfEntry) -> Index {
        let index = self.log.last_index() + 1;
        let term = self.term;
        self.log.append_new(Entry { term, index, kind: EntryKind::ConfChange, id: None, data: entry.encode() });
        self.configs.push(index, term, entry);
        self.replication_dirty = true;
        self.stats.membership_changes += 1;
        index
    }

    /// Puts the committed configuration in force: the peers to replicate to, and the quorums. Called whenever the
    /// commit index or the log's configurations may have changed.
    pub(super) fn apply_committed_configuration(&mut self) {
        let committed = self.configs.at(self.log.committed).clone();
        if &committed == self.tracker.membership() {
            return;
        }
        let previous = self.tracker.membership().clone();
        self.tracker.set_membership(committed.clone(), self.log.last_index() + 1);
        if self.role == Role::Leader {
            self.replication_dirty = true;
            // The members this configuration removed hear no more from this leader: each is told that the entry
            // removing it committed, so that it knows it is out (it asks again, see `tell_removed_member`).
            for removed in previous.members().difference(&committed.members()) {
                self.tell_removed_member(*removed);
            }
            // Another quorum may hold more of the log already.
            self.maybe_commit();
        }
        if previous.contains(self.id) && !committed.contains(self.id) {
            self.forget_own_proposals_once_removed();
        }
    }

    /// A node that is not a member of the committed configuration (removed, or never added) hears of no more
    /// commits, so it cannot learn what becomes of its proposals: it stops waiting for them, and reports each as
    /// of unknown outcome (it may have committed before, or through the leader that took it).
    pub(super) fn forget_own_proposals_once_removed(&mut self) {
        if self.configs.at(self.log.committed).contains(self.id) || self.role == Role::Leader {
            return;
        }
        self.proposals.abandon_marked_below(Index::MAX, &mut self.abandoned);
    }

    /// Tells `member`, which the committed configuration does not hold, that the entry of that configuration
    /// committed (`CommitNotice`): a removed member that holds it applies it and knows it is out. Sent when the
    /// removal commits, and again when the member speaks (its proposals and reads), in case the first was lost.
    pub(super) fn tell_removed_member(&mut self, member: NodeId) {
        if member == self.id || self.configs.at(self.log.committed).contains(member) {
            return;
        }
        if let Some((index, term)) = self.configs.entry_at(self.log.committed) {
            self.send_now(member, MessageBody::CommitNotice { index, term });
        }
    }

    /// The configuration entries among entries a leader sent, to take into the history once appended.
    pub(super) fn configurations_in(entries: &[Entry]) -> Vec<(Index, Term, ConfEntry)> {
        entries
            .iter()
            .filter(|entry| entry.kind == EntryKind::ConfChange)
            .filter_map(|entry| ConfEntry::decode(&entry.data).map(|conf| (entry.index, entry.term, conf)))
            .collect()
    }

    /// After an append from the leader: the configurations of an overwritten suffix are dropped, and the new ones
    /// taken (each in force once committed).
    pub(super) fn take_appended_configurations(&mut self, appended: Vec<(Index, Term, ConfEntry)>) {
        let log = &self.log;
        self.configs.retain_held(|index| log.term(index));
        for (index, term, conf) in appended {
            if self.log.term(index) == Some(term) && index > self.configs.latest_index() {
                self.configs.push(index, term, conf);
            }
        }
    }

    /// The leader's work once its commit index moved: leave a committed joint configuration, and hand over from a
    /// committed configuration that does not count it as a voter.
    pub(super) fn advance_membership(&mut self) {
        if self.role != Role::Leader || self.configs.latest_index() > self.log.committed {
            return;
        }
        let latest = self.configs.latest().clone();
        if !latest.outgoing.is_empty() {
            let context = self.configs.latest_context();
            self.append_configuration(ConfEntry { membership: conf_change::leave_joint(&latest), context });
            return;
        }
        if !latest.is_voter(self.id) && self.lead_transferee.is_none() {
            // Thesis 4.2.2: a leader removed from the cluster steps down once the change committed. It hands over
            // to the most caught-up voter: it takes no more proposals, brings that voter's log up to its own, and
            // tells it to campaign (and steps down when it hears the new term); it tries again with whoever is
            // best if that takes an election timeout. Stepping down with a log longer than every voter's would
            // stall the cluster: a voter that needs this node's vote could never win it.
            if let Some(best) = self.most_caught_up_voter() {
                if self.transfer_leadership(best).is_ok() {
                    self.stats.removed_leader_hand_overs += 1;
                }
            }
        }
    }
}
