//! flotilla's node driver: drives one consensus core with its storage, timers, peers, recovery and snapshots,
//! and keeps the gaggle view of the log. Everything here runs on the caller's thread; the binding supplies the
//! clock.
//!
//! Not yet JSON-free: the driver still decodes gaggle JSON messages (`flotilla_wire::decode`), writes messages,
//! the status, the log and the JS output batch as JSON (`output.rs`, `NodeDriver::{status_json, log_json}`),
//! reads snapshot envelopes (`snapshots.rs`), speaks in gaggle's 0-based user-entry indices (`requests.rs`,
//! `saved_state.rs`). Node ids are derived from names (`members.rs`). The next step gives it typed events and a typed
//! `Status` and moves the JSON and the gaggle view to the binding.

mod driver;
mod members;
mod output;
mod recovery;
mod requests;
mod saved_state;
mod snapshots;
mod timing;
mod transfer_error;

pub use driver::{Members, NodeDriver, NodeOptions, WireStats};
pub use members::{member_id, BindError, MAX_MEMBER_ID};
pub use output::Wanted;
pub use recovery::{OpenError, StorageOptions};
pub use requests::{RequestError, MAX_REQUEST_ID_BYTES};
pub use saved_state::{SavedEntry, SavedState};
pub use snapshots::SnapshotError;
pub use timing::{Ticks, TimingMs};
pub use transfer_error::TransferError;
