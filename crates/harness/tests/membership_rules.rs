//! The rules of membership changes (Raft thesis, chapter 4), one test per rule, on the harness's in-memory
//! cluster of cores: learners get the log but never vote, campaign or count in a quorum; a new voter enters as a
//! learner and is promoted once caught up; one change at a time; a configuration is in force from the moment it is
//! appended, and undone with an overwritten suffix; changes of more than one voter go through a joint configuration
//! that needs both majorities and that the leader leaves by itself; a removed leader steps down and hands over; a
//! removed node cannot disturb the cluster; snapshots and restarts keep the configuration.

use flotilla_harness::{config, plain_config, Cluster};
use flotilla_raft::{ConfChangeError, Index, Membership, MessageBody, NodeId, Payload, Role, CATCH_UP_ENTRIES};
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

/// A cluster of `size` voters led by node 1.
fn elected(size: u64) -> Cluster {
    let mut cluster = Cluster::with_config(size, plain_config);
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
        cluster.add_node(plain_config(id), members(&voters, &[], learners));
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
fn a_learner_that_never_answered_is_not_promoted_even_with_a_short_log_4_2_1() {
    let mut cluster = elected(3);
    cluster.isolated.push(4);
    add_learners(&mut cluster, &[4]);
    // The log is far shorter than the catch-up bound, but the learner never acknowledged an entry: it may be
    // unreachable, and as a voter it would make a majority of 4 need 3 of the other 3.
    let refused = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3, 4]), &set(&[]), no_context());
    assert!(matches!(refused, Err(ConfChangeError::NotCaughtUp { id: 4, matched: 0, .. })), "{refused:?}");
    cluster.isolated.clear();
    cluster.tick_all();
    cluster.settle();
    change(&mut cluster, 1, &[1, 2, 3, 4], &[]);
}

#[test]
fn a_removed_member_learns_that_its_removal_committed_4_2_2() {
    let mut cluster = elected(3);
    let removal = change(&mut cluster, 1, &[1, 2], &[]);
    // The leader stops replicating to node 3 once the removal commits; it tells node 3 that it committed.
    assert!(commit(&cluster, 3) >= removal, "node 3 knows its removal committed ({} < {removal})", commit(&cluster, 3));
    assert!(!cluster.node(3).membership().contains(3), "the configuration in force on node 3 leaves it out");
}

#[test]
fn a_removed_member_stops_waiting_for_its_proposals_4_2_2() {
    let mut cluster = elected(3);
    change(&mut cluster, 1, &[1, 2], &[]);
    // A proposal made on the removed node is forwarded; the leader answers with the commit of the removal, and
    // the removed node, which will hear of no more commits, gives up waiting (outcome unknown).
    cluster.propose(3, "orphan", b"x");
    cluster.settle();
    let abandoned: Vec<&str> = cluster.nodes[&3].abandoned.iter().map(|id| &**id).collect();
    assert_eq!(abandoned, ["orphan"]);
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
    let mut cluster = Cluster::with_config(3, plain_config);
    cluster.node_mut(1).campaign();
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::Append { .. })).then_some(m));
    assert_eq!(cluster.node(1).role(), Role::Leader);
    let early = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3]), &set(&[4]), no_context());
    assert!(matches!(early, Err(ConfChangeError::TermNotStarted { .. })), "{early:?}");
}

#[test]
fn a_configuration_is_in_force_once_committed_not_once_appended() {
    // See `conf_change` for why (as etcd's raft, not the thesis's 4.1): appended, it changes nothing yet.
    let mut cluster = elected(3);
    cluster.isolated.push(3);
    let index = cluster.node_mut(1).propose_membership(&set(&[1, 2]), &set(&[]), no_context()).expect("taken");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2, 3], &[], &[]), "appended, not in force");
    assert_eq!(cluster.node(1).membership_index(), index, "but the latest configuration of the log");
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::AppendReply { .. })).then_some(m));
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2, 3], &[], &[]), "nor on a follower");
    cluster.tick_all();
    assert!(commit(&cluster, 1) >= index);
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2], &[], &[]), "committed: in force");
    cluster.tick_all();
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2], &[], &[]), "and on a follower that knows it");
}

#[test]
fn an_uncommitted_configuration_is_undone_with_the_suffix_that_held_it() {
    let mut cluster = elected(5);
    // The change reaches node 2 only, then its leader is cut off with it.
    cluster.isolated.extend([3, 4, 5]);
    let index = cluster.node_mut(1).propose_membership(&set(&[1, 2, 3, 4]), &set(&[]), no_context()).expect("taken");
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::AppendReply { .. })).then_some(m));
    assert_eq!(cluster.node(2).membership_index(), index, "node 2 holds the change");
    cluster.isolated = vec![1, 2];
    assert!(cluster.elect(3), "3, 4 and 5 elect a leader without the change");
    cluster.propose(3, "overwrites", b"x");
    cluster.settle();
    cluster.isolated.clear();
    for _ in 0..3 {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(2).membership_index(), 0, "the change was overwritten with its suffix");
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2, 3, 4, 5], &[], &[]), "and never was in force");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2, 3, 4, 5], &[], &[]));
}

