//! The state every task of one transport shares: its identity and limits, counters, peers, accepted readers,
//! and the task tracker and shutdown token that let `close` stop them all.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client_table::{ClientEvent, ClientTable};
use crate::cluster_key::ClusterKey;
use crate::dialer;
use crate::handshake::Caller;
use crate::options::Lane;
use crate::peers::PeerTable;
use crate::readers::Readers;
use crate::stats::Counters;
use crate::tls::TlsContext;
use crate::transport::Inbound;

pub(crate) struct Shared {
    pub(crate) cluster: String,
    pub(crate) name: String,
    pub(crate) advertise: String,
    /// None without a secret.
    pub(crate) key: Option<ClusterKey>,
    /// With a secret: the key clients prove themselves with (`client_key`), which opens the client route only.
    pub(crate) client_key: Option<ClusterKey>,
    /// None without TLS.
    pub(crate) tls: Option<TlsContext>,
    pub(crate) max_frame_bytes: usize,
    pub(crate) queue_frames: usize,
    pub(crate) stats: Counters,
    pub(crate) peers: Mutex<PeerTable>,
    pub(crate) readers: Readers,
    pub(crate) inbound: mpsc::Sender<Inbound>,
    /// Where clients' requests go; None: the node serves no clients, and refuses their connections.
    pub(crate) clients: Option<mpsc::Sender<ClientEvent>>,
    pub(crate) client_table: ClientTable,
    /// The runtime `start` ran in: `set_peer` may be called from outside it and still spawn dialers there.
    pub(crate) runtime: Handle,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

/// A panic elsewhere while holding a lock leaves the data as consistent as each short critical section makes
/// it, so the transport keeps going rather than turn one panic into many.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Spawns a task that ends when the transport closes, and that `close` waits for.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.shutdown.clone();
        self.tasks.spawn_on(
            async move {
                shutdown.run_until_cancelled(task).await;
            },
            &self.runtime,
        );
    }

    /// This node as it dials its peers.
    pub(crate) fn caller(&self) -> Caller<'_> {
        Caller {
            cluster: &self.cluster,
            name: &self.name,
            advertise: &self.advertise,
            key: self.key.as_ref(),
            max_frame_bytes: self.max_frame_bytes,
        }
    }

    pub(crate) fn send(&self, to: &str, lane: Lane, frame: Bytes) -> bool {
        let counter = if frame.len() > self.max_frame_bytes {
            &self.stats.dropped_too_large
        } else {
            match lock(&self.peers).queue(to, lane).map(|queue| queue.try_send(frame)) {
                Some(Ok(())) => return true,
                Some(Err(TrySendError::Full(_))) => &self.stats.dropped_queue_full,
                Some(Err(TrySendError::Closed(_))) => &self.stats.dropped_closed,
                None => &self.stats.dropped_unknown_peer,
            }
        };
        Counters::bump(counter);
        false
    }

    /// Adds a peer the caller named, or moves it to a new address.
    pub(crate) fn set_peer(self: &Arc<Self>, name: &str, address: &str) {
        self.add_peer(name, address, false);
    }

    /// Adds a dialer that is not a peer yet (a member joining), so that frames can be sent back to it.
    pub(crate) fn learn(self: &Arc<Self>, name: &str, advertise: &str) {
        self.add_peer(name, advertise, true);
    }

    fn add_peer(self: &Arc<Self>, name: &str, address: &str, learned: bool) {
        let new_peer = lock(&self.peers).set(name, address, learned, self.queue_frames, &self.shutdown);
        if let Some(new_peer) = new_peer {
            for lane in new_peer.lanes {
                let stop = new_peer.stop.clone();
                let dialer = dialer::run(Arc::clone(self), lane);
                self.spawn(async move {
                    stop.run_until_cancelled(dialer).await;
                });
            }
        }
    }

    /// Forgets a peer: stops its dialers and closes the connections it dialed here.
    pub(crate) fn remove_peer(&self, name: &str) {
        lock(&self.peers).remove(name);
        self.readers.close_dialer(name);
    }
}
