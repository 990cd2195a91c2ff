//! Damage to the write-ahead log on disk: segment files cut at random offsets, bytes flipped at random, tails
//! overwritten with zeros (what a power loss can leave). Opening a damaged log either fails with an error that
//! names the damaged file and an offset at or before the damage, or returns exactly the state that the records
//! before the damage describe: a prefix of what was written, never other entries, never an entry beyond it.
//! A prefix is only acceptable where a crash could have left the damage: at the tail of the newest segment (for a
//! flipped byte: inside its last record). A log that opened goes on: a new write after it reads back.
//!
//! Histories are seeded: `FLOTILLA_WAL_DAMAGE_SEED=<seed>` replays one history (its failures print the seed),
//! `FLOTILLA_WAL_DAMAGE_HISTORIES=<n>` and `FLOTILLA_WAL_DAMAGE_CASES=<n>` (damages per history and kind) run more.

use flotilla_raft::{Entry, EntryKind, HardState, Index, NodeId, Payload, Term};
use flotilla_storage::{Record, Recovered, StorageError, Wal};
use std::fs;
use std::path::{Path, PathBuf};

/// The smallest segment the log allows: many segments from a short history.
const SEGMENT_BYTES: u64 = 4096;
const DEFAULT_HISTORIES: u64 = 3;
const DEFAULT_CASES: u64 = 150;
/// What a disk writes whole: a power cut keeps or loses each sector of an unsynced write.
const SECTOR: usize = 512;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")))
}

/// The history seeds this run covers.
fn seeds(salt: u64) -> Vec<u64> {
    match env_u64("FLOTILLA_WAL_DAMAGE_SEED") {
        Some(seed) => vec![seed],
        None => (0..env_u64("FLOTILLA_WAL_DAMAGE_HISTORIES").unwrap_or(DEFAULT_HISTORIES))
            .map(|i| salt * 1000 + i)
            .collect(),
    }
}

fn cases() -> u64 {
    env_u64("FLOTILLA_WAL_DAMAGE_CASES").unwrap_or(DEFAULT_CASES)
}

/// splitmix64: small, seeded, good enough to pick offsets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A temporary directory removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("flotilla-wal-damage-{name}-{}", std::process::id()));
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

/// What the log says after some records, computed here independently of the log's own replay.
#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    hard_state: HardState,
    members: Vec<(NodeId, String)>,
    entries: Vec<Entry>,
}

impl State {
    fn apply(&mut self, record: &Record) {
        match record {
            Record::HardState(hard_state) => self.hard_state = *hard_state,
            Record::Members(members) => self.members = members.clone(),
            Record::Write { hard_state, entries, .. } => {
                if let Some(hard_state) = hard_state {
                    self.hard_state = *hard_state;
                }
                if let Some(first) = entries.first() {
                    self.entries.retain(|e| e.index < first.index);
                    self.entries.extend(entries.iter().cloned());
                }
            }
            other => panic!("the histories here write no {other:?}"),
        }
    }

    fn of(recovered: &Recovered) -> State {
        assert_eq!((recovered.compacted_index, recovered.compacted_term), (0, 0), "nothing was compacted");
        State {
            hard_state: recovered.hard_state,
            members: recovered.members.clone(),
            entries: recovered.entries.clone(),
        }
    }
}

/// One frame (header and payload) in a segment file: [start, end).
#[derive(Clone, Copy, Debug)]
struct Frame {
    start: u64,
    end: u64,
}

/// The frames of an undamaged segment, read from the framing alone (length, checksum, payload), up to the
/// zeros the log writes ahead of its records in the newest segment (its unwritten end), if any.
fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() && bytes[at..].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 8 + len;
        assert!(end <= bytes.len(), "the undamaged segment frames cleanly");
        frames.push(Frame { start: at as u64, end: end as u64 });
        at = end;
    }
    frames
}

