//! The gaggle view over the real node: user-entry indices across the log and snapshots, the output batch split
//! into pieces, messages from strangers and malformed ones, snapshots whose envelope cannot be restored.

use super::GaggleNode;
use crate::node::wire::{self, json::JsonWriter, snapshot_envelope};
use crate::node::{Members, NodeDriver, NodeOptions, RequestError, TimingMs, APPLY_BYTES_PER_FLUSH, MAX_NAME_BYTES};
use crate::raft::{MessageBody, Snapshot};

fn discovering_driver(name: &str, cluster_size: usize) -> GaggleNode {
    GaggleNode::new(NodeDriver::new(discovering_options(name, cluster_size)).expect("node"))
}

fn discovering_options(name: &str, cluster_size: usize) -> NodeOptions {
    let ticks = TimingMs { election_min: 300.0, election_max: 500.0, heartbeat: 50.0 }.to_ticks();
    let mut options = NodeOptions::new(name, Members::Discover { cluster_size }, ticks);
    options.raft.seed = 7;
    options.raft.accept_snapshot_data = snapshot_envelope::is_restorable;
    options
}

/// Flushes until the node has nothing more to say; returns the `settledRequests` pairs and the last
/// `snapshotWanted` index it asked for.
fn flush_all(node: &mut GaggleNode) -> (Vec<(String, u64)>, Option<u64>) {
    let (mut settled, mut snapshot_wanted) = (Vec::new(), None);
    while let Some(text) = node.flush() {
        let output: serde_json::Value = serde_json::from_str(&text).expect("output is JSON");
        for pair in output["settledRequests"].as_array().cloned().unwrap_or_default() {
            settled.push((pair[0].as_str().expect("id").to_string(), pair[1].as_u64().expect("index")));
        }
        snapshot_wanted = output["snapshotWanted"].as_u64().or(snapshot_wanted);
    }
    (settled, snapshot_wanted)
}

#[test]
fn a_retried_request_settles_with_its_user_index_from_the_log_and_after_compaction() {
    let options = NodeOptions { snapshot_threshold: Some(4), ..discovering_options("a", 1) };
    let mut node = GaggleNode::new(NodeDriver::new(options).expect("node"));
    node.driver.campaign();
    let _ = flush_all(&mut node);
    node.propose(Some("0")).expect("proposal accepted");
    node.propose(Some("1")).expect("proposal accepted");
    let id = node.propose_request("r", Some("2")).expect("request accepted");
    assert_eq!(id, "req(r)");
    node.propose(Some("3")).expect("proposal accepted");
    let (settled, snapshot_wanted) = flush_all(&mut node);
    assert_eq!(settled, vec![(id.clone(), 2)], "settled when it commits, with its place among user entries");

    assert_eq!(node.propose_request("r", Some("again")).expect("request accepted"), id);
    assert_eq!(flush_all(&mut node).0, vec![(id.clone(), 2)], "a retry from the log settles at once");

    let snapshot_index = snapshot_wanted.expect("a snapshot is asked for");
    node.snapshot_taken(snapshot_index, Some("{}")).expect("snapshot taken");
    assert!(node.driver.raft().log().snapshot_index() > 3, "the request's entry is compacted");
    node.propose(Some("4")).expect("proposal accepted");
    let _ = flush_all(&mut node);
    assert_eq!(node.propose_request("r", Some("again")).expect("request accepted"), id);
    assert_eq!(flush_all(&mut node).0, vec![(id, 2)], "a retry from the snapshot settles at once");
    assert_eq!(node.commit_index(), 4, "no retry made an entry");
    assert!(matches!(node.propose_request("", None), Err(RequestError::InvalidId { bytes: 0 })));
}

