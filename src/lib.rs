//! flotilla: a Raft consensus engine for Node.js. This package is the napi addon (`binding`); the engine is the
//! workspace's crates: the sans-IO core (`flotilla-raft`), storage (`flotilla-storage`), the wire codecs
//! (`flotilla-wire`), the node driver (`flotilla-node`), and the node on its own thread with the native transport
//! (`flotilla-runtime`, `flotilla-transport`).

pub mod binding;

// The binding reaches the engine by these paths; the gaggle wire codecs are reached beside the driver
// (`node::wire`).
use flotilla_raft as raft;
use flotilla_runtime as runtime;
use flotilla_storage as storage;
mod node {
    pub use flotilla_node::*;
    pub use flotilla_wire as wire;
}