/// A written history: the directory, each record with the segment (position) and frame it landed in, and the
/// state after each prefix of records (`states[k]`: after the first `k`).
struct History {
    seed: u64,
    _dir: TempDir,
    dir: PathBuf,
    segments: Vec<PathBuf>,
    /// What each segment held when the history was written.
    contents: Vec<Vec<u8>>,
    /// (segment position, frame) of each written record.
    places: Vec<(usize, Frame)>,
    states: Vec<State>,
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

fn entry(rng: &mut Rng, index: Index, term: Term) -> Entry {
    if rng.chance(5) {
        return Entry { term, index, kind: EntryKind::Noop, id: None, data: Payload::from(&b""[..]) };
    }
    // Arbitrary bytes, zeros included: data must not look like framing to the reader.
    let longest = if rng.chance(10) { 900 } else { 120 };
    let len = rng.below(longest) as usize;
    let data: Vec<u8> = (0..len).map(|_| if rng.chance(30) { 0 } else { rng.next() as u8 }).collect();
    let id = format!("n{}_{:x}", rng.below(3), rng.next());
    Entry { term, index, kind: EntryKind::Normal, id: Some(id.into()), data: Payload::from(data) }
}

/// Writes a seeded history of Raft-like persist requests: appends, conflicting suffixes of newer terms, votes,
/// commits and peer changes, in batches that share a sync (as the disk thread's group commit does).
fn write_history(seed: u64, name: &str) -> History {
    let dir = TempDir::new(&format!("{name}-{seed}"));
    let path = dir.0.join("log");
    let mut rng = Rng(seed);
    // Salts from the seed, not at random: a seed replays byte for byte.
    flotilla_storage::seed_salts_for_tests(seed.wrapping_add(1));
    let (mut wal, recovered) = Wal::open(&path, SEGMENT_BYTES).expect("open a new log");
    assert_eq!(recovered, Recovered::default());
    let mut state = State::default();
    let mut states = vec![state.clone()];
    let mut records_in_order: Vec<Vec<Record>> = Vec::new();
    let mut batch_places = Vec::new();
    let mut hard_state = HardState { term: 1, vote: Some(1), commit: 0 };
    let batches = 60 + rng.below(100);
    for batch_number in 0..batches {
        let mut batch = Vec::new();
        if batch_number == 0 {
            batch.push(Record::Members(vec![(1, "n0".into()), (2, "n1".into()), (3, "n2".into())]));
        }
        for _ in 0..1 + rng.below(5) {
            let last = state.entries.last().map_or(0, |e| e.index);
            let roll = rng.below(100);
            let record = if roll < 65 {
                let changed = rng.chance(30);
                if changed {
                    hard_state.commit = (hard_state.commit + rng.below(4)).min(last);
                }
                let count = 1 + rng.below(4);
                let entries = (last + 1..=last + count).map(|i| entry(&mut rng, i, hard_state.term)).collect();
                Record::Write { hard_state: changed.then_some(hard_state), reset: None, entries }
            } else if roll < 77 && last > hard_state.commit {
                // A new leader's entries replace an uncommitted suffix.
                hard_state.term += 1 + rng.below(2);
                hard_state.vote = Some(1 + rng.below(3));
                let first = hard_state.commit + 1 + rng.below(last - hard_state.commit);
                let count = 1 + rng.below(3);
                let entries = (first..first + count).map(|i| entry(&mut rng, i, hard_state.term)).collect();
                Record::Write { hard_state: Some(hard_state), reset: None, entries }
            } else if roll < 90 {
                hard_state.commit = (hard_state.commit + rng.below(6)).min(last);
                if rng.chance(20) {
                    hard_state.term += 1;
                    hard_state.vote = if rng.chance(50) { None } else { Some(1 + rng.below(3)) };
                }
                if rng.chance(50) {
                    Record::HardState(hard_state)
                } else {
                    Record::Write { hard_state: Some(hard_state), reset: None, entries: Vec::new() }
                }
            } else {
                let count = 1 + rng.below(3) as usize;
                Record::Members(
                    ["n0", "n1", "n2", "n3"].iter().zip(1..).take(count).map(|(s, id)| (id, s.to_string())).collect(),
                )
            };
            state.apply(&record);
            batch.push(record);
        }
        wal.append(&batch).expect("append");
        wal.sync().expect("sync");
        // The batch is the last frame of the newest segment, all of its records in that one frame (a full segment
        // rolls before a batch, never inside).
        let segments = segment_files(&path);
        let newest = fs::read(segments.last().expect("a segment")).expect("read segment");
        let placed = *frames(&newest).last().expect("the batch's frame");
        batch_places.push((segments.len() - 1, vec![placed; batch.len()]));
        for record in &batch {
            let mut next = states.last().expect("a state").clone();
            next.apply(record);
            states.push(next);
        }
        records_in_order.push(batch);
    }
    drop(wal);
    let segments = segment_files(&path);
    assert!(segments.len() >= 4, "seed {seed}: {} segments, want several", segments.len());
    let places = batch_places
        .into_iter()
        .flat_map(|(segment, frames)| frames.into_iter().map(move |frame| (segment, frame)))
        .collect::<Vec<_>>();
    assert_eq!(places.len() + 1, states.len());
    let contents = segments.iter().map(|segment| fs::read(segment).expect("read segment")).collect();
    History { seed, _dir: dir, dir: path, segments, contents, places, states }
}

impl History {
    /// How many records lie wholly before byte `offset` of segment `segment`.
    fn records_before(&self, segment: usize, offset: u64) -> usize {
        self.places.iter().take_while(|(s, frame)| *s < segment || (*s == segment && frame.end <= offset)).count()
    }

