//! `NativeNode`: one Raft node for JS. Inputs (`receive`, `propose`, `tick`) only feed the engine; `flush`
//! runs the ready loop and returns everything to do as one JSON text, so that a burst of inputs costs one
//! round of output. A tokio interval pings JS at every tick through a threadsafe function; `close` stops it,
//! which releases the event loop. With the native transport (`startThreaded`) the node runs on its own thread
//! instead (the runtime): it ticks, receives, persists and sends there, and `flush` hands JS the outputs that
//! thread queued, one per `onOutput` call. The engine sits behind a lock both threads take briefly.

use super::client_hook::{client_hook, OnClient};
use super::error::{self, ErrorCode};
use super::gaggle_node::GaggleNode;
use super::options;
use super::peer_replication::PeerReplication;
use super::proposal_queue::{AppendBatch, ProposalQueue, Queued};
use super::storage_acks::StorageAcks;
use super::tasks::{CloseStorage, OpenNode};
use super::transport_options::{transport_stats_json, NativeTransportOptions};
use crate::node::wire::{self, Wanted};
use crate::node::{own_proposal_id, NodeDriver, StorageOptions};
use crate::runtime::{Hooks, NodeRuntime, RuntimeOptions};
use crate::storage::WriterEvent;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The longest request id an append may carry, in UTF-8 bytes (the wire's limit for an entry id, less the
/// wrapping that keeps request ids apart from the nodes' own ids).
#[napi]
pub const MAX_REQUEST_ID_BYTES: u32 = crate::node::MAX_REQUEST_ID_BYTES as u32;

#[napi]
pub struct NativeNode {
    node: Arc<Mutex<GaggleNode>>,
    /// The node's own thread, once `startThreaded` started it.
    runtime: Option<NodeRuntime<GaggleNode>>,
    /// Its proposals named here and taken by its thread (with `runtime`).
    proposals: Option<Arc<ProposalQueue>>,
    /// This node's name (its proposals' ids start with it).
    name: String,
    /// Where a durable node's disk acknowledgements go (None for a volatile node).
    acks: Option<Arc<StorageAcks>>,
    tick_ms: u32,
    timer: Option<tokio::task::JoinHandle<()>>,
    /// Ticks the timer has fired that JS has not delivered (`tick`) yet: more than one means the event loop was
    /// busy, and the core's tick count is behind the clock, so no read lease may be trusted until they are in.
    owed_ticks: Arc<AtomicU64>,
}

/// A JS string's text for the hot inputs (messages, proposals). napi-rs's `String` measures the UTF-8 length
/// first (a pass over the text), zero-fills a buffer, then copies; wire text is almost always ASCII, whose UTF-8
/// length is its JS length, so this copies once into a buffer of that length (plus room for one more character)
/// and only measures when the text turns out longer.
pub struct Text(String);

impl FromNapiValue for Text {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut units = 0;
        // With no buffer: the length in UTF-16 code units, without reading the text (and a type check).
        let status = unsafe { sys::napi_get_value_string_utf16(env, value, std::ptr::null_mut(), 0, &mut units) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::StringExpected, "a string was expected"));
        }
        // Every UTF-16 unit takes at least one UTF-8 byte; 4 spare bytes hold any one character more, and 1 the
        // terminating NUL napi writes. Text that fills the room may have been cut: read it again, measured.
        let room = units + 4;
        let mut bytes: Vec<u8> = Vec::with_capacity(room + 1);
        let mut written = 0;
        let status =
            unsafe { sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().cast(), room + 1, &mut written) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::StringExpected, "a string was expected"));
        }
        if written <= units {
            // napi wrote `written` bytes of valid UTF-8 (lone surrogates become U+FFFD) and a NUL after them.
            unsafe { bytes.set_len(written) };
            return Ok(Text(unsafe { String::from_utf8_unchecked(bytes) }));
        }
        Ok(Text(unsafe { String::from_napi_value(env, value)? }))
    }
}

