//! The native options object, as the JS faces pass it (each face checks the user's options first, in its own
//! words). Read by napi-rs into `NativeOptions` and checked again here, strictly, so that no JS value reaches the
//! engine unchecked: unknown keys, wrong types, numbers that are not whole or out of range are refused with an
//! error that names the option. What the caller leaves out takes the engine's one default (`Config`, the WAL).

use super::options_error::OptionsError;
use super::strict_object;
use crate::node::wire::{check_payload, snapshot_envelope};
use crate::node::{Members, NodeOptions, SavedEntry, SavedState, StorageOptions, TimingMs, MAX_NAME_BYTES};
use crate::raft::{Config, MAX_TERM};
use crate::storage::DEFAULT_SEGMENT_BYTES;
use napi::bindgen_prelude::{FromNapiValue, JsValue, Unknown};
use napi_derive::napi;
use std::path::PathBuf;

/// The options of one native node. Numbers are JS numbers: counts and sizes must be whole.
#[napi(object)]
pub struct NativeOptions {
    /// This node's name, unique in its cluster: at most `MAX_NAME_BYTES` bytes of UTF-8.
    pub id: String,
    /// How many nodes the cluster has; the others are met by name as they speak (gaggle). Give this or `members`.
    pub cluster_size: Option<f64>,
    /// Every member's name, this node's among them (brig). Give this or `clusterSize`.
    pub members: Option<Vec<String>>,
    /// The node joins an existing cluster: it knows no members and waits for the leader that adds it (then
    /// `clusterSize` and `members` are not used).
    pub join: Option<bool>,
    /// The shortest election timeout, in milliseconds.
    pub election_timeout_min: f64,
    /// The longest election timeout, in milliseconds (timeouts are drawn between the two).
    pub election_timeout_max: f64,
    /// How often a leader sends heartbeats, in milliseconds.
    pub heartbeat_interval: f64,
    /// Ask for pre-votes before an election (default: on).
    pub pre_vote: Option<bool>,
    /// A leader that has not heard from a quorum for an election timeout steps down (default: on).
    pub check_quorum: Option<bool>,
    /// Lease reads (`read({lease: true})`): a leader answers from its lease, and a node restarted from its data
    /// grants no vote for an election timeout. Needs checkQuorum; give it to every node (default: off).
    pub lease_reads: Option<bool>,
    /// At most this many append messages in flight to one follower.
    pub max_inflight_messages: Option<f64>,
    /// At most this many entry bytes in flight to one follower (at most `MAX_FLOW_BYTES`).
    pub max_inflight_bytes: Option<f64>,
    /// At most this many entry bytes in one append message, and in one entry (at most `MAX_FLOW_BYTES`).
    pub max_message_bytes: Option<f64>,
    /// Seeds the randomized election timeouts (a whole number up to 2^53 - 1); random when left out.
    pub seed: Option<f64>,
    /// The directory of the node's write-ahead log and snapshots; a volatile node when left out.
    pub data_dir: Option<String>,
    /// Ask the application for a snapshot every this many applied entries; never when left out.
    pub snapshot_threshold: Option<f64>,
    /// A write-ahead log segment is closed at this many bytes (at least `MIN_SEGMENT_BYTES`).
    pub segment_bytes: Option<f64>,
    /// A state saved by brig to start from, instead of an empty one.
    pub saved_state: Option<NativeSavedState>,
}

/// brig's saved state, as the brig face passes it on.
#[napi(object, use_nullable = true)]
pub struct NativeSavedState {
    /// brig's `currentTerm`.
    pub term: f64,
    /// brig's `votedFor`: a member's name, or null.
    pub voted_for: Option<String>,
    /// brig's log, oldest entry first.
    pub entries: Vec<NativeSavedEntry>,
}

/// One entry of a saved log.
#[napi(object)]
pub struct NativeSavedEntry {
    /// The entry's term, at least 1.
    pub term: f64,
    /// The entry's data as JSON text.
    pub data_json: String,
}

