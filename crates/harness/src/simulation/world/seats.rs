//! A replacing run (`Scenario::replacing`): gaggle's clusters kept in memory, whose leader keeps its seats filled
//! by membership changes (`flotilla_node`'s seat replacement). Nodes discover each other by saying hello, carried
//! here like any message. A crash is for good, and a spare starts under a new name while a member gone for good
//! holds a seat, as the process would be started again; now and then a spare starts by itself, or a member is cut
//! off for longer than its seat is kept (and comes back to find it given away). Newcomers come one at a time (see
//! `waits_for_a_seat`). A node goes for good only while every live node's configuration keeps a majority of its
//! voters alive: beyond, no cluster kept in memory could recover, by design.

use super::{Event, World};
use crate::simulation::checker::Violation;
use crate::simulation::tuning::TICK;
use flotilla_node::{member_id, Received, SILENT_ELECTION_TIMEOUTS};
use flotilla_raft::{NodeId, Role};
use rand::Rng;
use std::collections::BTreeSet;

impl World {
    /// The replacing run's nemesis, again a while later: while a member gone for good holds a seat, a spare starts
    /// (after healing too); until the faults heal, a spare starts by itself now and then, or a node is held apart
    /// for longer than a seat is kept.
    pub(super) fn seats(&mut self) -> Result<(), Violation> {
        let interval = self.seats_rng.random_range(5 * TICK..=60 * TICK);
        self.schedule(interval, Event::Seats);
        if self.a_member_is_gone() {
            self.start_a_spare();
            return Ok(());
        }
        if self.healed {
            return Ok(());
        }
        if self.seats_rng.random_bool(0.3) {
            // Not the spares kept for the members gone for good.
            if self.unborn_spares() > self.gone_members() {
                self.start_a_spare();
            }
            return Ok(());
        }
        if self.network.holds_any() {
            return Ok(());
        }
        let alive: Vec<NodeId> = (1..=self.size()).filter(|&id| self.alive(id)).collect();
        if alive.is_empty() {
            return Ok(());
        }
        let held = alive[self.seats_rng.random_range(0..alive.len())];
        let silent_after = SILENT_ELECTION_TIMEOUTS * u64::from(self.tuning.election_ticks_max);
        let ticks = silent_after + self.seats_rng.random_range(1..=4 * u64::from(self.tuning.election_ticks_max));
        self.network.hold(held);
        self.schedule(ticks * TICK, Event::Release { node: held });
        self.trace(|| format!("fault: {held} is cut off for {ticks} ticks"));
        Ok(())
    }

    /// Whether every live first member has met all the others (no seat of its configuration is vacant). Before,
    /// a newcomer could take a seat some of them still keep for a first member, and they would disagree on who
    /// the members are: with gaggle's discovery, a cluster must be whole before anyone new starts.
    fn first_members_discovered(&self) -> bool {
        let first = 1..=self.scenario.size;
        first.filter_map(|id| self.nodes[(id - 1) as usize].driver.as_ref()).all(|driver| {
            let names = driver.member_names();
            names.voters.iter().chain(&names.outgoing).chain(&names.learners).all(Option::is_some)
        })
    }

    /// The next spare starts soon, if one is left, the first members have all met, and every newcomer before it
    /// has been adopted (see `waits_for_a_seat`).
    fn start_a_spare(&mut self) {
        let waiting = (self.scenario.size + 1..=self.size()).any(|id| self.waits_for_a_seat(id));
        if waiting || !self.first_members_discovered() {
            return;
        }
        let Some(spare) = (1..=self.size()).find(|&id| !self.node(id).born) else { return };
        self.node(spare).born = true;
        let delay = self.seats_rng.random_range(1..=TICK);
        self.schedule(delay, Event::Restart { node: spare, incarnation: 0 });
        self.trace(|| format!("spare {spare} starts in {delay}"));
    }

    /// Whether node `id` is a newcomer that the cluster has not adopted yet: started and not running yet, or
    /// running and never seen with the configuration of the leader of the highest term (it holds its own, from
    /// discovery, until it reaches the entry that added it). Newcomers come one at a time: two that the cluster
    /// has not adopted yet may seat each other in the seats their discovery keeps, and elect one of them (gaggle's
    /// discovery, which flotilla keeps for clusters kept in memory, is not replicated through the log).
    fn waits_for_a_seat(&self, id: NodeId) -> bool {
        let node = &self.nodes[(id - 1) as usize];
        node.born && !node.gone && !node.adopted
    }

    /// After an input to node `id`: a spare not adopted yet is, once it holds the configuration of the leader of
    /// the highest term.
    pub(super) fn note_adoption(&mut self, id: NodeId) {
        let node = &self.nodes[(id - 1) as usize];
        if !self.scenario.replacing || id <= self.scenario.size || node.adopted {
            return;
        }
        let Some(driver) = node.driver.as_ref() else { return };
        let leader = (1..=self.size())
            .filter_map(|other| self.core(other))
            .filter(|raft| raft.role() == Role::Leader)
            .max_by_key(|raft| raft.term());
        if leader.is_some_and(|leader| leader.membership() == driver.raft().membership()) {
            self.node(id).adopted = true;
        }
    }