impl TypeName for Text {
    fn type_name() -> &'static str {
        "string"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ValidateNapiValue for Text {}

impl NativeNode {
    /// Tells the core whether the event loop owes it ticks (see `owed_ticks`): one in flight is normal.
    fn sync_clock(&self) {
        // On its own thread the node's clock is never owed ticks by the event loop.
        let behind = self.runtime.is_none() && self.owed_ticks.load(Ordering::Relaxed) > 1;
        self.node().driver.set_clock_behind(behind);
    }

    pub(super) fn from_driver(driver: NodeDriver, tick_ms: u32, acks: Option<Arc<StorageAcks>>) -> NativeNode {
        NativeNode {
            name: driver.name().to_string(),
            node: Arc::new(Mutex::new(GaggleNode::new(driver))),
            runtime: None,
            proposals: None,
            acks,
            tick_ms,
            timer: None,
            owed_ticks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The engine, under its lock (held by the node's own thread only while it steps the engine).
    fn node(&self) -> MutexGuard<'_, GaggleNode> {
        self.node.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After an input given to the engine directly (not queued for its next flush): a node on its own thread
    /// flushes there. Its `flush` wakes it only for the proposals queued.
    fn wake(&self) {
        if let Some(runtime) = &self.runtime {
            runtime.wake();
        }
    }
}

#[napi]
impl NativeNode {
    /// A volatile node, ready at once. A node with a `dataDir` reads its disk, so it is made by
    /// `NativeNode.open`, off the JS thread.
    #[napi(constructor, catch_unwind)]
    pub fn new(#[napi(ts_arg_type = "NativeOptions")] options: Unknown) -> Result<NativeNode, ErrorCode> {
        let options = options::read(&options).map_err(error::invalid_argument)?;
        if matches!(options.storage, StorageOptions::Durable { .. }) {
            return Err(error::invalid_argument(
                "a node with a dataDir reads its log from disk: open it with NativeNode.open()",
            ));
        }
        let tick_ms = options.tick_ms;
        let driver = NodeDriver::new(options).map_err(|e| error::open_error(&e))?;
        Ok(NativeNode::from_driver(driver, tick_ms, None))
    }

    /// Opens a node on a worker thread: a durable one (with `dataDir`) replays its write-ahead log and loads its
    /// newest snapshot there, so the event loop never waits on the disk. Resolves to the node, or rejects with
    /// an error that names the damaged file and offset. Bad options throw at once.
    /// `onStorage(token, error)` is called on the JS thread with each durable write token (then call
    /// `persisted(token)` and `flush()`), or with token -1 and an error message when the disk fails (then the
    /// node must stop); it may be called before the Promise resolves.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeNode>")]
    pub fn open(
        #[napi(ts_arg_type = "NativeOptions")] options: Unknown,
        #[napi(ts_arg_type = "(token: number, error: string | null) => void")] on_storage: Function<
            FnArgs<(f64, Option<String>)>,
            (),
        >,
    ) -> Result<AsyncTask<OpenNode>, ErrorCode> {
        let options = options::read(&options).map_err(error::invalid_argument)?;
        let tsfn = on_storage.build_threadsafe_function().callee_handled::<false>().build().map_err(error::internal)?;
        let acks = Arc::new(StorageAcks::default());
        let route = acks.clone();
        let report = Box::new(move |event| {
            let args = match event {
                WriterEvent::Durable(token) if route.to_runtime(token) => return,
                WriterEvent::Durable(token) => (token as f64, None),
                WriterEvent::Failed(error) => (-1.0, Some(error.to_string())),
            };
            let _ = tsfn.call(FnArgs::from(args), ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(AsyncTask::new(OpenNode::new(options, report, acks)))
    }

    /// The application's snapshot for a `snapshotWanted` index: its state as JSON text, or null if it could not
    /// take one.
    #[napi(catch_unwind)]
    pub fn snapshot_taken(&mut self, index: f64, data_json: Option<String>) -> Result<(), ErrorCode> {
        if !(index.is_finite() && index >= 1.0) {
            return Err(error::invalid_argument("the snapshot index must be a positive number"));
        }
        let taken = self.node().snapshot_taken(index as u64, data_json.as_deref());
        self.wake();
        taken.map_err(|why| error::snapshot_error(&why))
    }

    /// Storage made every write up to `token` durable (from `onStorage`).
    #[napi(catch_unwind)]
    pub fn persisted(&mut self, token: f64) {
        if token.is_finite() && token >= 1.0 {
            self.node().driver.persisted(token as u64);
            self.wake();
        }
    }

    /// Starts the clock: `onTick` is called on the JS thread once per tick until `close`.
    #[napi(catch_unwind)]
    pub fn start(&mut self, on_tick: Function<(), ()>) -> Result<(), ErrorCode> {
        if self.timer.is_some() {
            return Err(error::coded(error::INVALID_STATE, "the node is already started"));
        }
        let tsfn = on_tick.build_threadsafe_function().callee_handled::<false>().build().map_err(error::internal)?;
        let period = Duration::from_millis(u64::from(self.tick_ms));
        let owed = self.owed_ticks.clone();
        self.timer = Some(napi::bindgen_prelude::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                owed.fetch_add(1, Ordering::Relaxed);
                if tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                    return;
                }
            }
        }));
        Ok(())
    }

    #[napi(getter, catch_unwind)]
    pub fn tick_ms(&self) -> u32 {
        self.tick_ms
    }

    #[napi(catch_unwind)]
    pub fn tick(&mut self) {
        let _ = self.owed_ticks.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |owed| owed.checked_sub(1));
        self.node().driver.tick();
        self.sync_clock();
    }

    /// A message from the channel: `from` is the sender's id, `json` the message as JSON text.
    #[napi(catch_unwind)]
    pub fn receive(&mut self, from: String, #[napi(ts_arg_type = "string")] json: Text) {
        // A follower's READ_INDEX may ask for a lease read.
        self.sync_clock();
        self.node().receive(&from, &json.0);
        self.wake();
    }

    /// Whether `name` is a member this node has met (itself excluded): messages the JS side handles are checked with it.
    #[napi(catch_unwind)]
    pub fn is_peer(&self, name: String) -> bool {
        self.node().driver.is_peer(&name)
    }

    /// Proposes `dataJson` (JSON text, as `JSON.stringify` writes it; `undefined` is null) and returns the entry
    /// id. Text that is not JSON, or nests too deeply for a follower to read, is refused, as is a closed node. With
    /// a `requestId` (a client's, for retries) the entry id is derived from it, the request commits at most once,
    /// and it is settled through the flush output's `settledRequests` with its entry's index, even if it had
    /// committed already.
    #[napi(catch_unwind)]
    pub fn propose(
        &mut self,
        #[napi(ts_arg_type = "string | undefined | null")] data_json: Option<Text>,
        request_id: Option<String>,
    ) -> Result<String, ErrorCode> {
        let data_json = data_json.as_ref().map(|text| text.0.as_str());
        if let Some(json) = data_json {
            wire::check_payload(json).map_err(|why| error::payload_error(&why))?;
        }
        // On its own thread: named here, queued, taken by its next flush; the engine's lock is not waited for
        // (`close()` drops the queue, so a queue means the node runs).
        if let (Some(queue), None) = (&self.proposals, &request_id) {
            let id = own_proposal_id(&self.name);
            queue.push(Queued::One(id.clone(), wire::payload_from_json(data_json)));
            return Ok(id);
        }
        if self.node().driver.is_closed() {
            return Err(error::coded(error::CLOSED, "the node is closed: it takes no more proposals"));
        }
        // No wake-up here: a burst of proposals goes out with the next `flush`. On its own thread, a request was
        // given to the engine directly: its thread flushes it.
        let proposed = match request_id {
            None => self.node().propose(data_json).map_err(|e| error::propose_error(&e)),
            Some(request_id) => {
                self.node().propose_request(&request_id, data_json).map_err(|e| error::request_error(&e))
            }
        };
        self.wake();
        proposed
    }

    /// On its own thread: proposes a batch of appends in one call (one call per flush instead of one per append).
    /// JS numbers them `first`, `first + 1`, ... (`count` of them, numbers at most 2^53 - 1, which a JS number holds exactly) and the outputs speak of
    /// each by its number: `committedSeqs` (`[first, count, ...]` runs of those that committed), and the numbers in
    /// `settledIds`, `abandoned` and `refused`. The engine names each entry as `propose` does. `datas` holds the
    /// entries' JSON texts in order, joined by newlines (`JSON.stringify` never writes a newline outside a string's
    /// escapes). The node's thread takes them at its next flush; a text that is not JSON, or that nests too
    /// deeply, is refused there, as any proposal the engine refuses. Throws, and queues none of them, when the
    /// batch is malformed or the node does not run on its own thread.
    #[napi(catch_unwind)]
    pub fn propose_batch(&mut self, first: f64, count: u32, datas: Text) -> Result<(), ErrorCode> {
        let Some(queue) = &self.proposals else {
            return Err(error::coded(error::INVALID_STATE, "proposeBatch is for a node on its own thread"));
        };
        let batch = AppendBatch::new(first, count, datas.0).ok_or_else(|| {
            error::invalid_argument(
                "a batch is its first number (a whole number, 0 or more, and its last number at most 2^53 - 1), how \
                 many (1 or more) and as many data texts joined by newlines",
            )
        })?;
        queue.push(Queued::Batch(batch));
        Ok(())
    }

    /// Starts a linearizable read and returns its number; the flush output's `reads` lists `[number, index]` once
    /// this node has applied every entry up to the read index (settle it after the output's committed entries:
    /// `index` is the gaggle index of the last user entry applied, -1 for none). `lease`: the leader may answer
    /// from its lease without a heartbeat round (refused without leaseReads and checkQuorum). A read waits through leader
    /// changes; give it up with `cancelRead`.
    #[napi(catch_unwind)]
    pub fn read(&mut self, lease: Option<bool>) -> Result<f64, ErrorCode> {
        if self.node().driver.is_closed() {
            return Err(error::coded(error::CLOSED, "the node is closed: it serves no more reads"));
        }
        self.sync_clock();
        let request = self.node().driver.read(lease.unwrap_or(false)).map_err(|e| error::read_error(&e))?;
        self.wake();
        Ok(request as f64)
    }

    /// A lease read served at once, when this node leads, its lease holds (checkQuorum on) and it has applied up
    /// to the read index: the gaggle index of the last user entry applied (-1 for none). Otherwise null: ask with
    /// `read(true)`.
    #[napi(catch_unwind)]
    pub fn lease_read(&mut self) -> Option<f64> {
        self.sync_clock();
        let mut node = self.node();
        node.driver.read_by_lease().map(|_| node.view.commit_index() as f64)
    }

    /// Gives up a read (its caller timed out): it is never reported done.
    #[napi(catch_unwind)]
    pub fn cancel_read(&mut self, request: f64) {
        if request.is_finite() && request >= 1.0 {
            self.node().driver.cancel_read(request as u64);
            self.wake();
        }
    }

    /// Moves the node to the later `term` as a follower, as if it had heard of that term (gaggle's tests set
    /// `_currentTerm` so); a leader of an earlier term steps down when it hears the node's answer. The term must
    /// be a whole number after the node's own (at most the largest a term may be).
    #[napi(catch_unwind)]
    pub fn raise_term(&mut self, term: f64) -> Result<(), ErrorCode> {
        let current = self.node().driver.raft().term();
        let valid = term.is_finite() && term.fract() == 0.0 && term > current as f64;
        if !valid || !self.node().driver.raise_term(term as u64) {
            let message = format!(
                "the term can only be raised: {term} is not a whole number after {current}, at most {} after it and \
                 below {}",
                crate::raft::MAX_TERM_STEP,
                crate::raft::MAX_TERM
            );
            return Err(error::invalid_argument(message));
        }
        self.wake();
        Ok(())
    }

    /// Starts an election now (after a pre-vote round when pre-vote is on); a leader ignores it.
    #[napi(catch_unwind)]
    pub fn campaign(&mut self) {
        self.node().driver.campaign();
        self.wake();
    }

    #[napi(catch_unwind)]
    pub fn transfer_leadership(&mut self, to: String) -> Result<(), ErrorCode> {
        let transferred = self.node().driver.transfer_leadership(&to).map_err(|e| error::transfer_error(&e));
        self.wake();
        transferred
    }

    /// Changes the membership (the leader only): `action` is "add" (a learner), "promote" (a learner to voter) or
    /// "remove"; returns the change's number, which the flush output's `membershipSettled` lists as
    /// `[number, committed]` once it (and leaving a joint configuration) committed, or with `false` if it was lost.
    /// `address` (to add, with the native transport): where the member listens, carried by the configuration so
    /// that every node can reach it; by default the address it dialed this node from (its handshake's).
    #[napi(catch_unwind)]
    pub fn change_membership(
        &mut self,
        action: String,
        name: String,
        address: Option<String>,
    ) -> Result<f64, ErrorCode> {
        let address = match (&self.runtime, address) {
            (_, Some(address)) => Some(address),
            (Some(runtime), None) if action == "add" => match runtime.peer_address(&name) {
                Some(address) => Some(address),
                // Without an address the configuration could not tell the members where the new one listens.
                None => {
                    let why =
                        format!("the address of {name:?} is not known here (it has not dialed this node): give it");
                    return Err(error::invalid_argument(why));
                }
            },
            _ => None,
        };
        let mut node = self.node();
        let driver = &mut node.driver;
        if driver.is_closed() {
            return Err(error::coded(error::CLOSED, "the node is closed"));
        }
        let change = match action.as_str() {
            "add" => driver.add_member(&name, address.as_deref()),
            "promote" => driver.promote_member(&name),
            "remove" => driver.remove_member(&name),
            _ => return Err(error::invalid_argument(format!("no membership change {action:?}"))),
        };
        drop(node);
        self.wake();
        change.map(|request| request as f64).map_err(|e| error::membership_error(&e))
    }

    /// Moves the membership (the leader only) to exactly these voters and learners, by name: one step when at most
    /// one voter changes, else through a joint configuration (left on its own once it committed). A new voter must
    /// be a caught-up learner already. Returns the change's number, as `change_membership` does.
    #[napi(catch_unwind)]
    pub fn set_membership(&mut self, voters: Vec<String>, learners: Vec<String>) -> Result<f64, ErrorCode> {
        let mut node = self.node();
        let driver = &mut node.driver;
        if driver.is_closed() {
            return Err(error::coded(error::CLOSED, "the node is closed"));
        }
        let change = driver.change_membership(&voters, &learners);
        drop(node);
        self.wake();
        change.map(|request| request as f64).map_err(|e| error::membership_error(&e))
    }

    /// The configuration in force, as JSON text: `{voters, outgoing, learners}` (names; null for a seat not yet
    /// met) and, on the leader, `progress`: each member's `{matchIndex, caughtUp}` (caught up: close enough to
    /// be promoted).
    #[napi(catch_unwind)]
    pub fn members_json(&self) -> String {
        self.node().members_json()
    }

    /// Before a leader closes on purpose: starts handing leadership to the most caught-up voter and returns its
    /// name, or null when this node is not the leader or the only voter. Keep the node running until it is no
    /// longer the leader (about one round trip) or an election timeout passed, then close it.
    #[napi(catch_unwind)]
    pub fn hand_over_leadership(&mut self) -> Option<String> {
        let to = self.node().driver.hand_over_leadership().ok();
        self.wake();
        to
    }

    /// Everything to do since the last flush, as JSON text (see `OutputBatch::take_json`), or null. `appended` false
    /// leaves out appended entries and `committedData` false the term and data of committed ones (nobody
    /// listens for them); both default to true. On its own thread, `commitIndexAtOnce` false lets a new commit
    /// index that comes alone wait for the node's next tick (nobody waits for the next commit); default true.
    #[napi(catch_unwind)]
    pub fn flush(
        &mut self,
        appended: Option<bool>,
        committed_data: Option<bool>,
        commit_index_at_once: Option<bool>,
    ) -> Option<String> {
        let wanted = wanted(appended, committed_data, commit_index_at_once);
        match &self.runtime {
            // The node's thread flushes: it is woken once for the proposals queued since the last flush (the other
            // inputs wake it themselves), and the oldest output it queued is taken (the wanted parts apply from its
            // next flush). The engine's lock is not waited for. No new proposal, no wake-up: taking outputs is not
            // an input.
            Some(runtime) => {
                if let Some(queue) = &self.proposals {
                    queue.set_wanted(wanted);
                    if queue.take_unannounced() {
                        runtime.wake();
                    }
                }
                runtime.next_output()
            }
            None => self.node().flush_wanting(wanted),
        }
    }

    /// `flush` with the messages apart, for a channel that hands messages on within this process: an array
    /// `[outputJson, message0, message1, ...]` (or null when there is nothing to do), where `outputJson` is the
    /// `flush` output whose `send` list names only the recipients (`[to | null, ...]`) and
    /// `message<i>` is the JSON text of the message to `send[i]`. Nothing has to parse a message to pass it on.
    #[napi(catch_unwind, ts_return_type = "string[] | null")]
    pub fn flush_parts<'env>(
        &mut self,
        env: &'env Env,
        appended: Option<bool>,
        committed_data: Option<bool>,
    ) -> Result<Option<Array<'env>>> {
        let wanted = wanted(appended, committed_data, None);
        if self.runtime.is_some() {
            // Its messages went out from the node's thread: the output alone.
            let Some(output) = self.flush(appended, committed_data, None) else { return Ok(None) };
            let mut array = env.create_array(1)?;
            array.set(0, output.as_str())?;
            return Ok(Some(array));
        }
        let Some(parts) = self.node().flush_parts(wanted) else { return Ok(None) };
        let count = parts.message_count();
        let mut array = env.create_array((count + 1) as u32)?;
        array.set(0, parts.json.as_str())?;
        for i in 0..count {
            array.set((i + 1) as u32, parts.message(i))?;
        }
        Ok(Some(array))
    }

