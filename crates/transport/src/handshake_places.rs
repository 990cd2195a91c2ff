//! The places of accepted connections still in their handshake. They are few and taken by anyone who can reach
//! the port, so when all are taken a new connection takes the place of the one that has waited longest, which is
//! closed: silent connections then cannot keep a member from connecting again, as refusing the newcomer would let
//! them do for the whole handshake timeout. To evict a member's handshake (a round trip or two) a flood would
//! have to fill every place within that time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::shared::lock;

pub(crate) struct HandshakePlaces {
    capacity: usize,
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    next_id: u64,
    /// Oldest first: each place's id and what closes its connection.
    places: VecDeque<(u64, CancellationToken)>,
}

/// A connection's place while it shakes hands, given back when dropped.
pub(crate) struct HandshakePlace {
    places: Arc<HandshakePlaces>,
    id: u64,
    /// Cancelled when a newer connection takes this place.
    pub(crate) evicted: CancellationToken,
}

impl HandshakePlaces {
    pub(crate) fn new(capacity: usize) -> Arc<HandshakePlaces> {
        Arc::new(HandshakePlaces { capacity: capacity.max(1), taken: Mutex::new(Taken::default()) })
    }

    /// A place for a new connection; with every place taken, the oldest connection's is given up (its
    /// `evicted` is cancelled).
    pub(crate) fn take(self: &Arc<Self>) -> HandshakePlace {
        let mut taken = lock(&self.taken);
        if taken.places.len() >= self.capacity {
            if let Some((_, oldest)) = taken.places.pop_front() {
                oldest.cancel();
            }
        }
        let id = taken.next_id;
        taken.next_id = taken.next_id.wrapping_add(1);
        let token = CancellationToken::new();
        taken.places.push_back((id, token.clone()));
        HandshakePlace { places: Arc::clone(self), id, evicted: token }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.taken).places.len()
    }
}

impl Drop for HandshakePlace {
    fn drop(&mut self) {
        let mut taken = lock(&self.places.taken);
        // Gone already if it was evicted.
        if let Some(position) = taken.places.iter().position(|(id, _)| *id == self.id) {
            taken.places.remove(position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_connection_beyond_the_places_evicts_the_one_waiting_longest() {
        let places = HandshakePlaces::new(2);
        let first = places.take();
        let second = places.take();
        assert!(!first.evicted.is_cancelled() && !second.evicted.is_cancelled());
        let third = places.take();
        assert!(first.evicted.is_cancelled(), "all places were taken: the oldest gives up its place");
        assert!(!second.evicted.is_cancelled() && !third.evicted.is_cancelled());
        assert_eq!(places.len(), 2);
        drop(first);
        assert_eq!(places.len(), 2, "an evicted place was given back already");
        drop(second);
        assert_eq!(places.len(), 1);
        let _fourth = places.take();
        assert!(!third.evicted.is_cancelled(), "a place given back is free again");
    }
}
