//! What the JS thread hands a node on its own thread without waiting for the engine's lock (which that thread
//! holds while it steps the engine): the proposals, one by one (named on the JS thread by `own_proposal_id`) or in
//! batches of appends that JS numbers (`proposeBatch`), handed to the engine at its next flush, and which event
//! payloads the outputs should hold. The engine's thread reads a batch's texts and names its entries; the outputs
//! then speak of each by its number (a proposal it refuses goes out in the `refused` list, with the code it would
//! have thrown).

use crate::node::wire::Wanted;
use crate::raft::Payload;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The largest integer a JS number holds exactly: batch numbers stay below it.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Proposals waiting for the engine's thread, in the order they were made.
pub enum Queued {
    /// A proposal named on the JS thread: its entry id and data (checked JSON).
    One(String, Payload),
    /// Appends numbered by JS (see `AppendBatch`).
    Batch(AppendBatch),
}

/// Appends numbered by JS: `first`, `first + 1`, ... in order, their data texts joined by newlines (a JSON text
/// never holds one outside its escapes; each text is checked on the engine's thread, see `entries`).
pub struct AppendBatch {
    first: u64,
    count: u64,
    datas: String,
}

impl AppendBatch {
    /// Checks the batch's shape (cheap: no data text is read but for its newlines); None when it is malformed.
    pub fn new(first: f64, count: u32, datas: String) -> Option<AppendBatch> {
        let whole = first.is_finite() && first >= 0.0 && first.fract() == 0.0 && first <= MAX_SAFE_INTEGER as f64;
        let (first, count) = (first as u64, u64::from(count));
        let shaped = whole
            && count > 0
            && first.checked_add(count - 1).is_some_and(|last| last <= MAX_SAFE_INTEGER)
            && datas.bytes().filter(|&byte| byte == b'\n').count() as u64 + 1 == count;
        shaped.then_some(AppendBatch { first, count, datas })
    }

    /// Each entry's number and data text, in order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &str)> {
        (self.first..self.first + self.count).zip(self.datas.split('\n'))
    }
}

#[derive(Default)]
pub struct ProposalQueue {
    waiting: Mutex<Vec<Queued>>,
    /// Set by `push`, taken by the flush that wakes the engine's thread for them.
    unannounced: AtomicBool,
    /// Set by the JS thread's flush, applied by the engine's next one.
    wanted: Mutex<Option<Wanted>>,
}

impl ProposalQueue {
    pub fn push(&self, queued: Queued) {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(queued);
        self.unannounced.store(true, Ordering::Release);
    }

    /// Whether proposals were queued since the last call: the engine's thread must be woken for them (once).
    pub fn take_unannounced(&self) -> bool {
        self.unannounced.swap(false, Ordering::AcqRel)
    }

    /// Every proposal waiting, oldest first.
    pub fn take(&self) -> Vec<Queued> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_needs_one_text_per_entry_and_numbers_a_js_number_holds() {
        let batch = AppendBatch::new(7.0, 2, "1\n{\"a\":2}".into()).expect("well shaped");
        assert_eq!(batch.entries().collect::<Vec<_>>(), vec![(7, "1"), (8, "{\"a\":2}")]);
        let last = MAX_SAFE_INTEGER as f64;
        assert!(AppendBatch::new(last, 1, "1".into()).is_some(), "the last safe number");
        for (first, count, datas) in [
            (1.0, 0, ""),
            (1.0, 2, "1"),
            (1.0, 1, "1\n2"),
            (-1.0, 1, "1"),
            (1.5, 1, "1"),
            (f64::NAN, 1, "1"),
            (f64::INFINITY, 1, "1"),
            (last, 2, "1\n2"),
        ] {
            assert!(AppendBatch::new(first, count, datas.into()).is_none(), "{first} / {count} / {datas}");
        }
    }

    #[test]
    fn proposals_queued_since_the_last_flush_wake_the_engines_thread_once() {
        let queue = ProposalQueue::default();
        assert!(!queue.take_unannounced(), "nothing queued");
        queue.push(Queued::Batch(AppendBatch::new(1.0, 1, "1".into()).expect("well shaped")));
        queue.push(Queued::Batch(AppendBatch::new(2.0, 1, "2".into()).expect("well shaped")));
        assert!(queue.take_unannounced(), "the first flush after them wakes the thread");
        assert!(!queue.take_unannounced(), "a second flush before the thread took them does not");
        assert_eq!(queue.take().len(), 2, "both wait for the engine's thread");
        assert!(!queue.take_unannounced());
    }
}
