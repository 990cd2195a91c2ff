//! The JS side's output batch: what a node has for the gaggle and brig faces after a flush (messages to send,
//! entries appended and committed in gaggle's 0-based user-entry indices, settled and abandoned ids, whether the
//! visible state changed), written straight into one JSON text per flush, so that one `JSON.parse` in JS
//! replaces many boundary crossings.

use crate::gaggle::payload_text;
use crate::json::JsonWriter;
use flotilla_raft::Entry;

/// Which parts of the events the JS side will use. Leaving out what nobody listens to saves writing it here and
/// parsing it there: with many entries in flight, event payloads were most of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// `appended` entries at all (only for an `appended` listener).
    pub appended: bool,
    /// Committed entries one by one, with term and data (for a `committed` listener). Without, only the new
    /// commit index and the ids of this node's own entries (to settle their appends) are given.
    pub committed_data: bool,
    /// A new commit index alone at once (someone waits for the next commit). Without, an output that would hold
    /// nothing else may wait for the node's next tick (see `take_apart`).
    pub commit_index_at_once: bool,
}

impl Default for Wanted {
    fn default() -> Self {
        Wanted { appended: true, committed_data: true, commit_index_at_once: true }
    }
}

/// How the JS side knows one of this node's appends: by its entry id, or by the number JS gave it when it handed
/// it over in a batch (a node on its own thread), which JS finds its append by without reading ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendKey<'a> {
    Id(&'a str),
    Number(u64),
}

impl AppendKey<'_> {
    fn write(self, w: &mut JsonWriter) -> &mut JsonWriter {
        match self {
            AppendKey::Id(id) => w.string(id),
            AppendKey::Number(number) => w.uint(number),
        }
    }
}

#[derive(Default)]
pub struct OutputBatch {
    /// The `send` list, written as messages come: `[recipient name or null for a broadcast, message]` pairs.
    sends: Option<JsonWriter>,
    /// Where each send's recipient and message sit in the `send` list, in bytes, for `take_parts`.
    send_ranges: Vec<SendRange>,
    committed: Option<JsonWriter>,
    /// Without committed data: the gaggle index of the last committed entry, and the ids of this node's own.
    commit_index: Option<u64>,
    committed_ids: Option<JsonWriter>,
    /// The numbers of this node's batched appends that committed, as `first, count` runs (they mostly commit in
    /// the order they were numbered), and the run still growing.
    committed_numbers: Option<JsonWriter>,
    numbers_run: Option<(u64, u64)>,
    appended: Option<JsonWriter>,
    state_changed: bool,
    /// The snapshot envelope `{userEntries, data}` (JSON text) to restore before the committed entries of this output.
    restore: Option<String>,
    /// The log index at which the application should take a snapshot now.
    snapshot_wanted: Option<u64>,
    /// Keys of this node's proposals that committed inside a snapshot received from the leader.
    settled_ids: Option<JsonWriter>,
    abandoned: Option<JsonWriter>,
    /// `[key, code, message]` of proposals named before the engine took them (a node on its own thread) that it
    /// refused: they never commit.
    refused: Option<JsonWriter>,
    /// `[proposal id, gaggle index]` of the client requests (see `requests`) that this node waited for and that
    /// committed, or had committed already when they were proposed again.
    settled_requests: Option<JsonWriter>,
    /// `[read number, gaggle index]` of this node's reads that are done: the node applied every entry up to the
    /// read's index, and the gaggle index is that of the last user entry it applied (-1 for none).
    reads: Option<JsonWriter>,
    /// The configuration in force changed.
    membership_changed: bool,
    /// `[change number, committed]` of this node's membership changes that settled.
    membership_settled: Option<JsonWriter>,
    /// This node started an election (brig's `ElectionTimeout`).
    election_started: bool,
    /// The leader sent heartbeats (brig's `ReplicationTimeout`).
    heartbeat_sent: bool,
    /// The engine has more to hand over already (committed entries held back to keep this output small): flush
    /// again soon, after letting the event loop turn.
    more: bool,
    wanted: Wanted,
}

