//! Drives one consensus core: feeds it ticks, peer messages and proposals, and carries out its `Ready` work in
//! the one order that is safe: persist, then send, then apply. What the caller must act on comes out as typed
//! events through an `EventSink` (see `events`), in raft indices and the core's entries; members are known by
//! name, and a node's id is its name's (`members`), the same on every node; what a codec decoded comes in typed.

use super::driver_stats::DriverStats;
use super::events::{EventSink, Proposer};
use super::member_addresses::MemberAddresses;
use super::members::{member_id, BindError, Bound, MemberRegistry, NamedMembership, MAX_MEMBER_ID};
use super::open_error::OpenError;
use super::recovery::{self, Opened, StorageOptions};
use super::requests::{self, PendingRequests, RequestError};
use super::saved_state::SavedState;
use super::snapshots::{SnapshotError, SnapshotPolicy, MAX_SNAPSHOT_DATA_BYTES};
use super::status::{MemberStatus, Status};
use super::timing::Ticks;
use super::transfer_error::TransferError;
use flotilla_raft::{
    CompactError, Config, Entry, EntryKind, Index, Membership, Message, MessageBody, NodeId, Payload, ProposalId,
    ProposeError, Proposed, Raft, ReadError, RestoredState, Role, Snapshot, SnapshotMeta, Term, MAX_ID_BYTES,
};
use flotilla_storage::{Storage, Submitted, WriterEvent};
use std::collections::BTreeSet;

/// At most about this many bytes of committed entries go out in one flush: a long committed log (a restart
/// replays it to the application) is handed over in pieces, each ended by `more`, so that no single flush keeps
/// the caller's thread busy for long.
pub const APPLY_BYTES_PER_FLUSH: u64 = 256 * 1024;
/// The core's limit per `Ready`: a flush takes another `Ready` only while it still fits in the flush's budget.
const APPLY_BYTES_PER_READY: u64 = APPLY_BYTES_PER_FLUSH / 4;

/// At most this many names are learned beyond the seats of the first members (members added later, and
/// strangers whose requests were answered): a flood of new names cannot grow the registry without bound.
pub const MAX_STRANGERS: usize = 4 * flotilla_raft::MAX_MEMBERS;

/// The longest node name, in UTF-8 bytes: a node's proposal ids are its name, `_` and a 36-character UUID, and
/// must fit `MAX_ID_BYTES`. Enforced on the options of every face, and on the names of senders.
pub const MAX_NAME_BYTES: usize = MAX_ID_BYTES - 37;

#[path = "membership_changes.rs"]
mod membership_changes;
#[path = "seat_replacement.rs"]
mod seat_replacement;
pub use membership_changes::MembershipError;
use membership_changes::PendingChange;
use seat_replacement::SeatWatch;
pub use seat_replacement::SILENT_ELECTION_TIMEOUTS;

/// Who the members are: known by name, or only counted (gaggle), to be discovered as they speak; or none yet, for
/// a node that joins an existing cluster (it waits to be added, and learns the members from the leader's log).
#[derive(Clone, Debug)]
pub enum Members {
    Discover { cluster_size: usize },
    Named(Vec<String>),
    Join,
}

#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub name: String,
    pub members: Members,
    /// The core's settings. The driver sets `id` (this node's), `max_apply_bytes_per_ready` (its flush budget)
    /// and, when the options were made from `Ticks`, the timing; the rest (flow control, pre-vote, check-quorum,
    /// the seed, the check of received snapshot data, an injected bug in a test build) is the caller's.
    pub raft: Config,
    /// The length of one tick of the core's clock, in milliseconds (the caller's timer calls `tick`).
    pub tick_ms: u32,
    pub storage: StorageOptions,
    /// Ask the application for a snapshot every this many applied entries (`None`: never compact).
    pub snapshot_threshold: Option<u64>,
    /// A state saved by another library to start from, instead of an empty one (refused if storage holds one).
    pub saved_state: Option<SavedState>,
    /// Where this incarnation's read numbers start (below `MAX_READ_NUMBER_BASE`): random, so that a leader's
    /// answer to a read asked before a restart, still on its way, cannot answer a read asked after it.
    pub read_number_base: u64,
}

/// Read numbers start below 2^52 and count up: they stay exact in a JS number (the wire's limit is 2^53).
pub const MAX_READ_NUMBER_BASE: u64 = 1 << 52;

impl NodeOptions {
    /// Options for a node named `name` with the core's defaults and the given timing: volatile storage, no
    /// snapshots, a random seed.
    pub fn new(name: &str, members: Members, ticks: Ticks) -> NodeOptions {
        let mut raft = Config::new(member_id(name));
        raft.election_ticks_min = ticks.election_min;
        raft.election_ticks_max = ticks.election_max;
        raft.heartbeat_ticks = ticks.heartbeat;
        raft.proposal_retry_ticks = ticks.election_min;
        raft.seed = rand::random();
        NodeOptions {
            name: name.to_string(),
            members,
            raft,
            tick_ms: ticks.tick_ms,
            storage: StorageOptions::Volatile,
            snapshot_threshold: None,
            saved_state: None,
            read_number_base: rand::random::<u64>() % MAX_READ_NUMBER_BASE,
        }
    }
}

