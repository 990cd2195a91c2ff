//! Where a durable node's disk acknowledgements go: to JS (`onStorage`, which hands them to the engine and
//! flushes) until the node runs on its own thread, then straight to that thread, so that a busy event loop does
//! not hold up a commit.

use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Default)]
pub struct StorageAcks {
    to_runtime: Mutex<Option<UnboundedSender<u64>>>,
}

impl StorageAcks {
    /// From now on, acknowledgements go to the node's thread.
    pub fn send_to(&self, runtime: UnboundedSender<u64>) {
        *self.to_runtime.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(runtime);
    }

    /// Hands `token` to the node's thread; false when it goes to JS (no thread, or the thread has ended).
    pub fn to_runtime(&self, token: u64) -> bool {
        let runtime = self.to_runtime.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        runtime.as_ref().is_some_and(|runtime| runtime.send(token).is_ok())
    }
}
