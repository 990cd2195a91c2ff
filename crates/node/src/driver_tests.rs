//! The driver's own rules, on typed events: raft indices and proposers of committed entries, ids, what it does
//! with unreadable messages and strangers, a store the caller injects, and a snapshot asked for and answered.

use super::*;
use crate::events::{Event, Events};
use crate::timing::TimingMs;
use flotilla_raft::ConfChangeError;
use flotilla_storage::Submitted;
use std::sync::{Arc, Mutex};

fn options(name: &str, members: Members) -> NodeOptions {
    let ticks = TimingMs { election_min: 300.0, election_max: 500.0, heartbeat: 50.0 }.to_ticks();
    let mut options = NodeOptions::new(name, members, ticks);
    options.raft.seed = 7;
    options
}

fn single_node() -> NodeDriver {
    NodeDriver::new(options("a", Members::Discover { cluster_size: 1 })).expect("driver")
}

fn flush(driver: &mut NodeDriver) -> Events {
    let mut events = Events::default();
    driver.flush(&mut events);
    events
}

fn data(text: &str) -> Payload {
    Payload::from(text.as_bytes())
}

#[test]
fn proposal_ids_are_the_name_and_a_version_4_uuid() {
    let mut driver = single_node();
    let id = driver.propose(data("1")).expect("proposal accepted");
    let uuid = id.strip_prefix("a_").expect("name prefix");
    let groups: Vec<&str> = uuid.split('-').collect();
    assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{id}");
    assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
    assert!(groups[2].starts_with('4') && "89ab".contains(&groups[3][..1]), "{id}");
    assert_ne!(driver.propose(data("null")).expect("proposal accepted"), id);
}

#[test]
fn an_id_made_where_the_log_keeps_it_is_the_name_and_a_version_4_uuid_for_short_and_long_names() {
    for name in ["a", "é-node", &"n".repeat(128), &"long".repeat(60)] {
        for id in [super::own_proposal_id_shared(name), super::own_proposal_id(name).into()] {
            let uuid = id.strip_prefix(&format!("{name}_")).expect("name prefix");
            let groups: Vec<&str> = uuid.split('-').collect();
            assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{id}");
            assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
            assert!(groups[2].starts_with('4') && "89ab".contains(&groups[3][..1]), "{id}");
        }
    }
    assert_ne!(super::own_proposal_id_shared("a"), super::own_proposal_id_shared("a"));
}

#[test]
fn committed_events_carry_raft_indices_and_who_proposed_each_entry() {
    let mut driver = single_node();
    driver.campaign();
    let elected = flush(&mut driver);
    assert!(elected.0.contains(&Event::StateChanged), "the election is a state change: {elected:?}");
    let own = driver.propose(data("1")).expect("proposal accepted");
    let request = driver.propose_request("r", data("2")).expect("request accepted");
    assert_eq!(request.committed_at, None);
    let events = flush(&mut driver);
    let committed: Vec<(Index, Option<&str>, Proposer)> =
        events.committed().map(|(entry, proposer)| (entry.index, entry.id.as_deref(), proposer)).collect();
    // Index 1 is the new leader's empty entry, which is the engine's own: not reported.
    assert_eq!(committed, vec![(2, Some(&*own), Proposer::ThisNode), (3, Some("req(r)"), Proposer::WaitedRequest)]);
    let appended: Vec<Index> =
        events.0.iter().filter_map(|e| if let Event::Appended(entry) = e { Some(entry.index) } else { None }).collect();
    assert_eq!(appended, vec![2, 3], "the leader reports its own appends");
    let again = driver.propose_request("r", data("again")).expect("request accepted");
    assert_eq!(again, RequestProposed { id: request.id, committed_at: Some(3) }, "a retry is answered at once");
}