    #[napi(getter, catch_unwind)]
    pub fn state(&self) -> String {
        self.node().role_name().to_string()
    }

    #[napi(getter, catch_unwind)]
    pub fn term(&self) -> f64 {
        self.node().driver.raft().term() as f64
    }

    #[napi(getter, catch_unwind)]
    pub fn leader(&self) -> Option<String> {
        self.node().leader_name().map(str::to_string)
    }

    #[napi(getter, catch_unwind)]
    pub fn voted_for(&self) -> Option<String> {
        self.node().voted_for_name().map(str::to_string)
    }

    #[napi(getter, catch_unwind)]
    pub fn commit_index(&self) -> f64 {
        self.node().commit_index() as f64
    }

    #[napi(catch_unwind)]
    pub fn log_json(&self) -> String {
        self.node().log_json()
    }

    /// Committed user entries from the gaggle index `from` on (at most `max`, and about `maxBytes` of data), as a
    /// JSON array of `[index, term, id, data]`; empty when `from` is past the commit index. Throws
    /// FLOTILLA_COMPACTED, naming the last index the snapshot holds, when `from` is at or below it.
    #[napi(catch_unwind)]
    pub fn entries_json(&self, from: f64, max: u32, max_bytes: u32) -> Result<String, ErrorCode> {
        if !(from.is_finite() && from >= 0.0 && from.fract() == 0.0) {
            return Err(error::invalid_argument("the first index must be a whole number >= 0"));
        }
        let page = self.node().entries_json(from as u64, max.max(1) as usize, max_bytes.max(1) as usize);
        page.map_err(|last| {
            let message = format!("entries up to {last} are compacted into a snapshot: start after it");
            error::coded(error::COMPACTED, message)
        })
    }

