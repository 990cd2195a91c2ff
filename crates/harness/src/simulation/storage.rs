//! A node's simulated disk: a queue of writes that become durable, in order, some time after they are issued.
//! Only durable writes survive a crash; a restart reads them back as a `RestoredState`. A `SharedDisk` is the same
//! disk shared by a node driver, which submits writes to it, and the test, which decides when they become durable.

use crate::MemoryStorage;
use flotilla_raft::{Membership, NodeId, PersistRequest, RestoredState, Snapshot};
use flotilla_storage::Submitted;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
pub struct Storage {
    pub durable: MemoryStorage,
    /// Issued, not yet durable, oldest first.
    queue: VecDeque<PersistRequest>,
}

impl Storage {
    pub fn enqueue(&mut self, request: PersistRequest) {
        self.queue.push_back(request);
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Makes the oldest `count` writes durable and returns them; the last one's token is the one to acknowledge.
    pub fn complete(&mut self, count: usize) -> Vec<PersistRequest> {
        let count = count.min(self.queue.len());
        let written: Vec<PersistRequest> = self.queue.drain(..count).collect();
        for request in &written {
            self.durable.write(request);
        }
        written
    }

    /// A crash: the oldest `survivors` writes reached the disk although nobody acknowledged them (they are
    /// returned); the rest are lost.
    pub fn crash(&mut self, survivors: usize) -> Vec<PersistRequest> {
        let written = self.complete(survivors);
        self.queue.clear();
        written
    }

    /// What a restarting node reads back: the durable hard state, snapshot and entries.
    pub fn restored_state(&self, voters: impl IntoIterator<Item = NodeId>) -> RestoredState {
        self.durable.restored_state(Membership::with_voters(voters))
    }
}

/// A disk shared by a node driver and the test that runs it.
#[derive(Clone, Default)]
pub struct SharedDisk(Arc<Mutex<Storage>>);

impl SharedDisk {
    pub fn lock(&self) -> MutexGuard<'_, Storage> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl flotilla_storage::Storage for SharedDisk {
    /// Queued: the test makes it durable later and tells the driver (`NodeDriver::persisted`).
    fn submit(&mut self, request: PersistRequest) -> Submitted {
        self.lock().enqueue(request);
        Submitted::Pending
    }

    /// Written at once and atomically, as a snapshot file is, while earlier writes may still be in flight.
    fn save_snapshot(&mut self, snapshot: &Snapshot) {
        self.lock().durable.compact(snapshot);
    }
}
