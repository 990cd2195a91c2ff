//! The rules of log compaction and InstallSnapshot (Raft paper, section 7; thesis, chapter 5), one test per rule,
//! named after it: what compaction keeps, when a leader sends a snapshot, how chunks are sized, flow-controlled and
//! resumed, how a follower takes a snapshot into its log, when it may say so, and how a node restarts from one.

use flotilla_harness::{decode_items, encode_items, progress, Cluster};
use flotilla_raft::{
    CompactError, Config, DropReason, Entry, EntryKind, HardState, Index, Membership, Message, MessageBody, NodeId,
    Payload, PersistRequest, Raft, Ready, RestoredState, Role, Snapshot, SnapshotMeta, Term, MAX_SNAPSHOT_BYTES,
};
use std::sync::Arc;

// ---- building nodes ------------------------------------------------------------------------------------

/// Plain Raft (no pre-vote, no check-quorum), so that elections in these tests are one round.
fn paper_config(id: NodeId) -> Config {
    let mut config = Config::new(id);
    config.pre_vote = false;
    config.check_quorum = false;
    config
}

/// A user entry; its proposal id and data name its place.
fn entry(index: Index, term: Term) -> Entry {
    Entry {
        term,
        index,
        kind: EntryKind::Normal,
        id: Some(Arc::from(format!("{index}@{term}"))),
        data: Arc::from(format!("data {index}@{term}").into_bytes()),
    }
}

/// Entries `first..=last`, all of `term`.
fn entries(first: Index, last: Index, term: Term) -> Vec<Entry> {
    (first..=last).map(|index| entry(index, term)).collect()
}

/// The snapshot of a state machine that applied `entry(1..=index, term)`, as the harness encodes it.
fn snapshot_of(index: Index, term: Term, voters: &[NodeId]) -> Snapshot {
    let applied = entries(1, index, term);
    let items: Vec<Vec<u8>> = applied.iter().map(|e| e.data.to_vec()).collect();
    Snapshot {
        meta: SnapshotMeta { index, term, membership: Membership::with_voters(voters.iter().copied()) },
        data: Payload::from(encode_items(&items)),
        proposal_ids: applied.iter().map(|e| (e.index, e.id.clone().expect("a user entry"))).collect(),
        ..Snapshot::default()
    }
}

/// A node restarting with a snapshot at `snapshot_index` and the entries after it up to `last` (all of term 1).
fn compacted_state(voters: &[NodeId], term: Term, snapshot_index: Index, last: Index, commit: Index) -> RestoredState {
    RestoredState {
        hard_state: HardState { term, vote: None, commit },
        membership: Membership::with_voters(voters.iter().copied()),
        snapshot: Some(snapshot_of(snapshot_index, 1, voters)),
        entries: entries(snapshot_index + 1, last, 1),
        joining: false,
    }
}

/// A node restarting with `log` (no snapshot).
fn log_state(voters: &[NodeId], term: Term, commit: Index, log: Vec<Entry>) -> RestoredState {
    RestoredState {
        hard_state: HardState { term, vote: None, commit },
        membership: Membership::with_voters(voters.iter().copied()),
        snapshot: None,
        entries: log,
        joining: false,
    }
}

fn node(config: Config, state: RestoredState) -> Raft {
    Raft::new(config, state).expect("a valid restored state")
}

fn msg(from: NodeId, to: NodeId, term: Term, body: MessageBody) -> Message {
    Message { from, to, term, body }
}

/// The chunks among `messages`, as (from, to, offset, length, total).
fn chunks(messages: &[Message]) -> Vec<(NodeId, NodeId, u64, u64, u64)> {
    messages
        .iter()
        .filter_map(|m| match &m.body {
            MessageBody::InstallSnapshot { offset, total, chunk, .. } => {
                Some((m.from, m.to, *offset, chunk.len() as u64, *total))
            }
            _ => None,
        })
        .collect()
}

/// The snapshot replies among `messages`, as (index, received, done).
fn snapshot_replies(messages: &[Message]) -> Vec<(Index, u64, bool)> {
    messages
        .iter()
        .filter_map(|m| match m.body {
            MessageBody::SnapshotReply { index, received, done } => Some((index, received, done)),
            _ => None,
        })
        .collect()
}

// ---- driving a cluster by rounds -----------------------------------------------------------------------

/// Delivers every message now in flight that `keep` lets through (isolated nodes hear nothing), after each node's
/// ready work; returns the messages delivered. One call is one network hop.
fn round(cluster: &mut Cluster, mut keep: impl FnMut(&Message) -> bool) -> Vec<Message> {
    cluster.process_ready();
    let messages: Vec<Message> = cluster.in_flight.drain(..).collect();
    let mut delivered = Vec::new();
    for message in messages {
        if cluster.isolated.contains(&message.from) || cluster.isolated.contains(&message.to) || !keep(&message) {
            continue;
        }
        let _ = cluster.node_mut(message.to).step(message.clone());
        delivered.push(message);
    }
    cluster.process_ready();
    delivered
}

