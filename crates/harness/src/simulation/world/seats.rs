//! A replacing run (`Scenario::replacing`): gaggle's clusters kept in memory, whose leader keeps its seats filled
//! by membership changes (`flotilla_node`'s seat replacement). Nodes discover each other by saying hello, carried
//! here like any message; a crash is for good, and a spare starts under a new name to take the seat; now and then
//! a spare starts by itself, or a member is cut off for longer than its seat is kept (and comes back to find it
//! given away). A node goes for good only while every live node's configuration keeps a majority of its voters
//! alive and a spare is left to take its seat: beyond, no cluster kept in memory could recover, by design.

use super::{Event, World};
use crate::simulation::checker::Violation;
use crate::simulation::tuning::TICK;
use flotilla_node::{Received, SILENT_ELECTION_TIMEOUTS};
use flotilla_raft::{NodeId, Role};
use rand::Rng;
use std::collections::BTreeSet;

impl World {
    /// The replacing run's nemesis, again a while later until the faults heal: a spare starts (while one is left),
    /// or a node is held apart for longer than a seat is kept (while every member gone for good has been replaced:
    /// else a newcomer could take the seat of the one held instead, and leave the other one's to nobody).
    pub(super) fn seats(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.seats_rng.random_range(5 * TICK..=60 * TICK);
        self.schedule(interval, Event::Seats);
        if self.seats_rng.random_bool(0.3) && self.first_members_discovered() {
            let delay = self.seats_rng.random_range(1..=TICK);
            self.seat_a_newcomer(delay);
            return Ok(());
        }
        if self.network.holds_any() || self.a_member_is_gone() {
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

    /// The next spare starts after `delay`, if one is left.
    pub(super) fn seat_a_newcomer(&mut self, delay: u64) {
        let Some(spare) = (1..=self.size()).find(|&id| !self.node(id).born) else { return };
        self.node(spare).born = true;
        self.schedule(delay, Event::Restart { node: spare, incarnation: 0 });
        self.trace(|| format!("spare {spare} starts in {delay}"));
    }

    /// Whether node `id` may crash for good: the first members have all met, a spare is left to take its seat, no
    /// member is held apart (a newcomer could take its seat instead), and every live node's configuration (its
    /// voters, and its outgoing voters in a joint one) keeps a majority alive without it.
    pub(super) fn may_go_for_good(&self, id: NodeId) -> bool {
        let spare_left = (1..=self.size()).any(|spare| !self.nodes[(spare - 1) as usize].born);
        if !spare_left || !self.first_members_discovered() || self.network.holds_any() {
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
        let gone = |id: &NodeId| self.position_of.get(id).is_some_and(|&position| self.node_is_gone(position));
        (1..=self.size()).filter_map(|node| self.core(node)).any(|raft| raft.membership().members().iter().any(gone))
    }

    fn node_is_gone(&self, id: NodeId) -> bool {
        self.nodes[(id - 1) as usize].gone
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

    /// Once healed, the ticks a replacing run may need beyond the usual: for each spare, a member silent long enough
    /// to give its seat away, and the newcomer caught up and promoted.
    pub(super) fn seat_replacement_ticks(&self) -> u64 {
        let silent_after = SILENT_ELECTION_TIMEOUTS * u64::from(self.tuning.election_ticks_max);
        2 * silent_after * (self.scenario.spares() + 1)
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
