//! One peer's lane, from this node's side: dial, shake hands, write the queued frames in batches, and dial again
//! after a backoff whenever the connection fails or closes. Frames wait in the bounded queue meanwhile.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

use crate::backoff::Backoff;
use crate::connection::Connection;
use crate::fault::Fault;
use crate::frame_codec::{FrameCodec, FramedStream};
use crate::handshake::{self, HANDSHAKE_TIMEOUT};
use crate::handshake_messages::Route;
use crate::options::Lane;
use crate::peers::Dial;
use crate::shared::Shared;
use crate::stats::{Counters, OpenConnection};

/// A peer that does not answer a SYN is as down as one that refuses it; the OS would wait minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct DialerLane {
    peer: String,
    lane: Lane,
    dial: watch::Receiver<Dial>,
    queue: mpsc::Receiver<Bytes>,
    /// Has had a frame to write: from then on the lane stays connected, as the next frame is likely to follow.
    used: bool,
}

/// Why a connected lane stopped writing.
enum Ended {
    /// The peer was forgotten or the transport is closing.
    Stopped,
    /// The peer moved: dial the new address at once.
    AddressChanged,
    ConnectionLost,
}

impl DialerLane {
    pub(crate) fn new(peer: &str, lane: Lane, dial: watch::Receiver<Dial>, queue: mpsc::Receiver<Bytes>) -> DialerLane {
        DialerLane { peer: peer.to_string(), lane, dial, queue, used: false }
    }

    /// Whether to be connected even with nothing to write.
    fn eager(&self) -> bool {
        self.used || (self.lane == Lane::Messages && self.dial.borrow().configured)
    }
}

/// Runs until the peer is forgotten (its queue and dial channels close) or the task is cancelled.
pub(crate) async fn run(shared: Arc<Shared>, mut lane: DialerLane) {
    let mut backoff = Backoff::new();
    // A frame taken from the queue to wake a lazy lane, written first once connected.
    let mut pending: Option<Bytes> = None;
    let mut dialed_before = false;
    loop {
        if !lane.eager() && pending.is_none() {
            tokio::select! {
                frame = lane.queue.recv() => match frame {
                    Some(frame) => {
                        pending = Some(frame);
                        lane.used = true;
                    }
                    None => return,
                },
                // The peer may have become configured, and so eager.
                changed = lane.dial.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            }
        }
        if dialed_before {
            Counters::bump(&shared.stats.reconnects);
        }
        dialed_before = true;
        let address = lane.dial.borrow_and_update().address.clone();
        if let Some(stream) = connect(&address).await {
            let open = OpenConnection::new(&shared.stats);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, open_lane(&shared, stream, &lane.peer, lane.lane)).await {
                Ok(Ok(mut framed)) => {
                    Counters::bump(&shared.stats.connections_dialed);
                    backoff.reset();
                    let ended = write_frames(&shared, &mut framed, &mut lane, &address, &mut pending).await;
                    drop(open);
                    match ended {
                        Ended::Stopped => return,
                        Ended::AddressChanged => continue,
                        Ended::ConnectionLost => {}
                    }
                }
                Ok(Err(fault)) => fault.record(&shared.stats),
                Err(_) => Fault::HandshakeTimeout.record(&shared.stats),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            changed = lane.dial.changed() => {
                if changed.is_err() {
                    return;
                }
                backoff.reset();
            }
        }
    }
}

/// A refused or unanswered dial is not counted: a peer being down is ordinary, and the backoff paces the retries.
async fn connect(address: &str) -> Option<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await.ok()?.ok()?;
    // Raft's messages are small and latency-bound: no Nagle delay.
    stream.set_nodelay(true).ok()?;
    Some(stream)
}

/// TLS first (with it), then the handshake: both within the one handshake timeout.
async fn open_lane(shared: &Shared, stream: TcpStream, peer: &str, lane: Lane) -> Result<FramedStream, Fault> {
    let connection = match &shared.tls {
        Some(tls) => tls.connect(stream).await?,
        None => Connection::Plain(stream),
    };
    let mut framed = Framed::new(connection, FrameCodec::handshake());
    handshake::dial(&shared.caller(), &mut framed, Some(peer), Route::Peer(lane)).await?;
    Ok(framed)
}

/// Writes frames as they are queued until the connection ends. Each batch is every frame ready at the time,
/// written back to back and flushed once.
async fn write_frames(
    shared: &Shared,
    framed: &mut FramedStream,
    lane: &mut DialerLane,
    address: &str,
    pending: &mut Option<Bytes>,
) -> Ended {
    loop {
        let first = match pending.take() {
            Some(frame) => frame,
            None => tokio::select! {
                frame = lane.queue.recv() => match frame {
                    Some(frame) => frame,
                    None => return Ended::Stopped,
                },
                // The acceptor never writes after its OK: this is how a closed connection shows, and anything
                // else is a protocol error (counted as what decoding it found wrong: with a secret, its MAC).
                incoming = framed.next() => {
                    match incoming {
                        Some(Ok(_)) => Fault::Malformed.record(&shared.stats),
                        Some(Err(error)) => Fault::from(error).record(&shared.stats),
                        None => {}
                    }
                    return Ended::ConnectionLost;
                }
                changed = lane.dial.changed() => {
                    if changed.is_err() {
                        return Ended::Stopped;
                    }
                    if lane.dial.borrow_and_update().address != address {
                        return Ended::AddressChanged;
                    }
                    continue;
                }
            },
        };
        // Frames queued after this point wait for the next batch, so that a steady stream still gets flushed.
        let ready = lane.queue.len();
        let mut frames = 0u64;
        let mut bytes = 0u64;
        let mut next = Some(first);
        let mut written = Ok(());
        while let Some(frame) = next.take() {
            frames += 1;
            bytes += frame.len() as u64;
            written = framed.feed(frame).await;
            if written.is_err() {
                break;
            }
            if frames <= ready as u64 {
                next = lane.queue.try_recv().ok();
            }
        }
        if written.is_ok() {
            written = framed.flush().await;
        }
        if written.is_err() {
            Counters::add(&shared.stats.dropped_write_failed, frames);
            return Ended::ConnectionLost;
        }
        Counters::add(&shared.stats.frames_sent, frames);
        Counters::add(&shared.stats.bytes_sent, bytes);
    }
}