impl OutputBatch {
    /// What the next outputs should hold.
    pub fn set_wanted(&mut self, wanted: Wanted) {
        self.wanted = wanted;
    }

    pub fn send(&mut self, to: Option<&str>, json: &str) {
        self.send_with(to, |w| {
            w.raw(json);
        });
    }

    /// Sends a message that `write` writes straight into the output, as one JSON value.
    pub fn send_with(&mut self, to: Option<&str>, write: impl FnOnce(&mut JsonWriter)) {
        let w = self.sends.get_or_insert_with(begin_list);
        w.begin_array();
        w.comma_before_value();
        let to_start = w.position();
        w.opt_string(to);
        let to_end = w.position();
        w.comma_before_value();
        let message_start = w.position();
        write(w);
        self.send_ranges.push(SendRange { to: (to_start, to_end), message: (message_start, w.position()) });
        w.end_array();
    }

    /// A committed entry; `own` when this node proposed it.
    pub fn committed(&mut self, gaggle_index: u64, entry: &Entry, own: bool) {
        if self.wanted.committed_data {
            // The entries say how far the commits went: a commit index kept back from before is older.
            self.commit_index = None;
            write_entry(self.committed.get_or_insert_with(begin_list), gaggle_index, entry);
            return;
        }
        self.commit_index = Some(gaggle_index);
        if let (true, Some(id)) = (own, entry.id.as_deref()) {
            self.committed_ids.get_or_insert_with(begin_list).string(id);
        }
    }

    /// One of this node's batched appends committed (its entry goes to `committed` as anyone's).
    pub fn committed_number(&mut self, number: u64) {
        match &mut self.numbers_run {
            Some((first, count)) if *first + *count == number => *count += 1,
            _ => {
                self.close_numbers_run();
                self.numbers_run = Some((number, 1));
            }
        }
    }

    fn close_numbers_run(&mut self) {
        if let Some((first, count)) = self.numbers_run.take() {
            self.committed_numbers.get_or_insert_with(begin_list).uint(first).uint(count);
        }
    }

    pub fn appended(&mut self, gaggle_index: u64, entry: &Entry) {
        if self.wanted.appended {
            write_entry(self.appended.get_or_insert_with(begin_list), gaggle_index, entry);
        }
    }

    pub fn state_changed(&mut self) {
        self.state_changed = true;
    }

    /// The application must restore this state (JSON text) before it applies the commits that follow.
    pub fn restore(&mut self, data_json: &str) {
        // A commit index kept back from before the snapshot is older than what the snapshot restores.
        self.commit_index = None;
        self.restore = Some(data_json.to_string());
    }

    /// One of this node's proposals committed, but its entry arrived only inside a snapshot.
    pub fn settled(&mut self, key: AppendKey) {
        key.write(self.settled_ids.get_or_insert_with(begin_list));
    }

    /// This node stopped waiting for one of its proposals or client requests: the log moved on too far for a retry
    /// to be safe, so whether it committed is unknown.
    pub fn abandoned(&mut self, key: AppendKey) {
        key.write(self.abandoned.get_or_insert_with(begin_list));
    }

    /// A proposal named before the engine took it was refused (`code` says why): it never commits.
    pub fn refused(&mut self, key: AppendKey, code: &str, message: &str) {
        let w = self.refused.get_or_insert_with(begin_list).begin_array();
        key.write(w).string(code).string(message).end_array();
    }

    /// A client request this node waited for is committed, as the user entry at `gaggle_index`.
    pub fn request_settled(&mut self, id: &str, gaggle_index: u64) {
        self.settled_requests.get_or_insert_with(begin_list).begin_array().string(id).uint(gaggle_index).end_array();
    }