/// Rounds until `done`, ticking the leader once when the network is quiet; returns everything delivered. Fails
/// after `limit` rounds.
fn rounds_until(
    cluster: &mut Cluster,
    leader: NodeId,
    limit: usize,
    done: impl FnMut(&Cluster) -> bool,
) -> Vec<Message> {
    rounds_until_by_round(cluster, leader, limit, done).concat()
}

/// As `rounds_until`, with what each round delivered kept apart.
fn rounds_until_by_round(
    cluster: &mut Cluster,
    leader: NodeId,
    limit: usize,
    mut done: impl FnMut(&Cluster) -> bool,
) -> Vec<Vec<Message>> {
    let mut rounds = Vec::new();
    for _ in 0..limit {
        if done(cluster) {
            return rounds;
        }
        cluster.process_ready();
        if cluster.in_flight.is_empty() {
            cluster.node_mut(leader).tick();
        }
        rounds.push(round(cluster, |_| true));
    }
    panic!("the cluster did not get there in {limit} rounds");
}

/// Nodes 1 and 2 hold a snapshot at 5 (term 1) and entries 6..=8; node 3 is new. Node 1 is elected (term 2) while
/// node 3 is cut off, so that node 3 then needs the snapshot.
fn cluster_with_compacted_leader(adjust: impl Fn(&mut Config)) -> Cluster {
    let voters = [1, 2, 3];
    let config = |id| {
        let mut config = paper_config(id);
        adjust(&mut config);
        config
    };
    let mut cluster = Cluster::from_states([
        (config(1), compacted_state(&voters, 1, 5, 8, 8)),
        (config(2), compacted_state(&voters, 1, 5, 8, 8)),
        (config(3), RestoredState::new_cluster(voters)),
    ]);
    cluster.isolated = vec![3];
    assert!(cluster.elect(1));
    cluster.isolated.clear();
    cluster
}

fn installed(cluster: &Cluster, id: NodeId) -> bool {
    !cluster.nodes[&id].installed.is_empty()
}

/// The leader knows `id` holds its whole log, and `id` applied as far as the leader.
fn caught_up(cluster: &Cluster, leader: NodeId, id: NodeId) -> bool {
    let last = cluster.node(leader).log().last_index();
    progress(cluster.node(leader), id).is_some_and(|p| p.match_index == last)
        && cluster.node(id).log().applied == cluster.node(leader).log().applied
}

/// Runs a follower's ready loop by hand: returns each `Ready`, persisting nothing.
fn ready(raft: &mut Raft) -> Ready {
    assert!(raft.has_ready(), "node {} has nothing ready", raft.id());
    raft.ready()
}

/// Everything a node hands out until idle, acknowledging each write at once.
fn drain(raft: &mut Raft) -> (Vec<Message>, Vec<PersistRequest>, Vec<Snapshot>, Vec<Entry>) {
    let (mut messages, mut requests, mut snapshots, mut committed) = (vec![], vec![], vec![], vec![]);
    for _ in 0..100 {
        if !raft.has_ready() {
            return (messages, requests, snapshots, committed);
        }
        let ready = raft.ready();
        messages.extend(ready.messages);
        snapshots.extend(ready.snapshot);
        committed.extend(ready.committed);
        if let Some(request) = ready.persist {
            raft.persisted(request.token);
            requests.push(request);
        }
    }
    panic!("node {} never ran out of ready work", raft.id());
}

// ================================================================================================
// Compaction (section 7)
// ================================================================================================

#[test]
fn compaction_drops_applied_entries_and_keeps_the_term_of_the_last_one_7() {
    let mut cluster = Cluster::with_config(3, paper_config);
    let leader = cluster.elect_any();
    for i in 0..6 {
        cluster.propose(leader, &format!("p{i}"), b"x");
    }
    cluster.settle();
    let applied = cluster.node(leader).log().applied;
    let term = cluster.node(leader).log().term(applied - 2).unwrap();
    let index = applied - 2;
    let data = encode_items(&cluster.applied_data(leader));
    cluster.node_mut(leader).compact(index, data.into()).unwrap();
    let log = cluster.node(leader).log();
    assert_eq!((log.snapshot_index(), log.first_index()), (index, index + 1));
    assert_eq!(log.term(index), Some(term), "the term of the last compacted entry is kept");
    assert_eq!(log.entry(index), None, "its entry is gone");
    assert_eq!(log.term(index - 1), None, "and so is everything before it");
    assert!(log.entry(index + 1).is_some(), "entries after it stay");
    let snapshot = cluster.node(leader).snapshot().unwrap();
    assert_eq!((snapshot.meta.index, snapshot.meta.term), (index, term));
    assert_eq!(cluster.node(leader).stats().compactions, 1);
}

#[test]
fn compact_refuses_an_unapplied_or_already_compacted_index() {
    let mut cluster = Cluster::with_config(1, paper_config);
    cluster.elect_any();
    cluster.propose(1, "a", b"1");
    cluster.settle();
    let applied = cluster.node(1).log().applied;
    let raft = cluster.node_mut(1);
    assert_eq!(
        raft.compact(applied + 1, Payload::from(&b""[..])),
        Err(CompactError::NotApplied { index: applied + 1, applied })
    );
    raft.compact(applied, Payload::from(&b""[..])).unwrap();
    assert_eq!(
        raft.compact(applied, Payload::from(&b""[..])),
        Err(CompactError::AlreadyCompacted { index: applied, snapshot_index: applied })
    );
    assert_eq!(
        raft.compact(0, Payload::from(&b""[..])),
        Err(CompactError::AlreadyCompacted { index: 0, snapshot_index: applied })
    );
}

