//! This node's own proposals that have not committed yet. They are kept until they commit, and sent to the
//! leader again when the leader changes or after a while without a commit; the leader's log knows every id it
//! holds, so a retried proposal commits once (at-least-once delivery plus deduplication = exactly once).

use super::id_index::IdMap;
use super::types::{Payload, Proposal, ProposalId};
use std::collections::BTreeMap;

#[derive(Debug)]
struct PendingProposal {
    proposal: Proposal,
    /// The tick at which it was last appended or forwarded; `None` if never (no leader was known).
    last_sent_tick: Option<u64>,
}

#[derive(Debug, Default)]
pub struct LocalProposals {
    /// Keyed by arrival order, so that retries keep the order in which they were proposed.
    by_sequence: BTreeMap<u64, PendingProposal>,
    sequence_of: IdMap<u64>,
    next_sequence: u64,
}

impl LocalProposals {
    pub fn len(&self) -> usize {
        self.by_sequence.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sequence.is_empty()
    }

    /// Adds a proposal, marked as sent at `now`, unless one with its id is pending. Returns whether it added.
    pub fn add(&mut self, id: ProposalId, data: Payload, now: u64) -> bool {
        let sequence = self.next_sequence;
        if !self.sequence_of.insert_new(id.clone(), sequence) {
            return false;
        }
        self.next_sequence += 1;
        let proposal = Proposal { id, data };
        self.by_sequence.insert(sequence, PendingProposal { proposal, last_sent_tick: Some(now) });
        true
    }

    /// Forgets a proposal that committed.
    pub fn committed(&mut self, id: &ProposalId) {
        if let Some(sequence) = self.sequence_of.remove(id) {
            self.by_sequence.remove(&sequence);
        }
    }

    /// Every pending proposal, oldest first, marked as sent now.
    pub fn take_all_for_resend(&mut self, now: u64) -> Vec<Proposal> {
        self.by_sequence
            .values_mut()
            .map(|pending| {
                pending.last_sent_tick = Some(now);
                pending.proposal.clone()
            })
            .collect()
    }

    /// The proposals sent at least `retry_after` ticks ago (or never), oldest first, marked as sent now.
    pub fn take_due_for_retry(&mut self, now: u64, retry_after: u64) -> Vec<Proposal> {
        self.by_sequence
            .values_mut()
            .filter(|pending| pending.last_sent_tick.is_none_or(|sent| now.saturating_sub(sent) >= retry_after))
            .map(|pending| {
                pending.last_sent_tick = Some(now);
                pending.proposal.clone()
            })
            .collect()
    }
}
