//! The disk thread: takes writes from the node, appends them to the write-ahead log and makes them durable
//! with one fsync per batch (group commit: writes that arrive while an fsync runs share the next one), then
//! reports the highest durable token. The JS thread never waits on the disk. The thread never dies silently: a
//! failure or a panic is reported as `Failed`, and every write submitted after that is reported failed too. Each
//! batch's fsync is timed into a histogram the node reads for its metrics.

use super::codec::Record;
use super::error::StorageError;
use super::fsync_histogram::{FsyncHistogram, FsyncTimes};
use super::snapshot_file;
use super::wal::Wal;
use flotilla_raft::Snapshot;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

enum Job {
    /// Records of one persist request, durable once `token` is reported. With a snapshot (received from the
    /// leader), the snapshot file is made durable first and the segments it covers are deleted after.
    Write { token: u64, snapshot: Option<Snapshot>, records: Vec<Record> },
    /// A snapshot the application took: saved, then the log segments it covers are deleted.
    Snapshot(Snapshot),
    /// Records that need no acknowledgement of their own (the next token's fsync covers them).
    Note(Vec<Record>),
    /// Test-only: the disk thread panics, as a bug in it would.
    #[cfg(test)]
    Panic,
}

/// What the disk thread reports.
#[derive(Debug)]
pub enum WriterEvent {
    /// Every write up to this token is durable.
    Durable(u64),
    /// The log can no longer be written: the node must stop.
    Failed(StorageError),
}

type Report = Arc<Mutex<dyn Fn(WriterEvent) + Send>>;

/// Calls the node's report (from the disk thread, or from the node's thread once the disk thread is gone).
fn tell(report: &Report, event: WriterEvent) {
    (report.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))(event)
}

pub struct WalWriter {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    report: Report,
    /// Why the disk thread stopped, once it has: every later write fails with it.
    failure: Arc<OnceLock<StorageError>>,
    dir: PathBuf,
    /// How long each batch's fsync took (the disk thread counts, the node reads).
    fsync_histogram: Arc<FsyncHistogram>,
}

impl WalWriter {
    /// Starts the disk thread; `report` is called for each event (on the disk thread, or on the caller's
    /// thread when a write is submitted after the disk thread stopped).
    pub fn spawn(mut wal: Wal, report: impl Fn(WriterEvent) + Send + 'static) -> WalWriter {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let report: Report = Arc::new(Mutex::new(report));
        let failure = Arc::new(OnceLock::new());
        let dir = wal.dir().to_path_buf();
        let fsync_histogram = Arc::new(FsyncHistogram::default());
        let (thread_report, thread_failure) = (report.clone(), failure.clone());
        let thread_fsyncs = fsync_histogram.clone();
        let spawned = std::thread::Builder::new()
            .name("flotilla-wal".into())
            .spawn(move || run(&mut wal, &inbox, &thread_report, &thread_failure, &thread_fsyncs));
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(error) => {
                let _ = failure.set(StorageError::other(&dir, format!("the disk thread could not start: {error}")));
                None
            }
        };
        WalWriter { jobs: Some(jobs), thread, report, failure, dir, fsync_histogram }
    }

    /// How long the disk thread's fsyncs took so far.
    pub fn fsync_times(&self) -> FsyncTimes {
        self.fsync_histogram.times()
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

    /// Test-only: makes the disk thread panic at its next batch.
    #[cfg(test)]
    fn panic_next_batch(&self) {
        self.send(Job::Panic);
    }

    /// Queues `job`, or, once the disk thread has stopped, reports the failure again: a write submitted then is
    /// never dropped without the node hearing that it failed.
    fn send(&self, job: Job) {
        if let (None, Some(jobs)) = (self.failure.get(), &self.jobs) {
            if jobs.send(job).is_ok() {
                return;
            }
        }
        let error = self.failure.get().cloned();
        let error = error.unwrap_or_else(|| StorageError::other(&self.dir, "the disk thread has stopped"));
        tell(&self.report, WriterEvent::Failed(error));
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

fn run(
    wal: &mut Wal,
    inbox: &Receiver<Job>,
    report: &Report,
    failure: &OnceLock<StorageError>,
    fsyncs: &FsyncHistogram,
) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        batch.extend(inbox.try_iter());
        let written = catch_unwind(AssertUnwindSafe(|| write_batch(wal, batch, &|event| tell(report, event), fsyncs)));
        let error = match written {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                StorageError::other(wal.dir(), format!("the disk thread failed (an internal error, a panic: {why})"))
            }
        };
        // Recorded before it is reported: a write submitted from then on is failed by `send`, not queued.
        let _ = failure.set(error.clone());
        tell(report, WriterEvent::Failed(error));
        return;
    }
}

