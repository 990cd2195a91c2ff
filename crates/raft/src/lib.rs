//! The sans-IO Raft consensus core: no clock, no network, no files, no randomness but a seeded one.
//! A driver feeds it ticks, messages and proposals and carries out the `Ready` work it returns.

mod chunked;
mod config;
mod error;
mod id_index;
mod limits;
mod log;
mod message;
mod progress;
mod proposal_ids;
mod proposals;
mod quorum;
mod raft;
mod ready;
mod rng;
mod snapshot;
mod stats;
mod tracker;
mod types;

pub use config::Config;
#[cfg(feature = "bug-injection")]
pub use config::InjectedBug;
pub use error::{CompactError, ConfigError, DropReason, ProposeError, TransferError};
pub use limits::{MAX_INDEX, MAX_TERM, MAX_TERM_STEP, MAX_WIRE_INTEGER};
pub use log::RaftLog;
pub use proposal_ids::ProposalIds;
pub use message::{Message, MessageBody};
pub use raft::{Raft, RestoredState};
pub use ready::{PersistRequest, Ready, SoftState};
pub use stats::Stats;
pub use tracker::Membership;
pub use snapshot::{decode_stream, encode_stream, stream_len, write_stream, MAX_SNAPSHOT_BYTES};
pub use types::{
    Entry, EntryKind, HardState, Index, NodeId, Payload, Proposal, ProposalId, Proposed, Role, Snapshot, SnapshotMeta,
    Term,
};
