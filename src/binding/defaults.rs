//! The engine's defaults and limits, exported so that the faces fill in and check options with the numbers the
//! engine uses, written once in the crates (`Config`, the WAL, the wire).

use super::options::{MAX_CLUSTER_SIZE as CLUSTER_SIZE_LIMIT, MAX_FLOW_BYTES as FLOW_BYTES_LIMIT};
use crate::raft::Config;
use crate::storage;
use napi_derive::napi;

/// Whether a node asks for pre-votes when the options leave it out.
#[napi]
pub const DEFAULT_PRE_VOTE: bool = Config::DEFAULT_PRE_VOTE;
/// Whether a leader checks its quorum when the options leave it out.
#[napi]
pub const DEFAULT_CHECK_QUORUM: bool = Config::DEFAULT_CHECK_QUORUM;
/// Whether lease reads are on when the options leave it out.
#[napi]
pub const DEFAULT_LEASE_READS: bool = Config::DEFAULT_LEASE_READS;
/// `maxInflightMessages` when the options leave it out.
#[napi]
pub const DEFAULT_MAX_INFLIGHT_MESSAGES: u32 = Config::DEFAULT_MAX_INFLIGHT_MESSAGES as u32;
/// `maxInflightBytes` when the options leave it out.
#[napi]
pub const DEFAULT_MAX_INFLIGHT_BYTES: u32 = Config::DEFAULT_MAX_INFLIGHT_BYTES as u32;
/// `maxMessageBytes` when the options leave it out.
#[napi]
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = Config::DEFAULT_MAX_MESSAGE_BYTES as u32;
/// `segmentBytes` when the options leave it out.
#[napi]
pub const DEFAULT_SEGMENT_BYTES: u32 = storage::DEFAULT_SEGMENT_BYTES as u32;
/// The smallest `segmentBytes` (smaller sizes are raised to it).
#[napi]
pub const MIN_SEGMENT_BYTES: u32 = storage::MIN_SEGMENT_BYTES as u32;
/// The largest `maxMessageBytes` and `maxInflightBytes`.
#[napi]
pub const MAX_FLOW_BYTES: u32 = FLOW_BYTES_LIMIT as u32;
/// The longest node name, in UTF-8 bytes.
#[napi]
pub const MAX_NAME_BYTES: u32 = crate::node::MAX_NAME_BYTES as u32;
/// The largest `clusterSize`, and the most `members`.
#[napi]
pub const MAX_CLUSTER_SIZE: u32 = CLUSTER_SIZE_LIMIT;
/// The most members (voters and learners) a configuration has.
#[napi]
pub const MAX_MEMBERS: u32 = crate::raft::MAX_MEMBERS as u32;
/// The longest member address ("host:port") the native transport and the configuration take, in bytes.
#[napi]
pub const MAX_ADDRESS_BYTES: u32 = crate::node::MAX_ADDRESS_BYTES as u32;
/// The shortest shared secret of the native transport, in bytes.
#[napi]
pub const MIN_SECRET_BYTES: u32 = crate::runtime::MIN_SECRET_BYTES as u32;
/// The largest frame a client may send a node (a request), in bytes: `flotilla/client` refuses a larger request
/// before sending it.
#[napi]
pub const MAX_CLIENT_REQUEST_BYTES: u32 = crate::runtime::MAX_CLIENT_FRAME_BYTES as u32;