#[test]
fn log_matching_check_works_at_the_compaction_boundary_7() {
    // A follower compacted up to 5 (term 1) accepts an append whose previous entry is exactly that point, and refuses
    // one that claims another term there.
    let voters = [1, 2, 3];
    let mut follower = node(paper_config(2), compacted_state(&voters, 1, 5, 5, 5));
    let good = msg(1, 2, 2, MessageBody::Append { prev_index: 5, prev_term: 1, entries: vec![entry(6, 2)], commit: 5 });
    follower.step(good).unwrap();
    let (messages, ..) = drain(&mut follower);
    assert!(messages.iter().any(|m| matches!(m.body, MessageBody::AppendReply { success: true, index: 6, .. })));
    let mut follower = node(paper_config(2), compacted_state(&voters, 1, 5, 5, 5));
    let bad = msg(1, 2, 3, MessageBody::Append { prev_index: 5, prev_term: 2, entries: vec![entry(6, 3)], commit: 5 });
    follower.step(bad).unwrap();
    let (messages, ..) = drain(&mut follower);
    assert!(messages.iter().any(|m| matches!(m.body, MessageBody::AppendReply { success: false, index: 5, .. })));
    assert_eq!(follower.log().last_index(), 5, "nothing of the mismatching append was taken");
    // Below the boundary, the follower knows no terms, but everything there is committed and so matches.
    let below = msg(1, 2, 3, MessageBody::Append { prev_index: 3, prev_term: 1, entries: entries(4, 6, 1), commit: 5 });
    follower.step(below).unwrap();
    let (messages, ..) = drain(&mut follower);
    assert!(messages.iter().any(|m| matches!(m.body, MessageBody::AppendReply { success: true, index: 5, .. })));
}

#[test]
fn a_retried_proposal_whose_entry_was_compacted_commits_only_once() {
    // Compaction keeps proposal ids for `proposal_id_window` entries, so a late retry is still recognised.
    let mut cluster = Cluster::with_config(1, paper_config);
    cluster.elect_any();
    cluster.propose(1, "once", b"1");
    cluster.settle();
    cluster.compact(1);
    cluster.node_mut(1).propose(Arc::from("once"), Arc::from(&b"1"[..])).unwrap();
    cluster.settle();
    assert_eq!(cluster.applied_data(1), vec![b"1".to_vec()]);
    assert_eq!(cluster.node(1).stats().duplicate_proposals, 1);

    // With a window of 0, ids go with their entries.
    let mut cluster = Cluster::with_config(1, |id| Config { proposal_id_window: 0, ..paper_config(id) });
    cluster.elect_any();
    cluster.propose(1, "once", b"1");
    cluster.settle();
    cluster.compact(1);
    cluster.node_mut(1).propose(Arc::from("once"), Arc::from(&b"1"[..])).unwrap();
    cluster.settle();
    assert_eq!(cluster.applied_data(1), vec![b"1".to_vec(), b"1".to_vec()], "outside the window, a retry is new");
}

// ================================================================================================
// InstallSnapshot: when and how a leader sends it
// ================================================================================================

#[test]
fn leader_sends_a_snapshot_to_a_follower_whose_entries_were_compacted_7() {
    let mut cluster = cluster_with_compacted_leader(|_| {});
    let delivered = rounds_until(&mut cluster, 1, 100, |c| caught_up(c, 1, 3));
    let sent = chunks(&delivered);
    assert!(!sent.is_empty() && sent.iter().all(|&(from, to, ..)| (from, to) == (1, 3)));
    let follower = &cluster.nodes[&3];
    assert_eq!(follower.installed[0].meta.index, 5);
    assert_eq!(follower.installed[0], *cluster.node(1).snapshot().unwrap(), "the leader's snapshot, unchanged");
    assert_eq!(follower.raft.log().first_index(), 6);
    assert_eq!(cluster.applied_data(3), cluster.applied_data(1), "the same state machine, through the snapshot");
    assert_eq!(progress(cluster.node(1), 3).map(|p| p.match_index), Some(9));
    assert_eq!(cluster.node(1).stats().snapshots_sent, 1);
    assert_eq!(cluster.node(3).stats().snapshots_received, 1);
    assert_eq!(cluster.node(3).stats().snapshots_installed, 1);
}

#[test]
fn snapshot_chunks_are_at_most_max_message_bytes_and_few_are_in_flight() {
    let mut cluster = cluster_with_compacted_leader(|c| {
        c.max_message_bytes = 16;
        c.max_inflight_messages = 2;
    });
    let mut offsets = Vec::new();
    for delivered in rounds_until_by_round(&mut cluster, 1, 200, |c| installed(c, 3)) {
        let sent = chunks(&delivered);
        assert!(sent.len() <= 2, "at most max_inflight_messages chunks unconfirmed: {sent:?}");
        for &(_, _, offset, length, total) in &sent {
            assert!(length <= 16 && length > 0, "a chunk of {length} bytes");
            assert!(offset + length <= total);
            offsets.push(offset);
        }
    }
    assert!(installed(&cluster, 3));
    assert!(offsets.len() > 4, "the snapshot took several chunks");
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 16), "in order, each once: {offsets:?}");
}