    /// A copy of the log to damage in `case_dir`. The copy of the previous case is reused: files a case changed
    /// are written again, files it added are removed.
    fn copy_to(&self, case_dir: &Path) -> Vec<PathBuf> {
        fs::create_dir_all(case_dir).expect("case dir");
        let targets: Vec<PathBuf> =
            self.segments.iter().map(|source| case_dir.join(source.file_name().expect("file name"))).collect();
        for extra in segment_files(case_dir).into_iter().filter(|path| !targets.contains(path)) {
            fs::remove_file(extra).expect("remove a segment of the previous case");
        }
        for (original, target) in self.contents.iter().zip(&targets) {
            if fs::read(target).ok().as_ref() != Some(original) {
                fs::write(target, original).expect("copy segment");
            }
        }
        // The manifest as the history left it (a previous case that rolled a segment recorded a newer one).
        fs::copy(self.dir.join("MANIFEST"), case_dir.join("MANIFEST")).expect("copy the manifest");
        targets
    }
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The file ends at this offset.
    Cut(u64),
    /// The byte at this offset is XORed with a non-zero mask.
    Flip(u64, u8),
    /// Every byte from this offset on is zero (the file keeps its length).
    ZeroTail(u64),
    /// The bytes from this offset on, this many (up to the file's end), are XORed with a non-zero mask.
    FlipRun(u64, u64),
    /// The bytes from this offset to the end of its 512-byte sector read as zeros: a power cut lost the sector's
    /// write (and kept others); what the sector held before it, the bytes before the offset, stays.
    LostSector(u64),
}

/// What opening the damaged log may do.
enum Allowed {
    /// Must open with the state after this many records; a torn tail is reported at this offset (or none).
    Prefix { records: usize, torn_at: Option<u64> },
    /// Must fail, naming the file and an offset at or before the damage.
    Refuse,
    /// A prefix of this many records, or a refusal.
    PrefixOrRefuse { records: usize },
}

fn apply_damage(path: &Path, damage: Damage) -> Option<u64> {
    let mut bytes = fs::read(path).expect("read segment");
    let changed_at = match damage {
        Damage::Cut(offset) => {
            bytes.truncate(offset as usize);
            Some(offset)
        }
        Damage::Flip(offset, mask) => {
            bytes[offset as usize] ^= mask;
            Some(offset)
        }
        Damage::LostSector(offset) => {
            let end = ((offset as usize / SECTOR + 1) * SECTOR).min(bytes.len());
            let first_non_zero = bytes[offset as usize..end].iter().position(|&b| b != 0);
            bytes[offset as usize..end].fill(0);
            first_non_zero.map(|at| offset + at as u64)
        }
        Damage::FlipRun(offset, len) => {
            let end = (offset + len).min(bytes.len() as u64) as usize;
            bytes[offset as usize..end].iter_mut().for_each(|byte| *byte ^= 0xa5);
            Some(offset)
        }
        Damage::ZeroTail(offset) => {
            let first_non_zero = bytes[offset as usize..].iter().position(|&b| b != 0);
            bytes[offset as usize..].fill(0);
            first_non_zero.map(|at| offset + at as u64)
        }
    };
    fs::write(path, &bytes).expect("write damaged segment");
    changed_at
}

fn describe(history: &History, segment: usize, damage: Damage) -> String {
    let name = history.segments[segment].file_name().unwrap().to_string_lossy().to_string();
    format!(
        "seed {} (replay: FLOTILLA_WAL_DAMAGE_SEED={} cargo test --release -p flotilla-storage --test wal_damage), {:?} in {} (segment {} of {})",
        history.seed,
        history.seed,
        damage,
        name,
        segment + 1,
        history.segments.len()
    )
}

/// Damages a copy of `history` and checks what opening it does. Returns whether the log opened.
fn check_damage(history: &History, case_dir: &Path, segment: usize, damage: Damage) -> bool {
    let files = history.copy_to(case_dir);
    let target = &files[segment];
    let original = fs::read(target).expect("read segment");
    let frames = frames(&original);
    let is_newest = segment + 1 == files.len();
    let what = describe(history, segment, damage);
    let allowed = match apply_damage(target, damage) {
        None => Allowed::Prefix { records: history.places.len(), torn_at: None },
        Some(at) => {
            let records_end = frames.last().map_or(0, |f| f.end);
            let frame_start = frames.iter().find(|f| f.end > at).map_or(records_end, |f| f.start);
            match damage {
                // The manifest (which names the newest segment here) names a segment only once its opening frame
                // is durable: a crash cannot leave that frame damaged.
                Damage::Cut(_) | Damage::ZeroTail(_) if is_newest && at < frames[0].end => Allowed::Refuse,
                Damage::Cut(_) | Damage::ZeroTail(_) if is_newest => {
                    // Nothing but zeros left from a record's start on (a cut at a record boundary, or in the
                    // unwritten end): the segment's unwritten end, where the records left are all there is.
                    let clean_cut = original[frame_start as usize..at as usize].iter().all(|&b| b == 0);
                    let torn_at = (!clean_cut).then_some(frame_start);
                    Allowed::Prefix { records: history.records_before(segment, at), torn_at }
                }
                // Made only inside the newest segment's last write: a crash can leave that, and the log must open.
                Damage::LostSector(_) => {
                    // Nothing left of the write (all its bytes were in the lost sector): the segment just ends.
                    let damaged = fs::read(target).expect("read damaged segment");
                    let gone = damaged[frame_start as usize..].iter().all(|&b| b == 0);
                    let torn_at = (!gone).then_some(frame_start);
                    Allowed::Prefix { records: history.records_before(segment, frame_start), torn_at }
                }
                Damage::Flip(..) | Damage::FlipRun(..) if is_newest && at >= frames.last().expect("frames").start => {
                    Allowed::PrefixOrRefuse { records: history.records_before(segment, frame_start) }
                }
                _ => Allowed::Refuse,
            }
        }
    };
    let damage_at = match damage {
        Damage::Cut(at)
        | Damage::Flip(at, _)
        | Damage::ZeroTail(at)
        | Damage::FlipRun(at, _)
        | Damage::LostSector(at) => at,
    };
    let check_refusal = |error: &StorageError| {
        assert_eq!(&error.file, target, "{what}: the error names the damaged file: {error}");
        let offset = error.offset.unwrap_or_else(|| panic!("{what}: the error names an offset: {error}"));
        assert!(offset <= damage_at.max(original.len() as u64), "{what}: offset {offset} is past the damage: {error}");
        let text = error.to_string();
        assert!(
            text.contains(&target.display().to_string()) && text.contains(&format!("at offset {offset}")),
            "{what}: {text}"
        );
    };
    match (Wal::open(case_dir, SEGMENT_BYTES), allowed) {
        (Err(error), Allowed::Refuse | Allowed::PrefixOrRefuse { .. }) => {
            check_refusal(&error);
            false
        }
        (Err(error), Allowed::Prefix { records, .. }) => {
            panic!("{what}: refused ({error}) but a crash can leave this damage: want the first {records} records")
        }
        (Ok((_, recovered)), Allowed::Refuse) => panic!(
            "{what}: opened with {} entries (last {:?}), but the damage is not at the tail: it must be refused",
            recovered.entries.len(),
            recovered.entries.last().map(|e| (e.index, e.term))
        ),
        (Ok((wal, recovered)), Allowed::Prefix { records, torn_at }) => {
            assert_state(history, &what, &recovered, records);
            let reported = recovered.torn_tail.as_ref().map(|(file, offset)| {
                assert_eq!(file, target, "{what}: the torn tail names the damaged file");
                *offset
            });
            assert_eq!(reported, torn_at, "{what}: where the torn tail was cut");
            goes_on(history, &what, case_dir, wal, records);
            true
        }
        (Ok((wal, recovered)), Allowed::PrefixOrRefuse { records }) => {
            assert_state(history, &what, &recovered, records);
            goes_on(history, &what, case_dir, wal, records);
            true
        }
    }
}

fn assert_state(history: &History, what: &str, recovered: &Recovered, records: usize) {
    let got = State::of(recovered);
    let want = &history.states[records];
    if &got != want {
        let written = history.states.last().expect("states");
        let longest = history.states.iter().rposition(|s| s == &got);
        panic!(
            "{what}: opened with a log that is not the first {records} records: {} entries (last {:?}), hard state \
             {:?}; want {} entries (last {:?}), hard state {:?}; it equals the state after {longest:?} records; \
             {} entries were written",
            got.entries.len(),
            got.entries.last().map(|e| (e.index, e.term)),
            got.hard_state,
            want.entries.len(),
            want.entries.last().map(|e| (e.index, e.term)),
            want.hard_state,
            written.entries.len()
        );
    }
}

/// A log that opened after damage takes new writes, and they read back after the recovered prefix.
fn goes_on(history: &History, what: &str, dir: &Path, mut wal: Wal, records: usize) {
    let mut want = history.states[records].clone();
    let next = want.entries.last().map_or(1, |e| e.index + 1);
    let term = want.hard_state.term + 1;
    let hard_state = HardState { term, vote: Some(1), commit: want.hard_state.commit };
    let mut rng = Rng(history.seed ^ records as u64);
    let written = vec![
        Record::Write {
            hard_state: Some(hard_state),
            reset: None,
            entries: (next..next + 3).map(|i| entry(&mut rng, i, term)).collect(),
        },
        Record::Members(vec![(1, "n0".into()), (2, "n1".into()), (3, "n2".into())]),
    ];
    for record in &written {
        want.apply(record);
    }
    wal.append(&written).expect("append after recovery");
    wal.sync().expect("sync after recovery");
    drop(wal);
    let (_, recovered) =
        Wal::open(dir, SEGMENT_BYTES).unwrap_or_else(|e| panic!("{what}: reopening after recovery: {e}"));
    assert_eq!(recovered.torn_tail, None, "{what}: the torn tail was cut for good");
    assert_eq!(State::of(&recovered), want, "{what}: the write after recovery reads back after the prefix");
}

/// Runs `cases()` damages of the kind `make` picks on each seeded history.
fn damage_many(name: &str, salt: u64, make: impl Fn(&mut Rng, &History, usize, u64) -> Damage) -> (u64, u64) {
    let (mut opened, mut refused) = (0, 0);
    for seed in seeds(salt) {
        let history = write_history(seed, name);
        let case_dir = history.dir.with_file_name("case");
        let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(salt));
        for _ in 0..cases() {
            // The newest segment is where a crash leaves damage: pick it as often as all others together.
            let segment = if rng.chance(50) {
                history.segments.len() - 1
            } else {
                rng.below(history.segments.len() as u64) as usize
            };
            let len = fs::metadata(&history.segments[segment]).expect("segment").len();
            let damage = make(&mut rng, &history, segment, len);
            if check_damage(&history, &case_dir, segment, damage) {
                opened += 1;
            } else {
                refused += 1;
            }
        }
    }
    eprintln!("{name}: {opened} damaged logs opened with the prefix before the damage, {refused} refused");
    (opened, refused)
}

