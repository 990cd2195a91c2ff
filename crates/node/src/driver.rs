//! Drives one consensus core: feeds it ticks, peer messages and proposals, and carries out its `Ready` work in
//! the one order that is safe: persist, then send, then apply. It also speaks the wire (names, JSON) and keeps
//! the gaggle view of the log (user entries only, 0-based). Output for the JS side accumulates in an `Output`.

use super::members::{BindError, Bound, MemberRegistry};
use super::output::{Output, OutputParts, Wanted};
use super::recovery::{self, OpenError, StorageOptions};
use super::requests::{self, PendingRequests, RequestError};
use super::saved_state::SavedState;
use super::snapshots::{self, SnapshotError, SnapshotPolicy};
use super::timing::Ticks;
use super::transfer_error::TransferError;
use flotilla_raft::{
    Config, Entry, EntryKind, MessageBody, NodeId, ProposeError, Proposed, Raft, Role, Snapshot, Stats,
};
use flotilla_storage::{Storage, Submitted, WriterEvent};
use flotilla_wire::json::JsonWriter;
use flotilla_wire::{self as wire, Inbound};

/// At most about this many bytes of committed entries go into one output: a long committed log (a restart
/// replays it to the application) is handed over in pieces, each marked `more`, so that no single output keeps
/// the JS thread busy for long (this much JSON parses, and its events are emitted, in a couple of milliseconds).
const APPLY_BYTES_PER_FLUSH: u64 = 256 * 1024;
/// The core's limit per `Ready`: a flush takes another `Ready` only while it still fits in the flush's budget.
const APPLY_BYTES_PER_READY: u64 = APPLY_BYTES_PER_FLUSH / 4;

/// Who the members are: known by name, or only counted (gaggle), to be discovered as they speak.
#[derive(Clone, Debug)]
pub enum Members {
    Discover { cluster_size: usize },
    Named(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub name: String,
    pub members: Members,
    pub ticks: Ticks,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub max_inflight_messages: usize,
    pub max_inflight_bytes: u64,
    pub max_message_bytes: u64,
    pub seed: Option<u64>,
    pub storage: StorageOptions,
    /// Ask the application for a snapshot every this many applied entries (`None`: never compact).
    pub snapshot_threshold: Option<u64>,
    /// A state saved by another library to start from, instead of an empty one (refused if storage holds one).
    pub saved_state: Option<SavedState>,
}

/// Counters of the layer above the core: messages that never reached it.
#[derive(Clone, Debug, Default)]
pub struct WireStats {
    pub malformed: u64,
    /// From a name that fits no seat (the cluster already has `cluster_size` members), or whose node id is
    /// another member's.
    pub unknown_sender: u64,
}

pub struct NodeDriver {
    raft: Raft,
    peers: MemberRegistry,
    storage: Box<dyn Storage>,
    output: Output,
    wire_stats: WireStats,
    /// How many user entries have been handed out as committed: the gaggle index of the next one.
    committed_user_entries: u64,
    /// On the leader: how many user entries its log holds, for the index of `appended` events.
    leader_user_entries: Option<u64>,
    hello_every_ticks: u32,
    ticks_since_hello: u32,
    last_reported_state: Option<(Role, u64, Option<NodeId>, Option<NodeId>)>,
    /// Where recovery cut off a torn write at startup, for `status()`.
    torn_tail: Option<String>,
    snapshots: SnapshotPolicy,
    /// Client requests proposed here, settled in the output (`settledRequests`) when they commit.
    requests: PendingRequests,
    closed: bool,
}

impl NodeDriver {
    /// A node with volatile storage (nothing survives a restart, as in gaggle).
    pub fn new(options: NodeOptions) -> Result<NodeDriver, OpenError> {
        NodeDriver::open(options, |_| {})
    }