/// The keys of each object above, as JS spells them: any other key is refused.
pub(super) const OPTION_KEYS: &[&str] = &[
    "id",
    "clusterSize",
    "members",
    "join",
    "electionTimeoutMin",
    "electionTimeoutMax",
    "heartbeatInterval",
    "preVote",
    "checkQuorum",
    "leaseReads",
    "maxInflightMessages",
    "maxInflightBytes",
    "maxMessageBytes",
    "seed",
    "dataDir",
    "snapshotThreshold",
    "segmentBytes",
    "savedState",
];
pub(super) const SAVED_STATE_KEYS: &[&str] = &["term", "votedFor", "entries"];
pub(super) const SAVED_ENTRY_KEYS: &[&str] = &["term", "dataJson"];

/// The largest cluster a node accepts: far beyond what Raft is used for, small enough to allocate.
pub const MAX_CLUSTER_SIZE: u32 = 1024;
/// The largest `maxMessageBytes` and `maxInflightBytes`: every message to every peer goes to JS in one text of a
/// flush, and a JS string holds at most 2^29 - 24 characters.
pub const MAX_FLOW_BYTES: u64 = 64 << 20;
/// The largest whole number a JS number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Reads and checks a JS options object.
pub fn read(options: &Unknown) -> Result<NodeOptions, OptionsError> {
    strict_object::check_shape(options)?;
    // SAFETY: the value is alive in its environment for this call (napi-rs handed it to the caller).
    let native = unsafe { NativeOptions::from_napi_value(options.value().env, options.raw()) }
        .map_err(|error| OptionsError::Unreadable(error.reason))?;
    native.into_node_options()
}

/// `value` as a whole number in `min..=max`.
fn whole(option: &'static str, value: f64, min: u64, max: u64) -> Result<u64, OptionsError> {
    if !value.is_finite() || value.fract() != 0.0 {
        return Err(OptionsError::NotWhole { option, value });
    }
    if value < min as f64 || value > max as f64 {
        return Err(OptionsError::OutOfRange { option, min, max, value });
    }
    Ok(value as u64)
}

fn optional_whole(option: &'static str, value: Option<f64>, min: u64, max: u64) -> Result<Option<u64>, OptionsError> {
    value.map(|value| whole(option, value, min, max)).transpose()
}

fn milliseconds(option: &'static str, value: f64) -> Result<f64, OptionsError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(OptionsError::NotMilliseconds { option, value })
    }
}

/// A node name must fit the wire's proposal ids (see `MAX_NAME_BYTES`).
fn check_name(name: &str, option: &'static str) -> Result<(), OptionsError> {
    if name.is_empty() {
        return Err(OptionsError::Empty { option });
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(OptionsError::NameTooLong { option, bytes: name.len(), limit: MAX_NAME_BYTES });
    }
    Ok(())
}