#[test]
fn a_message_no_codec_could_read_is_counted_and_takes_no_seat() {
    let mut driver = NodeDriver::new(options("a", Members::Discover { cluster_size: 2 })).expect("driver");
    driver.receive_unreadable("stranger");
    driver.receive_unreadable("a");
    assert!(!driver.is_peer("stranger"));
    assert_eq!(driver.status().wire, WireStats { malformed: 1, unknown_sender: 0 }, "a node's own broadcasts are not");
    driver.receive("b", Received::Introduction);
    assert!(driver.is_peer("b"));
    let events = flush(&mut driver);
    assert!(events.0.contains(&Event::Introduce { to: Some("b".into()) }), "a new member is greeted: {events:?}");
    driver.receive_unreadable("stranger");
    driver.receive("stranger", Received::Introduction);
    assert_eq!(driver.status().wire, WireStats { malformed: 1, unknown_sender: 2 }, "no room for a stranger");
    let too_long = "m".repeat(MAX_NAME_BYTES + 1);
    driver.receive(&too_long, Received::Introduction);
    assert_eq!(driver.status().wire.malformed, 2, "no member can have that name");
}

/// A store that keeps every write pending until the test acknowledges it.
struct HeldStore(Arc<Mutex<Vec<u64>>>);

impl Storage for HeldStore {
    fn submit(&mut self, request: flotilla_raft::PersistRequest) -> Submitted {
        self.0.lock().expect("lock").push(request.token);
        Submitted::Pending
    }
}

#[test]
fn a_driver_on_an_injected_store_commits_only_what_the_store_made_durable() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let members = Members::Named(vec!["a".into()]);
    let store = Box::new(HeldStore(tokens.clone()));
    let mut driver = NodeDriver::with_storage(options("a", members), store, RestoredState::default()).expect("driver");
    driver.campaign();
    let acknowledge = |driver: &mut NodeDriver| {
        for token in std::mem::take(&mut *tokens.lock().expect("lock")) {
            driver.persisted(token);
        }
    };
    for _ in 0..4 {
        let _ = flush(&mut driver);
        acknowledge(&mut driver);
    }
    assert_eq!(driver.raft().role(), Role::Leader);
    driver.propose(data("1")).expect("proposal accepted");
    assert_eq!(flush(&mut driver).committed().count(), 0, "committed before the store made it durable");
    acknowledge(&mut driver);
    assert_eq!(flush(&mut driver).committed().count(), 1);
}

#[test]
fn a_snapshot_is_asked_for_at_the_threshold_and_only_that_one_is_taken() {
    let mut driver = NodeDriver::new(NodeOptions {
        snapshot_threshold: Some(3),
        ..options("a", Members::Discover { cluster_size: 1 })
    })
    .expect("driver");
    driver.campaign();
    let _ = flush(&mut driver);
    for n in 0..3 {
        driver.propose(data(&n.to_string())).expect("proposal accepted");
    }
    let events = flush(&mut driver);
    let Some(Event::SnapshotWanted(index)) = events.0.iter().find(|e| matches!(e, Event::SnapshotWanted(_))) else {
        panic!("no snapshot asked for: {events:?}")
    };
    assert!(matches!(driver.snapshot_taken(index + 1, Some(data("{}"))), Err(SnapshotError::NotAsked { .. })));
    driver.snapshot_taken(*index, Some(data("state"))).expect("taken");
    assert_eq!(driver.raft().log().snapshot_index(), *index);
    assert_eq!(driver.raft().snapshot().map(|s| s.data.to_vec()), Some(b"state".to_vec()));
}

#[test]
fn own_entries_are_the_ones_the_core_was_waiting_for_not_those_whose_id_starts_with_the_name() {
    // Node "a" and node "a_b": ids of a_b's proposals ("a_b_<uuid>") start with "a_", yet are not a's.
    let members = Members::Named(vec!["a".into(), "a_b".into()]);
    let mut driver = NodeDriver::new(options("a", members)).expect("driver");
    let entry = |index: Index, id: &str| Entry {
        term: 1,
        index,
        kind: EntryKind::Normal,
        id: Some(id.into()),
        data: data("1"),
    };
    let from_a_b = |body| Received::Message(Message { from: 0, to: 0, term: 1, body });
    let entries = vec![entry(1, "a_b_0b6e1c9e-8d55-4b7a-9f0e-3d2f1c0b9a87")];
    driver.receive("a_b", from_a_b(MessageBody::Append { prev_index: 0, prev_term: 0, entries, commit: 1 }));
    let events = flush(&mut driver);
    let committed: Vec<Proposer> = events.committed().map(|(_, proposer)| proposer).collect();
    assert_eq!(committed, vec![Proposer::Other], "{events:?}");
}