    /// A node on the storage its options name; `report` receives the disk thread's events, which the caller
    /// must feed back with `persisted` (durable tokens) or by stopping the node (failure).
    pub fn open(options: NodeOptions, report: impl Fn(WriterEvent) + Send + 'static) -> Result<NodeDriver, OpenError> {
        let opened = recovery::open(&options, report)?;
        let peers = opened.peers;
        let mut config = Config::new(peers.self_id());
        config.election_ticks_min = options.ticks.election_min;
        config.election_ticks_max = options.ticks.election_max;
        config.heartbeat_ticks = options.ticks.heartbeat;
        config.pre_vote = options.pre_vote;
        config.check_quorum = options.check_quorum;
        config.max_inflight_messages = options.max_inflight_messages;
        config.max_inflight_bytes = options.max_inflight_bytes;
        config.max_message_bytes = options.max_message_bytes;
        config.max_apply_bytes_per_ready = APPLY_BYTES_PER_READY;
        config.proposal_retry_ticks = options.ticks.election_min;
        config.seed = options.seed.unwrap_or_else(rand::random);
        config.accept_snapshot_data = snapshots::is_restorable;
        let raft = Raft::new(config, opened.restored).map_err(|e| OpenError::Mismatch(e.to_string()))?;
        let mut driver = NodeDriver {
            raft,
            peers,
            storage: opened.storage,
            output: Output::default(),
            wire_stats: WireStats::default(),
            committed_user_entries: 0,
            leader_user_entries: None,
            hello_every_ticks: options.ticks.election_min,
            ticks_since_hello: 0,
            last_reported_state: None,
            torn_tail: opened.torn_tail.map(|(file, offset)| format!("{} at offset {offset}", file.display())),
            snapshots: SnapshotPolicy::new(options.snapshot_threshold),
            requests: PendingRequests::default(),
            closed: false,
        };
        if opened.record_peers {
            driver.storage.record_members(&driver.peers.members());
        }
        if let Some(snapshot) = driver.raft.snapshot().cloned() {
            // The application starts from the snapshot it took (or received) before the restart.
            driver.restore_from(&snapshot);
        }
        driver.say_hello_if_discovering();
        // The ready loop's first run (a restart hands the committed log to the application) is left to the first
        // flush, which knows what the caller wants in the output and keeps each piece small.
        Ok(driver)
    }

