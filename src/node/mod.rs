//! The node layer: drives one consensus core with its storage, speaks the wire, and keeps the gaggle view of
//! the log. Everything here runs on the caller's thread; the binding supplies the clock.

mod base64;
mod driver;
pub mod json;
mod output;
mod peers;
mod recovery;
mod requests;
mod saved_state;
mod snapshots;
mod timing;
pub mod wire;

pub use driver::{Members, NodeDriver, NodeOptions, WireStats};
pub use output::Wanted;
pub use peers::{PeerDirectory, SELF_ID};
pub use recovery::{OpenError, StorageOptions};
pub use requests::{RequestError, MAX_REQUEST_ID_BYTES};
pub use saved_state::{SavedEntry, SavedState};
pub use timing::{Ticks, TimingMs};
