//! Nothing leaves a node before the write it depends on is durable: a vote reply before the vote is on disk, an
//! append reply before the entries are, a committed (settled) append before the leader's own copy is. The node
//! runs on the real durable store, whose disk thread reports durable tokens; the test holds those reports back
//! and hands them to the node only when it chooses, and checks every output in between. A store that says "done"
//! before its disk thread wrote (acknowledging early) lets the replies out at once, and fails here.

use flotilla_node::{Events, Members, NodeDriver, NodeOptions, Received, StorageOptions, TimingMs};
use flotilla_raft::{Entry, EntryKind, Message, MessageBody, Role};
use flotilla_storage::WriterEvent;
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
    // Elections far away: only the test moves the node.
    let ticks = TimingMs { election_min: 60_000.0, election_max: 60_001.0, heartbeat: 1000.0 }.to_ticks();
    let mut options = NodeOptions::new("a", Members::Discover { cluster_size }, ticks);
    options.raft.seed = 7;
    options.storage = StorageOptions::Durable { dir: dir.clone(), segment_bytes: 1 << 20 };
    let driver = NodeDriver::open(options, move |event| {
        let _ = sender.send(event);
    })
    .expect("open");
    HeldNode { driver, events, _dir: TempDir(dir) }
}

impl HeldNode {
    fn output(&mut self) -> Events {
        let mut events = Events::default();
        self.driver.flush(&mut events);
        events
    }

    /// Waits for the disk thread's next report and feeds it to the node: from now on, that write is durable.
    fn feed_next_durable(&mut self) {
        match self.events.recv_timeout(Duration::from_secs(10)) {
            Ok(WriterEvent::Durable(token)) => self.driver.persisted(token),
            other => panic!("want a durable token, got {other:?}"),
        }
    }

    /// Feeds durable reports until `done` holds for an output, and returns that output.
    fn output_once_durable(&mut self, what: &str, done: impl Fn(&Events) -> bool) -> Events {
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

/// The messages an output sends to node `to` (its slot in `a`'s numbering) whose body `is_kind` accepts.
fn sent(output: &Events, to: u64, is_kind: fn(&MessageBody) -> bool) -> Vec<&MessageBody> {
    output.messages().filter(|message| message.to == to && is_kind(&message.body)).map(|m| &m.body).collect()
}

fn vote_reply(body: &MessageBody) -> bool {
    matches!(body, MessageBody::VoteReply { .. })
}

fn append_reply(body: &MessageBody) -> bool {
    matches!(body, MessageBody::AppendReply { .. })
}

fn committed(output: &Events) -> usize {
    output.committed().count()
}

/// A message from `b` (the driver fills in the ids from the sender's name).
fn from_b(term: u64, body: MessageBody) -> Received {
    Received::Message(Message { from: 0, to: 0, term, body })
}

#[test]
fn a_vote_reply_leaves_only_once_the_vote_is_durable() {
    let mut node = held_node("vote", 3);
    let _ = node.output();
    node.driver.receive("b", from_b(5, MessageBody::Vote { last_index: 0, last_term: 0, transfer: false }));
    let b = node.driver.id_of("b").expect("b is met");
    let before = node.output();
    assert!(sent(&before, b, vote_reply).is_empty(), "the vote reply left before the vote was durable: {before:?}");
    let after = node.output_once_durable("the vote reply", |output| !sent(output, b, vote_reply).is_empty());
    assert_eq!(sent(&after, b, vote_reply)[0], &MessageBody::VoteReply { granted: true });
}

#[test]
fn an_append_reply_leaves_only_once_the_entries_are_durable() {
    let mut node = held_node("append", 3);
    let _ = node.output();
    let entry = Entry { term: 1, index: 1, kind: EntryKind::Normal, id: Some("b_1".into()), data: b"\"x\""[..].into() };
    let append = MessageBody::Append { prev_index: 0, prev_term: 0, entries: vec![entry], commit: 0 };
    node.driver.receive("b", from_b(1, append));
    let b = node.driver.id_of("b").expect("b is met");
    let before = node.output();
    assert!(
        sent(&before, b, append_reply).is_empty(),
        "the append reply left before the entries were durable: {before:?}"
    );
    let after = node.output_once_durable("the append reply", |output| !sent(output, b, append_reply).is_empty());
    assert!(matches!(sent(&after, b, append_reply)[0], MessageBody::AppendReply { success: true, .. }));
}

#[test]
fn an_append_commits_and_settles_only_once_the_leaders_copy_is_durable() {
    let mut node = held_node("commit", 1);
    node.driver.campaign();
    let _ = node.output();
    for _ in 0..20 {
        if node.driver.raft().role() == Role::Leader {
            break;
        }
        node.feed_next_durable();
        let _ = node.output();
    }
    assert_eq!(node.driver.raft().role(), Role::Leader);
    // Everything the election wrote is durable: what follows depends on the append alone.
    while let Ok(event) = node.events.recv_timeout(Duration::from_millis(200)) {
        if let WriterEvent::Durable(token) = event {
            node.driver.persisted(token);
        }
    }
    let _ = node.output();
    let id = node.driver.propose(b"\"the append\""[..].into()).expect("proposed");
    let before = node.output();
    assert_eq!(committed(&before), 0, "the append committed before the leader's copy was durable: {before:?}");
    let after = node.output_once_durable("the commit", |output| committed(output) > 0);
    assert_eq!(committed(&after), 1, "{after:?}");
    let (entry, proposer) = after.committed().next().expect("the append");
    assert_eq!((entry.id.as_deref(), proposer), (Some(&*id), flotilla_node::Proposer::ThisNode));
}
