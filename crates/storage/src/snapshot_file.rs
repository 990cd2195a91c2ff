//! Snapshot files: the application's state at a log index, with the index, term and membership it covers.
//! Written to a temporary file, fsynced, renamed into place and the directory fsynced, so a crash leaves either
//! the old snapshot or the new one, never half of one; a checksum covers the whole file.

use super::crash_point;
use super::error::StorageError;
use super::regular_file;
use flotilla_raft::{stream_len, write_stream, Index, Membership, NodeId, Payload, Snapshot, Term};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"FLOTSNAP";
/// Version 2: member ids are node ids (the same on every node). Version 1 files, of releases whose ids were
/// local slots, are read (`StoredSnapshot::slot_ids`) so that the node layer can migrate them.
const VERSION: u32 = 2;
const SLOT_IDS_VERSION: u32 = 1;

/// A snapshot as stored: what it covers and the application's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSnapshot {
    pub index: Index,
    pub term: Term,
    pub membership: Membership,
    pub data: Payload,
    /// Written by a release whose member ids were local slots: `membership` holds slots (see `Record::SlotPeers`).
    pub slot_ids: bool,
}

fn file_name(index: Index, term: Term) -> String {
    format!("snapshot-{index:020}-{term:020}.snap")
}

pub(crate) fn parse_file_name(name: &str) -> Option<(Index, Term)> {
    let rest = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    let (index, term) = rest.split_once('-')?;
    Some((index.parse().ok()?, term.parse().ok()?))
}

fn put_set(out: &mut Vec<u8>, set: &BTreeSet<NodeId>) {
    out.extend_from_slice(&(set.len() as u32).to_le_bytes());
    for id in set {
        out.extend_from_slice(&id.to_le_bytes());
    }
}

/// What precedes the data in the file.
fn header(index: Index, term: Term, membership: &Membership, data_len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&term.to_le_bytes());
    put_set(&mut out, &membership.voters);
    put_set(&mut out, &membership.outgoing);
    put_set(&mut out, &membership.learners);
    out.extend_from_slice(&data_len.to_le_bytes());
    out
}

pub fn decode(bytes: &[u8]) -> Result<StoredSnapshot, String> {
    if bytes.len() < MAGIC.len() + 4 + 4 {
        return Err("the file is too short to be a snapshot".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err("the snapshot fails its checksum".into());
    }
    let mut at = 0usize;
    let mut take = |len: usize| -> Result<&[u8], String> {
        let end = at.checked_add(len).filter(|&end| end <= body.len()).ok_or("the snapshot is cut short")?;
        let slice = &body[at..end];
        at = end;
        Ok(slice)
    };
    if take(8)? != MAGIC {
        return Err("not a flotilla snapshot".into());
    }
    let u32_of = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let u64_of = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let version = u32_of(take(4)?);
    if version != VERSION && version != SLOT_IDS_VERSION {
        return Err(format!("unknown snapshot version {version}"));
    }
    let index = u64_of(take(8)?);
    let term = u64_of(take(8)?);
    let mut sets = Vec::new();
    for _ in 0..3 {
        let count = u32_of(take(4)?) as usize;
        let ids = take(count.checked_mul(8).ok_or("the member count is impossible")?)?;
        sets.push(ids.chunks_exact(8).map(u64_of).collect::<BTreeSet<NodeId>>());
    }
    let data_len = usize::try_from(u64_of(take(8)?)).map_err(|_| "the data length is impossible")?;
    let data = Payload::from(take(data_len)?);
    let learners = sets.pop().unwrap_or_default();
    let outgoing = sets.pop().unwrap_or_default();
    let voters = sets.pop().unwrap_or_default();
    let membership = Membership { voters, outgoing, learners };
    Ok(StoredSnapshot { index, term, membership, data, slot_ids: version == SLOT_IDS_VERSION })
}

/// A file that keeps the checksum of what was written to it.
struct Checksummed {
    file: File,
    crc: u32,
    bytes: u64,
}

impl Write for Checksummed {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.crc = crc32c::crc32c_append(self.crc, &bytes[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StorageError::io(dir, e))
}

/// Writes a snapshot of the core durably into `dir` and removes older snapshot files. Its data is its stream
/// (`encode_stream`), written straight into the file, never whole in memory (its proposal ids alone may take
/// megabytes).
pub fn save_core(dir: &Path, snapshot: &Snapshot) -> Result<PathBuf, StorageError> {
    let meta = &snapshot.meta;
    save_with(dir, meta.index, meta.term, &meta.membership, stream_len(snapshot), |out| write_stream(snapshot, out))
}

/// Writes the file (a header, the data, then a checksum of both), its data by `write_data` (exactly `data_len` bytes), then syncs it into
/// place and removes older snapshot files.
fn save_with(
    dir: &Path,
    index: Index,
    term: Term,
    membership: &Membership,
    data_len: u64,
    write_data: impl FnOnce(&mut BufWriter<Checksummed>) -> io::Result<()>,
) -> Result<PathBuf, StorageError> {
    let path = dir.join(file_name(index, term));
    let temporary = dir.join(format!("{}.tmp", file_name(index, term)));
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&temporary)
        .map_err(|e| StorageError::io(&temporary, e))?;
    crash_point::step(&temporary)?;
    let header = header(index, term, membership, data_len);
    let mut out = BufWriter::with_capacity(1 << 16, Checksummed { file, crc: 0, bytes: 0 });
    let written = out
        .write_all(&header)
        .and_then(|_| write_data(&mut out))
        .and_then(|_| out.into_inner().map_err(|e| e.into_error()))
        .and_then(|Checksummed { mut file, crc, bytes }| {
            if bytes != header.len() as u64 + data_len {
                return Err(io::Error::other(format!("{bytes} bytes written for a snapshot of {data_len}")));
            }
            file.write_all(&crc.to_le_bytes())?;
            crash_point::step(&temporary).map_err(io::Error::other)?;
            file.sync_all()
        });
    written.map_err(|e| StorageError::io(&temporary, e))?;
    crash_point::step(&temporary)?;
    fs::rename(&temporary, &path).map_err(|e| StorageError::io(&path, e))?;
    crash_point::step(&path)?;
    sync_dir(dir)?;
    crash_point::step(dir)?;
    for (older, _, _) in list(dir)? {
        if older != path {
            fs::remove_file(&older).map_err(|e| StorageError::io(&older, e))?;
            crash_point::step(&older)?;
        }
    }
    sync_dir(dir)?;
    Ok(path)
}

/// The snapshot files in `dir` (by their names), oldest first.
pub(crate) fn list(dir: &Path) -> Result<Vec<(PathBuf, Index, Term)>, StorageError> {
    let mut found: Vec<(PathBuf, Index, Term)> = fs::read_dir(dir)
        .map_err(|e| StorageError::io(dir, e))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let (index, term) = parse_file_name(&entry.file_name().to_string_lossy())?;
            Some((entry.path(), index, term))
        })
        .collect();
    found.sort_by_key(|(_, index, term)| (*index, *term));
    Ok(found)
}

