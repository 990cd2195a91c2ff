//! The handle the runtime holds: `start` binds and dials, `send` queues, and `close` stops every task.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster_key::{client_key, ClusterKey};
use crate::error::TransportError;
use crate::listener;
use crate::options::{host_port_is_valid, name_is_valid, Lane, Security, TransportOptions};
use crate::shared::{lock, Shared};
use crate::stats::TransportStats;
use crate::tls::TlsContext;

/// A frame received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub from: String,
    pub frame: Bytes,
}

/// Replies to clients (`Transport::send_to_client`), from wherever the transport handle is not.
#[derive(Clone)]
pub struct ClientReplies {
    shared: Arc<Shared>,
}

impl ClientReplies {
    pub fn send(&self, client: u64, frame: Bytes) -> bool {
        self.shared.send_to_client(client, frame)
    }
}

/// The peers' addresses (given, or learned from their handshakes), read from wherever the transport handle is
/// not, without waiting for the thread that holds it.
#[derive(Clone)]
pub struct PeerAddresses {
    shared: Arc<Shared>,
}

impl PeerAddresses {
    /// The address the transport dials `name` at, if it is a peer.
    pub fn get(&self, name: &str) -> Option<String> {
        lock(&self.shared.peers).address_of(name)
    }
}

/// A running transport. Dropping it stops its tasks too, without waiting for them; `close` waits.
pub struct Transport {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl Transport {
    /// Binds the listener and starts dialing the peers (in the calling tokio runtime). Errors: bad address,
    /// bind failure, Security::None on a non-loopback address without allow_remote, a secret shorter than 16 bytes,
    /// TLS settings that cannot be used (PEM without a certificate or key, a certificate not signed by the CA or
    /// not naming this node).
    pub async fn start(options: TransportOptions, inbound: mpsc::Sender<Inbound>) -> Result<Transport, TransportError> {
        // Checked first: without a runtime, resolving the address would panic.
        let runtime = Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        options.check()?;
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host(options.listen.as_str())
            .await
            .map_err(|error| TransportError::BadAddress { address: options.listen.clone(), reason: error.to_string() })?
            .collect();
        if addresses.is_empty() {
            return Err(TransportError::BadAddress {
                address: options.listen.clone(),
                reason: "resolves to no address".to_string(),
            });
        }
        let (key, tls) = match &options.security {
            Security::Secret(secret) => {
                (Some((ClusterKey::new(secret)?, ClusterKey::new(&client_key(secret)?)?)), None)
            }
            Security::Tls { cert_pem, key_pem, ca_pem } => {
                (None, Some(TlsContext::new(&options.name, cert_pem, key_pem, ca_pem, true)?))
            }
            Security::None { allow_remote } => {
                if !allow_remote && addresses.iter().any(|address| !address.ip().is_loopback()) {
                    return Err(TransportError::InsecureRemote { address: options.listen.clone() });
                }
                (None, None)
            }
        };
        let bind_error = |error| TransportError::Bind { address: options.listen.clone(), error };
        let listener = TcpListener::bind(addresses.as_slice()).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let shared = Arc::new(Shared {
            cluster: options.cluster,
            advertise: options.advertise.unwrap_or_else(|| local_addr.to_string()),
            client_key: key.as_ref().map(|(_, client)| client.clone()),
            key: key.map(|(peers, _)| peers),
            tls,
            max_frame_bytes: options.max_frame_bytes,
            queue_frames: options.queue_frames,
            stats: Default::default(),
            peers: Default::default(),
            readers: Default::default(),
            inbound,
            clients: options.clients,
            client_table: Default::default(),
            runtime,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            name: options.name,
        });
        for (name, address) in &options.peers {
            // A member list that includes this node is fine: it never dials itself.
            if *name != shared.name {
                shared.set_peer(name, address);
            }
        }
        shared.spawn(listener::run(Arc::clone(&shared), listener));
        Ok(Transport { shared, local_addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Never blocks. Queues the frame for `to` on `lane`; false (and counted) when dropped: unknown peer, queue
    /// full, frame too large, closed. Raft tolerates lost messages, so dropping is the backpressure.
    pub fn send(&self, to: &str, lane: Lane, frame: Bytes) -> bool {
        self.shared.send(to, lane, frame)
    }

    /// Adds or changes a peer's address (dials it), or forgets a peer (closes its connections). A name that is
    /// empty, longer than 255 bytes or this node's own, or an address that is not "host:port", is ignored.
    pub fn set_peer(&self, name: &str, address: &str) {
        if name_is_valid(name) && name != self.shared.name && host_port_is_valid(address) {
            self.shared.set_peer(name, address);
        }
    }

    /// Queues a reply for the client `client` (as `ClientEvent` named it); false (and counted) when that client
    /// is gone or its queue is full (it does not read its replies): the connection is then closed.
    pub fn send_to_client(&self, client: u64, frame: Bytes) -> bool {
        self.shared.send_to_client(client, frame)
    }

    /// A handle that can reply to clients from any thread, for as long as the transport runs.
    pub fn client_replies(&self) -> ClientReplies {
        ClientReplies { shared: Arc::clone(&self.shared) }
    }

    /// A handle that reads the peers' addresses from any thread, for as long as the transport runs.
    pub fn peer_addresses(&self) -> PeerAddresses {
        PeerAddresses { shared: Arc::clone(&self.shared) }
    }

    pub fn remove_peer(&self, name: &str) {
        self.shared.remove_peer(name);
    }

    /// The peers' names and the addresses they are dialed at (including ones learned from handshakes).
    pub fn peers(&self) -> Vec<(String, String)> {
        lock(&self.shared.peers).list()
    }

    pub fn stats(&self) -> TransportStats {
        self.shared.stats.snapshot()
    }

    /// Closes the listener and every connection; pending frames may be lost.
    pub async fn close(self) {
        let shared = Arc::clone(&self.shared);
        drop(self);
        shared.tasks.close();
        shared.tasks.wait().await;
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}
