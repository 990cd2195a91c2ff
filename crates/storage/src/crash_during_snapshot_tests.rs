//! Crashing while a snapshot is written, renamed into place, or while the segments it covers are deleted: at
//! every I/O step in turn the process "dies" (see `crash_point`), the directory is opened again, and the state
//! found must be the one before the snapshot or the one after it: every entry there either in the log or under a
//! snapshot that is on disk, never less.

use super::codec::Record;
use super::crash_point;
use super::snapshot_file;
use super::wal::Wal;
use flotilla_raft::{Entry, EntryKind, Index, Membership, Payload, Snapshot, SnapshotMeta};
use std::fs;
use std::path::{Path, PathBuf};

const SEGMENT_BYTES: u64 = 4096;
const LAST: Index = 400;

fn entry(index: Index) -> Entry {
    Entry {
        term: 1 + index / 100,
        index,
        kind: EntryKind::Normal,
        id: Some(format!("n_{index}").into()),
        data: Payload::from(vec![index as u8; 40]),
    }
}

fn snapshot(index: Index) -> Snapshot {
    let meta = SnapshotMeta { index, term: 1 + index / 100, membership: Membership::with_voters([1, 2, 3]) };
    Snapshot { meta, data: Payload::from(format!("{{\"upTo\":{index}}}").into_bytes()), ..Default::default() }
}

/// What the disk thread does for a snapshot the application took.
fn take_snapshot(wal: &mut Wal, index: Index) -> Result<(), super::StorageError> {
    super::writer::save_snapshot(wal, &snapshot(index))
}

/// A log of entries 1..=LAST over many segments, compacted behind a snapshot at 100.
fn write_base(dir: &Path) {
    let (mut wal, _) = Wal::open(dir, SEGMENT_BYTES).expect("open");
    for index in 1..=LAST {
        wal.append(&[Record::Write { hard_state: None, reset: None, entries: vec![entry(index)] }]).unwrap();
    }
    wal.sync().unwrap();
    take_snapshot(&mut wal, 100).expect("the first snapshot");
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).unwrap();
    for file in fs::read_dir(from).unwrap() {
        let file = file.unwrap();
        fs::copy(file.path(), to.join(file.file_name())).unwrap();
    }
}

/// Opens `dir` as a restarting node would, and says which state it holds: (snapshot index, compaction point).
fn recovered_state(dir: &Path, what: &str) -> (Index, Index) {
    let (_, recovered) = Wal::open(dir, SEGMENT_BYTES).unwrap_or_else(|e| panic!("{what}: the log does not open: {e}"));
    let stored = snapshot_file::load_latest(dir).unwrap_or_else(|e| panic!("{what}: the snapshot does not load: {e}"));
    let stored = stored.unwrap_or_else(|| panic!("{what}: no snapshot on disk"));
    let compacted = recovered.compacted_index;
    assert!(
        compacted <= stored.index,
        "{what}: the log was compacted to {compacted}, past the snapshot at {}",
        stored.index
    );
    let want: Vec<Entry> = (compacted + 1..=LAST).map(entry).collect();
    assert_eq!(recovered.entries, want, "{what}: the log after the compaction point");
    assert_eq!(stored.data, flotilla_raft::encode_stream(&snapshot(stored.index)), "{what}: the snapshot's contents");
    (stored.index, compacted)
}

#[test]
fn a_crash_at_any_step_of_a_snapshot_leaves_the_state_before_it_or_after_it() {
    let root = std::env::temp_dir().join(format!("flotilla-snapshot-crash-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let (base, case): (PathBuf, PathBuf) = (root.join("base"), root.join("case"));
    write_base(&base);
    let mut seen = Vec::new();
    for at in 0.. {
        copy_dir(&base, &case);
        let (mut wal, _) = Wal::open(&case, SEGMENT_BYTES).expect("open the copy");
        let segments_before = wal.segment_count();
        crash_point::crash_at(Some(at));
        let finished = take_snapshot(&mut wal, 300).is_ok();
        crash_point::crash_at(None);
        drop(wal);
        let state = recovered_state(&case, &format!("crash at step {at}"));
        assert!(
            [(100, 100), (300, 100), (300, 300)].contains(&state),
            "crash at step {at}: snapshot {} and compaction point {}: neither before nor after the snapshot",
            state.0,
            state.1
        );
        seen.push(state);
        if finished {
            assert_eq!(state, (300, 300), "the snapshot finished");
            assert!(
                Wal::open(&case, SEGMENT_BYTES).unwrap().0.segment_count() < segments_before,
                "segments were deleted"
            );
            break;
        }
    }
    assert!(seen.len() > 6, "{} crash points", seen.len());
    assert_eq!(seen[0], (100, 100), "a crash at the first step keeps the state before");
    fs::remove_dir_all(&root).unwrap();
}
