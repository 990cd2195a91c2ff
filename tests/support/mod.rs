//! A test network of consensus cores in one thread: routes messages, persists instantly (or on demand) and
//! records what each node applied. Shared by the paper-rule tests, the simulation and the benchmark.

#![allow(dead_code)]

use flotilla::raft::{Config, Entry, Message, NodeId, Raft, Ready, RestoredState, Role};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// What a node's storage holds: the state a crash-restart starts from.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    pub hard_state: flotilla::raft::HardState,
    pub entries: Vec<Entry>,
}

impl MemoryStorage {
    /// Applies one persist request: entries replace everything from their first index on.
    pub fn write(&mut self, request: &flotilla::raft::PersistRequest) {
        if let Some(first) = request.entries.first() {
            let keep = first.index.saturating_sub(1) as usize;
            self.entries.truncate(keep);
            self.entries.extend(request.entries.iter().cloned());
        }
        if let Some(hard_state) = request.hard_state {
            self.hard_state = hard_state;
        }
    }
}

pub struct TestNode {
    pub raft: Raft,
    pub storage: MemoryStorage,
    /// Every committed entry handed out, in order (engine entries included).
    pub applied: Vec<Entry>,
}

pub struct Cluster {
    pub nodes: BTreeMap<NodeId, TestNode>,
    pub in_flight: VecDeque<Message>,
    /// Nodes whose messages (both ways) are dropped.
    pub isolated: Vec<NodeId>,
}

pub fn config(id: NodeId) -> Config {
    let mut config = Config::new(id);
    config.seed = id * 7919;
    config
}

impl Cluster {
    pub fn new(size: u64) -> Cluster {
        Cluster::with_config(size, config)
    }

    pub fn with_config(size: u64, make_config: impl Fn(NodeId) -> Config) -> Cluster {
        let ids: Vec<NodeId> = (1..=size).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let raft = Raft::new(make_config(id), RestoredState::new_cluster(ids.clone())).expect("valid config");
                (id, TestNode { raft, storage: MemoryStorage::default(), applied: Vec::new() })
            })
            .collect();
        Cluster { nodes, in_flight: VecDeque::new(), isolated: Vec::new() }
    }

    pub fn node(&self, id: NodeId) -> &Raft {
        &self.nodes[&id].raft
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Raft {
        &mut self.nodes.get_mut(&id).expect("node exists").raft
    }

    /// Collects each node's ready work: persists it at once, queues its messages, records applied entries.
    pub fn process_ready(&mut self) {
        loop {
            let mut progressed = false;
            for node in self.nodes.values_mut() {
                while node.raft.has_ready() {
                    progressed = true;
                    let ready: Ready = node.raft.ready();
                    if let Some(request) = &ready.persist {
                        node.storage.write(request);
                        node.raft.persisted(request.token);
                    }
                    self.in_flight.extend(ready.messages);
                    node.applied.extend(ready.committed);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Delivers messages until none are left.
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            self.process_ready();
            let Some(message) = self.in_flight.pop_front() else { return };
            if self.isolated.contains(&message.from) || self.isolated.contains(&message.to) {
                continue;
            }
            if let Some(node) = self.nodes.get_mut(&message.to) {
                let _ = node.raft.step(message);
            }
        }
        panic!("the cluster did not settle");
    }

    pub fn tick_all(&mut self) {
        for node in self.nodes.values_mut() {
            node.raft.tick();
        }
        self.settle();
    }

    /// Ticks until some node leads, and returns it.
    pub fn elect_any(&mut self) -> NodeId {
        for _ in 0..1000 {
            self.tick_all();
            if let Some(id) = self.leader() {
                return id;
            }
        }
        panic!("no leader was elected");
    }

    /// Makes `id` campaign and settles; returns whether it leads.
    pub fn elect(&mut self, id: NodeId) -> bool {
        self.node_mut(id).campaign();
        self.settle();
        self.node(id).role() == Role::Leader
    }

    pub fn leader(&self) -> Option<NodeId> {
        let leaders: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(id, n)| n.raft.role() == Role::Leader && !self.isolated.contains(id))
            .map(|(&id, _)| id)
            .collect();
        leaders.into_iter().max_by_key(|&id| self.node(id).term())
    }

    pub fn propose(&mut self, via: NodeId, id: &str, data: &[u8]) {
        self.node_mut(via).propose(Arc::from(id), Arc::from(data)).expect("proposal accepted");
    }

    /// The user data each node applied, in order.
    pub fn applied_data(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.nodes[&id].applied.iter().filter(|e| e.is_user_data()).map(|e| e.data.to_vec()).collect()
    }
}

// ---- added for the paper-rule tests: clusters restored from given states, message editing, crash-restart ----

impl Cluster {
    /// A cluster whose nodes restart from the given states; each node's storage starts with what it restores.
    pub fn from_states(states: impl IntoIterator<Item = (Config, RestoredState)>) -> Cluster {
        let nodes = states
            .into_iter()
            .map(|(config, restored)| {
                let id = config.id;
                let storage = MemoryStorage { hard_state: restored.hard_state, entries: restored.entries.clone() };
                let raft = Raft::new(config, restored).expect("valid restored state");
                (id, TestNode { raft, storage, applied: Vec::new() })
            })
            .collect();
        Cluster { nodes, in_flight: VecDeque::new(), isolated: Vec::new() }
    }

    /// Like `settle`, but each message passes through `edit` before delivery, which may change it or drop it
    /// (by returning `None`). Isolated nodes still hear nothing.
    pub fn settle_with(&mut self, mut edit: impl FnMut(Message) -> Option<Message>) {
        for _ in 0..100_000 {
            self.process_ready();
            let Some(message) = self.in_flight.pop_front() else { return };
            if self.isolated.contains(&message.from) || self.isolated.contains(&message.to) {
                continue;
            }
            let Some(message) = edit(message) else { continue };
            if let Some(node) = self.nodes.get_mut(&message.to) {
                let _ = node.raft.step(message);
            }
        }
        panic!("the cluster did not settle");
    }

    /// Crashes a node and restarts it from what its storage holds. Whatever it had not persisted is lost, and
    /// its state machine starts empty (it re-applies the log as it learns the commit index again).
    pub fn restart(&mut self, id: NodeId, config: Config) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let restored = RestoredState {
            hard_state: node.storage.hard_state,
            membership: node.raft.membership().clone(),
            entries: node.storage.entries.clone(),
            ..RestoredState::default()
        };
        node.raft = Raft::new(config, restored).expect("valid restored state");
        node.applied.clear();
        self.in_flight.retain(|m| m.from != id && m.to != id);
    }
}