#[test]
fn malformed_messages_from_strangers_take_no_member_seat() {
    let mut node = discovering_driver("a", 2);
    for garbage in ["", "null", "[1]", r#"{"type":"NOPE"}"#, r#"{"type":"REQUEST_VOTE","term":-1}"#] {
        node.receive("stranger", garbage);
    }
    assert!(!node.driver.is_peer("stranger"));
    assert_eq!(node.driver.status().wire.malformed, 5);
    node.receive("b", r#"{"type":"HELLO","from":"b"}"#);
    assert!(node.driver.is_peer("b"));
    node.receive("stranger", r#"{"type":"HELLO","from":"stranger"}"#);
    assert!(!node.driver.is_peer("stranger"));
    assert_eq!(node.driver.status().wire.unknown_sender, 1);
    assert!(!node.driver.is_peer("a"), "a node is not its own peer");
}

#[test]
fn a_long_committed_log_is_handed_out_in_small_outputs_marked_more() {
    let mut node = discovering_driver("a", 1);
    node.driver.campaign();
    let _ = node.flush();
    assert_eq!(node.role_name(), "LEADER");
    let data = format!("\"{}\"", "x".repeat(98));
    let count = 20_000u64;
    for _ in 0..count {
        node.propose(Some(&data)).expect("proposal accepted");
    }
    let mut handed_out = Vec::new();
    let mut outputs = 0;
    while let Some(text) = node.flush() {
        let output: serde_json::Value = serde_json::from_str(&text).expect("output is JSON");
        let committed = output["committed"].as_array().cloned().unwrap_or_default();
        let bytes: u64 = committed.iter().map(|c| 32 + 100 + c[2].as_str().map_or(0, str::len) as u64).sum();
        assert!(bytes <= APPLY_BYTES_PER_FLUSH + 2 * 1024, "one output holds {bytes} bytes of committed entries");
        handed_out.extend(committed.iter().map(|c| c[0].as_u64().expect("index")));
        outputs += 1;
        if output.get("more").is_none() {
            break;
        }
        assert!(outputs < 1000, "the outputs never end");
    }
    assert!(outputs >= 4, "{outputs} outputs: the log was not split");
    assert_eq!(handed_out, (0..count).collect::<Vec<_>>(), "every entry once, in order");
    assert_eq!(node.commit_index(), count as i64 - 1);
    assert_eq!(node.flush(), None, "nothing is left over");
}

/// `b`'s INSTALL_SNAPSHOT to `a`, in term 1, of a snapshot at index 8 whose envelope is `data`, in one chunk.
fn snapshot_from_b(node: &GaggleNode, data: &[u8]) -> String {
    use crate::raft::{encode_stream, Membership, Message, SnapshotMeta};
    let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::default() };
    let stream = encode_stream(&Snapshot { meta: meta.clone(), data: data.into(), ..Snapshot::default() });
    let total = stream.len() as u64;
    let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total, chunk: stream };
    let from = node.driver.id_of("b").expect("b is known");
    let mut w = JsonWriter::new();
    wire::write_message(&mut w, &Message { from, to: 1, term: 1, body }, "b", |_| None);
    w.finish()
}

/// The snapshot replies in an output, as (received, done).
fn snapshot_replies(output: &serde_json::Value) -> Vec<(u64, bool)> {
    let sends = output["send"].as_array().cloned().unwrap_or_default();
    sends
        .iter()
        .map(|send| &send[1])
        .filter(|m| m["type"] == "INSTALL_SNAPSHOT_REPLY")
        .map(|m| (m["received"].as_u64().expect("received"), m["done"].as_bool().expect("done")))
        .collect()
}