#[test]
fn snapshot_chunks_in_flight_stay_within_max_inflight_bytes() {
    let mut cluster = cluster_with_compacted_leader(|c| {
        c.max_message_bytes = 16;
        c.max_inflight_bytes = 20;
    });
    let mut rounds_with_chunks = 0;
    for delivered in rounds_until_by_round(&mut cluster, 1, 200, |c| installed(c, 3)) {
        let sent = chunks(&delivered);
        assert!(sent.len() <= 1, "a second 16-byte chunk would pass 20 bytes in flight: {sent:?}");
        rounds_with_chunks += usize::from(!sent.is_empty());
    }
    assert!(installed(&cluster, 3));
    assert!(rounds_with_chunks > 4);
}

#[test]
fn lost_snapshot_chunk_is_resent_from_the_last_byte_received() {
    let mut cluster = cluster_with_compacted_leader(|c| {
        c.max_message_bytes = 16;
        c.max_inflight_messages = 2;
    });
    let mut dropped = false;
    let mut after_loss = Vec::new();
    let mut replies = Vec::new();
    for _ in 0..200 {
        if caught_up(&cluster, 1, 3) {
            break;
        }
        cluster.process_ready();
        if cluster.in_flight.is_empty() {
            cluster.node_mut(1).tick();
        }
        let delivered = round(&mut cluster, |m| {
            let lose = !dropped && matches!(&m.body, MessageBody::InstallSnapshot { offset: 16, .. });
            dropped |= lose;
            !lose
        });
        if dropped {
            after_loss.extend(chunks(&delivered));
            replies.extend(snapshot_replies(&delivered));
        }
    }
    assert!(dropped && installed(&cluster, 3));
    assert!(replies.iter().any(|&(_, received, done)| received == 16 && !done), "the follower said where it stands");
    let resent = after_loss.iter().find(|&&(_, _, offset, ..)| offset == 16).expect("the lost chunk came again");
    assert_eq!(resent.3, 16);
    assert_eq!(cluster.applied_data(3), cluster.applied_data(1));
}

#[test]
fn new_leader_resumes_a_snapshot_transfer_from_the_bytes_the_follower_received() {
    // Nodes 1 and 2 hold the same snapshot. Node 1 sends part of it to node 3 and is cut off; node 2 is elected and
    // starts the same snapshot from offset 0, is told how much node 3 holds, and continues from there.
    // One chunk in flight, so that the new leader's second chunk follows the follower's first answer.
    let mut cluster = cluster_with_compacted_leader(|c| {
        c.max_message_bytes = 16;
        c.max_inflight_messages = 1;
    });
    let mut received_from_first = 0;
    for _ in 0..100 {
        cluster.process_ready();
        if cluster.in_flight.is_empty() {
            cluster.node_mut(1).tick();
        }
        let delivered = round(&mut cluster, |_| true);
        if let Some(&(_, received, _)) = snapshot_replies(&delivered).iter().max_by_key(|r| r.1) {
            received_from_first = received_from_first.max(received);
        }
        if received_from_first >= 48 {
            break;
        }
    }
    assert!(received_from_first >= 48 && !installed(&cluster, 3));
    cluster.isolated = vec![1];
    cluster.in_flight.clear();
    cluster.node_mut(2).campaign();
    let delivered = rounds_until(&mut cluster, 2, 200, |c| c.node(2).role() == Role::Leader && caught_up(c, 2, 3));
    let from_second: Vec<u64> = chunks(&delivered).iter().filter(|c| c.0 == 2).map(|c| c.2).collect();
    assert_eq!(from_second[0], 0, "the new leader starts at the beginning: {from_second:?}");
    assert!(
        from_second[1..].iter().all(|&offset| offset >= received_from_first),
        "then skips what the follower holds ({received_from_first} bytes): {from_second:?}"
    );
    assert_eq!(cluster.applied_data(3), cluster.applied_data(2));
}

#[test]
fn replicating_follower_whose_send_point_was_compacted_gets_the_snapshot() {
    // Node 3 is replicating when it is cut off; its next append is lost, and the leader compacts past it. A heartbeat
    // reply would make the leader send an empty append at the send point, whose term it no longer knows: it falls
    // back to probing, and so to the snapshot.
    let mut cluster = Cluster::with_config(3, |id| Config { max_inflight_messages: 1, ..paper_config(id) });
    assert!(cluster.elect(1));
    cluster.propose(1, "a", b"a");
    cluster.settle();
    assert_eq!(progress(cluster.node(1), 3).map(|p| p.replicating), Some(true), "replicating");
    cluster.isolated = vec![3];
    for i in 0..6 {
        cluster.propose(1, &format!("b{i}"), b"b");
        cluster.settle();
    }
    cluster.compact(1);
    cluster.compact(2);
    let peer = progress(cluster.node(1), 3).unwrap();
    let (matched, next, replicating) = (peer.match_index, peer.next_index, peer.replicating);
    assert!(replicating && next - 1 < cluster.node(1).log().snapshot_index() && matched < next - 1);
    cluster.isolated.clear();
    let delivered = rounds_until(&mut cluster, 1, 100, |c| caught_up(c, 1, 3));
    assert!(!chunks(&delivered).is_empty());
    assert_eq!(cluster.applied_data(3), cluster.applied_data(1));
}

