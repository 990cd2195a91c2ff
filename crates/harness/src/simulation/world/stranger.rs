//! A stranger on the channel: a name no configuration holds. It makes itself known with a pre-vote (a node answers
//! requests from outside its configuration, thesis 4.1), then says what only members may say: a proposal, a
//! notice that an entry committed, an answer to a pending read, a read request, a call to campaign, an append in
//! the term of the leader its receiver follows. None of it may put an entry into a log, commit one, answer a read
//! or unseat a leader; the checker and the readers' linearizability check say whether it did.

use super::{Event, World};
use crate::simulation::checker::{Violation, STRANGER};
use crate::simulation::tuning::TICK;
use flotilla_node::Received;
use flotilla_raft::{Entry, EntryKind, Message, MessageBody, NodeId, Proposal, Role};
use rand::Rng;
use std::sync::Arc;

impl World {
    /// The stranger speaks to a random live node, and again a while later until the faults heal.
    pub(super) fn stranger_speaks(&mut self) -> Result<(), Violation> {
        if self.healed {
            return Ok(());
        }
        let interval = self.stranger_rng.random_range(TICK / 2..=self.tuning.fault_interval_max);
        self.schedule(interval, Event::Stranger);
        let alive: Vec<NodeId> = (1..=self.size()).filter(|&id| self.alive(id)).collect();
        if alive.is_empty() {
            return Ok(());
        }
        let id = alive[self.stranger_rng.random_range(0..alive.len())];
        let Some(raft) = self.core(id) else { return Ok(()) };
        let (term, role, leader) = (raft.term(), raft.role(), raft.leader());
        let (last, committed) = (raft.log().last_index(), raft.log().committed);
        let last_term = raft.log().term(last).unwrap_or(0);
        // An entry this node holds that has not committed (or the last one): what a false notice would commit.
        let noticed = last.min(committed + 1);
        let noticed_term = raft.log().term(noticed).unwrap_or(0);
        self.stranger_messages += 1;
        let forged_id: Arc<str> = Arc::from(format!("{STRANGER}_forged-{}", self.stranger_messages));
        let data: Arc<[u8]> = Arc::from(&b"forged"[..]);
        let body = match self.stranger_rng.random_range(0..6) {
            0 => MessageBody::Propose { proposals: vec![Proposal { id: forged_id, data }] },
            1 => MessageBody::CommitNotice { index: noticed, term: noticed_term },
            2 => match self.reads.pending_of(id) {
                Some(request) => MessageBody::ReadIndexReply { request, index: 0 },
                None => MessageBody::TimeoutNow,
            },
            3 => MessageBody::ReadIndex {
                request: self.stranger_rng.random_range(0..1_000),
                lease: self.stranger_rng.random_bool(0.5),
            },
            4 => MessageBody::TimeoutNow,
            // In the term of a leader the node follows: a second leader (one it knows of none may be any node's).
            _ if role == Role::Follower && leader.is_some() && last_term > 0 => {
                let entry = Entry { term, index: last + 1, kind: EntryKind::Normal, id: Some(forged_id), data };
                MessageBody::Append { prev_index: last, prev_term: last_term, entries: vec![entry], commit: committed }
            }
            _ => MessageBody::TimeoutNow,
        };
        self.trace(|| format!("stranger -> {id}: {} in term {term}", body.kind_name()));
        let pre_vote = MessageBody::PreVote { last_index: 0, last_term: 0 };
        let Some(driver) = self.node(id).driver.as_mut() else { return Ok(()) };
        for body in [pre_vote, body] {
            driver.receive(STRANGER, Received::Message(Message { from: 0, to: 0, term, body }));
        }
        self.after_input(id)
    }
}
