//! The rules of linearizable reads (Raft thesis, section 6.4, and the lease of 6.4.1), one test per rule, on the
//! harness's in-memory cluster of cores: a read is answered only after a quorum confirmed a round sent after it
//! arrived, never by a leader cut off from its quorum, by a fresh leader only once its term's entry committed;
//! followers ask the leader; reads of one batch share a round; a lease needs CheckQuorum, is shorter than the
//! election timeout, and ends with a leadership transfer; hostile answers are dropped and counted.

use flotilla_harness::{config, plain_config, Cluster, MemoryStorage};
use flotilla_raft::{
    Config, Index, Membership, Message, MessageBody, NodeId, Raft, ReadError, ReadState, RestoredState, Role, MAX_INDEX,
};

fn elected(size: u64, make_config: impl Fn(NodeId) -> Config) -> Cluster {
    let mut cluster = Cluster::with_config(size, make_config);
    assert!(cluster.elect(1), "node 1 leads");
    cluster
}

/// Lease reads on (with CheckQuorum, as by default).
fn with_lease(id: NodeId) -> Config {
    Config { lease_reads: true, ..config(id) }
}

fn reads(cluster: &Cluster, id: NodeId) -> Vec<ReadState> {
    cluster.nodes[&id].reads.clone()
}

fn commit(cluster: &Cluster, id: NodeId) -> Index {
    cluster.node(id).log().committed
}

/// The messages queued so far whose body `kind` names.
fn queued(cluster: &Cluster, kind: &str) -> Vec<Message> {
    cluster.in_flight.iter().filter(|m| m.body.kind_name() == kind).cloned().collect()
}

#[test]
fn a_leader_answers_a_read_only_once_a_quorum_answered_a_round_sent_after_it_arrived_6_4() {
    let mut cluster = elected(3, plain_config);
    cluster.propose(1, "w1", b"x");
    cluster.settle();
    cluster.node_mut(1).read_index(7, false).expect("read taken");
    cluster.process_ready();
    let beats = queued(&cluster, "Heartbeat");
    assert_eq!(beats.len(), 2, "the read starts a round: a heartbeat to each follower");
    assert!(reads(&cluster, 1).is_empty(), "no answer before the quorum answers");
    cluster.settle();
    assert_eq!(reads(&cluster, 1), vec![ReadState { request: 7, index: commit(&cluster, 1) }]);
    assert_eq!(commit(&cluster, 1), 2, "the read index is the leader's commit index (the no-op, then w1)");
}

#[test]
fn a_round_sent_before_the_read_arrived_does_not_confirm_it_6_4() {
    let mut cluster = elected(3, plain_config);
    // A round goes out (a heartbeat tick); the read arrives while its answers are on their way.
    cluster.node_mut(1).tick();
    cluster.process_ready();
    let earlier_round = queued(&cluster, "Heartbeat");
    assert_eq!(earlier_round.len(), 2);
    cluster.in_flight.clear();
    cluster.node_mut(1).read_index(1, false).expect("read taken");
    for beat in earlier_round {
        let follower = beat.to;
        cluster.node_mut(follower).step(beat).expect("heartbeat taken");
        for answer in cluster.node_mut(follower).ready().messages {
            cluster.node_mut(1).step(answer).expect("answer taken");
        }
    }
    let ready = cluster.node_mut(1).ready();
    assert!(ready.reads.is_empty(), "a quorum answered only a round sent before the read");
    let own_round = ready.messages.iter().filter(|m| m.body.kind_name() == "Heartbeat").count();
    assert_eq!(own_round, 2, "the read's own round goes out");
    cluster.in_flight.extend(ready.messages);
    cluster.settle();
    assert_eq!(reads(&cluster, 1).len(), 1, "and confirms it");
}

#[test]
fn a_partitioned_old_leader_cannot_serve_a_read_6_4() {
    let mut cluster = elected(3, plain_config);
    cluster.isolated.push(1);
    assert!(cluster.elect(2), "the others elect a new leader");
    cluster.propose(2, "after", b"new");
    cluster.settle();
    assert_eq!(cluster.node(1).role(), Role::Leader, "without CheckQuorum the old leader does not know");
    cluster.node_mut(1).read_index(1, false).expect("read taken");
    for _ in 0..50 {
        cluster.tick_all();
    }
    assert!(reads(&cluster, 1).is_empty(), "no quorum answers its rounds: no read is served");
    cluster.isolated.clear();
    cluster.tick_all();
    assert_eq!(cluster.node(1).role(), Role::Follower, "healed, it hears the new term");
    for _ in 0..30 {
        cluster.tick_all();
    }
    let answered = reads(&cluster, 1);
    assert_eq!(answered.len(), 1, "the read is asked of the new leader");
    assert!(answered[0].index >= 3, "it sees the new leader's no-op (2) and write (3): {answered:?}");
}

