//! The rules of section 5 of the Raft paper (Ongaro and Ousterhout, 2014), and of the extensions this core adds,
//! one test per rule, in the spirit of etcd-io/raft's `raft_paper_test.go`. Each test builds nodes in a known
//! state, drives them with hand-built messages (or a small in-memory cluster from the harness), and checks
//! the state and the output that the rule promises. Test names end with the paper section they check.

use flotilla_harness::{progress, Cluster, MemoryStorage};
use flotilla_raft::{
    Config, ConfigError, DropReason, Entry, EntryKind, HardState, Index, InjectedBug, Membership, Message, MessageBody,
    NodeId, PersistRequest, ProposeError, Raft, RestoredState, RestoredStateError, Role, SnapshotMeta, Term,
    TransferError, MAX_INDEX, MAX_STRANGER_TERM_STEP, MAX_TERM, MAX_TERM_STEP,
};
use std::collections::BTreeSet;
use std::sync::Arc;

// ---- building nodes ------------------------------------------------------------------------------------

/// The paper's plain Raft: no pre-vote and no check-quorum, so that each rule shows on its own.
fn paper_config(id: NodeId) -> Config {
    let mut config = Config::new(id);
    config.pre_vote = false;
    config.check_quorum = false;
    config
}

fn ids(size: u64) -> Vec<NodeId> {
    (1..=size).collect()
}

fn new_node(config: Config, voters: &[NodeId]) -> Raft {
    Raft::new(config, RestoredState::new_cluster(voters.iter().copied())).expect("valid node")
}

/// A user entry; its proposal id and data name its place, so that two logs can be compared entry by entry.
fn entry(index: Index, term: Term) -> Entry {
    Entry {
        term,
        index,
        kind: EntryKind::Normal,
        id: Some(Arc::from(format!("{index}@{term}"))),
        data: Arc::from(format!("data {index}@{term}").into_bytes()),
    }
}

/// Entries with the given terms, the first at index `first`.
fn entries(first: Index, terms: &[Term]) -> Vec<Entry> {
    terms.iter().enumerate().map(|(offset, &term)| entry(first + offset as Index, term)).collect()
}

fn restored(voters: &[NodeId], term: Term, vote: Option<NodeId>, commit: Index, log_terms: &[Term]) -> RestoredState {
    RestoredState {
        hard_state: HardState { term, vote, commit },
        membership: Membership::with_voters(voters.iter().copied()),
        entries: entries(1, log_terms),
        ..RestoredState::default()
    }
}

fn restored_node(config: Config, state: RestoredState) -> Raft {
    Raft::new(config, state).expect("valid restored node")
}

/// The terms of every entry of a node's log, in order.
fn log_terms(raft: &Raft) -> Vec<Term> {
    (1..=raft.log().last_index()).map(|index| raft.log().term(index).expect("entry exists")).collect()
}

/// Every entry of a node's log, in order.
fn log_entries(raft: &Raft) -> Vec<Entry> {
    (1..=raft.log().last_index()).map(|index| raft.log().entry(index).expect("entry exists").clone()).collect()
}

// ---- driving nodes -------------------------------------------------------------------------------------

/// Everything a node handed out while its ready work was drained.
#[derive(Default)]
struct Output {
    messages: Vec<Message>,
    committed: Vec<Entry>,
    requests: Vec<PersistRequest>,
}

impl Output {
    fn written_entries(&self) -> Vec<Entry> {
        self.requests.iter().flat_map(|request| request.entries.iter().cloned()).collect()
    }

    fn to(&self, to: NodeId) -> Vec<&Message> {
        self.messages.iter().filter(|m| m.to == to).collect()
    }

    /// The appends sent to `to`, as (prev_index, prev_term, entries, commit).
    fn appends_to(&self, to: NodeId) -> Vec<(Index, Term, Vec<Entry>, Index)> {
        self.to(to)
            .into_iter()
            .filter_map(|m| match &m.body {
                MessageBody::Append { prev_index, prev_term, entries, commit } => {
                    Some((*prev_index, *prev_term, entries.clone(), *commit))
                }
                _ => None,
            })
            .collect()
    }

    /// The appends to `to` that carry entries.
    fn entry_appends_to(&self, to: NodeId) -> Vec<Vec<Entry>> {
        self.appends_to(to).into_iter().map(|(_, _, entries, _)| entries).filter(|e| !e.is_empty()).collect()
    }

    /// The append replies sent, as (to, term, success, index, hint_index, hint_term).
    fn append_replies(&self) -> Vec<(NodeId, Term, bool, Index, Index, Term)> {
        self.messages
            .iter()
            .filter_map(|m| match m.body {
                MessageBody::AppendReply { success, index, hint_index, hint_term } => {
                    Some((m.to, m.term, success, index, hint_index, hint_term))
                }
                _ => None,
            })
            .collect()
    }

    /// The vote replies sent, as (to, term, granted).
    fn vote_replies(&self) -> Vec<(NodeId, Term, bool)> {
        self.messages
            .iter()
            .filter_map(|m| match m.body {
                MessageBody::VoteReply { granted } => Some((m.to, m.term, granted)),
                _ => None,
            })
            .collect()
    }

    fn pre_vote_replies(&self) -> Vec<(NodeId, Term, bool)> {
        self.messages
            .iter()
            .filter_map(|m| match m.body {
                MessageBody::PreVoteReply { granted } => Some((m.to, m.term, granted)),
                _ => None,
            })
            .collect()
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.messages.iter().map(|m| m.body.kind_name()).collect()
    }
}

/// Runs the driver's loop with storage that is durable at once: ready, persist, acknowledge, until idle.
fn drain(raft: &mut Raft) -> Output {
    let mut out = Output::default();
    for _ in 0..100 {
        if !raft.has_ready() {
            return out;
        }
        let ready = raft.ready();
        out.messages.extend(ready.messages);
        out.committed.extend(ready.committed);
        if let Some(request) = ready.persist {
            raft.persisted(request.token);
            out.requests.push(request);
        }
    }
    panic!("the node never ran out of ready work");
}

/// Like `drain`, and also writes what was persisted into `storage`, for a later restart.
fn drain_into(raft: &mut Raft, storage: &mut MemoryStorage) -> Output {
    let out = drain(raft);
    for request in &out.requests {
        storage.write(request);
    }
    out
}

fn restart_from(config: Config, voters: &[NodeId], storage: &MemoryStorage) -> Raft {
    restored_node(config, storage.restored_state(Membership::with_voters(voters.iter().copied())))
}

fn msg(from: NodeId, to: NodeId, term: Term, body: MessageBody) -> Message {
    Message { from, to, term, body }
}

fn append(from: NodeId, to: NodeId, term: Term, prev: (Index, Term), entries: Vec<Entry>, commit: Index) -> Message {
    msg(from, to, term, MessageBody::Append { prev_index: prev.0, prev_term: prev.1, entries, commit })
}

fn heartbeat(from: NodeId, to: NodeId, term: Term) -> Message {
    msg(from, to, term, MessageBody::Heartbeat { commit: 0, read_round: 0 })
}

fn vote_request(from: NodeId, to: NodeId, term: Term, last: (Index, Term)) -> Message {
    msg(from, to, term, MessageBody::Vote { last_index: last.0, last_term: last.1, transfer: false })
}

fn vote_reply(from: NodeId, to: NodeId, term: Term, granted: bool) -> Message {
    msg(from, to, term, MessageBody::VoteReply { granted })
}

/// The reply of a follower that accepted an append completely.
fn accept(m: &Message) -> Message {
    let MessageBody::Append { prev_index, entries, .. } = &m.body else { panic!("not an append: {m:?}") };
    msg(
        m.to,
        m.from,
        m.term,
        MessageBody::AppendReply {
            success: true,
            index: prev_index + entries.len() as Index,
            hint_index: 0,
            hint_term: 0,
        },
    )
}

/// Steps the accepting reply of every append in `out` that goes to one of `acceptors`.
fn accept_appends(raft: &mut Raft, out: &Output, acceptors: &[NodeId]) {
    for m in out.messages.iter().filter(|m| acceptors.contains(&m.to)) {
        if matches!(m.body, MessageBody::Append { .. }) {
            raft.step(accept(m)).expect("the reply is accepted");
        }
    }
}

/// Campaigns and grants every (pre-)vote request until the node leads. Returns the new leader's first output.
fn elect(raft: &mut Raft) -> Output {
    raft.campaign();
    for _ in 0..4 {
        let out = drain(raft);
        if raft.role() == Role::Leader {
            return out;
        }
        for m in &out.messages {
            let body = match m.body {
                MessageBody::PreVote { .. } => MessageBody::PreVoteReply { granted: true },
                MessageBody::Vote { .. } => MessageBody::VoteReply { granted: true },
                _ => continue,
            };
            // Replies that arrive after the election is decided are ignored; that is fine here.
            let _ = raft.step(msg(m.to, m.from, m.term, body));
        }
    }
    panic!("node {} was not elected", raft.id());
}

/// A leader of `voters` whose no-op entry every follower has acknowledged, so that it is committed.
fn leader_with_committed_noop(config: Config, voters: &[NodeId]) -> Raft {
    let mut raft = new_node(config, voters);
    let out = elect(&mut raft);
    accept_appends(&mut raft, &out, voters);
    drain(&mut raft);
    assert_eq!(raft.log().committed, raft.log().last_index(), "the no-op committed");
    raft
}

fn propose(raft: &mut Raft, id: &str, data: &[u8]) {
    raft.propose(Arc::from(id), Arc::from(data)).expect("proposal accepted");
}

/// Ticks until the node leaves the follower role, and returns how many ticks that took.
fn ticks_until_campaign(raft: &mut Raft, limit: u32) -> u32 {
    for tick in 1..=limit {
        raft.tick();
        if raft.role() != Role::Follower {
            return tick;
        }
    }
    panic!("node {} did not campaign within {limit} ticks", raft.id());
}

// ================================================================================================
// 5.1 Raft basics
// ================================================================================================

#[test]
fn servers_start_as_followers_5_2() {
    // "When servers start up, they begin as followers" (5.2), whatever term they restart in (5.1).
    let fresh = new_node(paper_config(1), &[1, 2, 3]);
    assert_eq!((fresh.role(), fresh.term(), fresh.leader()), (Role::Follower, 0, None));
    let restarted = restored_node(paper_config(1), restored(&[1, 2, 3], 5, Some(1), 0, &[1, 5]));
    assert_eq!((restarted.role(), restarted.term(), restarted.vote()), (Role::Follower, 5, Some(1)));
}

#[test]
fn follower_updates_term_from_message_5_1() {
    // "If one server's current term is smaller than the other's, then it updates its current term to the larger value."
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, Some(3), 0, &[]));
    raft.step(append(2, 1, 2, (0, 0), vec![], 0)).unwrap();
    assert_eq!(raft.term(), 2);
    assert_eq!(raft.role(), Role::Follower);
    assert_eq!(raft.vote(), None, "a vote belongs to a term: the new term starts without one");
    assert_eq!(raft.leader(), Some(2));
    let out = drain(&mut raft);
    assert_eq!(out.requests[0].hard_state.unwrap().term, 2, "the new term is persisted");
}

#[test]
fn candidate_reverts_to_follower_on_newer_term_5_1() {
    // "If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.campaign();
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 1));
    // The reply itself means nothing to a follower; its term is what counts.
    let _ = raft.step(vote_reply(2, 1, 3, false));
    assert_eq!((raft.role(), raft.term()), (Role::Follower, 3));
}

#[test]
fn leader_reverts_to_follower_on_newer_term_5_1() {
    // A leader that discovers a newer term (here in an append from a newer leader) reverts to follower at once.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut raft);
    assert_eq!((raft.role(), raft.term()), (Role::Leader, 1));
    raft.step(append(3, 1, 2, (0, 0), vec![], 0)).unwrap();
    assert_eq!((raft.role(), raft.term(), raft.leader()), (Role::Follower, 2, Some(3)));
}

#[test]
fn request_with_stale_term_is_rejected_5_1() {
    // "If a server receives a request with a stale term number, it rejects the request" (and answers with its
    // current term, so that the stale leader updates itself and steps down).
    let mut stale_leader = new_node(paper_config(2), &[1, 2, 3]);
    elect(&mut stale_leader);
    assert_eq!(stale_leader.term(), 1);

    let mut config = paper_config(1);
    config.pre_vote = true; // the core answers stale appends when pre-vote or check-quorum is on
    let mut raft = restored_node(config, restored(&[1, 2, 3], 3, None, 0, &[1, 1]));
    raft.step(append(2, 1, 1, (0, 0), entries(1, &[1, 1, 1]), 1)).unwrap();
    raft.step(vote_request(3, 1, 2, (9, 2))).unwrap();
    assert_eq!(log_terms(&raft), vec![1, 1], "the stale append changed nothing");
    assert_eq!((raft.term(), raft.vote(), raft.leader(), raft.log().committed), (3, None, None, 0));

    let out = drain(&mut raft);
    assert_eq!(out.vote_replies(), vec![(3, 3, false)], "no vote for a stale candidate, and our term");
    let replies = out.append_replies();
    assert_eq!(replies.len(), 1);
    let (to, term, success, ..) = replies[0];
    assert_eq!((to, term, success), (2, 3, false));

    let reply = out.messages.into_iter().find(|m| m.to == 2).unwrap();
    let _ = stale_leader.step(reply);
    assert_eq!((stale_leader.role(), stale_leader.term()), (Role::Follower, 3));
}

