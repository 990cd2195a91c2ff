//! The transport's counters: atomics bumped by every task, snapshotted into the plain `TransportStats`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Declares `TransportStats` (plain u64 fields) and `Counters` (one AtomicU64 per field) from one list, so that
/// the two can never drift apart.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        /// A snapshot of the transport's counters. `open_connections` is a gauge; every other field only grows.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct TransportStats {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        #[derive(Default)]
        pub(crate) struct Counters {
            $(pub(crate) $field: AtomicU64,)*
        }

        impl TransportStats {
            /// Every counter with its field's name, in declaration order (for reports that list them all).
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> TransportStats {
                TransportStats { $($field: self.$field.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Frames written to a peer's connection (counted once flushed).
    frames_sent,
    /// Frames read from a connection and authenticated, to be handed to the inbound channel.
    frames_received,
    /// Payload bytes of `frames_sent` (without length prefixes and MACs).
    bytes_sent,
    /// Payload bytes of `frames_received`.
    bytes_received,
    /// `send` found the peer's queue for that lane full.
    dropped_queue_full,
    /// `send` named no known peer.
    dropped_unknown_peer,
    /// `send` was given a frame above `max_frame_bytes`.
    dropped_too_large,
    /// `send` found the peer's writer gone (the transport is shutting down).
    dropped_closed,
    /// Frames taken from a queue whose connection failed before they were flushed.
    dropped_write_failed,
    /// Accepted connections that completed the handshake.
    connections_accepted,
    /// Dialed connections that completed the handshake.
    connections_dialed,
    /// Dials after a lane's first one (after a failure or a closed connection).
    reconnects,
    /// TCP connections open now, dialed and accepted, including those still in the handshake (a gauge).
    open_connections,
    /// A handshake message with the wrong magic or protocol version.
    refused_bad_magic_or_version,
    /// A dialer of another cluster.
    refused_wrong_cluster,
    /// A dialer using this node's own name, or an acceptor that is not the peer that was dialed.
    refused_unknown_or_self_name,
    /// A wrong secret: a bad or missing MAC in the handshake, on either side. With TLS: a peer whose certificate
    /// (valid, signed by the cluster's CA) does not name the node it says it is, or was dialed as.
    refused_bad_auth,
    /// With TLS: a TLS handshake that failed, on either side: not TLS at all (plaintext, garbage), no client
    /// certificate, a certificate not signed by the cluster's CA, expired, or of the wrong kind.
    refused_tls,
    /// A handshake not finished within 5 seconds.
    refused_handshake_timeout,
    /// A client's connection to a node that serves no clients.
    refused_clients,
    /// Clients' connections that completed the handshake and were served.
    clients_accepted,
    /// Clients' connections closed because 64 clients (`MAX_CLIENTS`) were connected: a newcomer, after its
    /// handshake, or the client idle longest, whose place a newcomer took.
    refused_too_many_clients,
    /// Accepted connections closed because others were waiting: in their handshake when 256 newer ones were
    /// (the one waiting longest gives its place to the newest), or after it when 256 peers' connections were open.
    refused_too_many_connections,
    /// An incoming length prefix above the limit (the connection is closed).
    dropped_oversized_frame,
    /// A frame whose MAC did not verify: altered, replayed, reordered or injected (the connection is closed).
    dropped_bad_frame_mac,
    /// A frame that does not parse, is cut off by the end of the stream, or is not expected (the connection is
    /// closed).
    malformed_frames,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Holds one unit of `open_connections` for as long as a connection's socket lives.
pub(crate) struct OpenConnection<'a> {
    counters: &'a Counters,
}

impl<'a> OpenConnection<'a> {
    pub(crate) fn new(counters: &'a Counters) -> Self {
        Counters::bump(&counters.open_connections);
        OpenConnection { counters }
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.counters.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}