    /// A read of this node is done: settle it (after the committed entries of this output) with `gaggle_index`.
    pub fn read_done(&mut self, request: u64, gaggle_index: i64) {
        self.reads.get_or_insert_with(begin_list).begin_array().uint(request).int(gaggle_index).end_array();
    }

    /// The configuration in force changed (ask the node for its members).
    pub fn membership_changed(&mut self) {
        self.membership_changed = true;
    }

    /// A membership change of this node settled: committed (with leaving a joint configuration), or lost.
    pub fn membership_settled(&mut self, request: u64, committed: bool) {
        let w = self.membership_settled.get_or_insert_with(begin_list);
        w.begin_array().uint(request).bool(committed).end_array();
    }

    /// The application should take a snapshot of its state as of this log index.
    pub fn snapshot_wanted(&mut self, index: u64) {
        self.snapshot_wanted = Some(index);
    }

    pub fn more(&mut self) {
        self.more = true;
    }

    pub fn election_started(&mut self) {
        self.election_started = true;
    }

    pub fn heartbeat_sent(&mut self) {
        self.heartbeat_sent = true;
    }

    pub fn is_empty(&self) -> bool {
        self.commit_index.is_none() && self.is_empty_but_commit_index()
    }

    fn is_empty_but_commit_index(&self) -> bool {
        self.sends.is_none()
            && self.committed.is_none()
            && self.committed_ids.is_none()
            && self.committed_numbers.is_none()
            && self.numbers_run.is_none()
            && self.appended.is_none()
            && !self.state_changed
            && self.restore.is_none()
            && self.snapshot_wanted.is_none()
            && self.settled_ids.is_none()
            && self.abandoned.is_none()
            && self.refused.is_none()
            && self.settled_requests.is_none()
            && self.reads.is_none()
            && !self.membership_changed
            && self.membership_settled.is_none()
            && !self.more
            && !self.election_started
            && !self.heartbeat_sent
    }

    /// `{"send":[[to|null, message],...], "appended":[[index, term, id, data],...], "committed":[...],
    /// "commitIndex":i, "committedIds":[id,...], "committedSeqs":[first, count,...], "settledRequests":[[id, index],...], "abandoned":[id,...],
    /// "reads":[[read, index],...],
    /// "state":1, "electionStarted":1, "heartbeatSent":1, "more":1}`, each key present only when it has
    /// something; `None` when there is nothing at all. `commitIndex` and `committedIds` replace `committed` when
    /// its data is not wanted.
    pub fn take_json(&mut self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let sends = self.sends.take();
        self.send_ranges.clear();
        Some(self.take_object(sends))
    }

    /// Like `take_json`, with the messages apart: the object's `send` list names only the recipients
    /// (`[to|null,...]`); `OutputParts::message(i)` is the text of message `i`. A
    /// channel that carries messages within this process can hand those texts on without anyone parsing them.
    pub fn take_parts(&mut self) -> Option<OutputParts> {
        if self.is_empty() {
            return None;
        }
        let sends = self.sends.take().map(JsonWriter::finish).unwrap_or_default();
        let ranges = std::mem::take(&mut self.send_ranges);
        let recipients = (!ranges.is_empty()).then(|| {
            let mut w = begin_list();
            for range in &ranges {
                w.raw(&sends[range.to.0..range.to.1]);
            }
            w
        });
        let json = self.take_object(recipients);
        Some(OutputParts { json, sends, ranges })
    }

