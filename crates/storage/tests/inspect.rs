//! Inspecting a data directory (`flotilla inspect` and `flotilla verify`): on logs written by the real write-ahead
//! log and snapshot files, sound ones report their files, state and entries exactly; damaged ones (a flipped byte,
//! a cut segment, a deleted snapshot, garbage files) are reported with the file and offset, as the node would refuse
//! them; and nothing in the directory changes, even while a node holds it open.

use flotilla_raft::{Entry, EntryKind, HardState, Index, Membership, Payload, Snapshot, SnapshotMeta, Term};
use flotilla_storage::inspect::{DataDirReport, Finding, InspectedDataDir, Inspection, Severity};
use flotilla_storage::{snapshot_file, Record, Wal};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

const SEGMENT_BYTES: u64 = 4096;

/// A temporary directory removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("flotilla-inspect-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entry(index: Index, term: Term) -> Entry {
    let data = format!("{{\"index\":{index},\"term\":{term},\"pad\":\"{}\"}}", "x".repeat(40));
    Entry {
        term,
        index,
        kind: EntryKind::Normal,
        id: Some(format!("n_{index}").into()),
        data: Payload::from(data.as_bytes()),
    }
}

fn write(hard_state: Option<HardState>, entries: Vec<Entry>) -> Record {
    Record::Write { hard_state, reset: None, entries }
}

/// Writes entries 1..=100 of term 1, then a leader of term 2 replaces them from index 90 on, up to 120: several
/// segments, and copies of entries 90..=100 that the log no longer keeps. Returns the log's entries.
fn write_log(dir: &Path) -> Vec<Entry> {
    let (mut wal, _) = Wal::open(dir, SEGMENT_BYTES).expect("open");
    wal.append(&[Record::Members(vec![(7, "solo".into())])]).expect("members");
    for index in 1..=100 {
        let hard_state = HardState { term: 1, vote: Some(7), commit: index - 1 };
        wal.append(&[write(Some(hard_state), vec![entry(index, 1)])]).expect("append");
    }
    let hard_state = HardState { term: 2, vote: Some(7), commit: 89 };
    wal.append(&[write(Some(hard_state), (90..=110).map(|index| entry(index, 2)).collect())]).expect("append");
    let hard_state = HardState { term: 2, vote: Some(7), commit: 115 };
    wal.append(&[write(Some(hard_state), (111..=120).map(|index| entry(index, 2)).collect())]).expect("append");
    wal.sync().expect("sync");
    (1..=120).map(|index| entry(index, if index < 90 { 1 } else { 2 })).collect()
}

/// `write_log`, then a snapshot at index 100 and the log compacted behind it.
fn write_compacted_log(dir: &Path) -> Vec<Entry> {
    let entries = write_log(dir);
    let meta = SnapshotMeta { index: 100, term: 2, membership: Membership::with_voters([7]) };
    let snapshot = Snapshot { meta, data: Payload::from(&b"{\"state\":100}"[..]), ..Snapshot::default() };
    snapshot_file::save_core(dir, &snapshot).expect("save snapshot");
    let (mut wal, _) = Wal::open(dir, SEGMENT_BYTES).expect("reopen");
    wal.compact(100, 2).expect("compact");
    entries.into_iter().filter(|entry| entry.index > 100).collect()
}

fn inspect(dir: &Path) -> InspectedDataDir {
    Inspection::start(dir).expect("a data directory").finish()
}

fn damage(report: &DataDirReport) -> Vec<&Finding> {
    report.findings.iter().filter(|finding| finding.severity == Severity::Damage).collect()
}

fn read_back(inspected: &InspectedDataDir, from: Index) -> Vec<Entry> {
    inspected.entries(from).collect::<Result<_, _>>().expect("the entries read back")
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
        .collect();
    files.sort();
    files
}