#[test]
fn elections_heartbeats_and_granted_votes_are_reported_by_the_engine() {
    let members = || Members::Named(vec!["a".into(), "b".into()]);
    let mut nodes = [
        NodeDriver::new(options("a", members())).expect("driver a"),
        NodeDriver::new(options("b", members())).expect("driver b"),
    ];
    nodes[0].campaign();
    let mut seen = Vec::new();
    for _ in 0..40 {
        for from in 0..2 {
            let events = flush(&mut nodes[from]);
            let name = nodes[from].name().to_string();
            for message in events.messages() {
                nodes[1 - from].receive(&name, Received::Message(message.clone()));
            }
            seen.extend(events.0.into_iter().map(|event| (from, event)));
        }
        nodes[0].tick();
    }
    assert!(seen.contains(&(0, Event::ElectionStarted)), "a's election is reported");
    assert!(!seen.contains(&(1, Event::ElectionStarted)), "b started none");
    assert!(seen.contains(&(0, Event::HeartbeatsSent)), "the leader's heartbeats are reported");
    let status = nodes[0].status();
    assert_eq!(status.core.role, Role::Leader);
    let mut voters = vec![member_id("a"), member_id("b")];
    voters.sort_unstable();
    assert_eq!(status.core.votes_granted, voters, "a voted for itself and b granted its vote");
    assert_eq!(nodes[1].status().core.votes_granted, Vec::<NodeId>::new(), "a follower has no candidacy");
    let progress = status.members[0].progress.expect("the leader tracks b");
    assert_eq!((status.members[0].name.as_deref(), progress.match_index), (Some("b"), status.core.last_index));
}

