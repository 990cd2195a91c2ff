//! How long a dialer waits before dialing again: 50 ms doubling up to 2 s, each wait jittered by +-50% so that
//! the nodes of a cluster that lost a peer together do not all call it back in the same instant.

use std::time::Duration;

use rand::Rng;

const FIRST: Duration = Duration::from_millis(50);
const LONGEST: Duration = Duration::from_secs(2);

pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff { next: FIRST }
    }

    /// After a connection completed its handshake: the peer is back, so the next failure is news.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(LONGEST);
        base.mul_f64(rand::rng().random_range(0.5..1.5))
    }
}
