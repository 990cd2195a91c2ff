//! One identity per node: a node's id is derived from its name, the same on every node; a snapshot's membership
//! arrives by name and the receiver seats the members it had not met; a data directory of a release whose ids
//! were per-node slots is refused with an error that says why.

use flotilla_node::{member_id, Members, NodeDriver, NodeOptions, StorageOptions, TimingMs};
use flotilla_raft::HardState;
use flotilla_raft::{encode_stream, Membership, Message, MessageBody, Snapshot, SnapshotMeta};
use flotilla_storage::{Record, Wal};
use flotilla_wire::json::JsonWriter;
use std::collections::BTreeSet;

fn options(name: &str, cluster_size: usize, storage: StorageOptions) -> NodeOptions {
    NodeOptions {
        name: name.into(),
        members: Members::Discover { cluster_size },
        ticks: TimingMs { election_min: 60_000.0, election_max: 60_001.0, heartbeat: 1000.0 }.to_ticks(),
        pre_vote: true,
        check_quorum: true,
        max_inflight_messages: 256,
        max_inflight_bytes: 1 << 24,
        max_message_bytes: 1 << 20,
        seed: Some(7),
        storage,
        snapshot_threshold: None,
        saved_state: None,
    }
}

#[test]
fn a_snapshot_names_its_members_and_the_receiver_seats_the_ones_it_had_not_met() {
    let mut c = NodeDriver::new(options("c", 3, StorageOptions::Volatile)).expect("driver");
    assert_eq!(c.raft().id(), member_id("c"), "the id is the name's, the same on every node");
    c.receive("b", r#"{"type":"HELLO","from":"b"}"#);
    assert!(!c.is_peer("a"));
    // b's snapshot was taken when b had met a but not c: c's seat goes as null.
    let (a, b) = (member_id("a"), member_id("b"));
    let membership = Membership::with_voters([a, b, (1 << 53) + 2]);
    let meta = SnapshotMeta { index: 8, term: 1, membership };
    let data = br#"{"userEntries":8,"data":{"k":1}}"#;
    let stream = encode_stream(&Snapshot { meta: meta.clone(), data: data[..].into(), ..Snapshot::default() });
    let total = stream.len() as u64;
    let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total, chunk: stream };
    let names = |id| [(a, "a"), (b, "b")].into_iter().find(|(known, _)| *known == id).map(|(_, name)| name);
    let mut w = JsonWriter::new();
    flotilla_wire::write_message(&mut w, &Message { from: b, to: c.raft().id(), term: 1, body }, "b", names);
    c.receive("b", &w.finish());
    while c.flush().is_some() {}
    assert!(c.is_peer("a"), "a, named by the snapshot, took a seat");
    let voters: BTreeSet<u64> = [a, b, member_id("c")].into();
    assert_eq!(c.raft().membership().voters, voters, "c filled the unknown seat with itself");
    assert_eq!(c.commit_index(), 7, "the snapshot was installed");
    let status: serde_json::Value = serde_json::from_str(&c.status_json()).expect("JSON");
    let peers: Vec<&str> = status["peers"].as_array().expect("peers").iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(peers, ["b", "a"], "status speaks in names, in the order the seats were taken");
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
    let durable = StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 };
    let error = NodeDriver::open(options("a", 3, durable), |_| {}).err().expect("refused");
    let message = error.to_string();
    assert!(message.contains("written by an older flotilla whose node ids were per-node slots"), "{message}");
    assert!(message.contains("start this node on an empty data directory"), "{message}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn messages_go_out_in_seat_order_not_in_id_order() {
    for order in [["a", "b", "c"], ["a", "c", "b"]] {
        let names = order.iter().map(|name| name.to_string()).collect();
        let mut a = NodeDriver::new(NodeOptions {
            members: Members::Named(names),
            ..options("a", 3, StorageOptions::Volatile)
        })
        .expect("driver");
        a.campaign();
        let output: serde_json::Value = serde_json::from_str(&a.flush().expect("output")).expect("JSON");
        let sent: Vec<&str> = output["send"].as_array().expect("send").iter().filter_map(|s| s[0].as_str()).collect();
        assert_eq!(sent, order[1..], "the vote requests go to the members in their configured order");
    }
}
