//! This node's own proposals that have not committed yet. They are kept until they commit, and sent to the
//! leader again when the leader changes or after a while without a commit; the leader's log knows every id it
//! holds, so a retried proposal commits once (at-least-once delivery plus deduplication = exactly once).

use super::id_index::IdPositions;
use super::types::{Index, Payload, Proposal, ProposalId};
use std::collections::VecDeque;

#[derive(Debug)]
struct PendingProposal {
    proposal: Proposal,
    /// The id's hash in `sequence_of`.
    hash: u64,
    /// The tick at which it was last appended or forwarded; `None` if never (no leader was known).
    last_sent_tick: Option<u64>,
    /// The commit index this node knew when the proposal was made: its entry, if appended, lies above it. Once the
    /// log has moved a whole proposal id window past it, a leader may have forgotten the id, and a retry could
    /// commit it twice.
    mark: Index,
}

#[derive(Debug, Default)]
pub struct LocalProposals {
    /// In arrival order, so that retries keep the order in which they were proposed: the proposal with sequence
    /// `s` is at `by_sequence[s - first_sequence]`, `None` once committed. A ring, not a sorted map: proposals
    /// arrive with increasing sequences and mostly commit oldest first, so both ends are O(1).
    by_sequence: VecDeque<Option<PendingProposal>>,
    first_sequence: u64,
    /// The `Some` slots of `by_sequence`.
    pending: usize,
    /// Finds a pending proposal's slot by its id; positions are sequences plus one.
    sequence_of: IdPositions,
}

