//! Rollbacks of the log that no crash can cause: a newest segment deleted, an older segment copied in under a
//! newer number. Each would reopen with an older term and vote, and must be refused with an error naming what was
//! found. A data directory written before the manifest existed still opens (and gets one).
//!
//! What cannot be detected: the whole directory restored from one older backup (manifest included), the
//! manifest deleted together with the newest segments, and a newest segment cut at a record boundary (which is
//! what a crash before that write leaves).

use flotilla_raft::{Entry, EntryKind, HardState, Index, Payload};
use flotilla_storage::{Record, Wal};
use std::fs;
use std::path::{Path, PathBuf};

const SEGMENT_BYTES: u64 = 4096;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("flotilla-wal-rollback-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entry(index: Index, term: u64) -> Entry {
    Entry {
        term,
        index,
        kind: EntryKind::Normal,
        id: Some(format!("n_{index}").into()),
        data: Payload::from(vec![7u8; 200]),
    }
}

fn segment(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("segment-{sequence:016}.wal"))
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    found.sort();
    found
}

/// A log over several segments whose term and vote grow with each write: a rollback shows as an older term.
fn write_log(dir: &Path) -> HardState {
    let (mut wal, _) = Wal::open(dir, SEGMENT_BYTES).expect("open");
    let mut hard_state = HardState::default();
    for index in 1..=60 {
        hard_state = HardState { term: index, vote: Some(1 + index % 3), commit: index - 1 };
        wal.append(&[Record::Write { hard_state: Some(hard_state), reset: None, entries: vec![entry(index, index)] }])
            .unwrap();
        wal.sync().unwrap();
    }
    assert!(segments(dir).len() >= 4, "several segments");
    hard_state
}

#[test]
fn a_deleted_newest_segment_is_refused() {
    let dir = TempDir::new("deleted");
    write_log(&dir.0);
    let newest = segments(&dir.0).pop().unwrap();
    fs::remove_file(&newest).unwrap();
    let error = Wal::open(&dir.0, SEGMENT_BYTES).err().expect("refused");
    assert_eq!(error.file, dir.0.join("MANIFEST"));
    assert!(error.to_string().contains("segments were deleted"), "{error}");
}

#[test]
fn an_older_segment_copied_in_under_the_next_number_is_refused() {
    let dir = TempDir::new("copied-next");
    write_log(&dir.0);
    let files = segments(&dir.0);
    let next = segment(&dir.0, files.len() as u64 + 1);
    for older in &files[..files.len() - 1] {
        fs::copy(older, &next).unwrap();
        let error = Wal::open(&dir.0, SEGMENT_BYTES).err().expect("refused");
        assert_eq!((error.file.clone(), error.offset), (next.clone(), Some(0)), "{error}");
        assert!(error.to_string().contains("copied in"), "{error}");
    }
}

#[test]
fn an_older_segment_copied_over_the_newest_is_refused() {
    let dir = TempDir::new("copied-over");
    write_log(&dir.0);
    let files = segments(&dir.0);
    let newest = files.last().unwrap();
    for older in &files[..files.len() - 1] {
        fs::copy(older, newest).unwrap();
        let error = Wal::open(&dir.0, SEGMENT_BYTES).err().expect("refused");
        assert_eq!(error.file, *newest, "{error}");
    }
}

#[test]
fn an_older_segment_copied_in_far_ahead_is_refused() {
    let dir = TempDir::new("copied-far");
    write_log(&dir.0);
    let files = segments(&dir.0);
    fs::copy(&files[1], segment(&dir.0, files.len() as u64 + 5)).unwrap();
    let error = Wal::open(&dir.0, SEGMENT_BYTES).err().expect("refused");
    assert_eq!(error.file, dir.0.join("MANIFEST"));
    assert!(error.to_string().contains("copied in"), "{error}");
}

#[test]
fn a_log_written_before_the_manifest_opens_and_gets_one() {
    let dir = TempDir::new("no-manifest");
    let written = write_log(&dir.0);
    fs::remove_file(dir.0.join("MANIFEST")).unwrap();
    let (wal, recovered) = Wal::open(&dir.0, SEGMENT_BYTES).expect("opens");
    assert_eq!(recovered.hard_state, written);
    assert_eq!(recovered.entries.len(), 60);
    drop(wal);
    // From now on, its newest segment is on record.
    fs::remove_file(segments(&dir.0).pop().unwrap()).unwrap();
    assert!(Wal::open(&dir.0, SEGMENT_BYTES).is_err());
}

#[test]
fn a_crash_between_creating_a_segment_and_recording_it_opens() {
    let dir = TempDir::new("crash-roll");
    let written = write_log(&dir.0);
    let newest = segments(&dir.0).len() as u64;
    fs::write(dir.0.join("MANIFEST"), format!("flotilla-wal newest-segment {}\n", newest - 1)).unwrap();
    let (_, recovered) = Wal::open(&dir.0, SEGMENT_BYTES).expect("one segment past the manifest is a crash");
    assert_eq!(recovered.hard_state, written);
    assert_eq!(fs::read_to_string(dir.0.join("MANIFEST")).unwrap(), format!("flotilla-wal newest-segment {newest}\n"));
}
