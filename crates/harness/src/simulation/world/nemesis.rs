//! The nemesis: faults that come and go (a lossy network, partitions symmetric and one-way, crashes, slow disks),
//! often aimed at the leader, and an operator who transfers leadership or makes nodes campaign.

use super::{Event, World};
use crate::simulation::checker::Violation;
use crate::simulation::network::Faults;
use crate::simulation::outcome::add_stats;
use crate::simulation::tuning::TICK;
use flotilla_raft::{NodeId, Role};
use rand::Rng;

/// One change the nemesis can make, with how often it makes it: partitions and crashes, often aimed at the leader,
/// a network that turns lossy and back, disks that slow down. Healing is the most frequent, so faults come and go.
#[derive(Clone, Copy, Debug)]
enum Fault {
    ReliableNetwork,
    LossyNetwork,
    SplitAtRandom,
    IsolateOne,
    IsolateLeader,
    CutOneWay,
    HealPartitions,
    CrashOne,
    CrashLeader,
    RestartOne,
    DiskSpeed,
}

const FAULTS: [(Fault, u32); 11] = [
    (Fault::ReliableNetwork, 2),
    (Fault::LossyNetwork, 3),
    (Fault::SplitAtRandom, 2),
    (Fault::IsolateOne, 1),
    (Fault::IsolateLeader, 2),
    (Fault::CutOneWay, 2),
    (Fault::HealPartitions, 5),
    (Fault::CrashOne, 2),
    (Fault::CrashLeader, 2),
    (Fault::RestartOne, 2),
    (Fault::DiskSpeed, 1),
];

