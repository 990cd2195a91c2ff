//! flotilla: a Raft consensus engine for Node.js. This package is the napi addon (`binding`); the engine is the
//! workspace's crates: the sans-IO core (`flotilla-raft`), storage (`flotilla-storage`), the wire codecs
//! (`flotilla-wire`) and the node driver (`flotilla-node`).

pub mod binding;
