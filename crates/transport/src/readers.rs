//! The accepted connections that passed the handshake, one per dialer and lane: a dialer's new connection
//! replaces its old one (which a restart or a lost FIN may have left open), and forgetting a peer closes them.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::options::Lane;
use crate::shared::lock;

#[derive(Default)]
pub(crate) struct Readers {
    open: Mutex<ReaderMap>,
}

#[derive(Default)]
struct ReaderMap {
    next_id: u64,
    by_dialer: HashMap<(String, Lane), (u64, CancellationToken)>,
}

/// An accepted connection's place in the table, given up when it closes.
pub(crate) struct Registration<'a> {
    readers: &'a Readers,
    key: (String, Lane),
    id: u64,
    /// Cancelled when the connection is replaced or its peer forgotten.
    pub(crate) closed: CancellationToken,
}

impl Readers {
    pub(crate) fn register<'a>(&'a self, dialer: &str, lane: Lane, shutdown: &CancellationToken) -> Registration<'a> {
        let mut map = lock(&self.open);
        let id = map.next_id;
        map.next_id = map.next_id.wrapping_add(1);
        let closed = shutdown.child_token();
        let key = (dialer.to_string(), lane);
        if let Some((_, replaced)) = map.by_dialer.insert(key.clone(), (id, closed.clone())) {
            replaced.cancel();
        }
        Registration { readers: self, key, id, closed }
    }

    pub(crate) fn close_dialer(&self, dialer: &str) {
        let mut map = lock(&self.open);
        for lane in Lane::ALL {
            if let Some((_, closed)) = map.by_dialer.remove(&(dialer.to_string(), lane)) {
                closed.cancel();
            }
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut map = lock(&self.readers.open);
        // Only this connection's own entry: a newer one from the same dialer may have replaced it.
        if map.by_dialer.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.by_dialer.remove(&self.key);
        }
    }
}
