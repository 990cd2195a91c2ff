//! The durable store: persist requests go to the disk thread as one atomic WAL record each (one larger than a
//! frame is written as a group of parts that recovery applies whole), and are acknowledged when its fsync reports
//! them durable. The members (names with their ids) ride along.

use super::codec::Record;
use super::writer::WalWriter;
use super::{FsyncTimes, Storage, Submitted};
use flotilla_raft::{NodeId, PersistRequest, Snapshot};

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
                self.writer.write_with_snapshot(request.token, snapshot, vec![record]);
            }
            None => {
                let record = Record::Write { hard_state: request.hard_state, reset: None, entries: request.entries };
                self.writer.write(request.token, vec![record]);
            }
        }
        Submitted::Pending
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) {
        // Cheap: the data and the proposal ids are shared. The disk thread writes them as the file's stream.
        self.writer.save_snapshot(snapshot.clone());
    }

    fn record_members(&mut self, members: &[(NodeId, String)]) {
        // Queued before any later write, so the next acknowledged token covers it.
        self.writer.note(vec![Record::Members(members.to_vec())]);
    }

    fn fsync_times(&self) -> Option<FsyncTimes> {
        Some(self.writer.fsync_times())
    }
}
