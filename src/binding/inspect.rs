//! `DataDirInspection`: a data directory read offline for `flotilla inspect` and `flotilla verify`, through the
//! storage crate's read-only inspection (no lock taken, nothing changed). The scan goes one segment per call, so
//! that the command line can show progress; the report is one JSON text; the entries come in pages, so that JS
//! never holds the whole log. It runs on the JS thread: a command-line tool has nothing else to do meanwhile.

use super::error::{self, ErrorCode};
use super::inspect_report::report_json;
use crate::raft::{Entry, EntryKind};
use crate::storage::inspect::{InspectedDataDir, Inspection, LogEntries};
use napi::bindgen_prelude::{Buffer, Result};
use napi_derive::napi;
use std::path::Path;

/// A page of entries stops once it holds this much data (at least one entry is in it), so that a log of large
/// entries is never in JS all at once.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// One entry of the log, as the node would start from it.
#[napi(object)]
pub struct InspectedEntry {
    pub index: f64,
    pub term: f64,
    /// "normal" (the application's), "noop" (a new leader's empty entry) or "config" (a membership change).
    pub kind: String,
    /// The proposal id of a normal entry.
    pub id: Option<String>,
    /// The entry's bytes: JSON text for a normal entry, the engine's own encoding for a configuration entry.
    pub data: Buffer,
}

impl From<Entry> for InspectedEntry {
    fn from(entry: Entry) -> InspectedEntry {
        let kind = match entry.kind {
            EntryKind::Normal => "normal",
            EntryKind::Noop => "noop",
            EntryKind::ConfChange => "config",
        };
        InspectedEntry {
            index: entry.index as f64,
            term: entry.term as f64,
            kind: kind.to_string(),
            id: entry.id.as_deref().map(str::to_string),
            data: Buffer::from(entry.data.to_vec()),
        }
    }
}

#[napi]
pub struct DataDirInspection {
    /// The scan under way; taken when it finishes.
    scanning: Option<Inspection>,
    finished: Option<InspectedDataDir>,
    bytes_total: u64,
    /// The entries reader of the last page, which the next page continues when it starts where that one ended.
    entries: Option<LogEntries>,
}

impl DataDirInspection {
    /// The finished inspection (scanning what is left of the log first).
    fn finished(&mut self) -> Result<&InspectedDataDir, ErrorCode> {
        if let Some(scanning) = self.scanning.take() {
            return Ok(self.finished.insert(scanning.finish()));
        }
        self.finished.as_ref().ok_or_else(|| error::coded(error::INTERNAL, "the inspection was lost"))
    }
}

#[napi]
impl DataDirInspection {
    /// Lists the data directory `dir` and reads its manifest. Throws `FLOTILLA_INVALID_ARGUMENT` when `dir` is
    /// not a flotilla data directory (missing, not a directory, or holding no log, manifest or snapshot).
    #[napi(constructor, catch_unwind)]
    pub fn new(dir: String) -> Result<DataDirInspection, ErrorCode> {
        let scanning = Inspection::start(Path::new(&dir)).map_err(error::invalid_argument)?;
        let bytes_total = scanning.bytes_total();
        Ok(DataDirInspection { scanning: Some(scanning), finished: None, bytes_total, entries: None })
    }

    /// The bytes of write-ahead log to scan, in all.
    #[napi(getter, catch_unwind)]
    pub fn bytes_total(&self) -> f64 {
        self.bytes_total as f64
    }

    /// The bytes of write-ahead log scanned so far (all of them once the report is made).
    #[napi(getter, catch_unwind)]
    pub fn bytes_scanned(&self) -> f64 {
        self.scanning.as_ref().map_or(self.bytes_total, Inspection::bytes_scanned) as f64
    }

    /// Scans the next segment of the log (every record's checksum); false once every one is.
    #[napi(catch_unwind)]
    pub fn scan_next_segment(&mut self) -> bool {
        self.scanning.as_mut().is_some_and(Inspection::scan_next_segment)
    }

    /// The report as JSON text (see the README's "Command line"): files, hard state, members, the log's range,
    /// and the problems found, each with its severity ("damage" or "notice"), file and offset.
    #[napi(catch_unwind)]
    pub fn report(&mut self) -> Result<String, ErrorCode> {
        Ok(report_json(&self.finished()?.report))
    }

    /// Up to `max` entries of the log the node would start from, from index `from` on (from its first entry when
    /// `from` is lower), fewer once they hold 4 MiB of data; none past its last one. A page that starts where the
    /// last one ended continues reading there. Throws `FLOTILLA_STORAGE` when a segment no longer reads back as it
    /// did (the directory changed).
    #[napi(catch_unwind)]
    pub fn read_entries(&mut self, from: f64, max: u32) -> Result<Vec<InspectedEntry>, ErrorCode> {
        if !(from.is_finite() && from >= 0.0 && from.fract() == 0.0) {
            return Err(error::invalid_argument("from must be a whole number, 0 or more"));
        }
        let from = from as u64;
        let entries = match self.entries.take() {
            Some(entries) if entries.next_index() == from => entries,
            _ => self.finished()?.entries(from),
        };
        let entries = self.entries.insert(entries);
        let mut page = Vec::with_capacity((max as usize).min(1024));
        let mut page_bytes = 0;
        while page.len() < max as usize && page_bytes < PAGE_BYTES {
            let Some(entry) = entries.next() else { break };
            let entry = entry.map_err(|e| error::coded(error::STORAGE, e))?;
            page_bytes += entry.data.len();
            page.push(InspectedEntry::from(entry));
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    /// napi-rs catches a panic only where `catch_unwind` is asked for; a panic anywhere else would abort Node.
    #[test]
    fn every_method_and_getter_catches_panics() {
        let exported: Vec<&str> = include_str!("inspect.rs")
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("#[napi(") && !line.starts_with("#[napi(object"))
            .collect();
        assert!(exported.len() >= 6, "the exported items were found: {exported:?}");
        for line in exported {
            assert!(line.contains("catch_unwind"), "not guarded against panics: {line}");
        }
    }
}
