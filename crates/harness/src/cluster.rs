//! A test network of consensus cores in one thread: routes messages, persists instantly (or on demand) and
//! records what each node applied. Shared by the paper-rule tests, the data-driven scenarios and the engine
//! benchmark.
//!
//! Each node's state machine is the list of user data it applied; its snapshots encode that list, so a node that
//! restores a snapshot has the same list as the node that took it.

use crate::cluster_nodes::ClusterNodes;
use crate::memory_storage::MemoryStorage;
use crate::state_machine::{decode_items, encode_items};
use flotilla_raft::{
    Config, Entry, Index, Message, NodeId, PeerProgress, ProposalId, Raft, ReadState, Ready, RestoredState, Role,
    Snapshot,
};
use std::collections::VecDeque;
use std::sync::Arc;

pub struct TestNode {
    pub raft: Raft,
    pub storage: MemoryStorage,
    /// The user data of the snapshot the state machine was last restored from, and its index.
    pub restored: Vec<Vec<u8>>,
    pub restored_index: Index,
    /// Every committed entry handed out since then, in order (engine entries included); empty in a lean cluster.
    pub applied: Vec<Entry>,
    /// How many user entries were handed out as committed, in every cluster.
    pub applied_user_entries: u64,
    /// Snapshots the node received from a leader and restored.
    pub installed: Vec<Snapshot>,
    /// Ids of its own proposals it gave up (`Ready::abandoned`).
    pub abandoned: Vec<ProposalId>,
    /// Its reads that got their read index (`Ready::reads`), in order.
    pub reads: Vec<ReadState>,
}