    #[napi(catch_unwind)]
    pub fn has_uncommitted_entries_in_previous_terms(&self) -> bool {
        self.node().has_uncommitted_entries_in_previous_terms()
    }

    #[napi(catch_unwind)]
    pub fn status_json(&self) -> String {
        self.node().status_json()
    }

    /// The names of the voters that granted this node's candidacy in its current term (itself included), while
    /// it is a candidate or the leader it made; empty otherwise.
    #[napi(getter, catch_unwind)]
    pub fn votes_granted(&self) -> Vec<String> {
        self.node().votes_granted()
    }

    /// On the leader: how far each follower's log is known to match (`matchIndex`) and what is sent next
    /// (`nextIndex`), in raft indices; empty on any other node.
    #[napi(catch_unwind)]
    pub fn replication(&self) -> Vec<PeerReplication> {
        self.node()
            .replication()
            .into_iter()
            .map(|(id, matched, next)| PeerReplication { id, match_index: matched as f64, next_index: next as f64 })
            .collect()
    }

    /// Stops the clock and all input at once. The Promise resolves when the storage has finished the queued
    /// writes and released the data directory (on a worker thread). Safe to call twice.
    /// (Spawned through `env`, not returned as an `AsyncTask`: napi-rs would keep this node borrowed until the
    /// task ends, and every call in between would throw.)
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'env>(&mut self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        self.stop_clock();
        Ok(env.spawn(CloseStorage::new(self.node().driver.close()))?.promise_object())
    }

    /// Runs the node on its own thread with the native transport (instead of `start`): it ticks, receives from
    /// peers, persists and sends there. `onOutput` is called once for each output it queued (take it with
    /// `flush`); `onApplication(from, text)` with each application text a peer sent (`sendApplication`). With
    /// `onClient`, the node serves clients (`NativeClient`) on the same port: `onClient(client, name, text)` with
    /// each client's frame, `onClient(client, name, null)` when its connection ends; answer with `replyToClient`.
    /// Throws when the transport cannot start (the address, the port, the security settings).
    #[napi(catch_unwind)]
    pub fn start_threaded(
        &mut self,
        transport: NativeTransportOptions,
        on_output: Function<(), ()>,
        on_application: Function<FnArgs<(String, String)>, ()>,
        on_client: Option<OnClient>,
    ) -> Result<(), ErrorCode> {
        if self.timer.is_some() || self.runtime.is_some() {
            return Err(error::coded(error::INVALID_STATE, "the node is already started"));
        }
        let transport = transport.into_transport_options(self.node().driver.name())?;
        let output =
            on_output.build_threadsafe_function().callee_handled::<false>().build().map_err(error::internal)?;
        let application =
            on_application.build_threadsafe_function().callee_handled::<false>().build().map_err(error::internal)?;
        let client = on_client.map(client_hook).transpose()?;
        let hooks = Hooks {
            output_ready: Box::new(move || {
                let _ = output.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }),
            application: Box::new(move |from, text| {
                let _ = application.call(FnArgs::from((from, text)), ThreadsafeFunctionCallMode::NonBlocking);
            }),
            client,
        };
        let (persisted, tokens) = tokio::sync::mpsc::unbounded_channel();
        let options = RuntimeOptions { tick: Duration::from_millis(u64::from(self.tick_ms)), transport };
        let runtime = NodeRuntime::start(self.node.clone(), options, tokens, hooks).map_err(|why| {
            error::coded(error::INVALID_ARGUMENT, format!("the node cannot start its transport: {why}"))
        })?;
        if let Some(acks) = &self.acks {
            acks.send_to(persisted);
        }
        let proposals = Arc::new(ProposalQueue::default());
        self.node().proposals = Some(proposals.clone());
        self.proposals = Some(proposals);
        self.runtime = Some(runtime);
        Ok(())
    }

    /// Sends the application's text to the peer `to` over the native transport (gaggle's dispatchOnLeader); false
    /// when the node does not run on its own thread or is closed. Lost like any message when the peer is away.
    #[napi(catch_unwind)]
    pub fn send_application(&self, to: String, text: String) -> bool {
        self.runtime.as_ref().is_some_and(|runtime| runtime.send_application(&to, text.into()))
    }

    /// Sends a reply to a client (`onClient`'s first argument); false when the client is gone, does not read its
    /// replies (it is then disconnected), or the node does not serve clients.
    #[napi(catch_unwind)]
    pub fn reply_to_client(&self, client: f64, text: String) -> bool {
        let id = client as u64;
        id as f64 == client && self.runtime.as_ref().is_some_and(|runtime| runtime.reply_to_client(id, text.into()))
    }

    /// The address the native transport dials `name` at (given in its peers, or learned from its handshake), or
    /// null: a membership change asked of this node passes it on to the leader.
    #[napi(catch_unwind)]
    pub fn peer_address(&self, name: String) -> Option<String> {
        self.runtime.as_ref().and_then(|runtime| runtime.peer_address(&name))
    }

    /// The address the native transport listens on ("host:port"), or null without it.
    #[napi(getter, catch_unwind)]
    pub fn listen_address(&self) -> Option<String> {
        self.runtime.as_ref().map(|runtime| runtime.local_addr().to_string())
    }

    /// The native transport's counters as JSON text, or null without it.
    #[napi(catch_unwind)]
    pub fn transport_stats_json(&self) -> Option<String> {
        self.runtime.as_ref().map(|runtime| transport_stats_json(&runtime.stats()))
    }
}

