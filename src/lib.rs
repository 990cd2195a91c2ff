//! flotilla: a Raft consensus engine for Node.js. The consensus core (`raft`) is pure and deterministic; the
//! layers above it drive it with timers, storage and a network, and expose it to JavaScript.

pub mod raft;
