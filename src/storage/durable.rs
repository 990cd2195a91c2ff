//! The durable store: persist requests go to the disk thread as one atomic WAL record each, and are
//! acknowledged when its fsync reports them durable. Peer names (what a vote for a slot means) ride along.

use super::codec::Record;
use super::writer::WalWriter;
use super::{Storage, Submitted};
use crate::raft::PersistRequest;

pub struct DurableStorage {
    writer: WalWriter,
}

impl DurableStorage {
    pub fn new(writer: WalWriter) -> DurableStorage {
        DurableStorage { writer }
    }
}

impl Storage for DurableStorage {
    fn submit(&mut self, request: PersistRequest) -> Submitted {
        let record = Record::Write { hard_state: request.hard_state, entries: request.entries };
        self.writer.write(request.token, vec![record]);
        Submitted::Pending
    }

    fn record_peers(&mut self, names: &[String]) {
        // Queued before any later write, so the next acknowledged token covers it.
        self.writer.note(vec![Record::Peers(names.to_vec())]);
    }
}