/// Counters of the layer above the core: messages that never reached it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    pub malformed: u64,
    /// From a name that fits no seat (the cluster already has `cluster_size` members), or whose node id is
    /// another member's.
    pub unknown_sender: u64,
}

/// What a codec read from a peer's message.
#[derive(Debug)]
pub enum Received {
    /// A message for the core (its `from` and `to` are set by the driver, from the sender's name). An
    /// InstallSnapshot's membership is in node ids, and must be this node's own (an empty one, from a sender that
    /// did not send it, is taken to be).
    Message(Message),
    /// An InstallSnapshot whose membership came by name (the driver fills in `meta.membership` in its ids, once
    /// it checked that the membership is its own).
    Snapshot { message: Message, members: NamedMembership },
    /// The sender introduces itself (discovery).
    Introduction,
}

/// What `propose_request` made of a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestProposed {
    /// The request's proposal id.
    pub id: ProposalId,
    /// Set when the request had committed already (this node applied it) at this log index: nothing was
    /// proposed, and the caller settles it at once.
    pub committed_at: Option<Index>,
}

pub struct NodeDriver {
    raft: Raft,
    peers: MemberRegistry,
    storage: Box<dyn Storage>,
    wire_stats: WireStats,
    /// Proposals, reads, appended entries and snapshots, for `status()`.
    counters: DriverStats,
    /// Whether a snapshot's data is one the application can restore (`Config::accept_snapshot_data`).
    accept_snapshot_data: fn(&SnapshotMeta, &[u8]) -> bool,
    /// `InjectedBug::AcknowledgeBeforeDurable`, switched on by the simulation's tests only (never true in a build
    /// without the `bug-injection` feature).
    acknowledge_before_durable: bool,
    hello_every_ticks: u32,
    ticks_since_hello: u32,
    /// Introductions due, to one peer or (`None`) to everyone: they go out at the next flush.
    introductions: Vec<Option<String>>,
    /// A snapshot restored from storage at startup, for the application at the first flush.
    restore_at_start: Option<Snapshot>,
    last_reported_state: Option<(Role, u64, Option<NodeId>, Option<NodeId>)>,
    /// The core's count of elections started, as of the last flush.
    elections_reported: u64,
    /// Where recovery cut off a torn write at startup, for `status()`.
    torn_tail: Option<String>,
    snapshots: SnapshotPolicy,
    /// Client requests proposed here, settled when they commit.
    requests: PendingRequests,
    /// The number of the last read asked here (the first is one above `NodeOptions::read_number_base`).
    last_read: u64,
    /// Reads that have their read index, as (index, read), until this node has applied up to the index.
    reads_awaiting_apply: BTreeSet<(Index, u64)>,
    /// The number of the last membership change asked here.
    last_change: u64,
    /// Membership changes proposed here, until they settle.
    pending_changes: Vec<PendingChange>,
    /// The members' network addresses the configurations carry.
    addresses: MemberAddresses,
    /// The configuration in force when last reported (`EventSink::membership_changed`).
    membership_reported: Option<Membership>,
    /// As the leader of gaggle's in-memory clusters: which members are silent, and who asks to take part.
    seat_watch: SeatWatch,
    /// The last index handed to the application (a restored snapshot's or a committed entry's). The core's own
    /// `applied` runs ahead of it while a received snapshot waits to be durable.
    handed_out: Index,
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
        NodeDriver::start(options, opened)
    }

    /// A node on a store the caller made (in memory, fault-injecting: the simulation's), starting from `restored`
    /// (what that store kept before a restart; `RestoredState::default()` for a new node). The membership is the
    /// options' members; `options.storage` and `options.saved_state` are not used.
    pub fn with_storage(
        options: NodeOptions,
        storage: Box<dyn Storage>,
        restored: RestoredState,
    ) -> Result<NodeDriver, OpenError> {
        let peers = recovery::fresh_registry(&options.name, &options.members)?;
        let restored = RestoredState { membership: recovery::first_membership(&peers, &options.members), ..restored };
        let restored = RestoredState { joining: matches!(options.members, Members::Join), ..restored };
        NodeDriver::start(options, Opened { storage, peers, restored, record_peers: true, torn_tail: None })
    }

    fn start(options: NodeOptions, opened: Opened) -> Result<NodeDriver, OpenError> {
        let mut config = options.raft;
        config.id = opened.peers.self_id();
        config.max_apply_bytes_per_ready = APPLY_BYTES_PER_READY;
        let accept_snapshot_data = config.accept_snapshot_data;
        #[cfg(feature = "bug-injection")]
        let acknowledge_before_durable = config.injects(flotilla_raft::InjectedBug::AcknowledgeBeforeDurable);
        #[cfg(not(feature = "bug-injection"))]
        let acknowledge_before_durable = false;
        let hello_every_ticks = config.election_ticks_min;
        // Only gaggle's clusters kept in memory: their nodes come back under a new name.
        let seat_watch = match options.members {
            Members::Discover { cluster_size } if matches!(options.storage, StorageOptions::Volatile) => {
                #[allow(unused_mut)]
                let mut watch = SeatWatch::new(cluster_size, config.election_ticks_max);
                #[cfg(feature = "bug-injection")]
                {
                    watch.gives_seats_outside_the_log =
                        config.injects(flotilla_raft::InjectedBug::SeatGivenAwayOutsideTheLog);
                }
                watch
            }
            _ => SeatWatch::default(),
        };
        let raft = Raft::new(config, opened.restored).map_err(OpenError::Core)?;
        // A restart hands the application its snapshot at the first flush, before anything else.
        let handed_out = raft.log().snapshot_index();
        let mut driver = NodeDriver {
            raft,
            peers: opened.peers,
            storage: opened.storage,
            wire_stats: WireStats::default(),
            counters: DriverStats::default(),
            accept_snapshot_data,
            acknowledge_before_durable,
            hello_every_ticks,
            ticks_since_hello: 0,
            introductions: Vec::new(),
            restore_at_start: None,
            last_reported_state: None,
            elections_reported: 0,
            torn_tail: opened.torn_tail.map(|(file, offset)| format!("{} at offset {offset}", file.display())),
            snapshots: SnapshotPolicy::new(options.snapshot_threshold),
            requests: PendingRequests::default(),
            last_read: options.read_number_base % MAX_READ_NUMBER_BASE,
            reads_awaiting_apply: BTreeSet::new(),
            handed_out,
            last_change: 0,
            pending_changes: Vec::new(),
            addresses: MemberAddresses::default(),
            membership_reported: None,
            seat_watch,
            closed: false,
        };
        if opened.record_peers {
            driver.storage.record_members(&driver.peers.seat_records());
        }
        driver.learn_names_of_restored_log();
        if let Some(snapshot) = driver.raft.snapshot() {
            // The application starts from the snapshot it took (or received) before the restart; the core installs
            // only snapshots that pass `accept_snapshot_data`, and one restored from disk is checked here.
            if (driver.accept_snapshot_data)(&snapshot.meta, &snapshot.data) {
                driver.restore_at_start = Some(snapshot.clone());
            } else {
                driver.wire_stats.malformed += 1;
            }
        }
        driver.say_hello_if_discovering();
        // The ready loop's first run (a restart hands the committed log to the application) is left to the first
        // flush, which keeps each piece small.
        Ok(driver)
    }

    pub fn name(&self) -> &str {
        self.peers.self_name()
    }

    /// At start: the members' names the restored snapshot and log carry.
    fn learn_names_of_restored_log(&mut self) {
        // (The context alone: a snapshot's data may be large.)
        if let Some(context) = self.raft.snapshot().map(|snapshot| snapshot.membership_context.clone()) {
            self.learn_names_in(&context);
        }
        let log = self.raft.log();
        let conf_entries: Vec<Entry> = (log.first_index()..=log.last_index())
            .filter_map(|index| log.entry(index))
            .filter(|entry| entry.kind == EntryKind::ConfChange)
            .cloned()
            .collect();
        self.learn_names_of_entries(&conf_entries);
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The name of node `id`, if it is this node or a member met so far.
    pub fn name_of(&self, id: NodeId) -> Option<&str> {
        self.peers.name_of(id)
    }

    /// The id of the member named `name`, if met so far.
    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.peers.id_of(name)
    }

    /// Runs the ready loop and hands everything to do to `sink`: introductions, then for each `Ready` a state
    /// change, the leader's appended entries, messages, a snapshot to restore, committed entries and abandoned
    /// proposals; then a snapshot request when one is due, a last state change, and whether an election started
    /// or heartbeats went out. Stops early with `more` once about `APPLY_BYTES_PER_FLUSH` of committed entries
    /// went out.
    pub fn flush(&mut self, sink: &mut impl EventSink) {
        for to in std::mem::take(&mut self.introductions) {
            sink.introduce(to.as_deref());
        }
        if let Some(snapshot) = self.restore_at_start.take() {
            self.counters.snapshot_restored(snapshot.data.len());
            sink.restore(&snapshot);
        }
        let heartbeats_sent = self.process_ready(sink);
        self.report_membership(sink);
        self.maybe_request_snapshot(sink);
        self.report_state_change(sink);
        let elections_started = self.raft.stats().elections_started;
        if elections_started > self.elections_reported {
            self.elections_reported = elections_started;
            sink.election_started();
        }
        if heartbeats_sent {
            sink.heartbeats_sent();
        }
    }

    pub fn tick(&mut self) {
        if self.closed {
            return;
        }
        self.raft.tick();
        self.keep_seats_filled();
        self.ticks_since_hello += 1;
        if self.ticks_since_hello >= self.hello_every_ticks {
            self.say_hello_if_discovering();
        }
    }

    /// A message from the peer `from_name`, as a codec read it. A sender the cluster has no room for is dropped
    /// and counted; a new one is met (seated in a vacant seat, and introduced to).
    pub fn receive(&mut self, from_name: &str, received: Received) {
        let request = match &received {
            Received::Message(message) | Received::Snapshot { message, .. } => is_request(&message.body),
            Received::Introduction => false,
        };
        if matches!(received, Received::Introduction) && !self.discovering() {
            // A name outside the configuration that says hello (gaggle's discovery) asks for a seat.
            let member = self.peers.id_of(from_name).is_some_and(|id| self.raft.membership().contains(id));
            let valid = !from_name.is_empty() && from_name.len() <= MAX_NAME_BYTES;
            if !member && valid && !self.closed && from_name != self.peers.self_name() {
                self.seat_watch.asked_to_take_part(from_name);
            }
        }
        let Some(from) = self.sender_id(from_name, request) else { return };
        let from = match from {
            Some(id) => id,
            None => {
                let Ok(id) = self.seat(from_name) else {
                    self.wire_stats.unknown_sender += 1;
                    return;
                };
                // Introduce ourselves to a node we just met, so that it can reach us too.
                self.introductions.push(Some(from_name.to_string()));
                id
            }
        };
        let (mut message, told) = match received {
            Received::Introduction => return,
            Received::Message(message) => (message, None),
            Received::Snapshot { message, members } => (message, Some(members)),
        };
        if let MessageBody::InstallSnapshot { meta, .. } = &mut message.body {
            let Some(membership) = self.snapshot_membership(told.as_ref(), &meta.membership) else {
                self.wire_stats.malformed += 1;
                return;
            };
            meta.membership = membership;
        }
        message.from = from;
        message.to = self.peers.self_id();
        // (Off the path of every message in clusters that do not replace their members.)
        if self.seat_watch.enabled() && self.raft.membership().contains(from) {
            self.seat_watch.heard(from);
        }
        let _ = self.raft.step(message);
    }

    /// The id of `name`, seating it (here, in the core, and in storage) if it is new.
    fn seat(&mut self, name: &str) -> Result<NodeId, BindError> {
        let bound = self.peers.bind(name)?;
        if let Bound::Seated { id, vacant } = bound {
            // The core holds the registry's vacant seat, unless a snapshot's configuration (the leader's) has left
            // it out meanwhile: then there is no seat to fill in the core, and the member is only known.
            let _ = self.raft.fill_vacant_seat(vacant, id);
            // Before any vote for this member can be persisted, its name must be.
            self.storage.record_members(&self.peers.seat_records());
        }
        Ok(bound.id())
    }

    /// A received snapshot's membership, told by name (`named`) or by id, in this node's ids: the leader's
    /// configuration as of the snapshot, which the core adopts with it. A name stands for its id (known here or
    /// not: the snapshot's own context names the members, learned once the core takes it, and a member known by
    /// id is learned when it speaks); a member its teller had not met stands for one of this node's vacant seats
    /// (gaggle's discovery). A name no member can have, or
    /// more unknown members than vacant seats, is refused (`None`). Nothing in it seats anyone. An empty one by
    /// id (from a sender that does not send it) is this node's own.
    fn snapshot_membership(&self, named: Option<&NamedMembership>, by_id: &Membership) -> Option<Membership> {
        match named {
            Some(named) => {
                let ids = |names: &[Option<String>]| -> Option<Vec<Option<NodeId>>> {
                    let id = |name: &Option<String>| match name.as_deref() {
                        None => Some(None),
                        Some(name) if name.is_empty() || name.len() > MAX_NAME_BYTES => None,
                        // A member named is that member, met here or not (learned when it speaks: see
                        // `sender_id`). Were it one of this node's vacant seats, whoever spoke next would take it,
                        // a newcomer's hello say, and a node adopted by the cluster would keep seats it never fills.
                        Some(name) => Some(Some(self.peers.id_of(name).unwrap_or_else(|| member_id(name)))),
                    };
                    names.iter().map(id).collect()
                };
                let (voters, outgoing, learners) = (ids(&named.voters)?, ids(&named.outgoing)?, ids(&named.learners)?);
                self.peers.resolve(&voters, &outgoing, &learners)
            }
            None if *by_id == Membership::default() => Some(self.raft.membership().clone()),
            None => self.peers.resolve_stored(by_id),
        }
    }

    /// A message from `from_name` that no codec could read: counted (as malformed, or as from an unknown sender
    /// when the cluster has no room for a stranger), and it takes no seat.
    pub fn receive_unreadable(&mut self, from_name: &str) {
        if let Some(_known_or_new) = self.sender_id(from_name, false) {
            self.wire_stats.malformed += 1;
        }
    }

    /// The id of a sender: `Some(Some(id))` for a member, `Some(None)` for a stranger there is a vacant seat for,
    /// `None` when the message is ignored (closed, from this node itself: broadcasts reach their sender too) or
    /// dropped and counted (a name no member can have, no room). Once every seat is taken, a stranger's `request`
    /// (a vote, or a leader's message) is taken as well, and its name learned: Raft servers answer requests from
    /// servers outside their latest configuration (thesis 4.1: a member added by a change this node has not seen
    /// yet, a leader it does not know, a candidate it must vote for to keep the cluster available); a removed
    /// server cannot disturb it where pre-vote and check-quorum hold. At most `MAX_STRANGERS` are kept so: beyond,
    /// the oldest that no configuration holds and that is neither the leader nor the vote is forgotten. A stranger
    /// is no peer: its proposals, reads and rpc calls are not taken.
    fn sender_id(&mut self, from_name: &str, request: bool) -> Option<Option<NodeId>> {
        if self.closed || from_name == self.peers.self_name() {
            return None;
        }
        if from_name.is_empty() || from_name.len() > MAX_NAME_BYTES {
            self.wire_stats.malformed += 1;
            return None;
        }
        let known = self.peers.id_of(from_name);
        // A member this node knows by id only (from a snapshot's configuration) is learned, and takes no vacant
        // seat, which stays for the member the configuration still keeps one for.
        let member_by_id = known.is_none() && self.raft.membership().contains(member_id(from_name));
        if member_by_id {
            if let Ok(id) = self.peers.learn(from_name) {
                return Some(Some(id));
            }
        }
        if known.is_some() || self.discovering() {
            return Some(known);
        }
        let learned = if member_by_id {
            None
        } else if request {
            let raft = &self.raft;
            let still_needed =
                |id| raft.config_history_holds(id) || raft.leader() == Some(id) || raft.vote() == Some(id);
            self.peers.learn_stranger(from_name, MAX_STRANGERS, still_needed)
        } else {
            None
        };
        if let Some(id) = learned {
            return Some(Some(id));
        }
        self.wire_stats.unknown_sender += 1;
        None
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether `name` is a member this node has met (itself excluded): not a stranger known from its requests.
    pub fn is_peer(&self, name: &str) -> bool {
        name != self.peers.self_name() && self.peers.id_of(name).is_some_and(|id| !self.peers.is_stranger(id))
    }

    /// Proposes application data under a fresh id `<name>_<uuid>`, which it returns.
    pub fn propose(&mut self, data: Payload) -> Result<ProposalId, ProposeError> {
        let id = own_proposal_id_shared(self.peers.self_name());
        self.propose_id(id.clone(), data)?;
        Ok(id)
    }

    /// Proposes application data under an id named beforehand by `own_proposal_id` (a node on its own thread names
    /// a proposal on the caller's thread, which then does not wait for the engine's thread to take it).
    pub fn propose_as(&mut self, id: &str, data: Payload) -> Result<(), ProposeError> {
        self.propose_id(id.into(), data)
    }

    fn propose_id(&mut self, id: ProposalId, data: Payload) -> Result<(), ProposeError> {
        self.raft.propose(id, data)?;
        self.counters.proposals += 1;
        Ok(())
    }

    /// Proposes application data under a client's request id. A request that already committed (this node
    /// applied it) proposes nothing: the answer says where it committed. Otherwise it is settled when it commits
    /// (`Proposer::WaitedRequest`).
    pub fn propose_request(&mut self, request_id: &str, data: Payload) -> Result<RequestProposed, RequestError> {
        let id = requests::proposal_id_of(request_id)?;
        match self.raft.propose_idempotent(id.clone(), data)? {
            Proposed::Pending => {
                self.counters.proposals += 1;
                self.requests.wait_for(id.clone());
                Ok(RequestProposed { id, committed_at: None })
            }
            Proposed::Committed(index) => Ok(RequestProposed { id, committed_at: Some(index) }),
        }
    }

    /// Starts a linearizable read (Raft thesis 6.4) and returns its number: `EventSink::read_done` reports it
    /// once this node has applied every entry up to its read index, so that the application's state then reflects
    /// every write acknowledged before this call. `lease`: the leader may answer from its lease (CheckQuorum only).
    /// It waits through leader changes until it is answered or `cancel_read` gives it up.
    pub fn read(&mut self, lease: bool) -> Result<u64, ReadError> {
        let request = self.last_read + 1;
        self.raft.read_index(request, lease)?;
        self.counters.read_asked(lease);
        self.last_read = request;
        Ok(request)
    }

    /// A lease read served at once: `Some(index)` when this node leads, its lease holds, and it has applied up to
    /// the read index already (the application's state serves the read now); otherwise `None`, and the caller
    /// asks with `read(true)`.
    pub fn read_by_lease(&mut self) -> Option<Index> {
        if self.closed {
            return None;
        }
        let index = self.raft.read_by_lease()?;
        let served = (index <= self.handed_out).then_some(index);
        if served.is_some() {
            self.counters.read_asked(true);
        }
        served
    }

    /// The caller's clock owes the core ticks (its thread was busy): no lease holds until they are in
    /// (`Raft::set_clock_behind`).
    pub fn set_clock_behind(&mut self, behind: bool) {
        self.raft.set_clock_behind(behind);
    }

    /// Gives up a read: `read_done` never comes for it.
    pub fn cancel_read(&mut self, request: u64) {
        self.raft.cancel_read(request);
        self.reads_awaiting_apply.retain(|&(_, waiting)| waiting != request);
    }

    /// Reads asked here and not yet done: waiting for their read index or for this node's apply.
    pub fn pending_reads(&self) -> usize {
        self.raft.pending_reads() + self.reads_awaiting_apply.len()
    }

    /// Moves the node to the later `term` as a follower (see `Raft::raise_term`); false for a term not after
    /// the current one, beyond the largest, or on a closed node.
    pub fn raise_term(&mut self, term: Term) -> bool {
        !self.closed && self.raft.raise_term(term)
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
        self.raft.transfer_leadership(target).map_err(|error| transfer_error(error, to_name))
    }

    /// Starts handing leadership to the most caught-up voter, before this leader closes on purpose; returns its
    /// name (`Raft::transfer_leadership_to_most_caught_up`). The caller keeps the node running until the node is
    /// no longer the leader, or an election timeout passed.
    pub fn hand_over_leadership(&mut self) -> Result<String, TransferError> {
        if self.closed {
            return Err(TransferError::NotLeader);
        }
        let target = self.raft.transfer_leadership_to_most_caught_up().map_err(|error| transfer_error(error, ""))?;
        Ok(self.peers.name_of(target).unwrap_or_default().to_string())
    }

    /// The application's answer to `snapshot_wanted`: its state as of `index`, or `None` if it could not take
    /// one (then the next threshold asks again).
    pub fn snapshot_taken(&mut self, index: Index, data: Option<Payload>) -> Result<(), SnapshotError> {
        if !self.snapshots.answered(index) {
            return Err(SnapshotError::NotAsked { index });
        }
        let Some(data) = data else { return Ok(()) };
        if data.len() as u64 > MAX_SNAPSHOT_DATA_BYTES {
            // A follower could never receive it: keep the log instead.
            return Err(SnapshotError::TooLarge { bytes: data.len() as u64, limit: MAX_SNAPSHOT_DATA_BYTES });
        }
        let bytes = data.len();
        let dropped = match self.raft.compact(index, data) {
            Ok(dropped) => dropped,
            // A snapshot from the leader came while the application saved: it holds more than this one, and
            // nothing failed.
            Err(CompactError::AlreadyCompacted { .. }) => return Ok(()),
            Err(error) => return Err(SnapshotError::Compact(error)),
        };
        self.counters.snapshot_taken(bytes);
        free_elsewhere(dropped);
        if let Some(snapshot) = self.raft.snapshot() {
            self.storage.save_snapshot(snapshot);
        }
        Ok(())
    }

    /// Storage made every write up to `token` durable.
    pub fn persisted(&mut self, token: u64) {
        if !self.closed {
            self.raft.persisted(token);
        }
    }

    /// Stops all input and hands back the storage, whose drop finishes the queued writes and stops the disk
    /// thread (so the caller can drop it where waiting on a disk is allowed); pending proposals stay unsettled
    /// in the core. Closing again returns a store with nothing to finish.
    pub fn close(&mut self) -> Box<dyn Storage> {
        self.closed = true;
        std::mem::replace(&mut self.storage, Box::new(flotilla_storage::VolatileStorage))
    }

    /// The node's state: the core's, with names, the torn tail recovery cut off, and the driver's counters.
    pub fn status(&self) -> Status {
        let core = self.raft.status();
        // The seats first (the configured or discovered order), then the members added since. A vacant seat the
        // configuration does not hold (a snapshot's gave it another member) is no seat of the cluster's.
        let membership = self.raft.membership();
        let vacant_elsewhere = |id: &NodeId| *id > MAX_MEMBER_ID && !membership.contains(*id);
        let mut ids: Vec<NodeId> = self.peers.seats()[1..].iter().copied().filter(|id| !vacant_elsewhere(id)).collect();
        let self_id = self.peers.self_id();
        for id in membership.members() {
            if id != self_id && !ids.contains(&id) {
                ids.push(id);
            }
        }
        let members = ids
            .iter()
            .map(|&id| MemberStatus {
                id,
                name: self.peers.name_of(id).map(str::to_string),
                progress: core.peer(id).copied(),
            })
            .collect();
        Status {
            name: self.peers.self_name().to_string(),
            leader_name: self.raft.leader().and_then(|id| self.peers.name_of(id)).map(str::to_string),
            voted_for_name: self.raft.vote().and_then(|id| self.peers.name_of(id)).map(str::to_string),
            core,
            members,
            recovered_torn_tail: self.torn_tail.clone(),
            wire: self.wire_stats,
            counters: self.counters,
            fsync: self.storage.fsync_times(),
        }
    }

    /// Whether this node still discovers its cluster (gaggle's): it has a vacant seat, and the configuration in
    /// force holds a member whose name it has not met (a seat kept for a member not met yet, or one it knows only
    /// by id from the leader's snapshot). A newcomer that a cluster adopted holds that cluster's configuration
    /// with every name, whatever vacant seats its own registry began with: it no longer seats whoever speaks, nor
    /// says hello, and as leader it replaces silent members.
    fn discovering(&self) -> bool {
        let membership = self.raft.membership();
        let mut ids = membership.voters.iter().chain(&membership.outgoing).chain(&membership.learners);
        self.peers.has_vacant_seats() && ids.any(|&id| self.peers.name_of(id).is_none())
    }

    fn say_hello_if_discovering(&mut self) {
        self.ticks_since_hello = 0;
        if self.discovering() && !self.introductions.contains(&None) {
            self.introductions.push(None);
        }
    }

    /// Runs the ready loop until the core has nothing more to say, or until this flush handed out
    /// `APPLY_BYTES_PER_FLUSH` of committed entries: then it says `more`, and the next flush goes on. Returns
    /// whether heartbeats went out.
    fn process_ready(&mut self, sink: &mut impl EventSink) -> bool {
        let (mut applied_bytes, mut heartbeats_sent) = (0, false);
        while self.raft.has_ready() {
            if applied_bytes + APPLY_BYTES_PER_READY > APPLY_BYTES_PER_FLUSH {
                sink.more();
                break;
            }
            let ready = self.raft.ready();
            // The core says which entries were this node's own proposals (`Ready::own`, ascending).
            let mut own = ready.own.iter().peekable();
            let mut is_own = |index: Index| {
                while own.next_if(|&i| i < index).is_some() {}
                own.next_if_eq(&index).is_some()
            };
            applied_bytes += ready.committed.iter().map(Entry::size_bytes).sum::<u64>();
            self.report_state_change(sink);
            if let Some(request) = ready.persist {
                self.counters.entries_appended += request.entries.len() as u64;
                // Names first: the messages of this ready may be for members the new configuration added.
                self.learn_names_of_entries(&request.entries);
                if let Some(snapshot) = &request.snapshot {
                    self.learn_names_of_snapshot(snapshot);
                }
                if self.raft.role() == Role::Leader {
                    let term = self.raft.term();
                    for entry in request.entries.iter().filter(|e| e.term == term && e.kind == EntryKind::Normal) {
                        sink.appended(entry);
                    }
                }
                let token = request.token;
                match self.storage.submit(request) {
                    Submitted::Done(token) => self.raft.persisted(token),
                    Submitted::Pending if self.acknowledge_before_durable => self.raft.persisted(token),
                    Submitted::Pending => {}
                }
            }
            let mut messages = ready.messages;
            // Out in seat order (the members' configured or discovered order), not in id order: which peer hears
            // first is then what the application chose. Each peer's own messages keep their order (a stable sort).
            let peers = &self.peers;
            // (`sort_by_key`: a Ready holds a few messages, which it sorts in place without allocating.)
            messages.sort_by_key(|message| peers.seat_of(message.to));
            for message in &messages {
                heartbeats_sent |= matches!(message.body, MessageBody::Heartbeat { .. });
                if let Some(to) = peers.name_of(message.to) {
                    sink.send(message.to, to, message, peers);
                }
            }
            if let Some(snapshot) = ready.snapshot {
                self.counters.snapshot_restored(snapshot.data.len());
                sink.restore(&snapshot);
                self.handed_out = snapshot.meta.index;
                // This node's proposals that committed inside the snapshot are settled too.
                for (index, id) in &snapshot.proposal_ids {
                    let proposer = self.proposer_of(id, is_own(index));
                    if proposer != Proposer::Other {
                        sink.settled_in_snapshot(&snapshot, index, id, proposer);
                    }
                }
            }
            for entry in &ready.committed {
                let proposer = match entry.id.as_deref() {
                    Some(id) if entry.is_user_data() => self.proposer_of(id, is_own(entry.index)),
                    _ => Proposer::Other,
                };
                sink.committed(entry, proposer);
                self.handed_out = entry.index;
            }
            for id in &ready.abandoned {
                // Forgotten here too: a later commit of the id is then an ordinary commit, not a settlement.
                self.requests.settle(id);
                sink.abandoned(id);
            }
            self.reads_awaiting_apply.extend(ready.reads.iter().map(|read| (read.index, read.request)));
            self.finish_applied_reads(sink);
        }
        heartbeats_sent
    }

    /// Reports the reads whose read index this node has applied (and handed to the sink).
    fn finish_applied_reads(&mut self, sink: &mut impl EventSink) {
        while let Some(&(index, request)) = self.reads_awaiting_apply.first() {
            if index > self.handed_out {
                break;
            }
            self.reads_awaiting_apply.pop_first();
            sink.read_done(request, index);
        }
    }

    /// Who proposed a committed id, `own` when the core says it was this node's proposal; a request this node
    /// waited for is no longer waited for.
    fn proposer_of(&mut self, id: &str, own: bool) -> Proposer {
        if self.requests.settle(id) {
            Proposer::WaitedRequest
        } else if own {
            Proposer::ThisNode
        } else {
            Proposer::Other
        }
    }

    /// Asks the application for a snapshot when enough was applied since the last one.
    fn maybe_request_snapshot(&mut self, sink: &mut impl EventSink) {
        let log = self.raft.log();
        if self.snapshots.should_request(log.applied, log.snapshot_index()) {
            let index = log.applied;
            self.snapshots.requested(index);
            sink.snapshot_wanted(index);
        }
    }

    /// Tells the sink when the configuration in force changed, and which changes proposed here settled.
    fn report_membership(&mut self, sink: &mut impl EventSink) {
        // Compared in place: a clone only when it changed (this runs at every flush).
        if self.membership_reported.as_ref() != Some(self.raft.membership()) {
            self.membership_reported = Some(self.raft.membership().clone());
            sink.membership_changed();
        }
        self.settle_membership_changes(sink);
    }

    /// Tells the sink when the role, term, leader or vote changed.
    fn report_state_change(&mut self, sink: &mut impl EventSink) {
        let now = (self.raft.role(), self.raft.term(), self.raft.leader(), self.raft.vote());
        if self.last_reported_state != Some(now) {
            self.last_reported_state = Some(now);
            sink.state_changed(&self.raft);
        }
    }
}

