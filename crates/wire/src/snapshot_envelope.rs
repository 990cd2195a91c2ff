//! The envelope the gaggle view wraps around the application's snapshot data (JSON text) before the core carries
//! it: `{"userEntries":n,"data":<the application's JSON>}`. The count of user entries the snapshot covers is what
//! the gaggle view needs across compaction to keep numbering user entries. Snapshot data from a peer is untrusted
//! and read here like any other message.

use flotilla_raft::{Payload, SnapshotMeta};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "userEntries")]
    user_entries: u64,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The core's snapshot data for the application's `data_json`, covering `user_entries` user entries.
pub fn seal(user_entries: u64, data_json: &str) -> Payload {
    let data = if data_json.is_empty() { "null" } else { data_json };
    Payload::from(format!("{{\"userEntries\":{user_entries},\"data\":{data}}}").into_bytes())
}

/// The user entries a snapshot covers and the application's JSON; `None` if it is not an envelope.
pub fn open(data: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    let envelope: Envelope = serde_json::from_str(text).ok()?;
    Some((envelope.user_entries, envelope.data.get()))
}

/// Whether a snapshot's data is an envelope the gaggle view can restore: readable, and counting no more user
/// entries than the entries it covers (a larger count would make the view's indices wrong, or wrap them). This is
/// the core's `Config::accept_snapshot_data` for nodes of the JS faces.
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
}