impl NativeOptions {
    pub(super) fn into_node_options(self) -> Result<NodeOptions, OptionsError> {
        check_name(&self.id, "\"id\"")?;
        for name in self.members.iter().flatten() {
            check_name(name, "a name in \"members\"")?;
        }
        let members = match (self.cluster_size, self.members) {
            _ if self.join == Some(true) => Members::Join,
            (Some(size), None) => {
                let cluster_size = whole("clusterSize", size, 1, u64::from(MAX_CLUSTER_SIZE))?;
                Members::Discover { cluster_size: cluster_size as usize }
            }
            (None, Some(names)) if !names.is_empty() && names.len() <= MAX_CLUSTER_SIZE as usize => {
                Members::Named(names)
            }
            _ => return Err(OptionsError::NoMembership),
        };
        let timing = TimingMs {
            election_min: milliseconds("electionTimeoutMin", self.election_timeout_min)?,
            election_max: milliseconds("electionTimeoutMax", self.election_timeout_max)?,
            heartbeat: milliseconds("heartbeatInterval", self.heartbeat_interval)?,
        };
        let inflight_messages = optional_whole("maxInflightMessages", self.max_inflight_messages, 1, u32::MAX.into())?;
        let inflight_bytes = optional_whole("maxInflightBytes", self.max_inflight_bytes, 1, MAX_FLOW_BYTES)?;
        let message_bytes = optional_whole("maxMessageBytes", self.max_message_bytes, 1, MAX_FLOW_BYTES)?;
        let segment_bytes = optional_whole("segmentBytes", self.segment_bytes, 1, MAX_SAFE_INTEGER)?;
        let storage = match self.data_dir {
            Some(dir) if dir.is_empty() => return Err(OptionsError::Empty { option: "\"dataDir\"" }),
            Some(dir) => StorageOptions::Durable {
                dir: PathBuf::from(dir),
                segment_bytes: segment_bytes.unwrap_or(DEFAULT_SEGMENT_BYTES),
            },
            None => StorageOptions::Volatile,
        };
        let mut node = NodeOptions::new(&self.id, members, timing.to_ticks());
        node.raft.pre_vote = self.pre_vote.unwrap_or(Config::DEFAULT_PRE_VOTE);
        node.raft.check_quorum = self.check_quorum.unwrap_or(Config::DEFAULT_CHECK_QUORUM);
        node.raft.lease_reads = self.lease_reads.unwrap_or(Config::DEFAULT_LEASE_READS);
        node.raft.max_inflight_messages =
            inflight_messages.map_or(Config::DEFAULT_MAX_INFLIGHT_MESSAGES, |n| n as usize);
        node.raft.max_inflight_bytes = inflight_bytes.unwrap_or(Config::DEFAULT_MAX_INFLIGHT_BYTES);
        node.raft.max_message_bytes = message_bytes.unwrap_or(Config::DEFAULT_MAX_MESSAGE_BYTES);
        if let Some(seed) = optional_whole("seed", self.seed, 0, MAX_SAFE_INTEGER)? {
            node.raft.seed = seed;
        }
        // The JS faces' snapshots are the gaggle view's envelopes: one from a peer that is not is refused.
        node.raft.accept_snapshot_data = snapshot_envelope::is_restorable;
        Ok(NodeOptions {
            storage,
            snapshot_threshold: optional_whole("snapshotThreshold", self.snapshot_threshold, 1, MAX_SAFE_INTEGER)?,
            saved_state: self.saved_state.map(NativeSavedState::into_saved_state).transpose()?,
            ..node
        })
    }
}