    /// For a node whose messages travel natively (the runtime's transport): hands each message to `send` with its
    /// recipient (None: every peer), in order, and returns the rest of the output as JSON text, without a `send`
    /// list (None when there was nothing else). `may_wait`: a new commit index alone, which nobody waits for
    /// (`Wanted::commit_index_at_once`), is kept for a later output (a flush after the node's next tick passes
    /// false): a follower's JS thread is then not woken for every entry it is sent, only to learn the index.
    pub fn take_apart(&mut self, send: &mut dyn FnMut(Option<&str>, &str), may_wait: bool) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let sends = self.sends.take().map(JsonWriter::finish).unwrap_or_default();
        for range in std::mem::take(&mut self.send_ranges) {
            // The recipient as `send_with` wrote it: a JSON string or null.
            if let Ok(to) = serde_json::from_str::<Option<String>>(&sends[range.to.0..range.to.1]) {
                send(to.as_deref(), &sends[range.message.0..range.message.1]);
            }
        }
        let keep_commit_index = may_wait && !self.wanted.commit_index_at_once && self.is_empty_but_commit_index();
        (!self.is_empty() && !keep_commit_index).then(|| self.take_object(None))
    }

    /// The output object around the given `send` list, taking everything else there is.
    fn take_object(&mut self, sends: Option<JsonWriter>) -> String {
        self.close_numbers_run();
        let lists = [
            ("send", sends),
            ("appended", self.appended.take()),
            ("committed", self.committed.take()),
            ("committedIds", self.committed_ids.take()),
            ("committedSeqs", self.committed_numbers.take()),
            ("settledIds", self.settled_ids.take()),
            ("settledRequests", self.settled_requests.take()),
            ("abandoned", self.abandoned.take()),
            ("refused", self.refused.take()),
            ("reads", self.reads.take()),
            ("membershipSettled", self.membership_settled.take()),
        ];
        let mut out = String::with_capacity(
            lists.iter().filter_map(|(_, list)| list.as_ref()).map(|w| w.position() + 16).sum::<usize>() + 48,
        );
        out.push('{');
        let key = |out: &mut String, key: &str| {
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
        };
        for (name, list) in lists {
            if let Some(mut list) = list {
                list.end_array();
                key(&mut out, name);
                out.push_str(list.as_str());
            }
        }
        if let Some(index) = self.commit_index.take() {
            key(&mut out, "commitIndex");
            let mut w = JsonWriter::new();
            w.uint(index);
            out.push_str(w.as_str());
        }
        if std::mem::take(&mut self.state_changed) {
            key(&mut out, "state");
            out.push('1');
        }
        if let Some(data) = self.restore.take() {
            key(&mut out, "restore");
            out.push_str(&data);
        }
        if let Some(index) = self.snapshot_wanted.take() {
            key(&mut out, "snapshotWanted");
            let mut w = JsonWriter::new();
            w.uint(index);
            out.push_str(w.as_str());
        }
        if std::mem::take(&mut self.membership_changed) {
            key(&mut out, "membershipChanged");
            out.push('1');
        }
        if std::mem::take(&mut self.election_started) {
            key(&mut out, "electionStarted");
            out.push('1');
        }
        if std::mem::take(&mut self.heartbeat_sent) {
            key(&mut out, "heartbeatSent");
            out.push('1');
        }
        if std::mem::take(&mut self.more) {
            key(&mut out, "more");
            out.push('1');
        }
        out.push('}');
        out
    }
}

/// Where one send sits in the `send` list's text: its recipient (a JSON string or null) and its message.
#[derive(Clone, Copy, Debug)]
struct SendRange {
    to: (usize, usize),
    message: (usize, usize),
}

/// An output with its messages apart (see `OutputBatch::take_parts`).
pub struct OutputParts {
    /// The output object, its `send` list naming only the recipients.
    pub json: String,
    sends: String,
    ranges: Vec<SendRange>,
}

impl OutputParts {
    /// How many messages there are.
    pub fn message_count(&self) -> usize {
        self.ranges.len()
    }

    /// The JSON text of message `i` (in the order of the `send` list).
    pub fn message(&self, i: usize) -> &str {
        let (start, end) = self.ranges[i].message;
        &self.sends[start..end]
    }
}

fn begin_list() -> JsonWriter {
    let mut w = JsonWriter::new();
    w.begin_array();
    w
}

