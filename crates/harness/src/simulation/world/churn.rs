//! The membership nemesis of a churning run: every few ticks, the node that leads (or believes it does: a deposed
//! leader's change is refused or lost) adds a learner, promotes one, removes a member, or moves several voters at
//! once through a joint configuration, under every other fault of the world (crashes in the middle of a joint
//! change, removed leaders, learners behind a compacted log). Refused changes are part of the game.

use super::{Event, World};
use crate::simulation::checker::Violation;
use crate::simulation::tuning::TICK;
use flotilla_raft::{NodeId, Role};
use rand::seq::IndexedRandom;
use rand::Rng;

impl World {
    pub(super) fn churn(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.rng.random_range(2 * TICK..=25 * TICK);
        self.schedule(interval, Event::Churn);
        let leaders: Vec<NodeId> =
            (1..=self.size()).filter(|&id| self.core(id).is_some_and(|raft| raft.role() == Role::Leader)).collect();
        let Some(&leader) = leaders.choose(&mut self.rng) else { return Ok(()) };
        let Some(membership) = self.core(leader).map(|raft| raft.membership().clone()) else { return Ok(()) };
        let name_of = |position: NodeId| self.names[(position - 1) as usize].clone();
        let position = |id: &NodeId| self.position_of.get(id).copied();
        let voters: Vec<NodeId> = membership.voters.iter().filter_map(position).collect();
        let learners: Vec<NodeId> = membership.learners.iter().filter_map(position).collect();
        let outsiders: Vec<NodeId> =
            (1..=self.size()).filter(|id| !voters.contains(id) && !learners.contains(id)).collect();
        let action = self.rng.random_range(0..4);
        let Some(driver) = self.nodes[(leader - 1) as usize].driver.as_mut() else { return Ok(()) };
        let (what, result) = match action {
            0 if !outsiders.is_empty() => {
                let name = name_of(outsiders[self.rng.random_range(0..outsiders.len())]);
                (format!("add learner {name}"), driver.add_member(&name, None))
            }
            1 if !learners.is_empty() => {
                let name = name_of(learners[self.rng.random_range(0..learners.len())]);
                (format!("promote {name}"), driver.promote_member(&name))
            }
            2 if voters.len() + learners.len() > 1 => {
                let members: Vec<NodeId> = voters.iter().chain(&learners).copied().collect();
                let name = name_of(members[self.rng.random_range(0..members.len())]);
                (format!("remove {name}"), driver.remove_member(&name))
            }
            3 => {
                // New voters drawn from the members (a learner must be one first); the other learners stay.
                let members: Vec<NodeId> = voters.iter().chain(&learners).copied().collect();
                let mut next: Vec<NodeId> = members.iter().copied().filter(|_| self.rng.random_bool(0.6)).collect();
                if next.is_empty() {
                    next.push(members[self.rng.random_range(0..members.len())]);
                }
                let stay: Vec<String> =
                    learners.iter().filter(|id| !next.contains(id)).map(|&id| name_of(id)).collect();
                let next: Vec<String> = next.into_iter().map(name_of).collect();
                (format!("voters {next:?}, learners {stay:?}"), driver.change_membership(&next, &stay))
            }
            _ => return Ok(()),
        };
        self.trace(|| format!("churn via {leader}: {what}: {result:?}"));
        self.after_input(leader)
    }
}
