//! The inspection: every segment scanned (each record's checksum verified), checked against the manifest and the
//! segment before it, and replayed as the node replays it when it opens, then the snapshots checked against the
//! log. One segment at a time (`scan_next_segment`), so that a caller can show progress on a long log; damage is
//! a finding, and the scan goes on to report the rest (the replay stops at the first damage: what follows it
//! cannot be trusted).

use super::data_dir_files::{DataDirFiles, NotADataDir};
use super::entries::{LogEntries, ReplayedSegment};
use super::report::{DataDirReport, Finding, LogSummary, SegmentReport};
use super::snapshots;
use super::term_runs::TermRuns;
use crate::codec::Record;
use crate::segment::{self, ScannedSegment};
use crate::{manifest, regular_file, wal, Recovered, StorageError};
use flotilla_raft::{Entry, Index, Payload};
use std::path::{Path, PathBuf};

pub struct Inspection {
    dir: PathBuf,
    files: DataDirFiles,
    /// The position in `files.segments` of the next segment to scan.
    next_segment: usize,
    bytes_scanned: u64,
    /// The state replayed so far; its entries keep their index, term and kind only (see `without_data`).
    replay: Recovered,
    /// Set at the first damage: the node would stop there, so nothing after it is replayed.
    replay_stopped: bool,
    /// The segment scanned before the next one: (sequence, path, length), which the next one's header names.
    previous: Option<(u64, PathBuf, u64)>,
    segments: Vec<SegmentReport>,
    replayed: Vec<ReplayedSegment>,
    manifest_newest_segment: Option<u64>,
    findings: Vec<Finding>,
    /// The data of every replayed entry: one shared empty payload.
    no_data: Payload,
}

/// A finished inspection: the report, and what reading the log's entries back needs.
pub struct InspectedDataDir {
    pub report: DataDirReport,
    terms: TermRuns,
    replayed: Vec<ReplayedSegment>,
}

impl InspectedDataDir {
    /// The entries the node would start from, from index `from` on (from the first one kept if it is lower).
    pub fn entries(&self, from: Index) -> LogEntries {
        LogEntries::new(&self.report.dir, self.replayed.clone(), self.terms.clone(), from)
    }
}

impl Inspection {
    /// Lists `dir` and reads its manifest. Fails only when `dir` is not a flotilla data directory: anything wrong
    /// inside one is a finding.
    pub fn start(dir: &Path) -> Result<Inspection, NotADataDir> {
        let files = DataDirFiles::list(dir)?;
        let mut findings = Vec::new();
        let manifest_newest_segment = manifest::read(dir).unwrap_or_else(|error| {
            findings.push(Finding::damage(error));
            None
        });
        let newest_found = files.segments.last().map(|segment| segment.sequence);
        match manifest_newest_segment {
            Some(recorded) => {
                if let Err(error) = manifest::check(dir, recorded, newest_found) {
                    findings.push(Finding::damage(error));
                }
            }
            None if !files.has_manifest && newest_found.is_some() => findings.push(Finding::notice(
                dir.join("MANIFEST"),
                None,
                "no MANIFEST (a log written before it existed): the node writes one when it opens",
            )),
            None => {}
        }
        for other in &files.others {
            findings.push(Finding::notice(other.clone(), None, DataDirFiles::other_file_notice(other)));
        }
        Ok(Inspection {
            dir: dir.to_path_buf(),
            files,
            next_segment: 0,
            bytes_scanned: 0,
            replay: Recovered::default(),
            replay_stopped: false,
            previous: None,
            segments: Vec::new(),
            replayed: Vec::new(),
            manifest_newest_segment,
            findings,
            no_data: Payload::from(&b""[..]),
        })
    }

    /// The segments' bytes, all of them and those scanned so far: the inspection's progress.
    pub fn bytes_total(&self) -> u64 {
        self.files.bytes_total()
    }

    pub fn bytes_scanned(&self) -> u64 {
        self.bytes_scanned
    }

    /// Scans the next segment; false when every one has been.
    pub fn scan_next_segment(&mut self) -> bool {
        let Some(file) = self.files.segments.get(self.next_segment) else { return false };
        let (sequence, path) = (file.sequence, file.path.clone());
        let is_newest = self.next_segment + 1 == self.files.segments.len();
        self.next_segment += 1;
        self.bytes_scanned += file.bytes;
        let mut report = SegmentReport {
            file: path.clone(),
            sequence,
            bytes: file.bytes,
            written_bytes: file.bytes,
            records: 0,
            entries: 0,
            index_range: None,
            torn_at: None,
            damaged: false,
        };
        match regular_file::read(&path) {
            Ok(bytes) => {
                report.bytes = bytes.len() as u64;
                report.written_bytes = segment::written_len(bytes.as_slice()) as u64;
                self.replay_segment(&mut report, &bytes, is_newest);
            }
            Err(error) => self.damage(&mut report, StorageError::io(&path, error)),
        }
        self.previous = Some((sequence, path, report.bytes));
        self.segments.push(report);
        true
    }

