//! One identity per node: a node's id is derived from its name, the same on every node; a snapshot's membership
//! arrives by name and the receiver seats the members it had not met; a data directory of a release whose ids
//! were per-node slots is refused with an error that says why.

use flotilla_node::{
    encode_member_names, member_id, Event, Events, Members, NamedMembership, NodeDriver, NodeOptions, Received,
    StorageOptions, TimingMs,
};
use flotilla_raft::{encode_stream, HardState, Membership, Message, MessageBody, Snapshot, SnapshotMeta};
use flotilla_storage::{Record, Wal};
use std::collections::BTreeSet;

fn options(name: &str, members: Members) -> NodeOptions {
    let ticks = TimingMs { election_min: 60_000.0, election_max: 60_001.0, heartbeat: 1000.0 }.to_ticks();
    let mut options = NodeOptions::new(name, members, ticks);
    options.raft.seed = 7;
    options
}

fn flush(driver: &mut NodeDriver) -> Events {
    let mut events = Events::default();
    driver.flush(&mut events);
    events
}

/// An InstallSnapshot from `b` at index 8 whose membership is told by name.
fn snapshot_told(voters: &[Option<&str>], term: u64) -> Received {
    let members =
        NamedMembership { voters: voters.iter().map(|v| v.map(str::to_string)).collect(), ..Default::default() };
    let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::default() };
    let data = br#"{"userEntries":8,"data":{"k":1}}"#;
    let stream = encode_stream(&Snapshot { meta: meta.clone(), data: data[..].into(), ..Snapshot::default() });
    let total = stream.len() as u64;
    let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total, chunk: stream };
    Received::Snapshot { message: Message { from: 0, to: 0, term, body }, members }
}

#[test]
fn a_snapshot_naming_members_this_node_has_not_met_is_installed_with_their_ids_and_seats_nobody() {
    let mut c = NodeDriver::new(options("c", Members::Discover { cluster_size: 3 })).expect("driver");
    assert_eq!(c.raft().id(), member_id("c"), "the id is the name's, the same on every node");
    c.receive("b", Received::Introduction);
    // b's snapshot was taken when b had met a but not c: c's seat goes as unknown; c has not met a.
    c.receive("b", snapshot_told(&[Some("a"), Some("b"), None], 1));
    let events = flush(&mut c);
    assert!(events.0.iter().any(|event| matches!(event, Event::Restore(s) if s.meta.index == 8)), "{events:?}");
    let voters: BTreeSet<u64> = [member_id("a"), member_id("b"), member_id("c")].into();
    assert_eq!(c.raft().membership().voters, voters, "b's configuration: a by its id, the seat b had not met c's");
    assert!(!c.is_peer("a"), "a is met when it speaks, not when a snapshot names it");
    c.receive("a", Received::Introduction);
    assert!(c.is_peer("a"), "a spoke");
    assert_eq!(c.raft().membership().voters, voters, "a took no other seat");
    let status = c.status();
    let names: Vec<Option<&str>> = status.members.iter().map(|m| m.name.as_deref()).collect();
    assert_eq!(names, [Some("b"), Some("a")], "status speaks in names, in the order the seats were taken");
}

#[test]
fn a_snapshot_carries_the_leaders_configuration_and_its_names_which_the_receiver_adopts() {
    // Membership changes: the snapshot's configuration is the one in force at its index, whatever this node's
    // was; the names in its context are the members this node must be able to reach.
    let named = || Members::Named(vec!["a".into(), "b".into(), "c".into()]);
    let mut c = NodeDriver::new(options("c", named())).expect("driver");
    let four = [Some("a"), Some("b"), Some("c"), Some("d")];
    let Received::Snapshot { message, members } = snapshot_told(&four, 1) else { unreachable!() };
    let mut message = message;
    if let MessageBody::InstallSnapshot { meta, total, chunk, .. } = &mut message.body {
        let data = br#"{"userEntries":8,"data":{"k":1}}"#;
        let snapshot = Snapshot {
            meta: (**meta).clone(),
            data: data[..].into(),
            membership_context: encode_member_names(&["a", "b", "c", "d"]),
            ..Snapshot::default()
        };
        *chunk = encode_stream(&snapshot);
        *total = chunk.len() as u64;
    }
    c.receive("b", Received::Snapshot { message, members });
    let events = flush(&mut c);
    assert!(events.0.iter().any(|event| matches!(event, Event::Restore(_))), "{events:?}");
    let voters: BTreeSet<u64> = ["a", "b", "c", "d"].map(member_id).into();
    assert_eq!(c.raft().membership().voters, voters, "the leader's configuration, adopted");
    assert!(c.is_peer("d"), "d's name came with the snapshot: c can reach it");
    assert!(events.0.contains(&Event::MembershipChanged), "{events:?}");
}