impl World {
    /// The next fault, then the one after is scheduled (until the faults heal).
    pub(super) fn fault(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.rng.random_range(TICK / 2..=self.tuning.fault_interval_max);
        self.schedule(interval, Event::Fault);
        let size = self.size();
        let mut pick = self.rng.random_range(0..FAULTS.iter().map(|(_, weight)| weight).sum::<u32>());
        let (fault, _) = *FAULTS
            .iter()
            .find(|(_, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .expect("the pick is below the sum of the weights");
        let leader = self.current_leader();
        match fault {
            Fault::ReliableNetwork => {
                self.network.faults = Faults::default();
                self.trace(|| "fault: the network is reliable".to_string());
            }
            Fault::LossyNetwork => {
                let faults = Faults {
                    drop: self.rng.random_range(0.0..0.3),
                    duplicate: self.rng.random_range(0.0..0.2),
                    long_delay: self.rng.random_range(0.0..0.2),
                };
                self.network.faults = faults;
                self.trace(|| format!("fault: the network is lossy: {faults:?}"));
            }
            Fault::SplitAtRandom => {
                let side: Vec<NodeId> = (1..=size).filter(|_| self.rng.random_bool(0.5)).collect();
                self.network.split(&side);
                self.trace(|| format!("fault: partition {side:?} from the rest"));
            }
            Fault::IsolateOne => {
                let isolated = self.rng.random_range(1..=size);
                self.network.split(&[isolated]);
                self.trace(|| format!("fault: isolate {isolated}"));
            }
            Fault::IsolateLeader => {
                if let Some(leader) = leader {
                    self.network.split(&[leader]);
                    self.trace(|| format!("fault: isolate the leader {leader}"));
                }
            }
            Fault::CutOneWay => {
                for _ in 0..self.rng.random_range(1..=size) {
                    let from = self.rng.random_range(1..=size);
                    let to = self.rng.random_range(1..=size);
                    if from != to {
                        self.network.cut_one_way(from, to);
                        self.trace(|| format!("fault: cut {from} -> {to} one way"));
                    }
                }
            }
            Fault::HealPartitions => {
                self.network.heal_partitions();
                self.trace(|| "fault: partitions heal".to_string());
            }
            Fault::CrashOne => {
                if let Some(id) = self.random_alive_node() {
                    self.crash(id);
                }
            }
            Fault::CrashLeader => {
                if let Some(leader) = leader {
                    self.crash(leader);
                }
            }
            Fault::RestartOne => {
                let crashed: Vec<NodeId> = (1..=size).filter(|&id| !self.alive(id)).collect();
                if !crashed.is_empty() {
                    let id = crashed[self.rng.random_range(0..crashed.len())];
                    self.restart(id)?;
                }
            }
            Fault::DiskSpeed => {
                self.tuning.disk_latency_max = [2, 30, 150, 400][self.rng.random_range(0..4)];
                let latency = self.tuning.disk_latency_max;
                self.trace(|| format!("fault: disk latency up to {latency}"));
            }
        }
        Ok(())
    }

    /// The live leader of the highest term, if any.
    pub(super) fn current_leader(&self) -> Option<NodeId> {
        let leaders = (1..=self.size()).filter_map(|id| {
            let raft = self.core(id).filter(|raft| raft.role() == Role::Leader)?;
            Some((raft.term(), id))
        });
        leaders.max().map(|(_, id)| id)
    }

    /// The node's process dies: its memory, its unwritten writes and its in-flight messages are gone. Some of the
    /// writes may have reached the disk without being acknowledged.
    pub(super) fn crash(&mut self, id: NodeId) {
        if self.scenario.replacing && !self.may_go_for_good(id) {
            return;
        }
        self.crashes += 1;
        let pending = self.node(id).disk.lock().pending();
        let survivors = if self.rng.random_bool(0.3) { self.rng.random_range(0..=pending) } else { 0 };
        let downtime = self.rng.random_range(1..=40) * TICK;
        if let Some(driver) = self.nodes[(id - 1) as usize].driver.as_ref() {
            add_stats(&mut self.core_stats, driver.raft().stats());
        }
        let node = self.node(id);
        node.driver = None;
        node.incarnation += 1;
        let written = node.disk.lock().crash(survivors);
        node.disk_busy = false;
        node.ready_pending = false;
        let incarnation = node.incarnation;
        for request in &written {
            self.checker.publish(&request.entries);
        }
        self.clients.crashed(id);
        self.reads.crashed(id);
        let durable_term = self.node(id).disk.lock().durable.hard_state.term;
        self.checker.on_crash(id, durable_term);
        self.trace(|| format!("fault: crash {id} ({survivors} of {pending} unacknowledged writes reached the disk)"));
        if self.scenario.replacing {
            // Kept in memory, it has nothing to come back with: a newcomer starts instead (`World::seats`).
            self.node(id).gone = true;
        } else {
            self.schedule(downtime, Event::Restart { node: id, incarnation });
        }
    }

    /// The reactive part of the nemesis: a new leader is crashed, or cut off before its first appends arrive.
    pub(super) fn strike_leader(&mut self, id: NodeId, incarnation: u64) {
        if self.node(id).incarnation != incarnation || !self.alive(id) || self.healed {
            return;
        }
        if self.rng.random_bool(0.5) {
            self.crash(id);
        } else {
            self.network.split(&[id]);
            self.trace(|| format!("fault: isolate the new leader {id}"));
        }
    }

    /// An operator asks the leader to hand over, or tells a node to campaign now.
    pub(super) fn operator(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.rng.random_range(TICK..=30 * TICK);
        self.schedule(interval, Event::Operator);
        let Some(id) = self.random_alive_node() else { return Ok(()) };
        let target = self.rng.random_range(1..=self.size());
        let target_name = self.names[(target - 1) as usize].clone();
        let Some(driver) = self.node(id).driver.as_mut() else { return Ok(()) };
        if driver.raft().role() == Role::Leader {
            let result = driver.transfer_leadership(&target_name);
            self.trace(|| format!("operator: transfer leadership {id} -> {target}: {result:?}"));
        } else {
            driver.campaign();
            self.trace(|| format!("operator: {id} campaigns"));
        }
        self.after_input(id)
    }
}
