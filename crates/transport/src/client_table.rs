//! The clients connected to this node's service (the client route): each gets an id, its frames (requests) go
//! to the `clients` channel as `ClientEvent`s, and its replies wait in a bounded queue of its own that its
//! connection's task writes, both ways on the one connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::fault::Fault;
use crate::frame_codec::FramedStream;
use crate::shared::{lock, Shared};
use crate::stats::Counters;

/// Replies waiting to be written to one client, at most, in frames and in bytes: a client that does not read them
/// is disconnected rather than allowed to hold more.
pub const CLIENT_QUEUE_FRAMES: usize = 1024;
pub const CLIENT_QUEUE_BYTES: usize = 32 * 1024 * 1024;
/// Clients connected at once, at most (more are refused after their handshake, counted): a pool apart from the
/// accepted connections' 256 places, so that clients can never keep the members from connecting.
pub const MAX_CLIENTS: usize = 64;
/// The largest frame a client may send (a request; an append's data is at most the node's `maxMessageBytes`,
/// 1 MiB by default): larger closes the connection (`dropped_oversized_frame`). With `MAX_CLIENTS`, it bounds what
/// clients can make a node buffer.
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// What a node serving clients hears of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A frame from the client `client`, which called itself `name` in its handshake.
    Frame { client: u64, name: String, frame: Bytes },
    /// The client's connection ended: replies to it are dropped from now on.
    Closed { client: u64 },
}

pub(crate) struct ClientTable {
    open: Mutex<ClientMap>,
    slots: Arc<Semaphore>,
}

impl Default for ClientTable {
    fn default() -> Self {
        ClientTable { open: Mutex::default(), slots: Arc::new(Semaphore::new(MAX_CLIENTS)) }
    }
}

#[derive(Default)]
struct ClientMap {
    next_id: u64,
    queues: HashMap<u64, ClientQueue>,
}

/// Where a client's replies wait, the bytes waiting there, and the token that disconnects it.
struct ClientQueue {
    frames: mpsc::Sender<Bytes>,
    bytes: Arc<AtomicUsize>,
    closed: CancellationToken,
}

impl ClientTable {
    fn add(&self, queue: ClientQueue) -> u64 {
        let mut map = lock(&self.open);
        let id = map.next_id;
        map.next_id = map.next_id.wrapping_add(1);
        map.queues.insert(id, queue);
        id
    }

    fn remove(&self, client: u64) {
        lock(&self.open).queues.remove(&client);
    }
}

impl Shared {
    pub(crate) fn send_to_client(&self, client: u64, frame: Bytes) -> bool {
        let counter = if frame.len() > self.max_frame_bytes {
            &self.stats.dropped_too_large
        } else {
            let map = lock(&self.client_table.open);
            match map.queues.get(&client) {
                None => &self.stats.dropped_closed,
                Some(queue) => {
                    let len = frame.len();
                    let waiting = queue.bytes.fetch_add(len, Ordering::Relaxed).saturating_add(len);
                    let sent = if waiting > CLIENT_QUEUE_BYTES {
                        Err(TrySendError::Full(frame))
                    } else {
                        queue.frames.try_send(frame)
                    };
                    match sent {
                        Ok(()) => return true,
                        Err(TrySendError::Full(_)) => {
                            queue.bytes.fetch_sub(len, Ordering::Relaxed);
                            queue.closed.cancel();
                            &self.stats.dropped_queue_full
                        }
                        Err(TrySendError::Closed(_)) => {
                            queue.bytes.fetch_sub(len, Ordering::Relaxed);
                            &self.stats.dropped_closed
                        }
                    }
                }
            }
        };
        Counters::bump(counter);
        false
    }
}

/// Serves one client's connection after its handshake, until either side closes it.
pub(crate) async fn serve(shared: &Arc<Shared>, mut framed: FramedStream, name: &str) {
    let Some(events) = shared.clients.clone() else {
        return;
    };
    let Ok(_slot) = Arc::clone(&shared.client_table.slots).try_acquire_owned() else {
        return Counters::bump(&shared.stats.refused_too_many_clients);
    };
    framed.codec_mut().limit_payload(MAX_CLIENT_FRAME_BYTES);
    Counters::bump(&shared.stats.clients_accepted);
    let (frames, mut replies) = mpsc::channel(CLIENT_QUEUE_FRAMES);
    let closed = shared.shutdown.child_token();
    let bytes = Arc::new(AtomicUsize::new(0));
    let client = shared.client_table.add(ClientQueue { frames, bytes: Arc::clone(&bytes), closed: closed.clone() });
    let replies = Replies { queue: &mut replies, bytes: &bytes };
    closed.run_until_cancelled(exchange(shared, &mut framed, client, name, &events, replies)).await;
    shared.client_table.remove(client);
    let _ = events.send(ClientEvent::Closed { client }).await;
}

/// A client's replies as its connection's task takes them: the queue, and the bytes waiting in it.
struct Replies<'a> {
    queue: &'a mut mpsc::Receiver<Bytes>,
    bytes: &'a AtomicUsize,
}

async fn exchange(
    shared: &Shared,
    framed: &mut FramedStream,
    client: u64,
    name: &str,
    events: &mpsc::Sender<ClientEvent>,
    replies: Replies<'_>,
) {
    loop {
        tokio::select! {
            incoming = framed.next() => match incoming {
                Some(Ok(frame)) => {
                    Counters::bump(&shared.stats.frames_received);
                    Counters::add(&shared.stats.bytes_received, frame.len() as u64);
                    let event = ClientEvent::Frame { client, name: name.to_string(), frame };
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                Some(Err(error)) => return Fault::from(error).record(&shared.stats),
                None => return,
            },
            reply = replies.queue.recv() => match reply {
                Some(first) => match write_ready(framed, first, replies.queue).await {
                    Some((frames, bytes)) => {
                        // Written: no longer waiting.
                        replies.bytes.fetch_sub(usize::try_from(bytes).unwrap_or(usize::MAX), Ordering::Relaxed);
                        Counters::add(&shared.stats.frames_sent, frames);
                        Counters::add(&shared.stats.bytes_sent, bytes);
                    }
                    None => return,
                },
                None => return,
            },
        }
    }
}

/// Writes `first` and the frames already queued behind it, then flushes once: the frames and bytes written, or
/// None when the connection failed. Frames queued meanwhile wait for the next batch, so a steady stream still
/// gets flushed.
pub(crate) async fn write_ready(
    framed: &mut FramedStream,
    first: Bytes,
    queue: &mut mpsc::Receiver<Bytes>,
) -> Option<(u64, u64)> {
    let ready = queue.len();
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut next = Some(first);
    while let Some(frame) = next.take() {
        frames += 1;
        bytes += frame.len() as u64;
        framed.feed(frame).await.ok()?;
        if frames <= ready as u64 {
            next = queue.try_recv().ok();
        }
    }
    framed.flush().await.ok()?;
    Some((frames, bytes))
}
