//! The JSON form of the core's messages on gaggle's channels. gaggle's own RPC names and fields are kept
//! (REQUEST_VOTE, APPEND_ENTRIES, ... with 0-based indices, -1 for none) so tools that read the wire keep working;
//! what gaggle lacks (pre-vote, heartbeats, conflict hints, forwarded batches, leadership transfer, discovery)
//! is added beside them. Everything decoded here is untrusted: a bad field is an error, never a panic.

use crate::json::JsonWriter;
use crate::snapshot_members::NamedMembership;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use flotilla_raft::{
    Entry, EntryKind, Index, Membership, Message, MessageBody, NodeId, Payload, Proposal, ProposalId, SnapshotMeta,
    Term, MAX_ID_BYTES, MAX_INDEX, MAX_SNAPSHOT_BYTES, MAX_WIRE_INTEGER,
};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

/// The largest integer a JS number holds exactly; a term above it on the wire is rejected (the core bounds terms
/// further: see `raft::MAX_TERM_STEP`). Indices are bounded by `raft::MAX_INDEX`.
const MAX_SAFE_INTEGER: i64 = MAX_WIRE_INTEGER as i64;
/// The largest core index as a wire index (0-based).
const MAX_WIRE_INDEX: i64 = MAX_INDEX as i64 - 1;

/// A decoded message: for the core, or the node layer's own discovery greeting.
#[derive(Debug)]
pub enum Inbound {
    Raft(Message),
    /// An INSTALL_SNAPSHOT chunk with the snapshot's membership by name: the receiver puts the members' ids in
    /// `meta.membership` (which is empty here) before the core sees it. One from a release that did not send the
    /// membership is an `Inbound::Raft`.
    InstallSnapshot {
        message: Message,
        members: NamedMembership,
    },
    /// "I exist": sent by a node that has not yet met every member of its cluster.
    Hello,
}

#[derive(Debug, PartialEq, Eq)]
pub struct WireError(pub String);

fn bad(why: impl Into<String>) -> WireError {
    WireError(why.into())
}

/// Every field any message may carry. Unknown fields are ignored; each message checks the ones it needs. A
/// field that is present must have its type: `null` is not "absent" (it is an error, counted as malformed),
/// except for `data` and an entry's `id`, where null is a value. Strings borrow from the text when they hold no
/// escapes, so that decoding a message allocates little.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, deserialize_with = "not_null")]
    term: Option<i64>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    from: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    candidate_id: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    leader_id: Option<Text<'a>>,
    #[serde(default, deserialize_with = "not_null")]
    last_log_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    last_log_term: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    vote_granted: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    transfer: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    prev_log_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    prev_log_term: Option<i64>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    entries: Option<Vec<WireEntryIn<'a>>>,
    #[serde(default, deserialize_with = "not_null")]
    leader_commit: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    heartbeat: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    success: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    reject_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    hint_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    hint_term: Option<i64>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    id: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    batch: Option<Vec<WireProposalIn<'a>>>,
    #[serde(default, deserialize_with = "not_null")]
    last_included_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    last_included_term: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    offset: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    total: Option<i64>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    chunk: Option<Text<'a>>,
    #[serde(default, deserialize_with = "not_null")]
    received: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    done: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    members: Option<NamedMembership>,
    #[serde(default, deserialize_with = "not_null")]
    read_round: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    request: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    lease: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    read_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    commit_index: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    commit_term: Option<i64>,
}

/// A field that may be absent (then `None`, by `#[serde(default)]`) but, when present, must not be null.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A string field that borrows from the message when it holds no escapes (`Cow` borrows only as a field marked
/// `borrow`, which a field read through `not_null` cannot be).
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

#[derive(Deserialize)]
struct WireEntryIn<'a> {
    index: i64,
    term: i64,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "not_null")]
    kind: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct WireProposalIn<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// A wire index (0-based, -1 for none) as a core index (1-based, 0 for none), at most `MAX_INDEX`.
fn index_in(value: Option<i64>, field: &str) -> Result<Index, WireError> {
    match value {
        Some(v) if (-1..=MAX_WIRE_INDEX).contains(&v) => Ok((v + 1) as Index),
        Some(v) => Err(bad(format!("{field} {v} is out of range"))),
        None => Err(bad(format!("{field} is missing"))),
    }
}

/// A wire log term (-1 or 0 for "no entry") as a core term.
fn log_term_in(value: Option<i64>, field: &str) -> Result<Term, WireError> {
    match value {
        Some(v) if (-1..=MAX_SAFE_INTEGER).contains(&v) => Ok(v.max(0) as Term),
        Some(v) => Err(bad(format!("{field} {v} is out of range"))),
        None => Err(bad(format!("{field} is missing"))),
    }
}

fn term_in(value: Option<i64>) -> Result<Term, WireError> {
    match value {
        Some(v) if (0..=MAX_SAFE_INTEGER).contains(&v) => Ok(v as Term),
        Some(v) => Err(bad(format!("term {v} is out of range"))),
        None => Err(bad("term is missing")),
    }
}

/// A byte offset or length of a snapshot stream.
fn byte_count_in(value: Option<i64>, field: &str) -> Result<u64, WireError> {
    match value {
        Some(v) if (0..=MAX_SNAPSHOT_BYTES as i64).contains(&v) => Ok(v as u64),
        Some(v) => Err(bad(format!("{field} {v} is out of range"))),
        None => Err(bad(format!("{field} is missing"))),
    }
}

/// A counter (a read round, a read's number): 0 up to the largest integer a JS number holds exactly.
fn counter_in(value: Option<i64>, field: &str) -> Result<u64, WireError> {
    match value {
        Some(v) if (0..=MAX_SAFE_INTEGER).contains(&v) => Ok(v as u64),
        Some(v) => Err(bad(format!("{field} {v} is out of range"))),
        None => Err(bad(format!("{field} is missing"))),
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, WireError> {
    value.ok_or_else(|| bad(format!("{field} is missing")))
}

fn payload_in(data: Option<&RawValue>) -> Payload {
    Payload::from(data.map_or("null", RawValue::get).as_bytes())
}

fn proposal_id_in(id: &str, max_len: usize) -> Result<ProposalId, WireError> {
    if id.is_empty() || id.len() > max_len {
        return Err(bad("a proposal id is empty or too long"));
    }
    Ok(ProposalId::from(id))
}

/// How deeply application data may nest. A follower reads the data inside a message, whose own structure takes
/// three levels of serde's 128, so a proposal must stay well inside that (`check_payload` enforces it).
pub const MAX_DATA_DEPTH: usize = 100;

/// Why application data from JS cannot be proposed (the binding maps it to `INVALID_ARGUMENT`).
#[derive(Debug)]
pub enum PayloadError {
    NotJson(serde_json::Error),
    TooDeep { limit: usize },
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::NotJson(error) => write!(f, "the data is not JSON text: {error}"),
            PayloadError::TooDeep { limit } => write!(f, "the data nests more than {limit} levels deep"),
        }
    }
}

