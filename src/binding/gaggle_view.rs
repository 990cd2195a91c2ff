//! The gaggle view of a node, kept on the binding side: gaggle numbers only the user entries, from 0, and its
//! commit index counts them (-1 for none). `GaggleView` is the `EventSink` that turns the driver's typed events
//! (raft indices, the core's entries) into that numbering and writes them straight into the JS output batch
//! (`OutputBatch`), one JSON text per flush.

use crate::node::wire::{self, snapshot_envelope, AppendKey, OutputBatch};
use crate::node::{EventSink, MemberRegistry, Proposer};
use crate::raft::{Entry, Index, Message, NodeId, Payload, ProposalId, Raft, Role, Snapshot};
use std::collections::HashMap;

pub struct GaggleView {
    /// This node's name, which its messages carry.
    self_name: String,
    /// How many user entries have been handed out as committed: the gaggle index of the next one.
    committed_user_entries: u64,
    /// On the leader: how many user entries its log holds, for the index of `appended` events.
    leader_user_entries: Option<u64>,
    /// The snapshot asked for last: its log index and the user entries up to it, for its envelope.
    snapshot_wanted: Option<(Index, u64)>,
    /// The output batch being written, handed over by the next flush.
    pub output: OutputBatch,
    /// The numbers JS gave this node's batched appends (`proposeBatch`), by entry id, until each commits or is
    /// given up: the outputs speak of those by number.
    numbered: HashMap<ProposalId, u64>,
}

impl GaggleView {
    pub fn new(self_name: &str) -> GaggleView {
        GaggleView {
            self_name: self_name.to_string(),
            committed_user_entries: 0,
            leader_user_entries: None,
            snapshot_wanted: None,
            output: OutputBatch::default(),
            numbered: HashMap::new(),
        }
    }

    /// The engine proposed the append JS numbered `number` as the entry `id`.
    pub fn numbered(&mut self, id: ProposalId, number: u64) {
        self.numbered.insert(id, number);
    }

    /// How the outputs speak of this node's append `id` (which the caller is done with): by its number, if JS
    /// gave it one.
    fn key_of<'a>(&mut self, id: &'a str) -> AppendKey<'a> {
        match self.numbered.is_empty() {
            true => AppendKey::Id(id),
            false => self.numbered.remove(id).map_or(AppendKey::Id(id), AppendKey::Number),
        }
    }

    /// The gaggle index of the last committed user entry that was handed out (-1 when none).
    pub fn commit_index(&self) -> i64 {
        self.committed_user_entries as i64 - 1
    }

    /// The application's snapshot data for the snapshot asked for at `index`, in its envelope.
    pub fn seal_snapshot(&self, index: Index, data_json: &str) -> Payload {
        let user_entries = match self.snapshot_wanted {
            Some((wanted, user_entries)) if wanted == index => user_entries,
            // The driver refuses an answer to a snapshot it did not ask for.
            _ => 0,
        };
        snapshot_envelope::seal(user_entries, data_json)
    }

    /// The gaggle index of the user entry at log `index`, which this node has applied: counted back from the last
    /// applied one, or for a compacted entry from the snapshot.
    pub fn applied_user_index(&self, core: &Raft, index: Index) -> Option<u64> {
        let log = core.log();
        if index > log.snapshot_index() {
            let later = (index + 1..=log.applied).filter(|&i| log.entry(i).is_some_and(|e| e.is_user_data())).count();
            return self.committed_user_entries.checked_sub(later as u64 + 1);
        }
        user_index_in_snapshot(core.snapshot()?, index)
    }

    fn count_user_entries_in_log(&self, core: &Raft) -> u64 {
        let log = core.log();
        let uncommitted_user =
            (log.applied + 1..=log.last_index()).filter(|&i| log.entry(i).is_some_and(Entry::is_user_data)).count();
        self.committed_user_entries + uncommitted_user as u64
    }
}