#[test]
fn a_node_whose_term_is_raised_follows_no_one_in_it_and_answers_the_old_leader_with_it() {
    // gaggle's own tests set a follower's `_currentTerm`: as if it had heard of a later term (5.1).
    let mut config = paper_config(1);
    config.pre_vote = true;
    let mut follower = restored_node(config, restored(&[1, 2, 3], 2, Some(2), 0, &[1, 2]));
    follower.step(heartbeat(2, 1, 2)).unwrap();
    drain(&mut follower);
    assert!(!follower.raise_term(2), "not after the current term");
    assert!(!follower.raise_term(MAX_TERM), "a term in which no node could campaign again");
    assert!(!follower.raise_term(2 + MAX_TERM_STEP + 1), "further than a peer's message may move it");
    assert!(follower.raise_term(5));
    assert_eq!((follower.term(), follower.vote(), follower.leader(), follower.role()), (5, None, None, Role::Follower));
    follower.step(append(2, 1, 2, (2, 2), entries(3, &[2]), 2)).unwrap();
    let out = drain(&mut follower);
    assert_eq!(out.append_replies().iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>(), vec![(2, 5, false)]);
    assert_eq!(log_terms(&follower), vec![1, 2], "the old leader's append changed nothing");
}

#[test]
fn vote_request_with_stale_term_is_answered_false_with_the_current_term_figure_2() {
    // Figure 2, RequestVote, receiver implementation 1: "Reply false if term < currentTerm". The reply carries the
    // receiver's term, so the stale candidate learns it and steps down instead of waiting for an answer forever.
    // So in every role, with or without pre-vote and check-quorum, and in a leader's lease (which only holds off
    // candidates of a higher term); and only once the term it carries is durable.
    for config in [paper_config(1), Config::new(1)] {
        let mut follower = restored_node(config.clone(), restored(&[1, 2, 3], 4, Some(2), 0, &[1, 4]));
        follower.step(heartbeat(2, 1, 4)).unwrap();
        drain(&mut follower);
        follower.step(vote_request(3, 1, 2, (9, 2))).unwrap();
        let out = drain(&mut follower);
        assert_eq!(out.vote_replies(), vec![(3, 4, false)]);
        assert_eq!((follower.term(), follower.vote(), follower.role()), (4, Some(2), Role::Follower));

        let mut leader = new_node(config.clone(), &[1, 2, 3]);
        elect(&mut leader);
        elect_again(&mut leader);
        let term = leader.term();
        leader.step(vote_request(3, 1, term - 1, (0, 0))).unwrap();
        let out = drain(&mut leader);
        assert_eq!(out.vote_replies(), vec![(3, term, false)]);
        assert_eq!(leader.role(), Role::Leader);
    }
    // Held until the term is persisted: the node adopted term 5 in this same batch.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.step(heartbeat(2, 1, 5)).unwrap();
    raft.step(vote_request(3, 1, 4, (0, 0))).unwrap();
    let ready = raft.ready();
    assert!(ready.messages.iter().all(|m| !matches!(m.body, MessageBody::VoteReply { .. })), "sent before persisting");
    raft.persisted(ready.persist.expect("the new term is persisted").token);
    let replies: Vec<_> = raft.ready().messages.into_iter().filter(|m| m.to == 3).collect();
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].term, &replies[0].body), (5, &MessageBody::VoteReply { granted: false }));
}

/// Makes a leader win one more election, so that it leads in a term above 1.
fn elect_again(raft: &mut Raft) {
    let term = raft.term();
    raft.step(append(2, 1, term + 1, (0, 0), vec![], 0)).unwrap();
    drain(raft);
    elect(raft);
}

// ================================================================================================
// Limits: no message may lead a node to a term or index that a message cannot carry
// ================================================================================================

#[test]
fn a_message_raises_the_term_by_at_most_max_term_step() {
    // A term far above this node's own can only come from a broken or hostile peer: adopted, it would leave no
    // room for the elections that follow. Just below and at the step it is taken; above, dropped as malformed.
    for (term, taken) in [(1 + MAX_TERM_STEP - 1, true), (1 + MAX_TERM_STEP, true), (1 + MAX_TERM_STEP + 1, false)] {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[]));
        let result = raft.step(heartbeat(2, 1, term));
        if taken {
            assert_eq!((result, raft.term()), (Ok(()), term), "term {term}");
        } else {
            // Dropped and counted, and the node rises by the step, so that it is never cut off from peers
            // that are further ahead.
            assert_eq!((result, raft.term()), (Err(DropReason::Malformed), 1 + MAX_TERM_STEP), "term {term}");
            assert_eq!(raft.stats().dropped_malformed, 1);
        }
    }
    // The issue's message: a REQUEST_VOTE_REPLY in term 2^53 - 1 to a cluster in term 1.
    let mut raft = restored_node(Config::new(1), restored(&[1, 2, 3], 1, None, 0, &[]));
    assert_eq!(raft.step(vote_reply(2, 1, (1 << 53) - 1, false)), Err(DropReason::Malformed));
    assert_eq!(raft.term(), 1 + MAX_TERM_STEP);
}

#[test]
fn a_sender_no_configuration_holds_raises_the_term_by_at_most_max_stranger_term_step() {
    // Each message of a stranger far ahead raises the node by the smaller step only: the two million messages
    // that take a node to MAX_TERM by MAX_TERM_STEP move it no further than 2^29 here.
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[]));
    assert_eq!(raft.step(heartbeat(99, 1, 1 + MAX_TERM_STEP)), Err(DropReason::Malformed));
    assert_eq!(raft.term(), 1 + MAX_STRANGER_TERM_STEP);
    for _ in 0..(1 << 21) {
        let _ = raft.step(heartbeat(99, 1, MAX_TERM));
    }
    assert_eq!(raft.term(), 1 + MAX_STRANGER_TERM_STEP * ((1 << 21) + 1));
    // A member of the configuration still moves it by the whole step.
    let before = raft.term();
    assert_eq!(raft.step(heartbeat(2, 1, MAX_TERM)), Err(DropReason::Malformed));
    assert_eq!(raft.term(), before + MAX_TERM_STEP);
}

#[test]
fn a_joining_node_that_knows_no_member_takes_the_whole_term_step_from_its_leader() {
    // The leader that adds a joining node is in no configuration the joiner holds: were it held to the stranger's
    // step, a cluster far ahead in terms would take the joiner millions of heartbeats to reach.
    let mut joiner = Raft::new(paper_config(4), RestoredState { joining: true, ..RestoredState::default() }).unwrap();
    assert_eq!(joiner.step(heartbeat(1, 4, 2 * MAX_TERM_STEP)), Err(DropReason::Malformed));
    assert_eq!(joiner.term(), MAX_TERM_STEP);
    joiner.step(heartbeat(1, 4, 2 * MAX_TERM_STEP)).unwrap();
    assert_eq!((joiner.term(), joiner.leader()), (2 * MAX_TERM_STEP, Some(1)));
}

#[test]
fn a_node_far_behind_its_peers_terms_catches_up_instead_of_being_cut_off() {
    // Peers pushed (by a hostile term) far past this node's term: every message of theirs is too far ahead to be
    // taken, but each raises this node by the step, so a few heartbeats later it follows their leader again.
    let ahead = 1 + 5 * MAX_TERM_STEP + 7;
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[]));
    let mut heartbeats = 0;
    while raft.step(heartbeat(2, 1, ahead)).is_err() {
        heartbeats += 1;
        assert!(heartbeats <= 5, "still refused at term {}", raft.term());
    }
    assert_eq!((heartbeats, raft.term(), raft.role()), (5, ahead, Role::Follower));
    // A pre-vote never changes a term, however far ahead it is.
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[]));
    let pre_vote = msg(2, 1, ahead, MessageBody::PreVote { last_index: 0, last_term: 0 });
    assert_eq!((raft.step(pre_vote), raft.term()), (Err(DropReason::Malformed), 1));
}

#[test]
fn a_node_at_the_max_term_never_campaigns() {
    // The next term could not be sent, so a node in MAX_TERM refuses to start an election (counted), on its
    // timer, when asked to, and on a transfer; one term below, it campaigns into MAX_TERM.
    for pre_vote in [false, true] {
        let mut config = paper_config(1);
        config.pre_vote = pre_vote;
        let mut below = restored_node(config.clone(), restored(&[1, 2, 3], MAX_TERM - 1, None, 0, &[]));
        let out = elect(&mut below);
        assert_eq!((below.role(), below.term()), (Role::Leader, MAX_TERM), "{:?}", out.kinds());

        let mut at = restored_node(config.clone(), restored(&[1, 2, 3], MAX_TERM, None, 0, &[]));
        at.campaign();
        for _ in 0..3 * config.election_ticks_max {
            at.tick();
        }
        at.step(heartbeat(2, 1, MAX_TERM)).unwrap();
        at.step(msg(2, 1, MAX_TERM, MessageBody::TimeoutNow)).unwrap();
        let out = drain(&mut at);
        assert!(out.messages.iter().all(|m| m.term <= MAX_TERM), "{:?}", out.messages);
        assert!(out.kinds().iter().all(|kind| !kind.contains("Vote")), "{:?}", out.kinds());
        assert_eq!((at.role(), at.term()), (Role::Follower, MAX_TERM));
        assert!(at.stats().elections_refused >= 3, "{:?}", at.stats());
        assert_eq!(at.stats().elections_started, 0);
    }
}

/// Every message that carries an index, with that index set to `index`, from a leader of term 2 to node 1.
fn messages_carrying_index(index: Index) -> Vec<Message> {
    let snapshot = |index| MessageBody::InstallSnapshot {
        meta: Box::new(SnapshotMeta { index, term: 1, membership: Membership::with_voters([1, 2, 3]) }),
        offset: 0,
        // The first chunk of a longer stream, so that what is judged is the index, not the stream.
        total: 20,
        chunk: Arc::from(&b"0123456789"[..]),
    };
    vec![
        msg(2, 1, 2, MessageBody::Vote { last_index: index, last_term: 1, transfer: false }),
        msg(2, 1, 2, MessageBody::PreVote { last_index: index, last_term: 1 }),
        append(2, 1, 2, (index, 1), vec![], 0),
        append(2, 1, 2, (index - 1, 1), vec![entry(index, 2)], 0),
        append(2, 1, 2, (0, 0), vec![], index),
        msg(2, 1, 2, MessageBody::Heartbeat { commit: index, read_round: 0 }),
        msg(2, 1, 2, MessageBody::AppendReply { success: false, index, hint_index: 0, hint_term: 0 }),
        msg(2, 1, 2, MessageBody::AppendReply { success: false, index, hint_index: index, hint_term: 0 }),
        msg(2, 1, 2, snapshot(index)),
        msg(2, 1, 2, MessageBody::SnapshotReply { index, received: 0, done: false }),
    ]
}

#[test]
fn every_index_a_message_carries_is_at_most_max_index() {
    // MAX_INDEX leaves half of what a message can carry as room above any accepted index. Just below and at the
    // limit a message is judged on its merits (it may still be refused, but not as malformed); above, it is
    // malformed, whatever the field.
    for (index, malformed) in [(MAX_INDEX - 1, false), (MAX_INDEX, false), (MAX_INDEX + 1, true)] {
        for message in messages_carrying_index(index) {
            let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[]));
            let described = format!("{message:?}");
            let result = raft.step(message);
            assert_eq!(result == Err(DropReason::Malformed), malformed, "index {index}: {described} -> {result:?}");
        }
    }
}

#[test]
fn a_full_log_takes_no_proposal_and_its_node_does_not_campaign() {
    // A log that reached MAX_INDEX (only a hostile leader's snapshot could take it there) grows no further:
    // proposals are refused with a clear error, and the node does not lead (a leader appends a no-op entry).
    let full = RestoredState {
        hard_state: HardState { term: 2, vote: None, commit: MAX_INDEX },
        snapshot: Some(flotilla_raft::Snapshot {
            meta: SnapshotMeta { index: MAX_INDEX, term: 2, membership: Membership::with_voters([1, 2, 3]) },
            ..Default::default()
        }),
        ..RestoredState::default()
    };
    let mut raft = restored_node(paper_config(1), full);
    assert_eq!(raft.propose(Arc::from("p"), Arc::from(&b"x"[..])), Err(ProposeError::LogFull { limit: MAX_INDEX }));
    raft.campaign();
    assert_eq!((raft.role(), raft.term(), raft.stats().elections_refused), (Role::Follower, 2, 1));
}

#[test]
fn a_restored_state_beyond_the_limits_is_refused() {
    let above_term = restored(&[1, 2, 3], MAX_TERM + 1, None, 0, &[]);
    assert!(Raft::new(paper_config(1), above_term).is_err());
    let mut above_index = restored(&[1, 2, 3], 2, None, 0, &[]);
    above_index.entries = vec![entry(MAX_INDEX + 1, 2)];
    above_index.snapshot = Some(flotilla_raft::Snapshot {
        meta: SnapshotMeta { index: MAX_INDEX, term: 2, membership: Membership::with_voters([1, 2, 3]) },
        ..Default::default()
    });
    assert!(Raft::new(paper_config(1), above_index).is_err());
    assert!(Raft::new(paper_config(1), restored(&[1, 2, 3], MAX_TERM, None, 0, &[])).is_ok());
}

