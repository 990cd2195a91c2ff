//! Snapshot transfer (InstallSnapshot, Raft paper section 7): the byte stream a leader sends a follower whose
//! missing entries were compacted away, the leader's per-follower sending state (chunks, flow control, resume) and
//! the follower's receive buffer.
//!
//! The stream is the snapshot's remembered proposal ids followed by the application's data, so that a follower
//! knows the ids as well as the state. Chunks are appended only at the offset received so far; every other chunk
//! is answered with that offset, and the sender continues from there. That makes a transfer resumable after a lost
//! chunk, a restarted follower, or a new leader sending the same snapshot.

use super::progress::Inflights;
use super::proposal_ids::ProposalIds;
use super::types::{Index, Payload, Snapshot, SnapshotMeta};
use std::io::{self, Write};

/// The largest snapshot stream accepted from the network (larger totals are malformed), which bounds what a
/// follower buffers for one transfer. The application's state is JSON text handed to JS, and a JS string holds
/// at most 2^29 - 24 characters (1 GiB leaves room for such a text in UTF-8, mostly ASCII, and its ids).
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// The stream's first bytes, so that a stream of another format is refused rather than misread. Version 2 adds
/// the configuration's context; a version 1 stream (without it) is still read.
const STREAM_MAGIC: &[u8; 8] = b"flsnap02";
const STREAM_MAGIC_V1: &[u8; 8] = b"flsnap01";

/// Encodes a snapshot as the stream a leader sends: magic, id count, then (index, id length, id) per id, then
/// the configuration's context (length, bytes), all little-endian, then the application's data.
pub fn encode_stream(snapshot: &Snapshot) -> Payload {
    let mut out = Vec::with_capacity(stream_len(snapshot) as usize);
    // Writing to a Vec cannot fail.
    let _ = write_stream(snapshot, &mut out);
    Payload::from(out)
}

/// The length of `encode_stream(snapshot)`.
pub fn stream_len(snapshot: &Snapshot) -> u64 {
    let (_, ids_bytes) = ids_size(snapshot);
    STREAM_MAGIC.len() as u64
        + 8
        + ids_bytes
        + 4
        + snapshot.membership_context.len() as u64
        + snapshot.data.len() as u64
}

/// Writes `encode_stream(snapshot)` to `out` a piece at a time, so that storage need not hold the stream whole.
pub fn write_stream(snapshot: &Snapshot, out: &mut impl Write) -> io::Result<()> {
    let (count, _) = ids_size(snapshot);
    out.write_all(STREAM_MAGIC)?;
    out.write_all(&count.to_le_bytes())?;
    for (index, id) in snapshot.proposal_ids.iter() {
        out.write_all(&index.to_le_bytes())?;
        out.write_all(&(id.len() as u32).to_le_bytes())?;
        out.write_all(id.as_bytes())?;
    }
    out.write_all(&(snapshot.membership_context.len() as u32).to_le_bytes())?;
    out.write_all(&snapshot.membership_context)?;
    out.write_all(&snapshot.data)
}

/// How many ids the snapshot remembers, and the bytes they take in the stream.
fn ids_size(snapshot: &Snapshot) -> (u64, u64) {
    snapshot.proposal_ids.iter().fold((0, 0), |(count, bytes), (_, id)| (count + 1, bytes + 12 + id.len() as u64))
}