#[test]
fn a_segment_cut_anywhere_keeps_the_prefix_before_the_cut_or_is_refused() {
    let (opened, refused) = damage_many("cut", 1, |rng, history, segment, len| {
        // Cuts at frame boundaries are the hard case (every remaining record is whole): one in four.
        let bytes = fs::read(&history.segments[segment]).expect("segment");
        let boundaries = frames(&bytes);
        if rng.chance(25) {
            Damage::Cut(boundaries[rng.below(boundaries.len() as u64) as usize].start)
        } else {
            Damage::Cut(rng.below(len))
        }
    });
    assert!(opened > 0 && refused > 0, "both outcomes happen: {opened} opened, {refused} refused");
}

#[test]
fn a_flipped_byte_is_refused_unless_it_is_in_the_last_record_of_the_newest_segment() {
    let (opened, refused) = damage_many("flip", 2, |rng, history, segment, len| {
        let bytes = fs::read(&history.segments[segment]).expect("segment");
        let last = frames(&bytes).last().expect("frames").start;
        // Headers (length and checksum) decide how the rest is read: flip there often, and in the last record.
        let offset = match rng.below(4) {
            0 => {
                let frames = frames(&bytes);
                frames[rng.below(frames.len() as u64) as usize].start + rng.below(8)
            }
            1 => last + rng.below(len - last),
            _ => rng.below(len),
        };
        Damage::Flip(offset, 1 + rng.below(255) as u8)
    });
    assert!(opened > 0 && refused > 0, "both outcomes happen: {opened} opened, {refused} refused");
}