#[test]
fn a_restored_state_that_cannot_be_a_nodes_is_refused_with_its_cause() {
    let refused = |state: RestoredState| match Raft::new(paper_config(1), state) {
        Err(ConfigError::RestoredStateInvalid(cause)) => cause,
        other => panic!("not refused as invalid: {:?}", other.map(|raft| raft.term())),
    };
    assert_eq!(
        refused(restored(&[1, 2, 3], MAX_TERM + 1, None, 0, &[])),
        RestoredStateError::AboveLimits { term: MAX_TERM + 1, index: 0 }
    );
    assert_eq!(
        refused(restored(&[1, 2, 3], 2, None, 0, &[1, 3])),
        RestoredStateError::LogTerm { last_term: 3, persisted_term: 2 }
    );
    let gap = RestoredState { entries: vec![entry(1, 1), entry(3, 1)], ..restored(&[1, 2, 3], 2, None, 0, &[]) };
    let error = refused(gap);
    assert_eq!(error, RestoredStateError::EntryOutOfOrder { index: 3, term: 1, previous_index: 1, previous_term: 1 });
    assert_eq!(error.to_string(), "entry 3 (term 1) does not follow index 1 (term 1)");
    let mut snapshot_ahead = restored(&[1, 2, 3], 2, None, 0, &[]);
    snapshot_ahead.snapshot = Some(flotilla_raft::Snapshot {
        meta: SnapshotMeta { index: 4, term: 3, membership: Membership::with_voters([1, 2, 3]) },
        ..Default::default()
    });
    assert_eq!(refused(snapshot_ahead), RestoredStateError::SnapshotTerm { snapshot_term: 3, persisted_term: 2 });
}

// ================================================================================================
// 5.2 Leader election
// ================================================================================================

#[test]
fn leader_sends_heartbeats_to_all_followers_5_2() {
    // "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all followers."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut raft);
    for round in 0..3 {
        raft.tick();
        let out = drain(&mut raft);
        for peer in [2, 3] {
            let beats: Vec<_> = out.to(peer).into_iter().filter(|m| m.body.kind_name() == "Heartbeat").collect();
            assert_eq!(beats.len(), 1, "round {round}: one heartbeat to {peer}");
            // The follower has acknowledged nothing, so the heartbeat may not tell it to commit anything.
            assert!(matches!(beats[0].body, MessageBody::Heartbeat { commit: 0, .. }));
            assert_eq!(beats[0].term, 1);
        }
    }
}

#[test]
fn follower_starts_election_after_election_timeout_5_2() {
    // "If a follower receives no communication over a period of time called the election timeout, then it ...
    // increments its current term and transitions to candidate state. It then votes for itself and issues
    // RequestVote RPCs in parallel to each of the other servers."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    let ticks = ticks_until_campaign(&mut raft, 100);
    assert!((10..=20).contains(&ticks), "timed out after {ticks} ticks, outside the election timeout");
    assert_eq!((raft.role(), raft.term(), raft.vote()), (Role::Candidate, 1, Some(1)));
    let out = drain(&mut raft);
    let mut requests: Vec<_> = out.messages.iter().map(|m| (m.to, m.term, m.body.clone())).collect();
    requests.sort_by_key(|r| r.0);
    let request = MessageBody::Vote { last_index: 0, last_term: 0, transfer: false };
    assert_eq!(requests, vec![(2, 1, request.clone()), (3, 1, request)]);
}

#[test]
fn follower_that_hears_from_a_leader_does_not_start_an_election_5_2() {
    // "A server remains in follower state as long as it receives valid RPCs from a leader or candidate."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    for _ in 0..100 {
        raft.tick();
        raft.step(heartbeat(2, 1, 1)).unwrap();
    }
    assert_eq!((raft.role(), raft.term(), raft.leader()), (Role::Follower, 1, Some(2)));
}

#[test]
fn candidate_starts_new_election_after_election_timeout_5_2() {
    // "If many followers become candidates at the same time, votes could be split ... When this happens, each
    // candidate will time out and start a new election by incrementing its term and initiating another round."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.campaign();
    drain(&mut raft);
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 1));
    let mut ticks = 0;
    while raft.term() == 1 {
        raft.tick();
        ticks += 1;
        assert!(ticks <= 20, "the candidate never timed out");
    }
    assert!(ticks >= 10, "timed out after {ticks} ticks");
    assert_eq!((raft.role(), raft.term(), raft.vote()), (Role::Candidate, 2, Some(1)));
    let out = drain(&mut raft);
    let targets: BTreeSet<NodeId> =
        out.messages.iter().filter(|m| m.body.kind_name() == "Vote" && m.term == 2).map(|m| m.to).collect();
    assert_eq!(targets, BTreeSet::from([2, 3]));
}

/// A node of a `size`-node cluster that campaigns in term 1 and then hears the given votes.
fn candidate_after_votes(size: u64, votes: &[(NodeId, bool)]) -> Raft {
    let mut raft = new_node(paper_config(1), &ids(size));
    raft.campaign();
    drain(&mut raft);
    for &(from, granted) in votes {
        let _ = raft.step(vote_reply(from, 1, 1, granted));
    }
    raft
}

#[test]
fn candidate_wins_with_majority_of_votes_5_2() {
    // "A candidate wins an election if it receives votes from a majority of the servers in the full cluster
    // for the same term."
    let cases: [(u64, &[(NodeId, bool)]); 6] = [
        (1, &[]),
        (3, &[(2, true)]),
        (3, &[(2, true), (3, true)]),
        (5, &[(2, true), (3, true)]),
        (5, &[(2, true), (3, false), (4, true)]),
        (5, &[(2, true), (3, true), (4, true), (5, true)]),
    ];
    for (size, votes) in cases {
        let raft = candidate_after_votes(size, votes);
        assert_eq!((raft.role(), raft.term()), (Role::Leader, 1), "size {size}, votes {votes:?}");
    }
}

#[test]
fn candidate_steps_down_when_a_majority_rejects_it_5_2() {
    // The candidate has lost once a majority has refused it (etcd's reading of 5.2's "candidate loses").
    let cases: [(u64, &[(NodeId, bool)]); 3] = [
        (3, &[(2, false), (3, false)]),
        (5, &[(2, false), (3, false), (4, false)]),
        (5, &[(2, true), (3, false), (4, false), (5, false)]),
    ];
    for (size, votes) in cases {
        let raft = candidate_after_votes(size, votes);
        assert_eq!((raft.role(), raft.term()), (Role::Follower, 1), "size {size}, votes {votes:?}");
    }
}

#[test]
fn candidate_without_a_majority_either_way_keeps_waiting_5_2() {
    // "The third possible outcome is that a candidate neither wins nor loses the election": it stays candidate.
    let cases: [(u64, &[(NodeId, bool)]); 5] =
        [(3, &[]), (3, &[(2, false)]), (5, &[]), (5, &[(2, true)]), (5, &[(2, false), (3, false)])];
    for (size, votes) in cases {
        let raft = candidate_after_votes(size, votes);
        assert_eq!((raft.role(), raft.term()), (Role::Candidate, 1), "size {size}, votes {votes:?}");
    }
}

#[test]
fn candidate_counts_each_voter_once_5_2() {
    // Votes come from a majority of *servers*: a repeated reply from one server is one vote.
    let raft = candidate_after_votes(5, &[(2, true), (2, true), (2, true)]);
    assert_eq!(raft.role(), Role::Candidate);
}

#[test]
fn follower_votes_for_at_most_one_candidate_per_term_5_2() {
    // "Each server will vote for at most one candidate in a given term, on a first-come-first-served basis."
    let cases = [
        (None, 2, true),
        (None, 3, true),
        (Some(2), 2, true),
        (Some(3), 3, true),
        (Some(2), 3, false),
        (Some(3), 2, false),
    ];
    for (voted, candidate, granted) in cases {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, voted, 0, &[]));
        raft.step(vote_request(candidate, 1, 1, (0, 0))).unwrap();
        let out = drain(&mut raft);
        assert_eq!(out.vote_replies(), vec![(candidate, 1, granted)], "voted {voted:?}, candidate {candidate}");
    }

    // First come, first served, in one term.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.step(vote_request(2, 1, 1, (0, 0))).unwrap();
    raft.step(vote_request(3, 1, 1, (0, 0))).unwrap();
    let out = drain(&mut raft);
    assert_eq!(out.vote_replies(), vec![(2, 1, true), (3, 1, false)]);
    assert_eq!(raft.vote(), Some(2));
    assert_eq!(out.requests.last().unwrap().hard_state.unwrap().vote, Some(2), "the vote is persisted");
}

#[test]
fn candidate_returns_to_follower_on_append_from_leader_of_its_term_5_2() {
    // "While waiting for votes, a candidate may receive an AppendEntries RPC from another server claiming to be
    // leader. If the leader's term is at least as large as the candidate's current term, then the candidate
    // recognizes the leader as legitimate and returns to follower state."
    for leader_term in [1, 2] {
        let mut raft = new_node(paper_config(1), &[1, 2, 3]);
        raft.campaign();
        assert_eq!((raft.role(), raft.term()), (Role::Candidate, 1));
        raft.step(append(2, 1, leader_term, (0, 0), vec![], 0)).unwrap();
        assert_eq!((raft.role(), raft.term(), raft.leader()), (Role::Follower, leader_term, Some(2)));
    }
    // "If the term in the RPC is smaller than the candidate's current term, then the candidate rejects the RPC
    // and continues in candidate state."
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 4, None, 0, &[]));
    raft.campaign();
    raft.step(append(2, 1, 3, (0, 0), vec![], 0)).unwrap_err();
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 5));
}

#[test]
fn election_timeouts_are_randomized_5_2() {
    // "Raft uses randomized election timeouts ... chosen randomly from a fixed interval (e.g., 150-300ms)."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    let mut seen = BTreeSet::new();
    for _ in 0..400 {
        // A heartbeat of a newer term makes the node a follower again, with a fresh timeout.
        raft.step(heartbeat(2, 1, raft.term() + 1)).unwrap();
        drain(&mut raft);
        seen.insert(ticks_until_campaign(&mut raft, 100));
    }
    assert_eq!(seen, (10..=20).collect::<BTreeSet<u32>>(), "every timeout in the interval, none outside");
}

#[test]
fn randomized_timeouts_make_simultaneous_candidates_rare_5_2() {
    // "Election timeouts are chosen randomly ... so that in most cases only a single server will time out."
    let voters = ids(5);
    let mut nodes: Vec<Raft> = voters.iter().map(|&id| new_node(paper_config(id), &voters)).collect();
    let rounds = 1000;
    let mut conflicts = 0;
    for _ in 0..rounds {
        for raft in &mut nodes {
            let leader = if raft.id() == 1 { 2 } else { 1 };
            raft.step(heartbeat(leader, raft.id(), raft.term() + 1)).unwrap();
            drain(raft);
        }
        let mut timed_out = 0;
        while timed_out == 0 {
            for raft in &mut nodes {
                raft.tick();
                if raft.role() != Role::Follower {
                    timed_out += 1;
                }
            }
        }
        if timed_out > 1 {
            conflicts += 1;
        }
    }
    assert!(conflicts * 10 <= rounds * 3, "{conflicts} of {rounds} rounds had several candidates at once");
}

// ================================================================================================
// 5.3 Log replication
// ================================================================================================

#[test]
fn leader_appends_proposal_and_replicates_it_with_previous_index_and_term_5_3() {
    // "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in parallel to
    // each of the other servers"; "the leader includes the index and term of the entry in its log that
    // immediately precedes the new entries." It also writes the new entry to stable storage.
    let mut raft = leader_with_committed_noop(paper_config(1), &[1, 2, 3]);
    let last = raft.log().last_index();
    propose(&mut raft, "x", b"some data");
    assert_eq!(raft.log().last_index(), last + 1);
    assert_eq!(raft.log().committed, last, "not committed before a majority holds it");
    let out = drain(&mut raft);
    let new_entry = raft.log().entry(last + 1).unwrap().clone();
    assert_eq!((new_entry.term, new_entry.id.as_deref(), &*new_entry.data), (1, Some("x"), &b"some data"[..]));
    for peer in [2, 3] {
        assert_eq!(out.appends_to(peer), vec![(last, 1, vec![new_entry.clone()], last)], "append to {peer}");
    }
    assert_eq!(out.written_entries(), vec![new_entry], "the leader persists the entry");
}

#[test]
fn leader_commits_entry_once_a_majority_holds_it_5_3() {
    // "A log entry is committed once the leader that created the entry has replicated it on a majority of the servers."
    let cases: [(u64, &[NodeId], bool); 9] = [
        (1, &[], true),
        (3, &[], false),
        (3, &[2], true),
        (3, &[2, 3], true),
        (5, &[], false),
        (5, &[2], false),
        (5, &[2, 3], true),
        (5, &[2, 3, 4], true),
        (5, &[2, 3, 4, 5], true),
    ];
    for (size, acceptors, commits) in cases {
        let mut raft = leader_with_committed_noop(paper_config(1), &ids(size));
        let last = raft.log().last_index();
        propose(&mut raft, "x", b"data");
        let out = drain(&mut raft);
        accept_appends(&mut raft, &out, acceptors);
        let mut applied = out.committed;
        applied.extend(drain(&mut raft).committed);
        assert_eq!(raft.log().committed > last, commits, "size {size}, acceptors {acceptors:?}");
        assert_eq!(applied.iter().any(|e| e.index == last + 1), commits, "handed out for application");
    }
}

