//! The shipped node driver (`flotilla_node::NodeDriver`) in lockstep rounds, for tests that drive it by hand: a
//! cluster of real drivers on in-memory disks that acknowledge late and survive crashes with only what became
//! durable, messages routed by name, every core checked by the simulation's checker after every round. (The
//! simulation runs the same driver under faults, in `simulation::world::driver`.)

use crate::simulation::checker::{Checker, Violation};
use crate::simulation::storage::SharedDisk;
use flotilla_node::{EventSink, MemberRegistry, Members, NodeDriver, NodeOptions, Proposer, Received, Ticks};
use flotilla_raft::{Entry, Message, NodeId, Raft, Role};
use std::collections::VecDeque;

/// What one flush of a driver asked for: messages to send, by recipient name, and user entries it committed.
#[derive(Default)]
struct Collected {
    sends: Vec<(String, Message)>,
    committed: Vec<Entry>,
}

impl EventSink for Collected {
    fn send(&mut self, _to: NodeId, to_name: &str, message: &Message, _members: &MemberRegistry) {
        self.sends.push((to_name.to_string(), message.clone()));
    }

    fn introduce(&mut self, _to: Option<&str>) {
        // Members are named: nobody needs an introduction.
    }

    fn committed(&mut self, entry: &Entry, _proposer: Proposer) {
        if entry.is_user_data() {
            self.committed.push(entry.clone());
        }
    }
}

/// One node: its driver (`None` while crashed), its disk and the user entries it committed since it started.
pub struct DriverNode {
    pub name: String,
    pub driver: Option<NodeDriver>,
    pub disk: SharedDisk,
    pub committed: Vec<Entry>,
}

/// Real drivers on one in-memory network. Node `k` (1-based) is named `n<k>` and checked as node `k`.
pub struct DriverCluster {
    pub nodes: Vec<DriverNode>,
    /// (from name, to name, message), in sending order.
    in_flight: VecDeque<(String, String, Message)>,
    checker: Checker,
    seed: u64,
}

impl DriverCluster {
    pub fn new(size: usize, seed: u64) -> DriverCluster {
        let mut cluster =
            DriverCluster { nodes: Vec::new(), in_flight: VecDeque::new(), checker: Checker::new(size), seed };
        for k in 1..=size {
            let (name, disk) = (format!("n{k}"), SharedDisk::default());
            cluster.nodes.push(DriverNode { name, driver: None, disk, committed: Vec::new() });
        }
        // Every node's options name every member, so all are made before the first starts.
        for k in 1..=size {
            cluster.start(k);
        }
        cluster
    }

    fn options(&self, k: usize) -> NodeOptions {
        let names = self.nodes.iter().map(|node| node.name.clone()).collect();
        let ticks = Ticks { tick_ms: 1, election_min: 10, election_max: 20, heartbeat: 2 };
        let mut options = NodeOptions::new(&self.nodes[k - 1].name, Members::Named(names), ticks);
        options.raft.seed = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k as u64;
        options
    }

    /// Starts (or restarts) node `k` from what its disk made durable.
    fn start(&mut self, k: usize) {
        let options = self.options(k);
        let node = &mut self.nodes[k - 1];
        let restored = node.disk.lock().restored_state(std::iter::empty());
        let driver = NodeDriver::with_storage(options, Box::new(node.disk.clone()), restored)
            .unwrap_or_else(|error| panic!("{} cannot start from its disk: {error}", node.name));
        node.driver = Some(driver);
        node.committed.clear();
        self.checker.on_restart(k as NodeId);
    }

    /// A crash: writes not yet durable are lost, and so are messages to and from the node.
    pub fn crash(&mut self, k: usize) {
        let node = &mut self.nodes[k - 1];
        node.driver = None;
        node.disk.lock().crash(0);
        let name = node.name.clone();
        self.in_flight.retain(|(from, to, _)| *from != name && *to != name);
    }

    pub fn restart(&mut self, k: usize) {
        self.start(k);
    }

    pub fn driver(&mut self, k: usize) -> &mut NodeDriver {
        self.nodes[k - 1].driver.as_mut().expect("the node is up")
    }

    pub fn core(&self, k: usize) -> Option<&Raft> {
        self.nodes[k - 1].driver.as_ref().map(NodeDriver::raft)
    }

    /// The node that leads, if one does.
    pub fn leader(&self) -> Option<usize> {
        (1..=self.nodes.len()).find(|&k| self.core(k).is_some_and(|raft| raft.role() == Role::Leader))
    }

    /// One round: every live driver flushes (its messages queued, its commits recorded), every disk makes its
    /// writes durable and the driver is told, then the messages queued by then are delivered. Every core is
    /// checked after it.
    pub fn round(&mut self) -> Result<(), Violation> {
        for k in 1..=self.nodes.len() {
            let node = &mut self.nodes[k - 1];
            let Some(driver) = node.driver.as_mut() else { continue };
            let mut collected = Collected::default();
            driver.flush(&mut collected);
            let written = node.disk.lock().complete(usize::MAX);
            if let Some(last) = written.last() {
                driver.persisted(last.token);
            }
            node.committed.extend(collected.committed);
            let from = node.name.clone();
            self.in_flight.extend(collected.sends.into_iter().map(|(to, message)| (from.clone(), to, message)));
        }
        for _ in 0..self.in_flight.len() {
            let Some((from, to, message)) = self.in_flight.pop_front() else { break };
            if let Some(driver) = self.nodes.iter_mut().find(|node| node.name == to).and_then(|n| n.driver.as_mut()) {
                driver.receive(&from, Received::Message(message));
            }
        }
        self.check()
    }

    /// Every live driver ticks once, then a round.
    pub fn tick(&mut self) -> Result<(), Violation> {
        for node in &mut self.nodes {
            if let Some(driver) = node.driver.as_mut() {
                driver.tick();
            }
        }
        self.round()
    }

    fn check(&mut self) -> Result<(), Violation> {
        for (position, node) in self.nodes.iter().enumerate() {
            if let Some(driver) = node.driver.as_ref() {
                self.checker.observe(position as NodeId + 1, driver.raft())?;
            }
        }
        Ok(())
    }
}