impl TestNode {
    fn new(raft: Raft, storage: MemoryStorage) -> TestNode {
        let restored = storage.snapshot.as_ref().map_or_else(Vec::new, |s| decode_items(&s.data));
        let restored_index = storage.snapshot_index();
        TestNode {
            raft,
            storage,
            restored,
            restored_index,
            applied: Vec::new(),
            applied_user_entries: 0,
            installed: Vec::new(),
            abandoned: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// The user data applied, in order, counting what the last restored snapshot holds.
    pub fn state(&self) -> Vec<Vec<u8>> {
        let applied = self.applied.iter().filter(|e| e.is_user_data()).map(|e| e.data.to_vec());
        self.restored.iter().cloned().chain(applied).collect()
    }

    /// The last index handed out for application (the restored snapshot's, if nothing since).
    pub fn applied_index(&self) -> Index {
        self.applied.last().map_or(self.restored_index, |e| e.index)
    }
}

pub struct Cluster {
    pub nodes: ClusterNodes,
    pub in_flight: VecDeque<Message>,
    /// Nodes whose messages (both ways) are dropped.
    pub isolated: Vec<NodeId>,
    /// Messages handed to a node so far.
    pub delivered: u64,
    /// Whether nodes keep what they persisted and applied (a lean cluster only counts what it applied).
    keeps_history: bool,
}

/// The leader's view of peer `id`'s replication, from the core's typed status.
pub fn progress(raft: &Raft, id: NodeId) -> Option<PeerProgress> {
    raft.status().peer(id).copied()
}

pub fn config(id: NodeId) -> Config {
    let mut config = Config::new(id);
    config.seed = id * 7919;
    config
}

/// `config` without pre-vote and check-quorum: the thesis's rules on their own, so that the elections a test
/// forces are not held back by a lease.
pub fn plain_config(id: NodeId) -> Config {
    Config { pre_vote: false, check_quorum: false, ..config(id) }
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
                (id, TestNode::new(raft, MemoryStorage::default()))
            })
            .collect();
        Cluster::of(nodes)
    }

    /// A cluster whose nodes keep no storage and no applied entries, only count the user entries they applied:
    /// the engine benchmark's, so that what it measures is the cores and not the harness.
    pub fn lean(size: u64, make_config: impl Fn(NodeId) -> Config) -> Cluster {
        Cluster { keeps_history: false, ..Cluster::with_config(size, make_config) }
    }

    fn of(nodes: ClusterNodes) -> Cluster {
        Cluster { nodes, in_flight: VecDeque::new(), isolated: Vec::new(), delivered: 0, keeps_history: true }
    }

    pub fn node(&self, id: NodeId) -> &Raft {
        &self.nodes[&id].raft
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Raft {
        &mut self.nodes.get_mut(&id).expect("node exists").raft
    }

    /// Collects each node's ready work: persists it at once, queues its messages, records applied entries.
    /// (One pass is enough: a node's ready work gives other nodes none until its messages are delivered.)
    #[inline]
    pub fn process_ready(&mut self) {
        for node in self.nodes.values_mut() {
            while node.raft.has_ready() {
                let ready: Ready = node.raft.ready();
                if let Some(request) = &ready.persist {
                    if self.keeps_history {
                        node.storage.write(request);
                    }
                    node.raft.persisted(request.token);
                }
                self.in_flight.extend(ready.messages);
                if let Some(snapshot) = ready.snapshot {
                    node.restored = decode_items(&snapshot.data);
                    node.restored_index = snapshot.meta.index;
                    node.applied.clear();
                    node.installed.push(snapshot);
                }
                node.applied_user_entries += ready.committed.iter().filter(|e| e.is_user_data()).count() as u64;
                if self.keeps_history {
                    node.applied.extend(ready.committed);
                }
                node.abandoned.extend(ready.abandoned);
                node.reads.extend(ready.reads);
            }
        }
    }

    /// Delivers messages until none are left.
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            self.process_ready();
            let Some(message) = self.in_flight.pop_front() else { return };
            self.deliver(message);
        }
        panic!("the cluster did not settle");
    }

    /// One round: every node's ready work, then the messages queued by then (not those they cause). Returns
    /// whether there were any.
    #[inline]
    pub fn round(&mut self) -> bool {
        self.process_ready();
        let queued = self.in_flight.len();
        for _ in 0..queued {
            let Some(message) = self.in_flight.pop_front() else { break };
            self.deliver(message);
        }
        queued > 0
    }

    /// Hands a message to its node, unless either end is isolated.
    #[inline]
    fn deliver(&mut self, message: Message) {
        if self.isolated.contains(&message.from) || self.isolated.contains(&message.to) {
            return;
        }
        if let Some(node) = self.nodes.get_mut(&message.to) {
            self.delivered += 1;
            let _ = node.raft.step(message);
        }
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

    /// The user data each node applied, in order (counting what its restored snapshot holds).
    pub fn applied_data(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.nodes[&id].state()
    }

    /// The node snapshots its state machine at what it applied and compacts its log and storage there.
    pub fn compact(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let index = node.applied_index();
        let data = encode_items(&node.state());
        node.raft.compact(index, data.into()).expect("compaction at the applied index");
        let snapshot = node.raft.snapshot().expect("a snapshot after compaction").clone();
        node.storage.compact(&snapshot);
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
                let storage = MemoryStorage {
                    hard_state: restored.hard_state,
                    snapshot: restored.snapshot.clone(),
                    entries: restored.entries.clone(),
                };
                let raft = Raft::new(config, restored).expect("valid restored state");
                (id, TestNode::new(raft, storage))
            })
            .collect();
        Cluster::of(nodes)
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
            self.deliver(message);
        }
        panic!("the cluster did not settle");
    }

    /// Starts a new node that joins the cluster with `membership` (the configuration it is told at start, which
    /// names it: as a learner, for a node to be added).
    pub fn add_node(&mut self, config: Config, membership: flotilla_raft::Membership) {
        let id = config.id;
        let restored = RestoredState { membership, ..RestoredState::default() };
        let raft = Raft::new(config, restored).expect("valid new node");
        self.nodes.insert(id, TestNode::new(raft, MemoryStorage::default()));
    }

    /// Starts a node that joins the cluster knowing no members: it waits for the leader that adds it.
    pub fn add_joining_node(&mut self, config: Config) {
        let id = config.id;
        let raft =
            Raft::new(config, RestoredState { joining: true, ..RestoredState::default() }).expect("joining node");
        self.nodes.insert(id, TestNode::new(raft, MemoryStorage::default()));
    }

    /// Restarts a node with nothing of its state but the membership its options give: a node kept in memory (no
    /// data directory, as gaggle's were) that restarted.
    pub fn restart_empty(&mut self, id: NodeId, config: Config) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let membership = node.raft.membership().clone();
        let raft = Raft::new(config, RestoredState { membership, ..RestoredState::default() }).expect("valid node");
        *node = TestNode::new(raft, MemoryStorage::default());
        self.in_flight.retain(|m| m.from != id && m.to != id);
    }

    /// Crashes a node and restarts it from what its storage holds. Whatever it had not persisted is lost, and
    /// its state machine starts from the stored snapshot (or empty), then re-applies the log as it learns the
    /// commit index again.
    pub fn restart(&mut self, id: NodeId, config: Config) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let restored = node.storage.restored_state(node.raft.membership().clone());
        let raft = Raft::new(config, restored).expect("valid restored state");
        let storage = std::mem::take(&mut node.storage);
        *node = TestNode::new(raft, storage);
        self.in_flight.retain(|m| m.from != id && m.to != id);
    }
}
