//! TEST-ONLY: when the environment variable `FLOTILLA_TEST_FSYNC_LOG` names a file, the log appends a line
//! "<segment path> <length>" to it after each fsync of a segment, before anything it covers is acknowledged. A
//! crash test then simulates a power cut by cutting every segment to its last fsynced length (a file never
//! fsynced: to nothing), which is what a machine keeps when the page cache is lost. Unset (always, outside
//! tests), the variable is read once per opened log and costs nothing more.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

pub const VARIABLE: &str = "FLOTILLA_TEST_FSYNC_LOG";

pub struct FsyncLog {
    file: File,
}

impl FsyncLog {
    /// The log the environment asks for, if any.
    pub fn from_env() -> Option<FsyncLog> {
        let path = std::env::var_os(VARIABLE)?;
        let file = OpenOptions::new().create(true).append(true).open(path).ok()?;
        Some(FsyncLog { file })
    }

    /// Notes that `segment` is durable up to `length` bytes, in one write: a process killed meanwhile leaves
    /// the line whole or missing (a reader ignores a last line without its newline). Best effort: a line that
    /// could not be written makes the test cut more, and then fail loudly if that loses an acknowledged write.
    pub fn synced(&mut self, segment: &Path, length: u64) {
        let line = format!("{} {length}\n", segment.display());
        let _ = self.file.write_all(line.as_bytes());
    }
}