#[test]
fn transfer_leadership_errors_speak_in_names() {
    let mut driver = single_node();
    assert_eq!(driver.transfer_leadership("a"), Err(TransferError::NotLeader));
    driver.campaign();
    let _ = flush(&mut driver);
    let error = driver.transfer_leadership("nobody").expect_err("not a member");
    assert_eq!(error, TransferError::NotAMember { name: "nobody".into() });
    assert_eq!(error.to_string(), r#"node "nobody" is not a voter: no member of this cluster has that name"#);
    assert_eq!(driver.transfer_leadership("a"), Err(TransferError::ToSelf));
}

#[test]
fn a_follower_read_is_done_only_once_the_follower_applied_up_to_its_read_index() {
    let mut follower = NodeDriver::new(options("b", Members::Named(vec!["a".into(), "b".into()]))).expect("driver");
    let from_a = |body| Received::Message(Message { from: 0, to: 0, term: 1, body });
    follower.receive("a", from_a(MessageBody::Heartbeat { commit: 0, read_round: 1 }));
    flush(&mut follower);
    let request = follower.read(false).expect("read taken");
    let asked: Vec<Message> = flush(&mut follower).messages().cloned().collect();
    assert!(
        asked.iter().any(|m| m.body == MessageBody::ReadIndex { request, lease: false }),
        "the follower asks the leader: {asked:?}"
    );
    // The leader's commit index is 3; the follower holds nothing yet.
    follower.receive("a", from_a(MessageBody::ReadIndexReply { request, index: 3 }));
    let early = flush(&mut follower);
    assert!(!early.0.iter().any(|e| matches!(e, Event::ReadDone { .. })), "not applied yet: {early:?}");
    assert_eq!(follower.pending_reads(), 1);
    let entries = (1..=3)
        .map(|index| Entry {
            term: 1,
            index,
            kind: EntryKind::Normal,
            id: Some(format!("a_{index}").into()),
            data: data("1"),
        })
        .collect();
    follower.receive("a", from_a(MessageBody::Append { prev_index: 0, prev_term: 0, entries, commit: 3 }));
    let events = flush(&mut follower);
    let position = |wanted: &dyn Fn(&Event) -> bool| events.0.iter().position(wanted);
    let last_commit = position(&|e| matches!(e, Event::Committed { entry, .. } if entry.index == 3));
    let done = position(&|e| *e == Event::ReadDone { request, index: 3 });
    assert!(last_commit.is_some() && done > last_commit, "done after entry 3 was handed out: {events:?}");
    assert_eq!(follower.pending_reads(), 0);
}

#[test]
fn a_cancelled_read_is_never_reported_done() {
    let mut driver = single_node();
    driver.campaign();
    flush(&mut driver);
    let request = driver.read(false).expect("read taken");
    driver.cancel_read(request);
    let events = flush(&mut driver);
    assert!(!events.0.iter().any(|e| matches!(e, Event::ReadDone { .. })), "{events:?}");
    let next = driver.read(false).expect("read taken");
    assert_ne!(next, request, "read numbers are not reused");
    assert!(flush(&mut driver).0.contains(&Event::ReadDone { request: next, index: 1 }));
}

#[test]
fn each_incarnation_numbers_its_reads_from_its_own_random_base() {
    // A leader's answer to a read asked before a restart may still be on its way: with numbers that start
    // where the last incarnation's did, it would answer a read asked after the restart, with an older index.
    let bases: Vec<u64> =
        (0..4).map(|_| options("a", Members::Discover { cluster_size: 1 }).read_number_base).collect();
    assert!(bases.iter().all(|&base| base < MAX_READ_NUMBER_BASE));
    assert!(bases.windows(2).any(|pair| pair[0] != pair[1]), "drawn at random: {bases:?}");
    let mut driver =
        NodeDriver::new(NodeOptions { read_number_base: 41, ..options("a", Members::Discover { cluster_size: 1 }) })
            .expect("driver");
    assert_eq!(driver.read(false), Ok(42), "numbered from the base");
}

#[test]
fn a_refused_membership_change_learns_none_of_the_names_it_held() {
    let mut driver = single_node();
    driver.campaign();
    let _ = flush(&mut driver);
    let _ = flush(&mut driver);
    let names = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<Vec<_>>();
    let refused = driver.change_membership(&names(&["a", "x", "y"]), &[]);
    assert!(
        matches!(refused, Err(MembershipError::Refused { why: ConfChangeError::NotALearner(_), .. })),
        "{refused:?}"
    );
    assert!(!driver.is_peer("x") && !driver.is_peer("y"), "a refused change leaves no name behind");
    let message = refused.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(
        ["x", "y"].iter().any(|name| message.starts_with(&format!("node {name:?} is not a learner"))),
        "the refusal names the member: {message}"
    );
    let twins = driver.change_membership(&names(&["a"]), &names(&["x", "x"]));
    assert!(twins.is_ok(), "a name given twice is one member: {twins:?}");
    assert!(driver.is_peer("x"), "an accepted change learns its names");
}

#[test]
fn proposals_reads_by_kind_and_appended_entries_are_counted() {
    let mut options = options("a", Members::Discover { cluster_size: 1 });
    (options.raft.check_quorum, options.raft.lease_reads) = (true, true);
    let mut driver = NodeDriver::new(options).expect("driver");
    driver.campaign();
    let _ = flush(&mut driver);
    driver.propose(data("1")).expect("proposal accepted");
    driver.propose_request("r", data("2")).expect("request accepted");
    let _ = flush(&mut driver);
    driver.propose_request("r", data("again")).expect("answered at once");
    driver.read(false).expect("read taken");
    driver.read(false).expect("read taken");
    driver.read(true).expect("read taken");
    let counters = driver.status().counters;
    assert_eq!(counters.proposals, 2, "a request that had committed already proposes nothing");
    assert_eq!((counters.read_index_reads, counters.lease_reads), (2, 1));
    assert_eq!(counters.entries_appended, 3, "the new leader's empty entry and the two proposals");
    assert_eq!(driver.status().fsync, None, "a store in memory does not fsync");
}

#[test]
fn a_durable_node_reports_its_fsync_times_and_the_snapshots_it_took_and_restored() {
    let dir = std::env::temp_dir().join(format!("flotilla-driver-counters-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let open = || {
        let (durable, tokens) = std::sync::mpsc::channel();
        let options = NodeOptions {
            storage: StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 },
            snapshot_threshold: Some(2),
            ..options("a", Members::Named(vec!["a".into()]))
        };
        let driver = NodeDriver::open(options, move |event| {
            if let WriterEvent::Durable(token) = event {
                let _ = durable.send(token);
            }
        });
        (driver.expect("opened"), tokens)
    };
    // Flushes, and waits for each write the flush submitted to be durable.
    let run = |driver: &mut NodeDriver, tokens: &std::sync::mpsc::Receiver<u64>| {
        let mut events = Events::default();
        for _ in 0..6 {
            driver.flush(&mut events);
            while let Ok(token) = tokens.recv_timeout(std::time::Duration::from_millis(50)) {
                driver.persisted(token);
            }
        }
        events
    };
    let (mut driver, tokens) = open();
    driver.campaign();
    let _ = run(&mut driver, &tokens);
    assert_eq!(driver.raft().role(), Role::Leader);
    driver.propose(data("1")).expect("proposal accepted");
    driver.propose(data("2")).expect("proposal accepted");
    let events = run(&mut driver, &tokens);
    let Some(&Event::SnapshotWanted(index)) = events.0.iter().find(|e| matches!(e, Event::SnapshotWanted(_))) else {
        panic!("no snapshot asked for: {events:?}")
    };
    driver.snapshot_taken(index, Some(data("state"))).expect("taken");
    let status = driver.status();
    let fsync = status.fsync.expect("a durable store reports its fsyncs");
    assert!(fsync.count > 0 && fsync.sum_nanos > 0, "{fsync:?}");
    assert_eq!((status.counters.snapshots_taken, status.counters.last_snapshot_taken_bytes), (1, 5));
    assert_eq!(status.counters.snapshots_restored, 0);
    drop(driver.close());
    // At a restart, the application gets the snapshot back.
    let (mut driver, tokens) = open();
    let _ = run(&mut driver, &tokens);
    let counters = driver.status().counters;
    assert_eq!((counters.snapshots_restored, counters.last_snapshot_restored_bytes), (1, 5));
    assert_eq!(counters.snapshots_taken, 0, "counted since this start");
    drop(driver.close());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn request(body: MessageBody) -> Received {
    Received::Message(Message { from: 0, to: 0, term: 1, body })
}

fn pre_vote() -> Received {
    request(MessageBody::PreVote { last_index: 0, last_term: 0 })
}

#[test]
fn strangers_cannot_use_up_the_names_a_joining_node_can_learn() {
    // MAX_STRANGERS junk names, one pre-vote each, and then the leader that adds this joining node speaks: the
    // oldest junk name is forgotten to make room, and the leader is heard.
    let mut driver = NodeDriver::new(options("j", Members::Join)).expect("driver");
    for i in 0..MAX_STRANGERS {
        driver.receive(&format!("junk{i}"), pre_vote());
    }
    driver.receive("leader", request(MessageBody::Heartbeat { commit: 0, read_round: 0 }));
    assert_eq!(driver.raft().leader(), Some(member_id("leader")), "wire: {:?}", driver.status().wire);
    assert_eq!(driver.name_of(member_id("junk0")), None, "the oldest stranger was forgotten");
    // The leader is needed: more junk does not push it out.
    for i in MAX_STRANGERS..2 * MAX_STRANGERS {
        driver.receive(&format!("junk{i}"), pre_vote());
    }
    assert_eq!(driver.name_of(member_id("leader")), Some("leader"));
}

#[test]
fn a_stranger_known_from_its_requests_is_no_peer() {
    // Its vote request is answered, but it runs no rpc and its proposals are not a member's.
    let mut driver = NodeDriver::new(options("a", Members::Named(vec!["a".into(), "b".into()]))).expect("driver");
    driver.receive("mallory", pre_vote());
    assert_eq!(driver.name_of(member_id("mallory")), Some("mallory"));
    assert!(!driver.is_peer("mallory"));
    assert!(driver.is_peer("b"));
    assert!(!driver.is_peer("a"), "not itself");
}

#[test]
fn a_stranger_whose_name_has_the_id_of_a_member_to_come_gives_way_to_it() {
    // FNV-1a reduced to 53 bits: these two names have one id. The impostor speaks first (one pre-vote) and is
    // learned under the id the real member will have; adding the real member displaces it.
    let (real, impostor) = ("n-05aeb7705f8b18", "n-0e39b0ca3e51ca");
    assert_eq!(member_id(real), member_id(impostor));
    let mut driver = NodeDriver::new(options("a", Members::Named(vec!["a".into()]))).expect("driver");
    driver.campaign();
    flush(&mut driver);
    assert_eq!(driver.raft().role(), Role::Leader);
    driver.receive(impostor, pre_vote());
    assert_eq!(driver.name_of(member_id(real)), Some(impostor));
    driver.add_member(real, None).expect("the member is added");
    assert_eq!(driver.name_of(member_id(real)), Some(real));
    assert!(driver.is_peer(real) && !driver.is_peer(impostor));
}

/// Three named nodes a, b, c with snapshots every 3 entries; b leads.
fn three_with_snapshots() -> Vec<NodeDriver> {
    let members = || Members::Named(vec!["a".into(), "b".into(), "c".into()]);
    let mut nodes: Vec<NodeDriver> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            NodeDriver::new(NodeOptions { snapshot_threshold: Some(3), ..options(name, members()) }).expect("driver")
        })
        .collect();
    nodes[1].campaign();
    nodes
}

