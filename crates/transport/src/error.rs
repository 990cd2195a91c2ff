//! The errors `Transport::start` reports: every one names the option or address at fault.

use std::fmt;

#[derive(Debug)]
pub enum TransportError {
    /// `cluster`, `name` or a peer's name is empty or longer than 255 bytes.
    InvalidName { what: &'static str, name: String },
    /// An address is not "host:port", or `listen` does not resolve.
    BadAddress { address: String, reason: String },
    /// The listener could not be bound.
    Bind { address: String, error: std::io::Error },
    /// `Security::None` on an address other than loopback, without `allow_remote`.
    InsecureRemote { address: String },
    /// The shared secret is shorter than `MIN_SECRET_BYTES`.
    ShortSecret { len: usize },
    /// `Security::Tls` settings that cannot be used: PEM without a certificate or key, a key that does not match
    /// the certificate, a certificate not signed by the CA or not naming this node.
    Tls { reason: String },
    /// `max_frame_bytes` or `queue_frames` is out of range.
    InvalidLimit { what: &'static str, value: usize },
    /// A client could not reach the node at `address`, or the handshake failed there (`reason` says how).
    Connect { address: String, reason: String },
    /// `start` was not called from within a tokio runtime, which its tasks need.
    NoRuntime,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::InvalidName { what, name } => {
                write!(f, "{what} {name:?} must be 1 to 255 bytes of UTF-8")
            }
            TransportError::BadAddress { address, reason } => write!(f, "bad address {address:?}: {reason}"),
            TransportError::Bind { address, error } => write!(f, "cannot listen on {address}: {error}"),
            TransportError::InsecureRemote { address } => write!(
                f,
                "refusing to listen on {address} without a secret or TLS: it is not a loopback address \
                 (use Security::Secret or Security::Tls, or Security::None {{ allow_remote: true }} on a trusted \
                 network)"
            ),
            TransportError::ShortSecret { len } => write!(
                f,
                "the cluster secret is {len} bytes; it must be at least {} bytes",
                crate::options::MIN_SECRET_BYTES
            ),
            TransportError::Tls { reason } => write!(f, "TLS settings: {reason}"),
            TransportError::InvalidLimit { what, value } => write!(f, "{what} = {value} is out of range"),
            TransportError::Connect { address, reason } => write!(f, "cannot connect to {address}: {reason}"),
            TransportError::NoRuntime => write!(f, "the transport must be started from within a tokio runtime"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Bind { error, .. } => Some(error),
            _ => None,
        }
    }
}
