//! The native transport's options as the JS `tcp` channel passes them (it checks the user's options first, in
//! gaggle's words), checked again here, and its counters as JSON for `status()`.

use super::error::{self, CodedError};
use crate::node::{MAX_ADDRESS_BYTES, MAX_NAME_BYTES};
use crate::runtime::{RuntimeStats, Security, TransportOptions, DEFAULT_QUEUE_FRAMES, MIN_SECRET_BYTES};
use napi_derive::napi;

/// The largest frame: room for the largest append message (`MAX_FLOW_BYTES` of entries, written as JSON) and
/// snapshot chunk.
pub const MAX_FRAME_BYTES: usize = 3 * super::options::MAX_FLOW_BYTES as usize;
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
        let security = security(self.secret, self.tls, self.allow_remote.unwrap_or(false))?;
        Ok(TransportOptions {
            cluster: self.cluster,
            name: name.to_string(),
            listen: address("\"listen\"", &self.listen)?,
            advertise: self.advertise.map(|advertise| address("\"advertise\"", &advertise)).transpose()?,
            peers,
            security,
            max_frame_bytes: MAX_FRAME_BYTES,
            queue_frames: DEFAULT_QUEUE_FRAMES,
            // The runtime connects it when the node serves clients.
            clients: None,
        })
    }
}

/// The security settings of a node or a client: a secret, mutual TLS, or neither.
pub fn security(secret: Option<String>, tls: Option<NativeTls>, allow_remote: bool) -> Result<Security, CodedError> {
    let wrong = |why: String| error::invalid_argument(format!("transport: {why}"));
    Ok(match (secret, tls) {
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
        (None, None) => Security::None { allow_remote },
    })
}

/// The counters as a JSON object (`status().transport`), in camelCase.
pub fn transport_stats_json(stats: &RuntimeStats) -> String {
    let runtime = [("unknown_frames", stats.unknown_frames), ("outputs", stats.outputs), ("wakeups", stats.wakeups)];
    let fields: Vec<String> = (stats.transport.fields().into_iter().chain(runtime))
        .map(|(name, value)| format!("\"{}\":{value}", camel_case(name)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// `frames_sent` as JS spells it: `framesSent`.
fn camel_case(name: &str) -> String {
    let mut words = name.split('_');
    let mut out = words.next().unwrap_or_default().to_string();
    for word in words {
        let mut letters = word.chars();
        if let Some(first) = letters.next() {
            out.extend(first.to_uppercase());
            out.push_str(letters.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_in_the_json_in_camel_case() {
        let stats = RuntimeStats { unknown_frames: 3, outputs: 4, wakeups: 5, ..RuntimeStats::default() };
        let json: serde_json::Value = serde_json::from_str(&transport_stats_json(&stats)).expect("JSON");
        let keys: Vec<&str> = json.as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), stats.transport.fields().len() + 3, "{keys:?}");
        for key in ["framesSent", "refusedBadMagicOrVersion", "refusedTls", "droppedBadFrameMac", "malformedFrames"] {
            assert_eq!(json[key], 0, "{key}");
        }
        assert_eq!((json["unknownFrames"].as_u64(), json["outputs"].as_u64()), (Some(3), Some(4)));
        assert_eq!(json["wakeups"].as_u64(), Some(5));
    }
}
