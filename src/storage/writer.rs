//! The disk thread: takes writes from the node, appends them to the write-ahead log and makes them durable
//! with one fsync per batch (group commit: writes that arrive while an fsync runs share the next one), then
//! reports the highest durable token. The JS thread never waits on the disk.

use super::codec::Record;
use super::error::StorageError;
use super::snapshot_file;
use super::wal::Wal;
use crate::raft::{Index, Snapshot, Term};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

enum Job {
    /// Records of one persist request, durable once `token` is reported. With a snapshot (received from the
    /// leader), the snapshot file is made durable first and the segments it covers are deleted after.
    Write { token: u64, snapshot: Option<Snapshot>, records: Vec<Record> },
    /// A snapshot the application took: saved, then the log segments it covers are deleted.
    Snapshot(Snapshot),
    /// Records that need no acknowledgement of their own (the next token's fsync covers them).
    Note(Vec<Record>),
    Compact { index: Index, term: Term },
}

/// What the disk thread reports.
#[derive(Debug)]
pub enum WriterEvent {
    /// Every write up to this token is durable.
    Durable(u64),
    /// The log can no longer be written: the node must stop.
    Failed(StorageError),
}

pub struct WalWriter {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl WalWriter {
    /// Starts the disk thread; `report` is called on it for each event.
    pub fn spawn(mut wal: Wal, report: impl Fn(WriterEvent) + Send + 'static) -> WalWriter {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("flotilla-wal".into())
            .spawn(move || run(&mut wal, &inbox, &report))
            .ok();
        WalWriter { jobs: Some(jobs), thread }
    }

    pub fn write(&self, token: u64, records: Vec<Record>) {
        self.send(Job::Write { token, snapshot: None, records });
    }

    /// A persist request that installs a snapshot received from the leader.
    pub fn write_with_snapshot(&self, token: u64, snapshot: Snapshot, records: Vec<Record>) {
        self.send(Job::Write { token, snapshot: Some(snapshot), records });
    }

    pub fn save_snapshot(&self, snapshot: Snapshot) {
        self.send(Job::Snapshot(snapshot));
    }

    pub fn note(&self, records: Vec<Record>) {
        self.send(Job::Note(records));
    }

    pub fn compact(&self, index: Index, term: Term) {
        self.send(Job::Compact { index, term });
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            // A send fails only when the thread has stopped after a failure it already reported.
            let _ = jobs.send(job);
        }
    }
}

impl Drop for WalWriter {
    /// Finishes the queued writes, then stops the thread.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(wal: &mut Wal, inbox: &Receiver<Job>, report: &dyn Fn(WriterEvent)) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        batch.extend(inbox.try_iter());
        if let Err(error) = write_batch(wal, batch, report) {
            report(WriterEvent::Failed(error));
            return;
        }
    }
}

fn write_batch(wal: &mut Wal, batch: Vec<Job>, report: &dyn Fn(WriterEvent)) -> Result<(), StorageError> {
    let mut durable_token = None;
    let mut compact_after_sync = None;
    for job in batch {
        match job {
            Job::Write { token, snapshot, records } => {
                if let Some(snapshot) = snapshot {
                    snapshot_file::save_core(wal.dir(), &snapshot)?;
                    compact_after_sync = Some((snapshot.meta.index, snapshot.meta.term));
                }
                wal.append(&records)?;
                durable_token = Some(token);
            }
            Job::Snapshot(snapshot) => {
                snapshot_file::save_core(wal.dir(), &snapshot)?;
                wal.compact(snapshot.meta.index, snapshot.meta.term)?;
                if let Some(token) = durable_token.take() {
                    report(WriterEvent::Durable(token));
                }
            }
            Job::Note(records) => wal.append(&records)?,
            Job::Compact { index, term } => {
                // Compaction syncs before deleting; report what that made durable first.
                wal.compact(index, term)?;
                if let Some(token) = durable_token.take() {
                    report(WriterEvent::Durable(token));
                }
            }
        }
    }
    if let Some(token) = durable_token {
        wal.sync()?;
        report(WriterEvent::Durable(token));
    }
    if let Some((index, term)) = compact_after_sync {
        wal.compact(index, term)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::HardState;
    use std::sync::{Arc, Mutex};

    #[test]
    fn tokens_are_reported_in_order_and_data_survives() {
        let dir = std::env::temp_dir().join(format!("flotilla-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (wal, _) = Wal::open(&dir, 1 << 20).expect("open");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let writer = WalWriter::spawn(wal, move |event| {
            if let WriterEvent::Durable(token) = event {
                sink.lock().expect("lock").push(token);
            }
        });
        for token in 1..=100 {
            writer.write(token, vec![Record::HardState(HardState { term: token, vote: None, commit: 0 })]);
        }
        drop(writer);
        let tokens = seen.lock().expect("lock").clone();
        assert_eq!(tokens.last(), Some(&100));
        assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
        let (_, recovered) = Wal::open(&dir, 1 << 20).expect("reopen");
        assert_eq!(recovered.hard_state.term, 100);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
