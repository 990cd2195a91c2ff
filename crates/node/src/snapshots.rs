//! The application's snapshots as the node layer handles them: when to ask for one (every `threshold` applied
//! entries), how large one may be, and why one was refused.

use flotilla_raft::{CompactError, Index, MAX_SNAPSHOT_BYTES};

#[derive(Debug, Default)]
pub struct SnapshotPolicy {
    /// Ask for a snapshot once this many entries were applied since the last one; `None`: never.
    threshold: Option<u64>,
    /// The index of the snapshot asked for and not yet answered.
    requested: Option<Index>,
}

impl SnapshotPolicy {
    pub fn new(threshold: Option<u64>) -> SnapshotPolicy {
        SnapshotPolicy { threshold: threshold.filter(|&t| t > 0), requested: None }
    }

    /// Whether to ask the application for a snapshot now, given what is applied and what the last one covers.
    pub fn should_request(&self, applied: Index, snapshot_index: Index) -> bool {
        match self.threshold {
            Some(threshold) => self.requested.is_none() && applied.saturating_sub(snapshot_index) >= threshold,
            None => false,
        }
    }

    pub fn requested(&mut self, index: Index) {
        self.requested = Some(index);
    }

    /// Takes the answer for `index`: whether that is the snapshot asked for.
    pub fn answered(&mut self, index: Index) -> bool {
        let asked = self.requested == Some(index);
        if asked {
            self.requested = None;
        }
        asked
    }
}

/// The largest snapshot data (sealed) a node takes, so that its transfer stream stays within `MAX_SNAPSHOT_BYTES`:
/// the rest is room for the proposal ids a snapshot carries (at most the id window's 100,000, each at most the
/// wire's 256 bytes and 12 of framing: under 27 MiB).
pub const MAX_SNAPSHOT_DATA_BYTES: u64 = MAX_SNAPSHOT_BYTES - (32 << 20);

/// Why the application's snapshot was not taken (the binding maps every case to `SNAPSHOT_REFUSED`).
#[derive(Debug)]
pub enum SnapshotError {
    /// `snapshotWanted` never asked for this index, or it was answered already.
    NotAsked { index: Index },
    /// A follower could never receive it: the log is kept instead.
    TooLarge { bytes: u64, limit: u64 },
    /// The core could not compact to the index.
    Compact(CompactError),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::NotAsked { index } => write!(f, "no snapshot at index {index} was asked for"),
            SnapshotError::TooLarge { bytes, limit } => {
                write!(f, "the snapshot is {bytes} bytes, more than the limit of {limit}: the log was not compacted")
            }
            SnapshotError::Compact(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_once_per_threshold_until_answered() {
        let mut policy = SnapshotPolicy::new(Some(10));
        assert!(!policy.should_request(9, 0));
        assert!(policy.should_request(10, 0));
        policy.requested(10);
        assert!(!policy.should_request(25, 0));
        assert!(!policy.answered(11));
        assert!(policy.answered(10));
        assert!(!policy.should_request(19, 10));
        assert!(policy.should_request(20, 10));
        assert!(!SnapshotPolicy::new(None).should_request(1_000, 0));
    }
}
