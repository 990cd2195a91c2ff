//! The rules of `Raft::propose_idempotent`, the core of a client's request ids (zmq-raft's idempotent updates):
//! a proposal retried under the same id, on any node, commits once and is answered with the original index,
//! whether its entry is in the log, was compacted into a snapshot (within the id window), or was committed under
//! an earlier leader.

use flotilla_harness::Cluster;
use flotilla_raft::{Config, Index, NodeId, Proposed};
use std::sync::Arc;

/// Plain Raft (no pre-vote, no check-quorum), so that elections in these tests are one round.
fn paper_config(id: NodeId) -> Config {
    let mut config = Config::new(id);
    config.pre_vote = false;
    config.check_quorum = false;
    config.seed = id * 7919;
    config
}

fn propose_idempotent(cluster: &mut Cluster, via: NodeId, id: &str, data: &[u8]) -> Proposed {
    cluster.node_mut(via).propose_idempotent(Arc::from(id), Arc::from(data)).expect("proposal accepted")
}

/// The index at which `node` applied the entry with this id, and how many entries with it it applied.
fn applied_with_id(cluster: &Cluster, node: NodeId, id: &str) -> (Option<Index>, usize) {
    let applied = &cluster.nodes[&node].applied;
    let matching: Vec<Index> = applied.iter().filter(|e| e.id.as_deref() == Some(id)).map(|e| e.index).collect();
    (matching.first().copied(), matching.len())
}

#[test]
fn a_retry_of_a_committed_id_settles_at_once_with_the_original_index() {
    let mut cluster = Cluster::with_config(3, paper_config);
    let leader = cluster.elect_any();
    assert_eq!(propose_idempotent(&mut cluster, leader, "request-1", b"1"), Proposed::Pending);
    cluster.settle();
    let (original, copies) = applied_with_id(&cluster, leader, "request-1");
    let original = original.expect("the entry committed");
    assert_eq!(copies, 1);
    for via in 1..=3 {
        assert_eq!(propose_idempotent(&mut cluster, via, "request-1", b"1"), Proposed::Committed(original), "on {via}");
        assert_eq!(cluster.node(via).pending_proposals(), 0, "nothing is left waiting on {via}");
    }
    cluster.settle();
    for node in 1..=3 {
        assert_eq!(applied_with_id(&cluster, node, "request-1"), (Some(original), 1), "node {node}");
    }
}

#[test]
fn a_retry_of_a_pending_id_joins_it_and_commits_once() {
    let mut cluster = Cluster::with_config(3, paper_config);
    let leader = cluster.elect_any();
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    assert_eq!(propose_idempotent(&mut cluster, follower, "twice", b"x"), Proposed::Pending);
    assert_eq!(propose_idempotent(&mut cluster, follower, "twice", b"x"), Proposed::Pending);
    assert_eq!(propose_idempotent(&mut cluster, leader, "twice", b"x"), Proposed::Pending);
    cluster.settle();
    let (original, copies) = applied_with_id(&cluster, leader, "twice");
    assert!(original.is_some() && copies == 1, "committed once, not {copies} times");
    assert_eq!(cluster.node(follower).pending_proposals(), 0);
}

#[test]
fn a_retry_of_an_id_whose_entry_was_compacted_settles_with_the_original_index() {
    let mut cluster = Cluster::with_config(1, paper_config);
    cluster.elect_any();
    assert_eq!(propose_idempotent(&mut cluster, 1, "old", b"1"), Proposed::Pending);
    cluster.settle();
    let (original, _) = applied_with_id(&cluster, 1, "old");
    let original = original.expect("the entry committed");
    for i in 0..5 {
        cluster.propose(1, &format!("later-{i}"), b"2");
    }
    cluster.settle();
    cluster.compact(1);
    assert!(cluster.node(1).log().snapshot_index() > original, "the entry is compacted");
    assert_eq!(propose_idempotent(&mut cluster, 1, "old", b"1"), Proposed::Committed(original));
    cluster.settle();
    assert_eq!(cluster.applied_data(1).iter().filter(|data| data.as_slice() == b"1").count(), 1);

    // Beyond the window the id is forgotten: the same request is new again.
    let mut cluster = Cluster::with_config(1, |id| Config { proposal_id_window: 0, ..paper_config(id) });
    cluster.elect_any();
    propose_idempotent(&mut cluster, 1, "old", b"1");
    cluster.settle();
    cluster.compact(1);
    assert_eq!(propose_idempotent(&mut cluster, 1, "old", b"1"), Proposed::Pending);
}