    /// Scans one segment's bytes into its report, and replays its records unless damage stopped the replay.
    fn replay_segment(&mut self, report: &mut SegmentReport, bytes: &[u8], is_newest: bool) {
        let path = report.file.clone();
        let (scanned, damage) = match segment::scan(&path, bytes, is_newest) {
            Ok(scanned) => (scanned, None),
            Err(error) => {
                // Whole records precede the damage: they are read, so that the report (and the entries) show the
                // log up to it, as far as it can be read.
                let readable = error.offset.filter(|_| error.file == path).unwrap_or(0).min(report.bytes);
                let before = segment::scan(&path, &bytes[..readable as usize], false);
                let before =
                    before.unwrap_or(ScannedSegment { records: Vec::new(), valid_len: 0, torn_at: None, salt: 0 });
                (before, Some(error))
            }
        };
        // Found in the order the node finds them (the scan first), but the records before the damage still replay.
        let damaged_within = damage.is_some();
        if let Some(error) = damage {
            report.damaged = true;
            self.findings.push(Finding::damage(error));
        }
        let recorded = self.manifest_newest_segment;
        let opening = wal::check_opening_records(&path, report.sequence, recorded, scanned.records.len());
        let opening_lost = !damaged_within && is_newest && opening.is_err();
        if let (true, Err(error)) = (opening_lost, opening) {
            // What the node refuses: the torn write it would otherwise see at the start is not one.
            self.damage(report, error);
        }
        if let Some((_, Record::Follows { sequence: followed, bytes: followed_len, .. })) = scanned.records.first() {
            let previous = self.previous.as_ref();
            if let Err(error) = wal::check_follows(&path, report.sequence, previous, *followed, *followed_len) {
                self.damage(report, error);
            }
        }
        if let Some(offset) = scanned.torn_at.filter(|_| !opening_lost) {
            report.torn_at = Some(offset);
            let torn_bytes = (segment::written_len(bytes) as u64).saturating_sub(scanned.valid_len);
            self.findings.push(Finding::notice(
                path.clone(),
                Some(offset),
                format!(
                    "a torn write at the end of the newest segment ({torn_bytes} bytes that a crash left unfinished, \
                     never acknowledged): the node cuts it off when it opens"
                ),
            ));
        }
        report.records = scanned.records.len() as u64;
        // Records may end with a few zero bytes, which `written_len` does not count.
        report.written_bytes = report.written_bytes.max(scanned.valid_len);
        if !self.replay_stopped {
            let max_index = scanned.records.iter().map(|(_, record)| last_index_written(record)).max().unwrap_or(0);
            let readable_len = damaged_within.then_some(scanned.valid_len);
            self.replayed.push(ReplayedSegment { path: path.clone(), is_newest, readable_len, max_index });
        }
        for (offset, record) in scanned.records {
            if let Record::Write { entries, .. } = &record {
                if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                    report.entries += entries.len() as u64;
                    report.index_range = Some(match report.index_range {
                        Some((low, high)) => (low.min(first.index), high.max(last.index)),
                        None => (first.index, last.index),
                    });
                }
            }
            if self.replay_stopped {
                continue;
            }
            if let Err(why) = wal::apply(&mut self.replay, without_data(record, &self.no_data)) {
                self.damage(report, StorageError::at(&path, offset, why));
            }
        }
        if damaged_within {
            self.replay_stopped = true;
        }
    }

    /// Notes damage in a segment: the node would stop here, so the replay does too.
    fn damage(&mut self, report: &mut SegmentReport, error: StorageError) {
        report.damaged = true;
        self.replay_stopped = true;
        self.findings.push(Finding::damage(error));
    }

    /// Scans what is left, then checks the replayed log and the snapshots against each other.
    pub fn finish(mut self) -> InspectedDataDir {
        while self.scan_next_segment() {}
        let dir = self.dir.clone();
        if !self.replay_stopped {
            if let Err(error) = wal::check_log_start(&dir, &self.replay) {
                self.findings.push(Finding::damage(error));
            }
        }
        if !self.replay.slot_peers.is_empty() {
            self.findings.push(Finding::damage(StorageError::other(
                &dir,
                "written by an older flotilla whose node ids were per-node slots: this release refuses it",
            )));
        }
        let snapshots = snapshots::check(&self.files.snapshots, &mut self.findings);
        let snapshot_index = snapshots.last().map_or(0, |snapshot| snapshot.index);
        let replay = self.replay;
        if replay.compacted_index > snapshot_index {
            // What the node checks when it opens: the entries up to the compaction point are gone from the log.
            self.findings.push(Finding::damage(StorageError::other(
                &dir,
                format!(
                    "the log was compacted up to index {} but the newest snapshot covers only {snapshot_index}: the \
                     entries up to it are in no snapshot (was a snapshot file deleted?)",
                    replay.compacted_index
                ),
            )));
        }
        let log = LogSummary {
            compacted_index: replay.compacted_index,
            compacted_term: replay.compacted_term,
            first_index: replay.entries.first().map(|entry| entry.index),
            last_index: replay.entries.last().map(|entry| entry.index),
            last_term: replay.entries.last().map(|entry| entry.term),
            entries: replay.entries.len() as u64,
        };
        let report = DataDirReport {
            dir,
            manifest_newest_segment: self.manifest_newest_segment,
            segments: self.segments,
            snapshots,
            hard_state: replay.hard_state,
            members: replay.members,
            log,
            other_files: self.files.others,
            findings: self.findings,
        };
        InspectedDataDir { report, terms: TermRuns::of(&replay.entries), replayed: self.replayed }
    }
}

/// The highest index a record writes (0 for none).
fn last_index_written(record: &Record) -> Index {
    match record {
        Record::Write { entries, .. } => entries.last().map_or(0, |entry| entry.index),
        _ => 0,
    }
}

/// The record as the replay needs it: its entries keep their index, term and kind, and leave their data and ids
/// behind (the entries reader reads them again from disk), so that a long log is never held in memory.
fn without_data(record: Record, no_data: &Payload) -> Record {
    match record {
        Record::Write { hard_state, reset, entries } => Record::Write {
            hard_state,
            reset,
            entries: entries.into_iter().map(|entry| Entry { id: None, data: no_data.clone(), ..entry }).collect(),
        },
        other => other,
    }
}
