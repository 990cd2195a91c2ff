//! This node's side of the connections peers dial: accept within the connection cap, shake hands, learn new
//! dialers, then read authenticated frames into the inbound channel until the connection ends (a client's
//! connection goes to the client table instead).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::Framed;

use crate::client_table;
use crate::connection::Connection;
use crate::fault::Fault;
use crate::frame_codec::{FrameCodec, FramedStream};
use crate::handshake::{self, HANDSHAKE_TIMEOUT};
use crate::handshake_messages::Route;
use crate::shared::Shared;
use crate::stats::{Counters, OpenConnection};
use crate::transport::Inbound;

/// Accepted connections open at once, at most: each may buffer up to a frame, so the cap bounds memory, and
/// half-open connections cannot exhaust file descriptors.
pub(crate) const MAX_ACCEPTED: usize = 256;
/// After a failed accept (out of file descriptors, say), so that the loop does not spin while it lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

pub(crate) async fn run(shared: Arc<Shared>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_ACCEPTED));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => {
                    let connection_shared = Arc::clone(&shared);
                    shared.spawn(async move {
                        serve(&connection_shared, stream, slot).await;
                    });
                }
                // Dropping the stream closes it at once.
                Err(_) => Counters::bump(&shared.stats.refused_too_many_connections),
            },
            Err(_) => tokio::time::sleep(ACCEPT_ERROR_PAUSE).await,
        }
    }
}

/// `slot`: this connection's place among the accepted ones, held while it lives (a client gives it back once its
/// handshake is done and takes one of the clients' instead, so that clients can never hold the peers' places).
async fn serve(shared: &Arc<Shared>, stream: TcpStream, slot: OwnedSemaphorePermit) {
    let _open = OpenConnection::new(&shared.stats);
    // Only the handshake's replies are written here; should NODELAY fail, they are merely a little later.
    let _ = stream.set_nodelay(true);
    let (mut framed, accepted) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, open(shared, stream)).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(fault)) => return fault.record(&shared.stats),
        Err(_) => return Fault::HandshakeTimeout.record(&shared.stats),
    };
    let lane = match accepted.route {
        Route::Peer(lane) => lane,
        Route::Client => {
            drop(slot);
            return client_table::serve(shared, framed, &accepted.dialer).await;
        }
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
