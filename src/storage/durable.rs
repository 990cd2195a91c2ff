//! The durable store: persist requests go to the disk thread as one atomic WAL record each, and are
//! acknowledged when its fsync reports them durable. Peer names (what a vote for a slot means) ride along.

use super::codec::Record;
use super::snapshot_file::StoredSnapshot;
use super::writer::WalWriter;
use super::{Storage, Submitted};
use crate::raft::{encode_stream, PersistRequest, Snapshot};

/// A core snapshot as a snapshot file holds it: the stream (remembered proposal ids, then the data).
fn stored(snapshot: &Snapshot) -> StoredSnapshot {
    StoredSnapshot {
        index: snapshot.meta.index,
        term: snapshot.meta.term,
        membership: snapshot.meta.membership.clone(),
        data: encode_stream(snapshot),
    }
}

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
        match request.snapshot {
            Some(snapshot) => {
                let reset = Some((snapshot.meta.index, snapshot.meta.term));
                let record = Record::Write { hard_state: request.hard_state, reset, entries: request.entries };
                self.writer.write_with_snapshot(request.token, stored(&snapshot), vec![record]);
            }
            None => {
                let record = Record::Write { hard_state: request.hard_state, reset: None, entries: request.entries };
                self.writer.write(request.token, vec![record]);
            }
        }
        Submitted::Pending
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) {
        self.writer.save_snapshot(stored(snapshot));
    }

    fn record_peers(&mut self, names: &[String]) {
        // Queued before any later write, so the next acknowledged token covers it.
        self.writer.note(vec![Record::Peers(names.to_vec())]);
    }
}
