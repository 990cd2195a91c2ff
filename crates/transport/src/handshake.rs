//! The handshake, from each side: HELLO, WELCOME (with the acceptor's proof), PROOF (the dialer's), OK. On
//! success the connection's codec switches to data frames, with the session's MAC when there is a secret. With
//! TLS it runs inside the TLS connection, without MACs, and checks that the peer's certificate names it. A
//! client dials the same way as a peer, on its own route, and need not know the node's name beforehand.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};

use crate::cluster_key::{ClusterKey, Prover, Transcript};
use crate::fault::Fault;
use crate::frame_codec::FramedStream;
use crate::handshake_messages::{is_ok, ok, Hello, Nonce, Proof, Route, Welcome};
use crate::shared::Shared;

/// The whole handshake must be over by then, or the connection is dropped: a silent or slow peer cannot hold
/// one of the acceptor's connection slots for longer.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Who called, as the acceptor learned it.
pub(crate) struct Accepted {
    pub(crate) dialer: String,
    pub(crate) route: Route,
    pub(crate) advertise: String,
}

/// Who dials: a node (as its transport is configured) or a client.
pub(crate) struct Caller<'a> {
    pub(crate) cluster: &'a str,
    pub(crate) name: &'a str,
    pub(crate) advertise: &'a str,
    pub(crate) key: Option<&'a ClusterKey>,
    pub(crate) max_frame_bytes: usize,
}

/// The acceptor's side.
pub(crate) async fn accept(shared: &Shared, framed: &mut FramedStream) -> Result<Accepted, Fault> {
    let hello = Hello::decode(&read_message(framed).await?)?;
    if hello.cluster != shared.cluster {
        return Err(Fault::WrongCluster);
    }
    if hello.dialer == shared.name {
        return Err(Fault::UnknownOrSelfName);
    }
    if hello.route == Route::Client && shared.clients.is_none() {
        return Err(Fault::NoClients);
    }
    // With TLS, a peer's certificate must be a node's: usable as a server too (a client's certificate, for
    // clientAuth alone, opens the client route only).
    if hello.route != Route::Client && shared.tls.as_ref().is_some_and(|tls| !tls.is_node_certificate(framed.get_ref()))
    {
        return Err(Fault::BadAuth);
    }
    // A client proves the client key, a peer the cluster's secret: a client's key cannot open a peer's route.
    let key = match hello.route {
        Route::Client => shared.client_key.as_ref(),
        Route::Peer(_) => shared.key.as_ref(),
    };
    // With TLS, the dialer's certificate must name the node it says it is.
    if !framed.get_ref().certificate_allows(&hello.dialer) {
        return Err(Fault::BadAuth);
    }
    let nonce_a: Nonce = rand::random();
    let transcript = Transcript {
        route: hello.route.to_byte(),
        advertise: &hello.advertise,
        cluster: &shared.cluster,
        dialer: &hello.dialer,
        acceptor: &shared.name,
        nonce_d: &hello.nonce,
        nonce_a: &nonce_a,
    };
    let mac = key.map(|key| key.proof(Prover::Acceptor, &transcript));
    write_message(framed, Welcome { acceptor: shared.name.clone(), nonce: nonce_a, mac }.encode()).await?;
    let proof = Proof::decode(&read_message(framed).await?)?;
    // Both sides must agree on having a secret: a MAC where none is expected is as wrong as a missing one.
    let session = match (key, proof.mac) {
        (Some(key), Some(mac)) if key.verify(Prover::Dialer, &transcript, &mac) => {
            Some(key.session(&hello.nonce, &nonce_a, Prover::Acceptor))
        }
        (None, None) => None,
        _ => return Err(Fault::BadAuth),
    };
    write_message(framed, ok()).await?;
    framed.codec_mut().start_frames(shared.max_frame_bytes, session);
    Ok(Accepted { dialer: hello.dialer, route: hello.route, advertise: hello.advertise })
}

/// The dialer's side, calling the peer named `peer` (a client: whichever node answers). Returns the acceptor's
/// name.
pub(crate) async fn dial(
    caller: &Caller<'_>,
    framed: &mut FramedStream,
    peer: Option<&str>,
    route: Route,
) -> Result<String, Fault> {
    // With TLS, the acceptor's certificate must name the peer dialed, or not even the HELLO goes out.
    if peer.is_some_and(|peer| !framed.get_ref().certificate_allows(peer)) {
        return Err(Fault::BadAuth);
    }
    let nonce_d: Nonce = rand::random();
    let hello = Hello {
        route,
        cluster: caller.cluster.to_string(),
        dialer: caller.name.to_string(),
        advertise: caller.advertise.to_string(),
        nonce: nonce_d,
    };
    write_message(framed, hello.encode()).await?;
    let welcome = Welcome::decode(&read_message(framed).await?)?;
    // Another node now answering at the peer's address (or this node itself) is not the peer.
    if peer.is_some_and(|peer| welcome.acceptor != peer) || welcome.acceptor == caller.name {
        return Err(Fault::UnknownOrSelfName);
    }
    // A client learns the node's name only now: its certificate must give that name too.
    if !framed.get_ref().certificate_allows(&welcome.acceptor) {
        return Err(Fault::BadAuth);
    }
    let transcript = Transcript {
        route: route.to_byte(),
        advertise: caller.advertise,
        cluster: caller.cluster,
        dialer: caller.name,
        acceptor: &welcome.acceptor,
        nonce_d: &nonce_d,
        nonce_a: &welcome.nonce,
    };
    // The acceptor proves the secret first, so a node that cannot never gets a proof to study.
    let (proof, session) = match (caller.key, welcome.mac) {
        (Some(key), Some(mac)) if key.verify(Prover::Acceptor, &transcript, &mac) => {
            (Some(key.proof(Prover::Dialer, &transcript)), Some(key.session(&nonce_d, &welcome.nonce, Prover::Dialer)))
        }
        (None, None) => (None, None),
        _ => return Err(Fault::BadAuth),
    };
    write_message(framed, Proof { mac: proof }.encode()).await?;
    if !is_ok(&read_message(framed).await?) {
        return Err(Fault::Malformed);
    }
    framed.codec_mut().start_frames(caller.max_frame_bytes, session);
    Ok(welcome.acceptor)
}

async fn read_message(framed: &mut FramedStream) -> Result<Bytes, Fault> {
    match framed.next().await {
        Some(Ok(message)) => Ok(message),
        Some(Err(error)) => Err(error.into()),
        None => Err(Fault::Gone),
    }
}

async fn write_message(framed: &mut FramedStream, message: Bytes) -> Result<(), Fault> {
    framed.send(message).await.map_err(Fault::from)
}
