//! flotilla: a Raft consensus engine for Node.js. The consensus core (`raft`) is pure and deterministic; the
//! node layer drives it with storage and a wire format; the binding exposes it to JavaScript.

pub mod binding;
pub mod node;
pub mod raft;
pub mod storage;
