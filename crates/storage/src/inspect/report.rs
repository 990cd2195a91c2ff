//! What an inspection found in a data directory: its files, the state its log describes, and its findings, each
//! either damage (the node would refuse to open the directory, or could not trust it) or a notice (something an
//! operator may want to know that the node handles by itself, such as a torn write it cuts off).

use crate::StorageError;
use flotilla_raft::{HardState, Index, NodeId, Term};
use std::path::PathBuf;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The directory is not sound: the node refuses it, or would start from state it cannot trust.
    Damage,
    /// Worth knowing, and handled by the node (a torn tail cut off, a leftover temporary file removed, ...).
    Notice,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub file: PathBuf,
    /// The byte offset in `file` where it was found, when it is at one place.
    pub offset: Option<u64>,
    pub message: String,
}

impl Finding {
    pub(super) fn damage(error: StorageError) -> Finding {
        Finding { severity: Severity::Damage, file: error.file, offset: error.offset, message: error.message }
    }

    pub(super) fn notice(file: PathBuf, offset: Option<u64>, message: impl Into<String>) -> Finding {
        Finding { severity: Severity::Notice, file, offset, message: message.into() }
    }
}

/// One segment file of the write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentReport {
    pub file: PathBuf,
    pub sequence: u64,
    /// The file's length.
    pub bytes: u64,
    /// What was written to it: its records, and a torn write's bytes if there is one. The newest segment's file is
    /// longer: zeros ahead of its records (see `Wal`), which count in `bytes` but not here.
    pub written_bytes: u64,
    /// Records read whole with a matching checksum, up to the damage if there is any (a record written as a group
    /// of parts counts once, each of its parts checked; each record of a batch counts, under the batch's one).
    pub records: u64,
    /// Entries written into this segment, including those a later record replaced.
    pub entries: u64,
    /// The lowest and highest index of the entries written into it (None when it holds no entries).
    pub index_range: Option<(Index, Index)>,
    /// Where a torn write at its end starts (the newest segment only).
    pub torn_at: Option<u64>,
    /// Whether reading it stopped at damage.
    pub damaged: bool,
}

/// One snapshot file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotReport {
    pub file: PathBuf,
    /// The index and term its file name gives (its contents say the same when it is sound).
    pub index: Index,
    pub term: Term,
    pub bytes: u64,
    /// The voters its membership holds (node ids); empty when it could not be read.
    pub voters: Vec<NodeId>,
    /// Whether its checksum matched and its contents read back.
    pub sound: bool,
    /// Whether it is the one the node loads (the newest).
    pub newest: bool,
}

/// The log the node would start from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogSummary {
    /// The index and term the newest compaction covers: the log starts after them.
    pub compacted_index: Index,
    pub compacted_term: Term,
    /// The first and last entry kept, with the last one's term (None when no entry is kept).
    pub first_index: Option<Index>,
    pub last_index: Option<Index>,
    pub last_term: Option<Term>,
    pub entries: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DataDirReport {
    pub dir: PathBuf,
    /// The newest segment the MANIFEST names (None when there is no manifest, or it cannot be read).
    pub manifest_newest_segment: Option<u64>,
    pub segments: Vec<SegmentReport>,
    pub snapshots: Vec<SnapshotReport>,
    pub hard_state: HardState,
    /// The members the log names, with their node ids.
    pub members: Vec<(NodeId, String)>,
    pub log: LogSummary,
    /// Files the node does not use (its LOCK file is not among them).
    pub other_files: Vec<PathBuf>,
    pub findings: Vec<Finding>,
}

impl DataDirReport {
    /// Sound: nothing found that the node would refuse or could not trust.
    pub fn is_sound(&self) -> bool {
        self.findings.iter().all(|finding| finding.severity != Severity::Damage)
    }

    /// Records and snapshot files whose checksums were verified.
    pub fn checksums_verified(&self) -> u64 {
        self.segments.iter().map(|segment| segment.records).sum::<u64>()
            + self.snapshots.iter().filter(|snapshot| snapshot.sound).count() as u64
    }
}