impl std::error::Error for PayloadError {}

/// Checks application data from JS before it is proposed: JSON text (as `JSON.stringify` writes it) nesting at
/// most `MAX_DATA_DEPTH` deep, so that every follower can read the entry that carries it.
pub fn check_payload(json: &str) -> Result<(), PayloadError> {
    serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(PayloadError::NotJson)?;
    if !nests_within(json, MAX_DATA_DEPTH) {
        return Err(PayloadError::TooDeep { limit: MAX_DATA_DEPTH });
    }
    Ok(())
}

/// Whether the brackets of `text` outside its strings nest at most `limit` deep, read in one pass without
/// parsing (the text need not be JSON).
pub fn nests_within(text: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in text.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Decodes a message from `from` (already resolved from the channel's origin) to `to` (this node).
/// `name_of` resolves ids back to names, to check the names a message repeats (candidateId, leaderId).
pub fn decode(json: &str, from: NodeId, to: NodeId, from_name: &str) -> Result<Inbound, WireError> {
    if let Some(message) = canonical::decode_append(json, from, to, from_name) {
        return Ok(Inbound::Raft(message));
    }
    decode_any(json, from, to, from_name)
}

/// `decode` for any text: serde reads every message in any form, and checks what the canonical path leaves to it.
fn decode_any(json: &str, from: NodeId, to: NodeId, from_name: &str) -> Result<Inbound, WireError> {
    let wire: WireIn = serde_json::from_str(json).map_err(|e| bad(format!("not a message: {e}")))?;
    let named_sender_ok = |claimed: &Option<Text>| claimed.as_deref().is_none_or(|name| name == from_name);
    let body = match wire.kind.as_ref() {
        "HELLO" => {
            if !named_sender_ok(&wire.from) {
                return Err(bad("from is not the sender"));
            }
            return Ok(Inbound::Hello);
        }
        "PRE_VOTE" | "REQUEST_VOTE" => {
            if !named_sender_ok(&wire.candidate_id) {
                return Err(bad("candidateId is not the sender"));
            }
            let last_index = index_in(wire.last_log_index, "lastLogIndex")?;
            let last_term = log_term_in(wire.last_log_term, "lastLogTerm")?;
            if wire.kind == "PRE_VOTE" {
                MessageBody::PreVote { last_index, last_term }
            } else {
                MessageBody::Vote { last_index, last_term, transfer: wire.transfer.unwrap_or(false) }
            }
        }
        "PRE_VOTE_REPLY" => MessageBody::PreVoteReply { granted: required(wire.vote_granted, "voteGranted")? },
        "REQUEST_VOTE_REPLY" => MessageBody::VoteReply { granted: required(wire.vote_granted, "voteGranted")? },
        "APPEND_ENTRIES" => {
            if !named_sender_ok(&wire.leader_id) {
                return Err(bad("leaderId is not the sender"));
            }
            let commit = index_in(wire.leader_commit, "leaderCommit")?;
            if wire.heartbeat == Some(true) {
                // A release without reads sends no round: 0, which confirms nothing.
                MessageBody::Heartbeat { commit, read_round: counter_in(wire.read_round.or(Some(0)), "readRound")? }
            } else {
                let entries = required(wire.entries, "entries")?
                    .into_iter()
                    .map(entry_in)
                    .collect::<Result<Vec<Entry>, WireError>>()?;
                MessageBody::Append {
                    prev_index: index_in(wire.prev_log_index, "prevLogIndex")?,
                    prev_term: log_term_in(wire.prev_log_term, "prevLogTerm")?,
                    entries,
                    commit,
                }
            }
        }
        "APPEND_ENTRIES_REPLY" => {
            let success = required(wire.success, "success")?;
            if wire.heartbeat == Some(true) {
                MessageBody::HeartbeatReply { read_round: counter_in(wire.read_round.or(Some(0)), "readRound")? }
            } else if success {
                let index = index_in(wire.last_log_index, "lastLogIndex")?;
                MessageBody::AppendReply { success, index, hint_index: 0, hint_term: 0 }
            } else {
                MessageBody::AppendReply {
                    success,
                    index: index_in(wire.reject_index.or(Some(-1)), "rejectIndex")?,
                    hint_index: index_in(wire.hint_index.or(Some(-1)), "hintIndex")?,
                    hint_term: log_term_in(wire.hint_term.or(Some(0)), "hintTerm")?,
                }
            }
        }
        "APPEND_ENTRY" => {
            let proposals = match wire.batch {
                Some(batch) => batch
                    .into_iter()
                    .map(|p| Ok(Proposal { id: proposal_id_in(&p.id, MAX_ID_BYTES)?, data: payload_in(p.data) }))
                    .collect::<Result<Vec<Proposal>, WireError>>()?,
                None => {
                    let id = proposal_id_in(&required(wire.id, "id")?, MAX_ID_BYTES)?;
                    vec![Proposal { id, data: payload_in(wire.data) }]
                }
            };
            MessageBody::Propose { proposals }
        }
        "TIMEOUT_NOW" => MessageBody::TimeoutNow,
        "READ_INDEX" => {
            MessageBody::ReadIndex { request: counter_in(wire.request, "request")?, lease: wire.lease.unwrap_or(false) }
        }
        "COMMIT_NOTICE" => MessageBody::CommitNotice {
            index: index_in(wire.commit_index, "commitIndex")?,
            term: term_in(wire.commit_term)?,
        },
        "READ_INDEX_REPLY" => MessageBody::ReadIndexReply {
            request: counter_in(wire.request, "request")?,
            index: index_in(wire.read_index, "readIndex")?,
        },
        "INSTALL_SNAPSHOT" => {
            if !named_sender_ok(&wire.leader_id) {
                return Err(bad("leaderId is not the sender"));
            }
            let index = index_in(wire.last_included_index, "lastIncludedIndex")?;
            let term = term_in(wire.last_included_term)?;
            let total = byte_count_in(wire.total, "total")?;
            let offset = byte_count_in(wire.offset, "offset")?;
            let chunk = required(wire.chunk, "chunk")?;
            let chunk = BASE64.decode(chunk.as_bytes()).map_err(|_| bad("chunk is not base64"))?;
            if let Some(members) = &wire.members {
                members.check(MAX_ID_BYTES).map_err(bad)?;
            }
            // The receiver fills in the membership's ids from `members` (see `Inbound::InstallSnapshot`).
            let meta = Box::new(SnapshotMeta { index, term, membership: Membership::default() });
            MessageBody::InstallSnapshot { meta, offset, total, chunk: Payload::from(chunk) }
        }
        "INSTALL_SNAPSHOT_REPLY" => MessageBody::SnapshotReply {
            index: index_in(wire.last_included_index, "lastIncludedIndex")?,
            received: byte_count_in(wire.received, "received")?,
            done: required(wire.done, "done")?,
        },
        other => return Err(bad(format!("unknown message type {other:?}"))),
    };
    // gaggle's APPEND_ENTRY carried no term; forwarded proposals and read requests are term-agnostic.
    let term = match body {
        MessageBody::Propose { .. } | MessageBody::ReadIndex { .. } | MessageBody::CommitNotice { .. } => {
            wire.term.map_or(Ok(0), |t| term_in(Some(t)))?
        }
        _ => term_in(wire.term)?,
    };
    let message = Message { from, to, term, body };
    Ok(match (&message.body, wire.members) {
        (MessageBody::InstallSnapshot { .. }, Some(members)) => Inbound::InstallSnapshot { message, members },
        _ => Inbound::Raft(message),
    })
}

/// The fast path for the message that carries entries, APPEND_ENTRIES, as `write_message` writes it: keys in its
/// order, no whitespace, names and ids without escapes. Decoding it with serde (field matching, a second list,
/// raw values found by a second scan) cost several times what writing it did, on every follower for every
/// entry. This path accepts only that form, and only when every check passes; for anything else it says `None`
/// and serde decides, so that a message is never taken here that serde would refuse, nor read differently.
mod canonical {
    use super::{index_in, log_term_in, proposal_id_in, term_in, MAX_DATA_DEPTH, MAX_ID_BYTES};
    use flotilla_raft::{Entry, EntryKind, Message, MessageBody, NodeId, Payload};

    // Data nested deeper than `MAX_DATA_DEPTH` goes to serde (whose limit is 128 in all).

    pub fn decode_append(json: &str, from: NodeId, to: NodeId, from_name: &str) -> Option<Message> {
        let mut c = Cursor { text: json, at: 0 };
        c.expect("{\"type\":\"APPEND_ENTRIES\",\"term\":")?;
        let term = term_in(Some(c.integer()?)).ok()?;
        c.expect(",\"leaderId\":")?;
        if c.plain_string()? != from_name {
            return None;
        }
        c.expect(",\"prevLogIndex\":")?;
        let prev_index = index_in(Some(c.integer()?), "").ok()?;
        c.expect(",\"prevLogTerm\":")?;
        let prev_term = log_term_in(Some(c.integer()?), "").ok()?;
        c.expect(",\"entries\":[")?;
        // An entry takes 60 bytes at the very least.
        let mut entries = Vec::with_capacity((json.len() - c.at) / 60);
        if !c.eat("]") {
            loop {
                entries.push(c.entry()?);
                if !c.eat(",") {
                    break;
                }
            }
            c.expect("]")?;
        }
        c.expect(",\"leaderCommit\":")?;
        let commit = index_in(Some(c.integer()?), "").ok()?;
        c.expect("}")?;
        if c.at != json.len() {
            return None;
        }
        Some(Message { from, to, term, body: MessageBody::Append { prev_index, prev_term, entries, commit } })
    }

    struct Cursor<'a> {
        text: &'a str,
        at: usize,
    }

    impl<'a> Cursor<'a> {
        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.at).copied()
        }

        fn eat(&mut self, literal: &str) -> bool {
            if self.text.as_bytes()[self.at..].starts_with(literal.as_bytes()) {
                self.at += literal.len();
                true
            } else {
                false
            }
        }

        fn expect(&mut self, literal: &str) -> Option<()> {
            self.eat(literal).then_some(())
        }

        /// A JSON integer (`-?(0|[1-9][0-9]*)`) that fits an i64 and is not the start of a fraction or exponent.
        fn integer(&mut self) -> Option<i64> {
            let bytes = self.text.as_bytes();
            let negative = self.eat("-");
            let digits_at = self.at;
            let mut value: i64 = 0;
            while let Some(digit @ b'0'..=b'9') = self.peek() {
                value = value.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
                self.at += 1;
            }
            let digits = self.at - digits_at;
            if digits == 0 || (digits > 1 && bytes[digits_at] == b'0') || (negative && value == 0) {
                return None;
            }
            if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            Some(if negative { -value } else { value })
        }

        /// A string with nothing escaped and no control characters, as its text.
        fn plain_string(&mut self) -> Option<&'a str> {
            self.expect("\"")?;
            let start = self.at;
            loop {
                match self.peek()? {
                    b'"' => break,
                    b'\\' => return None,
                    byte if byte < 0x20 => return None,
                    _ => self.at += 1,
                }
            }
            let text = &self.text[start..self.at];
            self.at += 1;
            Some(text)
        }

        /// `{"index":i,"term":t,"data":value,"id":"id"|null[,"kind":"noop"|"config"]}`
        fn entry(&mut self) -> Option<Entry> {
            self.expect("{\"index\":")?;
            let index = index_in(Some(self.integer()?), "").ok()?;
            self.expect(",\"term\":")?;
            let term = term_in(Some(self.integer()?)).ok()?;
            self.expect(",\"data\":")?;
            let data_at = self.at;
            self.skip_value(0)?;
            let data = &self.text[data_at..self.at];
            self.expect(",\"id\":")?;
            let id =
                if self.eat("null") { None } else { Some(proposal_id_in(self.plain_string()?, MAX_ID_BYTES).ok()?) };
            let kind = if self.eat(",\"kind\":\"noop\"") {
                EntryKind::Noop
            } else if self.text[self.at..].starts_with(",\"kind\":\"config\"") {
                // Its data is base64 text, which serde decodes (`entry_in`): a configuration entry is rare.
                return None;
            } else {
                EntryKind::Normal
            };
            self.expect("}")?;
            Some(Entry { term, index, kind, id, data: Payload::from(data.as_bytes()) })
        }

        /// Steps over one JSON value with no whitespace in it, checking it as strictly as serde does.
        fn skip_value(&mut self, depth: usize) -> Option<()> {
            match self.peek()? {
                b'{' => {
                    if depth >= MAX_DATA_DEPTH {
                        return None;
                    }
                    self.at += 1;
                    if self.eat("}") {
                        return Some(());
                    }
                    loop {
                        self.skip_string()?;
                        self.expect(":")?;
                        self.skip_value(depth + 1)?;
                        if !self.eat(",") {
                            return self.expect("}");
                        }
                    }
                }
                b'[' => {
                    if depth >= MAX_DATA_DEPTH {
                        return None;
                    }
                    self.at += 1;
                    if self.eat("]") {
                        return Some(());
                    }
                    loop {
                        self.skip_value(depth + 1)?;
                        if !self.eat(",") {
                            return self.expect("]");
                        }
                    }
                }
                b'"' => self.skip_string(),
                b't' => self.expect("true"),
                b'f' => self.expect("false"),
                b'n' => self.expect("null"),
                b'-' | b'0'..=b'9' => self.skip_number(),
                _ => None,
            }
        }

        /// A string, escapes included (`\uXXXX` with four hex digits, as serde checks).
        fn skip_string(&mut self) -> Option<()> {
            self.expect("\"")?;
            let bytes = self.text.as_bytes();
            loop {
                match self.peek()? {
                    b'"' => {
                        self.at += 1;
                        return Some(());
                    }
                    b'\\' => match bytes.get(self.at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                        b'u' => {
                            let hex = bytes.get(self.at + 2..self.at + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 6;
                        }
                        _ => return None,
                    },
                    byte if byte < 0x20 => return None,
                    _ => self.at += 1,
                }
            }
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        fn skip_number(&mut self) -> Option<()> {
            self.eat("-");
            match self.peek()? {
                b'0' => self.at += 1,
                b'1'..=b'9' => self.skip_digits(),
                _ => return None,
            }
            if self.eat(".") {
                self.at_least_one_digit()?;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.at += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.at += 1;
                }
                self.at_least_one_digit()?;
            }
            Some(())
        }

        fn skip_digits(&mut self) {
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
        }

        fn at_least_one_digit(&mut self) -> Option<()> {
            let start = self.at;
            self.skip_digits();
            (self.at > start).then_some(())
        }
    }
}