/// Where each frame of a sound segment starts (up to the zeros the newest one is written into).
fn frame_starts(bytes: &[u8]) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut at = 0usize;
    while at + 4 <= bytes.len() && bytes[at..at + 4] != [0; 4] {
        starts.push(at as u64);
        at += 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().expect("a length")) as usize;
    }
    starts
}

/// Every file's name and bytes: what must not change.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry"))
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), fs::read(entry.path()).expect("read")))
        .collect()
}

#[test]
fn a_sound_log_reports_its_segments_state_and_the_entries_it_keeps() {
    let dir = TempDir::new("sound");
    let written = write_log(&dir.0);
    let inspected = inspect(&dir.0);
    let report = &inspected.report;
    assert!(report.is_sound(), "{:?}", report.findings);
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.hard_state, HardState { term: 2, vote: Some(7), commit: 115 });
    assert_eq!(report.members, vec![(7, "solo".to_string())]);
    assert_eq!((report.log.first_index, report.log.last_index, report.log.last_term), (Some(1), Some(120), Some(2)));
    assert_eq!((report.log.entries, report.log.compacted_index), (120, 0));

    let files = segment_files(&dir.0);
    assert!(files.len() > 3, "{} segments", files.len());
    assert_eq!(report.segments.iter().map(|s| s.file.clone()).collect::<Vec<_>>(), files);
    assert_eq!(report.manifest_newest_segment, report.segments.last().map(|s| s.sequence));
    for segment in &report.segments {
        assert_eq!(segment.bytes, fs::metadata(&segment.file).expect("metadata").len());
        let bytes = fs::read(&segment.file).expect("read");
        // Each frame is one record, but for the header's four records, written as one batch.
        let starts = frame_starts(&bytes);
        assert_eq!(segment.records, starts.len() as u64 + 3);
        // What was written ends with the last frame; only the newest file is longer (zeros ahead of its records).
        let last = *starts.last().expect("a frame") as usize;
        let end = last + 8 + u32::from_le_bytes(bytes[last..last + 4].try_into().expect("a length")) as usize;
        assert_eq!(segment.written_bytes, end as u64);
        if Some(segment.sequence) != report.manifest_newest_segment {
            assert_eq!(segment.written_bytes, segment.bytes, "{segment:?}");
        }
        assert!(!segment.damaged && segment.torn_at.is_none());
    }
    // Every entry written is counted where it was written, the replaced copies of 90..=100 too.
    assert_eq!(report.segments.iter().map(|s| s.entries).sum::<u64>(), 100 + 31);
    assert_eq!(report.segments.first().and_then(|s| s.index_range).map(|(low, _)| low), Some(1));
    assert_eq!(report.segments.iter().filter_map(|s| s.index_range).map(|(_, high)| high).max(), Some(120));
    assert_eq!(report.checksums_verified(), report.segments.iter().map(|s| s.records).sum::<u64>());

    assert_eq!(read_back(&inspected, 0), written, "the copies the log kept, in order");
    assert_eq!(read_back(&inspected, 95), written[94..]);
    assert_eq!(read_back(&inspected, 121), vec![]);
    let mut entries = inspected.entries(119);
    assert_eq!(entries.next_index(), 119);
    assert_eq!(entries.next().map(|e| e.map(|e| e.index)), Some(Ok(119)));
    assert_eq!(entries.next_index(), 120);
}

#[test]
fn a_compacted_log_reports_its_snapshot_and_the_entries_after_it() {
    let dir = TempDir::new("compacted");
    let kept = write_compacted_log(&dir.0);
    let inspected = inspect(&dir.0);
    let report = &inspected.report;
    assert!(report.is_sound(), "{:?}", report.findings);
    assert_eq!(report.snapshots.len(), 1);
    let snapshot = &report.snapshots[0];
    assert_eq!((snapshot.index, snapshot.term, snapshot.sound, snapshot.newest), (100, 2, true, true));
    assert_eq!(snapshot.voters, vec![7]);
    assert_eq!(snapshot.bytes, fs::metadata(&snapshot.file).expect("metadata").len());
    assert_eq!((report.log.compacted_index, report.log.compacted_term), (100, 2));
    assert_eq!((report.log.first_index, report.log.last_index, report.log.entries), (Some(101), Some(120), 20));
    assert!(report.segments.first().is_some_and(|s| s.sequence > 1), "the covered segments were deleted");
    assert_eq!(read_back(&inspected, 0), kept);
}

