//! The rules of membership changes (Raft thesis, chapter 4), one test per rule, on the harness's in-memory
//! cluster of cores: learners get the log but never vote, campaign or count in a quorum; a new voter enters as a
//! learner and is promoted once caught up; one change at a time; a configuration is in force from the moment it is
//! appended, and undone with an overwritten suffix; changes of more than one voter go through a joint configuration
//! that needs both majorities and that the leader leaves by itself; a removed leader steps down and hands over; a
//! removed node cannot disturb the cluster; snapshots and restarts keep the configuration.

use flotilla_harness::{config, Cluster};
use flotilla_raft::{ConfChangeError, Config, Index, Membership, MessageBody, NodeId, Payload, Role, CATCH_UP_ENTRIES};
use std::collections::BTreeSet;

fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
    ids.iter().copied().collect()
}

fn members(voters: &[NodeId], outgoing: &[NodeId], learners: &[NodeId]) -> Membership {
    Membership { voters: set(voters), outgoing: set(outgoing), learners: set(learners) }
}

fn no_context() -> Payload {
    Payload::from(Vec::new())
}

/// The thesis's rules on their own: no pre-vote and no check-quorum lease in the way of the elections tests force.
fn plain(id: NodeId) -> Config {
    let mut config = config(id);
    config.pre_vote = false;
    config.check_quorum = false;
    config
}

/// A cluster of `size` voters led by node 1.
fn elected(size: u64) -> Cluster {
    let mut cluster = Cluster::with_config(size, plain);
    assert!(cluster.elect(1), "node 1 leads");
    cluster
}

/// Moves the cluster led by `leader` to `voters` and `learners`, and settles.
fn change(cluster: &mut Cluster, leader: NodeId, voters: &[NodeId], learners: &[NodeId]) -> Index {
    let index = cluster.node_mut(leader).propose_membership(&set(voters), &set(learners), no_context());
    let index = index.unwrap_or_else(|error| panic!("change to {voters:?} + {learners:?} refused: {error}"));
    cluster.settle();
    index
}

/// Adds new nodes as learners of the cluster led by node 1: each starts knowing the configuration that names it.
fn add_learners(cluster: &mut Cluster, learners: &[NodeId]) {
    let voters: Vec<NodeId> = cluster.node(1).membership().voters.iter().copied().collect();
    for &id in learners {
        cluster.add_node(plain(id), members(&voters, &[], learners));
    }
    change(cluster, 1, &voters, learners);
}

fn commit(cluster: &Cluster, id: NodeId) -> Index {
    cluster.node(id).log().committed
}

#[test]
fn a_learner_receives_the_log_but_changes_no_quorum() {
    let mut cluster = elected(3);
    cluster.propose(1, "before", b"x");
    cluster.settle();
    add_learners(&mut cluster, &[4]);
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2, 3], &[], &[4]));
    assert_eq!(cluster.applied_data(4), cluster.applied_data(1), "the learner has the log");
    assert_eq!(cluster.node(4).membership(), cluster.node(1).membership());
    cluster.isolated.push(4);
    cluster.propose(1, "without-the-learner", b"y");
    cluster.settle();
    assert_eq!(commit(&cluster, 1), cluster.node(1).log().last_index(), "commits without the learner");
}

#[test]
fn a_learner_is_never_counted_in_a_quorum() {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4, 5]);
    cluster.isolated.extend([2, 3]);
    let before = commit(&cluster, 1);
    cluster.propose(1, "needs-a-voter", b"x");
    cluster.settle();
    assert_eq!(commit(&cluster, 1), before, "the leader and two learners are not a majority of three voters");
    assert_eq!(cluster.node(4).log().last_index(), cluster.node(1).log().last_index(), "the learners hold it");
}

#[test]
fn a_learner_never_campaigns() {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4]);
    cluster.isolated.extend([1, 2, 3]);
    for _ in 0..10 * config(4).election_ticks_max {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(4).role(), Role::Follower);
    assert_eq!(cluster.node(4).stats().elections_started, 0);
    assert_eq!(cluster.node(4).term(), cluster.node(1).term());
}

#[test]
fn a_new_voter_enters_as_a_learner_first_4_2_1() {
    let mut cluster = elected(3);
    let refused = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3, 4]), &set(&[]), no_context());
    assert_eq!(refused, Err(ConfChangeError::NotALearner(4)));
    add_learners(&mut cluster, &[4]);
    change(&mut cluster, 1, &[1, 2, 3, 4], &[]);
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2, 3, 4], &[], &[]));
    assert_eq!(cluster.node(4).membership(), &members(&[1, 2, 3, 4], &[], &[]), "the promoted node knows it");
}

