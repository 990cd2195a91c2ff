//! Each simulated node is the shipped node driver (`flotilla_node::NodeDriver`) on a shared in-memory disk. After
//! an input the node's core is checked at once; then the driver flushes (at once, or in seeds that batch a little
//! later) and the world carries out what it asked, in its order: messages onto the network, writes onto the disk
//! (made durable later, then acknowledged), snapshots restored and entries applied (checked against the committed
//! history), and a snapshot of the state machine when the driver asks for one.

use super::{Event, World};
use crate::simulation::checker::{Invariant, Violation};
use crate::simulation::network::Envelope;
use crate::simulation::tuning::TICK;
use flotilla_node::{Event as DriverEvent, Events, Members, NamedMembership, NodeDriver, NodeOptions, StorageOptions};
use flotilla_raft::{Index, Message, MessageBody, NodeId, Raft, Role};
use rand::Rng;

impl World {
    /// The options of node `id` in its `incarnation`: every member named (or, in a replacing run, discovered), the
    /// world's core settings, a snapshot every `compact_every` applied entries.
    pub(super) fn node_options(&self, id: NodeId, incarnation: u64) -> NodeOptions {
        let first_members = &self.names[..self.scenario.size as usize];
        NodeOptions {
            name: self.names[(id - 1) as usize].clone(),
            // The first members know each other; the nodes that may be added later join.
            // In a replacing run every node discovers its cluster, as gaggle's nodes kept in memory do.
            members: if self.scenario.replacing {
                Members::Discover { cluster_size: self.scenario.size as usize }
            } else if id <= self.scenario.size {
                Members::Named(first_members.to_vec())
            } else {
                Members::Join
            },
            raft: self.config(id, incarnation),
            tick_ms: 1,
            storage: StorageOptions::Volatile,
            snapshot_threshold: (self.compact_every > 0).then_some(self.compact_every),
            saved_state: None,
            // Drawn per incarnation, as a real node draws it at random.
            read_number_base: scramble(self.config(id, incarnation).seed) % flotilla_node::MAX_READ_NUMBER_BASE,
        }
    }

    /// The core of node `id`, unless it is down.
    pub(super) fn core(&self, id: NodeId) -> Option<&Raft> {
        self.nodes[(id - 1) as usize].driver.as_ref().map(NodeDriver::raft)
    }

