//! What the JS thread hands a node on its own thread without waiting for the engine's lock (which that thread
//! holds while it steps the engine): the proposals, one by one (named on the JS thread by `own_proposal_id`) or in
//! batches named by JS itself (`proposeNamed`), handed to the engine at its next flush, and which event payloads
//! the outputs should hold. The engine's thread reads a batch's texts and names its entries; a proposal it refuses
//! then goes out in the output's `refused` list, with the code it would have thrown.

use crate::node::wire::Wanted;
use crate::raft::Payload;
use std::sync::Mutex;

/// The length of a UUID's text.
const UUID_LEN: usize = 36;

/// Proposals waiting for the engine's thread, in the order they were made.
pub enum Queued {
    /// A proposal named on the JS thread: its entry id and data (checked JSON).
    One(String, Payload),
    /// Proposals named by JS: one UUID per entry, back to back (each checked by `is_uuid`), and their data texts
    /// joined by newlines, as many (not checked yet: see `NamedBatch::entries`).
    Named(NamedBatch),
}

pub struct NamedBatch {
    pub uuids: String,
    pub datas: String,
}

impl NamedBatch {
    /// Checks the batch's shape (cheap: no data text is read but for its newlines); None when it is malformed.
    pub fn new(uuids: String, datas: String) -> Option<NamedBatch> {
        let count = uuids.len() / UUID_LEN;
        let shaped = count > 0
            && uuids.len().is_multiple_of(UUID_LEN)
            && uuids.as_bytes().chunks(UUID_LEN).all(is_uuid)
            && datas.bytes().filter(|&byte| byte == b'\n').count() + 1 == count;
        shaped.then_some(NamedBatch { uuids, datas })
    }

    /// Each entry's UUID and data text, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        // Every UUID is ASCII (checked by `new`): cutting at multiples of its length keeps to char boundaries.
        (0..self.uuids.len() / UUID_LEN)
            .map(|i| &self.uuids[i * UUID_LEN..(i + 1) * UUID_LEN])
            .zip(self.datas.split('\n'))
    }
}

/// Whether `text` is a UUID as `crypto.randomUUID()` writes it: lowercase hex digits in groups of 8-4-4-4-12.
fn is_uuid(text: &[u8]) -> bool {
    text.len() == UUID_LEN
        && text.iter().enumerate().all(|(i, &byte)| match i {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte),
        })
}

#[derive(Default)]
pub struct ProposalQueue {
    waiting: Mutex<Vec<Queued>>,
    /// Set by the JS thread's flush, applied by the engine's next one.
    wanted: Mutex<Option<Wanted>>,
}

impl ProposalQueue {
    pub fn push(&self, queued: Queued) {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(queued);
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

    const UUID: &str = "0123abcd-4567-4def-8abc-0123456789ab";

    #[test]
    fn a_named_batch_needs_one_uuid_and_one_text_per_entry() {
        let batch = NamedBatch::new(format!("{UUID}{UUID}"), "1\n{\"a\":2}".into()).expect("well shaped");
        assert_eq!(batch.entries().collect::<Vec<_>>(), vec![(UUID, "1"), (UUID, "{\"a\":2}")]);
        for (uuids, datas) in [
            (String::new(), ""),
            (UUID.to_uppercase(), "1"),
            (UUID[1..].to_string(), "1"),
            (format!("{UUID}{UUID}"), "1"),
            (UUID.to_string(), "1\n2"),
            ("é".repeat(18), "1"),
        ] {
            assert!(NamedBatch::new(uuids.clone(), datas.into()).is_none(), "{uuids} / {datas}");
        }
    }
}
