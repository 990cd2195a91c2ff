//! The binary form of write-ahead log records: a header (payload length, CRC32C of the payload) and a payload
//! that starts with a record type. Decoding is defensive: a record that does not parse is reported, never trusted.
//!
//! A segment's checksums are salted: the frame that opens it is checksummed plainly and names a random salt (in its
//! `Follows` record), and every later frame's CRC32C starts from that salt instead of zero. Entry data is the
//! client's, and may hold bytes laid out as a frame with a matching plain checksum; after a crash tore a write,
//! such a frame would pass for a whole record written after the tear, and recovery would refuse the log as damaged.
//! A client does not know the salt: a frame it forges matches one time in 2^32. Segments written before salts
//! (their `Follows` record has none) keep plain checksums: salt 0, since `crc32c_append(0, x) == crc32c(x)`.

use flotilla_raft::{Entry, EntryKind, HardState, Index, NodeId, Payload, ProposalId};

/// Bytes before each record's payload: length (u32 LE) and CRC32C (u32 LE) of the payload.
pub const HEADER_BYTES: usize = 8;
/// No record is larger than this; a length field above it is damage. The writer keeps to it by splitting a
/// larger record over a group of parts (see `encode_bounded`), so no acknowledged write depends on it.
pub const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// One persist request, atomically: entries that replace every stored entry from the first one's index on,
    /// then the hard state. One record, one checksum: a crash keeps both or neither, so a restarted node never
    /// finds entries of a term its hard state has not reached, nor a commit index over entries it lost.
    /// With `reset`, a snapshot received from the leader replaced the log: every stored entry goes, the log
    /// restarts after the snapshot's (index, term), and `entries` (what the core kept) follow, in the same record.
    Write {
        hard_state: Option<HardState>,
        reset: Option<(Index, u64)>,
        entries: Vec<Entry>,
    },
    HardState(HardState),
    /// The members the node knows, each with its node id (the node layer derives ids from names, the same on every
    /// node): what the ids in the hard state, the log and the snapshots mean.
    Members(Vec<(NodeId, String)>),
    /// Written by releases whose node ids were local slots: the names bound to the slots, in slot order (slot 1
    /// first), which is what a vote or a snapshot's member id then meant. Read to migrate such a log, then
    /// superseded by a `Members` record.
    SlotPeers(Vec<String>),
    /// Entries up to this index are covered by a snapshot and may be gone from the log.
    Compacted {
        index: Index,
        term: u64,
    },
    /// Opens each segment: the sequence number of the segment before it (0 for none) and that segment's length
    /// in bytes when this one started. An older segment cut at a record boundary holds only whole records; this
    /// is how the cut shows. `salt` seeds the checksums of the segment's later frames (see the module's comment);
    /// 0 in segments written before salts. It is written twice: recovery checks the records after a damaged
    /// opening frame with either copy (see `segment::salts_in_opening_frame`).
    Follows {
        sequence: u64,
        bytes: u64,
        salt: u32,
    },
}

const WRITE: u8 = 1;
const HARD_STATE: u8 = 2;
const SLOT_PEERS: u8 = 3;
const COMPACTED: u8 = 4;
const FOLLOWS: u8 = 5;
/// A part of a record too large for one frame, after the first: its payload continues in the next frame (another
/// part). Releases before `FIRST_PART` wrote it for the first part too, and such groups are still read.
const PART: u8 = 6;
/// The last part of a split record: the parts' bytes, joined, are the record's payload. A group is replayed
/// only once its last part is read, so a crash inside it keeps none of it.
const LAST_PART: u8 = 7;
const MEMBERS: u8 = 8;
/// Several records written together (one append, synced together), in one frame. Before the sync, the pages of
/// a write can reach the disk in any order, and a crash can keep a later page without an earlier one: one
/// checksum over the whole write makes recovery keep all of it or none. Each record inside is its payload's
/// length (u32 LE) and the payload, with no checksum of its own, so that no piece of a torn write can pass for a
/// whole record.
const BATCH: u8 = 9;
/// A `Follows` record with the salt of its segment's checksums, twice (`FOLLOWS` is the one written before salts).
const SALTED_FOLLOWS: u8 = 10;
/// The first part of a split record. A group that starts with it, followed by its parts up to the last, is a whole
/// write: a search for whole records after damage can tell it from the later parts of a torn group, which it could
/// not when every part but the last was a `PART`.
const FIRST_PART: u8 = 11;
/// Where the two copies of the salt are in the frame that opens a segment the log writes: its header, the batch
/// type, the length of the batch's first record, then that record (`SALTED_FOLLOWS`, sequence, bytes, salt, salt).
pub const OPENING_SALTS_AT: [usize; 2] = [HEADER_BYTES + 1 + 4 + 1 + 16, HEADER_BYTES + 1 + 4 + 1 + 16 + 4];