fn write_batch(
    wal: &mut Wal,
    batch: Vec<Job>,
    report: &dyn Fn(WriterEvent),
    fsyncs: &FsyncHistogram,
) -> Result<(), StorageError> {
    // A directory moved or replaced under the node: what it writes now would not be found at the path.
    wal.check_lock()?;
    let mut durable_token = None;
    let mut compact_after_sync = None;
    // The records of the writes until the next sync, appended together: one frame per fsync, kept whole or not at
    // all (a power cut may keep any of the pages of an unsynced write and lose others).
    let mut unsynced: Vec<Record> = Vec::new();
    for job in batch {
        match job {
            Job::Write { token, snapshot, records } => {
                if let Some(snapshot) = snapshot {
                    snapshot_file::save_core(wal.dir(), &snapshot)?;
                    compact_after_sync = Some((snapshot.meta.index, snapshot.meta.term));
                }
                unsynced.extend(records);
                durable_token = Some(token);
            }
            Job::Snapshot(snapshot) => {
                // Synced on their own: the compaction's record is then a write (and a frame) of its own.
                if append_unsynced(wal, &mut unsynced)? {
                    wal.sync()?;
                }
                save_snapshot(wal, &snapshot)?;
                if let Some(token) = durable_token.take() {
                    report(WriterEvent::Durable(token));
                }
            }
            Job::Note(records) => unsynced.extend(records),
            #[cfg(test)]
            Job::Panic => panic!("a test made the disk thread panic"),
        }
    }
    // Notes alone are synced too: left unsynced, they and the next batch would be two frames under one fsync.
    if append_unsynced(wal, &mut unsynced)? || durable_token.is_some() {
        let started = Instant::now();
        wal.sync()?;
        fsyncs.record(started.elapsed());
        if let Some(token) = durable_token {
            report(WriterEvent::Durable(token));
        }
    }
    if let Some((index, term)) = compact_after_sync {
        wal.compact(index, term)?;
    }
    Ok(())
}

/// Appends the records waiting for a sync, as one frame; whether there were any.
fn append_unsynced(wal: &mut Wal, unsynced: &mut Vec<Record>) -> Result<bool, StorageError> {
    if unsynced.is_empty() {
        return Ok(false);
    }
    wal.append(&std::mem::take(unsynced))?;
    Ok(true)
}