#[test]
fn leader_tells_followers_its_commit_index_5_3() {
    // "The leader keeps track of the highest index it knows to be committed, and it includes that index in
    // future AppendEntries RPCs (including heartbeats) so that the other servers eventually find out."
    let mut raft = leader_with_committed_noop(paper_config(1), &[1, 2, 3]);
    let last = raft.log().last_index();
    propose(&mut raft, "x", b"data");
    let out = drain(&mut raft);
    accept_appends(&mut raft, &out, &[2]);
    let out = drain(&mut raft);
    assert_eq!(raft.log().committed, last + 1);
    for peer in [2, 3] {
        let commits: Vec<Index> = out.appends_to(peer).into_iter().map(|(.., commit)| commit).collect();
        assert!(commits.contains(&(last + 1)), "no append to {peer} carried the new commit index: {commits:?}");
    }
    // Heartbeats carry it too, to followers known to hold the entry.
    raft.tick();
    let out = drain(&mut raft);
    let beat = out.to(2).into_iter().find(|m| m.body.kind_name() == "Heartbeat").unwrap();
    assert!(matches!(beat.body, MessageBody::Heartbeat { commit, .. } if commit == last + 1));
    // A heartbeat carries no log check, so a follower not known to hold the entry is told only what it holds.
    let beat = out.to(3).into_iter().find(|m| m.body.kind_name() == "Heartbeat").unwrap();
    assert!(matches!(beat.body, MessageBody::Heartbeat { commit, .. } if commit == last));
}

#[test]
fn follower_commit_index_stops_at_the_last_new_entry_5_3() {
    // Figure 2, AppendEntries: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last
    // new entry)": entries after those the append covered may be stale ones of an older leader.
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[1, 1, 1]));
    raft.step(append(2, 1, 2, (1, 1), vec![], 3)).unwrap();
    let out = drain(&mut raft);
    assert_eq!(raft.log().committed, 1, "entries 2 and 3 are not known to match the leader's");
    assert_eq!(out.committed, entries(1, &[1]));
    raft.step(append(2, 1, 2, (1, 1), entries(2, &[2]), 3)).unwrap();
    let out = drain(&mut raft);
    assert_eq!((raft.log().committed, log_terms(&raft)), (2, vec![1, 2]));
    assert_eq!(out.committed, entries(2, &[2]));
}

#[test]
fn committing_an_entry_commits_all_preceding_entries_5_3() {
    // "When the leader commits an entry, it also commits all preceding entries in the leader's log, including
    // entries created by previous leaders", and they are applied in log order.
    let previous_logs: [&[Term]; 4] = [&[], &[2], &[1, 2], &[1]];
    for previous in previous_logs {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 2, None, 0, previous));
        let out = elect(&mut raft);
        assert_eq!(raft.term(), 3);
        accept_appends(&mut raft, &out, &[2, 3]);
        let mut committed = out.committed;
        committed.extend(drain(&mut raft).committed);
        let indices_terms: Vec<(Index, Term)> = committed.iter().map(|e| (e.index, e.term)).collect();
        let mut expected: Vec<(Index, Term)> = previous.iter().enumerate().map(|(i, &t)| (i as Index + 1, t)).collect();
        expected.push((previous.len() as Index + 1, 3));
        assert_eq!(indices_terms, expected, "previous log {previous:?}");
    }
}

#[test]
fn follower_applies_entries_it_learns_are_committed_in_log_order_5_3() {
    // "Once a follower learns that a log entry is committed, it applies the entry to its local state machine
    // (in log order)."
    for (count, commit) in [(1, 1), (2, 2), (2, 1), (3, 0)] {
        let mut raft = new_node(paper_config(1), &[1, 2, 3]);
        let sent = entries(1, &vec![1; count]);
        raft.step(append(2, 1, 1, (0, 0), sent.clone(), commit)).unwrap();
        let out = drain(&mut raft);
        assert_eq!(raft.log().committed, commit);
        assert_eq!(out.committed, sent[..commit as usize].to_vec(), "{count} entries, commit {commit}");
    }
    // A later append (or heartbeat) moves the commit index on; nothing is applied twice.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.step(append(2, 1, 1, (0, 0), entries(1, &[1, 1, 1]), 1)).unwrap();
    let first = drain(&mut raft).committed;
    raft.step(msg(2, 1, 1, MessageBody::Heartbeat { commit: 3, read_round: 0 })).unwrap();
    let second = drain(&mut raft).committed;
    let indices: Vec<Index> = first.iter().chain(&second).map(|e| e.index).collect();
    assert_eq!(indices, vec![1, 2, 3]);
}

#[test]
fn follower_refuses_entries_when_previous_entry_does_not_match_5_3() {
    // "If the follower does not find an entry in its log with the same index and term [as the one preceding the
    // new entries], then it refuses the new entries"; otherwise it accepts them.
    // (prev_index, prev_term) -> (success, index, hint_index, hint_term)
    let cases = [
        ((0, 0), (true, 1, 0, 0)), // below the commit index: matches any correct leader
        ((1, 1), (true, 1, 0, 0)),
        ((2, 2), (true, 2, 0, 0)),
        ((2, 1), (false, 2, 1, 1)), // index 2 holds term 2: refused, the hint points below term 2
        ((3, 3), (false, 3, 2, 2)), // index 3 does not exist: refused, the hint is our last entry
    ];
    for (prev, expected) in cases {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 2, None, 1, &[1, 2]));
        raft.step(append(2, 1, 3, prev, vec![], 1)).unwrap();
        let out = drain(&mut raft);
        let (success, index, hint_index, hint_term) = expected;
        assert_eq!(out.append_replies(), vec![(2, 3, success, index, hint_index, hint_term)], "prev {prev:?}");
        assert_eq!(log_terms(&raft), vec![1, 2], "an empty append changes no entry");
    }
}

#[test]
fn a_follower_takes_no_leader_message_from_another_node_in_the_term_of_its_leader() {
    // At most one leader per term (5.2): once node 1 has spoken as leader of term 1, an append, heartbeat or
    // snapshot from node 3 in term 1 comes from no correct node. Taken, its entry would sit where node 1's entry
    // of the same index and term would be taken as matching, and the logs would differ for good.
    let mut follower = new_node(paper_config(2), &[1, 2, 3]);
    follower.step(append(1, 2, 1, (0, 0), vec![entry(1, 1)], 0)).unwrap();
    drain(&mut follower);
    assert_eq!(follower.step(append(3, 2, 1, (1, 1), vec![entry(2, 1)], 1)), Err(DropReason::Unexpected));
    assert_eq!(follower.step(heartbeat(3, 2, 1)), Err(DropReason::Unexpected));
    assert!(drain(&mut follower).messages.is_empty(), "no answer to the impostor");
    assert_eq!((follower.log().last_index(), follower.leader()), (1, Some(1)));

    // The leader's own entry for that place is taken; a leader of a later term is followed.
    follower.step(append(1, 2, 1, (1, 1), vec![entry(2, 1)], 1)).unwrap();
    assert_eq!(follower.log().last_index(), 2);
    follower.step(heartbeat(3, 2, 2)).unwrap();
    assert_eq!(follower.leader(), Some(3));
}

#[test]
fn follower_deletes_conflicting_entries_and_appends_new_ones_5_3() {
    // "If an existing entry conflicts with a new one (same index but different terms), delete the existing
    // entry and all that follow it. Append any new entries not already in the log", and persist them.
    // (prev, entries sent) -> (log afterwards, entries written to storage)
    type Case = ((Index, Term), Vec<Entry>, &'static [Term], &'static [Term]);
    let cases: [Case; 4] = [
        ((2, 2), entries(3, &[3]), &[1, 2, 3], &[3]),
        ((1, 1), entries(2, &[3, 4]), &[1, 3, 4], &[3, 4]),
        ((0, 0), entries(1, &[1]), &[1, 2], &[]),
        ((0, 0), entries(1, &[3]), &[3], &[3]),
    ];
    for (prev, sent, expected_log, expected_written) in cases {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 2, None, 0, &[1, 2]));
        raft.step(append(2, 1, 4, prev, sent.clone(), 0)).unwrap();
        let out = drain(&mut raft);
        assert_eq!(log_terms(&raft), expected_log.to_vec(), "prev {prev:?}");
        let written: Vec<Term> = out.written_entries().iter().map(|e| e.term).collect();
        assert_eq!(written, expected_written.to_vec(), "prev {prev:?}");
        assert!(out.append_replies().iter().all(|r| r.2), "the append is accepted");
    }
}

#[test]
fn leader_never_overwrites_or_deletes_its_own_entries_5_3() {
    // Leader Append-Only (Figure 3): "a leader never overwrites or deletes entries in its log; it only appends."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut raft);
    let before = log_entries(&raft);
    // A (faulty) append of its own term that would overwrite its no-op is refused.
    assert!(raft.step(append(2, 1, 1, (0, 0), entries(1, &[1, 1]), 0)).is_err());
    // Rejections from followers move the leader's view of them, never its own log.
    raft.step(msg(2, 1, 1, MessageBody::AppendReply { success: false, index: 0, hint_index: 0, hint_term: 0 }))
        .unwrap();
    drain(&mut raft);
    assert_eq!(log_entries(&raft), before);
    assert_eq!(raft.role(), Role::Leader);
}

/// The leader's log of the paper's Figure 7 (term 8 starts after it), and a three-node cluster in which node 1
/// holds it, node 2 holds `follower_log` and node 3 holds nothing (so that node 1 can always win an election).
fn figure_7_cluster(follower_log: &[Term]) -> Cluster {
    const LEADER_LOG: [Term; 10] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let voters = [1, 2, 3];
    let states = [
        (paper_config(1), restored(&voters, 7, None, 0, &LEADER_LOG)),
        (paper_config(2), restored(&voters, 7, None, 0, follower_log)),
        (paper_config(3), restored(&voters, 7, None, 0, &[])),
    ];
    let mut cluster = Cluster::from_states(states);
    assert!(cluster.elect(1), "node 1 leads term 8");
    assert_eq!(cluster.node(1).term(), 8);
    cluster
}

/// The follower logs (a) to (f) of the paper's Figure 7.
const FIGURE_7_FOLLOWERS: [&[Term]; 6] = [
    &[1, 1, 1, 4, 4, 5, 5, 6, 6],
    &[1, 1, 1, 4],
    &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    &[1, 1, 1, 4, 4, 4, 4],
    &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
];

#[test]
fn leader_brings_follower_logs_into_consistency_figure_7_5_3() {
    // "The leader handles inconsistencies by forcing the followers' logs to duplicate its own": missing entries
    // are sent, extraneous and conflicting ones are removed, for each follower of Figure 7.
    for follower_log in FIGURE_7_FOLLOWERS {
        let mut cluster = figure_7_cluster(follower_log);
        cluster.propose(1, "new", b"command of term 8");
        cluster.settle();
        let leader = log_entries(cluster.node(1));
        assert_eq!(leader.len(), 12, "the leader's log grew by its no-op and the command only");
        assert_eq!(log_entries(cluster.node(2)), leader, "follower {follower_log:?}");
        assert_eq!(cluster.node(2).log().committed, 12, "follower {follower_log:?}");
    }
}

// ================================================================================================
// 5.4.1 Election restriction
// ================================================================================================

#[test]
fn vote_request_carries_the_candidate_last_log_index_and_term_5_4_1() {
    // "The RequestVote RPC ... includes information about the candidate's log" (its last index and term).
    for (log, term) in [(vec![1], 1), (vec![1, 2], 2), (vec![1, 1, 3, 3], 4)] {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], term, None, 0, &log));
        ticks_until_campaign(&mut raft, 100);
        let out = drain(&mut raft);
        let requests: Vec<_> = out.messages.iter().map(|m| (m.to, m.term, m.body.clone())).collect();
        let body =
            MessageBody::Vote { last_index: log.len() as Index, last_term: *log.last().unwrap(), transfer: false };
        assert_eq!(requests, vec![(2, term + 1, body.clone()), (3, term + 1, body)], "log {log:?}");
    }
}

#[test]
fn voter_denies_candidate_whose_log_is_less_up_to_date_5_4_1() {
    // "The voter denies its vote if its own log is more up-to-date than that of the candidate": a later last term
    // is more up-to-date; with equal last terms, the longer log is.
    // (voter's log, candidate's last (index, term), granted)
    let cases: [(&[Term], (Index, Term), bool); 10] = [
        (&[1], (1, 1), true),
        (&[1], (2, 1), true),
        (&[1, 1], (1, 1), false),
        (&[1], (1, 2), true),
        (&[1], (2, 2), true),
        (&[1, 1], (1, 2), true),
        (&[2], (1, 1), false),
        (&[2], (2, 1), false),
        (&[2, 2], (1, 1), false),
        (&[1, 2], (5, 1), false),
    ];
    for (log, last, granted) in cases {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2], 2, None, 0, log));
        raft.step(vote_request(2, 1, 3, last)).unwrap();
        let out = drain(&mut raft);
        assert_eq!(out.vote_replies(), vec![(2, 3, granted)], "voter log {log:?}, candidate last {last:?}");
        assert_eq!(raft.vote(), granted.then_some(2));
    }
}