#[test]
fn leader_resends_the_last_chunk_when_the_done_reply_is_lost() {
    let mut cluster = cluster_with_compacted_leader(|_| {});
    let mut lost_done = false;
    for _ in 0..100 {
        if progress(cluster.node(1), 3).is_some_and(|p| p.match_index == 9) {
            break;
        }
        cluster.process_ready();
        if cluster.in_flight.is_empty() {
            cluster.node_mut(1).tick();
        }
        round(&mut cluster, |m| {
            let lose = !lost_done && matches!(m.body, MessageBody::SnapshotReply { done: true, .. });
            lost_done |= lose;
            !lose
        });
    }
    assert!(lost_done);
    assert_eq!(progress(cluster.node(1), 3).map(|p| p.match_index), Some(9), "the follower caught up after all");
    assert_eq!(cluster.nodes[&3].installed.len(), 1, "installed once; the resent chunk was answered `done` at once");
}

// ================================================================================================
// InstallSnapshot: the follower's side
// ================================================================================================

/// The complete chunk sequence node 1 (snapshot at 8, term 1, entries 9..=12, leading term 2) sends to a new node
/// 2, captured from a real transfer.
fn captured_chunks(max_message_bytes: u64) -> Vec<Message> {
    let voters = [1, 2, 3];
    let config = |id| Config { max_message_bytes, ..paper_config(id) };
    let mut cluster = Cluster::from_states([
        (config(1), compacted_state(&voters, 1, 8, 12, 12)),
        (config(2), RestoredState::new_cluster(voters)),
        (config(3), compacted_state(&voters, 1, 8, 12, 12)),
    ]);
    cluster.isolated = vec![3];
    cluster.node_mut(1).campaign();
    let mut captured = Vec::new();
    cluster.settle_with(|m| {
        if matches!(m.body, MessageBody::InstallSnapshot { .. }) {
            captured.push(m.clone());
        }
        Some(m)
    });
    assert!(installed(&cluster, 2) && cluster.node(1).role() == Role::Leader);
    captured
}

/// The captured chunks, readdressed to `to`.
fn chunks_to(to: NodeId, max_message_bytes: u64) -> Vec<Message> {
    captured_chunks(max_message_bytes).into_iter().map(|m| Message { to, ..m }).collect()
}

#[test]
fn follower_holding_the_snapshot_last_entry_keeps_the_entries_after_it_7() {
    // Figure 13, step 6: "If existing log entry has same index and term as snapshot's last included entry, retain
    // log entries following it and reply".
    let voters = [1, 2, 3];
    let mut follower = node(paper_config(3), log_state(&voters, 1, 3, entries(1, 12, 1)));
    for chunk in chunks_to(3, 1 << 20) {
        follower.step(chunk).unwrap();
    }
    let log = follower.log();
    assert_eq!((log.snapshot_index(), log.first_index(), log.last_index()), (8, 9, 12));
    assert_eq!(log.committed, 8);
    let first = ready(&mut follower);
    let request = first.persist.expect("the snapshot is persisted");
    assert_eq!(request.snapshot.as_ref().map(|s| s.meta.index), Some(8));
    let rewritten: Vec<Index> = request.entries.iter().map(|e| e.index).collect();
    assert_eq!(rewritten, vec![9, 10, 11, 12], "the kept entries are written again after the snapshot");
}

#[test]
fn follower_whose_entry_at_the_snapshot_index_differs_discards_its_log_7() {
    // Figure 13, step 7: "Discard the entire log".
    let voters = [1, 2, 3];
    let mut log = entries(1, 7, 1);
    log.extend((8..=10).map(|index| entry(index, 2)));
    let mut follower = node(paper_config(3), log_state(&voters, 2, 3, log));
    let chunks: Vec<Message> = chunks_to(3, 1 << 20).into_iter().map(|m| Message { term: 3, ..m }).collect();
    for chunk in chunks {
        follower.step(chunk).unwrap();
    }
    let log = follower.log();
    assert_eq!((log.snapshot_index(), log.last_index(), log.last_term()), (8, 8, 1));
    let request = ready(&mut follower).persist.expect("the snapshot is persisted");
    assert!(request.snapshot.is_some() && request.entries.is_empty());
}

