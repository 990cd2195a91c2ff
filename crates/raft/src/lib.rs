//! The sans-IO Raft consensus core: no clock, no network, no files, no randomness but a seeded one.
//! A driver feeds it ticks, messages and proposals and carries out the `Ready` work it returns.
//!
//! # Driving the core
//!
//! A driver owns one [`Raft`] and repeats, in this order:
//!
//! 1. **Inputs.** [`Raft::tick`] on a timer (elections and heartbeats are counted in ticks), [`Raft::step`] for
//!    each message from a peer, [`Raft::propose`] for each entry the application wants replicated.
//! 2. **Ready.** [`Raft::ready`] takes the work those inputs made ([`Raft::has_ready`] says whether there is any).
//! 3. **Persist.** Write `ready.persist` (hard state, received snapshot, entries) to storage and make it durable.
//! 4. **Persisted.** Acknowledge the write with [`Raft::persisted`]`(token)`. Only then may the core count the
//!    entries as its own (a leader's commit) or send what promised them (votes, append replies): those messages
//!    are held back and come in a later `Ready`.
//! 5. **Send** `ready.messages` to their `to` nodes. Losing, reordering or repeating them is safe.
//! 6. **Apply** `ready.snapshot` (if any) and then `ready.committed`, in order, to the state machine; entries
//!    whose [`Entry::is_user_data`] is false are the engine's own.
//!
//! Three nodes in one thread, storage in memory and messages handed over at once, until one entry commits:
//!
//! ```
//! use flotilla_raft::{Config, Message, PersistRequest, Raft, RestoredState, Role};
//!
//! let ids = [1, 2, 3];
//! let mut nodes: Vec<Raft> =
//!     ids.iter().map(|&id| Raft::new(Config::new(id), RestoredState::new_cluster(ids)).unwrap()).collect();
//! let mut disks: Vec<Vec<PersistRequest>> = vec![Vec::new(); 3]; // stands in for durable storage
//! let mut applied: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3]; // each node's state machine
//! let mut network: Vec<Message> = Vec::new();
//! let mut proposed = false;
//!
//! for _ in 0..1_000 {
//!     // 1. Inputs: a tick for every node, then every message in flight.
//!     for node in &mut nodes {
//!         node.tick();
//!     }
//!     for message in std::mem::take(&mut network) {
//!         // A message the core refuses (stale, malformed) is dropped and counted: nothing else to do.
//!         let _ = nodes[message.to as usize - 1].step(message);
//!     }
//!     if !proposed {
//!         if let Some(leader) = nodes.iter_mut().find(|node| node.role() == Role::Leader) {
//!             leader.propose("greeting-1".into(), b"hello"[..].into()).unwrap();
//!             proposed = true;
//!         }
//!     }
//!     for (i, node) in nodes.iter_mut().enumerate() {
//!         while node.has_ready() {
//!             // 2. Ready.
//!             let ready = node.ready();
//!             if let Some(write) = ready.persist {
//!                 // 3. Persist (a real driver writes and fsyncs here), then 4. acknowledge.
//!                 let token = write.token;
//!                 disks[i].push(write);
//!                 node.persisted(token);
//!             }
//!             // 5. Send.
//!             network.extend(ready.messages);
//!             // 6. Apply.
//!             for entry in ready.committed.iter().filter(|entry| entry.is_user_data()) {
//!                 applied[i].push(entry.data.to_vec());
//!             }
//!         }
//!     }
//!     if applied.iter().all(|state| !state.is_empty()) {
//!         break;
//!     }
//! }
//! assert!(applied.iter().all(|state| *state == [b"hello".to_vec()]), "every node applied the entry once");
//! ```

mod chunked;
mod conf_change;
mod config;
mod error;
mod id_index;
mod limits;
mod log;
mod message;
mod own_indices;
mod progress;
mod proposal_ids;
mod proposals;
mod quorum;
mod raft;
mod read_queue;
mod ready;
mod rng;
mod snapshot;
mod stats;
mod status;
mod tracker;
mod types;

pub use conf_change::{ConfChangeError, ConfEntry, MAX_MEMBERS};
pub use config::Config;
#[cfg(feature = "bug-injection")]
pub use config::InjectedBug;
pub use error::{
    CompactError, ConfigError, DropReason, ProposeError, ReadError, RestoredStateError, SeatError, TransferError,
};
pub use limits::{MAX_ID_BYTES, MAX_INDEX, MAX_STRANGER_TERM_STEP, MAX_TERM, MAX_TERM_STEP, MAX_WIRE_INTEGER};
pub use log::RaftLog;
pub use message::{Message, MessageBody};
pub use own_indices::OwnIndices;
pub use proposal_ids::ProposalIds;
pub use raft::{is_caught_up, Raft, RestoredState, CATCH_UP_ENTRIES};
pub use ready::{PersistRequest, ReadState, Ready, SoftState};
pub use snapshot::{decode_stream, encode_stream, stream_len, write_stream, MAX_SNAPSHOT_BYTES};
pub use stats::Stats;
pub use status::{PeerProgress, SnapshotTransfer, Status};
pub use tracker::Membership;
pub use types::{
    Entry, EntryKind, HardState, Index, NodeId, Payload, Proposal, ProposalId, Proposed, Role, Snapshot, SnapshotMeta,
    Term,
};