/// Decodes a received stream. `None` if it is malformed: bad magic, truncated, ids that are not UTF-8 or whose
/// indices do not increase up to at most the snapshot's index.
pub fn decode_stream(meta: SnapshotMeta, bytes: &[u8]) -> Option<Snapshot> {
    let mut reader = Reader { bytes, position: 0 };
    let magic = reader.take(STREAM_MAGIC.len())?;
    let with_context = match magic {
        _ if magic == STREAM_MAGIC => true,
        _ if magic == STREAM_MAGIC_V1 => false,
        _ => return None,
    };
    let count = reader.u64()?;
    // Each id takes at least 12 bytes: a count beyond that is a lie, and must not size an allocation.
    if count > (reader.remaining() / 12) as u64 {
        return None;
    }
    let mut proposal_ids = ProposalIds::new();
    let mut previous = 0;
    for _ in 0..count {
        let index = reader.u64()?;
        let length = reader.u32()? as usize;
        let id = std::str::from_utf8(reader.take(length)?).ok()?;
        if index <= previous || index > meta.index {
            return None;
        }
        previous = index;
        proposal_ids.push(index, id);
    }
    let membership_context = if with_context {
        let length = reader.u32()? as usize;
        Payload::from(reader.take(length)?)
    } else {
        Payload::from(Vec::new())
    };
    let data = Payload::from(&bytes[reader.position..]);
    Some(Snapshot { meta, data, proposal_ids, membership_context })
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    fn take(&mut self, length: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(length).filter(|&end| end <= self.bytes.len())?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Some(slice)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// A follower's partly received snapshot. It survives a leader change, so that a new leader sending the same
/// snapshot resumes where the old one stopped.
#[derive(Debug)]
pub struct Receiving {
    pub meta: SnapshotMeta,
    pub total: u64,
    /// Grown as chunks arrive; never sized from the (untrusted) total.
    pub data: Vec<u8>,
}

impl Receiving {
    /// Whether a chunk with this meta and total belongs to this transfer. Two snapshots at the same index and term
    /// hold the same state; the total (and membership) guard against encodings that differ anyway.
    pub fn is_for(&self, meta: &SnapshotMeta, total: u64) -> bool {
        self.total == total && self.meta == *meta
    }

    pub fn received(&self) -> u64 {
        self.data.len() as u64
    }

    /// Appends a chunk if it starts where the data received so far ends; ignores it otherwise.
    pub fn offer(&mut self, offset: u64, chunk: &[u8]) {
        if offset == self.received() {
            self.data.extend_from_slice(chunk);
        }
    }

    pub fn is_complete(&self) -> bool {
        self.received() == self.total
    }
}

/// The leader's sending state of one snapshot to one follower.
#[derive(Debug)]
pub struct Transfer {
    pub meta: SnapshotMeta,
    /// The encoded stream (shared by every follower that gets this snapshot).
    pub stream: Payload,
    /// The next offset to send.
    pub sent: u64,
    /// The follower confirmed holding the bytes before this offset.
    pub acked: u64,
    /// The chunk that ends the stream was sent (and no `done` came yet).
    pub final_sent: bool,
    /// Heartbeat replies since the last snapshot reply: two in a row mean a chunk or a reply was lost.
    pub idle_heartbeats: u32,
    /// Chunks sent and not confirmed, as (end offset, bytes).
    pub inflights: Inflights,
}

impl Transfer {
    pub fn new(meta: SnapshotMeta, stream: Payload) -> Transfer {
        Transfer {
            meta,
            stream,
            sent: 0,
            acked: 0,
            final_sent: false,
            idle_heartbeats: 0,
            inflights: Inflights::default(),
        }
    }

    pub fn total(&self) -> u64 {
        self.stream.len() as u64
    }

    /// The next chunk to send, if flow control allows: at most `max_chunks` unconfirmed chunks and (beyond the
    /// first) `max_bytes` unconfirmed bytes, each chunk at most `chunk_bytes` long.
    pub fn next_chunk(&mut self, chunk_bytes: u64, max_chunks: usize, max_bytes: u64) -> Option<(u64, Payload)> {
        if self.final_sent || self.inflights.count() >= max_chunks {
            return None;
        }
        let total = self.total();
        let end = total.min(self.sent.saturating_add(chunk_bytes.max(1)));
        let length = end - self.sent;
        if self.inflights.count() > 0 && self.inflights.bytes() + length > max_bytes {
            return None;
        }
        let offset = self.sent;
        let chunk = Payload::from(&self.stream[offset as usize..end as usize]);
        self.inflights.add(end, length);
        self.sent = end;
        self.final_sent = end == total;
        Some((offset, chunk))
    }

    /// The follower holds `received` bytes. Returns `false` if that is more than the stream has (malformed).
    pub fn on_reply(&mut self, received: u64) -> bool {
        if received > self.total() {
            return false;
        }
        self.idle_heartbeats = 0;
        if received < self.acked || received > self.sent {
            // The follower lost what it had (a restart), or already holds more (it had received this snapshot from
            // an earlier leader): continue from what it holds.
            self.acked = received;
            self.rewind();
        } else {
            self.acked = received;
            self.inflights.free_to(received);
        }
        true
    }

    /// A heartbeat reply came. Returns whether the transfer stalled (two replies without snapshot progress) and
    /// was rewound to the last confirmed offset.
    pub fn on_heartbeat_reply(&mut self) -> bool {
        self.idle_heartbeats += 1;
        if self.idle_heartbeats < 2 {
            return false;
        }
        self.rewind();
        true
    }

    /// Sends again from the last confirmed offset.
    fn rewind(&mut self) {
        self.sent = self.acked;
        self.final_sent = false;
        self.idle_heartbeats = 0;
        self.inflights.reset();
    }

    pub fn index(&self) -> Index {
        self.meta.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Membership;

    fn snapshot() -> Snapshot {
        Snapshot {
            meta: SnapshotMeta { index: 9, term: 2, membership: Membership::with_voters([1, 2, 3]) },
            data: Payload::from(&b"application state"[..]),
            proposal_ids: [(3, "a"), (7, "bb")].into_iter().collect(),
            membership_context: Payload::from(&b"names"[..]),
        }
    }

    #[test]
    fn stream_round_trips() {
        let snapshot = snapshot();
        let stream = encode_stream(&snapshot);
        assert_eq!(stream.len() as u64, stream_len(&snapshot));
        assert_eq!(decode_stream(snapshot.meta.clone(), &stream), Some(snapshot));
    }

    #[test]
    fn a_version_1_stream_is_read_without_a_membership_context() {
        let snapshot = Snapshot { membership_context: Payload::from(Vec::new()), ..snapshot() };
        let stream = encode_stream(&snapshot);
        // Version 1: the same stream without the context's length.
        let ids_end = stream.len() - snapshot.data.len() - 4;
        let v1: Vec<u8> =
            [&b"flsnap01"[..], &stream[8..ids_end], &stream[ids_end + 4..]].into_iter().flatten().copied().collect();
        assert_eq!(decode_stream(snapshot.meta.clone(), &v1), Some(snapshot));
    }

    #[test]
    fn malformed_streams_are_refused() {
        let snapshot = snapshot();
        let stream = encode_stream(&snapshot);
        assert_eq!(decode_stream(snapshot.meta.clone(), &stream[..20]), None, "truncated");
        assert_eq!(decode_stream(snapshot.meta.clone(), b"nonsense"), None, "bad magic");
        let mut huge_count = stream.to_vec();
        huge_count[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode_stream(snapshot.meta.clone(), &huge_count), None, "a count beyond the bytes");
        let mut low_meta = snapshot.meta.clone();
        low_meta.index = 5;
        assert_eq!(decode_stream(low_meta, &stream), None, "an id above the snapshot's index");
    }

    #[test]
    fn transfer_respects_chunk_and_window_limits_and_resumes() {
        let stream = Payload::from(vec![7u8; 25]);
        let mut transfer = Transfer::new(snapshot().meta, stream);
        let mut chunks = Vec::new();
        while let Some((offset, chunk)) = transfer.next_chunk(10, 2, 1000) {
            chunks.push((offset, chunk.len()));
        }
        assert_eq!(chunks, vec![(0, 10), (10, 10)], "two chunks in flight at most");
        assert!(transfer.on_reply(10));
        assert_eq!(transfer.next_chunk(10, 2, 1000).map(|(o, c)| (o, c.len())), Some((20, 5)));
        assert!(transfer.final_sent);
        // Two idle heartbeat replies: rewind to the confirmed offset.
        assert!(!transfer.on_heartbeat_reply());
        assert!(transfer.on_heartbeat_reply());
        assert_eq!((transfer.sent, transfer.acked, transfer.final_sent), (10, 10, false));
        // A follower that already holds more: skip ahead.
        assert!(transfer.on_reply(20));
        assert!(transfer.on_reply(24));
        assert_eq!(transfer.next_chunk(10, 2, 1000).map(|(o, c)| (o, c.len())), Some((24, 1)));
        assert!(!transfer.on_reply(26), "beyond the total");
    }
}