/// The newest snapshot in `dir`, if any. A damaged snapshot file is an error naming it: the log entries it
/// covered may already be gone, so falling back to an older one could lose acknowledged data.
pub fn load_latest(dir: &Path) -> Result<Option<StoredSnapshot>, StorageError> {
    // Leftover temporary files are incomplete writes that never became the snapshot: remove them.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            if entry.file_name().to_string_lossy().ends_with(".snap.tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let Some((path, index, term)) = list(dir)?.pop() else { return Ok(None) };
    let bytes = regular_file::read(&path).map_err(|e| StorageError::io(&path, e))?;
    let snapshot = decode(&bytes).map_err(|why| StorageError::other(&path, why))?;
    if (snapshot.index, snapshot.term) != (index, term) {
        return Err(StorageError::other(&path, "the snapshot's contents do not match its file name"));
    }
    Ok(Some(snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's bytes: a header, the data, then a checksum of both (what `save_with` writes in parts).
    fn encode(snapshot: &StoredSnapshot) -> Vec<u8> {
        let mut out = header(snapshot.index, snapshot.term, &snapshot.membership, snapshot.data.len() as u64);
        out.extend_from_slice(&snapshot.data);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn save(dir: &Path, snapshot: &StoredSnapshot) -> Result<PathBuf, StorageError> {
        let StoredSnapshot { index, term, membership, data, .. } = snapshot;
        save_with(dir, *index, *term, membership, data.len() as u64, |out| out.write_all(data))
    }

    fn sample(index: Index) -> StoredSnapshot {
        StoredSnapshot {
            index,
            term: 3,
            membership: Membership::with_voters([1, 2, 3]),
            data: Payload::from(&b"{\"state\":[1,2,3]}"[..]),
            slot_ids: false,
        }
    }

    #[test]
    fn the_newest_snapshot_survives_and_older_ones_go() {
        let dir = std::env::temp_dir().join(format!("flotilla-snap-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(load_latest(&dir).unwrap(), None);
        save(&dir, &sample(10)).unwrap();
        let saved = save(&dir, &sample(20)).unwrap();
        assert_eq!(fs::read(saved).unwrap(), encode(&sample(20)), "written in parts, the same bytes");
        fs::write(dir.join("snapshot-00000000000000000030-00000000000000000003.snap.tmp"), b"half").unwrap();
        assert_eq!(load_latest(&dir).unwrap(), Some(sample(20)));
        assert_eq!(list(&dir).unwrap().len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_core_snapshot_is_saved_as_its_stream() {
        use flotilla_raft::{decode_stream, encode_stream, SnapshotMeta};
        let dir = std::env::temp_dir().join(format!("flotilla-snap-core-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let meta = SnapshotMeta { index: 70_000, term: 4, membership: Membership::with_voters([1, 2]) };
        let proposal_ids = (1..=70_000u64).map(|i| (i, format!("node_{i:036}"))).collect();
        let snapshot =
            Snapshot { meta: meta.clone(), data: Payload::from(&b"state"[..]), proposal_ids, ..Snapshot::default() };
        let saved = save_core(&dir, &snapshot).unwrap();
        let as_bytes = StoredSnapshot {
            index: 70_000,
            term: 4,
            membership: meta.membership.clone(),
            data: encode_stream(&snapshot),
            slot_ids: false,
        };
        assert_eq!(fs::read(saved).unwrap(), encode(&as_bytes));
        let loaded = load_latest(&dir).unwrap().unwrap();
        assert_eq!(decode_stream(meta, &loaded.data), Some(snapshot));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_version_1_file_is_read_as_holding_slot_ids() {
        let mut bytes = encode(&sample(5));
        bytes[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&SLOT_IDS_VERSION.to_le_bytes());
        let body = bytes.len() - 4;
        let crc = crc32c::crc32c(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&bytes), Ok(StoredSnapshot { slot_ids: true, ..sample(5) }));
        bytes[MAGIC.len()] = 3;
        let body_crc = crc32c::crc32c(&bytes[..body]);
        bytes[body..].copy_from_slice(&body_crc.to_le_bytes());
        assert_eq!(decode(&bytes), Err("unknown snapshot version 3".to_string()));
    }

    #[test]
    fn any_damage_is_detected() {
        let bytes = encode(&sample(5));
        assert_eq!(decode(&bytes), Ok(sample(5)));
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(decode(&damaged).is_err(), "flip at {at}");
        }
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