#[test]
fn a_retry_after_a_leader_change_settles_with_the_original_index_and_commits_once() {
    let mut cluster = Cluster::with_config(3, paper_config);
    let first_leader = cluster.elect_any();
    assert_eq!(propose_idempotent(&mut cluster, first_leader, "moved", b"m"), Proposed::Pending);
    cluster.settle();
    let (original, _) = applied_with_id(&cluster, first_leader, "moved");
    let original = original.expect("the entry committed");
    cluster.isolated.push(first_leader);
    let next_leader = (1..=3).find(|&id| id != first_leader && cluster.elect(id)).expect("a new leader");
    assert_eq!(propose_idempotent(&mut cluster, next_leader, "moved", b"m"), Proposed::Committed(original));
    cluster.isolated.clear();
    cluster.settle();
    for node in 1..=3 {
        assert_eq!(applied_with_id(&cluster, node, "moved").1, 1, "node {node}");
    }
}

#[test]
fn a_retry_on_a_node_that_has_not_applied_the_id_waits_for_it_and_commits_once() {
    let mut cluster = Cluster::with_config(3, paper_config);
    let leader = cluster.elect_any();
    let lagging = (1..=3).find(|&id| id != leader).expect("a follower");
    cluster.isolated.push(lagging);
    assert_eq!(propose_idempotent(&mut cluster, leader, "late", b"l"), Proposed::Pending);
    cluster.settle();
    let (original, _) = applied_with_id(&cluster, leader, "late");
    assert!(original.is_some());
    // The lagging node has not seen the entry: its retry goes to the leader, which knows the id.
    assert_eq!(propose_idempotent(&mut cluster, lagging, "late", b"l"), Proposed::Pending);
    cluster.isolated.clear();
    for _ in 0..20 {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(lagging).pending_proposals(), 0, "settled by the original entry's commit");
    for node in 1..=3 {
        assert_eq!(applied_with_id(&cluster, node, "late"), (original, 1), "node {node}");
    }
}

#[test]
fn a_proposal_left_behind_by_more_than_the_id_window_is_abandoned_not_committed_twice() {
    let window = 8;
    let mut cluster = Cluster::with_config(3, |id| Config { proposal_id_window: window, ..paper_config(id) });
    let leader = cluster.elect_any();
    let proposer = (1..=3).find(|&id| id != leader).expect("a follower");
    cluster.node_mut(proposer).propose(Arc::from("r"), Arc::from(&b"r"[..])).expect("proposal accepted");
    // The leader appends and commits it, but the proposer hears nothing back: it keeps the proposal pending.
    cluster.settle_with(|m| (m.to != proposer).then_some(m));
    assert_eq!(applied_with_id(&cluster, leader, "r").1, 1);
    cluster.isolated.push(proposer);
    for i in 0..3 * window {
        cluster.propose(leader, &format!("later-{i}"), b"l");
        cluster.settle();
    }
    for node in (1..=3).filter(|&node| node != proposer) {
        cluster.compact(node);
    }
    cluster.isolated.clear();
    for _ in 0..100 {
        cluster.tick_all();
    }
    assert_eq!(applied_with_id(&cluster, leader, "r").1, 1, "committed once, not again after the id was forgotten");
    assert_eq!(cluster.nodes[&proposer].abandoned, vec![Arc::<str>::from("r")], "its outcome is unknown");
    assert_eq!(cluster.node(proposer).pending_proposals(), 0, "no longer retried");
}