#[test]
fn a_run_of_damaged_bytes_is_refused_unless_it_is_in_the_last_record_of_the_newest_segment() {
    let (opened, refused) = damage_many("run", 4, |rng, history, segment, len| {
        let bytes = fs::read(&history.segments[segment]).expect("segment");
        let frames = frames(&bytes);
        // Often over a frame's header, or the first frame (the segment's opening one, which names its salt).
        let offset = match rng.below(4) {
            0 => frames[rng.below(frames.len() as u64) as usize].start + rng.below(8),
            1 => rng.below(frames[0].end),
            _ => rng.below(len),
        };
        Damage::FlipRun(offset, 2 + rng.below(15))
    });
    assert!(opened > 0 && refused > 0, "both outcomes happen: {opened} opened, {refused} refused");
}

#[test]
fn a_lost_sector_of_the_newest_segments_last_write_is_a_torn_write_and_the_log_opens() {
    let (opened, refused) = damage_many("sector", 5, |rng, history, segment, len| {
        // Only the newest segment's last write (not its opening frame, which the log syncs alone), one of the
        // sectors it wrote: what a power cut during that write can leave. Elsewhere, nothing (no bytes zeroed).
        let bytes = fs::read(&history.segments[segment]).expect("segment");
        let frames = frames(&bytes);
        let last = frames.last().expect("frames");
        if segment + 1 < history.segments.len() || frames.len() < 2 {
            return Damage::ZeroTail(len);
        }
        // The sector the write starts in often (where its header is), any of its sectors otherwise.
        let (first, end) = (last.start / SECTOR as u64, (last.end - 1) / SECTOR as u64 + 1);
        let sector = if rng.chance(50) { first } else { first + rng.below(end - first) };
        Damage::LostSector((sector * SECTOR as u64).max(last.start))
    });
    assert!(opened > 0 && refused == 0, "{opened} opened, {refused} refused");
}