#[test]
fn done_reply_and_restore_wait_until_the_snapshot_is_persisted() {
    // The follower says it holds the snapshot only once it is durable, and the application restores it then,
    // before the entries after it.
    let voters = [1, 2, 3];
    let mut follower = node(paper_config(3), log_state(&voters, 1, 3, entries(1, 12, 1)));
    for chunk in chunks_to(3, 1 << 20) {
        follower.step(chunk).unwrap();
    }
    // The leader also says entries up to 12 are committed.
    let commit = MessageBody::Append { prev_index: 12, prev_term: 1, entries: vec![], commit: 12 };
    follower.step(msg(1, 3, 2, commit)).unwrap();
    let first = ready(&mut follower);
    let token = first.persist.as_ref().unwrap().token;
    assert!(snapshot_replies(&first.messages).is_empty(), "no reply before the write: {:?}", first.messages);
    assert!(first.snapshot.is_none() && first.committed.is_empty(), "nothing to apply before the write");
    assert!(!follower.has_ready(), "and nothing more until the write is acknowledged");
    follower.persisted(token);
    let second = ready(&mut follower);
    assert_eq!(snapshot_replies(&second.messages), vec![(8, snapshot_replies_total(&second.messages), true)]);
    assert_eq!(second.snapshot.as_ref().map(|s| s.meta.index), Some(8), "restore the snapshot");
    let applied: Vec<Index> = second.committed.iter().map(|e| e.index).collect();
    assert_eq!(applied, vec![9, 10, 11, 12], "then the entries after it");
    assert_eq!(decode_items(&second.snapshot.unwrap().data).len(), 8);
}

fn snapshot_replies_total(messages: &[Message]) -> u64 {
    snapshot_replies(messages).first().map_or(0, |r| r.1)
}

#[test]
fn follower_whose_commit_covers_the_snapshot_answers_done_at_once() {
    let voters = [1, 2, 3];
    let mut follower = node(paper_config(3), log_state(&voters, 1, 10, entries(1, 12, 1)));
    let chunk = chunks_to(3, 16).into_iter().nth(1).expect("a chunk in the middle");
    follower.step(chunk).unwrap();
    let (messages, requests, snapshots, _) = drain(&mut follower);
    assert!(matches!(snapshot_replies(&messages)[..], [(8, _, true)]), "{messages:?}");
    assert!(requests.iter().all(|r| r.snapshot.is_none()) && snapshots.is_empty(), "nothing installed");
    assert_eq!(follower.log().first_index(), 1, "the log is untouched");
}

#[test]
fn follower_answers_an_out_of_order_chunk_with_what_it_holds() {
    let voters = [1, 2, 3];
    let mut follower = node(paper_config(3), RestoredState::new_cluster(voters));
    let chunks = chunks_to(3, 16);
    follower.step(chunks[0].clone()).unwrap();
    follower.step(chunks[2].clone()).unwrap();
    follower.step(chunks[0].clone()).unwrap();
    let (messages, ..) = drain(&mut follower);
    assert_eq!(snapshot_replies(&messages), vec![(8, 16, false), (8, 16, false), (8, 16, false)]);
}

#[test]
fn follower_proposal_held_in_a_received_snapshot_is_settled() {
    // Node 3 proposes, the proposal commits while node 3 is cut off, and the others compact past it: node 3 learns
    // of the commit only through the snapshot, and must neither keep nor retry the proposal.
    let mut cluster = Cluster::with_config(3, paper_config);
    assert!(cluster.elect(1));
    cluster.propose(3, "from-3", b"p");
    cluster.process_ready();
    let forwarded: Vec<Message> = cluster.in_flight.drain(..).filter(|m| m.from == 3).collect();
    cluster.isolated = vec![3];
    for message in forwarded {
        cluster.node_mut(1).step(message).unwrap();
    }
    for i in 0..5 {
        cluster.propose(1, &format!("more{i}"), b"m");
    }
    cluster.settle();
    cluster.compact(1);
    cluster.compact(2);
    assert_eq!(cluster.node(3).pending_proposals(), 1);
    cluster.isolated.clear();
    for _ in 0..10 {
        cluster.tick_all();
    }
    assert!(installed(&cluster, 3));
    assert_eq!(cluster.node(3).pending_proposals(), 0, "the snapshot's ids settled it");
    for _ in 0..30 {
        cluster.tick_all();
    }
    let state = cluster.applied_data(1);
    assert_eq!(state.iter().filter(|d| d.as_slice() == b"p").count(), 1, "committed once: {state:?}");
    assert_eq!(cluster.applied_data(3), state);
}

// ================================================================================================
// Restart from a snapshot
// ================================================================================================

#[test]
fn restored_snapshot_is_where_the_log_starts() {
    let voters = [1, 2, 3];
    let mut raft = node(paper_config(1), compacted_state(&voters, 1, 5, 8, 7));
    let log = raft.log();
    assert_eq!(
        (log.snapshot_index(), log.first_index(), log.last_index(), log.applied, log.committed),
        (5, 6, 8, 5, 7)
    );
    assert_eq!(log.term(5), Some(1));
    let (_, _, snapshots, committed) = drain(&mut raft);
    assert!(snapshots.is_empty(), "the application restored the snapshot itself at start");
    let applied: Vec<Index> = committed.iter().map(|e| e.index).collect();
    assert_eq!(applied, vec![6, 7], "then the log after it is replayed up to the commit index");
}

#[test]
fn restored_snapshot_brings_its_membership() {
    let mut state = compacted_state(&[1, 2, 3], 1, 5, 5, 5);
    state.membership = Membership::with_voters([1, 9]);
    let raft = node(paper_config(1), state);
    assert_eq!(raft.membership(), &Membership::with_voters([1, 2, 3]));
}

