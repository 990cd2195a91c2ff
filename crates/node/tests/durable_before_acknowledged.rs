//! Nothing leaves a node before the write it depends on is durable: a vote reply before the vote is on disk, an
//! append reply before the entries are, a committed (settled) append before the leader's own copy is. The node
//! runs on the real durable store, whose disk thread reports durable tokens; the test holds those reports back
//! and hands them to the node only when it chooses, and checks every output in between. A store that says "done"
//! before its disk thread wrote (acknowledging early) lets the replies out at once, and fails here.

use flotilla_node::{Members, NodeDriver, NodeOptions, StorageOptions, TimingMs};
use flotilla_storage::WriterEvent;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A durable node whose disk thread's reports wait in `events` until the test feeds them to it.
struct HeldNode {
    driver: NodeDriver,
    events: Receiver<WriterEvent>,
    _dir: TempDir,
}

fn held_node(test: &str, cluster_size: usize) -> HeldNode {
    let dir = std::env::temp_dir().join(format!("flotilla-held-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (sender, events) = mpsc::channel();
    let options = NodeOptions {
        name: "a".into(),
        members: Members::Discover { cluster_size },
        // Elections far away: only the test moves the node.
        ticks: TimingMs { election_min: 60_000.0, election_max: 60_001.0, heartbeat: 1000.0 }.to_ticks(),
        pre_vote: true,
        check_quorum: true,
        max_inflight_messages: 256,
        max_inflight_bytes: 1 << 24,
        max_message_bytes: 1 << 20,
        seed: Some(7),
        storage: StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 },
        snapshot_threshold: None,
        saved_state: None,
    };
    let driver = NodeDriver::open(options, move |event| {
        let _ = sender.send(event);
    })
    .expect("open");
    HeldNode { driver, events, _dir: TempDir(dir) }
}

impl HeldNode {
    fn output(&mut self) -> Value {
        self.driver.flush().map_or(Value::Null, |text| serde_json::from_str(&text).expect("output is JSON"))
    }

    /// Waits for the disk thread's next report and feeds it to the node: from now on, that write is durable.
    fn feed_next_durable(&mut self) {
        match self.events.recv_timeout(Duration::from_secs(10)) {
            Ok(WriterEvent::Durable(token)) => self.driver.persisted(token),
            other => panic!("want a durable token, got {other:?}"),
        }
    }

    /// Feeds durable reports until `done` holds for an output, and returns that output.
    fn output_once_durable(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..20 {
            self.feed_next_durable();
            let output = self.output();
            if done(&output) {
                return output;
            }
        }
        panic!("{what} never left the node, though its writes were reported durable");
    }
}

/// The messages of type `kind` an output sends to `to`.
fn sent(output: &Value, to: &str, kind: &str) -> Vec<Value> {
    let Some(sends) = output.get("send").and_then(Value::as_array) else { return Vec::new() };
    sends
        .iter()
        .filter(|pair| pair[0] == to)
        .filter_map(|pair| match &pair[1] {
            Value::String(text) => serde_json::from_str::<Value>(text).ok(),
            other => Some(other.clone()),
        })
        .filter(|message| message["type"] == kind)
        .collect()
}

fn committed(output: &Value) -> usize {
    output.get("committed").and_then(Value::as_array).map_or(0, Vec::len)
}

#[test]
fn a_vote_reply_leaves_only_once_the_vote_is_durable() {
    let mut node = held_node("vote", 3);
    let _ = node.output();
    node.driver
        .receive("b", r#"{"type":"REQUEST_VOTE","term":5,"candidateId":"b","lastLogIndex":-1,"lastLogTerm":-1}"#);
    let before = node.output();
    assert!(
        sent(&before, "b", "REQUEST_VOTE_REPLY").is_empty(),
        "the vote reply left before the vote was durable: {before}"
    );
    let after =
        node.output_once_durable("the vote reply", |output| !sent(output, "b", "REQUEST_VOTE_REPLY").is_empty());
    assert_eq!(sent(&after, "b", "REQUEST_VOTE_REPLY")[0]["voteGranted"], true);
}

#[test]
fn an_append_reply_leaves_only_once_the_entries_are_durable() {
    let mut node = held_node("append", 3);
    let _ = node.output();
    node.driver.receive(
        "b",
        r#"{"type":"APPEND_ENTRIES","term":1,"leaderId":"b","prevLogIndex":-1,"prevLogTerm":-1,"leaderCommit":-1,
            "entries":[{"index":0,"term":1,"data":"x","id":"b_1"}]}"#,
    );
    let before = node.output();
    assert!(
        sent(&before, "b", "APPEND_ENTRIES_REPLY").is_empty(),
        "the append reply left before the entries were durable: {before}"
    );
    let after =
        node.output_once_durable("the append reply", |output| !sent(output, "b", "APPEND_ENTRIES_REPLY").is_empty());
    assert_eq!(sent(&after, "b", "APPEND_ENTRIES_REPLY")[0]["success"], true);
}

#[test]
fn an_append_commits_and_settles_only_once_the_leaders_copy_is_durable() {
    let mut node = held_node("commit", 1);
    node.driver.campaign();
    let _ = node.output();
    for _ in 0..20 {
        if node.driver.role_name() == "LEADER" {
            break;
        }
        node.feed_next_durable();
        let _ = node.output();
    }
    assert_eq!(node.driver.role_name(), "LEADER");
    // Everything the election wrote is durable: what follows depends on the append alone.
    while let Ok(event) = node.events.recv_timeout(Duration::from_millis(200)) {
        if let WriterEvent::Durable(token) = event {
            node.driver.persisted(token);
        }
    }
    let _ = node.output();
    node.driver.propose(Some("\"the append\"")).expect("proposed");
    let before = node.output();
    assert_eq!(committed(&before), 0, "the append committed before the leader's copy was durable: {before}");
    assert_eq!(node.driver.commit_index(), -1);
    let after = node.output_once_durable("the commit", |output| committed(output) > 0);
    assert_eq!(committed(&after), 1, "{after}");
    assert_eq!(node.driver.commit_index(), 0);
}
