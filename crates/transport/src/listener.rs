//! This node's side of the connections peers dial: accept, shake hands within a place of the handshaking ones
//! (see handshake_places.rs), learn new dialers, then read authenticated frames into the inbound channel within
//! the cap on peer connections until the connection ends (a client's connection goes to the client table
//! instead).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::Framed;

use crate::client_table;
use crate::connection::Connection;
use crate::fault::Fault;
use crate::frame_codec::{FrameCodec, FramedStream};
use crate::handshake::{self, HANDSHAKE_TIMEOUT};
use crate::handshake_messages::Route;
use crate::handshake_places::{HandshakePlace, HandshakePlaces};
use crate::shared::Shared;
use crate::stats::{Counters, OpenConnection};
use crate::transport::Inbound;

/// Accepted connections in their handshake at once, at most: beyond, the oldest is closed. With the caps on peer
/// connections and on clients this bounds what accepted connections can make a node hold (each may buffer up to
/// a frame) and the file descriptors they take.
pub(crate) const MAX_HANDSHAKING: usize = 256;
/// Peers' connections open at once after their handshake, at most (a dialer's new connection on a lane replaces
/// its old one, so the members' own take a few).
pub(crate) const MAX_PEER_CONNECTIONS: usize = 256;
/// After a failed accept (out of file descriptors, say), so that the loop does not spin while it lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

pub(crate) async fn run(shared: Arc<Shared>, listener: TcpListener) {
    let handshaking = HandshakePlaces::new(MAX_HANDSHAKING);
    let peer_slots = Arc::new(Semaphore::new(MAX_PEER_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let place = handshaking.take();
                let (connection_shared, peer_slots) = (Arc::clone(&shared), Arc::clone(&peer_slots));
                shared.spawn(async move {
                    serve(&connection_shared, stream, place, peer_slots).await;
                });
            }
            Err(_) => tokio::time::sleep(ACCEPT_ERROR_PAUSE).await,
        }
    }
}

/// `place`: this connection's place among the handshaking ones, given back once its handshake is done; a peer
/// then holds one of `peer_slots` while its connection lives, a client one of the clients' own places, so that
/// neither can keep the other out.
async fn serve(shared: &Arc<Shared>, stream: TcpStream, place: HandshakePlace, peer_slots: Arc<Semaphore>) {
    let _open = OpenConnection::new(&shared.stats);
    // Only the handshake's replies are written here; should NODELAY fail, they are merely a little later.
    let _ = stream.set_nodelay(true);
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, open(shared, stream));
    let (mut framed, accepted) = match place.evicted.run_until_cancelled(handshake).await {
        Some(Ok(Ok(opened))) => opened,
        Some(Ok(Err(fault))) => return fault.record(&shared.stats),
        Some(Err(_)) => return Fault::HandshakeTimeout.record(&shared.stats),
        // A newer connection took its place before its handshake was done (a handshake done first goes on).
        None => return Counters::bump(&shared.stats.refused_too_many_connections),
    };
    drop(place);
    let lane = match accepted.route {
        Route::Peer(lane) => lane,
        Route::Client => return client_table::serve(shared, framed, &accepted.dialer).await,
    };
    let Ok(slot) = peer_slots.try_acquire_owned() else {
        return Counters::bump(&shared.stats.refused_too_many_connections);
    };
    Counters::bump(&shared.stats.connections_accepted);
    shared.learn(&accepted.dialer, &accepted.advertise);
    let registration = shared.readers.register(&accepted.dialer, lane, &shared.shutdown);
    registration.closed.run_until_cancelled(read_frames(shared, &mut framed, &accepted.dialer)).await;
    drop(slot);
}

/// TLS first (with it), then the handshake: both within the one handshake timeout.
async fn open(shared: &Shared, stream: TcpStream) -> Result<(FramedStream, handshake::Accepted), Fault> {
    let connection = match &shared.tls {
        Some(tls) => tls.accept(stream).await?,
        None => Connection::Plain(stream),
    };
    let mut framed = Framed::new(connection, FrameCodec::handshake());
    let accepted = handshake::accept(shared, &mut framed).await?;
    Ok((framed, accepted))
}

async fn read_frames(shared: &Shared, framed: &mut FramedStream, from: &str) {
    while let Some(item) = framed.next().await {
        match item {
            Ok(frame) => {
                // Counted before it is handed over, so that whoever reads the frame also sees it counted.
                Counters::bump(&shared.stats.frames_received);
                Counters::add(&shared.stats.bytes_received, frame.len() as u64);
                // Waiting here when the runtime is behind pushes back on this connection alone (TCP flow control
                // reaches the dialer, whose queue then drops).
                if shared.inbound.send(Inbound { from: from.to_string(), frame }).await.is_err() {
                    return;
                }
            }
            Err(error) => return Fault::from(error).record(&shared.stats),
        }
    }
}