impl NativeSavedState {
    fn into_saved_state(self) -> Result<SavedState, OptionsError> {
        let entries = self.entries.into_iter().enumerate().map(|(position, entry)| {
            check_payload(&entry.data_json).map_err(|why| OptionsError::NotJson { position, why: why.to_string() })?;
            Ok(SavedEntry {
                term: whole("savedState.entries[].term", entry.term, 0, MAX_TERM)?,
                data_json: entry.data_json,
            })
        });
        Ok(SavedState {
            term: whole("savedState.term", self.term, 0, MAX_TERM)?,
            voted_for: self.voted_for,
            entries: entries.collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(id: &str) -> NativeOptions {
        NativeOptions {
            id: id.to_string(),
            cluster_size: Some(3.0),
            members: None,
            join: None,
            election_timeout_min: 300.0,
            election_timeout_max: 500.0,
            heartbeat_interval: 50.0,
            pre_vote: None,
            check_quorum: None,
            lease_reads: None,
            max_inflight_messages: None,
            max_inflight_bytes: None,
            max_message_bytes: None,
            seed: None,
            data_dir: None,
            snapshot_threshold: None,
            segment_bytes: None,
            saved_state: None,
        }
    }

    fn refused(result: Result<NodeOptions, OptionsError>) -> String {
        match result {
            Ok(_) => panic!("accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_node_name_longer_than_proposal_ids_allow_is_refused_with_a_clear_error() {
        // Proposal ids are the name, '_' and a UUID, and the wire takes ids of at most 256 bytes: 219 is the most.
        let id = |name: &str| options(name).into_node_options();
        assert!(id(&"n".repeat(MAX_NAME_BYTES)).is_ok());
        let error = refused(id(&"n".repeat(MAX_NAME_BYTES + 1)));
        assert!(error.contains("\"id\" is 220 bytes long, more than the limit of 219 bytes"), "{error}");
        // Bytes, not characters: 110 two-byte characters are 220 bytes.
        assert!(id(&"é".repeat(110)).is_err());
        let members = |name: &str| {
            NativeOptions { cluster_size: None, members: Some(vec!["a".into(), name.into()]), ..options("a") }
                .into_node_options()
        };
        assert!(members(&"m".repeat(MAX_NAME_BYTES)).is_ok());
        let error = refused(members(&"m".repeat(MAX_NAME_BYTES + 1)));
        assert!(error.contains("a name in \"members\""), "{error}");
        assert!(members("").is_err());
    }

    #[test]
    fn message_and_inflight_byte_limits_are_at_most_64_mib() {
        let limit = MAX_FLOW_BYTES as f64;
        for (value, ok) in [(1.0, true), (limit, true), (limit + 1.0, false), (0.0, false)] {
            let message = NativeOptions { max_message_bytes: Some(value), ..options("a") }.into_node_options();
            let inflight = NativeOptions { max_inflight_bytes: Some(value), ..options("a") }.into_node_options();
            assert_eq!((message.is_ok(), inflight.is_ok()), (ok, ok), "{value}");
        }
    }

    #[test]
    fn hostile_numbers_are_refused_with_the_option_named() {
        for value in [f64::NAN, f64::INFINITY, -1.0, 1e30, 2.5] {
            let error =
                refused(NativeOptions { max_inflight_messages: Some(value), ..options("a") }.into_node_options());
            assert!(error.starts_with("Invalid options: \"maxInflightMessages\" must be"), "{error}");
            let error =
                refused(NativeOptions { heartbeat_interval: value.min(-1.0), ..options("a") }.into_node_options());
            assert!(error.starts_with("Invalid options: \"heartbeatInterval\" must be"), "{error}");
        }
    }

    #[test]
    fn options_left_out_take_the_engines_defaults() {
        let node = options("a").into_node_options().expect("valid");
        assert_eq!(node.raft.max_inflight_messages, Config::DEFAULT_MAX_INFLIGHT_MESSAGES);
        assert_eq!(node.raft.max_inflight_bytes, Config::DEFAULT_MAX_INFLIGHT_BYTES);
        assert_eq!(node.raft.max_message_bytes, Config::DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(
            (node.raft.pre_vote, node.raft.check_quorum),
            (Config::DEFAULT_PRE_VOTE, Config::DEFAULT_CHECK_QUORUM)
        );
        let durable = NativeOptions { data_dir: Some("data".into()), ..options("a") }.into_node_options();
        let StorageOptions::Durable { segment_bytes, .. } = durable.expect("valid").storage else { panic!("durable") };
        assert_eq!(segment_bytes, DEFAULT_SEGMENT_BYTES);
    }

    /// The keys refused as unknown are checked against this list, so it must name every field.
    #[test]
    fn the_known_keys_are_the_fields_of_each_options_object() {
        let source = include_str!("options.rs");
        let fields_of = |name: &str| -> Vec<String> {
            let start = source.find(&format!("pub struct {name} {{")).expect("the struct");
            let body = &source[start..start + source[start..].find("\n}").expect("its end")];
            body.lines()
                .filter_map(|line| {
                    line.trim().strip_prefix("pub ")?.split_once(':').map(|(field, _)| field.to_string())
                })
                .filter(|field| !field.starts_with("struct"))
                .map(|field| {
                    let mut parts = field.split('_');
                    let first = parts.next().unwrap_or_default().to_string();
                    parts.fold(first, |camel, part| camel + &part[..1].to_uppercase() + &part[1..])
                })
                .collect()
        };
        assert_eq!(fields_of("NativeOptions"), OPTION_KEYS);
        assert_eq!(fields_of("NativeSavedState"), SAVED_STATE_KEYS);
        assert_eq!(fields_of("NativeSavedEntry"), SAVED_ENTRY_KEYS);
    }
}
