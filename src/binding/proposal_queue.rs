//! Proposals of a node on its own thread, named on the JS thread (`own_proposal_id`) and handed to the engine in
//! batches at its next flush: the JS thread never waits for the engine's lock to propose. A proposal the engine
//! refuses then goes out in the output's `refused` list, with the code it would have thrown.

use crate::raft::Payload;
use std::sync::Mutex;

#[derive(Default)]
pub struct ProposalQueue {
    waiting: Mutex<Vec<(String, Payload)>>,
}

impl ProposalQueue {
    pub fn push(&self, id: String, data: Payload) {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((id, data));
    }

    /// Every proposal waiting, oldest first.
    pub fn take(&self) -> Vec<(String, Payload)> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}
