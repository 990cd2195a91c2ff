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

    /// Notes that `segment` is durable up to `length` bytes. Best effort: a test that finds a line missing
    /// cuts more, and then fails loudly if that loses an acknowledged write.
    pub fn synced(&mut self, segment: &Path, length: u64) {
        let _ = writeln!(self.file, "{} {length}", segment.display());
    }
}