/// Whether `segment` starts with a salted segment's opening frame, as far as the type of its first record (after
/// the frame's header, the batch type and the record's length) says.
pub fn opens_a_salted_segment(segment: &[u8]) -> bool {
    segment.get(HEADER_BYTES + 1 + 4) == Some(&SALTED_FOLLOWS)
}

/// A frame's payload: a whole record, or a part of a split one (its bytes, whether it is marked as the first part,
/// and whether it is the last).
pub enum Frame<'a> {
    Whole(&'a [u8]),
    Part { bytes: &'a [u8], first: bool, last: bool },
}

/// Whether a payload of `len` bytes that starts with `first` could be a whole record: its type is one, and the
/// records of fixed size have that size. Cheap, so that a search for whole records in damaged bytes checksums
/// only the few places that pass it.
pub fn could_be_whole(first: u8, len: usize) -> bool {
    match first {
        COMPACTED | FOLLOWS => len == 17,
        SALTED_FOLLOWS => len == 25,
        WRITE | HARD_STATE | SLOT_PEERS | MEMBERS | BATCH => true,
        _ => false,
    }
}

/// Whether a payload that starts with `first` is the first part of a split record (one marked so: see `FIRST_PART`).
pub fn opens_a_group(first: u8) -> bool {
    first == FIRST_PART
}

/// Whether a payload that starts with `first` is a later part of a split record: `last` if it is the last one.
pub fn continues_a_group(first: u8) -> Option<bool> {
    match first {
        PART => Some(false),
        LAST_PART => Some(true),
        _ => None,
    }
}

/// What a checksummed payload holds: a part of a split record is told apart before it is decoded.
pub fn frame_of(payload: &[u8]) -> Frame<'_> {
    match payload.first() {
        Some(&FIRST_PART) => Frame::Part { bytes: &payload[1..], first: true, last: false },
        Some(&PART) => Frame::Part { bytes: &payload[1..], first: false, last: false },
        Some(&LAST_PART) => Frame::Part { bytes: &payload[1..], first: false, last: true },
        _ => Frame::Whole(payload),
    }
}

/// The checksum of a frame's payload in a segment whose salt is `salt` (0: plain, see the module's comment).
pub fn checksum(salt: u32, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(salt, payload)
}

/// Appends the records of one write to `out`: a lone record as its own frame, several as one batch frame; either
/// way split into a group of parts when larger than `max_payload` (see `encode_bounded`). Checksums start from
/// `salt`.
pub fn encode_write(records: &[Record], out: &mut Vec<u8>, max_payload: usize, salt: u32) {
    match records {
        [] => {}
        [record] => encode_bounded(record, out, max_payload, salt),
        _ => {
            let start = out.len();
            out.extend_from_slice(&[0; HEADER_BYTES]);
            out.push(BATCH);
            for record in records {
                let at = out.len();
                out.extend_from_slice(&[0; 4]);
                encode_payload(record, out);
                let len = (out.len() - at - 4) as u32;
                out[at..at + 4].copy_from_slice(&len.to_le_bytes());
            }
            close_frame(out, start, salt);
            split_if_larger(out, start, max_payload, salt);
        }
    }
}

/// Appends `record` to `out` as one frame, or, if its payload is larger than `max_payload`, as a group of parts
/// of at most `max_payload` bytes each (the last one marked), which recovery applies whole or not at all.
/// Checksums start from `salt`.
pub fn encode_bounded(record: &Record, out: &mut Vec<u8>, max_payload: usize, salt: u32) {
    let start = out.len();
    encode_salted(record, out, salt);
    split_if_larger(out, start, max_payload, salt);
}

/// Splits the frame that starts at `start` (the last one in `out`) into a group of parts if its payload is larger
/// than `max_payload`.
fn split_if_larger(out: &mut Vec<u8>, start: usize, max_payload: usize, salt: u32) {
    if out.len() - start - HEADER_BYTES <= max_payload {
        return;
    }
    // Rare (a burst of large entries in one request): the copy is the price of never writing an oversized frame.
    let payload = out.split_off(start + HEADER_BYTES);
    out.truncate(start);
    let part_bytes = max_payload.saturating_sub(1).max(1);
    let parts = payload.len().div_ceil(part_bytes);
    for (number, chunk) in payload.chunks(part_bytes).enumerate() {
        let kind = match number {
            _ if number + 1 == parts => LAST_PART,
            0 => FIRST_PART,
            _ => PART,
        };
        frame(out, kind, chunk, salt);
    }
}

