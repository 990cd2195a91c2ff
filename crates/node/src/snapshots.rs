//! The application's snapshots as the node layer handles them: when to ask for one (every `threshold` applied
//! entries), and the envelope the core carries. The envelope adds what the gaggle view needs across compaction,
//! the number of user entries the snapshot covers, to the application's own data (JSON text).

use flotilla_raft::{CompactError, Index, Payload, SnapshotMeta, MAX_SNAPSHOT_BYTES};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Default)]
pub struct SnapshotPolicy {
    /// Ask for a snapshot once this many entries were applied since the last one; `None`: never.
    threshold: Option<u64>,
    /// The snapshot asked for and not yet answered: its index and the user entries up to it.
    requested: Option<(Index, u64)>,
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

    pub fn requested(&mut self, index: Index, user_entries: u64) {
        self.requested = Some((index, user_entries));
    }

    /// The answer for `index`: the user entries it covers, if that is the snapshot asked for.
    pub fn answered(&mut self, index: Index) -> Option<u64> {
        match self.requested {
            Some((requested, user_entries)) if requested == index => {
                self.requested = None;
                Some(user_entries)
            }
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "userEntries")]
    user_entries: u64,
    #[serde(borrow)]
    data: &'a RawValue,
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

/// The core's snapshot data: `{"userEntries":n,"data":<the application's JSON>}`.
pub fn seal(user_entries: u64, data_json: &str) -> Payload {
    let data = if data_json.is_empty() { "null" } else { data_json };
    Payload::from(format!("{{\"userEntries\":{user_entries},\"data\":{data}}}").into_bytes())
}

/// The user entries a snapshot covers and the application's JSON; `None` if it is not an envelope (a snapshot
/// from a peer is checked here like any other message).
pub fn open(data: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    let envelope: Envelope = serde_json::from_str(text).ok()?;
    Some((envelope.user_entries, envelope.data.get()))
}

/// Whether a snapshot's data is an envelope this layer can restore: readable, and counting no more user entries
/// than the entries it covers (a larger count would make the gaggle view's indices wrong, or wrap them).
pub fn is_restorable(meta: &SnapshotMeta, data: &[u8]) -> bool {
    open(data).is_some_and(|(user_entries, _)| user_entries <= meta.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_garbage_is_refused() {
        let sealed = seal(42, r#"{"k":[1,"two"]}"#);
        assert_eq!(open(&sealed), Some((42, r#"{"k":[1,"two"]}"#)));
        assert_eq!(open(b"not json"), None);
        assert_eq!(open(br#"{"userEntries":-1,"data":1}"#), None);
    }

    #[test]
    fn asks_once_per_threshold_until_answered() {
        let mut policy = SnapshotPolicy::new(Some(10));
        assert!(!policy.should_request(9, 0));
        assert!(policy.should_request(10, 0));
        policy.requested(10, 7);
        assert!(!policy.should_request(25, 0));
        assert_eq!(policy.answered(11), None);
        assert_eq!(policy.answered(10), Some(7));
        assert!(!policy.should_request(19, 10));
        assert!(policy.should_request(20, 10));
        assert!(!SnapshotPolicy::new(None).should_request(1_000, 0));
    }
}