    /// Whether node `id` may crash for good: the first members have all met, spares are left to take its seat and
    /// those of the members gone before it, no node is held apart, and every live node's configuration (its
    /// voters, and its outgoing voters in a joint one) keeps a majority alive without it.
    pub(super) fn may_go_for_good(&self, id: NodeId) -> bool {
        // A spare for each member gone, this one, and one more: a newcomer may take the seat of a member silent
        // for long (cut off by the network) rather than a gone one's.
        let spares_left = self.unborn_spares() > self.gone_members() + 1;
        if !spares_left || !self.first_members_discovered() || self.network.holds_any() {
            return false;
        }
        let alive_after = |member: &NodeId| {
            self.position_of.get(member).is_some_and(|&position| position != id && self.alive(position))
        };
        let keeps_majority = |voters: &BTreeSet<NodeId>| {
            voters.is_empty() || 2 * voters.iter().filter(|v| alive_after(v)).count() > voters.len()
        };
        (1..=self.size()).filter_map(|node| self.core(node)).all(|raft| {
            let membership = raft.membership();
            keeps_majority(&membership.voters) && keeps_majority(&membership.outgoing)
        })
    }

    /// Whether a node gone for good is still a member in some live node's configuration (its seat not given away
    /// yet, or not known to be).
    fn a_member_is_gone(&self) -> bool {
        self.gone_members() > 0
    }

    /// The nodes gone for good that are still members in some live node's configuration.
    fn gone_members(&self) -> u64 {
        let member = |position: NodeId| {
            let id = member_id(&self.names[(position - 1) as usize]);
            (1..=self.size()).filter_map(|node| self.core(node)).any(|raft| raft.membership().contains(id))
        };
        (1..=self.size()).filter(|&position| self.nodes[(position - 1) as usize].gone && member(position)).count()
            as u64
    }

    fn unborn_spares(&self) -> u64 {
        (1..=self.size()).filter(|&id| !self.nodes[(id - 1) as usize].born).count() as u64
    }

    /// Node `from` says hello to the node named `to`, or to every other node: through the network, like a message.
    pub(super) fn introduce(&mut self, from: NodeId, to: Option<&str>) {
        let targets: Vec<NodeId> = match to {
            Some(name) => self.names.iter().position(|n| n == name).map(|p| p as NodeId + 1).into_iter().collect(),
            None => (1..=self.size()).filter(|&other| other != from).collect(),
        };
        for to in targets {
            if !self.alive(to) {
                continue;
            }
            let (from_incarnation, to_incarnation) = (self.node(from).incarnation, self.node(to).incarnation);
            for delay in self.network.fate(&mut self.rng, from, to) {
                self.schedule(delay, Event::Introduction { from, to, from_incarnation, to_incarnation });
            }
        }
    }

    pub(super) fn deliver_introduction(
        &mut self,
        from: NodeId,
        to: NodeId,
        (from_incarnation, to_incarnation): (u64, u64),
    ) -> Result<(), Violation> {
        let crashed_since =
            self.node(from).incarnation != from_incarnation || self.node(to).incarnation != to_incarnation;
        if crashed_since || !self.alive(to) || self.network.is_cut(from, to) {
            return Ok(());
        }
        self.trace(|| format!("deliver hello {from} -> {to}"));
        let from_name = self.names[(from - 1) as usize].clone();
        if let Some(driver) = self.node(to).driver.as_mut() {
            driver.receive(&from_name, Received::Introduction);
        }
        self.after_input(to)
    }

    /// Once healed, the ticks a replacing run may need beyond the usual: for each member gone for good (and one
    /// more), a member silent long enough to give its seat away, and the newcomer caught up and promoted.
    pub(super) fn seat_replacement_ticks(&self) -> u64 {
        if !self.scenario.replacing {
            return 0;
        }
        let silent_after = SILENT_ELECTION_TIMEOUTS * u64::from(self.tuning.election_ticks_max);
        2 * silent_after * (self.gone_members() + 1)
    }

    /// The spares that hold a voter's seat in the configuration of the leader of the highest term.
    pub(super) fn newcomers_seated(&self) -> u64 {
        let leader = (1..=self.size())
            .filter_map(|id| self.core(id))
            .filter(|raft| raft.role() == Role::Leader)
            .max_by_key(|raft| raft.term());
        let Some(leader) = leader.filter(|_| self.scenario.replacing) else { return 0 };
        let positions = leader.membership().voters.iter().filter_map(|id| self.position_of.get(id));
        positions.filter(|&&position| position > self.scenario.size).count() as u64
    }
}