#[test]
fn a_refused_snapshot_seats_none_of_the_strangers_it_names() {
    let mut c = NodeDriver::new(options("c", Members::Discover { cluster_size: 3 })).expect("driver");
    c.receive("b", Received::Introduction);
    // Names no member can have, strangers, and a stale term: none of it takes the seat a is to have.
    c.receive("b", snapshot_told(&[Some("b"), Some("c"), Some("ghost")], 0));
    c.receive("b", snapshot_told(&[Some("ghost"), Some(&"n".repeat(230))], 1));
    c.receive("b", snapshot_told(&[Some("ghost"), Some("phantom"), Some("b"), Some("c")], 1));
    assert!(!c.is_peer("ghost") && !c.is_peer("phantom"));
    c.receive("a", Received::Introduction);
    assert!(c.is_peer("a"), "a's seat was still free");
}

#[test]
fn a_member_named_twice_is_one_member_and_leaves_no_seat_for_a_stranger() {
    let members = Members::Named(vec!["a".into(), "b".into(), "b".into()]);
    let mut a = NodeDriver::new(options("a", members)).expect("driver");
    assert_eq!(a.raft().membership().voters.len(), 2);
    a.receive("mallory", Received::Introduction);
    assert!(!a.is_peer("mallory"));
    assert_eq!(a.status().wire.unknown_sender, 1);
}