#[test]
fn a_learner_behind_the_log_is_not_promoted_4_2_1() {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4]);
    cluster.isolated.push(4);
    for n in 0..=CATCH_UP_ENTRIES {
        cluster.propose(1, &format!("e{n}"), b"x");
    }
    cluster.settle();
    let refused = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3, 4]), &set(&[]), no_context());
    assert!(matches!(refused, Err(ConfChangeError::NotCaughtUp { id: 4, .. })), "{refused:?}");
    cluster.isolated.clear();
    cluster.tick_all();
    change(&mut cluster, 1, &[1, 2, 3, 4], &[]);
}

#[test]
fn one_change_at_a_time_4_1() {
    let mut cluster = elected(3);
    let first = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3]), &set(&[4]), no_context()).expect("taken");
    let second = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3]), &set(&[4, 5]), no_context());
    assert_eq!(second, Err(ConfChangeError::InFlight { index: first }));
    assert_eq!(
        cluster.node_mut(2).propose_membership(&set(&[1, 2]), &set(&[]), no_context()),
        Err(ConfChangeError::NotLeader)
    );
}

#[test]
fn a_new_leader_changes_the_membership_only_once_an_entry_of_its_term_committed() {
    let mut cluster = Cluster::with_config(3, plain);
    cluster.node_mut(1).campaign();
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::Append { .. })).then_some(m));
    assert_eq!(cluster.node(1).role(), Role::Leader);
    let early = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3]), &set(&[4]), no_context());
    assert!(matches!(early, Err(ConfChangeError::InFlight { .. })), "{early:?}");
}

#[test]
fn a_configuration_is_in_force_once_appended_not_once_committed_4_1() {
    let mut cluster = elected(3);
    cluster.isolated.push(3);
    let index = cluster.node_mut(1).propose_membership(&set(&[1, 2]), &set(&[]), no_context()).expect("taken");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2], &[], &[]), "the leader uses it at once");
    assert!(commit(&cluster, 1) < index);
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::AppendReply { .. })).then_some(m));
    assert!(commit(&cluster, 2) < index, "not committed anywhere yet");
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2], &[], &[]), "a follower uses it once appended");
}

#[test]
fn an_uncommitted_configuration_is_undone_with_the_suffix_that_held_it_4_1() {
    let mut cluster = elected(5);
    // The change reaches node 2 only, then its leader is cut off with it.
    cluster.isolated.extend([3, 4, 5]);
    cluster.node_mut(1).propose_membership(&set(&[1, 2, 3, 4]), &set(&[]), no_context()).expect("taken");
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::AppendReply { .. })).then_some(m));
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2, 3, 4], &[], &[]));
    cluster.isolated = vec![1, 2];
    assert!(cluster.elect(3), "3, 4 and 5 elect a leader without the change");
    cluster.propose(3, "overwrites", b"x");
    cluster.settle();
    cluster.isolated.clear();
    for _ in 0..3 {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2, 3, 4, 5], &[], &[]), "the change was overwritten");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2, 3, 4, 5], &[], &[]));
}

/// A cluster of 1, 2, 3 with learners 4 and 5, entering the joint configuration to voters 1, 4, 5 while `cut`
/// hear nothing: returns the joint entry's index.
fn joint_change_without(cut: &[NodeId]) -> (Cluster, Index) {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4, 5]);
    cluster.isolated.extend(cut);
    let joint = cluster.node_mut(1).propose_membership(&set(&[1, 4, 5]), &set(&[]), no_context()).expect("taken");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 4, 5], &[1, 2, 3], &[]), "joint: old and new voters");
    for _ in 0..3 {
        cluster.tick_all();
    }
    (cluster, joint)
}

#[test]
fn a_change_of_several_voters_goes_through_a_joint_configuration_that_needs_both_majorities_4_3() {
    let (cluster, joint) = joint_change_without(&[2, 3]);
    assert!(commit(&cluster, 1) < joint, "a majority of the new voters alone is not enough");
    let (mut cluster, _) = joint_change_without(&[4, 5]);
    assert!(commit(&cluster, 1) < joint, "nor a majority of the old voters alone");
    cluster.isolated.clear();
    cluster.tick_all();
    cluster.settle();
    assert!(commit(&cluster, 1) > joint, "both majorities: the joint entry and the one leaving it commit");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 4, 5], &[], &[]), "the leader left the joint state");
    assert_eq!(cluster.node(1).stats().membership_changes, 3, "the learners, the joint entry, leaving it");
    for id in [4, 5] {
        assert_eq!(cluster.node(id).membership(), &members(&[1, 4, 5], &[], &[]));
    }
}