#[test]
fn restored_entries_covered_by_the_snapshot_are_ignored() {
    // A crash after a received snapshot was written but before the log was replaced leaves the old log behind it.
    let voters = [1, 2, 3];
    let mut state = compacted_state(&voters, 1, 5, 5, 5);
    state.entries = entries(1, 8, 1);
    let raft = node(paper_config(1), state.clone());
    assert_eq!((raft.log().first_index(), raft.log().last_index()), (6, 8), "the same history: kept after 5");
    state.entries = entries(1, 4, 1).into_iter().chain((5..=8).map(|i| entry(i, 2))).collect();
    state.hard_state.term = 2;
    let raft = node(paper_config(1), state);
    assert_eq!(raft.log().last_index(), 5, "another history at the snapshot's index: all dropped");
}

#[test]
fn crashed_node_restarts_from_its_snapshot_then_its_log() {
    let mut cluster = Cluster::with_config(3, paper_config);
    let leader = cluster.elect_any();
    for i in 0..5 {
        cluster.propose(leader, &format!("a{i}"), b"a");
    }
    cluster.settle();
    cluster.compact(2);
    for i in 0..3 {
        cluster.propose(leader, &format!("b{i}"), b"b");
    }
    cluster.settle();
    let before = cluster.applied_data(2);
    cluster.restart(2, paper_config(2));
    assert_eq!(cluster.nodes[&2].storage.snapshot_index(), cluster.node(2).log().snapshot_index());
    for _ in 0..5 {
        cluster.tick_all();
    }
    assert_eq!(cluster.applied_data(2), before, "snapshot restored, then the log replayed");
}

// ================================================================================================
// Untrusted input
// ================================================================================================

#[test]
fn malformed_snapshot_messages_are_dropped_and_counted() {
    let voters = [1, 2, 3];
    let good = match chunks_to(3, 16).into_iter().next().unwrap().body {
        MessageBody::InstallSnapshot { meta, total, .. } => (*meta, total),
        _ => unreachable!(),
    };
    let (meta, total) = good;
    let install = |meta: SnapshotMeta, offset: u64, total: u64, chunk: &[u8]| MessageBody::InstallSnapshot {
        meta: Box::new(meta),
        offset,
        total,
        chunk: Payload::from(chunk),
    };
    let with = |change: &dyn Fn(&mut SnapshotMeta)| {
        let mut meta = meta.clone();
        change(&mut meta);
        meta
    };
    let bad_bodies = vec![
        install(with(&|m| m.index = 0), 0, total, b"x"),
        install(with(&|m| m.term = 0), 0, total, b"x"),
        install(with(&|m| m.term = 3), 0, total, b"x"), // above the message's term
        install(with(&|m| m.membership = Membership::default()), 0, total, b"x"),
        install(
            with(&|m| {
                m.membership.voters.insert(0);
            }),
            0,
            total,
            b"x",
        ),
        install(meta.clone(), 0, MAX_SNAPSHOT_BYTES + 1, b"x"),
        install(meta.clone(), total + 1, total, b""),
        install(meta.clone(), total - 1, total, b"xy"),
        install(meta.clone(), u64::MAX, total, b"xy"),
        install(meta.clone(), 3, total, b""),
    ];
    let mut follower = node(paper_config(3), RestoredState::new_cluster(voters));
    for (n, body) in bad_bodies.into_iter().enumerate() {
        assert_eq!(follower.step(msg(1, 3, 2, body)), Err(DropReason::Malformed), "message {n}");
    }
    assert_eq!(follower.stats().dropped_malformed, 10);
    assert_eq!(follower.log().last_index(), 0);

    // A complete stream that is not a snapshot: the bytes are dropped and the transfer starts again.
    let garbage = install(meta.clone(), 0, 5, b"hello");
    assert_eq!(follower.step(msg(1, 3, 2, garbage)), Err(DropReason::Malformed));
    let (messages, ..) = drain(&mut follower);
    assert_eq!(snapshot_replies(&messages), vec![(meta.index, 0, false)]);

    // On the leader: replies with impossible numbers.
    let mut cluster = cluster_with_compacted_leader(|_| {});
    rounds_until(&mut cluster, 1, 50, |c| progress(c.node(1), 3).and_then(|p| p.snapshot_transfer).is_some());
    let transfer = progress(cluster.node(1), 3).and_then(|p| p.snapshot_transfer).unwrap();
    let (index, total) = (transfer.index, transfer.total_bytes);
    let term = cluster.node(1).term();
    let leader = cluster.node_mut(1);
    let replies = [
        MessageBody::SnapshotReply { index: 0, received: 0, done: false },
        MessageBody::SnapshotReply { index, received: MAX_SNAPSHOT_BYTES + 1, done: false },
        MessageBody::SnapshotReply { index, received: total + 1, done: false },
        MessageBody::SnapshotReply { index: 1000, received: 0, done: true },
    ];
    for (n, body) in replies.into_iter().enumerate() {
        assert_eq!(leader.step(msg(3, 1, term, body)), Err(DropReason::Malformed), "reply {n}");
    }
    assert_eq!(leader.role(), Role::Leader);
    assert_eq!(
        progress(leader, 3).and_then(|p| p.snapshot_transfer).map(|t| t.index),
        Some(index),
        "the transfer goes on"
    );
}