/// Flushes every node and delivers what it sends, until nothing moves; `cut` (a node's position) hears nothing
/// and is heard by no one. Snapshots asked for are taken at once, but `held`'s own, which are returned.
fn pump(nodes: &mut [NodeDriver], cut: Option<usize>, held: usize) -> Vec<Index> {
    let mut asked = Vec::new();
    for _ in 0..1000 {
        let mut moved = false;
        for from in 0..nodes.len() {
            let events = flush(&mut nodes[from]);
            for event in events.0 {
                match event {
                    Event::Send { to, message } => {
                        let Some(to) = nodes[from].name_of(to).and_then(|n| nodes.iter().position(|d| d.name() == n))
                        else {
                            continue;
                        };
                        if cut != Some(from) && cut != Some(to) {
                            let from_name = nodes[from].name().to_string();
                            nodes[to].receive(&from_name, Received::Message(message));
                            moved = true;
                        }
                    }
                    Event::SnapshotWanted(index) if from == held => asked.push(index),
                    Event::SnapshotWanted(index) => {
                        nodes[from].snapshot_taken(index, Some(data("state"))).expect("taken");
                        moved = true;
                    }
                    _ => {}
                }
            }
        }
        if !moved {
            break;
        }
    }
    asked
}

#[test]
fn a_snapshot_the_application_saves_after_the_leader_s_superseded_it_is_dropped_without_an_error() {
    // The application's save() answers later than a snapshot from the leader arrives: its state is older than
    // what the node holds now, and nothing failed.
    let mut nodes = three_with_snapshots();
    pump(&mut nodes, None, 0);
    assert_eq!(nodes[1].raft().role(), Role::Leader);
    for n in 0..3 {
        nodes[1].propose(data(&n.to_string())).expect("accepted");
    }
    let asked = pump(&mut nodes, None, 0);
    let &[index] = &asked[..] else { panic!("a asked for one snapshot: {asked:?}") };
    // a is cut off while its application saves; the others go on and compact past it.
    for n in 3..20 {
        nodes[1].propose(data(&n.to_string())).expect("accepted");
        pump(&mut nodes, Some(0), 0);
    }
    for _ in 0..50 {
        for node in nodes.iter_mut() {
            node.tick();
        }
        pump(&mut nodes, None, 0);
    }
    let installed = nodes[0].raft().log().snapshot_index();
    assert!(installed > index, "a holds the leader's snapshot ({installed}), past the one it was asked for ({index})");
    let answered = nodes[0].snapshot_taken(index, Some(data("older state")));
    assert!(answered.is_ok(), "{answered:?}");
    assert_eq!(nodes[0].raft().log().snapshot_index(), installed, "the older state changed nothing");
}