#[test]
fn a_joint_configuration_elects_only_with_both_majorities_4_3() {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4, 5]);
    // Enter the joint configuration everywhere, but keep it from committing (so the leader does not leave it).
    cluster.node_mut(1).propose_membership(&set(&[3, 4, 5]), &set(&[]), no_context()).expect("taken");
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::AppendReply { .. })).then_some(m));
    cluster.isolated.extend([1, 2]);
    cluster.node_mut(4).campaign();
    cluster.settle();
    assert_ne!(cluster.node(4).role(), Role::Leader, "3, 4 and 5 are a majority of the new voters only");
    cluster.isolated = vec![1];
    cluster.node_mut(4).campaign();
    cluster.settle();
    assert_eq!(cluster.node(4).role(), Role::Leader, "with 2 as well, both majorities vote");
}

#[test]
fn a_leader_removed_from_the_cluster_steps_down_once_the_change_committed_and_hands_over_4_2_2() {
    let mut cluster = elected(3);
    let term = cluster.node(1).term();
    change(&mut cluster, 1, &[2, 3], &[]);
    assert_eq!(cluster.node(1).role(), Role::Follower);
    assert_eq!(cluster.node(1).stats().removed_leader_step_downs, 1);
    let leader = cluster.leader().expect("a new leader at once, by the hand-over");
    assert!([2, 3].contains(&leader));
    assert_eq!(cluster.node(leader).term(), term + 1, "one election, at once: no timeout waited out");
    cluster.propose(leader, "after", b"x");
    cluster.settle();
    assert_eq!(commit(&cluster, leader), cluster.node(leader).log().last_index());
    for _ in 0..5 * config(1).election_ticks_max {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(1).stats().elections_started, 1, "the removed node never campaigns again");
}

#[test]
fn a_removed_node_that_missed_its_removal_cannot_disturb_the_cluster_4_2_3() {
    let mut cluster = elected(3);
    cluster.isolated.push(3);
    change(&mut cluster, 1, &[1, 2], &[]);
    let term = cluster.node(1).term();
    cluster.isolated.clear();
    for _ in 0..10 * config(3).election_ticks_max {
        cluster.tick_all();
    }
    assert_eq!(cluster.leader(), Some(1), "still the leader");
    assert_eq!(cluster.node(1).term(), term, "no election disturbed the cluster");
    let dropped = cluster.node(1).stats().dropped_unknown_sender + cluster.node(2).stats().dropped_unknown_sender;
    assert!(dropped > 0, "the removed node's campaigns were dropped: it is not a member");
}

#[test]
fn snapshots_and_restarts_keep_the_configuration() {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4]);
    change(&mut cluster, 1, &[1, 2, 3, 4], &[]);
    cluster.compact(1);
    let snapshot = cluster.node(1).snapshot().expect("a snapshot");
    assert_eq!(snapshot.meta.membership, members(&[1, 2, 3, 4], &[], &[]));
    // A learner added after the compaction catches up by InstallSnapshot.
    cluster.add_node(plain(5), members(&[1, 2, 3, 4], &[], &[5]));
    change(&mut cluster, 1, &[1, 2, 3, 4], &[5]);
    assert_eq!(cluster.node(5).stats().snapshots_installed, 1);
    assert_eq!(cluster.node(5).membership(), &members(&[1, 2, 3, 4], &[], &[5]));
    cluster.restart(2, plain(2));
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2, 3, 4], &[], &[5]), "recovered from its log");
    cluster.restart(5, plain(5));
    assert_eq!(cluster.node(5).membership(), &members(&[1, 2, 3, 4], &[], &[5]), "recovered from its snapshot");
}

#[test]
fn a_configuration_entry_that_cannot_be_read_is_malformed() {
    let mut cluster = elected(3);
    let term = cluster.node(1).term();
    let last = cluster.node(2).log().last_index();
    let entry = flotilla_raft::Entry {
        term,
        index: last + 1,
        kind: flotilla_raft::EntryKind::ConfChange,
        id: None,
        data: Payload::from(&b"\x01garbage"[..]),
    };
    let body = MessageBody::Append { prev_index: last, prev_term: term, entries: vec![entry], commit: 0 };
    let message = flotilla_raft::Message { from: 1, to: 2, term, body };
    assert!(cluster.node_mut(2).step(message).is_err());
    assert_eq!(cluster.node(2).stats().dropped_malformed, 1);
    assert_eq!(cluster.node(2).log().last_index(), last);
}