#[test]
fn a_received_snapshot_whose_envelope_cannot_be_restored_is_not_installed_and_is_counted() {
    // Each of these passes the stream's checks but cannot be restored: not an envelope, or one whose user
    // entries outnumber the entries it covers (2^64 - 1 would wrap the commit counter to -2). None may be
    // installed or answered as done; each is counted once, as malformed.
    let mut node = discovering_driver("a", 2);
    node.receive("b", r#"{"type":"HELLO","from":"b"}"#);
    let _ = node.flush();
    let bad: [&[u8]; 4] = [
        b"not json",
        br#"{"userEntries":1,"data":}"#,
        br#"{"userEntries":18446744073709551615,"data":1}"#,
        br#"{"userEntries":9,"data":1}"#,
    ];
    for (n, data) in bad.into_iter().enumerate() {
        node.receive("b", &snapshot_from_b(&node, data));
        let output: serde_json::Value = serde_json::from_str(&node.flush().expect("a reply")).expect("JSON");
        assert_eq!(snapshot_replies(&output), vec![(0, false)], "snapshot {n}: {output}");
        assert!(output.get("restore").is_none(), "snapshot {n} restored: {output}");
        let log = node.driver.raft().log();
        assert_eq!((log.snapshot_index(), log.committed, node.commit_index()), (0, 0, -1), "snapshot {n}");
        let status: serde_json::Value = serde_json::from_str(&node.status_json()).expect("JSON");
        assert_eq!(status["dropped"]["malformed"], n as u64 + 1, "snapshot {n}: {}", status["dropped"]);
    }
    // At the limit (every entry it covers a user entry) it is restored.
    node.receive("b", &snapshot_from_b(&node, br#"{"userEntries":8,"data":{"k":1}}"#));
    let output: serde_json::Value = serde_json::from_str(&node.flush().expect("a reply")).expect("JSON");
    assert_eq!(snapshot_replies(&output), vec![(output["send"][0][1]["received"].as_u64().unwrap(), true)]);
    assert_eq!(output["restore"], serde_json::json!({"userEntries": 8, "data": {"k": 1}}), "{output}");
    assert_eq!(node.commit_index(), 7);
}

#[test]
fn a_sender_whose_name_no_member_can_have_is_dropped_and_counted() {
    // A name longer than MAX_NAME_BYTES makes proposal ids the wire refuses: no member has one.
    let mut node = discovering_driver("a", 3);
    let hello = |name: &str| format!(r#"{{"type":"HELLO","from":"{name}"}}"#);
    let longest = "n".repeat(MAX_NAME_BYTES);
    node.receive(&longest, &hello(&longest));
    assert!(node.driver.is_peer(&longest));
    let too_long = "m".repeat(MAX_NAME_BYTES + 1);
    node.receive(&too_long, &hello(&too_long));
    assert!(!node.driver.is_peer(&too_long));
    assert_eq!(node.driver.status().wire.malformed, 1);
}

#[test]
fn a_gaggle_snapshot_carries_its_members_by_name_and_the_receiver_adopts_them() {
    use crate::node::member_id;
    use crate::raft::{encode_stream, Membership, Message, SnapshotMeta};
    // c has met b only; b's snapshot was taken when b had met a but not c.
    let snapshot_from_b = |c: &GaggleNode, voters: Vec<u64>, name_of_a: &'static str| {
        let (a, b) = (member_id("a"), member_id("b"));
        let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::with_voters(voters) };
        let data = br#"{"userEntries":8,"data":{"k":1}}"#;
        let stream = encode_stream(&Snapshot { meta: meta.clone(), data: data[..].into(), ..Snapshot::default() });
        let total = stream.len() as u64;
        let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total, chunk: stream };
        let names =
            move |id| [(a, name_of_a), (b, "b")].into_iter().find(|(known, _)| *known == id).map(|(_, name)| name);
        let mut w = JsonWriter::new();
        wire::write_message(&mut w, &Message { from: b, to: c.driver.raft().id(), term: 1, body }, "b", names);
        w.finish()
    };
    let mut c = discovering_driver("c", 3);
    c.receive("b", r#"{"type":"HELLO","from":"b"}"#);
    let own = c.driver.raft().membership().clone();
    // A name no member can have makes the snapshot malformed: refused and counted, nothing changes.
    let too_long: &'static str = Box::leak("n".repeat(MAX_NAME_BYTES + 1).into_boxed_str());
    let bad = snapshot_from_b(&c, vec![member_id("a"), member_id("b"), (1 << 53) + 2], too_long);
    c.receive("b", &bad);
    let _ = flush_all(&mut c);
    assert_eq!((c.driver.raft().membership(), c.commit_index()), (&own, -1), "refused");
    let json = snapshot_from_b(&c, vec![member_id("a"), member_id("b"), (1 << 53) + 2], "a");
    assert!(json.contains(r#""members":{"voters":["#) && json.contains(r#""b""#) && json.contains("null"), "{json}");
    c.receive("b", &json);
    let _ = flush_all(&mut c);
    assert_eq!(c.commit_index(), 7, "the snapshot was installed");
    let voters: std::collections::BTreeSet<u64> = ["a", "b", "c"].map(member_id).into();
    assert_eq!(
        c.driver.raft().membership().voters,
        voters,
        "b's configuration: a by its id (not met yet), and the member b had not met c's own seat"
    );
    assert!(!c.driver.is_peer("a"), "a is met when it speaks");
    let status: serde_json::Value = serde_json::from_str(&c.status_json()).expect("JSON");
    assert_eq!(status["dropped"]["malformed"], 1, "{}", status["dropped"]);
}

#[test]
fn the_status_carries_the_driver_counters_and_the_snapshots_and_no_fsync_times_in_memory() {
    let options = NodeOptions { snapshot_threshold: Some(2), ..discovering_options("a", 1) };
    let mut node = GaggleNode::new(NodeDriver::new(options).expect("node"));
    node.driver.campaign();
    let _ = flush_all(&mut node);
    node.propose(Some("0")).expect("proposal accepted");
    node.propose(Some("1")).expect("proposal accepted");
    let (_, wanted) = flush_all(&mut node);
    node.snapshot_taken(wanted.expect("a snapshot is asked for"), Some(r#"{"k":1}"#)).expect("snapshot taken");
    let status: serde_json::Value = serde_json::from_str(&node.status_json()).expect("JSON");
    let stats = &status["stats"];
    assert_eq!((&stats["proposals"], &stats["entriesAppended"]), (&2.into(), &3.into()), "{stats}");
    assert_eq!((&stats["leaseReads"], &stats["readIndexReads"]), (&0.into(), &0.into()), "{stats}");
    let snapshots = &status["snapshots"];
    assert_eq!((&snapshots["taken"], &snapshots["restored"]), (&1.into(), &0.into()), "{snapshots}");
    assert!(snapshots["lastTakenBytes"].as_u64().is_some_and(|bytes| bytes > 7), "the envelope: {snapshots}");
    assert!(status["fsync"].is_null(), "a node in memory does not fsync: {status}");
}

#[test]
fn a_batch_of_numbered_appends_is_named_by_the_engine_and_reported_by_number() {
    use super::super::proposal_queue::{AppendBatch, ProposalQueue, Queued};
    let mut node = discovering_driver("a", 1);
    node.driver.campaign();
    let queue = std::sync::Arc::new(ProposalQueue::default());
    node.proposals = Some(queue.clone());
    while node.flush_apart(&mut |_, _| {}, false).is_some() {}
    let batch = AppendBatch::new(10.0, 4, "1\n{bad\n\"x\"\n[2]".into()).expect("well shaped");
    queue.push(Queued::Batch(batch));
    let (mut runs, mut refused) = (Vec::new(), Vec::new());
    while let Some(text) = node.flush_apart(&mut |_, _| {}, false) {
        let output: serde_json::Value = serde_json::from_str(&text).expect("output is JSON");
        assert!(output["committedIds"].is_null(), "no entry id goes out for a numbered append: {output}");
        runs.extend(output["committedSeqs"].as_array().cloned().unwrap_or_default());
        refused.extend(output["refused"].as_array().cloned().unwrap_or_default());
    }
    assert_eq!(runs, [10, 1, 12, 2].map(serde_json::Value::from), "runs of first and count");
    assert_eq!(refused.len(), 1);
    assert_eq!((&refused[0][0], &refused[0][1]), (&11.into(), &"FLOTILLA_INVALID_ARGUMENT".into()));
    let log = node.driver.raft().log();
    let ids: Vec<String> = (log.first_index()..=log.last_index())
        .filter_map(|index| log.entry(index))
        .filter(|entry| entry.is_user_data())
        .filter_map(|entry| entry.id.as_deref().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 3, "the refused text made no entry: {ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("a_") && id.len() == 38), "the engine's names: {ids:?}");
}
