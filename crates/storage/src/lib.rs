//! Where a node's persistent state goes. The driver hands every `PersistRequest` to a `Storage` and acknowledges
//! it to the core only once the storage says it is durable. The volatile store (the default, as in gaggle) keeps
//! nothing; the durable write-ahead log arrives with the durability work and implements the same trait.

mod codec;
#[cfg(test)]
mod crash_during_snapshot_tests;
mod crash_point;
mod durable;
mod error;
mod fsync_histogram;
mod fsync_log;
pub mod inspect;
mod lock;
mod manifest;
mod range_checksums;
mod regular_file;
mod segment;
pub mod snapshot_file;
mod volatile;
mod wal;
mod writer;

pub use codec::Record;
pub use durable::DurableStorage;
pub use error::StorageError;
pub use fsync_histogram::{FsyncTimes, FSYNC_BUCKET_BOUNDS_SECONDS};
pub use volatile::VolatileStorage;
pub use wal::{seed_salts_for_tests, Recovered, Wal, DEFAULT_SEGMENT_BYTES, MIN_SEGMENT_BYTES};
pub use writer::{WalWriter, WriterEvent};

use flotilla_raft::PersistRequest;

/// What became of a submitted write.
#[derive(Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Durable already (as far as this store promises): acknowledge the token now.
    Done(u64),
    /// Accepted; the store reports completion later (off the JS thread).
    Pending,
}

pub trait Storage: Send {
    fn submit(&mut self, request: PersistRequest) -> Submitted;

    /// The members (names with their node ids) changed: keep them with the log (a no-op when nothing is kept).
    fn record_members(&mut self, _members: &[(flotilla_raft::NodeId, String)]) {}

    /// The application took a snapshot: keep it, and drop the log it covers (a no-op when nothing is kept).
    fn save_snapshot(&mut self, _snapshot: &flotilla_raft::Snapshot) {}

    /// How long this store's fsyncs took so far; `None` for a store that does not fsync.
    fn fsync_times(&self) -> Option<FsyncTimes> {
        None
    }
}
