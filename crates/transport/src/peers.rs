//! The peers this node dials: each one's address and, per lane, the bounded queue its dialer writes from.

use std::collections::HashMap;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::dialer::DialerLane;
use crate::options::Lane;

/// Peers learned from handshakes, at most: an endless stream of new names cannot grow the table without bound.
pub(crate) const MAX_LEARNED_PEERS: usize = 4096;

/// Where and how eagerly a peer's dialers dial; they watch it, so that a change takes effect at once.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Dial {
    pub(crate) address: String,
    /// The caller named this peer (rather than it being learned from a handshake): its messages lane stays
    /// connected, ready for the first heartbeat, where a learned peer's waits for a frame to write.
    pub(crate) configured: bool,
}

struct Peer {
    dial: watch::Sender<Dial>,
    queues: [mpsc::Sender<Bytes>; 2],
    /// Stops the peer's dialers (and so closes their connections) when the peer is forgotten.
    stop: CancellationToken,
}

/// The dialers a new peer needs, for the caller to spawn.
pub(crate) struct NewPeer {
    pub(crate) lanes: [DialerLane; 2],
    pub(crate) stop: CancellationToken,
}

#[derive(Default)]
pub(crate) struct PeerTable {
    peers: HashMap<String, Peer>,
    learned: usize,
}

impl PeerTable {
    /// The queue of a known peer's lane.
    pub(crate) fn queue(&self, name: &str, lane: Lane) -> Option<&mpsc::Sender<Bytes>> {
        self.peers.get(name).map(|peer| &peer.queues[lane.index()])
    }

    /// Adds a peer, or gives a known one a new address. A learned peer (from a handshake) only adds an unknown
    /// name, within the cap: it never moves a peer the caller configured.
    pub(crate) fn set(
        &mut self,
        name: &str,
        address: &str,
        learned: bool,
        queue_frames: usize,
        shutdown: &CancellationToken,
    ) -> Option<NewPeer> {
        if let Some(peer) = self.peers.get_mut(name) {
            if !learned {
                if !peer.dial.borrow().configured {
                    self.learned = self.learned.saturating_sub(1);
                }
                peer.dial.send_if_modified(|dial| {
                    let new = Dial { address: address.to_string(), configured: true };
                    let changed = *dial != new;
                    *dial = new;
                    changed
                });
            }
            return None;
        }
        if learned {
            if self.learned >= MAX_LEARNED_PEERS {
                return None;
            }
            self.learned += 1;
        }
        let (dial_tx, dial_rx) = watch::channel(Dial { address: address.to_string(), configured: !learned });
        let stop = shutdown.child_token();
        let (messages_tx, messages_rx) = mpsc::channel(queue_frames);
        let (bulk_tx, bulk_rx) = mpsc::channel(queue_frames);
        let messages = DialerLane::new(name, Lane::Messages, dial_rx.clone(), messages_rx);
        let bulk = DialerLane::new(name, Lane::Bulk, dial_rx, bulk_rx);
        self.peers.insert(name.to_string(), Peer { dial: dial_tx, queues: [messages_tx, bulk_tx], stop: stop.clone() });
        Some(NewPeer { lanes: [messages, bulk], stop })
    }

    /// Forgets a peer and stops its dialers.
    pub(crate) fn remove(&mut self, name: &str) {
        if let Some(peer) = self.peers.remove(name) {
            if !peer.dial.borrow().configured {
                self.learned = self.learned.saturating_sub(1);
            }
            peer.stop.cancel();
        }
    }

    /// The address `name` is dialed at, if it is a peer.
    pub(crate) fn address_of(&self, name: &str) -> Option<String> {
        self.peers.get(name).map(|peer| peer.dial.borrow().address.clone())
    }

    pub(crate) fn list(&self) -> Vec<(String, String)> {
        let mut list: Vec<(String, String)> =
            self.peers.iter().map(|(name, peer)| (name.clone(), peer.dial.borrow().address.clone())).collect();
        list.sort();
        list
    }
}