#[test]
fn a_fresh_leader_answers_reads_only_once_an_entry_of_its_term_committed_6_4() {
    let mut cluster = Cluster::with_config(3, plain_config);
    cluster.node_mut(1).campaign();
    // Win the election, but keep every append (so the no-op) from the followers.
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::Append { .. })).then_some(m));
    assert_eq!(cluster.node(1).role(), Role::Leader);
    assert_eq!(commit(&cluster, 1), 0, "its no-op has not committed");
    cluster.node_mut(1).read_index(1, false).expect("read taken");
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::Append { .. })).then_some(m));
    assert!(reads(&cluster, 1).is_empty(), "the round is confirmed, but the term's entry has not committed");
    cluster.node_mut(1).tick();
    cluster.settle();
    assert_eq!(reads(&cluster, 1), vec![ReadState { request: 1, index: 1 }], "answered at its no-op's commit");
}

#[test]
fn a_follower_asks_the_leader_and_gets_the_leaders_commit_index_6_4() {
    let mut cluster = elected(3, plain_config);
    cluster.propose(1, "w1", b"x");
    cluster.settle();
    cluster.node_mut(2).read_index(5, false).expect("read taken");
    cluster.process_ready();
    let asks = queued(&cluster, "ReadIndex");
    assert_eq!(asks.len(), 1);
    assert_eq!((asks[0].from, asks[0].to), (2, 1), "the follower asks the leader");
    cluster.settle();
    assert_eq!(reads(&cluster, 2), vec![ReadState { request: 5, index: commit(&cluster, 1) }]);
    assert!(reads(&cluster, 1).is_empty(), "the leader answered a peer's read, not one of its own");
}

#[test]
fn reads_of_one_batch_share_one_round_6_4() {
    let mut cluster = elected(5, plain_config);
    for request in 1..=100 {
        cluster.node_mut(1).read_index(request, false).expect("read taken");
    }
    cluster.process_ready();
    assert_eq!(queued(&cluster, "Heartbeat").len(), 4, "one round for a hundred reads: one heartbeat per follower");
    cluster.settle();
    assert_eq!(reads(&cluster, 1).len(), 100);
    assert_eq!(cluster.node(1).stats().read_rounds_confirmed, 1);
}

#[test]
fn a_single_node_answers_a_read_at_once_6_4() {
    let mut cluster = elected(1, plain_config);
    cluster.node_mut(1).read_index(1, false).expect("read taken");
    cluster.process_ready();
    assert_eq!(reads(&cluster, 1), vec![ReadState { request: 1, index: 1 }]);
}

#[test]
fn a_follower_asks_again_when_the_answer_is_lost_6_4() {
    let mut cluster = elected(3, plain_config);
    cluster.node_mut(2).read_index(1, false).expect("read taken");
    cluster.settle_with(|m| (!matches!(m.body, MessageBody::ReadIndexReply { .. })).then_some(m));
    assert!(reads(&cluster, 2).is_empty());
    for _ in 0..config(2).proposal_retry_ticks + 2 {
        cluster.tick_all();
    }
    assert_eq!(reads(&cluster, 2).len(), 1, "asked again, answered");
    assert!(cluster.node(2).stats().read_retries >= 1);
}

#[test]
fn reads_held_by_a_leader_that_steps_down_are_asked_of_the_next_leader_6_4() {
    let mut cluster = elected(3, plain_config);
    cluster.isolated.push(1);
    cluster.node_mut(1).read_index(9, false).expect("read taken");
    cluster.process_ready();
    assert!(cluster.elect(2));
    cluster.isolated.clear();
    for _ in 0..30 {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(1).role(), Role::Follower);
    assert_eq!(reads(&cluster, 1).len(), 1, "the read waited through the change and was answered by node 2");
    assert_eq!(cluster.node(1).pending_reads(), 0);
}

#[test]
fn a_cancelled_read_is_never_answered_6_4() {
    let mut cluster = elected(3, plain_config);
    cluster.node_mut(2).read_index(1, false).expect("read taken");
    cluster.node_mut(2).cancel_read(1);
    cluster.settle();
    assert!(reads(&cluster, 2).is_empty());
    assert_eq!(cluster.node(2).pending_reads(), 0);
}

#[test]
fn too_many_pending_reads_are_refused_and_a_request_number_is_used_once_6_4() {
    let mut cluster = Cluster::with_config(3, |id| Config { max_pending_reads: 2, ..plain_config(id) });
    let node = cluster.node_mut(2);
    node.read_index(1, false).expect("read taken");
    assert_eq!(node.read_index(1, false), Err(ReadError::DuplicateRequest(1)));
    node.read_index(2, false).expect("read taken");
    assert_eq!(node.read_index(3, false), Err(ReadError::TooManyPending { limit: 2 }));
}