    /// After an input the node is checked at once; its driver flushes now, or (in seeds that batch) a little
    /// later, after more inputs may have arrived, as a driver that batches its work would.
    pub(super) fn after_input(&mut self, id: NodeId) -> Result<(), Violation> {
        let position = (id - 1) as usize;
        self.observe(id)?;
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

    fn observe(&mut self, id: NodeId) -> Result<(), Violation> {
        self.note_adoption(id);
        match self.nodes[(id - 1) as usize].driver.as_ref() {
            Some(driver) => self.checker.observe(id, driver.raft()),
            None => Ok(()),
        }
    }

    /// Flushes the node's driver until it has nothing more to hand out, and does what each flush asked.
    pub(super) fn drive(&mut self, id: NodeId) -> Result<(), Violation> {
        let position = (id - 1) as usize;
        self.nodes[position].ready_pending = false;
        while let Some(driver) = self.nodes[position].driver.as_mut() {
            let mut events = Events::default();
            driver.flush(&mut events);
            self.schedule_disk(id);
            self.observe(id)?;
            self.maybe_strike_new_leader(id);
            if !self.carry_out(id, events)? {
                break;
            }
        }
        self.observe(id)
    }

    /// Does what one flush asked, in order; returns whether the driver has more to hand out.
    fn carry_out(&mut self, id: NodeId, events: Events) -> Result<bool, Violation> {
        let (mut more, mut applied) = (false, None);
        for event in events.0 {
            match event {
                DriverEvent::Send { to, mut message } => {
                    // The network knows nodes by position: the driver's ids are its members' name hashes.
                    let Some(&to) = self.position_of.get(&to) else { continue };
                    (message.from, message.to) = (id, to);
                    let members = self.snapshot_members_by_name(id, &message);
                    self.send(message, members);
                }
                DriverEvent::Restore(snapshot) => {
                    let fresh = std::mem::take(&mut self.nodes[(id - 1) as usize].restoring_at_start);
                    self.trace(|| format!("node {id} restores the snapshot at {}", snapshot.meta.index));
                    self.checker.on_snapshot(id, &snapshot, fresh)?;
                    let checker = &self.checker;
                    self.clients.restored(id, snapshot.meta.index, |proposal| checker.committed_index_of(proposal));
                }
                DriverEvent::Committed { entry, .. } => {
                    self.checker.on_apply(id, &entry)?;
                    if let Some(proposal) = entry.id.as_ref().filter(|_| entry.is_user_data()) {
                        self.clients.applied(id, proposal, entry.index);
                    }
                    applied = Some(entry.index);
                }
                DriverEvent::SnapshotWanted(index) => self.take_snapshot(id, index)?,
                DriverEvent::ReadDone { request, index } => {
                    self.trace(|| format!("node {id} serves read {request} at {index}"));
                    self.reads.done(id, request, index, self.checker.applied(id))?;
                }
                DriverEvent::Abandoned(proposal) => self.clients.gave_up(id, &proposal),
                DriverEvent::More => more = true,
                DriverEvent::Introduce { to } if self.scenario.replacing => self.introduce(id, to.as_deref()),
                _ => {}
            }
        }
        if let Some(last) = applied {
            self.trace(|| format!("node {id} applied up to {last}"));
        }
        Ok(more)
    }

    /// A new leader may be struck soon (crashed or cut off), often before its first appends arrive anywhere.
    fn maybe_strike_new_leader(&mut self, id: NodeId) {
        let position = (id - 1) as usize;
        let Some(raft) = self.core(id) else { return };
        let (role, term) = (raft.role(), raft.term());
        let was_leader = std::mem::replace(&mut self.nodes[position].leading, role == Role::Leader);
        if role != Role::Leader || was_leader {
            return;
        }
        self.trace(|| format!("node {id} leads term {term}"));
        if !self.healed && self.rng.random_bool(self.tuning.leader_striker) {
            let delay = if self.rng.random_bool(0.5) {
                self.rng.random_range(0..=TICK / 4)
            } else {
                self.rng.random_range(0..=3 * TICK)
            };
            let incarnation = self.nodes[position].incarnation;
            self.schedule(delay, Event::StrikeLeader { node: id, incarnation });
        }
    }

    /// The driver asks for a snapshot of the state machine as of `index`, all it applied: the application takes
    /// it, and the driver compacts the core's log and writes it to the disk (while earlier writes may be in flight).
    fn take_snapshot(&mut self, id: NodeId, index: Index) -> Result<(), Violation> {
        let position = (id - 1) as usize;
        let Some(driver) = self.nodes[position].driver.as_mut() else { return Ok(()) };
        let since = driver.raft().log().snapshot_index();
        let (applied, data) = self.checker.snapshot_data(id, since);
        if applied != index {
            let detail = format!("node {id} was asked for a snapshot at {index} but applied up to {applied}");
            return Err(Violation::new(Invariant::ApplyOrder, detail));
        }
        driver.snapshot_taken(index, Some(data.into())).map_err(|error| {
            Violation::new(Invariant::SnapshotState, format!("node {id} cannot compact at {index}: {error}"))
        })?;
        self.trace(|| format!("node {id} compacts up to {index}"));
        self.observe(id)
    }

    /// In a replacing run, an InstallSnapshot's membership by the sending node's names (`None` for a seat it has
    /// not met), as gaggle's codec sends it: the receiver maps the names, not the ids, to its own seats.
    fn snapshot_members_by_name(&self, id: NodeId, message: &Message) -> Option<NamedMembership> {
        let MessageBody::InstallSnapshot { meta, .. } = &message.body else { return None };
        let driver = self.nodes[(id - 1) as usize].driver.as_ref().filter(|_| self.scenario.replacing)?;
        Some(driver.names_of_membership(&meta.membership))
    }

    pub(super) fn send(&mut self, message: Message, members: Option<NamedMembership>) {
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
                members: members.clone(),
                from_incarnation: envelope_incarnations.0,
                to_incarnation: envelope_incarnations.1,
            };
            self.schedule(delay, Event::Deliver(envelope));
        }
    }
}

/// SplitMix64's finalizer: seeds that differ in a few bits give unrelated values.
fn scramble(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
