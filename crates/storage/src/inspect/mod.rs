//! Reading a data directory for an operator (`flotilla inspect`, `flotilla verify`): what files it holds, the
//! state its log describes, every checksum verified, and what is wrong with it, judged as the node judges it when
//! it opens (the same scan, replay and checks). Read-only: no lock is taken, no torn tail is cut, nothing is
//! created, so it can look at a copy, at a stopped node's directory, or (with a torn tail to be expected) at a
//! running one. The log's entries are read back one segment at a time (`LogEntries`), never all at once.

mod data_dir_files;
mod entries;
mod report;
mod scan;
mod snapshots;
mod term_runs;

pub use data_dir_files::NotADataDir;
pub use entries::LogEntries;
pub use report::{DataDirReport, Finding, LogSummary, SegmentReport, Severity, SnapshotReport};
pub use scan::{InspectedDataDir, Inspection};
