//! Quorums: which sets of nodes decide. A majority configuration decides by strict majority; a joint
//! configuration (during a membership change, Raft thesis 4.3) needs a majority of both halves.

use super::types::{Index, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The outcome of counting votes so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    Won,
    Lost,
    Pending,
}

/// A set of voters deciding by strict majority: more than half of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MajorityConfig {
    pub voters: BTreeSet<NodeId>,
}

impl MajorityConfig {
    #[cfg(test)]
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> MajorityConfig {
        MajorityConfig { voters: voters.into_iter().collect() }
    }

    /// How many voters make a majority: 1 of 1, 2 of 2, 2 of 3, 3 of 4, 3 of 5.
    pub fn quorum_size(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// The highest index that a majority has reached, given each voter's acknowledged index.
    /// An empty configuration places no constraint (returns `Index::MAX`), so that it is neutral in a joint one.
    pub fn committed_index(&self, acked: impl Fn(NodeId) -> Option<Index>) -> Index {
        if self.voters.is_empty() {
            return Index::MAX;
        }
        let mut indices: Vec<Index> = self.voters.iter().map(|&id| acked(id).unwrap_or(0)).collect();
        // Sorted descending, the (quorum_size)-th value is held by at least a majority.
        indices.sort_unstable_by(|a, b| b.cmp(a));
        indices[self.quorum_size() - 1]
    }

    pub fn vote_result(&self, vote_of: impl Fn(NodeId) -> Option<bool>) -> VoteResult {
        if self.voters.is_empty() {
            return VoteResult::Won;
        }
        let (mut granted, mut missing) = (0usize, 0usize);
        for &id in &self.voters {
            match vote_of(id) {
                Some(true) => granted += 1,
                Some(false) => {}
                None => missing += 1,
            }
        }
        let quorum = self.quorum_size();
        if granted >= quorum {
            VoteResult::Won
        } else if granted + missing >= quorum {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }

    /// Whether the given set of nodes contains a majority of this configuration.
    pub fn has_quorum(&self, active: impl Fn(NodeId) -> bool) -> bool {
        self.voters.is_empty() || self.voters.iter().filter(|&&id| active(id)).count() >= self.quorum_size()
    }
}

/// The voters of a configuration: `incoming` alone normally; `incoming` and `outgoing` during a joint change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JointConfig {
    pub incoming: MajorityConfig,
    pub outgoing: MajorityConfig,
}

impl JointConfig {
    pub fn committed_index(&self, acked: impl Fn(NodeId) -> Option<Index> + Copy) -> Index {
        self.incoming.committed_index(acked).min(self.outgoing.committed_index(acked))
    }

    pub fn vote_result(&self, vote_of: impl Fn(NodeId) -> Option<bool> + Copy) -> VoteResult {
        match (self.incoming.vote_result(vote_of), self.outgoing.vote_result(vote_of)) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }

    pub fn has_quorum(&self, active: impl Fn(NodeId) -> bool + Copy) -> bool {
        self.incoming.has_quorum(active) && self.outgoing.has_quorum(active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn majority_is_strict_for_every_size() {
        let sizes = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4), (12, 7)];
        for (n, quorum) in sizes {
            assert_eq!(MajorityConfig::new(1..=n).quorum_size(), quorum as usize, "cluster of {n}");
        }
    }

    #[test]
    fn committed_index_is_the_majority_floor() {
        let config = MajorityConfig::new([1, 2, 3, 4, 5]);
        let acked: HashMap<NodeId, Index> = [(1, 9), (2, 7), (3, 5), (4, 3)].into_iter().collect();
        assert_eq!(config.committed_index(|id| acked.get(&id).copied()), 5);
    }

    #[test]
    fn even_cluster_needs_more_than_half() {
        let config = MajorityConfig::new([1, 2, 3, 4]);
        let votes: HashMap<NodeId, bool> = [(1, true), (2, true), (3, false)].into_iter().collect();
        assert_eq!(config.vote_result(|id| votes.get(&id).copied()), VoteResult::Pending);
        let votes: HashMap<NodeId, bool> = [(1, true), (2, true), (3, false), (4, false)].into_iter().collect();
        assert_eq!(config.vote_result(|id| votes.get(&id).copied()), VoteResult::Lost);
    }

    #[test]
    fn joint_config_needs_both_majorities() {
        let joint = JointConfig { incoming: MajorityConfig::new([1, 2, 3]), outgoing: MajorityConfig::new([3, 4, 5]) };
        let acked: HashMap<NodeId, Index> = [(1, 10), (2, 10), (3, 4), (4, 6), (5, 2)].into_iter().collect();
        assert_eq!(joint.committed_index(|id| acked.get(&id).copied()), 4);
        let votes: HashMap<NodeId, bool> = [(1, true), (2, true), (3, false), (4, true)].into_iter().collect();
        assert_eq!(joint.vote_result(|id| votes.get(&id).copied()), VoteResult::Pending);
        let votes: HashMap<NodeId, bool> = [(1, true), (2, true), (3, false), (4, false)].into_iter().collect();
        assert_eq!(joint.vote_result(|id| votes.get(&id).copied()), VoteResult::Lost);
    }
}