/// The core's transfer error in names (`name`: the target's, when the caller chose one).
fn transfer_error(error: flotilla_raft::TransferError, name: &str) -> TransferError {
    match error {
        flotilla_raft::TransferError::NotLeader => TransferError::NotLeader,
        flotilla_raft::TransferError::ToSelf => TransferError::ToSelf,
        flotilla_raft::TransferError::NotAVoter(_) => TransferError::NotAVoter { name: name.to_string() },
        flotilla_raft::TransferError::NoOtherVoter => TransferError::NoOtherVoter,
    }
}

/// Whether a message is a request a node answers even from outside its configuration: a vote, or a leader's.
fn is_request(body: &MessageBody) -> bool {
    matches!(
        body,
        MessageBody::PreVote { .. }
            | MessageBody::Vote { .. }
            | MessageBody::Append { .. }
            | MessageBody::Heartbeat { .. }
            | MessageBody::InstallSnapshot { .. }
            | MessageBody::TimeoutNow
    )
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

/// A fresh id for a proposal of the node `name`: `<name>_<random UUID>`.
pub fn own_proposal_id(name: &str) -> String {
    let mut id = proposal_id_prefix(name);
    push_uuid_v4(&mut id);
    id
}

/// `own_proposal_id` made where the log keeps it, in one allocation (one per append, on the engine's thread).
fn own_proposal_id_shared(name: &str) -> ProposalId {
    /// The longest name written on the stack; a longer one (names go up to 255 bytes) takes the String's way.
    const ON_STACK: usize = 128;
    let mut id = [0u8; ON_STACK + 37];
    if name.len() > ON_STACK {
        return own_proposal_id(name).into();
    }
    id[..name.len()].copy_from_slice(name.as_bytes());
    id[name.len()] = b'_';
    write_uuid_v4(&mut id[name.len() + 1..]);
    // Valid UTF-8: the name was a str, and the rest is ASCII.
    std::str::from_utf8(&id[..name.len() + 37]).map_or_else(|_| own_proposal_id(name).into(), ProposalId::from)
}

/// `<name>_`, with room for the UUID after it.
fn proposal_id_prefix(name: &str) -> String {
    let mut id = String::with_capacity(name.len() + 37);
    id.push_str(name);
    id.push('_');
    id
}

/// Appends a random (version 4) UUID in its usual text form (one per append, so written without `format!`).
fn push_uuid_v4(out: &mut String) {
    let mut text = [0u8; 36];
    write_uuid_v4(&mut text);
    out.extend(text.iter().map(|&b| char::from(b)));
}

/// Writes a random (version 4) UUID in its usual text form (36 ASCII bytes) at the start of `out`.
fn write_uuid_v4(out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut at = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[at] = b'-';
            at += 1;
        }
        out[at] = HEX[usize::from(byte >> 4)];
        out[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