#[test]
fn a_named_node_restarted_with_other_members_is_refused() {
    let dir = std::env::temp_dir().join(format!("flotilla-members-changed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let durable = |names: &[&str]| {
        let mut options = options("a", Members::Named(names.iter().map(|name| name.to_string()).collect()));
        options.storage = StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 };
        options
    };
    drop(NodeDriver::open(durable(&["a", "b", "c"]), |_| {}).expect("first start").close());
    let error = NodeDriver::open(durable(&["a", "b", "c", "d"]), |_| {}).err().expect("refused");
    let message = error.to_string();
    assert!(message.contains(r#"belongs to a cluster of ["a", "b", "c"], not ["a", "b", "c", "d"]"#), "{message}");
    assert!(NodeDriver::open(durable(&["c", "a", "b"]), |_| {}).is_ok(), "the same members in another order");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_snapshot_with_more_members_its_teller_had_not_met_than_there_are_seats_is_dropped_and_counted() {
    let mut c = NodeDriver::new(options("c", Members::Discover { cluster_size: 3 })).expect("driver");
    c.receive("b", Received::Introduction);
    let four = vec![Some("b".to_string()), None, None, None];
    let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::default() };
    let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total: 1, chunk: vec![0].into() };
    let members = NamedMembership { voters: four, ..Default::default() };
    c.receive("b", Received::Snapshot { message: Message { from: 0, to: 0, term: 1, body }, members });
    assert_eq!(c.status().wire.malformed, 1);
    assert_eq!(c.raft().log().snapshot_index(), 0);
}

#[test]
fn a_data_directory_with_slot_ids_is_refused_with_an_error_that_says_why() {
    let dir = std::env::temp_dir().join(format!("flotilla-slot-era-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        // What the release with slot ids wrote: its peers record (`Record::SlotPeers` encodes to those bytes)
        // and a vote for slot 2.
        let (mut wal, _) = Wal::open(&dir, 1 << 20).expect("open");
        let vote = HardState { term: 2, vote: Some(2), commit: 0 };
        wal.append(&[Record::SlotPeers(vec!["a".into(), "b".into()]), Record::HardState(vote)]).expect("append");
        wal.sync().expect("sync");
    }
    let mut durable = options("a", Members::Discover { cluster_size: 3 });
    durable.storage = StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 };
    let error = NodeDriver::open(durable, |_| {}).err().expect("refused");
    let message = error.to_string();
    assert!(message.contains("written by an older flotilla whose node ids were per-node slots"), "{message}");
    assert!(message.contains("start this node on an empty data directory"), "{message}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn messages_go_out_in_seat_order_not_in_id_order() {
    for order in [["a", "b", "c"], ["a", "c", "b"]] {
        let names = order.iter().map(|name| name.to_string()).collect();
        let mut a = NodeDriver::new(options("a", Members::Named(names))).expect("driver");
        a.campaign();
        let events = flush(&mut a);
        let sent: Vec<u64> = events
            .0
            .iter()
            .filter_map(|event| match event {
                Event::Send { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        let expected: Vec<u64> = order[1..].iter().map(|name| member_id(name)).collect();
        assert_eq!(sent, expected, "the vote requests go to the members in their configured order");
    }
}

#[test]
fn a_discovering_node_restarted_with_another_cluster_size_is_refused() {
    let dir = std::env::temp_dir().join(format!("flotilla-size-changed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let durable = |cluster_size: usize| {
        let mut options = options("a", Members::Discover { cluster_size });
        options.storage = StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 };
        options
    };
    let mut a = NodeDriver::open(durable(3), |_| {}).expect("first start");
    a.receive("b", Received::Introduction);
    drop(a.close());
    for size in [2, 5] {
        let error = NodeDriver::open(durable(size), |_| {}).err().expect("refused").to_string();
        let expected = format!("belongs to a cluster of 3 members, not {size}: the cluster size cannot change");
        assert!(error.contains(&expected), "{error}");
    }
    let a = NodeDriver::open(durable(3), |_| {}).expect("the same size");
    assert!(a.is_peer("b"), "the member met before the restart keeps its seat");
    assert_eq!(a.raft().membership().voters.len(), 3);
    drop(a);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// A node of a 5-seat gaggle cluster that has met only the leader gets a snapshot naming two
/// members it has not met (and one the leader has not met either); then those three say hello. Its
/// configuration must end up with all five members.
#[test]
fn members_named_in_a_snapshot_who_then_speak_leave_the_vacant_seat_to_the_member_not_named() {
    let mut r = NodeDriver::new(options("r", Members::Discover { cluster_size: 5 })).expect("driver");
    r.receive("l", Received::Introduction);
    // l's snapshot: l met a, b and r, not x yet (None).
    let members = NamedMembership {
        voters: [Some("l"), Some("a"), Some("b"), Some("r"), None].iter().map(|v| v.map(str::to_string)).collect(),
        ..Default::default()
    };
    let Received::Snapshot { message, .. } = snapshot_told(&[], 1) else { unreachable!() };
    r.receive("l", Received::Snapshot { message, members });
    let events = flush(&mut r);
    assert!(events.0.iter().any(|event| matches!(event, Event::Restore(_))), "installed: {events:?}");
    every_member_seated_once_the_others_spoke(&mut r);
}

/// The same through a snapshot whose membership is told by id (`Received::Message`, as the simulation sends it).
#[test]
fn members_known_by_id_from_a_snapshot_who_then_speak_take_no_vacant_seat() {
    let mut r = NodeDriver::new(options("r", Members::Discover { cluster_size: 5 })).expect("driver");
    r.receive("l", Received::Introduction);
    let voters = vec![member_id("l"), member_id("a"), member_id("b"), member_id("r"), (1 << 53) + 4];
    let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::with_voters(voters) };
    let data = br#"{"userEntries":8,"data":{"k":1}}"#;
    let stream = encode_stream(&Snapshot { meta: meta.clone(), data: data[..].into(), ..Snapshot::default() });
    let total = stream.len() as u64;
    let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total, chunk: stream };
    r.receive("l", Received::Message(Message { from: 0, to: 0, term: 1, body }));
    let events = flush(&mut r);
    assert!(events.0.iter().any(|event| matches!(event, Event::Restore(_))), "installed: {events:?}");
    every_member_seated_once_the_others_spoke(&mut r);
}

/// a, b and x (the member r's snapshot did not name) say hello to r: each takes its own place, and x the seat left.
fn every_member_seated_once_the_others_spoke(r: &mut NodeDriver) {
    for name in ["a", "b", "x"] {
        r.receive(name, Received::Introduction);
    }
    let _ = flush(r);
    let want: BTreeSet<u64> = ["l", "a", "b", "r", "x"].map(member_id).into();
    assert_eq!(r.raft().membership().voters, want, "every member seated once it spoke");
}
