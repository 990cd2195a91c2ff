//! The simulated readers and the linearizability check of reads: each read asked of a node records, when it is
//! asked, the highest index of any write acknowledged so far and of any read completed so far; when the node
//! reports it done, its index must be at least both (a read never returns a state older than one a client
//! already saw), and the node must have applied up to it. Reads lost with a crash are forgotten; once the faults
//! heal, every read of a live node must complete.

use crate::simulation::checker::{Invariant, Violation};
use flotilla_raft::{Index, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// A read asked and not yet done.
#[derive(Clone, Copy, Debug)]
struct AskedRead {
    /// The highest index of a write acknowledged, or a read completed, before it was asked.
    at_least: Index,
    lease: bool,
}

#[derive(Debug, Default)]
pub struct Reads {
    /// By (node, read number).
    pending: BTreeMap<(NodeId, u64), AskedRead>,
    /// Reads given up on (their node crashed or left the cluster): a node may still report one done, if it lives.
    given_up: BTreeSet<(NodeId, u64)>,
    /// The highest index any completed read returned.
    max_completed: Index,
    pub asked: u64,
    pub completed: u64,
    pub completed_by_lease: u64,
    pub refused: u64,
}

impl Reads {
    /// A client asked node `node` for a read (number `request`), when the highest acknowledged write was at
    /// `acknowledged`.
    pub fn asked(&mut self, node: NodeId, request: u64, lease: bool, acknowledged: Index) {
        self.asked += 1;
        let at_least = acknowledged.max(self.max_completed);
        self.pending.insert((node, request), AskedRead { at_least, lease });
    }

    /// A read of `node` still waiting for its answer, if any.
    pub fn pending_of(&self, node: NodeId) -> Option<u64> {
        self.pending.range((node, 0)..=(node, u64::MAX)).next().map(|(&(_, request), _)| request)
    }

    /// The node reports read `request` done at `index`, having applied up to `applied`.
    pub fn done(&mut self, node: NodeId, request: u64, index: Index, applied: Index) -> Result<(), Violation> {
        if self.given_up.remove(&(node, request)) {
            return Ok(());
        }
        let Some(read) = self.pending.remove(&(node, request)) else {
            return Err(Violation::new(
                Invariant::Linearizability,
                format!("node {node} reported read {request} done, which no client asked or which is done already"),
            ));
        };
        if index < read.at_least {
            return Err(Violation::new(
                Invariant::Linearizability,
                format!(
                    "node {node} served read {request}{} at index {index}, but index {} was acknowledged (or read) \
                     before the read was asked",
                    if read.lease { " (lease)" } else { "" },
                    read.at_least
                ),
            ));
        }
        if applied < index {
            return Err(Violation::new(
                Invariant::Linearizability,
                format!("node {node} served read {request} at index {index} having applied only up to {applied}"),
            ));
        }
        self.completed += 1;
        self.completed_by_lease += u64::from(read.lease);
        self.max_completed = self.max_completed.max(index);
        Ok(())
    }

    /// The node crashed: its reads are gone with its memory (their clients never hear back).
    pub fn crashed(&mut self, node: NodeId) {
        self.pending.retain(|&(at, _), _| at != node);
    }

    /// The node left the cluster (or never joined): its reads may never be answered, and are not waited for.
    pub fn give_up_on(&mut self, node: NodeId) {
        let given_up: Vec<(NodeId, u64)> = self.pending.keys().filter(|(at, _)| *at == node).copied().collect();
        for key in given_up {
            self.pending.remove(&key);
            self.given_up.insert(key);
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// One read still waiting, for a liveness report.
    pub fn some_pending(&self) -> Option<(NodeId, u64)> {
        self.pending.keys().next().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_older_than_an_acknowledged_write_or_an_earlier_read_is_a_violation() {
        let mut reads = Reads::default();
        reads.asked(1, 1, false, 5);
        assert!(reads.done(1, 1, 4, 9).is_err(), "older than the write acknowledged before it");
        reads.asked(1, 2, false, 5);
        reads.done(1, 2, 7, 7).expect("a fresh read");
        reads.asked(2, 1, true, 5);
        let stale = reads.done(2, 1, 6, 6).expect_err("older than a read completed before it");
        assert_eq!(stale.invariant, Invariant::Linearizability);
        reads.asked(2, 2, false, 0);
        assert!(reads.done(2, 2, 8, 7).is_err(), "served before the node applied its index");
        assert!(reads.done(3, 1, 9, 9).is_err(), "never asked");
    }
}