/// A cluster of 1, 2, 3 with learners 4 and 5, asked to move to voters 1, 4, 5 while `cut` hear nothing:
/// returns it with the index of the entry that enters the joint configuration.
fn joint_change_without(cut: &[NodeId]) -> (Cluster, Index) {
    let mut cluster = elected(3);
    add_learners(&mut cluster, &[4, 5]);
    cluster.isolated.extend(cut);
    let joint = cluster.node_mut(1).propose_membership(&set(&[1, 4, 5]), &set(&[]), no_context()).expect("taken");
    for _ in 0..3 {
        cluster.tick_all();
    }
    (cluster, joint)
}

#[test]
fn a_change_of_several_voters_goes_through_a_joint_configuration_that_needs_both_majorities_4_3() {
    // Entering the joint configuration commits by the old voters' majority alone.
    let (cluster, joint) = joint_change_without(&[2, 3]);
    assert!(commit(&cluster, 1) < joint, "the new voters alone cannot enter it: the old majority decides");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 2, 3], &[], &[4, 5]));
    let (mut cluster, joint) = joint_change_without(&[4, 5]);
    assert!(commit(&cluster, 1) >= joint, "the old voters' majority entered it");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 4, 5], &[1, 2, 3], &[]), "joint: old and new voters");
    let leave = cluster.node(1).membership_index();
    assert!(leave > joint, "the leader proposed leaving it at once");
    assert!(commit(&cluster, 1) < leave, "but in the joint configuration the new voters' majority must agree too");
    cluster.isolated.clear();
    cluster.tick_all();
    cluster.settle();
    assert!(commit(&cluster, 1) >= leave, "both majorities: leaving commits");
    assert_eq!(cluster.node(1).membership(), &members(&[1, 4, 5], &[], &[]), "the leader left the joint state");
    assert_eq!(cluster.node(1).stats().membership_changes, 3, "the learners, the joint entry, leaving it");
    for id in [4, 5] {
        assert_eq!(cluster.node(id).membership(), &members(&[1, 4, 5], &[], &[]));
    }
}

#[test]
fn a_joint_configuration_elects_only_with_both_majorities_4_3() {
    // In force on 1, 2 and 3 (the new voters 4 and 5 were cut off), and its leader gone: 2 needs 3 (the old
    // majority) and both 4 and 5 (the new one, 1 being down).
    let (mut cluster, _) = joint_change_without(&[4, 5]);
    assert_eq!(cluster.node(2).membership(), &members(&[1, 4, 5], &[1, 2, 3], &[]));
    cluster.isolated = vec![1, 4, 5];
    cluster.node_mut(2).campaign();
    cluster.settle();
    assert_ne!(cluster.node(2).role(), Role::Leader, "a majority of the old voters only");
    cluster.isolated = vec![1, 5];
    cluster.node_mut(2).campaign();
    cluster.settle();
    assert_ne!(cluster.node(2).role(), Role::Leader, "4 alone is not a majority of 1, 4, 5");
    cluster.isolated = vec![1];
    cluster.node_mut(2).campaign();
    cluster.settle();
    // It won, led the cluster out of the joint configuration, and (not a voter of the new one) handed over.
    assert_eq!(cluster.node(2).stats().removed_leader_hand_overs, 1, "with 4 and 5, both majorities voted for 2");
    assert!(matches!(cluster.leader(), Some(4 | 5)), "a voter of the new configuration leads");
    assert_eq!(cluster.node(4).membership(), &members(&[1, 4, 5], &[], &[]));
}

#[test]
fn a_leader_removed_from_the_cluster_steps_down_once_the_change_committed_and_hands_over_4_2_2() {
    let mut cluster = elected(3);
    let term = cluster.node(1).term();
    change(&mut cluster, 1, &[2, 3], &[]);
    assert_eq!(cluster.node(1).role(), Role::Follower);
    assert_eq!(cluster.node(1).stats().removed_leader_hand_overs, 1);
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
    // With pre-vote and check-quorum (thesis 4.2.3, 9.6): the members hear from their leader, so they ignore the
    // removed node's campaigns, and its log lacks its removal, so it can never win anyway.
    let mut cluster = Cluster::new(3);
    assert!(cluster.elect(1));
    cluster.isolated.push(3);
    change(&mut cluster, 1, &[1, 2], &[]);
    let term = cluster.node(1).term();
    cluster.isolated.clear();
    for _ in 0..10 * config(3).election_ticks_max {
        cluster.tick_all();
    }
    assert_eq!(cluster.leader(), Some(1), "still the leader");
    assert_eq!(cluster.node(1).term(), term, "no election disturbed the cluster");
    assert!(cluster.node(3).stats().elections_started > 0, "the removed node did campaign");
    assert_eq!(cluster.node(3).log().last_index(), cluster.node(1).log().last_index() - 1, "it got no entry");
}