/// gaggle's clusters kept in memory: nodes that discover their cluster of 3, on a network that delivers every
/// message and introduction; `up[i]` false cuts node i off (it neither hears, is heard, nor ticks), `deaf[i]` makes
/// it hear nothing.
struct Net {
    nodes: Vec<NodeDriver>,
    up: Vec<bool>,
    deaf: Vec<bool>,
}

impl Net {
    fn new(names: &[&str]) -> Net {
        let nodes: Vec<NodeDriver> = names
            .iter()
            .map(|n| NodeDriver::new(options(n, Members::Discover { cluster_size: names.len() })).expect("driver"))
            .collect();
        let up = vec![true; nodes.len()];
        let deaf = vec![false; nodes.len()];
        Net { nodes, up, deaf }
    }
    /// A newcomer that discovers a cluster of as many seats as the first nodes had.
    fn add(&mut self, name: &str) {
        let cluster_size = self.nodes[0].peers.seats().len();
        self.nodes.push(NodeDriver::new(options(name, Members::Discover { cluster_size })).expect("driver"));
        self.up.push(true);
        self.deaf.push(false);
    }
    fn pos(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|d| d.name() == name)
    }
    fn pump(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            for from in 0..self.nodes.len() {
                let events = flush(&mut self.nodes[from]);
                if !self.up[from] {
                    continue;
                }
                let from_name = self.nodes[from].name().to_string();
                for event in events.0 {
                    match event {
                        Event::Send { to, message } => {
                            let Some(to) = self.nodes[from].name_of(to).and_then(|n| self.pos(n)) else { continue };
                            if self.up[to] && !self.deaf[to] {
                                self.nodes[to].receive(&from_name, Received::Message(message));
                                moved = true;
                            }
                        }
                        Event::Introduce { to } => {
                            for t in 0..self.nodes.len() {
                                let hit = to.as_deref().is_none_or(|n| n == self.nodes[t].name());
                                if t != from && self.up[t] && hit {
                                    self.nodes[t].receive(&from_name, Received::Introduction);
                                    moved = true;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
    fn tick(&mut self) {
        for i in 0..self.nodes.len() {
            if self.up[i] {
                self.nodes[i].tick();
            }
        }
        self.pump();
    }
    fn leader(&self) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.up[i] && self.nodes[i].raft().role() == Role::Leader)
    }
    fn names(&self, i: usize) -> NamedMembership {
        self.nodes[i].member_names()
    }
}

fn voter_names(m: &NamedMembership) -> Vec<String> {
    let mut v: Vec<String> = m.voters.iter().flatten().cloned().collect();
    v.sort();
    v
}

/// a, b and c discover each other and elect a leader; a follower is cut off for good; a stranger, d, starts.
fn replacement_setup() -> (Net, usize) {
    let mut net = Net::new(&["a", "b", "c"]);
    for _ in 0..400 {
        net.tick();
        if net.leader().is_some() && (0..3).all(|i| net.names(i).voters.iter().all(Option::is_some)) {
            break;
        }
    }
    let leader = net.leader().expect("a leader");
    let silent = (0..3).find(|&i| i != leader).unwrap();
    net.up[silent] = false;
    net.add("d");
    (net, leader)
}

#[test]
fn in_a_cluster_kept_in_memory_a_voter_silent_for_ten_election_timeouts_gives_its_seat_to_a_new_name() {
    let (mut net, _) = replacement_setup();
    for _ in 0..3000 {
        net.tick();
    }
    let leader = net.leader().expect("a leader");
    let members = net.names(leader);
    assert_eq!(voter_names(&members).len(), 3, "{members:?}");
    assert!(voter_names(&members).contains(&"d".to_string()), "{members:?}");
    assert!(members.learners.is_empty(), "{members:?}");
}

#[test]
fn the_next_leader_promotes_a_newcomer_its_predecessor_seated_as_a_learner() {
    let (mut net, _) = replacement_setup();
    let mut stepped_down = false;
    for _ in 0..6000 {
        net.tick();
        let Some(leader) = net.leader() else { continue };
        if !stepped_down && net.names(leader).learners.iter().flatten().any(|name| name == "d") {
            // The leader loses office before it promotes d.
            let term = net.nodes[leader].raft().term();
            assert!(net.nodes[leader].raise_term(term + 1));
            stepped_down = true;
        }
    }
    assert!(stepped_down, "the leader seated d as a learner");
    let members = net.names(net.leader().expect("a leader"));
    assert!(voter_names(&members).contains(&"d".to_string()), "d is a voter: {members:?}");
}

#[test]
fn a_newcomer_that_goes_away_before_it_catches_up_gives_its_place_to_the_next_one() {
    let (mut net, _) = replacement_setup();
    let d = net.pos("d").expect("d");
    net.deaf[d] = true;
    let mut seated = false;
    for _ in 0..6000 {
        net.tick();
        let Some(leader) = net.leader() else { continue };
        if !seated && net.names(leader).learners.iter().flatten().any(|name| name == "d") {
            seated = true;
            net.up[d] = false;
            net.add("e");
        }
    }
    assert!(seated, "d was seated as a learner");
    let members = net.names(net.leader().expect("a leader"));
    assert!(members.learners.iter().flatten().all(|name| name != "d"), "d is gone: {members:?}");
    assert!(voter_names(&members).contains(&"e".to_string()), "e took the seat: {members:?}");
}

/// A newcomer adopted by a cluster of 5 leads it, its own registry begun with four vacant seats: it still gives
/// the seat of the next silent member to the next newcomer (it had taken itself for a node still discovering its
/// cluster, and kept every seat as it was).
#[test]
fn a_newcomer_that_leads_gives_the_seat_of_the_next_silent_member_away_in_turn() {
    let mut net = Net::new(&["a", "b", "c", "d", "e"]);
    for _ in 0..400 {
        net.tick();
        if net.leader().is_some() && (0..5).all(|i| net.names(i).voters.iter().all(Option::is_some)) {
            break;
        }
    }
    let first_leader = net.leader().expect("a leader");
    let silent = (0..5).find(|&i| i != first_leader).expect("a follower");
    net.up[silent] = false;
    net.add("f");
    let f = net.pos("f").expect("f");
    for _ in 0..3000 {
        net.tick();
    }
    let leader = net.leader().expect("a leader");
    assert!(voter_names(&net.names(leader)).contains(&"f".to_string()), "f took a seat: {:?}", net.names(leader));
    if leader != f {
        assert_eq!(net.nodes[leader].transfer_leadership("f"), Ok(()));
        for _ in 0..200 {
            net.tick();
            if net.leader() == Some(f) {
                break;
            }
        }
    }
    assert_eq!(net.leader(), Some(f), "f leads");
    let next_silent = (0..5).find(|&i| net.up[i] && i != f).expect("a first member still up");
    let next_silent_name = net.nodes[next_silent].name().to_string();
    net.up[next_silent] = false;
    net.add("g");
    for _ in 0..3000 {
        net.tick();
    }
    let members = net.names(net.leader().expect("a leader"));
    assert!(voter_names(&members).contains(&"g".to_string()), "g took the seat of {next_silent_name}: {members:?}");
    assert!(!voter_names(&members).contains(&next_silent_name), "{next_silent_name} gave its seat away: {members:?}");
}