// ---- the lease (thesis 6.4.1) ---------------------------------------------------------------------------

#[test]
fn a_lease_read_is_refused_without_check_quorum_or_lease_reads_6_4_1() {
    let mut cluster = elected(3, |id| Config { lease_reads: true, ..plain_config(id) });
    assert_eq!(cluster.node_mut(1).read_index(1, true), Err(ReadError::LeaseNotEnabled));
    assert_eq!(cluster.node_mut(1).read_by_lease(), None);
    let mut cluster = elected(3, config);
    assert_eq!(cluster.node_mut(1).read_index(1, true), Err(ReadError::LeaseNotEnabled), "off by default");
}

#[test]
fn the_lease_is_shorter_than_the_shortest_election_timeout_by_the_drift_bound_6_4_1() {
    for min in 2..200u32 {
        let mut config = Config::new(1);
        config.election_ticks_min = min;
        config.election_ticks_max = min * 2;
        let lease = config.lease_ticks();
        // (lease + 1) leader ticks must fit in (min - 1) follower ticks when a tick may be 25% longer.
        assert!((lease + 1) * 5 <= u64::from(min - 1) * 4 || lease == 0, "min {min}: lease {lease}");
        assert!(lease < u64::from(min), "min {min}: lease {lease}");
    }
    assert_eq!(Config::new(1).lease_ticks(), 6, "the default election timeout of 10 ticks leaves a 6-tick lease");
}

#[test]
fn a_leader_serves_lease_reads_without_a_round_while_its_lease_holds_6_4_1() {
    let mut cluster = elected(3, with_lease);
    cluster.tick_all();
    let index = commit(&cluster, 1);
    let before = cluster.delivered;
    assert_eq!(cluster.node_mut(1).read_by_lease(), Some(index), "a quorum answered a round a tick ago");
    cluster.node_mut(1).read_index(3, true).expect("read taken");
    cluster.process_ready();
    assert_eq!(reads(&cluster, 1), vec![ReadState { request: 3, index }], "answered without a round");
    assert_eq!(cluster.delivered, before, "no message was needed");
    // Cut off, the leader's lease runs out after `lease_ticks`, well before anyone else may be elected.
    cluster.isolated.push(1);
    let lease = config(1).lease_ticks();
    for _ in 0..lease {
        cluster.tick_all();
    }
    assert_eq!(cluster.node_mut(1).read_by_lease(), Some(index), "still within the lease");
    cluster.tick_all();
    assert_eq!(cluster.node_mut(1).read_by_lease(), None, "the lease has run out");
    assert!(cluster.node(2).role() != Role::Leader && cluster.node(3).role() != Role::Leader, "nobody else leads yet");
}

#[test]
fn a_leadership_transfer_voids_the_lease_6_4_1() {
    let mut cluster = elected(3, with_lease);
    cluster.tick_all();
    assert!(cluster.node_mut(1).read_by_lease().is_some());
    // The transfer starts; the target is told to campaign (its election skips the followers' wait).
    cluster.node_mut(1).transfer_leadership(2).expect("transfer starts");
    assert_eq!(cluster.node_mut(1).read_by_lease(), None, "no lease while a transfer is under way");
    cluster.process_ready();
    cluster.in_flight.clear();
    // Even once the transfer gives up, rounds sent before it hold no lease.
    for _ in 0..config(1).election_ticks_min {
        cluster.node_mut(1).tick();
    }
    assert_eq!(cluster.node(1).lead_transferee(), None);
    assert_eq!(cluster.node_mut(1).read_by_lease(), None);
}

/// Once told to campaign, the target wins with votes the followers grant in spite of their lease, whenever the
/// message arrives (it may be delayed past the transfer's own timeout): rounds confirmed after it went out hold
/// no lease either, for the rest of the term.
#[test]
fn once_its_timeout_now_went_out_a_leader_serves_no_lease_read_in_that_term_even_after_the_transfer_gave_up_6_4_1() {
    let mut cluster = elected(3, with_lease);
    cluster.tick_all();
    cluster.node_mut(1).transfer_leadership(2).expect("transfer starts");
    cluster.process_ready();
    let timeout_now = queued(&cluster, "TimeoutNow");
    assert_eq!(timeout_now.len(), 1, "the target is caught up: it is told to campaign at once");
    cluster.in_flight.retain(|m| m.body.kind_name() != "TimeoutNow");
    // The message is slow; the transfer gives up after an election timeout, and rounds go on being confirmed.
    for _ in 0..config(1).election_ticks_min + 1 {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(1).lead_transferee(), None, "the transfer gave up");
    assert_eq!(cluster.node(1).role(), Role::Leader);
    assert_eq!(cluster.node_mut(1).read_by_lease(), None, "no lease in the term a TimeoutNow went out");
    // Then it arrives: the target wins with the forced votes, while the old leader, cut off, still leads.
    cluster.isolated.push(1);
    for message in timeout_now {
        cluster.node_mut(2).step(message).expect("taken");
    }
    cluster.settle();
    assert_eq!(cluster.node(2).role(), Role::Leader, "the target won");
    assert_eq!(cluster.node(1).role(), Role::Leader, "the old leader has not heard");
    assert_eq!(cluster.node_mut(1).read_by_lease(), None);
}