/// Saves a snapshot the application took, then drops the log it covers: in this order, so that a crash between
/// the two leaves the snapshot and the whole log (see `crash_during_snapshot_tests`).
pub(super) fn save_snapshot(wal: &mut Wal, snapshot: &Snapshot) -> Result<(), StorageError> {
    snapshot_file::save_core(wal.dir(), snapshot)?;
    wal.compact(snapshot.meta.index, snapshot.meta.term)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_raft::HardState;
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

    #[test]
    fn the_writes_one_fsync_covers_are_appended_as_one_frame() {
        let dir = std::env::temp_dir().join(format!("flotilla-writer-frame-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut wal, _) = Wal::open(&dir, 1 << 20).expect("open");
        let hard_state = |term| Record::HardState(HardState { term, vote: None, commit: 0 });
        let batch = vec![
            Job::Write { token: 1, snapshot: None, records: vec![hard_state(1)] },
            Job::Note(vec![Record::Members(vec![(1, "a".into())])]),
            Job::Write { token: 2, snapshot: None, records: vec![hard_state(2), hard_state(3)] },
        ];
        let durable = Mutex::new(Vec::new());
        write_batch(
            &mut wal,
            batch,
            &|event| durable.lock().expect("lock").push(format!("{event:?}")),
            &Default::default(),
        )
        .expect("written");
        assert_eq!(*durable.lock().expect("lock"), vec!["Durable(2)".to_string()]);
        drop(wal);
        let path = dir.join("segment-0000000000000001.wal");
        let bytes = std::fs::read(&path).expect("read");
        let scanned = crate::segment::scan(&path, &bytes, true).expect("sound");
        let frame_starts: std::collections::BTreeSet<u64> = scanned.records.iter().map(|(at, _)| *at).collect();
        // The segment's header (one frame), then the four records of the three jobs, all at one offset.
        assert_eq!(frame_starts.len(), 2, "{:?}", scanned.records);
        assert_eq!(scanned.records.len(), 4 + 4);
        let (_, recovered) = Wal::open(&dir, 1 << 20).expect("reopen");
        assert_eq!((recovered.hard_state.term, recovered.members.len()), (3, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A log with one synced write (the entry 1), and where its records end.
    fn synced_log(dir: &std::path::Path) -> (Wal, usize) {
        let _ = std::fs::remove_dir_all(dir);
        let (mut wal, _) = Wal::open(dir, 1 << 20).expect("open");
        wal.append(&[write_of(&[1])]).unwrap();
        wal.sync().unwrap();
        let synced_end = crate::segment::written_len(&std::fs::read(segment_of(dir)).unwrap());
        (wal, synced_end)
    }

    fn write_of(indices: &[u64]) -> Record {
        use flotilla_raft::{Entry, EntryKind, Payload};
        let entry =
            |index| Entry { term: 1, index, kind: EntryKind::Normal, id: None, data: Payload::from(vec![7; 300]) };
        Record::Write { hard_state: None, reset: None, entries: indices.iter().map(|&i| entry(i)).collect() }
    }

    fn segment_of(dir: &std::path::Path) -> std::path::PathBuf {
        dir.join("segment-0000000000000001.wal")
    }

    /// A power cut that lost the page after `synced_end`'s and kept the rest: the log opens, with what was synced.
    fn opens_after_losing_the_page_after(dir: &std::path::Path, synced_end: usize) -> Vec<u64> {
        let path = segment_of(dir);
        let mut bytes = std::fs::read(&path).unwrap();
        let page = synced_end / 4096 + 1;
        assert!(crate::segment::written_len(&bytes) > (page + 1) * 4096, "records lie after the lost page");
        bytes[page * 4096..(page + 1) * 4096].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let (_, recovered) = Wal::open(dir, 1 << 20).expect("a torn write, not damage");
        recovered.entries.iter().map(|entry| entry.index).collect()
    }

    #[test]
    fn a_snapshot_among_the_writes_of_one_batch_leaves_one_frame_per_fsync() {
        use flotilla_raft::{Membership, Payload, SnapshotMeta};
        let dir = std::env::temp_dir().join(format!("flotilla-writer-snapshot-frame-{}", std::process::id()));
        let (mut wal, _) = synced_log(&dir);
        let meta = SnapshotMeta { index: 1, term: 1, membership: Membership::with_voters([1, 2, 3]) };
        let snapshot = Snapshot { meta, data: Payload::from(&b"{}"[..]), ..Default::default() };
        let indices: Vec<u64> = (2..=40).collect();
        let batch =
            vec![Job::Write { token: 1, snapshot: None, records: vec![write_of(&indices)] }, Job::Snapshot(snapshot)];
        write_batch(&mut wal, batch, &|_| {}, &Default::default()).expect("written");
        drop(wal);
        // The batch's writes were synced before the compaction's record was written: each fsync covered one frame.
        let bytes = std::fs::read(segment_of(&dir)).unwrap();
        let scanned = crate::segment::scan(&segment_of(&dir), &bytes, true).expect("sound");
        let frames: std::collections::BTreeSet<u64> = scanned.records.iter().map(|(at, _)| *at).collect();
        assert_eq!(frames.len(), 4, "header, the first write, the batch's writes, the compaction: {frames:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn notes_alone_are_synced_so_that_the_next_write_is_a_frame_of_its_own_fsync() {
        let dir = std::env::temp_dir().join(format!("flotilla-writer-notes-frame-{}", std::process::id()));
        let (mut wal, _) = synced_log(&dir);
        let members: Vec<(u64, String)> = (1..=3).map(|i| (i, format!("node-{i}-{}", "x".repeat(1500)))).collect();
        let (durable, fsyncs) = (Mutex::new(Vec::new()), FsyncHistogram::default());
        let report = |event| durable.lock().expect("lock").push(format!("{event:?}"));
        write_batch(&mut wal, vec![Job::Note(vec![Record::Members(members)])], &report, &fsyncs).unwrap();
        assert_eq!(fsyncs.times().count, 1, "the notes were synced");
        let notes_end = crate::segment::written_len(&std::fs::read(segment_of(&dir)).unwrap());
        let indices: Vec<u64> = (2..=40).collect();
        let batch = vec![Job::Write { token: 1, snapshot: None, records: vec![write_of(&indices)] }];
        write_batch(&mut wal, batch, &report, &fsyncs).unwrap();
        drop(wal);
        assert_eq!(*durable.lock().expect("lock"), vec!["Durable(1)".to_string()]);
        // The write after the notes, torn by a power cut (a page of it lost, later ones kept): cut whole.
        assert_eq!(opens_after_losing_the_page_after(&dir, notes_end), vec![1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_group_commit_fsync_is_timed_into_the_histogram() {
        let dir = std::env::temp_dir().join(format!("flotilla-writer-fsync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (wal, _) = Wal::open(&dir, 1 << 20).expect("open");
        let (events, inbox) = mpsc::channel();
        let writer = WalWriter::spawn(wal, move |event| {
            let _ = events.send(event);
        });
        assert_eq!(writer.fsync_times().count, 0, "nothing written, nothing synced");
        // One write at a time, each waited for: one fsync each.
        for token in 1..=3 {
            writer.write(token, vec![Record::HardState(HardState { term: token, vote: None, commit: 0 })]);
            let durable = inbox.recv_timeout(std::time::Duration::from_secs(10));
            assert!(matches!(durable, Ok(WriterEvent::Durable(t)) if t == token), "{durable:?}");
        }
        let times = writer.fsync_times();
        assert_eq!(times.count, 3, "{times:?}");
        assert!(times.sum_nanos > 0, "{times:?}");
        assert_eq!(times.cumulative.len(), crate::FSYNC_BUCKET_BOUNDS_SECONDS.len());
        assert!(times.cumulative.windows(2).all(|pair| pair[0] <= pair[1]), "cumulative: {times:?}");
        assert!(times.cumulative.last().is_some_and(|&last| last <= times.count), "{times:?}");
        drop(writer);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_panic_on_the_disk_thread_is_reported_and_fails_every_later_write() {
        let dir = std::env::temp_dir().join(format!("flotilla-writer-panic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (wal, _) = Wal::open(&dir, 1 << 20).expect("open");
        let (events, inbox) = mpsc::channel();
        let writer = WalWriter::spawn(wal, move |event| {
            let _ = events.send(event);
        });
        let hard_state = |term| vec![Record::HardState(HardState { term, vote: None, commit: 0 })];
        writer.write(1, hard_state(1));
        assert!(matches!(inbox.recv_timeout(std::time::Duration::from_secs(10)), Ok(WriterEvent::Durable(1))));
        writer.panic_next_batch();
        let wait = std::time::Duration::from_secs(10);
        match inbox.recv_timeout(wait) {
            Ok(WriterEvent::Failed(error)) => assert!(error.to_string().contains("a panic"), "{error}"),
            other => panic!("want the panic reported as a failure, got {other:?}"),
        }
        // Every write from now on is answered with the failure, none is dropped without a word.
        for token in 2..=4 {
            writer.write(token, hard_state(token));
            match inbox.recv_timeout(wait) {
                Ok(WriterEvent::Failed(error)) => assert!(error.to_string().contains("a panic"), "{error}"),
                other => panic!("write {token}: want a failure, got {other:?}"),
            }
        }
        drop(writer);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_data_directory_moved_away_fails_the_next_batch() {
        let base = std::env::temp_dir().join(format!("flotilla-writer-moved-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (dir, moved) = (base.join("node"), base.join("moved"));
        let (wal, _) = Wal::open(&dir, 1 << 20).expect("open");
        let (events, inbox) = mpsc::channel();
        let writer = WalWriter::spawn(wal, move |event| {
            let _ = events.send(event);
        });
        std::fs::rename(&dir, &moved).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        writer.write(1, vec![Record::HardState(HardState { term: 1, vote: None, commit: 0 })]);
        match inbox.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(WriterEvent::Failed(error)) => assert!(error.to_string().contains("moved or replaced"), "{error}"),
            other => panic!("want the write failed, got {other:?}"),
        }
        drop(writer);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
