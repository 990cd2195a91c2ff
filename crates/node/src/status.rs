//! A node's status as the driver knows it: the core's typed `Status`, with the names of the nodes it speaks of,
//! what recovery found, the counts of messages dropped before they reached the core, the driver's own counters
//! and its storage's fsync times.

use super::driver::WireStats;
use super::driver_stats::DriverStats;
use flotilla_raft::{NodeId, PeerProgress};
use flotilla_storage::FsyncTimes;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This node's name.
    pub name: String,
    pub core: flotilla_raft::Status,
    pub leader_name: Option<String>,
    pub voted_for_name: Option<String>,
    /// Every other seat, in seat order (the order members were configured or met); `name` is `None` for a seat
    /// not taken yet.
    pub members: Vec<MemberStatus>,
    /// Where recovery cut off a torn write at startup (file and offset).
    pub recovered_torn_tail: Option<String>,
    pub wire: WireStats,
    pub counters: DriverStats,
    /// How long the storage's fsyncs took; `None` for a store that does not fsync (in memory).
    pub fsync: Option<FsyncTimes>,
}

/// One other member: its name once met (discovery), and its replication progress as this node last led it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub id: NodeId,
    pub name: Option<String>,
    pub progress: Option<PeerProgress>,
}
