//! Counters the driver keeps beside the core's: what was asked of this node (proposals, reads by kind), what it
//! wrote to its log, and the application's snapshots it took and restored, with the size of the last of each.
//! Exposed by `status()`, for the metrics.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Proposals the core took from this node's application (a request that had committed already is none).
    pub proposals: u64,
    /// Reads asked with `lease` (served at once from the lease, or waiting for a read index).
    pub lease_reads: u64,
    /// Reads asked without `lease`: each waits for a read index confirmed by a quorum.
    pub read_index_reads: u64,
    /// Entries handed to storage to be appended to this node's log (as leader or as follower).
    pub entries_appended: u64,
    /// Snapshots of the application this node took (its log was compacted behind them).
    pub snapshots_taken: u64,
    pub last_snapshot_taken_bytes: u64,
    /// Snapshots handed to the application to restore: at a restart, or received from the leader.
    pub snapshots_restored: u64,
    pub last_snapshot_restored_bytes: u64,
}

impl DriverStats {
    pub(crate) fn read_asked(&mut self, lease: bool) {
        if lease {
            self.lease_reads += 1;
        } else {
            self.read_index_reads += 1;
        }
    }

    pub(crate) fn snapshot_taken(&mut self, data_bytes: usize) {
        self.snapshots_taken += 1;
        self.last_snapshot_taken_bytes = data_bytes as u64;
    }

    pub(crate) fn snapshot_restored(&mut self, data_bytes: usize) {
        self.snapshots_restored += 1;
        self.last_snapshot_restored_bytes = data_bytes as u64;
    }
}
