//! Why a connection was refused or closed, and the counter each reason bumps.

use crate::frame_codec::FrameError;
use crate::handshake_messages::MessageError;
use crate::stats::Counters;

#[derive(Debug)]
pub(crate) enum Fault {
    /// The other side closed the connection or the socket failed: the ordinary end of a connection, not counted.
    Gone,
    HandshakeTimeout,
    BadMagicOrVersion,
    WrongCluster,
    /// A dialer using this node's own name, or an acceptor other than the peer that was dialed.
    UnknownOrSelfName,
    BadAuth,
    /// A client dialed a node that serves no clients.
    NoClients,
    /// A TLS handshake that failed (or a TLS alert).
    Tls,
    OversizedFrame,
    BadFrameMac,
    Malformed,
}

impl Fault {
    pub(crate) fn record(&self, counters: &Counters) {
        let counter = match self {
            Fault::Gone => return,
            Fault::HandshakeTimeout => &counters.refused_handshake_timeout,
            Fault::BadMagicOrVersion => &counters.refused_bad_magic_or_version,
            Fault::WrongCluster => &counters.refused_wrong_cluster,
            Fault::UnknownOrSelfName => &counters.refused_unknown_or_self_name,
            Fault::BadAuth => &counters.refused_bad_auth,
            Fault::NoClients => &counters.refused_clients,
            Fault::Tls => &counters.refused_tls,
            Fault::OversizedFrame => &counters.dropped_oversized_frame,
            Fault::BadFrameMac => &counters.dropped_bad_frame_mac,
            Fault::Malformed => &counters.malformed_frames,
        };
        Counters::bump(counter);
    }
}

impl Fault {
    /// Why a client's connection failed, in words for its caller.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Fault::Gone => "the node closed the connection (it may serve no clients, or not this cluster)",
            Fault::HandshakeTimeout => "the handshake did not finish in time",
            Fault::BadMagicOrVersion => "the node speaks another protocol or version",
            Fault::WrongCluster => "the node is of another cluster",
            Fault::UnknownOrSelfName => "the node answered with this client's own name",
            Fault::BadAuth => "authentication failed (a wrong secret, or a certificate that does not name the node)",
            Fault::NoClients => "the node serves no clients",
            Fault::Tls => "the TLS handshake failed (a certificate not signed by the cluster's CA, or not TLS)",
            Fault::OversizedFrame => "the node sent a frame above the size limit",
            Fault::BadFrameMac => "a frame failed its MAC",
            Fault::Malformed => "the node sent a malformed message",
        }
    }
}

impl From<FrameError> for Fault {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Oversized => Fault::OversizedFrame,
            FrameError::Truncated => Fault::Malformed,
            FrameError::BadMac => Fault::BadFrameMac,
            FrameError::Tls => Fault::Tls,
            FrameError::Io => Fault::Gone,
        }
    }
}

impl From<MessageError> for Fault {
    fn from(error: MessageError) -> Self {
        match error {
            MessageError::BadMagicOrVersion => Fault::BadMagicOrVersion,
            MessageError::Malformed => Fault::Malformed,
        }
    }
}