#[test]
fn a_flipped_byte_in_an_older_segment_is_damage_at_its_record() {
    let dir = TempDir::new("flipped");
    let written = write_log(&dir.0);
    let files = segment_files(&dir.0);
    let target = &files[1];
    let mut bytes = fs::read(target).expect("read");
    let starts = frame_starts(&bytes);
    let flipped = (starts[6] + 20) as usize;
    bytes[flipped] ^= 0x20;
    fs::write(target, &bytes).expect("write");

    let inspected = inspect(&dir.0);
    let report = &inspected.report;
    assert!(!report.is_sound());
    let found = damage(report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((&found[0].file, found[0].offset), (target, Some(starts[6])));
    assert!(found[0].message.contains("checksum"), "{}", found[0].message);
    assert!(report.segments[1].damaged);
    // The other segments are still scanned and reported.
    assert_eq!(report.segments.len(), files.len());
    assert!(report.segments[2..].iter().all(|s| s.records > 0 && !s.damaged));
    // The records before the damage are read: the log is reported, and read back, up to it.
    // The header's four records (one frame) and the five frames after it.
    assert_eq!(report.segments[1].records, 9);
    let entries = read_back(&inspected, 0);
    assert_eq!(entries.last().map(|e| e.index), report.log.last_index);
    assert!(report.log.last_index > report.segments[0].index_range.map(|(_, last)| last));
    assert_eq!(entries, written[..entries.len()]);
}

#[test]
fn a_cut_older_segment_is_damage_naming_it() {
    let dir = TempDir::new("cut");
    write_log(&dir.0);
    let files = segment_files(&dir.0);
    let target = &files[0];
    let len = fs::metadata(target).expect("metadata").len();
    let starts = frame_starts(&fs::read(target).expect("read"));
    let last_start = *starts.last().expect("frames");
    // Mid-record: the record is cut short; at a record boundary: the next segment says how long this one was.
    for (cut, offset) in [(len - 5, last_start), (last_start, last_start)] {
        let whole = fs::read(target).expect("read");
        OpenOptions::new().write(true).open(target).and_then(|f| f.set_len(cut)).expect("cut");
        let report = inspect(&dir.0).report;
        let found = damage(&report);
        assert_eq!((&found[0].file, found[0].offset), (target, Some(offset)), "cut at {cut}: {found:?}");
        // Mid-record, the next segment's header says so too: it names this one's length.
        assert!(found.iter().all(|finding| &finding.file == target), "cut at {cut}: {found:?}");
        fs::write(target, whole).expect("restore");
    }
    assert!(inspect(&dir.0).report.is_sound());
}

#[test]
fn a_torn_tail_is_a_notice_and_is_left_in_place() {
    let dir = TempDir::new("torn");
    write_log(&dir.0);
    let newest = segment_files(&dir.0).pop().expect("segments");
    let len = fs::metadata(&newest).expect("metadata").len();
    let last_start = *frame_starts(&fs::read(&newest).expect("read")).last().expect("frames");
    OpenOptions::new().write(true).open(&newest).and_then(|f| f.set_len(len - 3)).expect("cut");
    let before = contents(&dir.0);

    let inspected = inspect(&dir.0);
    let report = &inspected.report;
    assert!(report.is_sound(), "{:?}", report.findings);
    assert_eq!(report.findings.len(), 1);
    let notice = &report.findings[0];
    assert_eq!((notice.severity, &notice.file, notice.offset), (Severity::Notice, &newest, Some(last_start)));
    assert_eq!(report.segments.last().and_then(|s| s.torn_at), Some(last_start));
    assert_eq!(report.log.last_index, Some(110), "the torn write held entries 111..=120");
    assert_eq!(read_back(&inspected, 0).len(), 110);
    assert_eq!(contents(&dir.0), before, "nothing was cut, nothing created");
}

#[test]
fn a_deleted_snapshot_is_damage() {
    let dir = TempDir::new("deleted-snapshot");
    write_compacted_log(&dir.0);
    let inspected = inspect(&dir.0);
    let snapshot = inspected.report.snapshots[0].file.clone();
    fs::remove_file(&snapshot).expect("delete the snapshot");
    let report = inspect(&dir.0).report;
    let found = damage(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("compacted up to index 100"), "{}", found[0].message);
    assert_eq!(found[0].file, dir.0);
}

#[test]
fn a_damaged_snapshot_is_damage_naming_it() {
    let dir = TempDir::new("damaged-snapshot");
    write_compacted_log(&dir.0);
    let snapshot = inspect(&dir.0).report.snapshots[0].file.clone();
    let mut bytes = fs::read(&snapshot).expect("read");
    bytes[30] ^= 1;
    fs::write(&snapshot, &bytes).expect("write");
    let report = inspect(&dir.0).report;
    let found = damage(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, snapshot);
    assert!(found[0].message.contains("checksum"), "{}", found[0].message);
    assert!(!report.snapshots[0].sound);
}

#[test]
fn garbage_in_place_of_flotilla_files_is_damage_and_other_files_are_notices() {
    let dir = TempDir::new("garbage");
    write_compacted_log(&dir.0);
    fs::write(dir.0.join("notes.txt"), b"not flotilla's").expect("write");
    fs::write(dir.0.join("snapshot-00000000000000000050-00000000000000000001.snap.tmp"), b"half").expect("write");
    let report = inspect(&dir.0).report;
    assert!(report.is_sound(), "{:?}", report.findings);
    assert_eq!(report.other_files.len(), 2);
    assert_eq!(report.findings.len(), 2);

    // Random bytes in place of a segment that is not the newest.
    let files = segment_files(&dir.0);
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    fs::write(&files[0], &garbage).expect("write");
    let report = inspect(&dir.0).report;
    let found = damage(&report);
    assert_eq!((&found[0].file, found[0].offset), (&files[0], Some(0)), "{found:?}");
    assert!(found.iter().all(|finding| finding.file == files[0]), "{found:?}");

    // A newer snapshot file that holds garbage: the one the node would load.
    let dir = TempDir::new("garbage-snapshot");
    write_compacted_log(&dir.0);
    let bogus = dir.0.join("snapshot-00000000000000000110-00000000000000000002.snap");
    fs::write(&bogus, &garbage).expect("write");
    let report = inspect(&dir.0).report;
    let found = damage(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, bogus);
    assert_eq!(
        report.snapshots.iter().map(|s| (s.newest, s.sound)).collect::<Vec<_>>(),
        [(false, true), (true, false)]
    );
}

#[test]
fn a_deleted_newest_segment_is_damage_the_manifest_names() {
    let dir = TempDir::new("deleted-segment");
    write_log(&dir.0);
    let newest = segment_files(&dir.0).pop().expect("segments");
    fs::remove_file(&newest).expect("delete");
    let report = inspect(&dir.0).report;
    let found = damage(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, dir.0.join("MANIFEST"));
    assert!(found[0].message.contains("segments were deleted"), "{}", found[0].message);
}

#[test]
fn what_is_not_a_data_directory_is_said_so() {
    let dir = TempDir::new("not-a-data-dir");
    let missing = dir.0.join("missing");
    let file = dir.0.join("file");
    fs::write(&file, b"x").expect("write");
    let empty = dir.0.join("empty");
    fs::create_dir(&empty).expect("mkdir");
    fs::write(empty.join("LOCK"), b"").expect("write");
    for (path, reason) in [(&missing, "no such directory"), (&file, "not a directory"), (&empty, "not a flotilla data")]
    {
        let error = Inspection::start(path).err().expect("refused");
        assert_eq!(&error.dir, path);
        assert!(error.to_string().contains(reason), "{error}");
    }
}

#[test]
fn a_directory_a_node_holds_open_is_inspected_without_its_lock_and_left_as_it_was() {
    let dir = TempDir::new("held");
    let written = write_log(&dir.0);
    let (mut wal, _) = Wal::open(&dir.0, SEGMENT_BYTES).expect("a node holds it");
    let before = contents(&dir.0);
    let inspected = inspect(&dir.0);
    assert!(inspected.report.is_sound(), "{:?}", inspected.report.findings);
    assert_eq!(read_back(&inspected, 0), written);
    assert_eq!(contents(&dir.0), before);
    // The node goes on writing: the inspection did not take its directory.
    wal.append(&[write(None, vec![entry(121, 2)])]).expect("append");
    wal.sync().expect("sync");
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).expect("mkdir");
    for (name, bytes) in contents(from) {
        fs::write(to.join(name), bytes).expect("copy");
    }
}