#[test]
fn candidate_lacking_a_committed_entry_cannot_win_5_4_1() {
    // "A candidate must contact a majority of the cluster in order to be elected, which means that every
    // committed entry must be present in at least one of those servers": a node lacking one cannot win.
    let mut cluster = Cluster::with_config(3, paper_config);
    assert!(cluster.elect(1));
    cluster.isolated = vec![3];
    cluster.propose(1, "x", b"committed without node 3");
    cluster.settle();
    assert_eq!(cluster.applied_data(2), vec![b"committed without node 3".to_vec()]);
    cluster.isolated.clear();
    assert!(!cluster.elect(3), "node 3 lacks a committed entry");
    assert_eq!(cluster.leader(), None);
    assert!(cluster.elect(2));
    cluster.settle();
    cluster.tick_all();
    assert_eq!(cluster.applied_data(3), vec![b"committed without node 3".to_vec()]);
}

// ================================================================================================
// 5.4.2 Committing entries from previous terms
// ================================================================================================

#[test]
fn leader_only_commits_entries_of_its_current_term_5_4_2() {
    // "Only log entries from the leader's current term are committed by counting replicas."
    // The leader of term 3 holds [1@1, 2@2] from earlier terms and its no-op 3@3; one follower acknowledges up to...
    for (acknowledged, commit) in [(1, 0), (2, 0), (3, 3)] {
        let mut raft = restored_node(paper_config(1), restored(&[1, 2], 2, None, 0, &[1, 2]));
        elect(&mut raft);
        assert_eq!((raft.term(), raft.log().last_index()), (3, 3));
        raft.step(msg(
            2,
            1,
            3,
            MessageBody::AppendReply { success: true, index: acknowledged, hint_index: 0, hint_term: 0 },
        ))
        .unwrap();
        drain(&mut raft);
        assert_eq!(raft.log().committed, commit, "acknowledged up to {acknowledged}");
    }
}

/// The paper's Figure 8 at (b): S1 led term 2 and gave index 2 to S2; S5 led term 3 and wrote its own index 2.
/// All are at term 3 and have committed index 1.
fn figure_8_cluster(bug: Option<InjectedBug>) -> Cluster {
    let voters = ids(5);
    let logs: [&[Term]; 5] = [&[1, 2], &[1, 2], &[1], &[1], &[1, 3]];
    Cluster::from_states(voters.iter().zip(logs).map(|(&id, log)| {
        let mut config = paper_config(id);
        config.injected_bug = bug;
        (config, restored(&voters, 3, None, 1, log))
    }))
}

/// Figure 8 (c): S5 is down; S1 wins term 4 and replicates its index 2 (of term 2) to a majority, but its entry
/// of term 4 reaches nobody (the appends lose every entry of term 4 on the way).
fn figure_8_phase_c(cluster: &mut Cluster) {
    cluster.isolated = vec![5];
    cluster.node_mut(1).campaign();
    cluster.settle_with(|mut m| {
        if let MessageBody::Append { entries, .. } = &mut m.body {
            entries.retain(|e| e.term < 4);
        }
        Some(m)
    });
    assert_eq!((cluster.node(1).role(), cluster.node(1).term()), (Role::Leader, 4));
    for id in [1, 2, 3] {
        assert_eq!(cluster.node(id).log().term(2), Some(2), "S{id} holds index 2 of term 2");
    }
}

/// Figure 8 (d): S1 is down; S5 (whose last entry has term 3) is elected with the votes of S2, S3 and S4.
fn figure_8_phase_d(cluster: &mut Cluster) {
    cluster.isolated = vec![1];
    // S5's first try is in term 4, where the others already voted for S1; the second, in term 5, wins.
    let won = cluster.elect(5) || cluster.elect(5);
    assert!(won, "S5 is elected");
    cluster.settle();
}

/// The entries applied at the same index by two nodes are the same (State Machine Safety).
fn applied_entries_agree(cluster: &Cluster) -> bool {
    let nodes: Vec<&Vec<Entry>> = cluster.nodes.values().map(|n| &n.applied).collect();
    nodes
        .iter()
        .all(|a| nodes.iter().all(|b| a.iter().all(|x| b.iter().all(|y| x.index != y.index || x.term == y.term))))
}

#[test]
fn figure_8_entry_of_older_term_is_not_committed_by_counting_replicas() {
    // Figure 8: an entry of an older term stored on a majority can still be overwritten by a future leader, so
    // the leader must not count its replicas to commit it (5.4.2).
    let mut cluster = figure_8_cluster(None);
    figure_8_phase_c(&mut cluster);
    assert_eq!(cluster.node(1).log().committed, 1, "index 2 is on a majority but of term 2: not committed");
    assert!(cluster.nodes.values().all(|n| n.applied.iter().all(|e| e.index < 2)));

    figure_8_phase_d(&mut cluster);
    assert_eq!(cluster.node(2).log().term(2), Some(3), "S5 overwrote index 2 on S2");
    assert!(cluster.nodes[&2].applied.iter().any(|e| (e.index, e.term) == (2, 3)));
    assert!(applied_entries_agree(&cluster), "nobody applied the overwritten entry");
}

#[test]
fn figure_8_counting_replicas_of_an_older_term_would_lose_a_committed_entry() {
    // The same run with the Figure 8 mistake injected: S1 commits index 2 by counting, then S5 is elected
    // without it. This is what the previous test guards against (and shows that its scenario reaches the case).
    let mut cluster = figure_8_cluster(Some(InjectedBug::CommitPreviousTermByCount));
    figure_8_phase_c(&mut cluster);
    assert_eq!(cluster.node(1).log().committed, 2);
    assert!(cluster.nodes[&1].applied.iter().any(|e| (e.index, e.term) == (2, 2)), "S1 applied 2@2");
    // Figure 8 (d), elections only: S2..S4 now refuse to overwrite what they were told is committed, so the
    // new leader could not even replicate; that it is elected at all is the violation.
    cluster.isolated = vec![1];
    let votes_only =
        |m: Message| matches!(m.body, MessageBody::Vote { .. } | MessageBody::VoteReply { .. }).then_some(m);
    for _ in 0..2 {
        cluster.node_mut(5).campaign();
        cluster.settle_with(votes_only);
    }
    assert_eq!(cluster.node(5).role(), Role::Leader);
    assert_eq!(cluster.node(5).log().term(2), Some(3), "the new leader lacks the entry S1 applied");
}

#[test]
fn figure_8_older_entry_commits_with_an_entry_of_the_current_term_5_4_2() {
    // Figure 8 (e): "once an entry from the current term has been committed by counting replicas, then all
    // prior entries are committed indirectly because of the Log Matching Property" - and S5 can no longer win.
    let mut cluster = figure_8_cluster(None);
    cluster.isolated = vec![5];
    assert!(cluster.elect(1));
    cluster.tick_all();
    let applied: Vec<(Index, Term)> = cluster.nodes[&1].applied.iter().map(|e| (e.index, e.term)).collect();
    assert_eq!(applied, vec![(1, 1), (2, 2), (3, 4)]);
    cluster.isolated = vec![1];
    assert!(!cluster.elect(5) && !cluster.elect(5), "S5 lacks committed entries and cannot win");
}

// ================================================================================================
// 5.5 Follower and candidate crashes
// ================================================================================================

#[test]
fn append_entries_is_idempotent_5_5() {
    // "Raft RPCs are idempotent ... if a follower receives an AppendEntries request that includes log entries
    // already present in its log, it ignores those entries in the new request."
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    let request = append(2, 1, 1, (0, 0), entries(1, &[1, 1, 1]), 0);
    raft.step(request.clone()).unwrap();
    let first = drain(&mut raft);
    assert_eq!(first.written_entries().len(), 3);

    raft.step(request).unwrap();
    let again = drain(&mut raft);
    assert_eq!(log_terms(&raft), vec![1, 1, 1]);
    assert!(again.written_entries().is_empty(), "nothing new to persist");
    assert_eq!(again.append_replies(), vec![(2, 1, true, 3, 0, 0)]);

    // A delayed, shorter copy must not cut off the entries that came after it.
    raft.step(append(2, 1, 1, (0, 0), entries(1, &[1]), 0)).unwrap();
    let late = drain(&mut raft);
    assert_eq!(log_terms(&raft), vec![1, 1, 1]);
    assert_eq!(late.append_replies(), vec![(2, 1, true, 1, 0, 0)]);
}

#[test]
fn vote_request_is_idempotent_5_5() {
    // A retried RequestVote from the candidate we voted for gets the same answer, and no second candidate wins us.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    for _ in 0..3 {
        raft.step(vote_request(2, 1, 1, (0, 0))).unwrap();
    }
    raft.step(vote_request(3, 1, 1, (0, 0))).unwrap();
    let out = drain(&mut raft);
    assert_eq!(out.vote_replies(), vec![(2, 1, true), (2, 1, true), (2, 1, true), (3, 1, false)]);
}

