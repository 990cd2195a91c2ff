//! flotilla's native network transport (see SPEC.md): frames between named nodes over tokio TCP.
//!
//! A node writes on the connections it dials and reads on the ones it accepts, one connection per direction and
//! lane. Every connection opens with a handshake (names, cluster, version and, with a shared secret, a
//! challenge-response proof both ways); with a secret every frame after it carries a truncated HMAC-SHA256 under
//! a per-connection session key. With mutual TLS the connection is TLS from its first byte, each side's
//! certificate signed by the cluster's CA and naming the node, and the same handshake runs inside it.

mod backoff;
mod client;
mod client_table;
mod cluster_key;
mod connection;
mod dialer;
mod error;
mod fault;
mod frame_codec;
mod frame_mac;
mod handshake;
mod handshake_messages;
mod handshake_places;
mod listener;
mod options;
mod peers;
mod readers;
mod shared;
mod stats;
mod tls;
mod transport;

pub use client::{Client, ClientOptions};
pub use client_table::{
    ClientEvent, CLIENT_QUEUE_BYTES, CLIENT_QUEUE_FRAMES, IDLE_BEFORE_EVICTION, MAX_CLIENTS, MAX_CLIENT_FRAME_BYTES,
};
pub use cluster_key::client_key;
pub use error::TransportError;
pub use options::{Lane, Security, TransportOptions, DEFAULT_MAX_FRAME_BYTES, DEFAULT_QUEUE_FRAMES, MIN_SECRET_BYTES};
pub use stats::TransportStats;
pub use transport::{ClientReplies, Inbound, PeerAddresses, Transport};
