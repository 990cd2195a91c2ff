//! Checking the snapshot files: each one's checksum and header, and for the newest (the only one the node loads)
//! that its contents match its name and can be restored. An older snapshot is what a crash between saving a new
//! one and removing the old one leaves: the node ignores it, so its state is a notice, never damage.

use super::report::{Finding, SnapshotReport};
use crate::{regular_file, snapshot_file, StorageError};
use flotilla_raft::{decode_stream, Index, SnapshotMeta, Term};
use std::path::{Path, PathBuf};

/// Checks `snapshots` (oldest first, as `snapshot_file::list` gives them), adding what is wrong to `findings`.
pub(super) fn check(snapshots: &[(PathBuf, Index, Term)], findings: &mut Vec<Finding>) -> Vec<SnapshotReport> {
    let newest = snapshots.len().saturating_sub(1);
    snapshots
        .iter()
        .enumerate()
        .map(|(position, (path, index, term))| {
            let is_newest = position == newest;
            let mut report = SnapshotReport {
                file: path.clone(),
                index: *index,
                term: *term,
                bytes: 0,
                voters: Vec::new(),
                sound: false,
                newest: is_newest,
            };
            match read(path, *index, *term, is_newest) {
                Ok((bytes, voters)) => {
                    (report.bytes, report.voters, report.sound) = (bytes, voters, true);
                    if !is_newest {
                        findings.push(Finding::notice(
                            path.clone(),
                            None,
                            "an older snapshot that a crash left behind: the node loads only the newest one, and \
                             removes this one when it saves its next snapshot",
                        ));
                    }
                }
                Err((bytes, why)) => {
                    report.bytes = bytes;
                    findings.push(if is_newest {
                        Finding::damage(StorageError::other(path, why))
                    } else {
                        Finding::notice(
                            path.clone(),
                            None,
                            format!("{why} (an older snapshot, which the node does not load)"),
                        )
                    });
                }
            }
            report
        })
        .collect()
}

/// Reads one snapshot file: its size and voters, or its size and what is wrong with it.
fn read(path: &Path, index: Index, term: Term, is_newest: bool) -> Result<(u64, Vec<u64>), (u64, String)> {
    let bytes = regular_file::read(path).map_err(|error| (0, format!("cannot be read: {error}")))?;
    let len = bytes.len() as u64;
    let stored = snapshot_file::decode(&bytes).map_err(|why| (len, why))?;
    if (stored.index, stored.term) != (index, term) {
        return Err((
            len,
            format!(
                "the snapshot's contents (index {}, term {}) do not match its file name (index {index}, term {term})",
                stored.index, stored.term
            ),
        ));
    }
    if stored.slot_ids {
        return Err((
            len,
            "written by an older flotilla whose node ids were per-node slots: this release refuses it".to_string(),
        ));
    }
    let voters = stored.membership.voters.iter().copied().collect();
    // What the node restores at startup: the newest one's data must read back as the core's snapshot.
    let meta = SnapshotMeta { index, term, membership: stored.membership };
    if is_newest && decode_stream(meta, &stored.data).is_none() {
        return Err((len, "the snapshot's contents cannot be read back as the node's state".to_string()));
    }
    Ok((len, voters))
}
