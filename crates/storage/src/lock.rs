//! Exclusive use of a data directory. Two writers on one log interleave their records, so the exclusion must not
//! depend on a file anyone can delete: the directory itself is locked (and the `LOCK` file inside it too, which
//! older releases lock), and the directory at the path is checked to still be the one locked before new files go in.

use super::error::StorageError;
use super::regular_file;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

/// Both locks, held while the log is open; the kernel releases them when the process dies.
pub struct DirLock {
    dir: PathBuf,
    _lock_file: File,
    locked_dir: File,
}

const IN_USE: &str = "the data directory is in use: another node (in this process or another one) has it open";

fn try_lock(file: &File, path: &Path) -> Result<(), StorageError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(fs::TryLockError::WouldBlock) => Err(StorageError::other(path, IN_USE)),
        Err(fs::TryLockError::Error(error)) => Err(StorageError::io(path, error)),
    }
}

impl DirLock {
    /// Takes `dir` for this process, or says who has it.
    pub fn take(dir: &Path) -> Result<DirLock, StorageError> {
        let path = dir.join("LOCK");
        if let Err(error) = regular_file::check_regular(&path) {
            if error.kind() != std::io::ErrorKind::NotFound {
                return Err(StorageError::io(&path, error));
            }
        }
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        try_lock(&lock_file, &path)?;
        // Held by a node whose LOCK file was deleted (and made again by us): the directory lock still tells.
        let locked_dir = File::open(dir).map_err(|e| StorageError::io(dir, e))?;
        try_lock(&locked_dir, dir)?;
        Ok(DirLock { dir: dir.to_path_buf(), _lock_file: lock_file, locked_dir })
    }

    /// Fails unless the directory at the path is still the one locked (not moved away, nor replaced): files
    /// created at the path would otherwise go where another node may be writing.
    pub fn check(&self) -> Result<(), StorageError> {
        let held = self.locked_dir.metadata().map_err(|e| StorageError::io(&self.dir, e))?;
        let at_path = fs::metadata(&self.dir).map_err(|e| StorageError::io(&self.dir, e))?;
        if identity(&held) != identity(&at_path) {
            return Err(StorageError::other(
                &self.dir,
                "the data directory was moved or replaced while the node had it open: the node stops writing",
            ));
        }
        Ok(())
    }
}

#[cfg(unix)]
fn identity(metadata: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_metadata: &fs::Metadata) -> Option<(u64, u64)> {
    None
}
