//! A store that keeps nothing: the core already holds the log in memory, and a restarted node starts empty,
//! exactly like gaggle and brig. Writes are "durable" at once.

use super::{Storage, Submitted};
use flotilla_raft::PersistRequest;

#[derive(Debug, Default)]
pub struct VolatileStorage;

impl Storage for VolatileStorage {
    fn submit(&mut self, request: PersistRequest) -> Submitted {
        Submitted::Done(request.token)
    }
}
