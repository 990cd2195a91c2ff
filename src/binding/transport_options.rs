//! The native transport's options as the JS `tcp` channel passes them (it checks the user's options first, in
//! gaggle's words), checked again here, and its counters as JSON for `status()`.

use super::error::{self, CodedError};
use crate::node::MAX_NAME_BYTES;
use crate::runtime::{RuntimeStats, Security, TransportOptions, DEFAULT_QUEUE_FRAMES, MIN_SECRET_BYTES};
use napi_derive::napi;

/// The longest address ("host:port") accepted.
const MAX_ADDRESS_BYTES: usize = 255;
/// The largest frame: room for the largest append message (`MAX_FLOW_BYTES` of entries, written as JSON) and
/// snapshot chunk.
const MAX_FRAME_BYTES: usize = 3 * super::options::MAX_FLOW_BYTES as usize;
/// The most peers a node is told of at start (the configuration's limit).
const MAX_PEERS: usize = crate::raft::MAX_MEMBERS;
/// The largest PEM text accepted for each of the TLS certificate, key and CA (a certificate chain is a few KiB).
const MAX_PEM_BYTES: usize = 1024 * 1024;

#[napi(object)]
pub struct NativeTransportOptions {
    /// The cluster's name: a peer that names another is refused.
    pub cluster: String,
    /// "host:port" to listen on (port 0: any free port).
    pub listen: String,
    /// The address peers dial to reach this node (default: the one it listens on).
    pub advertise: Option<String>,
    /// The peers to dial, by name.
    pub peers: Vec<NativePeerAddress>,
    /// A shared secret (at least 16 bytes of UTF-8): peers prove they know it, and every frame is authenticated.
    pub secret: Option<String>,
    /// Without a secret, listen on an address other than loopback anyway.
    pub allow_remote: Option<bool>,
    /// Mutual TLS instead of a secret: every connection is TLS, and each side's certificate must be signed by the
    /// cluster's CA and name its node.
    pub tls: Option<NativeTls>,
}

/// Mutual TLS settings, each PEM text (at most 1 MiB).
#[napi(object)]
pub struct NativeTls {
    /// This node's certificate (then any intermediates): signed by the CA, naming the node in a subjectAltName
    /// DNS entry or its subject's common name.
    pub cert: String,
    /// This node's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// The cluster's CA certificate(s): the only roots trusted.
    pub ca: String,
}

#[napi(object)]
pub struct NativePeerAddress {
    pub name: String,
    pub address: String,
}

impl NativeTransportOptions {
    pub fn into_transport_options(self, name: &str) -> Result<TransportOptions, CodedError> {
        let wrong = |why: String| error::invalid_argument(format!("transport: {why}"));
        if self.cluster.is_empty() || self.cluster.len() > MAX_NAME_BYTES {
            return Err(wrong(format!("the cluster name must be 1 to {MAX_NAME_BYTES} bytes")));
        }
        let address = |what: &str, address: &str| {
            if address.is_empty() || address.len() > MAX_ADDRESS_BYTES {
                return Err(wrong(format!("{what} must be \"host:port\", at most {MAX_ADDRESS_BYTES} bytes")));
            }
            Ok(address.to_string())
        };
        if self.peers.len() > MAX_PEERS {
            return Err(wrong(format!("at most {MAX_PEERS} peers")));
        }
        let mut peers = Vec::with_capacity(self.peers.len());
        for peer in &self.peers {
            if peer.name.is_empty() || peer.name.len() > MAX_NAME_BYTES || peer.name == name {
                return Err(wrong(format!("a peer's name must be another node's, 1 to {MAX_NAME_BYTES} bytes")));
            }
            peers.push((peer.name.clone(), address("a peer's address", &peer.address)?));
        }
        let security = match (self.secret, self.tls) {
            (Some(_), Some(_)) => return Err(wrong("a secret and tls cannot both be given".to_string())),
            (Some(secret), None) if secret.len() < MIN_SECRET_BYTES => {
                return Err(wrong(format!("the secret must be at least {MIN_SECRET_BYTES} bytes")))
            }
            (Some(secret), None) => Security::Secret(secret.into_bytes()),
            (None, Some(tls)) => {
                for (what, pem) in [("cert", &tls.cert), ("key", &tls.key), ("ca", &tls.ca)] {
                    if pem.is_empty() || pem.len() > MAX_PEM_BYTES {
                        return Err(wrong(format!("tls.{what} must be PEM text of 1 byte to 1 MiB")));
                    }
                }
                Security::Tls {
                    cert_pem: tls.cert.into_bytes(),
                    key_pem: tls.key.into_bytes(),
                    ca_pem: tls.ca.into_bytes(),
                }
            }
            (None, None) => Security::None { allow_remote: self.allow_remote.unwrap_or(false) },
        };
        Ok(TransportOptions {
            cluster: self.cluster,
            name: name.to_string(),
            listen: address("\"listen\"", &self.listen)?,
            advertise: self.advertise.map(|advertise| address("\"advertise\"", &advertise)).transpose()?,
            peers,
            security,
            max_frame_bytes: MAX_FRAME_BYTES,
            queue_frames: DEFAULT_QUEUE_FRAMES,
        })
    }
}

/// The counters as a JSON object (`status().transport`), in camelCase.
pub fn transport_stats_json(stats: &RuntimeStats) -> String {
    let t = &stats.transport;
    let counters: [(&str, u64); 25] = [
        ("framesSent", t.frames_sent),
        ("framesReceived", t.frames_received),
        ("bytesSent", t.bytes_sent),
        ("bytesReceived", t.bytes_received),
        ("droppedQueueFull", t.dropped_queue_full),
        ("droppedUnknownPeer", t.dropped_unknown_peer),
        ("droppedTooLarge", t.dropped_too_large),
        ("droppedClosed", t.dropped_closed),
        ("droppedWriteFailed", t.dropped_write_failed),
        ("connectionsAccepted", t.connections_accepted),
        ("connectionsDialed", t.connections_dialed),
        ("reconnects", t.reconnects),
        ("openConnections", t.open_connections),
        ("refusedBadMagicOrVersion", t.refused_bad_magic_or_version),
        ("refusedWrongCluster", t.refused_wrong_cluster),
        ("refusedUnknownOrSelfName", t.refused_unknown_or_self_name),
        ("refusedBadAuth", t.refused_bad_auth),
        ("refusedTls", t.refused_tls),
        ("refusedHandshakeTimeout", t.refused_handshake_timeout),
        ("refusedTooManyConnections", t.refused_too_many_connections),
        ("droppedOversizedFrame", t.dropped_oversized_frame),
        ("droppedBadFrameMac", t.dropped_bad_frame_mac),
        ("malformedFrames", t.malformed_frames),
        ("unknownFrames", stats.unknown_frames),
        ("outputs", stats.outputs),
    ];
    let fields: Vec<String> = counters.iter().map(|(key, value)| format!("\"{key}\":{value}")).collect();
    format!("{{{}}}", fields.join(","))
}