/// The gaggle index of the user entry at log `index`, which `snapshot` covers: counted back from the snapshot's
/// count of user entries. Every user entry has a proposal id, and compaction keeps the ids of all the entries
/// after any id it keeps, so counting ids is counting user entries.
fn user_index_in_snapshot(snapshot: &Snapshot, index: Index) -> Option<u64> {
    let (user_entries, _) = snapshot_envelope::open(&snapshot.data)?;
    let later = snapshot.proposal_ids.iter_from(index + 1).take_while(|&(at, _)| at <= snapshot.meta.index).count();
    user_entries.checked_sub(later as u64 + 1)
}

impl EventSink for GaggleView {
    fn send(&mut self, _to: NodeId, to_name: &str, message: &Message, members: &MemberRegistry) {
        let sender = &self.self_name;
        self.output.send_with(Some(to_name), |w| wire::write_message(w, message, sender, |id| members.name_of(id)));
    }

    fn introduce(&mut self, to: Option<&str>) {
        self.output.send(to, &wire::encode_hello(&self.self_name));
    }

    fn state_changed(&mut self, core: &Raft) {
        if core.role() != Role::Leader {
            self.leader_user_entries = None;
        } else if self.leader_user_entries.is_none() {
            self.leader_user_entries = Some(self.count_user_entries_in_log(core));
        }
        self.output.state_changed();
    }

    fn election_started(&mut self) {
        self.output.election_started();
    }

    fn heartbeats_sent(&mut self) {
        self.output.heartbeat_sent();
    }

    fn appended(&mut self, entry: &Entry) {
        if let Some(count) = self.leader_user_entries.as_mut() {
            self.output.appended(*count, entry);
            *count += 1;
        }
    }

    fn restore(&mut self, snapshot: &Snapshot) {
        // The driver hands over only snapshots `snapshot_envelope::is_restorable` took.
        if let Some((user_entries, _)) = snapshot_envelope::open(&snapshot.data) {
            self.committed_user_entries = user_entries;
            self.output.restore(wire::payload_text(&snapshot.data));
        }
    }

    fn settled_in_snapshot(&mut self, snapshot: &Snapshot, index: Index, id: &str, proposer: Proposer) {
        match proposer {
            Proposer::ThisNode => {
                let key = self.key_of(id);
                self.output.settled(key)
            }
            Proposer::WaitedRequest => {
                if let Some(gaggle_index) = user_index_in_snapshot(snapshot, index) {
                    self.output.request_settled(id, gaggle_index);
                }
            }
            Proposer::Other => {}
        }
    }

    fn committed(&mut self, entry: &Entry, proposer: Proposer) {
        if !entry.is_user_data() {
            // The engine's own entries are not in the gaggle view.
            return;
        }
        if let (Proposer::WaitedRequest, Some(id)) = (proposer, entry.id.as_deref()) {
            self.output.request_settled(id, self.committed_user_entries);
        }
        let mut own = proposer == Proposer::ThisNode;
        if let (true, Some(id)) = (own, entry.id.as_deref()) {
            if let AppendKey::Number(number) = self.key_of(id) {
                self.output.committed_number(number);
                own = false;
            }
        }
        self.output.committed(self.committed_user_entries, entry, own);
        self.committed_user_entries += 1;
    }

    fn abandoned(&mut self, id: &str) {
        let key = self.key_of(id);
        self.output.abandoned(key);
    }

    fn read_done(&mut self, request: u64, _index: Index) {
        // Every entry up to the read's index is applied: the read is served as of the last one applied, whose
        // index (at or after the read index) the read reports.
        self.output.read_done(request, self.commit_index());
    }

    fn snapshot_wanted(&mut self, index: Index) {
        self.snapshot_wanted = Some((index, self.committed_user_entries));
        self.output.snapshot_wanted(index);
    }

    fn membership_changed(&mut self) {
        self.output.membership_changed();
    }

    fn membership_change_settled(&mut self, request: u64, committed: bool) {
        self.output.membership_settled(request, committed);
    }

    fn more(&mut self) {
        self.output.more();
    }
}
