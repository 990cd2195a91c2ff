//! The files of a data directory, sorted by what they are: segments (by sequence), snapshots (oldest first), and
//! the rest. A path that is not a directory, or a directory holding no segment, manifest or snapshot, is not a
//! flotilla data directory, which is an answer of its own (`NotADataDir`), not damage.

use crate::{snapshot_file, wal};
use flotilla_raft::{Index, Term};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Why a path cannot be inspected as a data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotADataDir {
    pub dir: PathBuf,
    pub reason: String,
}

impl fmt::Display for NotADataDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.dir.display(), self.reason)
    }
}

impl std::error::Error for NotADataDir {}

pub(super) struct SegmentFile {
    pub sequence: u64,
    pub path: PathBuf,
    pub bytes: u64,
}

pub(super) struct DataDirFiles {
    pub segments: Vec<SegmentFile>,
    /// (path, index, term) as the file names say.
    pub snapshots: Vec<(PathBuf, Index, Term)>,
    pub has_manifest: bool,
    /// Everything else but the LOCK file (temporary files a crash left, files that are not flotilla's).
    pub others: Vec<PathBuf>,
}

/// The name of the file the manifest is written to before it is renamed into place (see `manifest::write`).
const MANIFEST_TEMPORARY: &str = "MANIFEST.tmp";

impl DataDirFiles {
    pub fn list(dir: &Path) -> Result<DataDirFiles, NotADataDir> {
        let not_a_data_dir = |reason: String| NotADataDir { dir: dir.to_path_buf(), reason };
        let metadata = fs::metadata(dir).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => not_a_data_dir("no such directory".to_string()),
            _ => not_a_data_dir(format!("cannot be read: {error}")),
        })?;
        if !metadata.is_dir() {
            return Err(not_a_data_dir("not a directory".to_string()));
        }
        let listing = fs::read_dir(dir).map_err(|error| not_a_data_dir(format!("cannot be read: {error}")))?;
        let mut files =
            DataDirFiles { segments: Vec::new(), snapshots: Vec::new(), has_manifest: false, others: Vec::new() };
        for entry in listing {
            let entry = entry.map_err(|error| not_a_data_dir(format!("cannot be listed: {error}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if let Some(sequence) = wal::parse_segment_name(&name) {
                let bytes = entry.metadata().map_or(0, |metadata| metadata.len());
                files.segments.push(SegmentFile { sequence, path, bytes });
            } else if name == "MANIFEST" {
                files.has_manifest = true;
            } else if name != "LOCK" && snapshot_file::parse_file_name(&name).is_none() {
                files.others.push(path);
            }
        }
        // The snapshot files as the node lists them, so that "the newest" means the same here.
        files.snapshots = snapshot_file::list(dir).map_err(|error| not_a_data_dir(error.to_string()))?;
        files.segments.sort_by_key(|segment| segment.sequence);
        files.others.sort();
        if files.segments.is_empty() && files.snapshots.is_empty() && !files.has_manifest {
            return Err(not_a_data_dir(
                "not a flotilla data directory: it holds no write-ahead log segment, MANIFEST or snapshot".to_string(),
            ));
        }
        Ok(files)
    }

    /// What to say of a file the node does not use: a temporary file a crash left (the node tidies it up), or a
    /// file that is not flotilla's (the node ignores it).
    pub fn other_file_notice(path: &Path) -> &'static str {
        let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
        if name == MANIFEST_TEMPORARY {
            "an unfinished MANIFEST that a crash left: the node replaces it when it next records its newest segment"
        } else if name.ends_with(".snap.tmp") {
            "an unfinished snapshot that a crash left: the node removes it when it opens"
        } else {
            "not a flotilla file: the node ignores it"
        }
    }

    pub fn bytes_total(&self) -> u64 {
        self.segments.iter().map(|segment| segment.bytes).sum()
    }
}