#[test]
fn a_removed_node_is_never_elected_even_without_pre_vote_4_2_3() {
    // Without pre-vote and check-quorum a removed node's campaigns raise terms, but its log lacks the committed
    // entry that removed it, so no member of the new configuration votes for it.
    let mut cluster = elected(3);
    cluster.isolated.push(3);
    change(&mut cluster, 1, &[1, 2], &[]);
    cluster.isolated.clear();
    for _ in 0..10 * plain_config(3).election_ticks_max {
        cluster.tick_all();
        assert_ne!(cluster.node(3).role(), Role::Leader);
    }
    // (It does disturb: that is what pre-vote and check-quorum are for. Once it is shut down, all is well.)
    cluster.isolated.push(3);
    let leader = cluster.elect_any();
    assert!([1, 2].contains(&leader));
    cluster.propose(leader, "still-committing", b"x");
    cluster.settle();
    assert_eq!(commit(&cluster, leader), cluster.node(leader).log().last_index());
}

#[test]
fn a_node_that_joins_knows_no_members_never_campaigns_and_takes_the_log_from_the_leader_that_adds_it() {
    let mut cluster = elected(3);
    cluster.propose(1, "before", b"x");
    cluster.settle();
    cluster.add_joining_node(plain_config(4));
    for _ in 0..5 * plain_config(4).election_ticks_max {
        cluster.node_mut(4).tick();
    }
    assert_eq!(cluster.node(4).stats().elections_started, 0, "it waits to be added");
    change(&mut cluster, 1, &[1, 2, 3], &[4]);
    assert_eq!(cluster.node(4).membership(), &members(&[1, 2, 3], &[], &[4]));
    assert_eq!(cluster.applied_data(4), cluster.applied_data(1));
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
    cluster.add_node(plain_config(5), members(&[1, 2, 3, 4], &[], &[5]));
    change(&mut cluster, 1, &[1, 2, 3, 4], &[5]);
    assert_eq!(cluster.node(5).stats().snapshots_installed, 1);
    assert_eq!(cluster.node(5).membership(), &members(&[1, 2, 3, 4], &[], &[5]));
    cluster.restart(2, plain_config(2));
    cluster.restart(5, plain_config(5));
    // Each restarts with the configuration committed as far as it knew, and learns the rest from the leader.
    cluster.tick_all();
    assert_eq!(cluster.node(2).membership(), &members(&[1, 2, 3, 4], &[], &[5]), "from its log");
    assert_eq!(cluster.node(5).membership(), &members(&[1, 2, 3, 4], &[], &[5]));
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

#[test]
fn a_vote_refused_for_the_log_tells_the_candidate_what_the_voter_knows_committed() {
    // Node 3 holds entries 1 and 2 and knows 2 committed; candidate 2 holds them too, knows only 1 committed, and
    // lacks 3's entry 3: refused, it learns that 2 committed (log matching: its entry 2 is the same).
    let entry = |index: Index, term| flotilla_raft::Entry {
        term,
        index,
        kind: flotilla_raft::EntryKind::Normal,
        id: Some(format!("e{index}").into()),
        data: Payload::from(Vec::new()),
    };
    let restored = |commit, last: Index| flotilla_raft::RestoredState {
        hard_state: flotilla_raft::HardState { term: 1, vote: None, commit },
        membership: members(&[1, 2, 3], &[], &[]),
        entries: (1..=last).map(|index| entry(index, 1)).collect(),
        ..Default::default()
    };
    let mut voter = flotilla_raft::Raft::new(plain_config(3), restored(2, 3)).expect("node");
    let mut candidate = flotilla_raft::Raft::new(plain_config(2), restored(1, 2)).expect("node");
    candidate.campaign();
    let mut notices = Vec::new();
    for _ in 0..3 {
        let ready = candidate.ready();
        if let Some(write) = &ready.persist {
            candidate.persisted(write.token);
        }
        for message in ready.messages.into_iter().filter(|m| m.to == 3) {
            voter.step(message).expect("vote request taken");
        }
        let answers = voter.ready();
        if let Some(write) = &answers.persist {
            voter.persisted(write.token);
        }
        notices.extend(answers.messages.iter().filter(|m| matches!(m.body, MessageBody::CommitNotice { .. })).cloned());
        for message in answers.messages {
            let _ = candidate.step(message);
        }
    }
    assert_eq!(notices.len(), 1, "one refusal, one notice");
    assert_eq!(notices[0].body, MessageBody::CommitNotice { index: 2, term: 1 });
    assert_eq!(candidate.log().committed, 2, "the candidate holds entry 2 of term 1: it is committed");
    assert_eq!(candidate.stats().commits_learned_from_notices, 1);
    // A notice about an entry the node does not hold (another term there, or beyond its log) teaches nothing.
    let forged = |index, term| flotilla_raft::Message {
        from: 3,
        to: 2,
        term: 9,
        body: MessageBody::CommitNotice { index, term },
    };
    candidate.step(forged(2, 7)).expect("taken");
    candidate.step(forged(9, 1)).expect("taken");
    assert_eq!(candidate.log().committed, 2);
}