impl NativeNode {
    /// Stops the JS timer, or the node's own thread (its transport closes, pending frames may be lost).
    fn stop_clock(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        if let Some(mut runtime) = self.runtime.take() {
            runtime.close();
        }
        self.proposals = None;
    }
}

/// The parts of the outputs a flush's arguments ask for; each defaults to true.
fn wanted(appended: Option<bool>, committed_data: Option<bool>, commit_index_at_once: Option<bool>) -> Wanted {
    Wanted {
        appended: appended.unwrap_or(true),
        committed_data: committed_data.unwrap_or(true),
        commit_index_at_once: commit_index_at_once.unwrap_or(true),
    }
}

impl Drop for NativeNode {
    fn drop(&mut self) {
        self.stop_clock();
    }
}

#[cfg(test)]
mod tests {
    /// napi-rs catches a panic only where `catch_unwind` is asked for; a panic anywhere else would abort Node.
    #[test]
    fn every_method_and_getter_of_native_node_catches_panics() {
        let source = include_str!("native_node.rs");
        let exported: Vec<&str> = source
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("#[napi(") && !line.starts_with("#[napi(ts_"))
            .collect();
        assert!(exported.len() >= 20, "the exported items were found: {exported:?}");
        for line in exported {
            assert!(line.contains("catch_unwind"), "not guarded against panics: {line}");
        }
    }
}