/// Appends one frame whose payload is `kind` then `bytes`.
fn frame(out: &mut Vec<u8>, kind: u8, bytes: &[u8], salt: u32) {
    let payload_len = (1 + bytes.len()) as u32;
    let crc = crc32c::crc32c_append(checksum(salt, &[kind]), bytes);
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(bytes);
}

/// Test-only: appends one framed record to `out`, checksummed plainly (as in a segment written before salts).
#[cfg(test)]
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    encode_salted(record, out, 0);
}

/// Appends one framed record to `out`, its checksum starting from `salt`.
pub fn encode_salted(record: &Record, out: &mut Vec<u8>, salt: u32) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    encode_payload(record, out);
    close_frame(out, start, salt);
}

/// Fills in the header of the frame that starts at `start` and runs to the end of `out`.
fn close_frame(out: &mut [u8], start: usize, salt: u32) {
    let payload_len = (out.len() - start - HEADER_BYTES) as u32;
    let crc = checksum(salt, &out[start + HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a record's payload (its type, then its fields) to `out`.
fn encode_payload(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::Write { hard_state, reset, entries } => {
            out.push(WRITE);
            match hard_state {
                Some(hard_state) => {
                    out.push(1);
                    put_hard_state(out, hard_state);
                }
                None => out.push(0),
            }
            match reset {
                Some((index, term)) => {
                    out.push(1);
                    put_u64(out, *index);
                    put_u64(out, *term);
                }
                None => out.push(0),
            }
            put_u32(out, entries.len() as u32);
            for entry in entries {
                put_u64(out, entry.index);
                put_u64(out, entry.term);
                out.push(match entry.kind {
                    EntryKind::Normal => 0,
                    EntryKind::Noop => 1,
                    EntryKind::ConfChange => 2,
                });
                let id = entry.id.as_deref().unwrap_or("");
                put_u32(out, if entry.id.is_some() { id.len() as u32 } else { u32::MAX });
                out.extend_from_slice(id.as_bytes());
                put_u32(out, entry.data.len() as u32);
                out.extend_from_slice(&entry.data);
            }
        }
        Record::HardState(hard_state) => {
            out.push(HARD_STATE);
            put_hard_state(out, hard_state);
        }
        Record::Members(members) => {
            out.push(MEMBERS);
            put_u32(out, members.len() as u32);
            for (id, name) in members {
                put_u64(out, *id);
                put_u32(out, name.len() as u32);
                out.extend_from_slice(name.as_bytes());
            }
        }
        Record::SlotPeers(names) => {
            out.push(SLOT_PEERS);
            put_u32(out, names.len() as u32);
            for name in names {
                put_u32(out, name.len() as u32);
                out.extend_from_slice(name.as_bytes());
            }
        }
        Record::Compacted { index, term } => {
            out.push(COMPACTED);
            put_u64(out, *index);
            put_u64(out, *term);
        }
        Record::Follows { sequence, bytes, salt } => {
            out.push(if *salt == 0 { FOLLOWS } else { SALTED_FOLLOWS });
            put_u64(out, *sequence);
            put_u64(out, *bytes);
            if *salt != 0 {
                put_u32(out, *salt);
                put_u32(out, *salt);
            }
        }
    }
}

/// Decodes the records of a payload whose checksum already matched: a batch's records in order, or the one
/// record it is. `Err` names what is wrong.
pub fn decode_write(payload: &[u8]) -> Result<Vec<Record>, String> {
    if payload.first() != Some(&BATCH) {
        return decode(payload).map(|record| vec![record]);
    }
    let mut records = Vec::new();
    let mut at = 1;
    while at < payload.len() {
        let len = payload
            .get(at..at + 4)
            .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
            .ok_or("a record length in a batch is cut short")?;
        let record = payload.get(at + 4..at + 4 + len).ok_or("a record in a batch is cut short")?;
        if record.first() == Some(&BATCH) {
            return Err("a batch inside a batch".to_string());
        }
        records.push(decode(record)?);
        at += 4 + len;
    }
    if records.len() < 2 {
        return Err(format!("a batch of {} records", records.len()));
    }
    Ok(records)
}

/// Decodes a payload whose checksum already matched. `Err` names what is wrong.
pub fn decode(payload: &[u8]) -> Result<Record, String> {
    let mut reader = Reader { bytes: payload, at: 0 };
    let record = match reader.u8()? {
        WRITE => {
            let hard_state = match reader.u8()? {
                0 => None,
                1 => Some(reader.hard_state()?),
                other => return Err(format!("bad hard-state flag {other}")),
            };
            let reset = match reader.u8()? {
                0 => None,
                1 => Some((reader.u64()?, reader.u64()?)),
                other => return Err(format!("bad reset flag {other}")),
            };
            let count = reader.u32()? as usize;
            // Each entry takes at least 25 bytes: a count beyond that is damage, not an allocation to attempt.
            if count > payload.len() / 25 {
                return Err(format!("entry count {count} does not fit the record"));
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let index = reader.u64()?;
                let term = reader.u64()?;
                let kind = match reader.u8()? {
                    0 => EntryKind::Normal,
                    1 => EntryKind::Noop,
                    2 => EntryKind::ConfChange,
                    other => return Err(format!("unknown entry kind {other}")),
                };
                let id_len = reader.u32()?;
                let id = if id_len == u32::MAX {
                    None
                } else {
                    let bytes = reader.bytes(id_len as usize)?;
                    let text = std::str::from_utf8(bytes).map_err(|_| "an entry id is not UTF-8".to_string())?;
                    Some(ProposalId::from(text))
                };
                let data_len = reader.u32()? as usize;
                let data = Payload::from(reader.bytes(data_len)?);
                entries.push(Entry { term, index, kind, id, data });
            }
            Record::Write { hard_state, reset, entries }
        }
        HARD_STATE => Record::HardState(reader.hard_state()?),
        MEMBERS => {
            let count = reader.u32()? as usize;
            if count > payload.len() / 12 {
                return Err(format!("member count {count} does not fit the record"));
            }
            let mut members = Vec::with_capacity(count);
            for _ in 0..count {
                let id = reader.u64()?;
                members.push((id, reader.name()?));
            }
            Record::Members(members)
        }
        SLOT_PEERS => {
            let count = reader.u32()? as usize;
            if count > payload.len() / 4 {
                return Err(format!("peer count {count} does not fit the record"));
            }
            let mut names = Vec::with_capacity(count);
            for _ in 0..count {
                names.push(reader.name()?);
            }
            Record::SlotPeers(names)
        }
        COMPACTED => Record::Compacted { index: reader.u64()?, term: reader.u64()? },
        FOLLOWS => Record::Follows { sequence: reader.u64()?, bytes: reader.u64()?, salt: 0 },
        SALTED_FOLLOWS => {
            let (sequence, bytes, salt, copy) = (reader.u64()?, reader.u64()?, reader.u32()?, reader.u32()?);
            if salt == 0 || copy != salt {
                return Err(format!("a segment's salt is {salt:#x} and its copy {copy:#x}"));
            }
            Record::Follows { sequence, bytes, salt }
        }
        other => return Err(format!("unknown record type {other}")),
    };
    if reader.at != payload.len() {
        return Err(format!("{} bytes left over after the record", payload.len() - reader.at));
    }
    Ok(record)
}

fn put_hard_state(out: &mut Vec<u8>, hard_state: &HardState) {
    put_u64(out, hard_state.term);
    put_u64(out, hard_state.vote.unwrap_or(0));
    put_u64(out, hard_state.commit);
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, len: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("the record ends before a field of {len} bytes"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut buf = [0; 4];
        buf.copy_from_slice(self.bytes(4)?);
        Ok(u32::from_le_bytes(buf))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut buf = [0; 8];
        buf.copy_from_slice(self.bytes(8)?);
        Ok(u64::from_le_bytes(buf))
    }

    /// A length-prefixed UTF-8 name.
    fn name(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let bytes = self.bytes(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a member name is not UTF-8".to_string())
    }

    fn hard_state(&mut self) -> Result<HardState, String> {
        let term = self.u64()?;
        let vote = self.u64()?;
        let commit = self.u64()?;
        Ok(HardState { term, vote: (vote != 0).then_some(vote), commit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_round_trips() {
        let entries = vec![
            Entry {
                term: 3,
                index: 7,
                kind: EntryKind::Normal,
                id: Some("a_1".into()),
                data: Payload::from(&b"{}"[..]),
            },
            Entry { term: 3, index: 8, kind: EntryKind::Noop, id: None, data: Payload::from(&b""[..]) },
        ];
        let records = vec![
            Record::Write {
                hard_state: Some(HardState { term: 3, vote: Some(1), commit: 7 }),
                reset: None,
                entries: entries.clone(),
            },
            Record::Write { hard_state: None, reset: Some((6, 2)), entries },
            Record::HardState(HardState { term: 4, vote: Some(2), commit: 8 }),
            Record::HardState(HardState { term: 4, vote: None, commit: 0 }),
            Record::Members(vec![(7, "a".into()), (1 << 53, "bé".into())]),
            Record::SlotPeers(vec!["a".into(), "bé".into()]),
            Record::Compacted { index: 9, term: 3 },
            Record::Follows { sequence: 4, bytes: 65_536, salt: 0 },
            Record::Follows { sequence: 4, bytes: 65_536, salt: 0xdead_beef },
        ];
        for record in records {
            let mut bytes = Vec::new();
            encode(&record, &mut bytes);
            let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
            assert_eq!(len, bytes.len() - HEADER_BYTES);
            assert_eq!(crc, crc32c::crc32c(&bytes[HEADER_BYTES..]));
            assert_eq!(decode(&bytes[HEADER_BYTES..]), Ok(record));
        }
    }

    #[test]
    fn the_records_of_one_write_are_one_frame_and_come_back_in_order() {
        let records = vec![
            Record::HardState(HardState { term: 4, vote: Some(2), commit: 8 }),
            Record::Members(vec![(7, "a".into())]),
            Record::Compacted { index: 9, term: 3 },
        ];
        let mut bytes = Vec::new();
        encode_write(&records, &mut bytes, MAX_RECORD_BYTES, 0);
        let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - HEADER_BYTES, "one frame");
        assert_eq!(decode_write(&bytes[HEADER_BYTES..]), Ok(records.clone()));
        // A lone record is a plain frame, as before batches.
        let mut lone = Vec::new();
        encode_write(&records[..1], &mut lone, MAX_RECORD_BYTES, 0);
        assert_eq!(decode(&lone[HEADER_BYTES..]), Ok(records[0].clone()));
        // Larger than a frame may be: a group of parts, whose joined payload is the batch.
        let mut split = Vec::new();
        encode_write(&records, &mut split, 10, 0);
        assert!(split.len() > bytes.len() + HEADER_BYTES, "split into parts");
    }

    #[test]
    fn a_frame_checksummed_with_a_salt_matches_only_that_salt() {
        let record = Record::Write {
            hard_state: None,
            reset: None,
            entries: vec![Entry {
                term: 1,
                index: 1,
                kind: EntryKind::Normal,
                id: None,
                data: Payload::from(&b"x"[..]),
            }],
        };
        for salt in [0, 1, 0x8000_0000, 0xdead_beef] {
            for max_payload in [MAX_RECORD_BYTES, 10] {
                let mut bytes = Vec::new();
                encode_write(std::slice::from_ref(&record), &mut bytes, max_payload, salt);
                let mut at = 0;
                while at < bytes.len() {
                    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                    let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap());
                    let payload = &bytes[at + HEADER_BYTES..at + HEADER_BYTES + len];
                    assert_eq!(crc, checksum(salt, payload));
                    for other in [0, 1, 2, 0x8000_0000, 0xdead_beef].into_iter().filter(|&other| other != salt) {
                        assert_ne!(crc, checksum(other, payload), "salt {salt:#x} frame passes under {other:#x}");
                    }
                    at += HEADER_BYTES + len;
                }
            }
        }
        // Salt 0 is the plain checksum of the segments written before salts.
        assert_eq!(checksum(0, b"abc"), crc32c::crc32c(b"abc"));
    }

    #[test]
    fn the_salt_of_a_segments_opening_frame_is_where_recovery_looks_for_its_copies() {
        let opening = [
            Record::Follows { sequence: 3, bytes: 4096, salt: 0x0102_0304 },
            Record::HardState(HardState { term: 1, vote: None, commit: 0 }),
            Record::Members(vec![(7, "a".into())]),
            Record::Compacted { index: 0, term: 0 },
        ];
        let mut bytes = Vec::new();
        encode_write(&opening, &mut bytes, MAX_RECORD_BYTES, 0);
        for at in OPENING_SALTS_AT {
            assert_eq!(bytes[at..at + 4], 0x0102_0304_u32.to_le_bytes());
        }
        assert!(opens_a_salted_segment(&bytes));
        let mut plain = Vec::new();
        let unsalted = [Record::Follows { sequence: 3, bytes: 4096, salt: 0 }, opening[1].clone()];
        encode_write(&unsalted, &mut plain, MAX_RECORD_BYTES, 0);
        assert!(!opens_a_salted_segment(&plain));
        // The two copies must agree.
        let mut differing = bytes[HEADER_BYTES..].to_vec();
        differing[OPENING_SALTS_AT[1] - HEADER_BYTES] ^= 1;
        assert!(decode_write(&differing).is_err());
    }

    #[test]
    fn a_batch_that_does_not_parse_is_an_error() {
        let mut one = Vec::new();
        encode(&Record::Compacted { index: 9, term: 3 }, &mut one);
        let inner = &one[HEADER_BYTES..];
        let with_length = |payload: &[u8]| [&(payload.len() as u32).to_le_bytes()[..], payload].concat();
        let whole = [&[BATCH][..], &with_length(inner), &with_length(inner)].concat();
        assert_eq!(decode_write(&whole).map(|records| records.len()), Ok(2));
        for cut in 1..whole.len() {
            assert!(decode_write(&whole[..cut]).is_err(), "cut at {cut}");
        }
        let nested = [&[BATCH][..], &with_length(&whole), &with_length(inner)].concat();
        assert!(decode_write(&nested).is_err());
        let mut long = whole.clone();
        long[1] = 200;
        assert!(decode_write(&long).is_err());
    }

    /// What `decode` accepts, `encode` writes back byte for byte: nothing in a payload is ignored or read twice.
    fn assert_decodes_exactly(payload: &[u8]) -> bool {
        match decode(payload) {
            Ok(record) => {
                let mut again = Vec::new();
                encode(&record, &mut again);
                assert_eq!(&again[HEADER_BYTES..], payload, "{record:?} decoded from bytes it does not encode to");
                true
            }
            Err(why) => {
                assert!(!why.is_empty());
                false
            }
        }
    }

    #[test]
    fn garbage_payloads_are_errors_not_panics_and_what_decodes_is_exactly_what_was_there() {
        let mut state = 0x1234_5678_u64;
        let mut random = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 56) as u8
        };
        // Random bytes after each record type: almost all refused, and anything accepted re-encodes to itself.
        for kind in [WRITE, HARD_STATE, MEMBERS, SLOT_PEERS, COMPACTED, FOLLOWS, SALTED_FOLLOWS, 0, 99] {
            for len in 0..200 {
                let bytes: Vec<u8> = std::iter::once(kind).chain((0..len).map(|_| random())).collect();
                assert_decodes_exactly(&bytes);
            }
        }
        // Valid payloads with one byte changed, or cut short: every cut is refused (no field is optional), and a
        // change is either refused or decodes to a record that encodes to the changed bytes.
        let entries = vec![
            Entry {
                term: 3,
                index: 7,
                kind: EntryKind::Normal,
                id: Some("a_1".into()),
                data: Payload::from(&b"{}"[..]),
            },
            Entry { term: 3, index: 8, kind: EntryKind::Noop, id: None, data: Payload::from(&b""[..]) },
        ];
        let records = [
            Record::Write {
                hard_state: Some(HardState { term: 3, vote: Some(1), commit: 7 }),
                reset: Some((6, 2)),
                entries,
            },
            Record::Members(vec![(7, "a".into()), (1 << 53, "bé".into())]),
            Record::SlotPeers(vec!["a".into(), "bé".into()]),
            Record::HardState(HardState { term: 4, vote: Some(2), commit: 8 }),
        ];
        let (mut accepted, mut refused) = (0, 0);
        for record in records {
            let mut framed = Vec::new();
            encode(&record, &mut framed);
            let payload = &framed[HEADER_BYTES..];
            for cut in 0..payload.len() {
                assert!(decode(&payload[..cut]).is_err(), "{record:?} cut to {cut} bytes decoded");
            }
            for at in 0..payload.len() {
                for mask in [0x01, 0x80, 0xff] {
                    let mut changed = payload.to_vec();
                    changed[at] ^= mask;
                    if assert_decodes_exactly(&changed) {
                        accepted += 1;
                    } else {
                        refused += 1;
                    }
                }
            }
        }
        assert!(accepted > 0 && refused > 0, "both outcomes are checked: {accepted} accepted, {refused} refused");
        assert!(decode(&[WRITE, 0, 0, 255, 255, 255, 255]).is_err());
    }
}