impl LocalProposals {
    pub fn len(&self) -> usize {
        self.pending
    }

    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Adds a proposal, marked as sent at `now` with this `mark` (see `PendingProposal::mark`; never lower than the
    /// last one's), unless one with its id is pending. Returns whether it added.
    pub fn add(&mut self, id: ProposalId, data: Payload, now: u64, mark: Index) -> bool {
        let sequence = self.first_sequence + self.by_sequence.len() as u64;
        let hash = self.sequence_of.hash(&id);
        if self.find(hash, &id).is_some() {
            return false;
        }
        self.sequence_of.insert(hash, sequence + 1);
        let proposal = Proposal { id, data };
        self.by_sequence.push_back(Some(PendingProposal { proposal, hash, last_sent_tick: Some(now), mark }));
        self.pending += 1;
        true
    }

    /// Whether a proposal with this id is pending.
    pub fn contains(&mut self, id: &str) -> bool {
        let hash = self.sequence_of.hash(id);
        self.find(hash, id).is_some()
    }

    /// The slot in `by_sequence` of the pending proposal with this id (and hash).
    fn find(&mut self, hash: u64, id: &str) -> Option<usize> {
        let (by_sequence, first_sequence) = (&self.by_sequence, self.first_sequence);
        let slot_of = |position: u64| (position - 1).checked_sub(first_sequence).map(|slot| slot as usize);
        let holds = |position: u64| {
            let pending = slot_of(position).and_then(|slot| by_sequence.get(slot)).and_then(Option::as_ref);
            pending.is_some_and(|pending| *pending.proposal.id == *id)
        };
        self.sequence_of.find(hash, holds).and_then(slot_of)
    }

    /// Forgets a proposal that committed; returns whether it was pending here.
    pub fn committed(&mut self, id: &str) -> bool {
        if self.pending == 0 {
            return false;
        }
        // Proposals mostly commit in the order they were made: then the oldest is the one, and its hash is known.
        let oldest = self.by_sequence.front().and_then(Option::as_ref).filter(|p| *p.proposal.id == *id);
        let (slot, hash) = match oldest {
            Some(pending) => (0, pending.hash),
            None => {
                let hash = self.sequence_of.hash(id);
                let Some(slot) = self.find(hash, id) else { return false };
                (slot, hash)
            }
        };
        self.sequence_of.remove(hash, self.first_sequence + slot as u64 + 1);
        self.by_sequence[slot] = None;
        self.pending -= 1;
        while self.by_sequence.front().is_some_and(Option::is_none) {
            self.by_sequence.pop_front();
            self.first_sequence += 1;
        }
        // A proposal that stays pending while later ones commit leaves holes behind it: squeeze them out once
        // they outnumber the pending proposals, so that memory and the retry scans stay proportional to those.
        if self.by_sequence.len() > 2 * self.pending + 64 {
            self.compact();
        }
        true
    }

    /// Forgets the proposals whose mark is below `limit` and appends their ids to `abandoned`, oldest first. Marks
    /// grow with arrival order, so only the oldest are looked at: nothing to do costs O(1).
    pub fn abandon_marked_below(&mut self, limit: Index, abandoned: &mut Vec<ProposalId>) {
        while let Some(Some(oldest)) = self.by_sequence.front() {
            if oldest.mark >= limit {
                return;
            }
            let id = oldest.proposal.id.clone();
            self.committed(&id);
            abandoned.push(id);
        }
    }

    /// Drops the committed slots and numbers the pending proposals again from `first_sequence`, in order.
    fn compact(&mut self) {
        self.by_sequence.retain(Option::is_some);
        self.sequence_of.clear();
        for (offset, pending) in self.by_sequence.iter().flatten().enumerate() {
            self.sequence_of.insert(pending.hash, self.first_sequence + offset as u64 + 1);
        }
    }

    /// Every pending proposal, oldest first, marked as sent now.
    pub fn take_all_for_resend(&mut self, now: u64) -> Vec<Proposal> {
        self.by_sequence
            .iter_mut()
            .flatten()
            .map(|pending| {
                pending.last_sent_tick = Some(now);
                pending.proposal.clone()
            })
            .collect()
    }

    /// The proposals sent at least `retry_after` ticks ago (or never), oldest first, marked as sent now.
    pub fn take_due_for_retry(&mut self, now: u64, retry_after: u64) -> Vec<Proposal> {
        self.by_sequence
            .iter_mut()
            .flatten()
            .filter(|pending| pending.last_sent_tick.is_none_or(|sent| now.saturating_sub(sent) >= retry_after))
            .map(|pending| {
                pending.last_sent_tick = Some(now);
                pending.proposal.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ProposalId {
        ProposalId::from(format!("p{n}").as_str())
    }

    fn pending_ids(proposals: &mut LocalProposals) -> Vec<ProposalId> {
        proposals.take_all_for_resend(0).into_iter().map(|p| p.id).collect()
    }

    #[test]
    fn commits_in_any_order_keep_the_rest_in_arrival_order() {
        let mut proposals = LocalProposals::default();
        for n in 0..5 {
            assert!(proposals.add(id(n), Payload::from(&b"x"[..]), 0, 0));
        }
        assert!(!proposals.add(id(3), Payload::from(&b"x"[..]), 0, 0), "pending ids are unique");
        proposals.committed(&id(2));
        proposals.committed(&id(0));
        proposals.committed(&id(0));
        assert_eq!(proposals.len(), 3);
        assert_eq!(pending_ids(&mut proposals), vec![id(1), id(3), id(4)]);
        assert!(proposals.add(id(0), Payload::from(&b"x"[..]), 0, 0), "a committed id may be proposed again");
        assert_eq!(pending_ids(&mut proposals), vec![id(1), id(3), id(4), id(0)]);
    }

    #[test]
    fn one_stuck_proposal_does_not_let_holes_grow() {
        let mut proposals = LocalProposals::default();
        assert!(proposals.add(id(0), Payload::from(&b"x"[..]), 0, 0));
        for n in 1..10_000 {
            assert!(proposals.add(id(n), Payload::from(&b"x"[..]), 0, 0));
            proposals.committed(&id(n));
            assert!(proposals.by_sequence.len() <= 2 * proposals.len() + 65);
        }
        assert!(proposals.add(id(10_000), Payload::from(&b"x"[..]), 0, 0));
        assert_eq!(pending_ids(&mut proposals), vec![id(0), id(10_000)]);
        proposals.committed(&id(0));
        proposals.committed(&id(10_000));
        assert!(proposals.is_empty() && proposals.by_sequence.is_empty());
    }
}