#[test]
fn a_zeroed_tail_keeps_the_prefix_before_it_in_the_newest_segment_and_is_refused_elsewhere() {
    let (opened, refused) = damage_many("zero", 3, |rng, history, segment, len| {
        let bytes = fs::read(&history.segments[segment]).expect("segment");
        let boundaries = frames(&bytes);
        if rng.chance(25) {
            Damage::ZeroTail(boundaries[rng.below(boundaries.len() as u64) as usize].start)
        } else {
            Damage::ZeroTail(rng.below(len))
        }
    });
    assert!(opened > 0 && refused > 0, "both outcomes happen: {opened} opened, {refused} refused");
}

// ---- the cases the random ones found, pinned ----

/// The history of seed 0, its newest segment's frames, and a case directory.
fn pinned(name: &str) -> (History, PathBuf) {
    let history = write_history(0, name);
    let case_dir = history.dir.with_file_name("case");
    (history, case_dir)
}

#[test]
fn an_older_segment_cut_at_a_record_boundary_is_refused() {
    let (history, case_dir) = pinned("boundary");
    for segment in 0..history.segments.len() - 1 {
        let bytes = fs::read(&history.segments[segment]).expect("segment");
        for frame in frames(&bytes) {
            assert!(!check_damage(&history, &case_dir, segment, Damage::Cut(frame.start)));
        }
    }
}

#[test]
fn a_damaged_length_before_the_last_record_of_the_newest_segment_is_refused() {
    let (history, case_dir) = pinned("length");
    let newest = history.segments.len() - 1;
    let bytes = fs::read(&history.segments[newest]).expect("segment");
    let frames = frames(&bytes);
    assert!(frames.len() >= 2);
    for frame in &frames[..frames.len() - 1] {
        // The top byte of the length: the record seems to run past the end of the file, like a torn write.
        assert!(!check_damage(&history, &case_dir, newest, Damage::Flip(frame.start + 3, 0x10)));
        // A zero length.
        let len = u32::from_le_bytes(bytes[frame.start as usize..frame.start as usize + 4].try_into().unwrap());
        for (byte, value) in len.to_le_bytes().iter().enumerate() {
            if *value != 0 {
                assert!(!check_damage(&history, &case_dir, newest, Damage::Flip(frame.start + byte as u64, *value)));
                break;
            }
        }
    }
}
