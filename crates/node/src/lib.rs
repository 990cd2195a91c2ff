//! flotilla's node driver: drives one consensus core with its storage, timers, peers, recovery and snapshots.
//! Everything here runs on the caller's thread; the caller supplies the clock (`tick`), the messages its codecs
//! read (`receive`), and an `EventSink` that each `flush` hands the work to do: messages to send, entries to
//! apply, snapshots to restore or take, proposals settled. The driver speaks raft indices, the core's entries and
//! peer names; it knows nothing of JSON, of gaggle's indices or of threads (the binding keeps the gaggle view).

mod driver;
mod driver_stats;
mod events;
mod member_addresses;
mod member_names;
mod members;
mod open_error;
mod recovery;
mod requests;
mod saved_state;
mod snapshots;
mod status;
mod timing;
mod transfer_error;

pub use driver::{
    own_proposal_id, Members, MembershipError, NodeDriver, NodeOptions, Received, RequestProposed, WireStats,
    APPLY_BYTES_PER_FLUSH, MAX_NAME_BYTES, MAX_READ_NUMBER_BASE, SILENT_ELECTION_TIMEOUTS,
};
pub use driver_stats::DriverStats;
pub use events::{Event, EventSink, Events, Proposer};
pub use member_names::{encode as encode_member_names, MAX_ADDRESS_BYTES};
pub use members::{member_id, BindError, MemberRegistry, NamedMembership, MAX_MEMBER_ID};
pub use open_error::{MismatchError, OpenError};
pub use recovery::StorageOptions;
pub use requests::{proposal_id_of as request_proposal_id, request_id_of, RequestError, MAX_REQUEST_ID_BYTES};
pub use saved_state::{SavedEntry, SavedState, SavedStateError, MAX_SAVED_ENTRIES};
pub use snapshots::{SnapshotError, MAX_SNAPSHOT_DATA_BYTES};
pub use status::{MemberStatus, Status};
pub use timing::{Ticks, TimingMs};
pub use transfer_error::TransferError;
