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
            Fault::Tls => &counters.refused_tls,
            Fault::OversizedFrame => &counters.dropped_oversized_frame,
            Fault::BadFrameMac => &counters.dropped_bad_frame_mac,
            Fault::Malformed => &counters.malformed_frames,
        };
        Counters::bump(counter);
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
