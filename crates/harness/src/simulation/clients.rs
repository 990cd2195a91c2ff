//! The simulated clients: which proposals wait on which node, which were acknowledged (applied by the node that
//! took them) and which were lost with a crash, so that liveness can be judged once the faults heal.

use flotilla_raft::{Index, NodeId, ProposalId};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::BTreeSet;

#[derive(Debug)]
pub struct Clients {
    next_id: u64,
    /// Per node (position = id - 1), the proposals it accepted in its current incarnation and has not applied.
    pending: Vec<BTreeSet<ProposalId>>,
    /// Proposals whose node crashed before applying them: a client may retry them elsewhere.
    lost: Vec<ProposalId>,
    pub acknowledged: u64,
    /// The highest log index of an acknowledged proposal: every node must apply at least this far.
    pub max_acknowledged_index: Index,
    pub proposed: u64,
    pub refused: u64,
    pub retried: u64,
}

impl Clients {
    pub fn new(size: usize) -> Clients {
        Clients {
            next_id: 0,
            pending: vec![BTreeSet::new(); size],
            lost: Vec::new(),
            acknowledged: 0,
            max_acknowledged_index: 0,
            proposed: 0,
            refused: 0,
            retried: 0,
        }
    }

    /// A new request's proposal id: the request id `p<n>` as the node layer proposes it.
    pub fn new_id(&mut self) -> ProposalId {
        self.next_id += 1;
        flotilla_node::request_proposal_id(&format!("p{}", self.next_id)).expect("a short request id")
    }

    /// A proposal some client already made (pending somewhere or lost with a crash), for a client-side retry.
    pub fn id_to_retry(&self, rng: &mut StdRng) -> Option<ProposalId> {
        let pending: usize = self.pending.iter().map(BTreeSet::len).sum();
        let total = pending + self.lost.len();
        if total == 0 {
            return None;
        }
        let mut pick = rng.random_range(0..total);
        if pick < self.lost.len() {
            return Some(self.lost[pick].clone());
        }
        pick -= self.lost.len();
        self.pending.iter().flatten().nth(pick).cloned()
    }

    pub fn is_pending_on(&self, node: NodeId, id: &ProposalId) -> bool {
        self.pending[(node - 1) as usize].contains(id)
    }

    pub fn accepted(&mut self, node: NodeId, id: ProposalId, retry: bool) {
        if retry {
            self.retried += 1;
        } else {
            self.proposed += 1;
        }
        self.pending[(node - 1) as usize].insert(id);
    }

    /// The node applied a committed proposal: if it was waiting there, its client gets the answer.
    pub fn applied(&mut self, node: NodeId, id: &ProposalId, index: Index) {
        if self.pending[(node - 1) as usize].remove(id) {
            self.acknowledged += 1;
            self.max_acknowledged_index = self.max_acknowledged_index.max(index);
        }
    }

    /// The node restored a snapshot up to `index`: its pending proposals committed at or below it are answered.
    pub fn restored(&mut self, node: NodeId, index: Index, committed_at: impl Fn(&ProposalId) -> Option<Index>) {
        let answered: Vec<(ProposalId, Index)> = self.pending[(node - 1) as usize]
            .iter()
            .filter_map(|id| committed_at(id).filter(|&at| at <= index).map(|at| (id.clone(), at)))
            .collect();
        for (id, at) in answered {
            self.applied(node, &id, at);
        }
    }

    /// The node stopped waiting for a proposal (its outcome is unknown: a node that was removed hears of no more
    /// commits): its client is told so and may retry it elsewhere.
    pub fn gave_up(&mut self, node: NodeId, id: &str) {
        let pending = &mut self.pending[(node - 1) as usize];
        if let Some(proposal) = pending.iter().find(|proposal| &***proposal == id).cloned() {
            pending.remove(&proposal);
            self.lost.push(proposal);
        }
    }

    /// The node's pending proposals were in its memory: their clients never hear back from it.
    pub fn crashed(&mut self, node: NodeId) {
        let pending = std::mem::take(&mut self.pending[(node - 1) as usize]);
        self.lost.extend(pending);
        if self.lost.len() > 64 {
            self.lost.drain(..self.lost.len() - 64);
        }
    }

    pub fn pending_on(&self, node: NodeId) -> usize {
        self.pending[(node - 1) as usize].len()
    }

    pub fn pending_total(&self) -> usize {
        self.pending.iter().map(BTreeSet::len).sum()
    }

    /// One proposal still waiting, for a liveness report.
    pub fn some_pending(&self) -> Option<(NodeId, ProposalId)> {
        self.pending
            .iter()
            .enumerate()
            .find_map(|(position, ids)| ids.first().map(|id| (position as NodeId + 1, id.clone())))
    }
}
