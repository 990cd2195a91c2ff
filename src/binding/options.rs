//! The native options object, as JSON from the JS faces (which validate the user's options first). Checked again
//! here, strictly, so that no JS input can reach the engine unchecked.

use crate::node::wire::snapshot_envelope;
use crate::node::{Members, NodeOptions, SavedEntry, SavedState, StorageOptions, TimingMs, MAX_NAME_BYTES};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NativeOptions {
    id: String,
    cluster_size: Option<u32>,
    members: Option<Vec<String>>,
    election_timeout_min: f64,
    election_timeout_max: f64,
    heartbeat_interval: f64,
    #[serde(default = "yes")]
    pre_vote: bool,
    #[serde(default = "yes")]
    check_quorum: bool,
    #[serde(default = "default_inflight_messages")]
    max_inflight_messages: u32,
    #[serde(default = "default_inflight_bytes")]
    max_inflight_bytes: u64,
    #[serde(default = "default_message_bytes")]
    max_message_bytes: u64,
    seed: Option<u64>,
    data_dir: Option<String>,
    snapshot_threshold: Option<u64>,
    #[serde(default = "default_segment_bytes")]
    segment_bytes: u64,
    saved_state: Option<NativeSavedState>,
}

/// brig's saved state, as the brig face passes it on: `{term, votedFor, entries: [{term, data}]}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NativeSavedState {
    term: u64,
    voted_for: Option<String>,
    entries: Vec<NativeSavedEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeSavedEntry {
    term: u64,
    data: Box<RawValue>,
}

fn default_segment_bytes() -> u64 {
    64 * 1024 * 1024
}

fn yes() -> bool {
    true
}
fn default_inflight_messages() -> u32 {
    256
}
fn default_inflight_bytes() -> u64 {
    16 * 1024 * 1024
}
fn default_message_bytes() -> u64 {
    1024 * 1024
}

/// The largest cluster a node accepts: far beyond what Raft is used for, small enough to allocate.
const MAX_CLUSTER_SIZE: u32 = 1024;
/// The largest `maxMessageBytes` and `maxInflightBytes`: every message to every peer goes to JS in one text of a
/// flush, and a JS string holds at most 2^29 - 24 characters.
pub const MAX_FLOW_BYTES: u64 = 64 << 20;

/// A node name must fit the wire's proposal ids (see `MAX_NAME_BYTES`).
fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("Invalid options: {what} is not allowed to be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "Invalid options: {what} is {} bytes long, more than the limit of {MAX_NAME_BYTES} bytes (in UTF-8)",
            name.len()
        ));
    }
    Ok(())
}

pub fn parse(json: &str) -> Result<NodeOptions, String> {
    let options: NativeOptions = serde_json::from_str(json).map_err(|e| format!("Invalid options: {e}"))?;
    check_name(&options.id, "\"id\"")?;
    for name in options.members.iter().flatten() {
        check_name(name, "a name in \"members\"")?;
    }
    let members = match (options.cluster_size, options.members) {
        (Some(size), None) if (1..=MAX_CLUSTER_SIZE).contains(&size) => {
            Members::Discover { cluster_size: size as usize }
        }
        (Some(size), None) => {
            return Err(format!(
                "Invalid options: \"clusterSize\" must be between 1 and {MAX_CLUSTER_SIZE}, not {size}"
            ))
        }
        (None, Some(names)) if !names.is_empty() && names.len() <= MAX_CLUSTER_SIZE as usize => Members::Named(names),
        _ => return Err("Invalid options: give either \"clusterSize\" or a non-empty \"members\" list".into()),
    };
    if options.max_inflight_messages == 0 || options.max_inflight_bytes == 0 || options.max_message_bytes == 0 {
        return Err("Invalid options: flow-control limits must be at least 1".into());
    }
    if options.max_inflight_bytes > MAX_FLOW_BYTES || options.max_message_bytes > MAX_FLOW_BYTES {
        return Err(format!(
            "Invalid options: \"maxMessageBytes\" and \"maxInflightBytes\" must be at most {MAX_FLOW_BYTES}"
        ));
    }
    let timing = TimingMs {
        election_min: options.election_timeout_min,
        election_max: options.election_timeout_max,
        heartbeat: options.heartbeat_interval,
    };
    let storage = match options.data_dir {
        Some(dir) if dir.is_empty() => return Err("Invalid options: \"dataDir\" is not allowed to be empty".into()),
        Some(dir) => {
            StorageOptions::Durable { dir: PathBuf::from(dir), segment_bytes: options.segment_bytes.max(4096) }
        }
        None => StorageOptions::Volatile,
    };
    let mut node = NodeOptions::new(&options.id, members, timing.to_ticks());
    node.raft.pre_vote = options.pre_vote;
    node.raft.check_quorum = options.check_quorum;
    node.raft.max_inflight_messages = options.max_inflight_messages as usize;
    node.raft.max_inflight_bytes = options.max_inflight_bytes;
    node.raft.max_message_bytes = options.max_message_bytes;
    if let Some(seed) = options.seed {
        node.raft.seed = seed;
    }
    // The JS faces' snapshots are the gaggle view's envelopes: one from a peer that is not is refused.
    node.raft.accept_snapshot_data = snapshot_envelope::is_restorable;
    Ok(NodeOptions {
        storage,
        snapshot_threshold: options.snapshot_threshold,
        saved_state: options.saved_state.map(|saved| SavedState {
            term: saved.term,
            voted_for: saved.voted_for,
            entries: saved
                .entries
                .into_iter()
                .map(|entry| SavedEntry { term: entry.term, data_json: entry.data.get().to_string() })
                .collect(),
        }),
        ..node
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_with(extra: &str) -> Result<NodeOptions, String> {
        parse(&format!(r#"{{"electionTimeoutMin":300,"electionTimeoutMax":500,"heartbeatInterval":50,{extra}}}"#))
    }

    #[test]
    fn a_node_name_longer_than_proposal_ids_allow_is_refused_with_a_clear_error() {
        // Proposal ids are the name, '_' and a UUID, and the wire takes ids of at most 256 bytes: 219 is the most.
        let id = |name: &str| options_with(&format!(r#""id":"{name}","clusterSize":3"#));
        assert!(id(&"n".repeat(MAX_NAME_BYTES)).is_ok());
        let error = id(&"n".repeat(MAX_NAME_BYTES + 1)).expect_err("refused");
        assert!(error.contains("\"id\" is 220 bytes long, more than the limit of 219 bytes"), "{error}");
        // Bytes, not characters: 110 two-byte characters are 220 bytes.
        assert!(id(&"é".repeat(110)).is_err());
        let members = |name: &str| options_with(&format!(r#""id":"a","members":["a","{name}"]"#));
        assert!(members(&"m".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(members(&"m".repeat(MAX_NAME_BYTES + 1)).expect_err("refused").contains("a name in \"members\""));
        assert!(members("").is_err());
    }

    #[test]
    fn message_and_inflight_byte_limits_are_at_most_64_mib() {
        for key in ["maxMessageBytes", "maxInflightBytes"] {
            for (value, ok) in [(1, true), (MAX_FLOW_BYTES, true), (MAX_FLOW_BYTES + 1, false), (0, false)] {
                let result = options_with(&format!(r#""id":"a","clusterSize":1,"{key}":{value}"#));
                assert_eq!(result.is_ok(), ok, "{key} = {value}: {:?}", result.err());
            }
        }
    }
}