fn entry_in(entry: WireEntryIn) -> Result<Entry, WireError> {
    let index = index_in(Some(entry.index), "entries[].index")?;
    let term = term_in(Some(entry.term))?;
    let kind = match entry.kind.as_deref() {
        None | Some("data") => EntryKind::Normal,
        Some("noop") => EntryKind::Noop,
        Some("config") => EntryKind::ConfChange,
        Some(other) => return Err(bad(format!("unknown entry kind {other:?}"))),
    };
    let id = match entry.id {
        Some(id) => Some(proposal_id_in(&id, MAX_ID_BYTES)?),
        None => None,
    };
    let data = match kind {
        // A configuration entry's data is the core's bytes (`ConfEntry`), as base64 text.
        EntryKind::ConfChange => {
            let text: String = entry
                .data
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .ok_or_else(|| bad("a configuration entry's data is not a string"))?;
            Payload::from(
                BASE64.decode(text.as_bytes()).map_err(|_| bad("a configuration entry's data is not base64"))?,
            )
        }
        _ => payload_in(entry.data),
    };
    Ok(Entry { term, index, kind, id, data })
}

/// Writes a core message in gaggle's wire form as the next value of `w`. `member_name` names the members of a
/// snapshot's membership (`None` for a seat whose member is not known).
pub fn write_message<'a>(
    w: &mut JsonWriter,
    message: &Message,
    sender: &str,
    member_name: impl Fn(NodeId) -> Option<&'a str>,
) {
    w.begin_object();
    let wire_index = |index: Index| index as i64 - 1;
    let wire_log_term = |index: Index, term: Term| if index == 0 { -1 } else { term as i64 };
    match &message.body {
        MessageBody::PreVote { last_index, last_term } | MessageBody::Vote { last_index, last_term, .. } => {
            let kind = if matches!(message.body, MessageBody::PreVote { .. }) { "PRE_VOTE" } else { "REQUEST_VOTE" };
            w.key("type").string(kind).key("term").uint(message.term).key("candidateId").string(sender);
            w.key("lastLogIndex").int(wire_index(*last_index));
            w.key("lastLogTerm").int(wire_log_term(*last_index, *last_term));
            if let MessageBody::Vote { transfer: true, .. } = message.body {
                w.key("transfer").bool(true);
            }
        }
        MessageBody::PreVoteReply { granted } | MessageBody::VoteReply { granted } => {
            let kind = if matches!(message.body, MessageBody::PreVoteReply { .. }) {
                "PRE_VOTE_REPLY"
            } else {
                "REQUEST_VOTE_REPLY"
            };
            w.key("type").string(kind).key("term").uint(message.term).key("voteGranted").bool(*granted);
        }
        MessageBody::Append { prev_index, prev_term, entries, commit } => {
            w.key("type").string("APPEND_ENTRIES").key("term").uint(message.term).key("leaderId").string(sender);
            w.key("prevLogIndex").int(wire_index(*prev_index));
            w.key("prevLogTerm").int(wire_log_term(*prev_index, *prev_term));
            w.key("entries").begin_array();
            for entry in entries {
                write_entry(w, entry);
            }
            w.end_array();
            w.key("leaderCommit").int(wire_index(*commit));
        }
        MessageBody::Heartbeat { commit, read_round } => {
            w.key("type").string("APPEND_ENTRIES").key("term").uint(message.term).key("leaderId").string(sender);
            w.key("heartbeat").bool(true).key("prevLogIndex").int(-1).key("prevLogTerm").int(-1);
            w.key("entries").begin_array().end_array();
            w.key("leaderCommit").int(wire_index(*commit)).key("readRound").uint(*read_round);
        }
        MessageBody::AppendReply { success, index, hint_index, hint_term } => {
            w.key("type").string("APPEND_ENTRIES_REPLY").key("term").uint(message.term).key("success").bool(*success);
            if *success {
                w.key("lastLogIndex").int(wire_index(*index));
            } else {
                w.key("rejectIndex").int(wire_index(*index));
                w.key("hintIndex").int(wire_index(*hint_index));
                w.key("hintTerm").uint(*hint_term);
            }
        }
        MessageBody::HeartbeatReply { read_round } => {
            w.key("type").string("APPEND_ENTRIES_REPLY").key("term").uint(message.term);
            w.key("success").bool(true).key("heartbeat").bool(true).key("readRound").uint(*read_round);
        }
        MessageBody::ReadIndex { request, lease } => {
            w.key("type").string("READ_INDEX").key("term").uint(message.term).key("request").uint(*request);
            w.key("lease").bool(*lease);
        }
        MessageBody::CommitNotice { index, term } => {
            w.key("type").string("COMMIT_NOTICE").key("term").uint(message.term);
            w.key("commitIndex").int(wire_index(*index)).key("commitTerm").uint(*term);
        }
        MessageBody::ReadIndexReply { request, index } => {
            w.key("type").string("READ_INDEX_REPLY").key("term").uint(message.term).key("request").uint(*request);
            w.key("readIndex").int(wire_index(*index));
        }
        MessageBody::Propose { proposals } => {
            w.key("type").string("APPEND_ENTRY").key("term").uint(message.term);
            if let [single] = proposals.as_slice() {
                w.key("data").raw(payload_text(&single.data)).key("id").string(&single.id);
            } else {
                w.key("batch").begin_array();
                for proposal in proposals {
                    w.begin_object().key("data").raw(payload_text(&proposal.data)).key("id").string(&proposal.id);
                    w.end_object();
                }
                w.end_array();
            }
        }
        MessageBody::TimeoutNow => {
            w.key("type").string("TIMEOUT_NOW").key("term").uint(message.term);
        }
        // Chunks are base64 in the JSON. The membership goes by name (see `snapshot_members`).
        MessageBody::InstallSnapshot { meta, offset, total, chunk } => {
            w.key("type").string("INSTALL_SNAPSHOT").key("term").uint(message.term).key("leaderId").string(sender);
            w.key("lastIncludedIndex").int(wire_index(meta.index)).key("lastIncludedTerm").uint(meta.term);
            w.key("offset").uint(*offset).key("total").uint(*total);
            w.key("chunk").string(&BASE64.encode(chunk));
            let names = |ids: &std::collections::BTreeSet<NodeId>| {
                ids.iter().map(|&id| member_name(id).map(str::to_string)).collect::<Vec<_>>()
            };
            let membership = &meta.membership;
            let members = NamedMembership {
                voters: names(&membership.voters),
                outgoing: names(&membership.outgoing),
                learners: names(&membership.learners),
            };
            // A snapshot without voters is not a node's (the core refuses one): it goes without, as from an
            // older release.
            if !members.voters.is_empty() {
                w.key("members");
                members.write(w);
            }
        }
        MessageBody::SnapshotReply { index, received, done } => {
            w.key("type").string("INSTALL_SNAPSHOT_REPLY").key("term").uint(message.term);
            w.key("lastIncludedIndex").int(wire_index(*index)).key("received").uint(*received).key("done").bool(*done);
        }
    }
    w.end_object();
}

