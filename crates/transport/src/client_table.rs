//! The clients connected to this node's service (the client route): each gets an id, its frames (requests) go
//! to the `clients` channel as `ClientEvent`s, and its replies wait in a bounded queue of its own that its
//! connection's task writes, both ways on the one connection. A client that came when every place was taken
//! takes the place of the one idle longest, if that one has been idle `IDLE_BEFORE_EVICTION` or more: clients
//! that connect and then say nothing cannot keep others out for good.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

use crate::fault::Fault;
use crate::frame_codec::FramedStream;
use crate::shared::{lock, Shared};
use crate::stats::Counters;

/// Replies waiting to be written to one client, at most, in frames and in bytes: a client that does not read them
/// is disconnected rather than allowed to hold more.
pub const CLIENT_QUEUE_FRAMES: usize = 1024;
pub const CLIENT_QUEUE_BYTES: usize = 32 * 1024 * 1024;
/// Clients connected at once, at most (more are refused after their handshake, counted, unless one of them has
/// been idle long enough to give up its place): a pool apart from the peers' places, so that clients can never
/// keep the members from connecting.
pub const MAX_CLIENTS: usize = 64;
/// How long a client must have sent and received nothing before a newcomer may take its place when all are taken.
pub const IDLE_BEFORE_EVICTION: Duration = Duration::from_secs(5);
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
    /// What the clients' last activity is measured from.
    epoch: Instant,
}

impl Default for ClientTable {
    fn default() -> Self {
        ClientTable { open: Mutex::default(), epoch: Instant::now() }
    }
}

#[derive(Default)]
struct ClientMap {
    next_id: u64,
    queues: HashMap<u64, ClientQueue>,
}

/// Where a client's replies wait, the bytes waiting there, the token that disconnects it, and when it last sent
/// or received a frame (milliseconds since the table's epoch).
struct ClientQueue {
    frames: mpsc::Sender<Bytes>,
    bytes: Arc<AtomicUsize>,
    closed: CancellationToken,
    last_active: Arc<AtomicU64>,
}

impl ClientTable {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Adds a client and returns its id; None when every place is taken by clients active in the last
    /// `IDLE_BEFORE_EVICTION`. Otherwise, with every place taken, the client idle longest is disconnected and
    /// counted in `evicted`.
    fn add(&self, queue: ClientQueue, evicted: &AtomicU64) -> Option<u64> {
        let mut map = lock(&self.open);
        if map.queues.len() >= MAX_CLIENTS {
            let now = self.now_ms();
            // Of those idle as long, the one that connected first.
            let idlest = map.queues.iter().min_by_key(|(id, queue)| (queue.last_active.load(Ordering::Relaxed), **id));
            let idle_for = idlest.map_or(0, |(_, queue)| now.saturating_sub(queue.last_active.load(Ordering::Relaxed)));
            if u128::from(idle_for) < IDLE_BEFORE_EVICTION.as_millis() {
                return None;
            }
            let idlest = idlest.map(|(id, _)| *id);
            if let Some(gone) = idlest.and_then(|id| map.queues.remove(&id)) {
                gone.closed.cancel();
                Counters::bump(evicted);
            }
        }
        let id = map.next_id;
        map.next_id = map.next_id.wrapping_add(1);
        map.queues.insert(id, queue);
        Some(id)
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
    let table = &shared.client_table;
    let (frames, mut replies) = mpsc::channel(CLIENT_QUEUE_FRAMES);
    let closed = shared.shutdown.child_token();
    let bytes = Arc::new(AtomicUsize::new(0));
    let last_active = Arc::new(AtomicU64::new(table.now_ms()));
    let queue =
        ClientQueue { frames, bytes: Arc::clone(&bytes), closed: closed.clone(), last_active: last_active.clone() };
    let Some(client) = table.add(queue, &shared.stats.refused_too_many_clients) else {
        return Counters::bump(&shared.stats.refused_too_many_clients);
    };
    framed.codec_mut().limit_payload(MAX_CLIENT_FRAME_BYTES);
    Counters::bump(&shared.stats.clients_accepted);
    let replies = Replies { queue: &mut replies, bytes: &bytes };
    let active = || last_active.store(table.now_ms(), Ordering::Relaxed);
    closed.run_until_cancelled(exchange(shared, &mut framed, client, name, &events, replies, active)).await;
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
    active: impl Fn(),
) {
    loop {
        tokio::select! {
            incoming = framed.next() => match incoming {
                Some(Ok(frame)) => {
                    active();
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
                        active();
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