#[test]
fn crashed_follower_catches_up_after_restart_5_5() {
    // "If a follower or candidate crashes, then future RequestVote and AppendEntries RPCs sent to it will fail.
    // Raft handles these failures by retrying indefinitely; if the crashed server restarts, then the RPC will
    // complete successfully."
    let mut cluster = Cluster::with_config(3, paper_config);
    assert!(cluster.elect(1));
    cluster.propose(1, "a", b"a");
    cluster.settle();
    cluster.isolated = vec![3];
    cluster.propose(1, "b", b"b");
    cluster.propose(2, "c", b"c");
    cluster.settle();
    assert_eq!(cluster.applied_data(1), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);

    cluster.restart(3, paper_config(3));
    cluster.isolated.clear();
    for _ in 0..3 {
        cluster.tick_all();
    }
    assert_eq!(cluster.applied_data(3), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(log_entries(cluster.node(3)), log_entries(cluster.node(1)));
}

/// A cluster of three whose leader (1) committed three entries, and whose follower 3 then restarted empty, as a
/// node kept in memory does.
fn cluster_with_a_follower_restarted_empty() -> Cluster {
    let mut cluster = Cluster::with_config(3, paper_config);
    assert!(cluster.elect(1));
    for name in ["a", "b", "c"] {
        cluster.propose(1, name, name.as_bytes());
    }
    cluster.settle();
    assert_eq!(progress(cluster.node(1), 3).map(|p| p.match_index), Some(cluster.node(1).log().last_index()));
    cluster.restart_empty(3, paper_config(3));
    assert_eq!(cluster.node(3).log().last_index(), 0);
    cluster
}

#[test]
fn a_follower_that_restarted_empty_counts_for_nothing_once_a_heartbeat_finds_it_so_even_above_the_commit_index() {
    // Five voters, 3 to 5 cut off: 2 acknowledges an entry that does not commit, then restarts empty. Its old
    // acknowledgement must not count when 3 comes back: the entry would commit on 1 and 3 only.
    let mut cluster = Cluster::with_config(5, paper_config);
    assert!(cluster.elect(1));
    cluster.settle();
    cluster.isolated = vec![3, 4, 5];
    cluster.propose(1, "x", b"x");
    cluster.settle();
    let last = cluster.node(1).log().last_index();
    assert!(cluster.node(1).log().committed < last, "1 and 2 are no quorum of 5");
    assert_eq!(progress(cluster.node(1), 2).map(|p| p.match_index), Some(last));
    cluster.restart_empty(2, paper_config(2));
    for _ in 0..Config::new(1).heartbeat_ticks {
        cluster.node_mut(1).tick();
    }
    cluster.settle();
    // The heartbeat found 2 empty: the leader counted on nothing it held and sent it the log again.
    assert_eq!(log_entries(cluster.node(2)), log_entries(cluster.node(1)));
    cluster.isolated = vec![4, 5];
    for _ in 0..20 {
        for id in [1, 2, 3] {
            cluster.node_mut(id).tick();
        }
        while cluster.round() {
            if cluster.node(1).log().committed >= last {
                let term = cluster.node(1).log().term(last);
                let holders = (1..=5).filter(|&id| cluster.node(id).log().term(last) == term).count();
                assert!(holders >= 3, "entry {last} committed on {holders} of 5");
            }
        }
    }
    assert!(cluster.node(1).log().committed >= last, "it commits once 1, 2 and 3 hold it");
}

#[test]
fn a_stale_rejection_repeated_after_the_follower_caught_up_changes_nothing() {
    // A network that duplicates: a rejection 3 sent while behind arrives again once it caught up.
    let mut cluster = Cluster::with_config(3, paper_config);
    assert!(cluster.elect(1));
    cluster.settle();
    cluster.isolated = vec![3];
    for n in 0..20 {
        cluster.propose(1, &format!("p{n}"), b"v");
        cluster.settle();
    }
    cluster.isolated = vec![];
    let mut rejection = None;
    for _ in 0..10 {
        cluster.node_mut(1).tick();
        cluster.settle_with(|m| {
            if m.from == 3 && matches!(m.body, MessageBody::AppendReply { success: false, .. }) {
                rejection.get_or_insert_with(|| m.clone());
            }
            Some(m)
        });
    }
    let before = progress(cluster.node(1), 3).expect("progress of 3");
    assert_eq!(before.match_index, cluster.node(1).log().last_index(), "3 caught up");
    let _ = cluster.node_mut(1).step(rejection.expect("3 rejected an append while behind"));
    cluster.settle();
    assert_eq!(progress(cluster.node(1), 3), Some(before));
}

#[test]
fn a_follower_that_restarted_empty_is_sent_the_log_again_at_the_next_heartbeat() {
    // No new entry: the heartbeat's commit index, capped at the old match point, is beyond the follower's log,
    // and it says so.
    let mut cluster = cluster_with_a_follower_restarted_empty();
    for _ in 0..Config::new(1).heartbeat_ticks {
        cluster.tick_all();
    }
    cluster.settle();
    assert_eq!(log_entries(cluster.node(3)), log_entries(cluster.node(1)));
    assert_eq!(cluster.applied_data(3), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}

#[test]
fn restarted_follower_keeps_its_term_and_vote_5_5() {
    // currentTerm and votedFor are persistent state (Figure 2): after a crash, a node does not vote twice in a term.
    let voters = [1, 2, 3];
    let mut storage = MemoryStorage::default();
    let mut raft = new_node(paper_config(1), &voters);
    raft.step(vote_request(2, 1, 5, (0, 0))).unwrap();
    assert_eq!(drain_into(&mut raft, &mut storage).vote_replies(), vec![(2, 5, true)]);

    let mut raft = restart_from(paper_config(1), &voters, &storage);
    assert_eq!((raft.term(), raft.vote()), (5, Some(2)));
    raft.step(vote_request(3, 1, 5, (0, 0))).unwrap();
    raft.step(vote_request(2, 1, 5, (0, 0))).unwrap();
    assert_eq!(drain(&mut raft).vote_replies(), vec![(3, 5, false), (2, 5, true)]);
}

#[test]
fn restarted_candidate_keeps_its_vote_for_itself_5_5() {
    // A candidate that crashes restarts in its term, having voted for itself, and refuses other candidates of it.
    let voters = [1, 2, 3];
    let mut storage = MemoryStorage::default();
    let mut raft = new_node(paper_config(1), &voters);
    raft.campaign();
    drain_into(&mut raft, &mut storage);

    let mut raft = restart_from(paper_config(1), &voters, &storage);
    assert_eq!((raft.role(), raft.term(), raft.vote()), (Role::Follower, 1, Some(1)));
    raft.step(vote_request(2, 1, 1, (0, 0))).unwrap();
    assert_eq!(drain(&mut raft).vote_replies(), vec![(2, 1, false)]);
}

#[test]
fn restarted_node_keeps_its_log_and_commit_index_5_5() {
    // The log is persistent state: a restarted follower holds the entries it acknowledged, and re-applies the
    // committed ones.
    let voters = [1, 2, 3];
    let mut storage = MemoryStorage::default();
    let mut raft = new_node(paper_config(1), &voters);
    raft.step(append(2, 1, 1, (0, 0), entries(1, &[1, 1, 1]), 2)).unwrap();
    let out = drain_into(&mut raft, &mut storage);
    assert_eq!(out.append_replies(), vec![(2, 1, true, 3, 0, 0)]);

    let mut raft = restart_from(paper_config(1), &voters, &storage);
    assert_eq!(log_entries(&raft), entries(1, &[1, 1, 1]));
    assert_eq!(raft.log().committed, 2);
    assert_eq!(drain(&mut raft).committed, entries(1, &[1, 1]));
}

// ================================================================================================
// Persistence before reply (Figure 2: "respond to RPCs" only after updating stable storage)
// ================================================================================================

#[test]
fn vote_reply_is_not_released_before_the_vote_is_persisted() {
    // A granted vote is a promise: the reply may leave only after term and vote are durable.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.step(vote_request(2, 1, 1, (0, 0))).unwrap();
    let ready = raft.ready();
    let request = ready.persist.expect("the vote must be persisted");
    assert_eq!(request.hard_state, Some(HardState { term: 1, vote: Some(2), commit: 0 }));
    assert!(ready.messages.is_empty(), "vote reply released before persistence: {:?}", ready.messages);
    assert!(raft.ready().messages.is_empty(), "still held while the write is in flight");
    raft.persisted(request.token);
    let ready = raft.ready();
    assert_eq!(ready.messages, vec![vote_reply(1, 2, 1, true)]);
}

#[test]
fn append_reply_is_not_released_before_the_entries_are_persisted() {
    // A follower acknowledges entries only once they are on stable storage, so that the leader's count is real.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.step(append(2, 1, 1, (0, 0), entries(1, &[1, 1]), 0)).unwrap();
    let ready = raft.ready();
    let request = ready.persist.expect("the entries must be persisted");
    assert_eq!(request.entries, entries(1, &[1, 1]));
    assert!(ready.messages.iter().all(|m| m.body.kind_name() != "AppendReply"), "reply before persistence");
    raft.persisted(request.token);
    let out = drain(&mut raft);
    assert_eq!(out.append_replies(), vec![(2, 1, true, 2, 0, 0)]);
}

#[test]
fn candidate_requests_votes_only_after_persisting_its_own_vote() {
    // The candidate's new term and its vote for itself are durable before it asks anyone else.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.campaign();
    let ready = raft.ready();
    let request = ready.persist.expect("the new term must be persisted");
    assert_eq!(request.hard_state, Some(HardState { term: 1, vote: Some(1), commit: 0 }));
    assert!(ready.messages.iter().all(|m| m.body.kind_name() != "Vote"), "vote request before persistence");
    raft.persisted(request.token);
    assert_eq!(raft.ready().messages.iter().filter(|m| m.body.kind_name() == "Vote").count(), 2);
}

#[test]
fn leader_counts_its_own_entry_only_once_persisted() {
    // The leader is one of the majority only for entries on its own stable storage.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.campaign();
    let ready = raft.ready();
    raft.persisted(ready.persist.unwrap().token);
    raft.ready();
    raft.step(vote_reply(2, 1, 1, true)).unwrap();
    assert_eq!(raft.role(), Role::Leader);
    let ready = raft.ready();
    let request = ready.persist.expect("the no-op must be persisted");
    let noop_append = ready.messages.iter().find(|m| m.to == 2).expect("the leader sends before persisting");
    raft.step(accept(noop_append)).unwrap();
    assert_eq!(raft.log().committed, 0, "one follower alone is not a majority of three");
    raft.persisted(request.token);
    assert_eq!(raft.log().committed, 1, "the leader's own durable copy completes the majority");
}

#[test]
fn committed_entries_are_applied_only_once_durable_locally() {
    // A follower may learn that an entry is committed before its own copy is durable; it applies it only after.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    raft.step(append(2, 1, 1, (0, 0), entries(1, &[1]), 1)).unwrap();
    assert_eq!(raft.log().committed, 1);
    let ready = raft.ready();
    assert!(ready.committed.is_empty(), "applied before the entry was durable");
    raft.persisted(ready.persist.unwrap().token);
    assert_eq!(raft.ready().committed, entries(1, &[1]));
}

// ================================================================================================
// Majorities of small clusters
// ================================================================================================

#[test]
fn single_node_cluster_is_its_own_majority() {
    // One node: it elects itself (through pre-vote too) once its vote is durable, and commits what it has
    // persisted, with no messages.
    let mut raft = new_node(Config::new(1), &[1]);
    raft.campaign();
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 1), "its own vote counts once durable");
    let ready = raft.ready();
    assert!(ready.messages.is_empty());
    raft.persisted(ready.persist.unwrap().token);
    assert_eq!(raft.role(), Role::Leader);
    let ready = raft.ready();
    assert!(ready.messages.is_empty());
    assert_eq!(raft.log().committed, 0, "the no-op is not committed before it is durable");
    raft.persisted(ready.persist.unwrap().token);
    propose(&mut raft, "x", b"alone");
    let out = drain(&mut raft);
    assert_eq!(out.committed.iter().filter(|e| e.is_user_data()).count(), 1);
    for _ in 0..50 {
        raft.tick();
    }
    assert_eq!(raft.role(), Role::Leader, "check-quorum: a single node is always its own quorum");
}

#[test]
fn a_sole_voter_sends_nothing_in_its_term_before_its_vote_is_durable() {
    // With a learner to send to: entries of a term whose leader could forget it led it (a crash before its vote
    // was durable, and a restart that elects it again in that term with another log) must never reach anyone.
    let restored = RestoredState {
        membership: Membership { learners: [2].into(), ..Membership::with_voters([1]) },
        ..RestoredState::default()
    };
    let mut raft = Raft::new(Config::new(1), restored).expect("node");
    raft.campaign();
    let ready = raft.ready();
    assert!(ready.messages.is_empty(), "nothing before the vote is durable: {:?}", ready.messages);
    assert_ne!(raft.role(), Role::Leader);
    raft.persisted(ready.persist.expect("the vote").token);
    assert_eq!(raft.role(), Role::Leader);
    assert!(drain(&mut raft).messages.iter().any(|m| m.to == 2), "then it replicates to the learner");
}

#[test]
fn two_node_cluster_needs_both_nodes() {
    // Two nodes: a majority is both of them, for votes and for commitment.
    let mut raft = new_node(paper_config(1), &[1, 2]);
    raft.campaign();
    drain(&mut raft);
    assert_eq!(raft.role(), Role::Candidate, "its own vote is half, not a majority");
    raft.step(vote_reply(2, 1, 1, false)).unwrap();
    assert_eq!(raft.role(), Role::Follower);

    let mut raft = new_node(paper_config(1), &[1, 2]);
    elect(&mut raft);
    drain(&mut raft);
    assert_eq!(raft.log().committed, 0, "the leader's durable no-op alone is not a majority");
    raft.step(msg(2, 1, 1, MessageBody::AppendReply { success: true, index: 1, hint_index: 0, hint_term: 0 })).unwrap();
    assert_eq!(raft.log().committed, 1);
}

#[test]
fn four_node_cluster_needs_three_nodes() {
    // Four nodes: a majority is three, so two votes or two copies are not enough.
    let raft = candidate_after_votes(4, &[(2, true)]);
    assert_eq!(raft.role(), Role::Candidate);
    let raft = candidate_after_votes(4, &[(2, true), (3, true)]);
    assert_eq!(raft.role(), Role::Leader);
    let raft = candidate_after_votes(4, &[(2, false), (3, false)]);
    assert_eq!(raft.role(), Role::Follower, "with two refusals, three grants are out of reach");

    let mut raft = new_node(paper_config(1), &ids(4));
    let out = elect(&mut raft);
    accept_appends(&mut raft, &out, &[2]);
    drain(&mut raft);
    assert_eq!(raft.log().committed, 0, "two copies of four");
    accept_appends(&mut raft, &out, &[3]);
    assert_eq!(raft.log().committed, 1, "three copies of four");
}

// ================================================================================================
// Extensions: no-op on election, pre-vote, check-quorum, leader lease on votes
// ================================================================================================

#[test]
fn new_leader_appends_a_noop_entry_of_its_term() {
    // Section 8: a new leader appends a blank entry of its term, so that earlier entries commit without waiting
    // for a client; the application never sees it as data.
    let mut raft = restored_node(paper_config(1), restored(&[1, 2, 3], 1, None, 0, &[1]));
    let out = elect(&mut raft);
    let noop = raft.log().entry(2).unwrap().clone();
    assert_eq!((noop.kind, noop.term, noop.id.clone()), (EntryKind::Noop, 2, None));
    assert_eq!(out.appends_to(2), vec![(1, 1, vec![noop.clone()], 0)]);
    accept_appends(&mut raft, &out, &[2]);
    let committed = drain(&mut raft).committed;
    assert_eq!(raft.log().committed, 2, "the earlier entry commits with the no-op, no proposal needed");
    assert_eq!(committed, vec![entry(1, 1), noop.clone()]);
    assert!(!noop.is_user_data());
}

#[test]
fn pre_candidate_does_not_increase_its_term() {
    // Pre-vote (thesis 9.6): a node that times out first asks whether it could win, without changing its term
    // or vote; only a majority of pre-votes lets it start a real election.
    let mut config = Config::new(1);
    config.check_quorum = false;
    let mut raft = new_node(config, &[1, 2, 3]);
    ticks_until_campaign(&mut raft, 100);
    assert_eq!((raft.role(), raft.term(), raft.vote()), (Role::PreCandidate, 0, None));
    let ready = raft.ready();
    assert!(ready.persist.is_none(), "nothing durable changed");
    let mut requests: Vec<_> = ready.messages.iter().map(|m| (m.to, m.term, m.body.clone())).collect();
    requests.sort_by_key(|r| r.0);
    let body = MessageBody::PreVote { last_index: 0, last_term: 0 };
    assert_eq!(requests, vec![(2, 1, body.clone()), (3, 1, body)], "pre-votes name the next term");

    raft.step(msg(2, 1, 1, MessageBody::PreVoteReply { granted: true })).unwrap();
    assert_eq!((raft.role(), raft.term(), raft.vote()), (Role::Candidate, 1, Some(1)));
}