/// The inspection judges as opening the log does: across byte flips and cuts anywhere in any segment, it finds
/// damage exactly when `Wal::open` (on a copy) refuses the log, names the same place first, and otherwise reads back
/// the entries the log recovers.
#[test]
fn damage_is_found_exactly_where_opening_the_log_refuses_it() {
    let dir = TempDir::new("sweep");
    let copy = TempDir::new("sweep-copy");
    write_log(&dir.0);
    let pristine = contents(&dir.0);
    let files = segment_files(&dir.0);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    let (mut refused, mut opened) = (0, 0);
    for case in 0..120 {
        let target = &files[random(files.len() as u64) as usize];
        let mut bytes = fs::read(target).expect("read");
        let at = random(bytes.len() as u64) as usize;
        if case % 2 == 0 {
            bytes[at] ^= 1 << random(8);
        } else {
            bytes.truncate(at);
        }
        fs::write(target, &bytes).expect("damage");
        copy_dir(&dir.0, &copy.0);
        let inspected = inspect(&dir.0);
        match Wal::open(&copy.0, SEGMENT_BYTES) {
            Ok((_, recovered)) => {
                opened += 1;
                assert!(inspected.report.is_sound(), "case {case}: {:?}", inspected.report.findings);
                assert_eq!(read_back(&inspected, 0), recovered.entries, "case {case}");
                assert_eq!(inspected.report.hard_state, recovered.hard_state, "case {case}");
            }
            Err(error) => {
                refused += 1;
                let found = damage(&inspected.report);
                assert!(!found.is_empty(), "case {case}: opening refused it ({error}), the inspection found nothing");
                let inspected_at = (found[0].file.strip_prefix(&dir.0).ok(), found[0].offset);
                assert_eq!(inspected_at, (error.file.strip_prefix(&copy.0).ok(), error.offset), "case {case}: {error}");
                // The log up to the damage still reads back, in order, as the report describes it.
                let indices: Vec<Index> = read_back(&inspected, 0).iter().map(|entry| entry.index).collect();
                let log = &inspected.report.log;
                let expected: Vec<Index> =
                    log.first_index.map_or(Vec::new(), |first| (first..=log.last_index.unwrap_or(0)).collect());
                assert_eq!(indices, expected, "case {case}");
            }
        }
        for (name, bytes) in &pristine {
            fs::write(dir.0.join(name), bytes).expect("restore");
        }
    }
    assert!(refused > 10 && opened > 10, "both outcomes were seen: {refused} refused, {opened} opened");
}
