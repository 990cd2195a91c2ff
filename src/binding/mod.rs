//! The napi-rs classes that put the engine into Node.js. Conversion only: every decision is made below, in the
//! node layer and the core. Bad arguments become thrown JS `Error`s with a stable `code` (`error.rs`); nothing
//! here panics on input.

mod client_hook;
pub mod defaults;
mod error;
mod gaggle_engine;
mod gaggle_node;
mod gaggle_status;
mod gaggle_view;
mod inspect;
mod inspect_report;
mod native_client;
mod native_node;
mod options;
mod options_error;
mod peer_replication;
mod proposal_queue;
mod storage_acks;
mod strict_object;
mod tasks;
mod transport_options;

pub use native_client::NativeClient;
pub use native_node::{NativeNode, MAX_REQUEST_ID_BYTES};