#[test]
fn a_pre_vote_granted_after_the_pre_vote_was_won_is_ignored_not_dropped() {
    // In a cluster of three, the first granted pre-vote wins; the second arrives when the node is already a
    // candidate. That is the normal course of an election, not a malformed message.
    let mut config = Config::new(1);
    config.check_quorum = false;
    let mut raft = new_node(config, &[1, 2, 3]);
    ticks_until_campaign(&mut raft, 100);
    raft.step(msg(2, 1, 1, MessageBody::PreVoteReply { granted: true })).unwrap();
    assert_eq!(raft.role(), Role::Candidate);
    assert_eq!(raft.step(msg(3, 1, 1, MessageBody::PreVoteReply { granted: true })), Ok(()));
    assert_eq!(raft.stats().dropped_total(), 0);
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 1));
}

#[test]
fn pre_vote_changes_neither_term_nor_vote_of_the_receiver() {
    // A pre-vote is answered from the log alone: granting it changes no term, no vote, and needs no write.
    let mut config = Config::new(1);
    config.check_quorum = false;
    let mut raft = restored_node(config, restored(&[1, 2, 3], 1, None, 0, &[1]));
    raft.step(msg(2, 1, 2, MessageBody::PreVote { last_index: 1, last_term: 1 })).unwrap();
    raft.step(msg(3, 1, 2, MessageBody::PreVote { last_index: 0, last_term: 0 })).unwrap();
    let out = drain(&mut raft);
    assert_eq!(out.pre_vote_replies(), vec![(2, 2, true), (3, 1, false)], "the stale log is refused");
    assert_eq!((raft.term(), raft.vote()), (1, None));
    assert!(out.requests.is_empty(), "nothing to persist");
}

#[test]
fn partitioned_node_with_pre_vote_does_not_disrupt_the_cluster_on_rejoin() {
    // Pre-vote: a node cut off from the majority cannot win pre-votes, so it does not inflate its term and
    // does not depose the leader when it comes back. Without pre-vote, its term grows while it is away.
    for pre_vote in [true, false] {
        let mut cluster = Cluster::with_config(3, |id| {
            let mut config = flotilla_harness::config(id);
            config.pre_vote = pre_vote;
            config
        });
        let leader = cluster.elect_any();
        let term = cluster.node(leader).term();
        let away = if leader == 3 { 2 } else { 3 };
        cluster.isolated = vec![away];
        for _ in 0..100 {
            cluster.tick_all();
        }
        if !pre_vote {
            assert!(cluster.node(away).term() > term, "without pre-vote the isolated node's term grows");
            continue;
        }
        assert_eq!(cluster.node(away).term(), term, "the isolated node kept its term");
        cluster.isolated.clear();
        for _ in 0..30 {
            cluster.tick_all();
        }
        assert_eq!(cluster.leader(), Some(leader));
        assert_eq!(cluster.node(leader).term(), term);
        assert_eq!(cluster.node(away).leader(), Some(leader));
    }
}

#[test]
fn check_quorum_leader_steps_down_without_a_majority() {
    // CheckQuorum (thesis 6.2): a leader that has not heard from a majority within an election timeout steps down.
    let mut config = paper_config(1);
    config.check_quorum = true;
    let mut raft = new_node(config.clone(), &[1, 2, 3]);
    raft.campaign();
    drain(&mut raft);
    raft.step(vote_reply(2, 1, 1, true)).unwrap();
    assert_eq!(raft.role(), Role::Leader);
    // From now on the followers are silent.
    for _ in 1..config.election_ticks_min {
        raft.tick();
    }
    assert_eq!(raft.role(), Role::Leader);
    raft.tick();
    assert_eq!((raft.role(), raft.term(), raft.leader()), (Role::Follower, 1, None));
    assert_eq!(raft.stats().check_quorum_step_downs, 1);
}

#[test]
fn check_quorum_leader_stays_while_a_majority_answers() {
    // A leader that hears from a majority (itself and one of two followers) keeps leading.
    let mut config = paper_config(1);
    config.check_quorum = true;
    let mut raft = new_node(config.clone(), &[1, 2, 3]);
    elect(&mut raft);
    for _ in 0..config.election_ticks_min * 5 {
        raft.tick();
        raft.step(msg(2, 1, 1, MessageBody::HeartbeatReply { read_round: 0 })).unwrap();
        drain(&mut raft);
    }
    assert_eq!(raft.role(), Role::Leader);
    assert_eq!(raft.stats().check_quorum_step_downs, 0);
}

/// A follower with check-quorum on that has just heard from leader 2 in term 1.
fn follower_in_lease() -> Raft {
    let mut raft = restored_node(Config::new(1), restored(&[1, 2, 3], 1, None, 0, &[]));
    raft.step(heartbeat(2, 1, 1)).unwrap();
    drain(&mut raft);
    raft
}

#[test]
fn follower_ignores_vote_requests_within_leader_lease() {
    // Thesis 4.2.3: a server that has heard from a current leader within the minimum election timeout neither
    // updates its term nor grants its vote, so that a removed or partitioned server cannot disrupt the cluster.
    let mut raft = follower_in_lease();
    raft.step(vote_request(3, 1, 2, (0, 0))).unwrap();
    raft.step(msg(3, 1, 2, MessageBody::PreVote { last_index: 0, last_term: 0 })).unwrap();
    let out = drain(&mut raft);
    assert!(out.messages.is_empty(), "answered in lease: {:?}", out.kinds());
    assert_eq!((raft.term(), raft.vote(), raft.leader()), (1, None, Some(2)));
    assert_eq!(raft.stats().votes_ignored_in_lease, 2);
}

#[test]
fn follower_grants_votes_once_leader_lease_expires() {
    // After an election timeout without hearing from the leader, the lease is over and votes are granted again.
    let mut raft = follower_in_lease();
    for _ in 0..Config::new(1).election_ticks_min {
        raft.tick();
    }
    raft.step(vote_request(3, 1, 2, (0, 0))).unwrap();
    let out = drain(&mut raft);
    assert_eq!(out.vote_replies(), vec![(3, 2, true)]);
    assert_eq!((raft.term(), raft.vote()), (2, Some(3)));
}

#[test]
fn transfer_vote_request_bypasses_leader_lease() {
    // A vote request marked as a leadership transfer comes from the leader's own decision: the lease yields to it.
    let mut raft = follower_in_lease();
    raft.step(msg(3, 1, 2, MessageBody::Vote { last_index: 0, last_term: 0, transfer: true })).unwrap();
    let out = drain(&mut raft);
    assert_eq!(out.vote_replies(), vec![(3, 2, true)]);
    assert_eq!(raft.term(), 2);
}

// ================================================================================================
// Extensions: fast log back-off
// ================================================================================================

#[test]
fn rejection_hint_lets_the_leader_skip_a_whole_conflicting_term() {
    // Paper 5.3, last paragraphs: "when rejecting an AppendEntries request, the follower can include the term of
    // the conflicting entry and the first index it stores for that term", so the leader skips whole terms.
    // Follower side: Figure 7 (f) refuses prev 10@6 and points at its last entry of a term <= 6: 10@3.
    let mut follower = restored_node(paper_config(2), restored(&[1, 2, 3], 7, None, 0, FIGURE_7_FOLLOWERS[5]));
    follower.step(append(1, 2, 8, (10, 6), vec![], 0)).unwrap();
    assert_eq!(drain(&mut follower).append_replies(), vec![(1, 8, false, 10, 10, 3)]);
    // Figure 7 (e), [1,1,1,4,4,4,4], points at 7@4.
    let mut follower = restored_node(paper_config(2), restored(&[1, 2, 3], 7, None, 0, FIGURE_7_FOLLOWERS[4]));
    follower.step(append(1, 2, 8, (10, 6), vec![], 0)).unwrap();
    assert_eq!(drain(&mut follower).append_replies(), vec![(1, 8, false, 10, 7, 4)]);

    // Leader side: from 10@3 it goes back to 3@1 (its last entry of a term <= 3), from 7@4 to 5@4, in one step.
    for (hint, next, prev) in [((10, 3), 4, (3, 1)), ((7, 4), 6, (5, 4))] {
        let mut leader =
            restored_node(paper_config(1), restored(&[1, 2, 3], 7, None, 0, &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6]));
        let out = elect(&mut leader);
        assert_eq!(out.appends_to(2)[0].0, 10, "the first probe follows the leader's last old entry");
        let reply = MessageBody::AppendReply { success: false, index: 10, hint_index: hint.0, hint_term: hint.1 };
        leader.step(msg(2, 1, 8, reply)).unwrap();
        assert_eq!(progress(&leader, 2).unwrap().next_index, next, "hint {hint:?}");
        let out = drain(&mut leader);
        let (prev_index, prev_term, ..) = out.appends_to(2)[0].clone();
        assert_eq!((prev_index, prev_term), prev, "hint {hint:?}");
    }
}

#[test]
fn fast_back_off_repairs_figure_7_logs_in_one_rejection() {
    // With conflict hints a follower of Figure 7 is repaired after at most one rejection, where stepping back
    // one entry per round trip would take up to seven (follower f).
    for follower_log in FIGURE_7_FOLLOWERS {
        let cluster = figure_7_cluster(follower_log);
        let rejections = cluster.node(2).stats().append_rejections;
        assert!(rejections <= 1, "follower {follower_log:?} rejected {rejections} appends");
        assert_eq!(log_terms(cluster.node(2)), log_terms(cluster.node(1)), "follower {follower_log:?}");
    }
}

// ================================================================================================
// Extensions: proposal forwarding and idempotent retry
// ================================================================================================

#[test]
fn follower_forwards_proposals_to_the_leader() {
    // A follower forwards its proposals to the leader it knows; with no leader known, it keeps them until one is.
    let mut raft = new_node(paper_config(3), &[1, 2, 3]);
    propose(&mut raft, "p", b"payload");
    assert!(drain(&mut raft).kinds().iter().all(|&k| k != "Propose"), "no leader to forward to");
    assert_eq!(raft.pending_proposals(), 1);
    raft.step(heartbeat(1, 3, 1)).unwrap();
    let out = drain(&mut raft);
    let forwarded: Vec<_> = out.messages.iter().filter(|m| m.body.kind_name() == "Propose").collect();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].to, 1);
    let MessageBody::Propose { proposals } = &forwarded[0].body else { unreachable!() };
    assert_eq!((&*proposals[0].id, &*proposals[0].data), ("p", &b"payload"[..]));

    // The leader appends a forwarded proposal as its own.
    let mut leader = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut leader);
    leader.step(forwarded[0].clone()).unwrap();
    let last = leader.log().entry(leader.log().last_index()).unwrap().clone();
    assert_eq!((last.term, last.id.as_deref()), (1, Some("p")));
}

#[test]
fn leader_appends_a_retried_proposal_only_once() {
    // A proposal's id makes retries idempotent: the leader does not append an id its log already holds.
    let mut leader = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut leader);
    let proposal = flotilla_raft::Proposal { id: Arc::from("p"), data: Arc::from(&b"once"[..]) };
    let forwarded = msg(3, 1, 1, MessageBody::Propose { proposals: vec![proposal] });
    leader.step(forwarded.clone()).unwrap();
    let last = leader.log().last_index();
    leader.step(forwarded).unwrap();
    assert_eq!(leader.log().last_index(), last);
    assert_eq!(leader.stats().duplicate_proposals, 1);
}

#[test]
fn a_leader_takes_proposals_and_reads_only_from_members() {
    // A node that is not a member (a stranger the driver learned from a vote request, say) cannot put an entry
    // into the log nor have the leader run a read for it: both are dropped as from an unknown sender.
    let mut leader = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut leader);
    drain(&mut leader);
    let last = leader.log().last_index();
    let proposal = flotilla_raft::Proposal { id: Arc::from("9_p"), data: Arc::from(&b"forged"[..]) };
    let forwarded = msg(9, 1, 1, MessageBody::Propose { proposals: vec![proposal.clone()] });
    assert_eq!(leader.step(forwarded), Err(DropReason::UnknownSender));
    let read = msg(9, 1, 1, MessageBody::ReadIndex { request: 1, lease: false });
    assert_eq!(leader.step(read), Err(DropReason::UnknownSender));
    assert_eq!(leader.log().last_index(), last, "nothing appended");
    assert!(drain(&mut leader).messages.is_empty(), "nothing sent for the stranger");
    assert_eq!(leader.stats().dropped_unknown_sender, 2);

    // The same proposal from a member is appended.
    leader.step(msg(3, 1, 1, MessageBody::Propose { proposals: vec![proposal] })).unwrap();
    assert_eq!(leader.log().last_index(), last + 1);
}

#[test]
fn a_commit_notice_counts_only_from_a_member_of_a_configuration_the_log_holds() {
    // Node 2 of five follows leader 1 and holds 2@1, not committed. A stranger's notice that 2@1 committed is
    // dropped: taken, node 2 would apply 2@1, and then answer a later leader's 2@2 as matched without holding it.
    let mut raft = new_node(paper_config(2), &[1, 2, 3, 4, 5]);
    raft.step(append(1, 2, 1, (0, 0), entries(1, &[1, 1]), 1)).unwrap();
    drain(&mut raft);
    let notice = |from| msg(from, 2, 7, MessageBody::CommitNotice { index: 2, term: 1 });
    assert_eq!(raft.step(notice(99)), Err(DropReason::UnknownSender));
    assert_eq!(raft.log().committed, 1);
    assert!(drain(&mut raft).committed.is_empty());
    // The same notice from a member (a voter that answered this node's vote request) teaches the commit.
    raft.step(notice(3)).unwrap();
    assert_eq!(raft.log().committed, 2);
}

