//! A client of a node's service: dials one node, shakes hands on the client route (authenticated as a peer
//! would be: the secret's challenge-response, or TLS with a certificate signed by the cluster's CA and naming
//! the client), then sends requests and receives replies as frames on that one connection.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::client_table::{write_ready, CLIENT_QUEUE_FRAMES};
use crate::cluster_key::ClusterKey;
use crate::connection::Connection;
use crate::error::TransportError;
use crate::frame_codec::{FrameCodec, FramedStream};
use crate::handshake::{self, Caller, HANDSHAKE_TIMEOUT};
use crate::handshake_messages::Route;
use crate::options::{check_host_port, check_name, Security, MIN_SECRET_BYTES};
use crate::tls::TlsContext;

/// A node that does not answer a SYN within this is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A client is not dialed back: its HELLO advertises this placeholder.
const CLIENT_ADVERTISE: &str = "0.0.0.0:0";

#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The cluster's name: a node of another cluster refuses the client.
    pub cluster: String,
    /// The client's name (1..=255 bytes); with TLS its certificate must name it, as a node's names the node.
    pub name: String,
    /// The node to dial, "host:port".
    pub address: String,
    /// How the client proves itself: `Secret` holds the client key (`client_key` of the cluster's secret, never
    /// the secret itself: a client has no business on the peers' route); `Tls` a certificate of the cluster's CA
    /// naming the client; `None` for a cluster without either (its `allow_remote` means nothing to a client).
    pub security: Security,
    /// The largest frame sent or accepted.
    pub max_frame_bytes: usize,
}

/// A client's open connection. Dropping it closes the connection.
pub struct Client {
    queue: mpsc::Sender<Bytes>,
    node: String,
    stop: CancellationToken,
}

impl Client {
    /// Dials the node and shakes hands; then the node's frames go to `replies`, which closes when the connection
    /// ends. Errors: bad options, a node that cannot be reached, or a failed handshake (with the reason).
    pub async fn connect(options: ClientOptions, replies: mpsc::Sender<Bytes>) -> Result<Client, TransportError> {
        let runtime = Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        check_name("cluster", &options.cluster)?;
        check_name("name", &options.name)?;
        check_host_port(&options.address)?;
        if options.max_frame_bytes == 0 {
            return Err(TransportError::InvalidLimit { what: "max_frame_bytes", value: options.max_frame_bytes });
        }
        let (key, tls) = match &options.security {
            Security::Secret(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(TransportError::ShortSecret { len: secret.len() })
            }
            Security::Secret(secret) => (Some(ClusterKey::new(secret)?), None),
            Security::Tls { cert_pem, key_pem, ca_pem } => {
                (None, Some(TlsContext::new(&options.name, cert_pem, key_pem, ca_pem, false)?))
            }
            Security::None { .. } => (None, None),
        };
        let failed = |reason: String| TransportError::Connect { address: options.address.clone(), reason };
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&options.address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(failed(error.to_string())),
            Err(_) => return Err(failed("no answer within 5 s".to_string())),
        };
        // Requests are small and latency-bound: no Nagle delay. Should it fail, they are merely a little later.
        let _ = stream.set_nodelay(true);
        let caller = Caller {
            cluster: &options.cluster,
            name: &options.name,
            advertise: CLIENT_ADVERTISE,
            key: key.as_ref(),
            max_frame_bytes: options.max_frame_bytes,
        };
        let (framed, node) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, open(&caller, tls.as_ref(), stream)).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(fault)) => return Err(failed(fault.describe().to_string())),
            Err(_) => return Err(failed("the handshake did not finish within 5 s".to_string())),
        };
        let (queue, requests) = mpsc::channel(CLIENT_QUEUE_FRAMES);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        runtime.spawn(async move {
            stopped.run_until_cancelled(exchange(framed, requests, replies)).await;
        });
        Ok(Client { queue, node, stop })
    }

    /// The name of the node this client is connected to.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Queues a frame for the node; false when the connection has ended or too many frames wait.
    pub fn send(&self, frame: Bytes) -> bool {
        self.queue.try_send(frame).is_ok()
    }

    pub fn close(&self) {
        self.stop.cancel();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn open(
    caller: &Caller<'_>,
    tls: Option<&TlsContext>,
    stream: TcpStream,
) -> Result<(FramedStream, String), crate::fault::Fault> {
    let connection = match tls {
        Some(tls) => tls.connect(stream).await?,
        None => Connection::Plain(stream),
    };
    let mut framed = Framed::new(connection, FrameCodec::handshake());
    let node = handshake::dial(caller, &mut framed, None, Route::Client).await?;
    Ok((framed, node))
}

/// Writes the queued requests and hands over the node's frames until either side closes the connection; then
/// `replies` closes (it is dropped here).
async fn exchange(mut framed: FramedStream, mut requests: mpsc::Receiver<Bytes>, replies: mpsc::Sender<Bytes>) {
    loop {
        tokio::select! {
            incoming = framed.next() => match incoming {
                Some(Ok(frame)) => {
                    if replies.send(frame).await.is_err() {
                        return;
                    }
                }
                Some(Err(_)) | None => return,
            },
            request = requests.recv() => match request {
                Some(first) => {
                    if write_ready(&mut framed, first, &mut requests).await.is_none() {
                        return;
                    }
                }
                None => return,
            },
        }
    }
}