/// What a refused snapshot must leave as it was: the hard state and the log's bounds, commit and applied indices.
fn state_of(raft: &Raft) -> (HardState, Index, Index, Index, Index) {
    let log = raft.log();
    (raft.hard_state(), log.snapshot_index(), log.last_index(), log.committed, log.applied)
}

#[test]
fn a_snapshot_whose_data_the_driver_refuses_leaves_the_follower_as_it_was() {
    // A snapshot is checked whole (the stream, then the data, by the driver's `accept_snapshot_data`) before
    // anything acts on it. A refused one is not installed, persisted or restored: the log, the commit index and
    // the hard state are as they were, the chunk that completed it is counted as malformed, and the leader is
    // told the follower holds nothing (not done), so the transfer starts over.
    let voters = [1, 2, 3];
    let refusing = Config { accept_snapshot_data: |_, _| false, ..paper_config(3) };
    let mut follower = node(refusing, log_state(&voters, 2, 3, entries(1, 5, 1)));
    drain(&mut follower);
    let before = state_of(&follower);
    let chunks = chunks_to(3, 16);
    let last = chunks.len() - 1;
    for (n, chunk) in chunks.iter().cloned().enumerate() {
        let expected = if n == last { Err(DropReason::Malformed) } else { Ok(()) };
        assert_eq!(follower.step(chunk), expected, "chunk {n}");
    }
    let (messages, requests, snapshots, committed) = drain(&mut follower);
    assert!(requests.is_empty() && snapshots.is_empty() && committed.is_empty(), "{requests:?} {snapshots:?}");
    assert_eq!(snapshot_replies(&messages).last(), Some(&(8, 0, false)), "not done; start over");
    assert_eq!(state_of(&follower), before);
    assert_eq!((follower.stats().dropped_malformed, follower.stats().snapshots_received), (1, 0));

    // From the leader of a newer term, a chunk that completes a refused snapshot changes nothing either: the
    // snapshot is checked before the term is adopted, so the term, the vote and the leader stay as they were.
    let mut state = log_state(&voters, 1, 3, entries(1, 5, 1));
    state.hard_state.vote = Some(2);
    let mut follower = node(Config { accept_snapshot_data: |_, _| false, ..paper_config(3) }, state);
    drain(&mut follower);
    let whole = chunks_to(3, 1 << 20);
    assert_eq!(whole.len(), 1, "one chunk holds the whole snapshot");
    let before = (state_of(&follower), follower.leader(), follower.role());
    assert_eq!(follower.step(whole[0].clone()), Err(DropReason::Malformed));
    let (messages, requests, ..) = drain(&mut follower);
    assert!(requests.is_empty(), "{requests:?}");
    assert_eq!(snapshot_replies(&messages), vec![(8, 0, false)]);
    assert_eq!((state_of(&follower), follower.leader(), follower.role()), before);
    assert_eq!(follower.hard_state(), HardState { term: 1, vote: Some(2), commit: 3 });

    // The check sees the snapshot's meta and the application's data; one it accepts is installed.
    let accepting = |meta: &SnapshotMeta, data: &[u8]| meta.index == 8 && decode_items(data).len() == 8;
    let config = Config { accept_snapshot_data: accepting, ..paper_config(3) };
    let mut follower = node(config, log_state(&voters, 2, 3, vec![]));
    for chunk in chunks {
        follower.step(chunk).unwrap();
    }
    assert_eq!((follower.stats().snapshots_received, follower.log().snapshot_index()), (1, 8));
}

#[test]
fn a_follower_buffers_no_snapshot_larger_than_max_snapshot_bytes() {
    // What a leader can make a follower hold is bounded by the snapshot size limit, 1 GiB: a transfer of a larger
    // total is refused at its first chunk, and counted. At the limit the chunk is taken.
    assert_eq!(MAX_SNAPSHOT_BYTES, 1 << 30);
    let voters = [1, 2, 3];
    let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::with_voters(voters) };
    let first_chunk = |total: u64| MessageBody::InstallSnapshot {
        meta: Box::new(meta.clone()),
        offset: 0,
        total,
        chunk: Payload::from(&b"flsnap01"[..]),
    };
    let mut follower = node(paper_config(3), RestoredState::new_cluster(voters));
    assert_eq!(follower.step(msg(1, 3, 2, first_chunk((1 << 30) + 1))), Err(DropReason::Malformed));
    assert_eq!(follower.stats().dropped_malformed, 1);
    assert_eq!(follower.step(msg(1, 3, 2, first_chunk(1 << 30))), Ok(()));
    let (messages, ..) = drain(&mut follower);
    assert_eq!(snapshot_replies(&messages), vec![(8, 8, false)]);
}

#[test]
fn stale_snapshot_chunk_tells_an_old_leader_the_new_term() {
    let voters = [1, 2, 3];
    let mut follower = node(Config::new(3), log_state(&voters, 5, 0, vec![]));
    let chunk = chunks_to(3, 16).into_iter().next().unwrap();
    follower.step(chunk).unwrap();
    let (messages, ..) = drain(&mut follower);
    assert!(messages.iter().any(|m| m.term == 5 && matches!(m.body, MessageBody::AppendReply { success: false, .. })));
}
