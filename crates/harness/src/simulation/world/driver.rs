//! The node driver, as the node layer would be: it checks a node after each input, then persists, sends and
//! applies what the node's `Ready` asks (restoring a received snapshot before the entries after it), at once or (in
//! seeds that batch) after a few more inputs; and every few applied entries it snapshots the state machine, compacts
//! the core's log and writes the snapshot to disk.

use super::{Event, World};
use crate::simulation::checker::{Invariant, Violation};
use crate::simulation::network::Envelope;
use crate::simulation::tuning::TICK;
use flotilla_raft::{Message, MessageBody, NodeId, Role};
use rand::Rng;

impl World {
    /// After an input the node is checked at once; its `Ready` is handled now, or (in seeds that batch) a little
    /// later, after more inputs may have arrived, as a driver that batches its work would.
    pub(super) fn after_input(&mut self, id: NodeId) -> Result<(), Violation> {
        let position = (id - 1) as usize;
        if let Some(raft) = self.nodes[position].raft.as_ref() {
            self.checker.observe(id, raft)?;
        }
        if !self.tuning.batch_ready || self.rng.random_bool(0.5) {
            return self.drive(id);
        }
        if !self.nodes[position].ready_pending {
            self.nodes[position].ready_pending = true;
            let incarnation = self.nodes[position].incarnation;
            let delay = self.rng.random_range(0..=TICK / 4);
            self.schedule(delay, Event::Ready { node: id, incarnation });
        }
        Ok(())
    }

    /// Does what the node's `Ready` asks (persist, send, apply) until it has nothing more, checking as it goes.
    pub(super) fn drive(&mut self, id: NodeId) -> Result<(), Violation> {
        let position = (id - 1) as usize;
        self.nodes[position].ready_pending = false;
        loop {
            let ready = match self.nodes[position].raft.as_mut() {
                Some(raft) if raft.has_ready() => raft.ready(),
                _ => break,
            };
            if let Some(request) = ready.persist {
                self.trace(|| {
                    format!(
                        "node {id} persists token {} ({} entries, {:?})",
                        request.token,
                        request.entries.len(),
                        request.hard_state
                    )
                });
                self.nodes[position].disk.enqueue(request);
                self.schedule_disk(id);
            }
            if let Some(soft) = ready.soft_state {
                self.trace(|| format!("node {id} is {:?} in term {}, leader {:?}", soft.role, soft.term, soft.leader));
                if soft.role == Role::Leader && !self.healed && self.rng.random_bool(self.tuning.leader_striker) {
                    // Often before its first appends arrive anywhere.
                    let delay = if self.rng.random_bool(0.5) {
                        self.rng.random_range(0..=TICK / 4)
                    } else {
                        self.rng.random_range(0..=3 * TICK)
                    };
                    let incarnation = self.nodes[position].incarnation;
                    self.schedule(delay, Event::StrikeLeader { node: id, incarnation });
                }
            }
            for message in ready.messages {
                self.send(message);
            }
            if let Some(raft) = self.nodes[position].raft.as_ref() {
                self.checker.observe(id, raft)?;
            }
            if let Some(snapshot) = &ready.snapshot {
                self.trace(|| format!("node {id} restores the snapshot at {}", snapshot.meta.index));
                self.checker.on_snapshot(id, snapshot, false)?;
                let checker = &self.checker;
                self.clients.restored(id, snapshot.meta.index, |proposal| checker.committed_index_of(proposal));
            }
            for entry in &ready.committed {
                self.checker.on_apply(id, entry)?;
                if let Some(proposal) = entry.id.as_ref().filter(|_| entry.is_user_data()) {
                    self.clients.applied(id, proposal, entry.index);
                }
            }
            if !ready.committed.is_empty() {
                self.trace(|| {
                    let last = ready.committed.last().map_or(0, |e| e.index);
                    format!("node {id} applies {} entries up to {last}", ready.committed.len())
                });
                self.maybe_compact(id)?;
            }
        }
        if let Some(raft) = self.nodes[position].raft.as_ref() {
            self.checker.observe(id, raft)?;
        }
        Ok(())
    }

    /// Once the node applied `compact_every` entries past its snapshot, the application snapshots its state there:
    /// the core compacts its log, and the snapshot is written to disk (atomically, as a snapshot file would be)
    /// and the disk's log compacted, while earlier writes may still be in flight.
    fn maybe_compact(&mut self, id: NodeId) -> Result<(), Violation> {
        let position = (id - 1) as usize;
        let Some(raft) = self.nodes[position].raft.as_mut() else { return Ok(()) };
        let since = raft.log().snapshot_index();
        if self.compact_every == 0 || self.checker.applied(id) < since + self.compact_every {
            return Ok(());
        }
        let (index, data) = self.checker.snapshot_data(id, since);
        raft.compact(index, data.into()).map_err(|error| {
            Violation::new(Invariant::SnapshotState, format!("node {id} cannot compact at {index}: {error}"))
        })?;
        let snapshot = raft.snapshot().expect("a snapshot after compaction").clone();
        self.nodes[position].disk.durable.compact(&snapshot);
        self.trace(|| format!("node {id} compacts up to {index}"));
        self.checker.observe(id, self.nodes[position].raft.as_ref().expect("alive"))
    }

    pub(super) fn send(&mut self, message: Message) {
        let (from, to) = (message.from, message.to);
        if to == 0 || to > self.size() || !self.alive(to) {
            return;
        }
        if let MessageBody::Append { entries, .. } = &message.body {
            self.checker.publish(entries);
        }
        let envelope_incarnations = (self.node(from).incarnation, self.node(to).incarnation);
        let delays = self.network.fate(&mut self.rng, from, to);
        for delay in delays {
            let envelope = Envelope {
                message: message.clone(),
                from_incarnation: envelope_incarnations.0,
                to_incarnation: envelope_incarnations.1,
            };
            self.schedule(delay, Event::Deliver(envelope));
        }
    }
}

/// One line about a message, for traces.
pub(super) fn describe(message: &Message) -> String {
    let body = match &message.body {
        MessageBody::Append { prev_index, prev_term, entries, commit } => format!(
            "Append prev ({prev_index}, {prev_term}) entries {} commit {commit}",
            match (entries.first(), entries.last()) {
                (Some(first), Some(last)) =>
                    format!("{}..={} (terms {}..={})", first.index, last.index, first.term, last.term),
                _ => "none".to_string(),
            }
        ),
        MessageBody::Propose { proposals } => format!("Propose {} proposal(s)", proposals.len()),
        MessageBody::InstallSnapshot { meta, offset, total, chunk } => format!(
            "InstallSnapshot ({}, {}) bytes {offset}..{} of {total}",
            meta.index,
            meta.term,
            offset + chunk.len() as u64
        ),
        other => format!("{other:?}"),
    };
    format!("{} -> {} term {}: {body}", message.from, message.to, message.term)
}