    pub fn name(&self) -> &str {
        self.peers.self_name()
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Runs the ready loop and hands over everything to do, as JSON text (`None` when there is nothing).
    pub fn flush(&mut self) -> Option<String> {
        self.prepare_output();
        self.output.take_json()
    }

    /// Everything an output must hold before it is handed over: the ready loop's work, a snapshot request when
    /// one is due, and a visible state change.
    fn prepare_output(&mut self) {
        self.process_ready();
        self.maybe_request_snapshot();
        self.report_state_change();
    }

    /// `flush`, leaving out of this and later outputs the event payloads that are not wanted.
    pub fn flush_wanting(&mut self, wanted: Wanted) -> Option<String> {
        self.output.set_wanted(wanted);
        self.flush()
    }

    /// `flush_wanting`, with the messages apart from the rest of the output (see `Output::take_parts`).
    pub fn flush_parts(&mut self, wanted: Wanted) -> Option<OutputParts> {
        self.output.set_wanted(wanted);
        self.prepare_output();
        self.output.take_parts()
    }

    pub fn tick(&mut self) {
        if self.closed {
            return;
        }
        self.raft.tick();
        self.ticks_since_hello += 1;
        if self.ticks_since_hello >= self.hello_every_ticks {
            self.say_hello_if_discovering();
        }
    }

    /// A message from the channel. Anything that does not make sense is dropped and counted.
    pub fn receive(&mut self, from_name: &str, json: &str) {
        if self.closed || from_name == self.peers.self_name() {
            // Broadcasts reach their sender too.
            return;
        }
        if from_name.len() > wire::MAX_NAME_BYTES {
            // No member can have this name (see `wire::MAX_NAME_BYTES`).
            self.wire_stats.malformed += 1;
            return;
        }
        let known = self.peers.id_of(from_name);
        if known.is_none() && !self.peers.has_vacant_seats() {
            self.wire_stats.unknown_sender += 1;
            return;
        }
        // Decoded before a stranger is bound: a malformed message must not take the seat of a member to come.
        let inbound = match wire::decode(json, known.unwrap_or(0), self.peers.self_id(), from_name) {
            Ok(inbound) => inbound,
            Err(_) => {
                self.wire_stats.malformed += 1;
                return;
            }
        };
        let from = match known {
            Some(id) => id,
            None => {
                let Ok(id) = self.seat(from_name) else {
                    self.wire_stats.unknown_sender += 1;
                    return;
                };
                // Introduce ourselves to a node we just met, so that it can reach us too.
                self.output.send(Some(from_name), &wire::encode_hello(self.peers.self_name()));
                id
            }
        };
        let mut message = match inbound {
            Inbound::Hello => return,
            Inbound::Raft(mut message) => {
                if let MessageBody::InstallSnapshot { meta, .. } = &mut message.body {
                    // From a release that does not send the membership: this node's own stands in, as there.
                    meta.membership = self.raft.membership().clone();
                }
                message
            }
            Inbound::InstallSnapshot { mut message, members } => {
                let Some(membership) = self.seat_snapshot_members(&members) else { return };
                if let MessageBody::InstallSnapshot { meta, .. } = &mut message.body {
                    meta.membership = membership;
                }
                message
            }
        };
        message.from = from;
        let _ = self.raft.step(message);
    }

    /// The id of `name`, seating it (here, in the core, and in storage) if it is new.
    fn seat(&mut self, name: &str) -> Result<NodeId, BindError> {
        let bound = self.peers.bind(name)?;
        if let Bound::Seated { id, vacant } = bound {
            // The registry and the core hold the same seats, so the core has this vacant seat to fill.
            let _ = self.raft.fill_vacant_seat(vacant, id);
            // Before any vote for this member can be persisted, its name must be.
            self.storage.record_members(&self.peers.members());
        }
        Ok(bound.id())
    }

    /// A received snapshot's membership in ids, seating the members it names that this node had not met; `None`
    /// (dropped and counted) when it names more members than this cluster has seats.
    fn seat_snapshot_members(&mut self, members: &wire::NamedMembership) -> Option<flotilla_raft::Membership> {
        let mut ids = |names: &[Option<String>]| -> Option<Vec<Option<NodeId>>> {
            let seat = |name: &Option<String>| match name {
                None => Some(None),
                Some(name) => self.seat(name).ok().map(Some),
            };
            names.iter().map(seat).collect()
        };
        let seated = ids(&members.voters).zip(ids(&members.outgoing)).zip(ids(&members.learners));
        let membership =
            seated.and_then(|((voters, outgoing), learners)| self.peers.resolve(&voters, &outgoing, &learners));
        if membership.is_none() {
            self.wire_stats.unknown_sender += 1;
        }
        membership
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether `name` is a member this node has met (itself excluded).
    pub fn is_peer(&self, name: &str) -> bool {
        name != self.peers.self_name() && self.peers.id_of(name).is_some()
    }

    /// Proposes application data (JSON text) under a fresh id `<name>_<uuid>`, which it returns.
    pub fn propose(&mut self, data_json: Option<&str>) -> Result<String, ProposeError> {
        let id = own_proposal_id(self.peers.self_name());
        self.raft.propose(id.as_str().into(), wire::payload_from_json(data_json))?;
        Ok(id)
    }

    /// Proposes application data (JSON text) under a client's request id, and returns its proposal id. A request
    /// that already committed (this node applied it) proposes nothing: the output settles it at once with its
    /// original index, as it settles a new one when it commits.
    pub fn propose_request(&mut self, request_id: &str, data_json: Option<&str>) -> Result<String, RequestError> {
        let id = requests::proposal_id_of(request_id)?;
        match self.raft.propose_idempotent(id.clone(), wire::payload_from_json(data_json))? {
            Proposed::Pending => self.requests.wait_for(id.clone()),
            Proposed::Committed(index) => {
                // The core found the id applied: a user entry this node counted (or its snapshot did).
                let gaggle_index = requests::applied_user_index(&self.raft, index, self.committed_user_entries);
                if let Some(gaggle_index) = gaggle_index {
                    self.output.request_settled(&id, gaggle_index);
                }
            }
        }
        Ok(id.to_string())
    }

    /// Starts an election now, as if the election timer had fired (brig's `startElection`). A leader ignores it.
    pub fn campaign(&mut self) {
        if !self.closed {
            self.raft.campaign();
        }
    }

    pub fn transfer_leadership(&mut self, to_name: &str) -> Result<(), TransferError> {
        let Some(target) = self.peers.id_of(to_name) else {
            return Err(TransferError::NotAMember { name: to_name.to_string() });
        };
        self.raft.transfer_leadership(target).map_err(|error| match error {
            flotilla_raft::TransferError::NotLeader => TransferError::NotLeader,
            flotilla_raft::TransferError::ToSelf => TransferError::ToSelf,
            flotilla_raft::TransferError::NotAVoter(_) => TransferError::NotAVoter { name: to_name.to_string() },
        })
    }

    /// The application's answer to `snapshotWanted`: its state as of `index` (JSON text), or `None` if it could
    /// not take one (then the next threshold asks again).
    pub fn snapshot_taken(&mut self, index: u64, data_json: Option<&str>) -> Result<(), SnapshotError> {
        let Some(user_entries) = self.snapshots.answered(index) else {
            return Err(SnapshotError::NotAsked { index });
        };
        let Some(data_json) = data_json else { return Ok(()) };
        let sealed = snapshots::seal(user_entries, data_json);
        if sealed.len() as u64 > snapshots::MAX_SNAPSHOT_DATA_BYTES {
            // A follower could never receive it: keep the log instead.
            return Err(SnapshotError::TooLarge {
                bytes: sealed.len() as u64,
                limit: snapshots::MAX_SNAPSHOT_DATA_BYTES,
            });
        }
        let dropped = self.raft.compact(index, sealed).map_err(SnapshotError::Compact)?;
        free_elsewhere(dropped);
        if let Some(snapshot) = self.raft.snapshot() {
            self.storage.save_snapshot(snapshot);
        }
        Ok(())
    }

    /// Hands the application a snapshot's envelope (`{userEntries, data}`) to restore its state from, and counts
    /// user entries from it on.
    fn restore_from(&mut self, snapshot: &Snapshot) {
        // The core installs only snapshots that pass `is_restorable`; one restored from disk is checked here.
        if !snapshots::is_restorable(&snapshot.meta, &snapshot.data) {
            self.wire_stats.malformed += 1;
            return;
        }
        if let Some((user_entries, _)) = snapshots::open(&snapshot.data) {
            self.committed_user_entries = user_entries;
            self.output.restore(std::str::from_utf8(&snapshot.data).unwrap_or("null"));
        }
    }

    /// Storage made every write up to `token` durable.
    pub fn persisted(&mut self, token: u64) {
        if !self.closed {
            self.raft.persisted(token);
        }
    }

    /// Stops all input and hands back the storage, whose drop finishes the queued writes and stops the disk
    /// thread (so the caller can drop it where waiting on a disk is allowed); pending proposals stay unsettled
    /// in the core (the JS side rejects them). Closing again returns a store with nothing to finish.
    pub fn close(&mut self) -> Box<dyn Storage> {
        self.closed = true;
        std::mem::replace(&mut self.storage, Box::new(flotilla_storage::VolatileStorage))
    }

    fn say_hello_if_discovering(&mut self) {
        self.ticks_since_hello = 0;
        if self.peers.has_vacant_seats() {
            self.output.send(None, &wire::encode_hello(self.peers.self_name()));
        }
    }

    /// Runs the ready loop until the core has nothing more to say, or until this output holds
    /// `APPLY_BYTES_PER_FLUSH` of committed entries: then the output says `more`, and the next flush goes on.
    fn process_ready(&mut self) {
        let mut applied_bytes = 0;
        while self.raft.has_ready() {
            if applied_bytes + APPLY_BYTES_PER_READY > APPLY_BYTES_PER_FLUSH {
                self.output.more();
                break;
            }
            let ready = self.raft.ready();
            applied_bytes += ready.committed.iter().map(Entry::size_bytes).sum::<u64>();
            if let Some(soft_state) = ready.soft_state {
                if soft_state.role == Role::Leader && self.leader_user_entries.is_none() {
                    self.leader_user_entries = Some(self.count_user_entries_in_log());
                } else if soft_state.role != Role::Leader {
                    self.leader_user_entries = None;
                }
            }
            if let Some(request) = ready.persist {
                if self.raft.role() == Role::Leader {
                    self.report_appended(&request.entries);
                }
                if let Submitted::Done(token) = self.storage.submit(request) {
                    self.raft.persisted(token);
                }
            }
            let peers = &self.peers;
            let mut messages = ready.messages;
            // Out in seat order (the members' configured or discovered order), not in id order: which peer hears
            // first is then what the application chose, as it was when ids were seat numbers. Each peer's own
            // messages keep their order (the sort is stable).
            messages.sort_by_cached_key(|message| peers.seat_of(message.to));
            for message in &messages {
                if let Some(to) = peers.name_of(message.to) {
                    let sender = peers.self_name();
                    self.output
                        .send_with(Some(to), |w| wire::write_message(w, message, sender, |id| peers.name_of(id)));
                }
            }
            if let Some(snapshot) = ready.snapshot {
                self.restore_from(&snapshot);
                // This node's appends that committed inside the snapshot are settled too.
                for (index, id) in &snapshot.proposal_ids {
                    if self.is_own_proposal(id) {
                        self.output.settled(id);
                    } else if self.requests.settle(id) {
                        // A snapshot that is not an envelope was counted as malformed; its requests time out.
                        if let Some(gaggle_index) = requests::user_index_in_snapshot(&snapshot, index) {
                            self.output.request_settled(id, gaggle_index);
                        }
                    }
                }
            }
            for entry in ready.committed.iter().filter(|e| e.is_user_data()) {
                let own = entry.id.as_deref().is_some_and(|id| self.is_own_proposal(id));
                if let Some(id) = entry.id.as_deref().filter(|id| !own && self.requests.settle(id)) {
                    self.output.request_settled(id, self.committed_user_entries);
                }
                self.output.committed(self.committed_user_entries, entry, own);
                self.committed_user_entries += 1;
            }
            for id in &ready.abandoned {
                // Forgotten here too: a later commit of the id is then an ordinary commit, not a settlement.
                self.requests.settle(id);
                self.output.abandoned(id);
            }
        }
    }

    /// This node's proposal ids are `<name>_<uuid>` (see `propose`).
    fn is_own_proposal(&self, id: &str) -> bool {
        let name = self.peers.self_name();
        id.len() > name.len() && id.starts_with(name) && id.as_bytes()[name.len()] == b'_'
    }

    /// Asks the application for a snapshot when enough was applied since the last one.
    fn maybe_request_snapshot(&mut self) {
        let log = self.raft.log();
        if self.snapshots.should_request(log.applied, log.snapshot_index()) {
            let index = log.applied;
            self.snapshots.requested(index, self.committed_user_entries);
            self.output.snapshot_wanted(index);
        }
    }

    /// Marks the output when anything of the gaggle-visible state (role, term, leader, vote) changed.
    fn report_state_change(&mut self) {
        let now = (self.raft.role(), self.raft.term(), self.raft.leader(), self.raft.vote());
        if self.last_reported_state != Some(now) {
            self.last_reported_state = Some(now);
            self.output.state_changed();
        }
    }

    fn report_appended(&mut self, entries: &[Entry]) {
        let term = self.raft.term();
        let Some(count) = self.leader_user_entries.as_mut() else { return };
        for entry in entries.iter().filter(|e| e.term == term && e.kind == EntryKind::Normal) {
            self.output.appended(*count, entry);
            *count += 1;
        }
    }

    fn count_user_entries_in_log(&self) -> u64 {
        let log = self.raft.log();
        let uncommitted_user = (self.raft.log().applied + 1..=log.last_index())
            .filter(|&i| log.entry(i).is_some_and(Entry::is_user_data))
            .count() as u64;
        self.committed_user_entries + uncommitted_user
    }

    // ---- the gaggle view ---------------------------------------------------------------------------------

    pub fn role_name(&self) -> &'static str {
        match self.raft.role() {
            Role::Follower => "FOLLOWER",
            Role::PreCandidate | Role::Candidate => "CANDIDATE",
            Role::Leader => "LEADER",
        }
    }

    pub fn leader_name(&self) -> Option<&str> {
        self.raft.leader().and_then(|id| self.peers.name_of(id))
    }

    pub fn voted_for_name(&self) -> Option<&str> {
        self.raft.vote().and_then(|id| self.peers.name_of(id))
    }

    /// The gaggle index of the last committed user entry that was handed out (-1 when none).
    pub fn commit_index(&self) -> i64 {
        self.committed_user_entries as i64 - 1
    }

    /// The user entries of the log, in order, as a JSON array of `{term, data, id}`.
    pub fn log_json(&self) -> String {
        let log = self.raft.log();
        let mut w = JsonWriter::new();
        w.begin_array();
        for index in log.first_index()..=log.last_index() {
            if let Some(entry) = log.entry(index).filter(|e| e.is_user_data()) {
                w.begin_object().key("term").uint(entry.term).key("data").raw(wire::payload_text(&entry.data));
                w.key("id").opt_string(entry.id.as_deref()).end_object();
            }
        }
        w.end_array();
        w.finish()
    }

    /// gaggle's `hasUncommittedEntriesInPreviousTerms`: a user entry of an older term above the commit index.
    pub fn has_uncommitted_entries_in_previous_terms(&self) -> bool {
        let log = self.raft.log();
        let term = self.raft.term();
        (log.committed + 1..=log.last_index()).any(|i| log.entry(i).is_some_and(|e| e.is_user_data() && e.term < term))
    }

    pub fn status_json(&self) -> String {
        let raft = &self.raft;
        let log = raft.log();
        let stats: &Stats = raft.stats();
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("id").string(self.peers.self_name());
        w.key("state").string(self.role_name());
        w.key("preCandidate").bool(raft.role() == Role::PreCandidate);
        w.key("term").uint(raft.term());
        w.key("leader").opt_string(self.leader_name());
        w.key("votedFor").opt_string(self.voted_for_name());
        w.key("commitIndex").int(self.commit_index());
        w.key("raftFirstIndex").uint(log.first_index());
        w.key("raftLastIndex").uint(log.last_index());
        w.key("raftCommitIndex").uint(log.committed);
        w.key("raftAppliedIndex").uint(log.applied);
        w.key("pendingProposals").uint(raft.pending_proposals() as u64);
        w.key("recoveredTornTail").opt_string(self.torn_tail.as_deref());
        w.key("peers").begin_array();
        for &id in &self.peers.seats()[1..] {
            match self.peers.name_of(id) {
                Some(name) => {
                    w.begin_object().key("id").string(name);
                    if let Some((matched, next, replicating)) = raft.peer_progress(id) {
                        w.key("matchIndex")
                            .uint(matched)
                            .key("nextIndex")
                            .uint(next)
                            .key("replicating")
                            .bool(replicating);
                    }
                    w.end_object();
                }
                None => {
                    w.null();
                }
            }
        }
        w.end_array();
        let dropped_total = stats.dropped_total() + self.wire_stats.malformed + self.wire_stats.unknown_sender;
        w.key("dropped").begin_object();
        w.key("total").uint(dropped_total);
        w.key("malformed").uint(stats.dropped_malformed + self.wire_stats.malformed);
        w.key("unknownSender").uint(stats.dropped_unknown_sender + self.wire_stats.unknown_sender);
        w.key("misaddressed").uint(stats.dropped_misaddressed);
        w.key("staleTerm").uint(stats.dropped_stale_term);
        w.key("unexpected").uint(stats.dropped_unexpected);
        w.end_object();
        w.key("stats").begin_object();
        w.key("electionsStarted").uint(stats.elections_started);
        w.key("electionsRefused").uint(stats.elections_refused);
        w.key("leaderChanges").uint(stats.leader_changes);
        w.key("checkQuorumStepDowns").uint(stats.check_quorum_step_downs);
        w.key("votesIgnoredInLease").uint(stats.votes_ignored_in_lease);
        w.key("appendRejections").uint(stats.append_rejections);
        w.key("proposalRetries").uint(stats.proposal_retries);
        w.key("duplicateProposals").uint(stats.duplicate_proposals);
        w.end_object();
        w.end_object();
        w.finish()
    }
}

/// Frees a long run of compacted entries on a thread of its own (two allocations each: a hundred thousand
/// take over 10 ms), so that the caller (the JS thread) does not wait; a short run is freed at once.
fn free_elsewhere(entries: Vec<Entry>) {
    const FREE_AT_ONCE: usize = 4096;
    if entries.len() <= FREE_AT_ONCE {
        return;
    }
    // When no thread can be had, the closure (and the entries with it) is dropped here instead.
    let _ = std::thread::Builder::new().name("flotilla-free".into()).spawn(move || drop(entries));
}

/// A fresh id for a proposal of the node `name`: `<name>_<uuid>`.
pub(super) fn own_proposal_id(name: &str) -> String {
    let mut id = String::with_capacity(name.len() + 37);
    id.push_str(name);
    id.push('_');
    push_uuid_v4(&mut id);
    id
}

/// Appends a random (version 4) UUID in its usual text form (one per append, so written without `format!`).
fn push_uuid_v4(out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::TimingMs;

    fn discovering_driver(name: &str, cluster_size: usize) -> NodeDriver {
        NodeDriver::new(discovering_options(name, cluster_size)).expect("driver")
    }

    fn discovering_options(name: &str, cluster_size: usize) -> NodeOptions {
        let ticks = TimingMs { election_min: 300.0, election_max: 500.0, heartbeat: 50.0 }.to_ticks();
        NodeOptions {
            name: name.to_string(),
            members: Members::Discover { cluster_size },
            ticks,
            pre_vote: true,
            check_quorum: true,
            max_inflight_messages: 256,
            max_inflight_bytes: 1 << 24,
            max_message_bytes: 1 << 20,
            seed: Some(7),
            storage: StorageOptions::Volatile,
            snapshot_threshold: None,
            saved_state: None,
        }
    }

    /// Flushes until the driver has nothing more to say; returns the `settledRequests` pairs and the last
    /// `snapshotWanted` index it asked for.
    fn flush_all(driver: &mut NodeDriver) -> (Vec<(String, u64)>, Option<u64>) {
        let (mut settled, mut snapshot_wanted) = (Vec::new(), None);
        while let Some(text) = driver.flush() {
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
        let mut driver = NodeDriver::new(NodeOptions { snapshot_threshold: Some(4), ..discovering_options("a", 1) })
            .expect("driver");
        driver.campaign();
        let _ = flush_all(&mut driver);
        driver.propose(Some("0")).expect("proposal accepted");
        driver.propose(Some("1")).expect("proposal accepted");
        let id = driver.propose_request("r", Some("2")).expect("request accepted");
        assert_eq!(id, "req(r)");
        driver.propose(Some("3")).expect("proposal accepted");
        let (settled, snapshot_wanted) = flush_all(&mut driver);
        assert_eq!(settled, vec![(id.clone(), 2)], "settled when it commits, with its place among user entries");

        assert_eq!(driver.propose_request("r", Some("again")).expect("request accepted"), id);
        assert_eq!(flush_all(&mut driver).0, vec![(id.clone(), 2)], "a retry from the log settles at once");

        let snapshot_index = snapshot_wanted.expect("a snapshot is asked for");
        driver.snapshot_taken(snapshot_index, Some("{}")).expect("snapshot taken");
        assert!(driver.raft.log().snapshot_index() > 3, "the request's entry is compacted");
        driver.propose(Some("4")).expect("proposal accepted");
        let _ = flush_all(&mut driver);
        assert_eq!(driver.propose_request("r", Some("again")).expect("request accepted"), id);
        assert_eq!(flush_all(&mut driver).0, vec![(id, 2)], "a retry from the snapshot settles at once");
        assert_eq!(driver.commit_index(), 4, "no retry made an entry");
        assert!(matches!(driver.propose_request("", None), Err(RequestError::InvalidId { bytes: 0 })));
    }

    #[test]
    fn malformed_messages_from_strangers_take_no_member_slot() {
        let mut driver = discovering_driver("a", 2);
        for garbage in ["", "null", "[1]", r#"{"type":"NOPE"}"#, r#"{"type":"REQUEST_VOTE","term":-1}"#] {
            driver.receive("stranger", garbage);
        }
        assert!(!driver.is_peer("stranger"));
        assert_eq!(driver.wire_stats.malformed, 5);
        driver.receive("b", r#"{"type":"HELLO","from":"b"}"#);
        assert!(driver.is_peer("b"));
        driver.receive("stranger", r#"{"type":"HELLO","from":"stranger"}"#);
        assert!(!driver.is_peer("stranger"));
        assert_eq!(driver.wire_stats.unknown_sender, 1);
        assert!(!driver.is_peer("a"), "a node is not its own peer");
    }

    #[test]
    fn a_long_committed_log_is_handed_out_in_small_outputs_marked_more() {
        let mut driver = discovering_driver("a", 1);
        driver.campaign();
        let _ = driver.flush();
        assert_eq!(driver.role_name(), "LEADER");
        let data = format!("\"{}\"", "x".repeat(98));
        let count = 20_000u64;
        for _ in 0..count {
            driver.propose(Some(&data)).expect("proposal accepted");
        }
        let mut handed_out = Vec::new();
        let mut outputs = 0;
        while let Some(text) = driver.flush() {
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
        assert_eq!(driver.commit_index(), count as i64 - 1);
        assert_eq!(driver.flush(), None, "nothing is left over");
    }

    /// `b`'s INSTALL_SNAPSHOT to `a`, in term 1, of a snapshot at index 8 whose envelope is `data`, in one chunk.
    fn snapshot_from_b(driver: &NodeDriver, data: &[u8]) -> String {
        use flotilla_raft::{encode_stream, Membership, Message, SnapshotMeta};
        let meta = SnapshotMeta { index: 8, term: 1, membership: Membership::default() };
        let stream = encode_stream(&Snapshot { meta: meta.clone(), data: data.into(), ..Snapshot::default() });
        let total = stream.len() as u64;
        let body = MessageBody::InstallSnapshot { meta: Box::new(meta), offset: 0, total, chunk: stream };
        let from = driver.peers.id_of("b").expect("b is known");
        let mut w = JsonWriter::new();
        let to = driver.peers.self_id();
        wire::write_message(&mut w, &Message { from, to, term: 1, body }, "b", |_| None);
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
        let mut driver = discovering_driver("a", 2);
        driver.receive("b", r#"{"type":"HELLO","from":"b"}"#);
        let _ = driver.flush();
        let bad: [&[u8]; 4] = [
            b"not json",
            br#"{"userEntries":1,"data":}"#,
            br#"{"userEntries":18446744073709551615,"data":1}"#,
            br#"{"userEntries":9,"data":1}"#,
        ];
        for (n, data) in bad.into_iter().enumerate() {
            driver.receive("b", &snapshot_from_b(&driver, data));
            let output: serde_json::Value = serde_json::from_str(&driver.flush().expect("a reply")).expect("JSON");
            assert_eq!(snapshot_replies(&output), vec![(0, false)], "snapshot {n}: {output}");
            assert!(output.get("restore").is_none(), "snapshot {n} restored: {output}");
            let log = driver.raft().log();
            assert_eq!((log.snapshot_index(), log.committed, driver.commit_index()), (0, 0, -1), "snapshot {n}");
            let status: serde_json::Value = serde_json::from_str(&driver.status_json()).expect("JSON");
            assert_eq!(status["dropped"]["malformed"], n as u64 + 1, "snapshot {n}: {}", status["dropped"]);
        }
        // At the limit (every entry it covers a user entry) it is restored.
        driver.receive("b", &snapshot_from_b(&driver, br#"{"userEntries":8,"data":{"k":1}}"#));
        let output: serde_json::Value = serde_json::from_str(&driver.flush().expect("a reply")).expect("JSON");
        assert_eq!(snapshot_replies(&output), vec![(output["send"][0][1]["received"].as_u64().unwrap(), true)]);
        assert_eq!(output["restore"], serde_json::json!({"userEntries": 8, "data": {"k": 1}}), "{output}");
        assert_eq!(driver.commit_index(), 7);
    }

    #[test]
    fn a_sender_whose_name_no_member_can_have_is_dropped_and_counted() {
        // A name longer than MAX_NAME_BYTES makes proposal ids the wire refuses: no member has one.
        let mut driver = discovering_driver("a", 3);
        let hello = |name: &str| format!(r#"{{"type":"HELLO","from":"{name}"}}"#);
        let longest = "n".repeat(wire::MAX_NAME_BYTES);
        driver.receive(&longest, &hello(&longest));
        assert!(driver.is_peer(&longest));
        let too_long = "m".repeat(wire::MAX_NAME_BYTES + 1);
        driver.receive(&too_long, &hello(&too_long));
        assert!(!driver.is_peer(&too_long));
        assert_eq!(driver.wire_stats.malformed, 1);
    }

    #[test]
    fn transfer_leadership_errors_speak_in_names() {
        let mut driver = discovering_driver("a", 1);
        assert_eq!(driver.transfer_leadership("a"), Err(TransferError::NotLeader));
        driver.campaign();
        let _ = driver.flush();
        let error = driver.transfer_leadership("nobody").expect_err("not a member");
        assert_eq!(error, TransferError::NotAMember { name: "nobody".into() });
        assert_eq!(error.to_string(), r#"node "nobody" is not a voter: no member of this cluster has that name"#);
        assert_eq!(driver.transfer_leadership("a"), Err(TransferError::ToSelf));
    }

    #[test]
    fn proposal_ids_are_the_name_and_a_version_4_uuid() {
        let mut driver = discovering_driver("a", 1);
        let id = driver.propose(Some("1")).expect("proposal accepted");
        let uuid = id.strip_prefix("a_").expect("name prefix");
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{id}");
        assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
        assert!(groups[2].starts_with('4') && "89ab".contains(&groups[3][..1]), "{id}");
        assert_ne!(driver.propose(None).expect("proposal accepted"), id);
    }
}