#[test]
fn a_read_index_reply_counts_only_from_the_leader_this_node_follows() {
    // Follower 1 asks leader 2 for read 7; an answer from anyone else (here with a stale index) answers nothing.
    let mut raft = follower_in_lease();
    raft.read_index(7, false).unwrap();
    drain(&mut raft);
    assert_eq!(
        raft.step(msg(99, 1, 1, MessageBody::ReadIndexReply { request: 7, index: 0 })),
        Err(DropReason::Unexpected)
    );
    assert_eq!(
        raft.step(msg(3, 1, 1, MessageBody::ReadIndexReply { request: 7, index: 0 })),
        Err(DropReason::Unexpected)
    );
    assert!(raft.ready().reads.is_empty(), "no read answered");
    raft.step(msg(2, 1, 1, MessageBody::ReadIndexReply { request: 7, index: 0 })).unwrap();
    assert_eq!(raft.ready().reads.len(), 1);
}

#[test]
fn unanswered_proposal_is_sent_again_after_the_retry_interval() {
    // A pending proposal that has not committed after `proposal_retry_ticks` is sent to the leader again.
    let mut config = paper_config(3);
    config.proposal_retry_ticks = 8;
    let mut raft = new_node(config, &[1, 2, 3]);
    raft.step(heartbeat(1, 3, 1)).unwrap();
    propose(&mut raft, "p", b"payload");
    assert!(drain(&mut raft).kinds().contains(&"Propose"), "first sent at once");
    let mut resent_at = Vec::new();
    for tick in 1..=12 {
        raft.tick();
        raft.step(heartbeat(1, 3, 1)).unwrap();
        if drain(&mut raft).kinds().contains(&"Propose") {
            resent_at.push(tick);
        }
    }
    assert!(!resent_at.is_empty(), "never retried");
    assert!(resent_at[0] >= 8 && resent_at[0] <= 10, "retried at ticks {resent_at:?}");
    assert!(raft.stats().proposal_retries >= 1);
}

#[test]
fn proposal_retried_across_a_leader_change_commits_exactly_once() {
    // Node 3's proposal reaches leader 1 and node 2, but not a majority acknowledgement; leader 1 fails. Node 3
    // sends it again to the new leader 2, which already holds it: it commits once, at its original place.
    let mut cluster = Cluster::with_config(3, paper_config);
    assert!(cluster.elect(1));
    cluster.propose(3, "p", b"payload");
    cluster.settle_with(|m| {
        let lost = (m.from == 1 && m.to == 3) || (m.from == 2 && m.to == 1 && m.body.kind_name() == "AppendReply");
        (!lost).then_some(m)
    });
    assert_eq!(cluster.node(1).log().committed, 1, "only the no-op is committed");
    assert_eq!(cluster.node(2).log().entry(2).unwrap().id.as_deref(), Some("p"));

    cluster.isolated = vec![1];
    assert!(cluster.elect(2));
    cluster.settle();
    cluster.isolated.clear();
    for _ in 0..3 {
        cluster.tick_all();
    }
    for id in 1..=3 {
        assert_eq!(cluster.applied_data(id), vec![b"payload".to_vec()], "node {id}");
    }
    assert!(cluster.node(2).stats().duplicate_proposals >= 1, "the retry reached the new leader");
    assert_eq!(cluster.node(3).pending_proposals(), 0);
}

// ================================================================================================
// Extensions: leadership transfer
// ================================================================================================

#[test]
fn leadership_transfer_hands_over_to_an_up_to_date_target() {
    // Thesis 3.10: the leader tells an up-to-date target to time out now; it wins the next term at once, even
    // with pre-vote and check-quorum on (its votes bypass the lease).
    let mut cluster = Cluster::new(3);
    let leader = cluster.elect_any();
    let term = cluster.node(leader).term();
    let target = if leader == 1 { 2 } else { 1 };
    cluster.node_mut(leader).transfer_leadership(target).unwrap();
    cluster.settle();
    assert_eq!(cluster.leader(), Some(target));
    assert_eq!(cluster.node(target).term(), term + 1);
    assert_eq!(cluster.node(leader).role(), Role::Follower);
    assert_eq!(cluster.node(target).stats().transfers_received, 1);
}

#[test]
fn a_leader_that_leaves_hands_over_to_the_most_caught_up_voter() {
    // A planned departure (a graceful close): the leader picks the voter whose log matches furthest, so the
    // hand-over needs the fewest entries sent before the target may campaign.
    let mut cluster = Cluster::new(3);
    assert!(cluster.elect(1));
    cluster.isolated.push(3);
    cluster.propose(1, "only-2-has-it", b"x");
    cluster.settle();
    cluster.isolated.clear();
    assert_eq!(cluster.node_mut(1).transfer_leadership_to_most_caught_up(), Ok(2));
    cluster.settle();
    assert_eq!(cluster.leader(), Some(2));
    assert_eq!(cluster.node(1).role(), Role::Follower);
    assert_eq!(cluster.node_mut(2).transfer_leadership_to_most_caught_up(), Ok(1), "ties go to the lowest id");
    assert_eq!(cluster.node_mut(3).transfer_leadership_to_most_caught_up(), Err(TransferError::NotLeader));
    let mut alone = Cluster::new(1);
    assert!(alone.elect(1));
    assert_eq!(alone.node_mut(1).transfer_leadership_to_most_caught_up(), Err(TransferError::NoOtherVoter));
}

#[test]
fn a_follower_campaigns_on_timeout_now_only_from_the_leader_it_follows() {
    // A transfer skips pre-vote and every lease; only the leader of the term may ask for one. A TimeoutNow from
    // another node, or from a later term (a leader hands over only to a node that answered it in its term), is
    // dropped and changes neither role nor term.
    let mut raft = follower_in_lease();
    assert_eq!(raft.step(msg(3, 1, 1, MessageBody::TimeoutNow)), Err(DropReason::Unexpected));
    assert_eq!(raft.step(msg(2, 1, 2, MessageBody::TimeoutNow)), Err(DropReason::Unexpected));
    assert_eq!(raft.step(msg(3, 1, 5, MessageBody::TimeoutNow)), Err(DropReason::Unexpected));
    assert_eq!((raft.role(), raft.term(), raft.leader()), (Role::Follower, 1, Some(2)));
    assert!(drain(&mut raft).messages.is_empty());
    raft.step(msg(2, 1, 1, MessageBody::TimeoutNow)).unwrap();
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 2));
}

#[test]
fn transfer_target_campaigns_at_once_on_timeout_now() {
    // The target of a transfer skips its timer and pre-vote, and marks its requests as a transfer.
    let mut raft = follower_in_lease();
    raft.step(msg(2, 1, 1, MessageBody::TimeoutNow)).unwrap();
    assert_eq!((raft.role(), raft.term()), (Role::Candidate, 2));
    let out = drain(&mut raft);
    let requests: Vec<_> =
        out.messages.iter().filter(|m| m.body.kind_name() == "Vote").map(|m| m.body.clone()).collect();
    assert_eq!(requests, vec![MessageBody::Vote { last_index: 0, last_term: 0, transfer: true }; 2]);
}

#[test]
fn leadership_transfer_waits_for_a_lagging_target_to_catch_up() {
    // The leader sends TimeoutNow only once the target's log matches its own, and takes no proposals meanwhile.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    let out = elect(&mut raft);
    accept_appends(&mut raft, &out, &[3]);
    drain(&mut raft);
    raft.transfer_leadership(2).unwrap();
    assert!(!drain(&mut raft).kinds().contains(&"TimeoutNow"), "target 2 has not acknowledged the no-op");

    propose(&mut raft, "x", b"during transfer");
    assert_eq!(raft.log().last_index(), 1, "no new entries while leadership moves");
    accept_appends(&mut raft, &out, &[2]);
    let out = drain(&mut raft);
    let timeout_now: Vec<NodeId> =
        out.messages.iter().filter(|m| m.body == MessageBody::TimeoutNow).map(|m| m.to).collect();
    assert_eq!(timeout_now, vec![2]);
}

#[test]
fn leader_resumes_proposals_when_a_transfer_times_out() {
    // A transfer that does not finish within an election timeout is abandoned; held proposals are then appended.
    let mut raft = new_node(paper_config(1), &[1, 2, 3]);
    elect(&mut raft);
    raft.transfer_leadership(2).unwrap();
    propose(&mut raft, "x", b"held");
    assert_eq!(raft.log().last_index(), 1);
    for _ in 0..Config::new(1).election_ticks_min {
        raft.tick();
    }
    assert_eq!((raft.role(), raft.lead_transferee()), (Role::Leader, None));
    let last = raft.log().entry(raft.log().last_index()).unwrap().clone();
    assert_eq!(last.id.as_deref(), Some("x"));
}

// ================================================================================================
// Extensions: flow control and message size
// ================================================================================================

/// A leader of [1, 2, 3] with a committed no-op (followers replicating), then five proposals of 44 bytes each
/// (32 bytes of overhead, a 2-byte id and 10 bytes of data). Returns the output that sends them.
fn leader_with_five_proposals(adjust: impl Fn(&mut Config)) -> (Raft, Output) {
    let mut config = paper_config(1);
    adjust(&mut config);
    let mut raft = leader_with_committed_noop(config, &[1, 2, 3]);
    for i in 1..=5 {
        propose(&mut raft, &format!("p{i}"), b"0123456789");
    }
    let out = drain(&mut raft);
    (raft, out)
}

#[test]
fn flow_control_limits_append_messages_in_flight() {
    // At most `max_inflight_messages` appends are unacknowledged at once; an acknowledgement frees room.
    let (mut raft, out) = leader_with_five_proposals(|c| {
        c.max_inflight_messages = 2;
        c.max_message_bytes = 50; // one 44-byte entry per message
    });
    let sent = out.entry_appends_to(2);
    let indices: Vec<Vec<Index>> = sent.iter().map(|es| es.iter().map(|e| e.index).collect()).collect();
    assert_eq!(indices, vec![vec![2], vec![3]]);
    let first = out
        .to(2)
        .into_iter()
        .find(|m| matches!(&m.body, MessageBody::Append { entries, .. } if !entries.is_empty()))
        .unwrap();
    raft.step(accept(first)).unwrap();
    let out = drain(&mut raft);
    let indices: Vec<Vec<Index>> =
        out.entry_appends_to(2).iter().map(|es| es.iter().map(|e| e.index).collect()).collect();
    assert_eq!(indices, vec![vec![4]], "one acknowledgement frees one slot");
}

#[test]
fn flow_control_limits_entry_bytes_in_flight() {
    // At most `max_inflight_bytes` of entries are unacknowledged at once.
    let (mut raft, out) = leader_with_five_proposals(|c| {
        c.max_inflight_bytes = 88;
        c.max_message_bytes = 50;
    });
    let sent = out.entry_appends_to(2);
    let bytes: u64 = sent.iter().flatten().map(Entry::size_bytes).sum();
    assert_eq!(sent.len(), 2, "two 44-byte entries fill 88 bytes");
    assert!(bytes <= 88);
    let first = out
        .to(2)
        .into_iter()
        .find(|m| matches!(&m.body, MessageBody::Append { entries, .. } if !entries.is_empty()))
        .unwrap();
    raft.step(accept(first)).unwrap();
    assert_eq!(drain(&mut raft).entry_appends_to(2).len(), 1, "the acknowledged bytes make room for one more");
}

#[test]
fn append_messages_respect_max_message_bytes() {
    // One append carries at most `max_message_bytes` of entries; a proposal that could never fit is refused.
    let (mut raft, out) = leader_with_five_proposals(|c| c.max_message_bytes = 100);
    let sent = out.entry_appends_to(3);
    assert!(sent.len() >= 3, "five 44-byte entries need three messages of 100 bytes");
    for entries in &sent {
        let bytes: u64 = entries.iter().map(Entry::size_bytes).sum();
        assert!(bytes <= 100, "a message of {bytes} bytes");
    }
    let indices: Vec<Index> = sent.iter().flatten().map(|e| e.index).collect();
    assert_eq!(indices, vec![2, 3, 4, 5, 6], "every entry, once, in order");
    let too_large = raft.propose(Arc::from("big"), Arc::from(vec![0u8; 100]));
    assert!(matches!(too_large, Err(ProposeError::TooLarge { limit: 100, .. })), "{too_large:?}");
}

#[test]
fn forwarded_proposals_are_batched_within_max_message_bytes() {
    // A follower forwards its proposals in messages of at most `max_message_bytes` each.
    let mut config = paper_config(3);
    config.max_message_bytes = 100;
    let mut raft = new_node(config, &[1, 2, 3]);
    raft.step(heartbeat(1, 3, 1)).unwrap();
    for i in 1..=3 {
        propose(&mut raft, &format!("p{i}"), b"0123456789");
    }
    let out = drain(&mut raft);
    let batches: Vec<Vec<String>> = out
        .messages
        .iter()
        .filter_map(|m| match &m.body {
            MessageBody::Propose { proposals } => Some(proposals.iter().map(|p| p.id.to_string()).collect()),
            _ => None,
        })
        .collect();
    assert_eq!(batches, vec![vec!["p1".to_string(), "p2".to_string()], vec!["p3".to_string()]]);
}