fn write_entry(w: &mut JsonWriter, gaggle_index: u64, entry: &Entry) {
    w.begin_array().uint(gaggle_index).uint(entry.term).opt_string(entry.id.as_deref());
    w.raw(payload_text(&entry.data)).end_array();
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_raft::{EntryKind, Payload};

    #[test]
    fn output_is_one_valid_json_object() {
        let mut output = OutputBatch::default();
        assert_eq!(output.take_json(), None);
        output.send(Some("b"), "{\"type\":\"HELLO\"}");
        output.send(None, "{\"type\":\"HELLO\"}");
        let entry = Entry {
            term: 2,
            index: 3,
            kind: EntryKind::Normal,
            id: Some("a_1".into()),
            data: Payload::from(&b"{\"k\":1}"[..]),
        };
        output.committed(0, &entry, true);
        output.committed(1, &entry, false);
        output.appended(1, &entry);
        output.state_changed();
        let json = output.take_json().expect("output");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["send"][1][0], serde_json::Value::Null);
        assert_eq!(value["committed"][1][0], 1);
        assert_eq!(value["committed"][0][3]["k"], 1);
        assert_eq!(value["appended"][0][2], "a_1");
        assert_eq!(value["state"], 1);
        assert!(output.is_empty());
    }

    #[test]
    fn taken_apart_the_messages_go_to_their_recipients_and_the_rest_is_json_without_a_send_list() {
        let mut output = OutputBatch::default();
        output.send(Some("b \"quoted\""), "{\"type\":\"HELLO\"}");
        output.send(None, "{\"n\":2}");
        let mut sent = Vec::new();
        assert_eq!(
            output.take_apart(&mut |to, message| sent.push((to.map(str::to_string), message.to_string())), false),
            None
        );
        assert_eq!(
            sent,
            [(Some("b \"quoted\"".to_string()), "{\"type\":\"HELLO\"}".to_string()), (None, "{\"n\":2}".to_string())]
        );
        output.send(Some("c"), "{}");
        output.state_changed();
        let rest = output.take_apart(&mut |_, _| {}, false);
        assert_eq!(rest.as_deref(), Some(r#"{"state":1}"#));
        assert!(output.is_empty());
    }

    #[test]
    fn refused_proposals_go_out_with_their_code_and_message() {
        let mut output = OutputBatch::default();
        output.refused(AppendKey::Id("a_1"), "FLOTILLA_TOO_MANY_PENDING", "more than 2 proposals are pending");
        output.refused(AppendKey::Number(7), "FLOTILLA_LOG_FULL", "the log is \"full\"");
        assert_eq!(
            output.take_json().as_deref(),
            Some(
                r#"{"refused":[["a_1","FLOTILLA_TOO_MANY_PENDING","more than 2 proposals are pending"],[7,"FLOTILLA_LOG_FULL","the log is \"full\""]]}"#
            )
        );
    }

    #[test]
    fn abandoned_ids_go_out_in_their_own_list() {
        let mut output = OutputBatch::default();
        output.abandoned(AppendKey::Id("a_1"));
        output.abandoned(AppendKey::Number(3));
        output.abandoned(AppendKey::Id("req(r)"));
        assert_eq!(output.take_json().as_deref(), Some(r#"{"abandoned":["a_1",3,"req(r)"]}"#));
        assert_eq!(output.take_json(), None);
    }

    #[test]
    fn unwanted_event_payloads_are_left_out() {
        let mut output = OutputBatch::default();
        output.set_wanted(Wanted { appended: false, committed_data: false, commit_index_at_once: true });
        let entry = Entry {
            term: 2,
            index: 3,
            kind: EntryKind::Normal,
            id: Some("a_1".into()),
            data: Payload::from(&b"{\"k\":1}"[..]),
        };
        output.appended(0, &entry);
        assert!(output.is_empty());
        output.committed(4, &entry, false);
        assert_eq!(output.take_json().as_deref(), Some(r#"{"commitIndex":4}"#));
        output.committed(5, &entry, true);
        output.committed(6, &entry, false);
        assert_eq!(output.take_json().as_deref(), Some(r#"{"committedIds":["a_1"],"commitIndex":6}"#));
    }

    #[test]
    fn a_new_commit_index_alone_that_nobody_waits_for_waits_for_the_next_tick() {
        let mut output = OutputBatch::default();
        output.set_wanted(Wanted { appended: false, committed_data: false, commit_index_at_once: false });
        let entry = |index: u64, id: &str| Entry {
            term: 2,
            index,
            kind: EntryKind::Normal,
            id: Some(id.into()),
            data: Payload::from(&b"1"[..]),
        };
        let mut sent = 0;
        output.committed(4, &entry(5, "b_1"), false);
        output.send(Some("b"), r#"{"type":"APPEND_ENTRIES_REPLY"}"#);
        assert_eq!(output.take_apart(&mut |_, _| sent += 1, true), None, "the index alone stays for a later output");
        assert_eq!(sent, 1, "the messages went out all the same");
        let mut send = |_: Option<&str>, _: &str| {};
        output.committed(5, &entry(6, "b_2"), false);
        assert_eq!(output.take_apart(&mut send, false).as_deref(), Some(r#"{"commitIndex":5}"#), "the tick's flush");
        assert!(output.is_empty());
        // Anything else in the output takes the index with it at once.
        output.committed(6, &entry(7, "a_1"), true);
        assert_eq!(output.take_apart(&mut send, true).as_deref(), Some(r#"{"committedIds":["a_1"],"commitIndex":6}"#));
        // Someone waits for the next commit: at once.
        output.set_wanted(Wanted { appended: false, committed_data: false, commit_index_at_once: true });
        output.committed(7, &entry(8, "b_3"), false);
        assert_eq!(output.take_apart(&mut send, true).as_deref(), Some(r#"{"commitIndex":7}"#));
        // Committed entries with their data (a `committed` listener) never wait, and an index kept back before
        // them, older than they are, does not go out after them.
        output.set_wanted(Wanted { appended: false, committed_data: false, commit_index_at_once: false });
        output.committed(8, &entry(9, "b_4"), false);
        assert_eq!(output.take_apart(&mut send, true), None);
        output.set_wanted(Wanted { appended: false, committed_data: true, commit_index_at_once: false });
        output.committed(9, &entry(10, "b_5"), false);
        let json = output.take_apart(&mut send, true).expect("committed entries go out at once");
        assert!(json.starts_with(r#"{"committed":[[9,"#) && !json.contains("commitIndex"), "{json}");
        // Nor one kept back before a snapshot the follower installs.
        output.set_wanted(Wanted { appended: false, committed_data: false, commit_index_at_once: false });
        output.committed(10, &entry(11, "b_6"), false);
        assert_eq!(output.take_apart(&mut send, true), None);
        output.restore(r#"{"userEntries":100,"data":null}"#);
        assert_eq!(
            output.take_apart(&mut send, true).as_deref(),
            Some(r#"{"restore":{"userEntries":100,"data":null}}"#)
        );
    }

    #[test]
    fn committed_batch_numbers_go_out_as_runs_of_first_and_count() {
        let mut output = OutputBatch::default();
        for number in [5, 6, 7, 9, 3, 4] {
            output.committed_number(number);
        }
        assert_eq!(output.take_json().as_deref(), Some(r#"{"committedSeqs":[5,3,9,1,3,2]}"#));
        assert!(output.is_empty(), "the open run went out with the rest");
        output.committed_number(10);
        assert_eq!(output.take_json().as_deref(), Some(r#"{"committedSeqs":[10,1]}"#));
    }

    #[test]
    fn elections_and_heartbeats_are_flags_in_the_batch() {
        let mut output = OutputBatch::default();
        output.election_started();
        output.heartbeat_sent();
        assert_eq!(output.take_json().as_deref(), Some(r#"{"electionStarted":1,"heartbeatSent":1}"#));
        assert_eq!(output.take_json(), None);
    }
}
