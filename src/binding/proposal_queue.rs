//! What the JS thread hands a node on its own thread without waiting for the engine's lock (which that thread
//! holds while it steps the engine): the proposals, named on the JS thread (by `own_proposal_id`, or by JS itself
//! for `proposeNamed`) and handed to the engine in batches at its next flush, and which event payloads the
//! outputs should hold. A proposal the engine refuses then goes out in the output's `refused` list, with the code
//! it would have thrown.

use crate::node::wire::Wanted;
use crate::raft::Payload;
use std::sync::Mutex;

#[derive(Default)]
pub struct ProposalQueue {
    waiting: Mutex<Vec<(String, Payload)>>,
    /// Set by the JS thread's flush, applied by the engine's next one.
    wanted: Mutex<Option<Wanted>>,
}

impl ProposalQueue {
    pub fn push(&self, id: String, data: Payload) {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((id, data));
    }

    /// A batch of proposals, after those waiting.
    pub fn push_all(&self, mut batch: Vec<(String, Payload)>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if waiting.is_empty() {
            std::mem::swap(&mut *waiting, &mut batch);
        } else {
            waiting.append(&mut batch);
        }
    }

    /// Every proposal waiting, oldest first.
    pub fn take(&self) -> Vec<(String, Payload)> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn set_wanted(&self, wanted: Wanted) {
        *self.wanted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(wanted);
    }

    /// The payloads wanted, if the JS thread said so since the last call.
    pub fn take_wanted(&self) -> Option<Wanted> {
        self.wanted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}