/// The discovery greeting.
pub fn encode_hello(sender: &str) -> String {
    let mut w = JsonWriter::new();
    w.begin_object().key("type").string("HELLO").key("from").string(sender).end_object();
    w.finish()
}

fn write_entry(w: &mut JsonWriter, entry: &Entry) {
    w.begin_object();
    w.key("index").int(entry.index as i64 - 1).key("term").uint(entry.term);
    if entry.kind == EntryKind::ConfChange {
        // The core's bytes, not JSON: base64 text.
        w.key("data").string(&BASE64.encode(&entry.data));
    } else {
        w.key("data").raw(payload_text(&entry.data));
    }
    w.key("id").opt_string(entry.id.as_deref());
    match entry.kind {
        EntryKind::Normal => {}
        EntryKind::Noop => {
            w.key("kind").string("noop");
        }
        EntryKind::ConfChange => {
            w.key("kind").string("config");
        }
    }
    w.end_object();
}

/// Payloads made by this layer are JSON text; anything else is written as null rather than as broken JSON.
pub fn payload_text(data: &Payload) -> &str {
    std::str::from_utf8(data).unwrap_or("null")
}

/// A payload from JSON text produced by `JSON.stringify` (or `undefined`, which becomes null).
pub fn payload_from_json(json: Option<&str>) -> Payload {
    Arc::from(json.unwrap_or("null").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(message: &Message, sender: &str) -> String {
        let mut w = JsonWriter::new();
        write_message(&mut w, message, sender, |_| None);
        w.finish()
    }

    /// Snapshot chunks are standard base64 with padding (RFC 4648), as Node's `Buffer` writes it; anything else
    /// is refused.
    #[test]
    fn chunk_base64_round_trips_every_length_and_matches_known_values() {
        assert_eq!(BASE64.encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(BASE64.encode(b"fo"), "Zm8=");
        assert_eq!(BASE64.decode("Zm8=").ok(), Some(b"fo".to_vec()));
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(BASE64.decode(BASE64.encode(&bytes)).ok(), Some(bytes));
        }
        for bad in ["Zm9", "Zm=v", "====", "Zm9v!mFy", "Z==="] {
            assert_eq!(BASE64.decode(bad).ok(), None, "{bad}");
        }
    }

    fn round_trip(body: MessageBody) -> MessageBody {
        let message = Message { from: 2, to: 1, term: 7, body };
        let json = encode(&message, "b");
        match decode(&json, 2, 1, "b") {
            Ok(Inbound::Raft(decoded) | Inbound::InstallSnapshot { message: decoded, .. }) => {
                assert_eq!(decoded.term, 7, "{json}");
                decoded.body
            }
            other => panic!("{json} decoded as {other:?}"),
        }
    }

    #[test]
    fn install_snapshot_carries_its_membership_by_name_with_null_for_an_unknown_seat() {
        let membership = Membership { voters: [1, 2, 9].into(), outgoing: [].into(), learners: [4].into() };
        let meta = Box::new(SnapshotMeta { index: 9, term: 3, membership });
        let body = MessageBody::InstallSnapshot { meta, offset: 0, total: 2, chunk: Payload::from(&b"ab"[..]) };
        let mut w = JsonWriter::new();
        let names = |id: NodeId| ["", "a", "b", "", "d"].get(id as usize).copied().filter(|n| !n.is_empty());
        write_message(&mut w, &Message { from: 2, to: 1, term: 3, body }, "b", names);
        let json = w.finish();
        assert!(json.ends_with(r#""members":{"voters":["a","b",null],"outgoing":[],"learners":["d"]}}"#), "{json}");
        let Ok(Inbound::InstallSnapshot { message, members }) = decode(&json, 2, 1, "b") else { panic!("{json}") };
        let name = |n: &str| Some(n.to_string());
        assert_eq!(members.voters, vec![name("a"), name("b"), None]);
        assert_eq!(members.learners, vec![name("d")]);
        let MessageBody::InstallSnapshot { meta, .. } = message.body else { panic!("{json}") };
        assert_eq!(meta.membership, Membership::default(), "ids are the receiver's to fill in");
        // A sender of an older release sends no members.
        let old = json.replace(r#","members":{"voters":["a","b",null],"outgoing":[],"learners":["d"]}"#, "");
        assert!(matches!(decode(&old, 2, 1, "b"), Ok(Inbound::Raft(_))), "{old}");
        // No membership can have no voters, a nameless member, one of an impossible name, or too many members.
        let too_long = format!("{:?}", "n".repeat(MAX_ID_BYTES + 1));
        let too_many = format!("[{}]", vec!["\"m\""; crate::MAX_MEMBERS + 1].join(","));
        for bad in
            ["{\"voters\":[]}", "{\"voters\":[\"\"]}", "{\"voters\":[1]}", "null", "{\"voters\":[\"a\"],\"x\":1}"]
                .into_iter()
                .map(String::from)
                .chain([format!("{{\"voters\":[{too_long}]}}"), format!("{{\"voters\":{too_many}}}")])
        {
            let hostile = json.replace(r#"{"voters":["a","b",null],"outgoing":[],"learners":["d"]}"#, &bad);
            assert!(decode(&hostile, 2, 1, "b").is_err(), "{hostile}");
        }
    }

    #[test]
    fn every_message_survives_the_wire() {
        let entry = Entry {
            term: 7,
            index: 5,
            kind: EntryKind::Normal,
            id: Some("b_1".into()),
            data: Payload::from(&b"{\"x\":[1,2]}"[..]),
        };
        let noop = Entry { term: 7, index: 6, kind: EntryKind::Noop, id: None, data: Payload::from(&b"null"[..]) };
        // A configuration entry holds the core's bytes (not JSON): they travel as base64 text.
        let config = Entry {
            term: 7,
            index: 7,
            kind: EntryKind::ConfChange,
            id: None,
            data: flotilla_raft::ConfEntry {
                membership: Membership::with_voters([1, 2]),
                context: Payload::from(&[0u8, 255][..]),
            }
            .encode(),
        };
        let proposal = Proposal { id: "b_2".into(), data: Payload::from(&b"\"s\""[..]) };
        let bodies = vec![
            MessageBody::PreVote { last_index: 0, last_term: 0 },
            MessageBody::PreVoteReply { granted: true },
            MessageBody::Vote { last_index: 4, last_term: 3, transfer: true },
            MessageBody::VoteReply { granted: false },
            MessageBody::Append { prev_index: 4, prev_term: 3, entries: vec![entry, noop, config], commit: 4 },
            MessageBody::AppendReply { success: true, index: 6, hint_index: 0, hint_term: 0 },
            MessageBody::AppendReply { success: false, index: 6, hint_index: 2, hint_term: 1 },
            MessageBody::Heartbeat { commit: 3, read_round: 12 },
            MessageBody::HeartbeatReply { read_round: 12 },
            MessageBody::ReadIndex { request: 9, lease: true },
            MessageBody::ReadIndexReply { request: 9, index: 40 },
            MessageBody::CommitNotice { index: 40, term: 6 },
            MessageBody::Propose { proposals: vec![proposal.clone()] },
            MessageBody::Propose { proposals: vec![proposal.clone(), proposal] },
            MessageBody::TimeoutNow,
            MessageBody::InstallSnapshot {
                meta: Box::new(SnapshotMeta { index: 9, term: 3, membership: Membership::default() }),
                offset: 4,
                total: 10,
                chunk: Payload::from(&[0u8, 255, 7, 1, 2][..]),
            },
            MessageBody::SnapshotReply { index: 9, received: 4, done: false },
            MessageBody::SnapshotReply { index: 9, received: 10, done: true },
        ];
        for body in bodies {
            assert_eq!(round_trip(body.clone()), body);
        }
    }

    /// A small deterministic generator for the canonical path's tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        /// Application data as JSON.stringify would write it, escapes and all.
        fn json_value(&mut self, depth: usize) -> String {
            match self.below(if depth > 3 { 4 } else { 6 }) {
                0 => self
                    .pick(&["0", "-1", "12.5", "1e3", "-0.25E-2", "9007199254740993", "true", "false", "null"])
                    .to_string(),
                1 | 2 => format!(
                    "\"{}\"",
                    self.pick(&[
                        "",
                        "x",
                        "pad xxxxxxxxxxxxxxxx",
                        "é😀",
                        "q\\\"uote",
                        "line\\nbreak",
                        "\\u0001\\ud800",
                        "back\\\\slash",
                        "\\/"
                    ])
                ),
                3 => self.pick(&["{}", "[]", "{\"i\":1,\"pad\":\"xx\"}"]).to_string(),
                4 => format!(
                    "[{}]",
                    (0..self.below(4)).map(|_| self.json_value(depth + 1)).collect::<Vec<_>>().join(",")
                ),
                _ => format!(
                    "{{{}}}",
                    (0..self.below(4))
                        .map(|k| format!("\"k{k}\":{}", self.json_value(depth + 1)))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }
        }

        fn append(&mut self) -> Message {
            let entries = (0..self.below(6))
                .map(|i| Entry {
                    term: self.below(5) as u64,
                    index: 10 + i as u64,
                    // (Configuration entries, base64 on the wire, are serde's: `every_message_survives_the_wire`.)
                    kind: [EntryKind::Normal, EntryKind::Normal, EntryKind::Noop][self.below(3)],
                    id: [None, Some("b_1".into()), Some("b_é-2".into())][self.below(3)].clone(),
                    data: Payload::from(self.json_value(0).as_bytes()),
                })
                .collect();
            let prev_index = self.below(10) as u64;
            // The wire has no term for "no entry" (index 0).
            let prev_term = if prev_index == 0 { 0 } else { self.below(3) as u64 };
            let body = MessageBody::Append { prev_index, prev_term, entries, commit: self.below(12) as u64 };
            Message { from: 2, to: 1, term: 1 + self.below(9) as u64, body }
        }
    }

    #[test]
    fn the_canonical_path_reads_what_write_message_writes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            let message = rng.append();
            let json = encode(&message, "b");
            let fast = canonical::decode_append(&json, 2, 1, "b").unwrap_or_else(|| panic!("not taken: {json}"));
            assert_eq!(fast, message, "{json}");
            assert!(matches!(decode_any(&json, 2, 1, "b"), Ok(Inbound::Raft(slow)) if slow == fast), "{json}");
        }
        let heartbeat = encode(
            &Message { from: 2, to: 1, term: 3, body: MessageBody::Heartbeat { commit: 1, read_round: 1 } },
            "b",
        );
        assert_eq!(canonical::decode_append(&heartbeat, 2, 1, "b"), None, "heartbeats are serde's");
    }

    #[test]
    fn the_canonical_path_never_takes_what_serde_would_refuse_or_read_otherwise() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let inserts =
            ["", " ", ",", ":", "\"", "\\", "{", "}", "[", "]", "0", "-", ".", "e", "1", "null", "\\u12", "\u{1}", "é"];
        let (mut taken, mut refused) = (0, 0);
        for _ in 0..30_000 {
            let json = encode(&rng.append(), "b");
            // A few edits at character boundaries: replace, delete or insert.
            let mut text = json.clone();
            for _ in 0..1 + rng.below(3) {
                let bounds: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
                let at = bounds[rng.below(bounds.len())];
                let end = bounds.iter().copied().find(|&i| i > at).unwrap_or(at);
                match rng.below(3) {
                    0 => text.replace_range(at..end, rng.pick(&inserts)),
                    1 => text.replace_range(at..end, ""),
                    _ => text.insert_str(at, rng.pick(&inserts)),
                }
            }
            let sender = if rng.below(20) == 0 { "c" } else { "b" };
            match canonical::decode_append(&text, 2, 1, sender) {
                Some(fast) => {
                    taken += 1;
                    match decode_any(&text, 2, 1, sender) {
                        Ok(Inbound::Raft(slow)) => assert_eq!(fast, slow, "{text}"),
                        other => panic!("serde says {other:?} to what the canonical path took: {text}"),
                    }
                }
                None => refused += 1,
            }
        }
        assert!(taken > 1_000 && refused > 1_000, "both outcomes are tried: {taken} taken, {refused} refused");
    }

    #[test]
    fn the_canonical_path_checks_data_as_serde_does() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let tokens = [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"a\"",
            "\"",
            "\\",
            "\\u00",
            "\\u0041",
            "\\x",
            "1",
            "-",
            "0",
            ".",
            "e",
            "E",
            "+",
            "12",
            "true",
            "tru",
            "null",
            "nul",
            "false",
            " ",
            "é",
            "\u{1}",
            "\"k\":",
            "\"s\\\"q\"",
        ];
        let (mut taken, mut refused) = (0, 0);
        for _ in 0..100_000 {
            let data: String = (0..1 + rng.below(8)).map(|_| rng.pick(&tokens)).collect();
            let text = format!(
                r#"{{"type":"APPEND_ENTRIES","term":2,"leaderId":"b","prevLogIndex":0,"prevLogTerm":1,"entries":[{{"index":1,"term":2,"data":{data},"id":"b_1"}}],"leaderCommit":0}}"#
            );
            match canonical::decode_append(&text, 2, 1, "b") {
                Some(fast) => {
                    taken += 1;
                    match decode_any(&text, 2, 1, "b") {
                        Ok(Inbound::Raft(slow)) => assert_eq!(fast, slow, "{text}"),
                        other => panic!("serde says {other:?} to what the canonical path took: {text}"),
                    }
                }
                None => refused += 1,
            }
        }
        assert!(taken > 2_000 && refused > 2_000, "both outcomes are tried: {taken} taken, {refused} refused");
    }

    #[test]
    fn gaggle_messages_decode() {
        let vote = r#"{"type":"REQUEST_VOTE","term":1,"candidateId":"b","lastLogIndex":-1,"lastLogTerm":-1}"#;
        assert!(matches!(
            decode(vote, 2, 1, "b"),
            Ok(Inbound::Raft(Message { body: MessageBody::Vote { last_index: 0, last_term: 0, transfer: false }, .. }))
        ));
        let append_entry = r#"{"type":"APPEND_ENTRY","data":{"a":1},"id":"b_x"}"#;
        assert!(matches!(
            decode(append_entry, 2, 1, "b"),
            Ok(Inbound::Raft(Message { term: 0, body: MessageBody::Propose { .. }, .. }))
        ));
    }

    #[test]
    fn escaped_strings_decode_like_plain_ones() {
        let json = r#"{"type":"APPEND_\u0045NTRY","data":{"a":"\""},"id":"b_\u0078"}"#;
        match decode(json, 2, 1, "b") {
            Ok(Inbound::Raft(Message { body: MessageBody::Propose { proposals }, .. })) => {
                assert_eq!(&*proposals[0].id, "b_x");
                assert_eq!(&*proposals[0].data, br#"{"a":"\""}"#);
            }
            other => panic!("{other:?}"),
        }
        let vote = r#"{"type":"REQUEST_VOTE","term":1,"candidateId":"\u0062","lastLogIndex":-1,"lastLogTerm":-1}"#;
        assert!(matches!(decode(vote, 2, 1, "b"), Ok(Inbound::Raft(_))));
    }

    #[test]
    fn a_present_field_of_the_wrong_type_or_null_is_an_error_not_a_default() {
        // Fields that may be left out must not be null or of another type when present: each of these used to
        // be read as absent, and the message acted on without a word.
        let cases = [
            r#"{"type":"HELLO","from":5}"#,
            r#"{"type":"HELLO","from":null}"#,
            r#"{"type":"HELLO","from":"mallory"}"#,
            r#"{"type":"PRE_VOTE","term":1,"candidateId":null,"lastLogIndex":0,"lastLogTerm":0}"#,
            r#"{"type":"REQUEST_VOTE","term":1,"candidateId":7,"lastLogIndex":0,"lastLogTerm":0}"#,
            r#"{"type":"REQUEST_VOTE","term":1,"candidateId":"b","lastLogIndex":0,"lastLogTerm":0,"transfer":null}"#,
            r#"{"type":"APPEND_ENTRIES","term":1,"leaderId":null,"heartbeat":true,"leaderCommit":0}"#,
            r#"{"type":"APPEND_ENTRIES","term":1,"leaderId":"b","heartbeat":null,"prevLogIndex":-1,"prevLogTerm":-1,"entries":[],"leaderCommit":-1}"#,
            r#"{"type":"APPEND_ENTRIES","term":1,"leaderId":"b","prevLogIndex":-1,"prevLogTerm":-1,"entries":[{"index":0,"term":1,"data":1,"id":"b_1","kind":null}],"leaderCommit":-1}"#,
            r#"{"type":"APPEND_ENTRIES_REPLY","term":1,"success":false,"rejectIndex":null}"#,
            r#"{"type":"APPEND_ENTRIES_REPLY","term":1,"success":false,"hintTerm":"3"}"#,
            r#"{"type":"APPEND_ENTRY","term":null,"data":1,"id":"b_1"}"#,
            r#"{"type":"APPEND_ENTRY","data":1,"id":null}"#,
            r#"{"type":"APPEND_ENTRY","batch":null,"data":1,"id":"b_1"}"#,
            r#"{"type":"INSTALL_SNAPSHOT","term":1,"leaderId":null,"lastIncludedIndex":0,"lastIncludedTerm":1,"offset":0,"total":1,"chunk":"AA=="}"#,
        ];
        for case in cases {
            assert!(decode(case, 2, 1, "b").is_err(), "{case} should be rejected");
        }
        // Left out, they take their defaults, as gaggle's messages need.
        let gaggle_vote = r#"{"type":"REQUEST_VOTE","term":1,"candidateId":"b","lastLogIndex":-1,"lastLogTerm":-1}"#;
        assert!(decode(gaggle_vote, 2, 1, "b").is_ok());
        assert!(matches!(decode(r#"{"type":"HELLO"}"#, 2, 1, "b"), Ok(Inbound::Hello)));
        assert!(matches!(decode(r#"{"type":"HELLO","from":"b"}"#, 2, 1, "b"), Ok(Inbound::Hello)));
    }

    #[test]
    fn every_numeric_field_is_taken_up_to_its_limit_and_refused_above() {
        // (field, message with X for the value, largest accepted). Terms: what JS holds exactly (the core bounds
        // them further, relative to its own term); indices (0-based here): MAX_INDEX; byte counts: the snapshot
        // size limit. Each is tried just below, at and just above its limit, and at -2 (below every one).
        let term_max = MAX_SAFE_INTEGER;
        let index_max = MAX_WIRE_INDEX;
        let bytes_max = MAX_SNAPSHOT_BYTES as i64;
        let cases: [(&str, &str, i64); 19] = [
            ("term", r#"{"type":"TIMEOUT_NOW","term":X}"#, term_max),
            ("lastLogIndex", r#"{"type":"REQUEST_VOTE","term":1,"lastLogIndex":X,"lastLogTerm":0}"#, index_max),
            ("lastLogTerm", r#"{"type":"PRE_VOTE","term":1,"lastLogIndex":0,"lastLogTerm":X}"#, term_max),
            (
                "prevLogIndex",
                r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":X,"prevLogTerm":0,"entries":[],"leaderCommit":0}"#,
                index_max,
            ),
            (
                "prevLogTerm",
                r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":0,"prevLogTerm":X,"entries":[],"leaderCommit":0}"#,
                term_max,
            ),
            (
                "leaderCommit",
                r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":0,"prevLogTerm":0,"entries":[],"leaderCommit":X}"#,
                index_max,
            ),
            (
                "entries[].index",
                r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":0,"prevLogTerm":0,"entries":[{"index":X,"term":1,"id":"b_1"}],"leaderCommit":0}"#,
                index_max,
            ),
            (
                "entries[].term",
                r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":0,"prevLogTerm":0,"entries":[{"index":1,"term":X,"id":"b_1"}],"leaderCommit":0}"#,
                term_max,
            ),
            ("rejectIndex", r#"{"type":"APPEND_ENTRIES_REPLY","term":1,"success":false,"rejectIndex":X}"#, index_max),
            (
                "hintTerm",
                r#"{"type":"APPEND_ENTRIES_REPLY","term":1,"success":false,"rejectIndex":3,"hintTerm":X}"#,
                term_max,
            ),
            (
                "lastIncludedIndex",
                r#"{"type":"INSTALL_SNAPSHOT_REPLY","term":1,"lastIncludedIndex":X,"received":0,"done":false}"#,
                index_max,
            ),
            (
                "lastIncludedTerm",
                r#"{"type":"INSTALL_SNAPSHOT","term":1,"lastIncludedIndex":3,"lastIncludedTerm":X,"offset":0,"total":1,"chunk":"AA=="}"#,
                term_max,
            ),
            (
                "total",
                r#"{"type":"INSTALL_SNAPSHOT","term":1,"lastIncludedIndex":3,"lastIncludedTerm":1,"offset":0,"total":X,"chunk":"AA=="}"#,
                bytes_max,
            ),
            (
                "received",
                r#"{"type":"INSTALL_SNAPSHOT_REPLY","term":1,"lastIncludedIndex":3,"received":X,"done":false}"#,
                bytes_max,
            ),
            (
                "readRound",
                r#"{"type":"APPEND_ENTRIES","term":1,"heartbeat":true,"leaderCommit":0,"readRound":X}"#,
                term_max,
            ),
            (
                "readRound",
                r#"{"type":"APPEND_ENTRIES_REPLY","term":1,"success":true,"heartbeat":true,"readRound":X}"#,
                term_max,
            ),
            ("request", r#"{"type":"READ_INDEX","term":1,"request":X}"#, term_max),
            ("request", r#"{"type":"READ_INDEX_REPLY","term":1,"request":X,"readIndex":0}"#, term_max),
            ("readIndex", r#"{"type":"READ_INDEX_REPLY","term":1,"request":1,"readIndex":X}"#, index_max),
        ];
        for (field, template, max) in cases {
            for (value, accepted) in [(max - 1, true), (max, true), (max + 1, false), (-2, false)] {
                let json = template.replace(":X", &format!(":{value}"));
                assert_eq!(decode(&json, 2, 1, "b").is_ok(), accepted, "{field} = {value}: {json}");
            }
        }
        assert_eq!(MAX_WIRE_INDEX, (1 << 52) - 1, "a core index of at most 2^52");
    }

    #[test]
    fn proposed_data_must_be_json_text_a_follower_can_read() {
        for good in ["null", "1", "\"[{\\\"\"", r#"{"a":[1,{"b":"]]]]"}]}"#, " [ ] "] {
            assert!(check_payload(good).is_ok(), "{good}");
        }
        for bad in ["", "{", "1 2", "undefined", "NaN", "'x'", "[1,]", "\"\\x\""] {
            assert!(check_payload(bad).is_err(), "{bad}");
        }
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(check_payload(&nested(MAX_DATA_DEPTH)).is_ok());
        assert!(check_payload(&nested(MAX_DATA_DEPTH + 1)).is_err());
        // What it lets through, a follower reads, on either path.
        let data = nested(MAX_DATA_DEPTH);
        let append = format!(
            r#"{{"type":"APPEND_ENTRIES","term":1,"leaderId":"b","prevLogIndex":-1,"prevLogTerm":-1,"entries":[{{"index":0,"term":1,"data":{data},"id":"b_1"}}],"leaderCommit":-1}}"#
        );
        assert!(decode(&append, 2, 1, "b").is_ok());
        assert!(decode_any(&append.replace("\"leaderId\":\"b\",", ""), 2, 1, "b").is_ok());
    }

    #[test]
    fn hostile_fields_are_errors() {
        let cases = [
            "",
            "null",
            "[]",
            r#"{"type":"REQUEST_VOTE"}"#,
            r#"{"type":"REQUEST_VOTE","term":-1,"lastLogIndex":0,"lastLogTerm":0}"#,
            r#"{"type":"REQUEST_VOTE","term":1.5,"lastLogIndex":0,"lastLogTerm":0}"#,
            r#"{"type":"REQUEST_VOTE","term":1e300,"lastLogIndex":0,"lastLogTerm":0}"#,
            r#"{"type":"REQUEST_VOTE","term":1,"lastLogIndex":-2,"lastLogTerm":0}"#,
            r#"{"type":"REQUEST_VOTE","term":1,"candidateId":"mallory","lastLogIndex":0,"lastLogTerm":0}"#,
            r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":0,"prevLogTerm":0,"leaderCommit":0,"entries":"x"}"#,
            r#"{"type":"APPEND_ENTRIES","term":1,"prevLogIndex":0,"prevLogTerm":0,"leaderCommit":0,"entries":[{"index":9007199254740993,"term":1}]}"#,
            r#"{"type":"APPEND_ENTRY","id":""}"#,
            r#"{"type":"NOPE","term":1}"#,
            r#"{"type":7}"#,
        ];
        for case in cases {
            assert!(decode(case, 2, 1, "b").is_err(), "{case} should be rejected");
        }
    }
}
