//! A node as the JS faces see it: the typed driver with the gaggle view beside it. Messages come in as gaggle JSON
//! (decoded here), proposals and snapshots as JSON text, and each flush hands out one JSON output batch.

use super::error;
use super::gaggle_view::GaggleView;
use super::proposal_queue::{ProposalQueue, Queued};
use crate::node::wire::{self, AppendKey, Inbound, OutputParts, Wanted};
use crate::node::{NamedMembership, NodeDriver, Received, RequestError, SnapshotError};
use crate::raft::{Index, Payload, ProposeError};
use std::sync::Arc;

pub struct GaggleNode {
    pub driver: NodeDriver,
    pub view: GaggleView,
    /// Where the last page of `entries_json` ended: the gaggle index of the next entry and its log index.
    pub entries_cursor: Option<(u64, Index)>,
    /// On its own thread: the proposals named on the JS thread, taken at each flush.
    pub proposals: Option<Arc<ProposalQueue>>,
}

impl GaggleNode {
    pub fn new(driver: NodeDriver) -> GaggleNode {
        let view = GaggleView::new(driver.name());
        GaggleNode { driver, view, entries_cursor: None, proposals: None }
    }

    /// Runs the ready loop and hands over everything to do, as JSON text (`None` when there is nothing).
    pub fn flush(&mut self) -> Option<String> {
        self.driver.flush(&mut self.view);
        self.view.output.take_json()
    }

    /// `flush`, leaving out of this and later outputs the event payloads that are not wanted.
    pub fn flush_wanting(&mut self, wanted: Wanted) -> Option<String> {
        self.view.output.set_wanted(wanted);
        self.flush()
    }

    /// `flush_wanting`, with the messages apart from the rest of the output (see `OutputBatch::take_parts`).
    pub fn flush_parts(&mut self, wanted: Wanted) -> Option<OutputParts> {
        self.view.output.set_wanted(wanted);
        self.driver.flush(&mut self.view);
        self.view.output.take_parts()
    }

    /// `flush`, handing each message to `send` (recipient, JSON text) and returning the rest of the output (see
    /// `OutputBatch::take_apart`): for a node whose messages travel over the native transport. The payloads
    /// wanted and the proposals named meanwhile on the JS thread go in first.
    pub fn flush_apart(&mut self, send: &mut dyn FnMut(Option<&str>, &str), may_wait: bool) -> Option<String> {
        if let Some(wanted) = self.proposals.as_ref().and_then(|queue| queue.take_wanted()) {
            self.view.output.set_wanted(wanted);
        }
        for queued in self.proposals.as_ref().map(|queue| queue.take()).unwrap_or_default() {
            match queued {
                Queued::One(id, data) => self.propose_as(&id, data),
                Queued::Batch(batch) => {
                    for (number, data) in batch.entries() {
                        self.propose_numbered(number, data);
                    }
                }
            }
        }
        self.driver.flush(&mut self.view);
        self.view.output.take_apart(send, may_wait)
    }

    /// Proposes an entry named on the JS thread; a refusal goes out in the output's `refused` list.
    fn propose_as(&mut self, id: &str, data: Payload) {
        if let Err(why) = self.driver.propose_as(id, data) {
            let refusal = error::propose_error(&why);
            self.view.output.refused(AppendKey::Id(id), refusal.status, &refusal.reason);
        }
    }

    /// Proposes the data text of the append JS numbered `number` (from a batch); the outputs then speak of it by
    /// that number, a refusal in the `refused` list.
    fn propose_numbered(&mut self, number: u64, data: &str) {
        let proposed = match wire::check_payload(data) {
            Ok(()) => {
                self.driver.propose(wire::payload_from_json(Some(data))).map_err(|why| error::propose_error(&why))
            }
            Err(why) => Err(error::payload_error(&why)),
        };
        match proposed {
            Ok(id) => self.view.numbered(id, number),
            Err(refusal) => self.view.output.refused(AppendKey::Number(number), refusal.status, &refusal.reason),
        }
    }

    /// A message from the channel, as gaggle JSON. Anything that does not make sense is dropped and counted.
    pub fn receive(&mut self, from_name: &str, json: &str) {
        if self.driver.is_closed() || from_name == self.driver.name() {
            // Broadcasts reach their sender too: not worth decoding.
            return;
        }
        // Decoded before the driver meets a stranger: a malformed message must not take the seat of a member.
        match wire::decode(json, 0, 0, from_name) {
            Ok(Inbound::Raft(message)) => self.driver.receive(from_name, Received::Message(message)),
            Ok(Inbound::InstallSnapshot { message, members }) => {
                let members =
                    NamedMembership { voters: members.voters, outgoing: members.outgoing, learners: members.learners };
                self.driver.receive(from_name, Received::Snapshot { message, members })
            }
            Ok(Inbound::Hello) => self.driver.receive(from_name, Received::Introduction),
            Err(_) => self.driver.receive_unreadable(from_name),
        }
    }

    /// Proposes application data (JSON text, `None` for null) and returns its id.
    pub fn propose(&mut self, data_json: Option<&str>) -> Result<String, ProposeError> {
        self.driver.propose(wire::payload_from_json(data_json)).map(|id| id.to_string())
    }

    /// Proposes application data under a client's request id, and returns its proposal id. A request that
    /// already committed (this node applied it) proposes nothing: the output settles it at once with its original
    /// gaggle index, as it settles a new one when it commits.
    pub fn propose_request(&mut self, request_id: &str, data_json: Option<&str>) -> Result<String, RequestError> {
        let proposed = self.driver.propose_request(request_id, wire::payload_from_json(data_json))?;
        if let Some(index) = proposed.committed_at {
            // The core found the id applied: a user entry this node counted (or its snapshot did).
            if let Some(gaggle_index) = self.view.applied_user_index(self.driver.raft(), index) {
                self.view.output.request_settled(&proposed.id, gaggle_index);
            }
        }
        Ok(proposed.id.to_string())
    }

    /// The application's answer to `snapshotWanted`: its state as of `index` (JSON text), or `None`.
    pub fn snapshot_taken(&mut self, index: Index, data_json: Option<&str>) -> Result<(), SnapshotError> {
        let sealed = data_json.map(|json| self.view.seal_snapshot(index, json));
        self.driver.snapshot_taken(index, sealed)
    }
}

#[cfg(test)]
#[path = "gaggle_node_tests.rs"]
mod tests;
