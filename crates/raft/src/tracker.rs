//! The leader's and candidate's view of the cluster: the membership (voters, possibly joint, and learners),
//! each peer's replication progress, and the votes of the current election.

use super::progress::Progress;
use super::quorum::{JointConfig, MajorityConfig, VoteResult};
use super::types::{Index, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who is in the cluster. `outgoing` is non-empty only during a joint-consensus change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub voters: BTreeSet<NodeId>,
    #[serde(default)]
    pub outgoing: BTreeSet<NodeId>,
    #[serde(default)]
    pub learners: BTreeSet<NodeId>,
}

impl Membership {
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Membership {
        Membership { voters: voters.into_iter().collect(), ..Membership::default() }
    }

    pub(crate) fn joint_config(&self) -> JointConfig {
        JointConfig {
            incoming: MajorityConfig { voters: self.voters.clone() },
            outgoing: MajorityConfig { voters: self.outgoing.clone() },
        }
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.outgoing.contains(&id)
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.learners.contains(&id)
    }

    /// Every member, voters and learners, in id order.
    pub fn members(&self) -> BTreeSet<NodeId> {
        let mut all = self.voters.clone();
        all.extend(&self.outgoing);
        all.extend(&self.learners);
        all
    }
}

#[derive(Debug)]
pub struct ProgressTracker {
    self_id: NodeId,
    membership: Membership,
    quorum: JointConfig,
    /// Progress of every member but this node. A BTreeMap so that iteration (and so message order) is deterministic.
    progress: BTreeMap<NodeId, Progress>,
    votes: BTreeMap<NodeId, bool>,
    /// `InjectedBug::LearnerCountedInQuorum`: learners count in the quorum that commits (tests only).
    pub(crate) learners_commit: bool,
}

impl ProgressTracker {
    pub fn new(self_id: NodeId, membership: Membership) -> ProgressTracker {
        let mut tracker = ProgressTracker {
            self_id,
            quorum: membership.joint_config(),
            membership: Membership::default(),
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            learners_commit: false,
        };
        tracker.set_membership(membership, 1);
        tracker
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Replaces the membership, keeping the progress of members that stay. New members start probing at `next`.
    pub fn set_membership(&mut self, membership: Membership, next: Index) {
        self.progress.retain(|id, _| membership.contains(*id));
        for id in membership.members() {
            if id == self.self_id {
                continue;
            }
            let is_learner = !membership.is_voter(id);
            self.progress.entry(id).or_insert_with(|| Progress::new(next, is_learner)).is_learner = is_learner;
        }
        self.quorum = membership.joint_config();
        self.membership = membership;
    }

    /// Seats `id` where `vacant` sat (as a voter, an outgoing voter or a learner), with `vacant`'s progress and
    /// vote: the seats, and so every quorum, stay as they were; only who sits in one changes. The caller checks
    /// that `vacant` is a member and `id` is not.
    pub fn fill_seat(&mut self, vacant: NodeId, id: NodeId) {
        let reseat = |set: &mut BTreeSet<NodeId>| {
            if set.remove(&vacant) {
                set.insert(id);
            }
        };
        let mut membership = self.membership.clone();
        reseat(&mut membership.voters);
        reseat(&mut membership.outgoing);
        reseat(&mut membership.learners);
        if let Some(progress) = self.progress.remove(&vacant) {
            self.progress.insert(id, progress);
        }
        if let Some(vote) = self.votes.remove(&vacant) {
            self.votes.insert(id, vote);
        }
        self.quorum = membership.joint_config();
        self.membership = membership;
    }

    pub fn is_member(&self, id: NodeId) -> bool {
        self.membership.contains(id)
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.membership.is_voter(id)
    }

    pub fn get(&self, id: NodeId) -> Option<&Progress> {
        self.progress.get(&id)
    }

    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        self.progress.get_mut(&id)
    }

    /// The peers (every member but this node), in id order.
    pub fn peer_ids(&self) -> Vec<NodeId> {
        self.progress.keys().copied().collect()
    }

    /// The peers that vote, in id order.
    pub fn voter_peer_ids(&self) -> Vec<NodeId> {
        self.progress.iter().filter(|(_, p)| !p.is_learner).map(|(&id, _)| id).collect()
    }

    pub fn reset_progress(&mut self, next: Index) {
        for progress in self.progress.values_mut() {
            let is_learner = progress.is_learner;
            *progress = Progress::new(next, is_learner);
        }
    }

    /// The highest index a quorum holds, counting this node as holding `self_stable`.
    pub fn committed_index(&self, self_stable: Index) -> Index {
        let self_id = self.self_id;
        let progress = &self.progress;
        let acked = |id| if id == self_id { Some(self_stable) } else { progress.get(&id).map(|p| p.matched) };
        if self.learners_commit {
            let mut with_learners = self.quorum.clone();
            with_learners.incoming.voters.extend(&self.membership.learners);
            return with_learners.committed_index(acked);
        }
        self.quorum.committed_index(acked)
    }

    /// The highest read round a quorum of voters answered, counting this node as answering `self_round`.
    pub fn quorum_read_round(&self, self_round: u64) -> u64 {
        let self_id = self.self_id;
        let progress = &self.progress;
        self.quorum.committed_index(|id| {
            if id == self_id {
                Some(self_round)
            } else {
                progress.get(&id).map(|p| p.read_round)
            }
        })
    }

    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records a vote; the first answer of each voter counts.
    pub fn record_vote(&mut self, id: NodeId, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    /// The voters that granted this node's latest round of votes (pre-votes or votes), itself included.
    pub fn granted_votes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.votes.iter().filter(|(_, &granted)| granted).map(|(&id, _)| id)
    }

    pub fn vote_result(&self) -> VoteResult {
        let votes = &self.votes;
        self.quorum.vote_result(|id| votes.get(&id).copied())
    }

    /// Whether this node and the peers marked recently active form a quorum. Clears the marks for the next round.
    pub fn quorum_recently_active(&mut self) -> bool {
        let self_id = self.self_id;
        let progress = &self.progress;
        let active = self.quorum.has_quorum(|id| id == self_id || progress.get(&id).is_some_and(|p| p.recent_active));
        for p in self.progress.values_mut() {
            p.recent_active = false;
        }
        active
    }
}
