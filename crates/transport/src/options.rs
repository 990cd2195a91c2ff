//! What the caller configures (`TransportOptions`, `Security`, `Lane`) and the checks `start` makes on it.

use std::fmt;

use crate::error::TransportError;

/// The largest frame accepted or sent unless `max_frame_bytes` says otherwise.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Frames waiting to be written, per peer and lane, unless `queue_frames` says otherwise.
pub const DEFAULT_QUEUE_FRAMES: usize = 4096;
/// The shortest shared secret `start` accepts: shorter ones are guessable offline from one recorded handshake.
pub const MIN_SECRET_BYTES: usize = 16;
/// Names and addresses travel in the handshake behind a one-byte length.
pub(crate) const MAX_NAME_BYTES: usize = 255;

#[derive(Clone)]
pub struct TransportOptions {
    /// The cluster's name: a peer of another cluster is refused.
    pub cluster: String,
    /// This node's name (1..=255 bytes UTF-8).
    pub name: String,
    /// "host:port" to bind (port 0: any free port).
    pub listen: String,
    /// The address peers should dial back (default: the bound address; set it when `listen` is a wildcard
    /// address such as 0.0.0.0, which peers cannot dial).
    pub advertise: Option<String>,
    /// (name, "host:port") of the peers to dial. An entry with this node's own name is skipped, so a full
    /// member list can be passed as it is.
    pub peers: Vec<(String, String)>,
    pub security: Security,
    /// The largest frame accepted or sent (default 16 MiB); larger: refused.
    pub max_frame_bytes: usize,
    /// Per peer and lane: frames waiting to be written (default 4096).
    pub queue_frames: usize,
    /// Where clients' frames go (`Client`, on the same port as the peers, authenticated the same way); None:
    /// clients are refused.
    pub clients: Option<tokio::sync::mpsc::Sender<crate::ClientEvent>>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            cluster: String::new(),
            name: String::new(),
            listen: "127.0.0.1:0".to_string(),
            advertise: None,
            peers: Vec::new(),
            security: Security::None { allow_remote: false },
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            queue_frames: DEFAULT_QUEUE_FRAMES,
            clients: None,
        }
    }
}

// Written by hand so that the secret never reaches a log line.
impl fmt::Debug for TransportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportOptions")
            .field("cluster", &self.cluster)
            .field("name", &self.name)
            .field("listen", &self.listen)
            .field("advertise", &self.advertise)
            .field("peers", &self.peers)
            .field("security", &self.security)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("queue_frames", &self.queue_frames)
            .field("clients", &self.clients.is_some())
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// No authentication. Refused at `start` unless `listen` is a loopback address or `allow_remote` is true.
    None { allow_remote: bool },
    /// A shared secret (at least 16 bytes): challenge-response handshake, HMAC-SHA256 on every frame after it.
    Secret(Vec<u8>),
    /// Mutual TLS (1.3): every connection is TLS, each side presents a certificate signed by the cluster's CA and
    /// verifies the other's against it, and the certificate must name the node (a subjectAltName DNS entry or the
    /// subject's common name equal to the node's name), so that one node's certificate cannot pass for another.
    /// All three are PEM: `cert_pem` this node's certificate (then any intermediates), `key_pem` its private key
    /// (PKCS#8, PKCS#1 or SEC1), `ca_pem` the cluster's CA certificate(s), the only roots trusted.
    Tls { cert_pem: Vec<u8>, key_pem: Vec<u8>, ca_pem: Vec<u8> },
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Security::None { allow_remote } => f.debug_struct("None").field("allow_remote", allow_remote).finish(),
            Security::Secret(secret) => write!(f, "Secret(<{} bytes>)", secret.len()),
            // The certificates are public, but long: their sizes say enough. The key is never shown.
            Security::Tls { cert_pem, key_pem: _, ca_pem } => write!(
                f,
                "Tls {{ cert_pem: <{} bytes>, key_pem: <redacted>, ca_pem: <{} bytes> }}",
                cert_pem.len(),
                ca_pem.len()
            ),
        }
    }
}

/// Bulk (snapshot chunks) has its own connection, so Messages never waits behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    Messages,
    Bulk,
}

impl Lane {
    pub(crate) const ALL: [Lane; 2] = [Lane::Messages, Lane::Bulk];

    /// The lane's slot in per-lane arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Lane::Messages => 0,
            Lane::Bulk => 1,
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Lane::Messages => 0,
            Lane::Bulk => 1,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Option<Lane> {
        match byte {
            0 => Some(Lane::Messages),
            1 => Some(Lane::Bulk),
            _ => None,
        }
    }
}

impl TransportOptions {
    /// Everything `start` can check before touching the network.
    pub(crate) fn check(&self) -> Result<(), TransportError> {
        check_name("cluster", &self.cluster)?;
        check_name("name", &self.name)?;
        if let Some(advertise) = &self.advertise {
            check_host_port(advertise)?;
        }
        for (name, address) in &self.peers {
            check_name("peer name", name)?;
            check_host_port(address)?;
        }
        if let Security::Secret(secret) = &self.security {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(TransportError::ShortSecret { len: secret.len() });
            }
        }
        // Every frame must fit the u32 length prefix together with its MAC tag.
        let largest_frame = u32::MAX as usize - crate::frame_mac::TAG_LEN;
        if self.max_frame_bytes == 0 || self.max_frame_bytes > largest_frame {
            return Err(TransportError::InvalidLimit { what: "max_frame_bytes", value: self.max_frame_bytes });
        }
        // tokio's bounded channel needs a capacity of at least one and at most its semaphore's limit.
        if self.queue_frames == 0 || self.queue_frames > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(TransportError::InvalidLimit { what: "queue_frames", value: self.queue_frames });
        }
        Ok(())
    }
}

pub(crate) fn name_is_valid(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_BYTES
}

pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), TransportError> {
    if name_is_valid(name) {
        Ok(())
    } else {
        Err(TransportError::InvalidName { what, name: name.to_string() })
    }
}

/// "host:port" with a non-empty host and a numeric port, short enough for the handshake. The host itself is
/// resolved only when dialed, so a name that does not resolve yet is not an error here.
pub(crate) fn host_port_is_valid(address: &str) -> bool {
    address.len() <= MAX_NAME_BYTES
        && address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

pub(crate) fn check_host_port(address: &str) -> Result<(), TransportError> {
    if host_port_is_valid(address) {
        Ok(())
    } else {
        Err(TransportError::BadAddress {
            address: address.to_string(),
            reason: "expected \"host:port\" of at most 255 bytes".to_string(),
        })
    }
}
