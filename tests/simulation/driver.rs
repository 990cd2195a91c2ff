//! The node driver, as the node layer would be: it checks a node after each input, then persists, sends and
//! applies what the node's `Ready` asks, at once or (in seeds that batch) after a few more inputs.

use super::{Event, World};
use crate::checker::Violation;
use crate::network::Envelope;
use crate::tuning::TICK;
use flotilla::raft::{Message, MessageBody, NodeId, Role};
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
            }
        }
        if let Some(raft) = self.nodes[position].raft.as_ref() {
            self.checker.observe(id, raft)?;
        }
        Ok(())
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
        other => format!("{other:?}"),
    };
    format!("{} -> {} term {}: {body}", message.from, message.to, message.term)
}
