//! Node ids are opaque to the core: the node layer derives them from names (hash-sized, up to 2^53), and a cluster
//! that only knows how many voters it has starts with placeholder seats that `Raft::fill_vacant_seat` fills. A
//! network of its own, so that these rules stand apart from the shared harness.

use flotilla_harness::progress;
use flotilla_raft::{Config, Message, NodeId, Raft, RestoredState, Role, SeatError};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Ids the size the node layer's name hash gives, the largest of them included.
const A: NodeId = 4_503_599_627_370_497; // 2^52 + 1
const B: NodeId = 6_755_399_441_055_744; // 3 * 2^51
const C: NodeId = (1 << 53) - 1;
/// Placeholder seats, outside the hash range, as the node layer reserves them.
const VACANT_1: NodeId = (1 << 53) + 1;
const VACANT_2: NodeId = (1 << 53) + 2;

/// Cores on a perfect network: persisted at once, messages delivered in order; a message to a node that is not
/// here (a placeholder) goes nowhere.
struct Network {
    nodes: BTreeMap<NodeId, Raft>,
    committed: BTreeMap<NodeId, Vec<Vec<u8>>>,
}

impl Network {
    fn new(members: &[(NodeId, Vec<NodeId>)]) -> Network {
        let mut nodes = BTreeMap::new();
        for (id, voters) in members {
            let mut config = Config::new(*id);
            config.seed = id % 7919 + 1;
            let raft = Raft::new(config, RestoredState::new_cluster(voters.clone())).expect("valid config");
            nodes.insert(*id, raft);
        }
        Network { nodes, committed: BTreeMap::new() }
    }

    fn settle(&mut self) {
        let mut in_flight: VecDeque<Message> = VecDeque::new();
        for _ in 0..100_000 {
            for (id, raft) in self.nodes.iter_mut() {
                while raft.has_ready() {
                    let ready = raft.ready();
                    if let Some(request) = &ready.persist {
                        raft.persisted(request.token);
                    }
                    in_flight.extend(ready.messages);
                    let data = ready.committed.iter().filter(|e| e.is_user_data()).map(|e| e.data.to_vec());
                    self.committed.entry(*id).or_default().extend(data);
                }
            }
            let Some(message) = in_flight.pop_front() else { return };
            if let Some(raft) = self.nodes.get_mut(&message.to) {
                let _ = raft.step(message);
            }
        }
        panic!("the network did not settle");
    }

    fn elect(&mut self, id: NodeId) {
        self.nodes.get_mut(&id).expect("node").campaign();
        self.settle();
        assert_eq!(self.nodes[&id].role(), Role::Leader, "node {id} was not elected");
    }

    /// Ticks every node `ticks` times (heartbeats), settling after each.
    fn tick(&mut self, ticks: u32) {
        for _ in 0..ticks {
            self.nodes.values_mut().for_each(Raft::tick);
            self.settle();
        }
    }

    fn propose(&mut self, via: NodeId, id: &str, data: &[u8]) {
        let raft = self.nodes.get_mut(&via).expect("node");
        raft.propose(Arc::from(id), Arc::from(data)).expect("proposal accepted");
        self.settle();
    }

    fn committed(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.committed.get(&id).cloned().unwrap_or_default()
    }
}

#[test]
fn hash_sized_node_ids_elect_and_commit() {
    let voters = vec![A, B, C];
    let mut network = Network::new(&[(A, voters.clone()), (B, voters.clone()), (C, voters)]);
    network.elect(C);
    network.propose(A, "a_1", b"one");
    network.nodes.get_mut(&C).expect("node").transfer_leadership(B).expect("transfer starts");
    network.settle();
    network.propose(C, "c_1", b"two");
    for id in [A, B, C] {
        assert_eq!(network.committed(id), vec![b"one".to_vec(), b"two".to_vec()], "node {id}");
        assert_eq!(network.nodes[&id].leader(), Some(B));
    }
    assert_eq!(progress(&network.nodes[&B], C).map(|p| p.match_index), Some(4));
}

#[test]
fn a_filled_vacant_seat_keeps_the_quorum_and_moves_its_progress() {
    // Each node knows itself and that the cluster has three seats; A and B learn of each other, C stays silent.
    let mut network = Network::new(&[(A, vec![A, VACANT_1, VACANT_2]), (B, vec![B, VACANT_1, VACANT_2])]);
    for (id, other) in [(A, B), (B, A)] {
        network.nodes.get_mut(&id).expect("node").fill_vacant_seat(VACANT_1, other).expect("seat filled");
        assert_eq!(network.nodes[&id].membership().voters, [A, B, VACANT_2].into_iter().collect());
    }
    // Two of three seats are a quorum, as before the seat was filled: A and B elect and commit without C.
    network.elect(A);
    network.propose(B, "b_1", b"one");
    assert_eq!(network.committed(A), vec![b"one".to_vec()]);
    assert_eq!(network.committed(B), vec![b"one".to_vec()]);
    let leader = network.nodes.get_mut(&A).expect("node");
    assert!(progress(leader, VACANT_1).is_none(), "the placeholder's progress moved to B");
    assert!(progress(leader, B).is_some_and(|p| p.match_index == 2));
    assert!(progress(leader, VACANT_2).is_some(), "the seat still vacant keeps its place");

    // C speaks: the leader seats it in the last vacant seat, and C catches up.
    leader.fill_vacant_seat(VACANT_2, C).expect("seat filled");
    assert_eq!(leader.membership().voters.len(), 3);
    let mut c_config = Config::new(C);
    c_config.seed = 11;
    let c = Raft::new(c_config, RestoredState::new_cluster(vec![C, A, B])).expect("valid config");
    network.nodes.insert(C, c);
    network.tick(Config::new(A).heartbeat_ticks);
    network.propose(A, "a_1", b"two");
    assert_eq!(network.committed(C), vec![b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn a_seat_is_filled_only_from_a_placeholder_that_holds_one_by_a_node_that_holds_none() {
    let mut raft = Raft::new(Config::new(A), RestoredState::new_cluster(vec![A, B, VACANT_1])).expect("valid config");
    assert_eq!(raft.fill_vacant_seat(VACANT_2, C), Err(SeatError::NotAMember(VACANT_2)));
    assert_eq!(raft.fill_vacant_seat(VACANT_1, B), Err(SeatError::AlreadyAMember(B)));
    assert_eq!(raft.fill_vacant_seat(A, C), Err(SeatError::OwnSeat));
    assert_eq!(raft.fill_vacant_seat(VACANT_1, 0), Err(SeatError::ZeroNodeId));
    assert_eq!(raft.membership().voters, [A, B, VACANT_1].into_iter().collect());
    assert_eq!(raft.fill_vacant_seat(VACANT_1, C), Ok(()));
    assert_eq!(raft.membership().voters, [A, B, C].into_iter().collect());
}
