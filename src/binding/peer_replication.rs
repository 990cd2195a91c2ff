//! The typed value `NativeNode.replication()` hands to JS: one follower's replication progress, as its leader
//! sees it (brig's `sentLength` and `ackedLength` are read from it).

use napi_derive::napi;

/// One follower's replication progress, in raft indices.
#[napi(object)]
pub struct PeerReplication {
    pub id: String,
    pub match_index: f64,
    pub next_index: f64,
}