#[test]
fn a_restarted_node_grants_no_vote_for_an_election_timeout_6_4_1() {
    // A follower that answered the leader's round and restarted at once must not help elect anyone else within
    // the leader's lease: it waits an election timeout, as if it still heard from that leader.
    let voters = [1, 2, 3];
    let mut storage = MemoryStorage::default();
    let mut follower = Raft::new(with_lease(2), RestoredState::new_cluster(voters)).expect("node");
    follower.step(vote_request(1, 1)).expect("vote taken");
    while follower.has_ready() {
        let ready = follower.ready();
        if let Some(request) = ready.persist {
            storage.write(&request);
            follower.persisted(request.token);
        }
    }
    let mut restarted =
        Raft::new(with_lease(2), storage.restored_state(Membership::with_voters(voters))).expect("restarted node");
    restarted.step(vote_request(3, 2)).expect("vote request handled");
    assert_eq!(restarted.vote(), Some(1), "no vote in the first election timeout after the restart");
    assert_eq!(restarted.stats().votes_ignored_in_lease, 1);
    for _ in 0..config(2).election_ticks_min {
        restarted.tick();
    }
    restarted.step(vote_request(3, 3)).expect("vote request handled");
    assert_eq!(restarted.vote(), Some(3), "after it, votes as usual");
    let mut without_leases =
        Raft::new(config(2), storage.restored_state(Membership::with_voters(voters))).expect("node");
    without_leases.step(vote_request(3, 4)).expect("vote request handled");
    assert_eq!(without_leases.vote(), Some(3), "without lease reads there is no lease to keep: it votes at once");
}

#[test]
fn no_lease_holds_while_the_drivers_clock_is_behind_6_4_1() {
    // Ticks the driver owes the core (its thread was busy) would make a lease counted in ticks last too long.
    let mut cluster = elected(3, with_lease);
    cluster.tick_all();
    assert!(cluster.node_mut(1).read_by_lease().is_some());
    cluster.node_mut(1).set_clock_behind(true);
    assert_eq!(cluster.node_mut(1).read_by_lease(), None);
    cluster.node_mut(1).set_clock_behind(false);
    assert!(cluster.node_mut(1).read_by_lease().is_some());
}

fn vote_request(from: NodeId, term: u64) -> Message {
    Message { from, to: 2, term, body: MessageBody::Vote { last_index: 0, last_term: 0, transfer: false } }
}

// ---- hostile answers ------------------------------------------------------------------------------------

#[test]
fn an_answer_to_a_round_never_sent_or_a_read_index_beyond_the_limit_is_dropped_and_counted() {
    let mut cluster = elected(3, plain_config);
    let term = cluster.node(1).term();
    let sent = cluster.node(1).stats().dropped_malformed;
    let forged = Message { from: 2, to: 1, term, body: MessageBody::HeartbeatReply { read_round: u64::MAX } };
    assert!(cluster.node_mut(1).step(forged).is_err());
    let beyond = MessageBody::ReadIndexReply { request: 1, index: MAX_INDEX + 1 };
    cluster.node_mut(2).read_index(1, false).expect("read taken");
    assert!(cluster.node_mut(2).step(Message { from: 1, to: 2, term, body: beyond }).is_err());
    assert_eq!(cluster.node(1).stats().dropped_malformed, sent + 1);
    assert_eq!(cluster.node(2).stats().dropped_malformed, 1);
    assert_eq!(cluster.node(2).pending_reads(), 1, "the forged answer answered nothing");
}

#[test]
fn a_read_request_to_a_node_that_does_not_lead_is_dropped_and_counted() {
    let mut cluster = elected(3, plain_config);
    let term = cluster.node(1).term();
    let ask = Message { from: 1, to: 3, term, body: MessageBody::ReadIndex { request: 1, lease: false } };
    cluster.node_mut(3).step(ask).expect("taken, not answered");
    assert_eq!(cluster.node(3).stats().read_requests_dropped, 1);
    cluster.process_ready();
    assert!(queued(&cluster, "ReadIndexReply").is_empty());
}
