//! The MANIFEST file: the sequence number of the newest segment, replaced atomically (temporary file, fsync,
//! rename, directory fsync) each time a segment is created. A newest segment deleted, or one copied in under a
//! newer number, no longer passes for the log's end: recovery compares what it finds with what the manifest says.

use super::error::StorageError;
use super::regular_file;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

const NAME: &str = "MANIFEST";
const PREFIX: &str = "flotilla-wal newest-segment ";

fn path(dir: &Path) -> PathBuf {
    dir.join(NAME)
}

/// The newest segment the manifest names, or `None` when there is no manifest (a log written before it existed).
pub fn read(dir: &Path) -> Result<Option<u64>, StorageError> {
    let path = path(dir);
    let text = match regular_file::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(StorageError::io(&path, error)),
    };
    let sequence = text.strip_prefix(PREFIX).and_then(|rest| rest.strip_suffix('\n')).and_then(|n| n.parse().ok());
    sequence
        .map(Some)
        .ok_or_else(|| StorageError::other(&path, "the manifest cannot be read: it was damaged or edited"))
}

/// Makes `sequence` the newest segment on record, durably.
pub fn write(dir: &Path, sequence: u64) -> Result<(), StorageError> {
    let path = path(dir);
    let temporary = dir.join(format!("{NAME}.tmp"));
    let written = File::create(&temporary).and_then(|mut file| {
        file.write_all(format!("{PREFIX}{sequence}\n").as_bytes())?;
        file.sync_all()
    });
    written.map_err(|e| StorageError::io(&temporary, e))?;
    fs::rename(&temporary, &path).map_err(|e| StorageError::io(&path, e))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StorageError::io(dir, e))
}

/// Checks the segments found against the manifest: the newest one it names must be there, and at most the one
/// after it (a crash between creating a segment and recording it) may be newer.
pub fn check(dir: &Path, recorded: u64, newest_found: Option<u64>) -> Result<(), StorageError> {
    let found = newest_found.unwrap_or(0);
    if found < recorded {
        return Err(StorageError::other(
            &path(dir),
            format!(
                "the newest segment is {recorded}, but the newest one in the directory is {}: segments were deleted \
                 (restoring them, or the whole directory from one backup, is the only safe way on)",
                newest_found.map_or("none".to_string(), |n| n.to_string())
            ),
        ));
    }
    if found > recorded + 1 {
        return Err(StorageError::other(
            &path(dir),
            format!("the newest segment is {recorded}, but segment {found} is in the directory: it was copied in"),
        ));
    }
    Ok(())
}
