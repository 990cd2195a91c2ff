//! The entries of an inspected log, in index order, as the node would start from them, read again from the
//! segments one at a time: memory holds one segment's records, never the log. A segment also holds copies of
//! entries that a later record replaced (a new leader's log overwrote them); the one the log kept is the copy with
//! the term the replay found at its index. Two copies with one index and one term are the same entry (Log
//! Matching, Raft paper section 5.3), so the first such copy met is the one the log kept, and it comes after the
//! one kept at the index before it.

use super::term_runs::TermRuns;
use crate::codec::Record;
use crate::{regular_file, segment, StorageError};
use flotilla_raft::{Entry, Index};
use std::path::{Path, PathBuf};

/// A segment the replay read: where it is, whether a torn tail is allowed in it, how much of it could be read
/// (up to its damage, if it has any), and the highest index written into that part (a segment below the entries
/// still wanted is not read again).
#[derive(Clone, Debug)]
pub(super) struct ReplayedSegment {
    pub path: PathBuf,
    pub is_newest: bool,
    /// Bytes of whole records before the damage; None when the whole file read back.
    pub readable_len: Option<u64>,
    pub max_index: Index,
}

impl ReplayedSegment {
    fn read(&self) -> Result<Vec<(u64, Record)>, StorageError> {
        let mut bytes = regular_file::read(&self.path).map_err(|error| StorageError::io(&self.path, error))?;
        if let Some(len) = self.readable_len {
            bytes.truncate(len as usize);
        }
        let is_newest = self.is_newest && self.readable_len.is_none();
        Ok(segment::scan(&self.path, &bytes, is_newest)?.records)
    }
}

pub struct LogEntries {
    dir: PathBuf,
    segments: std::vec::IntoIter<ReplayedSegment>,
    records: std::vec::IntoIter<(u64, Record)>,
    entries: std::vec::IntoIter<Entry>,
    terms: TermRuns,
    next_index: Index,
    /// Set once an error was returned: the iterator ends.
    failed: bool,
}

impl LogEntries {
    pub(super) fn new(dir: &Path, segments: Vec<ReplayedSegment>, terms: TermRuns, from: Index) -> LogEntries {
        let next_index = terms.first_index().map_or(from, |first| first.max(from));
        LogEntries {
            dir: dir.to_path_buf(),
            segments: segments.into_iter(),
            records: Vec::new().into_iter(),
            entries: Vec::new().into_iter(),
            terms,
            next_index,
            failed: false,
        }
    }

    /// The index of the entry the iterator returns next (past the last one when it is done).
    pub fn next_index(&self) -> Index {
        self.next_index
    }

    fn fail(&mut self, error: StorageError) -> Option<Result<Entry, StorageError>> {
        self.failed = true;
        Some(Err(error))
    }
}

impl Iterator for LogEntries {
    type Item = Result<Entry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed && self.terms.term_at(self.next_index).is_some() {
            if let Some(entry) = self.entries.next() {
                if entry.index == self.next_index && self.terms.term_at(entry.index) == Some(entry.term) {
                    self.next_index += 1;
                    return Some(Ok(entry));
                }
                continue;
            }
            if let Some((_, record)) = self.records.next() {
                if let Record::Write { entries, .. } = record {
                    self.entries = entries.into_iter();
                }
                continue;
            }
            let Some(segment) = self.segments.next() else {
                let index = self.next_index;
                return self.fail(StorageError::other(
                    &self.dir,
                    format!(
                        "entry {index} is no longer where the log held it: the directory changed while it was read"
                    ),
                ));
            };
            if segment.max_index < self.next_index {
                continue;
            }
            match segment.read() {
                Ok(records) => self.records = records.into_iter(),
                Err(error) => return self.fail(error),
            }
        }
        None
    }
}
