//! Quick end-to-end checks of the core on a perfect network.

use flotilla_harness::Cluster;
use flotilla_raft::Role;

#[test]
fn three_nodes_elect_and_commit_everywhere() {
    let mut cluster = Cluster::new(3);
    let leader = cluster.elect_any();
    let follower = if leader == 1 { 2 } else { 1 };
    cluster.propose(leader, "a", b"one");
    cluster.propose(follower, "b", b"two");
    cluster.settle();
    for _ in 0..5 {
        cluster.tick_all();
    }
    for id in 1..=3 {
        assert_eq!(cluster.applied_data(id), vec![b"one".to_vec(), b"two".to_vec()], "node {id}");
    }
}

#[test]
fn single_node_elects_itself_and_commits_alone() {
    let mut cluster = Cluster::new(1);
    assert_eq!(cluster.elect_any(), 1);
    assert_eq!(cluster.node(1).role(), Role::Leader);
    cluster.propose(1, "x", b"solo");
    cluster.settle();
    assert_eq!(cluster.applied_data(1), vec![b"solo".to_vec()]);
}

#[test]
fn two_nodes_need_both() {
    let mut cluster = Cluster::new(2);
    let leader = cluster.elect_any();
    let other = 3 - leader;
    cluster.isolated.push(other);
    cluster.propose(leader, "x", b"needs both");
    for _ in 0..5 {
        cluster.tick_all();
    }
    assert!(cluster.applied_data(leader).is_empty());
    cluster.isolated.clear();
    for _ in 0..5 {
        cluster.tick_all();
    }
    assert_eq!(cluster.applied_data(other), vec![b"needs both".to_vec()]);
}
